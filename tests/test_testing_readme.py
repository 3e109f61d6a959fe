"""The README's "Testing workflows" section is true: its example is samples/order/test_order.py
and passes, and the outputs it shows are what the commands and assertions print."""
from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest
from click.testing import CliRunner

from asl.cli.main import get_cli
from conftest import ROOT, SAMPLES

README = (ROOT / "README.md").read_text(encoding="utf-8")
SECTION = README[README.index("## Testing workflows"):README.index("\n## Conformance")]
EXAMPLE = SAMPLES / "order" / "test_order.py"


def blocks(kind: str, after: str) -> list[str]:
    part = SECTION[SECTION.index(after):]
    return re.findall(rf"```{kind}\n(.*?)```", part, re.S)


def invoke(*args):
    return CliRunner().invoke(get_cli(), [str(a) for a in args])


def test_the_example_is_the_sample_test_file():
    assert blocks("python", "### A complete example")[0] == EXAMPLE.read_text(encoding="utf-8")


def test_the_example_passes_and_its_coverage_is_as_shown():
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", str(EXAMPLE.relative_to(ROOT)),
                           "--asl-coverage"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "5 passed" in done.stdout
    shown = blocks("console", "### Workflow coverage")[0].splitlines()
    assert shown[0] == "$ python -m pytest samples/order/test_order.py --asl-coverage" and shown[1] == "..."
    printed = done.stdout.splitlines()
    start = next(i for i, line in enumerate(printed) if "asl workflow coverage" in line)
    assert [line.strip("- ") for line in printed[start:start + len(shown) - 2]] == \
        [line.strip("- ") for line in shown[2:]]


def test_the_failure_texts_are_what_the_assertions_say():
    sys.path.insert(0, str(EXAMPLE.parent))
    try:
        from test_order import ORDER, mocks
    finally:
        sys.path.remove(str(EXAMPLE.parent))
    from asl.engine.testing import Workflow

    run = Workflow(SAMPLES / "order" / "order.json").run(ORDER, mocks=mocks())
    messages = []
    for check in (lambda: run.assert_path(["ValidateOrder", "ProcessPayment", "RecordDecline", "NotifyParties",
                                           "CheckPayment", "PaymentDeclined"]),
                  lambda: run.assert_output({**run.output, "payment": {"status": "PAID", "transactionId": "tx-8"}})):
        with pytest.raises(AssertionError) as info:
            check()
        messages.append(str(info.value).splitlines())
    shown = blocks("console", "When an assertion fails")[0].split("\n\n")
    path_lines = [line[len("E       "):] for line in shown[0].splitlines()]
    assert path_lines == ["AssertionError: " + messages[0][0]] + messages[0][1:]
    diff_lines = [line[len("E       "):] for line in shown[1].splitlines()]
    assert diff_lines[0] == "AssertionError: " + messages[1][0] and diff_lines[1:] == messages[1][1:len(diff_lines)]


def test_the_test_state_block():
    block = blocks("console", "### `asl test-state")[0]
    command, *shown = block.strip("\n").splitlines()
    result = CliRunner().invoke(get_cli(), shlex.split(command[len("$ asl "):]))
    assert result.exit_code == 0
    assert result.output.splitlines() == shown


def test_the_record_and_replay_block(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    order = SAMPLES / "order"
    for case, given in (("HappyPath", "input.json"), ("incident-42", "input-declined.json")):
        history = tmp_path / f"{case}.json"
        invoke("run", order / "order.json", "--input", order / given, "--handlers", order / "handlers.py",
               "--virtual-time", "-q", "--history", history)
        made = invoke("mocks", "from-history", history, "--name", "order", "--mock-config",
                      tmp_path / "MockConfigFile.json", "--cases", tmp_path / "cases.json")
        assert made.exit_code == 0, made.output
    command, *shown = blocks("console", "### Record and replay")[0].strip("\n").splitlines()
    args = shlex.split(command[len("$ asl "):].replace("tests/", f"{tmp_path}/"))
    result = CliRunner().invoke(get_cli(), args)
    assert result.exit_code == 0
    assert result.output.splitlines() == shown
