"""parse_object: formats, line numbers, rejects and whole-file errors."""

from __future__ import annotations

import gzip
import json

from energy_platform import contract as c
from energy_platform.transforms.parse import parse_object

from .helpers import jsonl, record


def test_jsonl_fields_are_text_and_lines_are_one_based():
    parsed = parse_object("raw/a.jsonl", jsonl(record(), record(site_id="site-2")))
    rows = parsed.records.to_pylist()
    assert [r[c.SOURCE_LINE] for r in rows] == [1, 2]
    assert rows[1][c.SITE_ID] == "site-2"
    assert float(rows[0][c.GENERATED]) == 1.5
    assert parsed.records_read == 2


def test_jsonl_raw_is_the_line_without_its_terminator():
    line = json.dumps(record())
    parsed = parse_object("raw/a.ndjson", (line + "\r\n").encode())
    assert parsed.raw_texts().to_pylist() == [line]


def test_blank_lines_are_not_records():
    body = b"\n" + jsonl(record()) + b"\n   \n" + jsonl(record())
    parsed = parse_object("raw/a.jsonl", body)
    assert parsed.records_read == 2
    assert parsed.records.column(c.SOURCE_LINE).to_pylist() == [2, 5]


def test_malformed_json_line_is_a_reject_with_its_line():
    parsed = parse_object("raw/a.jsonl", jsonl(record()) + b"{not json\n" + jsonl(record()))
    assert parsed.rejects.to_pylist()[0][c.SOURCE_LINE] == 2
    assert parsed.rejects.to_pylist()[0][c.RAW_RECORD] == "{not json"
    assert parsed.records_read == 3


def test_json_line_that_is_not_an_object_is_a_reject():
    parsed = parse_object("raw/a.jsonl", b"[1, 2]\n5\n")
    assert parsed.records.num_rows == 0
    assert parsed.rejects.column(c.SOURCE_LINE).to_pylist() == [1, 2]


def test_nested_values_become_json_text_and_null_becomes_null():
    parsed = parse_object("raw/a.jsonl", jsonl(record(device_id={"a": [1]}, county=None)))
    row = parsed.records.to_pylist()[0]
    assert json.loads(row[c.DEVICE_ID]) == {"a": [1]}
    assert row[c.COUNTY] is None


def test_json_array_source_line_is_zero_based_index():
    body = json.dumps([record(), "not an object", record()]).encode()
    parsed = parse_object("raw/a.json", body)
    assert parsed.records.column(c.SOURCE_LINE).to_pylist() == [0, 2]
    assert parsed.rejects.column(c.SOURCE_LINE).to_pylist() == [1]


def test_json_object_with_records_array():
    body = json.dumps({"records": [record(), record()]}).encode()
    assert parse_object("raw/a.json", body).records.num_rows == 2


def test_empty_json_array_is_zero_records():
    parsed = parse_object("raw/a.json", b"[]")
    assert parsed.file_error is None
    assert parsed.records_read == 0


def test_json_scalar_document_is_unparseable_file():
    parsed = parse_object("raw/a.json", b'"hello"')
    assert parsed.file_error.reason == c.Reason.UNPARSEABLE_FILE


def test_json_object_without_records_is_unparseable_file():
    parsed = parse_object("raw/a.json", b'{"rows": []}')
    assert parsed.file_error.reason == c.Reason.UNPARSEABLE_FILE


def test_bare_nan_in_json_document_still_parses():
    parsed = parse_object("raw/a.json", b'[{"site_id": "s", "energy_generated_kwh": NaN}]')
    assert parsed.records.to_pylist()[0][c.GENERATED] == "NaN"


def test_gzip_is_decompressed_by_extension_case_insensitively():
    parsed = parse_object("raw/A.JSONL.GZ", gzip.compress(jsonl(record())))
    assert parsed.records.num_rows == 1


def test_gzip_truncated_is_unparseable_file():
    body = gzip.compress(jsonl(*[record() for _ in range(100)]))
    parsed = parse_object("raw/a.jsonl.gz", body[: len(body) // 2])
    assert parsed.file_error.reason == c.Reason.UNPARSEABLE_FILE
    assert "truncated" in parsed.file_error.detail
    assert parsed.records_read == 1


def test_gzip_corrupt_is_unparseable_file():
    parsed = parse_object("raw/a.jsonl.gz", b"\x1f\x8b\x08\x00garbage-garbage")
    assert parsed.file_error.reason == c.Reason.UNPARSEABLE_FILE


def test_unknown_extension_is_unsupported_format():
    parsed = parse_object("raw/a.xml", b"<a/>")
    assert parsed.file_error.reason == c.Reason.UNSUPPORTED_FORMAT


def test_zero_byte_file_is_unparseable_file():
    assert parse_object("raw/a.csv", b"").file_error.reason == c.Reason.UNPARSEABLE_FILE
    assert parse_object("raw/a.json", b"").file_error.reason == c.Reason.UNPARSEABLE_FILE


def test_zero_byte_json_lines_is_zero_records():
    parsed = parse_object("raw/a.jsonl", b"")
    assert parsed.file_error is None
    assert parsed.records_read == 0


def test_invalid_utf8_is_unparseable_file_naming_the_byte():
    parsed = parse_object("raw/a.jsonl", b'{"site_id": "\xff"}\n')
    assert parsed.file_error.reason == c.Reason.UNPARSEABLE_FILE
    assert "byte 13" in parsed.file_error.detail


def test_csv_lines_count_the_header_as_line_one():
    body = b"site_id,timestamp,energy_generated_kwh,energy_consumed_kwh\ns1,t,1,2\ns2,t,3,4\n"
    parsed = parse_object("raw/a.csv", body)
    assert parsed.records.column(c.SOURCE_LINE).to_pylist() == [2, 3]
    assert parsed.raw_texts().to_pylist() == ["s1,t,1,2", "s2,t,3,4"]


def test_csv_with_bom():
    body = b"\xef\xbb\xbfsite_id,energy_generated_kwh\r\ns1,1.5\r\n"
    row = parse_object("raw/a.csv", body).records.to_pylist()[0]
    assert row[c.SITE_ID] == "s1"
    assert row[c.GENERATED] == "1.5"


def test_csv_quoted_values_with_commas_quotes_and_newlines():
    body = b'site_id,county\ns1,"O\'Brien, ""North""\nside"\ns2,Kern\n'
    parsed = parse_object("raw/a.csv", body)
    assert parsed.records.column(c.COUNTY).to_pylist() == ['O\'Brien, "North"\nside', "Kern"]
    assert parsed.records.column(c.SOURCE_LINE).to_pylist() == [2, 4]


def test_csv_row_with_wrong_column_count_is_a_reject():
    body = b"site_id,county\ns1,Kern\ns2\ns3,Inyo,extra\ns4,Mono\n"
    parsed = parse_object("raw/a.csv", body)
    assert parsed.records.column(c.SITE_ID).to_pylist() == ["s1", "s4"]
    assert parsed.rejects.column(c.SOURCE_LINE).to_pylist() == [3, 4]
    assert parsed.records_read == 4


def test_csv_header_without_required_columns_still_parses():
    parsed = parse_object("raw/a.csv", b"site_id\ns1\n")
    assert parsed.file_error is None
    assert parsed.records.to_pylist()[0][c.GENERATED] is None


def test_csv_empty_cell_is_null():
    parsed = parse_object("raw/a.csv", b"site_id,county\ns1,\n")
    assert parsed.records.to_pylist()[0][c.COUNTY] is None


def test_csv_with_a_repeated_contract_column_is_unparseable_file() -> None:
    from energy_platform.transforms.parse import parse_object

    body = b"site_id,site_id,timestamp,energy_generated_kwh,energy_consumed_kwh\na,b,2026-01-01T00:00:00Z,1,1\n"
    parsed = parse_object("raw/dup.csv", body)
    assert parsed.file_error is not None
    assert parsed.file_error.reason == "unparseable_file"
    assert "site_id" in parsed.file_error.detail


def test_jsonl_line_duckdb_reads_as_a_number_but_is_not_json_is_a_reject():
    # DuckDB's JSON reader takes `INF` as infinity; Python's does not: found by the property test
    parsed = parse_object("raw/a.jsonl", b"INF\n" + jsonl(record()))
    assert parsed.records.num_rows == 1
    [reject] = parsed.rejects.to_pylist()
    assert (reject[c.SOURCE_LINE], reject[c.RAW_RECORD]) == (1, "INF")
    assert "not valid JSON" in reject[c.DETAIL]
