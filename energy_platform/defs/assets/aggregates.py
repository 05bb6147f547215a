"""Gold, one UTC day at a time: county 5-minute windows and site days, from cleaned readings."""

from collections.abc import Callable

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    MaterializeResult,
    MetadataValue,
    asset,
)

from energy_platform.defs.assets import keys
from energy_platform.defs.assets.policies import AWS_RETRY, DATA_FRESHNESS
from energy_platform.defs.metadata import column_schema, s3_location, table_metadata
from energy_platform.defs.partitions import daily_partitions
from energy_platform.resources import DynamoTables, LakeStorage, datasets
from energy_platform.resources.daystore import DayDataset, sync_day
from energy_platform.transforms.aggregate import county_5min, site_daily
from energy_platform.transforms.device_stats import device_daily
from energy_platform.transforms.frames import to_frame


def _gold_asset(
    key: AssetKey,
    dataset: DayDataset,
    aggregate: Callable[[pd.DataFrame], pd.DataFrame],
    description: str,
) -> AssetsDefinition:
    @asset(
        key=key,
        group_name="gold",
        deps=[keys.CLEANED_READINGS],
        partitions_def=daily_partitions,
        retry_policy=AWS_RETRY,
        kinds={"s3", "dynamodb"},
        description=description,
        freshness_policy=DATA_FRESHNESS,
        metadata=column_schema(dataset.schema),
    )
    def _materialize(
        context: AssetExecutionContext, lake: LakeStorage, tables: DynamoTables
    ) -> MaterializeResult:
        date = context.partition_key
        readings = datasets.READINGS.read(lake, date)
        if readings is None:
            readings = to_frame(datasets.READINGS.schema.empty_table())
        new = aggregate(readings)
        stats = sync_day(dataset, date, new, dataset.read(lake, date), lake, tables)
        return MaterializeResult(
            metadata={
                **table_metadata(dataset.schema, stats.rows),
                **s3_location(lake, dataset.key(date)),
                "readings": len(readings),
                "dynamodb_items_written": stats.items_put,
                "dynamodb_items_deleted": stats.items_deleted,
                "dynamodb_write_calls": stats.write_calls,
                "preview": MetadataValue.md(new.head(5).to_markdown(index=False)),
            }
        )

    return _materialize


county_5min_aggregates = _gold_asset(
    keys.COUNTY_5MIN_AGGREGATES,
    datasets.COUNTY_5MIN,
    county_5min,
    "Per county and 5-minute window: readings, anomalies, distinct sites and energy sums over "
    "readings without anomalies (gold/county_5min/, county_5min table).",
)
site_daily_aggregates = _gold_asset(
    keys.SITE_DAILY_AGGREGATES,
    datasets.SITE_DAILY,
    site_daily,
    "Per site and UTC day: readings, anomalies, energy sums and min/max net over readings "
    "without anomalies (gold/site_daily/, site_daily table).",
)
device_daily_stats = _gold_asset(
    keys.DEVICE_DAILY_STATS,
    datasets.DEVICE_DAILY,
    device_daily,
    "Per device and UTC day (readings without a device_id under their site id): readings, "
    "anomalous readings and their share, energy sums and min/avg/max of each value over "
    "readings without anomalies (gold/device_daily/, device_daily table).",
)
