"""The SNS topic delivered reminders are published to."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from hksync.ports import PublishRefused

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient


class ReminderTopic:
    """The SNS topic every delivered reminder is published to (mobile push subscribes here)."""

    def __init__(self, client: SNSClient, topic_arn: str) -> None:
        self._client = client
        self._topic_arn = topic_arn

    def publish(self, message: dict[str, str], *, kind: str) -> str:
        """Publishes; returns SNS's message id. Raises PublishRefused when SNS said no, and
        lets botocore's errors (no answer at all) through."""
        try:
            response = self._client.publish(
                TopicArn=self._topic_arn,
                Message=json.dumps(message),
                # Subscribers can filter on the kind without parsing the body.
                MessageAttributes={"kind": {"DataType": "String", "StringValue": kind}},
            )
        except ClientError as error:
            raise PublishRefused(str(error)) from error
        return response["MessageId"]
