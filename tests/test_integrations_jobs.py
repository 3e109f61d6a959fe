"""The ``.sync`` job integrations (ECS runTask, Batch submitJob, Glue startJobRun, Athena
startQueryExecution): start, poll until the job ends, the described job as the result, a failed
job as States.TaskFailed, and the job stopped when the execution stops (INTEGRATIONS-SPEC.md
sections 2 and 3). ECS, Batch and Glue run against moto's server (its state manager makes jobs
take several polls to end); moto 5.2 speaks only Athena's former JSON protocol, not the
rest-json botocore now sends, so Athena runs against a small fake of its REST API on loopback."""
from __future__ import annotations

import json
import threading
import time
import uuid

import anyio
import pytest

import asl
from asl.engine import prepare, run_sync
from support.fake_aws import FakeAws, serve

boto3 = pytest.importorskip("boto3")


def task(resource: str, parameters: dict) -> asl.StateMachine:
    return asl.load({"StartAt": "Job", "States": {"Job": {"Type": "Task", "Resource": resource,
                                                          "Parameters": parameters, "End": True}}})


def client(aws, service):
    return boto3.client(service, endpoint_url=aws["endpoints"]["*"], region_name="us-east-1")


def slow(moto_server, model: str, reads: int) -> None:
    """moto's jobs of `model` advance one state every `reads` describe calls."""
    moto_server.post("/moto-api/state-manager/set-transition",
                     {"model_name": model, "transition": {"progression": "manual", "times": reads}})


def polls(result) -> float:
    """Virtual seconds between TaskSubmitted and the Task's end (poll intervals slept)."""
    import datetime

    def at(event):
        return datetime.datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()
    events = result.history.events
    submitted = next(e for e in events if e["type"] == "TaskSubmitted")
    ended = next(e for e in events if e["type"] in ("TaskSucceeded", "TaskFailed"))
    return at(ended) - at(submitted)


@pytest.fixture
def ecs(aws):
    ecs = client(aws, "ecs")
    ecs.create_cluster(clusterName="jobs")
    ecs.register_task_definition(family="work", containerDefinitions=[{"name": "app", "image": "x", "memory": 128}])
    return ecs


def test_glue_job_run_is_polled_until_it_succeeds(aws, moto_server):
    slow(moto_server, "glue::job_run", 2)
    client(aws, "glue").create_job(Name="etl", Role="r", Command={"Name": "glueetl", "ScriptLocation": "s3://b/s.py"})
    result = run_sync(task("arn:aws:states:::glue:startJobRun.sync", {"JobName": "etl"}), {},
                      aws={**aws, "poll_seconds": 7})
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["JobRunState"] == "SUCCEEDED" and result.output["JobName"] == "etl"
    assert isinstance(result.output["StartedOn"], int)  # epoch milliseconds
    submitted = next(e for e in result.history.events if e["type"] == "TaskSubmitted")
    started = json.loads(submitted["taskSubmittedEventDetails"]["output"])
    assert started["JobRunId"] == result.output["Id"] and started["JobName"] == "etl"
    # STARTING -> RUNNING -> SUCCEEDED, two reads each: the interval was slept between reads (virtual time)
    assert polls(result) >= 7 and polls(result) % 7 == 0


def test_glue_request_response_returns_the_run_id(aws):
    client(aws, "glue").create_job(Name="etl", Role="r", Command={"Name": "glueetl", "ScriptLocation": "s3://b/s.py"})
    result = run_sync(task("arn:aws:states:::glue:startJobRun", {"JobName": "etl"}), {}, aws=aws)
    assert result.status == "SUCCEEDED" and result.output["JobRunId"].startswith("jr_")
    assert "SdkHttpMetadata" in result.output


def test_ecs_task_is_started_by_step_functions_and_polled_until_stopped(aws, moto_server, ecs):
    slow(moto_server, "ecs::task", 1)
    result = run_sync(task("arn:aws:states:::ecs:runTask.sync",
                           {"Cluster": "jobs", "TaskDefinition": "work", "LaunchType": "FARGATE"}), {},
                      aws={**aws, "poll_seconds": 3})
    assert result.status == "SUCCEEDED", result.cause
    out = result.output
    assert out["LastStatus"] == "STOPPED" and out["StartedBy"] == "AWS Step Functions"  # PascalCase, as AWS
    assert "SdkHttpMetadata" not in out and polls(result) >= 3


def stop_while_running(machine: asl.StateMachine, aws: dict, running=None) -> asl.engine.ExecutionResult:
    """Run `machine` in real time, stop the execution once `running()` says so (default: once
    the Task recorded TaskSubmitted, its job started), and return the result of the run."""
    async def main():
        execution = prepare(machine, {}, aws=aws, virtual_time=False)
        ready = running or (lambda: "TaskSubmitted" in [e["type"] for e in execution.history.events])
        async with anyio.create_task_group() as tg:
            async def go():
                execution.result = await execution.run()
            tg.start_soon(go)
            while not ready():
                await anyio.sleep(0.02)
            execution.stop()
        return execution.result

    return anyio.run(main)


def test_stopping_the_execution_stops_the_ecs_task(aws, moto_server, ecs):
    slow(moto_server, "ecs::task", 10_000)
    result = stop_while_running(task("arn:aws:states:::ecs:runTask.sync",
                                     {"Cluster": "jobs", "TaskDefinition": "work", "LaunchType": "FARGATE"}),
                                {**aws, "poll_seconds": 0.05})
    assert result.status == "ABORTED"
    (arn,) = ecs.list_tasks(cluster="jobs")["taskArns"]
    stopped = ecs.describe_tasks(cluster="jobs", tasks=[arn])["tasks"][0]
    assert stopped["desiredStatus"] == "STOPPED"
    assert stopped["stoppedReason"] == aborted(result.execution_arn)  # the same text as Batch's


def batch_job(aws, moto_server) -> asl.engine.ExecutionResult:
    """A Batch job queue on `moto_server` (docker-less: moto's simple Batch ends each job at
    once) and the result of a ``submitJob.sync`` Task on it."""
    moto_server.post("/moto-api/config", {"batch": {"use_docker": False}})
    try:
        role = client(aws, "iam").create_role(RoleName="batch", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
        batch = client(aws, "batch")
        env = batch.create_compute_environment(computeEnvironmentName="compute", type="UNMANAGED",
                                               serviceRole=role)["computeEnvironmentArn"]
        batch.create_job_queue(jobQueueName="queue", state="ENABLED", priority=1,
                               computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}])
        batch.register_job_definition(jobDefinitionName="def", type="container",
                                      containerProperties={"image": "x", "vcpus": 1, "memory": 128})
        return run_sync(task("arn:aws:states:::batch:submitJob.sync",
                             {"JobName": "nightly", "JobQueue": "queue", "JobDefinition": "def"}), {}, aws=aws)
    finally:
        moto_server.post("/moto-api/config", {"batch": {"use_docker": True}})


def test_batch_job_adds_the_step_functions_variable_and_returns_the_job(aws, moto_server):
    result = batch_job(aws, moto_server)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["Status"] == "SUCCEEDED" and result.output["JobName"] == "nightly"
    env = result.output["Container"]["Environment"]
    assert {"Name": "MANAGED_BY_AWS", "Value": "STARTED_BY_STEP_FUNCTIONS"} in env


@pytest.fixture(scope="module")
def failing_moto():
    """A second moto server, started with MOTO_SIMPLE_BATCH_FAIL_AFTER=0: its docker-less Batch
    fails every job (moto's own switch; nothing in boto3 or the engine is patched)."""
    from support.moto import MotoServer

    server = MotoServer(env={"MOTO_SIMPLE_BATCH_FAIL_AFTER": "0"}).start()
    try:
        yield server
    finally:
        server.stop()


def test_failed_batch_job_is_task_failed_with_the_job_as_cause(aws, failing_moto):
    failing_moto.reset()
    result = batch_job({**aws, "endpoints": {"*": failing_moto.url}}, failing_moto)
    assert result.status == "FAILED" and result.error == "States.TaskFailed"
    # the cause is the job as DescribeJobs returns it, PascalCased, times in epoch milliseconds (LSI)
    cause = json.loads(result.cause)
    assert cause["Status"] == "FAILED" and cause["JobName"] == "nightly" and cause["JobId"]
    assert isinstance(cause["CreatedAt"], int) and "SdkHttpMetadata" not in cause
    assert {"Name": "MANAGED_BY_AWS", "Value": "STARTED_BY_STEP_FUNCTIONS"} in cause["Container"]["Environment"]
    types = [e["type"] for e in result.history.events]
    assert types[types.index("TaskSubmitted") + 1] == "TaskFailed"


# ---- ECS and Glue failures, against fakes of their JSON 1.1 APIs ---------------------------
# moto never fails them: its ECS tasks stop without exit codes or stop codes (StopTask included),
# its Glue job runs only ever reach SUCCEEDED. These fakes speak the services' real protocol
# (POST /, X-Amz-Target, application/x-amz-json-1.1), so the engine's boto3 path is the real one.

class FakeJson11(FakeAws):
    """ECS RunTask/DescribeTasks/StopTask and Glue StartJobRun/GetJobRun/BatchStopJobRun; a job
    reads RUNNING twice, then ends as its name or task definition says (``fail-exit``: essential
    container exited 1; ``fail-start``: TaskFailedToStart; Glue ``FAILED``/``TIMEOUT``/``ERROR``;
    ``endless``: RUNNING until BatchStopJobRun stops it)."""

    content_type = "application/x-amz-json-1.1"
    jobs: dict = {}
    calls: list = []

    def do_POST(self):
        target = self.headers["X-Amz-Target"].split(".")[-1]
        body = self.read_json()
        self.calls.append((target, body))
        self.reply(getattr(self, target)(body))

    def _advance(self, key: str) -> dict:
        job = self.jobs[key]
        job["reads"] += 1
        return job

    # ECS
    def RunTask(self, body):
        arn = f"arn:aws:ecs:us-east-1:123456789012:task/jobs/{uuid.uuid4().hex}"
        self.jobs[arn] = {"reads": 0, "definition": body["taskDefinition"], "startedBy": body.get("startedBy")}
        return {"tasks": [self._task(arn)], "failures": []}

    def _task(self, arn):
        job = self.jobs[arn]
        task = {"taskArn": arn, "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/jobs",
                "taskDefinitionArn": f"arn:aws:ecs:us-east-1:123456789012:task-definition/{job['definition']}:1",
                "lastStatus": "RUNNING" if job["reads"] <= 2 else "STOPPED", "desiredStatus": "RUNNING",
                "startedBy": job["startedBy"], "createdAt": 1733000000.5,
                "containers": [{"name": "app", "lastStatus": "RUNNING"}]}
        if task["lastStatus"] == "STOPPED":
            task.update(desiredStatus="STOPPED", stoppedAt=1733000060.25)
            if job["definition"] == "fail-start":
                task.update(stopCode="TaskFailedToStart",
                            stoppedReason="CannotPullContainerError: pull image manifest has been retried 5 time(s)")
                task["containers"] = [{"name": "app", "lastStatus": "STOPPED"}]
            else:
                code = 1 if job["definition"] == "fail-exit" else 0
                task.update(stopCode="EssentialContainerExited", stoppedReason="Essential container in task exited")
                task["containers"] = [{"name": "app", "lastStatus": "STOPPED", "exitCode": code}]
        return task

    def DescribeTasks(self, body):
        return {"tasks": [self._task(arn) for arn in body["tasks"] if self._advance(arn)], "failures": []}

    def StopTask(self, body):
        return {"task": self._task(body["task"])}

    # Glue
    def StartJobRun(self, body):
        run_id = f"jr_{uuid.uuid4().hex}"
        self.jobs[run_id] = {"reads": 0, "name": body["JobName"], "stopped": False}
        return {"JobRunId": run_id}

    def GetJobRun(self, body):
        job = self._advance(body["RunId"])
        state = ("STOPPED" if job["stopped"] else
                 "RUNNING" if job["reads"] <= 2 or job["name"] == "endless" else job["name"])
        run = {"Id": body["RunId"], "JobName": body["JobName"], "JobRunState": state, "Attempt": 0,
               "StartedOn": 1733000000.5, "ExecutionTime": 12}
        if state != "RUNNING":
            run.update(CompletedOn=1733000060.25, ErrorMessage=f"The job run ended {state}")
        return {"JobRun": run}

    def BatchStopJobRun(self, body):
        for run_id in body["JobRunIds"]:
            self.jobs[run_id]["stopped"] = True
        return {"SuccessfulSubmissions": [{"JobName": body["JobName"], "JobRunId": run_id}
                                          for run_id in body["JobRunIds"]], "Errors": []}


@pytest.fixture
def json11(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    FakeJson11.jobs, FakeJson11.calls = {}, []
    server, url = serve(FakeJson11)
    yield {"endpoints": {"ecs": url, "glue": url}, "region": "us-east-1", "poll_seconds": 2}
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("definition, stop_code", [("fail-exit", "EssentialContainerExited"),
                                                   ("fail-start", "TaskFailedToStart")])
def test_failed_ecs_task_is_task_failed_with_the_task_as_cause(json11, definition, stop_code):
    result = run_sync(task("arn:aws:states:::ecs:runTask.sync", {"Cluster": "jobs", "TaskDefinition": definition}),
                      {}, aws=json11)
    assert result.status == "FAILED" and result.error == "States.TaskFailed"
    cause = json.loads(result.cause)  # the task as DescribeTasks returns it, PascalCased, times in ms (LS)
    assert cause["LastStatus"] == "STOPPED" and cause["StopCode"] == stop_code
    assert cause["StartedBy"] == "AWS Step Functions" and cause["CreatedAt"] == 1733000000500
    if definition == "fail-exit":
        # the Java SDK v1's empty lists and members by name (radkawar/stackd ecs_workflows.json,
        # sync-nonzero-history: "ExitCode":42,"GpuIds":[],...,"ManagedAgents":[],"Name":"work",...)
        assert cause["Containers"] == [{"ExitCode": 1, "GpuIds": [], "LastStatus": "STOPPED", "ManagedAgents": [],
                                        "Name": "app", "NetworkBindings": [], "NetworkInterfaces": []}]
    assert polls(result) == 4  # two reads RUNNING, two intervals of 2 s
    ok = run_sync(task("arn:aws:states:::ecs:runTask.sync", {"Cluster": "jobs", "TaskDefinition": "fine"}), {},
                  aws=json11)
    assert ok.status == "SUCCEEDED" and ok.output["Containers"][0]["ExitCode"] == 0


@pytest.mark.parametrize("state", ["FAILED", "TIMEOUT", "ERROR"])
def test_failed_glue_job_run_is_task_failed_with_the_run_as_cause(json11, state):
    result = run_sync(task("arn:aws:states:::glue:startJobRun.sync", {"JobName": state}), {}, aws=json11)
    assert result.status == "FAILED" and result.error == "States.TaskFailed"
    cause = json.loads(result.cause)  # GetJobRun's JobRun, times in epoch milliseconds (LSI)
    assert cause["JobRunState"] == state and cause["JobName"] == state
    assert cause["ErrorMessage"] == f"The job run ended {state}" and cause["CompletedOn"] == 1733000060250
    submitted = next(e for e in result.history.events if e["type"] == "TaskSubmitted")
    # the members in alphabetical order, as the Java SDK v1's results (every LS recording of an
    # optimized integration's result; radkawar/stackd task_integrations.json)
    assert list(json.loads(submitted["taskSubmittedEventDetails"]["output"])) == [
        "JobName", "JobRunId", "SdkHttpMetadata", "SdkResponseMetadata"]
    assert json.loads(submitted["taskSubmittedEventDetails"]["output"])["JobRunId"].startswith("jr_")
    assert [target for target, _ in FakeJson11.calls] == ["StartJobRun", "GetJobRun", "GetJobRun", "GetJobRun"]


# ---- Athena and Batch, against fakes of their rest-json APIs ------------------------------

class FakeRestJson(FakeAws):
    """A rest-json service on loopback: each request is logged in `calls` as (method, path, body)."""

    calls: list = []

    def body(self) -> dict:
        body = self.read_json()
        self.calls.append((self.command, self.path, body))
        return body


class FakeAthena(FakeRestJson):
    """StartQueryExecution / GetQueryExecution / StopQueryExecution over rest-json; a query whose
    text contains "fail" ends FAILED, "endless" stays RUNNING until stopped, others SUCCEEDED,
    each after two reads RUNNING."""

    queries: dict = {}

    def do_POST(self):
        body = self.body()
        if self.path == "/query-executions":
            qid = str(uuid.uuid4())
            self.queries[qid] = {"text": body["QueryString"], "reads": 0, "state": None}
            return self.reply({"QueryExecutionId": qid})
        qid = self.path.split("/")[2]
        self.queries[qid]["state"] = "CANCELLED"
        return self.reply({})

    def do_GET(self):
        self.body()
        qid = self.path.split("/")[2]
        query = self.queries.get(qid)
        if query is None:
            return self.reply({"__type": "InvalidRequestException", "Message": "no such query"}, 400)
        query["reads"] += 1
        state = query["state"] or ("RUNNING" if query["reads"] <= 2 or "endless" in query["text"] else
                                   "FAILED" if "fail" in query["text"] else "SUCCEEDED")
        status = {"State": state, "SubmissionDateTime": time.time()}
        if state == "FAILED":
            status["StateChangeReason"] = "SYNTAX_ERROR: line 1:1"
        self.reply({"QueryExecution": {"QueryExecutionId": qid, "Query": query["text"], "Status": status}})


@pytest.fixture
def athena(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    FakeAthena.queries = {}
    FakeAthena.calls = []
    server, url = serve(FakeAthena)
    yield {"endpoints": {"athena": url}, "region": "us-east-1", "poll_seconds": 2}
    server.shutdown()
    server.server_close()


def test_athena_query_succeeds_after_polls(athena):
    result = run_sync(task("arn:aws:states:::athena:startQueryExecution.sync", {"QueryString": "select 1"}), {},
                      aws=athena)
    assert result.status == "SUCCEEDED", result.cause
    assert result.output["QueryExecution"]["Status"]["State"] == "SUCCEEDED"
    assert isinstance(result.output["QueryExecution"]["Status"]["SubmissionDateTime"], int)
    assert polls(result) == 4  # two reads RUNNING, two intervals of 2 s


def test_failed_athena_query_is_task_failed_with_the_query_as_cause(athena):
    result = run_sync(task("arn:aws:states:::athena:startQueryExecution.sync", {"QueryString": "fail me"}), {},
                      aws=athena)
    assert result.status == "FAILED" and result.error == "States.TaskFailed"
    cause = json.loads(result.cause)
    assert cause["Status"]["State"] == "FAILED" and cause["Status"]["StateChangeReason"].startswith("SYNTAX_ERROR")


# ---- stopping the execution stops the job (INTEGRATIONS-SPEC section 2: TerminateJob,
# BatchStopJobRun, StopQueryExecution). moto's docker-less Batch ends a job inside SubmitJob and
# its Glue has no BatchStopJobRun, so these jobs run on the fakes, which stay RUNNING until stopped.

class FakeBatch(FakeRestJson):
    """SubmitJob / DescribeJobs / TerminateJob over rest-json; a job is RUNNING until TerminateJob
    makes it FAILED with the reason given (as Batch reports a terminated job). SubmitJob waits
    for `gate` to be set; `submitting` is set once it has arrived."""

    jobs: dict = {}
    gate = threading.Event()
    submitting = threading.Event()

    def do_POST(self):
        body = self.body()
        if self.path == "/v1/submitjob":
            self.submitting.set()
            self.gate.wait(30)
            job_id = str(uuid.uuid4())
            self.jobs[job_id] = {"jobId": job_id, "jobName": body["jobName"], "jobQueue": body["jobQueue"],
                                 "jobDefinition": body["jobDefinition"], "status": "RUNNING",
                                 "createdAt": 1733000000500, "startedAt": 1733000001500}
            return self.reply({"jobId": job_id, "jobName": body["jobName"],
                               "jobArn": f"arn:aws:batch:us-east-1:123456789012:job/{job_id}"})
        if self.path == "/v1/describejobs":
            return self.reply({"jobs": [self.jobs[job_id] for job_id in body["jobs"]]})
        if self.path == "/v1/terminatejob":
            self.jobs[body["jobId"]].update(status="FAILED", statusReason=body["reason"], stoppedAt=1733000060500)
            return self.reply({})
        return self.reply({"__type": "ClientException", "message": "unknown path"}, 400)


@pytest.fixture
def batch(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    FakeBatch.jobs = {}
    FakeBatch.gate, FakeBatch.submitting = threading.Event(), threading.Event()
    FakeBatch.gate.set()
    FakeBatch.calls = []
    server, url = serve(FakeBatch)
    yield {"endpoints": {"batch": url}, "region": "us-east-1", "poll_seconds": 0.05}
    FakeBatch.gate.set()
    server.shutdown()
    server.server_close()


BATCH = task("arn:aws:states:::batch:submitJob.sync", {"JobName": "nightly", "JobQueue": "queue", "JobDefinition": "def"})


def terminations() -> list:
    return [body for method, path, body in FakeBatch.calls if path == "/v1/terminatejob"]


def aborted(execution_arn: str) -> str:
    """The reason Step Functions gives a job it stops, as AWS Batch shows it (a Stack Overflow
    answer quotes a real job's status reason, q. 45596276)."""
    return f"The Task state in AWS Step Functions execution [{execution_arn}] which was managing this resource was aborted"


def test_stopping_the_execution_terminates_the_batch_job(batch):
    result = stop_while_running(BATCH, batch)
    assert result.status == "ABORTED"
    (job_id,) = FakeBatch.jobs
    assert terminations() == [{"jobId": job_id, "reason": aborted(result.execution_arn)}]
    assert FakeBatch.jobs[job_id]["status"] == "FAILED"
    types = [e["type"] for e in result.history.events]
    assert "TaskSubmitted" in types and types[-1] == "ExecutionAborted"


def test_a_batch_job_submitted_while_the_execution_stops_is_terminated(batch):
    """The execution stops while SubmitJob is on its way: the job it starts is terminated too."""
    FakeBatch.gate.clear()
    result = stop_while_running(BATCH, batch, running=FakeBatch.submitting.is_set)
    assert result.status == "ABORTED"
    assert "TaskSubmitted" not in [e["type"] for e in result.history.events]
    FakeBatch.gate.set()  # SubmitJob answers now, after the execution ended
    deadline = time.monotonic() + 30
    while not terminations() and time.monotonic() < deadline:
        time.sleep(0.05)
    (job_id,) = FakeBatch.jobs
    assert terminations() == [{"jobId": job_id, "reason": aborted(result.execution_arn)}]


def test_stopping_the_execution_stops_the_glue_job_run(json11):
    result = stop_while_running(task("arn:aws:states:::glue:startJobRun.sync", {"JobName": "endless"}),
                                {**json11, "poll_seconds": 0.05})
    assert result.status == "ABORTED"
    (run_id,) = FakeJson11.jobs
    stops = [body for target, body in FakeJson11.calls if target == "BatchStopJobRun"]
    assert stops == [{"JobName": "endless", "JobRunIds": [run_id]}]
    assert FakeJson11.jobs[run_id]["stopped"]


def test_stopping_the_execution_stops_the_athena_query(athena):
    result = stop_while_running(task("arn:aws:states:::athena:startQueryExecution.sync",
                                     {"QueryString": "select endless"}), {**athena, "poll_seconds": 0.05})
    assert result.status == "ABORTED"
    (qid,) = FakeAthena.queries
    stops = [(method, path) for method, path, _ in FakeAthena.calls if path.endswith("/stop")]
    assert stops == [("POST", f"/query-executions/{qid}/stop")]
    assert FakeAthena.queries[qid]["state"] == "CANCELLED"


def test_a_batch_task_that_times_out_terminates_its_job(batch):
    machine = asl.load({"StartAt": "Job", "States": {"Job": {
        "Type": "Task", "Resource": "arn:aws:states:::batch:submitJob.sync", "TimeoutSeconds": 5, "End": True,
        "Parameters": {"JobName": "nightly", "JobQueue": "queue", "JobDefinition": "def"}}}})
    result = run_sync(machine, {}, aws={**batch, "poll_seconds": 2})
    assert result.status == "FAILED" and result.error == "States.Timeout"
    (job_id,) = FakeBatch.jobs
    assert terminations() == [{"jobId": job_id, "reason": aborted(result.execution_arn)}]
