"""Each site's own baseline: the generation to expect in each 5-minute slot of the UTC day.

Built from the trailing `history_days` days (D-7..D-1 for day D by default), readings with
anomalies left out, per site and slot:
- `typical_kwh`: the median generation over all those days;
- the county's *weather* at each 5-minute time: the median over the county's sites of
  generation / typical (at least `min_peers` sites; else the time is not judged). Sites of a
  county share clouds and season, so a cloudy hour dims all of them alike, while a fault
  dims one site and moves the median little;
- `expected_kwh`: the median over the site's *good* days of generation / weather: what the
  site makes under the window's typical weather. A day is good when the site's generation
  over weather x typical that day is at least `good_day_share` of its best day in the window:
  a fault (soiling, a failed string, a new shadow) keeps its days out of the baseline until
  it fills the whole window.
The day's expected generation is `expected_kwh` times that day's weather, computed the same
way (transforms/underperformance.py).

A site with readings on fewer than `min_history_days` days of the window gets no baseline (it
is not judged). A slot is daylight when its typical generation is at least `daylight_share` of the
site's peak typical slot. docs/ANOMALIES.md documents every parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.transforms.frames import to_frame, to_table

SLOT_SECONDS = c.WINDOW_MINUTES * 60
DAY_SECONDS = 86_400
HISTORY = "_days_with_readings"


@dataclass(frozen=True)
class AnalyticsParams:
    """The baseline's and the underperformance detector's parameters (docs/ANOMALIES.md)."""

    history_days: int = 7
    """Trailing days the baseline is built from."""
    min_history_days: int = 3
    """Days with readings a site needs in that window before it is judged."""
    good_day_share: float = 0.97
    """A day enters the baseline when the site's performance (generation / (weather x
    typical)) is at least this share of its best day's in the window."""
    daylight_share: float = 0.1
    """A slot is daylight when its typical generation is at least this share of the site's
    peak slot."""
    min_peers: int = 3
    """Sites of a county reporting in a slot needed to tell weather from a fault; a slot with
    fewer is not judged."""
    ratio: float = 0.8
    """Underperforming: generation below this share of the expected over `window_slots`."""
    window_slots: int = 12
    """Daylight slots (of 5 minutes) the ratio is taken over: one hour."""
    min_slots: int = 12
    """An event lasts at least this many daylight slots (one hour), unless it continues one."""


def epoch_seconds(ts: pd.Series) -> np.ndarray:
    """UTC epoch seconds of each timestamp."""
    return pd.to_datetime(ts, utc=True).dt.as_unit("s").array.asi8


def site_counties(readings: pd.DataFrame) -> pd.Series:
    """Each site's county: the one most of its readings name (`unknown` is a last resort)."""
    named = readings[c.COUNTY].where(readings[c.COUNTY] != c.UNKNOWN_COUNTY)
    counts = (
        pd.DataFrame({c.SITE_ID: readings[c.SITE_ID], c.COUNTY: named.fillna(c.UNKNOWN_COUNTY)})
        .assign(known=named.notna())
        .groupby([c.SITE_ID, c.COUNTY, "known"], sort=False)
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["known", "n", c.COUNTY], ascending=[False, False, True], kind="stable")
    )
    return counts.drop_duplicates(c.SITE_ID).set_index(c.SITE_ID)[c.COUNTY]


def county_weather(frame: pd.DataFrame, min_peers: int) -> pd.Series:
    """Per row of `frame` (county, epoch, generation, typical): the weather of its county in
    that 5-minute slot, the median over the county's sites of generation / typical generation;
    NaN when fewer than `min_peers` sites with a typical value report there."""
    ratio = frame[c.GENERATED] / frame[c.TYPICAL].where(frame[c.TYPICAL] > 0)
    grouped = ratio.groupby([frame[c.COUNTY], frame["epoch"]])
    weather = grouped.transform("median").where(grouped.transform("count") >= min_peers)
    return weather.where(weather > 0)


def slot_frame(readings: pd.DataFrame, counties: pd.Series) -> pd.DataFrame:
    """Readings without anomalies as site_id, county, epoch, day, slot and generation."""
    clean = readings.loc[~readings[c.IS_ANOMALY].to_numpy(dtype=bool)]
    epoch = epoch_seconds(clean[c.TS])
    site = clean[c.SITE_ID].to_numpy(object)
    return pd.DataFrame(
        {
            c.SITE_ID: site,
            c.COUNTY: pd.Series(site).map(counties).to_numpy(object),
            "epoch": epoch,
            "day": epoch // DAY_SECONDS,
            c.SLOT: (epoch % DAY_SECONDS) // SLOT_SECONDS,
            c.GENERATED: clean[c.GENERATED].to_numpy(float),
        }
    )


def site_baseline(history: pd.DataFrame, params: AnalyticsParams) -> pd.DataFrame:
    """The baseline (schemas.SITE_BASELINE) from the trailing days' cleaned readings."""
    clean = history.loc[~history[c.IS_ANOMALY].to_numpy(dtype=bool)]
    if clean.empty:
        return to_frame(schemas.SITE_BASELINE.empty_table())
    counties = site_counties(clean)
    r = slot_frame(clean, counties)
    by_slot = r.groupby([c.SITE_ID, c.SLOT])[c.GENERATED]
    r[c.TYPICAL] = by_slot.transform("median")
    weather = county_weather(r, params.min_peers)
    r["normal"] = r[c.GENERATED] / weather
    r["weather_typical"] = weather * r[c.TYPICAL]
    judged = r.loc[weather.notna()]
    daily = judged.groupby([c.SITE_ID, "day"])[[c.GENERATED, "weather_typical"]].sum()
    daily = (daily[c.GENERATED] / daily["weather_typical"]).rename("performance").reset_index()
    days = r.groupby(c.SITE_ID)["day"].nunique()
    daily[HISTORY] = daily[c.SITE_ID].map(days)
    best = daily.groupby(c.SITE_ID)["performance"].transform("max")
    good = daily.loc[
        (daily["performance"] >= params.good_day_share * best)
        & (daily[HISTORY] >= params.min_history_days),
        [c.SITE_ID, "day"],
    ]
    base = (
        judged.merge(good, on=[c.SITE_ID, "day"])
        .groupby([c.SITE_ID, c.SLOT])
        .agg(**{c.EXPECTED: ("normal", "median"), c.TYPICAL: (c.TYPICAL, "first")})
        .reset_index()
    )
    peak = base.groupby(c.SITE_ID)[c.TYPICAL].transform("max")
    base[c.DAYLIGHT] = (peak > 0) & (base[c.TYPICAL] >= params.daylight_share * peak)
    base[c.COUNTY] = base[c.SITE_ID].map(counties)
    base[c.HISTORY_DAYS] = base[c.SITE_ID].map(days)
    return to_frame(to_table(base, schemas.SITE_BASELINE))
