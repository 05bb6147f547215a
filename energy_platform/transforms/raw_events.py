"""Raw-object notifications (S3 events and replay requests) and how they are grouped into runs. Pure."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote_plus

from energy_platform import contract as c

MAX_FILES_PER_RUN = 200
MAX_BYTES_PER_RUN = 256 * 1024 * 1024
RECENT_SECONDS = 6 * 3600
RECENT_LIMIT = 50_000

MAX_MESSAGE_CHARS = 64 * 1024
"""An S3 notification or a replay request is a few KB; a larger body is not one."""
MAX_KEY_BYTES = 1024
"""S3's limit for a key, and DynamoDB's for the ledger's sort key (the ETag)."""
MAX_SIZE = 2**63 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)
MAX_ARRIVAL_MS = (datetime.max.replace(tzinfo=UTC) - _EPOCH) // _ONE_MS

Doc = dict[str, object]


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


def parse_message(body: str | bytes) -> list[RawObjectEvent]:
    """Objects named by one queue message: an S3 notification, or a replay request.

    S3 test events, events other than ObjectCreated and keys outside raw/ name none. Any other
    body raises ValueError (and nothing else) with a short reason that never quotes the body.
    """
    doc = _object(_json(body), "message")
    if doc.get("Event") == "s3:TestEvent":
        return []
    if "replay" in doc:
        return [_replay_request(doc)]
    if "Records" not in doc:
        raise ValueError("neither an S3 event nor a replay request")
    records = doc["Records"]
    if not isinstance(records, list):
        raise ValueError("Records: not a list")
    events = (_s3_record(rec, f"Records[{i}]") for i, rec in enumerate(records))
    return [ev for ev in events if ev is not None]


def _json(body: str | bytes) -> object:
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("not UTF-8") from None
    if len(body) > MAX_MESSAGE_CHARS:
        raise ValueError(f"too large: {len(body)} characters (at most {MAX_MESSAGE_CHARS})")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as err:  # ValueError: also an integer of 4,300+ digits
        raise ValueError(f"not JSON: {str(err)[:100]}") from None


def _replay_request(doc: Doc) -> RawObjectEvent:
    if doc["replay"] is not True:
        raise ValueError("replay: not true")
    key = _text(_string(doc, "key", "replay"), "replay.key")
    if not key.startswith(c.RAW_PREFIX):
        raise ValueError(f"replay.key: not under {c.RAW_PREFIX}")
    return RawObjectEvent(
        key,
        _text(_string(doc, "etag", "replay", ""), "replay.etag"),
        _integer(doc, "size", "replay", MAX_SIZE),
        _integer(doc, "arrival_ms", "replay", MAX_ARRIVAL_MS),
        replay=True,
    )


def _s3_record(value: object, where: str) -> RawObjectEvent | None:
    rec = _object(value, where)
    if not _string(rec, "eventName", where).startswith("ObjectCreated"):
        return None
    at = f"{where}.s3.object"
    obj = _member(_member(rec, "s3", where), "object", f"{where}.s3")
    key = _text(_s3_key(_string(obj, "key", at), f"{at}.key"), f"{at}.key")
    if not key.startswith(c.RAW_PREFIX):
        return None
    return RawObjectEvent(
        key,
        _text(_string(obj, "eTag", at, "").strip('"'), f"{at}.eTag"),
        _integer(obj, "size", at, MAX_SIZE),
        _epoch_ms(_string(rec, "eventTime", where), f"{where}.eventTime"),
    )


def _object(value: object, where: str) -> Doc:
    if not isinstance(value, dict):
        raise ValueError(f"{where}: not a JSON object")
    return value


def _member(doc: Doc, name: str, where: str) -> Doc:
    if name not in doc:
        raise ValueError(f"{where}.{name}: missing")
    return _object(doc[name], f"{where}.{name}")


def _string(doc: Doc, name: str, where: str, default: str | None = None) -> str:
    value = doc.get(name, default)
    if not isinstance(value, str):
        raise ValueError(f"{where}.{name}: {'missing' if name not in doc else 'not a string'}")
    return value


def _integer(doc: Doc, name: str, where: str, high: int) -> int:
    """An optional whole number in [0, high] (default 0)."""
    value = doc.get(name, 0)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}.{name}: not a whole number")
    if not 0 <= value <= high:
        raise ValueError(f"{where}.{name}: outside [0, {high}]")
    return value


def _text(value: str, where: str) -> str:
    """`value` if it can name an object: UTF-8 (no lone surrogate), at most MAX_KEY_BYTES."""
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError(f"{where}: not valid Unicode") from None
    if size > MAX_KEY_BYTES:
        raise ValueError(f"{where}: longer than {MAX_KEY_BYTES} bytes")
    return value


def _s3_key(encoded: str, where: str) -> str:
    """S3 URL-encodes keys in notifications (a space as `+`)."""
    try:
        return unquote_plus(encoded, errors="strict")
    except UnicodeDecodeError:
        raise ValueError(f"{where}: percent-encodes bytes that are not UTF-8") from None


def _epoch_ms(iso: str, where: str) -> int:
    """Epoch milliseconds of an ISO-8601 time (UTC unless it says otherwise)."""
    try:
        when = datetime.fromisoformat(iso)
    except ValueError:
        raise ValueError(f"{where}: not an ISO-8601 time") from None
    ms = ((when if when.tzinfo else when.replace(tzinfo=UTC)) - _EPOCH) // _ONE_MS
    if not 0 <= ms <= MAX_ARRIVAL_MS:
        raise ValueError(f"{where}: before 1970 or after 9999")
    return ms


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
    """Receipt handles of messages the previous tick handled: their runs were requested (or,
    malformed, they were dead-lettered but their delete failed)."""
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
