"""Raw-object notifications (S3 events and replay requests) and how they are grouped into runs. Pure."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from urllib.parse import unquote_plus

from energy_platform import contract as c

MAX_FILES_PER_RUN = 200
MAX_BYTES_PER_RUN = 256 * 1024 * 1024
RECENT_SECONDS = 6 * 3600
RECENT_LIMIT = 50_000


@dataclass(frozen=True)
class RawObjectEvent:
    """An object under raw/ that should be processed."""

    key: str
    etag: str
    size: int
    arrival_ms: int
    replay: bool = False
    """Asked for by `energy-platform replay`: processed even if the ledger already has it."""

    @property
    def identity(self) -> str:
        return f"{self.key}@{self.etag}"

    def as_config(self) -> dict[str, object]:
        return {
            "key": self.key,
            "etag": self.etag,
            "size": self.size,
            "arrival_ms": self.arrival_ms,
        }


def _epoch_ms(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000)


def parse_message(body: str) -> list[RawObjectEvent]:
    """Objects named by one queue message: an S3 notification, or a replay request.

    S3 test events and events for keys outside raw/ name none. Raises ValueError for a body
    that is neither.
    """
    try:
        doc = json.loads(body)
    except json.JSONDecodeError as err:
        raise ValueError(f"not JSON: {err}") from None
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    if doc.get("Event") == "s3:TestEvent":
        return []
    if doc.get("replay"):
        return [
            RawObjectEvent(
                doc["key"],
                doc.get("etag", ""),
                int(doc.get("size", 0)),
                int(doc.get("arrival_ms", 0)),
                True,
            )
        ]
    if "Records" not in doc:
        raise ValueError("neither an S3 event nor a replay request")
    out = []
    for rec in doc["Records"]:
        if not str(rec.get("eventName", "")).startswith("ObjectCreated"):
            continue
        obj = rec["s3"]["object"]
        key = unquote_plus(obj["key"])
        if not key.startswith(c.RAW_PREFIX):
            continue
        out.append(
            RawObjectEvent(
                key,
                str(obj.get("eTag", "")).strip('"'),
                int(obj.get("size", 0)),
                _epoch_ms(rec["eventTime"]),
            )
        )
    return out


def plan_runs(
    events: list[RawObjectEvent],
    max_files: int = MAX_FILES_PER_RUN,
    max_bytes: int = MAX_BYTES_PER_RUN,
) -> list[list[RawObjectEvent]]:
    """Group objects into runs of at most `max_files` objects and about `max_bytes` (a larger single object runs alone)."""
    runs: list[list[RawObjectEvent]] = []
    current: list[RawObjectEvent] = []
    size = 0
    for ev in sorted(events, key=lambda e: (e.arrival_ms, e.key)):
        if current and (len(current) >= max_files or size + ev.size > max_bytes):
            runs.append(current)
            current, size = [], 0
        current.append(ev)
        size += ev.size
    if current:
        runs.append(current)
    return runs


def latest_per_key(events: list[RawObjectEvent]) -> list[RawObjectEvent]:
    """One event per key, the latest (SQS delivers at least once, and only an object's
    current content can be read, so an overwrite within one tick is one object to process)."""
    seen: dict[str, RawObjectEvent] = {}
    for ev in events:
        prior = seen.get(ev.key)
        if prior is None or (ev.arrival_ms, ev.replay) > (prior.arrival_ms, prior.replay):
            seen[ev.key] = ev
    return list(seen.values())


@dataclass
class RawCursor:
    """What raw_files_sensor remembers between ticks (stored by Dagster with each tick)."""

    pending_delete: list[str] = field(default_factory=list)
    """Receipt handles of messages whose runs were requested by the previous tick."""
    recent: dict[str, float] = field(default_factory=dict)
    """key@etag -> when it was requested: duplicate deliveries of in-flight objects are dropped."""

    @classmethod
    def load(cls, raw: str | None) -> RawCursor:
        return cls(**json.loads(raw)) if raw else cls()

    def dump(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    def remember(self, identities: list[str], now: float) -> None:
        self.recent.update(dict.fromkeys(identities, now))
        fresh = {k: t for k, t in self.recent.items() if now - t < RECENT_SECONDS}
        self.recent = dict(sorted(fresh.items(), key=lambda kv: kv[1])[-RECENT_LIMIT:])
