#!/usr/bin/env python3
"""`asl serve` beside moto's server, both measured by ../shared/bench/bench_service.py.

    pip install -e ".[service,bench]"                # in the clone; moto[server] for the peer
    python benchmarks/service.py [--n 200] [--concurrency 1,8,64] [--store sqlite|memory]
                                 [--peers asl,moto[,null]] [--json FILE]

Starts each server as a real process on a free 127.0.0.1 port (moto with Step Functions'
``execute_state_machine`` switched on through its ``/moto-api/config`` endpoint, which the
harness's ``--moto-execute`` posts), then runs the harness once per workload, concurrency and peer,
alternating peers so that both see the same machine load. Prints one table: executions/s and
p50/p99 (StartExecution -> terminal status seen by DescribeExecution polling) per workload and
concurrency, StartSyncExecution latency, GetExecutionHistory events/s, the server's RSS and
the time from ``asl serve`` to its first answered request. The peer ``null``
(`benchmarks/null_sfn.py`) answers from memory without running anything: the ceiling of the
client, its HTTP stack and this machine.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
WORKLOADS = ("pass-chain", "choice-loop", "map-inline", "parallel")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def answered(port: int) -> bool:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/", data=b"{}", headers={
        "X-Amz-Target": "AWSStepFunctions.ListStateMachines", "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/states/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    try:
        with urllib.request.urlopen(request, timeout=2) as resp:
            return resp.status == 200
    except Exception:
        return False


def start(peer: str, store: str, folder: str, harness_path: str) -> tuple[subprocess.Popen, int, float]:
    """Start a server; return it, its port and the seconds until it answered ListStateMachines."""
    port = free_port()
    if peer == "asl":
        spec = "memory" if store == "memory" else f"sqlite:{os.path.join(folder, 'bench.db')}"
        argv = [sys.executable, "-m", "asl.cli.main", "serve", "--port", str(port), "--store", spec]
    elif peer == "null":
        argv = [sys.executable, os.path.join(HERE, "null_sfn.py"), "--port", str(port), "--harness", harness_path]
    else:
        argv = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    began = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=folder)
    while not answered(port):
        if proc.poll() is not None:
            raise SystemExit(f"{peer} server exited with {proc.returncode}: {' '.join(argv)}")
        if time.perf_counter() - began > 60:
            proc.kill()
            raise SystemExit(f"{peer} server did not answer within 60 s")
        time.sleep(0.005)
    return proc, port, time.perf_counter() - began


def harness(path: str, peer: str, port: int, pid: int, args: argparse.Namespace, workloads: str, phases: str,
            out: str, concurrency: str) -> dict:
    argv = [sys.executable, path, "--endpoint", f"http://127.0.0.1:{port}", "--label", peer, "--pid", str(pid),
            "--n", str(args.n), "--concurrency", concurrency, "--workloads", workloads, "--phases", phases,
            "--cell-seconds", str(args.cell_seconds), "--no-lambda", "--json", out]
    if peer == "moto":
        argv.append("--moto-execute")
    subprocess.run(argv, check=False, stdout=sys.stdout if args.verbose else subprocess.DEVNULL)
    try:
        with open(out) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def fmt_ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--harness", default=os.path.join(os.environ.get("ASL_SHARED") or os.path.join(
        HERE, "..", "..", "shared"), "bench", "bench_service.py"), help="bench_service.py (default: "
        "$ASL_SHARED/bench/, else ../shared/bench/ beside the project)")
    parser.add_argument("--peers", default="asl,moto")
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--n", type=int, default=200, help="executions per cell (default 200)")
    parser.add_argument("--concurrency", default="1,8,64")
    parser.add_argument("--cell-seconds", type=float, default=60.0)
    parser.add_argument("--store", choices=("sqlite", "memory"), default="sqlite",
                        help="asl serve's store (default: sqlite, the default of asl serve)")
    parser.add_argument("--json", help="write every figure as JSON")
    parser.add_argument("--verbose", action="store_true", help="show the harness's own output")
    args = parser.parse_args()
    peers = [p for p in args.peers.split(",") if p]
    if not os.path.exists(args.harness):
        parser.error(f"no harness at {args.harness} (--harness PATH)")
    folder = tempfile.mkdtemp(prefix="asl-svc-bench-")
    servers: dict[str, tuple[subprocess.Popen, int]] = {}
    results: dict[str, dict] = {p: {"cells": [], "startup_s": None} for p in peers}
    load_before = os.getloadavg()
    try:
        for peer in peers:
            proc, port, took = start(peer, args.store, folder, args.harness)
            servers[peer] = (proc, port)
            results[peer]["startup_s"] = round(took, 3)
        # one cell (workload x concurrency) at a time, peers alternating who goes first: the
        # machine's load (shared with other jobs) changes by the minute, the ratios less so
        steps = [(w, "throughput", c) for w in args.workloads.split(",") if w
                 for c in args.concurrency.split(",") if c] + [("map-inline", "history", "1")]
        for i, (workload, phase, concurrency) in enumerate(steps):
            order = peers if i % 2 == 0 else peers[::-1]     # alternate who goes first
            for peer in order:
                if peer == "null" and phase == "history":  # (it keeps no history)
                    continue
                proc, port = servers[peer]
                print(f"{peer}: {workload} {phase} c{concurrency}", file=sys.stderr, flush=True)
                got = harness(args.harness, peer, port, proc.pid, args, workload, phase,
                              os.path.join(folder, f"{peer}-{workload}-{phase}-{concurrency}.json"), concurrency)
                results[peer]["cells"] += got.get("throughput", [])
                if phase == "history":
                    results[peer]["history"] = got.get("history")
                results[peer]["server_after"] = got.get("server_after")
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(folder, ignore_errors=True)
    report = {"date": time.strftime("%Y-%m-%d"), "load_before": load_before, "load_after": os.getloadavg(),
              "settings": vars(args), "peers": results}
    print(table(report, peers))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


def table(report: dict, peers: list[str]) -> str:
    res = report["peers"]
    base = peers[0]
    # with the null endpoint and moto: how far any server can be ahead of moto, measured by this client
    ceiling = "null" in peers and "moto" in peers and base != "null"
    lines = [f"load average before/after: {report['load_before'][0]:.2f} / {report['load_after'][0]:.2f}", "",
             "| workload | mode | conc | " + " | ".join(f"{p} exec/s | {p} p50 / p99 ms" for p in peers)
             + (f" | {base} vs {peers[1]}" if len(peers) > 1 else "")
             + (" | null vs moto (the ceiling)" if ceiling else "") + " |",
             "|---" * (3 + 2 * len(peers) + (len(peers) > 1) + ceiling) + "|"]
    keys = []
    for cell in res[base]["cells"]:
        key = (cell["workload"], cell["mode"], cell["concurrency"])
        if key not in keys:
            keys.append(key)
    order = {w: i for i, w in enumerate(WORKLOADS)}
    keys.sort(key=lambda k: (order.get(k[0], len(order)), k[1] != "start+poll", k[2]))
    for key in keys:
        row = [key[0], key[1], str(key[2])]
        rates = []
        for p in peers:
            cell = next((c for c in res[p]["cells"] if (c["workload"], c["mode"], c["concurrency"]) == key), None)
            if cell is None:
                row += ["-", "-"]
                rates.append(None)
                continue
            bad = f" ({cell['bad']} bad)" if cell["bad"] else ""
            row += [f"{cell['exec_per_s']:,.1f}{bad}", f"{fmt_ms(cell['p50_s'])} / {fmt_ms(cell['p99_s'])}"]
            rates.append(cell["exec_per_s"] if cell["ok"] else None)
        if len(peers) > 1:
            row.append(f"{rates[0] / rates[1]:,.0f}×" if rates[0] and rates[1] else "-")
        if ceiling:
            null, moto = rates[peers.index("null")], rates[peers.index("moto")]
            row.append(f"{null / moto:,.0f}×" if null and moto else "-")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    for p in peers:
        h = res[p].get("history") or {}
        after = res[p].get("server_after") or {}
        rss = f"{after['VmRSS'] / 1024:.0f} MiB (peak {after['VmHWM'] / 1024:.0f} MiB)" if "VmRSS" in after else "-"
        cells = [c for c in res[p]["cells"] if c.get("server_cpu_s") is not None and c["finished"]]
        cpu = (f"; CPU ms per execution, client / server: " + ", ".join(
            f"{c['workload']} {c['mode']} c{c['concurrency']} {c['client_cpu_s'] / c['finished'] * 1000:.1f} / "
            f"{c['server_cpu_s'] / c['finished'] * 1000:.1f}" for c in cells)) if cells else ""
        lines.append(f"{p}: start-up to first answer {res[p]['startup_s']} s; GetExecutionHistory "
                     f"{h.get('events_per_s', '-')} events/s ({h.get('events', '-')} events); server RSS {rss}{cpu}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
