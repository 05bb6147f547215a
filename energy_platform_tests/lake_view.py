"""The tests' own view of a platform's bucket, tables and queues: plain boto3, never the
platform's code, so what it reads is what a user or another service would see."""

from __future__ import annotations

import io
import json

import boto3
import pandas as pd
import pyarrow.parquet as pq

from energy_platform import contract as c
from energy_platform.contract import prefixed
from energy_platform.settings import Settings

OUTPUT_PREFIXES = ("silver/", "gold/", "quarantine/")
OUTPUT_TABLES = ("readings", "anomalies", "county_5min", "site_daily")
RUN_SPECIFIC_COLUMNS = (c.ARRIVAL,)
"""Columns that depend on when a file landed (its S3 event time), not on what it holds."""


class LakeView:
    """The test's own reading of one namespace (plain boto3, never the platform's code), straight
    to `endpoint` when given (so it bypasses a fault proxy the platform is pointed at)."""

    def __init__(self, settings: Settings, endpoint: str | None = None):
        self.s = settings
        kw = {"region_name": settings.region}
        if endpoint:
            kw["endpoint_url"] = endpoint
        self.s3 = boto3.client("s3", **kw)
        self.ddb = boto3.client("dynamodb", **kw)
        self.sqs = boto3.client("sqs", **kw)

    def put(self, key: str, body: bytes) -> None:
        self.s3.put_object(Bucket=self.s.bucket, Key=key, Body=body)

    def keys(self, prefix: str) -> list[str]:
        pages = self.s3.get_paginator("list_objects_v2").paginate(
            Bucket=self.s.bucket, Prefix=prefix
        )
        return sorted(o["Key"] for p in pages for o in p.get("Contents", []))

    def get(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.s.bucket, Key=key)["Body"].read()

    def frame(self, key: str) -> pd.DataFrame:
        return pq.read_table(io.BytesIO(self.get(key))).to_pandas()

    def parquet(self, prefix: str) -> pd.DataFrame:
        frames = [self.frame(k) for k in self.keys(prefix)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def quarantine(self) -> dict[str, list[dict]]:
        """quarantine/ as {key: [records]}: one per line (split at newlines only, as a `raw`
        may hold U+2028 or U+0085, which JSON leaves unescaped)."""
        return {
            k: [json.loads(line) for line in self.get(k).split(b"\n") if line.strip()]
            for k in self.keys("quarantine/")
        }

    def items(self, table: str) -> list[dict]:
        """Every item of a table, as plain JSON-able dicts."""
        pages = self.ddb.get_paginator("scan").paginate(
            TableName=prefixed(self.s.table_prefix, table)
        )
        out = []
        for page in pages:
            for item in page["Items"]:
                out.append({k: next(iter(v.values())) for k, v in item.items()})
        return out

    def queue_bodies(self, queue: str) -> list[dict]:
        """The JSON bodies waiting in one of the platform's queues (left in place: peeked with a
        zero visibility timeout)."""
        url = self.sqs.get_queue_url(QueueName=prefixed(self.s.table_prefix, queue))["QueueUrl"]
        out, seen = [], set()
        for _ in range(20):
            msgs = self.sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0
            ).get("Messages", [])
            fresh = [m for m in msgs if m["MessageId"] not in seen]
            if not fresh:
                break
            seen.update(m["MessageId"] for m in fresh)
            out.extend(json.loads(m["Body"]) for m in fresh)
        return out

    def outputs(self) -> dict[str, object]:
        """Everything the platform produced, in a form two namespaces can be compared by:
        Parquet rows (without arrival times), quarantine lines, and the four tables' items."""
        objects: dict[str, object] = {}
        for prefix in OUTPUT_PREFIXES:
            for key in self.keys(prefix):
                if key.endswith(".parquet"):
                    df = self.frame(key).drop(columns=list(RUN_SPECIFIC_COLUMNS), errors="ignore")
                    objects[key] = sorted(
                        json.dumps(r, default=str, sort_keys=True) for r in df.to_dict("records")
                    )
                else:
                    objects[key] = sorted(self.get(key).decode().splitlines())
        tables = {
            t: sorted(json.dumps(i, sort_keys=True) for i in self.items(t)) for t in OUTPUT_TABLES
        }
        return {"objects": objects, "tables": tables}

    def snapshot(self) -> dict[str, object]:
        """Every output object's exact bytes and every table's items: equal only if nothing
        was rewritten at all."""
        objects = {k: self.get(k) for p in OUTPUT_PREFIXES for k in self.keys(p)}
        tables = {
            t: sorted(json.dumps(i, sort_keys=True) for i in self.items(t)) for t in OUTPUT_TABLES
        }
        return {"objects": objects, "tables": tables}
