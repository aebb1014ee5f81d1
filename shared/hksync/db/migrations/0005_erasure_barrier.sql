-- hksync schema, version 5: the erasure barrier, in a monotonic order instead of clock seconds.
--
-- 0003 refused a chunk or commit whose object was older, to the second, than the user's latest
-- erasure request. That let through an object uploaded in the very second of the request, and
-- a processor that read an object before the erasure deleted it and wrote after the erasure's
-- transaction stored erased data for good. The rule is now the processor's (hksync.processing,
-- hksync.db.erasure.erasure_barrier), on an order no clock can blur:
--
-- * every erasure takes the next number of one sequence (its generation);
-- * a processor reads the user's barrier (latest generation, and whether one is pending)
--   before it reads an object, and again inside its write transaction, after taking the
--   user's shared lock (0003), which the erasure's deleting transaction takes exclusively;
-- * it writes only when both reads agree and no erasure is pending. Otherwise it writes
--   nothing: while one is pending, nothing of the user is stored; when one was asked for since
--   the object was read, the processor reads the object again (gone, once the erasure ran).
ALTER TABLE erasures ADD COLUMN generation bigint GENERATED ALWAYS AS IDENTITY;
CREATE INDEX erasures_user_generation_idx ON erasures (user_id, generation DESC);

DROP TRIGGER sync_chunks_not_erased ON sync_chunks;
DROP TRIGGER sync_sessions_commit_not_erased ON sync_sessions;
DROP FUNCTION hksync_refuse_erased_chunk();
DROP FUNCTION hksync_refuse_erased_commit();
DROP FUNCTION hksync_refuse_erased(text, timestamptz, text);
