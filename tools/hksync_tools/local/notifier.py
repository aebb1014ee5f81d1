"""S3 event notifications for a bucket that cannot send them (moto): new objects are found by
listing, and their events can be delivered in any order and more than once, as S3 may."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hksync_tools.local.lambda_events import s3_put_event

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True, slots=True)
class CreatedObject:
    key: str
    etag: str
    size: int

    def event(self, bucket: str) -> dict[str, Any]:
        return s3_put_event(bucket, self.key, size=self.size, etag=self.etag)


class ObjectCreatedFeed:
    """Finds objects created in a bucket since the last look."""

    def __init__(self, client: S3Client, bucket: str, prefix: str = "raw/") -> None:
        self._client = client
        self._bucket = bucket
        self._prefix = prefix
        self._seen: set[tuple[str, str]] = set()

    @property
    def bucket(self) -> str:
        return self._bucket

    def new_objects(self) -> list[CreatedObject]:
        created = []
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=self._prefix):
            for item in page.get("Contents", []):
                identity = (item["Key"], item["ETag"])
                if identity not in self._seen:
                    self._seen.add(identity)
                    created.append(CreatedObject(item["Key"], item["ETag"], item["Size"]))
        return created


def at_least_once(
    objects: list[CreatedObject],
    rng: random.Random,
    *,
    duplicate_rate: float = 0.0,
    shuffle: bool = False,
) -> list[CreatedObject]:
    """The deliveries S3 may make for these objects: some twice, in any order."""
    deliveries = list(objects) + [obj for obj in objects if rng.random() < duplicate_rate]
    if shuffle:
        rng.shuffle(deliveries)
    return deliveries
