"""How the `asl` command writes for people: colour only on a terminal, short durations,
compact JSON, readable causes. Shared by the run trace and ``asl history``."""
from __future__ import annotations

import json
import os
from typing import Any, TextIO

_CODES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "blue": "34", "magenta": "35",
          "cyan": "36"}

_UNICODE = {"enter": "▶", "ok": "✓", "fail": "✗", "retry": "↻", "caught": "↪", "arrow": "→", "into": "›",
            "wait": "⏸", "bar": "█", "gap": "░", "dot": "·", "times": "×", "rule": "──", "etc": "…", "why": "↳"}
_ASCII = {"enter": ">", "ok": "+", "fail": "x", "retry": "~", "caught": "!", "arrow": "->", "into": ">",
          "wait": "|", "bar": "#", "gap": ".", "dot": "-", "times": "x", "rule": "--", "etc": "...", "why": "^"}


def use_colour(stream: TextIO, mode: str = "auto") -> bool:
    """``always`` / ``never``, or ``auto``: a terminal, unless NO_COLOR is set or TERM is dumb."""
    if mode != "auto":
        return mode == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"


class Style:
    """Paints text when colour is on; picks symbols the stream can encode."""

    def __init__(self, colour: bool, stream: TextIO | None = None):
        self.colour = colour
        encoding = (getattr(stream, "encoding", None) or "utf-8").lower().replace("-", "")
        self.symbols = _UNICODE if encoding in ("utf8", "utf16", "utf32") else _ASCII

    def __getitem__(self, symbol: str) -> str:
        return self.symbols[symbol]

    def paint(self, text: str, *styles: str) -> str:
        if not self.colour or not styles:
            return text
        codes = ";".join(_CODES[s] for s in styles)
        return f"\x1b[{codes}m{text}\x1b[0m"

    def name(self, text: str) -> str:
        return self.paint(text, "bold")

    def dim(self, text: str) -> str:
        return self.paint(text, "dim")

    def ok(self, text: str) -> str:
        return self.paint(text, "green")

    def bad(self, text: str) -> str:
        return self.paint(text, "red")

    def warn(self, text: str) -> str:
        return self.paint(text, "yellow")

    def status(self, status: str) -> str:
        colour = {"SUCCEEDED": "green", "RUNNING": "yellow"}.get(status, "red")
        return self.paint(status, "bold", colour)


def where_tag(container: str, index: int) -> str:
    """``[item 3]`` in iteration 3 of a Map, ``[branch 2]`` in the second branch (index 1) of a
    Parallel: how the trace and the failure path name where a state ran."""
    return f"[item {index}]" if container == "Map" else f"[branch {index + 1}]"


def duration(seconds: float) -> str:
    """``<1ms``, ``12ms``, ``1.50s``, ``2m03s``, ``1h02m``. Under a millisecond is ``<1ms`` even when
    no time passed at all: a clock read twice within its resolution, or a state replayed from a
    journal (millisecond timestamps), gives 0 for what took some microseconds."""
    if seconds < 0.001:
        return "<1ms"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.2f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def compact(value: Any, limit: int | None = None) -> str:
    """One-line JSON, cut to `limit` characters with an ellipsis."""
    from ..jsontext import dumps

    text = dumps(value, separators=(", ", ": "), default=str)
    if limit is not None and len(text) > limit:
        return text[: max(limit - 1, 1)] + "…"
    return text


def readable_cause(cause: str | None) -> str:
    """A Lambda-style cause (``{"errorMessage": ..., "errorType": ...}``) as its message."""
    if not cause:
        return ""
    if cause.startswith("{"):
        try:
            doc = json.loads(cause)
        except (ValueError, RecursionError):  # not JSON, or nested too deeply to read
            return cause
        if isinstance(doc, dict) and isinstance(doc.get("errorMessage"), str):
            return doc["errorMessage"]
    return cause


def error_text(error: str | None, cause: str | None) -> str:
    """``Payment.Declined: card limit is 500`` (the cause made readable)."""
    message = readable_cause(cause)
    return f"{error or 'an error'}: {message}" if message else (error or "an error")
