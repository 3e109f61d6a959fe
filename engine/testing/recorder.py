"""What a test sees of a run: every state entered, with its data, as an `Observer` records it.

A `StateVisit` is one entry into a state (the model `asl.history` reads out of a history, plus
what only a live run shows): where it ran (``at``: the Map iterations and Parallel
branches around it, outermost first), its input, the TestState-style inspection data, its
output, the next state, the variables before and after, the retries, the catcher that took
an error, and the attempts made. `Recorder` builds them from the engine's observer hooks.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ...history.timeline import Retried, StateEntry
from ..observe import Observer

__all__ = ["Call", "Recorder", "Retried", "StateVisit"]

# The data-flow stages in the order a state goes through them (AWS's inspectionData names).
STAGES = ("afterInputPath", "afterItemsPath", "afterItemSelector", "afterParameters", "afterArguments", "result", "afterResultSelector",
          "afterResultPath")


@dataclass
class StateVisit(StateEntry):
    """One entry into a state, recorded live: `asl.history.StateEntry` (what a history tells)
    and what only the engine sees.

    name, type   the state
    at           where it ran: ``(("Items", 2),)`` in iteration 2 of Map ``Items``; ``()`` at top level
    input        the state's input (before InputPath)
    stages       the data-flow values by AWS's inspectionData names (``afterInputPath``, ...)
    output       what it passed on (None while running or when it failed)
    next         the state that followed (None: the block ended)
    status       ``succeeded``, ``caught`` (a Catch took an error), ``failed`` or ``running``
                 (never finished: the execution timed out or stopped around it)
    error, cause the error it failed with, or that its catcher took (``exception``: the error itself)
    choice       the index of the Choice rule that matched (None: Default, or not a Choice)
    catcher      the index of the Catch clause that took the error
    retries      each retry, in order; ``attempts`` is 1 + their number
    iterations   a Map's iterations by index: ``succeeded``, ``failed``, ``aborted`` or ``started``
                 (those of its last attempt)
    variables_before, variables   the variables it saw and the variables after its Assign
    entered, exited               virtual epoch seconds

    ``id`` and ``calls`` are left empty: a live run's calls of mocks and handlers are `Call`s.
    """

    status: str = "running"
    variables_before: dict = field(default_factory=dict, kw_only=True)
    stages: dict = field(default_factory=dict, kw_only=True)
    choice: int | None = field(default=None, kw_only=True)
    catcher: int | None = field(default=None, kw_only=True)
    variables: dict | None = field(default=None, kw_only=True)
    exception: Any = field(default=None, repr=False, kw_only=True)

    @property
    def inspection(self) -> dict:
        """TestState's inspectionData: ``input``, the stages this state went through, ``variables``."""
        data = {"input": self.input}
        data.update((stage, self.stages[stage]) for stage in STAGES if stage in self.stages)
        data["variables"] = self.variables if self.variables is not None else self.variables_before
        return data


@dataclass
class Call:
    """One call of a Task's mock or handler: state, input, attempt, where (``at``), mocked or not."""

    state: str
    input: Any
    attempt: int
    at: tuple
    mocked: bool


class Recorder(Observer):
    """Turns the engine's observer hooks into `StateVisit` records, in the order states are entered."""

    def __init__(self, keep: bool = True) -> None:
        self.keep = keep  # False: only the visits still open are kept (a trace of a long run)
        self.visits: list[StateVisit] = []
        self._open: dict[Any, StateVisit] = {}  # StateRun -> its visit, until it exits or fails

    def enter(self, run: Any) -> None:
        visit = StateVisit(run.name, run.state.type, run.path, run.raw, run.entered_time,
                           variables_before=dict(run.variables))
        if self.keep:
            self.visits.append(visit)
        self._open[run] = visit

    # Every hook tolerates a run it did not see enter (an observer must never break a run).

    def data(self, run: Any, stage: str, value: Any) -> None:
        self._visit(run).stages[stage] = value

    def choice(self, run: Any, rule: Any) -> None:
        self._visit(run).choice = _index(run.state.choices, rule)

    def retry(self, run: Any, error: Any, attempt: int, delay: float, retrier: Any) -> None:
        index = _index(run.state.retry, retrier)
        self._visit(run).retries.append(Retried(error.error, error.cause, -1 if index is None else index, delay))

    def caught(self, run: Any, error: Any, catcher: Any) -> None:
        visit = self._visit(run)
        visit.status, visit.error, visit.cause, visit.exception = "caught", error.error, error.cause, error
        visit.catcher = _index(run.state.catch, catcher)

    def failed(self, run: Any, error: Any) -> None:
        visit = self._open.pop(run, None) or self._stray(run)
        visit.status, visit.error, visit.cause, visit.exception = "failed", error.error, error.cause, error
        visit.variables = dict(run.variables)
        visit.exited = run.now()

    def exit(self, run: Any, output: Any, next_name: str | None) -> None:
        visit = self._open.pop(run, None) or self._stray(run)
        state = run.state
        if next_name is None and state.type not in ("Succeed", "Fail") and not getattr(state, "end", False):
            next_name = state.next  # what the engine does next (a Catch or Choice names it itself)
        if visit.status == "running":
            visit.status = "succeeded"
        visit.output, visit.next = output, next_name
        visit.variables = dict(run.variables)
        visit.exited = run.now()

    def map_started(self, run: Any, length: int) -> None:
        self._visit(run).iterations.clear()  # a retried Map runs all its iterations again

    def iteration(self, run: Any, index: int, status: str) -> None:
        if run.type == "Map":  # a Parallel's branches are not iterations (a history's Timeline has none either)
            self._visit(run).iterations[index] = status

    def _visit(self, run: Any) -> StateVisit:
        visit = self._open.get(run)
        return visit if visit is not None else self._stray(run)

    def _stray(self, run: Any) -> StateVisit:
        return StateVisit(run.name, run.state.type, run.path, run.raw, run.entered_time)


def _index(items: list, item: Any) -> int | None:
    return next((i for i, candidate in enumerate(items) if candidate is item), None)
