"""deploy/cloudformation.yaml lints clean, follows the contract, and matches docs/iam-policy.json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from energy_platform.contract import (
    ALERTS_TOPIC,
    DEAD_LETTERS_QUEUE,
    GOLD_COUNTY_5MIN_PREFIX,
    GOLD_SITE_DAILY_PREFIX,
    QUARANTINE_PREFIX,
    RAW_EVENTS_QUEUE,
    RAW_PREFIX,
    REPORT_KEY,
    SILVER_ANOMALIES_PREFIX,
    SILVER_READINGS_PREFIX,
    STAGING_READINGS_PREFIX,
    TABLE_INDEXES,
    TABLE_KEYS,
)
from energy_platform_tests.test_deploy.template import (
    IAM_POLICY_PATH,
    TEMPLATE_PATH,
    load_template,
    platform_policy_document,
    render,
    unwrap_subs,
)

CFN_LINT = Path(sys.executable).with_name("cfn-lint")


def _resources_of_type(template: dict, resource_type: str) -> dict[str, dict]:
    return {
        name: r["Properties"]
        for name, r in template["Resources"].items()
        if r["Type"] == resource_type
    }


def test_template_passes_cfn_lint_including_informational_rules() -> None:
    result = subprocess.run(
        [str(CFN_LINT), "--include-checks", "I", "--", str(TEMPLATE_PATH)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_template_tables_have_contract_keys_indexes_and_billing() -> None:
    tables = _resources_of_type(load_template(), "AWS::DynamoDB::Table")
    by_name = {render(p["TableName"], {"TablePrefix": ""}): p for p in tables.values()}
    assert set(by_name) == set(TABLE_KEYS)
    for table, (pk, sk) in TABLE_KEYS.items():
        props = by_name[table]
        assert props["BillingMode"] == "PAY_PER_REQUEST"
        assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
        assert props["KeySchema"] == [
            {"AttributeName": pk, "KeyType": "HASH"},
            {"AttributeName": sk, "KeyType": "RANGE"},
        ]
        indexes = {
            i["IndexName"]: (
                [k["AttributeName"] for k in i["KeySchema"]],
                i["Projection"]["ProjectionType"],
            )
            for i in props.get("GlobalSecondaryIndexes", [])
        }
        expected = {
            name: (list(keys), "ALL") for name, keys in TABLE_INDEXES.get(table, {}).items()
        }
        assert indexes == expected


def test_template_names_topic_and_queues_as_the_contract() -> None:
    template = load_template()
    names = {"TablePrefix": "p_"}
    topics = _resources_of_type(template, "AWS::SNS::Topic").values()
    queues = _resources_of_type(template, "AWS::SQS::Queue").values()
    assert [render(t["TopicName"], names) for t in topics] == [f"p_{ALERTS_TOPIC}"]
    assert {render(q["QueueName"], names) for q in queues} == {
        f"p_{RAW_EVENTS_QUEUE}",
        f"p_{DEAD_LETTERS_QUEUE}",
    }


def test_bucket_notifies_raw_prefix_only_after_the_queue_policy_exists() -> None:
    bucket = load_template()["Resources"]["DataBucket"]
    assert bucket["DependsOn"] == "RawEventsQueuePolicy"
    (config,) = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert config["Queue"] == {"Fn::GetAtt": ["RawEventsQueue", "Arn"]}
    assert config["Filter"]["S3Key"]["Rules"] == [{"Name": "prefix", "Value": RAW_PREFIX}]


def test_docs_iam_policy_is_the_templates_policy_with_placeholders() -> None:
    documented = json.loads(IAM_POLICY_PATH.read_text())
    assert documented == unwrap_subs(platform_policy_document())


def test_policy_objects_are_exactly_the_contracts_top_level_prefixes() -> None:
    contract_folders = {
        p.split("/", 1)[0]
        for p in (
            RAW_PREFIX,
            QUARANTINE_PREFIX,
            STAGING_READINGS_PREFIX,
            SILVER_READINGS_PREFIX,
            SILVER_ANOMALIES_PREFIX,
            GOLD_COUNTY_5MIN_PREFIX,
            GOLD_SITE_DAILY_PREFIX,
            REPORT_KEY,
        )
    }
    statements = {s["Sid"]: s for s in unwrap_subs(platform_policy_document())["Statement"]}
    object_arns = statements["ReadWritePlatformObjects"]["Resource"]
    listed = statements["ListPlatformPrefixes"]["Condition"]["StringLike"]["s3:prefix"]
    assert {arn.split("/", 1)[1].removesuffix("/*") for arn in object_arns} == contract_folders
    assert {p.removesuffix("/*") for p in listed} == contract_folders
    assert all(arn.endswith("/*") for arn in object_arns)
