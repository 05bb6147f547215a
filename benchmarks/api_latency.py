"""Latency and throughput of `energy-platform api` over moto's server, through real HTTP.

    .venv/bin/python -m benchmarks.api_latency [--requests 2000] [--concurrency 20] [--workers 1]

Starts moto's server and `energy-platform api` (uvicorn, its own process) on free loopback
ports, provisions and seeds the tables (the API tests' `seed_tables`: 4 sites x 2 days of
5-minute readings landed as raw files and run through the real pipeline, which writes the
readings, their anomalies and aggregates), then sends a fixed mix of paginated
queries from `concurrency` concurrent httpx clients and reports p50/p95/p99 and requests/s.
Every figure includes moto, which answers each Query in Python: real DynamoDB is faster.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import httpx
import numpy as np

from energy_platform.local.emulator import LOCAL_CREDENTIALS, MotoServer, free_port
from energy_platform.settings import Settings
from energy_platform.tools.provision import provision
from energy_platform_tests.test_api.seeding import SEED_START, SITES_BY_COUNTY, seed_tables

WARMUP_REQUESTS = 50
HEALTH_REQUESTS = 1000
"""A second phase of /health only (one DescribeTable each, cheap in moto): the floor set by
HTTP, uvicorn and FastAPI, apart from the cost of moto's Query."""
REQUEST_MIX = (
    ("readings", 50),
    ("county_5min", 20),
    ("site_anomalies", 15),
    ("site_daily", 10),
    ("anomalies_of_day", 5),
)


def request_plan(requests: int, seed: int = 7) -> list[tuple[str, str, dict[str, str]]]:
    """(kind, path, params) for each request: windows of 1-6 hours inside the seeded days."""
    rng = random.Random(seed)
    kinds = [k for k, _ in REQUEST_MIX]
    weights = [w for _, w in REQUEST_MIX]
    sites = list(SITES_BY_COUNTY)
    counties = sorted(set(SITES_BY_COUNTY.values()))
    plan = []
    for kind in rng.choices(kinds, weights, k=requests):
        start = SEED_START + np.timedelta64(rng.randrange(0, 42 * 60, 5), "m")
        end = start + np.timedelta64(rng.randrange(60, 361, 5), "m")
        window = {
            "start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "end": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        site = rng.choice(sites)
        if kind == "readings":
            plan.append((kind, f"/v1/sites/{site}/readings", {**window, "limit": "100"}))
        elif kind == "county_5min":
            county = quote(rng.choice(counties), safe="")
            plan.append((kind, f"/v1/counties/{county}/5min", window))
        elif kind == "site_anomalies":
            plan.append((kind, f"/v1/sites/{site}/anomalies", window))
        elif kind == "site_daily":
            plan.append(
                (kind, f"/v1/sites/{site}/daily", {"start": "2024-06-01", "end": "2024-06-30"})
            )
        else:
            plan.append((kind, "/v1/anomalies", {"date": rng.choice(["2024-06-01", "2024-06-02"])}))
    return plan


@contextmanager
def running_platform(workers: int) -> Iterator[str]:
    """moto's server, provisioned and seeded, and the API over it; yields the API's base URL."""
    saved = dict(os.environ)
    moto = MotoServer(port=free_port())
    with tempfile.TemporaryDirectory(prefix="api-bench-") as tmp:
        os.environ.update(
            AWS_ENDPOINT_URL=moto.start(log_file=Path(tmp) / "moto.log"),
            ENERGY_BUCKET=f"api-bench-{uuid.uuid4().hex[:8]}",
            ENERGY_TABLE_PREFIX="bench_",
            **LOCAL_CREDENTIALS,
        )
        os.environ.pop("ENERGY_API_KEY", None)
        api: subprocess.Popen[bytes] | None = None
        try:
            settings = Settings.from_env()
            provision(settings)
            seed_tables(settings)
            port = free_port()
            log = open(Path(tmp) / "api.log", "wb")  # noqa: SIM115
            api = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "energy_platform.tools.cli",
                    "api",
                    "--port",
                    str(port),
                    "--workers",
                    str(workers),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=tmp,
            )
            base = f"http://127.0.0.1:{port}"
            _wait_for(base, api, Path(tmp) / "api.log")
            yield base
        finally:
            if api is not None:
                api.terminate()
                api.wait(timeout=30)
            moto.stop()
            os.environ.clear()
            os.environ.update(saved)


def _wait_for(base: str, api: subprocess.Popen[bytes], log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.poll() is not None:
            raise RuntimeError(f"the API exited: {log.read_text()}")
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the API did not become healthy within {timeout:.0f} s: {log.read_text()}")


async def _load(
    base: str, plan: list[tuple[str, str, dict[str, str]]], concurrency: int
) -> tuple[list[tuple[str, float]], int, float]:
    """Send every planned request, `concurrency` at a time; (kind, seconds) each, errors, wall."""
    queue = iter(plan)
    latencies: list[tuple[str, float]] = []
    errors = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as http:

        async def worker() -> None:
            nonlocal errors
            for kind, path, params in queue:
                began = time.perf_counter()
                resp = await http.get(path, params=params)
                latencies.append((kind, time.perf_counter() - began))
                errors += resp.status_code != 200

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return latencies, errors, time.perf_counter() - began


def run(requests: int = 2000, concurrency: int = 20, workers: int = 1) -> dict:
    """Start everything, warm up, send `requests` requests; the figures as a dict."""
    with running_platform(workers) as base:
        asyncio.run(_load(base, request_plan(WARMUP_REQUESTS, seed=1), concurrency))
        latencies, errors, wall = asyncio.run(_load(base, request_plan(requests), concurrency))
        health_plan = [("health", "/health", {})] * HEALTH_REQUESTS
        health, health_errors, health_wall = asyncio.run(_load(base, health_plan, concurrency))
    health_ms = np.array([s for _, s in health]) * 1000
    ms = np.array([s for _, s in latencies]) * 1000
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, seconds in latencies:
        by_kind[kind].append(seconds * 1000)
    return {
        "requests": len(latencies),
        "concurrency": concurrency,
        "workers": workers,
        "errors": errors,
        "seconds": round(wall, 3),
        "requests_per_s": round(len(latencies) / wall, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p95_ms": round(float(np.percentile(ms, 95)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "health": {
            "requests": len(health),
            "errors": health_errors,
            "requests_per_s": round(len(health) / health_wall, 1),
            "p50_ms": round(float(np.percentile(health_ms, 50)), 1),
            "p99_ms": round(float(np.percentile(health_ms, 99)), 1),
        },
        "p50_ms_by_endpoint": {
            k: round(float(np.percentile(v, 50)), 1) for k, v in sorted(by_kind.items())
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    figures = run(args.requests, args.concurrency, args.workers)
    print(
        f"{figures['requests']} requests at concurrency {figures['concurrency']} "
        f"({figures['workers']} worker): p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, "
        f"p99 {figures['p99_ms']} ms, {figures['requests_per_s']} requests/s, "
        f"{figures['errors']} errors"
    )
    for kind, p50 in figures["p50_ms_by_endpoint"].items():
        print(f"  {kind:<17} p50 {p50} ms")
    h = figures["health"]
    print(
        f"/health only ({h['requests']} requests): p50 {h['p50_ms']} ms, p99 {h['p99_ms']} ms, "
        f"{h['requests_per_s']} requests/s, {h['errors']} errors"
    )


if __name__ == "__main__":
    main()
