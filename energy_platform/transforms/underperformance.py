"""Underperformance: a site producing less than its own baseline says it should, for long.

For each daylight slot of the day (transforms/baseline.py) with a reading without anomalies,
the expected generation is the site's baseline (`expected_kwh`) times its county's weather
at that time: the median over the county's sites of generation / typical generation. Weather
and season dim a whole county and so move the expected value with them; a fault dims one site.

A slot is underperforming when the site's generation over its last `window_slots` judged
slots of the day is below `ratio` of the expected over the same slots. A run of consecutive
underperforming slots is an event when it lasts at least `min_slots` slots, or when it opens
the site's day while the site's event of the previous day was still open at that day's last
daylight slot: then it continues that event (same `event_start`), across the night or midnight.

Each row is one event's segment of one UTC day: start, end (after the last slot), expected
and actual generation, the energy lost (expected - actual) and whether it is still `open`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.transforms.baseline import (
    SLOT_SECONDS,
    AnalyticsParams,
    county_weather,
    site_counties,
    slot_frame,
)
from energy_platform.transforms.frames import to_frame, to_table


def judged_slots(
    readings: pd.DataFrame, baseline: pd.DataFrame, params: AnalyticsParams
) -> pd.DataFrame:
    """The day's judged slots, sorted by site and time: site_id, county, epoch, slot, actual
    and expected generation (the site's baseline times the county's weather)."""
    clean = readings.loc[~readings[c.IS_ANOMALY].to_numpy(dtype=bool)]
    r = slot_frame(clean, site_counties(clean))
    r = r.merge(baseline[[c.SITE_ID, c.SLOT, c.EXPECTED, c.TYPICAL, c.DAYLIGHT]], how="left")
    r[c.EXPECTED] = r[c.EXPECTED] * county_weather(r, params.min_peers)
    r = r.loc[r[c.DAYLIGHT].fillna(False).astype(bool) & (r[c.EXPECTED] > 0)]
    r = r.rename(columns={c.GENERATED: c.ACTUAL})
    cols = [c.SITE_ID, c.COUNTY, "epoch", c.SLOT, c.ACTUAL, c.EXPECTED]
    return r.sort_values([c.SITE_ID, "epoch"], kind="stable")[cols].reset_index(drop=True)


def underperformance(
    readings: pd.DataFrame,
    baseline: pd.DataFrame,
    previous: pd.DataFrame | None,
    date: str,
    params: AnalyticsParams,
) -> pd.DataFrame:
    """The events' segments of UTC day `date` (schemas.UNDERPERFORMANCE), from its cleaned
    readings, its baseline and the previous day's segments (None: no previous day known)."""
    r = judged_slots(readings, baseline, params)
    if r.empty:
        return to_frame(schemas.UNDERPERFORMANCE.empty_table())
    site = r[c.SITE_ID]
    total = {col: r[col].cumsum().to_numpy() for col in (c.ACTUAL, c.EXPECTED)}
    behind = site.groupby(site).cumcount().to_numpy()
    # The window: the site's last `window_slots` judged slots of the day, this one included.
    since = np.arange(len(r)) - np.minimum(behind, params.window_slots - 1)
    window = {col: cum - cum[since] + r[col].to_numpy()[since] for col, cum in total.items()}
    low = np.flatnonzero(window[c.ACTUAL] < params.ratio * window[c.EXPECTED])
    if len(low) == 0:
        return to_frame(schemas.UNDERPERFORMANCE.empty_table())
    low_site = site.to_numpy(object)[low]
    new = np.ones(len(low), dtype=bool)
    new[1:] = (low_site[1:] != low_site[:-1]) | (np.diff(low) > params.window_slots)
    first, last = low[new], np.append(low[np.flatnonzero(new)[1:] - 1], low[-1])
    runs = r.iloc[first][[c.SITE_ID, c.COUNTY]].reset_index(drop=True)
    for col, cum in total.items():
        runs[col] = cum[last] - cum[first] + r[col].to_numpy()[first]
    carried = _open_events(previous)
    start = pd.Series(pd.to_datetime(r["epoch"].to_numpy()[first], unit="s", utc=True))
    continued = (behind[first] == 0) & runs[c.SITE_ID].isin(carried.index).to_numpy()
    last_daylight = baseline.loc[baseline[c.DAYLIGHT]].groupby(c.SITE_ID)[c.SLOT].max()
    end_slot = r[c.SLOT].to_numpy()[last]
    runs = runs.assign(
        **{
            c.START: start,
            c.END: pd.to_datetime(r["epoch"].to_numpy()[last] + SLOT_SECONDS, unit="s", utc=True),
            c.EVENT_START: start.where(~continued, carried.reindex(runs[c.SITE_ID]).values),
            c.DATE: date,
            c.ENERGY_LOST: runs[c.EXPECTED] - runs[c.ACTUAL],
            c.PERFORMANCE_RATIO: runs[c.ACTUAL] / runs[c.EXPECTED],
            c.OPEN: end_slot == runs[c.SITE_ID].map(last_daylight).to_numpy(),
        }
    )
    events = runs.loc[(last - first + 1 >= params.min_slots) | continued]
    return to_frame(to_table(events, schemas.UNDERPERFORMANCE))


def _open_events(previous: pd.DataFrame | None) -> pd.Series:
    """Site -> event_start of its event still open at the end of the previous day."""
    if previous is None or previous.empty:
        return pd.Series(dtype=object)
    still = previous.loc[previous[c.OPEN].to_numpy(dtype=bool)].sort_values(c.START)
    return still.drop_duplicates(c.SITE_ID, keep="last").set_index(c.SITE_ID)[c.EVENT_START]


def new_events(events: pd.DataFrame, known: pd.DataFrame | None) -> pd.DataFrame:
    """Events that start in `events` (not continued from a previous day) and overlap no event
    of the same site in `known` (what was stored before): the ones to alert about, once."""
    starting = events.loc[events[c.EVENT_START] == events[c.START]]
    if known is None or known.empty or starting.empty:
        return starting
    pairs = starting.reset_index().merge(known[[c.SITE_ID, c.START, c.END]], on=c.SITE_ID)
    overlaps = (pairs[f"{c.START}_y"] < pairs[f"{c.END}_x"]) & (
        pairs[f"{c.START}_x"] < pairs[f"{c.END}_y"]
    )
    seen = np.unique(pairs.loc[overlaps, "index"].to_numpy())
    return starting.drop(index=seen)
