"""The Task state: call a handler or a mock, with AWS's events, timeouts and Invoke wrapping."""
from __future__ import annotations

import uuid
from typing import Any

import anyio

from ..errors import StatesError
from ..resources import parameter_problems, parse_resource, sync_request, unusable_parameters
from ..templates import Template, dumps, expect_kind
from .callbacks import activity_exists, serve_activity
from .observe import AttemptEnded, AttemptStarted
from .scope import Scope
from .staterun import Result, StateRun, end_if_deleted, with_retries
from .tasks import (AWS_DEFAULT_TIMEOUT, PASS_THROUGH, SYNC_ANSWERED, Beat, HandlerInterrupted, LambdaRequestRefused,
                    TaskContext, TaskFailed, UnservedTask, call_handler, exception_to_error, invoke_event,
                    json_copy, lambda_function_name, raised_at, sdk_invoke_event)


def invoke_response(payload: Any, rng: Any) -> dict:
    """``arn:aws:states:::lambda:invoke``'s result around a function's return value (ASL-SPEC.md 10);
    the request id is drawn from `rng` (the task's frame: the same seed gives the same ids)."""
    request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return {
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {"X-Amz-Executed-Version": ["$LATEST"], "x-amzn-RequestId": [request_id],
                               "Content-Type": ["application/json"]},
            "HttpHeaders": {"X-Amz-Executed-Version": "$LATEST", "x-amzn-RequestId": request_id,
                            "Content-Type": "application/json"},
            "HttpStatusCode": 200,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200,
    }


def event_invoke_response(rng: Any) -> dict:
    """``lambda:invoke`` with ``InvocationType: Event``: Lambda only queues the call (HTTP 202), so
    the result has no ExecutedVersion and a null Payload (raw AWS capture radkawar/stackd
    testdata/aws/stepfunctions/lambda_integrations.json history-optimized-event:
    ``{"Payload":null,"SdkHttpMetadata":{...,"HttpStatusCode":202},"SdkResponseMetadata":{...},"StatusCode":202}``,
    its headers without X-Amz-Executed-Version)."""
    request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return {
        "Payload": None,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {"x-amzn-RequestId": [request_id], "Content-Length": ["0"]},
            "HttpHeaders": {"Content-Length": "0", "x-amzn-RequestId": request_id},
            "HttpStatusCode": 202,
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 202,
    }


def sdk_invoke_response(body: str | None, function_error: bool = False) -> dict:
    """``aws-sdk:lambda:invoke``'s result: Lambda's Invoke response as the Java SDK v2 names it,
    ``{ExecutedVersion, [FunctionError], Payload, StatusCode}``, the Payload the response body's
    text (raw AWS capture radkawar/stackd testdata/aws/stepfunctions/lambda_integrations.json
    history-sdk-payload-object: ``{"ExecutedVersion":"$LATEST","Payload":"{\\"received\\": ...}",
    "StatusCode":200}``). A function that failed does not fail the Task: ``FunctionError``
    ``Unhandled`` and its error document as the Payload (history-sdk-function-error-object);
    `body` None, an ``Event`` invocation Lambda only queued: ``{"Payload":"","StatusCode":202}``
    (history-sdk-event)."""
    if body is None:
        return {"Payload": "", "StatusCode": 202}
    if function_error:
        return {"ExecutedVersion": "$LATEST", "FunctionError": "Unhandled", "Payload": body, "StatusCode": 200}
    return {"ExecutedVersion": "$LATEST", "Payload": body, "StatusCode": 200}


def _int_field(run: StateRun, literal: Any, path: Any, name: str, scope: Any) -> int | None:
    if literal is not None:
        value = literal.evaluate(scope) if isinstance(literal, Template) else literal
        if expect_kind(literal, value, "integer", name) <= 0:
            raise StatesError("States.QueryEvaluationError" if isinstance(literal, Template) else "States.Runtime",
                              f"The {name} field must be a positive integer, but was: {dumps(value)}")
        return int(value)
    if path is not None:
        value = run.read_path(path, scope.input)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise StatesError("States.Runtime", f"The {name}Path field refers to value \"{value}\" which is not a "
                              f"valid positive integer: {path.text}")
        return value
    return None


async def run_task(run: StateRun) -> Result:
    state = run.state
    info = parse_resource(state.resource)
    jsonata = state.is_jsonata

    # AWS puts a token in the context object of callback and .sync Tasks: a .sync Task's token
    # takes SendTaskHeartbeat, and SendTaskSuccess/Failure end the Task before its job does
    wait_token = info is not None and info.pattern in ("waitForTaskToken", "sync")

    async def attempt() -> Any:
        # The token exists before the input is processed: Parameters pass it on as $$.Task.Token.
        token = run.ex.new_task_token(run.rng) if wait_token else None
        make_context = (lambda: run.context(token)) if token else run.context
        if jsonata:
            scope = Scope(run.raw, run.frame.variables, run.rng, make_context, now=run.now)
            arguments = state.arguments.evaluate(scope) if state.arguments is not None else run.raw
        else:
            effective = run.effective_input()
            scope = Scope(effective, run.frame.variables, run.rng, make_context, now=run.now)
            arguments = state.parameters.evaluate(scope) if state.parameters is not None else effective
        if run.ex.observer is not None:
            run.note("afterArguments" if jsonata else "afterParameters", arguments)
        timeout = _int_field(run, state.timeout_seconds, state.timeout_seconds_path, "TimeoutSeconds", scope)
        heartbeat = _int_field(run, state.heartbeat_seconds, state.heartbeat_seconds_path, "HeartbeatSeconds",
                               scope)
        problems = parameter_problems(info, arguments)
        if problems:  # AWS refuses to start the call: no TaskScheduled, and no Retry or Catch
            raise unusable_parameters(arguments, problems)
        credentials = state.credentials.evaluate(scope) if state.credentials is not None else None
        role = credentials.get("RoleArn") if isinstance(credentials, dict) else None
        return await call(run, info, arguments, timeout, heartbeat, token, role if isinstance(role, str) else None)

    return run.finish(await with_retries(run, attempt))


async def call(run: StateRun, info: Any, arguments: Any, timeout: int | None, heartbeat: int | None,
               token: str | None, role: str | None = None) -> Any:
    """One attempt: schedule, start, run the handler or mock, succeed or fail (with its events)."""
    ex = run.ex
    state = run.state
    legacy_lambda = info is not None and info.kind == "lambda"
    activity = info is not None and info.kind == "activity"
    resource_type = info.history_resource_type if info is not None else "unknown"
    resource = info.history_resource if info is not None else state.resource
    base = {} if legacy_lambda or activity else {"resourceType": resource_type, "resource": resource}
    prefix = "LambdaFunction" if legacy_lambda else "Activity" if activity else "Task"
    scheduled: dict = dict(base)
    if legacy_lambda or activity:
        scheduled.update({"resource": state.resource, "input": arguments})
    else:
        scheduled.update({"region": ex.region, "parameters": sync_request(info, arguments)})
    if role is not None:
        scheduled["taskCredentials"] = {"roleArn": role}
    if timeout is not None:
        scheduled["timeoutInSeconds"] = timeout
    if heartbeat is not None:
        scheduled["heartbeatInSeconds"] = heartbeat
    mocks = ex.mocks
    mocked = mocks is not None and mocks.has(state.name)
    # an activity no handler or mock serves waits for a worker (ActivityBroker): it starts when one takes it
    brokered = activity and not mocked and ex.activities is not None and \
        ex.handlers.find(state.name, state.resource, None) is None
    if brokered and ex.recorded_next(run.frame) is None and not await activity_exists(ex.activities, state.resource):
        # recorded: LocalStack test_activities::test_activity_task_on_deleted (no ActivityScheduled);
        # a resumed execution that had scheduled the task goes on as it went
        raise StatesError("States.Runtime", f"The activity {state.resource} does not exist.")
    run.event(f"{prefix}Scheduled", scheduled)
    # (a brokered activity starts when a worker has it: `serve_activity`)
    started = None if brokered else ex.history.timestamp(run.event(f"{prefix}Started", dict(base) if base else None))

    # AWS names the task in a size failure: the function ARN, or the service ("lambda")
    who = state.resource if legacy_lambda or activity else (info.service if info is not None else state.resource)

    async def attempt(frame: Any, redelivered: bool) -> Any:
        if brokered:
            return await serve_activity(run, arguments, timeout, heartbeat, frame)

        def submitted(response: Any) -> None:
            # .sync and callback tasks: the API call went through; the outcome comes later
            ex.emit(frame, "TaskSubmitted", {**base, "output": response})
        return await _invoke(run, info, arguments, token, timeout, heartbeat, submitted, started, redelivered,
                             frame, role)

    observer = ex.observer
    if observer is not None:
        run.tell(AttemptStarted, run.retry_count + 1)
    try:
        ex.check_size(arguments, who, task=True)
        # the attempt's outcome is recorded: a resumed execution never calls a finished task again
        result = await ex.outcome(run.frame, attempt, (lambda: mocks.next_response(state.name)) if mocked else None)
        ex.check_size(result, who, task=True)
    except StatesError as err:
        if observer is not None:
            run.tell(AttemptEnded, run.retry_count + 1, err)
        details = dict(base)
        if err.error is not None:
            details["error"] = err.error
        if err.cause is not None:
            details["cause"] = err.cause
        event = f"{prefix}TimedOut" if err.error == "States.Timeout" else f"{prefix}Failed"
        run.event(event, details)
        failed = TaskFailed(err.error, err.cause, heartbeat=err.heartbeat)
        failed.hint = err.hint
        raise failed from None
    if activity:  # deleted while its worker worked: no ActivitySucceeded (AWS; other Tasks: unknown)
        end_if_deleted(ex, run.frame)
    run.event(f"{prefix}Succeeded", {**base, "output": result})
    if observer is not None:
        run.tell(AttemptEnded, run.retry_count + 1, None)
    return result


def _other_way(info: Any, arguments: Any) -> str | None:
    """How else a run could serve a Task that no handler or mock serves, for its cause: run
    the child machine of a ``states:startExecution`` Task (or of an ``aws-sdk:sfn`` start) here,
    call a service or an HTTP endpoint (a run that calls services never gets here: the
    integration layer serves it)."""
    if info is None or info.kind not in ("service", "sdk", "http"):
        return None  # a Lambda function, an activity: a handler is the way
    arn = arguments.get("StateMachineArn") if isinstance(arguments, dict) else None
    if (info.service, info.api) in (("states", "startExecution"), ("sfn", "startExecution"),
                                    ("sfn", "startSyncExecution")) and isinstance(arn, str):
        from .integrations.nested import machine_name

        name = machine_name(arn)
        return f"run the state machine '{name}' here (--machine {name}=FILE; machines= in Python)"
    if info.kind == "http":
        return "call the endpoint (--connections FILE, --aws; aws= in Python)"
    return "call the service (--aws, --endpoint-url URL; aws= in Python)"


async def _invoke(run: StateRun, info: Any, arguments: Any, token: str | None, timeout: int | None,
                  heartbeat: int | None, submitted: Any, started: float, redelivered: bool, frame: Any,
                  role: str | None = None) -> Any:
    ex = run.ex
    state = run.state
    invoke_wrap = info is not None and info.kind == "service" and info.service == "lambda"
    sdk_invoke = info is not None and info.kind == "sdk" and (info.service, info.api) == ("lambda", "invoke")
    sync = info is not None and info.pattern == "sync"
    mocks = ex.mocks
    if mocks is not None and mocks.has(state.name):
        response = mocks.next_response(state.name)
        ex.record_call(run, arguments, mocked=True)
        if response.throws:
            raise StatesError(response.error, response.cause)
        try:
            return json_copy(response.value)  # the config's value stays as written
        except TypeError as exc:  # MarshalError: not JSON, or nested too deeply to copy
            raise StatesError("States.Runtime", f"The mocked response of the state '{state.name}' cannot be "
                              f"used: {exc}") from None
    function = lambda_function_name(state.resource, arguments)
    handler = ex.handlers.find(state.name, state.resource, function)
    # neither a handler nor a mock: the service itself, when the run calls services (engine/integrations)
    service = None
    if handler is None and (ex.integrations is not None or ex.executions is not None):
        from .integrations import serve

        # the Task attempt, the same when a resumed execution makes it again (the start time is
        # the recorded one), another in another run of the same name and seed; a redrive runs
        # the failed attempt again at the same place in the journal, so it is named too (AWS
        # starts a new child: the failed run's would fail the redrive again)
        site = f"{ex.arn}/{ex.start_time!r}/{frame.key}"
        if ex.redrive_count:
            site += f"/redrive {ex.redrive_count}"
        service = serve(ex, info, arguments, role, site=site)
    if handler is None and service is None:
        ex.unserved.append(state.name)
        raise UnservedTask(state.name, state.resource, function, ex.handlers, mocks, _other_way(info, arguments))
    refused = None  # an aws-sdk Invoke that Lambda refuses: the function never runs
    if sdk_invoke and service is None:
        try:
            payload = sdk_invoke_event(arguments, lambda: str(uuid.UUID(int=run.rng.getrandbits(128), version=4)))
        except LambdaRequestRefused as exc:
            payload, refused = None, exc
    elif invoke_wrap and isinstance(arguments, dict):
        payload = invoke_event(arguments.get("Payload", {}))
    else:
        payload = arguments
    event_only = (invoke_wrap or sdk_invoke) and service is None and token is None and \
        isinstance(arguments, dict) and arguments.get("InvocationType") == "Event"
    # A test mock (`asl.engine.testing`) stands for the whole Task: on a callback Task its answer
    # is the callback's (SendTaskSuccess's output, or its failure), as a MockConfigFile response
    # is in Step Functions Local, so no token is waited for and nothing is wrapped.
    whole = token is not None and not sync and getattr(handler, "stands_for_task", False)
    beat = Beat()
    if token is not None and not whole:
        waiter = ex.token_waiter(token)
        beat = waiter.beat
    ctx = TaskContext(ex.name, ex.state_machine_name, state.name, state.resource,
                      run.retry_count + 1, run.context(token), token, run.frame.path, redelivered=redelivered,
                      beat=beat)
    if refused is None:
        ex.record_call(run, payload, mocked=False)
    function_answers = sdk_invoke and not whole  # the SDK's Invoke answers what the function did

    async def handle(*_: Any) -> Any:
        if service is not None:
            return await service(submitted)
        if refused is not None:
            raise refused
        try:
            result = await call_handler(handler, payload, ctx, ex.clock, body=function_answers)
            return sdk_invoke_response(result) if function_answers else result
        except StatesError:
            raise
        except KeyboardInterrupt:
            raise HandlerInterrupted() from None
        except PASS_THROUGH:
            raise
        except BaseException as exc:  # a handler's failure becomes an ASL error, in one place
            if isinstance(exc, anyio.get_cancelled_exc_class()):
                raise
            error, cause = exception_to_error(exc, as_returned=info is not None and info.kind == "lambda"
                                              or function_answers)
            if function_answers:  # the Invoke succeeded; its response tells the function failed
                return sdk_invoke_response(cause, function_error=True)
            failure = StatesError(error, cause)
            failure.hint = raised_at(exc)
            raise failure from None

    async def invoke() -> Any:
        if sync and service is None:
            submitted({})  # the job is started; the handler stands for the whole job
        if token is not None and sync:
            return await _first_of(handle, waiter, ex.clock)
        if token is not None and not whole:
            # The request carrying the token is sent once: resumed after a crash, the task
            # only goes on waiting (the token is the same, drawn from the task's frame).
            result = await ex.outcome(frame, handle)
            submitted(result)  # the callback request's API response
            return await waiter.wait()
        if event_only and refused is None:  # (a body Lambda cannot read is refused, whatever the type)
            try:  # the function runs; what it returns or raises never reaches the state, as on AWS
                await handle()
            except StatesError:
                pass
            return sdk_invoke_response(None) if sdk_invoke else event_invoke_response(run.rng)
        result = await handle()
        return invoke_response(result, run.rng) if invoke_wrap and service is None and not whole else result

    if token is not None and timeout is None and not sync:
        # AWS's default TimeoutSeconds (99999999). Under virtual time it matters: a callback
        # nothing will ever answer times out (at once, in virtual time) instead of hanging.
        # A .sync Task waits for its job, which ends it: none (a child that `asl serve` runs
        # is awaited outside the clock's books, and must not see its parent time out at once).
        timeout = AWS_DEFAULT_TIMEOUT
    # A callback's result is the SendTaskSuccess output as sent, never wrapped.
    if timeout is None and heartbeat is None:
        return await invoke()
    return await ex.guard(invoke(), timeout, heartbeat, beat, since=started)


async def _first_of(job: Any, waiter: Any, clock: Any) -> Any:
    """A ``.sync`` Task's outcome: its job's, or the answer sent with its token if that comes
    first (the job is then cancelled but not stopped: `asl.engine.tasks.answered_by_token`).

    Both race as strands of the execution's clock (`Clock.task_group`), so under virtual time
    the clock sees the Task idle while its job sleeps between polls, and moves time on. The
    token wait parks without the grace of a callback's (`TokenWaiter.wait`): the job, not the
    world, is what the Task waits for."""
    outcome: list = []
    flag = {"answered": False}
    reset = SYNC_ANSWERED.set(flag)
    try:
        async with clock.task_group() as group:
            async def run(fn: Any, answered: bool) -> None:
                try:
                    ended: tuple = (await fn(), None)
                except StatesError as err:
                    ended = (None, err)
                if not outcome:
                    outcome.append(ended)
                    flag["answered"] = answered
                group.cancel_scope.cancel()
            group.start_soon(run, job, False)
            group.start_soon(run, lambda: waiter.wait(outside=False), True)
    finally:
        SYNC_ANSWERED.reset(reset)
    value, error = outcome[0]
    if error is not None:
        raise error
    return value
