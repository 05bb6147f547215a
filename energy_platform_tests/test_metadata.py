"""The standard UI metadata helpers: Arrow schema -> TableSchema, S3 locations -> links."""

from __future__ import annotations

import pyarrow as pa

from energy_platform.defs.metadata import object_url, table_schema


def test_table_schema_keeps_arrow_names_types_and_order() -> None:
    schema = pa.schema([("ts", pa.timestamp("s", tz="UTC")), ("n", pa.int64()), ("x", pa.string())])
    columns = table_schema(schema).columns
    assert [(col.name, col.type) for col in columns] == [
        ("ts", "timestamp[s, tz=UTC]"),
        ("n", "int64"),
        ("x", "string"),
    ]


def test_links_open_the_emulator_path_style_and_the_aws_console_otherwise() -> None:
    local = "http://127.0.0.1:4566/"
    assert object_url("b", "us-east-1", "raw/a b.json", local) == (
        "http://127.0.0.1:4566/b/raw/a%20b.json"
    )
    assert object_url("b", "us-east-1", "quarantine/", local) == (
        "http://127.0.0.1:4566/b?prefix=quarantine%2F"
    )
    assert object_url("b", "eu-west-1", "silver/x.parquet", None) == (
        "https://eu-west-1.console.aws.amazon.com/s3/object/b?region=eu-west-1"
        "&prefix=silver%2Fx.parquet"
    )
    assert object_url("b", "eu-west-1", "staging/readings/", None).startswith(
        "https://eu-west-1.console.aws.amazon.com/s3/buckets/b?"
    )
