"""Writing a day by difference: only what changed is put, only what vanished is deleted."""

from __future__ import annotations

import pandas as pd

from energy_platform.transforms.serving import changes


def test_unchanged_day_writes_nothing() -> None:
    df = pd.DataFrame({"k1": ["a", "b"], "k2": ["1", "2"], "v": [1.0, None]})
    diff = changes(df, df.copy(), ["k1", "k2"])
    assert diff.empty


def test_changed_new_and_vanished_rows() -> None:
    old = pd.DataFrame({"k1": ["a", "b", "c"], "k2": ["1", "2", "3"], "v": [1.0, 2.0, 3.0]})
    new = pd.DataFrame({"k1": ["a", "b", "d"], "k2": ["1", "2", "4"], "v": [1.0, 2.5, 4.0]})
    diff = changes(old, new, ["k1", "k2"])
    assert diff.upserts["k1"].tolist() == ["b", "d"]
    assert diff.deletes.to_dict("records") == [{"k1": "c", "k2": "3"}]


def test_first_version_puts_everything() -> None:
    new = pd.DataFrame({"k1": ["a"], "k2": ["1"], "v": [1.0]})
    diff = changes(None, new, ["k1", "k2"])
    assert len(diff.upserts) == 1 and diff.deletes.empty
