"""OpenTelemetry traces of executions: an observer that turns what an execution does into spans.

    from asl.engine import run_sync
    from asl.engine.tracing import Tracing

    run_sync(machine, input, handlers=handlers, observer=Tracing())   # the global TracerProvider

The span tree of one execution (each span's name, then what it stands for)::

    order                          the execution (the state machine's name)
      ValidateOrder                a state, from its *StateEntered to its *StateExited event
        ValidateOrder attempt 1    one call of a Task's handler, mock or service (retries: 2, 3, ...)
      NotifyParties                a Parallel state
        NotifyParties branch 0     one branch; its states beneath it
      Each                         a Map state
        Each item 3                one iteration; a Distributed Map item's child execution beneath it

While a state or an attempt runs its span is the current one (OpenTelemetry's context), so a
handler's own spans, boto3's (with botocore instrumentation) and anything the handler calls nest
under its Task attempt; `TaskContext.trace_headers` carries the W3C ``traceparent`` for calls
that leave the process. Retries, Catch and Choice decisions are span events (``retry``,
``caught``, ``choice``) on the state's span; a retried attempt's span links to the attempt it
repeats (``asl.link: retry of``), a callback task's to the span that answered it (``answered by``),
a redriven execution's to its first run's and earlier redrives' (``first run``, ``redrive``: each
run notes its span in the execution's journal) and a resumed one's to the run it continues
(``resumed from``). Attributes, to filter on (all optional but the names):

    asl.state_machine.name / .arn, asl.execution.arn / .name / .type / .status / .redrive_count
    asl.state.name / .type / .retry_count / .next, asl.task.resource / .attempt
    asl.error, asl.cause, asl.map.index, asl.parallel.branch (on a branch's or item's span and on
    the spans of the states in it, outer indexes included), asl.map_run.index

Only `opentelemetry-api` is needed here (a dependency of asl-engine); with no SDK configured,
spans cost next to nothing. `from_environment` sets the SDK up from the standard ``OTEL_*``
variables (``pip install -e ".[otel]"`` in the clone). Without a `Tracing` observer the engine makes no
span at all: tracing is an observer, and the engine pays for observers only when there is one.
"""
from __future__ import annotations

from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Status, StatusCode

from .observe import (AttemptEnded, AttemptStarted, ChoiceMatched, ErrorCaught, ExecutionBegan, ExecutionEnded,
                      IterationChanged, Observer, RetryScheduled, StateEntered, StateExited, StateFailed)

from .otelconfig import (TRACER_NAME, TracingConfigError, TracingNotInstalled, from_environment,  # noqa: F401
                         wanted)  # (re-exported)


class Tracing(Observer):
    """An observer making OpenTelemetry spans (see the module docstring).

    tracer_provider   where the spans go (default: OpenTelemetry's global provider)
    parent            the context the execution's span is a child of (default: the current one,
                      e.g. a ``traceparent`` extracted by `asl serve` from a StartExecution request)
    """

    def __init__(self, tracer_provider: Any = None, parent: Any = None):
        from asl import __version__

        self.tracer_provider = tracer_provider
        self.tracer = trace.get_tracer(TRACER_NAME, __version__, tracer_provider=tracer_provider)
        self.parent = parent
        # open spans: key -> (span, the context current before it, the execution's ARN)
        self._open: dict[Any, tuple[Any, Any, str]] = {}
        self._executions: dict[str, dict] = {}  # ARN -> the attributes every span of it carries
        # (ARN, path of a branch or item) -> its index attribute, for the states that run in it
        self._places: dict[tuple, dict] = {}
        self._retried: dict[Any, Any] = {}  # state view -> the span context of its last failed attempt

    def for_children(self) -> "Tracing":
        """Nested executions run in this process are traced too, each under the Task attempt
        that started it (the current span when it begins)."""
        return Tracing(self.tracer_provider)

    # ---- spans -----------------------------------------------------------------------------------

    def _start(self, key: Any, name: str, arn: str, attributes: dict, parent: Any = None, links: Any = None) -> Any:
        before = otel_context.get_current()
        parent = before if parent is None else parent
        span = self.tracer.start_span(name, context=parent, attributes={**self._executions.get(arn, {}),
                                                                        **attributes}, links=links)
        # the span is the current one in this task (and the tasks and threads it starts) until it ends
        otel_context.attach(trace.set_span_in_context(span, parent))
        self._open[key] = (span, before, arn)
        return span

    def _end(self, key: Any, error: Any = None, attributes: dict | None = None) -> None:
        opened = self._open.pop(key, None)
        if opened is None:
            return
        span, before, _ = opened
        if attributes:
            span.set_attributes(attributes)
        if error is not None:
            _failed(span, error.error, error.cause)
        span.end()
        otel_context.attach(before)

    def _span(self, key: Any) -> Any:
        opened = self._open.get(key)
        return opened[0] if opened is not None else None

    # ---- the execution ---------------------------------------------------------------------------

    def execution_started(self, execution: Any) -> None:
        common = {"asl.state_machine.name": execution.state_machine_name,
                  "asl.state_machine.arn": execution.state_machine_arn,
                  "asl.execution.arn": execution.arn}
        self._executions[execution.arn] = common
        attributes = {"asl.execution.name": execution.name, "asl.execution.type": execution.type,
                      "asl.execution.redrive_count": execution.redrive_count}
        if execution.parent is not None:  # a Distributed Map item's child execution: its states are the item's
            map_view, index = execution.parent
            attributes["asl.map_run.index"] = index
            if map_view is not None:
                self._places[(execution.arn, map_view.path + ((map_view.name, index),))] = {"asl.map.index": index}
        parent = self.parent if execution.parent is None else None
        span = self._start(("execution", execution.arn), execution.state_machine_name, execution.arn, attributes,
                           parent, links=_earlier_runs(execution))
        context = span.get_span_context()
        if context.is_valid and execution.keep is not None:  # for its resumption and redrives to link to
            execution.keep({"trace": _traceparent(context), "redriveCount": execution.redrive_count})

    def execution_ended(self, execution: Any, status: str, error: str | None, cause: str | None) -> None:
        arn = execution.arn
        # what a stop, a timeout or a failing sibling cancelled never ended: end it now, innermost first
        for key in [k for k, (_, _, owner) in self._open.items() if owner == arn and k != ("execution", arn)][::-1]:
            span = self._open[key][0]
            span.set_attribute("asl.aborted", True)
            self._end(key)
        span = self._span(("execution", arn))
        if span is not None:
            span.set_attribute("asl.execution.status", status)
            if status != "SUCCEEDED":
                _failed(span, error, cause)
        self._end(("execution", arn))
        self._executions.pop(arn, None)
        for place in [p for p in self._places if p[0] == arn]:
            del self._places[place]

    # ---- states ----------------------------------------------------------------------------------

    def event(self, event: Any) -> None:
        hook = _HOOKS.get(type(event))
        if hook is not None:
            hook(self, event)

    def _state_entered(self, event: StateEntered) -> None:
        view = event.state
        attributes = {"asl.state.name": view.name, "asl.state.type": view.type}
        if view.path:
            attributes.update(self._places.get((view.execution_arn, view.path), ()))
        resource = getattr(view.state, "resource", None)
        if resource is not None:
            attributes["asl.task.resource"] = resource
        self._start(view, view.name, view.execution_arn, attributes)

    def _state_exited(self, event: StateExited) -> None:
        view = event.state
        self._retried.pop(view, None)
        attributes: dict = {"asl.state.retry_count": view.retry_count}
        if event.next is not None:
            attributes["asl.state.next"] = event.next
        self._end(view, attributes=attributes)

    def _state_failed(self, event: StateFailed) -> None:
        self._retried.pop(event.state, None)
        self._end(event.state, event.error, {"asl.state.retry_count": event.state.retry_count})

    def _caught(self, event: ErrorCaught) -> None:
        self._retried.pop(event.state, None)
        span = self._span(event.state)
        if span is not None:
            err = event.error
            span.set_attributes(_error_attributes(err.error, err.cause))
            span.add_event("caught", {**_error_attributes(err.error, err.cause),
                                      "asl.catch.index": _index(event.state.state.catch, event.catcher),
                                      "asl.state.next": event.catcher.next})

    def _retry(self, event: RetryScheduled) -> None:
        span = self._span(event.state)
        if span is not None:
            err = event.error
            span.add_event("retry", {**_error_attributes(err.error, err.cause),
                                     "asl.retry.index": _index(event.state.state.retry, event.retrier),
                                     "asl.retry.attempt": event.attempt, "asl.retry.delay_seconds": event.delay})

    def _choice(self, event: ChoiceMatched) -> None:
        span = self._span(event.state)
        if span is not None:
            from ..graph import describe_rule

            rule = event.rule
            span.add_event("choice", {"asl.choice.index": _index(event.state.state.choices, rule),
                                      "asl.choice.rule": describe_rule(rule), "asl.state.next": rule.next or ""})

    # ---- Task attempts, branches and iterations --------------------------------------------------

    def _attempt_started(self, event: AttemptStarted) -> None:
        view = event.state
        previous = self._retried.pop(view, None)  # a retry links to the attempt it repeats
        links = [trace.Link(previous, {"asl.link": "retry of"})] if previous is not None else None
        self._start((view, event.attempt), f"{view.name} attempt {event.attempt}", view.execution_arn,
                    {"asl.state.name": view.name, "asl.state.type": view.type, "asl.task.attempt": event.attempt,
                     "asl.task.resource": view.state.resource}, links=links)

    def _attempt_ended(self, event: AttemptEnded) -> None:
        key = (event.state, event.attempt)
        span = self._span(key)
        if span is not None and event.error is not None and event.state.state.retry:
            self._retried[event.state] = span.get_span_context()
        self._end(key, event.error)

    def _iteration(self, event: IterationChanged) -> None:
        view = event.state
        key = (view, "item", event.index)
        place = (view.execution_arn, view.path + ((view.name, event.index),))
        if event.status == "started":
            branch = view.type == "Parallel"
            index = {**self._places.get((view.execution_arn, view.path), {}),  # the places around it
                     "asl.parallel.branch" if branch else "asl.map.index": event.index}
            self._places[place] = index
            self._start(key, f"{view.name} {'branch' if branch else 'item'} {event.index}", view.execution_arn,
                        {"asl.state.name": view.name, "asl.state.type": view.type, **index})
            return
        self._places.pop(place, None)
        # what ran in it and was cancelled (a failing sibling, a stop) ends with it
        self._end_inside(view.execution_arn, place[1])
        span = self._span(key)
        if span is not None:
            if event.status == "failed":
                span.set_status(Status(StatusCode.ERROR))
            elif event.status == "aborted":
                span.set_attribute("asl.aborted", True)
        self._end(key)

    def _end_inside(self, arn: str, path: tuple) -> None:
        """End the open spans of the states (and their attempts) that run at `path` or deeper."""
        depth = len(path)
        inside = []
        for key, (_, _, owner) in self._open.items():
            view = key if not isinstance(key, tuple) else key[0]
            if owner == arn and getattr(view, "path", ())[:depth] == path and len(view.path) >= depth:
                inside.append(key)
        for key in reversed(inside):  # innermost first
            self._open[key][0].set_attribute("asl.aborted", True)
            self._end(key)


_HOOKS: dict[type, Any] = {
    ExecutionBegan: lambda t, e: t.execution_started(e.execution),
    ExecutionEnded: lambda t, e: t.execution_ended(e.execution, e.status, e.error, e.cause),
    StateEntered: Tracing._state_entered,
    StateExited: Tracing._state_exited,
    StateFailed: Tracing._state_failed,
    ErrorCaught: Tracing._caught,
    RetryScheduled: Tracing._retry,
    ChoiceMatched: Tracing._choice,
    AttemptStarted: Tracing._attempt_started,
    AttemptEnded: Tracing._attempt_ended,
    IterationChanged: Tracing._iteration,
}


def _earlier_runs(execution: Any) -> list | None:
    """Links to the execution spans of an execution's earlier runs, which noted them in its
    journal: its first run and earlier redrives (``asl.link``: ``first run``, ``redrive``), or
    the process that ran this same run before it was resumed (``resumed from``)."""
    links = []
    for note in execution.notes:
        if not isinstance(note, dict) or not isinstance(note.get("trace"), str):
            continue
        context = trace.get_current_span(context_from_headers({"traceparent": note["trace"]})).get_span_context()
        if not context.is_valid:
            continue
        count = note.get("redriveCount", 0)
        why = "resumed from" if count == execution.redrive_count else "first run" if count == 0 else "redrive"
        links.append(trace.Link(context, {"asl.link": why, "asl.execution.redrive_count": count}))
    return links or None


def _traceparent(context: Any) -> str:
    return f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"


def _error_attributes(error: str | None, cause: str | None) -> dict:
    out = {}
    if error is not None:
        out["asl.error"] = error
    if cause is not None:
        out["asl.cause"] = cause
    return out


def _failed(span: Any, error: str | None, cause: str | None) -> None:
    span.set_attributes(_error_attributes(error, cause))
    span.set_status(Status(StatusCode.ERROR, f"{error}: {cause}" if cause else error))


def _index(items: Any, item: Any) -> int:
    return next((i for i, candidate in enumerate(items or ()) if candidate is item), -1)


# --------------------------------------------------------------------------------------------
# Context propagation
# --------------------------------------------------------------------------------------------

def current_headers() -> dict:
    """The current trace context as W3C headers (``traceparent``, ``tracestate``; OTEL_PROPAGATORS
    decides), {} when no span is current."""
    carrier: dict = {}
    propagate.inject(carrier)
    return carrier


def link_current(headers: dict, why: str) -> None:
    """Link the current span (a Task attempt waiting for a callback) to the span `headers` name."""
    context = context_from_headers(headers)
    if context is None:
        return
    span = trace.get_current_span()
    linked = trace.get_current_span(context).get_span_context()
    if span.is_recording() and linked.is_valid and hasattr(span, "add_link"):
        span.add_link(linked, {"asl.link": why})


def context_from_headers(headers: Any) -> Any:
    """The context `headers` (a mapping holding ``traceparent``) carry, or None when they carry none."""
    if not headers or not any(k.lower() == "traceparent" for k in headers):
        return None
    return propagate.extract({k.lower(): v for k, v in headers.items()})


def request_context(headers: Any) -> Any:
    """The context a request's work continues (`asl serve`): the current span's when one is
    current (the request's own), else the caller's trace its headers carry (W3C ``traceparent``,
    else X-Ray's ``X-Amzn-Trace-Id``), else None (a trace of its own)."""
    if trace.get_current_span().get_span_context().is_valid:
        return otel_context.get_current()
    lowered = {k.lower(): v for k, v in (headers or {}).items() if v}
    for carrier in (lowered, {"traceparent": xray_to_traceparent(lowered.get("x-amzn-trace-id"))}):
        context = context_from_headers({k: v for k, v in carrier.items() if v})
        # a traceparent that is not W3C's names nothing (the X-Ray header, if any, is used)
        if context is not None and trace.get_current_span(context).get_span_context().is_valid:
            return context
    return None


def xray_to_traceparent(header: str | None) -> str | None:
    """An X-Ray trace header (StartExecution's ``traceHeader``: ``Root=1-5759e988-bd862e3fe1be46a994272793;
    Parent=53995c3f42cd8ad8;Sampled=1``) as a W3C ``traceparent``, or None when it names no parent."""
    if not header:
        return None
    fields = dict(part.strip().partition("=")[::2] for part in header.split(";") if "=" in part)
    root = fields.get("Root", "").split("-")
    parent = fields.get("Parent", "")
    if len(root) != 3 or root[0] != "1" or len(root[1]) != 8 or len(root[2]) != 24 or len(parent) != 16:
        return None
    trace_id = (root[1] + root[2]).lower()
    if any(c not in "0123456789abcdef" for c in trace_id + parent.lower()):
        return None
    return f"00-{trace_id}-{parent.lower()}-{'00' if fields.get('Sampled') == '0' else '01'}"

