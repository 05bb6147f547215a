"""The day-partitioned datasets: where each lives in S3 and DynamoDB, and its schema. COUNTY_5MIN
has one object per day; the others one per site shard of a day."""

from __future__ import annotations

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.resources.daystore import DayDataset
from energy_platform.transforms import serving

READINGS = DayDataset(
    c.SILVER_READINGS_PREFIX, c.READINGS_TABLE, schemas.READINGS, serving.readings_items
)
ANOMALIES = DayDataset(
    c.SILVER_ANOMALIES_PREFIX, c.ANOMALIES_TABLE, schemas.ANOMALIES, serving.anomalies_items
)
COUNTY_5MIN = DayDataset(
    c.GOLD_COUNTY_5MIN_PREFIX, c.COUNTY_5MIN_TABLE, schemas.COUNTY_5MIN, serving.county_5min_items
)
COUNTY_5MIN_PARTIALS = DayDataset(c.GOLD_COUNTY_PARTIALS_PREFIX, None, schemas.COUNTY_5MIN, None)
"""One site shard's county_5min (S3 only): COUNTY_5MIN is their sum."""
SITE_DAILY = DayDataset(
    c.GOLD_SITE_DAILY_PREFIX, c.SITE_DAILY_TABLE, schemas.SITE_DAILY, serving.site_daily_items
)
DEVICE_DAILY = DayDataset(
    c.GOLD_DEVICE_DAILY_PREFIX,
    c.DEVICE_DAILY_TABLE,
    schemas.DEVICE_DAILY,
    serving.device_daily_items,
)
SITE_BASELINE = DayDataset(c.GOLD_SITE_BASELINE_PREFIX, None, schemas.SITE_BASELINE, None)
UNDERPERFORMANCE = DayDataset(
    c.GOLD_UNDERPERFORMANCE_PREFIX,
    c.UNDERPERFORMANCE_TABLE,
    schemas.UNDERPERFORMANCE,
    serving.underperformance_items,
)
