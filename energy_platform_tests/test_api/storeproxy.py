"""An HTTP proxy between the API and the emulator that rewrites DynamoDB's answers.

It puts on the wire what DynamoDB (and moto) never store or send for these tables: numbers
that are NaN or Infinity, an AccessDeniedException naming the table. Everything else passes
through unchanged; the API still talks HTTP to a real endpoint.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import urlsplit

from energy_platform_tests.background_server import BackgroundServer

QUERY_TARGET = "DynamoDB_20120810.Query"
PASSED_HEADERS = ("content-type", "x-amzn-requestid")
"""x-amz-crc32 is dropped: it would not match a rewritten body."""

Rewrite = Callable[[str, int, bytes], tuple[int, bytes]]
"""(X-Amz-Target, status, body) of the emulator's answer -> (status, body) the API gets."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: StoreProxy

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        upstream = self.server.upstream
        conn = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
        try:
            conn.request("POST", self.path, body=body, headers=dict(self.headers.items()))
            resp = conn.getresponse()
            payload = resp.read()
            headers = {k: v for k, v in resp.getheaders() if k.lower() in PASSED_HEADERS}
        finally:
            conn.close()
        target = self.headers.get("X-Amz-Target", "")
        status, payload = self.server.rewrite(target, resp.status, payload)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


class StoreProxy(BackgroundServer):
    """`with StoreProxy(emulator, rewrite) as proxy:` serves on proxy.endpoint in the block."""

    def __init__(self, upstream: str, rewrite: Rewrite):
        super().__init__(_Handler)
        self.upstream = urlsplit(upstream)
        self.rewrite = rewrite


def poison_queries(numbers: dict[int, tuple[str, str]]) -> Rewrite:
    """Set, in every Query answer, item i's attribute to the number text of `numbers[i]`."""

    def rewrite(target: str, status: int, body: bytes) -> tuple[int, bytes]:
        if target != QUERY_TARGET or status != 200:
            return status, body
        answer: dict[str, Any] = json.loads(body)
        for index, (attribute, text) in numbers.items():
            if index < len(answer["Items"]):
                answer["Items"][index][attribute] = {"N": text}
        return status, json.dumps(answer).encode()

    return rewrite


def deny_queries(message: str) -> Rewrite:
    """Answer every Query with an AccessDeniedException carrying `message`."""
    error = {"__type": "com.amazon.coral.service#AccessDeniedException", "Message": message}

    def rewrite(target: str, status: int, body: bytes) -> tuple[int, bytes]:
        if target != QUERY_TARGET:
            return status, body
        return 400, json.dumps(error).encode()

    return rewrite
