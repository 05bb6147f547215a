"""Hostile inputs, generated here (nothing binary checked in), each with the outcome it must get.

Every case is one raw object; `reasons` is how many of its records must be quarantined with each
reason code and `cleaned` how many must become readings. All readings fall on DAY (a past day with
a US daylight-saving change), each file with sites of its own, so silver holds every cleaned row.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field

DAY = "2024-11-03"  # US clocks fell back at 02:00 local: 01:30 happened twice
PWNED = "/tmp/pwned-energy-platform"
INJECTION = f"__import__('os').system('touch {PWNED}')"
HEADER = "site_id,timestamp,energy_generated_kwh,energy_consumed_kwh\n"
BIG_LINE_BYTES = 50 * 2**20


@dataclass(frozen=True)
class Case:
    key: str
    body: bytes
    cleaned: int
    reasons: dict[str, int] = field(default_factory=dict)
    why: str = ""


def _rec(site: str, **kw: object) -> dict[str, object]:
    base = {
        "site_id": site,
        "timestamp": f"{DAY}T12:00:00Z",
        "energy_generated_kwh": 1.5,
        "energy_consumed_kwh": 0.5,
    }
    return {**base, **kw}


def _jsonl(*records: object) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()


def cases() -> list[Case]:
    big = json.dumps(_rec("h-big", county="x" * BIG_LINE_BYTES)).encode() + b"\n"
    return [
        Case("raw/hostile/zero-byte.json", b"", 0, {"unparseable_file": 1}, "0 bytes is no JSON"),
        Case("raw/hostile/zero-byte.csv", b"", 0, {"unparseable_file": 1}, "0 bytes has no header"),
        Case("raw/hostile/empty.jsonl", b"", 0, {}, "an empty JSON-lines file is zero records"),
        Case("raw/hostile/blank-lines.jsonl", b"\n\n\r\n", 0, {}, "blank lines are skipped"),
        Case(
            "raw/hostile/truncated.jsonl.gz",
            gzip.compress(_jsonl(*[_rec("h-gz")] * 50))[:40],
            0,
            {"unparseable_file": 1},
            "truncated gzip stream",
        ),
        Case(
            "raw/hostile/bom.csv",
            ("\ufeff" + HEADER + f"h-bom,{DAY}T12:00:00Z,1,2\n").encode(),
            1,
            {},
            "a UTF-8 BOM is fine",
        ),
        Case(
            "raw/hostile/semicolons.csv",
            (HEADER.replace(",", ";") + f"h-semi;{DAY}T12:00:00Z;1;2\n" * 2).encode(),
            0,
            {"missing_field": 2},
            "one column named 'site_id;timestamp;...': every row lacks the required fields",
        ),
        Case(
            "raw/hostile/duplicate-header.csv",
            (HEADER + HEADER + f"h-duphdr,{DAY}T12:00:00Z,1,2\n").encode(),
            1,
            {"bad_timestamp": 1},
            "the repeated header is a row whose timestamp is 'timestamp'",
        ),
        Case(
            "raw/hostile/no-header.csv",
            (f"h-nohdr,{DAY}T12:00:00Z,1,2\nh-nohdr,{DAY}T12:05:00Z,1,2\n").encode(),
            0,
            {"missing_field": 1},
            "the first line is taken as the header, so no row has the required fields",
        ),
        Case(
            "raw/hostile/non-finite.jsonl",
            b"".join(
                f'{{"site_id":"h-nan","timestamp":"{DAY}T12:{m:02d}:00Z",'
                f'"energy_generated_kwh":{v},"energy_consumed_kwh":1}}\n'.encode()
                for m, v in enumerate(["NaN", "Infinity", "-Infinity", "1e400", '"NaN"'])
            ),
            0,
            {"bad_number": 5},
            "NaN, Infinity, 1e400 are not finite numbers",
        ),
        Case(
            "raw/hostile/padded-numbers.jsonl",
            _jsonl(_rec("h-pad", energy_generated_kwh=" 1.5 ", energy_consumed_kwh="\t2\n")),
            1,
            {},
            "numeric strings with spaces are numbers",
        ),
        Case(
            "raw/hostile/nested.jsonl",
            _jsonl(
                _rec("h-nest", energy_generated_kwh={"v": 1}),
                _rec({"id": "h-nest"}),
                _rec("h-nest", timestamp=[1, 2]),
                _rec("h-nest", energy_consumed_kwh=[1]),
                _rec("h-nest", timestamp=f"{DAY}T12:30:00Z", county={"a": 1}),
            ),
            1,
            {"bad_number": 2, "bad_site_id": 1, "bad_timestamp": 1},
            "nested values are not numbers, ids or times (a nested county is kept as text)",
        ),
        Case(
            "raw/hostile/invalid-utf8.jsonl",
            _jsonl(_rec("h-utf8"))[:-3] + b'\xff\xfe"}\n',
            0,
            {"unparseable_file": 1},
            "invalid UTF-8",
        ),
        Case(
            "raw/hostile/odd-keys.jsonl",
            _jsonl(
                {
                    " site_id ": "h-keys",
                    "timestamp": f"{DAY}T12:00:00Z",
                    "energy_generated_kwh": 1,
                    "energy_consumed_kwh": 1,
                },
                _rec("sïte-ünicode"),
                _rec("h-keys", county="Doña Ana ☀", **{"clé spéciale": "x", "": 1}),
            ),
            1,
            {"missing_field": 1, "bad_site_id": 1},
            "' site_id ' is not site_id; unicode site ids are not allowed, unicode counties are",
        ),
        Case(
            "raw/hostile/mixed-units.jsonl",
            _jsonl(
                *(
                    _rec(
                        "h-units",
                        timestamp=f"{DAY}T12:{i:02d}:00Z",
                        unit=u,
                        energy_generated_kwh=1500,
                    )
                    for i, u in enumerate(["kWh", "Wh", "MWh", "GWh", "kwh", ""])
                )
            ),
            4,
            {"unknown_unit": 2},
            "kWh/Wh/MWh converted, anything else unknown_unit",
        ),
        Case(
            "raw/hostile/times.jsonl",
            _jsonl(
                *(
                    _rec(f"h-time{i}", timestamp=t)
                    for i, t in enumerate(
                        [
                            f"{DAY}T01:30:00-04:00",  # before the fall-back (EDT)
                            f"{DAY}T01:30:00-05:00",  # the same wall time after it (EST)
                            "2024-11-04T09:00:00+14:00",  # Kiribati
                            "2024-11-02T13:00:00-12:00",  # Baker Island
                            1730635200000,  # epoch milliseconds
                            1730635500,  # epoch seconds
                            "1999-12-31T23:59:59Z",  # before the first day partition
                            "2999-01-01T00:00:00Z",  # far future
                            "1e400",
                            "2024-02-30T00:00:00Z",
                        ]
                    )
                )
            ),
            6,
            {"bad_timestamp": 3, "timestamp_in_future": 1},
            "offsets converted to UTC, epochs read, impossible and pre-2000 times rejected",
        ),
        Case(
            "raw/hostile/code.jsonl",
            _jsonl(
                _rec(INJECTION),
                _rec("h-code", county=INJECTION, device_id="{{7*7}}${jndi:ldap://x}"),
            ),
            1,
            {"bad_site_id": 1},
            "code in a site id is a bad id; in free text it stays inert text",
        ),
        Case(
            "raw/hostile/one-50mb-line.jsonl",
            big,
            0,
            {"unparseable_record": 1},
            "a 50 MB record could never be served (DynamoDB items hold 400 KB)",
        ),
    ]


EXPECTED_UTC = {
    "h-time0": f"{DAY}T05:30:00Z",
    "h-time1": f"{DAY}T06:30:00Z",
    "h-time2": f"{DAY}T19:00:00Z",
    "h-time3": f"{DAY}T01:00:00Z",
    "h-time4": f"{DAY}T12:00:00Z",
    "h-time5": f"{DAY}T12:05:00Z",
}
