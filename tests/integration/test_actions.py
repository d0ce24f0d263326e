"""Issue 7 §4: the clinician's actions on a booking — approve, decline with a
message, cancel with a reason, reschedule, move or cancel one day,
completed / no-show, private notes, other times proposed to the booker.

Each action is a POST from the booking page with the session's CSRF token
and the booking's version; each test reads back the status, the history
row, the audit entry and every message the action queued (the outbox rows,
then the delivered files with their METHOD and SEQUENCE).
"""

import email
import email.policy
import html
import json
import re
import secrets
import shutil
import subprocess
import tempfile
import urllib.parse
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from test_admin import CSRF_RE, Client, add_clinician, signed_in
from test_intake import CALM, FLAG_NAMES, FORBIDDEN, _pg_dump

CHI = ZoneInfo("America/Chicago")
VERSION_RE = re.compile(r'name="version" value="(\d+)"')
STALE = "This booking changed since you opened it."


@pytest.fixture
def srv(server_factory):
    d = tempfile.mkdtemp(prefix="tandem-actions-mail.", dir="/tmp")
    s = server_factory(env={"TANDEM_MAIL_DIR": d, "TANDEM_MAIL_POLL_MS": "100",
                            "TANDEM_INSECURE_DEV_COOKIES": "true"})
    s.mail_dir = d
    yield s
    shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------
# helpers


def slots(srv, slug, days_from, days_to):
    t = datetime.now(CHI).date()
    q = urllib.parse.urlencode({"offering": slug, "from": str(t + timedelta(days=days_from)),
                                "to": str(t + timedelta(days=days_to))})
    r = srv.get("/api/v1/availability?" + q)
    assert r.status == 200, r.body[:300]
    return r.json()["slots"]


def book(srv, slug="intensive-2day", n=0):
    tag = secrets.token_hex(4)
    booker = {"name": f"Avery Quill{tag}", "email": f"avery.{tag}@example.com"}
    partner = {"name": f"Jordan Marchbank{tag}", "email": f"jordan.{tag}@example.org"}
    start = (slots(srv, slug, 8, 120) if slug.startswith("intensive") else slots(srv, slug, 2, 50))[n]["start"]
    r = srv.request("POST", "/api/v1/bookings", body={
        "offering": slug, "start": start, "clients": [booker, partner], "consent": True})
    assert r.status == 201, r.body[:300]
    doc = r.json()
    doc["token"] = doc["manage_url"].rsplit("/", 1)[1]
    return doc, booker, partner


def page(c, bid):
    r = c.get(f"/admin/bookings/{bid}")
    assert r.status == 200, r
    return r.body


def form_fields(body, srv=None, bid=None):
    v = VERSION_RE.search(body)
    if v:
        version = v.group(1)
    else:  # a closed booking's page has no action forms: a hand-made POST
        version = srv.sql("SELECT (extract(epoch FROM updated_at) * 1000000)::bigint FROM booking"
                          " WHERE id = :'p1'", bid)[0][0]
    return {"csrf": CSRF_RE.search(body).group(1), "version": version}


def act(c, bid, action, body=None, **fields):
    """POSTs an action with the CSRF token and the version from the page
    (or from body, a page read earlier)."""
    base = form_fields(body if body is not None else page(c, bid), c.srv, bid)
    return c.post(f"/admin/bookings/{bid}/{action}", {**base, **fields})


def status_of(srv, bid):
    return srv.sql("SELECT status, ical_sequence FROM booking WHERE id = :'p1'", bid)[0]


def last_event(srv, bid):
    return srv.sql("SELECT actor, coalesce(from_status, ''), to_status, reason, note_enc IS NOT NULL, detail::text"
                   " FROM booking_event WHERE booking_id = :'p1' ORDER BY id DESC LIMIT 1", bid)[0]


def audits(srv, bid, action):
    return [(a, json.loads(d)) for a, d in srv.sql(
        "SELECT actor, detail::text FROM audit_log WHERE target = :'p1' AND action = :'p2' ORDER BY id",
        f"booking:{bid}", action)]


def outbox(srv, bid, after=0):
    return srv.sql("SELECT id, kind, recipient_role, message_id FROM outbox WHERE booking_id = :'p1'"
                   " AND id > :'p2'::bigint ORDER BY id", bid, after)


def outbox_head(srv, bid):
    rows = outbox(srv, bid)
    return int(rows[-1][0]) if rows else 0


def delivered(srv, helpers, message_ids):
    """The delivered messages with these Message-IDs (file transport)."""
    want = {m.strip("<>") for m in message_ids}

    def read():
        out = {}
        for f in Path(srv.mail_dir).glob("*.eml"):
            m = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
            mid = (m["Message-ID"] or "").strip().strip("<>")
            if mid in want:
                out[mid] = m
        return out

    helpers.wait_until(lambda: len(read()) == len(want), timeout=20, interval=0.1, what="messages delivered")
    got = read()
    return [got[m.strip("<>")] for m in message_ids]


def text_of(m):
    parts = [str(m["Subject"])]
    for p in m.walk():
        if p.get_content_maintype() == "text":
            parts.append(p.get_content())
    return "\n".join(parts)


def part(m, ctype):
    for p in m.walk():
        if p.get_content_type() == ctype:
            return p.get_content()
    return None


def calendar(m):
    cal = part(m, "text/calendar")
    assert cal, m["Subject"]
    method = re.search(r"^METHOD:(\S+)\r?$", cal, re.M).group(1)
    seqs = set(re.findall(r"^SEQUENCE:(\d+)\r?$", cal, re.M))
    assert len(seqs) == 1, cal
    return method, int(seqs.pop()), cal


def assert_private(msgs, *secrets_):
    for m in msgs:
        t = text_of(m)
        assert not FLAG_NAMES.search(t) and not FORBIDDEN.search(t), t
        for s in secrets_:
            assert s not in t


def assert_not_crossed(msgs, booker, partner):
    """No message names the other partner."""
    for m in msgs:
        t = text_of(m)
        if booker["email"] in to_addr(m):
            assert partner["name"] not in t and partner["email"] not in t
        else:
            assert partner["email"] in to_addr(m)
            assert booker["name"] not in t and booker["email"] not in t


def mails_for(srv, helpers, bid, after, kinds_roles):
    """The messages queued after outbox id `after`: exactly kinds_roles
    [(kind, role)], delivered; returned in that order."""
    rows = outbox(srv, bid, after)
    assert [(k, r) for _, k, r, _ in rows] == kinds_roles
    msgs = delivered(srv, helpers, [mid for _, _, _, mid in rows])
    return msgs


def to_addr(m):
    return str(m["To"])


# --------------------------------------------------------------------------
# approve


def test_approve_confirms_and_sends_each_client_the_invite(srv, helpers):
    doc, booker, partner = book(srv)
    bid = doc["id"]
    assert status_of(srv, bid) == ("held", "0")
    c = signed_in(srv)
    body = page(c, bid)
    assert 'action="/admin/bookings/%d/approve"' % bid in body
    assert "I have read both intakes" not in body  # no flags: no acknowledgement needed
    # But the page says the intakes are not in yet, and what approving now means.
    assert body.count('<span class="intake-state" data-state="not started">not started</span>') == 2
    assert "Not every intake is sent yet: approving now confirms the booking before its safety screen is complete." in body
    head = outbox_head(srv, bid)
    r = act(c, bid, "approve", body)
    assert r.status == 303 and r.headers["location"] == f"/admin/bookings/{bid}?done=approved", r
    assert status_of(srv, bid) == ("confirmed", "1")
    assert srv.sql("SELECT hold_expires_at IS NULL FROM booking WHERE id = :'p1'", bid) == [("t",)]
    assert last_event(srv, bid) == ("clinician:1", "held", "confirmed", "approved by clinician", "f", "{}")
    assert audits(srv, bid, "booking.approve") == [("clinician:1", {"from": "held", "to": "confirmed"})]
    msgs = mails_for(srv, helpers, bid, head, [("confirmed", "booker"), ("confirmed", "partner")])
    assert [to_addr(m).split("<")[-1].rstrip(">") for m in msgs] == [booker["email"], partner["email"]]
    for m in msgs:
        method, seq, cal = calendar(m)
        assert (method, seq) == ("REQUEST", 1)
        assert "STATUS:CONFIRMED" in cal
    assert_private(msgs)
    assert_not_crossed(msgs, booker, partner)
    # The flash after the redirect.
    r = c.get(r.headers["location"])
    assert "Approved: each client was sent the confirmation and the invite." in r.body
    # Approving again: the booking is confirmed now.
    r = act(c, bid, "approve")
    assert r.status == 409 and "This booking is confirmed: it cannot be approved." in html.unescape(r.body)
    assert outbox_head(srv, bid) == int(outbox(srv, bid)[-1][0])


def flagged_booking(srv, helpers):
    """A held intensive whose booker's intake raised a screening flag."""
    from test_intake import accept, api, intake_token, messages, to
    doc, booker, partner = book(srv)
    msgs = messages(srv, helpers, 3)
    [bi] = to(msgs, booker["email"])
    bt = intake_token(bi)
    accept(srv, bt)
    r = api(srv, "POST", bt, {"answers": {**CALM, "outside_relationship": "yes"}, "signature": booker["name"]},
            "/submit")
    assert r.status == 200, r.body[:300]
    assert srv.sql("SELECT needs_review FROM booking WHERE id = :'p1'", doc["id"]) == [("t",)]
    return doc, booker, partner


def test_a_flagged_booking_needs_the_acknowledgement(srv, helpers):
    doc, booker, partner = flagged_booking(srv, helpers)
    bid = doc["id"]
    c = signed_in(srv)
    body = page(c, bid)
    assert "Screening flags" in body and '<strong class="flag">Affair</strong>' in body
    assert "Partner 1 (booked)" in body
    assert "I have read both intakes and the screening flags" in body
    head = outbox_head(srv, bid)
    r = act(c, bid, "approve", body)
    assert r.status == 422, r
    assert "I have read both intakes and the screening flags" in html.unescape(r.body)
    assert status_of(srv, bid) == ("held", "0")
    assert audits(srv, bid, "booking.approve") == []
    assert outbox_head(srv, bid) == head
    r = act(c, bid, "approve", body, reviewed="yes")
    assert r.status == 303, r
    assert status_of(srv, bid) == ("confirmed", "1")
    assert last_event(srv, bid)[2:4] == ("confirmed", "approved by clinician")
    assert json.loads(last_event(srv, bid)[5]) == {"reviewed": True}
    assert audits(srv, bid, "booking.approve") == [
        ("clinician:1", {"from": "held", "to": "confirmed", "reviewed": True})]
    msgs = mails_for(srv, helpers, bid, head, [("confirmed", "booker"), ("confirmed", "partner")])
    assert_private(msgs, "affair", "outside_relationship")
    assert_not_crossed(msgs, booker, partner)


# --------------------------------------------------------------------------
# decline, cancel


def test_decline_with_a_message_sends_it_escaped_and_keeps_it_sealed(srv, helpers):
    doc, booker, partner = book(srv)
    bid = doc["id"]
    c = signed_in(srv)
    mark = "declinemark" + secrets.token_hex(8)
    message = f'We are full in spring <b onclick="x()">{mark}</b> & sorry.\nPlease write again.'
    head = outbox_head(srv, bid)
    r = act(c, bid, "decline", message=message)
    assert r.status == 303 and r.headers["location"].endswith("?done=declined"), r
    assert status_of(srv, bid) == ("declined", "1")
    ev = last_event(srv, bid)
    assert ev[:5] == ("clinician:1", "held", "declined", "declined by clinician", "t")
    assert audits(srv, bid, "booking.decline") == [("clinician:1", {"from": "held", "to": "declined"})]
    msgs = mails_for(srv, helpers, bid, head, [("declined", "booker"), ("declined", "partner")])
    for m in msgs:
        method, seq, _ = calendar(m)
        assert (method, seq) == ("CANCEL", 1)
        assert message in part(m, "text/plain").replace("\r\n", "\n")
        h = part(m, "text/html")
        assert "<b onclick" not in h and "&lt;b onclick=" in h and f"{mark}&lt;/b&gt; &amp; sorry." in h
    assert_private(msgs)
    assert_not_crossed(msgs, booker, partner)
    # Never in the log, never in clear in the database.
    assert mark not in srv.log()
    dump = subprocess.run([_pg_dump(), "--no-owner", srv.dsn], capture_output=True, check=True,
                          timeout=60).stdout
    assert mark.encode() not in dump
    # The clinician's page shows it back, escaped.
    body = page(c, bid)
    words = body.split('id="words-h"')[1].split("</section>")[0]
    assert "declined by clinician" in words and f"&lt;b onclick=" in words and f"{mark}&lt;/b&gt;" in words
    assert "<b onclick" not in body
    # A message over the limit is refused, nothing changes.
    doc2, _, _ = book(srv, n=3)
    r = act(c, doc2["id"], "decline", message="x" * 2001)
    assert r.status == 422 and "at most 2000 characters" in r.body
    assert status_of(srv, doc2["id"]) == ("held", "0")


def test_cancel_with_a_reason_sends_cancel_and_refuses_a_second_change(srv, helpers):
    doc, booker, partner = book(srv, "consult")
    bid = doc["id"]
    assert status_of(srv, bid) == ("confirmed", "0")
    c = signed_in(srv)
    head = outbox_head(srv, bid)
    reason = "reasonmark" + secrets.token_hex(6)
    body = page(c, bid)
    r = act(c, bid, "cancel", body, reason=reason)
    assert r.status == 303 and r.headers["location"].endswith("?done=cancelled"), r
    assert status_of(srv, bid) == ("cancelled", "1")
    assert last_event(srv, bid)[:5] == ("clinician:1", "confirmed", "cancelled", "cancelled by clinician", "t")
    assert audits(srv, bid, "booking.cancel") == [("clinician:1", {"from": "confirmed", "to": "cancelled"})]
    msgs = mails_for(srv, helpers, bid, head, [("cancelled", "booker"), ("cancelled", "partner")])
    for m in msgs:
        assert calendar(m)[:2] == ("CANCEL", 1)
    assert_private(msgs, reason)
    # Kept sealed with the client's own cancel reasons; shown to the clinician.
    assert reason not in srv.log()
    assert f"cancelled by clinician: <q style=\"white-space:pre-line\">{reason}</q>" in page(c, bid)
    # The old page is stale now.
    r = act(c, bid, "approve", body)
    assert r.status == 409 and STALE in r.body
    # With the fresh version: a cancelled booking cannot be approved.
    r = act(c, bid, "approve")
    assert r.status == 409 and "This booking is cancelled: it cannot be approved." in html.unescape(r.body)
    assert status_of(srv, bid) == ("cancelled", "1")
    assert len(audits(srv, bid, "booking.approve")) == 0


# --------------------------------------------------------------------------
# reschedule, one day


def test_reschedule_to_an_offered_start(srv, helpers):
    doc, booker, partner = book(srv)
    bid = doc["id"]
    c = signed_in(srv)
    body = page(c, bid)
    options = re.findall(r'<select id="reschedule-start" name="start" required>(.*?)</select>', body, re.S)
    assert options
    starts = re.findall(r'<option value="([^"]+)">', options[0])
    assert starts and doc["blocks"][0]["start"] not in starts
    new = starts[-1]
    head = outbox_head(srv, bid)
    r = act(c, bid, "reschedule", body, start=new)
    assert r.status == 303 and r.headers["location"].endswith("?done=rescheduled"), r
    assert status_of(srv, bid) == ("held", "1")
    assert srv.sql("SELECT extract(epoch FROM starts_at)::bigint FROM booking WHERE id = :'p1'", bid) == [
        (str(int(datetime.fromisoformat(new).timestamp())),)]
    ev = last_event(srv, bid)
    assert ev[:4] == ("clinician:1", "held", "held", "rescheduled by clinician")
    assert json.loads(ev[5])["to"] == int(datetime.fromisoformat(new).timestamp())
    assert audits(srv, bid, "booking.reschedule") == [("clinician:1", {"from": "held", "to": "held"})]
    msgs = mails_for(srv, helpers, bid, head, [("rescheduled", "booker"), ("rescheduled", "partner")])
    for m in msgs:
        assert calendar(m)[:2] == ("REQUEST", 1)
    # A start that is not offered: refused, nothing moves.
    bad = (datetime.fromisoformat(new) + timedelta(hours=3)).isoformat()
    r = act(c, bid, "reschedule", start=bad)
    assert r.status in (409, 422), r
    assert status_of(srv, bid) == ("held", "1")


def test_move_and_cancel_one_day(srv, helpers):
    doc, booker, partner = book(srv)
    bid = doc["id"]
    c = signed_in(srv)
    body = page(c, bid)
    assert 'action="/admin/bookings/%d/move-day"' % bid in body
    day2 = datetime.fromisoformat(doc["blocks"][1]["start"]).astimezone(CHI)
    new = day2 + timedelta(hours=1)
    head = outbox_head(srv, bid)
    r = act(c, bid, "move-day", body, day="2", start=new.strftime("%Y-%m-%dT%H:%M"))
    assert r.status == 303 and r.headers["location"].endswith("?done=day_moved"), r
    assert srv.sql("SELECT extract(epoch FROM starts_at)::bigint FROM booking_block WHERE booking_id = :'p1'"
                   " AND day_index = 1", bid) == [(str(int(new.timestamp())),)]
    assert last_event(srv, bid)[3] == "day moved by clinician"
    assert audits(srv, bid, "booking.move_day") == [("clinician:1", {"from": "held", "to": "held", "day": 2})]
    msgs = mails_for(srv, helpers, bid, head, [("rescheduled", "booker"), ("rescheduled", "partner")])

    def long_date(d):
        return f"{d:%A}, {d:%B} {d.day}, {d.year}"

    day1 = datetime.fromisoformat(doc["blocks"][0]["start"]).astimezone(CHI)
    for m in msgs:
        method, seq, cal = calendar(m)
        assert (method, seq) == ("REQUEST", 1) and "RECURRENCE-ID" in cal
        # The words name the day that changed, not the unchanged first one.
        clock = new.strftime("%I:%M %p").lstrip("0")
        assert str(m["Subject"]) == f"Riverbend Practice: day 2 moved to {long_date(new)}, {clock}"
        body = m.get_body(("plain",)).get_content()
        was = day2.strftime("%I:%M %p").lstrip("0")
        assert (f"Day 2, which was on {long_date(day2)} at {was}, has moved to {long_date(new)} at {clock}."
                " The days are now:") in body
    head = outbox_head(srv, bid)
    r = act(c, bid, "cancel-day", day="1")
    assert r.status == 303, r
    assert srv.sql("SELECT day_index, cancelled_at IS NOT NULL FROM booking_block WHERE booking_id = :'p1'"
                   " ORDER BY day_index", bid) == [("0", "t"), ("1", "f")]
    assert last_event(srv, bid)[3] == "day cancelled by clinician"
    msgs = mails_for(srv, helpers, bid, head, [("rescheduled", "booker"), ("rescheduled", "partner")])
    for m in msgs:
        # The day alone is cancelled: METHOD:CANCEL, one VEVENT with its RECURRENCE-ID.
        method, seq, cal = calendar(m)
        assert (method, seq) == ("CANCEL", 2)
        assert cal.count("BEGIN:VEVENT") == 1 and "STATUS:CANCELLED" in cal and "RRULE" not in cal.split("BEGIN:VEVENT")[1]
        rid = day1.strftime("%Y%m%dT%H%M%S")
        assert f"RECURRENCE-ID;TZID=America/Chicago:{rid}" in cal
        assert str(m["Subject"]) == f"Riverbend Practice: day 1 on {long_date(day1)} cancelled"
        body = m.get_body(("plain",)).get_content()
        assert f"Day 1, on {long_date(day1)}, is cancelled; the other days stay as they were." in body
    # No such day, or one already cancelled: a form to fix.
    r = act(c, bid, "cancel-day", day="5")
    assert r.status == 422 and "still takes place" in r.body
    r = act(c, bid, "move-day", day="1", start=new.strftime("%Y-%m-%dT%H:%M"))
    assert r.status == 422
    # The last remaining day cannot go on its own.
    r = act(c, bid, "cancel-day", day="2")
    assert r.status == 409 and "last remaining day" in r.body


# --------------------------------------------------------------------------
# completed, no-show


def test_completed_and_no_show_only_after_the_end(srv, helpers):
    doc, _, _ = book(srv, "consult")
    doc2, _, _ = book(srv, "consult", n=5)
    c = signed_in(srv)
    bid = doc["id"]
    r = act(c, bid, "complete")
    assert r.status == 409 and "has not ended yet" in r.body
    for b in (doc["id"], doc2["id"]):
        srv.sql("UPDATE booking SET starts_at = now() - interval '2 hours', ends_at = now() - interval '100 minutes'"
                " WHERE id = :'p1'", b)
    body = page(c, bid)
    assert "Mark completed" in body and "Mark as no-show" in body
    head = outbox_head(srv, bid)
    r = act(c, bid, "complete", body)
    assert r.status == 303 and r.headers["location"].endswith("?done=completed"), r
    assert status_of(srv, bid) == ("completed", "0")
    assert last_event(srv, bid)[:4] == ("clinician:1", "confirmed", "completed", "completed")
    assert audits(srv, bid, "booking.complete") == [("clinician:1", {"from": "confirmed", "to": "completed"})]
    r = act(c, doc2["id"], "no-show")
    assert r.status == 303, r
    assert status_of(srv, doc2["id"]) == ("no_show", "0")
    assert audits(srv, doc2["id"], "booking.no_show") == [("clinician:1", {"from": "confirmed", "to": "no_show"})]
    # No message for either.
    assert outbox_head(srv, bid) == head
    r = act(c, bid, "no-show")
    assert r.status == 409 and "This booking is completed" in r.body


# --------------------------------------------------------------------------
# notes


def test_private_notes_are_sealed_escaped_and_only_for_the_booking_s_clinicians(srv, helpers, tandem, tmp_path):
    doc, _, _ = book(srv)
    bid = doc["id"]
    c = signed_in(srv)
    mark = "notemark" + secrets.token_hex(8)
    note = f'<script>alert("{mark}")</script>\n"><img src=x onerror=alert(1)>'
    body = page(c, bid)
    r = c.post(f"/admin/bookings/{bid}/notes", {"csrf": form_fields(body)["csrf"], "note": note})
    assert r.status == 303 and r.headers["location"] == f"/admin/bookings/{bid}?done=noted", r
    r = c.post(f"/admin/bookings/{bid}/notes", {"csrf": form_fields(body)["csrf"], "note": "second"})
    assert r.status == 303
    body = page(c, bid)
    assert "<script>alert" not in body and "<img src=x" not in body
    assert html.escape(f'<script>alert("{mark}")</script>') in body.replace("&#39;", "'").replace("&#34;", "&quot;")
    assert body.index(mark) < body.index(">second<")
    assert "Dr. Maya Lindqvist" in body.split('id="notes-h"')[1]
    rows = audits(srv, bid, "booking.note")
    assert len(rows) == 2 and rows[0][0] == "clinician:1" and set(rows[0][1]) == {"note"}
    assert mark not in srv.log()
    dump = subprocess.run([_pg_dump(), "--no-owner", srv.dsn], capture_output=True, check=True,
                          timeout=60).stdout
    assert b"booking_note" in dump and mark.encode() not in dump
    # Append-only.
    with pytest.raises(Exception):
        srv.sql("DELETE FROM booking_note WHERE booking_id = :'p1'", bid)
    # A long note in any script fits (10000 characters of 3-byte UTF-8).
    assert c.post(f"/admin/bookings/{bid}/notes",
                  {"csrf": form_fields(body)["csrf"], "note": "界" * 10000}).status == 303
    # Empty and oversized notes are refused.
    assert c.post(f"/admin/bookings/{bid}/notes", {"csrf": form_fields(body)["csrf"], "note": ""}).status == 422
    assert c.post(f"/admin/bookings/{bid}/notes",
                  {"csrf": form_fields(body)["csrf"], "note": "n" * 10001}).status == 422
    # Another (non-owner) clinician: the booking and its notes do not exist for them.
    add_clinician(tandem, srv, tmp_path, "other@riverbend.example", "Dr. Other", "other-password-2026")
    o = signed_in(srv, "other@riverbend.example", "other-password-2026")
    assert o.get(f"/admin/bookings/{bid}").status == 404
    csrf = o.csrf()
    assert o.post(f"/admin/bookings/{bid}/notes", {"csrf": csrf, "note": "mine"}).status == 404
    assert srv.sql("SELECT count(*) FROM booking_note WHERE booking_id = :'p1'", bid) == [("3",)]


# --------------------------------------------------------------------------
# access: CSRF, someone else's booking


@pytest.mark.parametrize("action,extra", [("approve", {}), ("decline", {"message": "x"}),
                                          ("cancel", {}), ("reschedule", {"start": "2030-01-01T09:00:00Z"}),
                                          ("complete", {}), ("no-show", {}), ("propose", {}),
                                          ("move-day", {"day": "1"}), ("cancel-day", {"day": "1"}),
                                          ("notes", {"note": "n"})])
def test_every_action_needs_csrf_and_reach(srv, tandem, tmp_path, action, extra):
    doc, _, _ = book(srv)
    bid = doc["id"]
    c = signed_in(srv)
    f = form_fields(page(c, bid))
    r = c.post(f"/admin/bookings/{bid}/{action}", {"version": f["version"], **extra})
    assert r.status == 403, r
    r = c.post(f"/admin/bookings/{bid}/{action}", {"csrf": "0" * 64, "version": f["version"], **extra})
    assert r.status == 403, r
    add_clinician(tandem, srv, tmp_path, "other@riverbend.example", "Dr. Other", "other-password-2026")
    o = signed_in(srv, "other@riverbend.example", "other-password-2026")
    r = o.post(f"/admin/bookings/{bid}/{action}", {"csrf": o.csrf(), "version": f["version"], **extra})
    assert r.status == 404, r
    assert o.post(f"/admin/bookings/99999/{action}", {"csrf": o.csrf(), **extra}).status == 404
    # Without a session: to the sign-in page.
    anon = Client(srv)
    assert anon.post(f"/admin/bookings/{bid}/{action}", {"csrf": f["csrf"], **extra}).status in (303, 403)
    assert status_of(srv, bid) == ("held", "0")
    assert srv.sql("SELECT count(*) FROM booking_event WHERE booking_id = :'p1'", bid) == [("1",)]
    assert srv.sql("SELECT count(*) FROM booking_note WHERE booking_id = :'p1'", bid) == [("0",)]


def test_a_stale_page_is_refused(srv, helpers):
    doc, _, _ = book(srv)
    bid = doc["id"]
    c = signed_in(srv)
    old = page(c, bid)
    # Someone else changes it meanwhile (here: the booker moves it).
    other = slots(srv, "intensive-2day", 8, 120)[-1]["start"]
    r = srv.request("POST", f"/api/v1/manage/{doc['token']}/reschedule", body={"start": other})
    assert r.status == 200, r.body[:300]
    for action, extra in (("approve", {}), ("decline", {"message": "no"}), ("cancel", {}),
                          ("propose", {"start1": other})):
        r = act(c, bid, action, old, **extra)
        assert r.status == 409 and STALE in r.body, (action, r)
    assert status_of(srv, bid) == ("held", "1")
    assert audits(srv, bid, "booking.approve") == []
    # A form without the version is stale too.
    r = c.post(f"/admin/bookings/{bid}/approve", {"csrf": form_fields(old)["csrf"]})
    assert r.status == 409 and STALE in r.body


# --------------------------------------------------------------------------
# other times proposed


def test_propose_other_times_and_the_booker_takes_one(srv, helpers):
    doc, booker, partner = book(srv)
    bid = doc["id"]
    c = signed_in(srv)
    body = page(c, bid)
    opts = re.findall(r'<select id="start1" name="start1" required>(.*?)</select>', body, re.S)[0]
    starts = re.findall(r'<option value="([^"]+)">', opts)
    a, b = starts[2], starts[-1]
    head = outbox_head(srv, bid)
    r = act(c, bid, "propose", body, start1=a, start2=b, start3="")
    assert r.status == 303 and r.headers["location"].endswith("?done=proposed"), r
    assert status_of(srv, bid) == ("held", "0")
    ev = last_event(srv, bid)
    assert ev[2:4] == ("held", "other times proposed")
    ts = sorted(int(datetime.fromisoformat(s).timestamp()) for s in (a, b))
    assert json.loads(ev[5]) == {"starts": [int(datetime.fromisoformat(a).timestamp()),
                                            int(datetime.fromisoformat(b).timestamp())], "confirms": True}
    assert audits(srv, bid, "booking.propose") == [("clinician:1", {"from": "held", "to": "held"})]
    [m] = mails_for(srv, helpers, bid, head, [("proposed", "booker")])
    assert booker["email"] in to_addr(m)
    t = text_of(m)
    assert f"/b/{doc['token']}" in t
    assert_private([m], partner["name"], partner["email"])
    # The booker's page shows them with a button each.
    r = srv.get(f"/b/{doc['token']}")
    assert r.status == 200
    page_text = r.body.decode()
    assert "Other times the practice proposes" in page_text
    assert page_text.count("Take this time") == 2
    assert f'value="{a}"' in page_text and f'value="{b}"' in page_text
    # The partner's read-only link does not offer them.
    from test_intake import intake_token, messages, to
    [pi] = [m for m in to(messages(srv, helpers, 1), partner["email"]) if "/intake/" in text_of(m)]
    r = srv.get(f"/b/{intake_token(pi)}")
    assert r.status == 200 and "Take this time" not in r.body.decode()
    # Taking one moves and confirms the booking.
    head = outbox_head(srv, bid)
    r = srv.request("POST", f"/b/{doc['token']}/reschedule",
                    headers={"Content-Type": "application/x-www-form-urlencoded"},
                    body=urllib.parse.urlencode({"start": b}))
    assert r.status == 303, r.body[:300]
    assert status_of(srv, bid) == ("confirmed", "1")
    assert srv.sql("SELECT extract(epoch FROM starts_at)::bigint FROM booking WHERE id = :'p1'", bid) == [
        (str(ts[-1] if b == starts[-1] else ts[0]),)]
    assert last_event(srv, bid)[2:4] == ("confirmed", "proposed time taken")
    assert srv.sql("SELECT count(*) FROM booking_proposal WHERE booking_id = :'p1'", bid) == [("0",)]
    msgs = mails_for(srv, helpers, bid, head, [("confirmed", "booker"), ("confirmed", "partner")])
    for m in msgs:
        assert calendar(m)[:2] == ("REQUEST", 1)
    # More than three, or a time not offered: refused.
    doc2, _, _ = book(srv, n=4)
    r = act(c, doc2["id"], "propose", start1="2020-01-06T09:00:00-06:00")
    assert r.status in (409, 422), r
    assert srv.sql("SELECT count(*) FROM booking_proposal WHERE booking_id = :'p1'", doc2["id"]) == [("0",)]


# --------------------------------------------------------------------------
# reviewer's findings (regressions)


def take(srv, token, start):
    return srv.request("POST", f"/b/{token}/reschedule",
                       headers={"Content-Type": "application/x-www-form-urlencoded"},
                       body=urllib.parse.urlencode({"start": start}))


def epoch(s):
    return str(int(datetime.fromisoformat(s).timestamp()))


def starts_of(srv, bid):
    return srv.sql("SELECT extract(epoch FROM starts_at)::bigint, clinician_id FROM booking WHERE id = :'p1'",
                   bid)[0]


def proposable(c, bid):
    body = page(c, bid)
    opts = re.findall(r'<select id="start1" name="start1" required>(.*?)</select>', body, re.S)[0]
    return body, re.findall(r'<option value="([^"]+)">', opts)


def test_a_flag_raised_after_a_proposal_stops_it_confirming(srv, helpers):
    from test_intake import accept, api, intake_token
    doc, booker, partner = book(srv)
    bid = doc["id"]
    c = signed_in(srv)
    body, starts = proposable(c, bid)
    r = act(c, bid, "propose", body, start1=starts[-1], start2="", start3="")
    assert r.status == 303, r
    assert srv.sql("SELECT confirms FROM booking_proposal WHERE booking_id = :'p1'", bid) == [("t",)]
    # Partner 2's intake raises a flag after the proposal was made.
    msgs = [m for m in delivered_all(srv, helpers, 3) if partner["email"] in m["To"] and "/intake/" in text_of(m)]
    pt = intake_token(msgs[0])
    accept(srv, pt)
    r = api(srv, "POST", pt, {"answers": {**CALM, "outside_relationship": "yes"}, "signature": partner["name"]},
            "/submit")
    assert r.status == 200, r.body[:300]
    assert srv.sql("SELECT needs_review FROM booking WHERE id = :'p1'", bid) == [("t",)]
    # Taking it moves the booking but leaves it for the clinician to approve.
    r = take(srv, doc["token"], starts[-1])
    assert r.status == 303, r.body[:300]
    assert status_of(srv, bid) == ("held", "1")
    assert starts_of(srv, bid)[0] == epoch(starts[-1])
    assert last_event(srv, bid)[2:4] == ("held", "rescheduled by client")
    assert srv.sql("SELECT count(*) FROM booking_proposal WHERE booking_id = :'p1'", bid) == [("0",)]
    # A proposal made with the review ticked does confirm when taken.
    body, starts = proposable(c, bid)
    r = act(c, bid, "propose", body, start1=starts[0], start2="", start3="", reviewed="yes")
    assert r.status == 303, r
    assert json.loads(last_event(srv, bid)[5])["reviewed"] is True
    r = take(srv, doc["token"], starts[0])
    assert r.status == 303, r.body[:300]
    assert status_of(srv, bid) == ("confirmed", "2")
    assert last_event(srv, bid)[2:4] == ("confirmed", "proposed time taken")


def delivered_all(srv, helpers, want):
    from test_intake import messages
    return messages(srv, helpers, want)


def test_moves_keep_the_booking_s_own_clinician(srv, helpers, tandem, tmp_path):
    doc, booker, partner = book(srv)
    bid = doc["id"]
    own_start, own = starts_of(srv, bid)
    oid = srv.sql("SELECT id FROM offering WHERE slug = 'intensive-2day'")[0][0]
    # The booking's clinician is away one day; a second clinician works it.
    far = datetime.fromisoformat(slots(srv, "intensive-2day", 8, 120)[-1]["start"]).astimezone(CHI).date()
    srv.sql("INSERT INTO availability_override (clinician_id, day, kind) VALUES (:'p1', :'p2', 'off')", own, str(far))
    before = {s["start"] for s in slots(srv, "intensive-2day", 8, 120)}
    other = add_clinician(tandem, srv, tmp_path, "second@riverbend.example", "Dr. Second", "correct horse 42 battery")
    srv.sql("UPDATE clinician SET timezone = (SELECT timezone FROM clinician WHERE id = :'p2') WHERE id = :'p1'",
            str(other), own)
    srv.sql("INSERT INTO availability_rule (clinician_id, weekday, starts, ends, offering_id)"
            " SELECT :'p1', weekday, starts, ends, offering_id FROM availability_rule WHERE clinician_id = :'p2'",
            str(other), own)
    srv.sql("INSERT INTO offering_clinician (offering_id, clinician_id) VALUES (:'p1', :'p2')", oid, str(other))
    only_other = sorted({s["start"] for s in slots(srv, "intensive-2day", 8, 120)} - before)
    assert only_other, "the second clinician adds starts"
    s = only_other[-1]  # on the away day, far from the booking's own time
    c = signed_in(srv)
    body = page(c, bid)
    assert f'value="{s}"' not in body
    # Reschedule, propose, and the client's own reschedule: all refused.
    r = act(c, bid, "reschedule", body, start=s)
    assert r.status in (409, 422), r
    r = act(c, bid, "propose", start1=s, start2="", start3="")
    assert r.status in (409, 422), r
    assert srv.sql("SELECT count(*) FROM booking_proposal WHERE booking_id = :'p1'", bid) == [("0",)]
    r = take(srv, doc["token"], s)
    assert r.status != 303, r.body[:300]
    assert starts_of(srv, bid) == (own_start, own)
    assert status_of(srv, bid) == ("held", "0")
    # A start the booking's own clinician has still moves it, with them.
    new = sorted(before)[-1]
    r = act(c, bid, "reschedule", start=new)
    assert r.status == 303, r
    assert starts_of(srv, bid) == (epoch(new), own)


def test_an_inactive_offering_s_bookings_stay_open_to_act_on(srv, helpers):
    doc, booker, partner = book(srv)
    bid = doc["id"]
    elsewhere = slots(srv, "intensive-2day", 8, 120)[-1]["start"]
    srv.sql("UPDATE offering SET active = false WHERE slug = 'intensive-2day'")
    c = signed_in(srv)
    body = page(c, bid)
    assert 'action="/admin/bookings/%d/cancel"' % bid in body
    assert "<option value=" not in "".join(
        re.findall(r'<select id="reschedule-start" name="start" required>(.*?)</select>', body, re.S))
    r = srv.get(f"/b/{doc['token']}")
    assert r.status == 200
    r = srv.get(f"/b/{doc['token']}/reschedule")
    assert r.status == 200
    # No starts to move to: refused, nothing moves.
    r = take(srv, doc["token"], elsewhere)
    assert r.status != 303, r.body[:300]
    assert status_of(srv, bid) == ("held", "0")
    r = act(c, bid, "cancel", body, reason="")
    assert r.status == 303, r
    assert status_of(srv, bid)[0] == "cancelled"


def test_a_proposal_can_be_taken_inside_the_window(srv, helpers):
    doc, booker, partner = book(srv)
    bid = doc["id"]
    c = signed_in(srv)
    body, starts = proposable(c, bid)
    r = act(c, bid, "propose", body, start1=starts[-1], start2="", start3="")
    assert r.status == 303, r
    # Every start is inside the window now.
    srv.sql("UPDATE offering SET cancel_window_hours = 8760 WHERE slug = 'intensive-2day'")
    r = srv.get(f"/b/{doc['token']}")
    assert r.status == 200
    t = r.body.decode()
    assert "Online changes close" in t and t.count("Take this time") == 1
    # Another start is still refused; the proposed one is taken.
    r = take(srv, doc["token"], starts[0])
    assert r.status == 409, r.body[:300]
    assert status_of(srv, bid) == ("held", "0")
    r = take(srv, doc["token"], starts[-1])
    assert r.status == 303, r.body[:300]
    assert status_of(srv, bid) == ("confirmed", "1")
    assert starts_of(srv, bid)[0] == epoch(starts[-1])


def test_move_day_needs_a_start_between_now_and_the_horizon(srv, helpers):
    doc, booker, partner = book(srv)
    bid = doc["id"]
    c = signed_in(srv)
    day2 = datetime.fromisoformat(doc["blocks"][1]["start"]).astimezone(CHI)
    before = srv.sql("SELECT starts_at FROM booking_block WHERE booking_id = :'p1' ORDER BY day_index", bid)
    horizon = int(srv.sql("SELECT horizon_days FROM offering WHERE slug = 'intensive-2day'")[0][0])
    for when in (datetime.now(CHI) - timedelta(days=2), datetime.now(CHI) + timedelta(days=horizon + 2)):
        r = act(c, bid, "move-day", day="2", start=when.strftime("%Y-%m-%dT%H:%M"))
        assert r.status == 422, r
        assert f"A day moves to a start after now and at most {horizon} days ahead." in html.unescape(r.body)
    assert srv.sql("SELECT starts_at FROM booking_block WHERE booking_id = :'p1' ORDER BY day_index", bid) == before
    r = act(c, bid, "move-day", day="2", start=(day2 + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    assert r.status == 303, r


def test_a_cancelled_day_is_not_offered_again(srv, helpers):
    doc, booker, partner = book(srv)
    bid = doc["id"]
    c = signed_in(srv)
    body = page(c, bid)
    assert body.count('<option value="1">Day 1') == 2 and body.count('<option value="2">Day 2') == 2
    r = act(c, bid, "cancel-day", body, day="1")
    assert r.status == 303, r
    body = page(c, bid)
    assert '<option value="1">Day 1' not in body and body.count('<option value="2">Day 2') == 2


def test_an_undelivered_proposal_has_a_label(srv, helpers):
    doc, booker, partner = book(srv)
    srv.sql("INSERT INTO outbox (kind, booking_id, recipient_role, message_id, envelope_from, rcpt_enc,"
            " message_enc, status, attempts, last_error, dead_at) VALUES ('proposed', :'p1', 'booker',"
            " :'p2', 'practice@riverbend.example', '\\x00', '\\x00', 'dead', 1, 'smtp 550', now())",
            doc["id"], f"<{secrets.token_hex(8)}@riverbend.example>")
    c = signed_in(srv)
    r = c.get("/admin")
    assert r.status == 200
    assert "Other times proposed" in r.body
