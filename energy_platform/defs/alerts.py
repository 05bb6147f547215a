"""What the alert messages say (pure): one summary per batch, never one message per reading,
and a link to the run in the Dagster UI."""

from __future__ import annotations

from typing import Any

import pandas as pd

from energy_platform import contract as c
from energy_platform.settings import get_settings

WORST_SITES = 5
NEW_ANOMALIES = "new_anomalies"
"""Metadata of a shard run's reading_anomalies: what it found in new readings (for the alert)."""


def run_url(run_id: str) -> str:
    """The run's page in the Dagster UI (`Settings.webserver_url`, read each call)."""
    return f"{get_settings().webserver_url.rstrip('/')}/runs/{run_id}"


def new_anomaly_counts(
    anomalies: pd.DataFrame, incoming: pd.DataFrame, staged_keys: list[str]
) -> dict[str, Any] | None:
    """What one shard run found among its newly arrived readings (None: no anomaly): counts by
    type, its worst sites and its batches, to be summed over the day's shards by
    `anomaly_summary`."""
    new = anomalies.merge(incoming[[c.SITE_ID, c.TS]].drop_duplicates(), on=[c.SITE_ID, c.TS])
    if new.empty:
        return None
    by_type = new[c.ANOMALY_TYPE].value_counts().sort_index().to_dict()
    worst = (
        new.groupby(c.SITE_ID).size().sort_values(ascending=False, kind="stable").head(WORST_SITES)
    )
    return {
        "anomalies": len(new),
        "anomalous_readings": int(new[[c.SITE_ID, c.TS]].drop_duplicates().shape[0]),
        "by_type": {str(k): int(v) for k, v in by_type.items()},
        "worst_sites": [{"site_id": s, "anomalies": int(n)} for s, n in worst.items()],
        "batches": sorted({k.rsplit("/", 1)[-1].removesuffix(".parquet") for k in staged_keys}),
    }


def anomaly_summary(date: str, shard_counts: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One message for the anomalies in a day's new readings, from its shard runs' counts (a
    site is in one shard, so the worst sites overall are among the shards' worst)."""
    if not shard_counts:
        return None
    by_type: dict[str, int] = {}
    for counts in shard_counts:
        for kind, n in counts["by_type"].items():
            by_type[kind] = by_type.get(kind, 0) + n
    worst = sorted(
        (w for counts in shard_counts for w in counts["worst_sites"]),
        key=lambda w: (-w["anomalies"], w["site_id"]),
    )[:WORST_SITES]
    anomalies = sum(counts["anomalies"] for counts in shard_counts)
    return {
        "subject": f"Energy platform: {anomalies} anomalies in new readings for {date}",
        "date": date,
        "anomalies": anomalies,
        "anomalous_readings": sum(counts["anomalous_readings"] for counts in shard_counts),
        "by_type": dict(sorted(by_type.items())),
        "worst_sites": worst,
        "batches": sorted({b for counts in shard_counts for b in counts["batches"]}),
    }


def underperformance_summary(date: str, starting: pd.DataFrame) -> dict[str, Any] | None:
    """One message for the underperformance events that start in a run (none: None)."""
    if starting.empty:
        return None
    worst = starting.sort_values(c.ENERGY_LOST, ascending=False, kind="stable")
    return {
        "subject": f"Energy platform: {len(starting)} underperformance events started on {date}",
        "date": date,
        "sites": int(starting[c.SITE_ID].nunique()),
        "events": [
            {
                "site_id": row[c.SITE_ID],
                "county": row[c.COUNTY],
                "start": row[c.START].strftime(c.TS_FORMAT),
                "performance_ratio": round(float(row[c.PERFORMANCE_RATIO]), 3),
                "energy_lost_kwh": round(float(row[c.ENERGY_LOST]), 3),
            }
            for row in worst.head(WORST_SITES * 4).to_dict("records")
        ],
    }
