"""`energy-platform dev` as a new user runs it: emulator, provisioning, `dg dev` with the
sensors on; simulated batches flow to every table with no click; Ctrl-C stops everything and a
restart keeps the data and the run history together."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest
from dagster import DagsterInstance, RunsFilter

from energy_platform.local.emulator import LOCAL_CREDENTIALS, free_port, is_live

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-m", "energy_platform.tools.cli"]
TABLES = ("readings", "anomalies", "county_5min", "site_daily")


def _wait(predicate, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise AssertionError(
                f"`energy-platform dev` exited with {proc.returncode} while waiting for {what}"
            )
        if predicate():
            return
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def _ui_up(port: int) -> bool:
    try:
        return (
            urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=2).status == 200
        )
    except OSError:
        return False


def _creds() -> dict[str, str]:
    return {
        "aws_access_key_id": LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
    }


def _counts(endpoint: str) -> dict[str, int]:
    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1", **_creds())
    return {t: ddb.scan(TableName=f"energy_{t}", Select="COUNT")["Count"] for t in TABLES}


@pytest.fixture
def project_copy(tmp_path: Path) -> Path:
    """A folder of its own for the emulator's recording and Dagster's history (`dg dev` serves
    the project this package is installed from)."""
    return tmp_path


def _start(project: Path, port: int, log) -> subprocess.Popen:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AWS_ENDPOINT_URL", "ENERGY_", "DAGSTER_HOME"))
    }
    return subprocess.Popen(
        [*CLI, "dev", "--port", str(port)],
        cwd=project,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        # Ctrl-C works as in a terminal even when this suite runs in the background of a
        # non-interactive shell, whose jobs inherit SIGINT as ignored.
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C reaches the whole process group, as in a terminal
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def test_dev_runs_the_platform_end_to_end(project_copy: Path) -> None:
    port = free_port()
    log_path = project_copy / "dev.log"
    with log_path.open("wb") as log:
        proc = _start(project_copy, port, log)
        try:
            _wait(lambda: _ui_up(port), 180, "the Dagster UI", proc)
            endpoint = (project_copy / ".emulator" / "endpoint").read_text().strip()
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("AWS_ENDPOINT_URL", "ENERGY_"))
            }
            out = subprocess.run(
                [
                    *CLI,
                    "simulate",
                    "--batches",
                    "3",
                    "--seed",
                    "7",
                    "--records",
                    "300",
                    "--anomaly-rate",
                    "0.05",
                ],
                cwd=project_copy,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=True,
            )
            assert out.stdout.count("\n  s3://energy-platform/raw/") == 3
            _wait(lambda: all(_counts(endpoint).values()), 240, "all four tables to fill", proc)

            # A broken file is quarantined with its reason while the next batch still flows.
            s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **_creds())
            s3.put_object(Bucket="energy-platform", Key="raw/manual/broken.json", Body=b"{oops")
            batch = subprocess.run(
                [*CLI, "simulate", "--batches", "1", "--seed", "8"],
                cwd=project_copy,
                env=env,
                check=True,
                timeout=120,
                capture_output=True,
                text=True,
            )
            (new_key,) = [
                line.strip().removeprefix("s3://energy-platform/")
                for line in batch.stdout.splitlines()
                if line.startswith("  s3://")
            ]
            ddb = boto3.client(
                "dynamodb", endpoint_url=endpoint, region_name="us-east-1", **_creds()
            )

            def next_batch_served() -> bool:
                page = ddb.scan(
                    TableName="energy_readings",
                    FilterExpression="source_key = :k",
                    ExpressionAttributeValues={":k": {"S": new_key}},
                    Select="COUNT",
                )
                return page["Count"] > 0

            def quarantined() -> bool:
                try:
                    body = s3.get_object(
                        Bucket="energy-platform", Key="quarantine/manual/broken.json.jsonl"
                    )["Body"].read()
                except s3.exceptions.NoSuchKey:
                    return False
                return b'"reason":"unparseable_file"' in body

            _wait(quarantined, 120, "the broken file in quarantine/", proc)
            _wait(next_batch_served, 120, "the next batch's readings in the readings table", proc)

            def settled() -> bool:
                """Nothing staged and the tables unchanged for a few seconds (runs done)."""
                staged = s3.list_objects_v2(Bucket="energy-platform", Prefix="staging/")
                before = _counts(endpoint)
                time.sleep(3)
                return "Contents" not in staged and _counts(endpoint) == before

            _wait(settled, 120, "the runs to finish", proc)
            counts = _counts(endpoint)
        finally:
            _stop(proc)
        assert not is_live(endpoint), "the emulator kept running after Ctrl-C"

        # Restart: the emulator's data and Dagster's run history come back together.
        proc = _start(project_copy, port, log)
        try:
            _wait(lambda: _ui_up(port), 180, "the Dagster UI after a restart", proc)
            endpoint = (project_copy / ".emulator" / "endpoint").read_text().strip()
            assert _counts(endpoint)["readings"] == counts["readings"]
            with DagsterInstance.from_config(str(project_copy / ".dagster_home")) as instance:
                assert instance.get_runs_count(RunsFilter(job_name="daily_job")) > 0
        finally:
            _stop(proc)
