"""Asset checks: the platform's own data-quality alarms. A failing check also alerts on SNS."""

import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetKey,
    MetadataValue,
    PreviewWarning,
    asset_check,
)

from energy_platform import contract as c
from energy_platform.defs.alerts import run_url
from energy_platform.defs.assets import keys
from energy_platform.defs.partitions import daily_partitions, day_and_shard, day_shard_partitions
from energy_platform.resources import AlertNotifier, DynamoTables, LakeStorage, datasets, ledger
from energy_platform.resources.daystore import DayDataset
from energy_platform.settings import get_settings
from energy_platform.transforms.reconcile import (
    county_5min_of_shards_sql,
    diff_frames,
    recompute_aggregates_sql,
)

# The partitioned checks below pass their asset's partitions_def: one result per day shard (or
# day), run in the same run as the partition they check. Dagster 1.13 has no stable way to
# partition a check (AssetCheckSpec warns "Specifying a partitions_def on an AssetCheckSpec is
# currently in preview" each time one is built), so that one message, and only it, is silenced.
warnings.filterwarnings(
    "ignore",
    message="Specifying a partitions_def on an AssetCheckSpec",
    category=PreviewWarning,
)

REQUIRED_COLUMNS = (c.SITE_ID, c.TS, c.COUNTY, c.GENERATED, c.CONSUMED, c.NET, c.IS_ANOMALY)


def alert_check_failure(
    alerts: AlertNotifier,
    check: str,
    asset: str,
    partition: str | None,
    run_id: str,
    severity: AssetCheckSeverity,
    description: str,
    metadata: dict[str, Any],
) -> None:
    """One message on the alerts topic for one failed check evaluation."""
    alerts.publish(
        "check_failed",
        f"Energy platform: check {check} failed on {asset}",
        {
            "check": check,
            "asset": asset,
            "partition": partition,
            "severity": severity.value,
            "description": description,
            "run_id": run_id,
            "run_url": run_url(run_id),
            "metadata": {k: v for k, v in metadata.items() if isinstance(v, int | float | str)},
        },
    )


def _result(
    context: AssetCheckExecutionContext,
    alerts: AlertNotifier,
    passed: bool,
    severity: AssetCheckSeverity,
    description: str,
    metadata: dict[str, Any],
) -> AssetCheckResult:
    """The check's result; when it fails, one alert on the alerts topic too."""
    if not passed:
        (key,) = context.selected_asset_check_keys
        partition = context.partition_key if context.has_partition_key else None
        alert_check_failure(
            alerts,
            key.name,
            key.asset_key.to_user_string(),
            partition,
            context.run.run_id,
            severity,
            description,
            metadata,
        )
    return AssetCheckResult(
        passed=passed, severity=severity, description=description, metadata=metadata
    )


def _shard_readings(context: AssetCheckExecutionContext, lake: LakeStorage) -> pd.DataFrame | None:
    return datasets.READINGS.read(lake, *day_and_shard(context.partition_key))


@asset_check(
    asset=keys.CLEANED_READINGS,
    partitions_def=day_shard_partitions,
    blocking=True,
    description="Required columns have no nulls.",
)
def required_columns_not_null(
    context: AssetCheckExecutionContext, lake: LakeStorage, alerts: AlertNotifier
) -> AssetCheckResult:
    readings = _shard_readings(context, lake)
    nulls = (
        {}
        if readings is None
        else {col: int(readings[col].isna().sum()) for col in REQUIRED_COLUMNS}
    )
    bad = {k: v for k, v in nulls.items() if v}
    return _result(
        context,
        alerts,
        not bad,
        AssetCheckSeverity.ERROR,
        f"nulls in {bad}" if bad else "no nulls in required columns",
        {
            "null_counts": MetadataValue.json(nulls),
            "rows": 0 if readings is None else len(readings),
        },
    )


@asset_check(
    asset=keys.CLEANED_READINGS,
    partitions_def=day_shard_partitions,
    blocking=True,
    description="One reading per (site_id, ts).",
)
def unique_site_and_timestamp(
    context: AssetCheckExecutionContext, lake: LakeStorage, alerts: AlertNotifier
) -> AssetCheckResult:
    readings = _shard_readings(context, lake)
    dupes = 0 if readings is None else int(readings.duplicated(list(c.READING_KEY)).sum())
    return _result(
        context,
        alerts,
        dupes == 0,
        AssetCheckSeverity.ERROR,
        f"{dupes} duplicate (site_id, ts) rows" if dupes else "no duplicates",
        {"duplicate_rows": dupes},
    )


@asset_check(
    asset=keys.CLEANED_READINGS,
    partitions_def=day_shard_partitions,
    description="Readings fall in their day, values are finite, net = generated - consumed, and "
    "every value outside [0, out_of_range_kwh] is flagged as an anomaly.",
)
def values_in_range(
    context: AssetCheckExecutionContext, lake: LakeStorage, alerts: AlertNotifier
) -> AssetCheckResult:
    readings = _shard_readings(context, lake)
    if readings is None or readings.empty:
        return _result(
            context, alerts, True, AssetCheckSeverity.ERROR, "no readings for the day", {"rows": 0}
        )
    limit = get_settings().out_of_range_kwh
    day = pd.Timestamp(day_and_shard(context.partition_key)[0], tz="UTC")
    ts = pd.to_datetime(readings[c.TS], utc=True)
    gen, cons, net = (
        readings[col].to_numpy(dtype="float64") for col in (c.GENERATED, c.CONSUMED, c.NET)
    )
    problems = {
        "outside_day": int(((ts < day) | (ts >= day + pd.Timedelta(days=1))).sum()),
        "not_finite": int((~np.isfinite(gen) | ~np.isfinite(cons)).sum()),
        "net_mismatch": int(
            (np.abs(net - (gen - cons)) > 1e-9 * np.maximum(1.0, np.abs(net))).sum()
        ),
        "unflagged_out_of_range": int(
            (
                ((gen < 0) | (cons < 0) | (gen > limit) | (cons > limit))
                & ~readings[c.IS_ANOMALY].to_numpy(dtype=bool)
            ).sum()
        ),
    }
    bad = {k: v for k, v in problems.items() if v}
    return _result(
        context,
        alerts,
        not bad,
        AssetCheckSeverity.ERROR,
        f"out of range: {bad}" if bad else "all values in range",
        {**problems, "rows": len(readings), "anomaly_share": float(readings[c.IS_ANOMALY].mean())},
    )


def _reconcile(
    context: AssetCheckExecutionContext,
    alerts: AlertNotifier,
    expected: pd.DataFrame | None,
    stored: pd.DataFrame | None,
    keys: list[str],
) -> AssetCheckResult:
    """`stored` against an independent recomputation (`expected`; None: nothing to compute
    from, so nothing may be stored)."""
    if expected is None or expected.empty:
        ok = stored is None or stored.empty
        return _result(
            context, alerts, ok, AssetCheckSeverity.ERROR, "no input rows; none expected", {}
        )
    actual = stored if stored is not None else expected.iloc[0:0]
    diff = diff_frames(expected, actual, keys)
    return _result(
        context,
        alerts,
        diff.empty,
        AssetCheckSeverity.ERROR,
        f"{len(diff)} rows differ from a recomputation"
        if len(diff)
        else "equal to a recomputation",
        {
            "rows_expected": len(expected),
            "rows_stored": len(actual),
            "rows_differing": len(diff),
            "differences": MetadataValue.md(
                diff.head(20).to_markdown(index=False) if len(diff) else "_none_"
            ),
        },
    )


def _recomputed_from_shard(
    context: AssetCheckExecutionContext, lake: LakeStorage, which: int
) -> pd.DataFrame | None:
    """county_5min (0) or site_daily (1) recomputed in SQL from the shard's cleaned readings."""
    readings = _shard_readings(context, lake)
    return None if readings is None else recompute_aggregates_sql(readings)[which]


def _shard_reconcile(
    name: str, asset: AssetKey, dataset: DayDataset, which: int, row_keys: list[str]
) -> AssetChecksDefinition:
    """A check that one day shard of `dataset` (county_5min partials: `which` 0, site_daily: 1)
    equals its recomputation in SQL from the shard's cleaned readings."""

    @asset_check(
        name=name,
        asset=asset,
        partitions_def=day_shard_partitions,
        description="Equal to an independent SQL recomputation (DuckDB) from the shard's cleaned "
        "readings.",
    )
    def _check(
        context: AssetCheckExecutionContext, lake: LakeStorage, alerts: AlertNotifier
    ) -> AssetCheckResult:
        stored = dataset.read(lake, *day_and_shard(context.partition_key))
        expected = _recomputed_from_shard(context, lake, which)
        return _reconcile(context, alerts, expected, stored, row_keys)

    return _check


county_5min_partials_reconcile = _shard_reconcile(
    "county_5min_partials_reconcile",
    keys.COUNTY_5MIN_PARTIALS,
    datasets.COUNTY_5MIN_PARTIALS,
    0,
    [c.COUNTY, c.WINDOW_START],
)
site_daily_reconciles = _shard_reconcile(
    "site_daily_reconciles", keys.SITE_DAILY_AGGREGATES, datasets.SITE_DAILY, 1, [c.SITE_ID, c.DATE]
)


@asset_check(
    asset=keys.COUNTY_5MIN_AGGREGATES,
    partitions_def=daily_partitions,
    description="Equal to an independent SQL sum (DuckDB) of the day's stored shard partials, "
    "each of which county_5min_partials_reconcile checks against the shard's cleaned readings: "
    "together, equal to a recomputation from the whole day, without one run reading the "
    "fleet's day.",
)
def county_5min_reconciles(
    context: AssetCheckExecutionContext, lake: LakeStorage, alerts: AlertNotifier
) -> AssetCheckResult:
    date = context.partition_key
    partials = datasets.COUNTY_5MIN_PARTIALS.read_day(lake, date)
    expected = None if partials.empty else county_5min_of_shards_sql(partials)
    stored = datasets.COUNTY_5MIN.read(lake, date)
    return _reconcile(context, alerts, expected, stored, [c.COUNTY, c.WINDOW_START])


@asset_check(
    asset=keys.STAGED_READINGS,
    description="No object under raw/ left unprocessed, and no staged rows left unmerged, for longer "
    "than ENERGY_FRESHNESS_MINUTES (default 15).",
)
def raw_objects_processed_in_time(
    context: AssetCheckExecutionContext,
    lake: LakeStorage,
    tables: DynamoTables,
    alerts: AlertNotifier,
) -> AssetCheckResult:
    bound = timedelta(minutes=get_settings().freshness_minutes)
    cutoff = datetime.now(UTC) - bound
    late_raw = [o for o in ledger.unprocessed_objects(lake, tables) if o.last_modified < cutoff]
    late_staged = [
        o for o in lake.list_objects(c.STAGING_READINGS_PREFIX) if o.last_modified < cutoff
    ]
    passed = not late_raw and not late_staged
    return _result(
        context,
        alerts,
        passed,
        AssetCheckSeverity.ERROR,
        f"{len(late_raw)} raw objects unprocessed and {len(late_staged)} staged objects unmerged for over {bound}"
        if not passed
        else f"everything older than {bound} is processed",
        {
            "late_raw_objects": len(late_raw),
            "late_staged_objects": len(late_staged),
            "oldest_late": MetadataValue.json(sorted(o.key for o in late_raw)[:20]),
            "what_to_do": "energy-platform replay --missing (see docs/OPERATIONS.md)",
        },
    )
