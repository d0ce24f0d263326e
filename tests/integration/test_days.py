"""Issue 4: one day of an intensive moved or cancelled on its own.

`tandem booking move-day` / `cancel-day` (the clinician's change until the
admin area has buttons for it) and what the invite then says: the original
series with RRULE plus a RECURRENCE-ID override for the changed day, a
higher SEQUENCE, read back by python-icalendar and expanded by
recurring-ical-events; the feed shows the cancelled day as CANCELLED; the
freed day's time is free in the database.
"""

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import pytest
import recurring_ical_events

CHI = ZoneInfo("America/Chicago")
UTC = timezone.utc


def first_intensive(srv):
    d0 = datetime.now(CHI).date() + timedelta(days=21)
    r = srv.get(f"/api/v1/availability?offering=intensive-2day&from={d0}&to={d0 + timedelta(days=30)}")
    assert r.status == 200, r.body[:300]
    slots = r.json()["slots"]
    assert slots, "no intensive start in the demo practice"
    return slots[0]


def book_intensive(srv):
    slot = first_intensive(srv)
    body = {"offering": "intensive-2day", "start": slot["start"], "consent": True,
            "clients": [{"name": "Avery Quill", "email": "avery@example.com"},
                        {"name": "Jordan Quill", "email": "jordan@example.org"}]}
    r = srv.request("POST", "/api/v1/bookings", body=body)
    assert r.status == 201, r.body[:500]
    doc = r.json()
    token = doc["manage_url"].rsplit("/", 1)[1]
    days = [(datetime.fromisoformat(b["start"]), datetime.fromisoformat(b["end"])) for b in doc["blocks"]]
    assert len(days) == 2
    return doc, token, days


def invite(srv, token):
    r = srv.get(f"/b/{token}/invite.ics")
    assert r.status == 200, r.body[:300]
    return r.body.decode(), icalendar.Calendar.from_ical(r.body)


def instants(cal, days):
    lo, hi = days[0][0] - timedelta(days=3), days[-1][1] + timedelta(days=3)
    evs = recurring_ical_events.of(cal).between(lo, hi)
    # A cancelled instance comes back as its override with STATUS:CANCELLED,
    # which calendar apps show as gone.
    return sorted((e["DTSTART"].dt.astimezone(UTC), e["DTEND"].dt.astimezone(UTC)) for e in evs
                  if str(e.get("STATUS", "")) != "CANCELLED")


def cli(tandem, srv, *args):
    return tandem(["booking", *args], srv.dsn, srv.port)


def test_move_one_day_writes_a_recurrence_id_override(fresh_server, tandem):
    srv = fresh_server
    doc, token, days = book_intensive(srv)
    text, cal = invite(srv, token)
    assert "RRULE:FREQ=DAILY;COUNT=2" in text and "RECURRENCE-ID" not in text
    seq0 = int(cal.walk("VEVENT")[0]["SEQUENCE"])
    new_start = days[1][0] + timedelta(hours=1)
    r = cli(tandem, srv, "move-day", doc["reference"], "2", new_start.isoformat())
    assert r.returncode == 0 and r.stdout.strip() == f"booking {doc['reference']}: day 2 moved", r.stderr
    text, cal = invite(srv, token)
    events = cal.walk("VEVENT")
    assert len(events) == 2, text
    master, override = events
    uid = str(master["UID"])
    assert str(override["UID"]) == uid
    assert int(master["SEQUENCE"]) == seq0 + 1 == int(override["SEQUENCE"])
    assert "RRULE" in master and master["DTSTART"].dt == days[0][0]
    # RECURRENCE-ID names the day where the series put it, in the zone.
    assert override["RECURRENCE-ID"].dt == days[1][0]
    assert str(override["RECURRENCE-ID"].params["TZID"]) == "America/Chicago"
    length = days[1][1] - days[1][0]
    assert (override["DTSTART"].dt, override["DTEND"].dt) == (new_start, new_start + length)
    assert instants(cal, days) == [
        (days[0][0].astimezone(UTC), days[0][1].astimezone(UTC)),
        (new_start.astimezone(UTC), (new_start + length).astimezone(UTC)),
    ]
    rows = srv.sql("SELECT day_index, extract(epoch FROM starts_at)::bigint, extract(epoch FROM original_start)::bigint"
                   " FROM booking_block WHERE booking_id = :'p1' ORDER BY day_index", doc["id"])
    assert rows == [("0", str(int(days[0][0].timestamp())), str(int(days[0][0].timestamp()))),
                    ("1", str(int(new_start.timestamp())), str(int(days[1][0].timestamp())))]
    ev = srv.sql("SELECT reason, detail->>'day' FROM booking_event WHERE booking_id = :'p1' ORDER BY id DESC LIMIT 1",
                 doc["id"])
    assert ev == [("day moved by clinician", "2")]


def test_moving_the_first_day_owes_a_new_reminder(fresh_server, tandem):
    srv = fresh_server
    doc, _, days = book_intensive(srv)
    srv.sql("UPDATE booking SET reminder_sent_at = now() WHERE id = :'p1'", doc["id"])

    def reminded():
        return srv.sql("SELECT reminder_sent_at IS NOT NULL FROM booking WHERE id = :'p1'", doc["id"])[0][0]

    r = cli(tandem, srv, "move-day", doc["reference"], "2", (days[1][0] + timedelta(hours=1)).isoformat())
    assert r.returncode == 0, r.stderr
    assert reminded() == "t"  # the booking still starts when its reminder said
    r = cli(tandem, srv, "move-day", doc["reference"], "1", (days[0][0] + timedelta(hours=1)).isoformat())
    assert r.returncode == 0, r.stderr
    assert reminded() == "f"  # a new start: the reminder job owes one for it


def test_cancel_one_day_frees_it_and_the_invite_and_feed_say_so(fresh_server, tandem):
    srv = fresh_server
    doc, token, days = book_intensive(srv)
    r = cli(tandem, srv, "cancel-day", doc["reference"], "1")
    assert r.returncode == 0 and r.stdout.strip() == f"booking {doc['reference']}: day 1 cancelled", r.stderr
    text, cal = invite(srv, token)
    assert re.search(r"^METHOD:REQUEST\r$", text, re.M), text
    # In a REQUEST the day leaves the series as an EXDATE (RFC 5546 lets a REQUEST say only
    # TENTATIVE or CONFIRMED): no override, nothing CANCELLED.
    [master] = cal.walk("VEVENT")
    assert [x.dt for x in master["EXDATE"].dts] == [days[0][0]]
    assert "STATUS:CANCELLED" not in text
    assert instants(cal, days) == [(days[1][0].astimezone(UTC), days[1][1].astimezone(UTC))]
    assert srv.sql("SELECT day_index, active, cancelled_at IS NOT NULL FROM booking_block"
                   " WHERE booking_id = :'p1' ORDER BY day_index", doc["id"]) == [("0", "f", "t"), ("1", "t", "f")]
    # The booking now spans its remaining day.
    assert srv.sql("SELECT extract(epoch FROM starts_at)::bigint FROM booking WHERE id = :'p1'", doc["id"]) == [
        (str(int(days[1][0].timestamp())),)]
    # A status change does not bring the cancelled day back.
    srv.sql("UPDATE booking SET status = 'confirmed', hold_expires_at = NULL WHERE id = :'p1'", doc["id"])
    assert srv.sql("SELECT active FROM booking_block WHERE booking_id = :'p1' ORDER BY day_index",
                   doc["id"]) == [("f",), ("t",)]
    # The clinician's feed shows day 1 as cancelled, day 2 as it is.
    r = tandem(["feed", "create", "--clinician", "clinician@riverbend.example", "--name", "Phone"],
               srv.dsn, srv.port)
    assert r.returncode == 0, r.stderr
    url = re.search(r"^url: (\S+)$", r.stdout, re.M).group(1)
    feed = srv.get(url[len(srv.base):])
    assert feed.status == 200
    fev = {str(e["UID"]).split("-", 1)[0]: e for e in icalendar.Calendar.from_ical(feed.body).walk("VEVENT")}
    assert str(fev["d1"]["STATUS"]) == "CANCELLED" and str(fev["d2"]["STATUS"]) == "CONFIRMED"
    # The last remaining day cannot be cancelled on its own.
    r = cli(tandem, srv, "cancel-day", doc["reference"], "2")
    assert r.returncode != 0 and "last day" in r.stderr
    r = cli(tandem, srv, "cancel-day", doc["reference"], "1")
    assert r.returncode != 0 and "no booking" in r.stderr


def test_a_day_cannot_move_onto_other_booked_time(fresh_server, tandem):
    srv = fresh_server
    doc, token, days = book_intensive(srv)
    # Day 2 onto day 1's time overlaps the booking's own active day 1.
    r = cli(tandem, srv, "move-day", doc["reference"], "2", days[0][0].isoformat())
    assert r.returncode != 0 and "already has something at that time" in r.stderr
    _, cal = invite(srv, token)
    assert len(cal.walk("VEVENT")) == 1
    for bad in [["move-day", doc["reference"], "3", days[1][0].isoformat()],
                ["move-day", "TND-ZZZZ", "1", days[1][0].isoformat()],
                ["move-day", doc["reference"], "2", "tomorrow"],
                ["cancel-day", doc["reference"], "0"]]:
        r = cli(tandem, srv, *bad)
        assert r.returncode != 0, bad


def test_a_whole_reschedule_starts_a_new_series(fresh_server, tandem):
    srv = fresh_server
    doc, token, days = book_intensive(srv)
    new_start = days[1][0] + timedelta(hours=1)
    assert cli(tandem, srv, "move-day", doc["reference"], "2", new_start.isoformat()).returncode == 0
    d0 = days[0][0].date() + timedelta(days=7)
    r = srv.get(f"/api/v1/availability?offering=intensive-2day&from={d0}&to={d0 + timedelta(days=30)}")
    later = r.json()["slots"][0]["start"]
    r = srv.request("POST", f"/api/v1/manage/{token}/reschedule", body={"start": later})
    assert r.status == 200, r.body[:300]
    text, cal = invite(srv, token)
    assert "RECURRENCE-ID" not in text and len(cal.walk("VEVENT")) == 1
    assert cal.walk("VEVENT")[0]["DTSTART"].dt == datetime.fromisoformat(later)


@pytest.mark.parametrize("day", ["1", "2"])
def test_no_override_for_a_one_day_booking(fresh_server, tandem, day):
    srv = fresh_server
    d0 = datetime.now(CHI).date() + timedelta(days=14)
    r = srv.get(f"/api/v1/availability?offering=consult&from={d0}&to={d0 + timedelta(days=14)}")
    start = r.json()["slots"][0]["start"]
    body = {"offering": "consult", "start": start, "consent": True,
            "clients": [{"name": "A B", "email": "a@example.com"}, {"name": "C D", "email": "c@example.com"}]}
    doc = srv.request("POST", "/api/v1/bookings", body=body).json()
    r = cli(tandem, srv, "cancel-day", doc["reference"], day)
    assert r.returncode != 0
