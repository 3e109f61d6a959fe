"""`asl run`: execute a definition locally and print the result."""
from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from typing import Any

import click

from .main import EXIT_FAILED, EXIT_INVALID, EXIT_OK, EXIT_USAGE


class UsageError(Exception):
    """A problem with what the user typed or pointed at: one line on stderr, exit 2."""


def read_input(path: str | None, inline: str | None) -> Any:
    if inline is not None:
        try:
            return json.loads(inline)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--input-json: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if path is None:
        return {}
    if path == "-":
        text, where = sys.stdin.read(), "<stdin>"
    else:
        try:
            with open(path, encoding="utf-8") as fh:
                text, where = fh.read(), path
        except FileNotFoundError:
            raise UsageError(f"{path}: no such input file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"{path}: cannot read input: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}:{exc.lineno}:{exc.colno}: invalid JSON input: {exc.msg}") from None


def load_handlers(spec: str) -> Any:
    """A Handlers registry from a Python file or module: its `handlers` (or `HANDLERS`) attribute."""
    from ..engine import Handlers

    try:
        if spec.endswith(".py") or os.path.sep in spec:
            if not os.path.exists(spec):
                raise UsageError(f"{spec}: no such handlers file")
            name = "asl_handlers_" + os.path.splitext(os.path.basename(spec))[0]
            module_spec = importlib.util.spec_from_file_location(name, spec)
            module = importlib.util.module_from_spec(module_spec)
            sys.modules[name] = module
            directory = os.path.dirname(os.path.abspath(spec))
            sys.path.insert(0, directory)
            try:
                module_spec.loader.exec_module(module)
            finally:
                sys.path.remove(directory)
        else:
            module = importlib.import_module(spec)
    except UsageError:
        raise
    except BaseException as exc:  # the user's module failed to import: say which and why
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise UsageError(f"{spec}: cannot import handlers: {type(exc).__name__}: {exc}") from None
    found = getattr(module, "handlers", None) or getattr(module, "HANDLERS", None)
    if isinstance(found, dict):
        found = Handlers(found)
    if not isinstance(found, Handlers):
        raise UsageError(f"{spec}: define `handlers = asl.engine.Handlers()` (or a dict HANDLERS) in it")
    return found


@click.command()
@click.argument("definition")
@click.option("--input", "input_path", metavar="FILE|-", help="Execution input: a JSON file, or - for stdin.")
@click.option("--input-json", metavar="JSON", help="Execution input given inline.")
@click.option("--handlers", "handlers_spec", metavar="FILE.py|MODULE", help="Python task handlers.")
@click.option("--mock-config", metavar="FILE", help="A Step Functions Local MockConfigFile.")
@click.option("--test-case", metavar="NAME", help="The MockConfigFile test case to use.")
@click.option("--name", "sm_name", metavar="NAME", help="State machine name (default: the file's stem).")
@click.option("--type", "machine_type", type=click.Choice(["STANDARD", "EXPRESS"], case_sensitive=False),
              default="STANDARD", show_default=True)
@click.option("--virtual-time", is_flag=True, help="Waits and retry delays take no real time.")
@click.option("--history", "history_path", metavar="FILE", help="Write AWS's GetExecutionHistory JSON here.")
@click.option("--output-format", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--seed", type=int, help="Seed for retry jitter and generated ids.")
def run(definition: str, input_path: str | None, input_json: str | None, handlers_spec: str | None,
        mock_config: str | None, test_case: str | None, sm_name: str | None, machine_type: str,
        virtual_time: bool, history_path: str | None, output_format: str, seed: int | None) -> None:
    """Run DEFINITION locally. Exit 0 SUCCEEDED, 1 FAILED/TIMED_OUT/ABORTED, 2 usage, 3 invalid definition."""
    from ..engine import MissingHandlerError, MockConfigError, run_sync
    from ..loading import validate_source
    from .report import render

    if not os.path.exists(definition.rpartition("#")[0] if "#" in definition and not os.path.exists(definition)
                          else definition):
        _usage(f"{definition}: no such file")
    try:
        execution_input = read_input(input_path, input_json)
        handlers = load_handlers(handlers_spec) if handlers_spec else None
    except UsageError as exc:
        _usage(str(exc))
    results = validate_source(definition, machine_type.upper())
    if len(results) != 1:
        _usage(f"{definition}: holds {len(results)} state machines; pick one with {definition}#LogicalId")
    result = results[0]
    if not result.ok:
        click.echo(render(results, "text", "ERROR"), err=True, nl=False)
        sys.exit(EXIT_INVALID)
    machine = result.machine
    name = sm_name or result.name
    try:
        outcome = run_sync(machine, execution_input, handlers=handlers, mock_config=mock_config,
                           test_case=test_case, state_machine_name=name, type=machine_type.upper(),
                           virtual_time=virtual_time, seed=seed)
    except (MissingHandlerError, MockConfigError) as exc:
        _usage(str(exc))
    if history_path:
        try:
            with open(history_path, "w", encoding="utf-8") as fh:
                json.dump(outcome.history.to_aws(), fh, indent=2)
                fh.write("\n")
        except OSError as exc:
            click.echo(f"asl run: cannot write history to {history_path}: {exc}", err=True)
    if output_format == "json":
        click.echo(json.dumps(outcome.to_json(), ensure_ascii=False))
    else:
        if outcome.succeeded:
            click.echo(json.dumps(outcome.output, indent=2, ensure_ascii=False))
        click.echo(f"{outcome.status}: {name} ({outcome.transitions} state transitions)"
                   + ("" if outcome.succeeded else f"\n  error: {outcome.error}\n  cause: {outcome.cause}"),
                   err=True)
    sys.exit(EXIT_OK if outcome.succeeded else EXIT_FAILED)


def _usage(message: str) -> None:
    click.echo(f"asl run: {message}", err=True)
    sys.exit(EXIT_USAGE)
