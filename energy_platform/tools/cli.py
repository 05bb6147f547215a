"""`energy-platform`: provision AWS, simulate meters, run the platform locally."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from energy_platform.settings import get_settings

if TYPE_CHECKING:
    from energy_platform.api.auth import Exposure
    from energy_platform.resources import EventQueues
    from energy_platform.tools.replay import ReplayItem, Unreplayable


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main() -> None:
    """Energy data platform: readings from S3 to clean, aggregated data, on Dagster.

    Configuration comes from the environment: AWS_ENDPOINT_URL (unset = real AWS),
    AWS_REGION, ENERGY_BUCKET, ENERGY_TABLE_PREFIX. With AWS_ENDPOINT_URL unset and
    `energy-platform dev` running in this folder, commands use its local emulator.
    """
    from energy_platform.local.emulator import adopt_running_emulator

    endpoint = adopt_running_emulator(Path.cwd())
    if endpoint:
        click.echo(f"Using the local emulator of `energy-platform dev` at {endpoint}", err=True)


@main.command()
def provision() -> None:
    """Create the bucket, tables, topic and queues (idempotent: safe to run again)."""
    from energy_platform.tools.provision import provision as run_provision

    settings = get_settings()
    where = settings.endpoint_url or f"AWS ({settings.region})"
    click.echo(f"Provisioning on {where}")
    report = run_provision(settings, log=lambda m: click.echo(f"  {m}"))
    click.echo(f"Created {len(report.created)}, already there {len(report.existing)}.")


@main.command()
@click.option(
    "--batches", default=1, show_default=True, type=click.IntRange(min=1), help="Batches to upload."
)
@click.option(
    "--records",
    default=500,
    show_default=True,
    type=click.IntRange(min=1),
    help="Records per batch.",
)
@click.option(
    "--interval",
    default=0.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="Seconds between batches.",
)
@click.option("--seed", default=None, type=int, help="Random seed, for reproducible batches.")
@click.option(
    "--sites", default=25, show_default=True, type=click.IntRange(min=1), help="Number of sites."
)
@click.option(
    "--format",
    "fmt",
    default="mixed",
    show_default=True,
    type=click.Choice(["json", "jsonl", "csv", "mixed"]),
    help="File format of each batch; mixed rotates through all three.",
)
@click.option("--gzip/--no-gzip", default=False, show_default=True, help="Gzip each batch (.gz).")
@click.option(
    "--anomaly-rate",
    default=0.02,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of readings with an injected anomaly.",
)
@click.option(
    "--invalid-rate",
    default=0.0,
    show_default=True,
    type=click.FloatRange(0, 1),
    help="Share of records that break a validation rule.",
)
@click.option(
    "--fault",
    "faults",
    multiple=True,
    metavar="KIND:SITE:YYYY-MM-DD[:DAYS[:SEVERITY]]",
    help="Plant a fault (soiling, step_failure, shading, dead_site) in a site's generation from "
    "that UTC day, for DAYS days (default: on); repeatable, one per site. See tools/faults.py.",
)
@click.option(
    "--max-batches",
    default=1000,
    show_default=True,
    type=click.IntRange(min=1),
    help="Safety cap: refuse to run more batches than this.",
)
def simulate(
    batches: int,
    records: int,
    interval: float,
    seed: int | None,
    sites: int,
    fmt: str,
    gzip: bool,
    anomaly_rate: float,
    invalid_rate: float,
    faults: tuple[str, ...],
    max_batches: int,
) -> None:
    """Upload realistic meter batches to raw/ (solar by time of day, daily consumption).

    Each batch is one object raw/YYYY/MM/DD/HH/batch-<time>-<n>-<random>.<json|jsonl|csv>[.gz]
    holding the latest 5-minute readings of --sites sites (--records spread over them), with
    --anomaly-rate injected anomalies and --invalid-rate records that each break one rule of
    the data contract. The same --seed gives the same readings.
    """
    if batches > max_batches:
        raise click.UsageError(
            f"--batches {batches} is over the safety cap --max-batches {max_batches}; raise the cap if you mean it"
        )
    from energy_platform.resources import LakeStorage
    from energy_platform.tools.faults import parse_fault
    from energy_platform.tools.simulate import SimulationConfig, run_simulation

    try:
        planted = tuple(parse_fault(f) for f in faults)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--fault") from e

    config = SimulationConfig(
        records=records,
        sites=sites,
        fmt=fmt,
        gzip=gzip,
        anomaly_rate=anomaly_rate,
        invalid_rate=invalid_rate,
        seed=seed,
        faults=planted,
    )
    storage = LakeStorage()
    with click.progressbar(length=batches, label=f"Uploading to s3://{storage.bucket}/raw/") as bar:
        keys = run_simulation(
            storage, config, batches=batches, interval=interval, on_batch=lambda _key: bar.update(1)
        )
    for key in keys:
        click.echo(f"  {storage.uri(key)}")
    click.echo(f"{len(keys)} batches, {len(keys) * records} records.")


@main.command()
@click.option(
    "--port",
    default=3000,
    show_default=True,
    type=int,
    help="Port of the Dagster UI (alerts link to it: DAGSTER_WEBSERVER_URL).",
)
@click.option(
    "--fresh", is_flag=True, help="Start with an empty emulator and an empty run history."
)
def dev(port: int, fresh: bool) -> None:
    """Run the platform locally: moto's server, provisioning, then `dg dev` (Ctrl-C stops all).

    The emulator's state-changing requests are recorded under .emulator/ and replayed at the
    next start (reads and message traffic are not: queues start empty, and nothing is published
    again), and Dagster's history lives in .dagster_home/: both survive a restart together, or
    (--fresh, or when either is missing) both start empty.
    """
    import importlib.util

    # moto (the emulator) is local tooling, in the dev extra only: the production image lacks it.
    if importlib.util.find_spec("moto") is None:
        raise click.ClickException(
            "`energy-platform dev` needs moto's server, which is not installed: "
            "install the dev extra: pip install -e '.[dev]' (or run `make dev`)"
        )
    from energy_platform.local.devserver import run_dev

    sys.exit(run_dev(Path.cwd(), ui_port=port, fresh=fresh, echo=click.echo))


@main.command()
@click.option("--dry-run", is_flag=True, help="Only list what would be re-processed.")
@click.option(
    "--missing",
    is_flag=True,
    help="Also re-queue every object under raw/ the ingested-files ledger does not hold.",
)
@click.option(
    "--drop-unreplayable",
    is_flag=True,
    help="Remove dead letters that name no object to re-process (kept by default).",
)
def replay(dry_run: bool, missing: bool, drop_unreplayable: bool) -> None:
    """Re-process the files of failed runs (the dead_letters queue), and with --missing any
    object under raw/ that was never processed. The running sensor picks them up.

    A dead letter that names no object (a malformed message, say) is listed and kept, unless
    --drop-unreplayable removes it.
    """
    from energy_platform.resources import DynamoTables, EventQueues, LakeStorage
    from energy_platform.tools import replay as rp

    queues = EventQueues()
    letters = rp.dead_lettered(queues)
    items = list(letters.items)
    if missing:
        seen = {i.key for i in items}
        items += [i for i in rp.missing(LakeStorage(), DynamoTables()) if i.key not in seen]
    _list_replay(items, letters.unreplayable)
    if not items and not letters.unreplayable:
        click.echo(
            "Nothing to replay: the dead-letter queue is empty"
            + (" and raw/ is fully processed." if missing else ".")
        )
    elif dry_run:
        rp.release(queues, letters.messages)
        click.echo(f"{len(items)} objects would be re-processed (dry run: nothing changed).")
        if letters.unreplayable:
            click.echo(
                f"{len(letters.unreplayable)} dead letters cannot be replayed: `replay` keeps "
                "them, `replay --drop-unreplayable` removes them."
            )
    else:
        click.echo(f"{rp.replay(queues, items)} objects queued for re-processing.")
        _settle_unreplayable(queues, letters.unreplayable, drop_unreplayable)


def _list_replay(items: list[ReplayItem], unreplayable: list[Unreplayable]) -> None:
    """One line per object to re-process, then one per dead letter that names none."""
    from energy_platform.tools.replay import printable

    for item in items:
        click.echo(f"  {printable(item.key)}  ({printable(item.why)})")
    for u in unreplayable:
        click.echo(
            f"  dead letter {printable(u.message.message_id)}: cannot be replayed: "
            f"{printable(u.reason)}  (body: {printable(u.excerpt)})"
        )


def _settle_unreplayable(queues: EventQueues, unreplayable: list[Unreplayable], drop: bool) -> None:
    """Remove the dead letters that cannot be replayed if asked, else make them visible again."""
    from energy_platform.tools import replay as rp

    if not unreplayable:
        return
    messages = [u.message for u in unreplayable]
    if drop:
        click.echo(f"{rp.drop(queues, messages)} dead letters that cannot be replayed removed.")
    else:
        rp.release(queues, messages)
        click.echo(
            f"{len(messages)} dead letters cannot be replayed: kept on dead_letters "
            "(--drop-unreplayable removes them)."
        )


@main.command("which-run")
@click.argument("key")
def which_run(key: str) -> None:
    """Which run processed the raw object KEY (raw/...): its run id and its page in the Dagster
    UI (DAGSTER_WEBSERVER_URL), one line per version of the object in the ingested-files ledger,
    oldest first."""
    from energy_platform import contract as c
    from energy_platform.defs.alerts import run_url
    from energy_platform.resources import DynamoTables
    from energy_platform.tools.replay import printable

    entries = sorted(
        DynamoTables().query(c.INGESTED_FILES_TABLE, key), key=lambda e: str(e["processed_at"])
    )
    if not entries:
        raise click.ClickException(
            f"{printable(key)} is not in the ingested-files ledger: not processed (yet). "
            "`energy-platform replay --missing --dry-run` lists what waits."
        )
    for e in entries:
        click.echo(
            f"{e['run_id']}  {run_url(e['run_id'])}  "
            f"(etag {printable(e['etag'])}, processed {e['processed_at']})"
        )


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port of the API.")
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(min=1), help="Worker processes."
)
@click.option(
    "--allow-unauthenticated",
    is_flag=True,
    help="Without ENERGY_API_KEY, serve on a non-loopback --host anyway: open to anyone.",
)
def api(host: str, port: int, workers: int, allow_unauthenticated: bool) -> None:
    """Serve the query API over the DynamoDB tables (docs at /docs).

    ENERGY_API_KEY guards /v1. Without it the API listens on loopback only, unless
    --allow-unauthenticated says it may be open to anyone who reaches --host.
    """
    from energy_platform.api.auth import UnsafeExposure, configured_api_key, exposure
    from energy_platform.api.pagination import ensure_token_secret

    try:
        mode = exposure(host, configured_api_key(), allow_unauthenticated)
    except UnsafeExposure as err:
        raise click.ClickException(str(err)) from None
    _announce_api(host, port, mode, allow_unauthenticated)
    if ensure_token_secret(os.environ):  # the workers inherit it: one secret for all
        click.echo(
            "Page tokens are signed with a secret made at start: they do not survive a "
            "restart (set ENERGY_API_TOKEN_SECRET to keep them).",
            err=True,
        )

    import uvicorn

    uvicorn.run(
        "energy_platform.api.app:create_app", factory=True, host=host, port=port, workers=workers
    )


def _announce_api(host: str, port: int, mode: Exposure, allow_unauthenticated: bool) -> None:
    """Say on stderr where the API serves and who can read it."""
    from energy_platform.api.auth import OPEN_FLAG, Exposure

    click.echo(f"API on http://{host}:{port} (docs at /docs)", err=True)
    if mode == Exposure.KEYED:
        click.echo("/v1 requires the X-API-Key header (ENERGY_API_KEY).", err=True)
        if allow_unauthenticated:
            click.echo(f"{OPEN_FLAG} has no effect: ENERGY_API_KEY is set.", err=True)
    elif mode == Exposure.LOOPBACK:
        click.echo("No ENERGY_API_KEY: /v1 is open to this machine only (loopback).", err=True)
    else:
        click.echo(
            f"WARNING: no ENERGY_API_KEY and {OPEN_FLAG}: /v1 is open to anyone who can reach "
            f"{host}:{port}.",
            err=True,
        )


if __name__ == "__main__":  # pragma: no cover
    main()
