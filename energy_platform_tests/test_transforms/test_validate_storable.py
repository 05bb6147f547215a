"""Values valid where they are stored: a county fits a DynamoDB key, UTC offsets are real ones,
and every number of a reading, its net and a day's sums is a number DynamoDB holds."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from energy_platform import contract as c
from energy_platform.resources.dynamodb import frame_to_items, item_to_python
from energy_platform.transforms import aggregate, serving
from energy_platform.transforms.anomalies import detect_anomalies
from energy_platform.transforms.dedupe import latest_readings
from energy_platform.transforms.parse import parse_object
from energy_platform.transforms.validate import validate_records

from .helpers import NOW, jsonl, record

DYNAMODB_MAX = Decimal("9.9999999999999999999999999999999999999E+125")
DYNAMODB_MIN = Decimal("1E-130")
ITEM_LIMIT_BYTES = 400 * 1024
SMILE = "\U0001f600"  # 4 bytes of UTF-8


def run(*records: dict[str, object]):
    return validate_records(parse_object("raw/a.jsonl", jsonl(*records)), "raw/a.jsonl", 7, NOW)


def rejected(**fields: object) -> tuple[str, str]:
    """(reason, detail) of the one record `record(**fields)`, which must be quarantined."""
    result = run(record(**fields))
    assert result.clean.empty
    (row,) = result.quarantined.to_dict("records")
    return row[c.REASON], row[c.DETAIL]


def clean(**fields: object) -> pd.Series:
    result = run(record(**fields))
    assert result.quarantined.empty, result.quarantined[c.DETAIL].tolist()
    return result.clean.iloc[0]


def is_dynamodb_number(text: str) -> bool:
    """DynamoDB's rule: 0, or magnitude in [1e-130, 9.99..e125] with at most 38 digits."""
    number = Decimal(text)
    if not number.is_finite():
        return False
    digits = len(number.normalize().as_tuple().digits)
    return number == 0 or (DYNAMODB_MIN <= abs(number) <= DYNAMODB_MAX and digits <= 38)


# --- county -------------------------------------------------------------------------------
def test_3000_character_county_is_county_too_long():
    reason, detail = rejected(county="x" * 3000)
    assert reason == c.Reason.COUNTY_TOO_LONG
    assert detail == (
        f'county is "{"x" * 100}...", 3000 bytes of UTF-8, over the 2048 a DynamoDB key holds'
    )


def test_county_limit_is_in_bytes_not_characters():
    assert clean(county=SMILE * 512)[c.COUNTY] == SMILE * 512  # 2,048 bytes
    reason, detail = rejected(county=SMILE * 513)
    assert reason == c.Reason.COUNTY_TOO_LONG
    assert "2052 bytes of UTF-8" in detail


def test_county_exactly_at_the_limit_after_trimming_is_clean():
    county = "x" * c.MAX_COUNTY_BYTES
    assert clean(county=f"  {county}\t\n")[c.COUNTY] == county
    assert rejected(county=county + "y")[0] == c.Reason.COUNTY_TOO_LONG


def test_county_rule_comes_after_bad_number_and_before_unknown_unit():
    long = "x" * 3000
    assert rejected(county=long, energy_generated_kwh="abc")[0] == c.Reason.BAD_NUMBER
    assert rejected(county=long, unit="J")[0] == c.Reason.COUNTY_TOO_LONG


# --- numbers: finite and in range after the unit conversion --------------------------------
def test_value_overflowing_only_in_kwh_is_number_out_of_range():
    reason, detail = rejected(unit="MWh", energy_generated_kwh=1e306)
    assert reason == c.Reason.NUMBER_OUT_OF_RANGE
    assert detail == 'energy_generated_kwh is "1e+306" MWh, over 1e9 kWh in magnitude'


def test_values_whose_net_would_overflow_are_number_out_of_range():
    reason, detail = rejected(energy_generated_kwh=1e308, energy_consumed_kwh=-1e308)
    assert reason == c.Reason.NUMBER_OUT_OF_RANGE
    assert detail == 'energy_generated_kwh is "1e+308" kWh, over 1e9 kWh in magnitude'


def test_consumed_out_of_range_is_named():
    reason, detail = rejected(energy_consumed_kwh="-1e10")
    assert reason == c.Reason.NUMBER_OUT_OF_RANGE
    assert detail == 'energy_consumed_kwh is "-1e10" kWh, over 1e9 kWh in magnitude'


def test_values_at_the_bound_are_clean_and_net_stays_finite():
    row = clean(energy_generated_kwh=c.MAX_ABS_KWH, energy_consumed_kwh=-c.MAX_ABS_KWH)
    assert row[c.NET] == 2 * c.MAX_ABS_KWH
    assert clean(unit="MWh", energy_generated_kwh=1e6)[c.GENERATED] == c.MAX_ABS_KWH


@pytest.mark.parametrize(
    ("fields", "detail"),
    [
        (
            {"energy_generated_kwh": 1e-200},
            'energy_generated_kwh is "1e-200" kWh, non-zero but under 1e-100 kWh in magnitude',
        ),
        (
            {"unit": "Wh", "energy_consumed_kwh": 1e-98},  # 1e-101 kWh
            'energy_consumed_kwh is "1e-98" Wh, non-zero but under 1e-100 kWh in magnitude',
        ),
        (
            {"energy_consumed_kwh": -5e-324},  # the smallest double
            'energy_consumed_kwh is "-5e-324" kWh, non-zero but under 1e-100 kWh in magnitude',
        ),
        (
            {"unit": "Wh", "energy_generated_kwh": 5e-324},  # 0 kWh once converted
            'energy_generated_kwh is "5e-324" Wh, non-zero but under 1e-100 kWh in magnitude',
        ),
    ],
)
def test_tiny_non_zero_values_are_number_out_of_range(fields, detail):
    assert rejected(**fields) == (c.Reason.NUMBER_OUT_OF_RANGE, detail)


def test_zero_and_small_storable_values_are_clean():
    row = clean(unit="Wh", energy_generated_kwh=0.0, energy_consumed_kwh=1e-96)
    assert (row[c.GENERATED], row[c.CONSUMED]) == (0.0, pytest.approx(1e-99, rel=1e-12))


def test_tiny_anomaly_score_is_bad_anomaly_score():
    assert rejected(anomaly_score=1e-200) == (
        c.Reason.BAD_ANOMALY_SCORE,
        'anomaly_score is "1e-200", non-zero but under 1e-100',
    )
    assert clean(anomaly_score=0)[c.ANOMALY_SCORE] == 0


# --- UTC offsets --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("timestamp", "utc"),
    [
        ("2024-06-01T12:00:00+14:00", "2024-05-31T22:00:00Z"),
        ("2024-06-01T12:00:00-14:00", "2024-06-02T02:00:00Z"),
        ("2024-06-01T12:00:00+1400", "2024-05-31T22:00:00Z"),
        ("2024-06-01T12:00:00+05:30", "2024-06-01T06:30:00Z"),
        ("2024-06-01T12:00:00Z", "2024-06-01T12:00:00Z"),
    ],
)
def test_offsets_within_14_hours_are_converted(timestamp, utc):
    assert clean(timestamp=timestamp)[c.TS] == pd.Timestamp(utc)


@pytest.mark.parametrize(
    "timestamp",
    [
        "2024-06-01T12:00:00+99:00",
        "2024-06-01T12:00:00-14:01",
        "2024-06-01T12:00:00+14:30",
        "2024-06-01T12:00:00+14:00:01",
        "2024-06-01T12:00:00+99",
    ],
)
def test_offsets_beyond_14_hours_are_bad_timestamp(timestamp):
    assert rejected(timestamp=timestamp) == (
        c.Reason.BAD_TIMESTAMP,
        f'timestamp is "{timestamp}", a UTC offset beyond ±14:00',
    )


@pytest.mark.parametrize(
    "timestamp", [1717243200, 1717243200999, "1717243200", "1717243200.5", 1717243200.999]
)
def test_epoch_numbers_are_unchanged(timestamp):
    assert clean(timestamp=timestamp)[c.TS] == pd.Timestamp("2024-06-01T12:00:00Z")


# --- what reaches DynamoDB ----------------------------------------------------------------
def test_bounds_keep_nets_and_sums_storable():
    # |net| <= 2 * MAX per reading: 1e15 readings (more than any day holds) still sum below
    # DynamoDB's largest number; any non-zero sum or difference of values >= MIN_NONZERO_ABS
    # is a multiple of the smallest spacing of doubles that large, above DynamoDB's smallest.
    assert float(DYNAMODB_MAX) > 2 * c.MAX_ABS_KWH * 1e15
    assert math.ulp(c.MIN_NONZERO_ABS) > float(DYNAMODB_MIN)


def test_extreme_clean_readings_become_dynamodb_numbers_in_every_table():
    tiny, max_kwh = c.MIN_NONZERO_ABS, c.MAX_ABS_KWH
    next_up = float(np.nextafter(tiny, 1.0))
    result = run(
        record(site_id="big", energy_generated_kwh=max_kwh, energy_consumed_kwh=-max_kwh),
        record(site_id="big", timestamp="2024-06-01T12:05:00Z", energy_generated_kwh=max_kwh),
        record(site_id="tiny", energy_generated_kwh=tiny, energy_consumed_kwh=-tiny),
        record(
            site_id="tiny",
            timestamp="2024-06-01T12:05:00Z",
            energy_generated_kwh=tiny,
            energy_consumed_kwh=next_up,  # net: minus one spacing, about -1.3e-116
            anomaly_score=tiny,
        ),
        record(site_id="tiny", timestamp="2024-06-01T12:10:00Z", unit="Wh", energy_consumed_kwh=1),
    )
    assert result.quarantined.empty
    readings, anomalies = detect_anomalies(latest_readings(result.clean))
    readings = readings.assign(**{c.IS_ANOMALY: False})  # every value reaches the sums
    frames = [
        serving.readings_items(readings),
        serving.anomalies_items(anomalies),
        serving.county_5min_items(aggregate.county_5min(readings)),
        serving.site_daily_items(aggregate.site_daily(readings)),
    ]
    numbers = [
        (name, value["N"])
        for frame in frames
        for item in frame_to_items(frame)
        for name, value in item.items()
        if "N" in value
    ]
    assert len(numbers) > 40
    assert [n for n in numbers if not is_dynamodb_number(n[1])] == []
    smallest = readings[readings[c.CONSUMED] == next_up]
    assert 0 > smallest[c.NET].iloc[0] > -1e-115
    (item,) = frame_to_items(serving.readings_items(smallest))
    assert item_to_python(item)[c.NET] == smallest[c.NET].iloc[0]  # the same double back


def test_numbers_outside_the_bounds_would_not_be_dynamodb_numbers():
    items = frame_to_items(pd.DataFrame({"v": [1e-200, 1e306 * 1000, 1e200, 0.0, -1e-100]}))
    assert [is_dynamodb_number(i["v"]["N"]) if i else None for i in items] == [
        False,
        None,  # inf: left out of the item, which the API then cannot serve
        False,
        True,
        True,
    ]


def test_largest_record_makes_an_item_under_400_kb():
    # A record is at most MAX_RECORD_BYTES; even that many characters: 4 bytes of UTF-8 each.
    record_text_bytes = 4 * c.MAX_RECORD_BYTES
    county = SMILE * (c.MAX_COUNTY_BYTES // 4)
    device = SMILE * ((record_text_bytes - c.MAX_COUNTY_BYTES) // 4)
    readings = run(record(site_id="s" * 64, anomaly_score=0.25)).clean.assign(
        **{
            c.COUNTY: county,
            c.DEVICE_ID: device,
            c.IS_ANOMALY: True,
            c.SOURCE_KEY: "raw/" + "k" * 1020,  # S3's longest key
        }
    )
    (item,) = frame_to_items(serving.readings_items(readings))
    size = sum(len(k.encode()) + len(str(*v.values()).encode()) for k, v in item.items())
    assert record_text_bytes < size < ITEM_LIMIT_BYTES
