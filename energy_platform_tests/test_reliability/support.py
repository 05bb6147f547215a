"""What the reliability tests share: an independent view of a platform's outputs, an inbox on
the alerts topic, a second provisioned namespace, and small reading builders."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import boto3
import pandas as pd
import pyarrow.parquet as pq
import pytest

from energy_platform import contract as c
from energy_platform.contract import prefixed
from energy_platform.provision import provision
from energy_platform.settings import Settings

OUTPUT_PREFIXES = ("silver/", "gold/", "quarantine/")
OUTPUT_TABLES = ("readings", "anomalies", "county_5min", "site_daily")
RUN_SPECIFIC_COLUMNS = (c.ARRIVAL,)
"""Columns that depend on when a file landed (its S3 event time), not on what it holds."""


def day(offset: int) -> datetime:
    """Midnight UTC `offset` days ago."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=offset)


def iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def readings(
    start: datetime, sites: list[str], n: int, county: str = "Kern", gen: float = 2.0
) -> list[dict]:
    """n 5-minute readings per site from 10:00 of `start`'s day, plausible and anomaly-free."""
    return [
        {
            "site_id": site,
            "timestamp": iso(start + timedelta(hours=10, minutes=5 * k)),
            "energy_generated_kwh": round(gen + 0.1 * i + 0.01 * k, 3),
            "energy_consumed_kwh": round(1.0 + 0.02 * k, 3),
            "county": county,
        }
        for i, site in enumerate(sites)
        for k in range(n)
    ]


def jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


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
        """quarantine/ as {key: [records]}."""
        return {
            k: [json.loads(line) for line in self.get(k).decode().splitlines()]
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


class AlertInbox:
    """An SQS queue of the test's own, subscribed to `{prefix}alerts` (moto delivers SNS->SQS)."""

    def __init__(self, settings: Settings, endpoint: str | None = None):
        kw = {"region_name": settings.region}
        if endpoint:
            kw["endpoint_url"] = endpoint
        self.sqs = boto3.client("sqs", **kw)
        sns = boto3.client("sns", **kw)
        name = f"{settings.table_prefix}test_inbox_{uuid.uuid4().hex[:6]}"
        self.url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        topic = sns.create_topic(Name=prefixed(settings.table_prefix, c.ALERTS_TOPIC))["TopicArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        self.received: list[dict] = []

    def new(self) -> list[dict]:
        """Alerts delivered since the last call: each the published JSON body, plus `_attribute`
        (the SNS message attribute `kind`) and `_subject`."""
        out = []
        while True:
            msgs = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=10, VisibilityTimeout=60
            ).get("Messages", [])
            if not msgs:
                break
            for m in msgs:
                envelope = json.loads(m["Body"])
                body = json.loads(envelope["Message"])
                attrs = envelope.get("MessageAttributes", {})
                body["_attribute"] = attrs.get("kind", {}).get("Value")
                body["_subject"] = envelope.get("Subject")
                out.append(body)
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
        self.received.extend(out)
        return out


def second_namespace(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Another freshly provisioned bucket and name prefix, made current in the environment."""
    suffix = uuid.uuid4().hex[:8]
    monkeypatch.setenv("ENERGY_BUCKET", f"energy-test-{suffix}")
    monkeypatch.setenv("ENERGY_TABLE_PREFIX", f"t{suffix}_")
    settings = Settings.from_env()
    provision(settings)
    return settings


def use_namespace(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Point the platform (which reads the environment) at `settings`' namespace."""
    monkeypatch.setenv("ENERGY_BUCKET", settings.bucket)
    monkeypatch.setenv("ENERGY_TABLE_PREFIX", settings.table_prefix)
