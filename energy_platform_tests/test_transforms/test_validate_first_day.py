"""Record rules added for hostile input: readings before the first day partition (2000-01-01)
and records too large to serve are quarantined, never staged."""

from __future__ import annotations

import pandas as pd
import pytest

from energy_platform import contract as c
from energy_platform.partitions import FIRST_DAY
from energy_platform.transforms.parse import parse_object
from energy_platform.transforms.validate import FIRST_DAY_EPOCH_S, validate_records

from .helpers import NOW, jsonl, record


def run(*records: dict[str, object]):
    return validate_records(parse_object("raw/a.jsonl", jsonl(*records)), "raw/a.jsonl", 7, NOW)


def test_first_day_bound_is_the_first_partition():
    assert pd.Timestamp(FIRST_DAY_EPOCH_S, unit="s", tz="UTC") == pd.Timestamp(FIRST_DAY, tz="UTC")


@pytest.mark.parametrize(
    "timestamp",
    [
        "1999-12-31T23:59:59Z",
        "2000-01-01T01:00:00+02:00",  # 1999-12-31T23:00:00Z
        "1970-01-01T00:00:00Z",
        0,
        FIRST_DAY_EPOCH_S - 1,
        (FIRST_DAY_EPOCH_S - 1) * 1000,  # epoch milliseconds
        "0001-01-01T00:00:00Z",
    ],
)
def test_reading_before_2000_is_bad_timestamp_saying_why(timestamp):
    result = run(record(timestamp=timestamp))
    assert result.clean.empty
    (row,) = result.quarantined.to_dict("records")
    assert row[c.REASON] == c.Reason.BAD_TIMESTAMP
    assert "before 2000-01-01" in row[c.DETAIL]


@pytest.mark.parametrize(
    "timestamp", ["2000-01-01T00:00:00Z", FIRST_DAY_EPOCH_S, FIRST_DAY_EPOCH_S * 1000]
)
def test_first_second_of_2000_is_clean(timestamp):
    result = run(record(timestamp=timestamp))
    assert result.quarantined.empty
    assert result.clean[c.TS].iloc[0] == pd.Timestamp(FIRST_DAY, tz="UTC")


def test_unparseable_timestamp_detail_still_says_not_iso():
    (row,) = run(record(timestamp="yesterday")).quarantined.to_dict("records")
    assert row[c.REASON] == c.Reason.BAD_TIMESTAMP
    assert "not ISO-8601" in row[c.DETAIL]


def test_oversized_record_is_record_too_long_not_a_reading():
    result = run(
        record(county="x" * (c.MAX_RECORD_BYTES + 1)), record(timestamp="2024-06-01T12:05:00Z")
    )
    assert len(result.clean) == 1
    (row,) = result.quarantined.to_dict("records")
    assert row[c.REASON] == c.Reason.RECORD_TOO_LONG
    assert "over the limit" in row[c.DETAIL]
