"""The validator's checks, each against AWS's recorded wording and location.

Expected messages come from ASL-SPEC.md section 14 and the recorded AWS answers collected in
docs/aws-validation-messages.md (the row each test relies on is named in its docstring).
"""
from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

import asl


def machine(**states):
    first = next(iter(states))
    return {"StartAt": first, "States": states}


PASS_END = {"Type": "Pass", "End": True}


def diags(definition, **kw):
    result = asl.validate(definition, **kw)
    return [(d.code, d.message, d.location) for d in result.diagnostics if d.severity == "ERROR"]


def warnings(definition):
    return [(d.code, d.location) for d in asl.validate(definition).warnings]


def test_valid_minimal_machine():
    result = asl.validate(machine(A=PASS_END))
    assert result.ok and result.diagnostics == []
    assert result.machine.states["A"].type == "Pass"


def test_required_top_level_fields_listed_in_aws_order():
    """AWS-REC: These fields are required: [States, StartAt] at /."""
    assert diags({}) == [("SCHEMA_VALIDATION_FAILED", "These fields are required: [States, StartAt]", "/")]
    assert diags({"States": {"A": PASS_END}}) == [
        ("SCHEMA_VALIDATION_FAILED", "These fields are required: [StartAt]", "/")]


def test_required_before_unknown_field():
    """AWS-REC (troposphere#1450): the required-fields diagnostic comes first."""
    assert diags({"Fn::Sub": "x"}) == [
        ("SCHEMA_VALIDATION_FAILED", "These fields are required: [States, StartAt]", "/"),
        ("SCHEMA_VALIDATION_FAILED", "Field 'Fn::Sub' is not supported", "/")]


def test_not_an_object():
    assert diags([]) == [("SCHEMA_VALIDATION_FAILED", "Definition must be a valid JSON object", None)]


def test_field_not_supported_is_located_at_the_state():
    """AWS-MEAS: Field 'X' is not supported, at /States/<state>."""
    d = machine(A={"Type": "Pass", "End": True, "TimeoutSeconds": 5, "Retry": []})
    assert diags(d) == [("SCHEMA_VALIDATION_FAILED", "Field 'TimeoutSeconds' is not supported", "/States/A"),
                        ("SCHEMA_VALIDATION_FAILED", "Field 'Retry' is not supported", "/States/A")]


def test_invalid_type():
    d = machine(A={"Type": "Foo", "End": True})
    assert diags(d) == [("SCHEMA_VALIDATION_FAILED", "The field 'Type' should have one of these values: "
                         "[Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]", "/States/A/Type")]


def test_query_language_downgrade():
    """AWS-REC: 'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine."""
    d = {"QueryLanguage": "JSONata", **machine(Pass={"Type": "Pass", "QueryLanguage": "JSONPath", "End": True})}
    assert diags(d) == [("SCHEMA_VALIDATION_FAILED", "'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' "
                         "for whole state machine", "/States/Pass")]


def test_fields_of_the_other_query_language():
    """AWS-MEAS: the QueryLanguage-field messages, located at the state."""
    d = machine(A={"Type": "Pass", "Output": {"a": 1}, "End": True})
    assert diags(d) == [("SCHEMA_VALIDATION_FAILED", "The QueryLanguage is set to 'JSONPath', but field 'Output' "
                         "is only supported for the 'JSONata' QueryLanguage", "/States/A")]
    d = {"QueryLanguage": "JSONata", **machine(A={"Type": "Pass", "InputPath": "$.a", "End": True})}
    assert diags(d) == [("SCHEMA_VALIDATION_FAILED", "The QueryLanguage is set to 'JSONata', but field "
                         "'InputPath' is only supported for the 'JSONPath' QueryLanguage", "/States/A")]


def test_query_language_enum():
    d = {"QueryLanguage": "jsonata", **machine(A=PASS_END)}
    assert ("SCHEMA_VALIDATION_FAILED", "Value should be one of the following: [JSONPath, JSONata]",
            "/QueryLanguage") in diags(d)


def test_missing_next_target_and_unreachable_in_aws_order():
    """AWS-REC (localstack#11978)."""
    d = machine(pass1={"Type": "Pass", "Next": "pass3"}, pass2=PASS_END)
    d["States"]["pass0"] = PASS_END
    d["StartAt"] = "pass1"
    d["States"]["pass1"]["Next"] = "pass3"
    d2 = {"StartAt": "pass1", "States": {"pass1": {"Type": "Pass", "Next": "pass3"}, "pass2": PASS_END}}
    assert diags(d2) == [("MISSING_TRANSITION_TARGET", "Missing 'Next' target: pass3", "/States/pass1/Next"),
                         ("MISSING_TRANSITION_TARGET", 'State "pass2" is not reachable.', "/States/pass2")]


def test_missing_targets_always_say_next():
    """AWS-MEAS (floci #2786): Default, Choices[i].Next, Catch[i].Next all say 'Next'."""
    d = machine(C={"Type": "Choice", "Choices": [{"Variable": "$.a", "IsPresent": True, "Next": "X"}],
                   "Default": "Y"}, D=PASS_END)
    got = diags(d)
    assert ("MISSING_TRANSITION_TARGET", "Missing 'Next' target: X", "/States/C/Choices[0]/Next") in got
    assert ("MISSING_TRANSITION_TARGET", "Missing 'Next' target: Y", "/States/C/Default") in got


def test_no_terminal_state_has_no_location_and_hides_unreachable():
    """AWS-MEAS: MISSING_END_STATE without location; unreachable states not reported then."""
    d = machine(A={"Type": "Pass", "Next": "B"}, B={"Type": "Pass", "Next": "A"},
                Unused={"Type": "Pass", "Next": "A"})
    assert diags(d) == [("MISSING_END_STATE", "Workflow has no terminal state", None)]


def test_missing_target_reported_before_missing_end_state():
    d = machine(A={"Type": "Pass", "Next": "NOPE"})
    assert diags(d) == [("MISSING_TRANSITION_TARGET", "Missing 'Next' target: NOPE", "/States/A/Next"),
                        ("MISSING_END_STATE", "Workflow has no terminal state", None)]


def test_start_at_missing():
    d = {"StartAt": "Not sure", "States": {"Pass One": {"Type": "Pass", "Next": "Success"},
                                           "Success": {"Type": "Succeed"}}}
    assert diags(d) == [("MISSING_TRANSITION_TARGET", "Missing 'Next' target: Not sure", "/StartAt"),
                        ("MISSING_TRANSITION_TARGET", 'State "Pass One" is not reachable.', "/States/Pass One")]


def test_transition_out_of_a_parallel_branch_is_missing_target():
    d = machine(P={"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "In", "States": {"In": {"Type": "Pass", "Next": "P"}}}]})
    assert ("MISSING_TRANSITION_TARGET", "Missing 'Next' target: P", "/States/P/Branches[0]/States/In/Next") in diags(d)


def test_state_name_too_long():
    name = "x" * 81
    d = {"StartAt": name, "States": {name: PASS_END}}
    assert diags(d) == [("INVALID_STATE_NAME", f"Invalid State name: State '{name}' exceeds the 80-character "
                         "limit allowed by the service", f"/States/{name}")]


def test_duplicate_state_name_across_blocks():
    d = machine(A={"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "A", "States": {"A": PASS_END}}]})
    assert ("DUPLICATE_STATE_NAME", "Duplicate State name: A", "/States/A/Branches[0]/States/A") in diags(d)


def test_states_all_must_be_alone_and_last():
    """AWS-REC (aws-cdk#10530): located at ErrorEquals[j]."""
    d = machine(T={"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "End": True,
                   "Retry": [{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}],
                   "Catch": [{"ErrorEquals": ["X", "States.ALL"], "Next": "T"}]})
    got = diags(d)
    assert ("SCHEMA_VALIDATION_FAILED", "States.ALL must appear alone and at end of list",
            "/States/T/Retry[0]/ErrorEquals[0]") in got
    assert ("SCHEMA_VALIDATION_FAILED", "States.ALL must appear alone and at end of list",
            "/States/T/Catch[0]/ErrorEquals[1]") in got


def test_ranges():
    """AWS-REC: Maximum value is 99999999 (Wait Seconds); AWS-MEAS: Minimum value is 0 (MaxConcurrency)."""
    d = machine(W={"Type": "Wait", "Seconds": 10**16, "End": True})
    assert diags(d) == [("SCHEMA_VALIDATION_FAILED", "Maximum value is 99999999", "/States/W/Seconds")]
    d = machine(M={"Type": "Map", "MaxConcurrency": -1, "End": True,
                   "ItemProcessor": {"StartAt": "I", "States": {"I": PASS_END}}})
    assert diags(d) == [("SCHEMA_VALIDATION_FAILED", "Minimum value is 0", "/States/M/MaxConcurrency")]


def test_wait_timestamp_must_be_rfc3339():
    for bad in ("2016-12-05T25:29:29Z", "2016-12-05T21:29:29", "05-12-2016T21:29:29Z", "2016-12-05 21:29:29Z"):
        d = machine(W={"Type": "Wait", "Timestamp": bad, "End": True})
        assert diags(d) == [("SCHEMA_VALIDATION_FAILED", "String does not match RFC3339 timestamp",
                             "/States/W/Timestamp")], bad
    ok = machine(W={"Type": "Wait", "Timestamp": "2016-03-14T01:59:00.123+02:00", "End": True})
    assert diags(ok) == []


def test_wait_needs_exactly_one_time_field():
    assert diags(machine(W={"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": True}))
    assert diags(machine(W={"Type": "Wait", "End": True}))


def test_next_and_end():
    assert diags(machine(A={"Type": "Pass", "Next": "A", "End": True}))[0][2] == "/States/A"
    assert diags(machine(A={"Type": "Pass"}))[0][2] == "/States/A"


def test_credentials_need_role_arn():
    """AWS-REC: The field 'RoleArn' is required but was missing at /States/State0/Credentials."""
    d = machine(State0={"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {"FunctionName": "f"}, "Credentials": {"InvalidField": 1}, "End": True})
    assert diags(d) == [("SCHEMA_VALIDATION_FAILED", "The field 'RoleArn' is required but was missing",
                         "/States/State0/Credentials")]


def test_unknown_integration_rejected_and_express_restrictions():
    d = machine(Query={"Type": "Task", "Resource": "arn:aws:states:::dynamodb:query", "End": True})
    assert diags(d) == [("SCHEMA_VALIDATION_FAILED", "The resource provided arn:aws:states:::dynamodb:query is not "
                         "recognized. The value is not a valid resource ARN, or the resource is not available in "
                         "this region.", "/States/Query/Resource")]
    sync = machine(S={"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync", "End": True,
                      "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:x"}})
    assert diags(sync) == []
    assert diags(sync, type="EXPRESS") == [("SCHEMA_VALIDATION_FAILED", "Express state machine does not support "
                                            "'.sync' service integration", "/States/S/Resource")]


def test_distributed_map_in_an_express_machine_is_a_warning():
    """DG "choosing-workflow-type": Express workflows do not support the Distributed Map; whether
    AWS refuses such a definition at creation is not known, so it is a WARNING of ours."""
    d = machine(M={"Type": "Map", "End": True, "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
        "StartAt": "P", "States": {"P": PASS_END}}})
    express = asl.validate(d, type="EXPRESS")
    assert express.ok and [(w.code, w.location) for w in express.warnings] == [
        ("DISTRIBUTED_MAP_IN_EXPRESS", "/States/M/ItemProcessor/ProcessorConfig/Mode")]
    assert asl.validate(d).warnings == [] and asl.validate(d, type="STANDARD").warnings == []
    inline = copy.deepcopy(d)
    inline["States"]["M"]["ItemProcessor"]["ProcessorConfig"] = {"Mode": "INLINE"}
    assert asl.validate(inline, type="EXPRESS").warnings == []


def test_distributed_map_in_express_child_workflows_is_a_warning(tmp_path):
    """A Distributed Map's EXPRESS child workflows are Express workflow executions, which do not
    support the Distributed Map (DG "choosing-workflow-type"): a Distributed Map nested in them
    (also inside an inline Map or Parallel there) is warned of in a STANDARD machine too, at its
    Mode, naming the Map whose children are Express. STANDARD children may nest one."""
    def dist(execution_type: str, states: dict, start: str) -> dict:
        return {"Type": "Map", "End": True, "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
            "StartAt": start, "States": states}}

    inner = {"Inner": dist("STANDARD", {"P": PASS_END}, "P")}
    nested = machine(Outer=dist("EXPRESS", {"Par": {"Type": "Parallel", "End": True, "Branches": [
        {"StartAt": "Inner", "States": inner}]}}, "Par"))
    result = asl.validate(nested)
    assert result.ok and [(w.code, w.location) for w in result.warnings] == [
        ("DISTRIBUTED_MAP_IN_EXPRESS", "/States/Outer/ItemProcessor/States/Par/Branches[0]/States/Inner/"
                                       "ItemProcessor/ProcessorConfig/Mode")]
    assert "/States/Outer are Express workflows (ExecutionType EXPRESS)" in result.warnings[0].message
    # STANDARD children may run one; an Express machine has its own warning (once per Map)
    assert asl.validate(machine(Outer=dist("STANDARD", inner, "Inner"))).warnings == []
    express = asl.validate(machine(Outer=dist("EXPRESS", inner, "Inner")), type="EXPRESS")
    assert [w.location for w in express.warnings] == ["/States/Outer/ItemProcessor/States/Inner/ItemProcessor/"
                                                      "ProcessorConfig/Mode", "/States/Outer/ItemProcessor/"
                                                      "ProcessorConfig/Mode"]
    # `asl validate` (a process) reports it with its location, and exits 0 (a warning)
    path = tmp_path / "nested.json"
    path.write_text(json.dumps(nested))
    done = subprocess.run([sys.executable, "-m", "asl.cli", "validate", str(path), "--format", "json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (found,) = json.loads(done.stdout)["diagnostics"]
    assert (found["severity"], found["code"], found["location"]) == (
        "WARNING", "DISTRIBUTED_MAP_IN_EXPRESS",
        "/States/Outer/ItemProcessor/States/Par/Branches[0]/States/Inner/ItemProcessor/ProcessorConfig/Mode")


def test_bad_intrinsic_in_template_located_at_the_template_field():
    """AWS-REC: The value for the field 'parsed.$' must be a valid JSONPath or a valid intrinsic function call."""
    d = machine(IntrinsicEscape={"Type": "Pass", "End": True,
                                 "Parameters": {"parsed.$": "States.StringToJson('{\\\"a\\\": 1}')"}})
    assert diags(d) == [("SCHEMA_VALIDATION_FAILED", "The value for the field 'parsed.$' must be a valid JSONPath "
                         "or a valid intrinsic function call", "/States/IntrinsicEscape/Parameters")]


def test_bad_paths():
    # (Jayway, hence AWS, ignores one stray trailing character such as "$.a[": not tested here)
    for bad in ("$.a[?(@.b >", "a.b", "$..", ""):
        d = machine(A={"Type": "Pass", "InputPath": bad, "End": True})
        assert diags(d) and diags(d)[0][0] == "SCHEMA_VALIDATION_FAILED" and diags(d)[0][2] == "/States/A/InputPath", bad
    d = machine(A={"Type": "Pass", "ResultPath": "$.a[*]", "End": True})
    assert diags(d)[0][1].startswith("Value is not a Reference Path")


def test_result_path_cannot_name_a_variable_or_the_context_object():
    """DG workflow-variables ("Using variables in JSONPath states"): variables cannot be used in
    ResultPath (https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html).
    AWS's wording is not known; before, such a path passed and the run failed inside the engine."""
    for bad in ("$total", "$total.sum", "$$.Execution.Input"):
        d = machine(A={"Type": "Pass", "Assign": {"total": {}}, "Next": "B"},
                    B={"Type": "Pass", "Result": 1, "ResultPath": bad, "End": True})
        assert [(c, at) for c, _, at in diags(d)] == [("SCHEMA_VALIDATION_FAILED", "/States/B/ResultPath")], bad
        catcher = {"ErrorEquals": ["States.ALL"], "ResultPath": bad, "Next": "B"}
        d = machine(P={"Type": "Parallel", "Catch": [catcher], "End": True,
                       "Branches": [{"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "E"}}}]},
                    B=PASS_END)
        assert [(c, at) for c, _, at in diags(d)] == [("SCHEMA_VALIDATION_FAILED", "/States/P/Catch[0]/ResultPath")], bad
    assert diags(machine(A={"Type": "Pass", "ResultPath": "$.total.sum", "End": True})) == []


def test_variable_names_are_unicode_identifiers():
    """DG workflow-variables ("Variable name syntax"): a Unicode identifier of at most 80
    characters (https://docs.aws.amazon.com/step-functions/latest/dg/workflow-variables.html)."""
    for name in ("prénom", "变量", "Größe2", "_tmp", "x" * 80):
        assert diags(machine(A={"Type": "Pass", "Assign": {name: 1}, "End": True})) == [], name
    for name in ("1st", "a-b", "x.y", "x[2]", "x" * 81, "a b"):
        got = diags(machine(A={"Type": "Pass", "Assign": {name: 1}, "End": True}))
        assert [(c, at) for c, _, at in got] == [("SCHEMA_VALIDATION_FAILED", "/States/A/Assign")], name
    # a name read back in JSONPath and in JSONata is the variable assigned, and no warning says otherwise
    d = machine(A={"Type": "Pass", "Assign": {"prénom": {"n": "Ana"}}, "Next": "B"},
                B={"Type": "Pass", "Parameters": {"p.$": "$prénom.n"}, "Next": "C"},
                C={"Type": "Pass", "QueryLanguage": "JSONata", "Output": "{% $prénom.n %}", "End": True})
    assert diags(d) == [] and warnings(d) == []


def test_variable_names_with_combining_marks_are_read_whole():
    """Identifiers hold combining marks (Unicode's ID_Continue: Thai, Devanagari, a decomposed
    é), which a regex's \\w does not match: a name Assign takes is read whole in a path, in an
    intrinsic and in JSONata (where, as in JSONata itself, a name runs to a blank or an operator)."""
    from asl.engine import run_sync

    for name in ("ก่อน", "क्षेत्र", "pre\u0301nom"):
        d = machine(A={"Type": "Pass", "Assign": {name: {"n": 2}}, "Next": "B"},
                    B={"Type": "Pass", "Parameters": {"p.$": f"${name}.n", "f.$": f"States.Format('{{}}', ${name}.n)"},
                       "Next": "C"},
                    C={"Type": "Pass", "QueryLanguage": "JSONata", "End": True, "Output": {
                        "in": "{% $states.input %}", "j": f"{{% ${name}.n + 1 %}}",
                        "own": f"{{% (${name} := 5; $f := function(${name}) {{ ${name} * 2 }}; $f(${name})) %}}"}})
        assert diags(d) == [] and warnings(d) == [], name
        result = run_sync(asl.load(d), {})
        assert result.output == {"in": {"p": 2, "f": "2"}, "j": 3, "own": 10}, (name, result.cause)
        # a read of a name no state assigns is reported with the whole name
        unknown = machine(A={"Type": "Pass", "Parameters": {"p.$": f"${name}"}, "End": True})
        found = [d for d in asl.validate(unknown).warnings if d.code == "UNDEFINED_VARIABLE"]
        assert len(found) == 1 and f"'${name}'" in found[0].message, name


def test_wrong_json_types():
    got = diags(machine(A={"Type": "Task", "Resource": 5, "End": True}))
    assert got == [("SCHEMA_VALIDATION_FAILED", "Expected value of type [STRING]", "/States/A/Resource")]
    got = diags(machine(A={"Type": "Pass", "End": "yes"}))
    assert ("SCHEMA_VALIDATION_FAILED", "Expected value of type [BOOLEAN]", "/States/A/End") in got


def test_variables_inner_scope_assigning_an_outer_name():
    """A Map iteration or Parallel branch assigning a name that a state before the Map or Parallel
    assigned is refused: a third-party suite run against AWS has ValidateStateMachineDefinition
    fail both (Feature.JsonataScopeSource 001-map-inner-scope-cannot-shadow-outer-variable,
    002-parallel-inner-scope-cannot-shadow-outer-variable). A name only the Parallel's own catcher
    assigns is accepted: a recorded AWS execution (PARALLEL_CATCH_ERROR_VARIABLE_SAMPLING) does
    that; a WARNING."""
    message = ("The variable 'shared' is already assigned in an enclosing scope: a state inside a Map or "
               "Parallel cannot assign it")
    seed = {"Type": "Pass", "QueryLanguage": "JSONata", "Assign": {"shared": "outer"}, "Next": "M"}
    inner = {"StartAt": "I", "States": {"I": {"Type": "Pass", "QueryLanguage": "JSONata",
                                              "Assign": {"shared": "inner"}, "End": True}}}
    in_map = machine(Seed=seed, M={"Type": "Map", "ItemsPath": "$.items", "Iterator": inner, "End": True})
    assert diags(in_map) == [("SCHEMA_VALIDATION_FAILED", message, "/States/M/Iterator/States/I/Assign")]
    in_branch = machine(Seed=seed, M={"Type": "Parallel", "Branches": [inner], "End": True})
    assert diags(in_branch) == [("SCHEMA_VALIDATION_FAILED", message, "/States/M/Branches[0]/States/I/Assign")]
    # JSONPath too, and through a state between the two
    d = machine(Init={"Type": "Pass", "Assign": {"total": 0}, "Next": "Wait"},
                Wait={"Type": "Pass", "Next": "M"},
                M={"Type": "Map", "End": True, "ItemProcessor": {"StartAt": "I", "States": {
                    "I": {"Type": "Pass", "Assign": {"total": 1}, "End": True}}}})
    assert [code for code, _, _ in diags(d)] == ["SCHEMA_VALIDATION_FAILED"]
    # assigned only after the Map (or by its own catcher): a separate variable, a warning
    after = machine(M={"Type": "Map", "Next": "Done", "ItemProcessor": {"StartAt": "I", "States": {
                        "I": {"Type": "Pass", "Assign": {"total": 1}, "End": True}}},
                       "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"total": 2}, "Next": "Done"}]},
                    Done={"Type": "Pass", "Assign": {"total": 3}, "End": True})
    assert diags(after) == []
    assert ("OUTER_VARIABLE_ASSIGNED", "/States/M/ItemProcessor/States/I/Assign") in warnings(after)


def test_variable_read_without_assignment_warns():
    d = machine(A={"Type": "Pass", "Parameters": {"x.$": "$nowhere"}, "End": True})
    assert ("UNDEFINED_VARIABLE", "/States/A/Parameters") in warnings(d)
    d = machine(A={"Type": "Pass", "Assign": {"v": 1}, "Next": "B"},
                B={"Type": "Pass", "Parameters": {"x.$": "$v"}, "End": True})
    assert warnings(d) == []


def test_lint_warnings():
    d = machine(A={"Type": "Pass", "Result": {"a.$": "$.x"}, "Parameters": {"b": "$.y"}, "End": True})
    w = warnings(d)
    assert ("PASS_RESULT_IS_STATIC", "/States/A/Result") in w
    # AWS locates NO_DOLLAR at the object holding the key (raw AWS capture, radkawar/stackd
    # testdata/aws/stepfunctions/control_lifecycle.json, validate-warning-all)
    assert ("NO_DOLLAR", "/States/A/Parameters") in w
    d = machine(T={"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "End": True,
                   "Catch": [{"ErrorEquals": ["A"], "Next": "T"}, {"ErrorEquals": ["A"], "Next": "T"}]})
    assert ("UNREACHABLE_CATCHER", "/States/T/Catch[1]") in warnings(d)


def test_nested_loop_without_terminal_is_a_warning_only():
    """AWS-MEAS: MISSING_END_STATE applies to the top level only."""
    d = machine(M={"Type": "Map", "End": True, "ItemProcessor": {"StartAt": "I", "States": {
        "I": {"Type": "Pass", "Next": "J"}, "J": {"Type": "Pass", "Next": "I"}}}})
    assert diags(d) == []
    assert ("NO_TERMINAL_STATE", "/States/M/ItemProcessor") in warnings(d)


def test_load_raises_definition_error_with_diagnostics():
    with pytest.raises(asl.DefinitionError) as info:
        asl.load({"StartAt": "A"})
    assert info.value.diagnostics[0].code == "SCHEMA_VALIDATION_FAILED"


def test_a_definition_errors_message_lists_each_error():
    """What `asl.load` raises, printed (as pytest shows it), names every error to correct: it said
    "(and 1 more)" and left the rest to .diagnostics."""
    with pytest.raises(asl.DefinitionError) as info:
        asl.load({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}})
    assert str(info.value).splitlines() == [
        "invalid state machine definition: error MISSING_TRANSITION_TARGET: Missing 'Next' target: B at "
        "/States/A/Next", "and: error MISSING_END_STATE: Workflow has no terminal state"]
    states = {f"S{i}": {"Type": "Pass", "Next": "Nope"} for i in range(12)}
    with pytest.raises(asl.DefinitionError) as info:
        asl.load({"StartAt": "S0", "States": states})
    lines = str(info.value).splitlines()
    assert len(lines) == 11 and lines[9].endswith("at /States/S9/Next")
    assert lines[10] == "(and 3 more in .diagnostics)"  # S10, S11 and the missing end state


def test_input_is_never_mutated():
    d = machine(A={"Type": "Pass", "Parameters": {"x.$": "$.a"}, "End": True})
    before = copy.deepcopy(d)
    asl.load(d)
    assert d == before


def test_jsonata_syntax_and_restrictions():
    """AWS-MEAS (floci): parser text without its code; bare top-level references; $$."""
    def jsonata(output):
        return {"QueryLanguage": "JSONata", **machine(Main={"Type": "Pass", "Output": output, "End": True})}

    got = diags(jsonata({"v": "{% 1 + %}"}))
    assert got and got[0][0] == "INVALID_JSONATA_EXPRESSION" and got[0][2] == "/States/Main/Output/v"
    assert diags(jsonata({"v": "{% phone %}"})) == [
        ("UNSUPPORTED_JSONATA_EXPRESSION", "Reference to 'phone' at the top level is not supported.",
         "/States/Main/Output/v")]
    assert diags(jsonata("{% $$ %}"))[0][:2] == ("UNSUPPORTED_JSONATA_EXPRESSION", "Reference to '$$' is not supported.")
    assert diags(jsonata("{% $states.errorOutput %}")) == [
        ("UNSUPPORTED_JSONATA_EXPRESSION", "Field '$states.errorOutput' does not exist.", "/States/Main/Output")]


def test_intrinsic_argument_doubts_are_warnings():
    d = machine(A={"Type": "Pass", "Parameters": {"x.$": "States.Format('{} and {}', $.a)"}, "End": True})
    assert diags(d) == []
    assert ("INTRINSIC_ARGUMENTS", "/States/A/Parameters/x.$") in warnings(d)


def test_intrinsic_argument_count_is_a_warning_and_fails_at_run_time():
    from asl.engine import run_sync
    d = machine(A={"Type": "Pass", "Parameters": {"x.$": "States.MathAdd($.a)"}, "End": True})
    assert diags(d) == []
    assert ("INTRINSIC_ARGUMENTS", "/States/A/Parameters/x.$") in warnings(d)
    result = run_sync(asl.load(d), {"a": 1})
    # AWS's error and cause for an intrinsic whose arguments do not fit (test_field_causes.py)
    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert result.cause.endswith("Invalid arguments in States.MathAdd")
    # what was wrong stays in the validator's warning
    assert any("takes exactly 2 arguments, 1 given" in w.message for w in asl.validate(d).warnings
               if w.code == "INTRINSIC_ARGUMENTS")


def test_a_state_name_written_twice_in_the_text_is_a_duplicate():
    text = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true},\n "A": {"Type": "Succeed"}}}'
    result = asl.validate(text)
    assert not result.ok
    dup = [d for d in result.errors if d.code == "DUPLICATE_STATE_NAME"]
    assert dup and dup[0].location == "/States/A" and dup[0].line == 2
    warn = asl.validate('{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "End": true}}}')
    assert warn.ok and [d.code for d in warn.warnings] == ["DUPLICATE_KEY"]


# ---- Distributed Map fields (docs/aws-validation-messages.md 2.2, 2.4) --------------------------------------

def dmap_state(**fields):
    """A Distributed Map state named M with `fields`."""
    return machine(M={"Type": "Map", "End": True, **fields, "ItemProcessor": {
        "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
        "StartAt": "P", "States": {"P": PASS_END}}})


GET_OBJECT = {"Resource": "arn:aws:states:::s3:getObject", "Parameters": {"Bucket": "b", "Key": "k"}}


def reader(**config):
    return {**GET_OBJECT, "ReaderConfig": {"InputType": "CSV", "CSVHeaderLocation": "FIRST_ROW", **config}}


def test_reader_config_max_items_is_checked_at_creation():
    """AWS-MEAS (floci #3733): MaxItems above 100000000 is refused, a literal with its Path form too
    (``There should only be one of the following fields``), a negative one like every Map number
    literal (``Minimum value is 0``); LocalStack's recorded test: "Linter on creation filters for
    valid input integers (0 - 100000000)"."""
    where = "/States/M/ItemReader/ReaderConfig"
    assert diags(dmap_state(ItemReader=reader(MaxItems=100_000_000))) == []
    assert diags(dmap_state(ItemReader=reader(MaxItems=0))) == []
    assert diags(dmap_state(ItemReader=reader(MaxItems=100_000_001))) == [
        ("SCHEMA_VALIDATION_FAILED", "Maximum value is 100000000", f"{where}/MaxItems")]
    assert diags(dmap_state(ItemReader=reader(MaxItems=-1))) == [
        ("SCHEMA_VALIDATION_FAILED", "Minimum value is 0", f"{where}/MaxItems")]
    for bad in (1.5, "two", True):
        assert diags(dmap_state(ItemReader=reader(MaxItems=bad))) == [
            ("SCHEMA_VALIDATION_FAILED", "Expected value of type [INTEGER]", f"{where}/MaxItems")]
    assert diags(dmap_state(ItemReader=reader(MaxItems=2, MaxItemsPath="$.n"))) == [
        ("SCHEMA_VALIDATION_FAILED", "There should only be one of the following fields: [MaxItems, MaxItemsPath]",
         f"{where}/MaxItems")]
    assert diags(dmap_state(ItemReader=reader(MaxItemsPath="n"))) == [
        ("SCHEMA_VALIDATION_FAILED", "Value is not a Reference Path: a path must start with '$'",
         f"{where}/MaxItemsPath")]
    # JSONata: an expression is a value; MaxItemsPath is a JSONPath field
    jsonata = {**dmap_state(ItemReader={"Resource": "arn:aws:states:::s3:getObject",
                                        "Arguments": {"Bucket": "b", "Key": "k"},
                                        "ReaderConfig": {"InputType": "JSON", "MaxItems": "{% $states.input.n %}"}}),
               "QueryLanguage": "JSONata"}
    assert diags(jsonata) == []
    jsonata["States"]["M"]["ItemReader"]["ReaderConfig"] = {"InputType": "JSON", "MaxItemsPath": "$.n"}
    assert diags(jsonata) == [("SCHEMA_VALIDATION_FAILED", "The QueryLanguage is set to 'JSONata', but field "
                               "'MaxItemsPath' is only supported for the 'JSONPath' QueryLanguage", "/States/M")]


def test_csv_delimiter_is_one_of_five_names_for_csv_or_manifest():
    """DG "input-output-itemreader": CSVDelimiter COMMA (default), PIPE, SEMICOLON, SPACE or TAB, when
    InputType is CSV or MANIFEST. Whether AWS refuses anything else at creation is not known: WARNINGs."""
    where = "/States/M/ItemReader/ReaderConfig/CSVDelimiter"
    for name in ("COMMA", "PIPE", "SEMICOLON", "SPACE", "TAB"):
        for input_type in ("CSV", "MANIFEST"):
            good = dmap_state(ItemReader=reader(CSVDelimiter=name, InputType=input_type))
            assert diags(good) == [] and warnings(good) == []
    for bad in ("COLON", "|", 1):
        definition = dmap_state(ItemReader=reader(CSVDelimiter=bad))
        assert diags(definition) == [] and warnings(definition) == [("CSV_DELIMITER", where)]
    other = dmap_state(ItemReader={**GET_OBJECT, "ReaderConfig": {"InputType": "JSON", "CSVDelimiter": "PIPE"}})
    assert diags(other) == [] and warnings(other) == [("CSV_DELIMITER", where)]


def test_reader_config_field_combinations():
    """A third-party suite run against AWS (Validation.ItemReader, cases 001-005 and 007-009) has
    ValidateStateMachineDefinition refuse each of these ReaderConfigs (DG "input-output-itemreader"
    ties each field to an InputType)."""
    where = "/States/M/ItemReader/ReaderConfig"

    def config(**fields):
        return diags(dmap_state(ItemReader={**GET_OBJECT, "ReaderConfig": fields}))

    def refused(message, at=""):
        return [("SCHEMA_VALIDATION_FAILED", message, where + at)]

    # 001: S3_INVENTORY with another InputType; 007: ATHENA_DATA with JSON
    assert config(ManifestType="S3_INVENTORY", InputType="CSV") == refused(
        "Field 'InputType' is not supported with the ManifestType S3_INVENTORY", "/InputType")
    assert config(ManifestType="ATHENA_DATA", InputType="JSON") == refused(
        "The ManifestType ATHENA_DATA requires the InputType CSV, JSONL or PARQUET", "/InputType")
    # 002: LOAD_AND_FLATTEN without InputType
    listing = {"Resource": "arn:aws:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"},
               "ReaderConfig": {"Transformation": "LOAD_AND_FLATTEN"}}
    assert diags(dmap_state(ItemReader=listing)) == refused("These fields are required: [InputType]")
    # 003, 004: ItemsPointer only with JSON, and a JSON Pointer
    assert config(InputType="CSV", CSVHeaderLocation="FIRST_ROW", ItemsPointer="/data/items") == refused(
        "Field 'ItemsPointer' is not supported", "/ItemsPointer")
    assert config(InputType="JSON", ItemsPointer="data/items") == refused("Value is not a JSON Pointer",
                                                                          "/ItemsPointer")
    # 005, 009: CSV header fields with JSON or JSONL; 008: GIVEN without CSVHeaders
    assert config(InputType="JSON", CSVHeaderLocation="FIRST_ROW") == refused(
        "Field 'CSVHeaderLocation' is not supported", "/CSVHeaderLocation")
    assert config(InputType="JSONL", CSVHeaderLocation="GIVEN", CSVHeaders=["id"]) == refused(
        "Field 'CSVHeaderLocation' is not supported", "/CSVHeaderLocation") + refused(
        "Field 'CSVHeaders' is not supported", "/CSVHeaders")
    assert config(InputType="CSV", CSVHeaderLocation="GIVEN") == refused("These fields are required: [CSVHeaders]")
    # what AWS runs (recordings, DG examples)
    for fields in ({"InputType": "JSON", "ItemsPointer": "/data/items"}, {"InputType": "JSON", "ItemsPointer": ""},
                   {"InputType": "CSV", "CSVHeaderLocation": "GIVEN", "CSVHeaders": ["a"]},
                   {"InputType": "MANIFEST"}, {"ManifestType": "S3_INVENTORY", "InputType": "MANIFEST"},
                   {"ManifestType": "ATHENA_DATA", "InputType": "PARQUET"},
                   {"InputType": "JSONL", "Transformation": "LOAD_AND_FLATTEN"}):
        assert config(**fields) == [], fields


def test_item_batcher_numbers_are_checked_at_creation():
    """AWS-MEAS (floci #3733): a literal with its Path form is refused, a negative literal
    (``Minimum value is 0``), MaxInputBytesPerBatch above 262144 (256 KiB, the payload limit)."""
    where = "/States/M/ItemBatcher"
    assert diags(dmap_state(ItemBatcher={"MaxItemsPerBatch": 0, "MaxInputBytesPerBatch": 262_144})) == []
    # no limit at all: documented as required, not known to be refused: a WARNING
    unbounded = dmap_state(ItemBatcher={"BatchInput": {"a": 1}})
    assert diags(unbounded) == [] and warnings(unbounded) == [("ITEM_BATCHER_WITHOUT_LIMIT", where)]
    assert warnings(dmap_state(ItemBatcher={"MaxInputBytesPerBatchPath": "$.n"})) == []
    assert diags(dmap_state(ItemBatcher={"MaxItemsPerBatch": -1})) == [
        ("SCHEMA_VALIDATION_FAILED", "Minimum value is 0", f"{where}/MaxItemsPerBatch")]
    assert diags(dmap_state(ItemBatcher={"MaxInputBytesPerBatch": 262_145})) == [
        ("SCHEMA_VALIDATION_FAILED", "Maximum value is 262144", f"{where}/MaxInputBytesPerBatch")]
    assert diags(dmap_state(ItemBatcher={"MaxItemsPerBatch": 2, "MaxItemsPerBatchPath": "$.n"})) == [
        ("SCHEMA_VALIDATION_FAILED", "There should only be one of the following fields: "
         "[MaxItemsPerBatch, MaxItemsPerBatchPath]", f"{where}/MaxItemsPerBatch")]
    assert diags(dmap_state(ItemBatcher={"MaxInputBytesPerBatch": 2, "MaxInputBytesPerBatchPath": "$.n"})) == [
        ("SCHEMA_VALIDATION_FAILED", "There should only be one of the following fields: "
         "[MaxInputBytesPerBatch, MaxInputBytesPerBatchPath]", f"{where}/MaxInputBytesPerBatch")]
    jsonata = {**dmap_state(Items=[1], ItemBatcher={"MaxItemsPerBatchPath": "$.n"}), "QueryLanguage": "JSONata"}
    assert diags(jsonata) == [("SCHEMA_VALIDATION_FAILED", "The QueryLanguage is set to 'JSONata', but field "
                               "'MaxItemsPerBatchPath' is only supported for the 'JSONPath' QueryLanguage",
                               "/States/M")]


def test_map_number_paths_take_no_context_object():
    """AWS-MEAS (floci #3733, #3732): a Map number's ``...Path`` is a Reference Path into the
    state input: ``$$`` is refused (only ItemsPath takes it); a variable is not."""
    for fields, at in (({"MaxConcurrencyPath": "$$.Execution.Input.n"}, "MaxConcurrencyPath"),
                       ({"ToleratedFailureCountPath": "$$.Execution.Input.n"}, "ToleratedFailureCountPath"),
                       ({"ItemBatcher": {"MaxItemsPerBatchPath": "$$.Execution.Input.n"}},
                        "ItemBatcher/MaxItemsPerBatchPath"),
                       ({"ItemReader": reader(MaxItemsPath="$$.Execution.Input.n")},
                        "ItemReader/ReaderConfig/MaxItemsPath")):
        got = diags(dmap_state(**fields))
        assert [(code, location) for code, _, location in got] == [("SCHEMA_VALIDATION_FAILED", f"/States/M/{at}")]
        assert got[0][1].startswith("Value is not a Reference Path")
    assert diags(dmap_state(MaxConcurrencyPath="$limit", ItemsPath="$$.Execution.Input.items")) == []


def test_item_reader_resource_and_input_type_are_checked_at_creation():
    """AWS-MEAS (location; floci PR #1588): an ItemReader Resource other than s3:getObject or
    s3:listObjectsV2, and an InputType outside DG "input-output-itemreader"'s values, are refused
    at the field. Without DISTRIBUTED mode the fields are accepted (AWS-MEAS): our warning only."""
    where = "/States/M/ItemReader"
    bad = dmap_state(ItemReader={**GET_OBJECT, "Resource": "arn:aws:states:::s3:unknownOperation"})
    assert diags(bad) == [("SCHEMA_VALIDATION_FAILED", "The field 'Resource' does not match any of the allowed "
                           "values", f"{where}/Resource")]
    listing = {"Resource": "arn:aws-us-gov:states:::s3:listObjectsV2", "Parameters": {"Bucket": "b"}}
    assert diags(dmap_state(ItemReader=listing)) == []
    assert diags(dmap_state(ItemReader=reader(InputType="XML"))) == [
        ("SCHEMA_VALIDATION_FAILED", "Value should be one of the following: [CSV, JSON, JSONL, MANIFEST, PARQUET]",
         f"{where}/ReaderConfig/InputType")]
    inline = machine(M={"Type": "Map", "End": True, "ItemReader": reader(),
                        "ItemProcessor": {"StartAt": "P", "States": {"P": PASS_END}}})
    assert diags(inline) == [] and ("DISTRIBUTED_ONLY_FIELD", "/States/M/ItemReader") in warnings(inline)


def test_result_writer_shape_is_checked_at_creation():
    """DG "input-output-resultwriter" ("Required field combinations"): WriterConfig, or Resource
    with Parameters (Arguments), or all three, never empty. AWS-MEAS? (locations, floci tests): an
    empty one, a Resource without Parameters, a WriterConfig without Transformation and
    OutputType together, values of the wrong type (the language service's schema requires
    OutputType)."""
    where = "/States/M/ResultWriter"
    put = {"Resource": "arn:aws:states:::s3:putObject", "Parameters": {"Bucket": "b", "Prefix": "p"}}
    config = {"OutputType": "JSON", "Transformation": "COMPACT"}
    for ok in (put, {"WriterConfig": config}, {**put, "WriterConfig": config}):
        assert diags(dmap_state(ResultWriter=ok)) == [], ok
    shape = ("The ResultWriter must have WriterConfig, or Resource with Parameters, or all three")
    for bad in ({}, {"Resource": put["Resource"]}, {"Parameters": put["Parameters"]},
                {"Parameters": put["Parameters"], "WriterConfig": config}):
        assert diags(dmap_state(ResultWriter=bad)) == [("SCHEMA_VALIDATION_FAILED", shape, where)], bad
    assert diags(dmap_state(ResultWriter={**put, "Resource": "arn:aws:states:::s3:getObject"})) == [
        ("SCHEMA_VALIDATION_FAILED", "The field 'Resource' does not match any of the allowed values",
         f"{where}/Resource")]
    assert diags(dmap_state(ResultWriter={**put, "Resource": None})) == [
        ("SCHEMA_VALIDATION_FAILED", "Expected value of type [STRING]", f"{where}/Resource")]
    assert diags(dmap_state(ResultWriter={"WriterConfig": {"Transformation": "NONE"}})) == [
        ("SCHEMA_VALIDATION_FAILED", "These fields are required: [OutputType]", f"{where}/WriterConfig")]
    assert diags(dmap_state(ResultWriter={"WriterConfig": {}})) == [
        ("SCHEMA_VALIDATION_FAILED", "These fields are required: [Transformation, OutputType]",
         f"{where}/WriterConfig")]
    assert diags(dmap_state(ResultWriter={"WriterConfig": {"OutputType": "CSV", "Transformation": 1}})) == [
        ("SCHEMA_VALIDATION_FAILED", "Expected value of type [STRING]", f"{where}/WriterConfig"),
        ("SCHEMA_VALIDATION_FAILED", "Value should be one of the following: [JSON, JSONL]",
         f"{where}/WriterConfig/OutputType")]
    assert diags(dmap_state(ResultWriter={**put, "Parameters": {"Bucket": 42, "Prefix": {}}})) == [
        ("SCHEMA_VALIDATION_FAILED", "Expected value of type [STRING]", f"{where}/Parameters/Bucket"),
        ("SCHEMA_VALIDATION_FAILED", "Expected value of type [STRING]", f"{where}/Parameters/Prefix")]
    # the destination in the state's query language, reported at the field
    jsonata = {**dmap_state(Items=[1], ResultWriter=put), "QueryLanguage": "JSONata"}
    assert diags(jsonata) == [
        ("SCHEMA_VALIDATION_FAILED", "The QueryLanguage is set to 'JSONata', but field 'Parameters' is only "
         "supported for the 'JSONPath' QueryLanguage", f"{where}/Parameters")]
    jsonata["States"]["M"]["ResultWriter"] = {"Resource": put["Resource"], "Arguments": {"Bucket": "{% 'b' %}"}}
    assert diags(jsonata) == []
    arguments = dmap_state(ResultWriter={"Resource": put["Resource"], "Arguments": {"Bucket": "b"}})
    assert diags(arguments) == [
        ("SCHEMA_VALIDATION_FAILED", "The QueryLanguage is set to 'JSONPath', but field 'Arguments' is only "
         "supported for the 'JSONata' QueryLanguage", f"{where}/Arguments")]


def test_a_transition_to_a_missing_state_says_which_one_was_meant():
    """AWS's message stays as it is (its JSON shape has no hint); the text and our JSON add one."""
    result = asl.validate({"StartAt": "Frist", "States": {
        "First": {"Type": "Pass", "Next": "Scond"}, "Second": {"Type": "Succeed"}}})
    missing = [d for d in result.errors if d.message.startswith("Missing 'Next' target")]
    assert [(d.message, d.location, d.hint) for d in missing] == [
        ("Missing 'Next' target: Frist", "/StartAt", "did you mean 'First'?"),
        ("Missing 'Next' target: Scond", "/States/First/Next", "did you mean 'Second'?")]
    assert all("hint" not in d.to_aws() and "did you mean" not in d.aws_text() for d in missing)
    assert str(missing[0]).endswith("Missing 'Next' target: Frist at /StartAt (did you mean 'First'?)")
    # nothing close: no hint
    far = asl.validate({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Zebra"}, "B": {"Type": "Succeed"}}})
    assert [d.hint for d in far.errors if d.message.startswith("Missing")] == [None]
