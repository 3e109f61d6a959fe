"""A Map Run's document is written one write at a time: a delayed save of its children's
progress still in flight when the Map Run ends cannot land after the end and leave it RUNNING.

Found by a full run under load (tests/test_service_shared_maprun.py::
test_stopping_through_the_other_server: the parent ABORTED, its Map Run RUNNING a minute later):
PostgreSQL's store writes through a pool of connections, so two writes in flight at once can
apply in either order. The store here is the real in-memory store behind a wrapper that takes
the document when the write is asked for (as the SQL stores serialize it) and lets the first
write of a RUNNING document take longer than the next one: the order a busy pool can give."""
from __future__ import annotations

import json

import anyio

from asl.engine.background import Background
from asl.engine.stores.memory import MemoryStore
from asl.service.maprun import MAP_RUN, MapRuns

ARN = "arn:aws:states:us-east-1:123456789012:mapRun:m/Fan:0f2b6f2e-1d8e-4c57-9f43-6b1b8a1b2c3d"


class SlowFirstRunningWrite:
    """The memory store, whose first write of a RUNNING Map Run document waits `delay` s."""

    def __init__(self, store: MemoryStore, delay: float):
        self.store, self.delay, self.slowed = store, delay, False

    async def put_resource(self, arn, kind, doc, parent=None, created=0.0, *, replace=True):
        frozen = json.loads(json.dumps(doc))  # what the write carries: the document as it was asked
        if frozen.get("status") == "RUNNING" and not self.slowed:
            self.slowed = True
            await anyio.sleep(self.delay)
        return await self.store.put_resource(arn, kind, frozen, parent, created, replace=replace)

    def __getattr__(self, name):
        return getattr(self.store, name)


def test_a_map_runs_end_is_its_last_write():
    async def scenario() -> dict:
        store = MemoryStore()
        background = Background()
        async with background.serving():
            runs = MapRuns(SlowFirstRunningWrite(store, delay=0.5), background)
            doc = {"kind": MAP_RUN, "mapRunArn": ARN, "executionArn": "arn:aws:states:us-east-1:123456789012:"
                   "execution:m:e", "status": "RUNNING", "startDate": 1.0, "children": {"0": "RUNNING"}}
            runs.docs[ARN], runs.controls[ARN], runs.sizes[ARN] = doc, object(), [1]
            runs._save_soon(doc)  # a child's progress: written SAVE_DELAY later
            await anyio.sleep(MapRuns.SAVE_DELAY + 0.1)  # ... that write is now in flight (slowly)
            await runs.map_run_finished(ARN, "ABORTED", None)
            await anyio.sleep(0.7)  # long enough for the slow write to have landed
        return await store.get_resource(ARN)

    saved = anyio.run(scenario)
    assert saved["status"] == "ABORTED" and "stopDate" in saved
