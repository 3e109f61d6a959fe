#!/usr/bin/env python3
"""Validation speed: `asl validate` on a 20-state file (whole process, interpreter start
included) and in-process validation of a 1,000-state definition; also `asl --help`.

    python benchmarks/validate_bench.py [--runs 7]

Prints medians. Targets (issue 2): 20-state file < 0.3 s wall; 1,000 states < 1 s.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def chain(n: int) -> dict:
    """A realistic chain: Tasks with Retry/Catch, Choices, Passes with Parameters."""
    states: dict = {}
    for i in range(n):
        name, nxt = f"S{i}", f"S{i + 1}"
        kind = i % 4
        if kind == 0:
            states[name] = {"Type": "Task", "Resource": f"arn:aws:lambda:us-east-1:123456789012:function:f{i}",
                            "Parameters": {"id.$": "$.id", "n": i}, "ResultPath": f"$.r{i}",
                            "Retry": [{"ErrorEquals": ["States.TaskFailed"], "MaxAttempts": 3}],
                            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Failed"}]}
        elif kind == 1:
            states[name] = {"Type": "Pass", "Parameters": {"v.$": "States.Format('x{}', $.id)"},
                            "ResultPath": f"$.p{i}"}
        elif kind == 2:
            states[name] = {"Type": "Choice", "Choices": [{"Variable": "$.id", "IsPresent": True, "Next": nxt}],
                            "Default": "Failed"}
            continue
        else:
            states[name] = {"Type": "Wait", "Seconds": 1}
        states[name]["Next" if i < n - 1 else "End"] = nxt if i < n - 1 else True
    last = states[f"S{n - 1}"]
    if last["Type"] == "Choice":
        last["Choices"][0]["Next"] = "Done"
        states["Done"] = {"Type": "Succeed"}
    states["Failed"] = {"Type": "Fail", "Error": "Failed"}
    return {"StartAt": "S0", "States": states}


def median_wall(cmd: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    asl_cmd = [sys.executable, "-m", "asl.cli.main"]
    with tempfile.TemporaryDirectory() as tmp:
        small = os.path.join(tmp, "twenty.json")
        with open(small, "w") as fh:
            json.dump(chain(20), fh)
        help_s = median_wall(asl_cmd + ["--help"], args.runs)
        small_s = median_wall(asl_cmd + ["validate", small], args.runs)
    import asl

    big = chain(1000)
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        result = asl.validate(big)
        times.append(time.perf_counter() - start)
        assert result.ok, result.diagnostics[:3]
    print(f"asl --help                      {help_s:.3f} s wall (median of {args.runs})")
    print(f"asl validate, 20 states         {small_s:.3f} s wall, interpreter start included")
    print(f"asl.validate, {len(big['States'])} states       {statistics.median(times):.3f} s in process")


if __name__ == "__main__":
    main()
