"""The energy report: materialized from a small lake in the emulator, opened in Chromium, its
numbers recomputed independently with DuckDB over the Parquet files written."""

from __future__ import annotations

import gzip
import json
import re
import tracemalloc
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from typing import Any

import boto3
import duckdb
import pandas as pd
import pyarrow.fs as pafs
import pytest
from dagster import materialize
from plotly.offline import get_plotlyjs

from benchmarks.report_bench import partition_files, synthetic_lake, write_lake
from energy_platform import contract as c
from energy_platform.defs.assets.report import LOCAL_REPORT_PATH, energy_report
from energy_platform.defs.metadata import OBJECT_LINK, URI
from energy_platform.report.html import render_report
from energy_platform.report.lake import UNREADABLE, open_lake
from energy_platform.resources import LakeStorage
from energy_platform.settings import Settings
from energy_platform.tools.provision import provision
from energy_platform.transforms.quarantine import quarantine_jsonl
from energy_platform.transforms.report_data import (
    KPI_KEYS,
    choose_bucket,
    compute_report_data,
    self_sufficiency,
)
from energy_platform_tests.report_browser import (
    BrowserRun,
    drawn_charts,
    ensure_chromium,
    html_attribute,
    open_page,
)

SCRIPT_COUNTY = "<script>alert(1)</script>"
APOSTROPHE_COUNTY = "Prince George's"
COUNTIES = ("Alameda", "King", APOSTROPHE_COUNTY, "Travis", SCRIPT_COUNTY)

# Quarantine lines as the ingest writes them, `raw` and `detail` in varying shapes.
EXTRA_QUARANTINE = {
    "quarantine/2024/06/02/batch-x.csv.jsonl": [
        {"source_key": "raw/2024/06/02/batch-x.csv", "source_line": 3, "reason": "bad_number",
         "detail": "energy_generated_kwh is \"abc\", not a number", "raw": {"site_id": "s1", "energy_generated_kwh": "abc"}},
        {"source_key": "raw/2024/06/02/batch-x.csv", "source_line": 9, "reason": "bad_site_id",
         "detail": "site_id is \"<b>bad</b>\"", "raw": "<b>bad</b>,2024-06-02T00:00:00Z,1,2"},
    ],
    "quarantine/2024/06/02/notes.txt.jsonl": [
        {"source_key": "raw/2024/06/02/notes.txt", "source_line": None, "reason": "unsupported_format",
         "detail": None, "raw": None},
    ],
}  # fmt: skip


@dataclass(frozen=True)
class ReportRun:
    """One materialization of `energy_report` over a lake written by the test."""

    settings: Settings
    lake_dir: Path
    """The same files as in the bucket, on local disk, for the independent recomputation."""
    html: str
    local_path: Path
    metadata: dict[str, Any]
    s3_object: dict[str, Any]


def _materialize(settings: Settings, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> ReportRun:
    monkeypatch.chdir(workdir)
    result = materialize([energy_report], resources={"lake": LakeStorage()})
    assert result.success
    (event,) = result.asset_materializations_for_node("energy_report")
    s3 = boto3.client("s3", region_name=settings.region)
    s3_object = s3.get_object(Bucket=settings.bucket, Key=c.REPORT_KEY)
    local = workdir / LOCAL_REPORT_PATH
    return ReportRun(
        settings=settings,
        lake_dir=workdir / "lake",
        html=local.read_text(encoding="utf-8"),
        local_path=local,
        metadata={k: v.value for k, v in event.metadata.items()},
        s3_object={"body": s3_object["Body"].read(), "content_type": s3_object["ContentType"]},
    )


@pytest.fixture(scope="module")
def fresh_platform(emulator: str) -> Iterator[tuple[Settings, pytest.MonkeyPatch]]:
    """A provisioned platform of its own for this module's materializations."""
    with pytest.MonkeyPatch.context() as mp:
        suffix = uuid.uuid4().hex[:8]
        mp.setenv("ENERGY_BUCKET", f"energy-report-{suffix}")
        mp.setenv("ENERGY_TABLE_PREFIX", f"r{suffix}_")
        settings = Settings.from_env()
        provision(settings)
        yield settings, mp


@pytest.fixture(scope="module")
def report(
    fresh_platform: tuple[Settings, pytest.MonkeyPatch], tmp_path_factory: pytest.TempPathFactory
) -> ReportRun:
    """Three days of 12 sites every 15 minutes in 5 counties, anomalies, quarantined records."""
    settings, mp = fresh_platform
    workdir = tmp_path_factory.mktemp("report")
    lake = synthetic_lake(
        3 * 96 * 12,
        n_sites=12,
        interval_s=900,
        counties=COUNTIES,
        anomaly_share=0.03,
        quarantined=40,
    )
    files = write_lake(lake, workdir / "lake")
    for key, lines in EXTRA_QUARANTINE.items():
        body = "".join(json.dumps(line) + "\n" for line in lines).encode()
        files[key] = body
        (workdir / "lake" / key).parent.mkdir(parents=True, exist_ok=True)
        (workdir / "lake" / key).write_bytes(body)
    storage = LakeStorage()
    for key, body in files.items():
        storage.put_bytes(key, body)
    return _materialize(settings, workdir, mp)


def _recompute_kpis(lake_dir: Path) -> dict[str, Any]:
    """The KPIs straight from the Parquet and JSON-lines files, by their documented definitions."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    readings = f"read_parquet('{lake_dir}/silver/readings/*/*.parquet', hive_partitioning = true)"
    anomalies = f"read_parquet('{lake_dir}/silver/anomalies/*/*.parquet')"
    quarantine = f"read_ndjson_objects('{lake_dir}/quarantine/**/*.jsonl')"
    row = con.execute(
        f"""
        SELECT count(*) AS readings,
               count(*) FILTER (WHERE is_anomaly) AS anomalous_readings,
               sum(energy_generated_kwh) FILTER (WHERE NOT is_anomaly) AS generated_kwh,
               sum(energy_consumed_kwh) FILTER (WHERE NOT is_anomaly) AS consumed_kwh,
               count(DISTINCT site_id) AS sites_reporting,
               count(DISTINCT county) AS counties,
               strftime(min(ts), '%Y-%m-%dT%H:%M:%SZ') AS first_reading,
               strftime(max(ts), '%Y-%m-%dT%H:%M:%SZ') AS newest_reading,
               (SELECT count(*) FROM {anomalies}) AS anomalies,
               (SELECT count(*) FROM {quarantine}) AS quarantined_records
        FROM {readings}
        """
    ).df()
    kpis = row.iloc[0].to_dict()
    gen, con_ = kpis["generated_kwh"], kpis["consumed_kwh"]
    kpis["net_kwh"] = gen - con_
    kpis["self_sufficiency"] = min(gen, con_) / con_
    kpis["anomaly_rate"] = kpis["anomalous_readings"] / kpis["readings"]
    return kpis


def _kpi_block(page: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="kpis">(.*?)</script>', page, re.S)
    assert match, "the page has no KPI block"
    return json.loads(match.group(1))


def _kpi_cards(page: str) -> dict[str, str]:
    return {k: unescape(v) for k, v in re.findall(r'data-kpi="(\w+)" data-value="([^"]*)"', page)}


def _same(expected: Any, actual: Any) -> bool:
    if isinstance(expected, float) or isinstance(actual, float):
        return actual == pytest.approx(float(expected), rel=1e-9, abs=1e-9)
    return str(expected) == str(actual)


def test_report_is_one_self_contained_page_in_s3_and_on_disk(report: ReportRun) -> None:
    page = report.html
    assert report.s3_object["content_type"].startswith("text/html")
    assert report.s3_object["body"] == page.encode("utf-8") == report.local_path.read_bytes()
    assert report.metadata["size_bytes"] == len(page.encode("utf-8"))
    assert report.metadata[URI] == f"s3://{report.settings.bucket}/{c.REPORT_KEY}"
    endpoint = report.settings.endpoint_url
    assert report.metadata[OBJECT_LINK] == f"{endpoint}/{report.settings.bucket}/{c.REPORT_KEY}"
    assert Path(report.metadata["local_path"]) == report.local_path
    assert page.count(get_plotlyjs()[:500]) == 1, "plotly.js is inlined exactly once"
    assert not re.search(r"<(script|link|img|iframe)[^>]*\s(src|href)=", page), "nothing external"
    own_part = page.replace(get_plotlyjs(), "")
    assert not re.search(r"https?://", own_part), "the page links to nothing"
    assert len(page.encode()) < 8_000_000


def test_kpis_equal_an_independent_recomputation(report: ReportRun) -> None:
    expected = _recompute_kpis(report.lake_dir)
    shown = _kpi_block(report.html)
    cards = _kpi_cards(report.html)
    assert set(shown) == set(KPI_KEYS)
    assert expected["readings"] == 3 * 96 * 12
    assert expected["quarantined_records"] == 40 + 3
    for key, value in expected.items():
        assert _same(value, shown[key]), f"{key}: page JSON {shown[key]!r}, recomputed {value!r}"
        assert _same(value, report.metadata[key]), f"{key}: metadata {report.metadata[key]!r}"
        if key in cards:
            assert _same(value, type(value)(cards[key]) if isinstance(value, float) else cards[key])
    assert report.metadata["rows_readings"] == expected["readings"]
    assert report.metadata["rows_quarantine"] == expected["quarantined_records"]


# After the charts are drawn, pick a period on one time chart and record the other's x range.
PICK_A_PERIOD = """
setTimeout(function () {
  Plotly.relayout(document.getElementById('energy_trend'),
                  {'xaxis.range': ['2024-06-02 00:00', '2024-06-02 12:00']});
  setTimeout(function () {
    var range = document.getElementById('net_energy').layout.xaxis.range;
    document.documentElement.setAttribute('data-probe-followed', JSON.stringify(range));
  }, 1000);
}, 1000);
"""


@pytest.fixture(scope="module")
def browser(report: ReportRun, artifacts_dir: Path) -> BrowserRun:
    """The report opened once in headless Chromium; its screenshot kept as a test artifact."""
    if not ensure_chromium():
        pytest.skip("Chromium is not installed and scripts/ensure_chromium.sh could not install it")
    (artifacts_dir / "energy_report.html").write_text(report.html, encoding="utf-8")
    return open_page(
        report.local_path, screenshot=artifacts_dir / "energy_report.png", script=PICK_A_PERIOD
    )


def test_every_chart_renders_in_chromium_without_errors(
    report: ReportRun, browser: BrowserRun, artifacts_dir: Path
) -> None:
    placed = set(re.findall(r'data-chart="(\w+)"', report.html))
    plots, drawn = drawn_charts(browser.dom)
    assert len(placed) >= 8
    assert plots == drawn == placed, f"not drawn: {placed - drawn}"
    assert browser.errors == []
    assert browser.console_errors == []
    assert browser.alerts == []
    assert (artifacts_dir / "energy_report.png").stat().st_size > 50_000


def test_a_period_picked_on_one_time_chart_applies_to_the_others(browser: BrowserRun) -> None:
    followed = html_attribute(browser.dom, "data-probe-followed")
    assert isinstance(followed, list)
    assert [str(v)[:16] for v in followed] == ["2024-06-02 00:00", "2024-06-02 12:00"]


def test_county_names_from_the_data_show_as_text_and_run_nothing(
    report: ReportRun, browser: BrowserRun
) -> None:
    assert SCRIPT_COUNTY not in report.html, "the county name reaches the page only escaped"
    assert browser.alerts == []
    assert SCRIPT_COUNTY not in browser.dom, "no script element was created from the data"
    labels = [unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", browser.dom)]
    assert SCRIPT_COUNTY in labels, "the heat map and county chart show the name as typed"
    assert APOSTROPHE_COUNTY in labels
    assert "<b>bad</b>" not in browser.dom
    cells = [unescape(t) for t in re.findall(r"<td[^>]*>([^<]*)</td>", browser.dom)]
    assert any("bad_site_id" in cell for cell in cells)


def test_empty_lake_gives_a_page_that_says_so(emulator: str, tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENERGY_BUCKET", f"energy-empty-{uuid.uuid4().hex[:8]}")
        settings = Settings.from_env()
        boto3.client("s3", region_name=settings.region).create_bucket(Bucket=settings.bucket)
        run = _materialize(settings, tmp_path, mp)
    assert 'id="empty-lake"' in run.html
    assert run.metadata["empty_lake"] is True
    assert run.metadata["readings"] == 0
    assert _kpi_block(run.html)["newest_reading"] is None
    if ensure_chromium():
        browser = open_page(run.local_path)
        assert browser.errors == [] and browser.console_errors == []


def _page_without_plotlyjs(n_readings: int, n_sites: int, root: Path) -> int:
    write_lake(synthetic_lake(n_readings, n_sites=n_sites, interval_s=900), root)
    data = compute_report_data(open_lake(pafs.LocalFileSystem(), str(root)))
    page = render_report(data, datetime.now(UTC), str(root))
    return len(page.encode()) - len(get_plotlyjs().encode())


def test_report_size_stays_bounded_as_readings_grow(tmp_path: Path) -> None:
    small = _page_without_plotlyjs(20 * 96 * 14, 20, tmp_path / "small")  # 14 days, 20 sites
    large = _page_without_plotlyjs(200 * 96 * 14, 200, tmp_path / "large")  # 10x the readings
    assert large < 1.5 * small, f"{small:,} -> {large:,} bytes for 10x the readings"
    assert large < 2_000_000


def test_partition_files_follow_the_contract_layout() -> None:
    files = partition_files(synthetic_lake(2 * 96 * 2, n_sites=2, interval_s=900, quarantined=3))
    parquet = [k for k in files if k.endswith(".parquet")]
    assert all(re.search(r"/date=\d{4}-\d{2}-\d{2}/part-0\.parquet$", k) for k in parquet)
    assert {k.split("date=")[0] for k in parquet} == {
        c.SILVER_READINGS_PREFIX,
        c.SILVER_ANOMALIES_PREFIX,
        c.GOLD_COUNTY_5MIN_PREFIX,
        c.GOLD_SITE_DAILY_PREFIX,
    }


def test_self_sufficiency_is_the_share_of_consumption_covered() -> None:
    assert self_sufficiency(50.0, 100.0) == 0.5
    assert self_sufficiency(150.0, 100.0) == 1.0
    assert self_sufficiency(-5.0, 100.0) == 0.0
    assert self_sufficiency(10.0, 0.0) is None


def test_time_buckets_stay_within_their_point_budget() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert choose_bucket(start, start.replace(day=3), 2000) == "hour"
    assert choose_bucket(start, start.replace(year=2025), 2000) == "day"
    assert choose_bucket(start, start.replace(year=2034), 2000) == "week"
    assert choose_bucket(None, None, 2000) == "hour"


def test_open_lake_reads_plain_gzipped_and_empty_quarantine_files(tmp_path: Path) -> None:
    lines = [
        {"source_key": "raw/a.csv", "source_line": 2, "reason": "bad_number", "raw": "x"},
        {"source_key": "raw/a.csv", "source_line": None, "reason": "unparseable_file", "raw": ""},
    ]
    body = "".join(json.dumps(line) + "\n" for line in lines).encode()
    (tmp_path / "quarantine" / "day").mkdir(parents=True)
    (tmp_path / "quarantine" / "day" / "a.csv.jsonl").write_bytes(body)
    (tmp_path / "quarantine" / "day" / "b.json.jsonl.gz").write_bytes(gzip.compress(body))
    (tmp_path / "quarantine" / "day" / "empty.json.jsonl").write_bytes(b"")

    data = compute_report_data(open_lake(pafs.LocalFileSystem(), str(tmp_path)))

    assert data.is_empty
    assert data.kpis["quarantined_records"] == 4
    assert dict(zip(*data.quarantine_by_reason.to_dict("list").values(), strict=True)) == {
        "bad_number": 2,
        "unparseable_file": 2,
    }
    page = render_report(data, datetime.now(UTC), str(tmp_path))
    assert 'id="empty-lake"' in page and 'data-chart="quarantine_reasons"' in page


def _old_line(source_line: int, reason: str, raw: str = "x") -> str:
    """A quarantine line as written before `raw` was bounded (no raw_bytes, raw_sha256)."""
    fields = {"source_key": "raw/day/big.csv", "source_line": source_line, "reason": reason}
    return json.dumps({**fields, "detail": "d", "raw": raw}) + "\n"


def _hostile_quarantine() -> dict[str, bytes]:
    """Quarantine objects no reader may fail on: a 50 MB line and old-format rows, lines that
    are not JSON objects (or not UTF-8, or cut short), the bounded format of a 10 MB record,
    and a gzip that inflates to 20 MB of NUL bytes without a newline."""
    big = _old_line(1, "bad_number") + _old_line(2, "unparseable_record", "y" * 50_000_000)
    garbage = b'not json\nnull\n[1]\n{}\n\xff\xfe\n\n  \r\n{"reason": "bad_number"}\n{"source_k'
    new = pd.DataFrame(
        {
            c.SOURCE_KEY: ["raw/day/new.csv"] * 2,
            c.SOURCE_LINE: [4, 5],
            c.REASON: ["bad_number", "missing_field"],
            c.DETAIL: ["d", "d"],
            c.RAW_RECORD: ["z" * 10_000_000, "a,b"],
        }
    )
    return {
        "quarantine/day/big.csv.jsonl": (big + _old_line(3, "bad_site_id")).encode(),
        "quarantine/day/garbage.csv.jsonl": garbage,
        "quarantine/day/new.csv.jsonl": quarantine_jsonl(new),
        "quarantine/day/nul.csv.jsonl.gz": gzip.compress(b"\0" * 20_000_000),
    }


HOSTILE_BY_REASON = {UNREADABLE: 8, "bad_number": 3, "bad_site_id": 1, "missing_field": 1}
"""The 50 MB line, 6 of the garbage lines (2 blank ones are no records) and the NUL bytes are
unreadable; the rest keep their reasons."""
HOSTILE_BY_SOURCE = {
    "raw/day/garbage.csv": 7,  # a line without source_key: the object's raw key
    "raw/day/big.csv": 3,
    "raw/day/new.csv": 2,
    "raw/day/nul.csv": 1,
}


def _by_reason(data: Any) -> dict[str, int]:
    return dict(zip(*data.quarantine_by_reason.to_dict("list").values(), strict=True))


def test_open_lake_counts_every_quarantined_record_whatever_the_objects_hold(
    tmp_path: Path,
) -> None:
    for key, body in _hostile_quarantine().items():
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(body)
    assert len((tmp_path / "quarantine/day/new.csv.jsonl").read_bytes()) < 2 * 70_000

    tracemalloc.start()
    try:
        lake = open_lake(pafs.LocalFileSystem(), str(tmp_path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    data = compute_report_data(lake)

    assert peak < 32_000_000, f"reading quarantine/ peaked at {peak:,} bytes"
    assert data.kpis["quarantined_records"] == sum(HOSTILE_BY_REASON.values())
    assert _by_reason(data) == HOSTILE_BY_REASON
    top = data.quarantine_top_sources
    assert dict(zip(top["source_key"], top["records"], strict=True)) == HOSTILE_BY_SOURCE
    page = render_report(data, datetime.now(UTC), str(tmp_path))
    assert 'data-chart="quarantine_reasons"' in page and UNREADABLE in page


def test_energy_report_succeeds_whatever_quarantine_holds(emulator: str, tmp_path: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENERGY_BUCKET", f"energy-hostile-{uuid.uuid4().hex[:8]}")
        settings = Settings.from_env()
        s3 = boto3.client("s3", region_name=settings.region)
        s3.create_bucket(Bucket=settings.bucket)
        for key, body in _hostile_quarantine().items():
            s3.put_object(Bucket=settings.bucket, Key=key, Body=body)
        run = _materialize(settings, tmp_path, mp)
    total = sum(HOSTILE_BY_REASON.values())
    assert run.metadata["quarantined_records"] == run.metadata["rows_quarantine"] == total
    assert _kpi_block(run.html)["quarantined_records"] == total
    assert 'id="empty-lake"' in run.html and UNREADABLE in run.html
