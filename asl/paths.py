"""AWS Step Functions' JSONPath dialect: Paths and Reference Paths (ASL-SPEC §3.2).

A path is compiled once into a `Path` (a tuple of typed steps) and evaluated many times::

    path = compile_path("$.items[?(@.price > 5)].name")
    path.evaluate({"items": [{"price": 7, "name": "a"}]})      # -> ["a"]

Three kinds of path share one grammar: ``$...`` reads the state input, ``$$...`` the context
object and ``$name...`` a variable (the caller passes the document to `Path.evaluate`).

Why our own parser and not jsonpath-ng
--------------------------------------
AWS evaluates paths with Jayway JsonPath (Java). jsonpath-ng 1.8.0 differs where it matters:
it rejects ``&&`` (it wants ``&``) and ``=~``, treats ``true == 1`` as equal, has no notion of
definite paths (so no ``No results for path`` / ``Missing property`` details) and its slices
and unions are Python's, not Jayway's. This module therefore follows Jayway's own
compiler and tokens step by step (json-path/JsonPath 2.x: ``PathCompiler``, ``FilterCompiler``,
``*PathToken``, ``EvaluatorFactory``), written afresh in Python. A Reference Path evaluates
as a tight loop over precompiled keys, with no regex, no re-parsing and no copying.

Decisions, with the evidence for each
-------------------------------------
* Definite paths (no ``..``, ``*``, slice, index/name union or filter) return the node or
  raise `PathNotFoundError` with Jayway's text: ``No results for path: $['x']`` when nothing
  was selected and ``Missing property in path $['a']`` when a parent is missing
  (conformance cases ``test_invalid_jsonpath`` and ``test_catch_states_runtime``).
* Indefinite paths return a list and fail only in one way: ``$.item.items[*]`` on ``{}``
  gives ``[]`` although Jayway itself throws for the missing ``item`` (cases
  ``test_json_path_array_wildcard_or_slice_with_no_input``), so AWS swallows misses there;
  but an index or slice step whose upstream is definite and whose node is there but is not
  an array (nor null) still fails: ``$[0:]`` or ``$[1:2]`` on ``{"myKey": "myValue"}`` is
  "could not be found", while ``$[*]`` there gives ``["myValue"]`` (AWS recordings of
  LocalStack's ``test_json_path_array_wildcard_or_slice_with_dictionary_input``).
* Names in brackets are taken verbatim: a backslash only stops the next character from
  closing the name. Jayway (>= 2.2) would un-escape ``\\"`` to ``"``, but AWS reads
  ``$['Test\\""Name"']`` as the key ``Test\\""Name"`` (case ``test_escape_sequence_parsing``).
* AWS runs Jayway 2.0.0: on every point where AWS runs tell the versions apart it behaves as
  2.0.0 and as no later version (the cases above and below; the bare-word filter operands; a
  union of names before another step fails with 2.0.0's "Multi properties can only be used as
  path leafs: $['a', 'b']", AWS console run in gist deric4/733eb129a10b13530cebaa3b70031c77;
  ``$.array[-1]`` is "could not be found" while ``[0]`` works, zenn.dev/sotaro8181). AWS prints
  Jayway's message after ``Invalid path '<path>' : ``, so the miss texts of definite paths are
  2.0.0's: ``Property ['b'] not found in path $['a']`` (a member of a non-object),
  ``Index out of bounds when evaluating path $['a'][3]``, ``No results for path: ...``,
  ``Missing property in path ...``, ``The path $['a'] is null``.
* No negative indexes: ``[-1]`` is out of range (a slice ``[-2:]`` still counts from the end).
* ``length()``, ``sum()``... are member names, as in 2.0.0: AWS answers ``$.Jobs.sum()`` with
  "could not be found" (re:Post question QUYiQKP0XfThWEc_ahsMnLOA; DG "Paths" lists functions
  as unsupported); a Reference Path still refuses them.
* Filter operators are Jayway's (``== != === !== < <= > >= =~ in nin subsetof anyof noneof
  size empty contains``); the DG's reference-path page implies that general paths accept
  regular expressions, lexical operators and ``$`` references inside filters.
* Jayway's leniencies are kept where AWS inherits them: ``$.a-b`` and other punctuation in
  dot names, ``$.['a']``, ``$['a']bc`` (= ``$['a'].bc``), a single stray character after the
  last token is ignored (``$['a']x`` = ``$['a']``), leaf unions of names merge into one
  object (``$['a','b']`` -> ``{"a": .., "b": ..}``, definite), Jayway slice arithmetic,
  a filter applied to an object tests the object itself.
* ResultPath (`assign_path`): missing intermediate objects are created and so are
  intermediates holding ``null``; stepping through any other non-object, or an index that is
  absent, raises ``States.ReferencePathConflict`` (not the spec's States.ResultPathMatchFailure)
  with the cause ``Unable to apply ReferencePath <path> to input <json>``: AWS's TestState of
  ResultPath ``$.child`` on the input ``4`` (raw capture radkawar/stackd
  dataflow_execution.json test-pass-result-path-scalar). The cause of a step through a
  non-object below the top is not recorded.
* Unconfirmed against AWS (Jayway 2.9's behaviour is used where it differs from 2.0.0): key order of
  wildcards over objects (document order; json-smart would use hash order), numeric equality
  of JSON literals (``1`` vs ``1.0``).
"""
from __future__ import annotations

import functools
import json
import math
import re
from decimal import Decimal
from typing import Any, Callable

from asl.errors import ExpressionSyntaxError, PathNotFoundError, StatesError

__all__ = ["Path", "compile_path", "compile_reference_path", "is_path_syntax", "assign_path"]

_MISSING = object()  # "no such member", distinct from a JSON null


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------

class Path:
    """A compiled JSONPath: immutable, cheap to evaluate, safe to share between executions.

    Fields: `text` the original text; `kind` "input" (``$``), "context" (``$$``) or "variable"
    (``$name``); `variable` the name for a variable path; `is_reference` when every step is a
    single ``.name``, ``['name']`` or ``[index]`` (a spec "Reference Path"); `is_definite` when
    the path selects at most one node (Jayway's definite paths).
    """

    __slots__ = ("text", "kind", "variable", "is_reference", "is_definite", "_steps", "_keys",
                 "_run", "_names", "unquoted_words")

    def __init__(self, text: str, kind: str, variable: str | None, steps: tuple["_Step", ...],
                 unquoted_words: tuple[str, ...] = ()):
        put = object.__setattr__
        put(self, "text", text)
        # filter operands written as bare words (`[?(@.lang == es)]`), read as strings
        put(self, "unquoted_words", unquoted_words)
        put(self, "kind", kind)
        put(self, "variable", variable)
        put(self, "_steps", steps)
        reference = all(type(s) in (_Name, _Index) for s in steps)
        put(self, "is_reference", reference)
        put(self, "is_definite", all(s.definite for s in steps))
        # A Reference Path runs as a loop over plain keys (str member / int index).
        put(self, "_keys", tuple(s.name if type(s) is _Name else s.idx for s in steps)
            if reference else None)
        # Only member names ($.a.b): each step is a plain subscript (see `evaluate`).
        put(self, "_names", reference and all(type(s) is _Name for s in steps))
        if self.is_definite:
            run = self._eval_definite
        else:
            run = self._eval_indefinite
        put(self, "_run", run)

    @property
    def member_names(self) -> tuple[str, ...] | None:
        """The member names when every step is one (``$.a.b`` -> ``("a", "b")``), else None: such
        a path selects ``root["a"]["b"]`` (whatever misses is worded by `evaluate`)."""
        return self._keys if self._names else None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Path is immutable")

    def __delattr__(self, name: str) -> None:
        raise AttributeError("Path is immutable")

    def __repr__(self) -> str:
        return f"Path({self.text!r})"

    def __reduce__(self):  # pickle and deepcopy by recompiling the text
        return (compile_path, (self.text,))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Path) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def evaluate(self, root: Any) -> Any:
        """Select from `root` (the input, the context object or the variable's value).

        A definite path returns the node itself (never a copy; ``$`` returns `root`) or raises
        `PathNotFoundError`; an indefinite path returns a new list of the selected nodes.
        """
        keys = self._keys
        if keys is None:
            return self._run(root)
        node = root
        if self._names:
            # In a JSON document only an object takes a string subscript: a list, string,
            # number or null raises TypeError, a missing member KeyError.
            try:
                for key in keys:
                    node = node[key]
            except (KeyError, TypeError):
                return self._eval_definite(root)  # slow path: finds the miss and words it
            return node
        for key in keys:
            if key.__class__ is str:
                if isinstance(node, dict):
                    node = node.get(key, _MISSING)
                    if node is not _MISSING:
                        continue
                return self._eval_definite(root)  # slow path: finds the miss and words it
            if isinstance(node, list) and 0 <= key < len(node):
                node = node[key]  # no negative indexes: see _Index
                continue
            return self._eval_definite(root)
        return node

    # -- the two evaluation modes, chosen once in __init__ -----------------------------------

    def _eval_definite(self, root: Any) -> Any:
        try:
            found = _select(self._steps, root, root, False)
        except _NotFound as miss:
            raise PathNotFoundError(self.text, self._detail(miss)) from None
        except _Abort:
            found = []
        except RecursionError:
            raise StatesError("States.Runtime", f"The JSONPath '{self.text}' could not be "
                              "evaluated: the document is nested too deeply") from None
        if not found:
            raise PathNotFoundError(self.text, "No results for path: " + self._render())
        return found[0]

    def _eval_indefinite(self, root: Any) -> list:
        try:
            return _select(self._steps, root, root, False)
        except _NotFound as miss:
            # an index or slice step on a node that is there, or a union of names not at the end
            if miss.reason in (_NOT_ARRAY, _MULTI_NOT_LEAF):
                raise PathNotFoundError(self.text, self._detail(miss)) from None
            return []  # AWS: an indefinite path that misses selects nothing
        except _Abort:
            return []
        except RecursionError:
            raise StatesError("States.Runtime", f"The JSONPath '{self.text}' could not be "
                              "evaluated: the document is nested too deeply") from None

    # -- Jayway's texts for a miss ------------------------------------------------------------

    def _render(self) -> str:
        """Jayway's ``toString`` of the whole path, e.g. ``$['a']['b'][0]``."""
        return "$" + "".join(s.fragment() for s in self._steps)

    def _eval_path(self, count: int) -> str:
        """Jayway's running ``currentPath`` after `count` steps (names always in '...')."""
        return "$" + "".join(s.eval_fragment() for s in self._steps[:count])

    def _detail(self, miss: "_NotFound") -> str:
        step, reason = miss.step, miss.reason
        here = self._eval_path(step.index)
        if reason == _MISSING_PROPERTY:
            return f"Missing property in path {here}{step.eval_fragment()}"
        if reason == _NOT_OBJECT:
            return f"Property {step.fragment()} not found in path {here}"
        if reason == _INDEX_OUT:
            return f"Index out of bounds when evaluating path {here}[{miss.model}]"
        if reason == _MULTI_NOT_LEAF:
            return f"Multi properties can only be used as path leafs: {here}{step.fragment()}"
        if reason == _NULL_ARRAY:
            return f"The path {here} is null"
        if reason == _NOT_ARRAY:
            rest = "".join(s.fragment() for s in self._steps[step.index:])
            return (f"Filter: {rest} can only be applied to arrays. "
                    f"Current context is: {_java_text(miss.model)}")
        return "No results for path: " + self._render()


def compile_path(text: str) -> Path:
    """Compile any Path (``$...``, ``$$...``, ``$name...``); raise `ExpressionSyntaxError`."""
    if not isinstance(text, str):
        raise ExpressionSyntaxError(f"a path must be a string, not {type(text).__name__}",
                                    str(text), None)
    return _compile_cached(text)


def compile_reference_path(text: str) -> Path:
    """Compile a Reference Path: only ``.name``, ``['name']`` and ``[index]`` steps."""
    path = compile_path(text)
    if not path.is_reference:
        bad = next(s for s in path._steps if type(s) not in (_Name, _Index))
        raise ExpressionSyntaxError(
            f"a Reference Path allows only .name, ['name'] and [index] steps, not {bad.what}",
            text, bad.pos)
    return path


def compile_number_path(text: str) -> Path:
    """The ``...Path`` of a Map number (MaxConcurrencyPath, ToleratedFailure*Path, ItemBatcher's,
    ReaderConfig's MaxItemsPath): a Reference Path into the state input, or a variable. AWS refuses
    the context object there, which only ItemsPath reads (docs/aws-validation-messages.md 2.5)."""
    path = compile_reference_path(text)
    if path.kind == "context":
        raise ExpressionSyntaxError("the context object ($$) is not allowed here, only the state input "
                                    "($) or a variable", text, 0)
    return path


def compile_result_path(text: str) -> Path:
    """A ``ResultPath`` (a state's or a catcher's): a Reference Path into the state input, where
    the result is written. A variable or the context object cannot be written (the DG's
    workflow-variables page: variables cannot be used in ResultPath)."""
    path = compile_reference_path(text)
    if path.kind != "input":
        what = "a variable" if path.kind == "variable" else "the context object ($$)"
        raise ExpressionSyntaxError(f"ResultPath writes into the state input ($), not into {what}", text, 0)
    return path


def variable_name_end(text: str, start: int) -> int:
    """The end of the variable name at ``text[start]`` (`start` when none begins there). A name is
    a Unicode identifier, as Assign takes it (`asl.checks.is_variable_name`): an XID_Start
    character or '_', then XID_Continue characters, combining marks included (``$ก่อน``, ``$क्षेत्र``),
    which a regex's ``\\w`` does not match."""
    if start >= len(text) or not text[start].isidentifier():
        return start
    end = start + 1
    while end < len(text) and ("_" + text[end]).isidentifier():
        end += 1
    return end


def is_path_syntax(text: str) -> bool:
    """True when `text` compiles as a Path (the validator's quick check)."""
    try:
        compile_path(text)
    except ExpressionSyntaxError:
        return False
    return True


def assign_path(doc: Any, path: Path, value: Any) -> Any:
    """ResultPath: a new document equal to `doc` with `value` placed at `path` (spec §3.1 step 6).

    ``$`` returns `value`. Only the containers along the path are copied; `doc` and `value` are
    never mutated. Missing intermediate objects (and intermediates holding null) are created;
    anything else that cannot take the step raises ``States.ReferencePathConflict``.
    """
    if not isinstance(path, Path) or path.kind != "input" or not path.is_reference:
        raise ValueError(f"assign_path needs a Reference Path on the input, got {path!r}")
    keys = path._keys
    spine: list[tuple[Any, Any]] = []  # (copied container, key) from the top down
    node = doc
    for key in keys:
        if key.__class__ is str:
            if node is _MISSING or node is None:
                copy: Any = {}
            elif isinstance(node, dict):
                copy = dict(node)
            else:
                raise _result_path_failure(path, doc)
            node = copy.get(key, _MISSING)
        else:
            if not isinstance(node, list):
                raise _result_path_failure(path, doc)
            at = key + len(node) if key < 0 else key
            if not 0 <= at < len(node):
                raise _result_path_failure(path, doc)
            copy, key = list(node), at
            node = copy[at]
        spine.append((copy, key))
    for copy, key in reversed(spine):
        copy[key] = value
        value = copy
    return value


def _result_path_failure(path: Path, doc: Any) -> StatesError:
    return StatesError("States.ReferencePathConflict",
                       f"Unable to apply ReferencePath {path.text} to input {_compact_json(doc)}")


# ---------------------------------------------------------------------------------------------
# Steps: one class per Jayway path token. `select` maps a list of nodes to the next list.
# ---------------------------------------------------------------------------------------------
# Jayway raises only while the path so far is definite ("upstream definite"); `require`
# is Jayway's REQUIRE_PROPERTIES option, used for existence tests inside filters.

_MISSING_LEAF, _MISSING_PROPERTY, _NOT_OBJECT, _NULL_ARRAY, _NOT_ARRAY, _INDEX_OUT, _MULTI_NOT_LEAF = range(7)


class _NotFound(Exception):
    """Jayway's PathNotFoundException: `reason` at `step` (with the offending `model`)."""

    def __init__(self, reason: int, step: "_Step", model: Any = None):
        self.reason, self.step, self.model = reason, step, model


class _Abort(Exception):
    """Jayway's InvalidPathException at run time: the filter item does not match."""


class _Step:
    """Base of the typed steps. `pos`: offset in the text; `index`: position in the path."""

    __slots__ = ("pos", "index", "leaf", "upstream_definite")
    definite = True
    what = "this step"

    def fragment(self) -> str:
        raise NotImplementedError

    def eval_fragment(self) -> str:
        return self.fragment()

    def select(self, nodes: list, root: Any, require: bool) -> list:
        raise NotImplementedError

    def scan_matches(self, node: Any, root: Any) -> bool:
        """Whether ``..`` applies this step at `node` (Jayway ScanPathToken predicates)."""
        return False


class _Name(_Step):
    """``.name`` / ``['name']``: one member of an object (PropertyPathToken, one property)."""

    __slots__ = ("name", "quote")

    def __init__(self, name: str, quote: str):
        self.name, self.quote = name, quote

    def fragment(self) -> str:
        return f"[{self.quote}{self.name}{self.quote}]"

    def eval_fragment(self) -> str:
        return f"['{self.name}']"

    def select(self, nodes, root, require):
        name, out = self.name, []
        for node in nodes:
            if isinstance(node, dict):
                value = node.get(name, _MISSING)
                if value is not _MISSING:
                    out.append(value)
                elif require or (self.upstream_definite and not self.leaf):
                    raise _NotFound(_MISSING_LEAF if self.leaf else _MISSING_PROPERTY, self)
            elif self.upstream_definite:
                raise _NotFound(_NOT_OBJECT, self, node)
        return out

    def scan_matches(self, node, root):
        return isinstance(node, dict) and self.name in node


class _Names(_Step):
    """``['a','b']``: as the last step one merged object (definite), else each member."""

    __slots__ = ("names", "quote")
    what = "a union of names"

    def __init__(self, names: tuple[str, ...], quote: str):
        self.names, self.quote = names, quote

    @property
    def definite(self) -> bool:  # Jayway: multi-property merge (leaf) is definite
        return self.leaf

    def fragment(self) -> str:
        # Jayway 2.0.0 joins the names with ", " (AWS: "... path leafs: $['a', 'b']", see below)
        return "[" + ", ".join(f"{self.quote}{n}{self.quote}" for n in self.names) + "]"

    def select(self, nodes, root, require):
        out = []
        for node in nodes:
            if not isinstance(node, dict):
                if self.upstream_definite:
                    raise _NotFound(_NOT_OBJECT, self, node)
                continue
            if not self.leaf:
                # Jayway 2.0.0 refuses a union of names that is not the last step once it meets
                # an object; AWS answers InputPath "$['a', 'b'].v" with States.Runtime "Invalid
                # path '$['a', 'b'].v' : Multi properties can only be used as path leafs:
                # $['a', 'b']" (console run, gist deric4/733eb129a10b13530cebaa3b70031c77);
                # Jayway 2.1 and later select each member instead.
                raise _NotFound(_MULTI_NOT_LEAF, self, node)
            merged = {} if self.leaf else None
            for name in self.names:
                value = node.get(name, _MISSING)
                if value is _MISSING:
                    if require:
                        raise _NotFound(_MISSING_PROPERTY, self)
                elif merged is None:
                    out.append(value)
                else:
                    merged[name] = value
            if merged is not None:
                out.append(merged)
        return out

    def scan_matches(self, node, root):
        return isinstance(node, dict) and (not self.leaf or all(n in node for n in self.names))


class _ArrayStep(_Step):
    """Shared array check of index and slice steps (Jayway ArrayPathToken.checkArrayModel)."""

    __slots__ = ()

    def _is_array(self, node: Any) -> bool:
        if isinstance(node, list):
            return True
        if self.upstream_definite:
            raise _NotFound(_NULL_ARRAY if node is None else _NOT_ARRAY, self, node)
        return False

    def scan_matches(self, node, root):
        return isinstance(node, list)


class _Index(_ArrayStep):
    """``[n]``: one element. A negative index is out of range, as in Jayway 2.0.0 (2.1 and later
    count it from the end): AWS answers ``"hoge.$": "$.array[-1].name"`` on
    ``{"array": [{"name": "hoge"}]}`` with "could not be found in the input" while ``[0]`` works
    (run reported at zenn.dev/sotaro8181/articles/9f265419e4fda9, 2024). Out of range in a
    definite path is Jayway's "Index out of bounds"; after an indefinite step it selects nothing."""

    __slots__ = ("idx",)

    def __init__(self, idx: int):
        self.idx = idx

    def fragment(self) -> str:
        return f"[{self.idx}]"

    def at(self, node: list) -> int:
        """The position this step selects in the array `node`."""
        return self.idx

    def select(self, nodes, root, require):
        out = []
        for node in nodes:
            if self._is_array(node):
                at = self.at(node)
                if 0 <= at < len(node):
                    out.append(node[at])
                elif self.upstream_definite:
                    raise _NotFound(_INDEX_OUT, self, at)
        return out


class _FromEnd(_Index):
    """``[(@.length-N)]`` (or ``@.size()``): element N from the end, Jayway 2.0.0's script index,
    which AWS runs: ``$.array[(@.length-1)]`` selects the last element where ``$.array[-1]`` is
    "could not be found" (zenn.dev/sotaro8181/articles/9f265419e4fda9, 2024; 2.1 and later
    refuse the syntax). Definite; past the front is "Index out of bounds" at the computed index,
    as 2.0.0 words it (``$['array'][-1]``); a Reference Path does not take it."""

    __slots__ = ("back",)
    what = "an index counted from the end"

    def __init__(self, back: int):
        super().__init__(-back)
        self.back = back

    def fragment(self) -> str:
        return f"[@.size()-{self.back}]"

    def at(self, node: list) -> int:
        return len(node) - self.back


class _Indexes(_ArrayStep):
    """``[0,2]``: several elements, in the order written."""

    __slots__ = ("indexes",)
    definite = False
    what = "a union of indexes"

    def __init__(self, indexes: tuple[int, ...]):
        self.indexes = indexes

    def fragment(self) -> str:
        return "[" + ",".join(map(str, self.indexes)) + "]"

    def select(self, nodes, root, require):
        out = []
        for node in nodes:
            if self._is_array(node):
                size = len(node)
                for idx in self.indexes:
                    at = idx + size if idx < 0 else idx
                    if 0 <= at < size:
                        out.append(node[at])
        return out


class _Slice(_ArrayStep):
    """``[a:]``, ``[:b]``, ``[a:b]`` with Jayway's arithmetic (ArraySliceToken), not Python's:
    ``[a:b]`` does not wrap a negative `b`, and walks `a`..`b-1` wrapping each negative index."""

    __slots__ = ("start", "stop")
    definite = False
    what = "a slice"

    def __init__(self, start: int | None, stop: int | None):
        self.start, self.stop = start, stop

    def fragment(self) -> str:
        start, stop = ("" if n is None else n for n in (self.start, self.stop))
        return f"[{start}:{stop}]"

    def select(self, nodes, root, require):
        out = []
        for node in nodes:
            if not self._is_array(node):
                continue
            size = len(node)
            start, stop = self.start, self.stop
            if stop is None:  # [a:]
                first = max(0, start + size if start < 0 else start)
                out.extend(node[first:])
            elif start is None:  # [:b]
                out.extend(node[:max(0, min(size, stop + size if stop < 0 else stop))])
            else:  # [a:b]
                # indexes below -size select nothing, so the walk starts no lower than -size
                for idx in range(max(start, -size), min(size, stop)):
                    out.append(node[idx + size if idx < 0 else idx])
        return out


class _Wildcard(_Step):
    """``*`` / ``[*]``: every member value of an object, every element of an array."""

    __slots__ = ()
    definite = False
    what = "a wildcard"

    def fragment(self) -> str:
        return "[*]"

    def select(self, nodes, root, require):
        out = []
        for node in nodes:
            if isinstance(node, dict):
                out.extend(node.values())
            elif isinstance(node, list):
                out.extend(node)
        return out

    def scan_matches(self, node, root):
        return True


class _Filter(_Step):
    """``[?(<expr>)]``: array elements (or an object itself) for which `expr` holds."""

    __slots__ = ("expr",)
    definite = False
    what = "a filter"

    def __init__(self, expr: "_Expr"):
        self.expr = expr

    def fragment(self) -> str:
        return "[?]"

    def accept(self, item: Any, root: Any) -> bool:
        try:
            return self.expr.test(item, root)
        except _Abort:
            return False

    def select(self, nodes, root, require):
        out = []
        for node in nodes:
            if isinstance(node, dict):
                if self.accept(node, root):
                    out.append(node)
            elif isinstance(node, list):
                out.extend(item for item in node if self.accept(item, root))
            elif self.upstream_definite:
                raise _Abort()  # "Filter: ... can not be applied to primitives"
        return out

    def scan_matches(self, node, root):
        return self.accept(node, root)


class _Scan(_Step):
    """``..`` fused with the step after it (ScanPathToken): that step applied at the node and
    at every object and array below it, in document order (pre-order)."""

    __slots__ = ("target",)
    definite = False
    what = "a deep scan (..)"

    def __init__(self, target: _Step):
        self.target = target

    def fragment(self) -> str:
        return ".." + self.target.fragment()

    def select(self, nodes, root, require):
        target, out = self.target, []
        stack = list(reversed(nodes))
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                if target.scan_matches(node, root):
                    out.extend(target.select([node], root, False))
                children = list(node.values())
            elif isinstance(node, list):
                if target.scan_matches(node, root):
                    # Jayway quirk kept: when more steps follow, an array matched by the scan
                    # passes all its elements on, skipping the target step itself.
                    out.extend(target.select([node], root, False) if self.leaf else node)
                children = node
            else:
                continue
            stack.extend(reversed(children))
        return out


class _Function(_Name):
    """``.length()``, ``.sum()``...: Jayway 2.0.0, which AWS runs (see the module docstring), has
    no path functions and reads ``length()`` as a member name, the way AWS answers ``$.Jobs.sum()``
    on ``{"Jobs": [0, 1]}`` with "could not be found" (re:Post QUYiQKP0XfThWEc_ahsMnLOA). It is
    kept apart from `_Name` so that a Reference Path still refuses it (DG "Paths": functions
    such as length() are not supported there)."""

    __slots__ = ()
    what = "a function call"

    def __init__(self, call: str):
        super().__init__(call, "'")


def _select(steps: tuple[_Step, ...], start: Any, root: Any, require: bool) -> list:
    """Run `steps` from `start`; `root` is what ``$`` means inside filters."""
    nodes = [start]
    for step in steps:
        nodes = step.select(nodes, root, require)
        if not nodes:
            break
    return nodes


# ---------------------------------------------------------------------------------------------
# Path parser (Jayway PathCompiler). Only ' ' counts as a blank, as in Jayway.
# ---------------------------------------------------------------------------------------------

_INT = re.compile(r"-?[0-9]+")
# Jayway 2.0.0's script index from the end: [(@.length-N)], [(@.size()-N)] (blanks allowed)
_FROM_END = re.compile(r"\[ *\( *@\.(?:length|size\(\)) *- *([0-9]{1,9}) *\) *\]")
# A filter operand that is a bare word (no quotes): a letter or '_', then anything up to a blank,
# a bracket, a quote or an operator (`us-east-1`, `en-US`, `v1.2` are words too).
# Read as that string, as Jayway 2.0.0 reads it (`[?(@.Name==Receipt)]` keeps the items whose
# Name is "Receipt"; 2.1 and later refuse to compile it). AWS follows 2.0.0 wherever recordings
# tell the versions apart, and deployed AWS samples write such filters (aws-samples:
# step-functions-workflows-collection textract-analyze-expense-tf and parallel-translate,
# aws-stepfunctions-examples app-dataquality-using-lambda, whose console run went through).
_BARE_WORD = re.compile(r"[A-Za-z_][^\s()\[\]&|!=<>'\"]*")


@functools.lru_cache(maxsize=4096)
def _compile_cached(text: str) -> Path:
    if not text.startswith("$"):
        raise ExpressionSyntaxError("a path must start with '$'", text, 0)
    kind, variable, root_end = "input", None, 1
    if text.startswith("$$"):
        kind, root_end = "context", 2
    else:
        end = variable_name_end(text, 1)
        if end > 1:
            kind, variable, root_end = "variable", text[1:end], end
    try:
        parser = _PathParser(text, 0, len(text.rstrip(" ")))
        steps = parser.parse(root_end)
    except RecursionError:
        raise ExpressionSyntaxError("the path is nested too deeply", text, None) from None
    return Path(text, kind, variable, steps, tuple(parser.unquoted))


class _PathParser:
    """Reads the steps of one path in ``text[begin:end]``, whose root character is at `begin`."""

    def __init__(self, text: str, begin: int, end: int, unquoted: list[str] | None = None):
        self.text, self.begin, self.end = text, begin, end
        self.raw: list[tuple] = []
        # the bare-word operands of its filters and of theirs (one list for the whole path)
        self.unquoted: list[str] = [] if unquoted is None else unquoted

    def fail(self, message: str, pos: int | None) -> None:
        raise ExpressionSyntaxError(message, self.text, pos)

    def parse(self, pos: int) -> tuple[_Step, ...]:
        """Read the steps after the root (which ends at `pos`) and build the step objects."""
        text, end = self.text, self.end
        if text[end - 1] == "." and end > self.begin + 1:
            self.fail("a path must not end with '.' or '..'", end - 1)
        if pos < end:
            if text[pos] not in ".[":
                self.fail("expected '.' or '[' after the root", pos)
            while True:
                pos = self.token(pos)
                # Jayway stops when at most one character is left (`currentIsTail`), so a
                # single stray character after a token is ignored: `$['a']x` is `$['a']`.
                if pos >= end - 1:
                    break
        return self.build()

    def build(self) -> tuple[_Step, ...]:
        steps: list[_Step] = []
        raw, upstream, at = self.raw, True, 0
        while at < len(raw):
            kind, pos, *data = raw[at]
            if kind == "scan":
                if at + 1 == len(raw):
                    raise ExpressionSyntaxError("'..' must be followed by a step", self.text, pos)
                target = self.make(raw[at + 1], at + 1 == len(raw) - 1, False)
                step: _Step = _Scan(target)
                at += 2
            else:
                step = self.make(raw[at], at == len(raw) - 1, upstream)
                at += 1
            step.pos, step.index, step.upstream_definite = pos, len(steps), upstream
            step.leaf = at == len(raw)
            steps.append(step)
            upstream = upstream and step.definite
        return tuple(steps)

    @staticmethod
    def make(raw: tuple, leaf: bool, upstream: bool) -> _Step:
        kind, pos, *data = raw
        if kind == "names":
            names, quote = data
            step: _Step = _Name(names[0], quote) if len(names) == 1 else _Names(tuple(names), quote)
        elif kind == "indexes":
            step = _Index(data[0][0]) if len(data[0]) == 1 else _Indexes(tuple(data[0]))
        elif kind == "from_end":
            step = _FromEnd(data[0])
        elif kind == "slice":
            step = _Slice(*data)
        elif kind == "wildcard":
            step = _Wildcard()
        elif kind == "filter":
            step = _Filter(data[0])
        elif kind == "function":
            step = _Function(data[0])
        else:  # a scan directly followed by a scan cannot be written
            raise AssertionError(kind)
        step.pos, step.index, step.leaf, step.upstream_definite = pos, 0, leaf, upstream
        return step

    # -- character helpers (Jayway CharacterIndex) ------------------------------------------

    def next_significant(self, pos: int) -> str:
        """The first non-blank character after `pos`, or ' ' at the end."""
        pos += 1
        while pos < self.end and self.text[pos] == " ":
            pos += 1
        return self.text[pos] if pos < self.end else " "

    def index_of_next_significant(self, pos: int, char: str) -> int:
        pos += 1
        while pos < self.end and self.text[pos] == " ":
            pos += 1
        return pos if pos < self.end and self.text[pos] == char else -1

    def next_unescaped(self, pos: int, char: str) -> int:
        escaped = False
        for at in range(pos + 1, self.end):
            c = self.text[at]
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == char:
                return at
        return -1

    def matching_close(self, pos: int, close: str, skip_regex: bool) -> int:
        """Index of the `close` matching the opener at `pos`, skipping quoted strings."""
        opener, depth, at = self.text[pos], 1, pos + 1
        while at < self.end:
            c = self.text[at]
            if c in "'\"" or (skip_regex and c == "/"):
                end = self.next_unescaped(at, c)
                if end == -1:
                    self.fail(f"no closing {c} for the one at position {at}", at)
                at = end + 1
                continue
            if c == opener:
                depth += 1
            elif c == close:
                depth -= 1
                if depth == 0:
                    return at
            at += 1
        return -1

    # -- tokens (Jayway read*Token); each returns the position after it ----------------------

    def token(self, pos: int) -> int:
        c = self.text[pos]
        if c == "[":
            for reader in (self.bracket_names, self.array, self.bracket_wildcard, self.filter, self.from_end):
                after = reader(pos)
                if after is not None:
                    return after
            if self.next_significant(pos) == "?":
                self.fail("a filter must be written [?(<expression>)]", pos)
            self.fail("expected a quoted name, an index, a slice, * or ?(...) after '['", pos)
        if c == ".":
            return self.dot(pos)
        if c == "*":
            self.raw.append(("wildcard", pos))
            return pos + 1
        return self.name_or_function(pos)

    def dot(self, pos: int) -> int:
        if pos + 1 < self.end and self.text[pos + 1] == ".":
            self.raw.append(("scan", pos))
            pos += 2
        elif pos + 1 >= self.end:
            self.fail("a path must not end with '.'", pos)
        else:
            pos += 1
        if pos < self.end and self.text[pos] == ".":
            self.fail("'...' is not valid: use '.' or '..'", pos)
        return self.token(pos)

    def name_or_function(self, pos: int) -> int:
        text, at = self.text, pos
        while at < self.end:
            c = text[at]
            if c == " ":
                self.fail("use bracket notation ['my name'] for a name with blanks", at)
            if c in ".[":
                break
            if c == "(":
                return self.function(pos, at)
            at += 1
        self.raw.append(("names", pos, [text[pos:at]], "'"))
        return at

    def function(self, pos: int, paren: int) -> int:
        depth, at = 1, paren + 1
        while at < self.end and depth:
            depth += {"(": 1, ")": -1}.get(self.text[at], 0)
            at += 1
        if depth:
            self.fail(f"the arguments of function '{self.text[pos:paren]}' are not closed", paren)
        self.raw.append(("function", pos, self.text[pos:at]))
        return at

    def bracket_names(self, pos: int) -> int | None:
        """``['a']``, ``["a"]``, ``['a','b']``: names verbatim, a backslash protects the next
        character from ending the name (AWS does not un-escape; see the module docstring)."""
        quote = self.next_significant(pos)
        if quote not in "'\"":
            return None
        text, names = self.text, []
        start = last_quote = pos + 1
        inside = escaped = after_comma = False
        at = pos + 1
        while at < self.end:
            c = text[at]
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == "]" and not inside:
                if after_comma:
                    self.fail("empty name in a union", at)
                break
            elif c == quote:
                if inside:
                    if self.next_significant(at) not in "],":
                        self.fail("names must be separated by ',' and closed by ']'", at)
                    names.append(text[start:at])
                    inside, last_quote = False, at
                else:
                    start, inside, after_comma = at + 1, True, False
            elif c == "," and not inside:
                if after_comma:
                    self.fail("empty name in a union", at)
                after_comma = True
            at += 1
        if inside:
            self.fail(f"a name is not closed: missing {quote}", start - 1)
        close = self.index_of_next_significant(last_quote, "]")
        if close == -1:
            self.fail("a name is not closed: missing ]", last_quote)
        self.raw.append(("names", pos, names, quote))
        return close + 1

    def array(self, pos: int) -> int | None:
        """``[1]``, ``[-1]``, ``[0, 2]``, ``[1:]``, ``[:2]``, ``[1:3]``."""
        first = self.next_significant(pos)
        if not (first in "-:" or "0" <= first <= "9"):
            return None
        close = self.text.find("]", pos + 1, self.end)
        if close == -1:
            return None
        expr = self.text[pos + 1:close].strip(" ")
        if expr == "*" or any(c not in "0123456789,-: " for c in expr):
            return None
        if ":" in expr:
            # Java's split(":") drops trailing empty parts; a third part (a step) is ignored.
            parts = expr.split(":")
            while parts and parts[-1] == "":
                parts.pop()
            start = self.int_value(parts[0], pos) if parts and parts[0] != "" else None
            stop = self.int_value(parts[1], pos) if len(parts) > 1 and parts[1] != "" else None
            if start is None and stop is None:
                self.fail(f"invalid slice [{expr}]", pos)
            self.raw.append(("slice", pos, start, stop))
        else:
            indexes = [self.int_value(part, pos) for part in re.split(r" *, *", expr)]
            self.raw.append(("indexes", pos, indexes))
        return close + 1

    def from_end(self, pos: int) -> int | None:
        """``[(@.length-1)]`` / ``[(@.size()-1)]``: Jayway 2.0.0's script index, counted from the
        end (see `_FromEnd`)."""
        match = _FROM_END.match(self.text, pos, self.end)
        if match is None:
            return None
        self.raw.append(("from_end", pos, int(match.group(1))))
        return match.end()

    def int_value(self, token: str, pos: int) -> int:
        # Java Integer.parseInt: an optional '-', digits, and a 32-bit range
        if not _INT.fullmatch(token) or len(token) > 11 or not -2**31 <= int(token) < 2**31:
            self.fail(f"invalid array index {token!r}", pos)
        return int(token)

    def bracket_wildcard(self, pos: int) -> int | None:
        if self.next_significant(pos) != "*":
            return None
        star = self.index_of_next_significant(pos, "*")
        close = self.index_of_next_significant(star, "]")
        if close == -1:
            self.fail("expected ']' after '[*'", star + 1)
        self.raw.append(("wildcard", pos))
        return close + 1

    def filter(self, pos: int) -> int | None:
        question = self.index_of_next_significant(pos, "?")
        if question == -1:
            return None
        paren = self.index_of_next_significant(question, "(")
        if paren == -1:
            return None
        close = self.matching_close(paren, ")", skip_regex=True)
        if close == -1 or self.next_significant(close) != "]":
            return None
        expr = _FilterParser(self.text, paren, close + 1, self.unquoted).parse()
        self.raw.append(("filter", pos, expr))
        return self.index_of_next_significant(close, "]") + 1


# ---------------------------------------------------------------------------------------------
# Filter expressions (Jayway FilterCompiler):
#   or      = and { '||' and }
#   and     = operand { '&&' operand }
#   operand = '!' operand | '(' or ')' | value [ operator value ]   (no operator: existence)
# ---------------------------------------------------------------------------------------------

class _FilterParser:
    """Parses the filter ``( ... )`` at ``text[start:stop]`` into an expression tree."""

    def __init__(self, text: str, start: int, stop: int, unquoted: list[str]):
        self.text, self.pos, self.stop = text, start, stop
        self.paths = _PathParser(text, start, stop, unquoted)  # for its character helpers

    def fail(self, message: str, pos: int | None = None) -> None:
        raise ExpressionSyntaxError(message, self.text, self.pos if pos is None else pos)

    def parse(self) -> "_Expr":
        expr = self.read_or()
        self.skip_blanks()
        if self.pos < self.stop:
            self.fail("unexpected text in the filter expression")
        return expr

    def skip_blanks(self) -> None:
        while self.pos < self.stop - 1 and self.text[self.pos] == " ":
            self.pos += 1

    def current(self) -> str:
        if self.pos >= self.stop:
            self.fail("the filter expression ends too early")
        return self.text[self.pos]

    def take(self, token: str) -> bool:
        saved = self.pos
        self.skip_blanks()
        if self.text.startswith(token, self.pos) and self.pos + len(token) <= self.stop:
            self.pos += len(token)
            return True
        self.pos = saved
        return False

    def read_or(self) -> "_Expr":
        items = [self.read_and()]
        while self.take("||"):
            items.append(self.read_and())
        return items[0] if len(items) == 1 else _Or(tuple(items))

    def read_and(self) -> "_Expr":
        items = [self.read_operand()]
        while self.take("&&"):
            items.append(self.read_operand())
        return items[0] if len(items) == 1 else _And(tuple(items))

    def read_operand(self) -> "_Expr":
        self.skip_blanks()
        saved = self.pos
        if self.current() == "!":
            self.pos += 1
            self.skip_blanks()
            if self.current() not in "$@":
                return _Not(self.read_operand())
            self.pos = saved  # `!@.x`: a negated existence test, read as a value
        if self.current() == "(":
            self.pos += 1
            expr = self.read_or()
            self.skip_blanks()
            if self.current() != ")":
                self.fail("expected ')'")
            self.pos += 1
            return expr
        return self.read_relation()

    def read_relation(self) -> "_Expr":
        left = self.read_value()
        saved = self.pos
        op = self.read_operator()
        if op is not None:
            return _Relation(left, op, self.read_value())
        self.pos = saved
        if not isinstance(left, _PathOperand):
            self.fail("a value alone is not a test: compare it or use a path")
        return _Exists(left)

    def read_operator(self) -> Callable | None:
        self.skip_blanks()
        begin = at = self.pos
        if at < self.stop and self.text[at] in "<>=~!":
            while at < self.stop and self.text[at] in "<>=~!":
                at += 1
        else:  # word operators (in, nin, size...) run to the next blank, as in Jayway
            while at < self.stop and self.text[at] != " ":
                at += 1
        evaluator = _OPERATORS.get(self.text[begin:at].upper())
        if evaluator is not None:
            self.pos = at
        return evaluator

    def read_value(self) -> "_Operand":
        self.skip_blanks()
        c = self.current()
        if c in "$@":
            return self.read_path()
        if c == "!":
            self.pos += 1
            self.skip_blanks()
            if self.current() not in "$@":
                self.fail("'!' must be followed by a path or a parenthesised test")
            return self.read_path()
        return self.read_literal()

    def read_path(self) -> "_PathOperand":
        """``@...`` or ``$...`` up to a blank, an operator character or a closing ')'."""
        text, begin = self.text, self.pos
        at = begin + 1
        while at < self.stop:
            if text[at] == "[":
                close = self.paths.matching_close(at, "]", skip_regex=False)
                if close == -1:
                    self.fail("unbalanced '[' in a filter path", at)
                at = close + 1
                if at >= self.stop:
                    break
            c = text[at]
            if c in "<>=~! " or (c == ")" and not self.closes_function(at, begin)):
                break
            at += 1
        self.pos = at
        before = begin - 1
        while before > 0 and text[before] == " ":
            before -= 1
        should_exist = text[before] != "!"
        steps = _PathParser(text, begin, at, self.paths.unquoted).parse(begin + 1)
        return _PathOperand(steps, text[begin] == "$", should_exist)

    def closes_function(self, at: int, begin: int) -> bool:
        """Whether the ')' at `at` ends a no-argument call such as ``@.list.length()``."""
        before = at - 1
        while before > begin and self.text[before] == " ":
            before -= 1
        return self.text[before] == "(" and "." in self.text[begin + 1:before]

    def read_literal(self) -> "_Literal":
        text, c, begin = self.text, self.current(), self.pos
        if c in "'\"":
            close = self.paths.next_unescaped(begin, c)
            if close == -1:
                self.fail(f"string literal not closed: missing {c}")
            self.pos = close + 1
            return _Literal(_V(_STR, _unescape(text[begin + 1:close], self, begin)))
        word = _BARE_WORD.match(text, begin, self.stop)
        if word and word.group() not in ("true", "false", "null"):
            # Jayway 2.0.0 reads a bare word as that string (2.1 and later refuse it), and AWS
            # accepted definitions comparing with one whose machines relied on it matching
            # (see _BARE_WORD): a string, and a validator WARNING.
            self.pos = word.end()
            self.paths.unquoted.append(word.group())
            return _Literal(_V(_STR, word.group()))
        if c in "tf":
            for word, value in (("true", _TRUE_V), ("false", _FALSE_V)):
                if text.startswith(word, begin) and begin + len(word) <= self.stop:
                    self.pos += len(word)
                    return _Literal(value)
            self.fail("expected true or false")
        if c == "n":
            if text.startswith("null", begin) and begin + 4 <= self.stop:
                self.pos += 4
                return _Literal(_NULL_V)
            self.fail("expected null")
        if c in "[{":
            close = self.paths.matching_close(begin, "]" if c == "[" else "}", skip_regex=False)
            if close == -1:
                self.fail(f"JSON literal not closed: missing {']' if c == '[' else '}'}")
            self.pos = close + 1
            try:
                value = _PermissiveJson(text[begin:close + 1]).parse()
            except ValueError as problem:
                self.fail(f"invalid JSON literal: {problem}", begin)
            return _Literal(_V(_JSON, value, literal=text[begin:close + 1]))
        if c == "/":
            return _Literal(self.read_pattern())
        at = begin
        while at < self.stop and (text[at] in "0123456789-.eE"):
            at += 1
        number = _big_decimal(text[begin:at])
        if number is None:
            self.fail("expected a value: a path, a string, a number, true, false, null, "
                      "JSON or /regex/")
        self.pos = at
        return _Literal(_V(_NUM, num=number, text=str(number)))

    def read_pattern(self) -> "_V":
        """``/regex/flags``: a Java regex matched against the whole value."""
        begin = self.pos
        close = self.paths.next_unescaped(begin, "/")
        if close == -1:
            self.fail("regular expression not closed: missing /")
        at = close + 1
        while at < self.stop and self.text[at] in _REGEX_FLAGS:
            at += 1
        self.pos = at
        flags = set(self.text[close + 1:at])
        # Java's \w, \d and case folding are ASCII unless the u/U flags ask for Unicode.
        mode = 0 if flags & {"u", "U"} else re.ASCII
        for flag in flags:
            mode |= _REGEX_FLAGS[flag]
        try:
            pattern = re.compile(self.text[begin + 1:close], mode)
        except (re.error, RecursionError, OverflowError, ValueError) as problem:
            self.fail(f"invalid regular expression: {problem}", begin)
        return _V(_PATTERN, pattern)


_REGEX_FLAGS = {"d": 0, "i": re.IGNORECASE, "x": re.VERBOSE, "m": re.MULTILINE, "s": re.DOTALL,
                "u": 0, "U": 0}


def _unescape(raw: str, parser: _FilterParser, pos: int) -> str:
    """Jayway Utils.unescape for filter string literals (\\n, \\t, \\uXXXX, \\' ...)."""
    if "\\" not in raw:
        return raw
    out, at = [], 0
    simple = {"\\": "\\", "'": "'", '"': '"', "r": "\r", "f": "\f", "t": "\t", "n": "\n",
              "b": "\b"}
    while at < len(raw):
        c = raw[at]
        if c != "\\":
            out.append(c)
            at += 1
            continue
        if at + 1 == len(raw):
            out.append("\\")
            break
        nxt = raw[at + 1]
        if nxt == "u":
            digits = raw[at + 2:at + 6]
            if len(digits) < 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                parser.fail(f"invalid unicode escape \\u{digits}", pos)
            out.append(chr(int(digits, 16)))
            at += 6
        else:
            out.append(simple.get(nxt, nxt))
            at += 2
    return "".join(out)


# -- expression nodes -----------------------------------------------------------------------

class _Expr:
    __slots__ = ()

    def test(self, item: Any, root: Any) -> bool:
        raise NotImplementedError


class _Or(_Expr):
    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items

    def test(self, item, root):
        return any(expr.test(item, root) for expr in self.items)


class _And(_Expr):
    __slots__ = ("items",)

    def __init__(self, items):
        self.items = items

    def test(self, item, root):
        return all(expr.test(item, root) for expr in self.items)


class _Not(_Expr):
    __slots__ = ("expr",)

    def __init__(self, expr):
        self.expr = expr

    def test(self, item, root):
        return not self.expr.test(item, root)


class _Exists(_Expr):
    """``@.x`` / ``!@.x`` alone: whether the path selects something (REQUIRE_PROPERTIES)."""

    __slots__ = ("operand",)

    def __init__(self, operand):
        self.operand = operand

    def test(self, item, root):
        return self.operand.exists(item, root) == self.operand.should_exist


class _Relation(_Expr):
    """``left <op> right`` with one of Jayway's evaluators (the `_OPERATORS` table)."""

    __slots__ = ("left", "evaluator", "right")

    def __init__(self, left, evaluator, right):
        self.left, self.evaluator, self.right = left, evaluator, right

    def test(self, item, root):
        return self.evaluator(self.left.value(item, root), self.right.value(item, root))


# -- operands and their values (Jayway ValueNode) -------------------------------------------

_STR, _NUM, _BOOL, _NULL, _JSON, _PATTERN, _UNDEF = "str num bool null json pattern undef".split()


class _V:
    """A filter value. `num`/`text` for numbers (Decimal and BigDecimal.toString text);
    `literal` holds the source text of a JSON literal (Jayway compares it unparsed)."""

    __slots__ = ("kind", "value", "num", "text", "literal")

    def __init__(self, kind: str, value: Any = None, num: Decimal | None = None,
                 text: str | None = None, literal: str | None = None):
        self.kind, self.value, self.num, self.text, self.literal = kind, value, num, text, literal


_TRUE_V, _FALSE_V, _NULL_V, _UNDEF_V = _V(_BOOL, True), _V(_BOOL, False), _V(_NULL), _V(_UNDEF)


def _to_v(x: Any) -> _V:
    """A JSON value as Jayway sees it in a filter. Booleans are not numbers."""
    if x is None:
        return _NULL_V
    if isinstance(x, str):
        return _V(_STR, x)
    if isinstance(x, bool):
        return _TRUE_V if x else _FALSE_V
    if isinstance(x, int):
        try:
            return _V(_NUM, x, Decimal(x), str(x))
        except ValueError:  # beyond Python's int-to-text limit: not comparable
            return _V(_NUM, x)
    if isinstance(x, float):
        if not math.isfinite(x):
            return _V(_NUM, x)  # never equal, never ordered
        # Jayway reads the number back from Java's Double.toString into a BigDecimal
        number = Decimal(_java_double_text(x))
        return _V(_NUM, x, number, str(number))
    if isinstance(x, (list, dict)):
        return _V(_JSON, x)
    return _UNDEF_V


class _Operand:
    __slots__ = ()


class _Literal(_Operand):
    __slots__ = ("v",)

    def __init__(self, v: _V):
        self.v = v

    def value(self, item, root):
        return self.v


class _PathOperand(_Operand):
    """``@...`` (the item) or ``$...`` (the document) inside a filter."""

    __slots__ = ("steps", "from_root", "should_exist", "definite")

    def __init__(self, steps, from_root, should_exist):
        self.steps, self.from_root, self.should_exist = steps, from_root, should_exist
        self.definite = all(s.definite for s in steps)

    def value(self, item, root):
        try:
            found = _select(self.steps, root if self.from_root else item, root, False)
        except _NotFound:
            return _UNDEF_V
        if self.definite:
            return _to_v(found[0]) if found else _UNDEF_V
        return _V(_JSON, found)

    def exists(self, item, root):
        # Jayway (2.0.0 to 2.9.0 alike) runs an existence test from the current item even when
        # it is written with `$`: `[?($.a)]` keeps the items that have `a`, not every item when
        # the document has `a`. A `$` path compared with a value does read the document.
        try:
            found = _select(self.steps, item, root, True)
        except _NotFound:
            return False
        return bool(found) or not self.definite


# -- evaluators (Jayway EvaluatorFactory); a mismatch of kinds is false, never an error -----

def _equals(l: _V, r: _V) -> bool:
    """Jayway ValueNode.equals: strings and numbers compare across kinds by their text."""
    kind = l.kind
    if kind is _STR:
        if r.kind is _STR:
            return l.value == r.value
        return r.kind is _NUM and r.text is not None and l.value == r.text
    if kind is _NUM:
        other = r.num if r.kind is _NUM else _big_decimal(r.value) if r.kind is _STR else None
        return l.num is not None and other is not None and l.num == other
    if kind is _BOOL:
        return r.kind is _BOOL and l.value is r.value
    if kind is _NULL:
        return r.kind is _NULL
    if kind is _JSON:
        if r.kind is not _JSON:
            return False
        if l.literal is not None or r.literal is not None:
            return l.literal == r.literal
        return _json_equal(l.value, r.value)
    return False  # patterns are equal only to themselves, undefined to nothing


def _eq(l: _V, r: _V) -> bool:
    if l.kind is _JSON and r.kind is _JSON:
        # Jayway compares the left side's source text to the parsed right side, so a JSON
        # literal on the left never equals anything.
        return l.literal is None and _json_equal(l.value, r.value)
    return _equals(l, r)


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[_V, _V], bool]:
    def evaluate(l: _V, r: _V) -> bool:
        if l.kind is _NUM and r.kind is _NUM:
            return l.num is not None and r.num is not None and compare(l.num, r.num)
        if l.kind is _STR and r.kind is _STR:  # Java String.compareTo: UTF-16 code units
            return compare(_utf16(l.value), _utf16(r.value))
        return False
    return evaluate


def _regex(l: _V, r: _V) -> bool:
    if (l.kind is _PATTERN) == (r.kind is _PATTERN):
        return False
    pattern, other = (l.value, r) if l.kind is _PATTERN else (r.value, l)
    if other.kind is _JSON and isinstance(other.value, list):
        return any(pattern.fullmatch(_regex_input(_to_v(v))) for v in other.value)
    return pattern.fullmatch(_regex_input(other)) is not None


def _regex_input(v: _V) -> str:
    # Jayway matches the text of strings, numbers and booleans, and "" for anything else
    if v.kind is _STR:
        return v.value
    if v.kind is _NUM:
        return v.text or ""
    if v.kind is _BOOL:
        return "true" if v.value else "false"
    return ""


def _value_list(v: _V) -> list | None:
    """The elements of an array operand; None for a non-array JSON value; abort otherwise."""
    if v.kind is not _JSON:
        raise _Abort()
    return [_to_v(x) for x in v.value] if isinstance(v.value, list) else None


def _in(l: _V, r: _V) -> bool:
    values = _value_list(r)
    return values is not None and any(_equals(l, v) for v in values)


def _subsetof(l: _V, r: _V) -> bool:
    right, left = _value_list(r), _value_list(l)
    return left is not None and right is not None and all(
        any(_equals(a, b) for b in right) for a in left)


def _anyof(l: _V, r: _V) -> bool:
    right, left = _value_list(r), _value_list(l)
    return left is not None and right is not None and any(
        _equals(a, b) for a in left for b in right)


def _noneof(l: _V, r: _V) -> bool:
    right, left = _value_list(r), _value_list(l)
    return left is not None and right is not None and not any(
        _equals(a, b) for a in left for b in right)


def _contains(l: _V, r: _V) -> bool:
    if l.kind is _STR and r.kind is _STR:
        return r.value in l.value
    if l.kind is _JSON and isinstance(l.value, list):
        return any(_equals(r, _to_v(x)) for x in l.value)
    return False


def _size(l: _V, r: _V) -> bool:
    if r.kind is not _NUM or r.num is None:
        return False
    expected = _java_int_value(r.num)
    if l.kind is _STR:
        return len(_utf16(l.value)) // 2 == expected
    if l.kind is _JSON:
        return (len(l.value) if isinstance(l.value, list) else -1) == expected
    return False


def _empty(l: _V, r: _V) -> bool:
    if l.kind is _STR or l.kind is _JSON:
        if r.kind is not _BOOL:
            raise _Abort()
        if l.kind is _STR:
            return (l.value == "") == r.value
        return (len(l.value) == 0) == r.value
    return False


def _exists_operator(l: _V, r: _V) -> bool:
    if l.kind is not _BOOL or r.kind is not _BOOL:
        raise _Abort()
    return l.value is r.value


def _abort(l: _V, r: _V) -> bool:
    # `all`, `type` and `matches` need Java-only operands (value lists, classes, predicates)
    raise _Abort()


def _not(evaluator: Callable[[_V, _V], bool]) -> Callable[[_V, _V], bool]:
    return lambda l, r: not evaluator(l, r)


def _type_safe_eq(l: _V, r: _V) -> bool:
    return l.kind is r.kind and _eq(l, r)


_OPERATORS: dict[str, Callable[[_V, _V], bool]] = {
    "==": _eq, "!=": _not(_eq), "===": _type_safe_eq, "!==": _not(_type_safe_eq),
    "<": _ordered(lambda a, b: a < b), "<=": _ordered(lambda a, b: a <= b),
    ">": _ordered(lambda a, b: a > b), ">=": _ordered(lambda a, b: a >= b),
    "=~": _regex, "IN": _in, "NIN": _not(_in), "SUBSETOF": _subsetof, "ANYOF": _anyof,
    "NONEOF": _noneof, "CONTAINS": _contains, "SIZE": _size, "EMPTY": _empty,
    "EXISTS": _exists_operator, "ALL": _abort, "TYPE": _abort, "MATCHES": _abort,
}


# ---------------------------------------------------------------------------------------------
# Java-flavoured helpers
# ---------------------------------------------------------------------------------------------

_BIG_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _big_decimal(text: str) -> Decimal | None:
    """`new BigDecimal(text)`, or None where Java would throw."""
    return Decimal(text) if _BIG_DECIMAL.fullmatch(text) else None


def _java_int_value(number: Decimal) -> int:
    """BigDecimal.intValue(): truncate, then keep the low 32 bits."""
    if number.as_tuple().exponent >= 32:  # a multiple of 10**32, so of 2**32: and no huge int
        return 0
    value = int(number) & 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


def _utf16(text: str) -> bytes:
    """Big-endian UTF-16 bytes: ordering them is Java's ordering of strings."""
    return text.encode("utf-16-be", "surrogatepass")


def _java_double_text(x: float) -> str:
    """Java's Double.toString for a finite double (shortest digits, Java's layout)."""
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    sign, digits, exponent = Decimal(repr(x)).as_tuple()
    power = len(digits) + exponent - 1  # x = d.ddd * 10**power
    shown = "".join(map(str, digits)).rstrip("0") or "0"
    if 1e-3 <= abs(x) < 1e7:
        if power >= 0:
            whole, fraction = shown[:power + 1].ljust(power + 1, "0"), shown[power + 1:]
        else:
            whole, fraction = "0", "0" * (-power - 1) + shown
        body = f"{whole}.{fraction or '0'}"
    else:
        body = f"{shown[0]}.{shown[1:] or '0'}E{power}"
    return ("-" if sign else "") + body


def _java_text(model: Any) -> str:
    """Java's toString of a JSON value: strings bare, containers as compact JSON."""
    if isinstance(model, str):
        return model
    if isinstance(model, bool):
        return "true" if model else "false"
    if isinstance(model, float) and math.isfinite(model):
        return _java_double_text(model)
    if model is None:
        return "null"
    return _compact_json(model)


def _compact_json(value: Any) -> str:
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        pass
    try:  # not JSON (NaN, a Python object) or too deep for json.dumps: repr is the courtesy
        return repr(value)
    except RecursionError:  # repr recurses too: a message must never fail to be written
        return "<a value nested too deeply to print>"


def _json_equal(a: Any, b: Any) -> bool:
    """Java's equals on parsed JSON: integers and decimals differ (1 != 1.0), booleans are
    not numbers, objects ignore key order, arrays do not."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict):
        return (isinstance(b, dict) and a.keys() == b.keys()
                and all(_json_equal(v, b[k]) for k, v in a.items()))
    if isinstance(a, list):
        return (isinstance(b, list) and len(a) == len(b)
                and all(_json_equal(x, y) for x, y in zip(a, b)))
    if isinstance(a, int):
        return isinstance(b, int) and a == b
    if isinstance(a, float):
        return isinstance(b, float) and a == b
    return type(a) is type(b) and a == b


class _PermissiveJson:
    """JSON literals in filters, as json-smart's permissive mode reads them: also 'single'
    quotes and bare words (``[a, b]`` is ``["a", "b"]``)."""

    _NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
    _ESCAPES = {'"': '"', "'": "'", "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n",
                "r": "\r", "t": "\t"}

    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def parse(self) -> Any:
        value = self.value()
        self.blanks()
        if self.pos != len(self.text):
            raise ValueError(f"unexpected {self.text[self.pos]!r}")
        return value

    def blanks(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def value(self) -> Any:
        self.blanks()
        if self.pos >= len(self.text):
            raise ValueError("a value is missing")
        c = self.text[self.pos]
        if c == "[":
            return self.sequence("]", lambda: self.value())
        if c == "{":
            return dict(self.sequence("}", self.member))
        if c in "'\"":
            return self.string()
        number = self._NUMBER.match(self.text, self.pos)
        word = self.word()
        if number and number.end() == self.pos:
            return float(word) if number.group(1) or number.group(2) else int(word)
        return {"true": True, "false": False, "null": None}.get(word, word)

    def sequence(self, close: str, item: Callable[[], Any]) -> list:
        self.pos += 1
        items: list = []
        self.blanks()
        if self.text.startswith(close, self.pos):
            self.pos += 1
            return items
        while True:
            items.append(item())
            self.blanks()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif self.text.startswith(close, self.pos):
                self.pos += 1
                return items
            else:
                raise ValueError(f"expected ',' or {close!r}")

    def member(self) -> tuple[str, Any]:
        self.blanks()
        key = self.string() if self.text[self.pos:self.pos + 1] in ("'", '"') else self.word()
        self.blanks()
        if not self.text.startswith(":", self.pos):
            raise ValueError("expected ':'")
        self.pos += 1
        return key, self.value()

    def word(self) -> str:
        begin = self.pos
        while self.pos < len(self.text) and self.text[self.pos] not in ",:[]{} \t\r\n":
            self.pos += 1
        if begin == self.pos:
            raise ValueError(f"unexpected {self.text[self.pos:self.pos + 1]!r}")
        return self.text[begin:self.pos]

    def string(self) -> str:
        quote, out = self.text[self.pos], []
        self.pos += 1
        while self.pos < len(self.text):
            c = self.text[self.pos]
            if c == quote:
                self.pos += 1
                return "".join(out)
            if c == "\\":
                nxt = self.text[self.pos + 1:self.pos + 2]
                if nxt == "u":
                    digits = self.text[self.pos + 2:self.pos + 6]
                    if len(digits) < 4 or any(d not in "0123456789abcdefABCDEF" for d in digits):
                        raise ValueError("invalid \\u escape")
                    out.append(chr(int(digits, 16)))
                    self.pos += 6
                    continue
                if nxt not in self._ESCAPES:
                    raise ValueError("invalid escape")
                out.append(self._ESCAPES[nxt])
                self.pos += 2
                continue
            out.append(c)
            self.pos += 1
        raise ValueError("string not closed")
