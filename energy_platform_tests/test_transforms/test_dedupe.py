"""latest_readings: one reading per (site_id, ts), the latest delivery."""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_platform import contract as c
from energy_platform.transforms.dedupe import latest_readings, take_rows

from .helpers import DAY, readings


def test_redelivered_reading_replaces_not_doubles():
    df = readings(
        [
            {c.TS: DAY, c.GENERATED: 1.0, c.ARRIVAL: 1},
            {c.TS: DAY, c.GENERATED: 2.0, c.ARRIVAL: 2},
        ]
    )
    out = latest_readings(df)
    assert out[c.GENERATED].tolist() == [2.0]


def test_later_arrival_wins_regardless_of_input_order():
    df = readings(
        [
            {c.TS: DAY, c.GENERATED: 2.0, c.ARRIVAL: 2},
            {c.TS: DAY, c.GENERATED: 1.0, c.ARRIVAL: 1},
        ]
    )
    assert latest_readings(df)[c.GENERATED].tolist() == [2.0]


def test_same_arrival_ties_broken_by_source_key_then_line():
    df = readings(
        [
            {c.TS: DAY, c.GENERATED: 1.0, c.SOURCE_KEY: "raw/b", c.SOURCE_LINE: 1},
            {c.TS: DAY, c.GENERATED: 2.0, c.SOURCE_KEY: "raw/b", c.SOURCE_LINE: 9},
            {c.TS: DAY, c.GENERATED: 3.0, c.SOURCE_KEY: "raw/a", c.SOURCE_LINE: 99},
        ]
    )
    assert latest_readings(df)[c.GENERATED].tolist() == [2.0]


def test_distinct_readings_are_all_kept_sorted_by_site_and_ts():
    df = readings(
        [
            {c.SITE_ID: "b", c.TS: DAY},
            {c.SITE_ID: "a", c.TS: DAY.replace(hour=1)},
            {c.SITE_ID: "a", c.TS: DAY},
        ]
    )
    out = latest_readings(df)
    assert list(zip(out[c.SITE_ID], out[c.TS].dt.hour, strict=True)) == [
        ("a", 0),
        ("a", 1),
        ("b", 0),
    ]


def test_empty_input_gives_empty_output():
    assert latest_readings(readings([])).empty


def test_take_rows_on_threads_equals_iloc():
    rng = np.random.default_rng(0)
    n = 120_000
    df = pd.DataFrame(
        {
            c.SITE_ID: pd.array([f"s{i % 977}" for i in range(n)], dtype="str"),
            c.TS: pd.to_datetime(rng.integers(0, 10**9, n), unit="s", utc=True).as_unit("s"),
            c.DEVICE_ID: pd.array([None if i % 5 else "d" for i in range(n)], dtype="str"),
            c.GENERATED: rng.normal(size=n),
            c.IS_ANOMALY: rng.random(n) < 0.1,
            c.SOURCE_LINE: np.arange(n),
            "other": np.array(["x", 1] * (n // 2), dtype=object),
        },
        index=np.arange(n)[::-1],
    )
    rows = rng.permutation(n)[: n - 7]
    expected = df.iloc[rows].reset_index(drop=True)
    got = take_rows(df, rows)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert list(got.dtypes) == list(expected.dtypes)
