"""Buckets for the ItemReader and the ResultWriter: S3 through the run's integrations (boto3,
``--aws`` / ``--endpoint-url``), or a local folder standing in for a bucket (``--s3-folder
BUCKET=PATH``, ``s3_folders={"BUCKET": PATH}``), so a Distributed Map runs offline.

Both give the readers the same three things, so reading and writing take one code path:
an object as a stream of bytes (never read whole), the objects under a prefix as S3's
ListObjectsV2 lists them, and putting an object from a file. Everything here blocks: callers
run it in worker threads.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import os
import shutil
from pathlib import Path
from typing import Any, BinaryIO, Iterator, Mapping

from ...errors import StatesError


class BucketError(Exception):
    """Raised when S3 (or a mapped folder) refuses a request: `code` is S3's error code
    (``NoSuchKey``, ``NoSuchBucket``, ``AccessDenied``...), `message` its message."""

    def __init__(self, code: str, message: str, status: int | None = None, request_id: str | None = None):
        super().__init__(message)
        self.code, self.message, self.status, self.request_id = code, message, status, request_id

    def cause(self) -> str:
        """As AWS's Java SDK v2 words a service error (a mapped folder has no request id)."""
        request = f", Request ID: {self.request_id}" if self.request_id is not None else ""
        return f"{self.message} (Service: S3, Status Code: {self.status or 400}{request})"


class NoBuckets(Exception):
    """Raised when a Map reads or writes a bucket the run can reach neither way."""


class NoBucketsHere(NoBuckets):
    """The run was given no way to S3 at all (no folder for the bucket, no --aws or endpoint):
    a gap in the local set-up, which fails the run with States.Runtime (as an unserved Task
    does: no Retry or Catch takes it), not the ItemReaderFailed/ResultWriterFailed of an S3
    call that failed."""

    def error(self) -> StatesError:
        return StatesError("States.Runtime", str(self))


def parse_folders(specs: Any) -> dict[str, Path]:
    """``{"bucket": "path"}`` or the CLI's ``["bucket=path", ...]`` -> bucket -> folder.
    Raises ValueError for a malformed entry or a folder that does not exist."""
    if not specs:
        return {}
    if isinstance(specs, Mapping):
        pairs = [(f"{bucket}={path}", bucket, path) for bucket, path in specs.items()]
    else:
        pairs = [(spec, *spec.partition("=")[::2]) for spec in specs]
    out: dict[str, Path] = {}
    for spec, bucket, path in pairs:
        if not bucket or not path or "=" not in spec:
            # (as --substitute NAME=VALUE reports it: the option as given, then the form it takes)
            raise ValueError(f"--s3-folder {spec!r}: expected BUCKET=PATH (a bucket name, '=', a local folder)")
        folder = Path(path).expanduser().resolve()
        if not folder.is_dir():
            raise ValueError(f"--s3-folder {spec!r}: no such folder: {path}")
        out[str(bucket)] = folder
    return out


class Buckets:
    """The buckets one execution reaches: mapped folders first, else S3 through `integrations`."""

    def __init__(self, folders: Mapping[str, Path] | None, integrations: Any):
        self.folders = dict(folders or {})
        self.integrations = integrations

    def _s3(self, bucket: str) -> Any:
        if self.integrations is None:
            raise NoBucketsHere(f"asl-engine cannot reach bucket '{bucket}': call S3 with --aws (or --endpoint-url), "
                            f"or map the bucket to a folder with --s3-folder {bucket}=PATH")
        return self.integrations.clients.client("s3")

    # ---- reading ----------------------------------------------------------------------------

    def open(self, bucket: str, key: str, version: str | None = None) -> BinaryIO:
        """The object's bytes as a stream."""
        folder = self.folders.get(bucket)
        if folder is not None:
            path = _inside(folder, key)
            if not path.is_file():
                raise BucketError("NoSuchKey", "The specified key does not exist.", 404)
            return open(path, "rb")
        client = self._s3(bucket)
        request = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})}
        with _client_errors():
            body = client.get_object(**request)["Body"]
        return io.BufferedReader(_Raw(body), 1 << 16)

    def list(self, bucket: str, request: Mapping[str, Any]) -> Iterator[dict]:
        """Each object ListObjectsV2 lists (all pages): boto3's shape (``ETag``, a datetime
        ``LastModified``)."""
        folder = self.folders.get(bucket)
        if folder is not None:
            yield from _list_folder(folder, request)
            return
        client = self._s3(bucket)
        with _client_errors():
            for page in client.get_paginator("list_objects_v2").paginate(**{**request, "Bucket": bucket}):
                yield from page.get("Contents", ())

    # ---- writing ----------------------------------------------------------------------------

    def put(self, bucket: str, key: str, body: BinaryIO) -> None:
        folder = self.folders.get(bucket)
        if folder is not None:
            path = _inside(folder, key)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as out:
                shutil.copyfileobj(body, out, 1 << 20)
            return
        client = self._s3(bucket)
        with _client_errors():
            client.upload_fileobj(body, bucket, key)


def _inside(folder: Path, key: str) -> Path:
    path = (folder / key).resolve()
    if path != folder and folder not in path.parents:
        raise BucketError("AccessDenied", "Access Denied", 403)  # a key that climbs out of the folder
    return path


def _list_folder(folder: Path, request: Mapping[str, Any]) -> Iterator[dict]:
    prefix = request.get("Prefix") or ""
    after = request.get("StartAfter") or ""
    keys = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            key = Path(root, name).relative_to(folder).as_posix()
            if key.startswith(prefix) and key > after:
                keys.append(key)
    for key in sorted(keys, key=lambda k: k.encode()):  # S3 lists keys in UTF-8 byte order
        path = folder / key
        stat = path.stat()
        digest = hashlib.md5()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        yield {"Key": key, "LastModified": dt.datetime.fromtimestamp(stat.st_mtime, dt.timezone.utc),
               "ETag": f'"{digest.hexdigest()}"', "Size": stat.st_size, "StorageClass": "STANDARD"}


class _Raw(io.RawIOBase):
    """botocore's StreamingBody as a raw stream (for io.BufferedReader / TextIOWrapper)."""

    def __init__(self, body: Any):
        self.body = body

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        with _client_errors():
            data = self.body.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)

    def close(self) -> None:
        self.body.close()
        super().close()


class _client_errors:
    """botocore's ClientError -> BucketError (S3's code and message); a call S3 never answered
    (no credentials, no connection: botocore's other errors) -> NoBuckets, which the reader and the
    writer fail with as with a bucket they cannot reach (it was an internal error)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: Any, tb: Any) -> bool:
        if exc is None or isinstance(exc, BucketError):
            return False
        response = getattr(exc, "response", None)
        if isinstance(response, dict) and "Error" in response:
            from ..integrations.sdk import error_facts

            code, message, status, request_id, _extended = error_facts(exc)
            raise BucketError(code or "S3Error", message or str(exc), status, request_id) from None
        import botocore.exceptions as bex

        if isinstance(exc, bex.BotoCoreError):
            raise NoBuckets(f"asl-engine could not call S3: {exc}") from None
        return False
