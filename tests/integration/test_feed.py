"""Issue 4 item 3: the clinician's private calendar feed, /feeds/{token}.ics.

Tokens are made, listed and revoked with `tandem feed`; the feed is read
with python-icalendar and every event is compared with what the database
holds: times, statuses, titles, UIDs, SEQUENCE, the window and how long
cancelled bookings stay. Also: privacy (no name or email, initials only on
request), ETag/304, 404 for unknown and revoked tokens, the per-token rate
limit across two server processes, the audit rows, and that the token is
never logged or stored.

Bookings are mostly written straight into the database (the feed shows
past days and statuses the public API cannot make); one test books through
the API to see real clients' data stay out of the feed.
"""

import concurrent.futures
import hashlib
import re
import secrets
import signal
import socket
import subprocess
import time
import urllib.parse
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import pytest

CHI = ZoneInfo("America/Chicago")
UTC = timezone.utc
DEMO = "clinician@riverbend.example"
PSQL = "/usr/lib/postgresql/15/bin/psql"
PG_DUMP = "/usr/lib/postgresql/15/bin/pg_dump"
SEED = "tests/bench/feed_seed.sql"
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # 256 bits, base64url
ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
NAMES = {"consult": "Free consultation call", "intensive-2day": "Two-day intensive",
         "checkin": "Follow-up check-in"}


# --------------------------------------------------------------------------
# time


def today():
    return datetime.now(CHI).date()


def at(day_offset, hour, minute=0):
    """Aware Chicago time on today + day_offset."""
    d = today() + timedelta(days=day_offset)
    return datetime(d.year, d.month, d.day, hour, minute, tzinfo=CHI)


def midnight(day_offset):
    d = today() + timedelta(days=day_offset)
    return datetime(d.year, d.month, d.day, tzinfo=CHI)


def epoch(dt):
    return int(dt.timestamp())


def utc(dt):
    return dt.astimezone(UTC)


# --------------------------------------------------------------------------
# tokens and fetching


def create_feed(srv, tandem, name="Phone", privacy=None, email=DEMO):
    args = ["feed", "create", "--clinician", email, "--name", name]
    if privacy:
        args += ["--privacy", privacy]
    r = tandem(args, srv.dsn, srv.port)
    assert r.returncode == 0, r.stderr
    lines = dict(line.split(": ", 1) for line in r.stdout.strip().splitlines())
    assert set(lines) == {"id", "url", "webcal"}, r.stdout
    prefix = srv.base + "/feeds/"
    assert lines["url"].startswith(prefix) and lines["url"].endswith(".ics"), lines
    token = lines["url"][len(prefix):-4]
    assert TOKEN_RE.match(token), token
    assert lines["webcal"] == "webcal://" + lines["url"][len("http://"):], lines
    return int(lines["id"]), token


def path_of(token):
    return f"/feeds/{token}.ics"


def fetch(srv, token, headers=None):
    return srv.get(path_of(token), headers=headers)


def parse(body):
    """(calendar, {uid: event fields}) of a feed."""
    cal = icalendar.Calendar.from_ical(body.decode("utf-8"))
    out = {}
    for e in cal.walk("VEVENT"):
        uid = str(e["UID"])
        assert uid not in out, f"UID {uid} twice"
        # In the clinician's zone; in UTC only inside a fall-back hour,
        # which local time cannot name.
        tzid = e["DTSTART"].params.get("TZID")
        assert tzid == "America/Chicago" or (tzid is None and e["DTSTART"].dt.utcoffset() == timedelta(0)), \
            e["DTSTART"].params
        out[uid] = dict(
            start=utc(e["DTSTART"].dt), end=utc(e["DTEND"].dt), status=str(e["STATUS"]),
            summary=str(e["SUMMARY"]), sequence=int(e["SEQUENCE"]), dtstamp=utc(e["DTSTAMP"].dt),
            modified=utc(e["LAST-MODIFIED"].dt), description=str(e["DESCRIPTION"]), url=str(e["URL"]),
            cls=str(e["CLASS"]), transp=str(e["TRANSP"]),
            keys=sorted(k for k in e.keys()),
        )
    return cal, out


def feed_rows(srv, token_id):
    """[(status, remote_addr, user_agent)] of a token's audit, in order."""
    return srv.sql("SELECT status, host(remote_addr), user_agent FROM feed_fetch WHERE token_id = :'p1'"
                   " ORDER BY id", token_id)


def statuses(srv, token_id):
    return [int(s) for s, _, _ in feed_rows(srv, token_id)]


# --------------------------------------------------------------------------
# bookings straight into the database

INSERT_BOOKING = """
WITH o AS (SELECT id, practice_id FROM offering WHERE slug = :'p1'),
c AS (SELECT id FROM clinician WHERE lower(email) = lower(:'p2')),
b AS (
  INSERT INTO booking (practice_id, offering_id, clinician_id, reference, status, starts_at, ends_at,
    hold_expires_at, manage_token_hash, manage_expires_at, ical_uid, ical_sequence, created_at, updated_at)
  SELECT o.practice_id, o.id, c.id, :'p3', :'p4', to_timestamp(:'p5'::bigint), to_timestamp(:'p6'::bigint),
    CASE WHEN :'p4' = 'held' THEN now() + interval '7 days' END,
    sha256(convert_to(:'p7', 'UTF8')), now() + interval '90 days', :'p7', :'p8'::int,
    to_timestamp(:'p9'::bigint), to_timestamp(:'p9'::bigint)
  FROM o, c RETURNING id, clinician_id, status),
blk AS (
  INSERT INTO booking_block (booking_id, clinician_id, day_index, starts_at, ends_at, blocked, active)
  SELECT b.id, b.clinician_id, x.i - 1, to_timestamp(x.s), to_timestamp(x.e),
         tstzrange(to_timestamp(x.s), to_timestamp(x.e)), tandem_status_blocks(b.status)
  FROM b, unnest(string_to_array(:'p10', ',')::bigint[], string_to_array(:'p11', ',')::bigint[])
       WITH ORDINALITY AS x(s, e, i)),
cl AS (
  INSERT INTO booking_client (booking_id, position, name_enc, email_enc, email_index, initials)
  SELECT b.id, x.pos, '\\x00'::bytea, '\\x00'::bytea, repeat('0', 64), x.ini
  FROM b, unnest(ARRAY[1, 2], string_to_array(:'p12', ',')) AS x(pos, ini))
SELECT id FROM b
"""


class Booking:
    def __init__(self, srv, slug, blocks, status, updated, seq=0, initials="AQ,JQ", email=DEMO):
        self.slug, self.blocks, self.status, self.seq = slug, blocks, status, seq
        self.updated = updated.replace(microsecond=0)
        self.reference = "TND-" + "".join(secrets.choice(ALPHABET) for _ in range(6))
        self.ical_uid = secrets.token_hex(16) + "@127.0.0.1"
        rows = srv.sql(INSERT_BOOKING, slug, email, self.reference, status, epoch(blocks[0][0]),
                       epoch(blocks[-1][1]), self.ical_uid, seq, epoch(self.updated),
                       ",".join(str(epoch(s)) for s, _ in blocks), ",".join(str(epoch(e)) for _, e in blocks),
                       initials)
        assert len(rows) == 1, rows
        self.id = int(rows[0][0])
        self.link = f"{srv.base}/admin/bookings/{self.id}"

    def uid(self, day=0):
        return f"d{day + 1}-{self.ical_uid}"

    def expect(self, day=0, prefix="", suffix=""):
        """The feed's event for block `day`, as parse() reads it."""
        s, e = self.blocks[day]
        name = NAMES[self.slug]
        if len(self.blocks) > 1:
            name += f" (day {day + 1} of {len(self.blocks)})"
        cancelled = self.status in ("cancelled", "declined")
        return dict(
            start=utc(s), end=utc(e),
            status="CANCELLED" if cancelled else "TENTATIVE" if self.status in ("held", "requested")
            else "CONFIRMED",
            summary=prefix + name + suffix, sequence=self.seq, dtstamp=utc(self.updated),
            modified=utc(self.updated), description=f"Booking {self.reference}\n{self.link}", url=self.link,
            cls="PRIVATE", transp="TRANSPARENT" if cancelled else "OPAQUE",
            keys=["CLASS", "DESCRIPTION", "DTEND", "DTSTAMP", "DTSTART", "LAST-MODIFIED", "SEQUENCE",
                  "STATUS", "SUMMARY", "TRANSP", "UID", "URL"],
        )


def booking(srv, slug, starts, minutes, status="confirmed", updated=None, **kw):
    blocks = [(s, s + timedelta(minutes=minutes)) for s in starts]
    return Booking(srv, slug, blocks, status, updated or datetime.now(UTC) - timedelta(hours=1), **kw)


# --------------------------------------------------------------------------
# the command line


def test_feed_cli_create_list_revoke(fresh_server, tandem):
    srv = fresh_server
    fid, token = create_feed(srv, tandem, name="  Dr. M's iPhone — personal  ")
    fid2, token2 = create_feed(srv, tandem, name="x" * 100, privacy="initials")
    assert fid2 == fid + 1 and token2 != token
    # Only the hash is stored, with the name trimmed and the privacy asked for.
    rows = srv.sql("SELECT id, name, privacy, encode(token_hash, 'hex'), revoked_at IS NULL, last_fetch_at IS NULL"
                   " FROM feed_token ORDER BY id")
    assert rows == [
        (str(fid), "Dr. M's iPhone — personal", "neutral", hashlib.sha256(token.encode()).hexdigest(), "t", "t"),
        (str(fid2), "x" * 100, "initials", hashlib.sha256(token2.encode()).hexdigest(), "t", "t"),
    ]
    # list: never the token.
    r = tandem(["feed", "list", "--clinician", DEMO.upper()], srv.dsn, srv.port)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "id\tname\tprivacy\tcreated\trevoked\tlast fetch\tfetches"
    assert len(lines) == 3
    f = lines[1].split("\t")
    assert f[:3] == [str(fid), "Dr. M's iPhone — personal", "neutral"]
    assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$", f[3]) and f[4:] == ["-", "-", "0"], f
    assert lines[2].split("\t")[:3] == [str(fid2), "x" * 100, "initials"]
    assert token not in r.stdout + r.stderr and token2 not in r.stdout + r.stderr
    # Refusals: exit 1, a message, nothing written.
    for args, msg in [
        (["--clinician", DEMO, "--name", "x" * 101], "1 to 100 characters"),
        (["--clinician", DEMO, "--name", "   "], "1 to 100 characters"),
        (["--clinician", DEMO, "--name", "a\nb"], "1 to 100 characters"),
        (["--clinician", DEMO, "--name", "a", "--privacy", "names"], "neutral or initials"),
        (["--clinician", "nobody@example.com", "--name", "a"], "no active clinician"),
        (["--name", "a"], "usage"),
        (["--clinician", DEMO], "usage"),
        (["--clinician", DEMO, "--name", "a", "--token", "x"], "usage"),
    ]:
        r = tandem(["feed", "create", *args], srv.dsn, srv.port)
        assert r.returncode == 1 and msg in r.stderr and r.stdout == "", (args, r.stdout, r.stderr)
    assert srv.sql("SELECT count(*) FROM feed_token") == [("2",)]
    # An inactive clinician gets no new feed.
    srv.sql("UPDATE clinician SET active = false")
    r = tandem(["feed", "create", "--clinician", DEMO, "--name", "a"], srv.dsn, srv.port)
    assert r.returncode == 1 and "no active clinician" in r.stderr
    srv.sql("UPDATE clinician SET active = true")
    # revoke: once, then "already", unknown ids and junk refused.
    r = tandem(["feed", "revoke", str(fid)], srv.dsn, srv.port)
    assert (r.returncode, r.stdout) == (0, f"feed {fid} revoked\n"), r.stderr
    r = tandem(["feed", "revoke", str(fid)], srv.dsn, srv.port)
    assert (r.returncode, r.stdout) == (0, f"feed {fid} was already revoked\n"), r.stderr
    for bad in ["999999", "0", "-1", "abc", "1x"]:
        r = tandem(["feed", "revoke", bad], srv.dsn, srv.port)
        assert r.returncode == 1 and r.stdout == "", (bad, r.stdout, r.stderr)
    r = tandem(["feed", "revoke", "999999"], srv.dsn, srv.port)
    assert "no feed with id 999999" in r.stderr
    r = tandem(["feed", "list", "--clinician", DEMO], srv.dsn, srv.port)
    f = r.stdout.splitlines()[1].split("\t")
    assert f[0] == str(fid) and re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d UTC$", f[4]), f
    assert srv.sql("SELECT revoked_at IS NOT NULL FROM feed_token ORDER BY id") == [("t",), ("f",)]
    r = tandem(["feed", "list", "--clinician", "nobody@example.com"], srv.dsn, srv.port)
    assert r.returncode == 1 and "no clinician" in r.stderr
    r = tandem(["feed"], srv.dsn, srv.port)
    assert r.returncode == 1 and "usage" in r.stderr


# --------------------------------------------------------------------------
# what the feed says


def test_feed_events_statuses_and_window(fresh_server, tandem):
    srv = fresh_server
    now = datetime.now(UTC).replace(microsecond=0)
    fid, token = create_feed(srv, tandem)
    b = {}
    b["confirmed"] = booking(srv, "consult", [at(3, 10)], 20, seq=2)
    b["held"] = booking(srv, "intensive-2day", [at(20, 9), at(21, 9)], 420, "held")
    b["requested"] = booking(srv, "checkin", [at(5, 11)], 50, "requested", seq=1)
    b["cancelled"] = booking(srv, "consult", [at(4, 10)], 20, "cancelled", updated=now - timedelta(days=2), seq=1)
    b["declined"] = booking(srv, "intensive-2day", [at(40, 9), at(41, 9)], 420, "declined",
                            updated=now - timedelta(days=1), seq=1)
    b["completed"] = booking(srv, "consult", [at(-10, 14)], 20, "completed")
    b["no_show"] = booking(srv, "checkin", [at(-2, 15)], 50, "no_show")
    # Cancelled bookings stay from the local midnight 30 days ago on.
    cutoff = midnight(-30)
    b["cancelled_at_cutoff"] = booking(srv, "consult", [at(6, 10)], 20, "cancelled", updated=cutoff)
    gone = [
        booking(srv, "consult", [at(7, 10)], 20, "cancelled", updated=cutoff - timedelta(seconds=1)),
        booking(srv, "consult", [at(8, 10)], 20, "declined", updated=now - timedelta(days=31)),
    ]
    # The window: local midnight 30 days ago to local midnight after the
    # 365th day ahead; a block is in when it overlaps.
    start, end = midnight(-30), midnight(366)
    b["first"] = booking(srv, "consult", [start], 20)
    b["straddles_start"] = booking(srv, "consult", [start - timedelta(minutes=30)], 50, "completed")
    b["last"] = booking(srv, "consult", [end - timedelta(minutes=20)], 20)
    gone += [
        booking(srv, "consult", [start - timedelta(minutes=20)], 20),  # ends at the start
        booking(srv, "consult", [end], 20),
        booking(srv, "consult", [at(-31, 12)], 20, "completed"),
        booking(srv, "consult", [at(367, 12)], 20),
    ]
    # Another clinician's booking never shows.
    srv.sql("INSERT INTO clinician (practice_id, name, email, timezone)"
            " SELECT id, 'Dr. Other', 'other@riverbend.example', 'America/Chicago' FROM practice")
    gone.append(booking(srv, "consult", [at(3, 10)], 20, email="other@riverbend.example"))

    r = fetch(srv, token)
    assert r.status == 200, r.body[:300]
    assert r.headers["content-type"] == "text/calendar; charset=utf-8; method=PUBLISH"
    assert r.headers["cache-control"] == "private, no-store"
    assert r.headers["referrer-policy"] == "no-referrer"
    assert re.match(r'^"[0-9a-f]{32}"$', r.headers["etag"]), r.headers
    # Last-Modified: the newest change to anything shown (here the token,
    # made after every booking's last change).
    newest = max(x.updated for x in b.values())
    made = int(srv.sql("SELECT floor(extract(epoch FROM greatest(t.created_at, c.updated_at, p.updated_at)))"
                       " FROM feed_token t JOIN clinician c ON c.id = t.clinician_id"
                       " JOIN practice p ON p.id = c.practice_id WHERE t.id = :'p1'", fid)[0][0])
    assert made > newest.timestamp()
    assert r.headers["last-modified"] == datetime.fromtimestamp(made, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    assert int(r.headers["content-length"]) == len(r.body)

    text = r.body.decode("utf-8")
    assert "\r\nMETHOD:PUBLISH\r\n" in text
    assert "\r\nX-WR-CALNAME:Riverbend Practice\r\n" in text
    assert "\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in text
    assert "\r\nX-PUBLISHED-TTL:PT1H\r\n" in text
    cal, events = parse(r.body)
    assert [str(c["TZID"]) for c in cal.walk("VTIMEZONE")] == ["America/Chicago"]

    want = {}
    for k, x in b.items():
        for day in range(len(x.blocks)):
            prefix = {"held": "On hold: ", "requested": "Requested: ", "cancelled": "Cancelled: ",
                      "declined": "Declined: "}.get(x.status, "")
            want[x.uid(day)] = x.expect(day, prefix=prefix)
    assert sorted(events) == sorted(want), (sorted(events), sorted(want))
    for uid in want:
        assert events[uid] == want[uid], (uid, events[uid], want[uid])
    for x in gone:
        assert x.ical_uid not in text and x.reference not in text
    # Events come in time order; the invite's own UID is never used.
    starts = [e["DTSTART"].dt for e in cal.walk("VEVENT")]
    assert starts == sorted(starts)
    for x in b.values():
        assert f"UID:{x.ical_uid}\r\n" not in text

    # The same data gives the same bytes and the same ETag.
    r2 = fetch(srv, token)
    assert (r2.status, r2.body, r2.headers["etag"]) == (200, r.body, r.headers["etag"])


def test_feed_window_follows_the_configuration(server_factory, tandem):
    srv = server_factory(env={"TANDEM_FEED_PAST_DAYS": "0", "TANDEM_FEED_FUTURE_DAYS": "1"})
    _, token = create_feed(srv, tandem)
    inside = [booking(srv, "consult", [midnight(0)], 20), booking(srv, "consult", [midnight(2) - timedelta(minutes=20)], 20)]
    outside = [booking(srv, "consult", [midnight(0) - timedelta(minutes=20)], 20), booking(srv, "consult", [midnight(2)], 20)]
    r = fetch(srv, token)
    assert r.status == 200
    _, events = parse(r.body)
    assert sorted(events) == sorted(x.uid() for x in inside)
    for x in outside:
        assert x.ical_uid not in r.text


def _first_consult(srv):
    d = today() + timedelta(days=2)
    r = srv.get(f"/api/v1/availability?offering=consult&from={d}&to={d + timedelta(days=10)}")
    assert r.status == 200, r.body
    return r.json()["slots"][0]["start"]


def test_feed_privacy_neutral_and_initials(fresh_server, tandem):
    """A booking made through the API: its people never reach the feed;
    the initials mode adds only their initials."""
    srv = fresh_server
    tag = secrets.token_hex(3)
    clients = [{"name": f"Avery Quill{tag}", "email": f"avery.{tag}@example.com", "phone": "+1 312 555 0100"},
               {"name": f"Jordan Rivers{tag}", "email": f"jordan.{tag}@example.org"}]
    start = _first_consult(srv)
    r = srv.request("POST", "/api/v1/bookings",
                    body={"offering": "consult", "start": start, "clients": clients, "consent": True})
    assert r.status == 201, r.body
    doc = r.json()
    _, neutral = create_feed(srv, tandem, name="shared iPad")
    _, initials = create_feed(srv, tandem, name="own phone", privacy="initials")
    uid = srv.sql("SELECT 'd1-' || ical_uid FROM booking WHERE id = :'p1'", doc["id"])[0][0]
    secrets_in_people = [tag, "Avery", "Jordan", "Quill", "Rivers", "example.com", "example.org", "+1 312"]

    rn, ri = fetch(srv, neutral), fetch(srv, initials)
    assert rn.status == ri.status == 200
    for body in (rn.text, ri.text):
        low = body.lower()
        for s in secrets_in_people:
            assert s.lower() not in low, s
        assert "couples" not in low and "therapy" not in low
        assert "ATTENDEE" not in body and "ORGANIZER" not in body
    _, en = parse(rn.body)
    _, ei = parse(ri.body)
    assert en[uid]["summary"] == "Free consultation call"
    assert ei[uid]["summary"] == "Free consultation call · AQ & JR"
    assert " · " not in rn.text
    assert rn.headers["etag"] != ri.headers["etag"]
    assert en[uid]["start"] == datetime.fromisoformat(start).astimezone(UTC)
    assert en[uid]["status"] == "CONFIRMED" and en[uid]["sequence"] == 0

    # The client cancels: the feed keeps the day as CANCELLED, one SEQUENCE up.
    token = doc["manage_url"].rsplit("/", 1)[1]
    r = srv.request("POST", f"/api/v1/manage/{token}/cancel", body={})
    assert r.status == 200, r.body
    r2 = fetch(srv, neutral, headers={"If-None-Match": rn.headers["etag"]})
    assert r2.status == 200 and r2.headers["etag"] != rn.headers["etag"]
    _, e2 = parse(r2.body)
    assert (e2[uid]["status"], e2[uid]["sequence"], e2[uid]["summary"], e2[uid]["transp"]) == \
        ("CANCELLED", 1, "Cancelled: Free consultation call", "TRANSPARENT")


def test_feed_etag_and_not_modified(fresh_server, tandem):
    srv = fresh_server
    fid, token = create_feed(srv, tandem)
    x = booking(srv, "consult", [at(3, 10)], 20)
    r = fetch(srv, token)
    assert r.status == 200
    etag, lm = r.headers["etag"], r.headers["last-modified"]
    inner = etag.strip('"')
    for inm in [etag, f"W/{etag}", f'"nope", {etag}', f'W/"nope" ,  W/{etag}', "*", f" {etag} "]:
        r2 = fetch(srv, token, headers={"If-None-Match": inm})
        assert r2.status == 304, inm
        assert r2.body == b"" and "content-length" not in r2.headers
        assert (r2.headers["etag"], r2.headers["last-modified"]) == (etag, lm)
        assert r2.headers["cache-control"] == "private, no-store"
    for inm in ['"nope"', inner, f'"{inner[:-1]}"', f'"{inner}x"', "", "W/", '"unterminated']:
        r2 = fetch(srv, token, headers={"If-None-Match": inm})
        assert r2.status == 200 and r2.body == r.body and r2.headers["etag"] == etag, inm
    # HEAD: the headers without the body, counted like a GET.
    r3 = srv.request("HEAD", path_of(token))
    assert r3.status == 200 and r3.body == b"" and r3.headers["etag"] == etag
    r3 = srv.request("HEAD", path_of(token), headers={"If-None-Match": etag})
    assert r3.status == 304

    # Any change to a shown booking changes the ETag.
    changes = [
        "UPDATE booking SET ical_sequence = ical_sequence + 1, updated_at = updated_at + interval '1 second'"
        " WHERE id = :'p1'",
        "UPDATE booking SET status = 'requested' WHERE id = :'p1'",  # updated_at untouched
        "UPDATE booking_client SET initials = 'ZZ' WHERE booking_id = :'p1' AND position = 1",  # not shown: same
        "UPDATE offering SET name = 'Intro call' WHERE id = (SELECT offering_id FROM booking WHERE id = :'p1')",
        "UPDATE practice SET name = 'Lakeside Practice'",
    ]
    seen = {etag}
    for i, sql in enumerate(changes):
        srv.sql(sql, x.id)
        r4 = fetch(srv, token, headers={"If-None-Match": etag})
        if "initials" in sql:
            assert r4.status == 304, sql  # neutral feeds do not show initials
            continue
        assert r4.status == 200, sql
        assert r4.headers["etag"] not in seen, sql
        seen.add(r4.headers["etag"])
        etag = r4.headers["etag"]
    assert "SUMMARY:Requested: Intro call\r\n" in r4.text and "X-WR-CALNAME:Lakeside Practice\r\n" in r4.text
    # A new booking, and a booking of someone else's, as well.
    booking(srv, "consult", [at(4, 10)], 20)
    r5 = fetch(srv, token, headers={"If-None-Match": etag})
    assert r5.status == 200 and r5.headers["etag"] not in seen
    assert statuses(srv, fid)[:8] == [200, 304, 304, 304, 304, 304, 304, 200]


def test_feed_unknown_revoked_and_inactive_are_the_same_404(fresh_server, tandem):
    srv = fresh_server
    fid, token = create_feed(srv, tandem)
    booking(srv, "consult", [at(3, 10)], 20)
    assert fetch(srv, token).status == 200

    def answer(r):
        return (r.status, r.body, r.headers["content-type"], r.headers["cache-control"],
                "etag" in r.headers, "last-modified" in r.headers)

    unknown = fetch(srv, secrets.token_urlsafe(32))
    assert answer(unknown) == (404, b"Not found.\n", "text/plain; charset=utf-8", "private, no-store",
                               False, False)
    for junk in ["abc", "A" * 42, "A" * 44, token[:-1] + "!", token.lower() if token.lower() != token else "x"]:
        assert answer(fetch(srv, urllib.parse.quote(junk, safe=""))) == answer(unknown), junk
    before = srv.sql("SELECT count(*) FROM feed_fetch")
    fetch(srv, secrets.token_urlsafe(32))
    assert srv.sql("SELECT count(*) FROM feed_fetch") == before  # nothing to record it against

    r = tandem(["feed", "revoke", str(fid)], srv.dsn, srv.port)
    assert r.returncode == 0
    revoked = fetch(srv, token)
    assert answer(revoked) == answer(unknown)
    # A revoked token's fetches are still recorded, as 404.
    assert statuses(srv, fid) == [200, 404]

    _, token2 = create_feed(srv, tandem)
    srv.sql("UPDATE clinician SET active = false")
    assert answer(fetch(srv, token2)) == answer(unknown)
    srv.sql("UPDATE clinician SET active = true")
    assert fetch(srv, token2).status == 200


# --------------------------------------------------------------------------
# the audit and the rate limit


def test_feed_audit_rows(fresh_server, tandem):
    srv = fresh_server
    fid, token = create_feed(srv, tandem)
    r = fetch(srv, token, headers={"User-Agent": "ICSx5/1.14 (Android)"})
    etag = r.headers["etag"]
    fetch(srv, token, headers={"User-Agent": "x" * 300, "If-None-Match": etag})
    fetch(srv, token, headers={"User-Agent": "Cal\u00e9ndar\u00ff/2"})  # latin-1 octets
    srv.raw(f"GET {path_of(token)} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    rows = feed_rows(srv, fid)
    assert rows == [
        ("200", "127.0.0.1", "ICSx5/1.14 (Android)"),
        ("304", "127.0.0.1", "x" * 200),
        ("200", "127.0.0.1", "Cal?ndar?/2"),
        ("200", "127.0.0.1", ""),
    ]
    # last_fetch_at is the newest row's time; rows are in time order.
    assert srv.sql("SELECT t.last_fetch_at = (SELECT max(at) FROM feed_fetch WHERE token_id = t.id),"
                   " (SELECT bool_and(at <= now()) FROM feed_fetch) FROM feed_token t WHERE t.id = :'p1'",
                   fid) == [("t", "t")]
    ats = srv.sql("SELECT at FROM feed_fetch WHERE token_id = :'p1' ORDER BY id", fid)
    assert ats == sorted(ats)
    # Append-only.
    for sql in ["UPDATE feed_fetch SET status = 200", "DELETE FROM feed_fetch"]:
        with pytest.raises(AssertionError, match="append-only"):
            srv.sql(sql)
    r = tandem(["feed", "list", "--clinician", DEMO], srv.dsn, srv.port)
    assert r.stdout.splitlines()[1].split("\t")[6] == "4"


def test_feed_rate_limit(server_factory, tandem):
    srv = server_factory(env={"TANDEM_FEED_RATE_LIMIT": "3", "TANDEM_FEED_RATE_WINDOW_S": "4"})
    fid, token = create_feed(srv, tandem)
    _, other = create_feed(srv, tandem)
    got = []
    for _ in range(5):
        got.append(fetch(srv, token))
        if len(got) == 4:
            t4 = time.monotonic()  # Retry-After counts from here at the latest
    assert [r.status for r in got] == [200, 200, 200, 429, 429]
    for r in got[3:]:
        assert r.headers["content-type"] == "text/plain; charset=utf-8"
        assert 1 <= int(r.headers["retry-after"]) <= 4, r.headers
        assert "etag" not in r.headers
    # Per token: another feed is served meanwhile.
    assert fetch(srv, other).status == 200
    assert statuses(srv, fid) == [200, 200, 200, 429, 429]
    # Refused fetches do not count: once the first ones leave the window
    # the token is served again.
    wait = int(got[3].headers["retry-after"])
    time.sleep(max(0.0, t4 + wait + 0.2 - time.monotonic()))
    assert fetch(srv, token).status == 200
    # A revoked token's fetches are recorded while under the limit, then
    # not; the answer is 404 either way.
    tandem(["feed", "revoke", str(fid)], srv.dsn, srv.port)
    time.sleep(4.2)
    assert [fetch(srv, token).status for _ in range(5)] == [404] * 5
    assert statuses(srv, fid) == [200, 200, 200, 429, 429, 200, 404, 404, 404]


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_feed_rate_limit_holds_across_two_server_processes(server_factory, tandem, helpers, tmp_path):
    env = {"TANDEM_FEED_RATE_LIMIT": "6", "TANDEM_FEED_RATE_WINDOW_S": "3600"}
    srv = server_factory(env=env)
    fid, token = create_feed(srv, tandem)
    booking(srv, "consult", [at(3, 10)], 20)
    port = _free_port()
    log = tmp_path / "second.stderr"
    with open(log, "wb") as err:
        second = subprocess.Popen([str(helpers.tandem_bin()), "serve"], cwd=helpers.repo,
                                  env=helpers.tandem_env(srv.dsn, port, env), stdin=subprocess.DEVNULL,
                                  stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    base2 = f"http://127.0.0.1:{port}"
    try:
        from http.client import HTTPConnection

        def get(base, path):
            u = urllib.parse.urlsplit(base)
            c = HTTPConnection(u.hostname, u.port, timeout=30)
            try:
                c.request("GET", path)
                r = c.getresponse()
                r.read()
                return r.status
            finally:
                c.close()

        helpers.wait_until(lambda: get(base2, "/healthz") == 200, 10, what="the second server")
        bases = [srv.base, base2] * 12
        with concurrent.futures.ThreadPoolExecutor(24) as pool:
            codes = list(pool.map(lambda b: get(b, path_of(token)), bases))
        assert sorted(codes) == [200] * 6 + [429] * 18, codes
        assert sorted(statuses(srv, fid)) == [200] * 6 + [429] * 18
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=10) == 0
    text = log.read_text(errors="replace")
    assert not helpers.sanitizer_reports(text), text[-2000:]
    assert token not in text


# --------------------------------------------------------------------------
# secrets


def test_feed_token_is_never_logged_nor_stored(fresh_server, tandem):
    srv = fresh_server
    _, token = create_feed(srv, tandem)
    booking(srv, "consult", [at(3, 10)], 20)
    assert fetch(srv, token).status == 200
    assert fetch(srv, token + "x").status == 404
    srv.raw(f"GET {path_of(token)}?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    log = srv.log()
    assert "GET /feeds/{token}.ics 200" in log
    assert token not in log and token[:20] not in log
    dump = subprocess.run([PG_DUMP, "--no-owner", "-d", srv.dsn], capture_output=True, text=True,
                          errors="replace", timeout=60)
    assert dump.returncode == 0, dump.stderr
    assert token not in dump.stdout
    assert hashlib.sha256(token.encode()).hexdigest() in dump.stdout


# --------------------------------------------------------------------------
# a large feed (the bench seed)


def test_feed_of_5000_bookings(fresh_server, tandem, helpers):
    srv = fresh_server
    _, token = create_feed(srv, tandem)
    r = subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-v", "n=5000", "-d", srv.dsn, "-f", SEED],
                       cwd=helpers.repo, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert srv.sql("SELECT count(*), count(DISTINCT reference) FROM booking") == [("5000", "5000")]
    r = fetch(srv, token)
    assert r.status == 200
    text = r.text
    assert text.count("BEGIN:VEVENT\r\n") == 5000
    by_status = {s: text.count(f"\r\nSTATUS:{s}\r\n") for s in ("CONFIRMED", "TENTATIVE", "CANCELLED")}
    assert by_status == {"CONFIRMED": 4000, "TENTATIVE": 500, "CANCELLED": 500}
    cal, events = parse(r.body)
    assert len(events) == 5000
    want = srv.sql("SELECT 'd1-' || ical_uid, extract(epoch FROM starts_at)::bigint FROM booking")
    assert {u: int(s) for u, s in want} == {u: int(e["start"].timestamp()) for u, e in events.items()}
    assert fetch(srv, token, headers={"If-None-Match": r.headers["etag"]}).status == 304
