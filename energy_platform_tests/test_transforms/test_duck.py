"""transforms/duck.py: connections to one in-process database that do not see each other."""

from __future__ import annotations

import pyarrow as pa

from energy_platform.transforms import duck


def test_connections_share_one_database_but_not_registered_tables() -> None:
    with duck.connection() as a, duck.connection() as b:
        a.register("records", pa.table({"x": [1, 2]}))
        b.register("records", pa.table({"x": [5]}))
        assert a.sql("SELECT sum(x) FROM records").fetchall() == [(3,)]
        assert b.sql("SELECT sum(x) FROM records").fetchall() == [(5,)]
    assert duck._database is not None


def test_sessions_are_utc() -> None:
    with duck.connection() as con:
        [(zone,)] = con.sql("SELECT current_setting('TimeZone')").fetchall()
        [(hour,)] = con.sql("SELECT hour(TIMESTAMPTZ '2024-06-01 12:00')").fetchall()
    assert (zone, hour) == ("UTC", 12)


def test_a_forked_child_starts_its_own_database(monkeypatch) -> None:
    with duck.connection():
        parent = duck._database
    monkeypatch.setattr(duck, "_owner_pid", -1)  # as a forked child sees it
    with duck.connection():
        assert duck._database is not parent
