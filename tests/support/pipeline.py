"""Drives the real handlers the way AWS would: API Gateway v2 events in, S3 events out.

Functions are loaded from functions/ with load_handler (as `hksync local invoke` does), S3 is
moto, the database is the real test PostgreSQL. Tests control when and in which order S3
events reach the processor, and how often.
"""

from __future__ import annotations

import gzip
import json
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from hksync_tools.local.functions import FakeLambdaContext, load_handler
from hksync_tools.local.lambda_events import http_api_event
from hksync_tools.local.notifier import CreatedObject, ObjectCreatedFeed

FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


@dataclass
class HttpResult:
    status: int
    body: Any
    headers: dict[str, str]


class Pipeline:
    def __init__(self, bucket: str) -> None:
        self.bucket = bucket
        self.ingest = load_handler(FUNCTIONS / "ingest", "app.handler")
        self.query = load_handler(FUNCTIONS / "query", "app.handler")
        self.processor = load_handler(FUNCTIONS / "processor", "app.handler")
        self.feed = ObjectCreatedFeed(boto3.client("s3"), bucket)

    # --- HTTP, as the app calls it ---------------------------------------------------------

    def call(
        self,
        function: Any,
        method: str,
        route: str,
        params: dict[str, str],
        *,
        user: str | None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
    ) -> HttpResult:
        path = route.format(**params)
        event = http_api_event(
            method,
            f"{method} {route}",
            path,
            path_parameters=params or None,
            headers={"content-type": "application/json", **(headers or {})},
            body=body,
            claims={"sub": user} if user else None,
            query=query,
        )
        response = function(event, FakeLambdaContext("test"))
        text = response.get("body") or ""
        return HttpResult(
            response["statusCode"], json.loads(text) if text else None, response.get("headers", {})
        )

    def put_chunk(
        self, user: str, chunk: dict[str, Any], *, gzipped: bool = False, body: bytes | None = None
    ) -> HttpResult:
        payload = body if body is not None else json.dumps(chunk).encode()
        headers = {}
        if gzipped:
            payload = gzip.compress(payload)
            headers["content-encoding"] = "gzip"
        return self.call(
            self.ingest,
            "PUT",
            "/v1/syncs/{sync_id}/chunks/{seq}",
            {"sync_id": str(chunk["sync_id"]), "seq": str(chunk["seq"])},
            user=user,
            body=payload,
            headers=headers,
        )

    def commit(self, user: str, sync_id: Any, commit: dict[str, Any]) -> HttpResult:
        return self.call(
            self.ingest,
            "PUT",
            "/v1/syncs/{sync_id}/commit",
            {"sync_id": str(sync_id)},
            user=user,
            body=json.dumps(commit).encode(),
        )

    def upload_url(self, user: str, sync_id: Any, seq: int) -> HttpResult:
        return self.call(
            self.ingest,
            "POST",
            "/v1/syncs/{sync_id}/chunks/{seq}/upload-url",
            {"sync_id": str(sync_id), "seq": str(seq)},
            user=user,
        )

    def status(self, user: str, sync_id: Any) -> HttpResult:
        return self.call(
            self.query, "GET", "/v1/syncs/{sync_id}", {"sync_id": str(sync_id)}, user=user
        )

    def rejected(self, user: str, sync_id: Any, **query: str) -> HttpResult:
        """GET /v1/syncs/{sync_id}/rejected; ``query`` as after= and limit=."""
        return self.call(
            self.query,
            "GET",
            "/v1/syncs/{sync_id}/rejected",
            {"sync_id": str(sync_id)},
            user=user,
            query=query,
        )

    def anchors(self, user: str) -> HttpResult:
        return self.call(self.query, "GET", "/v1/anchors", {}, user=user)

    def upload(self, user: str, sync: Any) -> None:
        """Uploads a simulated sync's chunks and commit, asserting each is accepted."""
        for chunk in sync.chunks:
            result = self.put_chunk(user, chunk)
            assert result.status == 202, result.body
        result = self.commit(user, sync.sync_id, sync.commit)
        assert result.status == 202, result.body

    # --- S3 events, as S3 sends them -------------------------------------------------------

    def pending(self) -> list[CreatedObject]:
        """Objects created since the last call: the events S3 owes the processor."""
        return self.feed.new_objects()

    def deliver(self, objects: Iterable[CreatedObject]) -> list[dict[str, Any]]:
        results = []
        for obj in objects:
            response = self.processor(obj.event(self.bucket), FakeLambdaContext("processor"))
            results.extend(response["results"])
        return results

    def drain(
        self, *, rng: random.Random | None = None, duplicate_rate: float = 0.0
    ) -> list[dict[str, Any]]:
        """Delivers every pending event once (or shuffled and partly twice, given an rng)."""
        objects = self.pending()
        if rng is not None:
            objects = objects + [obj for obj in objects if rng.random() < duplicate_rate]
            rng.shuffle(objects)
        return self.deliver(objects)
