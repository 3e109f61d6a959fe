#!/usr/bin/env python3
"""One command for the whole benchmark: the six workloads side by side with the peers (when
installed by ../shared/bench/setup_peers.sh), then the growth series.

    python benchmarks/compare.py [--runs 5] [--no-growth] [--shared ../shared]
                                 [--quiet-wait S] [--retry-contended N]

The workload table comes from ../shared/bench/run_bench.py (this engine is the peer "asl",
run through benchmarks/runner.py); ratios are against aws-local-stepfunctions ("node") when it
is installed.
"""
from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--shared", default=os.path.join(HERE, "..", "..", "shared"))
    parser.add_argument("--no-growth", action="store_true")
    parser.add_argument("--json", help="write every run to this file")
    parser.add_argument("--quiet-wait", type=float, metavar="S",
                        help="run_bench.py's: wait up to S seconds for an idle machine before each run")
    parser.add_argument("--retry-contended", type=int, metavar="N",
                        help="run_bench.py's: redo a run up to N times when other processes used the CPUs")
    args = parser.parse_args()
    bench = os.path.join(os.path.abspath(args.shared), "bench", "run_bench.py")
    if not os.path.exists(bench):
        print(f"compare.py: {bench} not found (use --shared)", file=sys.stderr)
        return 2
    peers = ["asl"]
    if os.path.exists(os.path.join(os.environ.get("PEERS_NODE_DIR", "/tmp/peers/node"), "node_modules")):
        peers.append("node")
    if os.path.exists(os.path.join(os.environ.get("PEERS_VENV", "/tmp/peers/venv"), "bin", "python")):
        peers.append("moto")
    runner = f"{shlex.quote(sys.executable)} {shlex.quote(os.path.join(HERE, 'runner.py'))} {{def}} {{input}}"
    cmd = [sys.executable, bench, "--runs", str(args.runs), "--peer", f"asl={runner}", "--peers", ",".join(peers)]
    if "node" in peers:
        cmd += ["--baseline", "node"]
    if args.json:
        cmd += ["--json", args.json]
    if args.quiet_wait:
        cmd += ["--quiet-wait", str(args.quiet_wait)]
    if args.retry_contended:
        cmd += ["--retry-contended", str(args.retry_contended)]
    print("$", " ".join(shlex.quote(c) for c in cmd), flush=True)
    status = subprocess.call(cmd)
    if not args.no_growth:
        print("\n## Growth (in process, history on)\n", flush=True)
        status |= subprocess.call([sys.executable, os.path.join(HERE, "growth.py")])
    return status


if __name__ == "__main__":
    sys.exit(main())
