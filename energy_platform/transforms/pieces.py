"""Raw object bytes -> bounded pieces of whole lines, and CSV record boundaries.

The byte level of the one reader (`parse.read_object`): gzip is decoded once, as it streams,
under a cap on the decompressed size and on the inflation ratio; the decompressed stream is
cut into pieces of about `ReadLimits.piece_bytes` that end at a line end; a line longer than
`ReadLimits.max_record_bytes` never enters a piece: it is streamed past, keeping its first
bytes, its size and its SHA-256. CSV record boundaries come from Python's `csv` tokenizer
(RFC 4180: a quote opens a quoted value only at the start of a field) on the few lines that
hold a quote or a bare CR; every other line is one record.
"""

from __future__ import annotations

import csv
import hashlib
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from energy_platform import contract as c

_SCAN_CHUNK = 1 << 20
"""Bytes per step of a numpy scan of a piece: reused buffers that stay in cache."""
_INFLATE_STEP = 4 << 20
"""At most this many decompressed bytes per zlib call (a small gzip can inflate hugely)."""
_RATIO_FLOOR = 16 << 20
"""The inflation ratio is judged only past this many decompressed bytes."""


@dataclass(frozen=True)
class ReadLimits:
    """What one raw file may cost; past a cap the file or record is quarantined."""

    max_file_bytes: int = 1 << 30
    """Decompressed bytes of one file (`file_too_large` past it). A batch's clean and
    quarantined rows are held until written, so this also bounds an ingest run's memory
    (the memory benchmark: 1 GB of JSON lines peaks at about 1.3 GB)."""
    max_inflate_ratio: float = 200.0
    """Decompressed / compressed bytes of a gzip file (`decompression_bomb` past it)."""
    max_record_bytes: int = c.MAX_RECORD_BYTES
    """Bytes of one record (`record_too_long` past it)."""
    piece_bytes: int = 32 << 20
    """Decompressed bytes per piece: what memory a file needs is bounded by this..."""
    piece_lines: int = 1 << 20
    """... and by this many lines per piece (a line costs some bytes of index)."""
    max_document_bytes: int = 256 << 20
    """A `.json` document is one value, read whole: at most this many bytes."""


class LimitExceeded(Exception):
    """A cap of `ReadLimits` was passed: the file is quarantined with `reason`."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class CorruptFile(Exception):
    """The bytes cannot be decoded at all (a broken gzip stream)."""


def decompressed(chunks: Iterable[bytes], gzipped: bool, limits: ReadLimits) -> Iterator[bytes]:
    """The file's bytes, gzip undone (every member; zero bytes after a member are padding),
    in blocks of at most a few MiB; raises LimitExceeded or CorruptFile."""
    produced = 0

    def counted(block: bytes) -> bytes:
        nonlocal produced
        produced += len(block)
        if produced > limits.max_file_bytes:
            raise LimitExceeded(
                c.Reason.FILE_TOO_LARGE,
                f"more than {limits.max_file_bytes:,} bytes"
                + (" once decompressed" if gzipped else ""),
            )
        return block

    if not gzipped:
        for chunk in chunks:
            if chunk:
                yield counted(bytes(chunk))
        return
    for block in _gunzip(chunks):
        yield counted(block.data)
        if produced > _RATIO_FLOOR and produced > limits.max_inflate_ratio * block.consumed:
            raise LimitExceeded(
                c.Reason.DECOMPRESSION_BOMB,
                f"{block.consumed:,} compressed bytes inflate to over {produced:,} "
                f"(more than {limits.max_inflate_ratio:g} times)",
            )


@dataclass(frozen=True)
class _Inflated:
    data: bytes
    consumed: int
    """Compressed bytes used so far."""


def _gunzip(chunks: Iterable[bytes]) -> Iterator[_Inflated]:
    fed = 0  # compressed bytes handed to zlib so far
    member_start = 0
    d: zlib._Decompress | None = zlib.decompressobj(wbits=31)
    held = b""  # bytes after a finished member, all zeros so far

    for chunk in chunks:
        data = bytes(chunk)
        fed += len(data)
        while data:
            if d is None:
                if not data.strip(b"\x00"):
                    held += data
                    break
                data, held = held + data, b""
                member_start = fed - len(data)
                d = zlib.decompressobj(wbits=31)
            try:
                out = d.decompress(data, _INFLATE_STEP)
                while d.unconsumed_tail:
                    yield _Inflated(out, fed - len(d.unconsumed_tail))
                    out = d.decompress(d.unconsumed_tail, _INFLATE_STEP)
            except zlib.error as e:
                raise CorruptFile(f"gzip stream corrupt after byte {member_start}: {e}") from e
            yield _Inflated(out, fed - len(d.unused_data))
            if not d.eof:
                break
            data = d.unused_data
            d = None
    if d is not None and fed:  # an empty body is zero bytes
        try:
            out = d.flush()
        except zlib.error as e:
            raise CorruptFile(f"gzip stream corrupt after byte {member_start}: {e}") from e
        if out:
            yield _Inflated(out, fed)
        if not d.eof:
            raise CorruptFile(f"gzip stream truncated at byte {fed}")


@dataclass(frozen=True)
class Lines:
    """Whole lines of the file (the last one may lack its `\\n` at the end of the file)."""

    body: bytes
    first_line: int
    """The file's line number (1-based) of the body's first line."""
    byte_offset: int
    """Where the body starts in the decompressed file."""
    ends_run: bool
    """No line follows directly: a long line or the end of the file comes next."""


@dataclass(frozen=True)
class LongLine:
    """A line over `max_record_bytes`, streamed past: never held whole."""

    line: int
    head: bytes
    """Its first `max_record_bytes` bytes."""
    size: int
    sha256: str


@dataclass
class _LongLineState:
    line: int
    head: bytearray = field(default_factory=bytearray)
    size: int = 0
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)

    def add(self, data: bytes, keep: int) -> None:
        if len(self.head) < keep:
            self.head += data[: keep - len(self.head)]
        self.size += len(data)
        self.digest.update(data)

    def done(self) -> LongLine:
        return LongLine(self.line, bytes(self.head), self.size, self.digest.hexdigest())


def line_pieces(blocks: Iterable[bytes], limits: ReadLimits) -> Iterator[Lines | LongLine]:
    """The decompressed stream as pieces of whole lines and the long lines between them."""
    splitter = _LineSplitter(limits)
    for block in blocks:
        yield from splitter.feed(block)
    yield from splitter.close()


class _LineSplitter:
    """Collects blocks until a piece is full (bytes or lines), then cuts it after its last
    line end. The line bound keeps the per-line arrays of a piece bounded too (a piece of
    blank lines would otherwise need tens of bytes of index per byte)."""

    def __init__(self, limits: ReadLimits):
        self.limits = limits
        self.parts: list[bytes] = []
        self.size = 0
        self.lines = 0
        """Line ends held in `parts`."""
        self.open_bytes = 0
        """Bytes of the line still open at the end of `parts` (no line end seen yet)."""
        self.line = 1
        """The file line number of the first line held."""
        self.offset = 0
        self.long: _LongLineState | None = None

    def _flush(self, ends_run: bool) -> Iterator[Lines]:
        """The whole lines held as one piece; the open line stays held."""
        data = b"".join(self.parts)
        cut = len(data) - self.open_bytes
        if cut:
            yield Lines(data if cut == len(data) else data[:cut], self.line, self.offset, ends_run)
            self.line += self.lines
            self.offset += cut
        self.parts = [data[cut:]] if cut < len(data) else []
        self.size, self.lines = self.open_bytes, 0

    def feed(self, block: bytes) -> Iterator[Lines | LongLine]:
        if self.long is not None:
            nl = block.find(b"\n")
            if nl < 0:
                self.long.add(block, self.limits.max_record_bytes)
                self.offset += len(block)
                return
            self.long.add(block[:nl], self.limits.max_record_bytes)
            self.offset += nl + 1
            yield self.long.done()
            self.line += 1
            self.long = None
            block = block[nl + 1 :]
        while block:
            room = self.limits.piece_lines - self.lines
            count, full_at = _count_lines(block, room)
            if full_at is not None:  # the piece is full of lines inside this block
                head, block = block[: full_at + 1], block[full_at + 1 :]
                self._hold(head, room, 0)
                yield from self._flush(False)
                continue
            last = block.rfind(b"\n")
            self._hold(
                block, count, self.open_bytes + len(block) if last < 0 else len(block) - last - 1
            )
            block = b""
            if self.open_bytes > self.limits.max_record_bytes:
                yield from self._start_long_line()
            elif self.size >= self.limits.piece_bytes:
                yield from self._flush(False)

    def _hold(self, data: bytes, lines: int, open_bytes: int) -> None:
        self.parts.append(data)
        self.size += len(data)
        self.lines += lines
        self.open_bytes = open_bytes

    def _start_long_line(self) -> Iterator[Lines]:
        yield from self._flush(True)
        self.long = _LongLineState(self.line)
        for part in self.parts:
            self.long.add(part, self.limits.max_record_bytes)
        self.offset += self.size
        self.parts, self.size, self.open_bytes = [], 0, 0

    def close(self) -> Iterator[Lines | LongLine]:
        if self.long is not None:
            yield self.long.done()
        elif self.parts:
            self.open_bytes = 0
            yield from self._flush(True)


def _count_lines(block: bytes, limit: int) -> tuple[int, int | None]:
    """(newlines in `block`, counted up to `limit`; where the `limit`-th one is, if reached)."""
    buf = np.frombuffer(block, dtype=np.uint8)
    count = 0
    for i in range(0, len(buf), _SCAN_CHUNK):
        is_newline = buf[i : i + _SCAN_CHUNK] == 10
        here = int(np.count_nonzero(is_newline))
        if count + here >= limit:
            return limit, i + int(np.flatnonzero(is_newline)[limit - count - 1])
        count += here
    return count, None


def _positions(buf: np.ndarray, byte: int, start: int) -> np.ndarray:
    """Sorted positions of `byte` in buf[start:], scanned in chunks with one reused mask."""
    mask = np.empty(min(_SCAN_CHUNK, max(len(buf) - start, 0)), dtype=bool)
    parts = []
    for i in range(start, len(buf), _SCAN_CHUNK):
        chunk = buf[i : i + _SCAN_CHUNK]
        parts.append(np.flatnonzero(np.equal(chunk, byte, out=mask[: len(chunk)])) + i)
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def line_spans(buf: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per physical line of buf[start:]: [start, end) of its text (no `\\n`, no CR before it)
    and where the next line starts."""
    newlines = _positions(buf, 10, start)
    starts = np.concatenate([[start], newlines + 1]).astype(np.int64)
    ends = np.append(newlines, len(buf)).astype(np.int64)
    if starts[-1] == len(buf):  # the body ends with a newline: no line after it
        starts, ends = starts[:-1], ends[:-1]
    nexts = np.minimum(ends + 1, len(buf))
    nonempty = ends > starts
    cr = np.zeros(len(ends), dtype=bool)
    cr[nonempty] = buf[ends[nonempty] - 1] == 13
    return starts, ends - cr, nexts


@dataclass(frozen=True)
class CsvRecords:
    """The records of a piece of CSV lines, as the tokenizer bounds them."""

    starts: np.ndarray
    ends: np.ndarray
    """[start, end) of each record's text (its last line's terminator excluded)."""
    lines: np.ndarray
    """0-based index in the piece of the physical line where each record starts."""
    token_cells: dict[int, int]
    """Record index -> cells, for the records Python's tokenizer read."""
    problems: dict[int, tuple[str, str]]
    """Record index -> (reason, detail) of records the tokenizer refused."""
    multiline: bool
    """Some record spans lines (a quoted value holds a newline)."""
    carry_from: int | None
    """Byte offset of a record still open at the piece's end (it continues in the next)."""
    sizes: dict[int, tuple[int, str]] = field(default_factory=dict)
    """Record index -> (bytes, sha256) for records cut at the record cap."""

    def cells(self, buf: np.ndarray) -> np.ndarray:
        """Cells per record: commas + 1, or what the tokenizer read (counted when asked: a
        piece whose records all have the header's cells never needs it)."""
        if not len(self.starts):
            return np.empty(0, dtype=np.int64)
        cells = _commas_per_line(buf, self.starts, self.ends, int(self.starts[0])) + 1
        for i, n in self.token_cells.items():
            cells[i] = n
        return cells


def csv_records(body: bytes, start: int, max_record_bytes: int, at_end: bool) -> CsvRecords:
    """Record boundaries and cell counts of body[start:] (whole lines; blank lines skipped).

    Lines without a quote or bare CR are one record each, their cells counted from commas.
    From each other line, Python's csv tokenizer reads one record, over as many lines as a
    quoted value spans: up to `max_record_bytes` (then the record is `record_too_long`, ending
    at the line that crossed the cap), or to the piece's end (`carry_from`; at the file's
    end, `at_end`, the quote was never closed).
    """
    buf = np.frombuffer(body, dtype=np.uint8)
    if start >= len(buf):
        return _no_records()
    starts, ends, nexts = line_spans(buf, start)
    special = _lines_holding_quote(body, buf, starts, start) | _lines_holding_bare_cr(
        body, buf, starts, start
    )
    token_cells: dict[int, int] = {}
    keep = ends > starts  # blank lines are not records
    record_ends = ends.copy()
    problems: dict[int, tuple[str, str]] = {}
    sizes: dict[int, tuple[int, str]] = {}
    carry_from = None
    multiline = False
    skip_until = -1
    for first in sorted(special):
        if first <= skip_until:
            continue
        token = _tokenize(body, starts, nexts, first, max_record_bytes)
        last = first + token.lines - 1
        if token.exhausted and not at_end:
            carry_from = int(starts[first])
            keep[first:] = False
            break
        keep[first + 1 : last + 1] = False
        keep[first] = True
        record_ends[first] = ends[last]
        multiline |= last > first
        skip_until = last
        if token.too_long:
            problems[first] = (
                c.Reason.RECORD_TOO_LONG,
                f"record of more than {max_record_bytes:,} bytes (a quoted value never closed?)",
            )
            sizes[first] = (token.size, token.sha256)
        elif token.exhausted:
            problems[first] = (c.Reason.UNPARSEABLE_RECORD, "quoted value never closed")
        elif token.error is not None:
            problems[first] = (c.Reason.UNPARSEABLE_RECORD, f"not a CSV record ({token.error})")
        else:
            token_cells[first] = token.cells
    index = np.flatnonzero(keep)

    def renumbered(by_line: dict[int, Any]) -> dict[int, Any]:
        return {int(np.searchsorted(index, i)): v for i, v in by_line.items()}

    return CsvRecords(
        starts[index],
        record_ends[index],
        index,
        renumbered(token_cells),
        renumbered(problems),
        multiline,
        carry_from,
        renumbered(sizes),
    )


def _no_records() -> CsvRecords:
    empty = np.empty(0, dtype=np.int64)
    return CsvRecords(empty, empty, empty, {}, {}, False, None)


def _lines_holding_quote(body: bytes, buf: np.ndarray, starts: np.ndarray, start: int) -> set[int]:
    if body.find(b'"', start) < 0:
        return set()
    at = _positions(buf, 34, start)
    return set(np.unique(np.searchsorted(starts, at, side="right") - 1).tolist())


def _lines_holding_bare_cr(
    body: bytes, buf: np.ndarray, starts: np.ndarray, start: int
) -> set[int]:
    """Lines with a CR that is not the one just before their `\\n`."""
    if body.find(b"\r", start) < 0:
        return set()
    at = _positions(buf, 13, start)
    bare = at[(at + 1 >= len(buf)) | (buf[np.minimum(at + 1, len(buf) - 1)] != 10)]
    bare = bare[bare + 1 < len(buf)]  # a CR ending the body is a line end cut by the piece
    return set(np.unique(np.searchsorted(starts, bare, side="right") - 1).tolist())


def _commas_per_line(
    buf: np.ndarray, starts: np.ndarray, ends: np.ndarray, start: int
) -> np.ndarray:
    """Commas up to each end since the previous one (from `start` for the first): the commas of
    each span when only line ends lie between spans. A running count read at the ends, chunked
    with reused buffers."""
    size = min(_SCAN_CHUNK, len(buf) - start)
    is_comma = np.empty(size, dtype=bool)
    running = np.empty(size, dtype=np.int64)
    at_end = np.empty(len(ends), dtype=np.int64)
    total = 0
    bounds = np.searchsorted(ends, np.arange(start, len(buf) + _SCAN_CHUNK, _SCAN_CHUNK))
    for k, i in enumerate(range(start, len(buf), _SCAN_CHUNK)):
        chunk = buf[i : i + _SCAN_CHUNK]
        m = len(chunk)
        np.cumsum(np.equal(chunk, 44, out=is_comma[:m]), out=running[:m])
        lo, hi = bounds[k], bounds[k + 1]
        inside = ends[lo:hi] - i
        at_end[lo:hi] = np.where(inside > 0, running[np.maximum(inside - 1, 0)], 0) + total
        total += int(running[m - 1])
    at_end[bounds[-1] :] = total
    before = np.concatenate([[0], at_end[:-1]])
    # commas between a line's end and the next line's start (none: only CR/LF there)
    return at_end - before


@dataclass(frozen=True)
class _Token:
    lines: int
    cells: int
    error: str | None
    exhausted: bool
    too_long: bool
    size: int
    sha256: str


def _tokenize(body: bytes, starts: np.ndarray, nexts: np.ndarray, first: int, cap: int) -> _Token:
    """One record from line `first` by Python's csv tokenizer (lenient like pyarrow's)."""
    state = {"lines": 0, "size": 0, "exhausted": False, "too_long": False}
    digest = hashlib.sha256()

    def feed() -> Iterator[str]:
        for j in range(first, len(starts)):
            data = body[starts[j] : nexts[j]]
            state["lines"] += 1
            state["size"] += len(data)
            digest.update(data)
            if state["size"] > cap:
                state["too_long"] = True
                return
            yield data.decode("utf-8")
        state["exhausted"] = True

    reader = csv.reader(feed(), strict=False)
    error = None
    cells = 0
    try:
        cells = len(next(reader, []))
    except csv.Error as e:
        error = str(e)
    return _Token(
        max(state["lines"], 1),
        cells,
        error,
        bool(state["exhausted"]) and not state["too_long"],
        bool(state["too_long"]),
        int(state["size"]),
        digest.hexdigest(),
    )
