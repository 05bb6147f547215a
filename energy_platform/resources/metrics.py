"""Platform metrics as CloudWatch embedded metric format (EMF) lines on stdout.

In ECS the awslogs driver sends every line to CloudWatch Logs, which turns an EMF line into
metric data points: namespace `EnergyPlatform`, one dimension `Deployment` (the name prefix,
so two deployments in one account stay apart). No API call and no IAM permission; locally the
lines are plain JSON in the log. deploy/app.yaml's alarms and dashboard read these names.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping
from typing import Final, TextIO

from energy_platform.settings import get_settings

NAMESPACE: Final = "EnergyPlatform"
DIMENSION: Final = "Deployment"

READINGS_INGESTED: Final = "ReadingsIngested"
READINGS_QUARANTINED: Final = "ReadingsQuarantined"
ANOMALIES_FOUND: Final = "AnomaliesFound"
RUNS_SUCCEEDED: Final = "RunsSucceeded"
RUNS_FAILED: Final = "RunsFailed"
LATE_RAW_OBJECTS: Final = "LateRawObjects"
METRICS: Final = frozenset(
    {
        READINGS_INGESTED,
        READINGS_QUARANTINED,
        ANOMALIES_FOUND,
        RUNS_SUCCEEDED,
        RUNS_FAILED,
        LATE_RAW_OBJECTS,
    }
)
"""Every metric the platform publishes (all counts)."""


def emf_line(values: Mapping[str, float], deployment: str, timestamp_ms: int) -> str:
    """One EMF document carrying `values` (metric name -> count) for `deployment`."""
    unknown = set(values) - METRICS
    if unknown:
        raise ValueError(f"not platform metrics: {sorted(unknown)} (known: {sorted(METRICS)})")
    return json.dumps(
        {
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [
                    {
                        "Namespace": NAMESPACE,
                        "Dimensions": [[DIMENSION]],
                        "Metrics": [{"Name": name, "Unit": "Count"} for name in sorted(values)],
                    }
                ],
            },
            DIMENSION: deployment,
            **{name: values[name] for name in sorted(values)},
        },
        sort_keys=True,
    )


def publish_metrics(values: Mapping[str, float], stream: TextIO | None = None) -> None:
    """Write one EMF line to stdout (or `stream`); nothing when `values` is empty."""
    if values:
        line = emf_line(values, get_settings().table_prefix, int(time.time() * 1000))
        print(line, file=stream or sys.stdout, flush=True)
