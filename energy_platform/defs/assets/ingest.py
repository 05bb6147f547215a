"""Ingestion: a batch of raw objects -> staged readings and quarantined records."""

from collections.abc import Iterator
from dataclasses import replace
from functools import partial

import pandas as pd
from botocore.exceptions import BotoCoreError, ClientError
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetSpec,
    Config,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)
from pydantic import Field

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.defs.assets import keys
from energy_platform.defs.assets.policies import AWS_RETRY
from energy_platform.defs.checks import alert_check_failure
from energy_platform.defs.metadata import column_schema, s3_location, table_metadata
from energy_platform.defs.partitions import require_shard_layout
from energy_platform.resources import AlertNotifier, DynamoTables, LakeStorage, datasets, ledger
from energy_platform.resources.s3 import ObjectInfo
from energy_platform.settings import Settings, get_settings
from energy_platform.transforms.batch import (
    RawFile,
    SourceUnavailable,
    batch_id,
    process_batch,
    reading_dates,
)
from energy_platform.transforms.frames import to_table
from energy_platform.transforms.quarantine import quarantine_jsonl
from energy_platform.transforms.serving import provisional_readings
from energy_platform.transforms.shards import site_shards


class RawObject(Config):
    """A raw object to process, as the sensor saw it."""

    key: str
    etag: str = ""
    size: int = 0
    arrival_ms: int = Field(default=0, description="Arrival time (epoch ms); later arrivals win.")


class IngestConfig(Config):
    objects: list[RawObject] = Field(
        default_factory=list,
        description="Objects to process. Empty: every object under raw/ the ledger has not seen yet "
        "(up to max_files) — how to catch up by hand from the UI.",
    )
    max_files: int = 500


def _objects_to_process(
    config: IngestConfig, lake: LakeStorage, tables: DynamoTables
) -> list[RawObject]:
    if config.objects:
        return config.objects
    pending = ledger.unprocessed_objects(lake, tables)[: config.max_files]
    return [
        RawObject(
            key=o.key, etag=o.etag, size=o.size, arrival_ms=int(o.last_modified.timestamp() * 1000)
        )
        for o in pending
    ]


READ_CHUNK_BYTES = 1 << 20
"""Bytes per read of a raw object's body: files are parsed as they stream, never held whole."""


def _fetch(lake: LakeStorage, obj: RawObject, context: AssetExecutionContext) -> RawFile | None:
    """The object's identity now; its body is streamed later, when the batch reaches it."""
    info = lake.head(obj.key)
    if info is None:
        context.log.warning(f"{obj.key}: deleted before it could be processed; nothing to ingest")
        return None
    arrival = obj.arrival_ms or int(info.last_modified.timestamp() * 1000)
    return RawFile(obj.key, info.etag, arrival, chunks=partial(_body_chunks, lake, info))


def _body_chunks(lake: LakeStorage, info: ObjectInfo) -> Iterator[bytes]:
    """The body of exactly the version whose ETag was recorded (S3 refuses with 412 if the
    object was replaced since: the step fails and its retry sees the new version). A fault of
    S3 is SourceUnavailable, so the run is retried rather than the file quarantined."""
    try:
        resp = lake.client.get_object(Bucket=lake.bucket, Key=info.key, IfMatch=f'"{info.etag}"')
        yield from resp["Body"].iter_chunks(READ_CHUNK_BYTES)
    except (BotoCoreError, ClientError) as err:
        raise SourceUnavailable(f"{info.key}: {err}") from err


def _fetch_all(
    lake: LakeStorage,
    tables: DynamoTables,
    objects: list[RawObject],
    context: AssetExecutionContext,
) -> list[RawFile]:
    """The objects' current bytes. A replayed object keeps the arrival time it was first seen
    with (from the ledger), so re-processing it writes exactly what the first run wrote."""
    files = [f for f in (_fetch(lake, o, context) for o in objects) if f is not None]
    replayed = {o.key for o in objects if not o.arrival_ms}
    known = (
        ledger.entries(tables, [(f.key, f.etag) for f in files if f.key in replayed])
        if replayed
        else {}
    )
    return [
        replace(f, arrival_ms=int(known[i][c.ARRIVAL]))
        if (i := ledger.identity(f.key, f.etag)) in known
        else f
        for f in files
    ]


def _serve_now(clean: pd.DataFrame, tables: DynamoTables, settings: Settings) -> int:
    """Put a small batch's readings in the readings table at once, provisionally: the day's
    run puts them again as it merges them (with flags judged on the whole day). Done before
    staging, so that run always comes after. Returns the items put (0 when the batch is left
    to the day's run)."""
    if clean.empty or len(clean) > settings.serve_on_ingest_max_rows:
        return 0
    readings = provisional_readings(clean, settings.anomaly_params)
    tables.put_frame(c.READINGS_TABLE, datasets.READINGS.to_items(readings))
    return len(readings)


def _accounting_check(
    context: AssetExecutionContext, alerts: AlertNotifier, files: pd.DataFrame, written: pd.Series
) -> AssetCheckResult:
    """Records the parser read vs rows actually staged plus lines actually quarantined, per file."""
    read = files.set_index(c.SOURCE_KEY)["records_read"]
    off = read[read != written.reindex(read.index, fill_value=0)]
    description = (
        f"{len(off)} files do not add up: {off.index[:5].tolist()}"
        if len(off)
        else "every record accounted for"
    )
    metadata = {
        "files": len(read),
        "files_not_adding_up": len(off),
        "records_read": int(read.sum()),
        "records_written": int(written.sum()),
    }
    if len(off):
        alert_check_failure(
            alerts,
            "accounting_per_file",
            keys.STAGED_READINGS.to_user_string(),
            None,
            context.run.run_id,
            AssetCheckSeverity.ERROR,
            description,
            metadata,
        )
    return AssetCheckResult(
        check_name="accounting_per_file",
        asset_key=keys.STAGED_READINGS,
        passed=not len(off),
        severity=AssetCheckSeverity.ERROR,
        description=description,
        metadata=metadata,
    )


def _markdown(df: pd.DataFrame, limit: int = 20) -> str:
    return df.head(limit).to_markdown(index=False) if not df.empty else "_none_"


@multi_asset(
    name="ingest_raw_files",
    specs=[
        AssetSpec(
            keys.STAGED_READINGS,
            group_name="ingestion",
            description="Validated readings of each batch, staged per reading date and site shard "
            "under staging/readings/ until that shard's cleaned_readings merges them; a small batch's "
            "readings are also put in the readings table at once, provisionally.",
            kinds={"s3", "parquet", "dynamodb"},
            metadata=column_schema(schemas.STAGED_READINGS),
        ),
        AssetSpec(
            keys.QUARANTINED_RECORDS,
            group_name="ingestion",
            description="Records that broke a rule, kept under quarantine/ (JSON lines, one object "
            "per raw file) with their source key, line and reason.",
            kinds={"s3"},
            metadata=column_schema(schemas.QUARANTINE),
        ),
    ],
    check_specs=[
        AssetCheckSpec(
            "accounting_per_file",
            asset=keys.STAGED_READINGS,
            description="For every raw file: records read = rows staged + records quarantined.",
        )
    ],
    retry_policy=AWS_RETRY,
)
def ingest_raw_files(
    context: AssetExecutionContext,
    config: IngestConfig,
    lake: LakeStorage,
    tables: DynamoTables,
    alerts: AlertNotifier,
):
    """Parse and validate a batch of raw objects: stage clean rows by day, quarantine the rest."""
    now = pd.Timestamp.now(tz="UTC")
    objects = _objects_to_process(config, lake, tables)
    files = _fetch_all(lake, tables, objects, context)
    identities = [ledger.identity(f.key, f.etag) for f in files]
    bid = batch_id(identities)
    if not files:
        yield MaterializeResult(
            asset_key=keys.STAGED_READINGS,
            metadata={"files": 0, **table_metadata(schemas.STAGED_READINGS, 0)},
        )
        yield MaterializeResult(
            asset_key=keys.QUARANTINED_RECORDS,
            metadata={"files": 0, **table_metadata(schemas.QUARANTINE, 0)},
        )
        yield AssetCheckResult(
            check_name="accounting_per_file", asset_key=keys.STAGED_READINGS, passed=True
        )
        return
    settings = get_settings()
    require_shard_layout(lake)  # before staging under this shard count
    result = process_batch(files, now, settings.read_limits, settings.first_day)
    served_now = _serve_now(result.clean, tables, settings)

    staged_keys, written = [], pd.Series(0, index=result.files[c.SOURCE_KEY])
    dates = reading_dates(result.clean)
    shards = site_shards(result.clean[c.SITE_ID], settings.site_shards)
    for (date, shard), rows in result.clean.groupby([dates, shards], sort=True):
        key = c.staging_object(str(date), shard, bid)
        table = to_table(rows, schemas.STAGED_READINGS)
        lake.write_parquet(key, table)
        staged_keys.append(key)
        written = written.add(table.column(c.SOURCE_KEY).to_pandas().value_counts(), fill_value=0)

    quarantine_keys = []
    for f in files:
        rows = result.quarantined[result.quarantined[c.SOURCE_KEY] == f.key]
        qkey = c.quarantine_object(f.key)
        if rows.empty:
            lake.delete_keys([qkey])  # a re-processed file that is now clean keeps no stale rejects
        else:
            body = quarantine_jsonl(rows)
            lake.put_bytes(qkey, body, content_type="application/x-ndjson")
            quarantine_keys.append(qkey)
            written[f.key] += body.count(b"\n")

    ledger.record(
        tables,
        result.files.assign(dates=", ".join(result.dates())),
        context.run_id,
        now.isoformat(),
    )

    yield _accounting_check(context, alerts, result.files, written)
    totals = result.files[["records_read", "cleaned", "quarantined"]].sum()
    by_reason = result.quarantined_by_reason()
    yield MaterializeResult(
        asset_key=keys.STAGED_READINGS,
        metadata={
            **table_metadata(schemas.STAGED_READINGS, len(result.clean)),
            **s3_location(lake, c.STAGING_READINGS_PREFIX),
            "batch_id": bid,
            "files": len(files),
            "records_read": int(totals["records_read"]),
            "records_cleaned": int(totals["cleaned"]),
            "records_quarantined": int(totals["quarantined"]),
            "readings_served_now": served_now,
            "partitions_touched": MetadataValue.json(result.dates()),
            "staged_objects": MetadataValue.json(staged_keys),
            "source_keys": MetadataValue.json([f.key for f in files]),
            "per_file": MetadataValue.md(_markdown(result.files, limit=50)),
            "preview": MetadataValue.md(_markdown(result.clean.head(5))),
        },
    )
    yield MaterializeResult(
        asset_key=keys.QUARANTINED_RECORDS,
        metadata={
            **table_metadata(schemas.QUARANTINE, len(result.quarantined)),
            **s3_location(lake, c.QUARANTINE_PREFIX),
            "batch_id": bid,
            "records_quarantined": int(totals["quarantined"]),
            "by_reason": MetadataValue.json(by_reason),
            "quarantine_objects": MetadataValue.json(quarantine_keys),
            "preview": MetadataValue.md(
                _markdown(result.quarantined[[c.SOURCE_KEY, c.SOURCE_LINE, c.REASON, c.DETAIL]], 10)
            ),
        },
    )
