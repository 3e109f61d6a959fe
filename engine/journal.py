"""The journal: an execution's history, plus what it takes to pick the execution up again.

An execution is deterministic given its definition, its input, its seed and what the outside
world answered. The journal records those answers as they happen, and resume replays them:

* **Sites.** Every block run (the machine, a Parallel branch, a Map iteration) is a frame
  with a *key*: its parent's key plus (the parent's position when it forked, the branch or
  item index). Everything a frame records takes the next *position* in that frame, so
  ``(key, position)`` names the same moment of the same run however branches interleave.
* **Events** are AWS's history events, each stored with its site.
* **Facts** are what is not in the events: a task attempt's outcome (result, error, timeout),
  a timer's deadline, a clock read (``$now()``). Random draws need no facts: each frame draws
  from its own generator, seeded from the execution's seed and the frame's key
  (`frame_random`), so a replayed frame draws the same values again.

Resume walks the machine again. At each site the recorded entry is fed back instead of doing
the work: a recorded event keeps its id and timestamp (nothing is appended), a recorded
outcome is returned instead of calling the handler, a timer whose frame went on past it is
not waited for again. At the first site a frame has no record of, that frame goes live; new
events are appended after the recorded ones. A task whose attempt was recorded as started but
has no outcome was in flight when the process died: it is invoked again (at least once, as
on AWS after an infrastructure failure; ``TaskContext.redelivered`` tells the handler).

A recorded entry that differs from what the machine does at that site (another type, another
state), or a frame that stops short of its recorded entries, means the journal does not fit
the definition: `JournalMismatch` names the first event that does not fit.
"""
from __future__ import annotations

import random
from typing import Any, Iterable

from ..errors import ASLError
from .stores import StoredEvent, StoredFact, event_details  # noqa: F401 - event_details read from here too

Site = tuple  # (frame key, position)


class JournalMismatch(ASLError):
    """Raised by resume when a recorded history does not fit the definition (edited, or
    another machine's): names the first event (or fact) that does not fit."""

    def __init__(self, message: str, event_id: int | None = None):
        super().__init__(message)
        self.event_id = event_id


def frame_random(seed: int, key: tuple) -> "FrameRandom":
    """The random source of one frame: the same seed and key give the same draws."""
    return FrameRandom(seed, key)


class FrameRandom:
    """A frame's `random.Random`, seeded on its first draw: most frames (a Map's iterations,
    a Parallel's branches) never draw, and seeding costs more than the rest of a state."""

    __slots__ = ("_seed", "_key", "_rng")

    def __init__(self, seed: int, key: tuple):
        self._seed = seed
        self._key = key
        self._rng: random.Random | None = None

    def __getattr__(self, name: str) -> Any:  # only for what the slots do not hold: the draws
        rng = self._rng
        if rng is None:
            rng = self._rng = random.Random(f"{self._seed}/{self._key!r}")
        return getattr(rng, name)


def _describe(event_type: str, details: Any) -> str:
    details = event_details(details)
    name = details.get("name") if isinstance(details, dict) else None
    return f"{event_type} '{name}'" if name else event_type


_STARTS = ("ParallelStateStarted", "MapStateStarted")
REDRIVEN = "ExecutionRedriven"   # the event that opens a redrive; its fact twin marks the facts'


class Recorded:
    """A journal read back (from a store, or a finished run): entries by site, for replay.

    A journal may span redrives: the events after each ``ExecutionRedriven`` (and the facts
    after each ``redrive`` marker fact) belong to the next attempt. Each attempt's journal is
    laid over what the previous ones left after their `cut_failures`, so replay sees what the
    last attempt saw. With ``redrive=True`` the whole journal is cut once more, for a new redrive.
    """

    def __init__(self, events: Iterable[StoredEvent], facts: Iterable[StoredFact] = (), redrive: bool = False):
        self.entries: dict[Site, tuple[str, Any]] = {}
        self.ends: dict[tuple, int] = {}           # frame key -> its last recorded position
        self.children: dict[tuple, set] = {}       # frame key -> the keys of the frames it forked
        self.events = list(events)
        self.facts = list(facts)
        self.unsited: list[StoredEvent] = []
        self.redriven: dict[Site, int] = {}       # a Map Run child's outcome site -> times it failed and was cut
        self.epoch_of: dict[Site, int] = {}       # site -> the attempt (0: the first run) that recorded it
        event_epochs = _epochs(self.events, lambda e: e.type == REDRIVEN)
        fact_epochs = _epochs(self.facts, lambda f: f.kind == "redrive")
        attempts = max(len(event_epochs), len(fact_epochs))
        for epoch in range(attempts):
            if epoch:
                self.cut_failures()
            for event in event_epochs[epoch] if epoch < len(event_epochs) else ():
                if event.site is None:
                    self.unsited.append(event)
                    continue
                self._add(event.site, ("event", event), epoch)
            for fact in fact_epochs[epoch] if epoch < len(fact_epochs) else ():
                if fact.site is not None:
                    self._add(fact.site, ("fact", fact), epoch)
        self.attempt = attempts - 1  # the attempt the replay runs in (a new one for a redrive)
        if redrive:
            self.cut_failures()
            self.attempt += 1
        self.last_id = self.events[-1].id if self.events else 0
        self.last_time = max((e.timestamp for e in self.events), default=None)
        self.consumed: set[Site] = set()

    def cut_failures(self) -> None:
        """Forget how the last attempt failed, so replay goes live where it did (redrive).

        AWS redrives every state entered and never exited: in each frame, everything recorded
        after its open state's ``*StateEntered`` goes (the task's attempts, the failure and
        abort events, a Map or Parallel's failure, the execution's end), with the attempt
        frames forked there; the branches and iterations forked there stay, each cut the same
        way, so the ones that succeeded are replayed and only the others run again.
        """
        by_frame: dict[tuple, list] = {}
        for (key, position), entry in self.entries.items():
            by_frame.setdefault(key, []).append((position, entry))
        for key, entries in by_frame.items():
            entries.sort(key=lambda pe: pe[0])
            cut = None
            for position, (kind, value) in entries:
                if kind == "event" and value.type.endswith("StateEntered"):
                    cut = position
                elif kind == "event" and value.type.endswith("StateExited"):
                    cut = None
                elif kind == "event" and value.type in _STARTS and cut == position - 1:
                    # a Parallel or Map keeps its start: its redrive adds no second one (raw AWS
                    # capture, radkawar/stackd testdata/aws/stepfunctions/redrive_execution.json,
                    # 03-inline-map-final-history: ExecutionRedriven, then the failed iteration's
                    # ActivityScheduled; finding parallel-preserves-success-and-resumes-failed-aborted)
                    cut = position
            outcomes_only = all(kind == "fact" and value.kind == "outcome" for _, (kind, value) in entries)
            if cut is None and entries and outcomes_only:
                # a frame of outcomes only (a Distributed Map child's): it goes from the first failure
                cut = min((p - 1 for p, (_, fact) in entries if "value" not in fact.value), default=entries[-1][0])
            if cut is None:  # nothing open in this frame: its end (a failed iteration's) goes
                cut = max((p for p, (kind, value) in entries if kind == "event"
                           and not value.type.endswith(("Failed", "Aborted", "TimedOut"))), default=0)
            for position, entry in entries:
                if position > cut:
                    del self.entries[(key, position)]
                    if outcomes_only and "value" not in entry[1].value:  # a Map Run child that did not succeed
                        self.redriven[(key, position)] = self.redriven.get((key, position), 0) + 1
            self.ends[key] = min(self.ends.get(key, 0), cut)
        for key in sorted(self.ends, key=len):  # attempt frames forked after a cut go with it
            if key and key[-1][1] == -1:
                parent, (fork, _index) = key[:-1], key[-1]
                if fork > self.ends.get(parent, 0):
                    for position in range(1, self.ends[key] + 1):
                        self.entries.pop((key, position), None)
                    self.ends[key] = 0

    def _add(self, site: Site, entry: tuple, epoch: int = 0) -> None:
        key, position = site
        if site in self.entries:
            raise JournalMismatch(f"the journal records two entries at one site {site!r}", _id_of(entry))
        self.entries[site] = entry
        self.epoch_of[site] = epoch
        if key not in self.ends:
            for depth in range(len(key), 0, -1):  # register the frame under each of its ancestors
                parent = key[:depth - 1]
                known = parent in self.children
                self.children.setdefault(parent, set()).add(key[:depth])
                if known:
                    break
            self.ends[key] = 0
        if position > self.ends[key]:
            self.ends[key] = position

    def earlier(self, site: Site) -> bool:
        """Was the entry at `site` recorded by an attempt before the one the replay runs in?"""
        return site in self.entries and self.epoch_of.get(site, self.attempt) < self.attempt

    def take(self, site: Site) -> tuple[str, Any] | None:
        """The entry recorded at `site`, marked as replayed; None when the frame goes live here
        (JournalMismatch if the frame has later entries: a gap in the record)."""
        entry = self.entries.get(site)
        if entry is not None:
            self.consumed.add(site)
            return entry
        key, position = site
        end = self.ends.get(key, 0)
        if position <= end:
            later = min((p for (k, p) in self.entries if k == key and p > position), default=end)
            entry = self.entries[(key, later)]
            raise JournalMismatch(f"{_entry_text(entry)} does not fit the definition: the machine has nothing "
                                  f"to record before it", _id_of(entry))
        return None

    def take_frame(self, key: tuple) -> int:
        """Mark everything recorded in frame `key` and the frames it forked as replayed (work
        whose outcome is recorded is not done again); returns the last event id among them."""
        last = 0
        stack = [key]
        while stack:
            frame = stack.pop()
            for position in range(1, self.ends.get(frame, 0) + 1):
                site = (frame, position)
                entry = self.entries.get(site)
                if entry is not None:
                    self.consumed.add(site)
                    if entry[0] == "event" and entry[1].id > last:
                        last = entry[1].id
            stack.extend(self.children.get(frame, ()))
        return last

    def started(self, key: tuple, position: int) -> bool:
        """Was something recorded at this site? (A task attempt's start, before its outcome.)"""
        return (key, position) in self.entries

    def goes_on_after(self, site: Site) -> bool:
        """Does the frame of `site` have entries recorded after it? (Then a timer there fired.)
        An abort event (``WaitStateAborted``, ...) does not count: it says the frame was cut
        short while it waited, not that the wait ended."""
        key, position = site
        entries = self.entries
        for later in range(position + 1, self.ends.get(key, 0) + 1):
            entry = entries.get((key, later))
            if entry is not None and not (entry[0] == "event" and entry[1].type.endswith("Aborted")):
                return True
        return False

    def unconsumed(self) -> list[tuple[str, Any]]:
        return [entry for site, entry in self.entries.items() if site not in self.consumed]

    def check_complete(self) -> None:
        """After a run: every recorded entry was replayed (else the journal has entries the
        machine never reached: it does not fit)."""
        left = self.unconsumed()
        if left:
            first = min(left, key=lambda e: (_id_of(e) or 10**12))
            raise JournalMismatch(f"{_entry_text(first)} does not fit the definition: the machine never "
                                  "reaches it", _id_of(first))


def _epochs(items: list, opens: Any) -> list[list]:
    """`items` split where a redrive opens a new attempt (the opener starts the new part)."""
    parts: list[list] = [[]]
    for item in items:
        if opens(item):
            parts.append([])
        parts[-1].append(item)
    return parts


def _id_of(entry: tuple) -> int | None:
    kind, value = entry
    return value.id if kind == "event" else None


def _entry_text(entry: tuple) -> str:
    kind, value = entry
    if kind == "event":
        return f"event {value.id} ({_describe(value.type, value.details)})"
    return f"the recorded {value.kind} at {value.site!r}"


def check_event(entry: tuple[str, Any] | None, event_type: str, details: Any) -> StoredEvent | None:
    """The recorded event for a site the machine is about to record `event_type` at, or None
    (live). A different type or state name is a mismatch."""
    if entry is None:
        return None
    kind, value = entry
    if kind != "event" or value.type != event_type or _name(value.details) != _name(details):
        got = _entry_text(entry)
        raise JournalMismatch(f"{got} does not fit the definition: here the machine records "
                              f"{_describe(event_type, details)}", _id_of(entry))
    return value


def _name(details: Any) -> Any:
    if type(details) is tuple:
        return details[0]
    return details.get("name") if isinstance(details, dict) else None


def check_fact(entry: tuple[str, Any] | None, kind: str) -> StoredFact | None:
    if entry is None:
        return None
    got_kind, value = entry
    if got_kind != "fact" or value.kind != kind:
        raise JournalMismatch(f"{_entry_text(entry)} does not fit the definition: here the machine "
                              f"records a {kind}", _id_of(entry))
    return value
