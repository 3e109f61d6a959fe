"""What an expression sees while a state runs: ``$``, ``$$``, variables, ``$states``.

A `Scope` is made per evaluation site and is cheap: the context object (``$$``) and the
``$states`` binding are built only if an expression asks for them.
"""
from __future__ import annotations

from typing import Any, Callable


class Scope:
    """Roots for `asl.templates` evaluation.

    input      the value ``$`` refers to
    variables  the visible variables (a dict; never mutated by evaluation)
    rng        the random source of the frame the state runs in
    now        reads the execution's clock for ``$now()`` / ``$millis()`` (None: the wall clock)
    context    ``$$`` (built on first use by `make_context`)
    states     ``$states`` for JSONata: input, context, and result / errorOutput where available
    """

    __slots__ = ("input", "variables", "rng", "_make_context", "_context", "result", "error_output",
                 "state_input", "now")

    _UNSET = object()

    def __init__(self, input: Any, variables: dict | None, rng: Any, make_context: Callable[[], dict],
                 result: Any = _UNSET, error_output: Any = _UNSET, state_input: Any = _UNSET,
                 now: Callable[[], float] | None = None):
        self.input = input
        self.now = now
        self.variables = variables
        self.rng = rng
        self._make_context = make_context
        self._context = None
        self.result = result
        self.error_output = error_output
        self.state_input = input if state_input is Scope._UNSET else state_input

    @property
    def context(self) -> dict:
        if self._context is None:
            self._context = self._make_context()
        return self._context

    @property
    def states(self) -> dict:
        out = {"input": self.state_input, "context": self.context}
        if self.result is not Scope._UNSET:
            out["result"] = self.result
        if self.error_output is not Scope._UNSET:
            out["errorOutput"] = self.error_output
        return out

    def with_input(self, value: Any) -> "Scope":
        s = Scope(value, self.variables, self.rng, self._make_context, self.result, self.error_output,
                  self.state_input, self.now)
        s._context = self._context
        return s
