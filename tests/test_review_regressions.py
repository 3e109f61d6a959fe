"""Regressions for behaviours a review against ASL-SPEC.md found wrong (one test each)."""
from __future__ import annotations

import anyio
import pytest

import asl
from asl.engine import TaskFailed, prepare, run_sync

LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"


def task(name, **extra):
    return {"Type": "Task", "Resource": LAMBDA + name, **extra}


def machine(**states):
    return asl.load({"StartAt": next(iter(states)), "States": states})


def test_a_handler_changing_its_input_changes_nothing_else():
    m = machine(A=task("f", ResultPath="$.r", Next="B"),
                B={"Type": "Pass", "Parameters": {"orig.$": "$$.Execution.Input", "now.$": "$"}, "End": True})
    data = {"a": 1}

    def f(p):
        p["hacked"] = True
        return "ok"

    result = run_sync(m, data, handlers={"f": f})
    assert data == {"a": 1}
    assert result.output == {"orig": {"a": 1}, "now": {"a": 1, "r": "ok"}}
    assert '"hacked"' not in str(result.history.events)


def test_non_json_handler_result_is_a_marshal_error():
    m = machine(A=task("f", End=True))
    result = run_sync(m, {}, handlers={"f": lambda p: {1, 2}})
    assert (result.status, result.error) == ("FAILED", "Runtime.MarshalError")
    assert result.history.events  # the history still serialises


@pytest.mark.parametrize("error", [5, {"a": 1}])
def test_non_string_error_path_fails_cleanly(error):
    m = machine(P={"Type": "Parallel", "End": True, "Catch": [{"ErrorEquals": ["States.TaskFailed"], "Next": "S"}],
                   "Branches": [{"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e"}}}]},
                S={"Type": "Succeed"})
    result = run_sync(m, {"e": error})
    assert (result.status, result.error) == ("FAILED", "States.Runtime")


def test_task_failed_with_a_number_is_text():
    m = machine(A=task("f", End=True))

    def f(_):
        raise TaskFailed(123, {"why": "x"})

    result = run_sync(m, {}, handlers={"f": f})
    assert (result.error, result.cause) == ("123", '{"why":"x"}')


def test_history_data_fields_are_json_text_for_strings_too():
    m = machine(A={"Type": "Pass", "Result": "hello", "End": True})
    events = run_sync(m, "in").history.events
    assert events[0]["executionStartedEventDetails"]["input"] == '"in"'
    assert events[2]["stateExitedEventDetails"]["output"] == '"hello"'


def test_oversized_task_result_is_a_task_failure_with_events():
    m = machine(A=task("big", End=True, Catch=[{"ErrorEquals": ["States.ALL"], "Next": "C"}]),
                C={"Type": "Pass", "End": True})
    result = run_sync(m, {}, handlers={"big": lambda _: "x" * 300_000})
    assert result.status == "SUCCEEDED"
    assert result.output["Error"] == "States.DataLimitExceeded"
    assert result.output["Cause"].startswith(f"The state/task '{LAMBDA}big' returned a result")
    assert "LambdaFunctionFailed" in result.history.types()


def test_oversized_output_of_a_branch_pass_is_not_caught():
    m = machine(P={"Type": "Parallel", "End": True, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "S"}],
                   "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": "x" * 300_000,
                                                                   "End": True}}}]},
                S={"Type": "Succeed"})
    result = run_sync(m, {})
    assert (result.status, result.error) == ("FAILED", "States.DataLimitExceeded")


def test_states_task_failed_matches_states_errors_but_not_timeout():
    m = machine(A=task("f", Next="Ok", Catch=[{"ErrorEquals": ["States.TaskFailed"], "Next": "Caught"}]),
                Ok={"Type": "Succeed"}, Caught={"Type": "Pass", "End": True})

    def f(_):
        raise TaskFailed("States.Permissions", "denied")

    assert run_sync(m, {}, handlers={"f": f}).output["Error"] == "States.Permissions"


def test_sibling_failure_records_aborted_states():
    m = machine(P={"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "End": True}}},
        {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "BErr"}}}]})
    types = run_sync(m, {}).history.types()
    assert "WaitStateAborted" in types and types[-2:] == ["ParallelStateFailed", "ExecutionFailed"]


def test_callback_task_submitted_carries_the_api_response():
    m = machine(Ask={"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                     "Parameters": {"MessageBody.$": "$$.Task.Token"}, "End": True})

    async def main():
        async def send(message, ctx):
            ex.send_task_failure(ctx.task_token, "No", "rejected")
            return {"MessageId": "m-1"}
        ex = prepare(m, {}, handlers={"arn:aws:states:::sqs:sendMessage.waitForTaskToken": send})
        return await ex.run()

    result = anyio.run(main)
    types = result.history.types()
    assert types[types.index("TaskStarted") + 1] == "TaskSubmitted"
    submitted = next(e for e in result.history.events if e["type"] == "TaskSubmitted")
    assert submitted["taskSubmittedEventDetails"]["output"] == '{"MessageId":"m-1"}'
    assert types[-2] == "TaskFailed"


def test_heartbeat_expiry_is_catchable_as_heartbeat_timeout():
    from asl.engine.clock import VirtualClock
    clock = VirtualClock(start=0)
    m = machine(A=task("slow", HeartbeatSeconds=5, Next="Ok", Catch=[{"ErrorEquals": ["States.HeartbeatTimeout"],
                                                                       "Next": "Caught"}]),
                Ok={"Type": "Succeed"}, Caught={"Type": "Pass", "End": True})

    async def slow(_):
        await clock.sleep(60)

    result = run_sync(m, {}, handlers={"slow": slow}, clock=clock)
    assert result.output["Error"] == "States.Timeout"


def test_evaluation_failed_names_the_field():
    m = asl.load({"QueryLanguage": "JSONata", "StartAt": "P", "States": {
        "P": {"Type": "Pass", "Output": "{% $states.input.nope %}", "End": True}}})
    event = next(e for e in run_sync(m, {}).history.events if e["type"] == "EvaluationFailed")
    assert event["evaluationFailedEventDetails"]["location"] == "Output"


def test_lambda_invoke_callback_output_is_not_wrapped():
    m = machine(Ask={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
                     "Parameters": {"FunctionName": "ask", "Payload": {"token.$": "$$.Task.Token"}}, "End": True})

    async def main():
        async def ask(payload, ctx):
            ex.send_task_success(payload["token"], {"approved": True})
            return None
        ex = prepare(m, {}, handlers={"ask": ask})
        return await ex.run()

    assert anyio.run(main).output == {"approved": True}


def test_observer_exit_sees_the_next_state():
    from asl.engine import Observer

    seen = []

    class Watch(Observer):
        def exit(self, run, output, next_name):
            seen.append((run.name, next_name))

    m = machine(A={"Type": "Pass", "Next": "B"}, B={"Type": "Pass", "End": True})
    run_sync(m, {}, observer=Watch())
    assert seen == [("A", "B"), ("B", None)]


def test_observer_sees_a_parallels_parameters():
    from asl.engine import Observer

    stages = []

    class Watch(Observer):
        def data(self, run, stage, value):
            if run.name == "P":
                stages.append((stage, value))

    m = machine(P={"Type": "Parallel", "Parameters": {"x.$": "$.a"}, "End": True, "Branches": [
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}]})
    run_sync(m, {"a": 1}, observer=Watch())
    assert ("afterParameters", {"x": 1}) in stages and ("result", [{"x": 1}]) in stages


def test_an_unanswered_callback_times_out_under_virtual_time_instead_of_hanging():
    m = machine(Ask={"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                     "Parameters": {"MessageBody.$": "$$.Task.Token"}, "End": True})
    import threading
    box = []
    worker = threading.Thread(target=lambda: box.append(run_sync(
        m, {}, handlers={"arn:aws:states:::sqs:sendMessage.waitForTaskToken": lambda _: {}})), daemon=True)
    worker.start()
    worker.join(10)  # real seconds: the test must not hang
    assert box, "the execution hung"
    result = box[0]
    # the task's default TimeoutSeconds (99999999 s) is longer than a Standard execution may
    # run: the execution's one-year maximum ends it first
    assert (result.status, result.error) == ("TIMED_OUT", "States.Timeout")
    assert result.stop_time - result.start_time == pytest.approx(365 * 24 * 3600, abs=1)
