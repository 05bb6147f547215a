"""Request parameters: times, dates and ranges parsed and checked, with messages that say what is wrong."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

MAX_READINGS_DAYS = 31
MAX_DAILY_DAYS = 366

_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A `+hh:mm` offset arrives as ` hh:mm` when the client did not percent-encode the `+`.
_UNENCODED_PLUS = re.compile(r"(?<=\d{2}:\d{2}) (?=\d{2}:?\d{2}$)")


class InvalidParameter(ValueError):
    """A request parameter the API cannot serve (answered with 422)."""

    def __init__(self, field: str, message: str, location: str = "query"):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.location = location


def format_ts(moment: datetime) -> str:
    """A UTC datetime as the tables write it: `YYYY-MM-DDTHH:MM:SSZ` (always 4-digit years)."""
    return moment.astimezone(UTC).replace(tzinfo=None, microsecond=0).isoformat() + "Z"


def parse_time(field: str, value: str) -> datetime:
    """ISO-8601 time -> aware UTC datetime; without an offset it is taken as UTC."""
    text = _UNENCODED_PLUS.sub("+", value.strip())
    try:
        moment = datetime.fromisoformat(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidParameter(
            field, f"{value!r} is not an ISO-8601 time, e.g. 2024-06-01T12:00:00Z"
        ) from None


def parse_date(field: str, value: str) -> date:
    """`YYYY-MM-DD` -> date."""
    try:
        if not _DATE_RE.match(value):
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidParameter(field, f"{value!r} is not a date as YYYY-MM-DD") from None


def time_range(start: str, end: str, max_days: int) -> tuple[str, str]:
    """Inclusive [start, end] as table timestamps; end >= start, at most `max_days` long.

    Tables hold whole seconds: a fractional start rounds up, a fractional end rounds down.
    """
    lo, hi = parse_time("start", start), parse_time("end", end)
    if hi < lo:
        raise InvalidParameter("end", f"{format_ts(hi)} is before start {format_ts(lo)}")
    if hi - lo > timedelta(days=max_days):
        raise InvalidParameter(
            "end",
            f"the range {format_ts(lo)} .. {format_ts(hi)} is longer than {max_days} days; "
            "ask for it in shorter ranges",
        )
    if lo.microsecond:
        lo = lo.replace(microsecond=0) + timedelta(seconds=1)
    return format_ts(lo), format_ts(hi)


def date_range(start: str, end: str, max_days: int) -> tuple[str, str]:
    """Inclusive [start, end] of `YYYY-MM-DD` dates; end >= start, at most `max_days` days."""
    lo, hi = parse_date("start", start), parse_date("end", end)
    if hi < lo:
        raise InvalidParameter("end", f"{hi} is before start {lo}")
    if (hi - lo).days + 1 > max_days:
        raise InvalidParameter(
            "end", f"the range {lo} .. {hi} is longer than {max_days} days; ask for it in parts"
        )
    return lo.isoformat(), hi.isoformat()
