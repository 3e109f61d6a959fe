#!/usr/bin/env python3
"""Transitions per second of the six ../shared/bench workloads with each execution store.

    python benchmarks/stores.py [--runs 3] [--shared ../shared] [--no-postgres]

Columns: no store (the default of ``asl run``: the history in memory only), the in-memory store,
SQLite (a file in a temporary folder; WAL, synchronous=FULL, group commits) and PostgreSQL (a
throwaway server started for the run, as the tests start one). Each figure is the best of
`--runs` runs of the whole execution, journal writes and the final flush included.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = ("pass-chain", "choice-loop", "map-inline", "parallel-fan", "intrinsics", "payload")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--shared", default=os.path.join(HERE, "..", "..", "shared"))
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()

    import anyio

    import asl
    from asl.engine import run
    from asl.engine.stores import open_store

    folder = os.path.join(os.path.abspath(args.shared), "bench", "workloads")
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
        for name in WORKLOADS:
            machine = asl.load(os.path.join(folder, f"{name}.json"))
            with open(os.path.join(folder, f"{name}.input.json"), encoding="utf-8") as fh:
                value = json.load(fh)
            row = {"workload": name}
            for label, url in stores.items():
                async def once() -> tuple[float, int]:
                    store = open_store(url) if url else None
                    if store is not None:
                        await store.open()
                    try:
                        start = time.perf_counter()
                        result = await run(machine, value, store=store, payload_limit=None)
                        took = time.perf_counter() - start
                    finally:
                        if store is not None:
                            await store.close()
                    assert result.status == "SUCCEEDED", (name, label, result.error, result.cause)
                    return took, result.transitions
                best, transitions = min(anyio.run(once) for _ in range(args.runs))
                row[label] = transitions / best
            rows.append(row)
    finally:
        if server is not None:
            server.stop()
    labels = list(stores)
    print("| workload | " + " | ".join(f"{label} (transitions/s)" for label in labels) + " | sqlite / no store |")
    print("|---|" + "---|" * (len(labels) + 1))
    for row in rows:
        cells = " | ".join(f"{row[label]:,.0f}" for label in labels)
        print(f"| {row['workload']} | {cells} | {row['sqlite'] / row['no store']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
