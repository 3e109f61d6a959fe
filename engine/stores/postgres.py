"""The PostgreSQL store (psycopg 3, async): several processes or machines share the work.

Each RUNNING execution is advanced by one process at a time, the holder of its lease:
`claim` picks free or expired executions with ``SELECT ... FOR UPDATE SKIP LOCKED`` (two
claimers never wait for, nor take, the same rows) and stamps them with the owner and a lease
deadline; the owner renews its leases while it runs. When a process dies its leases run out
and another process's next `claim` takes its executions over and resumes them from the journal.

A process that runs executions (`asl serve`, `asl worker`) also registers itself
(`register_process`): it holds a session advisory lock on a connection of its own, which
PostgreSQL lets go the moment that connection closes, as it does when the process dies, even
by ``kill -9``. The others' `claim` see the lock gone and take its executions over
`death_grace` seconds later, long before its leases would run out; the process itself checks
its lock every second (`stay_registered`) and, should it ever have lost it while alive (the
database restarted, the connection broke), stops advancing what it ran and claims it again.
A machine that vanishes without closing its connections is found out by TCP keepalive probes
on that connection (about 6 s), and, should those not go through, by the leases.

Appends are group-committed as in the SQLite store. Needs the ``postgres`` extra
(``pip install -e ".[postgres]"`` in the clone).
"""
from __future__ import annotations

import json
import time
from typing import Any, Callable, Iterable

from . import (DELETING, RECORD_COLUMNS, ExecutionRecord, Family, GroupCommit, NotOwner, RevisesInFamilies,
               StoredEvent, StoredFact, StoreError, check_changes, check_parent, journal_rows, list_query, dumps, record_from_row,
               record_row, site_value, storable_json)
from .schema import POSTGRES_MIGRATIONS, current_version

_COLUMNS = ",".join(RECORD_COLUMNS)


def _lock_row(a: str, b: str) -> str:
    """The condition on pg_locks' columns of the held advisory lock with the int4 keys `a`, `b`
    (SQL expressions): pg_locks shows them as classid and objid, with objsubid 2."""
    return f"locktype = 'advisory' AND granted AND objsubid = 2 AND classid = {a}::oid AND objid = {b}::oid"


# whether a process's registration lock is held (`processes.key_a/key_b`: its two keys)
_HELD = (f"EXISTS (SELECT 1 FROM pg_locks WHERE {_lock_row('p.key_a', 'p.key_b')} "
         "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))")
_NOW = "extract(epoch FROM clock_timestamp())"  # the database's clock: one for every process
_LOCK_KEY = 0x61736C  # advisory lock held while migrating ("asl")
ACTIVITY_CHANNEL = "asl_activity_tasks"  # LISTEN/NOTIFY channel of the activity tasks' changes


# TCP settings of a registration connection, on both ends (libpq's option; PostgreSQL's setting
# is tcp_ + the option's name, less its own tcp_): a peer that vanished is found out within 6 s,
# by keepalive probes while the connection is quiet (idle 3 s, then 3 probes 1 s apart), by the
# user timeout while an answer waits unacknowledged (6,000 ms)
_TCP = {"keepalives_idle": 3, "keepalives_interval": 1, "keepalives_count": 3, "tcp_user_timeout": 6000}

_COPY_EVENTS = "COPY events (arn, id, type, previous_id, timestamp, details, site) FROM STDIN"
_COPY_FACTS = "COPY facts (arn, seq, site, kind, value) FROM STDIN"


class PostgresStore(RevisesInFamilies):
    # seconds between another process's first sight of a registered process's lock gone and the
    # takeover of its executions: more than that process needs to notice a lost lock and stop
    # (`stay_registered` every second, each check at most CHECK_SECONDS)
    death_grace = 5.0
    CHECK_SECONDS = 2.0
    shared = True

    def __init__(self, url: str, pool_size: int = 4):
        if url.startswith("postgres:") and not url.startswith("postgres://"):
            url = "postgresql:" + url[len("postgres:"):]
        self.url = url
        self._pool_size = pool_size
        self._pool: Any = None
        self._group = GroupCommit(self._commit_rows)
        # the processes registered through this store: the connection holding each one's lock
        # (None: lost, to be taken again)
        self._lives: dict[str, Any] = {}
        self._ended: set[str] = set()  # registered through this store until it was closed

    async def open(self) -> None:
        if self._pool is not None:
            return
        try:
            import psycopg
            from psycopg_pool import AsyncConnectionPool
        except ImportError:
            from ...extras import install_hint

            raise StoreError(f"the PostgreSQL store needs psycopg: {install_hint('postgres')}") from None
        try:  # one direct connection first: a wrong URL fails at once, not after the pool's retries
            probe = await psycopg.AsyncConnection.connect(self.url, connect_timeout=10)
            await probe.close()
        except Exception as exc:
            raise StoreError(f"cannot open {self._safe_url()}: {str(exc).strip()}") from None
        # (a call waits at most 10 s for a connection: while the server is away, the caller is
        # told so before its own client gives up; psycopg_pool's default is 30 s)
        pool = AsyncConnectionPool(self.url, min_size=1, max_size=self._pool_size, open=False,
                                   kwargs={"autocommit": True}, timeout=10)
        try:
            await pool.open(wait=True, timeout=15)
            await self._migrate(pool)
        except Exception as exc:
            await pool.close()
            raise StoreError(f"cannot open {self._safe_url()}: {exc}") from None
        self._pool = pool

    def _safe_url(self) -> str:
        import re
        return re.sub(r"//([^:@/]+):[^@/]*@", r"//\1:***@", self.url)

    async def _migrate(self, pool: Any) -> None:
        async with pool.connection() as conn:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
                await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
                cur = await conn.execute("SELECT max(version) FROM schema_version")
                have = (await cur.fetchone())[0] or 0
                newest = current_version(POSTGRES_MIGRATIONS)
                if have > newest:
                    raise StoreError(f"the database has schema version {have}, newer than this asl-engine "
                                     f"knows ({newest}): upgrade asl-engine")
                for version, statements in POSTGRES_MIGRATIONS:
                    if version > have:
                        for statement in statements:
                            await conn.execute(statement)
                        await conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))

    async def close(self) -> None:
        lives, self._lives = self._lives, {}
        self._ended.update(lives)
        for life in lives.values():  # (the locks go with them: the others take over what is left RUNNING)
            if life is not None:
                await _quietly_closed(life)
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def _fetch(self, sql: str, args: Any = ()) -> list:
        async def fetch(conn: Any) -> list:
            cur = await conn.execute(sql, args)
            return await cur.fetchall() if cur.description else []
        return await self._on_connection(fetch)

    async def _transaction(self, work: Any) -> Any:
        """``await work(connection)`` in one transaction (committed when it returns)."""
        return await self._on_connection(work, transaction=True)

    async def _on_connection(self, work: Any, transaction: bool = False) -> Any:
        """``await work(connection)`` on a pooled connection. A connection the server has
        closed since it was pooled (PostgreSQL restarted) is dropped and the work done again
        on a new one, once; other failures raise StoreError."""
        import psycopg

        pool = await self._opened_pool()
        for again in (True, False):
            conn = None
            try:
                async with pool.connection() as conn:
                    if not transaction:  # (autocommit: the statement commits by itself)
                        return await work(conn)
                    async with conn.transaction():
                        return await work(conn)
            except StoreError:
                raise
            except Exception as exc:
                if again and isinstance(exc, psycopg.OperationalError) and conn is not None and conn.closed:
                    continue  # (the pool drops it: the next is a new connection)
                raise StoreError(f"PostgreSQL: {exc}") from None

    async def _opened_pool(self) -> Any:
        if self._pool is None:
            await self.open()
        return self._pool

    # ---- executions -------------------------------------------------------------------------------

    async def create(self, record: ExecutionRecord, events: Iterable[StoredEvent] = (),
                     facts: Iterable[StoredFact] = (), *, parent: str | None = None) -> bool:
        marks = ",".join(["%s"] * len(RECORD_COLUMNS))
        insert = f"INSERT INTO executions ({_COLUMNS}) VALUES ({marks}) ON CONFLICT (arn) DO NOTHING RETURNING arn"
        if parent is None:
            rows = await self._fetch(insert, record_row(record))
        else:
            async def guarded(conn: Any) -> list:
                # FOR SHARE: starts go on side by side; `retire_resource`'s FOR UPDATE waits for them
                # (and they for it: then the row read is the committed one, DELETING or gone)
                cur = await conn.execute("SELECT doc FROM resources WHERE arn = %s FOR SHARE", (parent,))
                found = await cur.fetchone()
                check_parent(parent, None if found is None else json.loads(found[0]))
                return await (await conn.execute(insert, record_row(record))).fetchall()
            rows = await self._transaction(guarded)
        events, facts = list(events), list(facts)
        if rows and (events or facts):
            await self.append(record.arn, events, facts)
        return bool(rows)

    async def get(self, arn: str) -> ExecutionRecord | None:
        if "\x00" in arn:  # (PostgreSQL's text holds no NUL: no execution has such an ARN)
            return None
        rows = await self._fetch(f"SELECT {_COLUMNS} FROM executions WHERE arn = %s", (arn,))
        return record_from_row(rows[0]) if rows else None

    async def list(self, *, status: str | None = None, state_machine_arn: str | None = None,
                   limit: int | None = None) -> list[ExecutionRecord]:
        sql, args = list_query("%s", "created", status, state_machine_arn, limit)
        return [record_from_row(r) for r in await self._fetch(sql, args)]

    async def update(self, arn: str, **changes: Any) -> None:
        changes = check_changes(changes)
        if not changes:
            return
        sets = ", ".join(f"{k} = %s" for k in changes)
        rows = await self._fetch(f"UPDATE executions SET {sets} WHERE arn = %s RETURNING arn",
                                 [*changes.values(), arn])
        if not rows:
            raise StoreError(f"no execution {arn}")

    # ---- the journal --------------------------------------------------------------------------

    async def append(self, arn: str, events: Iterable[StoredEvent], facts: Iterable[StoredFact] = (),
                     changes: dict | None = None, *, owner: str | None = None) -> None:
        # (create/update run on their own pooled connections: the batch's "statements" are the
        # owners its appends are written for, checked in its transaction)
        if owner is None:
            await self._group.add(*journal_rows(arn, events, facts))
            if changes:
                await self.update(arn, **changes)
            return
        if not (await self._group.add(*journal_rows(arn, events, facts), [(arn, owner)]))[0]:
            raise NotOwner(f"another process holds the lease of {arn}")
        changes = check_changes(changes or {})
        if changes:  # (its end: only while this owner holds the lease still)
            sets = ", ".join(f"{k} = %s" for k in changes)
            if not await self._fetch(f"UPDATE executions SET {sets} WHERE arn = %s AND owner = %s RETURNING arn",
                                     [*changes.values(), arn, owner]):
                raise NotOwner(f"another process holds the lease of {arn}")

    async def _commit_rows(self, events: list[tuple], facts: list[tuple], owners: list[tuple]) -> list[int]:
        async def commit(conn: Any) -> set[str]:
            refused: set[str] = set()
            if owners:  # FOR SHARE: no claim takes these executions before the commit
                cur = await conn.execute("SELECT arn, owner FROM executions WHERE arn = ANY(%s) FOR SHARE",
                                         ([arn for arn, _ in owners],))
                holding = dict(await cur.fetchall())
                # (no row: not created yet, nothing to check; an owner of NULL: ended or
                # given up, by this process or the one that took it over: refused too)
                refused = {arn for arn, owner in owners if holding.get(arn, owner) != owner}
            async with conn.cursor() as cur:  # COPY: a third of the time of INSERTs
                for sql, rows in ((_COPY_EVENTS, events), (_COPY_FACTS, facts)):
                    if rows:
                        async with cur.copy(sql) as copy:
                            for row in rows:
                                if row[0] not in refused:
                                    await copy.write_row(row)
            return refused

        refused = await self._on_connection(commit, transaction=True)
        return [int(arn not in refused) for arn, _ in owners]

    async def events(self, arn: str, after: int = 0) -> list[StoredEvent]:
        rows = await self._fetch("SELECT id, type, previous_id, timestamp, details, site FROM events "
                                 "WHERE arn = %s AND id > %s ORDER BY id", (arn, after))
        return [StoredEvent(i, t, p, ts, None if d is None else json.loads(d), site_value(s))
                for i, t, p, ts, d, s in rows]

    async def facts(self, arn: str) -> list[StoredFact]:
        rows = await self._fetch("SELECT seq, site, kind, value FROM facts WHERE arn = %s ORDER BY seq", (arn,))
        return [StoredFact(n, site_value(s), k, json.loads(v)) for n, s, k, v in rows]

    # ---- leases -------------------------------------------------------------------------------

    async def claim(self, owner: str, lease_seconds: float, limit: int = 100,
                    arns: Iterable[str] | None = None) -> list[ExecutionRecord]:
        wanted = None if arns is None else list(arns)
        if wanted == []:
            return []
        now = time.time()
        if wanted is None:
            await self._mark_the_dead(owner)
        sql = "SELECT arn FROM executions WHERE status = 'RUNNING' AND " \
              "(owner IS NULL OR owner = %s OR lease_until IS NULL OR lease_until < %s " \
              f"OR owner IN (SELECT owner FROM processes WHERE dead_since < {_NOW} - %s))"
        args: list = [owner, now, self.death_grace]
        if wanted is not None:
            sql += " AND arn = ANY(%s)"
            args.append(wanted)
        # asked for by ARN: waits for a journal commit that holds the row (FOR SHARE, a moment);
        # else skips rows another process is claiming or writing
        sql += f" ORDER BY start_time LIMIT {int(limit)} FOR UPDATE" + (" SKIP LOCKED" if wanted is None else "")
        rows = await self._fetch(
            f"UPDATE executions SET owner = %s, lease_until = %s WHERE arn IN ({sql}) RETURNING {_COLUMNS}",
            [owner, now + lease_seconds, *args])
        return [record_from_row(r) for r in rows]

    async def _mark_the_dead(self, owner: str, only: str | None = None) -> None:
        """Note which registered processes (other than `owner`; `only` that one) have lost their
        lock since the last look, and which have it again: the executions of the dead are
        claimable `death_grace` seconds after the first look that saw them so."""
        which, args = ("AND p.owner = %s", (owner, only)) if only else ("", (owner,))
        await self._fetch(
            f"UPDATE processes p SET dead_since = CASE WHEN seen.held THEN NULL ELSE {_NOW} END "
            f"FROM (SELECT p.owner, {_HELD} AS held FROM processes p WHERE p.owner <> %s {which}) seen "
            "WHERE p.owner = seen.owner AND seen.held = (p.dead_since IS NOT NULL)", args)
        if only:
            return
        # the dead that hold nothing (any more) are forgotten (one that was not dead registers again)
        await self._fetch(f"DELETE FROM processes p WHERE p.dead_since < {_NOW} - %s AND NOT EXISTS "
                          "(SELECT 1 FROM executions e WHERE e.status = 'RUNNING' AND e.owner = p.owner)",
                          (self.death_grace,))

    async def takeover_in(self, owner: str, by: str) -> float | None:
        await self._mark_the_dead(by, only=owner)
        rows = await self._fetch(f"SELECT GREATEST(0, dead_since + %s - {_NOW}) FROM processes "
                                 "WHERE owner = %s AND dead_since IS NOT NULL", (self.death_grace, owner))
        return float(rows[0][0]) if rows else None

    async def register_process(self, owner: str) -> None:
        """Announce that `owner` lives while this store is open (see the module's text)."""
        if self._lives.get(owner) is not None:
            return
        await self._opened_pool()  # (migrated)
        try:
            held = await self._hold_life(owner)
        except Exception as exc:
            raise StoreError(f"PostgreSQL: {exc}") from None
        if not held:
            raise StoreError(f"another process registered as {owner} holds its lock")
        self._ended.discard(owner)

    async def _hold_life(self, owner: str, *, again: bool = False) -> bool:
        """Take `owner`'s lock on a connection of its own (`again`: a session of a connection
        of ours that PostgreSQL still counts open, cut off by a network fault, is ended first)."""
        import psycopg

        a, b = _life_keys(owner)
        conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=10, keepalives=1,
                                                     **_TCP)
        try:
            # the server finds out in seconds that a machine vanished without closing this
            # connection (power cut, network gone): it ends the session and lets the lock go, as
            # when the connection closes (TCP only: a Unix socket closes with its process)
            for name, value in _TCP.items():
                await conn.execute("SELECT set_config(%s, %s, false)", ("tcp_" + name.removeprefix("tcp_"), str(value)))
            take = "SELECT pg_try_advisory_lock(%s, %s)"
            held = (await (await conn.execute(take, (a, b))).fetchone())[0]
            if not held and again:
                import anyio

                await conn.execute(f"SELECT pg_terminate_backend(pid) FROM pg_locks WHERE {_lock_row('%s', '%s')} "
                                   "AND pid <> pg_backend_pid()", (a, b))
                for _ in range(20):  # (the session ends a moment after it is told to)
                    held = (await (await conn.execute(take, (a, b))).fetchone())[0]
                    if held:
                        break
                    await anyio.sleep(0.1)
            if not held:
                await _quietly_closed(conn)
                return False
            await conn.execute("INSERT INTO processes (owner, key_a, key_b) VALUES (%s, %s, %s) "
                               "ON CONFLICT (owner) DO UPDATE SET dead_since = NULL", (owner, a, b))
        except BaseException:
            await _quietly_closed(conn)
            raise
        self._lives[owner] = conn
        return True

    async def stay_registered(self, owner: str) -> bool:
        """Whether the registered process has held its lock since the last call (True when it
        never registered here; False once this store is closed). A lock found lost is False at
        once (the others may take the executions over: the process must stop); the next calls
        try to take it again, False until one has."""
        import anyio

        if owner in self._ended:
            return False
        if owner not in self._lives:
            return True
        conn = self._lives[owner]
        if conn is None:  # (lost, and told at the call that found it so)
            try:
                with anyio.fail_after(self.CHECK_SECONDS + 10):  # (connect_timeout: 10)
                    return await self._hold_life(owner, again=True)
            except Exception:  # the database is away: the next call tries again
                return False
        try:
            with anyio.fail_after(self.CHECK_SECONDS):
                cur = await conn.execute(f"SELECT EXISTS (SELECT 1 FROM pg_locks WHERE {_lock_row('%s', '%s')} "
                                         "AND pid = pg_backend_pid())", _life_keys(owner))
                if (await cur.fetchone())[0]:
                    return True
        except Exception:  # (a TimeoutError too: a connection that hangs is as good as lost)
            pass
        self._lives[owner] = None
        await _quietly_closed(conn)
        return False

    async def renew(self, owner: str, arns: Iterable[str], lease_seconds: float) -> list[str]:
        arns = list(arns)
        if not arns:
            return []
        rows = await self._fetch("UPDATE executions SET lease_until = %s WHERE owner = %s AND arn = ANY(%s) "
                                 "RETURNING arn", (time.time() + lease_seconds, owner, arns))
        return [r[0] for r in rows]

    async def release(self, owner: str, arn: str) -> None:
        await self._fetch("UPDATE executions SET owner = NULL, lease_until = NULL WHERE arn = %s AND owner = %s",
                          (arn, owner))

    # ---- the service's resources ------------------------------------------------------------------

    async def put_resource(self, arn: str, kind: str, doc: dict, parent: str | None = None,
                           created: float = 0.0, *, replace: bool = True) -> bool:
        conflict = "DO UPDATE SET kind = EXCLUDED.kind, parent = EXCLUDED.parent, created = EXCLUDED.created, " \
                   "doc = EXCLUDED.doc" if replace else "DO NOTHING"
        rows = await self._fetch(f"INSERT INTO resources (arn, kind, parent, created, doc) VALUES (%s,%s,%s,%s,%s) "
                                 f"ON CONFLICT (arn) {conflict} RETURNING arn", (arn, kind, parent, created, dumps(doc)))
        return bool(rows)

    async def get_resource(self, arn: str) -> dict | None:
        rows = await self._fetch("SELECT doc FROM resources WHERE arn = %s", (arn,))
        return json.loads(rows[0][0]) if rows else None

    async def delete_resource(self, arn: str) -> bool:
        return bool(await self._fetch("DELETE FROM resources WHERE arn = %s RETURNING arn", (arn,)))

    async def list_resources(self, kind: str, parent: str | None = None) -> list[dict]:
        sql, args = "SELECT doc FROM resources WHERE kind = %s", [kind]
        if parent is not None:
            sql += " AND parent = %s"
            args.append(parent)
        return [json.loads(r[0]) for r in await self._fetch(sql + " ORDER BY created, arn", args)]

    async def revise_family(self, arn: str, kinds: Iterable[str], change: Callable[[Family], Any], *,
                            live: bool = True) -> Any:
        import psycopg

        kinds = list(kinds)
        refused: list[BaseException] = []  # what `change` raised (the transaction rolled back)

        async def revise(conn: Any) -> Any:
            # FOR UPDATE: another process's revision, retirement or create(parent=) of this
            # resource waits for this transaction's end, and then reads what it wrote
            cur = await conn.execute("SELECT doc FROM resources WHERE arn = %s FOR UPDATE", (arn,))
            found = await cur.fetchone()
            check_parent(arn, None if found is None else json.loads(found[0]), live)
            children: dict[str, dict] = {}
            if kinds:
                cur = await conn.execute("SELECT arn, doc FROM resources WHERE parent = %s AND kind = ANY(%s) "
                                         "ORDER BY created, arn", (arn, kinds))
                children = {a: json.loads(d) for a, d in await cur.fetchall()}
            family = Family(arn, found[0], children)
            try:
                out = change(family)
            except Exception as exc:
                refused.append(exc)
                raise psycopg.Rollback() from None
            for sql, args in family.statements("%s"):
                await conn.execute(sql, args)
            return out
        out = await self._transaction(revise)
        if refused:
            raise refused[0]
        return out

    async def retire_resource(self, arn: str, children: Iterable[str] = ()) -> bool | None:
        children = list(children)

        async def retire(conn: Any) -> bool | None:
            cur = await conn.execute("SELECT doc FROM resources WHERE arn = %s FOR UPDATE", (arn,))
            found = await cur.fetchone()
            if found is None:
                return None
            if children:
                await conn.execute("DELETE FROM resources WHERE parent = %s AND kind = ANY(%s)", (arn, children))
            # (read committed: this statement sees every execution whose create held the row before)
            cur = await conn.execute("SELECT 1 FROM executions WHERE state_machine_arn = %s AND status = 'RUNNING' "
                                     "LIMIT 1", (arn,))
            if await cur.fetchone() is None:
                await conn.execute("DELETE FROM resources WHERE arn = %s", (arn,))
                # its executions go with it (`Store.retire_resource`; its Map Runs' children: `machine_of`)
                prefix = arn + "/"
                cur = await conn.execute("DELETE FROM executions WHERE state_machine_arn = %s OR "
                                         "left(state_machine_arn, %s) = %s RETURNING arn", (arn, len(prefix), prefix))
                gone = [row[0] for row in await cur.fetchall()]
                if gone:
                    for table in ("events", "facts"):
                        await conn.execute(f"DELETE FROM {table} WHERE arn = ANY(%s)", (gone,))
                    await conn.execute("DELETE FROM activity_tasks WHERE execution_arn = ANY(%s)", (gone,))
                await conn.execute("DELETE FROM resources WHERE parent = ANY(%s)", (gone + [arn],))
                return True
            doc = json.loads(found[0])
            if doc.get("status") != DELETING:
                await conn.execute("UPDATE resources SET doc = %s WHERE arn = %s", (dumps({**doc, "status": DELETING}),
                                                                                    arn))
            return False
        return await self._transaction(retire)

    # ---- activity tasks (GetActivityTask across processes) --------------------------------------
    # A task's row: offered by the process running its execution (`offer_task`), claimed by the
    # process a worker polls (`take_task`, SKIP LOCKED: once), marked delivered once that process
    # has written it to its worker, started once its execution has recorded the take
    # (`mark_task`); given back when its worker never got it (`return_task`: offered again, or
    # ``returned`` once started, which the next take hands out as it is). Each change is announced
    # on ACTIVITY_CHANNEL ("offered <activity ARN>", "taken <token>", "delivered <token>",
    # "started <token>"; `notifications`).

    async def offer_task(self, token: str, activity_arn: str, execution_arn: str, input: str) -> tuple[str, Any]:
        """Offer a task (kept as it is when its token is on record: a resumed execution's task),
        and return its ``(state, workerName)``."""
        async def offer(conn: Any) -> tuple[str, Any]:
            cur = await conn.execute(
                "INSERT INTO activity_tasks (token, activity_arn, execution_arn, input, state) "
                "VALUES (%s, %s, %s, %s, 'offered') ON CONFLICT (token) DO NOTHING RETURNING token",
                (token, activity_arn, execution_arn, storable_json(input)))
            if await cur.fetchone() is not None:
                await conn.execute("SELECT pg_notify(%s, %s)", (ACTIVITY_CHANNEL, f"offered {activity_arn}"))
                return "offered", None
            cur = await conn.execute("SELECT state, worker FROM activity_tasks WHERE token = %s", (token,))
            return tuple(await cur.fetchone())
        return await self._transaction(offer)

    async def take_task(self, activity_arn: str, worker: str | None) -> tuple[str, str, str] | None:
        """Claim the oldest task of the activity offered (or returned) by a RUNNING execution:
        ``(token, input, execution ARN)``, or None. An offered task becomes taken by `worker`;
        a returned one, started (its take is on record already)."""
        rows = await self._fetch(
            "WITH t AS (SELECT token FROM activity_tasks k WHERE activity_arn = %s AND state IN ('offered', 'returned') "
            "AND EXISTS (SELECT 1 FROM executions e WHERE e.arn = k.execution_arn AND e.status = 'RUNNING') "
            "ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED) "
            "UPDATE activity_tasks a SET state = CASE a.state WHEN 'returned' THEN 'started' ELSE 'taken' END, "
            "worker = %s FROM t WHERE a.token = t.token "
            "RETURNING a.token, a.input, a.execution_arn, pg_notify(%s, a.state || ' ' || a.token)",
            (activity_arn, worker, ACTIVITY_CHANNEL))
        return tuple(rows[0][:3]) if rows else None

    async def return_task(self, token: str) -> bool:
        """Give a task taken (or started) back: offered again (returned when started); False when
        it is in neither state (it has ended, or was given back already)."""
        return bool(await self._fetch(
            "UPDATE activity_tasks SET state = CASE state WHEN 'taken' THEN 'offered' ELSE 'returned' END, "
            "worker = CASE state WHEN 'taken' THEN NULL ELSE worker END "
            "WHERE token = %s AND state IN ('taken', 'started') "
            "RETURNING pg_notify(%s, 'offered ' || activity_arn)", (token, ACTIVITY_CHANNEL)))

    async def task_state(self, token: str) -> tuple[str, Any] | None:
        """``(state, workerName)`` of the task, or None when it is not on record."""
        rows = await self._fetch("SELECT state, worker FROM activity_tasks WHERE token = %s", (token,))
        return tuple(rows[0]) if rows else None

    async def mark_task(self, token: str, before: str | Iterable[str], after: str) -> bool:
        """Move the task from state `before` (or one of them) to `after` (False: it was in none)."""
        befores = [before] if isinstance(before, str) else list(before)
        return bool(await self._fetch(
            "UPDATE activity_tasks SET state = %s WHERE token = %s AND state = ANY(%s) "
            "RETURNING pg_notify(%s, %s)", (after, token, befores, ACTIVITY_CHANNEL, f"{after} {token}")))

    async def drop_task(self, token: str, states: Iterable[str] | None = None) -> bool:
        """Remove the task (only in one of `states`, if given); False when nothing was removed."""
        if states is None:
            return bool(await self._fetch("DELETE FROM activity_tasks WHERE token = %s RETURNING token", (token,)))
        return bool(await self._fetch("DELETE FROM activity_tasks WHERE token = %s AND state = ANY(%s) "
                                      "RETURNING token", (token, list(states))))

    async def prune_tasks(self) -> int:
        """Remove the tasks of executions no longer RUNNING; how many."""
        rows = await self._fetch(
            "DELETE FROM activity_tasks t WHERE NOT EXISTS (SELECT 1 FROM executions e "
            "WHERE e.arn = t.execution_arn AND e.status = 'RUNNING') RETURNING token")
        return len(rows)

    async def notifications(self) -> Any:
        """The payloads announced on ACTIVITY_CHANNEL, as they come (an async iterator on a
        connection of its own; it ends with a StoreError when the connection is lost)."""
        import psycopg

        await self._opened_pool()
        try:
            conn = await psycopg.AsyncConnection.connect(self.url, autocommit=True, connect_timeout=10)
        except Exception as exc:
            raise StoreError(f"PostgreSQL: {exc}") from None
        try:
            await conn.execute(f"LISTEN {ACTIVITY_CHANNEL}")
            async for note in conn.notifies():
                yield note.payload
        except psycopg.Error as exc:
            raise StoreError(f"PostgreSQL: {exc}") from None
        finally:
            import anyio

            with anyio.CancelScope(shield=True):
                await conn.close()


def _life_keys(owner: str) -> tuple[int, int]:
    """The two int4 keys (non-negative) of the advisory lock that says `owner` lives."""
    import hashlib

    digest = hashlib.blake2b(owner.encode(), digest_size=8, person=b"asl-life").digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF, int.from_bytes(digest[4:], "big") & 0x7FFFFFFF


async def _quietly_closed(conn: Any) -> None:
    try:
        await conn.close()
    except Exception:  # (already broken: nothing to close)
        pass
