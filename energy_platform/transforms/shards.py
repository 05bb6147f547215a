"""Site shards: each site belongs to one shard of its day, for good.

A site's shard is CRC-32 (zlib, IEEE) of its UTF-8 id modulo the shard count, a rule anyone can
recompute. Everything a rule needs about one site (its readings' anomaly windows, its day, its
devices) is inside its shard, so a shard's day is merged and aggregated alone; county windows
add up across shards because no site is in two.
"""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd


def shard_keys(shards: int) -> list[str]:
    """The shards' names, zero-padded so they sort: 4 -> "0".."3", 128 -> "000".."127"."""
    if shards < 1:
        raise ValueError(f"the shard count must be at least 1, not {shards}")
    width = len(str(shards - 1))
    return [f"{i:0{width}d}" for i in range(shards)]


def site_shards(site_ids: pd.Series, shards: int) -> pd.Series:
    """Each row's shard name (hashing each distinct site once)."""
    names = shard_keys(shards)
    codes, uniques = pd.factorize(site_ids, sort=False)
    per_site = np.array(
        [names[zlib.crc32(str(s).encode()) % shards] for s in uniques], dtype=object
    )
    return pd.Series(per_site[codes], index=site_ids.index, dtype=object)
