"""Bounded quarantine: a quarantined record keeps at most MAX_QUARANTINED_RAW_BYTES of its raw
text (whole characters), with the full text's length and SHA-256."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.schemas import MAX_QUARANTINED_RAW_BYTES as LIMIT
from energy_platform.schemas import RAW_BYTES, RAW_SHA256
from energy_platform.transforms.parse import REJECTS_SCHEMA, parse_object
from energy_platform.transforms.quarantine import (
    _utf8_prefix,
    bounded_raw,
    quarantine_jsonl,
    quarantine_rows,
    reject_rows,
)
from energy_platform.transforms.validate import validate_records

from .helpers import NOW

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def bounded(text: str | None) -> tuple[str, int, str]:
    kept, lengths, digests = bounded_raw(pa.array([text], pa.string()))
    return kept[0].as_py(), lengths[0].as_py(), digests[0].as_py()


def sha(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("", ""),
        ("abc", "abc"),
        ("x" * LIMIT, "x" * LIMIT),
        ("x" * (LIMIT + 1), "x" * LIMIT),
        ("x" * (LIMIT - 1) + "é", "x" * (LIMIT - 1)),  # é (2 bytes) would end past the limit
        ("x" * (LIMIT - 2) + "é", "x" * (LIMIT - 2) + "é"),  # ... or exactly at it
        ("x" * (LIMIT - 3) + "😀", "x" * (LIMIT - 3)),  # 4 bytes, 1 past the limit
        ("x" * (LIMIT - 1) + "😀" * 3, "x" * (LIMIT - 1)),
        ("é" * LIMIT, "é" * (LIMIT // 2)),
        ("€" * LIMIT, "€" * (LIMIT // 3)),
    ],
)
def test_kept_text_is_the_longest_whole_character_prefix_within_the_limit(
    text: str, kept: str
) -> None:
    assert bounded(text) == (kept, len(text.encode()), sha(text))


def test_length_and_sha256_are_of_the_full_text() -> None:
    text = "ünïcödé " * 50_000
    kept, length, digest = bounded(text)
    assert len(kept.encode()) <= LIMIT and text.startswith(kept)
    assert length == len(text.encode()) == 600_000
    assert digest == hashlib.sha256(text.encode()).hexdigest()


def test_null_reads_as_empty_text() -> None:
    assert bounded(None) == ("", 0, EMPTY_SHA256)


def test_chunked_large_and_binary_inputs_give_the_same() -> None:
    texts = ["a", "é" * LIMIT, "", "😀" * 20_000]
    expected = [bounded(t) for t in texts]
    for raw in (
        pa.chunked_array([texts[:2], texts[2:]], pa.string()),
        pa.array(texts, pa.large_string()),
        pa.array([t.encode() for t in texts], pa.binary()),
        pa.array([t.encode() for t in texts], pa.large_binary()),
    ):
        kept, lengths, digests = bounded_raw(raw)
        assert kept.type == pa.string()
        rows = zip(kept.to_pylist(), lengths.to_pylist(), digests.to_pylist(), strict=True)
        assert list(rows) == expected


def test_bytes_not_utf8_are_hashed_as_they_are_and_kept_as_replacement_characters() -> None:
    data = b"ok\xff\xfe" + b"\xc3" * (2 * LIMIT)
    kept, lengths, digests = bounded_raw(pa.array([data, b"fine"], pa.binary()))
    assert kept[0].as_py().startswith("ok\ufffd\ufffd")
    assert len(kept[0].as_py().encode()) <= LIMIT
    assert kept[1].as_py() == "fine"
    assert lengths.to_pylist() == [len(data), 4]
    assert digests.to_pylist() == [sha(data), sha(b"fine")]


@given(st.text(), st.integers(min_value=0, max_value=40))
def test_utf8_prefix_is_the_longest_whole_character_prefix(text: str, limit: int) -> None:
    text = text.encode("utf-8", "replace").decode()  # no lone surrogates
    kept = _utf8_prefix(pa.py_buffer(text.encode()), limit)
    assert text.startswith(kept)
    assert len(kept.encode()) <= limit
    if len(kept) < len(text):
        assert len(text[: len(kept) + 1].encode()) > limit


def quarantined(raw: str, **columns: object) -> pd.DataFrame:
    row = {
        c.SOURCE_KEY: "raw/a.jsonl",
        c.SOURCE_LINE: 3,
        c.REASON: c.Reason.UNPARSEABLE_RECORD,
        c.DETAIL: "too long",
        c.RAW_RECORD: raw,
        **columns,
    }
    return pd.DataFrame([row])


def test_jsonl_of_a_10_mb_raw_is_one_short_line_with_the_full_length_and_sha256() -> None:
    raw = "z" * 10_000_000
    body = quarantine_jsonl(quarantined(raw))
    assert body.count(b"\n") == 1 and len(body) < 70_000
    line = json.loads(body)
    assert list(line) == list(schemas.QUARANTINE_FIELDS)
    assert line[c.RAW_RECORD] == "z" * LIMIT
    assert (line[RAW_BYTES], line[RAW_SHA256]) == (10_000_000, sha(raw))


def test_jsonl_keeps_given_lengths_and_hashes_and_stays_deterministic() -> None:
    frame = quarantined("héllo", **{RAW_BYTES: 1234, RAW_SHA256: "ab" * 32})
    body = quarantine_jsonl(frame)
    assert body == quarantine_jsonl(frame.copy())
    assert json.loads(body) == {
        c.SOURCE_KEY: "raw/a.jsonl",
        c.SOURCE_LINE: 3,
        c.REASON: c.Reason.UNPARSEABLE_RECORD,
        c.DETAIL: "too long",
        c.RAW_RECORD: "héllo",
        RAW_BYTES: 1234,
        RAW_SHA256: "ab" * 32,
    }


def test_a_raw_with_line_separators_stays_one_json_line() -> None:
    raw = "a\u2028b\x85c\nd\re\x00"
    body = quarantine_jsonl(quarantined(raw))
    (line,) = body.split(b"\n")[:-1]
    assert json.loads(line)[c.RAW_RECORD] == raw


def test_quarantine_rows_take_a_parsers_full_length_and_sha256_where_given() -> None:
    table = quarantine_rows(
        "raw/a.csv",
        pa.array([1, 2], pa.int64()),
        pa.array(["record_too_long", "bad_number"]),
        pa.array(["d1", "d2"]),
        pa.array(["head of a long one", "x,y"]),
        raw_bytes=pa.array([99_000_000, None], pa.int64()),
        raw_sha256=pa.array(["cd" * 32, None]),
    )
    assert table.schema == schemas.QUARANTINE
    assert table.column(RAW_BYTES).to_pylist() == [99_000_000, 3]
    assert table.column(RAW_SHA256).to_pylist() == ["cd" * 32, sha("x,y")]


def test_reject_rows_default_to_unparseable_record() -> None:
    rejects = pa.Table.from_pylist(
        [{c.SOURCE_LINE: 4, c.RAW_RECORD: "{" * (LIMIT + 10), c.DETAIL: "not JSON"}],
        schema=REJECTS_SCHEMA,
    )
    row = reject_rows("raw/a.jsonl", rejects).to_pylist()[0]
    assert row[c.REASON] == c.Reason.UNPARSEABLE_RECORD
    assert (row[c.RAW_RECORD], row[RAW_BYTES]) == ("{" * LIMIT, LIMIT + 10)


def test_validate_quarantines_a_long_record_bounded_with_its_full_length_and_sha256() -> None:
    county = "é" * 70_000  # 70,000 characters: over the record limit
    long_record = (
        '{"site_id": "s1", "timestamp": "2024-06-01T00:00:00Z", "energy_generated_kwh": 1,'
        f' "energy_consumed_kwh": 1, "county": "{county}"}}'
    )
    broken = "{" + "ö" * 40_000
    body = f"{long_record}\n{broken}\n".encode()
    result = validate_records(parse_object("raw/a.jsonl", body), "raw/a.jsonl", 1, NOW)
    rows = result.quarantined.to_dict("records")
    assert [r[c.SOURCE_LINE] for r in rows] == [1, 2]
    for row, text in zip(rows, (long_record, broken), strict=True):
        assert len(row[c.RAW_RECORD].encode()) <= LIMIT and text.startswith(row[c.RAW_RECORD])
        assert len(row[c.RAW_RECORD].encode()) > LIMIT - 4
        assert (row[RAW_BYTES], row[RAW_SHA256]) == (len(text.encode()), sha(text))


def test_validate_gives_a_file_error_an_empty_raw_of_zero_bytes() -> None:
    result = validate_records(parse_object("raw/a.pdf", b"%PDF"), "raw/a.pdf", 1, NOW)
    (row,) = result.quarantined.to_dict("records")
    assert (row[c.RAW_RECORD], row[RAW_BYTES], row[RAW_SHA256]) == ("", 0, EMPTY_SHA256)
    assert list(result.quarantined.columns) == list(schemas.QUARANTINE_FIELDS)
