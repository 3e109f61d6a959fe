"""The web console: pages served at ``/`` (plain HTML, JS and CSS shipped in the package, no
build step) and the JSON they read under ``/console/api/``.

Every view is read through the service's own actions (`Service.DescribeExecution`,
`GetExecutionHistory`, ...), so the console shows what boto3 would see; the graph is
`asl.graph.build_graph` (drawn by Graphviz when it is installed) and what happened in an
execution is read by the one history walker, `asl.history.Timeline`. Times are the API's: to the
millisecond, written as the API writes them (`asl.engine.apitime`), whether the console reads them
from an answer, a record or a history (a record of ``asl run --virtual-time`` keeps its clock's
microseconds, which the API drops).

    GET  /console/api/machines                       state machines
    GET  /console/api/machine?arn=                   definition, versions, aliases
    GET  /console/api/executions?machine=&status=&q=&mapRun=&page=&size=
    GET  /console/api/execution?arn=&after=          the execution, its states, events (after the
                                                     first `after`) and Map Runs
    GET  /console/api/graph?execution= | ?machine=   the graph: nodes, edges, clusters, SVG
    POST /console/api/start {stateMachineArn, name?, input}
    POST /console/api/stop {executionArn, error?, cause?}
    POST /console/api/redrive {executionArn}
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import parse_qs

from asl.engine.apitime import api_time, java_times
from asl.jsontext import ESCAPE

from .protocol import ServiceError, validate

STATIC = {"/": ("console.html", "text/html; charset=utf-8"),
          "/console/console.js": ("console.js", "text/javascript; charset=utf-8"),
          "/console/console.css": ("console.css", "text/css; charset=utf-8")}
RUNNING_COLOURS = ("#d6e9ff", "#0972d3", "#053d7a")  # fill, border, text, as asl.graph.COLOURS
PAGE_SIZE = 50  # executions per page unless ?size= says otherwise (at most 1,000)


class Console:
    """`await Console(service).answer(method, path, query, body)` → (status, content type, bytes)."""

    def __init__(self, service: Any):
        self.service = service

    async def answer(self, method: str, path: str, query: str, body: bytes,
                     headers: dict[str, str] | None = None) -> tuple[int, str, bytes]:
        if method == "GET" and path in STATIC:
            name, kind = STATIC[path]
            return 200, kind, _asset(name)
        route = ROUTES.get((method, path))
        if route is None:
            return _json(404, {"error": "NotFound", "message": f"no such page: {method} {path}"})
        try:
            params = {k: v[-1] for k, v in parse_qs(query).items()}
            if method == "POST":
                _same_origin(headers or {})
                params = json.loads(body or b"{}")
                if not isinstance(params, dict):
                    raise ServiceError("ValidationException", "the request body must be a JSON object")
            return _json(200, await route(self, params))
        except json.JSONDecodeError as exc:
            return _json(400, {"error": "ValidationException", "message": f"the request body is not JSON: {exc}"})
        except ServiceError as err:
            return _json(err.status, {"error": err.code, "message": err.message})

    async def call(self, action: str, body: dict) -> dict:
        """One action of the service, its request checked as the API checks it."""
        validate(action, body)
        return await getattr(self.service, action)(body)

    async def _all(self, action: str, body: dict, member: str) -> list:
        items: list = []
        while True:
            page = await self.call(action, {**body, "maxResults": 1000})
            items += page[member]
            if not page.get("nextToken"):
                return items
            body = {**body, "nextToken": page["nextToken"]}

    # ---- state machines ------------------------------------------------------------------------

    async def machines(self, params: dict) -> dict:
        """The state machines, then those known only from their executions' records."""
        machines = await self._all("ListStateMachines", {}, "stateMachines")
        known = {m["stateMachineArn"] for m in machines}
        for record in reversed(await self.service.store.list()):  # oldest first: each one's first run
            if record.state_machine_arn not in known and not record.options.get("mapRunArn"):
                known.add(record.state_machine_arn)
                machines.append({"stateMachineArn": record.state_machine_arn, "name": record.state_machine_name,
                                 "type": record.type, "creationDate": record.start_time, "recorded": True})
        return {"stateMachines": machines}

    async def machine(self, params: dict) -> dict:
        arn = _required(params, "arn")
        try:
            described = await self.call("DescribeStateMachine", {"stateMachineArn": arn})
        except ServiceError as err:
            if err.code != "StateMachineDoesNotExist":
                raise
            return {"stateMachine": await self._recorded_machine(arn, err), "versions": [], "aliases": [],
                    "recorded": True}
        versions = await self._all("ListStateMachineVersions", {"stateMachineArn": arn}, "stateMachineVersions")
        aliases = await self._all("ListStateMachineAliases", {"stateMachineArn": arn}, "stateMachineAliases")
        aliases = [await self.call("DescribeStateMachineAlias", {"stateMachineAliasArn": a["stateMachineAliasArn"]})
                   for a in aliases]
        return {"stateMachine": described, "versions": versions, "aliases": aliases}

    async def _recorded_machine(self, arn: str, missing: ServiceError) -> dict:
        """A state machine known only from its executions (``asl run --store``, a machine deleted
        since): as its newest execution recorded it."""
        records = [r for r in await self.service.store.list(state_machine_arn=arn) if not r.options.get("mapRunArn")]
        if not records:
            raise missing
        newest = records[0]
        return {"stateMachineArn": arn, "name": newest.state_machine_name, "type": newest.type,
                "definition": newest.definition, "creationDate": records[-1].start_time, "status": "ACTIVE"}

    async def _machine_definition(self, arn: str) -> str:
        try:
            return (await self.call("DescribeStateMachine", {"stateMachineArn": arn}))["definition"]
        except ServiceError as err:
            if err.code != "StateMachineDoesNotExist":
                raise
            return (await self._recorded_machine(arn, err))["definition"]

    # ---- executions ----------------------------------------------------------------------------

    async def executions(self, params: dict) -> dict:
        """One page of executions, newest first: of one machine (or of all), one Map Run, one
        status, whose name or ARN holds ``q``."""
        status = params.get("status") or None
        if status is not None and status not in ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED",
                                                 "PENDING_REDRIVE"):
            raise ServiceError("ValidationException", f"unknown status: {status}")
        map_run = params.get("mapRun") or None
        machine = params.get("machine") or None
        if map_run:
            records = (await self.service.store.list(status=status, state_machine_arn=(
                await self.service.map_runs.get(map_run))["stateMachineArn"]))
            records = [r for r in records if r.options.get("mapRunArn") == map_run]
        else:
            records = await self.service.store.list(status=status, state_machine_arn=machine)
            records = [r for r in records if not r.options.get("mapRunArn")]
        items = self.service.execution_items(records, {})
        for item, record in zip(items, records):
            item["stateMachineName"] = record.state_machine_name
        if not map_run:  # the Express executions the service keeps, among them by start date
            express = [_express_described(e, brief=True) for e in self.service.express.values()]
            express = [e for e in express if (status is None or e["status"] == status)
                       and (machine is None or e["stateMachineArn"] == machine)]
            if express:
                items = sorted(items + express, key=lambda e: e["startDate"], reverse=True)
        search = (params.get("q") or "").strip().lower()
        if search:
            items = [e for e in items if search in e["name"].lower() or search in e["executionArn"].lower()]
        size = min(max(_number(params, "size", PAGE_SIZE), 1), 1000)
        page = max(_number(params, "page", 1), 1)
        return {"executions": items[(page - 1) * size: page * size], "total": len(items), "page": page,
                "pages": max(1, -(-len(items) // size)), "size": size}

    async def execution(self, params: dict) -> dict:
        from asl.history import Timeline

        arn = _required(params, "arn")
        express = self.service.express.get(arn)
        if express is not None:  # kept by the service (the API has no record of it)
            described, history, map_runs = _express_described(express), express.history.events, []
        else:
            described = await self.call("DescribeExecution", {"executionArn": arn})
            if _dispatched_express(arn):  # a Map Run's EXPRESS child: described, no history (as AWS keeps none)
                history, map_runs = [], []
            else:
                history = await self._all("GetExecutionHistory", {"executionArn": arn}, "events")
                map_runs = [await self.call("DescribeMapRun", {"mapRunArn": m["mapRunArn"]})
                            for m in await self._all("ListMapRuns", {"executionArn": arn}, "mapRuns")]
        timeline = Timeline(history)
        outcomes, taken = _outcomes(await self._definition(arn), timeline, described["status"])
        after = max(_number(params, "after", 0), 0)  # the events the page has already
        return {"execution": described, "states": _states(timeline, described["status"]), "runs": _runs(timeline),
                "events": _event_rows(timeline.events[after:], timeline.start),
                "eventCount": len(history), "outcomes": outcomes, "taken": taken, "mapRuns": map_runs}

    async def _definition(self, arn: str) -> str:
        express = self.service.express.get(arn)
        if express is not None:
            return json.dumps(express.machine.definition)
        if _dispatched_express(arn):  # (the API refuses an Express one: its record has the processor)
            await self.call("DescribeExecution", {"executionArn": arn})
            return (await self.service.store.get(arn)).definition
        return (await self.call("DescribeStateMachineForExecution", {"executionArn": arn}))["definition"]

    async def graph(self, params: dict) -> dict:
        if params.get("execution"):
            definition = await self._definition(params["execution"])
        else:
            definition = await self._machine_definition(_required(params, "machine"))
        from asl.graph import COLOURS

        graph = _graph_of(definition)
        return {"nodes": [vars(n) for n in graph.nodes], "edges": [vars(e) for e in graph.edges],
                "clusters": [vars(c) for c in graph.clusters], "svg": _svg(definition),
                "colours": {"running": RUNNING_COLOURS, **COLOURS}}

    # ---- actions -------------------------------------------------------------------------------

    async def start(self, params: dict) -> dict:
        value = params.get("input", "{}")
        body = {"stateMachineArn": _required(params, "stateMachineArn"),
                "input": value if isinstance(value, str) else json.dumps(value)}
        if params.get("name"):
            body["name"] = params["name"]
        return await self.call("StartExecution", body)

    async def stop(self, params: dict) -> dict:
        body = {k: params[k] for k in ("executionArn", "error", "cause") if params.get(k)}
        return await self.call("StopExecution", body)

    async def redrive(self, params: dict) -> dict:
        return await self.call("RedriveExecution", {"executionArn": _required(params, "executionArn")})


ROUTES = {("GET", "/console/api/machines"): Console.machines, ("GET", "/console/api/machine"): Console.machine,
          ("GET", "/console/api/executions"): Console.executions,
          ("GET", "/console/api/execution"): Console.execution, ("GET", "/console/api/graph"): Console.graph,
          ("POST", "/console/api/start"): Console.start, ("POST", "/console/api/stop"): Console.stop,
          ("POST", "/console/api/redrive"): Console.redrive}


# --------------------------------------------------------------------------------------------
# What an execution did, for the page
# --------------------------------------------------------------------------------------------

def _outcomes(definition: str, timeline: Any, status: str) -> tuple[dict[str, str], list[list[str]]]:
    """Each graph node's outcome (``running`` for a state entered and not left while the
    execution runs, ``not visited`` for the rest) and the edges taken, by node id."""
    from asl.graph import build_graph

    coloured = build_graph(_machine(definition), timeline)
    running = {e.name for e in timeline.entries if e.id in _running(timeline, status)}
    outcomes = {n.id: ("running" if n.name in running else n.outcome) for n in coloured.nodes}
    return outcomes, [[e.src, e.dst] for e in coloured.edges if e.taken]


def _running(timeline: Any, status: str) -> set[int]:
    """The entries still running: open in a running execution (`Timeline.open`: not left, not
    cut short by a sibling's failure, not in an attempt of a Parallel or Map that was retried),
    and inside no Parallel or Map iteration that has ended (an item whose failure the Map
    tolerated). A Task waiting to retry is running, until its branch or iteration is cut."""
    if status != "RUNNING":
        return set()
    latest: dict[str, Any] = {}
    running: set[int] = set()
    for entry in timeline.entries:  # in order: each container's latest entry is seen before its states
        latest[entry.name] = entry
        if entry.id not in timeline.open:
            continue
        inside = [latest.get(outer) for outer, _ in entry.at]
        if all(c is not None and c.id in running and c.iterations.get(index, "started") == "started"
               for c, (_, index) in zip(inside, entry.at)):
            running.add(entry.id)
    return running


def _states(timeline: Any, status: str) -> list[dict]:
    """Each entry into a state, in order: input, parameters, result, output, error and cause."""
    called: dict[int, dict] = {}
    for event in timeline.events:
        if event.type.endswith("Scheduled") and "parameters" in event.details:
            called.setdefault(event.entry, {})["parameters"] = event.data("parameters")
        elif event.type.endswith("Scheduled") and event.type.startswith("LambdaFunction"):
            called.setdefault(event.entry, {})["parameters"] = event.data("input")
        elif event.type.endswith("Succeeded") and "output" in event.details and event.entry \
                and not event.type.startswith(("Execution", "MapIteration")):
            called.setdefault(event.entry, {})["result"] = event.data("output")
    rows = []
    running_ids = _running(timeline, status)
    for entry in timeline.entries:
        running = entry.id in running_ids
        rows.append({"id": entry.id, "name": entry.name, "type": entry.type, "address": entry.address,
                     "status": "running" if running else entry.status, "input": entry.input,
                     "output": entry.output, "error": entry.error, "cause": entry.cause,
                     "retries": [{"error": r.error, "cause": r.cause} for r in entry.retries],
                     "entered": _time(entry.entered), "exited": _time(entry.exited), **called.get(entry.id, {})})
    return rows


def _runs(timeline: Any) -> list[dict]:
    """The execution's runs: the first (from ``ExecutionStarted``) and each redrive (from its
    ``ExecutionRedriven``), each with its dates, how it ended and its events' ids."""
    from asl.history.events import ENDINGS

    runs: list[dict] = []
    for event in timeline.events:
        if event.type in ("ExecutionStarted", "ExecutionRedriven"):
            runs.append({"redriveCount": event.details.get("redriveCount", 0), "startDate": event.time,
                         "stopDate": None, "status": "RUNNING", "firstEvent": event.id, "lastEvent": event.id})
        elif runs:
            run = runs[-1]
            run["lastEvent"] = event.id
            if event.type in ENDINGS:
                run["status"], run["stopDate"] = ENDINGS[event.type], event.time
    return runs


def _dispatched_express(arn: str) -> bool:
    """Whether `arn` names an EXPRESS child of a Map Run (``…:express:{machine}/{label}:…``)."""
    parts = arn.split(":")
    return len(parts) > 6 and parts[5] == "express" and "/" in parts[6]


def _express_described(execution: Any, brief: bool = False) -> dict:
    """An Express execution the service keeps, as DescribeExecution (`brief`: ListExecutions)
    describes a Standard one; ``type`` tells it apart."""
    result = execution.result
    out = {"executionArn": execution.arn, "stateMachineArn": execution.state_machine_arn, "name": execution.name,
           "status": result.status if result is not None else "RUNNING", "startDate": execution.start_time,
           "type": "EXPRESS"}
    if result is not None:
        out["stopDate"] = result.stop_time
    if brief:
        out["stateMachineName"] = execution.state_machine_name
        return out
    out["input"] = execution.input_text  # as DescribeExecution answers a Standard one
    if result is not None and result.status == "SUCCEEDED":
        out["output"] = execution.output_text(result.output)
    elif result is not None:
        out.update((k, v) for k, v in (("error", result.error), ("cause", result.cause)) if v is not None)
    return out


def _event_rows(events: list[Any], start: float) -> list[dict]:
    """The event table as AWS's console shows it: id, type, step, resource, time since start."""
    rows = []
    start = api_time(start)
    for event in events:
        details = event.details
        resource = details.get("resource")
        if resource and details.get("resourceType"):
            resource = f"{details['resourceType']}:{resource}"
        rows.append({"id": event.id, "type": event.type, "step": event.state, "resource": resource,
                     "elapsedMs": round((api_time(event.time) - start) * 1000), "timestamp": event.time,
                     "details": details})
    return rows


# --------------------------------------------------------------------------------------------
# The graph
# --------------------------------------------------------------------------------------------

@lru_cache(maxsize=64)
def _graph_of(definition: str) -> Any:
    """The graph of a stored definition, uncoloured (`asl.graph.build_graph`)."""
    from asl.graph import build_graph

    return build_graph(_machine(definition))


def _machine(definition: str) -> Any:
    """The loaded machine of an execution's definition; a Map Run child's is its Map's item
    processor, whose ``ProcessorConfig`` a machine does not take."""
    from .api import compiled

    if '"ProcessorConfig"' in definition:
        source = json.loads(definition)
        source.pop("ProcessorConfig", None)
        definition = json.dumps(source)
    return compiled(definition)


@lru_cache(maxsize=64)
def _svg(definition: str) -> str | None:
    """The graph drawn by Graphviz (as ``asl graph --format svg``); None without it: the page
    then lists the states instead."""
    from asl.graph import GraphvizError

    try:
        text = _graph_of(definition).to_svg()
    except GraphvizError:
        return None
    return text[text.find("<svg"):]


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------

@lru_cache(maxsize=8)
def _asset(name: str) -> bytes:
    return resources.files("asl.service").joinpath("static", name).read_bytes()


def _json(status: int, value: Any) -> tuple[int, str, bytes]:
    """`value` as JSON, its times (``startDate``, ``timestamp``, ...) written as the API writes them."""
    text = json.dumps(value, ensure_ascii=False, default=str, separators=(",", ":"))
    return status, "application/json", java_times(text).encode("utf-8", ESCAPE)  # (a lone surrogate: its escape)


def _time(seconds: float | None) -> float | None:
    """A time the page shows under a name of its own (not one of the API's), to the millisecond as the API's."""
    return None if seconds is None else api_time(seconds)


def _same_origin(headers: dict[str, str]) -> None:
    """Actions come from the console's own pages: a JSON body (another site's form cannot send
    one without a CORS preflight, which this server never grants) and, when the browser names
    the page's origin, this server's."""
    if headers.get("content-type", "").split(";")[0].strip() != "application/json":
        raise ServiceError("ValidationException", "actions take a JSON body (content-type: application/json)",
                           status=415)
    origin = headers.get("origin")
    if origin and origin.split("://", 1)[-1] != headers.get("host"):
        raise ServiceError("AccessDeniedException", f"actions are taken from this server's pages, not {origin}",
                           status=403)


def _required(params: dict, key: str) -> str:
    value = params.get(key)
    if not isinstance(value, str) or not value:
        raise ServiceError("ValidationException", f"missing {key}")
    return value


def _number(params: dict, key: str, default: int) -> int:
    try:
        return int(params.get(key) or default)
    except ValueError:
        raise ServiceError("ValidationException", f"{key} is not a number: {params[key]!r}") from None
