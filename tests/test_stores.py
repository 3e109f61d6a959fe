"""The execution stores: the same contract for memory, SQLite and a real PostgreSQL server."""
from __future__ import annotations

import sqlite3

import anyio
import pytest

from asl.engine.stores import Entries, ExecutionRecord, StoredEvent, StoredFact, StoreError, open_store
from asl.engine.stores.schema import SQLITE_MIGRATIONS, current_version
from support.stores import in_store


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def store_url(request, tmp_path):
    if request.param == "memory":
        return "memory"
    if request.param == "sqlite":
        return f"sqlite:{tmp_path / 'runs.db'}"
    return request.getfixturevalue("postgres_url")


def record(n: int = 1, **kw) -> ExecutionRecord:
    base = dict(arn=f"arn:aws:states:us-east-1:123456789012:execution:M:run-{n}", name=f"run-{n}",
                state_machine_arn="arn:aws:states:us-east-1:123456789012:stateMachine:M", state_machine_name="M",
                definition='{"StartAt":"A","States":{"A":{"Type":"Succeed"}}}', input='{"n":%d}' % n,
                seed=n, start_time=1000.0 + n, options={"region": "us-east-1"})
    base.update(kw)
    return ExecutionRecord(**base)


def run(fn):
    return anyio.run(fn)


def test_create_get_update_list(store_url):
    async def go():
        store = open_store(store_url)
        await store.open()
        try:
            assert await store.create(record(1))
            assert not await store.create(record(1, name="other"))  # the ARN exists: nothing written
            assert await store.create(record(2))
            got = await store.get(record(1).arn)
            assert got == record(1)
            assert await store.get("arn:nope") is None
            await store.update(record(1).arn, status="SUCCEEDED", output='{"ok":true}', stop_time=1234.5,
                               options={"region": "eu-west-1"})
            got = await store.get(record(1).arn)
            assert (got.status, got.output, got.stop_time, got.options) == (
                "SUCCEEDED", '{"ok":true}', 1234.5, {"region": "eu-west-1"})
            assert [r.name for r in await store.list()] == ["run-2", "run-1"]  # newest first
            assert [r.name for r in await store.list(status="RUNNING")] == ["run-2"]
            assert [r.name for r in await store.list(limit=1)] == ["run-2"]
            with pytest.raises(StoreError):
                await store.update(record(1).arn, status="DONE")
            with pytest.raises(StoreError):
                await store.update("arn:nope", status="FAILED")
        finally:
            await store.close()
    run(go)


def test_journal_round_trip(store_url):
    events = [StoredEvent(1, "ExecutionStarted", 0, 1000.5, {"input": {"a": [1, "é"]}}, None),
              StoredEvent(2, "PassStateEntered", 1, 1000.6, {"name": "A", "input": {"a": 1}}, ((), 1)),
              StoredEvent(3, "PassStateExited", 2, 1000.7, None, (((("P", 0), 3),), 2))]
    facts = [StoredFact(1, ((), 2), "outcome", {"ok": True, "value": [1, 2]}),
             StoredFact(2, ((("M", 1),), 5), "timer", 1234.25)]

    async def go():
        store = open_store(store_url)
        await store.open()
        try:
            await store.create(record(1))
            await store.append(record(1).arn, events[:2], facts[:1])
            await store.append(record(1).arn, events[2:], facts[1:])
            assert await store.events(record(1).arn) == events
            assert await store.events(record(1).arn, after=2) == events[2:]
            assert await store.facts(record(1).arn) == facts
        finally:
            await store.close()
    run(go)


def test_engine_entries_round_trip(store_url):
    """History entries as the engine hands them over (`Entries`: the tuple form of state events,
    one document shared by a state's output and the next state's input, sites sharing their
    frame's key) read back as the events they spell out, across the database stores' many-row
    INSERTs (more rows than one statement takes, and a remainder)."""
    value = {"a": [1, "é", None, 2.5], "b": {"c": True}}
    key = ((("Map", 0), 3), ("Branch", "x\"y"))
    entries = [("ExecutionStarted", 0, 1000.5 + 1 / 7, {"input": value, "inputDetails": {"truncated": False}}, ((), 1))]
    for i in range(2, 302, 2):
        entered = ("PassStateEntered", i - 1, 1000.5 + i, (f"P{i} ü", "input", value, None), (key, i))
        value = {"step": i, "tags": ["t", i, {"x": None}]}
        assigned = {"v": i} if i % 3 == 0 else None
        exited = ("PassStateExited", i, 1000.5 + i, (f"P{i} ü", "output", value, assigned),
                  None if i % 5 == 0 else (key, i + 1))
        entries += [entered, exited]
    entries.append(("ExecutionSucceeded", 301, 2000.0, None, ((), 302)))
    assert len(entries) > 256 and len(entries) % 128

    async def go():
        store = open_store(store_url)
        await store.open()
        try:
            await store.create(record(1), Entries(1, entries[:1]))
            await store.append(record(1).arn, Entries(2, entries[1:]))
            expected = list(Entries(1, entries))
            assert expected[12].details == {"name": "P12 ü", "output": {"step": 12, "tags": ["t", 12, {"x": None}]},
                                            "assignedVariables": {"v": 12}}
            assert await store.events(record(1).arn) == expected
        finally:
            await store.close()
    run(go)


def test_concurrent_appends_are_all_kept(store_url):
    """Many executions appending at once (group commits) lose nothing."""
    async def go():
        store = open_store(store_url)
        await store.open()
        try:
            for n in range(10):
                await store.create(record(n))

            async def writer(n: int) -> None:
                for i in range(1, 21):
                    await store.append(record(n).arn, [StoredEvent(i, "PassStateEntered", i - 1, float(i),
                                                                   {"name": f"S{i}"}, ((), i))])
            async with anyio.create_task_group() as tg:
                for n in range(10):
                    tg.start_soon(writer, n)
            for n in range(10):
                assert [e.id for e in await store.events(record(n).arn)] == list(range(1, 21))
        finally:
            await store.close()
    run(go)


def test_leases(store_url):
    async def go():
        a, b = open_store(store_url), open_store(store_url)
        if store_url == "memory":
            b = a  # one process: the same store seen by two owners
        await a.open()
        await b.open()
        try:
            for n in range(4):
                await a.create(record(n))
            await a.update(record(3).arn, status="SUCCEEDED")
            first = await a.claim("owner-a", 30, limit=2)
            assert len(first) == 2 and all(r.owner == "owner-a" for r in first)
            second = await b.claim("owner-b", 30)
            assert {r.arn for r in second} == {record(n).arn for n in range(3)} - {r.arn for r in first}
            assert await b.claim("owner-b", 30, arns=[first[0].arn]) == []  # held by owner-a
            assert await a.renew("owner-a", [r.arn for r in first] + [second[0].arn], 30) == [r.arn for r in first]
            await a.release("owner-a", first[0].arn)
            taken = await b.claim("owner-b", 30, arns=[first[0].arn])
            assert [r.arn for r in taken] == [first[0].arn]
            # an expired lease is taken over
            await a.renew("owner-a", [first[1].arn], -1)
            assert [r.arn for r in await b.claim("owner-b", 30)] != []
            assert (await b.get(first[1].arn)).owner == "owner-b"
        finally:
            await a.close()
            if b is not a:
                await b.close()
    run(go)


def test_postgres_claims_never_overlap(postgres_url):
    """Two processes' claims race: SKIP LOCKED gives each execution to exactly one of them."""
    async def go():
        stores = [open_store(postgres_url) for _ in range(4)]
        for s in stores:
            await s.open()
        try:
            for n in range(40):
                await stores[0].create(record(n))
            got: dict[str, list] = {}

            async def claimer(i: int) -> None:
                got[i] = [r.arn for r in await stores[i].claim(f"owner-{i}", 60, limit=40)]
            async with anyio.create_task_group() as tg:
                for i in range(4):
                    tg.start_soon(claimer, i)
            claimed = [arn for arns in got.values() for arn in arns]
            assert len(claimed) == len(set(claimed)) == 40
        finally:
            for s in stores:
                await s.close()
    run(go)


def test_postgres_takes_over_from_a_process_whose_connection_closed(postgres_url):
    """A registered process's executions are claimable once PostgreSQL has seen its lock gone for
    `death_grace` seconds, whatever their leases say; one that gets its lock back is alive again;
    an unregistered owner is still only waited out by its lease."""
    async def go():
        a, b, c = open_store(postgres_url), open_store(postgres_url), open_store(postgres_url)
        for s in (a, b, c):
            await s.open()
        b.death_grace = 0.5
        try:
            for n in range(3):
                await a.create(record(n))
            await a.register_process("owner-a")
            assert await a.stay_registered("owner-a")
            assert len(await a.claim("owner-a", 600, arns=[record(0).arn, record(1).arn])) == 2
            assert len(await c.claim("owner-c", 600, arns=[record(2).arn])) == 1  # never registered
            assert await b.claim("owner-b", 600) == []  # alive, and leases of 10 minutes
            # owner-a's connection closes (as when its process dies): seen at b's next claim,
            # taken over `death_grace` later
            await a._lives["owner-a"].close()
            from asl.engine.stores.postgres import _HELD
            with anyio.fail_after(10):
                while (await b._fetch(f"SELECT {_HELD} FROM processes p"))[0][0]:
                    await anyio.sleep(0.01)  # (the session ends a moment after its connection closes)
            assert await b.claim("owner-b", 600) == []
            await anyio.sleep(0.7)
            taken = await b.claim("owner-b", 600)
            assert sorted(r.arn for r in taken) == [record(0).arn, record(1).arn]
            assert (await b.get(record(2).arn)).owner == "owner-c"  # its lease still holds
            # owner-a's row goes once it holds nothing
            owners = "SELECT owner FROM processes ORDER BY owner"
            assert await b._fetch(owners) == [("owner-a",)]
            await anyio.sleep(0.6)
            await b.claim("owner-b", 600)
            assert await b._fetch(owners) == []
            # owner-a notices: not registered since the last look, then registered again
            assert not await a.stay_registered("owner-a")
            assert await a.stay_registered("owner-a")
            await b.release("owner-b", record(0).arn)
            assert [r.arn for r in await a.claim("owner-a", 600, arns=[record(0).arn])] == [record(0).arn]
            await anyio.sleep(0.7)
            await b.claim("owner-b", 600)  # alive again: its lease counts once more
            assert (await b.get(record(0).arn)).owner == "owner-a"
            # a second registration of a live owner through another store is refused
            with pytest.raises(StoreError):
                await c.register_process("owner-a")
            # a session of owner-a's that PostgreSQL still counts open (cut off by a network
            # fault) while owner-a has lost it: ended, and the lock taken anew
            import psycopg

            from asl.engine.stores.postgres import _life_keys
            await a._lives["owner-a"].close()
            stale = await psycopg.AsyncConnection.connect(postgres_url, autocommit=True)
            await stale.execute("SELECT pg_advisory_lock(%s, %s)", _life_keys("owner-a"))
            assert not await a.stay_registered("owner-a")
            assert await a.stay_registered("owner-a")
            with pytest.raises(psycopg.OperationalError):
                await stale.execute("SELECT 1")
            # closed: its processes are not registered any more
            await a.close()
            assert not await a.stay_registered("owner-a")
        finally:
            for s in (a, b, c):
                await s.close()
    run(go)


def test_postgres_appends_of_a_former_owner_are_refused(postgres_url):
    """A process writes an execution's journal as its lease holder (`append(owner=)`): once
    another has taken the execution over, its appends write nothing and raise NotOwner, while
    appends of its other executions in the same commit are kept; appends without an owner (a
    Map Run's child records) are not checked."""
    from asl.engine.stores import NotOwner

    def event(n: int) -> StoredEvent:
        return StoredEvent(n, "PassStateEntered", n - 1, 1000.0 + n, {"name": "A"}, None)

    async def go():
        a, b = open_store(postgres_url), open_store(postgres_url)
        for s in (a, b):
            await s.open()
        try:
            for n in range(2):
                await a.create(record(n))
            assert len(await a.claim("owner-a", 600)) == 2
            await a.renew("owner-a", [record(0).arn], -1)  # (its lease ran out)
            assert [r.arn for r in await b.claim("owner-b", 600)] == [record(0).arn]
            refused: list = []

            async def lost() -> None:
                try:
                    await a.append(record(0).arn, [event(1)], owner="owner-a")
                except NotOwner as exc:
                    refused.append(exc)
            async with anyio.create_task_group() as tg:  # (one batch, most likely: either way)
                tg.start_soon(lost)
                tg.start_soon(lambda: a.append(record(1).arn, [event(1)], owner="owner-a"))
            assert refused and await a.events(record(0).arn) == []
            assert [e.id for e in await a.events(record(1).arn)] == [1]
            await b.append(record(0).arn, [event(1)], owner="owner-b")
            await a.append(record(0).arn, [event(2)])
            assert [e.id for e in await b.events(record(0).arn)] == [1, 2]
            # its end written, an execution takes no more entries from its former owner
            await a.append(record(1).arn, [event(2)], changes={"status": "SUCCEEDED", "owner": None},
                           owner="owner-a")
            with pytest.raises(NotOwner):
                await a.append(record(1).arn, [event(3)], owner="owner-a")
            assert [e.id for e in await a.events(record(1).arn)] == [1, 2]
            # a claim by ARN waits for a journal commit holding the row (FOR SHARE), not skips it
            import psycopg

            await b.renew("owner-b", [record(0).arn], -1)
            async with await psycopg.AsyncConnection.connect(postgres_url) as held:
                await held.execute("SELECT 1 FROM executions WHERE arn = %s FOR SHARE", (record(0).arn,))
                async with anyio.create_task_group() as tg:
                    got: list = []

                    async def claim() -> None:
                        got.extend(await a.claim("owner-a", 600, arns=[record(0).arn]))
                    tg.start_soon(claim)
                    await anyio.sleep(0.3)
                    assert got == []  # (waiting)
                    await held.commit()
            assert [r.owner for r in got] == ["owner-a"]
        finally:
            for s in (a, b):
                await s.close()
    run(go)


def test_sqlite_schema_is_versioned(tmp_path):
    path = tmp_path / "runs.db"

    async def go():
        store = open_store(f"sqlite:{path}")
        await store.open()
        await store.close()
    run(go)
    db = sqlite3.connect(path)
    assert db.execute("SELECT max(version) FROM schema_version").fetchone()[0] == current_version(SQLITE_MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute("INSERT INTO schema_version VALUES (999)")
    db.commit()
    db.close()

    async def newer():
        store = open_store(f"sqlite:{path}")
        with pytest.raises(StoreError, match="newer"):
            await store.open()
    run(newer)


def test_open_store_urls(tmp_path):
    assert open_store(None).url == "memory"
    assert open_store(f"{tmp_path}/x.db").url == f"sqlite:{tmp_path}/x.db"
    assert open_store("postgres://u@h/db").url == "postgres://u@h/db"
    for bad in ("mysql://x", "sqlite:"):
        with pytest.raises(StoreError):
            open_store(bad)


def test_postgres_unreachable_is_a_store_error():
    from support.postgres import free_port

    async def go():
        store = open_store(f"postgresql://postgres@127.0.0.1:{free_port()}/x?connect_timeout=2")
        with pytest.raises(StoreError, match="cannot open"):
            await store.open()
    run(go)


def test_resources(store_url):
    """Migration 2: the service's state machines, versions, aliases and activities, as documents."""
    async def go():
        store = open_store(store_url)
        await store.open()
        try:
            m = "arn:aws:states:us-east-1:123456789012:stateMachine:M"
            assert await store.put_resource(m, "stateMachine", {"name": "M", "n": 1}, None, 10.0, replace=False)
            assert not await store.put_resource(m, "stateMachine", {"name": "M", "n": 2}, None, 10.0, replace=False)
            assert (await store.get_resource(m))["n"] == 1
            assert await store.put_resource(m, "stateMachine", {"name": "M", "n": 3}, None, 10.0)
            assert (await store.get_resource(m))["n"] == 3
            for i, created in ((2, 12.0), (1, 11.0)):
                await store.put_resource(f"{m}:{i}", "version", {"v": i}, m, created)
            await store.put_resource("other:1", "version", {"v": 9}, "other", 1.0)
            assert [d["v"] for d in await store.list_resources("version", m)] == [1, 2]  # oldest first
            assert [d["v"] for d in await store.list_resources("version")] == [9, 1, 2]
            assert await store.delete_resource(f"{m}:1")
            assert not await store.delete_resource(f"{m}:1")
            assert await store.get_resource(f"{m}:1") is None
        finally:
            await store.close()
    run(go)


def test_create_under_a_parent_and_retire(store_url):
    """`create(parent=)` writes an execution only while its state machine's resource is there and
    not DELETING; `retire_resource` deletes a machine none of whose executions runs, else marks it
    DELETING (the same contract for every store)."""
    from asl.engine.stores import ResourceGone

    async def go():
        store = open_store(store_url)
        await store.open()
        try:
            m = "arn:aws:states:us-east-1:123456789012:stateMachine:M"
            with pytest.raises(ResourceGone) as gone:
                await store.create(record(1), parent=m)
            assert (gone.value.arn, gone.value.status) == (m, None)
            assert await store.get(record(1).arn) is None
            assert await store.retire_resource(m) is None
            with pytest.raises(ResourceGone) as gone:  # revising creates nothing
                await store.revise_resource(m, lambda doc: {"name": "M", "status": "ACTIVE"})
            assert (gone.value.status, await store.get_resource(m)) == (None, None)
            await store.put_resource(m, "stateMachine", {"name": "M", "status": "ACTIVE"}, None, 10.0)
            await store.revise_resource(m, lambda doc: {**doc, "revisionId": "r2"})
            assert (await store.get_resource(m))["revisionId"] == "r2"
            assert await store.create(record(1), parent=m)
            assert not await store.create(record(1), parent=m)  # (the ARN is taken)
            assert await store.retire_resource(m) is False       # record 1 runs: DELETING
            assert (await store.get_resource(m)) == {"name": "M", "status": "DELETING", "revisionId": "r2"}
            with pytest.raises(ResourceGone) as gone:
                await store.create(record(2), parent=m)
            assert gone.value.status == "DELETING"
            assert await store.get(record(2).arn) is None
            with pytest.raises(ResourceGone) as gone:  # a DELETING mark is never revised away
                await store.revise_resource(m, lambda doc: {**doc, "status": "ACTIVE", "revisionId": "r3"})
            assert gone.value.status == "DELETING"
            assert (await store.get_resource(m)) == {"name": "M", "status": "DELETING", "revisionId": "r2"}
            assert await store.retire_resource(m) is False
            await store.update(record(1).arn, status="SUCCEEDED")
            assert await store.retire_resource(m) is True
            assert await store.get_resource(m) is None
        finally:
            await store.close()
    run(go)


def test_a_retired_machine_takes_its_executions_with_it(store_url):
    """Deleted, a state machine's executions (its Map Runs' children, ``…:stateMachine:M/label``,
    too), their journals and the resources under them or it go: AWS answered DescribeExecution
    and GetExecutionHistory of a deleted machine's executions with ExecutionDoesNotExist, once
    DescribeStateMachine said StateMachineDoesNotExist (raw AWS capture radkawar/stackd
    testdata/aws/stepfunctions/deletion_lifecycle.json poll-9-wait-machine, poll-9-wait-execution,
    poll-9-wait-history; redrive_execution.json cleanup-machine-0-absence-39,
    independent-cleanup-execution-0), and described them while it was DELETING
    (poll-9-activity-execution). Another machine's executions stay, one named alike (M2) too."""
    from asl.engine.stores import StoredEvent, StoredFact

    async def go():
        store = open_store(store_url)
        await store.open()
        try:
            m = "arn:aws:states:us-east-1:123456789012:stateMachine:M"
            await store.put_resource(m, "stateMachine", {"name": "M", "status": "ACTIVE"}, None, 10.0)
            await store.put_resource(m + "/Map", "processor", {"label": "Map"}, m, 11.0)
            child = record(3, arn="arn:aws:states:us-east-1:123456789012:execution:M/Map:c1", state_machine_arn=m + "/Map")
            other = record(4, arn="arn:aws:states:us-east-1:123456789012:execution:M2:run-4",
                           state_machine_arn=m + "2", state_machine_name="M2")
            event = StoredEvent(1, "ExecutionStarted", 0, 1000.0, {"input": "{}"}, None)
            fact = StoredFact(1, None, "note", {"n": 1})
            for r in (record(1), record(2), child, other):
                assert await store.create(r, [event], [fact])
            run_arn = "arn:aws:states:us-east-1:123456789012:mapRun:M/Map:r1"
            await store.put_resource(run_arn, "mapRun", {"mapRunArn": run_arn}, record(1).arn, 12.0)
            assert await store.retire_resource(m) is False  # running executions: DELETING, all readable
            assert await store.get(record(1).arn) is not None and await store.get_resource(run_arn) is not None
            for r in (record(1), record(2), child):
                await store.update(r.arn, status="FAILED")
            assert await store.retire_resource(m) is True
            for r in (record(1), record(2), child):
                assert await store.get(r.arn) is None
                try:  # (the memory store refuses to read the journal of an execution it does not have)
                    assert (await store.events(r.arn), await store.facts(r.arn)) == ([], [])
                except StoreError:
                    pass
            assert (await store.get_resource(run_arn), await store.get_resource(m + "/Map")) == (None, None)
            assert [r.arn for r in await store.list()] == [other.arn]
            assert len(await store.events(other.arn)) == 1 and len(await store.facts(other.arn)) == 1
            assert await store.create(record(1))  # the name is free again, for a new machine M
        finally:
            await store.close()
    run(go)


def test_revise_resource_and_family(store_url):
    """`revise_resource` runs a change function on the document as it is and writes what it
    returns (None: nothing); `revise_family` also reads and writes the resource's children of
    some kinds; a resource not there, or DELETING unless ``live=False``, is `ResourceGone`; an
    error of the change goes through with nothing written; `retire_resource` takes the children
    of the kinds it is given along (the same contract for every store)."""
    from asl.engine.stores import ResourceGone

    async def go():
        store = open_store(store_url)
        await store.open()
        try:
            m = "arn:aws:states:us-east-1:123456789012:stateMachine:M"
            seen: list = []
            with pytest.raises(ResourceGone) as gone:
                await store.revise_resource(m, seen.append)
            assert (gone.value.arn, gone.value.status, seen) == (m, None, [])
            with pytest.raises(ResourceGone):
                await store.revise_family(m, ("version",), seen.append)
            assert seen == [] and await store.get_resource(m) is None

            await store.put_resource(m, "stateMachine", {"name": "M", "n": 1}, None, 10.0)
            assert await store.revise_resource(m, lambda doc: {**doc, "n": doc["n"] + 1}) == {"name": "M", "n": 2}

            def in_place(doc):  # a change of the copy it gets, returning None: nothing written
                doc["n"] = 99
            assert await store.revise_resource(m, in_place) == {"name": "M", "n": 2}
            assert await store.get_resource(m) == {"name": "M", "n": 2}

            def refuse(doc):
                raise KeyError("no")
            with pytest.raises(KeyError):
                await store.revise_resource(m, refuse)

            # a family: the children of the kinds asked for, oldest first, and writes to them
            for i, created in ((2, 12.0), (1, 11.0)):
                await store.put_resource(f"{m}:{i}", "version", {"v": i}, m, created)
            await store.put_resource(f"{m}:live", "alias", {"a": 1}, m, 13.0)
            await store.put_resource(f"{m}/label", "processor", {"p": 1}, m, 14.0)

            def publish(family):
                assert family.arn == m and family.doc == {"name": "M", "n": 2}
                seen.append(dict(family.children))
                family.doc["n"] = 3
                family.put(f"{m}:3", "version", {"v": 3}, 15.0)
                family.delete(f"{m}:1")
                return "published"
            assert await store.revise_family(m, ("version", "alias"), publish) == "published"
            assert seen.pop() == {f"{m}:1": {"v": 1}, f"{m}:2": {"v": 2}, f"{m}:live": {"a": 1}}
            assert await store.get_resource(m) == {"name": "M", "n": 3}
            assert [d["v"] for d in await store.list_resources("version", m)] == [2, 3]
            assert await store.get_resource(f"{m}:1") is None

            def half_done(family):  # nothing of what it did before the error is written
                family.doc["n"] = 4
                family.put(f"{m}:4", "version", {"v": 4}, 16.0)
                family.delete(f"{m}:2")
                raise KeyError("no")
            with pytest.raises(KeyError):
                await store.revise_family(m, ("version",), half_done)
            assert await store.get_resource(m) == {"name": "M", "n": 3}
            assert [d["v"] for d in await store.list_resources("version", m)] == [2, 3]

            # DELETING: refused, unless live=False (which keeps the mark as the change leaves it)
            assert await store.create(record(1), parent=m)
            assert await store.retire_resource(m, ("version", "alias")) is False
            assert await store.get_resource(m) == {"name": "M", "n": 3, "status": "DELETING"}
            assert await store.list_resources("version", m) == [] and await store.list_resources("alias", m) == []
            assert await store.get_resource(f"{m}/label") == {"p": 1}  # (a kind not named stays)
            with pytest.raises(ResourceGone) as gone:
                await store.revise_resource(m, lambda doc: {**doc, "n": 4})
            assert gone.value.status == "DELETING"
            with pytest.raises(ResourceGone):
                await store.revise_family(m, (), lambda family: family.delete(m))
            assert await store.revise_resource(m, lambda doc: {**doc, "tags": [1]}, live=False) == {
                "name": "M", "n": 3, "status": "DELETING", "tags": [1]}

            # the resource itself deleted in its family's transaction
            await store.update(record(1).arn, status="SUCCEEDED")
            await store.revise_family(m, (), lambda family: family.delete(m), live=False)
            assert await store.get_resource(m) is None
        finally:
            await store.close()
    run(go)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_revisions_from_two_stores_at_once(kind, tmp_path, request):
    """Two stores (as two processes) on one SQLite file or PostgreSQL database revise one
    resource at once: each change sees the document the one before it wrote (a counter counts
    every change; a family's version numbers are handed out once each, with a version written
    for each in the same transaction), and a revision racing a deletion never revives it."""
    from asl.engine.stores import ResourceGone

    url = f"sqlite:{tmp_path / 'runs.db'}" if kind == "sqlite" else request.getfixturevalue("postgres_url")

    async def go():
        one, two = open_store(url), open_store(url)
        await one.open()
        await two.open()
        try:
            m = "arn:aws:states:us-east-1:123456789012:stateMachine:M"
            await one.put_resource(m, "stateMachine", {"name": "M", "count": 0, "next": 1, "by": []}, None, 10.0)
            numbers: list[int] = []

            def count(tag: str):
                def change(doc):
                    return {**doc, "count": doc["count"] + 1, "by": doc["by"] + [tag]}
                return change

            def publish(family):
                number = family.doc["next"]
                family.doc["next"] = number + 1
                family.put(f"{m}:{number}", "version", {"v": number}, 100.0 + number)
                return number

            async def revise(store, i: int) -> None:
                await store.revise_resource(m, count(f"{i}"))
                numbers.append(await store.revise_family(m, ("version",), publish))
            async with anyio.create_task_group() as tg:
                for i in range(40):
                    tg.start_soon(revise, (one, two)[i % 2], i)
            doc = await in_store(url, lambda store: store.get_resource(m))
            assert doc["count"] == 40 and sorted(doc["by"], key=int) == [str(i) for i in range(40)]
            assert sorted(numbers) == list(range(1, 41)) and doc["next"] == 41
            assert [d["v"] for d in await in_store(url, lambda store: store.list_resources("version", m))] == \
                list(range(1, 41))

            # revisions racing the deletion: each before it (and deleted with it) or refused
            outcomes: list = []

            async def late(store) -> None:
                try:
                    await store.revise_resource(m, count("late"))
                    outcomes.append("revised")
                except ResourceGone:
                    outcomes.append("gone")

            async def retire() -> None:
                outcomes.append(await two.retire_resource(m, ("version",)))
            async with anyio.create_task_group() as tg:
                for i in range(10):
                    tg.start_soon(late, (one, two)[i % 2])
                    if i == 4:
                        tg.start_soon(retire)
            assert True in outcomes and set(outcomes) <= {True, "revised", "gone"}, outcomes
            assert await in_store(url, lambda store: store.get_resource(m)) is None
            assert await in_store(url, lambda store: store.list_resources("version", m)) == []
        finally:
            await one.close()
            await two.close()
    run(go)


def test_postgres_retire_waits_for_creates_under_the_parent(postgres_url):
    """Two stores (as two processes) on one PostgreSQL database: creates under a machine racing
    its retirement on the other store are each either on record before it (and keep the machine
    DELETING) or refused (ResourceGone); the machine is never deleted under a RUNNING execution."""
    from asl.engine.stores import ResourceGone

    async def go():
        one, two = open_store(postgres_url), open_store(postgres_url)
        await one.open()
        await two.open()
        try:
            for round in range(5):
                m = f"arn:aws:states:us-east-1:123456789012:stateMachine:M{round}"
                await one.put_resource(m, "stateMachine", {"name": f"M{round}"}, None, 10.0)
                outcomes: list = []

                async def start(n: int) -> None:
                    try:
                        outcomes.append(await one.create(record(100 * round + n, state_machine_arn=m), parent=m))
                    except ResourceGone as exc:
                        outcomes.append(exc.status)
                retired: list = []

                async def retire() -> None:
                    retired.append(await two.retire_resource(m))
                async with anyio.create_task_group() as tg:
                    for n in range(8):
                        tg.start_soon(start, n)
                        if n == round:
                            tg.start_soon(retire)
                created = outcomes.count(True)
                assert set(outcomes) <= {True, None, "DELETING"}, outcomes
                assert len(await one.list(status="RUNNING", state_machine_arn=m)) == created
                assert retired == [False if created else True], (outcomes, retired)
                assert (await two.get_resource(m) is None) == (not created)
        finally:
            await one.close()
            await two.close()
    run(go)


def test_postgres_activity_tasks_are_taken_once(postgres_url):
    """Two stores (as two processes) on one PostgreSQL database: tasks offered through one are
    claimed by takers on both at once, each by exactly one, oldest first per taker; an offer of
    a token on record keeps it as it is (a resumed execution's task); the takes and the starts are
    announced; the tasks of executions no longer RUNNING are pruned."""
    async def go():
        one, two = open_store(postgres_url), open_store(postgres_url)
        await one.open()
        await two.open()
        act = "arn:aws:states:us-east-1:123456789012:activity:work"
        heard: list[str] = []

        async def listen(ready: anyio.Event) -> None:
            ready.set()
            async for payload in two.notifications():
                heard.append(payload)
        try:
            for n in range(20):
                await one.create(record(n))
            async with anyio.create_task_group() as tg:
                ready = anyio.Event()
                tg.start_soon(listen, ready)
                await ready.wait()
                for _ in range(500):  # until the listener hears (a probe task offered, withdrawn)
                    await one.offer_task("probe", act + "-probe", record(0).arn, "{}")
                    await one.drop_task("probe")
                    if heard:
                        break
                    await anyio.sleep(0.01)
                assert heard and heard[0] == f"offered {act}-probe"
                for n in range(20):
                    assert await one.offer_task(f"t{n:02}", act, record(n).arn, f'{{"n":{n}}}') == ("offered", None)
                taken: dict[str, list] = {"one": [], "two": []}

                async def taker(name: str, store) -> None:
                    while (task := await store.take_task(act, name)) is not None:
                        taken[name].append(task[0])
                async with anyio.create_task_group() as takers:
                    for name, store in (("one", one), ("two", two)) * 3:
                        takers.start_soon(taker, name, store)
                assert sorted(taken["one"] + taken["two"]) == [f"t{n:02}" for n in range(20)]  # once each
                assert await one.take_task(act, "late") is None
                worker = "one" if "t03" in taken["one"] else "two"
                assert await two.offer_task("t03", act, record(3).arn, "{}") == ("taken", worker)
                assert await one.mark_task("t03", "taken", "started")
                assert not await one.mark_task("t03", "taken", "started")
                assert (await two.task_state("t03"))[0] == "started"
                await one.update(record(3).arn, status="SUCCEEDED")
                assert await one.prune_tasks() == 1 and await one.task_state("t03") is None
                assert await one.drop_task("t04", ("offered",)) is False and await one.drop_task("t04")
                tg.cancel_scope.cancel()
            assert heard.count("started t03") == 1
        finally:
            await one.close()
            await two.close()
    run(go)


def test_postgres_activity_tasks_given_back(postgres_url):
    """A task whose worker never got it is given back: taken, it is offered again (no worker);
    started, it is returned, and the next take hands it out as started (its take is on record);
    tasks of executions no longer RUNNING are not taken; a task ended or given back already is
    not given back again."""
    async def go():
        store = open_store(postgres_url)
        await store.open()
        act = "arn:aws:states:us-east-1:123456789012:activity:work"
        try:
            for n in range(3):
                await store.create(record(n))
                await store.offer_task(f"t{n}", act, record(n).arn, f'{{"n":{n}}}')
            await store.update(record(0).arn, status="SUCCEEDED")
            assert (await store.take_task(act, "a"))[0] == "t1"  # (t0's execution has ended)
            assert await store.return_task("t1")
            assert await store.task_state("t1") == ("offered", None)
            assert not await store.return_task("t1")
            assert (await store.take_task(act, "b"))[0] == "t1"  # oldest first, again
            assert await store.mark_task("t1", "taken", "started")
            assert await store.return_task("t1")
            assert await store.task_state("t1") == ("returned", "b")
            assert (await store.take_task(act, "c"))[:2] == ("t1", '{"n":1}')
            assert await store.task_state("t1") == ("started", "c")
            assert (await store.take_task(act, "d"))[0] == "t2"
            assert await store.take_task(act, "e") is None
            assert await store.drop_task("t1") and not await store.return_task("t1")
        finally:
            await store.close()
    run(go)


def test_postgres_resume_of_a_process_dead_on_another_machine(postgres_url):
    """`asl resume` (`prepare_resume`) of an execution whose process registered from another
    machine and died there (its connection closed; no pid to look at here, a lease of ten
    minutes): the claim itself sees the lock gone and, `death_grace` later, takes it over,
    without a server or worker polling beside it. Not waiting, it says when it can."""
    from asl.engine import LeaseHeld, prepare_resume

    elsewhere = "another-host/pid-ns-1:4242:cafe"

    async def go():
        a, b = open_store(postgres_url), open_store(postgres_url)
        for s in (a, b):
            await s.open()
        b.death_grace = 1.0
        try:
            await a.create(record(0))
            await a.create(record(1))
            await a.register_process(elsewhere)
            assert len(await a.claim(elsewhere, 600, arns=[record(0).arn, record(1).arn])) == 2
            assert await b.takeover_in(elsewhere, "me") is None  # alive
            # its registration connection is probed by the server when quiet (a machine that
            # vanishes without closing it is found out in seconds) and probes the server too
            life = a._lives[elsewhere]
            shown = [(await (await life.execute(f"SHOW tcp_{k}")).fetchone())[0]
                     for k in ("keepalives_idle", "keepalives_interval", "keepalives_count", "user_timeout")]
            assert shown == ["3", "1", "3", "6000"]  # (0 were it not TCP)
            assert life.info.get_parameters()["keepalives_idle"] == "3"
            assert life.info.get_parameters()["tcp_user_timeout"] == "6000"
            with pytest.raises(LeaseHeld, match=r"lease runs out in \d+s"):
                await prepare_resume(b, record(0).arn, owner="me", wait_for_takeover=False)
            await a._lives[elsewhere].close()  # (as when its machine ends the process)
            from asl.engine.stores.postgres import _HELD
            with anyio.fail_after(10):
                while (await b._fetch(f"SELECT {_HELD} FROM processes p"))[0][0]:
                    await anyio.sleep(0.01)  # (the session ends a moment after its connection closes)
            with pytest.raises(LeaseHeld, match="its process has died: it can be taken over in 1s"):
                await prepare_resume(b, record(0).arn, owner="me", wait_for_takeover=False)
            started = anyio.current_time()
            await prepare_resume(b, record(1).arn, owner="me")
            assert 0.5 < anyio.current_time() - started < 5  # (the grace, counted from the first look)
            assert (await b.get(record(1).arn)).owner == "me"
            assert (await b.get(record(0).arn)).owner == elsewhere  # (not asked for)
            assert await b.takeover_in(elsewhere, "me") == 0
        finally:
            for s in (a, b):
                await s.close()
    run(go)


def test_a_resume_refuses_an_execution_claimed_after_it_was_read(store_url):
    """The record was read while nobody held the execution; another process claimed it before
    this one's claim: refused, naming the process that holds it now."""
    from asl.engine import LeaseHeld
    from asl.engine.resuming import _claim

    async def go():
        store = open_store(store_url)
        await store.open()
        try:
            await store.create(record(1))
            read = await store.get(record(1).arn)
            assert read.owner is None
            assert len(await store.claim("other", 600, arns=[read.arn])) == 1
            with pytest.raises(LeaseHeld, match="being run by other"):
                await _claim(store, read, "me", 30)
            assert (await store.get(read.arn)).owner == "other"
        finally:
            await store.close()
    run(go)


def test_the_input_as_its_caller_spelled_it_is_the_records_one_copy(store_url):
    """The record keeps the caller's text as its input (the ExecutionStarted event keeps it for
    the history), not a compact input and a second copy in the options that every read decodes;
    a record an earlier version wrote that way still answers the caller's text."""
    import json

    import asl
    from asl.engine import prepare

    text = '{"items": ["Hello", "World"],\n "n": 1}'

    async def go():
        store = open_store(store_url)
        await store.open()
        try:
            execution = prepare(asl.load({"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}), json.loads(text),
                                name="spelled", virtual_time=False)
            assert execution.keep_input_text(text) == text
            await execution.attach(store)
            kept = await store.get(execution.arn)
            assert kept.input == kept.input_text == text and "inputText" not in kept.options
            await store.create(record(2, input='{"a":1}', options={"region": "us-east-1", "inputText": '{"a": 1}'}))
            assert (await store.get(record(2).arn)).input_text == '{"a": 1}'
        finally:
            await store.close()
    run(go)


def test_lone_surrogates_are_kept_where_utf8_can_hold_them(store_url):
    """JSON may hold a lone surrogate (the escape "\\ud800"; Jackson, AWS's parser, reads it as a
    character), which no UTF-8 encodes, so SQLite and PostgreSQL refuse it as text: a document
    keeps it as its escape (the same JSON value), plain text (an error, a cause) as '?', as Java's
    String.getBytes(UTF_8) writes one; NUL, which PostgreSQL's text refuses, likewise (a caller's
    input may hold one after its JSON value, which Jackson ignores). Written alone and in a batch
    with another execution's rows, which must not fail with it."""
    import json

    lone = "\ud800"
    document = {"a": "x" + lone, lone: [lone]}
    text = json.dumps(document, ensure_ascii=False)  # the character itself, as the engine writes it
    entries = [("ExecutionStarted", 0, 1000.5, {"input": document, "inputDetails": {"truncated": False}}, ((), 1)),
               ("PassStateEntered", 1, 1000.6, ("P" + lone, "input", document, {"v" + lone: lone}), ((), 2))]
    facts = [StoredFact(1, ((("P" + lone, 0),), 2), "outcome", {"ok": True, "value": document})]
    kept = "memory" == store_url

    async def go():
        store = open_store(store_url)
        await store.open()
        try:
            odd = record(1, definition=text, input=text + " \x00")
            async with anyio.create_task_group() as group:  # (one commit for both, in the database stores)
                group.start_soon(store.create, odd, Entries(1, entries))
                group.start_soon(store.create, record(2))
            await store.append(odd.arn, [], facts)
            await store.update(odd.arn, status="FAILED", output=text, error="E" + lone, cause="C\x00")
            got = await store.get(odd.arn)
            assert [json.loads(t) for t in (got.definition, got.output)] == [document] * 2
            assert json.JSONDecoder().raw_decode(got.input)[0] == document
            assert (got.error, got.cause) == (("E" + lone, "C\x00") if kept else ("E?", "C?"))
            assert await store.events(odd.arn) == list(Entries(1, entries))
            assert await store.facts(odd.arn) == facts
            assert (await store.get(record(2).arn)) == record(2)
            await store.put_resource("arn:r", "activity", {"doc": document})
            assert await store.get_resource("arn:r") == {"doc": document}
        finally:
            await store.close()
    run(go)
