"""Shared fixtures: moto's server over HTTP on a free loopback port, once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from energy_platform.local.emulator import LOCAL_CREDENTIALS, MotoServer, free_port
from energy_platform.settings import SITE_SHARDS_ENV, Settings
from energy_platform_tests.namespaces import fresh_namespace

# Two site shards rather than the default four: every test still spreads a day over several
# shard runs, with half the runs per day to wait for. Set here, before the definitions are
# imported (their partitions are made from it); subprocesses (the dev server) inherit it.
os.environ.setdefault(SITE_SHARDS_ENV, "2")

WAIT_ENV = "ENERGY_RAW_EVENTS_WAIT_SECONDS"
ANALYTICS_INTERVAL_ENV = "ENERGY_ANALYTICS_INTERVAL_SECONDS"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's server as a real HTTP endpoint; boto3 reaches it through AWS_ENDPOINT_URL."""
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    server = MotoServer(port=free_port())
    endpoint = server.start(log_file=log)
    saved = {
        k: os.environ.get(k)
        for k in ("AWS_ENDPOINT_URL", WAIT_ENV, ANALYTICS_INTERVAL_ENV, *LOCAL_CREDENTIALS)
    }
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    os.environ.update(LOCAL_CREDENTIALS)
    # Tests tick raw_files_sensor themselves right after landing files: no long poll, which
    # test_sensor_long_poll covers on its own.
    os.environ[WAIT_ENV] = "0"
    # Tests drain the platform right away: a day's analytics follow its county run at once.
    os.environ[ANALYTICS_INTERVAL_ENV] = "0"
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    try:
        yield endpoint
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture
def platform_env(emulator: str, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A freshly provisioned platform of its own (unique bucket and name prefix) for one test."""
    return fresh_namespace(monkeypatch)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests keep files worth looking at afterwards (screenshots, reports)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
