"""``arn:aws:states:::states:startExecution`` (request-response, ``.sync``, ``.sync:2``,
``.waitForTaskToken``): a child execution with its own history (INTEGRATIONS-SPEC.md section 3).

Where the child runs is an `Executions` port, three of them:

  LocalExecutions  this engine (``asl run --machine FILE``, ``run(..., machines=...)``): the
                   child is an `Execution` of its own beside the parent, with the same handlers,
                   mocks, services and clock
  (the service's)  ``asl serve``: the child is an execution of the service, listed and described
                   by its API (asl.service.nested)
  Boto3Executions  a Step Functions endpoint through boto3 (``--aws``): AWS, LocalStack, another
                   ``asl serve``; ``.sync`` polls DescribeExecution

The first two also answer the ``aws-sdk:sfn`` Tasks of their executions (``api``): the service
all of them; `LocalExecutions` those naming the run's machines, executions and task tokens
(`LocalExecutions.answers`), so a child answers its parent's ``.waitForTaskToken`` Task with
SendTaskSuccess as on AWS, the rest going where they would go without it.

A port speaks the API's own words (camelCase, as StartExecution and DescribeExecution take and
return them, times in epoch seconds). The results take AWS's shapes (recorded on AWS, LS):
request-response ``{ExecutionArn, SdkHttpMetadata, SdkResponseMetadata, StartDate}``; ``.sync``
``{ExecutionArn, Input, InputDetails, Name, Output, OutputDetails, StartDate, StateMachineArn,
Status, StopDate}`` with Input/Output as JSON text, ``.sync:2`` with them as JSON. A child that
did not succeed fails the Task with ``States.TaskFailed``, that object (with its ``Error`` and
``Cause``) as cause. Stopping the parent while it waits on a ``.sync`` child stops the child.

A child started without ``Name`` is named after the Task attempt (`child_name`), so a parent
resumed after a crash finds the child it had started (`Executions.find`) instead of starting
another. A StateMachineArn ending in ``#<test case>`` runs the child with that test case of the
parent's mock config, as Step Functions Local does (`LocalExecutions`; the service's
StartExecution reads the suffix itself).
"""
from __future__ import annotations

import json
import uuid
from contextlib import asynccontextmanager, nullcontext
from typing import Any, AsyncIterator, Mapping, Protocol

from ... import jackson
from ...errors import ASLError, StatesError
from ..apitime import TIME_MEMBERS, api_time, java_times


class Executions(Protocol):
    """Where child executions run."""

    def serves(self, machine_arn: str | None) -> bool:
        """Whether `machine_arn` (None: not known before the run) runs here."""

    async def start(self, body: dict) -> dict:
        """StartExecution ``{stateMachineArn, input, name?}`` -> ``{executionArn, startDate}``
        (may carry boto3's ``ResponseMetadata``); a refusal is a StatesError."""

    async def wait(self, execution_arn: str, clock: Any) -> dict:
        """DescribeExecution of the child once it has ended."""

    async def stop(self, execution_arn: str, cause: str | None = None) -> None:
        """StopExecution of the child (the parent stopped while waiting on it), with `cause` and no error."""

    async def find(self, execution_arn: str) -> dict | None:
        """DescribeExecution's ``{executionArn, startDate, input}`` of an execution, None if there is none."""


def _compact(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _millis(seconds: Any) -> Any:
    """Epoch seconds as epoch milliseconds, cut to the millisecond as the API's times are (`api_time`)."""
    return int(round(api_time(seconds) * 1000)) if isinstance(seconds, (int, float)) else seconds


class Refusal(Exception):
    """A request the Step Functions API refuses: its error code (``ExecutionDoesNotExist``),
    message and HTTP status, as the API answers it (`refused` names it as a Task's error)."""

    def __init__(self, code: str, message: str, status: int = 400):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def refused(code: str, message: str, status: int = 400) -> StatesError:
    """A StartExecution the Step Functions API refused, named as the Java SDK v1 names it
    (``StepFunctions.StateMachineDoesNotExistException``)."""
    name = code if code.endswith("Exception") else code + "Exception"
    return StatesError(f"StepFunctions.{name}", f"{message} (Service: AWSStepFunctions; Status Code: {status}; "
                       f"Error Code: {code}; Request ID: {uuid.uuid4()}; Proxy: null)")


def local_metadata(body: Any) -> dict:
    """What the SDK v1 adds to the response of a Step Functions API served in this process."""
    from email.utils import formatdate

    request_id = str(uuid.uuid4())
    text = java_times(_compact(body))  # the answer's text as AWS writes it ("startDate":1.733450000123E9)
    # the headers AWS's Step Functions endpoint answers with, in the order AWS recorded them
    return {"ResponseMetadata": {"HTTPStatusCode": 200, "RequestId": request_id, "RawHeaders": [
        ("x-amzn-RequestId", request_id), ("connection", "keep-alive"), ("Content-Length", str(len(text.encode()))),
        ("Date", formatdate(usegmt=True)), ("Content-Type", "application/x-amz-json-1.0")]}}


def request(arguments: Any) -> dict:
    """StartExecution's body from the Task's Parameters: Input as JSON text (a JSON value is
    serialised, a string sent as it is), absent -> ``{}``."""
    from .shapes import Unusable

    if not isinstance(arguments, dict):
        raise Unusable("The value of the field 'Parameters' has an invalid format")
    fold = {key.lower(): value for key, value in arguments.items()}
    arn = fold.get("statemachinearn")
    if not isinstance(arn, str):
        raise Unusable("The value of the field 'StateMachineArn' has an invalid format")
    value = fold.get("input", {})
    body = {"stateMachineArn": arn, "input": value if isinstance(value, str) else _compact(value)}
    if fold.get("name") is not None:
        body["name"] = str(fold["name"])
    if isinstance(fold.get("traceheader"), str):
        body["traceHeader"] = fold["traceheader"]
    return body


def sync_output(described: dict, parsed: bool) -> dict:
    """A ``.sync`` (JSON text) or ``.sync:2`` (parsed) result from DescribeExecution: its fields
    PascalCased, in alphabetical order, dates in epoch milliseconds (causes recorded on AWS:
    ``{"Cause":…,"Error":…,"ExecutionArn":…,"Input":"{…}","InputDetails":{"Included":true},"Name":…,
    "RedriveCount":0,"RedriveStatus":"REDRIVABLE","StartDate":1733089875458,"StateMachineArn":…,
    "Status":"FAILED","StopDate":1733092939260}``)."""
    out: dict = {"RedriveCount": 0}
    for key, value in described.items():
        if key == "ResponseMetadata" or value is None:
            continue
        if key in ("startDate", "stopDate", "redriveDate"):
            value = _millis(value)
        elif key in ("inputDetails", "outputDetails"):
            value = {"Included": bool(value.get("included", True))}
        elif key in ("input", "output") and parsed and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                pass
        out[key[:1].upper() + key[1:]] = value
    return dict(sorted(out.items()))


def child_name(site: str) -> str:
    """The name of a child started without ``Name``: derived from the Task attempt that starts
    it (`site`: the parent's ARN and the attempt's place in its journal), a UUID as AWS's own
    names are. A parent resumed after a crash starts the same name again, so it finds the child
    it had started instead of starting a second one."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"asl-engine:child:{site}"))


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN StartExecution gives an execution `name` of `state_machine_arn` (a test case
    suffix, a version or alias qualifier dropped)."""
    parts = state_machine_arn.partition("#")[0].split(":")
    return ":".join(parts[:5] + ["execution", parts[6] if len(parts) > 6 else "", name])


async def _start(port: Executions, body: dict, derived: bool) -> dict:
    """StartExecution; a derived name that exists already with this input is the child this
    attempt started before its process died (running, or ended since): that one is awaited."""
    try:
        return await port.start(body)
    except StatesError as exc:
        if not derived or exc.error != "StepFunctions.ExecutionAlreadyExistsException":
            raise
        found = await port.find(execution_arn(body["stateMachineArn"], body["name"]))
        if found is None or not _same_input(found.get("input"), body["input"]):
            raise
        response = {"executionArn": found["executionArn"], "startDate": found["startDate"]}
        return {**response, **local_metadata(response)}


def _same_input(a: Any, b: Any) -> bool:
    try:
        return json.loads(a) == json.loads(b)
    except (TypeError, ValueError):
        return a == b


async def start_execution(port: Executions, info: Any, arguments: Any, clock: Any, submitted: Any,
                          site: str | None = None, owner: str | None = None) -> Any:
    """Run a ``states:startExecution`` Task against `port`; `site` names the Task attempt (for
    the name of a child started without one: `child_name`), `owner` is the parent's ARN. A
    ``.sync`` child still running when the Task ends otherwise (the parent stopped or timed out,
    the Task's TimeoutSeconds) is stopped with no error and the sentence AWS gives the jobs it
    stops (`jobs.aborted_reason`): "The Task state in AWS Step Functions execution [ARN] which
    was managing this resource was aborted" (for a child execution as floci's tests say they
    measured it on AWS; no recorded case of ours shows it)."""
    import anyio

    from ..tasks import answered_by_token
    from .jobs import aborted_reason
    from .shapes import sdk_v1_result

    body = request(arguments)
    derived = site is not None and "name" not in body
    if derived:
        body["name"] = child_name(site)
    response = await _start(port, body, derived)
    result = sdk_v1_result({"ExecutionArn": response["executionArn"], "StartDate": _millis(response["startDate"])},
                           response)
    if info.pattern != "sync":
        return result
    if submitted is not None:
        submitted(result)
    try:
        described = await port.wait(response["executionArn"], clock)
    except anyio.get_cancelled_exc_class():
        if answered_by_token():  # the Task ended by its token: the child runs on, as on AWS
            raise
        with anyio.CancelScope(shield=True):  # the parent stopped (or timed out): so does the child
            try:
                await port.stop(response["executionArn"], aborted_reason(owner) if owner else None)
            except Exception:  # best effort, as AWS's
                pass
        raise
    out = sync_output(described, parsed=info.qualifier == "2")
    if described.get("status") != "SUCCEEDED":
        raise StatesError("States.TaskFailed", _compact(out))
    return out


# ---- this engine ---------------------------------------------------------------------------

def machine_name(arn: str) -> str:
    """The state machine's name in its ARN (a version or alias qualifier, a ``#test-case``
    suffix dropped)."""
    parts = arn.partition("#")[0].split(":")
    return parts[6] if len(parts) > 6 and parts[5] == "stateMachine" else arn


class LocalExecutions:
    """Child executions run by this engine, beside their parent.

    machines  name (or state machine ARN) -> compiled machine (`asl.load`), or a path to its file
    parent   the options the children share with their parent (handlers, mocks, aws, clock, ...)

    A child outlives the Task that started it (request-response returns while it runs): the
    children run in a task group of the integration's own. Its owner is whoever opens it with
    ``async with executions:`` (the children live until that ends); else the execution that runs
    with it (`hosting`, entered by `Execution.run`): the children live as long as that run, its
    clock counting them among the run's tasks (a `VirtualClock` moves only when they too wait),
    and those still running when it ends are stopped (ABORTED), as they would be when the
    process ends.
    """

    def __init__(self, machines: Mapping[str, Any], region: str = "us-east-1", account: str = "123456789012"):
        import asl

        self.machines = {machine_name(key): asl.load(value) if isinstance(value, str) else value
                         for key, value in machines.items()}
        self.region, self.account = region, account
        self.children: dict[str, Any] = {}   # executionArn -> the child `Execution`
        self.express: dict[str, Any] = {}    # executionArn -> a child StartSyncExecution runs (Express)
        self.roots: list[Any] = []           # the executions prepared with these (`adopt`): the parents
        self._ends: dict[str, Any] = {}      # executionArn -> how its run ended, once it has (`Outcome`)
        self._group: Any = None              # the task group the children run in, while it is open
        self._opened: Any = None             # ... opened by an owner's ``async with``
        self.options: dict = {}  # set by `asl.engine.prepare`, with `prepare` itself (no import cycle)
        self.prepare: Any = None
        self.mock_config: Any = None  # the parent's MockConfig: a child's ``#test-case`` is looked up there
        self._tokens: Any = None

    def serves(self, machine_arn: str | None) -> bool:
        return machine_arn is None or machine_name(machine_arn) in self.machines

    def adopt(self, execution: Any) -> None:
        """`execution` (prepared with these, by `asl.engine.prepare`) is a run whose ``aws-sdk:sfn``
        calls reach it: its task tokens, its ARN (`api`)."""
        self.roots.append(execution)

    # ---- the children's task group ----------------------------------------------------------

    async def __aenter__(self) -> "LocalExecutions":
        import anyio

        self._opened = self._running(anyio.create_task_group())
        await self._opened.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> Any:
        return await self._opened.__aexit__(*exc)

    def hosting(self, clock: Any) -> Any:
        """The children's task group for a run on `clock` (`Execution.run`): opened on the
        clock (`Clock.task_group`) unless it is open already (an owner's ``async with``, or
        the run of the parent of this child)."""
        if self._group is not None:
            return nullcontext()
        return self._running(clock.task_group())

    @asynccontextmanager
    async def _running(self, group: Any) -> AsyncIterator[None]:
        if self._group is not None:
            raise RuntimeError("these LocalExecutions are open already")
        try:
            async with group:
                self._group = group
                try:
                    yield
                finally:
                    self._group = None
                    group.cancel_scope.cancel()  # the children still running stop with their owner
        except BaseExceptionGroup as failed:  # noqa: F821 - builtin in 3.11
            # the children raise nothing (`_run`): the owner's own exception, as it was raised
            if len(failed.exceptions) == 1:
                raise failed.exceptions[0] from failed.exceptions[0].__cause__
            raise

    async def _run(self, child: Any, end: Any) -> None:
        try:
            result = await child.run()
        except Exception as exc:  # noqa: BLE001 - handed to the Task awaiting the child (a store's error)
            end.fill(False, exc)
        else:
            end.fill(True, result)
        finally:  # cancelled (its owner ended): ABORTED, as its run recorded it
            end.fill(child.result is not None, child.result if child.result is not None else StatesError(
                "States.Runtime", f"The child execution '{child.arn}' was stopped before it started."))

    async def start(self, body: dict) -> dict:
        try:
            child = await self._launch(body)
        except Refusal as exc:
            raise refused(exc.code, exc.message, exc.status) from None
        response = {"executionArn": child.arn, "startDate": child.start_time or child.clock.now()}
        return {**response, **local_metadata(response)}

    async def _launch(self, body: dict, sync: bool = False) -> Any:
        """Start a child as StartExecution ``{stateMachineArn, input?, name?}`` (`sync`: an
        Express one as StartSyncExecution runs it, kept apart from `children`); a refusal is a
        `Refusal`. A Standard child of the same name and input that still runs is returned again."""
        import anyio.lowlevel

        from ..clock import Outcome

        if self._group is None:
            raise RuntimeError("LocalExecutions start children only while open: `async with executions:`, "
                               "or the run of an execution prepared with them")
        name = machine_name(body["stateMachineArn"])
        machine = self.machines.get(name)
        if machine is None:
            raise Refusal("StateMachineDoesNotExist", f"State Machine Does Not Exist: '{body['stateMachineArn']}'")
        options = {**self.options, **self._mocks(name, body["stateMachineArn"].partition("#")[2])}
        if sync:
            options.update(type="EXPRESS", sync=True)
        run_name = body.get("name") or str(uuid.uuid4())
        text = body.get("input", "{}")  # (StartExecution without input: {})
        arn = f"arn:aws:states:{self.region}:{self.account}:execution:{name}:{run_name}"
        if not sync and arn in self.children:
            existing = self.children[arn]
            if not self._ends[arn].filled and _compact(existing.input) == _compact(json.loads(text)):
                return existing  # as AWS: the same name and input while it runs is that execution again
            raise Refusal("ExecutionAlreadyExists", f"Execution Already Exists: '{arn}'")
        try:
            value = jackson.loads(text)  # as AWS reads it, with Jackson's message
            child = self.prepare(machine, value, name=run_name, state_machine_name=name, **options)
        except (ValueError, ASLError) as exc:  # not JSON; InvalidExecutionInput
            message = str(exc)
            if not message.startswith("Invalid State Machine Execution Input"):
                message = f"Invalid State Machine Execution Input: '{message}'"
            raise Refusal("InvalidExecutionInput", message) from None
        child.executions = self
        if sync:  # an Express execution's ARN: ...:express:NAME:RUN:UUID
            child.arn = child.token_arn = f"arn:aws:states:{self.region}:{self.account}:express:{name}:{run_name}:" \
                                          f"{child.new_uuid()}"
            self.express[child.arn] = child
        else:
            child.arn = child.token_arn = arn
            self.children[arn] = child
        child.state_machine_arn = f"arn:aws:states:{self.region}:{self.account}:stateMachine:{name}"
        end = self._ends[child.arn] = Outcome()
        self._group.start_soon(self._run, child, end)
        await anyio.lowlevel.checkpoint()  # let it record ExecutionStarted
        return child

    def _mocks(self, name: str, case: str) -> dict:
        """The child's mock options, as Step Functions Local picks them: the test case named by
        the ``#test-case`` suffix of the StateMachineArn the Task starts (DG "sfn-local-test-sm-exec":
        StartExecution with ``<state machine ARN>#<test case>``), from the child machine's own
        entry in the parent's mock config; without a suffix the child is not mocked."""
        if not case:
            return {"mock_config": False}
        from ..tasks import MockConfig

        unknown = MockConfig.unknown_case(self.mock_config, name, case)
        if unknown:  # the service's answer to the same StartExecution
            raise Refusal("ValidationException", unknown)
        return {"mock_config": self.mock_config, "test_case": case}

    async def find(self, execution_arn: str) -> dict | None:
        child = self.children.get(execution_arn)
        if child is None:
            return None
        return {"executionArn": execution_arn, "startDate": child.start_time or child.clock.now(),
                "input": _compact(child.input)}

    async def wait(self, execution_arn: str, clock: Any) -> dict:
        end = self._ends[execution_arn]
        with clock.waiting():  # the child runs on the parent's clock: its time may move meanwhile
            await end.wait()
        return described(self.children[execution_arn], end.result())

    async def stop(self, execution_arn: str, cause: str | None = None) -> None:
        import anyio

        self.children[execution_arn].stop(None, cause)
        with anyio.move_on_after(10):
            await self._ends[execution_arn].wait()

    # ---- the Step Functions API of the run: aws-sdk:sfn Tasks ----------------------------------

    def answers(self, action: str, arguments: Any, alone: bool = True) -> bool:
        """Whether an ``aws-sdk:sfn:ACTION`` Task with `arguments` (its Parameters; None: asked
        before the run) is this run's to answer (`api`): a StartExecution or StartSyncExecution of
        one of its machines, a DescribeExecution or StopExecution of one of its executions (or of
        an execution of one of its machines: ExecutionDoesNotExist), a SendTask* with a token of
        one of its executions. `alone`: nothing else serves the call (no Step Functions endpoint):
        a token that is not the run's is answered here too, with AWS's InvalidToken or
        TaskDoesNotExist. Anything else goes where it would go without these."""
        operation = action[:1].upper() + action[1:]
        if operation not in _ANSWERED:
            return False
        if arguments is None:
            return True
        if not isinstance(arguments, dict):
            return alone
        fold = {str(key).lower(): value for key, value in arguments.items()}
        named = fold.get(_ANSWERED[operation].lower())
        if not isinstance(named, str):
            return alone  # the request the API refuses (ValidationException): refused here too
        if operation in ("StartExecution", "StartSyncExecution"):
            return machine_name(named) in self.machines
        if operation.startswith("SendTask"):
            from ..callbacks import TaskTokenError, decode_token

            try:
                named = decode_token(named)[0]
            except TaskTokenError:
                return alone
            return self._of_run(named) or alone
        return self._of_run(named, kinds=("execution",))

    def _of_run(self, arn: str, kinds: tuple[str, ...] = ("execution", "express")) -> bool:
        """Whether execution `arn` is one of the run's, or would be: its machine is one of the run's."""
        parts = arn.split(":")
        return self._execution(arn) is not None or (len(parts) > 6 and parts[5] in kinds
                                                     and parts[6] in self.machines)

    def _execution(self, arn: str, express: bool = False) -> Any:
        """The execution `arn` of the run (a parent, a child; `express`: a StartSyncExecution's too)."""
        found = self.children.get(arn) or (self.express.get(arn) if express else None)
        return found if found is not None else next((root for root in self.roots if root.arn == arn), None)

    @property
    def tokens(self) -> Any:
        """SendTask* for the run's executions (`asl.engine.callbacks.TaskTokens`)."""
        if self._tokens is None:
            from ..callbacks import TaskTokens

            async def holder(arn: str) -> Any:  # the execution a token names, found when it is used
                found = self._execution(arn, express=True)
                return found if found is not None else next(
                    (run for run in (*self.roots, *self.children.values()) if run.token_arn == arn), None)
            self._tokens = TaskTokens(holder)
        return self._tokens

    async def api(self, action: str, body: dict) -> tuple[int, dict]:
        """The Step Functions API for the calls `answers` takes (`asl.engine.integrations.sdk.call_own_api`):
        `body` as the wire carries it, ``(status, answer)`` as HTTP would carry them, an error as
        ``{"__type", "message"}`` with AWS's code and words."""
        from ..callbacks import TaskTokenError
        from .sdk import _sfn_model
        from .shapes import validation_errors

        model = _sfn_model()
        problem = validation_errors(model.operation_model(action).input_shape, body, model.service_id)
        try:
            if problem is not None:
                raise Refusal(*problem)
            answer = await getattr(self, f"_{action}")(body)
        except Refusal as exc:
            return exc.status, {"__type": exc.code, "message": exc.message}
        except TaskTokenError as exc:
            return 400, {"__type": exc.code, "message": str(exc)}
        # times to the millisecond, as the API keeps them (`api_time`)
        return 200, {key: api_time(value) if key in TIME_MEMBERS and isinstance(value, (int, float)) else value
                     for key, value in answer.items()}

    async def _StartExecution(self, body: dict) -> dict:
        child = await self._launch(body)
        return {"executionArn": child.arn, "startDate": child.start_time or child.clock.now()}

    async def _StartSyncExecution(self, body: dict) -> dict:
        child = await self._launch(body, sync=True)
        end = self._ends[child.arn]
        try:
            with child.clock.waiting():  # the child runs on the caller's clock, as `wait` does
                await end.wait()
        finally:
            self.express.pop(child.arn, None)
            self._ends.pop(child.arn, None)
        result = end.result()
        took = max(1, round((result.stop_time - result.start_time) * 1000))
        return sync_answer(child, result, body, _compact(child.input), took)

    async def _DescribeExecution(self, body: dict) -> dict:
        out = describe(self._existing(body["executionArn"]))
        if body.get("includedData") == "METADATA_ONLY":
            for key in ("input", "output"):
                out.pop(key, None)
        return out

    async def _StopExecution(self, body: dict) -> dict:
        import anyio

        execution = self._existing(body["executionArn"])
        if execution.result is None:
            execution.stop(body.get("error"), body.get("cause"))
            end = self._ends.get(execution.arn)
            if end is not None:  # a child: its end, as the service awaits it (one stopping itself ends here)
                with anyio.move_on_after(10):
                    await end.wait()
        stopped = execution.result.stop_time if execution.result is not None else None
        return {"stopDate": stopped if stopped is not None else execution.clock.now()}

    def _existing(self, arn: str) -> Any:
        execution = self._execution(arn)
        if execution is None:
            raise Refusal("ExecutionDoesNotExist", f"Execution Does Not Exist: '{arn}'")
        return execution

    async def _SendTaskSuccess(self, body: dict) -> dict:
        await self.tokens.send_task_success(body["taskToken"], body["output"])
        return {}

    async def _SendTaskFailure(self, body: dict) -> dict:
        await self.tokens.send_task_failure(body["taskToken"], body.get("error"), body.get("cause"))
        return {}

    async def _SendTaskHeartbeat(self, body: dict) -> dict:
        await self.tokens.send_task_heartbeat(body["taskToken"])
        return {}


#: The actions `LocalExecutions.api` answers -> the member naming what they act on.
_ANSWERED = {"StartExecution": "stateMachineArn", "StartSyncExecution": "stateMachineArn",
             "DescribeExecution": "executionArn", "StopExecution": "executionArn",
             "SendTaskSuccess": "taskToken", "SendTaskFailure": "taskToken", "SendTaskHeartbeat": "taskToken"}


def described(child: Any, result: Any) -> dict:
    """DescribeExecution's fields of an ended child (the service's, for one it runs itself)."""
    out = {"executionArn": child.arn, "stateMachineArn": child.state_machine_arn, "name": child.name,
           "status": result.status, "input": _compact(child.input), "inputDetails": {"included": True},
           "startDate": result.start_time, "stopDate": result.stop_time}
    if result.status == "SUCCEEDED":
        out["output"] = _compact(result.output)
        out["outputDetails"] = {"included": True}
        out.update(redriveStatus="NOT_REDRIVABLE", redriveStatusReason="Execution is SUCCEEDED and cannot be redriven")
    else:
        out["redriveStatus"] = "REDRIVABLE"
    if result.error is not None:
        out["error"] = result.error
    if result.cause is not None:
        out["cause"] = result.cause
    return out


def describe(execution: Any) -> dict:
    """DescribeExecution's answer for an `Execution` of this process, running or ended, as the
    service answers it for the executions it keeps: ``redriveCount`` 0 for a Standard execution
    never redriven, and a Standard execution that timed out with neither error nor cause (both
    recorded on AWS: LocalStack test_sfn_api test_describe_execution, test_timeouts test_global_timeout)."""
    result = execution.result
    if result is None:
        out = {"executionArn": execution.arn, "stateMachineArn": execution.state_machine_arn, "name": execution.name,
               "status": "RUNNING", "input": _compact(execution.input), "inputDetails": {"included": True},
               "startDate": execution.start_time, "redriveStatus": "NOT_REDRIVABLE",
               "redriveStatusReason": "Execution is RUNNING and cannot be redriven"}
    else:
        out = described(execution, result)
        if result.status == "TIMED_OUT":
            out.pop("error", None)
            out.pop("cause", None)
    if execution.redrive_count or getattr(execution, "type", "STANDARD") == "STANDARD":
        out["redriveCount"] = execution.redrive_count
    if execution.redrive_count and execution.redrive_time is not None:
        out["redriveDate"] = execution.redrive_time
    return out


def sync_answer(execution: Any, result: Any, body: dict, input_text: str, elapsed_ms: int) -> dict:
    """StartSyncExecution's answer for the Express `execution` that ran to `result` from the
    request `body`, its input as DescribeExecution gives it (`input_text`), billed for
    `elapsed_ms` (rounded up to 100 ms). outputDetails comes with every status, FAILED too
    (recorded: LocalStack test_express_sync test_base[BASE_RAISE_FAILURE]), unlike DescribeExecution's."""
    out: dict = {"executionArn": execution.arn, "stateMachineArn": body["stateMachineArn"], "name": execution.name,
                 "startDate": result.start_time, "stopDate": result.stop_time, "status": result.status,
                 "input": input_text, "inputDetails": {"included": True}, "outputDetails": {"included": True},
                 "billingDetails": {"billedMemoryUsedInMB": 64,
                                    "billedDurationInMilliseconds": -(-elapsed_ms // 100) * 100}}
    if result.status == "SUCCEEDED":
        out["output"] = execution.output_text(result.output)
    if result.error is not None:
        out["error"] = result.error
    if result.cause is not None:
        out["cause"] = result.cause
    if body.get("traceHeader"):
        out["traceHeader"] = body["traceHeader"]
    if body.get("includedData") == "METADATA_ONLY":
        for key in ("input", "output"):
            out.pop(key, None)
    return out


# ---- a Step Functions endpoint through boto3 -----------------------------------------------

class Boto3Executions:
    """Children started on a Step Functions endpoint (``--aws``); ``.sync`` polls their status."""

    def __init__(self, integrations: Any, clients: Any = None, clock: Any = None):
        self.integrations = integrations
        self.clients = clients or integrations.clients
        self.clock = clock  # the parent's: its virtual time waits for the calls, as for any Task's

    def serves(self, machine_arn: str | None) -> bool:
        return True

    async def _call(self, method: str, clock: Any = None, **request: Any) -> dict:
        from ..threads import run_in_thread
        from .optimized import convert_error
        from .sdk import invoke, operation_of

        client = self.clients.client("stepfunctions")
        api = method[:1].lower() + method[1:]
        name, operation = operation_of(client, api)
        return await run_in_thread(lambda: invoke(client, name, operation, request,
                                                  lambda c, e: convert_error(c, e, "states")), clock)

    async def start(self, body: dict) -> dict:
        response = await self._call("StartExecution", self.clock, **body)
        response["startDate"] = response["startDate"].timestamp()
        return response

    async def wait(self, execution_arn: str, clock: Any) -> dict:
        while True:
            described = await self._call("DescribeExecution", clock, executionArn=execution_arn)
            if described["status"] != "RUNNING":
                described.pop("ResponseMetadata", None)
                for key in ("startDate", "stopDate"):
                    if hasattr(described.get(key), "timestamp"):
                        described[key] = described[key].timestamp()
                return described
            await clock.sleep(self.integrations.config.poll_seconds)

    async def stop(self, execution_arn: str, cause: str | None = None) -> None:
        await self._call("StopExecution", executionArn=execution_arn, **({"cause": cause} if cause else {}))

    async def find(self, execution_arn: str) -> dict | None:
        try:
            described = await self._call("DescribeExecution", self.clock, executionArn=execution_arn)
        except StatesError:
            return None
        return {"executionArn": execution_arn, "startDate": described["startDate"].timestamp(),
                "input": described.get("input")}
