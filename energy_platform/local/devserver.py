"""`energy-platform dev`: the whole platform on a laptop, no AWS account needed.

The emulator's recording (.emulator/) and Dagster's history (.dagster_home/) live in the folder
it is started from; the UI is `dg dev` on the dg project (pyproject.toml's [tool.dg]) that
holds this package.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import energy_platform
from energy_platform.local.emulator import (
    ENDPOINT_FILE,
    LOCAL_CREDENTIALS,
    STATE_DIR,
    MotoServer,
    ReplayReport,
    is_live,
)
from energy_platform.settings import WEBSERVER_URL_ENV, get_settings
from energy_platform.tools.provision import provision

DAGSTER_HOME_DIR = ".dagster_home"
RECORDING_FILE = "recording.jsonl"
INSTANCE_YAML = Path(__file__).with_name("dagster.yaml")
"""The local instance's settings, copied into DAGSTER_HOME (never read from the working folder)."""


def _is_dg_project(folder: Path) -> bool:
    pyproject = folder / "pyproject.toml"
    return pyproject.is_file() and "[tool.dg]" in pyproject.read_text()


def dg_project(start: Path) -> Path | None:
    """The dg project to serve: the first of `start` and its parents that is one, else the
    source folder this package is installed from (an editable install), else None."""
    for folder in (start, *start.parents):
        if _is_dg_project(folder):
            return folder
    source = Path(energy_platform.__file__).resolve().parent.parent
    return source if _is_dg_project(source) else None


def _dg_command() -> str | None:
    beside = Path(sys.executable).with_name("dg")
    return str(beside) if beside.exists() else shutil.which("dg")


def _has_history(dagster_home: Path) -> bool:
    return (dagster_home / "history").exists() or (dagster_home / "storage").exists()


def _reset_dagster_home(dagster_home: Path) -> None:
    if dagster_home.exists():
        shutil.rmtree(dagster_home)
    dagster_home.mkdir(parents=True)
    shutil.copy(INSTANCE_YAML, dagster_home / "dagster.yaml")


def _replayed(report: ReplayReport) -> str:
    dropped = f"; {report.dropped} reads and messages dropped" if report.dropped else ""
    return (
        f"Replayed {report.replayed} recorded state changes{dropped}. Queues start empty: "
        "`energy-platform replay --missing` re-queues raw files that were never processed."
    )


def run_dev(project: Path, ui_port: int, fresh: bool, echo: Callable[[str], None]) -> int:
    """Start (or reuse) the emulator, provision, run `dg dev`; returns its exit code.

    `project` is the folder that keeps the emulator's recording and Dagster's history.
    """
    dg_root = dg_project(project)
    dg = _dg_command()
    if dg_root is None or dg is None:
        echo(
            "`energy-platform dev` needs Dagster's `dg` command (the dev extra) and the project's "
            "pyproject.toml ([tool.dg]): run it from the project folder after `make install`."
        )
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
            _reset_dagster_home(dagster_home)
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
            _reset_dagster_home(dagster_home)
        server = MotoServer(recording=recording)
        # Ctrl-C must not stop the emulator before Dagster: its sensors would retry against a
        # dead endpoint and hold up the shutdown. It is stopped last, below.
        endpoint = server.start(log_file=state / "moto.log", own_session=True)
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
                _reset_dagster_home(dagster_home)
                server = MotoServer(port=server.port, recording=recording)
                endpoint = server.start(log_file=state / "moto.log", own_session=True)
    try:
        settings = get_settings()
        report = provision(settings)
        echo(
            f"Provisioned bucket {settings.bucket}, tables/topic/queues with prefix {settings.table_prefix!r} "
            f"({len(report.created)} created)"
        )
        os.environ["DAGSTER_HOME"] = str(dagster_home)
        # Alerts and `which-run` link to this UI.
        os.environ[WEBSERVER_URL_ENV] = f"http://localhost:{ui_port}"
        # The venv dg runs from is the project's: said so, dg does not warn that none is active.
        if sys.prefix != sys.base_prefix:
            os.environ["VIRTUAL_ENV"] = sys.prefix
        echo(
            f"Dagster UI on http://localhost:{ui_port}  (DAGSTER_HOME={dagster_home}); Ctrl-C stops everything."
        )
        echo("Feed it data from another terminal:  .venv/bin/energy-platform simulate --batches 3")
        # dg runs in a process group of its own so that it gets exactly one SIGINT, from here:
        # Ctrl-C in the terminal would send it one too, and a second one cuts short Dagster's
        # orderly shutdown of its webserver, daemon and code server (they would outlive it).
        proc = subprocess.Popen(
            [dg, "dev", "--target-path", str(dg_root), "--port", str(ui_port)],
            cwd=dg_root,
            start_new_session=True,
        )
        previous = signal.signal(signal.SIGTERM, _interrupt)
        try:
            return proc.wait()
        except KeyboardInterrupt:
            return _stop_dg(proc, echo)
        finally:
            signal.signal(signal.SIGTERM, previous)
    finally:
        if server is not None:
            echo("Stopping the emulator.")
            (state / ENDPOINT_FILE).unlink(missing_ok=True)
            server.stop()


DG_SHUTDOWN_SECONDS = 45
"""How long Dagster may take to stop after Ctrl-C before its processes are terminated."""


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM (a service manager, `kill`) stops everything the way Ctrl-C does."""
    raise KeyboardInterrupt


def _stop_dg(proc: subprocess.Popen[bytes], echo: Callable[[str], None]) -> int:
    """One SIGINT to dg's process group, then SIGTERM and SIGKILL if it outstays its time:
    nothing of Dagster outlives `energy-platform dev`."""
    os.killpg(proc.pid, signal.SIGINT)
    for sig, wait in ((signal.SIGTERM, DG_SHUTDOWN_SECONDS), (signal.SIGKILL, 10.0)):
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                return proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                break
            except KeyboardInterrupt:
                continue  # already shutting down
        echo(f"Dagster did not stop in time: sending {sig.name} to its processes.")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
    return proc.wait()
