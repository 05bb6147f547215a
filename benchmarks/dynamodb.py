"""DynamoDB writes to the local emulator: items/s and BatchWriteItem calls per 1,000 items.

One day of the simulator's readings, shaped as `{prefix}readings` items (serving.py), is
written with `DynamoTables.put_frame` for several writer counts; each run writes to a fresh
key range (a different site prefix) so every item is an insert. `put_frame` returns the
BatchWriteItem calls it made (retries of unprocessed items included).
"""

from __future__ import annotations

import time

from benchmarks.common import Figure, emulated_platform, progress, target_figure

TARGET_CALLS_PER_1000 = 41


def _items(n: int):
    from benchmarks.core import NOW, make_bodies
    from energy_platform.transforms import (
        detect_anomalies,
        latest_readings,
        parse_object,
        validate_records,
    )
    from energy_platform.transforms.serving import readings_items

    body = make_bodies(n, ("jsonl",))["jsonl"]
    clean = validate_records(parse_object("raw/b.jsonl", body), "raw/b.jsonl", 1, NOW).clean
    readings, _ = detect_anomalies(latest_readings(clean))
    return readings_items(readings)


def run(items: int = 10_000, writers: tuple[int, ...] = (1, 4, 8)) -> list[Figure]:
    from energy_platform.contract import READINGS_TABLE
    from energy_platform.resources.dynamodb import DynamoTables

    frame = _items(items)
    figures: list[Figure] = []
    with emulated_platform("ddb") as settings:
        for w in writers:
            tables = DynamoTables(
                table_prefix=settings.table_prefix, region=settings.region, writers=w
            )
            batch = frame.assign(site_id="w" + str(w) + "-" + frame["site_id"])
            progress(f"dynamodb: {len(batch):,} items with {w} writer(s)")
            began = time.perf_counter()
            calls = tables.put_frame(READINGS_TABLE, batch)
            seconds = time.perf_counter() - began
            bench = f"dynamodb[{w} writers]"
            figures.append(
                Figure(
                    bench,
                    "items/s",
                    round(len(batch) / seconds),
                    "items/s",
                    note=f"{len(batch):,} items in {seconds:.1f} s to moto",
                )
            )
            figures.append(
                target_figure(
                    bench,
                    "BatchWriteItem calls / 1000 items",
                    round(calls * 1000 / len(batch), 1),
                    "calls",
                    "<=",
                    TARGET_CALLS_PER_1000,
                    f"{calls} calls",
                )
            )
    return figures
