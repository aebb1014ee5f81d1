"""template.yaml, checked offline: SAM transform, cfn-lint, settings, IAM, bucket, API, events.

The SAM template is transformed into plain CloudFormation with samtranslator (what
CloudFormation itself runs for ``Transform: AWS::Serverless-2016-10-31``), and most checks read
the result: that is what gets deployed, Globals merged and SAM's generated roles, permissions and
OpenAPI body included.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import re
import warnings
from typing import Any

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventV2Model, S3Model

from hksync.contract.decoding import decode_chunk
from hksync.contract.models import SyncCommit
from hksync.settings import (
    AccountSettings,
    ConfigurationError,
    DatabaseSettings,
    DispatcherSettings,
    IngestSettings,
    MigrationSettings,
    ProcessorSettings,
    QuerySettings,
    RemindersSettings,
    load_settings,
)
from tests.infrastructure.template import (
    DEPLOY_REGION,
    DEPLOY_TIME_PARAMETERS,
    EVENTS_DIR,
    PLACEHOLDER,
    STAGES,
    TEMPLATE_PATH,
    Resolver,
    apply_conditions,
    as_list,
    broad_grants,
    describe,
    environment_of,
    http_api_routes,
    integration_function,
    lint,
    load_samconfig,
    parameter_values,
    parse_parameter_overrides,
    policy_documents,
    resources_of_type,
    role_documents,
    role_of,
    statements,
    to_cloudformation,
)

#: Each function and the settings model its code loads at cold start.
FUNCTION_SETTINGS: dict[
    str,
    type[
        IngestSettings
        | ProcessorSettings
        | QuerySettings
        | RemindersSettings
        | DispatcherSettings
        | MigrationSettings
        | AccountSettings
    ],
] = {
    "IngestFunction": IngestSettings,
    "ProcessorFunction": ProcessorSettings,
    "MigrationFunction": MigrationSettings,
    "RemindersFunction": RemindersSettings,
    "DispatcherFunction": DispatcherSettings,
    "QueryFunction": QuerySettings,
    "AccountFunction": AccountSettings,
    "ErasureWorkerFunction": AccountSettings,
}
#: Variables every function gets that Powertools reads, not the settings models.
POWERTOOLS_VARIABLES = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL"}

ROUTES = {
    "PUT /v1/syncs/{sync_id}/chunks/{seq}": "IngestFunction",
    "POST /v1/syncs/{sync_id}/chunks/{seq}/upload-url": "IngestFunction",
    "PUT /v1/syncs/{sync_id}/commit": "IngestFunction",
    "GET /v1/syncs/{sync_id}": "QueryFunction",
    "GET /v1/syncs/{sync_id}/rejected": "QueryFunction",
    "GET /v1/samples": "QueryFunction",
    "GET /v1/summaries/daily": "QueryFunction",
    "PUT /v1/me/source-priority": "QueryFunction",
    "GET /v1/anchors": "QueryFunction",
    "POST /v1/reminders": "RemindersFunction",
    "GET /v1/reminders": "RemindersFunction",
    "PUT /v1/reminders/{reminder_id}": "RemindersFunction",
    "DELETE /v1/reminders/{reminder_id}": "RemindersFunction",
    "DELETE /v1/me": "AccountFunction",
    "GET /v1/me/erasure": "AccountFunction",
}
DB_HOST_CLUSTER = {"Fn::GetAtt": ["DatabaseCluster", "Endpoint.Address"]}
DB_HOST_CLUSTER_OR_PROXY = {
    "Fn::If": ["UseRdsProxy", {"Fn::GetAtt": ["DatabaseProxy", "Endpoint"]}, DB_HOST_CLUSTER]
}
#: Functions whose folder is not their logical id without "Function", lowercased.
FUNCTION_FOLDERS = {"MigrationFunction": "migrate", "ErasureWorkerFunction": "account"}
DATABASE_FUNCTIONS = (
    "ProcessorFunction",
    "QueryFunction",
    "MigrationFunction",
    "RemindersFunction",
    "DispatcherFunction",
    "AccountFunction",
    "ErasureWorkerFunction",
)
RAW_BUCKET_DEV = f"hksync-raw-dev-123456789012-{DEPLOY_REGION}"


@pytest.fixture(scope="module")
def resolve(cfn: dict[str, Any], sam: dict[str, Any]) -> Resolver:
    """Intrinsic functions evaluated as in the dev deploy."""
    return Resolver(cfn, parameter_values(sam, "dev"))


def resources(cfn: dict[str, Any]) -> dict[str, Any]:
    resources: dict[str, Any] = cfn["Resources"]
    return resources


def properties(cfn: dict[str, Any], name: str) -> dict[str, Any]:
    props: dict[str, Any] = cfn["Resources"][name]["Properties"]
    return props


# ------------------------------------------------------------------------------------------
# Transform and lint
# ------------------------------------------------------------------------------------------
def _assert_no_lint_errors(findings: list[Any], what: str) -> None:
    errors = [describe(m) for m in findings if m.rule.id.startswith("E")]
    others = [describe(m) for m in findings if not m.rule.id.startswith("E")]
    for finding in others:
        warnings.warn(f"cfn-lint ({what}): {finding}", stacklevel=2)
    assert not errors, f"cfn-lint errors in the {what}:\n" + "\n".join(errors + others)


def test_sam_template_lints_without_errors() -> None:
    # What `sam validate --lint` runs: cfn-lint on the SAM template (with SAM's schemas).
    _assert_no_lint_errors(lint(TEMPLATE_PATH.read_text()), "SAM template")


def test_transformed_template_lints_without_errors(cfn: dict[str, Any]) -> None:
    _assert_no_lint_errors(lint(cfn), "transformed template")


def test_transform_turns_every_sam_resource_into_cloudformation(cfn: dict[str, Any]) -> None:
    assert "Globals" not in cfn
    serverless = [
        name for name, r in resources(cfn).items() if r["Type"].startswith("AWS::Serverless::")
    ]
    assert serverless == []


def test_transform_never_asks_iam_for_managed_policies(sam: dict[str, Any]) -> None:
    # The offline loader must fail loudly rather than let a name pass through unresolved.
    function = {
        "Type": "AWS::Serverless::Function",
        "Properties": {
            "CodeUri": "functions/x/",
            "Handler": "app.handler",
            "Runtime": "python3.12",
            "Policies": ["NoSuchAwsManagedPolicyName"],
        },
    }
    template = {"Transform": sam["Transform"], "Resources": {"Probe": function}}
    with pytest.raises(LookupError, match="does not know offline"):
        to_cloudformation(template)


# ------------------------------------------------------------------------------------------
# Configuration: every function's environment satisfies its settings model
# ------------------------------------------------------------------------------------------
def _resolved_environment(
    sam: dict[str, Any], cfn: dict[str, Any], function: str, stage: str
) -> dict[str, Any]:
    parameters = parameter_values(sam, stage)
    deployed = apply_conditions(cfn, parameters)
    resolve = Resolver(deployed, parameters)
    return {name: resolve(value) for name, value in environment_of(deployed, function).items()}


def _use_environment(
    monkeypatch: pytest.MonkeyPatch, model: type[Any], variables: dict[str, str]
) -> None:
    """Exactly ``variables`` for the names the model reads: the developer's own environment
    (a DATABASE_URL for the test database, say) must not make a template gap pass unseen."""
    names = {field.upper() for field in model.model_fields} | set(variables)
    for key in list(os.environ):
        if key.upper() in names:
            monkeypatch.delenv(key)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)


def _required_variables(model: type[Any]) -> list[str]:
    required = [name.upper() for name, field in model.model_fields.items() if field.is_required()]
    if issubclass(model, DatabaseSettings):
        required.append("DB_SECRET_ARN")  # one of DATABASE_URL/DB_SECRET_ARN; AWS uses the secret
    return required


def test_every_function_has_a_settings_model(cfn: dict[str, Any]) -> None:
    functions = set(resources_of_type(cfn, "AWS::Lambda::Function"))
    assert functions == set(FUNCTION_SETTINGS)


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize("function", sorted(FUNCTION_SETTINGS))
def test_function_environment_satisfies_its_settings(
    function: str,
    stage: str,
    sam: dict[str, Any],
    cfn: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = FUNCTION_SETTINGS[function]
    _use_environment(monkeypatch, model, _resolved_environment(sam, cfn, function, stage))

    settings = load_settings(model)

    assert settings.stage == stage
    if isinstance(settings, DatabaseSettings):
        # The cluster's managed secret and its (or the proxy's) endpoint: known once deployed.
        assert settings.db_secret_arn == PLACEHOLDER
        assert settings.db_host == PLACEHOLDER
        assert settings.database_url is None


@pytest.mark.parametrize("function", sorted(FUNCTION_SETTINGS))
def test_function_sets_only_variables_its_code_reads(function: str, cfn: dict[str, Any]) -> None:
    # A misspelt optional variable (DB_NAMES) would otherwise be ignored without a word.
    known = {name.upper() for name in FUNCTION_SETTINGS[function].model_fields}
    unknown = set(environment_of(cfn, function)) - known - POWERTOOLS_VARIABLES
    assert not unknown, f"{function} sets variables no settings model reads: {sorted(unknown)}"


@pytest.mark.parametrize(
    ("function", "variable"),
    [
        (function, variable)
        for function, model in sorted(FUNCTION_SETTINGS.items())
        for variable in _required_variables(model)
    ],
)
def test_missing_variable_fails_at_start_naming_it(
    function: str,
    variable: str,
    sam: dict[str, Any],
    cfn: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = FUNCTION_SETTINGS[function]
    variables = _resolved_environment(sam, cfn, function, "dev")
    assert variable in variables, f"template.yaml gives {function} no {variable}"
    del variables[variable]
    _use_environment(monkeypatch, model, variables)

    with pytest.raises(ConfigurationError, match=rf"\b{variable}\b") as failure:
        load_settings(model)
    assert "missing" in str(failure.value)


def test_environment_resolves_to_the_stage_values(sam: dict[str, Any], cfn: dict[str, Any]) -> None:
    ingest = _resolved_environment(sam, cfn, "IngestFunction", "prod")
    processor = _resolved_environment(sam, cfn, "ProcessorFunction", "prod")
    assert ingest["STAGE"] == processor["STAGE"] == "prod"
    assert ingest["POWERTOOLS_SERVICE_NAME"] == "hksync"
    assert ingest["POWERTOOLS_METRICS_NAMESPACE"] == "hksync"
    assert ingest["LOG_LEVEL"] == "INFO"
    # Ingest refers to the bucket, the processor builds its name (no circular dependency):
    # both must name the same bucket.
    assert (
        ingest["RAW_BUCKET"]
        == processor["RAW_BUCKET"]
        == f"hksync-raw-prod-123456789012-{DEPLOY_REGION}"
    )


def test_log_level_can_never_be_debug(sam: dict[str, Any], cfn: dict[str, Any]) -> None:
    # Lambda sets the root logger to the application level: at DEBUG, botocore would log
    # request and response bodies (samples, the database password).
    assert not {"DEBUG", "TRACE"} & set(sam["Parameters"]["LogLevel"]["AllowedValues"])
    for function in FUNCTION_SETTINGS:
        logging_config = properties(cfn, function)["LoggingConfig"]
        assert logging_config["ApplicationLogLevel"] == {"Ref": "LogLevel"}
        assert environment_of(cfn, function)["LOG_LEVEL"] == {"Ref": "LogLevel"}


# ------------------------------------------------------------------------------------------
# Functions and layers
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("function", sorted(FUNCTION_SETTINGS))
def test_function_runtime_architecture_tracing_and_layers(
    function: str, cfn: dict[str, Any], sam: dict[str, Any]
) -> None:
    props = properties(cfn, function)
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["Handler"] == "app.handler"
    layer_sources = {properties(cfn, layer["Ref"])["Content"]["S3Key"] for layer in props["Layers"]}
    assert layer_sources == {"layers/dependencies", "shared/hksync"}
    assert props["LoggingConfig"]["LogGroup"] == {"Ref": f"{function}LogGroup"}
    code_uri = sam["Resources"][function]["Properties"]["CodeUri"]
    folder = FUNCTION_FOLDERS.get(function, function.removesuffix("Function").lower())
    assert code_uri == f"functions/{folder}/"
    # Built with functions/Makefile: no python3.12 needed on the build machine.
    metadata = sam["Resources"][function].get("Metadata", {})
    assert metadata.get("BuildMethod") == "makefile", f"{function}: add Metadata BuildMethod"
    assert metadata.get("ContextPath") == "functions"


def test_layers_are_built_by_their_makefiles(sam: dict[str, Any]) -> None:
    dependencies = sam["Resources"]["DependenciesLayer"]
    hksync = sam["Resources"]["HksyncLayer"]
    assert dependencies["Properties"]["ContentUri"] == "layers/dependencies/"
    assert dependencies["Metadata"] == {"BuildMethod": "makefile", "BuildArchitecture": "arm64"}
    for layer in (dependencies, hksync):
        assert layer["Properties"]["CompatibleArchitectures"] == ["arm64"]
        assert layer["Properties"]["CompatibleRuntimes"] == ["python3.12"]
    # The shared code itself is the ContentUri (SAM's build cache hashes it), the Makefile
    # is found through ContextPath.
    assert hksync["Properties"]["ContentUri"] == "shared/hksync/"
    assert hksync["Metadata"] == {
        "BuildMethod": "makefile",
        "BuildArchitecture": "arm64",
        "ContextPath": "layers/hksync",
    }


PRIVATE_SUBNETS = {
    "Fn::If": [
        "ExistingSubnetsGiven",
        {"Fn::Split": [",", {"Ref": "ExistingPrivateSubnetIds"}]},
        [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}],
    ]
}


def test_only_database_functions_are_in_the_vpc(cfn: dict[str, Any]) -> None:
    database_functions = {
        name for name, model in FUNCTION_SETTINGS.items() if issubclass(model, DatabaseSettings)
    }
    assert database_functions == set(DATABASE_FUNCTIONS)
    for function in DATABASE_FUNCTIONS:
        assert properties(cfn, function)["VpcConfig"] == {
            "SubnetIds": PRIVATE_SUBNETS,
            "SecurityGroupIds": [{"Fn::GetAtt": ["FunctionSecurityGroup", "GroupId"]}],
        }
        environment = environment_of(cfn, function)
        assert environment["DB_SECRET_ARN"] == {
            "Fn::GetAtt": ["DatabaseCluster", "MasterUserSecret.SecretArn"]
        }
        # The managed secret holds no host: every database function is told where to connect.
        assert environment["DB_HOST"] in (DB_HOST_CLUSTER, DB_HOST_CLUSTER_OR_PROXY), function
        assert environment["DB_NAME"] == {"Ref": "DatabaseName"}
        assert {"Ref": "DatabaseAccessPolicy"} in properties(cfn, role_of(cfn, function)).get(
            "ManagedPolicyArns", []
        ), f"{function} does not attach DatabaseAccessPolicy"
    # The write path touches only S3: uploads keep working while the database is down.
    ingest = properties(cfn, "IngestFunction")
    assert "VpcConfig" not in ingest
    assert not {"DB_SECRET_ARN", "DB_NAME", "DATABASE_URL"} & set(
        environment_of(cfn, "IngestFunction")
    )


# ------------------------------------------------------------------------------------------
# IAM: least privilege
# ------------------------------------------------------------------------------------------
def test_no_policy_grants_wildcards_on_data_services(cfn: dict[str, Any]) -> None:
    problems = [
        f"{where}: {problem}"
        for where, document in policy_documents(cfn)
        for statement in statements(document)
        for problem in broad_grants(statement)
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "*", "Resource": "arn:aws:s3:::b/*"},
        {"Effect": "Allow", "Action": ["s3:*"], "Resource": "arn:aws:s3:::b/*"},
        {"Effect": "Allow", "Action": "SQS:*", "Resource": "arn:aws:sqs:eu-central-1:1:q"},
        {"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*"},
        {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": ["*"]},
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "arn:aws:s3:::b"},
    ],
)
def test_wildcard_checker_flags(statement: dict[str, Any]) -> None:
    assert broad_grants(statement)


@pytest.mark.parametrize(
    "statement",
    [
        {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b/raw/*"},
        {"Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": "*"},
        {"Effect": "Deny", "Action": "s3:*", "Resource": "*"},
    ],
)
def test_wildcard_checker_passes(statement: dict[str, Any]) -> None:
    assert broad_grants(statement) == []


def test_roles_attach_only_expected_aws_managed_policies(cfn: dict[str, Any]) -> None:
    allowed = {
        "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
        "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole",
    }
    own = set(resources_of_type(cfn, "AWS::IAM::ManagedPolicy"))
    for name, role in resources_of_type(cfn, "AWS::IAM::Role").items():
        for arn in role["Properties"].get("ManagedPolicyArns", []):
            if isinstance(arn, dict):
                assert arn.get("Ref") in own, f"{name} attaches {arn}"
            else:
                assert arn in allowed, f"{name} attaches {arn}: review it, then allow it here"


def _grants(
    cfn: dict[str, Any], resolve: Resolver, function: str
) -> set[tuple[str, str] | tuple[str, str, str]]:
    """(action, resource) per grant; KMS grants also name the service they must go through."""
    grants: set[tuple[str, str] | tuple[str, str, str]] = set()
    for document in role_documents(cfn, role_of(cfn, function)):
        for statement in statements(document):
            assert statement["Effect"] == "Allow"
            via = statement.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
            for action in as_list(statement["Action"]):
                if action.startswith("kms:"):
                    assert via is not None, f"{function}: {action} not restricted to a service"
                for resource in as_list(statement["Resource"]):
                    if via is None:
                        grants.add((action, resolve(resource)))
                    else:
                        grants.add((action, resolve(resource), resolve(via).split(".")[0]))
    return grants


@pytest.mark.parametrize("mode", ["direct", "queue"])
def test_function_permissions_are_least_privilege(sam: dict[str, Any], mode: str) -> None:
    parameters = parameter_values(sam, "dev", ProcessingMode=mode)
    deployed = apply_conditions(to_cloudformation(sam, parameters), parameters)
    resolve = Resolver(deployed, parameters)
    bucket = f"arn:aws:s3:::{RAW_BUCKET_DEV}"
    objects = f"{bucket}/raw/*"
    key = PLACEHOLDER  # DataKey's ARN
    secret = PLACEHOLDER  # the cluster's managed secret
    read_secret = {
        ("secretsmanager:GetSecretValue", secret),
        ("kms:Decrypt", key, "secretsmanager"),
    }
    assert _grants(deployed, resolve, "IngestFunction") == {
        ("s3:PutObject", objects),
        ("s3:GetObject", objects),
        ("s3:ListBucket", bucket),
        ("kms:GenerateDataKey", key, "s3"),
        ("kms:Decrypt", key, "s3"),
    }
    assert _grants(deployed, resolve, "QueryFunction") == {("s3:ListBucket", bucket)} | read_secret
    assert _grants(deployed, resolve, "MigrationFunction") == read_secret
    queue_consumer = {
        ("sqs:ReceiveMessage", PLACEHOLDER),
        ("sqs:DeleteMessage", PLACEHOLDER),
        ("sqs:ChangeMessageVisibility", PLACEHOLDER),
        ("sqs:GetQueueAttributes", PLACEHOLDER),
    }
    assert _grants(deployed, resolve, "ProcessorFunction") == {
        ("s3:GetObject", objects),
        ("s3:ListBucket", bucket),
        ("kms:Decrypt", key, "s3"),
        ("sqs:SendMessage", PLACEHOLDER),  # the dead-letter queue; see the DLQ test
        ("kms:GenerateDataKey", key, "sqs"),
        ("kms:Decrypt", key, "sqs"),
        ("events:PutEvents", PLACEHOLDER),  # the change-event bus: test_change_events_template
        *read_secret,
        *(queue_consumer if mode == "queue" else ()),
    }
    # The reminders' schedule group (its name resolves at deploy time).
    schedules = f"arn:aws:scheduler:{DEPLOY_REGION}:123456789012:schedule/{PLACEHOLDER}/*"
    # The API routes record and queue an erasure; only the worker deletes.
    assert _grants(deployed, resolve, "AccountFunction") == {
        ("sqs:SendMessage", PLACEHOLDER),  # the erasure queue
        ("kms:GenerateDataKey", key, "sqs"),
        ("kms:Decrypt", key, "sqs"),
        *read_secret,
    }
    assert _grants(deployed, resolve, "ErasureWorkerFunction") == {
        ("s3:ListBucketVersions", bucket),
        ("s3:DeleteObject", objects),
        ("s3:DeleteObjectVersion", objects),
        ("scheduler:DeleteSchedule", schedules),
        *queue_consumer,  # the erasure queue
        ("kms:Decrypt", key, "sqs"),
        *read_secret,
    }


# ------------------------------------------------------------------------------------------
# Raw bucket
# ------------------------------------------------------------------------------------------
def test_raw_bucket_denies_requests_without_tls(cfn: dict[str, Any]) -> None:
    (policy,) = [
        p["Properties"]
        for p in resources_of_type(cfn, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": "RawBucket"}
    ]
    denials = [
        s
        for s in statements(policy["PolicyDocument"])
        if s["Effect"] == "Deny"
        and s.get("Principal") in ("*", {"AWS": "*"})
        and "s3:*" in as_list(s["Action"])
        and str(s.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")).lower()
        == "false"
    ]
    assert len(denials) == 1
    assert as_list(denials[0]["Resource"]) == [
        {"Fn::GetAtt": ["RawBucket", "Arn"]},
        {"Fn::Sub": "${RawBucket.Arn}/*"},
    ]


def test_raw_bucket_is_private_versioned_encrypted(cfn: dict[str, Any]) -> None:
    bucket = properties(cfn, "RawBucket")
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": {"Fn::GetAtt": ["DataKey", "Arn"]},
    }
    assert encryption["BucketKeyEnabled"] is True
    # Server access logs go to their own bucket.
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogsBucket"}


def test_the_buckets_outlive_the_stack_but_not_a_failed_first_create(cfn: dict[str, Any]) -> None:
    """The raw bucket's name is fixed (the processor builds it): a bucket kept after a failed
    first create would make the retry fail with "already exists". RetainExceptOnCreate deletes
    it on that rollback only; deleting or replacing the stack keeps it."""
    for name in ("RawBucket", "AccessLogsBucket"):
        bucket = resources(cfn)[name]
        assert bucket["DeletionPolicy"] == "RetainExceptOnCreate", name
        assert bucket["UpdateReplacePolicy"] == "Retain", name


def test_raw_bucket_lifecycle(cfn: dict[str, Any]) -> None:
    rules = {r["Id"]: r for r in properties(cfn, "RawBucket")["LifecycleConfiguration"]["Rules"]}
    assert all(rule["Status"] == "Enabled" for rule in rules.values())
    to_ia = [r for r in rules.values() if r.get("Prefix") == "raw/" and "Transitions" in r]
    assert len(to_ia) == 1
    assert to_ia[0]["Transitions"] == [{"StorageClass": "STANDARD_IA", "TransitionInDays": 30}]
    assert any("AbortIncompleteMultipartUpload" in r for r in rules.values())


def test_raw_bucket_name_is_the_one_the_processor_builds(
    cfn: dict[str, Any], resolve: Resolver
) -> None:
    bucket_name = resolve(properties(cfn, "RawBucket")["BucketName"])
    assert bucket_name == RAW_BUCKET_DEV
    assert resolve(environment_of(cfn, "ProcessorFunction")["RAW_BUCKET"]) == bucket_name
    assert resolve(environment_of(cfn, "IngestFunction")["RAW_BUCKET"]) == bucket_name


# ------------------------------------------------------------------------------------------
# Processor: S3 trigger, concurrency, failures
# ------------------------------------------------------------------------------------------
# How new objects reach the processor (direct or queue): test_processing_modes.py.
def test_processor_failures_go_to_the_dead_letter_queue(cfn: dict[str, Any]) -> None:
    (config,) = [
        c["Properties"]
        for c in resources_of_type(cfn, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": "ProcessorFunction"}
    ]
    assert config["MaximumRetryAttempts"] == 2
    dlq = {"Fn::GetAtt": ["ProcessorDeadLetterQueue", "Arn"]}
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == dlq
    # ...and the processor may send to it, and only to it.
    sends = [
        s
        for document in role_documents(cfn, role_of(cfn, "ProcessorFunction"))
        for s in statements(document)
        if "sqs:SendMessage" in as_list(s["Action"])
    ]
    assert [s["Resource"] for s in sends] == [dlq]
    queue = properties(cfn, "ProcessorDeadLetterQueue")
    assert queue["KmsMasterKeyId"] == {"Ref": "DataKey"}
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600


def test_processor_concurrency_is_a_parameter(cfn: dict[str, Any], sam: dict[str, Any]) -> None:
    reserved = properties(cfn, "ProcessorFunction")["ReservedConcurrentExecutions"]
    assert reserved == {
        "Fn::If": [
            "ReserveProcessorConcurrency",
            {"Ref": "ProcessorReservedConcurrency"},
            {"Ref": "AWS::NoValue"},
        ]
    }
    assert sam["Parameters"]["ProcessorReservedConcurrency"]["Type"] == "Number"


# ------------------------------------------------------------------------------------------
# HTTP API
# ------------------------------------------------------------------------------------------
def test_api_has_exactly_the_routes_of_the_contract(cfn: dict[str, Any]) -> None:
    routes = http_api_routes(cfn)
    assert {key: integration_function(op) for key, op in routes.items()} == ROUTES


def test_every_route_requires_the_jwt_authorizer(cfn: dict[str, Any]) -> None:
    (api,) = resources_of_type(cfn, "AWS::ApiGatewayV2::Api").values()
    schemes = api["Properties"]["Body"]["components"]["securitySchemes"]
    (name,) = schemes
    authorizer = schemes[name]["x-amazon-apigateway-authorizer"]
    assert authorizer["type"] == "jwt"
    assert authorizer["identitySource"] == "$request.header.Authorization"
    for route, operation in http_api_routes(cfn).items():
        assert operation.get("security") == [{name: []}], f"{route} is not behind {name}"


def test_jwt_issuer_is_the_parameter_or_the_created_user_pool(cfn: dict[str, Any]) -> None:
    assert cfn["Conditions"]["CreateUserPool"] == {"Fn::Equals": [{"Ref": "JwtIssuer"}, ""]}
    (api,) = resources_of_type(cfn, "AWS::ApiGatewayV2::Api").values()
    (scheme,) = api["Properties"]["Body"]["components"]["securitySchemes"].values()
    config = scheme["x-amazon-apigateway-authorizer"]["jwtConfiguration"]
    issuer_if = config["issuer"]["Fn::If"]
    assert issuer_if[0] == "CreateUserPool"
    assert "${UserPool}" in issuer_if[1]["Fn::Sub"]
    assert issuer_if[2] == {"Ref": "JwtIssuer"}
    audience_if = config["audience"]["Fn::If"]
    assert audience_if[:2] == ["CreateUserPool", [{"Ref": "UserPoolClient"}]]
    for name in ("UserPool", "UserPoolClient"):
        assert resources(cfn)[name]["Condition"] == "CreateUserPool"
    assert properties(cfn, "UserPoolClient")["GenerateSecret"] is False


def test_api_has_no_cors_and_logs_access(cfn: dict[str, Any]) -> None:
    (api,) = resources_of_type(cfn, "AWS::ApiGatewayV2::Api").values()
    assert "CorsConfiguration" not in api["Properties"]
    assert "x-amazon-apigateway-cors" not in api["Properties"]["Body"]
    (stage,) = resources_of_type(cfn, "AWS::ApiGatewayV2::Stage").values()
    assert stage["Properties"]["StageName"] == {"Ref": "Stage"}
    access = stage["Properties"]["AccessLogSettings"]
    assert access["DestinationArn"] == {"Fn::GetAtt": ["HttpApiAccessLogGroup", "Arn"]}
    assert "$context.requestId" in access["Format"]
    assert "$context.requestBody" not in access["Format"]  # no health data in access logs


def test_log_groups_have_the_retention_parameter_and_the_key(cfn: dict[str, Any]) -> None:
    groups = resources_of_type(cfn, "AWS::Logs::LogGroup")
    assert set(groups) == {f"{f}LogGroup" for f in FUNCTION_SETTINGS} | {
        "HttpApiAccessLogGroup",
        "DatabaseLogGroup",
    }
    for name, group in groups.items():
        assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, name
        assert group["Properties"]["KmsKeyId"] == {"Fn::GetAtt": ["DataKey", "Arn"]}, name


def test_outputs(cfn: dict[str, Any]) -> None:
    outputs = cfn["Outputs"]
    assert {
        "ApiUrl",
        "RawBucketName",
        "ProcessorDeadLetterQueueUrl",
        "ProcessingMode",
        "DatabaseEndpoint",
        "DatabaseSecretArn",
        "MigrationFunctionName",
    } <= set(outputs)
    assert outputs["RawObjectsQueueUrl"]["Condition"] == "QueueProcessing"
    assert outputs["DatabaseProxyEndpoint"]["Condition"] == "UseRdsProxy"
    assert outputs["UserPoolId"]["Condition"] == "CreateUserPool"
    assert outputs["UserPoolClientId"]["Condition"] == "CreateUserPool"


# ------------------------------------------------------------------------------------------
# samconfig.toml
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("environment", "stage", "confirm"),
    [
        ("default", "dev", False),
        ("dev", "dev", False),
        ("staging", "staging", False),
        ("prod", "prod", True),
    ],
)
def test_samconfig_environment(environment: str, stage: str, confirm: bool) -> None:
    config = load_samconfig()[environment]
    assert config["global"]["parameters"] == {
        "stack_name": f"hksync-{stage}",
        "region": DEPLOY_REGION,
    }
    deploy = config["deploy"]["parameters"]
    assert set(deploy["capabilities"].split()) == {"CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"}
    overrides = parse_parameter_overrides(deploy["parameter_overrides"])
    assert overrides["Stage"] == stage
    assert overrides["ProcessingMode"] in {"direct", "queue"}
    assert deploy["resolve_s3"] is True
    assert deploy["confirm_changeset"] is confirm
    assert config["build"]["parameters"] == {"cached": True, "parallel": True}


@pytest.mark.parametrize("environment", ["default", "dev", "staging", "prod"])
def test_samconfig_overrides_are_valid_parameter_values(
    environment: str, sam: dict[str, Any]
) -> None:
    # CloudFormation would reject the deploy; this says so before anyone runs it.
    overrides = parse_parameter_overrides(
        load_samconfig()[environment]["deploy"]["parameters"]["parameter_overrides"]
    )
    for name, value in overrides.items():
        spec = sam["Parameters"].get(name)
        assert spec is not None, f"{environment}: {name} is not a template parameter"
        if "AllowedValues" in spec:
            assert value in [str(v) for v in spec["AllowedValues"]], f"{environment}: {name}"
        if spec["Type"] == "Number":
            number = float(value)
            assert (
                float(spec.get("MinValue", number)) <= number <= float(spec.get("MaxValue", number))
            ), f"{environment}: {name}={value}"
        if "AllowedPattern" in spec:
            assert re.fullmatch(spec["AllowedPattern"], value), f"{environment}: {name}"


def test_parameters_without_default_are_known_to_the_tests(sam: dict[str, Any]) -> None:
    # A new required parameter must also be given to CI's deploy (and to DEPLOY_TIME_PARAMETERS).
    required = {name for name, spec in sam["Parameters"].items() if "Default" not in spec}
    assert required == set(DEPLOY_TIME_PARAMETERS)


# ------------------------------------------------------------------------------------------
# events/: sample events for `sam local invoke`
# ------------------------------------------------------------------------------------------
HTTP_EVENTS = {
    "ingest_put_chunk.json": "PUT /v1/syncs/{sync_id}/chunks/{seq}",
    "ingest_put_chunk_gzip.json": "PUT /v1/syncs/{sync_id}/chunks/{seq}",
    "ingest_upload_url.json": "POST /v1/syncs/{sync_id}/chunks/{seq}/upload-url",
    "ingest_commit.json": "PUT /v1/syncs/{sync_id}/commit",
    "query_sync_status.json": "GET /v1/syncs/{sync_id}",
    "query_rejected_samples.json": "GET /v1/syncs/{sync_id}/rejected",
    "query_samples.json": "GET /v1/samples",
    "query_daily_summaries.json": "GET /v1/summaries/daily",
    "query_source_priority.json": "PUT /v1/me/source-priority",
    "query_anchors.json": "GET /v1/anchors",
    "reminders_create.json": "POST /v1/reminders",
    "reminders_list.json": "GET /v1/reminders",
    "reminders_reschedule.json": "PUT /v1/reminders/{reminder_id}",
    "reminders_cancel.json": "DELETE /v1/reminders/{reminder_id}",
    "account_erase_me.json": "DELETE /v1/me",
    "account_erasure_status.json": "GET /v1/me/erasure",
}
S3_EVENTS = {"processor_s3_put.json"}
DEMO_USER = "demo-user-0001"
DEMO_SYNC = "0b9c6f3e-3d1a-4a8e-9d55-6c1f2f5a7b10"
RAW_KEY = re.compile(
    r"^raw/(?P<user>[^/]+)/(?P<sync_id>[0-9a-f-]{36})/"
    r"(?:chunks/(?P<seq>\d{6})\.json(?:\.gz)?|commit\.json)$"
)


def _event(name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS_DIR / name).read_text())
    return event


def _body(event: dict[str, Any]) -> bytes:
    body = event["body"]
    raw = base64.b64decode(body) if event["isBase64Encoded"] else body.encode()
    if event["headers"].get("content-encoding") == "gzip":
        raw = gzip.decompress(raw)
    return raw


def test_events_folder_has_an_event_for_every_route_and_trigger() -> None:
    assert {p.name for p in EVENTS_DIR.glob("*.json")} >= set(HTTP_EVENTS) | S3_EVENTS
    assert set(HTTP_EVENTS.values()) == set(ROUTES)


@pytest.mark.parametrize("name", sorted(HTTP_EVENTS))
def test_http_event_is_a_payload_v2_event_of_its_route(name: str, cfn: dict[str, Any]) -> None:
    event = APIGatewayProxyEventV2Model.model_validate(_event(name))
    route = HTTP_EVENTS[name]
    assert event.routeKey == event.requestContext.routeKey == route
    assert name.startswith(ROUTES[route].removesuffix("Function").lower())
    assert route in http_api_routes(cfn)
    # Identity comes from the verified token: the authorizer's claims.
    authorizer = event.requestContext.authorizer
    assert authorizer is not None
    assert authorizer.jwt is not None
    assert authorizer.jwt.claims["sub"] == DEMO_USER
    # The path the client called, with the stage prefix a named HTTP API stage adds.
    method, template = route.split(" ", 1)
    parameters = event.pathParameters or {}
    path = template.format(**parameters)
    assert event.requestContext.http.method == method
    assert event.rawPath == event.requestContext.http.path == f"/{event.requestContext.stage}{path}"
    assert set(re.findall(r"\{(\w+)\}", template)) == set(parameters)
    if "sync_id" in template:
        assert parameters["sync_id"] == DEMO_SYNC


def test_chunk_events_carry_a_valid_chunk_plain_and_gzipped() -> None:
    plain = _event("ingest_put_chunk.json")
    gzipped = _event("ingest_put_chunk_gzip.json")
    assert gzipped["isBase64Encoded"] is True
    assert gzipped["headers"]["content-encoding"] == "gzip"
    assert _body(gzipped) == _body(plain)
    # Decoded as the processor does: the envelope and every sample, none of them rejected.
    chunk = decode_chunk(_body(plain))
    assert str(chunk.sync_id) == plain["pathParameters"]["sync_id"]
    assert chunk.seq == int(plain["pathParameters"]["seq"]) == 0
    assert chunk.sample_type == "HKQuantityTypeIdentifierHeartRate"
    assert chunk.rows
    assert chunk.rejected == []
    assert len(chunk.rows) == chunk.received


def test_commit_event_carries_a_valid_commit() -> None:
    commit = SyncCommit.model_validate_json(_body(_event("ingest_commit.json")))
    assert commit.chunk_count == 1
    assert commit.anchors == {"HKQuantityTypeIdentifierHeartRate": "AAAA"}


def test_processor_event_is_an_s3_put_of_the_chunk() -> None:
    event = S3Model.model_validate(_event("processor_s3_put.json"))
    (record,) = event.Records
    assert record.eventSource == "aws:s3"
    assert record.eventName == "ObjectCreated:Put"
    assert record.s3.bucket.name == "hksync-raw-local-123456789012-us-east-1"
    stored_object = record.s3.object
    assert stored_object is not None
    key = RAW_KEY.match(stored_object.key)
    assert key, stored_object.key
    assert key["user"] == DEMO_USER
    assert key["sync_id"] == DEMO_SYNC
    assert key["seq"] == "000000"
    # The object is the chunk the ingest event uploads: same size and ETag (MD5 of a PUT).
    stored = _body(_event("ingest_put_chunk.json"))
    assert stored_object.size == len(stored)
    assert stored_object.eTag == hashlib.md5(stored).hexdigest()  # noqa: S324
