"""Site shards through the real sensors and runs: each site's day lives in its shard's file,
county windows add up over the shards, and a lake refuses a changed shard count."""

from __future__ import annotations

import pandas as pd
import pytest
from dagster import DagsterEventType, DagsterInstance, instance_for_test

from energy_platform import contract as c
from energy_platform.defs import sensors
from energy_platform.settings import SITE_SHARDS_ENV, Settings
from energy_platform.transforms.aggregate import combine_county_5min
from energy_platform.transforms.shards import site_shards
from energy_platform_tests.harness import (
    DrainStats,
    day_requests,
    drain,
    ingest_tick,
    run_day,
    run_ingest,
)
from energy_platform_tests.lake_view import LakeView
from energy_platform_tests.test_reliability.support import day, jsonl, readings

HOUR = pd.Timedelta(hours=1)

SITES = [f"s{i}" for i in range(12)]


def _county_totals_equal_to_their_partials(lake: LakeView, date: str) -> pd.DataFrame:
    """The day's county_5min as stored, once checked equal to the sum of its shards' partials."""
    county = lake.frame(c.partition_object(c.GOLD_COUNTY_5MIN_PREFIX, date))
    partials = lake.parquet(c.day_prefix(c.GOLD_COUNTY_PARTIALS_PREFIX, date))
    pd.testing.assert_frame_equal(county, combine_county_5min(partials), check_dtype=False)
    return county


def test_each_site_in_its_shard_file_and_county_windows_add_up(platform_env: Settings) -> None:
    lake = LakeView(platform_env)
    date = day(1).strftime("%Y-%m-%d")
    lake.put("raw/shards/day.jsonl", jsonl(readings(day(1), SITES, 6)))
    with instance_for_test() as instance:
        stats = drain(instance)
    assert stats.failed_runs == 0 and stats.failed_checks == []
    shard_of = dict(
        zip(SITES, site_shards(pd.Series(SITES), platform_env.site_shards), strict=True)
    )
    # One daily_job run per shard that has sites, then one county run for the day.
    assert sorted(stats.partitions_of("daily_job")) == sorted(
        f"{date}|{s}" for s in set(shard_of.values())
    )
    assert stats.partitions_of("county_job") == [date]

    prefix = c.day_prefix(c.SILVER_READINGS_PREFIX, date)
    for key in lake.keys(prefix):
        shard = key.removeprefix(f"{prefix}part-").removesuffix(".parquet")
        sites = set(lake.frame(key)[c.SITE_ID])
        assert sites and all(shard_of[s] == shard for s in sites), key
    assert sorted(lake.parquet(prefix)[c.SITE_ID].unique()) == sorted(SITES)

    assert len(lake.keys(c.day_prefix(c.GOLD_COUNTY_PARTIALS_PREFIX, date))) > 1
    county = _county_totals_equal_to_their_partials(lake, date)
    assert int(county[c.SITE_COUNT].max()) > 1  # sites of several shards in one window
    assert "county_5min_reconciles" in {name for _, name, _ in stats.check_results}


def test_a_changed_shard_count_is_refused_saying_what_to_do(
    platform_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = LakeView(platform_env)
    lake.put("raw/shards/first.jsonl", jsonl(readings(day(1), SITES[:3], 2)))
    with instance_for_test() as instance:
        assert drain(instance).failed_runs == 0
        monkeypatch.setenv(SITE_SHARDS_ENV, str(platform_env.site_shards * 2))
        lake.put("raw/shards/second.jsonl", jsonl(readings(day(1), SITES[3:6], 2)))
        stats = DrainStats()
        (request,) = ingest_tick(instance, stats)
        assert not run_ingest(instance, request, stats)
        (run,) = [r for r in instance.get_runs() if r.tags.get("energy/batch_id")][:1]
        failures = instance.all_logs(run.run_id, of_type=DagsterEventType.STEP_FAILURE)
    (failure,) = failures  # not retried: retrying cannot help
    message = failure.dagster_event.step_failure_data.user_failure_data.description
    assert f"set ENERGY_SITE_SHARDS={platform_env.site_shards} again" in message
    assert lake.keys(c.STAGING_READINGS_PREFIX) == []  # nothing staged under the wrong count


def _stream_tick(instance: DagsterInstance, stats: DrainStats, lake: LakeView, k: int) -> list:
    """File k of a stream lands (an hour of readings of every site), its ingest runs, then one
    tick of staged_partitions_sensor: the jobs it requested, each with whether its run
    succeeded."""
    lake.put(f"raw/stream/{k}.jsonl", jsonl(readings(day(1) + k * HOUR, SITES, 6)))
    for request in ingest_tick(instance, stats):
        assert run_ingest(instance, request, stats)
    ran = [(str(r.job_name), run_day(instance, r, stats)) for r in day_requests(instance, stats)]
    return sorted(ran)  # run in the order requested (the run queue's), listed by job


def test_county_totals_and_analytics_keep_up_with_a_steady_stream_of_files(
    platform_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A new file every tick keeps rows of every shard staged: the day's county totals still
    get their turn once overdue (before the day's next shard runs), and analytics run beside
    the shard runs instead of waiting for a tick without one."""
    monkeypatch.setattr(sensors, "COUNTY_MAX_WAIT_SECONDS", 0)  # overdue from the next tick
    lake = LakeView(platform_env)
    date = day(1).strftime("%Y-%m-%d")
    with instance_for_test() as instance:
        stats = DrainStats()
        ticks = [[job for job, _ in _stream_tick(instance, stats, lake, k)] for k in range(4)]
        drain(instance, stats)
    shards = len(set(site_shards(pd.Series(SITES), platform_env.site_shards)))
    merge = ["daily_job"] * shards
    analyse = ["analytics_job"] * shards
    assert ticks == [merge, analyse + merge, ["county_job"], merge], ticks
    county = _county_totals_equal_to_their_partials(lake, date)
    assert len(county) == 4 * 6  # every file's windows
    assert stats.failed_runs == 0 and stats.failed_checks == []


def test_a_failing_county_run_does_not_hold_the_days_merges(
    platform_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Overdue county totals hold the day's shard runs back only until their run is requested:
    while it backs off from a failure the shards merge on, and once the cause is gone (here an
    unreadable object among the partials) the county run catches up with everything."""
    monkeypatch.setattr(sensors, "COUNTY_MAX_WAIT_SECONDS", 0)
    lake = LakeView(platform_env)
    date = day(1).strftime("%Y-%m-%d")
    broken = f"{c.day_prefix(c.GOLD_COUNTY_PARTIALS_PREFIX, date)}part-broken.parquet"
    with instance_for_test() as instance:
        stats = DrainStats()
        _stream_tick(instance, stats, lake, 0)
        lake.put(broken, b"not parquet")
        _stream_tick(instance, stats, lake, 1)
        assert _stream_tick(instance, stats, lake, 2) == [("county_job", False)]
        backing_off = _stream_tick(instance, stats, lake, 3)
        assert backing_off and all(job == "daily_job" and ok for job, ok in backing_off)
        lake.s3.delete_object(Bucket=platform_env.bucket, Key=broken)
        monkeypatch.setattr(sensors, "FAILED_DAY_BACKOFF_SECONDS", 0)
        drain(instance, stats)
    county = _county_totals_equal_to_their_partials(lake, date)
    assert len(county) == 4 * 6
    assert stats.failed_runs == 1 and stats.failed_checks == []
