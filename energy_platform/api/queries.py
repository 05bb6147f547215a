"""DynamoDB reads of the API: one key-condition Query per page (never a Scan), in key order."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from energy_platform.api.pagination import Key, PageTokens, fingerprint
from energy_platform.api.params import InvalidParameter
from energy_platform.contract import (
    ANOMALY_TYPE,
    READINGS_TABLE,
    TABLE_INDEXES,
    TABLE_KEYS,
    prefixed,
)
from energy_platform.resources.clients import RETRY_CONFIG, aws_client
from energy_platform.resources.dynamodb import item_to_python
from energy_platform.settings import Settings

FILTERED_READ_AHEAD = 1000
"""Items a filtered Query evaluates per call (DynamoDB's Limit counts before the filter)."""
MAX_CALLS_PER_PAGE = 10
"""Bound on Query calls behind one page; a page cut short by it still carries a `next` token."""
HEALTH_CONFIG = RETRY_CONFIG.merge(
    Config(connect_timeout=2, read_timeout=3, retries={"mode": "standard", "max_attempts": 1})
)
"""The health probe answers within seconds instead of waiting out the platform's retries."""
_UNAVAILABLE_CODES = frozenset(
    {
        "ResourceNotFoundException",
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    }
)


logger = logging.getLogger(__name__)


class StoreUnavailable(RuntimeError):
    """DynamoDB could not answer (unreachable, table missing, throttled past retries): 503."""


@dataclass(frozen=True)
class KeyRange:
    """One Query: a partition of a table (or index), its sort key BETWEEN low and high."""

    table: str
    partition: str
    low: str | None = None
    high: str | None = None
    index: str | None = None
    anomaly_type: str | None = None
    """Keep only items of this `anomaly_type` (a filter, applied after the key condition)."""

    @property
    def index_key(self) -> tuple[str, str]:
        return TABLE_INDEXES[self.table][self.index] if self.index else TABLE_KEYS[self.table]

    @property
    def key_names(self) -> tuple[str, ...]:
        """Attributes of a LastEvaluatedKey: the index's key, then the table's."""
        return tuple(dict.fromkeys((*self.index_key, *TABLE_KEYS[self.table])))

    @property
    def fingerprint(self) -> str:
        return fingerprint(
            self.table, self.index, self.partition, self.low, self.high, self.anomaly_type
        )

    def check_start_key(self, key: Key) -> None:
        """A resume key must lie in this query's partition and bounds (DynamoDB refuses others)."""
        pk, sk = self.index_key
        inside = (
            key[pk] == self.partition
            and (self.low is None or key[sk] >= self.low)
            and (self.high is None or key[sk] <= self.high)
        )
        if not inside:
            raise InvalidParameter("next", "the page token does not belong to this query")


@dataclass
class ResultPage:
    items: list[dict[str, Any]]
    next: str | None


class TableReader:
    """The API's view of the serving tables: one DynamoDB client, made when the app starts."""

    def __init__(self, settings: Settings, tokens: PageTokens):
        self.settings = settings
        self.tokens = tokens
        self.client = aws_client("dynamodb", settings.region)
        self._health_client = boto3.session.Session().client(
            "dynamodb", region_name=settings.region, config=HEALTH_CONFIG
        )

    def table_name(self, table: str) -> str:
        return prefixed(self.settings.table_prefix, table)

    def page(self, query: KeyRange, limit: int, token: str | None) -> ResultPage:
        """Up to `limit` items after the token's key, and the token of the page after."""
        start = None
        if token:
            key = self.tokens.decode(token, query.fingerprint, query.key_names)
            query.check_start_key(key)
            start = {name: {"S": value} for name, value in key.items()}

        request = self._request(query)
        items: list[dict[str, Any]] = []
        for _ in range(MAX_CALLS_PER_PAGE):
            want = limit + 1 - len(items)  # one more than needed tells whether a page follows
            call = dict(
                request, Limit=max(want, FILTERED_READ_AHEAD) if query.anomaly_type else want
            )
            if start:
                call["ExclusiveStartKey"] = start
            resp = self._call(call)
            items.extend(resp["Items"])
            start = resp.get("LastEvaluatedKey")
            if len(items) > limit or not start:
                break

        if len(items) > limit:
            items = items[:limit]
            resume: dict[str, Any] | None = items[-1]
        else:
            resume = start  # None at the end; otherwise a page cut short by the call budget
        next_token = None
        if resume:
            key = {name: resume[name]["S"] for name in query.key_names}
            next_token = self.tokens.encode(query.fingerprint, key)
        return ResultPage(self._servable(query, items), next_token)

    def _servable(self, query: KeyRange, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The items as Python values, leaving out (and logging) those with a non-finite number.

        DynamoDB refuses NaN and Infinity, so such an item means a corrupted store or answer:
        JSON has no way to write it, and the rest of the page is still served.
        """
        served: list[dict[str, Any]] = []
        left_out: list[tuple[Any, Any]] = []
        pk, sk = query.index_key
        for item in map(item_to_python, items):
            if all(_finite(value) for value in item.values()):
                served.append(item)
            else:
                left_out.append((item.get(pk), item.get(sk)))
        if left_out:
            logger.warning(
                "%s: left out %d items holding a non-finite number: %s",
                self.table_name(query.table),
                len(left_out),
                left_out,
            )
        return served

    def _request(self, query: KeyRange) -> dict[str, Any]:
        pk, sk = query.index_key
        names = {"#pk": pk}
        values: dict[str, Any] = {":pk": {"S": query.partition}}
        condition = "#pk = :pk"
        if query.low is not None and query.high is not None:
            names["#sk"] = sk
            values.update({":lo": {"S": query.low}, ":hi": {"S": query.high}})
            condition += " AND #sk BETWEEN :lo AND :hi"
        request: dict[str, Any] = {
            "TableName": self.table_name(query.table),
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
        if query.index:
            request["IndexName"] = query.index
        if query.anomaly_type:
            names["#type"] = ANOMALY_TYPE
            values[":type"] = {"S": query.anomaly_type}
            request["FilterExpression"] = "#type = :type"
        return request

    def _call(self, request: dict[str, Any]) -> dict[str, Any]:
        try:
            return self.client.query(**request)
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            message = err.response.get("Error", {}).get("Message", "")
            if "IndexName" in request and "index" in message.lower():
                raise StoreUnavailable(
                    f"DynamoDB table {request['TableName']} has no index {request['IndexName']}; "
                    "it was created before the index existed: re-create it (provision on an "
                    "empty emulator, `energy-platform dev --fresh`)"
                ) from err
            if code in _UNAVAILABLE_CODES:
                raise StoreUnavailable(
                    f"DynamoDB table {request['TableName']}: {code}"
                    + ("; run `energy-platform provision`" if code.startswith("Resource") else "")
                ) from err
            raise
        except BotoCoreError as err:
            raise StoreUnavailable(f"DynamoDB unreachable: {type(err).__name__}") from err

    def ping(self) -> tuple[bool, str | None]:
        """DescribeTable on the readings table: (reachable, why not)."""
        try:
            self._health_client.describe_table(TableName=self.table_name(READINGS_TABLE))
        except ClientError as err:
            return False, err.response.get("Error", {}).get("Code", "ClientError")
        except BotoCoreError as err:
            return False, type(err).__name__
        return True, None


def _finite(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)
