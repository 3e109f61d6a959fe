"""The validator: every check AWS makes on a definition, plus a few lint rules.

`check(definition)` returns ``(diagnostics, machine)``: the list of `Diagnostic` and, when there
is no ERROR, the compiled `StateMachine`. It never raises for bad input.

The checks run in AWS's order (ASL-SPEC.md section 14):

1. schema: the JSON shape of every block and state, fields allowed per state type and per query
   language, mutually exclusive fields, field types and ranges, path/intrinsic/JSONata syntax
   (types and expressions come from building the pydantic model, whose errors are converted);
2. graph (only when the schema is sound): transition targets, terminal states, reachability;
3. semantics: variables and their scopes, Express restrictions;
4. warnings: AWS's (NO_DOLLAR, PASS_RESULT_IS_STATIC ...) and our own lint codes.
"""
from __future__ import annotations

import re
from typing import Any, Iterator

from . import diagnostics as codes
from .diagnostics import ERROR, WARNING, Diagnostic, closest, pointer

STATE_TYPES = ("Task", "Wait", "Pass", "Succeed", "Fail", "Choice", "Parallel", "Map")
TYPE_MESSAGE = "The field 'Type' should have one of these values: [Task, Wait, Pass, Succeed, Fail, Choice, Parallel, Map]"

# Fields each state type accepts (ASL-SPEC.md section 2), whatever the query language.
_COMMON = {"Type", "Comment", "QueryLanguage"}
_FLOW = {"Next", "End"}
_IO = {"InputPath", "OutputPath", "Output"}
_RESULTS = {"ResultPath", "ResultSelector", "Retry", "Catch"}
STATE_FIELDS: dict[str, set[str]] = {
    "Task": _COMMON | _FLOW | _IO | _RESULTS | {
        "Assign", "Resource", "Parameters", "Arguments", "TimeoutSeconds", "TimeoutSecondsPath",
        "HeartbeatSeconds", "HeartbeatSecondsPath", "Credentials"},
    "Pass": _COMMON | _FLOW | _IO | {"Assign", "Result", "Parameters", "ResultPath"},
    "Choice": _COMMON | _IO | {"Assign", "Choices", "Default"},
    "Wait": _COMMON | _FLOW | _IO | {"Assign", "Seconds", "Timestamp", "SecondsPath", "TimestampPath"},
    "Succeed": _COMMON | _IO,
    "Fail": _COMMON | {"Error", "Cause", "ErrorPath", "CausePath"},
    "Parallel": _COMMON | _FLOW | _IO | _RESULTS | {"Assign", "Branches", "Parameters", "Arguments"},
    "Map": _COMMON | _FLOW | _IO | _RESULTS | {
        "Assign", "ItemProcessor", "Iterator", "ItemsPath", "Items", "ItemSelector", "Parameters",
        "MaxConcurrency", "MaxConcurrencyPath", "ToleratedFailurePercentage",
        "ToleratedFailurePercentagePath", "ToleratedFailureCount", "ToleratedFailureCountPath",
        "Label", "ItemReader", "ItemBatcher", "ResultWriter"},
}
# Fields of one query language only (ASL-SPEC.md section 2, "P" and "A").
JSONPATH_ONLY = {"InputPath", "OutputPath", "Parameters", "ResultSelector", "ResultPath", "Result",
                 "TimeoutSecondsPath", "HeartbeatSecondsPath", "SecondsPath", "TimestampPath",
                 "ErrorPath", "CausePath", "ItemsPath", "MaxConcurrencyPath",
                 "ToleratedFailurePercentagePath", "ToleratedFailureCountPath"}
JSONATA_ONLY = {"Arguments", "Output", "Items"}
EXCLUSIVE = [  # (a, b): at most one of them
    ("TimeoutSeconds", "TimeoutSecondsPath"), ("HeartbeatSeconds", "HeartbeatSecondsPath"),
    ("Error", "ErrorPath"), ("Cause", "CausePath"), ("Iterator", "ItemProcessor"),
    ("Parameters", "ItemSelector"), ("MaxConcurrency", "MaxConcurrencyPath"),
    ("ToleratedFailurePercentage", "ToleratedFailurePercentagePath"),
    ("ToleratedFailureCount", "ToleratedFailureCountPath"),
]
WAIT_FIELDS = ("Seconds", "Timestamp", "SecondsPath", "TimestampPath")
MAX_STATE_NAME = 80
MAX_LABEL = 40
MAX_NESTING = 64  # blocks inside blocks; AWS's exact depth limit is not documented

# RFC 3339 as AWS checks a static Wait Timestamp: upper-case T and Z, optional fraction.
TIMESTAMP_RE = re.compile(
    r"^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):([0-5]\d):([0-5]\d|60)"
    r"(\.\d+)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)$")
LABEL_FORBIDDEN = set('<>{}[]?*"#%\\^|~`$&,;:/')
# Distributed Map sub-objects (DG "input-output-itemreader", "input-output-itembatcher",
# "input-output-resultwriter"; docs/aws-validation-messages.md 2.2 and 2.4).
READER_RESOURCE_RE = re.compile(r"^arn:[a-z0-9-]+:states:::s3:(getObject|listObjectsV2)$")
WRITER_RESOURCE_RE = re.compile(r"^arn:[a-z0-9-]+:states:::s3:putObject$")
NOT_AN_ALLOWED_VALUE = "The field '{}' does not match any of the allowed values"
INPUT_TYPES = ("CSV", "JSON", "JSONL", "MANIFEST", "PARQUET")
# ReaderConfig CSVDelimiter: its names and the characters they stand for (DG "input-output-itemreader")
CSV_DELIMITERS = {"COMMA": ",", "PIPE": "|", "SEMICOLON": ";", "SPACE": " ", "TAB": "\t"}
OUTPUT_TYPES = ("JSON", "JSONL")
WRITER_TRANSFORMATIONS = ("NONE", "COMPACT", "FLATTEN")
MAX_ITEMS = 100_000_000  # ReaderConfig MaxItems
MAX_BATCH_BYTES = 262_144  # ItemBatcher MaxInputBytesPerBatch: the 256 KiB payload limit
MAX_VARIABLE_NAME = 80


def is_variable_name(name: str) -> bool:
    """A name Assign may give a variable. The DG's workflow-variables page: a Unicode identifier
    (UAX #31: an ID_Start character, then ID_Continue characters), at most 80 characters. Python's
    identifiers follow the same annex (XID_Start, XID_Continue), and like JavaScript's, which the
    page likens the rule to, they may also start with '_'."""
    return name.isidentifier() and len(name) <= MAX_VARIABLE_NAME


class Checker:
    """Collects diagnostics while walking the raw definition."""

    def __init__(self, machine_type: str = "STANDARD"):
        self.machine_type = machine_type
        self.diagnostics: list[Diagnostic] = []
        self.state_names: dict[str, tuple] = {}
        self.labels: set[str] = set()
        # where the Distributed Map whose EXPRESS child workflows hold the states being checked is
        self.express_children: tuple | None = None
        # AWS: a state inherits the machine's query language, not its enclosing Map's or Parallel's.
        self.machine_ql = "JSONPath"

    def error(self, code: str, message: str, where: tuple | None, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic(ERROR, code, message, None if where is None else pointer(where),
                                           hint=hint))

    def warn(self, code: str, message: str, where: tuple | None) -> None:
        self.diagnostics.append(Diagnostic(WARNING, code, message, None if where is None else pointer(where)))

    def schema(self, message: str, where: tuple) -> None:
        self.error(codes.SCHEMA_VALIDATION_FAILED, message, where)

    # ----------------------------------------------------------------------------------------
    # 1. Schema
    # ----------------------------------------------------------------------------------------

    def block(self, block: Any, where: tuple, ql: str, depth: int, kind: str = "block") -> None:
        """A machine, a Parallel branch or a Map processor: StartAt + States."""
        if depth > MAX_NESTING:
            self.error(codes.TOO_DEEPLY_NESTED, "The definition is nested too deeply", where)
            return
        if not isinstance(block, dict):
            self.schema("Expected value of type [OBJECT]", where)
            return
        missing = [f for f in ("States", "StartAt") if f not in block]
        if missing:
            self.schema(f"These fields are required: [{', '.join(missing)}]", where)
        allowed = {"StartAt", "States", "Comment"}
        if kind == "machine":
            allowed |= {"Version", "TimeoutSeconds", "QueryLanguage"}
        elif kind == "processor":
            allowed |= {"ProcessorConfig"}
        for key in block:
            if key not in allowed:
                self.schema(f"Field '{key}' is not supported", where)
        if "StartAt" in block and not isinstance(block["StartAt"], str):
            self.schema("Expected value of type [STRING]", where + ("StartAt",))
        states = block.get("States")
        if "States" in block:
            if not isinstance(states, dict):
                self.schema("Expected value of type [OBJECT]", where + ("States",))
            elif not states:
                self.schema("Value cannot be empty", where + ("States",))
            else:
                for name, state in states.items():
                    self.state(name, state, where + ("States", name), ql, depth)

    def state(self, name: str, state: Any, where: tuple, outer_ql: str, depth: int) -> None:
        if name in self.state_names:
            self.error(codes.DUPLICATE_STATE_NAME, f"Duplicate State name: {name}", where)
        else:
            self.state_names[name] = where
        if len(name) > MAX_STATE_NAME:
            self.error(codes.INVALID_STATE_NAME, f"Invalid State name: State '{name}' exceeds the "
                       f"{MAX_STATE_NAME}-character limit allowed by the service", where)
        elif not name:
            self.error(codes.INVALID_STATE_NAME, "Invalid State name: a state name cannot be empty", where)
        if not isinstance(state, dict):
            self.schema("Expected value of type [OBJECT]", where)
            return
        kind = state.get("Type")
        if "Type" not in state:
            self.schema("These fields are required: [Type]", where)
            return
        if kind not in STATE_TYPES:
            self.schema(TYPE_MESSAGE, where + ("Type",))
            return
        ql, ql_error = outer_ql, None
        if "QueryLanguage" in state:
            # AWS: the state is JSONPath only when the value is exactly "JSONPath"; anything
            # else counts as JSONata (and a bad value is reported after the state's fields).
            own_ql = state["QueryLanguage"]
            ql = "JSONPath" if own_ql == "JSONPath" else "JSONata"
            ql_error = query_language_error(own_ql)
        downgrade = ql == "JSONPath" and outer_ql == "JSONata"
        if downgrade:
            # This message replaces the state's other-language field diagnostics.
            self.schema("'QueryLanguage' can not be 'JSONPath' if set to 'JSONata' for whole state machine",
                        where)
        allowed = STATE_FIELDS[kind]
        for key in state:
            if key not in allowed:
                self.schema(f"Field '{key}' is not supported", where)
            elif downgrade:
                continue
            elif ql == "JSONata" and key in JSONPATH_ONLY:
                self.schema(f"The QueryLanguage is set to 'JSONata', but field '{key}' is only supported for "
                            "the 'JSONPath' QueryLanguage", where)
            elif ql == "JSONPath" and key in JSONATA_ONLY:
                self.schema(f"The QueryLanguage is set to 'JSONPath', but field '{key}' is only supported for "
                            "the 'JSONata' QueryLanguage", where)
        for a, b in EXCLUSIVE:
            if a in state and b in state:
                self.schema(f"There should only be one of the following fields: [{a}, {b}]", where + (a,))
        if kind in ("Task", "Pass", "Wait", "Parallel", "Map"):
            self.transition(state, where)
        getattr(self, f"state_{kind.lower()}")(state, where, ql, depth)
        for field in ("Retry", "Catch"):
            if field in state and field in allowed:
                self.recovery(state[field], field, where + (field,))
        if "Assign" in state:
            self.assign(state["Assign"], where + ("Assign",), ql)
        if ql_error:
            self.schema(ql_error, where + ("QueryLanguage",))

    def transition(self, state: dict, where: tuple) -> None:
        has_next, end = "Next" in state, state.get("End")
        if has_next and end is True:
            self.schema("There should only be one of the following fields: [Next, End]", where)
        elif not has_next and end is not True:
            if "End" in state and not isinstance(end, bool):
                return  # the type error is reported by the model
            self.schema("This object should have only one of the following fields: [Next, End]", where)

    def state_task(self, state: dict, where: tuple, ql: str, depth: int) -> None:
        if "Resource" not in state:
            self.schema("These fields are required: [Resource]", where)
        resource = state.get("Resource")
        if isinstance(resource, str):
            self.resource(resource, where + ("Resource",))
            self.task_headers(state, resource, where)
            self.sdk_parameters(state, resource, where, ql)
            self.job_fields(state, resource, where)
        t, h = state.get("TimeoutSeconds"), state.get("HeartbeatSeconds")
        if _is_int(t) and _is_int(h) and h >= t:
            self.schema("HeartbeatSeconds must be smaller than TimeoutSeconds", where + ("HeartbeatSeconds",))
        for field in ("TimeoutSeconds", "HeartbeatSeconds"):
            self.range(state, field, where, 1, 99999999)
        creds = state.get("Credentials")
        if isinstance(creds, dict) and not any(k in creds for k in ("RoleArn", "RoleArn.$")):
            self.schema("The field 'RoleArn' is required but was missing", where + ("Credentials",))

    def task_headers(self, state: dict, resource: str, where: tuple) -> None:
        """Request headers an API Gateway or HTTP Task may not set, given literally (a
        ``Headers.$`` path is checked at run time). Authorization is refused at creation, as
        recorded on AWS: SCHEMA_VALIDATION_FAILED at ``/States/<name>/Parameters``; the others
        fail the Task with States.Runtime when it runs (DG "call-https-apis"), and no refusal of
        them at creation is known: a WARNING ``UNSUPPORTED_HEADER`` of ours."""
        from .resources import REFUSED_AT_CREATION, parse_resource, unsupported_header_names, unsupported_headers

        info = parse_resource(resource)
        if info is None or (info.service, info.api) not in (("apigateway", "invoke"), ("http", "invoke")):
            return
        for field in ("Parameters", "Arguments"):
            template = state.get(field)
            if isinstance(template, dict):
                problem = unsupported_headers(info.service, template.get("Headers"))
                if not problem:
                    continue
                if REFUSED_AT_CREATION.intersection(unsupported_header_names(info.service, template.get("Headers"))):
                    self.schema(problem, where + (field,))
                else:
                    self.warn("UNSUPPORTED_HEADER", f"{problem} (the Task fails with States.Runtime when it runs)",
                              where + (field,))

    def job_fields(self, state: dict, resource: str, where: tuple) -> None:
        """The fields of a ``.sync`` job's request that Step Functions sets itself (`SYNC_REFUSED`),
        given in its Parameters or Arguments, literally or as ``.$``."""
        from .resources import SYNC, SYNC_REFUSED, parse_resource

        info = parse_resource(resource)
        if info is None or info.pattern != SYNC or (info.service, info.api) not in SYNC_REFUSED:
            return
        for field in ("Parameters", "Arguments"):
            template = state.get(field)
            if isinstance(template, dict):
                for key in template:
                    name = key[:-2] if isinstance(key, str) and key.endswith(".$") else key
                    if name in SYNC_REFUSED[(info.service, info.api)]:
                        self.schema(f"The field '{name}' is not supported by Step Functions", where + (field,))

    def sdk_parameters(self, state: dict, resource: str, where: tuple, ql: str) -> None:
        """An aws-sdk Task's literal Parameters against botocore's model of the operation
        (`asl.sdkmodel.parameter_problems`; raw AWS captures, radkawar/stackd
        testdata/aws/stepfunctions/sdk_admission.json: SCHEMA_VALIDATION_FAILED at
        ``/States/<name>/Parameters``). Recorded for request-response JSONPath Tasks; JSONata
        Arguments and ``.waitForTaskToken`` Tasks get the same findings as WARNINGs."""
        if "aws-sdk:" not in resource:
            return
        from .resources import RR, parse_resource

        info = parse_resource(resource)
        field = "Arguments" if ql == "JSONata" else "Parameters"
        template = state.get(field)
        if info is None or info.kind != "sdk" or not isinstance(template, dict):
            return
        from .sdkmodel import parameter_problems

        if field == "Parameters":
            def dynamic(key: str, value: Any) -> tuple[str, bool]:
                return (key[:-2], True) if key.endswith(".$") else (key, False)
        else:
            def dynamic(key: str, value: Any) -> tuple[str, bool]:
                return key, isinstance(value, str) and value.startswith("{%") and value.endswith("%}")
        recorded = field == "Parameters" and info.pattern == RR
        for certain, message, *hint in parameter_problems(info.service, info.api, template, dynamic):
            if certain and recorded:
                self.error(codes.SCHEMA_VALIDATION_FAILED, message, where + (field,), hint=hint[0] if hint else None)
            else:
                self.warn(codes.SCHEMA_VALIDATION_FAILED, message, where + (field,))

    def resource(self, resource: str, where: tuple) -> None:
        from .resources import parse_resource

        info = parse_resource(resource)
        if info is None and _placeholder(resource):
            return
        if info is None:
            self.schema(f"The resource provided {resource} is not recognized. The value is not a valid "
                        "resource ARN, or the resource is not available in this region.", where)
            return
        if self.machine_type == "EXPRESS":
            if info.pattern == "sync":
                self.schema("Express state machine does not support '.sync' service integration", where)
            elif info.pattern == "waitForTaskToken":
                # AWS's message ends with a space.
                self.schema("Express state machine does not support '.waitForTaskToken' service integration ",
                            where)
            elif info.kind == "activity":
                self.schema("Express state machine does not support Activity ARN", where)

    def state_pass(self, state: dict, where: tuple, ql: str, depth: int) -> None:
        result = state.get("Result")
        if isinstance(result, dict) and any(isinstance(k, str) and k.endswith(".$") for k in _keys_deep(result)):
            self.warn(codes.PASS_RESULT_IS_STATIC,
                      "The Result field of a Pass state is static: keys ending in '.$' are not evaluated. "
                      "Use Parameters to evaluate paths.", where + ("Result",))

    def state_choice(self, state: dict, where: tuple, ql: str, depth: int) -> None:
        choices = state.get("Choices")
        if "Choices" not in state:
            self.schema("These fields are required: [Choices]", where)
        elif not isinstance(choices, list):
            self.schema("Expected value of type [ARRAY]", where + ("Choices",))
        elif not choices:
            self.schema("Value cannot be empty", where + ("Choices",))
        else:
            for i, rule in enumerate(choices):
                self.choice_rule(rule, where + ("Choices", i), ql, top=True)

    def choice_rule(self, rule: Any, where: tuple, ql: str, top: bool) -> None:
        from .model import COMPARISON_OPERATORS

        if not isinstance(rule, dict):
            self.schema("Expected value of type [OBJECT]", where)
            return
        if top and "Next" not in rule:
            self.schema("These fields are required: [Next]", where)
        if not top:
            for key in ("Next", "Assign", "Output"):
                if key in rule:
                    self.schema(f"Field '{key}' is not supported", where)
        if ql == "JSONata":
            allowed = {"Condition", "Next", "Comment", "Assign", "Output"}
            for key in rule:
                if key not in allowed:
                    self.schema(f"Field '{key}' is not supported", where)
            if "Condition" not in rule:
                self.schema("These fields are required: [Condition]", where)
            return
        for key in ("Condition", "Output"):
            if key in rule:
                self.schema(f"The QueryLanguage is set to 'JSONPath', but field '{key}' is only supported for "
                            "the 'JSONata' QueryLanguage", where)
        operators = [k for k in rule if k in COMPARISON_OPERATORS]
        booleans = [k for k in rule if k in ("And", "Or", "Not")]
        known = set(COMPARISON_OPERATORS) | {"And", "Or", "Not", "Variable", "Next", "Comment", "Assign",
                                             "Condition", "Output"}
        for key in rule:
            if key not in known:
                self.schema(f"Field '{key}' is not supported", where)
        if len(operators) > 1:
            self.schema(f"There should only be one of the following fields: [{', '.join(operators)}]", where)
        elif len(booleans) + ("Variable" in rule) != 1:
            self.schema("The object must have only one of the following fields, [And, Or, Not, Variable, "
                        "Condition]", where)
        elif operators and "Variable" not in rule:
            self.schema("These fields are required: [Variable]", where)
        elif "Variable" in rule and not operators:
            self.schema("A comparison needs one operator, such as StringEquals or NumericLessThan", where)
        for key in ("And", "Or"):
            if key in rule:
                subs = rule[key]
                if not isinstance(subs, list):
                    self.schema("Expected value of type [ARRAY]", where + (key,))
                elif not subs:
                    self.schema("Value cannot be empty", where + (key,))
                else:
                    for i, sub in enumerate(subs):
                        self.choice_rule(sub, where + (key, i), ql, top=False)
        if "Not" in rule:
            self.choice_rule(rule["Not"], where + ("Not",), ql, top=False)
        if "Assign" in rule:
            self.assign(rule["Assign"], where + ("Assign",), ql)
        for op in operators:
            value = rule[op]
            if op.startswith("Timestamp") and not op.endswith("Path") and isinstance(value, str):
                if not TIMESTAMP_RE.match(value):
                    self.schema("String does not match RFC3339 timestamp", where + (op,))

    def state_wait(self, state: dict, where: tuple, ql: str, depth: int) -> None:
        present = [f for f in WAIT_FIELDS if f in state]
        if len(present) > 1:
            self.schema("There should only be one of the following fields: "
                        "[SecondsPath, Seconds, TimestampPath, Timestamp]", where)
        elif not present:
            self.schema("One of the following fields is required: [SecondsPath, Seconds, TimestampPath, "
                        "Timestamp]", where)
        ts = state.get("Timestamp")
        if isinstance(ts, str) and not (ql == "JSONata" and ts.startswith("{%")):
            if not TIMESTAMP_RE.match(ts):
                self.schema("String does not match RFC3339 timestamp", where + ("Timestamp",))
        elif isinstance(ts, str) and ql == "JSONata" and ts.startswith("{%") and not ts.endswith("%}"):
            self.schema("String does not match RFC3339 timestamp", where + ("Timestamp",))
        self.range(state, "Seconds", where, 0, 99999999)

    def state_succeed(self, state: dict, where: tuple, ql: str, depth: int) -> None:
        pass

    def state_fail(self, state: dict, where: tuple, ql: str, depth: int) -> None:
        pass

    def state_parallel(self, state: dict, where: tuple, ql: str, depth: int) -> None:
        branches = state.get("Branches")
        if "Branches" not in state:
            self.schema("These fields are required: [Branches]", where)
        elif not isinstance(branches, list):
            self.schema("Expected value of type [ARRAY]", where + ("Branches",))
        elif not branches:
            self.schema("Value cannot be empty", where + ("Branches",))
        else:
            for i, branch in enumerate(branches):
                self.block(branch, where + ("Branches", i), self.machine_ql, depth + 1)

    def state_map(self, state: dict, where: tuple, ql: str, depth: int) -> None:
        key = "ItemProcessor" if "ItemProcessor" in state else "Iterator" if "Iterator" in state else None
        if key is None:
            self.schema("These fields are required: [ItemProcessor]", where)
            return
        processor = state[key]
        config = processor.get("ProcessorConfig") if isinstance(processor, dict) else None
        distributed = isinstance(config, dict) and config.get("Mode") == "DISTRIBUTED"
        enclosing = self.express_children
        if distributed and config.get("ExecutionType") == "EXPRESS" and enclosing is None:
            # its item processor runs as Express workflows: a Distributed Map in it is one in an Express workflow
            self.express_children = where + (key, "ProcessorConfig", "ExecutionType")
        try:
            self.block(processor, where + (key,), self.machine_ql, depth + 1, kind="processor")
        finally:
            self.express_children = enclosing
        if isinstance(config, dict):
            if distributed and "ExecutionType" not in config:
                self.schema("These fields are required: [ExecutionType]", where + (key, "ProcessorConfig"))
            # DG "choosing-workflow-type": Distributed Map is not supported by Express workflows,
            # and a Distributed Map's EXPRESS child workflows are Express workflow executions;
            # whether CreateStateMachine refuses either (and how it words that) is not known
            if distributed and self.machine_type == "EXPRESS":
                self.warn("DISTRIBUTED_MAP_IN_EXPRESS", "Express workflows do not support the Distributed Map "
                          "state (Mode DISTRIBUTED): use a STANDARD state machine",
                          where + (key, "ProcessorConfig", "Mode"))
            elif distributed and enclosing is not None:
                self.warn("DISTRIBUTED_MAP_IN_EXPRESS", "Express workflows do not support the Distributed Map "
                          "state (Mode DISTRIBUTED), and the child workflows of the Distributed Map at "
                          f"{pointer(enclosing[:-3])} are Express workflows (ExecutionType EXPRESS): "
                          "use ExecutionType STANDARD there", where + (key, "ProcessorConfig", "Mode"))
        label = state.get("Label")
        if isinstance(label, str):
            if len(label) > MAX_LABEL:
                self.error(codes.INVALID_LABEL_NAME, f"Invalid Label name: Label '{label}' exceeds the "
                           f"{MAX_LABEL}-character limit allowed by the service", where + ("Label",))
            elif not label or any(c in LABEL_FORBIDDEN or c.isspace() or ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F
                                  for c in label):
                self.error(codes.INVALID_LABEL_NAME, f"Invalid Label name: Label '{label}' is empty or contains "
                           "a character that is not allowed", where + ("Label",))
            elif label in self.labels:
                self.error(codes.DUPLICATE_LABEL_NAME, f"Duplicate Label name: {label}", where + ("Label",))
            self.labels.add(label)
        if not distributed:
            for field in ("ItemReader", "ItemBatcher", "ResultWriter", "ToleratedFailurePercentage",
                          "ToleratedFailureCount", "ToleratedFailurePercentagePath",
                          "ToleratedFailureCountPath", "Label"):
                if field in state:
                    self.warn("DISTRIBUTED_ONLY_FIELD",
                              f"Field '{field}' only takes effect in a Map whose ProcessorConfig Mode is "
                              "DISTRIBUTED", where + (field,))
        self.range(state, "MaxConcurrency", where, 0, None)
        self.range(state, "ToleratedFailurePercentage", where, 0.0, 100.0)
        self.range(state, "ToleratedFailureCount", where, 0, None)
        # checked in either mode: AWS accepts these fields on an inline Map (our warning above)
        if isinstance(state.get("ItemReader"), dict):
            self.item_reader(state["ItemReader"], where, ql)
        if isinstance(state.get("ItemBatcher"), dict):
            self.item_batcher(state["ItemBatcher"], where, ql)
        if isinstance(state.get("ResultWriter"), dict):
            self.result_writer(state["ResultWriter"], where, ql)

    # ---- Distributed Map: ItemReader, ItemBatcher, ResultWriter ---------------------------------
    # (the model reports their fields' types and compiles their templates; these are the rules
    # between fields, the ranges and enums, and ReaderConfig, which the model keeps as JSON)

    def item_reader(self, reader: dict, where: tuple, ql: str) -> None:
        here = where + ("ItemReader",)
        resource = reader.get("Resource")
        if isinstance(resource, str) and not READER_RESOURCE_RE.match(resource) and not _placeholder(resource):
            self.schema(NOT_AN_ALLOWED_VALUE.format("Resource"), here + ("Resource",))
        self.destination(reader, here, ql)
        config = reader.get("ReaderConfig")
        if isinstance(config, dict):
            here += ("ReaderConfig",)
            self.enum(config, "InputType", INPUT_TYPES, here)
            self.reader_combination(config, here)
            self.csv_delimiter(config, here)
            literal = config.get("MaxItems")
            if "MaxItems" in config and not (ql == "JSONata" and isinstance(literal, str) and literal.startswith("{%")):
                if isinstance(literal, bool) or not isinstance(literal, (int, float)) or literal != int(literal):
                    self.schema("Expected value of type [INTEGER]", here + ("MaxItems",))
            self.map_number(config, "MaxItems", here, where, ql, 0, MAX_ITEMS)
            path = config.get("MaxItemsPath")
            if isinstance(path, str) and ql == "JSONPath":
                from .errors import ExpressionSyntaxError
                from .paths import compile_number_path

                try:
                    compile_number_path(path)
                except ExpressionSyntaxError as exc:
                    self.schema(f"Value is not a Reference Path: {exc.message}", here + ("MaxItemsPath",))

    def reader_combination(self, config: dict, here: tuple) -> None:
        """ReaderConfig fields that only go with some InputType (DG "input-output-itemreader"),
        refused at creation: a third-party suite run against AWS (Validation.ItemReader) has each
        of these definitions fail ValidateStateMachineDefinition. Only what it shows is refused:
        an InputType left out counts as JSON (the default) and MANIFEST is left alone."""
        input_type = config.get("InputType", "JSON")
        if not isinstance(input_type, str) or input_type not in INPUT_TYPES:
            return  # reported by the enum check
        manifest = config.get("ManifestType")
        if manifest == "S3_INVENTORY" and "InputType" in config and input_type != "MANIFEST":
            self.schema("Field 'InputType' is not supported with the ManifestType S3_INVENTORY",
                        here + ("InputType",))
        elif manifest == "ATHENA_DATA" and input_type not in ("CSV", "JSONL", "PARQUET"):
            self.schema("The ManifestType ATHENA_DATA requires the InputType CSV, JSONL or PARQUET",
                        here + ("InputType",))
        if config.get("Transformation") == "LOAD_AND_FLATTEN" and "InputType" not in config:
            self.schema("These fields are required: [InputType]", here)
        pointer = config.get("ItemsPointer")
        if "ItemsPointer" in config and input_type != "JSON":
            self.schema("Field 'ItemsPointer' is not supported", here + ("ItemsPointer",))
        elif isinstance(pointer, str) and pointer and not pointer.startswith(("/", "{%")) and not _placeholder(pointer):
            self.schema("Value is not a JSON Pointer", here + ("ItemsPointer",))
        if input_type in ("JSON", "JSONL", "PARQUET"):
            for field in ("CSVHeaderLocation", "CSVHeaders"):
                if field in config:
                    self.schema(f"Field '{field}' is not supported", here + (field,))
        elif config.get("CSVHeaderLocation") == "GIVEN" and "CSVHeaders" not in config:
            self.schema("These fields are required: [CSVHeaders]", here)

    def csv_delimiter(self, config: dict, here: tuple) -> None:
        """CSVDelimiter: one of five names, for InputType CSV or MANIFEST (DG "input-output-itemreader").
        Whether AWS refuses another at creation is not known: WARNINGs (the run then fails the
        Map Run with States.ItemReaderFailed for an unknown name; another InputType ignores it)."""
        if "CSVDelimiter" not in config:
            return
        value = config["CSVDelimiter"]
        if not isinstance(value, str) or value not in CSV_DELIMITERS:
            self.warn("CSV_DELIMITER", f"CSVDelimiter should be one of the following: [{', '.join(CSV_DELIMITERS)}]",
                      here + ("CSVDelimiter",))
        elif config.get("InputType", "JSON") not in ("CSV", "MANIFEST"):
            self.warn("CSV_DELIMITER", "CSVDelimiter takes effect only when InputType is CSV or MANIFEST",
                      here + ("CSVDelimiter",))

    def item_batcher(self, batcher: dict, where: tuple, ql: str) -> None:
        here = where + ("ItemBatcher",)
        self.map_number(batcher, "MaxItemsPerBatch", here, where, ql, 0, None)
        self.map_number(batcher, "MaxInputBytesPerBatch", here, where, ql, 0, MAX_BATCH_BYTES)
        limits = ("MaxItemsPerBatch", "MaxItemsPerBatchPath", "MaxInputBytesPerBatch", "MaxInputBytesPerBatchPath")
        if not any(name in batcher for name in limits):  # (whether AWS refuses it is not known)
            self.warn("ITEM_BATCHER_WITHOUT_LIMIT",
                      "ItemBatcher sets no batch limit (neither MaxItemsPerBatch nor MaxInputBytesPerBatch, nor "
                      "their Path forms): here each batch holds as many items as fit in 256 KiB; whether Step "
                      "Functions accepts such a batcher is not known", here)

    def map_number(self, obj: dict, name: str, here: tuple, state: tuple, ql: str, low: int,
                   high: int | None) -> None:
        """A Map number given as a literal (`name`) or a Reference Path (`name` + ``Path``)."""
        path = name + "Path"
        if name in obj and path in obj:
            self.schema(f"There should only be one of the following fields: [{name}, {path}]", here + (name,))
        if path in obj and ql == "JSONata":  # (at the state, as for the state's own JSONPath fields)
            self.schema(f"The QueryLanguage is set to 'JSONata', but field '{path}' is only supported for the "
                        "'JSONPath' QueryLanguage", state)
        self.range(obj, name, here, low, high)

    def result_writer(self, writer: dict, where: tuple, ql: str) -> None:
        here = where + ("ResultWriter",)
        self.destination(writer, here, ql)
        has_resource = "Resource" in writer
        has_destination = "Parameters" in writer or "Arguments" in writer
        if has_resource != has_destination or not (has_resource or "WriterConfig" in writer):
            # DG: "The ResultWriter field cannot be empty": WriterConfig, Resource with its
            # Parameters (Arguments), or all three
            destination = "Arguments" if ql == "JSONata" else "Parameters"
            self.schema(f"The ResultWriter must have WriterConfig, or Resource with {destination}, or all three",
                        here)
        resource = writer.get("Resource")
        if has_resource and resource is None:
            self.schema("Expected value of type [STRING]", here + ("Resource",))
        elif isinstance(resource, str) and not WRITER_RESOURCE_RE.match(resource) and not _placeholder(resource):
            self.schema(NOT_AN_ALLOWED_VALUE.format("Resource"), here + ("Resource",))
        for field in ("Parameters", "Arguments"):
            target = writer.get(field)
            for key in ("Bucket", "Prefix"):
                if isinstance(target, dict) and key in target and not isinstance(target[key], str):
                    self.schema("Expected value of type [STRING]", here + (field, key))
        config = writer.get("WriterConfig")
        if isinstance(config, dict):
            # both, as in every DG example (floci: "writerConfigRequiresTransformationAndOutputTypeTogether",
            # reported at WriterConfig, as are values that are not strings)
            here += ("WriterConfig",)
            missing = [f for f in ("Transformation", "OutputType") if f not in config]
            if missing:
                self.schema(f"These fields are required: [{', '.join(missing)}]", here)
            self.enum(config, "Transformation", WRITER_TRANSFORMATIONS, here, typed_at_parent=True)
            self.enum(config, "OutputType", OUTPUT_TYPES, here, typed_at_parent=True)

    def destination(self, obj: dict, here: tuple, ql: str) -> None:
        """An ItemReader's or ResultWriter's Parameters (JSONPath) or Arguments (JSONata),
        reported at the field (unlike a state's own fields)."""
        other, own = ("Parameters", "JSONPath") if ql == "JSONata" else ("Arguments", "JSONata")
        if other in obj:
            self.schema(f"The QueryLanguage is set to '{ql}', but field '{other}' is only supported for the "
                        f"'{own}' QueryLanguage", here + (other,))

    def enum(self, obj: dict, field: str, values: tuple, here: tuple, typed_at_parent: bool = False) -> None:
        value = obj.get(field)
        if field not in obj:
            return
        if not isinstance(value, str):
            self.schema("Expected value of type [STRING]", here if typed_at_parent else here + (field,))
        elif value not in values:
            self.schema(f"Value should be one of the following: [{', '.join(values)}]", here + (field,))

    def recovery(self, entries: Any, field: str, where: tuple) -> None:
        if not isinstance(entries, list):
            self.schema("Expected value of type [ARRAY]", where)
            return
        last = len(entries) - 1
        for i, entry in enumerate(entries):
            here = where + (i,)
            if not isinstance(entry, dict):
                self.schema("Expected value of type [OBJECT]", here)
                continue
            errors = entry.get("ErrorEquals")
            if "ErrorEquals" not in entry:
                self.schema("The field 'ErrorEquals' is required but was missing", here)
            elif isinstance(errors, list):
                if not errors:
                    self.schema("Value cannot be empty", here + ("ErrorEquals",))
                elif "States.ALL" in errors and (len(errors) != 1 or i != last):
                    j = errors.index("States.ALL")
                    self.schema("States.ALL must appear alone and at end of list", here + ("ErrorEquals", j))
            if field == "Catch" and "Next" not in entry:
                self.schema("These fields are required: [Next]", here)
            if field == "Retry":
                self.range(entry, "BackoffRate", here, 1.0, None)
                self.range(entry, "IntervalSeconds", here, 1, 99999999)
                self.range(entry, "MaxAttempts", here, 0, 99999999)
                self.range(entry, "MaxDelaySeconds", here, 1, 31622400)

    def range(self, obj: dict, field: str, where: tuple, low: float | None, high: float | None) -> None:
        """AWS's range messages: ``Minimum value is 0`` / ``Maximum value is 99999999``."""
        value = obj.get(field)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return
        if low is not None and value < low:
            self.schema(f"Minimum value is {low}", where + (field,))
        elif high is not None and value > high:
            self.schema(f"Maximum value is {high}", where + (field,))

    def assign(self, assign: Any, where: tuple, ql: str) -> None:
        if isinstance(assign, str) and ql == "JSONata":
            return  # a whole-object JSONata expression is compiled by the model
        if not isinstance(assign, dict):
            self.schema("Expected value of type [OBJECT]", where)
            return
        for key in assign:
            name = key[:-2] if ql == "JSONPath" and key.endswith(".$") else key
            if not is_variable_name(name):
                self.schema(f"The variable name '{name}' is not valid: it must start with a letter or '_', "
                            f"contain only letters, digits and '_', and have at most {MAX_VARIABLE_NAME} "
                            "characters", where)
            elif name == "states":
                self.schema("The variable name 'states' is reserved", where)


def _placeholder(text: str) -> bool:
    """A ``${...}`` filled at deployment: not checked (UNRESOLVED_PLACEHOLDER says so)."""
    from .placeholders import has_placeholder

    return "${" in text and has_placeholder(text)


# --------------------------------------------------------------------------------------------
# 2. Graph
# --------------------------------------------------------------------------------------------

def _meant(target: Any, states: dict) -> str | None:
    """The "did you mean" of a transition to a state the block does not have."""
    found = closest(target, states) if isinstance(target, str) else None
    return f"did you mean '{found}'?" if found else None


def _targets(state: dict, where: tuple) -> Iterator[tuple[str, tuple]]:
    """Every transition a state makes: (target, location of the field), AWS's order."""
    if isinstance(state.get("Next"), str):
        yield state["Next"], where + ("Next",)
    if state.get("Type") == "Choice":
        choices = state.get("Choices")
        for i, rule in enumerate(choices if isinstance(choices, list) else []):
            if isinstance(rule, dict) and isinstance(rule.get("Next"), str):
                yield rule["Next"], where + ("Choices", i, "Next")
        if isinstance(state.get("Default"), str):
            yield state["Default"], where + ("Default",)
    catchers = state.get("Catch")
    for i, catcher in enumerate(catchers if isinstance(catchers, list) else []):
        if isinstance(catcher, dict) and isinstance(catcher.get("Next"), str):
            yield catcher["Next"], where + ("Catch", i, "Next")


def _is_terminal(state: dict) -> bool:
    return state.get("Type") in ("Succeed", "Fail") or state.get("End") is True


def check_graph(checker: Checker, block: dict, where: tuple, top: bool = True) -> None:
    """Targets exist in the same block; the machine has a terminal state; no state is orphaned.

    AWS's rules, as recorded: a missing target is reported with the word 'Next' whatever the
    field; ``MISSING_END_STATE`` applies to the top level only and hides the unreachable-state
    check; "not reachable" means *no transition names the state* (a state reachable only from
    an orphan is accepted). What AWS accepts but cannot run well becomes a WARNING of our own.
    """
    states = block.get("States") if isinstance(block, dict) else None
    start = block.get("StartAt") if isinstance(block, dict) else None
    if not isinstance(states, dict) or not isinstance(start, str):
        return  # the schema errors already say what is wrong with this block
    states = {k: v for k, v in states.items() if isinstance(v, dict)}
    targeted: set[str] = set()
    if start in states:
        targeted.add(start)
    else:
        checker.error(codes.MISSING_TRANSITION_TARGET, f"Missing 'Next' target: {start}", where + ("StartAt",),
                      _meant(start, states))
    for name, state in states.items():
        for target, at in _targets(state, where + ("States", name)):
            if target in states:
                targeted.add(target)
            else:
                checker.error(codes.MISSING_TRANSITION_TARGET, f"Missing 'Next' target: {target}", at,
                              _meant(target, states))
    has_end = any(_is_terminal(s) for s in states.values())
    if top and not has_end:
        checker.error(codes.MISSING_END_STATE, "Workflow has no terminal state", None)
    else:
        for name in states:
            if name not in targeted:
                checker.error(codes.MISSING_TRANSITION_TARGET, f'State "{name}" is not reachable.',
                              where + ("States", name))
        if start in states:
            reachable = {start}
            todo = [start]
            while todo:
                for target, _ in _targets(states[todo.pop()], ()):
                    if target in states and target not in reachable:
                        reachable.add(target)
                        todo.append(target)
            for name in states:
                if name in targeted and name not in reachable:
                    checker.warn("UNREACHABLE_STATE", f'State "{name}" can only be reached from states that are '
                                 "never reached", where + ("States", name))
        if not has_end:
            checker.warn("NO_TERMINAL_STATE", "This block has no terminal state: once entered it can never "
                         "finish", where)
    for name, state in states.items():
        here = where + ("States", name)
        if state.get("Type") == "Parallel" and isinstance(state.get("Branches"), list):
            for i, branch in enumerate(state["Branches"]):
                check_graph(checker, branch, here + ("Branches", i), top=False)
        elif state.get("Type") == "Map":
            key = "ItemProcessor" if "ItemProcessor" in state else "Iterator"
            check_graph(checker, state.get(key), here + (key,), top=False)


# --------------------------------------------------------------------------------------------
# Conversion of the model's errors
# --------------------------------------------------------------------------------------------

_HANDLED_BY_CHECKER = {"asl_state_type", "union_tag_not_found", "union_tag_invalid"}


def _loc_to_parts(loc: tuple) -> tuple:
    """Pydantic's error location -> definition location (drops the state-type union tags)."""
    parts: list = []
    i = 0
    while i < len(loc):
        part = loc[i]
        parts.append(part)
        if part in ("States",) and i + 2 < len(loc) and loc[i + 2] in STATE_TYPES:
            parts.append(loc[i + 1])
            i += 3
            continue
        i += 1
    return tuple(parts)


def model_diagnostics(error: Any, checker: Checker) -> list[Diagnostic]:
    """Turn a pydantic ValidationError raised while building the model into diagnostics.

    Structure problems the checker already reported (same message, same place) are not
    repeated; anything else the model found is reported, so a definition never fails to
    build without an ERROR saying why.
    """
    seen = {(d.message, d.location) for d in checker.diagnostics}
    missing: dict[str, list[str]] = {}
    out = []
    for err in error.errors(include_url=False):
        kind = err["type"]
        if kind in _HANDLED_BY_CHECKER:
            continue
        parts = _loc_to_parts(tuple(err["loc"]))
        ctx = err.get("ctx") or {}
        code = codes.INVALID_JSONATA_EXPRESSION if ctx.get("jsonata") else codes.SCHEMA_VALIDATION_FAILED
        if kind == "missing":
            missing.setdefault(pointer(parts[:-1]), []).append(str(parts[-1]))
            continue
        if kind == "extra_forbidden":
            message, where = f"Field '{parts[-1]}' is not supported", pointer(parts[:-1])
        elif kind == "literal_error":
            if parts and parts[-1] == "QueryLanguage":
                continue  # worded by the checker
            expected = re.findall(r"'([^']*)'", ctx.get("expected", ""))
            message, where = f"Value should be one of the following: [{', '.join(expected)}]", pointer(parts)
        elif kind == "asl_jsonata" and "/" in (ctx.get("field") or ""):
            # the expression sits inside the template: AWS points at its own key
            message, where = err["msg"], pointer(parts[:-1]) + "/" + ctx["field"]
        elif kind.startswith("asl_"):
            message, where = err["msg"], pointer(parts)
        else:
            message, where = _pydantic_message(err), pointer(parts)
        if (message, where) not in seen:
            seen.add((message, where))
            out.append(Diagnostic(ERROR, code, message, where))
    for where, fields in missing.items():
        message = f"These fields are required: [{', '.join(fields)}]"
        if (message, where) not in seen and not any(
                d.location == where and d.message.startswith("These fields are required") for d in checker.diagnostics):
            out.append(Diagnostic(ERROR, codes.SCHEMA_VALIDATION_FAILED, message, where))
    if not out and not any(d.is_error for d in checker.diagnostics):
        first = error.errors(include_url=False)[0]
        out.append(Diagnostic(ERROR, codes.SCHEMA_VALIDATION_FAILED, _pydantic_message(first),
                              pointer(_loc_to_parts(tuple(first["loc"])))))
    return out


def _pydantic_message(err: dict) -> str:
    kind = err["type"]
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return "Expected value of type [OBJECT]"
    if kind == "list_type":
        return "Expected value of type [ARRAY]"
    if kind in ("string_type",):
        return "Expected value of type [STRING]"
    return err["msg"]


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------

def check(definition: Any, machine_type: str = "STANDARD") -> tuple[list[Diagnostic], Any]:
    """Validate `definition` (a parsed JSON value). Returns (diagnostics, StateMachine or None)."""
    checker = Checker(machine_type)
    if not isinstance(definition, dict):
        checker.error(codes.SCHEMA_VALIDATION_FAILED, "Definition must be a valid JSON object", None)
        return checker.diagnostics, None
    ql = "JSONPath"
    if "QueryLanguage" in definition:
        own = definition["QueryLanguage"]
        ql = "JSONPath" if own == "JSONPath" else "JSONata"
        problem = query_language_error(own)
        if problem:  # reported before the states' diagnostics
            checker.schema(problem, ("QueryLanguage",))
    checker.machine_ql = ql
    checker.block(definition, (), ql, 0, kind="machine")
    checker.range(definition, "TimeoutSeconds", (), 1, 99999999)

    # Every stage runs, so one pass shows every problem: the model (types, expressions) even
    # when the structure has errors, the graph wherever a block is well-formed.
    machine = None
    if not any(d.code == codes.TOO_DEEPLY_NESTED for d in checker.diagnostics):
        from pydantic import ValidationError

        from .model import build
        try:
            machine = build(definition)
        except ValidationError as exc:
            checker.diagnostics.extend(model_diagnostics(exc, checker))
        except RecursionError:
            checker.error(codes.TOO_DEEPLY_NESTED, "The definition is nested too deeply", ())
    check_graph(checker, definition, ())
    if machine is not None and not any(d.is_error for d in checker.diagnostics):
        from .semantics import check_semantics

        check_semantics(checker, machine)
    if any(d.is_error for d in checker.diagnostics):
        machine = None
    return checker.diagnostics, machine


def query_language_error(value: Any) -> str | None:
    if not isinstance(value, str):
        return "Expected value of type [STRING]"
    if value not in ("JSONPath", "JSONata"):
        return "Value should be one of the following: [JSONPath, JSONata]"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _keys_deep(value: Any) -> Iterator[str]:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            yield from item.keys()
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
