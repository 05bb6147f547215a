"""Platform namespaces for tests: a freshly provisioned bucket and name prefix of their own,
made current in the environment the platform reads."""

from __future__ import annotations

import uuid

import pytest

from energy_platform.settings import Settings
from energy_platform.tools.provision import provision


def fresh_namespace(monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A new unique bucket and name prefix, provisioned and made current in the environment."""
    suffix = uuid.uuid4().hex[:8]
    monkeypatch.setenv("ENERGY_BUCKET", f"energy-test-{suffix}")
    monkeypatch.setenv("ENERGY_TABLE_PREFIX", f"t{suffix}_")
    settings = Settings.from_env()
    provision(settings)
    return settings


def use_namespace(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Point the platform (which reads the environment) at `settings`' namespace."""
    monkeypatch.setenv("ENERGY_BUCKET", settings.bucket)
    monkeypatch.setenv("ENERGY_TABLE_PREFIX", settings.table_prefix)
