-- External calendars (issue 4): what a refresh needs to work with several
-- server processes, and the secrets a subscription carries kept sealed.
--
-- A subscription URL is often itself a capability (Google's "secret address
-- in iCal format"), and an uploaded or fetched file holds the clinician's
-- other appointments, often with names: both are sealed envelopes
-- (AES-256-GCM, backend/crypto/keys.c), never plain text. The plain `url`
-- column of 0002 is therefore no longer used; url_display keeps scheme and
-- host only, for the clinician's list.
ALTER TABLE calendar_source
    DROP CONSTRAINT calendar_source_check,
    ADD COLUMN url_enc bytea,
    ADD COLUMN url_display text CHECK (length(url_display) <= 300),
    -- The last good file (sealed): uploads are re-expanded as the window moves,
    -- and a 304 Not Modified re-expands what was fetched before.
    ADD COLUMN content_enc bytea,
    ADD COLUMN content_sha256 text CHECK (content_sha256 ~ '^[0-9a-f]{64}$'),
    -- A refresh in progress: the process holding the lease, and until when.
    ADD COLUMN lease_owner text,
    ADD COLUMN lease_until timestamptz,
    ADD COLUMN failures integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    ADD COLUMN event_count integer,
    ADD COLUMN busy_count integer,
    ADD COLUMN warning text CHECK (length(warning) <= 1000),
    -- When the clinician was told the source is failing (once per episode).
    ADD COLUMN failing_notified_at timestamptz,
    ADD CONSTRAINT calendar_source_url_sealed CHECK (url IS NULL AND ((kind = 'url') = (url_enc IS NOT NULL)));

CREATE UNIQUE INDEX calendar_source_name ON calendar_source (clinician_id, lower(name));
CREATE INDEX calendar_source_due ON calendar_source (next_refresh_at);
CREATE INDEX busy_interval_source ON busy_interval (source_id);

-- One day of a multi-day booking moved or cancelled on its own (the
-- clinician's change): invites then carry the original series plus a
-- RECURRENCE-ID override for that day, so calendars that already hold the
-- series change just the one day. original_start is where the day was when
-- the series was last sent whole (set on insert; a whole reschedule writes
-- new blocks and so starts a new series).
ALTER TABLE booking_block
    ADD COLUMN original_start timestamptz,
    ADD COLUMN cancelled_at timestamptz;
UPDATE booking_block SET original_start = starts_at;
ALTER TABLE booking_block ALTER COLUMN original_start SET NOT NULL;
ALTER TABLE booking_block ADD CONSTRAINT booking_block_cancelled_inactive
    CHECK (cancelled_at IS NULL OR NOT active);

CREATE FUNCTION tandem_block_original_start() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.original_start := coalesce(NEW.original_start, NEW.starts_at);
    RETURN NEW;
END;
$$;
CREATE TRIGGER booking_block_original_start BEFORE INSERT ON booking_block
    FOR EACH ROW EXECUTE FUNCTION tandem_block_original_start();

-- A day cancelled on its own stays free whatever the booking's status does.
CREATE OR REPLACE FUNCTION tandem_booking_status_sync() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        UPDATE booking_block SET active = tandem_status_blocks(NEW.status) AND cancelled_at IS NULL
         WHERE booking_id = NEW.id;
    END IF;
    RETURN NEW;
END;
$$;
