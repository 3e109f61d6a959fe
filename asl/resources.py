"""Task ``Resource`` ARNs: what kind of call each one is (ASL-SPEC.md section 10).

`parse_resource` classifies a Resource string:

* ``lambda``      ``arn:<p>:lambda:<region>:<account>:function:<name>[:<qualifier>]`` (legacy form);
* ``activity``    ``arn:<p>:states:<region>:<account>:activity:<name>``;
* ``service``     ``arn:<p>:states:::<service>:<api>[.sync|.sync:2|.waitForTaskToken]``;
* ``sdk``         ``arn:<p>:states:::aws-sdk:<service>:<apiAction>[.waitForTaskToken]``;
  both also with a region and account (``arn:aws:states:us-east-1:123456789012:lambda:invoke``),
  which AWS accepts and runs like the short form;
* ``http``        ``arn:<p>:states:::http:invoke``.

`SERVICE_APIS` lists AWS's optimized integrations with the integration patterns each API
supports; the validator rejects a known service with an API or pattern it lacks, as AWS does
(``arn:aws:states:::dynamodb:query`` is rejected), and only warns about a service it does not
know, since AWS adds integrations over time.

`PARAMETER_RULES` lists, per optimized API, what AWS checks in the evaluated Parameters
before it calls the service; `parameter_problems` applies them (the engine fails the task
with States.Runtime, "The Parameters '...' could not be used to start the Task: [...]").
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

RR, SYNC, WAIT = "requestResponse", "sync", "waitForTaskToken"
_ALL = frozenset({RR, SYNC, WAIT})
_RR_WAIT = frozenset({RR, WAIT})
_RR = frozenset({RR})
_RR_SYNC = frozenset({RR, SYNC})

# service -> {api: patterns}; "*" stands for any API of the service.
SERVICE_APIS: dict[str, dict[str, frozenset]] = {
    "lambda": {"invoke": _RR_WAIT},
    "states": {"startExecution": _ALL},
    "dynamodb": {"getItem": _RR, "putItem": _RR, "deleteItem": _RR, "updateItem": _RR},
    "sns": {"publish": _RR_WAIT},
    "sqs": {"sendMessage": _RR_WAIT},
    "events": {"putEvents": _RR_WAIT},
    "apigateway": {"invoke": _RR_WAIT},
    "batch": {"submitJob": _ALL},
    "ecs": {"runTask": _ALL},
    "glue": {"startJobRun": _ALL},
    "databrew": {"startJobRun": _RR_SYNC},
    "athena": {"startQueryExecution": _ALL, "stopQueryExecution": _RR, "getQueryExecution": _RR,
               "getQueryResults": _RR},
    "codebuild": {"startBuild": _ALL, "stopBuild": _RR, "batchDeleteBuilds": _RR, "batchGetReports": _RR,
                  "startBuildBatch": _ALL, "stopBuildBatch": _RR, "retryBuildBatch": _ALL,
                  "deleteBuildBatch": _RR},
    "eks": {"createCluster": _RR_SYNC, "deleteCluster": _RR_SYNC, "createFargateProfile": _RR_SYNC,
            "deleteFargateProfile": _RR_SYNC, "createNodegroup": _RR_SYNC, "deleteNodegroup": _RR_SYNC,
            "runJob": _RR_SYNC, "call": _RR},
    "elasticmapreduce": {"createCluster": _RR_SYNC, "terminateCluster": _RR_SYNC, "addStep": _RR_SYNC,
                         "cancelStep": _RR, "setClusterTerminationProtection": _RR,
                         "modifyInstanceFleetByName": _RR, "modifyInstanceGroupByName": _RR},
    "emr-containers": {"startJobRun": _RR_SYNC, "createVirtualCluster": _RR, "deleteVirtualCluster": _RR_SYNC},
    "emr-serverless": {"createApplication": _RR_SYNC, "startApplication": _RR_SYNC,
                       "stopApplication": _RR_SYNC, "deleteApplication": _RR_SYNC, "startJobRun": _RR_SYNC,
                       "cancelJobRun": _RR_SYNC},
    "sagemaker": {name: _RR_SYNC for name in (
        "createTrainingJob", "createTransformJob", "createHyperParameterTuningJob", "createLabelingJob",
        "createProcessingJob")} | {name: _RR for name in (
        "createEndpoint", "createEndpointConfig", "createModel", "updateEndpoint")},
    "mediaconvert": {"createJob": _RR_SYNC},
    "bedrock": {"invokeModel": _RR, "createModelCustomizationJob": _RR_SYNC},
    "http": {"invoke": _RR},
    "s3": {"getObject": _RR, "listObjectsV2": _RR, "putObject": _RR},
}

# Resource types of Step Functions' own ARNs: none of them is something a Task can call.
_STATES_RESOURCE_TYPES = frozenset({"stateMachine", "execution", "express", "mapRun", "activity"})

_ARN = re.compile(r"^arn:(?P<partition>[^:]+):(?P<service>lambda|states):(?P<region>[^:]*):(?P<account>[^:]*):"
                  r"(?P<rest>.+)$")


@dataclass(frozen=True, slots=True)
class ResourceInfo:
    """What a Task's Resource calls.

    kind      ``lambda``, ``activity``, ``service``, ``sdk`` or ``http``
    service   the service name (``lambda``, ``dynamodb``, ``s3`` for ``aws-sdk:s3:...``)
    api       the API / action (``invoke``, ``putItem``), or the function/activity name
    pattern   ``requestResponse``, ``sync`` or ``waitForTaskToken``
    qualifier ``.sync:2`` gives ``"2"``; a Lambda ARN's version or alias
    known     False for a service this module does not know (validator warns)
    """

    arn: str
    kind: str
    service: str
    api: str
    pattern: str = RR
    qualifier: str | None = None
    known: bool = True

    @property
    def history_resource(self) -> str:
        """``resource`` as AWS writes it in history events (``invoke``, ``putItem.waitForTaskToken``)."""
        if self.kind in ("service", "sdk", "http"):
            tail = {RR: "", SYNC: ".sync", WAIT: ".waitForTaskToken"}[self.pattern]
            if self.pattern == SYNC and self.qualifier:
                tail += f":{self.qualifier}"
            return self.api + tail
        return self.arn

    @property
    def history_resource_type(self) -> str:
        """``resourceType`` in history events (``lambda``, ``aws-sdk:s3``)."""
        return f"aws-sdk:{self.service}" if self.kind == "sdk" else self.service


def parse_resource(arn: str) -> ResourceInfo | None:
    """Classify `arn`; None when it is not a Task resource AWS could accept."""
    m = _ARN.match(arn)
    if not m:
        return None
    rest = m["rest"]
    if m["service"] == "lambda":
        parts = rest.split(":")
        if parts[0] != "function" or len(parts) not in (2, 3) or not parts[1]:
            return None
        return ResourceInfo(arn, "lambda", "lambda", parts[1], RR, parts[2] if len(parts) == 3 else None)
    if m["region"] or m["account"]:
        if rest.startswith("activity:") and len(rest) > len("activity:"):
            return ResourceInfo(arn, "activity", "states", rest[len("activity:"):])
        if rest.partition(":")[0] in _STATES_RESOURCE_TYPES:
            return None
        # An integration ARN may carry the region and account (AWS accepts and runs
        # arn:aws:states:us-east-1:123456789012:lambda:invoke): read it like the short form.
    # arn:<p>:states:[<region>]:[<account>]:<service>:<api>[.pattern]
    pattern, qualifier = RR, None
    body = rest
    if body.endswith(".waitForTaskToken"):
        pattern, body = WAIT, body[: -len(".waitForTaskToken")]
    else:
        m2 = re.match(r"^(.*)\.sync(?::(\d+))?$", body)
        if m2:
            pattern, body, qualifier = SYNC, m2[1], m2[2]
    if body.startswith("aws-sdk:"):
        parts = body.split(":")
        if len(parts) != 3 or not parts[1] or not parts[2] or pattern == SYNC:
            return None
        return ResourceInfo(arn, "sdk", parts[1], parts[2], pattern, qualifier)
    service, _, api = body.partition(":")
    if not service or not api or ":" in api:
        return None
    apis = SERVICE_APIS.get(service)
    if apis is None:
        return ResourceInfo(arn, "service", service, api, pattern, qualifier, known=False)
    allowed = apis.get(api)
    if allowed is None or pattern not in allowed:
        return None
    if qualifier is not None and (service, api) != ("states", "startExecution"):
        return None
    kind = "http" if service == "http" else "service"
    return ResourceInfo(arn, kind, service, api, pattern, qualifier)


# --------------------------------------------------------------------------------------------
# What AWS checks in the Parameters of an optimized integration before it calls it
# (INTEGRATIONS-SPEC.md sections 2 and 3). A rule takes the field's value (absent: MISSING)
# and returns AWS's complaint, or None.
# --------------------------------------------------------------------------------------------

MISSING = object()
Rule = Callable[[str, Any], "str | None"]


def _required(field: str, value: Any) -> str | None:
    return f"The field '{field}' is required but was missing" if value is MISSING else None


def _multimap(field: str, value: Any) -> str | None:
    """``{name: [values]}`` (API Gateway Headers, QueryParameters: recorded on AWS)."""
    if value is MISSING or value is None:
        return None
    if isinstance(value, dict) and all(isinstance(v, list) and all(isinstance(s, str) for s in v)
                                       for v in value.values()):
        return None
    return f"The value of the field '{field}' has an invalid format"


def _one_of(*allowed: str) -> Rule:
    def check(field: str, value: Any) -> str | None:
        if value is MISSING or value is None or value in allowed:
            return None
        return f"The value of the field '{field}' has an invalid format"
    return check


# The request headers a Task may not set. API Gateway (DG "connect-api-gateway"): these names and the
# X-Forwarded*, X-Amz* and X-Amzn* prefixes. HTTP Task (DG "call-https-apis", "HTTP Task fields",
# Headers: "If you use these headers, the HTTP Task fails with the States.Runtime error"): the list
# below and the x-forwarded-*, x-amz-*, x-amzn-* prefixes (Authorization was added to the page
# later; AWS's console refusal of it is recorded: "The 'Headers' field contains unsupported
# values: [authorization]"); the auth comes from the connection.
_FORBIDDEN_HEADERS = {
    "apigateway": frozenset(name.lower() for name in (
        "Authorization", "Connection", "Content-md5", "Expect", "Host", "Max-Forwards", "Proxy-Authenticate",
        "Server", "TE", "Transfer-Encoding", "Trailer", "Upgrade", "Via", "Www-Authenticate")),
    "http": frozenset(name.lower() for name in (
        "A-IM", "Accept-Charset", "Accept-Datetime", "Accept-Encoding", "Authorization", "Cache-Control",
        "Connection", "Content-Encoding", "Content-MD5", "Date", "Expect", "Forwarded", "From", "Host",
        "HTTP2-Settings", "If-Match", "If-Modified-Since", "If-None-Match", "If-Range", "If-Unmodified-Since",
        "Max-Forwards", "Origin", "Pragma", "Proxy-Authorization", "Referer", "Server", "TE", "Trailer",
        "Transfer-Encoding", "Upgrade", "Via", "Warning")),
}
_FORBIDDEN_HEADER_PREFIXES = {"apigateway": ("x-forwarded", "x-amz"), "http": ("x-forwarded-", "x-amz-", "x-amzn-")}


def unsupported_headers(service: str, headers: Any) -> str | None:
    """AWS's complaint about the request headers `headers` of an ``apigateway:invoke`` or
    ``http:invoke`` Task (None: all allowed). The text is AWS's, recorded at creation (console,
    API Gateway and HTTP Task alike): the names lower-cased, in a Java list; at run time (a
    ``Headers.$`` path) the same complaint fails the Task with States.Runtime, in the frame of
    `unusable_parameters` (that frame recorded on AWS for other fields; this use of it unverified)."""
    bad = unsupported_header_names(service, headers)
    return f"The 'Headers' field contains unsupported values: [{', '.join(bad)}]" if bad else None


# The one header AWS is known to refuse when a definition is created (recorded in the console for
# an API Gateway Task and an HTTP Task alike); for the others the HTTP Task's page documents a
# States.Runtime at run time, so written literally they are a warning of ours (asl.checks).
REFUSED_AT_CREATION = frozenset({"authorization"})

#: The request fields of a ``.sync`` job Step Functions refuses at creation (SCHEMA_VALIDATION_FAILED
#: "The field 'Count' is not supported by Step Functions" at /States/<name>/Parameters or Arguments),
#: recorded on AWS: radkawar/stackd ecs_schema_admission.json, sync-started-by, sync-count-path,
#: sync-jsonata-count (a .waitForTaskToken Task may give Count: callback-count-two).
SYNC_REFUSED: dict[tuple[str, str], frozenset] = {("ecs", "runTask"): frozenset({"Count", "StartedBy"})}

#: The request fields Step Functions adds to a ``.sync`` job's call; TaskScheduled shows them
#: after the Task's own parameters. Recorded on AWS: radkawar/stackd ecs_workflows.json,
#: sync-zero-history, sync-nonzero-history (``{"Cluster": ..., "Overrides": ...,
#: "StartedBy": "AWS Step Functions"}``); a request-response or .waitForTaskToken runTask has
#: none (request-response-two-history, callback-history).
SYNC_ADDED: dict[tuple[str, str], dict] = {("ecs", "runTask"): {"StartedBy": "AWS Step Functions"}}


def sync_request(info: Any, arguments: Any) -> Any:
    """The request a Task `info` (a `parse_resource` answer) calls its service with, as its
    TaskScheduled event shows it: `arguments` with what Step Functions adds (`SYNC_ADDED`),
    a field the Task gives itself staying as given."""
    added = SYNC_ADDED.get((info.service, info.api)) if info is not None and info.pattern == SYNC else None
    if not added or not isinstance(arguments, dict):
        return arguments
    return {**arguments, **{name: value for name, value in added.items() if name not in arguments}}


def unsupported_header_names(service: str, headers: Any) -> list[str]:
    """The names (lower-cased, in order) among `headers` that AWS forbids a Task to set."""
    if not isinstance(headers, dict):
        return []
    names, prefixes = _FORBIDDEN_HEADERS[service], _FORBIDDEN_HEADER_PREFIXES[service]
    return [name.lower() for name in headers
            if isinstance(name, str) and (name.lower() in names or name.lower().startswith(prefixes))]


def _allowed_headers(service: str) -> Rule:
    def check(field: str, value: Any) -> str | None:
        return unsupported_headers(service, value)
    return check


_JSON_KINDS = {"object": dict, "array": list, "string": str}


def _kind(kind: str) -> Rule:
    """The field, when present, must be a JSON `kind` (``integer``: a whole number, not a boolean)."""
    def check(field: str, value: Any) -> str | None:
        if value is MISSING or value is None:
            return None
        if kind == "integer":
            ok = isinstance(value, int) and not isinstance(value, bool)
        else:
            ok = isinstance(value, _JSON_KINDS[kind])
        return None if ok else f"The value of the field '{field}' has an invalid format"
    return check


# DynamoDB's item APIs: names, keys, items and expression values are objects; the table a string.
_DYNAMODB_COMMON = (("TableName", _kind("string")), ("Key", _kind("object")),
                    ("ExpressionAttributeNames", _kind("object")), ("ExpressionAttributeValues", _kind("object")),
                    ("ConditionExpression", _kind("string")), ("ReturnValues", _kind("string")))

#: (service, api) -> ((field, rule), ...), checked in order.
PARAMETER_RULES: dict[tuple[str, str], tuple[tuple[str, Rule], ...]] = {
    ("apigateway", "invoke"): (
        ("ApiEndpoint", _required),
        ("Method", _required),
        ("Method", _one_of("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")),
        ("Headers", _multimap),
        ("Headers", _allowed_headers("apigateway")),
        ("QueryParameters", _multimap),
        ("AuthType", _one_of("NO_AUTH", "IAM_ROLE", "RESOURCE_POLICY")),
    ),
    ("http", "invoke"): (("Headers", _allowed_headers("http")),),
    ("lambda", "invoke"): (("FunctionName", _kind("string")), ("InvocationType", _kind("string")),
                           ("Qualifier", _kind("string")), ("ClientContext", _kind("string")),
                           ("LogType", _kind("string"))),
    ("dynamodb", "getItem"): _DYNAMODB_COMMON + (("ProjectionExpression", _kind("string")),),
    ("dynamodb", "putItem"): _DYNAMODB_COMMON + (("Item", _kind("object")),),
    ("dynamodb", "updateItem"): _DYNAMODB_COMMON + (("UpdateExpression", _kind("string")),),
    ("dynamodb", "deleteItem"): _DYNAMODB_COMMON,
    ("sqs", "sendMessage"): (("QueueUrl", _kind("string")), ("DelaySeconds", _kind("integer")),
                             ("MessageAttributes", _kind("object")), ("MessageGroupId", _kind("string")),
                             ("MessageDeduplicationId", _kind("string"))),
    ("sns", "publish"): (("TopicArn", _kind("string")), ("TargetArn", _kind("string")),
                         ("PhoneNumber", _kind("string")), ("Subject", _kind("string")),
                         ("MessageAttributes", _kind("object")), ("MessageStructure", _kind("string"))),
    ("events", "putEvents"): (("Entries", _kind("array")),),
}


def unusable_parameters(parameters: Any, problems: list[str]) -> Any:
    """The States.Runtime failure of a Task whose `parameters` AWS refuses to call with."""
    from .errors import StatesError
    from .templates import dumps

    return StatesError("States.Runtime", f"The Parameters '{dumps(parameters)}' could not be used to start "
                       f"the Task: [{', '.join(problems)}]")


def parameter_problems(info: ResourceInfo | None, parameters: Any) -> list[str]:
    """AWS's complaints about the evaluated `parameters` of a Task calling `info` (none: fine)."""
    if info is None or info.kind not in ("service", "http"):
        return []
    rules = PARAMETER_RULES.get((info.service, info.api))
    if not rules:
        return []
    if not isinstance(parameters, dict):
        # unverified: no recording of AWS's text for Parameters that are not an object was found
        # (AWS docs, GitHub issues, public code, LocalStack's recorded snapshots searched, twice);
        # the frame around it is AWS's
        return ["The Parameters must be a JSON object"]
    problems = []
    for field, rule in rules:
        problem = rule(field, parameters.get(field, MISSING))
        if problem is not None:
            problems.append(problem)
    return problems
