"""The recorded AWS service cases (../shared/conformance/service), replayed by their reference
runner against an endpoint; what failed beyond a test's list of expected failures."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def replay(shared: Path, endpoint: str, kinds: str, tmp: Path, *extra: str) -> tuple[str, list[tuple[str, str]]]:
    """Run the cases of `kinds` against `endpoint`: (the runner's stdout, [(case, why it failed)])."""
    failures = tmp / "failures.tsv"
    done = subprocess.run([sys.executable, str(shared / "conformance" / "service" / "run_cases.py"), "--endpoint",
                           endpoint, "--kinds", kinds, "--failures", str(failures), "--ignore-extra-keys", *extra],
                          capture_output=True, text=True, timeout=600)
    assert "service conformance:" in done.stdout, done.stdout + done.stderr
    failed = [tuple(line.split("\t", 1)) for line in failures.read_text().splitlines() if line.strip()]
    return done.stdout, failed  # type: ignore[return-value]


def unexpected(failed: list[tuple[str, str]], expected: dict[str, str]) -> str:
    """The failures no prefix of `expected` (case name prefix -> one-line reason) accounts for."""
    return "\n".join(f"{name}: {why}" for name, why in failed if not any(name.startswith(p) for p in expected))
