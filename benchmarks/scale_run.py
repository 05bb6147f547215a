"""One Dagster run in a process of its own, as a run worker executes it (for `benchmarks.scale`).

    python -m benchmarks.scale_run JOB --out FILE [--partition KEY] [--run-config JSON]
        [--tags JSON] [--count-dynamodb-only]

Runs JOB against the instance in DAGSTER_HOME and writes {"success", "dynamodb_items",
"peak_rss_mib"} to FILE (peak RSS: this process's VmHWM, which a child's wait4 figure is not:
it starts from its parent's). With --count-dynamodb-only, DynamoDB writes are counted as items, not sent: a fleet's
first day is millions of items, which the emulator would take hours to take in.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job")
    parser.add_argument("--out", required=True)
    parser.add_argument("--partition")
    parser.add_argument("--run-config", default="{}")
    parser.add_argument("--tags", default="{}")
    parser.add_argument("--count-dynamodb-only", action="store_true")
    args = parser.parse_args()

    from dagster import DagsterInstance

    from benchmarks.common import peak_rss_mb
    from energy_platform.resources.dynamodb import DynamoTables
    from energy_platform_tests.harness import platform_defs

    items = {"n": 0}
    send_put, send_delete = DynamoTables.put_frame, DynamoTables.delete_frame

    def counted(send):
        def write(self, table, frame):
            items["n"] += len(frame)
            return -(-len(frame) // 25) if args.count_dynamodb_only else send(self, table, frame)

        return write

    DynamoTables.put_frame = counted(send_put)
    DynamoTables.delete_frame = counted(send_delete)

    job = platform_defs().resolve_job_def(args.job)
    with DagsterInstance.get() as instance:
        result = job.execute_in_process(
            partition_key=args.partition,
            run_config=json.loads(args.run_config),
            tags=json.loads(args.tags),
            instance=instance,
            raise_on_error=False,
        )
    Path(args.out).write_text(
        json.dumps(
            {"success": result.success, "dynamodb_items": items["n"], "peak_rss_mib": peak_rss_mb()}
        )
    )


if __name__ == "__main__":
    main()
