"""The underperformance detector over a simulated month with planted faults: how well it finds
them, how fast, and at what cost.

A fleet of `sites` simulated sites reports every 5 minutes for `history_days` + `days` days
(clean deliveries: silver as the platform holds it). `per_kind` sites of each fault kind get a
fault (tools/faults.py) starting at a random time of the month. Each day of the month runs as
the platform does: the site baseline from the trailing days, then the day's events.

Scoring, per fault kind:
- a fault is *due* from its onset: the first daylight slot (sun above the horizon) where the
  planted fault leaves less than `AnalyticsParams.ratio` of the output (for soiling, the day
  its slow loss passes that share); a fault never due within the month is not scored;
- an event (its segments joined by `event_start`) is true when its site has a fault that began
  before the event ended, else false; each kind's precision counts every false event against it;
- recall: due faults with a true event; delay: first true event start - onset (median, hours).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import partial

import numpy as np
import pandas as pd

from benchmarks.common import Figure, peak_rss_mb, progress, target_figure, timed

TARGETS = {
    "step_failure": (0.9, 0.9),
    "dead_site": (0.9, 0.9),
    "soiling": (0.8, 0.8),
}
"""Fault kind -> (precision, recall) at least."""
MAX_MEDIAN_DELAY_H = 24.0
FIRST = datetime(2024, 5, 25, tzinfo=UTC)


def detect_month(
    sites: int, days: int, faults: tuple, seed: int, params, shards: int
) -> tuple[pd.DataFrame, float, float]:
    """Every day's event segments, and the detector's wall and CPU seconds (simulation excluded).

    Each day runs per site shard as the platform's analytics runs do: a shard's baseline from
    its own trailing days, its events against it, so a site's peers are its county's sites in
    its shard."""
    from energy_platform import contract as c
    from energy_platform.tools.simulate import fleet_readings
    from energy_platform.transforms.baseline import site_baseline
    from energy_platform.transforms.shards import site_shards
    from energy_platform.transforms.underperformance import underperformance

    def split(frame: pd.DataFrame) -> dict[str, pd.DataFrame]:
        return dict(tuple(frame.groupby(site_shards(frame[c.SITE_ID], shards))))

    def shard_day(
        recent: list[dict[str, pd.DataFrame]],
        day: dict[str, pd.DataFrame],
        date: str,
        previous: dict[str, pd.DataFrame],
    ) -> dict[str, pd.DataFrame]:
        events = {}
        for shard, readings in day.items():
            history = [h[shard] for h in recent if shard in h]
            baseline = site_baseline(pd.concat(history, ignore_index=True), params)
            events[shard] = underperformance(readings, baseline, previous.get(shard), date, params)
        return events

    history = params.history_days
    frames = [
        split(fleet_readings(sites, FIRST + timedelta(days=d), 1, seed, faults))
        for d in range(history)
    ]
    segments, wall, cpu, previous = [], 0.0, 0.0, {}
    for d in range(history, history + days):
        day = split(fleet_readings(sites, FIRST + timedelta(days=d), 1, seed, faults))
        date = (FIRST + timedelta(days=d)).strftime("%Y-%m-%d")
        previous, t = timed(partial(shard_day, frames[-history:], day, date, previous))
        wall, cpu = wall + t.wall, cpu + t.cpu
        found = pd.concat(previous.values(), ignore_index=True)
        segments.append(found)
        frames = [*frames[1 - history :], day]
        progress(f"analytics: {date}: {len(found)} event segments over {len(day)} shards")
    return pd.concat(segments, ignore_index=True), wall, cpu


def onsets(sites: int, days: int, faults: tuple, ratio: float) -> pd.DataFrame:
    """Per fault: kind, site, planted start and onset (NaT when never due in the month)."""
    from energy_platform import contract as c
    from energy_platform.tools.faults import fault_factor
    from energy_platform.tools.simulate import site_table, sun_elevation_sine

    fleet = site_table(sites).set_index(c.SITE_ID)
    start = int(FIRST.timestamp())
    epoch = np.arange(start, start + days * 86_400, 300, dtype=np.int64)
    rows = []
    for f in faults:  # one vectorized month per fault: a few dozen faults
        lat, lon = fleet.loc[f.site_id, ["latitude", "longitude"]]
        factor = fault_factor(
            (f,), np.full(len(epoch), f.site_id, dtype=object), np.full(len(epoch), lon), epoch
        )
        due = (factor < ratio) & (sun_elevation_sine(epoch, lat, lon) > 0)
        onset = pd.Timestamp(epoch[due.argmax()], unit="s", tz="UTC") if due.any() else pd.NaT
        rows.append({"kind": f.kind, c.SITE_ID: f.site_id, "planted": f.start, "onset": onset})
    return pd.DataFrame(rows)


def score(segments: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per fault kind: faults due, detected, true events, precision, recall, median delay (h)."""
    from energy_platform import contract as c

    events = (
        segments.groupby([c.SITE_ID, c.EVENT_START])[c.END]
        .max()
        .reset_index()
        .merge(truth, on=c.SITE_ID, how="left")
    )
    events["true"] = events["planted"].notna() & (
        events[c.END] > pd.to_datetime(events["planted"], utc=True)
    )
    false_events = int((~events["true"]).sum())
    first = events.loc[events["true"]].groupby(c.SITE_ID)[c.EVENT_START].min()
    truth = truth.assign(detected_at=truth[c.SITE_ID].map(first))
    truth["delay_h"] = (truth["detected_at"] - truth["onset"]).dt.total_seconds() / 3600
    rows = []
    for kind, group in truth.groupby("kind"):
        due = group.loc[group["onset"].notna()]
        true_events = int(events.loc[events["true"] & (events["kind"] == kind)].shape[0])
        rows.append(
            {
                "kind": kind,
                "due": len(due),
                "detected": int(due["detected_at"].notna().sum()),
                "true_events": true_events,
                "false_events": false_events,
                "precision": true_events / max(true_events + false_events, 1),
                "recall": due["detected_at"].notna().sum() / max(len(due), 1),
                "median_delay_h": float(due["delay_h"].median()),
            }
        )
    return pd.DataFrame(rows)


def score_figures(bench: str, scores: pd.DataFrame) -> list[Figure]:
    """Precision, recall and median delay per fault kind, against TARGETS where a kind has one."""
    figures = []
    for row in scores.itertuples():
        if row.due == 0:  # a short run: no fault of this kind took effect in time
            figures.append(Figure(bench, row.kind, "none due", note="not scored"))
            continue
        precision_min, recall_min = TARGETS.get(row.kind, (None, None))
        note = (
            f"{row.detected}/{row.due} due faults found, "
            f"{row.true_events} true / {row.false_events} false events"
        )
        for metric, value, bound in (
            ("precision", row.precision, precision_min),
            ("recall", row.recall, recall_min),
        ):
            value = round(float(value), 3)
            figures.append(
                target_figure(bench, f"{row.kind} {metric}", value, "", ">=", bound, note)
                if bound is not None
                else Figure(bench, f"{row.kind} {metric}", value, note=note)
            )
        delay = round(row.median_delay_h, 2)
        figures.append(
            target_figure(bench, f"{row.kind} median delay", delay, "h", "<=", MAX_MEDIAN_DELAY_H)
            if row.kind in TARGETS
            else Figure(bench, f"{row.kind} median delay", delay, "h")
        )
    return figures


def run(
    sites: int = 500, days: int = 30, per_kind: int = 20, seed: int = 21, shards: int = 4
) -> list[Figure]:
    from energy_platform.settings import get_settings
    from energy_platform.tools.faults import plant_faults
    from energy_platform.tools.simulate import site_table

    params = get_settings().analytics
    ids = site_table(sites)["site_id"].tolist()
    start = FIRST + timedelta(days=params.history_days)
    faults = plant_faults(ids, start, days, per_kind, seed)
    progress(f"analytics: {sites} sites, {days} days, {len(faults)} planted faults")
    rss_before = peak_rss_mb()
    segments, wall, cpu = detect_month(sites, days, faults, seed, params, shards)
    rss = peak_rss_mb()
    truth = onsets(sites, params.history_days + days, faults, params.ratio)
    scores = score(segments, truth)
    bench = f"analytics[{sites} sites in {shards} shards x {days} days, {len(faults)} faults]"
    figures = score_figures(bench, scores)
    readings = sites * days * 86_400 // 300
    figures += [
        Figure(
            bench, "detector wall time", round(wall, 1), "s", note=f"{readings:,} readings judged"
        ),
        Figure(bench, "detector CPU time", round(cpu, 1), "s"),
        Figure(bench, "peak RSS", round(rss, 0), "MiB", note=f"{rss_before:.0f} MiB before"),
    ]
    return figures
