"""OpenTelemetry traces (asl.engine.tracing): the span tree of real runs, collected by the SDK's
in-memory exporter; what a handler's own spans nest under; nothing when tracing is off."""
from __future__ import annotations

import json

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import asl
from asl.extras import install_hint
from asl.engine import Handlers, TaskFailed, run_sync
from asl.engine.observe import Observers
from asl.engine.tracing import Tracing, context_from_headers, from_environment, wanted
from conftest import SAMPLES
from samples_support import sample_handlers

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"


@pytest.fixture
def spans():
    """A TracerProvider whose spans land in a list; ``spans.tracing()`` is an observer sending there."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))

    class Spans:
        def tracing(self, **options):
            return Tracing(provider, **options)

        def finished(self):
            return exporter.get_finished_spans()

        def tracer(self):
            return provider.get_tracer("user-code")
    yield Spans()
    provider.shutdown()


def tree(finished) -> list[str]:
    """The spans as an indented outline, children in start order: 'name [attr=...]'."""
    by_parent: dict = {}
    for span in finished:
        parent = span.parent.span_id if span.parent is not None else None
        by_parent.setdefault(parent, []).append(span)
    ids = {span.context.span_id for span in finished}
    lines: list[str] = []

    def walk(parent, depth):
        for span in sorted(by_parent.get(parent, []), key=lambda s: s.start_time):
            mark = " !" if span.status.status_code is StatusCode.ERROR else ""
            lines.append("  " * depth + span.name + mark)
            walk(span.context.span_id, depth + 1)
    for root in [p for p in by_parent if p is None or p not in ids]:
        walk(root, 0)
    return lines


def one(finished, name):
    found = [s for s in finished if s.name == name]
    assert len(found) == 1, [s.name for s in finished]
    return found[0]


def order_input(name="input.json"):
    return json.loads((SAMPLES / "order" / name).read_text())


def test_the_order_sample_traces_retry_parallel_and_choice(spans):
    machine = asl.load(SAMPLES / "order" / "order.json")
    result = run_sync(machine, order_input(), handlers=sample_handlers("order"), observer=spans.tracing())
    assert result.status == "SUCCEEDED"
    assert tree(spans.finished()) == [
        "order",
        "  ValidateOrder",
        "    ValidateOrder attempt 1",
        "  ProcessPayment",
        "    ProcessPayment attempt 1 !",      # ConnectionError: retried
        "    ProcessPayment attempt 2",
        "  NotifyParties",
        "    NotifyParties branch 0",
        "      EmailCustomer",
        "        EmailCustomer attempt 1",
        "    NotifyParties branch 1",
        "      ReserveStock",
        "        ReserveStock attempt 1",
        "  CheckPayment",
        "  OrderConfirmed",
    ]
    finished = spans.finished()
    execution = one(finished, "order")
    assert execution.attributes["asl.execution.status"] == "SUCCEEDED"
    assert execution.attributes["asl.execution.arn"] == result.execution_arn
    assert execution.attributes["asl.state_machine.name"] == "order"
    payment = one(finished, "ProcessPayment")
    assert payment.attributes["asl.state.type"] == "Task" and payment.attributes["asl.state.retry_count"] == 1
    assert payment.attributes["asl.execution.arn"] == result.execution_arn
    assert payment.attributes["asl.state.next"] == "NotifyParties"
    retry = [e for e in payment.events if e.name == "retry"]
    assert len(retry) == 1 and retry[0].attributes["asl.error"] == "ConnectionError"
    assert retry[0].attributes["asl.retry.attempt"] == 1 and retry[0].attributes["asl.retry.delay_seconds"] == 1
    failed_attempt = one(finished, "ProcessPayment attempt 1")
    assert failed_attempt.attributes["asl.error"] == "ConnectionError"
    # a Lambda function's failure: the cause is Lambda's JSON, as in the LambdaFunctionFailed event
    assert json.loads(failed_attempt.attributes["asl.cause"]) == {"errorMessage": "payment gateway timed out",
                                                                 "errorType": "ConnectionError"}
    second = one(finished, "ProcessPayment attempt 2")
    assert second.attributes["asl.task.attempt"] == 2
    # the retry links to the attempt it repeats
    assert [(link.context.span_id, link.attributes["asl.link"]) for link in second.links] == \
        [(failed_attempt.context.span_id, "retry of")]
    assert one(finished, "ValidateOrder attempt 1").links == ()
    assert one(finished, "NotifyParties branch 1").attributes["asl.parallel.branch"] == 1
    assert one(finished, "ReserveStock attempt 1").attributes.get("asl.parallel.branch") is None  # on states only
    assert one(finished, "ReserveStock").attributes["asl.parallel.branch"] == 1
    choice = [e for e in one(finished, "CheckPayment").events if e.name == "choice"]
    assert choice[0].attributes["asl.choice.index"] == 0
    assert choice[0].attributes["asl.choice.rule"] == '$.payment.status == "PAID"'
    assert choice[0].attributes["asl.state.next"] == "OrderConfirmed"


def test_a_caught_error_is_an_event_and_the_failed_execution_an_error(spans):
    machine = asl.load(SAMPLES / "order" / "order.json")
    result = run_sync(machine, order_input("input-declined.json"), handlers=sample_handlers("order"),
                      observer=spans.tracing())
    assert result.status == "FAILED" and result.error == "Order.PaymentDeclined"
    finished = spans.finished()
    payment = one(finished, "ProcessPayment")
    caught = [e for e in payment.events if e.name == "caught"]
    assert caught[0].attributes["asl.error"] == "Payment.Declined"
    assert caught[0].attributes["asl.state.next"] == "RecordDecline"
    assert payment.status.status_code is not StatusCode.ERROR  # the Catch handled it
    execution = one(finished, "order")
    assert execution.status.status_code is StatusCode.ERROR
    assert execution.attributes["asl.error"] == "Order.PaymentDeclined"
    assert execution.attributes["asl.cause"] == "The payment was declined; the customer has been told."
    assert one(finished, "PaymentDeclined").status.status_code is StatusCode.ERROR


MAP = {"StartAt": "Each", "States": {"Each": {
    "Type": "Map", "ItemsPath": "$.xs", "End": True, "ItemProcessor": {
        "StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": LAMBDA + "work", "End": True}}}}}}


def test_map_iterations_and_a_handlers_own_spans_nest_under_its_attempt(spans):
    tracer = spans.tracer()
    seen = {}

    def work(x, ctx):
        with tracer.start_as_current_span(f"user {x}"):
            pass
        seen[x] = ctx.trace_headers
        return x * 2

    result = run_sync(asl.load(MAP), {"xs": [1, 2]}, handlers={"work": work}, observer=spans.tracing())
    assert result.output == [2, 4]
    assert tree(spans.finished()) == [
        "StateMachine",
        "  Each",
        "    Each item 0",
        "      Work",
        "        Work attempt 1",
        "          user 1",
        "    Each item 1",
        "      Work",
        "        Work attempt 1",
        "          user 2",
    ]
    finished = spans.finished()
    items = sorted((s for s in finished if s.name.startswith("Each item")), key=lambda s: s.name)
    assert [s.attributes["asl.map.index"] for s in items] == [0, 1]
    # the states of an item carry its index too (filter the spans of one item)
    assert sorted(s.attributes["asl.map.index"] for s in finished if s.name == "Work") == [0, 1]
    assert "asl.map.index" not in one(finished, "Each").attributes
    # the headers a handler passes on name its attempt's span
    attempts = [s for s in finished if s.name == "Work attempt 1"]
    parents = [context_from_headers(h) for h in seen.values()]
    assert {trace.get_current_span(c).get_span_context().span_id for c in parents} == \
        {s.context.span_id for s in attempts}


DISTRIBUTED = {"StartAt": "Each", "States": {"Each": {
    "Type": "Map", "ItemsPath": "$.xs", "End": True, "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": LAMBDA + "work", "End": True}}}}}}


def test_a_distributed_map_item_is_a_child_execution_span(spans):
    result = run_sync(asl.load(DISTRIBUTED), {"xs": [5]}, handlers={"work": lambda x: x},
                      state_machine_name="parent", observer=spans.tracing())
    assert result.status == "SUCCEEDED"
    assert tree(spans.finished()) == [
        "parent",
        "  Each",
        "    Each item 0",
        "      parent",
        "        Work",
        "          Work attempt 1",
    ]
    finished = spans.finished()
    child = [s for s in finished if s.name == "parent" and s.parent is not None][0]
    assert child.attributes["asl.map_run.index"] == 0
    assert child.attributes["asl.execution.arn"] != result.execution_arn
    work = one(finished, "Work")
    assert work.attributes["asl.execution.arn"] == child.attributes["asl.execution.arn"]
    assert work.attributes["asl.map.index"] == 0


def test_a_nested_execution_run_in_process_nests_under_the_task_that_started_it(spans):
    child = asl.load({"StartAt": "Inner", "States": {"Inner": {"Type": "Task", "Resource": LAMBDA + "work",
                                                              "End": True}}})
    parent = asl.load({"StartAt": "Start", "States": {"Start": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2", "End": True,
        "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:child",
                       "Input": {"n": 1}}}}})
    result = run_sync(parent, {}, handlers={"work": lambda x: x}, machines={"child": child},
                      state_machine_name="parent", observer=spans.tracing())
    assert result.status == "SUCCEEDED", result.cause
    assert tree(spans.finished()) == [
        "parent",
        "  Start",
        "    Start attempt 1",
        "      child",
        "        Inner",
        "          Inner attempt 1",
    ]
    finished = spans.finished()
    nested = one(finished, "child")
    assert nested.attributes["asl.execution.arn"] == result.output["ExecutionArn"]
    assert nested.attributes["asl.state_machine.name"] == "child"
    assert one(finished, "Inner").attributes["asl.execution.arn"] == result.output["ExecutionArn"]


def test_a_stopped_execution_ends_every_open_span(spans):
    import anyio

    machine = asl.load({"StartAt": "Slow", "States": {"Slow": {"Type": "Task", "Resource": LAMBDA + "slow",
                                                               "End": True}}})

    async def main():
        from asl.engine import prepare

        started = anyio.Event()

        async def slow(_):
            started.set()
            await anyio.sleep(60)

        execution = prepare(machine, {}, handlers={"slow": slow}, observer=spans.tracing(), virtual_time=False)
        async with anyio.create_task_group() as tg:
            async def go():
                await execution.run()
            tg.start_soon(go)
            await started.wait()
            execution.stop("Stopped", "by the test")
        return execution.result

    result = anyio.run(main)
    assert result.status == "ABORTED"
    finished = spans.finished()
    assert sorted(s.name for s in finished) == ["Slow", "Slow attempt 1", "StateMachine"]
    assert one(finished, "Slow").attributes["asl.aborted"] is True
    assert one(finished, "StateMachine").attributes["asl.execution.status"] == "ABORTED"


def test_a_parent_context_given_makes_the_execution_its_child(spans):
    tracer = spans.tracer()
    with tracer.start_as_current_span("caller") as caller:
        headers = {}
        from opentelemetry import propagate
        propagate.inject(headers)
    parent = context_from_headers(headers)
    run_sync(asl.load(MAP), {"xs": []}, observer=spans.tracing(parent=parent))
    execution = one(spans.finished(), "StateMachine")
    assert execution.parent.span_id == caller.get_span_context().span_id
    assert context_from_headers({}) is None


def test_tracing_beside_another_observer(spans):
    from asl.engine import Observer

    entered = []

    class Watch(Observer):
        def enter(self, run):
            entered.append(run.name)

    run_sync(asl.load(MAP), {"xs": [1]}, handlers={"work": lambda x: x},
             observer=Observers(Watch(), spans.tracing()))
    assert entered == ["Each", "Work"] and len(spans.finished()) == 5


def test_no_observer_no_spans(spans):
    handlers = Handlers({"work": lambda x: x})
    run_sync(asl.load(MAP), {"xs": [1, 2, 3]}, handlers=handlers)
    assert spans.finished() == ()
    seen = []
    run_sync(asl.load(MAP), {"xs": [1]}, handlers={"work": lambda x, ctx: seen.append(ctx.trace_headers) or x})
    assert seen == [{}]


@pytest.mark.parametrize("environ, on", [
    ({}, False),
    ({"OTEL_SERVICE_NAME": "x"}, False),
    ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
    ({"OTEL_TRACES_EXPORTER": "none"}, False),
    ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, True),
    ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, True),
    ({"OTEL_TRACES_EXPORTER": "console", "OTEL_SDK_DISABLED": "true"}, False),
])
def test_the_otel_variables_turn_tracing_on(environ, on):
    assert wanted(environ) is on
    if not on:
        assert from_environment(environ) is None


def test_an_unknown_exporter_is_named():
    """A configuration error (asl run exits 2), not a missing install (a warning)."""
    from asl.engine.tracing import TracingConfigError, TracingNotInstalled

    with pytest.raises(TracingConfigError, match="OTEL_TRACES_EXPORTER=zipkin") as raised:
        from_environment({"OTEL_TRACES_EXPORTER": "zipkin"})
    assert not isinstance(raised.value, TracingNotInstalled)


def test_a_retried_attempt_that_fails_for_good_fails_its_state(spans):
    """A task failing every attempt: each attempt span is an error, and so is the state's."""
    machine = asl.load({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": LAMBDA + "t", "End": True,
        "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 2, "IntervalSeconds": 1}]}}})

    def t(_):
        raise TaskFailed("Boom", "always")
    result = run_sync(machine, {}, handlers={"t": t}, observer=spans.tracing())
    assert result.status == "FAILED"
    assert tree(spans.finished()) == [
        "StateMachine !", "  T !", "    T attempt 1 !", "    T attempt 2 !", "    T attempt 3 !"]
    state = one(spans.finished(), "T")
    assert state.attributes["asl.state.retry_count"] == 2 and state.attributes["asl.error"] == "Boom"


# ---- asl serve: tracingConfiguration, and a nested execution started through boto3 -------------

def console_spans(text: str) -> list[dict]:
    """The spans OpenTelemetry's console exporter wrote (indented JSON objects) among other lines."""
    decoder = json.JSONDecoder()
    spans, at = [], 0
    while True:
        at = text.find("{\n", at)
        if at < 0:
            return spans
        try:
            value, end = decoder.raw_decode(text, at)
        except ValueError:
            at += 1
            continue
        if isinstance(value, dict) and "context" in value:
            spans.append(value)
        at = end


def traced_server(tmp_path, handlers: str | None = None):
    """`asl serve` (memory store) writing its spans to its output (OpenTelemetry's console
    exporter), with `handlers` (a module's text) as its --handlers."""
    from test_service import Server

    extra = ()
    if handlers is not None:
        (tmp_path / "handlers.py").write_text(handlers)
        extra = ("--handlers", "handlers.py")
    server = Server(tmp_path, "memory", *extra)
    server.env = {"OTEL_TRACES_EXPORTER": "console", "OTEL_BSP_SCHEDULE_DELAY": "50"}
    return server.start()


def test_asl_serve_traces_machines_with_tracing_enabled_under_the_callers_span(spans, tmp_path, monkeypatch):
    """A traced run's Task starts an execution on `asl serve` through the integration layer
    (boto3 sends the attempt's traceparent): the server's execution span is that attempt's child."""
    pytest.importorskip("uvicorn")
    import boto3  # noqa: F401
    from test_service import ROLE, wait_done

    server = traced_server(tmp_path)
    try:
        sfn = server.client()
        child_definition = json.dumps({"StartAt": "Inner", "States": {"Inner": {"Type": "Pass", "End": True}}})
        traced = sfn.create_state_machine(name="child", definition=child_definition, roleArn=ROLE,
                                          tracingConfiguration={"enabled": True})["stateMachineArn"]
        untraced = sfn.create_state_machine(name="plain", definition=child_definition,
                                            roleArn=ROLE)["stateMachineArn"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
        parent = asl.load({"StartAt": "Start", "States": {
            "Start": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                      "Parameters": {"StateMachineArn": traced, "Input": {}}, "ResultPath": "$.started",
                      "Next": "Plain"},
            "Plain": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
                      "Parameters": {"StateMachineArn": untraced, "Input": {}}, "ResultPath": None,
                      "End": True}}})
        result = run_sync(parent, {}, observer=spans.tracing(),
                          aws={"endpoints": {"states": server.endpoint}, "region": "us-east-1"})
        assert result.status == "SUCCEEDED", result.cause
        started = result.output["started"]["ExecutionArn"]  # AWS's shape (INTEGRATIONS-SPEC: RR {ExecutionArn, StartDate, metadata})
        wait_done(sfn, started)
    finally:
        server.proc.send_signal(__import__("signal").SIGTERM)
        output, _ = server.proc.communicate(timeout=15)
    served = console_spans(output)
    attempt = one(spans.finished(), "Start attempt 1")
    execution = [s for s in served if s["name"] == "child"]
    assert len(execution) == 1, [s["name"] for s in served]
    # the attempt's boto3 call -> the server's span of that StartExecution request -> the execution
    request = [s for s in served if s["context"]["span_id"] == execution[0]["parent_id"]]
    assert [(r["name"], r["kind"], r["parent_id"]) for r in request] == [
        ("AWSStepFunctions/StartExecution", "SpanKind.SERVER", f"0x{attempt.context.span_id:016x}")]
    assert request[0]["attributes"]["asl.execution.arn"] == started  # the answer's, to find it by
    assert request[0]["attributes"]["asl.state_machine.arn"] == traced
    assert execution[0]["context"]["trace_id"] == f"0x{attempt.context.trace_id:032x}"
    assert execution[0]["attributes"]["asl.execution.arn"] == started
    # the machine without tracing makes no execution spans; every request has its own
    assert {s["name"] for s in served if not s["name"].startswith("AWSStepFunctions/")} == {"child", "Inner"}
    assert len([s for s in served if s["name"] == "AWSStepFunctions/StartExecution"]) == 2


def test_asl_serve_traces_executions_whose_trace_header_is_sampled_whatever_the_machine(tmp_path):
    """AWS traces an execution whose trace header says Sampled=1 though its machine's tracing is
    disabled, and not one whose header says Sampled=0 (raw AWS capture, radkawar/stackd
    testdata/aws/stepfunctions/tracing_control.json, finding "disabled-is-not-upstream-tracing-
    suppression": "disabled-standard-upstream-one" published a segment in the supplied trace, under
    its Parent; "-upstream-zero" none; an execution without a header none)."""
    pytest.importorskip("uvicorn")
    import signal

    from test_service import ROLE, wait_done

    server = traced_server(tmp_path)
    trace_id, parent = "6ab4a26e7525d60b79ea45d785c98b23", "fa0d19fbe2a14b7b"
    try:
        sfn = server.client()
        definition = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
        machine = sfn.create_state_machine(name="untraced", definition=definition, roleArn=ROLE)["stateMachineArn"]
        for name, sampled in (("one", "1"), ("zero", "0")):
            header = f"Root=1-{trace_id[:8]}-{trace_id[8:]};Parent={parent};Sampled={sampled}"
            wait_done(sfn, sfn.start_execution(stateMachineArn=machine, name=name, traceHeader=header)["executionArn"])
        wait_done(sfn, sfn.start_execution(stateMachineArn=machine, name="none")["executionArn"])
    finally:
        server.proc.send_signal(signal.SIGTERM)
        output, _ = server.proc.communicate(timeout=15)
    served = console_spans(output)
    runs = [s for s in served if s["name"] == "untraced"]
    assert [s["attributes"]["asl.execution.arn"].rsplit(":", 1)[1] for s in runs] == ["one"]
    assert runs[0]["context"]["trace_id"] == f"0x{trace_id}"
    assert {s["name"] for s in served if s["context"]["trace_id"] == f"0x{trace_id}"} == {
        "AWSStepFunctions/StartExecution", "untraced", "Done"}


def test_an_xray_trace_header_names_the_parent():
    from asl.engine.tracing import xray_to_traceparent

    assert xray_to_traceparent("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1") == \
        "00-5759e988bd862e3fe1be46a994272793-53995c3f42cd8ad8-01"
    assert xray_to_traceparent("Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1") is None
    assert xray_to_traceparent("nonsense") is None and xray_to_traceparent(None) is None


def test_a_request_with_a_broken_traceparent_continues_its_xray_trace():
    """A ``traceparent`` that is not W3C's (W3C: a vendor "MUST ignore" it) leaves the
    ``X-Amzn-Trace-Id`` beside it to name the caller's trace, as when there is no traceparent."""
    from opentelemetry import trace

    from asl.engine.tracing import request_context

    xray = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    for traceparent in ("garbage", "00-00000000000000000000000000000000-0000000000000000-01", None):
        headers = {"X-Amzn-Trace-Id": xray, "traceparent": traceparent}
        parent = trace.get_current_span(request_context(headers)).get_span_context()
        assert (f"{parent.trace_id:032x}", f"{parent.span_id:016x}") == (
            "5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8"), traceparent
    assert request_context({"traceparent": "garbage"}) is None  # nothing valid: a trace of its own


# ---- asl run: the OTEL_* variables -------------------------------------------------------------

def asl_run_order(env: dict, *args: str, quiet: bool = True):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "asl.cli", "run", str(SAMPLES / "order" / "order.json"),
                           "--input", str(SAMPLES / "order" / "input.json"), "--handlers",
                           str(SAMPLES / "order" / "handlers.py"), "--virtual-time", *(["-q"] if quiet else []),
                           *args],
                          capture_output=True, text=True, timeout=60, env=environment(env))


def environment(env: dict) -> dict:
    """This process's environment and `env` (a None value: without that variable)."""
    import os

    return {k: v for k, v in {**os.environ, **env}.items() if v is not None}


def test_asl_run_sends_spans_to_the_otlp_endpoint_of_the_environment():
    """A real OTLP/HTTP receiver on loopback gets the run's spans as protobuf."""
    import http.server
    import threading

    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    received: list[tuple[str, bytes]] = []

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            received.append((self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        proc = asl_run_order({"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{server.server_port}",
                              "OTEL_SERVICE_NAME": "orders", "OTEL_TRACES_EXPORTER": None})
    finally:
        server.shutdown()
    assert proc.returncode == 0, proc.stderr
    names, services = [], set()
    for path, body in received:
        assert path == "/v1/traces"
        request = ExportTraceServiceRequest.FromString(body)
        for resource_spans in request.resource_spans:
            services |= {a.value.string_value for a in resource_spans.resource.attributes if a.key == "service.name"}
            names += [span.name for scope in resource_spans.scope_spans for span in scope.spans]
    assert services == {"orders"}
    assert sorted(names) == sorted(["order", "ValidateOrder", "ValidateOrder attempt 1", "ProcessPayment",
                                    "ProcessPayment attempt 1", "ProcessPayment attempt 2", "NotifyParties",
                                    "NotifyParties branch 0", "EmailCustomer", "EmailCustomer attempt 1",
                                    "NotifyParties branch 1", "ReserveStock", "ReserveStock attempt 1",
                                    "CheckPayment", "OrderConfirmed"])


def test_asl_run_console_exporter_and_off_by_default():
    proc = asl_run_order({"OTEL_TRACES_EXPORTER": "console"})
    assert proc.returncode == 0
    assert {s["name"] for s in console_spans(proc.stderr)} >= {"order", "ProcessPayment attempt 2"}
    assert json.loads(proc.stdout)["payment"]["status"] == "PAID"  # stdout stays the output alone
    proc = asl_run_order({"OTEL_TRACES_EXPORTER": None, "OTEL_EXPORTER_OTLP_ENDPOINT": None})
    assert proc.returncode == 0 and console_spans(proc.stderr) == []
    proc = asl_run_order({"OTEL_TRACES_EXPORTER": "zipkin"})
    assert proc.returncode == 2 and "OTEL_TRACES_EXPORTER=zipkin" in proc.stderr


def without_opentelemetry(tmp_path) -> dict:
    """The environment of a process without the ``otel`` extra: OpenTelemetry's API (a
    dependency of asl-engine) but not its SDK, and the variables that ask for traces."""
    import os

    hidden = tmp_path / "hidden"
    hidden.mkdir()
    (hidden / "sitecustomize.py").write_text("import sys\nsys.modules['opentelemetry.sdk'] = None  # not installed\n")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(hidden), os.environ.get("PYTHONPATH")])),
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": None}


NO_OTEL_WARNING = ("warning: the OTEL_* variables ask for traces, and the OpenTelemetry SDK is not installed "
                   f"({install_hint('otel')}): running without traces (OTEL_SDK_DISABLED=true silences this "
                   "warning)")


def test_asl_run_and_serve_without_the_otel_extra_warn_once_and_run(tmp_path):
    """The new-user trial: OTEL_EXPORTER_OTLP_ENDPOINT set, the otel extra not installed: `asl
    run` exited 2 where the library runs without traces. Now one warning says what to install
    and how to silence it (OpenTelemetry's own OTEL_SDK_DISABLED), and the run goes on; -q
    hides it as it hides asl run's other warnings."""
    env = without_opentelemetry(tmp_path)
    proc = asl_run_order(env, "--output-format", "json")
    assert proc.returncode == 0 and proc.stderr == ""  # (-q)
    assert json.loads(proc.stdout)["status"] == "SUCCEEDED"
    proc = asl_run_order(env, quiet=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines().count(f"asl run: {NO_OTEL_WARNING}") == 1
    assert json.loads(proc.stdout)["payment"]["status"] == "PAID"
    proc = asl_run_order({**env, "OTEL_SDK_DISABLED": "true"}, quiet=False)
    assert proc.returncode == 0 and "OTEL" not in proc.stderr
    pytest.importorskip("uvicorn")
    from test_service import Server

    server = Server(tmp_path, "memory")
    server.env = environment(env)
    server.start()
    server.proc.terminate()
    output = server.proc.communicate(timeout=15)[0]
    assert output.splitlines().count(f"asl serve: {NO_OTEL_WARNING}") == 1, output


def test_a_map_inside_a_parallel_branch_tags_its_states_with_both_indexes(spans):
    machine = asl.load({"StartAt": "Par", "States": {"Par": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Skip", "States": {"Skip": {"Type": "Pass", "End": True}}},
        {"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemsPath": "$.xs", "End": True, "ItemProcessor": {
            "StartAt": "Work", "States": {"Work": {"Type": "Pass", "End": True}}}}}}]}}})
    run_sync(machine, {"xs": [1, 2]}, observer=spans.tracing())
    finished = spans.finished()
    work = sorted((s.attributes["asl.parallel.branch"], s.attributes["asl.map.index"])
                  for s in finished if s.name == "Work")
    assert work == [(1, 0), (1, 1)]
    assert one(finished, "Skip").attributes["asl.parallel.branch"] == 0


def test_a_branch_cancelled_by_a_failing_sibling_ends_its_spans_then(spans):
    import anyio

    async def slow(_):
        await anyio.sleep(30)

    def fail(_):
        raise TaskFailed("Boom", "at once")
    machine = asl.load({"StartAt": "Par", "States": {
        "Par": {"Type": "Parallel", "Next": "After", "Catch": [{"ErrorEquals": ["Boom"], "Next": "After"}],
                "Branches": [
                    {"StartAt": "Slow", "States": {"Slow": {"Type": "Task", "Resource": LAMBDA + "slow", "End": True}}},
                    {"StartAt": "Fail", "States": {"Fail": {"Type": "Task", "Resource": LAMBDA + "fail",
                                                            "End": True}}}]},
        "After": {"Type": "Pass", "End": True}}})
    result = run_sync(machine, {}, handlers={"slow": slow, "fail": fail}, observer=spans.tracing())
    assert result.status == "SUCCEEDED"
    finished = spans.finished()
    for name in ("Slow attempt 1", "Slow", "Par branch 0"):
        span = one(finished, name)
        assert span.attributes["asl.aborted"] is True
        assert span.end_time <= one(finished, "After").start_time  # ended when the branch was, not at the end
    assert one(finished, "Par branch 1").status.status_code is StatusCode.ERROR
    assert tree(finished) == ["StateMachine", "  Par", "    Par branch 0", "      Slow", "        Slow attempt 1",
                              "    Par branch 1 !", "      Fail !", "        Fail attempt 1 !", "  After"]


def test_asl_run_uses_a_tracer_provider_set_up_before_it(tmp_path):
    """As under ``opentelemetry-instrument asl run``: a provider configured before asl starts (here
    by a sitecustomize module) gets the spans, with no OTEL_* variable asking asl for traces."""
    import os

    (tmp_path / "sitecustomize.py").write_text(
        "import sys\n"
        "from opentelemetry import trace\n"
        "from opentelemetry.sdk.trace import TracerProvider\n"
        "from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor\n"
        "provider = TracerProvider()\n"
        "provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))\n"
        "trace.set_tracer_provider(provider)\n")
    path = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    proc = asl_run_order({"PYTHONPATH": path, "OTEL_TRACES_EXPORTER": None, "OTEL_EXPORTER_OTLP_ENDPOINT": None})
    assert proc.returncode == 0, proc.stderr
    assert {s["name"] for s in console_spans(proc.stderr)} >= {"order", "CheckPayment", "ProcessPayment attempt 2"}


def test_a_callback_task_links_to_the_span_that_answered_it(spans):
    """`.waitForTaskToken`: the answer comes from elsewhere (here a background task inside a span
    of its own); the waiting attempt's span links to that span."""
    import anyio

    from asl.engine import prepare

    tracer = spans.tracer()
    machine = asl.load({"StartAt": "Wait", "States": {"Wait": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": True,
        "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}}}}})
    tokens = []

    async def main():
        execution = prepare(machine, {}, handlers={"arn:aws:states:::sqs:sendMessage.waitForTaskToken":
                                                   lambda message: tokens.append(message["MessageBody"]["token"])
                                                   or {}},
                            observer=spans.tracing())
        async with anyio.create_task_group() as tg:
            async def answer():
                while not tokens:
                    await anyio.sleep(0.01)
                with tracer.start_as_current_span("approver"):
                    execution.send_task_success(tokens[0], {"ok": True})
            tg.start_soon(answer)
            return await execution.run()

    result = anyio.run(main)
    assert result.status == "SUCCEEDED" and result.output == {"ok": True}
    finished = spans.finished()
    attempt = one(finished, "Wait attempt 1")
    assert [(link.context.span_id, link.attributes["asl.link"]) for link in attempt.links] == \
        [(one(finished, "approver").context.span_id, "answered by")]


def test_asl_serve_links_a_callback_task_to_the_send_task_success_request(tmp_path):
    pytest.importorskip("uvicorn")
    import signal
    import time

    from test_service import ROLE, wait_done

    server = traced_server(tmp_path, (
        "import pathlib\n"
        "from asl.engine import Handlers\n"
        "handlers = Handlers()\n"
        "@handlers.resource('arn:aws:states:::sqs:sendMessage.waitForTaskToken')\n"
        "def send(message):\n"
        "    pathlib.Path('token.txt').write_text(message['MessageBody']['token'])\n"
        "    return {}\n"))
    caller_span = "00f067aa0ba902b7"
    caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    try:
        sfn = server.client()
        definition = json.dumps({"StartAt": "Wait", "States": {"Wait": {
            "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken", "End": True,
            "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}}}}})
        machine = sfn.create_state_machine(name="approval", definition=definition, roleArn=ROLE,
                                           tracingConfiguration={"enabled": True})["stateMachineArn"]
        arn = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
        deadline = time.monotonic() + 60
        while not (tmp_path / "token.txt").exists() and time.monotonic() < deadline:
            time.sleep(0.05)

        def traced(request, **_):
            request.headers["traceparent"] = f"00-{caller_trace}-{caller_span}-01"
        sfn.meta.events.register("before-send.stepfunctions.SendTaskSuccess", traced)
        sfn.send_task_success(taskToken=(tmp_path / "token.txt").read_text(), output='{"ok": true}')
        assert wait_done(sfn, arn)["status"] == "SUCCEEDED"
    finally:
        server.proc.send_signal(signal.SIGTERM)
        output, _ = server.proc.communicate(timeout=15)
    served = console_spans(output)
    attempt = [s for s in served if s["name"] == "Wait attempt 1"]
    assert len(attempt) == 1
    # linked to the server's span of the SendTaskSuccess request, the caller's span's child
    answered = [s for s in served if s["name"] == "AWSStepFunctions/SendTaskSuccess"]
    assert [(s["parent_id"], s["context"]["trace_id"]) for s in answered] == [(f"0x{caller_span}",
                                                                               f"0x{caller_trace}")]
    assert [(link["context"]["trace_id"], link["context"]["span_id"], link["attributes"]["asl.link"])
            for link in attempt[0]["links"]] == [(f"0x{caller_trace}", answered[0]["context"]["span_id"],
                                                  "answered by")]


def test_a_redriven_execution_links_to_its_first_run_and_earlier_redrives(spans):
    """Each run notes its execution span in the journal (the store keeps it); a redrive's
    execution span links to the first run's and to each earlier redrive's."""
    import anyio

    from asl.engine import redrive, run
    from asl.engine.stores import open_store

    broken = {"yes"}

    def flaky(_):
        if broken:
            raise TaskFailed("Broken", "still broken")
        return "fixed"
    machine = asl.load({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA + "t", "End": True}}})

    async def go():
        store = open_store("memory")
        first = await run(machine, {}, handlers={"t": flaky}, store=store, observer=spans.tracing(),
                          state_machine_name="m")
        second = await redrive(store, first.execution_arn, handlers={"t": flaky}, observer=spans.tracing())
        broken.clear()
        third = await redrive(store, first.execution_arn, handlers={"t": flaky}, observer=spans.tracing())
        return first, second, third
    first, second, third = anyio.run(go)
    assert (first.status, second.status, third.status) == ("FAILED", "FAILED", "SUCCEEDED")
    runs = sorted((s for s in spans.finished() if s.name == "m"), key=lambda s: s.start_time)
    assert [s.attributes["asl.execution.redrive_count"] for s in runs] == [0, 1, 2]
    assert {s.attributes["asl.execution.arn"] for s in runs} == {first.execution_arn}
    assert runs[0].links == ()
    assert [(link.context.trace_id, link.context.span_id, dict(link.attributes)) for link in runs[1].links] == [
        (runs[0].context.trace_id, runs[0].context.span_id,
         {"asl.link": "first run", "asl.execution.redrive_count": 0})]
    assert [(link.context.span_id, link.attributes["asl.link"], link.attributes["asl.execution.redrive_count"])
            for link in runs[2].links] == [(runs[0].context.span_id, "first run", 0),
                                           (runs[1].context.span_id, "redrive", 1)]
    # each run is a trace of its own (a redrive is not the child of a run that ended)
    assert len({s.context.trace_id for s in runs}) == 3 and all(s.parent is None for s in runs)


def test_a_run_without_tracing_leaves_nothing_to_link_to(spans):
    import anyio

    from asl.engine import redrive, run
    from asl.engine.stores import open_store

    calls = []

    def once(_):
        calls.append(1)
        if len(calls) == 1:
            raise TaskFailed("Broken", "first time")
        return "ok"
    machine = asl.load({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA + "t", "End": True}}})

    async def go():
        store = open_store("memory")
        first = await run(machine, {}, handlers={"t": once}, store=store)
        facts = await store.facts(first.execution_arn)
        again = await redrive(store, first.execution_arn, handlers={"t": once}, observer=spans.tracing())
        return facts, again
    facts, again = anyio.run(go)
    assert again.status == "SUCCEEDED"
    assert [f for f in facts if f.kind == "note"] == []  # untraced: the journal holds no note
    assert one(spans.finished(), "StateMachine").links == ()


def test_asl_serve_makes_a_server_span_per_request(tmp_path):
    """With tracing on, each API request is a server span (the caller's trace continued from its
    ``traceparent``, ``X-Amzn-Trace-Id`` or StartExecution's ``traceHeader``), and what it starts
    nests under it: an execution, a redrive (linked to the execution's first run)."""
    pytest.importorskip("uvicorn")
    import signal

    from test_service import ROLE, wait_done

    server = traced_server(tmp_path, (
        "import pathlib\n"
        "from asl.engine import TaskFailed\n"
        "def flaky(event):\n"
        "    if not pathlib.Path('fixed').exists():\n"
        "        raise TaskFailed('Broken', 'not yet')\n"
        "    return event\n"
        "HANDLERS = {'flaky': flaky}\n"))
    xray_trace, xray_parent = "5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8"
    w3c_trace, w3c_parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
    try:
        sfn = server.client()
        definition = json.dumps({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA + "flaky",
                                                                  "End": True}}})
        machine = sfn.create_state_machine(name="traced", definition=definition, roleArn=ROLE,
                                           tracingConfiguration={"enabled": True})["stateMachineArn"]

        def header(name, value):
            def add(request, **_):
                request.headers[name] = value
            return add
        xray = header("X-Amzn-Trace-Id", f"Root=1-{xray_trace[:8]}-{xray_trace[8:]};Parent={xray_parent};Sampled=1")
        sfn.meta.events.register("before-send.stepfunctions.StartExecution", xray)
        first = sfn.start_execution(stateMachineArn=machine, name="by-header")["executionArn"]
        assert wait_done(sfn, first)["status"] == "FAILED"
        sfn.meta.events.unregister("before-send.stepfunctions.StartExecution", xray)
        second = sfn.start_execution(stateMachineArn=machine, name="by-body", traceHeader=(
            f"Root=1-{w3c_trace[:8]}-{w3c_trace[8:]};Parent={w3c_parent};Sampled=1"))["executionArn"]
        wait_done(sfn, second)
        with pytest.raises(sfn.exceptions.StateMachineDoesNotExist):
            sfn.start_execution(stateMachineArn=machine + "-missing")
        (tmp_path / "fixed").touch()
        traced = header("traceparent", f"00-{w3c_trace}-{w3c_parent}-01")
        sfn.meta.events.register("before-send.stepfunctions.RedriveExecution", traced)
        sfn.redrive_execution(executionArn=first)
        assert wait_done(sfn, first)["status"] == "SUCCEEDED"
    finally:
        server.proc.send_signal(signal.SIGTERM)
        output, _ = server.proc.communicate(timeout=15)
    served = console_spans(output)
    by_id = {s["context"]["span_id"]: s for s in served}

    def requests(action):
        return [s for s in served if s["name"] == f"AWSStepFunctions/{action}"]

    def runs(arn):
        return sorted((s for s in served if s["name"] == "traced" and s["attributes"]["asl.execution.arn"] == arn),
                      key=lambda s: s["start_time"])

    create, = requests("CreateStateMachine")
    assert create["kind"] == "SpanKind.SERVER" and create["parent_id"] is None  # no caller's trace: its own
    assert create["attributes"]["rpc.system"] == "aws-api" and create["attributes"]["rpc.method"] == "CreateStateMachine"
    assert create["attributes"]["http.response.status_code"] == 200 and create["attributes"]["aws.request_id"]
    assert create["attributes"]["asl.state_machine.arn"] == machine
    started = [s for s in requests("StartExecution") if s["status"]["status_code"] == "UNSET"]
    assert [(s["context"]["trace_id"], s["parent_id"]) for s in started] == [
        (f"0x{xray_trace}", f"0x{xray_parent}"), (f"0x{w3c_trace}", f"0x{w3c_parent}")]
    first_run, redriven = runs(first)
    assert by_id[first_run["parent_id"]] is started[0]  # the execution under the request that started it
    assert by_id[runs(second)[0]["parent_id"]] is started[1]
    refused, = [s for s in requests("StartExecution") if s["status"]["status_code"] == "ERROR"]
    assert refused["attributes"]["error.type"] == "StateMachineDoesNotExist"
    assert refused["attributes"]["http.response.status_code"] == 400
    redrive, = requests("RedriveExecution")
    assert redrive["parent_id"] == f"0x{w3c_parent}" and redrive["attributes"]["asl.execution.arn"] == first
    assert by_id[redriven["parent_id"]] is redrive
    assert redriven["attributes"]["asl.execution.redrive_count"] == 1
    assert [(link["context"]["span_id"], link["attributes"]["asl.link"]) for link in redriven["links"]] == [
        (first_run["context"]["span_id"], "first run")]
    assert len(requests("DescribeExecution")) >= 3


def test_a_resumed_execution_links_to_the_run_it_continues(spans):
    """A process died while an execution ran; the one that resumes it links its execution span
    to the one the dead process had open (noted in the journal: a span that process never ended)."""
    import anyio

    from asl.engine import prepare, resume
    from asl.engine.stores import open_store

    machine = asl.load({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": LAMBDA + "t", "End": True}}})

    async def hang(_):
        await anyio.sleep(3600)

    async def go():
        store = open_store("memory")
        execution = prepare(machine, {}, handlers={"t": hang}, observer=spans.tracing(), virtual_time=False)
        await execution.attach(store)
        async with anyio.create_task_group() as tg:
            async def die_once_called():
                while "LambdaFunctionStarted" not in execution.history.types():
                    await anyio.sleep(0.01)
                await execution.flush()
                await store.update(execution.arn, lease_until=0.0)  # the process "died"
                tg.cancel_scope.cancel()
            tg.start_soon(die_once_called)
            await execution.run()
        notes = [f.value for f in await store.facts(execution.arn) if f.kind == "note"]
        done = await resume(store, execution.arn, handlers={"t": lambda x: x}, observer=spans.tracing())
        return notes, done
    notes, done = anyio.run(go)
    assert done.status == "SUCCEEDED"
    assert len(notes) == 1 and notes[0]["redriveCount"] == 0
    first, resumed = sorted((s for s in spans.finished() if s.name == "StateMachine"), key=lambda s: s.start_time)
    assert notes[0]["trace"] == \
        f"00-{first.context.trace_id:032x}-{first.context.span_id:016x}-{int(first.context.trace_flags):02x}"
    assert [(link.context.span_id, dict(link.attributes)) for link in resumed.links] == [
        (first.context.span_id, {"asl.link": "resumed from", "asl.execution.redrive_count": 0})]
