"""Anomaly rules over one UTC day of de-duplicated readings (see docs/ANOMALIES.md).

Every rule is vectorized over all sites at once: readings are sorted by (site_id, ts), each
site is a run of rows, and a window column is the values shifted by an offset, clipped to
the site's rows. A day's result depends only on that day's readings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.transforms.dedupe import key_starts
from energy_platform.transforms.frames import string_array

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
    """For rows sorted by site: start and end (exclusive) row of each site, in row order."""
    if len(site_ids) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(key_starts(pa.table({"s": pa.array(site_ids, from_pandas=True)})))
    return starts, np.append(starts[1:], len(site_ids))


def _sorted_site_runs(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """Start and end (exclusive) row of each site when `df` is sorted by (site_id, ts) and has
    no null key, else None. One run-end encoding of the ids finds the sites; they are sorted
    when the runs' ids strictly increase (byte order, as Arrow) and ts only falls where a
    site begins."""
    ts = df[c.TS].array
    if not isinstance(ts, pd.arrays.DatetimeArray) or ts.isna().any():
        return None
    site = string_array(df[c.SITE_ID])
    if site is None or site.null_count or len(site) == 0:
        return None
    runs = pc.run_end_encode(site)
    ids, m = runs.values, len(runs.values)
    if m > 1 and pc.any(pc.less_equal(ids.slice(1), ids.slice(0, m - 1))).as_py():
        return None
    ends = runs.run_ends.to_numpy().astype(np.int64)
    starts = np.concatenate([[0], ends[:-1]])
    seconds = ts.asi8
    falls = np.flatnonzero(seconds[1:] < seconds[:-1]) + 1
    if not np.isin(falls, starts, assume_unique=True).all():
        return None
    return starts, ends


def hampel_spikes(
    values: np.ndarray, starts: np.ndarray, ends: np.ndarray, params: AnomalyParams
) -> np.ndarray:
    """True where a value is far from its site's centered rolling median (Hampel filter).

    `starts`/`ends` (exclusive) bound each site's rows. The window is clipped at the site's
    first and last reading (edge values repeat), so a day's first and last readings are
    judged conservatively. The usual 7-wide window of finite values goes through a sorting
    network block by block (cache-sized arrays); other windows sort (n, 2h+1) rows.
    """
    n = len(values)
    h = params.spike_half_window
    sizes = ends - starts
    spike = np.repeat(sizes >= params.spike_min_site_readings, sizes)
    if n == 0:
        return spike
    if h == 3 and np.isfinite(values.min()) and np.isfinite(values.max()):
        edges = [_edge_fixes(values, k, starts, ends) for k in range(-h, h + 1)]
        buffers = [np.empty(min(n, _BLOCK)) for _ in range(2 * h + 1)]
        for a in range(0, n, _BLOCK):
            b = min(a + _BLOCK, n)
            cols = [
                _shifted(values, k, a, b, edge, out[: b - a])
                for k, edge, out in zip(range(-h, h + 1), edges, buffers, strict=True)
            ]
            median, mad = _median_and_mad_7(cols)
            spike[a:b] &= _far(values[a:b], median, mad, params)
        return spike
    window = np.empty((n, 2 * h + 1), dtype=values.dtype)
    for k in range(-h, h + 1):
        _shifted(values, k, 0, n, _edge_fixes(values, k, starts, ends), window[:, k + h])
    spike &= _far(values, *_median_and_mad(window, h), params)
    return spike


_BLOCK = 1 << 16
"""Rows per block of the sorting network: its 8 arrays stay in the CPU caches."""


def _far(
    values: np.ndarray, median: np.ndarray, mad: np.ndarray, params: AnomalyParams
) -> np.ndarray:
    """|value - median| above all of k * 1.4826 * MAD, the minimum and the relative margin.
    `median` and `mad` are overwritten."""
    threshold = np.multiply(mad, params.spike_mad_k * MAD_TO_SIGMA, out=mad)
    np.maximum(threshold, params.spike_min_abs_kwh, out=threshold)
    deviation = np.subtract(values, median)
    np.abs(deviation, out=deviation)
    np.abs(median, out=median)
    np.maximum(threshold, np.multiply(median, params.spike_min_rel, out=median), out=threshold)
    return deviation > threshold


def _edge_fixes(
    values: np.ndarray, k: int, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Ascending rows i whose i + k leaves i's site, and the site's edge value each gets."""
    if k >= 0:
        edge, rows = ends - 1, ends[:, None] - k + np.arange(k)  # each site's last k rows
        keep = rows >= starts[:, None]
    else:
        edge, rows = starts, starts[:, None] + np.arange(-k)  # each site's first -k rows
        keep = rows < ends[:, None]
    return rows[keep], np.broadcast_to(values[edge][:, None], rows.shape)[keep]


def _shifted(
    values: np.ndarray,
    k: int,
    a: int,
    b: int,
    edge: tuple[np.ndarray, np.ndarray],
    out: np.ndarray,
) -> np.ndarray:
    """Rows a..b-1 of the window column at offset k: values[i + k], the index clipped to
    the rows of i's site (`edge` = `_edge_fixes(values, k, ...)`)."""
    lo = max(a + k, 0)
    hi = max(min(b + k, len(values)), lo)
    out[lo - a - k : hi - a - k] = values[lo:hi]
    rows, fixed = edge
    i, j = np.searchsorted(rows, (a, b))
    out[rows[i:j] - a] = fixed[i:j]
    return out


_SORT_7 = ((0, 6), (2, 3), (4, 5), (0, 2), (1, 4), (3, 6), (0, 1), (2, 5), (3, 4))
_SORT_7 += ((1, 2), (4, 6), (2, 3), (4, 5), (1, 2), (3, 4), (5, 6))
"""An optimal 16-comparator sorting network for 7 values."""


def _median_and_mad_7(cols: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Per row: median and MAD of 7 finite columns, equal to `_median_and_mad`'s.

    A sorting network of element-wise min/max sorts the columns s0 <= ... <= s6 in place;
    s3 is the median. The deviations s3 - s2 <= s3 - s1 <= s3 - s0 and s4 - s3 <= s5 - s3 <=
    s6 - s3 are two sorted lists (plus the median's own 0), so the MAD, their 3rd smallest,
    is min(s6 - s3, max(s3 - s2, s5 - s3), max(s3 - s1, s4 - s3), s3 - s0). `cols` is reused.
    """
    s = list(cols)
    spare = np.empty_like(s[0])
    for i, j in _SORT_7:
        np.minimum(s[i], s[j], out=spare)
        np.maximum(s[i], s[j], out=s[j])
        s[i], spare = spare, s[i]
    median = s[3]
    for i in (0, 1, 2):
        np.subtract(median, s[i], out=s[i])
    for i in (4, 5, 6):
        np.subtract(s[i], median, out=s[i])
    mad = s[6]
    np.minimum(mad, np.maximum(s[2], s[5], out=s[5]), out=mad)
    np.minimum(mad, np.maximum(s[1], s[4], out=s[4]), out=mad)
    np.minimum(mad, s[0], out=mad)
    return median, mad


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
        with np.errstate(invalid="ignore"):  # inf - inf is NaN, as np.median's rules want
            return median, np.median(np.abs(window - median[:, None]), axis=1)
    window = window.copy() if not window.flags.writeable else window
    window.sort(axis=1)  # in place: no second (n, 2h+1) array
    median = window[:, h].copy()
    np.subtract(window, median[:, None], out=window)
    np.abs(window, out=window)
    window.sort(axis=1)
    return median, window[:, h].copy()


def stuck_runs(values: np.ndarray, site_starts: np.ndarray, min_run: int) -> np.ndarray:
    """True for readings in a run of >= min_run equal non-zero values of one site.

    With bool arrays shifted min_run times (no run ids): a window of min_run rows that each
    but the first equal their predecessor is part of such a run, and so are its rows.
    """
    n = len(values)
    if min_run <= 1:
        return (values != 0) & np.isfinite(values)
    same = np.zeros(n, dtype=bool)  # same site and value as the row before
    np.equal(values[1:], values[:-1], out=same[1:])
    same &= ~site_starts
    ends = np.ones(n, dtype=bool)  # the min_run rows up to here are one run
    ends[: min_run - 1] = False
    for k in range(min(min_run - 1, n)):
        ends[k:] &= same[: n - k]
    stuck = ends.copy()
    for k in range(1, min(min_run, n)):
        stuck[: n - k] |= ends[k:]
    return stuck & (values != 0) & np.isfinite(values)


_FORMAT = np.frompyfunc("{:.6g}".format, 1, 1)
_TEXT = pa.large_string()


def _fmt(values: np.ndarray) -> pa.Array:
    """'{:.6g}' text of each value; each distinct bit pattern is formatted once."""
    codes, uniques = pd.factorize(values.view(np.int64))
    return pa.array(_FORMAT(uniques.view(np.float64)), type=_TEXT).take(codes)


def _join(*parts: pa.Array | str) -> pa.Array:
    texts = [pa.scalar(p, _TEXT) if isinstance(p, str) else p for p in parts]
    return pc.binary_join_element_wise(*texts, pa.scalar("", _TEXT))


def detect_anomalies(
    readings: pd.DataFrame, params: AnomalyParams = AnomalyParams()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(readings with is_anomaly, schemas.READINGS), (anomalies, schemas.ANOMALIES).

    Input: de-duplicated readings of one UTC day (STAGED_READINGS or READINGS columns).
    Both outputs are sorted: readings by (site_id, ts), anomalies by (site_id, ts, type).
    """
    df = readings.reset_index(drop=True)
    runs = _sorted_site_runs(df)
    if runs is None:
        df = _ordered(df)
        runs = _sorted_site_runs(df)
    keyed = runs is not None  # no null key: anomalies can be ordered by integer keys
    starts, ends = runs if keyed else _site_bounds(df[c.SITE_ID])
    gen = df[c.GENERATED].to_numpy(dtype=float)
    cons = df[c.CONSUMED].to_numpy(dtype=float)
    score = df[c.ANOMALY_SCORE].to_numpy(dtype=float, na_value=np.nan)
    n = len(df)
    site_starts = np.zeros(n, dtype=bool)
    site_starts[starts] = True

    gen_spike = hampel_spikes(gen, starts, ends, params)
    cons_spike = hampel_spikes(cons, starts, ends, params)
    gen_stuck = stuck_runs(gen, site_starts, params.stuck_min_run)
    cons_stuck = stuck_runs(cons, site_starts, params.stuck_min_run)
    limit = params.out_of_range_kwh
    flag = params.device_flag_threshold
    flagged = np.nan_to_num(score, nan=-1.0) > flag
    window = 2 * params.spike_half_window + 1
    rules = [
        (c.AnomalyType.NEGATIVE_VALUE, gen < 0, cons < 0, "{} = {} < 0"),
        (c.AnomalyType.DEVICE_FLAGGED, flagged, None, "{} = {} > " + f"{flag:g}"),
        (c.AnomalyType.OUT_OF_RANGE, gen > limit, cons > limit, "{} = {} > " + f"{limit:g}"),
        (
            c.AnomalyType.SPIKE,
            gen_spike,
            cons_spike,
            "{} = {}, far from the site's median of the " + f"{window} readings around it",
        ),
        (
            c.AnomalyType.STUCK_SENSOR,
            gen_stuck,
            cons_stuck,
            "{} = {} repeated for " + f">= {params.stuck_min_run} consecutive readings",
        ),
    ]
    is_anomaly = np.zeros(n, dtype=bool)
    rows, types, details = [], [], []
    for anomaly_type, on_gen, on_cons, template in rules:
        mask = on_gen if on_cons is None else on_gen | on_cons
        is_anomaly |= mask
        hit = np.flatnonzero(mask)
        if len(hit):
            rows.append(hit)
            types.append(anomaly_type)
            if on_cons is None:
                details.append(_filled(template, c.ANOMALY_SCORE, score[hit]))
            else:
                details.append(_which(hit, gen, cons, on_gen[hit], on_cons[hit], template))

    out = df.assign(**{c.IS_ANOMALY: is_anomaly})[schemas.READINGS.names]  # no deep copy
    if not rows:
        return out, schemas.ANOMALIES.empty_table().to_pandas()
    order = None
    if keyed:  # (site, ts, type), ties in rule order: as the stable sort of the general path
        row = np.concatenate(rows)
        rank = {t: i for i, t in enumerate(sorted(r[0] for r in rules))}
        type_rank = np.concatenate(
            [np.full(len(r), rank[t]) for r, t in zip(rows, types, strict=True)]
        )
        site = np.searchsorted(starts, row, side="right")
        order = np.lexsort((type_rank, df[c.TS].array.asi8[row], site))
    return out, _anomaly_frame(df, rows, types, details, order)


def _filled(template: str, name: str, values: np.ndarray) -> pa.Array:
    left, right = template.format(name, "\0").split("\0")
    return _join(left, _fmt(values), right)


def _which(
    rows: np.ndarray,
    gen: np.ndarray,
    cons: np.ndarray,
    g_hit: np.ndarray,
    c_hit: np.ndarray,
    template: str,
) -> pa.Array:
    """Detail naming the value(s) that broke the rule: generated first, then consumed."""
    parts = []
    for name, values, hit in ((c.GENERATED, gen, g_hit), (c.CONSUMED, cons, c_hit)):
        text = _filled(template, name, values[rows[hit]])
        parts.append(text.take(pa.array(np.cumsum(hit) - 1, mask=~hit)))  # null: not hit
    return pc.binary_join_element_wise(*parts, pa.scalar("; ", _TEXT), null_handling="skip")


def _anomaly_frame(
    df: pd.DataFrame,
    rows: list[np.ndarray],
    types: list[str],
    details: list[pa.Array],
    order: np.ndarray | None,
) -> pd.DataFrame:
    """One row per (reading, type), sorted by (site_id, ts, type): by `order` of the
    concatenated rows when given, else by a stable sort of the frame."""
    row = np.concatenate(rows)
    kind = np.concatenate([np.full(len(r), i) for i, r in enumerate(rows)])
    kind = pa.array(types, type=_TEXT).take(kind)
    detail = pa.concat_arrays(details)
    if order is not None:
        row, kind, detail = row[order], kind.take(order), detail.take(order)
    frame = df[[c.SITE_ID, c.TS, c.COUNTY, c.GENERATED, c.CONSUMED, c.NET]].take(row)
    frame = frame.reset_index(drop=True)
    text = pd.Series(np.array([""], dtype=object)).dtype  # what pandas makes of str objects
    frame[c.ANOMALY_TYPE] = pd.array(kind, dtype=text)
    frame[c.DETAIL] = pd.array(detail, dtype=text)
    if order is None:
        frame = frame.sort_values([c.SITE_ID, c.TS, c.ANOMALY_TYPE], kind="stable")
        frame = frame.reset_index(drop=True)
    frame[c.TS_TYPE] = _ts_type(frame[c.TS], frame[c.ANOMALY_TYPE])
    return frame[schemas.ANOMALIES.names]


def _ts_type(ts: pd.Series, types: pd.Series) -> pd.api.extensions.ExtensionArray:
    """`YYYY-MM-DDTHH:MM:SSZ#type` per row; each distinct (ts, type) is formatted once."""
    ts_code, _ = pd.factorize(ts, use_na_sentinel=False)
    type_code, type_names = pd.factorize(types, use_na_sentinel=False)
    pair, _ = pd.factorize(ts_code.astype(np.int64) * len(type_names) + type_code)
    _, first = np.unique(pair, return_index=True)
    text = pc.strftime(
        pa.array(ts.iloc[first], from_pandas=True).cast(schemas.UTC_SECONDS), format=c.TS_FORMAT
    )
    joined = pd.Series(text.to_numpy(zero_copy_only=False)) + "#" + types.iloc[first].to_numpy()
    return joined.array.take(pair)
