"""The meter simulator as a Dagster job and a capped, off-by-default 5-minute schedule.

No `from __future__ import annotations` here: Dagster reads the op's annotations at runtime to
find its config class and resources.
"""

import os
from datetime import UTC, datetime
from typing import Final

from dagster import (
    Config,
    DefaultScheduleStatus,
    MetadataValue,
    OpExecutionContext,
    RunConfig,
    RunRequest,
    RunsFilter,
    ScheduleEvaluationContext,
    SkipReason,
    job,
    op,
    schedule,
)
from pydantic import Field

from energy_platform.resources.s3 import LakeStorage
from energy_platform.tools.faults import parse_fault
from energy_platform.tools.simulate import (
    READING_INTERVAL_S,
    SimulationConfig,
    batch_format,
    upload_batch,
)

MAX_RUNS_ENV: Final = "ENERGY_SIMULATOR_MAX_RUNS"
DEFAULT_MAX_RUNS: Final = 288
"""One day of 5-minute ticks."""
SIMULATOR_CRON: Final = "*/5 * * * *"


class SimulatorConfig(Config):
    """One batch of simulated meter readings.

    The defaults give every site one fresh reading per 5-minute tick (records = sites), so
    consecutive scheduled batches do not overlap.
    """

    records: int = Field(default=100, ge=1, description="Records in the batch.")
    sites: int = Field(default=100, ge=1, description="Sites the records are spread over.")
    anomaly_rate: float = Field(
        default=0.02, ge=0, le=1, description="Share of readings with an injected anomaly."
    )
    invalid_rate: float = Field(
        default=0.0, ge=0, le=1, description="Share of records that break a validation rule."
    )
    fmt: str = Field(
        default="mixed",
        pattern="^(json|jsonl|csv|mixed)$",
        description="json, jsonl, csv, or mixed (rotates with each 5-minute tick).",
    )
    faults: list[str] = Field(
        default_factory=list,
        description="Faults planted in sites' generation, as the CLI's --fault: "
        "KIND:SITE:YYYY-MM-DD[:DAYS[:SEVERITY]], KIND one of soiling, step_failure, shading, "
        "dead_site (docs/ANOMALIES.md). None by default.",
    )


def max_runs() -> int:
    """The schedule's cap: `ENERGY_SIMULATOR_MAX_RUNS`, read at each tick (default 288)."""
    return int(os.environ.get(MAX_RUNS_ENV) or DEFAULT_MAX_RUNS)


@op
def upload_simulated_batch(
    context: OpExecutionContext, config: SimulatorConfig, lake: LakeStorage
) -> str:
    """Upload one batch of realistic meter readings (the latest 5 minutes) to `raw/`.

    Solar output follows the sun at each site's county, consumption the local clock; the
    configured shares of anomalies and invalid records are injected. Returns the object key.
    """
    now = datetime.now(UTC)
    batch_number = int(now.timestamp()) // READING_INTERVAL_S
    sim = SimulationConfig(
        records=config.records,
        sites=config.sites,
        fmt=config.fmt,
        anomaly_rate=config.anomaly_rate,
        invalid_rate=config.invalid_rate,
        faults=tuple(parse_fault(f) for f in config.faults),
    )
    key = upload_batch(lake, sim, batch_number, now)
    context.add_output_metadata(
        {
            "key": MetadataValue.path(lake.uri(key)),
            "records": config.records,
            "sites": config.sites,
            "format": batch_format(config.fmt, batch_number),
        }
    )
    context.log.info(f"Uploaded {config.records} simulated records to {lake.uri(key)}")
    return key


@job
def simulator_job() -> None:
    """Simulate meters: upload one batch of readings to `raw/`, as a fleet of sites would."""
    upload_simulated_batch()


@schedule(
    cron_schedule=SIMULATOR_CRON,
    job=simulator_job,
    default_status=DefaultScheduleStatus.STOPPED,
    execution_timezone="UTC",
    description=(
        "Every 5 minutes, one simulated batch of meter readings to raw/ (off until started). "
        f"Skips once simulator_job has run {MAX_RUNS_ENV} times (default {DEFAULT_MAX_RUNS}, "
        "one day), so a forgotten demo does not fill the bucket."
    ),
)
def simulator_schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
    """Every 5 minutes, one simulated batch to `raw/` (off until started).

    Stops requesting runs once `simulator_job` has run ENERGY_SIMULATOR_MAX_RUNS times
    (default 288, one day), so a forgotten demo does not fill the bucket.
    """
    cap = max_runs()
    runs = context.instance.get_runs_count(RunsFilter(job_name=simulator_job.name))
    if runs >= cap:
        return SkipReason(
            f"{simulator_job.name} has run {runs} times, the cap {MAX_RUNS_ENV}={cap}. "
            f"To simulate more, set {MAX_RUNS_ENV} higher in the environment of the code "
            "location (and of the daemon) and reload it, or delete old runs of the job."
        )
    return RunRequest(
        run_config=RunConfig(ops={upload_simulated_batch.name: SimulatorConfig()}),
        tags={"simulator/run": str(runs + 1), "simulator/max_runs": str(cap)},
    )


__all__ = ["SimulatorConfig", "simulator_job", "simulator_schedule"]
