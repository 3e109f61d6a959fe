"""The ``.sync`` job integrations: ECS runTask, Batch submitJob, Glue startJobRun, Athena
startQueryExecution (INTEGRATIONS-SPEC.md sections 2 and 3).

Start the job, record ``TaskSubmitted`` with the start call's response, then poll the job's
describe call every `AwsConfig.poll_seconds` (of the execution's clock: under virtual time the
interval passes at once, the history shows it) until it ends. A job that succeeded returns the
described job; one that failed fails the Task with ``States.TaskFailed``, the job as JSON for
cause. Stopping the execution (or the Task's timeout) while it waits stops the job, best effort;
a job whose start call was on its way when the execution stopped is stopped once it has started.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any, Callable

from ...errors import StatesError
from ...resources import parse_resource, sync_request


@dataclass(frozen=True)
class Job:
    """How one job integration is started, followed and stopped (boto3 names, camelCase APIs).

    prepare   Parameters -> the start call's Parameters (what Step Functions adds)
    describe  (start response) -> (api, request, extract: response -> the job)
    state     the job -> its state; `done`/`failed` are the states that end it
    stop      (start response, reason) -> (api, request); `reason` is AWS's text for the job's end
              (`aborted_reason`) where the stop call takes one
    result    the job -> the Task's result

Jobs are read from the describe response as Step Functions shows them: every structure member
PascalCased (ECS's ``lastStatus`` -> ``LastStatus``), times in epoch milliseconds, no metadata.
    """

    prepare: Callable[[dict], dict]
    describe: Callable[[dict], tuple[str, dict, Callable[[dict], Any]]]
    state: Callable[[Any], str]
    done: frozenset
    failed: frozenset
    stop: Callable[[dict, str], tuple[str, dict]]
    result: Callable[[Any], Any]


def _ecs_event_task(task: dict) -> dict:
    """An ECS task as a ``runTask.sync`` Task ends with it: as ECS's "ECS Task State Change" event
    shows it, which Step Functions waits for, rather than as describeTasks does: without the
    task's and its containers' HealthStatus, PlatformFamily and FargateEphemeralStorage, an
    elastic network interface attachment of Type ``eni``. Recorded on AWS: radkawar/stackd
    ecs_workflows.json, the output of sync-zero-history (and the causes of sync-nonzero-history,
    sync-start-failure-history) against cleanup-task-descriptions' describe-tasks of the same
    tasks (``"type": "ElasticNetworkInterface"``, ``"healthStatus": "UNKNOWN"``,
    ``"platformFamily": "Linux"``, ``"fargateEphemeralStorage": {"sizeInGiB": 20}``)."""
    dropped = ("HealthStatus", "PlatformFamily", "FargateEphemeralStorage")
    out = {key: value for key, value in task.items() if key not in dropped}
    if isinstance(out.get("Containers"), list):
        out["Containers"] = [{key: value for key, value in c.items() if key != "HealthStatus"}
                             if isinstance(c, dict) else c for c in out["Containers"]]
    if isinstance(out.get("Attachments"), list):
        out["Attachments"] = [{**a, "Type": "eni"} if isinstance(a, dict) and a.get("Type") == "ElasticNetworkInterface"
                              else a for a in out["Attachments"]]
    return out


def _ecs_failed(task: dict) -> bool:
    # a task that never started, or an essential container that exited non-zero (INTEGRATIONS-SPEC open question 3)
    if task.get("StopCode") == "TaskFailedToStart":
        return True
    return any(c.get("ExitCode") not in (None, 0) for c in task.get("Containers") or [])


def _batch_prepare(args: dict) -> dict:
    # AWS adds MANAGED_BY_AWS=STARTED_BY_STEP_FUNCTIONS to the container's environment (LSI)
    args = dict(args)
    overrides = dict(args.get("ContainerOverrides") or {})
    env = list(overrides.get("Environment") or [])
    env.append({"Name": "MANAGED_BY_AWS", "Value": "STARTED_BY_STEP_FUNCTIONS"})
    overrides["Environment"] = env
    args["ContainerOverrides"] = overrides
    return args


JOBS: dict[tuple[str, str], Job] = {
    ("ecs", "runTask"): Job(
        prepare=lambda a: sync_request(parse_resource("arn:aws:states:::ecs:runTask.sync"), a),
        describe=lambda r: ("describeTasks", {"cluster": r["tasks"][0]["clusterArn"], "tasks": [r["tasks"][0]["taskArn"]]},
                            lambda d: _ecs_event_task(d["Tasks"][0])),
        state=lambda t: "FAILED" if t.get("LastStatus") == "STOPPED" and _ecs_failed(t) else t.get("LastStatus", ""),
        done=frozenset({"STOPPED"}), failed=frozenset({"FAILED"}),
        stop=lambda r, why: ("stopTask", {"cluster": r["tasks"][0]["clusterArn"], "task": r["tasks"][0]["taskArn"],
                                          "reason": why}),
        result=lambda job: job),
    ("batch", "submitJob"): Job(
        prepare=_batch_prepare,
        describe=lambda r: ("describeJobs", {"jobs": [r["jobId"]]}, lambda d: d["Jobs"][0]),
        state=lambda j: j.get("Status", ""), done=frozenset({"SUCCEEDED"}), failed=frozenset({"FAILED"}),
        stop=lambda r, why: ("terminateJob", {"jobId": r["jobId"], "reason": why}),
        result=lambda job: job),
    ("glue", "startJobRun"): Job(
        prepare=lambda a: a,
        describe=lambda r: ("getJobRun", {"JobName": r["JobName"], "RunId": r["JobRunId"]}, lambda d: d["JobRun"]),
        state=lambda j: j.get("JobRunState", ""), done=frozenset({"SUCCEEDED", "STOPPED"}),
        failed=frozenset({"FAILED", "TIMEOUT", "ERROR"}),
        stop=lambda r, _: ("batchStopJobRun", {"JobName": r["JobName"], "JobRunIds": [r["JobRunId"]]}),
        result=lambda job: job),
    ("athena", "startQueryExecution"): Job(
        prepare=lambda a: a,
        describe=lambda r: ("getQueryExecution", {"QueryExecutionId": r["QueryExecutionId"]},
                            lambda d: d["QueryExecution"]),
        state=lambda q: (q.get("Status") or {}).get("State", ""), done=frozenset({"SUCCEEDED"}),
        failed=frozenset({"FAILED", "CANCELLED"}),
        stop=lambda r, _: ("stopQueryExecution", {"QueryExecutionId": r["QueryExecutionId"]}),
        # the whole GetQueryExecution response (INTEGRATIONS-SPEC section 3, unverified)
        result=lambda q: {"QueryExecution": q}),
}


def aborted_reason(execution_arn: str | None) -> str:
    """The reason Step Functions gives the job it stops (a Batch job's status reason as a Stack
    Overflow answer quotes it, q. 45596276; the same text for an ECS task's stoppedReason, and
    the cause of a ``startExecution.sync`` child it stops: `nested.start_execution`)."""
    return f"The Task state in AWS Step Functions execution [{execution_arn}] which was managing this resource " \
           "was aborted"


async def run_job(clients: Any, info: Any, arguments: Any, clock: Any, submitted: Any, poll_seconds: float,
                  owner: str | None = None) -> Any:
    """Start the job `info` names, wait for its end, stop it if the wait is cancelled (`owner`:
    the ARN of the execution whose Task it is)."""
    import anyio

    from ..tasks import answered_by_token
    from ..threads import run_in_thread
    from .optimized import SERVICES, convert_error
    from .sdk import invoke, operation_of
    from .shapes import result_json, sdk_v1_result, to_request

    job = JOBS[(info.service, info.api)]
    client = clients.client(SERVICES[info.service][0])

    def call(api: str, request: dict, shaped: bool = False) -> Any:
        method, operation = operation_of(client, api)
        if shaped:
            request = to_request(operation.input_shape, request)
        response = invoke(client, method, operation, request, lambda c, e: convert_error(c, e, info.service))
        return response if shaped else result_json(response, operation.output_shape, sdk_v1=info.service)

    if not isinstance(arguments, dict):
        from .shapes import Unusable
        raise Unusable("The value of the field 'Parameters' has an invalid format")
    _, operation = operation_of(client, info.api)

    def answer(started: dict) -> dict:
        response = {**result_json(started, operation.output_shape, sdk_v1=info.service)}
        if info.service == "glue":
            response["JobName"] = arguments.get("JobName")  # AWS adds it (LSI)
        return response

    def stop(started: dict) -> None:
        stop_api, stop_request = job.stop(started if info.service != "glue" else answer(started),
                                          aborted_reason(owner))
        try:
            call(stop_api, stop_request)
        except Exception:  # best effort, as AWS's
            pass

    # The execution may stop while the start call is on its way: the job it starts is stopped
    # then by whichever side learns of the other last (the call's thread, or the cancelled wait).
    lock, start = threading.Lock(), {"response": None, "abandoned": False}

    def start_job() -> dict:
        started = call(info.api, job.prepare(arguments), shaped=True)
        with lock:
            start["response"], abandoned = started, start["abandoned"]
        if abandoned:
            stop(started)
        return started

    try:
        started = await run_in_thread(start_job, clock)
    except anyio.get_cancelled_exc_class():
        if answered_by_token():  # the Task ended by its token: the job runs on
            raise
        with lock:
            start["abandoned"], started = True, start["response"]
        if started is not None:
            with anyio.CancelScope(shield=True):
                await run_in_thread(lambda: stop(started))
        raise
    response = answer(started)
    if submitted is not None:
        submitted(sdk_v1_result(response, started))
    api, request, extract = job.describe(started if info.service != "glue" else response)
    try:
        while True:
            found = extract(await run_in_thread(lambda: call(api, request), clock))
            state = job.state(found)
            if state in job.done or state in job.failed:
                break
            await clock.sleep(poll_seconds)
    except anyio.get_cancelled_exc_class():
        if not answered_by_token():
            with anyio.CancelScope(shield=True):
                await run_in_thread(lambda: stop(started))
        raise
    if state in job.failed:
        raise StatesError("States.TaskFailed", json.dumps(found, separators=(",", ":"), ensure_ascii=False))
    return job.result(found)
