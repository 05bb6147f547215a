"""Daily partitions on the reading's UTC date: silver and gold are recomputed a day at a time."""

from __future__ import annotations

from dagster import DailyPartitionsDefinition

FIRST_DAY = "2000-01-01"
"""Readings before this day are quarantined as `bad_timestamp`: no partition could hold them."""

daily_partitions = DailyPartitionsDefinition(start_date=FIRST_DAY, end_offset=2, timezone="UTC")
"""end_offset=2: today's and tomorrow's partitions exist (readings may be up to 24 h ahead)."""
