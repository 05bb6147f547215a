"""Partitions: silver, site-level gold and analytics by UTC date x site shard (a run handles one
shard of one day), county totals by UTC date (a run adds a day's shards up); the mappings
between them."""

from __future__ import annotations

import warnings
from datetime import date as Date
from datetime import timedelta

from dagster import (
    DailyPartitionsDefinition,
    DimensionPartitionMapping,
    Failure,
    IdentityPartitionMapping,
    MultiPartitionKey,
    MultiPartitionMapping,
    MultiPartitionsDefinition,
    MultiToSingleDimensionPartitionMapping,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
)

from energy_platform.resources import LakeStorage
from energy_platform.resources.daystore import ShardLayoutMismatch, check_shard_layout
from energy_platform.settings import get_settings
from energy_platform.transforms.shards import shard_keys

FIRST_DAY = get_settings().first_day
"""`ENERGY_FIRST_DAY` (default `contract.DEFAULT_FIRST_DAY`): readings before it are quarantined
as `bad_timestamp`, since no partition could hold them."""
DATE = "date"
SHARD = "shard"

daily_partitions = DailyPartitionsDefinition(start_date=FIRST_DAY, end_offset=2, timezone="UTC")
"""end_offset=2: today's and tomorrow's partitions exist (readings may be up to 24 h ahead)."""
shard_partitions = StaticPartitionsDefinition(shard_keys(get_settings().site_shards))
"""`ENERGY_SITE_SHARDS` site shards (transforms/shards.py)."""
day_shard_partitions = MultiPartitionsDefinition({DATE: daily_partitions, SHARD: shard_partitions})

# Dagster 1.13 marks both mappings from date x shard partitions beta (each warns once built);
# those two messages, and only they, are silenced.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="Class `MultiToSingleDimensionPartitionMapping`")
    warnings.filterwarnings("ignore", message="Class `MultiPartitionMapping`")
    ALL_SHARDS_OF_THE_DAY = MultiToSingleDimensionPartitionMapping(partition_dimension_name=DATE)
    """A day partition depends on every site shard of that day."""
    SAME_SHARD_TRAILING_DAYS = MultiPartitionMapping(
        {
            DATE: DimensionPartitionMapping(
                DATE,
                TimeWindowPartitionMapping(
                    start_offset=-get_settings().analytics.history_days, end_offset=-1
                ),
            ),
            SHARD: DimensionPartitionMapping(SHARD, IdentityPartitionMapping()),
        }
    )
    """A day shard depends on the same shard's previous `history_days` days (the baseline's)."""


def require_shard_layout(lake: LakeStorage) -> None:
    """Fail the step, without retries, when the lake was written with another shard count."""
    try:
        check_shard_layout(lake, get_settings().site_shards)
    except ShardLayoutMismatch as err:
        raise Failure(str(err), allow_retries=False) from err


def day_shard_key(date: str, shard: str) -> MultiPartitionKey:
    return MultiPartitionKey({DATE: date, SHARD: shard})


def shifted_day(date: str, days: int) -> str:
    """The ISO date `days` days after `date` (before it when negative)."""
    return (Date.fromisoformat(date) + timedelta(days=days)).isoformat()


def day_of(partition_key: str) -> str:
    """The date of a day partition key or of a date x shard one ("2024-01-03|2")."""
    return partition_key.split("|", 1)[0]


def day_and_shard(partition_key: str) -> tuple[str, str]:
    """(date, shard) of a date x shard partition key."""
    keys = day_shard_partitions.get_partition_key_from_str(partition_key).keys_by_dimension
    return keys[DATE], keys[SHARD]
