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
        self.seen.append({"method": self.command, "path": path, "query": query, "headers": dict(self.headers.items()),
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
                         "Headers": {"X-Custom": "1", "X-Tenant": "mine", "x-tenant": "other"}})
    assert result.status == "SUCCEEDED", result.cause
    out = result.output
    assert list(out) == ["Headers", "ResponseBody", "StatusCode", "StatusText"]
    assert out["StatusCode"] == 200 and out["StatusText"] == "OK"
    assert out["ResponseBody"] == {"ok": True, "path": "/orders/7"}  # JSON parsed
    assert out["Headers"]["X-Trace"] == ["a", "b"]
    (seen,) = Recorder.seen
    assert parse_qsl(seen["query"]) == [("expand", "items"), ("tag", "a"), ("tag", "b"), ("tenant", "t1")]
    # the connection's parameters replace the Task's of exactly the same name (DG "call-https-apis");
    # a name written otherwise is sent too, after the connection's (recorded on AWS: radkawar/stackd
    # http_connections.json, basic-merge-json: the endpoint saw "x-shared: connection-header,task-case-header")
    assert [(k, v) for k, v in seen["headers"].items() if k.lower() == "x-tenant"] == [("X-Tenant", "t1"),
                                                                                         ("x-tenant", "other")]
    headers = {k.lower(): v for k, v in seen["headers"].items()}
    assert headers["x-api-key"] == "secret-key" and headers["x-custom"] == "1"
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
    # the token request as AWS's token endpoint saw it (radkawar/stackd http_connections.json,
    # echo-log-evidence: "grant_type=client_credentials&scope=owned-echo&client_secret=
    # owned-client-secret&client_id=owned-client", a form, no Authorization header)
    assert token["path"] == "/token" and token["method"] == "POST"
    assert token["body"] == "grant_type=client_credentials&scope=orders&client_secret=csecret&client_id=cid"
    assert token["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert "authorization" not in {name.lower() for name in token["headers"]}
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
        return result, [{k.lower(): v for k, v in seen["headers"].items()} | {"?": seen["query"], "body": seen["body"]}
                        for seen in Recorder.seen]

    result, (seen,) = invoke(made["ConnectionArn"])
    assert result.status == "SUCCEEDED", result.cause
    assert seen["x-api-key"] == "from-eventbridge" and seen["x-tenant"] == "t9" and seen["?"] == "tenant=t9"
    assert "from-eventbridge" not in json.dumps(result.history.events)
    result, (seen,) = invoke(basic["ConnectionArn"])
    assert seen["authorization"] == "Basic " + base64.b64encode(b"eve:pw2").decode()
    result, (token, seen) = invoke(oauth["ConnectionArn"])
    assert "authorization" not in token  # the client's credentials in the form (as recorded on AWS)
    assert dict(parse_qsl(token["body"])) == {"grant_type": "client_credentials", "scope": "all",
                                              "client_secret": "cs2", "client_id": "cid2"}
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


# ---- replayed from AWS: radkawar/stackd testdata/aws/stepfunctions/http_connections.json ------
# An Express machine whose HTTP Task takes every field from its input ran against an endpoint
# that echoes what it received (method, path, raw query string, headers lower-cased with
# repeated names joined by ",", body). The server below answers as that endpoint did.

STACKD = "radkawar/stackd http_connections.json"
BASIC_ARN = "arn:aws:events:us-west-2:000000000000:connection/stackd-http-basic/1d29"
KEY_ARN = "arn:aws:events:us-west-2:000000000000:connection/stackd-http-apikey/7467"


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen: list = []

    def log_message(self, *args):
        pass

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode() if length else ""
        path, _, query = self.path.partition("?")
        headers: dict = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        echo = {"method": self.command, "path": path, "rawQueryString": query, "headers": headers, "body": body}
        self.seen.append(echo)
        kind, status, reason = "application/json", 200, None
        if path == "/text":
            data, kind = "owned plain response", "text/plain"
        elif path == "/binary":
            data, kind = "owned inert bytes", "application/octet-stream"
        else:
            status = int(path.rsplit("/", 1)[1]) if path.startswith("/status/") else 200
            data = "" if status == 204 else json.dumps(echo)
            reason = "" if status == 418 else None  # a status line without a reason phrase
        raw = data.encode()
        self.send_response_only(status, reason)
        # the names the recorded endpoint answered with, in an order that is not the result's
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", kind)
        if status != 204:
            self.send_header("Content-Length", str(len(raw)))
        self.send_header("Connection", "keep-alive")
        self.send_header("x-amzn-RequestId", "10128e5d")
        self.send_header("x-owned-response", "echo-v1")
        self.send_header("X-Amzn-Trace-Id", "Root=1-6ab4c460")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = answer


@pytest.fixture
def echo(tmp_path):
    Echo.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    connections = {
        BASIC_ARN: {"AuthorizationType": "BASIC", "AuthParameters": {
            "BasicAuthParameters": {"Username": "owned-user", "Password": "owned-password"},
            "InvocationHttpParameters": {
                "HeaderParameters": [{"Key": "x-shared", "Value": "connection-header"},
                                     {"Key": "x-secret", "Value": "owned-inert-private-header", "IsValueSecret": True}],
                "QueryStringParameters": [{"Key": "shared", "Value": "connection query"},
                                          {"Key": "connectionOnly", "Value": "query-only"}],
                "BodyParameters": [{"Key": "shared", "Value": "connection-body"},
                                   {"Key": "connectionOnly", "Value": "body-only"}]}}},
        KEY_ARN: {"AuthorizationType": "API_KEY", "AuthParameters": {
            "ApiKeyAuthParameters": {"ApiKeyName": "x-owned-api-key", "ApiKeyValue": "owned-inert-api-key"}}}}
    path = tmp_path / "connections.json"
    path.write_text(json.dumps(connections))
    machine = asl.load({"StartAt": "CallOwnedHTTP", "States": {"CallOwnedHTTP": {
        "Type": "Task", "Resource": "arn:aws:states:::http:invoke", "End": True, "Parameters": {
            "ApiEndpoint.$": "$.endpoint", "Method.$": "$.method", "Authentication": {"ConnectionArn.$": "$.connection"},
            "Headers.$": "$.headers", "QueryParameters.$": "$.query", "RequestBody.$": "$.body",
            "Transform.$": "$.transform"}}}})
    url = Echo.url = f"http://127.0.0.1:{server.server_port}"

    def run(path, method="POST", connection=KEY_ARN, headers=None, query=None, body=None,
            transform=None, definition=machine):
        Echo.seen = []
        given = {"endpoint": f"{url}/{path}", "method": method, "connection": connection, "headers": headers or {},
                 "query": query or {}, "body": {} if body is None else body,
                 "transform": transform or {"RequestBodyEncoding": "NONE"}}
        return run_sync(definition, given, aws={"connections": str(path_), "region": "us-west-2", "only": True})

    path_ = path
    yield run
    server.shutdown()
    server.server_close()


def _sent(echo_seen) -> dict:
    (seen,) = echo_seen
    # what Step Functions sets (the recorded endpoint's front added host, x-forwarded-* ...)
    seen["headers"] = {k: v for k, v in seen["headers"].items() if k not in ("host", "content-length", "connection")}
    return seen


def test_recorded_basic_connection_merge(echo):
    """basic-merge-json: the connection's header, query and body parameters replace the Task's of
    exactly the same name; the Task's ``X-Shared`` is sent beside the connection's ``x-shared``,
    after it, its ``x-shared`` not at all; query text with ``%20``; the Task's ``content-type``
    alone; no Accept or Accept-Encoding (AWS's request had none)."""
    result = echo("echo", connection=BASIC_ARN,
                  headers={"X-Shared": "task-case-header", "x-shared": "task-header", "x-task-only": "task-only",
                           "content-type": "application/json"},
                  query={"shared": "task query", "taskOnly": "a+b & c"},
                  body={"shared": {"nested": "task-body"}, "taskOnly": [1, "two"], "nested": {"a": "b"}})
    assert result.status == "SUCCEEDED", result.cause
    sent = _sent(Echo.seen)
    assert sent["rawQueryString"] == "taskOnly=a%2Bb%20%26%20c&shared=connection%20query&connectionOnly=query-only"
    assert sent["headers"] == {
        "x-secret": "owned-inert-private-header", "range": "bytes=0-262144",
        "authorization": "Basic b3duZWQtdXNlcjpvd25lZC1wYXNzd29yZA==",
        "x-shared": "connection-header,task-case-header", "content-type": "application/json",
        "x-task-only": "task-only", "user-agent": "Amazon|StepFunctions|HttpInvoke|us-west-2"}
    assert sent["body"] == '{"shared":"connection-body","taskOnly":[1,"two"],"nested":{"a":"b"},"connectionOnly":"body-only"}'
    # the result's headers: each name's values, the names in java.util.HashMap order (as recorded)
    assert list(result.output) == ["Headers", "ResponseBody", "StatusCode", "StatusText"]
    assert list(result.output["Headers"]) == ["Connection", "x-amzn-RequestId", "Content-Length", "x-owned-response",
                                              "Date", "X-Amzn-Trace-Id", "Content-Type"]
    assert result.output["Headers"]["Connection"] == ["keep-alive"]
    assert (result.output["StatusCode"], result.output["StatusText"]) == (200, "OK")


@pytest.mark.parametrize("array_format, items", [
    ("INDICES", "items%5B0%5D=red%20green&items%5B1%5D=blue%2Bgold"),
    ("REPEAT", "items=red%20green&items=blue%2Bgold"),
    ("COMMAS", "items=red%20green%2Cblue%2Bgold"),
    ("BRACKETS", "items%5B%5D=red%20green&items%5B%5D=blue%2Bgold")])
def test_recorded_url_encoded_bodies(echo, array_format, items):
    """form-indices, form-repeat, form-commas, form-brackets: the connection's body parameters
    merged first, then encoded; a nested object's members as ``nested[enabled]=true``."""
    result = echo("echo", connection=BASIC_ARN, headers={"content-type": "application/x-www-form-urlencoded"},
                  body={"shared": "task-body", "items": ["red green", "blue+gold"], "nested": {"enabled": True, "count": 2}},
                  transform={"RequestBodyEncoding": "URL_ENCODED", "RequestEncodingOptions": {"ArrayFormat": array_format}})
    assert result.status == "SUCCEEDED", result.cause
    sent = _sent(Echo.seen)
    assert sent["body"] == (f"shared=connection-body&{items}&nested%5Benabled%5D=true&nested%5Bcount%5D=2"
                            "&connectionOnly=body-only")
    assert sent["headers"]["content-type"] == "application/x-www-form-urlencoded"
    assert sent["headers"]["x-shared"] == "connection-header"


def test_recorded_string_bodies(echo):
    """string-body-no-merge: a string body is sent as it is when the connection has no body
    parameters; string-body-connection-merge-error: States.Runtime with AWS's cause when it has."""
    ok = echo("echo", headers={"content-type": "text/plain"}, body="owned raw string")
    assert ok.status == "SUCCEEDED", ok.cause
    sent = _sent(Echo.seen)
    assert sent["body"] == "owned raw string" and sent["headers"]["content-type"] == "text/plain"
    failed = echo("echo", connection=BASIC_ARN, body="owned raw string")
    assert (failed.status, failed.error, failed.cause) == (
        "FAILED", "States.Runtime", "Cannot merge connection body authorization parameters with request body.")
    assert Echo.seen == []


def test_recorded_methods_and_empty_answers(echo):
    """method-get-json: a GET sends its body ``{}`` with the default JSON content type;
    status-204 and fixed-role-head-no-body: an empty answer has no ResponseBody."""
    result = echo("echo", method="GET", query={"owned": "get query"})
    assert result.status == "SUCCEEDED", result.cause
    sent = _sent(Echo.seen)
    assert (sent["rawQueryString"], sent["body"]) == ("owned=get%20query", "{}")
    assert sent["headers"] == {"range": "bytes=0-262144", "content-type": "application/json; charset=UTF-8",
                               "x-owned-api-key": "owned-inert-api-key",
                               "user-agent": "Amazon|StepFunctions|HttpInvoke|us-west-2"}
    deleted = echo("status/204", method="DELETE")
    assert deleted.status == "SUCCEEDED", deleted.cause
    assert list(deleted.output) == ["Headers", "StatusCode", "StatusText"]
    assert (deleted.output["StatusCode"], deleted.output["StatusText"]) == (204, "No Content")
    assert list(deleted.output["Headers"]) == ["Connection", "x-amzn-RequestId", "x-owned-response", "Date",
                                               "X-Amzn-Trace-Id", "Content-Type"]
    head = asl.load({"StartAt": "WithoutBody", "States": {"WithoutBody": {
        "Type": "Task", "Resource": "arn:aws:states:::http:invoke", "End": True,
        "Parameters": {"ApiEndpoint.$": "$.endpoint", "Method.$": "$.method",
                       "Authentication": {"ConnectionArn.$": "$.connection"}}}}})
    headed = echo("echo", method="HEAD", definition=head)
    assert headed.status == "SUCCEEDED", headed.cause
    assert list(headed.output) == ["Headers", "StatusCode", "StatusText"]


def test_recorded_failures(echo):
    """status-418: States.Http.StatusCode.418 and no cause (the status had no text);
    response-plain-text: a text/plain body stays text; response-unsupported-content-type:
    AWS's cause; prohibited-task-authorization-header: the Parameters as AWS wrote them."""
    teapot = echo("status/418", method="PATCH", body={"owned": "status error"})
    assert (teapot.status, teapot.error, teapot.cause) == ("FAILED", "States.Http.StatusCode.418", None)
    assert teapot.history.events[-1]["executionFailedEventDetails"] == {"error": "States.Http.StatusCode.418"}
    text = echo("text", method="GET")
    assert text.output["ResponseBody"] == "owned plain response"
    binary = echo("binary", method="GET")
    assert (binary.error, binary.cause) == ("States.Runtime", "Unsupported response content-type "
                                            "'application/octet-stream'. Please see documentation for list of "
                                            "unsupported content-types.")
    refused = echo("echo", headers={"Authorization": "owned-inert-forbidden"})
    assert refused.error == "States.Runtime" and Echo.seen == []
    assert refused.cause == (
        "An error occurred while executing the state 'CallOwnedHTTP' (entered at the event id #2). The Parameters "
        f'\'{{"Authentication":{{"ConnectionArn":"{KEY_ARN}"}},"Headers":{{"Authorization":"owned-inert-forbidden"}},'
        f'"ApiEndpoint":"{Echo.url}/echo","Method":"POST","QueryParameters":{{}},"Transform":{{"RequestBodyEncoding":'
        '"NONE"},"RequestBody":{}}\' could not be used to start the Task: [The \'Headers\' field contains unsupported '
        "values: [authorization]]")


@pytest.mark.parametrize("denied, cause", [
    ("events", "No permissions to call RetrieveConnectionCredentials on the connection resource."),
    ("secretsmanager", "No permissions to call DescribeSecret and/or GetSecretValue on the secret associated with "
                       "the connection resource.")])
def test_recorded_connection_access_denied(denied, cause):
    """The fixed-role controls of radkawar/stackd http_connections.json: a role that may not
    retrieve the connection's credentials (fixed-role-missing-noretrieve, -denyretrieve), or may
    not read its secret (fixed-role-missing-noget, -nodescribe), fails the Task with
    Events.ConnectionResource.AccessDenied and these causes. Here EventBridge and Secrets
    Manager answer AccessDeniedException."""
    import anyio
    from botocore.exceptions import ClientError

    from asl.engine.integrations.http import Connections

    class Client:
        def __init__(self, service):
            self.service = service

        def _answer(self, operation, value):
            if self.service == denied:
                raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, operation)
            return value

        def describe_connection(self, Name):
            return self._answer("DescribeConnection", {"ConnectionState": "AUTHORIZED", "AuthorizationType": "API_KEY",
                                                       "SecretArn": "arn:secret", "AuthParameters": {}})

        def get_secret_value(self, SecretId):
            return self._answer("GetSecretValue", {"SecretString": "{}"})

    class Integrations:
        class config:
            @staticmethod
            def calls(service):
                return True

        class clients:
            @staticmethod
            def client(service, region):
                return Client(service)

    connections = Connections(None, Integrations)
    with pytest.raises(asl.StatesError) as caught:
        anyio.run(connections.get, "arn:aws:events:us-west-2:000000000000:connection/noget/4117")
    assert (caught.value.error, caught.value.cause) == ("Events.ConnectionResource.AccessDenied", cause)
