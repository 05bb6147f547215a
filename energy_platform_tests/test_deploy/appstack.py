"""Deploy deploy/app.yaml into the emulator, on a data stack, in a VPC made for it.

moto (5.2) has no CloudFormation support for some of the template's resource types and one
attribute (`EMULATOR_MISSING`). Before the stack is created, those resources are made through
their own APIs on the emulator, from the template's properties where the API has them, and
the template's references to them are replaced by what the APIs returned; the alarms, which
nothing references, are put through CloudWatch's API after the stack is up, rendered from the
template with the stack's real names. Everything else is created by moto's CloudFormation.
"""

from __future__ import annotations

import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from energy_platform.resources.clients import aws_client
from energy_platform_tests.test_deploy.stack import wait_for_create
from energy_platform_tests.test_deploy.template import APP_TEMPLATE_PATH, load_template, render

DOMAIN = "energy.example.com"
EMULATOR_MISSING = (
    "AWS::SecretsManager::Secret (resource type not implemented)",
    "AWS::ServiceDiscovery::PrivateDnsNamespace (resource type not implemented)",
    "AWS::ServiceDiscovery::Service (resource type not implemented)",
    "AWS::CloudWatch::Alarm (resource type not implemented)",
    "AWS::ECS::TaskDefinition TaskRoleArn, ExecutionRoleArn, Cpu, Memory, NetworkMode,"
    " RequiresCompatibilities (ignored: each is registered again through ECS's API, in full)",
    "AWS::ECS::Service DeploymentConfiguration, NetworkConfiguration, LoadBalancers, LaunchType",
    "AWS::RDS::DBInstance DeletionProtection, MultiAZ",
    "AWS::ElasticLoadBalancingV2::TargetGroup attribute TargetGroupFullName (so the dashboard,"
    " which names it, is put through CloudWatch's API too)",
    "AWS::RDS::DBInstance attribute MasterUserSecret.SecretArn (ManageMasterUserPassword ignored)",
)
"""What moto's CloudFormation cannot create from deploy/app.yaml (found by experiment, moto 5.2.5)."""
MASTER_SECRET = ("Database", "MasterUserSecret.SecretArn")
AFTER_STACK = ("Dashboard",)
"""Resources put through their API once the stack is up, rendered with its real names."""


@dataclass(frozen=True)
class AppStack:
    name: str
    outputs: dict[str, str]
    physical_ids: dict[str, str]
    """Logical id -> physical id of every resource moto created."""
    parameters: dict[str, str]
    alarms: list[str]
    """Names of the alarms put through CloudWatch's API."""
    dashboard: str
    task_definitions: dict[str, str]
    """Logical id -> ARN of the task definition as registered in full through ECS's API."""


def deploy_app_stack(
    data_outputs: dict[str, str], region: str = "us-east-1", profile: str = "production"
) -> AppStack:
    """The app stack on the data stack of `data_outputs` (as `deploy_stack` returns them)."""
    name = f"app-{uuid.uuid4().hex[:8]}"
    parameters = {
        "DataStackName": data_outputs["StackName"],
        "ImageTag": "test",
        "Profile": profile,
        **_network(region),
        "CertificateArn": aws_client("acm", region).request_certificate(DomainName=DOMAIN)[
            "CertificateArn"
        ],
        "DomainName": DOMAIN,
        "UiAllowedCidr": "10.20.0.0/16",
    }
    template = load_template(APP_TEMPLATE_PATH)
    made = _make_missing_resources(template, name, parameters, region)
    made.refs["Dashboard"] = render(
        template["Resources"]["Dashboard"]["Properties"]["DashboardName"], {"AWS::StackName": name}
    )
    body = _substituted(template, made)
    for logical in (*made.removed, *AFTER_STACK):
        body["Resources"].pop(logical)
    cfn = aws_client("cloudformation", region)
    cfn.create_stack(
        StackName=name,
        TemplateBody=json.dumps(body),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM"],
    )
    stack = wait_for_create(cfn, name, 120.0)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cfn.list_stack_resources(StackName=name)["StackResourceSummaries"]
        if r["LogicalResourceId"]
    }
    values = _values(template, name, parameters, physical, made, region, cfn)
    alarms = _put_alarms(template, name, values, region)
    dashboard = render(template["Resources"]["Dashboard"]["Properties"], values)
    aws_client("cloudwatch", region).put_dashboard(**dashboard)
    tasks = {
        logical: _register_in_full(resource["Properties"], values, region)
        for logical, resource in template["Resources"].items()
        if resource["Type"] == "AWS::ECS::TaskDefinition"
    }
    return AppStack(name, outputs, physical, parameters, alarms, dashboard["DashboardName"], tasks)


def _network(region: str) -> dict[str, str]:
    ec2 = aws_client("ec2", region)
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.20.{i}.0/24", AvailabilityZone=f"{region}{az}")[
            "Subnet"
        ]["SubnetId"]
        for i, az in enumerate("abab")
    ]
    return {
        "VpcId": vpc,
        "PrivateSubnetIds": ",".join(subnets[:2]),
        "PublicSubnetIds": ",".join(subnets[2:]),
    }


@dataclass
class _Made:
    refs: dict[str, str]
    """Logical id -> what `Ref` gives (and `Logical.Attr` -> what `GetAtt` gives)."""
    removed: list[str]


def _make_missing_resources(
    template: dict[str, Any], stack: str, parameters: dict[str, str], region: str
) -> _Made:
    resources = template["Resources"]
    sm = aws_client("secretsmanager", region)
    sd = aws_client("servicediscovery", region)
    made = _Made({}, [])
    for logical, resource in resources.items():
        if resource["Type"] == "AWS::SecretsManager::Secret":
            arn = sm.create_secret(
                Name=f"{stack}-{logical}",
                Description=resource["Properties"]["Description"],
                SecretString=secrets.token_urlsafe(32),
            )["ARN"]
            made.refs[logical] = arn
            made.removed.append(logical)
    master = sm.create_secret(
        Name=f"{stack}-rds-master", SecretString=json.dumps({"password": secrets.token_urlsafe()})
    )["ARN"]
    made.refs[".".join(MASTER_SECRET)] = master
    namespace = render(
        resources["ServiceNamespace"]["Properties"]["Name"], {"AWS::StackName": stack}
    )
    sd.create_private_dns_namespace(Name=namespace, Vpc=parameters["VpcId"])
    namespace_id = next(
        n["Id"] for n in sd.list_namespaces()["Namespaces"] if n["Name"] == namespace
    )
    made.refs["ServiceNamespace"] = namespace_id
    discovery = resources["CodeLocationDiscovery"]["Properties"]
    service = sd.create_service(
        Name=discovery["Name"],
        NamespaceId=namespace_id,
        DnsConfig=discovery["DnsConfig"],
        HealthCheckCustomConfig=discovery["HealthCheckCustomConfig"],
    )["Service"]
    made.refs["CodeLocationDiscovery"] = service["Id"]
    made.refs["CodeLocationDiscovery.Arn"] = service["Arn"]
    made.removed += ["ServiceNamespace", "CodeLocationDiscovery"]
    return made


def _substituted(node: Any, made: _Made) -> Any:
    """The template with every reference to a resource made through its API replaced."""
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in made.refs:
            return made.refs[node["Ref"]]
        if set(node) == {"Fn::GetAtt"} and ".".join(node["Fn::GetAtt"]) in made.refs:
            return made.refs[".".join(node["Fn::GetAtt"])]
        if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str):
            text = node["Fn::Sub"]
            for key, value in made.refs.items():
                text = text.replace("${" + key + "}", value)
            return {"Fn::Sub": text}
        return {k: _substituted(v, made) for k, v in node.items()}
    if isinstance(node, list):
        return [_substituted(v, made) for v in node]
    return node


def _values(
    template: dict[str, Any],
    stack: str,
    parameters: dict[str, str],
    physical: dict[str, str],
    made: _Made,
    region: str,
    cfn: Any,
) -> dict[str, str]:
    """What the template's intrinsics resolve to in this deployed stack (for the alarms)."""
    values = {
        "AWS::Region": region,
        "AWS::Partition": "aws",
        "AWS::StackName": stack,
        **{e["Name"]: e["Value"] for e in cfn.list_exports()["Exports"]},
        **{n: str(p["Default"]) for n, p in template["Parameters"].items() if "Default" in p},
        **parameters,
        **physical,
        **made.refs,
    }
    for mapping, keys in template["Mappings"].items():
        for key, names in keys.items():
            values.update({f"{mapping}.{key}.{n}": v for n, v in names.items()})
    role = aws_client("iam", region).get_role(RoleName=physical["TaskExecutionRole"])["Role"]
    values["TaskExecutionRole.Arn"] = role["Arn"]
    (db,) = aws_client("rds", region).describe_db_instances(
        DBInstanceIdentifier=physical["Database"]
    )["DBInstances"]
    values["Database.Endpoint.Address"] = db["Endpoint"]["Address"]
    values["Database.Endpoint.Port"] = str(db["Endpoint"]["Port"])
    # The load balancer's and target group's names as CloudWatch dimensions take them.
    values["LoadBalancer.LoadBalancerFullName"] = physical["LoadBalancer"].split(":loadbalancer/")[
        1
    ]
    values["ApiTargetGroup.TargetGroupFullName"] = physical["ApiTargetGroup"].split(":", 5)[5]
    return values


def _put_alarms(
    template: dict[str, Any], stack: str, values: dict[str, str], region: str
) -> list[str]:
    cloudwatch = aws_client("cloudwatch", region)
    names = []
    for logical, resource in template["Resources"].items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = render(resource["Properties"], values)
        name = f"{stack}-{logical}"
        cloudwatch.put_metric_alarm(AlarmName=name, **_alarm_request(props))
        names.append(name)
    return names


def _alarm_request(props: dict[str, Any]) -> dict[str, Any]:
    """CloudFormation's alarm properties -> PutMetricAlarm's (the same names, typed)."""
    numbers = {"Period", "EvaluationPeriods", "DatapointsToAlarm"}
    request = {k: int(v) if k in numbers else v for k, v in props.items()}
    request["Threshold"] = float(props["Threshold"])
    return request


def _register_in_full(props: dict[str, Any], values: dict[str, str], region: str) -> str:
    """Register the template's task definition with every property (a new revision)."""
    rendered = _camel(render(props, values))
    for number in ("cpu", "memory"):
        rendered[number] = str(rendered[number])
    ecs = aws_client("ecs", region)
    return ecs.register_task_definition(**rendered)["taskDefinition"]["taskDefinitionArn"]


def _camel(node: Any) -> Any:
    """CloudFormation's PascalCase keys -> ECS API's camelCase (values kept as they are)."""
    if isinstance(node, dict):
        return {k[0].lower() + k[1:]: _camel(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_camel(v) for v in node]
    return node
