"""Opaque page tokens: the last key of a page, bound to its query and signed.

A token is `base64url(payload).base64url(hmac)`, the payload being the JSON of the query's
fingerprint and the key to resume after. A token from another query, an edited token, or
one signed with another secret is refused (422).

The secret is `ENERGY_API_TOKEN_SECRET` when set. Otherwise it is random, made at start:
`energy-platform api` makes one and hands it to its workers through the environment
(`ensure_token_secret`), so tokens hold across workers but not across a restart.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import secrets
from collections.abc import MutableMapping

from energy_platform.api.params import InvalidParameter

TOKEN_SECRET_ENV = "ENERGY_API_TOKEN_SECRET"
GENERATED_SECRET_BYTES = 32
MAX_TOKEN_CHARS = 4096
_MAC_BYTES = 16

Key = dict[str, str]

logger = logging.getLogger(__name__)


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(*parts: str | None) -> str:
    """A short digest naming one query (table, index, partition, bounds, filter)."""
    canonical = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


def new_token_secret() -> str:
    """A random secret as text for the environment: hex of GENERATED_SECRET_BYTES bytes."""
    return secrets.token_bytes(GENERATED_SECRET_BYTES).hex()


def ensure_token_secret(environ: MutableMapping[str, str]) -> bool:
    """Put a new secret in `environ` unless it has one; True when it made one.

    Called once before the workers start, so that every worker signs with the same secret.
    """
    if environ.get(TOKEN_SECRET_ENV):
        return False
    environ[TOKEN_SECRET_ENV] = new_token_secret()
    return True


class PageTokens:
    """Encodes and checks page tokens with one secret.

    `secret` defaults to ENERGY_API_TOKEN_SECRET; without either a random secret is made,
    valid in this process only.
    """

    def __init__(self, secret: bytes | str | None = None):
        secret = secret or os.environ.get(TOKEN_SECRET_ENV)
        if not secret:
            logger.warning(
                "%s is unset: page tokens are signed with a secret of this process only; "
                "they fail on other workers and after a restart",
                TOKEN_SECRET_ENV,
            )
            secret = secrets.token_bytes(GENERATED_SECRET_BYTES)
        self._secret = secret.encode() if isinstance(secret, str) else secret

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._secret, payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, query: str, key: Key) -> str:
        payload = json.dumps({"q": query, "k": key}, separators=(",", ":"), sort_keys=True)
        raw = payload.encode()
        return f"{_b64encode(raw)}.{_b64encode(self._mac(raw))}"

    def decode(self, token: str, query: str, key_names: tuple[str, ...]) -> Key:
        """The key a token resumes after; InvalidParameter("next", ...) when it is not valid here."""
        try:
            if len(token) > MAX_TOKEN_CHARS:
                raise ValueError("too long")
            body, mac = token.split(".")
            raw = _b64decode(body)
            if not hmac.compare_digest(_b64decode(mac), self._mac(raw)):
                raise ValueError("bad signature")
            payload = json.loads(raw)
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise InvalidParameter(
                "next", "not a page token of this API; pass the `next` value of the previous page"
            ) from None
        if not isinstance(payload, dict) or payload.get("q") != query:
            raise InvalidParameter(
                "next",
                "this page token belongs to another query; keep the other parameters "
                "as they were on the first page",
            )
        key = payload.get("k")
        if (
            not isinstance(key, dict)
            or sorted(key) != sorted(key_names)
            or not all(isinstance(v, str) and v for v in key.values())
        ):
            raise InvalidParameter("next", "the page token does not hold a key of this table")
        return key
