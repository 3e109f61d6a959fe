#!/usr/bin/env python3
"""Workflow tests under virtual time: 100 executions of samples/shipping, each with a one-hour
Wait, a one-hour retry of Ship and a ten-minute retry of every Reserve (2 h 10 min of Waits and
retry delays per execution, about 217 hours in all).

    python benchmarks/testing_bench.py [--runs 5]

Prints the medians of (1) the 100 executions run in one process through
`asl.engine.testing.Workflow`, and (2) a whole pytest session of 100 tests using the plugin's
`asl_workflow` fixture, interpreter start and collection included.
"""
from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SHIPPING = os.path.join(ROOT, "samples", "shipping", "shipping.json")
EXECUTIONS = 100

# Shared by both measurements: the mocks (each Reserve and Ship fails once, then succeeds)
# and the input of execution i.
SUPPORT = """
from asl.engine.testing import by_attempt, raises

MOCKS = {
    "Reserve": by_attempt(raises("Warehouse.Busy"), {"reserved": True}),
    "Ship": by_attempt(raises("Courier.Unavailable"), {"tracking": "T"}),
    "Email": {"sent": True}, "Sms": {"sent": True},
}


def order(i):
    return {"orderId": f"o-{i}", "customer": "c@example.com", "express": False,
            "items": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 2}]}
"""

TEST_FILE = SUPPORT + """

import pytest


@pytest.mark.parametrize("i", range(%d))
def test_shipping(asl_workflow, i):
    run = asl_workflow(%r).run(order(i), mocks=MOCKS)
    run.assert_succeeded()
    assert run.duration == 7800  # 10 min + 1 h + 1 h of virtual time
""" % (EXECUTIONS, SHIPPING)


def in_process() -> tuple[float, float]:
    """(wall seconds, virtual seconds) for 100 executions in this process."""
    from asl.engine.testing import Workflow

    support: dict = {}
    exec(SUPPORT, support)
    workflow = Workflow(SHIPPING)
    started = time.perf_counter()
    virtual = 0.0
    for i in range(EXECUTIONS):
        run = workflow.run(support["order"](i), mocks=support["MOCKS"])
        run.assert_succeeded()
        virtual += run.duration
    return time.perf_counter() - started, virtual


def pytest_session(directory: str) -> tuple[float, float]:
    """(wall seconds of `python -m pytest` on 100 tests, the seconds pytest reports for them)."""
    path = os.path.join(directory, "test_hundred.py")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(TEST_FILE)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", path],
                          cwd=directory, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"the pytest session failed:\n{done.stdout}\n{done.stderr}")
    reported = re.search(r"passed in ([0-9.]+)s", done.stdout)
    return elapsed, float(reported.group(1)) if reported else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    walls, sessions, reported = [], [], []
    virtual = 0.0
    with tempfile.TemporaryDirectory() as directory:
        for _ in range(args.runs):
            wall, virtual = in_process()
            walls.append(wall)
            session, tests = pytest_session(directory)
            sessions.append(session)
            reported.append(tests)
    wall = statistics.median(walls)
    print(f"{EXECUTIONS} executions, {virtual / 3600:.0f} hours of Waits and retry delays (virtual)")
    print(f"  in process (Workflow.run):  {wall:.2f} s wall ({wall / EXECUTIONS * 1000:.1f} ms per execution)")
    print(f"  pytest session of 100 tests: {statistics.median(reported):.2f} s as pytest reports it, "
          f"{statistics.median(sessions):.2f} s wall with interpreter start, plugins and collection")


if __name__ == "__main__":
    main()
