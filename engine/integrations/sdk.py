"""``arn:aws:states:::aws-sdk:SERVICE:ACTION``: any API botocore knows (INTEGRATIONS-SPEC.md section 5).

Names (`asl.sdkmodel`). Step Functions names a service as the AWS SDK for Java v2 names its package: botocore's
``serviceId`` lower-cased without spaces, hyphens and a trailing "service" (`sfn_name`), with
the exceptions of `SERVICE_EXCEPTIONS`. The action is the operation in camelCase
(``getObject`` -> ``GetObject`` -> boto3's ``get_object``).

Errors speak the Java SDK v2 (`convert_error`): ``<Prefix>.<ExceptionShape>`` with "Exception"
appended when the shape's name lacks it (``S3.NoSuchKeyException``), ``<Prefix>.<Prefix>Exception``
for an error the model does not declare (``DynamoDb.DynamoDbException``; S3's after its code:
``S3.AccessDeniedException``); the cause is ``<message> (Service: <Prefix>, Status Code: <n>,
Request ID: <id>[, Extended Request ID: <id2>]) (SDK Attempt Count: <tries>)``.
"""
from __future__ import annotations

import re
from typing import Any

from ...errors import StatesError
from ...sdkmodel import NAMES, SERVICE_EXCEPTIONS, sfn_name  # noqa: F401 (the naming lives in the language layer)
from .shapes import Unusable, result_json, to_request, validation_errors

#: Error-name prefixes the Java SDK v2 spells otherwise than the `error_prefix` rule (AWS's table).
PREFIX_EXCEPTIONS = {
    "iot": "Iot", "iotevents": "IotEvents", "ioteventsdata": "IotEventsData", "iotjobsdataplane": "IotJobsDataPlane",
    "iotwireless": "IotWireless", "sagemakera2iruntime": "SageMakerA2IRuntime", "memorydb": "MemoryDB",
    "sesv2": "SesV2", "amplifyuibuilder": "AmplifyUiBuilder", "autoscaling": "Auto Scaling",
}


def error_prefix(service_id: str) -> str:
    """The Java SDK v2's client prefix: serviceId words PascalCased, a word in capitals
    Capitalised (``SFN`` -> ``Sfn``, ``EC2`` -> ``Ec2``), a trailing run folded (``DynamoDB`` -> ``DynamoDb``)."""
    special = PREFIX_EXCEPTIONS.get(sfn_name(service_id))
    if special is not None:
        return special
    words = []
    for word in re.split(r"[ \-]+", service_id):
        if not word:
            continue
        if word.isupper():
            word = word.capitalize()
        else:
            word = word[:1].upper() + re.sub(r"([A-Z])([A-Z]+)$", lambda m: m[1] + m[2].lower(), word[1:])
        words.append(word)
    return "".join(words)




def operation_of(client: Any, action: str) -> tuple[str, Any] | None:
    """(boto3 method name, operation model) of a camelCase action, or None."""
    from botocore import xform_name

    operation = action[:1].upper() + action[1:]
    model = client.meta.service_model
    if operation not in model.operation_names:
        return None
    return xform_name(operation), model.operation_model(operation)


def call(clients: Any, info: Any, arguments: Any) -> Any:
    """Run ``aws-sdk:{info.service}:{info.api}`` (in a worker thread): the result PascalCased, or
    a StatesError named as AWS names it."""
    service = NAMES.boto3_name(info.service)
    if service is None:
        raise StatesError("States.Runtime", f"The resource '{info.arn}' is not recognized: botocore has no "
                          f"service '{info.service}'")
    client = clients.client(service)
    found = operation_of(client, info.api)
    if found is None:
        raise StatesError("States.Runtime", f"The resource '{info.arn}' is not recognized: {service} has no "
                          f"action '{info.api}'")
    method, operation = found
    request = to_request(operation.input_shape, {} if arguments is None else arguments, aws_sdk=True)
    if (service, info.api) == ("lambda", "invoke") and isinstance(request, dict) and \
            isinstance(arguments, dict) and "Payload" in arguments:
        from .optimized import _payload

        # Lambda's Payload is the request body as given, not base64 (`optimized._payload`)
        request.pop("Payload", None)
        body = _payload(arguments, sdk=True)
        if body is not None:
            request["Payload"] = body.encode("utf-8")
    response = invoke(client, method, operation, request, convert_error)
    result = result_json(response, operation.output_shape, pascal=True, sdk_v2=True)
    if (service, info.api) == ("lambda", "invoke"):  # AWS's order: ExecutedVersion, FunctionError,
        # Payload, StatusCode (radkawar/stackd lambda_integrations.json history-sdk-function-error-object)
        result = dict(sorted(result.items()))
    return result


def invoke(client: Any, method: str, operation: Any, request: Any, converter: Any) -> dict:
    """``client.<method>(**request)``; a failure becomes the StatesError `converter` names."""
    import botocore.exceptions as bex

    if not isinstance(request, dict):
        raise Unusable("The Parameters must be a JSON object")
    problem = validation_errors(operation.input_shape, request, client.meta.service_model.service_id)
    if problem is not None:  # the service's answer, given here: moto and LocalStack check less
        code, message = problem
        raise converter(client, bex.ClientError({"Error": {"Code": code, "Message": message},
                                                 "ResponseMetadata": {"HTTPStatusCode": 400}},
                                                operation.name)) from None
    try:
        return getattr(client, method)(**request)
    except (bex.ClientError, bex.BotoCoreError, OSError) as exc:  # the service's answer, or none
        raise converter(client, exc) from None


def modeled_exception(model: Any, exc: Any) -> str | None:
    """The name of the service's exception shape for a ClientError (by name or wire code; a
    service moved from the query protocol reports the old code and keeps the shape's name apart)."""
    error = (getattr(exc, "response", {}) or {}).get("Error") or {}
    codes = {error.get("Code"), error.get("QueryErrorCode")} - {None, ""}
    for shape in model.error_shapes:
        if shape.name in codes or (shape.metadata.get("error") or {}).get("code") in codes:
            return shape.name
    return None


def error_facts(exc: Any) -> tuple[str, str, int, str, str | None]:
    """(code, message, status, request id, extended request id) of a botocore ClientError."""
    response = getattr(exc, "response", {}) or {}
    error = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    headers = meta.get("HTTPHeaders") or {}
    return (str(error.get("Code", "")), str(error.get("Message", "")), int(meta.get("HTTPStatusCode", 400)),
            str(meta.get("RequestId", "")), meta.get("HostId") or headers.get("x-amz-id-2"))


def exception_name(shape: str | None, default: str) -> str:
    """The SDK's class name of an exception shape: "Exception" appended when the name lacks it
    (S3's ``NoSuchKey`` -> ``NoSuchKeyException``); `default` for an error the model does not declare."""
    if shape is None:
        return default
    return shape if shape.endswith("Exception") else shape + "Exception"


def convert_error(client: Any, exc: Exception) -> StatesError:
    """A botocore failure of an aws-sdk task -> AWS's error name and cause (Java SDK v2 family)."""
    return model_error(client.meta.service_model, exc)


def model_error(model: Any, exc: Exception) -> StatesError:
    """`convert_error` for the service `model` (botocore's ServiceModel)."""
    import botocore.exceptions as bex

    prefix = error_prefix(model.service_id)
    code, message, status, request_id, extended = error_facts(exc)
    if not code:  # refused before sending (the service would refuse it too), or never answered
        generic = f"{prefix}Exception" if isinstance(exc, bex.ParamValidationError) else "SdkClientException"
        return StatesError(f"{prefix}.{generic}", str(exc))
    cause = f"{message} (Service: {prefix}, Status Code: {status}, Request ID: {request_id}"
    cause += f", Extended Request ID: {extended})" if extended else ")"
    # the Java SDK v2's count of tries (one: it does not retry a 4xx), recorded on AWS after every
    # cause (radkawar/stackd task_integrations.json: s3-no-such-key, sqs-sdk-target-error,
    # credentials-denied; LocalStack's test_sfn_send_task_outcome_with_no_such_token)
    attempts = 1 + int(((getattr(exc, "response", {}) or {}).get("ResponseMetadata") or {}).get("RetryAttempts") or 0)
    cause += f" (SDK Attempt Count: {attempts})"
    shape = modeled_exception(model, exc)
    if shape is None and model.service_id == "S3" and re.fullmatch(r"[A-Za-z0-9]+", code):
        # S3 names an error its model does not declare after its code: AccessDenied is
        # S3.AccessDeniedException (recorded: radkawar/stackd task_integrations.json, credentials-denied)
        shape = code
    return StatesError(f"{prefix}.{exception_name(shape, prefix + 'Exception')}", cause)


async def call_own_api(api: Any, info: Any, arguments: Any) -> Any:
    """``aws-sdk:sfn:ACTION`` answered by the Step Functions API of this process (`asl serve`: the
    service itself, as AWS answers a state machine's calls from its own account and region).
    `api(action, body)` takes the request as the wire carries it and returns ``(status, answer)``,
    an error as ``{"__type", "message"}``. botocore's JSON serializer and parser stand where the
    HTTP request would be, so the result and the errors are those of a call through boto3."""
    import json
    import uuid

    import botocore.exceptions as bex
    import botocore.parsers
    import botocore.serialize

    model = _sfn_model()
    operation = info.api[:1].upper() + info.api[1:]
    if operation not in model.operation_names:
        raise StatesError("States.Runtime", f"The resource '{info.arn}' is not recognized: stepfunctions has no "
                          f"action '{info.api}'")
    op = model.operation_model(operation)
    request = to_request(op.input_shape, {} if arguments is None else arguments, aws_sdk=True)
    if not isinstance(request, dict):
        raise Unusable("The Parameters must be a JSON object")
    sent = botocore.serialize.create_serializer("json", include_validation=False).serialize_to_request(request, op)
    status, answer = await api(operation, json.loads(sent["body"] or b"{}"))
    # (botocore's parser reads the request id's header by its lower-case name)
    received = {"status_code": status, "body": json.dumps(answer).encode(),
                "headers": {"x-amzn-requestid": str(uuid.uuid4()), "Content-Type": "application/x-amz-json-1.0"}}
    parsed = botocore.parsers.create_parser("json").parse(received, op.output_shape)
    if status >= 300:
        # recorded on AWS (LocalStack test_sfn_send_task_outcome_with_no_such_token, both templates):
        # "Invalid Token: 'Invalid token' (Service: Sfn, Status Code: 400, Request ID: …) (SDK Attempt Count: 1)"
        raise model_error(model, bex.ClientError(parsed, operation))
    return result_json(parsed, op.output_shape, pascal=True, sdk_v2=True)


_SFN_MODEL: list = []


def _sfn_model() -> Any:
    """botocore's Step Functions ServiceModel, loaded once."""
    if not _SFN_MODEL:
        import botocore.session

        _SFN_MODEL.append(botocore.session.get_session().get_service_model("stepfunctions"))
    return _SFN_MODEL[0]
