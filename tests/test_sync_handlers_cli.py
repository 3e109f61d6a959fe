"""The CLI with handlers that block, exit, interrupt or print: one line, the right exit code, clean stdout."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time

import pytest
from click.testing import CliRunner

from asl.cli.main import get_cli

TASK = {"StartAt": "T", "States": {"T": {"Type": "Task", "End": True,
                                         "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f"}}}


@pytest.fixture
def project(tmp_path):
    (tmp_path / "m.json").write_text(json.dumps(TASK))

    def handlers(body: str) -> str:
        path = tmp_path / "handlers.py"
        path.write_text("import sys, time\nfrom asl.engine import Handlers\nhandlers = Handlers()\n\n"
                        "@handlers.lambda_function('f')\n" + textwrap.dedent(body))
        return str(path)
    return tmp_path, handlers


def invoke(*args):
    return CliRunner().invoke(get_cli(), list(args))


# ---- Ctrl-C: a real process, a real SIGINT -------------------------------------------------

@pytest.mark.parametrize("command", [["run", "-q"], ["test-state"]])
def test_ctrl_c_while_a_sync_handler_blocks_exits_at_once_with_130(project, command):
    where, handlers = project
    spec = handlers("""\
        def f(payload):
            print("started", file=sys.stderr, flush=True)
            time.sleep(3600)  # the process must not wait for it
            return {}
        """)
    args = [command[0], str(where / "m.json")] + (["T"] if command[0] == "test-state" else []) + command[1:]
    process = subprocess.Popen([sys.executable, "-m", "asl.cli", *args, "--handlers", spec],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=where,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert process.stderr.readline().strip() == "started"
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)  # (a hang guard: the handler would return in an hour)
    finally:
        process.kill()
    assert process.returncode == 130
    assert err.strip().splitlines() == [f"asl {command[0]}: interrupted"]
    assert out == ""


def test_a_second_ctrl_c_changes_nothing(project):
    where, handlers = project
    spec = handlers("""\
        def f(payload):
            print("started", file=sys.stderr, flush=True)
            time.sleep(3600)  # the process must not wait for it
        """)
    process = subprocess.Popen([sys.executable, "-m", "asl.cli", "run", "-q", str(where / "m.json"), "--handlers",
                                spec], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=where,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert process.stderr.readline().strip() == "started"
        process.send_signal(signal.SIGINT)
        time.sleep(0.02)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=120)
    finally:
        process.kill()
    assert process.returncode == 130
    assert "Traceback" not in err and err.strip().splitlines() == ["asl run: interrupted"]


# ---- handlers that interrupt or exit -------------------------------------------------------

@pytest.mark.parametrize("command", ["run", "test-state"])
def test_keyboard_interrupt_in_a_handler_is_one_line_and_exit_130(project, command):
    where, handlers = project
    spec = handlers("""\
        def f(payload):
            raise KeyboardInterrupt
        """)
    args = [command, str(where / "m.json")] + (["T"] if command == "test-state" else []) + ["--handlers", spec]
    result = invoke(*args)
    assert result.exit_code == 130
    assert result.stderr.strip().splitlines()[-1] == f"asl {command}: interrupted"
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_sys_exit_in_a_handler_fails_the_run_with_runtime_exit_error(project):
    where, handlers = project
    spec = handlers("""\
        def f(payload):
            sys.exit(1)
        """)
    result = invoke("run", "-q", str(where / "m.json"), "--handlers", spec)
    assert result.exit_code == 1
    line, why = result.stderr.strip().splitlines()
    assert line.startswith("FAILED: Runtime.ExitError: RequestId: ")  # the cause's errorMessage
    assert line.endswith(" Error: Runtime exited with error: exit status 1")
    assert why.startswith("  why: SystemExit raised in f (") and why.endswith("): sys.exit(1)")


# ---- handlers' print() ---------------------------------------------------------------------

@pytest.mark.parametrize("command", ["run", "test-state"])
def test_handler_print_goes_to_stderr_so_stdout_is_only_the_output(project, command):
    where, handlers = project
    spec = handlers("""\
        def f(payload):
            print("in the handler")
            return {"ok": True}

        print("importing")
        """)
    args = [command, str(where / "m.json")] + (["T"] if command == "test-state" else []) + \
        ["--handlers", spec, "--output-format", "json"]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)  # nothing else on stdout
    assert document["output"] == {"ok": True}
    assert "importing" in result.stderr and "in the handler" in result.stderr
    assert sys.stdout is not sys.stderr  # put back afterwards


def test_the_library_leaves_stdout_alone(capsys):
    import asl
    from asl.engine import run_sync

    def f(payload):
        print("to stdout")
        return 1

    assert run_sync(asl.load(TASK), {}, handlers={"f": f}).output == 1
    assert capsys.readouterr().out == "to stdout\n"
