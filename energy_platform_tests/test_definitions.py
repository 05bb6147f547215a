"""The Definitions load the way `dg dev`, `dg check defs` and the code server load them."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
from dagster import AssetKey, AutomationConditionSensorDefinition, DefaultSensorStatus

from energy_platform import schemas
from energy_platform.definitions import defs
from energy_platform.defs.assets import keys
from energy_platform.defs.assets.policies import (
    ANALYTICS_FRESHNESS,
    ANALYTICS_INTERVAL,
    DATA_FRESHNESS,
    REPORT_FRESHNESS,
    REPORT_REFRESH_MINUTES,
    report_refresh,
)
from energy_platform.defs.metadata import COLUMN_SCHEMA

PROJECT = Path(__file__).resolve().parent.parent


def test_dg_check_defs_passes_without_a_warning() -> None:
    """The dg project (pyproject.toml's [tool.dg]) loads energy_platform.definitions."""
    env = {**os.environ, "VIRTUAL_ENV": sys.prefix}
    out = subprocess.run(
        [str(Path(sys.executable).with_name("dg")), "check", "defs"],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    output = out.stderr + out.stdout
    assert out.returncode == 0, output[-2000:]
    assert "All definitions loaded successfully" in output
    assert "warning" not in output.lower(), output[-2000:]


def test_importing_the_definitions_warns_nothing() -> None:
    """Every warning is an error here: the partitioned checks' PreviewWarning is filtered at its
    source (defs/checks.py), nothing else warns."""
    out = subprocess.run(
        [sys.executable, "-W", "error", "-c", "import energy_platform.definitions"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stderr == "", out.stderr[-2000:]


def test_assets_in_named_groups_as_one_graph() -> None:
    graph = defs.resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups == {
        "staged_readings": "ingestion",
        "quarantined_records": "ingestion",
        "cleaned_readings": "silver",
        "reading_anomalies": "silver",
        "county_5min_partials": "gold",
        "county_5min_aggregates": "gold",
        "site_daily_aggregates": "gold",
        "device_daily_stats": "gold",
        "site_baseline": "analytics",
        "underperformance_events": "analytics",
        "energy_report": "reporting",
    }
    # One connected graph from ingestion to the report.
    assert AssetKey("staged_readings") in graph.get(AssetKey("cleaned_readings")).parent_keys
    assert AssetKey("cleaned_readings") in graph.get(AssetKey("county_5min_partials")).parent_keys
    partials = graph.get(AssetKey("county_5min_aggregates")).parent_keys
    assert AssetKey("county_5min_partials") in partials
    for key in graph.get_all_asset_keys():
        assert graph.get(key).description, f"{key.to_user_string()} has no description for the UI"


def test_sensors_run_by_default_and_the_simulator_does_not() -> None:
    names = (
        "raw_files_sensor",
        "staged_partitions_sensor",
        "run_failure_alert_sensor",
        "automation_sensor",
        "run_metrics_sensor",
        "failed_run_metrics_sensor",
    )
    for name in names:
        assert defs.resolve_sensor_def(name).default_status == DefaultSensorStatus.RUNNING
    # No second, stopped `default_automation_condition_sensor` next to ours.
    assert {s.name for s in defs.get_repository_def().sensor_defs} == set(names)
    schedule = defs.resolve_schedule_def("simulator_schedule")
    assert schedule.default_status.value == "STOPPED"
    assert schedule.cron_schedule == "*/5 * * * *"


def test_blocking_checks_guard_the_aggregates() -> None:
    graph = defs.resolve_asset_graph()
    checks = {key.name: graph.get_check_spec(key) for key in graph.asset_check_keys}
    assert checks["required_columns_not_null"].blocking
    assert checks["unique_site_and_timestamp"].blocking
    assert {
        "county_5min_reconciles",
        "site_daily_reconciles",
        "accounting_per_file",
        "raw_objects_processed_in_time",
    } <= set(checks)


def test_the_report_refreshes_itself_through_the_automation_sensor() -> None:
    sensor = defs.resolve_sensor_def("automation_sensor")
    assert isinstance(sensor, AutomationConditionSensorDefinition)
    graph = defs.resolve_asset_graph()
    conditions = {
        key: graph.get(key).automation_condition
        for key in graph.get_all_asset_keys()
        if graph.get(key).automation_condition
    }
    assert conditions == {keys.ENERGY_REPORT: report_refresh()}
    assert sensor.asset_selection.resolve(graph) >= {keys.ENERGY_REPORT}


def test_freshness_policies_on_silver_gold_and_the_report() -> None:
    graph = defs.resolve_asset_graph()
    policies = {
        key: graph.get(key).freshness_policy
        for key in graph.get_all_asset_keys()
        if graph.get(key).freshness_policy
    }
    assert policies == {
        **dict.fromkeys((*keys.SILVER, *keys.GOLD), DATA_FRESHNESS),
        **dict.fromkeys(keys.ANALYTICS, ANALYTICS_FRESHNESS),
        keys.ENERGY_REPORT: REPORT_FRESHNESS,
    }
    refresh = timedelta(minutes=REPORT_REFRESH_MINUTES)
    for data, later, by in (
        (DATA_FRESHNESS.warn_window, REPORT_FRESHNESS.warn_window, refresh),
        (DATA_FRESHNESS.fail_window, REPORT_FRESHNESS.fail_window, refresh),
        (DATA_FRESHNESS.warn_window, ANALYTICS_FRESHNESS.warn_window, ANALYTICS_INTERVAL),
        (DATA_FRESHNESS.fail_window, ANALYTICS_FRESHNESS.fail_window, ANALYTICS_INTERVAL),
    ):
        assert later.to_timedelta() == data.to_timedelta() + by


def _columns(schema: pa.Schema) -> list[tuple[str, str]]:
    return [(f.name, str(f.type)) for f in schema]


def test_tables_show_their_columns_before_any_run() -> None:
    graph = defs.resolve_asset_graph()
    expected = {
        keys.STAGED_READINGS: schemas.STAGED_READINGS,
        keys.QUARANTINED_RECORDS: schemas.QUARANTINE,
        keys.CLEANED_READINGS: schemas.READINGS,
        keys.READING_ANOMALIES: schemas.ANOMALIES,
        keys.COUNTY_5MIN_AGGREGATES: schemas.COUNTY_5MIN,
        keys.SITE_DAILY_AGGREGATES: schemas.SITE_DAILY,
        keys.DEVICE_DAILY_STATS: schemas.DEVICE_DAILY,
        keys.SITE_BASELINE: schemas.SITE_BASELINE,
        keys.UNDERPERFORMANCE_EVENTS: schemas.UNDERPERFORMANCE,
    }
    for key, schema in expected.items():
        shown = graph.get(key).metadata[COLUMN_SCHEMA].value
        assert [(col.name, col.type) for col in shown.columns] == _columns(schema), key
