-- hksync schema, version 10: change events (issue 15; hksync.db.change_events writes and reads
-- them, hksync.change_events publishes them, docs/change-events.md is their schema). After 0009:
-- the table takes its place in the roles and row-level security that migration set up.

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

-- Who may do what (0009_roles_and_rls.sql). The processor writes a sync's event when it
-- completes the sync and marks it published right after: acting for the sync's user, under
-- row-level security like every per-user table.
GRANT SELECT, INSERT ON change_events TO hksync_processor;
GRANT UPDATE (published_at) ON change_events TO hksync_processor;
GRANT SELECT ON change_events TO hksync_ops;
-- The account function needs none: erasing a user deletes their events with their syncs (ON
-- DELETE CASCADE, run as the owner). Row-level security, as on every per-user table:
ALTER TABLE change_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE change_events FORCE ROW LEVEL SECURITY;
CREATE POLICY acting_user ON change_events
    USING (user_id = current_setting('hksync.user_id', true))
    WITH CHECK (user_id = current_setting('hksync.user_id', true));
CREATE POLICY every_user ON change_events TO hksync_every_user USING (true) WITH CHECK (true);

-- The hourly upkeep's sweep spans users before a user is known: two narrow functions run as
-- the owner, for the reminders function's role. The oldest unpublished events, locked for the
-- caller's transaction (skipping those another publisher holds) ...
CREATE FUNCTION hksync_claim_unpublished_change_events(max_events integer)
    RETURNS SETOF change_events
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public
    AS $$ SELECT * FROM change_events e WHERE e.published_at IS NULL
          ORDER BY e.created_at, e.event_id LIMIT $1 FOR UPDATE SKIP LOCKED $$;
-- ... and recording which of them the bus accepted.
CREATE FUNCTION hksync_change_events_published(event_ids uuid[]) RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public
    AS $$ WITH marked AS (
              UPDATE change_events e SET published_at = now()
              WHERE e.event_id = ANY($1) AND e.published_at IS NULL RETURNING 1)
          SELECT count(*) FROM marked $$;
REVOKE EXECUTE ON FUNCTION hksync_claim_unpublished_change_events(integer),
    hksync_change_events_published(uuid[]) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hksync_claim_unpublished_change_events(integer),
    hksync_change_events_published(uuid[]) TO hksync_reminders;
