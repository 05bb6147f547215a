"""`energy-platform api` serves over real HTTP: uvicorn in a child process, httpx as the client."""

from __future__ import annotations

import os
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from energy_platform.settings import Settings
from energy_platform_tests.test_api.cli_server import running_api
from energy_platform_tests.test_api.paging import walk
from energy_platform_tests.test_api.seeding import SeededTables


@pytest.fixture(scope="module")
def live_api(
    api_settings: Settings, seeded: SeededTables, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The base URL of `energy-platform api` started as a user would (the CLI, one worker)."""
    with running_api(tmp_path_factory.mktemp("api"), dict(os.environ)) as base:
        yield base


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
