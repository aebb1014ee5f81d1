"""The reference client: uploads syncs the way the mobile app should.

Chunks go as JSON, gzip-compressed when that pays off, and through a presigned S3 URL when
still too large for a request body. Every request is retried with exponential backoff and
jitter on 5xx, 429 and network errors; uploads are safe to retry because chunks are immutable
(the same bytes again are a 202). It talks to the local stack and to a deployed stack alike.
"""

from __future__ import annotations

import gzip
import json
import random
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Final
from uuid import UUID

import httpx

RETRYABLE_STATUS: Final = frozenset({429, 500, 502, 503, 504})
#: Below this, gzip costs more CPU on the phone than it saves on the network.
GZIP_THRESHOLD_BYTES: Final = 16 * 1024
#: What fits in one request body (API Gateway and Lambda limits, with margin).
MAX_BODY_BYTES: Final = 4 * 1024 * 1024


class ApiError(Exception):
    """A 4xx answer: the request is wrong and retrying it will not help."""

    def __init__(self, response: httpx.Response) -> None:
        self.status = response.status_code
        try:
            self.body: Any = response.json()
        except ValueError:
            self.body = response.text
        super().__init__(
            f"{response.request.method} {response.request.url.path}: {self.status} {self.body}"
        )


class HksyncClient:
    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        retries: int = 5,
        backoff_s: float = 0.2,
        max_body_bytes: int = MAX_BODY_BYTES,
        timeout_s: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
        )
        self._storage = httpx.Client(timeout=timeout_s)  # presigned URLs carry their own auth
        self._retries = retries
        self._backoff_s = backoff_s
        self._max_body_bytes = max_body_bytes
        self._sleep = sleep
        self._jitter = random.Random()  # noqa: S311 - backoff jitter, not secrets
        #: How each chunk travelled: "json", "gzip" or "presigned" -> count.
        self.transfers: dict[str, int] = {"json": 0, "gzip": 0, "presigned": 0}
        self.retried = 0

    def close(self) -> None:
        self._http.close()
        self._storage.close()

    def __enter__(self) -> HksyncClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _send(self, client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
        for attempt in range(self._retries + 1):
            try:
                response = client.request(method, url, **kwargs)
            except httpx.TransportError:
                if attempt == self._retries:
                    raise
            else:
                if response.status_code not in RETRYABLE_STATUS or attempt == self._retries:
                    return response
            self.retried += 1
            delay = self._backoff_s * (2**attempt)
            self._sleep(delay / 2 + self._jitter.uniform(0, delay / 2))
        raise AssertionError("unreachable")

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._send(self._http, method, path, **kwargs)
        if response.status_code >= 400:
            raise ApiError(response)
        return response.json()

    def upload_chunk(self, chunk: dict[str, Any]) -> dict[str, Any]:
        """Uploads one chunk by the cheapest route that fits; returns the server's answer."""
        sync_id, seq = chunk["sync_id"], chunk["seq"]
        body = json.dumps(chunk, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json"}
        transfer = "json"
        if len(body) > GZIP_THRESHOLD_BYTES:
            body = gzip.compress(body, compresslevel=6)
            headers["Content-Encoding"] = "gzip"
            transfer = "gzip"
        if len(body) > self._max_body_bytes:
            return self._upload_presigned(sync_id, seq, body)
        answer: dict[str, Any] = self._json(
            "PUT", f"/v1/syncs/{sync_id}/chunks/{seq}", content=body, headers=headers
        )
        self.transfers[transfer] += 1
        return answer

    def _upload_presigned(self, sync_id: str, seq: int, body: bytes) -> dict[str, Any]:
        target = self._json("POST", f"/v1/syncs/{sync_id}/chunks/{seq}/upload-url")
        response = self._send(
            self._storage, target["method"], target["url"], content=body, headers=target["headers"]
        )
        # 412: the object exists already (an earlier attempt got through before a retry).
        if response.status_code >= 400 and response.status_code != 412:
            raise ApiError(response)
        self.transfers["presigned"] += 1
        return {"sync_id": sync_id, "seq": seq, "created": response.status_code != 412}

    def commit(self, sync_id: UUID | str, commit: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = self._json("PUT", f"/v1/syncs/{sync_id}/commit", json=commit)
        return answer

    def status(self, sync_id: UUID | str) -> dict[str, Any]:
        answer: dict[str, Any] = self._json("GET", f"/v1/syncs/{sync_id}")
        return answer

    def rejected_samples(self, sync_id: UUID | str) -> list[dict[str, Any]]:
        """Every sample of the sync refused on its own, page after page."""
        found: list[dict[str, Any]] = []
        params: dict[str, str] = {}
        while True:
            page = self._json("GET", f"/v1/syncs/{sync_id}/rejected", params=params)
            found += page["rejected"]
            if page["next_after"] is None:
                return found
            params = {"after": page["next_after"]}

    def samples(
        self, sample_type: str, start: datetime, end: datetime, *, include_deleted: bool = False
    ) -> list[dict[str, Any]]:
        """Every sample of a type starting in [start, end), page after page."""
        found: list[dict[str, Any]] = []
        params = {
            "sample_type": sample_type,
            "start": start.isoformat(),
            "end": end.isoformat(),
            "include_deleted": str(include_deleted).lower(),
        }
        while True:
            page = self._json("GET", "/v1/samples", params=params)
            found += page["samples"]
            if page["next_after"] is None:
                return found
            params = {**params, "after": page["next_after"]}

    def daily_summaries(self, sample_types: list[str], start: date, end: date) -> dict[str, Any]:
        answer: dict[str, Any] = self._json(
            "GET",
            "/v1/summaries/daily",
            params={"types": ",".join(sample_types), "start": str(start), "end": str(end)},
        )
        return answer

    def set_source_priority(self, sample_type: str, bundle_ids: list[str]) -> dict[str, Any]:
        answer: dict[str, Any] = self._json(
            "PUT",
            "/v1/me/source-priority",
            json={"sample_type": sample_type, "bundle_ids": bundle_ids},
        )
        return answer

    def anchors(self) -> dict[str, str]:
        answer = self._json("GET", "/v1/anchors")
        return {item["sample_type"]: item["anchor"] for item in answer["anchors"]}

    def create_reminder(self, reminder: dict[str, Any]) -> dict[str, Any]:
        """Creates a reminder; safe to retry (the server knows it by its reminder_id)."""
        answer: dict[str, Any] = self._json("POST", "/v1/reminders", json=reminder)
        return answer

    def reminders(self) -> list[dict[str, Any]]:
        answer = self._json("GET", "/v1/reminders")
        return list(answer["reminders"])

    def wait_until_settled(
        self, sync_id: UUID | str, *, timeout_s: float = 300.0, poll_s: float = 0.1
    ) -> dict[str, Any]:
        """Polls the sync's status until it is complete or failed."""
        deadline = time.monotonic() + timeout_s
        while True:
            status = self.status(sync_id)
            if status["state"] in {"complete", "failed"}:
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"sync {sync_id} still {status['state']} after {timeout_s}s")
            self._sleep(poll_s)
            poll_s = min(poll_s * 1.5, 2.0)
