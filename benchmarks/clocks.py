#!/usr/bin/env python3
"""Transitions per second of ../shared/bench workloads under real and virtual time, side by side.

    python benchmarks/clocks.py [--runs 20] [--shared ../shared] [--workloads map-inline,parallel-fan]

Each round runs the execution once with each clock (`asl.engine.run(virtual_time=...)`, no
store, history on, each in its own event loop), so a drift in machine speed hits both alike;
the table gives the best and the median of the rounds.
"""
from __future__ import annotations

import argparse
import statistics
import sys

import bench_workloads as bench  # benchmarks/bench_workloads.py

CLOCKS = {"real": False, "virtual": True}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    bench.add_arguments(parser)
    parser.add_argument("--workloads", default="map-inline,parallel-fan")
    args = parser.parse_args()
    import anyio

    import asl.engine.concurrency  # noqa: F401 - loaded on first use: not inside a timed run
    import asl.engine.task  # noqa: F401
    anyio.run(anyio.sleep, 0)
    print("| workload | real: best / median | virtual: best / median | virtual / real (best) |")
    print("|---|---|---|---|")
    for name in args.workloads.split(","):
        machine, value = bench.load(name, args.shared)
        rates: dict[str, list[float]] = {label: [] for label in CLOCKS}
        for _ in range(args.runs):
            for label, virtual in CLOCKS.items():
                async def once() -> tuple[float, int]:
                    return await bench.timed_run(machine, value, virtual_time=virtual)
                seconds, transitions = anyio.run(once)
                rates[label].append(transitions / seconds)
        cells = [f"{max(r):,.0f} / {statistics.median(r):,.0f}" for r in rates.values()]
        print(f"| {name} | {cells[0]} | {cells[1]} | {max(rates['virtual']) / max(rates['real']):.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
