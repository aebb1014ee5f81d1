"""SQS event sources, locally: moto keeps the messages but never invokes a function, so a
poller does what Lambda's event source mapping does.

The template's ``AWS::Lambda::EventSourceMapping`` resources that read one of its SQS queues
(unconditional ones: the processor's queue mode has its own switch) become local queues with
the template's redrive policy, and a :class:`QueuePoller` per mapping: it receives a batch,
invokes the function with the SQS event Lambda would send, deletes what succeeded and leaves
the rest (every message, when the invocation failed) to come back after the visibility
timeout, until the redrive policy moves it to the dead-letter queue.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import boto3

from hksync_tools.local.workers import Invocation

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.literals import QueueAttributeNameType

#: Locally, a failed message comes back after this long (Lambda waits the queue's timeout).
LOCAL_VISIBILITY_TIMEOUT_S: Final = 1


@dataclass(frozen=True, slots=True)
class QueueEventSource:
    """One function reading one queue, as the template declares it."""

    function: str
    queue: str
    batch_size: int
    dead_letter_queue: str | None
    max_receive_count: int


def _ref(value: Any) -> str | None:
    """X of ``!Ref X``."""
    if isinstance(value, dict) and isinstance(value.get("Ref"), str):
        return str(value["Ref"])
    return None


def _arn_of(value: Any) -> str | None:
    """X of ``!GetAtt X.Arn``."""
    argument = value.get("Fn::GetAtt") if isinstance(value, dict) else None
    parts = argument if isinstance(argument, list) else str(argument or "").split(".")
    return str(parts[0]) if len(parts) == 2 and parts[1] == "Arn" else None


def queue_event_sources(template: Mapping[str, Any]) -> list[QueueEventSource]:
    resources = template.get("Resources", {})

    def queue(name: str | None) -> Mapping[str, Any] | None:
        resource = resources.get(name or "", {})
        if resource.get("Type") != "AWS::SQS::Queue" or "Condition" in resource:
            return None
        properties: Mapping[str, Any] = resource.get("Properties", {})
        return properties

    sources = []
    for resource in resources.values():
        if resource.get("Type") != "AWS::Lambda::EventSourceMapping" or "Condition" in resource:
            continue
        properties = resource.get("Properties", {})
        function = _ref(properties.get("FunctionName"))
        queue_id = _arn_of(properties.get("EventSourceArn"))
        queue_properties = queue(queue_id)
        if function is None or queue_id is None or queue_properties is None:
            continue
        redrive = queue_properties.get("RedrivePolicy", {})
        sources.append(
            QueueEventSource(
                function=function,
                queue=queue_id,
                batch_size=int(properties.get("BatchSize", 10)),
                dead_letter_queue=_arn_of(redrive.get("deadLetterTargetArn")),
                max_receive_count=int(redrive.get("maxReceiveCount", 0)),
            )
        )
    return sources


def local_queue_name(logical_id: str) -> str:
    """``ErasureQueue`` -> ``hksync-erasure-queue-local``."""
    return "hksync-" + re.sub(r"(?<!^)(?=[A-Z])", "-", logical_id).lower() + "-local"


def queue_references(
    sources: list[QueueEventSource], references: Mapping[str, str]
) -> dict[str, str]:
    """What !Ref and !GetAtt of these queues resolve to locally. URLs in AWS's own form: moto
    finds a queue by the name at the end of the URL, whatever the host."""
    region, account = references["AWS::Region"], references["AWS::AccountId"]
    local = {}
    for source in sources:
        for queue in filter(None, (source.queue, source.dead_letter_queue)):
            name = local_queue_name(queue)
            local[queue] = f"https://sqs.{region}.amazonaws.com/{account}/{name}"
            local[f"{queue}.Arn"] = f"arn:aws:sqs:{region}:{account}:{name}"
            local[f"{queue}.QueueName"] = name
    return local


def provision_queues(sqs: SQSClient, sources: list[QueueEventSource]) -> None:
    """Creates each queue (after its dead-letter queue) with the template's redrive policy."""
    for source in sources:
        attributes: dict[QueueAttributeNameType, str] = {
            "VisibilityTimeout": str(LOCAL_VISIBILITY_TIMEOUT_S)
        }
        if source.dead_letter_queue:
            dead_letter_url = sqs.create_queue(
                QueueName=local_queue_name(source.dead_letter_queue)
            )["QueueUrl"]
            dead_letter_arn = sqs.get_queue_attributes(
                QueueUrl=dead_letter_url, AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"]
            attributes["RedrivePolicy"] = (
                f'{{"deadLetterTargetArn":"{dead_letter_arn}",'
                f'"maxReceiveCount":"{source.max_receive_count}"}}'
            )
        sqs.create_queue(QueueName=local_queue_name(source.queue), Attributes=attributes)


def drain_queue(queue_url: str, region: str) -> list[Any]:
    """Every message waiting in a queue, its JSON body decoded, consumed: what a consumer of a
    local topic or bus received."""
    sqs = boto3.client("sqs", region_name=region)
    bodies: list[Any] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return bodies
        for message in batch:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def sqs_event(messages: list[Any], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source sends for a batch of received messages."""
    return {
        "Records": [
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": message.get("MessageAttributes", {}),
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for message in messages
        ]
    }


class QueuePoller:
    """Lambda's event source mapping for one queue, one batch per :meth:`poll_once`."""

    def __init__(
        self,
        sqs: SQSClient,
        source: QueueEventSource,
        references: Mapping[str, str],
        invoke: Callable[[dict[str, Any]], Invocation],
    ) -> None:
        self._sqs = sqs
        self.source = source
        self._url = references[source.queue]
        self._arn = references[f"{source.queue}.Arn"]
        self._region = references["AWS::Region"]
        self._invoke = invoke

    def poll_once(self) -> int:
        """Delivers one batch; returns how many messages it held (0: the queue was empty)."""
        messages = self._sqs.receive_message(
            QueueUrl=self._url,
            MaxNumberOfMessages=min(self.source.batch_size, 10),
            AttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return 0
        outcome = self._invoke(sqs_event(list(messages), self._arn, self._region))
        if outcome.failed:
            return len(messages)  # all of them come back after the visibility timeout
        result = outcome.result if isinstance(outcome.result, dict) else {}
        failed = {item["itemIdentifier"] for item in result.get("batchItemFailures", [])}
        for message in messages:
            if message["MessageId"] not in failed:
                self._sqs.delete_message(QueueUrl=self._url, ReceiptHandle=message["ReceiptHandle"])
        return len(messages)
