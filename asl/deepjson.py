"""JSON text to values at any nesting depth.

``json.loads`` recurses in C and raises RecursionError on documents a few hundred levels deep
when the Python stack is already deep (inside a JSONata callback, say). `loads` tries it
first and, only then, reads the text again with a parser that keeps its own stack.
"""
from __future__ import annotations

import json
import re
from json.decoder import scanstring
from typing import Any

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_WORDS = {"true": True, "false": False, "null": None}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


#: JSON and nothing else: Python's json takes NaN, Infinity and -Infinity, which JSON (and
#: Jackson, AWS's parser, with its default features) refuses. Made once.
STRICT = json.JSONDecoder(parse_constant=_refuse_constant)


def loads(text: str, decoder: json.JSONDecoder | None = None, **options: Any) -> Any:
    """``json.loads(text, **options)``, for documents of any depth (ValueError on bad JSON;
    the deep fallback takes standard JSON only, whatever the options). A `decoder` made once
    replaces the options (json.loads makes one per call when given any)."""
    try:
        if decoder is not None and not text.startswith("\ufeff"):  # (json.loads refuses a BOM)
            return decoder.decode(text)
        return json.loads(text, **options)
    except RecursionError:
        return _parse(text)


def strict_loads(text: str) -> Any:
    """The value JSON `text` spells, at any depth; ValueError for anything else (NaN too)."""
    return loads(text, STRICT)


def _key(text: str, pos: int) -> tuple[str, int]:
    if text[pos:pos + 1] != '"':
        raise ValueError(f"Expecting property name enclosed in double quotes: char {pos}")
    key, pos = scanstring(text, pos + 1)
    pos = _WS.match(text, pos).end()
    if text[pos:pos + 1] != ":":
        raise ValueError(f"Expecting ':' delimiter: char {pos}")
    return key, _WS.match(text, pos + 1).end()


def _parse(text: str) -> Any:
    ws = _WS.match
    pos = ws(text, 0).end()
    stack: list[list] = []   # [container, key of the member being read]
    while True:
        ch = text[pos:pos + 1]
        if ch == "{":
            pos = ws(text, pos + 1).end()
            if text[pos:pos + 1] != "}":
                key, pos = _key(text, pos)
                stack.append([{}, key])
                continue
            value, pos = {}, pos + 1
        elif ch == "[":
            pos = ws(text, pos + 1).end()
            if text[pos:pos + 1] != "]":
                stack.append([[], None])
                continue
            value, pos = [], pos + 1
        elif ch == '"':
            value, pos = scanstring(text, pos + 1)
        else:
            number = _NUMBER.match(text, pos)
            if number:
                token = number.group()
                value = float(token) if number.group(1) or number.group(2) else int(token)
                pos = number.end()
            else:
                word = next((w for w in _WORDS if text.startswith(w, pos)), None)
                if word is None:
                    raise ValueError(f"Expecting value: char {pos}")
                value, pos = _WORDS[word], pos + len(word)
        while True:   # the value is complete: place it, then close what it completes
            pos = ws(text, pos).end()
            if not stack:
                if pos != len(text):
                    raise ValueError(f"Extra data: char {pos}")
                return value
            top = stack[-1]
            container = top[0]
            if type(container) is dict:
                container[top[1]] = value
            else:
                container.append(value)
            ch = text[pos:pos + 1]
            if ch == ",":
                pos = ws(text, pos + 1).end()
                if type(container) is dict:
                    top[1], pos = _key(text, pos)
                break
            if ch != ("}" if type(container) is dict else "]"):
                raise ValueError(f"Expecting ',' delimiter: char {pos}")
            pos += 1
            stack.pop()
            value = container
