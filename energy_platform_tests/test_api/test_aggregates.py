"""County 5-minute windows (names in any script) and site days."""

from __future__ import annotations

from urllib.parse import quote

import httpx
import pytest

from energy_platform_tests.test_api.paging import walk
from energy_platform_tests.test_api.seeding import SeededTables

HOUR = {"start": "2024-06-01T06:00:00Z", "end": "2024-06-01T06:59:59Z"}


@pytest.mark.parametrize("county", ["O'Brien", "Doña Ana", "St. Mary's Parish"])
def test_county_names_with_apostrophes_spaces_and_accents(
    client: httpx.Client, seeded: SeededTables, county: str
) -> None:
    items, _ = walk(client, f"/v1/counties/{quote(county, safe='')}/5min", limit=5, **HOUR)
    g = seeded.county_5min
    expected = g[(g.county == county) & (g.window_start >= HOUR["start"])]
    expected = expected[expected.window_start <= HOUR["end"]]
    assert [i["window_start"] for i in items] == list(expected.window_start)
    assert len(items) == 12
    assert {i["county"] for i in items} == {county}
    first, row = items[0], expected.iloc[0]
    assert first["reading_count"] == row.reading_count
    assert isinstance(first["reading_count"], int)
    assert first["site_count"] == row.site_count
    assert first["generated_kwh"] == pytest.approx(row.generated_kwh)


def test_unknown_county_is_an_empty_list(client: httpx.Client) -> None:
    resp = client.get(f"/v1/counties/{quote('Nowhere ✓')}/5min", params=HOUR)
    assert resp.status_code == 200
    assert resp.json()["items"] == []


def test_site_daily_range_of_dates(client: httpx.Client, seeded: SeededTables) -> None:
    body = client.get(
        "/v1/sites/site.003/daily", params={"start": "2024-05-01", "end": "2024-06-01"}
    ).json()
    d = seeded.site_daily
    row = d[(d.site_id == "site.003") & (d.date == "2024-06-01")].iloc[0]
    assert [i["date"] for i in body["items"]] == ["2024-06-01"]
    item = body["items"][0]
    assert item["reading_count"] == 288
    assert item["anomaly_count"] == row.anomaly_count
    assert item["net_kwh"] == pytest.approx(row.net_kwh)
    assert item["min_net_kwh"] == pytest.approx(row.min_net_kwh)


def test_site_daily_pages(client: httpx.Client) -> None:
    items, pages = walk(
        client, "/v1/sites/site-001/daily", start="2024-01-01", end="2024-12-31", limit=1
    )
    assert [i["date"] for i in items] == ["2024-06-01", "2024-06-02"]
    assert pages == 2


def test_county_name_with_a_slash_reaches_the_county_route(client: httpx.Client) -> None:
    resp = client.get(f"/v1/counties/{quote('North/South', safe='')}/5min", params=HOUR)
    assert resp.status_code == 200
    assert resp.json()["items"] == []
