"""Realistic meter batches for `raw/`: solar by the sun's position, consumption by the clock.

Pure and vectorized: `simulate_batch` builds one batch as a DataFrame (numpy/pandas, no
per-record Python loop), `encode_batch` turns it into the bytes of a raw object, and
`run_simulation` / `upload_batch` are the only functions that touch S3.

The physics:
- sites `site-0001`... are a fixed fleet: county, panel capacity, base load and inverter id
  depend only on the site number (not on the seed), so every run talks about the same sites;
- solar output follows the sun's elevation at the county's latitude and longitude (0 at night,
  peaking at local solar noon), dimmed by clouds that drift per county and hour;
- consumption follows the local clock (standard time, fixed UTC offset per county): a morning
  and a larger evening peak at homes, business hours at commercial sites, with noise;
- a reading every 5 minutes per site. A batch covers the most recent 5-minute slots before its
  batch time, its records spread over the sites. Values depend only on (seed, site, slot), so a
  batch that overlaps an earlier one re-delivers the same readings with the same values, as a
  meter that re-sends does.

Injected on top (drawn per batch): anomalies (`anomaly_rate`: negative value, out of range,
device-flagged score, consumption spike) and invalid records (`invalid_rate`: each breaks
exactly one rule of the contract). `SimulatedBatch` carries both as ground truth.
"""

from __future__ import annotations

import gzip as gzip_lib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Final

import numpy as np
import pandas as pd

from energy_platform import contract as c
from energy_platform.contract import AnomalyType, Reason
from energy_platform.resources.s3 import LakeStorage
from energy_platform.tools.faults import Fault, fault_factor

FORMATS: Final = ("json", "jsonl", "csv")
"""What `fmt="mixed"` rotates through, by batch number."""
READING_INTERVAL_S: Final = c.WINDOW_MINUTES * 60
"""Meters report every 5 minutes, on the 5-minute boundary."""

CONTENT_TYPES: Final = {
    "json": "application/json",
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
}


@dataclass(frozen=True)
class County:
    """Where a site is: the name as written in records, and what the sun and clock do there."""

    name: str
    state: str
    latitude: float
    longitude: float
    utc_offset_minutes: int
    """Standard time, all year (meters do not switch to daylight saving)."""


COUNTIES: Final = (
    County("Doña Ana", "NM", 32.35, -106.83, -7 * 60),
    County("Prince George's", "MD", 38.83, -76.85, -5 * 60),
    County("St. Mary's", "MD", 38.30, -76.61, -5 * 60),
    County("Miami-Dade", "FL", 25.61, -80.50, -5 * 60),
    County("Los Angeles", "CA", 34.32, -118.22, -8 * 60),
    County("King", "WA", 47.49, -121.83, -8 * 60),
    County("Maricopa", "AZ", 33.35, -112.49, -7 * 60),
    County("Añasco", "PR", 18.28, -67.14, -4 * 60),
    County("Travis", "TX", 30.33, -97.78, -6 * 60),
    County("Honolulu", "HI", 21.31, -157.86, -10 * 60),
)
"""Sites are dealt to counties in turn: site-0001 in Doña Ana, site-0002 in Prince George's..."""

COMMERCIAL_SHARE: Final = 0.15
DEVICE_SHARE: Final = 0.7
"""Share of sites whose inverter reports a `device_id` (and sometimes an `anomaly_score`)."""
SCORED_SHARE: Final = 0.2
"""Share of a device's readings that carry a (low) `anomaly_score`."""
UNIT_SHARES: Final = {"kWh": 0.72, None: 0.1, "Wh": 0.12, "MWh": 0.06}
"""Unit written per record; None = no `unit` field (kWh by default)."""
TIMESTAMP_STYLES: Final = {"iso_z": 0.55, "iso_offset": 0.2, "epoch_s": 0.15, "epoch_ms": 0.1}
NUMERIC_STRING_SHARE: Final = 0.03
"""Records whose energy values are written as strings ("0.1234"), which the contract allows."""
MISSING_COUNTY_SHARE: Final = 0.01
"""Records without a county (valid: it becomes `unknown`)."""

ANOMALY_KINDS: Final = (
    AnomalyType.NEGATIVE_VALUE,
    AnomalyType.OUT_OF_RANGE,
    AnomalyType.DEVICE_FLAGGED,
    AnomalyType.SPIKE,
)
INVALID_KINDS: Final = tuple(
    r for r in c.RECORD_REASONS if r not in (Reason.UNPARSEABLE_RECORD, Reason.RECORD_TOO_LONG)
)
"""One per record rule a simulated record can break (a record, so never unparseable)."""
BAD_NUMBERS: Final = ("abc", "NaN", "Infinity", "12,5", "1.2.3", "--")
BAD_TIMESTAMPS: Final = ("yesterday", "2024-13-45T25:61:00Z", "not a time", "31/12/2024 25:00")
UNKNOWN_UNITS: Final = ("kW", "GJ", "BTU", "therm")
BAD_SCORES: Final = (1.7, -0.2, 42.0)
OUT_OF_RANGE_NUMBERS: Final = (1e13, -1e13, 1e-200)
"""Finite, but out of range in kWh whatever the unit (Wh: 1e10 kWh; MWh: 1e-197 kWh)."""
LONG_COUNTY: Final = "Kern " * 500
"""2,500 bytes: over `contract.MAX_COUNTY_BYTES`."""


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate; the CLI's options and the Dagster job's config map onto it."""

    records: int = 500
    """Records per batch."""
    sites: int = 25
    fmt: str = "mixed"
    """json | jsonl | csv | mixed (mixed rotates json, jsonl, csv by batch number)."""
    gzip: bool = False
    anomaly_rate: float = 0.02
    """Share of valid readings with an injected anomaly."""
    invalid_rate: float = 0.0
    """Share of records that break exactly one validation rule."""
    seed: int | None = None
    start: datetime | None = None
    """Time of the first batch (UTC); default now. Same seed and start give identical bytes."""
    faults: tuple[Fault, ...] = ()
    """Faults planted in sites' generation (tools/faults.py); none by default."""

    def __post_init__(self) -> None:
        if self.records < 1 or self.sites < 1:
            raise ValueError(f"records ({self.records}) and sites ({self.sites}) must be >= 1")
        for name in ("anomaly_rate", "invalid_rate"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} is {getattr(self, name)}, not a share in [0, 1]")
        batch_format(self.fmt, 0)


@dataclass(frozen=True)
class SimulatedBatch:
    """One batch of records as they will be written, with the ground truth of what was injected."""

    records: pd.DataFrame
    """Columns `contract.INPUT_FIELDS`, values as written (strings, numbers, None)."""
    invalid_reason: pd.Series
    """Per record: the `Reason` code it was built to break, or None for a valid record."""
    anomaly: pd.Series
    """Per record: the `AnomalyType` injected, or None."""


# --- deterministic noise -------------------------------------------------------------------
_GOLDEN: Final = np.uint64(0x9E3779B97F4A7C15)
_M1: Final = np.uint64(0xBF58476D1CE4E5B9)
_M2: Final = np.uint64(0x94D049BB133111EB)
_SITE_STREAM, _CLOUD_STREAM, _FLICKER_STREAM, _LOAD_STREAM = 1, 2, 3, 4


def _hash_uniform(*parts: int | np.ndarray) -> np.ndarray:
    """Uniform [0, 1) per element, a pure function of the integer parts (splitmix64 mixing)."""
    h = np.zeros(1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for part in parts:
            p = np.asarray(part)
            if p.dtype != np.uint64:
                p = p.astype(np.int64).view(np.uint64)
            z = (h ^ p) + _GOLDEN
            z = (z ^ (z >> np.uint64(30))) * _M1
            z = (z ^ (z >> np.uint64(27))) * _M2
            h = z ^ (z >> np.uint64(31))
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def _seed_int(seed: int) -> int:
    return seed % (1 << 63)


# --- the fleet -----------------------------------------------------------------------------
def site_table(sites: int) -> pd.DataFrame:
    """The fleet of `sites` sites; each row depends only on its site number.

    Columns: site_id, county, latitude, longitude, utc_offset_minutes, commercial,
    capacity_kw (panels), base_load_kw, device_id (None when the site reports none).
    """
    number = np.arange(1, sites + 1, dtype=np.int64)
    u = [_hash_uniform(_SITE_STREAM, number, k) for k in range(5)]
    county_idx = (number - 1) % len(COUNTIES)
    commercial = u[0] < COMMERCIAL_SHARE
    capacity = np.where(commercial, 50 + 450 * u[1], 3 + 9 * u[1])
    base_load = np.where(commercial, capacity * (0.15 + 0.3 * u[2]), 0.3 + 1.2 * u[2])
    padded = pd.Series(number).astype(str).str.zfill(4)
    vendor = np.array(["SE", "EN", "SMA", "FR"])[(u[3] * 4).astype(int)]
    device = pd.Series(vendor).str.cat("-" + padded).where(u[4] < DEVICE_SHARE, None)

    def pick(attr: str) -> np.ndarray:
        return np.array([getattr(k, attr) for k in COUNTIES])[county_idx]

    return pd.DataFrame(
        {
            c.SITE_ID: "site-" + padded,
            c.COUNTY: pick("name"),
            "latitude": pick("latitude"),
            "longitude": pick("longitude"),
            "utc_offset_minutes": pick("utc_offset_minutes"),
            "commercial": commercial,
            "capacity_kw": capacity.round(2),
            "base_load_kw": base_load.round(3),
            c.DEVICE_ID: device,
        }
    )


# --- physics -------------------------------------------------------------------------------
def sun_elevation_sine(
    epoch_s: np.ndarray, latitude: np.ndarray, longitude: np.ndarray
) -> np.ndarray:
    """sin(solar elevation) at UTC epoch seconds and a place (declination + hour angle)."""
    day_of_year = ((epoch_s // 86400) - 10957) % 365.2422  # days since 2000-01-01, in the year
    declination = np.radians(-23.44) * np.cos(2 * np.pi * (day_of_year + 10) / 365.2422)
    solar_hour = ((epoch_s % 86400) / 3600 + longitude / 15) % 24
    hour_angle = np.radians(15 * (solar_hour - 12))
    lat = np.radians(latitude)
    return np.sin(lat) * np.sin(declination) + np.cos(lat) * np.cos(declination) * np.cos(
        hour_angle
    )


def local_solar_hour(epoch_s: np.ndarray, longitude: np.ndarray) -> np.ndarray:
    """Hour of local mean solar time (12 = the sun at its highest)."""
    return ((epoch_s % 86400) / 3600 + longitude / 15) % 24


def _cloud_factor(seed: int, county_idx: np.ndarray, epoch_s: np.ndarray) -> np.ndarray:
    """Share of clear-sky output that gets through; drifts hour to hour, per county."""
    hour = epoch_s // 3600
    frac = (epoch_s % 3600) / 3600

    def at(h: np.ndarray) -> np.ndarray:
        cloudiness = _hash_uniform(_CLOUD_STREAM, seed, county_idx, h) ** 2
        return 1 - 0.75 * cloudiness

    return (1 - frac) * at(hour) + frac * at(hour + 1)


def _load_profile(local_hour: np.ndarray, commercial: np.ndarray) -> np.ndarray:
    """Multiple of the base load by local clock hour: homes peak morning and evening."""

    def bump(centre: float, width: float) -> np.ndarray:
        return np.exp(-0.5 * ((local_hour - centre) / width) ** 2)

    home = 0.55 + 0.9 * bump(7.5, 1.3) + 1.4 * bump(19.0, 2.0)
    business = 0.4 + 1.2 / (1 + np.exp(-3 * (local_hour - 8))) / (1 + np.exp(3 * (local_hour - 18)))
    return np.where(commercial, business, home)


def meter_kwh(
    seed: int,
    sites: pd.DataFrame,
    site: np.ndarray,
    epoch_s: np.ndarray,
    faults: tuple[Fault, ...] = (),
) -> tuple[np.ndarray, np.ndarray]:
    """(generated, consumed) kWh of each reading: `sites` holds the fleet row of each reading,
    `site` its 0-based site number; planted `faults` dim the generation."""
    lat, lon = sites["latitude"].to_numpy(), sites["longitude"].to_numpy()
    site_number = site + 1
    hours = READING_INTERVAL_S / 3600
    sun = np.clip(sun_elevation_sine(epoch_s, lat, lon), 0, None) ** 1.15
    clouds = _cloud_factor(seed, site % len(COUNTIES), epoch_s)
    flicker = 0.92 + 0.08 * _hash_uniform(_FLICKER_STREAM, seed, site_number, epoch_s)
    generated = sites["capacity_kw"].to_numpy() * 0.82 * sun * clouds * flicker * hours
    if faults:
        generated = generated * fault_factor(
            faults, sites[c.SITE_ID].to_numpy(object), lon, epoch_s
        )
    local_hour = ((epoch_s + sites["utc_offset_minutes"].to_numpy() * 60) % 86400) / 3600
    load_noise = 0.75 + 0.5 * _hash_uniform(_LOAD_STREAM, seed, site_number, epoch_s)
    profile = _load_profile(local_hour, sites["commercial"].to_numpy())
    consumed = sites["base_load_kw"].to_numpy() * profile * load_noise * hours
    return generated, consumed


def fleet_readings(
    sites: int,
    first: datetime,
    days: int,
    seed: int,
    faults: tuple[Fault, ...] = (),
    site_range: range | None = None,
) -> pd.DataFrame:
    """Every site's reading at every 5-minute slot of `days` days from `first` (UTC midnight),
    as silver holds them after a clean delivery: no injected anomaly, no invalid record.
    Sorted by (site_id, ts), columns as `schemas.READINGS` minus the lineage columns.
    `site_range`: only these sites of the fleet (0-based positions), the same readings as in
    the whole fleet's frame (a large fleet is built a slice at a time)."""
    fleet = site_table(sites)
    slots = days * 86_400 // READING_INTERVAL_S
    chosen = np.arange(sites, dtype=np.int64) if site_range is None else np.asarray(site_range)
    site = np.repeat(chosen, slots)
    epoch_s = int(_as_utc(first).timestamp()) + np.tile(
        np.arange(slots, dtype=np.int64) * READING_INTERVAL_S, len(chosen)
    )
    s = fleet.iloc[site].reset_index(drop=True)
    generated, consumed = meter_kwh(_seed_int(seed), s, site, epoch_s, faults)
    generated, consumed = generated.round(4), consumed.round(4)
    return pd.DataFrame(
        {
            c.SITE_ID: s[c.SITE_ID].to_numpy(object),
            c.TS: pd.to_datetime(epoch_s, unit="s", utc=True),
            c.COUNTY: s[c.COUNTY].to_numpy(object),
            c.GENERATED: generated,
            c.CONSUMED: consumed,
            c.NET: generated - consumed,
            c.DEVICE_ID: s[c.DEVICE_ID].to_numpy(object),
            c.ANOMALY_SCORE: np.nan,
            c.IS_ANOMALY: False,
        }
    )


# --- one batch -----------------------------------------------------------------------------
def batch_format(fmt: str, batch_number: int) -> str:
    """The file format of batch `batch_number` (`mixed` rotates json, jsonl, csv)."""
    if fmt == "mixed":
        return FORMATS[batch_number % len(FORMATS)]
    if fmt not in FORMATS:
        raise ValueError(f"format {fmt!r} is not one of {', '.join((*FORMATS, 'mixed'))}")
    return fmt


def json_as_object(fmt: str, batch_number: int) -> bool:
    """JSON batches alternate between a bare array and an object `{"records": [...]}`."""
    occurrence = batch_number // len(FORMATS) if fmt == "mixed" else batch_number
    return occurrence % 2 == 1


def _as_utc(when: datetime) -> datetime:
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _choose(rng: np.random.Generator, shares: dict, n: int) -> np.ndarray:
    keys = list(shares)
    p = np.array(list(shares.values()), dtype=float)
    return np.array(keys, dtype=object)[rng.choice(len(keys), size=n, p=p / p.sum())]


def _iso_seconds(epoch_s: np.ndarray) -> np.ndarray:
    """`YYYY-MM-DDTHH:MM:SS` of each epoch second (no zone)."""
    return np.datetime_as_string(np.asarray(epoch_s).astype("datetime64[s]"), unit="s")


def _iso_z(epoch_s: np.ndarray) -> np.ndarray:
    return np.char.add(_iso_seconds(epoch_s), "Z").astype(object)


def simulate_batch(config: SimulationConfig, batch_number: int, when: datetime) -> SimulatedBatch:
    """Batch `batch_number` as uploaded at `when`: records plus what was injected into them."""
    when = _as_utc(when)
    seed = _seed_int(config.seed if config.seed is not None else secrets.randbits(62))
    rng = np.random.default_rng([seed, batch_number])
    n, fleet = config.records, site_table(config.sites)

    # Which site and slot each record is: spread over the sites, newest slot first; the
    # starting site rotates with the batch number so small batches still visit every site.
    j = np.arange(n, dtype=np.int64)
    site = (j + batch_number * n) % config.sites
    latest_slot = int(when.timestamp()) // READING_INTERVAL_S * READING_INTERVAL_S
    epoch_s = latest_slot - (j // config.sites) * READING_INTERVAL_S
    s = fleet.iloc[site].reset_index(drop=True)
    offset_min = s["utc_offset_minutes"].to_numpy()
    generated, consumed = meter_kwh(seed, s, site, epoch_s, config.faults)

    device = s[c.DEVICE_ID].to_numpy(object)
    has_device = pd.notna(device)
    score = np.where(
        has_device & (rng.random(n) < SCORED_SHARE), (rng.random(n) * 0.35).round(3), np.nan
    )

    # Injections: invalid records first, anomalies among the rest.
    invalid = rng.random(n) < config.invalid_rate
    invalid_kind = np.where(invalid, rng.integers(0, len(INVALID_KINDS), n), -1)
    anomalous = ~invalid & (rng.random(n) < config.anomaly_rate)
    anomaly_kind = np.where(anomalous, rng.integers(0, len(ANOMALY_KINDS), n), -1)
    u = rng.random(n)
    is_anomaly = [anomaly_kind == k for k in range(len(ANOMALY_KINDS))]
    generated = np.where(is_anomaly[0], -(0.05 + 2 * u), generated)
    consumed = np.where(is_anomaly[1], 1000 + 4000 * u, consumed)
    score = np.where(is_anomaly[2], (0.55 + 0.45 * u).round(3), score)
    consumed = np.where(is_anomaly[3], consumed * (8 + 12 * u) + 0.5, consumed)

    # Units: values written in the record's unit, rounded as a meter would.
    unit = _choose(rng, UNIT_SHARES, n)
    factor = pd.Series(unit).map(c.UNIT_FACTORS).fillna(1.0).to_numpy(float)
    decimals = np.select([unit == "Wh", unit == "MWh"], [1, 7], 4)
    values = []
    for kwh in (generated, consumed):
        scaled = kwh.round(4) / factor
        values.append(
            np.select([decimals == 1, decimals == 7], [scaled.round(1), scaled.round(7)], scaled)
        )
    generated_out, consumed_out = (v.astype(object) for v in values)
    as_text = rng.random(n) < NUMERIC_STRING_SHARE
    for v in (generated_out, consumed_out):
        v[as_text] = v[as_text].astype(str).astype(object)

    # Timestamps in four styles (all the same instant).
    style = _choose(rng, TIMESTAMP_STYLES, n)
    timestamp = _iso_z(epoch_s)
    m = style == "iso_offset"
    local = _iso_seconds(epoch_s[m] + offset_min[m] * 60)
    sign = np.where(offset_min[m] < 0, "-", "+")
    hh = pd.Series(np.abs(offset_min[m]) // 60).astype(str).str.zfill(2).to_numpy()
    mm = pd.Series(np.abs(offset_min[m]) % 60).astype(str).str.zfill(2).to_numpy()
    timestamp[m] = (local + sign + hh + ":" + mm).astype(object)
    m = style == "epoch_s"
    timestamp[m] = np.array(epoch_s[m].tolist(), dtype=object)
    m = style == "epoch_ms"
    timestamp[m] = np.array((epoch_s[m] * 1000).tolist(), dtype=object)

    county = s[c.COUNTY].to_numpy(object)
    county[rng.random(n) < MISSING_COUNTY_SHARE] = None

    records = pd.DataFrame(
        {
            c.SITE_ID: s[c.SITE_ID].to_numpy(object),
            c.TIMESTAMP: timestamp,
            c.GENERATED: generated_out,
            c.CONSUMED: consumed_out,
            c.COUNTY: county,
            c.UNIT: unit,
            c.DEVICE_ID: device,
            c.ANOMALY_SCORE: score,
        },
        columns=list(c.INPUT_FIELDS),
    )
    _break_rules(records, invalid_kind, rng, epoch_s, when)
    return SimulatedBatch(
        records=records,
        invalid_reason=pd.Series(
            np.array((None, *INVALID_KINDS), dtype=object)[invalid_kind + 1], dtype=object
        ),
        anomaly=pd.Series(
            np.array((None, *ANOMALY_KINDS), dtype=object)[anomaly_kind + 1], dtype=object
        ),
    )


def _break_rules(
    records: pd.DataFrame,
    kind: np.ndarray,
    rng: np.random.Generator,
    epoch_s: np.ndarray,
    when: datetime,
) -> None:
    """Make each record with kind >= 0 break exactly the rule `INVALID_KINDS[kind]`, in place."""
    n = len(records)
    pick = rng.integers(0, 1 << 30, n)

    def rows(reason: str) -> np.ndarray:
        return np.flatnonzero(kind == INVALID_KINDS.index(reason))

    def sample(options: tuple, idx: np.ndarray) -> np.ndarray:
        return np.array(options, dtype=object)[pick[idx] % len(options)]

    idx = rows(Reason.MISSING_FIELD)
    field = pick[idx] % len(c.REQUIRED_FIELDS)
    for f, name in enumerate(c.REQUIRED_FIELDS):
        records.loc[idx[field == f], name] = None

    idx = rows(Reason.BAD_NUMBER)
    for f, name in enumerate((c.GENERATED, c.CONSUMED)):
        sub = idx[(pick[idx] // 7) % 2 == f]
        records.loc[sub, name] = sample(BAD_NUMBERS, sub)

    idx = rows(Reason.BAD_TIMESTAMP)
    records.loc[idx, c.TIMESTAMP] = sample(BAD_TIMESTAMPS, idx)

    idx = rows(Reason.TIMESTAMP_IN_FUTURE)
    ahead = int(when.timestamp()) + 36 * 3600 + (pick[idx] % (60 * 3600))
    records.loc[idx, c.TIMESTAMP] = _iso_z(ahead - ahead % READING_INTERVAL_S)

    idx = rows(Reason.BAD_SITE_ID)
    number = records.loc[idx, c.SITE_ID].astype(str).str.removeprefix("site-").to_numpy()
    spoilt = pd.Series(sample(("site ", "site/", "site#", "x" * 61), idx)).str.cat(number)
    records.loc[idx, c.SITE_ID] = spoilt.to_numpy(object)

    idx = rows(Reason.UNKNOWN_UNIT)
    records.loc[idx, c.UNIT] = sample(UNKNOWN_UNITS, idx)

    idx = rows(Reason.BAD_ANOMALY_SCORE)
    records.loc[idx, c.ANOMALY_SCORE] = sample(BAD_SCORES, idx).astype(float)

    idx = rows(Reason.COUNTY_TOO_LONG)
    records.loc[idx, c.COUNTY] = LONG_COUNTY

    idx = rows(Reason.NUMBER_OUT_OF_RANGE)
    for f, name in enumerate((c.GENERATED, c.CONSUMED)):
        sub = idx[(pick[idx] // 7) % 2 == f]
        records.loc[sub, name] = sample(OUT_OF_RANGE_NUMBERS, sub).astype(float)


def generate_batch(config: SimulationConfig, batch_number: int, when: datetime) -> pd.DataFrame:
    """The records of batch `batch_number` at `when` (columns `contract.INPUT_FIELDS`)."""
    return simulate_batch(config, batch_number, when).records


# --- bytes and keys ------------------------------------------------------------------------
def encode_batch(
    records: pd.DataFrame, fmt: str, gzip: bool = False, *, json_object: bool = False
) -> tuple[str, bytes]:
    """(extension, body) of a raw object: `json`, `jsonl` or `csv`, plus `.gz` when gzipped.

    JSON is an array, or `{"records": [...]}` with `json_object`. Gzip is written with a zero
    mtime, so the same records give the same bytes.
    """
    if fmt == "json":
        body = records.to_json(orient="records", force_ascii=False)
        if json_object:
            body = '{"records": ' + body + "}"
    elif fmt == "jsonl":
        body = records.to_json(orient="records", lines=True, force_ascii=False)
    elif fmt == "csv":
        body = records.to_csv(index=False, lineterminator="\n")
    else:
        raise ValueError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    data = body.encode("utf-8")
    if gzip:
        return f"{fmt}{c.GZIP_EXTENSION}", gzip_lib.compress(data, mtime=0)
    return fmt, data


def batch_key(when: datetime, batch_number: int, extension: str, token: str | None = None) -> str:
    """`raw/YYYY/MM/DD/HH/batch-<YYYYmmddTHHMMSS>-<batch number>-<token>.<extension>`.

    The random token makes keys unique even when the same seed and start run again.
    """
    when = _as_utc(when)
    token = token or secrets.token_hex(3)
    return (
        f"{c.RAW_PREFIX}{when:%Y/%m/%d/%H}/"
        f"batch-{when:%Y%m%dT%H%M%S}-{batch_number:04d}-{token}.{extension}"
    )


def render_batch(config: SimulationConfig, batch_number: int, when: datetime) -> tuple[str, bytes]:
    """(extension, body) of batch `batch_number` at `when`, in the config's format rotation."""
    fmt = batch_format(config.fmt, batch_number)
    return encode_batch(
        generate_batch(config, batch_number, when),
        fmt,
        config.gzip,
        json_object=json_as_object(config.fmt, batch_number),
    )


def upload_batch(
    storage: LakeStorage, config: SimulationConfig, batch_number: int, when: datetime
) -> str:
    """Generate, encode and upload one batch under `raw/`; returns its key."""
    extension, body = render_batch(config, batch_number, when)
    key = batch_key(when, batch_number, extension)
    content_type = "application/gzip" if config.gzip else CONTENT_TYPES[extension]
    storage.put_bytes(key, body, content_type=content_type)
    return key


def run_simulation(
    storage: LakeStorage,
    config: SimulationConfig,
    batches: int,
    interval: float,
    on_batch: Callable[[str], None] = lambda _key: None,
) -> list[str]:
    """Upload `batches` batches, `interval` seconds apart; calls `on_batch(key)` after each.

    With an interval, batch i is stamped `start + i * interval` (start defaults to now), as a
    live feed. Without one, the batches cover consecutive windows that end at `start` (the
    recent history, oldest first), so they add readings rather than re-send the same ones.
    A seeded run with a fixed start uploads the same bytes every time. Without a seed, one is
    drawn for the whole run, so overlapping batches agree on the readings they share.
    """
    start = _as_utc(config.start or datetime.now(UTC)).replace(microsecond=0)
    config = replace(
        config, start=start, seed=config.seed if config.seed is not None else secrets.randbits(62)
    )
    window = timedelta(seconds=READING_INTERVAL_S * -(-config.records // config.sites))
    keys: list[str] = []
    for i in range(batches):
        if i and interval:
            time.sleep(interval)
        when = (
            start + timedelta(seconds=i * interval)
            if interval
            else start - (batches - 1 - i) * window
        )
        key = upload_batch(storage, config, i, when)
        keys.append(key)
        on_batch(key)
    return keys
