#!/usr/bin/env bash
# make bench: wrk against a real tandem on a throwaway PostgreSQL cluster.
# Prints requests/s and p50/p99 latency per endpoint at 16 connections, the
# database's own ceiling (pgbench) for the booking constraint, and the
# server's peak RSS (VmHWM). Bounded: BENCH_SECONDS per endpoint.
set -euo pipefail
bin=${1:-build/tandem}
secs=${BENCH_SECONDS:-10}
conns=${BENCH_CONNECTIONS:-16}
root=$(cd "$(dirname "$0")/../.." && pwd)
here=$root/tests/bench
work=$(mktemp -d /tmp/tandem-bench.XXXXXX)
chmod 755 "$work"
server_pid=""
pg=$root/deploy/pg-embedded.sh
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	"$pg" stop "$work/pg" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

"$pg" start "$work/pg" >/dev/null
export TANDEM_DATABASE_URL
TANDEM_DATABASE_URL=$("$pg" url "$work/pg")
psql_() { "$pg" psql "$work/pg" tandem -qAt -v ON_ERROR_STOP=1 "$@"; }
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
export TANDEM_LISTEN=127.0.0.1:$port TANDEM_BASE_URL=http://127.0.0.1:$port TANDEM_ACCESS_LOG=false
export TANDEM_TEMPLATE_DIR=$root/templates
export TANDEM_KEY_FILE=$work/tandem.keys
export TANDEM_MAIL_DIR=$work/mail # booking POSTs queue two messages each: written here
"$bin" keygen "$TANDEM_KEY_FILE" >/dev/null
"$bin" migrate >/dev/null 2>&1
"$bin" seed-demo >/dev/null

# Load: 1,000 bookings and 5,000 external busy intervals for the demo
# clinician over the next year, outside 09:00-16:00 so intensive starts
# stay available (the work is in reading and subtracting them), plus a
# "bench" offering open around the clock on a 5-minute grid for POSTs.
psql_ <<'SQL'
INSERT INTO booking (practice_id, offering_id, clinician_id, reference, status, starts_at, ends_at,
                     manage_token_hash, manage_expires_at, ical_uid)
SELECT 1, (SELECT id FROM offering WHERE slug = 'consult'), 1,
       'TND-' || translate(lpad(g::text, 5, '0'), '01', 'ZY'), 'confirmed',
       d + time '17:10' + (g % 3) * interval '40 minutes',
       d + time '17:30' + (g % 3) * interval '40 minutes',
       sha256(g::text::bytea), now() + interval '2 years', 'bench-' || g
FROM generate_series(0, 999) g,
     LATERAL (SELECT ((now() AT TIME ZONE 'America/Chicago')::date + 1 + g / 3) AT TIME ZONE 'America/Chicago' AS d) x;
INSERT INTO booking_block (booking_id, clinician_id, day_index, starts_at, ends_at, blocked)
SELECT id, 1, 0, starts_at, ends_at, tstzrange(starts_at, ends_at + interval '10 minutes') FROM booking;
INSERT INTO calendar_source (clinician_id, name, kind, last_success_at) VALUES (1, 'Personal', 'upload', now());
INSERT INTO busy_interval (source_id, clinician_id, during)
SELECT 1, 1, tstzrange(s, s + interval '20 minutes')
FROM generate_series(0, 4999) g,
     LATERAL (SELECT (((now() AT TIME ZONE 'America/Chicago')::date + g / 14)
                      + time '00:05' + (g % 14) * interval '30 minutes') AT TIME ZONE 'America/Chicago' AS s) x;
INSERT INTO offering (practice_id, slug, name, kind, duration_minutes, min_notice_minutes, horizon_days,
                      slot_interval_minutes, start_weekdays, active, sort_order)
VALUES (1, 'bench', 'Bench slot', 'consult', 5, 0, 730, 5, 127, false, 99);
INSERT INTO clinician (practice_id, name, email, timezone) VALUES (1, 'Bench Clinician', 'bench@bench.example', 'America/Chicago');
INSERT INTO offering_clinician SELECT o.id, c.id FROM offering o, clinician c WHERE o.slug = 'bench' AND c.email = 'bench@bench.example';
INSERT INTO availability_rule (clinician_id, weekday, starts, ends)
SELECT c.id, d, '00:00', '24:00' FROM clinician c, generate_series(1, 7) d WHERE c.email = 'bench@bench.example';
UPDATE offering SET active = true WHERE slug = 'bench';
ANALYZE;
SQL

# The feed: a second clinician with 5,000 bookings (its own, so they cannot
# collide with the demo clinician's), one device token, no rate limit.
psql_ -c "INSERT INTO clinician (practice_id, name, email, timezone) VALUES (1, 'Feed Bench', 'feed@bench.example', 'America/Chicago')"
"$pg" psql "$work/pg" tandem -q -v ON_ERROR_STOP=1 -v n=5000 -v clinician=feed@bench.example -f "$here/feed_seed.sql" >/dev/null
psql_ -c ANALYZE
feed_url=$("$bin" feed create --clinician feed@bench.example --name bench 2>/dev/null | sed -n 's/^url: //p')
feed_path=${feed_url#http://127.0.0.1:$port}
export TANDEM_FEED_RATE_LIMIT=100000

"$bin" serve 2>"$work/server.log" &
server_pid=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done

today=$(TZ=America/Chicago date +%F)
to90=$(TZ=America/Chicago date -d "$today + 89 days" +%F)
avail="/api/v1/availability?offering=intensive-2day&from=$today&to=$to90"
nslots=$(curl -fs "http://127.0.0.1:$port$avail" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["slots"]))')

# Warm up: every worker connects and prepares its statements once.
for path in /readyz / "$avail" /offerings/intensive-2day; do
	wrk -t2 -c"$conns" -d1s "http://127.0.0.1:$port$path" >/dev/null 2>&1
done
wrk_headers=()
printf '%-44s %10s %10s %10s  %s\n' endpoint "req/s" p50 p99 statuses
run() {
	local name=$1 path=$2 script=${3:-$here/report.lua}
	local out
	out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s "$script" "${wrk_headers[@]}" "http://127.0.0.1:$port$path" 2>&1)
	local rps p50 p99 st
	rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
	p50=$(echo "$out" | awk '$1=="50%" {print $2}')
	p99=$(echo "$out" | awk '$1=="99%" {print $2}')
	st=$(echo "$out" | awk '/^statuses:/ {$1=""; print}')
	printf '%-44s %10s %10s %10s %s\n' "$name" "$rps" "$p50" "$p99" "$st"
}
run "GET /healthz" /healthz
run "GET /readyz" /readyz
run "GET / (home page)" /
run "GET /api/v1/offerings" /api/v1/offerings
run "GET availability intensive-2day 90 days" "$avail"
run "GET /offerings/intensive-2day (calendar)" /offerings/intensive-2day
# Distinct starts from tomorrow 00:00 Chicago on a 5-minute grid.
cat "$here/book.lua" "$here/report.lua" >"$work/book.lua"
export BENCH_BASE_EPOCH
BENCH_BASE_EPOCH=$(TZ=America/Chicago date -d "$today + 1 day" +%s)
run "POST /api/v1/bookings (distinct starts)" / "$work/book.lua"
run "GET /feeds/{token}.ics (5,000 bookings)" "$feed_path"
etag=$(curl -fsI "http://127.0.0.1:$port$feed_path" | sed -n 's/^[Ee][Tt][Aa][Gg]: //p' | tr -d '\r')
wrk_headers=(-H "If-None-Match: $etag")
run "GET /feeds/{token}.ics, If-None-Match (304)" "$feed_path"
wrk_headers=()
# Mixed workload (tests/bench/mixed.lua): browse, availability, intake
# saves, bookings and feed polls interleaved on every connection, at 16 and
# then 64 connections. 64 bookings on an offering with the pre-consult form
# give the intake tokens (the manage token opens the booker's own intake);
# the feed is the demo clinician's, which the mixed bookings do not touch.
psql_ <<'SQL'
INSERT INTO offering (practice_id, slug, name, kind, duration_minutes, min_notice_minutes, horizon_days,
                      slot_interval_minutes, start_weekdays, active, sort_order, intake_form)
VALUES (1, 'bench-intake', 'Bench with intake', 'consult', 5, 0, 730, 5, 127, false, 98, 'pre-consult');
INSERT INTO offering_clinician SELECT o.id, c.id FROM offering o, clinician c WHERE o.slug = 'bench-intake' AND c.email = 'bench@bench.example';
UPDATE offering SET active = true WHERE slug = 'bench-intake';
SQL
: >"$work/tokens"
for i in $(seq 0 63); do
	start=$(date -u -d "@$((BENCH_BASE_EPOCH + 650 * 86400 + i * 3900))" +%FT%TZ)
	curl -fs -H 'Content-Type: application/json' "http://127.0.0.1:$port/api/v1/bookings" -d \
		"{\"offering\":\"bench-intake\",\"start\":\"$start\",\"consent\":true,\"clients\":[{\"name\":\"Intake A$i\",\"email\":\"ia$i@bench.example\"},{\"name\":\"Intake B$i\",\"email\":\"ib$i@bench.example\"}]}" |
		/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["manage_url"].rsplit("/", 1)[1])' >>"$work/tokens"
done
demo_feed=$("$bin" feed create --clinician clinician@riverbend.example --name mixed 2>/dev/null | sed -n 's/^url: //p')
export BENCH_TOKENS=$work/tokens BENCH_FEED=${demo_feed#http://127.0.0.1:$port}
export BENCH_AVAIL_INTENSIVE="/api/v1/availability?offering=intensive-2day&from=$today&to=$(TZ=America/Chicago date -d "$today + 29 days" +%F)"
export BENCH_AVAIL_CONSULT="/api/v1/availability?offering=consult&from=$today&to=$(TZ=America/Chicago date -d "$today + 13 days" +%F)"
BENCH_FEED_ETAG=$(curl -fsI "http://127.0.0.1:$port$BENCH_FEED" | sed -n 's/^[Ee][Tt][Aa][Gg]: //p' | tr -d '\r')
export BENCH_FEED_ETAG
cat "$here/mixed.lua" "$here/report.lua" >"$work/mixed.lua"
day0=$BENCH_BASE_EPOCH
export BENCH_BASE_EPOCH=$((day0 + 120 * 86400))
run "mixed workload, 16 connections" / "$work/mixed.lua"
export BENCH_BASE_EPOCH=$((day0 + 300 * 86400))
saved_conns=$conns
conns=64
run "mixed workload, 64 connections" / "$work/mixed.lua"
conns=$saved_conns
export BENCH_BASE_EPOCH=$day0
echo "feed: $(curl -fs "http://127.0.0.1:$port$feed_path" | wc -c) bytes, $(curl -fs "http://127.0.0.1:$port$feed_path" | grep -c '^BEGIN:VEVENT') events"
echo "availability window: $nslots slots from $(psql_ -c "SELECT count(*) FROM booking") bookings, $(psql_ -c "SELECT count(*) FROM busy_interval") busy intervals"
echo "server peak RSS: $(awk '/VmHWM/ {printf "%.1f MB", $2/1024}' /proc/$server_pid/status)"

# Importing a 10,000-event file with 200 recurring series (tests/bench/gen_ics.py):
# parse, expand over the horizon, merge, seal the file, replace the busy time.
/usr/bin/python3 "$here/gen_ics.py" --events 10000 --series 200 --year "$(date +%Y)" --out "$work/big.ics"
for i in 1 2 3; do
	t0=$(date +%s%N)
	out=$("$bin" calendar import "$work/big.ics" --clinician feed@bench.example --name Big 2>/dev/null)
	out=${out%%$'\n'*}
	t1=$(date +%s%N)
	echo "calendar import, 10,000 events / 200 series ($(du -k "$work/big.ics" | cut -f1) KiB), run $i: $(( (t1 - t0) / 1000000 )) ms: $out"
done

# The database's ceiling: pgbench inserting into a bare table with the same
# exclusion constraint, distinct ranges, same connection count.
psql_ -c "CREATE TABLE bench_block (clinician_id bigint NOT NULL, blocked tstzrange NOT NULL,
	EXCLUDE USING gist (clinician_id WITH =, blocked WITH &&)); CREATE SEQUENCE bench_seq;"
cat >"$work/pgbench.sql" <<'SQL'
INSERT INTO bench_block SELECT 1, tstzrange(to_timestamp(n * 300), to_timestamp(n * 300 + 300)) FROM (SELECT nextval('bench_seq') n) s;
SQL
pgb=$(ls /usr/lib/postgresql/*/bin/pgbench | tail -n1)
host=$(echo "$TANDEM_DATABASE_URL" | sed -E 's/.*host=([^ ]+).*/\1/')
if [ "$(id -u)" -eq 0 ]; then runas="runuser -u postgres --"; else runas=""; fi
tps=$($runas "$pgb" -h "$host" -U tandem -n -c"$conns" -j2 -T"$secs" -f "$work/pgbench.sql" tandem 2>&1 | awk '/^tps/ {print $3; exit}')
echo "pgbench ceiling (bare INSERT with the exclusion constraint, $conns clients): $tps tps"
echo "(${secs}s per endpoint, $conns connections, wrk -t2; tandem $("$bin" version | cut -d' ' -f2))"
