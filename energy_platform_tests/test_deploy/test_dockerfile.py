"""The Dockerfile (not buildable here: no Docker engine) has the instructions it must have."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in (REPO / "Dockerfile").read_text().splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        pending += stripped.removesuffix("\\").strip() + " "
        if not stripped.endswith("\\"):
            keyword, _, args = pending.strip().partition(" ")
            out.append((keyword.upper(), args.strip()))
            pending = ""
    assert not pending, "Dockerfile ends inside a continued line"
    return out


def _lock(name: str) -> dict[str, tuple[str, list[str]]]:
    """{package: (version, hashes)} of a `uv pip compile --generate-hashes` lock file."""
    pins: dict[str, tuple[str, list[str]]] = {}
    current = ""
    for line in (REPO / name).read_text().splitlines():
        pin = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)", line)
        if pin:
            current = pin[1].lower().replace("_", "-").replace(".", "-")
            assert current not in pins, f"{name}: {current} pinned twice"
            pins[current] = (pin[2], [])
        elif line.strip().startswith("--hash="):
            pins[current][1].append(line.strip().removesuffix("\\").strip())
    return pins


# Local tooling and the suite: never in the image.
NOT_IN_IMAGE = ("moto", "pytest", "pytest-timeout", "hypothesis", "ruff", "cfn-lint", "uv")


def test_image_is_python_311_slim_and_installs_from_the_production_lock() -> None:
    instructions = _instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    installs = [args for kw, args in instructions if kw == "RUN" and "pip install" in args]
    assert installs == [
        "pip install --require-hashes -r requirements-prod.lock",
        "pip install --no-deps .",
    ]
    # The lock goes in before the sources, so a code change reuses the dependency layer.
    copies = [args for kw, args in instructions if kw == "COPY"]
    lock_copy = next(i for i, args in enumerate(copies) if "requirements-prod.lock" in args)
    sources_copy = next(i for i, args in enumerate(copies) if args.startswith("energy_platform "))
    assert lock_copy < sources_copy


def test_production_lock_pins_runtime_and_deploy_with_hashes_and_no_dev_tools() -> None:
    prod = _lock("requirements-prod.lock")
    for package in ("dagster", "dagster-webserver", "dagster-aws", "dagster-postgres", "pandas"):
        assert package in prod, package
    for package in NOT_IN_IMAGE:
        assert package not in prod, f"{package} would be installed in the production image"
    for package, (_version, hashes) in prod.items():
        assert hashes, f"{package} has no hash"


def test_production_lock_agrees_with_the_development_lock() -> None:
    """requirements-prod.lock is compiled within requirements.lock (`make lock`): the image runs
    the versions the suite ran with."""
    full = _lock("requirements.lock")
    for package, (version, _hashes) in _lock("requirements-prod.lock").items():
        assert package in full, f"{package} is in the production lock only"
        assert full[package][0] == version, (package, version, full[package][0])
    for package in ("moto", "pytest", "dagster-aws", "dagster-postgres", "dagster-dg-cli"):
        assert package in full, package


def test_runtime_dependencies_leave_tooling_to_the_extras() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"])
    for package in (*NOT_IN_IMAGE, "dagster-aws", "dagster-postgres", "dagster-dg-cli"):
        assert not re.search(rf"(^|\s){re.escape(package)}\b(?![-\w])", runtime), package
    extras = project["optional-dependencies"]
    assert any(dep.startswith("moto[server]") for dep in extras["dev"])
    assert {dep.split(">")[0] for dep in extras["deploy"]} == {"dagster-aws", "dagster-postgres"}


def test_copied_sources_exist() -> None:
    for kw, args in _instructions():
        if kw == "COPY":
            *sources, _dest = args.split()
            for source in sources:
                assert (REPO / source).exists(), source


def test_runs_the_code_server_on_port_4000_with_the_production_instance() -> None:
    instructions = _instructions()
    assert ("EXPOSE", "4000") in instructions
    assert not [kw for kw, _ in instructions if kw == "ENTRYPOINT"], (
        "the ECS run launcher overrides the command; an ENTRYPOINT would swallow it"
    )
    (cmd,) = [json.loads(args) for kw, args in instructions if kw == "CMD"]
    assert cmd[:3] == ["dagster", "code-server", "start"]
    assert cmd[cmd.index("--port") + 1] == "4000"
    assert cmd[cmd.index("--module-name") + 1] == "energy_platform.definitions"
    assert any(
        kw == "COPY" and args.startswith("deploy/dagster.yaml ") and "DAGSTER_HOME" in args
        for kw, args in instructions
    )
    assert any(kw == "USER" and args != "root" for kw, args in instructions)
