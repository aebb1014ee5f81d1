"""The parts of AWS events the functions read, parsed leniently where AWS and moto differ.

Powertools' S3Model requires userIdentity, requestParameters, responseElements and
ownerIdentity, which real S3 sends but moto omits; the processor needs only the bucket and key,
so this model asks for nothing more (and ignores the s3:TestEvent S3 sends on setup).

The processor receives these notifications in one of two shapes, set by the template's
ProcessingMode: directly from S3 (``direct``), or as the bodies of an SQS batch (``queue``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from hksync.keys import key_from_event


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class S3Bucket(_Lenient):
    name: str


class S3Object(_Lenient):
    key: str
    size: int | None = None


class S3Entity(_Lenient):
    bucket: S3Bucket
    object: S3Object


class S3Record(_Lenient):
    event_name: str = Field(alias="eventName")
    s3: S3Entity

    @property
    def key(self) -> str:
        """The object key, URL-decoded (S3 encodes keys in notifications)."""
        return key_from_event(self.s3.object.key)


class S3Notification(_Lenient):
    """An S3 event notification; empty for the s3:TestEvent sent when one is configured."""

    records: list[S3Record] = Field(default_factory=list, alias="Records")

    def created_objects(self) -> list[S3Record]:
        return [record for record in self.records if record.event_name.startswith("ObjectCreated")]


def is_sqs_batch(event: Mapping[str, Any]) -> bool:
    """An SQS event source batch (queue mode) rather than an S3 notification (direct mode)."""
    records = event.get("Records")
    return (
        isinstance(records, list)
        and bool(records)
        and isinstance(records[0], Mapping)
        and records[0].get("eventSource") == "aws:sqs"
    )


def notification_in_message(body: str) -> S3Notification:
    """The S3 notification an SQS message carries in queue mode (S3 writes it as the body).

    S3's s3:TestEvent, sent to the queue when the notification is configured, has no records:
    it parses to an empty notification, so the message is simply consumed.
    """
    return S3Notification.model_validate_json(body)
