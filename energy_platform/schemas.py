"""Arrow schemas of what the platform writes to S3 (Parquet) and its order of columns.

Times are UTC at 1 s resolution. Each Hive partition `date=YYYY-MM-DD/` holds one file
(`contract.PARTITION_FILE`) with these columns; the partition value is not repeated as a
column except in `site_daily`, where `date` is part of the contract's key.
"""

from __future__ import annotations

import pyarrow as pa

from energy_platform import contract as c

UTC_SECONDS = pa.timestamp("s", tz="UTC")

READINGS = pa.schema(
    [
        (c.SITE_ID, pa.string()),
        (c.TS, UTC_SECONDS),
        (c.COUNTY, pa.string()),
        (c.GENERATED, pa.float64()),
        (c.CONSUMED, pa.float64()),
        (c.NET, pa.float64()),
        (c.DEVICE_ID, pa.string()),
        (c.ANOMALY_SCORE, pa.float64()),
        (c.IS_ANOMALY, pa.bool_()),
        (c.SOURCE_KEY, pa.string()),
        (c.SOURCE_LINE, pa.int64()),
        (c.ARRIVAL, pa.int64()),
    ]
)
"""silver/readings: one row per (site_id, ts), the latest arrival."""

STAGED_READINGS = pa.schema([f for f in READINGS if f.name != c.IS_ANOMALY])
"""staging/readings: validated rows of one batch, waiting to be merged into silver."""

ANOMALIES = pa.schema(
    [
        (c.SITE_ID, pa.string()),
        (c.TS, UTC_SECONDS),
        (c.ANOMALY_TYPE, pa.string()),
        (c.TS_TYPE, pa.string()),
        (c.COUNTY, pa.string()),
        (c.GENERATED, pa.float64()),
        (c.CONSUMED, pa.float64()),
        (c.NET, pa.float64()),
        ("detail", pa.string()),
    ]
)
"""silver/anomalies: one row per (reading, anomaly type); ts_type = `YYYY-MM-DDTHH:MM:SSZ#type`."""

COUNTY_5MIN = pa.schema(
    [
        (c.COUNTY, pa.string()),
        (c.WINDOW_START, UTC_SECONDS),
        (c.READING_COUNT, pa.int64()),
        (c.ANOMALY_COUNT, pa.int64()),
        (c.SITE_COUNT, pa.int64()),
        (c.GENERATED_SUM, pa.float64()),
        (c.CONSUMED_SUM, pa.float64()),
        (c.NET, pa.float64()),
    ]
)
"""gold/county_5min: per county and 5-minute window; energy sums over readings without anomalies."""

SITE_DAILY = pa.schema(
    [
        (c.SITE_ID, pa.string()),
        (c.DATE, pa.string()),
        (c.READING_COUNT, pa.int64()),
        (c.ANOMALY_COUNT, pa.int64()),
        (c.GENERATED_SUM, pa.float64()),
        (c.CONSUMED_SUM, pa.float64()),
        (c.NET, pa.float64()),
        (c.MIN_NET, pa.float64()),
        (c.MAX_NET, pa.float64()),
    ]
)
"""gold/site_daily: per site and UTC date; sums, min and max over readings without anomalies."""

DEVICE_DAILY = pa.schema(
    [
        (c.DEVICE_ID, pa.string()),
        (c.DATE, pa.string()),
        (c.SITE_ID, pa.string()),
        (c.READING_COUNT, pa.int64()),
        (c.ANOMALY_COUNT, pa.int64()),
        (c.ANOMALY_SHARE, pa.float64()),
        (c.GENERATED_SUM, pa.float64()),
        (c.CONSUMED_SUM, pa.float64()),
        (c.MIN_GENERATED, pa.float64()),
        (c.AVG_GENERATED, pa.float64()),
        (c.MAX_GENERATED, pa.float64()),
        (c.MIN_CONSUMED, pa.float64()),
        (c.AVG_CONSUMED, pa.float64()),
        (c.MAX_CONSUMED, pa.float64()),
    ]
)
"""gold/device_daily: per device (or, for readings without one, the site id) and UTC date;
counts over every reading, sums and min/avg/max over readings without anomalies."""

SITE_BASELINE = pa.schema(
    [
        (c.SITE_ID, pa.string()),
        (c.COUNTY, pa.string()),
        (c.SLOT, pa.int64()),
        (c.EXPECTED, pa.float64()),
        (c.TYPICAL, pa.float64()),
        (c.DAYLIGHT, pa.bool_()),
        (c.HISTORY_DAYS, pa.int64()),
    ]
)
"""gold/site_baseline: per site and 5-minute slot of the day, the generation its recent history
leads to expect (transforms/baseline.py)."""

UNDERPERFORMANCE = pa.schema(
    [
        (c.SITE_ID, pa.string()),
        (c.START, UTC_SECONDS),
        (c.END, UTC_SECONDS),
        (c.EVENT_START, UTC_SECONDS),
        (c.DATE, pa.string()),
        (c.COUNTY, pa.string()),
        (c.EXPECTED, pa.float64()),
        (c.ACTUAL, pa.float64()),
        (c.ENERGY_LOST, pa.float64()),
        (c.PERFORMANCE_RATIO, pa.float64()),
        (c.OPEN, pa.bool_()),
    ]
)
"""gold/underperformance: one row per underperformance event and UTC day it covers
(transforms/underperformance.py); `event_start` ties the days of one event together."""

MAX_QUARANTINED_RAW_BYTES = 64 * 1024
"""A quarantined record keeps at most this many bytes (UTF-8, whole characters) of its raw text;
the full text stays in the raw object under raw/."""
RAW_BYTES = "raw_bytes"
"""The full raw record's length in UTF-8 bytes."""
RAW_SHA256 = "raw_sha256"
"""Hex SHA-256 of the full raw record's UTF-8 bytes."""

QUARANTINE = pa.schema(
    [
        (c.SOURCE_KEY, pa.string()),
        (c.SOURCE_LINE, pa.int64()),
        (c.REASON, pa.string()),
        (c.DETAIL, pa.string()),
        (c.RAW_RECORD, pa.string()),
        (RAW_BYTES, pa.int64()),
        (RAW_SHA256, pa.string()),
    ]
)
"""quarantine/: JSON lines, one object per rejected record (or one per rejected file, line null);
`raw` is the record's text cut to MAX_QUARANTINED_RAW_BYTES, `raw_bytes` and `raw_sha256` are of
the full text."""
QUARANTINE_FIELDS = tuple(QUARANTINE.names)
