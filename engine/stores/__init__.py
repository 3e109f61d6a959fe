"""Where executions are kept: one small interface, three implementations.

    store = open_store("sqlite:runs.db")      # or "memory", "postgresql://user@host/db"
    await store.open()
    await store.create(record)                 # an ExecutionRecord
    await store.append(arn, events, facts)     # the journal grows
    await store.finish(arn, "SUCCEEDED", output="{...}")
    await store.close()

An execution is an `ExecutionRecord` (identity, definition, input, status, seed, clock, the
run options its future depends on) plus its journal: the AWS history events, each with the
*site* that produced it, and the internal *facts* (task outcomes, timer deadlines, clock reads)
that replay feeds back instead of doing the work again (`asl.engine.journal`).

Ownership (several processes sharing one PostgreSQL store): a RUNNING execution is advanced
by the process holding its lease. `claim` hands out executions whose lease is free or has run
out; the owner `renew`s its leases while it runs and `release`s an execution when it is done.
In-memory and SQLite stores are for one process, and implement leases the same way so the
code that uses them does not care.

The service's resources (state machines, versions, aliases, activities, forwarded messages) are
JSON documents. Every read-modify-write of one goes through `revise_resource` /
`revise_family`: the change is a plain function run inside one transaction with the resource's
row locked, so two processes changing it at once never lose an update nor revive a deleted
resource. A state machine's versions and aliases (its *family*) are changed only with the
machine's row locked: checks that span them (an alias names existing versions, a version no
alias names is deleted) hold across processes.

The schema is created and migrated by the stores themselves (`MIGRATIONS` in each module,
versioned in a ``schema_version`` table), never by hand.
"""
from __future__ import annotations

import json
import re
from json.encoder import encode_basestring
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Callable, Iterable, Iterator, NamedTuple, Protocol

from ..payload import compact_json

__all__ = ["ExecutionRecord", "StoredEvent", "StoredFact", "Store", "StoreError", "ResourceGone", "Family",
           "open_store", "STATUSES"]

STATUSES = ("RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE")


class StoreError(Exception):
    """A store could not be opened or used: a bad URL, a missing driver, a database error, or
    a schema newer than this version of asl-engine knows."""


class NotOwner(StoreError):
    """`Store.append` with an ``owner`` refused: another process holds the execution's lease now
    (it took the execution over); nothing was written."""


class ResourceGone(StoreError):
    """`Store.create` with a ``parent``, `Store.revise_resource` or `Store.revise_family` refused:
    that resource is not there (``status`` None) or its document says ``"status": "DELETING"``
    (``status`` "DELETING"; not raised by a revision with ``live=False``)."""

    def __init__(self, arn: str, status: str | None):
        super().__init__(f"{arn} is {'being deleted' if status else 'not there'}")
        self.arn, self.status = arn, status


DELETING = "DELETING"  # a resource's document with this "status" takes no new executions (`ResourceGone`)


def check_parent(arn: str, doc: dict | None, live: bool = True) -> None:
    """Raise `ResourceGone` unless `doc` (resource `arn`'s document, None when there is none)
    is there and, with `live`, not DELETING (it may take a new execution, or a revision)."""
    if doc is None or (live and doc.get("status") == DELETING):
        raise ResourceGone(arn, None if doc is None else DELETING)


class Family:
    """A resource and its children of some kinds (the resources whose parent it is), as
    `Store.revise_family`'s change function sees them, read in the transaction that holds the
    resource's row locked. The function changes `doc` in place or replaces it, and `put`s and
    `delete`s children (or the resource itself); the store then writes what changed, in the
    same transaction. Nothing is written when the function raises."""

    def __init__(self, arn: str, text: str, children: dict[str, dict]):
        self.arn = arn
        self.doc: dict = json.loads(text)
        self.children = children        # ARN -> document, oldest first
        # child ARN -> (kind, created, doc) to write, or None: delete it
        self.writes: dict[str, tuple[str, float, dict] | None] = {}
        self.gone = False               # the resource itself deleted
        self._text = text               # the document as read

    def stored(self) -> dict:
        """A fresh copy of the document as it was read."""
        return json.loads(self._text)

    def put(self, arn: str, kind: str, doc: dict, created: float) -> None:
        """Write child `arn` (new, or replacing the one there)."""
        self.children[arn] = doc
        self.writes[arn] = (kind, created, doc)

    def delete(self, arn: str) -> None:
        """Delete child `arn`, or the resource itself (its `arn`)."""
        if arn == self.arn:
            self.gone = True
            return
        self.children.pop(arn, None)
        self.writes[arn] = None

    def new_text(self) -> str | None:
        """The resource's document to write, or None when it is unchanged or deleted."""
        if self.gone:
            return None
        text = dumps(self.doc)
        return None if text == self._text else text

    def statements(self, mark: str) -> list[tuple[str, tuple]]:
        """What changed, as SQL for a database store (`mark`: the driver's placeholder)."""
        out: list[tuple[str, tuple]] = []
        text = self.new_text()
        if self.gone:
            out.append((f"DELETE FROM resources WHERE arn = {mark}", (self.arn,)))
        elif text is not None:
            out.append((f"UPDATE resources SET doc = {mark} WHERE arn = {mark}", (text, self.arn)))
        for arn, write in self.writes.items():
            if write is None:
                out.append((f"DELETE FROM resources WHERE arn = {mark}", (arn,)))
            else:
                kind, created, doc = write
                out.append((f"INSERT INTO resources (arn, kind, parent, created, doc) VALUES "
                            f"({', '.join([mark] * 5)}) ON CONFLICT (arn) DO UPDATE SET kind = excluded.kind, "
                            "parent = excluded.parent, created = excluded.created, doc = excluded.doc",
                            (arn, kind, self.arn, created, dumps(doc))))
        return out


def revision(change: Callable[[dict], dict | None]) -> Callable[[Family], dict]:
    """`revise_resource`'s `change` as a change of the resource's `Family`: it gets a copy of the
    document and returns the new one (None: the document stays as it is); the result is the
    document as it is now."""
    def revise(family: Family) -> dict:
        new = change(family.stored())
        if new is not None:
            family.doc = new
        return family.doc
    return revise


LEASE_SECONDS = 30.0  # how long a process that stopped renewing keeps an execution of a shared store


def default_owner() -> str:
    """This process, as a lease holder: host (`_this_host`), process id and a random part."""
    import os
    import random

    return f"{_this_host()}:{os.getpid()}:{random.SystemRandom().randrange(16 ** 6):06x}"


def _this_host() -> str:
    """The host name, and on Linux the process-id namespace (two containers of one host name,
    each with process ids of its own, are two hosts: neither can see whether the other's run)."""
    import os
    import socket

    try:
        return f"{socket.gethostname()}/pid-ns-{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return socket.gethostname()


def owner_has_died(owner: str) -> bool:
    """Whether a lease owner (`default_owner`'s ``host:pid:random``) was a process of this
    machine that no longer runs: its leases are void, nobody needs to wait for them to run out."""
    import os

    rest = owner.split(":")
    try:
        pid = int(rest[-2])
    except (ValueError, IndexError):
        return False
    if ":".join(rest[:-2]) != _this_host() or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:  # (another user's process: it runs)
        return False
    return _zombie(pid)


def _zombie(pid: int) -> bool:
    """Whether `pid` has ended but was not reaped yet: `kill -9`ed under a parent (a container's
    init) that reaps late, it still answers kill(pid, 0). Read from Linux's /proc/PID/stat (the
    state follows the command's closing parenthesis)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:][:1] == b"Z"


@dataclass
class ExecutionRecord:
    """One execution as a store keeps it. JSON documents are kept as text (``input``,
    ``output``), exactly as they were given or produced, so nothing is re-serialised."""

    arn: str
    name: str
    state_machine_arn: str
    state_machine_name: str
    definition: str                      # the definition's JSON text, as run
    type: str = "STANDARD"               # STANDARD | EXPRESS
    input: str = "{}"                    # as its caller spelled it (`Execution.keep_input_text`), else compact
    status: str = "RUNNING"
    output: str | None = None
    error: str | None = None
    cause: str | None = None
    seed: int = 0                        # every random draw of the execution derives from it
    clock: str = "real"                  # "real" | "virtual": how Waits and retry delays pass
    start_time: float = 0.0              # epoch seconds (the clock's origin)
    stop_time: float | None = None
    redrive_count: int = 0
    redrive_time: float | None = None
    options: dict = field(default_factory=dict)   # run options the future depends on (region, ...)
    owner: str | None = None             # the process advancing it (lease holder)
    lease_until: float | None = None

    @property
    def input_text(self) -> str:
        """The input as DescribeExecution answers it: `input`, which holds it as StartExecution's
        caller (or ``asl run``'s user) spelled it. Records written by earlier versions kept the
        spelling apart, in an ``inputText`` option, beside a compact `input`."""
        return self.options.get("inputText") or self.input

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ExecutionRecord":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


class StoredEvent(NamedTuple):
    """An AWS history event as the journal keeps it: ``details`` hold plain values (not AWS's
    JSON-in-JSON strings); ``site`` names where in the machine it was produced."""

    id: int
    type: str
    previous_id: int
    timestamp: float
    details: dict | None
    site: tuple | None


def event_details(details: Any) -> dict | None:
    """A history entry's details as plain JSON (the tuple form of state events spelled out)."""
    if type(details) is tuple:
        name, key, value, assigned = details
        out = {"name": name, key: value}
        if assigned:
            out["assignedVariables"] = assigned
        return out
    return details


class JsonText:
    """A document to be written as JSON text, spelled out on first use: what the engine gives
    a store whose ``lazy_text`` is true (the memory store) for a record's definition, input
    and output, so that keeping a run costs no serialisation unless the record is read. The
    value is never changed once recorded."""

    __slots__ = ("value", "_text")

    def __init__(self, value: Any):
        self.value = value
        self._text: str | None = None

    def text(self) -> str:
        if self._text is None:
            self._text = json.dumps(self.value, separators=(",", ":"), ensure_ascii=False)
        return self._text


class Entries:
    """History entries as the engine keeps them (``(type, previous_id, timestamp, details,
    site)`` tuples, numbered from `first`), read as `StoredEvent`s only when iterated: the
    database stores iterate them to write rows, the memory store keeps them as they are and
    spells them out only when its events are read (appending to memory costs next to
    nothing). The entries are never changed once recorded."""

    __slots__ = ("first", "entries")

    def __init__(self, first: int, entries: list):
        self.first = first
        self.entries = entries

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[StoredEvent]:
        new = tuple.__new__  # (StoredEvent's own __new__ is a Python function: skipped)
        for i, (t, p, ts, d, site) in enumerate(self.entries, self.first):
            yield new(StoredEvent, (i, t, p, ts, event_details(d), site))


class StoredFact(NamedTuple):
    """An internal record replay needs (a task outcome, a timer deadline, a clock read)."""

    seq: int
    site: tuple
    kind: str
    value: Any


class Store(Protocol):
    """What every store implements (all methods are coroutines, safe to call from one event loop)."""

    url: str
    shared: bool  # several processes may use it at once (PostgreSQL): see `register_process`

    async def open(self) -> None:
        """Connect, and create or migrate the schema."""

    async def close(self) -> None:
        """Flush and disconnect."""

    async def create(self, record: ExecutionRecord, events: Iterable[StoredEvent] = (),
                     facts: Iterable[StoredFact] = (), *, parent: str | None = None) -> bool:
        """Insert a new execution with the first entries of its journal, in one commit; False
        (and nothing written) when its ARN exists already. With `parent` (the state machine's
        resource ARN), `ResourceGone` (and nothing written) unless that resource is there and
        not DELETING, checked in the insert's transaction (`retire_resource` waits for it)."""

    async def get(self, arn: str) -> ExecutionRecord | None:
        """The execution, or None."""

    async def list(self, *, status: str | None = None, state_machine_arn: str | None = None,
                   limit: int | None = None) -> list[ExecutionRecord]:
        """Executions, newest first."""

    async def update(self, arn: str, **changes: Any) -> None:
        """Change fields of an execution (status, output, redrive_count, ...)."""

    async def append(self, arn: str, events: Iterable[StoredEvent], facts: Iterable[StoredFact] = (),
                     changes: dict | None = None, *, owner: str | None = None) -> None:
        """Add journal entries (and apply `changes` as `update` does, in the same commit where the
        store can), durably once this returns. `owner`: the lease holder writing them; a store
        shared by processes (PostgreSQL) writes nothing and raises `NotOwner` when another one
        holds the execution's lease now (a store of one process has nobody else)."""

    async def events(self, arn: str, after: int = 0) -> list[StoredEvent]:
        """The history events with ``id > after``, in id order."""

    async def facts(self, arn: str) -> list[StoredFact]:
        """The facts, in the order they were recorded."""

    async def claim(self, owner: str, lease_seconds: float, limit: int = 100,
                    arns: Iterable[str] | None = None) -> list[ExecutionRecord]:
        """Take the lease of RUNNING executions that nobody holds (or whose lease ran out)."""

    async def renew(self, owner: str, arns: Iterable[str], lease_seconds: float) -> list[str]:
        """Extend this owner's leases; returns the ARNs it still holds."""

    async def release(self, owner: str, arn: str) -> None:
        """Give up the lease of an execution."""

    async def register_process(self, owner: str) -> None:
        """Announce that the process `owner` lives while the store is open, so that the other
        processes sharing the store take its executions over soon after it dies, not when its
        leases run out (PostgreSQL; nothing to do for a store of one process)."""

    async def stay_registered(self, owner: str) -> bool:
        """Whether the registered process `owner` has stayed registered since the last call (checked
        every second or so). False: the others may have taken its executions over meanwhile; it
        must stop advancing them (they are claimed again from their journals)."""

    async def takeover_in(self, owner: str, by: str) -> float | None:
        """Seconds until process `by` may claim the executions of `owner`, a registered process
        the store has seen die (0: now), or None when `owner` is not known dead (it lives, or it
        never registered: its leases have to run out). Only a shared store can tell."""

    # resources of the service (state machines, versions, aliases, activities): JSON documents
    async def put_resource(self, arn: str, kind: str, doc: dict, parent: str | None = None,
                           created: float = 0.0, *, replace: bool = True) -> bool:
        """Write a resource; with ``replace=False`` only when its ARN is new (returns whether written)."""

    async def get_resource(self, arn: str) -> dict | None:
        """The resource's document, or None."""

    async def delete_resource(self, arn: str) -> bool:
        """Remove a resource; False when there was none."""

    async def list_resources(self, kind: str, parent: str | None = None) -> list[dict]:
        """The documents of one kind (of one parent), oldest first."""

    async def revise_resource(self, arn: str, change: Callable[[dict], dict | None], *,
                              live: bool = True) -> dict:
        """Change the document of resource `arn`: ``change(doc)`` gets a copy of it as it is now
        and returns the new document (None: leave it as it is); the document as it is after is
        returned. `ResourceGone` (nothing written) when the resource is not there or, with
        `live`, DELETING; whatever `change` raises goes through (nothing written). One
        transaction, the resource's row locked (as `retire_resource` locks it) from the read to
        the write: a revision never loses another's, never revives a resource deleted meanwhile,
        nor overwrites its DELETING mark. `change` may run in a worker thread: it only computes."""

    async def revise_family(self, arn: str, kinds: Iterable[str], change: Callable[[Family], Any], *,
                            live: bool = True) -> Any:
        """Run ``change(family)`` on resource `arn` and its children of `kinds` (a `Family`),
        write what it changed, and return what it returns; `ResourceGone` and errors as
        `revise_resource`. One transaction, with `arn`'s row locked: the children are read and
        written under the parent's lock (every change of them goes through it)."""

    async def retire_resource(self, arn: str, children: Iterable[str] = ()) -> bool | None:
        """Delete resource `arn` (a state machine) unless a RUNNING execution of it is on
        record; then mark its document ``"status": "DELETING"`` instead. Its children of the
        kinds `children` go either way. Deleted, it takes with it its executions (those of its
        Map Runs' too: `machine_of`), their journals, and the resources whose parent is one of
        them or the machine, as AWS keeps no execution of a deleted state machine. One
        transaction, the resource locked against `create(..., parent=arn)` of another process:
        an execution is either on record before (and seen here) or refused after. True: deleted;
        False: kept (DELETING); None: there was none."""


def machine_of(state_machine_arn: str) -> str:
    """The state machine an execution record belongs to: a Map Run's child names the machine
    and the Map's label (``...:stateMachine:NAME/LABEL``), which belongs to machine NAME. Once
    that machine is deleted (`Store.retire_resource`), its executions do not exist any more:
    AWS answered DescribeExecution and GetExecutionHistory of them with ExecutionDoesNotExist
    (raw AWS capture radkawar/stackd testdata/aws/stepfunctions/deletion_lifecycle.json
    poll-9-wait-execution, poll-9-wait-history, final-visibility-*; redrive_execution.json
    independent-cleanup-execution-*)."""
    return state_machine_arn.split("/", 1)[0]


class RevisesInFamilies:
    """`Store.revise_resource` for a store that has `Store.revise_family`: a revision of one
    document is a change of a family without children."""

    async def revise_resource(self, arn: str, change: Callable[[dict], dict | None], *,
                              live: bool = True) -> dict:
        return await self.revise_family(arn, (), revision(change), live=live)  # type: ignore[attr-defined]


class OneProcess:
    """`Store.register_process` of a store only one process uses (memory, SQLite): there is
    nobody to tell."""

    shared = False

    async def register_process(self, owner: str) -> None:
        return None

    async def stay_registered(self, owner: str) -> bool:
        return True

    async def takeover_in(self, owner: str, by: str) -> float | None:
        return None


async def watch_registration(store: Store, owner: str, heard: Callable[[bool], Any]) -> None:
    """Until cancelled, every second: ``heard(held)``, whether `owner` has stayed registered with
    `store` (`Store.stay_registered`). On False the process must stop advancing its executions
    (``Execution.abandon``): the others may have taken them over."""
    import anyio

    while True:
        await anyio.sleep(1.0)
        heard(await store.stay_registered(owner))


def open_store(url: str | None) -> Store:
    """A store from its URL: ``memory``, ``sqlite:PATH`` (or a path ending in .db/.sqlite),
    ``postgresql://...`` / ``postgres://...``."""
    if not url or url == "memory" or url == "memory:":
        from .memory import MemoryStore
        return MemoryStore()
    if url.startswith(("postgresql://", "postgres://", "postgresql:", "postgres:")):
        from .postgres import PostgresStore
        return PostgresStore(url)
    if url.startswith("sqlite:") or url.endswith((".db", ".sqlite", ".sqlite3")):
        from .sqlite import SQLiteStore
        path = url[len("sqlite:"):] if url.startswith("sqlite:") else url
        if path.startswith("//"):  # sqlite:///abs/path, as SQLAlchemy writes it
            path = path[2:]
        if not path:
            raise StoreError("sqlite: needs a file, as in sqlite:runs.db")
        return SQLiteStore(path)
    raise StoreError(f"unknown store {url!r}: use memory, sqlite:PATH (or a PATH ending in .db, .sqlite or "
                     ".sqlite3) or postgresql://USER@HOST/DB")


# ---- (de)serialisation shared by the database stores ------------------------------------------

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_json(text: Any) -> Any:
    """JSON text as a database keeps it: a lone surrogate, which a document may hold (the escape
    ``"\\ud800"`` is valid JSON, read as one character that no UTF-8 encodes, so SQLite and
    PostgreSQL refuse the text), and NUL (PostgreSQL's text has none; JSON escapes it in a
    string, so only text after a caller's JSON value, which Jackson ignores, holds one) written
    as their escapes: the same JSON value."""
    if type(text) is not str or (text.isascii() and "\x00" not in text) or not _UNSTORABLE.search(text):
        return text
    return _UNSTORABLE.sub(lambda found: f"\\u{ord(found.group()):04x}", text)


def storable_text(text: Any) -> Any:
    """Plain text (an error, a cause) as a database keeps it: a lone surrogate as '?', as Java's
    ``String.getBytes(UTF_8)`` writes one, and NUL as '?' too (PostgreSQL's text has none)."""
    if type(text) is not str or (text.isascii() and "\x00" not in text):
        return text
    return _UNSTORABLE.sub("?", text)


def dumps(value: Any) -> str:
    """A document as the stores keep it: compact JSON text (`storable_json`)."""
    return storable_json(compact_json(value))


def site_value(text: str | None) -> tuple | None:
    if text is None:
        return None
    return _tuples(json.loads(text))


def _tuples(value: Any) -> Any:
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


RECORD_COLUMNS = ("arn", "name", "state_machine_arn", "state_machine_name", "definition", "type", "input",
                  "status", "output", "error", "cause", "seed", "clock", "start_time", "stop_time",
                  "redrive_count", "redrive_time", "options", "owner", "lease_until")


_JSON_COLUMNS = frozenset({"definition", "input", "output"})  # JSON text (the options are dumped)


def _cell(column: str, value: Any) -> Any:
    """A record's column value as a database keeps it (`storable_json`, `storable_text`)."""
    if column == "options":
        return dumps(value)
    return storable_json(value) if column in _JSON_COLUMNS else storable_text(value)


def record_row(record: ExecutionRecord) -> tuple:
    # (the fields read one by one: dataclasses.asdict deep-copies the options, once per execution)
    return tuple(_cell(c, getattr(record, c)) for c in RECORD_COLUMNS)


def record_from_row(row: Iterable[Any]) -> ExecutionRecord:
    data = dict(zip(RECORD_COLUMNS, row))
    options = data["options"]
    data["options"] = json.loads(options) if isinstance(options, str) else (options or {})
    return ExecutionRecord(**data)


def journal_rows(arn: str, events: Iterable[StoredEvent], facts: Iterable[StoredFact]) -> tuple[list, list]:
    """The rows of the ``events`` and ``facts`` tables for an `append` (JSON as text)."""
    sites = _SiteTexts()
    if type(events) is Entries:
        event_rows = _entry_rows(arn, events, sites)
    else:
        event_rows = [(arn, e.id, e.type, e.previous_id, e.timestamp,
                       None if e.details is None else dumps(e.details), sites.text(e.site)) for e in events]
    return event_rows, [(arn, f.seq, sites.text(f.site), f.kind, dumps(f.value)) for f in facts]


class _SiteTexts:
    """Sites as JSON text, for one batch of rows. A site is ``(frame key, seq)`` (or None), and
    the events and facts of one frame share its key, one tuple: its text is made once."""

    __slots__ = ("keys",)

    def __init__(self) -> None:
        self.keys: dict[int, tuple[tuple, str]] = {}

    def text(self, site: tuple | None) -> str | None:
        if site is None:
            return None
        if len(site) == 2 and type(site[1]) is int and type(site[0]) is tuple:
            key = site[0]
            known = self.keys.get(id(key))  # (the key is kept with its text: its id stays its own)
            if known is None:
                known = self.keys[id(key)] = (key, dumps(key))
            return f"[{known[1]},{site[1]}]"
        return dumps(site)


def _entry_rows(arn: str, events: "Entries", sites: _SiteTexts) -> list[tuple]:
    """`Entries` as rows, their details' JSON written from the tuple form directly. A state's
    output is the next state's input, one object (documents are never changed once recorded):
    its text is made once."""
    values: dict[int, tuple[Any, str]] = {}  # id(value) -> (value, text), for this batch
    rows = []
    site_text_ = sites.text
    quoted = encode_basestring  # a state's name: a string
    for i, (t, p, ts, d, site) in enumerate(events.entries, events.first):
        if d is None:
            text = None
        elif type(d) is tuple:
            name, key, value, assigned = d
            known = values.get(id(value))  # (kept with its text, as sites' keys are)
            if known is None:
                known = values[id(value)] = (value, dumps(value))
            text = f'{{"name":{quoted(name)},"{key}":{known[1]}' + (
                f',"assignedVariables":{dumps(assigned)}}}' if assigned else "}")
            if not name.isascii():  # (a state's name may hold a lone surrogate too)
                text = storable_json(text)
        else:
            text = dumps(d)
        rows.append((arn, i, t, p, ts, text, site_text_(site)))
    return rows


def list_query(mark: str, order: str, status: str | None, state_machine_arn: str | None,
               limit: int | None) -> tuple[str, list]:
    """ListExecutions' SELECT for the database stores: `mark` is the driver's placeholder
    (``?`` or ``%s``), `order` the tie-breaker column after start_time."""
    where, args = [], []
    for column, value in (("status", status), ("state_machine_arn", state_machine_arn)):
        if value is not None:
            where.append(f"{column} = {mark}")
            args.append(value)
    sql = f"SELECT {','.join(RECORD_COLUMNS)} FROM executions"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += f" ORDER BY start_time DESC, {order} DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return sql, args


def check_changes(changes: dict) -> dict:
    bad = set(changes) - set(RECORD_COLUMNS) - {"arn"}
    if bad or "arn" in changes:
        raise StoreError(f"cannot update {', '.join(sorted(bad | ({'arn'} & set(changes))))}")
    if "status" in changes and changes["status"] not in STATUSES:
        raise StoreError(f"unknown status {changes['status']!r}")
    return {column: _cell(column, value) for column, value in changes.items()}


class GroupCommit:
    """Appends from many executions share one transaction: while a commit runs, the appends
    that arrive gather into the next batch, and each caller returns once its rows are durable.
    A store whose writes share one connection (SQLite) also sends its single-row statements
    (`create`, `update`) here, so that 64 executions starting or ending at once cost one disk
    sync rather than 64; they run first in the transaction, in arrival order."""

    def __init__(self, commit: Any):
        self._commit = commit          # async (events rows, facts rows, [(sql, args)]) -> [rowcount]
        self._batch = _Batch()
        self._busy = False

    @property
    def busy(self) -> bool:
        return self._busy

    async def add(self, events: list[tuple], facts: list[tuple], statements: list[tuple] = ()) -> list[int]:
        """Commit rows (and statements); return the row count of each of `statements`."""
        batch = self._batch
        batch.events.extend(events)
        batch.facts.extend(facts)
        first = len(batch.statements)
        batch.statements.extend(statements)
        if self._busy:
            await batch.done.wait()
        else:
            self._busy = True
            try:
                while self._batch.events or self._batch.facts or self._batch.statements:
                    current, self._batch = self._batch, _Batch()
                    try:
                        current.counts = await self._commit(current.events, current.facts, current.statements)
                    except Exception as exc:  # every waiter of the batch hears of it
                        current.error = exc
                    current.done.set()
            finally:
                self._busy = False
        if batch.error is not None:
            raise batch.error if isinstance(batch.error, StoreError) else StoreError(str(batch.error))
        return batch.counts[first:first + len(statements)]


class _Batch:
    __slots__ = ("events", "facts", "statements", "counts", "done", "error")

    def __init__(self) -> None:
        import anyio

        self.events: list[tuple] = []
        self.facts: list[tuple] = []
        self.statements: list[tuple] = []
        self.counts: list[int] = []
        self.done = anyio.Event()
        self.error: BaseException | None = None
