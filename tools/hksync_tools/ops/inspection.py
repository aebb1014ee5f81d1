"""What the pipeline is doing: syncs by state, one sync in detail, rejected chunks, anchors,
change events and database connections (`hksync ops syncs|sync|failures|anchors|events|
connections`).

The operator's answers to the questions Flower and `celery inspect` used to answer, read from
where the truth is: the database (syncs, the chunk ledger, anchors) and the raw bucket (what
was uploaded). Every answer is a pydantic model the command renders as a table or as JSON.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from hksync import query
from hksync.contract.change_events import SyncCompleted
from hksync.contract.responses import AnchorsView, RejectedSamplesPage, SyncStatusView
from hksync.db.syncs import FailedChunk, SyncStatus
from hksync.errors import ContractViolation, NotFound
from hksync.keys import ChunkKey, parse_key, sync_prefix
from hksync_tools.ops.queries import ChunkFailure, ConnectionGroup
from hksync_tools.ops.target import OpsError

if TYPE_CHECKING:
    from hksync_tools.ops.resources import OpsResources


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class SyncsOverview(_View):
    """Syncs per state, then the most recently active syncs matching the filters."""

    counts: dict[str, int] = Field(description="Per state, for the user/since filters.")
    syncs: list[SyncStatus]


class SyncDetail(_View):
    """One sync as the app sees it (``status``), plus what an operator needs to unstick it."""

    status: SyncStatusView
    first_upload_at: datetime | None
    last_activity_at: datetime | None
    failed_chunks: list[FailedChunk]
    unprocessed_seqs: list[int] = Field(
        description="Uploaded to S3 but not in the ledger: in flight, throttled or in the DLQ."
    )
    never_uploaded_seqs: list[int] = Field(
        description="Below the committed chunk count but not in S3: the client never sent them."
    )


class FailuresView(_View):
    failures: list[ChunkFailure]


class ChangeEventView(_View):
    """A change event as the outbox holds it: its detail, and whether it went out yet."""

    event_id: UUID
    user_id: str
    sync_id: UUID
    created_at: datetime
    published_at: datetime | None = Field(
        description="When the bus accepted it; null while it waits for the hourly upkeep."
    )
    detail: SyncCompleted


class ChangeEventsView(_View):
    events: list[ChangeEventView]


class ConnectionsView(_View):
    max_connections: int
    in_use: int
    groups: list[ConnectionGroup]


class Inspection:
    """The read-only questions, against one target."""

    def __init__(self, resources: OpsResources) -> None:
        self._resources = resources

    def syncs(
        self,
        *,
        state: str | None = None,
        user_id: str | None = None,
        sync_id: UUID | None = None,
        since: datetime | None = None,
        limit: int = 20,
    ) -> SyncsOverview:
        """Counts per state (for the user, sync and since filters), then the newest matching
        syncs. A sync id alone finds the user of a sync seen in the logs (which carry only a
        pseudonym of the user).

        Syncs the processor has not seen at all (only uploaded) are not in the database yet:
        `sync` and `dlq list` show those."""
        queries = self._resources.queries
        return SyncsOverview(
            counts=queries.state_counts(user_id=user_id, sync_id=sync_id, since=since),
            syncs=queries.recent_syncs(
                state=state, user_id=user_id, sync_id=sync_id, since=since, limit=limit
            ),
        )

    def rejected(
        self, user_id: str, sync_id: UUID, *, after: str | None, limit: int
    ) -> RejectedSamplesPage:
        """A page of the sync's samples refused on their own, as the app reads them."""
        try:
            return query.rejected_samples(
                self._resources.repository, user_id, sync_id, after=after, limit=limit
            )
        except NotFound:
            raise OpsError(f"no sync {sync_id} of user {user_id!r} in the database") from None
        except ContractViolation as error:
            raise OpsError(f"--after {after!r}: {error.details[0].reason}") from None

    def sync(self, user_id: str, sync_id: UUID) -> SyncDetail:
        """One sync: the app's status view, its failed chunks with reasons, and which chunks
        are uploaded but unprocessed or committed but never uploaded."""
        repository, store = self._resources.repository, self._resources.store
        try:
            status = query.sync_status(repository, store, user_id, sync_id)
        except NotFound:
            raise OpsError(
                f"no sync {sync_id} of user {user_id!r}, in the database or in S3"
            ) from None
        row = repository.sync_status(user_id, sync_id)
        uploaded = {
            target.seq
            for key in store.keys(f"{sync_prefix(user_id, sync_id)}chunks/")
            if isinstance(target := parse_key(key), ChunkKey)
        }
        recorded = set(self._resources.queries.recorded_seqs(user_id, sync_id)) if row else set()
        expected = set(range(status.chunk_count)) if status.chunk_count is not None else set()
        return SyncDetail(
            status=status,
            first_upload_at=row.first_upload_at if row else None,
            last_activity_at=row.updated_at if row else None,
            failed_chunks=repository.failed_chunks(user_id, sync_id) if row else [],
            unprocessed_seqs=sorted(uploaded - recorded),
            never_uploaded_seqs=sorted(expected - uploaded),
        )

    def failures(
        self, *, user_id: str | None = None, since: datetime | None = None, limit: int = 50
    ) -> FailuresView:
        """Chunks the processor rejected for good, across users, newest first."""
        return FailuresView(
            failures=self._resources.queries.recent_failures(
                user_id=user_id, since=since, limit=limit
            )
        )

    def anchors(self, user_id: str) -> AnchorsView:
        return query.anchors(self._resources.repository, user_id)

    def events(
        self, *, user_id: str | None = None, since: datetime | None = None, limit: int = 20
    ) -> ChangeEventsView:
        """The newest change events (of one user), published or waiting, newest first."""
        stored = self._resources.change_events.recent(user_id=user_id, since=since, limit=limit)
        return ChangeEventsView(
            events=[
                ChangeEventView(
                    event_id=event.event_id,
                    user_id=event.user_id,
                    sync_id=event.sync_id,
                    created_at=event.created_at,
                    published_at=event.published_at,
                    detail=event.detail,
                )
                for event in stored
            ]
        )

    def connections(self) -> ConnectionsView:
        """Who holds the database's connections, against its limit."""
        queries = self._resources.queries
        groups = queries.connection_groups()
        return ConnectionsView(
            max_connections=queries.max_connections(),
            in_use=sum(group.connections for group in groups),
            groups=groups,
        )
