"""Create, idempotently, every AWS resource the platform uses (emulator or real AWS alike)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from energy_platform.contract import (
    ALERTS_TOPIC,
    DEAD_LETTERS_QUEUE,
    RAW_EVENTS_QUEUE,
    RAW_PREFIX,
    TABLE_INDEXES,
    TABLE_KEYS,
    prefixed,
)
from energy_platform.resources.clients import aws_client
from energy_platform.settings import Settings

RAW_EVENTS_VISIBILITY_SECONDS = 900
MESSAGE_RETENTION_SECONDS = 14 * 24 * 3600  # the SQS maximum
MAX_RECEIVES = 5


@dataclass
class ProvisionReport:
    """What provisioning found and what it created."""

    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)

    def note(self, name: str, was_created: bool) -> None:
        (self.created if was_created else self.existing).append(name)


def provision(
    settings: Settings, log: Callable[[str], None] = lambda _msg: None
) -> ProvisionReport:
    """Create the bucket, tables, topic and queues, and wire `raw/` events into the queue."""
    report = ProvisionReport()
    s3 = aws_client("s3", settings.region)
    ddb = aws_client("dynamodb", settings.region)
    sns = aws_client("sns", settings.region)
    sqs = aws_client("sqs", settings.region)

    report.note(f"s3://{settings.bucket}", _ensure_bucket(s3, settings))
    log(f"bucket s3://{settings.bucket} ready")

    for table, (pk, sk) in TABLE_KEYS.items():
        name = prefixed(settings.table_prefix, table)
        indexes = TABLE_INDEXES.get(table, {})
        report.note(f"dynamodb:{name}", _ensure_table(ddb, name, pk, sk, indexes))
        log(f"table {name} ready")

    topic = prefixed(settings.table_prefix, ALERTS_TOPIC)
    existing_topics = _topic_names(sns)
    sns.create_topic(Name=topic)  # idempotent
    report.note(f"sns:{topic}", topic not in existing_topics)
    log(f"topic {topic} ready")

    urls: dict[str, str] = {}
    redrive: dict[str, str] = {}
    for queue, visibility in (
        (DEAD_LETTERS_QUEUE, 30),
        (RAW_EVENTS_QUEUE, RAW_EVENTS_VISIBILITY_SECONDS),
    ):
        name = prefixed(settings.table_prefix, queue)
        created, urls[queue] = _ensure_queue(sqs, name, visibility, redrive)
        report.note(f"sqs:{name}", created)
        log(f"queue {name} ready")
        if queue == DEAD_LETTERS_QUEUE:
            # A raw event the sensor keeps failing to handle ends in dead_letters with the rest.
            dlq_arn = _queue_arn(sqs, urls[queue])
            redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}

    _wire_raw_notifications(s3, sqs, settings, urls[RAW_EVENTS_QUEUE])
    log(
        f"s3://{settings.bucket}/{RAW_PREFIX} ObjectCreated events -> {prefixed(settings.table_prefix, RAW_EVENTS_QUEUE)}"
    )
    return report


def _ensure_bucket(s3, settings: Settings) -> bool:
    try:
        s3.head_bucket(Bucket=settings.bucket)
        return False
    except s3.exceptions.ClientError as err:
        if err.response["Error"]["Code"] not in ("404", "NoSuchBucket", "NotFound"):
            raise
    kwargs: dict = {"Bucket": settings.bucket}
    if settings.region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": settings.region}
    s3.create_bucket(**kwargs)
    s3.put_public_access_block(
        Bucket=settings.bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    return True


def _ensure_table(
    ddb, name: str, pk: str, sk: str, indexes: dict[str, tuple[str, str]] | None = None
) -> bool:
    try:
        ddb.describe_table(TableName=name)
        return False
    except ddb.exceptions.ResourceNotFoundException:
        pass
    key_attributes = dict.fromkeys([pk, sk, *(a for key in (indexes or {}).values() for a in key)])
    extra: dict = {}
    if indexes:
        extra["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": ipk, "KeyType": "HASH"},
                    {"AttributeName": isk, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"},
            }
            for index, (ipk, isk) in indexes.items()
        ]
    ddb.create_table(
        TableName=name,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in key_attributes],
        KeySchema=[
            {"AttributeName": pk, "KeyType": "HASH"},
            {"AttributeName": sk, "KeyType": "RANGE"},
        ],
        **extra,
    )
    ddb.get_waiter("table_exists").wait(
        TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 60}
    )
    return True


def _topic_names(sns) -> set[str]:
    names: set[str] = set()
    for page in sns.get_paginator("list_topics").paginate():
        names.update(t["TopicArn"].rsplit(":", 1)[-1] for t in page["Topics"])
    return names


def _queue_arn(sqs, url: str) -> str:
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]


def _ensure_queue(sqs, name: str, visibility: int, redrive: dict[str, str]) -> tuple[bool, str]:
    try:
        return False, sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        pass
    attributes = {
        "VisibilityTimeout": str(visibility),
        "MessageRetentionPeriod": str(MESSAGE_RETENTION_SECONDS),
    }
    if redrive:
        attributes["RedrivePolicy"] = json.dumps(redrive)
    return True, sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]


def _wire_raw_notifications(s3, sqs, settings: Settings, queue_url: str) -> None:
    """Let the bucket send `raw/` ObjectCreated events to the queue (same config every time)."""
    queue_arn = _queue_arn(sqs, queue_url)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "bucket-raw-events",
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{settings.bucket}"}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=queue_url, Attributes={"Policy": json.dumps(policy)})
    s3.put_bucket_notification_configuration(
        Bucket=settings.bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "Id": "raw-objects-to-queue",
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": RAW_PREFIX}]}},
                }
            ]
        },
    )
