"""Asset checks fail when the data is wrong, not only pass when it is right."""

from __future__ import annotations

import io
import json

import boto3
import pandas as pd
import pyarrow.parquet as pq
import pytest
from dagster import instance_for_test

from energy_platform import contract as c
from energy_platform.defs.checks import county_5min_partials_reconcile, county_5min_reconciles
from energy_platform.defs.partitions import day_shard_key
from energy_platform.settings import Settings
from energy_platform.transforms.shards import site_shards
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


def _bump_first_count(s3, bucket: str, key: str, by: int) -> None:
    """One gold window now claims `by` extra readings."""
    table = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
    df = table.to_pandas()
    df.loc[0, "reading_count"] += by
    buf = io.BytesIO()
    pq.write_table(table.from_pandas(df, schema=table.schema, preserve_index=False), buf)
    s3.put_object(Bucket=bucket, Key=key, Body=buf.getvalue())


def test_reconciliation_fails_when_gold_drifts_from_silver(platform_env: Settings) -> None:
    s3 = boto3.client("s3", region_name=platform_env.region)
    s3.put_object(Bucket=platform_env.bucket, Key="raw/g/1.json", Body=json.dumps(RECORDS).encode())
    date = "2026-01-02"
    (shard,) = site_shards(pd.Series(["s0"]), platform_env.site_shards)
    with instance_for_test() as instance:
        stats = drain(instance)
        assert stats.failed_checks == []
        # Both drift, by different counts: the county windows no longer add the partials up.
        county_key = c.partition_object(c.GOLD_COUNTY_5MIN_PREFIX, date)
        _bump_first_count(s3, platform_env.bucket, county_key, by=1)
        partial_key = c.partition_object(c.GOLD_COUNTY_PARTIALS_PREFIX, date, shard)
        _bump_first_count(s3, platform_env.bucket, partial_key, by=2)

        # Each check alone, in the job that runs it: the county windows' in the day's county
        # run (against the sum of the stored partials), the partials' in their shard's run
        # (against the shard's silver).
        defs = platform_defs()
        county = (
            defs.resolve_job_def("county_job")
            .get_subset(asset_check_selection={county_5min_reconciles.check_key})
            .execute_in_process(instance=instance, partition_key=date, raise_on_error=False)
        )
        partials = (
            defs.resolve_job_def("daily_job")
            .get_subset(asset_check_selection={county_5min_partials_reconcile.check_key})
            .execute_in_process(
                instance=instance, partition_key=day_shard_key(date, shard), raise_on_error=False
            )
        )
    assert _check_results(county) == {"county_5min_reconciles": False}
    assert _check_results(partials) == {"county_5min_partials_reconcile": False}
