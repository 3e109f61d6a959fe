"""Python stand-ins for the batch import: a Lambda that checks a record, and DynamoDB.

    asl run samples/batch/batch.json --input samples/batch/input.json --handlers samples/batch/handlers.py
"""
from asl.engine import Handlers, TaskFailed

handlers = Handlers()

TABLE: dict[str, dict] = {}  # the "customers" table, as DynamoDB items


@handlers.lambda_function("CheckRecord")
def check_record(record):
    """A record needs an id and an email address; the record goes on unchanged."""
    if not record.get("id") or "@" not in (record.get("email") or ""):
        raise TaskFailed("Record.Invalid", f"record {record.get('id') or '?'} has no valid email address")
    return record


@handlers.resource("arn:aws:states:::dynamodb:putItem")
def put_item(request, ctx):
    """DynamoDB PutItem. Records whose id ends in 7 are throttled on the first try, as a busy
    table would: the StoreRecord Retry takes them through."""
    item = request["Item"]
    if item["id"]["S"].endswith("7") and ctx.attempt == 1:
        raise TaskFailed("DynamoDB.ProvisionedThroughputExceededException", "Rate of requests exceeds the allowed "
                                                                            "throughput.")
    TABLE[item["id"]["S"]] = item
    return {}
