"""The HTTP Task (``arn:aws:states:::http:invoke``) and API Gateway's ``apigateway:invoke``,
through httpx (INTEGRATIONS-SPEC.md sections 3 and 7; DG "call-https-apis", "connect-api-gateway").

HTTP Task Parameters: ``ApiEndpoint`` (the URL), ``Method``, ``Authentication.ConnectionArn``
(an EventBridge connection; ``InvocationConfig.ConnectionArn`` too), ``Headers`` and
``QueryParameters`` (objects; a list value repeats the parameter; encoded with ``%20`` for a
space), ``RequestBody`` (JSON, sent as JSON text; a string as is) and ``Transform``
(``RequestBodyEncoding: URL_ENCODED`` sends an object as a form, a nested object's members as
``o[k]=v``, arrays per ``RequestEncodingOptions.ArrayFormat``: INDICES (default)
``a[0]=x&a[1]=y``, REPEAT ``a=x&a=y``, COMMAS ``a=x,y``, BRACKETS ``a[]=x&a[]=y``). Step
Functions adds ``User-Agent: Amazon|StepFunctions|HttpInvoke|<region>`` and ``Range:
bytes=0-262144`` (no ``Accept``, no ``Accept-Encoding``). The result is ``{Headers: {name:
[values]}, ResponseBody (parsed when JSON; none for an empty body), StatusCode, StatusText}``;
a status outside 2xx fails the Task with ``States.Http.StatusCode.<status>``, the status text
for cause (none if empty); no answer within 60 seconds is ``States.Http.Socket``. What AWS does
was recorded in radkawar/stackd ``testdata/aws/stepfunctions/http_connections.json`` (an echo
endpoint's view of each request), cited where used. Headers AWS forbids (``Host``, ``Authorization``, ``x-amz-*`` ...:
`asl.resources.unsupported_headers`) are States.Runtime before any request.

Connections come from the run's connections file (`AwsConfig.connections`, ``asl run
--connections FILE``), which overrides, then, when the run calls EventBridge (``--aws``, an
``events`` endpoint), from EventBridge itself as on AWS: DescribeConnection gives the
authorization type and the secret's ARN, Secrets Manager's GetSecretValue the secret EventBridge
keeps (``events!connection/<name>/<id>/auth``, JSON with snake_case keys: ``api_key_name``,
``api_key_value``; ``username``, ``password``; ``authorization_endpoint``, ``http_method``,
``client_id``, ``client_secret``, ``oauth_http_parameters``; ``invocation_http_parameters``
with ``header_parameters``, ``query_string_parameters``, ``body_parameters`` of ``{key,
value}``). The file maps a connection ARN (or its name) to EventBridge's CreateConnection fields,
secrets included::

    {"arn:aws:events:us-east-1:123456789012:connection/stripe/1a2b": {
        "AuthorizationType": "API_KEY",
        "AuthParameters": {"ApiKeyAuthParameters": {"ApiKeyName": "x-api-key", "ApiKeyValue": "..."},
                           "InvocationHttpParameters": {"HeaderParameters": [{"Key": "k", "Value": "v"}]}}}}

``BASIC`` takes ``BasicAuthParameters {Username, Password}``; ``OAUTH_CLIENT_CREDENTIALS`` takes
``OAuthParameters {AuthorizationEndpoint, HttpMethod, ClientParameters {ClientID, ClientSecret},
OAuthHttpParameters}``: the token is fetched with the client credentials in a form
(``grant_type=client_credentials``, the OAuth body parameters, ``client_secret``,
``client_id``) and sent as ``Authorization: Bearer <access_token>``. The connection's header,
query and body parameters replace the Task's of exactly the same name.
Secrets are never written to the history or to logs.

``apigateway:invoke``: ``ApiEndpoint`` (the API's host; with ``http://`` or ``https://`` as
given, for a local API), ``Method``, ``Stage``, ``Path``, ``Headers`` and ``QueryParameters``
(``{name: [values]}``), ``RequestBody``; a status outside 2xx is ``ApiGateway.<status>`` with
the response body as cause (recorded on AWS, LS).
"""
from __future__ import annotations

import base64
import json
import threading
from contextvars import ContextVar
from typing import Any
from urllib.parse import quote

from ...errors import StatesError

# TestState at TRACE shows the HTTP Task's request and response (InspectionData request and
# response): around a TestState run this holds a list, each http:invoke call appends its exchange
EXCHANGES: ContextVar[list | None] = ContextVar("asl_http_exchanges", default=None)

TIMEOUT_SECONDS = 60.0  # AWS's: an HTTP Task that gets no answer within 60 s fails with States.Http.Socket
METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
ARRAY_FORMATS = ("INDICES", "REPEAT", "COMMAS", "BRACKETS")


def _runtime(problem: str) -> Exception:
    """Parameters the Task cannot use: States.Runtime "... could not be used to start the Task"."""
    from .shapes import Unusable

    return Unusable(problem)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def form_encode(body: dict, array_format: str = "INDICES") -> str:
    """An object as ``application/x-www-form-urlencoded`` text; arrays per `array_format`, a
    nested object's members as ``key[member]=value`` (recorded on AWS: radkawar/stackd
    http_connections.json, labels form-indices, form-repeat, form-commas, form-brackets:
    ``nested%5Benabled%5D=true``); names and values percent-encoded, a space as ``%20``."""
    pairs: list[tuple[str, str]] = []

    def add(key: str, value: Any) -> None:
        if isinstance(value, dict):
            for member, item in value.items():
                add(f"{key}[{member}]", item)
        elif isinstance(value, list):
            if array_format == "COMMAS":
                pairs.append((key, ",".join(_text(v) for v in value)))
                return
            for index, item in enumerate(value):
                add({"INDICES": f"{key}[{index}]", "BRACKETS": f"{key}[]", "REPEAT": key}[array_format], item)
        else:
            pairs.append((key, _text(value)))

    for key, value in body.items():
        add(key, value)
    return encode_pairs(pairs)


def encode_pairs(pairs: list[tuple[str, str]]) -> str:
    """``name=value&...``, each percent-encoded but for letters, digits and ``-_.~`` (a space is
    ``%20``, ``+`` is ``%2B``: AWS's query strings and form bodies, recorded in radkawar/stackd
    http_connections.json, basic-merge-json: ``taskOnly=a%2Bb%20%26%20c``)."""
    return "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)


# ---- connections ----------------------------------------------------------------------------

def _not_found(name: str) -> StatesError:
    # the error name DG "call-https-apis" lists; the cause EventBridge's DescribeConnection message
    return StatesError("Events.ConnectionResource.ResourceNotFound",
                       f"Failed to describe connection: Connection '{name}' does not exist.")


ACCESS_DENIED = {
    "connection": "No permissions to call RetrieveConnectionCredentials on the connection resource.",
    "secret": "No permissions to call DescribeSecret and/or GetSecretValue on the secret associated with the "
              "connection resource."}


class Connections:
    """The run's HTTP Task connections: its connections file (read once), else EventBridge's
    (`integrations`, when the run calls EventBridge)."""

    def __init__(self, path: str | None, integrations: Any = None):
        self.path = path
        self.integrations = integrations
        self._lock = threading.Lock()
        self._table: dict | None = None

    async def get(self, arn: str) -> dict:
        """The connection `arn` names, in CreateConnection's shape with its secrets."""
        if self._table is None:
            with self._lock:
                if self._table is None:
                    self._table = self._read()
        name = arn.split("connection/", 1)[-1].split("/", 1)[0] if "connection/" in arn else arn
        found = self._table.get(arn) or self._table.get(name)
        if found is not None:
            return found
        if self.integrations is None or not self.integrations.config.calls("events"):
            raise _not_found(name)
        from ..threads import run_in_thread

        return await run_in_thread(lambda: self._from_eventbridge(arn, name))

    def _from_eventbridge(self, arn: str, name: str) -> dict:
        """DescribeConnection, then the connection's secret from Secrets Manager (blocking)."""
        import botocore.exceptions as bex

        parts = arn.split(":")
        region = parts[3] if arn.startswith("arn:") and len(parts) > 3 and parts[3] else None
        clients = self.integrations.clients
        reading = "connection"
        try:
            described = clients.client("events", region).describe_connection(Name=name)
            state = described.get("ConnectionState")
            if state not in (None, "AUTHORIZED"):
                error = "AuthInProgress" if state in ("CREATING", "UPDATING", "AUTHORIZING") else \
                    "InvalidConnectionState"
                raise StatesError(f"Events.ConnectionResource.{error}",
                                  f"The connection '{name}' is {state}, not AUTHORIZED")
            reading = "secret"
            secret = clients.client("secretsmanager", region).get_secret_value(SecretId=described["SecretArn"])
        except bex.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "ResourceNotFoundException":
                raise _not_found(name) from None
            if "AccessDenied" in code:
                # AWS's causes (radkawar/stackd http_connections.json, the fixed-role controls: a
                # role without events:RetrieveConnectionCredentials, or without
                # secretsmanager:GetSecretValue or DescribeSecret on the connection's secret)
                raise StatesError("Events.ConnectionResource.AccessDenied", ACCESS_DENIED[reading]) from None
            raise StatesError("Events.ConnectionResource.InternalError",
                              f"The connection '{name}' could not be read: {exc}") from None
        except bex.BotoCoreError as exc:
            raise StatesError("Events.ConnectionResource.InternalError",
                              f"The connection '{name}' could not be read: {exc}") from None
        try:
            stored = json.loads(secret.get("SecretString") or "{}")
        except ValueError:
            stored = None
        if not isinstance(stored, dict):
            raise StatesError("Events.ConnectionResource.InternalError",
                              f"The secret of the connection '{name}' is not a JSON object")
        return from_secret(described.get("AuthorizationType"), described.get("AuthParameters") or {}, stored)

    def _read(self) -> dict:
        if self.path is None:
            return {}
        from ...source import SourceError, read_json

        try:
            table = read_json(self.path, "connections file")
        except SourceError as exc:
            raise StatesError("States.Runtime", f"asl-engine cannot read the connections file: {exc}") from None
        if not isinstance(table, dict):
            raise StatesError("States.Runtime", f"the connections file {self.path} must hold a JSON object "
                              "(connection ARN -> connection)")
        return table


_SECTIONS = {"header_parameters": "HeaderParameters", "query_string_parameters": "QueryStringParameters",
             "body_parameters": "BodyParameters"}


def _pascal_http_parameters(section: Any) -> dict | None:
    """``{header_parameters: [{key, value}]}`` (the secret's form) -> CreateConnection's
    ``{HeaderParameters: [{Key, Value}]}``; a section in that form already is kept."""
    if not isinstance(section, dict):
        return None
    out = {}
    for key, value in section.items():
        name = _SECTIONS.get(key, key)
        out[name] = [{"Key": p.get("key", p.get("Key")), "Value": p.get("value", p.get("Value"))}
                     for p in value or [] if isinstance(p, dict)]
    return out


def from_secret(kind: Any, described: dict, secret: dict) -> dict:
    """A connection in CreateConnection's shape from DescribeConnection's AuthParameters (secret
    values left out, as AWS returns them) and the secret EventBridge stores in Secrets Manager:
    its keys snake_case and flat (``client_id`` beside ``authorization_endpoint``, as read from
    AWS-made secrets in public code); moto nests ``client_parameters`` and writes
    ``o_auth_http_parameters``, read too."""
    def pick(*names: str, within: Any = secret) -> Any:
        for name in names:
            if isinstance(within, dict) and within.get(name) is not None:
                return within[name]
        return None

    auth: dict = {}
    if kind == "API_KEY":
        shown = described.get("ApiKeyAuthParameters") or {}
        auth["ApiKeyAuthParameters"] = {"ApiKeyName": pick("api_key_name") or shown.get("ApiKeyName"),
                                        "ApiKeyValue": pick("api_key_value")}
    elif kind == "BASIC":
        shown = described.get("BasicAuthParameters") or {}
        auth["BasicAuthParameters"] = {"Username": pick("username") or shown.get("Username"),
                                       "Password": pick("password")}
    elif kind == "OAUTH_CLIENT_CREDENTIALS":
        shown = described.get("OAuthParameters") or {}
        nested = secret.get("client_parameters")
        auth["OAuthParameters"] = {
            "AuthorizationEndpoint": pick("authorization_endpoint") or shown.get("AuthorizationEndpoint"),
            "HttpMethod": pick("http_method") or shown.get("HttpMethod"),
            "ClientParameters": {"ClientID": pick("client_id") or pick("client_id", within=nested)
                                 or (shown.get("ClientParameters") or {}).get("ClientID"),
                                 "ClientSecret": pick("client_secret") or pick("client_secret", within=nested)},
            "OAuthHttpParameters": _pascal_http_parameters(pick("oauth_http_parameters", "o_auth_http_parameters"))
            or shown.get("OAuthHttpParameters")}
    invocation = _pascal_http_parameters(pick("invocation_http_parameters")) or \
        described.get("InvocationHttpParameters")
    if invocation:
        auth["InvocationHttpParameters"] = invocation
    return {"AuthorizationType": kind, "AuthParameters": auth}


def _params(section: Any, key: str) -> list[tuple[str, str]]:
    return [(str(p.get("Key")), _text(p.get("Value"))) for p in (section or {}).get(key) or []
            if isinstance(p, dict)]


async def _authorize(client: Any, connection: dict, headers: dict, query: list, body: Any,
                     secret: dict | None = None) -> Any:
    """Apply the connection: its auth header and its extra header, query and body parameters,
    which replace the Task's of exactly the same name (DG "call-https-apis", "Merging
    EventBridge connection and HTTP Task definition data"). Recorded on AWS (radkawar/stackd
    http_connections.json, basic-merge-json): the connection's ``x-shared`` replaced the Task's
    ``x-shared`` while the Task's ``X-Shared`` was sent as well, after the connection's (the
    endpoint saw ``connection-header,task-case-header``); so names are compared as written and
    the connection's headers go first (as TRACE shows them on AWS: DG test-state-isolation,
    "Authorization: Basic XXXXXXXX, CustomHeader1: CustomHeaderValue1"). `headers` is updated in
    place. `secret` (if given) is told the names of what the connection added: ``{"headers",
    "query"}`` sets."""
    kind = connection.get("AuthorizationType")
    auth = connection.get("AuthParameters") or {}
    invocation = auth.get("InvocationHttpParameters")
    secret = secret if secret is not None else {"headers": set(), "query": set()}
    added: dict[str, str] = {}
    auth_header = None
    if kind == "API_KEY":
        api_key = auth.get("ApiKeyAuthParameters") or {}
        auth_header = str(api_key.get("ApiKeyName"))
        added[auth_header] = _text(api_key.get("ApiKeyValue"))
    elif kind == "BASIC":
        basic = auth.get("BasicAuthParameters") or {}
        pair = f"{basic.get('Username', '')}:{basic.get('Password', '')}".encode()
        auth_header = "Authorization"
        added[auth_header] = "Basic " + base64.b64encode(pair).decode()
    elif kind == "OAUTH_CLIENT_CREDENTIALS":
        auth_header = "Authorization"
        added[auth_header] = "Bearer " + await _oauth_token(client, auth.get("OAuthParameters") or {})
    elif kind is not None:
        raise _runtime(f"The connection's AuthorizationType '{kind}' is not API_KEY, BASIC or OAUTH_CLIENT_CREDENTIALS")
    for key, value in _params(invocation, "HeaderParameters"):
        if auth_header is not None and key.lower() == auth_header.lower():
            continue  # the auth header wins
        added[key] = value
    secret["headers"].update(added)
    task_headers = {name: value for name, value in headers.items() if name not in added}
    headers.clear()
    headers.update(added)
    headers.update(task_headers)
    extra_query = _params(invocation, "QueryStringParameters")
    names = {key for key, _ in extra_query}
    secret["query"].update(names)
    query[:] = [pair for pair in query if pair[0] not in names] + extra_query
    extra_body = _params(invocation, "BodyParameters")
    if extra_body:
        if isinstance(body, str):
            # AWS's cause (radkawar/stackd http_connections.json, string-body-connection-merge-error)
            raise StatesError("States.Runtime", "Cannot merge connection body authorization parameters with request body.")
        body = {**(body if isinstance(body, dict) else {}), **dict(extra_body)}
    return body


async def _oauth_token(client: Any, oauth: dict) -> str:
    """The access token of an OAuth connection, as EventBridge asks for it (recorded at the
    token endpoint: radkawar/stackd http_connections.json, echo-log-evidence): a form of the
    connection's OAuth body parameters, then ``client_secret`` and ``client_id`` (no HTTP basic
    authentication), with its OAuth header parameters; ``grant_type=client_credentials`` first
    unless the body parameters name it."""
    import httpx

    credentials = oauth.get("ClientParameters") or {}
    extra = oauth.get("OAuthHttpParameters")
    form = dict(_params(extra, "BodyParameters"))
    if "grant_type" not in form:
        form = {"grant_type": "client_credentials", **form}
    form["client_secret"] = _text(credentials.get("ClientSecret"))
    form["client_id"] = _text(credentials.get("ClientID"))
    headers = {"Content-Type": "application/x-www-form-urlencoded", **dict(_params(extra, "HeaderParameters"))}
    try:
        answer = await client.request(
            oauth.get("HttpMethod") or "POST", with_query(oauth.get("AuthorizationEndpoint") or "",
                                                          _params(extra, "QueryStringParameters")),
            content=encode_pairs(list(form.items())).encode(), headers=headers)
        token = answer.json().get("access_token") if answer.status_code < 400 else None
    except (httpx.HTTPError, ValueError, AttributeError):
        token = None
    if not isinstance(token, str) or not token:
        raise StatesError("Events.ConnectionResource.AuthInvalid",
                          "The OAuth authorization endpoint did not return an access token for the connection")
    return token


def with_query(endpoint: str, query: list[tuple[str, str]]) -> str:
    """`endpoint` with `query` added, encoded as AWS encodes it (`encode_pairs`)."""
    if not query:
        return endpoint
    return endpoint + ("&" if "?" in endpoint else "?") + encode_pairs(query)


# ---- the calls ------------------------------------------------------------------------------

def _result(answer: Any) -> dict:
    """The Task's result. Recorded on AWS (radkawar/stackd http_connections.json, basic-merge-json
    and the other successes): ``Headers`` maps each name as the server wrote it to its values, the
    names in the order a ``java.util.HashMap`` of them iterates (``Connection, x-amzn-RequestId,
    Content-Length, x-owned-response, Date, X-Amzn-Trace-Id, Content-Type``); an empty body has
    no ``ResponseBody`` (status-204; fixed-role-head-no-body, a HEAD); a JSON body is parsed,
    another (text/plain) kept as text (response-plain-text)."""
    from ...jackson import java_hash_order

    every: dict[str, list[str]] = {}
    for name, value in answer.headers.raw:
        every.setdefault(name.decode("latin-1"), []).append(value.decode("latin-1"))
    names = list(every)
    result: dict[str, Any] = {"Headers": {names[i]: every[names[i]] for i in java_hash_order(names)}}
    if answer.content:
        body: Any = answer.text
        media = answer.headers.get("content-type", "").split(";")[0].strip().lower()
        if media == "application/json" or media.endswith("+json"):
            try:
                body = answer.json()
            except ValueError:
                pass
        result["ResponseBody"] = body
    result["StatusCode"] = answer.status_code
    result["StatusText"] = answer.reason_phrase
    return result


async def _send(method: str, url: str, headers: dict, query: list | None, content: Any, bare: bool = False) -> Any:
    """The response, or States.Http.Socket when none came. DG "call-https-apis" names
    States.Http.Socket for a request that gets no answer within 60 seconds; a refused or reset
    connection has no documented name or recording (AWS docs, GitHub issues and public code were
    searched), so it gets the same name, as no response arrived either. Both causes are ours
    (unverified): they say what happened, the URL and the transport's reason. `bare`: send no
    ``Accept`` and ``Accept-Encoding`` of the client's own (an HTTP Task's request has none:
    every request the endpoint echoed in radkawar/stackd http_connections.json)."""
    import httpx

    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
        if bare:
            for name in ("Accept", "Accept-Encoding"):
                del client.headers[name]
        try:
            return await client.request(method, url, headers=headers, params=query or None, content=content)
        except httpx.TimeoutException:
            raise StatesError("States.Http.Socket", f"The HTTP request to {url} got no answer within "
                              f"{TIMEOUT_SECONDS:.0f} seconds") from None
        except httpx.HTTPError as exc:
            raise StatesError("States.Http.Socket", f"The HTTP request to {url} failed: {exc}") from None


def _body(body: Any, headers: dict, encoding: str, array_format: str) -> bytes | None:
    """The request body; a ``Content-Type`` of its kind unless the Task gave one, in any case
    (recorded: radkawar/stackd http_connections.json, basic-merge-json and string-body-no-merge
    sent the Task's ``content-type`` alone)."""
    if body is None:
        return None
    given = any(name.lower() == "content-type" for name in headers)
    if encoding == "URL_ENCODED" and isinstance(body, dict):
        if not given:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        return form_encode(body, array_format).encode()
    if not given:
        headers["Content-Type"] = "application/json; charset=UTF-8"
    return (body if isinstance(body, str) else json.dumps(body, separators=(",", ":"), ensure_ascii=False)).encode()


def _pairs(value: Any, field: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        raise _runtime(f"The value of the field '{field}' has an invalid format")
    out = []
    for key, item in value.items():
        for one in item if isinstance(item, list) else [item]:
            out.append((key, _text(one)))
    return out


def _trace(headers: dict, trace: dict | None) -> None:
    """Pass the Task attempt's W3C trace context on (when the run is traced), so an instrumented
    server continues the trace, as boto3 calls do; a header the Task sets itself wins."""
    present = {name.lower() for name in headers}
    for name, value in (trace or {}).items():
        if name.lower() not in present:
            headers[name] = value


async def http_invoke(integrations: Any, arguments: dict, region: str, trace: dict | None = None) -> Any:
    import httpx

    endpoint, method = arguments.get("ApiEndpoint"), arguments.get("Method")
    if not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://")):
        raise _runtime("The value of the field 'ApiEndpoint' has an invalid format")
    if method not in METHODS:
        raise _runtime("The value of the field 'Method' has an invalid format")
    transform = arguments.get("Transform") or {}
    encoding = transform.get("RequestBodyEncoding") or "NONE"
    array_format = (transform.get("RequestEncodingOptions") or {}).get("ArrayFormat") or "INDICES"
    if encoding not in ("NONE", "URL_ENCODED") or array_format not in ARRAY_FORMATS:
        raise _runtime("The value of the field 'Transform' has an invalid format")
    headers = dict(_pairs(arguments.get("Headers"), "Headers"))
    query = _pairs(arguments.get("QueryParameters"), "QueryParameters")
    body = arguments.get("RequestBody")
    connection_arn = ((arguments.get("Authentication") or arguments.get("InvocationConfig") or {})
                      .get("ConnectionArn"))
    task_body, secret = body, {"headers": set(), "query": set()}
    if connection_arn is not None:
        connection = await integrations.connections.get(str(connection_arn))
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
            body = await _authorize(client, connection, headers, query, body, secret)
    headers["User-Agent"] = f"Amazon|StepFunctions|HttpInvoke|{region}"
    headers["Range"] = "bytes=0-262144"
    shown = dict(headers)  # TRACE shows these: not the default Content-Type, nor the trace headers
    _trace(headers, trace)
    content = _body(body, headers, encoding, array_format)
    answer = await _send(method, with_query(endpoint, query), headers, None, content, bare=True)
    exchanges = EXCHANGES.get()
    if exchanges is not None:  # (a TestState run)
        if task_body is not body:  # the connection's body parameters: without them, the Task's body
            secret["body"] = _body(task_body, dict(headers), encoding, array_format) or b""
        exchanges.append(Exchange(method, endpoint, shown, query, content, answer, secret))
    media = answer.headers.get("content-type", "").split(";")[0].strip().lower()
    if media == "application/octet-stream" or media.startswith(("image/", "video/", "audio/")):
        # DG "call-https-apis", "Unsupported HTTP Task responses"; AWS's cause recorded
        # (radkawar/stackd http_connections.json, response-unsupported-content-type)
        raise StatesError("States.Runtime", f"Unsupported response content-type '{media}'. Please see documentation "
                          "for list of unsupported content-types.")
    result = _result(answer)
    if not 200 <= answer.status_code < 300:
        # the cause is the status text alone, the body dropped, none when the text is empty:
        # recorded on AWS (radkawar/stackd http_connections.json: method-head, 403, "Forbidden";
        # status-418, no cause), as by a user of the HTTP Task ("States.Http.StatusCode.400",
        # "Bad Request", a deployed workflow's README on GitHub)
        raise StatesError(f"States.Http.StatusCode.{answer.status_code}", answer.reason_phrase or None)
    return result


class Exchange:
    """One HTTP Task request and its response, as TestState shows them at TRACE (InspectionData
    ``request``, ``response``: each a member of text values). What the connection added (its
    auth header, header, query and body parameters) is shown only with `reveal` (revealSecrets,
    API TestState: "a secret includes the data that an EventBridge connection adds to modify the
    HTTP request headers, query parameters, and body"); the rest is shown as sent. As the
    TestState example of AWS's developer guide (TRACE, an HTTP Task calling httpbin.org) shows
    them: ``protocol`` is the URL's scheme (``https``), headers are written ``[Name: value, Name:
    value]``, the request's being those Step Functions sets (the Task's, the connection's,
    User-Agent, Range; not the Content-Type and trace headers added on the way out), the
    response's as received; ``statusCode`` is text."""

    def __init__(self, method: str, endpoint: str, headers: dict, query: list, content: bytes | None, answer: Any,
                 secret: dict):
        """`secret`: the names of the headers and query parameters the connection
        added, and under ``body`` the body without the connection's parameters, if it added any."""
        self.method, self.endpoint, self.headers, self.query = method, endpoint, dict(headers), list(query)
        self.content, self.answer, self.secret = content, answer, secret

    def request(self, reveal: bool) -> dict:
        headers = [(k, v) for k, v in self.headers.items() if reveal or k not in self.secret["headers"]]
        query = [(k, v) for k, v in self.query if reveal or k not in self.secret["query"]]
        content = self.content if reveal or "body" not in self.secret else self.secret["body"]
        return {"protocol": self._scheme(), "method": self.method,
                "url": with_query(self.endpoint, query),
                "headers": _headers_text(headers), "body": (content or b"").decode("utf-8", "replace")}

    def response(self) -> dict:
        answer = self.answer
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in answer.headers.raw]
        return {"protocol": self._scheme(), "statusCode": str(answer.status_code),
                "statusMessage": answer.reason_phrase, "headers": _headers_text(headers), "body": answer.text}

    def _scheme(self) -> str:
        return self.endpoint.partition("://")[0].lower()


def _headers_text(pairs: list) -> str:
    return "[" + ", ".join(f"{name}: {value}" for name, value in pairs) + "]"


async def apigateway_invoke(arguments: dict, trace: dict | None = None) -> Any:
    endpoint, method = arguments.get("ApiEndpoint"), arguments.get("Method")
    if not isinstance(endpoint, str) or not endpoint:
        raise _runtime("The value of the field 'ApiEndpoint' has an invalid format")
    if method not in METHODS:
        raise _runtime("The value of the field 'Method' has an invalid format")
    base = endpoint if endpoint.startswith(("http://", "https://")) else f"https://{endpoint}"
    parts = [str(p).strip("/") for p in (arguments.get("Stage"), arguments.get("Path")) if p]
    url = "/".join([base.rstrip("/"), *parts])
    headers = {}
    for name, value in _pairs(arguments.get("Headers"), "Headers"):
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    query = _pairs(arguments.get("QueryParameters"), "QueryParameters")
    _trace(headers, trace)
    answer = await _send(method, url, headers, query, _body(arguments.get("RequestBody"), headers, "NONE", "INDICES"))
    result = _result(answer)
    if not 200 <= answer.status_code < 300:
        body = result["ResponseBody"]
        raise StatesError(f"ApiGateway.{answer.status_code}",
                          body if isinstance(body, str) else json.dumps(body, separators=(",", ":")))
    return result


async def call(integrations: Any, info: Any, arguments: Any, region: str, clock: Any) -> Any:
    """Run an HTTP Task or ``apigateway:invoke``."""
    if not isinstance(arguments, dict):
        raise _runtime("The value of the field 'Parameters' has an invalid format")
    from ..clock import run_outside
    from ..tasks import trace_headers

    trace = trace_headers()  # the attempt's span, taken here (the call runs in a task of its own)
    # virtual time waits for the server, and the answer comes back in turn, as a thread's
    if info.kind == "http":
        return await run_outside(lambda: http_invoke(integrations, arguments, region, trace), clock)
    return await run_outside(lambda: apigateway_invoke(arguments, trace), clock)
