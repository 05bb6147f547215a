"""Write one day of a dataset to S3 (the Parquet partition) and its DynamoDB table, by difference."""

from __future__ import annotations

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
    """A day-partitioned dataset kept in both S3 and DynamoDB."""

    prefix: str
    table: str
    schema: pa.Schema
    to_items: Callable[[pd.DataFrame], pd.DataFrame]

    def key(self, date: str) -> str:
        return c.partition_object(self.prefix, date)

    def read(self, lake: LakeStorage, date: str) -> pd.DataFrame | None:
        table = lake.read_parquet(self.key(date))
        return None if table is None else to_frame(table)


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
    tables: DynamoTables,
    rewrite: pd.Series | None = None,
) -> SyncStats:
    """Make the day's DynamoDB items and S3 partition equal `new`.

    `rewrite`: rows of `new` whose items are put even if `old` had them (see `changes`).

    DynamoDB first, S3 last: the S3 partition is what the next run diffs against, so a run
    killed half-way is completed by re-running it, never left with missing items.
    """
    pk, sk = c.TABLE_KEYS[dataset.table]
    old_items = None if old is None else dataset.to_items(old)
    diff = changes(old_items, dataset.to_items(new), [pk, sk], rewrite)
    calls = tables.put_frame(dataset.table, diff.upserts) + tables.delete_frame(
        dataset.table, diff.deletes
    )
    if new.empty:
        lake.delete_keys([dataset.key(date)])
    else:
        lake.write_parquet(dataset.key(date), to_table(new, dataset.schema))
    return SyncStats(len(new), len(diff.upserts), len(diff.deletes), calls)
