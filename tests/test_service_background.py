"""The service's detached work (asl.service.background): an anyio task group held while it serves."""
from __future__ import annotations

import logging

import anyio
import pytest

from asl.service.background import Background


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
        background = Background()
        with pytest.raises(RuntimeError, match="not serving"):
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
        with pytest.raises(RuntimeError, match="not serving"):
            background.spawn(forever, "late")

    with caplog.at_level(logging.ERROR, logger="asl.service"):
        anyio.run(main)
    assert [r.getMessage() for r in caplog.records] == ["failing work failed"]
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
