"""What the alert messages say (pure): one summary per batch, never one message per reading,
and a link to the run in the Dagster UI."""

from __future__ import annotations

from typing import Any

import pandas as pd

from energy_platform import contract as c
from energy_platform.settings import get_settings

WORST_SITES = 5


def run_url(run_id: str) -> str:
    """The run's page in the Dagster UI (`Settings.webserver_url`, read each call)."""
    return f"{get_settings().webserver_url.rstrip('/')}/runs/{run_id}"


def batch_anomaly_summary(
    date: str, anomalies: pd.DataFrame, incoming: pd.DataFrame, staged_keys: list[str]
) -> dict[str, Any] | None:
    """Counts by type and the worst sites among the anomalies of newly arrived readings."""
    new = anomalies.merge(incoming[[c.SITE_ID, c.TS]].drop_duplicates(), on=[c.SITE_ID, c.TS])
    if new.empty:
        return None
    by_type = new[c.ANOMALY_TYPE].value_counts().sort_index().to_dict()
    worst = (
        new.groupby(c.SITE_ID).size().sort_values(ascending=False, kind="stable").head(WORST_SITES)
    )
    return {
        "subject": f"Energy platform: {len(new)} anomalies in new readings for {date}",
        "date": date,
        "anomalies": len(new),
        "anomalous_readings": int(new[[c.SITE_ID, c.TS]].drop_duplicates().shape[0]),
        "by_type": {str(k): int(v) for k, v in by_type.items()},
        "worst_sites": [{"site_id": s, "anomalies": int(n)} for s, n in worst.items()],
        "batches": sorted({k.rsplit("/", 1)[-1].removesuffix(".parquet") for k in staged_keys}),
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
