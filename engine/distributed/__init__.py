"""The data plane of a Distributed Map (DISTRIBUTED-MAP-SPEC.md sections 2, 3 and 6).

  objects.py       buckets: S3 through the run's integrations (boto3), or local folders
                   standing in for buckets offline (``--s3-folder BUCKET=PATH``)
  itemreader.py    ItemReader: S3 objects (JSON, JSONL, CSV, S3 inventory manifests) and
                   listings, read as a stream of items; ReaderConfig MaxItems(Path)
  batching.py      ItemSelector and ItemBatcher applied to that stream
  resultwriter.py  ResultWriter: the child executions' records as AWS exports them
                   (manifest.json, SUCCEEDED_n / FAILED_n / PENDING_n), or the Map's output
  maprun.py        the Map Run: items in, at most MaxConcurrency children at once, tolerance
                   checked at each failure, results out

Nothing here is imported before a Distributed Map runs.
"""
