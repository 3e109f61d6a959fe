"""``--substitute NAME=VALUE`` and ``--substitutions FILE``: values for ``${Name}`` placeholders
(shared by `asl validate`, `asl run` and `asl graph`)."""
from __future__ import annotations

from typing import Any, Callable

import click


def substitution_options(command: Callable) -> Callable:
    """Add both options to a click command (as `substitute` and `substitutions_file`)."""
    command = click.option(
        "--substitutions", "substitutions_file", metavar="FILE",
        help="A JSON or YAML mapping of placeholder names to values.")(command)
    return click.option(
        "--substitute", "substitute", multiple=True, metavar="NAME=VALUE",
        help="Fill the ${NAME} placeholder (SAM, Terraform, Serverless Framework) with VALUE; repeatable, "
             "wins over --substitutions and a template's DefinitionSubstitutions.")(command)


def read_substitutions(pairs: tuple[str, ...], path: str | None) -> dict[str, str]:
    """The values, as text (numbers and booleans as JSON writes them); a problem raises
    ValueError with a one-line message."""
    values: dict[str, str] = {}
    if path is not None:
        from asl.source import SourceError, read_file

        try:
            data = read_file(path).data
        except SourceError as exc:
            raise ValueError(f"--substitutions: {exc}") from None
        if not isinstance(data, dict):
            raise ValueError(f"--substitutions: {path}: expected a mapping of names to values")
        for name, value in data.items():
            values[str(name)] = _text(name, value, path)
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"--substitute {pair!r}: expected NAME=VALUE")
        values[name] = value
    return values


def _text(name: Any, value: Any, path: str) -> str:
    from asl.placeholders import as_text

    try:
        return as_text(value)
    except TypeError:
        raise ValueError(f"--substitutions: {path}: the value of {name!r} must be a string, number or boolean") from None
