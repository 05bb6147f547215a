"""Latency from a file landing to its readings in DynamoDB, with the platform running as
`make dev` runs it.

Starts `energy-platform dev --port <free>` in a temporary folder
(its own emulator, provisioning and `dg dev` with the
sensors on), then lands `files` JSON-lines files one by one through its emulator: each file
holds one new 5-minute slot of `sites` sites, and the next file lands only once every reading
of the previous one can be read back from `{prefix}readings` (BatchGetItem, polled every
0.25 s). Latency = first successful read-back of all readings - end of the upload. Stops
everything with SIGINT to the process group, as Ctrl-C does.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from benchmarks.common import Figure, progress

BUCKET = "energy-platform"
TABLE = "energy_readings"
POLL_S = 0.25


def _ui_up(port: int) -> bool:
    try:
        url = f"http://127.0.0.1:{port}/server_info"
        return urllib.request.urlopen(url, timeout=2).status == 200
    except OSError:
        return False


def _wait(predicate, timeout: float, what: str, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"`energy-platform dev` exited ({proc.returncode}) before {what}")
        if predicate():
            return
        time.sleep(POLL_S)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def _file(i: int, sites: int, base: datetime) -> tuple[str, bytes, list[dict]]:
    """Key, body and the readings' keys of file i (slot base + 5 min * i)."""
    import pandas as pd

    from energy_platform.tools.simulate import (
        SimulationConfig,
        batch_key,
        encode_batch,
        generate_batch,
    )
    from energy_platform.transforms import parse_object, validate_records
    from energy_platform.transforms.serving import format_ts

    when = base + timedelta(minutes=5 * i)
    config = SimulationConfig(records=sites, sites=sites, fmt="jsonl", anomaly_rate=0.0, seed=3)
    ext, body = encode_batch(generate_batch(config, i, when), "jsonl")
    key = batch_key(when, i, ext)
    clean = validate_records(parse_object(key, body), key, 0, pd.Timestamp.now(tz="UTC")).clean
    ts = format_ts(clean["ts"])
    keys = [
        {"site_id": {"S": s}, "ts": {"S": t}} for s, t in zip(clean["site_id"], ts, strict=True)
    ]
    return key, body, keys


def run(files: int = 20, sites: int = 100) -> list[Figure]:
    import boto3

    from energy_platform.local.emulator import LOCAL_CREDENTIALS, free_port

    port = free_port()
    bench = "latency[make dev]"
    # dg dev may still be flushing its history as it exits: cleanup errors do not count
    with tempfile.TemporaryDirectory(prefix="latency-bench-", ignore_cleanup_errors=True) as tmp:
        project = Path(tmp)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_ENDPOINT_URL", "ENERGY_", "DAGSTER_HOME"))
        }
        log = (project / "dev.log").open("wb")
        progress(f"latency: starting `energy-platform dev --port {port}` in {project}")
        proc = subprocess.Popen(
            [sys.executable, "-m", "energy_platform.tools.cli", "dev", "--port", str(port)],
            cwd=project,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        latencies: list[float] = []
        try:
            _wait(lambda: _ui_up(port), 300, "the Dagster UI", proc)
            endpoint = (project / ".emulator" / "endpoint").read_text().strip()
            session = dict(
                endpoint_url=endpoint,
                region_name="us-east-1",
                **{
                    "aws_access_key_id": LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                    "aws_secret_access_key": LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
                },
            )
            s3 = boto3.client("s3", **session)
            ddb = boto3.client("dynamodb", **session)
            base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
            for i in range(files):
                key, body, keys = _file(i, sites, base)

                def served(keys=keys) -> bool:
                    for j in range(0, len(keys), 100):
                        resp = ddb.batch_get_item(
                            RequestItems={
                                TABLE: {
                                    "Keys": keys[j : j + 100],
                                    "ProjectionExpression": "site_id",
                                }
                            }
                        )
                        got = len(resp["Responses"].get(TABLE, []))
                        if got < len(keys[j : j + 100]):
                            return False
                    return True

                s3.put_object(Bucket=BUCKET, Key=key, Body=body)
                landed = time.perf_counter()
                _wait(served, 600, f"the readings of {key}", proc)
                latencies.append(time.perf_counter() - landed)
                progress(f"latency: file {i + 1}/{files} served after {latencies[-1]:.1f} s")
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGINT)
                try:
                    proc.wait(timeout=90)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
            log.close()
    ms = np.array(latencies)
    return [
        Figure(bench, "files", len(latencies), note=f"{sites} readings each, landed one by one"),
        Figure(bench, "p50 landing -> DynamoDB", round(float(np.percentile(ms, 50)), 1), "s"),
        Figure(bench, "p95 landing -> DynamoDB", round(float(np.percentile(ms, 95)), 1), "s"),
        Figure(bench, "max", round(float(ms.max()), 1), "s"),
    ]
