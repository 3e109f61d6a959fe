"""Where Distributed Map child executions run: the executor seam.

    inline      in the parent's event loop (the default: no executor at all)
    processes   local worker processes (`processes.ProcessExecutor`)
    dask        a Dask `LocalCluster` started for as long as the executor is open
    dask://HOST:PORT, tcp://HOST:PORT
                the Dask scheduler there, with its workers on any machines (`daskcluster.DaskExecutor`)

The Map Run stays with the parent execution (`asl.engine.concurrency` and `Execution.run_child`:
items, MaxConcurrency, counts, tolerance, results, each child's record and journal entry); an
executor only runs the states of children (`chunked.ChunkedExecutor.run`). Open one with
``async with open_executor("dask") as executor:`` and pass it as ``executor=`` to
`asl.engine.run` / `prepare` (``run`` also takes the text and opens it for the run).
"""
from __future__ import annotations

from typing import Any

KINDS = "inline, processes, dask, dask://HOST:PORT"


class ExecutorError(ValueError):
    """An ``--executor`` value that names no executor, or one whose package is not installed;
    also raised by an executor's ``start`` when its Dask scheduler cannot be reached."""


def check_executor(text: str) -> str:
    """`text` if it names an executor (raises ExecutorError otherwise)."""
    parse(text)
    return text


def parse(text: str) -> tuple[str, str | None]:
    """(kind, address) of an ``--executor`` value."""
    value = text.strip()
    if value in ("inline", "processes", "dask"):
        return value, None
    for scheme in ("dask://", "tcp://", "tls://"):
        if value.startswith(scheme) and len(value) > len(scheme):
            rest = value[len(scheme):]
            _check_address(text, rest)
            return "dask", ("tcp://" + rest if scheme == "dask://" else value)
    raise ExecutorError(f"unknown executor {text!r}: choose one of {KINDS}")


def _check_address(text: str, address: str) -> None:
    """Raise ExecutorError unless `address` is HOST:PORT (HOST may be an IPv6 address in
    brackets): Dask would raise ValueError only once it connects, and has no default port."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ExecutorError(f"{text!r} is not the address of a Dask scheduler: give HOST:PORT, as in "
                            "dask://127.0.0.1:8786")


def open_executor(spec: Any) -> Any:
    """An executor (not yet started: use it as an async context manager) for ``spec``: a text as
    above, or an executor object (returned as it is). None / "inline": None."""
    if spec is None or not isinstance(spec, str):
        return spec
    kind, address = parse(spec)
    if kind == "inline":
        return None
    try:
        import cloudpickle  # noqa: F401
        if kind == "dask":
            import distributed  # noqa: F401
    except ImportError as exc:
        from ...extras import install_hint

        raise ExecutorError(f"the {kind} executor needs {exc.name}: {install_hint('dask')}") from None
    if kind == "processes":
        from .processes import ProcessExecutor

        return ProcessExecutor()
    from .daskcluster import DaskExecutor

    return DaskExecutor(address)
