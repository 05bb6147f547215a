"""Analytics per site shard of a UTC day: each site's baseline from its trailing days, and the
underperformance events of the day against it (rules and parameters in docs/ANOMALIES.md).

A site is judged against its county's sites in the same shard: shards deal sites out by a
hash of their id, so those are a random sample of the county's sites, and a run reads one
shard's days only (a shard's history, whatever the fleet's size). analytics_job runs them,
started by staged_partitions_sensor after the shard's daily run, at most every
`ENERGY_ANALYTICS_INTERVAL_SECONDS` per shard of a day."""

import pandas as pd
from dagster import (
    AssetDep,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)

from energy_platform import contract as c
from energy_platform.defs.alerts import underperformance_summary
from energy_platform.defs.assets import keys
from energy_platform.defs.assets.policies import ANALYTICS_FRESHNESS, AWS_RETRY
from energy_platform.defs.metadata import column_schema, s3_location, table_metadata
from energy_platform.defs.partitions import (
    SAME_SHARD_TRAILING_DAYS,
    day_and_shard,
    day_shard_partitions,
    shifted_day,
)
from energy_platform.resources import AlertNotifier, DynamoTables, LakeStorage, datasets
from energy_platform.resources.daystore import DayDataset, sync_day
from energy_platform.settings import get_settings
from energy_platform.transforms.baseline import site_baseline
from energy_platform.transforms.frames import to_frame
from energy_platform.transforms.underperformance import new_events, underperformance

HISTORY_DAYS = get_settings().analytics.history_days


def _read_shard(dataset: DayDataset, lake: LakeStorage, date: str, shard: str) -> pd.DataFrame:
    """The day shard's rows of `dataset` (an empty frame of its schema when it has none)."""
    found = dataset.read(lake, date, shard)
    return to_frame(dataset.schema.empty_table()) if found is None else found


@asset(
    key=keys.SITE_BASELINE,
    group_name="analytics",
    deps=[AssetDep(keys.CLEANED_READINGS, partition_mapping=SAME_SHARD_TRAILING_DAYS)],
    partitions_def=day_shard_partitions,
    retry_policy=AWS_RETRY,
    kinds={"s3"},
    freshness_policy=ANALYTICS_FRESHNESS,
    metadata=column_schema(datasets.SITE_BASELINE.schema),
    description="Per site and 5-minute slot of the day: the generation to expect and the site's "
    "share of its county's median, from its good days among the shard's trailing "
    f"{HISTORY_DAYS} days' cleaned readings (gold/site_baseline/).",
)
def site_baseline_asset(context: AssetExecutionContext, lake: LakeStorage) -> MaterializeResult:
    """The shard's site baselines for the day from its previous days' cleaned readings."""
    date, shard = day_and_shard(context.partition_key)
    days = [shifted_day(date, -k) for k in range(HISTORY_DAYS, 0, -1)]
    history = pd.concat(
        [_read_shard(datasets.READINGS, lake, d, shard) for d in days], ignore_index=True
    )
    baseline = site_baseline(history, get_settings().analytics)
    stats = sync_day(datasets.SITE_BASELINE, date, baseline, None, lake, None, shard=shard)
    return MaterializeResult(
        metadata={
            **table_metadata(datasets.SITE_BASELINE.schema, stats.rows),
            **s3_location(lake, datasets.SITE_BASELINE.key(date, shard)),
            "history_days": MetadataValue.json(days),
            "history_readings": len(history),
            "sites_with_baseline": int(baseline[c.SITE_ID].nunique()),
            "sites_in_history": int(history[c.SITE_ID].nunique()),
        }
    )


@asset(
    key=keys.UNDERPERFORMANCE_EVENTS,
    group_name="analytics",
    deps=[keys.CLEANED_READINGS, keys.SITE_BASELINE],
    partitions_def=day_shard_partitions,
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
    """The shard's events of the day against its site baselines; alerts the new ones."""
    date, shard = day_and_shard(context.partition_key)
    baseline = _read_shard(datasets.SITE_BASELINE, lake, date, shard)
    previous = datasets.UNDERPERFORMANCE.read(lake, shifted_day(date, -1), shard)
    old = datasets.UNDERPERFORMANCE.read(lake, date, shard)
    readings = _read_shard(datasets.READINGS, lake, date, shard)
    events = underperformance(readings, baseline, previous, date, get_settings().analytics)
    starting = new_events(events, old)
    stats = sync_day(datasets.UNDERPERFORMANCE, date, events, old, lake, tables, shard=shard)
    # After the writes: a step retried for a write fault does not alert twice.
    summary = underperformance_summary(date, starting)
    if summary is not None:
        alerts.publish("underperformance", summary.pop("subject"), summary)
    return MaterializeResult(
        metadata={
            **table_metadata(datasets.UNDERPERFORMANCE.schema, len(events)),
            **s3_location(lake, datasets.UNDERPERFORMANCE.key(date, shard)),
            "sites_underperforming": int(events[c.SITE_ID].nunique()),
            "energy_lost_kwh": float(events[c.ENERGY_LOST].sum()),
            "events_started_and_alerted": len(starting),
            "dynamodb_items_written": stats.items_put,
            "dynamodb_items_deleted": stats.items_deleted,
            "preview": MetadataValue.md(events.head(5).to_markdown(index=False)),
        }
    )
