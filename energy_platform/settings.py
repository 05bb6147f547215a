"""Configuration read from the environment, in one place (see docs/CONTRACT.md)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace

from energy_platform import contract as c
from energy_platform.transforms.anomalies import AnomalyParams
from energy_platform.transforms.baseline import AnalyticsParams
from energy_platform.transforms.pieces import ReadLimits

DEFAULT_REGION = "us-east-1"
DEFAULT_BUCKET = "energy-platform"
DEFAULT_TABLE_PREFIX = "energy_"
WEBSERVER_URL_ENV = "DAGSTER_WEBSERVER_URL"
DEFAULT_WEBSERVER_URL = "http://localhost:3000"
SITE_SHARDS_ENV = "ENERGY_SITE_SHARDS"
DEFAULT_SITE_SHARDS = 4
ANALYTICS_INTERVAL_ENV = "ENERGY_ANALYTICS_INTERVAL_SECONDS"


@dataclass(frozen=True)
class Settings:
    """What the platform needs to know about where it runs."""

    region: str
    bucket: str
    table_prefix: str
    endpoint_url: str | None
    """`AWS_ENDPOINT_URL` as boto3 reads it; None means real AWS."""
    out_of_range_kwh: float
    """Upper bound of a plausible single reading (kWh) before it is flagged `out_of_range`."""
    freshness_minutes: float
    """How long an object may sit in `raw/` unprocessed before the freshness check fails."""
    first_day: str = c.DEFAULT_FIRST_DAY
    """The first daily partition (`ENERGY_FIRST_DAY`, YYYY-MM-DD)."""
    read_limits: ReadLimits = field(default_factory=ReadLimits)
    """What one raw file may cost (`ENERGY_MAX_FILE_BYTES`, `ENERGY_MAX_INFLATE_RATIO`)."""
    serve_on_ingest_max_rows: int = 20_000
    """A batch with at most this many clean readings has them put in the readings table by its
    ingest run, seconds before the day's run confirms them (`ENERGY_SERVE_ON_INGEST_MAX_ROWS`;
    0 turns it off). Larger batches (a backlog) are served by the day's run alone."""
    raw_events_wait_seconds: int = 4
    """How long raw_files_sensor long-polls the queue for a first message per tick
    (`ENERGY_RAW_EVENTS_WAIT_SECONDS`): a file landing between ticks (Dagster evaluates sensors
    every 5 s at most) is seen the moment it lands. Keep it under the 5 s tick: a tick still
    running when the next is due makes that one skipped."""
    webserver_url: str = DEFAULT_WEBSERVER_URL
    """The Dagster UI that alerts and `which-run` link to (`DAGSTER_WEBSERVER_URL`;
    `energy-platform dev --port N` sets it to http://localhost:N)."""
    site_shards: int = DEFAULT_SITE_SHARDS
    """Site shards each day's work is split into (`ENERGY_SITE_SHARDS`): one run per day and
    shard with new rows. Fixed for a deployment's life (a site's shard is its id's CRC-32 modulo
    this); docs/CAPACITY.md says how many for a fleet."""
    analytics_interval_seconds: float = 900.0
    """A day shard's analytics (site baseline, underperformance) rerun at most this often while
    its data keeps changing (`ENERGY_ANALYTICS_INTERVAL_SECONDS`; they read the shard's trailing
    days, and an event an hour late is still found the day it starts)."""
    analytics: AnalyticsParams = field(default_factory=AnalyticsParams)
    """Site baselines and underperformance (`ENERGY_UNDERPERFORMANCE_*`, docs/ANOMALIES.md)."""

    @property
    def anomaly_params(self) -> AnomalyParams:
        """The anomaly rules' parameters as configured (ingest's provisional flags and the
        day's run judge with the same ones)."""
        return AnomalyParams(out_of_range_kwh=self.out_of_range_kwh)

    @classmethod
    def from_env(cls, env: os._Environ[str] | dict[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        return cls(
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or DEFAULT_REGION,
            bucket=env.get("ENERGY_BUCKET") or DEFAULT_BUCKET,
            table_prefix=env.get("ENERGY_TABLE_PREFIX", DEFAULT_TABLE_PREFIX),
            endpoint_url=env.get("AWS_ENDPOINT_URL") or None,
            out_of_range_kwh=float(env.get("ENERGY_OUT_OF_RANGE_KWH") or 1000.0),
            freshness_minutes=float(env.get("ENERGY_FRESHNESS_MINUTES") or 15.0),
            first_day=env.get("ENERGY_FIRST_DAY") or c.DEFAULT_FIRST_DAY,
            read_limits=ReadLimits(
                max_file_bytes=int(env.get("ENERGY_MAX_FILE_BYTES") or ReadLimits.max_file_bytes),
                max_inflate_ratio=float(
                    env.get("ENERGY_MAX_INFLATE_RATIO") or ReadLimits.max_inflate_ratio
                ),
            ),
            serve_on_ingest_max_rows=int(
                env.get("ENERGY_SERVE_ON_INGEST_MAX_ROWS") or Settings.serve_on_ingest_max_rows
            ),
            raw_events_wait_seconds=int(
                env.get("ENERGY_RAW_EVENTS_WAIT_SECONDS") or Settings.raw_events_wait_seconds
            ),
            webserver_url=env.get(WEBSERVER_URL_ENV) or DEFAULT_WEBSERVER_URL,
            site_shards=int(env.get(SITE_SHARDS_ENV) or DEFAULT_SITE_SHARDS),
            analytics_interval_seconds=float(
                env.get(ANALYTICS_INTERVAL_ENV) or Settings.analytics_interval_seconds
            ),
            analytics=_analytics(env),
        )


ANALYTICS_ENV = "ENERGY_UNDERPERFORMANCE_"
"""`ENERGY_UNDERPERFORMANCE_RATIO=0.75` sets `AnalyticsParams.ratio`, and so on for each field."""


def _analytics(env: os._Environ[str] | dict[str, str]) -> AnalyticsParams:
    defaults = AnalyticsParams()
    values = {
        f.name: type(getattr(defaults, f.name))(env[name])
        for f in fields(AnalyticsParams)
        if (name := f"{ANALYTICS_ENV}{f.name.upper()}") in env and env[name]
    }
    return replace(defaults, **values)


def get_settings() -> Settings:
    """The settings of the current environment (read each call, so tests can change it)."""
    return Settings.from_env()
