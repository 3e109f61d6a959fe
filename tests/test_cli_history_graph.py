"""`asl history FILE` and `asl graph DEFINITION`."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from asl.cli.main import get_cli
from conftest import ROOT, SAMPLES

ORDER = str(SAMPLES / "order" / "order.json")
AWS_PARALLEL = str(ROOT / "tests" / "fixtures" / "history" / "parallel-branch-failed.json")


def invoke(*args, input=None):
    return CliRunner().invoke(get_cli(), list(args), input=input)


@pytest.fixture(scope="module")
def declined_history(tmp_path_factory):
    path = tmp_path_factory.mktemp("h") / "declined.json"
    result = invoke("run", ORDER, "--input", str(SAMPLES / "order" / "input-declined.json"), "--handlers",
                    str(SAMPLES / "order" / "handlers.py"), "--virtual-time", "-q", "--history", str(path))
    assert result.exit_code == 1
    return path


# --------------------------------------------------------------------------------------------
# asl history
# --------------------------------------------------------------------------------------------

def test_history_of_a_run(declined_history):
    result = invoke("history", str(declined_history))
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{declined_history}: FAILED · 34 events · 1.00s · started ")
    assert lines[10].split() == ["+0.000s", "10", "TaskFailed", "ProcessPayment", "ConnectionError:", "payment",
                                 "gateway", "timed", "out"]
    assert lines[11].split()[:4] == ["+1.000s", "11", "TaskScheduled", "ProcessPayment"]
    inside = next(line for line in lines if " TaskStateEntered " in line and "EmailCustomer" in line)
    outside = next(line for line in lines if " TaskStateEntered " in line and "ValidateOrder" in line)
    assert inside.index("TaskStateEntered") == outside.index("TaskStateEntered") + 2  # indented in its branch
    assert lines[-5:] == [
        "FAILED",
        "  error  Order.PaymentDeclined",
        "  cause  The payment was declined; the customer has been told.",
        "  state  PaymentDeclined (Fail)",
        "  path   ValidateOrder → ProcessPayment → RecordDecline → NotifyParties → CheckPayment → PaymentDeclined",
    ]


def test_history_verbose_shows_the_payloads(declined_history):
    result = invoke("history", str(declined_history), "--verbose")
    assert result.exit_code == 0
    assert any(line.strip().startswith('parameters {"FunctionName":"ProcessPayment"') for line in
               result.stdout.splitlines())


def test_history_downloaded_from_aws():
    result = invoke("history", AWS_PARALLEL)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{AWS_PARALLEL}: FAILED · 16 events · 1.52s · started 2026-11-27 09:00:00 UTC")
    assert "sns:publish" in lines[12]
    assert lines[-2:] == ["  state  SendEmail (Task)", "  path   ValidateOrder → Notify › SendEmail"]


def test_history_from_stdin():
    result = invoke("history", "-", input=open(AWS_PARALLEL).read())
    assert result.exit_code == 0 and result.stdout.startswith("<stdin>: FAILED")


def test_history_of_a_succeeded_run_ends_with_its_output(tmp_path):
    path = tmp_path / "ok.json"
    invoke("run", ORDER, "--input", str(SAMPLES / "order" / "input.json"), "--handlers",
           str(SAMPLES / "order" / "handlers.py"), "--virtual-time", "-q", "--history", str(path))
    last = invoke("history", str(path)).stdout.splitlines()[-1]
    assert last.startswith('SUCCEEDED  output {"orderId": "order-1001"')


def test_history_of_an_execution_still_running(declined_history, tmp_path):
    document = json.loads(declined_history.read_text())
    path = tmp_path / "running.json"
    path.write_text(json.dumps({"events": document["events"][:12]}))
    lines = invoke("history", str(path)).stdout.splitlines()
    assert lines[0].startswith(f"{path}: RUNNING · 12 events")
    assert lines[-1] == "RUNNING  the history ends before the execution did"


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    ('{"events": [}', ":1:13: invalid JSON"),
    ('{"status": "SUCCEEDED"}', "not an execution history"),
])
def test_history_bad_files(tmp_path, content, message):
    path = tmp_path / "h.json"
    if content is not None:
        path.write_text(content)
    result = invoke("history", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"asl history: {path}") and message in result.stderr
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------------------------
# asl graph
# --------------------------------------------------------------------------------------------

def test_graph_mermaid_is_the_default():
    result = invoke("graph", ORDER)
    assert result.exit_code == 0
    assert result.stdout.startswith("flowchart TD\n") and 'subgraph c0["NotifyParties: 2 branches"]' in result.stdout


def test_graph_dot_with_a_history(declined_history):
    result = invoke("graph", ORDER, "--format", "dot", "--history", str(declined_history))
    assert result.exit_code == 0
    assert 's7 [label="PaymentDeclined\\nFail", shape=box, fillcolor="#f8d7da"' in result.stdout
    assert 's6 [label="ManualReview\\nFail", shape=box, fillcolor="#fafafa"' in result.stdout


def test_graph_to_a_file(tmp_path):
    out = tmp_path / "order.mmd"
    result = invoke("graph", ORDER, "-o", str(out))
    assert result.exit_code == 0 and result.stdout == ""
    assert out.read_text().startswith("flowchart TD")


def test_graph_of_an_aws_history_over_its_definition(tmp_path):
    definition = tmp_path / "notify.json"
    definition.write_text(json.dumps({"StartAt": "ValidateOrder", "States": {
        "ValidateOrder": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                          "Parameters": {"FunctionName": "validate", "Payload.$": "$"}, "Next": "Notify"},
        "Notify": {"Type": "Parallel", "End": True, "Branches": [
            {"StartAt": "Log", "States": {"Log": {"Type": "Pass", "End": True}}},
            {"StartAt": "SendEmail", "States": {"SendEmail": {
                "Type": "Task", "Resource": "arn:aws:states:::sns:publish",
                "Parameters": {"TopicArn": "arn:aws:sns:eu-west-1:123456789012:mail", "Message.$": "$.orderId"},
                "End": True}}}]}}}))
    result = invoke("graph", str(definition), "--history", AWS_PARALLEL)
    assert result.exit_code == 0
    assert "class s0,s2 succeeded" in result.stdout and "class s1,s3 failed" in result.stdout


@pytest.mark.parametrize("args, message, code", [
    (["nowhere.json"], "asl graph: nowhere.json: no such file", 2),
    ([ORDER, "--history", "nowhere.json"], "asl graph: nowhere.json: no such file", 2),
    ([ORDER, "--format", "png"], "Invalid value for '--format'", 2),
    ([str(SAMPLES / "broken" / "broken-order.json")], "MISSING_TRANSITION_TARGET", 3),
])
def test_graph_errors(args, message, code):
    result = invoke("graph", *args)
    assert result.exit_code == code and message in result.stderr and "Traceback" not in result.output


def test_svg_without_graphviz_says_what_to_do(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = invoke("graph", ORDER, "--format", "svg")
    assert result.exit_code == 2
    assert "--format svg needs Graphviz's `dot` program, which is not on PATH" in result.stderr
    assert "--format mermaid" in result.stderr


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_svg_with_graphviz():
    proc = subprocess.run([sys.executable, "-m", "asl.cli", "graph", ORDER, "--format", "svg"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "<svg" in proc.stdout and "ProcessPayment" in proc.stdout
