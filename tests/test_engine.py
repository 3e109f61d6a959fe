"""The interpreter through its public API: handlers, mocks, retries, time, concurrency, history."""
from __future__ import annotations

import random
from unittest.mock import ANY

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import asl
from asl.engine import Handlers, MissingHandlerError, MockConfig, TaskFailed, prepare, run, run_sync

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"


def task(name, **extra):
    return {"Type": "Task", "Resource": LAMBDA + name, **extra}


def machine(**states):
    return asl.load({"StartAt": next(iter(states)), "States": states})


# ---- handlers ------------------------------------------------------------------------------

def test_sync_and_async_handlers_by_function_name_and_state_name():
    m = machine(A=task("double", Next="B"), B=task("other", End=True))
    handlers = Handlers()

    @handlers.lambda_function("double")
    def double(x):
        return {"n": x["n"] * 2}

    @handlers.state("B")
    async def plus_one(x, ctx):
        assert ctx.state_name == "B" and ctx.attempt == 1
        return {"n": x["n"] + 1}

    result = run_sync(m, {"n": 5}, handlers=handlers)
    assert result.status == "SUCCEEDED" and result.output == {"n": 11}
    assert [c.state for c in result.calls] == ["A", "B"]


def test_lambda_invoke_wraps_the_payload_and_function_name_lookup():
    m = machine(A={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:1:function:greet:prod",
                                  "Payload": {"who.$": "$.who"}},
                   "ResultSelector": {"msg.$": "$.Payload.msg", "code.$": "$.StatusCode"}, "End": True})
    result = run_sync(m, {"who": "ann"}, handlers={"greet": lambda p: {"msg": f"hi {p['who']}"}})
    assert result.output == {"msg": "hi ann", "code": 200}


def test_lambda_invoke_payload_given_as_json_text_reaches_the_function_as_its_value():
    """A Payload string that is JSON text is the request body itself (recorded on AWS: LocalStack's
    test_credentials_base test_cross_account_service_lambda_invoke, Payload '"PayloadFromTrustedAccount"'
    given to an identity function answers Payload "PayloadFromTrustedAccount"); other strings are
    values of their own."""
    m = machine(A={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": "echo", "Payload.$": "$.p"}, "OutputPath": "$.Payload", "End": True})
    echo = {"echo": lambda event: event}
    assert run_sync(m, {"p": '"PayloadFromTrustedAccount"'}, handlers=echo).output == "PayloadFromTrustedAccount"
    assert run_sync(m, {"p": '{"a": [1, 2]}'}, handlers=echo).output == {"a": [1, 2]}
    assert run_sync(m, {"p": "not json"}, handlers=echo).output == "not json"
    assert run_sync(m, {"p": "NaN"}, handlers=echo).output == "NaN"  # not JSON, whatever Python says


def test_a_handler_returning_bytes_answers_with_them_as_the_python_lambda_runtime_does():
    """Bytes are the function's response body as they are: the JSON they spell, or their text;
    more than 256 KB of them fail the Task with States.DataLimitExceeded (recorded on AWS:
    LocalStack's test_states_errors test_task_lambda_data_limit_exceeded_on_large_utf8_response)."""
    m = machine(A=task("raw", End=True))
    assert run_sync(m, {}, handlers={"raw": lambda e: b'{"a": [1]}'}).output == {"a": [1]}
    assert run_sync(m, {}, handlers={"raw": lambda e: "é!".encode()}).output == "é!"
    # NaN and Infinity are not JSON text (Jackson, Step Functions' reader, refuses them): text
    assert run_sync(m, {}, handlers={"raw": lambda e: b"NaN"}).output == "NaN"
    assert run_sync(m, {}, handlers={"raw": lambda e: b"[1, -Infinity]"}).output == "[1, -Infinity]"
    big = run_sync(m, {}, handlers={"raw": lambda e: ("a" * (257 * 1024)).encode()})
    assert (big.status, big.error) == ("FAILED", "States.DataLimitExceeded")


def test_glob_registration():
    m = machine(A=task("validate-order", End=True))
    result = run_sync(m, {}, handlers={"arn:aws:lambda:*:*:function:validate*": lambda p: "ok"})
    assert result.output == "ok"


def test_check_handlers_refuses_to_start_naming_every_unserved_state():
    m = machine(A=task("a", Next="B"), B=task("b", End=True))
    with pytest.raises(MissingHandlerError) as info:
        run_sync(m, {}, check_handlers=True)
    text = str(info.value)
    assert "'A'" in text and "'B'" in text and "Handlers()" in text


def test_a_task_needs_a_handler_only_when_it_is_invoked():
    # AWS fails this run before the call (TimeoutSecondsPath selects nothing): no handler needed.
    m = machine(A=task("a", TimeoutSecondsPath="$.nope", End=True))
    result = run_sync(m, {})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause.endswith("Invalid path '$.nope' : No results for path: $['nope']")
    assert result.unserved == []
    # Reached without one: States.Runtime, which neither Retry nor Catch takes.
    m = machine(A=task("Fn", Retry=[{"ErrorEquals": ["States.ALL"]}],
                       Catch=[{"ErrorEquals": ["States.ALL"], "Next": "B"}], End=True), B={"Type": "Pass", "End": True})
    result = run_sync(m, {}, handlers={"Fnn": lambda p: p, "state:Other": lambda p: p})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause == (
        "No handler or mock for the Task state 'A' (Resource arn:aws:lambda:us-east-1:123456789012:function:Fn). "
        "Did you mean 'Fnn'? Register a handler with @handlers.lambda_function('Fn') or @handlers.state('A'), or "
        "mock the state in the MockConfigFile test case.")
    assert result.unserved == ["A"] and len(result.calls) == 0
    assert result.history.types()[-2:] == ["LambdaFunctionFailed", "ExecutionFailed"]


@pytest.mark.parametrize("resource, parameters, also", [
    ("arn:aws:states:::dynamodb:getItem", {"TableName": "t", "Key": {}},
     "call the service (--aws, --endpoint-url URL; aws= in Python)"),
    ("arn:aws:states:::aws-sdk:s3:getObject", {"Bucket": "b", "Key": "k"},
     "call the service (--aws, --endpoint-url URL; aws= in Python)"),
    ("arn:aws:states:::http:invoke", {"ApiEndpoint": "https://example.com", "Method": "GET"},
     "call the endpoint (--connections FILE, --aws; aws= in Python)"),
])
def test_an_unserved_service_task_says_the_run_could_call_it(resource, parameters, also):
    m = machine(A={"Type": "Task", "Resource": resource, "Parameters": parameters, "End": True})
    result = run_sync(m, {})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause == (f"No handler or mock for the Task state 'A' (Resource {resource}). Register a handler "
                            f"with @handlers.state('A'), or mock the state in the MockConfigFile test case, or {also}.")


def test_exception_becomes_error_name_and_lambda_style_cause():
    m = machine(A=task("boom", End=True))

    def boom(_):
        raise ValueError("bad value")

    result = run_sync(m, {}, handlers={"boom": boom})
    assert result.status == "FAILED" and result.error == "ValueError"
    assert result.history.types() == ["ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled",
                                      "LambdaFunctionStarted", "LambdaFunctionFailed", "ExecutionFailed"]
    # The cause is the error document: through a function ARN as the Python runtime writes it
    # (json.dumps: spaced), through lambda:invoke compacted; as the same function behind boto3
    # gives them (recorded on AWS: LocalStack's test_express_sync test_retry and test_catch)
    assert result.cause == '{"errorMessage": "bad value", "errorType": "ValueError"}'
    invoke = machine(A={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {"FunctionName": "boom"}, "End": True})
    result = run_sync(invoke, {}, handlers={"boom": boom})
    assert (result.error, result.cause) == ("ValueError", '{"errorMessage":"bad value","errorType":"ValueError"}')


def test_task_failed_carries_explicit_error_and_catch_routes_it():
    m = machine(A=task("pay", Next="Done", Catch=[{"ErrorEquals": ["Card.Declined"], "ResultPath": "$.err",
                                                   "Next": "Declined"}]),
                Done={"Type": "Succeed"}, Declined={"Type": "Pass", "End": True})

    def pay(_):
        raise TaskFailed("Card.Declined", "insufficient funds")

    result = run_sync(m, {"id": 1}, handlers={"pay": pay})
    assert result.output == {"id": 1, "err": {"Error": "Card.Declined", "Cause": "insufficient funds"}}


# ---- retries and virtual time -----------------------------------------------------------------

def test_retry_backoff_under_virtual_time_takes_no_real_time():
    m = machine(A=task("flaky", End=True, Retry=[{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3600,
                                                    "MaxAttempts": 3, "BackoffRate": 2}]))
    calls = []

    def flaky(_, ctx):
        calls.append(ctx.attempt)
        if ctx.attempt < 4:
            raise RuntimeError("later")
        return "done"

    result = run_sync(m, {}, handlers={"flaky": flaky})
    assert result.output == "done" and calls == [1, 2, 3, 4]
    # 1h + 2h + 4h of virtual time passed between start and stop
    assert result.stop_time - result.start_time == pytest.approx(7 * 3600, abs=1)


def test_retry_counts_are_per_retrier_and_exhaustion_goes_to_catch():
    m = machine(A=task("f", Next="Ok", Retry=[{"ErrorEquals": ["E"], "MaxAttempts": 2, "IntervalSeconds": 1}],
                       Catch=[{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]),
                Ok={"Type": "Succeed"}, Caught={"Type": "Pass", "End": True})

    def f(_):
        raise TaskFailed("E", "again")

    result = run_sync(m, {}, handlers={"f": f})
    assert len(result.calls) == 3 and result.output == {"Error": "E", "Cause": "again"}


def test_wait_one_day_is_instant_and_timestamps_advance():
    m = machine(W={"Type": "Wait", "Seconds": 86400, "Next": "P"},
                P={"Type": "Pass", "Parameters": {"t.$": "$$.State.EnteredTime"}, "End": True})
    result = run_sync(m, {})
    assert result.stop_time - result.start_time == pytest.approx(86400, abs=1)
    assert result.output["t"] > result.history.events[0]["timestamp"]


def test_context_times_drop_a_zero_fraction():
    # https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html
    # ("Timestamp format with fractional seconds", and its example 2025-08-27T10:04:42Z beside
    # 2025-08-27T10:04:42.001Z): a whole second is written without a fraction, not as .000.
    from asl.engine.clock import VirtualClock

    m = machine(P={"Type": "Pass", "Next": "W", "Parameters": {
                    "start.$": "$$.Execution.StartTime", "entered.$": "$$.State.EnteredTime"}},
                W={"Type": "Wait", "Seconds": 1, "Next": "J"},
                J={"Type": "Pass", "QueryLanguage": "JSONata", "End": True,
                   "Output": {"first": "{% $states.input %}", "entered": "{% $states.context.State.EnteredTime %}"}})
    whole = run_sync(m, {}, clock=VirtualClock(start=1756289082))   # 2025-08-27T10:04:42Z
    assert whole.output == {"first": {"start": "2025-08-27T10:04:42Z", "entered": "2025-08-27T10:04:42Z"},
                            "entered": "2025-08-27T10:04:43Z"}
    later = run_sync(m, {}, clock=VirtualClock(start=1756289082.001))
    assert later.output["first"] == {"start": "2025-08-27T10:04:42.001Z", "entered": "2025-08-27T10:04:42.001Z"}


def test_task_timeout_fires_at_the_virtual_moment():
    m = machine(A=task("slow", TimeoutSeconds=30, End=True))

    async def slow(_):
        await anyio.sleep(10)  # real sleep: never reached under virtual time's 30 s
        return "late"

    # A handler that does real waiting: use a clock-aware one instead
    ex_holder = {}

    async def sleepy(_, ctx):
        await ex_holder["clock"].sleep(60)
        return "late"

    from asl.engine.clock import VirtualClock
    clock = VirtualClock(start=0)
    ex_holder["clock"] = clock
    result = run_sync(m, {}, handlers={"slow": sleepy}, clock=clock)
    assert result.status == "FAILED" and result.error == "States.Timeout"
    assert result.history.types()[-2] == "LambdaFunctionTimedOut"
    assert result.stop_time == pytest.approx(30)


def test_execution_timeout():
    m = asl.load({"StartAt": "W", "TimeoutSeconds": 5, "States": {"W": {"Type": "Wait", "Seconds": 10, "End": True}}})
    result = run_sync(m, {})
    assert result.status == "TIMED_OUT" and result.error == "States.Timeout"
    assert result.history.types()[-1] == "ExecutionTimedOut"


def test_caught_task_timeout_has_an_empty_cause():
    # AWS (LocalStack's AWS-recorded error_handling/test_task_service_lambda::test_invoke_timeout):
    # the TaskTimedOut event and ExecutionFailed carry no cause, yet the Catch's error output
    # is {"Error": "States.Timeout", "Cause": ""}
    from asl.engine.clock import VirtualClock

    clock = VirtualClock(start=0)
    m = machine(Call={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "TimeoutSeconds": 3,
                      "Parameters": {"FunctionName": "slow"},
                      "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": "$.failure", "Next": "Done"}],
                      "End": True},
                Done={"Type": "Pass", "End": True})

    async def slow(_, ctx):
        await clock.sleep(10)
        return {}

    result = run_sync(m, {"order": 7}, handlers={"Call": slow}, clock=clock)
    assert result.output == {"order": 7, "failure": {"Error": "States.Timeout", "Cause": ""}}
    timed_out = next(e for e in result.history.to_aws()["events"] if e["type"] == "TaskTimedOut")
    assert "cause" not in timed_out["taskTimedOutEventDetails"]


# ---- concurrency ------------------------------------------------------------------------------

@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=0.003), min_size=1, max_size=12))
def test_map_results_keep_input_order_under_random_delays(delays):
    m = machine(M={"Type": "Map", "End": True, "ItemProcessor": {"StartAt": "T", "States": {
        "T": task("work", End=True)}}})

    async def work(item):
        await anyio.sleep(item["d"])
        return item["i"]

    items = [{"i": i, "d": d} for i, d in enumerate(delays)]
    result = run_sync(m, items, handlers={"work": work})
    assert result.output == list(range(len(delays)))


@settings(max_examples=20, deadline=None)
@given(st.lists(st.floats(min_value=0, max_value=0.003), min_size=1, max_size=6))
def test_parallel_results_keep_branch_order(delays):
    branches = [{"StartAt": f"T{i}", "States": {f"T{i}": {"Type": "Task", "Resource": LAMBDA + "w",
                                                          "Parameters": {"i": i, "d": d}, "End": True}}}
                for i, d in enumerate(delays)]
    m = machine(P={"Type": "Parallel", "Branches": branches, "End": True})

    async def w(p):
        await anyio.sleep(p["d"])
        return p["i"]

    assert run_sync(m, {}, handlers={"w": w}).output == list(range(len(delays)))


def test_failing_branch_cancels_siblings_and_nothing_keeps_running():
    m = machine(P={"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Slow", "States": {"Slow": task("slow", End=True)}},
        {"StartAt": "Bad", "States": {"Bad": {"Type": "Fail", "Error": "Nope", "Cause": "branch 2"}}}]})
    finished = []

    async def slow(_):
        await anyio.sleep(0.2)
        finished.append(True)
        return 1

    async def main():
        result = await run(m, {}, handlers={"slow": slow})
        await anyio.sleep(0.3)
        return result

    result = anyio.run(main)
    assert result.status == "FAILED" and (result.error, result.cause) == ("Nope", "branch 2")
    assert finished == []


def test_an_inline_map_item_is_index_and_value():
    """An INLINE Map's ``$$.Map.Item`` is Index and Value, with no Source, whatever the DG's
    example ("input-output-contextobject") shows: AWS fails an ItemSelector that reads
    ``$$.Map.Item.Source`` (raw AWS capture, radkawar/stackd testdata/aws/stepfunctions/
    dataflow_execution.json "history-sequential-map"; tests/test_dataflow_captures.py)."""
    processor = {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
    jsonpath = machine(M={"Type": "Map", "End": True, "ItemProcessor": processor, "ItemSelector": {
        "ContextIndex.$": "$$.Map.Item.Index", "ContextValue.$": "$$.Map.Item.Value", "Whole.$": "$$.Map.Item"}})
    people = [{"who": "bob"}, {"who": "meg"}]
    assert run_sync(jsonpath, people).output == [
        {"ContextIndex": i, "ContextValue": p, "Whole": {"Index": i, "Value": p}} for i, p in enumerate(people)]
    jsonata = machine(M={"Type": "Map", "QueryLanguage": "JSONata", "End": True, "ItemProcessor": processor,
                         "ItemSelector": {"Whole": "{% $states.context.Map.Item %}"}})
    assert run_sync(jsonata, people).output == [{"Whole": {"Index": i, "Value": p}} for i, p in enumerate(people)]


def test_map_max_concurrency_is_respected():
    m = machine(M={"Type": "Map", "MaxConcurrency": 2, "End": True, "ItemProcessor": {"StartAt": "T", "States": {
        "T": task("w", End=True)}}})
    running, peak = [0], [0]

    async def w(x):
        running[0] += 1
        peak[0] = max(peak[0], running[0])
        await anyio.sleep(0.001)
        running[0] -= 1
        return x

    assert run_sync(m, list(range(10)), handlers={"w": w}).output == list(range(10))
    assert peak[0] == 2


# ---- mocks ----------------------------------------------------------------------------------

MOCKS = {
    "StateMachines": {"Order": {"TestCases": {"Declined": {"Pay": "PayFailsThenWorks"}}}},
    "MockedResponses": {"PayFailsThenWorks": {
        "0": {"Throw": {"Error": "Card.Declined", "Cause": "first"}},
        "1-2": {"Return": {"ok": True}}}},
}


def test_mock_config_file_format_with_attempt_ranges():
    m = machine(Pay=task("pay", End=True, Retry=[{"ErrorEquals": ["Card.Declined"], "MaxAttempts": 1}]))
    result = run_sync(m, {}, mock_config=MOCKS, test_case="Declined", state_machine_name="Order")
    assert result.output == {"ok": True}
    assert [c.mocked for c in result.calls] == [True, True]


def test_mock_config_unknown_test_case_is_explained():
    m = machine(Pay=task("pay", End=True))
    from asl.engine import MockConfigError
    with pytest.raises(MockConfigError, match="no test case 'Nope'.*Declined"):
        prepare(m, {}, mock_config=MockConfig(MOCKS), test_case="Nope", state_machine_name="Order")


def test_sfn_mock_config_environment_variable(tmp_path, monkeypatch):
    import json
    path = tmp_path / "mocks.json"
    path.write_text(json.dumps(MOCKS))
    monkeypatch.setenv("SFN_MOCK_CONFIG", str(path))
    m = machine(Pay=task("pay", End=True))
    result = run_sync(m, {}, test_case="Declined", state_machine_name="Order")
    assert result.error == "Card.Declined"


# ---- callbacks ------------------------------------------------------------------------------

def test_wait_for_task_token_completed_by_another_coroutine():
    m = machine(Ask={"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                     "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}}, "End": True})
    tokens = []

    def send(message, ctx):
        tokens.append(message["MessageBody"]["token"])
        return {}

    async def main():
        ex = prepare(m, {}, handlers={"arn:aws:states:::sqs:sendMessage.waitForTaskToken": send})
        async with anyio.create_task_group() as tg:
            async def approver():
                with anyio.fail_after(5):
                    while not tokens:
                        await anyio.sleep(0.001)
                ex.send_task_success(tokens[0], {"approved": True})
            tg.start_soon(approver)
            return await ex.run()

    result = anyio.run(main)
    assert result.output == {"approved": True}
    assert "TaskSubmitted" in result.history.types()


# ---- history --------------------------------------------------------------------------------

def test_history_ids_and_details_shape():
    m = machine(P={"Type": "Pass", "Result": {"x": 1}, "End": True})
    events = run_sync(m, {"a": 1}).history.events
    assert [(e["id"], e["previousEventId"], e["type"]) for e in events] == [
        (1, 0, "ExecutionStarted"), (2, 0, "PassStateEntered"), (3, 2, "PassStateExited"),
        (4, 3, "ExecutionSucceeded")]
    assert events[1]["stateEnteredEventDetails"] == {"name": "P", "input": '{"a":1}',
                                                      "inputDetails": {"truncated": False}}
    assert events[2]["stateExitedEventDetails"]["output"] == '{"x":1}'


def _boom(payload):
    raise TaskFailed("Boom", "no")


FAILING = {"fail": _boom}  # the handlers of `task("fail")`: it fails with Boom


def _links(result):
    return [(e["id"], e["previousEventId"], e["type"]) for e in result.history.events]


def test_map_events_link_as_aws_records_them():
    # Expected ids: LocalStack's AWS snapshot evaluate_jsonata/test_base_evaluate_expressions.snapshot.json
    # test_base_map[ITEMS] (a later iteration follows the last event of the one before, not its
    # MapIterationSucceeded; MapStateExited follows what MapStateSucceeded follows).
    m = asl.load({"QueryLanguage": "JSONata", "StartAt": "Start", "States": {"Start": {
        "Type": "Map", "Items": [1, 2, 3], "ItemProcessor": {"StartAt": "Process", "States": {
            "Process": {"Type": "Pass", "End": True}}}, "End": True}}})
    assert _links(run_sync(m, {})) == [
        (1, 0, "ExecutionStarted"), (2, 0, "MapStateEntered"), (3, 2, "MapStateStarted"),
        (4, 3, "MapIterationStarted"), (5, 4, "PassStateEntered"), (6, 5, "PassStateExited"),
        (7, 6, "MapIterationSucceeded"), (8, 6, "MapIterationStarted"), (9, 8, "PassStateEntered"),
        (10, 9, "PassStateExited"), (11, 10, "MapIterationSucceeded"), (12, 10, "MapIterationStarted"),
        (13, 12, "PassStateEntered"), (14, 13, "PassStateExited"), (15, 14, "MapIterationSucceeded"),
        (16, 15, "MapStateSucceeded"), (17, 15, "MapStateExited"), (18, 17, "ExecutionSucceeded")]


def test_a_retried_map_follows_the_failed_iteration():
    # Expected ids: LocalStack's AWS snapshot scenarios/test_base_scenarios.snapshot.json
    # test_map_state_retry (MAP_STATE_RETRY template).
    m = asl.load({"StartAt": "StartState", "States": {
        "StartState": {"Type": "Pass", "Result": [1], "ResultPath": "$.arr", "Next": "MapState"},
        "MapState": {"Type": "Map", "ResultPath": None, "InputPath": "$.arr", "MaxConcurrency": 1,
                     "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "HandleItemFail",
                                       "States": {"HandleItemFail": {"Type": "Fail", "Error": "HandleItemFailError",
                                                                     "Cause": "HandleItemFailCause"}}},
                     "Retry": [{"ErrorEquals": ["HandleItemFailError"], "MaxAttempts": 2}], "Next": "Final"},
        "Final": {"Type": "Pass", "End": True}}})
    assert _links(run_sync(m, {})) == [
        (1, 0, "ExecutionStarted"), (2, 0, "PassStateEntered"), (3, 2, "PassStateExited"),
        (4, 3, "MapStateEntered"), (5, 4, "MapStateStarted"), (6, 5, "MapIterationStarted"),
        (7, 6, "FailStateEntered"), (8, 7, "MapIterationFailed"), (9, 7, "MapStateStarted"),
        (10, 9, "MapIterationStarted"), (11, 10, "FailStateEntered"), (12, 11, "MapIterationFailed"),
        (13, 11, "MapStateStarted"), (14, 13, "MapIterationStarted"), (15, 14, "FailStateEntered"),
        (16, 15, "MapIterationFailed"), (17, 15, "MapStateFailed"), (18, 17, "ExecutionFailed")]


def test_a_parallel_failure_follows_the_failing_branch():
    # Expected ids: LocalStack's AWS snapshot scenarios/test_base_scenarios.snapshot.json
    # test_parallel_state_retry (PARALLEL_STATE_RETRY template: a Fail branch, retried once).
    m = asl.load({"StartAt": "ParallelState", "States": {"ParallelState": {
        "Type": "Parallel", "End": True,
        "Branches": [{"StartAt": "Branch1", "States": {"Branch1": {
            "Type": "Fail", "Error": "FailureType", "Cause": "Cause description"}}}],
        "Retry": [{"ErrorEquals": ["FailureType"], "IntervalSeconds": 1, "MaxAttempts": 2}]}}})
    assert _links(run_sync(m, {})) == [
        (1, 0, "ExecutionStarted"), (2, 0, "ParallelStateEntered"), (3, 2, "ParallelStateStarted"),
        (4, 3, "FailStateEntered"), (5, 4, "ParallelStateStarted"), (6, 5, "FailStateEntered"),
        (7, 6, "ParallelStateStarted"), (8, 7, "FailStateEntered"), (9, 8, "ParallelStateFailed"),
        (10, 9, "ExecutionFailed")]


def test_a_task_that_fails_a_branch_is_aborted():
    # AWS (LocalStack's AWS snapshot callback/test_callback.snapshot.json,
    # test_sqs_failure_in_wait_for_task_tok_no_error_field[SQS_PARALLEL_WAIT_FOR_TASK_TOKEN]):
    # 8 TaskFailed, 9<-8 TaskStateAborted, 10<-8 ParallelStateFailed, 11<-10 ParallelStateExited.
    m = machine(P={"Type": "Parallel", "Branches": [{"StartAt": "T", "States": {"T": task("fail", End=True)}}],
                   "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "Next": "Caught"},
                Caught={"Type": "Pass", "End": True})
    assert _links(run_sync(m, {}, handlers=FAILING))[3:10] == [
        (4, 3, "TaskStateEntered"), (5, 4, "LambdaFunctionScheduled"), (6, 5, "LambdaFunctionStarted"),
        (7, 6, "LambdaFunctionFailed"), (8, 7, "TaskStateAborted"), (9, 7, "ParallelStateFailed"),
        (10, 9, "ParallelStateExited")]


def test_a_task_that_fails_an_iteration_is_aborted_after_it():
    # AWS (LocalStack's AWS snapshot timeouts/test_timeouts.snapshot.json,
    # test_service_lambda_map_timeout): TaskTimedOut (#20), MapIterationFailed <-20,
    # TaskStateAborted <-20, ..., MapStateFailed <-20.
    m = machine(M={"Type": "Map", "MaxConcurrency": 1, "ItemProcessor": {
        "StartAt": "T", "States": {"T": task("fail", End=True)}}, "End": True})
    assert _links(run_sync(m, [1], handlers=FAILING))[7:] == [
        (8, 7, "LambdaFunctionFailed"), (9, 8, "MapIterationFailed"), (10, 8, "TaskStateAborted"),
        (11, 8, "MapStateFailed"), (12, 11, "ExecutionFailed")]


def test_siblings_of_a_failed_iteration_are_aborted_after_the_failure_in_index_order():
    # AWS (LocalStack's AWS snapshot timeouts/test_timeouts.snapshot.json,
    # test_service_lambda_map_timeout): iteration 0's TaskTimedOut #20, then MapIterationFailed
    # <-20, TaskStateAborted <-20, and for iterations 1, 2, 3 in order MapIterationAborted <-20
    # and TaskStateAborted <-20, then MapStateFailed <-20.
    async def work(item):
        if item == 0:
            await anyio.sleep(1)
            raise TaskFailed("Boom", "no")
        await anyio.sleep(60)
        return item

    m = machine(M={"Type": "Map", "ItemProcessor": {"StartAt": "T", "States": {"T": task("work", End=True)}},
                   "End": True})
    result = run_sync(m, [0, 1, 2, 3], handlers={"work": work})
    links = _links(result)
    failure = next(i for i, prev, kind in links if kind == "LambdaFunctionFailed")
    assert links[failure:] == [
        (failure + 1, failure, "MapIterationFailed"), (failure + 2, failure, "TaskStateAborted"),
        (failure + 3, failure, "MapIterationAborted"), (failure + 4, failure, "TaskStateAborted"),
        (failure + 5, failure, "MapIterationAborted"), (failure + 6, failure, "TaskStateAborted"),
        (failure + 7, failure, "MapIterationAborted"), (failure + 8, failure, "TaskStateAborted"),
        (failure + 9, failure, "MapStateFailed"), (failure + 10, failure + 9, "ExecutionFailed")]
    iterations = [(e["type"], e.get("mapIterationAbortedEventDetails", e.get("mapIterationFailedEventDetails")))
                  for e in result.history.events if e["type"].startswith("MapIteration") and "Started" not in e["type"]]
    assert iterations == [("MapIterationFailed", {"index": 0, "name": "M"})] + [
        ("MapIterationAborted", {"index": i, "name": "M"}) for i in (1, 2, 3)]


def _jsonata(states: dict):
    return asl.load({"QueryLanguage": "JSONata", "StartAt": next(iter(states)), "States": states})


def test_an_evaluation_failure_on_entry_follows_the_entry():
    # AWS in Sept 2026 (raw capture radkawar/stackd testdata/aws/stepfunctions/
    # dataflow_execution.json, history-jsonata-undefined): a Pass whose Output evaluates to
    # nothing: 4<-3 PassStateEntered, 5<-4 EvaluationFailed, 6<-5 ExecutionFailed.
    m = _jsonata({"Route": {"Type": "Choice", "Default": "Undefined", "Choices": [
                      {"Condition": "{% $states.input.case = 'x' %}", "Next": "Undefined"}]},
                  "Undefined": {"Type": "Pass", "Output": "{% $states.input.absent %}", "End": True}})
    result = run_sync(m, {"case": "undefined"})
    assert _links(result) == [
        (1, 0, "ExecutionStarted"), (2, 0, "ChoiceStateEntered"), (3, 2, "ChoiceStateExited"),
        (4, 3, "PassStateEntered"), (5, 4, "EvaluationFailed"), (6, 5, "ExecutionFailed")]
    assert result.history.events[4]["evaluationFailedEventDetails"] == {
        "error": "States.QueryEvaluationError", "location": "Output", "state": "Undefined",
        "cause": "An error occurred while executing the state 'Undefined' (entered at the event id #4). The "
                 "JSONata expression '$states.input.absent' specified for the field 'Output' returned nothing "
                 "(undefined)."}
    # Until at least Nov 2024 AWS linked such an event to what the entry followed (LocalStack's
    # AWS snapshot scenarios/test_base_scenarios.snapshot.json, test_map_state_items_input_types
    # [number]: 4<-3 MapStateEntered, 5<-3 EvaluationFailed); the 2026 capture wins, so a Map's
    # Items now fails after its entry too. The event types and their order are unchanged.
    m = _jsonata({"Start": {"Type": "Pass", "Output": "{% $states.input.items %}", "Next": "Each"},
                  "Each": {"Type": "Map", "Items": "{% $states.input %}", "End": True,
                           "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}})
    assert _links(run_sync(m, {"items": 1})) == [
        (1, 0, "ExecutionStarted"), (2, 0, "PassStateEntered"), (3, 2, "PassStateExited"),
        (4, 3, "MapStateEntered"), (5, 4, "EvaluationFailed"), (6, 5, "MapStateFailed"),
        (7, 6, "ExecutionFailed")]
    # The first state (LocalStack's AWS snapshot assign/test_assign_reference_variables.snapshot.json,
    # test_undefined_reference[BASE_UNDEFINED_ARGUMENTS], Nov 2024: 3<-0 EvaluationFailed; by
    # the 2026 capture's rule 3<-2).
    m = _jsonata({"Call": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
                           "Arguments": {"FunctionName": "{% $nothing %}"}}})
    assert _links(run_sync(m, {}, check_handlers=False)) == [
        (1, 0, "ExecutionStarted"), (2, 0, "TaskStateEntered"), (3, 2, "EvaluationFailed"),
        (4, 3, "ExecutionFailed")]


def test_an_evaluation_failure_in_a_catcher_inside_an_iteration():
    # The event types of LocalStack's AWS snapshot states_variables/test_error_output.snapshot.json,
    # test_map_catch_error[MAP_CATCH_ERROR_OUTPUT_WITH_RETRY] (Nov 2024): TaskStateExited (caught),
    # PassStateEntered, EvaluationFailed, MapIterationFailed, MapStateFailed, ExecutionFailed.
    # That snapshot linked EvaluationFailed to the TaskStateExited; AWS in Sept 2026 links a Pass
    # Output's failure to the PassStateEntered (radkawar/stackd dataflow_execution.json
    # history-jsonata-undefined), and what follows follows the EvaluationFailed in both.
    m = _jsonata({"Each": {"Type": "Map", "Items": [1], "End": True, "ItemProcessor": {
        "StartAt": "Call", "States": {
            "Call": {**task("fail"), "End": True, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Handle"}]},
            "Handle": {"Type": "Pass", "Output": "{% $missing %}", "End": True}}}}})
    assert _links(run_sync(m, {}, handlers=FAILING))[7:] == [
        (8, 7, "LambdaFunctionFailed"), (9, 8, "TaskStateExited"), (10, 9, "PassStateEntered"),
        (11, 10, "EvaluationFailed"), (12, 11, "MapIterationFailed"), (13, 11, "MapStateFailed"),
        (14, 13, "ExecutionFailed")]


def test_a_wait_evaluation_failure_follows_the_wait_entry():
    # AWS (LocalStack's AWS snapshot scenarios/test_base_scenarios.snapshot.json,
    # test_wait_timestamp_jsonata[NO_Z]): 2<-0 WaitStateEntered, 3<-2 EvaluationFailed, 4<-3 ExecutionFailed.
    m = _jsonata({"Wait": {"Type": "Wait", "Timestamp": "{% $states.input.at %}", "End": True}})
    assert _links(run_sync(m, {"at": "2016-03-14T01:59:00"})) == [
        (1, 0, "ExecutionStarted"), (2, 0, "WaitStateEntered"), (3, 2, "EvaluationFailed"),
        (4, 3, "ExecutionFailed")]


def test_event_limit_fails_the_execution_and_keeps_history():
    m = asl.load({"StartAt": "L", "States": {"L": {"Type": "Pass", "Next": "C"},
                                            "C": {"Type": "Choice", "Default": "L", "Choices": [
                                                {"Variable": "$.stop", "IsPresent": True, "Next": "X"}]},
                                            "X": {"Type": "Succeed"}}})
    result = run_sync(m, {}, history_limit=50)
    # the limit counts the closing event: AWS's capped execution ends with ExecutionFailed as
    # event 25,000 (raw AWS capture, radkawar/stackd testdata/aws/stepfunctions/
    # variable_limits.json "history-cap-final-history")
    assert result.status == "FAILED" and len(result.history) == 50
    assert result.history.events[-1]["type"] == "ExecutionFailed"
    assert result.cause == "The execution reached the maximum number of history events (50)."


def test_handlers_never_see_shared_mutations():
    m = machine(A=task("mutate", ResultPath="$.r", Next="B"), B={"Type": "Pass", "End": True})
    original = {"items": [1, 2]}

    def mutate(payload):
        return {"len": len(payload["items"])}

    result = run_sync(m, original, handlers={"mutate": mutate})
    assert original == {"items": [1, 2]} and result.output == {"items": [1, 2], "r": {"len": 2}}


# ---- heartbeats, stopping, cancellation -----------------------------------------------------

def test_heartbeat_timeout_without_heartbeats_is_states_timeout():
    from asl.engine.clock import VirtualClock

    clock = VirtualClock(start=0)
    m = machine(A=task("quiet", HeartbeatSeconds=10, TimeoutSeconds=100, End=True))

    async def quiet(_, ctx):
        await clock.sleep(50)
        return "late"

    result = run_sync(m, {}, handlers={"quiet": quiet}, clock=clock)
    assert (result.status, result.error) == ("FAILED", "States.Timeout")
    assert result.stop_time == pytest.approx(10)


def test_heartbeats_keep_a_task_alive():
    from asl.engine.clock import VirtualClock

    clock = VirtualClock(start=0)
    m = machine(A=task("chatty", HeartbeatSeconds=10, End=True))

    async def chatty(_, ctx):
        for _ in range(5):
            await clock.sleep(8)
            ctx.heartbeat()
        return "done"

    result = run_sync(m, {}, handlers={"chatty": chatty}, clock=clock)
    assert result.output == "done" and result.stop_time == pytest.approx(40)


def test_stop_aborts_with_error_and_cause_and_keeps_history():
    m = machine(W={"Type": "Wait", "Seconds": 3600, "End": True})

    async def main():
        ex = prepare(m, {}, virtual_time=False)
        async with anyio.create_task_group() as tg:
            async def stopper():
                await anyio.sleep(0.01)
                ex.stop("Operator.Stop", "stopped by a test")
            tg.start_soon(stopper)
            return await ex.run()

    result = anyio.run(main)
    assert (result.status, result.error, result.cause) == ("ABORTED", "Operator.Stop", "stopped by a test")
    assert result.history.types() == ["ExecutionStarted", "WaitStateEntered", "ExecutionAborted"]


def test_cancelled_run_still_has_its_history():
    m = machine(A=task("hang", End=True))

    async def hang(_):
        await anyio.sleep(10)

    async def main():
        ex = prepare(m, {}, handlers={"hang": hang}, virtual_time=False)
        with anyio.move_on_after(0.05):
            await ex.run()
        return ex.result

    result = anyio.run(main)
    assert result.status == "ABORTED"
    assert result.history.types()[:3] == ["ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled"]
    assert result.history.types()[-1] == "ExecutionAborted"


def test_express_execution_arn_and_five_minute_limit():
    m = machine(W={"Type": "Wait", "Seconds": 600, "End": True})
    result = run_sync(m, {}, type="EXPRESS", state_machine_name="Orders")
    assert ":express:Orders:" in result.execution_arn
    assert result.status == "TIMED_OUT"


@pytest.mark.parametrize("kind, sync, redrive", [("STANDARD", False, True), ("EXPRESS", False, True),
                                                  ("EXPRESS", True, False)])
def test_the_context_object_of_each_execution_type(kind, sync, redrive):
    # As AWS recorded it: Standard and asynchronous Express executions carry RedriveCount 0,
    # StartSyncExecution's do not (LocalStack test_express_sync / test_express_async snapshots).
    m = machine(P={"Type": "Pass", "Parameters": {"ctx.$": "$$"}, "ResultPath": "$.p", "Next": "T"},
                T=task("t", Parameters={"ctx.$": "$$"}, ResultPath="$.t", Next="J"),
                J={"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $merge([$states.input, "
                   "{'j': $states.context}]) %}", "End": True})
    result = run_sync(m, {"in": 1}, type=kind, sync=sync, name="run-1", state_machine_name="Orders",
                      handlers={"t": lambda p: p["ctx"]})
    out = result.output
    execution = {"Id": result.execution_arn, "Input": {"in": 1}, "Name": "run-1", "StartTime": ANY,
                 "RoleArn": ANY, **({"RedriveCount": 0} if redrive else {})}
    machine_part = {"Id": "arn:aws:states:us-east-1:123456789012:stateMachine:Orders", "Name": "Orders"}
    assert out["p"]["ctx"] == {"Execution": execution, "StateMachine": machine_part,
                               "State": {"Name": "P", "EnteredTime": ANY}}
    assert out["t"] == {"Execution": execution, "StateMachine": machine_part,
                        "State": {"Name": "T", "EnteredTime": ANY, "RetryCount": 0}}
    assert out["j"] == {"Execution": execution, "StateMachine": machine_part,
                        "State": {"Name": "J", "EnteredTime": ANY}}
    assert (":express:Orders:run-1:" if kind == "EXPRESS" else ":execution:Orders:run-1") in result.execution_arn


def test_sync_is_only_for_express():
    with pytest.raises(ValueError, match="StartSyncExecution does not run STANDARD ones"):
        run_sync(machine(P={"Type": "Pass", "End": True}), {}, sync=True)


# ---- retry delays ------------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(interval=st.integers(1, 100), rate=st.floats(1.0, 5.0), attempt=st.integers(0, 8),
       cap=st.none() | st.integers(1, 1000), jitter=st.sampled_from(["FULL", "NONE"]), seed=st.integers(0, 99))
def test_retry_delay_formula(interval, rate, attempt, cap, jitter, seed):
    from asl.engine.interpreter import retry_delay
    from asl.model import Retrier

    retrier = Retrier.model_validate({"ErrorEquals": ["E"], "IntervalSeconds": interval, "BackoffRate": rate,
                                      "MaxDelaySeconds": cap, "JitterStrategy": jitter} if cap else
                                     {"ErrorEquals": ["E"], "IntervalSeconds": interval, "BackoffRate": rate,
                                      "JitterStrategy": jitter})
    expected = interval * rate ** attempt
    if cap is not None:
        expected = min(expected, cap)
    delay = retry_delay(retrier, attempt, random.Random(seed))
    if jitter == "NONE":
        assert delay == pytest.approx(expected)
    else:
        assert 0 <= delay <= expected + 1e-9


def test_send_task_success_from_another_thread():
    import threading
    m = machine(Ask={"Type": "Task", "Resource": "arn:aws:states:::sns:publish.waitForTaskToken",
                     "Parameters": {"Message": {"token.$": "$$.Task.Token"}}, "End": True})

    def publish(message, ctx):
        token = ctx.task_token
        assert message["Message"]["token"] == token
        threading.Timer(0.01, lambda: ex.send_task_success(token, {"from": "thread"})).start()
        return {}

    ex = prepare(m, {}, handlers={"arn:aws:states:::sns:publish.waitForTaskToken": publish}, virtual_time=False)
    result = anyio.run(ex.run)
    assert result.output == {"from": "thread"}


def test_send_task_failure_goes_through_catch():
    m = machine(Ask={"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                     "Parameters": {"MessageBody.$": "$$.Task.Token"}, "End": True,
                     "Catch": [{"ErrorEquals": ["Rejected"], "Next": "No"}]},
                No={"Type": "Pass", "End": True})

    async def main():
        async def send(message, ctx):
            ex.send_task_failure(ctx.task_token, "Rejected", "by reviewer")
            return {}
        ex = prepare(m, {}, handlers={"arn:aws:states:::sqs:sendMessage.waitForTaskToken": send})
        return await ex.run()

    result = anyio.run(main)
    assert result.output == {"Error": "Rejected", "Cause": "by reviewer"}


def test_mock_config_naming_an_unknown_state_is_explained():
    from asl.engine import MockConfigError
    m = machine(Pay=task("pay", End=True))
    config = {"StateMachines": {"Order": {"TestCases": {"T": {"Payy": "R"}}}},
              "MockedResponses": {"R": {"0": {"Return": 1}}}}
    with pytest.raises(MockConfigError, match="'Payy'.*did you mean 'Pay'"):
        prepare(m, {}, mock_config=config, test_case="T", state_machine_name="Order")


# ---- observer hooks --------------------------------------------------------------------------

def test_observer_reports_the_retrier_the_map_length_distributed_items_and_item_selector_inputs():
    from asl.engine import Observer

    seen = []

    class Watch(Observer):
        def retry(self, run, error, attempt, delay, retrier):
            seen.append(("retry", run.name, run.state.retry.index(retrier), attempt, delay))

        def map_started(self, run, length):
            seen.append(("map_started", run.name, length))

        def iteration(self, run, index, status):
            seen.append(("iteration", run.name, index, status))

        def data(self, run, stage, value):
            if stage in ("afterItemsPath", "afterItemSelector"):
                seen.append((stage, run.name, value))

    m = machine(Items={
        "Type": "Map", "ItemsPath": "$.xs", "ItemSelector": {"x.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index"},
        "ToleratedFailureCount": 5, "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "Check", "States": {"Check": task("check", End=True)}}})
    def check(item):
        if item["x"] < 0:
            raise TaskFailed("Bad", str(item["x"]))
        return item["x"]

    result = run_sync(m, {"xs": [1, -2]}, handlers={"check": check}, observer=Watch())
    assert result.status == "SUCCEEDED" and result.output[0] == 1
    failed = result.output[1]  # a failed child is its record (DG "input-output-resultwriter")
    assert (failed["Status"], failed["Error"], failed["Cause"], failed["Input"]) == ("FAILED", "Bad", "-2",
                                                                                     '{"x":-2,"i":1}')
    assert seen[:2] == [("afterItemsPath", "Items", [1, -2]),
                        ("afterItemSelector", "Items", [{"x": 1, "i": 0}, {"x": -2, "i": 1}])]
    assert ("map_started", "Items", 2) in seen
    items = sorted(entry[2:] for entry in seen if entry[0] == "iteration")
    assert items == [(0, "started"), (0, "succeeded"), (1, "failed"), (1, "started")]
    # the retrier that matched is passed: #1, not the first one
    m2 = machine(T=task("flaky", End=True, Retry=[{"ErrorEquals": ["Other"]},
                                                   {"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3}]))
    calls = []

    def flaky(_):
        calls.append(1)
        if len(calls) == 1:
            raise TaskFailed("Boom")
        return "ok"

    seen.clear()
    assert run_sync(m2, {}, handlers={"flaky": flaky}, observer=Watch()).status == "SUCCEEDED"
    assert seen == [("retry", "T", 1, 1, 3.0)]


def test_a_stop_while_a_failure_cuts_siblings_short_loses_no_abort():
    """A branch fails; the Map in the other branch is being cut short, one iteration slowly (its
    handler cleans up for 5 s when cancelled), when StopExecution comes: every iteration that
    started is still closed in the history (the other's abort events, left for the failing
    Parallel to write, were dropped), and every event follows an earlier one."""
    from asl.engine.clock import VirtualClock

    clock = VirtualClock(start=0)
    lam = "arn:aws:lambda:us-east-1:123456789012:function:work"
    machine = asl.load({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "F", "States": {"F": {"Type": "Task", "Resource": lam, "Parameters": {"x": "fail"},
                                          "End": True}}},
        {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "End": True, "ItemProcessor": {
            "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": lam, "End": True}}}}}}]}}})
    handlers = Handlers()

    @handlers.lambda_function("work")
    async def work(payload, ctx):
        if isinstance(payload, dict):
            await clock.sleep(1)
            raise TaskFailed("Boom", "the failing branch")
        try:
            await clock.sleep(60)
        except anyio.get_cancelled_exc_class():
            if payload == 0:
                with anyio.CancelScope(shield=True):
                    await clock.sleep(5)  # (its clean-up)
            raise
        return payload

    async def go():
        ex = prepare(machine, {"items": [0, 1]}, handlers=handlers, clock=clock)

        async def stop():
            await clock.sleep(3)
            ex.stop("Op", "stopped")
        async with anyio.create_task_group() as tg:
            tg.start_soon(stop)
            return await ex.run()
    events = anyio.run(go).history.events
    started = {e["mapIterationStartedEventDetails"]["index"] for e in events if e["type"] == "MapIterationStarted"}
    closed = {e[key]["index"] for e in events for key in e if key.startswith("mapIteration")
              and e["type"] != "MapIterationStarted"}
    assert started == closed == {0, 1}
    ids = {e["id"] for e in events}
    assert all(e.get("previousEventId", 0) in ids | {0} and e.get("previousEventId", 0) < e["id"] for e in events)


def test_a_handler_failure_keeps_its_error_whatever_happens_to_its_hint(monkeypatch):
    """The hint (where the handler raised) is best-effort: a path that cannot be made relative
    (another drive on Windows) shows whole, and the error stays the handler's, caught as such."""
    import os

    from asl.engine import tasks

    def broken(path, start=None):
        raise ValueError("path is on mount 'D:', start on mount 'C:'")

    def pay(event):
        return event["amount"]

    monkeypatch.setattr(os.path, "relpath", broken)
    tasks._shown_from.cache_clear()  # (file names are shown as first worked out)
    machine = asl.load({"StartAt": "Pay", "States": {
        "Pay": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:pay",
                "End": True}}})
    failed = run_sync(machine, {}, handlers={"pay": pay})
    assert (failed.status, failed.error) == ("FAILED", "KeyError")
    assert failed.hint == f'KeyError raised in pay ({os.path.realpath(__file__)}:{pay.__code__.co_firstlineno + 1}): ' \
                          'return event["amount"]'
    monkeypatch.setattr(tasks, "_shown_file", lambda name: 1 / 0)
    caught = run_sync(asl.load({"StartAt": "Pay", "States": {
        "Pay": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:pay",
                "Catch": [{"ErrorEquals": ["KeyError"], "Next": "Done"}], "End": True},
        "Done": {"Type": "Pass", "End": True}}}), {}, handlers={"pay": pay})
    assert caught.status == "SUCCEEDED" and caught.output["Error"] == "KeyError"


def test_an_event_invocation_of_lambda_invoke_answers_202_with_no_payload():
    """Raw AWS capture radkawar/stackd testdata/aws/stepfunctions/lambda_integrations.json
    history-optimized-event: lambda:invoke with InvocationType Event succeeds with
    {"Payload": null, SdkHttpMetadata (HttpStatusCode 202), SdkResponseMetadata, "StatusCode": 202}
    and no ExecutedVersion; the function still runs (its log showed the event delivered)."""
    from asl.engine import Handlers

    handlers, seen = Handlers(), []

    @handlers.lambda_function("f")
    def f(event, context):
        seen.append(event)
        raise ValueError("never reaches the state")

    m = machine(T={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True, "Parameters": {
        "FunctionName": "arn:aws:lambda:us-west-2:000000000000:function:f", "Payload.$": "$",
        "InvocationType": "Event"}})
    result = run_sync(m, {"marker": "x"}, handlers=handlers)
    assert result.status == "SUCCEEDED" and seen == [{"marker": "x"}]
    out = result.output
    assert (out["Payload"], out["StatusCode"], out["SdkHttpMetadata"]["HttpStatusCode"]) == (None, 202, 202)
    assert "ExecutedVersion" not in out and "X-Amz-Executed-Version" not in out["SdkHttpMetadata"]["HttpHeaders"]
    assert out["SdkResponseMetadata"]["RequestId"] == out["SdkHttpMetadata"]["HttpHeaders"]["x-amzn-RequestId"]
