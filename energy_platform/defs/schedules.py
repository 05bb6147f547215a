"""Schedules: the freshness check every 10 minutes (the simulator's schedule is in simulator.py)."""

from dagster import ScheduleDefinition

from energy_platform.defs.jobs import freshness_job

freshness_schedule = ScheduleDefinition(
    job=freshness_job,
    cron_schedule="*/10 * * * *",
    description="Every 10 minutes: the freshness check, which alerts when files wait too long.",
)
