"""The functions under `sam local start-api`, driven with the events it sends: the API stage
in requestContext but the routes mounted at the root (rawPath without "/dev"), and no
authorizer claims (SAM skips JWT authorizers), so the caller comes from the Authorization
header's dev token, checked in the function. Real handlers, moto S3, the test database.

And the same environment with the stage template.yaml sets when deployed: the dev token is
refused there even though AWS_SAM_LOCAL is set, and nothing is stored.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from hksync.settings import settings_for
from hksync_tools.local.auth import issue_token, sam_local_secret
from hksync_tools.local.functions import FakeLambdaContext, load_handler
from hksync_tools.local.lambda_events import http_api_event
from tests.conftest import TEST_BUCKET
from tests.support.builders import chunk, heart_rates
from tests.support.pipeline import HttpResult

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
#: The secret events/env.json gives every function (a documented dev value).
SECRET = sam_local_secret(ROOT / "events" / "env.json")
#: The HTTP API's stage as sam local reads it from template.yaml (StageName: !Ref Stage).
API_STAGE = "dev"
CHUNK_ROUTE = "/v1/syncs/{sync_id}/chunks/{seq}"


def _handlers(monkeypatch: pytest.MonkeyPatch, *, stage: str) -> tuple[Any, Any]:
    """Ingest and query loaded as SAM's container would: AWS_SAM_LOCAL, env.json's secret."""
    monkeypatch.setenv("AWS_SAM_LOCAL", "true")
    monkeypatch.setenv("DEV_TOKEN_SECRET", SECRET)
    monkeypatch.setenv("STAGE", stage)
    settings_for.cache_clear()
    return (
        load_handler(FUNCTIONS / "ingest", "app.handler"),
        load_handler(FUNCTIONS / "query", "app.handler"),
    )


def _call(
    handler: Any,
    method: str,
    route: str,
    params: dict[str, str],
    *,
    authorization: str | None = None,
    claims: dict[str, Any] | None = None,
    path_prefix: str = "",
    body: Any = None,
) -> HttpResult:
    headers = {"content-type": "application/json"}
    if authorization is not None:
        headers["authorization"] = authorization
    event = http_api_event(
        method,
        f"{method} {route}",
        path_prefix + route.format(**params),
        path_parameters=params or None,
        headers=headers,
        body=json.dumps(body).encode() if body is not None else None,
        claims=claims,
        stage=API_STAGE,
    )
    response = handler(event, FakeLambdaContext("sam-local"))
    return HttpResult(response["statusCode"], json.loads(response["body"]), {})


def _stored_keys() -> list[str]:
    listing = boto3.client("s3").list_objects_v2(Bucket=TEST_BUCKET)
    return [item["Key"] for item in listing.get("Contents", [])]


def _put_chunk(ingest: Any, sync_id: uuid.UUID, authorization: str) -> HttpResult:
    return _call(
        ingest,
        "PUT",
        CHUNK_ROUTE,
        {"sync_id": str(sync_id), "seq": "0"},
        authorization=authorization,
        body=chunk(sync_id, 0, heart_rates(3)),
    )


def test_sam_local_events_route_and_take_the_user_from_the_dev_token(
    pipeline_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest, query = _handlers(monkeypatch, stage="local")
    sync_id = uuid.uuid4()
    bearer = f"Bearer {issue_token('alice', SECRET)}"

    stored = _put_chunk(ingest, sync_id, bearer)
    status = _call(
        query, "GET", "/v1/syncs/{sync_id}", {"sync_id": str(sync_id)}, authorization=bearer
    )

    assert (stored.status, stored.body["samples"]) == (202, 3)
    assert _stored_keys() == [f"raw/alice/{sync_id}/chunks/000000.json"]
    assert status.status == 200
    assert status.body["sync_id"] == str(sync_id)


def test_both_event_shapes_route_the_same(
    pipeline_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, query = _handlers(monkeypatch, stage="local")
    bearer = f"Bearer {issue_token('alice', SECRET)}"

    # API Gateway: the stage prefix in rawPath, the authorizer's claims; sam local: neither.
    deployed_shape = _call(
        query, "GET", "/v1/anchors", {}, claims={"sub": "alice"}, path_prefix=f"/{API_STAGE}"
    )
    sam_local_shape = _call(query, "GET", "/v1/anchors", {}, authorization=bearer)

    assert deployed_shape.status == sam_local_shape.status == 200
    assert deployed_shape.body == sam_local_shape.body


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="no-token"),
        pytest.param("Bearer not-a-token", id="not-a-jwt"),
        pytest.param(
            f"Bearer {issue_token('alice', 'another secret, not the one in env.json')}",
            id="other-secret",
        ),
    ],
)
def test_sam_local_refuses_a_missing_or_bad_dev_token(
    authorization: str | None, pipeline_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest, _ = _handlers(monkeypatch, stage="local")

    result = _put_chunk(ingest, uuid.uuid4(), authorization or "")

    assert result.status == 401
    assert result.body["error"] == "unauthenticated"
    assert "dev token is refused" in result.body["message"]
    assert _stored_keys() == []


def test_a_dev_token_subject_is_checked_like_any_verified_user(
    pipeline_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest, _ = _handlers(monkeypatch, stage="local")

    token = issue_token("alice\x00", SECRET)

    result = _put_chunk(ingest, uuid.uuid4(), f"Bearer {token}")

    assert result.status == 401
    assert "control character (U+0000)" in result.body["message"]
    assert _stored_keys() == []


@pytest.mark.parametrize("stage", ["dev", "staging", "prod"])
def test_the_sam_local_user_path_is_off_in_a_deployed_configuration(
    stage: str, pipeline_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    ingest, query = _handlers(monkeypatch, stage=stage)
    bearer = f"Bearer {issue_token('alice', SECRET)}"

    stored = _put_chunk(ingest, uuid.uuid4(), bearer)
    anchors = _call(query, "GET", "/v1/anchors", {}, authorization=bearer)

    for refused in (stored, anchors):
        assert refused.status == 401
        assert refused.body["error"] == "unauthenticated"
        assert (
            f"only in the local stage (STAGE=local, events/env.json), never in {stage}"
            in (refused.body["message"])
        )
    assert _stored_keys() == []
    # The authorizer's claims still name the caller there, as in AWS.
    assert _call(query, "GET", "/v1/anchors", {}, claims={"sub": "alice"}).status == 200
