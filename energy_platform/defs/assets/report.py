"""The energy report: one self-contained HTML page over everything in the lake."""

# No `from __future__ import annotations` here: Dagster 1.13 compares the `context` annotation
# with the class itself and rejects the string form.

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from energy_platform import contract as c
from energy_platform.defs.assets import keys
from energy_platform.defs.assets.policies import REPORT_FRESHNESS, report_refresh
from energy_platform.defs.metadata import s3_location
from energy_platform.report.html import render_report
from energy_platform.report.lake import open_lake
from energy_platform.resources import LakeStorage
from energy_platform.transforms.report_data import KPI_KEYS, compute_report_data

LOCAL_REPORT_PATH = Path("reports") / "energy_report.html"
"""The local copy, relative to the working directory the asset runs in."""


def _kpi_metadata(kpis: dict[str, Any]) -> dict[str, Any]:
    """KPIs as typed metadata; a KPI without a value yet (None) is left out."""
    metadata: dict[str, Any] = {}
    for key in KPI_KEYS:
        value = kpis[key]
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int | float):
            metadata[key] = MetadataValue.text(str(value))
        elif isinstance(value, int):
            metadata[key] = MetadataValue.int(value)
        else:
            metadata[key] = MetadataValue.float(float(value))
    return metadata


@asset(
    key=keys.ENERGY_REPORT,
    group_name="reporting",
    deps=[*keys.SILVER, *keys.GOLD, keys.QUARANTINED_RECORDS],
    kinds={"s3", "html"},
    automation_condition=report_refresh(),
    freshness_policy=REPORT_FRESHNESS,
)
def energy_report(context: AssetExecutionContext, lake: LakeStorage) -> MaterializeResult:
    """Energy report: one self-contained HTML page (plotly.js inline, opens offline).

    Executive view: KPI cards (energy generated, consumed, net, self-sufficiency, anomaly rate,
    sites reporting, newest reading, quarantined records) and efficiency by day and county.
    Exploratory view: generation vs consumption, net energy, a county-by-time heat map,
    anomalies by type and the sites with most anomalies, per-site daily totals. Data quality:
    quarantined records by reason. Covers all data in silver/, gold/ and quarantine/; written to
    reports/energy_report.html in S3 and in the working directory. Rebuilt by itself after new
    data, at most every few minutes (policies.report_refresh).
    """
    tables = open_lake(lake.filesystem(), lake.bucket)
    data = compute_report_data(tables)
    page = render_report(data, datetime.now(UTC), lake.uri("")).encode("utf-8")

    lake.put_bytes(c.REPORT_KEY, page, content_type="text/html; charset=utf-8")
    local = LOCAL_REPORT_PATH.resolve()
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_bytes(page)
    if data.is_empty:
        context.log.info("The lake holds no readings yet: wrote a report that says so.")

    return MaterializeResult(
        metadata={
            **_kpi_metadata(data.kpis),
            **{f"rows_{name}": MetadataValue.int(n) for name, n in data.row_counts.items()},
            "empty_lake": MetadataValue.bool(data.is_empty),
            **s3_location(lake, c.REPORT_KEY),
            "local_path": MetadataValue.path(str(local)),
            "size_bytes": MetadataValue.int(len(page)),
        }
    )
