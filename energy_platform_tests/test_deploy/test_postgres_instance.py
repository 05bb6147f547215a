"""deploy/dagster.yaml's storage really works: the pipeline's run history lands in Postgres.

The instance is built from deploy/dagster.yaml itself with only the run launcher replaced
(no ECS here), so this checks the production storage, coordinator and monitoring config; the
real sensors and jobs (ingest_job, daily_job) run through it on files landed in the emulator.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import psycopg2
import pytest
import yaml
from dagster import (
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    RunsFilter,
    asset,
    materialize,
)
from dagster._config import process_config
from dagster._core.launcher import DefaultRunLauncher
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_aws.ecs import EcsRunLauncher
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage

from energy_platform.defs.jobs import DAY_RUN_TAG
from energy_platform.resources.clients import aws_client
from energy_platform.settings import Settings
from energy_platform_tests.harness import drain, platform_defs
from energy_platform_tests.test_deploy.postgres import PostgresCluster, ensure_postgres_installed

REPO = Path(__file__).resolve().parents[2]
PRODUCTION_INSTANCE = REPO / "deploy" / "dagster.yaml"
LOCAL_INSTANCE = REPO / "energy_platform" / "local" / "dagster.yaml"
DB_NAME = "dagster"
LOCAL_RUN_LAUNCHER = {"module": "dagster._core.launcher", "class": "DefaultRunLauncher"}
DAY, LATE_DAY = "2024-06-01", "2024-05-31"


def _reading(site: str, ts: str, generated: float, consumed: float = 1.0) -> dict:
    return {
        "site_id": site,
        "timestamp": ts,
        "energy_generated_kwh": generated,
        "energy_consumed_kwh": consumed,
        "county": "Doña Ana" if site == "site-a" else "O'Brien",
    }


def land_two_files(settings: Settings) -> int:
    """A JSON-lines file of DAY (one invalid record) and a CSV with late data of LATE_DAY;
    returns the number of valid readings."""
    s3 = boto3.client("s3", region_name=settings.region)
    valid = 0
    lines = []
    for site in ("site-a", "site-b"):
        for k in range(12):
            lines.append(_reading(site, f"{DAY}T10:{5 * k:02d}:00Z", 2.0 + 0.1 * k))
    valid += len(lines)
    lines.append({"site_id": "site-a", "timestamp": f"{DAY}T11:00:00Z"})  # missing values
    body = "".join(json.dumps(r) + "\n" for r in lines).encode()
    s3.put_object(Bucket=settings.bucket, Key="raw/deploy-test/day.jsonl", Body=body)
    rows = ["site_id,timestamp,energy_generated_kwh,energy_consumed_kwh,county"]
    for k in range(6):
        rows.append(f"site-b,{LATE_DAY}T09:{5 * k:02d}:00Z,{1.5 + 0.1 * k},0.5,King")
    valid += 6
    body = ("\n".join(rows) + "\n").encode()
    s3.put_object(Bucket=settings.bucket, Key="raw/deploy-test/late.csv", Body=body)
    return valid


@asset
def deploy_smoke_asset() -> int:
    """A one-row asset, to see asset materializations stored in Postgres."""
    return 1


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresCluster]:
    cluster = PostgresCluster(bin_dir=ensure_postgres_installed()).start()
    try:
        cluster.create_database(DB_NAME)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def production_instance(
    postgres: PostgresCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[DagsterInstance]:
    """deploy/dagster.yaml with the local run launcher, its env vars pointing at `postgres`."""
    config = yaml.safe_load(PRODUCTION_INSTANCE.read_text())
    config["run_launcher"] = LOCAL_RUN_LAUNCHER
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    for name, value in {
        "DAGSTER_PG_HOST": postgres.host,
        "DAGSTER_PG_PORT": str(postgres.port),
        "DAGSTER_PG_USER": postgres.user,
        "DAGSTER_PG_PASSWORD": postgres.password,
        "DAGSTER_PG_DB": DB_NAME,
    }.items():
        monkeypatch.setenv(name, value)
    instance = DagsterInstance.from_config(str(tmp_path))
    try:
        yield instance
    finally:
        instance.dispose()


def test_production_instance_keeps_runs_events_and_schedules_in_postgres(
    production_instance: DagsterInstance,
) -> None:
    assert isinstance(production_instance.run_storage, PostgresRunStorage)
    assert isinstance(production_instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(production_instance.schedule_storage, PostgresScheduleStorage)
    assert isinstance(production_instance.run_launcher, DefaultRunLauncher)
    assert production_instance.run_monitoring_enabled


DAY_JOBS = ("daily_job", "county_job", "analytics_job")


def test_production_instance_runs_one_day_partition_at_a_time(
    production_instance: DagsterInstance,
) -> None:
    """Same per-partition limit as the local instance (energy_platform/local/dagster.yaml); the
    local one also lets one day run go at a time (a laptop's cores), production does not (each
    run its own ECS task). Day jobs carry the tag the local limit counts, ingest runs jump the
    queue in both."""
    coordinator = production_instance.run_coordinator
    assert isinstance(coordinator, QueuedRunCoordinator)
    local = yaml.safe_load(LOCAL_INSTANCE.read_text())["run_coordinator"]["config"]
    limits = coordinator.get_run_queue_config().tag_concurrency_limits
    per_partition = {
        "key": "dagster/partition",
        "value": {"applyLimitPerUniqueValue": True},
        "limit": 1,
    }
    assert limits == [per_partition]
    assert local["tag_concurrency_limits"] == [per_partition, {"key": DAY_RUN_TAG, "limit": 1}]
    defs = platform_defs()
    for job in DAY_JOBS:
        assert defs.resolve_job_def(job).tags[DAY_RUN_TAG] == "true"
    assert int(defs.resolve_job_def("ingest_job").tags["dagster/priority"]) > 0


def test_pipeline_run_history_on_the_emulator_is_in_postgres(
    production_instance: DagsterInstance, platform_env: Settings, postgres: PostgresCluster
) -> None:
    """Files land under raw/; the real sensors and runs drain them through the Postgres-backed
    instance: runs, asset materializations (by day partition) and check evaluations land there."""
    valid = land_two_files(platform_env)
    stats = drain(production_instance)
    assert stats.failed_runs == 0
    assert stats.failed_checks == []
    assert len(stats.ingest_runs) >= 1
    assert stats.days_merged == [LATE_DAY, DAY]

    # --- through the instance
    ingest = production_instance.get_runs(RunsFilter(job_name="ingest_job"))
    daily = [r for job in DAY_JOBS for r in production_instance.get_runs(RunsFilter(job_name=job))]
    assert len(ingest) == len(stats.ingest_runs)
    assert {r.status for r in ingest + daily} == {DagsterRunStatus.SUCCESS}
    partitions = sorted(stats.daily_runs)  # day|shard, but the day of county_job
    assert sorted(r.tags["dagster/partition"] for r in daily) == partitions
    assert sorted(stats.partitions_of("county_job")) == [LATE_DAY, DAY]
    assert sorted(stats.partitions_of("analytics_job")) == sorted(stats.partitions_of("daily_job"))
    ingest_ids = {r.run_id for r in ingest}
    daily_ids = {r.run_id for r in daily}
    for run_id in ingest_ids | daily_ids:
        record = production_instance.get_run_record_by_id(run_id)
        assert record is not None and record.dagster_run.status == DagsterRunStatus.SUCCESS

    staged = production_instance.fetch_materializations(
        AssetKey("staged_readings"), limit=10
    ).records
    assert {r.run_id for r in staged} == ingest_ids
    touched = set()
    for r in staged:
        meta = r.asset_materialization.metadata
        touched |= set(meta["partitions_touched"].value)
    assert touched == {LATE_DAY, DAY}
    assert sum(r.asset_materialization.metadata["records_cleaned"].value for r in staged) == valid
    assert sum(r.asset_materialization.metadata["records_quarantined"].value for r in staged) == 1
    shards = sorted(stats.partitions_of("daily_job"))
    for key, expected in (
        ("cleaned_readings", shards),
        ("site_daily_aggregates", shards),
        ("county_5min_aggregates", [LATE_DAY, DAY]),
    ):
        records = production_instance.fetch_materializations(AssetKey(key), limit=100).records
        assert sorted(r.partition_key for r in records) == expected, key
        assert {r.run_id for r in records} <= daily_ids, key
        status = production_instance.get_materialized_partitions(AssetKey(key))
        assert sorted(status) == expected, key
    evaluations = [
        e
        for run_id in ingest_ids | daily_ids
        for e in production_instance.all_logs(
            run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
        )
    ]
    assert len(evaluations) == len(stats.check_results) > 0
    assert all(e.dagster_event.event_specific_data.passed for e in evaluations)

    # --- the same history read straight from Postgres
    all_ids = list(ingest_ids | daily_ids)
    with psycopg2.connect(postgres.dsn(DB_NAME)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT pipeline_name, status, count(*) FROM runs WHERE run_id = ANY(%s) "
            "GROUP BY 1, 2 ORDER BY 1",
            (all_ids,),
        )
        assert cur.fetchall() == [
            ("analytics_job", "SUCCESS", len(shards)),
            ("county_job", "SUCCESS", 2),
            ("daily_job", "SUCCESS", len(shards)),
            ("ingest_job", "SUCCESS", len(ingest_ids)),
        ]
        cur.execute(
            "SELECT value FROM run_tags WHERE key = 'dagster/partition' AND run_id = ANY(%s) "
            "ORDER BY value",
            (all_ids,),
        )
        assert sorted(cur.fetchall()) == [(p,) for p in partitions]
        cur.execute(
            "SELECT asset_key, partition, count(*) FROM event_logs "
            "WHERE dagster_event_type = %s AND run_id = ANY(%s) GROUP BY 1, 2",
            (DagsterEventType.ASSET_MATERIALIZATION.value, all_ids),
        )
        materialized = {(json.loads(k)[0], p): n for k, p, n in cur.fetchall()}
        assert materialized[("staged_readings", None)] == len(ingest_ids)
        for key in ("cleaned_readings", "site_daily_aggregates"):
            assert [materialized[(key, p)] for p in shards] == [1] * len(shards), key
        assert materialized[("county_5min_aggregates", DAY)] == 1
        assert materialized[("county_5min_aggregates", LATE_DAY)] == 1
        # Every planned check resolved: the day checks are partitioned like their assets.
        cur.execute(
            "SELECT check_name, execution_status, count(*) FROM asset_check_executions "
            "WHERE run_id = ANY(%s) GROUP BY 1, 2",
            (all_ids,),
        )
        checks = {(name, status): n for name, status, n in cur.fetchall()}
        assert {status for _, status in checks} == {"SUCCEEDED"}
        assert sum(checks.values()) == len(stats.check_results)
        assert checks[("accounting_per_file", "SUCCEEDED")] == len(ingest_ids)
        assert checks[("county_5min_reconciles", "SUCCEEDED")] == 2  # a day each
        for name in ("site_daily_reconciles", "county_5min_partials_reconcile", "values_in_range"):
            assert checks[(name, "SUCCEEDED")] == len(shards), name


def test_asset_materializations_are_in_postgres(
    production_instance: DagsterInstance, postgres: PostgresCluster
) -> None:
    result = materialize([deploy_smoke_asset], instance=production_instance)
    assert result.success
    records = production_instance.fetch_materializations(deploy_smoke_asset.key, limit=10).records
    assert [r.run_id for r in records] == [result.run_id]
    with psycopg2.connect(postgres.dsn(DB_NAME)) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = %s",
            (result.run_id, DagsterEventType.ASSET_MATERIALIZATION.value),
        )
        assert cur.fetchone()[0] == 1


def test_production_run_launcher_starts_runs_from_the_run_task_definition(
    emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The EcsRunLauncher accepts the config and finds its container in the task definition."""
    family = f"energy-run-{uuid.uuid4().hex[:8]}"
    aws_client("ecs", "us-east-1").register_task_definition(
        family=family,
        containerDefinitions=[{"name": "run", "image": "energy-platform:test", "memory": 512}],
    )
    monkeypatch.setenv("DAGSTER_ECS_RUN_TASK_DEFINITION", family)
    launcher = yaml.safe_load(PRODUCTION_INSTANCE.read_text())["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")
    result = process_config(EcsRunLauncher.config_type(), launcher["config"])
    assert result.success, [e.message for e in result.errors or []]
    # The constructor resolves the task definition on ECS (here moto) and checks the container.
    ecs_launcher = EcsRunLauncher(**result.value)
    assert ecs_launcher.task_definition.endswith(f":task-definition/{family}:1")
    assert ecs_launcher.container_name == "run"
    assert ecs_launcher.secrets_tags == []
