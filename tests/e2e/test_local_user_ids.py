"""Over real HTTP on the local stack: a signed dev token whose subject cannot be a user passes
the authorizer (API Gateway's checks the signature, issuer, audience and expiry, never what the
subject holds) and is answered 401 with the reason by the function, on every route."""

from __future__ import annotations

import uuid

import httpx
import pytest

from hksync_tools.local.auth import issue_token
from hksync_tools.local.stack import LocalStack
from tests.support.builders import chunk, heart_rates


@pytest.mark.parametrize(
    ("subject", "reason"),
    [
        pytest.param("bob\x00", "control character (U+0000)", id="nul"),
        pytest.param("bob\udc80", "lone surrogate (U+DC80)", id="lone-surrogate"),
    ],
)
def test_a_signed_token_with_an_unusable_subject_is_401_with_the_reason(
    local_stack: LocalStack, subject: str, reason: str
) -> None:
    assert local_stack.info is not None
    headers = {"Authorization": f"Bearer {issue_token(subject, local_stack.signing_secret)}"}
    sync_id = uuid.uuid4()
    with httpx.Client(base_url=local_stack.info.api_url, headers=headers) as client:
        answers = [
            client.put(f"/v1/syncs/{sync_id}/chunks/0", json=chunk(sync_id, 0, heart_rates(1))),
            client.get("/v1/anchors"),
            client.get("/v1/reminders"),
        ]

    for answer in answers:
        assert answer.status_code == 401, answer.text
        assert reason in answer.json()["message"]
