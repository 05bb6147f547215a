"""Closed by default: no key means loopback only, and page tokens are signed with a secret that
is never in the source (ENERGY_API_TOKEN_SECRET, or random per start and shared by workers)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from click.testing import CliRunner

from energy_platform.api.app import create_app
from energy_platform.api.auth import (
    API_KEY_ENV,
    OPEN_FLAG,
    Exposure,
    UnsafeExposure,
    exposure,
    is_loopback,
)
from energy_platform.api.pagination import TOKEN_SECRET_ENV, ensure_token_secret
from energy_platform.settings import Settings
from energy_platform.tools.cli import main
from energy_platform_tests.test_api.cli_server import running_api
from energy_platform_tests.test_api.paging import walk
from energy_platform_tests.test_api.seeding import SeededTables
from energy_platform_tests.test_api.served import served

READINGS = "/v1/sites/site-001/readings"
DAY = {"start": "2024-06-01T00:00:00Z", "end": "2024-06-01T23:59:59Z"}


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "127.8.9.10", "::1", "[::1]", "localhost", "LocalHost", "::ffff:127.0.0.1"],
)
def test_loopback_hosts(host: str) -> None:
    assert is_loopback(host)
    assert exposure(host, None, allow_unauthenticated=False) is Exposure.LOOPBACK


@pytest.mark.parametrize(
    "host", ["0.0.0.0", "::", "10.0.0.5", "192.168.1.20", "api.example.com", "", "127.1"]
)
def test_other_hosts_need_a_key_or_the_flag(host: str) -> None:
    assert not is_loopback(host)
    with pytest.raises(UnsafeExposure, match=f"Set {API_KEY_ENV}.*{OPEN_FLAG}"):
        exposure(host, None, allow_unauthenticated=False)
    with pytest.raises(UnsafeExposure):
        exposure(host, "", allow_unauthenticated=False)  # an empty key is no key
    assert exposure(host, None, allow_unauthenticated=True) is Exposure.OPEN


@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
@pytest.mark.parametrize("flag", [False, True])
def test_a_key_guards_wherever_the_api_listens(host: str, flag: bool) -> None:
    assert exposure(host, "k3y", allow_unauthenticated=flag) is Exposure.KEYED


@pytest.fixture
def api_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """Neither variable set; whatever the command puts in os.environ is undone afterwards."""
    for name in (API_KEY_ENV, TOKEN_SECRET_ENV):
        monkeypatch.setenv(name, "placeholder")  # records the original for the undo
        monkeypatch.delenv(name)
    return monkeypatch


@pytest.fixture
def uvicorn_runs(api_env: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Every uvicorn.run the command makes, recorded instead of serving."""
    runs: list[dict[str, Any]] = []

    def record(app: str, **kwargs: Any) -> None:
        runs.append({"app": app, **kwargs, "secret": os.environ.get(TOKEN_SECRET_ENV)})

    api_env.setattr(uvicorn, "run", record)
    return runs


def _api(*args: str) -> Any:
    runner = CliRunner()
    with runner.isolated_filesystem():  # no `energy-platform dev` emulator to adopt here
        return runner.invoke(main, ["api", *args])


def test_cli_refuses_a_public_host_without_a_key(uvicorn_runs: list[dict[str, Any]]) -> None:
    result = _api("--host", "0.0.0.0")
    assert result.exit_code == 1
    assert API_KEY_ENV in result.output and OPEN_FLAG in result.output
    assert uvicorn_runs == []


def test_cli_with_the_flag_serves_open_and_warns(uvicorn_runs: list[dict[str, Any]]) -> None:
    result = _api("--host", "0.0.0.0", "--workers", "2", OPEN_FLAG)
    assert result.exit_code == 0, result.output
    assert "WARNING" in result.output and "open to anyone" in result.output
    (run,) = uvicorn_runs
    assert (run["host"], run["workers"], run["factory"]) == ("0.0.0.0", 2, True)
    assert len(bytes.fromhex(run["secret"])) == 32  # made once, inherited by the workers


def test_cli_with_a_key_serves_on_any_host(
    uvicorn_runs: list[dict[str, Any]], api_env: pytest.MonkeyPatch
) -> None:
    api_env.setenv(API_KEY_ENV, "k3y")
    api_env.setenv(TOKEN_SECRET_ENV, "operator-secret")
    result = _api("--host", "0.0.0.0")
    assert result.exit_code == 0, result.output
    assert "k3y" not in result.output
    assert [(r["host"], r["secret"]) for r in uvicorn_runs] == [("0.0.0.0", "operator-secret")]


def test_cli_default_host_is_loopback(uvicorn_runs: list[dict[str, Any]]) -> None:
    assert _api().exit_code == 0
    assert uvicorn_runs[0]["host"] == "127.0.0.1"


def test_each_start_makes_another_secret(api_env: pytest.MonkeyPatch) -> None:
    first: dict[str, str] = {}
    second: dict[str, str] = {}
    assert ensure_token_secret(first) and ensure_token_secret(second)
    assert first[TOKEN_SECRET_ENV] != second[TOKEN_SECRET_ENV]
    assert not ensure_token_secret(first)  # a secret already there is kept


def _token(client: httpx.Client) -> str:
    resp = client.get(READINGS, params={**DAY, "limit": 2})
    assert resp.status_code == 200, resp.text
    return resp.json()["next"]


def test_a_token_of_another_generated_secret_is_refused(
    api_settings: Settings, seeded: SeededTables
) -> None:
    assert TOKEN_SECRET_ENV not in os.environ
    with (
        served(create_app(api_settings, api_key="")) as first,
        served(create_app(api_settings, api_key="")) as restarted,
    ):
        token = _token(first)
        assert first.get(READINGS, params={**DAY, "next": token}).status_code == 200
        refused = restarted.get(READINGS, params={**DAY, "next": token})
    assert refused.status_code == 422
    assert "not a page token of this API" in refused.json()["detail"]


def test_a_token_holds_across_apps_with_the_same_secret(
    api_settings: Settings, seeded: SeededTables
) -> None:
    with (
        served(create_app(api_settings, api_key="", token_secret="shared")) as first,
        served(create_app(api_settings, api_key="", token_secret="shared")) as second,
    ):
        resp = second.get(READINGS, params={**DAY, "limit": 2, "next": _token(first)})
    assert resp.status_code == 200
    assert [i["ts"] for i in resp.json()["items"]] == [
        "2024-06-01T00:10:00Z",
        "2024-06-01T00:15:00Z",
    ]


@pytest.fixture(scope="module")
def two_workers(
    api_settings: Settings, seeded: SeededTables, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """`energy-platform api --workers 2` without ENERGY_API_TOKEN_SECRET; its base URL."""
    env = {k: v for k, v in os.environ.items() if k not in (API_KEY_ENV, TOKEN_SECRET_ENV)}
    with running_api(tmp_path_factory.mktemp("api2"), env, "--workers", "2") as base:
        yield base


class _NewConnectionEachTime:
    """Each page on a fresh connection, so the kernel spreads them over both workers."""

    def __init__(self, base: str):
        self.base = base

    def get(self, url: str, *, params: dict[str, Any]) -> httpx.Response:
        return httpx.get(f"{self.base}{url}", params=params, timeout=30)


def test_workers_share_the_generated_secret(two_workers: str, seeded: SeededTables) -> None:
    r = seeded.readings
    expected = r[r.site_id == "site-001"].ts.tolist()
    items, pages = walk(
        _NewConnectionEachTime(two_workers),
        READINGS,
        start="2024-06-01T00:00:00Z",
        end="2024-06-02T23:59:59Z",
        limit=24,
    )
    assert [i["ts"] for i in items] == expected
    assert pages >= 20
