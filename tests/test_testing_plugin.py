"""The pytest plugin, driven through pytester: fixtures, failure texts, coverage, snapshots."""
from __future__ import annotations

import json

import pytest

from conftest import SAMPLES

pytest_plugins = ["pytester"]

HEADER = '''
from asl.engine.testing import by_attempt, per_iteration, raises

ORDER = {"orderId": "o-1", "customer": "ann@example.com", "express": False,
         "items": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 2}]}
MOCKS = {"Reserve": {"ok": True}, "Ship": {"tracking": "T"}, "Email": {"sent": 1}, "Sms": {"sent": 1}}
'''


@pytest.fixture
def project(pytester):
    """A pytester project holding the shipping sample beside its tests."""
    pytester.makefile(".json", shipping=(SAMPLES / "shipping" / "shipping.json").read_text())
    return pytester


def test_the_plugin_is_registered_through_its_entry_point(pytester):
    config = pytester.parseconfig()
    plugin = config.pluginmanager.get_plugin("asl")
    assert plugin is not None and plugin.__name__ == "asl.engine.testing.plugin"
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*AWS Step Functions workflow tests (asl-engine)*", "*--asl-coverage*",
                                 "*--asl-snapshot-update*"])


def test_asl_workflow_loads_once_and_runs_with_mocks(project):
    project.makepyfile(test_flow=HEADER + '''
import asl

calls = []
real_load = asl.load


def counting_load(*args, **kwargs):
    calls.append(args)
    return real_load(*args, **kwargs)


asl.load = counting_load


def test_happy(asl_workflow):
    run = asl_workflow("shipping.json").run(ORDER, mocks=MOCKS)
    run.assert_succeeded().assert_path(["ReserveItems", "ChooseSpeed", "WaitForPickup", "Ship", "Notify", "Shipped"])
    assert run.duration == 3600


def test_retried(asl_workflow):
    flow = asl_workflow("shipping.json")
    run = flow.run(ORDER, mocks=dict(MOCKS, Ship=by_attempt(raises("Courier.Unavailable"), {"tracking": "T"})))
    assert run.attempts("Ship") == 2 and flow.name == "shipping.json"


def test_loaded_once():
    assert len(calls) == 1
''')
    project.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=3)


def test_failure_messages_show_the_diverging_path_and_the_output_diff(project):
    project.makepyfile(test_fail=HEADER + '''
def test_path(asl_workflow):
    run = asl_workflow("shipping.json").run(dict(ORDER, express=True), mocks=MOCKS)
    run.assert_path(["ReserveItems", "ChooseSpeed", "WaitForPickup", "Ship"])


def test_plain_assert(asl_workflow):
    run = asl_workflow("shipping.json").run(dict(ORDER, express=True), mocks=MOCKS)
    assert run.path == ["ReserveItems", "ChooseSpeed", "WaitForPickup", "Ship"]


def test_output(asl_workflow):
    run = asl_workflow("shipping.json").run(ORDER, mocks=MOCKS)
    run.assert_output(dict(run.output, shipment={"tracking": "X"}))
''')
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=3)
    table = ["the path differs at step 3: expected 'WaitForPickup', got 'Ship'",
             "   step  expected       actual",
             "      1  ReserveItems   ReserveItems",
             "      2  ChooseSpeed    ChooseSpeed",
             " >    3  WaitForPickup  Ship",
             "      4  Ship           Notify",
             "      5  -              Shipped",
             "expected: ReserveItems → ChooseSpeed → WaitForPickup → Ship",
             "actual:   ReserveItems → ChooseSpeed → Ship → Notify → Shipped"]
    result.stdout.fnmatch_lines(["E       AssertionError: " + table[0]] + ["E       " + line for line in table[1:]]
                                + ["E       the run ended SUCCEEDED"])
    # a plain ``assert run.path == [...]`` gets the same table (pytest_assertrepr_compare)
    result.stdout.fnmatch_lines(["E       AssertionError: assert the path taken differs from the expected one"]
                                + ["E         " + line for line in table])
    result.stdout.fnmatch_lines([
        "E       AssertionError: output differs (- expected, + actual):",
        "E       --- expected",
        "E       +++ actual",
        "E       @@ *",
        'E       -    "tracking": "X"',
        'E       +    "tracking": "T"',
    ])
    assert "engine/testing/results.py" not in result.stdout.str()  # the test's line, not the library's


def test_coverage_in_the_terminal_and_as_json(project):
    project.makepyfile(test_cov=HEADER + '''
def test_standard(asl_workflow):
    asl_workflow("shipping.json").run(ORDER, mocks=MOCKS).assert_succeeded()


def test_out_of_stock(asl_workflow):
    run = asl_workflow("shipping.json").run(ORDER, mocks=dict(
        MOCKS, Reserve=per_iteration({1: raises("Stock.Missing")}, default={"ok": True})))
    run.assert_failed("Order.OutOfStock")
''')
    result = project.runpytest("-p", "no:cacheprovider", "--asl-coverage-json=out/coverage.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "*- asl workflow coverage -*",
        "machine * runs * states * choice rules * retriers * catchers * branches * total",
        "shipping.json * 2 * 10/10 * 1/2 * 0/2 * 1/1 * 3/3 * 15/18 83%",
        "never exercised:",
        "  shipping.json",
        "    retry   Reserve.Retry[0] [Warehouse.Busy]",
        "    choice  ChooseSpeed.Choices[0] → Ship",
        "    retry   Ship.Retry[0] [Courier.Unavailable]",
        "coverage JSON written to out/coverage.json",
    ])
    data = json.loads((project.path / "out" / "coverage.json").read_text())
    [machine] = data["machines"]
    assert (machine["name"], machine["runs"], machine["covered"], machine["total"]) == ("shipping.json", 2, 15, 18)
    assert {e["id"]: e["hits"] for e in machine["elements"]}["ReserveItems.Catch[0]"] == 1


def test_coverage_is_merged_across_xdist_workers(project):
    pytest.importorskip("xdist")
    body = HEADER + """
def test_standard(asl_workflow):
    asl_workflow("shipping.json").run(ORDER, mocks=MOCKS).assert_succeeded()
"""
    project.makepyfile(test_a=body, test_b=HEADER + """
def test_out_of_stock(asl_workflow):
    run = asl_workflow("shipping.json").run(ORDER, mocks=dict(
        MOCKS, Reserve=per_iteration({1: raises("Stock.Missing")}, default={"ok": True})))
    run.assert_failed("Order.OutOfStock")


def test_express(asl_workflow):
    asl_workflow("shipping.json").run(dict(ORDER, express=True), mocks=MOCKS).assert_succeeded()
""")
    result = project.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--dist", "loadfile",
                                          "--asl-coverage-json=out/coverage.json", "--asl-coverage-fail-under=80")
    result.assert_outcomes(passed=3)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*2 workers*", "shipping.json * 3 * 10/10 * 2/2 * 0/2 * 1/1 * 3/3 * 16/18 89%",
                                 "required workflow coverage of 80% reached (total 88.9%)"])
    [machine] = json.loads((project.path / "out" / "coverage.json").read_text())["machines"]
    hits = {e["id"]: e["hits"] for e in machine["elements"]}
    assert machine["runs"] == 3 and hits["ChooseSpeed.Choices[0]"] == 1 and hits["ReserveItems"] == 3
    below = project.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--asl-coverage-fail-under=95")
    assert below.ret == pytest.ExitCode.TESTS_FAILED  # judged on the merged total, by the controller
    below.stdout.fnmatch_lines(["required workflow coverage of 95% FAIL: not reached (total 88.9%)"])


def test_coverage_fail_under_fails_the_session(project):
    project.makepyfile(test_cov=HEADER + '''
def test_standard(asl_workflow):
    asl_workflow("shipping.json").run(ORDER, mocks=MOCKS).assert_succeeded()
''')
    result = project.runpytest("-p", "no:cacheprovider", "--asl-coverage-fail-under=90")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["required workflow coverage of 90% FAIL: not reached (total 72.2%)"])
    assert project.runpytest("-p", "no:cacheprovider", "--asl-coverage-fail-under=60").ret == 0


def test_no_coverage_report_unless_asked(project):
    project.makepyfile(test_cov=HEADER + '''
def test_standard(asl_workflow):
    asl_workflow("shipping.json").run(ORDER, mocks=MOCKS)
''')
    result = project.runpytest("-p", "no:cacheprovider")
    assert "asl workflow coverage" not in result.stdout.str()


def test_history_snapshots_are_written_on_request_then_compared(project):
    test = HEADER + '''
def test_ship(asl_workflow, asl_snapshot):
    asl_snapshot.assert_match(asl_workflow("shipping.json").run(ORDER, mocks=dict(MOCKS, Ship=TRACKING)))
'''
    project.makepyfile(test_snap=test.replace("TRACKING", '{"tracking": "T-1"}'))
    missing = project.runpytest("-p", "no:cacheprovider")
    missing.assert_outcomes(failed=1)
    missing.stdout.fnmatch_lines(["E       AssertionError: no history snapshot at */__snapshots__/test_snap/"
                                  "test_ship.history.json; write it with pytest --asl-snapshot-update*"])
    project.runpytest("-p", "no:cacheprovider", "--asl-snapshot-update").assert_outcomes(passed=1)
    assert (project.path / "__snapshots__" / "test_snap" / "test_ship.history.json").is_file()
    project.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=1)
    project.makepyfile(test_snap=test.replace("TRACKING", '{"tracking": "T-2"}'))
    changed = project.runpytest("-p", "no:cacheprovider")
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines(["E       AssertionError: the history differs from the snapshot "
                                  "*test_ship.history.json (- snapshot, + this run):",
                                  "E       --- snapshot", "E       +++ this run",
                                  '*-          "tracking": "T-1"', '*+          "tracking": "T-2"'])


def test_asl_workflow_takes_a_dict_and_names_a_missing_file(project):
    project.makepyfile(test_sources='''
import pytest
import asl


def test_dict(asl_workflow):
    flow = asl_workflow({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
    assert flow.run({"a": 1}).output == {"a": 1}


def test_missing(asl_workflow):
    with pytest.raises(asl.DefinitionError, match="File not found: nope.json"):
        asl_workflow("nope.json")
''')
    project.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_mistakes_in_the_test_are_shown_at_the_tests_line_with_every_problem(project):
    """A MockError, an unknown test case, a bad input or definition is the test's mistake: pytest
    shows the test's line and the message, not ten frames of the event loop and the engine, and a
    MockError lists each distinct problem (it said "(and 1 more)" and hid which)."""
    project.makepyfile(test_mistakes=HEADER + '''
from asl.engine.testing import when


def test_two_mistakes(asl_workflow):
    asl_workflow("shipping.json").run(dict(ORDER, express=True),
                                      mocks=dict(MOCKS, Email=when({"to": "bob"}, 1), Sms=when({"to": "bob"}, 1)))


def test_unknown_test_case(asl_workflow):
    asl_workflow("shipping.json").run(ORDER, mocks=MOCKS, test_case="Nope",
                                      mock_config={"StateMachines": {"shipping": {"TestCases": {"A": {}}}},
                                                   "MockedResponses": {}})


def test_bad_input(asl_workflow):
    asl_workflow("shipping.json").test_state("Ship", {"a": {1, 2}})


def test_bad_definition(asl_workflow):
    asl_workflow({"StartAt": "P", "States": {"P": {"Type": "Pass", "Next": "Q"}}})
''')
    result = project.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(failed=4)
    out = result.stdout.str()
    result.stdout.fnmatch_lines([
        "E       asl.engine.testing.mocks.MockError: no when() rule of the mock for state 'Email' matches its input *",
        "E       and: no when() rule of the mock for state 'Sms' matches its input *",
        "test_mistakes.py:11: MockError"])
    result.stdout.fnmatch_lines(["E       asl.engine.tasks.MockConfigError: state machine 'shipping' has no test "
                                 "case 'Nope'*", "test_mistakes.py:16: MockConfigError"])
    result.stdout.fnmatch_lines(["E       asl.engine.starting.InvalidExecutionInput: *",
                                 "test_mistakes.py:22: InvalidExecutionInput"])
    result.stdout.fnmatch_lines(["E       asl.errors.DefinitionError: *", "test_mistakes.py:26: DefinitionError"])
    for internal in ("anyio/", "asyncio/", "engine/testing/workflow.py", "engine/starting.py", "engine/testing/plugin.py"):
        assert internal not in out, internal


def test_a_mock_config_file_is_found_under_the_rootdir_as_the_definition_is(project, monkeypatch):
    """`asl_workflow` finds a definition under the rootdir wherever pytest starts; its MockConfigFile
    was read from the working directory, so from another one the definition loaded and the run
    failed with "no such MockConfigFile"."""
    project.makeini("[pytest]\n")
    project.makefile(".json", MockConfigFile=json.dumps({
        "StateMachines": {"shipping": {"TestCases": {"Happy": {"Reserve": "Ok", "Ship": "Ok", "Email": "Ok",
                                                               "Sms": "Ok"}}}},
        "MockedResponses": {"Ok": {"0-9": {"Return": {"tracking": "T"}}}}}))
    project.makepyfile(test_config=HEADER + '''
def test_by_default(asl_workflow):
    flow = asl_workflow("shipping.json", mock_config="MockConfigFile.json", test_case="Happy")
    flow.run(ORDER).assert_succeeded()


def test_per_run(asl_workflow):
    asl_workflow("shipping.json").run(ORDER, mock_config="MockConfigFile.json", test_case="Happy").assert_succeeded()
''')
    elsewhere = project.mkdir("elsewhere")
    monkeypatch.chdir(elsewhere)
    project.runpytest("-p", "no:cacheprovider", "--rootdir", str(project.path), str(project.path)).assert_outcomes(
        passed=2)


def test_asl_workflow_finds_files_beside_the_test_and_says_where_it_looked(project):
    """pytest's own idiom for test data is the test's folder (tmp_path aside, `request.path`);
    asl_workflow looked only under the rootdir, so tests/order.json named "order.json" from
    tests/test_order.py was "File not found", without saying where it had looked."""
    project.makeini("[pytest]\n")
    tests = project.mkdir("tests")
    (tests / "flow.json").write_text((SAMPLES / "shipping" / "shipping.json").read_text())
    (tests / "MockConfigFile.json").write_text(json.dumps({
        "StateMachines": {"shipping": {"TestCases": {"Happy": {"Reserve": "Ok", "Ship": "Ok", "Email": "Ok",
                                                               "Sms": "Ok"}}}},
        "MockedResponses": {"Ok": {"0-9": {"Return": {"tracking": "T"}}}}}))
    (tests / "test_beside.py").write_text(HEADER + '''
import re
import pytest
import asl


def test_beside(asl_workflow):
    flow = asl_workflow("flow.json", mock_config="MockConfigFile.json", state_machine_name="shipping")
    assert flow.name == "tests/flow.json"
    flow.run(ORDER, test_case="Happy").assert_succeeded()


def test_nowhere(asl_workflow, request):
    with pytest.raises(asl.DefinitionError) as info:
        asl_workflow("flwo.json")
    assert re.search(r"File not found: flwo\\.json \\(asl_workflow looks for it under (.+) and (.+)/tests, then in "
                     r"the working directory ", str(info.value))
''')
    project.runpytest("-p", "no:cacheprovider").assert_outcomes(passed=2)
