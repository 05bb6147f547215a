"""Jobs: one run per batch of raw files, one run per day partition."""

from dagster import AssetCheckKey, AssetKey, AssetSelection, define_asset_job, in_process_executor

from energy_platform.partitions import daily_partitions

FRESHNESS_CHECK = AssetCheckKey(AssetKey("staged_readings"), "raw_objects_processed_in_time")
# The freshness check lists all of raw/: it runs on its own schedule, not with every batch.
INGEST_ASSETS = AssetSelection.assets(
    "staged_readings", "quarantined_records"
) - AssetSelection.checks(FRESHNESS_CHECK)
DAILY_ASSETS = AssetSelection.assets(
    "cleaned_readings", "reading_anomalies", "county_5min_aggregates", "site_daily_aggregates"
)

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
    partitions_def=daily_partitions,
    executor_def=in_process_executor,
    description="Merge a day's staged rows into silver, re-derive its anomalies and gold aggregates "
    "(started by staged_partitions_sensor; backfill it to recompute days).",
)
