"""TestState's revealSecrets for an HTTP Task, through `asl serve` with boto3 (API TestState:
TRACE "shows the HTTP request and response for an HTTP Task"; revealSecrets "for HTTP Tasks, a
secret includes the data that an EventBridge connection adds to modify the HTTP request headers,
query parameters, and body. Step Functions doesn't omit any information included in the state
definition or the HTTP response"). The Task calls a local HTTP server started here; the
connection (API key header, extra header, query and body parameters) comes from --connections."""
from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler

import pytest

pytest.importorskip("httpx")
pytest.importorskip("boto3")
pytest.importorskip("uvicorn")

from support.fake_aws import serve  # noqa: E402
from test_service import ROLE, Server  # noqa: E402

CONNECTION = "arn:aws:events:us-east-1:123456789012:connection/shop/1a2b3c"


class Echo(BaseHTTPRequestHandler):
    seen: list = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        self.seen.append({"path": self.path, "headers": dict(self.headers), "body": body})
        data = json.dumps({"ok": True}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def setup(tmp_path):
    http, url = serve(Echo)
    (tmp_path / "connections.json").write_text(json.dumps({CONNECTION: {
        "AuthorizationType": "API_KEY",
        "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "key-s3cret"},
                           "InvocationHttpParameters": {
                               "HeaderParameters": [{"Key": "x-tenant", "Value": "tenant-s3cret"}],
                               "QueryStringParameters": [{"Key": "sig", "Value": "sig-s3cret"}],
                               "BodyParameters": [{"Key": "token", "Value": "body-s3cret"}]}}}}))
    srv = Server(tmp_path, "memory", "--connections", "connections.json").start()
    yield srv.client(), url
    srv.stop()
    http.shutdown()


def definition(url: str) -> str:
    return json.dumps({"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "End": True, "Parameters": {
        "ApiEndpoint": url + "/orders", "Method": "POST", "Authentication": {"ConnectionArn": CONNECTION},
        "Headers": {"x-order": "o-1"}, "QueryParameters": {"page": "2"}, "RequestBody": {"item": "book"}}})


def test_trace_hides_what_the_connection_adds_unless_reveal_secrets(setup):
    sfn, url = setup
    hidden = sfn.test_state(definition=definition(url), roleArn=ROLE, inspectionLevel="TRACE")
    assert hidden["status"] == "SUCCEEDED", hidden
    sent = Echo.seen[-1]  # the server got everything, secrets included
    assert sent["headers"]["x-api-key"] == "key-s3cret" and sent["headers"]["x-tenant"] == "tenant-s3cret"
    assert "sig=sig-s3cret" in sent["path"] and json.loads(sent["body"]) == {"item": "book", "token": "body-s3cret"}

    request, response = hidden["inspectionData"]["request"], hidden["inspectionData"]["response"]
    assert "s3cret" not in json.dumps(hidden)  # nothing of the connection's, anywhere
    assert request["method"] == "POST" and request["url"] == url + "/orders?page=2"
    # as AWS's developer guide shows a TRACE answer (test-state-isolation, Example 3): protocol is
    # the URL's scheme; the headers Step Functions sets, as "[Name: value, ...]" (no Content-Type)
    assert request["protocol"] == response["protocol"] == "http"
    assert request["headers"] == "[x-order: o-1, User-Agent: Amazon|StepFunctions|HttpInvoke|us-east-1, " \
                                 "Range: bytes=0-262144]"
    assert sent["headers"]["Content-Type"] == "application/json; charset=UTF-8"  # sent, but not shown
    assert json.loads(request["body"]) == {"item": "book"}
    assert (response["statusCode"], response["statusMessage"], json.loads(response["body"])) == ("200", "OK",
                                                                                                  {"ok": True})
    assert "Content-Type: application/json" in response["headers"]

    shown = sfn.test_state(definition=definition(url), roleArn=ROLE, inspectionLevel="TRACE", revealSecrets=True)
    request = shown["inspectionData"]["request"]
    # the auth header, then the connection's headers (AWS: "Authorization: Basic ..., CustomHeader1: ..."),
    # then the Task's, as they are sent (the connection's before the Task's: recorded on AWS,
    # radkawar/stackd http_connections.json, basic-merge-json)
    assert request["headers"] == "[x-api-key: key-s3cret, x-tenant: tenant-s3cret, x-order: o-1, " \
                                 "User-Agent: Amazon|StepFunctions|HttpInvoke|us-east-1, Range: bytes=0-262144]"
    assert request["url"] == url + "/orders?page=2&sig=sig-s3cret"
    assert json.loads(request["body"]) == {"item": "book", "token": "body-s3cret"}
    assert shown["inspectionData"]["response"] == response | {"headers": shown["inspectionData"]["response"]["headers"]}


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_below_trace_there_is_no_request_or_response(setup, level):
    sfn, url = setup
    answer = sfn.test_state(definition=definition(url), roleArn=ROLE, inspectionLevel=level, revealSecrets=True)
    assert answer["status"] == "SUCCEEDED"
    assert "request" not in answer.get("inspectionData", {}) and "response" not in answer.get("inspectionData", {})
    assert "s3cret" not in json.dumps(answer)
