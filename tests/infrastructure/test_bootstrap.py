"""deploy/bootstrap.yaml, checked offline: who may assume the deploy and plan roles, that the
deploy role can create every resource of the stack and nothing beyond its boundary, and that
the boundary allows what the stack's roles are granted."""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any

import pytest

from tests.infrastructure.template import (
    ROOT,
    STAGES,
    Resolver,
    apply_conditions,
    as_list,
    describe,
    lint,
    load_sam_template,
    load_samconfig,
    parameter_values,
    parse_parameter_overrides,
    resources_of_type,
    role_documents,
    statements,
    to_cloudformation,
)

BOOTSTRAP_PATH = ROOT / "deploy" / "bootstrap.yaml"
REPOSITORY = "octo-org/hksync"
PROVIDER_ARN = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
#: A resource type of template.yaml and the call that creates it, which the deploy role needs
#: (CloudFormation creates the stack's resources with the deploying principal's credentials).
#: A new resource type fails test_the_deploy_role_can_create_every_resource_of_the_stack until
#: it is added here and the bootstrap allows it.
CREATED_BY = {
    "AWS::ApiGatewayV2::Api": "apigateway:POST",
    "AWS::ApiGatewayV2::Stage": "apigateway:POST",
    "AWS::CloudWatch::Alarm": "cloudwatch:PutMetricAlarm",
    "AWS::CloudWatch::Dashboard": "cloudwatch:PutDashboard",
    "AWS::Cognito::UserPool": "cognito-idp:CreateUserPool",
    "AWS::Cognito::UserPoolClient": "cognito-idp:CreateUserPoolClient",
    "AWS::EC2::RouteTable": "ec2:CreateRouteTable",
    "AWS::EC2::SecurityGroup": "ec2:CreateSecurityGroup",
    "AWS::EC2::SecurityGroupEgress": "ec2:AuthorizeSecurityGroupEgress",
    "AWS::EC2::SecurityGroupIngress": "ec2:AuthorizeSecurityGroupIngress",
    "AWS::EC2::Subnet": "ec2:CreateSubnet",
    "AWS::EC2::SubnetRouteTableAssociation": "ec2:AssociateRouteTable",
    "AWS::EC2::VPC": "ec2:CreateVpc",
    "AWS::EC2::VPCEndpoint": "ec2:CreateVpcEndpoint",
    "AWS::Events::EventBus": "events:CreateEventBus",
    "AWS::Events::Rule": "events:PutRule",
    "AWS::IAM::ManagedPolicy": "iam:CreatePolicy",
    "AWS::IAM::Role": "iam:CreateRole",
    "AWS::KMS::Alias": "kms:CreateAlias",
    "AWS::KMS::Key": "kms:CreateKey",
    "AWS::Lambda::EventInvokeConfig": "lambda:PutFunctionEventInvokeConfig",
    "AWS::Lambda::EventSourceMapping": "lambda:CreateEventSourceMapping",
    "AWS::Lambda::Function": "lambda:CreateFunction",
    "AWS::Lambda::LayerVersion": "lambda:PublishLayerVersion",
    "AWS::Lambda::Permission": "lambda:AddPermission",
    "AWS::Logs::LogGroup": "logs:CreateLogGroup",
    "AWS::RDS::DBCluster": "rds:CreateDBCluster",
    "AWS::RDS::DBClusterParameterGroup": "rds:CreateDBClusterParameterGroup",
    "AWS::RDS::DBInstance": "rds:CreateDBInstance",
    "AWS::RDS::DBProxy": "rds:CreateDBProxy",
    "AWS::RDS::DBProxyTargetGroup": "rds:RegisterDBProxyTargets",
    "AWS::RDS::DBSubnetGroup": "rds:CreateDBSubnetGroup",
    "AWS::S3::Bucket": "s3:CreateBucket",
    "AWS::S3::BucketPolicy": "s3:PutBucketPolicy",
    "AWS::SNS::Topic": "sns:CreateTopic",
    "AWS::SNS::TopicPolicy": "sns:SetTopicAttributes",
    "AWS::SQS::Queue": "sqs:CreateQueue",
    "AWS::SQS::QueuePolicy": "sqs:SetQueueAttributes",
    "AWS::Scheduler::ScheduleGroup": "scheduler:CreateScheduleGroup",
    # CloudFormation invokes the custom resource's function as the caller.
    "Custom::DatabaseMigrations": "lambda:InvokeFunction",
}
#: What SAM attaches to the function roles by ARN (the AWS managed policies' actions).
AWS_MANAGED_POLICY_ACTIONS = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    ],
    "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole": [
        "logs:CreateLogGroup",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "ec2:CreateNetworkInterface",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeSubnets",
        "ec2:DeleteNetworkInterface",
        "ec2:AssignPrivateIpAddresses",
        "ec2:UnassignPrivateIpAddresses",
    ],
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": [
        "xray:PutTraceSegments",
        "xray:PutTelemetryRecords",
        "xray:GetSamplingRules",
        "xray:GetSamplingTargets",
        "xray:GetSamplingStatisticSummaries",
    ],
}


@pytest.fixture(scope="module")
def bootstrap() -> dict[str, Any]:
    return load_sam_template(BOOTSTRAP_PATH)


def _deployed(bootstrap: dict[str, Any], stage: str, create_provider: str) -> dict[str, Any]:
    parameters = {
        "Stage": stage,
        "GitHubRepository": REPOSITORY,
        "CreateOidcProvider": create_provider,
    }
    return apply_conditions(bootstrap, parameters)


def _resolver(template: dict[str, Any], stage: str) -> Resolver:
    return Resolver(template, {"Stage": stage, "GitHubRepository": REPOSITORY})


def _allows(
    documents: list[dict[str, Any]], action: str, effect: str = "Allow"
) -> list[dict[str, Any]]:
    """The statements of these documents with this effect whose actions match ``action``."""
    return [
        statement
        for document in documents
        for statement in statements(document)
        if statement["Effect"] == effect
        and any(fnmatchcase(action.lower(), a.lower()) for a in as_list(statement["Action"]))
    ]


def _documents(template: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return role_documents(template, role)


def test_the_bootstrap_template_is_lint_clean(bootstrap: dict[str, Any]) -> None:
    findings = lint(BOOTSTRAP_PATH.read_text())
    assert not findings, "\n".join(describe(f) for f in findings)


def test_every_skipped_scanner_check_carries_its_reason(bootstrap: dict[str, Any]) -> None:
    for name, resource in bootstrap["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            assert set(skip) == {"id", "comment"}, f"{name}: {skip}"
            assert len(skip["comment"]) > 40, f"{name}: {skip['id']} says too little"


# ------------------------------------------------------------------------------------------
# Trust: this repository's environment for the stage; prod's plan from main only
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("stage", STAGES)
def test_only_the_stages_github_environment_assumes_its_deploy_role(
    bootstrap: dict[str, Any], stage: str
) -> None:
    for create_provider in ("true", "false"):
        deployed = _deployed(bootstrap, stage, create_provider)
        resolve = _resolver(deployed, stage)
        trust = deployed["Resources"]["DeployRole"]["Properties"]["AssumeRolePolicyDocument"]
        (statement,) = statements(trust)
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
        federated = statement["Principal"]["Federated"]
        if create_provider == "true":
            assert federated == {"Ref": "GitHubOidcProvider"}
        else:
            assert resolve(federated) == PROVIDER_ARN
        # StringEquals, not StringLike: no wildcard can widen the subject.
        assert set(statement["Condition"]) == {"StringEquals"}
        condition = {k: resolve(v) for k, v in statement["Condition"]["StringEquals"].items()}
        assert condition == {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": f"repo:{REPOSITORY}:environment:{stage}",
        }


def test_the_plan_role_exists_for_prod_only_and_trusts_main(bootstrap: dict[str, Any]) -> None:
    for stage in ("dev", "staging"):
        assert "PlanRole" not in _deployed(bootstrap, stage, "true")["Resources"]
    deployed = _deployed(bootstrap, "prod", "false")
    resolve = _resolver(deployed, "prod")
    (statement,) = statements(
        deployed["Resources"]["PlanRole"]["Properties"]["AssumeRolePolicyDocument"]
    )
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert {k: resolve(v) for k, v in statement["Condition"]["StringEquals"].items()} == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": f"repo:{REPOSITORY}:ref:refs/heads/main",
    }


def test_the_repository_parameter_takes_both_subject_forms(bootstrap: dict[str, Any]) -> None:
    """Repositories created from 15 July 2026 name their owner and repository with their ids in
    the subject claim (owner@1/name@2); older ones by name."""
    import re

    pattern = bootstrap["Parameters"]["GitHubRepository"]["AllowedPattern"]
    for accepted in ("octo-org/hksync", "octo-org@123456/hksync@789012", "a.b_c/d-e.f"):
        assert re.fullmatch(pattern, accepted), accepted
    for refused in ("octo-org/*", "octo-org", "octo-org/hksync:ref:refs/heads/x", "*/*"):
        assert not re.fullmatch(pattern, refused), refused


def test_the_oidc_provider_is_github_for_sts_and_outlives_the_stack(
    bootstrap: dict[str, Any],
) -> None:
    provider = bootstrap["Resources"]["GitHubOidcProvider"]
    assert provider["Condition"] == "CreateProvider"
    assert provider["DeletionPolicy"] == "Retain"  # the other stages' roles trust it too
    assert provider["Properties"]["Url"] == "https://token.actions.githubusercontent.com"
    assert provider["Properties"]["ClientIdList"] == ["sts.amazonaws.com"]


# ------------------------------------------------------------------------------------------
# What the deploy may do
# ------------------------------------------------------------------------------------------
def test_the_plan_role_cannot_execute_or_change_a_resource(bootstrap: dict[str, Any]) -> None:
    deployed = _deployed(bootstrap, "prod", "true")
    resolve = _resolver(deployed, "prod")
    plan = _documents(deployed, "PlanRole")
    for action in ("cloudformation:ExecuteChangeSet", "lambda:CreateFunction", "iam:CreateRole"):
        grants = [resolve(s["Resource"]) for s in _allows(plan, action)]
        assert not any("hksync-prod" in str(r) for r in grants), action
    assert _allows(plan, "cloudformation:CreateChangeSet")
    assert _allows(_documents(deployed, "DeployRole"), "cloudformation:ExecuteChangeSet")


def test_the_deploy_role_invokes_the_custom_resource_and_passes_its_roles(
    bootstrap: dict[str, Any],
) -> None:
    deployed = _deployed(bootstrap, "prod", "true")
    resolve = _resolver(deployed, "prod")
    documents = _documents(deployed, "DeployRole")
    (invoke,) = list(_allows(documents, "lambda:InvokeFunction"))
    assert resolve(invoke["Resource"]) == (
        "arn:aws:lambda:eu-central-1:123456789012:function:hksync-prod-MigrationFunction-*"
    )
    (passes,) = _allows(documents, "iam:PassRole")
    assert resolve(passes["Resource"]) == "arn:aws:iam::123456789012:role/hksync-prod-*"
    assert passes["Condition"] == {
        "StringEquals": {"iam:PassedToService": ["lambda.amazonaws.com", "rds.amazonaws.com"]}
    }


def test_the_deploy_role_creates_and_changes_roles_only_within_the_boundary(
    bootstrap: dict[str, Any],
) -> None:
    deployed = _deployed(bootstrap, "prod", "true")
    documents = _documents(deployed, "DeployRole")
    boundary = {"Ref": "RoleBoundary"}
    for action in (
        "iam:CreateRole",
        "iam:PutRolePolicy",
        "iam:AttachRolePolicy",
        "iam:DetachRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:PutRolePermissionsBoundary",
    ):
        grants = _allows(documents, action)
        assert grants, action
        for statement in grants:
            assert statement["Condition"] == {
                "StringEquals": {"iam:PermissionsBoundary": boundary}
            }, action
    assert _allows(documents, "iam:DeleteRolePermissionsBoundary", "Deny")
    (never,) = list(_allows(documents, "iam:CreatePolicyVersion", "Deny"))
    assert boundary in as_list(never["Resource"])  # nor edit the boundary itself
    assert deployed["Resources"]["RoleBoundary"]["Properties"]["ManagedPolicyName"] == {
        "Fn::Sub": "hksync-boundary-${Stage}"
    }


@pytest.mark.parametrize("stage", STAGES)
def test_every_role_of_the_stack_carries_the_stages_boundary(
    sam: dict[str, Any], stage: str
) -> None:
    configured = load_samconfig()[stage]["deploy"]["parameters"]["parameter_overrides"]
    assert parse_parameter_overrides(configured)["RolePermissionsBoundary"] == (
        f"hksync-boundary-{stage}"
    )
    for proxy in ("true", "false"):
        parameters = parameter_values(sam, stage, EnableRdsProxy=proxy)
        deployed = apply_conditions(to_cloudformation(sam, parameters), parameters)
        resolve = Resolver(deployed, parameters)
        roles = resources_of_type(deployed, "AWS::IAM::Role")
        assert roles
        for name, role in roles.items():
            assert resolve(role["Properties"].get("PermissionsBoundary")) == (
                f"arn:aws:iam::123456789012:policy/hksync-boundary-{stage}"
            ), name


@pytest.mark.parametrize("mode", ["direct", "queue"])
def test_the_deploy_role_can_create_every_resource_of_the_stack(
    bootstrap: dict[str, Any], mode: str
) -> None:
    sam = load_sam_template()
    parameters = parameter_values(sam, "prod", ProcessingMode=mode, EnableRdsProxy="true")
    stack = apply_conditions(to_cloudformation(sam, parameters), parameters)
    types = {resource["Type"] for resource in stack["Resources"].values()}
    assert types <= set(CREATED_BY), f"add to CREATED_BY: {sorted(types - set(CREATED_BY))}"
    documents = _documents(_deployed(bootstrap, "prod", "true"), "DeployRole")
    for resource_type in sorted(types):
        assert _allows(documents, CREATED_BY[resource_type]), resource_type


def test_the_boundary_allows_every_action_the_stacks_roles_are_granted(
    bootstrap: dict[str, Any],
) -> None:
    """A role's permissions are its policies within its boundary: an action the template grants
    and the boundary does not would fail in the deployed function, and nowhere else."""
    boundary = [bootstrap["Resources"]["RoleBoundary"]["Properties"]["PolicyDocument"]]
    sam = load_sam_template()
    parameters = parameter_values(sam, "prod", ProcessingMode="queue", EnableRdsProxy="true")
    stack = apply_conditions(to_cloudformation(sam, parameters), parameters)
    granted: set[str] = set()
    for name, role in resources_of_type(stack, "AWS::IAM::Role").items():
        for document in role_documents(stack, name):
            for statement in statements(document):
                if statement["Effect"] == "Allow":
                    granted |= set(as_list(statement["Action"]))
        for arn in role["Properties"].get("ManagedPolicyArns", []):
            if isinstance(arn, str):
                granted |= set(AWS_MANAGED_POLICY_ACTIONS[arn])
    assert granted
    assert sorted(a for a in granted if not _allows(boundary, a)) == []
