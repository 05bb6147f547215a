"""detect_anomalies' fast paths give exactly what the general paths give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_platform import contract as c
from energy_platform.transforms import anomalies
from energy_platform.transforms.anomalies import (
    _edge_fixes,
    _fmt,
    _median_and_mad,
    _median_and_mad_7,
    _shifted,
    detect_anomalies,
    stuck_runs,
)

from .helpers import realistic_day


def _site_layout(rng: np.random.Generator, sites: int) -> tuple[np.ndarray, np.ndarray]:
    sizes = rng.integers(1, 12, size=sites)
    ends = np.cumsum(sizes)
    return ends - sizes, ends


@pytest.mark.parametrize("k", range(-4, 5))
def test_shifted_column_blocks_equal_the_clipped_gather(k: int) -> None:
    rng = np.random.default_rng(k + 10)
    starts, ends = _site_layout(rng, 50)
    n = ends[-1]
    values = rng.normal(size=n)
    first = np.repeat(starts, ends - starts)
    last = np.repeat(ends - 1, ends - starts)
    expected = values[np.clip(np.arange(n) + k, first, last)]
    edge = _edge_fixes(values, k, starts, ends)
    for a, b in [(0, n), (0, 1), (n - 1, n), (0, 17), (17, 40), (40, n), (3, 3)]:
        got = _shifted(values, k, a, b, edge, np.full(b - a, np.nan))
        np.testing.assert_array_equal(got, expected[a:b])


def test_blocked_hampel_equals_one_block(monkeypatch) -> None:
    day = realistic_day(sites=7, seed=5)
    day.loc[::37, c.CONSUMED] *= 6
    one_block = detect_anomalies(day)
    monkeypatch.setattr(anomalies, "_BLOCK", 100)
    for got, expected in zip(detect_anomalies(day), one_block, strict=True):
        pd.testing.assert_frame_equal(got, expected)
    assert (one_block[1][c.ANOMALY_TYPE] == c.AnomalyType.SPIKE).sum() > 10


def test_sorting_network_median_and_mad_equal_the_sorted_rows() -> None:
    rng = np.random.default_rng(7)
    window = rng.normal(size=(5000, 7)).round(1)  # rounding makes ties common
    window[::5] = 1.5  # constant windows: MAD 0
    window[1::9, :3] = 0.0
    window[1::9, 3:5] = -0.0
    window[2::11] *= 1e300  # differences overflow to inf the same way
    median, mad = _median_and_mad_7([window[:, j].copy() for j in range(7)])
    ref_median, ref_mad = _median_and_mad(window.copy(), 3)
    np.testing.assert_array_equal(median, ref_median)
    np.testing.assert_array_equal(mad, ref_mad)
    np.testing.assert_array_equal(median, np.median(window, axis=1))


def test_fmt_equals_formatting_each_value() -> None:
    values = np.array([0.1346, -0.0, 0.0, np.nan, np.inf, -np.inf, 1e-7, 123456789.0, 0.1346])
    expected = [f"{v:.6g}" for v in values]
    assert _fmt(values).tolist() == expected


def _day_with_anomalies() -> pd.DataFrame:
    day = realistic_day(sites=6, seed=3)
    rng = np.random.default_rng(3)
    rows = rng.choice(len(day), 60, replace=False)
    day.loc[rows[:20], c.CONSUMED] *= 8  # spikes
    day.loc[rows[20:30], c.GENERATED] = -0.5
    day.loc[rows[25:40], c.ANOMALY_SCORE] = 0.9
    day.loc[rows[35:45], c.CONSUMED] = 2000.0
    day.loc[rows[45:50], [c.GENERATED, c.CONSUMED]] = -0.25  # both values break the rule
    day.loc[100:110, c.CONSUMED] = 0.777  # stuck
    day[c.NET] = day[c.GENERATED] - day[c.CONSUMED]
    return day


@pytest.mark.parametrize("duplicates", [0, 12])
def test_keyed_fast_path_equals_the_general_path(monkeypatch, duplicates: int) -> None:
    day = _day_with_anomalies()
    day = pd.concat(
        [day, day.iloc[:: len(day) // duplicates][:duplicates]] if duplicates else [day]
    )
    day = day.iloc[np.random.default_rng(1).permutation(len(day))]
    fast = detect_anomalies(day)
    assert len(fast[1]) > 60
    assert len(set(fast[1][c.ANOMALY_TYPE])) == 5
    assert fast[1][c.DETAIL].str.contains("; ").any()
    monkeypatch.setattr(anomalies, "_sorted_site_runs", lambda _df: None)
    general = detect_anomalies(day)
    for got, expected in zip(fast, general, strict=True):
        pd.testing.assert_frame_equal(got, expected)


@pytest.mark.parametrize("min_run", [0, 1, 2, 6, 9])
def test_stuck_runs_equal_run_lengths(min_run: int) -> None:
    rng = np.random.default_rng(min_run)
    for n in [0, 1, 5, 300]:
        values = rng.choice([0.0, 1.0, 2.0, np.nan, np.inf], n, p=[0.2, 0.4, 0.3, 0.05, 0.05])
        site_starts = rng.random(n) < 0.05
        site_starts[:1] = True
        new_run = site_starts | np.concatenate([[True], values[1:] != values[:-1]])[:n]
        run_id = np.cumsum(new_run) - 1
        long = np.bincount(run_id)[run_id] >= min_run if n else np.zeros(0, dtype=bool)
        expected = long & (values != 0) & np.isfinite(values)
        np.testing.assert_array_equal(stuck_runs(values, site_starts, min_run), expected)
