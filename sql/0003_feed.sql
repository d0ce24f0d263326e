-- 0003_feed: clinicians' private calendar feeds (SPEC §4): one capability
-- token per device, revocable, and an append-only record of every fetch.
-- Forward only: never edit this file once released; add a new one.

CREATE TABLE feed_token (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    clinician_id    bigint NOT NULL REFERENCES clinician (id),
    -- The device or app it is for ("iPhone", "Work Outlook"); the clinician's words.
    name            text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 100),
    -- SHA-256 of the token; the token itself is shown once and never stored.
    token_hash      bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    -- What a title may say: 'neutral' (offering name only) or 'initials'
    -- (plus the clients' initials). Never names, emails or intake.
    privacy         text NOT NULL DEFAULT 'neutral' CHECK (privacy IN ('neutral', 'initials')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    revoked_at      timestamptz,
    last_fetch_at   timestamptz,
    CHECK (revoked_at IS NULL OR revoked_at >= created_at)
);
CREATE INDEX feed_token_clinician ON feed_token (clinician_id);

-- Every fetch of a known token (served, not modified, rate limited, or
-- refused after revocation). Append-only: the trigger below refuses
-- changes; tokens are revoked, never deleted, so no row loses its token.
CREATE TABLE feed_fetch (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_id        bigint NOT NULL REFERENCES feed_token (id),
    at              timestamptz NOT NULL DEFAULT now(),
    remote_addr     inet,           -- the peer (the proxy's, behind nginx)
    user_agent      text NOT NULL DEFAULT '' CHECK (length(user_agent) <= 200),
    status          integer NOT NULL CHECK (status BETWEEN 100 AND 599)
);
-- The audit reads one token's rows in order.
CREATE INDEX feed_fetch_token_at ON feed_fetch (token_id, at);
-- The rate limit counts one token's recent rows other than 429s: however
-- many refused fetches a flood leaves, the count reads at most the limit.
CREATE INDEX feed_fetch_counted ON feed_fetch (token_id, at) WHERE status <> 429;

CREATE FUNCTION tandem_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER feed_fetch_append_only BEFORE UPDATE OR DELETE ON feed_fetch
    FOR EACH ROW EXECUTE FUNCTION tandem_append_only();

-- The feed reads one clinician's blocks in a time window.
CREATE INDEX booking_block_clinician_starts ON booking_block (clinician_id, starts_at);
