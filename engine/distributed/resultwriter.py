"""ResultWriter: what a Map Run's children produced, as AWS exports it (DISTRIBUTED-MAP-SPEC.md
section 6; DG "input-output-resultwriter").

Each child ends as a record, NONE's shape (DescribeExecution's fields in PascalCase)::

    {"ExecutionArn", "Input" (JSON text), "InputDetails": {"Included": true}, "Name",
     "Output" (JSON text, SUCCEEDED only), "OutputDetails": {"Included": true}, "RedriveCount",
     "RedriveStatus", "RedriveStatusReason", "StartDate", "StateMachineArn", "Status", "StopDate"}
    (+ "Error", "Cause" for a child that failed, timed out or was aborted)

WriterConfig ``Transformation`` COMPACT keeps only a succeeded child's output, FLATTEN also
splices an output that is an array into the result; a child that did not succeed keeps its
record whatever the transformation. With ``Resource`` + ``Parameters {Bucket, Prefix}`` the
records go to ``<Prefix>/<Map Run id>/``: ``SUCCEEDED_<n>.json`` and ``FAILED_<n>.json``
(failed, timed out and aborted children), ``PENDING_<n>.json`` (the children a failed Map Run
did not start, with their input), a JSON array each (or JSON Lines, ``OutputType: JSONL``, in
``SUCCEEDED_<n>.jsonl`` …), and ``manifest.json``
listing them; the Map's output is then ``{"MapRunArn", "ResultWriterDetails": {"Bucket",
"Key"}}`` naming the manifest. Records reach the files in item order as children finish (a
small reorder buffer), through temporary files, so a million children never sit in memory.
A bucket that cannot be written is ``States.ResultWriterFailed``.
"""
from __future__ import annotations

import datetime as dt
import json
import tempfile
from typing import Any

from ...errors import StatesError
from .objects import BucketError, Buckets, NoBuckets, NoBucketsHere

PUT_OBJECT = "putObject"
# A file per status holds records up to 5 GB (never past it), then the next one starts (_0, _1,
# ...): the DG's ResultWriter page says result files go up to 5 GB and a larger set continues in
# SUCCEEDED_1.json and so on. Whether its "5 GB" is 5 GiB (S3's single-PUT limit, taken here) or
# 5 * 10^9 bytes it does not say.
PART_BYTES = 5 * 1024 ** 3
GROUPS = {"SUCCEEDED": "SUCCEEDED", "FAILED": "FAILED", "TIMED_OUT": "FAILED", "ABORTED": "FAILED",
          "PENDING": "PENDING"}


def _text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _date(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def child_name(arn: str) -> str:
    """The name in a Map Run child's ARN (`maprun.child_arn`): ``…:execution:MACHINE/LABEL:NAME``
    or ``…:express:MACHINE/LABEL:NAME:UUID``."""
    parts = arn.split(":")
    return parts[7] if parts[5] == "express" else parts[-1]


def record(arn: str, state_machine_arn: str, status: str, value: Any, output: Any, error: str | None,
           cause: str | None, start: float, stop: float, redrive_count: int = 0,
           redrive_date: float | None = None) -> dict:
    """A child's record in NONE's shape (`redrive_count`, `redrive_date`: the child's own,
    DescribeExecution's). As AWS writes them (a raw capture of AWS's files, radkawar/stackd
    ``testdata/aws/stepfunctions/distributed_map.json``): keys in alphabetical order, and
    ``OutputDetails`` in every record, also of a child that has no ``Output``. An Express
    child's has no RedriveStatus (radkawar/stackd ``testdata/aws/stepfunctions/redrive_map.json``,
    express:failed-exports and express:terminal-exports), a redriven Standard child's a
    RedriveDate (standard:terminal-exports, ``Redrive-2/SUCCEEDED_0.json``)."""
    out: dict = {"ExecutionArn": arn, "Input": _text(value), "InputDetails": {"Included": True},
                 "Name": child_name(arn), "OutputDetails": {"Included": True}, "RedriveCount": redrive_count,
                 "StartDate": _date(start), "StateMachineArn": state_machine_arn, "Status": status,
                 "StopDate": _date(stop)}
    express = arn.split(":")[5] == "express"
    if redrive_date is not None:
        out["RedriveDate"] = _date(redrive_date)
    if status == "SUCCEEDED":
        out["Output"] = _text(output)
        if not express:
            out["RedriveStatus"] = "NOT_REDRIVABLE"
            out["RedriveStatusReason"] = "Execution is SUCCEEDED and cannot be redriven"
    else:
        if not express:
            out["RedriveStatus"] = "REDRIVABLE_BY_MAP_RUN"
        if error is not None:
            out["Error"] = error
        if cause is not None:
            out["Cause"] = cause
    return dict(sorted(out.items()))


def pending(value: Any) -> dict:
    """The record of an item whose child never started (the Map Run failed first), for
    PENDING_<n>.json: ``{"Input", "InputDetails": {"Included": true}, "Status": "PENDING"}``, as
    in AWS's file in the capture `record` names."""
    return {"Input": _text(value), "InputDetails": {"Included": True}, "Status": "PENDING"}


def shaped(transformation: str, status: str, output: Any, full: dict | None) -> list:
    """What a child adds to the results: [output] (COMPACT), its elements (FLATTEN of an
    array), or [record] (NONE, or a child that did not succeed)."""
    if status != "SUCCEEDED" or transformation == "NONE":
        return [full]
    if transformation == "FLATTEN" and isinstance(output, list):
        return list(output)
    return [output]


class Writer:
    """The ResultWriter of one Map Run (configured in the Map's scope)."""

    def __init__(self, transformation: str, output_type: str, bucket: str | None, prefix: str):
        self.transformation = transformation
        self.output_type = output_type
        self.bucket = bucket
        self.prefix = prefix
        self.exports = bucket is not None
        self.results: list = []                   # not exporting: the state's output
        self.pending: dict[int, tuple] = {}       # exporting: finished children not yet written
        self.next = 0                             # ... the index written next
        self.parts: dict[str, list] = {"SUCCEEDED": [], "FAILED": [], "PENDING": []}
        self.written = 0                          # children (records) written to the files
        self.written_items = 0                    # ... and their items (a batch has several)
        self.part_bytes = PART_BYTES
        self.redrive = 0                          # the Map Run's redrive count (0: its first run)
        self.earlier = [0, 0]                     # (children, items) an earlier run of it wrote

    @classmethod
    def configure(cls, run: Any, effective: Any) -> "Writer":
        writer = run.state.result_writer
        config = writer.writer_config or {}
        exports = writer.resource is not None
        transformation = str(config.get("Transformation", "NONE" if exports else "COMPACT"))
        output_type = str(config.get("OutputType", "JSON"))
        bucket, prefix = None, ""
        if exports:
            if writer.resource.rsplit(":", 1)[-1] != PUT_OBJECT:
                raise StatesError("States.ResultWriterFailed",
                                  f"The ResultWriter resource '{writer.resource}' is not supported.")
            jsonata = run.state.is_jsonata
            template = writer.arguments if jsonata else writer.parameters
            params = template.evaluate(run.scope(run.raw if jsonata else effective)) if template is not None else {}
            bucket = params.get("Bucket") if isinstance(params, dict) else None
            if not isinstance(bucket, str) or not bucket:
                raise StatesError("States.ResultWriterFailed", "The field 'Bucket' is required and must be a string.")
            prefix = str(params.get("Prefix") or "")
        return cls(transformation, output_type, bucket, prefix)

    @property
    def needs_records(self) -> bool:
        return self.exports or self.transformation == "NONE"

    # ---- children's results, as they finish ----------------------------------------------------

    def add(self, index: int, status: str, output: Any, full: dict | None, size: int = 1,
            earlier: bool = False) -> None:
        """Child `index` (of `size` items) ended (`full`: its record when `needs_records`, or a
        failed child's); `earlier`: it succeeded in an earlier run of a redriven Map Run, whose
        files have its result."""
        if not self.exports:
            while len(self.results) <= index:
                self.results.append(None)
            self.results[index] = shaped(self.transformation, status, output, full)
            return
        self.pending[index] = (status, output, full, size) if not earlier else (None, None, None, size)
        while self.next in self.pending:
            self._write(*self.pending.pop(self.next))
            self.next += 1

    def output(self) -> list:
        out: list = []
        for entry in self.results:
            if entry is not None:
                out.extend(entry)
        return out

    def _write(self, status: str | None, output: Any, full: dict | None, size: int = 1) -> None:
        if status is None:  # written by an earlier run
            self.earlier[0] += 1
            self.earlier[1] += size
            return
        group = GROUPS.get(status, "FAILED")
        for value in shaped(self.transformation, status, output, full):
            parts = self.parts[group]
            text = _text(value).encode()
            jsonl = self.output_type == "JSONL"
            # a part is one PUT: a record that would take it (closed by "]") past the part size
            # starts the next one (a record larger than that alone goes alone)
            if not parts or (parts[-1][2] and parts[-1][1] + len(text) + (not jsonl) + 1 > self.part_bytes):
                parts.append([tempfile.TemporaryFile(), 0, 0])
            part = parts[-1]
            if jsonl:
                data = text + b"\n"
            else:
                data = (b"," if part[2] else b"[") + text
            part[0].write(data)
            part[1] += len(data)
            part[2] += 1
        self.written += 1
        self.written_items += size

    # ---- the export, when the Map Run ends (blocking: in a worker thread) ---------------------

    def export(self, buckets: Buckets, map_run_arn: str) -> dict:
        """Put the files and the manifest; the Map's output. StatesError(States.ResultWriterFailed)."""
        for index in sorted(self.pending):  # (only after a failure: children finished out of order)
            entry = self.pending.pop(index)
            if entry is not None:
                self._write(*entry)
        root = self.prefix if not self.prefix or self.prefix.endswith("/") else self.prefix + "/"
        root += map_run_arn.rsplit(":", 1)[-1] + "/"
        # a redriven Map Run writes what its children did this time under Redrive-<its redrive
        # count>/, its manifest listing the SUCCEEDED files of its earlier runs too (raw AWS
        # capture, radkawar/stackd testdata/aws/stepfunctions/redrive_map.json,
        # standard:terminal-exports and express:terminal-exports)
        folder = root + (f"Redrive-{self.redrive}/" if self.redrive else "")
        files: dict[str, list] = {"FAILED": [], "PENDING": [], "SUCCEEDED": []}
        extension = "jsonl" if self.output_type == "JSONL" else "json"  # (AWS: SUCCEEDED_0.jsonl)
        try:
            if self.redrive:
                files["SUCCEEDED"].extend(self._succeeded_before(buckets, root))
            for group in ("SUCCEEDED", "FAILED", "PENDING"):
                for n, (fh, size, count) in enumerate(self.parts[group]):
                    if self.output_type != "JSONL":
                        fh.write(b"]")
                        size += 1
                    fh.seek(0)
                    key = f"{folder}{group}_{n}.{extension}"
                    buckets.put(self.bucket, key, fh)
                    fh.close()
                    files[group].append({"Key": key, "Size": size})
            manifest = {"DestinationBucket": self.bucket, "MapRunArn": map_run_arn, "ResultFiles": files}
            key = folder + "manifest.json"
            import io

            buckets.put(self.bucket, key, io.BytesIO(_text(manifest).encode()))
        except BucketError as err:
            raise StatesError("States.ResultWriterFailed", err.cause()) from None
        except NoBucketsHere as err:
            raise err.error() from None
        except NoBuckets as err:
            raise StatesError("States.ResultWriterFailed", str(err)) from None
        return {"MapRunArn": map_run_arn, "ResultWriterDetails": {"Bucket": self.bucket, "Key": key}}

    def _succeeded_before(self, buckets: Buckets, root: str) -> list:
        """The SUCCEEDED files the manifest of the Map Run's last run before this one lists
        (none: no earlier manifest)."""
        for attempt in range(self.redrive - 1, -1, -1):
            key = root + (f"Redrive-{attempt}/" if attempt else "") + "manifest.json"
            try:
                with buckets.open(self.bucket, key) as fh:
                    manifest = json.load(fh)
            except BucketError as err:
                if err.code == "NoSuchKey":
                    continue
                raise
            except ValueError:
                continue
            listed = (manifest.get("ResultFiles") or {}).get("SUCCEEDED") if isinstance(manifest, dict) else None
            return list(listed) if isinstance(listed, list) else []
        return []

    def discard(self) -> None:
        for parts in self.parts.values():
            for part in parts:
                part[0].close()
