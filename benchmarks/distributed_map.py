#!/usr/bin/env python3
"""Distributed Map children through each executor: inline, local processes, a Dask LocalCluster.

    python benchmarks/distributed_map.py                       # both workloads, every executor
    python benchmarks/distributed_map.py --items 100000 --cpu-items 2000 --workers 2
    python benchmarks/distributed_map.py --only dask --workload trivial

A Distributed Map whose child is three states (Pass, a Task served by a Python handler, Pass)
over N items, without MaxConcurrency (AWS's 10,000 children at once). Workloads: `trivial` (the
handler returns at once) and `cpu` (the handler burns 10 ms of CPU). Each executor runs in a
fresh process; the table gives items/s (wall time of the whole run, cluster start excluded and
shown apart), the coordinator's peak RSS and the largest worker process's peak RSS. Goal
(issue 15): Dask within 2x of inline for trivial children, faster than inline at 10 ms of CPU.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
CHILD = {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Prepare",
         "States": {"Prepare": {"Type": "Pass", "Parameters": {"n.$": "$.n", "cpu.$": "$.cpu"}, "Next": "Work"},
                    "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:work",
                             "ResultPath": "$.out", "Next": "Done"},
                    "Done": {"Type": "Pass", "OutputPath": "$.out", "End": True}}}
DEFINITION = {"StartAt": "Each", "States": {"Each": {"Type": "Map", "ItemProcessor": CHILD, "End": True}}}


def work(payload: dict) -> dict:
    """The child's Task: `cpu` seconds of CPU (on this thread's clock), then the item back."""
    if payload["cpu"]:
        end = time.thread_time() + payload["cpu"]
        while time.thread_time() < end:
            pass
    return {"n": payload["n"]}


def measure(kind: str, items: int, cpu: float, workers: int) -> dict:
    """One run in this process (`--child`): {seconds, start, rss, workers_rss}."""
    import anyio

    import asl
    from asl.engine import Handlers, run
    from asl.engine.executors.daskcluster import DaskExecutor
    from asl.engine.executors.processes import ProcessExecutor

    machine = asl.load(DEFINITION)
    handlers = Handlers({"work": work})
    data = [{"n": i, "cpu": cpu} for i in range(items)]
    out: dict = {}

    async def main() -> None:
        began = time.perf_counter()
        executor = {"inline": lambda: None, "processes": lambda: ProcessExecutor(workers),
                    "dask": lambda: DaskExecutor(workers=workers)}[kind]()
        if executor is not None:
            await executor.start()
        out["start"] = time.perf_counter() - began
        try:
            began = time.perf_counter()
            result = await run(machine, data, handlers=handlers, payload_limit=None, executor=executor)
            out["seconds"] = time.perf_counter() - began
        finally:
            if executor is not None:
                await executor.aclose()
        assert result.status == "SUCCEEDED", (result.error, result.cause)
        assert result.output == [{"n": i} for i in range(items)]

    anyio.run(main)
    out["rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["workers_rss"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--items", type=int, default=100_000, help="items of the trivial workload")
    parser.add_argument("--cpu-items", type=int, default=2_000, help="items of the 10 ms CPU workload")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (processes, dask)")
    parser.add_argument("--only", choices=["inline", "processes", "dask"], action="append")
    parser.add_argument("--workload", choices=["trivial", "cpu"], action="append")
    parser.add_argument("--child", nargs=4, metavar=("KIND", "ITEMS", "CPU", "WORKERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, items, cpu, workers = args.child
        print(json.dumps(measure(kind, int(items), float(cpu), int(workers))))
        return 0
    print(f"| workload | executor | items | items/s | vs inline | executor start | coordinator peak RSS | "
          f"worker peak RSS |\n|---|---|---|---|---|---|---|---|")
    for workload in args.workload or ["trivial", "cpu"]:
        items, cpu = (args.items, 0.0) if workload == "trivial" else (args.cpu_items, 0.010)
        inline_rate = None
        for kind in args.only or ["inline", "processes", "dask"]:
            done = subprocess.run([sys.executable, __file__, "--child", kind, str(items), str(cpu), str(args.workers)],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                print(f"| {workload} | {kind} | failed: {done.stderr.strip().splitlines()[-1:]} |", flush=True)
                continue
            got = json.loads(done.stdout.strip().splitlines()[-1])
            rate = items / got["seconds"]
            if kind == "inline":
                inline_rate = rate
            ratio = f"{rate / inline_rate:.2f}x" if inline_rate else "-"
            workers_rss = f"{got['workers_rss']:.0f} MiB" if kind != "inline" else "-"
            print(f"| {workload}{' (10 ms CPU)' if cpu else ''} | {kind} | {items:,} | {rate:,.0f} | {ratio} | "
                  f"{got['start']:.2f} s | {got['rss']:.0f} MiB | {workers_rss} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
