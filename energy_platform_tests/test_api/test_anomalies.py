"""Anomalies of one site over a time range, and of every site on one day (the by_date index)."""

from __future__ import annotations

import httpx
import pandas as pd
import pytest

from energy_platform import contract as c
from energy_platform_tests.test_api.paging import walk
from energy_platform_tests.test_api.seeding import SeededTables

SITE_URL = "/v1/sites/{}/anomalies"
RANGE = {"start": "2024-06-01T00:00:00Z", "end": "2024-06-02T23:59:59Z"}


def _keys(items: list[dict]) -> list[tuple[str, str, str]]:
    return [(i["site_id"], i["ts"], i["anomaly_type"]) for i in items]


def _rows(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    return list(frame[["site_id", "ts", "anomaly_type"]].itertuples(index=False, name=None))


def test_site_anomalies_of_a_range_in_key_order(client: httpx.Client, seeded: SeededTables) -> None:
    items, _ = walk(client, SITE_URL.format("site-002"), limit=3, **RANGE)
    a = seeded.anomalies
    expected = a[a.site_id == "site-002"].sort_values("ts_type")
    assert _keys(items) == _rows(expected)
    assert {i["county"] for i in items} == {"Doña Ana"}


def test_site_anomaly_range_includes_every_type_at_the_end_time(
    client: httpx.Client, seeded: SeededTables
) -> None:
    a = seeded.anomalies
    last_ts = a[a.site_id == "site-001"].ts.max()
    params = {"start": last_ts, "end": last_ts}
    items, _ = walk(client, SITE_URL.format("site-001"), **params)
    assert sorted(i["anomaly_type"] for i in items) == sorted(
        a[(a.site_id == "site-001") & (a.ts == last_ts)].anomaly_type
    )
    assert items


@pytest.mark.parametrize("kind", [c.AnomalyType.NEGATIVE_VALUE, c.AnomalyType.DEVICE_FLAGGED])
def test_site_anomalies_filtered_by_type(
    client: httpx.Client, seeded: SeededTables, kind: str
) -> None:
    items, _ = walk(client, SITE_URL.format("site-001"), limit=2, type=kind, **RANGE)
    a = seeded.anomalies
    expected = a[(a.site_id == "site-001") & (a.anomaly_type == kind)]
    assert [i["ts"] for i in items] == sorted(expected.ts)
    assert {i["anomaly_type"] for i in items} == {kind}


@pytest.mark.parametrize("limit", [1, 4, 1000])
def test_anomalies_of_a_day_across_sites_walk_each_once(
    client: httpx.Client, seeded: SeededTables, limit: int
) -> None:
    items, _ = walk(client, "/v1/anomalies", date="2024-06-01", limit=limit)
    a = seeded.anomalies
    expected = a[a.date == "2024-06-01"]
    assert sorted(_keys(items)) == sorted(_rows(expected))
    assert len(set(_keys(items))) == len(items)
    assert {i["site_id"] for i in items} == set(expected.site_id)
    ts_types = [f"{i['ts']}#{i['anomaly_type']}" for i in items]
    assert ts_types == sorted(ts_types)  # time order across sites


def test_anomalies_of_a_day_filtered_by_type(client: httpx.Client, seeded: SeededTables) -> None:
    kind = c.AnomalyType.DEVICE_FLAGGED
    items, _ = walk(client, "/v1/anomalies", date="2024-06-02", type=kind, limit=2)
    a = seeded.anomalies
    expected = a[(a.date == "2024-06-02") & (a.anomaly_type == kind)]
    assert sorted(_keys(items)) == sorted(_rows(expected))
    assert len(items) >= 4  # every site flagged at the same times: equal index sort keys


def test_a_day_without_anomalies_is_empty(client: httpx.Client) -> None:
    body = client.get("/v1/anomalies", params={"date": "2020-02-29"}).json()
    assert body == {"items": [], "count": 0, "next": None}
