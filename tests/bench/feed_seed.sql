-- feed_seed.sql — N bookings (default 5,000) for one clinician, straight
-- into the database, for benchmarking the calendar feed (and for the feed's
-- integration test of a large feed). One statement; a few seconds at most.
--
--   psql -X -v ON_ERROR_STOP=1 -d "$DSN" -v n=5000 \
--        -v clinician=clinician@riverbend.example -f tests/bench/feed_seed.sql
--
-- The bookings are consults and check-ins of 50 minutes every 100 minutes,
-- round the clock, from 25 days ago on (5,000 reach about 322 days ahead:
-- all inside the default feed window of 30 days back, 365 ahead). Every
-- 20th is cancelled, then held, requested and declined ones; the rest are
-- confirmed, or completed once past. Clients get initials but dummy
-- envelopes (nothing here is readable PHI; such bookings have no working
-- manage link). Times never overlap one another; the clinician should have
-- no other bookings in that span (a fresh `tandem seed-demo` database).
\set ON_ERROR_STOP on
\if :{?n}
\else
\set n 5000
\endif
\if :{?clinician}
\else
\set clinician clinician@riverbend.example
\endif

WITH c AS (
    SELECT id, practice_id FROM clinician WHERE lower(email) = lower(:'clinician')
), o AS (
    SELECT array_agg(id ORDER BY id) AS ids FROM offering
    WHERE practice_id = (SELECT practice_id FROM c) AND kind <> 'intensive'
), run AS (
    -- Two random reference characters per run, so runs do not collide.
    SELECT (SELECT string_agg(substr('23456789ABCDEFGHJKLMNPQRSTUVWXYZ', 1 + floor(random() * 32)::int, 1), '')
            FROM generate_series(1, 2)) AS rp,
           md5(random()::text) AS tag
), g AS (
    SELECT i, date_trunc('hour', now()) - interval '25 days' + i * interval '100 minutes' AS s,
           CASE i % 20 WHEN 0 THEN 'cancelled' WHEN 1 THEN 'held' WHEN 2 THEN 'requested'
                       WHEN 3 THEN 'declined' END AS st
    FROM generate_series(0, :n - 1) AS i
), b AS (
    INSERT INTO booking (practice_id, offering_id, clinician_id, reference, status, starts_at, ends_at,
                         hold_expires_at, manage_token_hash, manage_expires_at, ical_uid, ical_sequence)
    SELECT c.practice_id, o.ids[1 + g.i % cardinality(o.ids)], c.id,
           'TND-' || run.rp || (SELECT string_agg(substr('23456789ABCDEFGHJKLMNPQRSTUVWXYZ',
                                                         1 + (g.i / (32 ^ k)::bigint % 32)::int, 1), '' ORDER BY k)
                                FROM generate_series(0, 4) AS k),
           coalesce(g.st, CASE WHEN g.s > now() THEN 'confirmed' ELSE 'completed' END),
           g.s, g.s + interval '50 minutes',
           CASE WHEN g.st = 'held' THEN now() + interval '7 days' END,
           sha256(convert_to(run.tag || ':' || g.i, 'UTF8')), g.s + interval '90 days',
           run.tag || '-' || g.i || '@bench.tandem.invalid', g.i % 3
    FROM g, c, o, run
    RETURNING id, clinician_id, status, starts_at, ends_at
), blk AS (
    INSERT INTO booking_block (booking_id, clinician_id, day_index, starts_at, ends_at, blocked, active)
    SELECT id, clinician_id, 0, starts_at, ends_at, tstzrange(starts_at, ends_at), tandem_status_blocks(status)
    FROM b
)
INSERT INTO booking_client (booking_id, position, name_enc, email_enc, email_index, initials)
SELECT b.id, p.pos, '\x00'::bytea, '\x00'::bytea, repeat('0', 64), p.ini
FROM b, (VALUES (1, 'AQ'), (2, 'JQ')) AS p(pos, ini);
