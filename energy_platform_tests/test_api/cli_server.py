"""`energy-platform api` started as a user starts it (the CLI in a child process)."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from energy_platform.local.emulator import free_port


@contextmanager
def running_api(workdir: Path, env: dict[str, str], *args: str) -> Iterator[str]:
    """The base URL of `energy-platform api --port <free> *args`, until the block ends."""
    port = free_port()
    log = workdir / "api.log"
    command = [sys.executable, "-m", "energy_platform.tools.cli", "api", "--port", str(port), *args]
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=workdir)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_serving(base, proc, log)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_until_serving(base: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"`energy-platform api` exited: {log.read_text()}")
        try:
            httpx.get(f"{base}/health", timeout=2)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise RuntimeError(f"`energy-platform api` did not answer within 60 s: {log.read_text()}")
