"""API key and exposure: the API is closed by default.

When `ENERGY_API_KEY` is set, /v1 requests must carry it in `X-API-Key`. Without a key the
API serves only on a loopback address, unless it is started open on purpose
(`energy-platform api --allow-unauthenticated`); `exposure` makes that decision.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
from collections.abc import Callable
from enum import StrEnum

from fastapi import HTTPException, Security, status
from fastapi.security import APIKeyHeader

API_KEY_ENV = "ENERGY_API_KEY"
API_KEY_HEADER = "X-API-Key"
OPEN_FLAG = "--allow-unauthenticated"
LOOPBACK_NAMES = frozenset({"localhost", "localhost."})

api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description=f"Required when the server runs with {API_KEY_ENV} set.",
)


class Exposure(StrEnum):
    """Who can read /v1."""

    KEYED = "keyed"
    """Clients that send the key, wherever the API listens."""
    LOOPBACK = "loopback"
    """Anyone on this machine: no key, loopback address only."""
    OPEN = "open"
    """Anyone who reaches the host: no key, started with OPEN_FLAG."""


class UnsafeExposure(ValueError):
    """Serving without a key on a non-loopback address was not asked for explicitly."""


def configured_api_key() -> str | None:
    """The key from the environment; unset or empty means no key."""
    return os.environ.get(API_KEY_ENV) or None


def is_loopback(host: str) -> bool:
    """Whether `host` is `localhost` or an address of 127.0.0.0/8 or ::1 (brackets allowed)."""
    name = host.strip().lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(name.removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1
    return (mapped or address).is_loopback


def exposure(host: str, api_key: str | None, allow_unauthenticated: bool) -> Exposure:
    """How the API may serve on `host`; UnsafeExposure when it must not start.

    A key always guards /v1. Without one, a loopback host serves open to this machine and any
    other host needs `allow_unauthenticated` (the explicit OPEN_FLAG).
    """
    if api_key:
        return Exposure.KEYED
    if is_loopback(host):
        return Exposure.LOOPBACK
    if allow_unauthenticated:
        return Exposure.OPEN
    raise UnsafeExposure(
        f"refusing to serve the API on {host} without a key: anyone who can reach it could "
        f"read every table. Set {API_KEY_ENV} (clients then send it in the {API_KEY_HEADER} "
        f"header), listen on 127.0.0.1, or pass {OPEN_FLAG} to serve it open to anyone on "
        "purpose."
    )


def api_key_guard(expected: str | None) -> Callable[[str | None], None]:
    """A dependency refusing (401) requests whose X-API-Key is not `expected` (None: open).

    The comparison takes the same time wherever the keys differ; neither key is ever logged
    or echoed in a response.
    """
    expected_bytes = expected.encode() if expected else None

    def require_api_key(supplied: str | None = Security(api_key_header)) -> None:
        if expected_bytes is None:
            return
        if supplied is None or not hmac.compare_digest(supplied.encode(), expected_bytes):
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail=f"missing or wrong {API_KEY_HEADER} header",
                headers={"WWW-Authenticate": "ApiKey"},
            )

    return require_api_key
