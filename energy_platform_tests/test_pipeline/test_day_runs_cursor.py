"""staged_partitions_sensor's cursor across versions of the code: what one version stored, the
next (or a rolled-back one) loads."""

from __future__ import annotations

import json

from energy_platform.defs.day_runs import DayRunsCursor


def test_a_cursor_with_fields_of_another_version_loads_what_it_knows() -> None:
    stored = {"county_due": {"2026-01-01": 7}, "seen": {"cleaned_readings": 9}, "later": [1]}
    cursor = DayRunsCursor.load(json.dumps(stored))
    assert cursor.county_due == {"2026-01-01": 7}
    assert cursor.seen == {"cleaned_readings": 9}
    assert "later" not in json.loads(cursor.dump())


def test_a_cursor_from_before_the_county_wait_is_not_overdue_until_partials_arrive() -> None:
    cursor = DayRunsCursor.load(json.dumps({"county_due": {"2026-01-01": 7}}))
    assert cursor.county_overdue(now=1_000.0, bound=0) == set()
    cursor.partials_written("2026-01-01", 8, now=1_000.0)
    assert cursor.county_overdue(now=1_001.0, bound=0) == {"2026-01-01"}
    cursor.county_written("2026-01-01", 9)
    assert cursor.county_due == {} and cursor.county_overdue(now=2_000.0, bound=0) == set()
