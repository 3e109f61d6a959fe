#!/usr/bin/env python3
"""Fuzz the loader, the validator, the engine and the CLI with generated definitions, inputs
and command lines; report tracebacks, hangs and non-JSON output (the goal is zero of each).

    python benchmarks/fuzz.py --count 100000 --seed 1 --report /tmp/fuzz.json
    python benchmarks/fuzz.py --seed 1 --only 4711 -v      # replay one item, show what it did

Every item is made from its own ``random.Random(f"{seed}:{index}")``, so any item can be replayed
alone with ``--only``. The generators start from the definitions of samples/ and of the
conformance cases (../shared/conformance, or $ASL_SHARED) and mutate them: fields dropped or
renamed, values of the wrong type, deep nesting, huge numbers, NaN / 1e400, unicode, bad paths,
intrinsics and JSONata, broken JSON/YAML text; inputs and handler answers are random JSON;
command lines are built from each command's options with random values and random files.

Categories (the share of items each gets):

  load        asl.load / asl.validate on JSON text, YAML text, a dict, bytes or a file path:
              only a StateMachine, a DefinitionError or a ValidationResult may come back, and
              load and validate must agree
  validate    asl.validate(dict) with a type; the AWS response shape must be strict JSON
  engine      asl.engine.run_sync on what loads, virtual time, random input, handlers that answer
              random JSON or raise, or the case's recorded mocks: only an ExecutionResult
  paths       compile_path / evaluate / assign_path on generated paths and documents
  cli         the click app in-process (CliRunner): no exception escapes, exit code 0-3, no
              "Traceback" text, stdout of ``asl run`` (and of every JSON format) valid JSON or empty
  subprocess  every 500th item: a real ``asl`` process with the same kind of command line

A hang is an item that runs past --item-timeout (SIGALRM interrupts it); a watchdog thread
ends the process if an item cannot be interrupted (native code), printing the item's index
so the run can go on with --start.
"""
from __future__ import annotations

import argparse
import copy
import glob
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import Counter, defaultdict
from random import Random
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

SHARED = os.environ.get("ASL_SHARED") or os.path.join(os.path.dirname(ROOT), "shared")
if not os.path.isdir(SHARED):
    SHARED = "/work/shared"

CATEGORIES = [("load", 25), ("validate", 15), ("engine", 30), ("paths", 10), ("cli", 20)]
SUBPROCESS_EVERY = 500
COMMANDS = ("run", "validate", "test", "test-state", "history", "graph", "mocks")


# ---------------------------------------------------------------------------------------------
# Corpus
# ---------------------------------------------------------------------------------------------

def load_corpus() -> tuple[list[dict], list[str]]:
    """(cases, handler files): each case {"definition", "input", "mocks"}."""
    cases: list[dict] = []
    for path in sorted(glob.glob(os.path.join(ROOT, "samples", "**", "*.json"), recursive=True)):
        try:
            with open(path, encoding="utf-8") as fh:
                doc = json.load(fh)
        except (OSError, ValueError):
            continue
        if isinstance(doc, dict) and "States" in doc:
            folder = os.path.dirname(path)
            inputs = []
            for name in sorted(os.listdir(folder)):
                if name.startswith("input") and name.endswith(".json"):
                    with open(os.path.join(folder, name), encoding="utf-8") as fh:
                        inputs.append(json.load(fh))
            cases.append({"definition": doc, "input": inputs[0] if inputs else {}, "mocks": None})
    for path in sorted(glob.glob(os.path.join(SHARED, "conformance", "cases", "*.json"))):
        with open(path, encoding="utf-8") as fh:
            case = json.load(fh)
        cases.append({"definition": case["definition"], "input": case.get("input"),
                      "mocks": case.get("mocks"), "type": case.get("type", "STANDARD")})
    handlers = sorted(glob.glob(os.path.join(ROOT, "samples", "*", "handlers.py")))
    return cases, handlers


# ---------------------------------------------------------------------------------------------
# Value generators
# ---------------------------------------------------------------------------------------------

WORDS = ["Type", "Next", "End", "States", "StartAt", "Resource", "Parameters", "Arguments", "Output",
         "InputPath", "OutputPath", "ResultPath", "ResultSelector", "ItemsPath", "Items", "ItemSelector",
         "ItemProcessor", "Iterator", "Branches", "Choices", "Default", "Variable", "Condition", "Assign",
         "Retry", "Catch", "ErrorEquals", "MaxAttempts", "IntervalSeconds", "BackoffRate", "Seconds",
         "SecondsPath", "Timestamp", "TimestampPath", "Error", "Cause", "ErrorPath", "CausePath",
         "QueryLanguage", "TimeoutSeconds", "HeartbeatSeconds", "MaxConcurrency", "ToleratedFailureCount",
         "StringEquals", "NumericGreaterThan", "And", "Or", "Not", "IsPresent", "BooleanEquals",
         "ProcessorConfig", "Mode", "Result", "Comment", "Version", "a", "b", "x", "items", "id", ""]
STATE_TYPES = ["Pass", "Task", "Choice", "Wait", "Succeed", "Fail", "Parallel", "Map", "Bogus", ""]
UNICODE = ["é", "日本", "\u200f", "\u0000", "\ud800", "\udfff", "😀", "\u0301", "\ufeff", "\\", '"', "'", "\n",
           "\t", "{%", "%}", "$", "$$", "€", "\U0010ffff", "\x7f"]
PATHS = ["$", "$$", "$.a", "$.a.b", "$['a']", "$.a[0]", "$.a[-1]", "$.a[*]", "$..a", "$.a[0:2]", "$.a[::2]",
         "$.a[?(@.b > 1)]", "$.a[?(@.b == 'x' && @.c)]", "$.a.length()", "$$.Execution.Id", "$$.Map.Item.Value",
         "$x", "$x.y", "$.a[1,2]", "$['a','b']", "$.a[?(@.b =~ /x.*/)]", "$.*", "$[0]", "$.a..b[?(@)]"]
PATH_BITS = ["[", "]", "(", ")", "?", "@", ".", "..", "*", "'", '"', ",", ":", "-", "==", "&&", "||", "!", "/",
             "=~", " ", "\\", "$", "1e400", "99999999999999999999", "-0", "NaN", "length()", "in", "nin"]
INTRINSICS = ["States.Format('{} {}', $.a, $.b)", "States.StringToJson($.s)", "States.JsonToString($)",
              "States.Array(1, 2, $.a)", "States.ArrayPartition($.a, 2)", "States.ArrayContains($.a, 1)",
              "States.ArrayRange(1, 10, 2)", "States.ArrayGetItem($.a, 0)", "States.ArrayLength($.a)",
              "States.ArrayUnique($.a)", "States.Base64Encode($.s)", "States.Base64Decode($.s)",
              "States.Hash($.s, 'SHA-256')", "States.JsonMerge($.a, $.b, false)", "States.MathRandom(1, 9)",
              "States.MathAdd($.n, 1)", "States.StringSplit($.s, ',')", "States.UUID()",
              "States.ArrayRange(0, 1000000000, 1)", "States.ArrayRange(1, 2, 0)", "States.MathAdd(1e400, 1)",
              "States.Format('{}{}{}', 1)", "States.Hash($.s, 'MD5')", "States.ArrayPartition($.a, 0)",
              "States.Format(", "States.Nope()", "States.Array(", "States.MathAdd($.n, 99999999999999999999)",
              "States.StringToJson('{\"a\": 1e400}')", "States.StringToJson('[[[[[[[[[[[[[[[[[[[[')",
              "States.Base64Decode('!!!')", "States.JsonMerge($, $, true)", "States.ArrayGetItem($.a, -1)"]
JSONATA = ["{% $states.input %}", "{% $states.input.a + 1 %}", "{% $sum($states.input.a) %}",
           "{% $x( %}", "{% %}", "{% $states.input.a. %}", "{% [1..100000000] %}", "{% $eval('1') %}",
           "{% $$ %}", "{% $string(1/0) %}", "{% function($f){$f($f)}(function($f){$f($f)}) %}",
           "{% $states.result %}", "{% $states.errorOutput %}", "{% $parse('{') %}", "{% $range(0, 1e9) %}",
           "{% $hash('x', 'nope') %}", "{% $random(1) %}", "{% $uuid() %}", "{% 1e400 %}", "{% 'a' & 'b' %}",
           "{% $states.context.Execution.Id %}", "{% $count([1..5]) %}", "{% $states.input.`weird key` %}",
           "{% $partition('arn:aws:x') %}", "{% $reduce([1..10], function($a,$b){$a+$b}) %}"]
NUMBERS_TEXT = ["1e400", "-1e400", "NaN", "Infinity", "-Infinity", "1" + "0" * 5000, "1e-400", "-0",
                "9223372036854775808", "18446744073709551616", "0.1e1", "1E+2", "123456789012345678901234567890.5"]


def number(rng: Random, text: bool) -> Any:
    """A huge or odd number: as a raw token in text mode, as a Python value otherwise."""
    pick = rng.randrange(8)
    if text:
        return Raw(rng.choice(NUMBERS_TEXT))
    return [float("inf"), float("-inf"), float("nan"), 10 ** rng.randrange(19, 400), -(2 ** 63), 2 ** 64,
            1e308, -0.0][pick]


class Raw(str):
    """A token written as-is into JSON text (1e400, NaN, 5,000 digits)."""


def unicode_text(rng: Random) -> str:
    return "".join(rng.choice(UNICODE) if rng.random() < 0.5 else chr(rng.randrange(32, 0x3000))
                   for _ in range(rng.randrange(0, 12)))


def random_json(rng: Random, depth: int = 0, odd: bool = False, text: bool = False) -> Any:
    r = rng.random()
    if depth > 4 or r < 0.35:
        k = rng.randrange(9)
        if k == 0:
            return None
        if k == 1:
            return rng.random() < 0.5
        if k == 2:
            return rng.randrange(-1000, 1000)
        if k == 3:
            return rng.uniform(-1e6, 1e6)
        if k == 4 and odd:
            return number(rng, text)
        if k == 5 and odd:
            return unicode_text(rng)
        if k == 6:
            return rng.choice(WORDS)
        if k == 7:
            return rng.choice(PATHS + INTRINSICS[:5] + JSONATA[:3]) if odd else "s" * rng.randrange(5)
        return ""
    if r < 0.65:
        return [random_json(rng, depth + 1, odd, text) for _ in range(rng.randrange(0, 5))]
    keys = ["a", "b", "n", "s", "x", "id", "items"] + (WORDS[:10] if odd else [])
    return {(rng.choice(keys) if rng.random() < 0.8 else unicode_text(rng) if odd else "k"):
            random_json(rng, depth + 1, odd, text) for _ in range(rng.randrange(0, 5))}


def deep(rng: Random, leaf: Any = 1) -> Any:
    depth = rng.choice([50, 200, 900, 1100, 3000, 20000])
    value = leaf
    for i in range(depth):
        value = [value] if i % 2 else {"a": value}
    return value


def bad_path(rng: Random) -> str:
    p = rng.choice(PATHS)
    for _ in range(rng.randrange(1, 4)):
        at = rng.randrange(len(p) + 1)
        op = rng.randrange(3)
        if op == 0:
            p = p[:at] + rng.choice(PATH_BITS) + p[at:]
        elif op == 1 and len(p) > 1:
            p = p[:at] + p[at + 1:]
        else:
            p = p[:at] + unicode_text(rng)[:2] + p[at:]
    return p


def bad_intrinsic(rng: Random) -> str:
    f = rng.choice(INTRINSICS)
    if rng.random() < 0.5:
        at = rng.randrange(len(f) + 1)
        f = f[:at] + rng.choice(PATH_BITS + ["(", ")", ",", "'", "\\'", "{}", "\\{"]) + f[at + 1:]
    return f


def bad_jsonata(rng: Random) -> str:
    e = rng.choice(JSONATA)
    if rng.random() < 0.4:
        at = rng.randrange(2, max(3, len(e) - 2))
        e = e[:at] + rng.choice(["(", ")", "[", "]", "{", "}", ".", "$", "'", '"', "..", ";", ":=", "~>"]) + e[at:]
    return e


# ---------------------------------------------------------------------------------------------
# Definition mutation
# ---------------------------------------------------------------------------------------------

def nodes(doc: Any) -> list[tuple[Any, Any]]:
    """(container, key) of every member and element, document order."""
    out, stack = [], [doc]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for k, v in items:
            out.append((node, k))
            if isinstance(v, (dict, list)) and len(out) < 5000:
                stack.append(v)
    return out


def states_of(doc: Any) -> list[dict]:
    found = []
    for container, key in nodes(doc):
        if key == "States" and isinstance(container[key], dict):
            found.extend(s for s in container[key].values() if isinstance(s, dict))
    return found


def mutate(doc: Any, rng: Random, text: bool) -> Any:
    """One random mutation, in place when possible; returns the (possibly new) document."""
    members = nodes(doc)
    if not members:
        return random_json(rng, 0, True, text)
    container, key = rng.choice(members)
    op = rng.randrange(16)
    if op == 0 and isinstance(container, dict):
        del container[key]
    elif op == 1 and isinstance(container, dict):
        value = container.pop(key)
        new = rng.choice([key.lower(), key + "s", key.upper(), rng.choice(WORDS), unicode_text(rng)]) \
            if isinstance(key, str) else "k"
        container[new] = value
    elif op == 2:
        container[key] = random_json(rng, 2, True, text)
    elif op == 3:
        container[key] = deep(rng, container[key] if rng.random() < 0.5 else 1)
    elif op == 4:
        container[key] = number(rng, text)
    elif op == 5:
        container[key] = unicode_text(rng)
    elif op == 6:
        if isinstance(container, dict) and isinstance(key, str) and not key.endswith(".$") and rng.random() < 0.5:
            container[key + ".$"] = bad_path(rng)
        else:
            container[key] = bad_path(rng)
    elif op == 7:
        target = container if isinstance(container, dict) else {}
        target[(key if isinstance(key, str) else "p") + ".$"] = bad_intrinsic(rng)
        if target is not container:
            container[key] = target
    elif op == 8:
        container[key] = bad_jsonata(rng)
        if rng.random() < 0.5:
            for s in states_of(doc)[:1]:
                s["QueryLanguage"] = "JSONata"
    elif op == 9:
        for s in rng.sample(states_of(doc), min(1, len(states_of(doc)))):
            s["Type"] = rng.choice(STATE_TYPES)
    elif op == 10:
        for s in states_of(doc)[:3]:
            if "Next" in s:
                s["Next"] = rng.choice(["Nowhere", s["Next"], "", unicode_text(rng)])
    elif op == 11:  # a field of a random state set to a value of a plausible field
        states = states_of(doc)
        if states:
            s = rng.choice(states)
            s[rng.choice(WORDS)] = rng.choice([random_json(rng, 2, True, text), rng.choice(PATHS), bad_path(rng),
                                               rng.randrange(-5, 100000000), rng.random() * 10, [], {}, None])
    elif op == 12:
        doc = {"StartAt": "S", "States": {"S": doc if rng.random() < 0.5 else {"Type": "Pass", "End": True}}}
    elif op == 13 and isinstance(container, dict):
        container["QueryLanguage"] = rng.choice(["JSONata", "JSONPath", "jsonata", 1, None])
    elif op == 14:  # Map / Parallel nesting
        states = states_of(doc)
        if states:
            s = rng.choice(states)
            inner = {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}}
            s.update(rng.choice([{"Type": "Map", "ItemProcessor": inner, "ItemsPath": rng.choice(PATHS)},
                                 {"Type": "Parallel", "Branches": [inner, copy.deepcopy(inner)]},
                                 {"Type": "Map", "Iterator": inner, "MaxConcurrency": rng.choice([0, 1, 10**9, -1])},
                                 {"Type": "Map", "ItemProcessor": dict(inner, ProcessorConfig={"Mode": "DISTRIBUTED"})}]))
    else:
        container[key] = transform(rng.choice(members)[0], lambda v: v) if rng.random() < 0.3 else None
    return doc


def mutated_definition(rng: Random, case: dict, text: bool, how_many: int) -> Any:
    doc = copy.deepcopy(case["definition"])
    for _ in range(how_many):
        doc = mutate(doc, rng, text)
    return doc


# ---------------------------------------------------------------------------------------------
# Rendering to text
# ---------------------------------------------------------------------------------------------

_RAW_MARK = "\u0001RAW:"


def transform(value: Any, leaf: Callable[[Any], Any]) -> Any:
    """A copy of a JSON-like value with `leaf` applied to every scalar; no recursion, so the
    deeply nested values the generators make are fine."""
    holder = [value]
    stack: list[tuple[Any, Any, Any]] = [(holder, 0, value)]
    while stack:
        parent, key, node = stack.pop()
        if isinstance(node, dict):
            new: Any = dict(node)
            stack.extend((new, k, v) for k, v in node.items())
        elif isinstance(node, list):
            new = list(node)
            stack.extend((new, i, v) for i, v in enumerate(node))
        else:
            new = leaf(node)
        parent[key] = new
    return holder[0]


def _marked(value: Any) -> Any:
    return transform(value, lambda v: _RAW_MARK + str(v) if isinstance(v, Raw) else v)


def to_json_text(value: Any, rng: Random) -> str:
    try:
        text = json.dumps(_marked(value), ensure_ascii=rng.random() < 0.5, indent=rng.choice([None, 2]))
    except (ValueError, RecursionError):
        return "[" * 5000
    return re.sub(r'"\\u0001RAW:([^"]*)"', r"\1", text)


def _raw_value(value: Any) -> Any:
    if not isinstance(value, Raw):
        return value
    s = str(value)
    if s in ("NaN", "Infinity", "-Infinity"):
        return float(s.replace("Infinity", "inf"))
    try:
        return int(s)
    except ValueError:
        return float(s)  # 1e400 -> inf


def to_python(value: Any) -> Any:
    """Raw tokens as Python values (what json.loads would give, where it can)."""
    return transform(value, _raw_value)


def to_yaml_text(value: Any, rng: Random) -> str:
    import yaml

    try:
        text = yaml.safe_dump(to_python(value), allow_unicode=rng.random() < 0.5, sort_keys=False)
    except (ValueError, RecursionError, yaml.YAMLError):
        return "a: [" * 100
    if rng.random() < 0.1:  # aliases: many references to one big node
        text = "x: &a [" + ", ".join(["big"] * 50) + "]\ny: &b [" + ", ".join(["*a"] * 50) + "]\n" + \
               "z: [" + ", ".join(["*b"] * 50) + "]\n" + text
    elif rng.random() < 0.05:
        text = "!!python/object:os.system x\n" + text
    return text


def break_text(text: str, rng: Random) -> str:
    """Truncate, splice or corrupt a text at a random point."""
    if not text:
        return text
    at = rng.randrange(len(text))
    op = rng.randrange(5)
    if op == 0:
        return text[:at]
    if op == 1:
        return text[:at] + rng.choice(['"', "{", "}", "[", "]", ",", ":", "\\", "\x00", "\ufeff", "\t", "#", "&", "*",
                                      "- ", "? ", "!!"]) + text[at:]
    if op == 2:
        return text[:at] + text[at + 1:]
    if op == 3:
        return "\ufeff" + text
    return text[:at] + text[at:at + 40] * 3 + text[at:]


# ---------------------------------------------------------------------------------------------
# The fuzz items
# ---------------------------------------------------------------------------------------------

class Finding(Exception):
    """A property that does not hold (not an exception of the code under test)."""

    def __init__(self, kind: str, detail: str):
        super().__init__(detail)
        self.kind, self.detail = kind, detail


class Hang(BaseException):
    """Raised by SIGALRM when an item runs past its time bound."""


class Fuzzer:
    def __init__(self, seed: int, tmp: str, verbose: bool = False):
        self.seed, self.tmp, self.verbose = seed, tmp, verbose
        self.cases, self.handlers = load_corpus()
        self.outcomes: Counter = Counter()  # (category, outcome) -> count
        self.repro: dict = {}

    def note(self, category: str, outcome: str) -> None:
        self.outcomes[(category, outcome)] += 1

    def show(self, what: str, value: Any) -> None:
        self.repro[what] = value
        if self.verbose:
            text = safe_repr(value)
            print(f"  {what}: {text[:2000]}", file=sys.stderr)

    # -- load / validate -----------------------------------------------------------------------

    def item_load(self, rng: Random) -> None:
        import asl
        from asl.errors import DefinitionError

        case = rng.choice(self.cases)
        form = rng.choice(["json", "json", "dict", "yaml", "bytes", "file", "file-yaml"])
        text_form = form != "dict"
        doc = mutated_definition(rng, case, text_form, rng.randrange(0, 5))
        if form == "dict":
            source: Any = to_python(doc)
        else:
            text = to_yaml_text(doc, rng) if form in ("yaml", "file-yaml") else to_json_text(doc, rng)
            if rng.random() < 0.3:
                text = break_text(text, rng)
            if form == "bytes":
                source = text.encode("utf-8", "surrogatepass") if rng.random() < 0.8 else os.urandom(64)
            elif form.startswith("file"):
                source = os.path.join(self.tmp, "load.yaml" if form == "file-yaml" else "load.json")
                with open(source, "wb") as fh:
                    fh.write(text.encode("utf-8", "surrogatepass"))
            else:
                source = text
        self.show("source", source if not isinstance(source, str) or not source.startswith(self.tmp) else text)
        kind = rng.choice([None, "STANDARD", "EXPRESS", "express"])
        result = asl.validate(source, type=kind)
        try:
            asl.load(source, type=kind)
            loaded = True
        except DefinitionError as exc:
            loaded = False
            str(exc)
        if loaded != result.ok:
            raise Finding("inconsistent", f"validate ok={result.ok} but load {'succeeded' if loaded else 'failed'}")
        json.dumps(result.to_aws(), allow_nan=False)
        self.note("load", f"{form}:{'loaded' if loaded else 'rejected'}")

    def item_validate(self, rng: Random) -> None:
        import asl

        case = rng.choice(self.cases)
        doc = to_python(mutated_definition(rng, case, False, rng.randrange(1, 6)))
        if rng.random() < 0.05:
            doc = rng.choice([None, [], "text", 1, deep(rng), {"StartAt": None}])
        self.show("definition", doc)
        result = asl.validate(doc, type=rng.choice(["STANDARD", "EXPRESS"]))
        try:
            json.dumps(result.to_aws(rng.choice(["ERROR", "WARNING"]), rng.choice([0, 1, 100])), allow_nan=False)
        except (ValueError, TypeError) as exc:
            raise Finding("non-json", f"to_aws() is not strict JSON: {exc}") from None
        for d in result.diagnostics:
            str(d)
        self.note("validate", "ok" if result.ok else "errors")

    # -- engine --------------------------------------------------------------------------------

    def handler(self, rng: Random) -> Callable:
        from asl.engine import TaskFailed

        plan = [rng.randrange(10) for _ in range(6)]
        answers = [random_json(rng, 1, rng.random() < 0.3) for _ in range(6)]
        calls = [0]

        def answer(payload: Any) -> Any:
            i = calls[0] % len(plan)
            calls[0] += 1
            p = plan[i]
            if p < 5:
                return answers[i]
            if p == 5:
                return payload
            if p == 6:
                raise TaskFailed(rng.choice(["States.TaskFailed", "Custom", "States.Timeout", "", "é"]),
                                 rng.choice([None, "cause", unicode_text(rng)]))
            if p == 7:
                raise ValueError("boom")
            if p == 8:
                return {"Payload": answers[i], "StatusCode": 200}
            return [payload, payload]

        return answer

    def item_engine(self, rng: Random) -> None:
        import asl
        from asl.engine import run_sync
        from asl.engine.tasks import MockConfigError
        from asl.errors import ASLError, DefinitionError

        case = rng.choice(self.cases)
        doc = to_python(mutated_definition(rng, case, False, rng.choice([0, 0, 0, 1, 1, 2])))
        try:
            machine = asl.load(doc, type=case.get("type", "STANDARD"))
        except DefinitionError:
            self.note("engine", "not loaded")
            return
        pick = rng.random()
        data = case.get("input") if pick < 0.4 else to_python(random_json(rng, 0, pick > 0.8))
        if rng.random() < 0.03:
            data = deep(rng, data)
        self.show("definition", doc)
        self.show("input", data)
        options: dict = {"seed": rng.randrange(100), "virtual_time": True, "check_handlers": False}
        if case.get("mocks") and rng.random() < 0.5:
            options["mock_config"] = {"StateMachines": {"M": {"TestCases": {"T": {
                s: f"{s}R" for s in case["mocks"]}}}},
                "MockedResponses": {f"{s}R": {str(i): e for i, e in enumerate(r)} for s, r in case["mocks"].items()}}
            options.update(test_case="T", state_machine_name="M")
        else:
            options["handlers"] = {"*": self.handler(rng)}
        if rng.random() < 0.1:
            options["history_limit"] = rng.choice([1, 10, 100])
        try:
            result = run_sync(machine, data, **options)
        except (ASLError, MockConfigError) as exc:  # the API's refusals (InvalidExecutionInput, ...)
            self.note("engine", f"refused: {type(exc).__name__}")
            return
        if result.status not in ("SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"):
            raise Finding("bad-status", f"status {result.status!r}")
        json.dumps(result.output)
        json.dumps(result.history.to_aws())
        self.note("engine", result.status)

    # -- paths ---------------------------------------------------------------------------------

    def item_paths(self, rng: Random) -> None:
        from asl.errors import ExpressionSyntaxError, PathNotFoundError, StatesError
        from asl.paths import assign_path, compile_path

        text = bad_path(rng) if rng.random() < 0.7 else rng.choice(PATHS)
        doc = to_python(random_json(rng, 0, True))
        if rng.random() < 0.05:
            doc = deep(rng, doc)
        self.show("path", text)
        self.show("document", doc)
        try:
            path = compile_path(text)
        except ExpressionSyntaxError:
            self.note("paths", "rejected")
            return
        try:
            path.evaluate(doc)
            outcome = "evaluated"
        except (PathNotFoundError, StatesError):
            outcome = "not found"
        if path.kind == "input" and path.is_reference:
            try:
                assign_path(doc, path, random_json(rng, 2))
            except StatesError:
                pass
        self.note("paths", outcome)

    # -- CLI -----------------------------------------------------------------------------------

    def write(self, name: str, content: Any) -> str:
        path = os.path.join(self.tmp, name)
        data = content if isinstance(content, bytes) else content.encode("utf-8", "surrogatepass")
        with open(path, "wb") as fh:
            fh.write(data)
        return path

    def file_content(self, rng: Random, good: Any) -> bytes | str:
        r = rng.random()
        if r < 0.55:
            return to_json_text(good, rng)
        if r < 0.65:
            return break_text(to_json_text(good, rng), rng)
        return rng.choice([b"", os.urandom(rng.randrange(1, 200)), "[" * 100000, "1e400", "NaN", "[NaN]",
                           '{"a": 1e400}', "1" * 5000, "\ufeff{}", "{}".encode("utf-16"), "null", '"text"',
                           "{'a': 1}", "a: b\n", "[1, 2", '{"a": "\\ud800"}'])

    def history_doc(self, rng: Random, machine: Any, data: Any) -> Any:
        from asl.engine import run_sync

        result = run_sync(machine, data, handlers={"*": self.handler(rng)}, virtual_time=True, seed=1,
                          check_handlers=False)
        doc = result.history.to_aws()
        if rng.random() < 0.5:
            doc = mutate(doc, rng, True)
        return doc

    def argv(self, rng: Random) -> tuple[list[str], bytes | None]:
        import asl
        from asl.errors import DefinitionError

        case = rng.choice(self.cases)
        doc = mutated_definition(rng, case, True, rng.choice([0, 0, 1, 2, 4]))
        definition = self.write("def.json" if rng.random() < 0.8 else "def.yaml",
                                self.file_content(rng, doc) if rng.random() < 0.3 else to_json_text(doc, rng))
        data = case.get("input") if rng.random() < 0.5 else random_json(rng, 0, True, True)
        input_file = self.write("input.json", self.file_content(rng, data))
        stdin = None
        states = [k for s in [doc] for k in (s.get("States") or {})] if isinstance(doc, dict) and \
            isinstance(doc.get("States"), dict) else []
        state = rng.choice(states) if states and rng.random() < 0.9 else unicode_text(rng) or "X"
        command = rng.choice(["run"] * 6 + ["validate"] * 3 + ["test-state"] * 2 + ["history", "graph", "test",
                                                                                    "mocks", "random"])
        a: list[str] = []
        if command == "run":
            a = ["run", definition, "--virtual-time"]
            r = rng.random()
            if r < 0.4:
                a += ["--input", input_file]
            elif r < 0.7:
                a += ["--input-json", to_json_text(data, rng) if rng.random() < 0.8 else break_text("{}", rng)]
            elif r < 0.8:
                a += ["--input", "-"]
                stdin = self.file_content(rng, data)
                stdin = stdin if isinstance(stdin, bytes) else stdin.encode("utf-8", "surrogatepass")
            if case.get("mocks") and rng.random() < 0.5:
                mc = {"StateMachines": {"def": {"TestCases": {"T": {s: f"{s}R" for s in case["mocks"]}}}},
                      "MockedResponses": {f"{s}R": {str(i): e for i, e in enumerate(r)}
                                          for s, r in case["mocks"].items()}}
                a += ["--mock-config", self.write("mock.json", self.file_content(rng, mc)), "--test-case",
                      rng.choice(["T", "T", "Nope"])]
            elif rng.random() < 0.6:
                a += ["--handlers", rng.choice(self.handlers + [os.path.join(self.tmp, "missing.py")])]
            for flag, p in [("-q", 0.3), ("-v", 0.2), ("--output-format=json", 0.4), ("--type=EXPRESS", 0.1),
                            ("--color=always", 0.1)]:
                if rng.random() < p:
                    a.append(flag)
            if rng.random() < 0.2:
                a += ["--seed", str(rng.choice([0, -1, 2 ** 70, 7]))]
            if rng.random() < 0.2:
                a += ["--history", os.path.join(self.tmp, rng.choice(["h.json", "nodir/h.json", ""]))]
            if rng.random() < 0.1:
                a += ["--name", unicode_text(rng) or "n"]
        elif command == "validate":
            a = ["validate", definition] + (["-"] if rng.random() < 0.1 else [])
            if "-" in a:
                stdin = to_json_text(doc, rng).encode("utf-8", "surrogatepass")
            a += rng.choice([[], ["--format", "json"], ["--format", "sarif"], ["--format", "text"]])
            a += rng.choice([[], ["--severity", "ERROR"], ["--max-results", str(rng.randrange(0, 3))],
                             ["--type", "EXPRESS"]])
        elif command == "test-state":
            a = ["test-state", definition, state]
            r = rng.random()
            if r < 0.5:
                a += ["--input-json", to_json_text(data, rng)]
            elif r < 0.7:
                a += ["--input", input_file]
            for opt, value in [("--mock-result", lambda: to_json_text(random_json(rng, 1, True, True), rng)),
                               ("--mock-error", lambda: rng.choice(["E", "States.Timeout", unicode_text(rng) or "x"])),
                               ("--mock-cause", lambda: unicode_text(rng)),
                               ("--variables", lambda: to_json_text(random_json(rng, 0, True, True), rng)),
                               ("--retry-count", lambda: str(rng.choice([0, 1, -1, 99, 2 ** 40])))]:
                if rng.random() < 0.25:
                    a += [opt, value()]
            if rng.random() < 0.5:
                a.append("--output-format=json")
        elif command in ("history", "graph", "mocks"):
            history_file = None
            try:
                machine = asl.load(to_python(doc)) if isinstance(doc, dict) else None
            except DefinitionError:
                machine = None
            if machine is not None and rng.random() < 0.8:
                hist = self.history_doc(rng, machine, to_python(case.get("input")))
                history_file = self.write("history.json", self.file_content(rng, hist))
            else:
                history_file = self.write("history.json", self.file_content(rng, random_json(rng, 0, True, True)))
            if command == "history":
                a = ["history", history_file] + (["-v"] if rng.random() < 0.5 else [])
            elif command == "graph":
                a = ["graph", definition] + rng.choice([[], ["--format", "dot"], ["--format", "mermaid"]])
                if rng.random() < 0.5:
                    a += ["--history", history_file]
                if rng.random() < 0.2:
                    a += ["-o", os.path.join(self.tmp, "g.out")]
            else:
                a = ["mocks", "from-history", history_file, "--name", rng.choice(["def", unicode_text(rng) or "n"])]
                if rng.random() < 0.5:
                    a += ["--mock-config", os.path.join(self.tmp, "mc-out.json"), "--force"]
                if rng.random() < 0.3:
                    a += ["--cases", os.path.join(self.tmp, "cases-out.json"), "--force"]
        elif command == "test":
            mc = {"StateMachines": {"def": {"TestCases": {"T": {s: "R" for s in states[:2]}}}},
                  "MockedResponses": {"R": {"0": {"Return": random_json(rng, 1)}}}}
            a = ["test", self.write("mock.json", self.file_content(rng, mc)), definition]
            if rng.random() < 0.5:
                cases = {"T": {"input": to_python(data), "expect": {"status": rng.choice(["SUCCEEDED", "FAILED"])}}}
                a += ["--cases", self.write("cases.json", self.file_content(rng, cases))]
            if rng.random() < 0.5:
                a.append("--output-format=json")
        else:  # random argv over the commands' vocabulary
            vocab = ["run", "validate", "test", "test-state", "history", "graph", "mocks", "from-history",
                     "--input", "--input-json", "--handlers", "--mock-config", "--test-case", "--name", "--type",
                     "--history", "--output-format", "--seed", "-q", "-v", "--format", "--severity", "--max-results",
                     "--cases", "--variables", "--mock-result", "--retry-count", "-o", "-", "--", "-h", "--version",
                     definition, input_file, "json", "text", "{}", "[", "EXPRESS", "0", "-1", unicode_text(rng)]
            a = [rng.choice(vocab) for _ in range(rng.randrange(0, 7))]
        if rng.random() < 0.03 and a:  # a stray argument somewhere
            a.insert(rng.randrange(len(a) + 1), rng.choice(["--bogus", "", "-", unicode_text(rng) or "u"]))
        return a, stdin

    def check_cli(self, argv: list[str], code: int, stdout: str, stderr: str) -> str:
        if code not in (0, 1, 2, 3):
            raise Finding("bad-exit", f"exit code {code}")
        if "Traceback (most recent call last)" in stdout + stderr:
            last = [l for l in (stderr or stdout).strip().splitlines() if l.strip()][-1:]
            raise Finding("traceback", f"traceback printed: {last[0] if last else ''}")
        wants_json = argv[:1] == ["run"] or any(x in ("--output-format=json", "json", "sarif") for x in argv)
        if wants_json and argv[:1] in (["run"], ["validate"], ["test-state"], ["test"]) and stdout.strip() \
                and "-h" not in argv and "--help" not in argv:
            try:
                json.loads(stdout)
            except ValueError as exc:
                if argv[0] == "run" or code in (0, 1):
                    raise Finding("non-json", f"stdout is not JSON ({exc}): {stdout[:200]!r}") from None
        command = argv[0] if argv and argv[0] in COMMANDS else "other argv"
        return f"{command}:exit{code}"

    def item_cli(self, rng: Random) -> None:
        from click.testing import CliRunner

        from asl.cli.main import get_cli

        argv, stdin = self.argv(rng)
        self.show("argv", argv)
        if stdin is not None:
            self.show("stdin", stdin[:2000])
        runner = CliRunner()
        result = runner.invoke(get_cli(), argv, input=stdin, catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            exc = result.exception
            if isinstance(exc, Hang):
                raise exc
            raise exc.with_traceback(result.exc_info[2]) if result.exc_info else exc
        out = result.stdout
        try:
            err = result.stderr
        except ValueError:
            err = ""
        self.note("cli", self.check_cli(argv, result.exit_code, out, err))

    def item_subprocess(self, rng: Random) -> None:
        argv, stdin = self.argv(rng)
        # a process's arguments are bytes: a lone surrogate cannot be passed at all
        argv = [a.encode("utf-8", "replace").decode("utf-8").replace("\0", "?") for a in argv]
        self.show("argv", argv)
        exe = os.path.join(ROOT, ".venv", "bin", "asl")
        if not os.path.exists(exe):
            exe = "asl"
        try:
            proc = subprocess.run([exe, *argv], input=stdin or b"", capture_output=True, timeout=60, cwd=self.tmp)
        except subprocess.TimeoutExpired:
            raise Hang() from None
        out = proc.stdout.decode("utf-8", "replace")
        err = proc.stderr.decode("utf-8", "replace")
        self.note("subprocess", self.check_cli(argv, proc.returncode, out, err))


# ---------------------------------------------------------------------------------------------
# Driver
# ---------------------------------------------------------------------------------------------

def category_of(seed: int, index: int) -> str:
    if index % SUBPROCESS_EVERY == SUBPROCESS_EVERY - 1:
        return "subprocess"
    rng = Random(f"{seed}:{index}:category")
    return rng.choices([c for c, _ in CATEGORIES], weights=[w for _, w in CATEGORIES])[0]


def signature(exc: BaseException) -> str:
    """Exception type and the innermost frame in the project's code: one bug, one signature."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if ROOT in f.filename and "benchmarks" not in f.filename]
    where = f"{os.path.relpath(ours[-1].filename, ROOT)}:{ours[-1].lineno}" if ours else "?"
    return f"{type(exc).__name__} at {where}"


def safe_repr(value: Any) -> str:
    if isinstance(value, str):
        return value
    import reprlib

    short = reprlib.Repr()
    short.maxlevel, short.maxstring, short.maxother, short.maxlist, short.maxdict = 12, 400, 400, 30, 30
    try:
        return short.repr(value)
    except RecursionError:
        return "<a value nested too deeply to show>"


def _alarm(signum, frame):
    raise Hang()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--only", type=int, help="replay one item")
    ap.add_argument("--category", help="run only items of this category")
    ap.add_argument("--item-timeout", type=float, default=20.0)
    ap.add_argument("--report", help="write the JSON report here")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))
    tmp = tempfile.mkdtemp(prefix="asl-fuzz-")
    os.chdir(tmp)  # written files and [tool.asl] lookups stay in a scratch directory
    fuzzer = Fuzzer(args.seed, tmp, args.verbose)
    signal.signal(signal.SIGALRM, _alarm)
    indexes = [args.only] if args.only is not None else range(args.start, args.start + args.count)
    counts: Counter = Counter()
    problems: Counter = Counter()  # (category, kind)
    findings: dict[str, dict] = {}
    slow: list = []
    current = {"index": None, "since": time.monotonic()}

    def watchdog() -> None:
        while True:
            time.sleep(5)
            if current["index"] is not None and time.monotonic() - current["since"] > args.item_timeout * 4:
                print(f"\nwatchdog: item {current['index']} could not be interrupted; go on with "
                      f"--start {current['index'] + 1}", file=sys.stderr, flush=True)
                os._exit(4)

    threading.Thread(target=watchdog, daemon=True).start()
    started = time.monotonic()
    for done, index in enumerate(indexes, 1):
        category = category_of(args.seed, index)
        if args.category and category != args.category:
            continue
        rng = Random(f"{args.seed}:{index}")
        fuzzer.repro = {}
        counts[category] += 1
        current.update(index=index, since=time.monotonic())
        t0 = time.monotonic()
        kind, exc = None, None
        signal.setitimer(signal.ITIMER_REAL, args.item_timeout)
        try:
            getattr(fuzzer, f"item_{category}")(rng)
        except Hang:
            kind, exc = "hang", None
        except Finding as f:
            kind, exc = f.kind, f
        except Exception as e:  # anything else escaping is a traceback the user would see
            kind, exc = "traceback", e
            if signature(e).endswith(" at ?"):
                kind = "fuzzer-error"  # raised in the fuzzer itself: a bug of this script
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        current["index"] = None
        elapsed = time.monotonic() - t0
        if elapsed > 2.0 and kind != "hang":
            slow.append((round(elapsed, 2), category, index))
        if kind:
            problems[(category, kind)] += 1
            if kind == "hang":
                sig = f"hang in {category}"
                last = f"no answer within {args.item_timeout}s"
            elif isinstance(exc, Finding):
                sig = f"{exc.kind}: {exc.detail[:80]}"
                last = exc.detail
            else:
                sig = signature(exc)
                last = f"{type(exc).__name__}: {str(exc)[:300]}"
            entry = findings.setdefault(sig, {"category": category, "kind": kind, "count": 0, "items": [],
                                              "last_line": last,
                                              "reproducer": {k: safe_repr(v)[:3000]
                                                             for k, v in fuzzer.repro.items()}})
            entry["count"] += 1
            if len(entry["items"]) < 10:
                entry["items"].append(index)
            if args.verbose and exc is not None and not isinstance(exc, Finding):
                traceback.print_exception(exc)
            if args.verbose:
                print(f"item {index} [{category}] {kind}: {last}", file=sys.stderr)
        if done % 1000 == 0:
            rate = done / (time.monotonic() - started)
            print(f"{done} items, {rate:.0f}/s, problems {sum(problems.values())}", file=sys.stderr, flush=True)
    total = time.monotonic() - started
    report = {
        "seed": args.seed, "start": args.start, "count": sum(counts.values()), "seconds": round(total, 1),
        "items": dict(counts),
        "problems": {f"{c}:{k}": n for (c, k), n in sorted(problems.items())},
        "totals": {k: sum(n for (c, kk), n in problems.items() if kk == k)
                   for k in ("traceback", "hang", "non-json", "bad-exit", "inconsistent", "bad-status",
                             "fuzzer-error")},
        "outcomes": {f"{c}:{o}": n for (c, o), n in sorted(fuzzer.outcomes.items())},
        "slow_items": sorted(slow, reverse=True)[:20],
        "findings": dict(sorted(findings.items(), key=lambda kv: -kv[1]["count"])),
    }
    text = json.dumps(report, indent=2, default=str)
    if args.report:
        with open(args.report, "w", encoding="utf-8") as fh:
            fh.write(text)
    print(json.dumps({k: report[k] for k in ("seed", "count", "seconds", "items", "totals")}, indent=1))
    for sig, f in report["findings"].items():
        print(f"{f['count']:6d}  [{f['category']}/{f['kind']}] {sig}: {f['last_line'][:160]}  items {f['items'][:3]}")


if __name__ == "__main__":
    main()
