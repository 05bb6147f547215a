"""moto's server, as `python -m moto.server` runs it, with SQS ReceiveMessage made O(1) per message.

moto 5.2 checks each message it returns against the queue's retention period by computing
*every* queue attribute (two scans of the whole queue, each calling a slow clock per message),
so draining a backlog of n messages costs O(n^2): 2,000 S3 events took over six minutes.
We replace that check with the same rule read straight from the queue, and the visibility
clock with a fast one; behaviour is unchanged. Everything else is moto's own server.
"""

from __future__ import annotations

import time

from moto.server import main
from moto.sqs import models


def _retention_ok(self: models.SQSBackend, queue_name: str, message: models.Message) -> bool:
    retention = int(self.get_queue(queue_name).message_retention_period)
    return retention + message.sent_timestamp / 1000 > time.time()  # type: ignore[operator]


def _now_ms() -> float:
    return time.time() * 1000.0


models.SQSBackend.is_message_valid_based_on_retention_period = _retention_ok  # type: ignore[method-assign]
models.Message.visible = property(lambda self: _now_ms() > self.visible_at)  # type: ignore[method-assign]
models.Message.delayed = property(lambda self: _now_ms() < self.delayed_until)  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
