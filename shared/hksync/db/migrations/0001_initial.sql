-- hksync schema, version 1.
-- user_id is the verified token's subject (text: Cognito and other issuers differ in format).

-- One client sync run: opened by its first chunk or its commit, whichever is processed first.
CREATE TABLE sync_sessions (
    user_id            text        NOT NULL,
    sync_id            uuid        NOT NULL,
    state              text        NOT NULL DEFAULT 'receiving'
                       CHECK (state IN ('receiving', 'committed', 'complete', 'failed')),
    -- From the commit; NULL until the commit is processed.
    chunk_count        integer     CHECK (chunk_count >= 0),
    anchors            jsonb,
    committed_at       timestamptz,
    chunks_processed   integer     NOT NULL DEFAULT 0,
    chunks_failed      integer     NOT NULL DEFAULT 0,
    samples_received   bigint      NOT NULL DEFAULT 0,
    samples_inserted   bigint      NOT NULL DEFAULT 0,
    samples_updated    bigint      NOT NULL DEFAULT 0,
    samples_unchanged  bigint      NOT NULL DEFAULT 0,
    samples_deleted    bigint      NOT NULL DEFAULT 0,
    first_upload_at    timestamptz,
    completed_at       timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, sync_id)
);
-- Ops: syncs by state, stuck syncs, recent failures.
CREATE INDEX sync_sessions_state_idx ON sync_sessions (state, updated_at);

-- The chunk ledger: a chunk listed here has been stored (or has failed for good) and is never
-- processed again.
CREATE TABLE sync_chunks (
    user_id            text        NOT NULL,
    sync_id            uuid        NOT NULL,
    seq                integer     NOT NULL CHECK (seq >= 0),
    state              text        NOT NULL CHECK (state IN ('processed', 'failed')),
    sample_type        text,
    object_key         text        NOT NULL,
    uploaded_at        timestamptz,
    processed_at       timestamptz NOT NULL DEFAULT now(),
    samples_received   integer     NOT NULL DEFAULT 0,
    samples_inserted   integer     NOT NULL DEFAULT 0,
    samples_updated    integer     NOT NULL DEFAULT 0,
    samples_unchanged  integer     NOT NULL DEFAULT 0,
    samples_deleted    integer     NOT NULL DEFAULT 0,
    failure_reason     text,
    PRIMARY KEY (user_id, sync_id, seq),
    FOREIGN KEY (user_id, sync_id) REFERENCES sync_sessions (user_id, sync_id) ON DELETE CASCADE,
    CHECK ((state = 'failed') = (failure_reason IS NOT NULL))
);
-- Ops: the list of failed chunks, newest first.
CREATE INDEX sync_chunks_failed_idx ON sync_chunks (processed_at DESC) WHERE state = 'failed';

-- Every HealthKit sample, keyed by the UUID HealthKit gave it (HealthKit never reuses one).
-- A deleted sample stays as a tombstone (deleted_at set, content cleared) so that a late or
-- replayed insert of the same UUID can never bring it back.
CREATE TABLE health_samples (
    user_id            text        NOT NULL,
    uuid               uuid        NOT NULL,
    sample_type        text        NOT NULL,
    kind               text        CHECK (kind IN ('quantity', 'category', 'workout')),
    start_at           timestamptz,
    end_at             timestamptz,
    -- Quantity samples: the value in the type's canonical unit (contract/types.py).
    value              double precision,
    unit               text,
    -- Category samples: HealthKit's raw category value.
    category_value     integer,
    -- Workouts.
    activity_type      text,
    duration_s         double precision,
    total_energy_kcal  double precision,
    total_distance_m   double precision,
    source_name        text,
    source_bundle_id   text,
    source_version     text,
    device             jsonb,
    metadata           jsonb,
    -- IANA zone the sample was recorded in, so "which local day" is answerable.
    time_zone          text,
    sync_id            uuid,
    deleted_at         timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, uuid),
    CHECK (deleted_at IS NOT NULL OR (kind IS NOT NULL AND start_at IS NOT NULL AND end_at IS NOT NULL))
);
-- The app's main read: a user's live samples of one type over a time range.
CREATE INDEX health_samples_user_type_time_idx
    ON health_samples (user_id, sample_type, start_at)
    WHERE deleted_at IS NULL;

-- The server's anchor per user and type: where a reinstalled app resumes. Moves only forward,
-- ordered by the commit time of the sync that set it.
CREATE TABLE sync_anchors (
    user_id            text        NOT NULL,
    sample_type        text        NOT NULL,
    anchor             text        NOT NULL,
    sync_id            uuid        NOT NULL,
    committed_at       timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, sample_type)
);
