#!/usr/bin/env python3
"""A Step Functions endpoint that does no work: the ceiling of a boto3 client's harness.

    python benchmarks/null_sfn.py --port 8090 [--harness ../shared/bench/bench_service.py]

Served by the same stack as `asl serve` (uvicorn with httptools, TCP_NODELAY, answers in one
write, no access log),
it answers the calls bench_service.py makes from memory: CreateStateMachine and
DeleteStateMachine keep a name, StartExecution answers with an ARN, DescribeExecution and
StartSyncExecution say SUCCEEDED with the output the harness expects for the workload named in
the state machine's name (taken from the harness's own workload builders). Nothing runs and
nothing is written, so a throughput cell against it measures what the client and HTTP cost
alone: no server of the API can be faster when measured by the same client on the same machine.
`benchmarks/service.py --peers asl,moto,null` runs it beside the others.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
ACCOUNT, REGION = "123456789012", "us-east-1"


def expected_outputs(harness: str | None) -> dict[str, str]:
    """workload name -> its expected output as JSON text (none without the harness)."""
    if not harness or not os.path.exists(harness):
        return {}
    spec = importlib.util.spec_from_file_location("bench_service", harness)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name: json.dumps(build()[2], separators=(",", ":")) for name, build in module.WORKLOAD_BUILDERS.items()}


class NullService:
    def __init__(self, outputs: dict[str, str]):
        self.outputs = outputs
        self.machines: dict[str, str] = {}     # machine ARN -> output for its executions
        self.executions: dict[str, tuple[str, str, float]] = {}  # ARN -> (machine ARN, output, start)

    def output_for(self, name: str) -> str | None:
        return next((out for workload, out in self.outputs.items() if f"-{workload}-" in name), None)

    def answer(self, action: str, body: dict) -> tuple[int, dict]:
        if action == "ListStateMachines":
            return 200, {"stateMachines": []}
        if action == "CreateStateMachine":
            arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{body['name']}"
            self.machines[arn] = self.output_for(body["name"])
            return 200, {"stateMachineArn": arn, "creationDate": time.time()}
        if action == "DeleteStateMachine":
            self.machines.pop(body.get("stateMachineArn"), None)
            return 200, {}
        machine = body.get("stateMachineArn", "")
        if action in ("StartExecution", "StartSyncExecution"):
            name = body.get("name") or str(uuid.uuid4())
            arn = f"{machine.replace(':stateMachine:', ':execution:')}:{name}"
            output = self.machines.get(machine) or body.get("input") or "{}"
            now = time.time()
            if action == "StartExecution":
                self.executions[arn] = (machine, output, now)
                return 200, {"executionArn": arn, "startDate": now}
            return 200, {"executionArn": arn, "stateMachineArn": machine, "name": name, "startDate": now,
                         "stopDate": now, "status": "SUCCEEDED", "input": body.get("input") or "{}",
                         "output": output, "billingDetails": {"billedMemoryUsedInMB": 64,
                                                              "billedDurationInMilliseconds": 100}}
        if action == "DescribeExecution":
            arn = body.get("executionArn", "")
            if arn not in self.executions:
                return 400, {"__type": "ExecutionDoesNotExist", "message": f"Execution Does Not Exist: '{arn}'"}
            machine, output, start = self.executions.pop(arn)  # asked once: the first answer is terminal
            return 200, {"executionArn": arn, "stateMachineArn": machine, "name": arn.rsplit(":", 1)[1],
                         "status": "SUCCEEDED", "startDate": start, "stopDate": start, "input": "{}",
                         "output": output}
        return 400, {"__type": "UnknownOperationException", "message": f"{action} is not served here"}


def app(service: NullService):
    async def asgi(scope, receive, send):
        if scope["type"] != "http":
            return
        target = dict(scope["headers"]).get(b"x-amz-target", b"").decode()
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        status, answer = service.answer(target.rpartition(".")[2], json.loads(raw) if raw.strip() else {})
        payload = json.dumps(answer).encode()
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/x-amz-json-1.0"), (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})
    return asgi


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--harness", default=os.path.join(os.environ.get("ASL_SHARED") or
                                                          os.path.join(HERE, "..", "..", "shared"),
                                                          "bench", "bench_service.py"))
    args = parser.parse_args()
    from asl.cli.serve import _one_write_protocol, bound_socket

    listening = bound_socket("127.0.0.1", args.port)

    config = uvicorn.Config(app(NullService(expected_outputs(args.harness))), lifespan="off", log_level="warning",
                            access_log=False, loop="asyncio", http=_one_write_protocol())
    uvicorn.Server(config).run(sockets=[listening])


if __name__ == "__main__":
    main()
