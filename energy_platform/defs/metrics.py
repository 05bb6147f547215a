"""Sensors that publish the platform's metrics (resources/metrics.py) from finished runs: what
each run's metadata already says, counted once per run, in the code location's log."""

from collections.abc import Iterable

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    EventLogEntry,
    RunFailureSensorContext,
    RunStatusSensorContext,
    run_failure_sensor,
    run_status_sensor,
)

from energy_platform.defs.assets import keys
from energy_platform.defs.jobs import FRESHNESS_CHECK
from energy_platform.resources import metrics as m

RUN_EVENTS = {DagsterEventType.ASSET_MATERIALIZATION, DagsterEventType.ASSET_CHECK_EVALUATION}


def run_metrics(events: Iterable[EventLogEntry]) -> dict[str, float]:
    """Readings ingested and quarantined (ingest runs) and late raw objects (freshness check)
    from one successful run's events, plus the run itself."""
    values: dict[str, float] = {m.RUNS_SUCCEEDED: 1}
    for entry in events:
        event = entry.dagster_event
        if event is None:
            continue
        if event.is_step_materialization and event.asset_key == keys.STAGED_READINGS:
            metadata = event.step_materialization_data.materialization.metadata
            for name, field in (
                (m.READINGS_INGESTED, "records_cleaned"),
                (m.READINGS_QUARANTINED, "records_quarantined"),
            ):
                values[name] = values.get(name, 0) + metadata[field].value
        elif event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.asset_check_evaluation_data
            if evaluation.asset_check_key == FRESHNESS_CHECK:
                values[m.LATE_RAW_OBJECTS] = evaluation.metadata["late_raw_objects"].value
    return values


def _events(instance: DagsterInstance, run_id: str) -> list[EventLogEntry]:
    return [e for kind in RUN_EVENTS for e in instance.all_logs(run_id, of_type=kind)]


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Every successful run -> its metrics (runs, readings ingested and quarantined, "
    "late raw objects) as CloudWatch embedded metric format lines in the code location's log.",
)
def run_metrics_sensor(context: RunStatusSensorContext) -> None:
    """Publish a successful run's metrics."""
    run_id = context.dagster_run.run_id
    m.publish_metrics(run_metrics(_events(context.instance, run_id)))


@run_failure_sensor(
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Every failed run -> RunsFailed (the failed-runs alarm); the run_failed alert "
    "with its link is run_failure_alert_sensor's.",
)
def failed_run_metrics_sensor(context: RunFailureSensorContext) -> None:
    """Count a failed run."""
    m.publish_metrics({m.RUNS_FAILED: 1})
