"""Partitions: silver and site-level gold by UTC date x site shard (a run merges one shard of one
day), county totals and analytics by UTC date (a run combines a whole day)."""

from __future__ import annotations

from dagster import (
    DailyPartitionsDefinition,
    Failure,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
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


def require_shard_layout(lake: LakeStorage) -> None:
    """Fail the step, without retries, when the lake was written with another shard count."""
    try:
        check_shard_layout(lake, get_settings().site_shards)
    except ShardLayoutMismatch as err:
        raise Failure(str(err), allow_retries=False) from err


def day_shard_key(date: str, shard: str) -> MultiPartitionKey:
    return MultiPartitionKey({DATE: date, SHARD: shard})


def day_of(partition_key: str) -> str:
    """The date of a day partition key or of a date x shard one ("2024-01-03|2")."""
    return partition_key.split("|", 1)[0]


def day_and_shard(partition_key: str) -> tuple[str, str]:
    """(date, shard) of a date x shard partition key."""
    keys = day_shard_partitions.get_partition_key_from_str(partition_key).keys_by_dimension
    return keys[DATE], keys[SHARD]
