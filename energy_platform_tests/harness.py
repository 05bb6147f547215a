"""Drive the platform as the Dagster daemon would: evaluate the real sensors against a real
instance, execute the runs they request, repeat until nothing is left to do."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field

from dagster import DagsterInstance, Definitions, RunRequest, SensorResult, build_sensor_context

import energy_platform.definitions
from energy_platform.defs.partitions import day_of


def platform_defs() -> Definitions:
    """The platform's Definitions, with resources configured from the environment as it is now
    (each test provisions its own bucket and name prefix, after the module was first imported)."""
    return importlib.reload(energy_platform.definitions).defs


@dataclass
class DrainStats:
    ingest_runs: list[RunRequest] = field(default_factory=list)
    daily_runs: list[str] = field(default_factory=list)
    """Partition keys of the day-level runs, in order: `date|shard` (daily_job, analytics_job),
    or the date (county_job)."""
    day_jobs: list[str] = field(default_factory=list)
    """The job of each of daily_runs."""
    failed_runs: int = 0
    raw_cursor: str | None = None
    day_cursor: str | None = None
    check_results: list[tuple[str, str, bool]] = field(default_factory=list)
    """(asset, check name, passed) of every check evaluated by the runs."""

    def record(self, result) -> None:
        self.failed_runs += 0 if result.success else 1
        for ev in result.get_asset_check_evaluations():
            self.check_results.append((ev.asset_key.to_user_string(), ev.check_name, ev.passed))

    def partitions_of(self, job: str) -> list[str]:
        """The partition keys of one job's day-level runs, in order."""
        return [p for p, j in zip(self.daily_runs, self.day_jobs, strict=True) if j == job]

    @property
    def days_merged(self) -> list[str]:
        """The distinct days daily_job runs merged (any shard), sorted."""
        return sorted({day_of(p) for p in self.partitions_of("daily_job")})

    @property
    def failed_checks(self) -> list[tuple[str, str, bool]]:
        return [r for r in self.check_results if not r[2]]


def _evaluate(
    name: str, instance: DagsterInstance, cursor: str | None, defs: Definitions
) -> SensorResult:
    sensor = defs.resolve_sensor_def(name)
    context = build_sensor_context(
        instance=instance, cursor=cursor, sensor_name=name, resources=defs.resources
    )
    result = sensor(context)
    if isinstance(result, SensorResult):
        return result
    return SensorResult(skip_reason=str(result))


def ingest_tick(
    instance: DagsterInstance, stats: DrainStats, defs: Definitions | None = None
) -> list[RunRequest]:
    """One tick of raw_files_sensor; its cursor is kept as the daemon would keep it."""
    defs = defs or platform_defs()
    result = _evaluate("raw_files_sensor", instance, stats.raw_cursor, defs)
    stats.raw_cursor = result.cursor
    return list(result.run_requests or [])


def run_ingest(
    instance: DagsterInstance,
    request: RunRequest,
    stats: DrainStats,
    defs: Definitions | None = None,
) -> bool:
    job = (defs or platform_defs()).resolve_job_def("ingest_job")
    result = job.execute_in_process(
        run_config=request.run_config, instance=instance, tags=request.tags, raise_on_error=False
    )
    stats.ingest_runs.append(request)
    stats.record(result)
    return result.success


def day_requests(
    instance: DagsterInstance, stats: DrainStats | None = None, defs: Definitions | None = None
) -> list[RunRequest]:
    """One tick of staged_partitions_sensor: the day shard, county and analytics runs it asks
    for (its cursor kept in `stats`, as the daemon would keep it)."""
    stats = stats if stats is not None else DrainStats()
    result = _evaluate(
        "staged_partitions_sensor", instance, stats.day_cursor, defs or platform_defs()
    )
    stats.day_cursor = result.cursor
    return list(result.run_requests or [])


def run_day(
    instance: DagsterInstance,
    request: RunRequest,
    stats: DrainStats,
    defs: Definitions | None = None,
) -> bool:
    job = request.job_name or "daily_job"
    outcome = (
        (defs or platform_defs())
        .resolve_job_def(job)
        .execute_in_process(
            partition_key=request.partition_key,
            instance=instance,
            tags=request.tags,
            raise_on_error=False,
        )
    )
    stats.daily_runs.append(str(request.partition_key))
    stats.day_jobs.append(job)
    stats.record(outcome)
    return outcome.success


def run_days(instance: DagsterInstance, stats: DrainStats, defs: Definitions | None = None) -> int:
    """Evaluate staged_partitions_sensor once and run everything it asks for."""
    defs = defs or platform_defs()
    requests = day_requests(instance, stats, defs)
    for request in requests:
        run_day(instance, request, stats, defs)
    return len(requests)


def drain(
    instance: DagsterInstance,
    stats: DrainStats | None = None,
    defs: Definitions | None = None,
    max_rounds: int = 50,
) -> DrainStats:
    """Sensor ticks and runs until the raw events queue and staging are empty."""
    stats = stats or DrainStats()
    defs = defs or platform_defs()
    for _ in range(max_rounds):
        requests = ingest_tick(instance, stats, defs)
        for request in requests:
            run_ingest(instance, request, stats, defs)
        days = run_days(instance, stats, defs)
        if not requests and not days:
            # One more tick deletes the messages of the previous one.
            ingest_tick(instance, stats, defs)
            return stats
    raise AssertionError(f"pipeline still busy after {max_rounds} rounds")
