"""Serving tables filled with known data in exactly the contract's shape.

`seed_tables` writes what a pipeline run over `synthetic_readings()` would write to DynamoDB
(readings, anomalies with their `date`, county_5min, site_daily), through the platform's own
`DynamoTables.put_frame`. The API tests read it back; a real pipeline run can replace it
without changing them, as long as it is fed the same readings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy_platform import contract as c
from energy_platform.resources.dynamodb import DynamoTables
from energy_platform.settings import Settings

SEED_START = pd.Timestamp("2024-06-01T00:00:00Z")
SEED_DAYS = 2
SITES_BY_COUNTY = {
    "site-001": "O'Brien",
    "site-002": "Doña Ana",
    "site.003": "Doña Ana",
    "site:004": "St. Mary's Parish",
}
OUT_OF_RANGE_KWH = 1000.0


@dataclass(frozen=True)
class SeededTables:
    """The frames written, one per table, for tests to compute their expectations from."""

    readings: pd.DataFrame
    anomalies: pd.DataFrame
    county_5min: pd.DataFrame
    site_daily: pd.DataFrame


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


def _anomalies(readings: pd.DataFrame) -> pd.DataFrame:
    rules = {
        c.AnomalyType.NEGATIVE_VALUE: (readings[c.GENERATED] < 0) | (readings[c.CONSUMED] < 0),
        c.AnomalyType.DEVICE_FLAGGED: readings[c.ANOMALY_SCORE] > c.DEVICE_FLAG_THRESHOLD,
        c.AnomalyType.OUT_OF_RANGE: (readings[c.GENERATED] > OUT_OF_RANGE_KWH)
        | (readings[c.CONSUMED] > OUT_OF_RANGE_KWH),
    }
    rows = [readings[hit].assign(**{c.ANOMALY_TYPE: kind}) for kind, hit in rules.items()]
    anomalies = pd.concat(rows, ignore_index=True)
    ts = _ts_text(anomalies[c.TS])
    anomalies[c.TS_TYPE] = ts + "#" + anomalies[c.ANOMALY_TYPE]
    anomalies[c.ANOMALY_DATE] = anomalies[c.TS].dt.strftime("%Y-%m-%d")
    anomalies[c.TS] = ts
    columns = [
        c.SITE_ID,
        c.TS_TYPE,
        c.TS,
        c.ANOMALY_TYPE,
        c.ANOMALY_DATE,
        c.COUNTY,
        c.GENERATED,
        c.CONSUMED,
        c.NET,
    ]
    return anomalies[columns].sort_values([c.SITE_ID, c.TS_TYPE], ignore_index=True)


def _clean_sums(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
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


def seed_tables(settings: Settings, readings: pd.DataFrame | None = None) -> SeededTables:
    """Write `readings` (default `synthetic_readings()`) and everything derived from them."""
    readings = synthetic_readings() if readings is None else readings.copy()
    anomalies = _anomalies(readings)
    flagged = anomalies.groupby([c.SITE_ID, c.TS]).size().index
    readings[c.IS_ANOMALY] = pd.MultiIndex.from_arrays(
        [readings[c.SITE_ID], _ts_text(readings[c.TS])]
    ).isin(flagged)

    by_window = readings.assign(**{c.WINDOW_START: readings[c.TS].dt.floor("5min")})
    county_5min = _clean_sums(by_window, [c.COUNTY, c.WINDOW_START]).drop(
        columns=[c.MIN_NET, c.MAX_NET]
    )
    county_5min[c.WINDOW_START] = _ts_text(county_5min[c.WINDOW_START])
    by_date = readings.assign(**{c.DATE: readings[c.TS].dt.strftime("%Y-%m-%d")})
    site_daily = _clean_sums(by_date, [c.SITE_ID, c.DATE])

    readings = readings.assign(**{c.TS: _ts_text(readings[c.TS])}).sort_values(
        [c.SITE_ID, c.TS], ignore_index=True
    )
    tables = DynamoTables(table_prefix=settings.table_prefix, region=settings.region)
    tables.put_frame(c.READINGS_TABLE, readings)
    tables.put_frame(c.ANOMALIES_TABLE, anomalies)
    tables.put_frame(c.COUNTY_5MIN_TABLE, county_5min)
    tables.put_frame(c.SITE_DAILY_TABLE, site_daily)
    return SeededTables(readings, anomalies, county_5min, site_daily)
