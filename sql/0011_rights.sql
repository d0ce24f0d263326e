-- 0011_rights: data rights (issue 7 §7). A client of a booking gets an id
-- of its own, so the clinician area can name one person (/admin/clients/{id})
-- for an export or an erasure without naming them.
-- Forward only: never edit this file once released; add a new one.

ALTER TABLE booking_client ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY UNIQUE;

-- An erased client keeps the row (the booking still has two people and
-- still blocks its time) but nothing that says who they were: the sealed
-- name and email are sealed empty strings, the phone is NULL, the blind
-- index is a value derived from the row id alone, the initials are empty.
ALTER TABLE booking_client ADD CONSTRAINT booking_client_erased_is_empty
    CHECK (erased_at IS NULL OR (phone_enc IS NULL AND initials = ''
                                 AND link_token_hash IS NULL));
