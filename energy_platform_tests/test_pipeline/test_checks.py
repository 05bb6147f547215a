"""Asset checks fail when the data is wrong, not only pass when it is right."""

from __future__ import annotations

import io
import json

import boto3
import pyarrow.parquet as pq
import pytest
from dagster import instance_for_test

from energy_platform import contract as c
from energy_platform.defs.checks import county_5min_reconciles
from energy_platform.settings import Settings
from energy_platform_tests.harness import drain, platform_defs

pytestmark = pytest.mark.slow

RECORDS = [
    {
        "site_id": f"s{i}",
        "timestamp": "2026-01-02T10:00:00Z",
        "energy_generated_kwh": 1.5,
        "energy_consumed_kwh": 0.5,
        "county": "King",
    }
    for i in range(5)
]


def _check_results(result) -> dict[str, bool]:
    return {ev.check_name: ev.passed for ev in result.get_asset_check_evaluations()}


def test_freshness_fails_while_raw_files_wait_and_passes_once_processed(
    platform_env: Settings, monkeypatch
) -> None:
    monkeypatch.setenv("ENERGY_FRESHNESS_MINUTES", "0")
    s3 = boto3.client("s3", region_name=platform_env.region)
    s3.put_object(Bucket=platform_env.bucket, Key="raw/f/1.json", Body=json.dumps(RECORDS).encode())
    with instance_for_test() as instance:
        job = platform_defs().resolve_job_def("freshness_job")
        waiting = job.execute_in_process(instance=instance, raise_on_error=False)
        assert _check_results(waiting) == {"raw_objects_processed_in_time": False}
        drain(instance)
        done = job.execute_in_process(instance=instance, raise_on_error=False)
        assert _check_results(done) == {"raw_objects_processed_in_time": True}


def test_reconciliation_fails_when_gold_drifts_from_silver(platform_env: Settings) -> None:
    s3 = boto3.client("s3", region_name=platform_env.region)
    s3.put_object(Bucket=platform_env.bucket, Key="raw/g/1.json", Body=json.dumps(RECORDS).encode())
    with instance_for_test() as instance:
        stats = drain(instance)
        assert stats.failed_checks == []
        # Corrupt the day's gold: one county window now claims an extra reading.
        key = c.partition_object(c.GOLD_COUNTY_5MIN_PREFIX, "2026-01-02")
        table = pq.read_table(
            io.BytesIO(s3.get_object(Bucket=platform_env.bucket, Key=key)["Body"].read())
        )
        df = table.to_pandas()
        df.loc[0, "reading_count"] += 1
        buf = io.BytesIO()
        pq.write_table(table.from_pandas(df, schema=table.schema, preserve_index=False), buf)
        s3.put_object(Bucket=platform_env.bucket, Key=key, Body=buf.getvalue())

        # The check alone, in the job that runs it (the day's analytics run).
        result = (
            platform_defs()
            .resolve_job_def("analytics_job")
            .get_subset(asset_check_selection={county_5min_reconciles.check_key})
            .execute_in_process(instance=instance, partition_key="2026-01-02", raise_on_error=False)
        )
        assert _check_results(result) == {"county_5min_reconciles": False}
