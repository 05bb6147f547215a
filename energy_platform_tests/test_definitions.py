"""The Definitions load the way `dagster dev` and `dagster definitions validate` load them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dagster import AssetKey, DefaultSensorStatus

from energy_platform.definitions import defs

PROJECT = Path(__file__).resolve().parent.parent


def test_definitions_validate_from_the_workspace() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "dagster", "definitions", "validate", "-w", "workspace.yaml"],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "All code locations passed validation" in out.stderr + out.stdout


def test_assets_in_named_groups_as_one_graph() -> None:
    graph = defs.resolve_asset_graph()
    groups = {key.to_user_string(): graph.get(key).group_name for key in graph.get_all_asset_keys()}
    assert groups == {
        "staged_readings": "ingestion",
        "quarantined_records": "ingestion",
        "cleaned_readings": "silver",
        "reading_anomalies": "silver",
        "county_5min_aggregates": "gold",
        "site_daily_aggregates": "gold",
        "energy_report": "reporting",
    }
    # One connected graph from ingestion to the report.
    assert AssetKey("staged_readings") in graph.get(AssetKey("cleaned_readings")).parent_keys
    assert AssetKey("cleaned_readings") in graph.get(AssetKey("county_5min_aggregates")).parent_keys
    for key in graph.get_all_asset_keys():
        assert graph.get(key).description, f"{key.to_user_string()} has no description for the UI"


def test_sensors_run_by_default_and_the_simulator_does_not() -> None:
    for name in ("raw_files_sensor", "staged_partitions_sensor", "run_failure_alert_sensor"):
        assert defs.resolve_sensor_def(name).default_status == DefaultSensorStatus.RUNNING
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
