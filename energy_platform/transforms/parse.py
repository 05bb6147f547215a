"""Raw object bytes -> one row per record with every contract field as text: the one reader.

`read_object` streams any supported object: `pieces` decodes gzip once and cuts the stream
into bounded pieces of whole lines (CSV: whole records, bounded by Python's csv tokenizer);
each piece is parsed here, vectorized: JSON fields by DuckDB's `from_json` (one parse per
line; Python's parser only for the lines DuckDB refuses), CSV cells by pyarrow.csv. Every
record ends as a row of `records` or of `rejects` (line, reason, detail, raw), and
`records_read` is counted apart from both (non-blank physical lines, tokenizer records,
array items), so a record the parsing loses shows as a file that does not add up.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from energy_platform import contract as c
from energy_platform.schemas import RAW_BYTES, RAW_SHA256
from energy_platform.transforms.duck import connection
from energy_platform.transforms.pieces import (
    CorruptFile,
    CsvRecords,
    LimitExceeded,
    Lines,
    LongLine,
    ReadLimits,
    csv_records,
    decompressed,
    line_pieces,
    line_spans,
)

BOM = b"\xef\xbb\xbf"

RECORDS_SCHEMA = pa.schema(
    [(c.SOURCE_LINE, pa.int64()), (c.RAW_RECORD, pa.string())]
    + [(name, pa.string()) for name in c.INPUT_FIELDS]
)
REJECTS_SCHEMA = pa.schema(
    [
        (c.SOURCE_LINE, pa.int64()),
        (c.RAW_RECORD, pa.string()),
        (c.DETAIL, pa.string()),
        (c.REASON, pa.string()),
        (RAW_BYTES, pa.int64()),
        (RAW_SHA256, pa.string()),
    ]
)
"""Records that are not records at all; raw_bytes and raw_sha256 are set when `raw` is only
the head of a record too long to hold (null: `raw` is the whole record)."""


@dataclass(frozen=True)
class FileError:
    """Why a whole file is quarantined."""

    reason: str
    """`contract.FILE_REASONS`: unsupported_format, unparseable_file, file_too_large, ..."""
    detail: str
    """What is wrong and where, e.g. `gzip stream truncated at byte 1234`."""


@dataclass(frozen=True)
class ParsedFile:
    """Records found in (a piece of) one raw object, rejects, or a whole-file error."""

    records: pa.Table = field(default_factory=RECORDS_SCHEMA.empty_table)
    """source_line, raw (the record's original text; see `raw_terminated`), one text column
    per `contract.INPUT_FIELDS` (null when absent or JSON null)."""
    rejects: pa.Table = field(default_factory=REJECTS_SCHEMA.empty_table)
    file_error: FileError | None = None
    raw_terminated: bool = False
    """True when each `raw` is a zero-copy view of the body that still ends with its line's
    `\\n` (no record text itself ends with one then): `raw_texts` gives the exact texts."""
    records_read: int = 0
    """Records the input holds, counted apart from `records` and `rejects` (1 for a file
    error): non-blank lines of JSON lines, tokenizer records of CSV, items of a JSON array."""

    def raw_texts(self, mask: pa.Array | None = None) -> pa.Array:
        """The records' exact original texts (those where `mask` is true), as strings."""
        raw = self.records.column(c.RAW_RECORD)
        return _exact(
            (raw if mask is None else raw.filter(mask)).combine_chunks(), self.raw_terminated
        )


def _file_error(reason: str, detail: str) -> ParsedFile:
    return ParsedFile(file_error=FileError(reason, detail), records_read=1)


def object_format(key: str) -> tuple[str | None, bool]:
    """(extension such as `.jsonl`, or None when unsupported; whether the key ends in .gz)."""
    name = key.lower()
    gzipped = name.endswith(c.GZIP_EXTENSION)
    if gzipped:
        name = name[: -len(c.GZIP_EXTENSION)]
    for ext in c.SUPPORTED_EXTENSIONS:
        if name.endswith(ext):
            return ext, gzipped
    return None, gzipped


def file_error(key: str, detail: str) -> ParsedFile:
    """A whole file quarantined as unparseable, `detail` saying why."""
    return _file_error(c.Reason.UNPARSEABLE_FILE, f"{key}: {detail}")


def read_object(
    key: str, chunks: Iterable[bytes], limits: ReadLimits | None = None
) -> Iterator[ParsedFile]:
    """The records of a raw object read as `chunks`, one ParsedFile per piece; never raises
    for bad input. A whole-file problem found late (corrupt gzip, a cap passed, invalid
    UTF-8) comes as one last ParsedFile with `file_error` set: the caller then discards the
    earlier pieces, so the file is quarantined whole."""
    limits = limits or ReadLimits()
    fmt, gzipped = object_format(key)
    if fmt is None:
        yield _file_error(
            c.Reason.UNSUPPORTED_FORMAT,
            f"{key}: extension is not one of {', '.join(c.SUPPORTED_EXTENSIONS)} (optionally .gz)",
        )
        return
    blocks = decompressed(chunks, gzipped, limits)
    try:
        if fmt == ".json":
            yield _read_json_document(blocks, limits)
        elif fmt == ".csv":
            yield from _read_csv(blocks, limits)
        else:
            yield from _read_json_lines(blocks, limits)
    except LimitExceeded as e:
        yield _file_error(e.reason, f"{key}: {e.detail}")
    except (CorruptFile, _FileProblem) as e:
        yield file_error(key, str(e))


def parse_object(key: str, body: bytes, limits: ReadLimits | None = None) -> ParsedFile:
    """`read_object` of a body held whole, its pieces joined into one ParsedFile."""
    pieces = list(read_object(key, [body], limits))
    if pieces and pieces[-1].file_error is not None:
        return pieces[-1]
    return _joined_pieces(pieces)


def _joined_pieces(pieces: list[ParsedFile]) -> ParsedFile:
    if len(pieces) == 1:
        return pieces[0]
    if not pieces:
        return ParsedFile()
    terminated = all(p.raw_terminated for p in pieces)
    records = [
        p.records.set_column(1, c.RAW_RECORD, p.raw_texts())
        if p.raw_terminated and not terminated
        else p.records
        for p in pieces
    ]
    return ParsedFile(
        records=pa.concat_tables([r.cast(RECORDS_SCHEMA) for r in records]),
        rejects=pa.concat_tables([p.rejects for p in pieces]),
        raw_terminated=terminated,
        records_read=sum(p.records_read for p in pieces),
    )


class _FileProblem(Exception):
    """The file as a whole cannot be read."""


def _check_utf8(body: bytes, byte_offset: int) -> None:
    """Raise _FileProblem when `body` is not valid UTF-8 (Arrow validates vectorized)."""
    offsets = np.array([0, len(body)], dtype=np.int64)
    arr = pa.Array.from_buffers(
        pa.large_string(), 1, [None, pa.py_buffer(offsets), pa.py_buffer(body)]
    )
    try:
        arr.validate(full=True)
    except pa.ArrowInvalid:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as e:
            raise _FileProblem(f"invalid UTF-8 at byte {byte_offset + e.start}") from None
        raise _FileProblem("invalid UTF-8") from None


def _body_start(piece: Lines) -> int:
    return len(BOM) if piece.byte_offset == 0 and piece.body.startswith(BOM) else 0


# --- Arrow helpers ---------------------------------------------------------------------------


def _text_array(
    body: bytes, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[pa.Array, bool]:
    """The spans of `body` (sorted, disjoint, terminators excluded) as one Arrow string array,
    and whether each text still ends with its line end (`ParsedFile.raw_terminated`).

    The usual piece (only CRs and LFs between records) costs no copy: each text is a view
    that runs to the next record's start. Otherwise the texts are gathered into a new buffer.
    """
    n = len(starts)
    if n == 0:
        return pa.array([], pa.string()), False
    nexts = np.append(starts[1:], len(buf))
    gaps = nexts - ends
    if _only_line_ends(buf, ends, gaps):
        base = int(starts[0])
        offsets = np.append(starts, len(buf)) - base
        return _string_array(offsets, pa.py_buffer(body)[base:]), True
    lengths = ends - starts
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    data = buf[np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])]
    return _string_array(offsets, pa.py_buffer(data)), False


def _only_line_ends(buf: np.ndarray, ends: np.ndarray, gaps: np.ndarray) -> bool:
    """Whether the `gaps` bytes after each `ends` are all CR or LF."""
    if len(gaps) > 1 and np.all(gaps[:-1] == 1) and gaps[-1] <= 1:
        return True  # one `\n` after each text (ends sit on newlines: CRs were cut off)
    total = int(gaps.sum())
    starts = np.zeros(len(gaps), dtype=np.int64)
    np.cumsum(gaps[:-1], out=starts[1:])
    between = buf[np.repeat(ends - starts, gaps) + np.arange(total)]
    return bool(np.all((between == 10) | (between == 13)))


def _string_array(offsets: np.ndarray, data: pa.Buffer) -> pa.Array:
    """Strings over `data` at int64 `offsets` (large_string only past 2 GiB)."""
    n = len(offsets) - 1
    if offsets[-1] < 2**31:
        return pa.Array.from_buffers(
            pa.string(), n, [None, pa.py_buffer(offsets.astype(np.int32)), data]
        )
    return pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), data])


def _exact(texts: pa.Array, terminated: bool) -> pa.Array:
    """Texts of `_text_array` as exact strings (see `ParsedFile.raw_texts`)."""
    texts = texts.cast(pa.string())
    return pc.utf8_rtrim(texts, characters="\r\n") if terminated else texts


def _keep(table: pa.Table, mask: pa.Array) -> pa.Table:
    """`table.filter(mask)`, without the copy when every row is kept."""
    return (
        table if mask.null_count == 0 and pc.all(mask).as_py() is not False else table.filter(mask)
    )


@dataclass
class _Rejects:
    """Rejects gathered as structured data; `table()` makes the Arrow table once."""

    lines: list[int] = field(default_factory=list)
    raws: list[str] = field(default_factory=list)
    details: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    sizes: list[int | None] = field(default_factory=list)
    digests: list[str | None] = field(default_factory=list)

    def add(
        self,
        line: int,
        raw: str,
        detail: str,
        reason: str = c.Reason.UNPARSEABLE_RECORD,
        size: int | None = None,
        digest: str | None = None,
    ) -> None:
        self.lines.append(line)
        self.raws.append(raw)
        self.details.append(detail)
        self.reasons.append(reason)
        self.sizes.append(size)
        self.digests.append(digest)

    def table(self) -> pa.Table:
        return pa.table(
            [
                pa.array(self.lines, pa.int64()),
                pa.array(self.raws, pa.string()),
                pa.array(self.details, pa.string()),
                pa.array(self.reasons, pa.string()),
                pa.array(self.sizes, pa.int64()),
                pa.array(self.digests, pa.string()),
            ],
            schema=REJECTS_SCHEMA,
        )


def _long_line(long: LongLine, cap: int) -> ParsedFile:
    """A line over the record cap, streamed past: one record, quarantined as too long."""
    rejects = _Rejects()
    head = long.head.decode("utf-8", errors="replace")
    detail = _too_long_detail(long.size, cap)
    rejects.add(long.line, head, detail, c.Reason.RECORD_TOO_LONG, long.size, long.sha256)
    return ParsedFile(rejects=rejects.table(), records_read=1)


def _too_long_detail(size: int, cap: int) -> str:
    return f"record of {size:,} bytes, over the limit of {cap:,} for one reading"


def _records(
    source_line: pa.Array, raw: pa.Array, fields: dict[str, pa.Array | pa.ChunkedArray]
) -> pa.Table:
    n = len(source_line)
    cols = [source_line, raw] + [
        fields.get(name, pa.nulls(n, pa.string())) for name in c.INPUT_FIELDS
    ]
    names = [c.SOURCE_LINE, c.RAW_RECORD, *c.INPUT_FIELDS]
    return pa.Table.from_arrays(cols, names=names)


def _valid_utf8(*texts: str | None) -> bool:
    """False when a text holds a lone surrogate (a JSON `\\udc00` escape): not storable."""
    try:
        for text in texts:
            if text is not None:
                text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


# --- JSON ------------------------------------------------------------------------------------


_AS_TEXT = "{" + ", ".join(f'"{name}": "VARCHAR"' for name in c.INPUT_FIELDS) + "}"
"""from_json's structure: every contract field as text (a JSON number or object as its JSON)."""
_ALL_NULL = " AND ".join(f'f."{name}" IS NULL' for name in c.INPUT_FIELDS)


def _extract_fields(texts: pa.Array) -> pa.Table:
    """Per JSON text: `is_object`, and one text column per input field."""
    with connection() as con:
        con.register("texts", pa.table({"t": texts}))
        out = con.sql(
            f"SELECT f.*, f IS NOT NULL AS ok, f IS NOT NULL AND {_ALL_NULL} AS all_null "
            f"FROM (SELECT try(from_json(t, '{_AS_TEXT}')) AS f FROM texts)"
        ).to_arrow_table()
        ok = out.column("ok").combine_chunks()
        all_null = out.column("all_null").combine_chunks()
        out = out.drop_columns(["ok", "all_null"])
        is_object = ok
        if pc.any(all_null).as_py():
            # a valid JSON text without any contract field: an empty object or not an object
            idx = pc.indices_nonzero(all_null)
            con.register("sub", pa.table({"t": pc.take(texts, idx)}))
            kinds = con.sql("SELECT json_type(t) = 'OBJECT' AS o FROM sub").to_arrow_table()
            mask = np.asarray(ok.to_numpy(zero_copy_only=False)).copy()
            mask[idx.to_numpy()] = kinds.column("o").to_numpy(zero_copy_only=False)
            is_object = pa.array(mask)
    return out.append_column("is_object", is_object)


class _Number(str):
    """A JSON number kept as its source text."""


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return str(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _python_json(text: str) -> Any:
    return json.loads(text, parse_float=_Number, parse_int=_Number, parse_constant=_Number)


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str) and not isinstance(value, _Number):
        return "string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    return "number"


@dataclass
class _PythonRecords:
    """Records that Python's JSON parser read (DuckDB refused their text)."""

    lines: list[int] = field(default_factory=list)
    raws: list[str] = field(default_factory=list)
    fields: dict[str, list[str | None]] = field(
        default_factory=lambda: {name: [] for name in c.INPUT_FIELDS}
    )

    def add(self, line: int, raw: str, value: Any, rejects: _Rejects, where: str) -> None:
        """`value` as a record, or a reject when it is not an object or not storable text."""
        if not isinstance(value, dict):
            rejects.add(line, raw, f"{where}: a JSON {_json_kind(value)}, not an object")
            return
        texts = [_as_text(value.get(name)) for name in c.INPUT_FIELDS]
        if not _valid_utf8(*texts):
            rejects.add(line, raw, f"{where}: a lone surrogate escape (\\ud800-\\udfff), not text")
            return
        self.lines.append(line)
        self.raws.append(raw)
        for name, text in zip(c.INPUT_FIELDS, texts, strict=True):
            self.fields[name].append(text)

    def table(self) -> pa.Table:
        return _records(
            pa.array(self.lines, pa.int64()),
            pa.array(self.raws, pa.string()),
            {n: pa.array(v, pa.string()) for n, v in self.fields.items()},
        )


def _read_json_lines(blocks: Iterable[bytes], limits: ReadLimits) -> Iterator[ParsedFile]:
    for piece in line_pieces(blocks, limits):
        if isinstance(piece, LongLine):
            yield _long_line(piece, limits.max_record_bytes)
        else:
            _check_utf8(piece.body, piece.byte_offset)
            yield _parse_json_lines(piece, limits.max_record_bytes)


def _parse_json_lines(piece: Lines, cap: int) -> ParsedFile:
    body = piece.body
    buf = np.frombuffer(body, dtype=np.uint8)
    start = _body_start(piece)
    if start >= len(buf):
        return ParsedFile()
    starts, ends, _ = line_spans(buf, start)
    line_no = np.arange(piece.first_line, piece.first_line + len(starts), dtype=np.int64)
    keep = ends > starts  # empty lines are not records
    starts, ends, line_no = starts[keep], ends[keep], line_no[keep]
    # whitespace-only lines are blank too: only lines starting with a blank can be one
    spaced = np.flatnonzero(np.isin(buf[starts], (9, 32))) if len(starts) else []
    blank = {int(i) for i in spaced if not body[starts[i] : ends[i]].strip()}
    records_read = len(starts) - len(blank)
    rejects = _Rejects()
    long = np.flatnonzero(ends - starts > cap)
    for i in long:
        text = body[starts[i] : ends[i]]
        rejects.add(
            int(line_no[i]),
            text.decode("utf-8"),
            _too_long_detail(len(text), cap),
            c.Reason.RECORD_TOO_LONG,
        )
    if len(long) or blank:
        drop = np.zeros(len(starts), dtype=bool)
        drop[long] = True
        drop[list(blank)] = True
        starts, ends, line_no = starts[~drop], ends[~drop], line_no[~drop]
    texts, terminated = _text_array(body, buf, starts, ends)
    if len(texts) == 0:
        return ParsedFile(rejects=rejects.table(), records_read=records_read)
    fields = _extract_fields(texts)
    good = fields.column("is_object").combine_chunks()
    records = _records(
        pa.array(line_no), texts, {name: fields.column(name) for name in c.INPUT_FIELDS}
    )
    records = _keep(records, good)
    # Python's parser decides the lines DuckDB refused (DuckDB also takes texts such as
    # `INF` that are not JSON, and keeps lone surrogate escapes out)
    extra = _PythonRecords()
    for i in np.flatnonzero(~good.to_numpy(zero_copy_only=False)):
        text = body[starts[i] : ends[i]].decode("utf-8")
        line = int(line_no[i])
        try:
            value = _python_json(text)
        except (ValueError, RecursionError) as e:
            rejects.add(line, text, f"not valid JSON ({e})")
            continue
        extra.add(line, text, value, rejects, "the line")
    if extra.lines:
        records = pa.concat_tables([records, extra.table().cast(records.schema)])
        records = records.take(pc.sort_indices(records.column(c.SOURCE_LINE)))
    return ParsedFile(
        records=records,
        rejects=rejects.table(),
        raw_terminated=terminated,  # the exact texts added here never end with `\n` either
        records_read=records_read,
    )


def _read_json_document(blocks: Iterable[bytes], limits: ReadLimits) -> ParsedFile:
    """A JSON array of records, or an object with a `records` array (source_line = index).

    A document is one value: it is read whole, up to `limits.max_document_bytes`."""
    parts, size = [], 0
    for block in blocks:
        size += len(block)
        if size > limits.max_document_bytes:
            raise LimitExceeded(
                c.Reason.FILE_TOO_LARGE,
                f"a .json document over {limits.max_document_bytes:,} bytes "
                "(send large batches as JSON lines, which are read in pieces)",
            )
        parts.append(block)
    body = b"".join(parts)
    if not body:
        raise _FileProblem("empty file (0 bytes)")
    _check_utf8(body, 0)
    text = body[len(BOM) :].decode("utf-8") if body.startswith(BOM) else body.decode("utf-8")
    if not text.strip():
        raise _FileProblem("no JSON document (only whitespace)")
    with connection() as con:
        con.register("doc", pa.table({"d": pa.array([text], pa.large_string())}))
        try:
            kind, records_kind = con.sql(
                "SELECT json_type(d), json_type(d, '$.records') FROM doc"
            ).fetchall()[0]
        except (duckdb.Error, UnicodeDecodeError):  # DuckDB may cut bytes mid-character
            kind = None
        if kind is None or "\\u" in text:  # Python's parser keeps lone surrogates out
            return _parse_json_document_python(text)
        if kind == "ARRAY":
            path = "$"
        elif kind == "OBJECT" and records_kind == "ARRAY":
            path = "$.records"
        elif kind == "OBJECT":
            raise _FileProblem("JSON object without a `records` array")
        else:
            raise _FileProblem(f"JSON document is a {kind.lower()}, not an array of records")
        ((count,),) = con.sql(f"SELECT json_array_length(d, '{path}') FROM doc").fetchall()
        elements = (
            con.sql(f"SELECT unnest(json_extract(d, '{path}[*]'))::VARCHAR AS e FROM doc")
            .to_arrow_table()
            .column("e")
            .combine_chunks()
        )
    return _split_elements(elements, int(count))


def _split_elements(elements: pa.Array, count: int) -> ParsedFile:
    if len(elements) == 0:
        return ParsedFile(records_read=count)
    fields = _extract_fields(elements)
    good = fields.column("is_object").combine_chunks()
    index = pa.array(np.arange(len(elements), dtype=np.int64))
    records = _keep(
        _records(index, elements, {name: fields.column(name) for name in c.INPUT_FIELDS}), good
    )
    rejects = _Rejects()
    for i, raw in zip(
        index.filter(pc.invert(good)).to_pylist(),
        elements.filter(pc.invert(good)).to_pylist(),
        strict=True,
    ):
        rejects.add(i, raw, f"element {i} is not a JSON object")
    return ParsedFile(records=records, rejects=rejects.table(), records_read=count)


def _parse_json_document_python(text: str) -> ParsedFile:
    """Documents DuckDB refuses (bare NaN/Infinity) or that hold escapes: Python's parser."""
    try:
        doc = _python_json(text)
    except (ValueError, RecursionError) as e:
        raise _FileProblem(f"not valid JSON ({e})") from e
    if isinstance(doc, dict):
        if not isinstance(doc.get("records"), list):
            raise _FileProblem("JSON object without a `records` array")
        doc = doc["records"]
    if not isinstance(doc, list):
        raise _FileProblem(f"JSON document is a {_json_kind(doc)}, not an array of records")
    rejects, found = _Rejects(), _PythonRecords()
    for i, value in enumerate(doc):
        raw = str(value) if isinstance(value, _Number) else (_as_text(value) or "null")
        if not _valid_utf8(raw):
            raw = raw.encode("utf-8", errors="replace").decode("utf-8")
        found.add(i, raw, value, rejects, f"element {i}")
    return ParsedFile(records=found.table(), rejects=rejects.table(), records_read=len(doc))


# --- CSV ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Header:
    names: list[str]
    start: int
    """Where the records begin in the first piece (after the header line)."""
    first_line: int
    """The file line number at `start`."""


def _read_csv(blocks: Iterable[bytes], limits: ReadLimits) -> Iterator[ParsedFile]:
    """CSV with a header row; source_line is the physical line where a record starts.

    A record still open at a piece's end (a quoted value spanning lines) is carried to the
    next piece; the tokenizer bounds it by the record cap. A long line ends an open record."""
    header: _Header | None = None
    carry: Lines | None = None
    for piece in line_pieces(blocks, limits):
        if isinstance(piece, LongLine):
            if header is None:
                raise _FileProblem(f"CSV header over {limits.max_record_bytes:,} bytes")
            if carry is not None:
                yield _parse_csv_piece(carry, header.names, 0, carry.first_line, limits)[0]
                carry = None
            yield _long_line(piece, limits.max_record_bytes)
            continue
        if carry is not None:
            piece = Lines(
                carry.body + piece.body, carry.first_line, carry.byte_offset, piece.ends_run
            )
            carry = None
        _check_utf8(piece.body, piece.byte_offset)
        start, first_line = 0, piece.first_line
        if header is None:
            header = _csv_header(piece)
            if header is None:
                continue  # blank lines only so far
            start, first_line = header.start, header.first_line
        parsed, carry_from = _parse_csv_piece(piece, header.names, start, first_line, limits)
        if carry_from is not None:
            carry = Lines(
                piece.body[carry_from:],
                first_line + piece.body.count(b"\n", start, carry_from),
                piece.byte_offset + carry_from,
                True,
            )
        yield parsed
    if carry is not None and header is not None:
        yield _parse_csv_piece(carry, header.names, 0, carry.first_line, limits)[0]
    if header is None:
        raise _FileProblem("CSV without a header row")


def _csv_header(piece: Lines) -> _Header | None:
    """The header: the first non-blank line (None when the piece holds only blank lines)."""
    start, line, body = _body_start(piece), piece.first_line, piece.body
    while start < len(body):
        nl = body.find(b"\n", start)
        end = len(body) if nl < 0 else nl + 1
        text = body[start:end].decode("utf-8").rstrip("\r\n")
        if text.strip():
            break
        start, line = end, line + 1
    else:
        return None
    try:
        names = [name.strip() for name in next(csv.reader([text], strict=True))]
    except csv.Error as e:  # e.g. a bare CR or an unclosed quote in the header line
        raise _FileProblem(f"CSV header is not readable ({e})") from e
    repeated = sorted({n for n in names if names.count(n) > 1 and n in c.INPUT_FIELDS})
    if repeated:
        raise _FileProblem(
            f"CSV header names {', '.join(repeated)} more than once: which column is meant?"
        )
    return _Header(names, end, line + 1)


def _parse_csv_piece(
    piece: Lines, header: list[str], start: int, first_line: int, limits: ReadLimits
) -> tuple[ParsedFile, int | None]:
    """The records of body[start:] (`first_line` is the file line there), and where a record
    still open at the piece's end begins (None when the piece ends a run of lines)."""
    body = piece.body
    found = csv_records(body, start, limits.max_record_bytes, at_end=piece.ends_run)
    n = len(found.starts)
    if n == 0:
        return ParsedFile(), found.carry_from
    buf = np.frombuffer(body, dtype=np.uint8)
    line_no = found.lines + first_line
    texts, terminated = _text_array(body, buf, found.starts, found.ends)
    fields = None
    if not found.problems:  # the usual piece: pyarrow finds no row of the wrong width
        data = _records_bytes(body, found.starts, np.empty(0, np.int64), found.carry_from)
        fields = _csv_cells(data, body, header, found.starts, found.ends, found.multiline, True)
    rejects = _Rejects()
    good = np.arange(n)
    if fields is None:
        cells = found.cells(buf)
        bad = cells != len(header)
        bad[list(found.problems)] = True
        bad_idx = np.flatnonzero(bad)
        _csv_rejects(rejects, found, bad_idx, cells, texts, terminated, line_no, len(header))
        good = np.flatnonzero(~bad)
        data = _records_bytes(body, found.starts, bad_idx, found.carry_from)
        fields = _csv_cells(
            data, body, header, found.starts[good], found.ends[good], found.multiline, False
        )
    assert fields is not None
    good_texts = texts if len(good) == n else texts.take(pa.array(good))
    records = _records(pa.array(line_no[good]), good_texts, fields)
    parsed = ParsedFile(
        records=records, rejects=rejects.table(), raw_terminated=terminated, records_read=n
    )
    return parsed, found.carry_from


def _csv_rejects(
    rejects: _Rejects,
    found: CsvRecords,
    bad_idx: np.ndarray,
    cells: np.ndarray,
    texts: pa.Array,
    terminated: bool,
    line_no: np.ndarray,
    width: int,
) -> None:
    """The records the tokenizer refused, or with another number of cells than the header."""
    if not len(bad_idx):
        return
    exact = _exact(texts.take(pa.array(bad_idx)), terminated).to_pylist()
    for i, raw in zip(bad_idx.tolist(), exact, strict=True):
        reason, detail = found.problems.get(
            i, (c.Reason.UNPARSEABLE_RECORD, f"{int(cells[i])} columns, the header has {width}")
        )
        size, digest = found.sizes.get(i, (None, None))
        rejects.add(int(line_no[i]), raw, detail, reason, size, digest)


def _records_bytes(
    body: bytes, starts: np.ndarray, dropped: np.ndarray, stop: int | None
) -> pa.Buffer:
    """The piece's bytes from its first record to `stop`, without the `dropped` records."""
    stop = len(body) if stop is None else stop
    if not len(dropped):
        return pa.py_buffer(body)[int(starts[0]) : stop]
    nexts = np.append(starts[1:], stop)
    parts, at = [], int(starts[0])
    for i in dropped.tolist():
        parts.append(body[at : int(starts[i])])
        at = int(nexts[i])
    parts.append(body[at:stop])
    return pa.py_buffer(b"".join(parts))


def _csv_cells(
    data: pa.Buffer,
    body: bytes,
    header: list[str],
    starts: np.ndarray,
    ends: np.ndarray,
    multiline: bool,
    first_try: bool,
) -> dict[str, pa.Array | pa.ChunkedArray] | None:
    """The contract columns of the records in `data` (spans `starts`/`ends` of `body`), read
    with pyarrow.csv. On the `first_try`, None as soon as a row has another number of cells
    than the header (the caller then counts cells and leaves those rows out); otherwise
    Python's csv module, record by record, where pyarrow reads otherwise."""
    wanted = [name for name in c.INPUT_FIELDS if name in header]
    n = len(starts)
    if n == 0 or not wanted:
        return {}
    names = [f"c{i}" for i in range(len(header))]
    positions = {name: header.index(name) for name in wanted}
    if first_try:
        try:
            table = _pyarrow_csv(data, names, [names[positions[n]] for n in wanted], multiline)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        if table.num_rows != n:
            return None
        return {name: table.column(names[positions[name]]) for name in wanted}
    try:
        table = _pyarrow_csv(data, names, [names[positions[n]] for n in wanted], multiline)
        if table.num_rows == n:
            return {name: table.column(names[positions[name]]) for name in wanted}
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    values: dict[str, list[str | None]] = {name: [] for name in wanted}
    for s, e in zip(starts, ends, strict=True):
        row = next(csv.reader(io.StringIO(body[s:e].decode("utf-8"), newline="")), [])
        for name in wanted:
            cell = row[positions[name]] if positions[name] < len(row) else ""
            values[name].append(cell if cell != "" else None)
    return {name: pa.array(v, pa.string()) for name, v in values.items()}


def _pyarrow_csv(
    data: pa.Buffer, names: list[str], include: list[str], multiline: bool
) -> pa.Table:
    """The `include` columns of headerless CSV `data` as text (raises on a row of another
    width than `names`)."""
    return pacsv.read_csv(
        pa.BufferReader(data),
        # blocks of 8 MiB: both cores busy from a piece of 16 MiB on
        read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 23),
        parse_options=pacsv.ParseOptions(newlines_in_values=multiline),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in names},
            include_columns=include,
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
            check_utf8=False,  # the piece was checked once (_check_utf8)
        ),
    )
