"""`asl graph DEFINITION`: the state machine as Mermaid, Graphviz DOT or SVG, optionally
coloured by the path an execution took (a history file)."""
from __future__ import annotations

import sys

import click

from .main import EXIT_OK, EXIT_USAGE
from .substitutions import substitution_options

NO_GRAPHVIZ = ("--format svg needs Graphviz's `dot` program, which is not on PATH: install Graphviz "
               "(apt install graphviz, brew install graphviz, https://graphviz.org/download/), "
               "or use --format mermaid (renders on GitHub) or --format dot")


@click.command()
@click.argument("definition")
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "svg"]), default="mermaid",
              show_default=True, help="mermaid: renders in GitHub Markdown; dot: Graphviz; svg: drawn by Graphviz.")
@click.option("--history", "history_path", metavar="FILE",
              help="Colour the path an execution took (asl run --history, or get-execution-history JSON).")
@click.option("--output", "-o", "output_path", metavar="FILE", help="Write the graph here instead of stdout.")
@substitution_options
def graph(definition: str, fmt: str, history_path: str | None, output_path: str | None,
          substitute: tuple[str, ...] = (), substitutions_file: str | None = None) -> None:
    """Draw DEFINITION: Parallel branches and Map processors as clusters, Choice rules on the
    edges, Retry and Catch edges apart. With --history, states are coloured by what happened
    to them (succeeded, caught, failed, not visited) and the edges taken are drawn thicker.

    Exit 0, 2 for usage errors (a missing file, no Graphviz for svg), 3 for an invalid definition.
    """
    import shutil

    from ..graph import GraphvizError, build_graph
    from ..histories import HistoryError, read_history
    from ..jsontext import ESCAPE
    from .run import UsageError, load_definition, substitutions

    if fmt == "svg" and shutil.which("dot") is None:
        _usage(NO_GRAPHVIZ)
    try:
        loaded = load_definition(definition, substitutions=substitutions(substitute, substitutions_file))
        timeline = read_history(history_path) if history_path else None
    except (UsageError, HistoryError) as exc:
        _usage(str(exc))
    if timeline is not None:
        _check_history(timeline, loaded.machine, history_path, definition)
    drawn = build_graph(loaded.machine, timeline, loaded.name)
    try:
        text = drawn.to_mermaid() if fmt == "mermaid" else drawn.to_dot() if fmt == "dot" else drawn.to_svg()
    except GraphvizError as exc:
        _usage(str(exc))
    if output_path:
        try:
            with open(output_path, "w", encoding="utf-8", errors=ESCAPE) as fh:
                fh.write(text)
        except OSError as exc:
            _usage(f"cannot write {output_path}: {exc.strerror or exc}")
    else:
        click.echo(text, nl=False)
    sys.exit(EXIT_OK)


def _check_history(timeline: object, machine: object, history_path: str, definition: str) -> None:
    """A warning when the history ran states the definition does not have (another machine's
    history, or an older version of this one): the drawing would show nothing of it."""
    known = {name for _, name, _ in machine.iter_states()}
    strangers = sorted({e.state for e in timeline.events if e.state and e.state not in known})
    if strangers:
        shown = ", ".join(f"'{name}'" for name in strangers[:5]) + (", ..." if len(strangers) > 5 else "")
        click.echo(f"asl graph: warning: {history_path} does not match {definition}: {len(strangers)} of its "
                   f"states are not in the definition ({shown})", err=True)


def _usage(message: str) -> None:
    click.echo(f"asl graph: {message}", err=True)
    sys.exit(EXIT_USAGE)
