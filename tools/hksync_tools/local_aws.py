"""How a client of the local stack signs its calls to the stack's moto server.

The stack's state file (stack.json) says where the server listens; this says the rest: moto
accepts any credentials, and the stack provisions everything in one region, in moto's default
account (so that ARNs and queue URLs agree with what moto reports). A module of its own so
that the stack's clients (ops, tests) do not import the stack to reach it.
"""

from __future__ import annotations

from typing import Final

LOCAL_REGION: Final = "us-east-1"
LOCAL_ACCOUNT: Final = "123456789012"
FAKE_CREDENTIALS: Final = {
    "AWS_ACCESS_KEY_ID": "local",
    "AWS_SECRET_ACCESS_KEY": "local",
    "AWS_SESSION_TOKEN": "local",
}


def local_client_options(endpoint_url: str) -> dict[str, str]:
    """The keyword arguments of ``boto3.client`` that reach the moto server at endpoint_url."""
    return {
        "endpoint_url": endpoint_url,
        "region_name": LOCAL_REGION,
        "aws_access_key_id": FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "aws_session_token": FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
    }


def local_queue_url(queue_name: str) -> str:
    """A local queue's URL in AWS's own form (moto finds a queue by the name at its end)."""
    return f"https://sqs.{LOCAL_REGION}.amazonaws.com/{LOCAL_ACCOUNT}/{queue_name}"
