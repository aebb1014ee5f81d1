-- hksync schema, version 8: change events (issue 15; hksync.db.change_events writes and reads
-- them, hksync.change_events publishes them, docs/change-events.md is their schema).

-- A transactional outbox: a sync's SyncCompleted event is written in the transaction that
-- completes the sync, so that it exists exactly when the sync is complete; it is published to
-- EventBridge after that transaction (published_at set once the bus accepted it), and what
-- could not be published is published again by the hourly upkeep.
CREATE TABLE change_events (
    event_id           uuid        PRIMARY KEY,
    user_id            text        NOT NULL,
    sync_id            uuid        NOT NULL,
    -- The event's detail as published (hksync.contract.change_events.SyncCompleted).
    detail             jsonb       NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    published_at       timestamptz,
    -- One event per sync: completing a sync again (a replayed chunk or commit) adds none.
    -- Per user, as sync ids are: they are the apps' choice, and one user's id must never
    -- suppress another user's event.
    UNIQUE (user_id, sync_id),
    -- Erasing a user deletes their syncs, and their events with them.
    FOREIGN KEY (user_id, sync_id) REFERENCES sync_sessions (user_id, sync_id) ON DELETE CASCADE
);
-- The upkeep's sweep: the oldest events not yet published.
CREATE INDEX change_events_unpublished_idx ON change_events (created_at)
    WHERE published_at IS NULL;
-- `hksync ops events`: the newest events, of everyone or of one user.
CREATE INDEX change_events_created_idx ON change_events (created_at DESC);
CREATE INDEX change_events_user_created_idx ON change_events (user_id, created_at DESC);

-- The rows a sync wrote, for its event's types, time range and local days: read once, when it
-- completes. Without this index that read scans every sample of the user, at every sync.
CREATE INDEX health_samples_user_sync_idx ON health_samples (user_id, sync_id);
