"""The optimized integrations (``arn:aws:states:::SERVICE:API``) and Lambda function ARNs, through
boto3 (INTEGRATIONS-SPEC.md sections 3, 4 and 6).

Results are the API's response plus the ``SdkHttpMetadata``/``SdkResponseMetadata`` the Java SDK
v1 adds (EventBridge putEvents: none); a Lambda function ARN returns the function's own result.

Errors speak the Java SDK v1 (`convert_error`): ``<Prefix>.<ExceptionShape>`` (``Exception``
appended when the shape's name lacks it: ``SNS.NotFoundException`` for SNS's ``NotFound``),
``<Prefix>.<ClientException>`` for an error the model does not declare
(``DynamoDB.AmazonDynamoDBException``), ``<Prefix>.SdkClientException`` when the service was not
reached; the cause is ``<message> (Service: <client>; Status Code: <n>; Error Code: <code>;
Request ID: <id>; Proxy: null)``. A Lambda function that failed is named by its ``errorType``.
"""
from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from ...deepjson import strict_loads
from ...errors import StatesError
from ...jsontext import compact
from ..tasks import json_or_text
from .sdk import error_facts, exception_name, invoke, modeled_exception
from .shapes import result_json, sdk_v1_result, to_request

#: Step Functions service -> (boto3 service, error prefix, Java SDK v1 client name, its exception).
SERVICES = {
    "lambda": ("lambda", "Lambda", "AWSLambda", "AWSLambdaException"),
    "dynamodb": ("dynamodb", "DynamoDB", "AmazonDynamoDBv2", "AmazonDynamoDBException"),
    "sqs": ("sqs", "SQS", "AmazonSQS", "AmazonSQSException"),
    "sns": ("sns", "SNS", "AmazonSNS", "AmazonSNSException"),
    "events": ("events", "EventBridge", "AmazonEventBridge", "AmazonEventBridgeException"),
    "states": ("stepfunctions", "StepFunctions", "AWSStepFunctions", "AWSStepFunctionsException"),
    "batch": ("batch", "Batch", "AWSBatch", "AWSBatchException"),
    "ecs": ("ecs", "ECS", "AmazonECS", "AmazonECSException"),
    "glue": ("glue", "Glue", "AWSGlue", "AWSGlueException"),
    "athena": ("athena", "Athena", "AmazonAthena", "AmazonAthenaException"),
    "codebuild": ("codebuild", "CodeBuild", "AWSCodeBuild", "AWSCodeBuildException"),
    "elasticmapreduce": ("emr", "EMR", "AmazonElasticMapReduce", "AmazonElasticMapReduceException"),
    "sagemaker": ("sagemaker", "SageMaker", "AmazonSageMaker", "AmazonSageMakerException"),
}


def convert_error(client: Any, exc: Exception, service: str) -> StatesError:
    """A botocore failure of an optimized integration -> AWS's error name and cause (SDK v1 family)."""
    import botocore.exceptions as bex

    _, prefix, client_name, generic = SERVICES[service]
    code, message, status, request_id, _ = error_facts(exc)
    if not code:
        if isinstance(exc, bex.ParamValidationError):  # the service would have refused it
            return StatesError(f"{prefix}.{generic}", f"{exc} (Service: {client_name}; Status Code: 400; "
                               f"Error Code: ValidationException; Request ID: ; Proxy: null)")
        return StatesError(f"{prefix}.SdkClientException", f"Unable to execute HTTP request: {exc}")
    name = exception_name(modeled_exception(client.meta.service_model, exc), generic)
    return StatesError(f"{prefix}.{name}", f"{message} (Service: {client_name}; Status Code: {status}; "
                       f"Error Code: {code}; Request ID: {request_id}; Proxy: null)")


def _queue_host_unknown(arguments: Any) -> StatesError | None:
    """The failure of an SQS call whose ``QueueUrl`` names a host no DNS knows.

    The Java SDK v1 that Step Functions calls SQS with sends each request to the host of its
    ``QueueUrl``, so on AWS such a call never reaches SQS (recorded: LocalStack
    test_send_message_no_such_queue, ``SQS.SdkClientException``, "Unable to execute HTTP request:
    no-such-queue-73e08fde: Name or service not known"). boto3 sends it to the configured
    endpoint instead, which would answer for a queue it does not hold; AWS's own hosts are left
    to that endpoint, and so are LocalStack's (a test against moto or LocalStack may spell its
    queues' URLs as AWS's, and an offline machine resolves neither). Blocking (a DNS lookup):
    called in the Task's worker thread, and with an SQS endpoint of the run's own only once that
    endpoint has refused the call (`_call`)."""
    import socket

    url = arguments.get("QueueUrl") if isinstance(arguments, dict) else None
    host = _host(url)
    if not host or _aws_host(host) or host.endswith("localhost.localstack.cloud"):
        return None
    try:
        socket.getaddrinfo(host, None)
    except socket.gaierror as exc:
        return StatesError("SQS.SdkClientException", f"Unable to execute HTTP request: {host}: {exc.strerror}")
    return None


def _host(url: Any) -> str | None:
    try:
        return urlsplit(url).hostname if isinstance(url, str) else None
    except ValueError:
        return None


def _aws_host(host: str) -> bool:
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn", ".api.aws"))


def _call(clients: Any, service: str, api: str, arguments: Any, region: str | None = None) -> tuple[dict, Any]:
    """Call `api` (camelCase) of the Step Functions `service`; (response, operation model)."""
    from .sdk import operation_of

    client = clients.client(SERVICES[service][0], region)
    # SQS through an endpoint of the run's own (moto, LocalStack, ElasticMQ; --endpoint-url or
    # AWS_ENDPOINT_URL): the endpoint answers for its queues whatever host their URLs name (a
    # container's name this machine cannot resolve, LocalStack's LOCALSTACK_HOST), so the
    # QueueUrl's host is looked up only once the endpoint refused the call; on AWS it is looked
    # up first, as AWS's SDK sends the call there
    emulated = service == "sqs" and not _aws_host(_host(client.meta.endpoint_url) or "")
    unreachable = _queue_host_unknown(arguments) if service == "sqs" and not emulated else None
    if unreachable is not None:
        raise unreachable
    found = operation_of(client, api)
    if found is None:
        raise StatesError("States.Runtime", f"asl-engine cannot call {service}:{api} through boto3")
    method, operation = found
    request = to_request(operation.input_shape, {} if arguments is None else arguments, sdk_v1=True)
    try:
        response = invoke(client, method, operation, request, lambda c, e: convert_error(c, e, service))
    except StatesError:
        unreachable = _queue_host_unknown(arguments) if emulated else None
        if unreachable is not None:
            raise unreachable from None
        raise
    return response, operation


def request_response(clients: Any, service: str, api: str, arguments: Any) -> Any:
    """Any optimized API called as is: the response and the SDK v1's metadata."""
    response, operation = _call(clients, service, api, arguments)
    return sdk_v1_result(result_json(response, operation.output_shape, sdk_v1=service), response)


def put_events(clients: Any, service: str, api: str, arguments: Any) -> Any:
    """EventBridge putEvents: ``{Entries, FailedEntryCount}`` without metadata; a failed entry
    fails the task with ``EventBridge.FailedEntry`` and the response as cause (recorded on AWS)."""
    response, operation = _call(clients, service, api, arguments)
    result = result_json(response, operation.output_shape)
    if result.get("FailedEntryCount"):
        # recorded on AWS: '{"Entries": [{"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is
        # malformed."}], "FailedEntryCount": 1}', keys in order, with spaces after ':' and ','
        raise StatesError("EventBridge.FailedEntry", json.dumps(result, sort_keys=True, ensure_ascii=False))
    return result


# ---- Lambda ----------------------------------------------------------------------------------

def _payload(arguments: Any, sdk: bool = False) -> str | None:
    """The Invoke request's body from the Payload parameter: absent or null, none (the function
    gets ``{}``: raw AWS capture radkawar/stackd testdata/aws/stepfunctions/lambda_integrations.json
    history-optimized-null, history-sdk-payload-null); JSON text as it is; any other value as its
    JSON, a string that is not JSON text too (``lambda:invoke``), or as it is for Lambda to refuse
    (`sdk`, ``aws-sdk:lambda:invoke``: never base64, history-sdk-payload-base64-string)."""
    payload = arguments.get("Payload") if isinstance(arguments, dict) else None
    if payload is None:
        return None
    if isinstance(payload, str):
        if sdk:
            return payload
        try:
            strict_loads(payload)
            return payload
        except ValueError:  # not JSON text (NaN neither): a string of its own
            pass
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)


def _function_region(function: Any) -> str | None:
    parts = function.split(":") if isinstance(function, str) and function.startswith("arn:") else []
    return parts[3] or None if len(parts) > 3 else None


def lambda_invoke(clients: Any, service: str, api: str, arguments: Any) -> Any:
    """``lambda:invoke``: ``{ExecutedVersion, Payload, StatusCode, [LogResult], metadata}``."""
    request = dict(arguments) if isinstance(arguments, dict) else {}
    request.pop("Payload", None)
    body = _payload(arguments)
    if body is not None:
        request["Payload"] = body
    response, operation = _call(clients, "lambda", "invoke", request,
                                _function_region(request.get("FunctionName")))
    result = result_json(response, operation.output_shape)
    if request.get("InvocationType") == "Event":  # queued (202), no body: Payload null (raw AWS capture
        # radkawar/stackd testdata/aws/stepfunctions/lambda_integrations.json history-optimized-event)
        result["Payload"] = None
    else:
        result["Payload"] = function_result(result.get("FunctionError"), result.get("Payload"))
    result.pop("FunctionError", None)
    return sdk_v1_result(result, response)


def lambda_function(clients: Any, arn: str, arguments: Any) -> Any:
    """A Lambda function ARN as the Resource: the function's own result."""
    # the state's input as its JSON, a string too (raw AWS capture radkawar/stackd
    # testdata/aws/stepfunctions/lambda_integrations.json history-direct-arn-scalar-string,
    # history-direct-arn-null: LambdaFunctionScheduled input '"plain native string"', 'null')
    payload = json.dumps(arguments, separators=(",", ":"), ensure_ascii=False)
    response, operation = _call(clients, "lambda", "invoke", {"FunctionName": arn, "Payload": payload},
                                _function_region(arn))
    result = result_json(response, operation.output_shape)
    return function_result(result.get("FunctionError"), result.get("Payload"), verbatim=True)


def function_result(function_error: Any, payload: Any, verbatim: bool = False) -> Any:
    """The function's returned JSON (or text); a function that failed raises its errorType, with
    its error document as cause (``Lambda.Unknown`` without an errorType): as compact JSON text
    (``lambda:invoke``), or with `verbatim` (a Lambda function ARN as the Resource) the payload's
    text as the function returned it. Recorded on AWS (LocalStack's test_express_sync and
    test_base_scenarios): a Python function's ``{"errorMessage": "...", "errorType": ...}`` is
    the cause as it is through a function ARN, and ``{"errorMessage":"...","errorType":...}``
    through lambda:invoke."""
    value = json_or_text(payload) if isinstance(payload, str) else payload
    if not function_error:
        return value
    error = value.get("errorType") if isinstance(value, dict) else None
    if verbatim and isinstance(payload, str):
        cause = payload
    else:
        cause = compact(value) if not isinstance(value, str) else value
    raise StatesError(error if isinstance(error, str) and error else "Lambda.Unknown", cause)


#: (service, api) -> how it is called; any other optimized API is `request_response`.
CALLS = {
    ("lambda", "invoke"): lambda_invoke,
    ("events", "putEvents"): put_events,
}


def call(clients: Any, info: Any, arguments: Any) -> Any:
    """Run an optimized integration's request-response or callback call (in a worker thread)."""
    if info.kind == "lambda":
        return lambda_function(clients, info.arn, arguments)
    if info.pattern == "sync" or info.service not in SERVICES:
        raise StatesError("States.Runtime", f"asl-engine does not call '{info.arn}' on AWS yet: register a "
                          "handler or mock the state")
    return CALLS.get((info.service, info.api), request_response)(clients, info.service, info.api, arguments)
