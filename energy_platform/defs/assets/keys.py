"""The platform's asset keys, named once (jobs, checks, sensors and tests refer to these)."""

from typing import Final

from dagster import AssetKey

STAGED_READINGS: Final = AssetKey("staged_readings")
QUARANTINED_RECORDS: Final = AssetKey("quarantined_records")
CLEANED_READINGS: Final = AssetKey("cleaned_readings")
READING_ANOMALIES: Final = AssetKey("reading_anomalies")
COUNTY_5MIN_AGGREGATES: Final = AssetKey("county_5min_aggregates")
SITE_DAILY_AGGREGATES: Final = AssetKey("site_daily_aggregates")
DEVICE_DAILY_STATS: Final = AssetKey("device_daily_stats")
SITE_BASELINE: Final = AssetKey("site_baseline")
UNDERPERFORMANCE_EVENTS: Final = AssetKey("underperformance_events")
ENERGY_REPORT: Final = AssetKey("energy_report")

SILVER: Final = (CLEANED_READINGS, READING_ANOMALIES)
GOLD: Final = (COUNTY_5MIN_AGGREGATES, SITE_DAILY_AGGREGATES, DEVICE_DAILY_STATS)
ANALYTICS: Final = (SITE_BASELINE, UNDERPERFORMANCE_EVENTS)
