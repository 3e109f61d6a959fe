"""The README's library example runs as printed (from the repository root)."""
from __future__ import annotations

import os
import re

from conftest import ROOT


def test_library_example_runs(capsys):
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## The library"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        exec(compile(code, "README.md (The library)", "exec"), {})
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out.splitlines()
    # (a JSONPath ResultSelector's object in java.util.HashMap order, as AWS writes it)
    assert out[0] == "{'transactionId': 'tx-1', 'status': 'PAID'}"
    assert out[2] == "ExecutionSucceeded"
