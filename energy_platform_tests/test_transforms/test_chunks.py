"""Parsing a raw object in bounded pieces gives exactly what the whole body gives."""

from __future__ import annotations

import gzip
import json

import pandas as pd
import pytest

from energy_platform import contract as c
from energy_platform.transforms.batch import RawFile, process_file
from energy_platform.transforms.chunks import gunzip_stream, pieces
from energy_platform.transforms.parse import _gunzip, parse_object
from energy_platform.transforms.validate import validate_records

from .helpers import NOW, record


def _chunks(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def _assert_same_as_whole(key: str, body: bytes, piece_bytes: int = 600, chunk: int = 97) -> None:
    parsed = parse_object(key, body)
    whole = validate_records(parsed, key, 5, NOW)
    f = RawFile(key, "e", 5, chunks=lambda: iter(_chunks(body, chunk)))
    streamed, read = process_file(f, NOW, piece_bytes=piece_bytes)
    assert read == parsed.records_read
    pd.testing.assert_frame_equal(streamed.clean, whole.clean)
    pd.testing.assert_frame_equal(streamed.quarantined, whole.quarantined)


def _lines(n: int) -> list[str]:
    out = []
    for i in range(n):
        r = record(site_id=f"site-{i % 4}", timestamp=f"2024-06-01T{i % 24:02d}:00:00Z")
        if i % 5 == 0:
            r[c.COUNTY] = "Doña Ana"
        if i % 7 == 0:
            r[c.GENERATED] = "abc"  # quarantined: bad_number
        out.append(json.dumps(r, ensure_ascii=False))
    return out


JSONL_CASES = {
    "plain": "\n".join(_lines(40)) + "\n",
    "no_final_newline": "\n".join(_lines(40)),
    "crlf_blank_and_bad_lines": "\r\n".join(
        [*_lines(10), "", "{not json", "[1]", "  ", *_lines(10)]
    ),
    "bom": "\ufeff" + "\n".join(_lines(30)) + "\n",
    "long_line": "\n".join([*_lines(3), json.dumps(record(county="x" * 500)), *_lines(3)]),
}


@pytest.mark.parametrize("case", sorted(JSONL_CASES))
@pytest.mark.parametrize("gz", [False, True])
def test_json_lines_in_pieces_equal_the_whole_file(case: str, gz: bool) -> None:
    body = JSONL_CASES[case].encode()
    key = "raw/a.jsonl"
    if gz:
        body, key = gzip.compress(body), key + ".gz"
    _assert_same_as_whole(key, body)


def _csv(rows: int, quoted_newlines: bool = False) -> str:
    lines = ["site_id,timestamp,energy_generated_kwh,energy_consumed_kwh,county"]
    for i in range(rows):
        county = '"Line\nbreak, ""quoted"""' if quoted_newlines and i % 6 == 0 else "Kern"
        gen = "1.5" if i % 9 else "x"
        lines.append(f"site-{i % 3},2024-06-01T{i % 24:02d}:05:00Z,{gen},0.5,{county}")
        if i % 11 == 0:
            lines.append("too,few")
    return "\n".join(lines) + "\n"


CSV_CASES = {
    "plain": _csv(40),
    "quoted_newlines": _csv(40, quoted_newlines=True),
    "crlf": _csv(30).replace("\n", "\r\n"),
    "bom": "\ufeff" + _csv(30),
    "quote_in_header": '"site_id",timestamp,energy_generated_kwh,energy_consumed_kwh\ns,1,1,1\n' * 1
    + "s,2,1,1\n" * 30,
    "header_only": "site_id,timestamp\n",
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_csv_in_pieces_equals_the_whole_file(case: str) -> None:
    _assert_same_as_whole("raw/a.csv", CSV_CASES[case].encode())


def test_record_spanning_a_chunk_boundary_keeps_its_line_number() -> None:
    lines = _lines(6)
    body = ("\n".join(lines) + "\n").encode()
    cut = len(lines[0]) + 1 + len(lines[1]) // 2  # the second record is split across chunks
    f = RawFile("raw/a.jsonl", "e", 5, chunks=lambda: iter([body[:cut], body[cut:]]))
    result, read = process_file(f, NOW, piece_bytes=len(lines[0]) + 2)
    assert read == 6
    assert result.clean[c.SOURCE_LINE].tolist() == [2, 3, 4, 5, 6]  # line 1 is bad_number
    assert result.quarantined[c.SOURCE_LINE].tolist() == [1]


def test_reject_detail_names_the_files_line_not_the_pieces() -> None:
    body = ("\n".join([*_lines(20), "{oops", *_lines(5)]) + "\n").encode()
    f = RawFile("raw/a.jsonl", "e", 5, chunks=lambda: iter(_chunks(body, 50)))
    result, _ = process_file(f, NOW, piece_bytes=500)
    rejected = result.quarantined[result.quarantined[c.REASON] == c.Reason.UNPARSEABLE_RECORD]
    assert rejected[c.SOURCE_LINE].tolist() == [21]
    assert rejected[c.DETAIL].iloc[0].startswith("line 21: not valid JSON")


@pytest.mark.parametrize(
    "key,body",
    [
        ("raw/a.jsonl", b""),
        ("raw/a.csv", b""),
        ("raw/a.jsonl.gz", b""),
        ("raw/a.jsonl", ("\n".join(_lines(30)) + '\n{"site_id": "\xff"}\n').encode("latin-1")),
        ("raw/a.jsonl.gz", gzip.compress(("\n".join(_lines(40)) + "\n").encode())[:-30]),
        (
            "raw/a.jsonl.gz",
            gzip.compress("\n".join(_lines(40)).encode())[:200] + b"zz" * 50,
        ),
        ("raw/a.json", json.dumps([record(), record()]).encode()),
        ("raw/a.xml", b"<a/>"),
    ],
    ids=[
        "empty_jsonl",
        "empty_csv",
        "empty_gz",
        "bad_utf8_late",
        "truncated_gz",
        "corrupt_gz",
        "json",
        "xml",
    ],
)
def test_whole_file_outcomes_are_the_same_streamed(key: str, body: bytes) -> None:
    _assert_same_as_whole(key, body)


def test_multi_member_gzip_with_zero_padding_streams_as_one_body() -> None:
    members = gzip.compress(b"a\nb\n") + gzip.compress(b"c\n") + b"\x00" * 20
    for size in (1, 3, 1000):
        assert b"".join(gunzip_stream(_chunks(members, size))) == _gunzip(members)


def test_pieces_hold_whole_lines_and_stay_bounded() -> None:
    body = ("\n".join(_lines(200)) + "\n").encode()
    out = list(pieces(_chunks(body, 50), is_csv=False, piece_bytes=1000))
    assert len(out) > 5
    assert all(p.body.endswith(b"\n") and len(p.body) < 1000 + 50 + 200 for p in out)
    assert b"".join(p.body[1:] if i else p.body for i, p in enumerate(out)) == body
