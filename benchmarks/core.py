"""The pure core on one million records in memory, from JSON lines and from CSV.

Records are the simulator's (one UTC day of 5-minute readings per site, 2% anomalies, 1%
invalid records), encoded by `simulate.encode_batch`. Each stage is timed on its own: parse
(`parse_object`), validate (clean / quarantine), de-duplicate, anomalies, county_5min,
site_daily; the chain is run `repeat` times and the fastest run counts (the machine is
shared; every run's time is in the note, to show the spread). The same run times
`benchmarks.naive` (json.loads / csv and a loop) on the first `naive_records` records of the
same file and checks it counts what the core counts.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from benchmarks import naive
from benchmarks.common import Figure, Timing, progress, target_figure, timed

WHEN = datetime(2024, 6, 1, 23, 59, 59, tzinfo=UTC)
"""The batch ends on the day's last slot, so every site's readings are one UTC day."""
NOW = pd.Timestamp("2024-06-02T01:00:00Z")
SLOTS_PER_DAY = 288
STAGES = ("parse", "validate", "dedupe", "anomalies", "county_5min", "site_daily")
TARGET_RECORDS_PER_S = 1_000_000
TARGET_RATIO = 10


def make_bodies(records: int, formats: tuple[str, ...] = ("jsonl", "csv")) -> dict[str, bytes]:
    """The same simulated records encoded in each format."""
    from energy_platform.tools.simulate import SimulationConfig, encode_batch, generate_batch

    sites = max(1, records // (SLOTS_PER_DAY - 2))
    config = SimulationConfig(
        records=records, sites=sites, fmt="jsonl", anomaly_rate=0.02, invalid_rate=0.01, seed=7
    )
    frame = generate_batch(config, 0, WHEN)
    return {fmt: encode_batch(frame, fmt)[1] for fmt in formats}


def core_chain(key: str, body: bytes) -> tuple[dict[str, Timing], dict[str, int]]:
    """Every stage once: per-stage timings and the counts it produced."""
    from energy_platform.transforms import (
        county_5min,
        detect_anomalies,
        latest_readings,
        parse_object,
        site_daily,
        validate_records,
    )

    t: dict[str, Timing] = {}
    parsed, t["parse"] = timed(lambda: parse_object(key, body))
    result, t["validate"] = timed(lambda: validate_records(parsed, key, 1, NOW))
    latest, t["dedupe"] = timed(lambda: latest_readings(result.clean))
    (readings, anomalies), t["anomalies"] = timed(lambda: detect_anomalies(latest))
    county, t["county_5min"] = timed(lambda: county_5min(readings))
    daily, t["site_daily"] = timed(lambda: site_daily(readings))
    counts = {
        "records": parsed.records_read,
        "clean": len(result.clean),
        "quarantined": len(result.quarantined),
        "anomalies": len(anomalies),
        "county_5min": len(county),
        "site_daily": len(daily),
    }
    return t, counts


@contextmanager
def bare_reader(fmt: str, body: bytes) -> Iterator[Callable[[], int]]:
    """The fastest read of `body` this machine's libraries offer, as a reference for "near the
    machine's limit": every field into a text column, nothing checked, no line numbers, no
    raw texts kept (DuckDB's parallel JSON reader on a file in memory; pyarrow's parallel CSV
    reader in 8 MiB blocks, as the core uses it). Yields a call that reads and counts rows."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    from energy_platform import contract as c
    from energy_platform.transforms.duck import connection

    if fmt == "csv":
        options = {
            "read_options": pacsv.ReadOptions(block_size=1 << 23),
            "convert_options": pacsv.ConvertOptions(
                column_types={name: pa.string() for name in c.INPUT_FIELDS}
            ),
        }
        yield lambda: pacsv.read_csv(pa.BufferReader(body), **options).num_rows
        return
    columns = "{" + ", ".join(f"{name}: 'VARCHAR'" for name in c.INPUT_FIELDS) + "}"
    folder = "/dev/shm" if os.path.isdir("/dev/shm") else None
    with tempfile.NamedTemporaryFile(suffix=".jsonl", dir=folder) as f, connection() as con:
        f.write(body)
        f.flush()
        sql = f"SELECT * FROM read_json('{f.name}', format='newline_delimited', columns={columns})"
        yield lambda: con.sql(sql).to_arrow_table().num_rows


def _head(body: bytes, fmt: str, records: int) -> bytes:
    """The first `records` records (CSV: plus the header) of a body with one record a line."""
    lines = records + (1 if fmt == "csv" else 0)
    end = -1
    for _ in range(lines):
        end = body.find(b"\n", end + 1)
        if end < 0:
            return body
    return body[: end + 1]


def run(records: int = 1_000_000, repeat: int = 3, naive_records: int = 100_000) -> list[Figure]:
    figures: list[Figure] = []
    progress(f"core: generating {records:,} simulated records")
    bodies = make_bodies(records)
    for fmt, body in bodies.items():
        key = f"raw/bench.{fmt}"
        best: dict[str, Any] | None = None
        walls: list[float] = []
        for i in range(repeat):
            progress(f"core[{fmt}]: run {i + 1}/{repeat} of the chain on {records:,} records")
            stages, counts = core_chain(key, body)
            wall = sum(s.wall for s in stages.values())
            walls.append(wall)
            if best is None or wall < best["wall"]:
                best = {"wall": wall, "stages": stages, "counts": counts}
        assert best is not None
        n = best["counts"]["records"]
        cpu = sum(s.cpu for s in best["stages"].values())
        rate = n / best["wall"]
        bench = f"core[{fmt}]"
        for stage in STAGES:
            s = best["stages"][stage]
            figures.append(
                Figure(bench, f"{stage} s", round(s.wall, 3), "s", note=f"cpu {s.cpu:.2f} s")
            )
        figures.append(
            Figure(
                bench,
                "whole chain s",
                round(best["wall"], 3),
                "s",
                note=f"cpu {cpu:.2f} s; every run: " + ", ".join(f"{w:.2f}" for w in walls) + " s",
            )
        )
        figures.append(
            target_figure(
                bench,
                "records/s",
                round(rate),
                "records/s",
                ">=",
                TARGET_RECORDS_PER_S,
                f"best of {repeat} on {n:,} records ({len(body) / 1e6:.0f} MB)",
            )
        )
        with bare_reader(fmt, body) as read:
            floor = min((timed(read)[1] for _ in range(repeat)), key=lambda t: t.wall)
        figures.append(
            Figure(
                bench,
                "reference: bare read s",
                round(floor.wall, 3),
                "s",
                note=f"cpu {floor.cpu:.2f} s; "
                + ("DuckDB read_json" if fmt == "jsonl" else "pyarrow read_csv")
                + " of the same body into text columns, nothing checked (best of "
                f"{repeat}); the whole chain takes {best['wall'] / floor.wall:.1f}x this",
            )
        )
        figures.append(
            Figure(
                bench,
                "records per CPU-second",
                round(n / cpu),
                "records/s",
                note="CPU time of all threads: what the chain costs when the machine is shared",
            )
        )
        sample = _head(body, fmt, min(naive_records, n))
        progress(f"core[{fmt}]: naive per-record baseline on {min(naive_records, n):,} records")
        naive_counts, naive_t = timed(lambda s=sample, f=fmt: naive.run(s, f, NOW.timestamp()))
        _, core_sample_counts = core_chain(key, sample)
        naive_rate = naive_counts["records"] / naive_t.wall
        figures.append(
            Figure(
                bench,
                "naive records/s",
                round(naive_rate),
                "records/s",
                note=f"benchmarks/naive.py on the first {naive_counts['records']:,} records",
            )
        )
        figures.append(
            target_figure(
                bench,
                "speed-up vs naive",
                round(rate / naive_rate, 1),
                "x",
                ">=",
                TARGET_RATIO,
                "core records/s (1M) / naive records/s",
            )
        )
        same = naive_counts == core_sample_counts
        figures.append(
            Figure(
                bench,
                "naive counts = core counts",
                "yes" if same else "NO",
                holds=same,
                note=", ".join(f"{k}={v}" for k, v in core_sample_counts.items()),
            )
        )
    return figures
