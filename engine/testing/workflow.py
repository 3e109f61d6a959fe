"""`Workflow`: a state machine loaded once, run many times in tests, each run recorded.

    workflow = Workflow("samples/order/order.json", handlers=handlers)
    run = workflow.run({"orderId": "1"}, mocks={"ProcessPayment": raises("Payment.Declined")})
    run.assert_failed("Payment.Declined")

Runs use virtual time (a one-day Wait takes no time) and seed 0 (retry jitter and generated
ids repeat from run to run) unless told otherwise. Per-run ``mocks`` and ``handlers`` add to
those given to the `Workflow`; mocks win over handlers and over a MockConfigFile test case
for the states they name, so one MockConfigFile can serve as a baseline that tests vary.
"""
from __future__ import annotations

import functools
import os
from typing import Any

from ..starting import InvalidExecutionInput, MissingHandlerError, _mocks, mock_config_of, prepare
from ..tasks import Handlers, MockConfig, MockConfigError, UnknownMockMachine
from . import coverage
from .mocks import MockError, MockSession, check_mock_names, to_mock
from .recorder import Call, Recorder
from .results import UnknownStateError, WorkflowRun, WorkflowTestError, unknown_state  # noqa: F401 (re-exported)

_DEFAULT = object()
# mistakes in a test's own set-up (its mocks, test case, input, names): raised from `run` and
# `test_state` without the event loop's and the engine's frames, so pytest shows the test's line
_MISTAKES = (MockError, MockConfigError, WorkflowTestError, InvalidExecutionInput, MissingHandlerError)


def blocking(fn: Any) -> Any:
    """``anyio.run(fn)``, with a mistake of the test's (`_MISTAKES`) raised as from the caller."""
    __tracebackhide__ = True
    import anyio

    try:
        return anyio.run(fn)
    except _MISTAKES as exc:
        raise exc.with_traceback(None)  # noqa: B904 (the same exception, its cause kept)


def epoch_of(start: Any) -> float:
    """`start_time` as epoch seconds: a `datetime` (a naive one is UTC), an ASL timestamp
    (``2031-01-01T09:00:00Z``) or a number of epoch seconds; ValueError for anything else."""
    from datetime import datetime, timezone

    from ...timestamps import to_epoch

    __tracebackhide__ = True
    if isinstance(start, datetime):
        return (start if start.tzinfo else start.replace(tzinfo=timezone.utc)).timestamp()
    if isinstance(start, (int, float)) and not isinstance(start, bool):
        return float(start)
    epoch = to_epoch(start)
    if epoch is None:
        raise ValueError(f"start_time must be a datetime, epoch seconds or a timestamp like "
                         f"'2031-01-01T09:00:00Z', not {start!r}")
    return epoch


def start_of(defaults: dict, options: dict) -> float | None:
    """Where a run's virtual time starts, in epoch seconds (None: now, or the clock given): the
    run's `start_time`, else the defaults' unless the run gives its own ``clock`` or
    ``virtual_time``. ValueError for a bad one, or one given with a clock or real time."""
    __tracebackhide__ = True
    if "start_time" in options:
        level = options
    elif "clock" in options or "virtual_time" in options:
        return None
    else:
        level = defaults
    if level.get("start_time") is None:
        return None
    if level.get("clock") is not None or not level.get("virtual_time", True):
        raise ValueError("start_time sets where virtual time starts: it goes with neither clock= "
                         "nor virtual_time=False")
    return epoch_of(level["start_time"])


class Workflow:
    """A state machine for tests: `run` it whole or `test_state` one state.

    source        a definition (path, dict, JSON/YAML text) or a machine from `asl.load`
    name          how reports call it (default: the path as given, else the machine's name)
    mocks, handlers, mock_config, test_case   defaults for every run
    options       defaults for `asl.engine.run`: ``seed``, ``type``, ``virtual_time``, ``clock``,
                  ``state_machine_name`` (picks the MockConfigFile entry; default: the file's stem), ...;
                  and ``start_time`` (a `datetime`, ``"2031-01-01T09:00:00Z"`` or epoch seconds):
                  each run's virtual time starts there (default: now). A ``clock`` given here is
                  shared: each run goes on from the time the one before it ended.
    """

    def __init__(self, source: Any, *, name: str | None = None, mocks: dict | None = None,
                 handlers: Handlers | dict | None = None, mock_config: Any = None, test_case: str | None = None,
                 **options: Any):
        import asl

        __tracebackhide__ = True
        start_of({}, options)  # a bad start_time fails here, at the test's line
        try:
            self.machine = source if hasattr(source, "iter_states") else asl.load(source)
        except asl.DefinitionError as exc:  # the definition's mistake, shown at the test's line
            raise exc.with_traceback(None)  # noqa: B904
        is_path = isinstance(source, os.PathLike) or (isinstance(source, str) and os.path.isfile(source))
        self.name = name or (os.fspath(source) if is_path else self.machine.name)
        self.types = {state_name: state.type for _, state_name, state in self.machine.iter_states()}
        self.mocks = {key: to_mock(value) for key, value in (mocks or {}).items()}
        check_mock_names(self.mocks, self.types, self.name)
        self.handlers = handlers
        self.mock_config = mock_config
        self.roots: tuple[str, ...] = ()  # where relative file paths are found first (`beside`)
        self.test_case = test_case
        self.options = {"seed": 0, "state_machine_name": self.machine.name, **options}
        found = coverage.current()
        if found is not None:
            found.machine(self.name, self.machine)

    def __repr__(self) -> str:
        return f"<Workflow {self.name}>"

    def state_model(self, name: str) -> Any:
        """The model of state `name` (at any depth); `UnknownStateError`, with a did-you-mean, if none."""
        for _, state_name, state in self.machine.iter_states():
            if state_name == name:
                return state
        raise unknown_state(self.name, name, list(self.types))

    # ---- whole runs ----------------------------------------------------------------------------

    def run(self, input: Any = None, **kwargs: Any) -> WorkflowRun:
        """Run to the end and return the `WorkflowRun` (blocking; use `arun` in async tests).

        Keyword arguments: ``mocks``, ``handlers``, ``mock_config``, ``test_case`` and any option of
        `asl.engine.run`; they add to (and override) the `Workflow`'s defaults.
        """
        __tracebackhide__ = True
        start_of(self.options, kwargs)  # a bad start_time fails here, at the test's line
        return blocking(functools.partial(self.arun, input, **kwargs))

    async def arun(self, input: Any = None, *, mocks: dict | None = None, handlers: Handlers | dict | None = None,
                   mock_config: Any = _DEFAULT, test_case: str | None = None, **options: Any) -> WorkflowRun:
        """`run` for async tests."""
        execution, session, recorder = self.prepare(input, mocks, handlers, mock_config, test_case, options)
        result = await execution.run()
        return self.finish(result, session, recorder)

    # ---- one state -----------------------------------------------------------------------------

    def test_state(self, state: str, input: Any = None, **kwargs: Any) -> Any:
        """Run one state on its own, like AWS's TestState API; returns a `StateTestResult`.

        Keyword arguments: ``variables`` (what the state sees), ``mock`` (for a Task: a value,
        `raises(...)`, any mock), ``retry_count`` (retries already made, for RETRIABLE), and the
        ``mocks`` / ``handlers`` / options of `run`.
        """
        __tracebackhide__ = True
        from .state import run_state_alone

        start_of(self.options, kwargs)
        return blocking(functools.partial(run_state_alone, self, state, input, **kwargs))

    # ---- the parts (shared with `test_state`) ---------------------------------------------------

    def prepare(self, input: Any, mocks: dict | None, handlers: Any, mock_config: Any, test_case: str | None,
                options: dict) -> tuple[Any, MockSession, Recorder]:
        """An `Execution` with the merged mocks and handlers, a `Recorder` watching it."""
        options, session, recorder = self.run_options(mocks, handlers, mock_config, test_case, options)
        try:
            return prepare(self.machine, input, **options), session, recorder
        except MissingHandlerError as exc:  # (check_handlers=True) in a test, mocks= is the way
            example = ", ".join(f"{name!r}: ..." for name, _ in exc.missing)
            exc.args = (f"{exc.args[0]}\nHere, in a test: mocks={{{example}}}",)
            raise

    def run_options(self, mocks: dict | None, handlers: Any, mock_config: Any, test_case: str | None,
                    options: dict) -> tuple[dict, MockSession, Recorder]:
        """The options of `asl.engine.prepare` (or `test_state`) for one run: the merged mocks
        and handlers, the MockConfigFile test case, a clock, and a `Recorder` as observer."""
        from ..clock import Clock, VirtualClock

        every_mock = {**self.mocks, **{key: to_mock(value) for key, value in (mocks or {}).items()}}
        check_mock_names(every_mock, self.types, self.name)
        session = MockSession(every_mock, self.types)
        registry = Handlers()
        for extra in (self.handlers, handlers):
            if extra:
                registry.update(extra)
        registry.update(session.handlers())
        start = start_of(self.options, options)
        options = {**self.options, **options}
        options.pop("start_time", None)
        if start is not None:
            options.pop("virtual_time", None)
            options["clock"] = VirtualClock(start)
        config, case = self._mock_config(self.beside(self.mock_config if mock_config is _DEFAULT else mock_config),
                                         test_case or self.test_case, set(every_mock),
                                         options["state_machine_name"])
        if options.get("clock") is None:
            options["clock"] = VirtualClock() if options.pop("virtual_time", True) else Clock()
        session.clock = options["clock"]
        recorder = Recorder()
        options.update(handlers=registry, mock_config=config, test_case=case, observer=recorder)
        return options, session, recorder

    def finish(self, result: Any, session: MockSession, recorder: Recorder) -> WorkflowRun:
        """The `WorkflowRun` of a finished execution (after `settle`)."""
        self.settle(session, recorder)
        return WorkflowRun(self, result, recorder.visits, self.calls_of(result.calls, session))

    def settle(self, session: MockSession, recorder: Recorder, whole: bool = True) -> None:
        """Count the coverage (`whole`: a whole execution), then raise `MockError` for a mistake
        in the mocks found during the run."""
        found = coverage.current()
        if found is not None:
            found.machine(self.name, self.machine).record(recorder.visits, whole)
        if session.problems:
            problems = list(dict.fromkeys(session.problems))  # each once, in the order found
            more = "".join(f"\nand: {problem}" for problem in problems[1:])
            raise MockError(problems[0] + more)

    @staticmethod
    def calls_of(task_calls: list, session: MockSession) -> list[Call]:
        return [Call(c.state, c.input, c.attempt, c.path, c.mocked or c.state in session.mocks) for c in task_calls]

    def beside(self, path: Any) -> Any:
        """A file path as given, or under the first of `roots` (pytest's rootdir, the test's folder,
        set by `asl_workflow`) that has the file: the fixture's workflows read their
        MockConfigFile where they would find a definition, wherever pytest was started from."""
        if not isinstance(path, (str, os.PathLike)):
            return path
        for root in self.roots:
            try:
                there = os.path.join(root, path)
                if os.path.isfile(there):
                    return there
            except (TypeError, ValueError):
                return path
        return path

    @staticmethod
    def _mock_config(config: Any, test_case: str | None, overridden: set[str],
                     machine_name: str) -> tuple[Any, str | None]:
        """The MockConfigFile test case to use, without the states that Python mocks override
        (False: none). SFN_MOCK_CONFIG is read only for a named test case: Step Functions Local
        applies it to the executions started with ``ARN#TestCase`` alone, and a test that names
        neither a MockConfigFile nor a test case means its Python mocks and handlers."""
        if config is None and test_case is None:
            return False, None  # (None would have `prepare` read SFN_MOCK_CONFIG)
        config = mock_config_of(os.fspath(config) if isinstance(config, os.PathLike) else config, test_case)
        if config is None:
            return False, None
        try:
            chosen = _mocks(config, test_case, machine_name)  # checks the file, picks the only test case
        except UnknownMockMachine as exc:
            exc.args = (f"{exc.args[0]}; name it with state_machine_name=",)
            raise
        mapping = {state: response for state, response in chosen.mapping.items() if state not in overridden}
        document = {"StateMachines": {machine_name: {"TestCases": {"test": mapping}}},
                    "MockedResponses": chosen.config.responses}
        return MockConfig(document, chosen.config.source), "test"
