"""Every benchmark of the platform, one table of figures (`make bench`).

    .venv/bin/python -m benchmarks [--only core,memory,...] [--quick] [--repeat N]

Prints one table (benchmark, metric, value, target, whether it holds) and writes it with the
machine it came from (cores, CPU, memory, Python, package versions, load average before and
after: the machine may be shared) to benchmarks/results/latest.json and a timestamped copy.
Progress goes to stderr. `--quick` scales every size down (a smoke run, not figures to quote).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from benchmarks.common import Figure, load_average, machine, progress

RESULTS = Path(__file__).resolve().parent / "results"


def _core(quick: bool, repeat: int) -> list[Figure]:
    from benchmarks import core

    return core.run(
        records=100_000 if quick else 1_000_000,
        repeat=1 if quick else repeat,
        naive_records=20_000 if quick else 100_000,
    )


def _memory(quick: bool, repeat: int) -> list[Figure]:
    from benchmarks import memory

    return memory.run(megabytes=100 if quick else 1024)


def _dynamodb(quick: bool, repeat: int) -> list[Figure]:
    from benchmarks import dynamodb

    return dynamodb.run(items=2_000 if quick else 10_000)


def _backlog(quick: bool, repeat: int) -> list[Figure]:
    from benchmarks import backlog

    return backlog.run(files=100 if quick else 2000, records=500)


def _latency(quick: bool, repeat: int) -> list[Figure]:
    from benchmarks import latency

    return latency.run(files=3, load_seconds=10) if quick else latency.run()


def _report(quick: bool, repeat: int) -> list[Figure]:
    from benchmarks import report_bench

    n = 1_000_000 if quick else 10_000_000
    with tempfile.TemporaryDirectory(prefix="report-bench-") as tmp:
        f = report_bench.run(n, Path(tmp))
    bench = f"report[{f['readings']:,} readings]"
    return [
        Figure(
            bench, "report data s", round(f["report_data_s"], 2), "s", note="DuckDB over Parquet"
        ),
        Figure(bench, "render s", round(f["render_s"], 2), "s", note=f"{f['html_mb']:.1f} MB HTML"),
        Figure(bench, "report s", round(f["report_s"], 2), "s"),
    ]


def _api(quick: bool, repeat: int) -> list[Figure]:
    from benchmarks import api_latency

    f = api_latency.run(requests=300 if quick else 2000, concurrency=20, workers=1)
    bench = f"api[{f['requests']} requests, concurrency {f['concurrency']}]"
    return [
        Figure(
            bench, "requests/s", f["requests_per_s"], "requests/s", note=f"{f['errors']} errors"
        ),
        Figure(bench, "p50", f["p50_ms"], "ms"),
        Figure(bench, "p95", f["p95_ms"], "ms"),
        Figure(bench, "p99", f["p99_ms"], "ms"),
    ]


def _analytics(quick: bool, repeat: int) -> list[Figure]:
    from benchmarks import analytics, analytics_month

    if quick:
        return analytics.run(sites=100, days=10, per_kind=5) + analytics_month.run(
            sites=200, days=3, per_kind=2
        )
    return analytics.run(sites=500, days=30, per_kind=25) + analytics_month.run()


def _scale(quick: bool, repeat: int) -> list[Figure]:
    from benchmarks import scale

    return scale.run(fleets=(100, 1_000), shards=8) if quick else scale.run()


BENCHMARKS: dict[str, Callable[[bool, int], list[Figure]]] = {
    "core": _core,
    "memory": _memory,
    "dynamodb": _dynamodb,
    "backlog": _backlog,
    "latency": _latency,
    "report": _report,
    "api": _api,
    "analytics": _analytics,
    "scale": _scale,
}


def _shown(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(figures: list[Figure]) -> str:
    rows = [("benchmark", "metric", "value", "unit", "target", "holds", "note")]
    for f in figures:
        holds = "" if f.holds is None else ("yes" if f.holds else "NO")
        rows.append((f.benchmark, f.metric, _shown(f.value), f.unit, f.target, holds, f.note))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for n, r in enumerate(rows):
        cells = [r[i].rjust(widths[i]) if i == 2 else r[i].ljust(widths[i]) for i in range(6)]
        lines.append("  ".join(cells) + "  " + r[6])
        if n == 0:
            lines.append("  ".join("-" * w for w in widths) + "  " + "-" * 4)
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only", default="", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}"
    )
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--repeat", type=int, default=3, help="runs of the core chain (best)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args()
    names = [n.strip() for n in args.only.split(",") if n.strip()] or list(BENCHMARKS)
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHMARKS)}")

    info = machine()
    progress(
        f"machine: {info['cores']} cores ({info['cpu_model']}), {info['memory_gb']} GB, "
        f"load average {info['load_average_at_start']}"
    )
    figures: list[Figure] = []
    errors: dict[str, str] = {}
    started = time.time()
    suites: dict[str, dict] = {}
    for name in names:
        began = time.perf_counter()
        load = load_average()
        try:
            found = BENCHMARKS[name](args.quick, args.repeat)
        except Exception as e:  # one failing benchmark must not lose the others' figures
            traceback.print_exc()
            errors[name] = f"{type(e).__name__}: {e}"
            found = [Figure(name, "FAILED", str(e)[:80], holds=False)]
        figures.extend(found)
        seconds = time.perf_counter() - began
        suites[name] = {
            "ran_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": round(seconds, 1),
            "load_average_before": load,
            "load_average_after": load_average(),
            "figures": [f.as_dict() for f in found],
        }
        progress(f"{name}: done in {seconds:.0f} s")
    info["load_average_at_end"] = load_average()

    print(table(figures))
    print(
        f"\nmachine: {info['cores']} cores, {info['cpu_model']}, {info['memory_gb']} GB, "
        f"Python {info['python']}; load average {info['load_average_at_start']} at start, "
        f"{info['load_average_at_end']} at end"
    )
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(started))
    doc = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "quick": args.quick,
        "machine": info,
        "suites": suites,
        "errors": errors,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"{stamp}{'-quick' if args.quick else ''}.json"
    (args.out / name).write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
    progress(f"wrote {args.out / name}")
    if not args.quick:
        _update_latest(args.out / "latest.json", doc)


def _update_latest(path: Path, doc: dict) -> None:
    """latest.json keeps the newest full-size figures of every suite: a run of a subset
    replaces only its suites (each suite keeps the machine it ran on)."""
    latest = json.loads(path.read_text()) if path.exists() else {"suites": {}}
    for name, suite in doc["suites"].items():
        latest["suites"][name] = {**suite, "machine": doc["machine"]}
    latest["suites"] = {k: latest["suites"][k] for k in BENCHMARKS if k in latest["suites"]}
    latest["updated"] = doc["started"]
    path.write_text(json.dumps(latest, indent=2, ensure_ascii=False) + "\n")
    progress(f"updated {path}")


if __name__ == "__main__":
    main()
