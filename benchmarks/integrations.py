#!/usr/bin/env python3
"""Per-call overhead of the integration layer over a raw boto3 call, against moto's server.

    python benchmarks/integrations.py [--calls 300]

Starts moto's server on a free loopback port (needs the test extra), then times the same
DynamoDB getItem three ways: boto3 directly; `Integrations.call` (request and result shapes,
metadata, error conversion); and the call as a Task makes it (`Integrations.find`: a worker
thread, awaited on the event loop). Goal (issue 14): under 10% or 200 µs, whichever is larger.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    from support.moto import MotoServer

    server = MotoServer().start()
    try:
        return measure(server.url, args.calls)
    finally:
        server.stop()


def measure(url: str, calls: int) -> int:
    import anyio
    import boto3

    from asl.engine.clock import Clock
    from asl.engine.integrations import Integrations
    from asl.resources import parse_resource

    raw = boto3.client("dynamodb", endpoint_url=url, region_name="us-east-1")
    raw.create_table(TableName="Bench", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    raw.put_item(TableName="Bench", Item={"id": {"S": "1"}, "v": {"N": "5"}})
    layer = Integrations.of({"endpoints": {"*": url}, "region": "us-east-1"})
    info = parse_resource("arn:aws:states:::dynamodb:getItem")
    params = {"TableName": "Bench", "Key": {"id": {"S": "1"}}}

    async def interleaved() -> dict[str, list[float]]:
        # the three in turn, so that the load of a shared machine falls on each alike
        clock = Clock()
        ways = {"boto3": lambda: raw.get_item(**params), "Integrations.call": lambda: layer.call(info, params)}
        out: dict[str, list[float]] = {name: [] for name in [*ways, "as a Task (thread)"]}
        for index in range(calls + 1):  # the first round warms the clients and models
            for name, fn in ways.items():
                start = time.perf_counter()
                fn()
                out[name].append(time.perf_counter() - start)
            start = time.perf_counter()
            await layer.find(info, params, clock)()
            out["as a Task (thread)"].append(time.perf_counter() - start)
        return {name: samples[1:] for name, samples in out.items()}

    results = anyio.run(interleaved)
    base = statistics.median(results["boto3"])
    # the fastest quarter's mean as well: on a shared machine it is the least disturbed by other load
    def fast(samples: list[float]) -> float:
        return statistics.mean(sorted(samples)[: max(1, len(samples) // 4)])

    fast_base = fast(results["boto3"])
    print(f"{'':20} {'median':>10} {'overhead':>18} {'fastest 25%':>12} {'overhead':>18}")
    for name, samples in results.items():
        median, quick = statistics.median(samples), fast(samples)
        print(f"{name:20} {median * 1e6:8.0f}µs {(median - base) * 1e6:+8.0f}µs ({(median / base - 1) * 100:+5.1f}%) "
              f"{quick * 1e6:10.0f}µs {(quick - fast_base) * 1e6:+8.0f}µs ({(quick / fast_base - 1) * 100:+5.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
