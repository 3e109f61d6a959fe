"""The recorded TestState cases (/work/shared/conformance/service/test-state) run through the
library's `asl.engine.test_state`, compared as the cases' README says: the response as AWS
sends it (JSON texts), with texts that start with ``{`` parsed one level, wildcards matching
any run of characters. A refused request is compared by error code and message.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from asl.engine import TestStateError, test_state_sync
from conformance_runner import same_json

CASES = Path(os.environ.get("ASL_SERVICE_CASES", "/work/shared/conformance/service")) / "test-state"
ROLE = "arn:aws:iam::111111111111:role/TestStateRole"

# Cases the library does not pass, each with why (a name fragment -> the reason).
EXPECTED_FAILURES: dict[str, str] = {}


def _resolve(value: Any, uids: dict) -> Any:
    """The case's placeholders with values for a local run."""
    if isinstance(value, list):
        return [_resolve(v, uids) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (key, arg), = value.items()
        if key == "$var":
            return {"role_arn": ROLE, "account_id": "111111111111", "region": "us-east-1",
                    "now_iso": "2025-01-15T10:30:00.000Z"}[arg]
        if key in ("$uid", "$uuid"):
            return uids.setdefault(arg, f"{arg}{len(uids)}" if key == "$uid" else
                                   f"00000000-0000-4000-8000-{len(uids):012d}")
        if key == "$concat":
            return "".join(_resolve(part, uids) for part in arg)
        if key == "$replace":
            text, old, new = _resolve(arg, uids)
            return text.replace(old, new)
        if key == "$slice":
            text, start, end = _resolve(arg, uids)
            return text[start:end]
    return {k: _resolve(v, uids) for k, v in value.items()}


def _parsed(value: Any) -> Any:
    """The README's step 3: texts inside objects that start with ``{`` and are JSON, parsed (one level)."""
    if isinstance(value, dict):
        return {k: _parse_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_parsed(v) for v in value]
    return value


def _parse_text(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return _parsed(value)


def _json_param(params: dict, key: str) -> Any:
    text = params.get(key)
    return json.loads(text) if isinstance(text, str) else text


def run(case: dict) -> dict:
    """{"response": ...} or {"error": {"Code", "Message"}}, as the recording stores them."""
    params = _resolve(case["params"], {})
    try:
        result = test_state_sync(params["definition"], params.get("stateName"), _json_param(params, "input"),
                                 inspection_level=params.get("inspectionLevel", "INFO"),
                                 variables=params.get("variables"), mock=params.get("mock"),
                                 context=params.get("context"), state_configuration=params.get("stateConfiguration"),
                                 role_arn=params.get("roleArn"), reveal_secrets=bool(params.get("revealSecrets")),
                                 input_text=params.get("input") if isinstance(params.get("input"), str) else None,
                                 seed=0)
    except TestStateError as exc:
        return {"error": {"Code": exc.code, "Message": exc.message}}
    return {"response": _parsed(result.response())}


def _cases() -> list:
    if not CASES.is_dir():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"no recorded cases at {CASES}"))]
    params = []
    for path in sorted(CASES.glob("*.json")):
        case = json.loads(path.read_text())
        reason = next((why for fragment, why in EXPECTED_FAILURES.items() if fragment in case["name"]), None)
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        params.append(pytest.param(case, id=case["name"].split("::", 1)[-1], marks=marks))
    return params


@pytest.mark.parametrize("case", _cases())
def test_recorded_test_state_case(case):
    expect, wildcards = case["expect"], case.get("wildcards", [])
    actual = run(case)
    if "error" in expect:
        assert "error" in actual, f"expected {expect['error']}, got {actual}"
        assert actual["error"]["Code"] == expect["error"].get("Code", actual["error"]["Code"])
        if "Message" in expect["error"]:
            assert same_json(expect["error"]["Message"], actual["error"]["Message"], wildcards), actual["error"]
        return
    assert "response" in actual, f"expected a response, got {actual}"
    assert same_json(expect["response"], actual["response"], wildcards), \
        f"\nexpected {json.dumps(expect['response'], sort_keys=True)}\nactual   " \
        f"{json.dumps(actual['response'], sort_keys=True)}"
