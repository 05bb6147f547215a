"""Least privilege, proved: every AWS call a real pipeline run, the Dagster services' sensors and
the query API make against a stack deployed from the template is granted by that role's policy,
and every grant of those policies is used by some call.

The calls are recorded by a proxy in front of the emulator (`CallRecorder`), under the role the
code runs as in production: runs are ECS tasks of their own (`PipelineRunRole`); sensors are
evaluated in the code location server (`DagsterServicesRole`); the API is its own ECS service
(`ApiTaskRole`). The KMS grants (DataKeyPolicy and ApiDataKeyPolicy, only with `KmsKeyArn`
set) cover calls AWS services make on the caller's behalf, invisible to a proxy: not tested here.
"""

from __future__ import annotations

import fnmatch
import gzip
import json
import uuid
from typing import Any

import pytest
from dagster import DagsterInstance, build_run_status_sensor_context, instance_for_test
from dagster._core.events import DagsterEventType

from energy_platform.api.app import create_app
from energy_platform.contract import RAW_PREFIX
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
from energy_platform_tests.test_api.served import served
from energy_platform_tests.test_deploy.stack import deploy_stack
from energy_platform_tests.test_deploy.template import (
    ROLE_POLICIES,
    load_template,
    policy_document,
    render,
)

REGION = "us-east-1"
DAY = "2024-06-01"
SITES = ("site-a", "site-b")


def _readings(hour: int, count: int) -> list[dict[str, Any]]:
    return [
        {
            "site_id": site,
            "timestamp": f"{DAY}T{hour:02d}:{5 * k:02d}:00Z",
            "energy_generated_kwh": 2.0 + (k * 7 % 5) / 10,
            "energy_consumed_kwh": 1.0 + (k * 3 % 4) / 10,
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
            days = day_requests(instance, stats, defs)
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
    with recorder.acting_as("api"), served(create_app(settings, api_key="")) as client:
        for path, params in (
            ("/health", {}),
            (f"/v1/sites/{SITES[0]}/readings", span),
            (f"/v1/sites/{SITES[0]}/anomalies", span),
            ("/v1/anomalies", {"date": DAY}),
            ("/v1/counties/King/5min", span),
            (f"/v1/sites/{SITES[0]}/daily", {"start": DAY, "end": DAY}),
            (f"/v1/devices/{SITES[0]}/daily", {"start": DAY, "end": DAY}),
            (f"/v1/sites/{SITES[0]}/underperformance", span),
            ("/v1/underperformance", {"date": DAY}),
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
    first = _readings(10, 6)
    corrected = dict(first[0])
    first[0]["energy_generated_kwh"] = -1.0  # negative_value: an anomaly alert, silver/anomalies
    with pytest.MonkeyPatch.context() as mp, recorder.proxy(emulator) as proxy:
        mp.setenv("ENERGY_BUCKET", bucket)
        mp.setenv("ENERGY_TABLE_PREFIX", outputs["TablePrefix"])
        mp.setenv("ENERGY_FRESHNESS_MINUTES", "0")
        mp.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        settings = Settings.from_env()
        s3.put_object(Bucket=bucket, Key="raw/iam/day.jsonl.gz", Body=gzip.compress(_jsonl(first)))
        s3.put_object(Bucket=bucket, Key="raw/iam/fixed.jsonl", Body=b'{"site_id": "x"}\n')
        with instance_for_test() as instance:
            stats = DrainStats()
            _drain(recorder, instance, stats)
            # The bad file is sent again, clean and correcting the anomalous reading: its stale
            # quarantine object goes, and so does the day's only anomaly (silver and DynamoDB).
            s3.put_object(Bucket=bucket, Key="raw/iam/fixed.jsonl", Body=_jsonl([corrected]))
            _drain(recorder, instance, stats)
            assert stats.failed_runs == 0
            defs = platform_defs()
            with recorder.acting_as("pipeline"):
                freshness = defs.resolve_job_def("freshness_job")
                assert freshness.execute_in_process(instance=instance).success
                report = defs.resolve_implicit_global_asset_job_def().execute_in_process(
                    instance=instance, asset_selection=[keys.ENERGY_REPORT]
                )
                assert report.success
            _failed_ingest_run_alert(recorder, instance, stats.ingest_runs[0].run_config)
        _api_calls(recorder, settings)
    return recorder, outputs


Grant = tuple[str, str, str, str | None]
"""(statement Sid, action, resource pattern, s3:prefix pattern or None): one thing a policy allows."""


def _grants(role: str, outputs: dict[str, str]) -> set[Grant]:
    """Every (action, resource, prefix) a role's policy allows, rendered for this stack (no KMS)."""
    values = {
        "BucketName": outputs["BucketName"],
        "TablePrefix": outputs["TablePrefix"],
        "AWS::Partition": "aws",
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT,
    }
    document = render(policy_document(ROLE_POLICIES[role], load_template()), values)
    grants: set[Grant] = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow" and set(statement) <= STATEMENT_KEYS, statement
        prefixes = statement.get("Condition", {}).get("StringLike", {}).get("s3:prefix", [None])
        grants |= {
            (statement["Sid"], action, resource, prefix)
            for action in _listed(statement["Action"])
            for resource in _listed(statement["Resource"])
            for prefix in prefixes
        }
    return grants


STATEMENT_KEYS = {"Sid", "Effect", "Action", "Resource", "Condition"}


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _allows(grant: Grant, call: Call) -> bool:
    _, action, resource, prefix = grant
    return (
        call.action == action
        and fnmatch.fnmatchcase(call.resource, resource)
        and (
            prefix is None or (call.prefix is not None and fnmatch.fnmatchcase(call.prefix, prefix))
        )
    )


@pytest.mark.parametrize("role", sorted(ROLE_POLICIES))
def test_every_call_the_role_makes_is_granted(
    recorded: tuple[CallRecorder, dict[str, str]], role: str
) -> None:
    recorder, outputs = recorded
    grants = _grants(role, outputs)
    calls = recorder.of(role)
    assert calls, f"no calls recorded for {role}"
    missing = sorted(c for c in calls if not any(_allows(g, c) for g in grants))
    assert missing == []


@pytest.mark.parametrize("role", sorted(ROLE_POLICIES))
def test_every_grant_of_the_role_is_used(
    recorded: tuple[CallRecorder, dict[str, str]], role: str
) -> None:
    recorder, outputs = recorded
    calls = recorder.of(role)
    unused = sorted(g for g in _grants(role, outputs) if not any(_allows(g, c) for c in calls))
    assert [
        g for g in unused if (role, g[1], g[3] or g[2].rsplit("_", 1)[-1]) not in NOT_IN_ONE_DAY
    ] == []


NOT_IN_ONE_DAY = {
    # An underperformance event needs days of a site's history before it is judged: the one day
    # recorded here writes none (test_pipeline/test_analytics.py writes them, over six days).
    ("pipeline", "dynamodb:BatchWriteItem", "underperformance"),
    # staged_partitions_sensor looks at a shard's silver and gold objects only after the
    # shard's run failed (test_pipeline/test_sensor.py's stale-gold test makes it do so).
    ("services", "s3:ListBucket", "silver/*"),
    ("services", "s3:ListBucket", "gold/*"),
}
"""Grants the recorded day cannot use, each with where its call is made."""


def test_the_pipeline_reads_raw_and_never_writes_there(
    recorded: tuple[CallRecorder, dict[str, str]],
) -> None:
    recorder, outputs = recorded
    raw = f"arn:aws:s3:::{outputs['BucketName']}/{RAW_PREFIX}"
    touched = {c.action for c in recorder.calls if c.resource.startswith(raw)}
    assert touched == {"s3:GetObject"}
