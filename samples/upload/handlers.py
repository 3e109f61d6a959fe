"""Python stand-ins for the upload workflow's services: S3 (a local folder to read, a dict
to write), the Lambda function that summarises a CSV, and DynamoDB (a dict).

    asl run samples/upload/upload.json --input samples/upload/input.json --handlers samples/upload/handlers.py

aws-sdk integrations are handled by their Resource ARN and receive the API's parameters;
they answer with the API's response shape (GetObject's ``Body`` and ``ETag``), and fail
with the error names Step Functions gives SDK errors (``S3.NoSuchKeyException``).
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

from asl.engine import Handlers, TaskFailed

handlers = Handlers()

LOCAL_S3 = Path(__file__).resolve().parent / "s3"  # s3/<bucket>/<key>: what GetObject reads
WRITTEN: dict[tuple[str, str], str] = {}             # (bucket, key) -> body: what PutObject wrote
TABLES: dict[str, list[dict]] = {}                   # DynamoDB table -> items


def _etag(body: str) -> str:
    return '"' + hashlib.md5(body.encode()).hexdigest() + '"'


@handlers.resource("arn:aws:states:::aws-sdk:s3:getObject")
def get_object(params):
    path = LOCAL_S3 / params["Bucket"] / params["Key"]
    if not path.is_file():
        raise TaskFailed("S3.NoSuchKeyException", f"The specified key does not exist. (Service: S3, Status Code: "
                                                  f"404) Key: {params['Key']}")
    body = path.read_text(encoding="utf-8")
    return {"Body": body, "ContentLength": len(body.encode()), "ContentType": "text/csv", "ETag": _etag(body)}


@handlers.resource("arn:aws:states:::aws-sdk:s3:putObject")
def put_object(params):
    body = params["Body"] if isinstance(params["Body"], str) else json.dumps(params["Body"])
    WRITTEN[(params["Bucket"], params["Key"])] = body
    return {"ETag": _etag(body)}


@handlers.lambda_function("SummariseSales")
def summarise_sales(event):
    """Rows, total and the SKUs of a sales CSV (sku,quantity,price)."""
    rows = list(csv.DictReader(io.StringIO(event["csv"])))
    try:
        total = sum(int(row["quantity"]) * float(row["price"]) for row in rows)
    except (KeyError, TypeError, ValueError) as exc:
        raise TaskFailed("Sales.BadRow", f"{event['source']}: {exc}") from None
    return {"source": event["source"], "rows": len(rows), "total": round(total, 2),
            "skus": sorted(row["sku"] for row in rows)}


@handlers.resource("arn:aws:states:::dynamodb:putItem")
def put_item(params):
    TABLES.setdefault(params["TableName"], []).append(params["Item"])
    return {}
