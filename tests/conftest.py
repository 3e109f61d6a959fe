"""Shared test fixtures: where ../shared (the conformance cases and benchmarks) lives."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import settings

# No time limit on an example: Hypothesis's default deadline (200 ms) is a timed assertion, and
# on a loaded 2-core machine a first call (imports, caches) can take longer. Tests that set
# @settings(...) inherit this profile's deadline.
settings.register_profile("asl", deadline=None)
settings.load_profile("asl")

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ASL_SHARED", ROOT.parent / "shared")).resolve()
CASES_DIR = SHARED / "conformance" / "cases"
SAMPLES = ROOT / "samples"


def conformance_cases() -> list[dict]:
    """Every conformance case, read straight from ../shared/conformance (never copied)."""
    if not CASES_DIR.is_dir():
        raise RuntimeError(f"conformance cases not found at {CASES_DIR}: set ASL_SHARED to the shared/ folder")
    cases = []
    for path in sorted(CASES_DIR.glob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        case["_file"] = path.name
        cases.append(case)
    return cases


@pytest.fixture
def samples() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server for the session (started on first use)."""
    from support.postgres import PostgresServer

    server = PostgresServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server, request) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    import re

    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:40] + f"_{os.getpid()}_{id(request)}"
    return postgres_server.create_database(name[:63])


@pytest.fixture(scope="session")
def moto_server():
    """moto's server as a real process on a free loopback port, for the session (started on first use)."""
    from support.moto import MotoServer

    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def aws(moto_server, monkeypatch):
    """The ``aws=`` option of a run against moto's server, with fake credentials in the
    environment (botocore's default chain reads them) and moto's state reset."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    moto_server.reset()
    return {"endpoints": {"*": moto_server.url}, "region": "us-east-1"}
