"""The report refreshes itself: the automation condition evaluated as the automation sensor
would, over a real instance whose gold the real sensors and runs materialized."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from dagster import (
    DagsterInstance,
    Definitions,
    EvaluateAutomationConditionsResult,
    evaluate_automation_conditions,
    instance_for_test,
)

from energy_platform.defs.assets import keys
from energy_platform.defs.assets.policies import REPORT_REFRESH_MINUTES
from energy_platform.settings import Settings
from energy_platform_tests.harness import drain, platform_defs
from energy_platform_tests.test_reliability.support import day, jsonl, readings

pytestmark = pytest.mark.slow

TICK = timedelta(minutes=REPORT_REFRESH_MINUTES)


class Daemon:
    """Automation ticks at chosen times, the cursor kept from one to the next."""

    def __init__(self, defs: Definitions, instance: DagsterInstance) -> None:
        self.defs, self.instance, self.cursor = defs, instance, None

    def tick(self, at: datetime) -> EvaluateAutomationConditionsResult:
        result = evaluate_automation_conditions(
            defs=self.defs, instance=self.instance, evaluation_time=at, cursor=self.cursor
        )
        self.cursor = result.cursor
        return result


def _requested(result: EvaluateAutomationConditionsResult) -> dict[str, set[str | None]]:
    keys_ = {r.key for r in result.results if r.true_subset.size}
    return {k.to_user_string(): result.get_requested_partitions(k) for k in keys_}


def _start() -> datetime:
    """A minute past the current 5-minute cron tick: the next tick is 4 minutes away."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - timedelta(minutes=now.minute % REPORT_REFRESH_MINUTES) + timedelta(minutes=1)


def _upload(settings: Settings, key: str, offset_days: int) -> None:
    body = jsonl(readings(day(offset_days), ["s1", "s2"], 3))
    boto3.client("s3", region_name=settings.region).put_object(
        Bucket=settings.bucket, Key=key, Body=body
    )


def test_report_requested_once_after_new_gold_on_the_next_tick(
    platform_env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the report's local copy goes here
    defs = platform_defs()
    t = _start()
    with instance_for_test() as instance:
        daemon = Daemon(defs, instance)
        assert _requested(daemon.tick(t)) == {}  # first evaluation: nothing new

        _upload(platform_env, "raw/auto/1.jsonl", 1)
        stats = drain(instance, defs=defs)
        assert stats.failed_runs == 0 and len(stats.days_merged) == 1
        assert _requested(daemon.tick(t + timedelta(minutes=1))) == {}  # no cron tick yet
        assert _requested(daemon.tick(t + TICK)) == {"energy_report": {None}}

        # What the automation sensor's run does: materialize the report alone.
        job = defs.resolve_implicit_global_asset_job_def().get_subset(
            asset_selection={keys.ENERGY_REPORT}
        )
        assert job.execute_in_process(instance=instance).success
        assert _requested(daemon.tick(t + 2 * TICK)) == {}  # no new gold since
        assert _requested(daemon.tick(t + 3 * TICK)) == {}

        _upload(platform_env, "raw/auto/2.jsonl", 2)  # another day's partition
        assert len(drain(instance, defs=defs).days_merged) == 1
        assert _requested(daemon.tick(t + 4 * TICK)) == {"energy_report": {None}}
