"""Sensors: new raw objects -> ingest runs; staged days -> daily runs; failed runs -> alerts;
the assets' automation conditions (the report's refresh)."""

import time
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError
from dagster import (
    AssetKey,
    AssetRecordsFilter,
    AssetSelection,
    AutomationConditionSensorDefinition,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunFailureSensorContext,
    RunRecord,
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
from energy_platform.defs.assets import keys
from energy_platform.defs.day_runs import DayRunsCursor
from energy_platform.defs.jobs import analytics_job, county_job, daily_job, ingest_job
from energy_platform.defs.partitions import (
    day_and_shard,
    day_of,
    day_shard_key,
    day_shard_partitions,
)
from energy_platform.defs.records import materializations
from energy_platform.resources import AlertNotifier, EventQueues, LakeStorage, datasets, ledger
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
"""staged_partitions_sensor's interval: a shard's run takes what was staged meanwhile in one go.
Readings are readable before it (ingest runs serve them); its aggregates follow within ~20 s,
and fewer day runs leave the CPU to the ingest runs that readers wait for."""
COUNTY_MAX_WAIT_SECONDS = 300
"""A day's county totals behind its shards this long (one 5-minute window) go before the day's
next shard runs: under a steady stream of files some shard of the day always has rows staged."""
PARTITION_TAG = "dagster/partition"
TRIGGER = "energy/trigger"
DAY_JOBS = (daily_job.name, county_job.name, analytics_job.name)
SHARD_GOLD_DATASETS = (datasets.SITE_DAILY, datasets.DEVICE_DAILY, datasets.COUNTY_5MIN_PARTIALS)
ACTIVE_STATUSES = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,  # still running until it stops
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


LOOKBACK_SECONDS = 6 * 3600
"""Without a cursor (a new sensor), what was materialized this long ago is still followed up."""


def _records(context: SensorEvaluationContext, job: str, **filters: Any) -> list[RunRecord]:
    return list(
        context.instance.get_run_records(filters=RunsFilter(job_name=job, **filters), limit=5000)
    )


def _new_materializations(
    context: SensorEvaluationContext, cursor: DayRunsCursor, key: AssetKey, now: float
) -> list[tuple[str, int]]:
    """(partition key, storage id) of each materialization of `key` since the cursor's last look
    (or, for a new cursor, within LOOKBACK_SECONDS)."""
    seen = cursor.seen.get(key.to_user_string())
    new = AssetRecordsFilter(
        key,
        after_storage_id=seen,
        after_timestamp=None if seen is not None else now - LOOKBACK_SECONDS,
    )
    found = [(r.partition_key, r.storage_id) for r in materializations(context.instance, new)]
    if found:
        cursor.seen[key.to_user_string()] = found[-1][1]
    return found


def _follow_materializations(
    context: SensorEvaluationContext, cursor: DayRunsCursor, now: float
) -> None:
    """Days whose county totals, and day shards whose analytics, are behind what was
    materialized since last tick."""
    for key, sid in _new_materializations(context, cursor, keys.COUNTY_5MIN_PARTIALS, now):
        cursor.partials_written(day_of(key), sid, now)
    for key, sid in _new_materializations(context, cursor, keys.COUNTY_5MIN_AGGREGATES, now):
        cursor.county_written(key, sid)
    history_days = get_settings().analytics.history_days
    for key, sid in _new_materializations(context, cursor, keys.CLEANED_READINGS, now):
        cursor.readings_written(*day_and_shard(key), sid, history_days)
    for key, sid in _new_materializations(context, cursor, keys.UNDERPERFORMANCE_EVENTS, now):
        cursor.analytics_written(key, sid)


def _active(context: SensorEvaluationContext) -> tuple[set[str], set[str], set[str]]:
    """Partitions (day shards) of active shard runs, days of active county runs, and
    partitions of active analytics runs."""
    runs = {
        job: {
            r.dagster_run.tags.get(PARTITION_TAG, "")
            for r in _records(context, job, statuses=ACTIVE_STATUSES)
        }
        for job in DAY_JOBS
    }
    return runs[daily_job.name], runs[county_job.name], runs[analytics_job.name]


def _analytics_ready(cursor: DayRunsCursor, analysing: set[str], now: float) -> set[str]:
    """Per shard, its earliest day shard with analytics due, unless the shard has an analytics
    run active (a day's events continue the day before's) or that day shard's last one started
    within the interval. A shard run of the same day shard requested with it goes first (the
    run queue starts one run per partition at a time, in order)."""
    interval = get_settings().analytics_interval_seconds
    cursor.forget_old_starts(now, interval)
    busy = {day_and_shard(p)[1] for p in analysing}
    earliest: dict[str, str] = {}
    for key in sorted(cursor.analytics_due):
        earliest.setdefault(day_and_shard(key)[1], key)
    return {
        key
        for shard, key in earliest.items()
        if shard not in busy and cursor.analytics_wait(key, now, interval) == 0
    }


def _failed_recently(context: SensorEvaluationContext, now: float) -> set[str]:
    """Partition keys (day shards and days) whose run failed within the backoff."""
    since = datetime.fromtimestamp(now - FAILED_DAY_BACKOFF_SECONDS, UTC)
    failed = [DagsterRunStatus.FAILURE]
    return {
        r.dagster_run.tags.get(PARTITION_TAG, "")
        for job in DAY_JOBS
        for r in _records(context, job, statuses=failed, updated_after=since)
    }


def _staged_shards(lake: LakeStorage) -> set[tuple[str, str]]:
    """(day, shard) of every object under staging/readings/ (only unmerged rows are there)."""
    found = set()
    for o in lake.list_objects(c.STAGING_READINGS_PREFIX):
        day, shard, *_ = o.key[len(c.STAGING_READINGS_PREFIX) :].split("/")
        found.add((day.removeprefix("date="), shard.removeprefix("shard=")))
    return found


def _shards_whose_last_run_failed(context: SensorEvaluationContext) -> set[str]:
    latest: dict[str, DagsterRunStatus] = {}
    for run in context.instance.get_runs(filters=RunsFilter(job_name=daily_job.name), limit=1000):
        latest.setdefault(run.tags.get(PARTITION_TAG, ""), run.status)  # newest first
    stopped = (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)
    return {p for p, status in latest.items() if status in stopped}


def _written(lake: LakeStorage, key: str) -> datetime | None:
    """When the object was last written (None: it does not exist). A listing, not a HEAD: the
    sensor's role may list silver/ and gold/, not read them."""
    return next((o.last_modified for o in lake.list_objects(key) if o.key == key), None)


def _gold_behind_silver(lake: LakeStorage, day: str, shard: str) -> bool:
    """The shard's gold is missing or older than its silver (a run failed between the two)."""
    silver = _written(lake, datasets.READINGS.key(day, shard))
    if silver is None:
        return False
    gold = [_written(lake, d.key(day, shard)) for d in SHARD_GOLD_DATASETS]
    return any(g is None or g < silver for g in gold)


@sensor(
    jobs=[daily_job, county_job, analytics_job],
    minimum_interval_seconds=STAGED_TICK_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
)
def staged_partitions_sensor(
    context: SensorEvaluationContext, lake: LakeStorage
) -> SensorResult | SkipReason:
    """Start each day's runs in order: a daily_job run per site shard with work waiting; a
    county_job run for a day whose shard partials were written since its county totals (by any
    run: backfills too), once none of the day's shard runs is active; and per shard whose
    cleaned readings were written since its analytics, an analytics_job run (one at a time per
    shard, earliest day first, at most every ENERGY_ANALYTICS_INTERVAL_SECONDS per day shard).

    Work waiting: staged rows (staging/readings/ holds only unmerged rows, so it is itself the
    to-do list), or gold older than the shard's silver after a run that failed between the two.
    A run that fails leaves its work due, so it is requested again after a short backoff.

    Follow-ups are not starved by a steady stream of files: a day's county totals due for
    longer than COUNTY_MAX_WAIT_SECONDS hold back the day's next shard runs until the county
    run is requested, and a day shard's analytics are requested beside its shard run (queued
    after it) rather than waiting for a tick without one.
    """
    now = time.time()
    cursor = DayRunsCursor.load(context.cursor)
    _follow_materializations(context, cursor, now)
    active_shards, county_days, analysing = _active(context)
    backoff = _failed_recently(context, now)
    held = active_shards | backoff

    shard_work = {(d, s): "staged_readings" for d, s in _staged_shards(lake)}
    for key in _shards_whose_last_run_failed(context) - held:
        day, shard = day_and_shard(key)
        if (day, shard) not in shard_work and _gold_behind_silver(lake, day, shard):
            shard_work[(day, shard)] = "stale_gold"

    # Shards do not rewrite their partials while the county run sums them, and county totals
    # overdue go before the day's next shard runs (not while their run backs off from a
    # failure: a shard run may be what repairs it).
    waiting_days = county_days | (cursor.county_overdue(now, COUNTY_MAX_WAIT_SECONDS) - backoff)
    requests = []
    busy_days = {day_of(p) for p in active_shards} | county_days
    for (day, shard), trigger in sorted(shard_work.items()):
        key = day_shard_key(day, shard)
        if str(key) in held or day in waiting_days:
            continue
        if not day_shard_partitions.has_partition_key(key):
            context.log.error(f"work for {day}, outside the daily partitions; left in staging/")
            continue
        requests.append(
            RunRequest(job_name=daily_job.name, partition_key=key, tags={TRIGGER: trigger})
        )
        busy_days.add(day)

    for day in sorted(set(cursor.county_due) - busy_days - backoff):
        requests.append(
            RunRequest(job_name=county_job.name, partition_key=day, tags={TRIGGER: "shards_merged"})
        )

    for key in sorted(_analytics_ready(cursor, analysing, now) - held):
        requests.append(
            RunRequest(
                job_name=analytics_job.name, partition_key=key, tags={TRIGGER: "shard_merged"}
            )
        )
        cursor.analytics_started[key] = now

    if not requests:
        waiting = len(shard_work) + len(cursor.county_due) + len(cursor.analytics_due)
        return SensorResult(
            skip_reason=f"{waiting} partitions with work due, each in progress, backing off or "
            "waiting for its turn"
            if waiting
            else "no staged readings waiting, gold up to date",
            cursor=cursor.dump(),
        )
    return SensorResult(run_requests=requests, cursor=cursor.dump())


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
