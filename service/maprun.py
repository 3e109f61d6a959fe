"""Map Runs: the resources a Distributed Map creates (DISTRIBUTED-MAP-SPEC §5), and their child
executions, kept in the store beside the executions.

`MapRuns` listens to the engine (``Execution.map_runs``): a Map Run becomes a ``mapRun``
resource (parent: the execution running the Map state), each item's child execution an
execution record under the processor's ARN (``…:stateMachine:{machine}/{label}``) with its own
history (an EXPRESS child: none, as AWS keeps none). The Map Run's settings can change while it
runs (UpdateMapRun): the engine reads them from the `MapRunControl` kept here.

Several processes sharing a store: a Map Run is coordinated by the process that runs the
execution it belongs to (its ``runBy``: the parent, or for a Map Run of a Map Run's child the
execution that runs them all). UpdateMapRun goes to that process (the service forwards it); there
the change goes to the running Map Run's control and document, or, while the execution has not
reached its Map Run yet (resuming), into the document, which the Map Run reads when it resumes.
A lock per Map Run keeps the two apart (`_settling`)."""
from __future__ import annotations

import json
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator

import anyio

from asl.engine.apitime import api_time

from .arns import split
from .protocol import ServiceError

MAP_RUN = "mapRun"
PROCESSOR = "mapRunProcessor"  # a Map Run's processor, under its ARN (…:stateMachine:{machine}/{label})
# failuresNotRedrivable and pendingRedrive from the start, 0 until a redrive (raw AWS capture,
# radkawar/stackd testdata/aws/stepfunctions/distributed_map.json, 2026-09: every DescribeMapRun of a
# never-redriven run has both; LocalStack's AWS recording without them, test_list_map_runs_and_describe_map_run,
# dates from 2023-09, before Map Run redrive existed)
COUNTERS = ("pending", "running", "succeeded", "failed", "timedOut", "aborted", "total", "resultsWritten",
            "failuresNotRedrivable", "pendingRedrive")
CHILD_LEASE = 100 * 365 * 86400.0
# A child's machine is its parent's: DescribeStateMachineForExecution of a child gives the parent's
# role, update date, logging, tracing and encryption (raw AWS capture, radkawar/stackd
# testdata/aws/stepfunctions/distributed_map.json)
INHERITED = ("roleArn", "updateDate", "revisionId", "loggingConfiguration", "tracingConfiguration",
             "encryptionConfiguration")
_COUNTED = {"SUCCEEDED": "succeeded", "FAILED": "failed", "TIMED_OUT": "timedOut", "ABORTED": "aborted"}
SETTINGS = ("maxConcurrency", "toleratedFailureCount", "toleratedFailurePercentage")  # UpdateMapRun's


def _completed(arn: str) -> ServiceError:
    return ServiceError("ValidationException", f"Map Run '{arn}' has completed and cannot be updated",
                        reason="CANNOT_UPDATE_COMPLETED_MAP_RUN")


def _updated(doc: dict, body: dict) -> dict:
    """`doc` with the settings UpdateMapRun's `body` gives."""
    for key in SETTINGS:
        if body.get(key) is not None:
            doc[key] = float(body[key]) if key == "toleratedFailurePercentage" else body[key]
    return doc


def _control_settings(doc: dict) -> tuple:
    """A Map Run document's settings, in `MapRunControl.update`'s order."""
    return doc["maxConcurrency"], doc["toleratedFailureCount"], doc["toleratedFailurePercentage"]


def _counters(total: int) -> dict:
    out = dict.fromkeys(COUNTERS, 0)
    out["total"] = out["pending"] = total
    return out


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _processor(definition: Any, state: str) -> dict | None:
    """The ItemProcessor (or Iterator) of the Map state named `state`, wherever it is nested, with
    the machine's QueryLanguage (its states inherit it)."""
    found = _find_processor(definition, state)
    if isinstance(found, dict) and isinstance(definition, dict) and "QueryLanguage" in definition \
            and "QueryLanguage" not in found:
        found = {"QueryLanguage": definition["QueryLanguage"], **found}
    return found


def _find_processor(definition: Any, state: str) -> dict | None:
    if isinstance(definition, dict):
        found = (definition.get("States") or {}).get(state) if isinstance(definition.get("States"), dict) else None
        if isinstance(found, dict) and found.get("Type") == "Map":
            return found.get("ItemProcessor") or found.get("Iterator")
        for value in definition.values():
            inner = _find_processor(value, state)
            if inner is not None:
                return inner
    elif isinstance(definition, list):
        for value in definition:
            inner = _find_processor(value, state)
            if inner is not None:
                return inner
    return None


@asynccontextmanager
async def _one_at_a_time(locks: dict[str, list], key: str) -> AsyncIterator[None]:
    """Hold `key`'s lock in `locks` ({key: [lock, its users]}), made when first wanted and
    dropped when no one holds or waits for it."""
    entry = locks.setdefault(key, [anyio.Lock(), 0])
    entry[1] += 1
    try:
        async with entry[0]:
            yield
    finally:
        entry[1] -= 1
        if not entry[1]:
            del locks[key]


class MapRuns:
    SAVE_DELAY = 0.2
    def __init__(self, store: Any, background: Any):
        self.store = store
        self.background = background  # (`asl.engine.background.Background`: where delayed saves run)
        self.controls: dict[str, Any] = {}     # running Map Runs of this process: their MapRunControl
        self.docs: dict[str, dict] = {}        # ... and their resource documents
        self.sizes: dict[str, list[int]] = {}  # ... and the number of items of each child
        self.children: dict[str, Any] = {}     # running child executions by ARN
        self.rerun: set[str] = set()           # ... those that had started before a restart
        self.pending: dict[str, Any] = {}  # Map Runs whose document is to be saved soon: the save's Handle
        self.locks: dict[str, list] = {}  # Map Runs starting, ending or updated here: [lock, its users]
        self.writes: dict[str, list] = {}  # Map Runs whose document is being written: [lock, its users]

    @asynccontextmanager
    async def _settling(self, arn: str) -> AsyncIterator[None]:
        """Hold Map Run `arn`'s settings: an UpdateMapRun here and the Map Run's start (reading
        them from its document) or end come one after the other, so none is lost between the
        document and the control."""
        async with _one_at_a_time(self.locks, arn):
            yield

    # ---- the engine's side -------------------------------------------------------------------

    async def map_run_started(self, ex: Any, arn: str, state: str, label: str, control: Any, items: int,
                              sizes: list[int], exports: bool = False) -> None:
        async with self._settling(arn):
            await self._started(ex, arn, state, label, control, items, sizes, exports)

    async def _started(self, ex: Any, arn: str, state: str, label: str, control: Any, items: int,
                       sizes: list[int], exports: bool) -> None:
        from asl.engine.distributed.maprun import processor_arn

        doc = await self.store.get_resource(arn)
        created = doc is None
        if created:  # (resumed, the run exists: its settings and finished children are kept)
            # (runBy: the execution whose run coordinates it, where UpdateMapRun goes: a Map Run
            # child's runs within its parent's)
            doc = {"kind": MAP_RUN, "mapRunArn": arn, "executionArn": ex.arn,
                   "runBy": getattr(ex, "token_arn", None) or ex.arn,
                   "stateMachineArn": processor_arn(arn), "label": label, "status": "RUNNING",
                   "startDate": api_time(), "maxConcurrency": control.max_concurrency,
                   "toleratedFailurePercentage": control.tolerated_pct,
                   "toleratedFailureCount": control.tolerated_count, "children": {},
                   "redriveCount": 0, "attempt": ex.redrive_count,
                   "definition": _text(_processor(getattr(ex.machine, "definition", None), state) or {})}
        else:
            if ex.redrive_count > doc.get("attempt", 0):  # the parent was redriven: so is its failed Map Run
                doc["attempt"] = ex.redrive_count
                doc["redriveCount"] = doc.get("redriveCount", 0) + 1
                doc["redriveDate"] = api_time()
            control.update(*_control_settings(doc))  # (as UpdateMapRun last left them)
            doc["status"] = "RUNNING"
            doc.pop("stopDate", None)
            # the children's statuses as their records say (the document may lag behind them)
            records = await self.store.list(state_machine_arn=doc["stateMachineArn"])
            for record in records:
                if record.options.get("mapRunArn") == arn:
                    index = int(record.options.get("index", -1))
                    if index >= 0:
                        doc["children"][str(index)] = record.status
        doc["sizes"] = sizes
        if "parentOptions" not in doc:  # what DescribeStateMachineForExecution of a child tells of its machine
            machine = await self.store.get_resource(ex.state_machine_arn) or {}
            options = {**machine, "roleArn": ex.role_arn or machine.get("roleArn"),
                       "updateDate": machine.get("updateDate", machine.get("creationDate"))}
            doc["parentOptions"] = {key: options[key] for key in INHERITED if options.get(key) is not None}
        # with a ResultWriter exporting, resultsWritten counts what the result files hold, once they
        # are written (see `counts`)
        doc["exports"] = exports
        if exports:
            doc["resultsWritten"] = [0, 0]
        self.controls[arn], self.docs[arn], self.sizes[arn] = control, doc, sizes
        await self._save(doc)
        if created:  # its processor, which DescribeStateMachine finds under its ARN (a generated label
            # is in no definition; an explicit one's first Map Run is kept)
            await self.store.put_resource(doc["stateMachineArn"], PROCESSOR, {
                "kind": PROCESSOR, "stateMachineArn": doc["stateMachineArn"], "label": label, "mapRunArn": arn,
                "definition": doc["definition"]}, ex.state_machine_arn, doc["startDate"], replace=False)

    async def child_started(self, map_run_arn: str, index: int, child: Any) -> None:
        """`child` (its ARN and name given by its Map Run) starts: its record (an EXPRESS child's
        too, which DescribeExecution and ListExecutions show, as AWS shows those a Map Run
        dispatched; it never gets a history)."""
        from asl.engine.stores import ExecutionRecord

        doc = self.docs[map_run_arn]
        arn = child.arn
        self.children[arn] = child
        now = api_time()
        record = ExecutionRecord(arn=arn, name=child.name, state_machine_arn=doc["stateMachineArn"],
                                 state_machine_name=doc["stateMachineArn"].split(":stateMachine:")[1],
                                 definition=doc["definition"],
                                 input=_text(child.input), start_time=now,
                                 options={**doc.get("parentOptions", {}), "mapRunArn": map_run_arn,
                                          "itemCount": self.sizes[map_run_arn][index], "index": index},
                                 # never claimed by a worker: the child runs within its parent
                                 owner=f"mapRun:{map_run_arn}", lease_until=now + CHILD_LEASE)
        if child.redrive_count:  # redriven by its Map Run (the parent was redriven): the same execution goes on
            # (an EXPRESS one started anew: DescribeExecution's startDate is the new run's, and it has
            # no redriveDate; raw AWS capture, radkawar/stackd testdata/aws/stepfunctions/redrive_map.json,
            # express:terminal:children)
            changes = {"start_time": now} if child.type == "EXPRESS" else {}
            await self.store.update(arn, status="RUNNING", stop_time=None, output=None, error=None, cause=None,
                                    redrive_count=child.redrive_count, redrive_time=child.redrive_time, **changes)
            self.rerun.add(arn)
        elif not await self.store.create(record):  # run again (resumed before its outcome was recorded)
            self.rerun.add(arn)
            await self.store.update(arn, status="RUNNING", start_time=now, stop_time=None, output=None,
                                    error=None, cause=None)
        doc["children"][str(index)] = "RUNNING"
        self._save_soon(doc)

    async def child_before(self, arn: str) -> tuple | None:
        """Map Run child `arn` as an earlier run of its parent left it: (its record, its history,
        its facts), or None when it never started. Its Map Run redrives it when it did not succeed
        (a STANDARD one from its journal, `Execution.run_child`)."""
        record = await self.store.get(arn)
        if record is None:
            return None
        if record.type == "EXPRESS" or record.status == "SUCCEEDED":
            return record, [], []
        return record, await self.store.events(arn), await self.store.facts(arn)

    async def child_finished(self, map_run_arn: str, index: int, child: Any) -> None:
        result = child.result
        arn = child.arn
        if child.type != "EXPRESS":  # AWS keeps no history of an Express one (GetExecutionHistory refuses it)
            await self._keep_history(arn, child)
        self.rerun.discard(arn)
        await self.store.update(arn, status=result.status, stop_time=api_time(), error=result.error,
                                cause=result.cause,
                                output=_text(result.output) if result.status == "SUCCEEDED" else None)
        self.children.pop(arn, None)
        doc = self.docs[map_run_arn]
        doc["children"][str(index)] = result.status
        self._save_soon(doc)

    async def _keep_history(self, arn: str, child: Any) -> None:
        from asl.engine.journal import event_details
        from asl.engine.stores import StoredEvent

        # with their journal sites and the child's facts: what its Map Run replays if it redrives it
        stored, facts = child.journal_base
        events = [StoredEvent(i, t, p, ts, event_details(d), site)
                  for i, (t, p, ts, d, site) in enumerate(child.history.entries(stored), stored + 1)]
        if stored:  # redriven: its history goes on after what its earlier runs wrote
            await self.store.append(arn, events, child.facts[facts:])
            return
        # a child run again after a crash (its end not yet in the parent's journal) keeps the
        # history its first run wrote, if it got that far
        before = await self.store.events(arn) if arn in self.rerun else []
        if not before:
            await self.store.append(arn, events, child.facts)

    async def map_run_finished(self, arn: str, status: str, err: Any,
                               written: tuple[int, int] | None = None) -> None:
        async with self._settling(arn):
            await self._finished(arn, status, written)

    async def _finished(self, arn: str, status: str, written: tuple[int, int] | None) -> None:
        doc = self.docs.pop(arn, None)
        self.controls.pop(arn, None)
        self.sizes.pop(arn, None)
        if doc is None:
            return
        if written is not None:
            doc["resultsWritten"] = list(written)
        doc["status"] = status
        doc["stopDate"] = api_time()
        await self._save(doc)

    def _save_soon(self, doc: dict) -> None:
        """Save the document within `SAVE_DELAY` (one write for many children's changes)."""
        arn = doc["mapRunArn"]
        if arn in self.pending:
            return

        async def later() -> None:
            await anyio.sleep(self.SAVE_DELAY)
            if self.pending.pop(arn, None) is not None:  # (no longer pending: a save meanwhile cancels it)
                async with self._writing(arn):
                    if arn in self.docs:  # (the Map Run's end, saved meanwhile, is the last word)
                        await self._put(doc)
        self.pending[arn] = self.background.spawn(later, name=f"saving {arn}")

    async def _save(self, doc: dict) -> None:
        arn = doc["mapRunArn"]
        waiting = self.pending.pop(arn, None)
        if waiting is not None:
            waiting.cancel()
        async with self._writing(arn):
            await self._put(doc)

    async def _put(self, doc: dict) -> None:
        await self.store.put_resource(doc["mapRunArn"], MAP_RUN, doc, doc["executionArn"], doc["startDate"])

    @asynccontextmanager
    async def _writing(self, arn: str) -> AsyncIterator[None]:
        """One write of Map Run `arn`'s document at a time, in the order they were asked for: two
        writes in flight at once (a delayed save of its children's progress and its end) could
        reach a database in either order, and a Map Run that ended would stay RUNNING."""
        async with _one_at_a_time(self.writes, arn):
            yield

    # ---- the API's side ----------------------------------------------------------------------

    async def processor(self, arn: str) -> dict | None:
        """The processor definition of the Map Runs labelled as `arn` says
        (``…:stateMachine:{machine}/{label}``), from the store; None if no Map Run had that label."""
        doc = await self.store.get_resource(arn)
        if doc is None or doc.get("kind") != PROCESSOR:
            return None
        return json.loads(doc["definition"])

    async def get(self, arn: str) -> dict:
        split(arn, (MAP_RUN,))
        doc = self.docs.get(arn) or await self.store.get_resource(arn)
        if doc is None or doc.get("kind") != MAP_RUN:
            raise ServiceError("ResourceNotFound", f"Resource not found: '{arn}'", resourceName=arn)
        return doc

    @staticmethod
    def counts(doc: dict) -> tuple[dict, dict]:
        """(itemCounts, executionCounts) of a Map Run. ``resultsWritten``: the items (children)
        the result files hold when a ResultWriter exports, 0 until they are written, then every
        record written, failed and pending ones too (AWS, raw capture radkawar/stackd
        ``testdata/aws/stepfunctions/distributed_map.json``: 0 while running; at the end of a failed
        run ``succeeded 1, failed 1, pending 2, resultsWritten 4``); else the succeeded ones
        (LocalStack's AWS recording ``test_list_map_runs_and_describe_map_run``: 2 of 2)."""
        sizes = doc.get("sizes") or []
        items, executions = _counters(sum(sizes)), _counters(len(sizes))
        for index, status in doc["children"].items():
            size = sizes[int(index)] if int(index) < len(sizes) else 1
            key = _COUNTED.get(status, "running")
            for counters, n in ((items, size), (executions, 1)):
                counters["pending"] -= n
                counters[key] += n
                if key == "succeeded" and not doc.get("exports"):
                    counters["resultsWritten"] += n
        if doc.get("exports"):
            items["resultsWritten"], executions["resultsWritten"] = doc.get("resultsWritten") or (0, 0)
        return items, executions

    def describe(self, doc: dict) -> dict:
        items, executions = self.counts(doc)
        out = {"mapRunArn": doc["mapRunArn"], "executionArn": doc["executionArn"], "status": doc["status"],
               "startDate": doc["startDate"], "maxConcurrency": doc["maxConcurrency"],
               "toleratedFailurePercentage": float(doc["toleratedFailurePercentage"] or 0),
               "toleratedFailureCount": doc["toleratedFailureCount"] or 0, "itemCounts": items,
               "executionCounts": executions, "redriveCount": doc.get("redriveCount", 0)}
        if doc.get("stopDate") is not None:
            out["stopDate"] = doc["stopDate"]
        if doc.get("redriveDate") is not None:
            out["redriveDate"] = doc["redriveDate"]
        return out

    @staticmethod
    def runner(doc: dict) -> str:
        """The execution whose run coordinates the Map Run of `doc`."""
        return doc.get("runBy") or doc["executionArn"]

    async def checked(self, body: dict) -> dict:
        """UpdateMapRun's Map Run, as AWS checks the request: it exists, one setting at least is
        given, the Map Run is running (as this process knows it)."""
        arn = body["mapRunArn"]
        doc = await self.get(arn)
        if all(body.get(k) is None for k in SETTINGS):
            raise ServiceError("ValidationException", "At least one of the parameters maxConcurrency, "
                               "toleratedFailurePercentage or toleratedFailureCount must be specified")
        if doc["status"] != "RUNNING":
            raise _completed(arn)
        return doc

    async def update(self, body: dict, resumes: bool) -> None:
        """UpdateMapRun in the process that runs the Map Run's execution (`runner`), or in any
        process when none runs it: to the running Map Run's control and document; else, when
        the execution is to resume (`resumes`: it is RUNNING), into the document, which the Map Run
        reads when it resumes."""
        arn = body["mapRunArn"]
        async with self._settling(arn):
            await self.checked(body)
            control = self.controls.get(arn)
            if control is not None:
                doc = _updated(self.docs[arn], body)
                control.update(*_control_settings(doc))
                await self._save(doc)
                return
            if not resumes:
                raise _completed(arn)

            def change(doc: dict) -> dict:
                if doc.get("status") != "RUNNING":
                    raise _completed(arn)
                return _updated(doc, body)
            from asl.engine.stores import ResourceGone

            try:
                await self.store.revise_resource(arn, change)
            except ResourceGone:
                raise ServiceError("ResourceNotFound", f"Resource not found: '{arn}'", resourceName=arn) from None
