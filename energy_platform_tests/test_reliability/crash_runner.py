"""Run one job of the platform in this process, and hang at a chosen point so a test can SIGKILL
it there. Test-only: the hooks are patched in here, the product code has none.

    python -m energy_platform_tests.test_reliability.crash_runner daily_job --partition D \
        --hang-before-put silver/readings/ --ready-file /tmp/ready

The job runs against the Dagster instance of $DAGSTER_HOME and the platform of the environment
(AWS_ENDPOINT_URL, ENERGY_BUCKET, ENERGY_TABLE_PREFIX). Once at the hang point, the runner writes
its pid to --ready-file and sleeps until killed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("job")
    parser.add_argument("--partition")
    parser.add_argument("--run-config", default="{}", help="JSON")
    parser.add_argument(
        "--hang-before-put", help="hang before writing the first key with this prefix"
    )
    parser.add_argument(
        "--hang-at-ledger", action="store_true", help="hang instead of the ledger write"
    )
    parser.add_argument("--ready-file", required=True)
    args = parser.parse_args()

    from energy_platform.resources import ledger
    from energy_platform.resources.s3 import LakeStorage

    def hang() -> None:
        Path(args.ready_file).write_text(str(os.getpid()))
        while True:
            time.sleep(1)

    if args.hang_before_put:
        original_put = LakeStorage.put_bytes

        def put_bytes(self, key, body, content_type="application/octet-stream"):
            if key.startswith(args.hang_before_put):
                hang()
            return original_put(self, key, body, content_type)

        LakeStorage.put_bytes = put_bytes
    if args.hang_at_ledger:
        ledger.record = lambda *_a, **_k: hang()

    from dagster import DagsterInstance

    from energy_platform.definitions import defs

    result = defs.resolve_job_def(args.job).execute_in_process(
        run_config=json.loads(args.run_config),
        partition_key=args.partition,
        instance=DagsterInstance.get(),
        raise_on_error=False,
    )
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
