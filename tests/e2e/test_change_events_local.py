"""Change events on the local stack: a sync uploaded over HTTP, its S3 events delivered at least
once and out of order, ends in one SyncCompleted event on moto's bus (read from the queue the
local rule delivers to), and `hksync ops events` shows it published."""

from __future__ import annotations

import time
import uuid
from typing import Any

from hksync.contract.change_events import SyncCompleted
from hksync_tools.client import HksyncClient
from hksync_tools.local.auth import issue_token
from hksync_tools.local.queues import drain_queue
from hksync_tools.local.stack import LOCAL_REGION, LocalStack
from tests.e2e.test_ops_command import _ops
from tests.support.builders import chunk, commit, heart_rates


def _events_of(stack: LocalStack, user: str, *, wait_s: float = 0) -> list[dict[str, Any]]:
    """The user's events delivered to the consumer queue (consumed), waiting up to ``wait_s``
    for the first."""
    assert stack.change_events is not None
    until = time.monotonic() + wait_s
    while True:
        delivered = drain_queue(stack.change_events.consumer_queue_url, LOCAL_REGION)
        found = [event for event in delivered if event["detail"]["user_id"] == user]
        if found or time.monotonic() >= until:
            return found
        time.sleep(0.1)


def test_a_sync_over_http_publishes_one_event_to_the_local_bus(local_stack: LocalStack) -> None:
    assert local_stack.info is not None
    user = f"events-e2e-{uuid.uuid4().hex[:8]}"
    sync_id = uuid.uuid4()
    with HksyncClient(
        local_stack.info.api_url, issue_token(user, local_stack.signing_secret)
    ) as app:
        for seq in range(3):
            app.upload_chunk(chunk(sync_id, seq, heart_rates(5)))
        app.commit(sync_id, commit(3, "anchor-after-events-e2e"))
        assert app.wait_until_settled(sync_id, timeout_s=60)["state"] == "complete"

    (event,) = _events_of(local_stack, user, wait_s=30)
    local_stack.wait_until_idle()  # every duplicate delivery of the sync's objects is done
    assert _events_of(local_stack, user) == []

    detail = SyncCompleted.model_validate(event["detail"])
    assert (detail.sync_id, detail.counts.inserted, detail.counts.chunks) == (sync_id, 15, 3)
    listed = _ops(local_stack, "events", "--user", user)["events"]
    assert [(e["event_id"], e["sync_id"]) for e in listed] == [(str(detail.event_id), str(sync_id))]
    assert listed[0]["published_at"] is not None
