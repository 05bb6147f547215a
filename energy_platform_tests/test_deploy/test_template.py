"""deploy/cloudformation.yaml lints clean, follows the contract, and is locked down."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from energy_platform.contract import (
    ALERTS_TOPIC,
    DEAD_LETTERS_QUEUE,
    RAW_EVENTS_QUEUE,
    RAW_PREFIX,
    TABLE_INDEXES,
    TABLE_KEYS,
)
from energy_platform.resources.metrics import METRICS, NAMESPACE
from energy_platform_tests.test_deploy.template import (
    APP_TEMPLATE_PATH,
    ROLE_POLICIES,
    TEMPLATE_PATHS,
    load_template,
    policy_document,
    render,
)

CFN_LINT = Path(sys.executable).with_name("cfn-lint")


def _resources_of_type(template: dict, resource_type: str) -> dict[str, dict]:
    return {
        name: r["Properties"]
        for name, r in template["Resources"].items()
        if r["Type"] == resource_type
    }


def test_templates_pass_cfn_lint_including_informational_rules() -> None:
    result = subprocess.run(
        [str(CFN_LINT), "--include-checks", "I", "--", *map(str, TEMPLATE_PATHS)],
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
        assert props["DeletionProtectionEnabled"] is True
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


def test_no_role_may_write_or_delete_under_raw() -> None:
    """raw/ is the platform's input: uploads come from outside, lifecycle rules expire it."""
    template = load_template()
    for resource in ROLE_POLICIES.values():
        for statement in policy_document(resource, template)["Statement"]:
            rendered = render(statement, {**NAMES, "BucketName": "b"}, {"UseKms": True})
            actions = _listed(rendered["Action"])
            if {"s3:PutObject", "s3:DeleteObject"} & set(actions):
                resources = _listed(rendered["Resource"])
                assert not [r for r in resources if r.startswith(f"arn:aws:s3:::b/{RAW_PREFIX}")]


def test_bucket_refuses_requests_without_tls() -> None:
    policy = load_template()["Resources"]["DataBucketPolicy"]["Properties"]["PolicyDocument"]
    (statement,) = policy["Statement"]
    assert (statement["Effect"], statement["Principal"], statement["Action"]) == (
        "Deny",
        "*",
        "s3:*",
    )
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statement["Resource"] == [
        {"Fn::GetAtt": ["DataBucket", "Arn"]},
        {"Fn::Sub": "${DataBucket.Arn}/*"},
    ]


def test_kms_key_parameter_encrypts_bucket_tables_topic_and_queues() -> None:
    template = load_template()
    key = "arn:aws:kms:us-east-1:123456789012:key/k"
    values = {**NAMES, "KmsKeyArn": key, "BucketName": "b"}
    encrypted = ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::SNS::Topic", "AWS::SQS::Queue")
    resources = {
        name: render(_without_refs_to_other_resources(r["Properties"]), values, {"UseKms": True})
        for name, r in template["Resources"].items()
        if r["Type"] in encrypted
    }
    (rule,) = resources["DataBucket"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": key,
    }
    for name, r in template["Resources"].items():
        if r["Type"] == "AWS::DynamoDB::Table":
            assert resources[name]["SSESpecification"]["KMSMasterKeyId"] == key
        if r["Type"] in ("AWS::SNS::Topic", "AWS::SQS::Queue"):
            assert resources[name]["KmsMasterKeyId"] == key
    queue = template["Resources"]["RawEventsQueue"]["Properties"]
    without = render(_without_refs_to_other_resources(queue), values)
    assert "KmsMasterKeyId" not in without and without["SqsManagedSseEnabled"] is True


def _without_refs_to_other_resources(props: dict) -> dict:
    keep = ("BucketEncryption", "SSESpecification", "KmsMasterKeyId", "SqsManagedSseEnabled")
    return {k: v for k, v in props.items() if k in keep}


NAMES = {"TablePrefix": "p_", "AWS::Partition": "aws", "AWS::Region": "r", "AWS::AccountId": "1"}


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def test_trial_profile_is_the_low_cost_one() -> None:
    profiles = load_template(APP_TEMPLATE_PATH)["Mappings"]["Profiles"]
    trial, production = profiles["trial"], profiles["production"]
    assert (trial["DbInstanceClass"], trial["DbMultiAz"], trial["ApiCount"]) == (
        "db.t4g.micro",
        "false",
        1,
    )
    assert production["DbMultiAz"] == "true" and production["ApiCount"] == 2
    assert int(trial["ServiceCpu"]) <= int(production["ServiceCpu"])


def test_alarms_and_dashboard_read_only_metrics_the_platform_publishes() -> None:
    resources = load_template(APP_TEMPLATE_PATH)["Resources"]
    alarmed = {
        r["Properties"]["MetricName"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"]["Namespace"] == NAMESPACE
    }
    body = resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    shown = set(re.findall(rf'\["{NAMESPACE}", "(\w+)"', body))
    assert alarmed <= METRICS and shown <= METRICS
    assert alarmed | shown == METRICS


def test_runs_may_list_the_bucket_so_a_missing_key_answers_404_not_403() -> None:
    """S3 hides whether a key exists from callers that may not list the bucket: a run reading
    a day's first partition would get AccessDenied instead of NoSuchKey."""
    (listing,) = [
        s
        for s in policy_document(ROLE_POLICIES["pipeline"])["Statement"]
        if s["Action"] == "s3:ListBucket"
    ]
    assert "Condition" not in listing
