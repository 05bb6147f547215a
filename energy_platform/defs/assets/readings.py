"""Silver, one site shard of one UTC day at a time: merge staged rows into cleaned readings and
flag anomalies (a site's readings are all in its shard, so its anomaly windows are whole)."""

import pandas as pd
from dagster import AssetExecutionContext, AssetSpec, MaterializeResult, MetadataValue, multi_asset

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.defs.alerts import NEW_ANOMALIES, new_anomaly_counts
from energy_platform.defs.assets import keys
from energy_platform.defs.assets.policies import AWS_RETRY, DATA_FRESHNESS
from energy_platform.defs.metadata import column_schema, s3_location, table_metadata
from energy_platform.defs.partitions import (
    day_and_shard,
    day_shard_partitions,
    require_shard_layout,
)
from energy_platform.resources import DynamoTables, LakeStorage, datasets
from energy_platform.resources.daystore import sync_day
from energy_platform.settings import get_settings
from energy_platform.transforms.anomalies import detect_anomalies
from energy_platform.transforms.dedupe import latest_readings
from energy_platform.transforms.frames import to_frame
from energy_platform.transforms.serving import with_keys_of


def _staged(lake: LakeStorage, date: str, shard: str) -> tuple[list[str], pd.DataFrame | None]:
    keys = sorted(o.key for o in lake.list_objects(c.staging_prefix(date, shard)))
    frames = [to_frame(t) for t in (lake.read_parquet(k) for k in keys) if t is not None]
    return keys, (pd.concat(frames, ignore_index=True) if frames else None)


@multi_asset(
    name="daily_readings",
    specs=[
        AssetSpec(
            keys.CLEANED_READINGS,
            group_name="silver",
            deps=[keys.STAGED_READINGS],
            description="One reading per (site_id, ts), the latest arrival winning; "
            "silver/readings/date=.../part-<shard>.parquet and the readings table.",
            kinds={"s3", "dynamodb"},
            partitions_def=day_shard_partitions,
            freshness_policy=DATA_FRESHNESS,
            metadata=column_schema(datasets.READINGS.schema),
        ),
        AssetSpec(
            keys.READING_ANOMALIES,
            group_name="silver",
            deps=[keys.CLEANED_READINGS],
            description="One row per anomalous reading and anomaly type (rules in docs/ANOMALIES.md); "
            "silver/anomalies/date=.../part-<shard>.parquet and the anomalies table.",
            kinds={"s3", "dynamodb"},
            partitions_def=day_shard_partitions,
            freshness_policy=DATA_FRESHNESS,
            metadata=column_schema(datasets.ANOMALIES.schema),
        ),
    ],
    partitions_def=day_shard_partitions,
    retry_policy=AWS_RETRY,
)
def daily_readings(context: AssetExecutionContext, lake: LakeStorage, tables: DynamoTables):
    """Merge the shard's staged batches into its cleaned readings, re-derive its anomalies."""
    date, shard = day_and_shard(context.partition_key)
    require_shard_layout(lake)
    staged_keys, incoming = _staged(lake, date, shard)
    old_readings = datasets.READINGS.read(lake, date, shard)
    old_anomalies = datasets.ANOMALIES.read(lake, date, shard)

    parts = [
        f.drop(columns=[c.IS_ANOMALY], errors="ignore")
        for f in (old_readings, incoming)
        if f is not None
    ]
    candidates = pd.concat(parts, ignore_index=True) if parts else None
    if candidates is None or candidates.empty:
        merged = to_frame(schemas.STAGED_READINGS.empty_table())
    else:
        merged = latest_readings(candidates)
    readings, anomalies = detect_anomalies(merged, get_settings().anomaly_params)

    # Rows this run merges may have been served already, provisionally, by their ingest run
    # (which may have been overtaken since): put them again, as silver has them now.
    merged_now = None if incoming is None else with_keys_of(readings, incoming)
    r_stats = sync_day(
        datasets.READINGS, date, readings, old_readings, lake, tables, merged_now, shard
    )
    a_stats = sync_day(
        datasets.ANOMALIES, date, anomalies, old_anomalies, lake, tables, shard=shard
    )
    lake.delete_keys(staged_keys)

    incoming_rows = 0 if incoming is None else len(incoming)
    found = (
        None
        if incoming is None or anomalies.empty
        else new_anomaly_counts(anomalies, incoming, staged_keys)
    )

    by_type = (
        anomalies[c.ANOMALY_TYPE].value_counts().sort_index().to_dict()
        if not anomalies.empty
        else {}
    )
    yield MaterializeResult(
        asset_key=keys.CLEANED_READINGS,
        metadata={
            **table_metadata(datasets.READINGS.schema, len(readings)),
            **s3_location(lake, datasets.READINGS.key(date, shard)),
            "staged_rows_merged": incoming_rows,
            "replaced_or_duplicate_rows": (0 if candidates is None else len(candidates))
            - len(readings),
            "staged_objects_merged": MetadataValue.json(staged_keys),
            "sites": int(readings[c.SITE_ID].nunique()),
            "dynamodb_items_written": r_stats.items_put,
            "preview": MetadataValue.md(readings.head(5).to_markdown(index=False)),
        },
    )
    yield MaterializeResult(
        asset_key=keys.READING_ANOMALIES,
        metadata={
            **table_metadata(datasets.ANOMALIES.schema, len(anomalies)),
            **s3_location(lake, datasets.ANOMALIES.key(date, shard)),
            "anomalous_readings": int(readings[c.IS_ANOMALY].sum()),
            "by_type": MetadataValue.json(by_type),
            "dynamodb_items_written": a_stats.items_put,
            "dynamodb_items_deleted": a_stats.items_deleted,
            # The day's county run sums these over the shards into one alert.
            **({} if found is None else {NEW_ANOMALIES: MetadataValue.json(found)}),
        },
    )
