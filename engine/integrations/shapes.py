"""Parameters into boto3's request shape, and boto3's response back into JSON
(INTEGRATIONS-SPEC.md section 2).

Requests: each key is matched to the operation's input member case-insensitively (so
``StateMachineArn`` finds sfn's ``stateMachineArn``), recursing through structures, lists
and maps; a JSON value given for a string member is sent as its compact JSON text (SQS
``MessageBody``, SNS ``Message``, EventBridge ``Detail``), and for a blob as those bytes
(Lambda ``Payload``). A value that cannot be sent raises `Unusable` with AWS's complaint
("The value of the field 'X' has an invalid format"), before any call.

Responses: ``ResponseMetadata`` dropped, streams read as UTF-8 text (recorded: S3 getObject's
``Body``; base64 when not UTF-8), other blobs as UTF-8 text too in aws-sdk results, base64 in the
optimized integrations, timestamps per `timestamps` (aws-sdk: ISO-8601 text as the Java SDK v2
prints an Instant; optimized integrations: epoch milliseconds, as the Java SDK v1's Date).
aws-sdk results have every structure member PascalCased (``executionArn`` -> ``ExecutionArn``).
"""
from __future__ import annotations

import base64
import datetime
import json
from typing import Any

from ...sdkmodel import jackson_boolean


class Unusable(Exception):
    """Raised by `to_request` for parameters the service cannot take; the Task fails with
    States.Runtime ("The Parameters '...' could not be used to start the Task: [...]")."""


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# Optimized integrations read Parameters into the Java SDK v1's request classes, whose JSON
# reader builds a class from a JSON string through its public one-String constructor. Among the
# optimized services' inputs only DynamoDB's AttributeValue has one, AttributeValue(String s),
# which sets S: recorded on AWS in aws-samples/serverless-patterns sfn-dynamodb/README.md, a
# putItem of {"id.$": "$.id"} with {"id": "123456"} SUCCEEDED and getItem answered
# {"id": {"S": "123456"}}. (The aws-sdk integrations use the SDK v2, without such constructors.)
_V1_STRING_CONSTRUCTORS = {"AttributeValue": "S"}


def to_request(shape: Any, value: Any, name: str = "Parameters", *, aws_sdk: bool = False,
               sdk_v1: bool = False) -> Any:
    """`value` (JSON) in the form boto3 takes for `shape` (a botocore Shape). With `aws_sdk`
    (aws-sdk tasks) a string for a blob that is not a stream is its UTF-8 bytes, not base64
    decoded (recorded on AWS: radkawar/stackd task_integrations.json, sqs-sdk-cycle: a
    MessageAttributes BinaryValue "AP9BQgo=" reached the queue as the 8 bytes of that text,
    Md5OfMessageAttributes 1ee832de..., which the CLI read back as "QVA5QlFnbz0="); a stream (S3
    putObject's Body) takes the value's JSON text, null's too (s3-null-body stored "null"). With `sdk_v1` (optimized integrations) a string for a structure that the
    Java SDK v1 builds from a string (`_V1_STRING_CONSTRUCTORS`) is that structure."""
    if shape is None:
        return value
    kind = shape.type_name
    if kind == "structure":
        if sdk_v1 and isinstance(value, str) and shape.name in _V1_STRING_CONSTRUCTORS:
            return {_V1_STRING_CONSTRUCTORS[shape.name]: value}
        if not isinstance(value, dict):
            raise Unusable(f"The value of the field '{name}' has an invalid format")
        members = shape.members
        by_key = {_fold(member): member for member in members}
        out = {}
        for key, item in value.items():
            member = by_key.get(_fold(key))
            if item is None and not (aws_sdk and member is not None and members[member].serialization.get("streaming")):
                continue  # null is an absent member, as the Java SDK sends it (the service may object)
            if member is None:  # left for botocore to report as an unknown parameter
                out[key] = item
                continue
            converted = to_request(members[member], item, key, aws_sdk=aws_sdk, sdk_v1=sdk_v1)
            if converted is not None:
                out[member] = converted
            if aws_sdk and members[member].serialization.get("streaming") and \
                    not isinstance(item, (bytes, bytearray)) and "ContentType" in members and \
                    not any(_fold(k) == "contenttype" and v is not None for k, v in value.items()):
                # the JSON text goes as the Java SDK v2's string body, typed text/plain; charset=UTF-8:
                # what S3 headObject answered for an aws-sdk:s3:putObject Body (raw AWS capture,
                # radkawar/stackd testdata/aws/stepfunctions/sdk_requests.json, default-checksum-retained)
                out["ContentType"] = "text/plain; charset=UTF-8"
        return out
    if kind == "list":
        if not isinstance(value, list):
            raise Unusable(f"The value of the field '{name}' has an invalid format")
        return [to_request(shape.member, item, name, aws_sdk=aws_sdk, sdk_v1=sdk_v1) for item in value]
    if kind == "map":
        if not isinstance(value, dict):
            raise Unusable(f"The value of the field '{name}' has an invalid format")
        return {key: to_request(shape.value, item, name, aws_sdk=aws_sdk, sdk_v1=sdk_v1)
                for key, item in value.items()}
    if kind == "string":
        return value if isinstance(value, str) else _compact(value)
    if kind == "blob":
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        if aws_sdk and shape.serialization.get("streaming"):
            # recorded on AWS (aws-sdk:s3:putObject): the Body is the value's JSON text, a string's
            # with its quotes ("text data" stores '"text data"', whose ETag AWS returned)
            return _compact(value).encode("utf-8")
        return (value if isinstance(value, str) else _compact(value)).encode("utf-8")
    if kind in ("integer", "long"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            if isinstance(value, str) and value.lstrip("-").isdigit():
                return int(value)
            raise Unusable(f"The value of the field '{name}' has an invalid format")
        return int(value)
    if kind in ("float", "double"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Unusable(f"The value of the field '{name}' has an invalid format")
        return value
    if kind == "boolean":
        if aws_sdk and not isinstance(value, bool):
            value = jackson_boolean(value)
        if value is None:  # (an empty or "null" string: an absent member)
            return None
        if not isinstance(value, bool):
            raise Unusable(f"The value of the field '{name}' has an invalid format")
        return value
    return value  # timestamps: botocore takes ISO-8601 text and epoch seconds


def _fold(name: str) -> str:
    return name.replace("_", "").lower()


#: Services that answer a request lacking a required member as the query APIs do, with
#: ``MissingParameter`` naming the first one (recorded on AWS, LocalStack
#: test_task_service_sqs::test_send_message_empty_body: SQS, "The request must contain the parameter
#: MessageBody."); the others answer as DynamoDB does (`validation_errors`).
MISSING_PARAMETER = frozenset({"SQS"})


def validation_errors(shape: Any, request: Any, service_id: str = "") -> tuple[str, str] | None:
    """The error code and message of what an AWS service's request validation says of the
    top-level members before anything else (recorded on AWS, DynamoDB: ``ValidationException``,
    "1 validation error detected: Value null at 'item' failed to satisfy constraint: Member must
    not be null"; `MISSING_PARAMETER` services: ``MissingParameter``); None when it would say nothing."""
    import re

    if shape is None or not isinstance(request, dict):
        return None
    if service_id in MISSING_PARAMETER:
        for name in shape.required_members:
            if request.get(name) is None:
                return "MissingParameter", f"The request must contain the parameter {name}."
    found = []
    for name, member in shape.members.items():
        wire = name[:1].lower() + name[1:]
        value = request.get(name)
        if value is None:
            if name in shape.required_members:
                found.append(f"Value null at '{wire}' failed to satisfy constraint: Member must not be null")
            continue
        pattern = member.metadata.get("pattern") if member.type_name == "string" else None
        if pattern and isinstance(value, str):
            try:
                ok = re.fullmatch(pattern, value) is not None
            except re.error:  # a Java-only construct: leave it to the service
                ok = True
            if not ok:
                found.append(f"Value '{value}' at '{wire}' failed to satisfy constraint: Member must satisfy "
                             f"regular expression pattern: {pattern}")
    if not found:
        return None
    return "ValidationException", f"{len(found)} validation error{'s' * (len(found) > 1)} detected: {'; '.join(found)}"


# ---- responses ------------------------------------------------------------------------------

#: Services whose Java SDK v1 model (the optimized integrations' SDK) constructs an absent list
#: member as an empty list (``com.amazonaws.internal.SdkInternalList``; aws/aws-sdk-java, ECS's
#: model.Task, where DynamoDB's and Batch's models keep a plain ``java.util.List``, null when
#: absent): an optimized integration's result shows such a member as ``[]``. Recorded on AWS:
#: radkawar/stackd testdata/aws/stepfunctions/ecs_workflows.json, request-response-two (a Task's
#: InferenceAccelerators, a Container's GpuIds, ManagedAgents, NetworkBindings, NetworkInterfaces,
#: a ContainerOverride's Command, Environment, EnvironmentFiles, ResourceRequirements, all ``[]``
#: where ECS's response had none of them).
AUTO_CONSTRUCTED_LISTS = frozenset({"ecs"})

#: Members of botocore's models that the Java SDK v1's last models lack (aws/aws-sdk-java's
#: ECS model.Container ends with gpuIds; it has no trustedExecutionSummary): an optimized
#: integration's result never shows them, as that SDK's objects drop what they do not know.
#: Recorded on AWS: radkawar/stackd ecs_workflows.json, request-response-two (no
#: NeuronDeviceIds ``[]`` beside GpuIds ``[]``).
UNKNOWN_TO_SDK_V1: dict[tuple[str, str], frozenset] = {
    ("ecs", "Container"): frozenset({"neuronDeviceIds", "gpuSharingStrategy"}),
    ("ecs", "Task"): frozenset({"trustedExecutionSummary"}),
}


def result_json(response: dict, shape: Any, *, pascal: bool = False, epoch_millis: bool = False,
                sdk_v2: bool = False, sdk_v1: str | None = None) -> dict:
    """A boto3 response without its ``ResponseMetadata``, as JSON (`to_json`)."""
    body = {key: value for key, value in response.items() if key != "ResponseMetadata"}
    return to_json(body, shape, pascal=pascal, epoch_millis=epoch_millis, sdk_v2=sdk_v2, sdk_v1=sdk_v1)


def to_json(value: Any, shape: Any = None, *, pascal: bool = False, epoch_millis: bool = False,
            sdk_v2: bool = False, sdk_v1: str | None = None) -> Any:
    """A boto3 value as JSON; `pascal` capitalises structure members (aws-sdk results, with
    `sdk_v2` named after the Java SDK v2's fields: `_v2_field`). `sdk_v1` (the boto3 name of
    the service) renders it as an optimized integration's result, the Java SDK v1's object as
    Step Functions writes it: members capitalised and in alphabetical order at every level
    (a map keeps its keys' order), times in epoch milliseconds, absent lists ``[]`` where the
    service's model constructs them (`AUTO_CONSTRUCTED_LISTS`). Recorded on AWS: radkawar/stackd
    ecs_workflows.json, request-response-two (``Failures, SdkHttpMetadata, SdkResponseMetadata,
    Tasks``; a Task's ``Attachments, Attributes, AvailabilityZone, ClusterArn, Containers, Cpu,
    CreatedAt: 1790254007676, ...``, a Container's ``ContainerArn, Cpu, GpuIds, Image, ...``)."""
    if sdk_v1 is not None:
        pascal = epoch_millis = True
    options = {"pascal": pascal, "epoch_millis": epoch_millis, "sdk_v2": sdk_v2, "sdk_v1": sdk_v1}
    if isinstance(value, dict):
        members = shape.members if shape is not None and shape.type_name == "structure" else None
        unknown = UNKNOWN_TO_SDK_V1.get((sdk_v1, shape.name), frozenset()) if members is not None else frozenset()
        out = {}
        streams = []
        for key, item in value.items():
            if key in unknown:
                continue
            if members is not None:
                member = members.get(key)
                name = _pascal(_v2_field(key) if sdk_v2 else key) if pascal else key
                out[name] = to_json(item, member, **options)
                if member is not None and member.serialization.get("streaming"):
                    streams.append(name)
            else:
                inner = shape.value if shape is not None and shape.type_name == "map" else None
                out[key] = to_json(item, inner, **options)
        if members is not None and sdk_v1 in AUTO_CONSTRUCTED_LISTS:
            for key, member in members.items():
                if member.type_name == "list" and key not in value and key not in unknown:
                    out[_pascal(key)] = []
        if members is not None and (sdk_v2 or sdk_v1 is not None):
            # a structure's members by name, a stream (S3 getObject's Body) after them, as AWS writes
            # an aws-sdk Task's result (recorded: radkawar/stackd task_integrations.json, s3-flow:
            # AcceptRanges, ContentLength, ..., ServerSideEncryption, Body; listObjectsV2's Contents
            # items, SQS receiveMessage's Messages); a map keeps the service's order
            order = sorted((name for name in out if name not in streams)) + streams
            out = {name: out[name] for name in order}
        return out
    if isinstance(value, list):
        inner = shape.member if shape is not None and shape.type_name == "list" else None
        return [to_json(item, inner, **options) for item in value]
    if isinstance(value, datetime.datetime):
        if epoch_millis:
            return int(value.timestamp() * 1000)
        text = value.astimezone(datetime.timezone.utc).isoformat().replace("+00:00", "Z")
        return text
    if isinstance(value, (bytes, bytearray)):
        # a blob: for an aws-sdk Task its text (recorded on AWS: radkawar/stackd task_integrations.json,
        # sqs-sdk-cycle: the BinaryValue bytes "AP9BQgo=" came back as "AP9BQgo="; base64 when not
        # UTF-8, unrecorded); the Java SDK v1's (optimized integrations) base64 text
        return _text(bytes(value)) if sdk_v2 else base64.b64encode(bytes(value)).decode("ascii")
    if hasattr(value, "read"):  # a streaming body (S3 GetObject's Body, Lambda's Payload): its text
        return _text(value.read())
    if isinstance(value, float) and value.is_integer() and shape is not None and shape.type_name in (
            "integer", "long"):
        return int(value)
    try:
        from decimal import Decimal
        if isinstance(value, Decimal):
            return int(value) if value == value.to_integral_value() else float(value)
    except ImportError:  # pragma: no cover
        pass
    return value


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(data).decode("ascii")


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def _v2_field(name: str) -> str:
    """The Java SDK v2's field name of model member `name`: its leading capitals lower-cased,
    but for the last of a run followed by a small letter (``MD5OfMessageBody`` ->
    ``md5OfMessageBody``, ``ETag`` -> ``eTag``, ``SSEKMSKeyId`` -> ``ssekmsKeyId``). An aws-sdk
    Task's result carries these names capitalised: AWS answered SQS sendMessage with
    ``Md5OfMessageBody`` and S3 putObject with ``ETag`` (raw capture, radkawar/stackd
    testdata/aws/stepfunctions/tracing_sdk_headers.json, enabled-zero-describe-0; sdk_requests.json)."""
    i = 1
    while i < len(name) and name[i].isupper() and not (i + 1 < len(name) and name[i + 1].islower()):
        i += 1
    return name[:i].lower() + name[i:]


def http_metadata(response: dict) -> dict:
    """``SdkHttpMetadata`` and ``SdkResponseMetadata``: what the Java SDK v1 adds to every
    result of an optimized integration (recorded on AWS: LS dynamodb, sqs, sns, lambda).
    ``AllHttpHeaders`` has the header names in the order a ``java.util.HashMap`` of them
    iterates, ``HttpHeaders`` in alphabetical order without case (a case-insensitive TreeMap):
    ``x-amzn-RequestId, connection, Content-Length, Date, Content-Type`` and ``connection,
    Content-Length, Content-Type, Date, x-amzn-RequestId`` in every recording (the LS ones of
    /work/shared/conformance; radkawar/stackd task_integrations.json, sqs-optimized-request-response)."""
    from ...jackson import java_hash_order

    meta = response.get("ResponseMetadata") or {}
    raw = meta.get("RawHeaders") or list((meta.get("HTTPHeaders") or {}).items())
    every: dict[str, list[str]] = {}
    for name, value in raw:
        every.setdefault(name, []).append(value)
    names = list(every)
    return {
        "SdkHttpMetadata": {"AllHttpHeaders": {names[i]: every[names[i]] for i in java_hash_order(names)},
                            "HttpHeaders": {name: every[name][-1] for name in sorted(names, key=str.lower)},
                            "HttpStatusCode": meta.get("HTTPStatusCode", 200)},
        "SdkResponseMetadata": {"RequestId": meta.get("RequestId", "")},
    }


def sdk_v1_result(result: dict, response: dict) -> dict:
    """An optimized integration's result: the response's members and `http_metadata`, in
    alphabetical order, as the Java SDK v1's result objects come out (recorded on AWS: every
    LS recording of /work/shared/conformance, ``ExecutionArn, SdkHttpMetadata,
    SdkResponseMetadata, StartDate`` for states:startExecution, ``ExecutedVersion, Payload,
    SdkHttpMetadata, SdkResponseMetadata, StatusCode`` for lambda:invoke; radkawar/stackd
    task_integrations.json, nested-request-response, sqs-optimized-request-response)."""
    merged = {**result, **http_metadata(response)}
    return {key: merged[key] for key in sorted(merged)}