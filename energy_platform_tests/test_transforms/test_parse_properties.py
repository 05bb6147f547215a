"""Property tests: parsers round-trip arbitrary records and never raise on arbitrary bytes."""

from __future__ import annotations

import csv
import gzip
import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from energy_platform import contract as c
from energy_platform.transforms.batch import RawFile, process_file
from energy_platform.transforms.parse import parse_object
from energy_platform.transforms.pieces import ReadLimits
from energy_platform.transforms.validate import validate_records

from .helpers import NOW

text = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20)
number = st.floats(allow_nan=False, allow_infinity=False, width=64)
records = st.lists(
    st.fixed_dictionaries(
        {c.SITE_ID: text, c.TIMESTAMP: text, c.GENERATED: number, c.CONSUMED: number},
        optional={c.COUNTY: text, c.UNIT: text, c.DEVICE_ID: text},
    ),
    max_size=15,
)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_same(parsed, originals):
    assert parsed.file_error is None
    assert parsed.records_read == len(originals)
    got = parsed.records.to_pylist()
    assert len(got) == len(originals)
    for row, original in zip(got, originals, strict=True):
        for name in c.INPUT_FIELDS:
            value = original.get(name)
            if isinstance(value, float):
                assert float(row[name]) == value
            else:
                assert row[name] == value


def maybe_gzip(key: str, body: bytes, gz: bool) -> tuple[str, bytes]:
    return (key + ".gz", gzip.compress(body)) if gz else (key, body)


@SETTINGS
@given(records, st.booleans())
def test_json_lines_round_trip(originals, gz):
    body = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in originals).encode()
    assert_same(parse_object(*maybe_gzip("raw/a.jsonl", body, gz)), originals)


@SETTINGS
@given(records, st.booleans(), st.booleans())
def test_json_array_round_trip(originals, gz, wrapped):
    doc = {"records": originals} if wrapped else originals
    body = json.dumps(doc, ensure_ascii=False).encode()
    parsed = parse_object(*maybe_gzip("raw/a.json", body, gz))
    assert_same(parsed, originals)
    assert parsed.records.column(c.SOURCE_LINE).to_pylist() == list(range(len(originals)))


csv_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\r"),
    min_size=1,
    max_size=20,
)
csv_records = st.lists(
    st.fixed_dictionaries(
        {c.SITE_ID: csv_text, c.TIMESTAMP: csv_text, c.GENERATED: number, c.CONSUMED: number}
    ),
    min_size=1,
    max_size=15,
)


@SETTINGS
@given(csv_records, st.booleans())
def test_csv_round_trip(originals, gz):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(originals[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(
        [{k: repr(v) if isinstance(v, float) else v for k, v in r.items()} for r in originals]
    )
    assert_same(parse_object(*maybe_gzip("raw/a.csv", out.getvalue().encode(), gz)), originals)


@settings(max_examples=50, deadline=None)
@given(
    st.sampled_from(["a.json", "a.jsonl", "a.ndjson", "a.csv", "a.json.gz", "a.csv.gz", "a.bin"]),
    st.binary(max_size=300) | st.text(max_size=200).map(str.encode),
)
def test_arbitrary_bytes_never_raise_and_every_record_is_accounted_for(key, body):
    parsed = parse_object(key, body)
    result = validate_records(parsed, key, 1, NOW)
    assert result.records_read == parsed.records_read


@settings(max_examples=30, deadline=None)
@given(st.lists(st.text(alphabet='{}[]":,0123456789 \nabtruefalsn\\', max_size=40), max_size=8))
def test_json_like_lines_never_raise(lines):
    body = "\n".join(lines).encode()
    parsed = parse_object("raw/a.jsonl", body)
    assert validate_records(parsed, "raw/a.jsonl", 1, NOW).records_read == parsed.records_read


HEADER = "site_id,timestamp,energy_generated_kwh,energy_consumed_kwh\n"
careless_cell = st.text(alphabet='ab 1.,"\n\u00e9', max_size=8)
careless_csv = st.lists(st.lists(careless_cell, min_size=1, max_size=5), max_size=12).map(
    lambda rows: HEADER + "\n".join(",".join(cells) for cells in rows)
)


def _streamed(key: str, body: bytes, piece_bytes: int, chunk: int):
    f = RawFile(
        key, "e", 1, chunks=lambda: (body[i : i + chunk] for i in range(0, len(body), chunk))
    )
    return process_file(f, NOW, ReadLimits(piece_bytes=piece_bytes))


@settings(max_examples=80, deadline=None)
@given(careless_csv, st.integers(16, 200), st.integers(1, 64))
def test_quotes_anywhere_give_the_records_of_a_whole_file_tokenizer(text, piece_bytes, chunk):
    """Quotes placed anywhere, the file cut into tiny pieces and chunks: the records read are
    those Python's csv module finds in the whole file at once, and each ends clean or
    quarantined."""
    rows = list(csv.reader(io.StringIO(text, newline="")))[1:]
    expected = sum(1 for row in rows if row)  # an empty row is a blank line, not a record
    result, read = _streamed("raw/a.csv", text.encode(), piece_bytes, chunk)
    assert read == expected
    assert len(result.clean) + len(result.quarantined) == read


@settings(max_examples=50, deadline=None)
@given(
    st.sampled_from(["a.json", "a.jsonl", "a.csv", "a.jsonl.gz", "a.csv.gz"]),
    st.binary(max_size=400),
    st.integers(16, 200),
    st.integers(1, 64),
)
def test_arbitrary_bytes_streamed_in_pieces_are_all_accounted_for(key, body, piece_bytes, chunk):
    result, read = _streamed(f"raw/{key}", body, piece_bytes, chunk)
    assert len(result.clean) + len(result.quarantined) == read
