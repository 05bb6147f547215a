"""Memory of the reader does not grow with what a file decompresses to: a gzip bomb, read to
its end with every cap lifted, costs the process a bounded amount above its imports."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.timeout(300)

SCRIPT = """
import gzip, json, sys
import pandas as pd
from energy_platform.transforms.batch import RawFile, process_file
from energy_platform.transforms.pieces import ReadLimits

def status(name):
    for line in open("/proc/self/status"):
        if line.startswith(name):
            return int(line.split()[1]) * 1024

member = gzip.compress(bytes(1 << 20), 9)
def bomb():  # 2 GiB of NUL bytes in 1 MiB gzip members: about 2 MB on the wire
    for _ in range(2048):
        yield member

limits = {"lifted": ReadLimits(max_file_bytes=1 << 40, max_inflate_ratio=1e12), "default": None}
now = pd.Timestamp("2024-06-02T00:00:00Z")
before = status("VmRSS")
result, read = process_file(RawFile("raw/bomb.jsonl.gz", "e", 1, chunks=bomb), now, limits[sys.argv[1]])
q = result.quarantined.iloc[0]
print(json.dumps({
    "growth": status("VmHWM") - before, "read": read, "clean": len(result.clean),
    "reason": q["reason"], "raw_chars": len(q["raw"]), "raw_bytes": int(q["raw_bytes"]),
}))
"""


def _run(limits: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", SCRIPT, limits], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_2_gib_bomb_read_to_the_end_stays_in_bounded_memory() -> None:
    found = _run("lifted")
    assert (found["read"], found["clean"], found["reason"]) == (1, 0, "record_too_long")
    assert found["raw_bytes"] == 2 << 30  # every byte was read, hashed and counted
    assert found["raw_chars"] <= 64 * 1024
    assert found["growth"] < 300 << 20, f"grew by {found['growth'] >> 20} MiB"


def test_a_2_gib_bomb_is_refused_early_by_the_default_ratio_cap() -> None:
    found = _run("default")
    assert (found["read"], found["clean"], found["reason"]) == (1, 0, "decompression_bomb")
    assert found["growth"] < 300 << 20, f"grew by {found['growth'] >> 20} MiB"
