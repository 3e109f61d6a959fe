"""Executions of raw AWS captures replayed through the engine: radkawar/stackd,
testdata/aws/stepfunctions/task_integrations.json (us-west-2, Standard executions, September
2026). Each test names the observation's label."""
from __future__ import annotations

import asl
from asl.engine import run_sync

PURE_CHOICE = {"QueryLanguage": "JSONata", "StartAt": "Seed", "States": {
    "Seed": {"Type": "Pass", "Assign": {"shared": "seed", "stateOnly": "seed", "ruleOnly": "seed", "noRule": "seed"},
             "Next": "Selected"},
    "Selected": {"Type": "Choice", "Assign": {"shared": "state", "stateOnly": "state"},
                 "Output": {"source": "state-output"},
                 "Choices": [{"Condition": "{% true %}", "Assign": {"shared": "rule", "ruleOnly": "rule"},
                              "Output": {"source": "rule-output"}, "Next": "RememberSelected"}],
                 "Default": "RememberSelected"},
    "RememberSelected": {"Type": "Pass", "Assign": {"selectedSeen": "{% {'shared': $shared, 'stateOnly': $stateOnly, "
                                                                      "'ruleOnly': $ruleOnly, 'input': $states.input} %}"},
                         "Next": "MatchedNoAssign"},
    "MatchedNoAssign": {"Type": "Choice", "Assign": {"noRule": "state-assignment"},
                        "Choices": [{"Condition": "{% true %}", "Next": "DefaultOnly"}], "Default": "DefaultOnly"},
    "DefaultOnly": {"Type": "Choice", "Assign": {"defaultSeen": "default-assignment"},
                    "Output": {"source": "default-output"},
                    "Choices": [{"Condition": "{% false %}", "Next": "Expose"}], "Default": "Expose"},
    "Expose": {"Type": "Pass", "Output": {"selected": "{% $selectedSeen %}", "matchedWithoutAssign": "{% $noRule %}",
                                          "default": "{% $defaultSeen %}", "input": "{% $states.input %}"},
               "End": True}}}


def test_a_choice_assigns_and_outputs_with_its_rule_and_its_own_fields_only_by_default():
    """pure-choice: a matched rule's Assign and Output replace the state's (stateOnly stays
    "seed"); a matched rule without Assign assigns nothing (noRule stays "seed"); the Default
    takes the state's. assignedVariables come by name (AWS: noRule, ruleOnly, shared, stateOnly)."""
    result = run_sync(asl.load(PURE_CHOICE), {"original": True})
    assert result.output == {"selected": {"shared": "rule", "stateOnly": "seed", "ruleOnly": "rule",
                                          "input": {"source": "rule-output"}},
                             "matchedWithoutAssign": "seed", "default": "default-assignment",
                             "input": {"source": "default-output"}}
    exits = {e["stateExitedEventDetails"]["name"]: e["stateExitedEventDetails"] for e in result.history.events
             if "stateExitedEventDetails" in e}
    assert list(exits["Seed"]["assignedVariables"].items()) == [
        ("noRule", '"seed"'), ("ruleOnly", '"seed"'), ("shared", '"seed"'), ("stateOnly", '"seed"')]
    assert list(exits["Selected"]["assignedVariables"].items()) == [("ruleOnly", '"rule"'), ("shared", '"rule"')]
    assert exits["Selected"]["output"] == '{"source":"rule-output"}'
    assert "assignedVariables" not in exits["MatchedNoAssign"]
    assert exits["DefaultOnly"]["assignedVariables"] == {"defaultSeen": '"default-assignment"'}
    assert exits["DefaultOnly"]["output"] == '{"source":"default-output"}'


def test_task_scheduled_names_the_region_the_service_runs_in():
    """Every TaskScheduled of the capture (us-west-2) says "region": "us-west-2" (s3-flow,
    sqs-optimized-request-response, nested-request-response ...): `asl serve --region us-west-2`
    said us-east-1, the engine's default, for a service-run execution."""
    import json

    import anyio

    from asl.engine.stores import open_store
    from asl.service.api import Service

    async def scheduled() -> dict:
        service = Service(open_store("memory"), region="us-west-2", account="000000000000", wait_scale=0.0)
        async with service.serving():
            definition = {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
                                                           "Parameters": {"QueueUrl": "q", "MessageBody": "m"},
                                                           "End": True}}}
            machine = await service.answer("CreateStateMachine", {
                "name": "m", "roleArn": "arn:aws:iam::000000000000:role/r", "definition": json.dumps(definition)})
            started = await service.answer("StartExecution", {"stateMachineArn": machine["stateMachineArn"]})
            for _ in range(500):
                described = await service.answer("DescribeExecution", {"executionArn": started["executionArn"]})
                if described["status"] != "RUNNING":
                    break
                await anyio.sleep(0.01)
            events = (await service.answer("GetExecutionHistory", {"executionArn": started["executionArn"]}))["events"]
            return next(e["taskScheduledEventDetails"] for e in events if e["type"] == "TaskScheduled")

    details = anyio.run(scheduled)
    assert (details["resourceType"], details["resource"], details["region"]) == ("sqs", "sendMessage", "us-west-2")


def test_variable_references_come_in_the_order_they_are_written_the_states_by_name():
    """DescribeStateMachine of pure-choice: {"Expose": ["selectedSeen", "noRule", "defaultSeen"],
    "RememberSelected": ["shared", "stateOnly", "ruleOnly"]} (the states are defined
    RememberSelected first; we sorted the names within a state)."""
    import json

    from asl.service.api import variable_references

    assert variable_references(json.dumps(PURE_CHOICE)) == {
        "Expose": ["selectedSeen", "noRule", "defaultSeen"], "RememberSelected": ["shared", "stateOnly", "ruleOnly"]}
    assert list(variable_references(json.dumps(PURE_CHOICE))) == ["Expose", "RememberSelected"]
