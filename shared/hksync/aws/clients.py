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
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

# Retries with jitter for throttling and transient errors (botocore's "standard" mode); SigV4
# so that presigned URLs also sign the If-None-Match header the upload must send.
_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, signature_version="s3v4")


#: Other services: the same retries, their default signing.
_RETRYING = Config(retries={"mode": "standard", "max_attempts": 5})
#: Publishing a reminder is never retried by the SDK: a retry after a timeout may send a
#: notification that already went out. hksync.dispatch retries only what SNS refused.
_SINGLE_ATTEMPT = Config(retries={"mode": "standard", "max_attempts": 1})
#: Change events: a publish that fails is published again by the hourly sweep (and a repeat is
#: harmless: consumers drop it by event_id), so a slow bus costs seconds, not the function's
#: whole timeout, while the events it publishes are locked.
_SHORT_WAIT = Config(
    retries={"mode": "standard", "max_attempts": 3}, connect_timeout=2, read_timeout=5
)


@cache
def s3_client() -> S3Client:
    return boto3.client("s3", config=_CONFIG)


@cache
def scheduler_client() -> EventBridgeSchedulerClient:
    return boto3.client("scheduler", config=_RETRYING)


@cache
def sns_client() -> SNSClient:
    return boto3.client("sns", config=_SINGLE_ATTEMPT)


@cache
def sqs_client() -> SQSClient:
    return boto3.client("sqs", config=_RETRYING)


@cache
def events_client() -> EventBridgeClient:
    return boto3.client("events", config=_SHORT_WAIT)


def reset_clients() -> None:
    """Forget cached clients (tests switch between moto contexts)."""
    s3_client.cache_clear()
    scheduler_client.cache_clear()
    sns_client.cache_clear()
    sqs_client.cache_clear()
    events_client.cache_clear()
