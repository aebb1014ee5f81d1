"""The stack around the functions, checked offline on the transformed template: the KMS key,
the network (created or existing), Aurora and RDS Proxy, the migrations every deploy runs, the
database's protection by reserved concurrency, and the reasons for every skipped scanner check.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.infrastructure.template import (
    PLACEHOLDER,
    ROOT,
    Resolver,
    apply_conditions,
    as_list,
    environment_of,
    parameter_values,
    resources_of_type,
    statements,
    to_cloudformation,
)

DATA_KEY_ARN = {"Fn::GetAtt": ["DataKey", "Arn"]}
EXISTING_VPC = {
    "ExistingVpcId": "vpc-0a1b2c3d4e5f60718",
    "ExistingPrivateSubnetIds": "subnet-0a1b2c3d4e5f60718,subnet-0b1c2d3e4f5061728",
}
NETWORK_RESOURCES = {
    "Vpc",
    "PrivateSubnetA",
    "PrivateSubnetB",
    "PrivateRouteTable",
    "S3GatewayEndpoint",
    "SecretsManagerEndpoint",
    "EventsEndpoint",
    "EndpointSecurityGroup",
}


def deploy(sam: dict[str, Any], stage: str = "dev", **overrides: str) -> dict[str, Any]:
    """The transformed template as CloudFormation deploys it with these values."""
    parameters = parameter_values(sam, stage, **overrides)
    return apply_conditions(to_cloudformation(sam, parameters), parameters)


def props(template: dict[str, Any], name: str) -> dict[str, Any]:
    value: dict[str, Any] = template["Resources"][name]["Properties"]
    return value


def functions_of(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources_of_type(template, "AWS::Lambda::Function")


def database_functions(template: dict[str, Any]) -> set[str]:
    return {
        name for name in functions_of(template) if "DB_SECRET_ARN" in environment_of(template, name)
    }


# ------------------------------------------------------------------------------------------
# Encryption
# ------------------------------------------------------------------------------------------
def test_the_data_key_rotates_and_outlives_the_stack(cfn: dict[str, Any]) -> None:
    key = cfn["Resources"]["DataKey"]
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"


def test_the_key_policy_names_only_the_account_and_the_services_that_need_it(
    cfn: dict[str, Any],
) -> None:
    policy = props(cfn, "DataKey")["KeyPolicy"]
    principals = {str(s["Principal"]) for s in statements(policy)}
    assert all("*" not in p or "root" in p for p in principals), principals
    by_sid = {s["Sid"]: s for s in statements(policy)}
    assert by_sid["AccountAdministersTheKeyThroughIam"]["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    }
    logs = by_sid["CloudWatchLogsEncryptsThisStacksLogGroups"]
    context = logs["Condition"]["ArnLike"]["kms:EncryptionContext:aws:logs:arn"]
    assert "${AWS::StackName}" in context["Fn::Sub"]  # this stack's log groups only
    s3 = by_sid["S3SendsNotificationsToTheEncryptedQueue"]
    assert s3["Principal"] == {"Service": "s3.amazonaws.com"}
    assert set(as_list(s3["Action"])) == {"kms:GenerateDataKey", "kms:Decrypt"}
    alarms = by_sid["CloudWatchAlarmsPublishToTheEncryptedOpsTopic"]
    assert alarms["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert set(as_list(alarms["Action"])) == {"kms:GenerateDataKey*", "kms:Decrypt"}
    events = by_sid["EventBridgeEncryptsTheChangeEventBus"]  # test_change_events_template
    assert events["Principal"] == {"Service": "events.amazonaws.com"}
    assert set(events["Condition"]["StringEquals"]) == {"aws:SourceAccount", "aws:SourceArn"}
    assert set(by_sid) == {
        "AccountAdministersTheKeyThroughIam",
        "CloudWatchLogsEncryptsThisStacksLogGroups",
        "CloudWatchAlarmsPublishToTheEncryptedOpsTopic",
        "S3SendsNotificationsToTheEncryptedQueue",
        "EventBridgeEncryptsTheChangeEventBus",
    }


def test_service_principals_use_the_key_only_for_this_account(cfn: dict[str, Any]) -> None:
    """A service principal acts for every account (the confused deputy): each statement that
    grants one names this account, by aws:SourceAccount or, for CloudWatch Logs, by the log
    group ARN in the encryption context (the condition Logs documents)."""
    policy = props(cfn, "DataKey")["KeyPolicy"]
    services = [s for s in statements(policy) if "Service" in s["Principal"]]
    assert services
    account = {"Ref": "AWS::AccountId"}
    for statement in services:
        condition = statement.get("Condition", {})
        source_account = condition.get("StringEquals", {}).get("aws:SourceAccount")
        context = condition.get("ArnLike", {}).get("kms:EncryptionContext:aws:logs:arn")
        if statement["Principal"]["Service"] == {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}:
            assert ":${AWS::AccountId}:log-group:" in context["Fn::Sub"], statement["Sid"]
        else:
            assert source_account == account, statement["Sid"]


def test_every_queue_is_encrypted_with_the_key_and_refuses_plain_http(
    cfn: dict[str, Any],
) -> None:
    queues = resources_of_type(cfn, "AWS::SQS::Queue")
    assert queues
    denied = {
        str(queue)
        for policy in resources_of_type(cfn, "AWS::SQS::QueuePolicy").values()
        for statement in statements(policy["Properties"]["PolicyDocument"])
        if statement["Effect"] == "Deny"
        and statement.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        for queue in policy["Properties"]["Queues"]
    }
    for name, queue in queues.items():
        assert queue["Properties"].get("KmsMasterKeyId") == {"Ref": "DataKey"}, name
        assert str({"Ref": name}) in denied, f"{name} accepts requests without TLS"


def test_the_access_log_bucket_is_private_and_refuses_plain_http(cfn: dict[str, Any]) -> None:
    bucket = props(cfn, "AccessLogsBucket")
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    policy = props(cfn, "AccessLogsBucketPolicy")["PolicyDocument"]
    (allow,) = [s for s in statements(policy) if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert allow["Action"] == "s3:PutObject"
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements(policy)
    )


# ------------------------------------------------------------------------------------------
# Network
# ------------------------------------------------------------------------------------------
def test_the_created_vpc_is_private_with_endpoints(sam: dict[str, Any]) -> None:
    deployed = deploy(sam)
    names = set(deployed["Resources"])
    assert names >= NETWORK_RESOURCES
    # No way to the internet: no gateway, no NAT, no route but the S3 endpoint's.
    kinds = {r["Type"] for r in deployed["Resources"].values()}
    assert not kinds & {
        "AWS::EC2::InternetGateway",
        "AWS::EC2::NatGateway",
        "AWS::EC2::Route",
        "AWS::EC2::EgressOnlyInternetGateway",
    }
    zones = {
        str(props(deployed, s)["AvailabilityZone"]) for s in ("PrivateSubnetA", "PrivateSubnetB")
    }
    assert len(zones) == 2
    for subnet in ("PrivateSubnetA", "PrivateSubnetB"):
        assert props(deployed, subnet)["MapPublicIpOnLaunch"] is False
    s3 = props(deployed, "S3GatewayEndpoint")
    assert s3["VpcEndpointType"] == "Gateway"
    assert s3["RouteTableIds"] == [{"Ref": "PrivateRouteTable"}]
    secrets = props(deployed, "SecretsManagerEndpoint")
    assert secrets["VpcEndpointType"] == "Interface"
    assert secrets["PrivateDnsEnabled"] is True
    assert props(deployed, "Vpc")["EnableDnsHostnames"] is True


def test_an_existing_vpc_replaces_the_created_network(sam: dict[str, Any]) -> None:
    deployed = deploy(sam, **EXISTING_VPC)
    assert not NETWORK_RESOURCES & set(deployed["Resources"])
    subnets = {"Fn::Split": [",", {"Ref": "ExistingPrivateSubnetIds"}]}
    assert props(deployed, "DatabaseSubnetGroup")["SubnetIds"] == subnets
    for function in database_functions(deployed):
        assert props(deployed, function)["VpcConfig"]["SubnetIds"] == subnets, function
    for group in ("FunctionSecurityGroup", "DatabaseSecurityGroup"):
        assert props(deployed, group)["VpcId"] == {"Ref": "ExistingVpcId"}


def test_existing_vpc_and_its_subnets_are_required_together(sam: dict[str, Any]) -> None:
    rules = sam["Rules"]
    assert rules["ExistingVpcNeedsItsSubnets"]["RuleCondition"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ExistingVpcId"}, ""]}]
    }
    assert rules["SubnetsNeedTheirVpc"]["RuleCondition"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ExistingPrivateSubnetIds"}, ""]}]
    }


def test_nothing_is_open_to_the_world(cfn: dict[str, Any]) -> None:
    rules = [
        (name, rule)
        for name, group in resources_of_type(cfn, "AWS::EC2::SecurityGroup").items()
        for rule in group["Properties"].get("SecurityGroupIngress", [])
    ] + [
        (name, ingress["Properties"])
        for name, ingress in resources_of_type(cfn, "AWS::EC2::SecurityGroupIngress").items()
    ]
    assert rules
    for name, rule in rules:
        assert "CidrIp" not in rule, f"{name}: {rule}"
        assert "CidrIpv6" not in rule, f"{name}: {rule}"
        assert "SourceSecurityGroupId" in rule, name


def test_only_the_functions_and_the_proxy_reach_postgresql(sam: dict[str, Any]) -> None:
    deployed = deploy(sam, EnableRdsProxy="true")
    into_database = {
        str(rule["Properties"]["SourceSecurityGroupId"])
        for rule in resources_of_type(deployed, "AWS::EC2::SecurityGroupIngress").values()
        if rule["Properties"]["GroupId"] == {"Fn::GetAtt": ["DatabaseSecurityGroup", "GroupId"]}
        and rule["Properties"]["FromPort"] == rule["Properties"]["ToPort"] == 5432
    }
    assert into_database == {
        str({"Fn::GetAtt": ["FunctionSecurityGroup", "GroupId"]}),
        str({"Fn::GetAtt": ["DatabaseProxySecurityGroup", "GroupId"]}),
    }


# ------------------------------------------------------------------------------------------
# Database
# ------------------------------------------------------------------------------------------
def test_aurora_serverless_v2_postgresql_16_encrypted_with_a_managed_secret(
    cfn: dict[str, Any],
) -> None:
    cluster = cfn["Resources"]["DatabaseCluster"]
    assert cluster["DeletionPolicy"] == cluster["UpdateReplacePolicy"] == "Snapshot"
    p = cluster["Properties"]
    assert p["Engine"] == "aurora-postgresql"
    assert p["EngineVersion"] == {"Ref": "DatabaseEngineVersion"}
    assert p["StorageEncrypted"] is True
    assert p["KmsKeyId"] == DATA_KEY_ARN
    assert p["ManageMasterUserPassword"] is True
    assert p["MasterUserSecret"] == {"KmsKeyId": DATA_KEY_ARN}
    assert "MasterUserPassword" not in p
    assert p["ServerlessV2ScalingConfiguration"] == {
        "MinCapacity": {"Ref": "DatabaseMinCapacity"},
        "MaxCapacity": {"Ref": "DatabaseMaxCapacity"},
    }
    assert p["DeletionProtection"] == {"Fn::If": ["IsProd", True, False]}
    family = props(cfn, "DatabaseClusterParameterGroup")
    assert family["Family"] == "aurora-postgresql16"
    assert family["Parameters"]["rds.force_ssl"] == "1"  # TLS in transit, always
    for instance in resources_of_type(cfn, "AWS::RDS::DBInstance").values():
        assert instance["Properties"]["DBInstanceClass"] == "db.serverless"
        assert instance["Properties"]["PubliclyAccessible"] is False


def test_the_engine_version_parameter_allows_postgresql_16_only(sam: dict[str, Any]) -> None:
    import re

    spec = sam["Parameters"]["DatabaseEngineVersion"]
    assert re.fullmatch(spec["AllowedPattern"], spec["Default"])
    assert re.fullmatch(spec["AllowedPattern"], "16.8")
    assert not re.fullmatch(spec["AllowedPattern"], "15.7")


def test_prod_has_a_standby_instance_and_the_others_do_not(sam: dict[str, Any]) -> None:
    assert "DatabaseStandbyInstance" in deploy(sam, "prod")["Resources"]
    assert "DatabaseStandbyInstance" not in deploy(sam, "dev")["Resources"]


@pytest.mark.parametrize("proxy", ["false", "true"])
def test_functions_connect_to_the_proxy_when_there_is_one(sam: dict[str, Any], proxy: str) -> None:
    deployed = deploy(sam, EnableRdsProxy=proxy)
    proxies = resources_of_type(deployed, "AWS::RDS::DBProxy")
    cluster = {"Fn::GetAtt": ["DatabaseCluster", "Endpoint.Address"]}
    expected = {"Fn::GetAtt": ["DatabaseProxy", "Endpoint"]} if proxy == "true" else cluster
    assert len(proxies) == (1 if proxy == "true" else 0)
    for function in database_functions(deployed) - {"MigrationFunction"}:
        assert environment_of(deployed, function)["DB_HOST"] == expected, function
    # Migrations (DDL, a session-level advisory lock) always go straight to the cluster.
    assert environment_of(deployed, "MigrationFunction")["DB_HOST"] == cluster
    if proxy == "true":
        (proxy_props,) = (p["Properties"] for p in proxies.values())
        assert proxy_props["RequireTLS"] is True
        assert proxy_props["EngineFamily"] == "POSTGRESQL"
        (auth,) = proxy_props["Auth"]
        assert auth["SecretArn"] == {
            "Fn::GetAtt": ["DatabaseCluster", "MasterUserSecret.SecretArn"]
        }


#: Each database function and the parameter its reserved concurrency comes from.
RESERVED_CONCURRENCY = {
    "ProcessorFunction": "ProcessorReservedConcurrency",
    "QueryFunction": "QueryReservedConcurrency",
    "RemindersFunction": "QueryReservedConcurrency",
    "DispatcherFunction": "DispatcherReservedConcurrency",
    "AccountFunction": "AccountReservedConcurrency",
    "ErasureWorkerFunction": "ErasureReservedConcurrency",
}
#: Executions Lambda keeps out of any reservation (its "unreserved account concurrency" minimum).
LAMBDA_UNRESERVED_MINIMUM = 100


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_reserved_concurrency_protects_the_database(sam: dict[str, Any], stage: str) -> None:
    deployed = deploy(sam, stage)
    parameters = parameter_values(sam, stage)
    assert database_functions(deployed) == set(RESERVED_CONCURRENCY) | {"MigrationFunction"}
    for function, parameter in RESERVED_CONCURRENCY.items():
        reserved = props(deployed, function).get("ReservedConcurrentExecutions")
        assert reserved == {"Ref": parameter}, f"{function} can open unbounded connections"
        assert int(parameters[parameter]) > 0, parameter
    # CloudFormation invokes it once per deploy and its advisory lock queues a second run: a
    # reservation would only take from the account's quota.
    assert "ReservedConcurrentExecutions" not in props(deployed, "MigrationFunction")


def test_dev_reserves_no_concurrency_so_a_new_account_can_deploy_it(sam: dict[str, Any]) -> None:
    """New accounts often have a Lambda quota of 10 or 50; with 100 kept unreserved, any
    reservation fails the deploy there. 0 means "none", never "throttle everything"."""
    deployed = deploy(sam, "dev")
    for parameter in set(RESERVED_CONCURRENCY.values()):
        assert parameter_values(sam, "dev")[parameter] == "0", parameter
        assert sam["Parameters"][parameter]["MinValue"] == 0, parameter
    for function in functions_of(deployed):
        assert "ReservedConcurrentExecutions" not in props(deployed, function), function


def test_the_quota_the_defaults_need_is_documented(sam: dict[str, Any]) -> None:
    """What a stage with the template's defaults reserves, plus what Lambda keeps unreserved,
    is the account quota a first deploy needs: the README says both numbers."""
    reserved = sum(
        int(sam["Parameters"][parameter]["Default"]) for parameter in RESERVED_CONCURRENCY.values()
    )
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert f"reserve {reserved} concurrent executions" in readme
    assert f"at least {reserved + LAMBDA_UNRESERVED_MINIMUM}" in readme


def test_the_erasure_worker_reserves_apart_from_the_me_routes(sam: dict[str, Any]) -> None:
    deployed = deploy(sam, "prod")
    routes = {
        (event["Properties"]["Method"], event["Properties"]["Path"]): name
        for name, resource in sam["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "HttpApi"
    }
    assert routes[("DELETE", "/v1/me")] == routes[("GET", "/v1/me/erasure")] == "AccountFunction"
    assert "ErasureWorkerFunction" not in routes.values()
    (mapping,) = [
        m["Properties"]
        for m in resources_of_type(deployed, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": ["ErasureQueue", "Arn"]}
    ]
    assert mapping["FunctionName"] == {"Ref": "ErasureWorkerFunction"}
    worker = props(deployed, "ErasureWorkerFunction")
    api = props(deployed, "AccountFunction")
    assert worker["ReservedConcurrentExecutions"] == {"Ref": "ErasureReservedConcurrency"}
    assert api["ReservedConcurrentExecutions"] == {"Ref": "AccountReservedConcurrency"}
    # No more batches than the worker may run: a throttled batch counts as a receive.
    assert mapping["ScalingConfig"]["MaximumConcurrency"] == worker["ReservedConcurrentExecutions"]
    # The worker runs for minutes, the routes answer within API Gateway's 30 s.
    assert worker["Timeout"] == 900
    assert api["Timeout"] < 30


def test_a_queue_consumer_reserves_none_or_at_least_two(sam: dict[str, Any]) -> None:
    """An SQS event source runs at least 2 batches at once."""
    rules = sam["Rules"]
    processor = rules["QueueProcessorNeedsTwoExecutions"]
    assert processor["RuleCondition"] == {"Fn::Equals": [{"Ref": "ProcessingMode"}, "queue"]}
    assert processor["Assertions"][0]["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ProcessorReservedConcurrency"}, "1"]}]
    }
    erasure = rules["ErasureWorkerNeedsTwoExecutions"]
    assert erasure["Assertions"][0]["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ErasureReservedConcurrency"}, "1"]}]
    }
    unreserved = deploy(sam, "dev", ProcessingMode="queue")
    for mapping in resources_of_type(unreserved, "AWS::Lambda::EventSourceMapping").values():
        assert mapping["Properties"]["ScalingConfig"]["MaximumConcurrency"] == 2


# ------------------------------------------------------------------------------------------
# Migrations on deploy
# ------------------------------------------------------------------------------------------
def test_every_deploy_that_changes_shared_code_runs_the_migrations(cfn: dict[str, Any]) -> None:
    schema = cfn["Resources"]["DatabaseSchema"]
    assert schema["Type"] == "Custom::DatabaseMigrations"
    p = schema["Properties"]
    assert p["ServiceToken"] == {"Fn::GetAtt": ["MigrationFunction", "Arn"]}
    # The layer's version changes with any change to shared/hksync, migrations included (the
    # transform names each layer version's resource after a hash of its content).
    (layer,) = p["SharedCodeVersion"].values()
    assert layer.startswith("HksyncLayer")
    assert cfn["Resources"][layer]["Type"] == "AWS::Lambda::LayerVersion"
    assert p["ServiceTimeout"] > props(cfn, "MigrationFunction")["Timeout"]
    assert "DatabaseWriterInstance" in as_list(schema["DependsOn"])


def test_the_migrations_depend_on_all_they_need_to_run_and_answer(sam: dict[str, Any]) -> None:
    """Created after, and deleted before, the network it answers CloudFormation through: on a
    delete or rollback that took the route table associations first, the function could not
    reach S3, and CloudFormation would wait out the timeout to end DELETE_FAILED."""
    created = deploy(sam)["Resources"]["DatabaseSchema"]
    assert set(as_list(created["DependsOn"])) >= {
        "DatabaseWriterInstance",
        "FunctionToDatabaseEgress",
        "DatabaseFromFunctionsIngress",
    }
    associations = resources_of_type(deploy(sam), "AWS::EC2::SubnetRouteTableAssociation")
    assert set(associations) == {"PrivateSubnetARouteTable", "PrivateSubnetBRouteTable"}
    assert created["Metadata"]["NetworkReady"] == [
        {"Ref": "S3GatewayEndpoint"},
        {"Ref": "SecretsManagerEndpoint"},
        *({"Ref": name} for name in sorted(associations)),
    ]
    # With an existing VPC none of these is the stack's (and a DependsOn on an absent
    # resource fails the deploy): the reference is conditional, in Metadata.
    existing = deploy(sam, **EXISTING_VPC)["Resources"]["DatabaseSchema"]
    assert "NetworkReady" not in existing.get("Metadata", {})
    assert set(as_list(existing["DependsOn"])) <= set(deploy(sam, **EXISTING_VPC)["Resources"])


def test_new_function_code_goes_live_after_the_schema(cfn: dict[str, Any]) -> None:
    for function in database_functions(cfn) - {"MigrationFunction"}:
        depends_on = as_list(cfn["Resources"][function].get("DependsOn", []))
        assert "DatabaseSchema" in depends_on, f"{function} may run before its schema exists"


def test_the_database_functions_read_the_secret_of_the_cluster(sam: dict[str, Any]) -> None:
    parameters = parameter_values(sam, "dev")
    deployed = apply_conditions(to_cloudformation(sam, parameters), parameters)
    resolve = Resolver(deployed, parameters)
    policy = props(deployed, "DatabaseAccessPolicy")["PolicyDocument"]
    by_sid = {s["Sid"]: s for s in statements(policy)}
    assert by_sid["ReadDatabaseSecret"]["Resource"] == {
        "Fn::GetAtt": ["DatabaseCluster", "MasterUserSecret.SecretArn"]
    }
    decrypt = by_sid["DecryptDatabaseSecret"]
    assert decrypt["Resource"] == DATA_KEY_ARN
    assert resolve(decrypt["Condition"]["StringEquals"]["kms:ViaService"]) == (
        "secretsmanager.eu-central-1.amazonaws.com"
    )
    assert resolve(decrypt["Resource"]) == PLACEHOLDER


# ------------------------------------------------------------------------------------------
# The security scan: every skipped check says why, in the template
# ------------------------------------------------------------------------------------------
def test_every_skipped_scanner_check_carries_its_reason(sam: dict[str, Any]) -> None:
    skips = [
        (name, skip)
        for name, resource in sam["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert skips
    for name, skip in skips:
        assert set(skip) == {"id", "comment"}, f"{name}: {skip}"
        assert skip["id"].startswith(("CKV_AWS_", "CKV2_AWS_")), f"{name}: {skip['id']}"
        assert len(skip["comment"].split()) >= 5, f"{name} skips {skip['id']} without a reason"
