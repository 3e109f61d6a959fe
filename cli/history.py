"""`asl history FILE`: a saved execution history, readable; and the failure report that
``asl run`` prints too (the error, the cause, the state, and the path that led there)."""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from .main import EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:  # the command imports its helpers when it runs: `asl --help` stays fast
    from .style import Style

PAYLOAD_WIDTH = 80  # input/output shown on an event's line are cut to this (--verbose: whole)
_PAYLOADS = ("input", "output", "parameters")


# --------------------------------------------------------------------------------------------
# The failure report
# --------------------------------------------------------------------------------------------

def branch_numbers(machine: Any) -> dict[str, int]:
    """State name -> the number (from 1) of the Parallel branch it is in, for paths."""
    numbers: dict[str, int] = {}
    if machine is None:
        return numbers
    for parts, name, _ in machine.iter_states():
        indexes = [parts[i + 1] for i, part in enumerate(parts[:-1]) if part == "Branches"]
        if indexes:
            numbers[name] = indexes[-1] + 1
    return numbers


def path_text(steps: list, style: Style, branches: dict[str, int] | None = None) -> str:
    """``A → B → Par › [branch 2] C → D``: the states on the way to a failure. A block of states
    repeated back to back (a loop) is written once: ``A → (B → C) ×12,000 → D``."""
    from .style import where_tag

    runs = {start: (period, count) for start, period, count in _repeats(steps)}
    out = ""
    depth = 0
    i = 0
    while i < len(steps):
        step = steps[i]
        if out and step.depth > depth:
            tag = f"{where_tag('Map', step.item)} " if step.item is not None else (
                f"{where_tag('Parallel', branches[step.name] - 1)} " if branches and step.name in branches else "")
            out += f" {style['into']} {style.dim(tag)}"
        elif out:
            out += f" {style['arrow']} "
        depth = step.depth
        if i in runs:
            period, count = runs[i]
            block = f" {style['arrow']} ".join(s.name for s in steps[i:i + period])
            out += (block if period == 1 else f"({block})") + f" {style['times']}{count:,}"
            i += period * count
            continue
        out += style.name(step.name) if i == len(steps) - 1 else step.name
        i += 1
    return out


_MAX_PERIOD = 16  # the longest loop body folded, in states


def _repeats(steps: list) -> list[tuple[int, int, int]]:
    """(start, period, count): blocks of `period` steps repeated `count` (>= 2) times back to
    back, left to right, each the one covering most steps at its start. The blocks keep to one
    depth outside Map items (so they read as `A → B`)."""
    keys = [(s.name, s.depth, s.item) for s in steps]
    last = len(keys)  # the end, exclusive
    found = []
    i = 0
    while i < last:
        best = None
        if keys[i][2] is None:
            for period in range(1, _MAX_PERIOD + 1):
                if i + 2 * period > last:
                    break
                block = keys[i:i + period]
                if keys[i + period] != keys[i] or keys[i + period:i + 2 * period] != block:
                    continue
                if any(k[1] != keys[i][1] or k[2] is not None for k in block):
                    continue
                count = 2
                while i + (count + 1) * period <= last and keys[i + count * period:i + (count + 1) * period] == block:
                    count += 1
                if best is None or period * count > best[0] * best[1]:
                    best = (period, count)
        if best is None:
            i += 1
        else:
            found.append((i, *best))
            i += best[0] * best[1]
    return found


def failure_lines(failure: Any, style: Style, machine: Any = None) -> list[str]:
    """The indented lines under a FAILED / TIMED_OUT / ABORTED status line."""
    lines = [f"  {style.dim('error')}  {style.bad(failure.error or '(none)')}"]
    if failure.cause:
        lines.append(f"  {style.dim('cause')}  {failure.cause}")
    if failure.state:
        lines.append(f"  {style.dim('state')}  {style.name(failure.state)} ({failure.type})")
    if len(failure.path) > 1:
        lines.append(f"  {style.dim('path ')}  {path_text(failure.path, style, branch_numbers(machine))}")
    return lines


# --------------------------------------------------------------------------------------------
# The timeline
# --------------------------------------------------------------------------------------------

def event_detail(event: Any, style: Style, verbose: bool) -> str:
    from .style import error_text

    d = event.details
    if "error" in d or "cause" in d:
        return style.bad(error_text(d.get("error"), d.get("cause")) if verbose else
                         _cut(error_text(d.get("error"), d.get("cause")), PAYLOAD_WIDTH))
    if event.type.startswith("MapIteration") and "index" in d:
        return f"item {d['index']}"
    if event.type == "MapStateStarted" and "length" in d:
        return f"{d['length']} items"
    if "resource" in d and "resourceType" in d:
        return style.dim(f"{d['resourceType']}:{d['resource']}")
    if "resource" in d:
        return style.dim(str(d["resource"]))
    if not verbose and event.type in ("ExecutionStarted", "ExecutionSucceeded"):
        key = "input" if event.type == "ExecutionStarted" else "output"
        if key in d:
            return style.dim(f"{key} {_cut(_one_line(str(d[key])), PAYLOAD_WIDTH)}")
    return ""


def timeline_lines(timeline: Any, style: Style, verbose: bool) -> list[str]:
    lines = []
    width = max(len(e.type) + 2 * e.depth for e in timeline.events)
    id_width = len(str(timeline.events[-1].id))
    name_width = max(len(e.state or "") for e in timeline.events)
    for event in timeline.events:
        at = f"+{event.time - timeline.start:.3f}s"
        kind = "  " * event.depth + event.type
        if event.is_failure or event.type == "FailStateEntered":
            painted = style.bad(kind.ljust(width))
        elif event.type == "ExecutionSucceeded":
            painted = style.ok(kind.ljust(width))
        else:
            painted = kind.ljust(width)
        name = (event.state or "").ljust(name_width)
        name = style.name(name) if event.type.endswith("StateEntered") else name
        detail = event_detail(event, style, verbose)
        text = f"{style.dim(at.rjust(10))}  {str(event.id).rjust(id_width)}  {painted}  {name}"
        lines.append((text + ("  " + detail if detail else "")).rstrip())
        if verbose:
            pad = " " * (10 + 2 + id_width + 2) + "  " * event.depth + "  "
            for key in _PAYLOADS:
                if key in event.details:
                    lines.append(f"{pad}{style.dim(key)} {event.details[key]}")
    return lines


def header(timeline: Any, style: Style, where: str) -> str:
    from .style import duration

    took = duration(max(0.0, timeline.stop - timeline.start))
    started = timeline.events[0]
    from datetime import datetime, timezone

    when = datetime.fromtimestamp(started.time, tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    dot = style["dot"]
    return f"{where}: {style.status(timeline.status)} {dot} {len(timeline.events)} events {dot} {took} " \
           f"{dot} started {when}"


@click.command()
@click.argument("file", metavar="FILE|-")
@click.option("--verbose", "-v", is_flag=True, help="Show every event's input, output and parameters whole.")
@click.option("--color", "colour", type=click.Choice(["auto", "always", "never"]), default="auto",
              show_default=True, help="Colour (auto: only on a terminal).")
def history(file: str, verbose: bool, colour: str) -> None:
    """Print a saved execution history readably: `asl run --history FILE`, or the JSON of
    `aws stepfunctions get-execution-history` (- reads it from stdin).

    Events are indented inside Parallel branches and Map iterations; a failed execution ends
    with its error, cause, the state it failed in and the path that led there.
    """
    from ..histories import HistoryError, parse_history, read_history
    from .style import Style, compact, use_colour

    try:
        if file == "-":
            from ..source import SourceError, parse_json
            from .run import read_stdin

            try:
                document = parse_json(read_stdin(), "<stdin>")
            except SourceError as exc:
                raise HistoryError(str(exc)) from None
            timeline = parse_history(document, "<stdin>")
        else:
            timeline = read_history(file)
        stdout = sys.stdout
        style = Style(use_colour(stdout, colour), stdout)
        lines = [header(timeline, style, "<stdin>" if file == "-" else file)]
        lines += timeline_lines(timeline, style, verbose)
    except HistoryError as exc:
        click.echo(f"asl history: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    except (TypeError, ValueError, KeyError, OverflowError, RecursionError) as exc:
        # a JSON document whose events do not have the shapes of a history
        where = "<stdin>" if file == "-" else file
        click.echo(f"asl history: {where}: not an execution history ({type(exc).__name__}: {exc})", err=True)
        sys.exit(EXIT_USAGE)
    if timeline.failure is not None:
        lines.append(f"{style.status(timeline.status)}")
        lines += failure_lines(timeline.failure, style)
    elif timeline.status == "SUCCEEDED" and not verbose:
        lines.append(f"{style.status(timeline.status)}  {style.dim('output')} {compact(timeline.output)}")
    elif timeline.status == "RUNNING":
        lines.append(f"{style.status(timeline.status)}  {style.dim('the history ends before the execution did')}")
    click.echo("\n".join(lines))
    sys.exit(EXIT_OK)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _one_line(text: str) -> str:
    """A payload for an event's line: the input as its caller spelled it may span lines (an
    --input file, a StartExecution body), shown here as compact JSON."""
    if not any(char in text for char in "\r\n\t"):
        return text
    import json

    from ..jsontext import compact
    try:
        return compact(json.loads(text))
    except ValueError:
        return " ".join(text.split())
