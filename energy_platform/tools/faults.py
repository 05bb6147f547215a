"""Faults the simulator can plant in a site's solar output, with their ground truth.

A fault multiplies a site's generation by a factor in [0, 1] from its start (UTC) to its end
(None: to the end of the simulation):
- `soiling`: a slow decline, `severity` of the output lost per day (default 5 %/day, at most
  `SOILING_MAX_LOSS`), as dust builds up;
- `step_failure`: an inverter or string fails, `severity` of the output lost at once (default 40 %);
- `shading`: every day between `SHADE_HOURS` of local solar time, `severity` lost (default 60 %),
  as a new obstacle's shadow;
- `dead_site`: nothing generated (the meter still reports, consumption included).

Pure numpy/pandas; at most one fault per site. `plant_faults` draws a reproducible plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final

import numpy as np
import pandas as pd


class FaultKind:
    """What went wrong at a site."""

    SOILING: Final = "soiling"
    STEP_FAILURE: Final = "step_failure"
    SHADING: Final = "shading"
    DEAD_SITE: Final = "dead_site"


FAULT_KINDS: Final = (
    FaultKind.SOILING,
    FaultKind.STEP_FAILURE,
    FaultKind.SHADING,
    FaultKind.DEAD_SITE,
)
DEFAULT_SEVERITY: Final = {
    FaultKind.SOILING: 0.05,
    FaultKind.STEP_FAILURE: 0.4,
    FaultKind.SHADING: 0.6,
    FaultKind.DEAD_SITE: 1.0,
}
"""Soiling: share lost per day; the others: share lost while the fault acts."""
SOILING_MAX_LOSS: Final = 0.6
SHADE_HOURS: Final = (13.5, 16.0)
"""Local mean solar time (12 = noon) the shadow covers the panels, every day."""


@dataclass(frozen=True)
class Fault:
    """One planted fault: what, where, from when (UTC) to when, how bad."""

    kind: str
    site_id: str
    start: datetime
    end: datetime | None = None
    severity: float | None = None
    """None: `DEFAULT_SEVERITY[kind]`."""

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind {self.kind!r} is not one of {', '.join(FAULT_KINDS)}")
        if self.severity is not None and not 0 <= self.severity <= 1:
            raise ValueError(f"fault severity {self.severity} is not a share in [0, 1]")

    @property
    def loss(self) -> float:
        return DEFAULT_SEVERITY[self.kind] if self.severity is None else self.severity


def parse_fault(text: str) -> Fault:
    """`KIND:SITE:YYYY-MM-DD[:DAYS[:SEVERITY]]` (the CLI's --fault): from midnight UTC of the
    day, for DAYS days (default: to the end)."""
    parts = text.split(":")
    if not 3 <= len(parts) <= 5:
        raise ValueError(f"fault {text!r} is not KIND:SITE:YYYY-MM-DD[:DAYS[:SEVERITY]]")
    start = datetime.combine(date.fromisoformat(parts[2]), datetime.min.time(), UTC)
    days = int(parts[3]) if len(parts) > 3 and parts[3] else None
    severity = float(parts[4]) if len(parts) > 4 else None
    end = None if days is None else start + timedelta(days=days)
    return Fault(parts[0], parts[1], start, end, severity)


def _epoch(moment: datetime | None, default: float) -> float:
    return default if moment is None else moment.timestamp()


def fault_factor(
    faults: tuple[Fault, ...], site_id: np.ndarray, longitude: np.ndarray, epoch_s: np.ndarray
) -> np.ndarray:
    """Per reading (site, its longitude, UTC epoch seconds): the share of output left."""
    factor = np.ones(len(epoch_s))
    if not faults:
        return factor
    plan = pd.DataFrame(
        {
            "site_id": [f.site_id for f in faults],
            "kind": [FAULT_KINDS.index(f.kind) for f in faults],
            "start": [f.start.timestamp() for f in faults],
            "end": [_epoch(f.end, np.inf) for f in faults],
            "loss": [f.loss for f in faults],
        }
    )
    if plan["site_id"].duplicated().any():
        raise ValueError("at most one fault per site")
    which = pd.Series(site_id).map(pd.Series(plan.index, index=plan["site_id"]))
    rows = np.flatnonzero(which.notna().to_numpy())
    f = plan.iloc[which.to_numpy()[rows].astype(int)]
    t = np.asarray(epoch_s, dtype=float)[rows]
    acting = (t >= f["start"].to_numpy()) & (t < f["end"].to_numpy())
    kind, loss = f["kind"].to_numpy(), f["loss"].to_numpy()
    solar_hour = ((t % 86400) / 3600 + np.asarray(longitude)[rows] / 15) % 24
    shaded = (solar_hour >= SHADE_HOURS[0]) & (solar_hour < SHADE_HOURS[1])
    elapsed_days = np.clip(t - f["start"].to_numpy(), 0, None) / 86400
    lost = np.select(
        [
            kind == FAULT_KINDS.index(FaultKind.SOILING),
            kind == FAULT_KINDS.index(FaultKind.SHADING),
        ],
        [np.minimum(loss * elapsed_days, SOILING_MAX_LOSS), np.where(shaded, loss, 0.0)],
        loss,
    )
    factor[rows] = np.where(acting, 1 - lost, 1.0)
    return factor


def plant_faults(
    site_ids: list[str], first: datetime, days: int, per_kind: int, seed: int
) -> tuple[Fault, ...]:
    """`per_kind` faults of each kind on distinct sites drawn with `seed`, starting at a random
    time of a day between `first` + 2 days and 5 days before the end, lasting to the end."""
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(site_ids), size=per_kind * len(FAULT_KINDS), replace=False)
    start_day = rng.integers(2, max(days - 5, 3), size=len(chosen))
    start_s = rng.integers(0, 86_400 // 300, size=len(chosen)) * 300
    return tuple(
        Fault(
            FAULT_KINDS[n // per_kind],
            site_ids[site],
            first + timedelta(days=int(day), seconds=int(sec)),
        )
        for n, (site, day, sec) in enumerate(zip(chosen, start_day, start_s, strict=True))
    )
