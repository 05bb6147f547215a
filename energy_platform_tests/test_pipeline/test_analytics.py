"""Analytics through the real platform: six simulated days of six sites (three in each of two
counties, all in one site shard: the fewest peers a site is judged with) land in raw/, the
three judged days one at a time, with two planted faults; the sensors and runs yield
device_daily, the site baselines and exactly the planted sites' underperformance events, each
alerted once when it starts, even after a day delivered again late re-runs the analytics of
every day after it. Three days of history are the least a site is judged on."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from dagster import instance_for_test, materialize

from energy_platform import contract as c
from energy_platform.defs.assets.report import energy_report
from energy_platform.resources.s3 import LakeStorage
from energy_platform.settings import Settings
from energy_platform.tools.faults import Fault, FaultKind
from energy_platform.tools.simulate import (
    READING_INTERVAL_S,
    SimulationConfig,
    encode_batch,
    generate_batch,
)
from energy_platform.transforms.shards import site_shards
from energy_platform_tests.harness import DrainStats, drain, platform_defs
from energy_platform_tests.lake_view import LakeView
from energy_platform_tests.test_reliability.support import AlertInbox

pytestmark = pytest.mark.slow

FLEET = 200
COUNTIES = 10
"""Sites are dealt to the ten counties in turn: site-0001 in Doña Ana, site-0003 in St. Mary's."""
FIRST = datetime(2024, 6, 1, tzinfo=UTC)
DAYS = 6
HISTORY = 3


def _peers_in_one_shard(settings: Settings) -> list[str]:
    """Three Doña Ana and three St. Mary's sites, all in site-0001's shard."""
    ids = pd.Series([f"site-{n:04d}" for n in range(1, FLEET + 1)])
    shard = site_shards(ids, settings.site_shards)
    county = (ids.str[5:].astype(int) - 1) % COUNTIES
    same = shard == shard.iloc[0]
    return [*ids[same & (county == 0)][:3], *ids[same & (county == 2)][:3]]


def _upload_day(config: SimulationConfig, sites: list[str], n: int, name: str = "day") -> None:
    """Day `n`: the six sites' 288 readings each in one raw object."""
    records = generate_batch(config, n, FIRST + timedelta(days=n + 1, seconds=-1))
    extension, body = encode_batch(records.loc[records[c.SITE_ID].isin(sites)], "jsonl")
    LakeStorage().put_bytes(f"raw/analytics/{name}-{n}.{extension}", body)


def test_simulated_days_yield_device_stats_and_the_planted_underperformance(
    platform_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake, inbox = LakeView(platform_env), AlertInbox(platform_env)
    sites = _peers_in_one_shard(platform_env)
    faults = (
        Fault(FaultKind.DEAD_SITE, sites[3], FIRST + timedelta(days=HISTORY)),
        Fault(FaultKind.STEP_FAILURE, sites[1], FIRST + timedelta(days=HISTORY + 1), severity=0.5),
    )
    config = SimulationConfig(
        records=FLEET * 86_400 // READING_INTERVAL_S,
        sites=FLEET,
        fmt="jsonl",
        anomaly_rate=0.01,
        seed=21,
        faults=faults,
    )
    config = replace(config, start=FIRST)
    defs, stats = platform_defs(), DrainStats()
    with instance_for_test() as instance:
        for n in range(HISTORY):
            _upload_day(config, sites, n)
        drain(instance, stats, defs)
        for n in range(HISTORY, DAYS):  # the judged days in order, as they would arrive
            _upload_day(config, sites, n)
            drain(instance, stats, defs)
        judged = len(stats.partitions_of("analytics_job"))
        _upload_day(config, sites, 1, name="late")  # day 1 delivered again, after day 5
        drain(instance, stats, defs)
    assert stats.failed_runs == 0 and stats.failed_checks == []
    # The late day's analytics and those of every later day (their baselines read it) run again,
    # in date order, and recompute what they had: same events, no second alert below.
    (shard,) = set(site_shards(pd.Series(sites), platform_env.site_shards))
    days = [(FIRST + timedelta(days=n)).strftime("%Y-%m-%d") for n in range(1, DAYS)]
    assert stats.partitions_of("analytics_job")[judged:] == [f"{d}|{shard}" for d in days]

    devices = lake.parquet(c.GOLD_DEVICE_DAILY_PREFIX)
    silver = lake.parquet(c.SILVER_READINGS_PREFIX)
    clean = silver.loc[~silver[c.IS_ANOMALY]]
    keys = [silver[c.DEVICE_ID].fillna(silver[c.SITE_ID]), silver[c.TS].dt.strftime("%Y-%m-%d")]
    expected = (
        silver.assign(generated=clean[c.GENERATED])
        .groupby(keys)
        .agg(n=(c.SITE_ID, "size"), anomalous=(c.IS_ANOMALY, "sum"), generated=("generated", "sum"))
        .reset_index(names=["device_id", "date"])
    )
    got = devices.sort_values([c.DEVICE_ID, c.DATE], ignore_index=True)
    assert got[c.DEVICE_ID].tolist() == expected["device_id"].tolist()
    assert got[c.READING_COUNT].tolist() == expected["n"].tolist()
    assert got[c.ANOMALY_COUNT].tolist() == expected["anomalous"].tolist()
    assert got[c.GENERATED_SUM].to_numpy() == pytest.approx(expected["generated"].to_numpy())
    assert len(lake.items(c.DEVICE_DAILY_TABLE)) == len(devices)

    baseline = lake.parquet(c.GOLD_SITE_BASELINE_PREFIX)
    assert baseline[c.SITE_ID].nunique() == len(sites)

    events = lake.parquet(c.GOLD_UNDERPERFORMANCE_PREFIX)
    assert set(events[c.SITE_ID]) == {f.site_id for f in faults}
    for fault in faults:
        mine = events.loc[events[c.SITE_ID] == fault.site_id]
        assert mine[c.EVENT_START].nunique() == 1, mine  # one event across the days it spans
        assert mine[c.EVENT_START].min() >= fault.start
        assert mine[c.ENERGY_LOST].sum() > 0
    assert len(lake.items(c.UNDERPERFORMANCE_TABLE)) == len(events)

    alerts = [a for a in inbox.new() if a["kind"] == "underperformance"]
    alerted = sorted(e[c.SITE_ID] for a in alerts for e in a["events"])
    assert alerted == sorted(f.site_id for f in faults)  # once each, when the event starts

    monkeypatch.chdir(tmp_path)
    assert materialize([energy_report], resources={"lake": LakeStorage()}).success
    page = lake.get(c.REPORT_KEY).decode()
    ranked = page[page.index('id="energy-lost"') : page.index('id="device-daily"')]
    lost = events.groupby(c.SITE_ID)[c.ENERGY_LOST].sum().sort_values(ascending=False)
    assert [ranked.index(site) for site in lost.index] == sorted(
        ranked.index(site) for site in lost.index
    )
    assert all(
        device in page for device in devices.loc[devices[c.DATE] == "2024-06-06", c.DEVICE_ID]
    )
