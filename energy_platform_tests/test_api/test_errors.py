"""Bad requests answer 422 with a message naming the parameter and what is wrong."""

from __future__ import annotations

import base64

import httpx
import pytest

READINGS = "/v1/sites/site-001/readings"
DAY = {"start": "2024-06-01T00:00:00Z", "end": "2024-06-01T23:59:59Z"}


def _detail(client: httpx.Client, url: str, params: dict) -> str:
    resp = client.get(url, params=params)
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["errors"], body
    return body["detail"]


@pytest.mark.parametrize("site", ["bad site", "x" * 65, "sémaphore"])
def test_site_id_outside_the_contract_pattern(client: httpx.Client, site: str) -> None:
    assert "site_id" in _detail(client, f"/v1/sites/{site}/readings", DAY)


def test_end_before_start(client: httpx.Client) -> None:
    detail = _detail(client, READINGS, {"start": "2024-06-02T00:00:00Z", "end": "2024-06-01"})
    assert "end" in detail and "before start" in detail


def test_range_longer_than_the_bound(client: httpx.Client) -> None:
    detail = _detail(client, READINGS, {"start": "2024-01-01T00:00:00Z", "end": "2024-03-01"})
    assert "longer than 31 days" in detail


def test_daily_range_longer_than_a_year(client: httpx.Client) -> None:
    detail = _detail(
        client, "/v1/sites/site-001/daily", {"start": "2023-01-01", "end": "2024-06-01"}
    )
    assert "longer than 366 days" in detail


@pytest.mark.parametrize("start", ["yesterday", "2024-13-01T00:00:00Z", "2024-06-01T25:00"])
def test_malformed_time(client: httpx.Client, start: str) -> None:
    detail = _detail(client, READINGS, {**DAY, "start": start})
    assert detail.startswith("start:") and "ISO-8601" in detail


@pytest.mark.parametrize("day", ["2024-6-1", "20240601", "2024-02-30"])
def test_malformed_date(client: httpx.Client, day: str) -> None:
    assert "YYYY-MM-DD" in _detail(client, "/v1/anomalies", {"date": day})


def test_missing_parameter(client: httpx.Client) -> None:
    assert "start (query): Field required" in _detail(client, READINGS, {"end": DAY["end"]})


def test_unknown_anomaly_type(client: httpx.Client) -> None:
    detail = _detail(client, "/v1/anomalies", {"date": "2024-06-01", "type": "gremlins"})
    assert "type" in detail and "negative_value" in detail


@pytest.mark.parametrize("limit", [0, 1001, "ten"])
def test_page_size_out_of_bounds(client: httpx.Client, limit: object) -> None:
    assert "limit" in _detail(client, READINGS, {**DAY, "limit": limit})


def _first_token(client: httpx.Client) -> str:
    return client.get(READINGS, params={**DAY, "limit": 2}).json()["next"]


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "!!!.???", "x" * 5000])
def test_malformed_page_token(client: httpx.Client, token: str) -> None:
    assert "next" in _detail(client, READINGS, {**DAY, "next": token})


def test_edited_page_token(client: httpx.Client) -> None:
    body, mac = _first_token(client).split(".")
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    forged = raw.replace(b"00:05:00Z", b"00:55:00Z")
    edited = base64.urlsafe_b64encode(forged).rstrip(b"=").decode()
    assert "next" in _detail(client, READINGS, {**DAY, "next": f"{edited}.{mac}"})


def test_page_token_of_another_query(client: httpx.Client) -> None:
    token = _first_token(client)
    detail = _detail(client, "/v1/sites/site-002/readings", {**DAY, "next": token})
    assert "another query" in detail
    other_range = {**DAY, "end": "2024-06-01T12:00:00Z", "next": token}
    assert "another query" in _detail(client, READINGS, other_range)


def test_page_token_survives_a_change_of_page_size(client: httpx.Client) -> None:
    resp = client.get(READINGS, params={**DAY, "limit": 50, "next": _first_token(client)})
    assert resp.status_code == 200
    assert resp.json()["items"][0]["ts"] == "2024-06-01T00:10:00Z"
