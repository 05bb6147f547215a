"""What staged_partitions_sensor remembers between ticks: the days whose county totals, and the
day shards whose analytics, are behind what was materialized, and when each day shard's
analytics last started.

It follows materializations, not runs, so whatever wrote a shard (a sensor's run, a backfill of
daily_job or of the assets, a re-execution from the UI) is followed up the same way. A day is due
for a county run once one of its shards' county partials was materialized after its county
totals were (storage ids order events); a day shard is due for analytics once its cleaned
readings, or those of one of the shard's `history_days` days before it, were materialized after
its underperformance events. Each stops being due only when that later materialization happens,
so a failed run is simply requested again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields

from energy_platform.defs.partitions import day_shard_key, shifted_day


@dataclass
class DayRunsCursor:
    seen: dict[str, int] = field(default_factory=dict)
    """Asset key -> the last materialization storage id looked at."""
    county_due: dict[str, int] = field(default_factory=dict)
    """Day -> storage id of its latest shard partials not yet summed into county totals."""
    county_due_since: dict[str, float] = field(default_factory=dict)
    """Day -> when its county totals fell behind (time.time())."""
    analytics_due: dict[str, int] = field(default_factory=dict)
    """Day shard ("2024-01-03|2") -> storage id of its latest cleaned readings not yet followed
    by analytics."""
    analytics_started: dict[str, float] = field(default_factory=dict)
    """Day shard -> when its latest analytics run was requested (kept for one interval)."""
    newest: dict[str, str] = field(default_factory=dict)
    """Shard -> the latest day whose cleaned readings were written."""

    @classmethod
    def load(cls, raw: str | None) -> DayRunsCursor:
        """The cursor a tick stored; fields another version of the code added are left out."""
        stored = json.loads(raw) if raw else {}
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in stored.items() if k in known})

    def dump(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    def partials_written(self, day: str, storage_id: int, now: float) -> None:
        self.county_due[day] = max(self.county_due.get(day, storage_id), storage_id)
        self.county_due_since.setdefault(day, now)

    def county_written(self, day: str, storage_id: int) -> None:
        if self.county_due.get(day, storage_id) < storage_id:
            del self.county_due[day]
            self.county_due_since.pop(day, None)

    def county_overdue(self, now: float, bound: float) -> set[str]:
        """Days whose county totals have been behind their shards for longer than `bound` s."""
        return {d for d in self.county_due if now - self.county_due_since.get(d, now) > bound}

    def readings_written(self, day: str, shard: str, storage_id: int, history_days: int) -> None:
        """The day shard's analytics are due, and so are the shard's next `history_days` days'
        up to its newest: their baselines read this day, and their events continue its events,
        so late data leaves them as a clean recomputation would."""
        self.newest[shard] = newest = max(self.newest.get(shard, day), day)
        for k in range(history_days + 1):
            later = shifted_day(day, k)
            if later > newest:
                break
            key = str(day_shard_key(later, shard))
            self.analytics_due[key] = max(self.analytics_due.get(key, storage_id), storage_id)

    def analytics_written(self, day_shard: str, storage_id: int) -> None:
        if self.analytics_due.get(day_shard, storage_id) < storage_id:
            del self.analytics_due[day_shard]

    def analytics_wait(self, day_shard: str, now: float, interval: float) -> float:
        """Seconds until the day shard's analytics may run again (0: now)."""
        return max(0.0, self.analytics_started.get(day_shard, -interval) + interval - now)

    def forget_old_starts(self, now: float, interval: float) -> None:
        self.analytics_started = {
            d: t for d, t in self.analytics_started.items() if t + interval > now
        }
