"""The raw bucket: key layout and the immutable, write-once chunk store.

Layout (the user id comes from the verified token, URL-quoted so any issuer's subject is safe)::

    raw/{user}/{sync_id}/chunks/{seq:06d}.json   one uploaded chunk (JSON, maybe gzip-encoded)
    raw/{user}/{sync_id}/commit.json             the sync's commit

The bucket is the durable log of everything uploaded: the database can be rebuilt from it.
"""

from __future__ import annotations

import gzip
import io
import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final
from urllib.parse import quote, unquote, unquote_plus
from uuid import UUID

from botocore.exceptions import ClientError

from hksync.errors import ChunkTooLarge, MalformedBody

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RAW_PREFIX: Final = "raw/"
GZIP_MAGIC: Final = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class ChunkKey:
    user_id: str
    sync_id: UUID
    seq: int

    def __str__(self) -> str:
        return f"{sync_prefix(self.user_id, self.sync_id)}chunks/{self.seq:06d}.json"


@dataclass(frozen=True, slots=True)
class CommitKey:
    user_id: str
    sync_id: UUID

    def __str__(self) -> str:
        return f"{sync_prefix(self.user_id, self.sync_id)}commit.json"


def user_prefix(user_id: str) -> str:
    return f"{RAW_PREFIX}{quote(user_id, safe='')}/"


def sync_prefix(user_id: str, sync_id: UUID) -> str:
    return f"{user_prefix(user_id)}{sync_id}/"


def parse_key(key: str) -> ChunkKey | CommitKey | None:
    """The chunk or commit a key names, or None for anything else in the bucket."""
    parts = key.split("/")
    if len(parts) < 4 or parts[0] != RAW_PREFIX.rstrip("/"):
        return None
    try:
        user_id, sync_id = unquote(parts[1]), UUID(parts[2])
    except ValueError:
        return None
    if len(parts) == 4 and parts[3] == "commit.json":
        return CommitKey(user_id, sync_id)
    name = parts[4] if len(parts) == 5 and parts[3] == "chunks" else ""
    digits = name.removesuffix(".json")
    if name.endswith(".json") and len(digits) == 6 and digits.isdigit():
        return ChunkKey(user_id, sync_id, int(digits))
    return None


def key_from_event(raw_key: str) -> str:
    """S3 event notifications URL-encode keys, with ``+`` for a space."""
    return unquote_plus(raw_key)


def decode_body(body: bytes, max_bytes: int) -> bytes:
    """The JSON bytes of a stored or uploaded chunk: gunzipped if gzip, never over max_bytes.

    Decompression is streamed and capped, so a small gzip bomb cannot exhaust memory.
    """
    if not body.startswith(GZIP_MAGIC):
        if len(body) > max_bytes:
            raise ChunkTooLarge(len(body), max_bytes)
        return body
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as stream:
            data = stream.read(max_bytes + 1)
    except (OSError, EOFError, zlib.error) as error:
        raise MalformedBody(f"body is not valid gzip: {error}") from None
    if len(data) > max_bytes:
        raise ChunkTooLarge(None, max_bytes)
    return data


@dataclass(frozen=True, slots=True)
class StoredObject:
    body: bytes
    last_modified: datetime


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
