"""The one place boto3 clients are created: lazily, once per process, reused across invocations.

Locally every client points at the moto server through AWS_ENDPOINT_URL (read by boto3 itself),
so no code path knows whether it talks to AWS or to the local stack.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# Retries with jitter for throttling and transient errors (botocore's "standard" mode); SigV4
# so that presigned URLs also sign the If-None-Match header the upload must send.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, signature_version="s3v4")


@cache
def s3_client() -> S3Client:
    return boto3.client("s3", config=_CONFIG)


def reset_clients() -> None:
    """Forget cached clients (tests switch between moto contexts)."""
    s3_client.cache_clear()
