"""Every conformance case's definition through the validator.

A case AWS rejected (status INVALID_DEFINITION) must be rejected with the recorded code (and,
where recorded, the same message and location); every other case's definition must be
accepted, since AWS ran it.
"""
from __future__ import annotations

import re

import pytest

import asl
from conftest import conformance_cases

CASES = conformance_cases()
INVALID = [c for c in CASES if c["expected"]["status"] == "INVALID_DEFINITION"]
VALID = [c for c in CASES if c["expected"]["status"] != "INVALID_DEFINITION"]
# 'Invalid State Machine Definition: 'CODE: message at location, CODE: ...''
_CREATE = re.compile(r"^Invalid State Machine Definition: '(.*)'$", re.S)
_ONE = re.compile(r"([A-Z_]+): (.*?) at (/[^,]*|null)(?:, (?=[A-Z_]+: )|$)", re.S)


def recorded_diagnostics(case: dict) -> list[tuple[str, str, str | None]]:
    expected = case["expected"]
    if expected.get("diagnostics"):
        return [(d["code"], d["message"], d.get("location")) for d in expected["diagnostics"]
                if d.get("severity", "ERROR") == "ERROR"]
    m = _CREATE.match(expected.get("message", ""))
    assert m, f"unrecognised recorded message: {expected.get('message')!r}"
    return [(code, msg, None if loc == "null" else loc) for code, msg, loc in _ONE.findall(m.group(1))]


def _wild(text: str, case: dict) -> re.Pattern:
    pattern = re.escape(text)
    for w in case.get("wildcards", []):
        pattern = pattern.replace(re.escape(w), ".*")
    return re.compile(f"^{pattern}$", re.S)


@pytest.mark.parametrize("case", INVALID, ids=[c["_file"] for c in INVALID])
def test_rejected_as_aws_rejects(case):
    result = asl.validate(case["definition"], type=case.get("type", "STANDARD"))
    assert not result.ok, f"AWS rejected this definition; we accepted it: {case['expected']}"
    ours = [(d.code, d.message, d.location) for d in result.errors]
    for code, message, location in recorded_diagnostics(case):
        matches = [o for o in ours if o[0] == code and _wild(message, case).match(o[1]) and o[2] == location]
        assert matches, f"missing AWS diagnostic {code}: {message} at {location}; ours: {ours}"


@pytest.mark.parametrize("case", VALID, ids=[c["_file"] for c in VALID])
def test_accepted_as_aws_accepts(case):
    result = asl.validate(case["definition"], type=case.get("type", "STANDARD"))
    assert result.ok, [str(d) for d in result.errors]
