"""Per device and UTC day: how many readings, how many anomalous, and what the values were.

A reading without a `device_id` is counted under its site: its device is the site id. Counts
count every reading; the sums and min/avg/max are over readings without anomalies (as
site_daily), null when every reading of the device that day is anomalous.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.transforms.frames import to_frame, to_table


def device_daily(readings: pd.DataFrame) -> pd.DataFrame:
    """Per device and UTC date (schemas.DEVICE_DAILY), sorted by the key."""
    if readings.empty:
        return to_frame(schemas.DEVICE_DAILY.empty_table())
    anomalous = readings[c.IS_ANOMALY].to_numpy(dtype=bool)
    clean = ~anomalous
    frame = pd.DataFrame(
        {
            c.DEVICE_ID: readings[c.DEVICE_ID].astype(object).fillna(readings[c.SITE_ID]),
            c.DATE: pd.to_datetime(readings[c.TS], utc=True).dt.strftime("%Y-%m-%d"),
            c.SITE_ID: readings[c.SITE_ID],
            c.ANOMALY_COUNT: anomalous.astype(np.int64),
            c.GENERATED: readings[c.GENERATED].where(clean),
            c.CONSUMED: readings[c.CONSUMED].where(clean),
        }
    )
    by_device = frame.groupby([c.DEVICE_ID, c.DATE], sort=True)
    out = by_device.agg(
        **{
            c.SITE_ID: (c.SITE_ID, "min"),
            c.READING_COUNT: (c.SITE_ID, "size"),
            c.ANOMALY_COUNT: (c.ANOMALY_COUNT, "sum"),
            c.GENERATED_SUM: (c.GENERATED, "sum"),
            c.CONSUMED_SUM: (c.CONSUMED, "sum"),
            c.MIN_GENERATED: (c.GENERATED, "min"),
            c.AVG_GENERATED: (c.GENERATED, "mean"),
            c.MAX_GENERATED: (c.GENERATED, "max"),
            c.MIN_CONSUMED: (c.CONSUMED, "min"),
            c.AVG_CONSUMED: (c.CONSUMED, "mean"),
            c.MAX_CONSUMED: (c.CONSUMED, "max"),
        }
    ).reset_index()
    out[c.ANOMALY_SHARE] = out[c.ANOMALY_COUNT] / out[c.READING_COUNT]
    return to_frame(to_table(out, schemas.DEVICE_DAILY))
