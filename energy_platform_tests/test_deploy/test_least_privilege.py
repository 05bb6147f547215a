"""Least privilege, proved: every AWS call a real pipeline run, the Dagster services' sensors and
the query API make against a stack deployed from the template is granted by that role's policy,
and every grant of those policies is used by some call.

The calls are recorded by a proxy in front of the emulator (`CallRecorder`), under the role the
code runs as in production: runs are ECS tasks of their own (`PipelineRunRole`); sensors are
evaluated in the code location server (`DagsterServicesRole`); the API is its own ECS service
(`ApiTaskRole`). KMS grants (only with `KmsKeyArn` set) are calls AWS services make on the
caller's behalf, invisible to a proxy: the test leaves them out, and says so.
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import uuid
from typing import Any

import pytest
from dagster import DagsterInstance, instance_for_test
from dagster._core.events import DagsterEventType
from fastapi.testclient import TestClient

from energy_platform.api.app import create_app
from energy_platform.defs.assets import keys
from energy_platform.resources.clients import aws_client
from energy_platform.settings import Settings
from energy_platform_tests.callrecorder import ACCOUNT, Call, CallRecorder
from energy_platform_tests.harness import (
    DrainStats,
    day_requests,
    ingest_tick,
    platform_defs,
    run_day,
    run_ingest,
)
from energy_platform_tests.test_deploy.stack import deploy_stack


REGION = "us-east-1"
DAY = "2024-06-01"
SITES = ("site-a", "site-b")


def _readings(hour: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "site_id": site,
            "timestamp": f"{DAY}T{hour:02d}:{5 * k:02d}:00Z",
            "energy_generated_kwh": 2.0 + k / 10,
            "energy_consumed_kwh": 1.0,
            "county": "King",
        }
        for site in SITES
        for k in range(count)
    ]


def _jsonl(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def _drain(recorder: CallRecorder, instance: DagsterInstance, stats: DrainStats) -> None:
    """As the daemon would: sensor ticks in the code location, each run in a task of its own."""
    defs = platform_defs()
    for _ in range(20):
        with recorder.acting_as("services"):
            requests = ingest_tick(instance, stats, defs)
        with recorder.acting_as("pipeline"):
            for request in requests:
                assert run_ingest(instance, request, stats, defs)
        with recorder.acting_as("services"):
            days = day_requests(instance, defs)
        with recorder.acting_as("pipeline"):
            for request in days:
                assert run_day(instance, request, stats, defs)
        if not requests and not days:
            with recorder.acting_as("services"):
                ingest_tick(instance, stats, defs)
            return
    raise AssertionError("pipeline still busy after 20 rounds")


def _failed_ingest_run_alert(
    recorder: CallRecorder, instance: DagsterInstance, request_config: dict[str, Any]
) -> None:
    """A failed ingest run (its task died) and the run-failure sensor's tick about it."""
    defs = platform_defs()
    run = instance.create_run_for_job(
        job_def=defs.resolve_job_def("ingest_job"), run_config=request_config
    )
    instance.report_run_failed(run)
    event = next(
        e.dagster_event
        for e in instance.all_logs(run.run_id, of_type=DagsterEventType.RUN_FAILURE)
        if e.dagster_event
    )
    from dagster import build_run_status_sensor_context

    context = build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor",
        dagster_event=event,
        dagster_instance=instance,
        dagster_run=instance.get_run_by_id(run.run_id),
        resources=defs.resources,
    ).for_run_failure()
    with recorder.acting_as("services"):
        defs.resolve_sensor_def("run_failure_alert_sensor")(context)


def _api_calls(recorder: CallRecorder, settings: Settings) -> None:
    """Every endpoint of the API once, as its ECS service answers them."""
    span = {"start": f"{DAY}T00:00:00Z", "end": f"{DAY}T23:59:59Z"}
    with recorder.acting_as("api"), TestClient(create_app(settings, api_key="")) as client:
        for path, params in (
            ("/health", {}),
            (f"/v1/sites/{SITES[0]}/readings", span),
            (f"/v1/sites/{SITES[0]}/anomalies", span),
            ("/v1/anomalies", {"date": DAY}),
            ("/v1/counties/King/5min", span),
            (f"/v1/sites/{SITES[0]}/daily", {"start": DAY, "end": DAY}),
        ):
            response = client.get(path, params=params)
            assert response.status_code == 200, (path, response.text)


@pytest.fixture(scope="module")
def recorded(emulator: str) -> tuple[CallRecorder, dict[str, str]]:
    """A stack from the template; the platform's whole day on it, every call recorded."""
    suffix = uuid.uuid4().hex[:8]
    outputs = deploy_stack(f"energy-iam-{suffix}", f"iam{suffix}_", region=REGION)
    recorder = CallRecorder()
    s3 = aws_client("s3", REGION)
    bucket = outputs["BucketName"]
    anomalous = _readings(10, 6)
    anomalous[0]["energy_generated_kwh"] = -1.0
    late_fixed = _readings(11, 3)
    with pytest.MonkeyPatch.context() as mp, recorder.proxy(emulator) as proxy:
        mp.setenv("ENERGY_BUCKET", bucket)
        mp.setenv("ENERGY_TABLE_PREFIX", outputs["TablePrefix"])
        mp.setenv("ENERGY_FRESHNESS_MINUTES", "0")
        mp.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        settings = Settings.from_env()
        s3.put_object(Bucket=bucket, Key="raw/iam/day.jsonl.gz", Body=gzip.compress(
            _jsonl(anomalous)))
        s3.put_object(Bucket=bucket, Key="raw/iam/fixed.jsonl", Body=b'{"site_id": "x"}\n')
        with instance_for_test() as instance:
            stats = DrainStats()
            _drain(recorder, instance, stats)
            # The bad file is sent again, now clean: its stale quarantine object goes.
            s3.put_object(Bucket=bucket, Key="raw/iam/fixed.jsonl", Body=_jsonl(late_fixed))
            _drain(recorder, instance, stats)
            assert stats.failed_runs == 0
            defs = platform_defs()
            with recorder.acting_as("pipeline"):
                for job in ("freshness_job",):
                    assert defs.resolve_job_def(job).execute_in_process(instance=instance).success
                report = defs.resolve_implicit_global_asset_job_def().execute_in_process(
                    instance=instance, asset_selection=[keys.ENERGY_REPORT]
                )
                assert report.success
            _failed_ingest_run_alert(recorder, instance, stats.ingest_runs[0].run_config)
        _api_calls(recorder, settings)
    return recorder, outputs


def test_show(recorded: tuple[CallRecorder, dict[str, str]]) -> None:
    recorder, _ = recorded
    for call in sorted(recorder.calls):
        print(call)
    assert False
