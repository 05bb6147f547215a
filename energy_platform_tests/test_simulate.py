"""The simulator writes what the contract accepts, with realistic shapes and exact injections."""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from energy_platform import contract as c
from energy_platform.resources import LakeStorage
from energy_platform.settings import Settings
from energy_platform.tools.cli import main
from energy_platform.tools.simulate import (
    FORMATS,
    SimulationConfig,
    batch_key,
    encode_batch,
    generate_batch,
    local_solar_hour,
    render_batch,
    run_simulation,
    simulate_batch,
    site_table,
)
from energy_platform.transforms.parse import parse_object
from energy_platform.transforms.validate import validate_records

NOW = datetime.now(UTC).replace(microsecond=0)
QUOTED_AND_NON_ASCII = {
    "Doña Ana",
    "Prince George's",
    "St. Mary's",
    "Miami-Dade",
    "Los Angeles",
    "King",
}
KEY_PATTERN = re.compile(
    r"^raw/\d{4}/\d{2}/\d{2}/\d{2}/batch-\d{8}T\d{6}-\d{4,}-[0-9a-f]{6}\.(json|jsonl|csv)(\.gz)?$"
)


# --- a reader and validator of our own, written from the contract ---------------------------
def read_raw(extension: str, body: bytes) -> list[dict[str, Any]]:
    """The records of a raw object, as a consumer following the contract would read them."""
    if extension.endswith(".gz"):
        body = gzip.decompress(body)
        extension = extension.removesuffix(".gz")
    text = body.decode("utf-8")
    if extension == "json":
        data = json.loads(text)
        return data["records"] if isinstance(data, dict) else data
    if extension == "jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    assert extension == "csv", extension
    return [
        {k: (v if v != "" else None) for k, v in row.items()}
        for row in csv.DictReader(io.StringIO(text))
    ]


def as_number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def as_utc(value: Any) -> datetime | None:
    if isinstance(value, int | float) or (isinstance(value, str) and value.isdigit()):
        number = float(value)
        return datetime.fromtimestamp(
            number / 1000 if number > c.EPOCH_MS_THRESHOLD else number, UTC
        )
    try:
        parsed = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def violation(record: dict[str, Any], now: datetime) -> str | None:
    """The contract rule `record` breaks, or None when it is a valid record."""
    if any(record.get(f) in (None, "") for f in c.REQUIRED_FIELDS):
        return c.Reason.MISSING_FIELD
    if not re.fullmatch(c.SITE_ID_PATTERN, str(record[c.SITE_ID])):
        return c.Reason.BAD_SITE_ID
    if as_number(record[c.GENERATED]) is None or as_number(record[c.CONSUMED]) is None:
        return c.Reason.BAD_NUMBER
    ts = as_utc(record[c.TIMESTAMP])
    if ts is None:
        return c.Reason.BAD_TIMESTAMP
    if ts > now + timedelta(hours=c.FUTURE_TOLERANCE_HOURS):
        return c.Reason.TIMESTAMP_IN_FUTURE
    county = str(record.get(c.COUNTY) or "").strip(" \t\r\n")
    if len(county.encode()) > c.MAX_COUNTY_BYTES:
        return c.Reason.COUNTY_TOO_LONG
    if record.get(c.UNIT) not in (None, "", *c.UNIT_FACTORS):
        return c.Reason.UNKNOWN_UNIT
    factor = c.UNIT_FACTORS[record.get(c.UNIT) or "kWh"]
    for value in (as_number(record[c.GENERATED]), as_number(record[c.CONSUMED])):
        if value != 0 and not c.MIN_NONZERO_ABS <= abs(value * factor) <= c.MAX_ABS_KWH:
            return c.Reason.NUMBER_OUT_OF_RANGE
    score = record.get(c.ANOMALY_SCORE)
    if score not in (None, ""):
        number = as_number(score)
        if number is None or not 0 <= number <= 1:
            return c.Reason.BAD_ANOMALY_SCORE
    return None


def cleaned(records: list[dict[str, Any]]) -> pd.DataFrame:
    """Valid records as readings: site, UTC time, county, values in kWh, score."""
    rows = []
    for r in records:
        factor = c.UNIT_FACTORS[r.get(c.UNIT) or "kWh"]
        score = r.get(c.ANOMALY_SCORE)
        rows.append(
            {
                c.SITE_ID: r[c.SITE_ID],
                c.TS: as_utc(r[c.TIMESTAMP]),
                c.COUNTY: r.get(c.COUNTY),
                c.GENERATED: float(r[c.GENERATED]) * factor,
                c.CONSUMED: float(r[c.CONSUMED]) * factor,
                c.ANOMALY_SCORE: None if score in (None, "") else float(score),
            }
        )
    return pd.DataFrame(rows)


def round_trip(
    config: SimulationConfig, fmt: str, batch_number: int = 0, when: datetime = NOW
) -> list[dict[str, Any]]:
    extension, body = encode_batch(generate_batch(config, batch_number, when), fmt)
    return read_raw(extension, body)


# --- what a batch contains -------------------------------------------------------------------
@pytest.mark.parametrize("fmt", FORMATS)
def test_valid_records_satisfy_the_contract(fmt: str) -> None:
    config = SimulationConfig(records=1500, sites=40, anomaly_rate=0.05, seed=7)
    records = round_trip(config, fmt)
    assert len(records) == 1500
    assert [violation(r, NOW) for r in records] == [None] * 1500
    readings = cleaned(records)
    assert readings[c.TS].max() <= NOW, "no reading from the future"
    assert np.isfinite(readings[[c.GENERATED, c.CONSUMED]].to_numpy()).all()
    assert readings[c.SITE_ID].nunique() == 40
    assert not readings.duplicated([c.SITE_ID, c.TS]).any(), "one reading per site and time"


def test_counties_include_quoted_and_non_ascii_names_intact() -> None:
    records = round_trip(SimulationConfig(records=200, sites=25, seed=1), "csv")
    assert {r[c.COUNTY] for r in records} >= QUOTED_AND_NON_ASCII


def test_sites_are_the_same_fleet_whatever_the_seed_or_size() -> None:
    small, large = site_table(25), site_table(300)
    pd.testing.assert_frame_equal(small, large.head(25))
    assert (small[c.SITE_ID] == [f"site-{i:04d}" for i in range(1, 26)]).all()
    assert small["capacity_kw"].between(3, 500).all()
    assert small[c.DEVICE_ID].notna().any() and small[c.DEVICE_ID].isna().any()


def test_timestamps_units_and_json_shapes_vary() -> None:
    config = SimulationConfig(records=2000, sites=50, seed=3)
    timestamps = generate_batch(config, 0, NOW)[c.TIMESTAMP]
    as_text = timestamps[timestamps.map(lambda t: isinstance(t, str))]
    as_int = timestamps[timestamps.map(lambda t: isinstance(t, int))]
    assert as_text.str.endswith("Z").any()
    assert as_text.str.contains(r"[+-]\d\d:\d\d$").any()
    assert (as_int < c.EPOCH_MS_THRESHOLD).any() and (as_int > c.EPOCH_MS_THRESHOLD).any()
    units = pd.Series([r.get(c.UNIT) for r in round_trip(config, "jsonl")])
    assert set(units.dropna()) == {"kWh", "Wh", "MWh"} and units.isna().any()
    assert units.eq("kWh").mean() > 0.5
    bodies = [
        json.loads(render_batch(SimulationConfig(records=5, seed=1), n, NOW)[1]) for n in (0, 3)
    ]
    assert isinstance(bodies[0], list) and list(bodies[1]) == ["records"]


def test_solar_is_zero_at_night_and_peaks_at_local_solar_noon() -> None:
    sites = 60
    config = SimulationConfig(records=sites * 12, sites=sites, anomaly_rate=0, seed=11)
    fleet = site_table(sites).drop(columns=c.COUNTY).set_index(c.SITE_ID)
    day = datetime(2024, 3, 20, tzinfo=UTC)
    hours = [
        cleaned(round_trip(config, "jsonl", when=day + timedelta(hours=h))) for h in range(1, 25)
    ]
    readings = pd.concat(hours).join(fleet, on=c.SITE_ID)
    epoch = readings[c.TS].map(lambda t: int(t.timestamp())).to_numpy()
    solar_hour = local_solar_hour(epoch, readings["longitude"].to_numpy())
    output = (readings[c.GENERATED] / readings["capacity_kw"]).to_numpy()

    night = (solar_hour < 5) | (solar_hour > 19)
    assert night.sum() > 1000 and (output[night] == 0).all()
    assert (output[(solar_hour > 10) & (solar_hour < 14)] > 0).all()
    two_hours_around = 2 * np.floor((solar_hour + 1) / 2)  # 12 = 11:00 to 13:00
    assert pd.Series(output).groupby(two_hours_around).mean().idxmax() == 12
    centroid = (solar_hour * output).sum() / output.sum()
    assert 11.5 < centroid < 12.5


def test_homes_consume_most_in_the_evening_and_morning() -> None:
    sites = 60
    config = SimulationConfig(records=sites * 12, sites=sites, anomaly_rate=0, seed=5)
    fleet = site_table(sites).drop(columns=c.COUNTY).set_index(c.SITE_ID)
    day = datetime(2024, 3, 20, tzinfo=UTC)
    readings = pd.concat(
        cleaned(round_trip(config, "csv", when=day + timedelta(hours=h))) for h in range(1, 25)
    ).join(fleet, on=c.SITE_ID)
    homes = readings[~readings["commercial"]]
    local_hour = homes.apply(
        lambda r: (r[c.TS] + timedelta(minutes=int(r["utc_offset_minutes"]))).hour, axis=1
    )
    load = (homes[c.CONSUMED] / homes["base_load_kw"]).groupby(local_hour).mean()
    assert load[19] > 2 * load[3]
    assert load[7] > 1.5 * load[3]
    assert load[19] > load[13] and load[7] > load[13]


def test_invalid_rate_gives_that_share_of_records_each_breaking_its_rule() -> None:
    config = SimulationConfig(records=4000, sites=50, invalid_rate=0.1, seed=2)
    batch = simulate_batch(config, 0, NOW)
    expected = batch.invalid_reason.tolist()
    assert 0.08 < batch.invalid_reason.notna().mean() < 0.12
    assert set(batch.invalid_reason.dropna()) == set(c.RECORD_REASONS) - {
        c.Reason.UNPARSEABLE_RECORD,
        c.Reason.RECORD_TOO_LONG,
    }
    for fmt in FORMATS:
        extension, body = encode_batch(batch.records, fmt)
        found = [violation(r, NOW) for r in read_raw(extension, body)]
        assert found == expected, fmt


def test_injected_anomalies_follow_the_contract_rules() -> None:
    config = SimulationConfig(records=5000, sites=100, anomaly_rate=0.1, seed=4)
    batch = simulate_batch(config, 0, NOW)
    readings = cleaned(read_raw(*encode_batch(batch.records, "jsonl")))
    kind = batch.anomaly
    assert 0.08 < kind.notna().mean() < 0.12
    gen, cons, score = readings[c.GENERATED], readings[c.CONSUMED], readings[c.ANOMALY_SCORE]
    assert (gen[kind == c.AnomalyType.NEGATIVE_VALUE] < 0).all()
    assert (cons[kind == c.AnomalyType.OUT_OF_RANGE] > 1000).all()
    assert (score[kind == c.AnomalyType.DEVICE_FLAGGED] > c.DEVICE_FLAG_THRESHOLD).all()
    assert (cons[kind == c.AnomalyType.SPIKE] >= 0.5).all()
    clean = kind.isna()
    assert (gen[clean] >= 0).all() and (cons[clean] >= 0).all()
    assert (gen[clean] <= 1000).all() and (cons[clean] <= 1000).all()
    assert (score[clean].dropna() <= c.DEVICE_FLAG_THRESHOLD).all()


def test_overlapping_batches_redeliver_the_same_readings() -> None:
    config = SimulationConfig(records=500, sites=25, anomaly_rate=0, seed=9)
    first = cleaned(round_trip(config, "json", batch_number=0))
    again = cleaned(round_trip(config, "csv", batch_number=1, when=NOW + timedelta(minutes=5)))
    merged = first.merge(again, on=[c.SITE_ID, c.TS], suffixes=("", "_again"))
    assert len(merged) == 475, "19 of the 20 slots per site overlap"
    for column in (c.GENERATED, c.CONSUMED):
        assert np.allclose(merged[column], merged[f"{column}_again"], rtol=1e-3, atol=1e-3)


def test_same_seed_and_start_give_identical_bytes() -> None:
    def bodies(seed: int) -> list[bytes]:
        config = SimulationConfig(records=300, sites=30, invalid_rate=0.1, seed=seed, gzip=True)
        return [render_batch(config, n, NOW)[1] for n in range(3)]

    assert bodies(1) == bodies(1)
    assert bodies(1) != bodies(2)


def test_batch_keys_follow_the_raw_layout() -> None:
    key = batch_key(datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), 7, "csv.gz")
    assert key.startswith("raw/2024/01/02/03/batch-20240102T030405-0007-")
    assert KEY_PATTERN.match(key)
    assert batch_key(NOW, 0, "json") != batch_key(NOW, 0, "json")


# --- uploads, against the emulator ------------------------------------------------------------
def raw_objects(storage: LakeStorage) -> dict[str, bytes]:
    return {o.key: storage.get_bytes(o.key) for o in storage.list_objects(c.RAW_PREFIX)}


def extension_of(key: str) -> str:
    return key.rsplit("/", 1)[1].split(".", 1)[1]


def test_run_simulation_uploads_each_batch_and_reports_it(platform_env: Settings) -> None:
    storage = LakeStorage()
    seen: list[str] = []
    start = NOW - timedelta(hours=1)
    config = SimulationConfig(records=50, sites=10, gzip=True, seed=1, start=start)
    keys = run_simulation(storage, config, batches=4, interval=0.01, on_batch=seen.append)
    assert seen == keys and len(set(keys)) == 4
    objects = raw_objects(storage)
    assert sorted(objects) == sorted(keys)
    assert [extension_of(k) for k in keys] == ["json.gz", "jsonl.gz", "csv.gz", "json.gz"]
    for key in keys:
        assert KEY_PATTERN.match(key)
        assert len(read_raw(extension_of(key), objects[key])) == 50
    again = run_simulation(storage, config, batches=4, interval=0.01)
    assert [objects[k] for k in keys] == [storage.get_bytes(k) for k in again]


def test_batches_without_interval_cover_consecutive_windows_ending_at_start(
    platform_env: Settings,
) -> None:
    storage = LakeStorage()
    config = SimulationConfig(records=50, sites=10, fmt="jsonl", seed=3, start=NOW)
    keys = run_simulation(storage, config, batches=3, interval=0)
    now = pd.Timestamp.now(tz="UTC")
    readings = [
        set(
            validate_records(parse_object(k, storage.get_bytes(k)), k, 0, now)
            .clean[["site_id", "ts"]]
            .itertuples(index=False)
        )
        for k in keys
    ]
    assert all(len(r) == 50 for r in readings)
    assert not (readings[0] & readings[1]) and not (
        readings[1] & readings[2]
    )  # new readings, not re-sends


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """`energy-platform ...` in a child process, with this test's environment."""
    script = Path(sys.executable).with_name("energy-platform")
    command = (
        [str(script)] if script.exists() else [sys.executable, "-m", "energy_platform.tools.cli"]
    )
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_simulate_puts_three_parseable_batches_under_raw(
    platform_env: Settings, tmp_path: Path
) -> None:
    done = cli("simulate", "--batches", "3", "--seed", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    objects = raw_objects(LakeStorage())
    assert len(objects) == 3
    assert "3 batches, 1500 records." in done.stdout
    assert sorted(extension_of(k) for k in objects) == sorted(FORMATS)
    for key, body in objects.items():
        assert KEY_PATTERN.match(key)
        assert key in done.stdout
        records = read_raw(extension_of(key), body)
        assert len(records) == 500
        assert all(violation(r, datetime.now(UTC)) is None for r in records)


def test_cli_cap_refuses_more_batches_than_max(
    emulator: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ENERGY_BUCKET", "no-such-bucket-uploads-would-fail")
    result = CliRunner().invoke(main, ["simulate", "--batches", "5", "--max-batches", "2"])
    assert result.exit_code == 2, result.output
    assert "--max-batches 2" in result.output


def test_help_works_on_every_subcommand() -> None:
    runner = CliRunner()
    top = runner.invoke(main, ["--help"])
    assert top.exit_code == 0 and "simulate" in top.output
    for name, command in main.commands.items():
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert f"Usage: main {name}" in result.output or "Usage:" in result.output
        assert (command.help or "").split("\n")[0][:30] in " ".join(result.output.split())


def test_config_rejects_impossible_values() -> None:
    for bad in ({"records": 0}, {"invalid_rate": 1.5}, {"fmt": "xml"}):
        with pytest.raises(ValueError):
            SimulationConfig(**bad)
