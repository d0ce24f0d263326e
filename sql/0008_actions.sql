-- 0008_actions: what the clinician's booking actions keep (issue 7 §4).
-- Forward only: never edit this file once released; add a new one.

-- A clinician's private notes on a booking: append-only (no UPDATE or
-- DELETE from the application), each a sealed envelope (associated data
-- "booking_note.body:<id>"), so a dump holds no note in clear.
CREATE TABLE booking_note (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id      bigint NOT NULL REFERENCES booking (id) ON DELETE CASCADE,
    author_id       bigint NOT NULL REFERENCES clinician (id),
    body_enc        bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX booking_note_booking ON booking_note (booking_id, created_at);

CREATE FUNCTION tandem_booking_note_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'booking_note is append-only';
END $$;
CREATE TRIGGER booking_note_no_update BEFORE UPDATE OF booking_id, author_id, created_at ON booking_note
    FOR EACH ROW EXECUTE FUNCTION tandem_booking_note_append_only();
CREATE TRIGGER booking_note_no_delete BEFORE DELETE ON booking_note
    FOR EACH ROW WHEN (pg_trigger_depth() = 0) EXECUTE FUNCTION tandem_booking_note_append_only();

-- Other times the clinician proposed to the booker (at most 3 at once; a
-- new proposal replaces the open one). Taking one reschedules the booking
-- through the booker's link; `confirms` says the clinician had reviewed
-- the booking, so taking it also confirms it.
CREATE TABLE booking_proposal (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id      bigint NOT NULL REFERENCES booking (id) ON DELETE CASCADE,
    starts_at       timestamptz NOT NULL,
    confirms        boolean NOT NULL DEFAULT true,
    proposed_by     bigint NOT NULL REFERENCES clinician (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (booking_id, starts_at)
);
