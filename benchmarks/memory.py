"""Peak memory processing one large raw JSON-lines file, as the ingest asset does.

The parent writes a file of `megabytes` (the simulator's records, repeated), then a child
process streams it in 1 MiB reads through `batch.process_file` (pieces of whole lines,
`pieces.ReadLimits`) and reports its peak resident set size (VmHWM) and the records it read.
A child keeps the parent's own memory out of the figure.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Figure, progress, target_figure

TARGET_PEAK_MB = 1536
READ_BYTES = 1 << 20


def write_file(path: Path, megabytes: int) -> int:
    """A JSON-lines file of about `megabytes` MB; returns its size."""
    from benchmarks.core import make_bodies

    body = make_bodies(200_000, ("jsonl",))["jsonl"]
    target = megabytes * 1_000_000
    written = 0
    with path.open("wb") as out:
        while written < target:
            out.write(body)
            written += len(body)
    return written


def child(path: str) -> None:
    import pandas as pd

    from benchmarks.common import peak_rss_mb
    from energy_platform.transforms.batch import RawFile, process_file

    def chunks():
        with open(path, "rb") as f:
            while block := f.read(READ_BYTES):
                yield block

    before = peak_rss_mb()
    began = time.perf_counter()
    raw = RawFile("raw/big.jsonl", "etag", 1, chunks=chunks)
    result, records = process_file(raw, pd.Timestamp("2024-06-02T01:00:00Z"))
    seconds = time.perf_counter() - began
    print(
        json.dumps(
            {
                "records": records,
                "clean": len(result.clean),
                "quarantined": len(result.quarantined),
                "seconds": seconds,
                "peak_rss_mb": peak_rss_mb(),
                "rss_after_imports_mb": before,
                "result_mb": result.clean.memory_usage(deep=True).sum() / 2**20,
            }
        )
    )


def run(megabytes: int = 1024) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="memory-bench-") as tmp:
        path = Path(tmp) / "big.jsonl"
        progress(f"memory: writing a {megabytes} MB JSON-lines file")
        size = write_file(path, megabytes)
        progress(f"memory: processing {size / 1e6:.0f} MB in a child process")
        out = subprocess.run(
            [sys.executable, "-m", "benchmarks.memory", str(path)],
            capture_output=True,
            text=True,
            check=True,
        )
    r = json.loads(out.stdout.strip().splitlines()[-1])
    bench = "memory"
    return [
        Figure(bench, "file MB", round(size / 1e6), "MB", note="JSON lines, read 1 MiB at a time"),
        Figure(bench, "records", r["records"], note=f"clean {r['clean']:,}"),
        target_figure(
            bench,
            "peak RSS",
            round(r["peak_rss_mb"]),
            "MiB",
            "<=",
            TARGET_PEAK_MB,
            f"after imports {r['rss_after_imports_mb']:.0f} MiB; clean frame kept "
            f"{r['result_mb']:.0f} MiB",
        ),
        Figure(
            bench,
            "records/s",
            round(r["records"] / r["seconds"]),
            "records/s",
            note="parse + validate, streamed",
        ),
    ]


if __name__ == "__main__":
    child(sys.argv[1])
