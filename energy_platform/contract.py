"""The data contract as code: prefixes, table names, columns, reason codes, anomaly types.

Every other module imports these names; none re-types them. docs/CONTRACT.md explains them.
"""

from __future__ import annotations

from typing import Final

# --- S3 layout (all under one bucket) -------------------------------------------------------
RAW_PREFIX: Final = "raw/"
QUARANTINE_PREFIX: Final = "quarantine/"
STAGING_READINGS_PREFIX: Final = "staging/readings/"
SILVER_READINGS_PREFIX: Final = "silver/readings/"
SILVER_ANOMALIES_PREFIX: Final = "silver/anomalies/"
GOLD_COUNTY_5MIN_PREFIX: Final = "gold/county_5min/"
GOLD_SITE_DAILY_PREFIX: Final = "gold/site_daily/"
GOLD_DEVICE_DAILY_PREFIX: Final = "gold/device_daily/"
GOLD_SITE_BASELINE_PREFIX: Final = "gold/site_baseline/"
GOLD_UNDERPERFORMANCE_PREFIX: Final = "gold/underperformance/"
GOLD_COUNTY_PARTIALS_PREFIX: Final = "gold/county_5min_partials/"
"""Each site shard's county_5min sums; gold/county_5min/ is their sum (exact: a site is in one shard)."""
SHARD_LAYOUT_KEY: Final = "silver/_layout.json"
"""Records the shard count silver was written with: a platform started with another one refuses
to merge (sites would move between shards and be counted twice)."""
REPORT_KEY: Final = "reports/energy_report.html"
PARTITION_FILE: Final = "part-0.parquet"
"""The one file of a day partition `date=YYYY-MM-DD/` of a whole-day dataset (county_5min).
Site-sharded datasets (silver, site_daily, device_daily, county_5min_partials, site_baseline,
underperformance) hold one file per shard instead, `part-<shard>.parquet`: a reader takes every
file of the day."""

SUPPORTED_EXTENSIONS: Final = (".json", ".jsonl", ".ndjson", ".csv")
GZIP_EXTENSION: Final = ".gz"

# --- DynamoDB tables, SNS topic, SQS queues (names get the configured prefix) ---------------
READINGS_TABLE: Final = "readings"
ANOMALIES_TABLE: Final = "anomalies"
COUNTY_5MIN_TABLE: Final = "county_5min"
SITE_DAILY_TABLE: Final = "site_daily"
INGESTED_FILES_TABLE: Final = "ingested_files"
"""Ledger of raw objects processed (one item per key and ETag): the sensor's memory."""
DEVICE_DAILY_TABLE: Final = "device_daily"
UNDERPERFORMANCE_TABLE: Final = "underperformance"

TABLE_KEYS: Final[dict[str, tuple[str, str]]] = {
    READINGS_TABLE: ("site_id", "ts"),
    ANOMALIES_TABLE: ("site_id", "ts_type"),
    COUNTY_5MIN_TABLE: ("county", "window_start"),
    SITE_DAILY_TABLE: ("site_id", "date"),
    INGESTED_FILES_TABLE: ("source_key", "etag"),
    DEVICE_DAILY_TABLE: ("device_id", "date"),
    UNDERPERFORMANCE_TABLE: ("site_id", "start"),
}

ALERTS_TOPIC: Final = "alerts"
RAW_EVENTS_QUEUE: Final = "raw_events"
"""Receives the bucket's ObjectCreated notifications for `raw/`; the ingest sensor drains it."""
DEAD_LETTERS_QUEUE: Final = "dead_letters"
"""Keys of raw objects whose run failed for good, with the error; `energy-platform replay`."""


def prefixed(prefix: str, name: str) -> str:
    """`energy_` + `readings` -> `energy_readings` (tables, topic and queues alike)."""
    return f"{prefix}{name}"


# --- Input record fields ---------------------------------------------------------------------
SITE_ID: Final = "site_id"
TIMESTAMP: Final = "timestamp"
GENERATED: Final = "energy_generated_kwh"
CONSUMED: Final = "energy_consumed_kwh"
COUNTY: Final = "county"
UNIT: Final = "unit"
DEVICE_ID: Final = "device_id"
ANOMALY_SCORE: Final = "anomaly_score"

INPUT_FIELDS: Final = (
    SITE_ID,
    TIMESTAMP,
    GENERATED,
    CONSUMED,
    COUNTY,
    UNIT,
    DEVICE_ID,
    ANOMALY_SCORE,
)
REQUIRED_FIELDS: Final = (SITE_ID, TIMESTAMP, GENERATED, CONSUMED)

SITE_ID_PATTERN: Final = r"^[A-Za-z0-9_.:-]{1,64}$"
UNKNOWN_COUNTY: Final = "unknown"
UNIT_FACTORS: Final[dict[str, float]] = {"kWh": 1.0, "Wh": 0.001, "MWh": 1000.0}
FUTURE_TOLERANCE_HOURS: Final = 24
DEFAULT_FIRST_DAY: Final = "2024-01-01"
"""The first daily partition unless `ENERGY_FIRST_DAY` says otherwise: a reading before it is
`bad_timestamp` (no partition could hold it)."""
EPOCH_MS_THRESHOLD: Final = 1e11
"""An epoch number above this is in milliseconds, below it in seconds."""
MAX_UTC_OFFSET_HOURS: Final = 14
"""An ISO timestamp's UTC offset is within ±14:00 (the widest any time zone uses)."""
MAX_COUNTY_BYTES: Final = 2048
"""A trimmed county holds at most this many UTF-8 bytes: county_5min's DynamoDB partition key."""
MAX_ABS_KWH: Final = 1e9
"""The largest |energy value| of one reading, in kWh after unit conversion (1 TWh: no site
meters that in one reading; 1,000 kWh is already `out_of_range`). Then |net_kwh| <= 2e9, and a
sum of even 1e15 readings stays under 2e24: finite and far below DynamoDB's 9.99e125."""
MIN_NONZERO_ABS: Final = 1e-100
"""The smallest non-zero |number| kept (energy values in kWh, `anomaly_score`): DynamoDB holds
no non-zero number under 1e-130. Every double this large is a multiple of 2**-385, and so is
any sum or difference of them: a non-zero net or aggregate is never under about 1e-116."""

# --- Cleaned readings (silver/readings, DynamoDB readings) -----------------------------------
TS: Final = "ts"
NET: Final = "net_kwh"
IS_ANOMALY: Final = "is_anomaly"
SOURCE_KEY: Final = "source_key"
SOURCE_LINE: Final = "source_line"
"""1-based line for JSON lines and CSV (header = line 1), 0-based index for a JSON array."""
ARRIVAL: Final = "arrival_ms"
"""When the source object arrived (epoch ms): a later arrival of the same reading replaces it."""
DATE: Final = "date"

READING_KEY: Final = (SITE_ID, TS)

# --- Quarantine ------------------------------------------------------------------------------
REASON: Final = "reason"
DETAIL: Final = "detail"
RAW_RECORD: Final = "raw"


class Reason:
    """Quarantine reason codes."""

    MISSING_FIELD: Final = "missing_field"
    BAD_NUMBER: Final = "bad_number"
    BAD_TIMESTAMP: Final = "bad_timestamp"
    TIMESTAMP_IN_FUTURE: Final = "timestamp_in_future"
    BAD_SITE_ID: Final = "bad_site_id"
    UNKNOWN_UNIT: Final = "unknown_unit"
    BAD_ANOMALY_SCORE: Final = "bad_anomaly_score"
    UNPARSEABLE_RECORD: Final = "unparseable_record"
    """Our extension: one line of a JSON-lines or CSV file that is not a record at all."""
    COUNTY_TOO_LONG: Final = "county_too_long"
    """Our extension: a county over `MAX_COUNTY_BYTES`, which no DynamoDB key can hold."""
    NUMBER_OUT_OF_RANGE: Final = "number_out_of_range"
    """Our extension: an energy value, in kWh, over `MAX_ABS_KWH` or non-zero under
    `MIN_NONZERO_ABS` in magnitude: finite as written, but not storable or summable."""
    RECORD_TOO_LONG: Final = "record_too_long"
    """A record over `MAX_RECORD_BYTES`: its head, size and SHA-256 are kept."""
    UNSUPPORTED_FORMAT: Final = "unsupported_format"
    UNPARSEABLE_FILE: Final = "unparseable_file"
    FILE_TOO_LARGE: Final = "file_too_large"
    """More decompressed bytes than the reader's cap (`ENERGY_MAX_FILE_BYTES`)."""
    DECOMPRESSION_BOMB: Final = "decompression_bomb"
    """A gzip that inflates more than the reader's ratio cap (`ENERGY_MAX_INFLATE_RATIO`)."""


RECORD_REASONS: Final = (
    Reason.MISSING_FIELD,
    Reason.BAD_NUMBER,
    Reason.BAD_TIMESTAMP,
    Reason.TIMESTAMP_IN_FUTURE,
    Reason.BAD_SITE_ID,
    Reason.UNKNOWN_UNIT,
    Reason.BAD_ANOMALY_SCORE,
    Reason.UNPARSEABLE_RECORD,
    Reason.COUNTY_TOO_LONG,
    Reason.NUMBER_OUT_OF_RANGE,
    Reason.RECORD_TOO_LONG,
)
FILE_REASONS: Final = (
    Reason.UNSUPPORTED_FORMAT,
    Reason.UNPARSEABLE_FILE,
    Reason.FILE_TOO_LARGE,
    Reason.DECOMPRESSION_BOMB,
)
MAX_RECORD_BYTES: Final = 65_536
"""A longer record (a 50 MB county, say) could never be served (a DynamoDB item holds at most
400 KB): it is quarantined as `record_too_long`."""

# --- Anomalies -------------------------------------------------------------------------------
ANOMALY_TYPE: Final = "anomaly_type"
TS_TYPE: Final = "ts_type"
ANOMALY_DATE: Final = DATE
"""Every anomaly item carries its reading's UTC date (`YYYY-MM-DD`): the by-date index's key."""
ANOMALIES_BY_DATE_INDEX: Final = "by_date"
"""Global secondary index of the anomalies table: all sites' anomalies of one day, in time order."""

UNDERPERFORMANCE_BY_DATE_INDEX: Final = "by_date"
"""Global secondary index of the underperformance table: all sites' event days of one date."""

TABLE_INDEXES: Final[dict[str, dict[str, tuple[str, str]]]] = {
    ANOMALIES_TABLE: {ANOMALIES_BY_DATE_INDEX: (ANOMALY_DATE, TS_TYPE)},
    UNDERPERFORMANCE_TABLE: {UNDERPERFORMANCE_BY_DATE_INDEX: ("date", "start")},
}
"""Global secondary indexes (partition key, sort key) by table; every attribute projected."""


class AnomalyType:
    """Anomaly types; the statistical ones are documented in docs/ANOMALIES.md."""

    NEGATIVE_VALUE: Final = "negative_value"
    DEVICE_FLAGGED: Final = "device_flagged"
    OUT_OF_RANGE: Final = "out_of_range"
    SPIKE: Final = "spike"
    STUCK_SENSOR: Final = "stuck_sensor"


ANOMALY_TYPES: Final = (
    AnomalyType.NEGATIVE_VALUE,
    AnomalyType.DEVICE_FLAGGED,
    AnomalyType.OUT_OF_RANGE,
    AnomalyType.SPIKE,
    AnomalyType.STUCK_SENSOR,
)
DEVICE_FLAG_THRESHOLD: Final = 0.5

# --- Aggregates ------------------------------------------------------------------------------
WINDOW_START: Final = "window_start"
READING_COUNT: Final = "reading_count"
ANOMALY_COUNT: Final = "anomaly_count"
SITE_COUNT: Final = "site_count"
GENERATED_SUM: Final = "generated_kwh"
CONSUMED_SUM: Final = "consumed_kwh"
MIN_NET: Final = "min_net_kwh"
MAX_NET: Final = "max_net_kwh"
WINDOW_MINUTES: Final = 5

# --- Analytics: device statistics, site baselines, underperformance -------------------------
ANOMALY_SHARE: Final = "anomaly_share"
MIN_GENERATED: Final = "min_generated_kwh"
AVG_GENERATED: Final = "avg_generated_kwh"
MAX_GENERATED: Final = "max_generated_kwh"
MIN_CONSUMED: Final = "min_consumed_kwh"
AVG_CONSUMED: Final = "avg_consumed_kwh"
MAX_CONSUMED: Final = "max_consumed_kwh"
SLOT: Final = "slot"
"""5-minute slot of the UTC day, 0..287."""
EXPECTED: Final = "expected_kwh"
TYPICAL: Final = "typical_kwh"
"""A site's median generation in a 5-minute slot over the baseline's trailing days."""
DAYLIGHT: Final = "daylight"
HISTORY_DAYS: Final = "history_days"
EVENT_START: Final = "event_start"
"""When the underperformance event began: its first day's `start` (events span nights)."""
START: Final = "start"
END: Final = "end"
ACTUAL: Final = "actual_kwh"
ENERGY_LOST: Final = "energy_lost_kwh"
PERFORMANCE_RATIO: Final = "performance_ratio"
OPEN: Final = "open"
"""The event still held at the site's last daylight slot of the day: the next day may continue it."""
UNDERPERFORMANCE: Final = "underperformance"

TS_FORMAT: Final = "%Y-%m-%dT%H:%M:%SZ"
"""How timestamps are written to DynamoDB and JSON outputs."""


def day_prefix(prefix: str, date: str) -> str:
    """The Hive partition of a day: `silver/readings/date=2024-01-02/`."""
    return f"{prefix}date={date}/"


def partition_object(prefix: str, date: str, shard: str | None = None) -> str:
    """A day partition's Parquet object: the day's one file, or one site shard's
    (`silver/readings/date=2024-01-02/part-017.parquet`)."""
    return (
        f"{day_prefix(prefix, date)}{PARTITION_FILE if shard is None else f'part-{shard}.parquet'}"
    )


def staging_prefix(date: str, shard: str) -> str:
    """Where one day and site shard's staged batches wait to be merged into silver."""
    return f"{day_prefix(STAGING_READINGS_PREFIX, date)}shard={shard}/"


def staging_object(date: str, shard: str, batch_id: str) -> str:
    """A batch's validated rows of one day and site shard, waiting to be merged into silver."""
    return f"{staging_prefix(date, shard)}{batch_id}.parquet"


def quarantine_object(source_key: str) -> str:
    """Where the rejected records of one raw object go: `raw/a/b.json` -> `quarantine/a/b.json.jsonl`."""
    name = source_key[len(RAW_PREFIX) :] if source_key.startswith(RAW_PREFIX) else source_key
    return f"{QUARANTINE_PREFIX}{name}.jsonl"
