"""Each site's own baseline: the generation to expect in each 5-minute slot of the UTC day.

The baseline of day D holds, per site and slot, the median over the site's *good* days among
the trailing `history_days` days (D-7..D-1 by default), readings with anomalies left out, of
its generation (`expected_kwh`) and of its share of its county's median generation in the
same slot (`county_share`). A day is good when the site's share of its county's output that day (its
generation over the county median's) is at least `good_day_share` of its best share in the
window: a cloudy day dims a whole county and keeps the site's share, while a fault (soiling,
a failed string, a new shadow) lowers the share and so stays out of the baseline until it
fills the whole window. The day's expected generation is the site's `county_share` times its
county's median generation in that slot on that day (transforms/underperformance.py): the
weather and the season, shared by the county's sites, cancel out. This needs `min_peers` sites
in the county; a site without them is not judged.

A site with readings on fewer than `min_history_days` days of the window gets no baseline (it
is not judged). A slot is daylight when its baseline is at least `daylight_share` of the
site's peak slot. docs/ANOMALIES.md documents every parameter.
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
    """A day enters the baseline when the site's share of its county is at least this share of
    its best share in the window."""
    daylight_share: float = 0.1
    """A slot is daylight when its baseline is at least this share of the site's peak slot."""
    min_peers: int = 3
    """Sites of a county (with a baseline and a reading in the slot) needed to tell weather from a
    fault; a slot with fewer is not judged."""
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


def county_reference(frame: pd.DataFrame, min_peers: int) -> pd.Series:
    """Per row of `frame` (county, epoch, generation): the median generation of its county's
    sites in the same 5-minute slot, NaN when fewer than `min_peers` sites report there."""
    ref = frame.groupby([c.COUNTY, "epoch"])[c.GENERATED].agg(["median", "size"])
    ref = ref["median"].where(ref["size"] >= min_peers)
    keys = pd.MultiIndex.from_arrays([frame[c.COUNTY], frame["epoch"]])
    return pd.Series(ref.reindex(keys).to_numpy(), index=frame.index)


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
    if not (~history[c.IS_ANOMALY].to_numpy(dtype=bool)).any():
        return to_frame(schemas.SITE_BASELINE.empty_table())
    counties = site_counties(history.loc[~history[c.IS_ANOMALY].to_numpy(dtype=bool)])
    r = slot_frame(history, counties)
    daily = r.groupby([c.SITE_ID, c.COUNTY, "day"], sort=False)[c.GENERATED].sum().reset_index()
    county = daily.groupby([c.COUNTY, "day"])[c.GENERATED].agg(["median", "size"])
    daily = daily.join(county, on=[c.COUNTY, "day"])
    peers = (daily["size"] >= params.min_peers) & (daily["median"] > 0)
    daily["share"] = np.where(peers, daily[c.GENERATED] / daily["median"].where(peers), 1.0)
    by_site = daily.groupby(c.SITE_ID)
    daily[HISTORY] = by_site["day"].transform("size")
    best = by_site["share"].transform("max")
    good = daily.loc[
        (daily["share"] >= params.good_day_share * best)
        & (daily[HISTORY] >= params.min_history_days),
        [c.SITE_ID, "day", HISTORY],
    ]
    r[c.COUNTY_SHARE] = r[c.GENERATED] / county_reference(r, params.min_peers)
    r = r.merge(good, on=[c.SITE_ID, "day"])
    base = (
        r.groupby([c.SITE_ID, c.SLOT])
        .agg(**{c.EXPECTED: (c.GENERATED, "median"), c.COUNTY_SHARE: (c.COUNTY_SHARE, "median")})
        .reset_index()
    )
    peak = base.groupby(c.SITE_ID)[c.EXPECTED].transform("max")
    base[c.DAYLIGHT] = (peak > 0) & (base[c.EXPECTED] >= params.daylight_share * peak)
    base[c.COUNTY] = base[c.SITE_ID].map(counties)
    base[c.HISTORY_DAYS] = base[c.SITE_ID].map(good.groupby(c.SITE_ID)[HISTORY].first())
    return to_frame(to_table(base, schemas.SITE_BASELINE))
