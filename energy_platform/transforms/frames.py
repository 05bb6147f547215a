"""pandas <-> Arrow with the exact column order and types of a schema in `schemas.py`."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa


def to_table(df: pd.DataFrame, schema: pa.Schema) -> pa.Table:
    """`df`'s columns named by `schema`, in its order and types (no pandas metadata).

    Timestamps are cast to the schema's unit (sub-second parts dropped); NaN in a float
    column becomes null; a missing column raises KeyError naming it.
    """
    missing = [name for name in schema.names if name not in df.columns]
    if missing:
        raise KeyError(f"frame lacks columns {missing} of the schema")
    arrays = []
    for f in schema:
        col = df[f.name]
        if pa.types.is_timestamp(f.type):
            col = pd.to_datetime(col, utc=f.type.tz is not None)
        arr = pa.array(col, from_pandas=True)
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.combine_chunks()
        if not arr.type.equals(f.type):
            arr = arr.cast(f.type, safe=not pa.types.is_timestamp(f.type))
        arrays.append(arr)
    return pa.Table.from_arrays(arrays, schema=schema)


def string_array(values: pd.Series) -> pa.Array | None:
    """`values` as one Arrow (large_)string array (no copy when it already is one chunk), or
    None when they are not text."""
    array = pa.array(values, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.chunk(0) if array.num_chunks == 1 else array.combine_chunks()
    return array if array.type in (pa.string(), pa.large_string()) else None


def to_frame(table: pa.Table) -> pd.DataFrame:
    """A frame of `table`: timestamps keep their unit and zone; an int column with nulls
    becomes pandas' nullable Int64 (never float)."""
    df = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get)
    for f in table.schema:
        if pa.types.is_int64(f.type) and table.column(f.name).null_count == 0:
            df[f.name] = df[f.name].astype("int64")
    return df
