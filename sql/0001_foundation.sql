-- 0001_foundation: the practice, its clinicians, offerings and weekly availability.
-- Forward only: never edit this file once released; add a new one.

CREATE EXTENSION IF NOT EXISTS btree_gist;

-- True when tz is a time zone PostgreSQL knows (IANA names).
CREATE FUNCTION tandem_valid_tz(tz text) RETURNS boolean
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
BEGIN
    PERFORM now() AT TIME ZONE tz;
    RETURN tz !~ '^[+-]?[0-9]' AND tz <> '';
EXCEPTION WHEN invalid_parameter_value THEN
    RETURN false;
END;
$$;

CREATE TABLE practice (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    slug                    text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name                    text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    timezone                text NOT NULL CHECK (tandem_valid_tz(timezone)),
    address                 text NOT NULL DEFAULT '' CHECK (length(address) <= 500),
    phone                   text NOT NULL DEFAULT '' CHECK (length(phone) <= 40),
    email                   text NOT NULL DEFAULT '' CHECK (length(email) <= 254),
    base_url                text NOT NULL DEFAULT '' CHECK (length(base_url) <= 500),
    cancellation_policy     text NOT NULL DEFAULT '' CHECK (length(cancellation_policy) <= 20000),
    confidentiality_policy  text NOT NULL DEFAULT '' CHECK (length(confidentiality_policy) <= 20000),
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE clinician (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    practice_id     bigint NOT NULL REFERENCES practice (id),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email           text NOT NULL CHECK (email ~ '^[^@\s]+@[^@\s]+$' AND length(email) <= 254),
    timezone        text NOT NULL CHECK (tandem_valid_tz(timezone)),
    role            text NOT NULL DEFAULT 'clinician' CHECK (role IN ('owner', 'clinician')),
    password_hash   text CHECK (password_hash IS NULL OR password_hash LIKE '$argon2id$%'),
    active          boolean NOT NULL DEFAULT true,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX clinician_email_key ON clinician (lower(email));

CREATE TABLE offering (
    id                      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    practice_id             bigint NOT NULL REFERENCES practice (id),
    slug                    text NOT NULL CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    name                    text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind                    text NOT NULL CHECK (kind IN ('consult', 'intensive', 'session')),
    description             text NOT NULL DEFAULT '' CHECK (length(description) <= 5000),
    -- Days of one booking: 1 for consults and sessions, 2-5 for intensives.
    days                    integer NOT NULL DEFAULT 1 CHECK (days BETWEEN 1 AND 5),
    -- Length of one appointment; for an intensive, derived from day_start/day_end.
    duration_minutes        integer NOT NULL CHECK (duration_minutes BETWEEN 5 AND 720),
    -- Intensives run at fixed local times each day (e.g. 09:00-16:00).
    day_start               time,
    day_end                 time,
    price_cents             bigint NOT NULL DEFAULT 0 CHECK (price_cents >= 0),
    deposit_cents           bigint NOT NULL DEFAULT 0 CHECK (deposit_cents >= 0),
    currency                text NOT NULL DEFAULT 'USD' CHECK (currency ~ '^[A-Z]{3}$'),
    requires_approval       boolean NOT NULL DEFAULT false,
    location_kind           text NOT NULL DEFAULT 'in_person'
                                CHECK (location_kind IN ('in_person', 'video', 'phone')),
    location                text NOT NULL DEFAULT '' CHECK (length(location) <= 500),
    buffer_before_minutes   integer NOT NULL DEFAULT 0 CHECK (buffer_before_minutes BETWEEN 0 AND 1440),
    buffer_after_minutes    integer NOT NULL DEFAULT 0 CHECK (buffer_after_minutes BETWEEN 0 AND 1440),
    min_notice_minutes      integer NOT NULL DEFAULT 1440 CHECK (min_notice_minutes BETWEEN 0 AND 525600),
    horizon_days            integer NOT NULL DEFAULT 90 CHECK (horizon_days BETWEEN 1 AND 730),
    slot_interval_minutes   integer NOT NULL DEFAULT 30 CHECK (slot_interval_minutes BETWEEN 5 AND 1440),
    -- ISO weekdays a booking may start on: bit 0 = Monday ... bit 6 = Sunday.
    start_weekdays          smallint NOT NULL DEFAULT 127 CHECK (start_weekdays BETWEEN 1 AND 127),
    -- Intensives: free days required between two intensives of one clinician.
    min_rest_days           integer NOT NULL DEFAULT 0 CHECK (min_rest_days BETWEEN 0 AND 60),
    cap_per_week            integer CHECK (cap_per_week IS NULL OR cap_per_week > 0),
    cap_per_month           integer CHECK (cap_per_month IS NULL OR cap_per_month > 0),
    -- How long a hold keeps the dates while intake and approval are pending.
    hold_minutes            integer NOT NULL DEFAULT 10080 CHECK (hold_minutes BETWEEN 5 AND 43200),
    -- Clients may cancel or reschedule online until this long before the start.
    cancel_window_hours     integer NOT NULL DEFAULT 48 CHECK (cancel_window_hours BETWEEN 0 AND 8760),
    -- Intake form slug each partner receives (NULL: none).
    intake_form             text CHECK (intake_form IS NULL OR intake_form ~ '^[a-z0-9-]{1,63}$'),
    -- Sessions: may be booked as a weekly series of up to this many.
    series_max              integer NOT NULL DEFAULT 1 CHECK (series_max BETWEEN 1 AND 52),
    active                  boolean NOT NULL DEFAULT true,
    sort_order              integer NOT NULL DEFAULT 0,
    created_at              timestamptz NOT NULL DEFAULT now(),
    updated_at              timestamptz NOT NULL DEFAULT now(),
    UNIQUE (practice_id, slug),
    CHECK (deposit_cents <= price_cents),
    CHECK ((kind = 'intensive') = (days > 1 OR day_start IS NOT NULL)),
    CHECK (kind <> 'intensive' OR (day_start IS NOT NULL AND day_end IS NOT NULL AND day_end > day_start)),
    CHECK (kind = 'session' OR series_max = 1)
);

-- Breaks inside an intensive day (lunch); informational for clients and invites.
CREATE TABLE offering_break (
    offering_id     bigint NOT NULL REFERENCES offering (id) ON DELETE CASCADE,
    starts          time NOT NULL,
    ends            time NOT NULL,
    label           text NOT NULL DEFAULT 'Break' CHECK (length(label) <= 100),
    PRIMARY KEY (offering_id, starts),
    CHECK (ends > starts)
);

-- Which clinicians provide which offerings.
CREATE TABLE offering_clinician (
    offering_id     bigint NOT NULL REFERENCES offering (id) ON DELETE CASCADE,
    clinician_id    bigint NOT NULL REFERENCES clinician (id) ON DELETE CASCADE,
    PRIMARY KEY (offering_id, clinician_id)
);

-- Weekly working hours in the clinician's local wall-clock time.
CREATE TABLE availability_rule (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    clinician_id    bigint NOT NULL REFERENCES clinician (id) ON DELETE CASCADE,
    weekday         smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7), -- ISO: 1 = Monday
    starts          time NOT NULL,
    ends            time NOT NULL,
    offering_id     bigint REFERENCES offering (id) ON DELETE CASCADE, -- NULL: every offering
    CHECK (ends > starts)
);
CREATE INDEX availability_rule_clinician ON availability_rule (clinician_id, weekday);

-- One day's exception: extra hours, or time off (whole day when starts is NULL).
CREATE TABLE availability_override (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    clinician_id    bigint NOT NULL REFERENCES clinician (id) ON DELETE CASCADE,
    day             date NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('extra', 'off')),
    starts          time,
    ends            time,
    offering_id     bigint REFERENCES offering (id) ON DELETE CASCADE,
    note            text NOT NULL DEFAULT '' CHECK (length(note) <= 500),
    CHECK ((starts IS NULL) = (ends IS NULL)),
    CHECK (starts IS NULL OR ends > starts),
    CHECK (kind = 'off' OR starts IS NOT NULL)
);
CREATE INDEX availability_override_clinician ON availability_override (clinician_id, day);
