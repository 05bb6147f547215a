"""Shape frames for the serving tables and compute what changed between two versions of a day.

Each day's tables are rewritten from S3 by difference: only new or changed items are put and
only vanished keys are deleted, so re-running a day writes nothing and a late file touches
only what it changes.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from energy_platform import contract as c
from energy_platform.transforms.anomalies import AnomalyParams, detect_anomalies
from energy_platform.transforms.dedupe import latest_readings


def format_ts(values: pd.Series) -> pd.Series:
    """UTC timestamps as `YYYY-MM-DDTHH:MM:SSZ` strings (vectorized)."""
    return pd.to_datetime(values, utc=True).dt.strftime(c.TS_FORMAT)


def readings_items(readings: pd.DataFrame) -> pd.DataFrame:
    """silver readings -> `{prefix}readings` items."""
    out = readings[
        [
            c.SITE_ID,
            c.TS,
            c.COUNTY,
            c.GENERATED,
            c.CONSUMED,
            c.NET,
            c.IS_ANOMALY,
            c.DEVICE_ID,
            c.ANOMALY_SCORE,
            c.SOURCE_KEY,
        ]
    ].copy()
    out[c.TS] = format_ts(out[c.TS])
    return out


def provisional_readings(clean: pd.DataFrame, params: AnomalyParams) -> pd.DataFrame:
    """A batch's readings as the readings table shows them until the day's run confirms them:
    the latest arrival per (site_id, ts) within the batch, flagged by the rules applied to the
    batch alone (a spike or stuck run that needs the rest of the day shows after that run)."""
    readings, _ = detect_anomalies(latest_readings(clean), params)
    return readings


def with_keys_of(frame: pd.DataFrame, others: pd.DataFrame) -> pd.Series:
    """Which rows of `frame` have a (site_id, ts) that `others` has too."""
    index = pd.MultiIndex.from_frame(frame[[c.SITE_ID, c.TS]])
    return pd.Series(index.isin(pd.MultiIndex.from_frame(others[[c.SITE_ID, c.TS]])), frame.index)


def anomalies_items(anomalies: pd.DataFrame) -> pd.DataFrame:
    """silver anomalies -> `{prefix}anomalies` items (with `date` for the by-date index)."""
    out = anomalies[
        [
            c.SITE_ID,
            c.TS_TYPE,
            c.TS,
            c.ANOMALY_TYPE,
            c.COUNTY,
            c.GENERATED,
            c.CONSUMED,
            c.NET,
            "detail",
        ]
    ].copy()
    out[c.DATE] = pd.to_datetime(out[c.TS], utc=True).dt.strftime("%Y-%m-%d")
    out[c.TS] = format_ts(out[c.TS])
    return out


def county_5min_items(county_5min: pd.DataFrame) -> pd.DataFrame:
    """gold county_5min -> `{prefix}county_5min` items."""
    out = county_5min.copy()
    out[c.WINDOW_START] = format_ts(out[c.WINDOW_START])
    return out


def site_daily_items(site_daily: pd.DataFrame) -> pd.DataFrame:
    """gold site_daily -> `{prefix}site_daily` items (already keyed by date string)."""
    return site_daily.copy()


def device_daily_items(device_daily: pd.DataFrame) -> pd.DataFrame:
    """gold device_daily -> `{prefix}device_daily` items (already keyed by date string)."""
    return device_daily.copy()


def underperformance_items(events: pd.DataFrame) -> pd.DataFrame:
    """gold underperformance -> `{prefix}underperformance` items (times as strings)."""
    out = events.copy()
    for col in (c.START, c.END, c.EVENT_START):
        out[col] = format_ts(out[col])
    return out


@dataclass(frozen=True)
class Changes:
    """Rows to upsert and keys to delete to turn the old version of a day into the new one."""

    upserts: pd.DataFrame
    deletes: pd.DataFrame

    @property
    def empty(self) -> bool:
        return self.upserts.empty and self.deletes.empty


def changes(
    old: pd.DataFrame | None,
    new: pd.DataFrame,
    keys: list[str],
    rewrite: pd.Series | None = None,
) -> Changes:
    """New or changed rows of `new`, and keys of `old` that `new` no longer has.

    `rewrite` (a mask over `new`) marks rows to upsert even if `old` has them unchanged: their
    items may have been written since `old` was (the ingest run's provisional readings).
    """
    if old is None or old.empty:
        return Changes(new, new.iloc[0:0][keys])
    cols = list(new.columns)
    common = [col for col in cols if col in old.columns]
    merged = new.merge(old[common], on=keys, how="left", suffixes=("", "__old"), indicator=True)
    differs = merged["_merge"] == "left_only"
    if rewrite is not None:
        differs |= rewrite.to_numpy()  # a left merge on unique keys keeps new's rows in order
    for col in common:
        if col in keys:
            continue
        a, b = merged[col], merged[f"{col}__old"]
        same = (a == b) | (a.isna() & b.isna())
        differs |= ~same.fillna(False).astype(bool)
    upserts = merged.loc[differs.to_numpy(), cols]
    gone = old[keys].merge(new[keys], on=keys, how="left", indicator=True)
    deletes = gone.loc[gone["_merge"] == "left_only", keys]
    return Changes(upserts.reset_index(drop=True), deletes.reset_index(drop=True))
