"""`energy-platform api` serves over real HTTP: uvicorn in a child process, httpx as the client."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from energy_platform.emulator import free_port
from energy_platform.settings import Settings
from energy_platform_tests.test_api.paging import walk
from energy_platform_tests.test_api.seeding import SeededTables


@pytest.fixture(scope="module")
def live_api(
    api_settings: Settings, seeded: SeededTables, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The base URL of `energy-platform api` started as a user would (the CLI, one worker)."""
    port = free_port()
    log = tmp_path_factory.mktemp("api") / "api.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "energy_platform.cli", "api", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=dict(os.environ),
            cwd=tmp_path_factory.mktemp("cwd"),
        )
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


def test_health_over_http(live_api: str) -> None:
    resp = httpx.get(f"{live_api}/health", timeout=10)
    assert resp.status_code == 200
    assert resp.json()["dynamodb"] is True


def test_paging_over_http_walks_every_reading_once(live_api: str, seeded: SeededTables) -> None:
    r = seeded.readings
    expected = r[r.site_id == "site:004"].ts.tolist()
    with httpx.Client(base_url=live_api, timeout=30) as http:
        items, pages = walk(
            http,
            "/v1/sites/site:004/readings",
            start="2024-06-01T00:00:00Z",
            end="2024-06-02T23:59:59Z",
            limit=250,
        )
    assert [i["ts"] for i in items] == expected
    assert pages == 3


def test_county_with_apostrophe_and_accent_over_http(live_api: str) -> None:
    params = {"start": "2024-06-01T00:00:00Z", "end": "2024-06-01T00:30:00Z"}
    for county in ("O'Brien", "Doña Ana"):
        resp = httpx.get(f"{live_api}/v1/counties/{quote(county)}/5min", params=params, timeout=10)
        assert resp.status_code == 200
        assert {i["county"] for i in resp.json()["items"]} == {county}
        assert resp.json()["count"] == 7


def test_openapi_docs_are_served(live_api: str) -> None:
    assert httpx.get(f"{live_api}/docs", timeout=10).status_code == 200
    spec = httpx.get(f"{live_api}/openapi.json", timeout=10).json()
    assert "/v1/sites/{site_id}/readings" in spec["paths"]
    assert "empty list" in spec["paths"]["/v1/sites/{site_id}/readings"]["get"]["description"]
