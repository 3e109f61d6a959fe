"""The pytest plugin of asl-engine (entry point ``pytest11``; loaded by every pytest session
of an environment where asl-engine is installed, so it imports nothing heavy up front).

Fixtures::

    def test_order(asl_workflow, asl_snapshot):
        order = asl_workflow("samples/order/order.json")    # loaded once per session
        run = order.run({...}, mocks={...})
        asl_snapshot.assert_match(run)                      # __snapshots__/<module>/<test>.history.json

Options::

    --asl-coverage                 workflow coverage in the terminal summary
    --asl-coverage-json=PATH       and as JSON, for CI (implies --asl-coverage)
    --asl-coverage-fail-under=PCT  fail the session when the total is lower (implies --asl-coverage)
    --asl-snapshot-update          (re)write history snapshots instead of comparing

Under pytest-xdist (``-n N``) each worker collects its tests' coverage and the controller
adds the parts up, so the report, the JSON and ``--asl-coverage-fail-under`` cover the session.

`asl_workflow` paths are relative to pytest's rootdir (else to the test's folder), so a test
finds its definitions and MockConfigFiles wherever pytest is started from. ``assert run.path == [...]`` explains a difference step by
step (`pytest_assertrepr_compare`).
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

_COVERAGE = pytest.StashKey[Any]()


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("asl", "AWS Step Functions workflow tests (asl-engine)")
    group.addoption("--asl-coverage", action="store_true", default=False,
                    help="report which states, Choice rules, Retry/Catch clauses and branches the tests exercised")
    group.addoption("--asl-coverage-json", metavar="PATH", default=None,
                    help="also write the workflow coverage as JSON to PATH (implies --asl-coverage)")
    group.addoption("--asl-coverage-fail-under", metavar="PCT", type=float, default=None,
                    help="fail the session when total workflow coverage is below PCT (implies --asl-coverage)")
    group.addoption("--asl-snapshot-update", action="store_true", default=False,
                    help="write history snapshots (asl_snapshot) instead of comparing with them")


def pytest_configure(config: Any) -> None:
    wanted = (config.getoption("asl_coverage") or config.getoption("asl_coverage_json")
              or config.getoption("asl_coverage_fail_under") is not None)
    if wanted:
        from . import coverage

        collecting = coverage.collect()
        config.stash[_COVERAGE] = (collecting, collecting.__enter__())


def pytest_unconfigure(config: Any) -> None:
    found = config.stash.get(_COVERAGE, None)
    if found is not None:
        found[0].__exit__(None, None, None)
        del config.stash[_COVERAGE]


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    found = session.config.stash.get(_COVERAGE, None)
    if found is None:
        return
    coverage = found[1]
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:  # a pytest-xdist worker: the controller merges, reports and judges
        workeroutput["asl_coverage"] = coverage.partial()
        return
    path = session.config.getoption("asl_coverage_json")
    if path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(coverage.to_json(), indent=2) + "\n", encoding="utf-8")
    minimum = session.config.getoption("asl_coverage_fail_under")
    if minimum is not None and coverage.percent() < minimum and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist's controller: add a finished worker's coverage to the session's."""
    found = node.config.stash.get(_COVERAGE, None)
    partial = getattr(node, "workeroutput", {}).get("asl_coverage")
    if found is not None and partial:
        found[1].merge(partial)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: Any) -> None:
    found = config.stash.get(_COVERAGE, None)
    if found is None:
        return
    coverage = found[1]
    terminalreporter.write_sep("-", "asl workflow coverage")
    terminalreporter.write_line(coverage.report())
    path = config.getoption("asl_coverage_json")
    if path:
        terminalreporter.write_line(f"coverage JSON written to {path}")
    minimum = config.getoption("asl_coverage_fail_under")
    if minimum is not None:
        total = coverage.percent()
        verdict = "reached" if total >= minimum else "FAIL: not reached"
        terminalreporter.write_line(f"required workflow coverage of {minimum:g}% {verdict} (total {total:.1f}%)")


def pytest_assertrepr_compare(config: Any, op: str, left: Any, right: Any) -> list[str] | None:
    results = sys.modules.get("asl.engine.testing.results")  # no StatePath exists before it is loaded
    if op != "==" or results is None:
        return None
    if isinstance(left, results.StatePath) and isinstance(right, list):
        actual, expected = left, right
    elif isinstance(right, results.StatePath) and isinstance(left, list):
        actual, expected = right, left
    else:
        return None
    from .explain import path_difference

    message = path_difference([str(x) for x in expected], list(actual))
    return ["the path taken differs from the expected one"] + (message or "").splitlines()


# ---- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def _asl_machines() -> dict:
    """Machines loaded this session, by absolute path (each definition compiled once)."""
    return {}


@pytest.fixture
def asl_workflow(request: Any, _asl_machines: dict) -> Any:
    """A factory: ``asl_workflow(source, **defaults)`` gives a `Workflow`; a path (relative to the
    rootdir, else to the test's folder) is loaded once per session, a dict each time."""
    from .workflow import Workflow

    root = Path(request.config.rootpath)
    roots = [root]
    folder = Path(str(request.node.path)).parent  # the test module's
    if folder.resolve() != root.resolve():
        roots.append(folder)

    def make(source: Any, **defaults: Any) -> Workflow:
        __tracebackhide__ = True
        path = next((found for found in (_file(r, source) for r in roots) if found is not None), None)
        if path is None:  # a dict, JSON/YAML text, or no such file (asl.load says which)
            try:
                return _rooted(Workflow(source, **defaults), roots)
            except _definition_error() as exc:
                if _path_like(source) and not os.path.exists(source):  # say where it was looked for
                    places = " and ".join(str(r) for r in roots)
                    exc.args = (f"{exc.args[0]} (asl_workflow looks for it under {places}, then in the working "
                                f"directory {os.getcwd()})",)
                raise
        machine = _asl_machines.get(path)
        if machine is None:
            import asl

            try:
                machine = _asl_machines[path] = asl.load(str(path))
            except asl.DefinitionError as exc:  # shown at the test's line (as by `Workflow`)
                raise exc.with_traceback(None)  # noqa: B904
        try:
            name = path.relative_to(root.resolve()).as_posix()
        except ValueError:
            name = str(path)
        defaults.setdefault("name", name)
        return _rooted(Workflow(machine, **defaults), roots)

    return make


def _definition_error() -> type:
    import asl

    return asl.DefinitionError


def _path_like(source: Any) -> bool:
    """Is `source` meant as a file name (not JSON or YAML text)?"""
    return isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and "{" not in source)


def _rooted(workflow: Any, roots: list[Path]) -> Any:
    """`workflow`, finding the MockConfigFile paths it is given where the fixture finds definitions."""
    workflow.roots = tuple(str(r) for r in roots)
    return workflow


def _file(root: Path, source: Any) -> Path | None:
    """`source` as an existing file relative to `root`, else None."""
    if not isinstance(source, (str, Path)):
        return None
    try:
        path = (root / source).resolve()
        return path if path.is_file() else None
    except (OSError, ValueError):  # text too long or odd to be a file name
        return None


class Snapshot:
    """History snapshots of one test: ``assert_match(run, name=None)``."""

    def __init__(self, directory: Path, test: str, update: bool):
        self.directory = directory
        self.test = test
        self.update = update
        self._count = 0

    def path(self, name: str | None = None) -> Path:
        """The golden file for snapshot `name` (default: numbered in the order taken)."""
        if name is None:
            self._count += 1
            name = "" if self._count == 1 else str(self._count)
        stem = self.test + (f"-{_safe(name)}" if name else "")
        return self.directory / f"{stem}.history.json"

    def assert_match(self, run: Any, name: str | None = None) -> None:
        __tracebackhide__ = True
        from .snapshot import assert_history_matches

        assert_history_matches(run, self.path(name), self.update)


@pytest.fixture
def asl_snapshot(request: Any) -> Snapshot:
    """History snapshots beside the test file: ``__snapshots__/<module>/<test>.history.json``."""
    module = Path(str(request.node.path))
    return Snapshot(module.parent / "__snapshots__" / module.stem, _safe(request.node.name),
                    request.config.getoption("asl_snapshot_update"))


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "snapshot"
