"""The rules of the data as pure functions over Arrow tables and pandas frames.

No Dagster and no boto3 here: parse raw bytes, validate records, de-duplicate readings,
detect anomalies, aggregate, and recompute aggregates independently for the checks.
"""

from energy_platform.transforms.aggregate import county_5min, site_daily
from energy_platform.transforms.anomalies import AnomalyParams, detect_anomalies
from energy_platform.transforms.dedupe import latest_readings
from energy_platform.transforms.frames import to_frame, to_table
from energy_platform.transforms.parse import FileError, ParsedFile, parse_object
from energy_platform.transforms.quarantine import quarantine_jsonl
from energy_platform.transforms.reconcile import diff_frames, recompute_aggregates_sql
from energy_platform.transforms.validate import ValidationResult, validate_records

__all__ = [
    "AnomalyParams",
    "FileError",
    "ParsedFile",
    "ValidationResult",
    "county_5min",
    "detect_anomalies",
    "diff_frames",
    "latest_readings",
    "parse_object",
    "quarantine_jsonl",
    "recompute_aggregates_sql",
    "site_daily",
    "to_frame",
    "to_table",
    "validate_records",
]
