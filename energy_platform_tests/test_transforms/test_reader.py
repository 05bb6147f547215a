"""The one reader: a raw object read in bounded pieces gives exactly what the whole body gives,
and hostile bytes end as rejects or a quarantined file, never as an exception."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from energy_platform import contract as c
from energy_platform.transforms.batch import RawFile, process_batch, process_file
from energy_platform.transforms.parse import parse_object
from energy_platform.transforms.pieces import Lines, ReadLimits, decompressed, line_pieces
from energy_platform.transforms.validate import validate_records

from .helpers import NOW, record


def _chunks(body: bytes, size: int) -> list[bytes]:
    return [body[i : i + size] for i in range(0, len(body), size)]


def _assert_same_as_whole(key: str, body: bytes, piece_bytes: int = 600, chunk: int = 97) -> None:
    parsed = parse_object(key, body)
    whole = validate_records(parsed, key, 5, NOW)
    f = RawFile(key, "e", 5, chunks=lambda: iter(_chunks(body, chunk)))
    for limits in (ReadLimits(piece_bytes=piece_bytes), ReadLimits(piece_lines=3)):
        streamed, read = process_file(f, NOW, limits)
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
    result, read = process_file(f, NOW, ReadLimits(piece_bytes=len(lines[0]) + 2))
    assert read == 6
    assert result.clean[c.SOURCE_LINE].tolist() == [2, 3, 4, 5, 6]  # line 1 is bad_number
    assert result.quarantined[c.SOURCE_LINE].tolist() == [1]


def test_reject_names_the_files_line_not_the_pieces() -> None:
    body = ("\n".join([*_lines(20), "{oops", *_lines(5)]) + "\n").encode()
    f = RawFile("raw/a.jsonl", "e", 5, chunks=lambda: iter(_chunks(body, 50)))
    result, _ = process_file(f, NOW, ReadLimits(piece_bytes=500))
    rejected = result.quarantined[result.quarantined[c.REASON] == c.Reason.UNPARSEABLE_RECORD]
    assert rejected[c.SOURCE_LINE].tolist() == [21]
    assert rejected[c.DETAIL].iloc[0].startswith("not valid JSON")


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
        assert b"".join(decompressed(_chunks(members, size), True, ReadLimits())) == b"a\nb\nc\n"


def test_pieces_hold_whole_lines_and_stay_bounded() -> None:
    body = ("\n".join(_lines(200)) + "\n").encode()
    out = list(line_pieces(_chunks(body, 50), ReadLimits(piece_bytes=1000)))
    assert len(out) > 5
    assert all(isinstance(p, Lines) for p in out)
    assert all(p.body.endswith(b"\n") and len(p.body) < 1000 + 50 + 200 for p in out)
    assert b"".join(p.body for p in out) == body
    assert [p.first_line for p in out] == [
        1 + sum(q.body.count(b"\n") for q in out[:i]) for i in range(len(out))
    ]


# --- hostile bytes -----------------------------------------------------------------------------

CSV_HEADER = "site_id,timestamp,energy_generated_kwh,energy_consumed_kwh,county\n"


def _csv_rows(n: int, county: str = "Kern") -> str:
    return "".join(f"s-{i},2024-06-01T00:{i % 60:02d}:00Z,1,0.5,{county}\n" for i in range(n))


def _read(key: str, body: bytes, limits: ReadLimits | None = None, chunk: int = 1 << 20):
    f = RawFile(key, "e", 5, chunks=lambda: iter(_chunks(body, chunk)))
    return process_file(f, NOW, limits)


def test_quote_inside_an_unquoted_field_is_text_and_merges_no_lines() -> None:
    body = (
        CSV_HEADER + _csv_rows(3) + 's-x,2024-06-01T01:00:00Z,1,0.5,12" panel\n' + _csv_rows(3)
    ).encode()
    result, read = _read("raw/a.csv", body)
    assert read == 7 and len(result.clean) == 7 and result.quarantined.empty
    assert '12" panel' in result.clean[c.COUNTY].tolist()
    assert result.clean[c.SOURCE_LINE].tolist() == list(range(2, 9))


def test_unclosed_quote_ends_at_the_record_cap_and_the_rest_is_read() -> None:
    broken = 's-x,2024-06-01T01:00:00Z,1,0.5,"never closed\n'
    rows = _csv_rows(100_000)  # about 4 MB after the broken record
    body = (CSV_HEADER + broken + rows).encode()
    result, read = _read("raw/a.csv", body, ReadLimits(piece_bytes=1 << 20))
    too_long = result.quarantined[result.quarantined[c.REASON] == c.Reason.RECORD_TOO_LONG]
    assert too_long[c.SOURCE_LINE].tolist() == [2]
    # the broken record swallows the rows up to the one that crosses the record cap
    sizes = np.cumsum([len(broken)] + [len(r) + 1 for r in rows.splitlines()])
    swallowed = int(np.searchsorted(sizes, c.MAX_RECORD_BYTES, side="right"))
    assert len(result.clean) == 100_000 - swallowed
    assert result.clean[c.SOURCE_LINE].iloc[0] == 3 + swallowed
    assert read == len(result.clean) + len(result.quarantined) == 100_000 - swallowed + 1


def test_unclosed_quote_at_the_end_of_the_file_is_one_reject() -> None:
    body = (CSV_HEADER + _csv_rows(5) + 's-x,2024-06-01T01:00:00Z,1,0.5,"open\nmore\n').encode()
    result, read = _read("raw/a.csv", body)
    assert (read, len(result.clean), len(result.quarantined)) == (6, 5, 1)
    assert result.quarantined[c.DETAIL].tolist() == ["quoted value never closed"]


def test_lone_surrogate_escape_rejects_its_line_only() -> None:
    good = json.dumps(record())
    bad = good[:-1] + ', "county": "\\udc00"}'
    result, read = _read("raw/a.jsonl", f"{good}\n{bad}\n{good}\n".encode())
    assert (read, len(result.clean), len(result.quarantined)) == (3, 2, 1)
    assert "surrogate" in result.quarantined[c.DETAIL].iloc[0]


def test_lone_surrogate_escape_in_a_json_document_rejects_its_element_only() -> None:
    good = json.dumps(record())
    bad = good[:-1] + ', "county": "\\udc00"}'
    result, read = _read("raw/a.json", f"[{good}, {bad}, {good}]".encode())
    assert (read, len(result.clean), len(result.quarantined)) == (3, 2, 1)
    assert result.quarantined[c.SOURCE_LINE].tolist() == [1]


def test_field_over_16_mib_is_one_record_too_long_and_the_next_rows_are_read() -> None:
    huge = "x" * (17 << 20)
    body = (
        CSV_HEADER + _csv_rows(2) + f"s-x,2024-06-01T01:00:00Z,1,0.5,{huge}\n" + _csv_rows(2)
    ).encode()
    result, read = _read("raw/a.csv", body)
    assert (read, len(result.clean)) == (5, 4)
    (reason,) = result.quarantined[c.REASON].tolist()
    assert reason == c.Reason.RECORD_TOO_LONG
    assert len(result.quarantined[c.RAW_RECORD].iloc[0].encode()) <= c.MAX_RECORD_BYTES


def test_gzip_bomb_is_quarantined_whole_by_ratio() -> None:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    bomb = b"".join(packer.compress(zeros) for _ in range(512)) + packer.flush()  # 512 MiB
    result, read = _read("raw/bomb.jsonl.gz", bomb)
    assert read == 1 and result.clean.empty
    assert result.quarantined[c.REASON].tolist() == [c.Reason.DECOMPRESSION_BOMB]


def test_file_over_the_size_cap_is_quarantined_whole() -> None:
    body = ("\n".join(_lines(100)) + "\n").encode()
    result, read = _read("raw/a.jsonl", body, ReadLimits(max_file_bytes=1000, piece_bytes=300))
    assert read == 1 and result.clean.empty
    assert result.quarantined[c.REASON].tolist() == [c.Reason.FILE_TOO_LARGE]


def test_an_error_while_reading_quarantines_that_file_not_the_batch() -> None:
    def broken() -> Iterator[bytes]:
        yield ("\n".join(_lines(3)) + "\n").encode()
        raise MemoryError("no room")

    files = [
        RawFile("raw/broken.jsonl", "e", 5, chunks=broken),
        RawFile("raw/good.jsonl", "e", 5, body=("\n".join(_lines(3)) + "\n").encode()),
    ]
    result = process_batch(files, NOW)
    by_file = result.files.set_index(c.SOURCE_KEY)
    assert by_file.loc["raw/broken.jsonl", "quarantined"] == 1
    assert result.quarantined[c.REASON].tolist() == [c.Reason.UNPARSEABLE_FILE, c.Reason.BAD_NUMBER]
    assert "MemoryError" in result.quarantined[c.DETAIL].iloc[0]
    assert by_file.loc["raw/good.jsonl", "cleaned"] == 2
