"""Durable executions from the command line, with real processes killed with SIGKILL:
asl run --store, asl executions, asl resume, asl redrive, asl worker (SQLite and PostgreSQL)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.polling import poll
from support.stores import in_store

SECONDS = 15  # the Wait: the resume (a new process: 8 s on a loaded machine) comes before its deadline
WAIT = {"StartAt": "W", "States": {
    "W": {"Type": "Wait", "Seconds": SECONDS, "Next": "T"},
    "T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "End": True}}}

HANDLERS = '''
import os
import time
from asl.engine import Handlers, TaskFailed
handlers = Handlers()

@handlers.lambda_function("f")
def f(event, ctx):
    gate = os.environ.get("GATE")  # wait for the test to open it
    while gate and not os.path.exists(gate):
        time.sleep(0.01)
    with open(os.environ["CALLS"], "a") as fh:
        fh.write("call\\n")
    if os.environ.get("BROKEN"):
        raise TaskFailed("Broken", "f is broken")
    return {"done": True, "redelivered": ctx.redelivered}
'''


def asl(*args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "asl.cli", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=timeout)


def start(*args: str, env: dict, cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "asl.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, **env}, cwd=cwd)


@pytest.fixture
def project(tmp_path):
    (tmp_path / "wait.json").write_text(json.dumps(WAIT))
    (tmp_path / "handlers.py").write_text(HANDLERS)
    return tmp_path


def _in_store(url: str, read):
    """What `read(store)` returns, read from the store directly (no CLI process per poll)."""
    import anyio

    return anyio.run(in_store, url, read)


async def _ended(store, arn: str):
    record = await store.get(arn)
    return record if record.status != "RUNNING" else None


def _running(store: str, cwd: Path) -> str:
    """The ARN of the RUNNING execution, once its Wait is recorded in the store."""
    async def waiting(s):
        for record in await s.list(status="RUNNING"):
            if any(e.type == "WaitStateEntered" for e in await s.events(record.arn)):
                return record.arn
        return None

    return poll(lambda: _in_store(store, waiting), "the execution never got to its Wait")


def _killed_in_its_wait(project, store: str, env: dict, lease: str, *run: str) -> str:
    """`asl run wait.json --handlers handlers.py` (or `asl run RUN...`) `--store STORE --lease
    LEASE` killed (-9) once in its Wait: the ARN."""
    first = start("run", *(run or ("wait.json", "--handlers", "handlers.py")), "--store", store, "--real-time",
                  "--lease", lease, env=env, cwd=project)
    try:
        arn = _running(store, project)
        first.send_signal(signal.SIGKILL)
        first.wait(60)
    finally:
        first.kill()
    return arn


def test_sqlite_kill_9_in_a_wait_then_resume(project):
    env = {"CALLS": str(project / "calls.txt")}
    store = f"sqlite:{project / 'runs.db'}"
    arn = _killed_in_its_wait(project, store, env, "4")
    # killed inside the Wait: the task never ran, and the store still shows the dead process's lease
    assert not (project / "calls.txt").exists()
    killed = _in_store(store, lambda s: s.get(arn))
    assert killed.status == "RUNNING" and killed.owner is not None
    recorded = _in_store(store, lambda s: s.events(arn))
    assert [e.type for e in recorded] == ["ExecutionStarted", "WaitStateEntered"]
    # the dead process's lease runs out (resume refuses before: test_resume_refuses_while_the_owner_lives)
    poll(lambda: time.time() > killed.lease_until + 0.05, "the lease never ran out")
    resumed = asl("resume", arn, "--store", store, "--handlers", "handlers.py", env=env, cwd=project)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout) == {"done": True, "redelivered": False}
    assert (project / "calls.txt").read_text() == "call\n"
    history = json.loads(asl("executions", "history", arn, "--store", store, cwd=project).stdout)["events"]
    assert [e["type"] for e in history] == [
        "ExecutionStarted", "WaitStateEntered", "WaitStateExited", "TaskStateEntered", "LambdaFunctionScheduled",
        "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded"]
    # The Wait ends at its recorded deadline (entered + SECONDS), never earlier; and not SECONDS
    # after the resume: the resume could not start before the dead process's lease ran out.
    # All three times are the store's, written by the processes that ran the execution.
    stamps = _in_store(store, lambda s: s.events(arn))
    entered, exited = stamps[1].timestamp, stamps[2].timestamp
    assert (stamps[1].type, stamps[2].type) == ("WaitStateEntered", "WaitStateExited")
    assert entered == recorded[1].timestamp  # replayed, not entered again
    assert exited >= entered + SECONDS - 0.001
    assert exited < killed.lease_until + SECONDS
    assert json.loads(asl("executions", "show", arn, "--store", store, cwd=project).stdout)["status"] == "SUCCEEDED"
    again = asl("resume", arn, "--store", store, cwd=project)
    assert again.returncode == 2 and "has ended (SUCCEEDED)" in again.stderr


def test_resume_right_after_the_owner_was_killed_on_this_machine(project):
    """`asl run` killed (-9) in a Wait with a lease of ten minutes: `asl resume` on the same
    machine sees that process gone and takes the execution over at once; the Wait still ends at
    its recorded deadline, the task runs once."""
    env = {"CALLS": str(project / "calls.txt")}
    store = f"sqlite:{project / 'runs.db'}"
    arn = _killed_in_its_wait(project, store, env, "600")
    killed = _in_store(store, lambda s: s.get(arn))
    assert killed.status == "RUNNING" and killed.lease_until > time.time() + 500  # (its lease holds on)
    resumed = asl("resume", arn, "--store", store, "--handlers", "handlers.py", env=env, cwd=project)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout) == {"done": True, "redelivered": False}
    assert (project / "calls.txt").read_text() == "call\n"
    stamps = _in_store(store, lambda s: s.events(arn))
    assert [e.type for e in stamps][:3] == ["ExecutionStarted", "WaitStateEntered", "WaitStateExited"]
    assert stamps[2].timestamp >= stamps[1].timestamp + SECONDS - 0.001


def test_resume_refuses_while_the_owner_lives(project):
    env = {"CALLS": str(project / "calls.txt")}
    store = f"sqlite:{project / 'runs.db'}"
    first = start("run", "wait.json", "--handlers", "handlers.py", "--store", store, "--real-time", env=env,
                  cwd=project)
    try:
        arn = _running(store, project)
        taken = asl("resume", arn, "--store", store, "--handlers", "handlers.py", env=env, cwd=project)
        assert taken.returncode == 2 and "is being run by" in taken.stderr and "Traceback" not in taken.stderr
        out, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
    finally:
        first.kill()
    assert (project / "calls.txt").read_text() == "call\n"


def test_redrive_from_the_command_line(project):
    env = {"CALLS": str(project / "calls.txt")}
    store = f"sqlite:{project / 'runs.db'}"
    failed = asl("run", "wait.json", "--handlers", "handlers.py", "--store", store, "--virtual-time",
                 "--output-format", "json", env={**env, "BROKEN": "1"}, cwd=project)
    assert failed.returncode == 1
    arn = json.loads(failed.stdout)["executionArn"]
    redriven = asl("redrive", arn, "--store", store, "--handlers", "handlers.py", env=env, cwd=project)
    assert redriven.returncode == 0, redriven.stderr
    assert json.loads(redriven.stdout)["done"] is True
    types = [e["type"] for e in json.loads(asl("executions", "history", arn, "--store", store,
                                                cwd=project).stdout)["events"]]
    assert types.count("ExecutionRedriven") == 1 and types[-1] == "ExecutionSucceeded"
    assert types.count("WaitStateEntered") == 1  # the Wait succeeded the first time: not run again
    shown = json.loads(asl("executions", "show", arn, "--store", store, cwd=project).stdout)
    assert shown["redriveCount"] == 1 and "redriveDate" in shown
    again = asl("redrive", arn, "--store", store, cwd=project)
    assert again.returncode == 2 and "Execution is SUCCEEDED and cannot be redriven" in again.stderr
    for command in ("redrive", "resume"):  # a test case is refused without a mock config, before the store is read
        alone = asl(command, arn, "--store", store, "--test-case", "HappyPath", cwd=project,
                    env={"SFN_MOCK_CONFIG": ""})
        assert alone.returncode == 2
        assert alone.stderr == f"asl {command}: test case 'HappyPath' needs a mock config: give --mock-config " \
            "FILE (or set SFN_MOCK_CONFIG), or mock_config= in Python\n"


STEPS = {"StartAt": "A", "States": {
    "A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:a", "Next": "W"},
    "W": {"Type": "Wait", "Seconds": 10, "Next": "B"},
    "B": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:b", "Next": "Later"},
    "Later": {"Type": "Wait", "Seconds": 5, "Next": "Done"},
    "Done": {"Type": "Pass", "End": True}}}

STEP_HANDLERS = '''
import os, signal, anyio
from asl.engine import Handlers, TaskFailed
handlers = Handlers()

@handlers.lambda_function("a")
def a(event, ctx):
    return {"a": True}

@handlers.lambda_function("b")
async def b(event, ctx):
    if os.environ.get("BROKEN"):
        raise TaskFailed("Broken", "b is broken")
    if os.environ.get("DIE"):
        await anyio.sleep(0.3)  # (the journal is written every 50 ms: B's entry is in it)
        os.kill(os.getpid(), signal.SIGKILL)
    return {"b": True}
'''


def _entries(events) -> int:
    return sum(1 for e in events if e.type.endswith("StateEntered"))


def test_a_redrive_trace_tells_the_replay_from_what_runs_again(project):
    """The states the journal replays are under a "replayed from the store" rule, what runs anew
    under "redrive 1"; the summary counts the transitions and the time of the redrive alone
    (the states entered after ExecutionRedriven in the history; the Wait of 5 s after it, not
    the 10 s before), not the first run's again."""
    (project / "steps.json").write_text(json.dumps(STEPS))
    (project / "steps.py").write_text(STEP_HANDLERS)
    store = f"sqlite:{project / 'runs.db'}"
    failed = asl("run", "steps.json", "--handlers", "steps.py", "--store", store, "--virtual-time",
                 "--output-format", "json", env={"BROKEN": "1"}, cwd=project)
    assert failed.returncode == 1, failed.stderr
    arn = json.loads(failed.stdout)["executionArn"]
    redriven = asl("redrive", arn, "--store", store, "--handlers", "steps.py", cwd=project)
    assert redriven.returncode == 0, redriven.stderr
    lines = redriven.stderr.splitlines()
    replayed, again = lines.index("── replayed from the store ──"), lines.index("── redrive 1 ──")
    assert replayed == 1 and lines[replayed + 1:again] == [
        "▶ A  Task lambda a", "✓ A  <1ms → W", "▶ W  Wait", "✓ W  10.00s → B", "▶ B  Task lambda b"]
    assert lines[again + 1] == "✓ B  <1ms → Later"  # redriven: timed from the redrive, not from its first entry
    events = _in_store(store, lambda s: s.events(arn))
    after = [e.type for e in events][[e.type for e in events].index("ExecutionRedriven"):]
    assert _entries(events) - _entries(events[:len(events) - len(after)]) == 2  # Later, Done
    assert lines[-1] == "SUCCEEDED  steps · redrive 1: 2 state transitions · 5.00s (virtual)"


def test_a_resume_trace_tells_the_replay_from_what_runs_on(project):
    """`asl run` killed (-9) in task B: `asl resume` shows A, the Wait and B's entry as replayed,
    B's call again and what follows under "resumed", and counts only the states it entered."""
    (project / "steps.json").write_text(json.dumps(STEPS))
    (project / "steps.py").write_text(STEP_HANDLERS)
    store = f"sqlite:{project / 'runs.db'}"
    died = asl("run", "steps.json", "--handlers", "steps.py", "--store", store, "--virtual-time", env={"DIE": "1"},
               cwd=project)
    assert died.returncode == -signal.SIGKILL, died.stderr
    (record,) = _in_store(store, lambda s: s.list())
    recorded = _in_store(store, lambda s: s.events(record.arn))
    assert [e.type for e in recorded][-1] == "LambdaFunctionStarted"
    resumed = asl("resume", record.arn, "--store", store, "--handlers", "steps.py", cwd=project)
    assert resumed.returncode == 0, resumed.stderr
    lines = resumed.stderr.splitlines()
    replayed, again = lines.index("── replayed from the store ──"), lines.index("── resumed ──")
    assert lines[replayed + 1:again] == [
        "▶ A  Task lambda a", "✓ A  <1ms → W", "▶ W  Wait", "✓ W  10.00s → B", "▶ B  Task lambda b"]
    assert lines[again + 1] == "✓ B  <1ms → Later"
    new = _entries(_in_store(store, lambda s: s.events(record.arn))) - _entries(recorded)
    assert new == 2 and lines[-1] == "SUCCEEDED  steps · resumed: 2 state transitions · 5.00s (virtual)"


def test_a_store_path_ending_in_db_is_sqlite_without_the_prefix(project):
    """--store runs.db (as --help and the README now say) is the SQLite file sqlite:runs.db is;
    a path without such an ending is refused, and the message names both forms."""
    (project / "pass.json").write_text(json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    assert asl("run", "pass.json", "--store", "runs.db", "-q", cwd=project).returncode == 0
    assert (project / "runs.db").is_file()
    for store in ("runs.db", "sqlite:runs.db"):
        listed = asl("executions", "list", "--store", store, "--format", "json", cwd=project)
        assert listed.returncode == 0 and len(json.loads(listed.stdout)) == 1, listed.stderr
    bare = asl("run", "pass.json", "--store", "runs", "-q", cwd=project)
    assert bare.returncode == 2 and not (project / "runs").exists()
    assert "unknown store 'runs': use memory, sqlite:PATH (or a PATH ending in .db, .sqlite or .sqlite3)" in bare.stderr


def test_store_problems_are_one_line(project):
    bad = asl("executions", "list", "--store", "mysql://nope", cwd=project)
    assert bad.returncode == 2 and "unknown store" in bad.stderr and "Traceback" not in bad.stderr
    arn = "arn:aws:states:us-east-1:123456789012:execution:wait:nope"
    (project / "pass.json").write_text(json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    assert asl("run", "pass.json", "--store", f"sqlite:{project / 'runs.db'}", "-q", cwd=project).returncode == 0
    missing = asl("resume", arn, "--store", f"sqlite:{project / 'runs.db'}", cwd=project)
    assert missing.returncode == 2 and "Execution Does Not Exist" in missing.stderr
    # a store file that is not there (a typo) is named, not made: commands that read a store
    for command in (["executions", "list"], ["executions", "show", arn], ["executions", "history", arn],
                    ["resume", arn], ["redrive", arn], ["console", "--port", "0"], ["worker"]):
        typo = asl(*command, "--store", "sqlite:runz.db", cwd=project)
        assert typo.returncode == 2, (command, typo.stderr)
        assert typo.stderr == f"asl {' '.join(command[:2] if command[0] == 'executions' else command[:1])}: " \
            "sqlite:runz.db: no such file (asl run --store and asl serve make one)\n"
    assert not (project / "runz.db").exists()


def test_commands_that_read_a_store_refuse_one_in_their_own_memory(project):
    """No other process's executions can be in it: a worker would wait for ever (it did), resume
    would say the execution does not exist."""
    arn = "arn:aws:states:us-east-1:123456789012:execution:wait:nope"
    for command in (["worker"], ["resume", arn], ["redrive", arn], ["executions", "list"],
                    ["executions", "show", arn]):
        for url in ("memory", "sqlite::memory:"):
            refused = asl(*command, "--store", url, cwd=project, timeout=30)
            assert refused.returncode == 2, (command, refused.stderr)
            name = " ".join(command[:2] if command[0] == "executions" else command[:1])
            assert refused.stderr == f"asl {name}: --store {url}: a store in this process's memory holds no " \
                "other process's executions: give the one they are recorded in, sqlite:PATH or " \
                "postgresql://USER@HOST/DB\n"


@pytest.mark.parametrize("lease", ["2", "600"])
def test_postgres_two_processes_one_killed_the_other_takes_over(project, postgres_url, lease):
    """A worker waits beside the process running the execution; killed, it is taken over when
    its lease runs out, or (a lease of ten minutes) once PostgreSQL has seen its connections
    close, and the worker resumes the execution to the end."""
    env = {"CALLS": str(project / "calls.txt")}
    first = start("run", "wait.json", "--handlers", "handlers.py", "--store", postgres_url, "--real-time",
                  "--lease", lease, env=env, cwd=project)
    worker = None
    try:
        arn = _running(postgres_url, project)
        worker = start("worker", "--store", postgres_url, "--handlers", "handlers.py", "--lease", "2", "--poll",
                       "0.2", env=env, cwd=project)
        time.sleep(0.5)  # (not an assertion) the worker starts while the first process still holds the lease
        first.send_signal(signal.SIGKILL)
        first.wait(60)
        ended = poll(lambda: _in_store(postgres_url, lambda s: _ended(s, arn)), "the worker never finished it")
        assert ended.status == "SUCCEEDED"
        assert json.loads(ended.output) == {"done": True, "redelivered": False}
        assert (project / "calls.txt").read_text() == "call\n"
    finally:
        first.kill()
        if worker is not None:
            worker.send_signal(signal.SIGINT)
            try:
                worker.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                worker.kill()
    assert worker.returncode == 130


def test_commands_that_read_a_store_default_to_asl_serves(project):
    """Without --store, `asl executions` reads the store `asl serve` makes by default in the current
    folder (sqlite:asl-serve.db), and says so when there is none."""
    (project / "pass.json").write_text(json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))
    none = asl("executions", "list", cwd=project)
    assert (none.returncode, none.stderr) == (2, "asl executions list: sqlite:asl-serve.db: no such file "
                                                 "(asl run --store and asl serve make one)\n")
    assert asl("run", "pass.json", "--store", "sqlite:asl-serve.db", "--name", "one", "-q", cwd=project).returncode == 0
    listed = asl("executions", "list", cwd=project)
    assert listed.returncode == 0 and ":execution:one:" in listed.stdout and "SUCCEEDED" in listed.stdout


# ---- the options that serve Tasks: asl run's, on resume, redrive and worker too ------------------

KID = {"StartAt": "K", "States": {"K": {"Type": "Pass", "Result": {"kid": True}, "End": True}}}
FAN = {"Type": "Map", "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                                     "ReaderConfig": {"InputType": "JSON"},
                                     "Parameters": {"Bucket": "data", "Key": "items.json"}},
       "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                         "StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}},
       "ResultPath": "$.items", "Next": "Start"}
START = {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
         "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:Kid", "Input": {}},
         "ResultSelector": {"kid.$": "$.Output.kid"}, "ResultPath": "$.started", "End": True}
SERVED = ("--s3-folder", "data=data", "--machine", "Kid=kid.json")  # relative to the project folder


@pytest.fixture
def fan(project):
    """A Distributed Map reading bucket 'data', then a child execution of the machine 'Kid'."""
    (project / "data").mkdir()
    (project / "data" / "items.json").write_text("[1, 2, 3]")
    (project / "kid.json").write_text(json.dumps(KID))
    (project / "fan.json").write_text(json.dumps({"StartAt": "Fan", "States": {"Fan": FAN, "Start": START}}))
    (project / "waitfan.json").write_text(json.dumps({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": SECONDS, "Next": "Fan"}, "Fan": FAN, "Start": START}}))
    return project


def test_redrive_takes_the_options_that_its_failures_name(fan):
    """A run without a way to reach bucket 'data' fails with States.Runtime, whose cause
    names --s3-folder; redriven with it, the run gets to the child execution, whose cause names
    --machine; redriven with both, it succeeds. (The new-user trial: `asl redrive ARN --s3-folder`
    answered "No such option".) Causes: engine/distributed/objects.py, engine/task.py."""
    store = f"sqlite:{fan / 'fan.db'}"
    first = asl("run", "fan.json", "--store", store, "--output-format", "json", cwd=fan)
    assert first.returncode == 1, first.stderr
    failed = json.loads(first.stdout)
    assert failed["error"] == "States.Runtime" and "--s3-folder data=PATH" in failed["cause"]
    arn = failed["executionArn"]
    second = asl("redrive", arn, "--store", store, "--s3-folder", "data=data", "--output-format", "json", cwd=fan)
    assert second.returncode == 1, second.stderr
    failed = json.loads(second.stdout)
    assert failed["error"] == "States.Runtime" and "(--machine Kid=FILE; machines= in Python)" in failed["cause"]
    third = asl("redrive", arn, "--store", store, *SERVED, cwd=fan)
    assert third.returncode == 0, third.stderr
    assert json.loads(third.stdout) == {"items": [1, 2, 3], "started": {"kid": True}}
    history = json.loads(asl("executions", "history", arn, "--store", store, cwd=fan).stdout)["events"]
    assert [e["type"] for e in history].count("ExecutionRedriven") == 2


@pytest.mark.parametrize("command", ["resume", "worker"])
def test_a_run_with_those_options_is_taken_up_with_them(fan, command):
    """`asl run --s3-folder --machine --store` killed in its Wait; `asl resume` (or `asl worker`)
    given the same options takes it to the end. Without them it fails (the options are not
    recorded in the store: like --handlers, they are given again)."""
    store = f"sqlite:{fan / 'fan.db'}"
    arn = _killed_in_its_wait(fan, store, {}, "2", "waitfan.json", *SERVED)
    killed = _in_store(store, lambda s: s.get(arn))
    poll(lambda: time.time() > killed.lease_until + 0.05, "the lease never ran out")
    if command == "resume":
        taken = asl("resume", arn, "--store", store, *SERVED, cwd=fan)
        assert taken.returncode == 0, taken.stderr
        assert json.loads(taken.stdout) == {"items": [1, 2, 3], "started": {"kid": True}}
    else:
        taken = asl("worker", "--store", store, "--until-idle", "--poll", "0.2", *SERVED, cwd=fan)
        assert taken.returncode == 0, taken.stderr
        assert f"SUCCEEDED  {arn}" in taken.stderr
    ended = _in_store(store, lambda s: s.get(arn))
    assert ended.status == "SUCCEEDED" and json.loads(ended.output)["started"] == {"kid": True}


# ---- a reader that goes away early ----------------------------------------------------------------

def _read_one_line_and_leave(project, *args: str, env: dict) -> subprocess.Popen:
    """`asl ARGS 2>&1 | head -1`: the first line read, the pipe closed while the execution waits
    in its Task (at the GATE file), then the Task let go: every line after is written to a pipe
    nobody reads (EPIPE). The process, ended."""
    gate = project / "gate"
    proc = subprocess.Popen([sys.executable, "-m", "asl.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env={**os.environ, **env, "GATE": str(gate)}, cwd=project)
    try:
        assert proc.stdout.readline()
        proc.stdout.close()
        gate.touch()
        proc.wait(60)
    finally:
        proc.kill()
    return proc


@pytest.mark.parametrize("broken, status, code", [("", "SUCCEEDED", 0), ("1", "FAILED", 1)])
def test_a_broken_pipe_stops_the_trace_not_the_run(project, broken, status, code):
    """The trial's `asl run ... 2>&1 | head -2` exited 1 without a word (click's answer to
    EPIPE) and left a stored execution RUNNING: now the run goes on to its end, recorded, and
    the exit status is the outcome's."""
    store = f"sqlite:{project / 'runs.db'}"
    env = {"CALLS": str(project / "calls.txt"), "BROKEN": broken}
    (project / "task.json").write_text(json.dumps({"StartAt": "T", "States": {"T": WAIT["States"]["T"]}}))
    proc = _read_one_line_and_leave(project, "run", "task.json", "--handlers", "handlers.py", "--store", store,
                                    env=env)
    assert proc.returncode == code
    records = _in_store(store, lambda s: s.list())
    assert [(r.status, r.error) for r in records] == [(status, "Broken" if broken else None)]


def test_a_redrive_piped_into_head_ends_the_execution(project):
    """The trial's `asl redrive ARN ... 2>&1 | head -3` left the execution RUNNING half-way."""
    store = f"sqlite:{project / 'runs.db'}"
    env = {"CALLS": str(project / "calls.txt")}
    failed = asl("run", "wait.json", "--handlers", "handlers.py", "--store", store, "--virtual-time",
                 "--output-format", "json", env={**env, "BROKEN": "1"}, cwd=project)
    arn = json.loads(failed.stdout)["executionArn"]
    proc = _read_one_line_and_leave(project, "redrive", arn, "--store", store, "--handlers", "handlers.py", env=env)
    assert proc.returncode == 0
    ended = _in_store(store, lambda s: s.get(arn))
    assert (ended.status, json.loads(ended.output)) == ("SUCCEEDED", {"done": True, "redelivered": False})
