"""A token whose subject cannot be a user is a 401 naming why, on every route, before anything
is stored under it (issue 17: a NUL or a lone surrogate was accepted with 202, dead-lettered by
the processor, and then a 500 on every database route). The ingest and reminders handlers run
as Lambda loads them, over moto S3 and the test database."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import boto3
import pytest

from hksync.keys import MAX_USER_ID_BYTES
from hksync_tools.local.functions import FakeLambdaContext, load_handler
from hksync_tools.local.lambda_events import http_api_event
from tests.conftest import TEST_BUCKET
from tests.support.builders import chunk, commit, heart_rates
from tests.support.pipeline import HttpResult
from tests.support.reminders import ReminderDriver

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"

UNUSABLE_SUBJECTS = [
    pytest.param("alice\x00", "control character (U+0000)", id="nul"),
    pytest.param("alice\ud83d", "lone surrogate (U+D83D)", id="lone-surrogate"),
    pytest.param("alice\x1b[2J", "control character (U+001B)", id="escape-sequence"),
    pytest.param("a" * (MAX_USER_ID_BYTES + 1), "bytes of UTF-8, more than the", id="too-long"),
]


class Ingest:
    """The ingest function, called with API Gateway events carrying the subject's claims."""

    def __init__(self) -> None:
        self.handler = load_handler(FUNCTIONS / "ingest", "app.handler")

    def call(
        self, method: str, route: str, params: dict[str, str], user: str, body: Any
    ) -> HttpResult:
        event = http_api_event(
            method,
            f"{method} {route}",
            route.format(**params),
            path_parameters=params,
            headers={"content-type": "application/json"},
            body=json.dumps(body).encode() if body is not None else None,
            claims={"sub": user},
        )
        response = self.handler(event, FakeLambdaContext("IngestFunction"))
        return HttpResult(response["statusCode"], json.loads(response["body"]), {})

    def every_route(self, user: str, sync_id: uuid.UUID) -> list[HttpResult]:
        chunk_route = "/v1/syncs/{sync_id}/chunks/{seq}"
        return [
            self.call(
                "PUT",
                chunk_route,
                {"sync_id": str(sync_id), "seq": "0"},
                user,
                chunk(sync_id, 0, heart_rates(2)),
            ),
            self.call(
                "POST",
                f"{chunk_route}/upload-url",
                {"sync_id": str(sync_id), "seq": "1"},
                user,
                None,
            ),
            self.call(
                "PUT", "/v1/syncs/{sync_id}/commit", {"sync_id": str(sync_id)}, user, commit(1)
            ),
        ]


@pytest.fixture
def ingest(pipeline_env: None) -> Ingest:
    return Ingest()


def _stored_keys() -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=TEST_BUCKET)
    return [item["Key"] for item in listing.get("Contents", [])]


def _assert_refused(result: HttpResult, reason: str) -> None:
    assert result.status == 401, result.body
    assert result.body["error"] == "unauthenticated"
    assert reason in result.body["message"]
    (detail,) = result.body["details"]
    assert detail["field"] == "Authorization"
    assert reason in detail["reason"]


@pytest.mark.parametrize(("subject", "reason"), UNUSABLE_SUBJECTS)
def test_uploads_under_an_unusable_subject_are_401_and_store_nothing(
    ingest: Ingest, subject: str, reason: str
) -> None:
    for answer in ingest.every_route(subject, uuid.uuid4()):
        _assert_refused(answer, reason)
    assert _stored_keys() == []


@pytest.mark.parametrize(("subject", "reason"), UNUSABLE_SUBJECTS)
def test_a_database_route_answers_401_not_500(
    reminders: ReminderDriver, subject: str, reason: str
) -> None:
    _assert_refused(reminders.list(subject), reason)


def test_the_longest_subject_allowed_is_a_user_like_any_other(
    ingest: Ingest, reminders: ReminderDriver
) -> None:
    subject = "é" * (MAX_USER_ID_BYTES // 2)  # two bytes each: just inside the limit
    sync_id = uuid.uuid4()

    statuses = [answer.status for answer in ingest.every_route(subject, sync_id)]

    assert statuses == [202, 200, 202]
    assert f"raw/{quote(subject, safe='')}/{sync_id}/chunks/000000.json" in _stored_keys()
    listed = reminders.list(subject)
    assert listed.status == 200, listed.body
