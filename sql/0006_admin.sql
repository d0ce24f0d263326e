-- 0006_admin: the clinician area — sessions, login throttling, TOTP two-factor
-- and the append-only, hash-chained audit log.
-- Forward only: never edit this file once released; add a new one.

-- Server-side sessions. The cookie holds a 256-bit random token; only its
-- SHA-256 is stored, so a copy of this table opens no session. A session
-- whose password was right but whose TOTP code is still owed is
-- `mfa_pending` and opens nothing but the code form.
CREATE TABLE admin_session (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash      bytea NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    clinician_id    bigint NOT NULL REFERENCES clinician (id) ON DELETE CASCADE,
    mfa_pending     boolean NOT NULL DEFAULT false,
    mfa_failures    integer NOT NULL DEFAULT 0 CHECK (mfa_failures >= 0),
    created_at      timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,   -- touched at most once a minute
    expires_at      timestamptz NOT NULL,   -- the absolute limit
    ip              text NOT NULL DEFAULT '' CHECK (length(ip) <= 64),
    user_agent      text NOT NULL DEFAULT '' CHECK (length(user_agent) <= 300),
    revoked_at      timestamptz,
    revoked_reason  text CHECK (revoked_reason IS NULL OR length(revoked_reason) <= 40),
    CHECK (expires_at > created_at)
);
CREATE INDEX admin_session_clinician ON admin_session (clinician_id) WHERE revoked_at IS NULL;
CREATE INDEX admin_session_expires ON admin_session (expires_at);

-- Failed-login counters, one row per account (key 'c:' + SHA-256 of the
-- lower-cased email, so typed addresses are not kept) and per client
-- address ('ip:' + address). Attempts are counted before the password is
-- checked (under a row lock), so parallel requests from several server
-- processes cannot slip past the limit; a success takes its own count back.
CREATE TABLE login_throttle (
    key             text PRIMARY KEY CHECK (length(key) <= 100),
    failures        integer NOT NULL DEFAULT 0 CHECK (failures >= 0),
    last_attempt_at timestamptz NOT NULL,
    next_allowed_at timestamptz NOT NULL,
    -- Attempts refused during the current wait: only the first is audited,
    -- so hammering a waiting account cannot flood the audit log.
    refused         integer NOT NULL DEFAULT 0 CHECK (refused >= 0)
);

-- TOTP (RFC 6238). secret_enc is a sealed envelope bound to the clinician
-- ('clinician_totp.secret:<id>'); confirmed_at is NULL while enrolling.
-- last_step is the last 30-second step a code was accepted for: a code is
-- never accepted twice.
CREATE TABLE clinician_totp (
    clinician_id    bigint PRIMARY KEY REFERENCES clinician (id) ON DELETE CASCADE,
    secret_enc      bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    confirmed_at    timestamptz,
    last_step       bigint NOT NULL DEFAULT 0
);

-- Recovery codes: SHA-256 of an 80-bit random code, each usable once.
CREATE TABLE totp_recovery_code (
    clinician_id    bigint NOT NULL REFERENCES clinician (id) ON DELETE CASCADE,
    code_hash       bytea NOT NULL CHECK (length(code_hash) = 32),
    used_at         timestamptz,
    PRIMARY KEY (clinician_id, code_hash)
);

-- The audit log: who did what to which record, when, from where — never
-- PHI itself. Each entry's hash is SHA-256 over a canonical serialisation
-- of its fields and the previous entry's hash (backend/admin/audit.c), so
-- a changed, removed or inserted entry breaks the chain at that point;
-- `tandem audit verify` finds it. Ids are assigned under one lock as
-- head + 1: gapless, one chain, however many server processes write.
CREATE TABLE audit_log (
    id          bigint PRIMARY KEY CHECK (id > 0),
    at          timestamptz NOT NULL,
    actor       text NOT NULL CHECK (length(actor) <= 100),
    action      text NOT NULL CHECK (action ~ '^[a-z][a-z0-9_.-]{0,63}$'),
    target      text NOT NULL DEFAULT '' CHECK (length(target) <= 200),
    ip          text NOT NULL DEFAULT '' CHECK (length(ip) <= 64),
    detail      jsonb NOT NULL DEFAULT '{}',
    prev_hash   text NOT NULL CHECK (prev_hash ~ '^[0-9a-f]{64}$'),
    hash        text NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_target ON audit_log (target, id) WHERE target <> '';

-- Append-only, enforced by the database. The application's role owns its
-- tables, and an owner keeps UPDATE/DELETE/TRUNCATE whatever is revoked,
-- so REVOKE alone would hold nothing: these triggers are what refuse the
-- change, for every role, superusers included. They are ENABLE ALWAYS so
-- that session_replication_role = replica does not switch them off either.
-- Only ALTER TABLE … DISABLE TRIGGER (owner or superuser) gets past them;
-- that is DDL, not something an injected statement or a bug in the
-- application does, and the hash chain still shows what was changed.
CREATE FUNCTION tandem_audit_refuse() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION tandem_audit_refuse();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION tandem_audit_refuse();
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_change;
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_truncate;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_log FROM PUBLIC;

-- A new entry must continue the chain: its id follows the head and its
-- prev_hash is the head's hash. (The hash itself is checked by `tandem
-- audit verify`; this only stops a fork or a gap at write time.)
CREATE FUNCTION tandem_audit_link() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    head_hash text;
BEGIN
    IF NEW.id = 1 THEN
        IF NEW.prev_hash <> repeat('0', 64) THEN
            RAISE EXCEPTION 'audit_log: the first entry must have a zero prev_hash';
        END IF;
        RETURN NEW;
    END IF;
    SELECT hash INTO head_hash FROM audit_log WHERE id = NEW.id - 1;
    IF head_hash IS NULL OR head_hash <> NEW.prev_hash THEN
        RAISE EXCEPTION 'audit_log: entry % does not continue the chain', NEW.id;
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER audit_log_link BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION tandem_audit_link();
ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_link;
