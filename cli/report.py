"""Rendering validation results: text (like a compiler), AWS JSON, SARIF 2.1.0."""
from __future__ import annotations

import json
from typing import Any

from ..diagnostics import ERROR, WARNING

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
HELP_URI = "https://docs.aws.amazon.com/step-functions/latest/apireference/API_ValidateStateMachineDefinitionDiagnostic.html"


def _shown(result: Any, severity: str, max_results: int) -> list:
    diags = [d for d in result.diagnostics if severity == WARNING or d.severity == ERROR]
    return diags[:max_results] if max_results else diags


def render(results: list, fmt: str, severity: str = WARNING, max_results: int = 0, several: bool = False,
           within: list[bool] | None = None) -> str:
    """The results as text, json or sarif. json is one object when there is one result and
    not `several` (the caller was given several files), else a list. `within`, per result:
    whether it is one of the several machines of a template (its text lines then name it,
    wherever they point: the template, or a DefinitionUri file)."""
    if fmt == "json":
        return _json(results, severity, max_results, several)
    if fmt == "sarif":
        return _sarif(results, severity, max_results)
    return _text(results, severity, max_results, within or [False] * len(results))


def diagnostic_line(d: Any, name: str, machine: str | None = None) -> str:
    """One diagnostic as a compiler writes it: ``file:line:col: severity CODE: message at /loc``,
    then ``(in MACHINE)`` when given: a file (a template) holds several state machines."""
    at = f" at {d.location}" if d.location else ""
    within = f" (in {machine})" if machine else ""
    hint = f" ({d.hint})" if d.hint else ""
    return (f"{d.filename or name}:{d.line or 1}:{d.column or 1}: {d.severity.lower()} {d.code}: "
            f"{d.message}{at}{hint}{within}")


def _text(results: list, severity: str, max_results: int, within: list[bool]) -> str:
    lines = []
    errors = warnings = 0
    for result, named in zip(results, within):
        lines.extend(diagnostic_line(d, result.name, result.name if named else None)
                     for d in _shown(result, severity, max_results))
        errors += len(result.errors)
        warnings += len(result.warnings)
    names = ", ".join(r.filename or r.name for r in results) if len(results) == 1 else f"{len(results)} state machines"
    if errors:
        lines.append(f"{names}: {errors} error(s), {warnings} warning(s)")
    else:
        lines.append(f"{names}: OK" + (f", {warnings} warning(s)" if warnings else ""))
    return "\n".join(lines) + "\n"


def _json(results: list, severity: str, max_results: int, several: bool = False) -> str:
    limit = min(max_results or 100, 100)
    docs = []
    for r in results:
        doc = r.to_aws(severity, limit)
        for d, shown in zip([d for d in r.diagnostics if severity == WARNING or d.severity == ERROR],
                            doc["diagnostics"]):
            if d.line is not None:
                shown["line"], shown["column"] = d.line, d.column
            if d.hint:
                shown["hint"] = d.hint
        docs.append({"name": r.name, "file": r.filename, **doc})
    out = docs[0] if len(docs) == 1 and not several else docs
    return json.dumps(out, indent=2, ensure_ascii=False) + "\n"


def _sarif(results: list, severity: str, max_results: int) -> str:
    rules: dict[str, dict] = {}
    sarif_results = []
    for r in results:
        for d in _shown(r, severity, max_results):
            rules.setdefault(d.code, {"id": d.code, "name": d.code.title().replace("_", ""),
                                      "shortDescription": {"text": d.code.replace("_", " ").lower()},
                                      "helpUri": HELP_URI})
            location: dict[str, Any] = {"physicalLocation": {
                "artifactLocation": {"uri": (d.filename or r.filename or r.name).replace("\\", "/")},
                "region": {"startLine": d.line or 1, "startColumn": d.column or 1}}}
            if d.location:
                location["logicalLocations"] = [{"fullyQualifiedName": d.location, "kind": "member"}]
            sarif_results.append({
                "ruleId": d.code,
                "level": "error" if d.severity == ERROR else "warning",
                "message": {"text": d.message + (f" at {d.location}" if d.location else "")
                            + (f" ({d.hint})" if d.hint else "")},
                "locations": [location],
            })
    doc = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "asl-engine", "informationUri": "https://github.com/asl-engine/asl-engine",
                                "rules": list(rules.values())}},
            "results": sarif_results,
        }],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
