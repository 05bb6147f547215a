"""Record the AWS calls the platform makes, as IAM sees them: `s3:PutObject` on an object ARN,
`dynamodb:Query` on a table or index ARN, `s3:ListBucket` with its `s3:prefix`.

`CallRecorder.proxy(emulator)` is a fault-free `FaultProxy` in front of the emulator; point
`AWS_ENDPOINT_URL` at it and every request is forwarded unchanged and recorded under the
recorder's current `role` (the test says which role the code it runs has in production).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from urllib.parse import parse_qs, unquote, urlsplit
from xml.etree import ElementTree

from energy_platform_tests.faultproxy import FaultPlan, FaultProxy

ACCOUNT = "123456789012"
"""The account moto answers as."""
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
_BATCH_ACTIONS = {
    "DeleteMessageBatch": "DeleteMessage",
    "SendMessageBatch": "SendMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
"""SQS batch calls are authorized as their single-message action."""


@dataclass(frozen=True, order=True)
class Call:
    """One authorization: `action` (service:Action) on `resource` (an ARN); `prefix` is the
    `s3:prefix` condition key of a listing (None when the request has none)."""

    role: str
    action: str
    resource: str
    prefix: str | None = None


class CallRecorder:
    """The calls seen so far, each once, under the role that was current when it was made."""

    def __init__(self) -> None:
        self.role = "unassigned"
        self.calls: set[Call] = set()
        self._lock = threading.Lock()

    @contextmanager
    def acting_as(self, role: str) -> Iterator[None]:
        saved, self.role = self.role, role
        try:
            yield
        finally:
            self.role = saved

    def proxy(self, emulator: str) -> FaultProxy:
        return FaultProxy(emulator, FaultPlan(fault_rate=0.0, slow_rate=0.0), self.observe)

    def observe(self, method: str, path: str, headers: Message, body: bytes) -> None:
        scope = _SCOPE.search(headers.get("Authorization", ""))
        region, service = scope.groups() if scope else ("?", "?")
        calls = [
            Call(self.role, action, resource, prefix)
            for action, resource, prefix in authorizations(
                service, region, method, path, headers, body
            )
        ]
        with self._lock:
            self.calls.update(calls)

    def of(self, role: str) -> set[Call]:
        return {c for c in self.calls if c.role == role}


def authorizations(
    service: str, region: str, method: str, path: str, headers: Message, body: bytes
) -> list[tuple[str, str, str | None]]:
    """(IAM action, resource ARN, s3:prefix) for one request."""
    if service == "s3":
        return _s3(method, path, body)
    if service == "dynamodb":
        return _dynamodb(region, headers, body)
    if service == "sqs":
        return _sqs(region, headers, body)
    if service == "sns":
        return _sns(region, body)
    return [(f"{service}:?", f"{method} {path}", None)]


def _s3(method: str, path: str, body: bytes) -> list[tuple[str, str, str | None]]:
    parts = urlsplit(path)
    query = parse_qs(parts.query, keep_blank_values=True)
    bucket, _, key = unquote(parts.path).lstrip("/").partition("/")
    bucket_arn = f"arn:aws:s3:::{bucket}"
    if not key:
        if method == "POST" and "delete" in query:
            root = ElementTree.fromstring(body)
            keys = [e.text or "" for e in root.iter() if e.tag.endswith("Key")]
            return [("s3:DeleteObject", f"{bucket_arn}/{k}", None) for k in keys]
        if method in ("GET", "HEAD") and not set(query) - {
            "list-type",
            "prefix",
            "delimiter",
            "max-keys",
            "continuation-token",
            "encoding-type",
            "start-after",
            "fetch-owner",
            "marker",
        }:
            return [("s3:ListBucket", bucket_arn, query.get("prefix", [None])[0])]
        return [(f"s3:?{method}", f"{bucket_arn}?{parts.query}", None)]
    object_arn = f"{bucket_arn}/{key}"
    if method in ("GET", "HEAD") and not query:
        return [("s3:GetObject", object_arn, None)]
    if method == "PUT" or (method == "POST" and ("uploads" in query or "uploadId" in query)):
        return [("s3:PutObject", object_arn, None)]
    if method == "DELETE":
        action = "s3:AbortMultipartUpload" if "uploadId" in query else "s3:DeleteObject"
        return [(action, object_arn, None)]
    return [(f"s3:?{method}", f"{object_arn}?{parts.query}", None)]


def _dynamodb(region: str, headers: Message, body: bytes) -> list[tuple[str, str, str | None]]:
    action = headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
    request = json.loads(body or b"{}")
    tables = list(request.get("RequestItems", {})) or [request.get("TableName", "?")]
    arn = f"arn:aws:dynamodb:{region}:{ACCOUNT}:table/"
    suffix = f"/index/{request['IndexName']}" if "IndexName" in request else ""
    return [(f"dynamodb:{action}", f"{arn}{t}{suffix}", None) for t in tables]


def _sqs(region: str, headers: Message, body: bytes) -> list[tuple[str, str, str | None]]:
    action = headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
    request = json.loads(body or b"{}")
    name = request.get("QueueName") or request.get("QueueUrl", "?").rsplit("/", 1)[-1]
    action = _BATCH_ACTIONS.get(action, action)
    return [(f"sqs:{action}", f"arn:aws:sqs:{region}:{ACCOUNT}:{name}", None)]


def _sns(region: str, body: bytes) -> list[tuple[str, str, str | None]]:
    form = parse_qs(body.decode())
    action = form.get("Action", ["?"])[0]
    arn = form.get("TopicArn", [f"arn:aws:sns:{region}:{ACCOUNT}:{form.get('Name', ['?'])[0]}"])
    return [(f"sns:{action}", arn[0], None)]
