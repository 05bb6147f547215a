"""The simulated month with planted faults through the platform (issue 21).

The simulator writes one raw file a day for `history_days` + `days` days of a fleet of `sites`
sites, with the faults the detector benchmark plants (same seed: same sites, same starts) and
its usual injected anomalies. Each day's file lands in raw/ of an emulated platform, and the
platform's own sensors and runs take it in (harness.drain: sensor ticks, runs in process, as in
the pipeline tests), shard runs, county run and each shard's analytics run included. Then:
- the underperformance events the platform stored (S3) are scored with the detector
  benchmark's rules (`analytics.score`), per fault kind;
- the device table is counted in S3 and in DynamoDB, the events in DynamoDB and through the
  API (`/v1/underperformance?date=D`, every day), and the report's "energy lost" ranking is
  checked to name the sites that lost most, in order.
The readings' and anomalies' DynamoDB items are counted, not sent: the emulator would take
hours over them (about 1,300 items a second).
"""

from __future__ import annotations

import contextlib
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pandas as pd

from benchmarks.analytics import FIRST, onsets, score, score_figures
from benchmarks.common import Figure, emulated_platform, progress


@contextlib.contextmanager
def _readings_items_counted() -> Iterator[Counter]:
    """DynamoDB items of the readings and anomalies tables counted, not sent (144,000 a day at
    500 sites: the emulator takes in about 1,300 a second); every other table is written."""
    from energy_platform import contract as c
    from energy_platform.resources import DynamoTables

    send, counted = DynamoTables.put_frame, Counter()

    def put_frame(self: DynamoTables, table: str, frame: pd.DataFrame) -> int:
        if table in (c.READINGS_TABLE, c.ANOMALIES_TABLE):
            counted[table] += len(frame)
            return -(-len(frame) // 25)
        return send(self, table, frame)

    DynamoTables.put_frame = put_frame
    try:
        yield counted
    finally:
        DynamoTables.put_frame = send


def _land_month(sites: int, total_days: int, faults: tuple, seed: int) -> Counter:
    """Every day's file through the platform, one day at a time, in date order; the runs made
    per job."""
    from dagster import DagsterInstance

    from energy_platform.resources.s3 import LakeStorage
    from energy_platform.tools.simulate import SimulationConfig, encode_batch, generate_batch
    from energy_platform_tests.harness import DrainStats, drain, platform_defs

    config = SimulationConfig(
        records=sites * 288, sites=sites, fmt="jsonl", seed=seed, faults=faults
    )
    config = replace(config, start=FIRST)
    lake, defs, stats = LakeStorage(), platform_defs(), DrainStats()
    with DagsterInstance.get() as instance:
        for n in range(total_days):
            records = generate_batch(config, n, FIRST + timedelta(days=n + 1, seconds=-1))
            extension, body = encode_batch(records, "jsonl")
            lake.put_bytes(f"raw/month/day-{n:02d}.{extension}", body)
            drain(instance, stats, defs, max_rounds=200)
            progress(f"analytics month: day {n + 1}/{total_days} through the platform")
    if stats.failed_runs or stats.failed_checks:
        raise RuntimeError(f"{stats.failed_runs} runs and checks {stats.failed_checks} failed")
    return Counter(stats.day_jobs) + Counter({"ingest_job": len(stats.ingest_runs)})


def _served_events(settings, dates: list[str]) -> int:
    """Events of every day as the API serves them (every page)."""
    from fastapi.testclient import TestClient

    from energy_platform.api.app import create_app

    served = 0
    with TestClient(create_app(settings, api_key="")) as client:
        for date in dates:
            params = {"date": date}
            while True:
                body = client.get("/v1/underperformance", params=params).json()
                served += len(body["items"])
                if not body["next"]:
                    break
                params = {"date": date, "next": body["next"]}
    return served


def _report_ranks_by_energy_lost(events: pd.DataFrame) -> bool:
    """The report, built as its asset is: its energy-lost table names the sites that lost most
    (TOP_LOSS_SITES of them), most energy lost first."""
    from dagster import materialize

    from energy_platform import contract as c
    from energy_platform.defs.assets.report import energy_report
    from energy_platform.resources.s3 import LakeStorage
    from energy_platform.transforms.report_data import TOP_LOSS_SITES

    with contextlib.chdir(os.environ["DAGSTER_HOME"]):  # its local copy goes there
        if not materialize([energy_report], resources={"lake": LakeStorage()}).success:
            return False
    page = LakeStorage().get_bytes(c.REPORT_KEY).decode()
    ranked = page[page.index('id="energy-lost"') : page.index('id="device-daily"')]
    lost = events.groupby(c.SITE_ID)[c.ENERGY_LOST].sum().nlargest(TOP_LOSS_SITES)
    at = [ranked.find(site) for site in lost.index]
    return -1 not in at and at == sorted(at)


def run(sites: int = 500, days: int = 30, per_kind: int = 25, seed: int = 21) -> list[Figure]:
    from energy_platform import contract as c
    from energy_platform.resources import DynamoTables, datasets
    from energy_platform.resources.s3 import LakeStorage
    from energy_platform.settings import get_settings
    from energy_platform.tools.faults import plant_faults
    from energy_platform.tools.simulate import site_table

    params = get_settings().analytics
    total = params.history_days + days
    ids = site_table(sites)[c.SITE_ID].tolist()
    faults = plant_faults(ids, FIRST + timedelta(days=params.history_days), days, per_kind, seed)
    bench = f"analytics month through the platform[{sites} sites x {days} days]"
    progress(f"{bench}: {len(faults)} planted faults")
    with emulated_platform("month") as settings:
        os.environ.update(ENERGY_RAW_EVENTS_WAIT_SECONDS="0", ENERGY_ANALYTICS_INTERVAL_SECONDS="0")
        began = pd.Timestamp.now()
        with _readings_items_counted() as counted:
            runs = _land_month(sites, total, faults, seed)
        wall = (pd.Timestamp.now() - began).total_seconds()
        lake, tables = LakeStorage(), DynamoTables()
        dates = [(FIRST + timedelta(days=n)).strftime("%Y-%m-%d") for n in range(total)]
        events, devices = (
            pd.concat([d.read_day(lake, date) for date in dates], ignore_index=True)
            for d in (datasets.UNDERPERFORMANCE, datasets.DEVICE_DAILY)
        )
        served = _served_events(settings, dates)
        stored = {
            t: len(tables.scan_all(t)) for t in (c.UNDERPERFORMANCE_TABLE, c.DEVICE_DAILY_TABLE)
        }
        report_ok = _report_ranks_by_energy_lost(events)
    scores = score(events, onsets(sites, total, faults, params.ratio))
    figures = [
        Figure(
            bench,
            "wall time",
            round(wall, 0),
            "s",
            note=", ".join(f"{n} {j}" for j, n in sorted(runs.items())),
        ),
        Figure(
            bench,
            "readings and anomalies items",
            sum(counted.values()),
            note="counted, not sent to the emulator",
        ),
        Figure(
            bench,
            "device_daily rows (S3 / DynamoDB)",
            f"{len(devices)} / {stored[c.DEVICE_DAILY_TABLE]}",
            target="equal",
            holds=len(devices) == stored[c.DEVICE_DAILY_TABLE] > 0,
        ),
        Figure(
            bench,
            "event segments (S3 / DynamoDB / API)",
            f"{len(events)} / {stored[c.UNDERPERFORMANCE_TABLE]} / {served}",
            target="equal",
            holds=len(events) == stored[c.UNDERPERFORMANCE_TABLE] == served > 0,
        ),
        Figure(
            bench,
            "report ranks the sites that lost most",
            "yes" if report_ok else "no",
            target="yes",
            holds=report_ok,
        ),
    ]
    return figures + score_figures(bench, scores)
