"""ItemReader: a Distributed Map's items from S3 (DISTRIBUTED-MAP-SPEC.md section 2).

`configure` evaluates the reader's Parameters/Arguments and ReaderConfig in the Map's scope
(an unusable ``MaxItemsPath`` is ``States.Runtime``, before the Map Run starts); `read` then
yields the items one by one from the object's bytes as they arrive, so a source of millions
of rows is never held in memory. Every failure while reading is ``States.ItemReaderFailed``
(ending the Map Run), with AWS's cause where one was recorded:

  a JSON object that is not an array   Attempting to map over non-iterable node.
  a negative MaxItems(Path)            field MaxItems must be positive
  duplicate CSV headers                CSV headers cannot contain duplicates.
  S3 refused                           S3's message, as AWS's Java SDK words it

Decisions, with the evidence:
- CSV rows are objects whose keys come in the order of a ``java.util.HashMap`` holding them
  (recorded on AWS: headers ``0,True,{}`` give ``{"0":..,"{}":..,"True":..}``), every value a
  string; missing trailing cells are ``""``, cells beyond the headers are dropped. Quoted fields
  may hold the delimiter and line breaks, a quote in one is doubled (raw AWS capture, radkawar/stackd
  ``distributed_map.json``: PIPE, ``"one|pipe"``, ``"two ""quoted"" "`` and so on, CRLF records). A backslash
  escapes a backslash, a quote or the delimiter, and before any other character it is dropped
  (DG "example-csv-parse-dist-map"). The records are split by `asl.engine.distributed.delimited`,
  which says what else it follows. Unverified: the DG's "``\"`` only works in pairs" (here each
  ``\"`` is a quote), and a backslash before a line break or at the end (here the break stays in
  the field).
- listObjectsV2 items: ``{"Etag", "Key", "LastModified" (epoch seconds), "Size",
  "StorageClass"}`` (DG "input-output-itemreader"; ``Etag``, not S3's ``ETag``).
- MaxItems: 0 means no limit; values above 100,000,000 read everything (recorded on AWS).
- Each item comes with its ``$$.Map.Item.Source`` (DG "input-output-contextobject"): the bucket's
  URI for a listObjectsV2 listing (Transformation NONE), else the URI of the object the item was
  read from. The DG writes ``S3://bucket-name/object-key``; AWS gives lower-case ``s3://`` (raw
  AWS capture, radkawar/stackd ``testdata/aws/stepfunctions/distributed_map.json``, 2026-09:
  ``s3://BUCKET/inputs/data.csv`` for a CSV getObject, ``s3://BUCKET`` for a listing,
  ``s3://BUCKET/flat/data.jsonl`` for LOAD_AND_FLATTEN, each listed object's own URI). For the
  manifests, the data file the item was read from: an inference (nothing recorded).
"""
from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterator

from ...checks import CSV_DELIMITERS as DELIMITERS
from ...errors import StatesError
from ...jackson import java_hash_order
from ...templates import Template, compile_template, expect_kind, is_jsonata
from .delimited import records
from .objects import BucketError, Buckets, NoBuckets, NoBucketsHere

GET_OBJECT = "arn:aws:states:::s3:getObject"
LIST_OBJECTS = "arn:aws:states:::s3:listObjectsV2"
MAX_ITEMS_CAP = 100_000_000
CHUNK = 1 << 16


def failed(cause: str) -> StatesError:
    return StatesError("States.ItemReaderFailed", cause)


@dataclass
class Reader:
    """An ItemReader with its parameters and ReaderConfig evaluated for one Map Run."""

    api: str                      # getObject | listObjectsV2
    parameters: dict
    input_type: str = "JSON"      # JSON | JSONL | CSV | PARQUET | MANIFEST
    header_location: str = "FIRST_ROW"
    headers: list | None = None
    delimiter: str | None = ","   # None: a CSVDelimiter that is none of DELIMITERS
    manifest_type: str = "S3_INVENTORY"
    max_items: int = 0            # 0: no limit
    transformation: str = "NONE"  # listObjectsV2: NONE (the listing) | LOAD_AND_FLATTEN (the objects' items)
    items_pointer: str | None = None  # JSON: a JSON Pointer to the array inside the object


# ---- configuration (in the Map's scope) -------------------------------------------------------

_compiled: dict[int, tuple] = {}  # ReaderConfig (by id) -> its compiled MaxItems / MaxItemsPath


def configure(run: Any, reader: Any, effective: Any) -> Reader:
    """The reader for this entry into the Map state; States.Runtime for an unusable MaxItemsPath."""
    from ..mapfields import path_number  # the Map's own rules for ...Path numbers

    jsonata = run.state.is_jsonata
    template = reader.arguments if jsonata else reader.parameters
    scope = run.scope(run.raw if jsonata else effective)
    parameters = template.evaluate(scope) if template is not None else {}
    config = reader.reader_config or {}
    api = reader.resource.rsplit(":", 1)[-1]
    out = Reader(api if api in ("getObject", "listObjectsV2") else reader.resource, parameters if isinstance(
        parameters, dict) else {})
    out.input_type = str(config.get("InputType", "JSON"))
    out.header_location = str(config.get("CSVHeaderLocation", "FIRST_ROW"))
    out.headers = config.get("CSVHeaders")
    delimiter = config.get("CSVDelimiter", "COMMA")
    out.delimiter = DELIMITERS.get(delimiter) if isinstance(delimiter, str) else None
    out.manifest_type = str(config.get("ManifestType", "S3_INVENTORY"))
    out.transformation = str(config.get("Transformation", "NONE"))
    pointer = config.get("ItemsPointer")
    out.items_pointer = pointer if isinstance(pointer, str) and pointer else None
    literal, path = _max_items(config)
    if isinstance(literal, Template):
        out.max_items = int(expect_kind(literal, literal.evaluate(scope), "integer", "MaxItems"))
    elif literal is not None:
        if isinstance(literal, bool) or not isinstance(literal, (int, float)) or literal != int(literal):
            raise StatesError("States.Runtime", f"The ReaderConfig field MaxItems must be an integer, not "
                              f"{json.dumps(literal)}.")
        out.max_items = int(literal)
    elif path is not None:
        out.max_items = path_number(run, path, scope, "MaxItems", "integer")
    return out


def _max_items(config: dict) -> tuple[Any, Any]:
    key = id(config)
    found = _compiled.get(key)
    if found is None or found[0] is not config:
        from ...paths import compile_reference_path

        literal = config.get("MaxItems")
        if isinstance(literal, str) and is_jsonata(literal):
            literal = compile_template(literal, "JSONata", "MaxItems")
        path = config.get("MaxItemsPath")
        found = _compiled[key] = (config, literal, compile_reference_path(path) if isinstance(path, str) else None)
    return found[1], found[2]


# ---- reading (blocking: in a worker thread) -------------------------------------------------------

def read(reader: Reader, buckets: Buckets) -> Iterator[tuple[str, Any]]:
    """(source, item) for the items, in order, at most MaxItems of them (`source`: the item's
    ``$$.Map.Item.Source``); StatesError(States.ItemReaderFailed) on failure."""
    return _limited(reader, lambda: _source(reader, buckets))


def read_data(reader: Reader, data: str) -> Iterator[Any]:
    """The items (without their sources) `read` gives from `data`, the text the reader's source holds (TestState's ``mapItemReaderData``,
    "the data read by ItemReader ... as found in its original source"): the object's content
    for getObject and for listObjectsV2 with LOAD_AND_FLATTEN (parsed as its InputType), the
    JSON array of the listed objects for a plain listObjectsV2. A manifest names other objects
    and a Parquet object is binary: neither can be given as text."""
    return _limited(reader, lambda: _from_data(reader, data))


def _limited(reader: Reader, source: Any) -> Iterator[Any]:
    if reader.max_items < 0:
        raise failed("field MaxItems must be positive")
    limit = reader.max_items if 0 < reader.max_items <= MAX_ITEMS_CAP else None
    try:
        items = source()
        count = 0
        for item in items:
            if limit is not None and count >= limit:
                break
            count += 1
            yield item
    except BucketError as err:
        raise failed(err.cause()) from None
    except NoBucketsHere as err:
        raise err.error() from None
    except NoBuckets as err:
        raise failed(str(err)) from None
    except UnicodeDecodeError:
        raise failed("The object is not valid UTF-8 text.") from None
    except csv.Error as err:
        raise failed(f"The CSV object could not be parsed: {err}") from None


def _source(reader: Reader, buckets: Buckets) -> Iterator[Any]:
    params = reader.parameters
    bucket = params.get("Bucket")
    if not isinstance(bucket, str) or not bucket:
        raise failed("The field 'Bucket' is required and must be a string.")
    if reader.api == "listObjectsV2":
        request = {k: v for k, v in params.items() if k != "Bucket"}
        if reader.transformation == "LOAD_AND_FLATTEN":  # every listed object's items, one object after another
            parse = _parser(reader)
            return (pair for obj in buckets.list(bucket, request) if not obj["Key"].endswith("/")
                    for pair in _sourced(bucket, obj["Key"], _opened(buckets.open(bucket, obj["Key"]), parse)))
        listing = s3_uri(bucket)
        return ((listing, _listed(obj)) for obj in buckets.list(bucket, request))
    if reader.api != "getObject":
        raise failed(f"The ItemReader resource '{reader.api}' is not supported.")
    key = params.get("Key")
    if not isinstance(key, str) or not key:
        raise failed("The field 'Key' is required and must be a string.")
    if reader.manifest_type == "ATHENA_DATA":
        return _athena(reader, buckets, bucket, key)
    if reader.input_type == "MANIFEST":
        return _manifest(reader, buckets, bucket, key)
    return _sourced(bucket, key, _opened(buckets.open(bucket, key, params.get("VersionId")), _parser(reader)))


def s3_uri(bucket: str, key: str | None = None) -> str:
    """An item's ``$$.Map.Item.Source`` in S3: ``s3://BUCKET`` or ``s3://BUCKET/KEY`` (as AWS gives it)."""
    return f"s3://{bucket}" if key is None else f"s3://{bucket}/{key}"


def _sourced(bucket: str, key: str, items: Iterator[Any]) -> Iterator[tuple[str, Any]]:
    uri = s3_uri(bucket, key)
    return ((uri, item) for item in items)


def _from_data(reader: Reader, data: str) -> Iterator[Any]:
    stream = io.BytesIO(data.encode("utf-8"))
    if reader.api == "listObjectsV2" and reader.transformation != "LOAD_AND_FLATTEN":
        return _json(stream, Reader(reader.api, reader.parameters))
    if reader.api not in ("getObject", "listObjectsV2"):
        raise failed(f"The ItemReader resource '{reader.api}' is not supported.")
    if reader.input_type in ("MANIFEST", "PARQUET") or reader.manifest_type == "ATHENA_DATA":
        raise failed(f"The InputType '{reader.input_type}' cannot be read from text data.")
    return _opened(stream, _parser(reader))


def _parser(reader: Reader) -> Any:
    parse = PARSERS.get(reader.input_type)
    if parse is None:
        raise failed(f"The InputType '{reader.input_type}' is not supported.")
    return lambda stream: parse(stream, reader)


def _opened(stream: BinaryIO, parse: Any) -> Iterator[Any]:
    with stream:
        yield from parse(stream)


def _listed(obj: dict) -> dict:
    modified = obj.get("LastModified")
    return {"Etag": obj.get("ETag"), "Key": obj.get("Key"),
            "LastModified": int(modified.timestamp()) if hasattr(modified, "timestamp") else modified,
            "Size": obj.get("Size"), "StorageClass": obj.get("StorageClass", "STANDARD")}


# ---- the formats ------------------------------------------------------------------------------

def _json(stream: BinaryIO, reader: Reader) -> Iterator[Any]:
    """The elements of a top-level JSON array, decoded one at a time from the stream (or, with
    ItemsPointer, of the array it points to: the object is then read whole)."""
    if reader.items_pointer is not None:
        yield from _pointed(stream, reader.items_pointer)
        return
    text = io.TextIOWrapper(stream, encoding="utf-8-sig")
    decoder = json.JSONDecoder()
    buf, pos, eof = "", 0, False

    def more() -> bool:
        nonlocal buf, pos, eof
        chunk = text.read(CHUNK)
        if not chunk:
            eof = True
            return False
        buf, pos = buf[pos:] + chunk, 0
        return True

    def skip() -> str:
        nonlocal pos
        while True:
            while pos < len(buf) and buf[pos] in " \t\r\n":
                pos += 1
            if pos < len(buf) or not more():
                return buf[pos] if pos < len(buf) else ""

    if skip() != "[":
        try:  # (read whole only to tell a scalar or object from text that is not JSON)
            json.loads(buf[pos:] + text.read())
        except ValueError as err:
            raise failed(f"The JSON object could not be parsed: {err}.") from None
        raise failed("Attempting to map over non-iterable node.")
    pos += 1
    first = True
    while True:
        c = skip()
        if c == "]":
            return
        if not first:
            if c != ",":
                raise failed("The JSON object could not be parsed: ',' or ']' expected.")
            pos += 1
            skip()
        first = False
        while True:
            try:
                value, end = decoder.raw_decode(buf, pos)
            except json.JSONDecodeError as err:
                if more():
                    continue
                raise failed(f"The JSON object could not be parsed: {err.msg}.") from None
            if end >= len(buf) and not eof and more():  # (a number may go on in the next chunk)
                continue
            pos = end
            break
        yield value


def _pointed(stream: BinaryIO, pointer: str) -> Iterator[Any]:
    try:
        value = json.load(io.TextIOWrapper(stream, encoding="utf-8-sig"))
    except ValueError as err:
        raise failed(f"The JSON object could not be parsed: {err}.") from None
    if not pointer.startswith("/"):
        raise failed(f"ItemsPointer '{pointer}' is not a JSON Pointer.")
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            raise failed(f"ItemsPointer '{pointer}' does not point to a value in the object.")
    if not isinstance(value, list):
        raise failed("Attempting to map over non-iterable node.")
    yield from value


def _jsonl(stream: BinaryIO, _reader: Reader) -> Iterator[Any]:
    for number, line in enumerate(io.TextIOWrapper(stream, encoding="utf-8-sig"), 1):
        if line.strip():
            try:
                yield json.loads(line)
            except ValueError as err:
                raise failed(f"The JSONL object could not be parsed at line {number}: {err}.") from None


def _csv(stream: BinaryIO, reader: Reader) -> Iterator[dict]:
    if reader.delimiter is None:
        raise failed(f"The CSVDelimiter must be one of {', '.join(DELIMITERS)}.")
    rows = records(io.TextIOWrapper(stream, encoding="utf-8-sig", newline=""), reader.delimiter)
    if reader.header_location == "GIVEN":
        headers = reader.headers
        if not isinstance(headers, list) or not headers or not all(isinstance(h, str) for h in headers):
            raise failed("CSVHeaders must be a non-empty list of strings when CSVHeaderLocation is GIVEN.")
    else:
        headers = next(rows, None)
        if headers is None:
            return
    yield from _rows(rows, headers)


def _rows(rows: Iterator[list], headers: list) -> Iterator[dict]:
    if len(set(headers)) != len(headers):
        raise failed("CSV headers cannot contain duplicates.")
    order = java_hash_order(headers)
    width = len(headers)
    for row in rows:
        if not row:
            continue  # a blank line
        if len(row) < width:
            row = row + [""] * (width - len(row))
        yield {headers[i]: row[i] for i in order}


def _manifest(reader: Reader, buckets: Buckets, bucket: str, key: str) -> Iterator[tuple[str, dict]]:
    """An S3 Inventory manifest.json: the rows of the CSV files it lists (``fileSchema`` names
    the columns), read from the inventory's destination bucket."""
    if reader.manifest_type != "S3_INVENTORY":
        raise failed(f"The ManifestType '{reader.manifest_type}' is not supported.")
    with buckets.open(bucket, key, reader.parameters.get("VersionId")) as stream:
        try:
            manifest = json.load(io.TextIOWrapper(stream, encoding="utf-8-sig"))
        except ValueError as err:
            raise failed(f"The manifest could not be parsed: {err}.") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), list):
        raise failed("The manifest has no 'files' list.")
    if str(manifest.get("fileFormat", "CSV")).upper() != "CSV":
        raise failed(f"The inventory file format '{manifest.get('fileFormat')}' is not supported; use CSV.")
    headers = [h.strip() for h in str(manifest.get("fileSchema", "")).split(",")]
    destination = str(manifest.get("destinationBucket") or bucket).rsplit(":", 1)[-1] or bucket
    for entry in manifest["files"]:
        name = entry.get("key") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            raise failed("The manifest lists a file without a 'key'.")
        with buckets.open(destination, name) as raw:
            stream = gzip.GzipFile(fileobj=raw) if name.endswith(".gz") else raw
            rows = csv.reader(io.TextIOWrapper(stream, encoding="utf-8", newline=""))
            yield from _sourced(destination, name, _rows(rows, headers))


def _athena(reader: Reader, buckets: Buckets, bucket: str, key: str) -> Iterator[tuple[str, Any]]:
    """An Athena data manifest (``ManifestType: ATHENA_DATA``; the ``-manifest.csv`` an UNLOAD or a
    query writes: one ``s3://BUCKET/KEY`` per line): the items of every data file it lists, in
    order, each read as ``InputType`` says (CSV, JSONL or PARQUET). Unverified against AWS: the
    DG names the option; how AWS reads each file (e.g. CSV headers) is assumed to follow InputType."""
    if reader.input_type not in PARSERS or reader.input_type == "JSON":
        raise failed(f"The InputType '{reader.input_type}' is not supported with the ManifestType ATHENA_DATA; "
                     f"use CSV, JSONL or PARQUET.")
    parse = _parser(reader)
    with buckets.open(bucket, key, reader.parameters.get("VersionId")) as stream:
        lines = io.TextIOWrapper(stream, encoding="utf-8-sig").read().splitlines()
    for line in lines:
        uri = line.strip().strip('"')
        if not uri:
            continue
        if not uri.startswith("s3://") or "/" not in uri[5:]:
            raise failed(f"The Athena manifest lists '{uri}', which is not an s3://BUCKET/KEY URI.")
        data_bucket, _, data_key = uri[5:].partition("/")
        yield from _sourced(data_bucket, data_key, _opened(buckets.open(data_bucket, data_key), parse))


def _parquet(stream: BinaryIO, _reader: Reader) -> Iterator[dict]:
    """One object per row, read a row group at a time (never the whole file in memory). Parquet
    needs random access: an object from S3 is spooled to a temporary file first. Types: as
    pyarrow gives them in Python, then JSON's (timestamps and dates as ISO 8601 text, decimals
    as numbers, binary as UTF-8 text): AWS documents no mapping (unverified)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        from ...extras import install_hint

        raise failed(f"The InputType PARQUET needs pyarrow: {install_hint('parquet')}") from None
    import shutil
    import tempfile

    with tempfile.SpooledTemporaryFile(max_size=CHUNK * 256) as local:
        shutil.copyfileobj(stream, local, CHUNK)
        local.seek(0)
        try:
            parquet = pq.ParquetFile(local)
            for group in range(parquet.num_row_groups):
                for row in parquet.read_row_group(group).to_pylist():
                    yield {name: _plain(value) for name, value in row.items()}
        except (OSError, ValueError) as err:  # pyarrow.ArrowInvalid is a ValueError
            raise failed(f"The Parquet object could not be read: {err}") from None


def _plain(value: Any) -> Any:
    """A value pyarrow read, as JSON has it."""
    import datetime as dt
    from decimal import Decimal

    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, float) and value != value:
        return None  # NaN has no JSON form
    return value


PARSERS = {"JSON": _json, "JSONL": _jsonl, "CSV": _csv, "PARQUET": _parquet}
