"""Distributed Map children on other executors (asl.engine.executors): a Dask LocalCluster of two
worker processes, local processes, against the inline executor. The handlers here travel to
the workers by value (this module is not installed); the exactly-once checks count their calls
in a file the workers append to."""
from __future__ import annotations

import os
import signal
import time

import anyio
import pytest

import asl
from asl.extras import install_hint
from asl.engine import Handlers, prepare, run

pytest.importorskip("distributed")

from asl.engine.executors.child import CONCURRENCY  # noqa: E402
from asl.engine.executors.daskcluster import DaskExecutor  # noqa: E402
from asl.engine.executors.processes import ProcessExecutor  # noqa: E402

ITEMS = 1000
WORK = "arn:aws:lambda:us-east-1:123456789012:function:work"


def machine(max_concurrency: int = 0) -> object:
    processor = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Prepare",
                 "States": {"Prepare": {"Type": "Pass", "Parameters": {"item.$": "$.item", "db.$": "$.db",
                                                                       "pause.$": "$.pause",
                                                                       "started.$": "$$.Execution.Name",
                                                                       # the Map Run's machine, on every executor
                                                                       "machine.$": "$$.StateMachine.Id"},
                                        "Next": "Work"},
                            "Work": {"Type": "Task", "Resource": WORK, "ResultPath": "$.work", "Next": "Shape"},
                            "Shape": {"Type": "Pass", "Parameters": {"item.$": "$.item", "square.$": "$.work.square"},
                                      "End": True}}}
    state = {"Type": "Map", "ItemProcessor": processor, "End": True}
    if max_concurrency:
        state["MaxConcurrency"] = max_concurrency
    return asl.load({"StartAt": "Each", "States": {"Each": state}})


def batched(db: str) -> object:
    """A Distributed Map of batches of 10 whose child records its first item's call in `db`."""
    return asl.load({"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "End": True, "ItemBatcher": {"MaxItemsPerBatch": 10, "BatchInput": {"tag": "t"}},
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Work",
                          "States": {"Work": {"Type": "Task", "Resource": WORK, "ResultPath": "$.work", "Next": "Shape",
                                              "Parameters": {"item.$": "$.Items[0].item", "db": db, "pause": 0}},
                                     "Shape": {"Type": "Pass", "End": True, "Parameters": {
                                         "square.$": "$.work.square", "size.$": "States.ArrayLength($.Items)",
                                         "tag.$": "$.BatchInput.tag"}}}}}}})


def work(payload: dict, ctx) -> dict:
    """Records each call (item, process, ctx.redelivered) in the calls file (one append: a whole
    line), then works `pause` seconds."""
    if payload["db"]:
        fd = os.open(payload["db"], os.O_WRONLY | os.O_APPEND)
        try:
            os.write(fd, f"{payload['item']} {os.getpid()} {int(ctx.redelivered)}\n".encode())
        finally:
            os.close(fd)
    if payload["pause"]:
        time.sleep(payload["pause"])
    return {"square": payload["item"] ** 2}


HANDLERS = Handlers({"work": work})


def items(db: str | None = None, pause: float = 0.0, n: int = ITEMS) -> list:
    return [{"item": i, "db": db or "", "pause": pause} for i in range(n)]


def expected(n: int = ITEMS) -> list:
    return [{"item": i, "square": i * i} for i in range(n)]


def calls_db(tmp_path) -> str:
    path = tmp_path / "calls.txt"
    path.write_text("")
    return str(path)


def calls(path: str) -> list[tuple[int, int]]:
    with open(path) as fh:
        return [tuple(map(int, line.split())) for line in fh if line.endswith("\n")]


class ChildHistories:
    """A Map Run listener (as the service's MapRuns): keeps each child's history."""

    def __init__(self):
        self.histories: dict[int, list] = {}

    async def map_run_started(self, *args) -> None:
        pass

    async def child_started(self, map_run_arn, index, child) -> None:
        pass

    async def child_finished(self, map_run_arn, index, child) -> None:
        self.histories[index] = [(t, previous, details) for t, previous, _ts, details, _site in
                                 child.history.entries()]

    async def map_run_finished(self, *args) -> None:
        pass


async def run_with(executor, data, seed=7, **options):
    execution = prepare(machine(**options), data, handlers=HANDLERS, seed=seed, payload_limit=None,
                        executor=executor)
    listener = execution.map_runs = ChildHistories()
    return await execution.run(), listener.histories


def test_dask_local_cluster_gives_the_inline_results_and_child_histories(tmp_path):
    async def main():
        inline, inline_children = await run_with(None, items())
        async with DaskExecutor(workers=2) as executor:
            assert len((await executor.client.run(os.getpid)).values()) == 2  # two worker processes
            dask, dask_children = await run_with(executor, items())
            # the same 1,000 items in batches of 10 (ItemBatcher): 100 children on the workers
            batches = await prepare(batched(db), items(), handlers=HANDLERS, payload_limit=None,
                                    executor=executor).run()
        return inline, inline_children, dask, dask_children, batches

    db = calls_db(tmp_path)
    inline, inline_children, dask, dask_children, batches = anyio.run(main)
    assert batches.status == "SUCCEEDED", batches.cause
    # each child gets {"Items": [its 10 items, in order], "BatchInput": ...} (AWS DG "ItemBatcher")
    assert batches.output == [{"square": (10 * b) ** 2, "size": 10, "tag": "t"} for b in range(ITEMS // 10)]
    made = calls(db)
    assert sorted(item for item, _, _ in made) == [10 * b for b in range(ITEMS // 10)]  # each batch once
    assert os.getpid() not in {pid for _, pid, _ in made}  # on the workers
    assert inline.status == dask.status == "SUCCEEDED"
    assert dask.output == inline.output == expected()
    assert [e["type"] for e in dask.history.events] == [e["type"] for e in inline.history.events]
    assert len(dask_children) == ITEMS
    assert dask_children == inline_children  # the same events, links and details, child by child
    assert [t for t, _, _ in dask_children[0]] == [
        "ExecutionStarted", "PassStateEntered", "PassStateExited", "TaskStateEntered", "LambdaFunctionScheduled",
        "LambdaFunctionStarted", "LambdaFunctionSucceeded", "TaskStateExited", "PassStateEntered",
        "PassStateExited", "ExecutionSucceeded"]
    assert len(dask.calls) == ITEMS  # the handler calls made on the workers are the parent's calls


def test_processes_give_the_inline_results_and_child_histories():
    async def main():
        data = items(n=200)
        inline = await run_with(None, data)
        async with ProcessExecutor(workers=2) as executor:
            processes = await run_with(executor, data)
        return inline, processes

    (inline, inline_children), (processes, process_children) = anyio.run(main)
    assert processes.status == "SUCCEEDED"
    assert processes.output == inline.output == expected(200)
    assert process_children == inline_children and len(process_children) == 200


def test_a_worker_killed_mid_run_loses_no_item_and_reruns_only_unfinished_children(tmp_path):
    db = calls_db(tmp_path)

    async def main():
        async with DaskExecutor(workers=2) as executor:
            pids = set((await executor.client.run(os.getpid)).values())
            killed: list[int] = []

            async def killer():
                while len(calls(db)) < ITEMS // 4:
                    await anyio.sleep(0.02)
                pid = calls(db)[-1][1]  # a worker that is running children right now
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

            async with anyio.create_task_group() as tg:
                tg.start_soon(killer)
                result, _ = await run_with(executor, items(db, pause=0.005))
                tg.cancel_scope.cancel()
            return result, pids, killed

    result, pids, killed = anyio.run(main)
    assert killed and killed[0] in pids
    assert result.status == "SUCCEEDED"
    assert result.output == expected()  # every item completed, each once, in order
    rows = calls(db)
    by_item: dict[int, list[int]] = {}
    for item, pid, _ in rows:
        by_item.setdefault(item, []).append(pid)
    assert sorted(by_item) == list(range(ITEMS))
    assert any(killed[0] in pids_ for pids_ in by_item.values())  # it was killed mid-run ...
    assert any(killed[0] not in pids_ for pids_ in by_item.values())  # ... and others finished the run
    again = {item: pids_ for item, pids_ in by_item.items() if len(pids_) > 1}
    # only children the lost worker had not handed back were run again: those running when it died
    # (at most child.CONCURRENCY) and those finished since its chunk's last report (a chunk
    # reports after child.REPORT_AFTER seconds, then every child.REPORT_EVERY), never all it ran
    assert all(pids_[0] == killed[0] and killed[0] not in pids_[1:] for pids_ in again.values())
    assert len(again) <= CONCURRENCY or len(again) < sum(1 for pids_ in by_item.values() if pids_[0] == killed[0])
    assert_redelivered_again(rows, killed[0])


def assert_redelivered_again(rows: list, killed: int) -> None:
    """A call made again (its chunk sent again after its worker was lost) has ctx.redelivered: the
    lost worker may have made it. The lost worker's own calls were first attempts."""
    seen: set = set()
    for item, pid, redelivered in rows:
        if item in seen:
            assert redelivered, f"item {item} called again without ctx.redelivered"
        if pid == killed:
            assert not redelivered, f"item {item}: the lost worker's call was a first attempt"
        seen.add(item)


def test_stop_execution_cancels_the_children_on_the_workers(tmp_path):
    db = calls_db(tmp_path)

    async def main():
        async with DaskExecutor(workers=2) as executor:
            execution = prepare(machine(), items(db, pause=0.3), handlers=HANDLERS,
                                payload_limit=None, executor=executor)
            async with anyio.create_task_group() as tg:
                async def stopper():
                    while len(calls(db)) < 50:
                        await anyio.sleep(0.02)
                    execution.stop("Test.Stop", "stopped by the test")
                tg.start_soon(stopper)
                result = await execution.run()
            at_stop = len(calls(db))
            await anyio.sleep(1.0)  # children that were running end; no new one starts
            settled = len(calls(db))
            await anyio.sleep(1.0)
            return result, at_stop, settled, len(calls(db))

    result, at_stop, settled, later = anyio.run(main)
    assert result.status == "ABORTED"
    assert result.error == "Test.Stop"
    assert settled == later < ITEMS
    # the chunks (of about a hundred children, CONCURRENCY at a time) stopped on their workers:
    # no child started after the next check, while without it each chunk would go on to its end
    assert later - at_stop <= 2 * CONCURRENCY


SERVICE_HANDLERS = '''
import os

def work(event, context):
    return {"doubled": event["n"] * 2, "pid": os.getpid()}

HANDLERS = {"work": work}
'''


def test_asl_serve_runs_children_on_its_dask_cluster_and_records_their_histories(tmp_path):
    import json

    from test_service import ROLE, Server, wait_done

    (tmp_path / "handlers.py").write_text(SERVICE_HANDLERS)
    server = Server(tmp_path, "memory", "--handlers", str(tmp_path / "handlers.py"), "--executor", "dask").start()
    try:
        sfn = server.client()
        definition = {"StartAt": "M", "States": {"M": {
            "Type": "Map", "Label": "Fan", "End": True,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                              "StartAt": "T", "States": {"T": {
                                  "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work",
                                  "End": True}}}}}}
        machine = sfn.create_state_machine(name="m", definition=json.dumps(definition), roleArn=ROLE)
        arn = sfn.start_execution(stateMachineArn=machine["stateMachineArn"],
                                  input=json.dumps([{"n": n} for n in range(20)]))["executionArn"]
        out = wait_done(sfn, arn, timeout=60)
        assert out["status"] == "SUCCEEDED", (out.get("error"), out.get("cause"))
        output = json.loads(out["output"])
        assert [o["doubled"] for o in output] == [2 * n for n in range(20)]
        assert os.getpid() not in {o["pid"] for o in output} and server.proc.pid not in {o["pid"] for o in output}
        map_run = sfn.list_map_runs(executionArn=arn)["mapRuns"][0]["mapRunArn"]
        children = sfn.list_executions(mapRunArn=map_run)["executions"]
        assert len(children) == 20 and {c["status"] for c in children} == {"SUCCEEDED"}
        history = sfn.get_execution_history(executionArn=children[0]["executionArn"])["events"]
        assert [e["type"] for e in history] == [
            "ExecutionStarted", "TaskStateEntered", "LambdaFunctionScheduled", "LambdaFunctionStarted",
            "LambdaFunctionSucceeded", "TaskStateExited", "ExecutionSucceeded"]
        counts = sfn.describe_map_run(mapRunArn=map_run)["itemCounts"]
        assert counts["succeeded"] == counts["total"] == 20
    finally:
        assert server.stop() == 0


def test_asl_console_executor_option(tmp_path):
    """asl console starts and redrives executions (POST /console/api/start): --executor, the
    option asl run, resume, redrive, worker and serve share, runs their Distributed Map children
    there, not in the console's process, as asl serve --executor does above."""
    import json
    import urllib.request

    from test_service import ROLE, Server

    (tmp_path / "handlers.py").write_text(SERVICE_HANDLERS)
    store = f"sqlite:{tmp_path / 'runs.db'}"
    serve = Server(tmp_path, store).start()  # (the console creates no state machine: asl serve does)
    try:
        machine = serve.client().create_state_machine(name="m", definition=json.dumps(DOUBLING),
                                                      roleArn=ROLE)["stateMachineArn"]
    finally:
        assert serve.stop() == 0
    console = Server(tmp_path, store, "--handlers", "handlers.py", "--executor", "processes",
                     command="console").start()

    def call(path: str, body: dict | None = None) -> dict:
        request = urllib.request.Request(f"{console.endpoint}/console/api/{path}", headers={
            "Content-Type": "application/json", "Origin": console.endpoint},
            data=None if body is None else json.dumps(body).encode())
        with urllib.request.urlopen(request) as answer:
            return json.loads(answer.read())

    try:
        arn = call("start", {"stateMachineArn": machine, "input": [{"n": n} for n in range(6)]})["executionArn"]
        deadline = time.monotonic() + 120
        while (described := call(f"execution?arn={arn}")["execution"])["status"] == "RUNNING":
            assert time.monotonic() < deadline, "still RUNNING"
            time.sleep(0.2)
    finally:
        assert console.stop() == 0
    assert described["status"] == "SUCCEEDED", described
    output = json.loads(described["output"])
    assert [o["doubled"] for o in output] == [0, 2, 4, 6, 8, 10]
    assert console.proc.pid not in {o["pid"] for o in output}  # the children ran in the executor's processes


def test_aws_settings_reach_the_worker_processes(aws):
    import json

    import boto3

    s3 = boto3.client("s3", endpoint_url=aws["endpoints"]["*"], region_name="us-east-1")
    s3.create_bucket(Bucket="asl-executors")
    definition = {"StartAt": "M", "States": {"M": {
        "Type": "Map", "End": True,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                          "StartAt": "Put", "States": {"Put": {
                              "Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
                              "Parameters": {"Bucket": "asl-executors", "Key.$": "States.Format('item-{}', $.n)",
                                             "Body.$": "$"},
                              "ResultSelector": {"etag.$": "$.ETag"}, "End": True}}}}}}

    async def main():
        async with ProcessExecutor(workers=2) as executor:
            return await run(asl.load(definition), [{"n": n} for n in range(10)], aws=aws, executor=executor)

    result = anyio.run(main)
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="asl-executors")["Contents"])
    assert keys == sorted(f"item-{n}" for n in range(10))
    assert json.loads(s3.get_object(Bucket="asl-executors", Key="item-3")["Body"].read()) == {"n": 3}
    assert all(o["etag"].startswith('"') for o in result.output)


def where(payload: dict) -> dict:
    return {"pid": os.getpid()}


def test_children_with_a_wait_in_real_time_stay_with_the_parent():
    processor = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Pause",
                 "States": {"Pause": {"Type": "Wait", "Seconds": 0, "Next": "Where"},
                            "Where": {"Type": "Task", "End": True,
                                      "Resource": "arn:aws:lambda:us-east-1:123456789012:function:where"}}}
    waiting = asl.load({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": processor, "End": True}}})

    async def main():
        async with ProcessExecutor(workers=2) as executor:
            options = dict(handlers=Handlers({"where": where}), executor=executor)
            real = await run(waiting, [{}] * 4, virtual_time=False, **options)
            virtual = await run(waiting, [{}] * 4, virtual_time=True, **options)
        return real, virtual

    real, virtual = anyio.run(main)
    assert {o["pid"] for o in real.output} == {os.getpid()}  # a worker would sit idle through the Wait
    assert os.getpid() not in {o["pid"] for o in virtual.output}  # virtual time: the Wait takes none


DOUBLING = {"StartAt": "M", "States": {"M": {  # a Distributed Map over SERVICE_HANDLERS' work
    "Type": "Map", "End": True,
    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                      "StartAt": "T", "States": {"T": {
                          "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work",
                          "End": True}}}}}}


def test_asl_run_executor_option(tmp_path):
    import json
    import subprocess
    import sys

    (tmp_path / "handlers.py").write_text(SERVICE_HANDLERS)
    definition = DOUBLING
    (tmp_path / "m.json").write_text(json.dumps(definition))
    asl_run = [sys.executable, "-m", "asl.cli", "run", "m.json", "--handlers", "handlers.py", "-q",
               "--input-json", json.dumps([{"n": n} for n in range(6)])]
    done = subprocess.run([*asl_run, "--executor", "processes"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    output = json.loads(done.stdout)
    assert [o["doubled"] for o in output] == [0, 2, 4, 6, 8, 10]
    bad = subprocess.run([*asl_run, "--executor", "ray"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert "unknown executor 'ray': choose one of inline, processes, dask, dask://HOST:PORT" in bad.stderr


def test_the_trace_shows_each_remote_item_s_outcome():
    """The states of a Distributed Map child run by worker processes are not seen by the trace:
    each failed item is shown from the history it comes back with, in the line the inline trace
    prints from the states it sees (item, state, time, error: cause); with -v each succeeded
    item too, by the states it went through. Before the workers start (a pause of seconds on a
    loaded machine) a dim line says so. (The sample's records c-003 and c-006 have no valid email
    address; c-007's StoreRecord is throttled once and retried after 1 s: samples/batch/handlers.py.)"""
    import subprocess
    import sys

    from conftest import SAMPLES

    batch = SAMPLES / "batch"
    asl_run = [sys.executable, "-m", "asl.cli", "run", str(batch / "batch.json"), "--input", str(batch / "input.json"),
               "--handlers", str(batch / "handlers.py"), "--virtual-time"]

    def trace(*options: str) -> list[str]:
        done = subprocess.run([*asl_run, *options], capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stderr.splitlines()
    failed = ["  [item 2] ✗ CheckRecord  <1ms  Record.Invalid: record c-003 has no valid email address",
              "  [item 5] ✗ CheckRecord  <1ms  Record.Invalid: record c-006 has no valid email address"]
    assert [line for line in trace() if "[item" in line] == failed  # inline
    remote = trace("--executor", "processes")
    assert remote[0] == f"starting {os.cpu_count()} worker process{'es' * (os.cpu_count() != 1)}…"
    assert [line for line in remote if "[item" in line] == failed
    # the Map takes the virtual second of c-007's retry on the workers too (it showed <1ms)
    mapped = "✓ ImportRecords  1.00s  8 items: 6 succeeded, 2 failed (tolerated) → Report"
    assert mapped in remote and remote[-1] == "SUCCEEDED  batch · 16 state transitions · 1.00s (virtual)"
    verbose = [line for line in trace("--executor", "processes", "-v") if "[item" in line]
    assert sorted(verbose) == sorted(failed + [f"  [item {i}] ✓ CheckRecord → StoreRecord  <1ms → end"
                                               for i in (0, 1, 3, 4, 7)] +
                                     ["  [item 6] ✓ CheckRecord → StoreRecord  1.00s → end"])
    assert trace("--executor", "processes", "-q") == []


def test_a_dask_scheduler_that_cannot_be_reached_is_one_line(tmp_path):
    """asl run, asl worker and asl serve name the address they could not reach and exit 2, no
    traceback (asl serve: its startup's reason once, not uvicorn's ERROR lines)."""
    import json
    import socket
    import subprocess
    import sys

    (tmp_path / "handlers.py").write_text(SERVICE_HANDLERS)
    (tmp_path / "m.json").write_text(json.dumps(DOUBLING))
    env = {**os.environ, "DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}  # Dask's own setting (30 s)
    (tmp_path / "runs.db").write_bytes(b"")  # (a store file is there: the worker gets as far as the executor)
    with socket.socket() as closed:  # bound, never listening: connections to it are refused
        closed.bind(("127.0.0.1", 0))
        address = f"dask://127.0.0.1:{closed.getsockname()[1]}"
        commands = {"run": ["run", "m.json", "--handlers", "handlers.py", "--input-json", "[]"],
                    "worker": ["worker", "--store", "sqlite:runs.db", "--until-idle"],
                    "serve": ["serve", "--port", "0", "--store", "memory"]}
        for command, args in commands.items():
            done = subprocess.run([sys.executable, "-m", "asl.cli", *args, "--executor", address], cwd=tmp_path,
                                  capture_output=True, text=True, timeout=120, env=env)
            assert done.returncode == 2, done.stderr
            assert "Traceback" not in done.stderr and "never awaited" not in done.stderr, done.stderr
            assert f"asl {command}: cannot reach the Dask scheduler at tcp://127.0.0.1:" in done.stderr
            assert "ERROR" not in done.stderr and "startup failed" not in done.stderr, done.stderr
            # the executor's failure is the first line: before asl run's trace header, and asl serve
            # prints no banner for a server that did not start
            assert done.stderr.startswith(f"asl {command}: "), done.stderr
            assert "AWS Step Functions API on" not in done.stderr


def test_an_executor_whose_package_is_missing_is_the_first_and_only_line(tmp_path):
    """--executor processes without the [dask] extra (cloudpickle): the command says so before it
    prints anything else (asl run: no trace header; asl serve: no banner) and exits 2."""
    import json
    import subprocess
    import sys

    (tmp_path / "handlers.py").write_text(SERVICE_HANDLERS)
    (tmp_path / "m.json").write_text(json.dumps(DOUBLING))
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['cloudpickle'] = None  # not installed\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    arn = "arn:aws:states:us-east-1:123456789012:execution:m:e"
    (tmp_path / "runs.db").write_bytes(b"")  # (a store file is there: the commands get as far as the executor)
    commands = {"run": ["run", "m.json", "--handlers", "handlers.py", "--input-json", "[]"],
                "resume": ["resume", arn, "--store", "sqlite:runs.db"],
                "worker": ["worker", "--store", "sqlite:runs.db", "--until-idle"],
                "serve": ["serve", "--port", "0", "--store", "memory"]}
    for command, args in commands.items():
        done = subprocess.run([sys.executable, "-m", "asl.cli", *args, "--executor", "processes"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60, env=env)
        assert done.returncode == 2, done.stderr
        assert done.stderr == f"asl {command}: the processes executor needs cloudpickle: {install_hint('dask')}\n"
    assert (tmp_path / "runs.db").stat().st_size == 0  # (refused before the store was opened)


def test_a_dask_address_without_a_port_is_refused_as_the_option_is_read(tmp_path):
    """dask://HOST without a port, or with one that is not a number: every command taking
    --executor refuses it as a usage error, before it starts anything (asl serve: no banner)."""
    import subprocess
    import sys

    arn = "arn:aws:states:us-east-1:123456789012:execution:m:e"
    commands = {"run": ["run", "m.json", "--input-json", "[]"], "resume": ["resume", arn, "--store", "sqlite:runs.db"],
                "redrive": ["redrive", arn, "--store", "sqlite:runs.db"],
                "worker": ["worker", "--store", "sqlite:runs.db", "--until-idle"],
                "serve": ["serve", "--port", "0", "--store", "memory"]}
    for command, args in commands.items():
        for address in ("dask://nohost", "dask://127.0.0.1:abc", "tcp://127.0.0.1:0"):
            done = subprocess.run([sys.executable, "-m", "asl.cli", *args, "--executor", address], cwd=tmp_path,
                                  capture_output=True, text=True, timeout=60)
            assert done.returncode == 2, done.stderr
            assert f"'{address}' is not the address of a Dask scheduler: give HOST:PORT" in done.stderr, done.stderr
            assert "Traceback" not in done.stderr and "never awaited" not in done.stderr, done.stderr
            assert "AWS Step Functions API on" not in done.stderr
    assert not (tmp_path / "runs.db").exists()  # refused before any store was opened


def test_a_dask_client_that_could_not_connect_is_closed():
    """A scheduler address Dask itself refuses (the executor given one directly, not through
    --executor) is an ExecutorError, and the client that tried leaves no coroutine unawaited."""
    import gc
    import warnings

    from asl.engine.executors import ExecutorError

    async def main():
        for address, reason in (("tcp://nohost", "missing port number"), ("tcp://127.0.0.1:abc", "invalid literal")):
            with pytest.raises(ExecutorError, match=f"cannot reach the Dask scheduler at {address}: {reason}"):
                async with DaskExecutor(address):
                    pass
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        anyio.run(main)
        gc.collect()
    assert not [w for w in caught if "never awaited" in str(w.message)]


def test_a_worker_process_killed_mid_run_loses_no_item(tmp_path):
    db = calls_db(tmp_path)

    async def main():
        async with ProcessExecutor(workers=2) as executor:
            killed: list[int] = []

            async def killer():
                while len(calls(db)) < 100:
                    await anyio.sleep(0.02)
                pid = calls(db)[-1][1]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

            async with anyio.create_task_group() as tg:
                tg.start_soon(killer)
                result, _ = await run_with(executor, items(db, pause=0.005, n=400))
                tg.cancel_scope.cancel()
            return result, killed

    result, killed = anyio.run(main)
    assert killed
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert result.output == expected(400)
    rows = calls(db)
    assert sorted({item for item, _, _ in rows}) == list(range(400))
    assert any(pid != killed[0] for _, pid, _ in rows)  # a new process took the lost chunks over
    assert_redelivered_again(rows, killed[0])


def test_asl_worker_executor_option(tmp_path):
    """`asl worker --executor` (the option asl run, resume, redrive and serve share): the executions
    it takes up run their Distributed Map children there, not in the worker's process."""
    import json
    import subprocess
    import sys

    from asl.engine.stores import open_store

    (tmp_path / "handlers.py").write_text(SERVICE_HANDLERS)
    url = f"sqlite:{tmp_path / 'runs.db'}"
    definition = DOUBLING

    async def leave():  # recorded, its process gone: a worker takes it up once its lease has run out
        store = open_store(url)
        await store.open()
        try:
            execution = prepare(asl.load(definition), [{"n": n} for n in range(6)], name="left")
            await execution.attach(store, owner="gone:1:0", lease_seconds=0.5)
            return execution.arn
        finally:
            await store.close()

    async def output(arn):
        store = open_store(url)
        await store.open()
        try:
            return (await store.get(arn)).output
        finally:
            await store.close()

    arn = anyio.run(leave)
    time.sleep(0.6)
    worker = [sys.executable, "-m", "asl.cli", "worker", "--store", url, "--until-idle", "--poll", "0.1",
              "--handlers", "handlers.py"]
    proc = subprocess.Popen([*worker, "--executor", "processes"], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert f"SUCCEEDED  {arn}" in stderr
    result = anyio.run(output, arn)
    result = json.loads(result) if isinstance(result, str) else result
    assert [o["doubled"] for o in result] == [0, 2, 4, 6, 8, 10]
    assert proc.pid not in {o["pid"] for o in result}  # the children ran in the executor's processes
    bad = subprocess.run([*worker, "--executor", "ray"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2
    assert "unknown executor 'ray': choose one of inline, processes, dask, dask://HOST:PORT" in bad.stderr


class InProcess:
    """A backend that runs each chunk in a worker thread of this process (`run_chunk`, as a
    worker process does), whose own bookkeeping after each chunk fails."""

    @staticmethod
    def make():
        import anyio.to_thread

        from asl.engine.executors.child import load_spec, run_chunk
        from asl.engine.executors.chunked import ChunkedExecutor

        class Executor(ChunkedExecutor):
            name = "in-process"

            async def _submit(self, run, chunk, jobs):
                return await anyio.to_thread.run_sync(run_chunk, load_spec(run.blob, run.spec.id), jobs)

            def _finished(self, chunk):
                self.background.spawn(self._note, chunk)

            async def _note(self, chunk):
                raise RuntimeError(f"bookkeeping of {chunk} failed")

        return Executor()


def test_the_executors_own_work_runs_in_its_task_group_and_its_failures_stay_there(caplog):
    """The executor's work (chunks, flushes, a backend's bookkeeping) runs in its task group,
    open for the `async with`: what fails there is logged and reaches no execution using it.
    Used without being opened, the Map fails with the reason."""
    async def main():
        executor = InProcess.make()
        async with executor:
            result, _ = await run_with(executor, items(n=40))
            assert executor.background.active
        assert not executor.background.active
        unopened = await run_with(InProcess.make(), items(n=3))
        return result, unopened

    result, (unopened, children) = anyio.run(main)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output == expected(40)
    failures = [r for r in caplog.records if r.exc_info and "bookkeeping of asl-chunk-" in str(r.exc_info[1])]
    assert failures and all(r.name == "asl.engine.executors.chunked" and r.levelname == "ERROR" for r in failures)
    assert unopened.error == "States.ExceedToleratedFailureThreshold"
    kind, _, details = children[0][-1]
    assert kind == "ExecutionFailed" and details["error"] == "States.Runtime"
    assert details["cause"] == ("The child execution could not run on the in-process executor: it is not open "
                                "(`async with executor:`)")


def test_children_cut_short_record_their_aborted_states_on_every_executor():
    """EXPRESS children in a 10-minute Wait, timed out with their Map Run (virtual time): the
    states they were in are recorded aborted whether they ran in the parent or in a process."""
    processor = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"}, "StartAt": "Pause",
                 "States": {"Pause": {"Type": "Wait", "Seconds": 600, "End": True}}}
    machine = asl.load({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": processor,
                                                         "ToleratedFailurePercentage": 100, "End": True}}})

    class Histories:
        def __init__(self):
            self.kept = {}

        async def child_finished(self, arn, index, child):
            self.kept[index] = [entry[0] for entry in child.history.entries()]

        def __getattr__(self, name):  # (the other Map Run notices: nothing to keep)
            async def ignored(*args):
                return None
            return ignored

    async def histories(executor):
        ex = prepare(machine, [{}] * 2, virtual_time=True, executor=executor)
        ex.map_runs = Histories()
        await ex.run()
        return ex.map_runs.kept

    async def go():
        inline = await histories(None)
        async with ProcessExecutor(workers=1) as executor:
            return inline, await histories(executor)
    inline, processes = anyio.run(go)
    assert inline[0] == ["ExecutionStarted", "WaitStateEntered", "WaitStateAborted", "ExecutionTimedOut"]
    assert processes == inline


# ---- virtual time on a remote executor ----------------------------------------------------------

def pausing(payload: dict, ctx) -> dict:
    """Fails its first attempt with ``Again`` when the item says ``again``, ``Bad`` when ``fail``;
    takes ``busy`` real seconds."""
    from asl.engine import TaskFailed

    time.sleep(payload.get("busy", 0))
    if payload.get("fail"):
        raise TaskFailed("Bad", "a bad item")
    if payload.get("again") and ctx.attempt == 1:
        raise TaskFailed("Again", "try again")
    return payload


PAUSING = "arn:aws:lambda:us-east-1:123456789012:function:pausing"


def pausing_map(**options) -> object:
    """A Distributed Map whose child Waits ``$.s`` seconds, then calls `pausing` (a failed first
    attempt is retried 2 s later); after it the parent Waits 2 s."""
    processor = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Pause",
                 "States": {"Pause": {"Type": "Wait", "SecondsPath": "$.s", "Next": "Call"},
                            "Call": {"Type": "Task", "Resource": PAUSING, "End": True,
                                     "Retry": [{"ErrorEquals": ["Again"], "IntervalSeconds": 2, "MaxAttempts": 1}]}}}
    return asl.load({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemProcessor": processor, "Next": "After",
                                                      **options},
                                                "After": {"Type": "Wait", "Seconds": 2, "End": True}}})


class KeptHistories(ChildHistories):
    def __init__(self, start: float):
        super().__init__()
        self.start = start

    async def child_finished(self, map_run_arn, index, child) -> None:  # times from the parent's start
        self.histories[index] = [(t, previous, round(at - self.start, 3), details, site)
                                 for t, previous, at, details, site in child.history.entries()]


async def timed_run(executor, machine, data):
    """(status, the parent's (event, seconds from its start), each child's history timed so)."""
    from asl.engine.clock import VirtualClock

    start = 1_700_000_000.0
    execution = prepare(machine, data, handlers=Handlers({"pausing": pausing}), seed=5, payload_limit=None,
                        clock=VirtualClock(start), executor=executor)
    listener = execution.map_runs = KeptHistories(start)
    result = await execution.run()
    return (result.status, [(t, round(at - start, 3)) for t, _, at, _, _ in result.history.entries()],
            listener.histories)


def remote_executor(kind: str):
    return ProcessExecutor(workers=2) if kind == "processes" else DaskExecutor(workers=2)


def in_time_order(history: list) -> bool:
    return all(a[2] <= b[2] for a, b in zip(history, history[1:]))


@pytest.mark.parametrize("kind", ["processes", "dask"])
def test_virtual_time_on_a_remote_executor_is_the_inline_time(kind):
    """Children on workers take the virtual time they take inline, and the parent's clock moves
    with them: each child's closing event follows its last state's (it was stamped by the
    parent's clock, which stood still: ``ExecutionSucceeded`` a second before the retried Task's
    ``TaskStateExited``), MaxConcurrency's next child starts when a slot frees in virtual time,
    and the Map takes as long as its slowest chain (it took no time at all). AWS DG
    "Distributed Map state": MaxConcurrency is how many child executions run at once; a Map
    Run ends when its last child does.

    Items, MaxConcurrency 2: 0 Waits 3 s; 1 Waits 1 s, fails, retries 2 s later (ends at 3 s);
    at 3 s both slots free: 2 (Wait 2 s) ends at 5 s, 3 (Wait 1 s) at 4 s. The Map: 5 s."""
    data = [{"s": 3}, {"s": 1, "again": True}, {"s": 2}, {"s": 1}]
    machine = pausing_map(MaxConcurrency=2)

    async def main():
        inline = await timed_run(None, machine, data)
        async with remote_executor(kind) as executor:
            return inline, await timed_run(executor, machine, data)

    (status, parent, children), (away_status, away_parent, away_children) = anyio.run(main)
    assert status == away_status == "SUCCEEDED"
    spans = {index: (history[0][2], history[-1][2]) for index, history in away_children.items()}
    assert spans == {0: (0, 3), 1: (0, 3), 2: (3, 5), 3: (3, 4)}
    assert dict(away_parent)["MapStateExited"] == 5 and away_parent[-1] == ("ExecutionSucceeded", 7)
    assert all(in_time_order(history) for history in away_children.values())
    assert away_children == children  # the same events, links, details and times, child by child
    assert away_parent == parent


def test_remote_children_cut_short_in_virtual_time_end_as_inline_ones():
    """A child that ran to its end on a worker, but whose Map Run failed earlier in virtual time,
    is aborted at the failure's time as inline: its history keeps the events written by then,
    then ExecutionAborted, with no abort event of the state it was in (raw AWS capture,
    radkawar/stackd testdata/aws/stepfunctions/redrive_map.json, standard:failed: a child in its
    Wait when its Map Run failed ends WaitStateEntered, ExecutionAborted). Item 2 fails at 2 s;
    0 is in its 5 s Wait, 1 between its Task's failure at 1 s and the retry at 3 s."""
    data = [{"s": 5}, {"s": 1, "again": True}, {"s": 2, "fail": True}]
    machine = pausing_map(ToleratedFailurePercentage=0)

    async def main():
        inline = await timed_run(None, machine, data)
        async with ProcessExecutor(workers=2) as executor:
            return inline, await timed_run(executor, machine, data)

    (status, parent, children), (away_status, away_parent, away_children) = anyio.run(main)
    assert status == away_status == "FAILED"
    assert away_parent == parent and dict(parent)["ExecutionFailed"] == 2
    assert [t for t, *_ in away_children[0]] == ["ExecutionStarted", "WaitStateEntered", "ExecutionAborted"]
    assert [t for t, *_ in away_children[1]][-2:] == ["LambdaFunctionFailed", "ExecutionAborted"]
    assert all(in_time_order(history) for history in away_children.values())
    assert away_children[0][-1][2] == away_children[1][-1][2] == 2
    # (the abort event's journal site may differ: the worker's timers drew positions the record
    # does not carry; the site matters only when an execution replays its own journal)
    unsited = lambda kids: {i: [entry[:4] for entry in h] for i, h in kids.items()}  # noqa: E731
    assert unsited(away_children) == unsited(children)


def test_remote_children_take_the_same_virtual_time_however_long_they_take_in_real_time():
    """The parent's clock stands still while a child is out on a worker, however long it takes
    there (a child waiting for its record was taken for stalled after a real second, and time
    moved on to the next child's end): item 1's handler takes 1.2 real seconds, item 0 Waits
    1 s. Item 1 takes no virtual time on its worker, so item 2 takes its slot at 0 s (item 0's
    second passes on another worker's clock: a quick handler adds no virtual time)."""
    data = [{"s": 1}, {"s": 0, "busy": 1.2}, {"s": 0}]

    async def main():
        async with ProcessExecutor(workers=2) as executor:
            return await timed_run(executor, pausing_map(MaxConcurrency=2), data)

    status, parent, children = anyio.run(main)
    assert status == "SUCCEEDED"
    assert {index: (history[0][2], history[-1][2]) for index, history in children.items()} == {
        0: (0, 1), 1: (0, 0), 2: (0, 0)}
    assert dict(parent)["MapStateExited"] == 1
