"""ASL timestamps: ``YYYY-MM-DDThh:mm:ss[.fraction](Z|+hh:mm|-hh:mm)`` (ASL-SPEC.md section 12).

Upper-case ``T`` and ``Z`` only, any number of fraction digits, real calendar dates. Parsed to
an exact instant (whole seconds since the epoch, nanoseconds) so comparisons never suffer
float rounding.
"""
from __future__ import annotations

import calendar
import re
from datetime import datetime, timezone

_TS = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$")


def parse_timestamp(text: object) -> tuple[int, int] | None:
    """(epoch seconds, nanoseconds) for a valid ASL timestamp string, else None."""
    if not isinstance(text, str):
        return None
    m = _TS.match(text)
    if not m:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    try:
        datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return None
    if second > 59:
        return None
    zone = m.group(8)
    offset = 0
    if zone != "Z":
        oh, om = int(zone[1:3]), int(zone[4:6])
        if oh > 23 or om > 59:
            return None
        offset = (oh * 3600 + om * 60) * (1 if zone[0] == "+" else -1)
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)) - offset
    fraction = m.group(7) or ""
    nanos = int((fraction + "000000000")[:9]) if fraction else 0
    return seconds, nanos


def to_epoch(text: object) -> float | None:
    parsed = parse_timestamp(text)
    return None if parsed is None else parsed[0] + parsed[1] / 1e9


def format_timestamp(epoch: float) -> str:
    """Epoch seconds -> ``2019-03-26T20:14:13.192Z`` (milliseconds always written)."""
    dt = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def format_context_timestamp(epoch: float) -> str:
    """Epoch seconds -> a Context object time (``$$.Execution.StartTime``, ``$$.State.EnteredTime``):
    ``2019-03-26T20:14:13.192Z``, but ``2019-03-26T20:14:13Z`` on a whole second. The DG's
    Context object page: Step Functions writes zero, three, six or nine fraction digits as
    needed (Java's Instant.toString), dropping a zero fraction rather than padding it."""
    text = format_timestamp(epoch)
    return text[:-5] + "Z" if text.endswith(".000Z") else text
