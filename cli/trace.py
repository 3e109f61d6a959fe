"""The trace ``asl run`` writes on stderr while an execution runs: a `Recorder` that prints.

    ▶ ProcessPayment  Task lambda:invoke
    ↻ ProcessPayment  ConnectionError: payment gateway timed out · retry 1 of 3 in 1.00s
    ✓ ProcessPayment  1.01s (2 attempts) → NotifyParties

Each state is shown as it is entered and left, with how long it took on the execution's
clock (virtual or real); Choice decisions name the rule that matched (``Choices[0]``); caught
errors say where they went and which catcher took them (``Catch[0]``): indexes count from 0, as
TestState's ``catchIndex``, the validator's locations and the test API's ``choice``/``catcher``
do. States inside Parallel branches are indented and tagged ``[branch N]``.
States inside Map iterations are summarised (items succeeded / failed, and a live progress
bar on a terminal) unless ``verbose``, which also prints every state's input and output at
each step of its data flow, as TestState's inspection data names them. A failed item is shown
by the state it failed in; a Distributed Map item run by a remote executor (``--executor``),
whose states are not seen here, by what its history tells when it comes back (and with
``verbose`` a succeeded one by the states it went through).

An execution taken up from a store (``asl resume``, ``asl redrive``) first replays its journal:
what the replay shows is printed dim under a ``── replayed from the store ──`` rule, and what
runs anew follows a ``── redrive 1 ──`` (``── resumed ──``) rule.
"""
from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any, TextIO

from ..engine.testing.recorder import Recorder
from ..graph import describe_rule
from .style import Style, compact, duration, error_text, where_tag

MAX_ITEM_FAILURES = 5   # failed Map items printed per Map; the rest are counted
CAUSE_WIDTH = 120       # causes are cut to this in the one-line forms (--verbose shows them whole)
REDRAW_SECONDS = 0.1    # how often the live progress bar may redraw


@dataclass
class _MapProgress:
    """A Map entry's iterations (its `StateVisit.iterations`: index -> status) and their number."""

    iterations: dict
    total: int | None = None

    def count(self, status: str) -> int:
        return sum(1 for seen in self.iterations.values() if seen == status)

    def summary(self, noun: str, tolerated: bool) -> str:
        """``5 items: 3 succeeded, 1 failed, 1 aborted`` (failures of a Map that went on: tolerated)."""
        succeeded, failed, aborted = self.count("succeeded"), self.count("failed"), self.count("aborted")
        count = self.total if self.total is not None else max(succeeded + failed, len(self.iterations))
        text = f"{count} {noun if count != 1 else noun[:-1]}: {succeeded} succeeded"
        if failed:
            text += f", {failed} failed" + (" (tolerated)" if tolerated else "")
        if aborted:
            text += f", {aborted} aborted"
        return text


class Trace(Recorder):
    """Prints each step of an execution to `stream` (stderr) as it happens: the `Recorder`'s
    `StateVisit` of each state (the model `asl.history` reads out of histories), rendered."""

    def __init__(self, stream: TextIO, style: Style, verbose: bool = False, live: bool = False):
        super().__init__(keep=False)  # only the states still running are kept
        self.out = stream
        self.style = style
        self.verbose = verbose
        self.live = live and not verbose
        self.types: dict[str, str] = {}       # state name -> type (names are unique in a machine)
        self.totals: dict[int, int | None] = {}  # id(Map run) -> its number of items (None: batches)
        self.last_failure: tuple | None = None
        self.item_failures: dict[str, int] = {}  # failed-item lines printed per Map state
        self.hints_shown: set[tuple] = set()  # (where, hint) of the hint lines printed
        self._bar: tuple[Any, float] | None = None  # (map run, last drawn) while a bar is up
        self.plain = copy.copy(style)  # replayed lines: written plain, dimmed as a whole
        self.plain.colour = False
        self.taken_up: str | None = None  # ``redrive 1`` / ``resumed``: an execution taken up from a store
        self.since: float | None = None   # ... its clock when it was taken up
        self.replayed_entries = 0         # states entered in the replay of its journal
        self._section: str | None = None  # ``replayed`` / ``live``: the rule printed last
        self._unseen: set[str] = set()    # Distributed Map children none of whose states was seen (yet)
        self._attempts: dict[Any, str] = {}  # run -> ``attempt 2 of 4``: its retry's label, shown as it begins

    def take_up(self, what: str, since: float) -> None:
        """The execution is taken up from a store (`what`: ``redrive 1``, ``resumed``) at `since`
        on its clock: its replayed steps are marked as such, and a state entered in the replay
        that runs on is timed from `since`."""
        self.taken_up, self.since = what, since

    # ---- where a state runs ------------------------------------------------------------------

    @staticmethod
    def location(run: Any) -> tuple:
        """((state, index), ...) from the top execution down to `run`'s block (the engine's
        frame path: Map iterations, Parallel branches and Distributed Map items)."""
        return tuple(run.path)

    def hidden(self, where: tuple) -> bool:
        """Inside a Map iteration: summarised, not traced state by state (unless verbose)."""
        return not self.verbose and any(self.types.get(name) == "Map" for name, _ in where)

    def prefix(self, where: tuple, s: Style) -> str:
        if not where:
            return ""
        name, index = where[-1]
        tag = where_tag(self.types.get(name, "Parallel"), index)
        return "  " * len(where) + s.dim(tag) + " "

    def painter(self, run: Any) -> Style:
        """The style to write `run`'s current step in: `plain` when the step is replayed from
        the journal of an execution taken up from a store (`line` dims it), else `style`.
        The first replayed step prints the ``── replayed from the store ──`` rule, the first
        live one the ``── redrive 1 ──`` (``── resumed ──``) rule."""
        if self.taken_up is None:
            return self.style
        replayed = run.replayed
        section = "replayed" if replayed else "live"
        if self._section is None or (section == "live" and self._section != "live"):
            self._section = section
            rule = self.style["rule"]
            self.line((), self.style.dim(f"{rule} {'replayed from the store' if replayed else self.taken_up} {rule}"))
        return self.plain if replayed else self.style

    def took(self, run: Any) -> str:
        """How long `run` has taken: since it was entered, or for a state entered in the replay
        that went on, since the execution was taken up."""
        start = run.entered_time
        if self.since is not None and start < self.since and not run.replayed:
            start = self.since
        return duration(run.now() - start)

    # ---- writing -----------------------------------------------------------------------------

    def line(self, where: tuple, text: str, s: Style | None = None) -> None:
        """`text` at `where`'s indent and tag; `s` the `painter`'s style (`plain`: replayed,
        dimmed as a whole, and marked so after the live part has begun)."""
        self.clear_bar()
        if s is self.plain:
            if self._section == "live":
                text += " (replayed)"
            text = self.style.dim(self.prefix(where, s) + text)
        else:
            text = self.prefix(where, self.style) + text
        self.out.write(text + "\n")
        self.out.flush()

    def hint_line(self, where: tuple, hint: str, s: Style) -> None:
        """What the error's AWS cause leaves unsaid (where a handler raised, what was wrong with
        an intrinsic function's arguments), under its line; once per place (every retry of a
        handler mostly fails the same way), unless --verbose."""
        if (where, hint) in self.hints_shown and not self.verbose:
            return
        self.hints_shown.add((where, hint))
        self.line(where, "  " + s.dim(f"{s['why']} {hint}"), s)

    def data_line(self, where: tuple, label: str, value: Any, s: Style) -> None:
        # The tag again on each line: concurrent branches and items interleave their lines.
        self.line(where, f"  {s.dim(f'{label:<19}')} {compact(value)}", s)

    def clear_bar(self) -> None:
        if self._bar is not None:
            self.out.write("\r\x1b[K")
            self._bar = None

    def draw_bar(self, run: Any, progress: _MapProgress, force: bool = False) -> None:
        now = time.monotonic()
        if self._bar is not None and not force and now - self._bar[1] < REDRAW_SECONDS:
            return
        s = self.style
        succeeded, failed = progress.count("succeeded"), progress.count("failed")
        done = succeeded + failed
        counts = f"{s.ok(s['ok'] + str(succeeded))} {s.bad(s['fail'] + str(failed))}"
        if progress.total:
            width = 24
            filled = int(width * done / progress.total)
            bar = s["bar"] * filled + s["gap"] * (width - filled)
            text = f"{s.name(run.name)} {bar} {done}/{progress.total} {counts}"
        else:
            text = f"{s.name(run.name)} {done} done, {len(progress.iterations) - done} running {counts}"
        self.out.write("\r\x1b[K" + text)
        self.out.flush()
        self._bar = (run, now)

    # ---- the observer hooks --------------------------------------------------------------------

    def enter(self, run: Any) -> None:
        super().enter(run)
        state = run.state
        self.types[run.name] = state.type
        if self._unseen:
            self._unseen.discard(run.execution_arn)
        if self.taken_up is not None and run.replayed:
            self.replayed_entries += 1
        where = self.location(run)
        if self.hidden(where):
            return
        s = self.painter(run)
        self.line(where, f"{s.paint(s['enter'], 'blue')} {s.name(run.name)}  {s.dim(_describe(state, s))}", s)
        if self.verbose:
            self.data_line(where, "input", run.raw, s)

    def map_started(self, run: Any, length: int) -> None:
        self.attempt_begins(run)
        super().map_started(run, length)  # the iterations start again on a retry
        # batches, not items, are the iterations of a batched Map; an ItemReader's items are not counted up front
        state = run.state
        counted = getattr(state, "item_batcher", None) is None and getattr(state, "item_reader", None) is None
        self.totals[id(run)] = length if counted else None

    def data(self, run: Any, stage: str, value: Any) -> None:
        super().data(run, stage, value)
        if self.verbose:
            self.attempt_begins(run)
            self.data_line(self.location(run), stage, value, self.painter(run))

    def retry(self, run: Any, error: Any, attempt: int, delay: float, retrier: Any) -> None:
        self.attempt_begins(run)
        super().retry(run, error, attempt, delay, retrier)
        where = self.location(run)
        if self.hidden(where):
            return
        s = self.painter(run)
        of = f" of {retrier.max_attempts}" if retrier.max_attempts else ""
        self.line(where, f"{s.warn(s['retry'])} {s.name(run.name)}  "
                         f"{s.warn(_cut(error_text(error.error, error.cause), self.verbose))} "
                         f"{s['dot']} retry {attempt}{of} in {duration(delay)}", s)
        if error.hint and self.verbose:  # (a retry that works needs no more; a failure shows it)
            self.hint_line(where, error.hint, s)
        if self.verbose:  # the next attempt's data lines follow: they are labelled as it begins
            number = len(self._visit(run).retries) + 1
            # MaxAttempts counts retries: a state of one Retrier makes at most 1 + MaxAttempts
            # attempts (AWS: MaxAttempts 2 schedules the Lambda function 3 times); with several
            # Retriers, each counting its own errors, the number left is not known ahead
            most = f" of {retrier.max_attempts + 1}" if len(run.state.retry) == 1 else ""
            self._attempts[run] = f"attempt {number}{most}"

    def attempt_begins(self, run: Any) -> None:
        """The first line of a retried attempt (verbose): ``↻ Name  attempt 2 of 4`` over its data."""
        label = self._attempts.pop(run, None)
        if label is not None:
            s = self.painter(run)
            self.line(self.location(run), f"{s.warn(s['retry'])} {s.name(run.name)}  {s.dim(label)}", s)

    def failed(self, run: Any, error: Any) -> None:
        self.attempt_begins(run)
        progress = self.finish_map(run)
        super().failed(run, error)
        where = self.location(run)
        s = self.painter(run)
        took = self.took(run)
        again = self.last_failure is not None and self.last_failure[0] == (error.error, error.cause) \
            and self.last_failure[1][:len(where)] == where and len(self.last_failure[1]) > len(where)
        if again:  # passed up from a branch or an iteration: the cause is already on screen
            text = f"{s.bad(error.error or 'failed')} (from {self.last_failure[2]})"
        else:
            text = s.bad(_cut(error_text(error.error, error.cause), self.verbose))
        self.last_failure = ((error.error, error.cause), where + ((run.name, 0),), run.name)
        if self.hidden(where) and (again or not self.item_failure_shown(where, s)):
            return
        counts = f"  {progress.summary(_noun(run.state), tolerated=False)}" if progress is not None else ""
        self.line(where, f"{s.bad(s['fail'])} {s.name(run.name)}  {took}{counts}  {text}", s)
        if error.hint and not again:
            self.hint_line(where, error.hint, s)

    def exit(self, run: Any, output: Any, next_name: str | None) -> None:
        self.attempt_begins(run)
        visit = self._visit(run)
        progress = self.finish_map(run)
        super().exit(run, output, next_name)
        where = self.location(run)
        if self.hidden(where):
            return
        target = visit.next  # the runner's choice (Choice, Catch), else the state's Next
        s = self.painter(run)
        took = self.took(run)
        arrow = f"{s['arrow']} {s.name(target) if target else 'end'}"
        parts = [took]
        if run.retry_count:
            parts.append(f"({run.retry_count + 1} attempts)")
        caught = visit.status == "caught"
        if progress is not None:
            parts.append(progress.summary(_noun(run.state), tolerated=not caught))
        elif run.state.type == "Parallel":
            parts.append(f"{len(run.state.branches)} branches")
        if run.state.type == "Choice":
            parts.append(self.decision(run, visit.choice, s))
        if caught:
            symbol = s.warn(s["caught"])
            parts.append(s.warn(f"caught {_cut(error_text(visit.error, visit.cause), self.verbose)}") +
                         s.dim(f" (Catch[{visit.catcher or 0}])"))
        else:
            symbol = s.ok(s["ok"])
        self.line(where, f"{symbol} {s.name(run.name)}  {'  '.join(parts)} {arrow}", s)
        if self.verbose:
            self.data_line(where, "output", output, s)
            if run.variables:
                self.data_line(where, "variables", run.variables, s)

    def item_failure_shown(self, where: tuple, s: Style) -> bool:
        """Whether a failure inside a Map iteration at `where` is shown: the first
        `MAX_ITEM_FAILURES` of each Map are, then one line says the others are not."""
        map_name = next(name for name, _ in reversed(where) if self.types.get(name) == "Map")
        shown = self.item_failures.get(map_name, 0)
        self.item_failures[map_name] = shown + 1
        if shown == MAX_ITEM_FAILURES:
            self.line((), "  " * len(where) + s.dim(f"{s['fail']} more failed items of {map_name} are not "
                                                    "shown (--verbose shows every state)"), s)
        return shown < MAX_ITEM_FAILURES

    def execution_started(self, execution: Any) -> None:
        if execution.parent is not None:  # a Distributed Map item's child execution
            self._unseen.add(execution.arn)

    def execution_ended(self, execution: Any, status: str, error: str | None, cause: str | None) -> None:
        """A Distributed Map item's child none of whose states was seen (a remote executor ran
        it): its outcome, from the history it came back with."""
        if execution.parent is None or execution.arn not in self._unseen:
            return
        self._unseen.discard(execution.arn)
        if status == "SUCCEEDED" and not self.verbose or execution.history is None:
            return
        from ..histories import Timeline

        view, index = execution.parent
        where = tuple(view.path) + ((view.name, index),)
        s = self.style
        timeline = Timeline(execution.history.events)
        # (the latest event, not the closing one: that one is stamped by the parent's clock)
        end = max((event.time for event in timeline.events), default=timeline.start)
        if status == "SUCCEEDED":
            states = f" {s['arrow']} ".join(s.name(entry.name) for entry in timeline.entries if not entry.at)
            self.line(where, f"{s.ok(s['ok'])} {states}  {duration(end - timeline.start)} {s['arrow']} end")
            return
        if not self.verbose and not self.item_failure_shown(where, s):
            return
        failure = timeline.failure
        state = failure.state if failure is not None else None
        entry = next((e for e in reversed(timeline.entries) if e.name == state), None)
        took = f"{duration((entry.exited or end) - entry.entered)}  " if entry is not None else ""
        text = s.bad(_cut(error_text(error, cause), self.verbose))
        self.line(where, f"{s.bad(s['fail'])} {s.name(state or status)}  {took}{text}")

    def iteration(self, run: Any, index: int, status: str) -> None:
        super().iteration(run, index, status)
        if run.state.type == "Map" and self.live and not self.hidden(self.location(run)):
            self.draw_bar(run, self.progress(run))

    # ---- Map bookkeeping -----------------------------------------------------------------------

    def progress(self, run: Any) -> _MapProgress:
        return _MapProgress(self._visit(run).iterations, self.totals.get(id(run)))

    def finish_map(self, run: Any) -> _MapProgress | None:
        if run.state.type != "Map":
            return None
        if self._bar is not None and self._bar[0] is run:
            self.clear_bar()
        progress = self.progress(run)
        self.totals.pop(id(run), None)
        return progress

    def decision(self, run: Any, index: int | None, s: Style) -> str:
        if index is None:
            return s.dim("no rule matched: Default")
        return f"{s.dim(f'Choices[{index}]:')} {describe_rule(run.state.choices[index])}"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

def _describe(state: Any, s: Style) -> str:
    kind = state.type
    if kind == "Task":
        resource = state.resource
        short = resource.split(":function:", 1)[1].split(":")[0] if ":function:" in resource else \
            resource.removeprefix("arn:aws:states:::")
        text = f"Task {('lambda ' + short) if ':function:' in resource else short}"
        if resource.endswith(".waitForTaskToken"):
            text += f" {s['dot']} {s['wait']} waits for its task token"
        return text
    if kind == "Parallel":
        return f"Parallel {s['dot']} {len(state.branches)} branches"
    if kind == "Map":
        return f"Map {s['dot']} {'distributed' if state.is_distributed else 'inline'}"
    return kind


def _noun(state: Any) -> str:
    return "batches" if getattr(state, "item_batcher", None) is not None else "items"


def _cut(text: str, whole: bool) -> str:
    return text if whole or len(text) <= CAUSE_WIDTH else text[: CAUSE_WIDTH - 1] + "…"
