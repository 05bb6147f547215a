"""Thin AWS I/O behind Dagster resources: one class per service, configured from the environment."""

from energy_platform.resources.dynamodb import DynamoTables
from energy_platform.resources.notify import AlertNotifier
from energy_platform.resources.queue import EventQueues
from energy_platform.resources.s3 import LakeStorage

__all__ = ["AlertNotifier", "DynamoTables", "EventQueues", "LakeStorage"]
