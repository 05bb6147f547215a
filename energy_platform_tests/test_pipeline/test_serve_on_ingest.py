"""A small batch's readings are readable once its ingest run ends, and the day's run leaves the
readings table exactly as silver has it, even after a provisional write was overtaken."""

from __future__ import annotations

import json

import boto3
import pytest
from dagster import RunRequest, instance_for_test

from energy_platform import contract as c
from energy_platform.settings import Settings
from energy_platform_tests.harness import DrainStats, drain, ingest_tick, run_days, run_ingest

pytestmark = pytest.mark.slow

TS = "2026-01-05T10:00:00Z"


def _land(settings: Settings, key: str, generated: float) -> None:
    body = json.dumps(
        [
            {
                "site_id": "s1",
                "timestamp": TS,
                "energy_generated_kwh": generated,
                "energy_consumed_kwh": 0.5,
            }
        ]
    ).encode()
    boto3.client("s3").put_object(Bucket=settings.bucket, Key=key, Body=body)


def _served(settings: Settings) -> dict | None:
    table = boto3.resource("dynamodb").Table(f"{settings.table_prefix}{c.READINGS_TABLE}")
    return table.get_item(Key={c.SITE_ID: "s1", c.TS: TS}).get("Item")


def test_readable_after_ingest_and_final_after_the_day(platform_env: Settings) -> None:
    with instance_for_test() as instance:
        stats = DrainStats()
        _land(platform_env, "raw/a.json", 1.0)
        for request in ingest_tick(instance, stats):
            assert run_ingest(instance, request, stats)
        # No day run yet: the ingest run served the reading itself.
        assert stats.daily_runs == []
        assert float(_served(platform_env)[c.GENERATED]) == 1.0

        _land(platform_env, "raw/b.json", 2.0)  # a later delivery of the same reading wins
        drain(instance, stats)
        assert float(_served(platform_env)[c.GENERATED]) == 2.0

        # a.json replayed: its ingest run serves the older value it keeps its first arrival
        # time for; silver keeps b.json's, and the day's run puts it back.
        replay = RunRequest(
            run_config={
                "ops": {"ingest_raw_files": {"config": {"objects": [{"key": "raw/a.json"}]}}}
            }
        )
        assert run_ingest(instance, replay, stats)
        assert float(_served(platform_env)[c.GENERATED]) == 1.0  # provisional, overtaken
        assert run_days(instance, stats) == 1
        item = _served(platform_env)
        assert float(item[c.GENERATED]) == 2.0 and item[c.SOURCE_KEY] == "raw/b.json"


def test_a_batch_over_the_limit_waits_for_the_day(
    platform_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENERGY_SERVE_ON_INGEST_MAX_ROWS", "0")
    with instance_for_test() as instance:
        stats = DrainStats()
        _land(platform_env, "raw/a.json", 1.0)
        for request in ingest_tick(instance, stats):
            assert run_ingest(instance, request, stats)
        assert _served(platform_env) is None
        run_days(instance, stats)
        assert float(_served(platform_env)[c.GENERATED]) == 1.0
