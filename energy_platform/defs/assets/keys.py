"""The platform's asset keys, named once (jobs, checks, sensors and tests refer to these)."""

from typing import Final

from dagster import AssetKey

STAGED_READINGS: Final = AssetKey("staged_readings")
QUARANTINED_RECORDS: Final = AssetKey("quarantined_records")
CLEANED_READINGS: Final = AssetKey("cleaned_readings")
READING_ANOMALIES: Final = AssetKey("reading_anomalies")
COUNTY_5MIN_PARTIALS: Final = AssetKey("county_5min_partials")
COUNTY_5MIN_AGGREGATES: Final = AssetKey("county_5min_aggregates")
SITE_DAILY_AGGREGATES: Final = AssetKey("site_daily_aggregates")
DEVICE_DAILY_STATS: Final = AssetKey("device_daily_stats")
SITE_BASELINE: Final = AssetKey("site_baseline")
UNDERPERFORMANCE_EVENTS: Final = AssetKey("underperformance_events")
ENERGY_REPORT: Final = AssetKey("energy_report")

SILVER: Final = (CLEANED_READINGS, READING_ANOMALIES)
SHARD_GOLD: Final = (SITE_DAILY_AGGREGATES, DEVICE_DAILY_STATS, COUNTY_5MIN_PARTIALS)
"""Gold of one site shard of a day, built in the shard's run with its silver."""
GOLD: Final = (*SHARD_GOLD, COUNTY_5MIN_AGGREGATES)
ANALYTICS: Final = (SITE_BASELINE, UNDERPERFORMANCE_EVENTS)
