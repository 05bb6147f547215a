"""The one Definitions object: assets, checks, sensors, schedules, jobs and resources."""

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    Definitions,
    ScheduleDefinition,
    define_asset_job,
    in_process_executor,
)

from energy_platform import checks
from energy_platform.assets.aggregates import county_5min_aggregates, site_daily_aggregates
from energy_platform.assets.ingest import ingest_raw_files
from energy_platform.assets.readings import daily_readings
from energy_platform.assets.report import energy_report
from energy_platform.jobs import FRESHNESS_CHECK, daily_job, ingest_job
from energy_platform.resources import AlertNotifier, DynamoTables, EventQueues, LakeStorage
from energy_platform.schedules import simulator_job, simulator_schedule
from energy_platform.sensors import (
    raw_files_sensor,
    run_failure_alert_sensor,
    staged_partitions_sensor,
)

freshness_job = define_asset_job(
    "freshness_job",
    selection=AssetSelection.checks(FRESHNESS_CHECK),
    executor_def=in_process_executor,
    description="Check that nothing under raw/ or staging/ waits longer than the freshness bound.",
)
freshness_schedule = ScheduleDefinition(
    job=freshness_job,
    cron_schedule="*/10 * * * *",
    description="Every 10 minutes: the freshness check, which alerts when files wait too long.",
)

automation_sensor = AutomationConditionSensorDefinition(
    "automation_sensor",
    target=AssetSelection.all(),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Evaluates the assets' automation conditions (energy_report: rebuilt after new "
    "data, at most every 5 minutes). On by default: Dagster's own default sensor starts stopped.",
)

defs = Definitions(
    assets=[
        ingest_raw_files,
        daily_readings,
        county_5min_aggregates,
        site_daily_aggregates,
        energy_report,
    ],
    asset_checks=[
        checks.required_columns_not_null,
        checks.unique_site_and_timestamp,
        checks.values_in_range,
        checks.county_5min_reconciles,
        checks.site_daily_reconciles,
        checks.raw_objects_processed_in_time,
    ],
    jobs=[ingest_job, daily_job, freshness_job, simulator_job],
    sensors=[
        raw_files_sensor,
        staged_partitions_sensor,
        run_failure_alert_sensor,
        automation_sensor,
    ],
    schedules=[freshness_schedule, simulator_schedule],
    resources={
        "lake": LakeStorage(),
        "tables": DynamoTables(),
        "queues": EventQueues(),
        "alerts": AlertNotifier(),
    },
)
