"""deploy/app.yaml on the emulator, on top of a data stack: what moto's CloudFormation creates
from it (the rest is made through the services' APIs from the template, see appstack.py)."""

from __future__ import annotations

import fnmatch
import json
import uuid
from urllib.parse import unquote

import pytest
import yaml
from dagster._config import process_config
from dagster_aws.ecs import EcsRunLauncher

from energy_platform.resources.clients import aws_client
from energy_platform_tests.test_deploy.appstack import DOMAIN, AppStack, deploy_app_stack
from energy_platform_tests.test_deploy.stack import deploy_stack
from energy_platform_tests.test_deploy.template import APP_TEMPLATE_PATH, REPO, load_template

REGION = "us-east-1"
PRODUCTION_INSTANCE = REPO / "deploy" / "dagster.yaml"


@pytest.fixture(scope="module")
def stacks(emulator: str) -> tuple[dict[str, str], AppStack]:
    suffix = uuid.uuid4().hex[:8]
    data = deploy_stack(f"energy-app-{suffix}", f"app{suffix}_", region=REGION)
    return data, deploy_app_stack(data, REGION)


def _task_definitions(app: AppStack) -> dict[str, dict]:
    ecs = aws_client("ecs", REGION)
    return {
        logical.removesuffix("TaskDefinition"): ecs.describe_task_definition(taskDefinition=arn)[
            "taskDefinition"
        ]
        for logical, arn in app.task_definitions.items()
    }


def test_every_resource_of_the_template_exists(stacks: tuple[dict[str, str], AppStack]) -> None:
    _, app = stacks
    resources = load_template(APP_TEMPLATE_PATH)["Resources"]
    alarms = {f"{app.name}-{name}" for name, r in resources.items() if r["Type"].endswith("Alarm")}
    assert set(app.alarms) == alarms
    by_api = {"ApiKeySecret", "ApiTokenSecret", "ServiceNamespace", "CodeLocationDiscovery"}
    by_api |= {"Dashboard"} | {n for n, r in resources.items() if r["Type"].endswith("Alarm")}
    assert set(app.physical_ids) | by_api == set(resources)


def test_each_task_runs_as_its_own_role(stacks: tuple[dict[str, str], AppStack]) -> None:
    data, app = stacks
    tasks = _task_definitions(app)
    assert set(tasks) == {"CodeLocation", "Webserver", "Daemon", "Run", "Api"}
    roles = {name: t["taskRoleArn"] for name, t in tasks.items()}
    assert roles == {
        "CodeLocation": data["DagsterServicesRoleArn"],
        "Webserver": data["DagsterServicesRoleArn"],
        "Daemon": data["DagsterServicesRoleArn"],
        "Run": data["PipelineRunRoleArn"],
        "Api": data["ApiTaskRoleArn"],
    }
    assert len({t["executionRoleArn"] for t in tasks.values()}) == 1


def test_runs_start_from_a_container_named_run_and_alerts_link_to_the_ui(
    stacks: tuple[dict[str, str], AppStack],
) -> None:
    data, app = stacks
    tasks = _task_definitions(app)
    (run,) = tasks["Run"]["containerDefinitions"]
    assert run["name"] == "run"  # deploy/dagster.yaml's container_name
    assert run["image"] == f"{data['RepositoryUri']}:test"
    for name in ("CodeLocation", "Run"):
        (container,) = tasks[name]["containerDefinitions"]
        env = {e["name"]: e["value"] for e in container["environment"]}
        assert env["DAGSTER_WEBSERVER_URL"] == f"https://{DOMAIN}:8443"
        assert env["ENERGY_BUCKET"] == data["BucketName"]
        assert env["ENERGY_TABLE_PREFIX"] == data["TablePrefix"]
        assert {s["name"] for s in container["secrets"]} == {"DAGSTER_PG_PASSWORD"}
    (code,) = tasks["CodeLocation"]["containerDefinitions"]
    env = {e["name"]: e["value"] for e in code["environment"]}
    assert env["DAGSTER_ECS_RUN_TASK_DEFINITION"] == app.physical_ids["RunTaskDefinition"]


def test_the_api_starts_with_its_key_on_every_interface(
    stacks: tuple[dict[str, str], AppStack],
) -> None:
    _, app = stacks
    (api,) = _task_definitions(app)["Api"]["containerDefinitions"]
    assert api["command"][:4] == ["energy-platform", "api", "--host", "0.0.0.0"]
    assert "--allow-unauthenticated" not in api["command"]
    assert {s["name"] for s in api["secrets"]} == {"ENERGY_API_KEY", "ENERGY_API_TOKEN_SECRET"}
    assert {e["name"] for e in api["environment"]} == {"AWS_REGION", "ENERGY_TABLE_PREFIX"}


def test_four_services_one_daemon_at_a_time(stacks: tuple[dict[str, str], AppStack]) -> None:
    _, app = stacks
    ecs = aws_client("ecs", REGION)
    arns = [app.physical_ids[n] for n in app.physical_ids if n.endswith("Service")]
    services = {
        s["serviceName"].split("-")[-2]: s
        for s in ecs.describe_services(cluster=app.physical_ids["Cluster"], services=arns)[
            "services"
        ]
    }
    assert set(services) == {
        "CodeLocationService",
        "DaemonService",
        "WebserverService",
        "ApiService",
    }
    assert services["ApiService"]["desiredCount"] == 2
    # moto keeps no DeploymentConfiguration: read from the template.
    daemon = load_template(APP_TEMPLATE_PATH)["Resources"]["DaemonService"]["Properties"]
    assert daemon["DeploymentConfiguration"] == {"MaximumPercent": 100, "MinimumHealthyPercent": 0}


def test_the_load_balancer_speaks_https_only(stacks: tuple[dict[str, str], AppStack]) -> None:
    _, app = stacks
    elb = aws_client("elbv2", REGION)
    listeners = elb.describe_listeners(LoadBalancerArn=app.physical_ids["LoadBalancer"])
    assert sorted((li["Port"], li["Protocol"]) for li in listeners["Listeners"]) == [
        (443, "HTTPS"),
        (8443, "HTTPS"),
    ]
    for listener in listeners["Listeners"]:
        (cert,) = listener["Certificates"]
        assert cert["CertificateArn"] == app.parameters["CertificateArn"]
    ec2 = aws_client("ec2", REGION)
    (group,) = ec2.describe_security_groups(
        GroupIds=[app.physical_ids["LoadBalancerSecurityGroup"]]
    )["SecurityGroups"]
    assert sorted(p["FromPort"] for p in group["IpPermissions"]) == [443, 8443]


def test_log_groups_keep_logs_for_the_retention_parameter(
    stacks: tuple[dict[str, str], AppStack],
) -> None:
    _, app = stacks
    logs = aws_client("logs", REGION)
    groups = logs.describe_log_groups(logGroupNamePrefix=f"/energy-platform/{app.name}/")
    assert {
        g["logGroupName"].rsplit("/", 1)[-1]: g["retentionInDays"] for g in groups["logGroups"]
    } == {
        "dagster": 30,
        "runs": 30,
        "api": 30,
    }


def test_the_database_is_private_encrypted_and_protected(
    stacks: tuple[dict[str, str], AppStack],
) -> None:
    _, app = stacks
    rds = aws_client("rds", REGION)
    (db,) = rds.describe_db_instances(DBInstanceIdentifier=app.physical_ids["Database"])[
        "DBInstances"
    ]
    assert (db["Engine"], db["DBName"], db["MasterUsername"]) == ("postgres", "dagster", "dagster")
    assert db["StorageEncrypted"] and not db["PubliclyAccessible"]
    # moto keeps neither DeletionProtection nor MultiAZ: read from the template.
    props = load_template(APP_TEMPLATE_PATH)["Resources"]["Database"]["Properties"]
    assert props["DeletionProtection"] is True and props["ManageMasterUserPassword"] is True


def test_alarms_go_to_the_alerts_topic_and_the_dashboard_shows_the_platform(
    stacks: tuple[dict[str, str], AppStack],
) -> None:
    data, app = stacks
    cloudwatch = aws_client("cloudwatch", REGION)
    alarms = cloudwatch.describe_alarms(AlarmNames=app.alarms)["MetricAlarms"]
    assert {a["MetricName"] for a in alarms} == {
        "ApproximateNumberOfMessagesVisible",
        "RunsFailed",
        "LateRawObjects",
        "HTTPCode_Target_5XX_Count",
        "TargetResponseTime",
        "FreeStorageSpace",
    }
    assert all(a["AlarmActions"] == [data["AlertsTopicArn"]] for a in alarms)
    body = json.loads(cloudwatch.get_dashboard(DashboardName=app.dashboard)["DashboardBody"])
    shown = {m[1] for w in body["widgets"] for m in w["properties"]["metrics"]}
    assert shown >= {
        "ReadingsIngested",
        "ReadingsQuarantined",
        "AnomaliesFound",
        "RunsSucceeded",
        "RunsFailed",
        "RequestCount",
    }


def test_the_run_launcher_may_start_the_run_task_and_pass_only_its_roles(
    stacks: tuple[dict[str, str], AppStack], monkeypatch: pytest.MonkeyPatch
) -> None:
    """deploy/dagster.yaml's EcsRunLauncher resolves the stack's run task definition (container
    `run`), and the launch policy grants RunTask on it and PassRole on its two roles, no other."""
    data, app = stacks
    run = _task_definitions(app)["Run"]
    monkeypatch.setenv("DAGSTER_ECS_RUN_TASK_DEFINITION", run["family"])
    config = yaml.safe_load(PRODUCTION_INSTANCE.read_text())["run_launcher"]["config"]
    launcher = EcsRunLauncher(**process_config(EcsRunLauncher.config_type(), config).value)
    assert launcher.task_definition == run["taskDefinitionArn"]

    iam = aws_client("iam", REGION)
    role = data["DagsterServicesRoleArn"].rsplit("/", 1)[-1]
    document = iam.get_role_policy(RoleName=role, PolicyName="launch-dagster-runs")
    statements = {s["Sid"]: s for s in _policy(document["PolicyDocument"])["Statement"]}
    assert fnmatch.fnmatchcase(run["taskDefinitionArn"], statements["StartRunTasks"]["Resource"])
    assert sorted(statements["PassRunRoles"]["Resource"]) == sorted(
        [run["taskRoleArn"], run["executionRoleArn"]]
    )


def _policy(document: str | dict) -> dict:
    return json.loads(unquote(document)) if isinstance(document, str) else document
