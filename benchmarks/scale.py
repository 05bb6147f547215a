"""What one new file costs when its day already holds a whole fleet (issue 18).

For each fleet (1,000, 10,000 and 100,000 sites by default, `SHARDS` site shards, as one
deployment sized for the largest would run):
1. **first build**: a day of 5-minute readings of every site (288 a site) is written straight
   into staging/, then the platform's own staged_partitions_sensor is ticked and every run it
   asks for (one per site shard, then the day's county run) is executed, each in a process of
   its own as a run worker would, two at a time (the local run coordinator's concurrency on
   this 2-core machine). DynamoDB writes of this build are counted as items, not sent (tens of
   millions of items: the emulator would take hours).
2. **new file**: a raw file of 1,000 readings from 4 of the fleet's sites (a re-delivery of
   part of their day) lands in raw/; raw_files_sensor and staged_partitions_sensor are ticked
   and their runs executed the same way (ingest, one run per touched shard, the county run),
   with DynamoDB writes sent to the emulator.
Each run's wall time and peak RSS (its own VmHWM, which it reports as it ends) are measured.
Each site shard's analytics run follows the first build (with no earlier days its baseline is
empty); the new file is followed by none (ENERGY_ANALYTICS_INTERVAL_SECONDS is a day here:
analytics rerun at most every interval, never per file).
3. **analytics with history**: one shard's cleaned day is copied to the `history_days` days
   before it, and that day shard's analytics run executes once more, reading a full history as
   it does every day in production (the largest analytics run a fleet of that size has).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import Figure, emulated_platform, progress

FLEETS = (1_000, 10_000, 100_000)
SHARDS = 128
DAY = datetime(2024, 6, 3, tzinfo=UTC)
NEW_FILE_SITES = 4
NEW_FILE_READINGS = 1_000
SITES_PER_CHUNK = 5_000
"""The fleet's day is generated and staged this many sites at a time (bounded memory)."""
PARALLEL_RUNS = 2
NEW_FILE_RATIO_TARGET = 1.5
PEAK_RSS_TARGET_MIB = 4 * 1024


@dataclass
class Run:
    job: str
    partition: str
    seconds: float
    peak_rss_mib: float
    dynamodb_items: int
    success: bool


def _execute(request, count_only: bool, tmp: Path) -> Run:
    """One requested run in its own process; its wall time and the peak RSS it reports."""
    job = request.job_name or "ingest_job"
    name = f"{job}-{str(request.partition_key or '').replace('|', '-')}-{time.monotonic_ns()}"
    out, log = tmp / f"{name}.json", tmp / f"{name}.log"
    cmd = [sys.executable, "-m", "benchmarks.scale_run", job, "--out", str(out)]
    if request.partition_key:
        cmd += ["--partition", str(request.partition_key)]
    if request.run_config:
        cmd += ["--run-config", json.dumps(request.run_config)]
    cmd += ["--tags", json.dumps(dict(request.tags))]
    if count_only:
        cmd.append("--count-dynamodb-only")
    began = time.perf_counter()
    with log.open("wb") as sink:
        proc = subprocess.run(cmd, stdout=sink, stderr=subprocess.STDOUT, check=False)
    seconds = time.perf_counter() - began
    if proc.returncode:
        progress(f"scale: {job} {request.partition_key} failed:\n{log.read_text()[-3000:]}")
    result = json.loads(out.read_text()) if out.exists() else {}
    return Run(
        job,
        str(request.partition_key or ""),
        seconds,
        float(result.get("peak_rss_mib", 0.0)),
        int(result.get("dynamodb_items", 0)),
        bool(result.get("success")) and proc.returncode == 0,
    )


def _drive(stats: Any, count_only: bool, tmp: Path) -> tuple[list[Run], float]:
    """Tick the platform's sensors (their cursors in `stats`, as the daemon keeps them) and
    execute what they ask for until nothing is left."""
    from dagster import DagsterInstance

    from energy_platform_tests.harness import day_requests, ingest_tick, platform_defs

    defs, runs = platform_defs(), []
    began = time.perf_counter()
    with DagsterInstance.get() as instance, ThreadPoolExecutor(PARALLEL_RUNS) as pool:
        while True:
            requests = ingest_tick(instance, stats, defs)
            requests += day_requests(instance, stats, defs)
            if not requests:
                return runs, time.perf_counter() - began
            done = list(pool.map(lambda r: _execute(r, count_only, tmp), requests))
            failed = [r for r in done if not r.success]
            if failed:
                raise RuntimeError(f"runs failed: {failed}")
            runs += done


def _stage_fleet_day(sites: int, shards: int) -> int:
    """A day of every site's readings, written into staging/ per site shard; returns readings."""
    from energy_platform import contract as c
    from energy_platform import schemas
    from energy_platform.resources.s3 import LakeStorage
    from energy_platform.tools.simulate import fleet_readings
    from energy_platform.transforms.frames import to_table
    from energy_platform.transforms.shards import site_shards

    lake, staged = LakeStorage(), 0
    for first in range(0, sites, SITES_PER_CHUNK):
        chunk = range(first, min(sites, first + SITES_PER_CHUNK))
        day = fleet_readings(sites, DAY, 1, seed=18, site_range=chunk).drop(columns=c.IS_ANOMALY)
        day = day.assign(**{c.SOURCE_KEY: "raw/fleet/day.jsonl", c.SOURCE_LINE: 0, c.ARRIVAL: 1})
        for shard, rows in day.groupby(site_shards(day[c.SITE_ID], shards), sort=True):
            key = c.staging_object(DAY.date().isoformat(), shard, f"fleet-{first}")
            lake.write_parquet(key, to_table(rows, schemas.STAGED_READINGS))
        staged += len(day)
        progress(f"scale[{sites:,} sites]: {staged:,} readings staged")
    return staged


def _land_new_file(sites: int) -> str:
    """1,000 readings of 4 sites of the fleet, later values for slots their day already has."""
    from energy_platform import contract as c
    from energy_platform.resources.s3 import LakeStorage
    from energy_platform.tools.simulate import fleet_readings

    step = sites // NEW_FILE_SITES
    picked = [
        fleet_readings(sites, DAY, 1, seed=18, site_range=range(k * step, k * step + 1))
        for k in range(NEW_FILE_SITES)
    ]
    per_site = NEW_FILE_READINGS // NEW_FILE_SITES
    lines = []
    for frame in picked:
        for r in frame.head(per_site).itertuples(index=False):
            lines.append(
                json.dumps(
                    {
                        "site_id": getattr(r, c.SITE_ID),
                        "timestamp": getattr(r, c.TS).strftime(c.TS_FORMAT),
                        "county": getattr(r, c.COUNTY),
                        "energy_generated_kwh": round(getattr(r, c.GENERATED) * 1.01, 4),
                        "energy_consumed_kwh": getattr(r, c.CONSUMED),
                    }
                )
            )
    key = "raw/scale/new-file.jsonl"
    LakeStorage().put_bytes(key, ("\n".join(lines) + "\n").encode())
    return key


def _analytics_with_history(shards: int, tmp: Path) -> Run:
    """Copy shard 0's cleaned day, its timestamps moved back, to each of the days before it,
    then run that day shard's analytics."""
    from dagster import RunRequest

    from energy_platform import contract as c
    from energy_platform.resources import datasets
    from energy_platform.resources.s3 import LakeStorage
    from energy_platform.settings import get_settings
    from energy_platform.transforms.frames import to_table
    from energy_platform.transforms.shards import shard_keys

    lake, shard, date = LakeStorage(), shard_keys(shards)[0], DAY.date()
    day = datasets.READINGS.read(lake, date.isoformat(), shard)
    for back in range(1, get_settings().analytics.history_days + 1):
        earlier = day.assign(**{c.TS: day[c.TS] - timedelta(days=back)})
        key = datasets.READINGS.key((date - timedelta(days=back)).isoformat(), shard)
        lake.write_parquet(key, to_table(earlier, datasets.READINGS.schema))
    request = RunRequest(job_name="analytics_job", partition_key=f"{date.isoformat()}|{shard}")
    return _execute(request, False, tmp)


def _fleet(sites: int, shards: int) -> dict[str, object]:
    with emulated_platform(f"scale{sites}") as _, tempfile.TemporaryDirectory() as tmp:
        os.environ.update(
            ENERGY_SITE_SHARDS=str(shards),
            ENERGY_RAW_EVENTS_WAIT_SECONDS="0",
            ENERGY_ANALYTICS_INTERVAL_SECONDS=str(86_400),
        )
        readings = _stage_fleet_day(sites, shards)
        progress(f"scale[{sites:,} sites]: first build of the day")
        from energy_platform_tests.harness import DrainStats

        stats = DrainStats()
        first, first_wall = _drive(stats, True, Path(tmp))
        _land_new_file(sites)
        progress(f"scale[{sites:,} sites]: one new file of {NEW_FILE_READINGS:,} readings")
        new, new_wall = _drive(stats, False, Path(tmp))
        progress(f"scale[{sites:,} sites]: one shard's analytics over a full history")
        history = _analytics_with_history(shards, Path(tmp))
    return {
        "history": history,
        "readings": readings,
        "first": first,
        "first_wall": first_wall,
        "new": new,
        "new_wall": new_wall,
    }


def _runs_summary(runs: list[Run]) -> str:
    return ", ".join(f"{n} {job}" for job, n in sorted(Counter(r.job for r in runs).items()))


def run(fleets: tuple[int, ...] = FLEETS, shards: int = SHARDS) -> list[Figure]:
    figures: list[Figure] = []
    new_cost: dict[int, float] = {}
    for sites in fleets:
        f = _fleet(sites, shards)
        bench = f"scale[{sites:,} sites, {shards} shards]"
        first, new = f["first"], f["new"]
        history: Run = f["history"]
        if not history.success:
            raise RuntimeError(f"the analytics run over a full history failed: {history}")
        peak = max(r.peak_rss_mib for r in [*first, *new, history])
        new_cost[sites] = sum(r.seconds for r in new)
        figures += [
            Figure(bench, "readings in the day", f["readings"]),
            Figure(
                bench, "first build wall", round(f["first_wall"], 1), "s", note=_runs_summary(first)
            ),
            Figure(
                bench,
                "first build run-seconds",
                round(sum(r.seconds for r in first), 1),
                "s",
                note=f"{PARALLEL_RUNS} runs at a time",
            ),
            Figure(
                bench,
                "first build DynamoDB items",
                sum(r.dynamodb_items for r in first),
                note="counted, not sent",
            ),
            Figure(bench, "new file wall", round(f["new_wall"], 1), "s", note=_runs_summary(new)),
            Figure(bench, "new file run-seconds", round(new_cost[sites], 1), "s"),
            Figure(
                bench,
                "new file DynamoDB items",
                sum(r.dynamodb_items for r in new),
                note="sent to the emulator",
            ),
            Figure(
                bench,
                "analytics with history wall",
                round(history.seconds, 1),
                "s",
                note="one day shard, with a full history of days before it",
            ),
            Figure(bench, "analytics with history RSS", round(history.peak_rss_mib), "MiB"),
            Figure(
                bench,
                "peak RSS of a run",
                round(peak),
                "MiB",
                target=f"<= {PEAK_RSS_TARGET_MIB}",
                holds=peak <= PEAK_RSS_TARGET_MIB,
            ),
            *[
                Figure(bench, f"max {job} RSS", round(max(r.peak_rss_mib for r in rs)), "MiB")
                for job in ("ingest_job", "daily_job", "county_job", "analytics_job")
                if (rs := [r for r in first + new if r.job == job])
            ],
        ]
    smallest, largest = min(new_cost), max(new_cost)
    if largest != smallest:
        ratio = new_cost[largest] / new_cost[smallest]
        figures.append(
            Figure(
                "scale",
                f"new file cost at {largest:,} / at {smallest:,} sites",
                round(ratio, 2),
                "x",
                target=f"<= {NEW_FILE_RATIO_TARGET}",
                holds=ratio <= NEW_FILE_RATIO_TARGET,
                note="run-seconds of the new file's runs",
            )
        )
    return figures
