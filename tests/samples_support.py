"""Loading the samples' handler modules in tests (each load is a fresh module: fresh state)."""
from __future__ import annotations

import importlib.util
import json
import sys
from typing import Any

from conftest import SAMPLES

_loaded = 0


def sample_module(sample: str) -> Any:
    """samples/<sample>/handlers.py, executed anew."""
    global _loaded
    _loaded += 1
    path = SAMPLES / sample / "handlers.py"
    spec = importlib.util.spec_from_file_location(f"sample_{sample.replace('-', '_')}_{_loaded}", path)
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def sample_handlers(sample: str) -> Any:
    return sample_module(sample).handlers


def sample_input(sample: str, name: str = "input.json") -> Any:
    return json.loads((SAMPLES / sample / name).read_text(encoding="utf-8"))
