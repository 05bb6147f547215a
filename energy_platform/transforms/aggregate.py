"""Gold aggregates from readings with `is_anomaly`, with numpy group codes (no Python loops).

Counts count every reading; the energy sums, min and max use readings without anomalies only.
reconcile.py recomputes the same numbers independently in DuckDB SQL.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.transforms.frames import to_frame, to_table

_WINDOW_S = c.WINDOW_MINUTES * 60
_DAY_S = 86_400


def _epoch_seconds(ts: pd.Series) -> np.ndarray:
    seconds = pa.array(pd.to_datetime(ts, utc=True), from_pandas=True).cast(schemas.UTC_SECONDS)
    return seconds.cast(pa.int64()).to_numpy()


def _group(major: np.ndarray, minor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dense group id per row (hash-based, O(n)) and, per group, the index of its first row."""
    minor = minor - minor.min()
    combined = major.astype(np.int64) * (int(minor.max()) + 1) + minor
    group, uniques = pd.factorize(combined)
    first = np.empty(len(uniques), dtype=np.int64)
    first[group[::-1]] = np.arange(len(group) - 1, -1, -1)
    return group, first


def _sums(group: np.ndarray, groups: int, readings: pd.DataFrame) -> dict[str, np.ndarray]:
    clean = ~readings[c.IS_ANOMALY].to_numpy(dtype=bool)
    gen = np.where(clean, readings[c.GENERATED].to_numpy(dtype=float), 0.0)
    cons = np.where(clean, readings[c.CONSUMED].to_numpy(dtype=float), 0.0)
    net = np.where(clean, readings[c.NET].to_numpy(dtype=float), 0.0)
    return {
        c.READING_COUNT: np.bincount(group, minlength=groups).astype(np.int64),
        c.ANOMALY_COUNT: np.bincount(group, weights=~clean, minlength=groups).astype(np.int64),
        c.GENERATED_SUM: np.bincount(group, weights=gen, minlength=groups),
        c.CONSUMED_SUM: np.bincount(group, weights=cons, minlength=groups),
        c.NET: np.bincount(group, weights=net, minlength=groups),
    }


def _finish(frame: pd.DataFrame, schema: pa.Schema, keys: list[str]) -> pd.DataFrame:
    frame = frame.sort_values(keys, kind="stable").reset_index(drop=True)
    return to_frame(to_table(frame, schema))


def county_5min(readings: pd.DataFrame) -> pd.DataFrame:
    """Per county and 5-minute UTC window (schemas.COUNTY_5MIN), sorted by the key."""
    if readings.empty:
        return to_frame(schemas.COUNTY_5MIN.empty_table())
    county_code, counties = pd.factorize(readings[c.COUNTY])
    site_code, _ = pd.factorize(readings[c.SITE_ID])
    window = _epoch_seconds(readings[c.TS]) // _WINDOW_S * _WINDOW_S
    group, first = _group(county_code, window)
    groups = len(first)
    sums = _sums(group, groups, readings)
    # distinct sites per group: distinct (group, site) pairs, counted per group
    width = int(site_code.max()) + 1
    pairs = pd.unique(group.astype(np.int64) * width + site_code)
    site_count = np.bincount(pairs // width, minlength=groups).astype(np.int64)
    frame = pd.DataFrame(
        {
            c.COUNTY: np.asarray(counties, dtype=object)[county_code[first]],
            c.WINDOW_START: pd.to_datetime(window[first], unit="s", utc=True),
            c.READING_COUNT: sums[c.READING_COUNT],
            c.ANOMALY_COUNT: sums[c.ANOMALY_COUNT],
            c.SITE_COUNT: site_count,
            c.GENERATED_SUM: sums[c.GENERATED_SUM],
            c.CONSUMED_SUM: sums[c.CONSUMED_SUM],
            c.NET: sums[c.NET],
        }
    )
    return _finish(frame, schemas.COUNTY_5MIN, [c.COUNTY, c.WINDOW_START])


def site_daily(readings: pd.DataFrame) -> pd.DataFrame:
    """Per site and UTC date (schemas.SITE_DAILY), sorted by the key; min/max null when every
    reading of the day is anomalous."""
    if readings.empty:
        return to_frame(schemas.SITE_DAILY.empty_table())
    site_code, sites = pd.factorize(readings[c.SITE_ID])
    day = _epoch_seconds(readings[c.TS]) // _DAY_S
    group, first = _group(site_code, day)
    groups = len(first)
    sums = _sums(group, groups, readings)
    clean = ~readings[c.IS_ANOMALY].to_numpy(dtype=bool)
    net = np.where(clean, readings[c.NET].to_numpy(dtype=float), np.nan)
    by_group = pd.Series(net).groupby(group)
    days = day[first]
    frame = pd.DataFrame(
        {
            c.SITE_ID: np.asarray(sites, dtype=object)[site_code[first]],
            c.DATE: np.datetime_as_string(days.astype("datetime64[D]"), unit="D"),
            **sums,
            c.MIN_NET: by_group.min().reindex(range(groups)).to_numpy(),
            c.MAX_NET: by_group.max().reindex(range(groups)).to_numpy(),
        }
    )
    return _finish(frame, schemas.SITE_DAILY, [c.SITE_ID, c.DATE])
