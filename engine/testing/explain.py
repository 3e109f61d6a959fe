"""Assertion messages that explain themselves: where two paths diverge, how two outputs differ."""
from __future__ import annotations

import difflib
import json
from typing import Any

ARROW = " → "


def path_difference(expected: list[str], actual: list[str], where: str = "") -> str | None:
    """A step-by-step table of the two paths, marking the first step where they part; None if equal."""
    expected, actual = list(expected), list(actual)
    if expected == actual:
        return None
    step = next((i for i, (e, a) in enumerate(zip(expected, actual)) if e != a), min(len(expected), len(actual)))
    place = f" in {where}" if where else ""
    if step == len(actual):
        headline = (f"the run took no state{place}, but the expected path starts with '{expected[0]}'" if not actual
                    else f"the path{place} stops after step {step} ('{actual[-1]}'); expected next: "
                    f"'{expected[step]}'")
    elif not expected:
        headline = f"the path{place} was expected to be empty, but it starts with '{actual[0]}'"
    elif step == len(expected):
        headline = f"the path{place} goes on after the expected last step {step} ('{expected[-1]}'): " \
                   f"next came '{actual[step]}'"
    else:
        headline = f"the path{place} differs at step {step + 1}: expected '{expected[step]}', got '{actual[step]}'"
    width = max([len("expected")] + [len(name) for name in expected])
    lines = [headline, f"   step  {'expected'.ljust(width)}  actual"]
    for i in range(max(len(expected), len(actual))):
        mark = ">" if i == step else " "
        left = expected[i] if i < len(expected) else "-"
        right = actual[i] if i < len(actual) else "-"
        lines.append(f" {mark} {i + 1:>4}  {left.ljust(width)}  {right}")
    lines.append(f"expected: {ARROW.join(expected) or '(nothing)'}")
    lines.append(f"actual:   {ARROW.join(actual) or '(nothing)'}")
    return "\n".join(lines)


def pretty(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=repr)


def compact(value: Any, limit: int = 300) -> str:
    """One-line JSON, shortened to `limit` characters."""
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def value_difference(expected: Any, actual: Any, what: str = "output") -> str:
    """A unified diff of two JSON values, pretty-printed with sorted keys."""
    diff = difflib.unified_diff(pretty(expected).splitlines(), pretty(actual).splitlines(),
                                "expected", "actual", lineterm="", n=2)
    return f"{what} differs (- expected, + actual):\n" + "\n".join(diff)


def text_difference(expected: str, actual: str, labels: tuple[str, str] = ("expected", "actual"),
                    limit: int = 60) -> str:
    """A unified diff of two texts, at most `limit` lines."""
    lines = list(difflib.unified_diff(expected.splitlines(), actual.splitlines(), *labels, lineterm="", n=2))
    if len(lines) > limit:
        lines = lines[:limit] + [f"... ({len(lines) - limit} more diff lines)"]
    return "\n".join(lines)
