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
        elif path == "/image":
            data, status, kind = "PNG", 200, "image/png"
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
    # a connections file alone (as `asl run --connections FILE`): no other service is called
    yield {"url": url, "aws": {"connections": str(path), "region": "us-east-1", "only": True}}
    server.shutdown()
    server.server_close()


def call(site, parameters: dict, resource: str = "arn:aws:states:::http:invoke"):
    machine = asl.load({"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": resource,
                                                               "Parameters": parameters, "End": True}}})
    return run_sync(machine, {}, aws=site["aws"])


def test_get_with_query_headers_and_an_api_key_connection(site):
    result = call(site, {"ApiEndpoint": f"{site['url']}/orders/7", "Method": "GET",
                         "Authentication": {"ConnectionArn": CONNECTION},
                         "QueryParameters": {"expand": "items", "tag": ["a", "b"], "tenant": "mine"},
                         "Headers": {"X-Custom": "1", "x-tenant": "mine"}})
    assert result.status == "SUCCEEDED", result.cause
    out = result.output
    assert list(out) == ["Headers", "ResponseBody", "StatusCode", "StatusText"]
    assert out["StatusCode"] == 200 and out["StatusText"] == "OK"
    assert out["ResponseBody"] == {"ok": True, "path": "/orders/7"}  # JSON parsed
    assert out["Headers"]["X-Trace"] == ["a", "b"]
    (seen,) = Recorder.seen
    assert parse_qsl(seen["query"]) == [("expand", "items"), ("tag", "a"), ("tag", "b"), ("tenant", "t1")]
    # the connection's parameters win over the Task's of the same name (DG "call-https-apis")
    assert [k for k in seen["headers"] if k.lower() == "x-tenant"] == ["X-Tenant"]
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
    # the status text alone, as a user observed on AWS ("cause": "Bad Request" for a 400)
    assert result.cause == "Not Found"


@pytest.mark.parametrize("name", ["Host", "authorization", "X-Amz-Date", "x-amzn-trace-id", "X-Forwarded-For",
                                  "If-None-Match", "Accept-Encoding", "Cache-Control"])
def test_headers_aws_forbids_fail_with_states_runtime_before_any_request(site, name):
    """DG "call-https-apis" (HTTP Task fields, Headers): these names and the x-forwarded-*,
    x-amz-*, x-amzn-* prefixes fail the HTTP Task with States.Runtime; Authorization too (AWS's
    diagnostic recorded in the console: "The 'Headers' field contains unsupported values:
    [authorization]")."""
    machine = asl.load({"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": "arn:aws:states:::http:invoke",
        "Parameters": {"ApiEndpoint": f"{site['url']}/x", "Method": "GET", "Headers.$": "$.headers"},
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": True},
        "Caught": {"Type": "Succeed"}}})
    result = run_sync(machine, {"headers": {"X-Fine": "1", name: "v"}}, aws=site["aws"])
    assert result.status == "FAILED" and result.error == "States.Runtime"  # not caught, as AWS's States.Runtime
    assert result.cause.endswith(f"could not be used to start the Task: [The 'Headers' field contains "
                                 f"unsupported values: [{name.lower()}]]")
    assert Recorder.seen == []
    ok = run_sync(machine, {"headers": {"X-Fine": "1", "X-Amzing": "2", "Content-Type": "text/plain"}}, aws=site["aws"])
    assert ok.status == "SUCCEEDED", ok.cause


def _literal_headers(resource: str, headers: dict) -> dict:
    return {"StartAt": "Call", "States": {"Call": {
        "Type": "Task", "Resource": resource,
        "Parameters": {"ApiEndpoint": "https://example.com", "Method": "GET", "Headers": headers}, "End": True}}}


def test_authorization_given_literally_is_refused_at_creation():
    """AWS's diagnostic, recorded in the console for an HTTP Task and an API Gateway Task alike:
    "/States/<name>/Parameters: The 'Headers' field contains unsupported values: [authorization]"."""
    for resource, headers in (("arn:aws:states:::http:invoke", {"Authorization": "Bearer t"}),
                              ("arn:aws:states:::apigateway:invoke", {"authorization": ["t"]})):
        with pytest.raises(asl.DefinitionError) as caught:
            asl.load(_literal_headers(resource, headers))
        (found,) = caught.value.diagnostics
        assert found.code == "SCHEMA_VALIDATION_FAILED" and found.location == "/States/Call/Parameters"
        assert found.message == "The 'Headers' field contains unsupported values: [authorization]"


@pytest.mark.parametrize("resource, headers", [
    ("arn:aws:states:::http:invoke", {"Via": "x", "Cache-Control": "no-cache"}),
    ("arn:aws:states:::apigateway:invoke", {"Host": ["h"], "X-Amz-Date": ["d"]})])
def test_other_forbidden_headers_given_literally_are_a_warning_at_creation(resource, headers):
    """DG "call-https-apis" says these fail the HTTP Task with States.Runtime when it runs; no
    refusal at creation is recorded for any but Authorization, so the definition is accepted
    (the project's rule: an ERROR only where AWS is known to refuse) with a warning of our own."""
    definition = _literal_headers(resource, headers)
    asl.load(definition)  # accepted
    result = asl.validate(definition)
    assert result.errors == []
    (found,) = result.warnings
    names = ", ".join(name.lower() for name in headers)
    assert (found.code, found.location) == ("UNSUPPORTED_HEADER", "/States/Call/Parameters")
    assert found.message.startswith(f"The 'Headers' field contains unsupported values: [{names}]")


def test_no_server_is_states_http_socket_and_bad_parameters_are_states_runtime(site):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nothing listens there
    result = call(site, {"ApiEndpoint": f"http://127.0.0.1:{port}/x", "Method": "GET"})
    assert result.error == "States.Http.Socket"
    result = call(site, {"ApiEndpoint": f"{site['url']}/x", "Method": "FETCH"})
    assert result.error == "States.Runtime"
    # DG "call-https-apis", "Unsupported HTTP Task responses": binary content types are States.Runtime
    image = call(site, {"ApiEndpoint": f"{site['url']}/image", "Method": "GET"})
    assert image.error == "States.Runtime" and "'image/png'" in image.cause
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


def test_a_traced_run_passes_the_attempts_trace_context_to_the_server(site):
    """As boto3 calls do, an HTTP Task and apigateway:invoke send the W3C ``traceparent`` of the
    Task attempt's span (when the run is traced), so an instrumented server continues the trace;
    a ``traceparent`` the Task sets itself is sent as it is; an untraced run sends none."""
    otel = pytest.importorskip("opentelemetry.sdk.trace")
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from asl.engine.tracing import Tracing

    exporter = InMemorySpanExporter()
    provider = otel.TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    own = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    machine = asl.load({"StartAt": "A", "States": {
        "A": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "Next": "B",
              "Parameters": {"ApiEndpoint": f"{site['url']}/a", "Method": "GET"}},
        "B": {"Type": "Task", "Resource": "arn:aws:states:::apigateway:invoke", "Next": "C",
              "Parameters": {"ApiEndpoint": site["url"], "Method": "GET", "Path": "b"}},
        "C": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "End": True,
              "Parameters": {"ApiEndpoint": f"{site['url']}/c", "Method": "GET", "Headers": {"traceparent": own}}}}})
    try:
        result = run_sync(machine, {}, aws=site["aws"], observer=Tracing(provider))
        assert result.status == "SUCCEEDED", result.cause
        sent = {seen["path"]: {k.lower(): v for k, v in seen["headers"].items()} for seen in Recorder.seen}
        attempts = {span.name: span.context for span in exporter.get_finished_spans() if " attempt " in span.name}
        for state, path in (("A", "/a"), ("B", "/b")):
            context = attempts[f"{state} attempt 1"]
            assert sent[path]["traceparent"].split("-")[1:3] == [f"{context.trace_id:032x}", f"{context.span_id:016x}"]
        assert sent["/c"]["traceparent"] == own
    finally:
        provider.shutdown()
    Recorder.seen = []
    assert run_sync(machine, {}, aws=site["aws"]).status == "SUCCEEDED"
    assert [("traceparent" in {k.lower() for k in seen["headers"]}) for seen in Recorder.seen] == [False, False, True]


# ---- connections from EventBridge (moto's server), the file overriding them -----------------

def test_connections_come_from_eventbridge_and_secrets_manager_when_the_run_calls_them(site, aws):
    """DescribeConnection names the authorization and the secret; GetSecretValue gives the
    secret EventBridge stored (moto's server as a real process); the file overrides."""
    events = boto3_client(aws, "events")
    made = events.create_connection(Name="shop", AuthorizationType="API_KEY", AuthParameters={
        "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "from-eventbridge"},
        "InvocationHttpParameters": {"HeaderParameters": [{"Key": "X-Tenant", "Value": "t9"}],
                                     "QueryStringParameters": [{"Key": "tenant", "Value": "t9"}]}})
    basic = events.create_connection(Name="basic-eb", AuthorizationType="BASIC", AuthParameters={
        "BasicAuthParameters": {"Username": "eve", "Password": "pw2"}})
    oauth = events.create_connection(Name="oauth-eb", AuthorizationType="OAUTH_CLIENT_CREDENTIALS", AuthParameters={
        "OAuthParameters": {"AuthorizationEndpoint": f"{site['url']}/token", "HttpMethod": "POST",
                            "ClientParameters": {"ClientID": "cid2", "ClientSecret": "cs2"},
                            "OAuthHttpParameters": {"BodyParameters": [{"Key": "scope", "Value": "all"}]}}})
    options = {**aws, "connections": site["aws"]["connections"]}  # every service on moto, the file over them

    def invoke(arn):
        Recorder.seen = []
        machine = asl.load({"StartAt": "Call", "States": {"Call": {
            "Type": "Task", "Resource": "arn:aws:states:::http:invoke", "End": True,
            "Parameters": {"ApiEndpoint": f"{site['url']}/orders", "Method": "GET",
                           "InvocationConfig": {"ConnectionArn": arn}}}}})
        result = run_sync(machine, {}, aws=options)
        return result, [{k.lower(): v for k, v in seen["headers"].items()} | {"?": seen["query"]}
                        for seen in Recorder.seen]

    result, (seen,) = invoke(made["ConnectionArn"])
    assert result.status == "SUCCEEDED", result.cause
    assert seen["x-api-key"] == "from-eventbridge" and seen["x-tenant"] == "t9" and seen["?"] == "tenant=t9"
    assert "from-eventbridge" not in json.dumps(result.history.events)
    result, (seen,) = invoke(basic["ConnectionArn"])
    assert seen["authorization"] == "Basic " + base64.b64encode(b"eve:pw2").decode()
    result, (token, seen) = invoke(oauth["ConnectionArn"])
    assert token["authorization"] == "Basic " + base64.b64encode(b"cid2:cs2").decode()
    assert seen["authorization"] == "Bearer tok-123"
    # the file's entry for the same ARN wins; a connection neither knows is ResourceNotFound
    override = {made["ConnectionArn"]: {"AuthorizationType": "API_KEY", "AuthParameters": {
        "ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "from-file"}}}}
    path = site["aws"]["connections"]
    with open(path, "w") as f:
        json.dump(override, f)
    result, (seen,) = invoke(made["ConnectionArn"])
    assert seen["x-api-key"] == "from-file" and "x-tenant" not in seen
    result, _ = invoke("arn:aws:events:us-east-1:123456789012:connection/absent/0000")
    assert (result.error, result.cause) == ("Events.ConnectionResource.ResourceNotFound",
                                            "Failed to describe connection: Connection 'absent' does not exist.")


def test_a_connection_secret_in_the_shape_aws_stores_it():
    """The secret of an OAuth connection as AWS writes it (flat snake_case keys, as public code
    reading AWS-made secrets shows: client_id and client_secret beside authorization_endpoint,
    oauth_http_parameters with body_parameters of {key, value})."""
    from asl.engine.integrations.http import from_secret

    described = {"OAuthParameters": {"AuthorizationEndpoint": "https://auth.example/token", "HttpMethod": "POST",
                                     "ClientParameters": {"ClientID": "cid"}}}
    secret = {"authorization_endpoint": "https://auth.example/token", "http_method": "POST", "client_id": "cid",
              "client_secret": "s3cret", "oauth_http_parameters": {"body_parameters": [{"key": "scope", "value": "x"}]},
              "invocation_http_parameters": {"header_parameters": [{"key": "X-A", "value": "1",
                                                                    "is_value_secret": False}]}}
    assert from_secret("OAUTH_CLIENT_CREDENTIALS", described, secret) == {
        "AuthorizationType": "OAUTH_CLIENT_CREDENTIALS", "AuthParameters": {
            "OAuthParameters": {"AuthorizationEndpoint": "https://auth.example/token", "HttpMethod": "POST",
                                "ClientParameters": {"ClientID": "cid", "ClientSecret": "s3cret"},
                                "OAuthHttpParameters": {"BodyParameters": [{"Key": "scope", "Value": "x"}]}},
            "InvocationHttpParameters": {"HeaderParameters": [{"Key": "X-A", "Value": "1"}]}}}


def boto3_client(aws, service):
    import boto3

    return boto3.client(service, endpoint_url=aws["endpoints"]["*"], region_name="us-east-1")


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
