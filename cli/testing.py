"""The testing commands: ``asl test-state``, ``asl mocks from-history``, ``asl test``.

Thin: parse the arguments, call `asl.engine.testing`, print. Every problem with what the user
gave (a missing file, bad JSON, an unknown state) is one line on stderr and exit 2.
"""
from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click

from ..jsontext import ESCAPE, dumps
from .main import EXIT_FAILED, EXIT_INVALID, EXIT_OK, EXIT_USAGE
from .run import (UsageError, aws_options, check_name, handler_output_to_stderr, load_definition, load_handlers,
                  machine_option, read_input, served_by)


def _fail(command: str, message: str) -> NoReturn:
    click.echo(f"asl {command}: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _stdin_once(command: str, definition: str, input_path: str | None) -> None:
    if definition == "-" and input_path == "-":
        _fail(command, "stdin can hold the definition or the input, not both")


def _machine(command: str, definition: str) -> tuple[Any, str]:
    """The compiled machine of DEFINITION (- for stdin) and its name; invalid: diagnostics on
    stderr, exit 3."""
    try:
        loaded = load_definition(definition)
    except UsageError as exc:
        _fail(command, str(exc))
    return loaded.machine, loaded.name


def _json_option(command: str, option: str, text: str | None) -> Any:
    from ..source import SourceError, parse_json

    if text is None:
        return None
    try:
        return parse_json(text, option)
    except SourceError as exc:
        _fail(command, str(exc))


def _read_json_file(command: str, path: str, what: str, missing_ok: bool = False) -> Any:
    from ..source import SourceError, read_json

    try:
        return read_json(path, what)
    except SourceError as exc:
        if missing_ok and exc.code == "FILE_NOT_FOUND":
            return None
        _fail(command, str(exc))


def _write_json(command: str, path: str, document: Any) -> None:
    try:
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)  # `tests/MockConfigFile.json` in a new project
        with open(path, "w", encoding="utf-8", errors=ESCAPE) as fh:
            fh.write(dumps(document, indent=2) + "\n")
    except OSError as exc:
        _fail(command, f"cannot write {path}: {exc}")


def _handlers(command: str, spec: str | None) -> Any:
    """The --handlers registry, else the one [tool.asl] handlers names, else None."""
    from .project import find_config

    try:
        search = None
        if not spec:
            config = find_config()
            if config is None or config.handlers is None:
                return None
            spec, search = config.handlers, str(config.root)
        return load_handlers(spec, search)[0]
    except UsageError as exc:
        _fail(command, str(exc))


def served_options(command: Any) -> Any:
    """asl run's --machine, --aws, --endpoint-url, --connections and --s3-folder (the ways the
    engine's causes name to serve a state no mock or handler serves), without [tool.asl]
    defaults (`_served`)."""
    return machine_option(aws_options(command, project=False), project=False)


def _served(**flags: Any) -> dict:
    """The `Workflow` options `served_options` give (from the flags alone: of [tool.asl], only
    handlers applies to asl test and test-state); a problem is a UsageError."""
    return served_by(None, **flags)


def _text(value: Any) -> str:
    return dumps(value)


# --------------------------------------------------------------------------------------------
# asl test-state
# --------------------------------------------------------------------------------------------

@click.command("test-state")
@click.argument("definition")
@click.argument("state")
@click.option("--input", "input_path", metavar="FILE|-", help="The state's input: a JSON file, or - for stdin.")
@click.option("--input-json", metavar="JSON", help="The state's input given inline.")
@click.option("--variables", metavar="JSON", help="The variables the state sees, as a JSON object.")
@click.option("--mock-result", metavar="JSON", help="What the service call returns, as TestState's mock.result: the "
              "API's whole response (for lambda:invoke, Payload inside it); for a Map or Parallel, its result.")
@click.option("--mock-error", metavar="ERROR", help="The error the Task fails with (instead of a handler).")
@click.option("--mock-cause", metavar="CAUSE", help="The cause that goes with --mock-error.")
@click.option("--handlers", "handlers_spec", metavar="FILE.py|MODULE",
              help="Python task handlers (default: [tool.asl] handlers).")
@click.option("--field-validation-mode", type=click.Choice(["STRICT", "PRESENT", "NONE"]), default="STRICT",
              show_default=True, help="How --mock-result is checked against the API's output shape.")
@click.option("--inspection-level", type=click.Choice(["INFO", "DEBUG", "TRACE"]), default="DEBUG", show_default=True)
@click.option("--retry-count", type=click.IntRange(0, None), default=0, show_default=True,
              help="Retries already made (a Retry clause past MaxAttempts lets Catch take the error).")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@served_options
def test_state(definition: str, state: str, input_path: str | None, input_json: str | None, variables: str | None,
               mock_result: str | None, mock_error: str | None, mock_cause: str | None, handlers_spec: str | None,
               field_validation_mode: str, inspection_level: str, retry_count: int, output_format: str,
               **service_flags: Any) -> None:
    """Run STATE of DEFINITION on its own, like AWS's TestState API.

    Prints the status (SUCCEEDED, FAILED, RETRIABLE, CAUGHT_ERROR), the next state, the
    output and the inspection data (input, afterInputPath, afterParameters, result,
    afterResultSelector, afterResultPath, variables). Exit 0 SUCCEEDED, 1 any other status,
    2 usage error, 3 invalid definition. A Task without a mock or handler calls the services
    --aws, --endpoint-url and --connections reach, as TestState does. Of [tool.asl], only
    handlers applies here.
    """
    from ..engine import InvalidExecutionInput, MissingHandlerError, MockConfigError, TestStateError, TestStateMock
    from ..engine.testing import MockError, Workflow, WorkflowTestError

    command = "test-state"
    if mock_result is not None and mock_error is not None:
        _fail(command, "give --mock-result or --mock-error, not both")
    if mock_cause is not None and mock_error is None:
        _fail(command, "--mock-cause goes with --mock-error")
    _stdin_once(command, definition, input_path)
    try:
        state_input = read_input(input_path, input_json)
        served = _served(**service_flags)
    except UsageError as exc:
        _fail(command, str(exc))
    seen = _json_option(command, "--variables", variables)
    if seen is not None and not isinstance(seen, dict):
        _fail(command, "--variables must be a JSON object")
    mock = None
    if mock_error is not None:
        mock = TestStateMock(error=mock_error, cause=mock_cause)
    elif mock_result is not None:
        _json_option(command, "--mock-result", mock_result)  # bad JSON: one line, exit 2
        mock = TestStateMock(result=mock_result, field_validation_mode=field_validation_mode)
    machine, _ = _machine(command, definition)
    try:
        with handler_output_to_stderr():
            result = Workflow(machine, name=definition, handlers=_handlers(command, handlers_spec),
                              **served).test_state(
                state, state_input, variables=seen, mock=mock, retry_count=retry_count,
                inspection_level=inspection_level)
    except (WorkflowTestError, MockError, MissingHandlerError, MockConfigError, TestStateError,
            InvalidExecutionInput) as exc:
        _fail(command, str(exc))
    report = result.to_json()
    if output_format == "json":
        click.echo(dumps(report))
    else:
        click.echo(f"status: {result.status}")
        for key in ("nextState", "error", "cause"):
            if report.get(key) is not None:
                click.echo(f"{key}: {report[key]}")
        if "output" in report:
            click.echo(f"output: {_text(report['output'])}")
        if report.get("inspectionData"):
            click.echo("inspectionData:")
            for key, value in report["inspectionData"].items():
                click.echo(f"  {key}: {_text(value)}")
    sys.exit(EXIT_OK if result.status == "SUCCEEDED" else EXIT_FAILED)


# --------------------------------------------------------------------------------------------
# asl mocks from-history
# --------------------------------------------------------------------------------------------

@click.group()
def mocks() -> None:
    """Make Step Functions Local MockConfigFiles."""


@mocks.command("from-history")
@click.argument("history")
@click.option("--name", "machine_name", required=True, metavar="NAME",
              help="The state machine's name in the MockConfigFile (`asl test` and `asl run` default to the "
                   "definition file's stem).")
@click.option("--test-case", metavar="NAME", help="The test case's name (default: the history file's stem).")
@click.option("--mock-config", "mock_config_path", metavar="FILE",
              help="Add the test case to this MockConfigFile (created if missing) instead of printing one.")
@click.option("--cases", "cases_path", metavar="FILE",
              help="Add the execution's input and result to this cases file, for `asl test --cases`.")
@click.option("--force", is_flag=True, help="Replace a test case of the same name.")
def from_history(history: str, machine_name: str, test_case: str | None, mock_config_path: str | None,
                 cases_path: str | None, force: bool) -> None:
    """Turn an execution HISTORY (GetExecutionHistory JSON, from AWS or `asl run --history`) into a
    MockConfigFile test case that answers every Task as it answered then, so the execution
    can be replayed as a test (with its input and result in a cases file)."""
    from ..engine.testing.replay import HistoryError, add_test_case, read_history, replay_history

    command = "mocks from-history"
    case = test_case or os.path.splitext(os.path.basename(history))[0]
    try:
        check_name("--name", machine_name)
        replay = replay_history(read_history(history))
    except (HistoryError, UsageError) as exc:
        _fail(command, str(exc))
    for state in sorted(replay.concurrent):
        click.echo(f"asl {command}: warning: '{state}' ran several times inside a Map or Parallel; a MockConfigFile "
                   "answers its calls in call order, which concurrent iterations need not repeat", err=True)
    # Read and check every file before writing any, so a mistake leaves nothing half-done.
    existing = cases = None
    if mock_config_path:
        existing = _read_json_file(command, mock_config_path, "MockConfigFile", missing_ok=True) or {}
        if not isinstance(existing, dict):
            _fail(command, f"{mock_config_path}: not a MockConfigFile (a JSON object)")
        known = ((existing.get("StateMachines") or {}).get(machine_name) or {}).get("TestCases") or {}
        if case in known and not force:
            _fail(command, f"{mock_config_path}: '{machine_name}' already has a test case '{case}' "
                           "(--test-case NAME for another name, --force to replace it)")
    if cases_path:
        cases = _read_json_file(command, cases_path, "cases file", missing_ok=True) or {}
        if not isinstance(cases, dict):
            _fail(command, f"{cases_path}: not a cases file (a JSON object)")
        if case in cases and not force:
            _fail(command, f"{cases_path}: already has a case '{case}' (--force to replace it)")
    if mock_config_path:
        _write_json(command, mock_config_path, add_test_case(existing, machine_name, case, replay))
        click.echo(f"test case '{case}' of '{machine_name}' written to {mock_config_path} "
                   f"({len(replay.responses)} mocked states)", err=True)
    else:
        click.echo(dumps(add_test_case({}, machine_name, case, replay), indent=2))
    if cases_path:
        cases[case] = replay.case()
        _write_json(command, cases_path, cases)
        click.echo(f"input and expected result of '{case}' written to {cases_path}", err=True)


# --------------------------------------------------------------------------------------------
# asl test
# --------------------------------------------------------------------------------------------

@click.command("test")
@click.argument("mock_config_path", metavar="MOCKCONFIG")
@click.argument("definition")
@click.option("--name", "machine_name", metavar="NAME",
              help="The state machine's name in MOCKCONFIG (default: the definition's stem, or the only one).")
@click.option("--cases", "cases_path", metavar="FILE", help="Inputs and expected results per test case.")
@click.option("--test-case", "only", multiple=True, metavar="NAME", help="Run only this test case (repeatable).")
@click.option("--input", "input_path", metavar="FILE|-", help="Input for test cases the cases file gives none.")
@click.option("--input-json", metavar="JSON", help="That input given inline.")
@click.option("--handlers", "handlers_spec", metavar="FILE.py|MODULE", help="Handlers for Tasks a test case "
              "does not mock (default: [tool.asl] handlers).")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@served_options
def test(mock_config_path: str, definition: str, machine_name: str | None, cases_path: str | None,
         only: tuple[str, ...], input_path: str | None, input_json: str | None, handlers_spec: str | None,
         output_format: str, **service_flags: Any) -> None:
    """Run every test case of MOCKCONFIG for DEFINITION and report each result.

    A Task a test case does not mock is served by --handlers, else by the services --aws,
    --endpoint-url and --connections reach (as Step Functions Local calls them); --machine and
    --s3-folder as for asl run. Of [tool.asl], only handlers applies here.

    With --cases, each test case's input and expected status, output, error, cause and path
    are checked. Exit 0 when every expectation holds, 1 when one does not or a case cannot
    run, 2 usage error, 3 invalid definition.
    """
    from ..engine import MockConfig, MockConfigError
    from ..engine.testing import Workflow
    from ..engine.testing.suite import check_case_names, check_cases, run_cases

    command = "test"
    _stdin_once(command, definition, input_path)
    try:
        default_input = read_input(input_path, input_json) if (input_path or input_json) else None
        config = MockConfig.from_file(mock_config_path)
        cases = _read_json_file(command, cases_path, "cases file") if cases_path else None
        if cases is not None:
            check_cases(cases)
        served = _served(**service_flags)
    except (UsageError, MockConfigError) as exc:
        _fail(command, str(exc))
    machine, stem = _machine(command, definition)
    machines = list(config.state_machines)
    if machine_name is None:
        machine_name = stem if stem in machines or len(machines) != 1 else machines[0]
    if machine_name not in machines:
        _fail(command, f"{mock_config_path} has no state machine '{machine_name}' (it has: "
                       f"{', '.join(machines) or 'none'}); name one with --name")
    try:
        known = check_case_names(config, machine_name, cases, only)
    except MockConfigError as exc:  # before the warning below, which is about cases that run
        _fail(command, str(exc))
    if default_input is None:
        _warn_inputless(known, cases, only)
    workflow = Workflow(machine, name=definition, state_machine_name=machine_name, **served)
    try:
        with handler_output_to_stderr():
            outcomes = run_cases(workflow, config, machine_name, cases, default_input, list(only) or None,
                                 _handlers(command, handlers_spec))
    except MockConfigError as exc:
        _fail(command, str(exc))
    passed = sum(1 for o in outcomes if o.passed and o.checked)
    failed = sum(1 for o in outcomes if not o.passed)
    if output_format == "json":
        click.echo(dumps({"stateMachine": machine_name, "passed": passed, "failed": failed,
                          "unchecked": len(outcomes) - passed - failed,
                          "cases": [_case_json(o) for o in outcomes]}))
    else:
        width = max((len(o.name) for o in outcomes), default=0)
        for outcome in outcomes:
            label = "FAIL" if not outcome.passed else "PASS" if outcome.checked else "RAN "
            status = outcome.run.outcome() if outcome.run is not None else "could not run"
            click.echo(f"{label}  {outcome.name.ljust(width)}  {status}")
            for problem in outcome.problems:
                click.echo("\n".join("      " + line for line in problem.splitlines()))
        click.echo(f"{len(outcomes)} test case(s) of {machine_name}: {passed} passed, {failed} failed, "
                   f"{len(outcomes) - passed - failed} without expectations")
    sys.exit(EXIT_FAILED if failed else EXIT_OK)


def _warn_inputless(known: list[str], cases: dict | None, only: tuple[str, ...]) -> None:
    """One warning on stderr when test cases to run (`only`, else every one `known`) have no input
    (neither --input nor the cases file gives one): each runs with ``{}``, and a machine that reads
    its input fails."""
    inputless = [name for name in (only or known) if "input" not in (cases or {}).get(name, {})]
    if not inputless:
        return
    if cases is None:
        message = "no --cases or --input given: each test case runs with input {}"
    else:
        names = ", ".join(f"'{name}'" for name in inputless)
        message = f"the cases file gives no input for {names} and no --input is given: " + \
            ("it runs" if len(inputless) == 1 else "they run") + " with input {}"
    click.echo(f"asl test: warning: {message}", err=True)


def _case_json(outcome: Any) -> dict:
    out: dict[str, Any] = {"name": outcome.name, "passed": outcome.passed, "checked": outcome.checked}
    if outcome.run is not None:
        out.update(outcome.run.result.to_json())
        out.pop("executionArn", None)
    out["problems"] = outcome.problems
    return out
