"""DynamoDB: the serving tables, written in batches of 25 with unprocessed items retried."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from energy_platform.contract import TABLE_KEYS, prefixed
from energy_platform.resources.clients import AwsResource, name_prefix_field

BATCH_WRITE_LIMIT = 25
BATCH_GET_LIMIT = 100
MAX_UNPROCESSED_ROUNDS = 12

Item = dict[str, dict[str, Any]]


def _attribute_columns(df: pd.DataFrame) -> dict[str, list[dict[str, Any] | None]]:
    """Each column as DynamoDB attribute values (None where the value is missing)."""
    out: dict[str, list[dict[str, Any] | None]] = {}
    for name in df.columns:
        col = df[name]
        missing = col.isna().to_numpy()
        if pd.api.types.is_bool_dtype(col):
            values = [{"BOOL": bool(v)} for v in col.to_numpy()]
        elif pd.api.types.is_numeric_dtype(col):
            finite = np.isfinite(col.to_numpy(dtype="float64", na_value=np.nan))
            missing = missing | ~finite
            text = col.astype("float64").map(repr) if col.dtype.kind == "f" else col.astype(str)
            values = [{"N": t} for t in text.to_numpy()]
        else:
            values = [{"S": str(v)} for v in col.to_numpy()]
        out[name] = [None if m else v for v, m in zip(values, missing, strict=True)]
    return out


def frame_to_items(df: pd.DataFrame) -> list[Item]:
    """Rows of `df` as low-level DynamoDB items; missing values are left out."""
    columns = _attribute_columns(df)
    names = list(columns)
    return [
        {n: v for n, v in zip(names, row, strict=True) if v is not None}
        for row in zip(*columns.values(), strict=True)
    ]


def item_to_python(item: Item) -> dict[str, Any]:
    """A low-level item as plain Python values (numbers as float)."""
    out: dict[str, Any] = {}
    for name, value in item.items():
        ((kind, raw),) = value.items()
        out[name] = float(raw) if kind == "N" else raw
    return out


class DynamoTables(AwsResource):
    """The platform's tables (`{ENERGY_TABLE_PREFIX}readings`, ...)."""

    service = "dynamodb"

    table_prefix: str = name_prefix_field()
    writers: int = 4
    """Concurrent BatchWriteItem callers per write."""

    def table_name(self, table: str) -> str:
        return prefixed(self.table_prefix, table)

    def put_frame(self, table: str, df: pd.DataFrame) -> int:
        """Upsert every row of `df` into `table`; returns BatchWriteItem calls made."""
        requests = [{"PutRequest": {"Item": item}} for item in frame_to_items(df)]
        return self._write(table, requests)

    def delete_frame(self, table: str, keys: pd.DataFrame) -> int:
        """Delete the items whose key columns are the rows of `keys`."""
        pk, sk = TABLE_KEYS[table]
        requests = [{"DeleteRequest": {"Key": item}} for item in frame_to_items(keys[[pk, sk]])]
        return self._write(table, requests)

    def _write(self, table: str, requests: list[dict[str, Any]]) -> int:
        if not requests:
            return 0
        name = self.table_name(table)
        chunks = [
            requests[i : i + BATCH_WRITE_LIMIT] for i in range(0, len(requests), BATCH_WRITE_LIMIT)
        ]
        if len(chunks) == 1 or self.writers <= 1:
            return sum(self._write_chunk(name, c) for c in chunks)
        with ThreadPoolExecutor(max_workers=self.writers) as pool:
            return sum(pool.map(lambda c: self._write_chunk(name, c), chunks))

    def _write_chunk(self, name: str, chunk: list[dict[str, Any]]) -> int:
        pending: dict[str, Any] = {name: chunk}
        for attempt in range(MAX_UNPROCESSED_ROUNDS):
            resp = self.client.batch_write_item(RequestItems=pending)
            pending = resp.get("UnprocessedItems") or {}
            if not pending:
                return attempt + 1
            time.sleep(min(2.0, 0.05 * 2**attempt))
        raise RuntimeError(
            f"DynamoDB table {name}: {len(pending.get(name, []))} items still unprocessed after "
            f"{MAX_UNPROCESSED_ROUNDS} retries; the table is throttled, re-run the materialization"
        )

    def get_items(self, table: str, keys: Sequence[dict[str, str]]) -> list[dict[str, Any]]:
        """Items for string keys ({pk: v, sk: v}), 100 per BatchGetItem, unprocessed retried."""
        name = self.table_name(table)
        found: list[dict[str, Any]] = []
        for i in range(0, len(keys), BATCH_GET_LIMIT):
            pending: dict[str, Any] = {
                name: {
                    "Keys": [
                        {k: {"S": v} for k, v in key.items()}
                        for key in keys[i : i + BATCH_GET_LIMIT]
                    ]
                }
            }
            for attempt in range(MAX_UNPROCESSED_ROUNDS):
                resp = self.client.batch_get_item(RequestItems=pending)
                found.extend(item_to_python(it) for it in resp["Responses"].get(name, []))
                pending = resp.get("UnprocessedKeys") or {}
                if not pending:
                    break
                time.sleep(min(2.0, 0.05 * 2**attempt))
        return found

    def query(self, table: str, partition_value: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every item of one partition (all pages)."""
        pk, _ = TABLE_KEYS[table]
        paginator = self.client.get_paginator("query")
        pages = paginator.paginate(
            TableName=self.table_name(table),
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": pk},
            ExpressionAttributeValues={":pk": {"S": partition_value}},
            **kwargs,
        )
        for page in pages:
            yield from (item_to_python(it) for it in page["Items"])

    def scan_all(self, table: str) -> list[dict[str, Any]]:
        """Every item of a table. For tests, checks and small tables only: never on a hot path."""
        paginator = self.client.get_paginator("scan")
        return [
            item_to_python(it)
            for page in paginator.paginate(TableName=self.table_name(table))
            for it in page["Items"]
        ]
