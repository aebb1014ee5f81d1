-- hksync schema, version 7: the read side (issue 15): source priority, daily summaries kept
-- fresh by invalidation, window reconciliation, and views for backends reading PostgreSQL.

-- The order of sources the app chose for a type ('*': every type), highest first, by bundle
-- id (what HKSource gives an app). Sources it does not name follow in the default order
-- (hksync.summaries.rank_sources).
CREATE TABLE source_priorities (
    user_id            text        NOT NULL,
    sample_type        text        NOT NULL,
    bundle_ids         text[]      NOT NULL CHECK (cardinality(bundle_ids) <= 64),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, sample_type)
);

-- One local day (sleep: the night ending on it) of one type of a user, as the read side
-- computed it. The processor only marks the days a chunk touched stale (bumping version); the
-- next read computes the stale days it asks for, and stores them unless they were marked again
-- meanwhile (version unchanged). So writes stay cheap and reads of settled days are one index
-- range.
CREATE TABLE daily_summaries (
    user_id            text        NOT NULL,
    sample_type        text        NOT NULL,
    local_date         date        NOT NULL,
    version            bigint      NOT NULL DEFAULT 1,
    -- NULL while stale; otherwise the day's figures (docs/read-side.md has their shape).
    summary            jsonb,
    computed_version   bigint,
    computed_at        timestamptz,
    PRIMARY KEY (user_id, sample_type, local_date)
);

-- The upload time of the object that last wrote a row: a reconcile window removes only rows
-- written by objects uploaded before its own, never a sample a later sync brought.
ALTER TABLE health_samples ADD COLUMN uploaded_at timestamptz;
ALTER TABLE sync_sessions ADD COLUMN samples_reconciled bigint NOT NULL DEFAULT 0;
ALTER TABLE sync_chunks ADD COLUMN samples_reconciled integer NOT NULL DEFAULT 0;

-- GET /v1/samples pages a type's rows by (start_at, uuid); a tombstone (which keeps no times)
-- by when it was deleted, so that a mirror paging a time range sees it.
CREATE INDEX health_samples_user_type_moment_idx
    ON health_samples (user_id, sample_type, (coalesce(start_at, deleted_at)), uuid);

-- Every day that holds data is summarised on its first read.
INSERT INTO daily_summaries (user_id, sample_type, local_date)
SELECT DISTINCT user_id, sample_type, local_date FROM health_samples
WHERE deleted_at IS NULL AND local_date IS NOT NULL
ON CONFLICT DO NOTHING;
INSERT INTO daily_summaries (user_id, sample_type, local_date)
SELECT DISTINCT user_id, sample_type, local_date + 1 FROM health_samples
WHERE deleted_at IS NULL AND local_date IS NOT NULL
ON CONFLICT DO NOTHING;

-- For backends that read PostgreSQL directly; kept stable across migrations (new columns are
-- added at the end, none is renamed or removed without a new view version).
CREATE VIEW hksync_live_samples_v1 AS
SELECT h.user_id, h.uuid, h.sample_type, h.kind, h.start_at, h.end_at, h.start_offset_s,
       h.end_offset_s, h.time_zone, h.zone_source, h.local_date, h.value, h.unit,
       h.original_value, h.original_unit, h.sample_count, h.category_value, h.activity_type,
       h.duration_s, h.total_energy_kcal, h.total_distance_m, h.correlation_uuid, h.normalised,
       s.bundle_id AS source_bundle_id, s.name AS source_name, s.version AS source_version,
       s.product_type AS source_product_type, s.device_kind, h.device, h.metadata, h.details,
       h.updated_at
FROM health_samples h
LEFT JOIN sources s USING (user_id, source_key)
WHERE h.deleted_at IS NULL;

CREATE VIEW hksync_daily_summaries_v1 AS
SELECT user_id, sample_type, local_date, summary, computed_at
FROM daily_summaries
WHERE summary IS NOT NULL AND computed_version = version;
