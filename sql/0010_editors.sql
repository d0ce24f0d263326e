-- 0010_editors: the clinician's date exceptions as people enter them.
-- Forward only: never edit this file once released; add a new one.
--
-- The availability engine reads availability_override (one row per date:
-- extra hours, or time off for part or all of the day). What a clinician
-- enters is coarser: "different hours on 24 December", "closed on 1 May",
-- "time off from 3 to 14 August". Each such entry is one row here, and
-- the editor writes its per-date override rows in the same transaction,
-- linked by exception_id; removing the entry removes them (cascade). The
-- engine and its query stay as they are.
CREATE TABLE availability_exception (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    clinician_id    bigint NOT NULL REFERENCES clinician (id) ON DELETE CASCADE,
    -- hours: the day's hours are starts-ends instead of the weekly ones;
    -- closed: one date off; time_off: every date from first_day to last_day.
    kind            text NOT NULL CHECK (kind IN ('hours', 'closed', 'time_off')),
    first_day       date NOT NULL,
    last_day        date NOT NULL,
    starts          time,
    ends            time,
    note            text NOT NULL DEFAULT '' CHECK (length(note) <= 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (last_day >= first_day AND last_day - first_day < 366),
    CHECK (kind = 'time_off' OR last_day = first_day),
    CHECK ((kind = 'hours') = (starts IS NOT NULL)),
    CHECK ((starts IS NULL) = (ends IS NULL)),
    CHECK (starts IS NULL OR ends > starts),
    -- Two "different hours" entries for one date would cancel each other
    -- out (each closes the hours outside its own): one per date.
    CONSTRAINT availability_exception_one_hours
        EXCLUDE USING gist (clinician_id WITH =, daterange(first_day, last_day, '[]') WITH &&)
        WHERE (kind = 'hours')
);
CREATE INDEX availability_exception_clinician ON availability_exception (clinician_id, last_day);

ALTER TABLE availability_override
    ADD COLUMN exception_id bigint REFERENCES availability_exception (id) ON DELETE CASCADE;
CREATE INDEX availability_override_exception ON availability_override (exception_id)
    WHERE exception_id IS NOT NULL;
