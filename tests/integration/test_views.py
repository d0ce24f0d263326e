"""Issue 7 §2 and §3: the clinician's calendar (week and month, in the
clinician's zone across a daylight-saving change, bookings day by day, holds
and external busy time, each reach rule) and the dashboard's sections
(holds about to lapse, screening flags, intake progress, the next seven
days, failing calendar sources, undelivered messages with Resend).

Calendar data is written straight into the database at fixed instants (the
week of 2027-03-08, whose Sunday is the US change to daylight time) so the
pages can be compared exactly; the dashboard uses the real booking, intake,
calendar and mail paths.
"""

import html
import json
import re
import secrets
import shutil
import tempfile
import urllib.parse
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from test_admin import DEV, Client, add_clinician, audit_rows, signed_in
from test_intake import CALM, accept, api, both_tokens
from test_mail import outbox, relay, smtp_env  # noqa: F401 - relay is a fixture

CHI = ZoneInfo("America/Chicago")
BER = ZoneInfo("Europe/Berlin")
UTC = timezone.utc
CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
OTHER_EMAIL = "second@riverbend.example"
OTHER_PASSWORD = "second-clinician-pw-2026"


# --------------------------------------------------------------------------
# helpers


def at(tz, y, m, d, hh, mm=0):
    return datetime(y, m, d, hh, mm, tzinfo=tz)


def clinician_id(srv, email):
    return int(srv.sql("SELECT id FROM clinician WHERE email = :'p1'", email)[0][0])


def insert_booking(srv, clinician, slug, status, blocks, reference=None, initials=("AZ", "BY"),
                   hold=None, cancelled_days=(), needs_review=False):
    """A booking written directly: blocks [(start, end)] as aware datetimes."""
    reference = reference or "TND-" + "".join(secrets.choice("23456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(6))
    active = status in ("held", "requested", "confirmed")
    if status == "held" and hold is None:
        hold = blocks[0][0] - timedelta(days=1)
    bid = srv.sql(
        "INSERT INTO booking (practice_id, offering_id, clinician_id, reference, status, starts_at, ends_at,"
        " hold_expires_at, manage_token_hash, manage_expires_at, ical_uid, needs_review)"
        " SELECT o.practice_id, o.id, :'p2', :'p3', :'p4', :'p5', :'p6', nullif(:'p7', '')::timestamptz,"
        " decode(:'p8', 'hex'), now() + interval '1 year', :'p9', :'p10' FROM offering o WHERE o.slug = :'p1'"
        " RETURNING id",
        slug, clinician, reference, status, blocks[0][0].isoformat(), blocks[-1][1].isoformat(),
        hold.isoformat() if hold else "", secrets.token_hex(32), secrets.token_hex(8) + "@test",
        "true" if needs_review else "false")[0][0]
    for i, (s, e) in enumerate(blocks):
        gone = i in cancelled_days
        srv.sql(
            "INSERT INTO booking_block (booking_id, clinician_id, day_index, starts_at, ends_at, blocked, active,"
            " cancelled_at) VALUES (:'p1', :'p2', :'p3', :'p4', :'p5', tstzrange(:'p4', :'p5'), :'p6',"
            " CASE WHEN :'p7' = 't' THEN now() END)",
            bid, clinician, i, s.isoformat(), e.isoformat(), "true" if active and not gone else "false",
            "t" if gone else "f")
    for pos, ini in enumerate(initials, 1):
        srv.sql(
            "INSERT INTO booking_client (booking_id, position, name_enc, email_enc, email_index, initials)"
            " VALUES (:'p1', :'p2', '\\x00', '\\x00', :'p3', :'p4')",
            bid, pos, secrets.token_hex(32), ini)
    return int(bid), reference


def insert_busy(srv, clinician, start, end, name="Home"):
    sid = srv.sql("SELECT id FROM calendar_source WHERE clinician_id = :'p1' AND name = :'p2'", clinician, name)
    if not sid:
        sid = srv.sql("INSERT INTO calendar_source (clinician_id, name, kind, last_success_at)"
                      " VALUES (:'p1', :'p2', 'upload', now()) RETURNING id", clinician, name)
    srv.sql("INSERT INTO busy_interval (source_id, clinician_id, during) VALUES (:'p1', :'p2', tstzrange(:'p3', :'p4'))",
            sid[0][0], clinician, start.isoformat(), end.isoformat())


def text(fragment):
    """The visible text of an HTML fragment, whitespace collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def main_of(body):
    return body[body.index("<main"):body.index("</main>")]


def week_days(body):
    """{date: [item text, ...]} of a week page, in page order."""
    out = {}
    for m in re.finditer(r'<section class="cal-day[^"]*"[^>]*data-date="([0-9-]+)">(.*?)</section>', body, re.S):
        out[m.group(1)] = [text(i) for i in re.findall(r'<li class="cal-item"[^>]*>(.*?)</li>', m.group(2), re.S)]
    return out


def month_cells(body):
    """[(date, outside, [item text])] of a month page."""
    out = []
    for m in re.finditer(r'<td class="cal-cell([^"]*)" data-date="([0-9-]+)">(.*?)</td>', body, re.S):
        out.append((m.group(2), "cal-outside" in m.group(1),
                    [text(i) for i in re.findall(r'<li class="cal-item"[^>]*>(.*?)</li>', m.group(3), re.S)]))
    return out


def statuses(body, date):
    m = re.search(r'data-date="%s">(.*?)</(?:section|td)>' % date, body, re.S)
    return re.findall(r'<li class="cal-item" data-status="([a-z_]+)"', m.group(1))


# --------------------------------------------------------------------------
# the calendar


@pytest.fixture
def cal(server_factory, tandem, tmp_path):
    """A server with two clinicians (the owner in Chicago, a clinician in
    Berlin) and a week of bookings and busy time around 2027-03-14."""
    srv = server_factory(env=DEV)
    owner = clinician_id(srv, "clinician@riverbend.example")
    other = add_clinician(tandem, srv, tmp_path, OTHER_EMAIL, "Dr. Ines Okafor", OTHER_PASSWORD)
    srv.sql("UPDATE clinician SET timezone = 'Europe/Berlin' WHERE id = :'p1'", other)
    d = {"owner": owner, "other": other}
    d["A"] = insert_booking(srv, owner, "consult", "confirmed",
                            [(at(CHI, 2027, 3, 8, 10), at(CHI, 2027, 3, 8, 10, 20))], reference="TND-AAAA2")
    # A two-day intensive over the change: 09:00 CST on Saturday, 09:00 CDT on Sunday.
    d["B"] = insert_booking(srv, owner, "intensive-2day", "requested",
                            [(at(CHI, 2027, 3, 13, 9), at(CHI, 2027, 3, 13, 16)),
                             (at(CHI, 2027, 3, 14, 9), at(CHI, 2027, 3, 14, 16))], reference="TND-BBBB2")
    # Sunday 22:30 CDT is Monday 03:30 UTC: it belongs on Sunday.
    d["C"] = insert_booking(srv, owner, "consult", "held",
                            [(at(CHI, 2027, 3, 14, 22, 30), at(CHI, 2027, 3, 14, 22, 50))], reference="TND-CCCC2",
                            hold=at(CHI, 2027, 3, 10, 12), initials=("Q", ""))
    # Day two cancelled on its own.
    d["F"] = insert_booking(srv, owner, "intensive-2day", "confirmed",
                            [(at(CHI, 2027, 3, 9, 9), at(CHI, 2027, 3, 9, 16)),
                             (at(CHI, 2027, 3, 10, 9), at(CHI, 2027, 3, 10, 16))], reference="TND-FFFF2",
                            cancelled_days=(1,))
    d["E"] = insert_booking(srv, owner, "consult", "cancelled",
                            [(at(CHI, 2027, 3, 11, 13), at(CHI, 2027, 3, 11, 13, 20))], reference="TND-EEEE2")
    d["G"] = insert_booking(srv, owner, "consult", "declined",
                            [(at(CHI, 2027, 3, 12, 9), at(CHI, 2027, 3, 12, 9, 20))], reference="TND-GGGG2")
    # The Berlin clinician: Wednesday 10:00 CET is 03:00 CST.
    d["D"] = insert_booking(srv, other, "consult", "confirmed",
                            [(at(BER, 2027, 3, 10, 10), at(BER, 2027, 3, 10, 10, 20))], reference="TND-DDDD2",
                            needs_review=True)
    insert_busy(srv, owner, at(CHI, 2027, 3, 11, 20), at(CHI, 2027, 3, 12, 2))   # over midnight
    insert_busy(srv, owner, at(CHI, 2027, 3, 12, 12), at(CHI, 2027, 3, 12, 13))
    insert_busy(srv, owner, at(CHI, 2027, 3, 12, 12, 30), at(CHI, 2027, 3, 12, 14), name="Work")  # merged
    insert_busy(srv, other, at(BER, 2027, 3, 10, 15), at(BER, 2027, 3, 10, 16))
    srv.ids = d
    return srv


def test_week_of_the_change_to_daylight_time_for_the_owner_alone(cal):
    c = signed_in(cal)
    r = c.get(f"/admin/calendar?view=week&date=2027-03-10&clinician={cal.ids['owner']}")
    assert r.status == 200, r.body[:500]
    assert "<h1>Week of Monday, March 8, 2027</h1>" in r.body
    assert "Times are in America/Chicago." in r.body
    days = week_days(r.body)
    assert list(days) == ["2027-03-08", "2027-03-09", "2027-03-10", "2027-03-11", "2027-03-12", "2027-03-13",
                          "2027-03-14"]
    assert days == {
        "2027-03-08": ["10:00 AM – 10:20 AM TND-AAAA2 · Free consultation call · AZ & BY Confirmed"],
        "2027-03-09": ["9:00 AM – 4:00 PM TND-FFFF2 · Two-day intensive (day 1 of 2) · AZ & BY Confirmed"],
        "2027-03-10": ["9:00 AM – 4:00 PM TND-FFFF2 · Two-day intensive (day 2 of 2) · AZ & BY Cancelled day"],
        "2027-03-11": ["1:00 PM – 1:20 PM TND-EEEE2 · Free consultation call · AZ & BY Cancelled",
                       "From 8:00 PM Busy (external calendar)"],
        "2027-03-12": ["Until 2:00 AM Busy (external calendar)", "12:00 PM – 2:00 PM Busy (external calendar)"],
        "2027-03-13": ["9:00 AM – 4:00 PM TND-BBBB2 · Two-day intensive (day 1 of 2) · AZ & BY Requested"],
        "2027-03-14": ["9:00 AM – 4:00 PM TND-BBBB2 · Two-day intensive (day 2 of 2) · AZ & BY Requested",
                       "10:30 PM – 10:50 PM TND-CCCC2 · Free consultation call · Q Held"
                       " (hold lapses Wednesday, March 10, 2027, 12:00 PM)"],
    }
    assert statuses(r.body, "2027-03-10") == ["cancelled_day"]
    assert statuses(r.body, "2027-03-12") == ["busy", "busy"]
    # Each booking links to its page; headings name each day.
    assert r.body.count(f'href="/admin/bookings/{cal.ids["B"][0]}"') == 2
    assert '<h2 id="d-2027-03-14"><time datetime="2027-03-14">Sunday, March 14, 2027</time></h2>' in r.body
    # No client name, no other clinician's booking.
    assert "TND-DDDD2" not in r.body and "TND-GGGG2" not in r.body
    # Previous, today, next keep the clinician; the week starts on Monday.
    for link in (f"/admin/calendar?view=week&amp;date=2027-03-01&amp;clinician={cal.ids['owner']}",
                 f"/admin/calendar?view=week&amp;clinician={cal.ids['owner']}",
                 f"/admin/calendar?view=week&amp;date=2027-03-15&amp;clinician={cal.ids['owner']}"):
        assert f'href="{link}"' in r.body, link


def test_owner_sees_everyone_and_picks_a_clinician_in_their_zone(cal):
    c = signed_in(cal)
    r = c.get("/admin/calendar?date=2027-03-08")  # week by default
    assert r.status == 200
    days = week_days(r.body)
    assert days["2027-03-10"] == [
        "3:00 AM – 3:20 AM TND-DDDD2 · Free consultation call · AZ & BY · Dr. Ines Okafor Confirmed Needs review",
        "8:00 AM – 9:00 AM Busy (external calendar) · Dr. Ines Okafor",
        "9:00 AM – 4:00 PM TND-FFFF2 · Two-day intensive (day 2 of 2) · AZ & BY · Dr. Maya Lindqvist Cancelled day",
    ]
    assert days["2027-03-08"] == [
        "10:00 AM – 10:20 AM TND-AAAA2 · Free consultation call · AZ & BY · Dr. Maya Lindqvist Confirmed"]
    # Picking the Berlin clinician shows their week in their zone, only theirs.
    r = c.get(f"/admin/calendar?view=week&date=2027-03-08&clinician={cal.ids['other']}")
    assert r.status == 200
    assert "Times are in Europe/Berlin. Calendar of Dr. Ines Okafor." in r.body
    days = week_days(r.body)
    assert {k: v for k, v in days.items() if v} == {"2027-03-10": [
        "10:00 AM – 10:20 AM TND-DDDD2 · Free consultation call · AZ & BY Confirmed Needs review",
        "3:00 PM – 4:00 PM Busy (external calendar)"]}
    assert f'<option value="{cal.ids["other"]}" selected>Dr. Ines Okafor</option>' in r.body


def test_a_clinician_sees_only_their_own(cal):
    c = signed_in(cal, OTHER_EMAIL, OTHER_PASSWORD)
    r = c.get("/admin/calendar?view=week&date=2027-03-08")
    assert r.status == 200
    assert "Times are in Europe/Berlin." in r.body and "<select" not in r.body
    days = week_days(r.body)
    assert {k: v for k, v in days.items() if v} == {"2027-03-10": [
        "10:00 AM – 10:20 AM TND-DDDD2 · Free consultation call · AZ & BY Confirmed Needs review",
        "3:00 PM – 4:00 PM Busy (external calendar)"]}
    for ref in ("TND-AAAA2", "TND-BBBB2", "TND-CCCC2", "TND-FFFF2", "Busy (external calendar) ·"):
        assert ref not in r.body
    # Asking for the owner's calendar: as if it did not exist.
    assert c.get(f"/admin/calendar?view=week&date=2027-03-08&clinician={cal.ids['owner']}").status == 404
    assert c.get(f"/admin/calendar?clinician={cal.ids['other']}").status == 200
    # And the month shows nothing of anyone else either.
    r = c.get("/admin/calendar?view=month&date=2027-03-31")
    assert [x for x in month_cells(r.body) if x[2]] == [("2027-03-10", False, [
        "10:00 AM – 10:20 AM TND-DDDD2 · Free consultation call · AZ & BY Confirmed Needs review",
        "3:00 PM – 4:00 PM Busy (external calendar)"])]


def test_month_view(cal):
    c = signed_in(cal)
    r = c.get(f"/admin/calendar?view=month&date=2027-03-20&clinician={cal.ids['owner']}")
    assert r.status == 200
    assert "<h1>March 2027</h1>" in r.body and "<caption>March 2027</caption>" in r.body
    assert r.body.count('<th scope="col"') == 7
    cells = month_cells(r.body)
    # March 2027 starts on a Monday; the grid runs to Sunday, April 4.
    assert len(cells) == 35 and cells[0][0] == "2027-03-01" and cells[-1][0] == "2027-04-04"
    assert [x[0] for x in cells if x[1]] == ["2027-04-01", "2027-04-02", "2027-04-03", "2027-04-04"]
    busy = {x[0]: x[2] for x in cells if x[2]}
    assert busy == {
        "2027-03-08": ["10:00 AM – 10:20 AM TND-AAAA2 · Free consultation call · AZ & BY Confirmed"],
        "2027-03-09": ["9:00 AM – 4:00 PM TND-FFFF2 · Two-day intensive (day 1 of 2) · AZ & BY Confirmed"],
        "2027-03-10": ["9:00 AM – 4:00 PM TND-FFFF2 · Two-day intensive (day 2 of 2) · AZ & BY Cancelled day"],
        "2027-03-11": ["1:00 PM – 1:20 PM TND-EEEE2 · Free consultation call · AZ & BY Cancelled",
                       "From 8:00 PM Busy (external calendar)"],
        "2027-03-12": ["Until 2:00 AM Busy (external calendar)", "12:00 PM – 2:00 PM Busy (external calendar)"],
        "2027-03-13": ["9:00 AM – 4:00 PM TND-BBBB2 · Two-day intensive (day 1 of 2) · AZ & BY Requested"],
        "2027-03-14": ["9:00 AM – 4:00 PM TND-BBBB2 · Two-day intensive (day 2 of 2) · AZ & BY Requested",
                       "10:30 PM – 10:50 PM TND-CCCC2 · Free consultation call · Q Held"
                       " (hold lapses Wednesday, March 10, 2027, 12:00 PM)"],
    }
    for link in (f"/admin/calendar?view=month&amp;date=2027-02-01&amp;clinician={cal.ids['owner']}",
                 f"/admin/calendar?view=month&amp;date=2027-04-01&amp;clinician={cal.ids['owner']}",
                 f"/admin/calendar?view=week&amp;date=2027-03-20&amp;clinician={cal.ids['owner']}"):
        assert f'href="{link}"' in r.body, link
    assert "Nothing booked in" not in r.body
    # December → January of the next year (an empty month says so).
    r = c.get("/admin/calendar?view=month&date=2026-12-31")
    assert "Nothing booked in December 2026." in r.body
    assert 'href="/admin/calendar?view=month&amp;date=2027-01-01"' in r.body
    assert 'href="/admin/calendar?view=month&amp;date=2026-11-01"' in r.body


def test_a_crowded_month_says_what_it_leaves_out(cal):
    owner = cal.ids["owner"]
    # 2,001 separate busy intervals (touching ones would merge) in July 2029: one more than a
    # page shows.
    insert_busy(cal, owner, datetime(2029, 7, 1, 12, tzinfo=CHI), datetime(2029, 7, 1, 12, 5, tzinfo=CHI))
    cal.sql("INSERT INTO busy_interval (source_id, clinician_id, during)"
            " SELECT s.id, s.clinician_id, tstzrange(t, t + interval '5 minutes') FROM calendar_source s,"
            " generate_series(timestamptz '2029-07-02 00:00+00', timestamptz '2029-07-02 00:00+00'"
            "  + 1999 * interval '10 minutes', interval '10 minutes') t"
            " WHERE s.clinician_id = :'p1' AND s.name = 'Home'", owner)
    c = signed_in(cal)
    r = c.get(f"/admin/calendar?view=month&date=2029-07-01&clinician={owner}")
    assert r.status == 200
    assert ("This page has more than 2000 entries; only the first 2000 of each kind are shown."
            " Pick one clinician or the week view to see all.") in text(r.body)
    assert main_of(r.body).count("Busy (external calendar)") == 2000
    # The earliest are the ones shown: the last one (July 15, 4:10 PM in Chicago) is not.
    cells = {x[0]: x[2] for x in month_cells(r.body)}
    assert cells["2029-07-01"][:2] == ["12:00 PM – 12:05 PM Busy (external calendar)",
                                       "7:00 PM – 7:05 PM Busy (external calendar)"]
    assert len(cells["2029-07-01"]) == 31
    assert cells["2029-07-15"][-1] == "4:00 PM – 4:05 PM Busy (external calendar)"
    # A week of it fits: no notice.
    r = c.get(f"/admin/calendar?view=week&date=2029-07-10&clinician={owner}")
    assert r.status == 200 and "more than 2000 entries" not in r.body
    assert sum(len(v) for v in week_days(r.body).values()) == 6 * 144 + 98  # July 15 ends at 4:10 PM


def test_today_is_the_default_and_marked(cal):
    c = signed_in(cal)
    today = datetime.now(CHI).date()
    r = c.get(f"/admin/calendar?clinician={cal.ids['owner']}")
    monday = today - timedelta(days=today.weekday())
    assert r.status == 200 and list(week_days(r.body))[0] == str(monday)
    assert re.search(r'<section class="cal-day cal-today"[^>]*data-date="%s"' % today, r.body)


@pytest.mark.parametrize("query,msg", [
    ("view=year", "The view must be"),
    ("view=week&date=2027-02-30", "The date must be a real date"),
    ("date=tomorrow", "The date must be a real date"),
    ("date=0001-01-01", "between the years 1971 and 9998"),
    ("view=month&date=9999-12-31", "between the years 1971 and 9998"),
    ("clinician=abc", "The clinician must be"),
    ("clinician=0", "The clinician must be"),
    ("clinician=" + "9" * 30, "The clinician must be"),
    ("view=%FF", "could not be read"),
    ("date=2027-03-08%00", "could not be read"),
    ("view=week&date=" + "1" * 5000, "The date must be a real date"),
])
def test_bad_parameters_are_a_clear_400(cal, query, msg):
    c = signed_in(cal)
    r = c.get("/admin/calendar?" + query)
    assert r.status == 400, (query, r.status)
    assert msg in r.body
    assert cal.alive()


def test_unknown_clinician_is_404_and_no_session_is_a_sign_in(cal):
    c = signed_in(cal)
    assert c.get("/admin/calendar?clinician=999999").status == 404
    r = Client(cal).get("/admin/calendar?view=month")
    assert r.status == 303 and r.headers["location"].startswith("/admin/login?next=")


def test_imported_busy_time_shows_on_the_week(server_factory, tandem, tmp_path):
    """Busy time through `tandem calendar import`, as a clinician uploads it."""
    srv = server_factory(env=DEV)
    d = datetime.now(CHI).date() + timedelta(days=14)
    d -= timedelta(days=d.weekday())  # a Monday two weeks ahead
    s, e = at(CHI, d.year, d.month, d.day, 7, 15), at(CHI, d.year, d.month, d.day, 8, 45)
    ics = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:x1@test\r\n"
           "DTSTAMP:20260101T000000Z\r\n"
           f"DTSTART:{s.astimezone(UTC):%Y%m%dT%H%M%SZ}\r\nDTEND:{e.astimezone(UTC):%Y%m%dT%H%M%SZ}\r\n"
           "SUMMARY:Dentist with Someone Private\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    f = tmp_path / "home.ics"
    f.write_text(ics)
    r = tandem(["calendar", "import", str(f), "--clinician", "clinician@riverbend.example"], srv.dsn, srv.port)
    assert r.returncode == 0, r.stderr
    c = signed_in(srv)
    r = c.get(f"/admin/calendar?view=week&date={d}&clinician={clinician_id(srv, 'clinician@riverbend.example')}")
    assert r.status == 200
    assert week_days(r.body)[str(d)] == ["7:15 AM – 8:45 AM Busy (external calendar)"]
    assert "Dentist" not in r.body and "Someone Private" not in r.body


# --------------------------------------------------------------------------
# the dashboard


def section(body, sid):
    m = re.search(r'<section aria-labelledby="%s"[^>]*>(.*?)</section>' % sid, body, re.S)
    assert m, sid
    return m.group(1)


def items(fragment):
    """The visible text of each card of a dashboard section."""
    parts = re.split(r'<li class="card[^"]*"[^>]*>', fragment)[1:]
    return [text(p[:p.rindex("</li>")]) for p in parts]


def day_name(d):
    return f"{d:%A}, {d:%B} {d.day}, {d.year}"


def stamp(t):
    t = t.astimezone(CHI)
    return f"{day_name(t)}, {t.hour % 12 or 12}:{t:%M} {'AM' if t.hour < 12 else 'PM'} {t.tzname()}"


def clock(t):
    t = t.astimezone(CHI)
    return f"{t.hour % 12 or 12}:{t:%M} {'AM' if t.hour < 12 else 'PM'}"


def insert_dead(srv, booking_id, kind, role, why, attempts):
    return int(srv.sql(
        "INSERT INTO outbox (kind, booking_id, recipient_role, message_id, envelope_from, rcpt_enc, message_enc,"
        " status, attempts, last_error, dead_at) VALUES (:'p1', :'p2', :'p3', :'p4', 'practice@riverbend.example',"
        " '\\x00', '\\x00', 'dead', :'p5', :'p6', now()) RETURNING id",
        kind, booking_id, role, f"<{secrets.token_hex(8)}@riverbend.example>", attempts, why)[0][0])


@pytest.fixture
def dash(server_factory, tandem, tmp_path):
    d = tempfile.mkdtemp(prefix="tandem-views-mail.", dir="/tmp")
    srv = server_factory(env={**DEV, "TANDEM_MAIL_DIR": d, "TANDEM_MAIL_POLL_MS": "100"})
    srv.mail_dir = d
    yield srv
    shutil.rmtree(d, ignore_errors=True)


def test_dashboard_sections(dash, tandem, tmp_path, helpers):
    srv = dash
    owner = clinician_id(srv, "clinician@riverbend.example")
    other = add_clinician(tandem, srv, tmp_path, OTHER_EMAIL, "Dr. Ines Okafor", OTHER_PASSWORD)
    # A real intensive: the booker's intake raises two flags, the partner's is a draft.
    doc, _, _, bt, pt, _ = both_tokens(srv, helpers)
    accept(srv, bt)
    accept(srv, pt)
    flagged = {**CALM, "afraid_of_partner": "yes", "self_harm_thoughts": "often"}
    assert api(srv, "POST", bt, {"answers": flagged, "signature": "Avery Quill"}, "/submit").status == 200
    assert api(srv, "PUT", pt, {"answers": {"history": "So far"}}).status == 200
    iref = doc["reference"]
    iini = srv.sql("SELECT string_agg(initials, ' & ' ORDER BY position) FROM booking_client"
                   " WHERE booking_id = :'p1'", doc["id"])[0][0]
    b1, b2 = srv.sql("SELECT initials FROM booking_client WHERE booking_id = :'p1' ORDER BY position", doc["id"])
    today = datetime.now(CHI).date()
    d1, d2, d3 = (today + timedelta(days=n) for n in (1, 2, 3))
    s1, s2, s3 = at(CHI, d1.year, d1.month, d1.day, 10), at(CHI, d2.year, d2.month, d2.day, 14), \
        at(CHI, d3.year, d3.month, d3.day, 11)
    h1_until = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=5, seconds=40)
    h1, h1ref = insert_booking(srv, owner, "consult", "held", [(s1, s1 + timedelta(minutes=20))], hold=h1_until)
    h2, h2ref = insert_booking(srv, owner, "consult", "held", [(s3, s3 + timedelta(minutes=20))],
                               hold=datetime.now(UTC) + timedelta(hours=30))
    o1, o1ref = insert_booking(srv, other, "consult", "confirmed", [(s2, s2 + timedelta(minutes=20))])
    # Calendar sources: an upload that failed (owner), a stale subscription (other), a good one.
    srv.sql("INSERT INTO calendar_source (clinician_id, name, kind, last_success_at, last_error)"
            " VALUES (:'p1', 'Home', 'upload', now() - interval '1 hour', 'The file is not an iCalendar file.')", owner)
    srv.sql("INSERT INTO calendar_source (clinician_id, name, kind, url_enc, url_display, last_success_at,"
            " last_error) VALUES (:'p1', 'Work', 'url', '\\x00', 'https://cal.example', '2026-01-02T03:04:00Z',"
            " 'HTTP 500')", other)
    srv.sql("INSERT INTO calendar_source (clinician_id, name, kind, url_enc, url_display, last_success_at)"
            " VALUES (:'p1', 'Fine', 'url', '\\x00', 'https://ok.example', now())", other)
    m1 = insert_dead(srv, h2, "confirmed", "booker", "smtp 550", 1)
    m2 = insert_dead(srv, o1, "reminder", "partner", "Couldn't connect to server", 8)

    c = signed_in(srv)
    r = c.get("/admin")
    assert r.status == 200, r.body[:500]
    body = main_of(r.body)
    left = "5 h left"
    assert items(section(body, "lapsing-h")) == [
        f"{h1ref} · Free consultation call · AZ & BY · Dr. Maya Lindqvist {left} (lapses {stamp(h1_until)})"]
    assert items(section(body, "flags-h")) == [
        f"{iref} · Two-day intensive · {iini} · Dr. Maya Lindqvist Needs review Intimate partner violence"
        f" Suicide risk Read the intakes of {iref}"]
    assert f'href="/admin/bookings/{doc["id"]}/intake"' in section(body, "flags-h")
    # Showing screening results is a read of PHI: audited per booking.
    assert [(a, t) for _, a, _, t, _, _ in audit_rows(srv, "flags.view")] == [("clinician:1", f"booking:{doc['id']}")]
    none = "Booker (AZ): not started Partner (BY): not started"
    assert items(section(body, "intakes-h")) == [
        f"{h1ref} · Free consultation call · Dr. Maya Lindqvist {none}",
        f"{o1ref} · Free consultation call · Dr. Ines Okafor {none}",
        f"{h2ref} · Free consultation call · Dr. Maya Lindqvist {none}",
        f"{iref} · Two-day intensive · Dr. Maya Lindqvist Booker ({b1[0]}): submitted Partner ({b2[0]}): draft",
    ]
    days = section(body, "days-h")
    assert [text(h) for h in re.findall(r"<h3>(.*?)</h3>", days)] == [day_name(d) for d in (d1, d2, d3)]
    assert [text(x) for x in re.findall(r'<li class="booking-item"[^>]*>(.*?)</li>', days, re.S)] == [
        f"{clock(s1)} – {clock(s1 + timedelta(minutes=20))} {s1.tzname()} · {h1ref} · Free consultation call"
        " · AZ & BY · Dr. Maya Lindqvist · Held",
        f"{clock(s2)} – {clock(s2 + timedelta(minutes=20))} {s2.tzname()} · {o1ref} · Free consultation call"
        " · AZ & BY · Dr. Ines Okafor · Confirmed",
        f"{clock(s3)} – {clock(s3 + timedelta(minutes=20))} {s3.tzname()} · {h2ref} · Free consultation call"
        " · AZ & BY · Dr. Maya Lindqvist · Held",
    ]
    src = section(body, "sources-h")
    assert items(src) == [
        "Home · Dr. Maya Lindqvist Last error: The file is not an iCalendar file. Last good refresh: "
        + stamp(datetime.fromtimestamp(int(srv.sql(
            "SELECT extract(epoch FROM last_success_at)::bigint FROM calendar_source WHERE name = 'Home'")[0][0]),
            UTC)),
        "Work · Dr. Ines Okafor Last error: HTTP 500 Out of date: booking is closed for these times until it"
        " refreshes. Last good refresh: " + stamp(datetime(2026, 1, 2, 3, 4, tzinfo=UTC)),
    ]
    assert 'href="/admin/calendars"' in src
    dead = section(body, "dead-h")
    assert [re.sub(r"gave up .*?\)", "gave up …)", t) for t in items(dead)] == [
        f"Appointment reminder to the partner · {o1ref} Could not reach the mail relay"
        " (Couldn't connect to server; 8 attempts; gave up …) Resend Appointment reminder to the partner of " + o1ref,
        f"Booking confirmed to the booker · {h2ref} Refused by the mail relay (smtp 550; 1 attempt; gave up …)"
        " Resend Booking confirmed to the booker of " + h2ref,
    ]
    assert f'action="/admin/mail/{m1}/resend"' in dead and f'action="/admin/mail/{m2}/resend"' in dead
    for secret in ("@example.com", "@example.org", "Avery", "Quill", "So far"):
        assert secret not in body, secret

    # The other clinician: their own records only.
    c2 = signed_in(srv, OTHER_EMAIL, OTHER_PASSWORD)
    body = main_of(c2.get("/admin").body)
    assert "No hold lapses in the next 24 hours." in section(body, "lapsing-h")
    assert "No booking needs review." in section(body, "flags-h")
    assert items(section(body, "intakes-h")) == [f"{o1ref} · Free consultation call {none}"]
    assert [text(h) for h in re.findall(r"<h3>(.*?)</h3>", section(body, "days-h"))] == [day_name(d2)]
    assert [t.split(" Last good")[0] for t in items(section(body, "sources-h"))] == [
        "Work Last error: HTTP 500 Out of date: booking is closed for these times until it refreshes."]
    dead = section(body, "dead-h")
    assert f"/admin/mail/{m2}/resend" in dead and f"/admin/mail/{m1}/resend" not in dead
    for ref in (h1ref, h2ref, iref):
        assert ref not in body
    # They may resend a message about their own booking, and not the owner's.
    csrf2 = CSRF_RE.search(c2.get("/admin").body).group(1)
    assert c2.post(f"/admin/mail/{m1}/resend", {"csrf": csrf2}).status == 404
    r = c2.post(f"/admin/mail/{m2}/resend", {"csrf": csrf2})
    assert r.status == 303 and r.headers["location"] == "/admin?done=resent"
    assert [(a[1], a[3]) for a in audit_rows(srv, "mail.resend")] == [(f"clinician:{other}", f"outbox:{m2}")]


def test_resend_requeues_the_same_message_and_it_goes_out(server_factory, relay, helpers, tandem, tmp_path):
    relay.script = ["550 5.1.1 <someone@example.com>: no such user"]
    srv = server_factory(env={**smtp_env(relay), **DEV})
    other = add_clinician(tandem, srv, tmp_path, OTHER_EMAIL, "Dr. Ines Okafor", OTHER_PASSWORD)
    t = datetime.now(CHI).date()
    q = urllib.parse.urlencode({"offering": "consult", "from": str(t + timedelta(days=4)),
                                "to": str(t + timedelta(days=18))})
    start = srv.get("/api/v1/availability?" + q).json()["slots"][0]["start"]
    r = srv.request("POST", "/api/v1/bookings", body={
        "offering": "consult", "start": start, "consent": True,
        "clients": [{"name": "Avery Quill", "email": "avery.q@example.com"},
                    {"name": "Jordan Marchbank", "email": "jordan.m@example.org"}]})
    assert r.status == 201, r.body[:300]
    doc = r.json()
    helpers.wait_until(lambda: any(x.status == "dead" for x in outbox(srv, doc["id"])), timeout=20,
                       interval=0.1, what="a dead letter")
    helpers.wait_until(lambda: relay.count() >= 1, timeout=20, interval=0.1, what="the other message")
    [dead] = [x for x in outbox(srv, doc["id"]) if x.status == "dead"]
    sent_before = relay.count()

    c = signed_in(srv)
    page = c.get("/admin")
    body = main_of(page.body)
    cards = items(section(body, "dead-h"))
    assert len(cards) == 1 and cards[0].startswith("Booking confirmed to the ")
    assert f" · {doc['reference']} Refused by the mail relay (smtp 550; 1 attempt; gave up " in cards[0]
    for s in ("avery.q@example.com", "jordan.m@example.org", "someone@example.com", "no such user"):
        assert s not in page.body
    csrf = CSRF_RE.search(page.body).group(1)
    path = f"/admin/mail/{dead.id}/resend"

    # No token, a wrong one: 403, nothing changes.
    assert c.post(path, {}).status == 403
    assert c.post(path, {"csrf": "0" * 64}).status == 403
    # Another clinician's booking's message: as if it did not exist.
    c2 = signed_in(srv, OTHER_EMAIL, OTHER_PASSWORD)
    r2 = c2.get("/admin")
    assert f"/admin/mail/{dead.id}/resend" not in r2.body
    assert c2.post(path, {"csrf": CSRF_RE.search(r2.body).group(1)}).status == 404
    assert c.post("/admin/mail/999999/resend", {"csrf": csrf}).status == 404
    assert c.post("/admin/mail/abc/resend", {"csrf": csrf}).status == 404
    assert [x.status for x in outbox(srv, doc["id"]) if x.id == dead.id] == ["dead"]
    assert audit_rows(srv, "mail.resend") == []
    # Without a session: to the sign-in page.
    assert Client(srv).post(path, {"csrf": csrf}).status == 303

    r = c.post(path, {"csrf": csrf})
    assert r.status == 303 and r.headers["location"] == "/admin?done=resent"
    helpers.wait_until(lambda: relay.count() > sent_before, timeout=20, interval=0.1, what="the resent message")
    assert relay.delivered[-1].msg["Message-ID"] == dead.message_id
    [row] = [x for x in outbox(srv, doc["id"]) if x.id == dead.id]
    assert (row.status, row.attempts, row.last_error) == ("sent", 1, "")
    [a] = audit_rows(srv, "mail.resend")
    assert (a[1], a[3]) == (f"clinician:{clinician_id(srv, 'clinician@riverbend.example')}", f"outbox:{dead.id}")
    page = c.get("/admin?done=resent")
    assert "The message is queued again and goes out shortly." in page.body
    assert "Every message was delivered." in section(main_of(page.body), "dead-h")
    # Only a dead letter can be resent.
    r = c.post(path, {"csrf": csrf})
    assert r.status == 409 and "not waiting to be resent" in r.body
    # Dead again, but the clients have since been told the booking is cancelled: resending the
    # old confirmation would tell them something out of date.
    srv.sql("UPDATE outbox SET status = 'dead', dead_at = now(), sent_at = NULL WHERE id = :'p1'", dead.id)
    token = doc["manage_url"].rsplit("/b/", 1)[1]
    assert srv.request("POST", f"/api/v1/manage/{token}/cancel", body={"reason": "plans changed"}).status == 200
    # (Once that news went out: a newer message still waiting may never arrive.)
    cancels = [x for x in outbox(srv, doc["id"]) if x.kind == "cancelled" and x.role == dead.role]
    assert len(cancels) == 1
    helpers.wait_until(lambda: [x.status for x in outbox(srv, doc["id"]) if x.id == cancels[0].id] == ["sent"],
                       timeout=20, interval=0.1, what="the cancellation sent")
    r = c.post(path, {"csrf": csrf})
    assert r.status == 409 and "resending this one would tell them something out of date" in r.body
    assert [x.status for x in outbox(srv, doc["id"]) if x.id == dead.id] == ["dead"]
    assert len(audit_rows(srv, "mail.resend")) == 1
    assert other


def bulk_bookings(srv, clinician, status, first, n, step, prefix, hold_in=None):
    """n consult bookings of `status` written at once, the first starting at `first` (aware), each
    `step` later; held ones lapse `hold_in` from now."""
    srv.sql(
        "INSERT INTO booking (practice_id, offering_id, clinician_id, reference, status, starts_at, ends_at,"
        " hold_expires_at, manage_token_hash, manage_expires_at, ical_uid)"
        " SELECT o.practice_id, o.id, :'p1', 'TND-' || :'p2' || translate(lpad(g::text, 5, '0'),"
        "  '0123456789', 'ABCDEFGHJK'), :'p3', t, t + interval '20 minutes',"
        " CASE WHEN :'p3' = 'held' THEN now() + :'p7'::interval END,"
        " sha256(convert_to(:'p2' || g, 'UTF8')), now() + interval '1 year', :'p2' || g || '@bulk'"
        " FROM offering o, generate_series(1, :'p4'::int) g,"
        " LATERAL (SELECT :'p5'::timestamptz + (g - 1) * :'p6'::interval AS t) s WHERE o.slug = 'consult'",
        clinician, prefix, status, n, first.isoformat(), step, hold_in or "1 hour")


def test_dashboard_lists_say_what_they_leave_out(dash):
    srv = dash
    owner = clinician_id(srv, "clinician@riverbend.example")
    tomorrow = datetime.now(CHI).date() + timedelta(days=1)
    start = at(CHI, tomorrow.year, tomorrow.month, tomorrow.day, 0)
    # 260 confirmed bookings soon, 52 holds lapsing within the day, and one request two months out:
    # the request is after 300 open bookings and still awaits approval on the dashboard.
    bulk_bookings(srv, owner, "confirmed", start, 260, "2 hours", "C")
    bulk_bookings(srv, owner, "held", start + timedelta(minutes=30), 52, "2 hours", "H", "5 hours")
    _, far = insert_booking(srv, owner, "consult", "requested",
                            [(start + timedelta(days=60), start + timedelta(days=60, minutes=20))])
    c = signed_in(srv)
    r = c.get("/admin")
    assert r.status == 200
    body = main_of(r.body)

    def section(h):
        return body[body.index(f'id="{h}"'):].split("</section>", 1)[0]

    pending = section("pending-h")
    assert f">{far}</a>" in pending
    assert pending.count('class="card booking-item"') == 53 and "Only the" not in pending
    upcoming = section("upcoming-h")
    assert upcoming.count('class="card booking-item"') == 50
    assert "Only the next 50 are listed; the calendar shows the others." in text(upcoming)
    assert ">TND-CAAAAB</a>" in upcoming and ">TND-CAAAFA</a>" in upcoming  # 1st and 50th
    assert ">TND-CAAAFB</a>" not in upcoming
    lapsing = section("lapsing-h")
    assert lapsing.count('class="card booking-item"') == 50
    assert "Only the first 50 holds are listed." in text(lapsing)
    # The bookings API says so too.
    r = c.get("/api/v1/admin/bookings")
    j = json.loads(r.body)
    assert r.status == 200 and len(j["bookings"]) == 200 and j["more"] is True
