"""The SQLite store: one file, WAL mode, group commits.

Every `append` is durable when it returns (``synchronous=FULL``: the commit is on disk), yet
appends from many executions at once share one transaction: while a commit runs, the next
appends gather into the batch that follows it, so throughput stays high under load. The
connection is used from one worker thread at a time; the event loop never blocks on disk.
Reads go through a second connection (WAL lets it read while a commit runs), so that
DescribeExecution polls do not queue behind the writes.
"""
from __future__ import annotations

import json
import sqlite3
import time
from typing import Any, Callable, Iterable

import anyio

from . import (DELETING, OneProcess, RECORD_COLUMNS, ExecutionRecord, Family, GroupCommit, RevisesInFamilies, StoredEvent,
               StoredFact, StoreError, check_changes, check_parent, journal_rows, list_query, dumps, record_from_row,
               record_row, site_value)
from .schema import SQLITE_MIGRATIONS, current_version


_INSERT_EVENTS = "INSERT INTO events (arn, id, type, previous_id, timestamp, details, site) VALUES (?,?,?,?,?,?,?)"
_INSERT_FACTS = "INSERT INTO facts (arn, seq, site, kind, value) VALUES (?,?,?,?,?)"
_SELECT_RECORD = f"SELECT {','.join(RECORD_COLUMNS)} FROM executions WHERE arn = ?"
_IF_CREATED = "if-created"  # a statement marked so runs (executemany) only if the one before it wrote a row
_ROWS_PER_INSERT = 128  # (at most 999 parameters a statement: SQLite's limit before 3.32)


def _insert(db: sqlite3.Connection, sql: str, rows: list[tuple]) -> None:
    """Insert `rows` with `sql` (one row's INSERT): many rows a statement, which costs a third
    less than a statement a row (each step of a statement has a fixed cost)."""
    whole = len(rows) - len(rows) % _ROWS_PER_INSERT
    if whole:
        values = sql[sql.index(" VALUES ") + 8:]
        many = sql + ("," + values) * (_ROWS_PER_INSERT - 1)
        db.executemany(many, [[v for row in rows[i:i + _ROWS_PER_INSERT] for v in row]
                              for i in range(0, whole, _ROWS_PER_INSERT)])
    if whole < len(rows):
        db.executemany(sql, rows[whole:])


def _children(db: sqlite3.Connection, arn: str, kinds: list[str]) -> dict[str, dict]:
    """The documents of the resources of `kinds` whose parent is `arn`, by ARN, oldest first."""
    if not kinds:
        return {}
    rows = db.execute(f"SELECT arn, doc FROM resources WHERE parent = ? AND kind IN ({','.join('?' * len(kinds))}) "
                      "ORDER BY created, rowid", (arn, *kinds))
    return {a: json.loads(d) for a, d in rows}


def _forget_executions(db: sqlite3.Connection, machine: str) -> None:
    """Delete the executions of deleted state machine `machine` (`Store.retire_resource`)."""
    prefix = machine + "/"  # (its Map Runs' children: `machine_of`)
    arns = [row[0] for row in db.execute("SELECT arn FROM executions WHERE state_machine_arn = ? OR "
                                         "substr(state_machine_arn, 1, ?) = ?", (machine, len(prefix), prefix))]
    for i in range(0, len(arns), 500):
        chunk = arns[i:i + 500]
        marks = ",".join("?" * len(chunk))
        for table in ("events", "facts", "executions"):
            db.execute(f"DELETE FROM {table} WHERE arn IN ({marks})", chunk)
        db.execute(f"DELETE FROM resources WHERE parent IN ({marks})", chunk)
    db.execute("DELETE FROM resources WHERE parent = ?", (machine,))


def _immediate(db: sqlite3.Connection, work: Any) -> Any:
    """``work(db)`` in one write transaction."""
    db.execute("BEGIN IMMEDIATE")
    try:
        out = work(db)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return out


class SQLiteStore(RevisesInFamilies, OneProcess):
    def __init__(self, path: str):
        self.path = path
        self.url = f"sqlite:{path}"
        self._db: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._read_limiter = anyio.CapacityLimiter(1)
        self._lock = anyio.Lock()          # one statement sequence at a time on the connection
        self._limiter = anyio.CapacityLimiter(1)
        self._group = GroupCommit(self._commit_rows)
        self._docs: dict[str, str] = {}  # resources' JSON by ARN (one process uses the file: nothing else writes them)
        self._doc_writes = 0

    def hold(self) -> None:
        """Make this process the file's only server (``asl serve``): a second one is refused
        (StoreError). Its executions, names and state machines are kept by one process (records
        written after the run began, state machines cached): two would not see each other's.
        Readers (``asl executions``, ``asl console``) need no hold. Released when the process ends."""
        if self.path == ":memory:" or self.path.startswith("file:") or getattr(self, "_held", None) is not None:
            return
        import fcntl
        import os

        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise StoreError(f"cannot open {self.path}: {exc.strerror}") from None
        try:  # (flock: apart from SQLite's own fcntl locks)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreError(f"{self.path} is served by another process: a SQLite store is for one server; "
                             "several share a postgresql:// store") from None
        self._held = fd

    # ---- connection and schema ----------------------------------------------------------------

    async def open(self) -> None:
        if self._db is not None:
            return
        try:
            db = await anyio.to_thread.run_sync(self._connect, limiter=self._limiter)
            if self.path != ":memory:" and not self.path.startswith("file::memory:"):
                self._reader = await anyio.to_thread.run_sync(self._connect_reader, limiter=self._read_limiter)
            self._db = db
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from None

    def _connect_reader(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        db.execute("PRAGMA query_only=ON")
        return db

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT max(version) FROM schema_version").fetchone()
            have = row[0] or 0
            if have > current_version(SQLITE_MIGRATIONS):
                raise StoreError(f"{self.path} has schema version {have}, newer than this asl-engine knows "
                                 f"({current_version(SQLITE_MIGRATIONS)}): upgrade asl-engine")
            for version, statements in SQLITE_MIGRATIONS:
                if version > have:
                    for statement in statements:
                        db.execute(statement)
                    db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            db.close()
            raise
        return db

    async def close(self) -> None:
        if self._db is None:
            return
        while self._group.busy:
            await anyio.sleep(0.001)
        db, self._db = self._db, None
        reader, self._reader = self._reader, None
        if reader is not None:
            await anyio.to_thread.run_sync(reader.close, limiter=self._read_limiter)
        await anyio.to_thread.run_sync(db.close, limiter=self._limiter)

    async def _run(self, fn: Any, *args: Any) -> Any:
        if self._db is None:
            await self.open()
        async with self._lock:
            try:
                return await anyio.to_thread.run_sync(fn, self._db, *args, limiter=self._limiter)
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: {exc}") from None

    async def _read(self, fn: Any, *args: Any) -> Any:
        """Run a read-only `fn(connection)`: on the reader connection, or the writer's without one."""
        if self._db is None:
            await self.open()
        if self._reader is None:
            return await self._run(fn, *args)
        try:
            return await anyio.to_thread.run_sync(fn, self._reader, *args, limiter=self._read_limiter)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from None

    # ---- executions -------------------------------------------------------------------------------

    async def create(self, record: ExecutionRecord, events: Iterable[StoredEvent] = (),
                     facts: Iterable[StoredFact] = (), *, parent: str | None = None) -> bool:
        if parent is not None:  # (one process uses the file: its own callers keep the check and the write together)
            check_parent(parent, await self.get_resource(parent))
        row = record_row(record)
        marks = ",".join("?" * len(RECORD_COLUMNS))
        sql = f"INSERT OR IGNORE INTO executions ({','.join(RECORD_COLUMNS)}) VALUES ({marks})"
        event_rows, fact_rows = journal_rows(record.arn, events, facts)
        statements: list[tuple] = [(sql, row)]
        # the first entries go in only with the record (an ARN taken already writes nothing)
        if event_rows:
            statements.append((_INSERT_EVENTS, event_rows, _IF_CREATED))
        if fact_rows:
            statements.append((_INSERT_FACTS, fact_rows, _IF_CREATED))
        return (await self._group.add([], [], statements))[0] == 1

    async def get(self, arn: str) -> ExecutionRecord | None:
        def select(db: sqlite3.Connection) -> Any:
            return db.execute(_SELECT_RECORD, (arn,)).fetchone()
        row = self._point_read(select) if self._reader is not None else await self._read(select)
        return record_from_row(row) if row else None

    def _point_read(self, fn: Any) -> Any:
        """A read of one row by its key, on the event loop: in WAL mode it never waits for the
        writer, and it costs less than the hop to a worker thread would."""
        try:
            return fn(self._reader)
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: {exc}") from None

    async def list(self, *, status: str | None = None, state_machine_arn: str | None = None,
                   limit: int | None = None) -> list[ExecutionRecord]:
        sql, args = list_query("?", "rowid", status, state_machine_arn, limit)
        rows = await self._read(lambda db: db.execute(sql, args).fetchall())
        return [record_from_row(r) for r in rows]

    async def update(self, arn: str, **changes: Any) -> None:
        changes = check_changes(changes)
        if not changes:
            return
        sets = ", ".join(f"{k} = ?" for k in changes)
        args = [*changes.values(), arn]

        if await self._group.add([], [], [(f"UPDATE executions SET {sets} WHERE arn = ?", args)]) == [0]:
            raise StoreError(f"no execution {arn}")

    # ---- the journal --------------------------------------------------------------------------

    async def append(self, arn: str, events: Iterable[StoredEvent], facts: Iterable[StoredFact] = (),
                     changes: dict | None = None, *, owner: str | None = None) -> None:
        statements = []
        if changes:
            changes = check_changes(changes)
            statements.append((f"UPDATE executions SET {', '.join(f'{k} = ?' for k in changes)} WHERE arn = ?",
                               [*changes.values(), arn]))
        await self._group.add(*journal_rows(arn, events, facts), statements)

    async def _commit_rows(self, events: list[tuple], facts: list[tuple], statements: list[tuple]) -> list[int]:
        def commit(db: sqlite3.Connection) -> list[int]:
            db.execute("BEGIN IMMEDIATE")
            try:
                counts: list[int] = []
                for sql, args, *condition in statements:
                    if not condition:
                        counts.append(db.execute(sql, args).rowcount)
                    elif counts[-1] >= 1:  # _IF_CREATED: rows of the create just before
                        counts.append(db.executemany(sql, args).rowcount)
                    else:
                        counts.append(0)
                if events:
                    _insert(db, _INSERT_EVENTS, events)
                if facts:
                    _insert(db, _INSERT_FACTS, facts)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return counts
        return await self._run(commit)

    async def events(self, arn: str, after: int = 0) -> list[StoredEvent]:
        rows = await self._read(lambda db: db.execute(
            "SELECT id, type, previous_id, timestamp, details, site FROM events WHERE arn = ? AND id > ? "
            "ORDER BY id", (arn, after)).fetchall())
        return [StoredEvent(i, t, p, ts, None if d is None else json.loads(d), site_value(s))
                for i, t, p, ts, d, s in rows]

    async def facts(self, arn: str) -> list[StoredFact]:
        rows = await self._read(lambda db: db.execute(
            "SELECT seq, site, kind, value FROM facts WHERE arn = ? ORDER BY seq", (arn,)).fetchall())
        return [StoredFact(n, site_value(s), k, json.loads(v)) for n, s, k, v in rows]

    # ---- leases -------------------------------------------------------------------------------

    async def claim(self, owner: str, lease_seconds: float, limit: int = 100,
                    arns: Iterable[str] | None = None) -> list[ExecutionRecord]:
        wanted = None if arns is None else list(arns)

        def take(db: sqlite3.Connection) -> list:
            now = time.time()
            db.execute("BEGIN IMMEDIATE")
            try:
                sql = f"SELECT {','.join(RECORD_COLUMNS)} FROM executions WHERE status = 'RUNNING' AND " \
                      "(owner IS NULL OR owner = ? OR lease_until IS NULL OR lease_until < ?)"
                args: list = [owner, now]
                if wanted is not None:
                    sql += f" AND arn IN ({','.join('?' * len(wanted))})"
                    args += wanted
                rows = db.execute(sql + f" ORDER BY start_time LIMIT {int(limit)}", args).fetchall()
                until = now + lease_seconds
                db.executemany("UPDATE executions SET owner = ?, lease_until = ? WHERE arn = ?",
                               [(owner, until, r[0]) for r in rows])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return [(*r[:-2], owner, until) for r in rows]
        if wanted == []:
            return []
        return [record_from_row(r) for r in await self._run(take)]

    async def renew(self, owner: str, arns: Iterable[str], lease_seconds: float) -> list[str]:
        arns = list(arns)
        if not arns:
            return []

        def extend(db: sqlite3.Connection) -> list[str]:
            until = time.time() + lease_seconds
            marks = ",".join("?" * len(arns))
            db.execute(f"UPDATE executions SET lease_until = ? WHERE owner = ? AND arn IN ({marks})",
                       [until, owner, *arns])
            return [r[0] for r in db.execute(f"SELECT arn FROM executions WHERE owner = ? AND arn IN ({marks})",
                                             [owner, *arns]).fetchall()]
        return await self._run(extend)

    async def release(self, owner: str, arn: str) -> None:
        await self._run(lambda db: db.execute(
            "UPDATE executions SET owner = NULL, lease_until = NULL WHERE arn = ? AND owner = ?", (arn, owner)))

    # ---- the service's resources ------------------------------------------------------------------

    async def put_resource(self, arn: str, kind: str, doc: dict, parent: str | None = None,
                           created: float = 0.0, *, replace: bool = True) -> bool:
        verb = "INSERT OR REPLACE" if replace else "INSERT OR IGNORE"
        text = dumps(doc)
        row = (arn, kind, parent, created, text)
        self._docs.pop(arn, None)
        self._doc_writes += 1
        written = await self._run(lambda db: db.execute(
            f"{verb} INTO resources (arn, kind, parent, created, doc) VALUES (?,?,?,?,?)", row).rowcount == 1)
        if written:
            self._docs[arn] = text
        return written

    async def get_resource(self, arn: str) -> dict | None:
        text = self._docs.get(arn)
        if text is None:
            writes = self._doc_writes
            row = await self._read(lambda db: db.execute("SELECT doc FROM resources WHERE arn = ?", (arn,)).fetchone())
            if row is None:
                return None
            text = row[0]
            if writes == self._doc_writes:  # (no write of a resource began meanwhile)
                self._docs[arn] = text
        return json.loads(text)

    async def delete_resource(self, arn: str) -> bool:
        self._docs.pop(arn, None)
        self._doc_writes += 1
        return await self._run(lambda db: db.execute("DELETE FROM resources WHERE arn = ?", (arn,)).rowcount == 1)

    async def revise_family(self, arn: str, kinds: Iterable[str], change: Callable[[Family], Any], *,
                            live: bool = True) -> Any:
        kinds = list(kinds)
        written: list[str] = []

        def revise(db: sqlite3.Connection) -> Any:
            # (BEGIN IMMEDIATE: the file's write lock from this read on, against every other
            # connection, of this process or another)
            found = db.execute("SELECT doc FROM resources WHERE arn = ?", (arn,)).fetchone()
            check_parent(arn, None if found is None else json.loads(found[0]), live)
            family = Family(arn, found[0], _children(db, arn, kinds))
            out = change(family)
            for sql, args in family.statements("?"):
                db.execute(sql, args)
            written.extend([arn, *family.writes])
            return out
        try:
            return await self._run(lambda db: _immediate(db, revise))
        finally:
            self._forget(written)

    def _forget(self, arns: Iterable[str] | None) -> None:
        """Drop the cached documents of `arns` (None: all), written now."""
        self._doc_writes += 1
        if arns is None:
            self._docs.clear()
        for arn in arns or ():
            self._docs.pop(arn, None)

    async def retire_resource(self, arn: str, children: Iterable[str] = ()) -> bool | None:
        self._docs.pop(arn, None)
        self._doc_writes += 1
        children = list(children)

        def retire(db: sqlite3.Connection) -> bool | None:
            found = db.execute("SELECT doc FROM resources WHERE arn = ?", (arn,)).fetchone()
            if found is None:
                return None
            if children:
                db.execute(f"DELETE FROM resources WHERE parent = ? AND kind IN ({','.join('?' * len(children))})",
                           (arn, *children))
            if db.execute("SELECT 1 FROM executions WHERE state_machine_arn = ? AND status = 'RUNNING' LIMIT 1",
                          (arn,)).fetchone() is None:
                db.execute("DELETE FROM resources WHERE arn = ?", (arn,))
                _forget_executions(db, arn)
                return True
            db.execute("UPDATE resources SET doc = ? WHERE arn = ?",
                       (dumps({**json.loads(found[0]), "status": DELETING}), arn))
            return False
        try:
            return await self._run(lambda db: _immediate(db, retire))
        finally:
            self._forget(None)  # (the resources of its executions may have gone too)

    async def list_resources(self, kind: str, parent: str | None = None) -> list[dict]:
        sql, args = "SELECT doc FROM resources WHERE kind = ?", [kind]
        if parent is not None:
            sql += " AND parent = ?"
            args.append(parent)
        rows = await self._read(lambda db: db.execute(sql + " ORDER BY created, rowid", args).fetchall())
        return [json.loads(r[0]) for r in rows]
