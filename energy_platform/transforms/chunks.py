"""A raw object as a stream of bounded pieces of whole records, so memory does not grow with
the file.

JSON lines and CSV are split on line boundaries (CSV: only where no quoted value is open, and
each later piece repeats the header line); gzip is decompressed as it streams. Each piece is
parsed by `parse.parse_decompressed` and its line numbers (and the details that quote them)
are shifted to the file's, so the pieces of a file give exactly what the whole file gives. A
JSON document (`.json`) is one value and is read whole.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from energy_platform import contract as c
from energy_platform.transforms.parse import (
    BOM,
    FileError,
    ParsedFile,
    file_error,
    object_format,
    parse_decompressed,
    parse_object,
)

PIECE_BYTES = 32 << 20
"""Decompressed bytes per piece (a piece holds at least one whole line)."""
_INFLATE_STEP = 8 << 20
"""At most this many decompressed bytes per zlib call (a small gzip can inflate hugely)."""
_LINE_DETAIL = re.compile(r"^line (\d+):")
_UTF8_DETAIL = re.compile(r"invalid UTF-8 at byte (\d+)$")


@dataclass(frozen=True)
class Piece:
    body: bytes
    """Whole lines; for CSV after the first piece, the header line first."""
    line_offset: int
    """Added to a line number in `body` gives the line number in the file."""
    byte_offset: int
    """Added to a byte position in `body` gives the position in the decompressed file."""


def gunzip_stream(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """Decompressed bytes of every gzip member, as `parse._gunzip` (same errors, same padding
    rule: trailing zero bytes after a member are ignored), without holding the whole body."""
    total = 0  # compressed bytes seen
    member_start = 0  # compressed offset where the current member began
    d: Any = zlib.decompressobj(wbits=31)
    held = b""  # bytes after a finished member, all zeros so far

    def inflate(data: bytes) -> Iterator[bytes]:
        nonlocal d, member_start, held
        while data:
            if d is None:
                if not data.strip(b"\x00"):
                    held += data
                    return
                data, held = held + data, b""
                d = zlib.decompressobj(wbits=31)
            try:
                out = d.decompress(data, _INFLATE_STEP)
                while d.unconsumed_tail:
                    yield out
                    out = d.decompress(d.unconsumed_tail, _INFLATE_STEP)
                yield out
            except zlib.error as e:
                raise ValueError(f"gzip stream corrupt after byte {member_start}: {e}") from e
            if not d.eof:
                return
            data = d.unused_data
            member_start = total - len(data)
            d = None

    for chunk in chunks:
        total += len(chunk)
        yield from inflate(bytes(chunk))
    if d is not None and total:  # an empty body is zero bytes, as parse._gunzip has it
        try:
            out = d.flush()
        except zlib.error as e:
            raise ValueError(f"gzip stream corrupt after byte {member_start}: {e}") from e
        if out:
            yield out
        if not d.eof:
            raise ValueError(f"gzip stream truncated at byte {total}")


def _csv_split(data: bytes) -> int:
    """Index just after the last newline of `data` outside quotes (an even number of quotes
    before it, as parse counts them), or 0 when there is none. `data` starts outside quotes."""
    end = len(data)
    while True:
        nl = data.rfind(b"\n", 0, end)
        if nl < 0:
            return 0
        if data.count(b'"', 0, nl) % 2 == 0:
            return nl + 1
        end = nl


def pieces(
    stream: Iterable[bytes], is_csv: bool, piece_bytes: int = PIECE_BYTES
) -> Iterator[Piece]:
    """Pieces of about `piece_bytes` (more when one record is longer) of a decompressed stream.

    Each later piece starts with one extra line (JSON lines: an empty line, so a BOM-like
    first line is not taken for a BOM; CSV: the header), which its line offset accounts for.
    A CSV whose header is not on the first line or holds a quote is one piece.
    """
    parts: list[bytes] = []
    size = 0
    lines_before = 0
    bytes_before = 0
    header: bytes | None = None  # CSV header line with its terminator, once known
    chunkable = True

    def emit(data: bytes, first: bool) -> Piece:
        if first:
            return Piece(data, 0, 0)
        prefix = header if is_csv else b"\n"
        assert prefix is not None
        return Piece(prefix + data, lines_before - 1, bytes_before - len(prefix))

    for chunk in stream:
        if not chunk:
            continue
        parts.append(bytes(chunk))
        size += len(chunk)
        if size < piece_bytes:
            continue
        data = b"".join(parts)
        first = bytes_before == 0
        if is_csv and first and header is None:
            start = len(BOM) if data.startswith(BOM) else 0
            nl = data.find(b"\n", start)
            if nl < 0:
                parts, size = [data], len(data)
                continue
            line = data[start : nl + 1]
            chunkable = line.strip() != b"" and b'"' not in line
            header = line
        if is_csv and not chunkable:
            parts, size = [data], len(data)
            continue
        split = _csv_split(data) if is_csv else data.rfind(b"\n") + 1
        if split <= 0:
            parts, size = [data], len(data)
            continue
        head, rest = data[:split], data[split:]
        yield emit(head, first)
        lines_before += head.count(b"\n")
        bytes_before += len(head)
        parts, size = ([rest], len(rest)) if rest else ([], 0)
    data = b"".join(parts)
    if data or bytes_before == 0:
        yield emit(data, bytes_before == 0)


def _shift(parsed: ParsedFile, piece: Piece) -> ParsedFile:
    """The piece's line numbers as the file's."""
    if piece.line_offset == 0:
        return parsed
    records = parsed.records
    if records.num_rows:
        shifted = pc.add(records.column(c.SOURCE_LINE), piece.line_offset)
        records = records.set_column(0, c.SOURCE_LINE, shifted)
    rejects = parsed.rejects
    if rejects.num_rows:
        lines = pc.add(rejects.column(c.SOURCE_LINE), piece.line_offset)
        details = [
            _LINE_DETAIL.sub(lambda m: f"line {int(m.group(1)) + piece.line_offset}:", d)
            for d in rejects.column(c.DETAIL).to_pylist()
        ]
        rejects = pa.table(
            [lines, rejects.column(c.RAW_RECORD), pa.array(details, pa.string())],
            schema=rejects.schema,
        )
    return ParsedFile(records=records, rejects=rejects, raw_terminated=parsed.raw_terminated)


def parse_stream(
    key: str, chunks: Iterable[bytes], piece_bytes: int = PIECE_BYTES
) -> Iterator[ParsedFile]:
    """The records of a raw object read as `chunks`, one ParsedFile per piece.

    A whole-file problem found late (corrupt gzip, invalid UTF-8 in the middle) comes as one
    last ParsedFile with `file_error` set: the caller then discards the earlier pieces, as
    `parse_object` of the whole body would have returned only that error.
    """
    fmt, gzipped = object_format(key)
    if fmt is None or fmt == ".json":
        yield parse_object(key, b"".join(chunks))
        return
    stream: Iterable[bytes] = gunzip_stream(chunks) if gzipped else chunks
    try:
        for piece in pieces(stream, fmt == ".csv", piece_bytes):
            parsed = parse_decompressed(key, fmt, piece.body)
            if parsed.file_error is not None:
                detail = parsed.file_error.detail
                m = _UTF8_DETAIL.search(detail)
                if m and piece.byte_offset:
                    at = int(m.group(1)) + piece.byte_offset
                    detail = detail[: m.start(1)] + str(at)
                yield ParsedFile(file_error=FileError(parsed.file_error.reason, detail))
                return
            yield _shift(parsed, piece)
    except ValueError as e:
        yield file_error(key, str(e))
