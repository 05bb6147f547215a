"""`energy-platform dev`: the whole platform on a laptop, no AWS account needed."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from energy_platform.emulator import (
    ENDPOINT_FILE,
    LOCAL_CREDENTIALS,
    STATE_DIR,
    MotoServer,
    ReplayReport,
    is_live,
)
from energy_platform.provision import provision
from energy_platform.settings import get_settings

DAGSTER_HOME_DIR = ".dagster_home"
RECORDING_FILE = "recording.jsonl"


def _has_history(dagster_home: Path) -> bool:
    return (dagster_home / "history").exists() or (dagster_home / "storage").exists()


def _reset_dagster_home(dagster_home: Path, project: Path) -> None:
    if dagster_home.exists():
        shutil.rmtree(dagster_home)
    dagster_home.mkdir(parents=True)
    shutil.copy(project / "dagster.yaml", dagster_home / "dagster.yaml")


def _replayed(report: ReplayReport) -> str:
    dropped = f"; {report.dropped} reads and messages dropped" if report.dropped else ""
    return (
        f"Replayed {report.replayed} recorded state changes{dropped}. Queues start empty: "
        "`energy-platform replay --missing` re-queues raw files that were never processed."
    )


def run_dev(project: Path, ui_port: int, fresh: bool, echo: Callable[[str], None]) -> int:
    """Start (or reuse) the emulator, provision, run `dagster dev`; returns its exit code."""
    if not (project / "workspace.yaml").exists():
        echo(f"No workspace.yaml in {project}: run `energy-platform dev` from the project folder.")
        return 2
    state = project / STATE_DIR
    dagster_home = project / DAGSTER_HOME_DIR
    recording = state / RECORDING_FILE
    state.mkdir(exist_ok=True)

    for name, value in LOCAL_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    server: MotoServer | None = None
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if endpoint and is_live(endpoint):
        echo(f"Using the AWS endpoint already running at {endpoint}")
        if not dagster_home.exists() or fresh:
            _reset_dagster_home(dagster_home, project)
    else:
        keep = (
            not fresh
            and recording.exists()
            and recording.stat().st_size > 0
            and _has_history(dagster_home)
        )
        if not keep:
            echo("Starting fresh: empty emulator, empty Dagster history.")
            recording.unlink(missing_ok=True)
            _reset_dagster_home(dagster_home, project)
        server = MotoServer(recording=recording)
        endpoint = server.start(log_file=state / "moto.log")
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        (state / ENDPOINT_FILE).write_text(endpoint)
        echo(f"Emulator (moto's server) on {endpoint}, state changes recorded in {recording}")
        if keep:
            echo(
                "Replaying the recorded state changes so the emulator matches Dagster's history..."
            )
            try:
                echo(_replayed(server.replay()))
            except OSError as err:
                echo(
                    f"The recording could not be replayed ({err}); starting fresh instead "
                    f"(see {state / 'moto.log'})."
                )
                server.stop()
                recording.unlink(missing_ok=True)
                _reset_dagster_home(dagster_home, project)
                server = MotoServer(port=server.port, recording=recording)
                endpoint = server.start(log_file=state / "moto.log")
    try:
        settings = get_settings()
        report = provision(settings)
        echo(
            f"Provisioned bucket {settings.bucket}, tables/topic/queues with prefix {settings.table_prefix!r} "
            f"({len(report.created)} created)"
        )
        os.environ["DAGSTER_HOME"] = str(dagster_home)
        echo(
            f"Dagster UI on http://localhost:{ui_port}  (DAGSTER_HOME={dagster_home}); Ctrl-C stops everything."
        )
        echo("Feed it data from another terminal:  .venv/bin/energy-platform simulate --batches 3")
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dagster",
                "dev",
                "-w",
                str(project / "workspace.yaml"),
                "-p",
                str(ui_port),
            ],
            cwd=project,
        )
        try:
            return proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)
            return proc.wait()
    finally:
        if server is not None:
            echo("Stopping the emulator.")
            (state / ENDPOINT_FILE).unlink(missing_ok=True)
            server.stop()
