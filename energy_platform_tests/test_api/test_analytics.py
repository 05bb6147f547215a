"""Device days (written by the pipeline from the seeded readings) and underperformance events
(one event over two days, written to its table as the platform writes it)."""

from __future__ import annotations

import httpx
import pandas as pd
import pytest

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.resources import DynamoTables
from energy_platform.settings import Settings
from energy_platform.transforms.frames import to_frame, to_table
from energy_platform.transforms.serving import underperformance_items
from energy_platform_tests.test_api.paging import walk
from energy_platform_tests.test_api.seeding import SeededTables

JUNE = {"start": "2024-06-01", "end": "2024-06-30"}


def test_device_days_count_every_reading_and_sum_the_clean_ones(
    client: httpx.Client, seeded: SeededTables
) -> None:
    items, _ = walk(client, "/v1/devices/meter-0/daily", **JUNE)
    site = items[0]["site_id"]
    days = seeded.site_daily.loc[seeded.site_daily[c.SITE_ID] == site]
    assert [i["date"] for i in items] == list(days[c.DATE])
    for item, day in zip(items, days.itertuples(), strict=True):
        assert item["device_id"] == "meter-0"
        assert item["reading_count"] == day.reading_count == 288
        assert item["anomaly_count"] == day.anomaly_count
        assert item["anomaly_share"] == pytest.approx(day.anomaly_count / 288)
        assert item["generated_kwh"] == pytest.approx(day.generated_kwh)
        assert item["min_generated_kwh"] <= item["avg_generated_kwh"] <= item["max_generated_kwh"]


def test_unknown_device_is_an_empty_list(client: httpx.Client) -> None:
    body = client.get("/v1/devices/no-such-meter/daily", params=JUNE).json()
    assert body == {"items": [], "count": 0, "next": None}


@pytest.fixture(scope="module")
def event(api_settings: Settings, seeded: SeededTables) -> pd.DataFrame:
    """One event of `site-ev`: open at the end of 2024-06-01's daylight, over on 06-02."""
    ts = pd.to_datetime(
        ["2024-06-01T14:00:00Z", "2024-06-01T23:55:00Z", "2024-06-02T13:00:00Z"], utc=True
    )
    frame = pd.DataFrame(
        {
            c.SITE_ID: "site-ev",
            c.START: [ts[0], ts[2]],
            c.END: [ts[1], ts[2] + pd.Timedelta(hours=2)],
            c.EVENT_START: ts[0],
            c.DATE: ["2024-06-01", "2024-06-02"],
            c.COUNTY: "King",
            c.EXPECTED: [40.0, 10.0],
            c.ACTUAL: [10.0, 4.0],
            c.ENERGY_LOST: [30.0, 6.0],
            c.PERFORMANCE_RATIO: [0.25, 0.4],
            c.OPEN: [True, False],
        }
    )
    frame = to_frame(to_table(frame, schemas.UNDERPERFORMANCE))
    DynamoTables().put_frame(c.UNDERPERFORMANCE_TABLE, underperformance_items(frame))
    return frame


def test_site_underperformance_lists_each_day_of_the_event(
    client: httpx.Client, event: pd.DataFrame
) -> None:
    items, pages = walk(
        client,
        "/v1/sites/site-ev/underperformance",
        start="2024-06-01T00:00:00Z",
        end="2024-06-30T00:00:00Z",
        limit=1,
    )
    assert pages == 2
    assert [i["start"] for i in items] == ["2024-06-01T14:00:00Z", "2024-06-02T13:00:00Z"]
    assert {i["event_start"] for i in items} == {"2024-06-01T14:00:00Z"}
    assert [i["energy_lost_kwh"] for i in items] == [30.0, 6.0]
    assert [i["open"] for i in items] == [True, False]


def test_underperformance_of_a_day_across_sites(client: httpx.Client, event: pd.DataFrame) -> None:
    body = client.get("/v1/underperformance", params={"date": "2024-06-02"}).json()
    assert [(i["site_id"], i["end"]) for i in body["items"]] == [
        ("site-ev", "2024-06-02T15:00:00Z")
    ]
    bad = client.get("/v1/underperformance", params={"date": "June 2nd"})
    assert bad.status_code == 422
