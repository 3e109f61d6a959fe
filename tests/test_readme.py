"""The README's examples are what the commands print (durations and dates aside)."""
from __future__ import annotations

import re
import shlex

import pytest
from click.testing import CliRunner

from asl.cli.main import get_cli
from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
TIMES = re.compile(r"<1ms|\+?\d+(\.\d+)?(ms|s)\b|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC")


def console_blocks(heading: str) -> list[str]:
    section = README[README.index(heading):]
    section = section[:section.index("\n## ", 1)] if "\n## " in section[1:] else section
    return re.findall(r"```console\n(.*?)```", section, re.S)


def normal(line: str) -> str:
    return TIMES.sub("T", line).rstrip()


def invoke_shown(block: str, *extra: str):
    command = block.splitlines()[0]
    assert command.startswith("$ asl ")
    return CliRunner().invoke(get_cli(), shlex.split(command[2:])[1:] + list(extra))


@pytest.fixture
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)


def test_quickstart_trace(at_root):
    block = console_blocks("## Quickstart")[0]
    result = invoke_shown(block)
    assert result.exit_code == 0, result.output
    shown = [normal(line) for line in block.splitlines()[1:] if not line.startswith(("{", "}", "  \""))
             and line.strip() != "..."]
    actual = [normal(line) for line in result.stderr.splitlines()]
    # branches run at once: their lines may come in either order
    assert [line for line in shown if not line.startswith("  [")] == \
        [line for line in actual if not line.startswith("  [")]
    assert sorted(line for line in shown if line.startswith("  [")) == \
        sorted(line for line in actual if line.startswith("  ["))
    assert '"payment": {"transactionId": "tx-order-1001-2", "status": "PAID"}' in block  # HashMap order, as AWS
    assert '"transactionId": "tx-order-1001-2"' in result.stdout


def test_quickstart_declined(at_root):
    block = console_blocks("## Quickstart")[1]
    result = CliRunner().invoke(get_cli(), ["run", "samples/order/order.json", "--input",
                                            "samples/order/input-declined.json", "--handlers",
                                            "samples/order/handlers.py"])
    assert result.exit_code == 1
    actual = [normal(line) for line in result.stderr.splitlines()]
    for line in block.splitlines():
        if line != "...":
            assert normal(line) in actual


def test_history_example(at_root, tmp_path):
    path = tmp_path / "history.json"
    CliRunner().invoke(get_cli(), ["run", "samples/order/order.json", "--input", "samples/order/input-empty.json",
                                   "--handlers", "samples/order/handlers.py", "-q", "--history", str(path)])
    block = console_blocks("### `asl history FILE`")[0]
    result = CliRunner().invoke(get_cli(), ["history", str(path)])
    assert result.exit_code == 0
    shown = [normal(line) for line in block.splitlines()[1:]]
    actual = [normal(line) for line in result.stdout.splitlines()]
    assert shown[1:] == actual[1:]
    assert shown[0].replace("history.json", str(path)) == actual[0]


def test_what_the_readme_says_to_install_covers_what_its_sections_use():
    """The asl serve section's clients (boto3, the AWS CLI) are not in the service extra, and
    --executor processes needs the dask extra's cloudpickle: the README says both."""
    import tomllib

    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    serve = README[README.index("### `asl serve`"):]
    serve = serve[:serve.index("\n### ")]
    assert not any(d.startswith(("boto3", "awscli")) for d in extras["service"])
    assert 'pip install -e ".[service]"' in serve and "pip install boto3 awscli" in serve
    assert any(d.startswith("cloudpickle") for d in extras["dask"])
    executor_row = next(line for line in README.splitlines() if line.startswith("| `--executor"))
    assert "`processes` too" in executor_row and "`[dask]` extra" in executor_row


@pytest.mark.parametrize("command, options", [
    (["worker"], ["--until-idle", "--poll", "--lease"]),
    (["executions", "list"], ["--status", "--limit", "--format"]),
])
def test_the_options_of_worker_and_executions_list_are_documented(command, options):
    shown = CliRunner().invoke(get_cli(), [*command, "--help"]).output
    section = README[README.index("### Durable executions"):]
    section = section[:section.index("\n### ")]
    for option in options:
        assert option in shown and option in section, option
