"""Run the serverless pipeline against moto's server: real DynamoDB, SQS, SNS and EventBridge
APIs over HTTP, a payment worker polling the SQS queue, ValidateOrder as a Python handler
(moto runs Lambda code only in Docker).

    pip install -e ".[aws]" "moto[server]"      # in the clone
    python samples/serverless/on_moto.py [--url http://127.0.0.1:5000]

Without --url it starts moto's server on a free loopback port and stops it at the end. It
creates the table, queue, topic and event bus, runs the order of input.json twice (the second
run finds the order stored and ends in AlreadyReceived), and prints what each service holds.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import anyio

HERE = Path(__file__).resolve().parent
ACCOUNT, REGION = "123456789012", "us-east-1"


def start_moto() -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1).close()
            return process, url
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise SystemExit("moto's server did not start")


def create_resources(url: str) -> dict:
    import boto3

    def client(name: str) -> Any:
        return boto3.client(name, endpoint_url=url, region_name=REGION)

    client("dynamodb").create_table(TableName="Orders", KeySchema=[{"AttributeName": "orderId", "KeyType": "HASH"}],
                                    AttributeDefinitions=[{"AttributeName": "orderId", "AttributeType": "S"}],
                                    BillingMode="PAY_PER_REQUEST")
    queue = client("sqs").create_queue(QueueName="payments")["QueueUrl"]
    topic = client("sns").create_topic(Name="orders")["TopicArn"]
    # a queue subscribed to the topic and a rule on the default bus: where the notifications land
    sqs = client("sqs")
    seen = sqs.create_queue(QueueName="seen")["QueueUrl"]
    seen_arn = sqs.get_queue_attributes(QueueUrl=seen, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=seen_arn)
    events = client("events")
    events.put_rule(Name="paid", EventPattern=json.dumps({"source": ["shop.orders"]}))
    events.put_targets(Rule="paid", Targets=[{"Id": "seen", "Arn": seen_arn}])
    return {"queue": queue, "seen": seen, "client": client}


def worker_handlers(url: str, queue: str) -> tuple[Any, Any]:
    """ValidateOrder in Python, and the payment worker polling the real queue."""
    import boto3

    from asl.engine import Handlers, TaskFailed

    handlers = Handlers()

    @handlers.lambda_function("ValidateOrder")
    def validate(order: dict) -> dict:
        if not order.get("items"):
            raise TaskFailed("Order.Invalid", f"order {order['orderId']} has no items")
        return {**order, "valid": True}

    sqs = boto3.client("sqs", endpoint_url=url, region_name=REGION)

    async def worker(execution: Any) -> None:
        from asl.engine.tasks import run_in_thread

        while True:
            got = await run_in_thread(lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1,
                                                                  MaxNumberOfMessages=1))
            for message in got.get("Messages", []):
                body = json.loads(message["Body"])
                execution.send_task_success(body["token"], {"paid": True, "paymentId": f"pay-{body['orderId']}",
                                                            "amount": body["total"]})
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    return handlers, worker


async def run_once(url: str, queue: str, order: dict) -> Any:
    import asl
    from asl.engine import prepare

    handlers, worker = worker_handlers(url, queue)
    execution = prepare(asl.load(HERE / "pipeline.json"), order, handlers=handlers,
                        aws={"endpoints": {"*": url}, "region": REGION}, virtual_time=False)
    async with anyio.create_task_group() as tg:
        tg.start_soon(worker, execution)
        result = await execution.run()
        tg.cancel_scope.cancel()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a moto server (or LocalStack) already running")
    args = parser.parse_args(argv)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
    process, url = (None, args.url) if args.url else start_moto()
    try:
        made = create_resources(url)
        order = json.loads((HERE / "input.json").read_text())
        for attempt in ("first", "again"):
            result = anyio.run(run_once, url, made["queue"], order)
            entered = [e["stateEnteredEventDetails"]["name"] for e in result.history.events
                       if e["type"].endswith("StateEntered")]
            print(f"{attempt}: {result.status} via {' > '.join(entered)}")
            print("  output:", json.dumps(result.output))
        item = made["client"]("dynamodb").get_item(TableName="Orders", Key={"orderId": {"S": order["orderId"]}})
        print("DynamoDB item:", json.dumps(item["Item"], sort_keys=True))
        seen = made["client"]("sqs").receive_message(QueueUrl=made["seen"], MaxNumberOfMessages=10)
        print("notifications delivered:", len(seen.get("Messages", [])))
        return 0
    finally:
        if process is not None:
            process.terminate()
            process.wait(10)


if __name__ == "__main__":
    sys.exit(main())
