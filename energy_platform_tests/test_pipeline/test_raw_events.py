"""Queue messages -> objects to process, and objects -> bounded runs."""

from __future__ import annotations

import json

import pytest

from energy_platform.raw_events import RawObjectEvent, latest_per_key, parse_message, plan_runs


def _s3_event(
    key: str, etag: str = "e1", size: int = 10, when: str = "2026-01-01T00:00:00.123Z"
) -> str:
    record = {
        "eventName": "ObjectCreated:Put",
        "eventTime": when,
        "s3": {"object": {"key": key, "eTag": etag, "size": size}},
    }
    return json.dumps({"Records": [record]})


def test_s3_event_key_is_url_decoded() -> None:
    (ev,) = parse_message(_s3_event("raw/a+b/%C3%A9t%C3%A9.json"))
    assert ev.key == "raw/a b/été.json"
    assert ev.arrival_ms == 1767225600123


def test_test_event_and_keys_outside_raw_name_nothing() -> None:
    assert parse_message(json.dumps({"Event": "s3:TestEvent"})) == []
    assert parse_message(_s3_event("quarantine/x.json")) == []


def test_replay_request_is_forced() -> None:
    (ev,) = parse_message(json.dumps({"replay": True, "key": "raw/x.json", "etag": "e"}))
    assert ev.replay and ev.key == "raw/x.json"


def test_garbage_message_is_an_error() -> None:
    with pytest.raises(ValueError):
        parse_message("not json")
    with pytest.raises(ValueError):
        parse_message(json.dumps({"hello": 1}))


def test_runs_bounded_by_count_and_bytes() -> None:
    events = [RawObjectEvent(f"raw/{i:04d}.json", "e", 100, i) for i in range(450)]
    runs = plan_runs(events, max_files=200, max_bytes=10**9)
    assert [len(r) for r in runs] == [200, 200, 50]
    runs = plan_runs(events, max_files=1000, max_bytes=100 * 100)
    assert all(sum(e.size for e in r) <= 100 * 100 for r in runs)
    assert sorted(e.key for r in runs for e in r) == sorted(e.key for e in events)


def test_object_larger_than_the_byte_bound_runs_alone() -> None:
    events = [
        RawObjectEvent("raw/big.json", "e", 10**9, 0),
        RawObjectEvent("raw/small.json", "e", 1, 1),
    ]
    assert [len(r) for r in plan_runs(events, max_bytes=1000)] == [1, 1]


def test_duplicate_deliveries_collapse_to_the_latest_per_key() -> None:
    a1 = RawObjectEvent("raw/a.json", "e1", 1, 1)
    a2 = RawObjectEvent("raw/a.json", "e2", 1, 2)
    b = RawObjectEvent("raw/b.json", "e", 1, 1)
    assert sorted(latest_per_key([a1, b, a2, a1]), key=lambda e: e.key) == [a2, b]
