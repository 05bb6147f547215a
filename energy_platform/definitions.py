"""The one Definitions object: assets, checks, sensors, schedules, jobs and resources."""

from __future__ import annotations

from dagster import Definitions

from energy_platform.resources import AlertNotifier, DynamoTables, EventQueues, LakeStorage

defs = Definitions(
    resources={
        "lake": LakeStorage(),
        "tables": DynamoTables(),
        "queues": EventQueues(),
        "alerts": AlertNotifier(),
    },
)
