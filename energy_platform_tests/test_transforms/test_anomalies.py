"""detect_anomalies: the contract's rules and the statistical ones."""

from __future__ import annotations

import numpy as np

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.transforms.anomalies import AnomalyParams, detect_anomalies

from .helpers import readings, realistic_day

DEFAULTS = AnomalyParams()


def types_of(rows, params=DEFAULTS):
    _, anomalies = detect_anomalies(readings(rows), params)
    return sorted(set(anomalies[c.ANOMALY_TYPE]))


def test_outputs_have_the_contract_columns():
    out, anomalies = detect_anomalies(readings([{c.GENERATED: -1}]))
    assert list(out.columns) == schemas.READINGS.names
    assert list(anomalies.columns) == schemas.ANOMALIES.names


def test_negative_value():
    assert types_of([{c.CONSUMED: -0.1}]) == [c.AnomalyType.NEGATIVE_VALUE]


def test_device_flagged_above_threshold_only():
    assert types_of([{c.ANOMALY_SCORE: 0.51}]) == [c.AnomalyType.DEVICE_FLAGGED]
    assert types_of([{c.ANOMALY_SCORE: 0.5}]) == []


def test_out_of_range_is_configurable():
    assert types_of([{c.GENERATED: 1500}]) == [c.AnomalyType.OUT_OF_RANGE]
    assert types_of([{c.GENERATED: 1500}], AnomalyParams(out_of_range_kwh=2000)) == []


def test_reading_with_two_types_gives_two_rows_and_one_flag():
    out, anomalies = detect_anomalies(readings([{c.GENERATED: -5, c.ANOMALY_SCORE: 0.9}]))
    assert len(anomalies) == 2
    assert out[c.IS_ANOMALY].tolist() == [True]


def test_ts_type_is_formatted_ts_and_type():
    _, anomalies = detect_anomalies(readings([{c.GENERATED: -5}]))
    assert anomalies[c.TS_TYPE].iloc[0] == "2024-06-01T00:00:00Z#negative_value"


def test_spike_in_consumption_is_detected():
    rows = [{c.GENERATED: 0.0, c.CONSUMED: 0.5 + 0.01 * (i % 3)} for i in range(20)]
    rows[10][c.CONSUMED] = 5.0
    out, anomalies = detect_anomalies(readings(rows))
    assert anomalies[c.ANOMALY_TYPE].tolist() == [c.AnomalyType.SPIKE]
    assert out[c.IS_ANOMALY].sum() == 1


def test_small_wobble_on_tiny_values_is_not_a_spike():
    rows = [{c.GENERATED: 0.0, c.CONSUMED: 0.01 + 0.001 * (i % 4)} for i in range(20)]
    rows[10][c.CONSUMED] = 0.15
    assert types_of(rows) == []


def test_stuck_sensor_after_n_equal_nonzero_readings():
    rows = [{c.GENERATED: 0.0, c.CONSUMED: 0.3 + 0.01 * i} for i in range(20)]
    for i in range(5, 5 + AnomalyParams().stuck_min_run):
        rows[i][c.CONSUMED] = 0.777
    out, anomalies = detect_anomalies(readings(rows))
    assert set(anomalies[c.ANOMALY_TYPE]) == {c.AnomalyType.STUCK_SENSOR}
    assert out[c.IS_ANOMALY].sum() == AnomalyParams().stuck_min_run


def test_zero_generation_at_night_is_not_stuck():
    rows = [{c.GENERATED: 0.0, c.CONSUMED: 0.3 + 0.01 * i} for i in range(40)]
    assert types_of(rows) == []


def test_rules_do_not_cross_sites():
    rows = [{c.SITE_ID: "a", c.CONSUMED: 0.777} for _ in range(3)]
    rows += [{c.SITE_ID: "b", c.CONSUMED: 0.777} for _ in range(3)]
    assert types_of(rows) == []


def test_realistic_day_has_no_false_positives():
    out, anomalies = detect_anomalies(realistic_day(sites=50))
    assert len(anomalies) / len(out) < 0.001


def test_output_sorted_by_site_and_ts_whatever_the_input_order():
    df = realistic_day(sites=3).sample(frac=1, random_state=1)
    out, _ = detect_anomalies(df)
    keys = list(zip(out[c.SITE_ID], out[c.TS], strict=True))
    assert keys == sorted(keys)


def test_day_result_depends_only_on_its_sites_readings():
    day = realistic_day(sites=4)
    alone = day[day[c.SITE_ID] == "site-001"]
    _, a_all = detect_anomalies(day)
    _, a_alone = detect_anomalies(alone)
    assert np.array_equal(
        a_all[a_all[c.SITE_ID] == "site-001"][c.TS_TYPE].to_numpy(), a_alone[c.TS_TYPE].to_numpy()
    )
