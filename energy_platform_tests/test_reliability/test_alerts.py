"""Alerts on SNS `{prefix}alerts`, read back through an SQS queue subscribed to the topic:
one anomaly summary per day's county run (summing its shard runs' findings), one message per failed check, one per failed run of any job
(each with a link to the run in the UI); a failed ingest run's files reach the dead-letter queue
and `energy-platform replay` brings them back."""

from __future__ import annotations

import io
from collections import Counter

import boto3
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from dagster import (
    DagsterInstance,
    Definitions,
    build_run_status_sensor_context,
    build_sensor_context,
    instance_for_test,
)

from energy_platform import contract as c
from energy_platform.contract import prefixed
from energy_platform.defs.assets import keys
from energy_platform.defs.partitions import day_shard_key
from energy_platform.defs.sensors import run_failure_alert_sensor
from energy_platform.settings import WEBSERVER_URL_ENV, Settings, get_settings
from energy_platform.tools.cli import main as cli
from energy_platform.tools.provision import provision
from energy_platform.transforms.shards import site_shards
from energy_platform_tests.harness import DrainStats, drain, ingest_tick, platform_defs, run_ingest
from energy_platform_tests.lake_view import LakeView
from energy_platform_tests.test_reliability.support import (
    AlertInbox,
    day,
    jsonl,
    readings,
)

pytestmark = pytest.mark.slow

UI = "https://dagster.example.org/"
"""DAGSTER_WEBSERVER_URL in these tests (the trailing slash is not doubled in links)."""


@pytest.fixture(autouse=True)
def _webserver_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WEBSERVER_URL_ENV, UI)


def _run_url(run_id: str) -> str:
    return f"https://dagster.example.org/runs/{run_id}"


def _kinds(alerts: list[dict]) -> list[str]:
    return sorted(a["kind"] for a in alerts)


def test_one_anomaly_summary_per_daily_run_with_anomalies(platform_env: Settings) -> None:
    lake, inbox = LakeView(platform_env), AlertInbox(platform_env)
    d1, d2 = day(1), day(2)
    anomalous = readings(d1, ["s1", "s2", "s3", "s4"], 6)
    anomalous[0]["energy_generated_kwh"] = -4.0  # s1: negative_value
    anomalous[1]["energy_consumed_kwh"] = -1.0  # s1: negative_value
    anomalous[6]["energy_generated_kwh"] = 2500.0  # s2: out_of_range ...
    anomalous[6]["anomaly_score"] = 0.95  # ... and device_flagged on the same reading
    anomalous[13]["anomaly_score"] = 0.7  # s3: device_flagged
    clean = readings(d2, ["s1", "s2"], 4)
    lake.put("raw/a/mixed.jsonl", jsonl(anomalous + clean))

    with instance_for_test() as instance:
        stats = drain(instance)
    assert stats.failed_runs == 0 and stats.failed_checks == []
    assert stats.days_merged == sorted(d.strftime("%Y-%m-%d") for d in (d1, d2))

    alerts = inbox.new()
    assert _kinds(alerts) == ["batch_anomalies"], alerts  # one message, not one per reading
    (summary,) = alerts
    date = d1.strftime("%Y-%m-%d")
    assert summary["_attribute"] == "batch_anomalies"
    assert summary["date"] == date
    silver = lake.parquet(c.day_prefix(c.SILVER_ANOMALIES_PREFIX, date))  # every shard
    assert summary["anomalies"] == len(silver)
    assert summary["by_type"] == dict(Counter(silver[c.ANOMALY_TYPE]))
    for kind, at_least in (("negative_value", 2), ("out_of_range", 1), ("device_flagged", 2)):
        assert summary["by_type"].get(kind, 0) >= at_least
    per_site = Counter(silver[c.SITE_ID])
    worst = summary["worst_sites"]
    assert worst[0]["anomalies"] == max(per_site.values())
    assert {w["site_id"]: w["anomalies"] for w in worst} == {
        w["site_id"]: per_site[w["site_id"]] for w in worst
    }
    assert [w["anomalies"] for w in worst] == sorted((w["anomalies"] for w in worst), reverse=True)


def _corrupt_partition(lake: LakeView, key: str) -> None:
    """Rewrite a gold object with one count off by one (what a bad writer would leave)."""
    table = pq.read_table(io.BytesIO(lake.get(key)))
    counts = table.column(c.READING_COUNT).to_pylist()
    counts[0] += 1
    table = table.set_column(
        table.schema.get_field_index(c.READING_COUNT), c.READING_COUNT, pa.array(counts, pa.int64())
    )
    buf = io.BytesIO()
    pq.write_table(table, buf)
    lake.put(key, buf.getvalue())


def test_each_failed_check_sends_one_check_failed_alert(platform_env: Settings) -> None:
    lake, inbox = LakeView(platform_env), AlertInbox(platform_env)
    d1 = day(1)
    date = d1.strftime("%Y-%m-%d")
    lake.put("raw/b/day.jsonl", jsonl(readings(d1, ["s1", "s2"], 4)))
    with instance_for_test() as instance:
        defs = platform_defs()
        stats = drain(instance, defs=defs)
        assert stats.failed_checks == []
        assert inbox.new() == []

        (shard,) = site_shards(pd.Series(["s1"]), get_settings().site_shards)
        _corrupt_partition(lake, c.partition_object(c.GOLD_SITE_DAILY_PREFIX, date, shard))
        _corrupt_partition(lake, c.partition_object(c.GOLD_COUNTY_5MIN_PREFIX, date))
        # Only the gold checks (the whole runs would first rebuild gold, healing it): the site
        # days' in s1's shard run, the county windows' in the day's county run.
        check_stats = DrainStats()
        runs = {}
        for job, partition, asset, check in (
            (
                "daily_job",
                day_shard_key(date, shard),
                "site_daily_aggregates",
                "site_daily_reconciles",
            ),
            ("county_job", date, "county_5min_aggregates", "county_5min_reconciles"),
        ):
            result = defs.resolve_job_def(job).execute_in_process(
                partition_key=partition,
                instance=instance,
                op_selection=[f"{asset}_{check}"],
                raise_on_error=False,
            )
            check_stats.record(result)
            runs[check] = (str(partition), result.run_id)
    assert sorted(name for _, name, _ in check_stats.failed_checks) == [
        "county_5min_reconciles",
        "site_daily_reconciles",
    ]
    alerts = inbox.new()
    assert _kinds(alerts) == ["check_failed", "check_failed"]
    by_check = {a["check"]: a for a in alerts}
    assert set(by_check) == {"county_5min_reconciles", "site_daily_reconciles"}
    for check, asset in (
        ("county_5min_reconciles", "county_5min_aggregates"),
        ("site_daily_reconciles", "site_daily_aggregates"),
    ):
        a = by_check[check]
        partition, run_id = runs[check]
        assert a["_attribute"] == "check_failed"
        assert (a["asset"], a["partition"], a["run_id"]) == (asset, partition, run_id)
        assert a["run_url"] == _run_url(run_id)
        assert "differ" in a["description"]


def test_failed_ingest_run_alerts_dead_letters_and_replay_recovers(
    platform_env: Settings,
) -> None:
    lake, inbox = LakeView(platform_env), AlertInbox(platform_env)
    d1 = day(1)
    records = readings(d1, ["s1", "s2", "s3"], 3)
    key = "raw/c/batch.jsonl"
    lake.put(key, jsonl(records))
    ddb = boto3.client("dynamodb", region_name=platform_env.region)
    ledger_table = prefixed(platform_env.table_prefix, c.INGESTED_FILES_TABLE)

    with instance_for_test() as instance:
        defs = platform_defs()
        stats = DrainStats()
        (request,) = ingest_tick(instance, stats, defs)
        # The ledger table vanishes (a bad deploy, say): the run fails after its retries.
        ddb.delete_table(TableName=ledger_table)
        assert not run_ingest(instance, request, stats, defs)
        (failed,) = [r for r in instance.get_runs() if r.job_name == "ingest_job"]
        failure_event = next(
            e.dagster_event
            for e in instance.all_logs(failed.run_id)
            if e.dagster_event and e.dagster_event.event_type_value == "PIPELINE_FAILURE"
        )
        context = build_run_status_sensor_context(
            sensor_name=run_failure_alert_sensor.name,
            dagster_event=failure_event,
            dagster_instance=instance,
            dagster_run=failed,
            resources=defs.resources,
        ).for_run_failure()
        run_failure_alert_sensor(context)

        alerts = inbox.new()
        assert _kinds(alerts) == ["run_failed"]
        (alert,) = alerts
        assert alert["_attribute"] == "run_failed"
        assert (alert["job"], alert["run_id"]) == ("ingest_job", failed.run_id)
        assert alert["run_url"] == _run_url(failed.run_id)
        assert alert["dead_lettered_files"] == [key]
        assert alert["error"]
        (dead,) = lake.queue_bodies(c.DEAD_LETTERS_QUEUE)
        assert (dead["key"], dead["run_id"]) == (key, failed.run_id)

        provision(platform_env)  # the cause is fixed
        runner = CliRunner()
        dry = runner.invoke(cli, ["replay", "--dry-run"], catch_exceptions=False)
        assert dry.exit_code == 0, dry.output
        assert key in dry.output and "1 objects would be re-processed" in dry.output
        assert len(lake.queue_bodies(c.DEAD_LETTERS_QUEUE)) == 1  # a dry run changes nothing

        real = runner.invoke(cli, ["replay"], catch_exceptions=False)
        assert real.exit_code == 0, real.output
        assert "1 objects queued for re-processing" in real.output
        assert lake.queue_bodies(c.DEAD_LETTERS_QUEUE) == []

        after = drain(instance, defs=defs)
    assert after.failed_runs == 0 and after.failed_checks == []
    assert [o["key"] for r in after.ingest_runs for o in _objects(r)] == [key]
    (entry,) = lake.items(c.INGESTED_FILES_TABLE)
    assert (entry[c.SOURCE_KEY], int(entry["cleaned"])) == (key, len(records))
    silver = lake.parquet(c.SILVER_READINGS_PREFIX)
    assert sorted(zip(silver[c.SITE_ID], silver[c.TS].dt.strftime(c.TS_FORMAT), strict=True)) == (
        sorted((r["site_id"], r["timestamp"]) for r in records)
    )
    assert len(lake.items("readings")) == len(records)
    assert lake.keys("staging/") == []
    assert [a["kind"] for a in inbox.new()] == []


def _objects(request) -> list[dict]:
    return request.run_config["ops"]["ingest_raw_files"]["config"]["objects"]


def _failure_sensor_tick(instance: DagsterInstance, defs: Definitions, cursor: str | None) -> str:
    """One tick of the real run_failure_alert_sensor, job filter included, as the daemon runs it."""
    context = build_sensor_context(
        instance=instance,
        cursor=cursor,
        resources=defs.resources,
        repository_def=defs.get_repository_def(),
    )
    data = defs.resolve_sensor_def("run_failure_alert_sensor").evaluate_tick(context)
    assert data.cursor
    return data.cursor


def test_every_failed_run_alerts_with_a_link_to_it(
    platform_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox = AlertInbox(platform_env)
    monkeypatch.setenv("ENERGY_BUCKET", f"{platform_env.bucket}-gone")  # S3 calls fail
    defs = platform_defs()
    with instance_for_test() as instance:
        cursor = _failure_sensor_tick(instance, defs, None)  # starts from now
        simulator = defs.resolve_job_def("simulator_job").execute_in_process(
            instance=instance, raise_on_error=False
        )
        # The report's run as the automation sensor launches it: the global asset job.
        report = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, asset_selection=[keys.ENERGY_REPORT], raise_on_error=False
        )
        assert not simulator.success and not report.success
        _failure_sensor_tick(instance, defs, cursor)

    alerts = {a["run_id"]: a for a in inbox.new()}
    assert set(alerts) == {simulator.run_id, report.run_id}
    assert alerts[simulator.run_id]["job"] == "simulator_job"
    assert alerts[report.run_id]["assets"] == ["energy_report"]
    for run_id, alert in alerts.items():
        assert (alert["kind"], alert["run_url"]) == ("run_failed", _run_url(run_id))
        assert alert["error"] and alert["dead_lettered_files"] == []
