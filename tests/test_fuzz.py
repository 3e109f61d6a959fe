"""The fuzz benchmark in small, under Hypothesis: generated definitions, inputs and command lines
thrown at the loader, the validator, the engine and the CLI never give a traceback, a hang or
non-JSON output. benchmarks/fuzz.py runs the same items by the 100,000 (docs/fuzzing.md).

Hypothesis draws the item seeds (derandomized, so the suite is reproducible); each item is built
by the benchmark's own generators and checked by its own checks. Regressions for what the fuzz
runs found are at the end.
"""
from __future__ import annotations

import os
import signal
import sys
from random import Random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import asl
from asl.errors import ExpressionSyntaxError, PathNotFoundError, StatesError
from asl.paths import assign_path, compile_path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import fuzz  # noqa: E402  (benchmarks/fuzz.py)

ITEM_SECONDS = 10


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory):
    return fuzz.Fuzzer(seed=0, tmp=str(tmp_path_factory.mktemp("fuzz")))


@pytest.fixture(autouse=True)
def scratch_directory(fuzzer, monkeypatch):
    monkeypatch.chdir(fuzzer.tmp)  # `asl` writes files and looks for pyproject.toml from here


# Findings tolerated while being fixed: (exception names, file, why). The 100,000-item run's
# findings (docs/fuzzing.md) are fixed, each kept as a regression test at the end of this file.
KNOWN: list = []  # every finding of the fuzz run is fixed; add (exception names, file, why) to tolerate one


def known_finding(exc: BaseException) -> str | None:
    where = fuzz.signature(exc).rpartition(" at ")[2]
    for names, place, why in KNOWN:
        if type(exc).__name__ in names and where.startswith(place):
            return why
    return None


def run_item(fuzzer: fuzz.Fuzzer, category: str, seed: int) -> None:
    """One benchmark item; a traceback, a broken property or a hang fails the example."""
    previous = signal.signal(signal.SIGALRM, fuzz._alarm)
    signal.setitimer(signal.ITIMER_REAL, ITEM_SECONDS)
    try:
        getattr(fuzzer, f"item_{category}")(Random(f"hypothesis:{seed}"))
    except fuzz.Finding:
        raise
    except Exception as exc:
        if known_finding(exc) is None:
            raise
    except fuzz.Hang:
        pytest.fail(f"{category} item {seed} ran past {ITEM_SECONDS}s: {fuzzer.repro}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


SEEDS = st.integers(0, 2**32)
def bounded(examples: int) -> settings:
    return settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("category", ["load", "validate", "engine", "paths", "cli"])
@bounded(200)
@given(seed=SEEDS)
def test_fuzz_items_give_no_traceback_hang_or_non_json(fuzzer, category, seed):
    run_item(fuzzer, category, seed)


# Paths straight from Hypothesis' text strategy (lone surrogates, controls, any code point).
@bounded(300)
@given(st.text(max_size=30).map(lambda s: "$" + s), st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=3), c, max_size=3), max_leaves=10))
def test_any_path_text_compiles_or_is_a_syntax_error(text, document):
    try:
        path = compile_path(text)
    except ExpressionSyntaxError:
        return
    try:
        path.evaluate(document)
    except (PathNotFoundError, StatesError):
        pass
    if path.kind == "input" and path.is_reference:
        try:
            assign_path(document, path, 1)
        except StatesError:
            pass


# ---------------------------------------------------------------------------------------------
# Regressions: what the fuzz runs found
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("state", [
    {"Type": "Pass", "End": True, "ResultPath": "$\udfff["},
    {"Type": "Pass", "End": True, "InputPath": "$\udfff["},
    {"Type": "Pass", "End": True, "Bogus\udfff": 1},
    {"Type": "Choice", "Choices": [{"Variable": "$.a", "StringEquals\udfff": "x", "Next": "A"}], "Default": "A"},
    {"Type": "Pass", "End": True, "QueryLanguage": "JSONata", "Output": "{% \udfff( %}"},
])
def test_a_lone_surrogate_in_a_definition_is_a_diagnostic_not_a_crash(state):
    # pydantic-core cannot render a message holding a lone surrogate: errors() itself raised
    # UnicodeEncodeError out of asl.validate. The text is now shown escaped.
    result = asl.validate({"StartAt": "A", "States": {"A": state}})
    assert not result.ok
    assert any(d.code in ("SCHEMA_VALIDATION_FAILED", "INVALID_JSONATA_EXPRESSION") for d in result.diagnostics)


def test_result_path_failure_on_a_very_deep_input_has_a_cause():
    # The cause quotes the input; repr() of a very deep value raised RecursionError in turn.
    deep: object = 1
    for _ in range(5000):
        deep = [deep]
    with pytest.raises(StatesError) as caught:
        assign_path(deep, compile_path("$.a.b"), 1)
    assert caught.value.error == "States.ReferencePathConflict"
    assert caught.value.cause.startswith("Unable to apply ReferencePath $.a.b to input ")


# The fuzz run's findings (docs/fuzzing.md), each a regression test with its reproducer.
HUGE, DEEP = "1" * 5000, "[" * 100000
PASS = '{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}'
TASK = ('{"StartAt": "T", "States": {"T": {"Type": "Task", '
        '"Resource": "arn:aws:lambda:us-east-1:123456789012:function:f", "End": true}}}')
BAD_TYPE_HISTORY = ('{"events": [{"type": "ExecutionStarted", "id": 1, "executionStartedEventDetails": '
                    '{"input": "{}"}}, {"type": 1, "id": 2, "previousEventId": 1}]}')


@pytest.mark.parametrize("argv, files, stdin", [
    (["mocks", "from-history", "f", "--name", "x"], {"f": b"\xff\xfe"}, None),
    (["mocks", "from-history", "f", "--name", "x"], {"f": HUGE}, None),
    (["mocks", "from-history", "f", "--name", "x"], {"f": DEEP}, None),
    (["mocks", "from-history", "f", "--name", "x"], {"f": BAD_TYPE_HISTORY}, None),
    (["run", "d", "--mock-config", "f", "--test-case", "T"], {"d": TASK, "f": b"\xff\xfe"}, None),
    (["run", "d", "--mock-config", "f", "--test-case", "T"], {"d": TASK, "f": HUGE}, None),
    (["run", "d", "--input", "-"], {"d": PASS}, b"\xff\xfe"),
    (["validate", "-"], {}, b"\xff\xfe"),
    (["test-state", "d", "P", "--variables", HUGE], {"d": PASS}, None),
    (["test-state", "d", "P", "--variables", DEEP], {"d": PASS}, None),
    (["graph", "d", "--history", "f"], {"d": PASS, "f": HUGE}, None),
    (["graph", "d", "--history", "f"], {"d": PASS, "f": DEEP}, None),
    (["test-state", "d", "P", "--input", "f"], {"d": PASS, "f": '{"a": 1e400}'}, None),
    (["run", "d", "--input-json", '"\\ud800"'], {"d": PASS}, None),
    (["test-state", "d", "P", "--input-json", '"\\ud800"'], {"d": PASS}, None),
    (["validate", "d"], {"d": '{"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "\\udfff"}}}'}, None),
], ids=["history-binary", "history-5000-digits", "history-deep", "history-field-types", "mockconfig-binary",
        "mockconfig-5000-digits", "stdin-binary-run", "stdin-binary-validate", "variables-5000-digits",
        "variables-deep", "graph-history-5000-digits", "graph-history-deep", "test-state-input-1e400",
        "run-output-lone-surrogate", "test-state-output-lone-surrogate", "validate-message-lone-surrogate"])
def test_known_finding(tmp_path, monkeypatch, argv, files, stdin):
    from click.testing import CliRunner

    from asl.cli.main import get_cli

    monkeypatch.chdir(tmp_path)
    for name, content in files.items():
        (tmp_path / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    result = CliRunner().invoke(get_cli(), argv, input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 1, 2, 3) and "Traceback" not in result.output
