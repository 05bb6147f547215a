"""raw_files_sensor: every object under raw/ becomes part of exactly one run, however they land."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor

import boto3
import pandas as pd
import pytest
from dagster import instance_for_test

from energy_platform import contract as c
from energy_platform.defs.partitions import day_shard_key
from energy_platform.settings import Settings
from energy_platform.transforms.raw_events import MAX_FILES_PER_RUN
from energy_platform.transforms.shards import site_shards
from energy_platform_tests.harness import DrainStats, ingest_tick, run_ingest

pytestmark = pytest.mark.slow

RECORD = {
    "site_id": "s1",
    "timestamp": "2026-01-01T00:00:00Z",
    "energy_generated_kwh": 1,
    "energy_consumed_kwh": 0.5,
}


def _land(settings: Settings, keys: list[str]) -> None:
    s3 = boto3.client("s3", region_name=settings.region)
    body = json.dumps([RECORD]).encode()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=settings.bucket, Key=k, Body=body), keys))


def _requested_keys(requests) -> list[str]:
    return [
        o["key"]
        for r in requests
        for o in r.run_config["ops"]["ingest_raw_files"]["config"]["objects"]
    ]


def test_2500_objects_landing_at_once_each_requested_exactly_once(platform_env: Settings) -> None:
    # Same second, many sub-folders, unicode and spaces: more than two pages of a listing.
    keys = [f"raw/burst/{i % 7} dir/é-{i:05d}.json" for i in range(2500)]
    _land(platform_env, keys)
    with instance_for_test() as instance:
        stats = DrainStats()
        requests = []
        for _ in range(10):
            tick = ingest_tick(instance, stats)
            if not tick and requests:
                break
            requests += tick
        got = _requested_keys(requests)
        assert sorted(got) == sorted(keys)  # none missed, none twice
        assert (
            len(requests) <= -(-2500 // MAX_FILES_PER_RUN) + 3
        )  # a backlog is a few runs, not 2,500
        assert len({r.run_key for r in requests}) == len(requests)
        for r in requests:
            assert r.tags["energy/files"] == str(
                len(r.run_config["ops"]["ingest_raw_files"]["config"]["objects"])
            )
        # The queue is empty once the next tick has deleted the last messages.
        ingest_tick(instance, stats)
        sqs = boto3.client("sqs", region_name=platform_env.region)
        url = sqs.get_queue_url(
            QueueName=c.prefixed(platform_env.table_prefix, c.RAW_EVENTS_QUEUE)
        )["QueueUrl"]
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert attrs["ApproximateNumberOfMessages"] == "0"
        assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_redelivered_events_after_a_crash_are_not_processed_twice(
    platform_env: Settings, monkeypatch
) -> None:
    """A daemon that dies before deleting messages: they come back, the runs are not repeated."""
    import energy_platform.defs.sensors as sensors

    monkeypatch.setattr(sensors, "VISIBILITY_SECONDS", 1)
    keys = [f"raw/crash/{i}.json" for i in range(30)]
    _land(platform_env, keys)
    with instance_for_test() as instance:
        stats = DrainStats()
        first = ingest_tick(instance, stats)
        assert sorted(_requested_keys(first)) == sorted(keys)
        for request in first:
            assert run_ingest(instance, request, stats)
        import time

        time.sleep(1.5)  # visibility expired: the same messages are delivered again
        stats.raw_cursor = None  # and the daemon lost its cursor too
        again = ingest_tick(instance, stats)
        assert again == []  # the ledger knows every file


def test_objects_landing_while_runs_are_in_flight_are_picked_up_next(
    platform_env: Settings,
) -> None:
    with instance_for_test() as instance:
        stats = DrainStats()
        _land(platform_env, [f"raw/wave1/{i}.json" for i in range(5)])
        first = ingest_tick(instance, stats)
        _land(platform_env, [f"raw/wave2/{i}.json" for i in range(5)])  # while wave 1 "runs"
        second = ingest_tick(instance, stats)
        assert sorted(_requested_keys(first)) == sorted(f"raw/wave1/{i}.json" for i in range(5))
        assert sorted(_requested_keys(second)) == sorted(f"raw/wave2/{i}.json" for i in range(5))
        assert ingest_tick(instance, stats) == []


def test_day_with_gold_older_than_silver_is_requested_again_after_a_failed_run(
    platform_env: Settings, monkeypatch
) -> None:
    """A shard run that died between silver and gold: the sensor asks for that shard again."""
    import energy_platform.defs.sensors as sensors
    from energy_platform_tests.harness import drain, platform_defs, run_days

    monkeypatch.setattr(sensors, "FAILED_DAY_BACKOFF_SECONDS", 0)
    _land(platform_env, ["raw/stale/1.json"])
    s3 = boto3.client("s3", region_name=platform_env.region)
    (shard,) = site_shards(pd.Series([RECORD["site_id"]]), platform_env.site_shards)
    day_key = c.partition_object(c.SILVER_READINGS_PREFIX, "2026-01-01", shard)
    with instance_for_test() as instance:
        drain(instance)
        stats = DrainStats()
        # Silver rewritten after gold (as by a run killed before its gold steps)...
        time.sleep(1.1)
        body = s3.get_object(Bucket=platform_env.bucket, Key=day_key)["Body"].read()
        s3.put_object(Bucket=platform_env.bucket, Key=day_key, Body=body)
        assert run_days(instance, stats) == 0  # ...but the day's last run succeeded: no loop
        # The day's last run failed (an unreadable staged object, removed afterwards).
        bad = c.staging_object("2026-01-01", shard, "broken")
        s3.put_object(Bucket=platform_env.bucket, Key=bad, Body=b"not parquet")
        failed = (
            platform_defs()
            .resolve_job_def("daily_job")
            .execute_in_process(
                instance=instance,
                partition_key=day_shard_key("2026-01-01", shard),
                raise_on_error=False,
            )
        )
        assert not failed.success
        s3.delete_object(Bucket=platform_env.bucket, Key=bad)
        time.sleep(1.1)
        s3.put_object(Bucket=platform_env.bucket, Key=day_key, Body=body)
        assert run_days(instance, stats) == 1  # the shard; the county run waits for it
        assert stats.daily_runs == [f"2026-01-01|{shard}"] and stats.failed_runs == 0


def _record(**obj: object) -> dict[str, object]:
    obj = {"key": "raw/x.json", "eTag": "e", "size": 1, **obj}
    return {
        "eventName": "ObjectCreated:Put",
        "eventTime": "2026-01-01T00:00:00Z",
        "s3": {"object": obj},
    }


MALFORMED = {  # body -> the reason the dead letter must give
    "{not json": "not JSON",
    "[1, 2]": "not a JSON object",
    '{"Records": "raw/a.json"}': "Records: not a list",
    '{"Records": [{"eventName": "ObjectCreated:Put"}]}': "Records[0].s3: missing",
    json.dumps({"Records": [_record(key=42)]}): "key: not a string",
    json.dumps({"Records": [_record(size=10**30)]}): "size: outside",
    json.dumps({"Records": [{**_record(), "eventTime": "soon"}]}): "eventTime: not an ISO",
    '{"replay": true}': "replay.key: missing",
    '{"replay": true, "key": "raw/\\ud800.json"}': "replay.key: not valid Unicode",
    "[" * 30_000: "not JSON",
    json.dumps({"Records": [], "pad": "x" * 100_000}): "too large",
}


def _url(settings: Settings, queue: str) -> str:
    sqs = boto3.client("sqs", region_name=settings.region)
    return sqs.get_queue_url(QueueName=c.prefixed(settings.table_prefix, queue))["QueueUrl"]


def _depth(settings: Settings, queue: str) -> tuple[int, int]:
    """(visible, in flight) messages of a queue, as SQS counts them."""
    sqs = boto3.client("sqs", region_name=settings.region)
    attrs = sqs.get_queue_attributes(QueueUrl=_url(settings, queue), AttributeNames=["All"])
    a = attrs["Attributes"]
    return int(a["ApproximateNumberOfMessages"]), int(a["ApproximateNumberOfMessagesNotVisible"])


def _send_raw(settings: Settings, bodies: list[str]) -> dict[str, str]:
    """Put `bodies` on raw_events as they are; message id -> body."""
    sqs = boto3.client("sqs", region_name=settings.region)
    url = _url(settings, c.RAW_EVENTS_QUEUE)
    return {sqs.send_message(QueueUrl=url, MessageBody=b)["MessageId"]: b for b in bodies}


def _dead_letters(settings: Settings) -> list[dict]:
    sqs = boto3.client("sqs", region_name=settings.region)
    url = _url(settings, c.DEAD_LETTERS_QUEUE)
    out: list[dict] = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60
    ).get("Messages"):
        out += [json.loads(m["Body"]) for m in batch]
    return out


def test_malformed_messages_are_dead_lettered_and_hold_back_nothing(
    platform_env: Settings,
) -> None:
    with instance_for_test() as instance:
        stats = DrainStats()
        assert ingest_tick(instance, stats) == []  # takes what provisioning left (S3's test event)
        sent = _send_raw(platform_env, list(MALFORMED))
        _land(platform_env, ["raw/good/1.json"])

        requests = ingest_tick(instance, stats)
        assert _requested_keys(requests) == ["raw/good/1.json"]  # in the very same tick
        # Left on raw_events: the good file's event only, in flight until the next tick deletes it.
        assert _depth(platform_env, c.RAW_EVENTS_QUEUE) == (0, 1)
        letters = _dead_letters(platform_env)
        assert sorted(d["message_id"] for d in letters) == sorted(sent)
        for d in letters:
            body = sent[d["message_id"]]
            assert d["queue"] == c.RAW_EVENTS_QUEUE
            assert d["error"].startswith("malformed message: ")
            assert MALFORMED[body] in d["error"] and len(d["error"]) < 400
            assert d["body"] == body[:1000] and d["body_chars"] == len(body)

        assert ingest_tick(instance, stats) == []
        assert _depth(platform_env, c.RAW_EVENTS_QUEUE) == (0, 0)
        assert _depth(platform_env, c.DEAD_LETTERS_QUEUE) == (0, len(MALFORMED))  # not twice


def test_malformed_messages_wait_if_dead_letters_is_unreachable(platform_env: Settings) -> None:
    """No dead-letter queue: the bad messages stay on raw_events, the good file still runs."""
    with instance_for_test() as instance:
        stats = DrainStats()
        ingest_tick(instance, stats)
        sqs = boto3.client("sqs", region_name=platform_env.region)
        sqs.delete_queue(QueueUrl=_url(platform_env, c.DEAD_LETTERS_QUEUE))
        _send_raw(platform_env, ["{not json", '{"replay": true}'])
        _land(platform_env, ["raw/good/2.json"])

        assert _requested_keys(ingest_tick(instance, stats)) == ["raw/good/2.json"]
        assert _depth(platform_env, c.RAW_EVENTS_QUEUE) == (0, 3)
        assert ingest_tick(instance, stats) == []
        assert _depth(platform_env, c.RAW_EVENTS_QUEUE) == (0, 2)  # hidden, not deleted


def test_sensor_long_poll_sees_a_file_landing_during_its_tick(
    platform_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As under `make dev`: the tick waits on the queue, and returns as soon as the file lands,
    # not at the end of its wait.
    with instance_for_test() as instance, ThreadPoolExecutor(1) as pool:
        stats = DrainStats()
        assert ingest_tick(instance, stats) == []  # takes S3's test event off the queue
        monkeypatch.setenv("ENERGY_RAW_EVENTS_WAIT_SECONDS", "4")
        started = time.monotonic()
        landing = pool.submit(lambda: (time.sleep(1.0), _land(platform_env, ["raw/late.json"])))
        requests = ingest_tick(instance, stats)
        elapsed = time.monotonic() - started
        landing.result()
    assert _requested_keys(requests) == ["raw/late.json"], elapsed
    assert 1.0 <= elapsed < 3.5, elapsed
