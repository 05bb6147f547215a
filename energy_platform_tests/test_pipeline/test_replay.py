"""`energy-platform replay` over every kind of dead letter: a failed run's file, a raw event SQS
redrove, a malformed message the sensor set aside, and anything else."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from click.testing import CliRunner
from dagster import instance_for_test
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_platform import contract as c
from energy_platform.resources.queue import Message
from energy_platform.settings import Settings
from energy_platform.tools.cli import main as cli
from energy_platform.tools.provision import MAX_RECEIVES
from energy_platform.tools.replay import MAX_REASON_CHARS, Unreplayable, classify, printable
from energy_platform.transforms.raw_events import parse_message
from energy_platform_tests.harness import DrainStats, ingest_tick

FAILED = {  # as run_failure_alert_sensor writes a failed ingest run's file
    "key": "raw/failed/1.json",
    "etag": "e1",
    "size": 10,
    "arrival_ms": 1_700_000_000_000,
    "run_id": "r1",
    "error": "boom\nsecond line",
}
UNREPLAYABLE = {  # body put on dead_letters -> what `replay` must say of it
    "plain text": "not JSON",
    "[1, 2]": "not a JSON object",
    "[" * 30_000: "not JSON",
    '{"hello": 1}': "neither a failed run's file nor a raw_events message",
    json.dumps({"key": "silver/x.parquet", "run_id": "r2"}): "replay.key: not under raw/",
    json.dumps({"key": 42}): "a failed run's file, unusable: replay.key: not a string",
    json.dumps({"key": "raw/x.json", "arrival_ms": "soon"}): "arrival_ms: not a whole number",
    json.dumps({"key": "raw/x.json", "size": 10**30}): "size: outside",
    json.dumps({"Event": "s3:TestEvent"}): "names no object under raw/",
    json.dumps({"Records": [{"eventName": "ObjectRemoved:Delete"}]}): "names no object",
    json.dumps({"Records": "x"}): "malformed message: Records: not a list",
    json.dumps({"queue": "raw_events", "message_id": "m", "error": "bad \x1b[2J\ud800"}): "bad",
}


def _message(body: str) -> Message:
    return Message("id", "handle", body)


def test_a_failed_runs_file_replays_with_what_it_was_first_seen_with() -> None:
    (item,) = classify(_message(json.dumps(FAILED)))
    assert item.request() == {
        "replay": True,
        "key": "raw/failed/1.json",
        "etag": "e1",
        "size": 10,
        "arrival_ms": 1_700_000_000_000,
    }
    assert item.why == "run r1 failed: boom\nsecond line"


def _record(key: str) -> dict[str, object]:
    obj = {"key": key, "eTag": '"e"', "size": 3}
    return {
        "eventName": "ObjectCreated:Put",
        "eventTime": "1970-01-01T00:00:01Z",
        "s3": {"object": obj},
    }


def test_a_redriven_raw_event_replays_every_object_it_names() -> None:
    keys = ["raw/a.json", "silver/skipped.parquet", "raw/b+c.json"]
    items = classify(_message(json.dumps({"Records": [_record(k) for k in keys]})))
    assert not isinstance(items, Unreplayable), items
    assert [(i.key, i.etag, i.size, i.arrival_ms) for i in items] == [
        ("raw/a.json", "e", 3, 1000),
        ("raw/b c.json", "e", 3, 1000),
    ]
    assert items[0].why == "S3 event moved here by SQS after too many receives"
    (again,) = classify(_message(json.dumps({"replay": True, "key": "raw/r.json"})))
    assert again.key == "raw/r.json"
    assert again.why == "replay request moved here by SQS after too many receives"


@pytest.mark.parametrize("body", list(UNREPLAYABLE))
def test_a_dead_letter_naming_no_object_says_why(body: str) -> None:
    found = classify(_message(body))
    assert isinstance(found, Unreplayable), found
    assert UNREPLAYABLE[body] in found.reason


def test_what_is_printed_of_a_dead_letter_cannot_drive_the_terminal() -> None:
    shown = printable("bad \x1b[2J\ud800\n é")
    assert shown == "bad \\x1b[2J\\ud800\\n é"
    shown.encode("utf-8")


ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
VALID = {"key": "raw/x.json", "etag": "e", "size": 1, "arrival_ms": 1, "run_id": "r", "error": "e"}
NEAR_FAILED = st.fixed_dictionaries(
    {}, optional={k: st.just(v) | st.just(v) | ANY_JSON for k, v in VALID.items()}
)
OTHER = st.sampled_from(["replay", "Records", "Event", "queue", "message_id", "error"])
NEAR_ANY = st.dictionaries(OTHER | st.sampled_from(list(VALID)), ANY_JSON, max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.one_of(ANY_JSON, NEAR_FAILED, NEAR_ANY).map(json.dumps) | st.text(max_size=200))
def test_any_dead_letter_is_objects_to_replay_or_a_reason(body: str) -> None:
    found = classify(_message(body))
    if isinstance(found, Unreplayable):
        assert 0 < len(found.reason) <= MAX_REASON_CHARS
        assert printable(found.reason).isprintable()
        return
    for item in found:  # the sensor accepts each request as the object it names
        (ev,) = parse_message(json.dumps(item.request()))
        assert (ev.key, ev.etag, ev.replay) == (item.key, item.etag, True)


# --- through the emulator: the real sensor, SQS's real redrive, the CLI ---------------------


def _sqs(settings: Settings) -> Any:  # a boto3 SQS client
    return boto3.client("sqs", region_name=settings.region)


def _url(settings: Settings, queue: str) -> str:
    name = c.prefixed(settings.table_prefix, queue)
    return _sqs(settings).get_queue_url(QueueName=name)["QueueUrl"]


def _depth(settings: Settings, queue: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue."""
    url = _url(settings, queue)
    a = _sqs(settings).get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def _bodies(settings: Settings, queue: str, *, delete: bool = False) -> list[str]:
    """Every body on `queue`, then the messages deleted or visible again."""
    sqs, url = _sqs(settings), _url(settings, queue)
    got: list[dict] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60
    ).get("Messages"):
        got += batch
    for m in got:
        if delete:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        else:
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
            )
    return [m["Body"] for m in got]


def _redrive_raw_events(settings: Settings) -> None:
    """Receive raw_events' messages without deleting them until SQS moves them to dead_letters."""
    sqs, url = _sqs(settings), _url(settings, c.RAW_EVENTS_QUEUE)
    for _ in range(MAX_RECEIVES + 2):
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0)
    assert _depth(settings, c.RAW_EVENTS_QUEUE) == (0, 0)


def _fill_dead_letters(settings: Settings) -> tuple[str, list[str]]:
    """Every kind of dead letter on the queue; the key S3 announced, and the bodies that name
    no object."""
    with instance_for_test() as instance:
        stats = DrainStats()
        ingest_tick(instance, stats)  # takes what provisioning left (S3's test event)
        raw = _url(settings, c.RAW_EVENTS_QUEUE)
        for body in ("{not json", '{"replay": true}'):
            _sqs(settings).send_message(QueueUrl=raw, MessageBody=body)
        assert ingest_tick(instance, stats) == []  # the sensor sets them aside on dead_letters
    set_aside = _bodies(settings, c.DEAD_LETTERS_QUEUE)
    assert len(set_aside) == 2 and all("malformed message" in b for b in set_aside)

    key = "raw/redriven/a b.json"  # S3 URL-encodes it in the event
    boto3.client("s3", region_name=settings.region).put_object(
        Bucket=settings.bucket, Key=key, Body=b"[]"
    )
    _redrive_raw_events(settings)
    dead = _url(settings, c.DEAD_LETTERS_QUEUE)
    for body in [json.dumps(FAILED), *UNREPLAYABLE]:
        _sqs(settings).send_message(QueueUrl=dead, MessageBody=body)
    return key, [*set_aside, *UNREPLAYABLE]


@pytest.mark.slow
def test_replay_re_queues_what_it_can_and_keeps_the_rest_unless_asked(
    platform_env: Settings,
) -> None:
    redriven, unreplayable = _fill_dead_letters(platform_env)
    total = len(unreplayable) + 2
    assert _depth(platform_env, c.DEAD_LETTERS_QUEUE) == (total, 0)
    runner = CliRunner()

    dry = runner.invoke(cli, ["replay", "--dry-run"], catch_exceptions=False)
    assert dry.exit_code == 0, dry.output
    assert f"  {FAILED['key']}  (run r1 failed: boom\\nsecond line)" in dry.output
    assert f"  {redriven}  (S3 event moved here by SQS after too many receives)" in dry.output
    assert dry.output.count(": cannot be replayed: ") == len(unreplayable)
    assert "cannot be replayed: malformed message: not JSON" in dry.output
    assert "cannot be replayed: malformed message: replay.key: missing" in dry.output
    assert "\x1b" not in dry.output and "bad \\x1b[2J\\ud800" in dry.output
    assert "2 objects would be re-processed (dry run: nothing changed)." in dry.output
    assert f"{len(unreplayable)} dead letters cannot be replayed" in dry.output
    assert _depth(platform_env, c.DEAD_LETTERS_QUEUE) == (total, 0)  # all back at once
    assert _depth(platform_env, c.RAW_EVENTS_QUEUE) == (0, 0)

    real = runner.invoke(cli, ["replay"], catch_exceptions=False)
    assert real.exit_code == 0, real.output
    assert "2 objects queued for re-processing." in real.output
    assert f"{len(unreplayable)} dead letters cannot be replayed: kept" in real.output
    requests = [
        ev
        for b in _bodies(platform_env, c.RAW_EVENTS_QUEUE, delete=True)
        for ev in parse_message(b)
    ]
    assert sorted((ev.key, ev.replay) for ev in requests) == [
        (FAILED["key"], True),
        (redriven, True),
    ]
    failed = next(ev for ev in requests if ev.key == FAILED["key"])
    assert (failed.etag, failed.size, failed.arrival_ms) == ("e1", 10, FAILED["arrival_ms"])
    assert next(ev for ev in requests if ev.key == redriven).size == 2
    assert _depth(platform_env, c.DEAD_LETTERS_QUEUE) == (len(unreplayable), 0)  # visible now
    assert sorted(_bodies(platform_env, c.DEAD_LETTERS_QUEUE)) == sorted(unreplayable)

    dropped = runner.invoke(cli, ["replay", "--drop-unreplayable"], catch_exceptions=False)
    assert dropped.exit_code == 0, dropped.output
    assert "0 objects queued for re-processing." in dropped.output
    assert f"{len(unreplayable)} dead letters that cannot be replayed removed." in dropped.output
    assert _depth(platform_env, c.DEAD_LETTERS_QUEUE) == (0, 0)
    assert _depth(platform_env, c.RAW_EVENTS_QUEUE) == (0, 0)

    empty = runner.invoke(cli, ["replay"], catch_exceptions=False)
    assert "Nothing to replay: the dead-letter queue is empty." in empty.output
