"""Definitions deployed on AWS that the validator must not reject (issue 11), and the
checks that came with them: placeholders, regional integration ARNs, YAML scalars,
DefinitionUri problems, deliberate MaxAttempts 0 retriers, the definition size limit."""
from __future__ import annotations

import asl


def machine(**states):
    first = next(iter(states))
    return {"StartAt": first, "States": states}


def errors(definition, **kw):
    return [(d.code, d.message, d.location) for d in asl.validate(definition, **kw).errors]


def warnings(definition, **kw):
    return [(d.code, d.location) for d in asl.validate(definition, **kw).warnings]


# ---------------------------------------------------------------------------------------------
# Integration ARNs with a region and account; Pass Parameters as an array
# ---------------------------------------------------------------------------------------------

def test_integration_arns_with_region_and_account_are_accepted():
    for arn in ("arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject",
                "arn:aws:states:us-east-1:123456789012:lambda:invoke",
                "arn:aws:states:eu-west-1:123456789012:states:startExecution.sync:2"):
        d = machine(T={"Type": "Task", "Resource": arn, "End": True})
        assert errors(d) == [], arn
        assert warnings(d) == [], arn
    # Step Functions' own ARNs are still not something a Task can call.
    d = machine(T={"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:stateMachine:x", "End": True})
    assert [e[0] for e in errors(d)] == ["SCHEMA_VALIDATION_FAILED"]
    # the pattern rules still hold on the long form
    d = machine(T={"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:dynamodb:query", "End": True})
    assert [e[0] for e in errors(d)] == ["SCHEMA_VALIDATION_FAILED"]


def test_regional_integration_arns_run():
    from asl.engine import Handlers, run_sync

    handlers = Handlers()
    handlers.register("fn", lambda event: {"seen": event})
    handlers.register("arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject", lambda p: {"Body": p["Key"]})
    d = machine(
        Call={"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:lambda:invoke",
              "Parameters": {"FunctionName": "fn", "Payload.$": "$"}, "ResultSelector": {"p.$": "$.Payload"},
              "Next": "Get"},
        Get={"Type": "Task", "Resource": "arn:aws:states:us-east-1:123456789012:aws-sdk:s3:getObject",
             "Parameters": {"Bucket": "b", "Key": "k"}, "ResultPath": "$.s3", "End": True})
    result = run_sync(asl.load(d), {"a": 1}, handlers=handlers)
    assert result.status == "SUCCEEDED"
    assert result.output == {"p": {"seen": {"a": 1}}, "s3": {"Body": "k"}}


def test_parameters_and_result_selector_may_be_any_json_value():
    """AWS accepts and runs Parameters that are an array or a scalar (aws-toolkit-vscode#2459:
    the language service was changed "to match the constraints applied in the service")."""
    from asl.engine import Handlers, run_sync

    d = machine(P={"Type": "Pass", "Parameters": [{"a.$": "$.x"}, 2, "s"], "End": True})
    assert errors(d) == []
    assert run_sync(asl.load(d), {"x": 1}).output == [{"a": 1}, 2, "s"]
    d = machine(P={"Type": "Pass", "Parameters": "x", "End": True})
    assert errors(d) == [] and run_sync(asl.load(d), {}).output == "x"
    handlers = Handlers()
    handlers.register("state:T", lambda event: {"got": event})
    # (a function ARN takes any JSON as its payload; lambda:invoke's Parameters must be an object)
    d = machine(T={"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:T",
                   "Parameters": [1, {"b.$": "$.y"}], "ResultSelector": ["$.got", {"r.$": "$.got"}], "End": True})
    assert errors(d) == []
    out = run_sync(asl.load(d), {"y": 2}, handlers=handlers).output
    assert out == ["$.got", {"r": [1, {"b": 2}]}]
    d["States"]["T"]["Resource"] = "arn:aws:states:::lambda:invoke"
    failed = run_sync(asl.load(d), {"y": 2}, handlers=handlers)
    assert (failed.error, failed.cause) == ("States.Runtime", "An error occurred while executing the state 'T' "
                                            "(entered at the event id #2). The Parameters '[1,{\"b\":2}]' could not "
                                            "be used to start the Task: [The Parameters must be a JSON object]")
    # a bad path inside is still found
    d = machine(P={"Type": "Pass", "Parameters": [{"a.$": "not a path"}], "End": True})
    assert [e[0] for e in errors(d)] == ["SCHEMA_VALIDATION_FAILED"]


# ---------------------------------------------------------------------------------------------
# RETRY_NEVER
# ---------------------------------------------------------------------------------------------

def _task(retry):
    return machine(T={"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
                      "Retry": retry, "End": True})


def test_max_attempts_zero_before_a_retrier_that_would_match_is_deliberate():
    shield = {"ErrorEquals": ["Custom.Fatal"], "MaxAttempts": 0}
    for later in (["States.ALL"], ["Custom.Fatal", "Other"], ["States.TaskFailed"]):
        assert ("RETRY_NEVER", "/States/T/Retry[0]") not in warnings(_task([shield, {"ErrorEquals": later}])), later
    # alone, or before retriers that would not take its errors, it only disables retries
    assert ("RETRY_NEVER", "/States/T/Retry[0]") in warnings(_task([shield]))
    assert ("RETRY_NEVER", "/States/T/Retry[0]") in warnings(_task([shield, {"ErrorEquals": ["Other"]}]))
    # States.TaskFailed does not match States.Timeout
    timeout = {"ErrorEquals": ["States.Timeout"], "MaxAttempts": 0}
    assert ("RETRY_NEVER", "/States/T/Retry[0]") in warnings(_task([timeout, {"ErrorEquals": ["States.TaskFailed"]}]))
    # the last retrier has nothing after it to shield
    assert ("RETRY_NEVER", "/States/T/Retry[1]") in warnings(
        _task([{"ErrorEquals": ["A"]}, {"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}]))


# ---------------------------------------------------------------------------------------------
# ${Name} placeholders (SAM DefinitionSubstitutions, Terraform, Serverless Framework)
# ---------------------------------------------------------------------------------------------

PLACEHOLDERS = {
    "StartAt": "Process",
    "States": {
        "Process": {"Type": "Task", "Resource": "${ProcessFunctionArn}", "TimeoutSeconds": "${Timeout}",
                    "Retry": [{"ErrorEquals": ["States.ALL"], "BackoffRate": "${Backoff}"}], "Next": "Invoke"},
        "Invoke": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": {"FunctionName": "${aws_lambda_function.worker.arn}", "Payload.$": "$"},
                   "Next": "Save"},
        "Save": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                 "Parameters": {"TableName": "${self:custom.tables.${opt:stage}}",
                                "Item": {"id": {"S.$": "$.id"}, "cfg": {"S": "${file(./config.json):name}"}}},
                 "Next": "Pause"},
        "Pause": {"Type": "Wait", "Seconds": "${var.wait_seconds}", "Next": "Notify"},
        "Notify": {"Type": "Task", "Resource": "arn:aws:lambda:${AWS::Region}:${AWS::AccountId}:function:notify",
                   "End": True},
    },
}


def test_placeholders_are_one_warning_each_and_the_rest_is_checked():
    result = asl.validate(PLACEHOLDERS)
    assert result.ok, result.errors
    found = [(d.code, d.location, d.message.split(" ")[0]) for d in result.warnings]
    assert found == [
        ("UNRESOLVED_PLACEHOLDER", "/States/Process/Resource", "${ProcessFunctionArn}"),
        ("UNRESOLVED_PLACEHOLDER", "/States/Process/TimeoutSeconds", "${Timeout}"),
        ("UNRESOLVED_PLACEHOLDER", "/States/Process/Retry[0]/BackoffRate", "${Backoff}"),
        ("UNRESOLVED_PLACEHOLDER", "/States/Invoke/Parameters/FunctionName", "${aws_lambda_function.worker.arn}"),
        ("UNRESOLVED_PLACEHOLDER", "/States/Save/Parameters/TableName", "${self:custom.tables.${opt:stage}}"),
        ("UNRESOLVED_PLACEHOLDER", "/States/Save/Parameters/Item/cfg/S", "${file(./config.json):name}"),
        ("UNRESOLVED_PLACEHOLDER", "/States/Pause/Seconds", "${var.wait_seconds}"),
        ("UNRESOLVED_PLACEHOLDER", "/States/Notify/Resource", "${AWS::Region}"),
        ("UNRESOLVED_PLACEHOLDER", "/States/Notify/Resource", "${AWS::AccountId}"),
    ]
    assert all("not checked" in d.message for d in result.warnings)
    # the rest is still checked
    broken = {**PLACEHOLDERS, "States": {**PLACEHOLDERS["States"], "Notify": {
        "Type": "Task", "Resource": "${Fn}", "HeartbeatSeconds": 0, "End": True}}}
    assert errors(broken) == [("SCHEMA_VALIDATION_FAILED", "Minimum value is 1", "/States/Notify/HeartbeatSeconds")]
    assert ("UNRESOLVED_PLACEHOLDER", "/States/Notify/Resource") in warnings(broken)


def test_substitutions_fill_placeholders_with_the_fields_type():
    values = {"ProcessFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:process", "Timeout": 30,
              "Backoff": "1.5", "aws_lambda_function.worker.arn": "worker", "self:custom.tables.${opt:stage}": "t",
              "file(./config.json):name": "n", "var.wait_seconds": "0", "AWS::Region": "us-east-1",
              "AWS::AccountId": "123456789012"}
    result = asl.validate(PLACEHOLDERS, substitutions=values)
    assert result.ok and result.warnings == []
    process = result.machine.definition["States"]["Process"]
    assert process["TimeoutSeconds"] == 30 and process["Retry"][0]["BackoffRate"] == 1.5
    assert result.machine.definition["States"]["Notify"]["Resource"] == \
        "arn:aws:lambda:us-east-1:123456789012:function:notify"
    # a filled value is checked like any other
    bad = asl.validate(PLACEHOLDERS, substitutions={**values, "ProcessFunctionArn": "nope", "Timeout": "soon"})
    assert {(d.code, d.location) for d in bad.errors} == {
        ("SCHEMA_VALIDATION_FAILED", "/States/Process/Resource"),
        ("SCHEMA_VALIDATION_FAILED", "/States/Process/TimeoutSeconds")}
    assert PLACEHOLDERS["States"]["Process"]["TimeoutSeconds"] == "${Timeout}"  # never changed in place


def test_placeholders_are_not_no_dollar_but_paths_still_are():
    d = machine(P={"Type": "Pass", "Parameters": {"table": "${Table}", "path": "$.x"}, "End": True})
    assert sorted(warnings(d)) == [("NO_DOLLAR", "/States/P/Parameters"),  # (AWS's location: test_validator)
                                   ("UNRESOLVED_PLACEHOLDER", "/States/P/Parameters/table")]


def test_a_machine_with_unfilled_placeholders_runs():
    from asl.engine import Handlers, run_sync

    handlers = Handlers()
    handlers.register("state:T", lambda event: {"table": event["TableName"]})
    d = machine(T={"Type": "Task", "Resource": "${FnArn}", "TimeoutSeconds": "${Timeout}",
                   "Parameters": {"TableName": "${Table}"}, "End": True})
    result = run_sync(asl.load(d), {}, handlers=handlers)
    assert result.status == "SUCCEEDED" and result.output == {"table": "${Table}"}


def test_bare_placeholders_in_json_text(tmp_path):
    path = tmp_path / "tf.asl.json"
    path.write_text('{\n  "StartAt": "W",\n  "States": {\n'
                    '    "W": {"Type": "Wait", "Seconds": ${wait_seconds}, "Next": "T"},\n'
                    '    "T": {"Type": "Task", "Resource": "${lambda_arn}", "End": true}\n  }\n}\n')
    result = asl.validate(str(path))
    assert result.ok
    assert [(d.location, d.line, d.column) for d in result.warnings] == [
        ("/States/W/Seconds", 4, 27), ("/States/T/Resource", 5, 27)]
    filled = asl.validate(str(path), substitutions={"wait_seconds": 5, "lambda_arn": "arn:aws:lambda:us-east-1:"
                                                    "123456789012:function:f"})
    assert filled.ok and filled.warnings == []
    assert filled.machine.definition["States"]["W"]["Seconds"] == 5
    # what the value makes of the text is checked: here it is no JSON value at all
    broken = asl.validate(str(path), substitutions={"wait_seconds": "soon"})
    assert [d.code for d in broken.errors] == ["INVALID_JSON_DESCRIPTION"] and broken.errors[0].line == 4
    # JSON broken elsewhere still reports its own error
    path.write_text('{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": ${s}, "End": true},}}')
    assert [d.code for d in asl.validate(str(path)).errors] == ["INVALID_JSON_DESCRIPTION"]


# ---------------------------------------------------------------------------------------------
# YAML definitions (Serverless Framework .asl.yml): YAML 1.2 core-schema scalars
# ---------------------------------------------------------------------------------------------

SERVERLESS_YAML = """\
StartAt: Start
States:
  Start:
    Type: Task
    Resource: ${self:custom.startArn}
    Next: Yes
  Yes:
    Type: Choice
    Choices:
      - Variable: $.answer
        StringEquals: On
        Next: No
    Default: Off
  No:
    Type: Pass
    Result: {flag: y, real: true}
    Next: N
  N: {Type: Succeed}
  Off: {Type: Succeed}
"""


def test_yaml_names_like_yes_and_no_stay_strings(tmp_path):
    path = tmp_path / "flow.asl.yml"
    path.write_text(SERVERLESS_YAML)
    result = asl.validate(str(path))
    assert result.ok, result.errors
    assert [(d.code, d.location, d.line) for d in result.warnings] == [
        ("UNRESOLVED_PLACEHOLDER", "/States/Start/Resource", 5)]
    states = result.machine.definition["States"]
    assert states["Start"]["Next"] == "Yes"
    assert states["Yes"]["Choices"][0] == {"Variable": "$.answer", "StringEquals": "On", "Next": "No"}
    assert states["Yes"]["Default"] == "Off" and states["No"]["Next"] == "N"
    assert states["No"]["Result"] == {"flag": "y", "real": True}


# ---------------------------------------------------------------------------------------------
# Templates: DefinitionSubstitutions left unfilled, S3 definitions, DefinitionUri misses
# ---------------------------------------------------------------------------------------------

SAM_TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  Orders:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri: statemachine/orders.asl.json
      DefinitionSubstitutions:
        ProcessFunctionArn: arn:aws:lambda:us-east-1:123456789012:function:process
        OrdersTable: orders
  Archived:
    Type: AWS::Serverless::StateMachine
    Properties:
      DefinitionUri:
        Bucket: deployment-bucket
        Key: archived.asl.json
"""

ORDERS = """{
  "StartAt": "Process",
  "States": {
    "Process": {"Type": "Task", "Resource": "${ProcessFunctionArn}", "Next": "Save"},
    "Save": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
             "Parameters": {"TableName": "${Orderstable}", "Item": {"id": {"S.$": "$.id"}}}, "End": true}
  }
}
"""


def _sam(tmp_path, template=SAM_TEMPLATE):
    (tmp_path / "statemachine").mkdir()
    (tmp_path / "statemachine" / "orders.asl.json").write_text(ORDERS)
    (tmp_path / "template.yaml").write_text(template)
    return str(tmp_path / "template.yaml")


def test_template_placeholder_left_unfilled_is_a_warning_with_a_did_you_mean(tmp_path):
    orders, archived = asl.validate_all(_sam(tmp_path))
    assert orders.ok and orders.errors == []
    [warning] = orders.warnings
    assert (warning.code, warning.location, warning.line) == ("UNRESOLVED_PLACEHOLDER",
                                                              "/States/Save/Parameters/TableName", 6)
    assert "DefinitionSubstitutions has no 'Orderstable' (did you mean 'OrdersTable'?)" in warning.message
    assert warning.filename.endswith("orders.asl.json")
    # a definition kept in S3 is not checked, and that is not a failure
    assert archived.ok and archived.machine is None
    [note] = archived.diagnostics
    assert (note.severity, note.code, note.line) == ("WARNING", "DEFINITION_NOT_LOCAL", 14)
    assert "S3" in note.message and "not checked" in note.message


def test_definition_uri_missing_gives_a_did_you_mean(tmp_path):
    path = _sam(tmp_path, SAM_TEMPLATE.replace("statemachine/orders.asl.json", "statemachine/Orders.asl.json"))
    [result] = asl.validate_all(path + "#Orders")
    [error] = result.errors
    assert error.code == "FILE_NOT_FOUND" and error.line == 7
    assert error.message.endswith("did you mean 'statemachine/orders.asl.json'?")
    # the other machines of the template are still reported on
    orders, archived = asl.validate_all(path)
    assert [d.code for d in orders.errors] == ["FILE_NOT_FOUND"] and orders.name == "Orders"
    assert [d.code for d in archived.diagnostics] == ["DEFINITION_NOT_LOCAL"]


# A CDK app's DefinitionBody.fromFile: `cdk synth` writes DefinitionS3Location with the
# asset's object key, and the stack's asset manifest (<Stack>.assets.json, the cloud
# assembly's "files" entries: source.path relative to the manifest, packaging, and
# destinations with bucketName/objectKey) tells which local file that key is. Seen in
# aws-samples/serverless-patterns cdk-custom-resource-with-wait-condition and
# aws-samples/aws-stepfunctions-examples usecases/genai-prompt-chaining-hitl (synthesized:
# both definitions were reported DEFINITION_NOT_LOCAL and left unchecked).
CDK_KEY = "52dfa8afd886745fd01374b2e65212afce2baf54a2dfc5d94cdd339746eb6003.json"
CDK_TEMPLATE = {"Resources": {
    "Fn": {"Type": "AWS::Lambda::Function", "Properties": {}},
    "Machine": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
        "DefinitionS3Location": {
            "Bucket": {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"},
            "Key": CDK_KEY},
        "DefinitionSubstitutions": {"SignalArn": {"Fn::GetAtt": ["Fn", "Arn"]}}}}}}
CDK_DEFINITION = """{
  "StartAt": "Signal",
  "States": {
    "Signal": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
               "Parameters": {"FunctionName": "${SignalArn}"}, "Next": "Done"}
  }
}"""


def _cdk_out(tmp_path, packaging="file", key=CDK_KEY):
    import json

    out = tmp_path / "cdk.out"
    out.mkdir()
    (out / "Stack.template.json").write_text(json.dumps(CDK_TEMPLATE, indent=1))
    (out / f"asset.{CDK_KEY}").write_text(CDK_DEFINITION)
    (out / "Stack.assets.json").write_text(json.dumps({"version": "55.0.0", "files": {
        CDK_KEY[:-5]: {"source": {"path": f"asset.{CDK_KEY}", "packaging": packaging},
                       "destinations": {"123456789012-us-east-1": {
                           "bucketName": "cdk-hnb659fds-assets-123456789012-us-east-1", "objectKey": key}}}}}))
    return str(out / "Stack.template.json")


def test_cdk_definition_s3_location_is_read_from_the_asset_manifest(tmp_path):
    [result] = asl.validate_all(_cdk_out(tmp_path))
    # read and checked: "Done" is not a state, found in the asset file, with the
    # substitution applied (no UNRESOLVED_PLACEHOLDER)
    [missing] = [d for d in result.diagnostics if d.code == "MISSING_TRANSITION_TARGET"]
    assert "UNRESOLVED_PLACEHOLDER" not in [d.code for d in result.diagnostics]
    assert missing.filename.endswith(f"asset.{CDK_KEY}") and missing.line == 5


def test_cdk_definition_s3_location_without_a_matching_file_asset_is_not_local(tmp_path):
    for kw in ({"packaging": "zip"}, {"key": "other.json"}):
        sub = tmp_path / kw.get("packaging", "key")
        sub.mkdir()
        [result] = asl.validate_all(_cdk_out(sub, **kw))
        assert [d.code for d in result.diagnostics] == ["DEFINITION_NOT_LOCAL"], kw


SAM_IMPLICIT_API = """\
Transform: AWS::Serverless-2016-10-31
Resources:
  ToApi:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Call
        States:
          Call:
            Type: Task
            Resource: arn:aws:states:::apigateway:invoke
            Parameters: {ApiEndpoint: "${Endpoint}", Method: GET, Stage: Prod, Path: /}
            End: true
      DefinitionSubstitutions:
        Endpoint: !Sub "${ServerlessRestApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
        HttpEndpoint: !Sub "${ServerlessHttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"
        FnRole: !GetAtt Fn.Arn
        RoleArn: !GetAtt FnRole.Arn
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Events:
        Get: {Type: Api, Properties: {Path: /, Method: GET}}
        Post: {Type: HttpApi}
"""


def test_sam_generated_resources_are_known_to_fn_sub(tmp_path):
    """aws-samples/serverless-patterns sfn-apigw/template.yaml (deployed by its author) fills
    ${APIEndPoint} with !Sub "${ServerlessRestApi}.execute-api...": ServerlessRestApi is the
    REST API SAM generates for a function's Api event without RestApiId (as ServerlessHttpApi
    is for HttpApi events, and <Function>Role for a function given no Role: SAM's
    docs/internals/generated_resources.rst). CloudFormation resolves it; it is no placeholder."""
    path = tmp_path / "template.yaml"
    path.write_text(SAM_IMPLICIT_API)
    [result] = asl.validate_all(str(path))
    assert result.diagnostics == []
    params = result.machine.definition["States"]["Call"]["Parameters"]
    assert params["ApiEndpoint"] == "ServerlessRestApi.execute-api.us-east-1.amazonaws.com"
    [machine] = asl.source.state_machines(asl.source.read_file(str(path)))
    assert machine.substitutions["HttpEndpoint"] == "ServerlessHttpApi.execute-api.us-east-1.amazonaws.com"
    assert machine.substitutions["RoleArn"] == "arn:aws:iam::123456789012:role/FnRole"
    # an Api event naming its RestApiId generates no ServerlessRestApi; without SAM's transform
    # nothing is generated: the name stays a placeholder, as before
    for template in (SAM_IMPLICIT_API.replace("Path: /, Method: GET", "Path: /, Method: GET, RestApiId: !Ref X"),
                     SAM_IMPLICIT_API.replace("Transform: AWS::Serverless-2016-10-31\n", "")):
        path.write_text(template)
        [result] = asl.validate_all(str(path))
        [warning] = result.warnings
        assert warning.code == "UNRESOLVED_PLACEHOLDER" and "${ServerlessRestApi}" in warning.message


def test_cli_validate_template_with_s3_definition_exits_0(tmp_path):
    from click.testing import CliRunner

    from asl.cli.main import get_cli

    out = CliRunner().invoke(get_cli(), ["validate", _sam(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "warning DEFINITION_NOT_LOCAL" in out.output and "warning UNRESOLVED_PLACEHOLDER" in out.output
    out = CliRunner().invoke(get_cli(), ["run", str(tmp_path / "template.yaml") + "#Archived"])
    assert out.exit_code == 2 and "S3" in out.output and "Traceback" not in out.output


# ---------------------------------------------------------------------------------------------
# The CLI's --substitute / --substitutions
# ---------------------------------------------------------------------------------------------

def _cli(*args):
    from click.testing import CliRunner

    from asl.cli.main import get_cli

    return CliRunner().invoke(get_cli(), list(args))


def test_cli_substitutions(tmp_path):
    import json

    path = tmp_path / "flow.asl.json"
    path.write_text(json.dumps(machine(
        T={"Type": "Task", "Resource": "${FnArn}", "TimeoutSeconds": "${Timeout}", "Next": "W"},
        W={"Type": "Wait", "Seconds": "${Wait}", "End": True})))
    out = _cli("validate", str(path))
    assert out.exit_code == 0 and out.output.count("UNRESOLVED_PLACEHOLDER") == 3
    values = tmp_path / "values.yaml"
    values.write_text("FnArn: arn:aws:lambda:us-east-1:123456789012:function:f\nTimeout: 30\n")
    out = _cli("validate", str(path), "--substitutions", str(values), "--substitute", "Wait=2")
    assert out.exit_code == 0 and "warning" not in out.output, out.output
    (tmp_path / "values.json").write_text('{"FnArn": "nope", "Timeout": 30, "Wait": 1}')
    out = _cli("validate", str(path), "--substitutions", str(tmp_path / "values.json"))
    assert out.exit_code == 1 and "The resource provided nope is not recognized" in out.output
    # --substitute wins over the file
    out = _cli("validate", str(path), "--substitutions", str(tmp_path / "values.json"),
               "--substitute", "FnArn=arn:aws:lambda:us-east-1:123456789012:function:f")
    assert out.exit_code == 0, out.output
    for bad in (["--substitute", "novalue"], ["--substitutions", str(tmp_path / "missing.json")]):
        out = _cli("validate", str(path), *bad)
        assert out.exit_code == 2 and "Traceback" not in out.output, out.output
    (tmp_path / "nested.json").write_text('{"A": {"b": 1}}')
    out = _cli("validate", str(path), "--substitutions", str(tmp_path / "nested.json"))
    assert out.exit_code == 2 and "string, number or boolean" in out.output


def test_cli_run_and_graph_with_placeholders(tmp_path):
    import json

    path = tmp_path / "flow.asl.json"
    path.write_text(json.dumps(machine(
        T={"Type": "Task", "Resource": "${FnArn}", "Parameters": {"table": "${Table}"}, "End": True})))
    handlers = tmp_path / "handlers.py"
    handlers.write_text("from asl.engine import Handlers\nhandlers = Handlers()\n"
                        "handlers.register('f', lambda event: event)\n")
    out = _cli("run", str(path), "--handlers", str(handlers), "--substitute",
               "FnArn=arn:aws:lambda:us-east-1:123456789012:function:f", "--substitute", "Table=orders")
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout) == {"table": "orders"}
    # unfilled: the run says so on stderr and goes on
    handlers.write_text("from asl.engine import Handlers\nhandlers = Handlers()\n"
                        "handlers.register('state:T', lambda event: event)\n")
    out = _cli("run", str(path), "--handlers", str(handlers))
    assert out.exit_code == 0 and json.loads(out.stdout) == {"table": "${Table}"}
    assert out.stderr.count("warning UNRESOLVED_PLACEHOLDER") == 2
    # graph draws such a machine
    out = _cli("graph", str(path))
    assert out.exit_code == 0 and "flowchart" in out.stdout
    out = _cli("graph", str(path), "--substitute", "bad")
    assert out.exit_code == 2 and "NAME=VALUE" in out.output


# ---------------------------------------------------------------------------------------------
# AWS's definition size limit
# ---------------------------------------------------------------------------------------------

def test_definition_longer_than_aws_accepts_is_an_error(tmp_path):
    import json

    from asl.loading import MAX_DEFINITION_LENGTH

    def sized(n):
        base = machine(P={"Type": "Pass", "End": True})
        base["Comment"] = ""
        base["Comment"] = "x" * (n - len(json.dumps(base, separators=(",", ":"))))
        return base

    assert asl.validate(sized(MAX_DEFINITION_LENGTH)).ok
    big = asl.validate(sized(MAX_DEFINITION_LENGTH + 1))
    assert [(d.code, d.location) for d in big.errors] == [("DEFINITION_TOO_LARGE", None)]
    assert "Member must have length less than or equal to 1048576" in big.errors[0].message
    with __import__("pytest").raises(asl.DefinitionError):
        asl.load(sized(MAX_DEFINITION_LENGTH + 1))
    # a JSON file counts the characters as written
    path = tmp_path / "big.json"
    path.write_text(json.dumps(sized(MAX_DEFINITION_LENGTH - 10), indent=40))
    assert len(path.read_text()) > MAX_DEFINITION_LENGTH
    assert [d.code for d in asl.validate(str(path)).errors] == ["DEFINITION_TOO_LARGE"]


def test_a_placeholder_standing_for_an_object_field():
    d = machine(T={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                   "Parameters": "${file(./params.json)}", "Retry": "${self:custom.retry}", "End": True})
    assert errors(d) == []
    assert warnings(d) == [("UNRESOLVED_PLACEHOLDER", "/States/T/Parameters"),
                           ("UNRESOLVED_PLACEHOLDER", "/States/T/Retry")]
    filled = asl.validate(d, substitutions={"file(./params.json)": '{"FunctionName": "f", "Payload.$": "$"}',
                                            "self:custom.retry": '[{"ErrorEquals": ["States.ALL"]}]'})
    assert filled.ok and filled.warnings == []
    assert filled.machine.definition["States"]["T"]["Parameters"] == {"FunctionName": "f", "Payload.$": "$"}
    # a value that is no array stays text, and is checked as such
    assert ("SCHEMA_VALIDATION_FAILED", "Expected value of type [ARRAY]", "/States/T/Retry") in errors(
        d, substitutions={"file(./params.json)": "{}", "self:custom.retry": "oops"})


def test_a_placeholder_inside_a_path_is_not_checked():
    d = machine(
        M={"Type": "Map", "ItemsPath": "$.${ListName}", "ResultPath": "$.${Out}",
           "ItemProcessor": {"StartAt": "C", "States": {"C": {
               "Type": "Choice", "Choices": [{"Variable": "$.${Field}", "IsPresent": True, "Next": "E"}],
               "Default": "E"}, "E": {"Type": "Succeed"}}},
           "ItemSelector": {"v.$": "$$.Map.Item.Value.${Field}", "n": 1}, "End": True})
    assert errors(d) == []
    assert [w[1] for w in warnings(d)] == ["/States/M/ItemsPath", "/States/M/ResultPath",
                                           "/States/M/ItemProcessor/States/C/Choices[0]/Variable",
                                           "/States/M/ItemSelector/v.$"]
    filled = asl.validate(d, substitutions={"ListName": "items", "Out": "r", "Field": "id"})
    assert filled.ok and filled.warnings == []
    # filled, the path is checked
    assert [e[2] for e in errors(d, substitutions={"ListName": "[", "Out": "r", "Field": "id"})] == \
        ["/States/M/ItemsPath"]


def test_unbalanced_placeholder_braces_in_broken_json_stay_fast():
    result = asl.validate('{"a": ' + "${" * 100_000 + "}")  # quadratic scanning would take minutes
    assert [d.code for d in result.errors] == ["INVALID_JSON_DESCRIPTION"]


# ---------------------------------------------------------------------------------------------
# AWS CDK integration-test snapshots: every one was deployed (CreateStateMachine accepted it).
# Sweep of aws/aws-cdk packages/@aws-cdk-testing/framework-integ/test/aws-stepfunctions{,-tasks}/
# (55 distinct definitions, 0 errors, 0 warnings); these are the least ordinary of them, kept as
# CloudFormation templates so the Fn::Join / Ref / Fn::GetAtt resolution is exercised too.
# ---------------------------------------------------------------------------------------------

_CDK = "packages/@aws-cdk-testing/framework-integ/test/"


def _cdk_template(tmp_path, parts, **resources):
    """A template holding one machine whose DefinitionString is Fn::Join of `parts`
    (strings, or ("Ref", id) / ("GetAtt", id) naming one of `resources`: id=Type)."""
    import json as _json

    def part(p):
        if isinstance(p, str):
            return p
        return {"Ref": p[1]} if p[0] == "Ref" else {"Fn::GetAtt": [p[1], "Arn"]}

    res = {lid: {"Type": rtype} for lid, rtype in resources.items()}
    res["StateMachine2E01A3A5"] = {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
        "DefinitionString": {"Fn::Join": ["", [part(p) for p in parts]]}}}
    path = tmp_path / "template.json"
    path.write_text(_json.dumps({"Resources": res}))
    return str(path)


_ARN = ("arn:", ("Ref", "AWS::Partition"))


def test_cdk_snapshots_deployed_on_aws_validate_clean(tmp_path):
    cases = {
        # aws-stepfunctions/test/integ.listAt-after-parallel.js.snapshot/listAt-after-parallel.template.json
        # @1cc8be287433127b6ba0ef5687b7f8c5a655fc42: a Parameters key ending ".$.$"
        "listAt": (['{"StartAt":"PRL","States":{"PRL":{"Type":"Parallel","ResultPath":"$","Next":"JP",'
                    '"Branches":[{"StartAt":"PSL","States":{"PSL":{"Type":"Pass","Parameters":'
                    '{"newStringList.$":"$.stringList"},"End":true}}}]},"JP":{"Type":"Pass","Parameters":'
                    '{"resultStringList.$.$":"$[0].newStringList"},"End":true}},"TimeoutSeconds":30}'], {}),
        # aws-stepfunctions/test/integ.distributed-map-with-result-writer-v2-having-writer-config.js.snapshot/
        # distributed-map-with-result-writer-v2-having-writer-config.template.json @1cc8be28: a ResultWriter
        # of WriterConfig alone (no Resource), JSONata ItemReader Arguments over JSONL
        "writerConfig": (['{"StartAt":"DistributedMap","States":{"DistributedMap":{"Type":"Map","End":true,'
                          '"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},'
                          '"StartAt":"Pass","States":{"Pass":{"Type":"Pass","QueryLanguage":"JSONata","End":true}}},'
                          '"ItemReader":{"Resource":"', *_ARN, ':states:::s3:getObject","ReaderConfig":'
                          '{"InputType":"JSONL"},"Arguments":{"Bucket":"', ("Ref", "Bucket83908E77"),
                          '","Key":"my-key.jsonl"}},"ResultWriter":{"WriterConfig":{"OutputType":"JSONL",'
                          '"Transformation":"COMPACT"}}}},"QueryLanguage":"JSONata"}'],
                         {"Bucket83908E77": "AWS::S3::Bucket"}),
        # aws-stepfunctions/test/integ.map-with-catch.js.snapshot/aws-stepfunctions-map-with-catch.template.json
        # @1cc8be28: a Catch Output that is plain text, an Assign calling a function JSONata does not have
        "mapCatch": (['{"StartAt":"DistributedMap","States":{"DistributedMap":{"Type":"Map","End":true,'
                      '"Catch":[{"Output":"$states.errorOutput","ErrorEquals":["States.ALL"],"Next":"failed"}],'
                      '"ItemProcessor":{"ProcessorConfig":{"Mode":"DISTRIBUTED","ExecutionType":"STANDARD"},'
                      '"StartAt":"Pass","States":{"Pass":{"Type":"Pass","QueryLanguage":"JSONata","End":true}}},'
                      '"Assign":{"uniqueId":"{% $invalidFunction() %}"},"ItemReader":{"Resource":"', *_ARN,
                      ':states:::s3:getObject","ReaderConfig":{"InputType":"CSV","CSVHeaderLocation":"FIRST_ROW"},'
                      '"Arguments":{"Bucket":"', ("Ref", "Bucket83908E77"), '","Key":"my-key.csv"}}},'
                      '"failed":{"Type":"Fail","Error":"ErrorHappened","Cause":"We got stuck"}},'
                      '"QueryLanguage":"JSONata"}'], {"Bucket83908E77": "AWS::S3::Bucket"}),
        # aws-stepfunctions/test/integ.state-machine-credentials.js.snapshot/
        # aws-stepfunctions-state-machine-credentials-integ.template.json @07c9e3ca1043715e7fd4d8bb66f29490b54b9562
        "credentials": (['{"StartAt":"T","States":{"T":{"End":true,"Type":"Task","Credentials":{"RoleArn":"',
                         ("GetAtt", "Role1ABCC5F0"), '"},"Resource":"arn:aws:states:::dynamodb:putItem",'
                         '"Parameters":{"TableName":"my-cool-table","Item":{"id":{"S":"my-entry"}}}}},'
                         '"TimeoutSeconds":30}'], {"Role1ABCC5F0": "AWS::IAM::Role"}),
        "credentialsPath": (['{"StartAt":"T","States":{"T":{"End":true,"Type":"Task","Credentials":'
                             '{"RoleArn.$":"$.RoleArn"},"Resource":"arn:aws:states:::dynamodb:putItem",'
                             '"Parameters":{"TableName":"my-cool-table","Item":{"id":{"S":"my-entry"}}}}}}'], {}),
        # aws-stepfunctions-tasks/test/http/integ.invoke.js.snapshot/aws-stepfunctions-tasks-http-invoke-integ.template.json
        # @02a9c13e93419d66e794efd1e6b705a45b739056: an ApiEndpoint built by States.Format around Refs
        "http": (['{"StartAt":"Invoke HTTP Endpoint","States":{"Invoke HTTP Endpoint":{"End":true,"Type":"Task",'
                  '"Resource":"', *_ARN, ':states:::http:invoke","Parameters":{"ApiEndpoint.$":'
                  '"States.Format(\'{}/{}\', \'https://', ("Ref", "IntegRestApiF8B59B0D"), '.execute-api.',
                  ("Ref", "AWS::Region"), '.', ("Ref", "AWS::URLSuffix"), '/',
                  ("Ref", "IntegRestApiDeploymentStageprod29E2686A"), '/\', \'/test\')","Authentication":'
                  '{"ConnectionArn":"', ("GetAtt", "Connection07624BCD"), '"},"Method":"GET"}}},'
                  '"TimeoutSeconds":30}'],
                 {"IntegRestApiF8B59B0D": "AWS::ApiGateway::RestApi",
                  "IntegRestApiDeploymentStageprod29E2686A": "AWS::ApiGateway::Stage",
                  "Connection07624BCD": "AWS::Events::Connection"}),
        # aws-stepfunctions-tasks/test/bedrock/integ.invoke-model.js.snapshot/
        # aws-stepfunctions-tasks-bedrock-invoke-model-integ.template.json @01c26e9c4d5b6624ba4fadc5e882d3acd2b2ebd5:
        # a newline inside an intrinsic's string literal, a ModelId ARN without an account
        "bedrock": (['{"StartAt":"Prompt2","States":{"Prompt2":{"End":true,"Type":"Task","ResultPath":"$",'
                     '"ResultSelector":{"names.$":"$.Body.results[0].outputText"},"Resource":"', *_ARN,
                     ':states:::bedrock:invokeModel","Parameters":{"ModelId":"', *_ARN, ':bedrock:',
                     ("Ref", "AWS::Region"), '::foundation-model/amazon.titan-text-express-v1","Body":'
                     '{"inputText.$":"States.Format(\'Alphabetize this list of first names:\\n{}\', $.names)"}}}},'
                     '"TimeoutSeconds":30}'], {}),
        # aws-stepfunctions/test/integ.distributed-map.js.snapshot/DistributedMapDefaultTestDeployAssertFD6CBCC4.template.json
        # @02a9c13e: the integ-tests waiter (and custom-resources' provider framework): Retry and Catch
        # of States.ALL on a Lambda ARN, BackoffRate 1
        "waiter": (['{"StartAt":"framework-isComplete-task","States":{"framework-isComplete-task":{"End":true,'
                    '"Retry":[{"ErrorEquals":["States.ALL"],"IntervalSeconds":10,"MaxAttempts":30,"BackoffRate":1}],'
                    '"Catch":[{"ErrorEquals":["States.ALL"],"Next":"framework-onTimeout-task"}],"Type":"Task",'
                    '"Resource":"', ("GetAtt", "IsComplete"), '"},"framework-onTimeout-task":{"End":true,'
                    '"Type":"Task","Resource":"', ("GetAtt", "OnTimeout"), '"}}}'],
                   {"IsComplete": "AWS::Lambda::Function", "OnTimeout": "AWS::Lambda::Function"}),
    }
    for name, (parts, resources) in cases.items():
        result = asl.validate(_cdk_template(tmp_path, parts, **resources))
        assert [(d.code, d.location) for d in result.diagnostics] == [], name
        assert result.machine is not None, name


def test_cdk_intrinsics_snapshot_with_escapes_validates_clean():
    """aws-stepfunctions/test/integ.intrinsics.js.snapshot/aws-stepfunctions-intrinsics-integ.template.json
    @1cc8be287433127b6ba0ef5687b7f8c5a655fc42 (deployed): escaped backslashes, quotes and braces in
    intrinsic string literals, a literal newline, arguments from paths."""
    d = machine(pass_={"Type": "Pass", "End": True, "Parameters": {
        "stringSplit3.$": "States.StringSplit('1\\\\2\\\\3\\\\4\\\\5', '\\\\')",
        "format3.$": "States.Format('Hello\n{}', $.Name)",
        "format4.$": "States.Format('Hello \\' \\{ \\} \\\\ {}\nWelcome', $.Name)",
        "hash2.$": "States.Hash($.Data, $.Algorithm)",
        "arrayRange2.$": "States.ArrayRange($.start, $.end, $.step)",
        "jsonMerge1.$": "States.JsonMerge($.Obj1, $.Obj2, false)",
        "uuid.$": "States.UUID()"}})
    assert errors(d) == []
    assert warnings(d) == []


# ---------------------------------------------------------------------------------------------
# aws-samples/step-functions-workflows-collection @83bbec4 (AWS's own samples, deployed with
# SAM or Terraform)
# ---------------------------------------------------------------------------------------------

def test_filter_compared_with_a_bare_word_is_a_warning_and_matches_the_string():
    """textract-analyze-expense-tf/statemachine/statemachine.asl.json (Terraform) and
    parallel-translate/statemachine/statemachine.asl.yaml (SAM) compare filter operands with
    unquoted words (`$.Labels[?(@.Name==Receipt)]`, `$[?(@.TargetLanguageCode==es)]`). Jayway 2.1
    and later refuse that (2.0.0 reads the string), yet both were deployed, and the first only reaches its AnalyzeExpense state
    when the filter matches the label named "Receipt"."""
    from asl.engine import Handlers, run_sync

    d = machine(
        DetectLabels={"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:rekognition:detectLabels",
                      "Parameters": {"Image": {"S3Object": {"Bucket": "b", "Name": "k"}}},
                      "ResultSelector": {"receipt.$": "$.Labels[?(@.Name==Receipt)]"},
                      "Next": "Parse"},
        Parse={"Type": "Pass", "Parameters": {
            "toSpanish.$": "$.receipt[?(@.Lang==es && @.Confidence > 80)].Confidence",
            "count.$": "States.ArrayLength($.receipt[?(@.Name == Receipt)])"}, "End": True})
    assert errors(d) == []
    assert warnings(d) == [("UNQUOTED_FILTER_LITERAL", "/States/DetectLabels/ResultSelector/receipt.$"),
                           ("UNQUOTED_FILTER_LITERAL", "/States/Parse/Parameters/toSpanish.$"),
                           ("UNQUOTED_FILTER_LITERAL", "/States/Parse/Parameters/count.$")]
    handlers = Handlers()
    handlers.register("arn:aws:states:::aws-sdk:rekognition:detectLabels", lambda p: {"Labels": [
        {"Name": "Paper", "Confidence": 99}, {"Name": "Receipt", "Lang": "es", "Confidence": 91.5}]})
    result = run_sync(asl.load(d), {}, handlers=handlers)
    assert result.status == "SUCCEEDED" and result.output == {"toSpanish": [91.5], "count": 1}
    # the words JSON and Jayway know keep their meaning; a quoted word is no warning
    assert warnings(machine(P={"Type": "Pass", "End": True, "Parameters": {
        "a.$": "$[?(@.x == true || @.y == null || @.z == 'es')]"}})) == []
    assert [c for c, *_ in errors(machine(P={"Type": "Pass", "End": True, "Parameters": {
        "a.$": "$[?(@.x == )]"}}))] == ["SCHEMA_VALIDATION_FAILED"]


def test_bare_filter_words_run_to_the_next_blank_or_operator_as_jayway_2_0_reads_them():
    """Jayway 2.0.0 (Debian's libjsonpath-java, run here) reads `[?(@.a == us-east-1)]`,
    `== en-US`, `== v1.2` as those strings; AWS follows 2.0.0 where recordings tell Jayway
    versions apart (asl/paths.py). The warning covers Fail's ErrorPath and CausePath too."""
    from asl.paths import compile_path

    regions = [{"a": "us-east-1"}, {"a": "en-US"}, {"a": "v1.2"}, {"a": "b", "c": 1}]
    assert compile_path("$[?(@.a == us-east-1)]").evaluate(regions) == [{"a": "us-east-1"}]
    assert compile_path("$[?(@.a==en-US)]").evaluate(regions) == [{"a": "en-US"}]
    assert compile_path("$[?(@.a == v1.2)]").evaluate(regions) == [{"a": "v1.2"}]
    assert compile_path("$[?(@.a==b&&@.c==1)]").evaluate(regions) == [{"a": "b", "c": 1}]
    fail = machine(F={"Type": "Fail", "ErrorPath": "$.e[?(@.k == c)].e[0]", "CausePath": "$.c[?(@.k == en-US)].m[0]"})
    assert errors(fail) == []
    assert warnings(fail) == [("UNQUOTED_FILTER_LITERAL", "/States/F/ErrorPath"),
                              ("UNQUOTED_FILTER_LITERAL", "/States/F/CausePath")]


def test_broken_yaml_template_reports_its_yaml_error(tmp_path):
    """parallelized-embedding-pipeline/template.yaml writes `!GetAZs !Ref AWS::Region` (two tags
    on one node, which YAML refuses) and holds `!Sub ${AWS::StackName}-subnet-1`: the YAML
    error is the one to report, not a JSON error from reading it again with its bare ${...}
    placeholders quoted."""
    path = tmp_path / "template.yaml"
    path.write_text("Transform: AWS::Serverless-2016-10-31\nResources:\n  Subnet1:\n"
                    "    Type: AWS::EC2::Subnet\n    Properties:\n      AvailabilityZone: !Select\n"
                    "        - 0\n        - !GetAZs !Ref AWS::Region\n"
                    "      Tags:\n        - Value: !Sub ${AWS::StackName}-subnet-1\n")
    (found,) = asl.validate(str(path)).errors
    assert found.code == "INVALID_JSON_DESCRIPTION" and found.line == 8
    assert "JSON" not in found.message and "Unrecognized token" not in found.message
    # the same text without a file name (asl validate - < template.yaml): the YAML error too
    (found,) = asl.validate(path.read_text()).errors
    assert found.line == 8 and "Unrecognized token" not in found.message
