"""validate_records: the contract's record rules, one reason per record, full accounting."""

from __future__ import annotations

import pandas as pd
import pytest

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.transforms.parse import parse_object
from energy_platform.transforms.validate import validate_records

from .helpers import NOW, jsonl, record


def run(*records: dict[str, object], key: str = "raw/a.jsonl"):
    return validate_records(parse_object(key, jsonl(*records)), key, 7, NOW)


def reasons(result) -> list[str]:
    return result.quarantined[c.REASON].tolist()


def test_clean_columns_are_the_staged_schema():
    result = run(record())
    assert list(result.clean.columns) == schemas.STAGED_READINGS.names
    assert str(result.clean[c.TS].dtype).startswith("datetime64")


def test_quarantine_columns_are_the_contract_fields():
    result = run(record(site_id=""))
    assert list(result.quarantined.columns) == list(schemas.QUARANTINE_FIELDS)


def test_net_is_generated_minus_consumed():
    row = run(record(energy_generated_kwh=3, energy_consumed_kwh=1.25)).clean.iloc[0]
    assert row[c.NET] == pytest.approx(1.75)


def test_wh_converted_to_kwh():
    row = run(record(unit="Wh", energy_generated_kwh=1500, energy_consumed_kwh=500)).clean.iloc[0]
    assert (row[c.GENERATED], row[c.CONSUMED]) == (1.5, 0.5)


def test_mwh_converted_to_kwh():
    row = run(record(unit="MWh", energy_generated_kwh=0.002)).clean.iloc[0]
    assert row[c.GENERATED] == pytest.approx(2.0)


def test_offset_timestamp_converted_to_utc():
    row = run(record(timestamp="2024-06-01T14:00:00+02:00")).clean.iloc[0]
    assert row[c.TS] == pd.Timestamp("2024-06-01T12:00:00Z")


def test_timestamp_without_offset_is_utc():
    row = run(record(timestamp="2024-06-01T12:00:00")).clean.iloc[0]
    assert row[c.TS] == pd.Timestamp("2024-06-01T12:00:00Z")


def test_timestamp_floored_to_the_second():
    row = run(record(timestamp="2024-06-01T12:00:00.999Z")).clean.iloc[0]
    assert row[c.TS] == pd.Timestamp("2024-06-01T12:00:00Z")


def test_epoch_seconds():
    row = run(record(timestamp=1717243200)).clean.iloc[0]
    assert row[c.TS] == pd.Timestamp("2024-06-01T12:00:00Z")


def test_epoch_milliseconds():
    row = run(record(timestamp=1717243200999)).clean.iloc[0]
    assert row[c.TS] == pd.Timestamp("2024-06-01T12:00:00Z")


def test_numeric_string_with_spaces_is_a_number():
    row = run(record(energy_generated_kwh=" 2.5 ")).clean.iloc[0]
    assert row[c.GENERATED] == 2.5


def test_county_trimmed_and_missing_is_unknown():
    result = run(record(county="  Kern "), record(county=...), record(county=""))
    assert result.clean[c.COUNTY].tolist() == ["Kern", c.UNKNOWN_COUNTY, c.UNKNOWN_COUNTY]


def test_missing_field():
    result = run(record(energy_consumed_kwh=...))
    assert reasons(result) == [c.Reason.MISSING_FIELD]
    assert c.CONSUMED in result.quarantined[c.DETAIL].iloc[0]


@pytest.mark.parametrize("site_id", ["", "has space", "x" * 65, "é"])
def test_bad_site_id(site_id):
    assert reasons(run(record(site_id=site_id))) == [c.Reason.BAD_SITE_ID]


@pytest.mark.parametrize("ts", ["yesterday", "2024-13-01T00:00:00Z", 1e300, True])
def test_bad_timestamp(ts):
    assert reasons(run(record(timestamp=ts))) == [c.Reason.BAD_TIMESTAMP]


def test_timestamp_more_than_24h_ahead_is_in_future():
    ahead = (NOW + pd.Timedelta(hours=25)).strftime(c.TS_FORMAT)
    assert reasons(run(record(timestamp=ahead))) == [c.Reason.TIMESTAMP_IN_FUTURE]


def test_timestamp_less_than_24h_ahead_is_clean():
    ahead = (NOW + pd.Timedelta(hours=23)).strftime(c.TS_FORMAT)
    assert len(run(record(timestamp=ahead)).clean) == 1


def test_nan_infinity_1e400_are_bad_number():
    body = (
        b'{"site_id":"s","timestamp":1717243200,"energy_generated_kwh":NaN,"energy_consumed_kwh":1}\n'
        b'{"site_id":"s","timestamp":1717243200,"energy_generated_kwh":"Infinity","energy_consumed_kwh":1}\n'
        b'{"site_id":"s","timestamp":1717243200,"energy_generated_kwh":1e400,"energy_consumed_kwh":1}\n'
    )
    result = validate_records(parse_object("raw/a.jsonl", body), "raw/a.jsonl", 1, NOW)
    assert reasons(result) == [c.Reason.BAD_NUMBER] * 3


@pytest.mark.parametrize("value", ["abc", True, {"kwh": 1}, [1]])
def test_non_numbers_are_bad_number(value):
    assert reasons(run(record(energy_generated_kwh=value))) == [c.Reason.BAD_NUMBER]


def test_bad_number_detail_names_field_and_value():
    detail = run(record(energy_generated_kwh="abc")).quarantined[c.DETAIL].iloc[0]
    assert detail.startswith('energy_generated_kwh is "abc"')


def test_unknown_unit():
    assert reasons(run(record(unit="kW"))) == [c.Reason.UNKNOWN_UNIT]


@pytest.mark.parametrize("score", [1.5, -0.1, "high"])
def test_bad_anomaly_score(score):
    assert reasons(run(record(anomaly_score=score))) == [c.Reason.BAD_ANOMALY_SCORE]


def test_first_failing_rule_wins():
    result = run(record(site_id="bad id", timestamp="never", energy_generated_kwh="x", unit="?"))
    assert reasons(result) == [c.Reason.BAD_SITE_ID]


def test_parse_rejects_become_unparseable_record():
    body = jsonl(record()) + b"{broken\n"
    result = validate_records(parse_object("raw/a.jsonl", body), "raw/a.jsonl", 1, NOW)
    row = result.quarantined.iloc[0]
    assert (row[c.REASON], row[c.SOURCE_LINE], row[c.RAW_RECORD]) == (
        c.Reason.UNPARSEABLE_RECORD,
        2,
        "{broken",
    )


def test_file_error_is_one_quarantine_row_without_line():
    result = validate_records(parse_object("raw/a.pdf", b"%PDF"), "raw/a.pdf", 1, NOW)
    row = result.quarantined.iloc[0]
    assert len(result.quarantined) == 1
    assert row[c.REASON] == c.Reason.UNSUPPORTED_FORMAT
    assert pd.isna(row[c.SOURCE_LINE])


def test_source_key_line_and_arrival_are_kept():
    row = run(record(), key="raw/x/b.jsonl").clean.iloc[0]
    assert (row[c.SOURCE_KEY], row[c.SOURCE_LINE], row[c.ARRIVAL]) == ("raw/x/b.jsonl", 1, 7)


def test_every_record_is_accounted_for():
    body = jsonl(record(), record(site_id=""), record(unit="J")) + b"oops\n[1]\n\n"
    parsed = parse_object("raw/a.jsonl", body)
    result = validate_records(parsed, "raw/a.jsonl", 1, NOW)
    assert result.records_read == parsed.records_read == 5
    assert len(result.clean) == 1


def test_csv_records_validate_like_json():
    body = b"site_id,timestamp,energy_generated_kwh,energy_consumed_kwh,unit\ns1,2024-06-01T00:00:00Z,1000,0,Wh\n"
    result = validate_records(parse_object("raw/a.csv", body), "raw/a.csv", 1, NOW)
    assert result.clean[c.GENERATED].tolist() == [1.0]


def test_empty_results_keep_their_dtypes():
    result = validate_records(parse_object("raw/a.json", b"[]"), "raw/a.json", 1, NOW)
    assert list(result.clean.columns) == schemas.STAGED_READINGS.names
    assert str(result.quarantined[c.SOURCE_LINE].dtype) == "Int64"
