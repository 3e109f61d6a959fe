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
import sys

import bench_workloads as bench  # benchmarks/bench_workloads.py


class _Null(io.TextIOBase):
    def write(self, text: str) -> int:
        return len(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    bench.add_arguments(parser)
    args = parser.parse_args()

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
    from opentelemetry.trace import NoOpTracerProvider

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
    rows = []
    for name in bench.WORKLOADS:
        machine, value = bench.load(name, args.shared)
        row = {"workload": name}
        for label, options in setups.items():
            row[label] = bench.best_rate(lambda: bench.timed_run(machine, value, **options()), args.runs)
        rows.append(row)
    sdk.shutdown()
    bench.print_table(rows, list(setups))
    return 0


if __name__ == "__main__":
    sys.exit(main())
