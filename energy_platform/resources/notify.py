"""SNS: operator alerts on the `{prefix}alerts` topic."""

from __future__ import annotations

import json
from functools import cached_property
from typing import Any

from energy_platform.contract import ALERTS_TOPIC, prefixed
from energy_platform.resources.clients import AwsResource, name_prefix_field
from energy_platform.resources.metrics import ANOMALIES_FOUND, publish_metrics

SUBJECT_LIMIT = 100
BATCH_ANOMALIES = "batch_anomalies"


class AlertNotifier(AwsResource):
    """Publishes one JSON message per alert to the alerts topic."""

    service = "sns"

    name_prefix: str = name_prefix_field()

    @cached_property
    def topic_arn(self) -> str:
        # CreateTopic is idempotent and returns the ARN of an existing topic.
        name = prefixed(self.name_prefix, ALERTS_TOPIC)
        return self.client.create_topic(Name=name)["TopicArn"]

    def publish(self, kind: str, subject: str, details: dict[str, Any]) -> str:
        """Send one alert; `kind` (batch_anomalies, check_failed, run_failed) is a message attribute."""
        body = json.dumps(
            {"kind": kind, "subject": subject, **details}, default=str, sort_keys=True
        )
        resp = self.client.publish(
            TopicArn=self.topic_arn,
            Subject=subject[:SUBJECT_LIMIT],
            Message=body,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": kind}},
        )
        # The dashboard's anomalies: those an anomaly summary counts in newly arrived readings.
        if kind == BATCH_ANOMALIES and "anomalies" in details:
            publish_metrics({ANOMALIES_FOUND: details["anomalies"]})
        return resp["MessageId"]
