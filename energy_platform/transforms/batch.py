"""A batch of raw objects -> validated rows, quarantined records and per-file accounting."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pandas as pd

from energy_platform import contract as c
from energy_platform.transforms.chunks import PIECE_BYTES, parse_stream
from energy_platform.transforms.validate import ValidationResult, validate_records


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


def process_batch(files: list[RawFile], now: pd.Timestamp) -> BatchResult:
    """Parse and validate each file; every record read is either clean or quarantined."""
    cleans, quarantines, accounting = [], [], []
    for f in files:
        result, records_read = process_file(f, now)
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
    f: RawFile, now: pd.Timestamp, piece_bytes: int = PIECE_BYTES
) -> tuple[ValidationResult, int]:
    """(clean and quarantined records, records read) of one file, parsed and validated piece
    by piece (`chunks.parse_stream`): the same result as the whole body at once, with memory
    bounded by a piece, not the file. A whole-file error found in a late piece discards the
    earlier pieces, as it would have for the whole body."""
    cleans, quarantines, records_read = [], [], 0
    for parsed in parse_stream(f.key, f.stream(), piece_bytes):
        result = validate_records(parsed, f.key, f.arrival_ms, now)
        if parsed.file_error is not None:
            return result, parsed.records_read
        cleans.append(result.clean)
        quarantines.append(result.quarantined)
        records_read += parsed.records_read
    if len(cleans) == 1:
        return ValidationResult(cleans[0], quarantines[0]), records_read
    return (
        ValidationResult(
            pd.concat(cleans, ignore_index=True), pd.concat(quarantines, ignore_index=True)
        ),
        records_read,
    )
