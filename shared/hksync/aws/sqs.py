"""The SQS queue that hands an erasure to the background worker."""

from __future__ import annotations

from typing import TYPE_CHECKING

from hksync.contract.erasure import ErasureRequested

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SqsErasureQueue:
    """The queue the erasure worker reads (its event source)."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send(self, message: ErasureRequested) -> None:
        self._client.send_message(QueueUrl=self._queue_url, MessageBody=message.model_dump_json())
