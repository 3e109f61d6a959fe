"""The 256 KiB payload limit, measured without serialising whole documents.

AWS fails a state whose output is larger than 262,144 bytes of UTF-8 JSON. Serialising the
document after every state would make each state cost O(document), and a loop carrying a
200 KB document would spend its time in ``json.dumps``. Documents are never mutated by the
engine (ResultPath copies only the spine it changes), so the size of every container can be
remembered by identity: after a state, only the containers it created are measured again.
"""
from __future__ import annotations

from json import JSONEncoder
from json.encoder import c_make_encoder, encode_basestring
from typing import Any

LIMIT = 262_144
LARGE = 65_536
_NOTHING = object()
_dumps = JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def _no_default(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON")


if c_make_encoder is not None:
    # The C encoder itself, made once: JSONEncoder.encode builds one (and a markers dict) per call,
    # which is most of the cost for the small documents measured after every state. No cycle
    # check: documents are JSON values (a cycle would recurse until RecursionError, a ValueError).
    _c_encode = c_make_encoder(None, _no_default, encode_basestring, None, ":", ",", False, False, True)

    def _dumps_fast(value: Any) -> str:
        return "".join(_c_encode(value, 0))
else:  # pragma: no cover  (CPython always has the C accelerator)
    _dumps_fast = _dumps


def _string_size(s: str) -> int:
    text = encode_basestring(s)  # C-accelerated: the quoted, escaped JSON text
    # surrogatepass: a lone surrogate (valid in JSON text as an escape) still has a size
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def _scalar_size(value: Any) -> int:
    if value is None or value is True:
        return 4
    if value is False:
        return 5
    if isinstance(value, int):
        try:
            return len(str(value))
        except ValueError:  # beyond Python's digit limit for str(): estimate from the bits
            return int(abs(value).bit_length() * 0.30103) + 1 + (value < 0)
    return len(repr(value))  # floats: Python's shortest repr, as json.dumps writes them


class PayloadMeter:
    """Sizes of JSON values in bytes, memoised by identity for containers and long strings."""

    __slots__ = ("_cache", "_large", "_last")

    MAX_ENTRIES = 200_000

    def __init__(self) -> None:
        self._cache: dict[int, tuple[Any, int]] = {}
        self._large = False  # was the last document measured at least LARGE bytes?
        self._last: tuple[Any, int] = (_NOTHING, 0)  # the last document measured, and its size

    def size(self, value: Any) -> int:
        kind = type(value)
        if kind is str:
            if len(value) < 64:
                return _string_size(value)
            return self._memo(value, _string_size)
        if kind is dict or kind is list:
            if not self._large:
                return self._container_size(value)  # small documents: no need to remember
            return self._memo(value, self._container_size)
        if isinstance(value, (dict, list, str)):
            return self._container_size(value) if not isinstance(value, str) else _string_size(value)
        return _scalar_size(value)

    def _memo(self, value: Any, measure: Any) -> int:
        cache = self._cache
        hit = cache.get(id(value))
        if hit is not None and hit[0] is value:
            return hit[1]
        size = measure(value)
        if len(cache) >= self.MAX_ENTRIES:
            cache.clear()
        cache[id(value)] = (value, size)  # the strong reference keeps the id from being reused
        return size

    def _container_size(self, value: Any) -> int:
        if not self._large:
            # Small documents: the C encoder measures a whole new object faster than a walk in
            # Python. Once documents are large, walk them, so unchanged parts are remembered.
            try:
                text = _dumps_fast(value)
            except (TypeError, ValueError):
                pass  # not plain JSON (e.g. a huge int): measure it the slow way
            else:
                return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        size = self.size
        if isinstance(value, dict):
            # {"k":v,"k2":v2}: braces, one colon per member, commas between members
            total = 2 + max(0, len(value) - 1) + len(value)
            for key, item in value.items():
                total += (_string_size(key) if isinstance(key, str) else _string_size(str(key))) + size(item)
            return total
        total = 2 + max(0, len(value) - 1)
        for item in value:
            total += size(item)
        return total

    def exceeds(self, value: Any, limit: int = LIMIT) -> bool:
        last, size = self._last
        if value is not last:  # a Choice (or a Pass without changes) passes its input on as is
            kind = type(value)
            if not self._large and (kind is dict or kind is list):
                try:  # what _container_size does first for a small document, without the calls
                    text = _dumps_fast(value)
                except (TypeError, ValueError):
                    size = self.size(value)
                else:
                    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
            else:
                size = self.size(value)
            self._last = (value, size)
        self._large = size >= LARGE
        return size > limit
