"""boto3 clients with the platform's retry policy.

The endpoint is never passed here: boto3 reads `AWS_ENDPOINT_URL` itself, so the same code
reaches the local emulator or real AWS.
"""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config

RETRY_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 10},
    connect_timeout=5,
    read_timeout=60,
    max_pool_connections=32,
)


def aws_client(service: str, region: str) -> Any:
    """A boto3 client for `service` with standard retries (throttling, 5xx, resets)."""
    return boto3.session.Session().client(service, region_name=region, config=RETRY_CONFIG)
