"""The 256 KiB payload limit, measured without serialising whole documents.

AWS fails a state whose output is larger than 262,144 bytes of UTF-8 JSON. Serialising the
document after every state would make each state cost O(document), and a loop carrying a
200 KB document would spend its time in ``json.dumps``. Documents are never mutated by the
engine (ResultPath copies only the spine it changes), so the size of every container can be
remembered by identity: after a state, only the containers it created are measured again.
"""
from __future__ import annotations

from json.encoder import encode_basestring
from typing import Any

from ..jsontext import c_compact

LIMIT = 262_144
LARGE = 65_536
MAX_DEPTH = 500
"""Deepest nesting of objects and arrays a document may have (``{"a": 1}`` is 1 deep).

AWS documents no limit (Jackson, which its JSON goes through, refuses documents deeper than
1,000 by default); this one leaves every part of the engine, and of the Python code around it,
room to serialise, copy and compare documents without running out of stack."""
_NOTHING = object()
_dumps_fast = c_compact  # the C encoder, made once (see asl.jsontext)


def compact_json(value: Any) -> str:
    """`value` as compact JSON text (``json.dumps(value, separators=(",", ":"), ensure_ascii=False)``),
    at the C encoder's cost: journals and API answers write a great many small documents."""
    return c_compact(value)


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


def _shallow_depth(value: dict | list) -> int:
    """The depth of an object or array if it is 1 or 2 (it holds no object or array, or only
    ones that hold none: a record, a list of records), else 0."""
    found = 1
    for item in (value.values() if isinstance(value, dict) else value):
        if isinstance(item, (dict, list)):
            for inner in (item.values() if isinstance(item, dict) else item):
                if isinstance(inner, (dict, list)):
                    return 0
            found = 2
    return found


def _shallow_size(value: dict | list) -> tuple[int, int] | None:
    """(size, depth) of an object or array at most 2 deep, measured at once by the C encoder
    (a Map's results, a list of records); None for a deeper one (or one that is not plain
    JSON, e.g. holding a huge int): the caller walks it."""
    found = _shallow_depth(value)
    if not found:
        return None
    try:
        text = _dumps_fast(value)
    except (TypeError, ValueError):
        return None
    return (len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))), found


class PayloadMeter:
    """Sizes of JSON values in bytes, memoised by identity for containers and long strings."""

    __slots__ = ("_cache", "_large", "last_size", "_depths", "_last")

    MAX_ENTRIES = 200_000

    def __init__(self) -> None:
        self._cache: dict[int, tuple[Any, int]] = {}
        self._large = False  # was the last document measured at least LARGE bytes?
        self.last_size = 0   # the size `exceeds` measured last
        self._depths: dict[int, tuple[Any, int]] = {}  # container id -> (container, depth)
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
            return self._walk(value)[0]
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
            except (TypeError, ValueError, RecursionError):
                pass  # not plain JSON (e.g. a huge int), or deeper than the C encoder goes: walk
            else:
                return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
        return self._walk(value)[0]

    def _walk(self, root: Any) -> tuple[int, int]:
        """(size, depth) of a container, walked with a stack of its own (any depth), each
        container's result remembered by identity while documents are large."""
        cache = self._cache if self._large else None
        size = self.size

        def opened(value: Any) -> list:
            if isinstance(value, dict):
                # {"k":v,"k2":v2}: braces, one colon per member, commas between members
                total = 2 + max(0, len(value) - 1) + len(value)
                for key in value:
                    total += _string_size(key) if isinstance(key, str) else _string_size(str(key))
                return [value, iter(value.values()), total, 0]
            return [value, iter(value), 2 + max(0, len(value) - 1), 0]

        stack = [opened(root)]
        while True:
            frame = stack[-1]
            for item in frame[1]:
                if isinstance(item, (dict, list)):
                    hit = cache.get(id(item)) if cache is not None else None
                    if hit is not None and hit[0] is item and len(hit) == 3:
                        frame[2] += hit[1]
                        frame[3] = max(frame[3], hit[2])
                        continue
                    shallow = _shallow_size(item)
                    if shallow is None:
                        stack.append(opened(item))
                        break
                    frame[2] += shallow[0]
                    if frame[3] < shallow[1]:
                        frame[3] = shallow[1]
                    if cache is not None:
                        if len(cache) >= self.MAX_ENTRIES:
                            cache.clear()
                        cache[id(item)] = (item, *shallow)
                    continue
                frame[2] += size(item)
            else:
                stack.pop()
                done = frame[2], frame[3] + 1
                if cache is not None:
                    if len(cache) >= self.MAX_ENTRIES:
                        cache.clear()
                    cache[id(frame[0])] = (frame[0], *done)
                if not stack:
                    return done
                parent = stack[-1]
                parent[2] += done[0]
                parent[3] = max(parent[3], done[1])

    def exceeds(self, value: Any, limit: int = LIMIT) -> bool:
        last, size = self._last
        if value is not last:  # a Choice (or a Pass without changes) passes its input on as is
            kind = type(value)
            if not self._large and (kind is dict or kind is list):
                try:  # what _container_size does first for a small document, without the calls
                    text = _dumps_fast(value)
                except (TypeError, ValueError, RecursionError):
                    size = self.size(value)
                else:
                    size = len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))
            else:
                size = self.size(value)
            self._last = (value, size)
        self.last_size = size
        self._large = size >= LARGE
        return size > limit

    def too_deep(self, value: Any, size: int, limit: int = MAX_DEPTH) -> int | None:
        """The nesting depth of `value` (whose JSON `size` is known) if it is over `limit`."""
        if size < 2 * limit or not isinstance(value, (dict, list)):
            return None  # each level takes two bytes of brackets: too small to be that deep
        hit = self._cache.get(id(value))
        found = hit[2] if hit is not None and hit[0] is value and len(hit) == 3 else self._depth(value)
        return found if found > limit else None

    def _depth(self, root: Any) -> int:
        """`depth`, remembering each container's depth by identity: documents are shared, never
        mutated, so the next state's output walks only the containers it created."""
        memo = self._depths
        if len(memo) >= self.MAX_ENTRIES:
            memo.clear()
        stack = [[root, iter(root.values() if isinstance(root, dict) else root), 0]]
        while True:
            frame = stack[-1]
            for child in frame[1]:
                if isinstance(child, (dict, list)):
                    hit = memo.get(id(child))
                    if hit is not None and hit[0] is child:
                        if hit[1] > frame[2]:
                            frame[2] = hit[1]
                        continue
                    shallow = _shallow_depth(child)
                    if not shallow:
                        stack.append([child, iter(child.values() if isinstance(child, dict) else child), 0])
                        break
                    if shallow > frame[2]:  # 1 or 2 deep: found at once, nothing to remember
                        frame[2] = shallow
            else:
                stack.pop()
                found = frame[2] + 1
                memo[id(frame[0])] = (frame[0], found)  # the reference keeps the id from being reused
                if not stack:
                    return found
                if found > stack[-1][2]:
                    stack[-1][2] = found


def depth(value: Any) -> int:
    """Nesting depth of objects and arrays (0 for a scalar), without recursion."""
    deepest = 0
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    pop, push = stack.pop, stack.append
    while stack:
        item, level = pop()
        if level > deepest:
            deepest = level
        for child in (item.values() if isinstance(item, dict) else item):
            if isinstance(child, (dict, list)):
                push((child, level + 1))
    return deepest
