"""Issue 3: offerings, the availability engine, booking, holds, the manage
link, and the HTML booking pages.

Every test talks HTTP to the real server on a throwaway database (see
conftest.py) and asserts exact statuses, bodies and rows. Dates are chosen
relative to today in the practice's zone (America/Chicago), so the tests
hold on any day; expected availability comes from an independent model of
the demo data (weekly hours, notice, horizon, grid, weekdays, buffers).

Servers: `server` (one per module) only ever answers reads and rejected
requests, so its availability stays that of the untouched demo data; every
test that books gets a server of its own.
"""

import concurrent.futures
import hashlib
import html.parser
import json
import re
import secrets
import subprocess
import threading
import time
import urllib.parse
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from tandem_http import assert_json_error, media_type

CHI = ZoneInfo("America/Chicago")
UTC = timezone.utc
PG_DUMP = "/usr/lib/postgresql/15/bin/pg_dump"

REFERENCE_RE = re.compile(r"^TND-[2-9A-HJ-NP-Z]{4,8}$")
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{22,}$")  # >= 128 bits, URL-safe

# The demo data (tandem seed-demo), as the model below sees it.
HOURS = {wd: (9 * 60, 17 * 60) for wd in (1, 2, 3, 4)}  # ISO weekday: (open, close) minutes
HOURS[5] = (9 * 60, 13 * 60)
OFFERINGS = {
    "consult": dict(
        kind="consult", days=1, duration=20, interval=30, buffer_before=0, buffer_after=10,
        notice=1440, horizon=60, weekdays={1, 2, 3, 4, 5}, status="confirmed",
    ),
    "intensive-2day": dict(
        kind="intensive", days=2, day_start=9 * 60, day_end=16 * 60, buffer_before=0, buffer_after=0,
        notice=10080, horizon=180, weekdays={1, 2, 3, 4}, status="held", rest=2, cap_month=3,
        hold_minutes=10080,
    ),
    "intensive-3day": dict(
        kind="intensive", days=3, day_start=9 * 60, day_end=16 * 60, buffer_before=0, buffer_after=0,
        notice=10080, horizon=180, weekdays={1, 2, 3}, status="held", rest=2, cap_month=2,
        hold_minutes=10080,
    ),
    "checkin": dict(
        kind="session", days=1, duration=50, interval=60, buffer_before=0, buffer_after=10,
        notice=1440, horizon=90, weekdays={1, 2, 3, 4, 5}, status="confirmed",
    ),
}

RACE_N = 50
RACE_TIMEOUT = 60.0  # seconds for each racing request and for the whole race


# --------------------------------------------------------------------------
# time helpers


def now_chi():
    return datetime.now(CHI)


def today_chi():
    return now_chi().date()


def local(d, minute_of_day):
    """The aware datetime of local minute `minute_of_day` on date d (Chicago)."""
    return datetime(d.year, d.month, d.day, minute_of_day // 60, minute_of_day % 60, tzinfo=CHI)


def exists_locally(dt):
    """False for wall-clock times inside a spring-forward gap."""
    back = dt.astimezone(UTC).astimezone(CHI)
    return back.replace(tzinfo=None) == dt.replace(tzinfo=None)


def iso(dt):
    """RFC 3339 with the Chicago offset, as the server writes it."""
    return dt.astimezone(CHI).isoformat()


def parse_ts(text):
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    assert dt.tzinfo is not None, f"no offset in {text!r}"
    return dt


def on_or_after(d, iso_weekday):
    return d + timedelta(days=(iso_weekday - d.isoweekday()) % 7)


def first_monday(min_days_ahead):
    """The first Monday at least min_days_ahead days after today whose 09:00
    exists (never in a DST gap: Chicago switches at 02:00 on Sundays)."""
    d = on_or_after(today_chi() + timedelta(days=min_days_ahead), 1)
    while not exists_locally(local(d, 9 * 60)):
        d += timedelta(days=7)
    return d


def weekday_ahead(min_days_ahead, iso_weekday):
    return on_or_after(today_chi() + timedelta(days=min_days_ahead), iso_weekday)


def month_key(d):
    return f"{d.year:04d}-{d.month:02d}"


def epoch(dt):
    return int(dt.timestamp())


# --------------------------------------------------------------------------
# the model of availability for the untouched demo data


def _open(d, start_min, end_min):
    hours = HOURS.get(d.isoweekday())
    return hours is not None and hours[0] <= start_min and end_min <= hours[1]


def model_slots(slug, now, d_from, d_to):
    """Expected [(start, end, [(bstart, bend), ...])] as RFC 3339 strings for
    the demo data with no bookings, overrides or external busy time."""
    o = OFFERINGS[slug]
    today = now.astimezone(CHI).date()
    earliest = now + timedelta(minutes=o["notice"])
    d = max(d_from, today)
    last = min(d_to, today + timedelta(days=o["horizon"]))
    out = []
    while d <= last:
        if d.isoweekday() in o["weekdays"]:
            if o["kind"] == "intensive":
                blocks = []
                for i in range(o["days"]):
                    day = d + timedelta(days=i)
                    s, e = local(day, o["day_start"]), local(day, o["day_end"])
                    if not (_open(day, o["day_start"], o["day_end"]) and exists_locally(s) and exists_locally(e)):
                        break
                    blocks.append((iso(s), iso(e)))
                if len(blocks) == o["days"] and local(d, o["day_start"]) >= earliest:
                    out.append((blocks[0][0], blocks[-1][1], blocks))
            else:
                for m in range(0, 1440 - o["duration"] + 1, o["interval"]):
                    if not _open(d, m, m + o["duration"]):
                        continue
                    s = local(d, m)
                    e = s + timedelta(minutes=o["duration"])
                    if not exists_locally(s) or s < earliest:
                        continue
                    out.append((iso(s), iso(e), [(iso(s), iso(e))]))
        d += timedelta(days=1)
    return out


def as_tuples(slots):
    return [(s["start"], s["end"], [(b["start"], b["end"]) for b in s["blocks"]]) for s in slots]


def starts_of(slots):
    return [s["start"] for s in slots]


# --------------------------------------------------------------------------
# HTTP helpers




def assert_invalid(resp, fields):
    """422 invalid naming exactly these fields, each with a message."""
    err = assert_json_error(resp, 422, "invalid")
    assert set(err["fields"]) == set(fields), err
    for k in fields:
        assert isinstance(err["fields"][k], str) and err["fields"][k].strip(), err
    return err


def availability(srv, slug, d_from=None, d_to=None):
    q = {"offering": slug}
    if d_from is not None:
        q["from"] = str(d_from)
    if d_to is not None:
        q["to"] = str(d_to)
    return srv.get("/api/v1/availability?" + urllib.parse.urlencode(q))


def slots(srv, slug, d_from, d_to):
    r = availability(srv, slug, d_from, d_to)
    assert r.status == 200, r.body[:500]
    assert media_type(r) == "application/json"
    doc = r.json()
    assert doc["offering"] == slug and doc["timezone"] == "America/Chicago", doc
    return doc["slots"]


def day_starts(srv, slug, d):
    return starts_of(slots(srv, slug, d, d))


def people(tag=None):
    """Two partners with unique, recognisable names and emails."""
    tag = tag or secrets.token_hex(4)
    return [
        {"name": f"Avery Quill{tag}", "email": f"avery.{tag}@example.com"},
        {"name": f"Jordan Quill{tag}", "email": f"jordan.{tag}@example.org"},
    ]


def booking_body(slug, start, clients=None, **extra):
    body = {"offering": slug, "start": start, "clients": clients or people(), "consent": True}
    body.update(extra)
    return body


def book(srv, slug, start, clients=None, key=None, timeout=10.0, **extra):
    headers = {"Idempotency-Key": key} if key else {}
    return srv.request(
        "POST", "/api/v1/bookings", headers=headers, body=booking_body(slug, start, clients, **extra),
        timeout=timeout,
    )


def book_ok(srv, slug, start, **kw):
    r = book(srv, slug, start, **kw)
    assert r.status == 201, f"booking {slug} at {start}: {r.status} {r.body[:500]!r}"
    return r.json()


def token_of(doc, srv):
    prefix = srv.base + "/b/"
    assert doc["manage_url"].startswith(prefix), doc
    token = doc["manage_url"][len(prefix):]
    assert TOKEN_RE.match(token), doc
    return token


def booking_row(srv, booking_id):
    rows = srv.sql(
        "SELECT status, extract(epoch FROM starts_at)::bigint, extract(epoch FROM ends_at)::bigint,"
        " coalesce(extract(epoch FROM hold_expires_at)::bigint::text, ''), reference, ical_sequence,"
        " coalesce(client_timezone, '') FROM booking WHERE id = :'p1'",
        booking_id,
    )
    assert len(rows) == 1, rows
    st, s, e, hold, ref, seq, ctz = rows[0]
    return dict(status=st, starts_at=int(s), ends_at=int(e), hold=int(hold) if hold else None,
                reference=ref, sequence=int(seq), client_timezone=ctz)


def blocks_rows(srv, booking_id):
    """[(day_index, start, end, blocked_lower, blocked_upper, active)] epochs."""
    rows = srv.sql(
        "SELECT day_index, extract(epoch FROM starts_at)::bigint, extract(epoch FROM ends_at)::bigint,"
        " extract(epoch FROM lower(blocked))::bigint, extract(epoch FROM upper(blocked))::bigint, active"
        " FROM booking_block WHERE booking_id = :'p1' ORDER BY day_index",
        booking_id,
    )
    return [(int(a), int(b), int(c), int(d), int(e), f == "t") for a, b, c, d, e, f in rows]


def events(srv, booking_id):
    return srv.sql(
        "SELECT actor, coalesce(from_status, ''), to_status, reason FROM booking_event"
        " WHERE booking_id = :'p1' ORDER BY id",
        booking_id,
    )


def count(srv, table):
    return int(srv.sql(f"SELECT count(*) FROM {table}")[0][0])


def assert_reason_sealed(srv, booking_id, reason):
    """A cancel reason (a person's words) is recorded, but not readable in
    the database."""
    rows = srv.sql(
        "SELECT note_enc IS NOT NULL, position(convert_to(:'p2', 'UTF8') IN coalesce(note_enc, '')),"
        " position(:'p2' IN reason || detail::text) FROM booking_event"
        " WHERE booking_id = :'p1' AND to_status = 'cancelled'",
        booking_id, reason,
    )
    assert rows == [("t", "0", "0")], rows


def overlapping_active_blocks(srv):
    return srv.sql(
        "SELECT a.booking_id, b.booking_id, a.blocked::text, b.blocked::text"
        " FROM booking_block a JOIN booking_block b"
        "   ON a.clinician_id = b.clinician_id AND a.id < b.id AND a.blocked && b.blocked"
        " WHERE a.active AND b.active"
    )


# --------------------------------------------------------------------------
# a small HTML tree, enough to find elements by tag, class and attribute

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent=None):
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    def text(self):
        out = []
        for c in self.children:
            out.append(c if isinstance(c, str) else c.text())
        return "".join(out)

    def classes(self):
        return (self.attrs.get("class") or "").split()

    def iter(self):
        for c in self.children:
            if isinstance(c, Node):
                yield c
                yield from c.iter()

    def find_all(self, tag=None, cls=None, **attrs):
        out = []
        for n in self.iter():
            if tag and n.tag != tag:
                continue
            if cls and cls not in n.classes():
                continue
            if any(n.attrs.get(k.replace("_", "-")) != v for k, v in attrs.items()):
                continue
            out.append(n)
        return out

    def find(self, tag=None, cls=None, **attrs):
        found = self.find_all(tag, cls, **attrs)
        return found[0] if found else None


class _Builder(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, {k: (v if v is not None else "") for k, v in attrs}, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_startendtag(self, tag, attrs):
        self.cur.children.append(Node(tag, {k: (v if v is not None else "") for k, v in attrs}, self.cur))

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def parse_html(text):
    b = _Builder()
    b.feed(text)
    b.close()
    return b.root


def html_page(resp, status=200):
    assert resp.status == status, f"expected {status}, got {resp.status}: {resp.body[:500]!r}"
    assert media_type(resp) == "text/html", resp.headers
    return parse_html(resp.text)


def calendar_links(doc):
    """{day number: href} of the available days in the page's table.month."""
    tables = doc.find_all("table", cls="month")
    assert len(tables) == 1, "expected exactly one table.month"
    out = {}
    for td in tables[0].find_all("td"):
        a = td.find("a")
        if a is not None:
            out[int(a.text().strip())] = a.attrs["href"]
    return out


def query_of(href):
    return urllib.parse.parse_qs(urllib.parse.urlsplit(href).query)


def form_values(doc):
    """{input name: value} of the inputs of the first form."""
    form = doc.find("form")
    assert form is not None, "no form"
    out = {}
    for i in form.find_all("input"):
        if "name" in i.attrs:
            out[i.attrs["name"]] = i.attrs.get("value", "")
    for s in form.find_all("select"):
        chosen = [o.attrs.get("value") for o in s.find_all("option") if "selected" in o.attrs]
        out[s.attrs["name"]] = chosen[0] if chosen else None
    return out


def field_errors(doc):
    """[(id or None, text)] of every p.field-error."""
    return [(p.attrs.get("id"), " ".join(p.text().split())) for p in doc.find_all("p", cls="field-error")]


def form_post(srv, path, fields):
    body = urllib.parse.urlencode(fields)
    return srv.request(
        "POST", path, headers={"Content-Type": "application/x-www-form-urlencoded"}, body=body
    )


def form_fields(start, clients=None, consent=True, **extra):
    clients = clients or people()
    f = {"start": start, "client_timezone": ""}
    for i, c in enumerate(clients):
        f[f"c{i}_name"] = c["name"]
        f[f"c{i}_email"] = c["email"]
        f[f"c{i}_phone"] = c.get("phone", "")
        f[f"c{i}_safe_contact"] = c.get("safe_contact", "email")
    if consent:
        f["consent"] = "yes"
    f.update(extra)
    return f


def location_token(resp, srv, suffix):
    assert resp.status == 303, f"expected 303, got {resp.status}: {resp.body[:500]!r}"
    loc = resp.headers.get("location", "")
    path = loc[len(srv.base):] if loc.startswith(srv.base) else loc
    m = re.fullmatch(r"/b/([A-Za-z0-9_-]{22,})" + re.escape(suffix), path)
    assert m, f"unexpected Location {loc!r}"
    return m.group(1)


# --------------------------------------------------------------------------
# racing requests


def race_report(srv, results):
    """A summary for failure messages: status counts, odd answers, log lines
    that are not plain access-log lines of 201/409."""
    counts = {}
    for _, r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    odd = [r.body[:200] for _, r in results if r.status not in (201, 409)][:3]
    lines = [l for l in srv.log().splitlines()
             if "config " not in l and not re.search(r" (201|409|200) \d+ [\d.]+ms$", l)][-15:]
    pg = [l[:300] for l in srv.cluster.log().splitlines()
          if srv.dbname in l or "deadlock" in l or "Process " in l][-12:]
    return (f"statuses {counts}; odd bodies {odd}; server log:\n" + "\n".join(lines)
            + "\nPostgreSQL log:\n" + "\n".join(pg))


def race(srv, bodies, headers=None):
    """POST every body to /api/v1/bookings at once (one thread each, released
    together by a barrier). Returns [(body, Response)] in input order."""
    barrier = threading.Barrier(len(bodies), timeout=RACE_TIMEOUT)

    def one(body):
        barrier.wait()
        return srv.request("POST", "/api/v1/bookings", headers=headers or {}, body=body, timeout=RACE_TIMEOUT)

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        futures = [pool.submit(one, b) for b in bodies]
        done, pending = concurrent.futures.wait(futures, timeout=RACE_TIMEOUT * 2)
        assert not pending, f"{len(pending)} racing requests did not finish in time"
        return [(b, f.result()) for b, f in zip(bodies, futures)]


# ==========================================================================
# offerings


def test_offerings_api_lists_demo_offerings(server):
    r = server.get("/api/v1/offerings")
    assert r.status == 200
    assert media_type(r) == "application/json"
    doc = r.json()
    assert set(doc) == {"offerings"}
    rows = server.sql(
        "SELECT slug, name, kind, days, duration_minutes, price_cents, deposit_cents, currency,"
        " requires_approval, description FROM offering ORDER BY sort_order, id"
    )
    expected = [
        {
            "slug": s, "name": n, "kind": k, "days": int(d), "duration_minutes": int(m),
            "price_cents": int(p), "deposit_cents": int(dep), "currency": c,
            "requires_approval": a == "t", "description": desc,
        }
        for s, n, k, d, m, p, dep, c, a, desc in rows
    ]
    assert doc["offerings"] == expected
    by_slug = {o["slug"]: o for o in doc["offerings"]}
    assert [o["slug"] for o in doc["offerings"]] == ["consult", "intensive-2day", "intensive-3day", "checkin"]
    assert by_slug["consult"]["price_cents"] == 0 and by_slug["consult"]["duration_minutes"] == 20
    assert by_slug["consult"]["requires_approval"] is False
    assert by_slug["intensive-2day"]["days"] == 2 and by_slug["intensive-2day"]["requires_approval"] is True
    assert by_slug["intensive-3day"]["days"] == 3
    assert by_slug["checkin"]["price_cents"] == 17500 and by_slug["checkin"]["duration_minutes"] == 50


def test_inactive_offering_is_not_listed_nor_bookable(fresh_server):
    srv = fresh_server
    srv.sql("UPDATE offering SET active = false WHERE slug = 'checkin'")
    doc = srv.get("/api/v1/offerings").json()
    assert [o["slug"] for o in doc["offerings"]] == ["consult", "intensive-2day", "intensive-3day"]
    assert_json_error(availability(srv, "checkin"), 404, "not_found")
    d = weekday_ahead(3, 2)
    r = book(srv, "checkin", iso(local(d, 10 * 60)))
    assert r.status in (404, 422), r.body[:300]  # which of the two: test_booking_unknown_offering_is_404
    assert count(srv, "booking") == 0


# ==========================================================================
# availability: the engine against the model of the demo data


def _check_against_model(srv, slug, d_from, d_to):
    before = now_chi()
    got = as_tuples(slots(srv, slug, d_from, d_to))
    after = now_chi()
    # A start may cross the notice boundary between the two instants.
    options = [model_slots(slug, before, d_from, d_to), model_slots(slug, after, d_from, d_to)]
    missing = [s[0] for s in options[0] if s not in got][:10]
    unexpected = [s[0] for s in got if s not in options[0]][:10]
    assert got in options, f"{slug} {d_from}..{d_to}: {len(got)} slots; missing {missing}, unexpected {unexpected}"
    return got


@pytest.mark.parametrize("slug", ["consult", "checkin", "intensive-2day", "intensive-3day"])
def test_availability_matches_demo_rules_over_the_whole_horizon(server, slug):
    """Weekly hours (Mon-Thu 09-17, Fri 09-13), notice, horizon, slot grid,
    start weekdays; intensives need every day of the block open (so no
    Thursday 2-day and no Wednesday 3-day start: Friday ends at 13:00), at
    the same local times across DST changes."""
    today = today_chi()
    horizon = OFFERINGS[slug]["horizon"]
    got = _check_against_model(server, slug, today, today + timedelta(days=horizon))
    assert got, "no availability at all"
    for start, end, blocks in got:
        assert start == blocks[0][0] and end == blocks[-1][1]
        s = parse_ts(start)
        assert s.utcoffset() == s.astimezone(CHI).utcoffset(), f"offset of {start} is not Chicago's"
        assert s > now_chi() + timedelta(minutes=OFFERINGS[slug]["notice"] - 1)
        assert s.date() <= today + timedelta(days=horizon)
    if OFFERINGS[slug]["kind"] == "intensive":
        weekdays = {parse_ts(s).isoweekday() for s, _, _ in got}
        assert weekdays == ({1, 2, 3} if slug == "intensive-2day" else {1, 2}), weekdays
        for _, _, blocks in got:
            days = [parse_ts(b[0]).date() for b in blocks]
            assert days == [days[0] + timedelta(days=i) for i in range(len(days))]
            assert all(parse_ts(b[0]).strftime("%H:%M") == "09:00" for b in blocks)
            assert all(parse_ts(b[1]).strftime("%H:%M") == "16:00" for b in blocks)


def test_availability_window_is_one_day_inclusive(server):
    d = weekday_ahead(3, 1)  # a Monday, well past the notice
    got = slots(server, "consult", d, d)
    assert starts_of(got) == [iso(local(d, m)) for m in range(9 * 60, 17 * 60 - 20 + 1, 30)]
    fri = weekday_ahead(3, 5)
    assert day_starts(server, "consult", fri) == [iso(local(fri, m)) for m in range(9 * 60, 13 * 60 - 20 + 1, 30)]
    sat = weekday_ahead(3, 6)
    assert slots(server, "consult", sat, sat + timedelta(days=1)) == []
    chk = day_starts(server, "checkin", d)
    assert chk == [iso(local(d, h * 60)) for h in range(9, 17)]
    assert day_starts(server, "checkin", fri) == [iso(local(fri, h * 60)) for h in range(9, 13)]


def test_availability_responses_arrive_whole(server):
    """Every window's body arrives in full, whatever its size (a body of
    32-64 KiB is as valid as a small or a huge one)."""
    today = today_chi()
    lost = []
    for days in range(0, 61, 4):
        path = "/api/v1/availability?" + urllib.parse.urlencode(
            {"offering": "consult", "from": str(today), "to": str(today + timedelta(days=days))})
        raw = server.raw(f"GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n".encode(), timeout=5)
        assert raw.status == 200, (days, raw.raw[:300])
        declared = int(raw.headers.get("content-length", "-1"))
        if len(raw.body) != declared:
            lost.append((days, declared, len(raw.body)))
            continue
        json.loads(raw.body)
    assert not lost, f"(window days, Content-Length, body bytes received): {lost}"


def test_availability_default_window(server):
    r = availability(server, "consult")
    assert r.status == 200, r.body[:300]
    got = r.json()["slots"]
    assert got
    today = today_chi()
    for s in got:
        assert today <= parse_ts(s["start"]).date() <= today + timedelta(days=60)


def test_availability_horizon_edge(server):
    today = today_chi()
    for slug in OFFERINGS:
        last = today + timedelta(days=OFFERINGS[slug]["horizon"])
        r = availability(server, slug, today, last)
        assert r.status == 200, (slug, r.body[:300])
        r = availability(server, slug, today, last + timedelta(days=1))
        assert_invalid(r, ["to"])


@pytest.mark.parametrize(
    "query,field",
    [
        ({"from": "+10", "to": "+5"}, "to"),
        ({"from": "+1", "to": "+61"}, "to"),
        ({"from": "2026-13-01", "to": "+5"}, "from"),
        ({"from": "+1", "to": "2027-02-30"}, "to"),
        ({"from": "tomorrow", "to": "+5"}, "from"),
        ({"from": "+1", "to": "12/31/2026"}, "to"),
        ({"from": "+1", "to": ""}, "to"),
    ],
    ids=["from-after-to", "beyond-horizon", "bad-month", "no-such-day", "word", "us-format", "empty"],
)
def test_availability_rejects_bad_windows(server, query, field):
    today = today_chi()

    def value(v):
        return str(today + timedelta(days=int(v[1:]))) if v.startswith("+") else v

    q = {"offering": "consult", **{k: value(v) for k, v in query.items()}}
    r = server.get("/api/v1/availability?" + urllib.parse.urlencode(q))
    assert_invalid(r, [field])


def test_availability_unknown_or_missing_offering(server):
    assert_json_error(availability(server, "no-such-offering"), 404, "not_found")
    today = today_chi()
    r = server.get(f"/api/v1/availability?from={today}&to={today + timedelta(days=3)}")
    assert_invalid(r, ["offering"])


# ==========================================================================
# booking: validation (the module server: nothing here may create a booking)


def _consult_start(srv, days_ahead=3):
    d = weekday_ahead(days_ahead, 2)  # a Tuesday
    got = day_starts(srv, "consult", d)
    assert iso(local(d, 10 * 60)) in got
    return iso(local(d, 10 * 60))


def _mutate(body, path, value):
    """Sets body[path] (dotted, with [i] indexes); value None deletes."""
    body = json.loads(json.dumps(body))
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    cur = body
    for p in parts[:-1]:
        cur = cur[int(p[1:-1])] if p.startswith("[") else cur[p]
    last = parts[-1]
    key = int(last[1:-1]) if last.startswith("[") else last
    if value is None:
        del cur[key]
    else:
        cur[key] = value
    return body


INVALID_CASES = {
    "bad-email-partner": ("clients[1].email", "jordan.example.org", ["clients[1].email"]),
    "bad-email-booker": ("clients[0].email", "avery@", ["clients[0].email"]),
    "email-two-ats": ("clients[0].email", "a@b@example.com", ["clients[0].email"]),
    "email-spaces": ("clients[1].email", "jo rdan@example.org", ["clients[1].email"]),
    "empty-email": ("clients[1].email", "", ["clients[1].email"]),
    "email-not-ascii": ("clients[1].email", "zoë@exämple.de", ["clients[1].email"]),
    "no-email": ("clients[1].email", None, ["clients[1].email"]),
    "empty-name": ("clients[0].name", "   ", ["clients[0].name"]),
    "no-name": ("clients[1].name", None, ["clients[1].name"]),
    "name-too-long": ("clients[0].name", "A" * 201, ["clients[0].name"]),
    "name-newline": ("clients[0].name", "Avery\nQuill", ["clients[0].name"]),
    "bad-phone": ("clients[0].phone", "call me maybe", ["clients[0].phone"]),
    "bad-safe-contact": ("clients[1].safe_contact", "pigeon", ["clients[1].safe_contact"]),
    "phone-contact-without-phone": ("clients[0].safe_contact", "phone", ["clients[0].safe_contact"]),
    "one-partner": ("clients", [{"name": "Avery Solo", "email": "avery.solo@example.com"}], ["clients"]),
    "three-people": (
        "clients",
        [{"name": f"P{i}", "email": f"p{i}@example.com"} for i in range(3)],
        ["clients"],
    ),
    "no-clients": ("clients", None, ["clients"]),
    "clients-not-a-list": ("clients", "Avery and Jordan", ["clients"]),
    "no-consent": ("consent", None, ["consent"]),
    "consent-false": ("consent", False, ["consent"]),
    "consent-string": ("consent", "yes", ["consent"]),
    "no-start": ("start", None, ["start"]),
    "start-not-a-time": ("start", "next tuesday", ["start"]),
    "start-without-offset": ("start", "@local", ["start"]),
    "bad-client-timezone": ("client_timezone", "Mars/Olympus_Mons", ["client_timezone"]),
    "no-offering": ("offering", None, ["offering"]),
}


@pytest.mark.parametrize("case", list(INVALID_CASES))
def test_booking_invalid_input_is_422_naming_the_field(server, case):
    path, value, fields = INVALID_CASES[case]
    start = _consult_start(server)
    body = booking_body("consult", start)
    if value == "@local":
        value = start[:19]  # the same wall-clock time without its offset
    body = _mutate(body, path, value)
    before = count(server, "booking")
    r = server.request("POST", "/api/v1/bookings", body=body)
    assert_invalid(r, fields)
    assert count(server, "booking") == before
    assert day_starts(server, "consult", parse_ts(start).date()).count(start) == 1


def test_booking_reports_every_invalid_field_at_once(server):
    start = _consult_start(server)
    body = booking_body("consult", start[:11] + "10:10:00" + start[19:])  # off the grid
    body["clients"][1]["email"] = "not-an-email"
    body["clients"][0]["name"] = ""
    body["consent"] = False
    r = server.request("POST", "/api/v1/bookings", body=body)
    assert_invalid(r, ["start", "clients[1].email", "clients[0].name", "consent"])


def _start_cases():
    """(id, slug, start) for starts that break the schedule's rules."""
    now = now_chi()
    today = today_chi()
    tue = weekday_ahead(3, 2)
    mon = first_monday(8)
    cases = [
        ("past", "consult", iso(local(today - timedelta(days=1), 10 * 60))),
        ("inside-notice", "consult", iso(now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=3))),
        ("beyond-horizon", "consult", iso(local(today + timedelta(days=61), 10 * 60))),
        ("off-grid-minutes", "consult", iso(local(tue, 10 * 60 + 10))),
        ("off-grid-seconds", "consult", iso(local(tue, 10 * 60) + timedelta(seconds=30))),
        ("checkin-off-grid", "checkin", iso(local(tue, 10 * 60 + 30))),
        ("consult-on-saturday", "consult", iso(local(weekday_ahead(3, 6), 10 * 60))),
        ("intensive-not-at-day-start", "intensive-2day", iso(local(mon, 10 * 60))),
        ("intensive-on-friday", "intensive-2day", iso(local(mon + timedelta(days=4), 9 * 60))),
        ("intensive-3day-on-thursday", "intensive-3day", iso(local(mon + timedelta(days=3), 9 * 60))),
        ("intensive-beyond-horizon", "intensive-2day", iso(local(on_or_after(today + timedelta(days=181), 1), 9 * 60))),
    ]
    # An intensive start (Mon-Wed 09:00) less than 7 days ahead.
    d = today + timedelta(days=1)
    while not (d.isoweekday() in (1, 2, 3) and local(d, 9 * 60) < now + timedelta(days=7)):
        d += timedelta(days=1)
    cases.append(("intensive-inside-notice", "intensive-2day", iso(local(d, 9 * 60))))
    return cases


@pytest.mark.parametrize("case", [c[0] for c in _start_cases()])
def test_booking_start_outside_the_schedule_is_422(server, case):
    _, slug, start = next(c for c in _start_cases() if c[0] == case)
    before = count(server, "booking")
    r = book(server, slug, start)
    assert_invalid(r, ["start"])
    assert count(server, "booking") == before


def test_booking_unknown_offering_is_404(server):
    """Issue 3, "Bad input": unknown offering -> 404 (for bookings as for
    availability)."""
    r = book(server, "no-such-offering", _consult_start(server))
    assert_json_error(r, 404, "not_found")


@pytest.mark.parametrize(
    "ctype,body,status,code",
    [
        ("application/json", b"{", 400, "malformed"),
        ("application/json", b"[1, 2]", 400, "malformed"),
        ("application/json", b'"text"', 400, "malformed"),
        ("text/plain", b"{}", 415, "unsupported_media_type"),
        ("application/x-www-form-urlencoded", b"offering=consult", 415, "unsupported_media_type"),
    ],
    ids=["truncated", "array", "string", "text-plain", "form"],
)
def test_booking_malformed_body(server, ctype, body, status, code):
    r = server.request("POST", "/api/v1/bookings", headers={"Content-Type": ctype}, body=body)
    assert_json_error(r, status, code)


def test_booking_idempotency_key_must_be_sane(server):
    start = _consult_start(server)
    before = count(server, "booking")
    for key in ("k" * 201, "caf\u00e9"):
        r = server.request("POST", "/api/v1/bookings", headers={"Idempotency-Key": key.encode().decode("latin-1")},
                           body=booking_body("consult", start))
        assert_invalid(r, ["Idempotency-Key"])
    assert count(server, "booking") == before


def test_thursday_two_day_start_is_unavailable(server):
    """Thursday is an allowed start weekday, but day 2 (Friday) closes at
    13:00: the start is on the schedule yet not available."""
    thu = first_monday(8) + timedelta(days=3)
    assert iso(local(thu, 9 * 60)) not in starts_of(slots(server, "intensive-2day", thu, thu))
    before = count(server, "booking")
    r = book(server, "intensive-2day", iso(local(thu, 9 * 60)))
    assert_json_error(r, 409, "slot_unavailable")
    assert count(server, "booking") == before


# ==========================================================================
# booking: success


def test_book_consult_is_confirmed(fresh_server):
    srv = fresh_server
    d = weekday_ahead(3, 2)
    start = local(d, 10 * 60)
    clients = people()
    clients[0]["phone"] = "+1 (312) 555-0199"
    clients[0]["safe_contact"] = "text"
    r = book(srv, "consult", iso(start), clients=clients, client_timezone="Europe/Berlin")
    assert r.status == 201, r.body[:500]
    assert media_type(r) == "application/json"
    doc = r.json()
    assert set(doc) == {"id", "reference", "status", "blocks", "manage_url", "ics_url", "intake_url"}, doc
    assert isinstance(doc["id"], int)
    assert REFERENCE_RE.match(doc["reference"]), doc
    assert doc["status"] == "confirmed"
    end = start + timedelta(minutes=20)
    assert doc["blocks"] == [{"start": iso(start), "end": iso(end)}]
    token = token_of(doc, srv)
    assert doc["ics_url"] == doc["manage_url"] + "/invite.ics"
    # The booker's own intake: the same capability at /intake/ (issue 6).
    assert doc["intake_url"] == doc["manage_url"].replace("/b/", "/intake/")

    row = booking_row(srv, doc["id"])
    assert row == dict(status="confirmed", starts_at=epoch(start), ends_at=epoch(end), hold=None,
                       reference=doc["reference"], sequence=0, client_timezone="Europe/Berlin")
    # Buffers widen the blocked range, not the appointment.
    assert blocks_rows(srv, doc["id"]) == [(0, epoch(start), epoch(end), epoch(start), epoch(end) + 600, True)]
    assert events(srv, doc["id"]) == [("client", "", "confirmed", "booked online")]
    clients_rows = srv.sql(
        "SELECT position, safe_contact, phone_enc IS NOT NULL, initials FROM booking_client"
        " WHERE booking_id = :'p1' ORDER BY position", doc["id"],
    )
    assert clients_rows == [("1", "text", "t", "AQ"), ("2", "email", "f", "JQ")]
    # The manage token is stored as its SHA-256 only.
    assert srv.sql("SELECT encode(manage_token_hash, 'hex') FROM booking WHERE id = :'p1'", doc["id"]) == [
        (hashlib.sha256(token.encode()).hexdigest(),)
    ]


def test_book_start_in_another_offset_is_the_same_instant(fresh_server):
    srv = fresh_server
    d = weekday_ahead(3, 3)
    start = local(d, 11 * 60)
    utc_text = start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    doc = book_ok(srv, "consult", utc_text)
    assert doc["blocks"] == [{"start": iso(start), "end": iso(start + timedelta(minutes=20))}]
    assert iso(start) not in day_starts(srv, "consult", d)


def test_book_checkin_is_confirmed(fresh_server):
    srv = fresh_server
    d = weekday_ahead(3, 4)
    start = local(d, 14 * 60)
    doc = book_ok(srv, "checkin", iso(start))
    assert doc["status"] == "confirmed"
    assert doc["blocks"] == [{"start": iso(start), "end": iso(start + timedelta(minutes=50))}]
    assert blocks_rows(srv, doc["id"]) == [
        (0, epoch(start), epoch(start) + 3000, epoch(start), epoch(start) + 3600, True)
    ]


@pytest.mark.parametrize("slug", ["intensive-2day", "intensive-3day"])
def test_book_intensive_is_held(fresh_server, slug):
    srv = fresh_server
    mon = first_monday(8)
    days = OFFERINGS[slug]["days"]
    avail = slots(srv, slug, mon, mon)
    assert starts_of(avail) == [iso(local(mon, 9 * 60))]
    t0 = int(time.time())
    doc = book_ok(srv, slug, iso(local(mon, 9 * 60)))
    t1 = int(time.time())
    assert doc["status"] == "held"
    expected_blocks = [
        {"start": iso(local(mon + timedelta(days=i), 9 * 60)), "end": iso(local(mon + timedelta(days=i), 16 * 60))}
        for i in range(days)
    ]
    assert doc["blocks"] == expected_blocks == avail[0]["blocks"]
    assert doc["intake_url"] == doc["manage_url"].replace("/b/", "/intake/")
    row = booking_row(srv, doc["id"])
    assert row["status"] == "held"
    assert row["starts_at"] == epoch(local(mon, 9 * 60))
    assert row["ends_at"] == epoch(local(mon + timedelta(days=days - 1), 16 * 60))
    hold = OFFERINGS[slug]["hold_minutes"] * 60
    assert t0 + hold - 2 <= row["hold"] <= t1 + hold + 2, (row, t0, t1)
    rows = blocks_rows(srv, doc["id"])
    assert rows == [
        (i, epoch(parse_ts(b["start"])), epoch(parse_ts(b["end"])), epoch(parse_ts(b["start"])),
         epoch(parse_ts(b["end"])), True)
        for i, b in enumerate(expected_blocks)
    ]
    assert events(srv, doc["id"]) == [("client", "", "held", "booked online")]


def test_both_partners_may_share_one_email(fresh_server):
    srv = fresh_server
    shared = f"together.{secrets.token_hex(3)}@example.com"
    clients = [{"name": "Avery Shared", "email": shared}, {"name": "Jordan Shared", "email": shared.upper()}]
    doc = book_ok(srv, "consult", _consult_start(srv), clients=clients)
    idx = srv.sql("SELECT email_index FROM booking_client WHERE booking_id = :'p1' ORDER BY position", doc["id"])
    assert len(idx) == 2 and idx[0] == idx[1], "the email index should ignore case"


def test_booked_slot_is_taken(fresh_server):
    srv = fresh_server
    start = _consult_start(srv)
    book_ok(srv, "consult", start)
    r = book(srv, "consult", start)
    assert_json_error(r, 409, "slot_unavailable")
    assert count(srv, "booking") == 1


# ==========================================================================
# bookings, buffers, rest days and caps take availability away


def test_consult_booking_frees_neighbours_on_the_30_minute_grid(fresh_server):
    srv = fresh_server
    d = weekday_ahead(3, 2)
    before = day_starts(srv, "consult", d)
    book_ok(srv, "consult", iso(local(d, 10 * 60)))
    after = day_starts(srv, "consult", d)
    # 10:00-10:20 plus 10 minutes after: 09:30 and 10:30 still fit exactly.
    assert after == [s for s in before if s != iso(local(d, 10 * 60))]
    assert iso(local(d, 9 * 60 + 30)) in after and iso(local(d, 10 * 60 + 30)) in after


def test_buffer_after_blocks_the_next_slot(fresh_server):
    """On a 10-minute grid, a 20-minute consult with 10 minutes after it
    keeps 10:20 (inside its buffer) and 09:40 (whose own buffer would run
    into it) free of new bookings."""
    srv = fresh_server
    srv.sql("UPDATE offering SET slot_interval_minutes = 10 WHERE slug = 'consult'")
    d = weekday_ahead(3, 3)
    before = day_starts(srv, "consult", d)
    assert before == [iso(local(d, m)) for m in range(9 * 60, 16 * 60 + 41, 10)]
    book_ok(srv, "consult", iso(local(d, 10 * 60)))
    gone = {iso(local(d, m)) for m in (9 * 60 + 40, 9 * 60 + 50, 10 * 60, 10 * 60 + 10, 10 * 60 + 20)}
    after = day_starts(srv, "consult", d)
    assert after == [s for s in before if s not in gone]
    assert iso(local(d, 9 * 60 + 30)) in after and iso(local(d, 10 * 60 + 30)) in after
    # And the server refuses them too.
    r = book(srv, "consult", iso(local(d, 10 * 60 + 20)))
    assert_json_error(r, 409, "slot_unavailable")
    r = book(srv, "consult", iso(local(d, 9 * 60 + 40)))
    assert_json_error(r, 409, "slot_unavailable")
    book_ok(srv, "consult", iso(local(d, 10 * 60 + 30)))
    assert count(srv, "booking") == 2


def test_checkin_buffer_blocks_consults(fresh_server):
    srv = fresh_server
    d = weekday_ahead(3, 4)
    before = day_starts(srv, "consult", d)
    book_ok(srv, "checkin", iso(local(d, 9 * 60)))  # 09:00-09:50, kept until 10:00
    after = day_starts(srv, "consult", d)
    assert after == [s for s in before if s not in (iso(local(d, 9 * 60)), iso(local(d, 9 * 60 + 30)))]
    assert after[0] == iso(local(d, 10 * 60))


def test_intensive_booking_takes_its_days_and_rest_days(fresh_server):
    srv = fresh_server
    mon = first_monday(15)
    lo, hi = mon - timedelta(days=7), mon + timedelta(days=13)
    base2 = starts_of(slots(srv, "intensive-2day", lo, hi))
    base3 = starts_of(slots(srv, "intensive-3day", lo, hi))
    weeks = (lo, mon, mon + timedelta(days=7))
    assert base2 == [iso(local(w + timedelta(days=i), 9 * 60)) for w in weeks for i in range(3)]
    doc = book_ok(srv, "intensive-2day", iso(local(mon, 9 * 60)))
    # Mon-Tue taken; two free days are needed on either side of it.
    gone2 = {iso(local(mon + timedelta(days=i), 9 * 60)) for i in range(3)}
    assert starts_of(slots(srv, "intensive-2day", lo, hi)) == [s for s in base2 if s not in gone2]
    gone3 = {iso(local(mon + timedelta(days=i), 9 * 60)) for i in range(2)}
    assert starts_of(slots(srv, "intensive-3day", lo, hi)) == [s for s in base3 if s not in gone3]
    # Consults on both days: only what ends (with its buffer) after 16:00.
    for i in range(2):
        d = mon + timedelta(days=i)
        if d <= today_chi() + timedelta(days=60):
            assert day_starts(srv, "consult", d) == [iso(local(d, 16 * 60)), iso(local(d, 16 * 60 + 30))]
    for s in gone2:
        assert_json_error(book(srv, "intensive-2day", s), 409, "slot_unavailable")
    assert count(srv, "booking") == 1
    assert doc["id"] == int(srv.sql("SELECT id FROM booking")[0][0])


@pytest.mark.parametrize("slug", ["intensive-2day", "intensive-3day"])
def test_intensive_cap_per_month(fresh_server, slug):
    srv = fresh_server
    cap = OFFERINGS[slug]["cap_month"]
    today = today_chi()
    first = date(today.year, today.month, 1)
    while first < today + timedelta(days=8):
        first = (first + timedelta(days=32)).replace(day=1)
    nxt = (first + timedelta(days=32)).replace(day=1)
    mondays = [on_or_after(first, 1) + timedelta(days=7 * i) for i in range(cap + 1)]
    assert all(m.month == first.month for m in mondays)
    in_month = starts_of(slots(srv, slug, first, nxt - timedelta(days=1)))
    assert all(iso(local(m, 9 * 60)) in in_month for m in mondays)
    for m in mondays[:cap]:
        book_ok(srv, slug, iso(local(m, 9 * 60)))
    assert slots(srv, slug, first, nxt - timedelta(days=1)) == [], "the month is at its cap"
    assert_json_error(book(srv, slug, iso(local(mondays[cap], 9 * 60))), 409, "slot_unavailable")
    nxt_mon = on_or_after(nxt, 1)
    if nxt_mon - mondays[cap - 1] <= timedelta(days=7):  # mind the rest days
        nxt_mon += timedelta(days=7)
    assert iso(local(nxt_mon, 9 * 60)) in day_starts(srv, slug, nxt_mon), "the next month is open"
    assert count(srv, "booking") == cap


# ==========================================================================
# overrides and per-offering weekly rules


def test_overrides_time_off_and_extra_hours(fresh_server):
    srv = fresh_server
    cid = srv.sql("SELECT id FROM clinician")[0][0]
    mon = first_monday(15)
    tue, wed, fri = mon + timedelta(days=1), mon + timedelta(days=2), mon + timedelta(days=4)
    base2 = starts_of(slots(srv, "intensive-2day", mon, mon + timedelta(days=6)))
    assert base2 == [iso(local(mon + timedelta(days=i), 9 * 60)) for i in range(3)]
    # A whole day off on Tuesday: no consults that day; no intensive that includes it.
    srv.sql("INSERT INTO availability_override (clinician_id, day, kind) VALUES (:'p1', :'p2', 'off')", cid, str(tue))
    assert starts_of(slots(srv, "intensive-2day", mon, mon + timedelta(days=6))) == [iso(local(wed, 9 * 60))]
    # Partial time off Wednesday 12:00-14:00: consults then are gone.
    srv.sql(
        "INSERT INTO availability_override (clinician_id, day, kind, starts, ends)"
        " VALUES (:'p1', :'p2', 'off', '12:00', '14:00')",
        cid, str(wed),
    )
    assert starts_of(slots(srv, "intensive-2day", mon, mon + timedelta(days=6))) == []
    if wed <= today_chi() + timedelta(days=60):
        assert day_starts(srv, "consult", tue) == []
        assert day_starts(srv, "consult", wed) == [
            iso(local(wed, m)) for m in range(9 * 60, 17 * 60 - 19, 30) if not (12 * 60 - 20 < m < 14 * 60)
        ]
    # Extra hours Friday 13:00-17:00 make Friday afternoon bookable.
    srv.sql(
        "INSERT INTO availability_override (clinician_id, day, kind, starts, ends)"
        " VALUES (:'p1', :'p2', 'extra', '13:00', '17:00')",
        cid, str(fri),
    )
    assert day_starts(srv, "checkin", fri) == [iso(local(fri, h * 60)) for h in range(9, 17)]
    # With Friday open all day, a Thursday 2-day start becomes possible.
    thu = mon + timedelta(days=3)
    assert starts_of(slots(srv, "intensive-2day", thu, thu)) == [iso(local(thu, 9 * 60))]


def test_weekly_rule_for_one_offering(fresh_server):
    srv = fresh_server
    cid = srv.sql("SELECT id FROM clinician")[0][0]
    oid = srv.sql("SELECT id FROM offering WHERE slug = 'checkin'")[0][0]
    srv.sql(
        "INSERT INTO availability_rule (clinician_id, weekday, starts, ends, offering_id)"
        " VALUES (:'p1', 5, '13:00', '17:00', :'p2')",
        cid, oid,
    )
    fri = weekday_ahead(3, 5)
    assert day_starts(srv, "checkin", fri) == [iso(local(fri, h * 60)) for h in range(9, 17)]
    assert day_starts(srv, "consult", fri) == [iso(local(fri, m)) for m in range(9 * 60, 13 * 60 - 19, 30)]


# ==========================================================================
# daylight-saving changes


def dst_change(kind, min_days=8, max_days=400):
    """The first local date >= today + min_days on which Chicago springs
    forward (kind "spring") or falls back ("fall")."""
    d = today_chi() + timedelta(days=min_days)
    for _ in range(max_days):
        a, b = local(d, 0).utcoffset(), local(d, 23 * 60).utcoffset()
        if a != b and (b > a) == (kind == "spring"):
            return d
        d += timedelta(days=1)
    raise AssertionError(f"no {kind} change within {max_days} days")


@pytest.mark.parametrize("kind", ["spring", "fall"])
def test_intensive_across_a_dst_change_keeps_local_hours(fresh_server, kind):
    """A two-day intensive over the night of a DST change runs 09:00-16:00
    local on both days: the UTC offsets differ, the wall clock does not."""
    srv = fresh_server
    change = dst_change(kind)  # a Sunday in Chicago
    sat = change - timedelta(days=1)
    cid = srv.sql("SELECT id FROM clinician")[0][0]
    srv.sql("UPDATE offering SET start_weekdays = 127, horizon_days = 400 WHERE slug = 'intensive-2day'")
    for d in (sat, change):
        srv.sql(
            "INSERT INTO availability_override (clinician_id, day, kind, starts, ends)"
            " VALUES (:'p1', :'p2', 'extra', '09:00', '17:00')", cid, str(d),
        )
    got = slots(srv, "intensive-2day", sat, change)
    expected = [
        {
            "start": iso(local(first, 9 * 60)),
            "end": iso(local(first + timedelta(days=1), 16 * 60)),
            "blocks": [
                {"start": iso(local(first + timedelta(days=i), 9 * 60)),
                 "end": iso(local(first + timedelta(days=i), 16 * 60))}
                for i in range(2)
            ],
        }
        for first in (sat, change)
    ]
    assert got == expected
    offsets = {got[0]["blocks"][0]["start"][-6:], got[0]["blocks"][1]["start"][-6:]}
    assert len(offsets) == 2, f"the two days should have different offsets: {got[0]}"
    doc = book_ok(srv, "intensive-2day", expected[0]["start"])
    assert doc["blocks"] == expected[0]["blocks"]
    rows = blocks_rows(srv, doc["id"])
    assert [(r[2] - r[1]) for r in rows] == [7 * 3600, 7 * 3600]
    assert rows[1][1] - rows[0][1] == 86400 + (-3600 if kind == "spring" else 3600)


def test_spring_forward_gap_is_never_offered(fresh_server):
    srv = fresh_server
    change = dst_change("spring", min_days=2)
    cid = srv.sql("SELECT id FROM clinician")[0][0]
    srv.sql("UPDATE offering SET start_weekdays = 127, horizon_days = 400 WHERE slug = 'consult'")
    srv.sql(
        "INSERT INTO availability_override (clinician_id, day, kind, starts, ends)"
        " VALUES (:'p1', :'p2', 'extra', '01:00', '04:00')", cid, str(change),
    )
    got = day_starts(srv, "consult", change)
    expected = [iso(local(change, m)) for m in (60, 90, 180, 210)]  # 01:00, 01:30, 03:00, 03:30
    assert got == expected, "02:00-02:59 does not exist that night"
    for s in got:
        dt = parse_ts(s)
        assert exists_locally(dt.astimezone(CHI))
    assert [parse_ts(x).utcoffset() for x in got] == [timedelta(hours=-6)] * 2 + [timedelta(hours=-5)] * 2
    doc = book_ok(srv, "consult", iso(local(change, 180)))
    assert doc["blocks"] == [{"start": iso(local(change, 180)), "end": iso(local(change, 200))}]


# ==========================================================================
# external calendars


def _add_source(srv, fresh=True, freshness=360):
    cid = srv.sql("SELECT id FROM clinician")[0][0]
    when = "now()" if fresh else "now() - interval '7 hours'"
    sid = srv.sql(
        # A subscription (uploads never go stale); its sealed URL is a stand-in.
        "INSERT INTO calendar_source (clinician_id, name, kind, url_enc, freshness_minutes, last_success_at)"
        f" VALUES (:'p1', 'Personal', 'url', '\\x01', :'p2', {when}) RETURNING id",
        cid, freshness,
    )[0][0]
    return cid, sid


def _add_busy(srv, cid, sid, start, end):
    srv.sql(
        "INSERT INTO busy_interval (source_id, clinician_id, during) VALUES (:'p1', :'p2', tstzrange(:'p3', :'p4'))",
        sid, cid, start.isoformat(), end.isoformat(),
    )


def test_external_busy_time_blocks_availability(fresh_server):
    srv = fresh_server
    mon = first_monday(8)
    tue, wed = mon + timedelta(days=1), mon + timedelta(days=2)
    week = lambda slug: starts_of(slots(srv, slug, mon, mon + timedelta(days=6)))  # noqa: E731
    assert week("intensive-2day") == [iso(local(mon + timedelta(days=i), 9 * 60)) for i in range(3)]
    consult_wed_before = day_starts(srv, "consult", wed) if wed <= today_chi() + timedelta(days=60) else None
    cid, sid = _add_source(srv)
    # Tuesday, all day (local midnight to midnight).
    _add_busy(srv, cid, sid, local(tue, 0), local(wed, 0))
    assert week("intensive-2day") == [iso(local(wed, 9 * 60))]
    assert week("intensive-3day") == []
    assert_json_error(book(srv, "intensive-2day", iso(local(mon, 9 * 60))), 409, "slot_unavailable")
    # Wednesday 10:00-11:00: consults that would touch it are gone.
    _add_busy(srv, cid, sid, local(wed, 10 * 60), local(wed, 11 * 60))
    assert week("intensive-2day") == []
    if consult_wed_before is not None:
        assert day_starts(srv, "consult", tue) == []
        gone = {iso(local(wed, 10 * 60)), iso(local(wed, 10 * 60 + 30))}
        after = day_starts(srv, "consult", wed)
        assert after == [s for s in consult_wed_before if s not in gone]
        assert iso(local(wed, 9 * 60 + 30)) in after and iso(local(wed, 11 * 60)) in after
        assert_json_error(book(srv, "consult", iso(local(wed, 10 * 60 + 30))), 409, "slot_unavailable")
    assert count(srv, "booking") == 0


def test_stale_external_calendar_fails_closed(fresh_server):
    srv = fresh_server
    today = today_chi()
    # Windows clear of the notice boundary, so they do not change as time passes.
    windows = {
        slug: (today + timedelta(days=2), today + timedelta(days=16)) if o["notice"] <= 1440
        else (today + timedelta(days=8), today + timedelta(days=40))
        for slug, o in OFFERINGS.items()
    }
    before = {slug: slots(srv, slug, *w) for slug, w in windows.items()}
    assert all(before.values())
    cid, sid = _add_source(srv, fresh=True)
    srv.sql("UPDATE calendar_source SET last_success_at = now() - interval '5 hours' WHERE id = :'p1'", sid)
    assert {slug: slots(srv, slug, *w) for slug, w in windows.items()} == before, "5 h old is still fresh"
    srv.sql("UPDATE calendar_source SET last_success_at = now() - interval '7 hours' WHERE id = :'p1'", sid)
    for slug, w in windows.items():
        assert slots(srv, slug, *w) == [], f"{slug}: a stale calendar must offer nothing"
    start = before["consult"][0]["start"]
    assert_json_error(book(srv, "consult", start), 409, "slot_unavailable")
    mon_start = before["intensive-2day"][0]["start"]
    assert_json_error(book(srv, "intensive-2day", mon_start), 409, "slot_unavailable")
    assert count(srv, "booking") == 0
    # The offering page offers no date either.
    doc = html_page(srv.get(f"/offerings/consult?month={month_key(parse_ts(start).date())}"))
    assert calendar_links(doc) == {}
    # A successful refresh opens it again.
    srv.sql("UPDATE calendar_source SET last_success_at = now() WHERE id = :'p1'", sid)
    assert {slug: slots(srv, slug, *w) for slug, w in windows.items()} == before


# ==========================================================================
# idempotency


def test_idempotency_key_replays_the_first_answer(fresh_server):
    srv = fresh_server
    start = _consult_start(srv)
    clients = people()
    key = "retry-" + secrets.token_hex(8)
    first = book(srv, "consult", start, clients=clients, key=key)
    assert first.status == 201, first.body[:500]
    again = book(srv, "consult", start, clients=clients, key=key)
    assert again.status == 201, again.body[:500]
    assert again.json() == first.json()
    # The same JSON written differently is the same request.
    body = booking_body("consult", start, clients)
    text = json.dumps(dict(reversed(list(body.items()))), indent=2)
    third = srv.request("POST", "/api/v1/bookings", headers={"Idempotency-Key": key,
                        "Content-Type": "application/json"}, body=text)
    assert third.status == 201 and third.json() == first.json(), third.body[:500]
    assert count(srv, "booking") == 1
    # Another body under the same key is refused and books nothing.
    other = people()
    r = book(srv, "consult", start, clients=other, key=key)
    assert_invalid(r, ["Idempotency-Key"])
    d = parse_ts(start).date()
    other_start = iso(local(d, 11 * 60))
    r = book(srv, "consult", other_start, clients=clients, key=key)
    assert_invalid(r, ["Idempotency-Key"])
    assert count(srv, "booking") == 1
    assert other_start in day_starts(srv, "consult", d)
    # Without the key the same body is a new request: the time is taken.
    assert_json_error(book(srv, "consult", start, clients=clients), 409, "slot_unavailable")
    # A new key is a new booking.
    book_ok(srv, "consult", other_start, clients=clients, key="another-" + secrets.token_hex(4))
    assert count(srv, "booking") == 2


def test_idempotency_key_under_concurrent_retries(fresh_server):
    srv = fresh_server
    start = _consult_start(srv)
    body = booking_body("consult", start)
    key = "burst-" + secrets.token_hex(8)
    results = race(srv, [body] * 20, headers={"Idempotency-Key": key})
    statuses = [r.status for _, r in results]
    assert statuses == [201] * 20, race_report(srv, results)
    docs = [r.json() for _, r in results]
    assert all(d == docs[0] for d in docs)
    assert count(srv, "booking") == 1


# ==========================================================================
# the manage link: API


def test_manage_cancel_frees_the_time(fresh_server):
    srv = fresh_server
    d = weekday_ahead(3, 2)
    start = iso(local(d, 10 * 60))
    doc = book_ok(srv, "consult", start)
    token = token_of(doc, srv)
    assert start not in day_starts(srv, "consult", d)
    # A body must be JSON.
    r = srv.request("POST", f"/api/v1/manage/{token}/cancel", headers={"Content-Type": "text/plain"}, body="now")
    assert_json_error(r, 415, "unsupported_media_type")
    assert booking_row(srv, doc["id"])["status"] == "confirmed"
    r = srv.request("POST", f"/api/v1/manage/{token}/cancel")
    assert r.status == 200, r.body[:500]
    assert media_type(r) == "application/json"
    got = r.json()
    assert {"id", "reference", "status", "blocks", "sequence"} <= set(got), got
    assert got["id"] == doc["id"] and got["reference"] == doc["reference"]
    assert got["status"] == "cancelled"
    assert got["blocks"] == doc["blocks"]
    assert got["sequence"] == 1
    row = booking_row(srv, doc["id"])
    assert row["status"] == "cancelled" and row["sequence"] == 1 and row["hold"] is None
    assert [b[5] for b in blocks_rows(srv, doc["id"])] == [False]
    assert events(srv, doc["id"])[-1] == ("client", "confirmed", "cancelled", "cancelled by client")
    assert start in day_starts(srv, "consult", d)
    # Once cancelled, it stays cancelled.
    err = assert_json_error(srv.request("POST", f"/api/v1/manage/{token}/cancel"), 409, "conflict")
    assert "cancelled" in err["message"]
    assert_json_error(
        srv.request("POST", f"/api/v1/manage/{token}/reschedule", body={"start": iso(local(d, 11 * 60))}),
        409, "conflict",
    )
    # Someone else can book the time now.
    book_ok(srv, "consult", start)


def test_manage_cancel_with_a_reason(fresh_server):
    srv = fresh_server
    mon = first_monday(16)  # outside the 14-day window of intensives
    doc = book_ok(srv, "intensive-2day", iso(local(mon, 9 * 60)))
    token = token_of(doc, srv)
    reason = "We found a date closer to home"
    r = srv.request("POST", f"/api/v1/manage/{token}/cancel", body={"reason": reason})
    assert r.status == 200, r.body[:500]
    assert r.json()["status"] == "cancelled"
    row = booking_row(srv, doc["id"])
    assert row["status"] == "cancelled" and row["hold"] is None
    # The change is recorded; the person's own words are kept, sealed.
    assert events(srv, doc["id"])[-1] == ("client", "held", "cancelled", "cancelled by client")
    assert_reason_sealed(srv, doc["id"], reason)
    assert_invalid(srv.request("POST", f"/api/v1/manage/{token}/cancel", body={"reason": 42}), ["reason"])
    assert iso(local(mon, 9 * 60)) in day_starts(srv, "intensive-2day", mon)


def test_manage_reschedule_moves_the_booking(fresh_server):
    srv = fresh_server
    mon = first_monday(16)
    nxt = mon + timedelta(days=7)
    doc = book_ok(srv, "intensive-2day", iso(local(mon, 9 * 60)))
    token = token_of(doc, srv)
    assert iso(local(nxt, 9 * 60)) in day_starts(srv, "intensive-2day", nxt)
    r = srv.request("POST", f"/api/v1/manage/{token}/reschedule", body={"start": iso(local(nxt, 9 * 60))})
    assert r.status == 200, r.body[:500]
    got = r.json()
    assert got["id"] == doc["id"] and got["reference"] == doc["reference"]
    assert got["status"] == "held"
    assert got["blocks"] == [
        {"start": iso(local(nxt + timedelta(days=i), 9 * 60)), "end": iso(local(nxt + timedelta(days=i), 16 * 60))}
        for i in range(2)
    ]
    assert got["sequence"] == 1
    row = booking_row(srv, doc["id"])
    assert row["starts_at"] == epoch(local(nxt, 9 * 60))
    assert row["ends_at"] == epoch(local(nxt + timedelta(days=1), 16 * 60))
    assert row["sequence"] == 1 and row["status"] == "held"
    assert [(b[0], b[1], b[5]) for b in blocks_rows(srv, doc["id"])] == [
        (i, epoch(local(nxt + timedelta(days=i), 9 * 60)), True) for i in range(2)
    ]
    assert events(srv, doc["id"])[-1] == ("client", "held", "held", "rescheduled by client")
    assert iso(local(mon, 9 * 60)) in day_starts(srv, "intensive-2day", mon)
    assert day_starts(srv, "intensive-2day", nxt) == []
    # Once more: the sequence keeps counting.
    tue = mon + timedelta(days=1)
    r = srv.request("POST", f"/api/v1/manage/{token}/reschedule", body={"start": iso(local(tue, 9 * 60))})
    assert r.status == 200, r.body[:500]
    assert r.json()["sequence"] == 2
    assert count(srv, "booking") == 1
    assert overlapping_active_blocks(srv) == []


def test_manage_reschedule_refusals(fresh_server):
    srv = fresh_server
    d = weekday_ahead(3, 2)
    a = book_ok(srv, "consult", iso(local(d, 10 * 60)))
    b = book_ok(srv, "consult", iso(local(d, 11 * 60)))
    token = token_of(a, srv)
    path = f"/api/v1/manage/{token}/reschedule"
    # Onto another booking.
    assert_json_error(srv.request("POST", path, body={"start": iso(local(d, 11 * 60))}), 409, "slot_unavailable")
    # Off the grid, too soon, not a time, missing.
    assert_invalid(srv.request("POST", path, body={"start": iso(local(d, 10 * 60 + 15))}), ["start"])
    soon = (now_chi() + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    assert_invalid(srv.request("POST", path, body={"start": iso(soon)}), ["start"])
    assert_invalid(srv.request("POST", path, body={"start": "later"}), ["start"])
    assert_invalid(srv.request("POST", path, body={}), ["start"])
    assert_json_error(
        srv.request("POST", path, headers={"Content-Type": "application/json"}, body=b"{"), 400, "malformed"
    )
    for bid, m in ((a["id"], 10 * 60), (b["id"], 11 * 60)):
        row = booking_row(srv, bid)
        assert row["starts_at"] == epoch(local(d, m)) and row["sequence"] == 0 and row["status"] == "confirmed"
        assert [x[5] for x in blocks_rows(srv, bid)] == [True]
    # Into its own buffer: moving 10:00 -> 10:30 is fine (it no longer blocks itself).
    r = srv.request("POST", path, body={"start": iso(local(d, 10 * 60 + 30))})
    assert r.status == 200, r.body[:500]
    assert r.json()["blocks"] == [{"start": iso(local(d, 10 * 60 + 30)), "end": iso(local(d, 10 * 60 + 50))}]
    assert iso(local(d, 10 * 60)) in day_starts(srv, "consult", d)


@pytest.mark.parametrize("slug", ["consult", "checkin"])
def test_manage_reschedule_confirmed_booking(fresh_server, slug):
    srv = fresh_server
    d = weekday_ahead(3, 2)
    doc = book_ok(srv, slug, iso(local(d, 10 * 60)))
    assert doc["status"] == "confirmed"
    token = token_of(doc, srv)
    new = local(d + timedelta(days=1), 14 * 60)
    r = srv.request("POST", f"/api/v1/manage/{token}/reschedule", body={"start": iso(new)})
    assert r.status == 200, r.body[:500]
    got = r.json()
    dur = 20 if slug == "consult" else 50
    assert got["status"] == "confirmed" and got["sequence"] == 1
    assert got["blocks"] == [{"start": iso(new), "end": iso(new + timedelta(minutes=dur))}]
    row = booking_row(srv, doc["id"])
    assert row["status"] == "confirmed" and row["hold"] is None and row["starts_at"] == epoch(new)
    assert iso(local(d, 10 * 60)) in day_starts(srv, slug, d)
    assert iso(new) not in day_starts(srv, slug, new.date())


def test_manage_changes_close_inside_the_cancellation_window(fresh_server):
    srv = fresh_server
    d = weekday_ahead(3, 2)
    doc = book_ok(srv, "consult", iso(local(d, 10 * 60)))
    token = token_of(doc, srv)
    srv.sql("UPDATE offering SET cancel_window_hours = 8760 WHERE slug = 'consult'")
    err = assert_json_error(srv.request("POST", f"/api/v1/manage/{token}/cancel"), 409, "conflict")
    assert "contact the practice" in err["message"].lower(), err
    err = assert_json_error(
        srv.request("POST", f"/api/v1/manage/{token}/reschedule", body={"start": iso(local(d, 11 * 60))}),
        409, "conflict",
    )
    assert "contact the practice" in err["message"].lower(), err
    # The page says so too, and offers no cancel button.
    page = html_page(srv.get(f"/b/{token}"))
    assert "contact the practice" in " ".join(page.text().split()).lower()
    assert page.find("form", action=f"/b/{token}/cancel") is None
    r = form_post(srv, f"/b/{token}/cancel", {"reason": ""})
    page = html_page(r, 409)
    assert "contact the practice" in " ".join(page.text().split()).lower()
    r = form_post(srv, f"/b/{token}/reschedule", {"start": iso(local(d, 11 * 60))})
    page = html_page(r, 409)
    assert "contact the practice" in " ".join(page.text().split()).lower()
    row = booking_row(srv, doc["id"])
    assert row["status"] == "confirmed" and row["sequence"] == 0
    assert row["starts_at"] == epoch(local(d, 10 * 60))
    assert [b[5] for b in blocks_rows(srv, doc["id"])] == [True]
    assert events(srv, doc["id"]) == [("client", "", "confirmed", "booked online")]


def test_manage_unknown_token(server):
    fake = secrets.token_urlsafe(16)
    for path in (f"/api/v1/manage/{fake}/cancel", "/api/v1/manage/x/cancel"):
        assert_json_error(server.request("POST", path), 404, "not_found")
    assert_json_error(
        server.request("POST", f"/api/v1/manage/{fake}/reschedule", body={"start": _consult_start(server)}),
        404, "not_found",
    )
    for path in (f"/b/{fake}", "/b/x", f"/b/{fake}/reschedule"):
        page = html_page(server.get(path), 404)
        assert "Link not valid" in page.text(), path
    r = form_post(server, f"/b/{fake}/cancel", {"reason": ""})
    assert "Link not valid" in html_page(r, 404).text()


# ==========================================================================
# the manage link: HTML


def test_manage_page_shows_the_booking(fresh_server):
    srv = fresh_server
    mon = first_monday(16)
    doc = book_ok(srv, "intensive-2day", iso(local(mon, 9 * 60)))
    token = token_of(doc, srv)
    r = srv.get(f"/b/{token}")
    page = html_page(r)
    assert r.headers.get("cache-control") == "no-store"
    assert r.headers.get("referrer-policy") == "no-referrer"
    assert page.find(cls="reference").text().strip() == doc["reference"]
    status = page.find(cls="status")
    assert status.attrs.get("data-status") == "held"
    text = " ".join(page.text().split())
    for i in range(2):
        assert (mon + timedelta(days=i)).strftime("%B") in text
    assert page.find("form", action=f"/b/{token}/cancel") is not None
    assert page.find("a", href=f"/b/{token}/reschedule") is not None
    assert page.find(cls="success") is None
    assert html_page(srv.get(f"/b/{token}?created=1")).find(cls="success") is not None


def test_manage_html_cancel(fresh_server):
    srv = fresh_server
    d = weekday_ahead(3, 3)
    start = iso(local(d, 13 * 60))
    doc = book_ok(srv, "consult", start)
    token = token_of(doc, srv)
    r = form_post(srv, f"/b/{token}/cancel", {"reason": "Schedule clash"})
    assert location_token(r, srv, "?changed=1") == token
    assert booking_row(srv, doc["id"])["status"] == "cancelled"
    assert events(srv, doc["id"])[-1] == ("client", "confirmed", "cancelled", "cancelled by client")
    assert_reason_sealed(srv, doc["id"], "Schedule clash")
    page = html_page(srv.get(f"/b/{token}?changed=1"))
    assert page.find(cls="status").attrs.get("data-status") == "cancelled"
    assert page.find("form", action=f"/b/{token}/cancel") is None
    assert start in day_starts(srv, "consult", d)


def test_manage_html_reschedule_intensive(fresh_server):
    srv = fresh_server
    mon = first_monday(16)
    doc = book_ok(srv, "intensive-2day", iso(local(mon, 9 * 60)))
    token = token_of(doc, srv)
    target = mon + timedelta(days=7)
    page = html_page(srv.get(f"/b/{token}/reschedule?month={month_key(target)}"))
    links = calendar_links(page)
    assert target.day in links, links
    href = links[target.day]
    assert urllib.parse.urlsplit(href).path == f"/b/{token}/reschedule"
    assert query_of(href)["start"] == [iso(local(target, 9 * 60))]
    # Following the link asks to confirm, with a form that posts the start.
    page = html_page(srv.get(href))
    form = page.find("form", action=f"/b/{token}/reschedule")
    assert form is not None
    assert form_values(page)["start"] == iso(local(target, 9 * 60))
    r = form_post(srv, f"/b/{token}/reschedule", {"start": iso(local(target, 9 * 60))})
    assert location_token(r, srv, "?changed=1") == token
    row = booking_row(srv, doc["id"])
    assert row["starts_at"] == epoch(local(target, 9 * 60)) and row["sequence"] == 1
    # A start that is not offered: 409 page with the message, nothing moves.
    r = form_post(srv, f"/b/{token}/reschedule", {"start": iso(local(target + timedelta(days=3), 9 * 60))})
    assert r.status == 409, r.body[:300]
    r = form_post(srv, f"/b/{token}/reschedule", {"start": "soon"})
    page = html_page(r, 422)
    assert page.find(cls="problem") is not None
    assert booking_row(srv, doc["id"])["starts_at"] == epoch(local(target, 9 * 60))


def test_manage_html_reschedule_consult(fresh_server):
    srv = fresh_server
    d = weekday_ahead(3, 2)
    doc = book_ok(srv, "consult", iso(local(d, 10 * 60)))
    token = token_of(doc, srv)
    new_day = d + timedelta(days=1)
    page = html_page(srv.get(f"/b/{token}/reschedule?month={month_key(new_day)}&date={new_day}"))
    times = page.find(id="times")
    assert times is not None
    hrefs = [a.attrs["href"] for a in times.find_all("a")]
    starts = [query_of(h)["start"][0] for h in hrefs]
    assert starts == day_starts(srv, "consult", new_day)
    assert all(urllib.parse.urlsplit(h).path == f"/b/{token}/reschedule" for h in hrefs)
    r = form_post(srv, f"/b/{token}/reschedule", {"start": iso(local(new_day, 14 * 60))})
    assert location_token(r, srv, "?changed=1") == token
    assert booking_row(srv, doc["id"])["starts_at"] == epoch(local(new_day, 14 * 60))
    assert iso(local(d, 10 * 60)) in day_starts(srv, "consult", d)


# ==========================================================================
# holds lapse


def test_lapsed_hold_frees_the_dates(server_factory, helpers):
    srv = server_factory(env={"TANDEM_JOBS_INTERVAL_S": "1"})
    mon = first_monday(8)
    later = mon + timedelta(days=14)
    lapsing = book_ok(srv, "intensive-2day", iso(local(mon, 9 * 60)))
    keeping = book_ok(srv, "intensive-2day", iso(local(later, 9 * 60)))
    confirmed = book_ok(srv, "consult", _consult_start(srv))
    assert day_starts(srv, "intensive-2day", mon) == []
    srv.sql("UPDATE booking SET hold_expires_at = now() - interval '1 minute' WHERE id = :'p1'", lapsing["id"])
    helpers.wait_until(
        lambda: booking_row(srv, lapsing["id"])["status"] == "cancelled",
        timeout=10.0, interval=0.2, what="the lapsed hold to be cancelled",
    )
    row = booking_row(srv, lapsing["id"])
    assert row["hold"] is None and row["sequence"] == 1
    assert events(srv, lapsing["id"]) == [
        ("client", "", "held", "booked online"), ("system", "held", "cancelled", "hold lapsed"),
    ]
    assert [b[5] for b in blocks_rows(srv, lapsing["id"])] == [False, False]
    assert day_starts(srv, "intensive-2day", mon) == [iso(local(mon, 9 * 60))]
    # The others are untouched.
    time.sleep(1.5)
    assert booking_row(srv, keeping["id"])["status"] == "held"
    assert booking_row(srv, confirmed["id"])["status"] == "confirmed"
    assert len(events(srv, keeping["id"])) == 1
    page = html_page(srv.get(f"/b/{token_of(lapsing, srv)}"))
    assert page.find(cls="status").attrs.get("data-status") == "cancelled"


def test_holds_lapse_once_with_two_server_processes(server_factory, helpers):
    """Two servers on one database both run the hold-expiry job: every
    lapsed hold is cancelled exactly once."""
    srv = server_factory(env={"TANDEM_JOBS_INTERVAL_S": "1"})
    # A second process on the same database (the Server class of the fixture).
    other = type(srv)(srv.cluster, srv.dbname, srv.stderr_path.parent / "second",
                      env={"TANDEM_JOBS_INTERVAL_S": "1"})
    other.start()
    try:
        mon = first_monday(8)
        ids = []
        for k, slug in enumerate(["intensive-2day", "intensive-3day", "intensive-2day"]):
            ids.append(book_ok(srv if k % 2 else other, slug, iso(local(mon + timedelta(days=14 * k), 9 * 60)))["id"])
        srv.sql("UPDATE booking SET hold_expires_at = now() - interval '1 second' WHERE status = 'held'")
        helpers.wait_until(
            lambda: srv.sql("SELECT count(*) FROM booking WHERE status = 'held'") == [("0",)],
            timeout=10.0, interval=0.2, what="every lapsed hold to be cancelled",
        )
        time.sleep(2.5)  # both job loops have run again meanwhile
        for bid in ids:
            assert events(srv, bid) == [
                ("client", "", "held", "booked online"), ("system", "held", "cancelled", "hold lapsed"),
            ]
            assert booking_row(srv, bid)["sequence"] == 1
        assert other.alive() and srv.alive()
    finally:
        other.stop(check=True)


# ==========================================================================
# HTML: offering pages and the booking form


def test_offering_page_month_calendar_intensive(server):
    today = today_chi()
    avail = slots(server, "intensive-2day", today, today + timedelta(days=180))
    first = parse_ts(avail[0]["start"]).date()
    m1 = date(first.year, first.month, 1)
    for month_first in (m1, (m1 + timedelta(days=32)).replace(day=1)):
        mk = month_key(month_first)
        page = html_page(server.get(f"/offerings/intensive-2day?month={mk}"))
        links = calendar_links(page)
        expected = {parse_ts(s["start"]).day: s["start"] for s in avail if month_key(parse_ts(s["start"]).date()) == mk}
        assert set(links) == set(expected), (mk, sorted(links), sorted(expected))
        for day, href in links.items():
            assert urllib.parse.urlsplit(href).path == "/offerings/intensive-2day/book"
            assert query_of(href)["start"] == [expected[day]]
        # Navigation to the next month is a plain link.
        nxt = page.find("a", rel="next")
        assert nxt is not None
        nm = (month_first + timedelta(days=32)).replace(day=1)
        assert query_of(nxt.attrs["href"])["month"] == [month_key(nm)]


def test_offering_page_consult_dates_and_times(server):
    d = weekday_ahead(3, 2)
    mk = month_key(d)
    page = html_page(server.get(f"/offerings/consult?month={mk}"))
    links = calendar_links(page)
    mfirst = date(d.year, d.month, 1)
    mlast = (mfirst + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    today = today_chi()
    avail = slots(server, "consult", max(mfirst, today), min(mlast, today + timedelta(days=60)))
    days = sorted({parse_ts(s["start"]).day for s in avail})
    assert sorted(links) == days
    href = links[d.day]
    q = query_of(href)
    assert q["month"] == [mk] and q["date"] == [str(d)]
    page = html_page(server.get(href.split("#")[0]))
    times = page.find(id="times")
    assert times is not None, "no times for the chosen date"
    hrefs = [a.attrs["href"] for a in times.find_all("a")]
    assert [query_of(h)["start"][0] for h in hrefs] == day_starts(server, "consult", d)
    assert all(urllib.parse.urlsplit(h).path == "/offerings/consult/book" for h in hrefs)


def test_offering_page_unknown_is_404(server):
    assert server.get("/offerings/no-such-offering").status == 404
    assert server.get("/offerings/no-such-offering/book?start=2030-01-01T09:00:00-06:00").status == 404
    r = form_post(server, "/offerings/no-such-offering/book", form_fields(_consult_start(server)))
    assert r.status == 404


def test_booking_form_page(server):
    start = _consult_start(server)
    page = html_page(server.get("/offerings/consult/book?" + urllib.parse.urlencode({"start": start})))
    form = page.find("form")
    assert form.attrs.get("method", "").lower() == "post"
    assert form.attrs.get("action") == "/offerings/consult/book"
    values = form_values(page)
    for name in ("start", "c0_name", "c0_email", "c0_phone", "c0_safe_contact", "c1_name", "c1_email",
                 "c1_phone", "c1_safe_contact", "consent", "client_timezone"):
        assert name in values, name
    assert values["start"] == start
    assert values["c0_name"] == "" and values["c1_email"] == ""


def test_html_booking_creates_and_redirects(fresh_server):
    srv = fresh_server
    mon = first_monday(8)
    start = iso(local(mon, 9 * 60))
    clients = people()
    fields = form_fields(start, clients, client_timezone="America/New_York")
    r = form_post(srv, "/offerings/intensive-2day/book", fields)
    token = location_token(r, srv, "?created=1")
    rows = srv.sql("SELECT id, status, coalesce(client_timezone, '') FROM booking")
    assert len(rows) == 1 and rows[0][1:] == ("held", "America/New_York"), rows
    bid = rows[0][0]
    assert len(blocks_rows(srv, bid)) == 2
    page = html_page(srv.get(f"/b/{token}?created=1"))
    assert page.find(cls="success") is not None
    ref = booking_row(srv, bid)["reference"]
    assert page.find(cls="reference").text().strip() == ref
    assert page.find(cls="status").attrs.get("data-status") == "held"
    text = " ".join(page.text().split())
    assert "Your time:" in text and re.search(r"\bE[SD]T\b", text), "the booker's own zone is not shown"
    assert "America/Chicago" in text or re.search(r"\bC[SD]T\b", text), "the practice's zone is not shown"
    manage = page.find("a", cls="manage-link")
    assert manage is not None and manage.attrs["href"] == f"{srv.base}/b/{token}"


def test_confirmation_page_has_add_to_calendar_link(fresh_server):
    """Issue 3, "Public pages": the confirmation page shows an "add to
    calendar" link (the booking's invite.ics, as ics_url in the API)."""
    srv = fresh_server
    doc = book_ok(srv, "consult", _consult_start(srv))
    token = token_of(doc, srv)
    page = html_page(srv.get(f"/b/{token}?created=1"))
    hrefs = [a.attrs.get("href", "") for a in page.find_all("a")]
    assert any(h in (doc["ics_url"], f"/b/{token}/invite.ics") for h in hrefs), hrefs


def test_html_booking_errors_keep_what_was_typed(fresh_server):
    srv = fresh_server
    start = _consult_start(srv)
    clients = people()
    clients[0]["name"] = '<b>Avery "A" & Co</b>'
    clients[1]["email"] = "jordan@@example"
    clients[1]["phone"] = "555 0100"
    clients[1]["safe_contact"] = "text"
    fields = form_fields(start, clients, consent=False)
    r = form_post(srv, "/offerings/consult/book", fields)
    assert r.status == 422, r.body[:500]
    # Typed text comes back escaped, never as markup.
    assert "<b>Avery" not in r.text
    assert 'value="&lt;b&gt;Avery &quot;A&quot; &amp; Co&lt;/b&gt;"' in r.text
    page = html_page(r, 422)
    values = form_values(page)
    assert values["c0_name"] == clients[0]["name"]
    assert values["c0_email"] == clients[0]["email"]
    assert values["c1_email"] == "jordan@@example"
    assert values["c1_phone"] == "555 0100"
    assert values["c1_safe_contact"] == "text"
    assert values["start"] == start
    assert "checked" not in page.find("input", name="consent").attrs
    errors = field_errors(page)
    # Exactly the two messages, each next to its field, and nothing else shown as an error.
    assert [i for i, _ in errors] == ["c1_email-error", "consent-error"], f"field errors shown: {errors}"
    assert all(t for _, t in errors)
    email_input = page.find("input", name="c1_email")
    assert email_input.attrs.get("aria-invalid") == "true"
    assert email_input.attrs.get("aria-describedby") == "c1_email-error"
    # The message sits next to its field: in the same .field block.
    assert email_input.parent.find("p", cls="field-error", id="c1_email-error") is not None
    assert count(srv, "booking") == 0
    # Corrected, it goes through.
    fields.update({"c1_email": "jordan.fixed@example.org", "consent": "yes"})
    r = form_post(srv, "/offerings/consult/book", fields)
    location_token(r, srv, "?created=1")
    assert count(srv, "booking") == 1


def test_html_booking_bad_start_is_shown(fresh_server):
    srv = fresh_server
    d = weekday_ahead(3, 2)
    r = form_post(srv, "/offerings/consult/book", form_fields(iso(local(d, 10 * 60 + 10))))
    page = html_page(r, 422)
    texts = [t for _, t in field_errors(page)]
    assert any("start" in t.lower() for t in texts), texts
    assert count(srv, "booking") == 0


def test_html_booking_conflict_lists_nearest_free_dates(fresh_server):
    srv = fresh_server
    mon = first_monday(8)
    start = iso(local(mon, 9 * 60))
    book_ok(srv, "intensive-2day", start)
    r = form_post(srv, "/offerings/intensive-2day/book", form_fields(start))
    page = html_page(r, 409)
    links = [a.attrs["href"] for a in page.find_all("a") if "/book?" in a.attrs.get("href", "")]
    assert links, "no nearest free dates offered"
    free = set(starts_of(slots(srv, "intensive-2day", mon, mon + timedelta(days=90))))
    offered = [query_of(h)["start"][0] for h in links]
    assert all(urllib.parse.urlsplit(h).path == "/offerings/intensive-2day/book" for h in links)
    assert start not in offered
    assert set(offered) <= free, (offered, sorted(free)[:5])
    assert offered == sorted(offered, key=lambda s: parse_ts(s))
    assert offered[0] == min(free, key=lambda s: parse_ts(s))
    assert count(srv, "booking") == 1


# ==========================================================================
# privacy


def test_client_details_are_not_stored_in_plaintext(fresh_server):
    srv = fresh_server
    tag = secrets.token_hex(5)
    name0, name1 = f"Zephyrine Marchbank{tag}", f"Octavius Pemberly{tag}"
    email0, email1 = f"zephyrine.{tag}@example.net", f"octavius.{tag}@example.net"
    phone = f"+1 312 555 {tag[:4].translate(str.maketrans('abcdef', '123456'))}"
    clients = [{"name": name0, "email": email0, "phone": phone}, {"name": name1, "email": email1}]
    doc = book_ok(srv, "consult", _consult_start(srv), clients=clients, key=secrets.token_hex(12))
    token = token_of(doc, srv)
    r = form_post(
        srv, "/offerings/intensive-2day/book",
        form_fields(iso(local(first_monday(8), 9 * 60)),
                    [{"name": name1, "email": email1}, {"name": name0, "email": email0}]),
    )
    token2 = location_token(r, srv, "?created=1")
    reason = f"Quarrel about Marchbank{tag} money"
    r = srv.request("POST", f"/api/v1/manage/{token}/cancel", body={"reason": reason})
    assert r.status == 200, r.body[:300]
    dump = subprocess.run(
        [PG_DUMP, "--no-owner", "-d", srv.dsn], capture_output=True, text=True, errors="replace", timeout=60
    )
    assert dump.returncode == 0, dump.stderr
    text = dump.stdout
    assert "booking_client" in text and "COPY public.booking_client" in text
    assert doc["reference"] in text  # the dump is of the right database
    for secret in (name0, name1, email0, email1, phone, token, token2, reason):
        assert secret not in text, f"{secret!r} in the database dump"
        assert secret.lower() not in text.lower(), f"{secret!r} (any case) in the database dump"
        hexed = secret.encode().hex()
        assert hexed not in text.lower(), f"{secret!r} stored as bytes in the database dump"
    assert hashlib.sha256(token.encode()).hexdigest() in text
    # Every planted value carries the random tag: no part of any of them
    # (a surname alone, an email's local part) may be stored in the clear.
    assert tag not in text.lower(), "a fragment of a client's details is in the database dump"
    assert tag.encode().hex() not in text.lower(), "a fragment of a client's details is stored as bytes"


def test_log_holds_no_client_details_or_tokens(fresh_server):
    srv = fresh_server
    tag = secrets.token_hex(5)
    clients = [{"name": f"Philippa Logtest{tag}", "email": f"philippa.{tag}@example.net"},
               {"name": f"Rupert Logtest{tag}", "email": f"rupert.{tag}@example.net"}]
    doc = book_ok(srv, "consult", _consult_start(srv), clients=clients)
    token = token_of(doc, srv)
    srv.get(f"/b/{token}")
    srv.get(f"/b/{token}/reschedule")
    srv.request("POST", f"/api/v1/manage/{token}/cancel")
    time.sleep(0.3)
    log = srv.log()
    for secret in (clients[0]["name"], clients[0]["email"], clients[1]["name"], clients[1]["email"], token):
        assert secret not in log, f"{secret!r} in the server log"


# ==========================================================================
# races


RACE_ROUNDS = 3  # races per test: contention bugs are timing-dependent


@pytest.mark.parametrize("slug", ["intensive-2day", "consult"])
def test_race_same_start_has_one_winner(fresh_server, slug):
    """RACE_N requests for one start at once, in RACE_ROUNDS rounds (each
    for another start): each round has exactly one 201 and RACE_N - 1
    409 slot_unavailable, and each 201 is exactly one booking."""
    srv = fresh_server
    if slug == "consult":
        d = weekday_ahead(3, 2)
        starts = [iso(local(d + timedelta(days=k), 10 * 60)) for k in range(RACE_ROUNDS)]
    else:
        mon = first_monday(8)
        starts = [iso(local(mon + timedelta(days=7 * k), 9 * 60)) for k in range(RACE_ROUNDS)]
    failures, winners = [], []
    for start in starts:
        assert start in day_starts(srv, slug, parse_ts(start).date())
        results = race(srv, [booking_body(slug, start, people()) for _ in range(RACE_N)])
        statuses = sorted(r.status for _, r in results)
        if statuses != [201] + [409] * (RACE_N - 1):
            failures.append(f"{start}: {race_report(srv, results)}")
            continue
        for _, r in results:
            if r.status == 409:
                assert_json_error(r, 409, "slot_unavailable")
        winners.append(next(r.json() for _, r in results if r.status == 201))
    assert not failures, "\n".join(failures)
    rows = srv.sql("SELECT id, status FROM booking ORDER BY id")
    assert rows == [(str(w["id"]), OFFERINGS[slug]["status"]) for w in winners]
    for w in winners:
        assert len(blocks_rows(srv, w["id"])) == OFFERINGS[slug]["days"]
    assert count(srv, "booking_client") == 2 * len(winners)
    assert overlapping_active_blocks(srv) == []
    assert srv.alive()


def test_race_overlapping_starts_never_double_book(fresh_server):
    """Intensive starts on consecutive days (each overlaps the next one's
    day 2) and consults on a 10-minute grid (each overlaps its neighbours)
    on those same days, all at once; in two rounds, two weeks apart."""
    srv = fresh_server
    srv.sql("UPDATE offering SET slot_interval_minutes = 10 WHERE slug = 'consult'")
    base = first_monday(8)
    all_results, failures = [], []
    for mon in (base, base + timedelta(days=14)):
        intensive_starts = [iso(local(mon + timedelta(days=w * 7 + i), 9 * 60)) for w in (0, 1) for i in range(3)]
        consult_day = mon + timedelta(days=1)  # day 2 of Monday's, day 1 of Tuesday's intensive
        if consult_day > today_chi() + timedelta(days=60):
            consult_day = weekday_ahead(3, 2)
        consult_starts = [iso(local(consult_day, m)) for m in range(9 * 60, 12 * 60, 10)]
        bodies = []
        for i in range(RACE_N):
            if i % 5 < 2:
                bodies.append(booking_body("intensive-2day", intensive_starts[i % len(intensive_starts)], people()))
            else:
                bodies.append(booking_body("consult", consult_starts[i % len(consult_starts)], people()))
        results = race(srv, bodies)
        all_results += results
        bad = [(b["offering"], b["start"], r.status) for b, r in results if r.status not in (201, 409)]
        if bad:
            failures.append(f"{bad[:5]}; {race_report(srv, results)}")
    assert not failures, "\n".join(failures)
    results = all_results
    for _, r in results:
        if r.status == 409:
            assert_json_error(r, 409, "slot_unavailable")
    wins = [(b, r.json()) for b, r in results if r.status == 201]
    assert wins, "nobody got a booking"
    ids = [d["id"] for _, d in wins]
    assert len(set(ids)) == len(ids), "two 201s for one booking"
    rows = srv.sql("SELECT id, status, extract(epoch FROM starts_at)::bigint FROM booking ORDER BY id")
    assert sorted(int(i) for i, _, _ in rows) == sorted(ids), "every 201 is exactly one booking, and vice versa"
    by_id = {int(i): (st, int(s)) for i, st, s in rows}
    for b, d in wins:
        st, s = by_id[d["id"]]
        assert st == OFFERINGS[b["offering"]]["status"]
        assert s == epoch(parse_ts(b["start"]))
        assert len(blocks_rows(srv, d["id"])) == OFFERINGS[b["offering"]]["days"]
    assert overlapping_active_blocks(srv) == []
    # Intensives keep two free days between them and respect the monthly cap.
    won = sorted(parse_ts(b["start"]).date() for b, _ in wins if b["offering"] == "intensive-2day")
    for a, b in zip(won, won[1:]):
        assert (b - (a + timedelta(days=1))).days > 2, won
    per_month = {}
    for d in won:
        per_month[month_key(d)] = per_month.get(month_key(d), 0) + 1
    assert max(per_month.values(), default=0) <= 3, won
    assert count(srv, "booking_client") == 2 * len(wins)
    assert srv.alive()


# ---------------------------------------------------------------------------
# The booking's calendar file (the "add to calendar" link)


def _ics_lines(body):
    """Unfolded content lines of a calendar file (checks CRLF on the way)."""
    text = body.decode("utf-8")
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", ""), "lines must end in CRLF"
    for raw in text.split("\r\n")[:-1]:
        assert len(raw.encode("utf-8")) <= 75, raw
    return text.replace("\r\n ", "").split("\r\n")[:-1]


def _name_offerings_revealingly(srv):
    """Offering names that say what the appointment is, so an invite that
    copied one would be caught."""
    srv.sql("UPDATE offering SET name = 'Couples therapy ' || slug")


def test_invite_ics_request_then_cancel(fresh_server):
    srv = fresh_server
    _name_offerings_revealingly(srv)
    start = _consult_start(srv)
    doc = book_ok(srv, "consult", start, clients=[
        {"name": "Zoë Ruiz", "email": "zoe.invite@example.com"},
        {"name": "Partner Secretname", "email": "partner.secret@example.com"}])
    token = token_of(doc, srv)
    assert doc["ics_url"] == f"{srv.base}/b/{token}/invite.ics"
    r = srv.get(f"/b/{token}/invite.ics")
    assert r.status == 200, r.body[:300]
    assert r.headers["content-type"] == "text/calendar; charset=utf-8; method=REQUEST"
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["referrer-policy"] == "no-referrer"
    lines = _ics_lines(r.body)
    assert "METHOD:REQUEST" in lines
    uid = [l for l in lines if l.startswith("UID:")]
    assert len(uid) == 1
    assert "SEQUENCE:0" in lines and "STATUS:CONFIRMED" in lines
    assert "DTSTART;TZID=America/Chicago:" + start[:10].replace("-", "") + "T100000" in lines
    assert "TZID:America/Chicago" in lines
    attendees = [l for l in lines if l.startswith("ATTENDEE")]
    assert len(attendees) == 1 and "mailto:zoe.invite@example.com" in attendees[0], attendees
    text = r.body.decode("utf-8")
    # The partner is never named, nor what the appointment is for.
    for word in ("Secretname", "partner.secret", "couples", "therapy", "intensive"):
        assert word.lower() not in text.lower(), word
    assert any(l.startswith("DESCRIPTION:Manage your booking: ") and token in l for l in lines)

    # Moved: same UID, higher SEQUENCE, still a REQUEST.
    new_start = start[:11] + "14:00:00" + start[19:]
    r = srv.request("POST", f"/api/v1/manage/{token}/reschedule", body={"start": new_start})
    assert r.status == 200, r.body[:300]
    lines = _ics_lines(srv.get(f"/b/{token}/invite.ics").body)
    assert [l for l in lines if l.startswith("UID:")] == uid
    assert "SEQUENCE:1" in lines and "METHOD:REQUEST" in lines
    assert any(l.endswith("T140000") and l.startswith("DTSTART;TZID=America/Chicago:") for l in lines), lines

    # Cancelled: METHOD:CANCEL, same UID, higher SEQUENCE, STATUS:CANCELLED.
    r = srv.request("POST", f"/api/v1/manage/{token}/cancel")
    assert r.status == 200, r.body[:300]
    r = srv.get(f"/b/{token}/invite.ics")
    assert r.headers["content-type"] == "text/calendar; charset=utf-8; method=CANCEL"
    lines = _ics_lines(r.body)
    assert "METHOD:CANCEL" in lines and "STATUS:CANCELLED" in lines and "SEQUENCE:2" in lines
    assert [l for l in lines if l.startswith("UID:")] == uid


def test_invite_ics_intensive_is_one_recurring_event(fresh_server):
    srv = fresh_server
    got = srv.get("/api/v1/availability?offering=intensive-2day").json()
    start = got["slots"][0]["start"]
    _name_offerings_revealingly(srv)
    doc = book_ok(srv, "intensive-2day", start, clients=[
        {"name": "Ana Booker", "email": "ana.booker@example.com"},
        {"name": "Partner Hiddenname", "email": "partner.hidden@example.com"}])
    body = srv.get(f"/b/{token_of(doc, srv)}/invite.ics").body
    text = body.decode("utf-8").lower()
    for word in ("couples", "therapy", "intensive", "hiddenname", "partner.hidden"):
        assert word not in text, word
    lines = _ics_lines(body)
    assert sum(1 for l in lines if l == "BEGIN:VEVENT") == 1
    assert "RRULE:FREQ=DAILY;COUNT=2" in lines
    assert "STATUS:TENTATIVE" in lines  # held: dates reserved, not yet confirmed
    assert any(l.startswith("DTSTART;TZID=America/Chicago:") and l.endswith("T090000") for l in lines)
    assert any(l.startswith("DTEND;TZID=America/Chicago:") and l.endswith("T160000") for l in lines)


def test_invite_ics_unknown_token(server):
    r = server.get("/b/AAAAAAAAAAAAAAAAAAAAAA/invite.ics")
    assert r.status == 404


def test_race_cap_per_week_is_never_exceeded(fresh_server):
    """Caps are checked across bookings, which the exclusion constraint
    cannot see: five consults on five different days of one week, all at
    once, with a cap of one per week, leave exactly one booking."""
    srv = fresh_server
    srv.sql("UPDATE offering SET cap_per_week = 1 WHERE slug = 'consult'")
    monday = weekday_ahead(3, 1)
    for i in range(3):  # rounds, each on a fresh week
        week = [booking_body("consult", iso(local(monday + timedelta(days=7 * i + k), 10 * 60))) for k in range(5)]
        results = race(srv, week)
        statuses = sorted(r.status for _, r in results)
        assert statuses == [201, 409, 409, 409, 409], race_report(srv, results)
    rows = srv.sql(
        "SELECT date_trunc('week', starts_at AT TIME ZONE 'America/Chicago'), count(*) FROM booking b"
        " JOIN offering o ON o.id = b.offering_id WHERE o.slug = 'consult' GROUP BY 1")
    assert len(rows) == 3 and all(int(n) == 1 for _, n in rows), rows


def test_idempotency_records_are_purged_after_a_day(server_factory):
    """Idempotency records hold (sealed) manage tokens: kept 24 hours, then
    the background job deletes them."""
    srv = server_factory(env={"TANDEM_JOBS_INTERVAL_S": "1"})
    old_key, new_key = secrets.token_hex(8), secrets.token_hex(8)
    book_ok(srv, "consult", _consult_start(srv), key=old_key)
    book_ok(srv, "consult", _consult_start(srv, days_ahead=10), key=new_key)
    srv.sql("UPDATE idempotency_key SET created_at = now() - interval '25 hours' WHERE key = :'p1'", old_key)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and srv.sql("SELECT 1 FROM idempotency_key WHERE key = :'p1'", old_key):
        time.sleep(0.2)
    assert srv.sql("SELECT 1 FROM idempotency_key WHERE key = :'p1'", old_key) == []
    assert srv.sql("SELECT 1 FROM idempotency_key WHERE key = :'p1'", new_key) == [("1",)]
