"""OpenTelemetry's standard OTEL_* variables, read without importing OpenTelemetry: whether they
ask for traces (`wanted`), and the SDK's TracerProvider they describe (`from_environment`). Kept
apart from `asl.engine.tracing` so that a run without traces never imports OpenTelemetry.
"""
from __future__ import annotations

import os
from typing import Any

TRACER_NAME = "asl-engine"


class TracingConfigError(Exception):
    """Raised by `from_environment` when the OTEL_* variables ask for what it cannot make (an
    exporter it does not know)."""


class TracingNotInstalled(TracingConfigError):
    """Raised by `from_environment` when the OTEL_* variables ask for traces and the
    OpenTelemetry SDK or its OTLP exporter (the ``otel`` extra) is not installed: a command
    warns and runs without traces, as the library does unless given a `Tracing` observer."""


def wanted(environ: Any = None) -> bool:
    """Do the OTEL_* variables ask for traces? Off unless ``OTEL_TRACES_EXPORTER`` names an
    exporter (not ``none``) or an OTLP endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT``,
    ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``); ``OTEL_SDK_DISABLED=true`` turns it off."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporters = env.get("OTEL_TRACES_EXPORTER")
    if exporters is not None:
        return any(name.strip().lower() not in ("", "none") for name in exporters.split(","))
    return bool(env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def from_environment(environ: Any = None) -> Any:
    """A TracerProvider built from the OTEL_* variables, made OpenTelemetry's global one (so
    handlers' own ``trace.get_tracer(...)`` spans go to the same place), or None when the
    variables do not ask for traces (`wanted`). Exporters (``OTEL_TRACES_EXPORTER``, default
    ``otlp``): ``otlp`` (OTLP over HTTP/protobuf; ``OTEL_EXPORTER_OTLP_*`` as the exporter reads
    them), ``console`` (JSON on stderr). ``OTEL_SERVICE_NAME`` (default ``asl-engine``) and
    ``OTEL_RESOURCE_ATTRIBUTES`` name the resource. Call ``provider.shutdown()`` at the end, to
    send what is still buffered."""
    env = os.environ if environ is None else environ
    if not wanted(env):
        return None
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter
    except ImportError:
        from ..extras import install_hint

        raise TracingNotInstalled("the OTEL_* variables ask for traces, and the OpenTelemetry SDK is not installed "
                                  f"({install_hint('otel')})") from None
    attributes = {} if env.get("OTEL_SERVICE_NAME") or "service.name=" in env.get("OTEL_RESOURCE_ATTRIBUTES", "") \
        else {"service.name": TRACER_NAME}
    provider = TracerProvider(resource=Resource.create(attributes))
    for name in (env.get("OTEL_TRACES_EXPORTER") or "otlp").split(","):
        name = name.strip().lower()
        if name in ("", "none"):
            continue
        if name == "console":
            import sys

            exporter = ConsoleSpanExporter(out=sys.stderr)
        elif name == "otlp":
            try:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
            except ImportError:
                from ..extras import install_hint

                raise TracingNotInstalled("the OTEL_* variables ask for traces sent over OTLP, and the OTLP "
                                          f"exporter is not installed ({install_hint('otel')})") from None
            exporter = OTLPSpanExporter()
        else:
            raise TracingConfigError(f"OTEL_TRACES_EXPORTER={name}: asl-engine knows the exporters otlp, "
                                      "console and none")
        provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return provider
