"""The platform's metrics: CloudWatch embedded metric format lines, from what runs report."""

from __future__ import annotations

import json

import pytest
from dagster import DagsterEventType, build_run_status_sensor_context, instance_for_test

from energy_platform.defs.metrics import failed_run_metrics_sensor, run_metrics_sensor
from energy_platform.resources import AlertNotifier
from energy_platform.resources import metrics as m
from energy_platform.settings import Settings
from energy_platform_tests.harness import DrainStats, ingest_tick, run_ingest
from energy_platform_tests.lake_view import LakeView


def _emitted(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if '"_aws": {"CloudWatchMetrics"' in line]


def test_a_line_is_an_embedded_metric_format_document() -> None:
    doc = json.loads(m.emf_line({m.READINGS_INGESTED: 3, m.RUNS_SUCCEEDED: 1}, "p_", 1700))
    (directive,) = doc["_aws"]["CloudWatchMetrics"]
    assert doc["_aws"]["Timestamp"] == 1700
    assert (directive["Namespace"], directive["Dimensions"]) == ("EnergyPlatform", [["Deployment"]])
    assert [x["Name"] for x in directive["Metrics"]] == ["ReadingsIngested", "RunsSucceeded"]
    assert (doc["Deployment"], doc["ReadingsIngested"], doc["RunsSucceeded"]) == ("p_", 3, 1)
    with pytest.raises(ValueError, match="not platform metrics"):
        m.emf_line({"Typo": 1}, "p_", 0)


def test_runs_publish_what_their_metadata_counts(
    platform_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    records = [
        {
            "site_id": "s1",
            "timestamp": f"2024-06-01T00:0{k}:00Z",
            "energy_generated_kwh": 1,
            "energy_consumed_kwh": 0.5,
        }
        for k in range(3)
    ]
    body = "".join(json.dumps(r) + "\n" for r in [*records, {"site_id": "s1"}]).encode()
    LakeView(platform_env).put("raw/metrics/a.jsonl", body)
    with instance_for_test() as instance:
        stats = DrainStats()
        (request,) = ingest_tick(instance, stats)
        assert run_ingest(instance, request, stats)
        capsys.readouterr()
        (ingest,) = [r for r in instance.get_runs() if r.job_name == "ingest_job"]
        success = next(
            e.dagster_event
            for e in instance.all_logs(ingest.run_id, of_type=DagsterEventType.RUN_SUCCESS)
        )
        run_metrics_sensor(
            build_run_status_sensor_context(
                sensor_name=run_metrics_sensor.name,
                dagster_event=success,
                dagster_instance=instance,
                dagster_run=ingest,
            )
        )
        failed_run_metrics_sensor(
            build_run_status_sensor_context(
                sensor_name=failed_run_metrics_sensor.name,
                dagster_event=success,
                dagster_instance=instance,
                dagster_run=ingest,
            ).for_run_failure()
        )
    ingested, failed = _emitted(capsys.readouterr().out)
    assert {
        k: ingested[k] for k in (m.READINGS_INGESTED, m.READINGS_QUARANTINED, m.RUNS_SUCCEEDED)
    } == {
        m.READINGS_INGESTED: 3,
        m.READINGS_QUARANTINED: 1,
        m.RUNS_SUCCEEDED: 1,
    }
    assert ingested["Deployment"] == platform_env.table_prefix
    assert failed[m.RUNS_FAILED] == 1


def test_an_anomaly_alert_counts_the_anomalies_found(
    platform_env: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    AlertNotifier().publish("batch_anomalies", "s", {"anomalies": 4})
    AlertNotifier().publish("check_failed", "s", {"anomalies": 99})
    AlertNotifier().publish("batch_anomalies", "s", {"note": "no count"})
    (line,) = _emitted(capsys.readouterr().out)
    assert line[m.ANOMALIES_FOUND] == 4
