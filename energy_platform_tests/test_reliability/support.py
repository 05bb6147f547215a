"""What the reliability tests share: an inbox on the alerts topic and small reading builders
(the independent view of outputs is `energy_platform_tests.lake_view`)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import boto3

from energy_platform import contract as c
from energy_platform.contract import prefixed
from energy_platform.settings import Settings


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
