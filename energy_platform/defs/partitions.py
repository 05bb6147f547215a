"""Daily partitions on the reading's UTC date: silver and gold are recomputed a day at a time."""

from __future__ import annotations

from dagster import DailyPartitionsDefinition

from energy_platform.settings import get_settings

FIRST_DAY = get_settings().first_day
"""`ENERGY_FIRST_DAY` (default `contract.DEFAULT_FIRST_DAY`): readings before it are quarantined
as `bad_timestamp`, since no partition could hold them."""

daily_partitions = DailyPartitionsDefinition(start_date=FIRST_DAY, end_offset=2, timezone="UTC")
"""end_offset=2: today's and tomorrow's partitions exist (readings may be up to 24 h ahead)."""
