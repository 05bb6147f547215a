"""Fast paths give exactly what the general paths give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from energy_platform import contract as c
from energy_platform.transforms import dedupe, parse
from energy_platform.transforms.anomalies import _median_and_mad

from .helpers import DAY, readings


def _reference(window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    median = np.median(window, axis=1)
    with np.errstate(invalid="ignore"):  # inf - inf: NaN
        return median, np.median(np.abs(window - median[:, None]), axis=1)


@pytest.mark.parametrize("h", [1, 3, 5])
def test_sorted_window_median_and_mad_equal_numpy_median(h: int) -> None:
    rng = np.random.default_rng(h)
    window = rng.normal(size=(500, 2 * h + 1)).round(2)  # rounding makes ties common
    window[::7] = 1.5  # constant windows: MAD 0
    median, mad = _median_and_mad(window.copy(), h)
    ref_median, ref_mad = _reference(window)
    np.testing.assert_array_equal(median, ref_median)
    np.testing.assert_array_equal(mad, ref_mad)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_window_with_a_non_finite_value_follows_numpy_median(bad: float) -> None:
    window = np.array([[1.0, 2.0, 3.0], [bad, 2.0, 2.0], [bad, bad, 1.0]])
    median, mad = _median_and_mad(window.copy(), 1)
    ref_median, ref_mad = _reference(window)
    np.testing.assert_array_equal(median, ref_median)
    np.testing.assert_array_equal(mad, ref_mad)


def _shuffled_day(duplicates: int) -> pd.DataFrame:
    rng = np.random.default_rng(duplicates)
    rows = [
        {c.SITE_ID: site, c.TS: DAY + pd.Timedelta(minutes=5 * (i % 40))}
        for i, site in enumerate(["b", "a", "Z", "ä-1", "a.1", "site-10", "site-9"] * 40)
    ]
    frame = readings(rows)
    frame = pd.concat([frame, frame.iloc[:duplicates].assign(**{c.ARRIVAL: 5})])
    return frame.iloc[rng.permutation(len(frame))]


@pytest.mark.parametrize("duplicates", [0, 3])
def test_latest_readings_fast_path_equals_general_sort(monkeypatch, duplicates: int) -> None:
    frame = _shuffled_day(duplicates)
    fast = dedupe.latest_readings(frame)
    if not duplicates:
        assert dedupe._distinct_key_order(frame) is not None
    monkeypatch.setattr(dedupe, "_distinct_key_order", lambda _readings: None)
    general = dedupe.latest_readings(frame)
    pd.testing.assert_frame_equal(fast, general)
    assert len(fast) == len(frame) - duplicates


@pytest.mark.parametrize(
    "body",
    [
        b'{"a":1}\n{"b":2}\n',  # one byte between records: the zero-copy path
        b'{"a":1}\n{"b":2}',  # ... without a final newline
        b'{"a":"\xc3\xa9"}\n\n{"b":2}\r\n{"c":3}\r\n',  # blank line and CRLF: the general path
        b'\xef\xbb\xbf{"x":1}\n{"y":2}\n',  # BOM before the first record
        b'{"a":1}\r\n',  # one record ending in CRLF: not a view (the CR is no record's)
    ],
)
def test_record_texts_are_the_lines_without_terminators(body: bytes) -> None:
    parsed = parse.parse_object("raw/a.jsonl", body)
    lines = body.removeprefix(b"\xef\xbb\xbf").decode().splitlines()
    assert parsed.raw_texts().to_pylist() == [line for line in lines if line]
    assert parsed.raw_texts().type == pa.string()
