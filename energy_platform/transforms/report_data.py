"""The energy report's numbers: DuckDB queries over the lake's Arrow tables, small results out.

Pure: Arrow tables or datasets in (silver readings and anomalies, gold aggregates, quarantine),
KPIs and small pandas frames out. Every chart series is aggregated here (by hour, day or week,
top-N counties and sites), so the report's size does not grow with the number of readings.

Definitions used by the report:

* Energy totals (generated, consumed, net) are over readings *without* anomalies, as in the gold
  aggregates, so the KPI cards equal the sum of `gold/site_daily` and `gold/county_5min`.
* Self-sufficiency = min(generated, consumed) / consumed: the share of consumption that local
  generation could cover (1.0 when generation meets or exceeds it; None when nothing was consumed).
* Anomaly rate = readings with `is_anomaly` / all cleaned readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from energy_platform import contract as c

ArrowSource = pa.Table | ds.Dataset

QUARANTINE_SCHEMA = pa.schema(
    [(c.SOURCE_KEY, pa.string()), (c.SOURCE_LINE, pa.int64()), (c.REASON, pa.string())]
)
"""The quarantine fields the report reads (`raw` and `detail` vary in shape and are not charted)."""

MAX_SERIES_POINTS = 2000
"""Upper bound of time buckets per chart series: hourly up to ~83 days, then daily, then weekly."""
MAX_BARS = 120
"""Upper bound of time buckets in the anomaly bar chart (bars stay readable): hourly up to 5 days."""
MAX_HEATMAP_COLUMNS = 400
"""Upper bound of time buckets in the county heat map."""
TOP_COUNTIES = 25
TOP_ANOMALY_SITES = 15
TABLE_DAYS = 7
TABLE_SITES = 25
TOP_LOSS_SITES = 20

_BUCKET_HOURS = {"hour": 1, "day": 24, "week": 24 * 7}

KPI_KEYS = (
    "readings",
    "anomalous_readings",
    "anomalies",
    "anomaly_rate",
    "generated_kwh",
    "consumed_kwh",
    "net_kwh",
    "self_sufficiency",
    "sites_reporting",
    "counties",
    "first_reading",
    "newest_reading",
    "quarantined_records",
)
"""The KPI dict's keys, in the order the report shows them."""


@dataclass(frozen=True)
class LakeTables:
    """The report's inputs, each an Arrow table or dataset with the schema in `schemas.py`."""

    readings: ArrowSource
    anomalies: ArrowSource
    county_5min: ArrowSource
    site_daily: ArrowSource
    quarantine: ArrowSource
    """Quarantine JSON lines with at least the fields of `QUARANTINE_SCHEMA`."""
    device_daily: ArrowSource
    underperformance: ArrowSource


@dataclass
class ReportData:
    """Everything the report shows; every frame is small (bounded by the constants above)."""

    kpis: dict[str, Any]
    row_counts: dict[str, int]
    series_bucket: str
    """Time bucket of the energy and anomaly series: `hour`, `day` or `week`."""
    energy_series: pd.DataFrame
    """period, generated_kwh, consumed_kwh, net_kwh, reading_count, anomaly_count."""
    efficiency_bucket: str
    """Time bucket of the self-sufficiency series: `day`, or `week` for very long spans."""
    efficiency_series: pd.DataFrame
    """period, generated_kwh, consumed_kwh, self_sufficiency."""
    county_efficiency: pd.DataFrame
    """county, generated_kwh, consumed_kwh, net_kwh, self_sufficiency (top counties)."""
    anomaly_bucket: str
    anomaly_series: pd.DataFrame
    """period, anomaly_type, anomalies."""
    anomalies_by_type: pd.DataFrame
    """anomaly_type, anomalies."""
    top_anomaly_sites: pd.DataFrame
    """site_id, anomaly_type, anomalies, site_total (the sites with most anomalies)."""
    heatmap_bucket: str
    county_heatmap: pd.DataFrame
    """Net kWh; index = county (top counties by consumption), columns = period."""
    counties_total: int
    site_daily_table: pd.DataFrame
    """The newest TABLE_DAYS days of gold/site_daily for the TABLE_SITES sites with most energy."""
    quarantine_by_reason: pd.DataFrame
    """reason, records."""
    quarantine_top_sources: pd.DataFrame
    """source_key, records, reasons."""
    device_table: pd.DataFrame
    """gold/device_daily of the newest day: the TABLE_SITES devices with the largest anomaly
    share (then most readings)."""
    energy_lost_sites: pd.DataFrame
    """site_id, county, events, energy_lost_kwh, expected_kwh, performance_ratio, first_start,
    last_end: the TOP_LOSS_SITES sites that lost most energy to underperformance."""

    @property
    def is_empty(self) -> bool:
        """True when the lake holds no cleaned readings and no aggregates yet."""
        return self.kpis["readings"] == 0 and self.row_counts["county_5min"] == 0


def choose_bucket(first: datetime | None, last: datetime | None, max_points: int) -> str:
    """The finest of hour/day/week that keeps the span from `first` to `last` within `max_points`."""
    if first is None or last is None:
        return "hour"
    span_hours = (last - first).total_seconds() / 3600
    for bucket, hours in _BUCKET_HOURS.items():
        if span_hours / hours < max_points:
            return bucket
    return "week"


def self_sufficiency(generated: float, consumed: float) -> float | None:
    """min(generated, consumed) / consumed; None when nothing was consumed."""
    if consumed <= 0:
        return None
    return max(min(generated, consumed), 0.0) / consumed


def _connect(tables: LakeTables) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for name in (
        "readings",
        "anomalies",
        "county_5min",
        "site_daily",
        "quarantine",
        "device_daily",
        "underperformance",
    ):
        con.register(name, getattr(tables, name))
    return con


def _stage_hourly(con: duckdb.DuckDBPyConnection) -> None:
    """Scan gold/county_5min and silver/anomalies once each, into hourly tables.

    Every chart is hourly or coarser, so the later queries read these small tables instead of
    scanning the lake again (each scan of an S3 dataset costs requests per file).
    """
    con.execute(
        """
        CREATE TEMP TABLE county_hourly AS
        SELECT county, date_trunc('hour', window_start)::TIMESTAMP AS hour,
               count(*) AS windows,
               sum(reading_count)::BIGINT AS reading_count,
               sum(anomaly_count)::BIGINT AS anomaly_count,
               sum(generated_kwh) AS generated_kwh, sum(consumed_kwh) AS consumed_kwh,
               sum(net_kwh) AS net_kwh
        FROM county_5min GROUP BY ALL
        """
    )
    con.execute(
        """
        CREATE TEMP TABLE anomaly_hourly AS
        SELECT site_id, anomaly_type, date_trunc('hour', ts)::TIMESTAMP AS hour,
               count(*) AS anomalies
        FROM anomalies GROUP BY ALL
        """
    )


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    row = con.execute(sql).fetchone()
    return row[0] if row else None


def _kpis(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    row = con.execute(
        """
        SELECT count(*),
               count(*) FILTER (WHERE coalesce(is_anomaly, false)),
               coalesce(sum(energy_generated_kwh) FILTER (WHERE NOT coalesce(is_anomaly, false)), 0),
               coalesce(sum(energy_consumed_kwh) FILTER (WHERE NOT coalesce(is_anomaly, false)), 0),
               count(DISTINCT site_id),
               count(DISTINCT county),
               min(ts)::TIMESTAMP,
               max(ts)::TIMESTAMP
        FROM readings
        """
    ).fetchone()
    assert row is not None
    readings, anomalous, generated, consumed, sites, counties, first, newest = row
    return {
        "readings": int(readings),
        "anomalous_readings": int(anomalous),
        "anomalies": int(_scalar(con, "SELECT coalesce(sum(anomalies), 0) FROM anomaly_hourly")),
        "anomaly_rate": anomalous / readings if readings else None,
        "generated_kwh": float(generated),
        "consumed_kwh": float(consumed),
        "net_kwh": float(generated) - float(consumed),
        "self_sufficiency": self_sufficiency(float(generated), float(consumed)),
        "sites_reporting": int(sites),
        "counties": int(counties),
        "first_reading": first.strftime(c.TS_FORMAT) if first else None,
        "newest_reading": newest.strftime(c.TS_FORMAT) if newest else None,
        "quarantined_records": int(_scalar(con, "SELECT count(*) FROM quarantine")),
    }


def _row_counts(
    con: duckdb.DuckDBPyConnection, kpis: dict[str, Any], site_days: int
) -> dict[str, int]:
    return {
        "readings": kpis["readings"],
        "anomalies": kpis["anomalies"],
        "county_5min": int(_scalar(con, "SELECT coalesce(sum(windows), 0) FROM county_hourly")),
        "site_daily": site_days,
        "quarantine": kpis["quarantined_records"],
        "device_daily": int(_scalar(con, "SELECT count(*) FROM device_daily")),
        "underperformance": int(_scalar(con, "SELECT count(*) FROM underperformance")),
    }


def _time_span(con: duckdb.DuckDBPyConnection) -> tuple[datetime | None, datetime | None]:
    row = con.execute(
        """
        SELECT min(hour), max(hour) FROM (
            SELECT hour FROM county_hourly UNION ALL SELECT hour FROM anomaly_hourly
        )
        """
    ).fetchone()
    return (row[0], row[1]) if row else (None, None)


def _energy_series(con: duckdb.DuckDBPyConnection, bucket: str) -> pd.DataFrame:
    return con.execute(
        """
        SELECT date_trunc($bucket, hour) AS period,
               sum(generated_kwh) AS generated_kwh,
               sum(consumed_kwh) AS consumed_kwh,
               sum(net_kwh) AS net_kwh,
               sum(reading_count)::BIGINT AS reading_count,
               sum(anomaly_count)::BIGINT AS anomaly_count
        FROM county_hourly GROUP BY period ORDER BY period
        """,
        {"bucket": bucket},
    ).df()


def _efficiency_series(con: duckdb.DuckDBPyConnection, bucket: str) -> pd.DataFrame:
    return con.execute(
        """
        SELECT date_trunc($bucket, hour) AS period,
               sum(generated_kwh) AS generated_kwh,
               sum(consumed_kwh) AS consumed_kwh,
               greatest(least(sum(generated_kwh), sum(consumed_kwh)), 0)
                   / nullif(sum(consumed_kwh), 0) AS self_sufficiency
        FROM county_hourly GROUP BY period ORDER BY period
        """,
        {"bucket": bucket},
    ).df()


def _county_efficiency(con: duckdb.DuckDBPyConnection, top: int) -> pd.DataFrame:
    return con.execute(
        """
        SELECT county,
               sum(generated_kwh) AS generated_kwh,
               sum(consumed_kwh) AS consumed_kwh,
               sum(net_kwh) AS net_kwh,
               greatest(least(sum(generated_kwh), sum(consumed_kwh)), 0)
                   / nullif(sum(consumed_kwh), 0) AS self_sufficiency
        FROM county_hourly GROUP BY county
        ORDER BY consumed_kwh DESC, county LIMIT $top
        """,
        {"top": top},
    ).df()


def _anomaly_series(con: duckdb.DuckDBPyConnection, bucket: str) -> pd.DataFrame:
    return con.execute(
        """
        SELECT date_trunc($bucket, hour) AS period, anomaly_type, sum(anomalies)::BIGINT AS anomalies
        FROM anomaly_hourly GROUP BY ALL ORDER BY period, anomaly_type
        """,
        {"bucket": bucket},
    ).df()


def _anomalies_by_type(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        """
        SELECT anomaly_type, sum(anomalies)::BIGINT AS anomalies
        FROM anomaly_hourly GROUP BY ALL ORDER BY anomalies DESC, anomaly_type
        """
    ).df()


def _top_anomaly_sites(con: duckdb.DuckDBPyConnection, top: int) -> pd.DataFrame:
    return con.execute(
        """
        WITH ranked AS (
            SELECT site_id, sum(anomalies)::BIGINT AS site_total FROM anomaly_hourly
            GROUP BY site_id ORDER BY site_total DESC, site_id LIMIT $top
        )
        SELECT a.site_id, a.anomaly_type, sum(a.anomalies)::BIGINT AS anomalies, r.site_total
        FROM anomaly_hourly a JOIN ranked r USING (site_id)
        GROUP BY ALL ORDER BY r.site_total DESC, a.site_id, a.anomaly_type
        """,
        {"top": top},
    ).df()


def _county_heatmap(con: duckdb.DuckDBPyConnection, bucket: str, top: int) -> pd.DataFrame:
    long = con.execute(
        """
        WITH ranked AS (
            SELECT county, sum(consumed_kwh) AS consumed FROM county_hourly
            GROUP BY county ORDER BY consumed DESC, county LIMIT $top
        )
        SELECT g.county, date_trunc($bucket, g.hour) AS period,
               sum(g.net_kwh) AS net_kwh, any_value(r.consumed) AS rank_consumed
        FROM county_hourly g JOIN ranked r USING (county)
        GROUP BY g.county, period
        """,
        {"bucket": bucket, "top": top},
    ).df()
    if long.empty:
        return pd.DataFrame()
    order = (
        long[["county", "rank_consumed"]]
        .drop_duplicates()
        .sort_values(["rank_consumed", "county"], ascending=[False, True])["county"]
    )
    wide = long.pivot(index="county", columns="period", values="net_kwh")
    return wide.reindex(index=order.to_list()).sort_index(axis=1)


def _stage_recent_site_days(con: duckdb.DuckDBPyConnection, days: int) -> int:
    """Copy the newest `days` calendar days of gold/site_daily; returns its total row count.

    The date filter reaches the Arrow dataset, which then reads only those day partitions.
    """
    row = con.execute("SELECT max(date), count(*) FROM site_daily").fetchone()
    newest, total = row if row else (None, 0)
    cutoff = (
        (date.fromisoformat(newest) - timedelta(days=days - 1)).isoformat() if newest else "9999"
    )
    con.execute(
        "CREATE TEMP TABLE site_daily_recent AS SELECT * FROM site_daily WHERE date >= $cutoff",
        {"cutoff": cutoff},
    )
    return int(total)


def _site_daily_table(con: duckdb.DuckDBPyConnection, sites: int) -> pd.DataFrame:
    return con.execute(
        """
        WITH top_sites AS (
            SELECT site_id FROM site_daily_recent GROUP BY site_id
            ORDER BY sum(abs(generated_kwh)) + sum(abs(consumed_kwh)) DESC, site_id
            LIMIT $sites
        )
        SELECT date, site_id, reading_count, anomaly_count, generated_kwh, consumed_kwh,
               net_kwh, min_net_kwh, max_net_kwh
        FROM site_daily_recent WHERE site_id IN (SELECT site_id FROM top_sites)
        ORDER BY date DESC, site_id
        """,
        {"sites": sites},
    ).df()


def _quarantine_by_reason(con: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    return con.execute(
        """
        SELECT coalesce(reason, 'unknown') AS reason, count(*) AS records
        FROM quarantine GROUP BY ALL ORDER BY records DESC, reason
        """
    ).df()


def _quarantine_top_sources(con: duckdb.DuckDBPyConnection, top: int = 10) -> pd.DataFrame:
    return con.execute(
        """
        SELECT source_key, count(*) AS records,
               string_agg(DISTINCT coalesce(reason, 'unknown'), ', ' ORDER BY coalesce(reason, 'unknown')) AS reasons
        FROM quarantine GROUP BY source_key ORDER BY records DESC, source_key LIMIT $top
        """,
        {"top": top},
    ).df()


def _device_table(con: duckdb.DuckDBPyConnection, devices: int) -> pd.DataFrame:
    return con.execute(
        """
        SELECT device_id, site_id, date, reading_count, anomaly_count, anomaly_share,
               generated_kwh, consumed_kwh, min_generated_kwh, avg_generated_kwh,
               max_generated_kwh, avg_consumed_kwh, max_consumed_kwh
        FROM device_daily WHERE date = (SELECT max(date) FROM device_daily)
        ORDER BY anomaly_share DESC, reading_count DESC, device_id LIMIT $devices
        """,
        {"devices": devices},
    ).df()


def _energy_lost_sites(con: duckdb.DuckDBPyConnection, top: int) -> pd.DataFrame:
    return con.execute(
        """
        SELECT site_id, any_value(county) AS county, count(DISTINCT event_start) AS events,
               sum(energy_lost_kwh) AS energy_lost_kwh, sum(expected_kwh) AS expected_kwh,
               sum(actual_kwh) / nullif(sum(expected_kwh), 0) AS performance_ratio,
               strftime(min(start), '%Y-%m-%dT%H:%M:%SZ') AS first_start,
               strftime(max("end"), '%Y-%m-%dT%H:%M:%SZ') AS last_end
        FROM underperformance GROUP BY site_id
        ORDER BY energy_lost_kwh DESC, site_id LIMIT $top
        """,
        {"top": top},
    ).df()


def compute_report_data(tables: LakeTables) -> ReportData:
    """Query the lake's tables once for every number and series the report shows."""
    with _connect(tables) as con:
        _stage_hourly(con)
        site_days = _stage_recent_site_days(con, TABLE_DAYS)
        kpis = _kpis(con)
        row_counts = _row_counts(con, kpis, site_days)
        first, last = _time_span(con)
        series_bucket = choose_bucket(first, last, MAX_SERIES_POINTS)
        heatmap_bucket = choose_bucket(first, last, MAX_HEATMAP_COLUMNS)
        efficiency_bucket = "week" if series_bucket == "week" else "day"
        anomaly_bucket = choose_bucket(first, last, MAX_BARS)
        county_count = _scalar(con, "SELECT count(DISTINCT county) FROM county_hourly")
        return ReportData(
            kpis=kpis,
            row_counts=row_counts,
            series_bucket=series_bucket,
            energy_series=_energy_series(con, series_bucket),
            efficiency_bucket=efficiency_bucket,
            efficiency_series=_efficiency_series(con, efficiency_bucket),
            county_efficiency=_county_efficiency(con, TOP_COUNTIES),
            anomaly_bucket=anomaly_bucket,
            anomaly_series=_anomaly_series(con, anomaly_bucket),
            anomalies_by_type=_anomalies_by_type(con),
            top_anomaly_sites=_top_anomaly_sites(con, TOP_ANOMALY_SITES),
            heatmap_bucket=heatmap_bucket,
            county_heatmap=_county_heatmap(con, heatmap_bucket, TOP_COUNTIES),
            counties_total=int(county_count or 0),
            site_daily_table=_site_daily_table(con, TABLE_SITES),
            quarantine_by_reason=_quarantine_by_reason(con),
            quarantine_top_sources=_quarantine_top_sources(con),
            device_table=_device_table(con, TABLE_SITES),
            energy_lost_sites=_energy_lost_sites(con, TOP_LOSS_SITES),
        )
