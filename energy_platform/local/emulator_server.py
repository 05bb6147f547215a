"""moto's server, as `python -m moto.server` runs it, with two fixes and a leaner recording.

1. SQS ReceiveMessage: moto 5.2 checks each message it returns against the queue's retention
   period by computing *every* queue attribute (two scans of the whole queue, each calling a
   slow clock per message), so draining a backlog of n messages costs O(n^2): 2,000 S3 events
   took over six minutes. We read the same rule straight from the queue, with a fast clock.
2. The request recorder (MOTO_ENABLE_RECORDING) appends from every server thread without a
   lock, so concurrent requests could interleave into one corrupt line and break the replay.
   We serialize its writes.
3. The recording keeps only what changes state (`energy_platform.local.emulator.changes_state`): no
   reads, no message traffic (SNS Publish, SQS Send/Receive/DeleteMessage...), and nothing
   re-sent by a replay. A replayed request sends no S3 event notification either, so a restart
   delivers nothing that was delivered before.
Everything else is moto's own server.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import has_request_context
from flask import request as current_request
from moto.core.request import Request
from moto.moto_api._internal.recorder.models import Recorder
from moto.s3 import notifications
from moto.server import main
from moto.sqs import models

from energy_platform.local.emulator import REPLAY_HEADER, changes_state


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


def _body(request: Request) -> bytes:
    """The request's body, read and put back for moto's handler (as moto's recorder does)."""
    try:
        size = int(request.headers["Content-Length"])
    except (KeyError, ValueError):
        return b""
    data = request.environ["wsgi.input"].read(size)
    request.environ["wsgi.input"] = io.BytesIO(data)
    return data


def _record_state_changes(self: Recorder, request: Request, body: bytes | None = None) -> None:
    """moto's recorder, for requests that change state only, one write at a time."""
    if not self._user_enabled or request.headers.get(REPLAY_HEADER):
        return
    data = _body(request) if body is None else body
    if not changes_state(request.method, request.raw_url, request.headers, data):
        return
    with _record_lock:
        _record_request(self, request, data)


Recorder._record_request = _record_state_changes  # type: ignore[method-assign]


def _replaying() -> bool:
    """Whether the request being handled was re-sent from the recording."""
    return has_request_context() and bool(current_request.headers.get(REPLAY_HEADER))


def _live_only(send: Callable[..., None]) -> Callable[..., None]:
    """`send`, skipped while a replayed request is handled."""

    def send_unless_replaying(*args: Any, **kwargs: Any) -> None:
        if not _replaying():
            send(*args, **kwargs)

    return send_unless_replaying


notifications.send_event = _live_only(notifications.send_event)
notifications.send_test_event = _live_only(notifications.send_test_event)

if __name__ == "__main__":
    main()
