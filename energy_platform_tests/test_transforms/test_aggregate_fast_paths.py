"""county_5min and site_daily's fast paths give exactly what the general paths give."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from energy_platform.transforms.aggregate import _distinct_sites, _factorize, _group, _min_max


def test_factorize_of_runs_equals_pandas() -> None:
    ids = ["b", "b", "a", "a", "a", None, None, "c", "b", "b"] * 5
    values = pd.Series(ids * 20, dtype="str")
    codes, uniques = _factorize(values)
    ref_codes, ref_uniques = pd.factorize(values)
    np.testing.assert_array_equal(codes, ref_codes)
    pd.testing.assert_index_equal(uniques, ref_uniques)


@pytest.mark.parametrize("spread", [10, 10**9])
def test_group_dense_and_hashed_give_the_same_groups(spread: int) -> None:
    rng = np.random.default_rng(spread)
    major = rng.integers(-3, 4, 500)
    minor = rng.integers(0, 5, 500) * spread
    group, g_major, g_minor = _group(major.copy(), minor)  # major is overwritten
    np.testing.assert_array_equal(g_major[group], major)
    np.testing.assert_array_equal(g_minor[group], minor)
    assert len(g_major) == len(set(zip(major.tolist(), minor.tolist(), strict=True)))


def test_distinct_sites_of_sorted_rows_equal_hashing() -> None:
    rng = np.random.default_rng(1)
    site = np.repeat(np.arange(40), rng.integers(1, 30, 40))
    group = rng.integers(0, 12, len(site))
    order = np.lexsort((group, site))
    site, group = site[order], group[order]
    expected = [len(set(site[group == g])) for g in range(12)]
    assert _distinct_sites(group, 12, site.copy()).tolist() == expected  # runs
    shuffled = rng.permutation(len(site))
    assert _distinct_sites(group[shuffled], 12, site[shuffled]).tolist() == expected  # hashing


@pytest.mark.parametrize("nan_share", [0.0, 0.3])
def test_min_max_of_contiguous_groups_equal_pandas_including_signed_zeros(nan_share) -> None:
    rng = np.random.default_rng(2)
    group = np.repeat(np.arange(200), rng.integers(1, 8, 200))
    values = rng.choice([0.0, -0.0, 1.5, -2.0], len(group))
    values[rng.random(len(group)) < nan_share] = np.nan
    low, high = _min_max(values, group, 200)
    by_group = pd.Series(values).groupby(group)
    for got, expected in [(low, by_group.min()), (high, by_group.max())]:
        np.testing.assert_array_equal(got, expected.to_numpy())
        np.testing.assert_array_equal(np.signbit(got), np.signbit(expected.to_numpy()))
    values[values == 0] = 0.0  # no signed-zero tie: the reduceat path
    low, _ = _min_max(values, group, 200)
    np.testing.assert_array_equal(low, pd.Series(values).groupby(group).min().to_numpy())
