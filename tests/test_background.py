"""Detached work (asl.engine.background): an anyio task group held while its owner serves (the
service's ASGI lifespan, a chunked executor from `start` to `aclose`)."""
from __future__ import annotations

import logging

import anyio
import pytest

from asl.engine.background import Background


def test_detached_work_runs_while_serving_and_ends_with_it(caplog) -> None:
    ended: list[str] = []

    async def forever(name: str) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            ended.append(name)

    async def fails() -> None:
        raise ValueError("broken")

    async def main() -> None:
        background = Background(logging.getLogger("asl.test"), "not serving")
        with pytest.raises(RuntimeError, match="^not serving$"):
            background.spawn(forever, "early")
        async with background.serving():
            running = background.spawn(forever, "running")
            failed = background.spawn(fails, name="failing work")
            await failed.wait()  # logged: the others go on
            stopped = background.spawn(forever, "stopped")
            stopped.cancel()  # (before it has begun)
            await stopped.wait()
            assert ended == ["stopped"] and not running.done.is_set()
        assert running.done.is_set() and ended == ["stopped", "running"]
        with pytest.raises(RuntimeError, match="^not serving$"):
            background.spawn(forever, "late")

    with caplog.at_level(logging.ERROR, logger="asl.test"):
        anyio.run(main)
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [("asl.test", "ERROR", "failing work failed")]
    assert "ValueError: broken" in caplog.text


def test_a_failure_while_serving_comes_out_as_it_is() -> None:
    """(the ASGI lifespan's startup.failed message is the error's own, not an exception group's)"""
    async def main() -> None:
        background = Background()
        async with background.serving():
            background.spawn(anyio.sleep_forever)
            raise OSError("the store is away")

    with pytest.raises(OSError, match="^the store is away$"):
        anyio.run(main)
