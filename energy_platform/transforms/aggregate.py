"""Gold aggregates from readings with `is_anomaly`, with numpy group codes (no Python loops).

Counts count every reading; the energy sums, min and max use readings without anomalies only.
reconcile.py recomputes the same numbers independently in DuckDB SQL.

Readings usually come sorted by (site_id, ts) (detect_anomalies' output): ids then come in
runs, and each site's days and windows are contiguous, which the fast paths use; any other
order takes the general (hashing) paths with the same results.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.transforms.frames import string_array, to_frame, to_table

_WINDOW_S = c.WINDOW_MINUTES * 60
_DAY_S = 86_400


def _epoch_seconds(ts: pd.Series) -> np.ndarray:
    """UTC epoch seconds per row (read-only: may be a view of `ts`)."""
    values = ts.array
    if isinstance(values, pd.arrays.DatetimeArray) and values.unit == "s" and not ts.hasnans:
        return values.asi8
    seconds = pa.array(pd.to_datetime(ts, utc=True), from_pandas=True).cast(schemas.UTC_SECONDS)
    return seconds.cast(pa.int64()).to_numpy()


def _factorize(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """pd.factorize(values); when equal values come in long runs (ids of sorted readings), only
    the first value of each run is factorized."""
    if len(values) == 0 or getattr(values.dtype, "storage", None) != "pyarrow":
        return pd.factorize(values)
    array = string_array(values)
    if array is None:
        return pd.factorize(values)
    ends = pc.run_end_encode(array).run_ends.to_numpy()
    if len(ends) > len(values) // 8:
        return pd.factorize(values)
    starts = np.concatenate([[0], ends[:-1]])
    codes, uniques = pd.factorize(values.take(starts))
    return np.repeat(codes, ends - starts), uniques


def _group(major: np.ndarray, minor: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dense group id per row, and each group's major and minor value. Ids follow (major,
    minor) order when the key range is small (marked in a bitmap), else first appearance
    (hashing). `major` (int64) is overwritten."""
    major_low, low = int(major.min()), int(minor.min())
    width = int(minor.max()) - low + 1
    size = (int(major.max()) - major_low + 1) * width
    combined = np.subtract(major, major_low, out=major.astype(np.int64, copy=False))
    combined *= width
    combined += minor
    combined -= low
    if size <= 2 * len(combined) + 4096:
        present = np.zeros(size, dtype=bool)
        present[combined] = True
        keys = np.flatnonzero(present)
        rank = np.empty(size, dtype=np.int64)
        rank[keys] = np.arange(len(keys))
        group = rank[combined]
    else:
        group, keys = pd.factorize(combined)
    return group, keys // width + major_low, keys % width + low


def _sums(
    group: np.ndarray, groups: int, readings: pd.DataFrame, anomalous: np.ndarray
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Counts and sums per group, and the net values with NaN for anomalous readings."""
    clean = ~anomalous
    values = np.where(anomalous, 0.0, readings[c.GENERATED].to_numpy(dtype=float))
    sums = {
        c.READING_COUNT: np.bincount(group, minlength=groups).astype(np.int64),
        c.ANOMALY_COUNT: np.bincount(group[anomalous], minlength=groups).astype(np.int64),
        c.GENERATED_SUM: np.bincount(group, weights=values, minlength=groups),
    }
    np.copyto(values, readings[c.CONSUMED].to_numpy(dtype=float), where=clean)
    sums[c.CONSUMED_SUM] = np.bincount(group, weights=values, minlength=groups)
    np.copyto(values, readings[c.NET].to_numpy(dtype=float), where=clean)
    sums[c.NET] = np.bincount(group, weights=values, minlength=groups)
    np.copyto(values, np.nan, where=anomalous)
    return sums, values


def _finish(frame: pd.DataFrame, schema: pa.Schema, keys: list[str]) -> pd.DataFrame:
    frame = frame.sort_values(keys, kind="stable").reset_index(drop=True)
    return to_frame(to_table(frame, schema))


def county_5min(readings: pd.DataFrame) -> pd.DataFrame:
    """Per county and 5-minute UTC window (schemas.COUNTY_5MIN), sorted by the key."""
    if readings.empty:
        return to_frame(schemas.COUNTY_5MIN.empty_table())
    county_code, counties = _factorize(readings[c.COUNTY])
    window = _epoch_seconds(readings[c.TS]) // _WINDOW_S
    group, group_window, group_county = _group(window, county_code)
    del county_code, window  # few row-sized arrays alive at once: less fresh memory
    groups = len(group_county)
    anomalous = readings[c.IS_ANOMALY].to_numpy(dtype=bool)
    sums, _ = _sums(group, groups, readings, anomalous)
    site_count = _distinct_sites(group, groups, _factorize(readings[c.SITE_ID])[0])
    frame = pd.DataFrame(
        {
            c.COUNTY: np.asarray(counties, dtype=object)[group_county],
            c.WINDOW_START: pd.to_datetime(group_window * _WINDOW_S, unit="s", utc=True),
            c.READING_COUNT: sums[c.READING_COUNT],
            c.ANOMALY_COUNT: sums[c.ANOMALY_COUNT],
            c.SITE_COUNT: site_count,
            c.GENERATED_SUM: sums[c.GENERATED_SUM],
            c.CONSUMED_SUM: sums[c.CONSUMED_SUM],
            c.NET: sums[c.NET],
        }
    )
    return _finish(frame, schemas.COUNTY_5MIN, [c.COUNTY, c.WINDOW_START])


COUNTY_SUMS = (
    c.READING_COUNT,
    c.ANOMALY_COUNT,
    c.SITE_COUNT,
    c.GENERATED_SUM,
    c.CONSUMED_SUM,
    c.NET,
)


def combine_county_5min(partials: pd.DataFrame) -> pd.DataFrame:
    """The day's county_5min from its site shards' county_5min: every column is a sum, and
    `site_count` too, since each site is in exactly one shard."""
    if partials.empty:
        return to_frame(schemas.COUNTY_5MIN.empty_table())
    keys = [c.COUNTY, c.WINDOW_START]
    summed = partials.groupby(keys, sort=False, as_index=False)[list(COUNTY_SUMS)].sum()
    return _finish(summed, schemas.COUNTY_5MIN, keys)


def _distinct_sites(group: np.ndarray, groups: int, site_code: np.ndarray) -> np.ndarray:
    """Distinct sites per group: each run of one (site, group) when the rows are sorted by
    (site, group) (readings sorted by site and ts, groups numbered by window first), else each
    distinct (site, group) pair found by hashing. `site_code` is overwritten."""
    known = site_code.min() >= 0
    pair = np.multiply(site_code, groups, out=site_code)
    pair += group
    if known and (pair[1:] >= pair[:-1]).all():
        first = np.flatnonzero(pair[1:] != pair[:-1]) + 1
        return np.bincount(group[first], minlength=groups) + np.bincount(
            group[:1], minlength=groups
        )
    site_code = pair // groups
    width = int(site_code.max()) + 1
    pairs = pd.unique(group.astype(np.int64) * width + site_code)
    return np.bincount(pairs // width, minlength=groups).astype(np.int64)


def site_daily(readings: pd.DataFrame) -> pd.DataFrame:
    """Per site and UTC date (schemas.SITE_DAILY), sorted by the key; min/max null when every
    reading of the day is anomalous."""
    if readings.empty:
        return to_frame(schemas.SITE_DAILY.empty_table())
    site_code, sites = _factorize(readings[c.SITE_ID])
    day = _epoch_seconds(readings[c.TS]) // _DAY_S
    group, group_site, days = _group(site_code, day)
    groups = len(group_site)
    anomalous = readings[c.IS_ANOMALY].to_numpy(dtype=bool)
    sums, net = _sums(group, groups, readings, anomalous)
    low, high = _min_max(net, group, groups)
    frame = pd.DataFrame(
        {
            c.SITE_ID: np.asarray(sites, dtype=object)[group_site],
            c.DATE: np.datetime_as_string(days.astype("datetime64[D]"), unit="D"),
            **sums,
            c.MIN_NET: low,
            c.MAX_NET: high,
        }
    )
    return _finish(frame, schemas.SITE_DAILY, [c.SITE_ID, c.DATE])


def _min_max(values: np.ndarray, group: np.ndarray, groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Per group min and max skipping NaN (NaN when all are), as pandas' groupby. Contiguous
    groups reduce their runs; a tie of 0.0 and -0.0 (which pandas breaks its own way) or
    scattered groups go through pandas."""
    first = np.flatnonzero(group[1:] != group[:-1]) + 1
    contiguous = len(first) == groups - 1 and (group[first] > group[first - 1]).all()
    if contiguous and not np.signbit(values[values == 0]).any():
        starts = np.concatenate([[0], first])
        return np.fmin.reduceat(values, starts), np.fmax.reduceat(values, starts)
    by_group = pd.Series(values).groupby(group)
    return (
        by_group.min().reindex(range(groups)).to_numpy(),
        by_group.max().reindex(range(groups)).to_numpy(),
    )
