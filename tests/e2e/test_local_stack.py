"""The simulator against the local stack over real HTTP: JSON, gzip and presigned uploads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import psycopg

from hksync_tools.client import HksyncClient
from hksync_tools.local.auth import issue_token
from hksync_tools.local.stack import LocalStack
from hksync_tools.simulator.runner import simulate
from hksync_tools.simulator.user import AppleWatchUser


def _live_rows(database_url: str, user: str) -> dict[UUID, tuple[str, float | None]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            """SELECT uuid, sample_type, value FROM health_samples
               WHERE user_id = %s AND deleted_at IS NULL""",
            (user,),
        ).fetchall()
    return {uuid: (sample_type, value) for uuid, sample_type, value in rows}


def test_simulated_user_over_http_with_gzip_and_presigned_uploads(local_stack: LocalStack) -> None:
    assert local_stack.info is not None
    user_id = "http-user-1"
    user = AppleWatchUser(23, now=datetime.now(UTC) - timedelta(hours=12), chunk_size=2000)
    token = issue_token(user_id, local_stack.signing_secret)
    # A small body limit sends the larger chunks through presigned S3 URLs, as a phone would
    # for chunks above the API's limit; the smaller ones go as JSON or gzip.
    with HksyncClient(local_stack.info.api_url, token, max_body_bytes=48 * 1024) as client:
        report = simulate(
            client,
            user,
            user_id=user_id,
            days=3,
            incremental_syncs=2,
            hours_between=6,
            show_progress=False,
        )
        transfers = dict(client.transfers)

    assert report.complete
    assert transfers["presigned"] > 0
    assert transfers["gzip"] > 0
    assert transfers["json"] > 0
    stored = _live_rows(local_stack.info.database_url, user_id)
    expected = user.live_samples()
    assert stored.keys() == {UUID(uuid) for uuid in expected}
    assert {uuid: sample_type for uuid, (sample_type, _) in stored.items()} == {
        UUID(uuid): sample["sample_type"] for uuid, sample in expected.items()
    }
    assert set(report.anchors) == {sample["sample_type"] for sample in expected.values()} | set(
        report.anchors
    )


def test_requests_without_a_valid_token_are_401(local_stack: LocalStack) -> None:
    assert local_stack.info is not None
    url = f"{local_stack.info.api_url}/v1/anchors"

    missing = httpx.get(url)
    forged = httpx.get(
        url,
        headers={
            "Authorization": f"Bearer {issue_token('x', 'a-secret-that-is-not-the-stacks-own-32b')}"
        },
    )
    stale = issue_token("x", local_stack.signing_secret, valid_for=timedelta(seconds=-5))
    expired = httpx.get(url, headers={"Authorization": f"Bearer {stale}"})

    assert [missing.status_code, forged.status_code, expired.status_code] == [401, 401, 401]


def test_unknown_routes_are_404(local_stack: LocalStack) -> None:
    assert local_stack.info is not None
    token = issue_token("x", local_stack.signing_secret)

    response = httpx.get(
        f"{local_stack.info.api_url}/v1/nothing", headers={"Authorization": f"Bearer {token}"}
    )

    assert response.status_code == 404
