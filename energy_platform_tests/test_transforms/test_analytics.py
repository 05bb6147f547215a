"""Device statistics, site baselines and underperformance, as pure transforms over simulated
fleets (30 sites: three per county, the fewest peers a site is judged with)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from energy_platform import contract as c
from energy_platform.tools.faults import Fault, FaultKind, fault_factor, parse_fault
from energy_platform.tools.simulate import SimulationConfig, fleet_readings, render_batch
from energy_platform.transforms.baseline import AnalyticsParams, site_baseline
from energy_platform.transforms.device_stats import device_daily
from energy_platform.transforms.underperformance import new_events, underperformance

PARAMS = AnalyticsParams()
FIRST = datetime(2024, 6, 1, tzinfo=UTC)
SITES = 30


def _day(n: int) -> str:
    return (FIRST + timedelta(days=n)).strftime("%Y-%m-%d")


def _judge(faults: tuple[Fault, ...], days: int, history: int = 7) -> pd.DataFrame:
    """Every judged day's events, each day against the baseline of the days before it."""
    readings = fleet_readings(SITES, FIRST, history + days, seed=3, faults=faults)
    day = readings[c.TS].dt.floor("D")
    previous, out = None, []
    for n in range(history, history + days):
        start = FIRST + timedelta(days=n)
        window = readings.loc[(day >= start - timedelta(days=history)) & (day < start)]
        baseline = site_baseline(window, PARAMS)
        previous = underperformance(readings.loc[day == start], baseline, previous, _day(n), PARAMS)
        out.append(previous)
    return pd.concat(out, ignore_index=True)


def test_default_simulator_output_is_unchanged() -> None:
    digest = hashlib.sha256()
    for i in range(6):
        config = SimulationConfig(
            records=500, sites=40, seed=7, anomaly_rate=0.05, invalid_rate=0.05
        )
        digest.update(render_batch(config, i, datetime(2024, 6, 1, 12, tzinfo=UTC))[1])
    assert digest.hexdigest() == "c050551fcc5fc38cb6795ab028f51787d7b9df32c3c188f2e619fe1870a76f13"


def test_faults_dim_generation_by_their_kind() -> None:
    start = FIRST
    epoch = np.array([start.timestamp() - 300, start.timestamp(), start.timestamp() + 2 * 86_400])
    faults = (
        Fault(FaultKind.SOILING, "a", start),
        Fault(FaultKind.STEP_FAILURE, "b", start, start + timedelta(days=1)),
        Fault(FaultKind.DEAD_SITE, "c", start),
    )
    sites = np.array(["a", "b", "c", "d"], dtype=object)
    factor = np.stack(
        [fault_factor(faults, np.repeat(s, 3).astype(object), np.zeros(3), epoch) for s in sites]
    )
    assert factor[0] == pytest.approx([1.0, 1.0, 0.9])  # 5 %/day for two days
    assert factor[1] == pytest.approx([1.0, 0.6, 1.0])  # over after its one day
    assert factor[2] == pytest.approx([1.0, 0.0, 0.0])
    assert factor[3] == pytest.approx([1.0, 1.0, 1.0])
    noon, evening = start.timestamp() + 12 * 3600, start.timestamp() + 15 * 3600
    shade = fault_factor(
        (Fault(FaultKind.SHADING, "s", start),),
        np.array(["s", "s"], dtype=object),
        np.zeros(2),
        np.array([noon, evening]),
    )
    assert shade == pytest.approx([1.0, 0.4])
    assert parse_fault("dead_site:site-0003:2024-06-08:2") == Fault(
        FaultKind.DEAD_SITE,
        "site-0003",
        datetime(2024, 6, 8, tzinfo=UTC),
        datetime(2024, 6, 10, tzinfo=UTC),
    )
    with pytest.raises(ValueError, match="not one of"):
        parse_fault("lightning:site-0003:2024-06-08")


def test_device_days_count_all_readings_and_sum_the_clean_ones() -> None:
    ts = pd.to_datetime(["2024-06-01T10:00:00Z", "2024-06-01T10:05:00Z", "2024-06-01T10:10:00Z"])
    readings = pd.DataFrame(
        {
            c.SITE_ID: ["s1", "s1", "s2"],
            c.TS: ts,
            c.GENERATED: [2.0, 50.0, 1.0],
            c.CONSUMED: [1.0, 1.0, 0.5],
            c.DEVICE_ID: ["inv-1", "inv-1", None],
            c.IS_ANOMALY: [False, True, False],
        }
    )
    days = device_daily(readings).set_index(c.DEVICE_ID)
    assert list(days.index) == ["inv-1", "s2"]  # no device: counted under its site
    inv = days.loc["inv-1"]
    assert (inv[c.READING_COUNT], inv[c.ANOMALY_COUNT], inv[c.ANOMALY_SHARE]) == (2, 1, 0.5)
    assert inv[c.GENERATED_SUM] == inv[c.MAX_GENERATED] == inv[c.AVG_GENERATED] == 2.0
    assert days.loc["s2", c.SITE_ID] == "s2" and days.loc["s2", c.DATE] == "2024-06-01"


def test_a_site_without_enough_history_is_not_judged() -> None:
    readings = fleet_readings(SITES, FIRST, 3, seed=3)
    young = readings[c.SITE_ID] != "site-0001"
    recent = readings[c.TS] >= FIRST + timedelta(days=1)
    baseline = site_baseline(readings.loc[young | recent], PARAMS)
    assert "site-0001" not in set(baseline[c.SITE_ID])
    assert baseline[c.SITE_ID].nunique() == SITES - 1
    assert baseline.groupby(c.SITE_ID)[c.DAYLIGHT].sum().between(100, 200).all()


def test_planted_faults_are_found_and_healthy_sites_under_clouds_are_not() -> None:
    faults = (
        Fault(FaultKind.DEAD_SITE, "site-0003", FIRST + timedelta(days=8, hours=17)),
        Fault(FaultKind.STEP_FAILURE, "site-0014", FIRST + timedelta(days=8), severity=0.35),
    )
    events = _judge(faults, days=3)
    assert set(events[c.SITE_ID]) == {"site-0003", "site-0014"}
    for fault in faults:
        mine = events.loc[events[c.SITE_ID] == fault.site_id]
        assert mine[c.EVENT_START].nunique() == 1  # one event, continued over the nights
        assert mine[c.START].min() - fault.start < timedelta(hours=24)
        assert set(mine[c.DATE]) >= {_day(8), _day(9)}
    dead = events.loc[events[c.SITE_ID] == "site-0003"]
    assert dead[c.PERFORMANCE_RATIO].max() < 0.1
    assert dead[c.ENERGY_LOST].sum() == pytest.approx(dead[c.EXPECTED].sum(), rel=0.1)


def test_an_event_is_new_once() -> None:
    events = _judge((Fault(FaultKind.DEAD_SITE, "site-0005", FIRST + timedelta(days=7)),), days=2)
    first, second = events.loc[events[c.DATE] == _day(7)], events.loc[events[c.DATE] == _day(8)]
    assert list(new_events(first, None)[c.SITE_ID]) == ["site-0005"]
    assert new_events(first, first).empty  # the same day recomputed: already known
    shifted = first.assign(**{c.START: first[c.START] + timedelta(minutes=10)})
    shifted = shifted.assign(**{c.EVENT_START: shifted[c.START]})
    assert new_events(shifted, first).empty  # late data moved its start: still the same event
    assert new_events(second, None).empty  # continued from the day before


def test_an_event_closed_the_day_before_starts_anew() -> None:
    first = _judge((Fault(FaultKind.DEAD_SITE, "site-0005", FIRST + timedelta(days=7)),), days=2)
    day7, day8 = (first.loc[first[c.DATE] == _day(n)] for n in (7, 8))
    assert (day8[c.EVENT_START] == day7[c.EVENT_START].min()).all()  # continued while open
    readings = fleet_readings(
        SITES,
        FIRST,
        9,
        seed=3,
        faults=(Fault(FaultKind.DEAD_SITE, "site-0005", FIRST + timedelta(days=7)),),
    )
    day = readings[c.TS].dt.floor("D")
    start = FIRST + timedelta(days=8)
    baseline = site_baseline(
        readings.loc[(day >= FIRST + timedelta(days=1)) & (day < start)], PARAMS
    )
    closed = day7.assign(**{c.OPEN: False})  # a previous day with no event still open
    anew = underperformance(readings.loc[day == start], baseline, closed, _day(8), PARAMS)
    assert set(anew[c.SITE_ID]) == {"site-0005"}
    assert anew[c.EVENT_START].min() == anew[c.START].min() >= day7[c.END].max()
