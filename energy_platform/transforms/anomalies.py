"""Anomaly rules over one UTC day of de-duplicated readings (see docs/ANOMALIES.md).

Every rule is vectorized over all sites at once: readings are sorted by (site_id, ts), each
row knows the first and last row of its site, and windows are gathered with numpy indexing
clipped to the site's rows. A day's result depends only on that day's readings.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.transforms.dedupe import key_starts

MAD_TO_SIGMA = 1.4826
"""Scales the median absolute deviation to a standard deviation for normal noise."""


@dataclass(frozen=True)
class AnomalyParams:
    """Thresholds of the anomaly rules (defaults and reasons in docs/ANOMALIES.md)."""

    out_of_range_kwh: float = 1000.0
    device_flag_threshold: float = c.DEVICE_FLAG_THRESHOLD
    spike_half_window: int = 3
    """Hampel window: this many readings either side (7 readings = 30 min at 5-min cadence)."""
    spike_mad_k: float = 6.0
    """How many robust standard deviations (1.4826 * MAD) from the window median is a spike."""
    spike_min_abs_kwh: float = 0.2
    """A spike also differs from the window median by at least this much (kWh)."""
    spike_min_rel: float = 1.0
    """... and by at least this fraction of the median's magnitude (1.0: double or more)."""
    spike_min_site_readings: int = 5
    """Sites with fewer readings that day are not judged for spikes."""
    stuck_min_run: int = 6
    """This many consecutive readings of a site with the same non-zero value is stuck."""


def _ordered(readings: pd.DataFrame) -> pd.DataFrame:
    """Readings sorted by (site_id, ts) with a fresh index (no copy when already sorted)."""
    if len(readings) < 2:
        return readings.reset_index(drop=True)
    keys = pa.Table.from_pandas(readings[[c.SITE_ID, c.TS]], preserve_index=False)
    site, ts = keys.column(0), keys.column(1)
    n = keys.num_rows
    site_lt = pc.less(site.slice(1), site.slice(0, n - 1))
    site_eq = pc.equal(site.slice(1), site.slice(0, n - 1))
    ts_lt = pc.less(ts.slice(1), ts.slice(0, n - 1))
    unsorted = pc.or_(site_lt, pc.and_(site_eq, ts_lt))
    if not pc.any(unsorted).as_py():
        return readings.reset_index(drop=True)
    order = pc.sort_indices(keys, sort_keys=[(c.SITE_ID, "ascending"), (c.TS, "ascending")])
    return readings.iloc[order.to_numpy()].reset_index(drop=True)


def _site_bounds(site_ids: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted by site: index of the first and of the last row of each row's site."""
    n = len(site_ids)
    starts = key_starts(pa.table({"s": pa.array(site_ids, from_pandas=True)}))
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    ends = np.empty(n, dtype=bool)
    ends[:-1] = starts[1:]
    ends[-1] = True
    last = np.minimum.accumulate(np.where(ends, np.arange(n), n - 1)[::-1])[::-1]
    return first, last


def hampel_spikes(
    values: np.ndarray, first: np.ndarray, last: np.ndarray, params: AnomalyParams
) -> np.ndarray:
    """True where a value is far from its site's centered rolling median (Hampel filter).

    The window is clipped at the site's first and last reading (edge values repeat), so a
    day's first and last readings are judged conservatively.
    """
    n = len(values)
    h = params.spike_half_window
    if n == 0:
        return np.zeros(0, dtype=bool)
    window = _windows(values, first, last, h)
    median, mad = _median_and_mad(window, h)
    deviation = np.abs(values - median)
    threshold = np.maximum.reduce(
        [
            params.spike_mad_k * MAD_TO_SIGMA * mad,
            np.full(n, params.spike_min_abs_kwh),
            params.spike_min_rel * np.abs(median),
        ]
    )
    enough = (last - first + 1) >= params.spike_min_site_readings
    return enough & (deviation > threshold)


def _windows(values: np.ndarray, first: np.ndarray, last: np.ndarray, h: int) -> np.ndarray:
    """(n, 2h+1): each row's centered window, indices clipped to its site's rows; gathered one
    offset (column) at a time, so no (n, 2h+1) index array is built."""
    n = len(values)
    rows = np.arange(n)
    window = np.empty((n, 2 * h + 1), dtype=values.dtype)
    for k in range(-h, h + 1):
        window[:, k + h] = values[np.clip(rows + k, first, last)]
    return window


def _median_and_mad(window: np.ndarray, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row: median of the 2h+1 values and median absolute deviation from it.

    An odd-sized window's median is its middle value once sorted, which is exactly what
    np.median returns; sorting short rows in place is several times faster than np.median's
    partition. With NaN or infinity anywhere np.median's NaN rules apply, so it is used then.
    `window` is overwritten.
    """
    if window.size == 0:
        empty = np.zeros(len(window), dtype=float)
        return empty, empty.copy()
    if not (np.isfinite(window.min()) and np.isfinite(window.max())):
        median = np.median(window, axis=1)
        return median, np.median(np.abs(window - median[:, None]), axis=1)
    window = window.copy() if not window.flags.writeable else window
    window.sort(axis=1)  # in place: no second (n, 2h+1) array
    median = window[:, h].copy()
    np.subtract(window, median[:, None], out=window)
    np.abs(window, out=window)
    window.sort(axis=1)
    return median, window[:, h].copy()


def stuck_runs(values: np.ndarray, site_starts: np.ndarray, min_run: int) -> np.ndarray:
    """True for readings in a run of >= min_run equal non-zero values of one site."""
    n = len(values)
    if n == 0:
        return np.zeros(0, dtype=bool)
    new_run = site_starts.copy()
    new_run[1:] |= values[1:] != values[:-1]
    run_id = np.cumsum(new_run) - 1
    run_length = np.bincount(run_id)[run_id]
    return (run_length >= min_run) & (values != 0) & np.isfinite(values)


def _fmt(values: pd.Series) -> pd.Series:
    return values.map("{:.6g}".format)


def detect_anomalies(
    readings: pd.DataFrame, params: AnomalyParams = AnomalyParams()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(readings with is_anomaly, schemas.READINGS), (anomalies, schemas.ANOMALIES).

    Input: de-duplicated readings of one UTC day (STAGED_READINGS or READINGS columns).
    Both outputs are sorted: readings by (site_id, ts), anomalies by (site_id, ts, type).
    """
    df = _ordered(readings)
    gen = df[c.GENERATED].to_numpy(dtype=float)
    cons = df[c.CONSUMED].to_numpy(dtype=float)
    score = df[c.ANOMALY_SCORE].to_numpy(dtype=float, na_value=np.nan)
    n = len(df)
    if n:
        first, last = _site_bounds(df[c.SITE_ID])
        site_starts = first == np.arange(n)
    else:
        first = last = np.zeros(0, dtype=np.int64)
        site_starts = np.zeros(0, dtype=bool)

    gen_spike = hampel_spikes(gen, first, last, params)
    cons_spike = hampel_spikes(cons, first, last, params)
    gen_stuck = stuck_runs(gen, site_starts, params.stuck_min_run)
    cons_stuck = stuck_runs(cons, site_starts, params.stuck_min_run)
    limit = params.out_of_range_kwh

    rules: list[tuple[str, np.ndarray, Callable[[pd.DataFrame, np.ndarray], pd.Series]]] = [
        (
            c.AnomalyType.NEGATIVE_VALUE,
            (gen < 0) | (cons < 0),
            lambda s, m: _which(s, m, gen < 0, cons < 0, "{} = {} < 0"),
        ),
        (
            c.AnomalyType.DEVICE_FLAGGED,
            np.nan_to_num(score, nan=-1.0) > params.device_flag_threshold,
            lambda s, m: (
                f"{c.ANOMALY_SCORE} = "
                + _fmt(s[c.ANOMALY_SCORE])
                + f" > {params.device_flag_threshold:g}"
            ),
        ),
        (
            c.AnomalyType.OUT_OF_RANGE,
            (gen > limit) | (cons > limit),
            lambda s, m: _which(s, m, gen > limit, cons > limit, "{} = {} > " + f"{limit:g}"),
        ),
        (
            c.AnomalyType.SPIKE,
            gen_spike | cons_spike,
            lambda s, m: _which(
                s,
                m,
                gen_spike,
                cons_spike,
                "{} = {}, far from the site's median of the "
                + f"{2 * params.spike_half_window + 1} readings around it",
            ),
        ),
        (
            c.AnomalyType.STUCK_SENSOR,
            gen_stuck | cons_stuck,
            lambda s, m: _which(
                s,
                m,
                gen_stuck,
                cons_stuck,
                "{} = {} repeated for " + f">= {params.stuck_min_run} consecutive readings",
            ),
        ),
    ]
    is_anomaly = np.zeros(n, dtype=bool)
    parts = []
    for anomaly_type, mask, describe in rules:
        is_anomaly |= mask
        if mask.any():
            sub = df.loc[mask, [c.SITE_ID, c.TS, c.COUNTY, c.GENERATED, c.CONSUMED, c.NET]]
            sub = sub.assign(
                **{c.ANOMALY_TYPE: anomaly_type, c.DETAIL: describe(df.loc[mask], mask)}
            )
            parts.append(sub)

    out = df.copy()
    out[c.IS_ANOMALY] = is_anomaly
    out = out[schemas.READINGS.names]
    return out, _anomaly_frame(parts)


def _which(
    sub: pd.DataFrame, mask: np.ndarray, on_gen: np.ndarray, on_cons: np.ndarray, template: str
) -> pd.Series:
    """Detail naming the value(s) that broke the rule: generated first, then consumed."""
    gen_text = template.format(c.GENERATED, "\0")
    cons_text = template.format(c.CONSUMED, "\0")
    g_hit, c_hit = on_gen[mask], on_cons[mask]
    left = gen_text.split("\0")
    right = cons_text.split("\0")
    gen_part = left[0] + _fmt(sub[c.GENERATED]) + left[1]
    cons_part = right[0] + _fmt(sub[c.CONSUMED]) + right[1]
    both = gen_part + "; " + cons_part
    return pd.Series(
        np.where(g_hit & c_hit, both, np.where(g_hit, gen_part, cons_part)), index=sub.index
    )


def _anomaly_frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    if not parts:
        table = schemas.ANOMALIES.empty_table()
        return table.to_pandas()
    frame = pd.concat(parts, ignore_index=True)
    ts = pa.array(frame[c.TS], from_pandas=True)
    ts_text = pc.strftime(ts.cast(schemas.UTC_SECONDS), format=c.TS_FORMAT)
    frame[c.TS_TYPE] = (
        pd.Series(ts_text.to_numpy(zero_copy_only=False)) + "#" + frame[c.ANOMALY_TYPE].to_numpy()
    )
    frame = frame.sort_values([c.SITE_ID, c.TS, c.ANOMALY_TYPE], kind="stable")
    return frame[schemas.ANOMALIES.names].reset_index(drop=True)
