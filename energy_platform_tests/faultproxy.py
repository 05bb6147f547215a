"""A fault-injecting HTTP proxy in front of the emulator: transient AWS faults on demand.

A seeded fraction of requests gets one of the faults AWS really returns when it is busy or a
network hiccups — 500 InternalError, S3 503 SlowDown, DynamoDB ThrottlingException and
ProvisionedThroughputExceededException (JSON 400 with the right `__type`), a connection reset —
and some other requests are answered slowly. Everything else is forwarded to the emulator
unchanged. The same request (method, path, body) is never faulted more than
`max_consecutive_faults` times in a row, so any client that retries a few times gets through.

Resets happen before the request is forwarded: the emulator never sees it. (A reset after the
server acted would, for an SQS ReceiveMessage, hide the messages for the visibility timeout —
a delay, not a loss, but longer than a test waits.)
"""

from __future__ import annotations

import hashlib
import http.client
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from email.message import Message
from http.server import BaseHTTPRequestHandler
from urllib.parse import urlsplit

from energy_platform_tests.background_server import BackgroundServer

Observer = Callable[[str, str, Message, bytes], None]
HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}

S3_ERROR = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
    "<Message>{message}</Message><RequestId>faultproxy</RequestId></Error>"
)


class FaultPlan:
    """Which requests fail and how: seeded, thread-safe, bounded per request."""

    def __init__(
        self,
        fault_rate: float = 0.12,
        slow_rate: float = 0.05,
        slow_seconds: tuple[float, float] = (0.2, 0.8),
        seed: int = 7,
        max_consecutive_faults: int = 2,
    ):
        self.fault_rate = fault_rate
        self.slow_rate = slow_rate
        self.slow_seconds = slow_seconds
        self.max_consecutive_faults = max_consecutive_faults
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._streak: Counter[str] = Counter()
        self._turn: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.requests = 0

    def decide(self, service: str, fingerprint: str) -> tuple[str | None, float]:
        """(fault name or None, seconds to delay) for one request."""
        with self._lock:
            self.requests += 1
            roll, slow = self._rng.random(), self._rng.random()
            delay = self._rng.uniform(*self.slow_seconds) if slow < self.slow_rate else 0.0
            if roll >= self.fault_rate or self._streak[fingerprint] >= self.max_consecutive_faults:
                self._streak.pop(fingerprint, None)
                return None, delay
            # Each service's faults in turn: every kind shows up once a service had a few.
            faults = FAULTS_BY_SERVICE.get(service, GENERIC_FAULTS)
            fault = faults[self._turn[service] % len(faults)]
            self._turn[service] += 1
            self._streak[fingerprint] += 1
            self.injected[fault] += 1
            if delay:
                self.injected["slow"] += 1
            return fault, delay


GENERIC_FAULTS = ("internal_error", "service_unavailable", "reset")
FAULTS_BY_SERVICE = {
    "s3": ("slow_down", "reset", "internal_error"),
    "dynamodb": ("throttling", "throughput_exceeded", "reset", "internal_error"),
}


def _service(headers) -> str:
    target = headers.get("X-Amz-Target", "")
    if target.startswith("DynamoDB"):
        return "dynamodb"
    if target.startswith("AmazonSQS"):
        return "sqs"
    auth = headers.get("Authorization", "")
    if "/s3/aws4_request" in auth:
        return "s3"
    if "/sns/aws4_request" in auth:
        return "sns"
    if "/sqs/aws4_request" in auth:
        return "sqs"
    return "other"


def _error_response(fault: str, service: str) -> tuple[int, str, bytes]:
    """(status, content type, body) of an injected error, shaped as the service sends it."""
    if service == "dynamodb":
        kind, status = {
            "throttling": ("ThrottlingException", 400),
            "throughput_exceeded": ("ProvisionedThroughputExceededException", 400),
            "internal_error": ("InternalServerError", 500),
            "service_unavailable": ("ServiceUnavailable", 503),
        }[fault]
        body = f'{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"injected {kind}"}}'
        return status, "application/x-amz-json-1.0", body.encode()
    code, status, message = {
        "slow_down": ("SlowDown", 503, "Please reduce your request rate."),
        "internal_error": ("InternalError", 500, "We encountered an internal error."),
        "service_unavailable": ("ServiceUnavailable", 503, "Service is unavailable."),
    }[fault]
    if service == "sqs":  # SQS speaks JSON (AWS JSON 1.0) to current botocore
        body = f'{{"__type":"com.amazonaws.sqs#{code}","message":"{message}"}}'
        return status, "application/x-amz-json-1.0", body.encode()
    return status, "application/xml", S3_ERROR.format(code=code, message=message).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FaultProxy

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _handle(self) -> None:
        body = self._body()
        if self.server.observer is not None:
            self.server.observer(self.command, self.path, self.headers, body)
        service = _service(self.headers)
        fingerprint = hashlib.sha1(
            self.command.encode() + self.path.encode() + body, usedforsecurity=False
        ).hexdigest()
        fault, delay = self.server.plan.decide(service, fingerprint)
        if delay:
            time.sleep(delay)
        if fault == "reset":
            # RST instead of FIN: the client sees "connection reset by peer".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()
            return
        if fault is not None:
            status, ctype, payload = _error_response(fault, service)
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
            return
        self._forward(body)

    def _forward(self, body: bytes) -> None:
        target = self.server.target
        conn = http.client.HTTPConnection(target.hostname, target.port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
        if body or self.command in ("PUT", "POST"):
            headers["Content-Length"] = str(len(body))
        try:
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
        finally:
            conn.close()
        self.send_response(resp.status, resp.reason)
        # A HEAD answer keeps the emulator's Content-Length: the size of the object, not of
        # the (empty) payload.
        head = self.command == "HEAD"
        for k, v in resp.getheaders():
            if k.lower() not in HOP_HEADERS and (head or k.lower() != "content-length"):
                self.send_header(k, v)
        if not head:
            self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle


class FaultProxy(BackgroundServer):
    """`with FaultProxy(target, plan) as proxy:` serves on proxy.endpoint until the block ends.

    `observer(method, path, headers, body)` sees every request before it is answered (the
    policy test records the calls the platform makes that way, with a plan of no faults)."""

    def __init__(self, target: str, plan: FaultPlan, observer: Observer | None = None):
        super().__init__(_Handler)
        self.target = urlsplit(target)
        self.plan = plan
        self.observer = observer
