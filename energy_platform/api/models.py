"""Response models: the serving tables' items as JSON (times `YYYY-MM-DDTHH:MM:SSZ`, numbers as numbers).

Field names are the contract's attribute names (energy_platform.contract); attributes an item
carries beyond these (ts_type, date, source_key, ...) are left out of the response.
"""

from __future__ import annotations

from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")

TS_DESCRIPTION = "UTC time as YYYY-MM-DDTHH:MM:SSZ"
TS_EXAMPLE = "2024-06-01T12:05:00Z"


class Reading(BaseModel):
    """One cleaned reading (table `{prefix}readings`)."""

    site_id: str
    ts: str = Field(description=TS_DESCRIPTION, examples=[TS_EXAMPLE])
    county: str
    energy_generated_kwh: float
    energy_consumed_kwh: float
    net_kwh: float = Field(description="energy_generated_kwh - energy_consumed_kwh")
    is_anomaly: bool
    device_id: str | None = None
    anomaly_score: float | None = None


class Anomaly(BaseModel):
    """One anomaly of one reading (table `{prefix}anomalies`)."""

    site_id: str
    ts: str = Field(description=TS_DESCRIPTION, examples=[TS_EXAMPLE])
    anomaly_type: str
    county: str
    energy_generated_kwh: float
    energy_consumed_kwh: float
    net_kwh: float | None = None
    detail: str | None = None


class County5Min(BaseModel):
    """One county's 5-minute window (table `{prefix}county_5min`); sums exclude anomalies."""

    county: str
    window_start: str = Field(description=TS_DESCRIPTION, examples=["2024-06-01T12:05:00Z"])
    reading_count: int
    anomaly_count: int
    site_count: int
    generated_kwh: float
    consumed_kwh: float
    net_kwh: float


class SiteDaily(BaseModel):
    """One site's UTC day (table `{prefix}site_daily`); sums, min and max exclude anomalies."""

    site_id: str
    date: str = Field(description="UTC date as YYYY-MM-DD", examples=["2024-06-01"])
    reading_count: int
    anomaly_count: int
    generated_kwh: float
    consumed_kwh: float
    net_kwh: float
    min_net_kwh: float | None = None
    max_net_kwh: float | None = None


class DeviceDaily(BaseModel):
    """One device's UTC day (table `{prefix}device_daily`); readings without a device_id are
    under their site id. Sums and min/avg/max exclude anomalies (null when all are anomalous)."""

    device_id: str
    date: str = Field(description="UTC date as YYYY-MM-DD", examples=["2024-06-01"])
    site_id: str
    reading_count: int
    anomaly_count: int
    anomaly_share: float = Field(description="anomaly_count / reading_count")
    generated_kwh: float
    consumed_kwh: float
    min_generated_kwh: float | None = None
    avg_generated_kwh: float | None = None
    max_generated_kwh: float | None = None
    min_consumed_kwh: float | None = None
    avg_consumed_kwh: float | None = None
    max_consumed_kwh: float | None = None


class Underperformance(BaseModel):
    """One underperformance event's part on one UTC day (table `{prefix}underperformance`):
    the site's daylight generation stayed below its expected share (docs/ANOMALIES.md)."""

    site_id: str
    start: str = Field(description=TS_DESCRIPTION, examples=[TS_EXAMPLE])
    end: str = Field(description="After the last underperforming slot; " + TS_DESCRIPTION)
    event_start: str = Field(
        description="When the event began (an earlier day's start when it continues one)"
    )
    date: str = Field(description="UTC date as YYYY-MM-DD", examples=["2024-06-01"])
    county: str
    expected_kwh: float = Field(description="Generation the baseline expected over the part")
    actual_kwh: float
    energy_lost_kwh: float = Field(description="expected_kwh - actual_kwh")
    performance_ratio: float = Field(description="actual_kwh / expected_kwh")
    open: bool = Field(description="Still underperforming at the site's last daylight slot")


class Page(BaseModel, Generic[T]):
    """One page of results in key order."""

    items: list[T]
    count: int = Field(description="Number of items on this page")
    next: str | None = Field(
        description=(
            "Opaque token: pass it as `next` with the same other parameters for the following "
            "page. Null on the last page. A page may hold fewer than `limit` items and still "
            "have a token."
        )
    )


class Health(BaseModel):
    """Whether the service can reach its data."""

    status: Literal["ok", "unavailable"]
    dynamodb: bool = Field(description="DescribeTable on the readings table succeeded")
    detail: str | None = Field(
        default=None, description="When unavailable: a generic reason and the server log's error id"
    )


class ErrorLocation(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """Body of every 4xx/5xx answer of the API."""

    detail: str = Field(description="What is wrong, in one sentence")
    errors: list[ErrorLocation] = Field(default_factory=list)
    error_id: str | None = Field(
        default=None,
        description="On 500 and 503: the id under which the server logged the cause",
    )
