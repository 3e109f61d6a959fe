"""Execution histories: AWS's event shapes (`events`) and the one walker that reads what an
execution did out of them (`timeline`). See `asl.history.timeline` for a tour."""
from __future__ import annotations

from .events import Event, HistoryError
from .timeline import Failure, Retried, StateEntry, Step, TaskCall, Timeline, parse_history, read_history

__all__ = ["Event", "Failure", "HistoryError", "Retried", "StateEntry", "Step", "TaskCall", "Timeline",
           "parse_history", "read_history"]
