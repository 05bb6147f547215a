"""/health: 200 when DescribeTable on the readings table succeeds, 503 otherwise; a 503 says
why in the server log only."""

from __future__ import annotations

import uuid

import httpx
import pytest

from energy_platform.api.app import create_app
from energy_platform.contract import ANOMALIES_TABLE, TABLE_KEYS
from energy_platform.local.emulator import free_port
from energy_platform.resources.clients import aws_client
from energy_platform.settings import Settings
from energy_platform_tests.test_api.served import served


def test_health_ok_when_dynamodb_answers(client: httpx.Client, api_settings: Settings) -> None:
    resp = client.get("/health")
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "dynamodb": True, "detail": None}
    assert api_settings.table_prefix not in resp.text


def test_health_503_when_the_endpoint_is_unreachable(
    api_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    with served(create_app(api_settings, api_key="")) as unreachable:
        resp = unreachable.get("/health")
    assert resp.status_code == 503
    assert resp.json()["dynamodb"] is False
    assert resp.json()["status"] == "unavailable"


def test_health_503_when_the_table_is_missing(
    emulator: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("ENERGY_TABLE_PREFIX", "never_provisioned_")
    with served(create_app(api_key="")) as client:
        resp = client.get("/health")
        query = client.get(
            "/v1/sites/a/readings", params={"start": "2024-06-01", "end": "2024-06-02"}
        )
    assert resp.status_code == 503
    assert resp.json()["detail"].startswith("the data store is unavailable")
    assert query.status_code == 503
    assert "never_provisioned" not in query.text
    # The cause and its remedy are in the server log, under the error id of the answer.
    assert f"error id {query.json()['error_id']}" in caplog.text
    assert "run `energy-platform provision`" in caplog.text


def test_anomalies_of_a_day_503_when_the_table_predates_the_index(
    emulator: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    prefix = f"noindex{uuid.uuid4().hex[:6]}_"
    monkeypatch.setenv("ENERGY_TABLE_PREFIX", prefix)
    pk, sk = TABLE_KEYS[ANOMALIES_TABLE]
    ddb = aws_client("dynamodb", "us-east-1")
    ddb.create_table(
        TableName=f"{prefix}{ANOMALIES_TABLE}",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": pk, "AttributeType": "S"},
            {"AttributeName": sk, "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": pk, "KeyType": "HASH"},
            {"AttributeName": sk, "KeyType": "RANGE"},
        ],
    )
    with served(create_app(api_key="")) as client:
        resp = client.get("/v1/anomalies", params={"date": "2024-06-01"})
    assert resp.status_code == 503
    assert prefix not in resp.text and "by_date" not in resp.text
    assert f"error id {resp.json()['error_id']}" in caplog.text
    assert "has no index by_date" in caplog.text
