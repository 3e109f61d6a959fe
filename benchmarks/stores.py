#!/usr/bin/env python3
"""Transitions per second of the six ../shared/bench workloads with each execution store.

    python benchmarks/stores.py [--runs 3] [--shared ../shared] [--no-postgres]

Columns: no store (the default of ``asl run``: the history in memory only), the in-memory store,
SQLite (a file in a temporary folder; WAL, synchronous=FULL, group commits) and PostgreSQL (a
throwaway server started for the run, as the tests start one). Each figure is the best of
`--runs` runs of the whole execution, journal writes and the final flush included; the stores
take turns run by run, so that a change in the machine's load reaches every column alike.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile

import bench_workloads as bench  # benchmarks/bench_workloads.py

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    bench.add_arguments(parser)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    from asl.engine.stores import open_store

    server = None
    stores: dict[str, object] = {"no store": None, "memory": "memory"}
    tmp = tempfile.mkdtemp(prefix="asl-bench-")
    stores["sqlite"] = f"sqlite:{os.path.join(tmp, 'runs.db')}"
    if not args.no_postgres:
        sys.path.insert(0, os.path.join(HERE, "..", "tests"))
        try:
            from support.postgres import PostgresServer

            server = PostgresServer().start()
            stores["postgresql"] = server.url()
        except Exception as exc:  # no PostgreSQL here: say so, measure the rest
            print(f"stores.py: PostgreSQL not measured: {exc}", file=sys.stderr)

    rows = []
    try:
        for name in bench.WORKLOADS:
            machine, value = bench.load(name, args.shared)
            runs: dict[str, list] = {label: [] for label in stores}
            for _ in range(args.runs):  # the stores take turns: each sees the machine's load of the moment
                for label, url in stores.items():
                    async def once(url: str | None = url) -> tuple[float, int]:
                        store = open_store(url) if url else None
                        if store is not None:
                            await store.open()
                        try:  # the execution timed with its journal writes and final flush, not the store's opening
                            return await bench.timed_run(machine, value, store=store)
                        finally:
                            if store is not None:
                                await store.close()
                    runs[label].append(bench.best_rate(once, 1))
            rows.append({"workload": name, **{label: max(rates) for label, rates in runs.items()}})
    finally:
        if server is not None:
            server.stop()
    labels = list(stores)
    bench.print_table(rows, labels, [f"{label} (transitions/s)" for label in labels],
                      ("sqlite / memory", lambda row: f"{row['sqlite'] / row['memory']:.2f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
