"""Watching an execution as it runs: the hooks the CLI trace and the test API use.

Subclass `Observer` and pass it as ``observer=`` to `asl.engine.run`; every method is a
no-op by default. `run` is the engine's `StateRun` for the state: ``run.name``,
``run.state`` (the model), ``run.raw`` (the state's input), ``run.entered_time``,
``run.retry_count``, ``run.frame.path`` (where it runs: Map iteration / Parallel branch).
Observers must not change the values they are shown.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..errors import StatesError
    from ..model import Catcher, ChoiceRule, Retrier


class Observer:
    def enter(self, run: Any) -> None:
        """A state was entered (after its ``*StateEntered`` event)."""

    def data(self, run: Any, stage: str, value: Any) -> None:
        """A data-flow stage's value, by AWS's inspectionData names: ``afterInputPath``,
        ``afterParameters`` / ``afterArguments``, ``result``, ``afterResultSelector``,
        ``afterResultPath``; for a Map also ``afterItemsPath`` (the items, JSONPath) and
        ``afterItemSelector`` (each item's input after ItemSelector, in item order)."""

    def choice(self, run: Any, rule: ChoiceRule) -> None:
        """A Choice rule matched (JSONPath rules; JSONata conditions report the rule too)."""

    def retry(self, run: Any, error: StatesError, attempt: int, delay: float, retrier: Retrier) -> None:
        """`retrier` (one of ``run.state.retry``) caught `error`; retry number `attempt` of that
        retrier follows after `delay` seconds."""

    def caught(self, run: Any, error: StatesError, catcher: Catcher) -> None:
        """A catcher took `error`; the state exits to ``catcher.next``."""

    def failed(self, run: Any, error: StatesError) -> None:
        """The state failed with `error` and no catcher took it."""

    def exit(self, run: Any, output: Any, next_name: str | None) -> None:
        """The state exited with `output`, going to `next_name` (None: the block ends)."""

    def map_started(self, run: Any, length: int) -> None:
        """A Map state's run of `length` items starts (its ``MapStateStarted`` event; again on a retry)."""

    def iteration(self, run: Any, index: int, status: str) -> None:
        """A Map iteration (inline, or a Distributed Map item's child execution) or a Parallel
        branch changed status: started, succeeded, failed, aborted. A Distributed Map with an
        ItemBatcher reports its batches."""
