"""GET /v1/sites/{site_id}/readings: a site's readings in a time range, page by page."""

from __future__ import annotations

import httpx
import pytest

from energy_platform_tests.test_api.paging import walk
from energy_platform_tests.test_api.seeding import SeededTables

URL = "/v1/sites/{}/readings"
DAY = {"start": "2024-06-01T00:00:00Z", "end": "2024-06-01T23:59:59Z"}


def _expected(seeded: SeededTables, site: str, start: str, end: str) -> list[str]:
    r = seeded.readings
    hit = r[(r.site_id == site) & (r.ts >= start) & (r.ts <= end)]
    return hit.ts.tolist()


@pytest.mark.parametrize(
    ("limit", "end", "count"),
    [
        (1, "2024-06-01T01:59:59Z", 24),
        (7, DAY["end"], 288),
        (100, DAY["end"], 288),
        (288, DAY["end"], 288),
        (1000, DAY["end"], 288),
    ],
)
def test_pages_walk_every_reading_exactly_once_in_time_order(
    client: httpx.Client, seeded: SeededTables, limit: int, end: str, count: int
) -> None:
    items, pages = walk(client, URL.format("site-001"), limit=limit, start=DAY["start"], end=end)
    expected = _expected(seeded, "site-001", DAY["start"], end)
    assert [i["ts"] for i in items] == expected
    assert len(expected) == count
    assert pages == -(-count // limit)  # no empty trailing page


def test_readings_carry_contract_attributes_as_json_types(
    client: httpx.Client, seeded: SeededTables
) -> None:
    body = client.get(URL.format("site:004"), params={**DAY, "limit": 5}).json()
    first = body["items"][0]
    row = seeded.readings.query("site_id == 'site:004'").iloc[0]
    assert first["ts"] == "2024-06-01T00:00:00Z"
    assert first["county"] == "St. Mary's Parish"
    assert first["energy_generated_kwh"] == pytest.approx(row.energy_generated_kwh)
    assert first["net_kwh"] == pytest.approx(row.net_kwh)
    assert first["is_anomaly"] is bool(row.is_anomaly)
    assert isinstance(first["energy_consumed_kwh"], float)
    assert body["count"] == 5
    assert isinstance(body["next"], str)


def test_time_range_is_inclusive_at_both_ends(client: httpx.Client) -> None:
    params = {"start": "2024-06-01T10:00:00Z", "end": "2024-06-01T10:30:00Z"}
    items, _ = walk(client, URL.format("site-002"), **params)
    assert [i["ts"] for i in items] == [f"2024-06-01T10:{m:02d}:00Z" for m in range(0, 31, 5)]


def test_offsets_are_converted_to_utc_and_naive_times_are_utc(client: httpx.Client) -> None:
    with_offset = {"start": "2024-06-01T12:00:00+02:00", "end": "2024-06-01T12:10:00+02:00"}
    naive = {"start": "2024-06-01T10:00:00", "end": "2024-06-01T10:10:00"}
    a, _ = walk(client, URL.format("site-002"), **with_offset)
    b, _ = walk(client, URL.format("site-002"), **naive)
    assert (
        [i["ts"] for i in a]
        == [i["ts"] for i in b]
        == [
            "2024-06-01T10:00:00Z",
            "2024-06-01T10:05:00Z",
            "2024-06-01T10:10:00Z",
        ]
    )


def test_fractional_bounds_keep_only_whole_seconds_inside(client: httpx.Client) -> None:
    params = {"start": "2024-06-01T10:00:00.5Z", "end": "2024-06-01T10:10:00.9Z"}
    items, _ = walk(client, URL.format("site-002"), **params)
    assert [i["ts"] for i in items] == ["2024-06-01T10:05:00Z", "2024-06-01T10:10:00Z"]


def test_a_range_outside_the_data_is_an_empty_page(client: httpx.Client) -> None:
    body = client.get(
        URL.format("site-001"), params={"start": "2023-01-01T00:00:00Z", "end": "2023-01-02"}
    ).json()
    assert body == {"items": [], "count": 0, "next": None}


def test_unknown_site_is_an_empty_list_not_an_error(client: httpx.Client) -> None:
    resp = client.get(URL.format("no-such-site"), params=DAY)
    assert resp.status_code == 200
    assert resp.json() == {"items": [], "count": 0, "next": None}


def test_default_page_size_is_100(client: httpx.Client) -> None:
    body = client.get(URL.format("site-001"), params=DAY).json()
    assert body["count"] == 100
    assert body["next"]
