"""Reading definitions: JSON or YAML text with source positions, and the state machines of
SAM / CloudFormation templates.

Public names::

    parse_text(text, filename=None, format=None) -> Document   JSON or YAML, as str or bytes
    read_file(path) -> Document                                 the same, from a file
    parse_json(text, filename=None) -> value                    JSON data (not a definition), strictly
    read_json(path, what="file") -> value                       the same, from a file
    load_any(source, select=None) -> Document                   one definition from anything
    is_template(data) -> bool                                   a SAM/CloudFormation template?
    state_machines(doc, select=None) -> list[TemplateMachine]   the machines a template declares
    parse_bare_placeholders(text, filename, values) -> Document JSON with bare ${Name} values
    Document, TemplateMachine, SourceError

`SourceError.code`::

    INVALID_JSON_DESCRIPTION  text that does not parse (also: invalid UTF-8, NaN, too deep)
    MISSING_DESCRIPTION       empty text, or None
    FILE_NOT_FOUND            no such file (also a SAM DefinitionUri naming a missing file)
    FILE_UNREADABLE           the path exists but cannot be read (a directory, no permission)
    TEMPLATE_ERROR            a template whose state machine cannot be taken locally
    INVALID_JSON              JSON data (`parse_json`, `read_json`) that is not JSON text

Positions. A `Document` answers `locate("/States/Foo/Retry/0")` with the 1-based (line, column)
of that node in the text: a member's name, or the value itself for array items and the root
("/"). Pointers are written as AWS writes diagnostic locations: raw names joined with "/",
no "~" escaping, so a name may itself contain "/"; `locate` finds it by trying the real keys.
JSON positions are computed lazily, by an iterative scanner, the first time they are asked
for; parsing stays as fast as `json.loads`. YAML positions come from the parser's marks.
Columns count characters (code points), not bytes.

JSON is read as AWS reads it (AWS parses definitions with Jackson): NaN/Infinity are refused,
duplicate member names are kept last-wins but recorded in `Document.duplicate_keys` (AWS
rejects a definition whose "States" repeats a name; awslabs/statelint issue 39), and error
messages are Jackson's (`asl.jackson`; AWS recorded "Unrecognized token 'not': was expecting
(JSON String, Number, Array, Object or token 'null', 'true' or 'false')"), except that text
after the first value is refused where Jackson would ignore it. Text holding only whitespace
reads as `data=None` rather than failing: AWS answers " " with "Definition must be a valid JSON object" (a schema error, not a JSON
one; localstack test_sfn_api_validation.snapshot.json), so that check belongs to the validator.

YAML is read like `yaml.safe_load`, with these differences, all so that a definition holds
JSON values only and its names stay names:

- untagged plain scalars resolve by YAML 1.2's core schema, as the Serverless Framework
  (js-yaml) and AWS (Jackson) read them, not by YAML 1.1's: only `true`/`false` (`True`,
  `TRUE`...) are booleans, so `Next: Yes`, `On`, `No`, `Off`, `Y`, `N` stay the strings
  they are; `0755` is 755 (`0o755` is octal), `1:30` and `1_000` are strings, `1e3` is 1000.0;
- timestamps (`2024-01-01`), binary, `.nan`/`.inf` and unknown tags keep their text as a string;
- mapping keys are always the key's text (`Yes:` is the name "Yes", not True);
- CloudFormation short tags become their long forms: `!Ref X` -> {"Ref": "X"},
  `!GetAtt A.B` -> {"Fn::GetAtt": ["A", "B"]}, `!Condition C` -> {"Condition": "C"}, and any
  other `!Name v` -> {"Fn::Name": v} (`!Sub`, `!Join`, `!If`, `!Select`, ...), as SAM does;
- aliases are copied (so nothing is shared), with a budget against "billion laughs";
- nesting deeper than 1000 levels is refused (libyaml would crash on very deep input).

Templates. `state_machines` reads AWS::StepFunctions::StateMachine (Definition,
DefinitionString, DefinitionS3Location) and AWS::Serverless::StateMachine (Definition,
DefinitionUri), then applies DefinitionSubstitutions the way CloudFormation's resource
handler does (aws-cloudformation-resource-providers-stepfunctions, DefinitionProcessor.java):
`${Name}` is replaced in the definition text, repeatedly, by the value's string form (strings,
integers and booleans only). For DefinitionString and DefinitionUri files that is done on the
text before parsing (so `"Seconds": ${Wait}` works); for an inline Definition it is done on
every string (names and values), which is the same thing except that AWS would break on a
value holding a quote. Intrinsic functions are resolved locally where the template says
enough (parameter defaults, Fn::Sub/Join/Select/Split/If/FindInMap...); what only a deployed
stack knows (a resource's ARN, an export) gets a recognisable stand-in in the local account
123456789012, region us-east-1, e.g. `!GetAtt MyFn.Arn` ->
"arn:aws:lambda:us-east-1:123456789012:function:MyFn" (a Lambda version's or alias's Ref: that
ARN qualified, ":1" or ":<alias Name>"); a value nothing local can tell (a
parameter without Default, an import) gets a Lambda-ARN-shaped stand-in named after it,
since such values mostly end up in "Resource" or "FunctionName". Each stand-in is listed in
`TemplateMachine.placeholders`. In Fn::Sub, a ${Name} the template does not declare is left
as written; under SAM's transform, the resources SAM generates and a template may name
(ServerlessRestApi, ServerlessHttpApi, <Function>Role) count as declared. A lone {"Condition": ...} inside a definition is not an intrinsic (it may be a
JSONata Choice rule).
"""
from __future__ import annotations

import base64
import bisect
import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

from . import jackson
from .errors import ASLError
from .jackson import char_desc

__all__ = [
    "SourceError", "Document", "TemplateMachine",
    "parse_text", "read_file", "load_any", "is_template", "state_machines", "parse_bare_placeholders",
]

# The values a stand-in is built from (see the module docstring).
LOCAL_PARTITION = "aws"
LOCAL_REGION = "us-east-1"
LOCAL_ACCOUNT = "123456789012"

_MAX_YAML_DEPTH = 1000        # deeper YAML is refused (libyaml's composer recurses in C)
_YAML_ALIAS_BUDGET = 500_000  # values copied for aliases, in all, before the document is refused


# =============================================================================================
# Errors
# =============================================================================================

class SourceError(ASLError):
    """Raised by `parse_text`, `read_file`, `load_any` and `state_machines` when a document
    cannot be read.

    `code` says why (see the module docstring). `filename`, `line` and `column` (1-based,
    counted in characters) say where; each is None when unknown. `str()` gives
    ``file:line:column: message``.
    """

    def __init__(self, message: str, code: str = "INVALID_JSON_DESCRIPTION",
                 filename: str | None = None, line: int | None = None,
                 column: int | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.filename = filename
        self.line = line
        self.column = column

    def __reduce__(self):  # keep every field through pickling (multiprocessing, pytest-xdist)
        return (type(self), (self.message, self.code, self.filename, self.line, self.column))

    @property
    def location(self) -> str:
        """``file:line:column`` with the known parts, or "" when nothing is known."""
        if self.line is None:
            return self.filename or ""
        return f"{self.filename or '<text>'}:{self.line}:{self.column or 1}"

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class _Failure(Exception):
    """Internal: a problem at `offset` (0-based, in the text being read, or None); the public
    functions turn it into a SourceError with a line and column in the right file."""

    def __init__(self, message: str, offset: int | None = None,
                 code: str = "INVALID_JSON_DESCRIPTION", format: str = "json"):
        super().__init__(message)
        self.message, self.offset, self.code = message, offset, code
        self.format = format  # the syntax whose line breaks count (YAML has more of them)


# =============================================================================================
# Positions
# =============================================================================================

class _Node:
    """Where one value sits in the source text, as 0-based character offsets.

    key: the offset of its member name (None for array items, the root, or when unknown);
    value: the offset of the value's first character; end: just past a YAML string scalar
    (used to map text embedded in a template), else None; children: name -> _Node for an
    object, a list of _Node for an array, None for a scalar.
    """
    __slots__ = ("key", "value", "end", "children")

    def __init__(self, key: int | None, value: int | None, end: int | None = None,
                 children: dict | list | None = None):
        self.key, self.value, self.end, self.children = key, value, end, children


_JSON_BREAK = re.compile(r"\r\n?|\n")
# YAML also breaks lines at NEL and the Unicode separators; so do PyYAML's marks.
_YAML_BREAK = re.compile(r"\r\n?|[\n\x85\u2028\u2029]")


class _Lines:
    """Turns an offset into a 1-based (line, column), for one text."""

    def __init__(self, text: str, yaml_breaks: bool):
        pattern = _YAML_BREAK if yaml_breaks else _JSON_BREAK
        self._starts = [0] + [m.end() for m in pattern.finditer(text)]

    def position(self, offset: int) -> tuple[int, int]:
        i = bisect.bisect_right(self._starts, offset) - 1
        return i + 1, offset - self._starts[i] + 1


class _MappedText:
    """A string plus, for each of its characters, the offset it came from in a source text.

    Built from runs ``(start, source, linear)``: from `start` up to the next run, character
    i comes from ``source + (i - start)`` when linear, from `source` itself otherwise (one
    escape sequence, or a value put in place of a placeholder). `source` None = unknown.
    This is how a definition inside a template (a YAML block, a JSON string with escapes,
    Fn::Sub, Fn::Join, DefinitionSubstitutions) still reports lines of the template file.
    """
    __slots__ = ("text", "_starts", "_runs")

    def __init__(self, text: str, runs: list[tuple[int, int | None, bool]]):
        self.text, self._runs = text, runs
        self._starts = [r[0] for r in runs]

    @classmethod
    def linear(cls, text: str, source: int | None) -> _MappedText:
        return cls(text, [(0, source, True)] if text else [])

    @classmethod
    def point(cls, text: str, source: int | None) -> _MappedText:
        return cls(text, [(0, source, False)] if text else [])

    def source_offset(self, i: int) -> int | None:
        if not self._runs:
            return None
        k = max(bisect.bisect_right(self._starts, i) - 1, 0)
        start, source, linear = self._runs[k]
        if source is None:
            return None
        return source + (i - start) if linear else source

    def slice(self, a: int, b: int) -> _MappedText:
        runs = []
        for k, (start, source, linear) in enumerate(self._runs):
            end = self._runs[k + 1][0] if k + 1 < len(self._runs) else len(self.text)
            lo, hi = max(start, a), min(end, b)
            if lo >= hi:
                continue
            shifted = source + (lo - start) if (linear and source is not None) else source
            runs.append((lo - a, shifted, linear))
        return _MappedText(self.text[a:b], runs)

    @staticmethod
    def concat(parts: Iterable[_MappedText]) -> _MappedText:
        texts, runs, length = [], [], 0
        for part in parts:
            texts.append(part.text)
            runs.extend((start + length, source, linear) for start, source, linear in part._runs)
            length += len(part.text)
        return _MappedText("".join(texts), runs)


class _TextBuilder:
    """Collects (piece, source, linear) into a _MappedText."""

    def __init__(self):
        self._pieces: list[str] = []
        self._runs: list[tuple[int, int | None, bool]] = []
        self._length = 0

    def add(self, piece: str, source: int | None, linear: bool) -> None:
        if piece:
            self._pieces.append(piece)
            self._runs.append((self._length, source, linear))
            self._length += len(piece)

    def build(self) -> _MappedText:
        return _MappedText("".join(self._pieces), self._runs)


def _pointer(path: Sequence[str | int]) -> str:
    """A path as AWS writes a location: "/" for the root, raw names joined with "/"."""
    return "/" + "/".join(str(p) for p in path)


def _path_of(link) -> tuple:
    """The path of a linked list of (parent_link, key) pairs, root first."""
    keys = []
    while link is not None:
        link, key = link
        keys.append(key)
    return tuple(reversed(keys))


# =============================================================================================
# Document
# =============================================================================================

class Document:
    """A parsed definition (or template) and the way back to its source text.

    data         the parsed JSON value: dict, list, str, int, float, bool or None
    text         the text that was parsed (after decoding; for a definition taken from a
                 template: the definition's own text, or None for an inline Definition)
    filename     the file that `locate` positions refer to, or None
    format       "json", "yaml", or "python" (built from data, no text)
    source_text  the text that `locate` positions refer to (the template for a definition
                 taken from one; else the same as `text`)
    """

    def __init__(self, data: Any, text: str | None = None, filename: str | None = None,
                 format: str = "python", *, source_text: str | None = None,
                 index: Callable[[], tuple[_Node | None, list]] | None = None,
                 root: _Node | None = None, duplicates: list | None = None,
                 offset_map: Callable[[int], int | None] | None = None,
                 source_format: str | None = None):
        self.data = data
        self.text = text
        self.filename = filename
        self.format = format
        self.source_text = text if source_text is None else source_text
        # Positions: `root` when known, else `index()` computes (root, duplicates) on demand.
        if index is None and root is None and text is not None and source_text is None \
                and offset_map is None and format in ("json", "yaml"):
            index = lambda: _index_text(text, format)  # a Document built by hand from its text
        self._index, self._root, self._duplicates = index, root, duplicates
        self._offset_map = offset_map
        self._source_format = source_format or format
        self._lines: _Lines | None = None

    @classmethod
    def from_data(cls, data: Any, filename: str | None = None) -> Document:
        """A Document for a value built in Python: no text, so `locate` answers None."""
        return cls(data, None, filename, "python", duplicates=[])

    def __repr__(self) -> str:
        return f"<Document {self.format} {self.filename or '<text>'}>"

    # -- positions ------------------------------------------------------------------------

    def _ensure_index(self) -> None:
        if self._index is not None:
            root, duplicates = self._index()
            self._index = None
            self._root = root
            if self._duplicates is None:
                self._duplicates = duplicates

    def _root_node(self) -> _Node | None:
        self._ensure_index()
        return self._root

    def _duplicate_list(self) -> list[tuple[tuple, int | None]]:
        if self._duplicates is None:
            self._ensure_index()
        return self._duplicates or []

    def _linecol(self, offset: int | None) -> tuple[int, int] | None:
        """The (line, column) of an offset into the parsed text, in `filename`."""
        if offset is None:
            return None
        if self._offset_map is not None:
            offset = self._offset_map(offset)
            if offset is None:
                return None
        if self.source_text is None:
            return None
        if self._lines is None:
            self._lines = _Lines(self.source_text, self._source_format == "yaml")
        return self._lines.position(offset)

    def _node_at(self, path: Sequence[str | int]) -> _Node | None:
        node = self._root_node()
        for key in path:
            if node is None:
                return None
            children = node.children
            if isinstance(children, dict) and isinstance(key, str):
                node = children.get(key)
            elif isinstance(children, list) and isinstance(key, int) and 0 <= key < len(children):
                node = children[key]
            else:
                return None
        return node

    def locate_path(self, path: Sequence[str | int]) -> tuple[int, int] | None:
        """Like `locate`, for a path given as its keys and indices (no "/" ambiguity)."""
        node = self._node_at(path)
        if node is None:
            return None
        via_key = bool(path) and isinstance(path[-1], str)
        return self._linecol(node.key if via_key and node.key is not None else node.value)

    def locate(self, pointer: str) -> tuple[int, int] | None:
        """The 1-based (line, column) of the node at `pointer` ("/States/Foo/Next"): its
        member name, or the value itself for array items and the root ("/" or "").
        None when the pointer names nothing or the position is unknown."""
        if not isinstance(pointer, str):
            return None
        root = self._root_node()
        if root is None:
            return None
        if pointer in ("", "/"):
            return self._linecol(root.value)
        segments = (pointer[1:] if pointer.startswith("/") else pointer).split("/")
        found = _find(root, segments)
        if found is None:
            return None
        node, via_key = found
        return self._linecol(node.key if via_key and node.key is not None else node.value)

    @property
    def duplicate_keys(self) -> list[tuple[str, int | None, int | None]]:
        """Each repeated member name: (pointer, line, column) of the later occurrence(s).
        The data keeps the last value, as Python and Jackson do."""
        out = []
        for path, offset in self._duplicate_list():
            line, column = self._linecol(offset) or (None, None)
            out.append((_pointer(path), line, column))
        return out


def _index_text(text: str, format: str) -> tuple[_Node | None, list]:
    """Positions for a Document built by hand from text (its data is taken as given)."""
    try:
        if format == "json":
            json.loads(text)  # the scanner expects valid JSON
            return _scan_json(text)
        _, root, duplicates = _parse_yaml(text)
        return root, duplicates
    except (ValueError, RecursionError, _Failure):
        return None, []


_INDEX = re.compile(r"(?:0|[1-9][0-9]*)\Z")


def _find(root: _Node, segments: list[str]) -> tuple[_Node, bool] | None:
    """Resolve pointer segments against the position tree, iteratively. A member name may
    contain "/", so at each object every join of the next segments that is a real key is a
    candidate (single segments first); "~1"/"~0" escapes are tried last."""
    stack: list[tuple[_Node, int, bool]] = [(root, 0, False)]
    n = len(segments)
    while stack:
        node, i, via_key = stack.pop()
        if i == n:
            return node, via_key
        children = node.children
        if isinstance(children, dict):
            candidates = []
            segment = segments[i]
            if "~" in segment:
                unescaped = segment.replace("~1", "/").replace("~0", "~")
                if unescaped != segment and unescaped in children:
                    candidates.append((children[unescaped], i + 1, True))
            if any("/" in k for k in children):
                for j in range(n, i + 1, -1):
                    key = "/".join(segments[i:j])
                    if key in children:
                        candidates.append((children[key], j, True))
            if segment in children:
                candidates.append((children[segment], i + 1, True))
            stack.extend(candidates)  # the last pushed (the single segment) is tried first
        elif isinstance(children, list):
            segment = segments[i]
            if _INDEX.match(segment) and int(segment) < len(children):
                stack.append((children[int(segment)], i + 1, False))
    return None


# =============================================================================================
# JSON
# =============================================================================================

# One JSON token: a string, a punctuation mark, or a bare literal / number. The scanner runs
# over text that json.loads accepted, or over the part before an error. (An unterminated
# string runs to the end of the text, so that broken text is still scanned in linear time.)
_JSON_TOKEN = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*(?:"|\Z)|[{}\[\]:,]|[^\s{}\[\]:,"]+', re.S)


class _NonStandardNumber(Exception):
    pass


def _refuse_constant(name: str):
    # json.loads calls this for NaN, Infinity and -Infinity, which Jackson refuses by default.
    raise _NonStandardNumber(name)


def _finite_float(token: str) -> float:
    # JSON data only: a number beyond a double's range (1e400) would read as Infinity.
    number = float(token)
    if number in (_INFINITY, -_INFINITY):
        raise _NonStandardNumber(token)
    return number


_INFINITY = float("inf")


def _parse_json(text: str, data: bool = False) -> tuple[Any, bool]:
    """Parse with the json module; returns (data, has_duplicate_names).

    For a definition (the default) the messages are Jackson's, duplicate names are noted and
    1e400 reads as Infinity (as Jackson reads it; the validator warns). For JSON data
    (`data=True`) the messages are plain, duplicates are not looked for and 1e400 is refused.
    """
    duplicated = []

    def pairs_hook(pairs):
        obj = dict(pairs)
        if len(obj) != len(pairs):
            duplicated.append(True)
        return obj

    try:
        if data:
            value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
        else:
            value = json.loads(text, object_pairs_hook=pairs_hook, parse_constant=_refuse_constant)
    except json.JSONDecodeError as err:
        raise _json_failure(text, err) from None
    except (_NonStandardNumber, RecursionError, ValueError) as err:
        if not data:  # Jackson's words: NaN, a number over 1000 digits, nesting over 1000 levels
            found = jackson.describe(text)
            if found is not None:
                raise _Failure(found.message, found.offset) from None
        raise _data_failure(text, err) from None
    return value, bool(duplicated)


def _data_failure(text: str, err: Exception) -> _Failure:
    """JSON data (`data=True`) that json.loads refused other than for its syntax, in plain words."""
    if isinstance(err, _NonStandardNumber):
        token = str(err)
        offset = next((m.start() for m in _JSON_TOKEN.finditer(text) if m.group() == token), None)
        if token in ("NaN", "Infinity", "-Infinity"):
            return _Failure(f"{token} is not a JSON number", offset)
        return _Failure(f"the number {token} is out of range (beyond a 64-bit double)", offset)
    if isinstance(err, RecursionError):
        depth, offset = _json_max_depth(text)
        return _Failure(f"nested too deeply ({depth:,} levels)", offset)
    # Python's 4300-digit limit on int(); no position from json
    offset = next((m.start() for m in _JSON_TOKEN.finditer(text)
                   if len(m.group()) > 4300 and m.group()[0] in "-0123456789"), None)
    return _Failure("the number is too long (more than 4,300 digits)", offset)


def _json_max_depth(text: str) -> tuple[int, int | None]:
    """The deepest nesting in the text and where it is first reached."""
    depth = best = 0
    where = None
    for m in _JSON_TOKEN.finditer(text):
        c = m.group()[0]
        if c in "[{":
            depth += 1
            if depth > best:
                best, where = depth, m.start()
        elif c in "]}":
            depth -= 1
    return best, where


def _json_failure(text: str, err: json.JSONDecodeError) -> _Failure:
    """Describe a json error the way Jackson (and so AWS) words it (`asl.jackson`), at the
    offending character (Jackson itself reports the column just after it)."""
    found = jackson.describe(text)
    if found is not None:
        return _Failure(found.message, found.offset)
    if err.msg.startswith("Extra data"):
        # Jackson would stop after the first value; we refuse what follows rather than ignore it.
        return _Failure(f"Unexpected content after the end of the JSON value: {char_desc(text[err.pos])}",
                        err.pos)
    return _Failure(err.msg, err.pos)


class _Frame:
    __slots__ = ("node", "is_object", "expect_key", "key", "key_offset")

    def __init__(self, node: _Node, is_object: bool):
        self.node, self.is_object = node, is_object
        self.expect_key, self.key, self.key_offset = is_object, None, None


def _scan_json(text: str) -> tuple[_Node | None, list]:
    """Positions of every value in text that json.loads accepted, without recursion, plus the
    repeated member names as [(path, offset of the later name)]."""
    root = None
    frames: list[_Frame] = []
    path: list[str | int] = []   # the keys/indices leading to the innermost open container
    duplicates = []
    for m in _JSON_TOKEN.finditer(text):
        token = m.group()
        c = token[0]
        if c == ":":
            frames[-1].expect_key = False
            continue
        if c == ",":
            frames[-1].expect_key = frames[-1].is_object
            continue
        if c in "}]":
            frames.pop()
            if frames:
                path.pop()
            continue
        offset = m.start()
        if frames:
            frame = frames[-1]
            if frame.is_object:
                if frame.expect_key:
                    frame.key = token[1:-1] if "\\" not in token else json.loads(token)
                    frame.key_offset = offset
                    continue
                node = _Node(frame.key_offset, offset)
                if frame.key in frame.node.children:
                    duplicates.append((tuple(path) + (frame.key,), frame.key_offset))
                frame.node.children[frame.key] = node
                name = frame.key
            else:
                node = _Node(None, offset)
                name = len(frame.node.children)
                frame.node.children.append(node)
        else:
            node = root = _Node(None, offset)
            name = None
        if c == "{" or c == "[":
            node.children = {} if c == "{" else []
            if frames:
                path.append(name)
            frames.append(_Frame(node, c == "{"))
    return root, duplicates


# =============================================================================================
# YAML
# =============================================================================================

_TAG = "tag:yaml.org,2002:"
_SHORT_TAGS = {"Ref": "Ref", "Condition": "Condition", "GetAtt": "Fn::GetAtt"}


def _long_form(tag: str) -> str:
    """The intrinsic a CloudFormation short tag stands for: !Ref -> Ref, !Sub -> Fn::Sub."""
    name = tag[1:]
    return _SHORT_TAGS.get(name, "Fn::" + name)


def _short_tag_value(name: str, value: Any) -> Any:
    # `!GetAtt A.B.C` is the short form of ["A", "B.C"] (the attribute may itself hold dots).
    if name == "Fn::GetAtt" and isinstance(value, str):
        return value.split(".", 1)
    return value


# YAML 1.2's core schema, for plain scalars without a tag (what js-yaml, the Serverless
# Framework's reader, and Jackson, AWS's, resolve): only true/false are booleans.
_CORE_TAGS = [
    ("bool", re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z")),
    ("int", re.compile(r"(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)\Z")),
    ("float", re.compile(r"(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                         r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z")),
    ("null", re.compile(r"(?:~|null|Null|NULL|)\Z")),
    ("merge", re.compile(r"<<\Z")),
]


def _core_tag(text: str) -> str:
    for kind, pattern in _CORE_TAGS:
        if pattern.match(text):
            return _TAG + kind
    return _TAG + "str"


def _core_value(tag: str, text: str) -> Any:
    """The JSON value of a plain scalar resolved by `_core_tag`."""
    kind = tag[len(_TAG):]
    if kind == "bool":
        return text.lower() == "true"
    if kind == "null":
        return None
    if kind == "int":  # ValueError: more digits than Python converts
        if text[:2] in ("0o", "0x"):
            return int(text[2:], 8 if text[1] == "o" else 16)
        return int(text)
    if kind == "float" and "inf" not in text.lower() and "nan" not in text.lower():
        return float(text)
    return text  # .inf / .nan have no JSON form; "<<" as a value


class _Open:
    """A YAML collection being built: a sequence (`pairs` None) or a mapping."""
    __slots__ = ("items", "positions", "pairs", "start", "anchor", "wrap", "key", "key_offset",
                 "key_merges")

    def __init__(self, is_mapping: bool, start: int, anchor: str | None, wrap: str | None):
        self.items: list = []
        self.positions: list = []
        self.pairs: list | None = [] if is_mapping else None
        self.start, self.anchor, self.wrap = start, anchor, wrap
        self.key = _NO_KEY
        self.key_offset: int | None = None
        self.key_merges = False


_NO_KEY = object()


class _YamlBuilder:
    """Builds JSON values and their positions from PyYAML parser events, iteratively.

    Working from events rather than `yaml.compose` keeps deep input away from the composer's
    recursion (libyaml's crashes the process; a 100000-deep "[[[[" takes libyaml's parser
    seconds, so the depth check also stops it early), and lets short tags, keys, timestamps
    and aliases be read as the module docstring says, with no Python objects constructed.
    """

    def __init__(self, yaml):
        self._yaml = yaml
        self._constructor = yaml.constructor.SafeConstructor()
        self._stack: list[_Open] = []
        self._anchors: dict[str, tuple[Any, _Node]] = {}
        self._budget = _YAML_ALIAS_BUDGET
        self._documents = 0
        self.data: Any = None
        self.root: _Node | None = None
        self.duplicates: list = []
        self._handlers = {
            yaml.ScalarEvent: self._scalar,
            yaml.AliasEvent: self._alias,
            yaml.SequenceStartEvent: self._start,
            yaml.MappingStartEvent: self._start,
            yaml.SequenceEndEvent: self._end,
            yaml.MappingEndEvent: self._end,
            yaml.DocumentStartEvent: self._document,
        }

    def feed(self, event) -> None:
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    # -- events ---------------------------------------------------------------------------

    def _document(self, event) -> None:
        self._documents += 1
        if self._documents > 1:
            raise _Failure("expected a single document in the stream, but found another document",
                           event.start_mark.index)

    def _expecting_key(self) -> bool:
        return bool(self._stack) and self._stack[-1].pairs is not None and self._stack[-1].key is _NO_KEY

    def _scalar(self, event) -> None:
        start = event.start_mark.index
        tag = event.tag
        core = tag is None or tag == "!"
        if core:
            tag = _core_tag(event.value) if event.implicit[0] else _TAG + "str"
        if self._expecting_key():
            top = self._stack[-1]
            # A key is its text whatever it resolves to: `Yes:` names "Yes" (JSON names are strings).
            top.key, top.key_offset = event.value, start
            top.key_merges = tag == _TAG + "merge"
            if event.anchor is not None:
                self._anchors[event.anchor] = (event.value, _Node(None, start))
            return
        if tag.startswith("!"):
            name = _long_form(tag)
            inner = _Node(start, start, event.end_mark.index)
            value = {name: _short_tag_value(name, event.value)}
            self._add(value, _Node(None, start, children={name: inner}), event.anchor)
            return
        if core:
            try:
                value = _core_value(tag, event.value)
            except ValueError:
                raise _Failure(f"cannot read {event.value!r} as an int", start) from None  # too many digits
        else:
            value = self._scalar_value(tag, event.value, start)
        node = _Node(None, start, event.end_mark.index if isinstance(value, str) else None)
        self._add(value, node, event.anchor)

    def _scalar_value(self, tag: str, text: str, start: int) -> Any:
        if tag == _TAG + "str":
            return text
        if tag == _TAG + "null":
            return None
        kind = tag[len(_TAG):] if tag.startswith(_TAG) else None
        if kind in ("bool", "int", "float"):
            node = self._yaml.ScalarNode(tag, text)
            try:
                value = getattr(self._constructor, "construct_yaml_" + kind)(node)
            except Exception:  # an explicit !!int on "abc", a 5000-digit number...
                raise _Failure(f"cannot read {text!r} as {'an' if kind == 'int' else 'a'} {kind}",
                               start) from None
            if kind == "float" and (value != value or value in (float("inf"), float("-inf"))):
                return text  # .nan / .inf have no JSON form: keep the text
            return value
        # Timestamps, binary, "=" and "<<" as values, unknown tags: the text itself.
        return text

    def _alias(self, event) -> None:
        start = event.start_mark.index
        if event.anchor not in self._anchors:
            raise _Failure(f"found undefined alias {event.anchor!r} (or an alias inside its own anchor)", start)
        value, node = self._anchors[event.anchor]
        if self._expecting_key():
            if not isinstance(value, str):
                raise _Failure("a mapping key must be a string, not a collection", start)
            top = self._stack[-1]
            top.key, top.key_offset, top.key_merges = value, start, False
            return
        self._add(self._copy(value, start), _Node(None, node.value, node.end, node.children), None)

    def _start(self, event) -> None:
        start = event.start_mark.index
        if self._expecting_key():
            raise _Failure("a mapping key must be a string, not a collection", start)
        if len(self._stack) >= _MAX_YAML_DEPTH:
            raise _Failure(f"Document nesting depth exceeds the maximum allowed ({_MAX_YAML_DEPTH})", start)
        tag = event.tag
        wrap = _long_form(tag) if tag and tag.startswith("!") and tag != "!" else None
        is_mapping = isinstance(event, self._yaml.MappingStartEvent)
        self._stack.append(_Open(is_mapping, start, event.anchor, wrap))

    def _end(self, event) -> None:
        top = self._stack.pop()
        if top.pairs is None:
            value, children = top.items, top.positions
        else:
            value, children = self._mapping(top)
        node = _Node(None, top.start, children=children)
        if top.wrap:
            name = top.wrap
            node.key = top.start
            value = {name: _short_tag_value(name, value)}
            node = _Node(None, top.start, children={name: node})
        self._add(value, node, top.anchor)

    # -- building -------------------------------------------------------------------------

    def _add(self, value: Any, node: _Node, anchor: str | None) -> None:
        if anchor is not None:
            self._anchors[anchor] = (value, node)
        if not self._stack:
            self.data, self.root = value, node
            return
        top = self._stack[-1]
        if top.pairs is None:
            top.items.append(value)
            top.positions.append(node)
        else:
            node.key = top.key_offset
            top.pairs.append((top.key, top.key_offset, value, node, top.key_merges))
            top.key = _NO_KEY

    def _mapping(self, top: _Open) -> tuple[dict, dict]:
        """A mapping's dict: "<<" merges first (PyYAML's order: earlier sources win), then the
        explicit keys, later ones winning; a repeated explicit key is recorded."""
        merged, explicit = [], []
        for key, key_offset, value, node, merges in top.pairs:
            if not merges:
                explicit.append((key, key_offset, value, node))
                continue
            sources = value if isinstance(value, list) else [value]
            source_nodes = node.children if isinstance(value, list) else [node]
            if not all(isinstance(s, dict) for s in sources):
                raise _Failure("expected a mapping or a list of mappings for merging", key_offset)
            for source, source_node in reversed(list(zip(sources, source_nodes))):
                for k, v in source.items():
                    child = source_node.children.get(k) if source_node and source_node.children else None
                    merged.append((k, v, child))
        data: dict = {}
        positions: dict = {}
        for key, value, node in merged:
            data[key] = value
            positions[key] = node
        seen = set()
        for key, key_offset, value, node in explicit:
            if key in seen:
                self.duplicates.append((self._path() + (key,), key_offset))
            seen.add(key)
            data[key] = value
            positions[key] = node
        return data, positions

    def _path(self) -> tuple:
        """The path of the mapping just closed: the keys/indices of the collections open around it."""
        path = []
        for frame in self._stack:
            path.append(len(frame.items) if frame.pairs is None else frame.key)
        return tuple(path)

    def _copy(self, value: Any, offset: int) -> Any:
        """A deep copy for an alias, iteratively, charged to the alias budget."""
        holder = [None]
        work = [(value, holder, 0)]
        while work:
            item, box, slot = work.pop()
            self._budget -= 1
            if self._budget < 0:
                raise _Failure("YAML aliases expand to too many values (more than "
                               f"{_YAML_ALIAS_BUDGET})", offset)
            if isinstance(item, dict):
                new: Any = dict.fromkeys(item)
                work.extend((v, new, k) for k, v in item.items())
            elif isinstance(item, list):
                new = [None] * len(item)
                work.extend((v, new, i) for i, v in enumerate(item))
            else:
                new = item
            box[slot] = new
        return holder[0]


def _parse_yaml(text: str) -> tuple[Any, _Node | None, list]:
    """Parse YAML text; returns (data, positions, duplicates)."""
    import yaml  # lazily: most definitions are JSON, and PyYAML takes a while to import

    loader = getattr(yaml, "CSafeLoader", None) or yaml.SafeLoader
    builder = _YamlBuilder(yaml)
    try:
        for event in yaml.parse(text, Loader=loader):
            builder.feed(event)
    except _Failure as failure:
        failure.format = "yaml"
        raise
    except yaml.MarkedYAMLError as err:
        message = err.problem or "invalid YAML"
        if err.context:
            message += f" ({err.context})"
        mark = err.problem_mark or err.context_mark
        raise _Failure(message, mark.index if mark is not None else None, format="yaml") from None
    except yaml.reader.ReaderError:
        # libyaml reports a byte offset here; find the character ourselves.
        bad = yaml.reader.Reader.NON_PRINTABLE.search(text)
        char = f" {char_desc(bad.group())}" if bad else ""
        raise _Failure(f"unacceptable character{char}: special characters are not allowed in YAML",
                       bad.start() if bad else None, format="yaml") from None
    except UnicodeError as err:  # libyaml encodes to UTF-8: a lone surrogate cannot be
        raise _Failure("unacceptable character: a lone surrogate is not allowed in YAML",
                       getattr(err, "start", None), format="yaml") from None
    except RecursionError:  # PyYAML's pure-Python parser, on pathological input
        raise _Failure("Document nesting too deep", None, format="yaml") from None
    except yaml.YAMLError as err:
        raise _Failure(f"invalid YAML: {err}", None, format="yaml") from None
    return builder.data, builder.root, builder.duplicates


# =============================================================================================
# Reading text and files
# =============================================================================================

_JSON_SUFFIXES = (".json",)
_YAML_SUFFIXES = (".yaml", ".yml", ".template")


def _kind_from_name(filename: str | None) -> str | None:
    name = (filename or "").lower()
    if name.endswith(_JSON_SUFFIXES):
        return "json"
    if name.endswith(_YAML_SUFFIXES):
        return "yaml"
    return None


def _decode(raw: bytes, filename: str | None) -> str:
    """Bytes to text: a BOM or the RFC 4627 zero-byte pattern picks UTF-16/32, else UTF-8,
    strictly (as Jackson detects it)."""
    encoding = json.detect_encoding(raw)
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as err:
        line = column = None
        if encoding.startswith("utf-8"):
            before = raw[:err.start]
            line = before.count(b"\n") + 1
            column = len(before[before.rfind(b"\n") + 1:].decode("utf-8", "replace")) + 1
        byte = raw[err.start] if err.start < len(raw) else 0
        if "start byte" in err.reason:
            message = f"Invalid UTF-8 start byte 0x{byte:02x}"
        elif "continuation" in err.reason:
            message = f"Invalid UTF-8 middle byte 0x{byte:02x}"
        else:
            message = f"Invalid {encoding.upper()} text: {err.reason}"
        raise SourceError(message, "INVALID_JSON_DESCRIPTION", filename, line, column) from None
    return text[1:] if text.startswith("\ufeff") else text


def _parse(text: str, format: str | None, filename: str | None) -> Document:
    """Parse text (already decoded, BOM removed, not empty); may raise _Failure."""
    kind = format or _kind_from_name(filename)
    if not text.strip(" \t\r\n"):
        # Jackson reads blank text as "no value"; AWS then reports that the definition is not
        # an object (a schema error), so this is a value, not a parse failure.
        return Document(None, text, filename, kind or "json", duplicates=[])
    json_failure = None
    if format != "yaml":
        try:
            data, duplicated = _parse_json(text)
        except _Failure as failure:
            json_failure = failure
            # Broken JSON is far likelier than flow-style YAML: say what is wrong with the JSON.
            if kind == "json" or (kind is None and text.lstrip()[:1] in ("{", "[")):
                raise
        else:
            return Document(data, text, filename, "json", index=lambda: _scan_json(text),
                            duplicates=None if duplicated else [])
    guessing = json_failure is not None and kind is None
    try:
        data, root, duplicates = _parse_yaml(text)
    except _Failure:
        if guessing and text.lstrip()[:1] == '"':
            raise json_failure from None
        raise
    if guessing and not isinstance(data, (dict, list)):
        # Unnamed text that is neither JSON nor a YAML collection ("not a definition" is a
        # YAML string): the JSON error is the useful answer, and the one AWS would give.
        raise json_failure
    return Document(data, text, filename, "yaml", root=root, duplicates=duplicates)


def _source_error(failure: _Failure, filename: str | None, where: Document) -> SourceError:
    """A _Failure at an offset in the text behind `where`, as a SourceError in its file."""
    line, column = where._linecol(failure.offset) or (None, None)
    return SourceError(failure.message, failure.code, filename, line, column)


def parse_text(text: str | bytes | None, filename: str | None = None,
               format: str | None = None) -> Document:
    """Parse definition (or template) text, JSON or YAML.

    `text` may be str or bytes (decoded as JSON text is: BOM or UTF-8). `format` is "json",
    "yaml" or None to guess: a ".json" name means JSON; otherwise JSON is tried first (JSON
    is also YAML, and the json module is faster and exact), then YAML. Without a YAML file
    name (.yaml, .yml, .template), text that starts like JSON or is no YAML collection
    reports its JSON error. Pass format="json" to read text strictly as AWS does.
    Raises SourceError (MISSING_DESCRIPTION for empty text or None, else
    INVALID_JSON_DESCRIPTION with a line and column).
    """
    if format not in (None, "json", "yaml"):
        raise ValueError(f"format must be 'json', 'yaml' or None, not {format!r}")
    if text is None:
        raise SourceError("Received a null or empty workflow input.", "MISSING_DESCRIPTION", filename)
    if isinstance(text, (bytes, bytearray, memoryview)):
        text = _decode(bytes(text), filename)
    elif not isinstance(text, str):
        raise TypeError(f"parse_text() takes str or bytes, not {type(text).__name__}")
    elif text.startswith("\ufeff"):
        text = text[1:]
    if text == "":
        raise SourceError("Received a null or empty workflow input.", "MISSING_DESCRIPTION", filename)
    try:
        return _parse(text, format, filename)
    except _Failure as failure:
        raise _source_error(failure, filename, Document(None, text, filename, failure.format)) from None


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise SourceError(f"File not found: {path}", "FILE_NOT_FOUND", path) from None
    except IsADirectoryError:
        raise SourceError(f"Is a directory, not a file: {path}", "FILE_UNREADABLE", path) from None
    except (OSError, ValueError) as err:  # ValueError: a NUL character in the path
        code = "FILE_NOT_FOUND" if isinstance(err, ValueError) else "FILE_UNREADABLE"
        raise SourceError(f"Cannot read {path}: {err}", code, path) from None


def read_file(path: str | os.PathLike) -> Document:
    """Read and parse a definition or template file (see `parse_text`).

    Raises SourceError: FILE_NOT_FOUND, FILE_UNREADABLE, or what `parse_text` raises.
    """
    path = os.fspath(path)
    return parse_text(_read_bytes(path), filename=path)


# =============================================================================================
# JSON data: inputs, MockConfigFiles, histories, cases files
# =============================================================================================

def parse_json(text: str | bytes, filename: str | None = None) -> Any:
    """The JSON value of `text`, read strictly: the one reader of JSON data (an execution
    input, a MockConfigFile, an execution history, a cases file) for the library and the CLI.

    `text` may be str or bytes (UTF-8, or UTF-16/32 with a BOM, as `parse_text` decodes).
    NaN, Infinity and numbers beyond a double (1e400) are refused; duplicate names keep the
    last value. Raises SourceError (code INVALID_JSON) whose `str()` is one line naming
    `filename` and, for a syntax error, the line and column: ``in.json:3:7: invalid JSON: ...``,
    ``in.json:1:2: not UTF-8 text: ...``, ``in.json:1:1: invalid JSON: nested too deeply ...``.
    """
    text = json_text(text, filename)
    if not text.strip(" \t\r\n"):
        raise SourceError("invalid JSON: no value (the text is empty)", "INVALID_JSON", filename)
    try:
        return _parse_json(text, data=True)[0]
    except _Failure as failure:
        where = Document(None, text, filename, "json")
        line, column = where._linecol(failure.offset) or (None, None)
        raise SourceError(f"invalid JSON: {failure.message}", "INVALID_JSON", filename, line, column) from None


def json_text(text: str | bytes, filename: str | None = None) -> str:
    """JSON text as `parse_json` reads it: bytes decoded (UTF-8, or UTF-16/32 with a BOM;
    SourceError INVALID_JSON when they are not text), a leading BOM dropped."""
    if isinstance(text, (bytes, bytearray, memoryview)):
        try:
            return _decode(bytes(text), filename)
        except SourceError as err:
            message = err.message
            message = f"not UTF-8 text: invalid {message[14:]}" if message.startswith("Invalid UTF-8 ") else \
                f"not text: {message}"
            raise SourceError(message, "INVALID_JSON", filename, err.line, err.column) from None
    if not isinstance(text, str):
        raise TypeError(f"parse_json() takes str or bytes, not {type(text).__name__}")
    return text[1:] if text.startswith("\ufeff") else text


def read_json(path: str | os.PathLike, what: str = "file") -> Any:
    """`parse_json` of a file's bytes. `what` names the file in "no such ..." ("input file",
    "MockConfigFile"). Raises SourceError: ``p.json: no such file``, ``p.json: is a directory``,
    ``p.json: cannot read: Permission denied``, or what `parse_json` raises."""
    return parse_json(read_json_text(path, what), os.fspath(path))


def read_json_text(path: str | os.PathLike, what: str = "file") -> str:
    """A file's JSON text, as `read_json` reads it (`json_text` of its bytes)."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        raise SourceError(f"no such {what}", "FILE_NOT_FOUND", path) from None
    except IsADirectoryError:
        raise SourceError("is a directory", "FILE_UNREADABLE", path) from None
    except (OSError, ValueError) as err:  # ValueError: a NUL character in the path
        reason = getattr(err, "strerror", None) or str(err)
        raise SourceError(f"cannot read: {reason}", "FILE_UNREADABLE", path) from None
    return json_text(raw, path)


# =============================================================================================
# Templates: finding the state machines
# =============================================================================================

_CFN_MACHINE = "AWS::StepFunctions::StateMachine"
_SAM_MACHINE = "AWS::Serverless::StateMachine"
_MACHINE_TYPES = (_CFN_MACHINE, _SAM_MACHINE)


@dataclass
class TemplateMachine:
    """One state machine declared in a template.

    definition     the definition, intrinsics resolved and DefinitionSubstitutions applied
    document       a Document of that definition whose `locate` answers lines and columns of
                   the template (or of the DefinitionUri file)
    substitutions  the DefinitionSubstitutions as applied (name -> text)
    placeholders   each value only a deployed stack knows -> the stand-in used for it
    machine_type   "STANDARD" or "EXPRESS" (StateMachineType / Type; AWS's default STANDARD)
    name           StateMachineName / Name when the template gives one
    not_local      with `keep_going`: why there is no definition (it is in S3); then
                   `definition` is None, `document` the template and `not_local_path`
                   the property's path in it
    failure        with `keep_going`: the SourceError that reading the machine raised
                   (then `definition` is None too)
    """
    logical_id: str
    resource_type: str
    definition: Any
    document: Document
    substitutions: dict[str, str] = field(default_factory=dict)
    placeholders: dict[str, str] = field(default_factory=dict)
    machine_type: str = "STANDARD"
    name: str | None = None
    not_local: str | None = None
    not_local_path: tuple = ()
    failure: SourceError | None = None


def is_template(data: Any) -> bool:
    """True for a SAM/CloudFormation template: a mapping with AWSTemplateFormatVersion or
    Transform, or with Resources declaring a state machine. A definition (StartAt and
    States) never is one."""
    if not isinstance(data, dict) or ("StartAt" in data and "States" in data):
        return False
    if "AWSTemplateFormatVersion" in data or "Transform" in data:
        return True
    resources = data.get("Resources")
    return isinstance(resources, dict) and any(
        isinstance(r, dict) and r.get("Type") in _MACHINE_TYPES for r in resources.values())


def state_machines(doc: Document, select: str | None = None, *,
                   parameters: Mapping[str, Any] | None = None,
                   skip_unusable: bool = False,
                   substitutions: Mapping[str, str] | None = None,
                   keep_going: bool = False) -> list[TemplateMachine]:
    """The state machines of a template, in the template's order.

    `select` picks one by logical id (from "template.yaml#MyMachine"). `parameters` override
    template parameters (like ``sam --parameter-overrides``); otherwise a parameter's Default
    is used. A machine whose definition is not local (DefinitionS3Location, an S3
    DefinitionUri) raises TEMPLATE_ERROR, unless `skip_unusable` leaves it out (then only
    "no usable state machine" raises). Definition text that does not parse raises
    INVALID_JSON_DESCRIPTION at its line in the template. `substitutions` add to (and
    override) each machine's DefinitionSubstitutions. With `keep_going`, a machine whose
    definition is in S3 is listed with `not_local` saying so, and one that cannot be read
    with its `failure`, instead of raising.
    """
    if not isinstance(doc, Document):
        doc = Document.from_data(doc)
    try:
        return _state_machines(doc, select, parameters, skip_unusable, substitutions or {}, keep_going)
    except _Problem as problem:
        line, column = doc.locate_path(problem.path) or (None, None)
        raise SourceError(problem.message, "TEMPLATE_ERROR", doc.filename, line, column) from None
    except RecursionError:
        raise SourceError("the template nests intrinsic functions too deeply", "TEMPLATE_ERROR",
                          doc.filename) from None


class _Problem(Exception):
    """Internal: a TEMPLATE_ERROR at a path of the template."""

    def __init__(self, message: str, path: Sequence[str | int] = ()):
        super().__init__(message)
        self.message, self.path = message, tuple(path)


def _state_machines(doc: Document, select: str | None, parameters, skip_unusable: bool, extra: Mapping[str, str],
                    keep_going: bool = False):
    if not is_template(doc.data):
        raise _Problem("not a SAM/CloudFormation template (no Resources declaring a state machine)")
    resources = doc.data.get("Resources")
    if not isinstance(resources, dict):
        raise _Problem("the template has no Resources section")
    ids = [lid for lid, r in resources.items() if isinstance(r, dict) and r.get("Type") in _MACHINE_TYPES]
    if select is not None:
        if select not in resources:
            found = ", ".join(ids) or "none"
            raise _Problem(f"no resource {select!r} in the template (its state machines: {found})", ("Resources",))
        kind = resources[select].get("Type") if isinstance(resources[select], dict) else None
        if kind not in _MACHINE_TYPES:
            raise _Problem(f"resource {select!r} is {kind or 'not a resource'}, not a state machine",
                           ("Resources", select))
        return [_machine(doc, select, parameters, extra, keep_going)]
    machines = []
    first_problem = None
    for lid in ids:
        try:
            machines.append(_machine(doc, lid, parameters, extra, keep_going))
        except _Problem as problem:
            if not skip_unusable:
                raise
            first_problem = first_problem or problem
    if not machines:
        raise first_problem or _Problem(
            f"the template declares no state machine ({_CFN_MACHINE} or {_SAM_MACHINE})", ("Resources",))
    return machines


class _Remote(_Problem):
    """Internal: the definition is in S3, not in the template or beside it."""


def _machine(doc: Document, lid: str, parameters, extra: Mapping[str, str],
             keep_going: bool = False) -> TemplateMachine:
    rtype = doc.data["Resources"][lid]["Type"]
    try:
        return _read_machine(doc, lid, parameters, extra)
    except _Remote as remote:
        if not keep_going:
            raise
        return TemplateMachine(lid, rtype, None, doc, not_local=remote.message, not_local_path=remote.path)
    except _Problem as problem:
        # Problems found deep in intrinsic functions know neither the resource nor the place.
        if not problem.message.startswith(f"{lid}: "):
            problem.message = f"{lid}: {problem.message}"
        problem.path = problem.path or ("Resources", lid)
        if not keep_going:
            raise
        line, column = doc.locate_path(problem.path) or (None, None)
        return TemplateMachine(lid, rtype, None, doc, failure=SourceError(
            problem.message, "TEMPLATE_ERROR", doc.filename, line, column))
    except SourceError as err:  # its definition text (DefinitionString, a DefinitionUri file)
        if not keep_going:
            raise
        return TemplateMachine(lid, rtype, None, doc, failure=err)


def _read_machine(doc: Document, lid: str, parameters, extra: Mapping[str, str]) -> TemplateMachine:
    resource = doc.data["Resources"][lid]
    rtype = resource["Type"]
    base = ("Resources", lid)
    props = resource.get("Properties")
    if not isinstance(props, dict):
        raise _Problem(f"{lid}: the resource has no Properties", base)
    at = base + ("Properties",)
    resolver = _Resolver(doc.data, parameters)

    def present(name):
        return props.get(name) is not None

    if rtype == _CFN_MACHINE:
        given = [k for k in ("Definition", "DefinitionString", "DefinitionS3Location") if present(k)]
        if not given:
            raise _Problem(f"{lid}: Property validation failed. Required key [DefinitionS3Location], "
                           "[DefinitionString] or [Definition] not found.", at)
        if len(given) > 1:
            raise _Problem(f"{lid}: Property validation failed. Please use one of "
                           "[DefinitionS3Location], [DefinitionString] or [Definition].", at)
        source = given[0]
    else:
        if present("Definition") and present("DefinitionUri"):
            raise _Problem(f"{lid}: Specify either 'Definition' or 'DefinitionUri' property and not both.", at)
        if not (present("Definition") or present("DefinitionUri")):
            raise _Problem(f"{lid}: Either 'Definition' or 'DefinitionUri' property must be specified.", at)
        source = "Definition" if present("Definition") else "DefinitionUri"
    path = at + (source,)
    value = props[source]

    staged = _cdk_asset(doc, value, resolver) if source == "DefinitionS3Location" else None
    if source == "DefinitionS3Location" and staged is None:
        raise _Remote(f"{lid}: DefinitionS3Location is in S3; only a local definition can be read "
                      "(use Definition, DefinitionString, a SAM DefinitionUri naming a local file, "
                      "or a CDK cloud assembly whose asset manifest names the file)", path)
    if source == "DefinitionUri" and not isinstance(value, str):
        raise _Remote(f"{lid}: DefinitionUri is not a file path (an S3 location or an intrinsic "
                      "function); only a local file path can be read", path)
    if source == "DefinitionUri" and re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", value):
        raise _Remote(f"{lid}: DefinitionUri {value!r} is not a local file; only a local file path can be read", path)

    substitutions = _substitutions(props.get("DefinitionSubstitutions"), resolver, lid,
                                   at + ("DefinitionSubstitutions",))
    substitutions.update(extra)
    if source == "Definition":
        definition_doc = _inline_definition(doc, path, value, resolver, substitutions, lid)
    elif source == "DefinitionString":
        definition_doc = _string_definition(doc, path, value, resolver, substitutions)
    elif staged is not None:
        definition_doc = _file_definition(doc, path, staged, "DefinitionS3Location", substitutions)
    else:
        definition_doc = _uri_definition(doc, path, value, substitutions)

    type_key, name_key = ("StateMachineType", "StateMachineName") if rtype == _CFN_MACHINE else ("Type", "Name")
    machine_type = resolver.optional(props.get(type_key)) or "STANDARD"
    name = resolver.optional(props.get(name_key))
    return TemplateMachine(
        logical_id=lid, resource_type=rtype, definition=definition_doc.data, document=definition_doc,
        substitutions=substitutions, placeholders=dict(resolver.placeholders),
        machine_type=str(machine_type).upper() if isinstance(machine_type, str) else "STANDARD",
        name=name if isinstance(name, str) else None)


def _substitutions(raw: Any, resolver: _Resolver, lid: str, path: tuple) -> dict[str, str]:
    """DefinitionSubstitutions as name -> text, each value fully expanded (AWS replaces
    repeatedly, so a value may use other substitutions; a loop is an error)."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _Problem(f"{lid}: DefinitionSubstitutions must be a map of names to values", path)
    values: dict[str, str] = {}
    for name, value in raw.items():
        value = resolver.value(value)
        # Java's toString of String, Integer or Boolean; anything else is refused by AWS.
        if isinstance(value, bool):
            values[name] = "true" if value else "false"
        elif isinstance(value, (int, str)):
            values[name] = str(value)
        else:
            raise _Problem(f"{lid}: Invalid definition substitution type for {name!r}. Input should "
                           "be either String, Integer, or Boolean", path + (name,))
    expanded: dict[str, str] = {}

    def expand(name: str, chain: tuple[str, ...]) -> str:
        if name in expanded:
            return expanded[name]
        if name in chain:
            loop = " -> ".join(chain + (name,))
            raise _Problem(f"{lid}: DefinitionSubstitutions refer to each other in a loop: {loop}", path)
        result = _PLACEHOLDER.sub(
            lambda m: expand(m.group(1), chain + (name,)) if m.group(1) in values else m.group(0),
            values[name])
        expanded[name] = result
        return result

    for name in values:
        expand(name, ())
    return expanded


_PLACEHOLDER = re.compile(r"\$\{([^}]*)\}")


def _substitute(mapped: _MappedText, lookup: Callable[[str], str | None]) -> _MappedText:
    """Replace each ${Name} for which lookup gives text; the new text maps to the placeholder."""
    pieces, last = [], 0
    for m in _PLACEHOLDER.finditer(mapped.text):
        replacement = lookup(m.group(1))
        if replacement is None:
            continue
        pieces.append(mapped.slice(last, m.start()))
        pieces.append(_MappedText.point(replacement, mapped.source_offset(m.start())))
        last = m.end()
    if not pieces:
        return mapped
    pieces.append(mapped.slice(last, len(mapped.text)))
    return _MappedText.concat(pieces)


def parse_bare_placeholders(text: str | None, filename: str | None, values: Mapping[str, str]) -> Document | None:
    """JSON text (or, when `text` is None, the file) holding ``${Name}`` placeholders as bare
    values (Terraform's templatefile: ``"Seconds": ${wait}``): each becomes its value's text
    when `values` has it, else the placeholder as a JSON string, and the text is parsed
    again, positions kept. None when no placeholder stands outside a string (or the file
    cannot be read). Raises SourceError when it still does not parse."""
    from .placeholders import find

    if _kind_from_name(filename) == "yaml":
        return None  # a bare ${Name} is a plain YAML string: the YAML error is the one to show
    if text is None or isinstance(text, bytes):
        try:
            text = _decode(_read_bytes(filename) if text is None else text, filename)
        except SourceError:
            return None
    if "${" not in text or not text.lstrip("\ufeff \t\r\n").startswith(("{", "[")):
        return None  # (no JSON text: YAML from stdin or a file of another name, as above)

    pieces, last, i, n = [], 0, 0, len(text)
    mapped = _MappedText.linear(text, 0)
    while i < n:
        ch = text[i]
        if ch == '"':  # skip the string
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
        elif ch == "$" and text.startswith("${", i):
            found = next(find(text, i), None)
            if found is None:
                break  # unbalanced braces: no placeholder from here on
            if found[0] == i:
                name, end = found[2], found[1]
                replacement = values.get(name, json.dumps(text[i:end], ensure_ascii=False))
                pieces += [mapped.slice(last, i), _MappedText.point(replacement, i)]
                last = i = end
                continue
        i += 1
    if not pieces:
        return None
    pieces.append(mapped.slice(last, n))
    return _parse_mapped(_MappedText.concat(pieces), filename, text, None, "json", None)


def _sub_strings(substitutions: dict[str, str]) -> Callable[[str], str]:
    if not substitutions:
        return lambda s: s

    def sub(s: str) -> str:
        if "${" not in s:
            return s
        return _PLACEHOLDER.sub(lambda m: substitutions.get(m.group(1), m.group(0)), s)
    return sub


def _inline_definition(doc: Document, path: tuple, value: Any, resolver: _Resolver,
                       substitutions: dict[str, str], lid: str) -> Document:
    """A Definition written in the template: a copy with intrinsics resolved and
    substitutions applied to every string, positions pointing into the template."""
    if _is_intrinsic(value):
        value = resolver.value(value)
    if not isinstance(value, dict):
        raise _Problem(f"{lid}: Definition must be an object (for JSON text use DefinitionString)", path)
    data, root, renamed = _rebuild(value, doc._node_at(path), resolver, _sub_strings(substitutions))
    n = len(path)
    duplicates = [(p[n:], offset) for p, offset in doc._duplicate_list() if p[:n] == path] + renamed
    return Document(data, None, doc.filename, doc.format, source_text=doc.source_text,
                    root=root, duplicates=duplicates, source_format=doc._source_format,
                    offset_map=doc._offset_map)


def _string_definition(doc: Document, path: tuple, value: Any, resolver: _Resolver,
                       substitutions: dict[str, str]) -> Document:
    """DefinitionString: JSON text (maybe built by Fn::Sub / Fn::Join), substituted, parsed."""
    mapped = resolver.text(value, doc._node_at(path), doc, path)
    if substitutions:
        mapped = _substitute(mapped, substitutions.get)
    return _parse_mapped(mapped, doc.filename, doc.source_text, doc._source_format, "json",
                         doc._offset_map)


def _uri_definition(doc: Document, path: tuple, uri: str, substitutions: dict[str, str]) -> Document:
    """SAM DefinitionUri naming a local file (relative to the template's folder)."""
    # named as the template was (relative stays relative), so its diagnostics read alike
    full = os.path.join(os.path.dirname(doc.filename) if doc.filename else "", uri)
    return _file_definition(doc, path, full, f"DefinitionUri {uri!r}", substitutions,
                            lambda: _nearby_file(full, uri))


def _cdk_asset(doc: Document, location: Any, resolver: _Resolver) -> str | None:
    """The local file a CDK-synthesized DefinitionS3Location names, or None.

    `cdk synth` (DefinitionBody.fromFile) writes the template beside an asset manifest,
    <Stack>.assets.json, whose "files" entries say which local file (source.path, relative
    to the manifest's folder or absolute; packaging "file") is uploaded to which bucket and
    object key (destinations.*.objectKey): the Key of the template's DefinitionS3Location.
    Bucket names are not compared (the manifest writes ${AWS::AccountId}-style placeholders
    where the template has Fn::Sub)."""
    if not doc.filename or not isinstance(location, dict):
        return None
    key = resolver.optional(location.get("Key"))
    if not isinstance(key, str) or not key:
        return None
    folder = os.path.dirname(doc.filename)
    try:
        names = sorted(n for n in os.listdir(folder or ".") if n.endswith(".assets.json"))
    except OSError:
        return None
    for name in names:
        try:
            manifest = json.loads(_read_bytes(os.path.join(folder, name)))
        except (SourceError, ValueError):
            continue
        files = manifest.get("files") if isinstance(manifest, dict) else None
        for asset in (files.values() if isinstance(files, dict) else ()):
            if not isinstance(asset, dict):
                continue
            source, targets = asset.get("source"), asset.get("destinations")
            if not (isinstance(source, dict) and isinstance(source.get("path"), str)
                    and source.get("packaging", "file") == "file" and isinstance(targets, dict)):
                continue
            if any(isinstance(t, dict) and t.get("objectKey") == key for t in targets.values()):
                return os.path.join(folder, source["path"])
    return None


def _file_definition(doc: Document, path: tuple, full: str, label: str, substitutions: dict[str, str],
                     hint: Callable[[], str | None] = lambda: None) -> Document:
    """A definition kept in a local file: like CloudFormation with the S3 copy, substitutions
    on the text, then JSON or YAML. `label` names the template property in errors."""
    try:
        raw = _read_bytes(full)
    except SourceError as err:
        line, column = doc.locate_path(path) or (None, None)
        near = hint() if err.code == "FILE_NOT_FOUND" else None
        raise SourceError(f"{label}: {err.message}" + (f"; did you mean {near!r}?" if near else ""),
                          err.code, doc.filename, line, column) from None
    text = _decode(raw, full)
    if text == "":
        raise SourceError("Received a null or empty workflow input.", "MISSING_DESCRIPTION", full)
    mapped = _MappedText.linear(text, 0)
    if substitutions:
        mapped = _substitute(mapped, substitutions.get)
    # Like CloudFormation reading the S3 copy: JSON first, then YAML (a ".json" name: JSON only).
    format = "json" if _kind_from_name(full) == "json" else None
    return _parse_mapped(mapped, full, text, None, format, None)


def _nearby_file(full: str, uri: str) -> str | None:
    """The file of the same folder a missing DefinitionUri most likely meant (often it differs
    only in letter case: a template written on a case-insensitive file system), as a URI."""
    from .diagnostics import closest

    folder, name = os.path.split(full)
    folder = folder or "."
    try:
        files = [f for f in os.listdir(folder) if os.path.isfile(os.path.join(folder, f))]
    except OSError:
        return None
    hint = closest(name, files)
    if hint is None:
        return None
    head = uri[: len(uri) - len(os.path.basename(uri))]
    return head + hint


def _parse_mapped(mapped: _MappedText, filename: str | None, source_text: str | None,
                  source_format: str | None, format: str | None,
                  outer_map: Callable[[int], int | None] | None) -> Document:
    """Parse text whose characters map back into `source_text` (a template, or a file before
    substitution). `source_format` is the syntax of `source_text`, None when it is the
    syntax just parsed."""
    def offset_map(i: int) -> int | None:
        offset = mapped.source_offset(i)
        return outer_map(offset) if (outer_map is not None and offset is not None) else offset

    def located(data: Any, parsed_format: str, **kw) -> Document:
        return Document(data, mapped.text, filename, parsed_format, source_text=source_text,
                        offset_map=offset_map, source_format=source_format or parsed_format, **kw)

    if mapped.text == "":
        line, column = located(None, "json")._linecol(0) or (None, None)
        raise SourceError("Received a null or empty workflow input.", "MISSING_DESCRIPTION",
                          filename, line, column)
    try:
        parsed = _parse(mapped.text, format, filename)
    except _Failure as failure:
        raise _source_error(failure, filename, located(None, failure.format)) from None
    return located(parsed.data, parsed.format, index=parsed._index, root=parsed._root,
                   duplicates=parsed._duplicates)


def _rebuild(value: Any, pos: _Node | None, resolver: _Resolver,
             sub: Callable[[str], str]) -> tuple[Any, _Node, list]:
    """Copy an inline definition iteratively: intrinsics resolved, `sub` applied to every
    string (names too), positions carried over. Returns (data, positions, duplicates), where
    duplicates are names that substitution made equal."""
    holder: list = [None]
    pos_holder: list = [None]
    duplicates = []
    # (value, position, container, slot, position container, path link, resolved already)
    work = [(value, pos, holder, 0, pos_holder, None, False)]
    while work:
        item, node, box, slot, pos_box, link, resolved = work.pop()
        key_offset = node.key if node else None
        value_offset = node.value if node else None
        children = node.children if node else None
        if not resolved and _is_intrinsic(item):
            item, resolved, children = resolver.value(item), True, None
        if isinstance(item, dict):
            entries: dict = {}
            for k, v in item.items():
                child = children.get(k) if isinstance(children, dict) else None
                child_resolved = resolved
                if not resolved and _is_intrinsic(v):
                    v, child_resolved = resolver.value(v), True
                    if v is _NO_VALUE:  # Ref AWS::NoValue removes the property
                        continue
                    child = _Node(child.key, child.value) if child else None  # its parts are gone
                new_key = sub(k)
                if new_key in entries:
                    duplicates.append((_path_of(link) + (new_key,), child.key if child else None))
                entries[new_key] = (v, child, child_resolved)
            new: Any = dict.fromkeys(entries)
            new_node = _Node(key_offset, value_offset, children=dict.fromkeys(entries))
            for k, (v, child, child_resolved) in entries.items():
                work.append((v, child, new, k, new_node.children, (link, k), child_resolved))
        elif isinstance(item, list):
            kept = []
            for i, v in enumerate(item):
                child = children[i] if isinstance(children, list) and i < len(children) else None
                child_resolved = resolved
                if not resolved and _is_intrinsic(v):
                    v, child_resolved = resolver.value(v), True
                    if v is _NO_VALUE:
                        continue
                    child = _Node(child.key, child.value) if child else None
                kept.append((v, child, child_resolved))
            new = [None] * len(kept)
            new_node = _Node(key_offset, value_offset, children=[None] * len(kept))
            for i, (v, child, child_resolved) in enumerate(kept):
                work.append((v, child, new, i, new_node.children, (link, i), child_resolved))
        else:
            new = sub(item) if isinstance(item, str) else item
            new_node = _Node(key_offset, value_offset)
        box[slot] = new
        pos_box[slot] = new_node
    return holder[0], pos_holder[0], duplicates


# =============================================================================================
# Templates: intrinsic functions, resolved locally
# =============================================================================================

def _is_intrinsic(value: Any) -> bool:
    """A one-key mapping {"Ref": ...} or {"Fn::Name": ...}, as SAM recognises them. A lone
    {"Condition": ...} is left alone: in a definition it may be a JSONata Choice rule."""
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        return isinstance(key, str) and (key == "Ref" or key.startswith("Fn::"))
    return False


_NO_VALUE = object()   # Ref AWS::NoValue: the property is removed

_PSEUDO = {
    "AWS::AccountId": LOCAL_ACCOUNT,
    "AWS::Region": LOCAL_REGION,
    "AWS::Partition": LOCAL_PARTITION,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "local-stack",
    "AWS::StackId": (f"arn:{LOCAL_PARTITION}:cloudformation:{LOCAL_REGION}:{LOCAL_ACCOUNT}:"
                     "stack/local-stack/00000000-0000-0000-0000-000000000000"),
    "AWS::NotificationARNs": [],
}

# Stand-ins for what a deployed resource would answer: {type: {"Ref" | attribute: format}}.
# Formats see {n} (the logical id), {p} partition, {r} region, {a} account.
_LAMBDA = {"Ref": "{n}", "Arn": "arn:{p}:lambda:{r}:{a}:function:{n}"}
_STATE_MACHINE = {"Ref": "arn:{p}:states:{r}:{a}:stateMachine:{n}",
                  "Arn": "arn:{p}:states:{r}:{a}:stateMachine:{n}", "Name": "{n}"}
_TABLE = {"Ref": "{n}", "Arn": "arn:{p}:dynamodb:{r}:{a}:table/{n}"}
_STAND_INS = {
    "AWS::Lambda::Function": _LAMBDA,
    "AWS::Serverless::Function": _LAMBDA,
    "AWS::StepFunctions::StateMachine": _STATE_MACHINE,
    "AWS::Serverless::StateMachine": _STATE_MACHINE,
    "AWS::StepFunctions::Activity": {"Ref": "arn:{p}:states:{r}:{a}:activity:{n}", "Name": "{n}"},
    "AWS::SNS::Topic": {"Ref": "arn:{p}:sns:{r}:{a}:{n}", "TopicArn": "arn:{p}:sns:{r}:{a}:{n}",
                        "TopicName": "{n}"},
    "AWS::SQS::Queue": {"Ref": "https://sqs.{r}.amazonaws.com/{a}/{n}",
                        "QueueUrl": "https://sqs.{r}.amazonaws.com/{a}/{n}",
                        "Arn": "arn:{p}:sqs:{r}:{a}:{n}", "QueueName": "{n}"},
    "AWS::DynamoDB::Table": _TABLE,
    "AWS::Serverless::SimpleTable": _TABLE,
    "AWS::S3::Bucket": {"Ref": "{n}", "Arn": "arn:{p}:s3:::{n}"},
    "AWS::Events::EventBus": {"Ref": "{n}", "Name": "{n}", "Arn": "arn:{p}:events:{r}:{a}:event-bus/{n}"},
    "AWS::IAM::Role": {"Ref": "{n}", "Arn": "arn:{p}:iam::{a}:role/{n}"},
    "AWS::ECS::Cluster": {"Ref": "{n}", "Arn": "arn:{p}:ecs:{r}:{a}:cluster/{n}"},
    "AWS::ECS::TaskDefinition": {"Ref": "arn:{p}:ecs:{r}:{a}:task-definition/{n}:1"},
    "AWS::Batch::JobQueue": {"Ref": "arn:{p}:batch:{r}:{a}:job-queue/{n}"},
    "AWS::Batch::JobDefinition": {"Ref": "arn:{p}:batch:{r}:{a}:job-definition/{n}:1"},
}


# Ref and these attributes of a Lambda version or alias name it qualified: CloudFormation's
# AWS::Lambda::Version "Ref returns the ARN of the version, such as
# arn:aws:lambda:us-west-2:123456789012:function:helloworld:1" (FunctionArn: the version's
# ARN, Version: its number); AWS::Lambda::Alias: Ref and AliasArn the alias's ARN.
_QUALIFIED = {"AWS::Lambda::Version": ("Ref", "FunctionArn", "Version"),
              "AWS::Lambda::Alias": ("Ref", "AliasArn")}


def _with_sam_generated(resources: dict, transform: Any) -> dict:
    """`resources` plus the resources SAM's transform generates that a template may refer to
    by logical id (see `_Resolver._resources`); `resources` itself when there is no SAM
    transform."""
    names = transform if isinstance(transform, list) else [transform]
    if not any(isinstance(n, str) and n.startswith("AWS::Serverless") for n in names):
        return resources
    generated: dict[str, dict] = {}
    for lid, resource in resources.items():
        if not isinstance(resource, dict) or resource.get("Type") not in (
                "AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            continue
        props = resource.get("Properties")
        props = props if isinstance(props, dict) else {}
        if props.get("Role") is None:
            generated[f"{lid}Role"] = {"Type": "AWS::IAM::Role"}
        events = props.get("Events")
        for event in (events.values() if isinstance(events, dict) else ()):
            if not isinstance(event, dict):
                continue
            given = event.get("Properties")
            given = given if isinstance(given, dict) else {}
            if event.get("Type") == "Api" and given.get("RestApiId") is None:
                generated["ServerlessRestApi"] = {"Type": "AWS::ApiGateway::RestApi"}
            elif event.get("Type") == "HttpApi" and given.get("ApiId") is None:
                generated["ServerlessHttpApi"] = {"Type": "AWS::ApiGatewayV2::Api"}
    return {**generated, **resources} if generated else resources


def _format_stand_in(fmt: str, name: str) -> str:
    return fmt.format(n=name, p=LOCAL_PARTITION, r=LOCAL_REGION, a=LOCAL_ACCOUNT)


def _generic_stand_in(hint: str) -> str:
    """For a value nothing local can tell: shaped like a Lambda function ARN, the most common
    use of such a value in a definition ("Resource", "FunctionName"), named after it."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", hint).strip("-") or "unresolved"
    return _format_stand_in("arn:{p}:lambda:{r}:{a}:function:{n}", name[:64])


def _text_of(value: Any) -> str:
    """A resolved scalar as CloudFormation writes it into a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or value is _NO_VALUE:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


class _Resolver:
    """Resolves intrinsic functions against one template, as far as the template allows;
    `placeholders` records every stand-in it had to use."""

    def __init__(self, template: dict, parameters: Mapping[str, Any] | None):
        self.template = template
        self.parameters = dict(parameters or {})
        self.placeholders: dict[str, str] = {}
        self._all_resources: dict | None = None
        self._functions = {
            "Ref": self._ref, "Fn::GetAtt": self._get_att, "Fn::Sub": self._sub,
            "Fn::Join": self._join, "Fn::Select": self._select, "Fn::Split": self._split,
            "Fn::If": self._if, "Fn::FindInMap": self._find_in_map, "Fn::Base64": self._base64,
            "Fn::GetAZs": self._get_azs, "Fn::ToJsonString": self._to_json_string,
            "Fn::Length": self._length,
        }

    def _stand_in(self, what: str, value: Any) -> Any:
        self.placeholders[what] = value
        return value

    def _section(self, name: str) -> dict:
        section = self.template.get(name)
        return section if isinstance(section, dict) else {}

    def _resources(self) -> dict:
        """The template's Resources plus those SAM's transform adds that a template may name
        (SAM's docs/internals/generated_resources.rst): the implicit REST API
        ``ServerlessRestApi`` of `Api` events without RestApiId, the implicit HTTP API
        ``ServerlessHttpApi`` of `HttpApi` events without ApiId, and ``<Id>Role`` for a
        function or state machine given no Role."""
        if self._all_resources is None:
            self._all_resources = _with_sam_generated(self._section("Resources"), self.template.get("Transform"))
        return self._all_resources

    # -- values ---------------------------------------------------------------------------

    def optional(self, value: Any) -> Any:
        """A value that only informs (a name, a type): None rather than an error when it
        cannot be resolved."""
        try:
            return self.value(value)
        except _Problem:
            return None

    def value(self, value: Any) -> Any:
        """A value with every intrinsic inside it resolved (recursively)."""
        if isinstance(value, list):
            return [v for v in (self.value(v) for v in value) if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if not _is_intrinsic(value):
            out = {}
            for k, v in value.items():
                v = self.value(v)
                if v is not _NO_VALUE:
                    out[k] = v
            return out
        name, argument = next(iter(value.items()))
        function = self._functions.get(name)
        if function is None:  # Fn::ImportValue, Fn::Cidr, Fn::Transform...: only AWS knows
            return self._stand_in(f"{name} {_text_of(argument)}",
                                  _generic_stand_in(f"{name[4:]}-{_text_of(self.value(argument))}"))
        return function(argument)

    def _ref(self, name: Any) -> Any:
        name = self.value(name)
        if not isinstance(name, str):
            return self._stand_in(f"Ref {_text_of(name)}", _generic_stand_in("Ref"))
        if name in self.parameters:
            return _text_of(self.parameters[name])
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name in _PSEUDO:
            return self._stand_in(name, _PSEUDO[name])
        parameter = self._section("Parameters").get(name)
        if isinstance(parameter, dict):
            if "Default" not in parameter:
                return self._stand_in(f"Ref {name}", _generic_stand_in(name))
            default = self.value(parameter["Default"])
            ptype = str(parameter.get("Type", ""))
            if ptype.startswith("List<") or ptype == "CommaDelimitedList":
                return default if isinstance(default, list) else _text_of(default).split(",")
            return _text_of(default)
        return self._resource_value(name, "Ref")

    def _resource_value(self, lid: str, attribute: str) -> str:
        what = f"Ref {lid}" if attribute == "Ref" else f"Fn::GetAtt {lid}.{attribute}"
        resource = self._resources().get(lid)
        if not isinstance(resource, dict):
            return self._stand_in(what, _generic_stand_in(lid if attribute == "Ref" else f"{lid}-{attribute}"))
        rtype = str(resource.get("Type", ""))
        if rtype in _QUALIFIED and attribute in _QUALIFIED[rtype]:
            return self._stand_in(what, self._qualified_arn(lid, resource, rtype, attribute))
        fmt = _STAND_INS.get(rtype, {}).get(attribute)
        if fmt is None:
            if attribute == "Ref":
                fmt = "{n}"
            elif attribute.endswith("Arn"):
                service = rtype.split("::")[1].lower() if rtype.count("::") == 2 else "unknown"
                fmt = "arn:{p}:" + service + ":{r}:{a}:{n}"
            else:
                fmt = "{n}." + attribute
        return self._stand_in(what, _format_stand_in(fmt, lid))

    def _qualified_arn(self, lid: str, resource: dict, rtype: str, attribute: str) -> str:
        """A Lambda version's or alias's ARN: its function's ARN (from FunctionName, a name or
        an ARN) with the qualifier, version 1 or the alias's Name; a version's "Version" is 1."""
        if attribute == "Version":
            return "1"
        props = resource.get("Properties") if isinstance(resource.get("Properties"), dict) else {}
        function = self.optional(props.get("FunctionName"))
        if not isinstance(function, str) or not function:
            function = lid
        if ":function:" not in function:
            function = _format_stand_in("arn:{p}:lambda:{r}:{a}:function:{n}", function)
        function = ":".join(function.split(":")[:7])  # (an ARN already qualified: its function)
        qualifier = "1" if rtype == "AWS::Lambda::Version" else self.optional(props.get("Name"))
        return f"{function}:{qualifier if isinstance(qualifier, (str, int)) and qualifier != '' else lid}"

    def _get_att(self, argument: Any) -> Any:
        argument = self.value(argument)
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        if isinstance(argument, list) and len(argument) == 2 and all(isinstance(a, str) for a in argument):
            return self._resource_value(argument[0], argument[1])
        return self._stand_in(f"Fn::GetAtt {_text_of(argument)}", _generic_stand_in("GetAtt"))

    def _sub(self, argument: Any) -> str:
        return self.text({"Fn::Sub": argument}, None, None, ()).text

    def _sub_variable(self, name: str, variables: dict) -> str | None:
        """The text for ${name} in Fn::Sub; None leaves a name the template does not know
        intact (CloudFormation would refuse it; DefinitionSubstitutions may still fill it)."""
        if name.startswith("!"):   # ${!Literal} writes "${Literal}"
            return "${" + name[1:] + "}"
        if name in variables:
            return _text_of(self.value(variables[name]))
        resources = self._resources()
        if "." in name and not name.startswith("AWS::"):
            lid, attribute = name.split(".", 1)
            return _text_of(self._resource_value(lid, attribute)) if lid in resources else None
        if name in self.parameters or name in _PSEUDO or name in self._section("Parameters") \
                or name in resources:
            return _text_of(self._ref(name))
        return None

    def _join(self, argument: Any) -> str:
        if not (isinstance(argument, list) and len(argument) == 2):
            raise _Problem(f"Fn::Join takes [delimiter, [values]], not {_text_of(argument)}")
        delimiter, parts = self.value(argument[0]), self.value(argument[1])
        if not isinstance(parts, list):
            parts = [parts]
        return _text_of(delimiter).join(_text_of(p) for p in parts)

    def _select(self, argument: Any) -> Any:
        argument = self.value(argument)
        if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], list):
            try:
                index = int(argument[0])
            except (TypeError, ValueError):
                index = -1
            if 0 <= index < len(argument[1]):
                return argument[1][index]
        raise _Problem(f"Fn::Select cannot be resolved: {_text_of(argument)}")

    def _split(self, argument: Any) -> list:
        argument = self.value(argument)
        if isinstance(argument, list) and len(argument) == 2 and all(isinstance(a, str) for a in argument):
            return argument[1].split(argument[0]) if argument[0] else [argument[1]]
        raise _Problem(f"Fn::Split cannot be resolved: {_text_of(argument)}")

    def _if(self, argument: Any) -> Any:
        if not (isinstance(argument, list) and len(argument) == 3):
            raise _Problem(f"Fn::If takes [condition, value if true, value if false], not {_text_of(argument)}")
        outcome = self._condition(argument[0], ())
        if outcome is None:
            self._stand_in(f"Condition {argument[0]}", "assumed true")
            outcome = True
        return self.value(argument[1] if outcome else argument[2])

    def _condition(self, name: Any, seen: tuple) -> bool | None:
        if not isinstance(name, str) or name in seen:
            return None
        return self._evaluate(self._section("Conditions").get(name), seen + (name,))

    def _evaluate(self, expression: Any, seen: tuple) -> bool | None:
        """A condition's truth, or None when it cannot be decided locally."""
        if isinstance(expression, bool):
            return expression
        if not (isinstance(expression, dict) and len(expression) == 1):
            return None
        name, argument = next(iter(expression.items()))
        if name == "Condition":
            return self._condition(argument, seen)
        if not isinstance(argument, list):
            return None
        if name == "Fn::Equals" and len(argument) == 2:
            return _text_of(self.value(argument[0])) == _text_of(self.value(argument[1]))
        if name == "Fn::Not" and len(argument) == 1:
            inner = self._evaluate(argument[0], seen)
            return None if inner is None else not inner
        if name in ("Fn::And", "Fn::Or"):
            results = [self._evaluate(a, seen) for a in argument]
            if None in results:
                return None
            return all(results) if name == "Fn::And" else any(results)
        return None

    def _find_in_map(self, argument: Any) -> Any:
        argument = self.value(argument)
        if isinstance(argument, list) and len(argument) >= 3:
            mapping = self._section("Mappings").get(_text_of(argument[0]))
            if isinstance(mapping, dict):
                level = mapping.get(_text_of(argument[1]))
                if isinstance(level, dict) and _text_of(argument[2]) in level:
                    return self.value(level[_text_of(argument[2])])
            if len(argument) == 4 and isinstance(argument[3], dict) and "DefaultValue" in argument[3]:
                return argument[3]["DefaultValue"]
        return self._stand_in(f"Fn::FindInMap {_text_of(argument)}", _generic_stand_in("FindInMap"))

    def _base64(self, argument: Any) -> str:
        return base64.b64encode(_text_of(self.value(argument)).encode("utf-8")).decode("ascii")

    def _get_azs(self, argument: Any) -> list[str]:
        region = _text_of(self.value(argument)) or LOCAL_REGION
        return [region + zone for zone in "abc"]

    def _to_json_string(self, argument: Any) -> str:
        return json.dumps(self.value(argument), separators=(",", ":"), default=str)

    def _length(self, argument: Any) -> int:
        value = self.value(argument)
        if isinstance(value, list):
            return len(value)
        raise _Problem(f"Fn::Length takes a list, not {_text_of(value)}")

    # -- text with positions (DefinitionString) -------------------------------------------

    def text(self, value: Any, node: _Node | None, doc: Document | None, path: tuple) -> _MappedText:
        """A string-valued template value as _MappedText: a literal keeps the position of
        each character, Fn::Sub and Fn::Join keep their literal parts' positions, anything
        else is resolved and placed at the value's position."""
        here = node.value if node is not None else None
        if isinstance(value, str):
            return _scalar_text(doc, node, value)
        if _is_intrinsic(value):
            name, argument = next(iter(value.items()))
            inner = node.children.get(name) if node is not None and isinstance(node.children, dict) else None
            if name == "Fn::Sub":
                return self._sub_text(argument, inner, doc, path)
            if name == "Fn::Join" and isinstance(argument, list) and len(argument) == 2 \
                    and isinstance(argument[1], list):
                return self._join_text(argument, inner, doc, path)
        resolved = self.value(value)
        if isinstance(resolved, str):
            return _MappedText.point(resolved, here)
        raise _Problem("DefinitionString must be a string (or Fn::Sub / Fn::Join making one), "
                       f"not {_text_of(resolved)[:60]}", path)

    def _sub_text(self, argument: Any, node: _Node | None, doc: Document | None, path: tuple) -> _MappedText:
        variables: dict = {}
        template_node = node
        if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], dict):
            argument, variables = argument
            template_node = _child(node, 0)
        if not isinstance(argument, str):
            raise _Problem(f"Fn::Sub takes a string or [string, {{variables}}], not {_text_of(argument)[:60]}", path)
        base = _scalar_text(doc, template_node, argument)
        return _substitute(base, lambda name: self._sub_variable(name, variables))

    def _join_text(self, argument: list, node: _Node | None, doc: Document | None, path: tuple) -> _MappedText:
        delimiter = _text_of(self.value(argument[0]))
        delimiter_at = _child(node, 0).value if _child(node, 0) else None
        parts_node = _child(node, 1)
        pieces = []
        for i, part in enumerate(argument[1]):
            if i:
                pieces.append(_MappedText.point(delimiter, delimiter_at))
            pieces.append(self.text(part, _child(parts_node, i), doc, path) if isinstance(part, (str, dict))
                          else _MappedText.point(_text_of(part), None))
        return _MappedText.concat(pieces)


def _child(node: _Node | None, index: int) -> _Node | None:
    if node is not None and isinstance(node.children, list) and index < len(node.children):
        return node.children[index]
    return None


# =============================================================================================
# Templates: where the characters of a string came from
# =============================================================================================

_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
            # YAML's extra escapes
            "0": "\0", "a": "\x07", "v": "\x0b", "e": "\x1b", " ": " ", "N": "\x85", "_": "\xa0",
            "L": "\u2028", "P": "\u2029", "\t": "\t"}
_HEX_LENGTH = {"x": 2, "u": 4, "U": 8}
_DQ_CHUNK = re.compile(r'[^"\\\r\n\x85\u2028\u2029]*')
_SQ_CHUNK = re.compile(r"[^'\r\n\x85\u2028\u2029]*")
_NODE_PROPERTIES = re.compile(r"(?:(?:!<[^>]*>|[!&][^\s]*)\s*)*")


def _scalar_text(doc: Document | None, node: _Node | None, value: str) -> _MappedText:
    """Map a string scalar of a template back to its characters: a JSON string literal, or
    a YAML plain, quoted or literal-block scalar on its lines. Anything else (folded or
    multi-line flow scalars) maps as a whole to where the scalar starts."""
    start = node.value if node is not None else None
    if start is None or doc is None or doc.source_text is None:
        return _MappedText.point(value, start)
    source = doc.source_text
    mapped = None
    if doc.format == "json":
        if source.startswith('"', start):
            mapped = _map_double_quoted(source, start)
    else:
        i = _NODE_PROPERTIES.match(source, start).end()
        c = source[i:i + 1]
        if c == "|":
            mapped = _map_literal_block(source, i, value)
        elif c == '"':
            mapped = _map_double_quoted(source, i)
        elif c == "'":
            mapped = _map_single_quoted(source, i)
        elif c != ">" and source.startswith(value, i) and not _YAML_BREAK.search(value):
            mapped = _MappedText.linear(value, i)
    if mapped is None or mapped.text != value:
        return _MappedText.point(value, start)
    return mapped


def _map_double_quoted(source: str, i: int) -> _MappedText | None:
    """A one-line double-quoted string (JSON, or YAML) starting at source[i] == '"'."""
    out = _TextBuilder()
    j = i + 1
    while True:
        m = _DQ_CHUNK.match(source, j)
        out.add(m.group(), j, True)
        j = m.end()
        c = source[j:j + 1]
        if c == '"':
            return out.build()
        if c != "\\":
            return None  # end of text, or a line break (a folded YAML scalar)
        escape = source[j + 1:j + 2]
        if escape in _HEX_LENGTH:
            n = _HEX_LENGTH[escape]
            digits = source[j + 2:j + 2 + n]
            if len(digits) != n or not all(d in "0123456789abcdefABCDEF" for d in digits):
                return None
            code, length = int(digits, 16), 2 + n
            # JSON writes characters beyond the BMP as a surrogate pair; json decodes it to one.
            if escape == "u" and 0xD800 <= code < 0xDC00 and source.startswith("\\u", j + 6):
                low = source[j + 8:j + 12]
                if len(low) == 4 and all(d in "0123456789abcdefABCDEF" for d in low) \
                        and 0xDC00 <= int(low, 16) < 0xE000:
                    code = 0x10000 + ((code - 0xD800) << 10) + (int(low, 16) - 0xDC00)
                    length = 12
            char = chr(code)
        elif escape in _ESCAPES:
            char, length = _ESCAPES[escape], 2
        else:
            return None
        out.add(char, j, False)
        j += length


def _map_single_quoted(source: str, i: int) -> _MappedText | None:
    """A one-line single-quoted YAML scalar starting at source[i] == "'" ('' is a quote)."""
    out = _TextBuilder()
    j = i + 1
    while True:
        m = _SQ_CHUNK.match(source, j)
        out.add(m.group(), j, True)
        j = m.end()
        if source[j:j + 1] != "'":
            return None
        if source[j + 1:j + 2] == "'":
            out.add("'", j, False)
            j += 2
            continue
        return out.build()


def _map_literal_block(source: str, i: int, value: str) -> _MappedText | None:
    """A YAML literal block scalar ("|") whose header is at source[i]: each line of the value
    is its source line without the block's indentation."""
    header = _YAML_BREAK.search(source, i)
    if header is None:
        return None
    position = header.end()
    out = _TextBuilder()
    indent = None
    lines = value.split("\n")
    for k, line in enumerate(lines):
        brk = _YAML_BREAK.search(source, position)
        line_end = brk.start() if brk else len(source)
        source_line = source[position:line_end]
        if line:
            if indent is None:
                if not source_line.endswith(line):
                    return None
                indent = len(source_line) - len(line)
            if source_line[indent:] != line:
                return None
            out.add(line, position + indent, True)
        if k < len(lines) - 1:
            out.add("\n", line_end, False)
        position = brk.end() if brk else len(source)
    return out.build()


# =============================================================================================
# Convenience
# =============================================================================================

def _split_selector(path: str) -> tuple[str, str | None]:
    """"template.yaml#MyMachine" -> ("template.yaml", "MyMachine"), unless the whole string
    names a file."""
    if "#" in path and not os.path.exists(path):
        base, _, select = path.rpartition("#")
        if base and select:
            return base, select
    return path, None


def load_any(source: Any, select: str | None = None, *, format: str | None = None,
             parameters: Mapping[str, Any] | None = None) -> Document:
    """One definition as a Document, from whatever the caller has:

    - a Document, or a dict/list built in Python;
    - bytes, or a str that holds text (a newline in it, or it starts with "{" or "[");
    - a path (str or os.PathLike), optionally "template.yaml#LogicalId".

    When the result is a SAM/CloudFormation template, its state machine is returned: the one
    named by `select` (or by "#LogicalId"), or the only one; several without a choice raise
    TEMPLATE_ERROR listing them. Raises SourceError.
    """
    if isinstance(source, Document):
        doc = source
    elif isinstance(source, (dict, list)):
        doc = Document.from_data(source)
    elif isinstance(source, (bytes, bytearray, memoryview)):
        doc = parse_text(bytes(source), format=format)
    elif isinstance(source, os.PathLike) or (
            isinstance(source, str) and "\n" not in source and source.strip()[:1] not in ("{", "[")
            and source.strip() != ""):
        path, selected = _split_selector(os.fspath(source))
        select = select or selected
        doc = parse_text(_read_bytes(path), filename=path, format=format)
    else:
        doc = parse_text(source, format=format)
    if not is_template(doc.data):
        if select is not None:
            raise SourceError(f"#{select} selects a state machine in a template, but this is not "
                              "a SAM/CloudFormation template", "TEMPLATE_ERROR", doc.filename)
        return doc
    machines = state_machines(doc, select, parameters=parameters)
    if len(machines) > 1:
        names = ", ".join(m.logical_id for m in machines)
        raise SourceError(f"the template declares {len(machines)} state machines ({names}); "
                          "choose one, e.g. FILE#LogicalId", "TEMPLATE_ERROR", doc.filename)
    return machines[0].document
