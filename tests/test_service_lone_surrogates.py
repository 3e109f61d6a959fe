"""A lone surrogate in a request (JSON's ``"\\ud800"`` escape: valid JSON, and Jackson, AWS's
parser, reads it as one character) never makes `asl serve` answer 500 or 503, nor stop an
execution: UTF-8 has no encoding for it, so the answer, SQLite and PostgreSQL cannot take it as
it is. Through real boto3 (which sends such a character as that escape) against a real server
process on a SQLite store, then after a restart."""
from __future__ import annotations

import json
import threading

import pytest

from test_service import ROLE, Server, error_of, machine, wait_done

LONE = "\ud800"
PASS = machine({"P": {"Type": "Pass", "End": True}}, "P")
FAIL = machine({"W": {"Type": "Wait", "Seconds": 1, "Next": "F"},
                "F": {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}}, "W")
SM = "arn:aws:states:us-east-1:123456789012:stateMachine:"


@pytest.fixture
def server(tmp_path):
    srv = Server(tmp_path, "sqlite:runs.db").start()
    yield srv
    if srv.proc.poll() is None:
        srv.stop()


def test_documents_keep_their_lone_surrogates_through_the_store(server):
    sfn = server.client()
    sfn.create_state_machine(name="p", definition=PASS, roleArn=ROLE)
    sfn.create_state_machine(name="f", definition=FAIL, roleArn=ROLE)
    document = {"a": "x" + LONE, "b": "\U0001F600", LONE: 1}
    started = {}

    def start(name: str, arn: str, value: dict) -> None:
        started[name] = sfn.start_execution(stateMachineArn=arn, name=name, input=json.dumps(value))["executionArn"]

    # started together: their writes share the store's commits, and one execution's document must
    # not fail the others'
    threads = [threading.Thread(target=start, args=("odd", SM + "p", document)),
               threading.Thread(target=start, args=("plain", SM + "p", {"a": 1})),
               threading.Thread(target=start, args=("failing", SM + "f", {"e": "E" + LONE, "c": "C" + LONE}))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert json.loads(wait_done(sfn, started["odd"])["output"]) == document
    assert json.loads(wait_done(sfn, started["plain"])["output"]) == {"a": 1}
    failed = wait_done(sfn, started["failing"])
    assert failed["status"] == "FAILED"
    events = sfn.get_execution_history(executionArn=started["odd"])["events"]
    assert json.loads(events[-1]["executionSucceededEventDetails"]["output"]) == document

    server.stop()
    server.start()
    sfn = server.client()
    assert json.loads(sfn.describe_execution(executionArn=started["odd"])["output"]) == document
    events = sfn.get_execution_history(executionArn=started["odd"])["events"]
    assert json.loads(events[0]["executionStartedEventDetails"]["input"]) == document
    # plain text (the Fail state's error and cause) keeps what UTF-8 can hold: a lone surrogate
    # becomes '?', as Java's String.getBytes(UTF_8) writes one
    failed = sfn.describe_execution(executionArn=started["failing"])
    assert (failed["error"], failed["cause"]) == ("E?", "C?")
    # the test harness of TestState answers the document too
    tested = sfn.test_state(definition=json.dumps({"Type": "Pass", "End": True}), input=json.dumps(document))
    assert json.loads(tested["output"]) == document


def test_names_and_arns_with_a_lone_surrogate_are_refused_or_not_found(server):
    """As any name with a character AWS's names refuse, and any ARN naming nothing."""
    sfn = server.client(parameter_validation=False)
    sfn.create_state_machine(name="p", definition=PASS, roleArn=ROLE)
    assert error_of(sfn.create_state_machine, name="m" + LONE, definition=PASS, roleArn=ROLE)[::2] == (
        "InvalidName", 400)
    assert error_of(sfn.start_execution, stateMachineArn=SM + "p", name="e" + LONE)[::2] == ("InvalidName", 400)
    assert error_of(sfn.create_activity, name="a" + LONE)[::2] == ("InvalidName", 400)
    assert error_of(sfn.start_execution, stateMachineArn=SM + "p" + LONE)[::2] == ("StateMachineDoesNotExist", 400)
    execution = "arn:aws:states:us-east-1:123456789012:execution:p:" + LONE
    for call in (sfn.describe_execution, sfn.get_execution_history, sfn.stop_execution):
        assert error_of(call, executionArn=execution)[::2] == ("ExecutionDoesNotExist", 400)
    assert error_of(sfn.send_task_failure, taskToken=LONE, error=LONE, cause=LONE)[::2] == ("InvalidToken", 400)
    # tags and descriptions are kept (as '?'), and read back
    sfn.tag_resource(resourceArn=SM + "p", tags=[{"key": "k", "value": "v" + LONE}])
    assert sfn.list_tags_for_resource(resourceArn=SM + "p")["tags"] == [{"key": "k", "value": "v?"}]
    sfn.update_state_machine(stateMachineArn=SM + "p", definition=PASS, publish=True,
                             versionDescription="d" + LONE)
    assert sfn.describe_state_machine(stateMachineArn=SM + "p:1")["description"] == "d?"
    assert "Traceback" not in server_log(server)


def server_log(server) -> str:
    """What the server printed, once it has stopped."""
    server.proc.terminate()
    output = server.proc.communicate(timeout=15)[0]
    return output
