"""A backlog landed at once, processed to the end by the platform's own sensors and runs.

`files` simulated batches (`records` readings each, formats rotating json / jsonl / csv, one
5-minute slot of every site per batch, so consecutive batches cover consecutive slots and
days fill up) are uploaded to moto's S3 before anything runs; then
`energy_platform_tests.harness.drain` ticks raw_files_sensor and staged_partitions_sensor and
executes every run they request in process against a temporary Dagster instance, as the
daemon would (one run at a time), until the events queue and staging are empty.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from benchmarks.common import Figure, emulated_platform, progress


def land(files: int, records: int) -> int:
    """Upload the backlog; returns the bytes landed."""
    from dataclasses import replace

    from energy_platform.resources.s3 import LakeStorage
    from energy_platform.tools.simulate import SimulationConfig, upload_batch

    storage = LakeStorage()
    start = datetime(2024, 6, 1, 0, 0, 30, tzinfo=UTC)
    config = replace(
        SimulationConfig(records=records, sites=records, fmt="mixed", seed=11), start=start
    )

    def one(i: int) -> str:
        return upload_batch(storage, config, i, start + timedelta(minutes=5 * i))

    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = list(pool.map(one, range(files)))
    return sum(o.size for o in storage.list_objects("raw/") if o.key in set(keys))


def run(files: int = 2000, records: int = 500) -> list[Figure]:
    from dagster import instance_for_test

    from energy_platform_tests.harness import drain, platform_defs

    bench = f"backlog[{files} files]"
    with emulated_platform("backlog"):
        # The drain ticks the sensor itself once everything has landed: no tick needs to wait
        # on an empty queue for a file to come (the daemon's ticks do; see settings).
        os.environ["ENERGY_RAW_EVENTS_WAIT_SECONDS"] = "0"
        progress(f"backlog: landing {files} files of {records} readings")
        landed = land(files, records)
        defs = platform_defs()
        with instance_for_test() as instance:
            progress("backlog: draining with the platform's sensors and runs")
            began = time.perf_counter()
            stats = drain(instance, defs=defs, max_rounds=500)
            seconds = time.perf_counter() - began
        total = files * records
        return [
            Figure(bench, "readings landed", total, note=f"{landed / 1e6:.0f} MB in raw/"),
            Figure(
                bench,
                "wall time to drained",
                round(seconds, 1),
                "s",
                note=f"{total / seconds:,.0f} readings/s end to end, one run at a time",
            ),
            Figure(bench, "ingest runs", len(stats.ingest_runs)),
            Figure(bench, "daily runs", len(stats.daily_runs), note=", ".join(stats.daily_runs)),
            Figure(
                bench,
                "failed runs / checks",
                f"{stats.failed_runs} / {len(stats.failed_checks)}",
                holds=stats.failed_runs == 0 and not stats.failed_checks,
            ),
        ]
