"""The emulator of `energy-platform dev` persists only what changes state (real moto servers
over HTTP, the platform's own clients): reads leave the recording as it was, a restart brings
the data back, and the replay delivers nothing (no old alert, no S3 event, no queued message)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import boto3
import pandas as pd
import pytest

from energy_platform import contract as c
from energy_platform.local.emulator import (
    LOCAL_CREDENTIALS,
    MotoServer,
    changes_state,
    free_port,
)
from energy_platform.resources import DynamoTables, EventQueues, LakeStorage
from energy_platform.resources.notify import AlertNotifier
from energy_platform.settings import Settings
from energy_platform.tools.provision import provision
from energy_platform.transforms.raw_events import parse_message

INBOX = "alert_inbox"
"""An SQS queue subscribed to the alerts topic, as an operator's alert delivery would be."""
RAW_KEYS = [f"raw/2026/01/0{d}/batch-{d}.jsonl" for d in range(1, 4)]
IDLE_ROUNDS = 40
"""Rounds of the reads an idle `make dev` makes (sensor polls, listings, HEADs, lookups)."""


@pytest.fixture
def recording(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the emulator records; the platform's default names and local credentials."""
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("ENERGY_BUCKET", "energy-platform")
    monkeypatch.setenv("ENERGY_TABLE_PREFIX", "energy_")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name, value in LOCAL_CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    return tmp_path / "recording.jsonl"


@pytest.fixture
def recording_emulator(
    recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MotoServer]:
    """A recording emulator (on its own port) the platform's clients point at."""
    with _started(recording, tmp_path, monkeypatch) as server:
        yield server


@contextmanager
def _started(
    recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[MotoServer]:
    """A recording MotoServer on a fresh port (as after a restart), the platform's endpoint."""
    server = MotoServer(port=free_port(), recording=recording)
    monkeypatch.setenv("AWS_ENDPOINT_URL", server.start(log_file=tmp_path / "moto.log"))
    try:
        yield server
    finally:
        server.stop()


def _client(service: str):
    return boto3.client(service, region_name="us-east-1")


def _inbox_url() -> str:
    """Create the inbox queue and subscribe it to the alerts topic."""
    sqs = _client("sqs")
    url = sqs.create_queue(QueueName=INBOX)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    topic = AlertNotifier().topic_arn
    _client("sns").subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
    return url


def _drain(queue_url: str, wait_seconds: int = 1) -> list[str]:
    """Every message body the queue holds now, deleted as read (as a consumer would)."""
    sqs = _client("sqs")
    bodies: list[str] = []
    while batch := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
    ).get("Messages", []):
        bodies += [m["Body"] for m in batch]
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)
            ],
        )
    return bodies


def _alert_ids(bodies: list[str]) -> list[str]:
    return [json.loads(json.loads(b)["Message"])["alert"] for b in bodies]


def _ledger_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            c.SOURCE_KEY: RAW_KEYS,
            "etag": [f"etag-{i}" for i in range(len(RAW_KEYS))],
            "run_id": "run-1",
            "processed_at": "2026-01-04T00:00:00Z",
        }
    )


def _write_state(settings: Settings) -> str:
    """What two batches leave behind: raw files, parquet, ledger items, an alert subscription."""
    lake, tables = LakeStorage(), DynamoTables()
    for key in RAW_KEYS:
        lake.put_bytes(key, f'{{"batch": "{key}"}}\n'.encode())
    lake.put_bytes("staged/date=2026-01-01/batch-1.parquet", b"PAR1...PAR1")
    tables.put_frame(c.INGESTED_FILES_TABLE, _ledger_frame())
    return _inbox_url()


def _idle_day(rounds: int) -> int:
    """The reads an idle `make dev` repeats all day; returns how many requests were made."""
    lake, tables, queues = LakeStorage(), DynamoTables(), EventQueues()
    sqs, sns, ddb = _client("sqs"), _client("sns"), _client("dynamodb")
    (topic,) = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    ledger = tables.table_name(c.INGESTED_FILES_TABLE)
    keys = [{c.SOURCE_KEY: k, "etag": f"etag-{i}"} for i, k in enumerate(RAW_KEYS)]
    calls = [
        lambda: queues.receive(c.RAW_EVENTS_QUEUE, 10, 30),
        lambda: queues.receive(c.DEAD_LETTERS_QUEUE, 10, 30),
        lambda: list(lake.list_objects(c.RAW_PREFIX)),
        lambda: lake.head(RAW_KEYS[0]),
        lambda: lake.get_bytes(RAW_KEYS[1]),
        lambda: tables.get_items(c.INGESTED_FILES_TABLE, keys),
        lambda: list(tables.query(c.INGESTED_FILES_TABLE, RAW_KEYS[2])),
        lambda: tables.scan_all(c.INGESTED_FILES_TABLE),
        lambda: ddb.describe_table(TableName=ledger),
        lambda: ddb.list_tables(),
        lambda: sqs.get_queue_attributes(QueueUrl=queues.url(c.RAW_EVENTS_QUEUE)),
        lambda: sqs.get_queue_url(QueueName=INBOX),
        lambda: sqs.list_queues(),
        lambda: sns.list_topics(),
        lambda: sns.get_topic_attributes(TopicArn=topic),
        lambda: sns.list_subscriptions_by_topic(TopicArn=topic),
    ]
    for _ in range(rounds):
        for call in calls:
            call()
    return rounds * len(calls)


def _size(recording: Path) -> tuple[int, int]:
    """(requests, bytes) of the recording."""
    data = recording.read_bytes()
    return data.count(b"\n"), len(data)


def test_reads_are_not_recorded_and_data_survives_a_restart(
    recording_emulator: MotoServer, recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.from_env()
    provision(settings)
    _write_state(settings)
    _drain(EventQueues().url(c.RAW_EVENTS_QUEUE), wait_seconds=0)  # the sensor's share
    after_a_minute = _size(recording)

    reads = _idle_day(IDLE_ROUNDS)
    assert reads >= 600
    assert _size(recording) == after_a_minute, "reads were recorded"
    recording_emulator.stop()

    with _started(recording, tmp_path, monkeypatch) as restarted:
        t0 = time.monotonic()
        report = restarted.replay()
        took = time.monotonic() - t0
        assert (report.replayed, report.dropped) == (after_a_minute[0], 0)
        assert _size(recording) == after_a_minute, "the replay was recorded again"
        print(f"recording {after_a_minute} after {reads} reads; replayed in {took:.2f}s")

        lake = LakeStorage()
        assert sorted(o.key for o in lake.list_objects(c.RAW_PREFIX)) == sorted(RAW_KEYS)
        assert lake.get_bytes(RAW_KEYS[0]) == f'{{"batch": "{RAW_KEYS[0]}"}}\n'.encode()
        assert lake.get_bytes("staged/date=2026-01-01/batch-1.parquet") == b"PAR1...PAR1"
        ledger = DynamoTables().scan_all(c.INGESTED_FILES_TABLE)
        assert sorted(i[c.SOURCE_KEY] for i in ledger) == sorted(RAW_KEYS)
        queues = EventQueues()
        for queue in (c.RAW_EVENTS_QUEUE, c.DEAD_LETTERS_QUEUE):
            assert queues.url(queue)
        topic = AlertNotifier().topic_arn
        subs = _client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        assert [s["Endpoint"].rsplit(":", 1)[-1] for s in subs] == [INBOX]
        assert provision(settings).created == []


def test_a_restart_publishes_nothing_again(
    recording_emulator: MotoServer, recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings.from_env()
    provision(settings)
    inbox = _write_state(settings)
    raw_events = EventQueues().url(c.RAW_EVENTS_QUEUE)
    AlertNotifier().publish("batch_anomalies", "old alert", {"alert": "old"})
    assert _alert_ids(_drain(inbox)) == ["old"], "the subscription delivers live alerts"
    assert len(_drain(raw_events, wait_seconds=0)) == 1 + len(RAW_KEYS)  # test event + objects
    recording_emulator.stop()

    with _started(recording, tmp_path, monkeypatch) as restarted:
        restarted.replay()
        assert _drain(inbox) == [], "an old alert was delivered again"
        assert _drain(raw_events) == [], "S3 events were sent again"
        assert _drain(EventQueues().url(c.DEAD_LETTERS_QUEUE), wait_seconds=0) == []

        AlertNotifier().publish("batch_anomalies", "new alert", {"alert": "new"})
        assert _alert_ids(_drain(inbox)) == ["new"]
        LakeStorage().put_bytes("raw/2026/01/05/batch-5.jsonl", b"{}\n")
        (event,) = _drain(raw_events)
        assert [e.key for e in parse_message(event)] == ["raw/2026/01/05/batch-5.jsonl"]


def test_an_older_recording_is_compacted_and_publishes_nothing(
    recording_emulator: MotoServer, recording: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A recording made before this rule (reads, an SNS Publish, a torn last line) replays
    only its state changes, and is rewritten without the rest."""
    settings = Settings.from_env()
    provision(settings)
    inbox = _write_state(settings)
    topic = AlertNotifier().topic_arn
    state = _size(recording)
    old = [
        _entry("GET", f"/{settings.bucket}?list-type=2", {}, ""),
        _entry("HEAD", f"/{settings.bucket}/{RAW_KEYS[0]}", {}, ""),
        _entry(
            "POST",
            "/",
            {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
            f"Action=Publish&TopicArn={topic}&Message=%7B%22alert%22%3A%22old%22%7D",
        ),
        _entry(
            "POST",
            "/",
            {"X-Amz-Target": "AmazonSQS.SendMessage", "Content-Type": "application/x-amz-json-1.0"},
            json.dumps({"QueueUrl": inbox, "MessageBody": "old"}),
        ),
    ]
    with recording.open("a") as f:
        f.writelines(json.dumps(e) + "\n" for e in old)
        f.write('{"method": "PUT", "url": "http://127.0.0.1:1/torn')
    recording_emulator.stop()

    with _started(recording, tmp_path, monkeypatch) as restarted:
        report = restarted.replay()
        assert (report.replayed, report.dropped) == (state[0], len(old) + 1)
        assert _size(recording) == state
        assert _drain(inbox) == []
        assert sorted(o.key for o in LakeStorage().list_objects(c.RAW_PREFIX)) == sorted(RAW_KEYS)


def _entry(method: str, path: str, headers: dict[str, str], body: str) -> dict[str, object]:
    """A line as moto's recorder writes it."""
    return {
        "headers": headers,
        "method": method,
        "url": f"http://127.0.0.1:1{path}",
        "body": body,
        "body_encoded": False,
    }


FORM = {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}


@pytest.mark.parametrize(
    ("method", "url", "headers", "body", "recorded"),
    [
        ("PUT", "/bucket/raw/a.json", {}, b"{}", True),
        ("DELETE", "/bucket/raw/a.json", {}, b"", True),
        ("POST", "/bucket?delete", {}, b"<Delete/>", True),
        ("GET", "/bucket/raw/a.json", {}, b"", False),
        ("HEAD", "/bucket/raw/a.json", {}, b"", False),
        ("GET", "/bucket?list-type=2&prefix=raw/", {}, b"", False),
        ("POST", "/", {"X-Amz-Target": "DynamoDB_20120810.BatchWriteItem"}, b"{}", True),
        ("POST", "/", {"X-Amz-Target": "DynamoDB_20120810.UpdateItem"}, b"{}", True),
        ("POST", "/", {"X-Amz-Target": "DynamoDB_20120810.CreateTable"}, b"{}", True),
        ("POST", "/", {"X-Amz-Target": "DynamoDB_20120810.Query"}, b"{}", False),
        ("POST", "/", {"X-Amz-Target": "DynamoDB_20120810.Scan"}, b"{}", False),
        ("POST", "/", {"X-Amz-Target": "DynamoDB_20120810.BatchGetItem"}, b"{}", False),
        ("POST", "/", {"X-Amz-Target": "DynamoDB_20120810.DescribeTable"}, b"{}", False),
        ("POST", "/", {"x-amz-target": "AmazonSQS.CreateQueue"}, b"{}", True),
        ("POST", "/", {"x-amz-target": "AmazonSQS.SetQueueAttributes"}, b"{}", True),
        ("POST", "/", {"x-amz-target": "AmazonSQS.ReceiveMessage"}, b"{}", False),
        ("POST", "/", {"x-amz-target": "AmazonSQS.SendMessageBatch"}, b"{}", False),
        ("POST", "/", {"x-amz-target": "AmazonSQS.DeleteMessage"}, b"{}", False),
        ("POST", "/", {"x-amz-target": "AmazonSQS.GetQueueUrl"}, b"{}", False),
        ("POST", "/", FORM, b"Action=CreateTopic&Name=energy_alerts", True),
        ("POST", "/", FORM, b"Action=Subscribe&Protocol=sqs", True),
        ("POST", "/", FORM, b"Action=Publish&Message=x", False),
        ("POST", "/", FORM, b"Action=ListSubscriptionsByTopic", False),
        ("POST", "/?Action=GetTopicAttributes", {}, b"", False),
    ],
)
def test_the_rule(
    method: str, url: str, headers: dict[str, str], body: bytes, recorded: bool
) -> None:
    assert changes_state(method, f"http://127.0.0.1:4566{url}", headers, body) is recorded
