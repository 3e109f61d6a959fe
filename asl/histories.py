"""Reading execution histories: kept for compatibility, the code lives in `asl.history`
(`asl.history.events`: the event types and AWS's JSON; `asl.history.timeline`: the walker)."""
from __future__ import annotations

from .history.events import (ATTEMPTS, CLOSERS, CONTAINER_FAILURES, ENDINGS, OPENERS, Event,  # noqa: F401
                             HistoryError)
from .history.timeline import RANK, Failure, Step, Timeline, parse_history, read_history  # noqa: F401
