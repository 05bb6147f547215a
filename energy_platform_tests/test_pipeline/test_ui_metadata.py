"""What the Dagster UI shows of a run through the pipeline: each table's row count, columns and
location, and the way back from a raw file's key to the run that processed it."""

from __future__ import annotations

import pandas as pd
import pytest
from click.testing import CliRunner
from dagster import AssetKey, DagsterInstance, MetadataValue, RunsFilter, instance_for_test

from energy_platform import contract as c
from energy_platform import schemas
from energy_platform.defs.assets import keys
from energy_platform.defs.metadata import COLUMN_SCHEMA, OBJECT_LINK, ROW_COUNT, URI
from energy_platform.resources import datasets
from energy_platform.settings import WEBSERVER_URL_ENV, Settings
from energy_platform.tools.cli import main as cli
from energy_platform.transforms.shards import site_shards
from energy_platform_tests.harness import drain
from energy_platform_tests.lake_view import LakeView
from energy_platform_tests.test_reliability.support import day, jsonl, readings

pytestmark = pytest.mark.slow

RAW_KEY = "raw/ui/batch.jsonl"


def _metadata(instance: DagsterInstance, key: AssetKey) -> dict[str, MetadataValue]:
    (record,) = instance.fetch_materializations(key, limit=10).records
    return record.asset_materialization.metadata


def test_tables_carry_row_count_columns_and_location_and_a_file_leads_to_its_run(
    platform_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(WEBSERVER_URL_ENV, "http://ui.example:3000")
    lake = LakeView(platform_env)
    d1 = day(1)
    date = d1.strftime("%Y-%m-%d")
    good = readings(d1, ["s1"], 6)  # one site: one shard run
    (shard,) = site_shards(pd.Series(["s1"]), platform_env.site_shards)
    lake.put(RAW_KEY, jsonl([*good, {**good[0], "timestamp": "not a time"}]))
    with instance_for_test() as instance:
        assert drain(instance).failed_runs == 0
        meta = {k: _metadata(instance, k) for k in (*keys.SILVER, *keys.GOLD)}
        meta[keys.STAGED_READINGS] = _metadata(instance, keys.STAGED_READINGS)
        meta[keys.QUARANTINED_RECORDS] = _metadata(instance, keys.QUARANTINED_RECORDS)
        (run,) = instance.get_runs(RunsFilter(job_name="ingest_job"))

    expected = {  # key -> (schema, rows, where)
        keys.STAGED_READINGS: (schemas.STAGED_READINGS, len(good), c.STAGING_READINGS_PREFIX),
        keys.QUARANTINED_RECORDS: (schemas.QUARANTINE, 1, c.QUARANTINE_PREFIX),
    }
    for key, dataset in zip(
        (*keys.SILVER, *keys.GOLD),
        (
            datasets.READINGS,
            datasets.ANOMALIES,
            datasets.SITE_DAILY,
            datasets.DEVICE_DAILY,
            datasets.COUNTY_5MIN_PARTIALS,
            datasets.COUNTY_5MIN,
        ),
        strict=True,
    ):
        where = dataset.key(date, None if dataset is datasets.COUNTY_5MIN else shard)
        rows = len(lake.frame(where)) if lake.keys(where) else 0
        expected[key] = (dataset.schema, rows, where)
    assert expected[keys.CLEANED_READINGS][1] == len(good)

    endpoint, bucket = platform_env.endpoint_url, platform_env.bucket
    for key, (schema, rows, where) in expected.items():
        m = meta[key]
        assert m[ROW_COUNT] == MetadataValue.int(rows), key
        assert [col.name for col in m[COLUMN_SCHEMA].value.columns] == schema.names, key
        assert m[URI].value == f"s3://{bucket}/{where}", key
        assert m[OBJECT_LINK].value.startswith(f"{endpoint}/{bucket}"), key

    assert (run.tags["energy/first_key"], run.tags["energy/files"]) == (RAW_KEY, "1")
    found = CliRunner().invoke(cli, ["which-run", RAW_KEY], catch_exceptions=False)
    assert found.exit_code == 0, found.output
    assert f"{run.run_id}  http://ui.example:3000/runs/{run.run_id}" in found.output
    missing = CliRunner().invoke(cli, ["which-run", "raw/ui/never.jsonl"])
    assert missing.exit_code == 1 and "not in the ingested-files ledger" in missing.output
