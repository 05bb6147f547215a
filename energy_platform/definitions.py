"""The one Definitions object: assets, checks, sensors, schedules, jobs and resources.

Everything it lists is defined under energy_platform/defs/; the resources are in
energy_platform/resources/. `dg` ([tool.dg] in pyproject.toml), the Dockerfile's code server and
the tests all load this module.
"""

from dagster import Definitions

from energy_platform.defs import checks
from energy_platform.defs.assets.aggregates import (
    county_5min_aggregates,
    county_5min_partials,
    device_daily_stats,
    site_daily_aggregates,
)
from energy_platform.defs.assets.analytics import site_baseline_asset, underperformance_events
from energy_platform.defs.assets.ingest import ingest_raw_files
from energy_platform.defs.assets.readings import daily_readings
from energy_platform.defs.assets.report import energy_report
from energy_platform.defs.jobs import (
    analytics_job,
    county_job,
    daily_job,
    freshness_job,
    ingest_job,
)
from energy_platform.defs.metrics import failed_run_metrics_sensor, run_metrics_sensor
from energy_platform.defs.schedules import freshness_schedule
from energy_platform.defs.sensors import (
    automation_sensor,
    raw_files_sensor,
    run_failure_alert_sensor,
    staged_partitions_sensor,
)
from energy_platform.defs.simulator import simulator_job, simulator_schedule
from energy_platform.resources import AlertNotifier, DynamoTables, EventQueues, LakeStorage

defs = Definitions(
    assets=[
        ingest_raw_files,
        daily_readings,
        county_5min_partials,
        county_5min_aggregates,
        site_daily_aggregates,
        device_daily_stats,
        site_baseline_asset,
        underperformance_events,
        energy_report,
    ],
    asset_checks=[
        checks.required_columns_not_null,
        checks.unique_site_and_timestamp,
        checks.values_in_range,
        checks.county_5min_partials_reconcile,
        checks.county_5min_reconciles,
        checks.site_daily_reconciles,
        checks.raw_objects_processed_in_time,
    ],
    jobs=[ingest_job, daily_job, county_job, analytics_job, freshness_job, simulator_job],
    sensors=[
        raw_files_sensor,
        staged_partitions_sensor,
        run_failure_alert_sensor,
        automation_sensor,
        run_metrics_sensor,
        failed_run_metrics_sensor,
    ],
    schedules=[freshness_schedule, simulator_schedule],
    resources={
        "lake": LakeStorage(),
        "tables": DynamoTables(),
        "queues": EventQueues(),
        "alerts": AlertNotifier(),
    },
)
