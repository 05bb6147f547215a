"""The FastAPI app: `create_app()` is the factory `energy-platform api` gives uvicorn."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from energy_platform.api.auth import api_key_guard, configured_api_key
from energy_platform.api.models import (
    Anomaly,
    County5Min,
    DeviceDaily,
    ErrorBody,
    Health,
    Page,
    Reading,
    SiteDaily,
    Underperformance,
)
from energy_platform.api.pagination import PageTokens
from energy_platform.api.params import (
    MAX_DAILY_DAYS,
    MAX_READINGS_DAYS,
    InvalidParameter,
    date_range,
    parse_date,
    time_range,
)
from energy_platform.api.queries import KeyRange, StoreUnavailable, TableReader
from energy_platform.contract import (
    ANOMALIES_BY_DATE_INDEX,
    ANOMALIES_TABLE,
    ANOMALY_TYPES,
    COUNTY_5MIN_TABLE,
    DEVICE_DAILY_TABLE,
    READINGS_TABLE,
    SITE_DAILY_TABLE,
    SITE_ID_PATTERN,
    UNDERPERFORMANCE_BY_DATE_INDEX,
    UNDERPERFORMANCE_TABLE,
)
from energy_platform.settings import Settings, get_settings

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_COUNTY_CHARS = 512
"""DynamoDB partition keys hold at most 2048 bytes: 512 characters of up to 4 UTF-8 bytes."""
MAX_DEVICE_CHARS = MAX_COUNTY_CHARS
TS_TYPE_SEPARATOR = "#"
AFTER_SEPARATOR = chr(ord(TS_TYPE_SEPARATOR) + 1)
"""`{ts}$` sorts after every `{ts}#{type}`: the inclusive upper bound of a ts range on ts_type."""

DESCRIPTION = f"""
Read-only access to the platform's serving tables in DynamoDB.

* **Results** come in key order (time order within a site or county), one page at a time:
  `limit` items (default {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE}) and a `next` token.
  Pass `next` back with the same other parameters until it is null.
* **Times** are ISO-8601 (`2024-06-01T12:00:00Z`; an offset is converted to UTC, none means
  UTC); ranges are inclusive at both ends. Responses write times as `YYYY-MM-DDTHH:MM:SSZ`.
* **Unknown** sites and counties are not errors: they answer 200 with an empty page.
* **Errors**: 422 names the parameter and what is wrong with it; 401 when the server has
  `ENERGY_API_KEY` set and the `X-API-Key` header does not match; 503 when DynamoDB cannot
  answer and 500 on any other failure, both with a generic `detail` and an `error_id` under
  which the server logged the cause.
"""

AnomalyTypeName = StrEnum("AnomalyTypeName", {t: t for t in ANOMALY_TYPES})

SiteId = Annotated[
    str, Path(pattern=SITE_ID_PATTERN, description="Site id: 1-64 of A-Z a-z 0-9 _ . : -")
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")]
NextToken = Annotated[
    str | None, Query(alias="next", description="`next` of the previous page; omit for the first")
]
Start = Annotated[
    str, Query(description="ISO-8601 time, inclusive", examples=["2024-06-01T00:00:00Z"])
]
End = Annotated[
    str, Query(description="ISO-8601 time, inclusive", examples=["2024-06-02T00:00:00Z"])
]
StartDate = Annotated[str, Query(description="YYYY-MM-DD, inclusive", examples=["2024-06-01"])]
EndDate = Annotated[str, Query(description="YYYY-MM-DD, inclusive", examples=["2024-06-30"])]
Day = Annotated[
    str, Query(alias="date", description="UTC date as YYYY-MM-DD", examples=["2024-06-01"])
]
TypeFilter = Annotated[
    AnomalyTypeName | None, Query(alias="type", description="Only anomalies of this type")
]

EMPTY_IS_OK = "An unknown {what} is not an error: the answer is 200 with an empty list."
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorBody, "description": "ENERGY_API_KEY is set and X-API-Key does not match"},
    422: {"model": ErrorBody, "description": "A parameter is malformed or out of bounds"},
    500: {"model": ErrorBody, "description": "An unexpected failure, logged under `error_id`"},
    503: {"model": ErrorBody, "description": "DynamoDB is unreachable or the table is missing"},
}
STORE_UNAVAILABLE = "the data store is unavailable; try again later"
INTERNAL_ERROR = "internal error"

logger = logging.getLogger(__name__)


def get_reader(request: Request) -> TableReader:
    return request.app.state.reader


Reader = Annotated[TableReader, Depends(get_reader)]


def create_app(
    settings: Settings | None = None,
    api_key: str | None = None,
    token_secret: str | None = None,
) -> FastAPI:
    """The API over the tables of `settings` (default: the environment's).

    `api_key` defaults to ENERGY_API_KEY and `token_secret` to ENERGY_API_TOKEN_SECRET (unset:
    a random secret of this app). The DynamoDB client is made once, when the app starts
    (its lifespan: each uvicorn worker).
    """
    settings = settings or get_settings()
    tokens = PageTokens(token_secret)
    key = api_key if api_key is not None else configured_api_key()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.reader = TableReader(settings, tokens)
        yield

    app = FastAPI(
        title="Energy platform API",
        version="1.0.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    _install_error_handlers(app)
    app.include_router(_health_router())
    app.include_router(_v1_router(), dependencies=[Depends(api_key_guard(key))])
    return app


def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get(
        "/health",
        response_model=Health,
        responses={503: {"model": Health, "description": "DynamoDB is not reachable"}},
    )
    def health(reader: Reader) -> JSONResponse:
        """200 when DescribeTable on the readings table succeeds, 503 otherwise. Never needs a key."""
        reachable, why = reader.ping()
        if reachable:
            return JSONResponse(Health(status="ok", dynamodb=True).model_dump())
        error_id = _log_error(logging.WARNING, "health: DynamoDB did not answer: %s", why)
        detail = f"{STORE_UNAVAILABLE} (error id {error_id})"
        body = Health(status="unavailable", dynamodb=False, detail=detail)
        return JSONResponse(body.model_dump(), status_code=503)

    return router


def _v1_router() -> APIRouter:
    router = APIRouter(prefix="/v1", responses=ERROR_RESPONSES)

    @router.get(
        "/sites/{site_id}/readings",
        response_model=Page[Reading],
        tags=["readings"],
        description=f"A site's readings with start <= ts <= end (at most {MAX_READINGS_DAYS} "
        f"days). {EMPTY_IS_OK.format(what='site')}",
    )
    def site_readings(
        reader: Reader,
        site_id: SiteId,
        start: Start,
        end: End,
        limit: Limit = DEFAULT_PAGE_SIZE,
        next_token: NextToken = None,
    ) -> dict[str, Any]:
        lo, hi = time_range(start, end, MAX_READINGS_DAYS)
        query = KeyRange(READINGS_TABLE, site_id, lo, hi)
        return _page(reader, query, limit, next_token)

    @router.get(
        "/sites/{site_id}/anomalies",
        response_model=Page[Anomaly],
        tags=["anomalies"],
        description=f"A site's anomalies with start <= ts <= end (at most {MAX_READINGS_DAYS} "
        f"days), optionally of one type. {EMPTY_IS_OK.format(what='site')}",
    )
    def site_anomalies(
        reader: Reader,
        site_id: SiteId,
        start: Start,
        end: End,
        anomaly_type: TypeFilter = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        next_token: NextToken = None,
    ) -> dict[str, Any]:
        lo, hi = time_range(start, end, MAX_READINGS_DAYS)
        query = KeyRange(
            ANOMALIES_TABLE,
            site_id,
            lo,
            hi + AFTER_SEPARATOR,
            anomaly_type=anomaly_type.value if anomaly_type else None,
        )
        return _page(reader, query, limit, next_token)

    @router.get(
        "/anomalies",
        response_model=Page[Anomaly],
        tags=["anomalies"],
        description="Every site's anomalies of one UTC day, in time order, optionally of one "
        f"type (the anomalies table's `{ANOMALIES_BY_DATE_INDEX}` index).",
    )
    def anomalies_of_day(
        reader: Reader,
        day: Day,
        anomaly_type: TypeFilter = None,
        limit: Limit = DEFAULT_PAGE_SIZE,
        next_token: NextToken = None,
    ) -> dict[str, Any]:
        query = KeyRange(
            ANOMALIES_TABLE,
            parse_date("date", day).isoformat(),
            index=ANOMALIES_BY_DATE_INDEX,
            anomaly_type=anomaly_type.value if anomaly_type else None,
        )
        return _page(reader, query, limit, next_token)

    @router.get(
        "/counties/{county:path}/5min",
        response_model=Page[County5Min],
        tags=["aggregates"],
        description="A county's 5-minute aggregates with start <= window_start <= end (at most "
        f"{MAX_READINGS_DAYS} days). The county name is URL-encoded in the path (spaces, "
        f"apostrophes, any Unicode). {EMPTY_IS_OK.format(what='county')}",
    )
    def county_5min(
        reader: Reader,
        county: Annotated[str, Path(min_length=1, max_length=MAX_COUNTY_CHARS)],
        start: Start,
        end: End,
        limit: Limit = DEFAULT_PAGE_SIZE,
        next_token: NextToken = None,
    ) -> dict[str, Any]:
        lo, hi = time_range(start, end, MAX_READINGS_DAYS)
        return _page(reader, KeyRange(COUNTY_5MIN_TABLE, county, lo, hi), limit, next_token)

    @router.get(
        "/sites/{site_id}/daily",
        response_model=Page[SiteDaily],
        tags=["aggregates"],
        description=f"A site's daily aggregates for UTC dates start..end inclusive (at most "
        f"{MAX_DAILY_DAYS} days). {EMPTY_IS_OK.format(what='site')}",
    )
    def site_daily(
        reader: Reader,
        site_id: SiteId,
        start: StartDate,
        end: EndDate,
        limit: Limit = DEFAULT_PAGE_SIZE,
        next_token: NextToken = None,
    ) -> dict[str, Any]:
        lo, hi = date_range(start, end, MAX_DAILY_DAYS)
        return _page(reader, KeyRange(SITE_DAILY_TABLE, site_id, lo, hi), limit, next_token)

    @router.get(
        "/devices/{device_id:path}/daily",
        response_model=Page[DeviceDaily],
        tags=["analytics"],
        description=f"A device's daily statistics for UTC dates start..end inclusive (at most "
        f"{MAX_DAILY_DAYS} days). Readings without a device_id are under their site id. The "
        f"device id is URL-encoded in the path. {EMPTY_IS_OK.format(what='device')}",
    )
    def device_daily(
        reader: Reader,
        device_id: Annotated[str, Path(min_length=1, max_length=MAX_DEVICE_CHARS)],
        start: StartDate,
        end: EndDate,
        limit: Limit = DEFAULT_PAGE_SIZE,
        next_token: NextToken = None,
    ) -> dict[str, Any]:
        lo, hi = date_range(start, end, MAX_DAILY_DAYS)
        return _page(reader, KeyRange(DEVICE_DAILY_TABLE, device_id, lo, hi), limit, next_token)

    @router.get(
        "/sites/{site_id}/underperformance",
        response_model=Page[Underperformance],
        tags=["analytics"],
        description="A site's underperformance, one item per event and UTC day, with "
        f"start <= start time <= end (at most {MAX_DAILY_DAYS} days); the days of one event share "
        f"its event_start. {EMPTY_IS_OK.format(what='site')}",
    )
    def site_underperformance(
        reader: Reader,
        site_id: SiteId,
        start: Start,
        end: End,
        limit: Limit = DEFAULT_PAGE_SIZE,
        next_token: NextToken = None,
    ) -> dict[str, Any]:
        lo, hi = time_range(start, end, MAX_DAILY_DAYS)
        query = KeyRange(UNDERPERFORMANCE_TABLE, site_id, lo, hi)
        return _page(reader, query, limit, next_token)

    @router.get(
        "/underperformance",
        response_model=Page[Underperformance],
        tags=["analytics"],
        description="Every site's underperformance on one UTC day, in time order (the "
        f"underperformance table's `{UNDERPERFORMANCE_BY_DATE_INDEX}` index).",
    )
    def underperformance_of_day(
        reader: Reader, day: Day, limit: Limit = DEFAULT_PAGE_SIZE, next_token: NextToken = None
    ) -> dict[str, Any]:
        query = KeyRange(
            UNDERPERFORMANCE_TABLE,
            parse_date("date", day).isoformat(),
            index=UNDERPERFORMANCE_BY_DATE_INDEX,
        )
        return _page(reader, query, limit, next_token)

    return router


def _page(reader: TableReader, query: KeyRange, limit: int, token: str | None) -> dict[str, Any]:
    page = reader.page(query, limit, token)
    return {"items": page.items, "count": len(page.items), "next": page.next}


def _error(
    status: int,
    detail: str,
    errors: list[dict[str, Any]] | None = None,
    error_id: str | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"detail": detail, "errors": errors or []}
    if error_id:
        body["error_id"] = error_id
    return JSONResponse(body, status_code=status)


def _log_error(level: int, message: str, *args: object, exc: BaseException | None = None) -> str:
    """Log a failure under a new error id (the server keeps the cause); returns the id."""
    error_id = secrets.token_hex(6)
    logger.log(level, "error id %s: " + message, error_id, *args, exc_info=exc)
    return error_id


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(InvalidParameter)
    async def invalid_parameter(_request: Request, exc: InvalidParameter) -> JSONResponse:
        location = [exc.location, exc.field]
        return _error(422, str(exc), [{"loc": location, "msg": exc.message, "type": "value_error"}])

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # The offending input is not echoed back: it could be a credential pasted in error.
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{_where(e['loc'])}: {e['msg']}" for e in errors) or "invalid request"
        return _error(422, detail, jsonable_encoder(errors))

    @app.exception_handler(StoreUnavailable)
    async def store_unavailable(request: Request, exc: StoreUnavailable) -> JSONResponse:
        error_id = _log_error(logging.ERROR, "%r: %s", request.url.path, exc)
        return _error(503, f"{STORE_UNAVAILABLE} (error id {error_id})", error_id=error_id)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after this answer, so the server's own log has the traceback too.
        error_id = _log_error(logging.ERROR, "%r failed", request.url.path, exc=exc)
        return _error(500, f"{INTERNAL_ERROR} (error id {error_id})", error_id=error_id)


def _where(loc: list[Any]) -> str:
    """("query", "start") -> "start (query)"."""
    return f"{loc[-1]} ({loc[0]})" if len(loc) > 1 else str(loc[0] if loc else "request")
