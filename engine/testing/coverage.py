"""Workflow coverage: which parts of each state machine the runs exercised, and which never.

Five kinds of element, per machine:

    state    every state, nested ones included
    choice   every Choice rule, and the Default (``Route.Choices[0]``, ``Route.Default``)
    retry    every Retry clause that retried at least once (``Pay.Retry[0]``)
    catch    every Catch clause that took an error (``Pay.Catch[1]``)
    branch   every Parallel branch that ran (``Fanout.Branches[1]``), and every Map processor
             that ran at least one iteration (``Items.ItemProcessor``)

`pytest --asl-coverage` collects it for the session (see `plugin`); elsewhere::

    with coverage.collect() as cov:
        workflow.run(...)
    print(cov.report())
"""
from __future__ import annotations

import hashlib
import json
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from .recorder import StateVisit

KINDS = {"state": "states", "choice": "choice rules", "retry": "retriers", "catch": "catchers",
         "branch": "branches"}

_ACTIVE: list["Coverage"] = []


def current() -> "Coverage | None":
    """The coverage being collected now (the innermost `collect`), if any."""
    return _ACTIVE[-1] if _ACTIVE else None


@contextmanager
def collect() -> Iterator["Coverage"]:
    """Collect the coverage of every `Workflow` run inside the block."""
    coverage = Coverage()
    _ACTIVE.append(coverage)
    try:
        yield coverage
    finally:
        _ACTIVE.remove(coverage)


@dataclass
class Element:
    """One coverable part of a machine: ``kind``, a stable ``id``, a readable ``label``, ``hits``."""

    kind: str
    id: str
    label: str
    hits: int = 0


class MachineCoverage:
    """The elements of one state machine and how often the runs exercised each."""

    def __init__(self, name: str, machine: Any):
        self.name = name
        self.runs = 0
        self.elements: dict[str, Element] = {}
        self.types: dict[str, str] = {}
        if machine is not None:
            self._add_block(machine)

    @classmethod
    def from_json(cls, data: dict) -> "MachineCoverage":
        """The elements of a `to_json` entry, with no runs or hits yet (for `Coverage.merge`)."""
        made = cls(data["name"], None)
        made.elements = {e["id"]: Element(e["kind"], e["id"], e["label"]) for e in data["elements"]}
        return made

    # ---- the elements, in document order ---------------------------------------------------------

    def _add_block(self, block: Any) -> None:
        for name, state in block.states.items():
            self.types[name] = state.type
            self._add("state", name, name)
            for i, rule in enumerate(getattr(state, "choices", None) or []):
                self._add("choice", f"{name}.Choices[{i}]", f"{name}.Choices[{i}] → {rule.next}")
            if getattr(state, "default", None):
                self._add("choice", f"{name}.Default", f"{name}.Default → {state.default}")
            for i, retrier in enumerate(getattr(state, "retry", None) or []):
                self._add("retry", f"{name}.Retry[{i}]", f"{name}.Retry[{i}] {_errors(retrier.error_equals)}")
            for i, catcher in enumerate(getattr(state, "catch", None) or []):
                self._add("catch", f"{name}.Catch[{i}]",
                          f"{name}.Catch[{i}] {_errors(catcher.error_equals)} → {catcher.next}")
            for i, block in enumerate(nested_blocks(state)):
                if state.type == "Parallel":
                    self._add("branch", f"{name}.Branches[{i}]", f"{name}.Branches[{i}] (from {block.start_at})")
                else:
                    self._add("branch", f"{name}.ItemProcessor", f"{name}.ItemProcessor (any iteration)")
                self._add_block(block)

    def _add(self, kind: str, id: str, label: str) -> None:
        self.elements[id] = Element(kind, id, label)

    # ---- recording -------------------------------------------------------------------------------

    def record(self, visits: list[StateVisit], run: bool = True) -> None:
        """Count what `visits` exercised (`run`: they make one execution)."""
        self.runs += run
        for visit in visits:
            name = visit.name
            self._hit(name)
            if visit.type == "Choice" and visit.status == "succeeded":
                self._hit(f"{name}.Choices[{visit.choice}]" if visit.choice is not None else f"{name}.Default")
            for retried in visit.retries:
                self._hit(f"{name}.Retry[{retried.retrier}]")
            if visit.catcher is not None:
                self._hit(f"{name}.Catch[{visit.catcher}]")
            for container, index in visit.at:
                kind = self.types.get(container)
                self._hit(f"{container}.Branches[{index}]" if kind == "Parallel" else f"{container}.ItemProcessor")

    def _hit(self, id: str) -> None:
        element = self.elements.get(id)
        if element is not None:
            element.hits += 1

    # ---- figures -----------------------------------------------------------------------------------

    def counts(self, kind: str | None = None) -> tuple[int, int]:
        """(covered, total) for one kind, or for all."""
        chosen = [e for e in self.elements.values() if kind is None or e.kind == kind]
        return sum(1 for e in chosen if e.hits), len(chosen)

    @property
    def percent(self) -> float:
        covered, total = self.counts()
        return 100.0 * covered / total if total else 100.0

    def missed(self) -> list[Element]:
        return [e for e in self.elements.values() if not e.hits]

    def to_json(self) -> dict:
        covered, total = self.counts()
        return {"name": self.name, "runs": self.runs, "covered": covered, "total": total,
                "percent": round(self.percent, 1),
                "kinds": {kind: dict(zip(("covered", "total"), self.counts(kind))) for kind in KINDS},
                "elements": [{"kind": e.kind, "id": e.id, "label": e.label, "hits": e.hits}
                             for e in self.elements.values()]}


class Coverage:
    """Coverage of every machine a session loaded or ran, keyed by name and definition."""

    def __init__(self) -> None:
        self.machines: dict[str, MachineCoverage] = {}
        self._seen: dict[int, tuple[Any, MachineCoverage]] = {}  # id(machine) -> (machine, entry)

    def machine(self, name: str, machine: Any) -> MachineCoverage:
        """The entry for `machine` (made on first use: a machine loaded but never run counts too).

        Two machines with the same name and definition share an entry (the same file loaded twice).
        """
        seen = self._seen.get(id(machine))
        if seen is not None and seen[0] is machine and seen[1].name == name:
            return seen[1]
        digest = hashlib.sha1(json.dumps(machine.definition, sort_keys=True, default=str).encode()).hexdigest()
        key = f"{name}#{digest[:12]}"
        found = self.machines.get(key)
        if found is None:
            found = self.machines[key] = MachineCoverage(name, machine)
        self._seen[id(machine)] = (machine, found)
        return found

    def percent(self) -> float:
        covered = sum(m.counts()[0] for m in self.machines.values())
        total = sum(m.counts()[1] for m in self.machines.values())
        return 100.0 * covered / total if total else 100.0

    def to_json(self) -> dict:
        return {"format": "asl-coverage/1", "percent": round(self.percent(), 1),
                "machines": [m.to_json() for m in self.machines.values()]}

    # ---- pytest-xdist: each worker collects a part, the controller adds them up ----------------------

    def partial(self) -> dict:
        """This process's counts, as JSON a `merge` elsewhere takes in (an xdist worker's share)."""
        return {key: m.to_json() for key, m in self.machines.items()}

    def merge(self, partial: dict) -> None:
        """Add another process's `partial` counts: runs and hits add up, machine by machine."""
        for key, data in partial.items():
            found = self.machines.get(key)
            if found is None:
                found = self.machines[key] = MachineCoverage.from_json(data)
            found.runs += data["runs"]
            for item in data["elements"]:
                element = found.elements.get(item["id"])
                if element is not None:
                    element.hits += item["hits"]

    def report(self) -> str:
        """The terminal table, then every element never exercised."""
        if not self.machines:
            return "no state machine was loaded through asl.engine.testing"
        headers = ["machine", "runs"] + list(KINDS.values()) + ["total"]
        rows = []
        for m in self.machines.values():
            covered, total = m.counts()
            rows.append([m.name, str(m.runs)] + ["{}/{}".format(*m.counts(k)) for k in KINDS]
                        + [f"{covered}/{total} {m.percent:.0f}%"])
        widths = [max(len(r[i]) for r in rows + [headers]) for i in range(len(headers))]
        lines = ["  ".join(cell.ljust(widths[i]) if i == 0 else cell.rjust(widths[i]) for i, cell in enumerate(r))
                 for r in [headers] + rows]
        missed = [(m, m.missed()) for m in self.machines.values() if m.missed()]
        if missed:
            lines.append("never exercised:")
            for m, elements in missed:
                lines.append(f"  {m.name}")
                lines.extend(f"    {e.kind:<7} {e.label}" for e in elements)
        else:
            lines.append("every state, Choice rule, Retry, Catch and branch was exercised")
        return "\n".join(lines)


def nested_blocks(state: Any) -> list:
    """The blocks inside a state: a Parallel's branches, a Map's item processor, else none."""
    if state.type == "Parallel":
        return list(state.branches)
    processor = getattr(state, "processor", None) if state.type == "Map" else None
    return [processor] if processor is not None else []


def _errors(names: list[str]) -> str:
    return "[" + ", ".join(names) + "]"
