"""Latency from a file landing to its readings in DynamoDB and through the API, with the platform
running as `make dev` runs it.

Starts `energy-platform dev --port <free>` and `energy-platform api` in a temporary folder (its
own emulator, provisioning, `dg dev` with the sensors on), then through its emulator:

1. lands `files` JSON-lines files one by one, each one new 5-minute slot of `sites` sites; the
   next lands a random 0-5 s (one sensor loop; seeded) after every reading of the previous one
   is readable both in `{prefix}readings` (BatchGetItem) and through the API (GET
   /v1/sites/{site}/readings for every site, asked once DynamoDB has them all: landing -> API
   is landing -> DynamoDB plus the API's answers);
2. lands one such file per second for `load_seconds` (a steady load), every file timed to its
   readings in DynamoDB.

Latency = first successful read-back of all of a file's readings - end of its upload (polled
every 0.25 s). Afterwards the Dagster instance's run records give where the time of the
one-by-one files went: the sensor noticing the file, the run queue, starting the run's process,
and the run's work up to the readings being readable; each phase's runs are counted per job,
and every failed run is listed with its error. Once no run has been active for 20 s (the merges,
county totals and analytics the files led to have finished), stops everything with SIGINT to
the process group, as Ctrl-C does.

For a quick check, the environment overrides the sizes: `ENERGY_BENCH_LATENCY_FILES` (files
landed one by one) and `ENERGY_BENCH_LATENCY_LOAD_SECONDS` (length of the steady load), e.g.
`ENERGY_BENCH_LATENCY_FILES=3 ENERGY_BENCH_LATENCY_LOAD_SECONDS=30 python -m benchmarks --only
latency --quick` (`--quick` keeps benchmarks/results/latest.json as it is). The figures' names
carry the sizes, so a shortened run is never mistaken for a full one.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.common import Figure, load_average, progress, target_figure

BUCKET = "energy-platform"
TABLE = "energy_readings"
POLL_S = 0.25
SENSOR_LOOP_S = 5.0
"""Dagster's sensor daemon starts its ticks every 5 s."""
P50_TARGET_S = 5.0
P95_TARGET_S = 10.0
LOAD_P95_TARGET_S = 15.0


@dataclass
class Landed:
    key: str
    keys: list[dict[str, Any]]
    """The readings' DynamoDB keys."""
    landed: float = 0.0
    """time.time() at the end of the upload."""
    in_dynamodb: float | None = None
    in_api: float | None = None
    missing: list[dict[str, Any]] = field(default_factory=list)
    """The keys not yet seen in DynamoDB (the steady load's poller)."""

    def __post_init__(self) -> None:
        self.missing = list(self.keys)


@dataclass
class Platform:
    """`energy-platform dev` and the API, as a user starts them, in `project`."""

    project: Path
    ui_port: int
    api_port: int
    procs: list[subprocess.Popen] = field(default_factory=list)

    def start(self, env: dict[str, str]) -> None:
        self._spawn(["dev", "--port", str(self.ui_port)], "dev.log", env)
        self.wait(lambda: _http_ok(f"http://127.0.0.1:{self.ui_port}/server_info"), 300, "the UI")
        self._spawn(["api", "--port", str(self.api_port)], "api.log", env)
        self.wait(lambda: _http_ok(f"{self.api_url}/health"), 120, "the API")

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def _spawn(self, args: list[str], log: str, env: dict[str, str]) -> None:
        with (self.project / log).open("wb") as out:
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "energy_platform.tools.cli", *args],
                    cwd=self.project,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    # SIGINT as a terminal gives it: a benchmark started in the background by a
                    # shell without job control (`cmd &`, nohup) inherits SIGINT ignored, and so
                    # would `energy-platform dev`, dg and Dagster's processes: the stop below
                    # would then do nothing, and dg, its daemon, webserver and code server and
                    # the emulator would outlive the run, taking CPU from every later one.
                    preexec_fn=_default_sigint,
                )
            )

    def wait(self, predicate: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for p in self.procs:
                if p.poll() is not None:
                    raise RuntimeError(f"{p.args[3]} exited ({p.returncode}) before {what}")
            if predicate():
                return
            time.sleep(POLL_S)
        raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")

    def active_runs(self) -> int:
        """Runs queued or in progress, as the UI counts them (its GraphQL API)."""
        query = (
            "{ runsOrError(filter: {statuses: [QUEUED, NOT_STARTED, STARTING, STARTED, "
            "CANCELING]}) "
            "{ ... on Runs { count } } }"
        )
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.ui_port}/graphql",
            data=json.dumps({"query": query}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            return int(json.load(resp)["data"]["runsOrError"]["count"])

    def settle(self, quiet_s: float = 20.0, timeout: float = 300.0) -> None:
        """Wait until no run has been queued or in progress for `quiet_s` (longer than a tick
        of staged_partitions_sensor), so stopping interrupts no run: the runs the files led to
        (merges, county totals, analytics) all finish and count."""
        began = quiet_since = time.monotonic()
        deadline = began + timeout
        while time.monotonic() < deadline:
            if self.active_runs():
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= quiet_s:
                progress(f"latency: the last run ended {quiet_since - began:.0f} s after the load")
                return
            time.sleep(1.0)
        progress(f"latency: runs still active after {timeout:.0f} s; stopping anyway")

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGINT)
                try:
                    p.wait(timeout=90)
                except subprocess.TimeoutExpired:
                    progress(
                        f"latency: `energy-platform {p.args[3]}` did not stop in 90 s: killed; "
                        "its Dagster processes and emulator may outlive it (own sessions)"
                    )
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _http_ok(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=2).status == 200
    except OSError:
        return False


def _file(i: int, sites: int, base: datetime) -> tuple[str, bytes, Landed]:
    """Key, body and the readings of file i (slot base + 5 min * i)."""
    import pandas as pd

    from energy_platform.tools.simulate import (
        SimulationConfig,
        batch_key,
        encode_batch,
        generate_batch,
    )
    from energy_platform.transforms import parse_object, validate_records
    from energy_platform.transforms.serving import format_ts

    when = base + timedelta(minutes=5 * i)
    config = SimulationConfig(records=sites, sites=sites, fmt="jsonl", anomaly_rate=0.0, seed=3)
    ext, body = encode_batch(generate_batch(config, i, when), "jsonl")
    key = batch_key(when, i, ext)
    clean = validate_records(parse_object(key, body), key, 0, pd.Timestamp.now(tz="UTC")).clean
    ts = format_ts(clean["ts"])
    keys = [
        {"site_id": {"S": s}, "ts": {"S": t}} for s, t in zip(clean["site_id"], ts, strict=True)
    ]
    return key, body, Landed(key, keys)


def _in_dynamodb(ddb: Any, f: Landed) -> bool:
    for j in range(0, len(f.keys), 100):
        chunk = f.keys[j : j + 100]
        resp = ddb.batch_get_item(
            RequestItems={TABLE: {"Keys": chunk, "ProjectionExpression": "site_id"}}
        )
        if len(resp["Responses"].get(TABLE, [])) < len(chunk):
            return False
    return True


def _in_api(api_url: str, pool: ThreadPoolExecutor, f: Landed) -> bool:
    def one(k: dict[str, Any]) -> bool:
        site, ts = k["site_id"]["S"], k["ts"]["S"]
        url = f"{api_url}/v1/sites/{site}/readings?start={ts}&end={ts}"
        try:
            with urllib.request.urlopen(url, timeout=5) as resp:
                return len(json.load(resp)["items"]) == 1
        except OSError:
            return False

    return all(pool.map(one, f.keys))


def _one_by_one(
    platform: Platform, s3: Any, ddb: Any, files: int, sites: int, base: datetime
) -> list[Landed]:
    landed: list[Landed] = []
    pauses = random.Random(7)
    with ThreadPoolExecutor(8) as pool:
        for i in range(files):
            key, body, f = _file(i, sites, base)
            # A producer does not know the sensor's phase: landing right after the previous
            # file's readings showed up would lock every file to the same point of the 5 s tick.
            time.sleep(pauses.uniform(0, SENSOR_LOOP_S))
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            f.landed = time.time()

            def both(f: Landed = f) -> bool:
                # The API is asked once DynamoDB has every reading (it reads the same table):
                # asking it for every site four times a second would take the CPU the runs need.
                now = time.time()
                if f.in_dynamodb is None and _in_dynamodb(ddb, f):
                    f.in_dynamodb = now
                if f.in_dynamodb is not None and _in_api(platform.api_url, pool, f):
                    f.in_api = time.time()
                return f.in_api is not None

            platform.wait(both, 300, f"the readings of {key}")
            landed.append(f)
            progress(
                f"latency: file {i + 1}/{files}: DynamoDB {f.in_dynamodb - f.landed:.1f} s, "
                f"API {f.in_api - f.landed:.1f} s"
            )
    return landed


def _found(ddb: Any, keys: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """The (site_id, ts) of `keys` (at most 100) that DynamoDB has; a key left unprocessed
    counts as not found (asked again next time)."""
    resp = ddb.batch_get_item(
        RequestItems={
            TABLE: {
                "Keys": keys,
                "ProjectionExpression": "#s, #t",
                "ExpressionAttributeNames": {"#s": "site_id", "#t": "ts"},
            }
        }
    )
    return {(i["site_id"]["S"], i["ts"]["S"]) for i in resp["Responses"].get(TABLE, [])}


def _ident(k: dict[str, Any]) -> tuple[str, str]:
    return k["site_id"]["S"], k["ts"]["S"]


def _poll_once(ddb: Any, pending: list[Landed]) -> None:
    """Mark the pending files whose readings are all in DynamoDB, in few calls whatever their
    number: one BatchGetItem asks for one reading still missing of each of up to 100 files
    (a file none of whose asked reading is there is not complete: skipped), then each file that
    passed is asked for the readings it still misses (100 per call). A reading seen is not
    asked for again."""
    for f in pending:
        if not f.missing:  # no clean reading to wait for
            f.in_dynamodb = time.time()
    pending = [f for f in pending if f.missing]
    for j in range(0, len(pending), 100):
        group = pending[j : j + 100]
        now = time.time()
        probed = _found(ddb, [f.missing[0] for f in group])
        for f in group:
            if _ident(f.missing[0]) not in probed:
                continue
            still: list[dict[str, Any]] = []
            for m in range(0, len(f.missing), 100):
                chunk = f.missing[m : m + 100]
                found = _found(ddb, chunk)
                still += [k for k in chunk if _ident(k) not in found]
            f.missing = still
            if not still:
                f.in_dynamodb = now


def _steady_load(
    platform: Platform, s3: Any, ddb: Any, seconds: int, sites: int, base: datetime, first: int
) -> list[Landed]:
    """One file a second for `seconds`; each timed to its readings in DynamoDB.

    A poller thread asks DynamoDB every POLL_S about every pending file (`_poll_once`: a few
    calls per poll however many files wait); any error is reported and the poll goes on.
    Progress says every 10 s how many files are pending, so a stall is visible.
    """
    landed: list[Landed] = []
    lock = threading.Lock()
    done = threading.Event()
    errors = [0]
    slowest = [0.0]
    """The longest poll of all pending files so far (s): a file is timed to within it."""

    def poll() -> None:
        while not done.is_set():
            with lock:
                pending = [f for f in landed if f.in_dynamodb is None]
            began = time.monotonic()
            try:
                _poll_once(ddb, pending)
            except Exception as err:  # the emulator busy, or anything else: ask again
                errors[0] += 1
                progress(f"latency: polling failed ({err!r}); polling again")
            slowest[0] = max(slowest[0], time.monotonic() - began)
            time.sleep(POLL_S)

    def report(what: str) -> None:
        with lock:
            pending = [f for f in landed if f.in_dynamodb is None]
            total = len(landed)
        oldest = (
            f", oldest {time.time() - pending[0].landed:.0f} s ago "
            f"({len(pending[0].missing)}/{len(pending[0].keys)} readings missing)"
            if pending
            else ""
        )
        progress(
            f"latency: steady load, {what}: {total} files landed, {len(pending)} pending"
            f"{oldest}; slowest poll {slowest[0]:.2f} s; load average {load_average()}"
        )

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    start = time.monotonic()
    try:
        for n in range(seconds):
            key, body, f = _file(first + n, sites, base)
            time.sleep(max(0.0, start + n - time.monotonic()))
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
            f.landed = time.time()
            with lock:
                landed.append(f)
            if (n + 1) % 10 == 0:
                report(f"{n + 1}/{seconds} landed")
        last = [time.monotonic()]

        def all_in() -> bool:
            if not poller.is_alive():
                raise RuntimeError("the poller thread stopped")
            if time.monotonic() - last[0] >= 10:
                last[0] = time.monotonic()
                report("waiting")
            return all(f.in_dynamodb is not None for f in landed)

        try:
            platform.wait(all_in, 300, "the load's readings")
            report("all readable")
        except TimeoutError:
            for f in [f for f in landed if f.in_dynamodb is None][:10]:
                progress(
                    f"latency: still pending {f.key}: {len(f.missing)}/{len(f.keys)} readings "
                    f"missing, e.g. {f.missing[:2]}"
                )
            raise
    finally:
        done.set()
        poller.join()
    if errors[0]:
        progress(f"latency: {errors[0]} polls failed and were asked again")
    return landed


@dataclass
class RunTimes:
    job: str
    created: float
    starting: float | None
    started: float | None
    first_key: str
    failure: str | None = None
    """The failed run's first error (None: the run did not fail)."""


def _run_times(dagster_home: Path) -> list[RunTimes]:
    """Each run's creation, launch (STARTING) and process start (START), from the instance."""
    env = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    try:
        from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus

        instance = DagsterInstance.get()
        out = []
        for record in instance.get_run_records():
            run = record.dagster_run
            starting = instance.get_records_for_run(
                run.run_id, of_type=DagsterEventType.RUN_STARTING, limit=1
            ).records
            out.append(
                RunTimes(
                    run.job_name,
                    record.create_timestamp.timestamp(),
                    starting[0].timestamp if starting else None,
                    record.start_time,
                    run.tags.get("energy/first_key", ""),
                    _failure(instance, run.run_id)
                    if run.status == DagsterRunStatus.FAILURE
                    else None,
                )
            )
        return out
    finally:
        if env is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = env


def _failure(instance: Any, run_id: str) -> str:
    """A failed run's first step error, or its run failure message."""
    from dagster import DagsterEventType

    events = instance.get_records_for_run(
        run_id, of_type={DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE}
    ).records
    for e in events:
        event = e.event_log_entry.dagster_event
        if event.event_type == DagsterEventType.STEP_FAILURE:
            return f"{event.step_key}: {event.step_failure_data.error.message.strip()}"
    return events[0].event_log_entry.message if events else "no failure event"


def _breakdown(files: list[Landed], runs: list[RunTimes]) -> list[tuple[str, float]]:
    """Median seconds of each stage for the files landed one by one (a run each)."""
    by_key = {r.first_key: r for r in runs if r.job == "ingest_job"}
    stages: dict[str, list[float]] = {
        "landing -> run requested (sensor)": [],
        "run requested -> launched (queue)": [],
        "launched -> run process started": [],
        "run process started -> readings in DynamoDB": [],
    }
    for f in files:
        r = by_key.get(f.key)
        if r is None or r.starting is None or r.started is None or f.in_dynamodb is None:
            continue
        marks = [f.landed, r.created, r.starting, r.started, f.in_dynamodb]
        for name, a, b in zip(stages, marks, marks[1:], strict=False):
            stages[name].append(b - a)
    return [(name, float(np.median(v))) for name, v in stages.items() if v]


def _runs_by_job(bench: str, runs: list[RunTimes]) -> list[Figure]:
    return [
        Figure(bench, f"{job} runs", sum(r.job == job for r in runs))
        for job in sorted({r.job for r in runs})
    ]


def _percentiles(
    bench: str, label: str, seconds: list[float], p50: float | None, p95: float | None
) -> list[Figure]:
    s = np.array(seconds)
    med, high = round(float(np.percentile(s, 50)), 1), round(float(np.percentile(s, 95)), 1)
    return [
        target_figure(bench, f"p50 {label}", med, "s", "<=", p50)
        if p50
        else Figure(bench, f"p50 {label}", med, "s"),
        target_figure(bench, f"p95 {label}", high, "s", "<=", p95)
        if p95
        else Figure(bench, f"p95 {label}", high, "s"),
        Figure(bench, f"max {label}", round(float(s.max()), 1), "s"),
    ]


def run(files: int = 20, sites: int = 100, load_seconds: int = 120) -> list[Figure]:
    import boto3

    files = int(os.environ.get("ENERGY_BENCH_LATENCY_FILES", files))
    load_seconds = int(os.environ.get("ENERGY_BENCH_LATENCY_LOAD_SECONDS", load_seconds))

    from energy_platform.local.emulator import LOCAL_CREDENTIALS, free_port

    # dg dev may still be flushing its history as it exits: cleanup errors do not count
    with tempfile.TemporaryDirectory(prefix="latency-bench-", ignore_cleanup_errors=True) as tmp:
        project = Path(tmp)
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AWS_ENDPOINT_URL", "ENERGY_", "DAGSTER_HOME"))
        }
        platform = Platform(project, free_port(), free_port())
        progress(f"latency: starting `energy-platform dev` and `energy-platform api` in {project}")
        try:
            platform.start(env)
            endpoint = (project / ".emulator" / "endpoint").read_text().strip()
            session = boto3.session.Session(
                region_name="us-east-1",
                aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            )
            s3 = session.client("s3", endpoint_url=endpoint)
            ddb = session.client("dynamodb", endpoint_url=endpoint)
            base = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=3)
            single = _one_by_one(platform, s3, ddb, files, sites, base)
            load_started = time.time()
            load = _steady_load(platform, s3, ddb, load_seconds, sites, base, files)
            progress("latency: waiting for the runs the files started to finish")
            platform.settle()
        finally:
            platform.stop()
        runs = _run_times(project / ".dagster_home")

    in_load = [r for r in runs if r.created >= load_started]
    in_single = [r for r in runs if r.created < load_started]
    failed = [f"{r.job}: {r.failure}" for r in runs if r.failure is not None]
    for failure in failed:
        progress(f"latency: failed run: {failure}")
    one = f"latency[make dev, {files} files one by one]"
    steady = f"latency[make dev, 1 file/s for {load_seconds} s]"
    note = f"{sites} readings a file"
    return [
        Figure(one, "files", len(single), note=note),
        *_percentiles(
            one,
            "landing -> DynamoDB",
            [f.in_dynamodb - f.landed for f in single],
            P50_TARGET_S,
            P95_TARGET_S,
        ),
        *_percentiles(
            one, "landing -> API", [f.in_api - f.landed for f in single], P50_TARGET_S, P95_TARGET_S
        ),
        *[
            Figure(one, f"median {stage}", round(s, 2), "s")
            for stage, s in _breakdown(single, runs)
        ],
        *_runs_by_job(one, in_single),
        Figure(steady, "files", len(load), note=note),
        *_percentiles(
            steady,
            "landing -> DynamoDB",
            [f.in_dynamodb - f.landed for f in load],
            None,
            LOAD_P95_TARGET_S,
        ),
        *_runs_by_job(steady, in_load),
        Figure(
            steady,
            "failed runs (whole benchmark)",
            len(failed),
            note="; ".join(sorted(set(failed)))[:300],
        ),
    ]
