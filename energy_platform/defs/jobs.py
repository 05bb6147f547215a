"""Jobs: one run per batch of raw files; per day, one run per site shard with new rows, then
one that adds the shards' county sums up; per site shard of a day (at most every analytics
interval) its analytics; and the freshness check on its own."""

from dagster import AssetCheckKey, AssetSelection, define_asset_job, in_process_executor

from energy_platform.defs.assets import keys

FRESHNESS_CHECK = AssetCheckKey(keys.STAGED_READINGS, "raw_objects_processed_in_time")
# The freshness check lists all of raw/: it runs on its own schedule, not with every batch.
INGEST_ASSETS = AssetSelection.assets(
    keys.STAGED_READINGS, keys.QUARANTINED_RECORDS
) - AssetSelection.checks(FRESHNESS_CHECK)
SHARD_ASSETS = AssetSelection.assets(*keys.SILVER, *keys.SHARD_GOLD)
COUNTY_ASSETS = AssetSelection.assets(keys.COUNTY_5MIN_AGGREGATES)
ANALYTICS_ASSETS = AssetSelection.assets(*keys.ANALYTICS)

DAY_RUN_TAG = "energy/day_run"
"""On daily_job, county_job and analytics_job runs (backfills too): the local instance lets one
such run go at a time, so a day's shard runs never take both cores from the ingest runs readers
wait for (energy_platform/local/dagster.yaml)."""
DAY_RUN_TAGS = {DAY_RUN_TAG: "true"}
INGEST_RUN_TAGS = {"dagster/priority": "1"}
"""Queued ingest runs start before the day runs queued with them (default priority 0)."""

# In-process execution: a run's steps share one process, so a small batch costs one Python start.
ingest_job = define_asset_job(
    "ingest_job",
    selection=INGEST_ASSETS,
    executor_def=in_process_executor,
    tags=INGEST_RUN_TAGS,
    description="Parse, validate, stage and quarantine a batch of raw objects (started by raw_files_sensor).",
)
daily_job = define_asset_job(
    "daily_job",
    selection=SHARD_ASSETS,
    executor_def=in_process_executor,
    tags=DAY_RUN_TAGS,
    description="Merge one site shard's staged rows of a day into silver, re-derive its "
    "anomalies, site and device days and county partial sums (started by "
    "staged_partitions_sensor; backfill it to recompute days).",
)
county_job = define_asset_job(
    "county_job",
    selection=COUNTY_ASSETS,
    executor_def=in_process_executor,
    tags=DAY_RUN_TAGS,
    description="Add a day's shards' county partial sums up into county_5min (started by "
    "staged_partitions_sensor once the day's daily_job runs are done).",
)
analytics_job = define_asset_job(
    "analytics_job",
    selection=ANALYTICS_ASSETS,
    executor_def=in_process_executor,
    tags=DAY_RUN_TAGS,
    description="One site shard's site baselines and underperformance events of a day (started "
    "by staged_partitions_sensor after the shard's daily_job run, at most every "
    "ENERGY_ANALYTICS_INTERVAL_SECONDS; backfill in date order).",
)
freshness_job = define_asset_job(
    "freshness_job",
    selection=AssetSelection.checks(FRESHNESS_CHECK),
    executor_def=in_process_executor,
    description="Check that nothing under raw/ or staging/ waits longer than the freshness bound.",
)
