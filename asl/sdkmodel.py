"""The aws-sdk integrations' view of botocore's service models, for the language and the engine.

Names. Step Functions names a service as the AWS SDK for Java v2 names its package: botocore's
``serviceId`` lower-cased without spaces, hyphens and a trailing "service" (`sfn_name`), with
the exceptions of `SERVICE_EXCEPTIONS`. The action is the operation in camelCase
(``getObject`` -> ``GetObject``); request members are the model's, PascalCased, as the Java SDK v2
names them (sfn's ``stateMachineArn`` -> ``StateMachineArn``).

Parameters (`parameter_problems`): what AWS's ValidateStateMachineDefinition and CreateStateMachine
say of an ``arn:aws:states:::aws-sdk:SERVICE:ACTION`` Task's literal Parameters, checked against
the operation's input shape (raw AWS captures, radkawar/stackd
testdata/aws/stepfunctions/sdk_admission.json; every finding is SCHEMA_VALIDATION_FAILED at
``/States/<State>/Parameters``):

* required top-level members that are absent ("The field 'Bucket' is required but was missing"),
  all of them, and then nothing else (label unknown-field: an unknown member beside a missing
  one is not reported). A member given null or through a ``Name.$`` path is present; S3's
  streamed ``Body`` of putObject counts as required. Nested required members are not checked
  (label nested-required).
* otherwise the first problem in document order, at any depth: a member the shape lacks
  ('The field "Bogus" is not supported by Step Functions', with " Did you mean 'ContentType'?"
  when only its case differs); a literal value of the wrong type (a string member given a
  number, "The value for the field 'Bucket' must be a STRING"; an integer member given text or
  a decimal, "... must be an INTEGER"; a Boolean member given what Jackson refuses; a structure
  given text, Jackson's "Cannot construct instance of ..."). Map keys are free.

botocore is imported lazily, only when an aws-sdk Task is checked; without it nothing is checked.
"""
from __future__ import annotations

import functools
import threading
from typing import Any

#: Step Functions service name -> boto3 service name, where the `sfn_name` rule does not give it.
SERVICE_EXCEPTIONS = {
    "sfn": "stepfunctions", "eventbridge": "events", "cloudwatchlogs": "logs", "costexplorer": "ce",
    "costandusagereport": "cur", "applicationdiscovery": "discovery", "databasemigration": "dms",
    "directory": "ds", "elasticsearch": "es", "migrationhub": "mgh", "marketplacemetering": "meteringmarketplace",
    "serverlessapplicationrepository": "serverlessrepo", "cognitoidentityprovider": "cognito-idp",
    "iotjobsdataplane": "iot-jobs-data", "lexmodelbuilding": "lex-models", "lexmodelsv2": "lexv2-models",
    "lexruntimev2": "lexv2-runtime", "elasticloadbalancing": "elb", "elasticloadbalancingv2": "elbv2",
    "pinpointsmsvoice": "pinpoint-sms-voice",
}

def sfn_name(service_id: str) -> str:
    """Step Functions' name of a service from botocore's ``serviceId`` (``Secrets Manager`` ->
    ``secretsmanager``, ``Cost Explorer`` -> ``costexplorer``)."""
    name = service_id.lower().replace(" ", "").replace("-", "")
    return name[: -len("service")] if name.endswith("service") and name != "service" else name


class _Names:
    """The sfn name -> boto3 name table, built from the installed botocore on first need."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._table: dict[str, str] | None = None

    def table(self) -> dict[str, str]:
        if self._table is None:
            with self._lock:
                if self._table is None:
                    import botocore.session

                    session = botocore.session.get_session()
                    table: dict[str, str] = {}
                    for service in session.get_available_services():
                        metadata = session.get_service_data(service).get("metadata", {})
                        name = sfn_name(metadata.get("serviceId", service))
                        # two botocore services can share a name: keep the one whose client name is it
                        if name not in table or service.replace("-", "") == name:
                            table[name] = service
                    table.update(SERVICE_EXCEPTIONS)
                    self._table = table
        return self._table

    def boto3_name(self, name: str) -> str | None:
        if name in SERVICE_EXCEPTIONS:
            return SERVICE_EXCEPTIONS[name]
        if self._table is None:
            # most names are the boto3 name without hyphens: check that one model, not all ~450
            import botocore.session

            session = botocore.session.get_session()
            for service in session.get_available_services():
                if service.replace("-", "") == name:
                    service_id = session.get_service_data(service).get("metadata", {}).get("serviceId", service)
                    if sfn_name(service_id) == name:
                        return service
        return self.table().get(name)


NAMES = _Names()


def jackson_boolean(value: Any) -> Any:
    """A JSON value for a Boolean member of an aws-sdk Task's request, as Jackson reads it into
    the Java SDK v2's request: whole numbers (0 is false), "true" and "false" in their three
    spellings (true, True, TRUE) with white space trimmed, "" and "null" as null; anything else
    is returned as it is (refused). Recorded on AWS (raw capture, radkawar/stackd
    testdata/aws/stepfunctions/sdk_requests.json: s3 listObjectsV2's FetchOwner given "true",
    "false", 1, 0, -1, " TRUE ", "" and "null" listed the owners for exactly the true ones)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, str):
        text = value.strip()
        if text in ("true", "True", "TRUE"):
            return True
        if text in ("false", "False", "FALSE"):
            return False
        if text in ("", "null"):
            return None
    return value


# ---- Parameters against the operation's input shape -----------------------------------------------

#: (finding is certain, message[, hint]): certain findings are AWS's recorded refusals (ERROR); the
#: others are likely refusals no recording shows (the validator's WARNING). A hint is ours.
Finding = tuple

_FLOAT_BOOLEAN = ("Cannot deserialize value of type `java.lang.Boolean` from Floating-point value "
                  "(token `JsonToken.VALUE_NUMBER_FLOAT`)")


def operation_model(service: str, action: str) -> Any:
    """botocore's model of ``aws-sdk:service:action`` (Step Functions' service name, the action in
    camelCase); None when botocore is not installed or does not know the service or operation."""
    try:
        import botocore.session

        name = NAMES.boto3_name(service)
        if name is None:
            return None
        model = botocore.session.get_session().get_service_model(name)
        operation = action[:1].upper() + action[1:]
        return model.operation_model(operation) if operation in model.operation_names else None
    except Exception:  # noqa: BLE001 - no botocore, or a model it cannot load: nothing to check
        return None


@functools.lru_cache(maxsize=256)
def input_shape(service: str, action: str) -> Any:
    """botocore's input shape of ``aws-sdk:service:action``, or None (`operation_model`)."""
    operation = operation_model(service, action)
    return None if operation is None else operation.input_shape


def _pascal(name: str) -> str:
    return name[:1].upper() + name[1:]


def parameter_problems(service: str, action: str, parameters: dict, dynamic: Any) -> list[Finding]:
    """What AWS says of the literal `parameters` of ``aws-sdk:service:action`` (see the module's
    docstring); `dynamic(key, value)` gives (member name, whether the value is only known at run
    time) for a key (JSONPath: ``Bucket.$``; JSONata: a ``{% %}`` value)."""
    shape = input_shape(service, action)
    if shape is None or shape.type_name != "structure":
        return []
    present = {_resolve(dynamic(key, value)[0], {name.lower(): _pascal(name) for name in shape.members})
               for key, value in parameters.items() if isinstance(key, str)}
    missing: list[Finding] = [(True, f"The field '{_pascal(name)}' is required but was missing")
                              for name in shape.required_members if _pascal(name) not in present]
    payload = shape.serialization.get("payload")
    member = shape.members.get(payload) if payload else None
    if member is not None and member.serialization.get("streaming") and payload not in shape.required_members \
            and _pascal(payload) not in present:
        # the Java SDK v2 sends a stream as a separate RequestBody; recorded for s3 putObject only
        missing.append(((service, action) == ("s3", "putObject"),
                        f"The field '{_pascal(payload)}' is required but was missing"))
    if missing:
        return missing
    found = _structure(shape, parameters, service, dynamic)
    return [found] if found else []


def _structure(shape: Any, value: dict, service: str, dynamic: Any) -> Finding | None:
    members = {_pascal(name): member for name, member in shape.members.items()}
    for key, item in value.items():
        if not isinstance(key, str):
            continue
        name, unknown_value = dynamic(key, item)
        member = members.get(_resolve(name, {known.lower(): known for known in members}))
        if member is None:
            message = f'The field "{name}" is not supported by Step Functions'
            meant = [known for known in members if known.lower() == name.lower()]
            if meant:
                message += f". Did you mean '{meant[0]}'?"
            return True, message, _close(name, members)
        if not unknown_value:
            found = _value(member, name, item, service, dynamic)
            if found:
                return found
    return None


def _resolve(name: str, folded: dict) -> str:
    """The member `name` stands for: the Java SDK v2 folds a run of capitals in a member's name
    (botocore's DBInstanceIdentifier, SNSTopicArn are DbInstanceIdentifier, SnsTopicArn there, as
    deployed AWS samples spell them: aws-samples sfn-rds-to-aurora-migrate-postgres-cdk,
    sfn-rekognition-video-catalog-workflow), but not always (S3's ChecksumSHA256 was taken,
    sdk_requests.json explicit-sha256): a name with a capital first letter that differs from a
    member only in case is taken as that member. One with a small first letter is not (label
    optional-name-case-with-body, "contentType"; required-name-case, "bucket")."""
    if name[:1].isupper():
        return folded.get(name.lower(), name)
    return name


def _close(name: str, members: dict) -> str | None:
    """Our guess at the member meant, for a name AWS would not suggest one for by its case alone.
    AWS suggests one by a rule no capture pins down ("Bogus" -> 'Bucket' in s3 putObject, label
    unknown-field-with-body; none among sqs MessageAttributeValue's, label nested-unknown), so the
    guess stays out of AWS's message."""
    import difflib

    if any(known.lower() == name.lower() for known in members):
        return None
    found = difflib.get_close_matches(name, list(members), n=1, cutoff=0.6)
    return f"did you mean '{found[0]}'?" if found else None


def _value(shape: Any, name: str, value: Any, service: str, dynamic: Any) -> Finding | None:
    """The first problem of a literal `value` for member `name` of type `shape`."""
    if value is None:
        return None
    kind = shape.type_name
    if kind == "structure":
        if shape.metadata.get("document"):
            return None
        if isinstance(value, str):
            return True, (f"Cannot construct instance of `software.amazon.awssdk.services.{service}.model."
                          f"{shape.name}$BuilderImpl` (although at least one Creator exists): no String-argument "
                          f"constructor/factory method to deserialize from String value ('{value}')")
        return _structure(shape, value, service, dynamic) if isinstance(value, dict) else None
    if kind == "list" and isinstance(value, list):
        for item in value:
            found = _value(shape.member, name, item, service, dynamic)
            if found:
                return found
    elif kind == "map" and isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and not dynamic(key, item)[1]:
                found = _value(shape.value, name, item, service, dynamic)
                if found:
                    return found
    elif kind == "string":
        if isinstance(value, int) and not isinstance(value, bool):
            return True, f"The value for the field '{name}' must be a STRING"
        if isinstance(value, (bool, float)):
            return False, f"The value for the field '{name}' must be a STRING"
    elif kind == "integer":
        if isinstance(value, (str, float)):
            return True, f"The value for the field '{name}' must be an INTEGER"
        if isinstance(value, bool):
            return False, f"The value for the field '{name}' must be an INTEGER"
    elif kind == "boolean":
        if isinstance(value, float):
            return True, _FLOAT_BOOLEAN
        if isinstance(value, str) and isinstance(jackson_boolean(value), str):
            return True, (f'Cannot deserialize value of type `java.lang.Boolean` from String "{value.strip()}": '
                          'only "true" or "false" recognized')
    return None
