"""Record rules added for hostile input: readings before the first day partition
(`ENERGY_FIRST_DAY`, default contract.DEFAULT_FIRST_DAY) and records too large to serve are
quarantined, never staged."""

from __future__ import annotations

import pandas as pd
import pytest

from energy_platform import contract as c
from energy_platform.defs.partitions import FIRST_DAY, daily_partitions
from energy_platform.settings import Settings
from energy_platform.transforms.parse import parse_object
from energy_platform.transforms.validate import validate_records

from .helpers import NOW, jsonl, record

FIRST_S = int(pd.Timestamp(c.DEFAULT_FIRST_DAY, tz="UTC").timestamp())


def run(*records: dict[str, object], first_day: str = c.DEFAULT_FIRST_DAY):
    body = jsonl(*records)
    return validate_records(parse_object("raw/a.jsonl", body), "raw/a.jsonl", 7, NOW, first_day)


def test_partitions_start_on_the_configured_first_day():
    assert FIRST_DAY == Settings.from_env({}).first_day == c.DEFAULT_FIRST_DAY
    assert daily_partitions.get_first_partition_key() == c.DEFAULT_FIRST_DAY
    assert Settings.from_env({"ENERGY_FIRST_DAY": "2025-03-01"}).first_day == "2025-03-01"


@pytest.mark.parametrize(
    "timestamp",
    [
        "2023-12-31T23:59:59Z",
        "2024-01-01T01:00:00+02:00",  # 2023-12-31T23:00:00Z
        "1970-01-01T00:00:00Z",
        0,
        FIRST_S - 1,
        (FIRST_S - 1) * 1000,  # epoch milliseconds
        "0001-01-01T00:00:00Z",
    ],
)
def test_reading_before_the_first_day_is_bad_timestamp_saying_why(timestamp):
    result = run(record(timestamp=timestamp))
    assert result.clean.empty
    (row,) = result.quarantined.to_dict("records")
    assert row[c.REASON] == c.Reason.BAD_TIMESTAMP
    assert f"before {c.DEFAULT_FIRST_DAY}, the first day partition" in row[c.DETAIL]


@pytest.mark.parametrize("timestamp", ["2024-01-01T00:00:00Z", FIRST_S, FIRST_S * 1000])
def test_first_second_of_the_first_day_is_clean(timestamp):
    result = run(record(timestamp=timestamp))
    assert result.quarantined.empty
    assert result.clean[c.TS].iloc[0] == pd.Timestamp(c.DEFAULT_FIRST_DAY, tz="UTC")


def test_another_first_day_moves_the_bound():
    result = run(record(timestamp="2024-06-01T12:00:00Z"), first_day="2024-07-01")
    assert result.quarantined[c.DETAIL].str.contains("before 2024-07-01").all()


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
