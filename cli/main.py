"""The `asl` command: a thin layer over the library (parse arguments, call, print).

Heavy modules are imported inside the commands so that ``asl --help`` starts fast.
"""
from __future__ import annotations

import errno
import io
import os
import sys
from typing import Any

import click

from .. import __version__
from .substitutions import substitution_options

# Exit codes shared by every command.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INVALID = 0, 1, 2, 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as shells report Ctrl-C


class AslGroup(click.Group):
    """Every command: Ctrl-C (or a handler raising KeyboardInterrupt) is one line and exit 130,
    not click's "Aborted!" and exit 1, nor a traceback."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BaseException as exc:
            if not _interrupt(exc):
                raise
            name = ctx.invoked_subcommand
            click.echo(f"asl{' ' + name if name else ''}: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)


class AnyCase(click.Choice):
    """A choice of AWS's upper-case names (STANDARD, ERROR) typed in any case, whose error lists
    them as AWS writes them: click's case-insensitive Choice lists them lower-cased."""

    def __init__(self, choices: list[str]) -> None:
        super().__init__(choices, case_sensitive=False)

    def get_metavar(self, param: click.Parameter, ctx: click.Context) -> str:
        return f"[{'|'.join(self.choices)}]"

    def get_invalid_choice_message(self, value: object, ctx: click.Context | None) -> str:
        return f"{value!r} is not one of {', '.join(map(repr, self.choices))}."


def _interrupt(exc: BaseException) -> bool:
    if isinstance(exc, BaseExceptionGroup):  # noqa: F821 - builtin in 3.11
        return exc.subgroup(KeyboardInterrupt) is not None
    return isinstance(exc, KeyboardInterrupt)


@click.group(cls=AslGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="asl")
def cli() -> None:
    """Run, test and validate AWS Step Functions state machines locally."""
    _writable_streams()  # here too, so the command invoked in-process (click's CliRunner) is covered


@cli.command()
@click.argument("files", nargs=-1, required=True, metavar="FILE...")
@click.option("--type", "machine_type", type=AnyCase(["STANDARD", "EXPRESS"]),
              default=None, help="Workflow type, as ValidateStateMachineDefinition takes it "
              "(default: STANDARD, or a template's StateMachineType).")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True,
              help="text: like a compiler; json: AWS's response shape; sarif: SARIF 2.1.0 for code scanning.")
@click.option("--severity", type=AnyCase(["ERROR", "WARNING"]), default="WARNING",
              show_default=True, help="Lowest severity to report (ERROR hides warnings).")
@click.option("--max-results", type=click.IntRange(0, None), default=0,
              help="Report at most N diagnostics per machine (0: no limit; json caps at 100 like AWS).")
@substitution_options
def validate(files: tuple[str, ...], machine_type: str, fmt: str, severity: str, max_results: int,
             substitute: tuple[str, ...] = (), substitutions_file: str | None = None) -> None:
    """Check definitions (JSON, YAML, SAM/CloudFormation templates) for every error AWS would report.

    FILE may name one machine of a template as FILE#LogicalId, or be - for stdin. --format json
    prints one object (AWS's response shape, plus name and file) for one FILE holding one
    machine, else a list of them (several FILEs, or a template of several machines). Exit 0
    when no ERROR, 1 when any ERROR, 2 when a FILE cannot be read (the others are validated).
    """
    import os

    # This process only validates: pydantic's plugin discovery (a scan of every installed
    # package's entry points) is start-up time spent for nothing.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "1")
    from ..loading import validate_source
    from .report import render
    from .run import read_stdin
    from .substitutions import read_substitutions

    try:
        values = read_substitutions(substitute, substitutions_file)
    except ValueError as exc:
        click.echo(f"asl validate: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    results: list = []
    within: list[bool] = []  # per result: one of a template's several machines (its lines end "(in Id)")
    unreadable = False
    for name in files:
        if name == "-":  # the definition on stdin
            found = validate_source(read_stdin(), machine_type.upper() if machine_type else None,
                                    name="<stdin>", filename="<stdin>", substitutions=values)
            results.extend(found)
            within.extend([len(found) > 1] * len(found))
            continue
        path = name.rpartition("#")[0] if "#" in name and not os.path.exists(name) else name
        if not os.path.exists(path) or os.path.isdir(path):  # say so, and validate the others
            click.echo(f"asl validate: {path}: {'is a directory' if os.path.exists(path) else 'no such file'}",
                       err=True)
            unreadable = True
            continue
        found = validate_source(name, machine_type.upper() if machine_type else None, substitutions=values)
        results.extend(found)
        within.extend([len(found) > 1] * len(found))
    if results or not unreadable:
        click.echo(render(results, fmt, severity.upper(), max_results, several=len(files) > 1, within=within),
                   nl=False)
    sys.exit(EXIT_USAGE if unreadable else EXIT_OK if all(r.ok for r in results) else EXIT_FAILED)


def get_cli() -> click.Group:
    """The `asl` group with every command (the heavier ones live in their own modules)."""
    from .executions import executions, redrive, resume, worker
    from .graph import graph
    from .history import history
    from .run import run
    from .serve import console, serve
    from .testing import mocks, test, test_state

    cli.add_command(run)
    cli.add_command(test_state)
    cli.add_command(mocks)
    cli.add_command(test)
    cli.add_command(history)
    cli.add_command(graph)
    cli.add_command(executions)
    cli.add_command(resume)
    cli.add_command(redrive)
    cli.add_command(worker)
    cli.add_command(serve)
    cli.add_command(console)
    return cli


def main() -> None:
    _unbreakable_streams()
    _writable_streams()
    try:
        get_cli()(prog_name="asl")
    except SystemExit as exc:
        if exc.code != EXIT_INTERRUPTED:
            raise
        # Interrupted: leave now. Tearing the interpreter down takes a noticeable moment, in
        # which a second Ctrl-C would kill the process without its exit status.
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        import os
        os._exit(EXIT_INTERRUPTED)


def _writable_streams() -> None:
    """A character stdout/stderr cannot encode (PYTHONIOENCODING=latin-1, a Windows code page,
    a lone surrogate) is written as a JSON escape instead of crashing: JSON output stays valid."""
    from ..jsontext import ESCAPE

    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            try:
                reconfigure(errors=ESCAPE)
            except (ValueError, OSError):  # a stream that cannot change now: leave it
                pass


class _PipeEnd(io.RawIOBase):
    """The file descriptor under stdout or stderr. Once its reader has gone (``asl run ... |
    head``: a broken pipe), what is written to it goes nowhere, and /dev/null takes the
    descriptor's place (for what else writes there: handlers, child processes, the
    interpreter's last flush). The command goes on: an execution is not left half-way (RUNNING
    in its store) because nobody reads its trace any more, and it exits as the execution ended."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self.fd = fd
        self.gone = False

    def write(self, data: Any) -> int:
        if not self.gone:
            try:
                return os.write(self.fd, data)
            except OSError as exc:
                if exc.errno not in (errno.EPIPE, errno.EINVAL):  # (EINVAL: Windows' word for it)
                    raise
                self.gone = True
                null = os.open(os.devnull, os.O_WRONLY)
                os.dup2(null, self.fd)
                os.close(null)
        return len(data)

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return os.isatty(self.fd)


def _unbreakable_streams() -> None:
    """stdout and stderr written through `_PipeEnd`s: a reader that goes away early stops what
    the command prints, not what it does."""
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        try:
            fd = stream.fileno()
            stream.flush()
            encoding, errors, lines = stream.encoding, stream.errors, stream.line_buffering
        except (AttributeError, OSError, ValueError):  # none, or not a file (an embedding host's)
            continue
        setattr(sys, name, io.TextIOWrapper(io.BufferedWriter(_PipeEnd(fd)), encoding=encoding, errors=errors,
                                            line_buffering=lines or name == "stderr"))


if __name__ == "__main__":  # pragma: no cover
    main()
