"""SQS: the raw-object event queue the sensor drains, and the dead-letter queue."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from energy_platform.contract import DEAD_LETTERS_QUEUE, RAW_EVENTS_QUEUE, prefixed
from energy_platform.resources.clients import AwsResource, name_prefix_field

SQS_BATCH = 10


class SendRefused(RuntimeError):
    """SQS accepted a send request but refused some of its messages."""


@dataclass(frozen=True)
class Message:
    message_id: str
    receipt_handle: str
    body: str


class EventQueues(AwsResource):
    """The platform's queues by short name (`raw_events`, `dead_letters`)."""

    service = "sqs"

    name_prefix: str = name_prefix_field()

    def url(self, queue: str) -> str:
        return self._urls.setdefault(
            queue,
            self.client.get_queue_url(QueueName=prefixed(self.name_prefix, queue))["QueueUrl"],
        )

    @cached_property
    def _urls(self) -> dict[str, str]:
        return {}

    def receive(
        self, queue: str, limit: int, visibility_seconds: int, wait_seconds: int = 0
    ) -> list[Message]:
        """Up to `limit` messages, hidden from other receivers for `visibility_seconds`.

        `wait_seconds`: with the queue empty, wait up to this long for a first message (SQS
        long polling: it returns as soon as one arrives); what follows it is not waited for.
        """
        out: list[Message] = []
        while len(out) < limit:
            resp = self.client.receive_message(
                QueueUrl=self.url(queue),
                MaxNumberOfMessages=min(SQS_BATCH, limit - len(out)),
                VisibilityTimeout=visibility_seconds,
                WaitTimeSeconds=0 if out else wait_seconds,
            )
            batch = resp.get("Messages", [])
            if not batch:
                break
            out.extend(Message(m["MessageId"], m["ReceiptHandle"], m["Body"]) for m in batch)
        return out

    def delete(self, queue: str, receipt_handles: Sequence[str]) -> int:
        """Delete messages by receipt handle; returns how many SQS accepted."""
        deleted = 0
        for i in range(0, len(receipt_handles), SQS_BATCH):
            entries = [
                {"Id": str(n), "ReceiptHandle": h}
                for n, h in enumerate(receipt_handles[i : i + SQS_BATCH])
            ]
            resp = self.client.delete_message_batch(QueueUrl=self.url(queue), Entries=entries)
            deleted += len(resp.get("Successful", []))
        return deleted

    def release(self, queue: str, receipt_handles: Sequence[str]) -> None:
        """Make received messages visible again at once (visibility timeout 0)."""
        for i in range(0, len(receipt_handles), SQS_BATCH):
            entries = [
                {"Id": str(n), "ReceiptHandle": h, "VisibilityTimeout": 0}
                for n, h in enumerate(receipt_handles[i : i + SQS_BATCH])
            ]
            self.client.change_message_visibility_batch(QueueUrl=self.url(queue), Entries=entries)

    def send_json(self, queue: str, bodies: Sequence[dict[str, Any]]) -> int:
        """Send each body as one JSON message, 10 per request; SendRefused if SQS refuses any."""
        refused: list[str] = []
        for i in range(0, len(bodies), SQS_BATCH):
            entries = [
                {"Id": str(i + n), "MessageBody": json.dumps(b, default=str, sort_keys=True)}
                for n, b in enumerate(bodies[i : i + SQS_BATCH])
            ]
            resp = self.client.send_message_batch(QueueUrl=self.url(queue), Entries=entries)
            refused += [f"#{f['Id']}: {f.get('Code', '?')}" for f in resp.get("Failed", [])]
        if refused:
            raise SendRefused(f"{queue} refused {len(refused)} messages ({', '.join(refused[:5])})")
        return len(bodies)

    def depth(self, queue: str) -> int:
        """Messages waiting plus in flight (approximate, as SQS reports it)."""
        attrs = self.client.get_queue_attributes(
            QueueUrl=self.url(queue),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(
            attrs["ApproximateNumberOfMessagesNotVisible"]
        )


__all__ = ["DEAD_LETTERS_QUEUE", "RAW_EVENTS_QUEUE", "EventQueues", "Message", "SendRefused"]
