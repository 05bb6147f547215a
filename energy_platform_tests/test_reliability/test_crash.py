"""Crash safety: a run SIGKILLed in the middle of its writes, then run again, leaves exactly the
outputs of a run that was never interrupted — nothing doubled, nothing missing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from dagster import instance_for_test

from energy_platform import contract as c
from energy_platform.defs.partitions import day_shard_key
from energy_platform.settings import Settings
from energy_platform.tools.cli import main as cli
from energy_platform.tools.provision import provision
from energy_platform.transforms.shards import site_shards
from energy_platform_tests.harness import (
    DrainStats,
    drain,
    ingest_tick,
    platform_defs,
    run_ingest,
)
from energy_platform_tests.lake_view import LakeView
from energy_platform_tests.test_reliability.support import day, jsonl, readings

pytestmark = pytest.mark.slow

READY_TIMEOUT_S = 90
RUNNER = "energy_platform_tests.test_reliability.crash_runner"


def _files() -> list[tuple[str, bytes]]:
    """Two files landing one after the other: the second fixes a negative value (an anomaly
    vanishes: DynamoDB deletes), changes some readings (updates) and adds a site (inserts)."""
    d1 = day(1)
    first = readings(d1, ["s1", "s2", "s3", "s4"], 6)
    first[0]["energy_generated_kwh"] = -3.0
    second = [dict(first[0], energy_generated_kwh=2.0)]
    second += [dict(r, energy_consumed_kwh=0.25) for r in first[6:9]]
    second += readings(d1, ["s5"], 6, county="Pima")
    return [("raw/crash/first.jsonl", jsonl(first)), ("raw/crash/second.jsonl", jsonl(second))]


@pytest.fixture(scope="module")
def reference(emulator: str) -> Iterator[dict[str, object]]:
    """The outputs of the same two files processed without interruption, in a namespace of its own."""
    settings = Settings.from_env(
        {**os.environ, "ENERGY_BUCKET": "energy-crash-ref", "ENERGY_TABLE_PREFIX": "crashref_"}
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENERGY_BUCKET", settings.bucket)
        mp.setenv("ENERGY_TABLE_PREFIX", settings.table_prefix)
        provision(settings)
        lake = LakeView(settings)
        with instance_for_test() as instance:
            for key, body in _files():
                lake.put(key, body)
                assert drain(instance).failed_runs == 0
        yield lake.outputs()


def _run_until_hang(tmp_path: Path, args: list[str]) -> subprocess.Popen:
    """Start the crash runner; return once it reports it is at its hang point."""
    ready = tmp_path / "ready"
    ready.unlink(missing_ok=True)
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", RUNNER, *args, "--ready-file", str(ready)],
        env={**os.environ, "DAGSTER_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not ready.exists():
        if proc.poll() is not None:
            out = proc.stdout.read().decode(errors="replace")[-4000:] if proc.stdout else ""
            raise AssertionError(
                f"crash runner exited ({proc.returncode}) before its hang point:\n{out}"
            )
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("crash runner never reached its hang point")
        time.sleep(0.1)
    return proc


def _kill(proc: subprocess.Popen) -> None:
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def _assert_equal(got: dict[str, object], want: dict[str, object]) -> None:
    assert sorted(got["objects"]) == sorted(want["objects"])
    for key, rows in want["objects"].items():
        assert got["objects"][key] == rows, key
    for table, items in want["tables"].items():
        assert got["tables"][table] == items, table


def test_daily_run_killed_mid_write_twice_then_rerun_equals_clean_run(
    platform_env: Settings, reference, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The day's run alone writes the readings here, to see it killed between its DynamoDB
    # writes and its S3 commit (the ingest run serving them first is test_serve_on_ingest's).
    monkeypatch.setenv("ENERGY_SERVE_ON_INGEST_MAX_ROWS", "0")
    lake = LakeView(platform_env)
    (first_key, first), (second_key, second) = _files()
    date = day(1).strftime("%Y-%m-%d")
    (shard,) = site_shards(pd.Series(["s5"]), platform_env.site_shards)  # the new site's
    partition = str(day_shard_key(date, shard))
    with instance_for_test() as instance:
        lake.put(first_key, first)
        assert drain(instance).failed_runs == 0
        lake.put(second_key, second)
        stats = DrainStats()
        (request,) = ingest_tick(instance, stats)
        assert run_ingest(instance, request, stats)
    readings_before = len(lake.items("readings"))

    def silver_sites() -> set[str]:
        key = c.partition_object(c.SILVER_READINGS_PREFIX, date, shard)
        return set(lake.frame(key)[c.SITE_ID]) if lake.keys(key) else set()

    # Killed after the readings' DynamoDB writes, before their S3 partition (the commit).
    _kill(
        _run_until_hang(
            tmp_path,
            ["daily_job", "--partition", partition, "--hang-before-put", c.SILVER_READINGS_PREFIX],
        )
    )
    assert len(lake.items("readings")) > readings_before  # DynamoDB has the new site ...
    assert "s5" not in silver_sites()  # ... S3 not yet
    assert lake.keys(c.staging_prefix(date, shard))  # and the batch still waits

    # Run again, killed this time after silver was committed (staging merged), before gold.
    _kill(
        _run_until_hang(
            tmp_path,
            ["daily_job", "--partition", partition, "--hang-before-put", c.GOLD_SITE_DAILY_PREFIX],
        )
    )
    assert "s5" in silver_sites()
    gold_key = c.partition_object(c.GOLD_SITE_DAILY_PREFIX, date, shard)
    gold = lake.frame(gold_key) if lake.keys(gold_key) else pd.DataFrame({c.SITE_ID: []})
    assert "s5" not in set(gold[c.SITE_ID])

    # Run the day again, as Dagster's run retry (deploy/dagster.yaml) or an operator would.
    with instance_for_test() as instance:
        rerun = (
            platform_defs()
            .resolve_job_def("daily_job")
            .execute_in_process(partition_key=partition, instance=instance, raise_on_error=False)
        )
        assert rerun.success
        assert [e for e in rerun.get_asset_check_evaluations() if not e.passed] == []
        assert drain(instance).failed_runs == 0
    _assert_equal(lake.outputs(), reference)
    assert lake.keys("staging/") == []


def test_ingest_run_killed_before_its_ledger_write_then_replayed_equals_clean_run(
    platform_env: Settings, reference, tmp_path: Path
) -> None:
    lake = LakeView(platform_env)
    (first_key, first), (second_key, second) = _files()
    with instance_for_test() as instance:
        lake.put(first_key, first)
        assert drain(instance).failed_runs == 0
        lake.put(second_key, second)
        (request,) = ingest_tick(instance, DrainStats())

    proc = _run_until_hang(
        tmp_path,
        ["ingest_job", "--run-config", json.dumps(request.run_config), "--hang-at-ledger"],
    )
    _kill(proc)
    # Staged and quarantined, but not in the ledger: the file counts as not processed.
    assert lake.keys(c.STAGING_READINGS_PREFIX)
    assert {i[c.SOURCE_KEY] for i in lake.items(c.INGESTED_FILES_TABLE)} == {first_key}

    result = CliRunner().invoke(cli, ["replay", "--missing"], catch_exceptions=False)
    assert result.exit_code == 0 and second_key in result.output, result.output
    with instance_for_test() as instance:
        again = drain(instance)
    assert again.failed_runs == 0 and again.failed_checks == []
    _assert_equal(lake.outputs(), reference)
    assert {i[c.SOURCE_KEY] for i in lake.items(c.INGESTED_FILES_TABLE)} == {first_key, second_key}
    assert lake.keys("staging/") == []
