-- 0002_booking: bookings, their blocks (one per day), clients, history,
-- idempotency keys, and external calendars' busy time.
-- Forward only: never edit this file once released; add a new one.

CREATE TABLE booking (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    practice_id         bigint NOT NULL REFERENCES practice (id),
    offering_id         bigint NOT NULL REFERENCES offering (id),
    clinician_id        bigint NOT NULL REFERENCES clinician (id),
    -- Short human reference, e.g. TND-7K2Q (no 0/O/1/I).
    reference           text NOT NULL UNIQUE CHECK (reference ~ '^TND-[2-9A-HJ-NP-Z]{4,8}$'),
    status              text NOT NULL CHECK (status IN
                            ('held', 'requested', 'confirmed', 'declined', 'cancelled', 'completed', 'no_show')),
    starts_at           timestamptz NOT NULL,   -- first block's start
    ends_at             timestamptz NOT NULL,   -- last block's end
    hold_expires_at     timestamptz,            -- only while held
    -- SHA-256 of the manage capability token; the token itself is never stored.
    manage_token_hash   bytea NOT NULL UNIQUE CHECK (length(manage_token_hash) = 32),
    manage_expires_at   timestamptz NOT NULL,
    manage_revoked_at   timestamptz,            -- set when the link is replaced or withdrawn
    ical_uid            text NOT NULL UNIQUE,
    ical_sequence       integer NOT NULL DEFAULT 0 CHECK (ical_sequence >= 0),
    -- Set by screening (intake issue): never auto-confirmed while true.
    needs_review        boolean NOT NULL DEFAULT false,
    -- The booker's own zone (from the browser), for showing times; NULL = practice zone.
    client_timezone     text CHECK (client_timezone IS NULL OR tandem_valid_tz(client_timezone)),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (ends_at > starts_at),
    CHECK ((status = 'held') = (hold_expires_at IS NOT NULL))
);
CREATE INDEX booking_clinician_starts ON booking (clinician_id, starts_at);
CREATE INDEX booking_held_expiry ON booking (hold_expires_at) WHERE status = 'held';

-- The statuses that keep time reserved.
CREATE FUNCTION tandem_status_blocks(s text) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT s IN ('held', 'requested', 'confirmed') $$;

-- One block per day of a booking. `blocked` is the block widened by the
-- offering's buffers: the exclusion constraint makes two active bookings
-- of one clinician overlapping (buffers included) impossible, whatever the
-- application does and however many requests arrive at once.
CREATE TABLE booking_block (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id      bigint NOT NULL REFERENCES booking (id) ON DELETE CASCADE,
    clinician_id    bigint NOT NULL REFERENCES clinician (id),
    day_index       smallint NOT NULL CHECK (day_index BETWEEN 0 AND 4),
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz NOT NULL,
    blocked         tstzrange NOT NULL,
    active          boolean NOT NULL DEFAULT true,
    UNIQUE (booking_id, day_index),
    CHECK (ends_at > starts_at),
    CHECK (lower(blocked) <= starts_at AND upper(blocked) >= ends_at),
    CONSTRAINT booking_block_no_overlap
        EXCLUDE USING gist (clinician_id WITH =, blocked WITH &&) WHERE (active)
);
CREATE INDEX booking_block_booking ON booking_block (booking_id);

-- Blocks follow their booking's status in the same statement: the database,
-- not the application, decides whether time is reserved.
CREATE FUNCTION tandem_booking_status_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        UPDATE booking_block SET active = tandem_status_blocks(NEW.status) WHERE booking_id = NEW.id;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER booking_status_sync AFTER UPDATE OF status ON booking
    FOR EACH ROW EXECUTE FUNCTION tandem_booking_status_sync();

-- The two people of a booking. Contact details are encrypted envelopes
-- (AES-256-GCM, bound to booking id, position and column); email_index is
-- a keyed HMAC of the lower-cased address, to find a client's bookings.
CREATE TABLE booking_client (
    booking_id      bigint NOT NULL REFERENCES booking (id) ON DELETE CASCADE,
    position        smallint NOT NULL CHECK (position IN (1, 2)),  -- 1 = the booker
    name_enc        bytea NOT NULL,
    email_enc       bytea NOT NULL,
    phone_enc       bytea,
    email_index     text NOT NULL CHECK (email_index ~ '^[0-9a-f]{64}$'),
    safe_contact    text NOT NULL DEFAULT 'email' CHECK (safe_contact IN ('email', 'phone', 'text')),
    initials        text NOT NULL DEFAULT '' CHECK (length(initials) <= 4),
    erased_at       timestamptz,
    PRIMARY KEY (booking_id, position)
);
CREATE INDEX booking_client_email ON booking_client (email_index);

-- Every status change: who, when, why (never PHI).
CREATE TABLE booking_event (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id      bigint NOT NULL REFERENCES booking (id) ON DELETE CASCADE,
    at              timestamptz NOT NULL DEFAULT now(),
    actor           text NOT NULL CHECK (length(actor) <= 100),
    from_status     text,
    to_status       text NOT NULL,
    reason          text NOT NULL DEFAULT '' CHECK (length(reason) <= 1000),  -- ours, never a person's words
    note_enc        bytea,      -- a person's own words (a cancel reason), sealed
    detail          jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX booking_event_booking ON booking_event (booking_id, at);

-- Idempotency-Key: the same key with the same body replays the first answer.
-- `response` is a sealed envelope (it holds the manage token); kept 24 hours.
CREATE TABLE idempotency_key (
    key             text PRIMARY KEY CHECK (length(key) BETWEEN 1 AND 200),
    request_hash    text NOT NULL,
    status          integer NOT NULL,
    response        text NOT NULL,  -- '' while in flight, then \x<envelope hex>
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idempotency_key_created ON idempotency_key (created_at);

-- External calendars that block a clinician's time (filled by the iCalendar work).
CREATE TABLE calendar_source (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    clinician_id        bigint NOT NULL REFERENCES clinician (id) ON DELETE CASCADE,
    name                text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind                text NOT NULL CHECK (kind IN ('upload', 'url')),
    url                 text CHECK (url IS NULL OR url ~ '^https?://'),
    etag                text,
    last_modified       text,
    refresh_minutes     integer NOT NULL DEFAULT 15 CHECK (refresh_minutes BETWEEN 5 AND 1440),
    freshness_minutes   integer NOT NULL DEFAULT 360 CHECK (freshness_minutes BETWEEN 15 AND 10080),
    last_attempt_at     timestamptz,
    last_success_at     timestamptz,
    last_error          text CHECK (length(last_error) <= 1000),
    next_refresh_at     timestamptz NOT NULL DEFAULT now(),
    created_at          timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'url') = (url IS NOT NULL))
);

CREATE TABLE busy_interval (
    source_id       bigint NOT NULL REFERENCES calendar_source (id) ON DELETE CASCADE,
    clinician_id    bigint NOT NULL REFERENCES clinician (id) ON DELETE CASCADE,
    during          tstzrange NOT NULL CHECK (NOT isempty(during))
);
CREATE INDEX busy_interval_clinician ON busy_interval USING gist (clinician_id, during);
