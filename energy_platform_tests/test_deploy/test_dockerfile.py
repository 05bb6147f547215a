"""The Dockerfile (not buildable here: no Docker engine) has the instructions it must have."""

from __future__ import annotations

import json
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


def test_image_is_python_311_slim_and_installs_with_constraints() -> None:
    instructions = _instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    installs = [args for kw, args in instructions if kw == "RUN" and "pip install" in args]
    assert len(installs) == 1
    assert "-c constraints.txt" in installs[0]
    assert "dagster-postgres" in installs[0]


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
