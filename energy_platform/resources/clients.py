"""boto3 clients with the platform's retry policy.

The endpoint is never passed here: boto3 reads `AWS_ENDPOINT_URL` itself, so the same code
reaches the local emulator or real AWS.
"""

from __future__ import annotations

from functools import cached_property
from typing import Any, ClassVar

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from dagster import ConfigurableResource
from pydantic import Field

from energy_platform.settings import get_settings

RETRY_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 10},
    connect_timeout=5,
    read_timeout=60,
    max_pool_connections=32,
)


_MODELS = botocore.loaders.create_loader()
"""One loader per process: it caches the service models and endpoint rules it has read, which
each new session would otherwise read and parse again (0.2 to 0.4 s per client, paid by every
run's resources; docs/PERFORMANCE.md, "From landing to readable")."""


def aws_client(service: str, region: str) -> Any:
    """A boto3 client for `service` with standard retries (throttling, 5xx, resets).

    A session of its own (credentials and `AWS_ENDPOINT_URL` read from the environment now),
    sharing the process's loaded service models.
    """
    core = botocore.session.get_session()
    core.register_component("data_loader", _MODELS)
    session = boto3.session.Session(botocore_session=core)
    return session.client(service, region_name=region, config=RETRY_CONFIG)


def _region_default() -> str:
    return get_settings().region


def _prefix_default() -> str:
    return get_settings().table_prefix


def _bucket_default() -> str:
    return get_settings().bucket


class AwsResource(ConfigurableResource):
    """A resource over one AWS service; settings default to the environment (settings.py)."""

    service: ClassVar[str]
    region: str = Field(default_factory=_region_default)

    @cached_property
    def client(self) -> Any:
        return aws_client(self.service, self.region)


def name_prefix_field() -> Any:
    """Prefix of tables, topic and queues; default ENERGY_TABLE_PREFIX."""
    return Field(default_factory=_prefix_default, description="Default: ENERGY_TABLE_PREFIX")


def bucket_field() -> Any:
    """The lake bucket; default ENERGY_BUCKET."""
    return Field(default_factory=_bucket_default, description="Default: ENERGY_BUCKET")
