"""Re-process raw objects: those a failed run dead-lettered, or any the ledger has not seen.

The dead_letters queue holds three kinds of message: a failed ingest run's file (`key`, `etag`,
`size`, `arrival_ms`, `run_id`, `error`), a raw_events message SQS redrove after too many
receives (an S3 event or a replay request), and a malformed raw_events message the sensor set
aside (`queue`, `message_id`, `error`, `body`). Anything else may land there too: each message is
read without trusting its content, and one that names no object is reported, never replayed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field

from energy_platform import contract as c
from energy_platform.resources import DynamoTables, EventQueues, LakeStorage, ledger
from energy_platform.resources.queue import Message
from energy_platform.transforms.raw_events import RawObjectEvent, parse_message

PEEK_VISIBILITY_SECONDS = 30
MAX_DEAD_LETTERS = 10_000
MAX_REASON_CHARS = 300
EXCERPT_CHARS = 100
"""How much of an unreplayable dead letter's body is shown to the operator."""


@dataclass(frozen=True)
class ReplayItem:
    key: str
    etag: str
    arrival_ms: int
    why: str
    message: Message | None = None
    size: int = 0

    def request(self) -> dict[str, object]:
        """The raw_events message that makes the sensor process this object again."""
        return {
            "replay": True,
            "key": self.key,
            "etag": self.etag,
            "size": self.size,
            "arrival_ms": self.arrival_ms,
        }


@dataclass(frozen=True)
class Unreplayable:
    """A dead letter that names no object to re-process, and why."""

    message: Message
    reason: str

    @property
    def excerpt(self) -> str:
        """The start of the dead letter's body (a set-aside message's `body` comes first)."""
        return self.message.body[:EXCERPT_CHARS]


@dataclass(frozen=True)
class DeadLetters:
    """What one peek at the dead-letter queue found."""

    items: list[ReplayItem] = field(default_factory=list)
    unreplayable: list[Unreplayable] = field(default_factory=list)

    @property
    def messages(self) -> list[Message]:
        """Every peeked message, once."""
        named = [i.message for i in self.items if i.message is not None]
        return [*named, *(u.message for u in self.unreplayable)]


def dead_lettered(queues: EventQueues) -> DeadLetters:
    """The dead letters, read (hidden from other readers for a short while)."""
    found = DeadLetters()
    for m in queues.receive(c.DEAD_LETTERS_QUEUE, MAX_DEAD_LETTERS, PEEK_VISIBILITY_SECONDS):
        read = classify(m)
        if isinstance(read, Unreplayable):
            found.unreplayable.append(read)
        else:
            found.items.extend(read)
    return found


def classify(m: Message) -> list[ReplayItem] | Unreplayable:
    """The objects one dead letter names, or why it names none. Never raises on its content."""
    try:
        items = _items(m)
    except ValueError as err:
        return Unreplayable(m, str(err)[:MAX_REASON_CHARS])
    return items or Unreplayable(m, "names no object under raw/ (an S3 test event, say)")


def _items(m: Message) -> list[ReplayItem]:
    doc = _json_object(m.body)
    if "key" in doc and "replay" not in doc:
        return [_failed_run_item(m, doc)]
    if any(k in doc for k in ("Records", "Event", "replay")):
        return [_redriven_item(m, ev) for ev in _raw_events(m.body)]
    if {"queue", "message_id"} <= doc.keys() and (error := _str(doc, "error")):
        raise ValueError(error)  # set aside by raw_files_sensor: its reason
    raise ValueError("neither a failed run's file nor a raw_events message")


def _json_object(body: str) -> dict[str, object]:
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        raise ValueError("not JSON") from None
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    return doc


def _raw_events(body: str) -> list[RawObjectEvent]:
    try:
        return parse_message(body)
    except ValueError as err:
        raise ValueError(f"malformed message: {err}") from None


def _failed_run_item(m: Message, doc: dict[str, object]) -> ReplayItem:
    """A failed run's file, checked as the sensor will check its replay request."""
    fields = {k: doc[k] for k in ("key", "etag", "size", "arrival_ms") if k in doc}
    try:
        (ev,) = parse_message(json.dumps({"replay": True, **fields}))
    except (ValueError, RecursionError) as err:
        raise ValueError(f"a failed run's file, unusable: {str(err)[:200]}") from None
    why = f"run {_str(doc, 'run_id')[:100] or '?'} failed: {_str(doc, 'error')[:200]}"
    return _item(ev, why, m)


def _str(doc: dict[str, object], name: str) -> str:
    """A text field, or "" (any other value is not shown)."""
    value = doc.get(name)
    return value if isinstance(value, str) else ""


def _redriven_item(m: Message, ev: RawObjectEvent) -> ReplayItem:
    kind = "replay request" if ev.replay else "S3 event"
    return _item(ev, f"{kind} moved here by SQS after too many receives", m)


def _item(ev: RawObjectEvent, why: str, m: Message | None) -> ReplayItem:
    return ReplayItem(ev.key, ev.etag, ev.arrival_ms, why, m, ev.size)


def missing(lake: LakeStorage, tables: DynamoTables) -> list[ReplayItem]:
    """Objects under raw/ that the ledger does not hold (never processed, or events lost)."""
    return [
        ReplayItem(
            o.key,
            o.etag,
            int(o.last_modified.timestamp() * 1000),
            "not in the ingested-files ledger",
            size=o.size,
        )
        for o in ledger.unprocessed_objects(lake, tables)
    ]


def release(queues: EventQueues, messages: Iterable[Message]) -> None:
    """Put peeked dead letters back at once (after a dry run, or kept), so a `replay` right
    after it sees them instead of finding the queue empty for PEEK_VISIBILITY_SECONDS."""
    if handles := _handles(messages):
        queues.release(c.DEAD_LETTERS_QUEUE, handles)


def drop(queues: EventQueues, messages: Iterable[Message]) -> int:
    """Delete peeked dead letters; returns how many SQS deleted."""
    handles = _handles(messages)
    return queues.delete(c.DEAD_LETTERS_QUEUE, handles) if handles else 0


def replay(queues: EventQueues, items: list[ReplayItem]) -> int:
    """Ask the sensor to process `items` again; dead letters are removed once re-queued."""
    queues.send_json(c.RAW_EVENTS_QUEUE, [i.request() for i in items])
    drop(queues, (i.message for i in items if i.message is not None))
    return len(items)


def printable(text: str) -> str:
    """`text` safe for a terminal: control characters and lone surrogates escaped."""
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _handles(messages: Iterable[Message]) -> list[str]:
    return list(dict.fromkeys(m.receipt_handle for m in messages))
