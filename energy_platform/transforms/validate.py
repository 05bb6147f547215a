"""Parsed records -> clean staged readings and quarantined records, each with one reason.

All rules run as one DuckDB query over the parsed Arrow table (vectorized, multi-threaded);
the human detail of a rejection is worked out afterwards for the rejected rows only. A record
gets the first failing rule in the contract's order: missing_field, bad_site_id,
bad_timestamp (UTC offsets beyond ±14:00 included), timestamp_in_future, bad_number,
county_too_long, unknown_unit, number_out_of_range (values in kWh, so after the unit),
bad_anomaly_score (a non-zero score under `MIN_NONZERO_ABS` included).

What passes is storable as it is: a county fits a DynamoDB key, every number is finite and
a DynamoDB number, and so is net_kwh and any sum of a day's readings (see `MAX_ABS_KWH`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.transforms.duck import connection
from energy_platform.transforms.frames import to_frame
from energy_platform.transforms.parse import ParsedFile
from energy_platform.transforms.quarantine import quarantine_rows, reject_rows

_MIN_EPOCH_S = -62135596800  # 0001-01-01T00:00:00Z
_MAX_EPOCH_S = 253402300799  # 9999-12-31T23:59:59Z
_DETAIL_VALUE_CHARS = 100

_UNITS = ", ".join(f"'{unit}'" for unit in c.UNIT_FACTORS)
_COUNTY_BLANKS = " \t\r\n"
"""What a county is trimmed of."""
_COUNTY_BLANKS_SQL = " || ".join(f"chr({ord(ch)})" for ch in _COUNTY_BLANKS)
_MAX_OFFSET_US = c.MAX_UTC_OFFSET_HOURS * 3600 * 1_000_000


def _sci(x: float) -> str:
    """1e9 -> `1e9`, 1e-100 -> `1e-100` (for details)."""
    return f"{x:g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def _unstorable(value: str, kwh: str) -> str:
    """SQL: a `value` (as written) whose `kwh` is NaN, infinite, over MAX_ABS_KWH, or under
    MIN_NONZERO_ABS in magnitude while `value` is not 0 (a Wh value may round to 0 kWh)."""
    low, high = c.MIN_NONZERO_ABS, c.MAX_ABS_KWH
    return f"NOT ({value} = 0 OR abs({kwh}) BETWEEN {low!r} AND {high!r})"


def _range_detail(field: str, text: str, kwh: str) -> str:
    """SQL: the detail of `field`'s number_out_of_range (raw text, unit, the bound broken)."""
    return f"""'{field} is "' || left({text}, {_DETAIL_VALUE_CHARS}) || '" '
            || coalesce(unit_text, 'kWh') || CASE WHEN abs({kwh}) < {c.MIN_NONZERO_ABS!r}
                THEN ', non-zero but under {_sci(c.MIN_NONZERO_ABS)} kWh in magnitude'
                ELSE ', over {_sci(c.MAX_ABS_KWH)} kWh in magnitude' END"""


_SCORE_TINY = f"(score_value <> 0 AND abs(score_value) < {c.MIN_NONZERO_ABS!r})"

# Typed values, then the first failing rule (`judged`) of each row of `records` (records are
# at most contract.MAX_RECORD_BYTES long: the reader quarantines longer ones). $now: epoch seconds.
_JUDGED = f"""
WITH base AS (
    SELECT
        site_id, "timestamp" AS ts_text, county, device_id,
        CASE WHEN strlen(county) > {c.MAX_COUNTY_BYTES}
            THEN strlen(trim(county, {_COUNTY_BLANKS_SQL})) END AS county_bytes,
        energy_generated_kwh AS gen_text, energy_consumed_kwh AS con_text,
        CASE WHEN unit IN ({_UNITS}) THEN unit ELSE nullif(trim(unit), '') END AS unit_text,
        nullif(trim(anomaly_score), '') AS score_text,
        CASE WHEN NOT contains("timestamp", ':')
            THEN TRY_CAST("timestamp" AS DOUBLE) END AS ts_epoch,
        TRY_CAST(energy_generated_kwh AS DOUBLE) AS gen_value,
        TRY_CAST(energy_consumed_kwh AS DOUBLE) AS con_value,
        CASE unit_text WHEN 'Wh' THEN {c.UNIT_FACTORS["Wh"]}
            WHEN 'MWh' THEN {c.UNIT_FACTORS["MWh"]} ELSE 1.0 END AS factor,
        gen_value * factor AS gen_kwh,
        con_value * factor AS con_kwh,
        TRY_CAST(nullif(trim(anomaly_score), '') AS DOUBLE) AS score_value,
        floor(CASE WHEN ts_epoch > {c.EPOCH_MS_THRESHOLD} THEN ts_epoch / 1000
            ELSE ts_epoch END) AS ts_seconds
    FROM records
), typed AS (
    SELECT *,
        CASE
            WHEN ts_epoch IS NULL THEN
                epoch_us(TRY_CAST(ts_text AS TIMESTAMPTZ))
            WHEN ts_seconds BETWEEN {_MIN_EPOCH_S} AND {_MAX_EPOCH_S}
                THEN CAST(ts_seconds AS BIGINT) * 1000000
        END AS ts_us,
        -- UTC offset: local wall time (a cast to TIMESTAMP ignores offset and zone) minus
        -- UTC; skipped for a text ending in Z, which is UTC or a zone name (within ±14 h)
        CASE WHEN ts_epoch IS NULL AND NOT suffix(ts_text, 'Z')
            THEN epoch_us(TRY_CAST(ts_text AS TIMESTAMP)) - ts_us END AS offset_us,
        -- whole seconds, floored (integer arithmetic: exact where a double is not)
        (ts_us - (ts_us % 1000000 + 1000000) % 1000000) // 1000000 AS ts_s
    FROM base
), judged AS (
    SELECT *,
        CASE
            WHEN site_id IS NULL OR ts_text IS NULL OR gen_text IS NULL OR con_text IS NULL
                THEN '{c.Reason.MISSING_FIELD}'
            WHEN NOT regexp_full_match(site_id, '{c.SITE_ID_PATTERN[1:-1]}')
                THEN '{c.Reason.BAD_SITE_ID}'
            WHEN ts_s IS NULL OR ts_s < $first_day OR abs(offset_us) > {_MAX_OFFSET_US}
                THEN '{c.Reason.BAD_TIMESTAMP}'
            WHEN ts_s > $now + {c.FUTURE_TOLERANCE_HOURS * 3600}
                THEN '{c.Reason.TIMESTAMP_IN_FUTURE}'
            WHEN gen_value IS NULL OR NOT isfinite(gen_value)
                OR con_value IS NULL OR NOT isfinite(con_value)
                THEN '{c.Reason.BAD_NUMBER}'
            WHEN county_bytes > {c.MAX_COUNTY_BYTES} THEN '{c.Reason.COUNTY_TOO_LONG}'
            WHEN unit_text IS NOT NULL AND unit_text NOT IN ({_UNITS})
                THEN '{c.Reason.UNKNOWN_UNIT}'
            -- |net_kwh| <= 2 * MAX_ABS_KWH follows: no separate rule
            WHEN {_unstorable("gen_value", "gen_kwh")} OR {_unstorable("con_value", "con_kwh")}
                THEN '{c.Reason.NUMBER_OUT_OF_RANGE}'
            WHEN score_text IS NOT NULL AND (score_value IS NULL
                OR NOT (score_value BETWEEN 0 AND 1) OR {_SCORE_TINY})
                THEN '{c.Reason.BAD_ANOMALY_SCORE}'
        END AS reason
    FROM typed
)
"""

# Every row: its reason (null = clean) and typed values in kWh (text fields that stay text
# are taken from the records as they are, not passed through DuckDB and back).
_JUDGE_SQL = f"""{_JUDGED}
SELECT reason, ts_s AS ts, gen_kwh, con_kwh, score_value FROM judged
"""

# The human detail of each rejected row (run on those rows only).
_DETAIL_SQL = f"""{_JUDGED}
SELECT
    CASE reason
        WHEN '{c.Reason.MISSING_FIELD}' THEN concat_ws(', ',
            CASE WHEN site_id IS NULL THEN '{c.SITE_ID}' END,
            CASE WHEN ts_text IS NULL THEN '{c.TIMESTAMP}' END,
            CASE WHEN gen_text IS NULL THEN '{c.GENERATED}' END,
            CASE WHEN con_text IS NULL THEN '{c.CONSUMED}' END) || ' missing'
        WHEN '{c.Reason.BAD_SITE_ID}' THEN
            '{c.SITE_ID} is "' || left(site_id, {_DETAIL_VALUE_CHARS})
            || '", not 1-64 characters of A-Z a-z 0-9 _ . : -'
        WHEN '{c.Reason.BAD_TIMESTAMP}' THEN
            '{c.TIMESTAMP} is "' || left(ts_text, {_DETAIL_VALUE_CHARS}) || CASE
                WHEN ts_s IS NULL THEN '", not ISO-8601 or epoch seconds/milliseconds'
                WHEN abs(offset_us) > {_MAX_OFFSET_US}
                    THEN '", a UTC offset beyond ±{c.MAX_UTC_OFFSET_HOURS:02d}:00'
                ELSE '", before ' || strftime(to_timestamp($first_day), '%Y-%m-%d')
                    || ', the first day partition' END
        WHEN '{c.Reason.TIMESTAMP_IN_FUTURE}' THEN
            '{c.TIMESTAMP} is "' || left(ts_text, {_DETAIL_VALUE_CHARS})
            || '", more than {c.FUTURE_TOLERANCE_HOURS} h after processing time '
            || strftime(to_timestamp($now), '{c.TS_FORMAT}')
        WHEN '{c.Reason.BAD_NUMBER}' THEN
            CASE WHEN gen_value IS NULL OR NOT isfinite(gen_value)
                THEN '{c.GENERATED} is "' || left(gen_text, {_DETAIL_VALUE_CHARS})
                ELSE '{c.CONSUMED} is "' || left(con_text, {_DETAIL_VALUE_CHARS})
            END || '", not a finite number'
        WHEN '{c.Reason.COUNTY_TOO_LONG}' THEN
            '{c.COUNTY} is "' || left(trim(county, {_COUNTY_BLANKS_SQL}), {_DETAIL_VALUE_CHARS})
            || '...", ' || county_bytes
            || ' bytes of UTF-8, over the {c.MAX_COUNTY_BYTES} a DynamoDB key holds'
        WHEN '{c.Reason.NUMBER_OUT_OF_RANGE}' THEN CASE WHEN {_unstorable("gen_value", "gen_kwh")}
            THEN {_range_detail(c.GENERATED, "gen_text", "gen_kwh")}
            ELSE {_range_detail(c.CONSUMED, "con_text", "con_kwh")} END
        WHEN '{c.Reason.UNKNOWN_UNIT}' THEN
            '{c.UNIT} is "' || left(unit_text, {_DETAIL_VALUE_CHARS})
            || '", not one of kWh, Wh, MWh'
        WHEN '{c.Reason.BAD_ANOMALY_SCORE}' THEN
            '{c.ANOMALY_SCORE} is "' || left(score_text, {_DETAIL_VALUE_CHARS}) || CASE
                WHEN {_SCORE_TINY} THEN '", non-zero but under {_sci(c.MIN_NONZERO_ABS)}'
                ELSE '", not a number in [0, 1]' END
    END AS detail
FROM judged
"""


@dataclass(frozen=True)
class ValidationResult:
    """Clean readings (schemas.STAGED_READINGS) and quarantined records (QUARANTINE_FIELDS)."""

    clean: pd.DataFrame
    quarantined: pd.DataFrame

    @property
    def records_read(self) -> int:
        return len(self.clean) + len(self.quarantined)


def empty_clean() -> pd.DataFrame:
    """A clean frame with no rows and the staged dtypes (safe to concat with others)."""
    return to_frame(schemas.STAGED_READINGS.empty_table())


def empty_quarantine() -> pd.DataFrame:
    """A quarantine frame with no rows and its dtypes."""
    return _quarantine_frame(schemas.QUARANTINE.empty_table())


def _quarantine_frame(table: pa.Table) -> pd.DataFrame:
    df = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    return df[list(schemas.QUARANTINE_FIELDS)]


def validate_records(
    parsed: ParsedFile,
    source_key: str,
    arrival_ms: int,
    now: pd.Timestamp,
    first_day: str = c.DEFAULT_FIRST_DAY,
) -> ValidationResult:
    """Apply the contract's record rules; every record read ends up clean or quarantined.
    `first_day` (YYYY-MM-DD) is the first daily partition: earlier readings are bad_timestamp."""
    if parsed.file_error is not None:
        table = quarantine_rows(
            source_key,
            pa.nulls(1, pa.int64()),
            pa.array([parsed.file_error.reason], pa.string()),
            pa.array([parsed.file_error.detail], pa.string()),
            pa.array([""], pa.string()),
        )
        return ValidationResult(empty_clean(), _quarantine_frame(table))

    records = parsed.records
    params = {
        "now": float(pd.Timestamp(now).timestamp()),
        "first_day": int(pd.Timestamp(first_day, tz="UTC").timestamp()),
    }
    with connection() as con:
        con.register("records", records)
        judged = con.sql(_JUDGE_SQL, params=params).to_arrow_table()
        bad = pc.is_valid(judged.column("reason")).combine_chunks()
        n_bad = pc.sum(bad).as_py() or 0
        if n_bad:
            rejected = records.filter(bad)
            con.unregister("records")
            con.register("records", rejected)
            details = con.sql(_DETAIL_SQL, params=params).to_arrow_table().column("detail")

    kept = records.select([c.SITE_ID, c.COUNTY, c.DEVICE_ID, c.SOURCE_LINE])
    reasons = judged.column("reason")
    if n_bad:
        good = pc.invert(bad)
        judged, kept = judged.filter(good), kept.filter(good)
    clean = _with_source(_clean_table(judged, kept), source_key, arrival_ms)

    parts = []
    if n_bad:
        parts.append(
            quarantine_rows(
                source_key,
                rejected.column(c.SOURCE_LINE),
                reasons.filter(bad),
                details,
                parsed.raw_texts(bad),
            )
        )
    if parsed.rejects.num_rows:
        parts.append(reject_rows(source_key, parsed.rejects))
    if parts:
        quarantined = pa.concat_tables(parts)
        quarantined = quarantined.take(pc.sort_indices(quarantined.column(c.SOURCE_LINE)))
        quarantined_df = _quarantine_frame(quarantined)
    else:
        quarantined_df = empty_quarantine()
    return ValidationResult(to_frame(clean), quarantined_df)


def _clean_table(judged: pa.Table, kept: pa.Table) -> pa.Table:
    """The clean rows' typed values (`judged`) and text fields (`kept`, from the records)."""
    gen = judged.column("gen_kwh")
    cons = judged.column("con_kwh")
    return pa.table(
        {
            c.SITE_ID: kept.column(c.SITE_ID),
            c.TS: judged.column("ts").cast(schemas.UTC_SECONDS),  # epoch seconds
            c.COUNTY: _county(kept.column(c.COUNTY)),
            c.GENERATED: gen,
            c.CONSUMED: cons,
            c.NET: pc.subtract(gen, cons),
            c.DEVICE_ID: kept.column(c.DEVICE_ID),
            c.ANOMALY_SCORE: judged.column("score_value"),
            c.SOURCE_LINE: kept.column(c.SOURCE_LINE),
        }
    )


def _county(county: pa.ChunkedArray) -> pa.ChunkedArray:
    """Trimmed county; missing or blank is `contract.UNKNOWN_COUNTY`."""
    trimmed = pc.utf8_trim(county, _COUNTY_BLANKS)
    blank = pc.fill_null(pc.equal(trimmed, ""), True)
    return pc.if_else(blank, c.UNKNOWN_COUNTY, trimmed)


def _with_source(table: pa.Table, source_key: str, arrival_ms: int) -> pa.Table:
    n = table.num_rows
    cols = {name: table.column(name) for name in table.column_names if name != c.SOURCE_LINE}
    cols[c.SOURCE_KEY] = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, dtype=np.int32)), pa.array([source_key])
    ).cast(pa.string())
    cols[c.SOURCE_LINE] = table.column(c.SOURCE_LINE)
    cols[c.ARRIVAL] = pa.array(np.full(n, arrival_ms, dtype=np.int64))
    arrays = [cols[f.name].cast(f.type) for f in schemas.STAGED_READINGS]
    return pa.Table.from_arrays(arrays, schema=schemas.STAGED_READINGS)
