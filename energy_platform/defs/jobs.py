"""Jobs: one run per batch of raw files, one run per day partition (partitioned like its assets),
and the freshness check on its own."""

from dagster import AssetCheckKey, AssetSelection, define_asset_job, in_process_executor

from energy_platform.defs.assets import keys

FRESHNESS_CHECK = AssetCheckKey(keys.STAGED_READINGS, "raw_objects_processed_in_time")
# The freshness check lists all of raw/: it runs on its own schedule, not with every batch.
INGEST_ASSETS = AssetSelection.assets(
    keys.STAGED_READINGS, keys.QUARANTINED_RECORDS
) - AssetSelection.checks(FRESHNESS_CHECK)
DAILY_ASSETS = AssetSelection.assets(*keys.SILVER, *keys.GOLD, *keys.ANALYTICS)

# In-process execution: a run's steps share one process, so a small batch costs one Python start.
ingest_job = define_asset_job(
    "ingest_job",
    selection=INGEST_ASSETS,
    executor_def=in_process_executor,
    description="Parse, validate, stage and quarantine a batch of raw objects (started by raw_files_sensor).",
)
daily_job = define_asset_job(
    "daily_job",
    selection=DAILY_ASSETS,
    executor_def=in_process_executor,
    description="Merge a day's staged rows into silver, re-derive its anomalies, gold aggregates, "
    "site baseline and underperformance events "
    "(started by staged_partitions_sensor; backfill it to recompute days).",
)
freshness_job = define_asset_job(
    "freshness_job",
    selection=AssetSelection.checks(FRESHNESS_CHECK),
    executor_def=in_process_executor,
    description="Check that nothing under raw/ or staging/ waits longer than the freshness bound.",
)
