"""One provisioned platform for the whole API test package, its tables filled once by the real
pipeline (files landed under raw/, sensors and runs drained); the tests only read it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from energy_platform.api.app import create_app
from energy_platform.settings import Settings
from energy_platform.tools.provision import provision
from energy_platform_tests.test_api.seeding import SeededTables, seed_tables
from energy_platform_tests.test_api.served import served


@pytest.fixture(scope="package")
def api_settings(emulator: str) -> Iterator[Settings]:
    """Settings of a platform of its own (unique bucket and table prefix), provisioned."""
    suffix = uuid.uuid4().hex[:8]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ENERGY_BUCKET", f"energy-api-{suffix}")
        mp.setenv("ENERGY_TABLE_PREFIX", f"api{suffix}_")
        mp.delenv("ENERGY_API_KEY", raising=False)
        mp.delenv("ENERGY_API_TOKEN_SECRET", raising=False)
        settings = Settings.from_env()
        provision(settings)
        yield settings


@pytest.fixture(scope="package")
def seeded(api_settings: Settings) -> SeededTables:
    """`seed_tables`: raw files of the synthetic readings through ingest_job and daily_job."""
    return seed_tables(api_settings)


@pytest.fixture(scope="package")
def client(api_settings: Settings, seeded: SeededTables) -> Iterator[httpx.Client]:
    """The app, started (its DynamoDB client made), without an API key."""
    with served(create_app(api_settings, api_key="")) as test_client:
        yield test_client
