"""The baseline: the platform's rules written the plain way, one record at a time.

What a hand-written Lambda would do: `json.loads` per line or the `csv` module, a loop with
`if`s for validation, dicts for de-duplication and aggregation, `statistics.median` over each
reading's window. Same rules as the transforms (docs/ANOMALIES.md, contract.py), simply; it
exists only so the benchmark can say how much faster the vectorized core is, measured in the
same run on the same records. Not used by the platform.
"""

from __future__ import annotations

import csv
import io
import json
import math
import re
import statistics
from collections import defaultdict
from datetime import UTC, datetime

from energy_platform import contract as c

SITE_ID = re.compile(c.SITE_ID_PATTERN)
MIN_TS = datetime(2000, 1, 1, tzinfo=UTC).timestamp()
HALF_WINDOW = 3
MAD_K = 6.0 * 1.4826
MIN_ABS, MIN_REL, MIN_SITE_READINGS, STUCK_RUN, OUT_OF_RANGE = 0.2, 1.0, 5, 6, 1000.0


def _text(value: object) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def parse_json_lines(body: bytes) -> list[tuple[int, dict]]:
    out = []
    for i, line in enumerate(body.decode("utf-8").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append((i, {k: _text(value.get(k)) for k in c.INPUT_FIELDS}))
    return out


def parse_csv(body: bytes) -> list[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(body.decode("utf-8"), newline=""))
    return [
        (i, {k: (row.get(k) or None) for k in c.INPUT_FIELDS})
        for i, row in enumerate(reader, start=2)
    ]


def _timestamp(text: str) -> float | None:
    text = text.strip()
    try:
        number = float(text)
    except ValueError:
        try:
            when = datetime.fromisoformat(text)
        except ValueError:
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return float(int(when.timestamp()))
    return float(math.floor(number / 1000 if number > c.EPOCH_MS_THRESHOLD else number))


def _number(text: str | None) -> float | None:
    try:
        value = float(text.strip()) if text is not None else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def validate(records: list[tuple[int, dict]], now_s: float) -> tuple[list[dict], list[tuple]]:
    """(clean readings, (line, reason) of quarantined records): first failing rule wins."""
    clean, quarantined = [], []
    for line, r in records:
        reason = None
        ts = gen = con = score = None
        unit = (r[c.UNIT] or "").strip() or None
        score_text = (r[c.ANOMALY_SCORE] or "").strip() or None
        if any(r[k] is None for k in c.REQUIRED_FIELDS):
            reason = c.Reason.MISSING_FIELD
        elif not SITE_ID.match(r[c.SITE_ID]):
            reason = c.Reason.BAD_SITE_ID
        elif (ts := _timestamp(r[c.TIMESTAMP])) is None or ts < MIN_TS:
            reason = c.Reason.BAD_TIMESTAMP
        elif ts > now_s + c.FUTURE_TOLERANCE_HOURS * 3600:
            reason = c.Reason.TIMESTAMP_IN_FUTURE
        elif (gen := _number(r[c.GENERATED])) is None or (con := _number(r[c.CONSUMED])) is None:
            reason = c.Reason.BAD_NUMBER
        elif unit is not None and unit not in c.UNIT_FACTORS:
            reason = c.Reason.UNKNOWN_UNIT
        elif score_text is not None and not (
            (score := _number(score_text)) is not None and 0 <= score <= 1
        ):
            reason = c.Reason.BAD_ANOMALY_SCORE
        if reason:
            quarantined.append((line, reason))
            continue
        factor = c.UNIT_FACTORS.get(unit or "kWh", 1.0)
        county = (r[c.COUNTY] or "").strip() or c.UNKNOWN_COUNTY
        clean.append(
            {
                "site": r[c.SITE_ID],
                "ts": ts,
                "county": county,
                "gen": gen * factor,
                "con": con * factor,
                "score": score,
                "line": line,
            }
        )
    return clean, quarantined


def dedupe(readings: list[dict], arrival_ms: int, key: str) -> list[dict]:
    latest: dict[tuple, dict] = {}
    for r in readings:
        k = (r["site"], r["ts"])
        old = latest.get(k)
        if old is None or (arrival_ms, key, r["line"]) > (arrival_ms, key, old["line"]):
            latest[k] = r
    return [latest[k] for k in sorted(latest)]


def _spike(window: list[float], value: float) -> bool:
    median = statistics.median(window)
    mad = statistics.median(abs(v - median) for v in window)
    threshold = max(MAD_K * mad, MIN_ABS, MIN_REL * abs(median))
    return abs(value - median) > threshold


def anomalies(readings: list[dict]) -> list[tuple]:
    """Flags `is_anomaly` on each reading (sorted by site, ts); returns (site, ts, type)."""
    found = []
    by_site: dict[str, list[dict]] = defaultdict(list)
    for r in readings:
        by_site[r["site"]].append(r)
    for site, rows in by_site.items():
        n = len(rows)
        for i, r in enumerate(rows):
            types = []
            if r["gen"] < 0 or r["con"] < 0:
                types.append(c.AnomalyType.NEGATIVE_VALUE)
            if r["score"] is not None and r["score"] > c.DEVICE_FLAG_THRESHOLD:
                types.append(c.AnomalyType.DEVICE_FLAGGED)
            if r["gen"] > OUT_OF_RANGE or r["con"] > OUT_OF_RANGE:
                types.append(c.AnomalyType.OUT_OF_RANGE)
            if n >= MIN_SITE_READINGS:
                idx = [min(max(j, 0), n - 1) for j in range(i - HALF_WINDOW, i + HALF_WINDOW + 1)]
                if any(_spike([rows[j][k] for j in idx], r[k]) for k in ("gen", "con")):
                    types.append(c.AnomalyType.SPIKE)
            r["types"] = types
        for k in ("gen", "con"):
            run_start = 0
            for i in range(1, n + 1):
                if i == n or rows[i][k] != rows[run_start][k]:
                    if i - run_start >= STUCK_RUN and rows[run_start][k] != 0:
                        for j in range(run_start, i):
                            if c.AnomalyType.STUCK_SENSOR not in rows[j]["types"]:
                                rows[j]["types"].append(c.AnomalyType.STUCK_SENSOR)
                    run_start = i
        for r in rows:
            r["is_anomaly"] = bool(r["types"])
            found.extend((site, r["ts"], t) for t in r["types"])
    return found


def aggregates(readings: list[dict]) -> tuple[dict, dict]:
    """county_5min and site_daily: counts of every reading, sums of readings without anomaly."""
    county: dict[tuple, list] = {}
    daily: dict[tuple, list] = {}
    for r in readings:
        window = r["ts"] // 300 * 300
        g = county.setdefault((r["county"], window), [0, 0, 0.0, 0.0, set()])
        d = daily.setdefault((r["site"], r["ts"] // 86400), [0, 0, 0.0, 0.0, None, None])
        for acc in (g, d):
            acc[0] += 1
            acc[1] += r["is_anomaly"]
            if not r["is_anomaly"]:
                acc[2] += r["gen"]
                acc[3] += r["con"]
        g[4].add(r["site"])
        if not r["is_anomaly"]:
            net = r["gen"] - r["con"]
            d[4] = net if d[4] is None else min(d[4], net)
            d[5] = net if d[5] is None else max(d[5], net)
    return county, daily


def run(body: bytes, fmt: str, now_s: float) -> dict[str, int]:
    """The whole chain on one file's bytes; counts, to compare with the core's."""
    records = parse_json_lines(body) if fmt == "jsonl" else parse_csv(body)
    clean, quarantined = validate(records, now_s)
    latest = dedupe(clean, 1, "raw/x")
    found = anomalies(latest)
    county, daily = aggregates(latest)
    return {
        "records": len(records),
        "clean": len(clean),
        "quarantined": len(quarantined),
        "anomalies": len(found),
        "county_5min": len(county),
        "site_daily": len(daily),
    }
