"""A throwaway PostgreSQL cluster on loopback: Debian's initdb and pg_ctl in a temp dir."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from energy_platform.local.emulator import free_port

REPO = Path(__file__).resolve().parents[2]
ENSURE_POSTGRES = REPO / "scripts" / "ensure_postgres.sh"
SERVICE_USER = "postgres"
"""initdb refuses to run as root: as root, the cluster belongs to Debian's `postgres` user."""


def postgres_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<version>/bin holding initdb and pg_ctl, if any."""
    candidates = [
        Path(d)
        for d in glob.glob("/usr/lib/postgresql/*/bin")
        if os.access(Path(d) / "initdb", os.X_OK) and os.access(Path(d) / "pg_ctl", os.X_OK)
    ]
    return max(candidates, key=lambda d: int(d.parent.name), default=None)


def ensure_postgres_installed() -> Path:
    """Run scripts/ensure_postgres.sh when the binaries are missing; the bin dir."""
    bin_dir = postgres_bin_dir()
    if bin_dir is None:
        subprocess.run(["sh", str(ENSURE_POSTGRES)], check=True, timeout=600)
        bin_dir = postgres_bin_dir()
    if bin_dir is None:
        raise RuntimeError(
            f"no initdb/pg_ctl under /usr/lib/postgresql/*/bin after {ENSURE_POSTGRES}"
        )
    return bin_dir


@dataclass
class PostgresCluster:
    """One cluster: superuser `user` with `password`, listening on 127.0.0.1:`port` only."""

    bin_dir: Path
    user: str = "dagster"
    password: str = "dagster-test-password"
    host: str = "127.0.0.1"
    port: int = 0
    root: Path | None = None

    @property
    def _as_service_user(self) -> list[str]:
        return ["runuser", "-u", SERVICE_USER, "--"] if os.geteuid() == 0 else []

    def _run(self, *args: str) -> None:
        subprocess.run([*self._as_service_user, *args], check=True, capture_output=True, timeout=60)

    def start(self) -> PostgresCluster:
        # Not under pytest's tmp_path: that lives in a root-only directory when run as root.
        self.root = Path(tempfile.mkdtemp(prefix="energy-pg-"))
        self.port = self.port or free_port(self.host)
        data, pwfile = self.root / "data", self.root / "pwfile"
        pwfile.write_text(self.password + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.root, SERVICE_USER)
            shutil.chown(pwfile, SERVICE_USER)
        self._run(
            str(self.bin_dir / "initdb"),
            "-D", str(data),
            "-U", self.user,
            f"--pwfile={pwfile}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "--encoding=UTF8",
            "--no-sync",
        )  # fmt: skip
        options = (
            f"-c listen_addresses={self.host} -p {self.port} -k {self.root} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D", str(data),
            "-o", options,
            "-l", str(self.root / "postgres.log"),
            "-w", "-t", "30",
            "start",
        )  # fmt: skip
        return self

    def stop(self) -> None:
        if self.root is None:
            return
        if (self.root / "data" / "postmaster.pid").exists():
            self._run(
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.root / "data"),
                "-m",
                "fast",
                "-w",
                "stop",
            )
        shutil.rmtree(self.root, ignore_errors=True)
        self.root = None

    def dsn(self, db_name: str = "postgres") -> str:
        return (
            f"host={self.host} port={self.port} user={self.user} "
            f"password={self.password} dbname={db_name}"
        )

    def create_database(self, name: str) -> None:
        import psycopg2
        from psycopg2 import sql

        conn = psycopg2.connect(self.dsn())
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        finally:
            conn.close()
