"""Queue messages -> objects to process, and objects -> bounded runs."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from energy_platform import contract as c
from energy_platform.transforms.raw_events import (
    MAX_KEY_BYTES,
    MAX_MESSAGE_CHARS,
    RawObjectEvent,
    latest_per_key,
    parse_message,
    plan_runs,
)


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


def _record(**changes: object) -> dict[str, object]:
    """One S3 ObjectCreated record for raw/x.json; `s3_key=...` etc. change its object."""
    obj = {"key": "raw/x.json", "eTag": "e1", "size": 10}
    obj.update({k[3:]: v for k, v in changes.items() if k.startswith("s3_")})
    rec = {"eventName": "ObjectCreated:Put", "eventTime": "2026-01-01T00:00:00Z"}
    rec.update({k: v for k, v in changes.items() if not k.startswith("s3_")})
    return {"s3": {"object": obj}, **rec}


def _records(*records: object) -> str:
    return json.dumps({"Records": list(records)})


MALFORMED = {
    "invalid UTF-8": (b'{"replay": true, "key": "raw/\xff.json"}', "not UTF-8"),
    "lone surrogate in key": ('{"replay": true, "key": "raw/\\ud800.json"}', "replay.key"),
    "lone surrogate in an S3 key": (_records(_record(s3_key="raw/\ud800")), "not valid Unicode"),
    "key percent-encoding bytes that are not UTF-8": (_records(_record(s3_key="raw/%FF")), "UTF-8"),
    "JSON that is not an object": ("[1, 2, 3]", "not a JSON object"),
    "null": ("null", "not a JSON object"),
    "Records not a list": (json.dumps({"Records": {"s3": {}}}), "Records: not a list"),
    "record not an object": (_records("ObjectCreated:Put"), "Records[0]: not a JSON object"),
    "record without s3": (_records({"eventName": "ObjectCreated:Put"}), "Records[0].s3: missing"),
    "s3 null": (_records(_record(s3=None)), "Records[0].s3: not a JSON object"),
    "record without object": (_records(_record(s3={"bucket": {}})), "s3.object: missing"),
    "object without key": (_records({**_record(), "s3": {"object": {}}}), "object.key: missing"),
    "key not a string": (_records(_record(s3_key=["raw/x.json"])), "key: not a string"),
    "eventName not a string": (_records(_record(eventName=7)), "eventName: not a string"),
    "size a string": (_records(_record(s3_size="10")), "size: not a whole number"),
    "size a float": (_records(_record(s3_size=1e300)), "size: not a whole number"),
    "size huge": (_records(_record(s3_size=10**30)), "size: outside"),
    "size negative": (_records(_record(s3_size=-1)), "size: outside"),
    "size true": (_records(_record(s3_size=True)), "size: not a whole number"),
    "size of 5,000 digits": ('{"Records": [{"size": ' + "9" * 5000 + "}]}", "not JSON"),
    "eTag an object": (_records(_record(s3_eTag={"a": 1})), "eTag: not a string"),
    "eventTime not a time": (_records(_record(eventTime="yesterday")), "eventTime: not an ISO"),
    "eventTime a number": (_records(_record(eventTime=1.5e12)), "eventTime: not a string"),
    "eventTime before 1970": (_records(_record(eventTime="1900-01-01T00:00:00Z")), "1970"),
    "eventTime year 9999 minus a day": (
        _records(_record(eventTime="9999-12-31T23:59:59-23:59")),
        "after 9999",
    ),
    "key longer than S3 allows": (_records(_record(s3_key="raw/" + "k" * MAX_KEY_BYTES)), "longer"),
    "replay request without key": (json.dumps({"replay": True}), "replay.key: missing"),
    "replay key outside raw/": (json.dumps({"replay": True, "key": "silver/x"}), "not under raw/"),
    "replay not true": (json.dumps({"replay": "yes", "key": "raw/x.json"}), "replay: not true"),
    "replay arrival a string": (
        json.dumps({"replay": True, "key": "raw/x", "arrival_ms": "1"}),
        "arrival_ms: not a whole number",
    ),
    "nested garbage": (json.dumps({"Records": [{"eventName": {"a": [[[]]]}}]}), "eventName"),
    "nested 30,000 deep": ("[" * 30_000 + "]" * 30_000, "not JSON"),
    "nested 30,000 deep in an object": ('{"Records": ' + "[" * 30_000, "not JSON"),
    "huge body": (json.dumps({"Records": [], "pad": "x" * MAX_MESSAGE_CHARS}), "too large"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_message_is_a_value_error_with_its_reason(case: str) -> None:
    body, reason = MALFORMED[case]
    with pytest.raises(ValueError) as err:
        parse_message(body)
    assert type(err.value) is ValueError
    assert reason in str(err.value)
    assert len(str(err.value)) < 200  # the reason, never the body


def test_records_other_than_object_created_are_not_validated_further() -> None:
    assert parse_message(_records({"eventName": "ObjectRemoved:Delete"})) == []


def test_naive_event_time_is_utc_and_replay_defaults_hold() -> None:
    (ev,) = parse_message(_records(_record(eventTime="2026-01-01T00:00:00")))
    assert ev.arrival_ms == 1767225600000
    (ev,) = parse_message(json.dumps({"replay": True, "key": "raw/x.json"}))
    assert (ev.etag, ev.size, ev.arrival_ms, ev.replay) == ("", 0, 0, True)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=200)


def _field(valid: object) -> st.SearchStrategy[object]:
    """The valid value, absent (None), or arbitrary JSON, text or a key-like string."""
    return st.sampled_from([valid]) | JSON | st.just(None) | st.text().map(lambda t: f"raw/{t}")


@st.composite
def _near_valid(draw: st.DrawFn) -> str:
    """An S3 event or replay request with some fields replaced by garbage."""
    if draw(st.booleans()):
        doc = {"replay": draw(_field(True)), "key": draw(_field("raw/x.json"))}
        doc |= {k: draw(_field(v)) for k, v in (("etag", "e"), ("size", 1), ("arrival_ms", 1))}
    else:
        obj = {k: draw(_field(v)) for k, v in (("key", "raw/x.json"), ("eTag", "e"), ("size", 1))}
        rec = {
            "eventName": draw(_field("ObjectCreated:Put")),
            "eventTime": draw(_field("2026-01-01T00:00:00Z")),
            "s3": draw(_field({"object": obj})),
        }
        doc = {"Records": draw(_field([rec]))}
    return json.dumps({k: v for k, v in doc.items() if v is not None})


def _events_or_value_error(body: str | bytes) -> None:
    try:
        events = parse_message(body)
    except ValueError as err:
        assert type(err) is ValueError and 0 < len(str(err)) < 200
        return
    for ev in events:
        assert ev.key.startswith(c.RAW_PREFIX) and len(ev.key.encode()) <= MAX_KEY_BYTES
        assert isinstance(ev.size, int) and isinstance(ev.arrival_ms, int)
        json.dumps(ev.as_config()).encode()  # fits a run config


@settings(max_examples=300, deadline=None)
@given(st.one_of(JSON.map(json.dumps), ANY_TEXT, st.binary(max_size=200), _near_valid()))
def test_any_body_is_events_or_a_value_error(body: str | bytes) -> None:
    _events_or_value_error(body)


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
