"""Open the lake's Parquet and JSON-lines outputs as Arrow datasets for the report.

Reading goes through pyarrow's filesystems (S3 on AWS or the emulator, or a local directory for
benchmarks), so DuckDB gets Arrow data without needing its httpfs extension.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.json as pajson

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.settings import Settings
from energy_platform.transforms.report_data import QUARANTINE_SCHEMA, LakeTables

QUARANTINE_READERS = 16
"""Quarantine objects (one per raw file with rejects) are small: read this many at a time."""
DATE_PARTITIONING = ds.partitioning(pa.schema([(c.DATE, pa.string())]), flavor="hive")
"""`date=YYYY-MM-DD/` directories; the value is kept as text, as in `site_daily`."""


def s3_filesystem(settings: Settings) -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem for the platform's region, at `AWS_ENDPOINT_URL` when set."""
    if not settings.endpoint_url:
        return pafs.S3FileSystem(region=settings.region)
    endpoint = urlparse(settings.endpoint_url)
    return pafs.S3FileSystem(
        region=settings.region,
        scheme=endpoint.scheme or "https",
        endpoint_override=endpoint.netloc or endpoint.path,
    )


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
    """The quarantine JSON lines (plain or gzipped) under `base`, with the fields the report uses.

    Only `source_key`, `source_line` and `reason` are parsed: `raw` and `detail` vary in shape
    from record to record and the report does not chart them.
    """
    options = pajson.ParseOptions(
        explicit_schema=QUARANTINE_SCHEMA, unexpected_field_behavior="ignore"
    )

    def read(path: str) -> pa.Table:
        with fs.open_input_stream(path) as stream:  # gzip is detected from the extension
            return pajson.read_json(stream, parse_options=options)

    paths = _files(fs, base, (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz"))
    with ThreadPoolExecutor(max_workers=QUARANTINE_READERS) as pool:
        tables = [QUARANTINE_SCHEMA.empty_table(), *pool.map(read, paths)]
    return pa.concat_tables(tables).select(QUARANTINE_SCHEMA.names)


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
    )


def open_s3_lake(settings: Settings) -> LakeTables:
    """The report's inputs in the platform's bucket."""
    return open_lake(s3_filesystem(settings), settings.bucket)
