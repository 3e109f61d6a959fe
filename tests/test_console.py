"""The web console in a real headless Chromium (Debian's `chromium`, driven by Playwright),
against `asl serve` and `asl console` as real processes; executions made with real boto3.

Screenshots go to tests/output/console/ (or $ASL_CONSOLE_SHOTS) for people to look at."""
from __future__ import annotations

import json
import os
import re
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from test_service import ASL, ROLE, ROOT, Server, boto3, wait_done  # noqa: F401 - boto3: skips without it

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
if not os.path.exists(CHROMIUM):
    pytest.skip(f"no {CHROMIUM} (apt-get install chromium; .ci/run installs it)", allow_module_level=True)

SHOTS = Path(os.environ.get("ASL_CONSOLE_SHOTS") or ROOT / "tests" / "output" / "console")
LAMBDA = "arn:aws:lambda:us-east-1:123456789012:function:"

# Tasks that wait for the test to open a gate (a file) before they return: the execution
# advances exactly when the test says, with no timing involved.
HANDLERS = '''
import os, time
from asl.engine import TaskFailed

GATES = os.path.dirname(os.path.abspath(__file__))

def gate(name):
    def handler(event, context):
        while not os.path.exists(os.path.join(GATES, name)):
            time.sleep(0.02)
        return {**event, name: "passed"}
    return handler

def charge(event, context):
    raise TaskFailed("Payment.Declined", f"card limit is 500, order {event['orderId']} asks for {event['amount']}")

def fallback(event, context):
    if not os.path.exists(os.path.join(GATES, "fallback-fixed")):
        raise TaskFailed("Fallback.Unavailable", "the fallback gateway is down for maintenance")
    return {"paidBy": "fallback"}

def flaky(event, context):
    raise TaskFailed("Gateway.Busy", "try again later")

def declined_later(event, context):
    gate("decline")(event, context)
    raise TaskFailed("Payment.Declined", "the card was declined")

def double(event, context):
    return {"doubled": event["n"] * 2}

HANDLERS = {"Gate1": gate("gate1"), "Gate2": gate("gate2"), "Charge": charge, "Fallback": fallback,
            "Double": double, "Flaky": flaky, "DeclinedLater": declined_later}
'''

GATED = {"StartAt": "Work1", "States": {
    "Work1": {"Type": "Task", "Resource": LAMBDA + "Gate1", "Next": "Work2"},
    "Work2": {"Type": "Task", "Resource": LAMBDA + "Gate2", "Next": "Done"},
    "Done": {"Type": "Succeed"}}}
PAYMENT = {"StartAt": "Charge", "States": {
    "Charge": {"Type": "Task", "Resource": LAMBDA + "Charge", "ResultPath": "$.payment",
               "Catch": [{"ErrorEquals": ["Payment.Declined"], "ResultPath": "$.declined", "Next": "Fallback"}],
               "Next": "Done"},
    "Fallback": {"Type": "Task", "Resource": LAMBDA + "Fallback", "ResultPath": "$.payment", "Next": "Done"},
    "Done": {"Type": "Succeed"}}}
WAITING = {"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 3600, "Next": "After"},
                                         "After": {"Type": "Pass", "End": True}}}
RETRYING = {"StartAt": "Call", "States": {"Call": {
    "Type": "Task", "Resource": LAMBDA + "Flaky", "End": True,
    "Retry": [{"ErrorEquals": ["Gateway.Busy"], "IntervalSeconds": 3600, "MaxAttempts": 2}]}}}
# the second branch fails (once the test opens its gate) while the first waits to retry; the
# Parallel then waits an hour to retry
CUT_WHILE_RETRYING = {"StartAt": "Both", "States": {"Both": {
    "Type": "Parallel", "End": True, "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 3600}],
    "Branches": [RETRYING, {"StartAt": "Charge", "States": {"Charge": {
        "Type": "Task", "Resource": LAMBDA + "DeclinedLater", "End": True}}}]}}}
FAN_OUT = {"StartAt": "Fan", "States": {"Fan": {
    "Type": "Map", "Label": "Fan", "End": True,
    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}, "StartAt": "Double",
                      "States": {"Double": {"Type": "Task", "Resource": LAMBDA + "Double", "End": True}}}}}}


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    context.close()
    assert errors == []  # no script error on any page the test opened


@pytest.fixture
def served(tmp_path):
    (tmp_path / "handlers.py").write_text(HANDLERS)
    srv = Server(tmp_path, f"sqlite:{tmp_path / 'runs.db'}", "--handlers", str(tmp_path / "handlers.py")).start()
    srv.sfn = srv.client()
    yield srv
    if srv.proc.poll() is None:
        srv.stop()


def create(sfn, name: str, definition: dict) -> str:
    return sfn.create_state_machine(name=name, definition=json.dumps(definition), roleArn=ROLE)["stateMachineArn"]


def shot(page, name: str) -> None:
    """The whole page, and what a screen shows of it (``-screen``: docs/console-execution.png is one)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for suffix, full in (("", True), ("-screen", False)):
        path = SHOTS / f"{name}{suffix}.png"
        page.screenshot(path=str(path), full_page=full)
        print(f"screenshot: {path}")


def open_execution(page, server, arn: str) -> None:
    page.goto(f"{server.endpoint}/#/execution/{arn}")


def expect_outcomes(page, **outcomes: str) -> None:
    """Wait until each state of the graph shows its outcome (the page polls while it runs)."""
    for state, outcome in outcomes.items():
        sync_api.expect(page.locator(f'#graph [data-state="{state}"]')).to_have_attribute(
            "data-outcome", outcome, timeout=15000)


# --------------------------------------------------------------------------------------------

def test_execution_page_colours_the_path_as_it_advances(served, page, tmp_path):
    machine = create(served.sfn, "gated", GATED)
    arn = served.sfn.start_execution(stateMachineArn=machine, name="live", input='{"order": 7}')["executionArn"]
    open_execution(page, served, arn)
    sync_api.expect(page.locator("h1 .badge")).to_have_text("RUNNING")
    expect_outcomes(page, Work1="running", Work2="not visited", Done="not visited")
    # the graph is Graphviz's drawing of asl.graph: one SVG node per state
    assert page.locator("#graph svg g.node[data-state]").count() == 3
    shot(page, "execution-running-work1")

    (tmp_path / "gate1").touch()
    expect_outcomes(page, Work1="succeeded", Work2="running", Done="not visited")
    shot(page, "execution-running-work2")

    (tmp_path / "gate2").touch()
    sync_api.expect(page.locator("h1 .badge")).to_have_text("SUCCEEDED", timeout=15000)
    expect_outcomes(page, Work1="succeeded", Work2="succeeded", Done="succeeded")
    assert page.locator("#stop").count() == 0
    # never redriven (redriveCount 0): no redrive facts, and no stray "0" beside the duration
    assert page.locator("#redrive-count").count() == 0
    assert loose_text(page.locator("dl.facts")) == []

    # the event table holds every event of GetExecutionHistory, in order, with its step
    events = served.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    rows = page.locator("#event-table tr.event-row")
    sync_api.expect(rows).to_have_count(len(events))
    first = rows.nth(1).locator("td")
    assert [first.nth(i).inner_text() for i in range(3)] == ["2", "TaskStateEntered", "Work1"]
    assert rows.nth(len(events) - 1).locator("td").nth(1).inner_text() == "ExecutionSucceeded"
    assert rows.nth(2).locator("td").nth(1).inner_text() == events[2]["type"] == "LambdaFunctionScheduled"
    rows.nth(2).click()  # its details open below it
    details = page.locator("#event-table tr.event-details").nth(2)
    sync_api.expect(details).to_be_visible()
    assert json.loads(details.inner_text())["resource"] == LAMBDA + "Gate1"

    # a state's input, parameters, result and output
    page.locator('#graph [data-state="Work2"]').click()
    visit = page.locator('#state-detail .visit[data-state="Work2"]')
    sync_api.expect(visit).to_have_attribute("data-outcome", "succeeded")
    assert json.loads(visit.locator('[data-field="input"]').inner_text()) == {"order": 7, "gate1": "passed"}
    assert json.loads(visit.locator('[data-field="parameters"]').inner_text()) == {"order": 7, "gate1": "passed"}
    assert json.loads(visit.locator('[data-field="result"]').inner_text()) == \
        {"order": 7, "gate1": "passed", "gate2": "passed"}
    assert json.loads(page.locator("#execution-output").inner_text()) == json.loads(
        served.sfn.describe_execution(executionArn=arn)["output"])
    shot(page, "execution-succeeded")


def loose_text(element) -> list[str]:
    """The text `element` holds outside its child elements (a value rendered where none belongs)."""
    return element.evaluate("e => [...e.childNodes].filter(n => n.nodeType === Node.TEXT_NODE && n.data.trim())"
                            ".map(n => n.data)")


def test_start_an_execution_from_the_page(served, page, tmp_path):
    (tmp_path / "gate1").touch()
    (tmp_path / "gate2").touch()
    machine = create(served.sfn, "gated", GATED)
    version = served.sfn.publish_state_machine_version(stateMachineArn=machine, description="first")[
        "stateMachineVersionArn"]
    served.sfn.create_state_machine_alias(name="live", description="what users run", routingConfiguration=[
        {"stateMachineVersionArn": version, "weight": 100}])
    page.goto(f"{served.endpoint}/")
    page.get_by_role("link", name="gated").first.click()
    sync_api.expect(page.locator("#definition")).to_contain_text('"StartAt": "Work1"')
    sync_api.expect(page.locator("#versions tr.version td").first).to_have_text("gated:1")
    sync_api.expect(page.locator("#aliases tr.alias td")).to_have_text(["live", "gated:1: 100%", "what users run"])
    sync_api.expect(page.locator("#graph [data-state]")).to_have_count(3)
    page.locator("#start-input").fill("{not json")
    page.locator("#start").click()
    sync_api.expect(page.locator("#start-message")).to_contain_text("The input is not JSON")
    page.locator("#start-input").fill('{"customer": "ada"}')
    page.locator("#start-name").fill("from-the-page")
    page.locator("#start").click()
    page.wait_for_url(re.compile(r".*#/execution/.*from-the-page"))
    sync_api.expect(page.locator("h1 .badge")).to_have_text("SUCCEEDED", timeout=15000)
    arn = f"arn:aws:states:us-east-1:123456789012:execution:gated:from-the-page"
    described = served.sfn.describe_execution(executionArn=arn)
    assert described["status"] == "SUCCEEDED" and json.loads(described["input"]) == {"customer": "ada"}
    assert served.sfn.list_executions(stateMachineArn=machine)["executions"][0]["name"] == "from-the-page"
    # the same name again: the API's refusal is shown, nothing started
    page.goto(f"{served.endpoint}/#/machine/{machine}")
    page.locator("#start-input").fill('{"customer": "bob"}')
    page.locator("#start-name").fill("from-the-page")
    page.locator("#start").click()
    sync_api.expect(page.locator("#start-message")).to_contain_text("ExecutionAlreadyExists")
    assert len(served.sfn.list_executions(stateMachineArn=machine)["executions"]) == 1


def test_stop_an_execution(served, page):
    machine = create(served.sfn, "waiting", WAITING)
    arn = served.sfn.start_execution(stateMachineArn=machine, name="long-wait")["executionArn"]
    open_execution(page, served, arn)
    expect_outcomes(page, Hold="running", After="not visited")
    page.locator("#stop").click()
    sync_api.expect(page.locator("h1 .badge")).to_have_text("ABORTED", timeout=15000)
    expect_outcomes(page, Hold="aborted", After="not visited")
    assert served.sfn.describe_execution(executionArn=arn)["status"] == "ABORTED"
    events = served.sfn.get_execution_history(executionArn=arn)["events"]
    assert events[-1]["type"] == "ExecutionAborted"
    sync_api.expect(page.locator("#event-table tr.event-row").last).to_contain_text("ExecutionAborted")
    shot(page, "execution-stopped")


def test_the_executions_list_follows_running_executions(served, page):
    machine = create(served.sfn, "waiting", WAITING)
    arn = served.sfn.start_execution(stateMachineArn=machine, name="held")["executionArn"]
    page.goto(f"{served.endpoint}/#/executions")
    badge = page.locator("tr.execution-row .badge")
    sync_api.expect(badge).to_have_text(["RUNNING"])
    served.sfn.stop_execution(executionArn=arn, error="Ops.Cancelled", cause="stopped by the API")
    sync_api.expect(badge).to_have_text(["ABORTED"], timeout=15000)  # no reload: the list refreshes itself
    page.locator("tr.execution-row a").click()
    sync_api.expect(page.locator("#execution-error")).to_have_text("Ops.Cancelled")
    sync_api.expect(page.locator("#execution-cause")).to_have_text("stopped by the API")


def test_a_task_waiting_to_retry_is_running(served, page):
    machine = create(served.sfn, "retrying", RETRYING)
    arn = served.sfn.start_execution(stateMachineArn=machine, name="busy")["executionArn"]
    open_execution(page, served, arn)
    # its first attempt failed; the retry waits an hour: the state is running, its error shown
    sync_api.expect(page.locator("#event-table tr.event-row").last).to_contain_text("LambdaFunctionFailed",
                                                                                  timeout=15000)
    expect_outcomes(page, Call="running")
    page.locator('#graph [data-state="Call"]').click()
    visit = page.locator('#state-detail .visit[data-state="Call"]')
    sync_api.expect(visit).to_have_attribute("data-outcome", "running")
    sync_api.expect(visit.locator('[data-field="cause"]')).to_have_text("try again later")
    page.locator("#stop").click()
    sync_api.expect(page.locator("h1 .badge")).to_have_text("ABORTED", timeout=15000)
    # stopped during the retry's wait: cut short (AWS's console: cancelled), not failed
    expect_outcomes(page, Call="aborted")
    sync_api.expect(page.locator('#state-detail .visit[data-state="Call"]')).to_have_attribute("data-outcome",
                                                                                             "aborted")


def test_a_task_waiting_to_retry_in_a_branch_cut_short_is_not_running(served, page, tmp_path):
    """The other branch's failure cut the branch short while its Task waited to retry: the Task
    was aborted (AWS's console: cancelled), not running, while the Parallel waits to retry."""
    machine = create(served.sfn, "cut", CUT_WHILE_RETRYING)
    arn = served.sfn.start_execution(stateMachineArn=machine, name="cut")["executionArn"]
    open_execution(page, served, arn)
    sync_api.expect(page.locator("#event-table tr.event-row").last).to_contain_text("LambdaFunctionFailed",
                                                                                  timeout=15000)
    expect_outcomes(page, Both="running", Call="running", Charge="running")
    (tmp_path / "decline").touch()
    expect_outcomes(page, Both="running", Call="aborted", Charge="failed")
    assert served.sfn.describe_execution(executionArn=arn)["status"] == "RUNNING"
    page.locator('#graph [data-state="Call"]').click()
    visit = page.locator('#state-detail .visit[data-state="Call"]')
    sync_api.expect(visit).to_have_attribute("data-outcome", "aborted")
    sync_api.expect(visit.locator('[data-field="cause"]')).to_have_text("try again later")


def test_express_executions_are_kept_for_the_page(served, page, tmp_path):
    """The API keeps no record of Express executions (as AWS); the server keeps its latest ones
    for the console: one started from the page opens as a Standard one does, as does one
    started with StartSyncExecution."""
    machine = served.sfn.create_state_machine(name="quick", definition=json.dumps(PAYMENT), roleArn=ROLE,
                                              type="EXPRESS")["stateMachineArn"]
    page.goto(f"{served.endpoint}/#/machine/{machine}")
    page.locator("#start-input").fill('{"orderId": "o-1", "amount": 900}')
    page.locator("#start-name").fill("from-the-page")
    page.locator("#start").click()
    page.wait_for_url(re.compile(r".*#/execution/.*express.*quick.*from-the-page"))
    sync_api.expect(page.locator("h1 .badge")).to_have_text("FAILED", timeout=15000)
    sync_api.expect(page.locator("#execution-type")).to_contain_text("Express")
    expect_outcomes(page, Charge="caught", Fallback="failed", Done="not visited")
    sync_api.expect(page.locator("#execution-cause")).to_have_text("the fallback gateway is down for maintenance")
    assert page.locator("#stop").count() == 0 and page.locator("#redrive").count() == 0
    sync_api.expect(page.locator("#event-table tr.event-row").last).to_contain_text("ExecutionFailed")
    shot(page, "execution-express")

    (tmp_path / "fallback-fixed").touch()
    done = served.sfn.start_sync_execution(stateMachineArn=machine, name="synced",
                                           input='{"orderId": "o-2", "amount": 900}')
    assert done["status"] == "SUCCEEDED"
    with pytest.raises(served.sfn.exceptions.InvalidArn):  # the API describes no Express execution
        served.sfn.describe_execution(executionArn=done["executionArn"])
    page.goto(f"{served.endpoint}/#/machine/{machine}")
    rows = page.locator("tr.execution-row")
    sync_api.expect(rows.locator("td:first-child")).to_have_text(["synced", "from-the-page"])
    sync_api.expect(rows.locator(".badge")).to_have_text(["SUCCEEDED", "FAILED"])
    rows.first.locator("a").click()
    expect_outcomes(page, Charge="caught", Fallback="succeeded", Done="succeeded")
    assert json.loads(page.locator("#execution-output").inner_text()) == json.loads(done["output"])


def test_console_requests_refused_as_the_api_refuses(served):
    def call(path: str, body: bytes | None = None, **headers: str) -> tuple[int, dict]:
        request = urllib.request.Request(served.endpoint + "/console/api/" + path, data=body, headers=headers)
        try:
            with urllib.request.urlopen(request) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read())

    missing = "arn:aws:states:us-east-1:123456789012:execution:nope:nope"
    assert call("execution?arn=" + missing) == (400, {
        "error": "ExecutionDoesNotExist", "message": f"Execution Does Not Exist: '{missing}'"})
    assert call("executions?status=DONE")[0] == 400
    assert call("executions?page=two")[0] == 400
    assert call("nothing")[0] == 404
    assert call("start", b"{", **{"Content-Type": "application/json"})[0] == 400
    assert call("start", b"[]", **{"Content-Type": "application/json"})[0] == 400
    # another site's page cannot act: a form post (no JSON), or a script from another origin
    machine = create(served.sfn, "waiting", WAITING)
    body = json.dumps({"stateMachineArn": machine}).encode()
    assert call("start", body, **{"Content-Type": "text/plain"})[0] == 415
    assert call("start", body, **{"Content-Type": "application/json", "Origin": "http://evil.example"})[0] == 403
    assert served.sfn.list_executions(stateMachineArn=machine)["executions"] == []
    status, started = call("start", body, **{"Content-Type": "application/json", "Origin": served.endpoint})
    assert status == 200 and served.sfn.describe_execution(executionArn=started["executionArn"])["status"] == "RUNNING"


def test_a_failed_state_shows_its_cause_and_redrive_goes_on(served, page, tmp_path):
    machine = create(served.sfn, "payment", PAYMENT)
    arn = served.sfn.start_execution(stateMachineArn=machine, name="declined",
                                     input='{"orderId": "o-9", "amount": 750}')["executionArn"]
    wait_done(served.sfn, arn)
    open_execution(page, served, arn)
    sync_api.expect(page.locator("h1 .badge")).to_have_text("FAILED")
    expect_outcomes(page, Charge="caught", Fallback="failed", Done="not visited")
    sync_api.expect(page.locator("#execution-error")).to_have_text("Fallback.Unavailable")
    sync_api.expect(page.locator("#execution-cause")).to_have_text("the fallback gateway is down for maintenance")
    page.locator('#graph [data-state="Fallback"]').click()
    visit = page.locator('#state-detail .visit[data-state="Fallback"]')
    sync_api.expect(visit.locator('[data-field="error"]')).to_have_text("Fallback.Unavailable")
    sync_api.expect(visit.locator('[data-field="cause"]')).to_have_text("the fallback gateway is down for maintenance")
    page.locator('#graph [data-state="Charge"]').click()
    caught = page.locator('#state-detail .visit[data-state="Charge"]')
    sync_api.expect(caught).to_have_attribute("data-outcome", "caught")
    sync_api.expect(caught.locator('[data-field="cause"]')).to_have_text("card limit is 500, order o-9 asks for 750")
    shot(page, "execution-failed")

    (tmp_path / "fallback-fixed").touch()
    page.locator("#redrive").click()
    sync_api.expect(page.locator("h1 .badge")).to_have_text("SUCCEEDED", timeout=15000)
    expect_outcomes(page, Charge="caught", Fallback="succeeded", Done="succeeded")
    described = served.sfn.describe_execution(executionArn=arn)
    assert described["status"] == "SUCCEEDED" and described["redriveCount"] == 1
    # the runs: the first (which failed) and the redrive, split where ExecutionRedriven opens it
    sync_api.expect(page.locator("#redrive-count")).to_have_text("1")
    sync_api.expect(page.locator("#redrive-date")).not_to_be_empty()
    runs = page.locator("#runs tr.run")
    sync_api.expect(runs).to_have_count(2)
    sync_api.expect(runs.locator(".badge")).to_have_text(["FAILED", "SUCCEEDED"])
    sync_api.expect(runs.locator("td:first-child")).to_have_text(["First run", "Redrive 1"])
    events = served.sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]
    redriven = [e["id"] for e in events if e["type"] == "ExecutionRedriven"]
    assert len(redriven) == 1
    sync_api.expect(runs.locator("td:last-child")).to_have_text([f"1–{redriven[0] - 1}",
                                                                 f"{redriven[0]}–{events[-1]['id']}"])
    assert [e["type"] for e in events if e["id"] == redriven[0] - 1] == ["ExecutionFailed"]
    shot(page, "execution-redriven")


def test_map_runs_with_item_counts(served, page):
    machine = create(served.sfn, "fan", FAN_OUT)
    arn = served.sfn.start_execution(stateMachineArn=machine, input=json.dumps([{"n": i} for i in range(3)]))[
        "executionArn"]
    wait_done(served.sfn, arn)
    map_run = served.sfn.list_map_runs(executionArn=arn)["mapRuns"][0]["mapRunArn"]
    counts = served.sfn.describe_map_run(mapRunArn=map_run)["itemCounts"]
    open_execution(page, served, arn)
    row = page.locator("#map-runs tr.map-run")
    sync_api.expect(row.locator(".item-counts")).to_have_text(
        f"{counts['succeeded']} succeeded, 0 failed, 0 running, 0 pending, 0 aborted, 0 timed out · {counts['total']} total")
    assert counts["succeeded"] == counts["total"] == 3
    row.locator("a").click()
    rows = page.locator("tr.execution-row")
    sync_api.expect(rows).to_have_count(3)
    rows.first.locator("a").click()  # a child execution: its own graph (the item processor)
    expect_outcomes(page, Double="succeeded")


def test_page_through_a_thousand_executions(tmp_path, page):
    server = Server(tmp_path, "memory").start()
    try:
        sfn = server.client()
        machine = create(sfn, "many", {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})
        names = {f"run-{i:04d}" for i in range(1000)}
        for name in sorted(names):
            sfn.start_execution(stateMachineArn=machine, name=name)
        page.goto(f"{server.endpoint}/#/executions?machine={machine}")
        info = page.locator("#page-info")
        sync_api.expect(info).to_have_text("page 1 of 20 · 1000 executions")
        seen: list[str] = []
        for number in range(1, 21):
            sync_api.expect(info).to_contain_text(f"page {number} of 20")
            rows = page.locator("tr.execution-row td:first-child")
            sync_api.expect(rows).to_have_count(50)
            seen += rows.all_inner_texts()
            if number == 1:
                shot(page, "executions-page-1")
            if number < 20:
                page.locator("#next-page").click()
        assert sync_api.expect(page.locator("#next-page")).to_be_disabled() is None
        assert len(seen) == 1000 and set(seen) == names
        assert seen == sorted(seen, reverse=True)  # newest first: started in name order

        page.locator("#search").fill("run-0042")
        page.locator("#search").press("Enter")
        sync_api.expect(info).to_have_text("page 1 of 1 · 1 execution")
        sync_api.expect(page.locator("tr.execution-row td:first-child")).to_have_text(["run-0042"])
        page.locator("#search").fill("")
        page.locator("#search").press("Enter")
        page.locator("#status-filter").select_option("FAILED")
        sync_api.expect(info).to_have_text("page 1 of 1 · 0 executions")
        page.locator("#status-filter").select_option("SUCCEEDED")
        page.locator("#page-size").select_option("1000")
        sync_api.expect(info).to_have_text("page 1 of 1 · 1000 executions", timeout=15000)
        sync_api.expect(page.locator("tr.execution-row")).to_have_count(1000)
    finally:
        server.stop()


@pytest.mark.parametrize("graphviz", [True, False], ids=["graphviz", "no-graphviz"])
def test_asl_console_over_a_store_without_the_api(tmp_path, page, graphviz):
    store = f"sqlite:{tmp_path / 'runs.db'}"
    definition = tmp_path / "order.json"
    definition.write_text((ROOT / "samples" / "order" / "order.json").read_text())
    done = subprocess.run([*ASL, "run", str(definition), "--input", str(ROOT / "samples/order/input-declined.json"),
                           "--handlers", str(ROOT / "samples/order/handlers.py"), "--store", store, "-q"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    console = Server(tmp_path, store, command="console")
    if not graphviz:  # no `dot` on PATH: the graph is the states listed, coloured the same way
        console.env = {"PATH": str(tmp_path / "nothing-here")}
    console.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as refused:  # no Step Functions API here
            urllib.request.urlopen(urllib.request.Request(console.endpoint + "/", data=b"{}", headers={
                "X-Amz-Target": "AWSStepFunctions.ListStateMachines"}))
        assert refused.value.code == 404
        page.goto(f"{console.endpoint}/#/executions")
        rows = page.locator("tr.execution-row")
        sync_api.expect(rows).to_have_count(1)
        sync_api.expect(rows.first.locator(".badge")).to_have_text("FAILED")
        rows.first.locator("a").click()
        expect_outcomes(page, ValidateOrder="succeeded", ProcessPayment="caught", RecordDecline="succeeded",
                        EmailCustomer="succeeded", ReserveStock="succeeded", OrderConfirmed="not visited",
                        PaymentDeclined="failed")
        sync_api.expect(page.locator("#execution-cause")).to_have_text(
            "The payment was declined; the customer has been told.")
        page.locator('#graph [data-state="ProcessPayment"]').click()
        visit = page.locator('#state-detail .visit[data-state="ProcessPayment"]')
        sync_api.expect(visit).to_contain_text("1 retry: ConnectionError")
        sync_api.expect(visit.locator('[data-field="error"]')).to_have_text("Payment.Declined")
        sync_api.expect(visit.locator('[data-field="cause"]')).to_have_text(
            "card limit is 500, order order-1002 asks for 750.0")
        assert page.locator("#graph svg").count() == (1 if graphviz else 0)
        assert page.locator("#graph .boxes .node").count() == (0 if graphviz else 10)
        shot(page, "console-order-declined" + ("" if graphviz else "-no-graphviz"))

        # its state machine exists only in its executions' records: a page made from them
        page.locator("#header a", has_text="stateMachine:order").click()
        sync_api.expect(page.locator("#recorded")).to_contain_text("Known from its executions")
        definition = json.loads(page.locator("#definition").inner_text())
        assert definition == json.loads((ROOT / "samples" / "order" / "order.json").read_text())
        sync_api.expect(page.locator("#graph [data-state]")).to_have_count(10)
        sync_api.expect(page.locator("tr.execution-row .badge")).to_have_text(["FAILED"])
        assert page.locator("#start").count() == 0 and page.locator("#versions").count() == 0
        page.goto(f"{console.endpoint}/#/")
        sync_api.expect(page.locator("#machines tr td").first).to_have_text("order")
        sync_api.expect(page.locator("#machines")).to_contain_text("from its executions")
    finally:
        console.stop()



def test_the_console_gives_the_apis_times(tmp_path):
    """A record of ``asl run --virtual-time`` keeps its clock's microseconds; the API gives its times
    to the millisecond, as AWS writes them (test_service_times), and so does the console: the same
    times, and its own (a state's entry and exit, the time since the start) made from them."""
    from test_service_times import JAVA_TIME, TIMES, raw

    store = f"sqlite:{tmp_path / 'runs.db'}"
    done = subprocess.run([*ASL, "run", str(ROOT / "samples/order/order.json"), "--input",
                           str(ROOT / "samples/order/input-declined.json"), "--handlers",
                           str(ROOT / "samples/order/handlers.py"), "--store", store, "--virtual-time", "-q"],
                          cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    server = Server(tmp_path, store).start()
    try:
        with urllib.request.urlopen(f"{server.endpoint}/console/api/executions") as answer:
            arn, = (e["executionArn"] for e in json.loads(answer.read())["executions"])
        described = json.loads(raw(server, "DescribeExecution", {"executionArn": arn}))
        history = json.loads(raw(server, "GetExecutionHistory", {"executionArn": arn}))["events"]
        with urllib.request.urlopen(f"{server.endpoint}/console/api/execution?arn={arn}") as answer:
            text = answer.read().decode()
    finally:
        server.stop()
    assert all(JAVA_TIME.fullmatch(value) for _, value in TIMES.findall(text))
    shown = json.loads(text)
    assert {k: shown["execution"][k] for k in ("startDate", "stopDate")} == {
        k: described[k] for k in ("startDate", "stopDate")}
    times = [e["timestamp"] for e in history]
    assert [e["timestamp"] for e in shown["events"]] == times
    assert [e["elapsedMs"] for e in shown["events"]] == [round((t - times[0]) * 1000) for t in times]
    assert times[-1] - times[0] >= 1  # (the retry's virtual second)
    entries = [s["entered"] for s in shown["states"]] + [s["exited"] for s in shown["states"] if s["exited"]]
    assert entries and set(entries) <= set(times)
    assert [(r["startDate"], r["stopDate"]) for r in shown["runs"]] == [(times[0], times[-1])]


def test_asl_console_bad_options_are_one_line(tmp_path):
    for args, message in ((["--store", "bogus:x"], "asl console: unknown store 'bogus:x'"),
                          (["--handlers", str(tmp_path / "none.py")], f"asl console: {tmp_path / 'none.py'}: no such")):
        done = subprocess.run([*ASL, "console", "--port", "0", *args], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 2 and done.stderr.startswith(message) and "Traceback" not in done.stderr
