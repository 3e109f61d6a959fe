"""Continuing an execution from a store: `resume` after a crash, `redrive` after a failure
(RedriveExecution), and the lease that makes one process at a time advance it.
"""
from __future__ import annotations

from typing import Any

from ..errors import ASLError
from .starting import _lease, prepare
from .stores import owner_has_died


class LeaseHeld(ASLError):
    """Raised by `resume` / `redrive` when another process holds the execution's lease (alive,
    or dead for too short a time to be sure of it)."""


async def _claim(store: Any, record: Any, owner: str | None, lease_seconds: float | None,
                 wait: bool = True) -> tuple[str, float]:
    """Take the execution's lease for `owner` (default: this process), or raise LeaseHeld. The
    lease of a process that has died is void: at once when it ran on this machine; once the
    shared store's grace has passed (`Store.takeover_in`) when it registered there, which this
    waits for when `wait` (else LeaseHeld says how long is left)."""
    from .execution import default_owner

    owner = owner or default_owner()
    lease_seconds = lease_seconds or _lease()
    claimed = await store.claim(owner, lease_seconds, arns=[record.arn])
    if claimed or record.status != "RUNNING":
        return owner, lease_seconds
    left = None
    if record.owner and owner_has_died(record.owner):
        await store.release(record.owner, record.arn)  # (killed on this machine: its lease is void)
        claimed = await store.claim(owner, lease_seconds, arns=[record.arn])
    elif record.owner:
        left = await store.takeover_in(record.owner, owner)
        if left is not None and wait:
            import anyio

            await anyio.sleep(left + 0.05)
            claimed, left = await store.claim(owner, lease_seconds, arns=[record.arn]), None
    if not claimed:  # (held by whoever holds it now: the one read before, or one quicker than this)
        raise LeaseHeld(_held(await store.get(record.arn) or record, left))
    return owner, lease_seconds


def _held(record: Any, left: float | None) -> str:
    """Why `record`'s lease cannot be taken (`left`: seconds until its dead holder's can)."""
    import time

    if record.status != "RUNNING":
        return f"the execution '{record.arn}' has ended meanwhile ({record.status})"
    if not record.owner:
        return f"the execution '{record.arn}' was being claimed by another process: try again"
    if left is not None:
        how = f"its process has died: it can be taken over in {max(left, 1):.0f}s"
    else:
        how = f"its lease runs out in {max(0.0, (record.lease_until or 0) - time.time()):.0f}s if that process has died"
    return f"the execution '{record.arn}' is being run by {record.owner} ({how})"


class NotResumable(ASLError):
    """Raised by `resume` for an execution the store does not have, or one that has ended."""


async def resume(store: Any, arn: str, **options: Any) -> Any:
    """Continue a RUNNING execution recorded in `store` (its process died) from its journal;
    returns its `ExecutionResult` (`prepare_resume` + `Execution.run`).

    The definition, input, seed and clock kind come from the store; ``options`` are `prepare`'s
    handler and mock options (``handlers``, ``mock_config``, ``test_case``, ``observer``).
    Recorded task outcomes are replayed, never called again; a task that was in flight is
    called again (``TaskContext.redelivered``); Waits end at their recorded deadlines.
    Raises `JournalMismatch` when the journal does not fit the definition.
    """
    execution = await prepare_resume(store, arn, **options)
    return await execution.run()


async def prepare_resume(store: Any, arn: str, *, owner: str | None = None, lease_seconds: float | None = None,
                         wait_for_takeover: bool = True, **options: Any) -> Any:
    """The `Execution` that `resume` runs, not started (to answer its callbacks, stop it, ...).
    Takes the execution's lease (`LeaseHeld` while another live process holds it; one whose
    process has died is waited for, a few seconds, unless not `wait_for_takeover`)."""
    from .journal import Recorded

    record = await store.get(arn)
    if record is None:
        raise NotResumable(f"Execution Does Not Exist: '{arn}'")
    if record.status != "RUNNING":
        raise NotResumable(f"the execution '{arn}' has ended ({record.status}): nothing to resume")
    owner, lease_seconds = await _claim(store, record, owner, lease_seconds, wait_for_takeover)
    events = await store.events(arn)
    facts = await store.facts(arn)
    return _restored(store, record, events, facts, Recorded(events, facts), options, owner, lease_seconds)


def _restored(store: Any, record: Any, events: list, facts: list, recorded: Any, options: dict, owner: str,
              lease_seconds: float) -> Any:
    """An execution rebuilt from its record and journal, replaying `recorded` when it runs."""
    import json

    from asl import load

    from .callbacks import recorded_answers
    from .clock import Clock, VirtualClock
    from .execution import StoreSink
    from .history import History

    machine = load(json.loads(record.definition))
    if record.clock == "virtual":
        clock = VirtualClock(recorded.last_time if recorded.last_time is not None else record.start_time)
    else:
        clock = Clock()
    opts = record.options
    execution = prepare(machine, json.loads(record.input), name=record.name,
                        state_machine_name=record.state_machine_name, type=record.type, clock=clock,
                        seed=record.seed, history_limit=opts.get("historyLimit", 25_000),
                        payload_limit=opts.get("payloadLimit", 262_144), check_handlers=False, **options)
    execution.history = History.restored([(e.type, e.previous_id, e.timestamp, e.details, e.site) for e in events],
                                         execution.history.limit)
    execution.replay = recorded
    execution.facts = list(facts)
    execution.answers = recorded_answers(facts)
    execution.redrive_count = record.redrive_count
    execution.redrive_time = record.redrive_time
    execution.sink = StoreSink(store, record.arn, len(events), len(facts), owner, lease_seconds)
    return execution


class ExecutionNotRedrivable(ASLError):
    """Raised by `redrive` when AWS would refuse RedriveExecution; ``.reason`` says why. The
    message is AWS's (raw AWS capture, radkawar/stackd testdata/aws/stepfunctions/redrive_execution.json:
    "Execution <arn> invalid for redrive as: Execution is RUNNING and cannot be redriven")."""

    def __init__(self, reason: str, arn: str):
        self.reason = reason
        super().__init__(f"Execution {arn} invalid for redrive as: {reason}")


REDRIVE_PERIOD = 14 * 24 * 3600          # AWS: redrivable for 14 days after the execution closed
MAX_OPEN = 365 * 24 * 3600               # ... and within a year of its start
REDRIVE_EVENT_LIMIT = 24_999             # ... when its history has fewer events than this


def redrive_refusal(record: Any, now: float, events: int | None = None) -> str | None:
    """Why AWS would refuse to redrive the execution of `record` at `now` (None: it would not),
    in the words of the API model's redriveStatusReason list ("Execution is SUCCEEDED and cannot
    be redriven", "Execution redrivable period exceeded", "Execution has exceeded the max
    execution time"; for a long history AWS's own words); `events`, the length of its history,
    when known."""
    if record.type == "EXPRESS":
        return "Execution is EXPRESS and cannot be redriven"
    if record.status in ("RUNNING", "SUCCEEDED", "PENDING_REDRIVE"):
        return f"Execution is {record.status} and cannot be redriven"
    if record.stop_time is not None and max(now, record.stop_time) - record.stop_time > REDRIVE_PERIOD:
        return "Execution redrivable period exceeded"
    if (record.stop_time or now) - record.start_time > MAX_OPEN:
        return "Execution has exceeded the max execution time"
    if events is not None and events >= REDRIVE_EVENT_LIMIT:
        # AWS's words (raw AWS capture, radkawar/stackd testdata/aws/stepfunctions/
        # variable_limits.json "cleanup-describe-history-cap"), not the API model's ("Execution
        # history event limit exceeded")
        return "Execution has exceeded the maximum history event limit"
    return None


async def redrive(store: Any, arn: str, machine: Any = None, **options: Any) -> Any:
    """RedriveExecution: restart a FAILED, TIMED_OUT or ABORTED Standard execution from the
    states that did not succeed (inside a Parallel or Map, only the branches and iterations
    that did not), keeping its history; returns its new `ExecutionResult`.

    The history gains ``ExecutionRedriven`` and the new events; ``$$.Execution.RedriveCount``
    counts the redrives. `machine`, if given, must be the definition the execution ran.
    Raises `ExecutionNotRedrivable` as AWS refuses (Express, still RUNNING, SUCCEEDED, closed
    over 14 days ago, started over a year ago, 24,999 events or more, definition changed).
    """
    execution = await prepare_redrive(store, arn, machine, **options)
    return await execution.run()


REDRIVE_TOKEN = "redrive-token"  # the fact of a redrive asked with a clientToken: {"token", "redriveDate"}


def redriven_with(facts: list, token: str) -> float | None:
    """The redriveDate of the redrive a RedriveExecution with clientToken `token` made, if one did."""
    for fact in facts:
        if fact.kind == REDRIVE_TOKEN and isinstance(fact.value, dict) and fact.value.get("token") == token:
            return fact.value.get("redriveDate")
    return None


async def prepare_redrive(store: Any, arn: str, machine: Any = None, *, owner: str | None = None,
                          lease_seconds: float | None = None, client_token: str | None = None, **options: Any) -> Any:
    """The `Execution` that `redrive` runs, recorded as redriven but not started; `client_token`
    (RedriveExecution's clientToken) is recorded with it (`redriven_with`)."""
    import json
    import time

    from .journal import REDRIVEN, Recorded

    record = await store.get(arn)
    if record is None:
        raise NotResumable(f"Execution Does Not Exist: '{arn}'")
    events = await store.events(arn)
    now = time.time()
    reason = redrive_refusal(record, now, len(events))
    if reason is None and machine is not None and json.loads(record.definition) != machine.definition:
        reason = "The state machine definition changed since the execution started: start a new execution"
    if reason is not None:
        raise ExecutionNotRedrivable(reason, arn)
    owner, lease_seconds = await _claim(store, record, owner, lease_seconds)
    facts = await store.facts(arn)
    execution = _restored(store, record, events, facts, Recorded(events, facts, redrive=True), options, owner,
                          lease_seconds)
    count = record.redrive_count + 1
    redriven_at = max(execution.clock.now(), record.stop_time or 0.0)
    if execution.clock.virtual:
        execution.clock.advance(redriven_at - execution.clock.now())
    redriven = execution.history.add(REDRIVEN, execution.history.last_id, redriven_at, {"redriveCount": count})
    execution.record_fact(None, "redrive", count)
    if client_token is not None:
        execution.record_fact(None, REDRIVE_TOKEN, {"token": client_token, "redriveDate": redriven_at})
    execution.redrive_count = count
    if execution.log is not None:
        execution.log.record(execution, redriven)
    execution.redrive_time = redriven_at
    await store.update(arn, status="RUNNING", stop_time=None, output=None, error=None, cause=None,
                       redrive_count=count, redrive_time=redriven_at, owner=owner,
                       lease_until=time.time() + lease_seconds)
    return execution
