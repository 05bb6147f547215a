"""Quarantined records: bounded rows (`raw` cut, with the full text's length and SHA-256) and
the JSON-lines bytes written under `quarantine/`."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.schemas import MAX_QUARANTINED_RAW_BYTES, RAW_BYTES, RAW_SHA256
from energy_platform.transforms.duck import connection

_ArrowArray = pa.Array | pa.ChunkedArray


def bounded_raw(raw: _ArrowArray) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(kept text, full length in UTF-8 bytes, hex SHA-256 of the full UTF-8 bytes) of each raw
    text (string or binary; null reads as ""). The kept text is at most
    MAX_QUARANTINED_RAW_BYTES of UTF-8, cut at a character boundary."""
    data = _binary(raw)
    lengths = pc.binary_length(data).cast(pa.int64())
    digests = pa.array([hashlib.sha256(v.as_buffer()).hexdigest() for v in data], pa.string())
    return _cut(data, lengths), lengths, digests


def cut_raw(raw: _ArrowArray) -> pa.Array:
    """Each raw text cut to at most MAX_QUARANTINED_RAW_BYTES of UTF-8 (whole characters)."""
    data = _binary(raw)
    return _cut(data, pc.binary_length(data).cast(pa.int64()))


def quarantine_rows(
    source_key: str,
    lines: _ArrowArray,
    reasons: _ArrowArray,
    details: _ArrowArray,
    raw: _ArrowArray,
    raw_bytes: _ArrowArray | None = None,
    raw_sha256: _ArrowArray | None = None,
) -> pa.Table:
    """Rejected records of one source as a schemas.QUARANTINE table, `raw` bounded. Where
    `raw_bytes`/`raw_sha256` are given and not null, `raw` is only the head of a longer record
    and they are the full record's."""
    kept, lengths, digests = bounded_raw(raw)
    if raw_bytes is not None:
        lengths = pc.coalesce(raw_bytes, lengths)
    if raw_sha256 is not None:
        digests = pc.coalesce(raw_sha256, digests)
    n = len(kept)
    return pa.table(
        [
            pa.array(np.full(n, source_key, dtype=object), pa.string()),
            lines,
            reasons,
            details,
            kept,
            lengths,
            digests,
        ],
        schema=schemas.QUARANTINE,
    )


def reject_rows(source_key: str, rejects: pa.Table) -> pa.Table:
    """A parser's rejects (`parse.REJECTS_SCHEMA`) as quarantine rows: reason
    `unparseable_record` where none is given, the full record's raw_bytes/raw_sha256 where
    `raw` is only its head."""
    return quarantine_rows(
        source_key,
        rejects.column(c.SOURCE_LINE),
        pc.coalesce(rejects.column(c.REASON), c.Reason.UNPARSEABLE_RECORD),
        rejects.column(c.DETAIL),
        rejects.column(c.RAW_RECORD),
        rejects.column(RAW_BYTES),
        rejects.column(RAW_SHA256),
    )


def quarantine_jsonl(quarantined: pd.DataFrame) -> bytes:
    """One JSON object per row with the QUARANTINE_FIELDS keys, in row order; UTF-8 (not
    ASCII-escaped), deterministic: the same frame always gives identical bytes. `raw` is written
    cut to MAX_QUARANTINED_RAW_BYTES; a frame without `raw_bytes`/`raw_sha256` gets them from
    `raw`."""
    if quarantined.empty:
        return b""
    table = _bounded_table(quarantined.reset_index(drop=True))
    table = table.append_column("row_number", pa.array(range(table.num_rows), pa.int64()))
    fields = ", ".join(f"'{name}': \"{name}\"" for name in schemas.QUARANTINE_FIELDS)
    with connection() as con:
        con.register("quarantined", table)
        (text,) = con.sql(
            f"SELECT string_agg(to_json({{{fields}}}), chr(10) ORDER BY row_number) FROM quarantined"
        ).fetchall()[0]
    return (text + "\n").encode("utf-8")


def _bounded_table(frame: pd.DataFrame) -> pa.Table:
    """The frame as a schemas.QUARANTINE table with `raw` cut to the limit."""
    raw = pa.array(frame[c.RAW_RECORD], from_pandas=True)
    if RAW_BYTES in frame and RAW_SHA256 in frame:
        kept = cut_raw(raw)
        lengths = pa.array(frame[RAW_BYTES], pa.int64(), from_pandas=True)
        digests = pa.array(frame[RAW_SHA256], pa.string(), from_pandas=True)
    else:
        kept, lengths, digests = bounded_raw(raw)
    columns = {
        name: pa.array(frame[name], schemas.QUARANTINE.field(name).type, from_pandas=True)
        for name in (c.SOURCE_KEY, c.SOURCE_LINE, c.REASON, c.DETAIL)
    }
    columns |= {c.RAW_RECORD: kept, RAW_BYTES: lengths, RAW_SHA256: digests}
    return pa.table(columns, schema=schemas.QUARANTINE)


def _binary(raw: _ArrowArray) -> pa.Array:
    """The texts as one binary array (zero-copy from strings), nulls as empty."""
    if isinstance(raw, pa.ChunkedArray):
        raw = raw.combine_chunks()
    large = pa.types.is_large_string(raw.type) or pa.types.is_large_binary(raw.type)
    data = raw.cast(pa.large_binary() if large else pa.binary())
    return data.fill_null(b"") if data.null_count else data


def _cut(data: pa.Array, lengths: pa.Array) -> pa.Array:
    """`data` as strings, those over the limit cut at a character boundary (bytes that are not
    UTF-8 read as U+FFFD)."""
    try:
        texts = data.cast(pa.string())
    except pa.ArrowInvalid:  # not UTF-8: every row through Python's decoder
        return pa.array([_utf8_prefix(v.as_buffer()) for v in data], pa.string())
    over = pc.greater(lengths, MAX_QUARANTINED_RAW_BYTES)
    if not pc.any(over).as_py():
        return texts
    heads = pa.array([_utf8_prefix(v.as_buffer()) for v in data.filter(over)], pa.string())
    return pc.replace_with_mask(texts, over, heads)


def _utf8_prefix(data: pa.Buffer, limit: int = MAX_QUARANTINED_RAW_BYTES) -> str:
    """The longest run of whole characters from the start of `data` within `limit` UTF-8 bytes.

    Every character starting before `limit` ends within 3 bytes after it, so decoding
    `limit + 3` bytes, re-encoding and dropping a partial last character is exact."""
    text = memoryview(data)[: limit + 3].tobytes().decode("utf-8", "replace")
    return text.encode("utf-8")[:limit].decode("utf-8", "ignore")


__all__ = ["bounded_raw", "cut_raw", "quarantine_jsonl", "quarantine_rows", "reject_rows"]
