"""A project's defaults for ``asl run`` (and resume, redrive, worker): the ``[tool.asl]`` table of its
pyproject.toml.

    [tool.asl]
    handlers = "src/myflows/handlers.py"   # or a module: "myflows.handlers"
    mock-config = "tests/MockConfigFile.json"
    test-case = "HappyPath"
    virtual-time = true
    aws = true                             # call AWS services for Tasks without a handler or mock
    connections = "connections.json"       # HTTP Task connections (asl run --connections)
    [tool.asl.endpoints]                   # these services only, unless aws = true
    dynamodb = "http://127.0.0.1:8000"
    [tool.asl.machines]                    # states:startExecution children run here (asl run --machine)
    Child = "machines/child.json"

The nearest pyproject.toml with a ``[tool.asl]`` table, from the current directory up to the
repository root (a directory holding ``.git``), is used; file paths in it are relative to
that pyproject.toml. Options given on the command line win.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .run import UsageError

KEYS = {"handlers": str, "mock-config": str, "test-case": str, "virtual-time": bool, "aws": bool,
        "connections": str, "endpoints": dict, "machines": dict}
KIND_NAMES = {str: "string", bool: "boolean", dict: "table"}


@dataclass
class ProjectConfig:
    """The ``[tool.asl]`` values, paths made absolute; `path` is the pyproject.toml."""

    path: Path
    handlers: str | None = None
    mock_config: str | None = None
    test_case: str | None = None
    virtual_time: bool | None = None
    aws: bool | None = None
    connections: str | None = None
    endpoints: dict | None = None
    machines: dict | None = None

    @property
    def root(self) -> Path:
        return self.path.parent


def find_config(start: str | os.PathLike | None = None) -> ProjectConfig | None:
    """The nearest ``[tool.asl]`` table from `start` (default: the current directory) upwards."""
    here = Path(start or os.getcwd()).resolve()
    for directory in (here, *here.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            config = read_config(candidate)
            if config is not None:
                return config
        if (directory / ".git").exists():
            return None
    return None


def read_config(path: Path) -> ProjectConfig | None:
    """The ``[tool.asl]`` table of one pyproject.toml (None when it has none)."""
    import tomllib

    try:
        with open(path, "rb") as fh:
            document = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    table = document.get("tool", {}).get("asl") if isinstance(document.get("tool"), dict) else None
    if table is None:
        return None
    if not isinstance(table, dict):
        raise UsageError(f"{path}: [tool.asl] must be a table")
    config = ProjectConfig(path)
    for key, value in table.items():
        kind = KEYS.get(key)
        if kind is None:
            raise UsageError(f"{path}: [tool.asl] has an unknown key '{key}' (known: {', '.join(KEYS)})")
        if not isinstance(value, kind):
            raise UsageError(f"{path}: [tool.asl] {key} must be a {KIND_NAMES[kind]}")
        if kind is dict and not all(isinstance(v, str) for v in value.values()):
            raise UsageError(f"{path}: [tool.asl] {key}: every value must be a string")
        setattr(config, key.replace("-", "_"), value)
    if config.mock_config is not None:
        config.mock_config = str(path.parent / config.mock_config)
    if config.connections is not None:
        config.connections = str(path.parent / config.connections)
    if config.machines is not None:
        config.machines = {name: str(path.parent / file) for name, file in config.machines.items()}
    if config.handlers is not None and _is_file_spec(config.handlers):
        config.handlers = str(path.parent / config.handlers)
    return config


def _is_file_spec(spec: str) -> bool:
    """A handlers file (``handlers.py``, ``src/handlers``) rather than a module (``pkg.handlers``)."""
    return spec.endswith(".py") or "/" in spec or os.path.sep in spec
