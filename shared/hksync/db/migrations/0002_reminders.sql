-- hksync schema, version 2: reminders (EventBridge Scheduler) and their deliveries.

-- One reminder of one user, keyed by the id the app chose (so that a retried create is a no-op).
-- The row is the source of truth; the schedule in EventBridge Scheduler is derived from it.
CREATE TABLE reminders (
    user_id          text        NOT NULL,
    reminder_id      uuid        NOT NULL,
    kind             text        NOT NULL
                     CHECK (kind IN ('medication', 'check_in', 'measurement', 'other')),
    title            text        NOT NULL CHECK (length(title) BETWEEN 1 AND 100),
    -- IANA zone the schedule is given in.
    time_zone        text        NOT NULL,
    -- One-time: the local date-time the user chose, and the UTC instant it was resolved to.
    local_at         timestamp,
    fire_at          timestamptz,
    -- Recurring: Scheduler's six cron fields, evaluated in time_zone.
    cron             text,
    -- Deterministic, from (user_id, reminder_id): the same reminder always names the same
    -- schedule, so creating it twice cannot make two.
    schedule_name    text        NOT NULL UNIQUE,
    state            text        NOT NULL DEFAULT 'scheduled'
                     CHECK (state IN ('scheduled', 'delivered', 'cancelled')),
    -- Bumped by every reschedule and carried in the schedule's input: the dispatcher ignores
    -- occurrences of an older schedule that were still in flight.
    revision         integer     NOT NULL DEFAULT 1 CHECK (revision >= 1),
    next_fire_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    cancelled_at     timestamptz,
    PRIMARY KEY (user_id, reminder_id),
    CHECK ((cron IS NULL) <> (local_at IS NULL)),
    CHECK ((local_at IS NULL) = (fire_at IS NULL)),
    CHECK ((state = 'cancelled') = (cancelled_at IS NOT NULL))
);
-- Ops: what fires next.
CREATE INDEX reminders_next_fire_idx ON reminders (next_fire_at) WHERE state = 'scheduled';

-- One row per occurrence that reached the dispatcher: the exactly-once ledger. Scheduler is
-- at-least-once; the primary key makes a second invocation of the same occurrence a no-op.
-- The row is committed ('claimed') BEFORE the notification is published, then marked
-- 'published': a crash in between leaves 'claimed', which is never re-sent (see
-- hksync/dispatch.py and docs/adr/0002).
CREATE TABLE reminder_deliveries (
    user_id               text        NOT NULL,
    reminder_id           uuid        NOT NULL,
    -- The occurrence's nominal time (Scheduler's <aws.scheduler.scheduled-time>).
    scheduled_for         timestamptz NOT NULL,
    revision              integer     NOT NULL,
    state                 text        NOT NULL DEFAULT 'claimed'
                          CHECK (state IN ('claimed', 'published', 'unconfirmed')),
    message_id            text,
    failure_reason        text,
    execution_id          text,
    -- Later invocations of this same occurrence (Scheduler or Lambda duplicates), refused.
    duplicate_invocations integer     NOT NULL DEFAULT 0,
    claimed_at            timestamptz NOT NULL DEFAULT now(),
    published_at          timestamptz,
    PRIMARY KEY (user_id, reminder_id, scheduled_for),
    FOREIGN KEY (user_id, reminder_id) REFERENCES reminders (user_id, reminder_id)
        ON DELETE CASCADE,
    CHECK ((state = 'published') = (message_id IS NOT NULL))
);
-- Ops: deliveries that were claimed but never confirmed as published.
CREATE INDEX reminder_deliveries_unconfirmed_idx
    ON reminder_deliveries (claimed_at) WHERE state <> 'published';
