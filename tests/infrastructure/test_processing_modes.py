"""ProcessingMode: how new raw objects reach the processor, checked on the template as
CloudFormation deploys it in each mode (SAM transform, then the conditions applied).

direct: the raw bucket invokes the processor (asynchronous invoke, retries, on-failure
destination). queue: the bucket notifies an encrypted SQS queue; an event source mapping hands
the processor batches and takes back only the failed messages; the redrive policy dead-letters
a message received five times. docs/adr/0003 says why both exist.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from pytest_socket import disable_socket

from tests.infrastructure.template import (
    PLACEHOLDER,
    Resolver,
    apply_conditions,
    as_list,
    describe,
    lint,
    parameter_values,
    resources_of_type,
    role_documents,
    role_of,
    statements,
    to_cloudformation,
)

RAW_BUCKET_ARN = "arn:aws:s3:::hksync-raw-dev-123456789012-eu-central-1"
RAW_PREFIX_FILTER = {"S3Key": {"Rules": [{"Name": "prefix", "Value": "raw/"}]}}
DLQ_ARN = {"Fn::GetAtt": ["ProcessorDeadLetterQueue", "Arn"]}
QUEUE_RESOURCES = {"RawObjectsQueue", "RawObjectsQueuePolicy", "ProcessorQueueEventSource"}
DIRECT_RESOURCES = {"ProcessorS3InvokePermission"}


@pytest.fixture(scope="module", params=["direct", "queue"])
def mode(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


@pytest.fixture(scope="module")
def parameters(sam: dict[str, Any], mode: str) -> dict[str, str]:
    return parameter_values(sam, "dev", ProcessingMode=mode)


def _deploy(sam: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    disable_socket()
    return apply_conditions(to_cloudformation(sam, parameters), parameters)


@pytest.fixture(scope="module")
def deployed(sam: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
    """The transformed template with this mode's conditions applied."""
    return _deploy(sam, parameters)


@pytest.fixture(scope="module")
def direct(sam: dict[str, Any]) -> dict[str, Any]:
    return _deploy(sam, parameter_values(sam, "dev", ProcessingMode="direct"))


@pytest.fixture(scope="module")
def queue(sam: dict[str, Any]) -> dict[str, Any]:
    return _deploy(sam, parameter_values(sam, "dev", ProcessingMode="queue"))


def _properties(template: dict[str, Any], name: str) -> dict[str, Any]:
    props: dict[str, Any] = template["Resources"][name]["Properties"]
    return props


def test_each_mode_has_exactly_its_own_resources(deployed: dict[str, Any], mode: str) -> None:
    names = set(deployed["Resources"])
    if mode == "direct":
        assert names >= DIRECT_RESOURCES
        assert not QUEUE_RESOURCES & names
    else:
        assert names >= QUEUE_RESOURCES
        assert not DIRECT_RESOURCES & names
    # The same processor, dead-letter queue and bucket in both.
    assert {"ProcessorFunction", "ProcessorDeadLetterQueue", "RawBucket"} <= names


def test_each_mode_lints_without_errors(deployed: dict[str, Any], mode: str) -> None:
    errors = [describe(m) for m in lint(deployed) if m.rule.id.startswith("E")]
    assert not errors, f"cfn-lint errors in {mode} mode:\n" + "\n".join(errors)


def test_the_bucket_notifies_the_processor_or_the_queue(
    deployed: dict[str, Any], mode: str
) -> None:
    bucket = deployed["Resources"]["RawBucket"]
    notifications = bucket["Properties"]["NotificationConfiguration"]
    if mode == "direct":
        assert notifications == {
            "LambdaConfigurations": [
                {
                    "Event": "s3:ObjectCreated:*",
                    "Filter": RAW_PREFIX_FILTER,
                    "Function": {"Fn::GetAtt": ["ProcessorFunction", "Arn"]},
                }
            ]
        }
    else:
        assert notifications == {
            "QueueConfigurations": [
                {
                    "Event": "s3:ObjectCreated:*",
                    "Filter": RAW_PREFIX_FILTER,
                    "Queue": {"Fn::GetAtt": ["RawObjectsQueue", "Arn"]},
                }
            ]
        }
    # S3 validates the destination when the notification is set: the bucket must wait for the
    # permission (direct) or the queue policy (queue), through a reference in its Metadata.
    ready = {"direct": "ProcessorS3InvokePermission", "queue": "RawObjectsQueuePolicy"}[mode]
    assert bucket["Metadata"]["NotificationDestinationReady"] == {"Ref": ready}


def test_direct_mode_lets_only_the_raw_bucket_invoke_the_processor(
    direct: dict[str, Any], sam: dict[str, Any]
) -> None:
    deployed = direct
    resolve = Resolver(deployed, parameter_values(sam, "dev", ProcessingMode="direct"))
    permission = _properties(deployed, "ProcessorS3InvokePermission")
    assert permission["Action"] == "lambda:InvokeFunction"
    assert permission["FunctionName"] == {"Ref": "ProcessorFunction"}
    assert permission["Principal"] == "s3.amazonaws.com"
    assert resolve(permission["SourceArn"]) == RAW_BUCKET_ARN
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}
    s3_permissions = [
        p
        for p in resources_of_type(deployed, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "s3.amazonaws.com"
    ]
    assert len(s3_permissions) == 1


def test_failed_events_are_retried_then_dead_lettered(deployed: dict[str, Any]) -> None:
    # Direct mode's asynchronous invocations (harmless in queue mode, where the mapping invokes
    # synchronously and the redrive policy dead-letters instead).
    (config,) = [
        c["Properties"]
        for c in resources_of_type(deployed, "AWS::Lambda::EventInvokeConfig").values()
        if c["Properties"]["FunctionName"] == {"Ref": "ProcessorFunction"}
    ]
    assert config["MaximumRetryAttempts"] == 2
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == DLQ_ARN


def test_queue_mode_buffers_in_an_encrypted_queue_with_a_redrive_policy(
    queue: dict[str, Any],
) -> None:
    deployed = queue
    queue = _properties(deployed, "RawObjectsQueue")
    assert queue["KmsMasterKeyId"] == {"Ref": "DataKey"}
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": DLQ_ARN, "maxReceiveCount": 5}
    # Lambda requires the visibility timeout to cover the function's timeout (six times is
    # the recommendation), or a message reappears while it is still being processed.
    timeout = _properties(deployed, "ProcessorFunction")["Timeout"]
    assert queue["VisibilityTimeout"] >= 6 * timeout
    # A message must be dead-lettered before it expires (it keeps its age in the DLQ too).
    dlq = _properties(deployed, "ProcessorDeadLetterQueue")
    assert queue["MessageRetentionPeriod"] < dlq["MessageRetentionPeriod"]


def test_queue_mode_accepts_notifications_from_the_raw_bucket_only(
    queue: dict[str, Any], sam: dict[str, Any]
) -> None:
    deployed = queue
    resolve = Resolver(deployed, parameter_values(sam, "dev", ProcessingMode="queue"))
    policy = _properties(deployed, "RawObjectsQueuePolicy")
    assert policy["Queues"] == [{"Ref": "RawObjectsQueue"}]
    allows = [s for s in statements(policy["PolicyDocument"]) if s["Effect"] == "Allow"]
    assert len(allows) == 1
    (allow,) = allows
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert resolve(allow["Condition"]["ArnLike"]["aws:SourceArn"]) == RAW_BUCKET_ARN
    assert allow["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
    denials = [s for s in statements(policy["PolicyDocument"]) if s["Effect"] == "Deny"]
    assert [d["Condition"] for d in denials] == [{"Bool": {"aws:SecureTransport": "false"}}]


@pytest.mark.parametrize("stage", ["staging", "prod"])
def test_queue_mode_reports_partial_batch_failures_within_the_concurrency_cap(
    sam: dict[str, Any], stage: str
) -> None:
    deployed = _deploy(sam, parameter_values(sam, stage, ProcessingMode="queue"))
    mapping = _properties(deployed, "ProcessorQueueEventSource")
    assert mapping["FunctionName"] == {"Ref": "ProcessorFunction"}
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["RawObjectsQueue", "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert 1 <= mapping["BatchSize"] <= 10
    # No more concurrent batches than the function may run: Aurora's protection holds, and
    # no invocation is throttled (a throttled batch would count as a receive).
    reserved = _properties(deployed, "ProcessorFunction")["ReservedConcurrentExecutions"]
    assert mapping["ScalingConfig"]["MaximumConcurrency"] == reserved


def test_only_queue_mode_lets_the_processor_read_the_queue(
    deployed: dict[str, Any], parameters: dict[str, str], mode: str
) -> None:
    resolve = Resolver(deployed, parameters)
    consumed = {
        (action, str(resolve(statement["Resource"])))
        for document in role_documents(deployed, role_of(deployed, "ProcessorFunction"))
        for statement in statements(document)
        for action in as_list(statement["Action"])
        if action in {"sqs:ReceiveMessage", "sqs:DeleteMessage"}
    }
    if mode == "direct":
        assert consumed == set()
    else:
        assert consumed == {
            ("sqs:ReceiveMessage", PLACEHOLDER),
            ("sqs:DeleteMessage", PLACEHOLDER),
        }
        (statement,) = [
            s
            for document in role_documents(deployed, role_of(deployed, "ProcessorFunction"))
            for s in statements(document)
            if "sqs:ReceiveMessage" in as_list(s["Action"])
        ]
        assert statement["Resource"] == {"Fn::GetAtt": ["RawObjectsQueue", "Arn"]}


def test_the_processing_mode_is_an_output(deployed: dict[str, Any], mode: str) -> None:
    outputs = deployed["Outputs"]
    assert outputs["ProcessingMode"]["Value"] == {"Ref": "ProcessingMode"}
    assert ("RawObjectsQueueUrl" in outputs) is (mode == "queue")


def test_the_sample_queue_event_carries_the_sample_s3_notification() -> None:
    # events/processor_sqs_batch.json: what the processor gets in queue mode for the object of
    # events/processor_s3_put.json, after S3's test message (`sam local invoke` either one).
    from aws_lambda_powertools.utilities.parser.models import SqsModel

    from tests.infrastructure.template import EVENTS_DIR

    batch = SqsModel.model_validate(
        json.loads((EVENTS_DIR / "processor_sqs_batch.json").read_text())
    )
    s3_event = json.loads((EVENTS_DIR / "processor_s3_put.json").read_text())
    test_message, notification = (json.loads(record.body) for record in batch.Records)
    assert test_message["Event"] == "s3:TestEvent"
    assert notification == s3_event
    assert all(record.eventSource == "aws:sqs" for record in batch.Records)
