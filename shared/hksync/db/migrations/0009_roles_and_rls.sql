-- hksync schema, version 9: database roles and row-level security (issue 17;
-- docs/adr/0005-database-roles-and-row-level-security.md says why, hksync.db.connection how
-- the functions use them).
--
-- Migrations run as the owner, who alone changes the schema. Each function works as one role
-- that holds only the privileges its SQL uses (hksync.settings names it per function), and
-- every per-user table shows and takes only the rows of the user the session acts for
-- (hksync.user_id, set by hksync.db.connection.act_for from the verified user): a query that
-- forgets its WHERE user_id = ... sees nothing of anyone else, and one run without a user sees
-- nothing at all.

-- Roles are cluster-wide, and several databases of one cluster (the tests' workers) may run
-- this at once: each role is created only when missing, and a concurrent creation of the same
-- role counts as done. LOGIN without a password: in AWS each function signs in as its role
-- with an IAM token (rds_iam, below); elsewhere the owner, a member of each, takes it with SET
-- ROLE.
DO $$
DECLARE
    role_name text;
BEGIN
    FOREACH role_name IN ARRAY ARRAY['hksync_processor', 'hksync_query', 'hksync_reminders',
                                     'hksync_dispatcher', 'hksync_account']
    LOOP
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
                EXECUTE format('CREATE ROLE %I LOGIN', role_name);
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;  -- another database of the cluster created it just now
        END;
    END LOOP;
    -- Operators (hksync ops): every user's rows, read only. hksync_every_user: the policies
    -- below let its members past the per-user filter (the owner and operators, never a
    -- function role).
    FOREACH role_name IN ARRAY ARRAY['hksync_ops', 'hksync_every_user']
    LOOP
        BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name) THEN
                EXECUTE format('CREATE ROLE %I NOLOGIN', role_name);
            END IF;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END LOOP;
    BEGIN
        GRANT hksync_every_user TO hksync_ops;
        -- The owner: migrations that move data, the definer functions below and the ops
        -- commands work across users; SET ROLE to a function's role where a function signs in
        -- as the owner (the local stack, the tests; AWS before IAM sign-in is deployed).
        EXECUTE format('GRANT hksync_every_user, hksync_processor, hksync_query, '
                       'hksync_reminders, hksync_dispatcher, hksync_account TO %I',
                       current_user);
        -- Aurora: sign-in only with an IAM token (rds-db:connect on the role's name).
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'rds_iam') THEN
            GRANT rds_iam TO hksync_processor, hksync_query, hksync_reminders,
                hksync_dispatcher, hksync_account;
        END IF;
    EXCEPTION WHEN unique_violation THEN
        NULL;  -- granted concurrently by another database's migration
    END;
END $$;

-- Only the owner creates objects (PUBLIC lost CREATE on public in PostgreSQL 15; this makes it
-- so on a database created by an older version too).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO hksync_processor, hksync_query, hksync_reminders,
    hksync_dispatcher, hksync_account, hksync_ops;

-- What each function's SQL uses, and nothing more (hksync.db.*).
-- The processor (hksync.db.syncs, samples, summaries, erasure): the ledger, samples and
-- sources, rejected samples, anchors, and the days it marks stale or summarises.
GRANT SELECT, INSERT, UPDATE ON sync_sessions, health_samples, sync_anchors, daily_summaries
    TO hksync_processor;
GRANT SELECT, INSERT ON sync_chunks, sources, rejected_samples TO hksync_processor;
GRANT SELECT ON erasures, source_priorities TO hksync_processor;
-- The read side (hksync.query, hksync.read_side): reads, the summaries it computes on read and
-- the app's source priority.
GRANT SELECT ON sync_sessions, sync_chunks, rejected_samples, sync_anchors, health_samples,
    sources TO hksync_query;
GRANT SELECT, UPDATE ON daily_summaries TO hksync_query;
GRANT SELECT, INSERT, UPDATE ON source_priorities TO hksync_query;
-- The reminders API (hksync.reminders); its upkeep reads across users only through the two
-- functions below.
GRANT SELECT, INSERT, UPDATE ON reminders TO hksync_reminders;
-- The dispatcher (hksync.dispatch): the reminder it delivers and the delivery ledger.
GRANT SELECT, UPDATE ON reminders TO hksync_dispatcher;
GRANT SELECT, INSERT, UPDATE, DELETE ON reminder_deliveries TO hksync_dispatcher;
-- The account function (hksync.erasure): its erasures, and deleting every row of the user.
-- The chunk ledger, rejected samples and deliveries go by ON DELETE CASCADE, which runs as the
-- tables' owner.
GRANT SELECT, INSERT, UPDATE ON erasures TO hksync_account;
GRANT SELECT, DELETE ON health_samples, sources, daily_summaries, source_priorities,
    sync_anchors, sync_sessions, reminders TO hksync_account;
-- Operators read everything, write nothing.
GRANT SELECT ON ALL TABLES IN SCHEMA public TO hksync_ops;

-- Row-level security on every table with a user_id. FORCE: the owner is held to it too (the
-- superuser alone is not), so even the owner's session sees every user only as a member of
-- hksync_every_user. The setting is read with missing_ok: a session that never set it sees and
-- writes nothing (NULL matches no row).
DO $$
DECLARE
    table_name text;
BEGIN
    FOREACH table_name IN ARRAY ARRAY['sync_sessions', 'sync_chunks', 'health_samples',
                                      'sync_anchors', 'sources', 'rejected_samples',
                                      'source_priorities', 'daily_summaries', 'reminders',
                                      'reminder_deliveries', 'erasures']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', table_name);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', table_name);
        EXECUTE format(
            'CREATE POLICY acting_user ON %I USING (user_id = current_setting(''hksync.user_id'', true)) '
            'WITH CHECK (user_id = current_setting(''hksync.user_id'', true))', table_name);
        EXECUTE format(
            'CREATE POLICY every_user ON %I TO hksync_every_user USING (true) WITH CHECK (true)',
            table_name);
    END LOOP;
END $$;

-- The views read as their caller, with the caller's privileges and row filter: as the owner's
-- (the default) they would show every user to anyone allowed to read them.
ALTER VIEW hksync_live_samples_v1 SET (security_invoker = true);
ALTER VIEW hksync_daily_summaries_v1 SET (security_invoker = true);

-- The three pieces of work that span users before a user is known, each a narrow function
-- run as the owner (SECURITY DEFINER); function roles may call them and nothing broader.
-- The erasure worker gets an erasure id from its queue: whose erasure it is.
CREATE FUNCTION hksync_erasure_user(erasure_id uuid) RETURNS text
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
    AS $$ SELECT e.user_id FROM erasures e WHERE e.erasure_id = $1 $$;
-- The reminders upkeep: every reminder that should have a schedule (hksync.reminder_upkeep).
CREATE FUNCTION hksync_live_reminders(after timestamptz) RETURNS SETOF reminders
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public
    AS $$ SELECT * FROM reminders r
          WHERE r.state = 'scheduled' AND (r.cron IS NOT NULL OR r.fire_at > $1) $$;
-- ... and the ledger rows of occurrences published before a time (retention).
CREATE FUNCTION hksync_purge_deliveries(published_before timestamptz) RETURNS bigint
    LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, public
    AS $$ WITH gone AS (
              DELETE FROM reminder_deliveries d
              WHERE d.state = 'published' AND d.published_at < $1 RETURNING 1)
          SELECT count(*) FROM gone $$;
REVOKE EXECUTE ON FUNCTION hksync_erasure_user(uuid), hksync_live_reminders(timestamptz),
    hksync_purge_deliveries(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hksync_erasure_user(uuid) TO hksync_account;
GRANT EXECUTE ON FUNCTION hksync_live_reminders(timestamptz),
    hksync_purge_deliveries(timestamptz) TO hksync_reminders;
