"""What staged_partitions_sensor remembers between ticks: the days whose county totals or
analytics are behind the runs that finished, and when each day's analytics last started.

A day is due for a county run once one of its shard runs finished after its last county run
was created; due for analytics once a county run finished after its last analytics run was
created. It stops being due only when that later run succeeds, so a failed run is retried.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass
class DayRunsCursor:
    checked: float | None = None
    """When the sensor last looked at finished runs (epoch seconds)."""
    county_due: dict[str, float] = field(default_factory=dict)
    """Day -> end of its latest shard run not yet summed by a county run."""
    analytics_due: dict[str, float] = field(default_factory=dict)
    """Day -> end of its latest county run not yet followed by analytics."""
    analytics_started: dict[str, float] = field(default_factory=dict)
    """Day -> when its latest analytics run was requested (kept for one interval)."""

    @classmethod
    def load(cls, raw: str | None) -> DayRunsCursor:
        return cls(**json.loads(raw)) if raw else cls()

    def dump(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @staticmethod
    def _finished(due: dict[str, float], day: str, ended: float) -> None:
        due[day] = max(due.get(day, ended), ended)

    @staticmethod
    def _caught_up(due: dict[str, float], day: str, created: float) -> None:
        if day in due and created >= due[day]:
            del due[day]

    def shard_run_finished(self, day: str, ended: float) -> None:
        self._finished(self.county_due, day, ended)

    def county_run_succeeded(self, day: str, created: float, ended: float) -> None:
        self._caught_up(self.county_due, day, created)
        self._finished(self.analytics_due, day, ended)

    def analytics_run_succeeded(self, day: str, created: float) -> None:
        self._caught_up(self.analytics_due, day, created)

    def analytics_wait(self, day: str, now: float, interval: float) -> float:
        """Seconds until the day's analytics may run again (0: now)."""
        return max(0.0, self.analytics_started.get(day, -interval) + interval - now)

    def forget_old_starts(self, now: float, interval: float) -> None:
        self.analytics_started = {
            d: t for d, t in self.analytics_started.items() if t + interval > now
        }
