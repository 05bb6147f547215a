"""county_5min and site_daily, checked by hand and against the SQL recomputation."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.transforms.aggregate import county_5min, site_daily
from energy_platform.transforms.reconcile import diff_frames, recompute_aggregates_sql

from .helpers import DAY, readings


def test_window_start_floors_to_five_minutes():
    df = readings([{c.TS: DAY + pd.Timedelta(minutes=7, seconds=30)}])
    assert county_5min(df)[c.WINDOW_START].iloc[0] == DAY + pd.Timedelta(minutes=5)


def test_sums_exclude_anomalies_but_counts_include_them():
    df = readings(
        [
            {c.SITE_ID: "a", c.TS: DAY, c.GENERATED: 2.0, c.CONSUMED: 0.5},
            {c.SITE_ID: "b", c.TS: DAY, c.GENERATED: 900.0, c.IS_ANOMALY: True},
        ]
    )
    row = county_5min(df).iloc[0]
    assert (row[c.READING_COUNT], row[c.ANOMALY_COUNT], row[c.SITE_COUNT]) == (2, 1, 2)
    assert (row[c.GENERATED_SUM], row[c.NET]) == (2.0, 1.5)


def test_all_anomalous_window_sums_to_zero():
    df = readings([{c.IS_ANOMALY: True}])
    assert county_5min(df)[c.GENERATED_SUM].tolist() == [0.0]


def test_site_daily_min_max_null_when_every_reading_is_anomalous():
    row = site_daily(readings([{c.IS_ANOMALY: True}])).iloc[0]
    assert pd.isna(row[c.MIN_NET]) and pd.isna(row[c.MAX_NET])


def test_site_daily_date_is_utc_date():
    df = readings([{c.TS: pd.Timestamp("2024-06-01T23:59:59Z")}])
    assert site_daily(df)[c.DATE].tolist() == ["2024-06-01"]


def test_columns_are_the_schemas():
    df = readings([{}])
    assert list(county_5min(df).columns) == schemas.COUNTY_5MIN.names
    assert list(site_daily(df).columns) == schemas.SITE_DAILY.names


def test_empty_readings_give_empty_aggregates():
    assert county_5min(readings([])).empty and site_daily(readings([])).empty


@st.composite
def random_readings(draw):
    n = draw(st.integers(1, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rows = [
        {
            c.SITE_ID: f"s{rng.integers(0, 5)}",
            c.COUNTY: ["Kern", "Inyo", "Mono"][rng.integers(0, 3)],
            c.TS: DAY + pd.Timedelta(seconds=int(rng.integers(0, 2 * 86400))),
            c.GENERATED: float(rng.normal(1, 2)),
            c.CONSUMED: float(rng.normal(1, 2)),
            c.IS_ANOMALY: bool(rng.random() < 0.3),
        }
        for _ in range(n)
    ]
    return readings(rows).drop_duplicates([c.SITE_ID, c.TS])


@settings(max_examples=20, deadline=None)
@given(random_readings())
def test_aggregates_equal_sql_recomputation(df):
    sql_county, sql_daily = recompute_aggregates_sql(df)
    assert diff_frames(sql_county, county_5min(df), [c.COUNTY, c.WINDOW_START]).empty
    assert diff_frames(sql_daily, site_daily(df), [c.SITE_ID, c.DATE]).empty
