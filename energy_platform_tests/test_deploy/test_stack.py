"""The stack deploys on the emulator and creates what `energy-platform provision` creates, and
the pipeline runs end to end against the resources the stack created."""

from __future__ import annotations

import gzip
import io
import json
import uuid
from typing import Any
from urllib.parse import unquote_plus

import pandas as pd
import pyarrow.parquet as pq
import pytest
from botocore.exceptions import ClientError
from dagster import instance_for_test

from energy_platform.contract import (
    ANOMALIES_BY_DATE_INDEX,
    RAW_EVENTS_QUEUE,
    TABLE_KEYS,
    partition_object,
    prefixed,
)
from energy_platform.resources.clients import aws_client
from energy_platform.settings import Settings, get_settings
from energy_platform.tools.provision import provision
from energy_platform.transforms.shards import site_shards
from energy_platform_tests.harness import drain
from energy_platform_tests.test_deploy.stack import apply_bucket_policy, deploy_stack
from energy_platform_tests.test_deploy.template import (
    load_template,
    policy_document,
    render,
)

REGION = "us-east-1"


def _names() -> tuple[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return f"energy-stack-{suffix}", f"s{suffix}_"


def _inventory(bucket: str, prefix: str) -> dict[str, Any]:
    """The platform's resources under `prefix`, with every name's prefix taken off."""
    ddb = aws_client("dynamodb", REGION)
    sqs = aws_client("sqs", REGION)
    sns = aws_client("sns", REGION)
    s3 = aws_client("s3", REGION)
    tables = {}
    for name in (
        n for page in ddb.get_paginator("list_tables").paginate() for n in page["TableNames"]
    ):
        if not name.startswith(prefix):
            continue
        table = ddb.describe_table(TableName=name)["Table"]
        tables[name.removeprefix(prefix)] = {
            "keys": table["KeySchema"],
            "billing": table["BillingModeSummary"]["BillingMode"],
            "indexes": sorted(
                (i["IndexName"], json.dumps(i["KeySchema"]), i["Projection"]["ProjectionType"])
                for i in table.get("GlobalSecondaryIndexes", [])
            ),
        }
    queues = {}
    for url in sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []):
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        queues[url.rsplit("/", 1)[-1].removeprefix(prefix)] = {
            "visibility": attrs["VisibilityTimeout"],
            "retention": attrs["MessageRetentionPeriod"],
            "sends_to_raw_events": "Policy" in attrs
            and f"arn:aws:s3:::{bucket}" in attrs["Policy"],
        }
    topics = [
        arn.rsplit(":", 1)[-1].removeprefix(prefix)
        for page in sns.get_paginator("list_topics").paginate()
        for arn in (t["TopicArn"] for t in page["Topics"])
        if arn.rsplit(":", 1)[-1].startswith(prefix)
    ]
    notifications = [
        {
            "queue": c["QueueArn"].rsplit(":", 1)[-1].removeprefix(prefix),
            "events": c["Events"],
            "filter": [(r["Name"].lower(), r["Value"]) for r in c["Filter"]["Key"]["FilterRules"]],
        }
        for c in s3.get_bucket_notification_configuration(Bucket=bucket).get(
            "QueueConfigurations", []
        )
    ]
    public_access = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    return {
        "tables": tables,
        "queues": queues,
        "topics": topics,
        "notifications": notifications,
        "public_access_blocked": all(public_access.values()),
    }


@pytest.fixture(scope="module")
def stack(emulator: str) -> dict[str, str]:
    bucket, prefix = _names()
    return deploy_stack(bucket, prefix, region=REGION)


def test_stack_outputs_name_every_resource(stack: dict[str, str]) -> None:
    prefix = stack["TablePrefix"]
    for table in TABLE_KEYS:
        output = "".join(part.capitalize() for part in table.split("_"))
        assert stack[f"{output}TableName"] == prefixed(prefix, table)
        assert stack[f"{output}TableArn"].endswith(f":table/{prefixed(prefix, table)}")
    assert stack["AlertsTopicArn"].endswith(f":{prefix}alerts")
    assert stack["RawEventsQueueArn"].endswith(f":{prefix}raw_events")
    assert stack["DeadLettersQueueArn"].endswith(f":{prefix}dead_letters")
    assert stack["BucketArn"] == f"arn:aws:s3:::{stack['BucketName']}"
    for role in ("PipelineRunRoleArn", "DagsterServicesRoleArn", "ApiTaskRoleArn"):
        assert ":role/" in stack[role]


def test_stack_and_provision_create_the_same_resources(
    stack: dict[str, str], emulator: str
) -> None:
    bucket, prefix = _names()
    provision(
        Settings(
            region=REGION,
            bucket=bucket,
            table_prefix=prefix,
            endpoint_url=emulator,
            out_of_range_kwh=1000.0,
            freshness_minutes=15.0,
        )
    )
    from_provision = _inventory(bucket, prefix)
    from_stack = _inventory(stack["BucketName"], stack["TablePrefix"])
    assert from_stack == from_provision
    assert set(from_stack["tables"]) == set(TABLE_KEYS)
    assert from_stack["topics"] == ["alerts"]
    assert from_stack["notifications"] == [
        {"queue": "raw_events", "events": ["s3:ObjectCreated:*"], "filter": [("prefix", "raw/")]}
    ]


def test_stack_sends_dead_raw_events_to_dead_letters(stack: dict[str, str]) -> None:
    sqs = aws_client("sqs", REGION)
    url = sqs.get_queue_url(QueueName=stack["RawEventsQueueName"])["QueueUrl"]
    redrive = json.loads(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"][
            "RedrivePolicy"
        ]
    )
    assert redrive["deadLetterTargetArn"] == stack["DeadLettersQueueArn"]
    assert int(redrive["maxReceiveCount"]) == 5


def test_upload_under_raw_reaches_the_stacks_raw_events_queue(stack: dict[str, str]) -> None:
    s3 = aws_client("s3", REGION)
    sqs = aws_client("sqs", REGION)
    bucket = stack["BucketName"]
    s3.put_object(Bucket=bucket, Key="silver/ignored.json", Body=b"[]")
    s3.put_object(Bucket=bucket, Key="raw/2024/01/02/site-1.json", Body=b"[]")
    url = sqs.get_queue_url(QueueName=stack["RawEventsQueueName"])["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    )
    # Event keys are URL-encoded (moto even encodes "/"), as on AWS: decode before use.
    keys = [
        unquote_plus(record["s3"]["object"]["key"])
        for message in messages
        for record in json.loads(message["Body"]).get("Records", [])
    ]
    assert keys == ["raw/2024/01/02/site-1.json"]
    assert stack["RawEventsQueueName"] == prefixed(stack["TablePrefix"], RAW_EVENTS_QUEUE)


def test_bucket_refuses_a_request_without_tls(emulator: str) -> None:
    """The emulator answers plain HTTP and honors bucket policies: with the template's policy
    on, it refuses a write and a read, as AWS refuses any request without TLS."""
    bucket, prefix = _names()
    outputs = deploy_stack(bucket, prefix, region=REGION)
    s3 = aws_client("s3", REGION)
    s3.put_object(Bucket=bucket, Key="silver/before.json", Body=b"[]")
    apply_bucket_policy(outputs, REGION)
    for call in (
        lambda: s3.put_object(Bucket=bucket, Key="silver/after.json", Body=b"[]"),
        lambda: s3.get_object(Bucket=bucket, Key="silver/before.json"),
    ):
        with pytest.raises(ClientError) as refused:
            call()
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_what_moto_creates_from_the_template_alone(emulator: str) -> None:
    """Without filling moto's gaps: tables, GSI, queues, topic, encryption and the role."""
    bucket, prefix = _names()
    outputs = deploy_stack(bucket, prefix, region=REGION, fill_emulator_gaps=False)
    inventory = _inventory_without_bucket_config(prefix)
    assert set(inventory["tables"]) == set(TABLE_KEYS)
    assert inventory["tables"]["anomalies"]["indexes"][0][0] == "by_date"
    assert set(inventory["queues"]) == {"raw_events", "dead_letters"}
    s3 = aws_client("s3", REGION)
    (rule,) = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"

    iam = aws_client("iam", REGION)
    values = {
        "BucketName": bucket,
        "TablePrefix": prefix,
        "AWS::Partition": "aws",
        "AWS::Region": REGION,
        "AWS::AccountId": outputs["RawEventsQueueArn"].split(":")[4],
    }
    template = load_template()
    roles = {
        "PipelinePolicy": outputs["PipelineRunRoleArn"],
        "SensorsPolicy": outputs["DagsterServicesRoleArn"],
        "ApiPolicy": outputs["ApiTaskRoleArn"],
    }
    for policy_name, role_arn in roles.items():
        role_name = role_arn.rsplit("/", 1)[-1]
        (trust,) = iam.get_role(RoleName=role_name)["Role"]["AssumeRolePolicyDocument"]["Statement"]
        assert trust["Principal"] == {"Service": "ecs-tasks.amazonaws.com"}
        (attached,) = iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]
        policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
        version = iam.get_policy_version(
            PolicyArn=attached["PolicyArn"], VersionId=policy["DefaultVersionId"]
        )["PolicyVersion"]["Document"]
        document = json.loads(version) if isinstance(version, str) else version
        assert document == render(policy_document(policy_name, template), values)


def _inventory_without_bucket_config(prefix: str) -> dict[str, Any]:
    ddb = aws_client("dynamodb", REGION)
    sqs = aws_client("sqs", REGION)
    tables = {
        name.removeprefix(prefix): {
            "indexes": sorted(
                (i["IndexName"],)
                for i in ddb.describe_table(TableName=name)["Table"].get(
                    "GlobalSecondaryIndexes", []
                )
            )
        }
        for name in (
            n for page in ddb.get_paginator("list_tables").paginate() for n in page["TableNames"]
        )
        if name.startswith(prefix)
    }
    queues = {
        url.rsplit("/", 1)[-1].removeprefix(prefix)
        for url in sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", [])
    }
    return {"tables": tables, "queues": queues}


# --- the pipeline end to end on the stack's resources ------------------------------------------

E2E_DAY, E2E_LATE_DAY = "2024-06-01", "2024-05-31"
E2E_SITES = {"site-a": "Doña Ana", "site-b": "Prince George's", "site-c": "King"}
E2E_SHARDS = sorted(set(site_shards(pd.Series(list(E2E_SITES)), get_settings().site_shards)))


def _e2e_readings(day: str, hour: int, per_site: int) -> list[dict[str, Any]]:
    return [
        {
            "site_id": site,
            "timestamp": f"{day}T{hour:02d}:{5 * k:02d}:00Z",
            "energy_generated_kwh": round(2.0 + 0.1 * i + 0.01 * k, 3),
            "energy_consumed_kwh": round(1.0 + 0.05 * k, 3),
            "county": county,
        }
        for i, (site, county) in enumerate(E2E_SITES.items())
        for k in range(per_site)
    ]


def _scan(table: str) -> list[dict[str, Any]]:
    pages = aws_client("dynamodb", REGION).get_paginator("scan").paginate(TableName=table)
    return [
        {name: next(iter(value.values())) for name, value in item.items()}
        for page in pages
        for item in page["Items"]
    ]


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def test_pipeline_runs_end_to_end_on_the_stacks_resources(
    emulator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fresh stack; the platform pointed at its bucket and prefix (no provision); files land
    under the stack's raw/, the real sensors and runs drain them into all four tables, silver,
    gold and quarantine."""
    bucket, prefix = _names()
    outputs = deploy_stack(bucket, prefix, region=REGION)
    monkeypatch.setenv("ENERGY_BUCKET", outputs["BucketName"])
    monkeypatch.setenv("ENERGY_TABLE_PREFIX", outputs["TablePrefix"])
    monkeypatch.delenv("ENERGY_OUT_OF_RANGE_KWH", raising=False)
    s3 = aws_client("s3", REGION)

    day = _e2e_readings(E2E_DAY, 10, 12)
    day[0]["energy_generated_kwh"] = -1.0  # negative_value
    day[13]["energy_consumed_kwh"] = 1500.0  # out_of_range
    day[26]["anomaly_score"] = 0.9  # device_flagged
    invalid = {"site_id": "site-a", "timestamp": f"{E2E_DAY}T11:00:00Z"}  # no energy values
    jsonl = "".join(json.dumps(r) + "\n" for r in [*day, invalid]).encode()
    late = _e2e_readings(E2E_LATE_DAY, 9, 4)
    files = {
        "raw/stack-e2e/day.jsonl": jsonl,
        "raw/stack-e2e/late.json.gz": gzip.compress(json.dumps(late).encode()),
        "raw/stack-e2e/broken.json": b"{not json",
    }
    for key, body in files.items():
        s3.put_object(Bucket=bucket, Key=key, Body=body)

    with instance_for_test() as instance:
        stats = drain(instance)
    assert stats.failed_runs == 0
    assert stats.failed_checks == []
    assert stats.days_merged == [E2E_LATE_DAY, E2E_DAY]

    # --- the four serving tables (named by the stack's outputs)
    valid = {(r["site_id"], r["timestamp"]) for r in day + late}
    readings = _scan(outputs["ReadingsTableName"])
    assert {(i["site_id"], i["ts"]) for i in readings} == valid
    assert {i["county"] for i in readings} == set(E2E_SITES.values())
    anomalies = _scan(outputs["AnomaliesTableName"])
    found = {(i["site_id"], i["ts"], i["anomaly_type"], i["date"]) for i in anomalies}
    hits = ((day[0], "negative_value"), (day[13], "out_of_range"), (day[26], "device_flagged"))
    for record, kind in hits:
        assert (record["site_id"], record["timestamp"], kind, E2E_DAY) in found
    by_date = aws_client("dynamodb", REGION).query(
        TableName=outputs["AnomaliesTableName"],
        IndexName=ANOMALIES_BY_DATE_INDEX,
        KeyConditionExpression="#d = :d",
        ExpressionAttributeNames={"#d": "date"},
        ExpressionAttributeValues={":d": {"S": E2E_DAY}},
    )["Items"]
    assert len(by_date) == len([f for f in found if f[3] == E2E_DAY]) >= 3
    county = _scan(outputs["County5minTableName"])
    assert sum(int(i["reading_count"]) for i in county) == len(valid)
    assert {i["county"] for i in county} == set(E2E_SITES.values())
    daily = _scan(outputs["SiteDailyTableName"])
    assert {(i["site_id"], i["date"]): int(i["reading_count"]) for i in daily} == {
        **{(site, E2E_DAY): 12 for site in E2E_SITES},
        **{(site, E2E_LATE_DAY): 4 for site in E2E_SITES},
    }
    ledger = _scan(outputs["IngestedFilesTableName"])
    assert {i["source_key"] for i in ledger} == set(files)

    # --- silver, gold and quarantine in the stack's bucket; staging drained
    both_days = (E2E_LATE_DAY, E2E_DAY)
    for dataset, days in (
        ("silver/readings/", both_days),
        ("gold/county_5min/", both_days),
        ("gold/site_daily/", both_days),
    ):
        # one object a day per site shard with readings (county windows: one a day)
        shards = [None] if dataset == "gold/county_5min/" else E2E_SHARDS
        assert _keys(s3, bucket, dataset) == sorted(
            partition_object(dataset, d, s) for d in days for s in shards
        )
    # the late day has no anomalies: no object for it
    anomalies = _keys(s3, bucket, "silver/anomalies/")
    assert anomalies
    assert set(anomalies) <= {partition_object("silver/anomalies/", E2E_DAY, s) for s in E2E_SHARDS}
    silver_rows = sum(
        pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=k)["Body"].read())).num_rows
        for k in _keys(s3, bucket, "silver/readings/")
    )
    assert silver_rows == len(valid)
    quarantine = {}
    for key in _keys(s3, bucket, "quarantine/"):
        lines = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode().splitlines()
        quarantine[key] = [json.loads(line)["reason"] for line in lines]
    assert quarantine == {
        "quarantine/stack-e2e/day.jsonl.jsonl": ["missing_field"],
        "quarantine/stack-e2e/broken.json.jsonl": ["unparseable_file"],
    }
    assert _keys(s3, bucket, "staging/") == []
