"""Quarantined records -> the JSON-lines bytes written under `quarantine/`."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from energy_platform import schemas
from energy_platform.transforms.duck import connection


def quarantine_jsonl(quarantined: pd.DataFrame) -> bytes:
    """One JSON object per row with the QUARANTINE_FIELDS keys, in row order; UTF-8 (not
    ASCII-escaped), deterministic: the same frame always gives identical bytes."""
    if quarantined.empty:
        return b""
    frame = quarantined[list(schemas.QUARANTINE_FIELDS)].reset_index(drop=True)
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)
    table = table.cast(schemas.QUARANTINE)
    table = table.append_column("row_number", pa.array(range(table.num_rows), pa.int64()))
    fields = ", ".join(f"'{name}': \"{name}\"" for name in schemas.QUARANTINE_FIELDS)
    with connection() as con:
        con.register("quarantined", table)
        (text,) = con.sql(
            f"SELECT string_agg(to_json({{{fields}}}), chr(10) ORDER BY row_number) FROM quarantined"
        ).fetchall()[0]
    return (text + "\n").encode("utf-8")


__all__ = ["quarantine_jsonl"]
