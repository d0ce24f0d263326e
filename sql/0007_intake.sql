-- 0007_intake: versioned intake form definitions and each client's own
-- intake (SPEC §1 Intake, §2 flows 3-4, §5).
-- Forward only: never edit this file once released; add a new one.

-- A form definition, exactly as the file in forms/ read (JSON text), with
-- the SHA-256 of those bytes. A changed file becomes a new version; old
-- versions stay, because submitted intakes name the version they signed.
CREATE TABLE intake_form (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug            text NOT NULL CHECK (slug ~ '^[a-z0-9-]{1,63}$'),
    version         integer NOT NULL CHECK (version >= 1),
    sha256          text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    definition      text NOT NULL CHECK (length(definition) BETWEEN 2 AND 262144),
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (slug, version),
    UNIQUE (slug, sha256)
);

-- One intake per client per booking. Everything the client wrote is a
-- sealed envelope (AES-256-GCM; associated data "intake.<column>:<id>"),
-- so a dump of the database holds no answer, flag or signature in clear.
CREATE TABLE intake (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    booking_id          bigint NOT NULL REFERENCES booking (id) ON DELETE CASCADE,
    position            smallint NOT NULL CHECK (position IN (1, 2)),
    form_id             bigint NOT NULL REFERENCES intake_form (id),
    policy_accepted_at  timestamptz,            -- the confidentiality policy, accepted
    draft_enc           bytea,                  -- answers so far (JSON), sealed
    answers_enc         bytea,                  -- the submitted answers (JSON), sealed
    flags_enc           bytea,                  -- screening flags (JSON array), sealed
    signature_enc       bytea,                  -- the typed full name, sealed
    submitted_at        timestamptz,
    submitted_sha256    text CHECK (submitted_sha256 ~ '^[0-9a-f]{64}$'),
    flagged             boolean NOT NULL DEFAULT false, -- some flag was raised (which: flags_enc)
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    UNIQUE (booking_id, position),
    FOREIGN KEY (booking_id, position) REFERENCES booking_client (booking_id, position) ON DELETE CASCADE,
    CHECK ((submitted_at IS NULL) = (answers_enc IS NULL)),
    CHECK ((submitted_at IS NULL) = (signature_enc IS NULL)),
    CHECK ((submitted_at IS NULL) = (submitted_sha256 IS NULL)),
    CHECK (submitted_at IS NULL OR policy_accepted_at IS NOT NULL)
);
CREATE INDEX intake_booking ON intake (booking_id);
