"""moto's server, as `python -m moto.server` runs it, with two fixes; behaviour is unchanged.

1. SQS ReceiveMessage: moto 5.2 checks each message it returns against the queue's retention
   period by computing *every* queue attribute (two scans of the whole queue, each calling a
   slow clock per message), so draining a backlog of n messages costs O(n^2): 2,000 S3 events
   took over six minutes. We read the same rule straight from the queue, with a fast clock.
2. The request recorder (MOTO_ENABLE_RECORDING) appends from every server thread without a
   lock, so concurrent requests could interleave into one corrupt line and break the replay.
   We serialize its writes.
Everything else is moto's own server.
"""

from __future__ import annotations

import threading
import time

from moto.moto_api._internal.recorder.models import Recorder
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

_record_lock = threading.Lock()
_record_request = Recorder._record_request


def _record_serialized(self: Recorder, request, body: bytes | None = None) -> None:
    with _record_lock:
        _record_request(self, request, body)


Recorder._record_request = _record_serialized  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
