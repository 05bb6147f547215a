"""Error answers do not echo internals (exception texts, table names, endpoints, tracebacks):
a generic `detail` and an `error_id` the server log has with the cause. Items with a number
that is NaN or Infinity are left out of their page instead of failing it."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from energy_platform.api.app import create_app
from energy_platform.local.emulator import free_port
from energy_platform.settings import Settings
from energy_platform_tests.test_api.seeding import SeededTables
from energy_platform_tests.test_api.served import served
from energy_platform_tests.test_api.storeproxy import StoreProxy, deny_queries, poison_queries

READINGS = "/v1/sites/site-001/readings"
DAY = {"start": "2024-06-01T00:00:00Z", "end": "2024-06-01T23:59:59Z"}
ACCOUNT = "123456789012"
DENIED = deny_queries(
    f"User: arn:aws:sts::{ACCOUNT}:assumed-role/energy-api/i-0abc is not authorized to perform: "
    f"dynamodb:Query on resource: arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/secret_readings"
)
POISONED = poison_queries(
    {1: ("energy_generated_kwh", "NaN"), 2: ("energy_consumed_kwh", "-Infinity")}
)


def _assert_opaque(resp: httpx.Response, status: int, *internals: str) -> str:
    """The answer is `status` with a generic body; returns its error id."""
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert set(body) == {"detail", "errors", "error_id"}
    assert body["error_id"] in body["detail"]
    for text in ("Traceback", "Exception", "Error:", "botocore", "arn:", *internals):
        assert text.lower() not in resp.text.lower(), text
    return body["error_id"]


@pytest.fixture
def store_proxy(
    emulator: str, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[StoreProxy]:
    """The proxy (its rewrite the test's indirect parameter) as the API's AWS endpoint."""
    with StoreProxy(emulator, request.param) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        yield proxy


def test_503_when_the_table_is_missing_names_neither_table_nor_cause(
    emulator: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ENERGY_TABLE_PREFIX", "hidden_prefix_")
    with served(create_app(api_key="")) as client:
        resp = client.get(READINGS, params=DAY)
        health = client.get("/health")
    endpoint = urlsplit(emulator).netloc
    error_id = _assert_opaque(resp, 503, "hidden_prefix", "ResourceNotFound", endpoint)
    assert resp.json()["detail"].startswith("the data store is unavailable")
    assert health.status_code == 503
    assert set(health.json()) == {"status", "dynamodb", "detail"}
    assert "hidden_prefix" not in health.text and "ResourceNotFound" not in health.text
    logged = [r.getMessage() for r in caplog.records if error_id in r.getMessage()]
    assert logged and "hidden_prefix_readings" in logged[0]


def test_503_when_dynamodb_is_unreachable_hides_the_endpoint(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint = f"127.0.0.1:{free_port()}"
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://{endpoint}")
    with served(create_app(api_settings, api_key="")) as client:
        health = client.get("/health")
    assert health.status_code == 503
    assert endpoint not in health.text and "EndpointConnection" not in health.text
    assert "error id" in health.json()["detail"]


@pytest.mark.parametrize("store_proxy", [DENIED], indirect=True)
def test_500_on_an_unexpected_aws_error_echoes_nothing(
    api_settings: Settings,
    seeded: SeededTables,
    store_proxy: StoreProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(api_settings, api_key="")
    with served(app) as client:
        resp = client.get(READINGS, params=DAY)
    proxy = urlsplit(store_proxy.endpoint).netloc
    error_id = _assert_opaque(
        resp, 500, ACCOUNT, "AccessDenied", "secret_readings", api_settings.table_prefix, proxy
    )
    assert resp.json()["detail"] == f"internal error (error id {error_id})"
    logged = [r for r in caplog.records if error_id in r.getMessage()]
    assert logged and "AccessDenied" in str(logged[0].exc_info[1])


@pytest.mark.parametrize(
    ("url", "params"),
    [
        ("/v1/sites/pass word=hunter2/readings", DAY),
        (READINGS, {**DAY, "limit": "hunter2"}),
        ("/v1/anomalies", {"date": "2024-06-01", "type": "hunter2"}),
    ],
)
def test_validation_errors_do_not_echo_the_input(
    client: httpx.Client, url: str, params: dict[str, str]
) -> None:
    resp = client.get(url, params=params)
    assert resp.status_code == 422
    assert "hunter2" not in resp.text and "input" not in resp.json()["errors"][0]


@pytest.mark.parametrize("store_proxy", [POISONED], indirect=True)
def test_items_with_non_finite_numbers_are_left_out(
    api_settings: Settings,
    seeded: SeededTables,
    store_proxy: StoreProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with (
        served(create_app(api_settings, api_key="", token_secret="s")) as poisoned,
        caplog.at_level(logging.WARNING),
    ):
        first = poisoned.get(READINGS, params={**DAY, "limit": 5})
        second = poisoned.get(READINGS, params={**DAY, "limit": 5, "next": first.json()["next"]})
    assert first.status_code == 200, first.text
    body = json.loads(first.text)  # strict JSON: no NaN or Infinity literals
    answered = [i["ts"] for i in body["items"]]
    assert answered == ["2024-06-01T00:00:00Z", "2024-06-01T00:15:00Z", "2024-06-01T00:20:00Z"]
    assert body["count"] == 3
    assert second.status_code == 200
    assert second.json()["items"][0]["ts"] == "2024-06-01T00:25:00Z"  # paging goes on
    assert "left out 2 items holding a non-finite number" in caplog.text
