"""`asl run` for people: the trace on stderr, the output on stdout, project defaults, bad input."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from asl.cli.main import get_cli
from conftest import ROOT, SAMPLES

ORDER = str(SAMPLES / "order" / "order.json")
ORDER_HANDLERS = str(SAMPLES / "order" / "handlers.py")
INPUT = str(SAMPLES / "order" / "input.json")
DECLINED = str(SAMPLES / "order" / "input-declined.json")


def invoke(*args, input=None):
    return CliRunner().invoke(get_cli(), list(args), input=input)


def run_order(*extra, input_path=INPUT):
    return invoke("run", ORDER, "--input", input_path, "--handlers", ORDER_HANDLERS, "--virtual-time", *extra)


# --------------------------------------------------------------------------------------------
# stdout, stderr, exit codes
# --------------------------------------------------------------------------------------------

def test_output_on_stdout_trace_on_stderr():
    result = run_order()
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)  # stdout is exactly the output document
    assert output["payment"] == {"status": "PAID", "transactionId": "tx-order-1001-2"}
    lines = result.stderr.splitlines()
    assert lines[0] == f"order: {ORDER} · STANDARD · virtual time"
    assert "↻ ProcessPayment  ConnectionError: payment gateway timed out · retry 1 of 3 in 1.00s" in lines
    assert lines[-1] == "SUCCEEDED  order · 7 state transitions · 1.00s (virtual)"


def test_a_failed_run_reports_error_cause_state_and_path():
    result = run_order(input_path=DECLINED)
    assert result.exit_code == 1
    assert result.stdout == ""
    tail = result.stderr.splitlines()[-5:]
    assert tail == [
        "FAILED  order · 8 state transitions · 1.00s (virtual)",
        "  error  Order.PaymentDeclined",
        "  cause  The payment was declined; the customer has been told.",
        "  state  PaymentDeclined (Fail)",
        "  path   ValidateOrder → ProcessPayment → RecordDecline → NotifyParties → CheckPayment → PaymentDeclined",
    ]


def test_a_failure_inside_a_branch_shows_the_branch_in_the_path(tmp_path):
    handlers = tmp_path / "sms_down.py"
    handlers.write_text(textwrap.dedent(f"""
        import runpy
        from asl.engine import TaskFailed
        handlers = runpy.run_path({ORDER_HANDLERS!r})["handlers"]

        @handlers.lambda_function("ReserveStock")
        def reserve(request):
            raise TaskFailed("Stock.Unavailable", "the warehouse is closed")
    """))
    result = invoke("run", ORDER, "--input", INPUT, "--handlers", str(handlers), "--virtual-time")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert "  [branch 2] ✗ ReserveStock  <1ms  Stock.Unavailable: the warehouse is closed" in lines
    assert "✗ NotifyParties  <1ms  Stock.Unavailable (from ReserveStock)" in lines
    assert "  state  ReserveStock (Task)" in lines
    assert "  path   ValidateOrder → ProcessPayment → NotifyParties › [branch 2] ReserveStock" in lines


SECOND_CATCHER = {"StartAt": "Work", "States": {
    "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Work", "Next": "Done",
             "Catch": [{"ErrorEquals": ["First.Error"], "Next": "Done"},
                       {"ErrorEquals": ["Second.Error"], "ResultPath": "$.error", "Next": "Route"}]},
    "Route": {"Type": "Choice", "Default": "Done", "Choices": [
        {"Variable": "$.n", "NumericEquals": 1, "Next": "Done"},
        {"Variable": "$.n", "NumericEquals": 2, "Next": "Done"}]},
    "Done": {"Type": "Succeed"}}}


def test_the_trace_counts_catchers_and_choice_rules_from_0_as_the_test_api_does(tmp_path):
    """The second Catch took the error, the second rule matched: the trace once said "(Catch #2)"
    and "rule #2" where the test API's `catcher` and `choice` say 1. From 0 it is, as AWS's
    TestState counts them (inspectionData.errorDetails.catchIndex 1 for the second catcher:
    recording test_state_task_catch_error[DEBUG]::catch_task_failed_response in
    shared/conformance/service/test-state) and as the validator locates them (/Catch/1)."""
    from asl.engine.testing import Workflow, raises

    definition = tmp_path / "second.json"
    definition.write_text(json.dumps(SECOND_CATCHER))
    handlers = tmp_path / "work.py"
    handlers.write_text(textwrap.dedent("""
        from asl.engine import Handlers, TaskFailed
        handlers = Handlers()

        @handlers.lambda_function("Work")
        def work(event):
            raise TaskFailed("Second.Error", "the second catcher takes it")
    """))
    result = invoke("run", str(definition), "--input-json", '{"n": 2}', "--handlers", str(handlers),
                    "--virtual-time")
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert "↪ Work  <1ms  caught Second.Error: the second catcher takes it (Catch[1]) → Route" in lines
    assert "✓ Route  <1ms  Choices[1]: $.n == 2 → Done" in lines
    run = Workflow(SECOND_CATCHER).run({"n": 2}, mocks={"Work": raises("Second.Error")})
    assert (run.state("Work").catcher, run.state("Route").choice) == (1, 1)


def test_quiet_prints_the_output_only():
    result = run_order("--quiet")
    assert result.exit_code == 0 and result.stderr == ""
    assert json.loads(result.stdout)["orderId"] == "order-1001"


def test_quiet_failure_is_one_line():
    result = run_order("-q", input_path=DECLINED)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr == "FAILED: Order.PaymentDeclined: The payment was declined; the customer has been told.\n"


def test_verbose_shows_the_data_flow():
    result = run_order("--verbose")
    assert result.exit_code == 0
    # a JSONPath ResultSelector's object in java.util.HashMap order, as AWS writes it (radkawar/stackd
    # testdata/aws/stepfunctions/dataflow_execution.json history-context-and-intrinsics)
    assert '  afterResultSelector {"transactionId": "tx-order-1001-2", "status": "PAID"}' in result.stderr.splitlines()


def test_verbose_labels_each_retried_attempt(tmp_path):
    """-v prints every attempt's data lines: each retried one begins with which attempt it is,
    and of how many at most when the state has one Retrier. MaxAttempts counts the retries:
    AWS schedules a Lambda function MaxAttempts + 1 times (MaxAttempts 2: three
    LambdaFunctionScheduled events, conformance case test_retry_interval_features)."""
    handlers = tmp_path / "flaky.py"
    handlers.write_text(textwrap.dedent("""
        from asl.engine import Handlers, TaskFailed
        handlers = Handlers()

        @handlers.lambda_function("Flaky")
        def flaky(event, ctx):
            if ctx.attempt < 3:
                raise TaskFailed("Busy", "the queue is full")
            return {"attempt": ctx.attempt}
    """))
    task = {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Flaky", "End": True,
            "Retry": [{"ErrorEquals": ["Busy"], "MaxAttempts": 2}]}
    definition = tmp_path / "flaky.json"
    definition.write_text(json.dumps({"StartAt": "Flaky", "States": {"Flaky": task}}))
    result = invoke("run", str(definition), "--handlers", str(handlers), "--virtual-time", "-v")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.stderr.splitlines() if line.startswith("↻") or line.startswith("  result")]
    assert lines == ["↻ Flaky  Busy: the queue is full · retry 1 of 2 in 1.00s",
                     "↻ Flaky  attempt 2 of 3",
                     "↻ Flaky  Busy: the queue is full · retry 2 of 2 in 2.00s",
                     "↻ Flaky  attempt 3 of 3",
                     '  result              {"attempt": 3}']
    # a second Retrier (another error, its own count): how many attempts are left is not known
    task["Retry"].append({"ErrorEquals": ["Gone"], "MaxAttempts": 5})
    definition.write_text(json.dumps({"StartAt": "Flaky", "States": {"Flaky": task}}))
    result = invoke("run", str(definition), "--handlers", str(handlers), "--virtual-time", "-v")
    assert [line for line in result.stderr.splitlines() if "  attempt" in line] == \
        ["↻ Flaky  attempt 2", "↻ Flaky  attempt 3"]
    # without -v no attempt's data is shown: the retry lines and "(3 attempts)" tell it
    quiet = invoke("run", str(definition), "--handlers", str(handlers), "--virtual-time")
    assert "attempt 2" not in quiet.stderr and "✓ Flaky  3.00s  (3 attempts) → end" in quiet.stderr.splitlines()


def test_quiet_and_verbose_together_is_a_usage_error():
    result = run_order("--quiet", "--verbose")
    assert result.exit_code == 2 and "do not go together" in result.stderr


def test_json_output_format_still_traces():
    result = run_order("--output-format", "json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["status"] == "SUCCEEDED"
    assert "▶ ValidateOrder" in result.stderr


def test_color_always_and_never():
    assert "\x1b[" in run_order("--color", "always").stderr
    assert "\x1b[" not in run_order("--color", "never").stderr
    assert "\x1b[" not in run_order().stderr  # the runner's stderr is not a terminal


def test_input_from_stdin():
    result = invoke("run", ORDER, "--input", "-", "--handlers", ORDER_HANDLERS, "--virtual-time", "-q",
                    input=open(DECLINED).read())
    assert result.exit_code == 1 and "Order.PaymentDeclined" in result.stderr


def test_history_file_is_announced(tmp_path):
    history = tmp_path / "h.json"
    result = run_order("--history", str(history))
    assert f"history written to {history} (asl history {history})" in result.stderr
    assert json.loads(history.read_text())["events"][0]["type"] == "ExecutionStarted"


# --------------------------------------------------------------------------------------------
# Bad input: one line, exit 2, never a traceback
# --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--no-such-flag"], "No such option '--no-such-flag'"),
    (["--input", "missing.json"], "missing.json: no such input file"),
    (["--input-json", "[1, 2"], "--input-json:1:6: invalid JSON: Unexpected end-of-input"),
    (["--handlers", "no_such_module_xyz.handlers"],
     "no_such_module_xyz.handlers: cannot import handlers: ModuleNotFoundError: No module named 'no_such_module_xyz'"),
])
def test_usage_errors(args, message):
    result = invoke("run", ORDER, *args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.output


def test_malformed_input_file_gets_line_and_column(tmp_path):
    path = tmp_path / "in.json"
    path.write_text('{\n  "orderId": "1",\n  "total": ,\n}')
    result = invoke("run", ORDER, "--input", str(path), "--handlers", ORDER_HANDLERS)
    assert result.exit_code == 2
    assert result.stderr == (f"asl run: {path}:3:12: invalid JSON: Unexpected character (',' (code 44)): expected a "
                             "valid value (JSON String, Number, Array, Object or token 'null', 'true' or 'false')\n")


@pytest.mark.parametrize("source, message", [
    ("def broken(:\n", "SyntaxError"),
    ("raise RuntimeError('no database here')\n", "RuntimeError: no database here"),
    ("x = 1\n", "define `handlers = asl.engine.Handlers()`"),
    ("from asl.engine import Handlers\nhandlers = Handlers()\ndef background(execution):\n    pass\n",
     "`background` must be an async function"),
])
def test_handlers_files_that_do_not_load(tmp_path, source, message):
    path = tmp_path / "my_handlers.py"
    path.write_text(source)
    result = invoke("run", ORDER, "--handlers", str(path))
    assert result.exit_code == 2
    assert str(path) in result.stderr and message in result.stderr and "Traceback" not in result.output


def test_handlers_from_a_module_in_the_current_directory(tmp_path, monkeypatch):
    package = tmp_path / "shop_flows_cli"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "handlers.py").write_text(f"import runpy\nhandlers = runpy.run_path({ORDER_HANDLERS!r})['handlers']\n")
    monkeypatch.chdir(tmp_path)
    result = invoke("run", ORDER, "--input", INPUT, "--handlers", "shop_flows_cli.handlers", "--virtual-time", "-q")
    assert result.exit_code == 0, result.output
    assert str(tmp_path) not in sys.path  # the directory was on the path for the import only


def test_a_failing_background_stops_the_execution(tmp_path):
    path = tmp_path / "bg.py"
    path.write_text(textwrap.dedent("""
        from asl.engine import Handlers
        handlers = Handlers({"state:RequestApproval": lambda message: None})

        async def background(execution):
            raise RuntimeError("the approver crashed")
    """))
    result = invoke("run", str(SAMPLES / "approval" / "approval.json"), "--input-json", '{"amount": 1}',
                    "--handlers", str(path))
    assert result.exit_code == 1
    assert "asl run: background() failed: RuntimeError: the approver crashed" in result.stderr
    assert "ABORTED" in result.stderr


# --------------------------------------------------------------------------------------------
# [tool.asl] in pyproject.toml
# --------------------------------------------------------------------------------------------

@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project: the order workflow, its handlers under flows/, a pyproject.toml naming them."""
    flows = tmp_path / "flows"
    flows.mkdir()
    for name in ("order.json", "handlers.py", "input.json"):
        (flows / name).write_text((SAMPLES / "order" / name).read_text())
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent("""
        [project]
        name = "shop"

        [tool.asl]
        handlers = "flows/handlers.py"
        virtual-time = true
    """))
    (tmp_path / "deep" / "er").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "deep" / "er")
    return tmp_path


def test_tool_asl_names_the_handlers_so_no_flags_are_needed(project):
    result = invoke("run", str(project / "flows" / "order.json"), "--input", str(project / "flows" / "input.json"))
    assert result.exit_code == 0, result.output
    first = result.stderr.splitlines()[0]
    assert first.endswith(f"· virtual time · [tool.asl] of {project / 'pyproject.toml'}")
    assert result.stderr.splitlines()[-1].endswith("(virtual)")


def test_command_line_options_win_over_tool_asl(project):
    result = invoke("run", str(project / "flows" / "order.json"), "--input", str(project / "flows" / "input.json"),
                    "--handlers", "nowhere.py")
    assert result.exit_code == 2 and "nowhere.py: no such handlers file" in result.stderr
    result = invoke("run", str(project / "flows" / "order.json"), "--input-json", "{}", "--real-time", "-q")
    assert result.exit_code == 1  # the real clock: ValidateOrder fails at once on an order without items


def test_tool_asl_module_handlers_and_mock_config(project):
    (project / "shop_mocks_cli").mkdir()
    (project / "shop_mocks_cli" / "__init__.py").write_text("from asl.engine import Handlers\nhandlers = Handlers()\n")
    (project / "MockConfigFile.json").write_text(json.dumps({
        "StateMachines": {"pay": {"TestCases": {"Happy": {"Pay": "Paid"}}}},
        "MockedResponses": {"Paid": {"0": {"Return": {"status": "PAID"}}}}}))
    (project / "pay.json").write_text(json.dumps({"StartAt": "Pay", "States": {"Pay": {
        "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:Pay", "End": True}}}))
    (project / "pyproject.toml").write_text(textwrap.dedent("""
        [tool.asl]
        handlers = "shop_mocks_cli"
        mock-config = "MockConfigFile.json"
        test-case = "Happy"
    """))
    result = invoke("run", str(project / "pay.json"))
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"status": "PAID"}


@pytest.mark.parametrize("text, message", [
    ("[tool.asl]\nhandlers = \n", "invalid TOML: Invalid value (at line 2, column 12)"),
    ("[tool.asl]\nhandler = 'h.py'\n", "[tool.asl] has an unknown key 'handler' (known: handlers, mock-config"),
    ("[tool.asl]\nvirtual-time = 'yes'\n", "[tool.asl] virtual-time must be a boolean"),
])
def test_bad_tool_asl_tables(project, text, message):
    (project / "pyproject.toml").write_text(text)
    result = invoke("run", ORDER)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"asl run: {project / 'pyproject.toml'}: ") and message in result.stderr


def test_the_search_stops_at_the_repository_root(project):
    (project / "deep" / ".git").mkdir()
    result = invoke("run", ORDER, "--input", INPUT)
    # no handlers found: a warning first; the run starts and fails at the first Task it invokes
    assert result.exit_code == 1
    assert result.stderr.startswith("asl run: warning: no handler or mock for the Task states 'ValidateOrder', "
                                    "'ProcessPayment', 'ReserveStock', 'EmailCustomer' (the run fails if it invokes")
    assert "No handler or mock for the Task state 'ValidateOrder'" in result.stderr


# --------------------------------------------------------------------------------------------
# As a real program
# --------------------------------------------------------------------------------------------

def test_subprocess_piped_output_is_plain_json_and_plain_trace():
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR")}
    proc = subprocess.run([sys.executable, "-m", "asl.cli", "run", ORDER, "--input", DECLINED, "--handlers",
                           ORDER_HANDLERS, "--virtual-time", "--output-format", "json"],
                          capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["error"] == "Order.PaymentDeclined"
    assert "\x1b[" not in proc.stderr and "\r" not in proc.stderr
    assert "↪ ProcessPayment  1.00s  (2 attempts)  caught Payment.Declined" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_subprocess_bad_flag_and_missing_definition():
    proc = subprocess.run([sys.executable, "-m", "asl.cli", "run", "nowhere.json"], capture_output=True, text=True,
                          timeout=60, cwd=ROOT)
    assert proc.returncode == 2 and proc.stderr == "asl run: nowhere.json: no such file\n"
    proc = subprocess.run([sys.executable, "-m", "asl.cli", "run", ORDER, "--bogus"], capture_output=True,
                          text=True, timeout=60, cwd=ROOT)
    assert proc.returncode == 2 and "No such option '--bogus'" in proc.stderr and "Traceback" not in proc.stderr


def test_sync_express_runs_have_no_redrive_count(tmp_path):
    definition = tmp_path / "ctx.json"
    definition.write_text(json.dumps({"StartAt": "P", "States": {"P": {
        "Type": "Pass", "Parameters": {"execution.$": "$$.Execution"}, "End": True}}}))
    asynchronous = invoke("run", str(definition), "--type", "EXPRESS", "-q")
    assert json.loads(asynchronous.stdout)["execution"]["RedriveCount"] == 0
    synchronous = invoke("run", str(definition), "--type", "EXPRESS", "--sync", "-q")
    assert synchronous.exit_code == 0 and "RedriveCount" not in json.loads(synchronous.stdout)["execution"]
    standard = invoke("run", str(definition), "--sync")
    assert standard.exit_code == 2 and "--sync goes with --type EXPRESS" in standard.stderr


@pytest.mark.parametrize("how", ["--input-json", "--input", "stdin"])
def test_the_input_keeps_the_users_spelling(tmp_path, how):
    """As StartExecution keeps its caller's (AWS, recorded: LocalStack test_map_state_label), `asl
    run` keeps the input text as the user gave it for the ExecutionStarted event (the --history
    file), the execution log, and the record `asl executions show` prints; the first state's
    entered input too, an object the state gets unchanged (raw AWS capture, radkawar/stackd
    testdata/aws/stepfunctions/tracing_control.json: PassStateEntered's input as sent)."""
    definition = tmp_path / "m.json"
    definition.write_text(json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    text = '{"items": ["Hello", "World"],\n "n": 1}\n'
    store, log = f"sqlite:{tmp_path / 'runs.db'}", tmp_path / "log.jsonl"
    given = {"--input-json": ["--input-json", text], "--input": ["--input", str(tmp_path / "in.json")],
             "stdin": ["--input", "-"]}[how]
    (tmp_path / "in.json").write_text(text)
    result = invoke("run", str(definition), *given, "--history", str(tmp_path / "h.json"), "--store", store,
                    "--log-level", "ALL", "--log-file", str(log), "--include-execution-data", "-q",
                    input=text if how == "stdin" else None)
    assert result.exit_code == 0, result.output
    events = json.loads((tmp_path / "h.json").read_text())["events"]
    assert events[0]["executionStartedEventDetails"]["input"] == text
    assert events[1]["stateEnteredEventDetails"]["input"] == text
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert [e["details"]["input"] for e in logged if e["type"] == "ExecutionStarted"] == [text]
    shown = invoke("executions", "show", _only_arn(store), "--store", store)
    assert json.loads(shown.stdout)["input"] == text
    compact = invoke("run", str(definition), "--input-json", '{"a":1}', "--history", str(tmp_path / "c.json"), "-q")
    assert compact.exit_code == 0
    started = json.loads((tmp_path / "c.json").read_text())["events"][0]["executionStartedEventDetails"]
    assert started["input"] == '{"a":1}'


def _only_arn(store: str) -> str:
    listed = invoke("executions", "list", "--store", store)
    (line,) = listed.stdout.splitlines()
    return line.split()[-1]


def test_an_intrinsic_failure_says_why_below_aws_cause(tmp_path):
    """AWS's cause names only the function ("Invalid arguments in States.MathAdd"); the closing
    lines add what was wrong with the arguments, in the trace and in --quiet."""
    path = tmp_path / "add.json"
    path.write_text(json.dumps({"StartAt": "Add", "States": {"Add": {
        "Type": "Pass", "Parameters": {"s.$": "States.MathAdd($.a, $.b)"}, "End": True}}}))
    result = invoke("run", str(path), "--input-json", '{"a": 1, "b": "x"}')
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    why = 'States.MathAdd: argument 2 must be a number, but was a string ("x")'
    failed = next(i for i, line in enumerate(lines) if line.split()[:2] == [line.split()[0], "Add"]
                  and "States.Runtime" in line)
    assert lines[failed + 1].startswith("  ") and lines[failed + 1].endswith(" " + why)  # under the state
    cause = next(i for i, line in enumerate(lines) if line.lstrip().startswith("cause"))
    assert lines[cause].endswith("Invalid arguments in States.MathAdd")
    assert not any(line.lstrip().startswith("why") for line in lines)  # said once
    quiet = invoke("run", str(path), "--input-json", '{"a": 1, "b": "x"}', "--quiet")
    assert quiet.exit_code == 1
    assert quiet.stderr.splitlines()[-1] == '  why: States.MathAdd: argument 2 must be a number, but was a string ("x")'


HANDLER_FILE = """
from asl.engine import Handlers
handlers = Handlers()

@handlers.lambda_function("pay")
def pay(event):
    amount = event["amount"]
    return {"paid": amount}
"""


def test_a_handler_exception_says_where_it_was_raised(tmp_path):
    """The cause is Lambda's error document (type and message only); the trace adds the line of
    the handler that raised under the failure, and --quiet after its one line."""
    (tmp_path / "handlers.py").write_text(HANDLER_FILE)
    machine = tmp_path / "pay.json"
    machine.write_text(json.dumps({"StartAt": "Pay", "States": {"Pay": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "pay", "Payload.$": "$"},
        "Retry": [{"ErrorEquals": ["KeyError"], "MaxAttempts": 2, "IntervalSeconds": 1}], "End": True}}}))
    where = f'KeyError raised in pay ({tmp_path / "handlers.py"}:7): amount = event["amount"]'
    old = os.getcwd()
    os.chdir(ROOT)  # (the file is shown by its path from the current folder when it is below it)
    try:
        result = invoke("run", str(machine), "--handlers", str(tmp_path / "handlers.py"), "--input-json", "{}",
                        "--virtual-time")
        quiet = invoke("run", str(machine), "--handlers", str(tmp_path / "handlers.py"), "--input-json", "{}",
                       "--virtual-time", "-q")
    finally:
        os.chdir(old)
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    hints = [i for i, line in enumerate(lines) if line.endswith(where)]
    assert len(hints) == 1, result.stderr  # under the failure (retries show it with --verbose)
    assert "3.00s  KeyError: 'amount'" in lines[hints[0] - 1]
    assert '{"errorMessage":"\'amount\'","errorType":"KeyError"}' in result.stderr  # the cause as Lambda's
    assert quiet.exit_code == 1
    assert quiet.stderr.splitlines()[-1] == "  why: " + where


def test_small_usage_points_of_a_new_user_trial(tmp_path, monkeypatch):
    """--status of `asl executions list` in any letter case; a [tool.asl] handlers file that is
    not there says where it was named."""
    definition = tmp_path / "p.json"
    definition.write_text(json.dumps({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}))
    store = f"sqlite:{tmp_path / 'runs.db'}"
    assert invoke("run", str(definition), "--store", store, "-q").exit_code == 1
    failed = invoke("executions", "list", "--store", store, "--status", "failed")
    assert failed.exit_code == 0 and len(failed.stdout.splitlines()) == 1 and "FAILED" in failed.stdout
    assert invoke("executions", "list", "--store", store, "--status", "succeeded").stdout == ""
    (tmp_path / "pyproject.toml").write_text('[tool.asl]\nhandlers = "handlrs.py"\n')
    monkeypatch.chdir(tmp_path)
    result = invoke("run", str(definition))
    assert result.exit_code == 2
    assert f"[tool.asl] handlers of {tmp_path / 'pyproject.toml'}: " in result.stderr
    assert "handlrs.py: no such handlers file" in result.stderr
