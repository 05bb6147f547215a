"""Analytics, one UTC day at a time: each site's baseline from its trailing days, and the
underperformance events of the day against it (rules and parameters in docs/ANOMALIES.md).

They judge a site against its county's other sites, which spread over all site shards, so they
read whole days (every shard) and run per day, after the day's shards and county totals, at
most every `ENERGY_ANALYTICS_INTERVAL_SECONDS` (analytics_job, started by
staged_partitions_sensor)."""

from datetime import date as Date
from datetime import timedelta

import pandas as pd
from dagster import (
    AssetDep,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    TimeWindowPartitionMapping,
    asset,
)

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.defs.alerts import underperformance_summary
from energy_platform.defs.assets import keys
from energy_platform.defs.assets.aggregates import ALL_SHARDS_OF_THE_DAY
from energy_platform.defs.assets.policies import ANALYTICS_FRESHNESS, AWS_RETRY
from energy_platform.defs.metadata import column_schema, s3_location, table_metadata
from energy_platform.defs.partitions import daily_partitions
from energy_platform.resources import AlertNotifier, DynamoTables, LakeStorage, datasets
from energy_platform.resources.daystore import sync_day
from energy_platform.settings import get_settings
from energy_platform.transforms.baseline import site_baseline
from energy_platform.transforms.frames import to_frame, to_table
from energy_platform.transforms.underperformance import new_events, underperformance

HISTORY_DAYS = get_settings().analytics.history_days


def _day(date: str, offset: int) -> str:
    return (Date.fromisoformat(date) + timedelta(days=offset)).isoformat()


def _baseline_key(date: str) -> str:
    return c.partition_object(c.GOLD_SITE_BASELINE_PREFIX, date)


@asset(
    key=keys.SITE_BASELINE,
    group_name="analytics",
    # It reads the trailing days' cleaned readings (every shard). Dagster cannot map a time
    # window from date x shard partitions onto daily ones, so the dependency names those days'
    # county totals, which are built once all of a day's shards are merged.
    deps=[
        AssetDep(
            keys.COUNTY_5MIN_AGGREGATES,
            partition_mapping=TimeWindowPartitionMapping(start_offset=-HISTORY_DAYS, end_offset=-1),
        )
    ],
    partitions_def=daily_partitions,
    retry_policy=AWS_RETRY,
    kinds={"s3"},
    freshness_policy=ANALYTICS_FRESHNESS,
    metadata=column_schema(schemas.SITE_BASELINE),
    description="Per site and 5-minute slot of the day: the generation to expect and the site's "
    "share of its county's median, from its good days among the trailing "
    f"{HISTORY_DAYS} days' cleaned readings (gold/site_baseline/).",
)
def site_baseline_asset(context: AssetExecutionContext, lake: LakeStorage) -> MaterializeResult:
    """The day's site baselines from the previous days' cleaned readings."""
    date = context.partition_key
    days = [_day(date, -k) for k in range(HISTORY_DAYS, 0, -1)]
    history = pd.concat([datasets.READINGS.read_day(lake, d) for d in days], ignore_index=True)
    baseline = site_baseline(history, get_settings().analytics)
    key = _baseline_key(date)
    if baseline.empty:
        lake.delete_keys([key])
    else:
        lake.write_parquet(key, to_table(baseline, schemas.SITE_BASELINE))
    return MaterializeResult(
        metadata={
            **table_metadata(schemas.SITE_BASELINE, len(baseline)),
            **s3_location(lake, key),
            "history_days": MetadataValue.json(days),
            "history_readings": len(history),
            "sites_with_baseline": int(baseline[c.SITE_ID].nunique()),
            "sites_in_history": int(history[c.SITE_ID].nunique()),
        }
    )


@asset(
    key=keys.UNDERPERFORMANCE_EVENTS,
    group_name="analytics",
    deps=[
        AssetDep(keys.CLEANED_READINGS, partition_mapping=ALL_SHARDS_OF_THE_DAY),
        keys.SITE_BASELINE,
    ],
    partitions_def=daily_partitions,
    retry_policy=AWS_RETRY,
    kinds={"s3", "dynamodb", "sns"},
    freshness_policy=ANALYTICS_FRESHNESS,
    metadata=column_schema(datasets.UNDERPERFORMANCE.schema),
    description="Sites whose daylight generation stays below their expected share for long: one "
    "row per event and day, with the energy lost (gold/underperformance/, underperformance "
    "table); an alert when an event starts, once.",
)
def underperformance_events(
    context: AssetExecutionContext, lake: LakeStorage, tables: DynamoTables, alerts: AlertNotifier
) -> MaterializeResult:
    """The day's underperformance events against the site baselines; alerts the new ones."""
    date = context.partition_key
    found = lake.read_parquet(_baseline_key(date))
    baseline = to_frame(schemas.SITE_BASELINE.empty_table() if found is None else found)
    previous = datasets.UNDERPERFORMANCE.read(lake, _day(date, -1))
    old = datasets.UNDERPERFORMANCE.read(lake, date)
    events = underperformance(
        datasets.READINGS.read_day(lake, date), baseline, previous, date, get_settings().analytics
    )
    starting = new_events(events, old)
    stats = sync_day(datasets.UNDERPERFORMANCE, date, events, old, lake, tables)
    summary = underperformance_summary(date, starting)
    if summary is not None:
        alerts.publish("underperformance", summary.pop("subject"), summary)
    return MaterializeResult(
        metadata={
            **table_metadata(datasets.UNDERPERFORMANCE.schema, len(events)),
            **s3_location(lake, datasets.UNDERPERFORMANCE.key(date)),
            "sites_underperforming": int(events[c.SITE_ID].nunique()),
            "energy_lost_kwh": float(events[c.ENERGY_LOST].sum()),
            "events_started_and_alerted": len(starting),
            "dynamodb_items_written": stats.items_put,
            "dynamodb_items_deleted": stats.items_deleted,
            "preview": MetadataValue.md(events.head(5).to_markdown(index=False)),
        }
    )
