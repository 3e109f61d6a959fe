"""ECS runTask Tasks replayed from raw AWS captures: radkawar/stackd,
testdata/aws/stepfunctions/ecs_workflows.json (us-east-1, Standard executions, September 2026).
ECS itself is a fake of its JSON 1.1 API on loopback answering what the capture's ECS answered
(moto's tasks have neither exit codes nor attachments); each test names the observation's label."""
from __future__ import annotations

import json

import pytest

import asl
from asl.engine import run_sync
from support.fake_aws import FakeAws, serve

pytest.importorskip("boto3")

CLUSTER = "arn:aws:ecs:us-east-1:000000000000:cluster/stackd-sfn-ecs-9e022a1a43"
GOOD = "arn:aws:ecs:us-east-1:000000000000:task-definition/stackd-sfn-ecs-9e022a1a43-good:1"
NETWORK = {"AwsvpcConfiguration": {"Subnets": ["subnet-07acfd804ed04876f"], "SecurityGroups": ["sg-03d1424f404f2870f"],
                                   "AssignPublicIp": "ENABLED"}}
RR_TASK = "arn:aws:ecs:us-east-1:000000000000:task/stackd-sfn-ecs-9e022a1a43/4a8bab01cc5e424db47278d263b88b22"
SYNC_TASK = "arn:aws:ecs:us-east-1:000000000000:task/stackd-sfn-ecs-9e022a1a43/298cb28c2e0d45f9825e457b304d2bee"

# request-response-two: one of the tasks runTask started, on the wire (camelCase, epoch seconds),
# none of the lists the capture's result shows empty
STARTED = {
    "attachments": [{"id": "25cff944-2c30-4201-85e8-9af426f61ea3", "type": "ElasticNetworkInterface",
                     "status": "PRECREATED", "details": [{"name": "subnetId", "value": "subnet-07acfd804ed04876f"}]}],
    "attributes": [{"name": "ecs.cpu-architecture", "value": "x86_64"}], "availabilityZone": "us-east-1a",
    "clusterArn": CLUSTER,
    "containers": [{"containerArn": "arn:aws:ecs:us-east-1:000000000000:container/stackd-sfn-ecs-9e022a1a43/"
                                    "4a8bab01cc5e424db47278d263b88b22/e3c9a38d-662b-47a2-a006-1600c2c4092b",
                    "taskArn": RR_TASK, "name": "work", "image": "public.ecr.aws/lambda/python:3.12",
                    "lastStatus": "PENDING", "cpu": "0"}],
    "cpu": "256", "createdAt": 1790254007.676, "desiredStatus": "RUNNING", "enableExecuteCommand": False,
    "group": "family:stackd-sfn-ecs-9e022a1a43-good", "lastStatus": "PROVISIONING", "launchType": "FARGATE",
    "memory": "512", "overrides": {"containerOverrides": [{"name": "work"}]}, "platformVersion": "1.4.0",
    "platformFamily": "Linux", "tags": [], "taskArn": RR_TASK, "taskDefinitionArn": GOOD, "version": 1,
    "ephemeralStorage": {"sizeInGiB": 20}, "fargateEphemeralStorage": {"sizeInGiB": 20}}

# request-response-two-history, TaskSucceeded: that task in the result, verbatim
STARTED_AS_SHOWN = (
    '{"Attachments":[{"Details":[{"Name":"subnetId","Value":"subnet-07acfd804ed04876f"}],'
    '"Id":"25cff944-2c30-4201-85e8-9af426f61ea3","Status":"PRECREATED","Type":"ElasticNetworkInterface"}],'
    '"Attributes":[{"Name":"ecs.cpu-architecture","Value":"x86_64"}],"AvailabilityZone":"us-east-1a",'
    '"ClusterArn":"arn:aws:ecs:us-east-1:000000000000:cluster/stackd-sfn-ecs-9e022a1a43",'
    '"Containers":[{"ContainerArn":"arn:aws:ecs:us-east-1:000000000000:container/stackd-sfn-ecs-9e022a1a43/'
    '4a8bab01cc5e424db47278d263b88b22/e3c9a38d-662b-47a2-a006-1600c2c4092b","Cpu":"0","GpuIds":[],'
    '"Image":"public.ecr.aws/lambda/python:3.12","LastStatus":"PENDING","ManagedAgents":[],"Name":"work",'
    '"NetworkBindings":[],"NetworkInterfaces":[],"TaskArn":"arn:aws:ecs:us-east-1:000000000000:task/'
    'stackd-sfn-ecs-9e022a1a43/4a8bab01cc5e424db47278d263b88b22"}],"Cpu":"256","CreatedAt":1790254007676,'
    '"DesiredStatus":"RUNNING","EnableExecuteCommand":false,"EphemeralStorage":{"SizeInGiB":20},'
    '"FargateEphemeralStorage":{"SizeInGiB":20},"Group":"family:stackd-sfn-ecs-9e022a1a43-good",'
    '"InferenceAccelerators":[],"LastStatus":"PROVISIONING","LaunchType":"FARGATE","Memory":"512",'
    '"Overrides":{"ContainerOverrides":[{"Command":[],"Environment":[],"EnvironmentFiles":[],"Name":"work",'
    '"ResourceRequirements":[]}],"InferenceAcceleratorOverrides":[]},"PlatformFamily":"Linux",'
    '"PlatformVersion":"1.4.0","Tags":[],"TaskArn":"arn:aws:ecs:us-east-1:000000000000:task/'
    'stackd-sfn-ecs-9e022a1a43/4a8bab01cc5e424db47278d263b88b22","TaskDefinitionArn":'
    '"arn:aws:ecs:us-east-1:000000000000:task-definition/stackd-sfn-ecs-9e022a1a43-good:1","Version":1}')

# cleanup-task-descriptions: sync-zero's task as describe-tasks answered once it stopped (the
# CLI's ISO times as the wire's epoch seconds)
STOPPED = {
    "attachments": [{"id": "034edb17-c23e-4b29-8261-06a6a950d379", "type": "ElasticNetworkInterface",
                     "status": "DELETED", "details": [
                         {"name": "subnetId", "value": "subnet-07acfd804ed04876f"},
                         {"name": "networkInterfaceId", "value": "eni-08f136f53dcdfabdf"},
                         {"name": "macAddress", "value": "0e:ff:f5:7b:1f:21"},
                         {"name": "privateDnsName", "value": "ip-10-0-0-195.ec2.internal"},
                         {"name": "privateIPv4Address", "value": "10.0.0.195"}]}],
    "attributes": [{"name": "ecs.cpu-architecture", "value": "x86_64"}], "availabilityZone": "us-east-1a",
    "clusterArn": CLUSTER, "connectivity": "CONNECTED", "connectivityAt": 1790254013.142,
    "containers": [{"containerArn": "arn:aws:ecs:us-east-1:000000000000:container/stackd-sfn-ecs-9e022a1a43/"
                                    "298cb28c2e0d45f9825e457b304d2bee/3ca10d9e-63ff-4c0e-b83d-979875c05acc",
                    "taskArn": SYNC_TASK, "name": "work", "image": "public.ecr.aws/lambda/python:3.12",
                    "imageDigest": "sha256:6814cf40d432d5e96ec4abf1aa314d2eb923ea2244bddcbdbe7cced78c54f2fe",
                    "runtimeId": "298cb28c2e0d45f9825e457b304d2bee-1536741984", "lastStatus": "STOPPED",
                    "exitCode": 0, "networkBindings": [],
                    "networkInterfaces": [{"attachmentId": "034edb17-c23e-4b29-8261-06a6a950d379",
                                           "privateIpv4Address": "10.0.0.195"}],
                    "healthStatus": "UNKNOWN", "cpu": "0"}],
    "cpu": "256", "createdAt": 1790254009.268, "desiredStatus": "STOPPED", "enableExecuteCommand": False,
    "executionStoppedAt": 1790254031.583, "group": "family:stackd-sfn-ecs-9e022a1a43-good",
    "healthStatus": "UNKNOWN", "lastStatus": "STOPPED", "launchType": "FARGATE", "memory": "512",
    "overrides": {"containerOverrides": [{"name": "work"}], "inferenceAcceleratorOverrides": []},
    "platformVersion": "1.4.0", "platformFamily": "Linux", "pullStartedAt": 1790254020.251,
    "pullStoppedAt": 1790254030.327, "startedAt": 1790254030.537, "startedBy": "AWS Step Functions",
    "stopCode": "EssentialContainerExited", "stoppedAt": 1790254055.17,
    "stoppedReason": "Essential container in task exited", "stoppingAt": 1790254041.623, "tags": [],
    "taskArn": SYNC_TASK, "taskDefinitionArn": GOOD, "version": 5, "ephemeralStorage": {"sizeInGiB": 20},
    "fargateEphemeralStorage": {"sizeInGiB": 20}}

# sync-zero-history, TaskSucceeded's output, verbatim
STOPPED_AS_SHOWN = (
    '{"Attachments":[{"Details":[{"Name":"subnetId","Value":"subnet-07acfd804ed04876f"},'
    '{"Name":"networkInterfaceId","Value":"eni-08f136f53dcdfabdf"},{"Name":"macAddress","Value":"0e:ff:f5:7b:1f:21"},'
    '{"Name":"privateDnsName","Value":"ip-10-0-0-195.ec2.internal"},{"Name":"privateIPv4Address","Value":"10.0.0.195"}],'
    '"Id":"034edb17-c23e-4b29-8261-06a6a950d379","Status":"DELETED","Type":"eni"}],'
    '"Attributes":[{"Name":"ecs.cpu-architecture","Value":"x86_64"}],"AvailabilityZone":"us-east-1a",'
    '"ClusterArn":"arn:aws:ecs:us-east-1:000000000000:cluster/stackd-sfn-ecs-9e022a1a43","Connectivity":"CONNECTED",'
    '"ConnectivityAt":1790254013142,"Containers":[{"ContainerArn":"arn:aws:ecs:us-east-1:000000000000:container/'
    'stackd-sfn-ecs-9e022a1a43/298cb28c2e0d45f9825e457b304d2bee/3ca10d9e-63ff-4c0e-b83d-979875c05acc","Cpu":"0",'
    '"ExitCode":0,"GpuIds":[],"Image":"public.ecr.aws/lambda/python:3.12","ImageDigest":'
    '"sha256:6814cf40d432d5e96ec4abf1aa314d2eb923ea2244bddcbdbe7cced78c54f2fe","LastStatus":"STOPPED",'
    '"ManagedAgents":[],"Name":"work","NetworkBindings":[],"NetworkInterfaces":[{"AttachmentId":'
    '"034edb17-c23e-4b29-8261-06a6a950d379","PrivateIpv4Address":"10.0.0.195"}],"RuntimeId":'
    '"298cb28c2e0d45f9825e457b304d2bee-1536741984","TaskArn":"arn:aws:ecs:us-east-1:000000000000:task/'
    'stackd-sfn-ecs-9e022a1a43/298cb28c2e0d45f9825e457b304d2bee"}],"Cpu":"256","CreatedAt":1790254009268,'
    '"DesiredStatus":"STOPPED","EnableExecuteCommand":false,"EphemeralStorage":{"SizeInGiB":20},'
    '"ExecutionStoppedAt":1790254031583,"Group":"family:stackd-sfn-ecs-9e022a1a43-good","InferenceAccelerators":[],'
    '"LastStatus":"STOPPED","LaunchType":"FARGATE","Memory":"512","Overrides":{"ContainerOverrides":[{"Command":[],'
    '"Environment":[],"EnvironmentFiles":[],"Name":"work","ResourceRequirements":[]}],'
    '"InferenceAcceleratorOverrides":[]},"PlatformVersion":"1.4.0","PullStartedAt":1790254020251,'
    '"PullStoppedAt":1790254030327,"StartedAt":1790254030537,"StartedBy":"AWS Step Functions",'
    '"StopCode":"EssentialContainerExited","StoppedAt":1790254055170,"StoppedReason":'
    '"Essential container in task exited","StoppingAt":1790254041623,"Tags":[],"TaskArn":'
    '"arn:aws:ecs:us-east-1:000000000000:task/stackd-sfn-ecs-9e022a1a43/298cb28c2e0d45f9825e457b304d2bee",'
    '"TaskDefinitionArn":"arn:aws:ecs:us-east-1:000000000000:task-definition/stackd-sfn-ecs-9e022a1a43-good:1",'
    '"Version":5}')


class CapturedEcs(FakeAws):
    """RunTask answers `STARTED` (with the task's ARN `started`), DescribeTasks `STOPPED`."""

    content_type = "application/x-amz-json-1.1"
    calls: list = []
    started: str = RR_TASK

    def do_POST(self):
        target = self.headers["X-Amz-Target"].split(".")[-1]
        body = self.read_json()
        self.calls.append((target, body))
        if target == "RunTask":
            self.reply({"tasks": [{**STARTED, "taskArn": self.started}], "failures": []})
        elif target == "DescribeTasks":
            self.reply({"tasks": [STOPPED], "failures": []})
        else:
            self.reply({})


@pytest.fixture
def ecs(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    CapturedEcs.calls, CapturedEcs.started = [], RR_TASK
    server, url = serve(CapturedEcs)
    yield {"endpoints": {"ecs": url}, "region": "us-east-1", "poll_seconds": 5}
    server.shutdown()
    server.server_close()


def machine(resource: str, parameters: dict) -> asl.StateMachine:
    return asl.load({"StartAt": "Task", "TimeoutSeconds": 240, "States": {"Task": {
        "Type": "Task", "Resource": resource, "Parameters": parameters, "TimeoutSeconds": 210, "End": True}}})


def details(result, kind: str) -> dict:
    return next(e for e in result.history.events if e["type"] == kind)[kind[0].lower() + kind[1:] + "EventDetails"]


def test_a_request_response_run_task_result_is_the_sdk_v1_object_by_name_with_its_empty_lists(ecs):
    """request-response-two: PascalCase members in alphabetical order at every level, CreatedAt in
    epoch milliseconds, the lists ECS left out as ``[]`` (the Java SDK v1's constructed lists),
    none of botocore's members newer than that SDK (no NeuronDeviceIds); no StartedBy added."""
    parameters = {"Cluster": CLUSTER, "TaskDefinition": GOOD, "LaunchType": "FARGATE", "NetworkConfiguration": NETWORK,
                  "Count": 2}
    result = run_sync(machine("arn:aws:states:::ecs:runTask", parameters), {}, aws=ecs)
    assert result.status == "SUCCEEDED", result.cause
    assert list(result.output) == ["Failures", "SdkHttpMetadata", "SdkResponseMetadata", "Tasks"]
    assert result.output["Failures"] == []
    assert json.dumps(result.output["Tasks"][0], separators=(",", ":")) == STARTED_AS_SHOWN
    assert json.loads(details(result, "TaskScheduled")["parameters"]) == parameters
    assert "startedBy" not in CapturedEcs.calls[0][1]


def test_a_sync_run_task_is_started_by_step_functions_and_ends_with_the_task_as_its_state_change_event_shows_it(ecs):
    """sync-zero: TaskScheduled shows the StartedBy Step Functions adds after the Task's own
    parameters; TaskSubmitted the runTask result as request-response-two's; the output the
    stopped task as ECS's Task State Change event has it (no HealthStatus, PlatformFamily or
    FargateEphemeralStorage, attachment Type "eni"), verbatim."""
    CapturedEcs.started = SYNC_TASK
    parameters = {"Cluster": CLUSTER, "TaskDefinition": GOOD, "LaunchType": "FARGATE", "NetworkConfiguration": NETWORK}
    result = run_sync(machine("arn:aws:states:::ecs:runTask.sync", parameters), {}, aws=ecs)
    assert result.status == "SUCCEEDED", result.cause
    assert details(result, "TaskScheduled")["parameters"] == (
        '{"Cluster":"arn:aws:ecs:us-east-1:000000000000:cluster/stackd-sfn-ecs-9e022a1a43","TaskDefinition":'
        '"arn:aws:ecs:us-east-1:000000000000:task-definition/stackd-sfn-ecs-9e022a1a43-good:1","LaunchType":"FARGATE",'
        '"NetworkConfiguration":{"AwsvpcConfiguration":{"Subnets":["subnet-07acfd804ed04876f"],"SecurityGroups":'
        '["sg-03d1424f404f2870f"],"AssignPublicIp":"ENABLED"}},"StartedBy":"AWS Step Functions"}')
    assert CapturedEcs.calls[0][1]["startedBy"] == "AWS Step Functions"
    submitted = json.loads(details(result, "TaskSubmitted")["output"])
    assert list(submitted) == ["Failures", "SdkHttpMetadata", "SdkResponseMetadata", "Tasks"]
    assert submitted["Tasks"][0]["TaskArn"] == SYNC_TASK and submitted["Tasks"][0]["InferenceAccelerators"] == []
    assert details(result, "TaskSucceeded")["output"] == STOPPED_AS_SHOWN
