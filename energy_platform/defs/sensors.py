"""Sensors: new raw objects -> ingest runs; staged days -> daily runs; failed runs -> alerts;
the assets' automation conditions (the report's refresh)."""

import time
from datetime import UTC, datetime, timedelta

from botocore.exceptions import BotoCoreError, ClientError
from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from energy_platform import contract as c
from energy_platform.defs.alerts import run_url
from energy_platform.defs.jobs import daily_job, ingest_job
from energy_platform.defs.partitions import daily_partitions
from energy_platform.resources import AlertNotifier, EventQueues, LakeStorage, ledger
from energy_platform.resources.dynamodb import DynamoTables
from energy_platform.resources.queue import Message, SendRefused
from energy_platform.settings import get_settings
from energy_platform.transforms.batch import batch_id
from energy_platform.transforms.raw_events import (
    RawCursor,
    RawObjectEvent,
    latest_per_key,
    parse_message,
    plan_runs,
)

MAX_MESSAGES_PER_TICK = 1000
MAX_REASON_CHARS = 300
MAX_BODY_EXCERPT_CHARS = 1000
"""How much of a malformed message its dead letter keeps (escaped, 10 fit in a 256 KiB request)."""
VISIBILITY_SECONDS = 900
"""Messages received but not yet deleted stay hidden this long (the next tick deletes them)."""
FAILED_DAY_BACKOFF_SECONDS = 120
STAGED_TICK_SECONDS = 15
"""staged_partitions_sensor's interval: a day's run takes what was staged meanwhile in one go.
Readings are readable before it (ingest runs serve them); its aggregates follow within ~20 s,
and fewer day runs leave the CPU to the ingest runs that readers wait for."""
ACTIVE_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


@sensor(
    job=ingest_job,
    minimum_interval_seconds=1,
    default_status=DefaultSensorStatus.RUNNING,
)
def raw_files_sensor(
    context: SensorEvaluationContext, queues: EventQueues, tables: DynamoTables
) -> SensorResult | SkipReason:
    """Turn new objects under raw/ into ingest runs, each file exactly once.

    S3 notifies the raw_events queue of every new object; this sensor drains it, skips objects
    the ledger already processed or that are in flight, and groups the rest into runs (by
    count and bytes). Messages are deleted one tick later, once Dagster has stored the runs
    this tick requested, so a crash in between re-delivers rather than loses them. A malformed
    message names no file: it goes to the dead-letter queue with its reason and is deleted at
    once, so it holds back nothing else.
    """
    cursor = RawCursor.load(context.cursor)
    if cursor.pending_delete:
        queues.delete(c.RAW_EVENTS_QUEUE, cursor.pending_delete)
        cursor.pending_delete = []
    received = queues.receive(
        c.RAW_EVENTS_QUEUE,
        MAX_MESSAGES_PER_TICK,
        VISIBILITY_SECONDS,
        get_settings().raw_events_wait_seconds,
    )
    messages, events, malformed = _parse_all(received)
    undeleted = _set_aside(context, queues, malformed)
    events = latest_per_key(events)
    done = ledger.processed(tables, [(e.key, e.etag) for e in events if not e.replay])
    fresh = [
        e
        for e in events
        if e.replay or (e.identity not in done and e.identity not in cursor.recent)
    ]

    now = time.time()
    requests = []
    for batch in plan_runs(fresh):
        bid = batch_id([e.identity for e in batch])
        replay_nonce = f"-replay-{int(now)}" if any(e.replay for e in batch) else ""
        requests.append(
            RunRequest(
                run_key=f"ingest-{bid}{replay_nonce}",
                run_config={
                    "ops": {
                        "ingest_raw_files": {"config": {"objects": [e.as_config() for e in batch]}}
                    }
                },
                tags={
                    "energy/batch_id": bid,
                    "energy/files": str(len(batch)),
                    "energy/bytes": str(sum(e.size for e in batch)),
                    "energy/first_key": batch[0].key[:200],
                },
            )
        )
    cursor.remember([e.identity for e in fresh], now)
    cursor.pending_delete = [m.receipt_handle for m in messages] + undeleted
    skipped = len(events) - len(fresh)
    if not requests:
        return SensorResult(
            skip_reason=f"{len(received)} messages ({len(malformed)} malformed), no new raw objects"
            f" ({skipped} already processed or in flight)",
            cursor=cursor.dump(),
        )
    context.log.info(
        f"{len(fresh)} new raw objects in {len(requests)} runs; {skipped} skipped as seen"
    )
    return SensorResult(run_requests=requests, cursor=cursor.dump())


def _parse_all(
    messages: list[Message],
) -> tuple[list[Message], list[RawObjectEvent], list[tuple[Message, str]]]:
    """The well-formed messages, the objects they name, and the malformed ones with why."""
    good: list[Message] = []
    events: list[RawObjectEvent] = []
    malformed: list[tuple[Message, str]] = []
    for m in messages:
        try:
            events.extend(parse_message(m.body))
        except ValueError as err:
            malformed.append((m, str(err)[:MAX_REASON_CHARS]))
        else:
            good.append(m)
    return good, events, malformed


def _dead_letter(m: Message, reason: str) -> dict[str, object]:
    return {
        "queue": c.RAW_EVENTS_QUEUE,
        "message_id": m.message_id,
        "error": f"malformed message: {reason}",
        "body": m.body[:MAX_BODY_EXCERPT_CHARS],
        "body_chars": len(m.body),
    }


def _set_aside(
    context: SensorEvaluationContext, queues: EventQueues, malformed: list[tuple[Message, str]]
) -> list[str]:
    """Dead-letter the malformed messages, then delete them from raw_events.

    Returns the receipt handles still to delete (with the next tick's). Were the dead-letter
    queue unreachable, they stay: back after the visibility timeout, then SQS's redrive.
    """
    for m, reason in malformed:
        context.log.warning(f"raw_events message {m.message_id} is malformed: {reason}")
    if not malformed:
        return []
    try:
        queues.send_json(c.DEAD_LETTERS_QUEUE, [_dead_letter(m, why) for m, why in malformed])
    except (BotoCoreError, ClientError, SendRefused) as err:
        context.log.error(f"{len(malformed)} malformed messages not dead-lettered, kept: {err}")
        return []
    handles = [m.receipt_handle for m, _ in malformed]
    try:
        if queues.delete(c.RAW_EVENTS_QUEUE, handles) == len(handles):
            return []
    except (BotoCoreError, ClientError) as err:
        context.log.warning(f"dead-lettered messages not deleted yet, next tick will: {err}")
    return handles


def _days_with_active_runs(context: SensorEvaluationContext) -> set[str]:
    runs = context.instance.get_runs(
        filters=RunsFilter(job_name=daily_job.name, statuses=ACTIVE_STATUSES)
    )
    return {r.tags.get("dagster/partition", "") for r in runs}


def _days_failed_recently(context: SensorEvaluationContext) -> set[str]:
    since = datetime.now(UTC) - timedelta(seconds=FAILED_DAY_BACKOFF_SECONDS)
    runs = context.instance.get_runs(
        filters=RunsFilter(
            job_name=daily_job.name, statuses=[DagsterRunStatus.FAILURE], updated_after=since
        )
    )
    return {r.tags.get("dagster/partition", "") for r in runs}


@sensor(
    job=daily_job,
    minimum_interval_seconds=STAGED_TICK_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
)
def staged_partitions_sensor(
    context: SensorEvaluationContext, lake: LakeStorage
) -> SensorResult | SkipReason:
    """Start a daily_job run for each day with work waiting and no run in progress.

    Work waiting: staged rows (staging/readings/ holds only unmerged rows, so it is itself the
    to-do list), or gold older than the day's silver after a run that failed between the two.
    So nothing is lost if a tick or a run fails: the day is requested again (a day whose run
    just failed waits a couple of minutes first).
    """
    staged = _days_under(lake, c.STAGING_READINGS_PREFIX)
    days = sorted(
        set(staged) | (_days_with_stale_gold(lake) & _days_whose_last_run_failed(context))
    )
    if not days:
        return SkipReason("no staged readings waiting, gold up to date")
    busy = _days_with_active_runs(context) | _days_failed_recently(context)
    requests = []
    for day in days:
        if day in busy:
            continue
        if not daily_partitions.has_partition_key(day):
            context.log.error(f"work for {day}, outside the daily partitions; left in staging/")
            continue
        trigger = "staged_readings" if day in staged else "stale_gold"
        requests.append(RunRequest(partition_key=day, tags={"energy/trigger": trigger}))
    if not requests:
        return SkipReason(f"{len(days)} days waiting, each has a run in progress or is backing off")
    return SensorResult(run_requests=requests)


def _days_whose_last_run_failed(context: SensorEvaluationContext) -> set[str]:
    latest: dict[str, DagsterRunStatus] = {}
    for run in context.instance.get_runs(filters=RunsFilter(job_name=daily_job.name), limit=1000):
        latest.setdefault(run.tags.get("dagster/partition", ""), run.status)  # newest first
    return {
        d
        for d, status in latest.items()
        if status in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)
    }


def _days_under(lake: LakeStorage, prefix: str) -> dict[str, datetime]:
    """Day partitions under `prefix` -> when their newest object was written."""
    days: dict[str, datetime] = {}
    for o in lake.list_objects(prefix):
        day = o.key[len(prefix) :].removeprefix("date=").split("/", 1)[0]
        days[day] = max(days.get(day, o.last_modified), o.last_modified)
    return days


def _days_with_stale_gold(lake: LakeStorage) -> set[str]:
    silver = _days_under(lake, c.SILVER_READINGS_PREFIX)
    gold = [_days_under(lake, p) for p in (c.GOLD_COUNTY_5MIN_PREFIX, c.GOLD_SITE_DAILY_PREFIX)]
    return {d for d, written in silver.items() if any(d not in g or g[d] < written for g in gold)}


@run_failure_sensor(
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=10,
    description="Every failed run of this code location (sensor, schedule, automation or UI "
    "launched) -> one run_failed alert with a link to the run; a failed ingest run's files go "
    "to the dead-letter queue for replay.",
)
def run_failure_alert_sensor(
    context: RunFailureSensorContext, alerts: AlertNotifier, queues: EventQueues
) -> None:
    """Alert on every failed run of any job (no monitored_jobs: the whole code location), with
    the run's UI link; a failed ingest run's files go to the dead-letter queue for replay."""
    run = context.dagster_run
    error = context.failure_event.message if context.failure_event else "unknown error"
    objects = (
        run.run_config.get("ops", {})
        .get("ingest_raw_files", {})
        .get("config", {})
        .get("objects", [])
        if run.job_name == ingest_job.name
        else []
    )
    if objects:
        queues.send_json(
            c.DEAD_LETTERS_QUEUE,
            [{**o, "run_id": run.run_id, "error": error[:2000]} for o in objects],
        )
    alerts.publish(
        "run_failed",
        f"Energy platform: {run.job_name} run failed",
        {
            "run_id": run.run_id,
            "run_url": run_url(run.run_id),
            "job": run.job_name,
            "assets": sorted(k.to_user_string() for k in run.asset_selection or ()),
            "partition": run.tags.get("dagster/partition"),
            "error": error[:2000],
            "dead_lettered_files": [o["key"] for o in objects],
            "what_to_do": "Open run_url and see docs/OPERATIONS.md. After fixing the cause: "
            "`energy-platform replay` for an ingest run, else re-execute the run from its page.",
        },
    )


automation_sensor = AutomationConditionSensorDefinition(
    "automation_sensor",
    target=AssetSelection.all(),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Evaluates the assets' automation conditions (energy_report: rebuilt after new "
    "data, at most every 5 minutes). On by default: Dagster's own default sensor starts stopped.",
)
