"""Waiting for a condition in tests: poll it, with a generous deadline (a readiness wait on a
possibly loaded machine, never an assertion on how long something took)."""
from __future__ import annotations

import time
from typing import Any, Callable


def poll(condition: Callable[[], Any], what: str, timeout: float = 120, every: float = 0.05) -> Any:
    """What `condition()` returns once it is truthy; AssertionError(`what`) if it never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(every)
    raise AssertionError(what)
