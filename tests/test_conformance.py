"""Every conformance case of ../shared/conformance, run through the public API.

A case that cannot pass yet is listed in KNOWN_FAILURES with a one-line reason and runs as an
expected failure (strict: if it starts passing, the test says so).
"""
from __future__ import annotations

import pytest

from conftest import conformance_cases
from conformance_runner import run_case

CASES = [c for c in conformance_cases() if c["expected"]["status"] != "INVALID_DEFINITION"]

# file name -> reason it cannot pass yet
KNOWN_FAILURES: dict[str, str] = {}


def _param(case: dict):
    reason = KNOWN_FAILURES.get(case["_file"])
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    return pytest.param(case, id=case["_file"], marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_case(case):
    problems = run_case(case)
    assert not problems, "\n".join(problems)
