"""An independent recomputation of the gold aggregates in DuckDB SQL, and a frame differ.

The asset checks compare aggregate.py's output with this; the two share no code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.transforms.duck import connection
from energy_platform.transforms.frames import to_frame

_COUNTY_5MIN_SQL = f"""
SELECT
    {c.COUNTY},
    to_timestamp(floor(epoch({c.TS}) / {c.WINDOW_MINUTES * 60}) * {c.WINDOW_MINUTES * 60})
        AS {c.WINDOW_START},
    count(*) AS {c.READING_COUNT},
    count(*) FILTER (WHERE {c.IS_ANOMALY}) AS {c.ANOMALY_COUNT},
    count(DISTINCT {c.SITE_ID}) AS {c.SITE_COUNT},
    coalesce(sum({c.GENERATED}) FILTER (WHERE NOT {c.IS_ANOMALY}), 0.0) AS {c.GENERATED_SUM},
    coalesce(sum({c.CONSUMED}) FILTER (WHERE NOT {c.IS_ANOMALY}), 0.0) AS {c.CONSUMED_SUM},
    coalesce(sum({c.NET}) FILTER (WHERE NOT {c.IS_ANOMALY}), 0.0) AS {c.NET}
FROM readings
GROUP BY ALL
ORDER BY {c.COUNTY}, {c.WINDOW_START}
"""

_COUNTY_5MIN_OF_SHARDS_SQL = f"""
SELECT
    {c.COUNTY},
    {c.WINDOW_START},
    sum({c.READING_COUNT}) AS {c.READING_COUNT},
    sum({c.ANOMALY_COUNT}) AS {c.ANOMALY_COUNT},
    sum({c.SITE_COUNT}) AS {c.SITE_COUNT},
    sum({c.GENERATED_SUM}) AS {c.GENERATED_SUM},
    sum({c.CONSUMED_SUM}) AS {c.CONSUMED_SUM},
    sum({c.NET}) AS {c.NET}
FROM partials
GROUP BY ALL
ORDER BY {c.COUNTY}, {c.WINDOW_START}
"""

_SITE_DAILY_SQL = f"""
SELECT
    {c.SITE_ID},
    strftime({c.TS}, '%Y-%m-%d') AS {c.DATE},
    count(*) AS {c.READING_COUNT},
    count(*) FILTER (WHERE {c.IS_ANOMALY}) AS {c.ANOMALY_COUNT},
    coalesce(sum({c.GENERATED}) FILTER (WHERE NOT {c.IS_ANOMALY}), 0.0) AS {c.GENERATED_SUM},
    coalesce(sum({c.CONSUMED}) FILTER (WHERE NOT {c.IS_ANOMALY}), 0.0) AS {c.CONSUMED_SUM},
    coalesce(sum({c.NET}) FILTER (WHERE NOT {c.IS_ANOMALY}), 0.0) AS {c.NET},
    min({c.NET}) FILTER (WHERE NOT {c.IS_ANOMALY}) AS {c.MIN_NET},
    max({c.NET}) FILTER (WHERE NOT {c.IS_ANOMALY}) AS {c.MAX_NET}
FROM readings
GROUP BY ALL
ORDER BY {c.SITE_ID}, {c.DATE}
"""


def _conform(table: pa.Table, schema: pa.Schema) -> pd.DataFrame:
    arrays = [table.column(f.name).cast(f.type) for f in schema]
    return to_frame(pa.Table.from_arrays(arrays, schema=schema))


def recompute_aggregates_sql(
    readings: pa.Table | pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(county_5min, site_daily) from readings (schemas.READINGS columns), in DuckDB SQL."""
    if isinstance(readings, pd.DataFrame):
        needed = [c.SITE_ID, c.TS, c.COUNTY, c.GENERATED, c.CONSUMED, c.NET, c.IS_ANOMALY]
        frame = readings[needed].copy()
        frame[c.TS] = pd.to_datetime(frame[c.TS], utc=True)
        readings = pa.Table.from_pandas(frame, preserve_index=False)
    with connection() as con:
        con.register("readings", readings)
        county = _conform(con.sql(_COUNTY_5MIN_SQL).to_arrow_table(), schemas.COUNTY_5MIN)
        daily = _conform(con.sql(_SITE_DAILY_SQL).to_arrow_table(), schemas.SITE_DAILY)
    return county, daily


def county_5min_of_shards_sql(partials: pd.DataFrame) -> pd.DataFrame:
    """county_5min from the site shards' county_5min partials (sites are in one shard each, so
    every column, distinct sites too, is a sum), in DuckDB SQL."""
    with connection() as con:
        con.register("partials", partials)
        return _conform(con.sql(_COUNTY_5MIN_OF_SHARDS_SQL).to_arrow_table(), schemas.COUNTY_5MIN)


def _normalized_keys(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for k in keys:
        if isinstance(out[k].dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(
            out[k]
        ):
            out[k] = pd.to_datetime(out[k], utc=True).dt.as_unit("s")
        else:
            out[k] = out[k].astype(str)
    return out


def diff_frames(
    expected: pd.DataFrame,
    actual: pd.DataFrame,
    keys: list[str],
    rel_tol: float = 1e-9,
    abs_tol: float = 1e-6,
) -> pd.DataFrame:
    """Rows missing from `actual`, extra in it, or with a differing value; empty when equal.

    Columns: the keys, then `problem` ("missing", "extra", or "<column>: expected X, got Y").
    Floats compare within rel_tol/abs_tol; nulls equal nulls.
    """
    exp = _normalized_keys(expected, keys)
    act = _normalized_keys(actual, keys)
    values = [col for col in exp.columns if col not in keys and col in act.columns]
    merged = exp.merge(act, on=keys, how="outer", suffixes=("_expected", "_actual"), indicator=True)
    problems = []
    missing = merged.loc[merged["_merge"] == "left_only", keys].assign(problem="missing")
    extra = merged.loc[merged["_merge"] == "right_only", keys].assign(problem="extra")
    problems += [missing, extra]
    both = merged[merged["_merge"] == "both"]
    for col in values:
        e, a = both[f"{col}_expected"], both[f"{col}_actual"]
        e_null, a_null = e.isna().to_numpy(), a.isna().to_numpy()
        if (
            pd.api.types.is_numeric_dtype(e)
            and pd.api.types.is_numeric_dtype(a)
            and not (pd.api.types.is_bool_dtype(e))
        ):
            ev = e.to_numpy(dtype=float, na_value=np.nan)
            av = a.to_numpy(dtype=float, na_value=np.nan)
            close = np.isclose(ev, av, rtol=rel_tol, atol=abs_tol) | (e_null & a_null)
        else:
            close = (e.astype(str).to_numpy() == a.astype(str).to_numpy()) | (e_null & a_null)
        bad = ~close
        if bad.any():
            rows = both.loc[bad, keys].copy()
            rows["problem"] = (
                f"{col}: expected " + e[bad].astype(str) + ", got " + a[bad].astype(str)
            ).to_numpy()
            problems.append(rows)
    out = pd.concat(problems, ignore_index=True)
    return out.sort_values([*keys, "problem"], kind="stable").reset_index(drop=True)
