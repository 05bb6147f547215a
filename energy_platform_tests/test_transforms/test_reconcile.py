"""recompute_aggregates_sql and diff_frames."""

from __future__ import annotations

import pyarrow as pa

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.transforms.aggregate import county_5min
from energy_platform.transforms.frames import to_table
from energy_platform.transforms.reconcile import diff_frames, recompute_aggregates_sql

from .helpers import readings

KEYS = [c.COUNTY, c.WINDOW_START]


def test_accepts_an_arrow_table():
    table = to_table(readings([{}]), schemas.READINGS)
    county, daily = recompute_aggregates_sql(table)
    assert list(county.columns) == schemas.COUNTY_5MIN.names
    assert list(daily.columns) == schemas.SITE_DAILY.names


def test_diff_is_empty_when_equal():
    df = county_5min(readings([{}, {}]))
    assert diff_frames(df, df.copy(), KEYS).empty


def test_diff_reports_missing_and_extra_rows():
    df = county_5min(readings([{}, {}]))
    problems = diff_frames(df, df.iloc[1:], KEYS)["problem"].tolist()
    assert problems == ["missing"]
    assert diff_frames(df.iloc[1:], df, KEYS)["problem"].tolist() == ["extra"]


def test_diff_reports_the_differing_column():
    df = county_5min(readings([{}]))
    other = df.copy()
    other[c.NET] = other[c.NET] + 0.5
    problems = diff_frames(df, other, KEYS)["problem"].tolist()
    assert len(problems) == 1 and problems[0].startswith(f"{c.NET}: expected")


def test_diff_tolerates_float_rounding():
    df = county_5min(readings([{}]))
    other = df.copy()
    other[c.NET] = other[c.NET] * (1 + 1e-12)
    assert diff_frames(df, other, KEYS).empty


def test_frames_round_trip_keeps_schema():
    table = to_table(readings([{}]), schemas.READINGS)
    assert table.schema.equals(schemas.READINGS)
    from energy_platform.transforms.frames import to_frame

    assert to_table(to_frame(table), schemas.READINGS).equals(table)
    assert isinstance(table, pa.Table)
