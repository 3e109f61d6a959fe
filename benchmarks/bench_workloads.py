"""What the in-process benchmarks of ../shared/bench's workloads share (stores.py,
observability.py, growth.py): where the workloads are, reading one, timing whole executions
and printing a table. Not a benchmark itself.

The workloads are read from ``ASL_BENCH_WORKLOADS`` when it is set, else from
``SHARED/bench/workloads`` (``--shared``, default ../shared beside the checkout).
"""
from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any, Awaitable, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = ("pass-chain", "choice-loop", "map-inline", "parallel-fan", "intrinsics", "payload")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every such benchmark takes: ``--runs`` and ``--shared``."""
    parser.add_argument("--runs", type=int, default=3, help="best of this many runs of each execution")
    parser.add_argument("--shared", default=os.path.join(HERE, "..", "..", "shared"))


def folder(shared: str | None = None) -> str:
    """The folder holding the workloads' definitions and inputs."""
    return os.environ.get("ASL_BENCH_WORKLOADS") or os.path.join(
        os.path.abspath(shared or os.path.join(HERE, "..", "..", "shared")), "bench", "workloads")


def read(name: str, shared: str | None = None) -> tuple[dict, Any]:
    """A workload's definition (as JSON) and input."""
    base = folder(shared)
    with open(os.path.join(base, f"{name}.json"), encoding="utf-8") as fh:
        definition = json.load(fh)
    with open(os.path.join(base, f"{name}.input.json"), encoding="utf-8") as fh:
        return definition, json.load(fh)


def load(name: str, shared: str | None = None) -> tuple[Any, Any]:
    """A workload's loaded machine (`asl.load`: validated and compiled, not timed) and input."""
    import asl

    definition, value = read(name, shared)
    return asl.load(definition), value


async def timed_run(machine: Any, value: Any, **options: Any) -> tuple[float, int]:
    """(seconds, transitions) of one whole execution (`asl.engine.run`, the payload limit
    lifted, its history included), which must succeed."""
    from asl.engine import run

    start = time.perf_counter()
    result = await run(machine, value, payload_limit=None, **options)
    took = time.perf_counter() - start
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    return took, result.transitions


def best_rate(measure: Callable[[], Awaitable[tuple[float, int]]], runs: int) -> float:
    """Transitions per second of the fastest of `runs` runs of `measure` (each in its own event
    loop), which returns `timed_run`'s (seconds, transitions)."""
    import anyio

    seconds, transitions = min(anyio.run(measure) for _ in range(runs))
    return transitions / seconds


def print_table(rows: list[dict], labels: list[str], headers: list[str] | None = None,
                extra: tuple[str, Callable[[dict], str]] | None = None) -> None:
    """A Markdown table: one row per workload, a transitions/s column per label (headed by
    `headers`, default the labels), and an `extra` (heading, cell) column."""
    heads = (headers or labels) + ([extra[0]] if extra else [])
    print("| workload | " + " | ".join(heads) + " |")
    print("|---|" + "---|" * len(heads))
    for row in rows:
        cells = [f"{row[label]:,.0f}" for label in labels] + ([extra[1](row)] if extra else [])
        print(f"| {row['workload']} | " + " | ".join(cells) + " |")
