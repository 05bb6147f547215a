"""End to end over HTTP: files land in raw/, the real sensors and runs process them, and every
table and prefix equals an independent recomputation from the input."""

from __future__ import annotations

import csv
import gzip
import io
import json
from datetime import UTC, datetime, timedelta

import boto3
import duckdb
import pytest
from dagster import instance_for_test

from energy_platform.contract import prefixed
from energy_platform.settings import Settings
from energy_platform_tests.harness import drain
from energy_platform_tests.lake_view import LakeView

pytestmark = pytest.mark.slow

SITES = {
    "site-a": "Doña Ana",
    "site-b": "Prince George's",
    "site-c": "King",
    "site-d": "King",
}
FIELDS = [
    "site_id",
    "timestamp",
    "energy_generated_kwh",
    "energy_consumed_kwh",
    "county",
    "anomaly_score",
]


def _day(offset: int) -> datetime:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=offset)


def _readings(
    day: datetime, n_per_site: int, start_minute: int = 0, gen: float = 2.0
) -> list[dict]:
    out = []
    for i, (site, county) in enumerate(SITES.items()):
        for k in range(n_per_site):
            ts = day + timedelta(hours=10, minutes=start_minute + 5 * k)
            out.append(
                {
                    "site_id": site,
                    "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "energy_generated_kwh": round(gen + 0.1 * i + 0.01 * k, 3),
                    "energy_consumed_kwh": round(1.0 + 0.05 * k, 3),
                    "county": county,
                }
            )
    return out


def _jsonl(records: list[dict], extra_lines: list[str] = ()) -> bytes:
    return ("\n".join([json.dumps(r) for r in records] + list(extra_lines)) + "\n").encode()


def _csv(records: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=FIELDS, extrasaction="ignore")
    w.writeheader()
    w.writerows(records)
    return buf.getvalue().encode()


@pytest.fixture
def landed(platform_env: Settings):
    """Mixed formats, a re-delivery, late data, invalid records, anomalies and broken files."""
    lake = LakeView(platform_env)
    d1, d0 = _day(1), _day(2)
    a = _readings(d1, 12)
    invalid = [
        {
            "site_id": "site-a",
            "timestamp": "2026-01-01T00:00:00Z",
            "energy_generated_kwh": "abc",
            "energy_consumed_kwh": 1,
        },
        {"site_id": "site-a", "timestamp": "2026-01-01T00:00:00Z", "energy_consumed_kwh": 1},
        {
            "site_id": "bad site!",
            "timestamp": "2026-01-01T00:00:00Z",
            "energy_generated_kwh": 1,
            "energy_consumed_kwh": 1,
        },
    ]
    lake.put("raw/2026/batch-a.jsonl", _jsonl(a + invalid, ["{this is not json"]))
    # Re-delivery: the first 3 readings of site-a again, later and with other values.
    b = [dict(r, energy_generated_kwh=9.5) for r in a[:3]] + _readings(d1, 6, start_minute=60)
    lake.put("raw/2026/batch-b.csv", _csv(b))
    c = _readings(d0, 8)  # late data for the day before
    lake.put("raw/late/batch-c.json.gz", gzip.compress(json.dumps(c).encode()))
    d = _readings(d1, 2, start_minute=200)
    d[0]["energy_generated_kwh"] = -3.0
    d[1]["energy_consumed_kwh"] = 1500.0
    d[2]["anomaly_score"] = 0.9
    lake.put("raw/2026/batch-d.json", json.dumps({"records": d}).encode())
    lake.put("raw/2026/broken.json", b"{not json at all")
    lake.put("raw/2026/notes.txt", b"hello")

    valid_in_order = a + b + c + d  # arrival order: later wins
    expected = {}
    for r in valid_in_order:
        expected[(r["site_id"], r["timestamp"])] = r
    return lake, expected, {"negative": d[0], "out_of_range": d[1], "flagged": d[2]}


def test_pipeline_end_to_end_matches_independent_recomputation(landed) -> None:
    lake, expected, anomalous = landed
    with instance_for_test() as instance:
        stats = drain(instance)
        assert stats.failed_runs == 0
        assert stats.failed_checks == []
        assert len(stats.daily_runs) >= 2  # yesterday and the late day

        # --- cleaned readings: one per (site, ts), the latest arrival's values, in S3 and DynamoDB
        silver = lake.parquet("silver/readings/")
        got = {
            (r.site_id, r.ts.strftime("%Y-%m-%dT%H:%M:%SZ")): (
                r.energy_generated_kwh,
                r.energy_consumed_kwh,
            )
            for r in silver.itertuples()
        }
        want = {
            k: (float(v["energy_generated_kwh"]), float(v["energy_consumed_kwh"]))
            for k, v in expected.items()
        }
        assert got == want
        items = lake.items("readings")
        assert len(items) == len(want)
        assert {(i["site_id"], i["ts"]) for i in items} == set(want)
        for i in items:
            assert float(i["net_kwh"]) == pytest.approx(
                float(i["energy_generated_kwh"]) - float(i["energy_consumed_kwh"])
            )
            assert "county" in i and "is_anomaly" in i

        # --- anomalies: the contract's rule-based types are found, tables agree with S3
        anomalies = lake.parquet("silver/anomalies/")
        found = {
            (r.site_id, r.ts.strftime("%Y-%m-%dT%H:%M:%SZ"), r.anomaly_type)
            for r in anomalies.itertuples()
        }
        for kind, rec in (
            ("negative_value", anomalous["negative"]),
            ("out_of_range", anomalous["out_of_range"]),
            ("device_flagged", anomalous["flagged"]),
        ):
            assert (rec["site_id"], rec["timestamp"], kind) in found
        assert {(i["site_id"], i["ts_type"]) for i in lake.items("anomalies")} == {
            (s, f"{t}#{k}") for s, t, k in found
        }
        flagged = silver.set_index(["site_id", "ts"])["is_anomaly"]
        assert flagged.sum() == len({(s, t) for s, t, _ in found})

        # --- aggregates: recomputed here with SQL from the expected readings and silver's flags
        con = duckdb.connect()
        con.register("r", silver)
        county = con.sql(
            """select county, time_bucket(interval 5 minute, ts) as window_start, count(*) as reading_count,
                      count(*) filter (where is_anomaly) as anomaly_count, count(distinct site_id) as site_count,
                      coalesce(sum(energy_generated_kwh) filter (where not is_anomaly), 0) as generated_kwh,
                      coalesce(sum(energy_consumed_kwh) filter (where not is_anomaly), 0) as consumed_kwh
               from r group by all order by all"""
        ).df()
        gold = (
            lake.parquet("gold/county_5min/")
            .sort_values(["county", "window_start"])
            .reset_index(drop=True)
        )
        assert gold["reading_count"].sum() == len(want)
        assert (
            gold[["county", "reading_count", "anomaly_count", "site_count"]].values.tolist()
            == county[["county", "reading_count", "anomaly_count", "site_count"]].values.tolist()
        )
        assert gold["generated_kwh"].to_numpy() == pytest.approx(county["generated_kwh"].to_numpy())
        assert len(lake.items("county_5min")) == len(gold)
        daily = lake.parquet("gold/site_daily/")
        assert daily["reading_count"].sum() == len(want)
        assert len(lake.items("site_daily")) == len(daily)
        assert set(daily["date"]) == {_day(1).strftime("%Y-%m-%d"), _day(2).strftime("%Y-%m-%d")}

        # --- quarantine: every bad record kept with its reason; broken files kept whole
        q = lake.quarantine()
        assert sorted(r["reason"] for r in q["quarantine/2026/batch-a.jsonl.jsonl"]) == [
            "bad_number",
            "bad_site_id",
            "missing_field",
            "unparseable_record",
        ]
        assert [r["reason"] for r in q["quarantine/2026/broken.json.jsonl"]] == ["unparseable_file"]
        assert [r["reason"] for r in q["quarantine/2026/notes.txt.jsonl"]] == ["unsupported_format"]

        # --- accounting per file: read = cleaned + quarantined
        ledger = lake.items("ingested_files")
        assert len(ledger) == 6
        for row in ledger:
            assert int(row["records_read"]) == int(row["cleaned"]) + int(row["quarantined"])

        # --- staging drained
        assert lake.keys("staging/") == []

        # --- idempotent: replaying every file and recomputing every day changes nothing
        before = lake.snapshot()
        queues = boto3.client("sqs", region_name=lake.s.region)
        url = queues.get_queue_url(QueueName=prefixed(lake.s.table_prefix, "raw_events"))[
            "QueueUrl"
        ]
        for key in lake.keys("raw/"):
            queues.send_message(QueueUrl=url, MessageBody=json.dumps({"replay": True, "key": key}))
        again = drain(instance, stats)
        assert again.failed_runs == 0
        assert lake.snapshot() == before
