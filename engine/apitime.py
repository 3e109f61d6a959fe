"""Times as the Step Functions API gives them.

AWS keeps times to the millisecond (Java's clock) and its JSON answers write them as epoch
seconds the way Java writes a double: ``{"executionArn":"…","startDate":1.710029283873E9}``
(a StartExecution answer as AWS sent it). `api_time` is the one place a time the service gives
out or stores is made: what a caller is told is what is stored. `java_times` writes the times
of an answer's JSON text as AWS does (the SDK's ``Content-Length`` counts those characters).
"""
from __future__ import annotations

import math
import re
import time

# every member of shape Timestamp in the API's model (botocore's service-2.json)
TIME_MEMBERS = ("creationDate", "redriveDate", "startDate", "stopDate", "timestamp", "updateDate")
_TIMES = re.compile(r'"(' + "|".join(TIME_MEMBERS) + r')":(-?[0-9][0-9.eE+-]*)')


def api_time(seconds: float | None = None) -> float:
    """`seconds` (None: now) in epoch seconds to the millisecond, truncated as AWS's clock keeps
    it. Idempotent: a time made here and read back gives the same value again."""
    if seconds is None:
        return time.time_ns() // 1_000_000 / 1000
    # round(.., 3) first: seconds * 1000 of a time already to the millisecond may fall a hair short
    return math.floor(round(seconds * 1000, 3)) / 1000


def java_double(value: float) -> str:
    """`value` as Java's ``Double.toString`` writes it: ``1.733450000123E9``, ``1.74618E9``
    (from 10^7 on, and below 10^-3), ``1234.5``, ``0.0``."""
    value = float(value)  # (finite: a JSON number)
    if value == 0 or 1e-3 <= abs(value) < 1e7:
        return repr(value)
    from decimal import Decimal

    shortest = Decimal(repr(value))  # the fewest digits that read back as `value`, as Java's
    digits = "".join(map(str, shortest.as_tuple().digits)).rstrip("0") or "0"
    return f"{'-' if value < 0 else ''}{digits[0]}.{digits[1:] or '0'}E{shortest.adjusted()}"


def java_times(text: str) -> str:
    """An answer's compact JSON text with its times to the millisecond (`api_time`: also a time
    recorded before times were kept so) and written as AWS writes them (`java_double`). Only a
    member name of the answer's own objects matches: inside a JSON string every quote is
    escaped, so ``"startDate":`` cannot occur there."""
    return _TIMES.sub(_java_time, text)


def _java_time(match: re.Match) -> str:
    name, number = match.groups()
    whole, _, fraction = number.partition(".")
    if len(whole) == 10 and len(fraction) <= 3 and whole.isdigit() and fraction.isdigit():
        digits = (whole + fraction).rstrip("0")  # to the millisecond already (Python's repr): the usual case
        return f'"{name}":{digits[0]}.{digits[1:] or "0"}E9'
    millis = math.floor(round(float(number) * 1000, 3))  # (api_time's, in milliseconds)
    if millis < 10 ** 10:  # before 1970-04-27 (10^7 seconds): rare enough for the general way
        return f'"{name}":{java_double(millis / 1000)}'
    text = str(millis)  # the digits of Java's notation, at once: 1733450000120 -> 1.73345000012E9
    digits = text.rstrip("0")
    return f'"{name}":{digits[0]}.{digits[1:] or "0"}E{len(text) - 4}'
