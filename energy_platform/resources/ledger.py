"""The ingested-files ledger: which raw objects (key and ETag) have been processed, by which run."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from energy_platform import contract as c
from energy_platform.resources.dynamodb import DynamoTables
from energy_platform.resources.s3 import LakeStorage, ObjectInfo


def identity(key: str, etag: str) -> str:
    return f"{key}@{etag}"


def entries(tables: DynamoTables, objects: Iterable[tuple[str, str]]) -> dict[str, dict]:
    """The ledger's items for the (key, etag) pairs it holds, by `key@etag` identity."""
    keys = [{c.SOURCE_KEY: k, "etag": e} for k, e in dict.fromkeys(objects)]
    items = tables.get_items(c.INGESTED_FILES_TABLE, keys)
    return {identity(it[c.SOURCE_KEY], it["etag"]): it for it in items}


def processed(tables: DynamoTables, objects: Iterable[tuple[str, str]]) -> set[str]:
    """Which of the (key, etag) pairs the ledger already holds, as `key@etag` identities."""
    return set(entries(tables, objects))


def record(tables: DynamoTables, files: pd.DataFrame, run_id: str, processed_at: str) -> int:
    """Mark files as processed (after their outputs are written: the ledger is the commit)."""
    items = files.assign(run_id=run_id, processed_at=processed_at)
    return tables.put_frame(c.INGESTED_FILES_TABLE, items)


def unprocessed_objects(lake: LakeStorage, tables: DynamoTables) -> list[ObjectInfo]:
    """Objects under raw/ the ledger does not hold (for the freshness check and replays)."""
    objects = list(lake.list_objects(c.RAW_PREFIX))
    done = processed(tables, ((o.key, o.etag) for o in objects))
    return [o for o in objects if identity(o.key, o.etag) not in done]
