"""Code written out once per shape: the evaluators on the hottest paths (payload templates,
intrinsic calls) are small Python functions generated for the shape of what they evaluate,
so that evaluating one runs no loop and no call but the ones it needs.

`factory(shape, write)` compiles ``write(shape)``, the source of a function ``make(...)``
returning the evaluator, once per shape; the caller passes the shape's values to ``make``.
The generated source holds only names the generator chose (never text of a definition).
"""
from __future__ import annotations

from typing import Any, Callable, Hashable

_FACTORIES: dict[Hashable, Callable[..., Any]] = {}
_MAX_SHAPES = 4096  # beyond that many shapes, each further one is compiled without being kept


def factory(shape: Hashable, write: Callable[[Any], str], names: dict[str, Any] | None = None) -> Callable[..., Any]:
    """The ``make`` function that the source ``write(shape)`` defines, compiled once per shape;
    `names` are the globals the source may use (the same for every shape of one caller)."""
    make = _FACTORIES.get(shape)
    if make is None:
        namespace: dict[str, Any] = dict(names or {})
        exec(write(shape), namespace)  # noqa: S102 - generated from the shape: our names only
        make = namespace["make"]
        if len(_FACTORIES) < _MAX_SHAPES:
            _FACTORIES[shape] = make
    return make
