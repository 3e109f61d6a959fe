"""Run one conformance case through the public API and compare as the cases' README says."""
from __future__ import annotations

import re
from typing import Any

import asl
from asl.engine import run_sync


def mock_config(case: dict) -> dict | None:
    """The case's mocks as a Step Functions Local MockConfigFile (one test case)."""
    mocks = case.get("mocks")
    if not mocks:
        return None
    responses, mapping = {}, {}
    for state, entries in mocks.items():
        key = f"{state}Responses"
        responses[key] = {str(i): entry for i, entry in enumerate(entries)}
        mapping[state] = key
    return {"StateMachines": {"Case": {"TestCases": {"Recorded": mapping}}}, "MockedResponses": responses}


def _wild_string(expected: str, actual: Any, wildcards: list[str]) -> bool:
    if expected in wildcards:
        return True
    if not isinstance(actual, str):
        return False
    if not any(w in expected for w in wildcards):
        return expected == actual
    pattern = re.escape(expected)
    for w in sorted(wildcards, key=len, reverse=True):
        pattern = pattern.replace(re.escape(w), ".*")
    return re.fullmatch(pattern, actual, re.S) is not None


def same_json(expected: Any, actual: Any, wildcards: list[str]) -> bool:
    if isinstance(expected, str):
        return _wild_string(expected, actual, wildcards)
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual if isinstance(expected, bool) and isinstance(actual, bool) else False
    if isinstance(expected, (int, float)):
        return isinstance(actual, (int, float)) and expected == actual
    if isinstance(expected, dict):
        return (isinstance(actual, dict) and expected.keys() == actual.keys()
                and all(same_json(v, actual[k], wildcards) for k, v in expected.items()))
    if isinstance(expected, list):
        return (isinstance(actual, list) and len(expected) == len(actual)
                and all(same_json(e, a, wildcards) for e, a in zip(expected, actual)))
    return expected is None and actual is None


def key_order_differences(expected: Any, actual: Any, path: str = "$") -> list[str]:
    """Where an object's members come in another order than AWS wrote them (the same members):
    AWS writes a template's `.$` members and JsonMerge's result in java.util.HashMap order."""
    found = []
    if isinstance(expected, dict) and isinstance(actual, dict):
        if expected.keys() == actual.keys() and list(expected) != list(actual):
            found.append(f"{path}: members in the order {list(actual)}, AWS wrote {list(expected)}")
        for key, value in expected.items():
            if key in actual:
                found += key_order_differences(value, actual[key], f"{path}.{key}")
    elif isinstance(expected, list) and isinstance(actual, list):
        for index, (e, a) in enumerate(zip(expected, actual)):
            found += key_order_differences(e, a, f"{path}[{index}]")
    return found


def run_case(case: dict) -> list[str]:
    """Problems found (empty when the case passes)."""
    expected = case["expected"]
    wild = case.get("wildcards", [])
    machine = asl.load(case["definition"], type=case.get("type", "STANDARD"))
    config = mock_config(case)
    result = run_sync(machine, case.get("input"), mock_config=config, test_case="Recorded" if config else None,
                      state_machine_name="Case", type=case.get("type", "STANDARD"), check_handlers=False)
    problems = []
    if result.status != expected["status"]:
        problems.append(f"status {result.status} (error={result.error!r} cause={result.cause!r}), "
                        f"expected {expected['status']}")
    if "output" in expected and not same_json(expected["output"], result.output, wild):
        problems.append(f"output {result.output!r}, expected {expected['output']!r}")
    elif "output" in expected:
        problems += key_order_differences(expected["output"], result.output)
    for key in ("error", "cause"):
        if key in expected and not _wild_string(expected[key], getattr(result, key), wild):
            problems.append(f"{key} {getattr(result, key)!r}, expected {expected[key]!r}")
    if "events" in expected:
        ours = result.history.types()
        theirs = expected["events"]
        if expected.get("events_ordered", True) is False:
            ours, theirs = sorted(ours), sorted(theirs)
        if ours != theirs:
            problems.append(f"events {ours}, expected {theirs}")
    return problems
