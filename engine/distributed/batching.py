"""ItemSelector and ItemBatcher over a stream of items (DISTRIBUTED-MAP-SPEC.md section 1).

The selector runs per item with ``$$.Map.Item.Index`` / ``Value`` / ``Source`` (before batching); the
batcher groups selected items into child inputs ``{"BatchInput": ..., "Items": [...]}``
(BatchInput only when the state has one), closing a batch at MaxItemsPerBatch items or before
the one that would take it past MaxInputBytesPerBatch bytes (at most 262,144, AWS's payload
limit, also when no byte limit is given). An item larger than the
byte limit goes in a batch of its own (AWS's behaviour there is unverified: the DG says only that
it "reduces the number of items in a batch"); past 256 KiB its child then fails
(`Execution.check_input`). Limits read through ``...Path`` fields follow the Map's rules (``States.Runtime`` for a
value that is not an integer; numeric strings count, as on AWS).
"""
from __future__ import annotations

import json
from typing import Any, Iterator

from ...errors import StatesError
from ...templates import Template, expect_kind
from ..mapfields import STATE_DATA, item_context
from ..scope import Scope

MAX_BATCH_BYTES = 262_144


def selector(run: Any, effective: Any) -> Any:
    """select(index, item, source) -> the child's input for that item (ItemSelector / Parameters);
    `source` is ``$$.Map.Item.Source``: STATE_DATA or the S3 URI the ItemReader read it from."""

    state = run.state
    template = state.item_selector or state.parameters
    if template is None:
        return None
    value = run.raw if state.is_jsonata else effective

    def select(index: int, item: Any, source: str = STATE_DATA) -> Any:
        make = lambda: {**run.context(), "Map": item_context(index, item, source)}  # noqa: E731
        return template.evaluate(Scope(value, run.frame.variables, run.rng, make, now=run.now))
    return select


class Batcher:
    """Groups selected items into batches; `add` returns the batches an item closes."""

    def __init__(self, max_items: int | None, max_bytes: int | None, batch_input: Any, has_input: bool):
        self.max_items = max_items or None
        # a child's input is at most 256 KiB, AWS's payload limit, whatever the limits given
        self.max_bytes = min(max_bytes, MAX_BATCH_BYTES) if max_bytes else MAX_BATCH_BYTES
        self.batch_input = batch_input
        self.has_input = has_input
        self.items: list = []
        self.bytes = 0
        self.base = 0
        envelope = {"BatchInput": batch_input, "Items": []} if has_input else {"Items": []}
        self.base = _size(envelope)

    @classmethod
    def configure(cls, run: Any, scope: Any) -> "Batcher":
        batcher = run.state.item_batcher
        max_items = _limit(run, scope, batcher.max_items_per_batch, batcher.max_items_per_batch_path,
                           "MaxItemsPerBatch")
        max_bytes = _limit(run, scope, batcher.max_input_bytes_per_batch, batcher.max_input_bytes_per_batch_path,
                           "MaxInputBytesPerBatch")
        has_input = batcher.batch_input is not None
        batch_input = batcher.batch_input.evaluate(scope) if has_input else None
        return cls(max_items, max_bytes, batch_input, has_input)

    def add(self, item: Any) -> Iterator[list]:
        size = _size(item)
        extra = size + (1 if self.items else 0)  # (and its comma)
        if self.items and self.base + self.bytes + extra > self.max_bytes:
            yield self._close()
            extra = size
        self.bytes += extra
        self.items.append(item)
        if self.max_items is not None and len(self.items) >= self.max_items:
            yield self._close()

    def flush(self) -> Iterator[list]:
        if self.items:
            yield self._close()

    def _close(self) -> list:
        items, self.items, self.bytes = self.items, [], 0
        return items

    def envelope(self, items: list) -> dict:
        return {"BatchInput": self.batch_input, "Items": items} if self.has_input else {"Items": items}


def _size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _limit(run: Any, scope: Any, literal: Any, path: Any, name: str) -> int | None:
    from ..mapfields import path_number

    if literal is not None:
        value = literal.evaluate(scope) if isinstance(literal, Template) else literal
        value = int(expect_kind(literal, value, "integer", name)) if isinstance(literal, Template) else int(value)
    elif path is not None:
        value = path_number(run, path, scope, name, "integer")
    else:
        return None
    if value < 0:
        raise StatesError("States.Runtime", f"{name} must be a non-negative integer, but was: {value}")
    return value
