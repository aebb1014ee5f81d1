"""The raw bucket in S3: the write-once chunk store and the eraser of a user's objects."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from botocore.exceptions import ClientError

from hksync.ports import StoredObject

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class RawStore:
    """Write-once access to the raw bucket."""

    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    @property
    def bucket(self) -> str:
        return self._bucket

    def put_if_absent(self, key: str, body: bytes, *, content_type: str) -> bool:
        """Stores body under key unless the key exists (S3 conditional write).

        Returns True when this call created the object, False when it already existed.
        """
        try:
            self._client.put_object(
                Bucket=self._bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                IfNoneMatch="*",
            )
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {
                "PreconditionFailed",
                "ConditionalRequestConflict",
            }:
                return False
            raise
        return True

    def get(self, key: str) -> StoredObject | None:
        """The object at key, or None when there is none."""
        try:
            response = self._client.get_object(Bucket=self._bucket, Key=key)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise
        return StoredObject(response["Body"].read(), response["LastModified"])

    def presign_put(self, key: str, *, expires_in: int) -> tuple[str, dict[str, str]]:
        """A URL the client PUTs the chunk to, and the headers it must send with it."""
        headers = {"Content-Type": "application/json", "If-None-Match": "*"}
        url = self._client.generate_presigned_url(
            "put_object",
            Params={
                "Bucket": self._bucket,
                "Key": key,
                "ContentType": headers["Content-Type"],
                "IfNoneMatch": headers["If-None-Match"],
            },
            ExpiresIn=expires_in,
        )
        return url, headers

    def keys(self, prefix: str) -> list[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        return [
            item["Key"]
            for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix)
            for item in page.get("Contents", [])
        ]


class RawObjectEraser:
    """Deletes raw objects for good: every version and delete marker under a prefix.

    The deployed bucket is versioned, so deleting a key only hides it behind a delete marker;
    erasing a user must delete each version by its id. In batches of 1000 (DeleteObjects' most).
    """

    BATCH: Final = 1000

    def __init__(self, client: S3Client, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    def erase_prefix(self, prefix: str) -> int:
        """Deletes everything under ``prefix``; returns how many versions and markers went."""
        deleted = 0
        paginator = self._client.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            entries = [*page.get("Versions", []), *page.get("DeleteMarkers", [])]
            for start in range(0, len(entries), self.BATCH):
                batch = entries[start : start + self.BATCH]
                response = self._client.delete_objects(
                    Bucket=self._bucket,
                    Delete={
                        "Objects": [
                            {"Key": entry["Key"], "VersionId": entry.get("VersionId", "null")}
                            for entry in batch
                        ],
                        "Quiet": True,
                    },
                )
                errors = response.get("Errors", [])
                if errors:
                    # Codes only: keys name the user.
                    codes = sorted({error.get("Code", "?") for error in errors})
                    raise RuntimeError(f"S3 kept {len(errors)} object(s) ({', '.join(codes)})")
                deleted += len(batch)
        return deleted
