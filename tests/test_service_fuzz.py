"""Random targets and bodies never make the service answer 500 or hang (the ASGI app, in process)."""
from __future__ import annotations

import asyncio
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("botocore")

from asl.service.protocol import operations  # noqa: E402

ACTIONS = sorted(operations())
json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                                        max_size=4), max_leaves=12)
MEMBERS = ["name", "definition", "roleArn", "stateMachineArn", "executionArn", "input", "maxResults", "nextToken",
           "type", "tags", "routingConfiguration", "stateName", "mock", "resourceArn", "activityArn", "taskToken"]
bodies = st.one_of(st.binary(max_size=60),
                   st.dictionaries(st.sampled_from(MEMBERS), json_values, max_size=5).map(
                       lambda d: json.dumps(d).encode()))
targets = st.one_of(st.sampled_from(ACTIONS).map(lambda a: "AWSStepFunctions." + a), st.text(max_size=30),
                    st.none())


@pytest.fixture(scope="module")
def app():
    from asl.service import create_app

    return create_app("memory")


async def call(app, target, body: bytes) -> int:
    headers = [(b"content-type", b"application/x-amz-json-1.0")]
    if target is not None:
        headers.append((b"x-amz-target", target.encode("utf-8", "surrogatepass")))
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    await asyncio.wait_for(app({"type": "http", "method": "POST", "path": "/", "headers": headers}, receive, send), 10)
    start = sent[0]
    json.loads(sent[1]["body"])  # always a JSON answer
    return start["status"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=targets, body=bodies)
def test_random_requests_never_500(app, target, body):
    status = asyncio.run(call(app, target, body))
    assert status in (200, 400, 413), status
