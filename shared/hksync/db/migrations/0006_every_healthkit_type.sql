-- hksync schema, version 6: every HealthKit type, local time, sources and rejected samples
-- (issue 14; hksync.contract.decoding builds the rows, hksync.db.samples writes them).

-- Which app or device recorded a sample, one row per distinct HKSourceRevision + HKDevice of a
-- user, so that the read side can rank overlapping samples (a Watch over a phone).
-- source_key is a digest of the other keyed fields (hksync.contract.sample_rows.source_key).
CREATE TABLE sources (
    user_id            text        NOT NULL,
    source_key         text        NOT NULL,
    bundle_id          text        NOT NULL,
    name               text        NOT NULL,
    version            text,
    product_type       text,
    device_model       text,
    device_name        text,
    device_kind        text        NOT NULL
                       CHECK (device_kind IN ('watch', 'phone', 'scale', 'ring', 'app', 'manual')),
    created_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, source_key)
);

ALTER TABLE health_samples
    -- The UTC offsets the dates were sent with, in seconds east of UTC (what the phone's clock
    -- said), beside the instants.
    ADD COLUMN start_offset_s    integer CHECK (start_offset_s BETWEEN -86400 AND 86400),
    ADD COLUMN end_offset_s      integer CHECK (end_offset_s BETWEEN -86400 AND 86400),
    -- Where time_zone came from: the sample's metadata, only the offset, a profile, nothing.
    ADD COLUMN zone_source       text CHECK (zone_source IN ('metadata', 'offset', 'profile', 'none')),
    -- The local calendar date of start_at, for "steps on the user's Tuesday".
    ADD COLUMN local_date        date,
    -- What the app sent, before conversion to the canonical unit (NULL for rows stored before
    -- this migration: only the canonical value was kept then).
    ADD COLUMN original_value    double precision,
    ADD COLUMN original_unit     text,
    -- HKQuantitySample.count of a series sample.
    ADD COLUMN sample_count      integer CHECK (sample_count >= 1),
    -- A member of a correlation (blood pressure, food) points to the correlation's row.
    ADD COLUMN correlation_uuid  uuid,
    -- False for a type the server does not know yet: stored as sent, not converted or checked.
    ADD COLUMN normalised        boolean,
    ADD COLUMN source_key        text,
    -- Kind-specific content (workout events and statistics, ECG voltages, audiogram points,
    -- heartbeats, state of mind...; a whole sample of an unknown type as sent).
    ADD COLUMN details           jsonb;

-- Existing rows: their sources into the table, their zone and local date from what was kept.
INSERT INTO sources (user_id, source_key, bundle_id, name, version, device_model, device_name,
                     device_kind)
SELECT DISTINCT ON (user_id, key) user_id, key, source_bundle_id, source_name, source_version,
       device->>'model', device->>'name',
       CASE WHEN source_bundle_id = 'com.apple.Health' THEN 'manual'
            WHEN lower(device->>'model') = 'watch' THEN 'watch'
            WHEN lower(device->>'model') = 'iphone' THEN 'phone'
            ELSE 'app' END
FROM (
    SELECT *, substr(encode(sha256(convert_to(
               concat_ws(chr(31), source_bundle_id, coalesce(source_name, ''),
                         coalesce(source_version, ''), '', coalesce(device->>'model', ''),
                         coalesce(device->>'name', '')), 'UTF8')), 'hex'), 1, 32) AS key
    FROM health_samples WHERE deleted_at IS NULL
) AS stored;

UPDATE health_samples
SET source_key = substr(encode(sha256(convert_to(
        concat_ws(chr(31), source_bundle_id, coalesce(source_name, ''),
                  coalesce(source_version, ''), '', coalesce(device->>'model', ''),
                  coalesce(device->>'name', '')), 'UTF8')), 'hex'), 1, 32),
    zone_source = CASE WHEN time_zone IS NOT NULL THEN 'metadata' ELSE 'none' END,
    local_date = (start_at AT TIME ZONE coalesce(time_zone, 'UTC'))::date,
    normalised = true
WHERE deleted_at IS NULL;

ALTER TABLE health_samples
    DROP COLUMN source_name,
    DROP COLUMN source_bundle_id,
    DROP COLUMN source_version,
    DROP CONSTRAINT health_samples_kind_check,
    ADD CONSTRAINT health_samples_kind_check CHECK (kind IN (
        'quantity', 'category', 'correlation', 'workout', 'workout_route', 'electrocardiogram',
        'audiogram', 'heartbeat_series', 'state_of_mind', 'scored_assessment', 'medication_dose',
        'unknown')),
    -- A live row always knows its source and local date. source_key names a row of sources,
    -- but is not a foreign key: checked per inserted row, the key cost about 18% of a fresh
    -- write (docs/benchmarks.md, section 7), and the one writer (hksync.db.samples) inserts a
    -- chunk's sources in the same transaction before its samples; the erasure deletes both.
    ADD CONSTRAINT health_samples_live_complete CHECK (
        deleted_at IS NOT NULL
        OR (source_key IS NOT NULL AND local_date IS NOT NULL AND zone_source IS NOT NULL
            AND normalised IS NOT NULL));

-- No infinity or NaN in a number column (NaN sorts above every number in PostgreSQL, so the
-- range excludes it too). The decoder refuses them per sample; this is the last line. NOT
-- VALID: rows stored before may hold what the old contract let through ("hksync ops" finds
-- them); every new or changed row is checked.
ALTER TABLE health_samples ADD CONSTRAINT health_samples_finite CHECK (
    (value IS NULL OR value BETWEEN -1.7976931348623157e308 AND 1.7976931348623157e308)
    AND (original_value IS NULL
         OR original_value BETWEEN -1.7976931348623157e308 AND 1.7976931348623157e308)
    AND (duration_s IS NULL OR duration_s BETWEEN 0 AND 1.7976931348623157e308)
    AND (total_energy_kcal IS NULL OR total_energy_kcal BETWEEN 0 AND 1.7976931348623157e308)
    AND (total_distance_m IS NULL OR total_distance_m BETWEEN 0 AND 1.7976931348623157e308)
) NOT VALID;

-- The read side: a user's live samples of one type by local day; a correlation's members.
CREATE INDEX health_samples_user_type_local_date_idx
    ON health_samples (user_id, sample_type, local_date)
    WHERE deleted_at IS NULL;
CREATE INDEX health_samples_correlation_idx
    ON health_samples (user_id, correlation_uuid)
    WHERE correlation_uuid IS NOT NULL;

-- Samples refused on their own (per-sample quarantine, docs/adr/0004): the rest of their chunk
-- is stored and the sync completes; each refused one is kept here with where and why.
CREATE TABLE rejected_samples (
    user_id            text        NOT NULL,
    sync_id            uuid        NOT NULL,
    seq                integer     NOT NULL,
    sample_index       integer     NOT NULL CHECK (sample_index >= 0),
    sample_type        text        NOT NULL,
    uuid               uuid,
    field              text        NOT NULL,
    reason             text        NOT NULL,
    rejected_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, sync_id, seq, sample_index),
    FOREIGN KEY (user_id, sync_id) REFERENCES sync_sessions (user_id, sync_id) ON DELETE CASCADE
);

ALTER TABLE sync_sessions ADD COLUMN samples_rejected bigint NOT NULL DEFAULT 0;
ALTER TABLE sync_chunks ADD COLUMN samples_rejected integer NOT NULL DEFAULT 0;
