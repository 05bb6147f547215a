"""The local AWS emulator: moto's server as a child process on loopback."""

from __future__ import annotations

import base64
import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

DEFAULT_PORT = 4566
STATE_DIR = ".emulator"
"""Project-local folder of `energy-platform dev`'s emulator: log, recording, endpoint file."""
ENDPOINT_FILE = "endpoint"
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

REPLAY_HEADER = "X-Energy-Replay"
"""Marks a request re-sent from the recording: the emulator neither records it again nor sends
the S3 event notifications it would trigger."""
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""REST calls (S3) with these methods read; every other REST call changes state."""
READ_ACTION_PREFIXES = ("Get", "List", "Describe", "Query", "Scan", "BatchGet", "TransactGet")
"""AWS actions (DynamoDB, SQS, SNS, STS...) named like this read: GetItem, ListQueues,
DescribeTable, Query, Scan, BatchGetItem, GetQueueAttributes, GetTopicAttributes..."""
MESSAGE_ACTIONS = frozenset(
    {
        "Publish",
        "PublishBatch",
        "ReceiveMessage",
        "SendMessage",
        "SendMessageBatch",
        "DeleteMessage",
        "DeleteMessageBatch",
        "ChangeMessageVisibility",
        "ChangeMessageVisibilityBatch",
        "PurgeQueue",
        "StartMessageMoveTask",
        "CancelMessageMoveTask",
    }
)
"""Message traffic, never recorded: replaying it would deliver old alerts and S3 events again
and bring back consumed messages (a replayed DeleteMessage names a receipt handle that no
longer exists). Topics, queues and subscriptions persist; queues start empty."""
_NOT_SENT_AGAIN = frozenset({"host", "content-length", "transfer-encoding", "expect", "connection"})


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        return s.connect_ex((host, port)) != 0


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def is_live(endpoint: str, timeout: float = 1.0) -> bool:
    """True when something answers HTTP at `endpoint` (any status counts)."""
    try:
        urllib.request.urlopen(endpoint, timeout=timeout)
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False
    return True


def _header(headers: Mapping[str, str], name: str) -> str:
    """A header's value whatever its case ('' when absent)."""
    name = name.lower()
    return next((v for k, v in headers.items() if k.lower() == name), "")


def request_action(url: str, headers: Mapping[str, str], body: bytes) -> str | None:
    """The AWS action a request names: `X-Amz-Target` (JSON protocol: DynamoDB, SQS) or
    `Action=` in the query string or form body (query protocol: SNS, SQS); None for REST (S3)."""
    if target := _header(headers, "X-Amz-Target"):
        return target.rsplit(".", 1)[-1]
    query = parse_qs(urlsplit(url).query)
    if "Action" not in query and _header(headers, "Content-Type").startswith(
        "application/x-www-form-urlencoded"
    ):
        query = parse_qs(body.decode("utf-8", "replace"))
    return query["Action"][0] if "Action" in query else None


def changes_state(method: str, url: str, headers: Mapping[str, str], body: bytes) -> bool:
    """Whether the emulator records this request: reads and message traffic are left out."""
    if method.upper() in READ_METHODS:
        return False
    action = request_action(url, headers, body)
    if action is None:
        return True
    return action not in MESSAGE_ACTIONS and not action.startswith(READ_ACTION_PREFIXES)


@dataclass(frozen=True)
class Recorded:
    """One request of the recording, as moto's recorder wrote it."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    @classmethod
    def parse(cls, line: str) -> Recorded:
        entry = json.loads(line)
        body = entry.get("body") or ""
        raw = base64.b64decode(body) if entry.get("body_encoded") else body.encode("utf-8")
        return cls(entry["method"], entry["url"], dict(entry["headers"]), raw)

    def changes_state(self) -> bool:
        return changes_state(self.method, self.url, self.headers, self.body)

    def send(self, conn: http.client.HTTPConnection) -> int:
        """Re-send it (marked as a replay) on `conn`; returns the HTTP status."""
        parts = urlsplit(self.url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _NOT_SENT_AGAIN}
        conn.request(self.method, path, self.body, {**headers, REPLAY_HEADER: "1"})
        with conn.getresponse() as response:
            response.read()
            return response.status


@dataclass(frozen=True)
class ReplayReport:
    """How many recorded requests a replay re-sent, and how many it dropped from the recording
    (reads and message traffic an older version recorded, a line cut short by a kill)."""

    replayed: int
    dropped: int


def compact_recording(path: Path) -> tuple[list[str], int]:
    """The recording's state changes, one line each, and how many other lines it held; the
    file is rewritten to hold only those state changes if anything else was there."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True)
    kept = [line if line.endswith("\n") else line + "\n" for line in lines if _keeps(line)]
    if kept != lines:
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text("".join(kept), encoding="utf-8")
        os.replace(tmp, path)
    return kept, len(lines) - len(kept)


def _keeps(line: str) -> bool:
    try:
        return Recorded.parse(line).changes_state()
    except (ValueError, KeyError, TypeError, AttributeError):
        return False


def _replay_lines(host: str, port: int, lines: Iterable[str]) -> None:
    conn = http.client.HTTPConnection(host, port, timeout=600)
    try:
        for line in lines:
            Recorded.parse(line).send(conn)
    except http.client.HTTPException as err:
        raise OSError(f"the emulator broke off the replay: {err!r}") from err
    finally:
        conn.close()


class MotoServer:
    """moto's server on 127.0.0.1, started and stopped by us.

    With `recording` set, the server appends every request that changes state to that file
    (see `changes_state`) and `replay()` re-sends them, which is how `energy-platform dev`
    keeps the emulator's data across restarts.
    """

    def __init__(
        self, port: int | None = None, host: str = "127.0.0.1", recording: Path | None = None
    ):
        self.host = host
        self.port = port or (DEFAULT_PORT if port_is_free(host, DEFAULT_PORT) else free_port(host))
        self.recording = recording
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(
        self, log_file: Path | None = None, timeout: float = 30.0, own_session: bool = False
    ) -> str:
        """Start the server and wait until it answers; its endpoint. With `own_session`, a
        Ctrl-C in the terminal does not reach it: its owner stops it when it is done."""
        env = dict(os.environ)
        if self.recording is not None:
            env.update(MOTO_ENABLE_RECORDING="True", MOTO_RECORDER_FILEPATH=str(self.recording))
        out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "energy_platform.local.emulator_server",
                "-H",
                self.host,
                "-p",
                str(self.port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=own_session,
        )
        deadline = time.monotonic() + timeout
        while not is_live(self.endpoint):
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"moto's server exited with code {self.process.returncode}; see {log_file}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(
                    f"moto's server did not answer on {self.endpoint} within {timeout:.0f}s"
                )
            time.sleep(0.1)
        return self.endpoint

    def replay(self) -> ReplayReport:
        """Re-send the recorded state changes so the emulator holds the data it had before.

        Nothing is delivered again: no message is published or queued, no S3 event is sent.
        """
        if self.recording is None or not self.recording.exists():
            return ReplayReport(0, 0)
        kept, dropped = compact_recording(self.recording)
        _replay_lines(self.host, self.port, kept)
        return ReplayReport(len(kept), dropped)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> MotoServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def adopt_running_emulator(project: Path) -> str | None:
    """Point this process at the emulator of a running `energy-platform dev` in `project`.

    Only when AWS_ENDPOINT_URL is not set at all and that emulator answers; returns its URL.
    """
    marker = project / STATE_DIR / ENDPOINT_FILE
    if "AWS_ENDPOINT_URL" in os.environ or not marker.exists():
        return None
    endpoint = marker.read_text().strip()
    if not is_live(endpoint):
        return None
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    for name, value in LOCAL_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    return endpoint
