"""Raw object bytes -> one row per record with every contract field as text.

Formats by key extension (case-insensitive, optional `.gz`): `.json`, `.jsonl` / `.ndjson`,
`.csv`. The hot path is vectorized: line and record boundaries come from numpy over the raw
bytes, JSON fields from DuckDB's JSON functions (one parse per line), CSV cells from
pyarrow.csv. Only lines that are not valid JSON, or CSV files pyarrow cannot read, go
through a per-record Python fallback.
"""

from __future__ import annotations

import csv
import io
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from energy_platform import contract as c
from energy_platform.transforms.duck import connection

BOM = b"\xef\xbb\xbf"
_SCAN_CHUNK = 1 << 20
"""Bytes per step of a numpy scan of the body: buffers that stay in cache and are reused,
instead of temporaries as large as the body."""

RECORDS_SCHEMA = pa.schema(
    [(c.SOURCE_LINE, pa.int64()), (c.RAW_RECORD, pa.string())]
    + [(name, pa.string()) for name in c.INPUT_FIELDS]
)
REJECTS_SCHEMA = pa.schema(
    [(c.SOURCE_LINE, pa.int64()), (c.RAW_RECORD, pa.string()), (c.DETAIL, pa.string())]
)


@dataclass(frozen=True)
class FileError:
    """Why a whole file is quarantined."""

    reason: str
    """`contract.Reason.UNSUPPORTED_FORMAT` or `contract.Reason.UNPARSEABLE_FILE`."""
    detail: str
    """What is wrong and where, e.g. `gzip stream truncated at byte 1234`."""


@dataclass(frozen=True)
class ParsedFile:
    """Records found in one raw object, lines that are not records, or a whole-file error."""

    records: pa.Table = field(default_factory=RECORDS_SCHEMA.empty_table)
    """source_line, raw (the record's original text; see `raw_terminated`), one text column
    per `contract.INPUT_FIELDS` (null when absent or JSON null)."""
    rejects: pa.Table = field(default_factory=REJECTS_SCHEMA.empty_table)
    """source_line, raw, detail: lines that are not records at all."""
    file_error: FileError | None = None
    raw_terminated: bool = False
    """True when each `raw` is a zero-copy view of the body that still ends with its line's
    `\\n` (no record text itself ends with one then): `raw_texts` gives the exact texts."""

    def raw_texts(self, mask: pa.Array | None = None) -> pa.Array:
        """The records' exact original texts (those where `mask` is true), as strings."""
        raw = self.records.column(c.RAW_RECORD)
        return _exact(
            (raw if mask is None else raw.filter(mask)).combine_chunks(), self.raw_terminated
        )

    @property
    def records_read(self) -> int:
        """Records the file holds as far as parsing can tell (1 for a rejected file)."""
        if self.file_error is not None:
            return 1
        return self.records.num_rows + self.rejects.num_rows


def _file_error(reason: str, detail: str) -> ParsedFile:
    return ParsedFile(file_error=FileError(reason, detail))


def _format_of(key: str) -> tuple[str | None, bool]:
    name = key.lower()
    gzipped = name.endswith(c.GZIP_EXTENSION)
    if gzipped:
        name = name[: -len(c.GZIP_EXTENSION)]
    for ext in c.SUPPORTED_EXTENSIONS:
        if name.endswith(ext):
            return ext, gzipped
    return None, gzipped


def _gunzip(body: bytes) -> bytes:
    """Decompress every gzip member; raise ValueError naming the byte where it broke."""
    out: list[bytes] = []
    data = body
    consumed = 0
    while data:
        d = zlib.decompressobj(wbits=31)
        try:
            out.append(d.decompress(data))
            out.append(d.flush())
        except zlib.error as e:
            raise ValueError(f"gzip stream corrupt after byte {consumed}: {e}") from e
        if not d.eof:
            raise ValueError(f"gzip stream truncated at byte {len(body)}")
        consumed = len(body) - len(d.unused_data)
        data = d.unused_data
        if data.strip(b"\x00") == b"":  # trailing padding some writers leave
            break
    return b"".join(out)


def _check_utf8(body: bytes) -> str | None:
    """None when `body` is valid UTF-8, else where it is not (Arrow validates vectorized)."""
    offsets = np.array([0, len(body)], dtype=np.int64)
    arr = pa.Array.from_buffers(
        pa.large_string(), 1, [None, pa.py_buffer(offsets), pa.py_buffer(body)]
    )
    try:
        arr.validate(full=True)
        return None
    except pa.ArrowInvalid:
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as e:
            return f"invalid UTF-8 at byte {e.start}"
        return "invalid UTF-8"


def parse_object(key: str, body: bytes) -> ParsedFile:
    """Parse one raw object; never raises for bad input (it becomes a FileError or rejects)."""
    fmt, gzipped = _format_of(key)
    if fmt is None:
        return _file_error(
            c.Reason.UNSUPPORTED_FORMAT,
            f"{key}: extension is not one of {', '.join(c.SUPPORTED_EXTENSIONS)} (optionally .gz)",
        )
    if gzipped:
        try:
            body = _gunzip(body)
        except ValueError as e:
            return _file_error(c.Reason.UNPARSEABLE_FILE, f"{key}: {e}")
    return parse_decompressed(key, fmt, body)


def object_format(key: str) -> tuple[str | None, bool]:
    """(extension such as `.jsonl`, or None when unsupported; whether the key ends in .gz)."""
    return _format_of(key)


def file_error(key: str, detail: str) -> ParsedFile:
    """A whole file quarantined as unparseable, `detail` saying why."""
    return _file_error(c.Reason.UNPARSEABLE_FILE, f"{key}: {detail}")


def parse_decompressed(key: str, fmt: str, body: bytes) -> ParsedFile:
    """`parse_object` after the extension was read and gzip undone (`fmt` as `object_format`)."""
    if len(body) == 0:
        if fmt in (".jsonl", ".ndjson"):
            return ParsedFile()  # an empty JSON-lines file is zero records
        return _file_error(c.Reason.UNPARSEABLE_FILE, f"{key}: empty file (0 bytes)")
    bad = _check_utf8(body)
    if bad is not None:
        return _file_error(c.Reason.UNPARSEABLE_FILE, f"{key}: {bad}")
    start = len(BOM) if body.startswith(BOM) else 0
    try:
        if fmt == ".csv":
            return _parse_csv(body, start)
        if fmt == ".json":
            return _parse_json_document(key, body[start:].decode("utf-8"))
        return _parse_json_lines(body, start)
    except _FileProblem as e:
        return _file_error(c.Reason.UNPARSEABLE_FILE, f"{key}: {e}")


class _FileProblem(Exception):
    """The file as a whole cannot be read."""


# --- byte-level helpers ----------------------------------------------------------------------


def _positions(buf: np.ndarray, byte: int, start: int) -> np.ndarray:
    """Sorted positions of `byte` in buf[start:], scanned in chunks with one reused mask."""
    mask = np.empty(min(_SCAN_CHUNK, max(len(buf) - start, 0)), dtype=bool)
    parts = []
    for i in range(start, len(buf), _SCAN_CHUNK):
        chunk = buf[i : i + _SCAN_CHUNK]
        parts.append(np.flatnonzero(np.equal(chunk, byte, out=mask[: len(chunk)])) + i)
    return _joined(parts)


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def _spans(buf: np.ndarray, separators: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray]:
    """[start, end) of the text between separators, a trailing CR excluded."""
    starts = np.concatenate([[start], separators + 1]).astype(np.int64)
    ends = np.append(separators, len(buf)).astype(np.int64)
    if len(starts) and starts[-1] == len(buf):  # body ends with a separator
        starts, ends = starts[:-1], ends[:-1]
    nonempty = ends > starts
    cr = np.zeros(len(ends), dtype=bool)
    cr[nonempty] = buf[ends[nonempty] - 1] == 13
    return starts, ends - cr


def _text_array(
    body: bytes, buf: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[pa.Array, bool]:
    """The spans of `body` (sorted, disjoint, terminators excluded) as one Arrow string array,
    and whether each text still ends with its `\\n` (`ParsedFile.raw_terminated`).

    The usual file (one `\\n` between records, no CR, no blank line) costs no copy: each text
    runs to the next record's start. Otherwise the bytes between spans (newlines, CRs,
    skipped lines) are masked out of the body in one numpy compress, and the offsets are the
    cumulative span lengths.
    """
    n = len(starts)
    if n == 0:
        return pa.array([], pa.string()), False
    one_apart = n == 1 or bool(np.all(starts[1:] - ends[:-1] == 1))
    last = int(ends[-1])
    # the last text is followed by its `\n`, or runs to the end without a `\n` of its own
    last_ok = buf[last] == 10 if last < len(buf) else not body.endswith(b"\n")
    if one_apart and last_ok:
        return _terminated_text_array(body, starts, ends), True
    lengths = ends - starts
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    gap_starts = np.concatenate([[0], ends])
    gap_ends = np.append(starts, len(buf))
    gap_lengths = gap_ends - gap_starts
    total_gap = int(gap_lengths.sum())
    if total_gap == 0:
        data = pa.py_buffer(body)
    else:
        gap_offsets = np.zeros(len(gap_lengths), dtype=np.int64)
        np.cumsum(gap_lengths[:-1], out=gap_offsets[1:])
        gap_index = np.repeat(gap_starts - gap_offsets, gap_lengths) + np.arange(total_gap)
        keep = np.ones(len(buf), dtype=bool)
        keep[gap_index] = False
        data = pa.py_buffer(buf[keep])
    return _string_array(offsets, data), False


def _string_array(offsets: np.ndarray, data: pa.Buffer) -> pa.Array:
    """Strings over `data` at int64 `offsets` (large_string only past 2 GiB)."""
    n = len(offsets) - 1
    if offsets[-1] < 2**31:
        return pa.Array.from_buffers(
            pa.string(), n, [None, pa.py_buffer(offsets.astype(np.int32)), data]
        )
    return pa.Array.from_buffers(pa.large_string(), n, [None, pa.py_buffer(offsets), data])


def _terminated_text_array(body: bytes, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """`_text_array` when consecutive spans are one byte apart: each text is a view of the
    body from its start to the next one's, so it keeps its `\\n` (the last one too, when the
    body has one after it)."""
    base = int(starts[0])
    offsets = np.empty(len(starts) + 1, dtype=np.int64)
    offsets[:-1] = starts - base
    offsets[-1] = min(int(ends[-1]) + 1, len(body)) - base
    return _string_array(offsets, pa.py_buffer(body)[base:])


def _exact(texts: pa.Array, terminated: bool) -> pa.Array:
    """Texts of `_text_array` as exact strings (see `ParsedFile.raw_texts`)."""
    texts = texts.cast(pa.string())
    return pc.utf8_rtrim(texts, characters="\n") if terminated else texts


def _keep(table: pa.Table, mask: pa.Array) -> pa.Table:
    """`table.filter(mask)`, without the copy when every row is kept."""
    return (
        table if mask.null_count == 0 and pc.all(mask).as_py() is not False else table.filter(mask)
    )


def _empty_rejects() -> pa.Table:
    return REJECTS_SCHEMA.empty_table()


def _rejects(lines: list[int], raws: list[str], details: list[str]) -> pa.Table:
    return pa.table(
        [pa.array(lines, pa.int64()), pa.array(raws, pa.string()), pa.array(details, pa.string())],
        schema=REJECTS_SCHEMA,
    )


def _records(
    source_line: pa.Array, raw: pa.Array, fields: dict[str, pa.Array | pa.ChunkedArray]
) -> pa.Table:
    n = len(source_line)
    cols = [source_line, raw] + [
        fields.get(name, pa.nulls(n, pa.string())) for name in c.INPUT_FIELDS
    ]
    names = [c.SOURCE_LINE, c.RAW_RECORD, *c.INPUT_FIELDS]
    return pa.Table.from_arrays(cols, names=names)


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


def _parse_json_lines(body: bytes, start: int) -> ParsedFile:
    buf = np.frombuffer(body, dtype=np.uint8)
    newlines = _positions(buf, 10, start)
    starts, ends = _spans(buf, newlines, start)
    line_no = np.arange(1, len(starts) + 1, dtype=np.int64)
    keep = ends > starts  # blank lines are not records
    starts, ends, line_no = starts[keep], ends[keep], line_no[keep]
    texts, terminated = _text_array(body, buf, starts, ends)
    if len(texts) == 0:
        return ParsedFile()
    fields = _extract_fields(texts)
    good = fields.column("is_object").combine_chunks()
    records = _records(
        pa.array(line_no),
        texts,
        {name: fields.column(name) for name in c.INPUT_FIELDS},
    )
    records = _keep(records, good)
    bad_idx = np.flatnonzero(~good.to_numpy(zero_copy_only=False))
    if len(bad_idx) == 0:
        return ParsedFile(records=records, raw_terminated=terminated)
    # fallback, per line but only for lines DuckDB could not read as an object; Python's
    # parser decides (DuckDB's also takes texts such as `INF` that are not JSON)
    extra_fields: dict[str, list[str | None]] = {name: [] for name in c.INPUT_FIELDS}
    extra_lines: list[int] = []
    extra_raw: list[str] = []
    rej_lines: list[int] = []
    rej_raw: list[str] = []
    rej_detail: list[str] = []
    for i in bad_idx:
        text = body[starts[i] : ends[i]].decode("utf-8")
        if not text.strip():
            continue  # whitespace-only line: blank
        line = int(line_no[i])
        try:
            value = _python_json(text)
        except (ValueError, RecursionError) as e:
            rej_lines.append(line)
            rej_raw.append(text)
            rej_detail.append(f"line {line}: not valid JSON ({e})")
            continue
        if not isinstance(value, dict):
            rej_lines.append(line)
            rej_raw.append(text)
            rej_detail.append(f"line {line}: a JSON {_json_kind(value)}, not an object")
            continue
        extra_lines.append(line)
        extra_raw.append(text)
        for name in c.INPUT_FIELDS:
            extra_fields[name].append(_as_text(value.get(name)))
    if extra_lines:
        extra = _records(
            pa.array(extra_lines, pa.int64()),
            pa.array(extra_raw, records.schema.field(c.RAW_RECORD).type),
            {n: pa.array(v, pa.string()) for n, v in extra_fields.items()},
        )
        records = pa.concat_tables([records, extra.cast(records.schema)])
        records = records.take(pc.sort_indices(records.column(c.SOURCE_LINE)))
    return ParsedFile(
        records=records,
        rejects=_rejects(rej_lines, rej_raw, rej_detail),
        raw_terminated=terminated,  # the exact texts added here never end with `\n` either
    )


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


def _parse_json_document(key: str, text: str) -> ParsedFile:
    """A JSON array of records, or an object with a `records` array (source_line = index)."""
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
        if kind is None:
            return _parse_json_document_python(text)
        if kind == "ARRAY":
            path = "$[*]"
        elif kind == "OBJECT" and records_kind == "ARRAY":
            path = "$.records[*]"
        elif kind == "OBJECT":
            raise _FileProblem("JSON object without a `records` array")
        else:
            raise _FileProblem(f"JSON document is a {kind.lower()}, not an array of records")
        elements = (
            con.sql(f"SELECT unnest(json_extract(d, '{path}'))::VARCHAR AS e FROM doc")
            .to_arrow_table()
            .column("e")
            .combine_chunks()
        )
    return _split_elements(elements)


def _split_elements(elements: pa.Array) -> ParsedFile:
    if len(elements) == 0:
        return ParsedFile()
    fields = _extract_fields(elements)
    good = fields.column("is_object").combine_chunks()
    index = pa.array(np.arange(len(elements), dtype=np.int64))
    records = _keep(
        _records(index, elements, {name: fields.column(name) for name in c.INPUT_FIELDS}), good
    )
    bad = pc.invert(good)
    rej_index = index.filter(bad)
    rej_raw = elements.filter(bad)
    details = pc.binary_join_element_wise(
        "element ", pc.cast(rej_index, pa.string()), " is not a JSON object", ""
    )
    rejects = pa.table([rej_index, pc.cast(rej_raw, pa.string()), details], schema=REJECTS_SCHEMA)
    return ParsedFile(records=records, rejects=rejects)


def _parse_json_document_python(text: str) -> ParsedFile:
    """Fallback for documents DuckDB rejects (e.g. bare NaN/Infinity): Python's parser."""
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
    rows = [_as_text(v) if not isinstance(v, _Number) else str(v) for v in doc]
    if not rows:
        return ParsedFile()
    lines, raws, details = [], [], []
    rec_index: list[int] = []
    rec_raw: list[str] = []
    rec_fields: dict[str, list[str | None]] = {name: [] for name in c.INPUT_FIELDS}
    for i, (value, raw) in enumerate(zip(doc, rows, strict=True)):
        if isinstance(value, dict):
            rec_index.append(i)
            rec_raw.append(raw or "")
            for name in c.INPUT_FIELDS:
                rec_fields[name].append(_as_text(value.get(name)))
        else:
            lines.append(i)
            raws.append(raw if raw is not None else "null")
            details.append(f"element {i} is not a JSON object")
    records = _records(
        pa.array(rec_index, pa.int64()),
        pa.array(rec_raw, pa.string()),
        {n: pa.array(v, pa.string()) for n, v in rec_fields.items()},
    )
    return ParsedFile(records=records, rejects=_rejects(lines, raws, details))


# --- CSV -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CsvLayout:
    """Where the records of a CSV body end and how many cells each has."""

    newlines: np.ndarray
    separators: np.ndarray
    """The newlines outside quotes: where records end."""
    commas: np.ndarray
    """Per separator: the commas outside quotes before it."""
    total_commas: int
    """Commas outside quotes in the whole body."""

    def commas_per_span(self, spans: int) -> np.ndarray:
        """Commas outside quotes in each of the first `spans` spans between separators."""
        bounds = np.concatenate([[0], self.commas, [self.total_commas]])
        return np.diff(bounds)[:spans]


def _csv_layout(body: bytes, buf: np.ndarray, start: int) -> _CsvLayout:
    """Newlines, commas and quotes of buf[start:] in one chunked pass with reused buffers.

    Commas are counted by a running sum read at each newline and quote. A quote toggles
    "inside a value" (an escaped `""` toggles twice), so a newline after an odd number of
    quotes is part of a value, and the commas between an opening quote and its closing one
    (read off the running sum at both) are not cell separators. Quotes are rare: their
    corrections cost nothing when there are none.
    """
    size = min(_SCAN_CHUNK, max(len(buf) - start, 0))
    is_comma, is_other = np.empty(size, dtype=bool), np.empty(size, dtype=bool)
    running = np.empty(size, dtype=np.int32)
    quoted = body.find(b'"', start) >= 0
    newlines, at_newline, quotes, at_quote = [], [], [], []
    total = 0
    for i in range(start, len(buf), _SCAN_CHUNK):
        chunk = buf[i : i + _SCAN_CHUNK]
        m = len(chunk)
        np.equal(chunk, 44, out=is_comma[:m])
        counted = np.cumsum(is_comma[:m], out=running[:m])
        nl = np.flatnonzero(np.equal(chunk, 10, out=is_other[:m]))
        newlines.append(nl + i)
        at_newline.append(counted[nl].astype(np.int64) + total)
        if quoted:
            q = np.flatnonzero(np.equal(chunk, 34, out=is_other[:m]))
            quotes.append(q + i)
            at_quote.append(counted[q].astype(np.int64) + total)
        total += int(counted[-1]) if m else 0
    nl_pos, nl_commas = _joined(newlines), _joined(at_newline)
    if not quoted:
        return _CsvLayout(nl_pos, nl_pos, nl_commas, total)
    q_pos, q_commas = _joined(quotes), np.append(_joined(at_quote), total)
    quotes_before = np.searchsorted(q_pos, nl_pos)
    outside = quotes_before % 2 == 0
    # commas inside each quoted stretch (an unclosed last one runs to the end), cumulated
    inside = q_commas[1::2] - q_commas[0:-1:2]
    inside_before = np.concatenate([[0], np.cumsum(inside)])
    commas = nl_commas[outside] - inside_before[quotes_before[outside] // 2]
    return _CsvLayout(nl_pos, nl_pos[outside], commas, total - int(inside_before[-1]))


def _parse_csv(body: bytes, start: int) -> ParsedFile:
    """CSV with a header row; source_line is the physical line where a record starts."""
    buf = np.frombuffer(body, dtype=np.uint8)
    layout = _csv_layout(body, buf, start)
    separators = layout.separators
    newlines_in_values = len(separators) < len(layout.newlines)
    starts, ends = _spans(buf, separators, start)
    commas = layout.commas_per_span(len(starts))
    if newlines_in_values:  # physical line of each record's start
        line_no = np.searchsorted(layout.newlines, starts) + 1
    else:
        line_no = np.arange(1, len(starts) + 1, dtype=np.int64)
    nonblank = np.flatnonzero(ends > starts)
    if len(nonblank) == 0:
        raise _FileProblem("CSV without a header row")
    h = nonblank[0]
    header_text = body[starts[h] : ends[h]].decode("utf-8")
    try:
        header = [name.strip() for name in next(csv.reader([header_text]))]
    except csv.Error as e:  # e.g. a bare CR inside the header line
        raise _FileProblem(f"CSV header is not readable ({e})") from e
    repeated = sorted(
        {name for name in header if header.count(name) > 1 and name in c.INPUT_FIELDS}
    )
    if repeated:
        raise _FileProblem(
            f"CSV header names {', '.join(repeated)} more than once: which column is meant?"
        )
    rows = nonblank[1:]
    starts, ends, line_no = starts[rows], ends[rows], line_no[rows]
    if len(rows) == 0:
        return ParsedFile()
    counts = commas[rows] + 1
    wrong = counts != len(header)
    texts, terminated = _text_array(body, buf, starts, ends)
    rejects = _empty_rejects()
    if wrong.any():
        w = np.flatnonzero(wrong)
        details = [
            f"line {int(line_no[i])}: {int(counts[i])} columns, the header has {len(header)}"
            for i in w
        ]
        rejects = pa.table(
            [
                pa.array(line_no[w]),
                _exact(texts.take(pa.array(w)), terminated),
                pa.array(details),
            ],
            schema=REJECTS_SCHEMA,
        )
    good = np.flatnonzero(~wrong)
    fields = _csv_cells(
        body, buf, header, starts[good], ends[good], newlines_in_values, not wrong.any()
    )
    good_texts = texts if len(good) == len(texts) else texts.take(pa.array(good))
    records = _records(pa.array(line_no[good]), good_texts, fields)
    return ParsedFile(records=records, rejects=rejects, raw_terminated=terminated)


def _csv_cells(
    body: bytes,
    buf: np.ndarray,
    header: list[str],
    starts: np.ndarray,
    ends: np.ndarray,
    newlines_in_values: bool,
    whole: bool,
) -> dict[str, pa.Array | pa.ChunkedArray]:
    """The contract columns of the given records, read with pyarrow.csv (Python csv fallback)."""
    wanted = [name for name in c.INPUT_FIELDS if name in header]
    n = len(starts)
    if n == 0 or not wanted:
        return {}
    if whole:
        data = pa.py_buffer(body)[int(starts[0]) :]
    else:
        # only the good records, each followed by a newline, copied with a byte mask
        mark = np.zeros(len(buf) + 1, dtype=np.int32)
        stop = np.minimum(ends + 1, len(buf))
        np.add.at(mark, starts, 1)
        np.add.at(mark, stop, -1)
        data = pa.py_buffer(buf[np.cumsum(mark[:-1]) > 0].tobytes())
    names = [f"c{i}" for i in range(len(header))]
    positions = {name: header.index(name) for name in wanted}
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            # blocks of 8 MiB: both cores busy from a file of 16 MiB on
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 23),
            parse_options=pacsv.ParseOptions(newlines_in_values=newlines_in_values),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names},
                include_columns=[names[positions[name]] for name in wanted],
                strings_can_be_null=True,
                quoted_strings_can_be_null=True,
                null_values=[""],
                check_utf8=False,  # the whole body was checked once (_check_utf8)
            ),
        )
        if table.num_rows == n:
            return {name: table.column(names[positions[name]]) for name in wanted}
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    # fallback for what pyarrow cannot read: Python's csv module, record by record
    values: dict[str, list[str | None]] = {name: [] for name in wanted}
    for s, e in zip(starts, ends, strict=True):
        row = next(csv.reader(io.StringIO(body[s:e].decode("utf-8"), newline="")), [])
        for name in wanted:
            cell = row[positions[name]] if positions[name] < len(row) else ""
            values[name].append(cell if cell != "" else None)
    return {name: pa.array(v, pa.string()) for name, v in values.items()}
