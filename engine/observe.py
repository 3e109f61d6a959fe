"""Watching an execution as it runs: the hooks the CLI trace and the test API use.

Subclass `Observer` and pass it as ``observer=`` to `asl.engine.run`; every method is a
no-op by default. `run` is the engine's `StateRun` for the state: ``run.name``,
``run.state`` (the model), ``run.raw`` (the state's input), ``run.entered_time``,
``run.retry_count``, ``run.frame.path`` (where it runs: Map iteration / Parallel branch).
Observers must not change the values they are shown.
"""
from __future__ import annotations

from typing import Any


class Observer:
    def enter(self, run: Any) -> None:
        """A state was entered (after its ``*StateEntered`` event)."""

    def data(self, run: Any, stage: str, value: Any) -> None:
        """A data-flow stage's value: ``afterInputPath``, ``afterParameters`` / ``afterArguments``,
        ``result``, ``afterResultSelector``, ``afterResultPath``."""

    def choice(self, run: Any, rule: Any) -> None:
        """A Choice rule matched (JSONPath rules; JSONata conditions report the rule too)."""

    def retry(self, run: Any, error: Any, attempt: int, delay: float) -> None:
        """A retrier caught `error`; retry number `attempt` follows after `delay` seconds."""

    def caught(self, run: Any, error: Any, catcher: Any) -> None:
        """A catcher took `error`; the state exits to ``catcher.next``."""

    def failed(self, run: Any, error: Any) -> None:
        """The state failed with `error` and no catcher took it."""

    def exit(self, run: Any, output: Any, next_name: str | None) -> None:
        """The state exited with `output`, going to `next_name` (None: the block ends)."""

    def iteration(self, run: Any, index: int, status: str) -> None:
        """A Map iteration or Parallel branch changed status: started, succeeded, failed, aborted."""
