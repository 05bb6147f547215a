"""When the assets should be fresh, when the report refreshes itself, and how steps that touch
AWS are retried: the policies of the assets, in one place.

Meters report every 5 minutes and a raw file reaches silver and gold within a minute or so
(sensor ticks of 5 s, runs of seconds), so silver and gold updated less than 10 minutes ago
are fresh (one batch may be late). The report follows gold by at most one refresh interval.
See docs/OPERATIONS.md, "Freshness and the report's refresh".
"""

from datetime import timedelta
from typing import Final

from dagster import AutomationCondition, Backoff, FreshnessPolicy, RetryPolicy

from energy_platform.settings import get_settings

AWS_RETRY: Final = RetryPolicy(max_retries=3, delay=2, backoff=Backoff.EXPONENTIAL)
"""For steps that touch AWS: transient faults past botocore's own retries get the step retried."""

DATA_WARN_AFTER: Final = timedelta(minutes=10)
"""Silver and gold not updated for this long: WARN (two 5-minute batches without new data)."""
DATA_FAIL_AFTER: Final = timedelta(minutes=20)
"""Silver and gold not updated for this long: FAIL (four batches: data has stopped)."""
REPORT_REFRESH_MINUTES: Final = 5
"""The report is rebuilt at most once per this many minutes, on the cron tick after new data."""
REPORT_REFRESH_CRON: Final = f"*/{REPORT_REFRESH_MINUTES} * * * *"

DATA_FRESHNESS: Final = FreshnessPolicy.time_window(
    fail_window=DATA_FAIL_AFTER, warn_window=DATA_WARN_AFTER
)
"""For cleaned_readings, reading_anomalies and the gold aggregates (any day partition counts)."""
REPORT_FRESHNESS: Final = FreshnessPolicy.time_window(
    fail_window=DATA_FAIL_AFTER + timedelta(minutes=REPORT_REFRESH_MINUTES),
    warn_window=DATA_WARN_AFTER + timedelta(minutes=REPORT_REFRESH_MINUTES),
)
"""For energy_report: the data's windows plus one refresh interval."""
ANALYTICS_INTERVAL: Final = timedelta(seconds=get_settings().analytics_interval_seconds)
ANALYTICS_FRESHNESS: Final = FreshnessPolicy.time_window(
    fail_window=DATA_FAIL_AFTER + ANALYTICS_INTERVAL,
    warn_window=DATA_WARN_AFTER + ANALYTICS_INTERVAL,
)
"""For site_baseline and underperformance_events: the data's windows plus one analytics
interval (they rerun at most that often while a day's data changes)."""


def report_refresh() -> AutomationCondition:
    """On a tick of REPORT_REFRESH_CRON, if any dependency (any day partition of silver or gold,
    or quarantined_records) was updated since the report was last requested or materialized,
    and no run of the report is in progress."""
    return (
        AutomationCondition.cron_tick_passed(REPORT_REFRESH_CRON)
        & AutomationCondition.any_deps_updated().since_last_handled()
        & ~AutomationCondition.in_progress()
    ).with_label(f"refresh after new data, at most every {REPORT_REFRESH_MINUTES} minutes")
