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
