"""The local AWS emulator: moto's server as a child process on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

DEFAULT_PORT = 4566
STATE_DIR = ".emulator"
"""Project-local folder of `energy-platform dev`'s emulator: log, recording, endpoint file."""
ENDPOINT_FILE = "endpoint"
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


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


class MotoServer:
    """moto's server on 127.0.0.1, started and stopped by us.

    With `recording` set, moto appends every request to that file and `replay()` re-sends them,
    which is how `energy-platform dev` keeps the emulator's data across restarts.
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

    def start(self, log_file: Path | None = None, timeout: float = 30.0) -> str:
        env = dict(os.environ)
        if self.recording is not None:
            env.update(MOTO_ENABLE_RECORDING="True", MOTO_RECORDER_FILEPATH=str(self.recording))
        out = open(log_file, "ab") if log_file else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "energy_platform.emulator_server",
                "-H",
                self.host,
                "-p",
                str(self.port),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
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

    def replay(self) -> None:
        """Re-send the recorded requests so the emulator holds the data it had before."""
        req = urllib.request.Request(
            f"{self.endpoint}/moto-api/recorder/replay-recording", method="POST"
        )
        urllib.request.urlopen(req, timeout=3600)

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
