-- hksync schema, version 3: erasing a user (DELETE /v1/me; hksync/erase.py).

-- One request to erase everything of a user. The row outlives the erasure: it is the record
-- that the erasure was asked for and when it was done, and it keeps late writes out (below).
CREATE TABLE erasures (
    erasure_id         uuid        PRIMARY KEY,
    user_id            text        NOT NULL,
    state              text        NOT NULL DEFAULT 'pending'
                       CHECK (state IN ('pending', 'complete')),
    requested_at       timestamptz NOT NULL DEFAULT now(),
    started_at         timestamptz,
    completed_at       timestamptz,
    attempts           integer     NOT NULL DEFAULT 0,
    -- What was erased (objects: every version and delete marker under the user's prefix).
    objects_deleted    bigint      NOT NULL DEFAULT 0,
    samples_deleted    bigint      NOT NULL DEFAULT 0,
    syncs_deleted      integer     NOT NULL DEFAULT 0,
    anchors_deleted    integer     NOT NULL DEFAULT 0,
    reminders_deleted  integer     NOT NULL DEFAULT 0,
    CHECK ((state = 'complete') = (completed_at IS NOT NULL))
);
-- A repeated DELETE /v1/me finds the user's unfinished erasure instead of starting another.
CREATE UNIQUE INDEX erasures_one_pending_per_user ON erasures (user_id) WHERE state = 'pending';
CREATE INDEX erasures_user_idx ON erasures (user_id, requested_at DESC);

-- Keeping erased data out. S3 events are late and retried, so a processor may write a chunk
-- after its user was erased. Two rules, enforced here so that no writer can forget them:
--
-- 1. Every transaction that writes a user's syncs opens with lock_sync's INSERT into
--    sync_sessions, which takes a shared per-user advisory lock until it ends. The erasure
--    takes the same lock exclusively before it deletes, so it waits for writers already in
--    flight, and none can write while it deletes.
-- 2. A chunk whose object was uploaded, or a commit made, before the user's latest erasure
--    request is refused: it belongs to what the user asked to erase. The processor's
--    transaction fails (nothing of the chunk is written), Lambda retries it, and by then the
--    erasure has deleted the object, which the processor then skips as missing. Compared to
--    the second, because S3 reports an object's time to the second: an object from the very
--    second of the request is let through (the erasure deletes it, if it was there to list).
CREATE FUNCTION hksync_user_lock_key(user_id text) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT hashtextextended('hksync-user:' || user_id, 0) $$;

CREATE FUNCTION hksync_share_user_lock() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(hksync_user_lock_key(NEW.user_id));
    RETURN NEW;
END $$;

CREATE FUNCTION hksync_refuse_erased(user_id text, made_at timestamptz, what text)
    RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    erased_at timestamptz;
BEGIN
    SELECT max(requested_at) INTO erased_at FROM erasures e WHERE e.user_id = $1;
    IF erased_at IS NOT NULL AND (made_at IS NULL OR made_at < date_trunc('second', erased_at))
    THEN
        RAISE EXCEPTION 'refused: % of a user whose erasure was requested at %', what, erased_at
            USING ERRCODE = 'P0001', HINT = 'the user asked to be erased after this was uploaded';
    END IF;
END $$;

CREATE FUNCTION hksync_refuse_erased_chunk() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hksync_refuse_erased(NEW.user_id, NEW.uploaded_at, 'a chunk');
    RETURN NEW;
END $$;

CREATE FUNCTION hksync_refuse_erased_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM hksync_refuse_erased(NEW.user_id, NEW.committed_at, 'a commit');
    RETURN NEW;
END $$;

-- BEFORE INSERT row triggers fire for INSERT ... ON CONFLICT DO NOTHING too, whether or not the
-- row then conflicts: lock_sync takes the lock even when the sync is already open.
CREATE TRIGGER sync_sessions_user_lock BEFORE INSERT ON sync_sessions
    FOR EACH ROW EXECUTE FUNCTION hksync_share_user_lock();
CREATE TRIGGER sync_chunks_not_erased BEFORE INSERT ON sync_chunks
    FOR EACH ROW EXECUTE FUNCTION hksync_refuse_erased_chunk();
CREATE TRIGGER sync_sessions_commit_not_erased BEFORE UPDATE OF committed_at ON sync_sessions
    FOR EACH ROW WHEN (OLD.committed_at IS NULL AND NEW.committed_at IS NOT NULL)
    EXECUTE FUNCTION hksync_refuse_erased_commit();
