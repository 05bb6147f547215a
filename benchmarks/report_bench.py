"""Benchmark of the energy report over a synthetic lake of 10 million readings.

    .venv/bin/python -m benchmarks.report_bench [--readings 10000000] [--keep DIR]

Builds silver/readings, silver/anomalies, gold/county_5min, gold/site_daily and quarantine/
with vectorized numpy (gold computed by DuckDB from silver, as the contract defines it), writes
them as Parquet day partitions into a local directory, then times opening the lake, computing
the report's data and rendering the HTML. `synthetic_lake` and `write_lake` are reused by the
report's tests.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from energy_platform import contract as c
from energy_platform import schemas

DEFAULT_COUNTIES = (
    "Alameda",
    "Cook",
    "Harris",
    "King",
    "Maricopa",
    "Miami-Dade",
    "Orange",
    "Prince George's",
    "San Diego",
    "Travis",
    "Wake",
    "<script>alert(1)</script>",
)
REASONS = (
    c.Reason.BAD_NUMBER,
    c.Reason.MISSING_FIELD,
    c.Reason.BAD_TIMESTAMP,
    c.Reason.BAD_SITE_ID,
    c.Reason.UNKNOWN_UNIT,
)
START = datetime(2024, 6, 1, tzinfo=UTC)


@dataclass
class SyntheticLake:
    """The lake's tables as Arrow (silver, gold) and the quarantine records as a frame."""

    readings: pa.Table
    anomalies: pa.Table
    county_5min: pa.Table
    site_daily: pa.Table
    quarantine: pd.DataFrame


def synthetic_lake(
    n_readings: int,
    *,
    n_sites: int | None = None,
    interval_s: int = 300,
    counties: tuple[str, ...] = DEFAULT_COUNTIES,
    anomaly_share: float = 0.01,
    quarantined: int = 1000,
    seed: int = 7,
) -> SyntheticLake:
    """`n_readings` readings of `n_sites` sites every `interval_s` seconds from START.

    Solar-shaped generation and noisy consumption; `anomaly_share` of readings get one anomaly
    (negative_value, device_flagged or out_of_range, consistent with their values).
    """
    rng = np.random.default_rng(seed)
    n_sites = n_sites or max(1, n_readings // 10_000)
    per_site = max(1, n_readings // n_sites)
    n = per_site * n_sites
    step = np.repeat(np.arange(per_site, dtype=np.int64), n_sites)  # time-major: sorted by ts
    site = np.tile(np.arange(n_sites, dtype=np.int64), per_site)
    epoch = np.int64(START.timestamp()) + step * interval_s + (site * 7) % interval_s
    hour = (epoch % 86_400) / 3600.0
    capacity = 2.0 + (site % 5) * 0.8  # kW
    solar = np.clip(np.sin(np.pi * (hour - 6.0) / 12.0), 0.0, None)
    hours = interval_s / 3600.0
    generated = capacity * solar * hours * rng.uniform(0.7, 1.0, n)
    consumed = (1.2 + 0.6 * np.cos(np.pi * (hour - 19.0) / 12.0)) * hours * rng.uniform(0.8, 1.2, n)
    score = rng.uniform(0.0, 0.3, n)

    kinds = np.array(
        [c.AnomalyType.NEGATIVE_VALUE, c.AnomalyType.DEVICE_FLAGGED, c.AnomalyType.OUT_OF_RANGE]
    )
    flagged = rng.random(n) < anomaly_share
    kind = rng.integers(0, len(kinds), n)
    consumed = np.where(flagged & (kind == 0), -consumed, consumed)
    score = np.where(flagged & (kind == 1), 0.9, score)
    generated = np.where(flagged & (kind == 2), 1500.0, generated)

    site_names = pa.array([f"site-{i:05d}" for i in range(n_sites)])
    county_names = pa.array(list(counties))
    site_ids = site_names.take(pa.array(site))
    ts = pa.array(epoch, pa.int64()).cast(schemas.UTC_SECONDS)
    readings = pa.table(
        {
            c.SITE_ID: site_ids,
            c.TS: ts,
            c.COUNTY: county_names.take(pa.array(site % len(counties))),
            c.GENERATED: generated,
            c.CONSUMED: consumed,
            c.NET: generated - consumed,
            c.DEVICE_ID: pc.binary_join_element_wise(site_ids, pa.scalar("dev"), "-"),
            c.ANOMALY_SCORE: score,
            c.IS_ANOMALY: flagged,
            c.SOURCE_KEY: pa.array(np.full(n, "raw/synthetic/readings.jsonl")),
            c.SOURCE_LINE: np.arange(1, n + 1, dtype=np.int64),
            c.ARRIVAL: np.full(n, int(START.timestamp() * 1000), dtype=np.int64),
        },
        schema=schemas.READINGS,
    )

    picked = readings.filter(pa.array(flagged))
    anomaly_type = pa.array(kinds[kind[flagged]])
    anomalies = pa.table(
        {
            c.SITE_ID: picked[c.SITE_ID],
            c.TS: picked[c.TS],
            c.ANOMALY_TYPE: anomaly_type,
            c.TS_TYPE: pc.binary_join_element_wise(
                pc.strftime(picked[c.TS], format="%Y-%m-%dT%H:%M:%SZ"), anomaly_type, "#"
            ),
            c.COUNTY: picked[c.COUNTY],
            c.GENERATED: picked[c.GENERATED],
            c.CONSUMED: picked[c.CONSUMED],
            c.NET: picked[c.NET],
            "detail": pa.array(np.full(len(picked), "synthetic")),
        },
        schema=schemas.ANOMALIES,
    )

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("readings", readings)
    county_5min = con.sql(
        """
        SELECT county, time_bucket(INTERVAL 5 MINUTE, ts) AS window_start,
               count(*) AS reading_count,
               count(*) FILTER (WHERE is_anomaly) AS anomaly_count,
               count(DISTINCT site_id) AS site_count,
               coalesce(sum(energy_generated_kwh) FILTER (WHERE NOT is_anomaly), 0) AS generated_kwh,
               coalesce(sum(energy_consumed_kwh) FILTER (WHERE NOT is_anomaly), 0) AS consumed_kwh,
               coalesce(sum(net_kwh) FILTER (WHERE NOT is_anomaly), 0) AS net_kwh
        FROM readings GROUP BY ALL ORDER BY window_start, county
        """
    ).to_arrow_table()
    site_daily = con.sql(
        """
        SELECT site_id, strftime(ts, '%Y-%m-%d') AS date,
               count(*) AS reading_count,
               count(*) FILTER (WHERE is_anomaly) AS anomaly_count,
               coalesce(sum(energy_generated_kwh) FILTER (WHERE NOT is_anomaly), 0) AS generated_kwh,
               coalesce(sum(energy_consumed_kwh) FILTER (WHERE NOT is_anomaly), 0) AS consumed_kwh,
               coalesce(sum(net_kwh) FILTER (WHERE NOT is_anomaly), 0) AS net_kwh,
               min(net_kwh) FILTER (WHERE NOT is_anomaly) AS min_net_kwh,
               max(net_kwh) FILTER (WHERE NOT is_anomaly) AS max_net_kwh
        FROM readings GROUP BY ALL ORDER BY date, site_id
        """
    ).to_arrow_table()
    con.close()

    q_reason = np.array(REASONS)[rng.integers(0, len(REASONS), quarantined)]
    q_file = rng.integers(0, 20, quarantined)
    quarantine = pd.DataFrame(
        {
            c.SOURCE_KEY: [f"raw/synthetic/batch-{i:02d}.jsonl" for i in q_file],
            c.SOURCE_LINE: np.arange(1, quarantined + 1),
            c.REASON: q_reason,
            c.DETAIL: "synthetic rejection",
            c.RAW_RECORD: [{"site_id": "x", "energy_generated_kwh": "abc"}] * quarantined,
        }
    )
    return SyntheticLake(
        readings=readings,
        anomalies=anomalies,
        county_5min=county_5min.cast(schemas.COUNTY_5MIN),
        site_daily=site_daily.cast(schemas.SITE_DAILY),
        quarantine=quarantine,
    )


def _dates(table: pa.Table, column: str) -> pa.Array:
    values = table[column]
    if pa.types.is_timestamp(values.type):
        return pc.strftime(values, format="%Y-%m-%d")
    return values


def partition_files(lake: SyntheticLake) -> dict[str, bytes]:
    """The lake as object keys and bodies: one Parquet file per day partition, quarantine JSON lines."""
    files: dict[str, bytes] = {}
    for prefix, table, column in (
        (c.SILVER_READINGS_PREFIX, lake.readings, c.TS),
        (c.SILVER_ANOMALIES_PREFIX, lake.anomalies, c.TS),
        (c.GOLD_COUNTY_5MIN_PREFIX, lake.county_5min, c.WINDOW_START),
        (c.GOLD_SITE_DAILY_PREFIX, lake.site_daily, c.DATE),
    ):
        dates = _dates(table, column)
        for date in pc.unique(dates).to_pylist():  # one iteration per day partition
            sink = pa.BufferOutputStream()
            pq.write_table(table.filter(pc.equal(dates, date)), sink, compression="zstd")
            files[f"{prefix}date={date}/{c.PARTITION_FILE}"] = sink.getvalue().to_pybytes()
    for source_key, part in lake.quarantine.groupby(c.SOURCE_KEY):
        name = str(source_key).removeprefix(c.RAW_PREFIX)
        body = part.to_json(orient="records", lines=True, force_ascii=False)
        files[f"{c.QUARANTINE_PREFIX}{name}.jsonl"] = body.encode()
    return files


def write_lake(lake: SyntheticLake, root: Path) -> dict[str, bytes]:
    """Write the lake's files under the local directory `root`; returns them by key."""
    files = partition_files(lake)
    for key, body in files.items():
        path = root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
    return files


def run(n_readings: int, root: Path) -> dict[str, float]:
    """Generate, write and report on a lake of `n_readings`; returns the figures."""
    from energy_platform.report.html import render_report
    from energy_platform.report.lake import open_lake
    from energy_platform.transforms.report_data import compute_report_data

    t0 = time.perf_counter()
    lake = synthetic_lake(n_readings)
    t1 = time.perf_counter()
    files = write_lake(lake, root)
    t2 = time.perf_counter()
    tables = open_lake(pafs.LocalFileSystem(), str(root))
    data = compute_report_data(tables)
    t3 = time.perf_counter()
    page = render_report(data, datetime.now(UTC), str(root)).encode()
    t4 = time.perf_counter()
    (root / "energy_report.html").write_bytes(page)
    return {
        "readings": lake.readings.num_rows,
        "anomalies": lake.anomalies.num_rows,
        "county_5min_rows": lake.county_5min.num_rows,
        "site_daily_rows": lake.site_daily.num_rows,
        "quarantined": len(lake.quarantine),
        "parquet_mb": sum(len(b) for b in files.values()) / 1e6,
        "generate_s": t1 - t0,
        "write_s": t2 - t1,
        "report_data_s": t3 - t2,
        "render_s": t4 - t3,
        "report_s": t4 - t2,
        "html_mb": len(page) / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--readings", type=int, default=10_000_000)
    parser.add_argument("--keep", type=Path, help="write the lake and report here and keep them")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        root = args.keep or Path(tmp)
        figures = run(args.readings, root)
    width = max(map(len, figures))
    for name, value in figures.items():
        shown = f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
        print(f"{name:<{width}}  {shown}")
    print(
        f"building the report from {figures['readings']:,} readings took {figures['report_s']:.2f} s"
    )


if __name__ == "__main__":
    main()
