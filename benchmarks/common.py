"""What every benchmark shares: the figure record, progress on stderr, the machine, timing,
and an emulated platform (moto's server, provisioned) to run against."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

PACKAGES = ("duckdb", "pyarrow", "pandas", "numpy", "dagster", "moto", "boto3", "botocore")


@dataclass
class Figure:
    benchmark: str
    metric: str
    value: float | int | str
    unit: str = ""
    target: str = ""
    """e.g. `>= 1000000`; empty when the figure has no target."""
    holds: bool | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check(value: float, op: str, bound: float) -> bool:
    return value >= bound if op == ">=" else value <= bound


def target_figure(
    benchmark: str, metric: str, value: float, unit: str, op: str, bound: float, note: str = ""
) -> Figure:
    return Figure(benchmark, metric, value, unit, f"{op} {bound:g}", check(value, op, bound), note)


def progress(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gb() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def machine() -> dict[str, Any]:
    """Where the figures came from."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
        "memory_gb": _mem_total_gb(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "load_average_at_start": load_average(),
    }


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (VmHWM), MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Timing:
    wall: float
    cpu: float


def timed(fn: Callable[[], Any]) -> tuple[Any, Timing]:
    """fn's result, its wall time and the CPU time of this process (all threads) meanwhile."""
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return out, Timing(time.perf_counter() - t0, time.process_time() - c0)


@contextmanager
def emulated_platform(name: str) -> Iterator[Any]:
    """moto's server on a free port and a provisioned platform of its own; yields Settings.
    The environment is restored afterwards."""
    from energy_platform.local.emulator import LOCAL_CREDENTIALS, MotoServer, free_port
    from energy_platform.settings import Settings
    from energy_platform.tools.provision import provision

    saved = dict(os.environ)
    moto = MotoServer(port=free_port())
    with tempfile.TemporaryDirectory(prefix=f"{name}-bench-") as tmp:
        try:
            os.environ.update(
                AWS_ENDPOINT_URL=moto.start(log_file=Path(tmp) / "moto.log"),
                ENERGY_BUCKET=f"{name}-bench-{uuid.uuid4().hex[:8]}",
                ENERGY_TABLE_PREFIX=f"{name}_",
                AWS_DEFAULT_REGION="us-east-1",
                DAGSTER_HOME=tmp,
                **LOCAL_CREDENTIALS,
            )
            settings = Settings.from_env()
            provision(settings)
            yield settings
        finally:
            moto.stop()
            os.environ.clear()
            os.environ.update(saved)
