"""A batch of raw objects -> validated rows, quarantined records and per-file accounting."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd

from energy_platform import contract as c
from energy_platform.transforms.parse import file_error, read_object
from energy_platform.transforms.pieces import ReadLimits
from energy_platform.transforms.validate import (
    ValidationResult,
    empty_clean,
    empty_quarantine,
    validate_records,
)


class SourceUnavailable(Exception):
    """The raw object could not be read from its store (a transient fault: retry the run),
    as opposed to bytes that cannot be parsed (the file is quarantined)."""


@dataclass(frozen=True)
class RawFile:
    """One raw object's bytes (or a way to stream them) and identity."""

    key: str
    etag: str
    arrival_ms: int
    body: bytes = b""
    chunks: Callable[[], Iterable[bytes]] | None = None
    """When set, the body is read from this stream instead of `body` (bounded memory)."""

    def stream(self) -> Iterable[bytes]:
        return self.chunks() if self.chunks is not None else [self.body]


@dataclass(frozen=True)
class BatchResult:
    clean: pd.DataFrame
    """Validated rows of every file (schemas.STAGED_READINGS), not yet de-duplicated."""
    quarantined: pd.DataFrame
    """Rejected records of every file (schemas.QUARANTINE_FIELDS)."""
    files: pd.DataFrame
    """One row per file: source_key, etag, records_read (as the parser counted them), cleaned,
    quarantined (as validation split them), reasons."""

    def quarantined_by_reason(self) -> dict[str, int]:
        return self.quarantined[c.REASON].value_counts().sort_index().to_dict()

    def dates(self) -> list[str]:
        return sorted(reading_dates(self.clean).unique())


def reading_dates(readings: pd.DataFrame) -> pd.Series:
    """The UTC date (`YYYY-MM-DD`) of each reading: its partition."""
    return pd.to_datetime(readings[c.TS], utc=True).dt.strftime("%Y-%m-%d")


def batch_id(identities: Iterable[str]) -> str:
    """A stable id for a set of `key@etag` identities (same files -> same id)."""
    digest = hashlib.sha256("\n".join(sorted(identities)).encode()).hexdigest()
    return digest[:20]


def process_batch(
    files: list[RawFile],
    now: pd.Timestamp,
    limits: ReadLimits | None = None,
    first_day: str = c.DEFAULT_FIRST_DAY,
) -> BatchResult:
    """Parse and validate each file; every record read is either clean or quarantined."""
    cleans, quarantines, accounting = [], [], []
    for f in files:
        result, records_read = process_file(f, now, limits, first_day)
        cleans.append(result.clean)
        quarantines.append(result.quarantined)
        reasons = result.quarantined[c.REASON].value_counts().sort_index().to_dict()
        accounting.append(
            {
                c.SOURCE_KEY: f.key,
                "etag": f.etag,
                c.ARRIVAL: f.arrival_ms,
                "records_read": records_read,
                "cleaned": len(result.clean),
                "quarantined": len(result.quarantined),
                "reasons": ", ".join(f"{k}={v}" for k, v in reasons.items()),
            }
        )
    return BatchResult(
        clean=pd.concat(cleans, ignore_index=True),
        quarantined=pd.concat(quarantines, ignore_index=True),
        files=pd.DataFrame(accounting),
    )


def process_file(
    f: RawFile,
    now: pd.Timestamp,
    limits: ReadLimits | None = None,
    first_day: str = c.DEFAULT_FIRST_DAY,
) -> tuple[ValidationResult, int]:
    """(clean and quarantined records, records read) of one file, parsed and validated piece
    by piece (`parse.read_object`): memory is bounded by a piece, not the file. A whole-file
    error found in a late piece discards the earlier pieces, and so does any error while
    reading the file (it is quarantined whole, with the error), except SourceUnavailable."""
    cleans, quarantines, records_read = [], [], 0
    try:
        for parsed in read_object(f.key, f.stream(), limits):
            result = validate_records(parsed, f.key, f.arrival_ms, now, first_day)
            if parsed.file_error is not None:
                return result, parsed.records_read
            cleans.append(result.clean)
            quarantines.append(result.quarantined)
            records_read += parsed.records_read
    except SourceUnavailable:
        raise
    except Exception as e:  # a defect or resource limit reading this file: not the batch's
        failed = file_error(f.key, f"could not be read ({type(e).__name__}: {str(e)[:200]})")
        return validate_records(failed, f.key, f.arrival_ms, now), failed.records_read
    if not cleans:  # no piece at all: an empty JSON-lines file
        return ValidationResult(empty_clean(), empty_quarantine()), 0
    if len(cleans) == 1:
        return ValidationResult(cleans[0], quarantines[0]), records_read
    return (
        ValidationResult(
            pd.concat(cleans, ignore_index=True), pd.concat(quarantines, ignore_index=True)
        ),
        records_read,
    )
