"""Transient AWS faults change nothing: the same input through a fault-free platform and through
one whose every AWS call passes a fault-injecting proxy gives equal outputs."""

from __future__ import annotations

import gzip
import json

import pytest
from dagster import instance_for_test

from energy_platform_tests.faultproxy import FaultPlan, FaultProxy
from energy_platform_tests.harness import drain
from energy_platform_tests.lake_view import LakeView
from energy_platform_tests.namespaces import fresh_namespace, use_namespace
from energy_platform_tests.test_reliability.support import (
    day,
    jsonl,
    readings,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]


def _inputs() -> dict[str, bytes]:
    d1 = day(1)  # one day: a day's run costs seconds, and one shows the point
    a = readings(d1, [f"s{i}" for i in range(8)], 12, county="Kern")
    a[3]["energy_generated_kwh"] = -2.0
    a[20]["anomaly_score"] = 0.9
    b = readings(d1, [f"k{i}" for i in range(8)], 10, county="King")
    b[5]["energy_consumed_kwh"] = 3000.0
    redelivered = [dict(r, energy_generated_kwh=7.5) for r in a[:10]]
    invalid = [
        {"site_id": "bad id!", "timestamp": a[0]["timestamp"], "energy_generated_kwh": 1},
        {"site_id": "s1", "timestamp": "soon", "energy_generated_kwh": 1, "energy_consumed_kwh": 1},
    ]
    files = {
        "raw/f/a.jsonl": jsonl(a + invalid),
        "raw/f/b.json.gz": gzip.compress(json.dumps(b).encode()),
        "raw/f/c.jsonl": jsonl(redelivered),
        "raw/f/broken.json": b"[{",
    }
    for n in range(6):  # several small files: several runs, many small requests
        files[f"raw/f/small-{n}.jsonl"] = jsonl(readings(d1, [f"x{n}"], 5, county="Pima"))
    return files


def test_transient_aws_faults_leave_outputs_equal_to_a_fault_free_run(
    platform_env, emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _inputs()
    clean_ns = platform_env
    faulty_ns = fresh_namespace(monkeypatch)
    clean, faulty = LakeView(clean_ns, emulator), LakeView(faulty_ns, emulator)
    for view in (clean, faulty):  # straight to the emulator: it emits the S3 events
        for key, body in files.items():
            view.put(key, body)

    use_namespace(monkeypatch, clean_ns)
    with instance_for_test() as instance:
        clean_stats = drain(instance)
    assert clean_stats.failed_runs == 0

    plan = FaultPlan(fault_rate=0.15, slow_rate=0.05, seed=20240603)
    with FaultProxy(emulator, plan) as proxy:
        use_namespace(monkeypatch, faulty_ns)
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        with instance_for_test() as instance:
            faulty_stats = drain(instance)
        monkeypatch.setenv("AWS_ENDPOINT_URL", emulator)

    injected = dict(plan.injected)
    assert sum(n for kind, n in injected.items() if kind != "slow") >= 8, injected
    assert {"slow_down", "throttling", "throughput_exceeded", "reset"} <= set(injected), injected
    assert faulty_stats.failed_runs == 0, injected
    assert faulty_stats.failed_checks == []
    assert len(faulty_stats.daily_runs) == len(clean_stats.daily_runs)

    want, got = clean.outputs(), faulty.outputs()
    assert sorted(got["objects"]) == sorted(want["objects"])
    for key in want["objects"]:
        assert got["objects"][key] == want["objects"][key], key
    for table in want["tables"]:
        assert got["tables"][table] == want["tables"][table], table
    assert len(want["tables"]["readings"]) > 100
    # Every file processed once in each, nothing waiting.
    assert len(faulty.items("ingested_files")) == len(clean.items("ingested_files")) == len(files)
    assert faulty.keys("staging/") == []
