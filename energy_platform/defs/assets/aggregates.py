"""Gold: site days, device days and county partial sums per site shard of a UTC day, from that
shard's cleaned readings; the day's county 5-minute windows as the sum of its shards'."""

from collections.abc import Callable
from typing import Any

import pandas as pd
from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetRecordsFilter,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from energy_platform.defs.alerts import NEW_ANOMALIES, anomaly_summary
from energy_platform.defs.assets import keys
from energy_platform.defs.assets.policies import AWS_RETRY, DATA_FRESHNESS
from energy_platform.defs.metadata import column_schema, s3_location, table_metadata
from energy_platform.defs.partitions import (
    ALL_SHARDS_OF_THE_DAY,
    daily_partitions,
    day_and_shard,
    day_shard_key,
    day_shard_partitions,
    shard_partitions,
)
from energy_platform.defs.records import materializations
from energy_platform.resources import AlertNotifier, DynamoTables, LakeStorage, datasets
from energy_platform.resources.daystore import DayDataset, SyncStats, sync_day
from energy_platform.resources.notify import BATCH_ANOMALIES
from energy_platform.transforms.aggregate import combine_county_5min, county_5min, site_daily
from energy_platform.transforms.device_stats import device_daily
from energy_platform.transforms.frames import to_frame


def _metadata(
    dataset: DayDataset, key: str, stats: SyncStats, new: pd.DataFrame, lake: LakeStorage
) -> dict:
    return {
        **table_metadata(dataset.schema, stats.rows),
        **s3_location(lake, key),
        "dynamodb_items_written": stats.items_put,
        "dynamodb_items_deleted": stats.items_deleted,
        "dynamodb_write_calls": stats.write_calls,
        "preview": MetadataValue.md(new.head(5).to_markdown(index=False)),
    }


def _shard_gold_asset(
    key: AssetKey,
    dataset: DayDataset,
    aggregate: Callable[[pd.DataFrame], pd.DataFrame],
    description: str,
) -> AssetsDefinition:
    @asset(
        key=key,
        group_name="gold",
        deps=[keys.CLEANED_READINGS],
        partitions_def=day_shard_partitions,
        retry_policy=AWS_RETRY,
        kinds={"s3", "dynamodb"} if dataset.table else {"s3"},
        description=description,
        freshness_policy=DATA_FRESHNESS,
        metadata=column_schema(dataset.schema),
    )
    def _materialize(
        context: AssetExecutionContext, lake: LakeStorage, tables: DynamoTables
    ) -> MaterializeResult:
        date, shard = day_and_shard(context.partition_key)
        readings = datasets.READINGS.read(lake, date, shard)
        if readings is None:
            readings = to_frame(datasets.READINGS.schema.empty_table())
        new = aggregate(readings)
        old = dataset.read(lake, date, shard)
        stats = sync_day(dataset, date, new, old, lake, tables, shard=shard)
        return MaterializeResult(
            metadata={
                **_metadata(dataset, dataset.key(date, shard), stats, new, lake),
                "readings": len(readings),
            }
        )

    return _materialize


site_daily_aggregates = _shard_gold_asset(
    keys.SITE_DAILY_AGGREGATES,
    datasets.SITE_DAILY,
    site_daily,
    "Per site and UTC day: readings, anomalies, energy sums and min/max net over readings "
    "without anomalies (gold/site_daily/, site_daily table).",
)
device_daily_stats = _shard_gold_asset(
    keys.DEVICE_DAILY_STATS,
    datasets.DEVICE_DAILY,
    device_daily,
    "Per device and UTC day (readings without a device_id under their site id): readings, "
    "anomalous readings and their share, energy sums and min/avg/max of each value over "
    "readings without anomalies (gold/device_daily/, device_daily table).",
)
county_5min_partials = _shard_gold_asset(
    keys.COUNTY_5MIN_PARTIALS,
    datasets.COUNTY_5MIN_PARTIALS,
    county_5min,
    "county_5min over one site shard's readings (gold/county_5min_partials/, S3 only): "
    "county_5min_aggregates adds the day's shards up.",
)


@asset(
    key=keys.COUNTY_5MIN_AGGREGATES,
    group_name="gold",
    deps=[AssetDep(keys.COUNTY_5MIN_PARTIALS, partition_mapping=ALL_SHARDS_OF_THE_DAY)],
    partitions_def=daily_partitions,
    retry_policy=AWS_RETRY,
    kinds={"s3", "dynamodb"},
    description="Per county and 5-minute window: readings, anomalies, distinct sites and energy "
    "sums over readings without anomalies, the sum of the day's shards' partials "
    "(gold/county_5min/, county_5min table).",
    freshness_policy=DATA_FRESHNESS,
    metadata=column_schema(datasets.COUNTY_5MIN.schema),
)
def county_5min_aggregates(
    context: AssetExecutionContext, lake: LakeStorage, tables: DynamoTables, alerts: AlertNotifier
) -> MaterializeResult:
    """The day's county windows: its shards' partial sums added up. Also sends the day's one
    anomaly alert for the readings its shard runs merged since the previous county run."""
    date = context.partition_key
    partials = datasets.COUNTY_5MIN_PARTIALS.read_day(lake, date)
    new = combine_county_5min(partials)
    stats = sync_day(
        datasets.COUNTY_5MIN, date, new, datasets.COUNTY_5MIN.read(lake, date), lake, tables
    )
    # After the writes: a step retried for a write fault does not send the alert twice.
    summary = anomaly_summary(date, _new_anomalies_since_last_county_run(context, date))
    if summary is not None:
        alerts.publish(BATCH_ANOMALIES, summary.pop("subject"), summary)
    return MaterializeResult(
        metadata={
            **_metadata(datasets.COUNTY_5MIN, datasets.COUNTY_5MIN.key(date), stats, new, lake),
            "partial_rows": len(partials),
            "new_anomalies_alerted": 0 if summary is None else summary["anomalies"],
        }
    )


def _new_anomalies_since_last_county_run(
    context: AssetExecutionContext, date: str
) -> list[dict[str, Any]]:
    """What the day's shard runs found in new readings since the day's last county run (from
    their reading_anomalies materializations)."""
    last = context.instance.fetch_materializations(
        AssetRecordsFilter(keys.COUNTY_5MIN_AGGREGATES, asset_partitions=[date]), limit=1
    ).records
    since_last = AssetRecordsFilter(
        keys.READING_ANOMALIES,
        asset_partitions=[
            str(day_shard_key(date, s)) for s in shard_partitions.get_partition_keys()
        ],
        after_storage_id=last[0].storage_id if last else None,
    )
    found = []
    for record in materializations(context.instance, since_last):
        meta = record.asset_materialization.metadata if record.asset_materialization else {}
        if NEW_ANOMALIES in meta:
            found.append(meta[NEW_ANOMALIES].value)
    return found
