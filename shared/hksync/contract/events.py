"""The parts of AWS events the functions read, parsed leniently where AWS and moto differ.

Powertools' S3Model requires userIdentity, requestParameters, responseElements and
ownerIdentity, which real S3 sends but moto omits; the processor needs only the bucket and key,
so this model asks for nothing more (and ignores the s3:TestEvent S3 sends on setup).
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from hksync.storage import key_from_event


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
