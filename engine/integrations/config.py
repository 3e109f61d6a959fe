"""Where the services are: endpoints, region and credentials, resolved once per run
(INTEGRATIONS-SPEC.md section 7), and the boto3 clients built from them.

Endpoint of boto3 service ``X``, first that applies:

1. the run's option (``asl run --endpoint-url X=URL``, ``aws={"endpoints": {"X": URL}}``);
   a URL given for ``*`` (``--endpoint-url URL``) serves every service, as moto's server and
   LocalStack do;
2. AWS Step Functions Local's variables (``LAMBDA_ENDPOINT``, ``DYNAMODB_ENDPOINT``, ...);
3. nothing: botocore then applies ``AWS_ENDPOINT_URL_<SERVICE_ID>``, ``AWS_ENDPOINT_URL``, the
   profile's ``services`` section, and finally AWS itself.

Step Functions Local's variables, or endpoints given without ``--aws`` (``[tool.asl]
endpoints``), turn the layer on for those services only (`AwsConfig.only`).

Region: a Lambda ARN's own region, then the option, then botocore's (``AWS_REGION``,
``AWS_DEFAULT_REGION``, the profile), then the execution's. Credentials: botocore's default
chain (environment, shared files, SSO, container and instance roles), or the option's profile;
a Task's ``Credentials.RoleArn`` is assumed through STS (the configured STS endpoint) unless
``assume_role`` is False, and clients are cached per (service, region, role).

boto3 is imported only here and only when a run calls a service (it is the ``aws`` extra).
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from typing import Any, Mapping

#: AWS Step Functions Local's endpoint variables -> the boto3 service they point.
SFN_LOCAL_VARIABLES = {
    "LAMBDA_ENDPOINT": "lambda", "SQS_ENDPOINT": "sqs", "SNS_ENDPOINT": "sns", "DYNAMODB_ENDPOINT": "dynamodb",
    "ECS_ENDPOINT": "ecs", "BATCH_ENDPOINT": "batch", "GLUE_ENDPOINT": "glue", "SAGE_MAKER_ENDPOINT": "sagemaker",
    "STEP_FUNCTIONS_ENDPOINT": "stepfunctions", "EVENTBRIDGE_ENDPOINT": "events",
}

#: Names users write for a service in ``--endpoint-url NAME=URL`` that are not boto3's.
ENDPOINT_ALIASES = {"states": "stepfunctions", "sfn": "stepfunctions", "eventbridge": "events",
                    "cloudwatchlogs": "logs"}


class AwsConfigError(ValueError):
    """Raised by `AwsConfig.of` for an option it cannot use (a malformed ``SERVICE=URL``)."""


@dataclass(frozen=True)
class AwsConfig:
    """How a run reaches AWS services for the Tasks no handler or mock serves.

    endpoints    boto3 service name (or ``*`` for all) -> endpoint URL; default none (AWS, or
                 what botocore's own variables say)
    region       default None: botocore's configured region, else the execution's
    profile      a shared-config profile for credentials and region; default None: the default chain
    only         True: call only the services `endpoints` names (turned on by Step Functions
                 Local's variables or ``[tool.asl]`` endpoints, not by ``--aws``); default False
    assume_role  assume a Task's ``Credentials.RoleArn`` through STS; default True (False: the
                 run's own credentials serve every Task)
    poll_seconds how often a ``.sync`` job is described until it ends; default 5 (of the
                 execution's clock: no real time under virtual time)
    connections  a JSON file of HTTP Task connections (ARN -> auth), for ``http:invoke``;
                 default None
    """

    endpoints: Mapping[str, str] = field(default_factory=dict)
    region: str | None = None
    profile: str | None = None
    only: bool = False
    assume_role: bool = True
    poll_seconds: float = 5.0
    connections: str | None = None

    FIELDS = ("endpoints", "region", "profile", "only", "assume_role", "poll_seconds", "connections")

    @classmethod
    def of(cls, value: Any) -> "AwsConfig | None":
        """The run's configuration from ``aws=``: None/False (services off), True (on, defaults),
        a dict of the fields, or an AwsConfig; Step Functions Local's variables are read here."""
        if value is None or value is False:
            # Step Functions Local's variables call those services without --aws
            found = {service: os.environ[v] for v, service in SFN_LOCAL_VARIABLES.items() if os.environ.get(v)}
            if not found:
                return None
            value = {"endpoints": found, "only": True}
        import importlib.util

        missing = [name for name in ("boto3", "httpx") if importlib.util.find_spec(name) is None]
        if missing:  # (the aws extra: boto3 for the services, httpx for HTTP Tasks and API Gateway)
            from ...extras import install_hint

            raise AwsConfigError(f"calling AWS services needs {' and '.join(missing)}: {install_hint('aws')}")
        if isinstance(value, AwsConfig):
            config = value
        elif value is True:
            config = cls()
        elif isinstance(value, Mapping):
            unknown = set(value) - set(cls.FIELDS)
            if unknown:
                raise AwsConfigError(f"unknown AWS option(s): {', '.join(sorted(unknown))} "
                                     f"(use {', '.join(cls.FIELDS)})")
            config = cls(**value)
        else:
            raise AwsConfigError(f"aws= takes True, a dict or an AwsConfig, not {type(value).__name__}")
        endpoints = {boto3_endpoint_name(k): v for k, v in parse_endpoints(config.endpoints).items()}
        for variable, service in SFN_LOCAL_VARIABLES.items():
            if os.environ.get(variable) and service not in endpoints:
                endpoints[service] = os.environ[variable]
        from dataclasses import replace

        return replace(config, endpoints=endpoints)

    def endpoint(self, service: str) -> str | None:
        return self.endpoints.get(service) or self.endpoints.get("*")

    def calls(self, service: str) -> bool:
        """Whether this run calls the boto3 service `service` (`only`: those given an endpoint)."""
        return not self.only or self.endpoint(service) is not None


def boto3_endpoint_name(name: str) -> str:
    name = name.strip()
    return ENDPOINT_ALIASES.get(name.lower(), name.lower()) if name != "*" else name


def parse_endpoints(spec: Any) -> dict[str, str]:
    """``{"sqs": URL}``, or the CLI's ``["sqs=URL", "URL"]`` (a bare URL serves every service)."""
    if isinstance(spec, Mapping):
        return dict(spec)
    out: dict[str, str] = {}
    for item in spec or ():
        name, sep, url = item.partition("=")
        if not sep:
            name, url = "*", item
        if not name or not url.startswith(("http://", "https://")):
            raise AwsConfigError(f"--endpoint-url {item!r}: expected SERVICE=URL or URL, with an http(s) URL")
        out[name] = url
    return out


#: The timeouts (seconds) of `Clients.quick_client`: a service that does not answer in them is
#: taken as one that cannot tell.
QUICK = {"connect_timeout": 3, "read_timeout": 5}
QUICK_CLIENT = "(quick)"  # its key in the cache, where a role's ARN would be


class Clients:
    """boto3 clients of one configuration, cached per (service, region, role).

    botocore's clients are thread-safe once built; building them is not, hence the lock.
    """

    def __init__(self, config: AwsConfig, default_region: str):
        self.config = config
        self.default_region = default_region
        self._lock = threading.Lock()
        self._session: Any = None
        self._clients: dict[tuple[str, str, str | None], Any] = {}

    def session(self) -> Any:
        if self._session is None:
            import boto3

            self._session = boto3.session.Session(profile_name=self.config.profile)
        return self._session

    def region(self, wanted: str | None = None) -> str:
        return wanted or self.config.region or self.session().region_name or self.default_region

    def client(self, service: str, region: str | None = None, role: str | None = None) -> Any:
        region = self.region(region)
        role = role if self.config.assume_role else None
        key = (service, region, role)
        client = self._clients.get(key)
        if client is None:
            keys = self._assume(role, region) if role else {}  # outside the lock: a call to STS
            with self._lock:
                client = self._clients.get(key)
                if client is None:
                    client = self._build(service, region, keys)
                    self._clients[key] = client
        return client

    def quick_client(self, service: str, region: str | None = None) -> Any:
        """A client of the run's own credentials for a question that must not wait long: one
        attempt, `QUICK` timeouts (a plain client retries 3 times, waiting up to 60 s for each)."""
        region = self.region(region)
        key = (service, region, QUICK_CLIENT)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                client = self._clients[key] = self._build(service, region, quick=True)
        return client

    def _assume(self, role: str, region: str) -> dict:
        """Temporary credentials of `role` (STS AssumeRole with the run's own credentials)."""
        from ...errors import StatesError

        import botocore.exceptions as bex

        try:
            answer = self.client("sts", region).assume_role(RoleArn=role, RoleSessionName="asl-engine")
        except (bex.ClientError, bex.BotoCoreError) as exc:
            raise StatesError("States.TaskFailed", f"asl-engine could not assume the role '{role}' "
                              f"(Credentials.RoleArn) through STS: {exc}") from None
        found = answer["Credentials"]
        return {"aws_access_key_id": found["AccessKeyId"], "aws_secret_access_key": found["SecretAccessKey"],
                "aws_session_token": found["SessionToken"]}

    def _build(self, service: str, region: str, keys: dict | None = None, quick: bool = False) -> Any:
        from botocore.config import Config

        endpoint = self.config.endpoint(service)
        # S3 through one endpoint for all services (moto, LocalStack) needs path-style addresses
        extra: dict[str, Any] = {"s3": {"addressing_style": "path"}} if service == "s3" and endpoint else {}
        if endpoint:
            # an endpoint given is the host to reach: no operation's host prefix before it (MWAA's
            # "api.", Cloud Map's "data-", StartSyncExecution's "sync-" would name no host there)
            extra["inject_host_prefix"] = False
        retries = {"mode": "standard", "total_max_attempts": 1} if quick else {"mode": "standard"}
        extra.update(QUICK if quick else {})
        client = self.session().client(service, region_name=region, endpoint_url=endpoint,
                                       config=Config(retries=retries, **extra), **(keys or {}))
        # keep the response headers with their case, as AWS's SDK reports them (SdkHttpMetadata)
        client.meta.events.register("after-call", _keep_headers)
        client.meta.events.register("before-send", _trace_context)
        if service == "s3":
            _plain_listings(client)
        return client


def _plain_listings(client: Any) -> None:
    """No ``encoding-type=url`` of botocore's own on S3's listings: the Java SDK that AWS calls S3
    with sends none, and the answer of a listObjectsV2 Task has no ``EncodingType`` (recorded:
    radkawar/stackd task_integrations.json, s3-empty-list, s3-flow's S3List); with it, S3 answers
    ``"EncodingType": "url"``, which botocore leaves in the result."""
    from botocore.handlers import set_list_objects_encoding_type_url

    for operation in ("ListObjects", "ListObjectsV2", "ListObjectVersions"):
        client.meta.events.unregister(f"before-parameter-build.s3.{operation}", set_list_objects_encoding_type_url)


def _trace_context(request: Any = None, **_: Any) -> None:
    """Send the current span's W3C trace context (a Task attempt's, when the run is traced), so a
    service that reads it (`asl serve`'s StartExecution, an instrumented server) continues the
    trace; nothing is added when no span is current."""
    from ..tasks import trace_headers

    if request is not None:
        for key, value in trace_headers().items():
            request.headers[key] = value


def _keep_headers(http_response: Any = None, parsed: Any = None, **_: Any) -> None:
    if http_response is not None and isinstance(parsed, dict):
        meta = parsed.setdefault("ResponseMetadata", {})
        meta["RawHeaders"] = list(http_response.headers.items())


class RoleClients:
    """The clients of one Task: `clients` as the role its ``Credentials.RoleArn`` names (None: the run's own)."""

    def __init__(self, clients: Clients, role: str | None):
        self.clients, self.role, self.config = clients, role, clients.config

    def client(self, service: str, region: str | None = None) -> Any:
        return self.clients.client(service, region, self.role)
