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
BIG_FIELD_BYTES = 17 * 2**20
BLANK_TAIL_BYTES = 30 * 2**20


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
            {"record_too_long": 1},
            "a 50 MB record could never be served (DynamoDB items hold 400 KB)",
        ),
        *_careless_csv(),
        *_bombs(),
        *_unstorable_values(),
    ]


def _csv_row(site: str, county: str = "Kern", minute: int = 0) -> str:
    return f"{site},{DAY}T12:{minute:02d}:00Z,1.5,0.5,{county}\n"


CSV_HEADER = HEADER.rstrip("\n") + ",county\n"


def _careless_csv() -> list[Case]:
    swallowed = "".join(_csv_row("h-swallowed", minute=i % 60) for i in range(1_000))
    return [
        Case(
            "raw/hostile/stray-quote.csv",
            (
                CSV_HEADER
                + _csv_row("h-quote1")
                + _csv_row("h-quote2", county='12" panel')
                + _csv_row("h-quote3", county='a "quoted" word')
                + _csv_row("h-quote4", county='"Kern, CA"')
                + _csv_row("h-quote5")
            ).encode(),
            5,
            {},
            "a quote inside an unquoted field is text: no line is merged into another",
        ),
        Case(
            "raw/hostile/unclosed-quote.csv",
            (
                CSV_HEADER
                + _csv_row("h-open1")
                + _csv_row("h-open2", county='"never closed')
                + swallowed  # inside the open quoted value, up to the record cap
                + "\n" * BLANK_TAIL_BYTES  # blank lines: linear time, not quadratic
                + _csv_row("h-open3")
            ).encode(),
            2,
            {"record_too_long": 1},
            "an unclosed quote runs to the record cap; the lines after it are read",
        ),
        Case(
            "raw/hostile/17mb-field.csv",
            (
                CSV_HEADER
                + _csv_row("h-field1")
                + _csv_row("h-field2", county="x" * BIG_FIELD_BYTES)
                + _csv_row("h-field3")
            ).encode(),
            2,
            {"record_too_long": 1},
            "a 17 MB field is one record too long; its neighbours are read",
        ),
        Case(
            "raw/hostile/lone-surrogate.jsonl",
            _jsonl(_rec("h-sur1"))
            + json.dumps(_rec("h-sur2", county="@")).replace("@", "\\udc00").encode()
            + b"\n"
            + _jsonl(_rec("h-sur3")),
            2,
            {"unparseable_record": 1},
            "a lone surrogate escape rejects its line only",
        ),
        Case(
            "raw/hostile/lone-surrogate.json",
            (
                "["
                + json.dumps(_rec("h-surj1"))
                + ","
                + json.dumps(_rec("h-surj2", county="@")).replace("@", "\\udc00")
                + ","
                + json.dumps(_rec("h-surj3"))
                + "]"
            ).encode(),
            2,
            {"unparseable_record": 1},
            "a lone surrogate escape in a JSON array rejects its element only",
        ),
    ]


def _gzip_of(pattern: bytes, total: int) -> bytes:
    """`pattern` repeated to `total` bytes, as gzip members of 1 MiB each (quick to make)."""
    member = gzip.compress(pattern * max(1, (1 << 20) // len(pattern)), 9)
    return member * (total >> 20)


def _bombs() -> list[Case]:
    line = json.dumps(_rec("h-bomb")).encode() + b"\n"
    return [
        Case(
            "raw/hostile/zeros-bomb.jsonl.gz",
            _gzip_of(b"\x00", 2 << 30),
            0,
            {"decompression_bomb": 1},
            "2 MB of gzip that inflates to 2 GB of zeros: refused by ratio, in bounded memory",
        ),
        Case(
            "raw/hostile/lines-bomb.jsonl.gz",
            _gzip_of(line, 2 << 30),
            0,
            {"decompression_bomb": 1},
            "a few valid lines repeated to 2 GB: refused by ratio as a whole file",
        ),
        Case(
            "raw/hostile/nul-bytes.jsonl.gz",
            _gzip_of(b"\x00", 64 << 20),
            0,
            {"decompression_bomb": 1},
            "64 KB of gzip that inflates to 64 MB of NULs: no 64 MB quarantine object",
        ),
    ]


def _unstorable_values() -> list[Case]:
    return [
        Case(
            "raw/hostile/long-county.jsonl",
            _jsonl(_rec("h-county1", county="x" * 3_000), _rec("h-county2")),
            1,
            {"county_too_long": 1},
            "a 3,000-character county fits no DynamoDB key",
        ),
        Case(
            "raw/hostile/overflow-after-conversion.jsonl",
            _jsonl(
                _rec("h-mwh1", unit="MWh", energy_generated_kwh=1e306),
                _rec("h-mwh2", energy_generated_kwh=1e308, energy_consumed_kwh=-1e308),
                _rec("h-mwh3", unit="MWh", energy_generated_kwh=0.5),
            ),
            1,
            {"number_out_of_range": 2},
            "finite as written, infinite after the MWh conversion or in net_kwh",
        ),
        Case(
            "raw/hostile/offsets.jsonl",
            _jsonl(
                _rec("h-off1", timestamp=f"{DAY}T12:00:00+99:00"),
                _rec("h-off2", timestamp=f"{DAY}T12:00:00-14:01"),
                _rec("h-off3", timestamp=f"{DAY}T12:00:00+14:00"),
            ),
            1,
            {"bad_timestamp": 2},
            "UTC offsets beyond +-14:00 are not times",
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
