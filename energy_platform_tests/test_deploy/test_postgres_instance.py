"""deploy/dagster.yaml's storage really works: a run's history lands in Postgres.

The instance is built from deploy/dagster.yaml itself with only the run launcher replaced
(no ECS here), so this checks the production storage, coordinator and monitoring config.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import yaml
from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    JobDefinition,
    asset,
    job,
    materialize,
    op,
)
from dagster._config import process_config
from dagster._core.launcher import DefaultRunLauncher
from dagster._core.run_coordinator import QueuedRunCoordinator
from dagster_aws.ecs import EcsRunLauncher
from dagster_postgres.event_log import PostgresEventLogStorage
from dagster_postgres.run_storage import PostgresRunStorage
from dagster_postgres.schedule_storage import PostgresScheduleStorage

from energy_platform.contract import RAW_PREFIX
from energy_platform.resources.clients import aws_client
from energy_platform.resources.s3 import LakeStorage
from energy_platform.settings import Settings
from energy_platform_tests.test_deploy.postgres import PostgresCluster, ensure_postgres_installed

REPO = Path(__file__).resolve().parents[2]
PRODUCTION_INSTANCE = REPO / "deploy" / "dagster.yaml"
LOCAL_INSTANCE = REPO / "dagster.yaml"
DB_NAME = "dagster"
LOCAL_RUN_LAUNCHER = {"module": "dagster._core.launcher", "class": "DefaultRunLauncher"}


@op
def upload_marker(lake: LakeStorage) -> str:
    """Write one object under raw/, as the simulator would."""
    key = f"{RAW_PREFIX}deploy-test/{uuid.uuid4().hex}.json"
    lake.put_bytes(key, b"[]", "application/json")
    return key


@job
def upload_marker_job() -> None:
    upload_marker()


def job_under_test() -> JobDefinition:
    """The simulator job once it exists (the lead switches this to the pipeline), else a stand-in."""
    try:
        from energy_platform.schedules import simulator_job
    except ImportError:
        return upload_marker_job
    return simulator_job


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


def test_production_instance_runs_one_day_partition_at_a_time(
    production_instance: DagsterInstance,
) -> None:
    """Same per-day limit as the local instance (./dagster.yaml), on the partition tag."""
    coordinator = production_instance.run_coordinator
    assert isinstance(coordinator, QueuedRunCoordinator)
    local = yaml.safe_load(LOCAL_INSTANCE.read_text())["run_coordinator"]["config"]
    limits = coordinator.get_run_queue_config().tag_concurrency_limits
    assert limits == local["tag_concurrency_limits"]
    assert limits == [
        {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
    ]


def test_run_history_of_a_job_on_the_emulator_is_in_postgres(
    production_instance: DagsterInstance, platform_env: Settings, postgres: PostgresCluster
) -> None:
    lake = LakeStorage(bucket=platform_env.bucket, region=platform_env.region)
    job_def = job_under_test()
    result = job_def.execute_in_process(instance=production_instance, resources={"lake": lake})
    assert result.success
    run_id = result.run_id

    record = production_instance.get_run_record_by_id(run_id)
    assert record is not None and record.dagster_run.status == DagsterRunStatus.SUCCESS
    event_types = {
        e.dagster_event.event_type for e in production_instance.all_logs(run_id) if e.dagster_event
    }
    assert {
        DagsterEventType.RUN_START,
        DagsterEventType.STEP_SUCCESS,
        DagsterEventType.RUN_SUCCESS,
    } <= event_types
    assert any(o.key.startswith(RAW_PREFIX) for o in lake.list_objects(RAW_PREFIX))

    with psycopg2.connect(postgres.dsn(DB_NAME)) as conn, conn.cursor() as cur:
        cur.execute("SELECT pipeline_name, status FROM runs WHERE run_id = %s", (run_id,))
        assert cur.fetchall() == [(job_def.name, "SUCCESS")]
        cur.execute("SELECT count(*) FROM event_logs WHERE run_id = %s", (run_id,))
        assert cur.fetchone()[0] >= 3


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
