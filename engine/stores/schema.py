"""The stores' schema, as numbered migrations applied in order at `open` (never by hand).

A database records the versions it has in ``schema_version``; a store opening a database
applies the migrations it lacks, in one transaction, and refuses a database newer than it knows.
Add a migration at the end of both lists; never edit one that has shipped.
"""
from __future__ import annotations

_EXECUTION_COLUMNS = """
    arn TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    state_machine_arn TEXT NOT NULL,
    state_machine_name TEXT NOT NULL,
    definition TEXT NOT NULL,
    type TEXT NOT NULL,
    input TEXT NOT NULL,
    status TEXT NOT NULL,
    output TEXT,
    error TEXT,
    cause TEXT,
    seed BIGINT NOT NULL,
    clock TEXT NOT NULL,
    start_time DOUBLE PRECISION NOT NULL,
    stop_time DOUBLE PRECISION,
    redrive_count INTEGER NOT NULL DEFAULT 0,
    redrive_time DOUBLE PRECISION,
    options TEXT NOT NULL DEFAULT '{}',
    owner TEXT,
    lease_until DOUBLE PRECISION
"""

# Migration 2: the service's resources (state machines, versions, aliases, activities), one
# JSON document each, keyed by ARN; `parent` is the state machine a version or alias belongs to.
_RESOURCES = ("CREATE TABLE resources (arn TEXT PRIMARY KEY, kind TEXT NOT NULL, parent TEXT, "
              "created {real} NOT NULL, doc TEXT NOT NULL)")
_RESOURCES_INDEX = "CREATE INDEX resources_by_kind ON resources (kind, parent, created)"

SQLITE_MIGRATIONS: list[tuple[int, list[str]]] = [
    (1, [
        f"CREATE TABLE executions ({_EXECUTION_COLUMNS})",
        "CREATE INDEX executions_by_status ON executions (status, start_time)",
        "CREATE INDEX executions_by_machine ON executions (state_machine_arn, start_time)",
        "CREATE TABLE events (arn TEXT NOT NULL, id INTEGER NOT NULL, type TEXT NOT NULL, "
        "previous_id INTEGER NOT NULL, timestamp REAL NOT NULL, details TEXT, site TEXT, "
        "PRIMARY KEY (arn, id)) WITHOUT ROWID",
        "CREATE TABLE facts (arn TEXT NOT NULL, seq INTEGER NOT NULL, site TEXT, kind TEXT NOT NULL, "
        "value TEXT, PRIMARY KEY (arn, seq)) WITHOUT ROWID",
    ]),
    (2, [_RESOURCES.format(real="REAL"), _RESOURCES_INDEX]),
]

POSTGRES_MIGRATIONS: list[tuple[int, list[str]]] = [
    (1, [
        f"CREATE TABLE executions ({_EXECUTION_COLUMNS}, created BIGSERIAL)",
        "CREATE INDEX executions_by_status ON executions (status, start_time)",
        "CREATE INDEX executions_by_machine ON executions (state_machine_arn, start_time)",
        "CREATE TABLE events (arn TEXT NOT NULL, id INTEGER NOT NULL, type TEXT NOT NULL, "
        "previous_id INTEGER NOT NULL, timestamp DOUBLE PRECISION NOT NULL, details TEXT, site TEXT, "
        "PRIMARY KEY (arn, id))",
        "CREATE TABLE facts (arn TEXT NOT NULL, seq INTEGER NOT NULL, site TEXT, kind TEXT NOT NULL, "
        "value TEXT, PRIMARY KEY (arn, seq))",
    ]),
    (2, [_RESOURCES.format(real="DOUBLE PRECISION"), _RESOURCES_INDEX]),
    # Migration 3: the activity tasks offered to the workers of every process (GetActivityTask),
    # by token: state offered -> taken (a worker's process claimed it) -> started (its execution
    # recorded ActivityStarted); `seq` keeps them first in, first out
    (3, ["CREATE TABLE activity_tasks (token TEXT PRIMARY KEY, activity_arn TEXT NOT NULL, "
         "execution_arn TEXT NOT NULL, input TEXT NOT NULL, state TEXT NOT NULL, worker TEXT, seq BIGSERIAL)",
         "CREATE INDEX activity_tasks_by_activity ON activity_tasks (activity_arn, state, seq)"]),
    # Migration 4: the processes that run executions (lease owners), each alive while PostgreSQL
    # sees it hold the session advisory lock (key_a, key_b); `dead_since` (the database's clock,
    # epoch seconds) is set by another process that saw the lock gone, cleared when it is back
    (4, ["CREATE TABLE processes (owner TEXT PRIMARY KEY, key_a INTEGER NOT NULL, key_b INTEGER NOT NULL, "
         "dead_since DOUBLE PRECISION)"]),
]


def current_version(migrations: list[tuple[int, list[str]]]) -> int:
    return migrations[-1][0]
