"""Dagster's standard metadata for the platform's tables and S3 objects, as the UI shows it.

`dagster/column_schema` fills an asset's Columns tab, `dagster/row_count` its row count, and
`dagster/uri` its location. Dagster 1.13 does not export TableMetadataSet or UriMetadataSet at
the top level, so the keys are named here.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote, urlencode

import pyarrow as pa
from dagster import MetadataValue, TableColumn, TableSchema

from energy_platform.resources.s3 import LakeStorage
from energy_platform.settings import get_settings

ROW_COUNT: Final = "dagster/row_count"
COLUMN_SCHEMA: Final = "dagster/column_schema"
URI: Final = "dagster/uri"
OBJECT_LINK: Final = "s3_object"
"""A clickable link to the object: the emulator's URL locally, the AWS console otherwise."""


def table_schema(schema: pa.Schema) -> TableSchema:
    """The columns of an Arrow schema, with Arrow's type names, as a Dagster TableSchema."""
    return TableSchema(columns=[TableColumn(f.name, str(f.type)) for f in schema])


def column_schema(schema: pa.Schema) -> dict[str, MetadataValue]:
    """Definition metadata: the Columns tab before anything is materialized."""
    return {COLUMN_SCHEMA: MetadataValue.table_schema(table_schema(schema))}


def table_metadata(schema: pa.Schema, rows: int) -> dict[str, MetadataValue]:
    """Materialization metadata of a table: its row count and column schema."""
    return {ROW_COUNT: MetadataValue.int(int(rows)), **column_schema(schema)}


def object_url(bucket: str, region: str, key: str, endpoint: str | None) -> str:
    """A browser URL for an object (or, for a key ending in '/', a prefix): path-style on an
    S3-compatible endpoint (the local emulator), else the AWS console."""
    prefix = key.endswith("/")
    if endpoint:
        base = f"{endpoint.rstrip('/')}/{bucket}"
        return f"{base}?{_query(prefix=key)}" if prefix else f"{base}/{quote(key)}"
    page = "buckets" if prefix else "object"
    console = f"https://{region}.console.aws.amazon.com/s3"
    return f"{console}/{page}/{bucket}?{_query(region=region, prefix=key)}"


def _query(**params: str) -> str:
    return urlencode(params, quote_via=quote)


def s3_location(lake: LakeStorage, key: str) -> dict[str, MetadataValue]:
    """Where an object (or prefix) lives: its s3:// URI and a link that opens it."""
    link = object_url(lake.bucket, lake.region, key, get_settings().endpoint_url)
    return {URI: MetadataValue.text(lake.uri(key)), OBJECT_LINK: MetadataValue.url(link)}
