"""The simulator schedule: off by default, every 5 minutes, capped; its job uploads one batch."""

from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest
from dagster import (
    DagsterInstance,
    DefaultScheduleStatus,
    Definitions,
    RunRequest,
    build_schedule_context,
    instance_for_test,
)

from energy_platform import contract as c
from energy_platform.defs.simulator import (
    DEFAULT_MAX_RUNS,
    MAX_RUNS_ENV,
    simulator_job,
    simulator_schedule,
)
from energy_platform.resources import LakeStorage
from energy_platform.settings import Settings


def evaluate(instance: DagsterInstance) -> tuple[list[RunRequest], str | None]:
    data = simulator_schedule.evaluate_tick(build_schedule_context(instance=instance))
    return list(data.run_requests or []), data.skip_message


def add_runs(instance: DagsterInstance, count: int) -> None:
    for _ in range(count):
        instance.create_run_for_job(job_def=simulator_job)


def test_schedule_is_every_five_minutes_and_stopped_by_default() -> None:
    assert simulator_schedule.cron_schedule == "*/5 * * * *"
    assert simulator_schedule.default_status == DefaultScheduleStatus.STOPPED
    assert simulator_schedule.job_name == simulator_job.name == "simulator_job"
    assert simulator_schedule.description and simulator_job.description


def test_schedule_requests_a_run_below_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(MAX_RUNS_ENV, raising=False)
    with instance_for_test() as instance:
        add_runs(instance, 3)
        requests, skipped = evaluate(instance)
    assert skipped is None
    assert len(requests) == 1
    assert requests[0].tags["simulator/max_runs"] == str(DEFAULT_MAX_RUNS)


def test_schedule_skips_once_the_cap_of_runs_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(MAX_RUNS_ENV, "3")
    with instance_for_test() as instance:
        add_runs(instance, 2)
        requests, skipped = evaluate(instance)
        assert len(requests) == 1 and skipped is None
        add_runs(instance, 1)
        requests, skipped = evaluate(instance)
    assert requests == []
    assert skipped and "3 times" in skipped and MAX_RUNS_ENV in skipped


def test_simulator_job_uploads_one_batch(platform_env: Settings) -> None:
    lake = LakeStorage()
    with instance_for_test() as instance:
        (request,), _ = evaluate(instance)
        result = simulator_job.execute_in_process(
            run_config=request.run_config, instance=instance, resources={"lake": lake}
        )
    assert result.success
    (obj,) = lake.list_objects(c.RAW_PREFIX)
    assert result.output_for_node("upload_simulated_batch") == obj.key
    body = lake.get_bytes(obj.key)
    if obj.key.endswith(".gz"):
        body = gzip.decompress(body)
    extension = obj.key.split(".", 1)[1]
    if extension == "csv":
        lines = body.decode().splitlines()[1:]
    elif extension == "jsonl":
        lines = [json.loads(line) for line in body.decode().splitlines()]
    else:
        data = json.loads(body)
        lines = data["records"] if isinstance(data, dict) else data
    assert len(lines) == 100


def test_simulator_job_plants_faults_and_refuses_a_malformed_one(platform_env: Settings) -> None:
    lake = LakeStorage()
    start = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()

    def config(fault: str) -> dict:
        return {
            "ops": {
                "upload_simulated_batch": {
                    "config": {"fmt": "jsonl", "sites": 10, "records": 10, "faults": [fault]}
                }
            }
        }

    refused = simulator_job.execute_in_process(
        run_config=config(f"melted:site-0001:{start}"),
        resources={"lake": lake},
        raise_on_error=False,
    )
    (failure,) = refused.get_step_failure_events()
    assert "not one of soiling" in failure.event_specific_data.error.to_string()
    assert list(lake.list_objects(c.RAW_PREFIX)) == []
    result = simulator_job.execute_in_process(
        run_config=config(f"dead_site:site-0001:{start}"), resources={"lake": lake}
    )
    assert result.success
    (obj,) = lake.list_objects(c.RAW_PREFIX)
    records = [json.loads(line) for line in lake.get_bytes(obj.key).decode().splitlines()]
    dead = [r for r in records if r["site_id"] == "site-0001"]
    assert dead and all(r["energy_generated_kwh"] == 0 for r in dead)


def test_definitions_with_the_schedule_load() -> None:
    defs = Definitions(
        jobs=[simulator_job], schedules=[simulator_schedule], resources={"lake": LakeStorage()}
    )
    Definitions.validate_loadable(defs)
    assert defs.resolve_schedule_def("simulator_schedule").job_name == "simulator_job"
