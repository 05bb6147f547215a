"""Open the lake's Parquet and JSON-lines outputs as Arrow datasets for the report.

Reading goes through pyarrow's filesystems (S3 on AWS or the emulator, or a local directory for
benchmarks), so DuckDB gets Arrow data without needing its httpfs extension.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.transforms.duck import connection
from energy_platform.transforms.report_data import QUARANTINE_SCHEMA, LakeTables

QUARANTINE_READERS = 16
"""Quarantine objects (one per raw file with rejects) are small: read this many at a time."""
QUARANTINE_READ_BYTES = 1 << 20
"""A quarantine object is read this many bytes at a time."""
QUARANTINE_PARSE_BYTES = 4 << 20
"""Quarantine lines are parsed this many bytes at a time (a query costs milliseconds: once per
small object would be most of the time)."""
QUARANTINE_LINE_BYTES = 1 << 20
"""A quarantine line longer than this is not parsed (nor held whole) and counts as UNREADABLE.
The platform's lines are far shorter: `raw` keeps at most `schemas.MAX_QUARANTINED_RAW_BYTES`."""
UNREADABLE = "unreadable"
"""The reason the report gives a quarantine line it cannot read: not a JSON object of UTF-8
text, one without a `reason`, or one over QUARANTINE_LINE_BYTES (objects written before `raw`
was bounded may hold a line of many MB)."""

# The report's fields of each quarantine line (binary `line`, null when too long to read;
# `object_key`, the source key its object is named after): every line but a blank one is a
# record; one that cannot be read is UNREADABLE, of `object_key`. json_transform reads what it
# can of an object (missing keys are null) and fails on anything else; `try` makes that null.
_QUARANTINE_FIELDS_SQL = f"""
SELECT
    coalesce(fields.{c.SOURCE_KEY}, object_key) AS {c.SOURCE_KEY},
    fields.{c.SOURCE_LINE} AS {c.SOURCE_LINE},
    coalesce(fields.{c.REASON}, $unreadable) AS {c.REASON}
FROM (
    SELECT line, object_key, try(json_transform(decode(line), '{{
        "{c.SOURCE_KEY}": "VARCHAR", "{c.SOURCE_LINE}": "BIGINT", "{c.REASON}": "VARCHAR"
    }}')) AS fields
    FROM lines
)
WHERE fields IS NOT NULL OR line IS NULL
    OR NOT coalesce(regexp_full_match(try(decode(line)), '\\s*'), false)
"""

DATE_PARTITIONING = ds.partitioning(pa.schema([(c.DATE, pa.string())]), flavor="hive")
"""`date=YYYY-MM-DD/` directories; the value is kept as text, as in `site_daily`."""


def _files(fs: pafs.FileSystem, base: str, suffixes: tuple[str, ...]) -> list[str]:
    """Every non-empty file under `base` ending with one of `suffixes` (none if `base` is absent)."""
    selector = pafs.FileSelector(base, recursive=True, allow_not_found=True)
    return sorted(
        info.path
        for info in fs.get_file_info(selector)
        if info.type == pafs.FileType.File and info.size and info.path.endswith(suffixes)
    )


def _parquet_dataset(fs: pafs.FileSystem, base: str, schema: pa.Schema) -> ds.Dataset:
    """The Hive-partitioned Parquet under `base` with `schema` (an empty table when none)."""
    paths = _files(fs, base, (".parquet",))
    if not paths:
        return ds.dataset(schema.empty_table())
    return ds.dataset(
        paths,
        schema=schema,
        format="parquet",
        filesystem=fs,
        partitioning=DATE_PARTITIONING,
        partition_base_dir=base,
    )


def _quarantine_table(fs: pafs.FileSystem, base: str) -> pa.Table:
    """Every record of the quarantine JSON lines (plain or gzipped) under `base`, with the
    fields the report uses (QUARANTINE_SCHEMA), whatever the objects hold."""
    paths = _files(fs, base, (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz"))
    shares = [paths[i::QUARANTINE_READERS] for i in range(min(QUARANTINE_READERS, len(paths)))]

    def read(share: list[str]) -> pa.Table:
        return _quarantine_records(fs, base, share)

    with ThreadPoolExecutor(max_workers=QUARANTINE_READERS) as pool:
        tables = [QUARANTINE_SCHEMA.empty_table(), *pool.map(read, shares)]
    return pa.concat_tables(tables)


def _quarantine_records(fs: pafs.FileSystem, base: str, paths: list[str]) -> pa.Table:
    """The records of the quarantine objects `paths`, read in turn and parsed
    QUARANTINE_PARSE_BYTES of lines at a time: one per non-blank line."""
    tables, pending, size = [QUARANTINE_SCHEMA.empty_table()], [], 0
    with connection() as con:
        for path in paths:
            source_key = _source_of(base, path)
            for lines in _quarantine_lines(fs, path):
                pending.append(
                    pa.table({"line": lines, "object_key": pa.repeat(source_key, len(lines))})
                )
                size += lines.nbytes
                if size >= QUARANTINE_PARSE_BYTES:
                    tables.append(_parsed_lines(con, pending))
                    pending, size = [], 0
        if pending:
            tables.append(_parsed_lines(con, pending))
    return pa.concat_tables(tables)


def _parsed_lines(con: duckdb.DuckDBPyConnection, lines: list[pa.Table]) -> pa.Table:
    """QUARANTINE_SCHEMA fields of quarantine lines (`line`, and `object_key`: the raw object its
    quarantine object is named after)."""
    con.register("lines", pa.concat_tables(lines))
    try:
        fields = con.sql(_QUARANTINE_FIELDS_SQL, params={"unreadable": UNREADABLE})
        return fields.to_arrow_table().cast(QUARANTINE_SCHEMA)
    finally:
        con.unregister("lines")


def _quarantine_lines(fs: pafs.FileSystem, path: str) -> Iterator[pa.Array]:
    """The object's lines (binary, newline included), a batch per read of QUARANTINE_READ_BYTES:
    null for a line over QUARANTINE_LINE_BYTES (never held whole), and one null for an object
    that cannot be read to its end (a corrupt gzip, say)."""
    rest, too_long = b"", False
    try:
        with fs.open_input_stream(path) as stream:  # gzip is detected from the extension
            while chunk := stream.read(QUARANTINE_READ_BYTES):
                data = rest + chunk
                ends = np.flatnonzero(np.frombuffer(data, np.uint8) == ord("\n")) + 1
                if len(ends):
                    yield _line_array(data, ends, too_long)
                    rest, too_long = data[ends[-1] :], False
                else:
                    rest = data
                if len(rest) > QUARANTINE_LINE_BYTES:
                    rest, too_long = b"", True
    except (OSError, pa.ArrowException):
        yield pa.nulls(1, pa.binary())
        return
    if rest or too_long:
        yield _line_array(rest, np.array([len(rest)]), too_long)


def _line_array(data: bytes, ends: np.ndarray, continued: bool) -> pa.Array:
    """The lines of `data` that end (exclusive) at `ends`, as a zero-copy binary array: null for
    one over QUARANTINE_LINE_BYTES, and for the first when it `continued` a line already over."""
    offsets = np.concatenate([[0], ends]).astype(np.int32)
    too_long = np.diff(offsets) > QUARANTINE_LINE_BYTES
    too_long[0] |= continued
    validity = pa.py_buffer(np.packbits(~too_long, bitorder="little")) if too_long.any() else None
    buffers = [validity, pa.py_buffer(offsets), pa.py_buffer(data)]
    return pa.Array.from_buffers(pa.binary(), len(ends), buffers)


def _source_of(base: str, path: str) -> str:
    """The raw object a quarantine object is named after (`contract.quarantine_object`)."""
    name = path[len(base) :].lstrip("/").removesuffix(".gz").removesuffix(".jsonl")
    return f"{c.RAW_PREFIX}{name}"


def open_lake(fs: pafs.FileSystem, root: str) -> LakeTables:
    """The report's inputs under `root` (a bucket name on S3, or a local directory)."""
    root = root.rstrip("/")

    def under(prefix: str) -> str:
        return f"{root}/{prefix.rstrip('/')}"

    return LakeTables(
        readings=_parquet_dataset(fs, under(c.SILVER_READINGS_PREFIX), schemas.READINGS),
        anomalies=_parquet_dataset(fs, under(c.SILVER_ANOMALIES_PREFIX), schemas.ANOMALIES),
        county_5min=_parquet_dataset(fs, under(c.GOLD_COUNTY_5MIN_PREFIX), schemas.COUNTY_5MIN),
        site_daily=_parquet_dataset(fs, under(c.GOLD_SITE_DAILY_PREFIX), schemas.SITE_DAILY),
        quarantine=_quarantine_table(fs, under(c.QUARANTINE_PREFIX)),
        device_daily=_parquet_dataset(fs, under(c.GOLD_DEVICE_DAILY_PREFIX), schemas.DEVICE_DAILY),
        underperformance=_parquet_dataset(
            fs, under(c.GOLD_UNDERPERFORMANCE_PREFIX), schemas.UNDERPERFORMANCE
        ),
    )
