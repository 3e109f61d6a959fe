"""A store opened for one read, as a process of its own would open it."""
from __future__ import annotations

from typing import Any


async def in_store(url: str, read: Any) -> Any:
    """What ``await read(store)`` returns, on a store of `url` opened for it (so nothing is
    cached from before) and closed after."""
    from asl.engine.stores import open_store

    store = open_store(url)
    await store.open()
    try:
        return await read(store)
    finally:
        await store.close()
