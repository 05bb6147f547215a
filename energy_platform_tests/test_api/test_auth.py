"""With ENERGY_API_KEY set, /v1 needs a matching X-API-Key; /health stays open."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from energy_platform.api.app import create_app
from energy_platform.settings import Settings
from energy_platform_tests.test_api.seeding import SeededTables
from energy_platform_tests.test_api.served import served

KEY = "s3cret-Key_with.symbols"
URL = "/v1/sites/site-001/readings"
PARAMS = {"start": "2024-06-01T00:00:00Z", "end": "2024-06-01T01:00:00Z", "limit": 3}


@pytest.fixture(scope="module")
def guarded(
    api_settings: Settings, seeded: SeededTables, monkeypatch_module: pytest.MonkeyPatch
) -> Iterator[httpx.Client]:
    monkeypatch_module.setenv("ENERGY_API_KEY", KEY)
    with served(create_app(api_settings)) as client:
        yield client


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong"}, {"X-API-Key": KEY + "x"}])
def test_missing_or_wrong_key_is_401(guarded: httpx.Client, headers: dict[str, str]) -> None:
    resp = guarded.get(URL, params=PARAMS, headers=headers)
    assert resp.status_code == 401
    assert KEY not in resp.text
    assert resp.headers["www-authenticate"] == "ApiKey"


def test_matching_key_is_200(guarded: httpx.Client) -> None:
    resp = guarded.get(URL, params=PARAMS, headers={"X-API-Key": KEY})
    assert resp.status_code == 200
    assert resp.json()["count"] == 3


def test_every_v1_endpoint_is_guarded(guarded: httpx.Client) -> None:
    assert guarded.get("/v1/anomalies", params={"date": "2024-06-01"}).status_code == 401
    assert guarded.get("/v1/counties/x/5min", params=PARAMS).status_code == 401
    assert guarded.get("/v1/sites/a/daily", params={"start": "2024-06-01"}).status_code == 401


def test_health_and_docs_need_no_key(guarded: httpx.Client) -> None:
    assert guarded.get("/health").status_code == 200
    assert guarded.get("/openapi.json").status_code == 200


def test_without_the_variable_the_api_is_open(client: httpx.Client) -> None:
    assert client.get(URL, params=PARAMS).status_code == 200
