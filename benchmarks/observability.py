#!/usr/bin/env python3
"""What traces and execution logs cost: transitions per second of the ../shared/bench workloads.

    python benchmarks/observability.py [--runs 3] [--shared ../shared]

Columns:
  off            no observer, no log: what every run pays when tracing and logging are off
                 (the engine checks one attribute per event; nothing else runs)
  tracing, API   a `Tracing` observer over OpenTelemetry's API alone (no SDK: spans are no-ops)
  tracing, SDK   a `Tracing` observer over the SDK, spans batched to an exporter that drops them
  log ALL        an `ExecutionLog` at level ALL, with execution data, into a null stream
  log ERROR      level ERROR (the events are looked at; few are written)
Each figure is the best of `--runs` whole executions (the result's history included).
"""
from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = ("pass-chain", "choice-loop", "map-inline", "parallel-fan", "intrinsics", "payload")


class _Null(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shared", default=os.path.join(HERE, "..", "..", "shared"))
    args = parser.parse_args()

    import anyio
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.trace import NoOpTracerProvider

    import asl
    from asl.engine import run
    from asl.engine.execlog import ExecutionLog, StreamDestination
    from asl.engine.tracing import Tracing

    class Drop(SpanExporter):
        def export(self, spans):  # type: ignore[no-untyped-def]
            return SpanExportResult.SUCCESS

    sdk = TracerProvider()
    sdk.add_span_processor(BatchSpanProcessor(Drop(), max_queue_size=1 << 16))
    setups = {
        "off": lambda: {},
        "tracing, API": lambda: {"observer": Tracing(NoOpTracerProvider())},
        "tracing, SDK": lambda: {"observer": Tracing(sdk)},
        "log ALL": lambda: {"log": ExecutionLog("ALL", True, StreamDestination(_Null()))},
        "log ERROR": lambda: {"log": ExecutionLog("ERROR", True, StreamDestination(_Null()))},
    }
    folder = os.path.join(os.path.abspath(args.shared), "bench", "workloads")
    rows = []
    for name in WORKLOADS:
        machine = asl.load(os.path.join(folder, f"{name}.json"))
        with open(os.path.join(folder, f"{name}.input.json"), encoding="utf-8") as fh:
            value = json.load(fh)
        row = {"workload": name}
        for label, options in setups.items():
            async def once() -> tuple[float, int]:
                start = time.perf_counter()
                result = await run(machine, value, payload_limit=None, **options())
                took = time.perf_counter() - start
                assert result.status == "SUCCEEDED", (name, label, result.error, result.cause)
                return took, result.transitions
            best, transitions = min(anyio.run(once) for _ in range(args.runs))
            row[label] = transitions / best
        rows.append(row)
    sdk.shutdown()
    labels = list(setups)
    print("| workload | " + " | ".join(labels) + " |")
    print("|---|" + "---|" * len(labels))
    for row in rows:
        print(f"| {row['workload']} | " + " | ".join(f"{row[label]:,.0f}" for label in labels) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
