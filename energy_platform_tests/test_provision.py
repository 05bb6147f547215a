"""`provision` creates everything the contract names, and running it twice changes nothing."""

from __future__ import annotations

import boto3

from energy_platform.contract import TABLE_KEYS, prefixed
from energy_platform.settings import Settings
from energy_platform.tools.provision import provision


def _inventory(settings: Settings) -> dict[str, object]:
    region = settings.region
    ddb = boto3.client("dynamodb", region_name=region)
    sqs = boto3.client("sqs", region_name=region)
    sns = boto3.client("sns", region_name=region)
    s3 = boto3.client("s3", region_name=region)
    names = (
        t for page in ddb.get_paginator("list_tables").paginate() for t in page["TableNames"]
    )  # a page holds 100 names: the session's emulator has more tables than that
    tables = {
        t: ddb.describe_table(TableName=t)["Table"]
        for t in names
        if t.startswith(settings.table_prefix)
    }
    return {
        "buckets": sorted(
            b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"] == settings.bucket
        ),
        "tables": {
            n: (t["KeySchema"], t["BillingModeSummary"]["BillingMode"]) for n, t in tables.items()
        },
        "queues": sorted(
            u for u in sqs.list_queues(QueueNamePrefix=settings.table_prefix).get("QueueUrls", [])
        ),
        "topics": sorted(
            t["TopicArn"]
            for t in sns.list_topics()["Topics"]
            if settings.table_prefix in t["TopicArn"]
        ),
        "notifications": s3.get_bucket_notification_configuration(Bucket=settings.bucket).get(
            "QueueConfigurations"
        ),
    }


def test_provision_creates_contract_resources(platform_env: Settings) -> None:
    inv = _inventory(platform_env)
    assert inv["buckets"] == [platform_env.bucket]
    for table in ("readings", "anomalies", "county_5min", "site_daily"):
        name = prefixed(platform_env.table_prefix, table)
        key_schema, billing = inv["tables"][name]
        pk, sk = TABLE_KEYS[table]
        assert {k["AttributeName"]: k["KeyType"] for k in key_schema} == {pk: "HASH", sk: "RANGE"}
        assert billing == "PAY_PER_REQUEST"
    assert any(q.endswith(f"{platform_env.table_prefix}alerts") for q in inv["topics"])
    assert {q.rsplit("/", 1)[-1] for q in inv["queues"]} == {
        f"{platform_env.table_prefix}raw_events",
        f"{platform_env.table_prefix}dead_letters",
    }
    (config,) = inv["notifications"]
    assert config["Filter"]["Key"]["FilterRules"] == [
        {"Name": "Prefix", "Value": "raw/"}
    ] or config["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "raw/"}]


def test_provision_twice_is_idempotent(platform_env: Settings) -> None:
    before = _inventory(platform_env)
    report = provision(platform_env)
    assert report.created == []
    assert _inventory(platform_env) == before
