"""The engine's module graph points one way (STYLE.md, "Where the code stands"): no module
of `asl.engine` imports, directly or through others, a module that imports it back, whether
the import is at the top or inside a function. Subpackages (`stores`, `testing`) count as
one module each; imports under ``if TYPE_CHECKING:`` are annotations only and do not count.
"""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import asl.engine

ENGINE = Path(asl.engine.__file__).parent
PACKAGE = "asl.engine"


def _module_name(path: Path) -> str:
    parts = path.relative_to(ENGINE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((PACKAGE,) + parts)


def _node(module: str) -> str | None:
    """The graph node of an engine module (a subpackage is one node); None outside the engine."""
    if module != PACKAGE and not module.startswith(PACKAGE + "."):
        return None
    parts = module[len(PACKAGE) + 1:].split(".") if module != PACKAGE else []
    if parts and (ENGINE / parts[0]).is_dir():
        return f"{PACKAGE}.{parts[0]}"
    return module


def _type_checking_only(tree: ast.AST) -> set[int]:
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skipped.update(id(n) for n in ast.walk(inner))
    return skipped


def _imports(path: Path) -> set[str]:
    """Every module `path` imports (absolute names), at any depth of the file."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_only(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            found.add(target)
            for alias in node.names:  # `from . import execution` imports a module
                candidate = f"{target}.{alias.name}"
                relative = candidate[len(PACKAGE) + 1:].replace(".", "/") if candidate.startswith(PACKAGE) else ""
                if relative and ((ENGINE / f"{relative}.py").exists() or (ENGINE / relative).is_dir()):
                    found.add(candidate)
    return found


def engine_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for path in sorted(ENGINE.rglob("*.py")):
        source = _node(_module_name(path))
        edges = graph.setdefault(source, set())
        for target in _imports(path):
            node = _node(target)
            if node is not None and node != source:
                edges.add(node)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle of `graph` as a list of nodes (first == last), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target):] + [target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_every_engine_module_imports() -> None:
    graph = engine_graph()
    assert f"{PACKAGE}.interpreter" in graph and f"{PACKAGE}.execution" in graph
    for name in graph:
        importlib.import_module(name)


def test_the_engine_imports_have_no_cycle() -> None:
    cycle = find_cycle(engine_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"c"}, "c": set()}, None),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}}, ["a", "b", "c", "a"]),
    ({"a": {"a"}}, ["a", "a"]),
])
def test_find_cycle(graph: dict, expected: list | None) -> None:
    assert find_cycle(graph) == expected


def test_a_function_level_import_counts(tmp_path: Path) -> None:
    # the lazy import that once hid interpreter <-> task is seen as an edge
    source = tmp_path / "x.py"
    source.write_text("def f():\n    from .task import run_task\n", encoding="utf-8")
    tree = ast.parse(source.read_text())
    assert any(isinstance(n, ast.ImportFrom) and n.module == "task" for n in ast.walk(tree))
    assert f"{PACKAGE}.task" in _imports(ENGINE / "interpreter.py")


def test_the_core_does_not_import_the_package_or_its_consumers() -> None:
    # `asl.engine` (the public facade) and `asl.engine.testing` sit on top of the runtime
    graph = engine_graph()
    for source, targets in graph.items():
        if source in (PACKAGE, f"{PACKAGE}.testing"):
            continue
        assert PACKAGE not in targets, f"{source} imports the asl.engine facade"
        assert f"{PACKAGE}.testing" not in targets, f"{source} imports asl.engine.testing"


# --------------------------------------------------------------------------------------------
# Runners depend on the ports of asl.engine.ports, not on the whole Execution
# --------------------------------------------------------------------------------------------

RUNNER_MODULES = ("staterun.py", "interpreter.py", "task.py", "concurrency.py", "callbacks.py")


def _port_members() -> set[str]:
    from asl.engine import ports

    members: set[str] = set()
    for port in (ports.EventSink, ports.Invoker, ports.ChildRunner, ports.Quotas, ports.Runtime):
        for klass in port.__mro__:
            if klass.__module__ == ports.__name__:
                members.update(getattr(klass, "__annotations__", {}))
                members.update(name for name, value in vars(klass).items() if callable(value)
                               and not name.startswith("_"))
    return members


def _execution_uses(text: str) -> dict[str, int]:
    """Attributes read or written on the execution (``ex.x``, ``run.ex.x``, ``execution.x``)."""
    used: dict[str, int] = {}
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.Attribute):
            continue
        owner = node.value
        if (isinstance(owner, ast.Name) and owner.id in ("ex", "execution")) or (
                isinstance(owner, ast.Attribute) and owner.attr == "ex"):
            used.setdefault(node.attr, node.lineno)
    return used


@pytest.mark.parametrize("module", RUNNER_MODULES)
def test_runners_use_only_the_ports(module: str) -> None:
    source = (ENGINE / module).read_text(encoding="utf-8")
    if module == "callbacks.py":  # its runner only: the broker and the API side work outside states
        source = source[source.index("async def serve_activity"):]
    uses = _execution_uses(source)
    assert uses, "the check reads nothing: has the runner's name for its execution changed?"
    members = _port_members()
    outside = {name: line for name, line in uses.items() if name not in members}
    assert not outside, f"{module} uses Execution members that no port declares: {outside}"


def test_a_member_outside_the_ports_is_found() -> None:
    uses = _execution_uses("async def run_x(run):\n    run.ex.waiters.pop(1)\n    ex = run.ex\n    ex.sink\n")
    assert set(uses) - _port_members() == {"waiters", "sink"}


def test_an_execution_provides_every_port() -> None:
    import asl
    from asl.engine import ports, prepare

    machine = asl.load({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    execution = prepare(machine, {})
    for port in (ports.Clock, ports.EventSink, ports.Invoker, ports.ChildRunner, ports.Quotas, ports.Runtime):
        target = execution.clock if port is ports.Clock else execution
        assert isinstance(target, port), port.__name__
    from asl.engine.clock import Clock

    assert isinstance(Clock(), ports.Clock)
    missing = sorted(name for name in _port_members() if not hasattr(execution, name))
    assert not missing


# ---- anyio only: no event loop internals ------------------------------------------------------

# Names that only an event loop's or anyio's internals answer to: the runtime uses anyio's public
# API (and asyncio's public one where anyio has none), so virtual time, cancellation and threads
# keep working whatever the loop's insides become (`asl.engine.clock` keeps its own books).
INTERNALS = ("_ready", "anyio._backends", "asyncio.CancelledError", "_fut_waiter")


def _runtime_files() -> list[Path]:
    import importlib.util

    files: list[Path] = []
    for package in ("asl", "asl.engine", "asl.cli", "asl.service"):
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.submodule_search_locations, package
        root = Path(list(spec.submodule_search_locations)[0])
        files.extend(path for path in sorted(root.rglob("*.py")) if path not in files)
    return files


def _internals_used(text: str) -> list[tuple[int, str]]:
    return [(number, name) for number, line in enumerate(text.splitlines(), 1) for name in INTERNALS
            if name in line]


def test_the_runtime_uses_no_event_loop_internals() -> None:
    files = _runtime_files()
    assert any(path.name == "clock.py" for path in files) and any(path.parent.name == "service" for path in files)
    found = [f"{path}:{number}: {name}" for path in files
             for number, name in _internals_used(path.read_text(encoding="utf-8"))]
    assert not found, "event loop internals in the runtime:\n" + "\n".join(found)


def test_an_internal_is_found() -> None:
    source = "ready = getattr(loop, '_ready', None)\nexcept asyncio.CancelledError:\n    pass\n"
    assert _internals_used(source) == [(1, "_ready"), (2, "asyncio.CancelledError")]


# ---- anyio only: asyncio itself only where the allow-list says why --------------------------------

# Modules of the engine and the service that still import asyncio, each with the reason. The
# runtime is an anyio program (task groups, cancel scopes, `anyio.from_thread`); an entry goes
# when its module is converted (the test fails on an entry whose module no longer imports asyncio).
ASYNCIO_ALLOWED = {
    # empty: the engine and the service are anyio programs throughout
}


def _modules_of(package: str) -> dict[str, Path]:
    import importlib.util

    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.submodule_search_locations, package
    root = Path(list(spec.submodule_search_locations)[0])
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join((package,) + parts)] = path
    return out


def _imports_asyncio(text: str) -> bool:
    """Whether `text` imports asyncio or a submodule of it, at any level (a function's body too)."""
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import) and any(a.name.split(".")[0] == "asyncio" for a in node.names):
            return True
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "asyncio":
            return True
    return False


def test_the_engine_and_the_service_import_asyncio_only_where_allowed() -> None:
    modules = {**_modules_of("asl.engine"), **_modules_of("asl.service")}
    assert "asl.engine.clock" in modules and "asl.service.api" in modules
    using = {name for name, path in modules.items() if _imports_asyncio(path.read_text(encoding="utf-8"))}
    assert sorted(using - set(ASYNCIO_ALLOWED)) == [], "asyncio imported outside the allow-list"
    assert sorted(set(ASYNCIO_ALLOWED) - using) == [], "allow-listed but no longer importing asyncio: drop the entry"


@pytest.mark.parametrize("source, expected", [
    ("import asyncio\n", True),
    ("def f():\n    import asyncio.subprocess as sp\n", True),
    ("from asyncio import sleep\n", True),
    ("import anyio\nfrom .asyncio import x\n", False),
    ("# asyncio is not imported here\nx = 'import asyncio'\n", False),
])
def test_an_asyncio_import_is_found(source: str, expected: bool) -> None:
    assert _imports_asyncio(source) is expected
