"""Small builders shared by the transform tests."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from energy_platform import contract as c
from energy_platform import schemas

NOW = pd.Timestamp("2024-06-02T00:00:00Z")
DAY = pd.Timestamp("2024-06-01T00:00:00Z")


def record(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        c.SITE_ID: "site-1",
        c.TIMESTAMP: "2024-06-01T12:00:00Z",
        c.GENERATED: 1.5,
        c.CONSUMED: 0.5,
        c.COUNTY: "Kern",
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def jsonl(*records: dict[str, object]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def readings(rows: list[dict[str, object]]) -> pd.DataFrame:
    """A READINGS frame from partial rows (defaults fill the rest)."""
    out = []
    for i, row in enumerate(rows):
        gen = float(row.get(c.GENERATED, 1.0))
        cons = float(row.get(c.CONSUMED, 0.5))
        out.append(
            {
                c.SITE_ID: row.get(c.SITE_ID, "site-1"),
                c.TS: pd.Timestamp(row.get(c.TS, DAY + pd.Timedelta(minutes=5 * i))),
                c.COUNTY: row.get(c.COUNTY, "Kern"),
                c.GENERATED: gen,
                c.CONSUMED: cons,
                c.NET: gen - cons,
                c.DEVICE_ID: row.get(c.DEVICE_ID),
                c.ANOMALY_SCORE: row.get(c.ANOMALY_SCORE, np.nan),
                c.IS_ANOMALY: bool(row.get(c.IS_ANOMALY, False)),
                c.SOURCE_KEY: row.get(c.SOURCE_KEY, "raw/a.jsonl"),
                c.SOURCE_LINE: int(row.get(c.SOURCE_LINE, i + 1)),
                c.ARRIVAL: int(row.get(c.ARRIVAL, 1)),
            }
        )
    frame = pd.DataFrame(out, columns=schemas.READINGS.names)
    frame[c.TS] = pd.to_datetime(frame[c.TS], utc=True).dt.as_unit("s")
    return frame


def realistic_day(sites: int = 20, seed: int = 0) -> pd.DataFrame:
    """5-minute readings of one day: solar bell curve (0 at night), consumption with morning
    and evening peaks, multiplicative noise."""
    rng = np.random.default_rng(seed)
    slots = np.arange(288)
    hours = slots * 5 / 60
    frames = []
    for s in range(sites):
        peak = rng.uniform(0.2, 3.0)
        sun = np.where(np.abs(hours - 12.5) < 7, np.cos((hours - 12.5) / 14 * np.pi), 0.0)
        gen = np.round(peak * sun.clip(0) ** 1.5 * rng.normal(1, 0.05, 288).clip(0.5, 1.5), 4)
        base = rng.uniform(0.05, 1.0)
        shape = 1 + 0.8 * np.exp(-((hours - 7.5) ** 2) / 2) + 1.2 * np.exp(-((hours - 19) ** 2) / 3)
        cons = np.round(base * shape * rng.normal(1, 0.08, 288).clip(0.6, 1.4), 4)
        frames.append(
            pd.DataFrame(
                {
                    c.SITE_ID: f"site-{s:03d}",
                    c.TS: DAY + pd.to_timedelta(slots * 300, unit="s"),
                    c.GENERATED: gen,
                    c.CONSUMED: cons,
                }
            )
        )
    df = pd.concat(frames, ignore_index=True)
    return readings(df.to_dict("records"))
