#!/usr/bin/env python3
"""jsonpath-ng against AWS's JSONPath dialect, on every path of the conformance cases.

    pip install jsonpath-ng      # no longer a dependency: this script is why (docs/jsonpath-ng.md)
    python benchmarks/jsonpath_ng_compare.py [--repeat 200] [--json results.json]

1. Static: every path written in a recorded definition (InputPath, OutputPath, ResultPath,
   ItemsPath, Variable and the ``...Path`` comparison operators, SecondsPath, TimestampPath,
   ErrorPath, CausePath, TimeoutSecondsPath, HeartbeatSecondsPath, ``.$`` keys, and the path
   arguments of intrinsic functions) is parsed by ``jsonpath_ng.ext.parse``. Paths of cases AWS
   ran were accepted by AWS; a jsonpath-ng parse error there is a difference.
2. Dynamic: each case runs through our engine with every path evaluation recorded (the path,
   the document it was evaluated on, what came out). Only cases whose whole outcome matches
   AWS's recording (status, output, error, cause, event types) are kept, so each recorded
   evaluation is one whose result AWS's execution agrees with. jsonpath-ng evaluates the same
   path on the same document and the two results are compared.
3. Speed: compile and evaluate each recorded (path, document) pair with both libraries.

jsonpath-ng gets every benefit of the doubt: ``$$`` and ``$var`` paths are handed to it as
``$`` paths on the context object or the variable's value, and our definite/indefinite
classification decides whether its match list stands for one node (exactly one match) or a
list. ResultPath is compared with its ``update_or_create``.
"""
from __future__ import annotations

import argparse
import copy
import glob
import json
import os
import statistics
import sys
import time
from collections import Counter
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

SHARED = os.environ.get("ASL_SHARED") or os.path.join(os.path.dirname(ROOT), "shared")
if not os.path.isdir(SHARED):
    SHARED = "/work/shared"

PATH_FIELDS = {"InputPath", "OutputPath", "ResultPath", "ItemsPath", "Variable", "SecondsPath", "TimestampPath",
               "ErrorPath", "CausePath", "TimeoutSecondsPath", "HeartbeatSecondsPath", "MaxConcurrencyPath",
               "ToleratedFailureCountPath", "ToleratedFailurePercentagePath", "MaxItemsPath"}
NOT_FOUND = object()


def paths_in(definition: Any) -> list[tuple[str, str]]:
    """(field, path text) of every JSONPath written in a definition."""
    from asl.intrinsics import compile_intrinsic, is_intrinsic

    found: list[tuple[str, str]] = []
    stack = [definition]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        for key, value in node.items():
            if isinstance(value, str) and value.startswith("$"):
                if key in PATH_FIELDS or (key.endswith("Path") and key not in ("ResultWriter",)) or key.endswith(".$"):
                    found.append((key if key in PATH_FIELDS else "Choice ...Path" if key.endswith("Path")
                                  else ".$ key", value))
            elif isinstance(value, str) and key.endswith(".$") and is_intrinsic(value):
                try:
                    call = compile_intrinsic(value)
                except Exception:
                    continue
                found.extend(("intrinsic argument", p.text) for p in call.paths())
            elif isinstance(value, (dict, list)):
                stack.append(value)
    return found


def service_definitions(case: dict) -> list[Any]:
    """The definitions (parsed) sent in a service case: TestState's, CreateStateMachine's...

    Only requests AWS answered without an error count (their paths were accepted)."""
    found = []
    stack = [case]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, dict):
            failed = isinstance(node.get("expect"), dict) and "error" in node["expect"]
            params = node.get("params")
            if isinstance(params, dict) and isinstance(params.get("definition"), str) and not failed:
                try:
                    found.append(json.loads(params["definition"]))
                except ValueError:
                    pass
            stack.extend(v for k, v in node.items() if k != "params")
    return found


def inspection_checks() -> list[dict]:
    """(path, document, AWS's result) straight from TestState's inspection data: InputPath on
    the input gives afterInputPath, ResultPath places afterResultSelector into the input giving
    afterResultPath, OutputPath on afterResultPath gives the output."""
    def value(v: Any) -> Any:
        if isinstance(v, str):
            try:
                return json.loads(v)
            except ValueError:
                return v
        return v

    checks = []
    for file in sorted(glob.glob(os.path.join(SHARED, "conformance", "service", "test-state", "*.json"))):
        with open(file, encoding="utf-8") as fh:
            case = json.load(fh)
        response = case["expect"].get("response") or {}
        data = response.get("inspectionData")
        if not data or response.get("status") != "SUCCEEDED" or "{\"$" in json.dumps(case["params"]):
            continue
        params = case["params"]
        try:
            definition = json.loads(params["definition"])
        except ValueError:
            continue
        if "States" in definition:
            definition = definition["States"].get(params.get("stateName"), {})
        if definition.get("QueryLanguage") == "JSONata":
            continue
        state_input = value(params.get("input", "{}"))
        for field, root, key, result_key in (("InputPath", state_input, None, "afterInputPath"),
                                              ("ResultPath", state_input, "afterResultSelector", "afterResultPath"),
                                              ("OutputPath", data.get("afterResultPath"), None, "output")):
            path = definition.get(field, "$")
            expected = response.get("output") if result_key == "output" else data.get(result_key)
            if path is None or root is None or expected is None or (key and key not in data):
                continue
            entry = {"case": case["name"], "field": field, "path": path, "root": value(root),
                     "aws": value(expected), "op": "assign" if key else "select", "definite": True}
            if key:
                entry["value"] = value(data[key])
            checks.append(entry)
    return checks


def ng_text(text: str) -> str:
    """Our path as jsonpath-ng would be asked: ``$$.x`` and ``$var.x`` become ``$.x``."""
    if text.startswith("$$"):
        return "$" + text[2:]
    if len(text) > 1 and text[1] not in ".[":
        rest = text[1:]
        i = 0
        while i < len(rest) and (rest[i].isalnum() or rest[i] == "_"):
            i += 1
        return "$" + rest[i:]
    return text


def ng_parse(text: str) -> Any:
    from jsonpath_ng.ext import parse

    return parse(ng_text(text))


def same(a: Any, b: Any) -> bool:
    """JSON equality: 1 == 1.0, but booleans are not numbers; object key order ignored."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b


def record_evaluations() -> tuple[list[dict], Counter]:
    """Run every case through the engine, recording each path evaluation; keep passing cases'."""
    import asl
    import asl.engine.staterun as staterun
    from asl import paths
    from conformance_runner import run_case

    log: list[dict] = []
    # Every read goes through Path.evaluate while recording: templates read a path of member
    # names ($.a.b) with plain subscripts when `member_names` offers them, which would pass by
    # it. ResultPath is placed by `assign_path` as staterun imported it.
    original_evaluate, original_assign, original_names = paths.Path.evaluate, staterun.assign_path, \
        paths.Path.member_names

    def recorded(entry: dict, call) -> Any:
        try:
            entry["result"] = copy.deepcopy(call())
        except Exception as exc:
            entry["result"], entry["error"] = NOT_FOUND, type(exc).__name__
            raise
        finally:
            log.append(entry)
        return entry["result"]

    def evaluate(self, root):
        entry = {"path": self.text, "definite": self.is_definite, "root": copy.deepcopy(root), "op": "select"}
        return recorded(entry, lambda: original_evaluate(self, root))

    def assign(doc, path, value):
        entry = {"path": path.text, "root": copy.deepcopy(doc), "value": copy.deepcopy(value), "op": "assign"}
        return recorded(entry, lambda: original_assign(doc, path, value))

    paths.Path.evaluate, staterun.assign_path, paths.Path.member_names = evaluate, assign, property(lambda self: None)
    kept: list[dict] = []
    tally: Counter = Counter()
    try:
        for file in sorted(glob.glob(os.path.join(SHARED, "conformance", "cases", "*.json"))):
            with open(file, encoding="utf-8") as fh:
                case = json.load(fh)
            if case["expected"]["status"] == "INVALID_DEFINITION":
                continue
            del log[:]
            try:
                problems = run_case(case)
            except Exception:
                problems = ["raised"]
            if problems:
                tally["cases not matching AWS (evaluations dropped)"] += 1
                continue
            tally["cases matching AWS"] += 1
            if log:
                tally["cases with path evaluations"] += 1
            for entry in log:
                entry["case"] = case["name"]
            kept.extend(log)
    finally:
        paths.Path.evaluate, staterun.assign_path, paths.Path.member_names = original_evaluate, original_assign, \
            original_names
    return kept, tally


def ng_outcome(entry: dict) -> tuple[str, Any]:
    """("ok", value) / ("not found", None) / ("parse error", message) / ("error", message)."""
    try:
        expr = ng_parse(entry["path"])
    except Exception as exc:
        return "parse error", f"{type(exc).__name__}: {exc}"
    try:
        if entry["op"] == "assign":
            return "ok", expr.update_or_create(copy.deepcopy(entry["root"]), copy.deepcopy(entry["value"]))
        values = [m.value for m in expr.find(entry["root"])]
    except Exception as exc:
        return "error", f"{type(exc).__name__}: {exc}"
    if entry["definite"]:
        if not values:
            return "not found", None
        if len(values) > 1:
            return "ok", values  # several matches for what AWS treats as one node: differs
        return "ok", values[0]
    return "ok", values


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=200, help="evaluations per pair for the speed figures")
    ap.add_argument("--json", help="write the full results here")
    args = ap.parse_args()
    try:
        import jsonpath_ng
    except ImportError:
        sys.exit("jsonpath-ng is not a dependency of asl-engine (docs/jsonpath-ng.md): "
                 "pip install jsonpath-ng to run this comparison")

    from asl.paths import compile_path
    from asl.errors import ExpressionSyntaxError

    # -- 1. static ------------------------------------------------------------------------------
    static: list[dict] = []
    for file in sorted(glob.glob(os.path.join(SHARED, "conformance", "cases", "*.json"))):
        with open(file, encoding="utf-8") as fh:
            case = json.load(fh)
        invalid = case["expected"]["status"] == "INVALID_DEFINITION"
        for field, text in paths_in(case["definition"]):
            static.append({"case": case["name"], "field": field, "path": text, "aws_ran": not invalid})
    for file in sorted(glob.glob(os.path.join(SHARED, "conformance", "service", "*", "*.json"))):
        with open(file, encoding="utf-8") as fh:
            case = json.load(fh)
        for definition in service_definitions(case):
            for field, text in paths_in(definition):
                static.append({"case": case["name"], "field": field, "path": text, "aws_ran": True})
    unique = {}
    for s in static:
        unique.setdefault((s["path"], s["aws_ran"]), s)
    parse_rows = []
    for (text, aws_ran), s in sorted(unique.items()):
        try:
            compile_path(text)
            ours = True
        except ExpressionSyntaxError:
            ours = False
        try:
            ng_parse(text)
            theirs, why = True, ""
        except Exception as exc:
            theirs, why = False, f"{type(exc).__name__}: {exc}"
        parse_rows.append({"path": text, "field": s["field"], "case": s["case"], "aws_ran": aws_ran,
                           "ours_parses": ours, "ng_parses": theirs, "ng_error": why})
    accepted = [r for r in parse_rows if r["aws_ran"]]
    rejected_by_aws = [r for r in parse_rows if not r["aws_ran"] and not r["ours_parses"]]

    # -- 2. dynamic -----------------------------------------------------------------------------
    evaluations, tally = record_evaluations()
    pairs: dict = {}
    for e in evaluations:
        key = (e["op"], e["path"], json.dumps(e["root"], sort_keys=True, default=str),
               json.dumps(e.get("value"), sort_keys=True, default=str))
        pairs.setdefault(key, e)
    verdicts: Counter = Counter()
    differences = []
    for e in pairs.values():
        kind, value = ng_outcome(e)
        ours_missing = e["result"] is NOT_FOUND
        if kind == "parse error":
            verdict = "parse error"
        elif kind == "error":
            verdict = "error" if not ours_missing else "agrees (both fail)"
        elif kind == "not found":
            verdict = "agrees" if ours_missing else "differs"
        elif ours_missing:
            verdict = "differs" if e["op"] == "select" else "differs (AWS fails the state)"
        else:
            verdict = "agrees" if same(e["result"], value) else "differs"
        verdicts[verdict] += 1
        if not verdict.startswith("agrees"):
            differences.append({"case": e["case"], "op": e["op"], "path": e["path"], "verdict": verdict,
                                "input": json.dumps(e["root"], default=str)[:200],
                                "aws": "error: " + e.get("error", "") if ours_missing
                                else json.dumps(e["result"], default=str)[:200],
                                "jsonpath_ng": (value if kind in ("parse error", "error")
                                                else json.dumps(value, default=str)[:200])})

    # -- 2b. TestState inspection data: AWS's own result for each path ------------------------
    from asl.paths import assign_path

    inspection = inspection_checks()
    direct: Counter = Counter()
    for e in inspection:
        path = compile_path(e["path"])
        ours = assign_path(e["root"], path, e["value"]) if e["op"] == "assign" else path.evaluate(e["root"])
        direct["ours agrees with AWS" if same(ours, e["aws"]) else "ours differs from AWS"] += 1
        kind, theirs = ng_outcome(e)
        ok = kind == "ok" and same(theirs, e["aws"])
        direct["jsonpath-ng agrees with AWS" if ok else "jsonpath-ng differs from AWS"] += 1
        if not ok:
            differences.append({"case": e["case"], "op": e["op"], "path": e["path"], "verdict": "differs (TestState)",
                                "input": json.dumps(e["root"])[:200], "aws": json.dumps(e["aws"])[:200],
                                "jsonpath_ng": theirs if kind != "ok" else json.dumps(theirs, default=str)[:200]})

    # -- 3. speed -------------------------------------------------------------------------------
    from jsonpath_ng.ext import parse as ng

    from asl.paths import _compile_cached

    timed = [e for e in pairs.values() if e["op"] == "select" and e["result"] is not NOT_FOUND]
    ng_ok = []
    for e in timed:
        try:
            ng(ng_text(e["path"]))
            ng_ok.append(e)
        except Exception:
            pass

    def clock(fn) -> float:
        best = []
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            best.append(time.perf_counter() - t0)
        return min(best)

    def ours_compile():
        for e in ng_ok:
            _compile_cached.__wrapped__(e["path"])

    def ng_compile():
        for e in ng_ok:
            ng(ng_text(e["path"]))

    ours_compiled = [(compile_path(e["path"]), e["root"]) for e in ng_ok]
    ng_compiled = [(ng(ng_text(e["path"])), e["root"]) for e in ng_ok]

    def ours_eval():
        for _ in range(args.repeat):
            for p, root in ours_compiled:
                p.evaluate(root)

    def ng_eval():
        for _ in range(args.repeat):
            for p, root in ng_compiled:
                [m.value for m in p.find(root)]

    n = len(ng_ok)
    speed = {
        "pairs": n,
        "compile_us": {"ours": clock(ours_compile) / max(n, 1) * 1e6, "jsonpath_ng": clock(ng_compile) / max(n, 1) * 1e6},
        "evaluate_us": {"ours": clock(ours_eval) / max(n * args.repeat, 1) * 1e6,
                        "jsonpath_ng": clock(ng_eval) / max(n * args.repeat, 1) * 1e6},
    }

    summary = {
        "jsonpath_ng": jsonpath_ng.__version__,
        "static": {"paths written (with repeats)": len(static), "distinct paths in cases AWS ran": len(accepted),
                   "of those, jsonpath-ng cannot parse": sum(not r["ng_parses"] for r in accepted),
                   "of those, we cannot parse": sum(not r["ours_parses"] for r in accepted),
                   "distinct paths AWS rejected (INVALID_DEFINITION, rejected by us)": len(rejected_by_aws),
                   "of those, jsonpath-ng parses": sum(r["ng_parses"] for r in rejected_by_aws)},
        "dynamic": {**dict(tally), "evaluations recorded": len(evaluations),
                    "distinct (path, document) pairs": len(pairs), **dict(verdicts)},
        "testState inspection data": {"checks": len(inspection), **dict(direct)},
        "speed": speed,
    }
    print(json.dumps(summary, indent=1))
    print("\njsonpath-ng cannot parse (paths AWS accepted):")
    for r in accepted:
        if not r["ng_parses"]:
            print(f"  {r['path']!r:45} {r['field']:20} {r['ng_error'][:70]}")
    print("\nevaluations that differ:")
    for d in differences:
        print(f"  [{d['verdict']}] {d['op']} {d['path']!r} on {d['input'][:60]}: AWS {d['aws'][:60]} | "
              f"jsonpath-ng {str(d['jsonpath_ng'])[:60]}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"summary": summary, "parse": parse_rows, "differences": differences}, fh, indent=1,
                      default=str)


if __name__ == "__main__":
    main()
