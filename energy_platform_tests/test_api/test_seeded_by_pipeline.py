"""The data the API tests read was written by the real pipeline, and it is what they assume:
the input readings unchanged, the contract's anomalies (plus the statistical ones the pipeline
legitimately adds), aggregates equal to a recomputation, names with apostrophes and accents."""

from __future__ import annotations

import boto3
import pandas as pd
import pytest

from energy_platform import contract as c
from energy_platform.settings import Settings
from energy_platform_tests.test_api.seeding import (
    SEED_DAYS,
    SITES_BY_COUNTY,
    SeededTables,
    clean_sums,
    rule_anomalies,
)

DAYS = ["2024-06-01", "2024-06-02"]
STATISTICAL = {c.AnomalyType.SPIKE, c.AnomalyType.STUCK_SENSOR}


def test_every_table_was_filled_by_real_runs(seeded: SeededTables, api_settings: Settings) -> None:
    stats = seeded.stats
    assert stats is not None
    assert len(stats.ingest_runs) >= 1
    assert stats.days_merged == DAYS == sorted(seeded.readings.ts.str[:10].unique())
    assert stats.failed_runs == 0 and stats.failed_checks == []
    assert {name for _, name, _ in stats.check_results} >= {
        "county_5min_reconciles",
        "site_daily_reconciles",
    }
    s3 = boto3.client("s3", region_name=api_settings.region)
    listed = s3.list_objects_v2(Bucket=api_settings.bucket)
    keys = {o["Key"] for o in listed.get("Contents", [])}
    assert set(seeded.raw_keys) <= keys
    assert not any(k.startswith((c.QUARANTINE_PREFIX, c.STAGING_READINGS_PREFIX)) for k in keys)
    for d in DAYS:
        assert any(k.startswith(c.day_prefix(c.SILVER_READINGS_PREFIX, d)) for k in keys)


def test_readings_are_the_input_unchanged(seeded: SeededTables) -> None:
    inputs = seeded.inputs
    assert inputs is not None
    want = inputs.assign(ts=inputs.ts.dt.strftime(c.TS_FORMAT))
    cols = [c.SITE_ID, c.TS, c.COUNTY, c.GENERATED, c.CONSUMED, c.DEVICE_ID]
    want = want[cols].sort_values([c.SITE_ID, c.TS], ignore_index=True)
    got = seeded.readings[cols]
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    r = seeded.readings
    assert r[c.NET].to_numpy() == pytest.approx((r[c.GENERATED] - r[c.CONSUMED]).to_numpy())
    assert (r.groupby([c.SITE_ID, r.ts.str[:10]]).size() == 288).all()
    assert len(r) == len(SITES_BY_COUNTY) * SEED_DAYS * 288
    assert set(r.county) == {"O'Brien", "Doña Ana", "St. Mary's Parish"}


def test_anomalies_hold_every_contract_rule_hit_and_only_statistical_extras(
    seeded: SeededTables,
) -> None:
    a = seeded.anomalies
    got = set(a[[c.SITE_ID, c.TS, c.ANOMALY_TYPE, c.ANOMALY_DATE]].itertuples(index=False))
    want = set(rule_anomalies(seeded.inputs).itertuples(index=False))
    assert want <= got
    assert {t for *_, t, _ in got - want} <= STATISTICAL
    assert (a[c.TS_TYPE] == a[c.TS] + "#" + a[c.ANOMALY_TYPE]).all()
    assert (a[c.ANOMALY_DATE] == a[c.TS].str[:10]).all()
    for day in DAYS:  # each day has anomalies of every contract type
        kinds = set(a[a.date == day].anomaly_type)
        assert {
            c.AnomalyType.NEGATIVE_VALUE,
            c.AnomalyType.DEVICE_FLAGGED,
            c.AnomalyType.OUT_OF_RANGE,
        } <= kinds
    r = seeded.readings
    flagged = set(zip(a.site_id, a.ts, strict=True))
    assert r.is_anomaly.tolist() == [k in flagged for k in zip(r.site_id, r.ts, strict=True)]


def test_aggregates_equal_a_recomputation_from_the_readings(seeded: SeededTables) -> None:
    r = seeded.readings.assign(ts_dt=pd.to_datetime(seeded.readings.ts))
    by_window = r.assign(window_start=r.ts_dt.dt.floor("5min").dt.strftime(c.TS_FORMAT))
    county = clean_sums(by_window, [c.COUNTY, c.WINDOW_START])
    got = seeded.county_5min.sort_values([c.COUNTY, c.WINDOW_START], ignore_index=True)
    assert (
        got[[c.COUNTY, c.WINDOW_START, c.READING_COUNT, c.ANOMALY_COUNT, c.SITE_COUNT]]
        .astype(str)
        .values.tolist()
        == county[[c.COUNTY, c.WINDOW_START, c.READING_COUNT, c.ANOMALY_COUNT, c.SITE_COUNT]]
        .astype(str)
        .values.tolist()
    )
    for col in (c.GENERATED_SUM, c.CONSUMED_SUM, c.NET):
        assert got[col].to_numpy() == pytest.approx(county[col].to_numpy())

    daily = clean_sums(r.assign(date=r.ts.str[:10]), [c.SITE_ID, c.DATE])
    got = seeded.site_daily.sort_values([c.SITE_ID, c.DATE], ignore_index=True)
    assert (
        got[[c.SITE_ID, c.DATE, c.READING_COUNT, c.ANOMALY_COUNT]].values.tolist()
        == daily[[c.SITE_ID, c.DATE, c.READING_COUNT, c.ANOMALY_COUNT]].values.tolist()
    )
    for col in (c.GENERATED_SUM, c.CONSUMED_SUM, c.NET, c.MIN_NET, c.MAX_NET):
        assert got[col].to_numpy() == pytest.approx(daily[col].to_numpy())
