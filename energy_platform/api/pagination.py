"""Opaque page tokens: the last key of a page, bound to its query and signed.

A token is `base64url(payload).base64url(hmac)`, the payload being the JSON of the query's
fingerprint and the key to resume after. A token from another query, an edited token, or
one signed with another secret is refused (422). Set `ENERGY_API_TOKEN_SECRET` to the same
value on every worker and host; without it a built-in secret is used, which still catches
corrupted and mismatched tokens, and the key itself is checked against the query anyway.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os

from energy_platform.api.params import InvalidParameter

TOKEN_SECRET_ENV = "ENERGY_API_TOKEN_SECRET"
DEFAULT_TOKEN_SECRET = b"energy-platform/page-token/v1"
MAX_TOKEN_CHARS = 4096
_MAC_BYTES = 16

Key = dict[str, str]


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def fingerprint(*parts: str | None) -> str:
    """A short digest naming one query (table, index, partition, bounds, filter)."""
    canonical = json.dumps(parts, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:24]


class PageTokens:
    """Encodes and checks page tokens with one secret."""

    def __init__(self, secret: bytes | str | None = None):
        if secret is None:
            secret = os.environ.get(TOKEN_SECRET_ENV) or DEFAULT_TOKEN_SECRET
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
