"""Deploy deploy/cloudformation.yaml into the emulator and return the stack's outputs.

moto (5.2) creates every resource of the template but ignores some properties, and has no
`AWS::SQS::QueuePolicy` at all. `fill_emulator_gaps` applies exactly those parts of the
template through the service APIs, read from the template itself (not re-typed), so the
stack behaves as it would on AWS: `raw/` uploads reach the raw_events queue.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from energy_platform.resources.clients import aws_client
from energy_platform_tests.test_deploy.template import TEMPLATE_PATH, load_template, render

CAPABILITIES = ["CAPABILITY_IAM"]

EMULATOR_GAPS = (
    "AWS::S3::Bucket VersioningConfiguration",
    "AWS::S3::Bucket PublicAccessBlockConfiguration",
    "AWS::S3::Bucket OwnershipControls",
    "AWS::S3::Bucket LifecycleConfiguration",
    "AWS::S3::Bucket NotificationConfiguration",
    "AWS::S3::Bucket BucketEncryption BucketKeyEnabled (kept as false)",
    "AWS::SQS::QueuePolicy (resource type not implemented)",
    "AWS::S3::BucketPolicy (resource type not implemented; see apply_bucket_policy)",
    "AWS::DynamoDB::Table PointInTimeRecoverySpecification",
)
"""What moto's CloudFormation leaves out of this template (found by experiment, moto 5.2.5)."""


def deploy_stack(
    bucket: str,
    prefix: str,
    *,
    region: str = "us-east-1",
    stack_name: str | None = None,
    fill_emulator_gaps: bool = True,
    timeout: float = 60.0,
) -> dict[str, str]:
    """Create the stack (BucketName=`bucket`, TablePrefix=`prefix`), wait, return its outputs."""
    cfn = aws_client("cloudformation", region)
    stack_name = stack_name or f"energy-{uuid.uuid4().hex[:8]}"
    template = load_template()
    cfn.create_stack(
        StackName=stack_name,
        TemplateBody=TEMPLATE_PATH.read_text(),
        Parameters=[
            {"ParameterKey": "BucketName", "ParameterValue": bucket},
            {"ParameterKey": "TablePrefix", "ParameterValue": prefix},
            # One repository per stack: the emulator holds many stacks at once.
            {"ParameterKey": "RepositoryName", "ParameterValue": bucket},
        ],
        Capabilities=CAPABILITIES,
    )
    stack = wait_for_create(cfn, stack_name, timeout)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    outputs["StackName"] = stack_name
    if fill_emulator_gaps:
        apply_emulator_gaps(template, stack, outputs, region)
    return outputs


def wait_for_create(cfn: Any, stack_name: str, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
        status = stack["StackStatus"]
        if status == "CREATE_COMPLETE":
            return stack
        if not status.endswith("_IN_PROGRESS"):
            raise RuntimeError(
                f"stack {stack_name}: {status} ({stack.get('StackStatusReason', 'no reason given')})"
            )
        if time.monotonic() > deadline:
            raise TimeoutError(f"stack {stack_name} still {status} after {timeout:.0f}s")
        time.sleep(0.2)


def template_values(
    template: dict[str, Any], stack: dict[str, Any], outputs: dict[str, str], region: str
) -> dict[str, str]:
    """What `Ref`, `Fn::Sub` and `Fn::GetAtt` resolve to in this deployed stack."""
    account = outputs["RawEventsQueueArn"].split(":")[4]
    values = {
        name: str(spec["Default"])
        for name, spec in template["Parameters"].items()
        if "Default" in spec
    }
    values.update({p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])})
    values.update(
        {"AWS::Partition": "aws", "AWS::Region": region, "AWS::AccountId": account},
        DataBucket=outputs["BucketName"],
        **{"DataBucket.Arn": outputs["BucketArn"]},
        RawEventsQueue=outputs["RawEventsQueueUrl"],
        DeadLettersQueue=outputs["DeadLettersQueueUrl"],
        **{"RawEventsQueue.Arn": outputs["RawEventsQueueArn"]},
        **{"DeadLettersQueue.Arn": outputs["DeadLettersQueueArn"]},
    )
    return values


def apply_emulator_gaps(
    template: dict[str, Any], stack: dict[str, Any], outputs: dict[str, str], region: str
) -> None:
    """Apply the template's properties moto ignored (EMULATOR_GAPS), in the template's order."""
    values = template_values(template, stack, outputs, region)
    resources = template["Resources"]
    s3 = aws_client("s3", region)
    sqs = aws_client("sqs", region)
    ddb = aws_client("dynamodb", region)

    queue_policy = render(resources["RawEventsQueuePolicy"]["Properties"], values)
    for queue_url in queue_policy["Queues"]:
        sqs.set_queue_attributes(
            QueueUrl=queue_url, Attributes={"Policy": json.dumps(queue_policy["PolicyDocument"])}
        )

    bucket = outputs["BucketName"]
    props = render(resources["DataBucket"]["Properties"], values)
    s3.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration=props["VersioningConfiguration"]
    )
    s3.put_public_access_block(
        Bucket=bucket, PublicAccessBlockConfiguration=props["PublicAccessBlockConfiguration"]
    )
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls=props["OwnershipControls"])
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket,
        LifecycleConfiguration={
            "Rules": [_lifecycle_rule(r) for r in props["LifecycleConfiguration"]["Rules"]]
        },
    )
    s3.put_bucket_notification_configuration(
        Bucket=bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                _queue_notification(q)
                for q in props["NotificationConfiguration"]["QueueConfigurations"]
            ]
        },
    )

    for resource in resources.values():
        pitr = resource.get("Properties", {}).get("PointInTimeRecoverySpecification")
        if resource["Type"] == "AWS::DynamoDB::Table" and pitr:
            ddb.update_continuous_backups(
                TableName=render(resource["Properties"]["TableName"], values),
                PointInTimeRecoverySpecification=pitr,
            )


def apply_bucket_policy(outputs: dict[str, str], region: str = "us-east-1") -> None:
    """Put the template's bucket policy on the stack's bucket. Not one of the gaps filled for
    every stack: the emulator speaks plain HTTP and honors the policy, so after this it
    refuses every request to the bucket (as AWS refuses requests without TLS)."""
    template = load_template()
    cfn = aws_client("cloudformation", region)
    stack = cfn.describe_stacks(StackName=outputs["StackName"])["Stacks"][0]
    values = template_values(template, stack, outputs, region)
    policy = render(template["Resources"]["DataBucketPolicy"]["Properties"], values)
    aws_client("s3", region).put_bucket_policy(
        Bucket=outputs["BucketName"], Policy=json.dumps(policy["PolicyDocument"])
    )


def _lifecycle_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's lifecycle rule shape -> the S3 API's."""
    out: dict[str, Any] = {
        "ID": rule["Id"],
        "Status": rule["Status"],
        "Filter": {"Prefix": rule.get("Prefix", "")},
    }
    if "ExpirationInDays" in rule:
        out["Expiration"] = {"Days": int(rule["ExpirationInDays"])}
    if "NoncurrentVersionExpiration" in rule:
        days = int(rule["NoncurrentVersionExpiration"]["NoncurrentDays"])
        out["NoncurrentVersionExpiration"] = {"NoncurrentDays": days}
    if "AbortIncompleteMultipartUpload" in rule:
        out["AbortIncompleteMultipartUpload"] = rule["AbortIncompleteMultipartUpload"]
    return out


def _queue_notification(config: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's QueueConfiguration shape -> the S3 API's."""
    return {
        "QueueArn": config["Queue"],
        "Events": [config["Event"]],
        "Filter": {"Key": {"FilterRules": config["Filter"]["S3Key"]["Rules"]}},
    }
