"""Serving tables filled by the real pipeline from known readings.

`seed_tables` turns `synthetic_readings()` (or the readings given) into raw files in several
formats, lands them under `raw/` of the settings' bucket and drains the platform as the Dagster
daemon would (`harness.drain` on a throwaway instance): the real sensors, `ingest_job` and one
`daily_job` per day write readings, anomalies (with their `date`), county_5min and site_daily.
The API tests then read the four tables back as the pipeline left them (`SeededTables`);
`test_seeded_by_pipeline.py` checks those against an independent computation from the input.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import boto3
import numpy as np
import pandas as pd
from dagster import instance_for_test

from energy_platform import contract as c
from energy_platform.settings import Settings
from energy_platform_tests.harness import DrainStats, drain, platform_defs

SEED_START = pd.Timestamp("2024-06-01T00:00:00Z")
SEED_DAYS = 2
SITES_BY_COUNTY = {
    "site-001": "O'Brien",
    "site-002": "Doña Ana",
    "site.003": "Doña Ana",
    "site:004": "St. Mary's Parish",
}
OUT_OF_RANGE_KWH = 1000.0
RAW_FOLDER = f"{c.RAW_PREFIX}api-seed/"
RAW_FIELDS = (
    c.SITE_ID,
    c.TIMESTAMP,
    c.GENERATED,
    c.CONSUMED,
    c.COUNTY,
    c.DEVICE_ID,
    c.ANOMALY_SCORE,
)
COUNT_COLUMNS = (c.READING_COUNT, c.ANOMALY_COUNT, c.SITE_COUNT)


@dataclass(frozen=True)
class SeededTables:
    """The four serving tables as the pipeline wrote them (timestamps as text, numbers as
    float, counts as int), one frame per table, sorted by the table's key."""

    readings: pd.DataFrame
    anomalies: pd.DataFrame
    county_5min: pd.DataFrame
    site_daily: pd.DataFrame
    inputs: pd.DataFrame | None = None
    """The readings landed under raw/ (ts as timestamps)."""
    raw_keys: tuple[str, ...] = ()
    stats: DrainStats | None = None
    """What the drain did: runs, failed runs, check results."""


def _ts_text(ts: pd.Series) -> pd.Series:
    return ts.dt.strftime(c.TS_FORMAT)


def synthetic_readings() -> pd.DataFrame:
    """Every site every 5 minutes for two UTC days; a few rows break an anomaly rule."""
    times = pd.date_range(SEED_START, periods=SEED_DAYS * 24 * 12, freq="5min")
    frames = []
    for n, (site, county) in enumerate(SITES_BY_COUNTY.items()):
        i = np.arange(len(times))
        generated = np.round(2.0 + np.sin(i / 20.0 + n) * 1.5, 3)
        consumed = np.round(1.0 + (i % 7) * 0.25, 3)
        consumed = np.where(i % 50 == 7 + n, -0.5, consumed)
        generated = np.where(i % 80 == 3 + n, 1500.0, generated)
        score = np.where(i % 120 == 11, 0.9, np.nan)
        frames.append(
            pd.DataFrame(
                {
                    c.SITE_ID: site,
                    c.TS: times,
                    c.COUNTY: county,
                    c.GENERATED: generated,
                    c.CONSUMED: consumed,
                    c.DEVICE_ID: f"meter-{n}",
                    c.ANOMALY_SCORE: score,
                }
            )
        )
    readings = pd.concat(frames, ignore_index=True)
    readings[c.NET] = readings[c.GENERATED] - readings[c.CONSUMED]
    return readings


def rule_anomalies(readings: pd.DataFrame) -> pd.DataFrame:
    """The contract's rule-based anomalies of `readings` (site_id, ts text, anomaly_type, date),
    computed here without the platform: the pipeline must find at least these."""
    rules = {
        c.AnomalyType.NEGATIVE_VALUE: (readings[c.GENERATED] < 0) | (readings[c.CONSUMED] < 0),
        c.AnomalyType.DEVICE_FLAGGED: readings[c.ANOMALY_SCORE] > c.DEVICE_FLAG_THRESHOLD,
        c.AnomalyType.OUT_OF_RANGE: (readings[c.GENERATED] > OUT_OF_RANGE_KWH)
        | (readings[c.CONSUMED] > OUT_OF_RANGE_KWH),
    }
    rows = [readings[hit].assign(**{c.ANOMALY_TYPE: kind}) for kind, hit in rules.items()]
    anomalies = pd.concat(rows, ignore_index=True)
    anomalies[c.ANOMALY_DATE] = anomalies[c.TS].dt.strftime("%Y-%m-%d")
    anomalies[c.TS] = _ts_text(anomalies[c.TS])
    columns = [c.SITE_ID, c.TS, c.ANOMALY_TYPE, c.ANOMALY_DATE]
    return anomalies[columns].sort_values(columns, ignore_index=True)


def clean_sums(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Counts over every reading; energy sums, min and max over readings without anomalies."""
    clean = frame[~frame[c.IS_ANOMALY]]
    counts_of = {c.READING_COUNT: (c.TS, "size"), c.ANOMALY_COUNT: (c.IS_ANOMALY, "sum")}
    if c.SITE_ID not in keys:
        counts_of[c.SITE_COUNT] = (c.SITE_ID, "nunique")
    counts = frame.groupby(keys).agg(**counts_of)
    sums = clean.groupby(keys).agg(
        **{
            c.GENERATED_SUM: (c.GENERATED, "sum"),
            c.CONSUMED_SUM: (c.CONSUMED, "sum"),
            c.MIN_NET: (c.NET, "min"),
            c.MAX_NET: (c.NET, "max"),
        }
    )
    out = counts.join(sums).reset_index()
    for col in (c.GENERATED_SUM, c.CONSUMED_SUM):
        out[col] = out[col].fillna(0.0)
    out[c.NET] = out[c.GENERATED_SUM] - out[c.CONSUMED_SUM]
    return out


# --- raw files ---------------------------------------------------------------------------------


def _records(frame: pd.DataFrame) -> list[dict]:
    """Input records as a producer sends them: no anomaly_score where the device gave none."""
    out = []
    for row in frame.itertuples(index=False):
        record = {
            c.SITE_ID: row.site_id,
            c.TIMESTAMP: row.ts.strftime(c.TS_FORMAT),
            c.GENERATED: float(row.energy_generated_kwh),
            c.CONSUMED: float(row.energy_consumed_kwh),
            c.COUNTY: row.county,
            c.DEVICE_ID: row.device_id,
        }
        if not pd.isna(row.anomaly_score):
            record[c.ANOMALY_SCORE] = float(row.anomaly_score)
        out.append(record)
    return out


def _jsonl(records: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def _csv(records: list[dict]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=RAW_FIELDS)
    writer.writeheader()
    writer.writerows(records)
    return buf.getvalue().encode()


def _json_gz(records: list[dict]) -> bytes:
    return gzip.compress(json.dumps(records, ensure_ascii=False).encode())


def _json_object(records: list[dict]) -> bytes:
    return json.dumps({"records": records}).encode()  # ASCII escapes: \u00f1 for ñ


RAW_FORMATS = (("jsonl", _jsonl), ("csv", _csv), ("json.gz", _json_gz), ("json", _json_object))


def raw_files(readings: pd.DataFrame) -> dict[str, bytes]:
    """One raw object per site and UTC day, the format changing from site to site."""
    files = {}
    days = readings[c.TS].dt.strftime("%Y-%m-%d")
    for n, site in enumerate(sorted(readings[c.SITE_ID].unique())):
        ext, render = RAW_FORMATS[n % len(RAW_FORMATS)]
        for day in sorted(days[readings[c.SITE_ID] == site].unique()):
            part = readings[(readings[c.SITE_ID] == site) & (days == day)]
            safe = site.replace(":", "_")
            files[f"{RAW_FOLDER}{day}/{safe}.{ext}"] = render(_records(part))
    return files


# --- landing, draining, reading back ---------------------------------------------------------


@contextmanager
def _platform_env(settings: Settings) -> Iterator[None]:
    """The process environment pointing at `settings` while the pipeline runs (the platform's
    resources read it), restored afterwards."""
    wanted = {
        "ENERGY_BUCKET": settings.bucket,
        "ENERGY_TABLE_PREFIX": settings.table_prefix,
        "AWS_REGION": settings.region,
        "ENERGY_OUT_OF_RANGE_KWH": repr(OUT_OF_RANGE_KWH),
    }
    if settings.endpoint_url:
        wanted["AWS_ENDPOINT_URL"] = settings.endpoint_url
    saved = {k: os.environ.get(k) for k in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _client(settings: Settings, service: str):
    return boto3.client(service, region_name=settings.region, endpoint_url=settings.endpoint_url)


def read_table(settings: Settings, table: str) -> pd.DataFrame:
    """A whole table by Scan, numbers as float (counts as int), sorted by its key."""
    pages = (
        _client(settings, "dynamodb")
        .get_paginator("scan")
        .paginate(TableName=c.prefixed(settings.table_prefix, table))
    )
    rows = []
    for page in pages:
        for item in page["Items"]:
            row = {}
            for name, value in item.items():
                ((kind, raw),) = value.items()
                row[name] = float(raw) if kind == "N" else raw
            rows.append(row)
    frame = pd.DataFrame(rows)
    for col in COUNT_COLUMNS:
        if col in frame:
            frame[col] = frame[col].astype("int64")
    return frame.sort_values(list(c.TABLE_KEYS[table]), ignore_index=True) if rows else frame


def seed_tables(settings: Settings, readings: pd.DataFrame | None = None) -> SeededTables:
    """Land `readings` (default `synthetic_readings()`) under raw/ as files, run the pipeline
    until it is idle, and return the four serving tables it wrote."""
    readings = synthetic_readings() if readings is None else readings.copy()
    files = raw_files(readings)
    s3 = _client(settings, "s3")
    for key, body in files.items():
        s3.put_object(Bucket=settings.bucket, Key=key, Body=body)
    with _platform_env(settings), instance_for_test() as instance:
        stats = drain(instance, defs=platform_defs())
    if stats.failed_runs or stats.failed_checks:
        raise RuntimeError(
            f"seeding: {stats.failed_runs} failed runs, failed checks {stats.failed_checks}"
        )
    return SeededTables(
        readings=read_table(settings, c.READINGS_TABLE),
        anomalies=read_table(settings, c.ANOMALIES_TABLE),
        county_5min=read_table(settings, c.COUNTY_5MIN_TABLE),
        site_daily=read_table(settings, c.SITE_DAILY_TABLE),
        inputs=readings,
        raw_keys=tuple(files),
        stats=stats,
    )
