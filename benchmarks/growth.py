#!/usr/bin/env python3
"""Does the cost per transition stay flat as the work grows? (issue 7)

    python benchmarks/growth.py [--quick]

- choice-loop from 5,000 to 500,000 iterations (event limit raised);
- map-inline from 2,000 to 50,000 items (ResultPath null; payload limit lifted: the input
  itself is over 256 KiB at that size);
- payload: a Pass with ResultPath over a 20 KB and a 2 MB document (payload limit lifted).

Each size runs in process with history on; the table shows microseconds per transition and
the ratio to the smallest size (target: within 1.25 for the loops, within 3 for payload).
"""
from __future__ import annotations

import argparse
import copy
import json
import time

import anyio
import bench_workloads  # benchmarks/bench_workloads.py

import asl
from asl.engine import prepare


def _load(name: str) -> tuple[dict, object]:
    return bench_workloads.read(name)


def timed(definition: dict, data: object) -> tuple[float, int]:
    machine = asl.load(definition)
    execution = prepare(machine, data, history_limit=10**8, payload_limit=None)
    start = time.perf_counter()
    result = anyio.run(execution.run)
    seconds = time.perf_counter() - start
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    return seconds, result.transitions


def choice_loop(n: int) -> tuple[dict, object]:
    definition, data = _load("choice-loop")
    definition = copy.deepcopy(definition)
    definition["States"]["Check"]["Choices"][0]["NumericLessThan"] = n
    return definition, data


def map_inline(items: int) -> tuple[dict, object]:
    definition, data = _load("map-inline")
    definition = copy.deepcopy(definition)
    definition["States"]["Fan"]["ResultPath"] = None
    definition["States"]["Summarize"]["Parameters"] = {"threshold.$": "$.threshold"}
    data = {"threshold": 50, "items": [{"id": i, "v": (i * 37) % 100} for i in range(items)]}
    return definition, data


def payload(kb: int) -> tuple[dict, object]:
    definition, data = _load("payload")
    records = data["doc"]["records"]
    size = len(json.dumps(records)) / len(records)
    count = max(1, int(kb * 1024 / size))
    scaled = [dict(records[i % len(records)], id=i) for i in range(count)]
    return definition, {"meta": {"i": 0}, "doc": {"records": scaled}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller top sizes")
    args = parser.parse_args()
    import gc
    gc.freeze()  # as `asl run` does: the start-up objects stay out of the cyclic collections
    series = [
        ("choice-loop", choice_loop, [5_000, 50_000, 500_000 if not args.quick else 100_000], 1.25),
        ("map-inline", map_inline, [2_000, 10_000, 50_000 if not args.quick else 20_000], 1.25),
        ("payload", payload, [20, 200, 2_000], 3.0),
    ]
    print("| series | size | transitions | seconds | µs / transition | vs smallest | target |")
    print("|---|---|---|---|---|---|---|")
    for name, build, sizes, target in series:
        base = None
        for size in sizes:
            seconds, transitions = timed(*build(size))
            per = seconds / transitions * 1e6
            base = base or per
            unit = " KB" if name == "payload" else ""
            print(f"| {name} | {size:,}{unit} | {transitions:,} | {seconds:.3f} | {per:.1f} | {per / base:.2f}× "
                  f"| ≤ {target}× |")


if __name__ == "__main__":
    main()
