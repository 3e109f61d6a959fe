"""Writing JSON text that is always valid JSON, whatever the value and whatever the stream.

Two things Python's `json` module would otherwise get wrong:

- Non-finite numbers. A definition may hold a literal beyond a double's range (``1e400``),
  which Jackson (AWS's parser) and Python both read as Infinity; `json.dumps` would write the
  bare token ``Infinity``, which is not JSON. `dumps` writes the strings ``"Infinity"``,
  ``"-Infinity"`` and ``"NaN"`` instead: what Jackson's generator writes by default
  (QUOTE_NON_NUMERIC_NUMBERS). Only a value holding one pays for the extra pass.
- Streams that cannot encode every character (``PYTHONIOENCODING=latin-1``, a Windows code
  page) and text holding a lone surrogate (``"\\ud800"`` is valid JSON input). `ESCAPE` names
  an encoding error handler that writes such a character as a JSON escape (``\\u4e2d``; a
  surrogate pair beyond U+FFFF). Non-ASCII characters only appear inside JSON strings, where
  the escape means the same character, so JSON text written through it stays valid and equal;
  other text gets a readable escape instead of a crash.
"""
from __future__ import annotations

import codecs
import json
import math
from json.encoder import c_make_encoder, encode_basestring
from typing import Any

ESCAPE = "asl-json-escape"

_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def _no_default(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON")


if c_make_encoder is not None:
    # The C encoder itself, made once: JSONEncoder.encode builds one (and a markers dict) per call,
    # which is most of the cost for small documents. No cycle check: documents are JSON values
    # (a cycle would recurse until RecursionError, a ValueError).
    _c_encode = c_make_encoder(None, _no_default, encode_basestring, None, ":", ",", False, False, True)

    def c_compact(value: Any) -> str:
        """Compact JSON text (non-ASCII kept, non-finite floats as bare NaN/Infinity tokens:
        for measuring and comparing, not for output) at the C encoder's cost."""
        return "".join(_c_encode(value, 0))
else:  # pragma: no cover  (CPython always has the C accelerator)
    c_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_NON_FINITE = "Out of range float values are not JSON compliant"


def compact(value: Any) -> str:
    """``{"a":1}``: the shortest JSON text of `value` (non-ASCII characters kept)."""
    try:
        return _compact(value)
    except ValueError as exc:
        if not str(exc).startswith(_NON_FINITE):
            raise
        return _compact(finite(value))


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: ``1 == 1.0``, but ``True != 1`` (Python says they are equal)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b))
    return a == b


def dumps(value: Any, indent: int | None = None, **options: Any) -> str:
    """`json.dumps` (non-ASCII characters kept unless ensure_ascii=True) that never writes NaN
    or Infinity as bare tokens (see the module docstring)."""
    options.setdefault("ensure_ascii", False)
    try:
        return json.dumps(value, indent=indent, allow_nan=False, **options)
    except ValueError as exc:
        if not str(exc).startswith(_NON_FINITE):
            raise
        return json.dumps(finite(value), indent=indent, allow_nan=False, **options)


def finite(value: Any) -> Any:
    """`value` with every non-finite float replaced by its name as a string (a copy of the
    containers that hold one; the rest is shared)."""
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return "NaN" if value != value else "Infinity" if value > 0 else "-Infinity"
    if isinstance(value, dict):
        return {key: finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(item) for item in value]
    return value


def _escape(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    out = []
    for ch in error.object[error.start:error.end]:
        code = ord(ch)
        if code > 0xFFFF:
            code -= 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{code:04x}")
    return "".join(out), error.end


codecs.register_error(ESCAPE, _escape)
