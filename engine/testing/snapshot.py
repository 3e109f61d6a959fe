"""Snapshot testing of histories: a run's history saved as a golden file, later runs compared.

    assert_history_matches(run, "tests/__snapshots__/order-happy.history.json")

With ``update=True`` (which ``pytest --asl-snapshot-update`` sets) the file is written;
without, a missing file fails like a difference. The comparison ignores what changes from
run to run without meaning anything: event ids and timestamps and, inside the details,
UUIDs, task tokens, ISO-8601 timestamps and the execution's name. Data fields (``input``,
``output``, ``parameters``) are stored as JSON values, not AWS's JSON strings, so a diff
shows which field changed.

The order of events is compared too. Mocks answer in the event loop, so runs that use only
mocks interleave Map iterations and Parallel branches the same way every time; sync
handlers run in worker threads and may not.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from .explain import text_difference

_DATA_FIELDS = ("input", "output", "parameters")
_TOKEN = re.compile(r"\b[0-9a-f]{64}\b")
_UUID = re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
_TIMESTAMP = re.compile(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)")


def normalize(events: list[dict], execution_name: str | None = None) -> list[dict]:
    """AWS history events without ids and timestamps, data fields parsed, run-specific text masked."""
    out = []
    for event in events:
        kept: dict[str, Any] = {"type": event["type"]}
        for key, value in event.items():
            if key in ("type", "id", "previousEventId", "timestamp"):
                continue
            if isinstance(value, dict):  # the event's details: drop {"truncated": false} notes
                value = {k: _parsed(v, k) for k, v in value.items() if not k.endswith("Details")}
            kept[key] = _mask(value, execution_name)
        out.append(kept)
    return out


def _parsed(value: Any, key: str) -> Any:
    if key == "assignedVariables" and isinstance(value, dict):
        return {name: _parsed(text, "input") for name, text in value.items()}
    if key in _DATA_FIELDS and isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _mask(value: Any, execution_name: str | None) -> Any:
    if isinstance(value, str):
        if execution_name:
            value = value.replace(execution_name, "<execution name>")
        value = _TOKEN.sub("<task token>", value)
        value = _UUID.sub("<uuid>", value)
        return _TIMESTAMP.sub("<timestamp>", value)
    if isinstance(value, dict):
        return {k: _mask(v, execution_name) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, execution_name) for v in value]
    return value


def render(run: Any) -> str:
    """The golden-file text of a run (a `WorkflowRun` or an `ExecutionResult`)."""
    result = getattr(run, "result", run)
    events = normalize(result.history.events, result.name)
    return json.dumps({"events": events}, indent=2, ensure_ascii=False) + "\n"


def assert_history_matches(run: Any, path: str | Path, update: bool = False) -> None:
    """Compare the run's history with the golden file at `path`; with `update`, (re)write it.

    Raises AssertionError with a diff when they differ, and when the file is missing (so a
    snapshot never committed fails in CI instead of passing silently).
    """
    __tracebackhide__ = True
    path = Path(path)
    text = render(run)
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.exists():
        raise AssertionError(f"no history snapshot at {path}; write it with pytest --asl-snapshot-update "
                             "(or update=True), check it, and commit it")
    golden = path.read_text(encoding="utf-8")
    if golden != text:
        raise AssertionError(f"the history differs from the snapshot {path} (- snapshot, + this run):\n"
                             f"{text_difference(golden, text, ('snapshot', 'this run'))}\n"
                             "if the change is intended, run pytest --asl-snapshot-update (or pass update=True)")
