"""asl.service: the AWS Step Functions API (awsJson1.0) on this machine, for boto3 and the AWS CLI.

    asl serve --port 8083 --store sqlite:asl-serve.db

or, in Python, ``asl.service.create_app(store="memory")`` gives an ASGI application."""
from __future__ import annotations

from typing import Any

__all__ = ["create_app"]


def create_app(store: str = "memory", **options: Any) -> Any:
    from .app import create_app as make

    return make(store, **options)
