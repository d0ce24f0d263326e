-- 0005_outbox: every email the system sends (SPEC §1 "Outbox message"),
-- each partner's own link, and the reminder mark.
-- Forward only: never edit this file once released; add a new one.

-- One row per message to one recipient, written in the same transaction as
-- the change that causes it. The whole RFC 5322 message is rendered when it
-- is queued, so the sender needs nothing else; recipient and message are
-- sealed envelopes (they hold addresses and capability links), bound to the
-- row by message_id. Nothing here is logged but id, kind and status.
CREATE TABLE outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- Which message: 'confirmed', 'reminder', 'new_request', ... (the template's name).
    kind            text NOT NULL CHECK (kind ~ '^[a-z][a-z0-9_]{0,39}$'),
    booking_id      bigint REFERENCES booking (id) ON DELETE CASCADE,
    -- Who it is for, without saying who: the booker, the partner, the clinician.
    recipient_role  text NOT NULL CHECK (recipient_role IN ('booker', 'partner', 'clinician')),
    -- The Message-ID header, fixed when queued: a retry is the same message.
    message_id      text NOT NULL UNIQUE CHECK (message_id ~ '^<[A-Za-z0-9._-]+@[A-Za-z0-9.-]+>$'),
    -- Set for messages that must be queued at most once (reminders, alerts).
    dedupe_key      text UNIQUE CHECK (length(dedupe_key) BETWEEN 1 AND 200),
    envelope_from   text NOT NULL CHECK (length(envelope_from) BETWEEN 3 AND 254),  -- MAIL FROM (ours)
    rcpt_enc        bytea,      -- the address, sealed; NULL once purged after sending
    message_enc     bytea,      -- the whole message, sealed; NULL once purged
    status          text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    -- Ours, never the server's text (which may quote the address): "smtp 451", "connect failed".
    last_error      text NOT NULL DEFAULT '' CHECK (length(last_error) <= 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    dead_at         timestamptz,
    CHECK (status <> 'pending' OR (rcpt_enc IS NOT NULL AND message_enc IS NOT NULL)),
    CHECK ((status = 'sent') = (sent_at IS NOT NULL)),
    CHECK ((status = 'dead') = (dead_at IS NOT NULL))
);
-- The sender's claim: due pending rows, oldest first (FOR UPDATE SKIP LOCKED).
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE status = 'pending';
CREATE INDEX outbox_booking ON outbox (booking_id);
CREATE INDEX outbox_dead ON outbox (dead_at) WHERE status = 'dead';
CREATE INDEX outbox_sent ON outbox (sent_at) WHERE status = 'sent' AND message_enc IS NOT NULL;

-- Each partner's own capability link (SPEC §5: scoped to one booking and one
-- person). The booker's is booking.manage_token_hash; the partner's is here
-- and opens a read-only page. Only the SHA-256 is stored.
ALTER TABLE booking_client
    ADD COLUMN link_token_hash bytea UNIQUE CHECK (length(link_token_hash) = 32),
    ADD COLUMN link_expires_at timestamptz,
    ADD COLUMN link_revoked_at timestamptz,
    ADD CONSTRAINT booking_client_link_expiry CHECK ((link_token_hash IS NULL) = (link_expires_at IS NULL));

-- Set when the appointment reminder was queued (or deliberately skipped);
-- cleared when the booking moves, so the new date gets its own.
ALTER TABLE booking ADD COLUMN reminder_sent_at timestamptz;
CREATE INDEX booking_reminder_due ON booking (starts_at)
    WHERE status = 'confirmed' AND reminder_sent_at IS NULL;
