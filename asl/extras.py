"""How to install one of asl-engine's extras (``service``, ``aws``, ``otel``, ...), said the same
way by every message that asks for one: `install_hint`.

asl-engine is installed from a clone (``pip install -e .``), so ``pip install
"asl-engine[aws]"`` would look for it on a package index where it is not. The hint names the
source the installed distribution came from, as pip recorded it (PEP 610's direct_url.json):
the clone's folder for an editable or local install, the repository for one from version
control, the index otherwise.
"""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

DISTRIBUTION = "asl-engine"


def install_hint(extra: str) -> str:
    """The command that installs the extra `extra` into this environment, e.g. ``pip install -e
    "/home/me/asl-engine[service]"`` (an editable install of that clone) or ``pip install
    "asl-engine[service]"``."""
    return _install_command(extra, _source())


def _install_command(extra: str, source: tuple[str, str] | None) -> str:
    """`install_hint` for a distribution from `source` (see `_source`; None: the index)."""
    kind, where = source or ("index", "")
    if kind == "editable":
        return f'pip install -e "{where}[{extra}]"'
    if kind == "folder":
        return f'pip install "{where}[{extra}]"'
    if kind == "vcs":
        return f'pip install "{DISTRIBUTION}[{extra}] @ {where}"'
    return f'pip install "{DISTRIBUTION}[{extra}]"'


@lru_cache(maxsize=1)
def _source() -> tuple[str, str] | None:
    """Where the installed asl-engine came from: ("editable", folder), ("folder", folder),
    ("vcs", pip's URL of it), or None (an index, a wheel file, not installed, or not said)."""
    from importlib import metadata

    # (the first that says: in a clone's own folder, its build's asl_engine.egg-info comes first
    # on the path, without direct_url.json, before the installed one)
    for distribution in metadata.distributions(name=DISTRIBUTION):
        try:
            text = distribution.read_text("direct_url.json")
            if text:
                return source_of(json.loads(text))
        except (OSError, ValueError):  # (unreadable, not JSON: the index form, not a failed message)
            continue
    return None


def source_of(direct_url: Any) -> tuple[str, str] | None:
    """`_source` from the document of direct_url.json (PEP 610)."""
    import os
    from urllib.parse import unquote, urlparse

    if not isinstance(direct_url, dict) or not isinstance(direct_url.get("url"), str):
        return None
    url = direct_url["url"]
    vcs = direct_url.get("vcs_info")
    if isinstance(vcs, dict) and isinstance(vcs.get("vcs"), str):
        commit = vcs.get("requested_revision") or vcs.get("commit_id")
        return "vcs", f"{vcs['vcs']}+{url}" + (f"@{commit}" if commit else "")
    parsed = urlparse(url)
    if parsed.scheme != "file" or not isinstance(direct_url.get("dir_info"), dict):
        return None  # an archive (a wheel or sdist file, here or on a server): the index form
    path = unquote(parsed.path)
    if os.name == "nt" and path[:1] == "/" and path[2:3] == ":":  # file:///C:/... -> C:/...
        path = path[1:]
    if not os.path.isdir(path):  # the clone has moved or gone: it cannot be installed from
        return None
    return ("editable" if direct_url["dir_info"].get("editable") else "folder"), path
