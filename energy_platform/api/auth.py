"""API key: when `ENERGY_API_KEY` is set, /v1 requests must carry it in `X-API-Key`."""

from __future__ import annotations

import hmac
import os
from collections.abc import Callable

from fastapi import HTTPException, Security, status
from fastapi.security import APIKeyHeader

API_KEY_ENV = "ENERGY_API_KEY"
API_KEY_HEADER = "X-API-Key"

api_key_header = APIKeyHeader(
    name=API_KEY_HEADER,
    auto_error=False,
    description=f"Required when the server runs with {API_KEY_ENV} set.",
)


def configured_api_key() -> str | None:
    """The key from the environment; unset or empty means the API is open."""
    return os.environ.get(API_KEY_ENV) or None


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
