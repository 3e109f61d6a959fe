"""Text-delimited records (an ItemReader's ``InputType: CSV``) split as Step Functions splits them.

The rules (DG "example-csv-parse-dist-map", https://docs.aws.amazon.com/step-functions/latest/dg/example-csv-parse-dist-map.html):

- a line break ends a record, unless it is inside double quotes; the delimiter ends a field;
- a field in double quotes may hold the delimiter and line breaks; ``""`` in it is one quote;
- ``""`` is one quote in a field without quotes too: the page's example reads the unquoted
  ``{""MyKey"":""MyValue""}`` as ``{"MyKey":"MyValue"}`` (Python's csv module keeps both quotes);
- a backslash makes the next character plain (a backslash, a quote, the delimiter), and before
  any other character it is dropped, the character kept;
- a field may be of any length: the page reads items of up to 8 MB (Python's csv module stops
  at 128 KiB unless a process-wide limit is raised).

Unverified against AWS, and kept as Python's csv module does it: a lone quote inside an unquoted
field is a plain character; text after a closing quote joins the field (a backslash there is
plain text); a backslash before a line break keeps the break in the field and the record going.
"""
from __future__ import annotations

import csv
import re
from typing import Iterator, TextIO

_BREAKS = "\r\n"
_QUOTED_STOP = re.compile(r'["\\]')   # in quotes only a quote or a backslash is special


def records(text: TextIO, delimiter: str) -> Iterator[list[str]]:
    """The records of `text` (opened with ``newline=""``: line breaks as written), each a list of
    its fields; a blank line is ``[]``.

    Python's csv module splits them (it reads no line ahead), and agrees with the rules above
    except on a doubled quote outside quotes (which it keeps whole) and on a field past its size
    limit: a record with ``""`` in a field, or that overflows, is split again by `_record` from
    the lines it took."""
    tap = _Tap(text)
    rows = csv.reader(tap, delimiter=delimiter, escapechar="\\")
    while True:
        try:
            row = next(rows)
        except StopIteration:
            return
        except csv.Error:                # a field longer than csv's limit: read on without one
            taken = tap.take()
            yield _record(taken[0], _chain(taken[1:], tap), delimiter)
            tap.take()                   # (the further lines that record took)
            rows = csv.reader(tap, delimiter=delimiter, escapechar="\\")
            continue
        taken = tap.take()
        # csv keeps both quotes of "" outside quotes. One test of the joined fields (no "" can span
        # two of them across the NUL) is C work; any() over the fields cost a third of the speed.
        if '""' in "\0".join(row):
            row = _record(taken[0], iter(taken[1:]), delimiter)
        yield row


class _Tap:
    """The lines of a text, remembering those handed out since the last `take`."""

    def __init__(self, text: TextIO):
        self.lines = iter(text)
        self.given: list[str] = []

    def __iter__(self) -> "_Tap":
        return self

    def __next__(self) -> str:
        line = next(self.lines)
        self.given.append(line)
        return line

    def take(self) -> list[str]:
        given, self.given = self.given, []
        return given


def _chain(first: list[str], rest: Iterator[str]) -> Iterator[str]:
    yield from first
    yield from rest


def _record(line: str, lines: Iterator[str], delimiter: str) -> list[str]:
    """One record starting at `line`, reading further lines while a quote is open."""
    plain_stop = re.compile('["\\\\\r\n' + re.escape(delimiter) + "]")
    fields: list[str] = []
    field: list[str] = []
    quoted = started = False   # inside quotes; the current field has begun
    carried = False            # the line ended in an escaped line break: the record goes on
    closed = False             # the last character closed a quote
    i = 0
    while True:
        if i >= len(line):
            more = next(lines, None) if quoted or carried else None
            if more is None:
                break                    # the end of the text (an open quote just ends)
            line, i, carried = more, 0, False
            continue
        stop = (_QUOTED_STOP if quoted else plain_stop).search(line, i)
        end = stop.start() if stop else len(line)
        if end > i:                      # a run of plain characters, copied at once
            field.append(line[i:end])
            i, started, closed = end, True, False
            continue
        char = line[i]
        i += 1
        if closed:                       # just after a closing quote a backslash is plain text
            closed = False
            if char == "\\":
                field.append(char)
                continue
        if char == "\\":
            escaped = line[i] if i < len(line) else "\n"   # at the very end: a line break, as Python's csv
            field.append(escaped)
            i += 1
            carried = escaped in _BREAKS and i >= len(line)
            started = True
        elif quoted:
            if char != '"':
                field.append(char)
            elif i < len(line) and line[i] == '"':
                field.append('"')
                i += 1
            else:
                quoted, closed = False, True
        elif char == '"':
            if not started:
                quoted = started = True
            elif i < len(line) and line[i] == '"':
                field.append('"')         # "" in an unquoted field (the page's example)
                i += 1
            else:
                field.append('"')
        elif char == delimiter:
            fields.append("".join(field))
            field, started = [], False
        else:                            # a line break (any other character went with its run)
            break
    if fields or field or started:
        fields.append("".join(field))
    return fields
