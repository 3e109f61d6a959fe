"""The in-memory store: executions and journals in dicts, gone with the process.

The default for ``asl run`` and tests; it behaves like the database stores (leases included)
so a test written against it holds for them too.
"""
from __future__ import annotations

import copy
import dataclasses
import time
import json
from typing import Any, Callable, Iterable

from . import (DELETING, OneProcess, Entries, ExecutionRecord, Family, JsonText, RevisesInFamilies, StoredEvent, StoredFact,
               StoreError, check_changes, check_parent, dumps, machine_of)


class MemoryStore(RevisesInFamilies, OneProcess):
    url = "memory"
    lazy_text = True  # a record's definition, input and output come as `JsonText`: spelled out when read

    def __init__(self) -> None:
        self._records: dict[str, ExecutionRecord] = {}
        self._events: dict[str, list[StoredEvent]] = {}
        # `Entries` appended and not read yet: spelled out as StoredEvents on the first read
        self._unread: dict[str, list[Entries]] = {}
        self._facts: dict[str, list[StoredFact]] = {}
        self._order: dict[str, int] = {}
        self._next = 0  # the order of the next record or resource (kept apart: entries may go)
        self._resources: dict[str, tuple[str, str | None, float, int, dict]] = {}

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def create(self, record: ExecutionRecord, events: Iterable[StoredEvent] = (),
                     facts: Iterable[StoredFact] = (), *, parent: str | None = None) -> bool:
        if parent is not None:
            found = self._resources.get(parent)
            check_parent(parent, None if found is None else found[4])
        if record.arn in self._records:
            return False
        self._records[record.arn] = dataclasses.replace(record, options=copy.deepcopy(record.options))
        self._events[record.arn] = []
        self._unread[record.arn] = []
        self._add_events(record.arn, events)
        self._facts[record.arn] = list(facts)
        self._order[record.arn] = self._next = self._next + 1
        return True

    async def get(self, arn: str) -> ExecutionRecord | None:
        record = self._records.get(arn)
        return _copy(record) if record is not None else None

    async def list(self, *, status: str | None = None, state_machine_arn: str | None = None,
                   limit: int | None = None) -> list[ExecutionRecord]:
        found = [r for r in self._records.values()
                 if (status is None or r.status == status)
                 and (state_machine_arn is None or r.state_machine_arn == state_machine_arn)]
        found.sort(key=lambda r: (r.start_time, self._order[r.arn]), reverse=True)
        return [_copy(r) for r in found[:limit]]

    async def update(self, arn: str, **changes: Any) -> None:
        record = self._require(arn)
        check_changes(changes)
        for key, value in changes.items():
            setattr(record, key, value if type(value) is JsonText else copy.deepcopy(value))

    async def append(self, arn: str, events: Iterable[StoredEvent], facts: Iterable[StoredFact] = (),
                     changes: dict | None = None, *, owner: str | None = None) -> None:
        self._require(arn)
        # kept as given: the engine never changes a document once recorded
        self._add_events(arn, events)
        self._facts[arn].extend(facts)
        if changes:
            await self.update(arn, **changes)

    def _add_events(self, arn: str, events: Iterable[StoredEvent]) -> None:
        if type(events) is Entries:
            self._unread[arn].append(events)
        else:
            if self._unread[arn]:
                self._spell_out(arn)
            self._events[arn].extend(events)

    def _spell_out(self, arn: str) -> list[StoredEvent]:
        events = self._events[arn]
        unread = self._unread[arn]
        for chunk in unread:
            events.extend(chunk)
        unread.clear()
        return events

    async def events(self, arn: str, after: int = 0) -> list[StoredEvent]:
        self._require(arn)
        events = self._spell_out(arn)
        if after <= 0:
            return list(events)
        return [e for e in events if e.id > after]

    async def facts(self, arn: str) -> list[StoredFact]:
        self._require(arn)
        return list(self._facts[arn])

    async def claim(self, owner: str, lease_seconds: float, limit: int = 100,
                    arns: Iterable[str] | None = None) -> list[ExecutionRecord]:
        now = time.time()
        wanted = None if arns is None else set(arns)
        taken = []
        for record in self._records.values():
            if len(taken) >= limit:
                break
            if record.status != "RUNNING" or (wanted is not None and record.arn not in wanted):
                continue
            if record.owner not in (None, owner) and (record.lease_until or 0) > now:
                continue
            record.owner, record.lease_until = owner, now + lease_seconds
            taken.append(_copy(record))
        return taken

    async def renew(self, owner: str, arns: Iterable[str], lease_seconds: float) -> list[str]:
        until = time.time() + lease_seconds
        held = []
        for arn in arns:
            record = self._records.get(arn)
            if record is not None and record.owner == owner:
                record.lease_until = until
                held.append(arn)
        return held

    async def release(self, owner: str, arn: str) -> None:
        record = self._records.get(arn)
        if record is not None and record.owner == owner:
            record.owner, record.lease_until = None, None

    async def put_resource(self, arn: str, kind: str, doc: dict, parent: str | None = None,
                           created: float = 0.0, *, replace: bool = True) -> bool:
        if not replace and arn in self._resources:
            return False
        self._put(arn, kind, doc, parent, created)
        return True

    def _put(self, arn: str, kind: str, doc: dict, parent: str | None, created: float) -> None:
        old = self._resources.get(arn)
        if old is not None:
            order = old[3]
        else:
            order = self._next = self._next + 1
        self._resources[arn] = (kind, parent, created, order, copy.deepcopy(doc))

    async def get_resource(self, arn: str) -> dict | None:
        found = self._resources.get(arn)
        return copy.deepcopy(found[4]) if found is not None else None

    async def delete_resource(self, arn: str) -> bool:
        return self._resources.pop(arn, None) is not None

    async def revise_family(self, arn: str, kinds: Iterable[str], change: Callable[[Family], Any], *,
                            live: bool = True) -> Any:
        # (no await from the read to the write: nothing else runs in between)
        found = self._resources.get(arn)
        check_parent(arn, None if found is None else found[4], live)
        family = Family(arn, dumps(found[4]), {a: copy.deepcopy(r[4]) for a, r in self._children(arn, kinds)})
        out = change(family)
        if family.gone:
            del self._resources[arn]
        elif (text := family.new_text()) is not None:
            self._resources[arn] = (*found[:4], json.loads(text))
        for child, write in family.writes.items():
            if write is None:
                self._resources.pop(child, None)
            else:
                self._put(child, write[0], write[2], arn, write[1])
        return out

    def _children(self, arn: str, kinds: Iterable[str]) -> list[tuple[str, tuple]]:
        kinds = set(kinds)
        found = [(a, r) for a, r in self._resources.items() if r[1] == arn and r[0] in kinds] if kinds else []
        return sorted(found, key=lambda item: (item[1][2], item[1][3]))

    async def retire_resource(self, arn: str, children: Iterable[str] = ()) -> bool | None:
        found = self._resources.get(arn)
        if found is None:
            return None
        for child, _ in self._children(arn, children):
            del self._resources[child]
        if any(r.status == "RUNNING" and r.state_machine_arn == arn for r in self._records.values()):
            found[4]["status"] = DELETING
            return False
        del self._resources[arn]
        gone = {a for a, r in self._records.items() if machine_of(r.state_machine_arn) == arn}
        for execution in gone:
            for table in (self._records, self._events, self._unread, self._facts, self._order):
                table.pop(execution, None)
        gone.add(arn)
        for child in [a for a, r in self._resources.items() if r[1] in gone]:
            del self._resources[child]
        return True

    async def list_resources(self, kind: str, parent: str | None = None) -> list[dict]:
        found = [r for r in self._resources.values() if r[0] == kind and (parent is None or r[1] == parent)]
        found.sort(key=lambda r: (r[2], r[3]))
        return [copy.deepcopy(r[4]) for r in found]

    def _require(self, arn: str) -> ExecutionRecord:
        record = self._records.get(arn)
        if record is None:
            raise StoreError(f"no execution {arn}")
        return record


_TEXTS = ("definition", "input", "output")


def _copy(record: ExecutionRecord) -> ExecutionRecord:
    """A copy the caller may change: the fields are immutable values but the options (a
    dataclass deep copy costs several times more); `JsonText` fields spelled out (once: the
    stored record keeps the text)."""
    for name in _TEXTS:
        value = getattr(record, name)
        if type(value) is JsonText:
            setattr(record, name, value.text())
    return dataclasses.replace(record, options=copy.deepcopy(record.options))
