"""One reading per (site_id, ts): the latest delivery wins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from energy_platform import contract as c

_ORDER = [
    (c.SITE_ID, "ascending"),
    (c.TS, "ascending"),
    (c.ARRIVAL, "descending"),
    (c.SOURCE_KEY, "descending"),
    (c.SOURCE_LINE, "descending"),
]


def key_starts(keys: pa.Table) -> np.ndarray:
    """For rows sorted by all of `keys`' columns: True where a new key begins."""
    n = keys.num_rows
    new = np.ones(n, dtype=bool)
    if n > 1:
        same = np.ones(n - 1, dtype=bool)
        for col in keys.columns:
            equal = pc.equal(col.slice(1), col.slice(0, n - 1))
            same &= pc.fill_null(equal, False).to_numpy()
        new[1:] = ~same
    return new


def latest_readings(readings: pd.DataFrame) -> pd.DataFrame:
    """One row per (site_id, ts): greatest (arrival_ms, source_key, source_line) wins.

    A reading re-delivered later replaces the earlier one. Output sorted by (site_id, ts),
    same columns, fresh index.
    """
    if readings.empty:
        return readings.reset_index(drop=True)
    table = pa.Table.from_pandas(readings[[k for k, _ in _ORDER]], preserve_index=False)
    order = pc.sort_indices(table, sort_keys=_ORDER)
    starts = key_starts(table.select([c.SITE_ID, c.TS]).take(order))
    return readings.iloc[order.to_numpy()[starts]].reset_index(drop=True)
