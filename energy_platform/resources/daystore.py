"""Write one day (or one site shard of a day) of a dataset to S3 (its Parquet object) and its
DynamoDB table, by difference."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import pyarrow as pa

from energy_platform import contract as c
from energy_platform.resources import DynamoTables, LakeStorage
from energy_platform.transforms.frames import to_frame, to_table
from energy_platform.transforms.serving import changes


@dataclass(frozen=True)
class DayDataset:
    """A day-partitioned dataset kept in S3 and, when it has a table, in DynamoDB."""

    prefix: str
    table: str | None
    schema: pa.Schema
    to_items: Callable[[pd.DataFrame], pd.DataFrame] | None

    def key(self, date: str, shard: str | None = None) -> str:
        return c.partition_object(self.prefix, date, shard)

    def read(self, lake: LakeStorage, date: str, shard: str | None = None) -> pd.DataFrame | None:
        """The day's object, or one shard's."""
        table = lake.read_parquet(self.key(date, shard))
        return None if table is None else to_frame(table)

    def read_day(self, lake: LakeStorage, date: str) -> pd.DataFrame:
        """Every object of the day (all its shards), as one frame (empty if there are none)."""
        objects = sorted(o.key for o in lake.list_objects(c.day_prefix(self.prefix, date)))
        tables = [t for t in (lake.read_parquet(k) for k in objects) if t is not None]
        if not tables:
            return to_frame(self.schema.empty_table())
        return to_frame(pa.concat_tables([t.cast(self.schema) for t in tables]))


@dataclass(frozen=True)
class SyncStats:
    rows: int
    items_put: int
    items_deleted: int
    write_calls: int


def sync_day(
    dataset: DayDataset,
    date: str,
    new: pd.DataFrame,
    old: pd.DataFrame | None,
    lake: LakeStorage,
    tables: DynamoTables | None,
    rewrite: pd.Series | None = None,
    shard: str | None = None,
) -> SyncStats:
    """Make the day's (or the day's shard's) DynamoDB items and S3 object equal `new`.

    `rewrite`: rows of `new` whose items are put even if `old` had them (see `changes`).
    `tables`: None for a dataset kept in S3 only.

    DynamoDB first, S3 last: the S3 partition is what the next run diffs against, so a run
    killed half-way is completed by re-running it, never left with missing items.
    """
    puts = deletes = calls = 0
    if tables is not None and dataset.table is not None and dataset.to_items is not None:
        pk, sk = c.TABLE_KEYS[dataset.table]
        old_items = None if old is None else dataset.to_items(old)
        diff = changes(old_items, dataset.to_items(new), [pk, sk], rewrite)
        calls = tables.put_frame(dataset.table, diff.upserts) + tables.delete_frame(
            dataset.table, diff.deletes
        )
        puts, deletes = len(diff.upserts), len(diff.deletes)
    key = dataset.key(date, shard)
    if new.empty:
        lake.delete_keys([key])
    else:
        lake.write_parquet(key, to_table(new, dataset.schema))
    return SyncStats(len(new), puts, deletes, calls)


class ShardLayoutMismatch(RuntimeError):
    """Silver was written with another shard count than the one configured."""


def check_shard_layout(lake: LakeStorage, shards: int) -> None:
    """Record the shard count with the first silver write; refuse any other count afterwards
    (its sites would be merged into other shards' files and counted twice)."""
    if lake.head(c.SHARD_LAYOUT_KEY) is None:
        lake.put_bytes(c.SHARD_LAYOUT_KEY, json.dumps({"site_shards": shards}).encode())
        return
    recorded = json.loads(lake.get_bytes(c.SHARD_LAYOUT_KEY))["site_shards"]
    if recorded != shards:
        raise ShardLayoutMismatch(
            f"silver was written with {recorded} site shards but ENERGY_SITE_SHARDS is {shards}: "
            f"set ENERGY_SITE_SHARDS={recorded} again (a new count needs the lake rebuilt from "
            "raw/, docs/CAPACITY.md, 'Choosing the shard count')"
        )
