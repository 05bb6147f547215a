"""Re-process raw objects: those a failed run dead-lettered, or any the ledger has not seen."""

from __future__ import annotations

import json
from dataclasses import dataclass

from energy_platform import contract as c
from energy_platform import ledger
from energy_platform.resources import DynamoTables, EventQueues, LakeStorage
from energy_platform.resources.queue import Message

PEEK_VISIBILITY_SECONDS = 30
MAX_DEAD_LETTERS = 10_000


@dataclass(frozen=True)
class ReplayItem:
    key: str
    etag: str
    arrival_ms: int
    why: str
    message: Message | None = None

    def request(self) -> dict[str, object]:
        """The raw_events message that makes the sensor process this object again."""
        return {"replay": True, "key": self.key, "etag": self.etag, "arrival_ms": self.arrival_ms}


def dead_lettered(queues: EventQueues) -> list[ReplayItem]:
    """Objects in the dead-letter queue (hidden from other readers for a short while)."""
    items = []
    for m in queues.receive(c.DEAD_LETTERS_QUEUE, MAX_DEAD_LETTERS, PEEK_VISIBILITY_SECONDS):
        body = json.loads(m.body)
        why = f"run {body.get('run_id', '?')} failed: {str(body.get('error', ''))[:200]}"
        items.append(
            ReplayItem(body["key"], body.get("etag", ""), int(body.get("arrival_ms", 0)), why, m)
        )
    return items


def missing(lake: LakeStorage, tables: DynamoTables) -> list[ReplayItem]:
    """Objects under raw/ that the ledger does not hold (never processed, or events lost)."""
    return [
        ReplayItem(
            o.key,
            o.etag,
            int(o.last_modified.timestamp() * 1000),
            "not in the ingested-files ledger",
        )
        for o in ledger.unprocessed_objects(lake, tables)
    ]


def release(queues: EventQueues, items: list[ReplayItem]) -> None:
    """Put peeked dead letters back at once (after a dry run), so a `replay` right after it
    sees them instead of finding the queue empty for PEEK_VISIBILITY_SECONDS."""
    handles = list(dict.fromkeys(i.message.receipt_handle for i in items if i.message is not None))
    if handles:
        queues.release(c.DEAD_LETTERS_QUEUE, handles)


def replay(queues: EventQueues, items: list[ReplayItem]) -> int:
    """Ask the sensor to process `items` again; dead letters are removed once re-queued."""
    queues.send_json(c.RAW_EVENTS_QUEUE, [i.request() for i in items])
    handles = list(dict.fromkeys(i.message.receipt_handle for i in items if i.message is not None))
    if handles:
        queues.delete(c.DEAD_LETTERS_QUEUE, handles)
    return len(items)
