"""The HTTP Task (``http:invoke``) and ``apigateway:invoke`` through httpx, against a test HTTP
server on 127.0.0.1 that records what it receives. Expected shapes and names: INTEGRATIONS-SPEC.md
sections 3 and 7 (DG "call-https-apis": result {Headers, ResponseBody, StatusCode, StatusText},
States.Http.StatusCode.NNN, States.Http.Socket, the User-Agent and Range headers Step Functions
adds, the URL-encoding array formats; LS for API Gateway's ApiGateway.<status>)."""
from __future__ import annotations

import base64
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote

import pytest

import asl
from asl.engine import run_sync

pytest.importorskip("httpx")
pytest.importorskip("boto3")

CONNECTION = "arn:aws:events:us-east-1:123456789012:connection/shop/1a2b3c"


class Recorder(BaseHTTPRequestHandler):
    seen: list = []

    def log_message(self, *args):
        pass

    def date_time_string(self, timestamp=None):  # a fixed Date for /late: its answers compare equal
        return "Thu, 01 Jan 1970 00:00:00 GMT" if self.path.startswith("/late") else super().date_time_string(timestamp)

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        path, _, query = self.path.partition("?")
        self.seen.append({"method": self.command, "path": path, "query": query, "headers": dict(self.headers),
                          "body": body})
        if path == "/token":
            data, status, kind = json.dumps({"access_token": "tok-123", "token_type": "bearer"}), 200, \
                "application/json"
        elif path.startswith("/missing"):
            data, status, kind = json.dumps({"message": "no such order"}), 404, "application/json"
        elif path.startswith("/forbidden"):
            data, status, kind = "go away", 403, "text/plain"
        elif path == "/text":
            data, status, kind = "plain words", 200, "text/plain"
        elif path == "/late":  # answers after ?delay= real seconds
            time.sleep(float(dict(parse_qsl(query))["delay"]))
            data, status, kind = json.dumps({"path": path}), 200, "application/json"
        else:
            data, status, kind = json.dumps({"ok": True, "path": path}), 200, "application/json"
        raw = data.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("X-Trace", "a")
        self.send_header("X-Trace", "b")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = answer


@pytest.fixture
def site(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    connections = {
        CONNECTION: {"AuthorizationType": "API_KEY", "AuthParameters": {
            "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "secret-key"},
            "InvocationHttpParameters": {"HeaderParameters": [{"Key": "X-Tenant", "Value": "t1"}],
                                         "QueryStringParameters": [{"Key": "tenant", "Value": "t1"}]}}},
        "basic": {"AuthorizationType": "BASIC", "AuthParameters": {
            "BasicAuthParameters": {"Username": "ann", "Password": "pw"}}},
        "oauth": {"AuthorizationType": "OAUTH_CLIENT_CREDENTIALS", "AuthParameters": {"OAuthParameters": {
            "AuthorizationEndpoint": f"{url}/token", "HttpMethod": "POST",
            "ClientParameters": {"ClientID": "cid", "ClientSecret": "csecret"},
            "OAuthHttpParameters": {"BodyParameters": [{"Key": "scope", "Value": "orders"}]}}}},
    }
    path = tmp_path / "connections.json"
    path.write_text(json.dumps(connections))
    yield {"url": url, "aws": {"connections": str(path), "region": "us-east-1"}}
    server.shutdown()
    server.server_close()


def call(site, parameters: dict, resource: str = "arn:aws:states:::http:invoke"):
    machine = asl.load({"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": resource,
                                                               "Parameters": parameters, "End": True}}})
    return run_sync(machine, {}, aws=site["aws"])


def test_get_with_query_headers_and_an_api_key_connection(site):
    result = call(site, {"ApiEndpoint": f"{site['url']}/orders/7", "Method": "GET",
                         "Authentication": {"ConnectionArn": CONNECTION},
                         "QueryParameters": {"expand": "items", "tag": ["a", "b"]}, "Headers": {"X-Custom": "1"}})
    assert result.status == "SUCCEEDED", result.cause
    out = result.output
    assert list(out) == ["Headers", "ResponseBody", "StatusCode", "StatusText"]
    assert out["StatusCode"] == 200 and out["StatusText"] == "OK"
    assert out["ResponseBody"] == {"ok": True, "path": "/orders/7"}  # JSON parsed
    assert out["Headers"]["X-Trace"] == ["a", "b"]
    (seen,) = Recorder.seen
    assert parse_qsl(seen["query"]) == [("expand", "items"), ("tag", "a"), ("tag", "b"), ("tenant", "t1")]
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["x-api-key"] == "secret-key" and headers["x-tenant"] == "t1" and headers["x-custom"] == "1"
    assert headers["user-agent"] == "Amazon|StepFunctions|HttpInvoke|us-east-1"
    assert headers["range"] == "bytes=0-262144"
    assert "secret-key" not in json.dumps(result.history.events)  # secrets stay out of the history


def test_post_json_body_and_basic_auth(site):
    result = call(site, {"ApiEndpoint": f"{site['url']}/orders", "Method": "POST",
                         "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:123456789012:connection/basic/x"},
                         "RequestBody": {"id": 1, "items": ["a"]}})
    assert result.status == "SUCCEEDED", result.cause
    (seen,) = Recorder.seen
    assert json.loads(seen["body"]) == {"id": 1, "items": ["a"]}
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["content-type"] == "application/json; charset=UTF-8"
    assert headers["authorization"] == "Basic " + base64.b64encode(b"ann:pw").decode()


@pytest.mark.parametrize("array_format, expected", [
    (None, "name=ann&tags[0]=x&tags[1]=y"),
    ("INDICES", "name=ann&tags[0]=x&tags[1]=y"),
    ("BRACKETS", "name=ann&tags[]=x&tags[]=y"),
    ("REPEAT", "name=ann&tags=x&tags=y"),
    ("COMMAS", "name=ann&tags=x,y"),
])
def test_url_encoded_body_array_formats(site, array_format, expected):
    transform = {"RequestBodyEncoding": "URL_ENCODED"}
    if array_format:
        transform["RequestEncodingOptions"] = {"ArrayFormat": array_format}
    result = call(site, {"ApiEndpoint": f"{site['url']}/form", "Method": "POST", "Transform": transform,
                         "RequestBody": {"name": "ann", "tags": ["x", "y"]}})
    assert result.status == "SUCCEEDED", result.cause
    (seen,) = Recorder.seen
    assert unquote(seen["body"]) == expected
    assert seen["headers"]["Content-Type"] == "application/x-www-form-urlencoded"


def test_oauth_client_credentials_fetches_a_token(site):
    result = call(site, {"ApiEndpoint": f"{site['url']}/orders", "Method": "GET",
                         "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:123456789012:connection/oauth/y"}})
    assert result.status == "SUCCEEDED", result.cause
    token, request = Recorder.seen
    assert token["path"] == "/token"
    assert dict(parse_qsl(token["body"])) == {"grant_type": "client_credentials", "scope": "orders"}
    assert token["headers"]["Authorization"] == "Basic " + base64.b64encode(b"cid:csecret").decode()
    assert request["headers"]["Authorization"] == "Bearer tok-123"


def test_status_outside_2xx_is_states_http_status_code(site):
    machine = {"ApiEndpoint": f"{site['url']}/missing", "Method": "GET"}
    result = call(site, machine)
    assert result.status == "FAILED" and result.error == "States.Http.StatusCode.404"
    cause = json.loads(result.cause)
    assert cause["StatusCode"] == 404 and cause["ResponseBody"] == {"message": "no such order"}


def test_no_server_is_states_http_socket_and_bad_parameters_are_states_runtime(site):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    result = call(site, {"ApiEndpoint": f"http://127.0.0.1:{port}/x", "Method": "GET"})
    assert result.error == "States.Http.Socket"
    result = call(site, {"ApiEndpoint": f"{site['url']}/x", "Method": "FETCH"})
    assert result.error == "States.Runtime"
    assert "could not be used to start the Task: [The value of the field 'Method' has an invalid format]" in result.cause
    result = call(site, {"ApiEndpoint": f"{site['url']}/x", "Method": "GET",
                         "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:123456789012:connection/nope/z"}})
    assert result.error == "Events.ConnectionResource.ResourceNotFound"


def test_api_gateway_invoke(site):
    ok = call(site, {"ApiEndpoint": site["url"], "Method": "GET", "Stage": "prod", "Path": "orders/7",
                     "Headers": {"X-A": ["1", "2"]}, "QueryParameters": {"q": ["x"]}},
              "arn:aws:states:::apigateway:invoke")
    assert ok.status == "SUCCEEDED", ok.cause
    assert ok.output["ResponseBody"] == {"ok": True, "path": "/prod/orders/7"} and ok.output["StatusCode"] == 200
    (seen,) = Recorder.seen
    assert seen["query"] == "q=x" and seen["headers"]["X-A"] == "1,2"
    denied = call(site, {"ApiEndpoint": site["url"], "Method": "GET", "Path": "forbidden"},
                  "arn:aws:states:::apigateway:invoke")
    assert denied.error == "ApiGateway.403" and denied.cause == "go away"


def test_server_timing_never_changes_the_history_under_virtual_time(site):
    """HTTP Tasks' answers come back in the order the calls were made, at moments when the
    rest of the run is blocked, as a sync handler's do (tests/test_determinism.py): whichever
    branch's server answers first, a run under virtual time records the same history."""
    from asl.engine.clock import VirtualClock

    def branch(name: str, delay: float) -> dict:
        return {"StartAt": name, "States": {name: {
            "Type": "Task", "Resource": "arn:aws:states:::http:invoke", "End": True,
            "Parameters": {"ApiEndpoint": f"{site['url']}/late", "Method": "GET",
                           "QueryParameters": {"delay": str(delay)}},
            "ResultSelector": {"body.$": "$.ResponseBody"}}}}  # not the Date header

    def run(a_delay: float, b_delay: float):
        machine = asl.load({"StartAt": "Both", "States": {"Both": {"Type": "Parallel", "End": True, "Branches": [
            branch("A", a_delay), branch("B", b_delay)]}}})
        result = run_sync(machine, {}, seed=1, clock=VirtualClock(start=0), aws=site["aws"])
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        return result

    def history(result) -> list:  # every event but the parameters (the delays differ)
        return [{k: v for k, v in e.items() if k != "taskScheduledEventDetails"} for e in result.events]

    slow_a, slow_b = run(0.3, 0), run(0, 0.3)
    assert slow_a.output == slow_b.output
    assert [e["type"] for e in slow_a.events] == [e["type"] for e in slow_b.events]
    assert history(slow_a) == history(slow_b)
