#!/usr/bin/env python3
"""Benchmark runner with the harness contract of ../shared/bench/run_bench.py.

    python benchmarks/runner.py DEFINITION INPUT

Prints the final output JSON on stdout and, as the last stderr line,
``transitions=N seconds=S`` where S is the execution alone, in process (history on); the
engine's modules are imported before the timer starts.
"""
from __future__ import annotations

import json
import sys
import time


def main() -> int:
    if len(sys.argv) != 3:
        print("usage: runner.py DEFINITION INPUT", file=sys.stderr)
        return 2
    import os

    import anyio

    import asl
    from asl.engine import prepare
    # Load the modules of every state type before the timer, as node's runner has its whole
    # library loaded before run(): the engine imports the Task/Map/Parallel runners on first
    # use (to keep `asl --help` fast), which is start-up work, not execution.
    import asl.engine.concurrency  # noqa: F401
    import asl.engine.task  # noqa: F401
    anyio.run(anyio.sleep, 0)  # and anyio's event-loop backend, which it imports on first use

    machine = asl.load(sys.argv[1])                      # parse, validate, compile: not timed
    with open(sys.argv[2], encoding="utf-8") as fh:
        data = json.load(fh)
    limit = int(os.environ.get("ASL_HISTORY_LIMIT", "25000"))
    execution = prepare(machine, data, virtual_time=True, history_limit=limit)
    import gc
    gc.freeze()  # as `asl run` does: the start-up objects stay out of the cyclic collections
    start = time.perf_counter()                          # the execution alone, history on
    result = anyio.run(execution.run)
    seconds = time.perf_counter() - start
    if result.status != "SUCCEEDED":
        print(f"{result.status}: {result.error}: {result.cause}", file=sys.stderr)
        return 1
    json.dump(result.output, sys.stdout, separators=(",", ":"))
    sys.stdout.write("\n")
    print(f"transitions={result.transitions} seconds={seconds:.6f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
