"""Issue 5: email through a transactional outbox.

A real SMTP server (aiosmtpd, Debian's python3-aiosmtpd) runs on loopback
inside the test process; the real server sends to it with libcurl
(smtp://127.0.0.1:PORT, plain SMTP allowed for the loopback relay). Every
message that arrives is read with Python's email package and checked for
its recipients, headers, MIME structure, calendar method and attachment,
and for what it must never say. The relay can answer 451 or 550, or stall,
to test retries, dead letters and a server killed mid-send.

Servers: each test gets its own (server_factory) and so its own database.
"""

import asyncio
import email
import email.policy
import os
import re
import secrets
import subprocess
import threading
import time
import urllib.parse
from collections import namedtuple
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from tandem_http import assert_json_error, media_type

CHI = ZoneInfo("America/Chicago")
REPO = Path(__file__).resolve().parents[2]
FORBIDDEN = re.compile(r"couple|therap", re.I)
LINK_RE = re.compile(r"/b/([A-Za-z0-9_-]{22,})")
PRACTICE_FROM = ("Riverbend Practice", "hello@riverbend.example")
CLINICIAN = "clinician@riverbend.example"
WAIT = 20.0  # seconds for a message to arrive

Delivery = namedtuple("Delivery", "mail_from rcpt data msg")


# --------------------------------------------------------------------------
# the relay


class Relay:
    """aiosmtpd's handler with a script of answers for the next DATA
    commands: "451 ...", "550 ...", or "stall" (wait until released, then
    answer 451 to a client that is usually gone). Anything else is 250."""

    def __init__(self):
        self.lock = threading.Lock()
        self.script = []
        self.attempts = []  # every message received at DATA, whatever the answer
        self.delivered = []  # Delivery for each 250
        self.release = threading.Event()

    async def handle_DATA(self, server, session, envelope):
        data = bytes(envelope.content)
        with self.lock:
            action = self.script.pop(0) if self.script else "250"
            self.attempts.append(data)
        if action == "stall":
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 Stalled on purpose"
        if action != "250":
            return action
        msg = email.message_from_bytes(data, policy=email.policy.default)
        with self.lock:
            self.delivered.append(Delivery(envelope.mail_from, list(envelope.rcpt_tos), data, msg))
        return "250 2.0.0 Accepted"

    def to(self, address):
        with self.lock:
            return [d for d in self.delivered if address in d.rcpt]

    def count(self):
        with self.lock:
            return len(self.delivered)


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def relay():
    handler = Relay()
    ctl = Controller(handler, hostname="127.0.0.1", port=free_port())
    ctl.start()
    handler.port = ctl.port
    yield handler
    handler.release.set()
    ctl.stop()
    # Whatever a test sent, no message may name the kind of work.
    for d in handler.delivered:
        assert not FORBIDDEN.search(texts(d)), (d.msg["Subject"], FORBIDDEN.search(texts(d)))


def smtp_env(relay, **extra):
    env = {
        "TANDEM_MAIL_TRANSPORT": "smtp",
        "TANDEM_SMTP_URL": f"smtp://127.0.0.1:{relay.port}",
        "TANDEM_SMTP_ALLOW_PLAIN_LOOPBACK": "true",
        "TANDEM_MAIL_POLL_MS": "100",
        "TANDEM_MAIL_RETRY_BASE_S": "1",
        "TANDEM_MAIL_RETRY_MAX_S": "2",
        "TANDEM_SMTP_TIMEOUT_S": "20",
    }
    env.update({f"TANDEM_{k.upper()}": str(v) for k, v in extra.items()})
    return env


# --------------------------------------------------------------------------
# booking helpers


def today_chi():
    return datetime.now(CHI).date()


def slots(srv, slug, d_from, d_to):
    q = urllib.parse.urlencode({"offering": slug, "from": str(d_from), "to": str(d_to)})
    r = srv.get("/api/v1/availability?" + q)
    assert r.status == 200, r.body[:300]
    return [s["start"] for s in r.json()["slots"]]


def consult_starts(srv, days_ahead=4):
    t = today_chi()
    return slots(srv, "consult", t + timedelta(days=days_ahead), t + timedelta(days=days_ahead + 14))


def intensive_start(srv):
    t = today_chi()
    return slots(srv, "intensive-2day", t + timedelta(days=8), t + timedelta(days=90))[0]


def people(booker_name=None, partner_name=None, same_email=False):
    tag = secrets.token_hex(4)
    booker = {"name": booker_name or f"Avery Quill{tag}", "email": f"avery.{tag}@example.com"}
    partner = {"name": partner_name or f"Bartholomew Marchbank{tag}", "email": f"jordan.{tag}@example.org"}
    if same_email:
        partner["email"] = booker["email"]
    return [booker, partner]


def book(srv, slug, start, clients):
    r = srv.request(
        "POST", "/api/v1/bookings", body={"offering": slug, "start": start, "clients": clients, "consent": True}
    )
    assert r.status == 201, f"{r.status} {r.body[:500]!r}"
    return r.json()


def token_of(doc):
    return doc["manage_url"].rsplit("/b/", 1)[1]


def form_post(srv, path, fields):
    return srv.request(
        "POST", path, headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=urllib.parse.urlencode(fields),
    )


def outbox(srv, booking_id=None):
    q = (
        "SELECT id, kind, recipient_role, message_id, status, attempts, last_error,"
        " rcpt_enc IS NOT NULL, message_enc IS NOT NULL FROM outbox"
    )
    rows = srv.sql(q + (" WHERE booking_id = :'p1'" if booking_id else "") + " ORDER BY id",
                   *([booking_id] if booking_id else []))
    Row = namedtuple("Row", "id kind role message_id status attempts last_error has_rcpt has_body")
    return [Row(int(a), b, c, d, e, int(f), g, h == "t", i == "t") for a, b, c, d, e, f, g, h, i in rows]


def wait_for(helpers, pred, what, timeout=WAIT):
    return helpers.wait_until(pred, timeout=timeout, interval=0.1, what=what)


# --------------------------------------------------------------------------
# reading messages


def structure(msg):
    """The MIME tree as nested tuples of content types."""
    if msg.is_multipart():
        return (msg.get_content_type(), [structure(p) for p in msg.iter_parts()])
    return msg.get_content_type()


def part(msg, ctype, attachment=False):
    for p in msg.walk():
        if p.get_content_type() == ctype and (p.get_content_disposition() == "attachment") == attachment:
            return p
    return None


def texts(d):
    """Everything a person could read in a delivered message: decoded
    headers and every decoded part, plus the raw bytes."""
    out = [d.data.decode("utf-8", "replace")]
    for k, v in d.msg.items():
        out.append(f"{k}: {v}")
    for p in d.msg.walk():
        if p.is_multipart():
            continue
        c = p.get_content()
        out.append(c.decode("utf-8", "replace") if isinstance(c, bytes) else c)
    return "\n".join(out)


def calendar_of(d, attachment=False):
    p = part(d.msg, "text/calendar") if not attachment else part(d.msg, "application/ics", attachment=True)
    assert p is not None, structure(d.msg)
    c = p.get_content()
    return c.decode("utf-8") if isinstance(c, bytes) else c


def ics_value(cal, name):
    unfolded = re.sub(r"\r\n[ \t]", "", cal)
    vals = [line.split(":", 1)[1] for line in unfolded.split("\r\n") if re.match(rf"{name}[;:]", line)]
    return vals


def link_in(d):
    m = LINK_RE.search(part(d.msg, "text/plain").get_content())
    assert m, part(d.msg, "text/plain").get_content()
    return m.group(1)


def assert_common_headers(d, rcpt, name=None):
    msg = d.msg
    assert d.rcpt == [rcpt], d.rcpt
    assert d.mail_from == PRACTICE_FROM[1]
    frm = msg["From"].addresses
    assert len(frm) == 1 and (frm[0].display_name, frm[0].addr_spec) == PRACTICE_FROM
    to = msg["To"].addresses
    assert len(to) == 1 and to[0].addr_spec == rcpt, msg["To"]
    if name is not None:
        assert to[0].display_name == name
    assert msg["Cc"] is None and msg["Bcc"] is None
    assert re.fullmatch(r"<[0-9a-f]{32}@riverbend\.example>", msg["Message-ID"]), msg["Message-ID"]
    assert msg["MIME-Version"] == "1.0"
    assert msg["Date"].datetime is not None
    assert abs((msg["Date"].datetime - datetime.now(timezone.utc)).total_seconds()) < 600
    assert msg["Subject"].startswith("Riverbend Practice: "), msg["Subject"]
    # Lines end in CRLF and stay short.
    for line in d.data.split(b"\r\n"):
        assert b"\n" not in line and b"\r" not in line
        assert len(line) <= 78, line


def assert_invite(d, method, rcpt):
    """multipart/mixed: alternative(text, html, calendar; method=M) + invite.ics."""
    assert structure(d.msg) == (
        "multipart/mixed",
        [("multipart/alternative", ["text/plain", "text/html", "text/calendar"]), "application/ics"],
    ), structure(d.msg)
    cal_part = part(d.msg, "text/calendar")
    assert cal_part.get_param("method") == method
    assert cal_part.get_content_charset() == "utf-8"
    cal = calendar_of(d)
    assert ics_value(cal, "METHOD") == [method]
    att = part(d.msg, "application/ics", attachment=True)
    assert att.get_filename() == "invite.ics"
    assert calendar_of(d, attachment=True) == cal
    # The only attendee is the recipient.
    attendees = ics_value(cal, "ATTENDEE")
    assert len(attendees) == 1 and attendees[0].lower() == f"mailto:{rcpt}".lower(), attendees
    return cal


def assert_private(d, own_link, others):
    """Nothing about the other partner, the kind of work, or anything else's link."""
    text = texts(d)
    assert not FORBIDDEN.search(text), FORBIDDEN.search(text)
    if own_link:
        assert own_link in text
    for o in others:
        assert o and o not in text, o


# ==========================================================================
# tests


def test_confirmed_booking_sends_each_client_their_own_invite(server_factory, relay, helpers):
    srv = server_factory(env=smtp_env(relay))
    booker, partner = people(booker_name="Zoë Ångström-Þórsdóttir")
    doc = book(srv, "consult", consult_starts(srv)[0], [booker, partner])
    assert doc["status"] == "confirmed"
    wait_for(helpers, lambda: relay.count() >= 2, "two confirmations")
    time.sleep(0.5)
    assert relay.count() == 2
    [b], [p] = relay.to(booker["email"]), relay.to(partner["email"])
    btoken = token_of(doc)
    ptoken = link_in(p)
    assert ptoken != btoken and link_in(b) == btoken
    for d, who in ((b, booker), (p, partner)):
        assert_common_headers(d, who["email"], who["name"])
        cal = assert_invite(d, "REQUEST", who["email"])
        assert ics_value(cal, "SEQUENCE") == ["0"]
        assert doc["reference"] in part(d.msg, "text/plain").get_content()
        assert "confirmed" in d.msg["Subject"]
        html = part(d.msg, "text/html").get_content()
        assert "<a href=" in html and doc["reference"] in html
    # Non-ASCII names travel as encoded words and come back whole.
    assert b"=?UTF-8?B?" in b.data.split(b"\r\n\r\n", 1)[0]
    # Each message is that person's alone.
    assert_private(b, btoken, [partner["name"], partner["email"], ptoken])
    assert_private(p, ptoken, [booker["name"], booker["email"], btoken])
    # The outbox: one sent row each, the same Message-IDs, sealed at rest.
    rows = outbox(srv, doc["id"])
    assert sorted((r.kind, r.role, r.status, r.attempts) for r in rows) == [
        ("confirmed", "booker", "sent", 1), ("confirmed", "partner", "sent", 1)]
    assert {r.message_id for r in rows} == {b.msg["Message-ID"], p.msg["Message-ID"]}
    for secret in (booker["email"], partner["email"], btoken, ptoken, "Riverbend"):
        assert srv.sql(
            "SELECT count(*) FROM outbox WHERE position(convert_to(:'p1', 'UTF8') IN rcpt_enc || message_enc) > 0",
            secret,
        ) == [("0",)]
    # The log names messages, never people or links.
    log = srv.log()
    assert "mail" in log and "sent" in log
    for secret in (booker["email"], partner["email"], btoken, ptoken, "Ångström", "Marchbank"):
        assert secret not in log


def test_partner_link_is_read_only(server_factory, relay, helpers):
    srv = server_factory(env=smtp_env(relay))
    booker, partner = people()
    doc = book(srv, "consult", consult_starts(srv)[0], [booker, partner])
    wait_for(helpers, lambda: relay.count() >= 2, "two confirmations")
    [p] = relay.to(partner["email"])
    ptoken, btoken = link_in(p), token_of(doc)
    # The partner's page: the booking, no way to change it, nothing of the booker.
    r = srv.get(f"/b/{ptoken}")
    assert r.status == 200 and media_type(r) == "text/html"
    assert r.headers.get("cache-control") == "no-store"
    assert doc["reference"] in r.text and "read-only" in r.text
    assert "Cancel this booking" not in r.text and "/reschedule" not in r.text
    for s in (booker["name"], booker["email"], btoken):
        assert s not in r.text
    # Their calendar file names them, not the booker.
    r = srv.get(f"/b/{ptoken}/invite.ics")
    assert r.status == 200
    assert f"mailto:{partner['email']}" in r.text and booker["email"] not in r.text
    assert ptoken in r.text and btoken not in r.text
    # Changes are refused, and change nothing.
    err = assert_json_error(srv.request("POST", f"/api/v1/manage/{ptoken}/cancel", body={}), 403, "forbidden")
    assert "contact the practice" in err["message"]
    start2 = consult_starts(srv)[1]
    assert_json_error(
        srv.request("POST", f"/api/v1/manage/{ptoken}/reschedule", body={"start": start2}), 403, "forbidden")
    r = form_post(srv, f"/b/{ptoken}/cancel", {"reason": ""})
    assert r.status == 403 and "contact the practice" in r.text
    r = form_post(srv, f"/b/{ptoken}/reschedule", {"start": start2})
    assert r.status == 403
    assert srv.sql("SELECT status, ical_sequence FROM booking WHERE id = :'p1'", doc["id"]) == [("confirmed", "0")]
    assert [r.kind for r in outbox(srv, doc["id"])] == ["confirmed", "confirmed"]
    # The booker's page is as it was: it can cancel.
    r = srv.get(f"/b/{btoken}")
    assert r.status == 200 and "Cancel this booking" in r.text and "read-only" not in r.text
    # Only hashes are stored.
    assert srv.sql(
        "SELECT position, link_token_hash IS NOT NULL, link_expires_at > now() FROM booking_client"
        " WHERE booking_id = :'p1' ORDER BY position", doc["id"]) == [("1", "f", ""), ("2", "t", "t")]


def test_shared_address_gets_two_messages_with_their_own_links(server_factory, relay, helpers):
    srv = server_factory(env=smtp_env(relay))
    booker, partner = people(same_email=True)
    doc = book(srv, "consult", consult_starts(srv)[0], [booker, partner])
    wait_for(helpers, lambda: relay.count() >= 2, "two confirmations")
    time.sleep(0.3)
    got = relay.to(booker["email"])
    assert len(got) == 2 and all(d.rcpt == [booker["email"]] for d in got)
    links = sorted(link_in(d) for d in got)
    assert token_of(doc) in links and len(set(links)) == 2
    by_link = {link_in(d): d for d in got}
    ptoken = [t for t in links if t != token_of(doc)][0]
    assert_private(by_link[token_of(doc)], token_of(doc), [partner["name"], ptoken])
    assert_private(by_link[ptoken], ptoken, [booker["name"], token_of(doc)])
    assert by_link[token_of(doc)].msg["To"].addresses[0].display_name == booker["name"]
    assert by_link[ptoken].msg["To"].addresses[0].display_name == partner["name"]


def test_held_booking_tells_the_booker_and_the_clinician(server_factory, relay, helpers):
    srv = server_factory(env=smtp_env(relay))
    booker, partner = people()
    doc = book(srv, "intensive-2day", intensive_start(srv), [booker, partner])
    assert doc["status"] == "held"
    wait_for(helpers, lambda: relay.count() >= 3, "received + new request + the partner's form invitation")
    time.sleep(0.5)
    assert relay.count() == 3
    [b], [c], [p] = relay.to(booker["email"]), relay.to(CLINICIAN), relay.to(partner["email"])
    assert_common_headers(b, booker["email"], booker["name"])
    assert structure(b.msg) == ("multipart/alternative", ["text/plain", "text/html"])
    assert "received" in b.msg["Subject"]
    body = part(b.msg, "text/plain").get_content()
    assert "kept for you until" in body and doc["reference"] in body
    assert_private(b, token_of(doc), [partner["name"], partner["email"]])
    # The booker's own form link rides in the same message.
    assert doc["intake_url"] in body
    # The partner: their own form link only (issue 6), nothing of the booker.
    assert_common_headers(p, partner["email"], partner["name"])
    pbody = part(p.msg, "text/plain").get_content()
    assert "/intake/" in pbody and token_of(doc) not in pbody
    assert_private(p, None, [booker["name"], booker["email"], token_of(doc)])
    # The clinician: the reference, the dates, a link to review; no client details.
    assert_common_headers(c, CLINICIAN, "Dr. Maya Lindqvist")
    assert doc["reference"] in c.msg["Subject"]
    assert_private(c, None, [booker["name"], booker["email"], partner["name"], partner["email"], token_of(doc)])
    assert f"/admin/bookings/{doc['id']}" in part(c.msg, "text/plain").get_content()
    assert sorted((r.kind, r.role) for r in outbox(srv, doc["id"])) == [
        ("intake_invite", "partner"), ("new_request", "clinician"), ("received", "booker")]


def test_cancel_and_reschedule_send_updates_to_each_client(server_factory, relay, helpers):
    srv = server_factory(env=smtp_env(relay))
    booker, partner = people()
    starts = consult_starts(srv)
    doc = book(srv, "consult", starts[0], [booker, partner])
    wait_for(helpers, lambda: relay.count() >= 2, "confirmations")
    token = token_of(doc)
    r = srv.request("POST", f"/api/v1/manage/{token}/reschedule", body={"start": starts[3]})
    assert r.status == 200, r.body
    wait_for(helpers, lambda: relay.count() >= 4, "reschedule notices")
    r = srv.request("POST", f"/api/v1/manage/{token}/cancel", body={"reason": "Marchbank reasons"})
    assert r.status == 200, r.body
    wait_for(helpers, lambda: relay.count() >= 6, "cancellations")
    time.sleep(0.5)
    assert relay.count() == 6
    for who, other in ((booker, partner), (partner, booker)):
        msgs = relay.to(who["email"])
        assert [("confirmed" in d.msg["Subject"], "moved" in d.msg["Subject"], "cancelled" in d.msg["Subject"])
                for d in msgs] == [(True, False, False), (False, True, False), (False, False, True)]
        cals = [assert_invite(d, m, who["email"]) for d, m in zip(msgs, ["REQUEST", "REQUEST", "CANCEL"])]
        uids = {ics_value(c, "UID")[0] for c in cals}
        assert len(uids) == 1  # one event, updated
        assert [ics_value(c, "SEQUENCE")[0] for c in cals] == ["0", "1", "2"]
        assert ics_value(cals[2], "STATUS") == ["CANCELLED"]
        # The moved message gives the new time.
        new_local = datetime.fromisoformat(starts[3]).astimezone(CHI)
        assert new_local.strftime("%B") in part(msgs[1].msg, "text/plain").get_content()
        link = link_in(msgs[0])
        for d in msgs:
            assert link_in(d) == link  # the same link in every message
            assert_private(d, link, [other["name"], other["email"], "Marchbank reasons"])
    assert [r.kind for r in outbox(srv, doc["id"])] == ["confirmed"] * 2 + ["rescheduled"] * 2 + ["cancelled"] * 2


def test_temporary_failure_retries_and_delivers_once(server_factory, relay, helpers):
    relay.script = ["451 4.3.0 Try again later"]
    srv = server_factory(env=smtp_env(relay))
    booker, partner = people()
    doc = book(srv, "consult", consult_starts(srv)[0], [booker, partner])
    wait_for(helpers, lambda: relay.count() >= 2, "both messages after a retry")
    time.sleep(3.0)  # long enough for a wrongful second retry
    assert relay.count() == 2
    first = email.message_from_bytes(relay.attempts[0], policy=email.policy.default)
    delivered_ids = [d.msg["Message-ID"] for d in relay.delivered]
    assert sorted(delivered_ids) == sorted(set(delivered_ids))
    assert delivered_ids.count(first["Message-ID"]) == 1  # the refused one, once, same id
    assert len(relay.attempts) == 3
    rows = {r.message_id: r for r in outbox(srv, doc["id"])}
    retried = rows[first["Message-ID"]]
    assert (retried.status, retried.attempts) == ("sent", 2)
    assert all(r.status == "sent" for r in rows.values())
    assert "attempt 1 failed (smtp 451)" in srv.log()


def test_permanent_failure_dead_letters_and_can_be_resent(server_factory, relay, helpers, tandem):
    relay.script = ["550 5.1.1 <someone@example.com>: no such user"]
    srv = server_factory(env=smtp_env(relay))
    booker, partner = people()
    doc = book(srv, "consult", consult_starts(srv)[0], [booker, partner])
    wait_for(helpers, lambda: any(r.status == "dead" for r in outbox(srv, doc["id"])), "a dead letter")
    wait_for(helpers, lambda: relay.count() >= 1, "the other message")
    time.sleep(1.5)
    rows = outbox(srv, doc["id"])
    dead = [r for r in rows if r.status == "dead"]
    assert len(dead) == 1 and (dead[0].attempts, dead[0].last_error) == (1, "smtp 550")
    assert relay.count() == 1 and len(relay.attempts) == 2
    assert srv.sql("SELECT dead_at IS NOT NULL, sent_at IS NULL FROM outbox WHERE id = :'p1'", dead[0].id) == [
        ("t", "t")]
    # What an operator (and later the clinician) sees: no address, no server text.
    r = tandem(["mail", "list", "--status", "dead"], srv.dsn)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1 and f'"id":{dead[0].id}' in lines[0] and '"last_error":"smtp 550"' in lines[0]
    assert doc["reference"] in lines[0]
    for s in (booker["email"], partner["email"], "someone@example.com", "no such user"):
        assert s not in r.stdout and s not in srv.log()
    # Resent: the same message (same Message-ID) goes out once.
    r = tandem(["mail", "resend", str(dead[0].id)], srv.dsn)
    assert r.returncode == 0, r.stderr
    wait_for(helpers, lambda: relay.count() >= 2, "the resent message")
    assert relay.delivered[-1].msg["Message-ID"] == dead[0].message_id
    assert [r.status for r in outbox(srv, doc["id"])] == ["sent", "sent"]
    # Only dead letters can be resent.
    r = tandem(["mail", "resend", str(dead[0].id)], srv.dsn)
    assert r.returncode == 1 and "not dead-lettered" in r.stderr
    assert tandem(["mail", "resend", "999999"], srv.dsn).returncode == 1


def test_unreachable_relay_retries_then_dead_letters(server_factory, helpers):
    closed = free_port()
    srv = server_factory(env={
        "TANDEM_MAIL_TRANSPORT": "smtp", "TANDEM_SMTP_URL": f"smtp://127.0.0.1:{closed}",
        "TANDEM_SMTP_ALLOW_PLAIN_LOOPBACK": "true", "TANDEM_MAIL_POLL_MS": "100",
        "TANDEM_MAIL_RETRY_BASE_S": "1", "TANDEM_MAIL_RETRY_MAX_S": "1", "TANDEM_MAIL_MAX_ATTEMPTS": "3",
    })
    doc = book(srv, "consult", consult_starts(srv)[0], people())
    wait_for(helpers, lambda: all(r.status == "dead" for r in outbox(srv, doc["id"])), "dead letters")
    rows = outbox(srv, doc["id"])
    assert len(rows) == 2
    assert all(r.attempts == 3 and "connect" in r.last_error.lower() for r in rows), rows
    assert all(r.has_rcpt and r.has_body for r in rows)  # kept for a resend


def test_starttls_is_required_unless_plain_loopback_is_allowed(server_factory, relay, helpers, tandem, database):
    env = smtp_env(relay)
    del env["TANDEM_SMTP_ALLOW_PLAIN_LOOPBACK"]
    srv = server_factory(env=env)
    doc = book(srv, "consult", consult_starts(srv)[0], people())
    wait_for(helpers, lambda: all(r.attempts >= 1 for r in outbox(srv, doc["id"])), "a refused attempt")
    time.sleep(0.5)
    assert relay.count() == 0 and relay.attempts == []
    rows = outbox(srv, doc["id"])
    assert all(r.status == "pending" and r.last_error == "STARTTLS not offered by the relay" for r in rows), rows
    # Plain SMTP is never allowed to another host, nor is a bad transport.
    _, dsn = database()
    for extra, msg in (
        ({"TANDEM_SMTP_URL": "smtp://mail.example.com:25", "TANDEM_SMTP_ALLOW_PLAIN_LOOPBACK": "true"},
         "loopback"),
        ({"TANDEM_SMTP_URL": "smtp://localhost:25", "TANDEM_SMTP_ALLOW_PLAIN_LOOPBACK": "true"}, "loopback"),
        ({"TANDEM_SMTP_URL": "http://127.0.0.1:25"}, "smtp://"),
        ({"TANDEM_SMTP_URL": ""}, "smtp_url"),
    ):
        r = tandem(["serve"], dsn, env={"TANDEM_MAIL_TRANSPORT": "smtp", **extra}, timeout=30)
        assert r.returncode == 1 and msg in r.stderr, r.stderr
    r = tandem(["serve"], dsn, env={"TANDEM_MAIL_TRANSPORT": "pigeon"}, timeout=30)
    assert r.returncode != 0 and "mail_transport must be file or smtp" in r.stderr
    r = tandem(["serve"], dsn, env={"TANDEM_MAIL_FROM": "not an address"}, timeout=30)
    assert r.returncode == 1 and "mail_from" in r.stderr


def test_killed_mid_send_the_message_goes_out_after_restart(server_factory, relay, helpers):
    relay.script = ["stall"]
    srv = server_factory(env=smtp_env(relay))
    booker, partner = people()
    doc = book(srv, "consult", consult_starts(srv)[0], [booker, partner])
    wait_for(helpers, lambda: len(relay.attempts) >= 1, "the first message to reach DATA")
    stalled = email.message_from_bytes(relay.attempts[0], policy=email.policy.default)["Message-ID"]
    # The message is in flight: its row is locked by the sending transaction.
    assert [r.status for r in outbox(srv, doc["id"])] == ["pending", "pending"]
    srv.proc.kill()  # SIGKILL: no clean-up of any kind
    srv.proc.wait(timeout=10)
    relay.release.set()
    srv.start()
    wait_for(helpers, lambda: relay.count() >= 2, "both messages after the restart")
    time.sleep(2.0)
    ids = [d.msg["Message-ID"] for d in relay.delivered]
    assert len(ids) == 2 and stalled in ids and len(set(ids)) == 2
    rows = outbox(srv, doc["id"])
    assert all(r.status == "sent" for r in rows)
    assert {r.message_id for r in rows} == set(ids)
    # The interrupted attempt was never recorded: it did not finish.
    assert [r.attempts for r in rows] == [1, 1]


def test_names_cannot_inject_headers(server_factory, relay, helpers):
    srv = server_factory(env=smtp_env(relay))
    tricky = 'Mallory "Boss" <mallory@evil.example>, Bcc: x@evil.example'
    booker, partner = people(booker_name=tricky, partner_name="Renée Ünal")
    doc = book(srv, "consult", consult_starts(srv)[0], [booker, partner])
    wait_for(helpers, lambda: relay.count() >= 2, "two messages")
    [b], [p] = relay.to(booker["email"]), relay.to(partner["email"])
    for d, who in ((b, booker), (p, partner)):
        assert d.rcpt == [who["email"]]
        to = d.msg["To"].addresses
        assert [(a.display_name, a.addr_spec) for a in to] == [(who["name"], who["email"])]
        assert d.msg["Bcc"] is None and d.msg["Cc"] is None
        assert "evil.example" not in str(d.msg["To"].addresses[0].addr_spec)
    assert "=?UTF-8?B?" in p.data.split(b"\r\n\r\n", 1)[0].decode()
    # CR or LF in a name never gets this far.
    bad = people(booker_name="Eve\r\nBcc: victim@evil.example")
    r = srv.request("POST", "/api/v1/bookings",
                    body={"offering": "consult", "start": consult_starts(srv)[1], "clients": bad, "consent": True})
    err = assert_json_error(r, 422, "invalid")
    assert "clients[0].name" in err["fields"]
    assert outbox(srv, doc["id"]) and len(outbox(srv)) == 2


def test_a_failing_enqueue_rolls_the_booking_back(server_factory, relay, helpers):
    srv = server_factory(env=smtp_env(relay))
    srv.sql("ALTER TABLE outbox ADD CONSTRAINT test_refuse CHECK (kind <> 'confirmed')")
    start = consult_starts(srv)[0]
    r = srv.request("POST", "/api/v1/bookings",
                    body={"offering": "consult", "start": start, "clients": people(), "consent": True})
    assert r.status == 500, r.body
    assert srv.sql("SELECT count(*) FROM booking") == [("0",)]
    assert srv.sql("SELECT count(*) FROM outbox") == [("0",)]
    srv.sql("ALTER TABLE outbox DROP CONSTRAINT test_refuse")
    doc = book(srv, "consult", start, people())  # the time is still free
    wait_for(helpers, lambda: relay.count() >= 2, "the confirmations")
    assert len(outbox(srv, doc["id"])) == 2


def test_hold_lapsed_tells_each_client_with_a_cancel(server_factory, relay, helpers):
    srv = server_factory(env=smtp_env(relay, jobs_interval_s=1))
    booker, partner = people()
    doc = book(srv, "intensive-2day", intensive_start(srv), [booker, partner])
    wait_for(helpers, lambda: relay.count() >= 3, "received + new request + the partner's invitation")
    srv.sql("UPDATE booking SET hold_expires_at = now() - interval '1 minute' WHERE id = :'p1'", doc["id"])
    wait_for(helpers, lambda: relay.count() >= 5, "the hold lapsed notices")
    time.sleep(1.5)
    # The partner was told of this booking (their form invitation), so hears of its end.
    assert relay.count() == 5 and len(relay.to(partner["email"])) == 2
    assert "released" in relay.to(partner["email"])[-1].msg["Subject"]
    d = relay.to(booker["email"])[-1]
    assert "released" in d.msg["Subject"]
    cal = assert_invite(d, "CANCEL", booker["email"])
    assert ics_value(cal, "SEQUENCE") == ["1"]
    assert_private(d, token_of(doc), [partner["name"], partner["email"]])
    assert srv.sql("SELECT status FROM booking WHERE id = :'p1'", doc["id"]) == [("cancelled",)]
    assert sorted(r.role for r in outbox(srv, doc["id"]) if r.kind == "hold_lapsed") == ["booker", "partner"]


def test_reminder_is_sent_once_with_two_server_processes(server_factory, relay, helpers):
    env = smtp_env(relay, jobs_interval_s=1, reminder_hours=720)
    srv = server_factory(env=env)
    other = type(srv)(srv.cluster, srv.dbname, srv.stderr_path.parent / "second", env=env)
    other.start()
    try:
        booker, partner = people()
        starts = consult_starts(srv)
        doc = book(srv, "consult", starts[0], [booker, partner])
        # Booked inside the window: the confirmation is enough, no reminder.
        wait_for(helpers, lambda: srv.sql(
            "SELECT reminder_sent_at IS NOT NULL FROM booking WHERE id = :'p1'", doc["id"]) == [("t",)],
            "the reminder mark")
        time.sleep(1.5)
        assert [r.kind for r in outbox(srv, doc["id"])] == ["confirmed", "confirmed"]
        # Booked long ago: both processes' jobs see it due; each client gets one reminder.
        doc2 = book(other, "consult", starts[2], people())
        srv.sql("UPDATE booking SET created_at = now() - interval '60 days', updated_at = now() - interval '60 days',"
                " reminder_sent_at = NULL WHERE id = :'p1'", doc2["id"])
        wait_for(helpers, lambda: len([r for r in outbox(srv, doc2["id"]) if r.kind == "reminder"]) == 2,
                 "two reminders")
        time.sleep(3.0)
        rows = outbox(srv, doc2["id"])
        assert sorted((r.kind, r.role) for r in rows) == [
            ("confirmed", "booker"), ("confirmed", "partner"), ("reminder", "booker"), ("reminder", "partner")]
        wait_for(helpers, lambda: all(r.status == "sent" for r in outbox(srv, doc2["id"])), "sent")
        reminders = [d for d in relay.delivered if "reminder" in d.msg["Subject"]]
        assert len(reminders) == 2
        for d in reminders:
            assert structure(d.msg) == ("multipart/alternative", ["text/plain", "text/html"])
            assert doc2["reference"] in part(d.msg, "text/plain").get_content()
            assert not FORBIDDEN.search(texts(d))
        # Moving the booking asks for a new reminder on the new date.
        r = srv.request("POST", f"/api/v1/manage/{token_of(doc2)}/reschedule", body={"start": starts[4]})
        assert r.status == 200, r.body
        assert srv.sql("SELECT reminder_sent_at IS NULL FROM booking WHERE id = :'p1'", doc2["id"]) in (
            [("t",)], [("f",)])  # the job may have marked it already (moved inside the window)
        time.sleep(2.0)
        assert len([r for r in outbox(srv, doc2["id"]) if r.kind == "reminder"]) == 2
        # Both processes send: every queued message arrives exactly once.
        for k, start in enumerate(consult_starts(srv, days_ahead=20)[:12:2]):
            book(srv if k % 2 else other, "consult", start, people())
        wait_for(helpers, lambda: all(r.status == "sent" for r in outbox(srv)), "everything sent")
        time.sleep(1.0)
        rows = outbox(srv)
        ids = [d.msg["Message-ID"] for d in relay.delivered]
        assert len(ids) == len(set(ids)) == len(rows) and set(ids) == {r.message_id for r in rows}
        assert all(r.attempts == 1 for r in rows)
    finally:
        other.stop(check=True)


def _mail_hooks(helpers):
    """build/mail_hooks, brought up to date with the library (make does
    nothing when it is: `make integration` and `make test` build it first)."""
    path = REPO / "build" / "mail_hooks"
    subprocess.run(["make", "-s", "build/mail_hooks"], cwd=REPO, check=True, timeout=600,
                   capture_output=True)
    assert os.access(path, os.X_OK)
    return path


def test_declined_and_calendar_failing(server_factory, relay, helpers):
    """The hooks the clinician area and the calendar refresh job will call."""
    srv = server_factory(env=smtp_env(relay))
    hooks = _mail_hooks(helpers)
    booker, partner = people()
    doc = book(srv, "intensive-2day", intensive_start(srv), [booker, partner])
    wait_for(helpers, lambda: relay.count() >= 3, "received + new request + invitation")
    env = helpers.tandem_env(srv.dsn, srv.port, smtp_env(relay))
    r = subprocess.run([str(hooks), "decline", str(doc["id"])], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    wait_for(helpers, lambda: relay.count() >= 5, "the declined notices")
    wait_for(helpers, lambda: all(r.status == "sent" for r in outbox(srv, doc["id"])), "all sent")
    assert sorted((r.kind, r.role) for r in outbox(srv, doc["id"])) == [
        ("declined", "booker"), ("declined", "partner"), ("intake_invite", "partner"), ("new_request", "clinician"),
        ("received", "booker")]
    d = relay.to(booker["email"])[-1]
    assert "not accepted" in d.msg["Subject"]
    cal = assert_invite(d, "CANCEL", booker["email"])
    assert ics_value(cal, "STATUS") == ["CANCELLED"] and ics_value(cal, "SEQUENCE") == ["1"]
    assert_private(d, token_of(doc), [partner["name"], partner["email"]])
    assert [m.msg["Subject"] for m in relay.to(partner["email"])][-1] == d.msg["Subject"]  # told: the invitation
    assert srv.sql("SELECT status FROM booking WHERE id = :'p1'", doc["id"]) == [("declined",)]
    # Declining something not open is refused, and sends nothing.
    r = subprocess.run([str(hooks), "decline", str(doc["id"])], env=env, capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1 and "conflict" in r.stderr
    # A calendar source that stopped refreshing: one alert per outage.
    sid = srv.sql(
        "INSERT INTO calendar_source (clinician_id, name, kind, url_enc, last_success_at)"
        " SELECT id, 'Personal calendar', 'url', '\\x01', now() - interval '2 days'"
        " FROM clinician LIMIT 1 RETURNING id")[0][0]
    for _ in range(2):
        r = subprocess.run([str(hooks), "calendar-failing", sid], env=env, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, r.stderr
    wait_for(helpers, lambda: len(relay.to(CLINICIAN)) >= 2, "the calendar alert")
    time.sleep(1.0)
    alerts = [d for d in relay.to(CLINICIAN) if "calendar" in d.msg["Subject"]]
    assert len(alerts) == 1
    body = part(alerts[0].msg, "text/plain").get_content()
    assert "Personal calendar" in body and "/admin/calendars" in body and "since" in body
    assert_common_headers(alerts[0], CLINICIAN, "Dr. Maya Lindqvist")
    assert srv.sql("SELECT count(*) FROM outbox WHERE kind = 'calendar_failing'") == [("1",)]


def test_file_transport_writes_one_eml_per_message(server_factory, helpers, tmp_path):
    maildir = tmp_path / "mail"
    srv = server_factory(env={"TANDEM_MAIL_DIR": str(maildir), "TANDEM_MAIL_POLL_MS": "100"})
    assert f"each message is written as an .eml file to {maildir}/" in srv.log()
    booker, partner = people()
    doc = book(srv, "consult", consult_starts(srv)[0], [booker, partner])
    wait_for(helpers, lambda: len(list(maildir.glob("*.eml"))) == 2, "two .eml files")
    rows = outbox(srv, doc["id"])
    files = sorted(maildir.glob("*.eml"))
    assert sorted(f.name for f in files) == sorted(r.message_id[1:].split("@")[0] + ".eml" for r in rows)
    assert not list(maildir.glob(".*"))  # no temporary files left
    assert oct(maildir.stat().st_mode & 0o777) == "0o700"
    for f in files:
        assert oct(f.stat().st_mode & 0o777) == "0o600"
        msg = email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
        rcpt = msg["To"].addresses[0].addr_spec
        assert rcpt in (booker["email"], partner["email"])
        assert part(msg, "text/calendar").get_param("method") == "REQUEST"
        assert f"<{f.stem}@" in msg["Message-ID"]
    assert all(r.status == "sent" for r in rows)


def test_shutdown_mid_send_leaves_the_message_queued(server_factory, relay, helpers):
    """SIGTERM while the relay stalls: the server stops at once (the
    transfer is abandoned), the message stays pending, untried, and goes
    out after the restart."""
    relay.script = ["stall"]
    srv = server_factory(env=smtp_env(relay))
    doc = book(srv, "consult", consult_starts(srv)[0], people())
    wait_for(helpers, lambda: len(relay.attempts) >= 1, "the first message to reach DATA")
    t0 = time.monotonic()
    assert srv.stop(check=True) == 0
    assert time.monotonic() - t0 < 5.0
    rows = outbox(srv, doc["id"])
    assert [(r.status, r.attempts) for r in rows] == [("pending", 0), ("pending", 0)]
    relay.release.set()
    srv.start()
    wait_for(helpers, lambda: relay.count() >= 2, "both messages after the restart")
    assert all(r.status == "sent" for r in outbox(srv, doc["id"]))


@pytest.fixture
def tls_files(tmp_path):
    key, crt = tmp_path / "relay.key", tmp_path / "relay.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(crt),
         "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )
    return key, crt


def _authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult, LoginPassword

    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"tandem", b"s3cret pass")
    return AuthResult(success=ok, handled=False)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_tls_and_auth_as_in_production(server_factory, helpers, tls_files, tmp_path, mode):
    import ssl

    key, crt = tls_files
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(crt), str(key))
    handler = Relay()
    # aiosmtpd offers AUTH after STARTTLS but, with implicit TLS, only when
    # told that TLS is not required for it (the connection is TLS anyway).
    kw = (dict(tls_context=ctx, require_starttls=True) if mode == "starttls"
          else dict(ssl_context=ctx, auth_require_tls=False))
    ctl = Controller(handler, hostname="127.0.0.1", port=free_port(), auth_required=True,
                     authenticator=_authenticator, **kw)
    ctl.start()
    try:
        scheme = "smtp" if mode == "starttls" else "smtps"
        pw = tmp_path / "smtp.password"
        pw.write_text("s3cret pass\n")
        base = {
            "TANDEM_MAIL_TRANSPORT": "smtp", "TANDEM_SMTP_URL": f"{scheme}://127.0.0.1:{ctl.port}",
            "TANDEM_SMTP_USER": "tandem", "TANDEM_SMTP_CA_FILE": str(crt), "TANDEM_MAIL_POLL_MS": "100",
            "TANDEM_MAIL_RETRY_BASE_S": "1", "TANDEM_MAIL_RETRY_MAX_S": "1",
        }
        srv = server_factory(env={**base, "TANDEM_SMTP_PASSWORD_FILE": str(pw)})
        booker, partner = people()
        doc = book(srv, "consult", consult_starts(srv)[0], [booker, partner])
        wait_for(helpers, lambda: handler.count() >= 2, "delivery over TLS with AUTH")
        assert sorted(d.rcpt[0] for d in handler.delivered) == sorted([booker["email"], partner["email"]])
        assert all(r.status == "sent" for r in outbox(srv, doc["id"]))
        assert 'smtp_password = "***"' in srv.log() and "s3cret" not in srv.log()
        # A wrong password and an unverifiable certificate keep mail queued.
        for extra, why in (
            ({"TANDEM_SMTP_PASSWORD": "wrong"}, "smtp login refused"),
            ({"TANDEM_SMTP_USER": ""}, "smtp 530: the relay wants auth or tls first"),
            ({"TANDEM_SMTP_PASSWORD": "s3cret pass", "TANDEM_SMTP_CA_FILE": ""}, "certificate"),
        ):
            other = server_factory(env={**base, **extra})
            d2 = book(other, "consult", consult_starts(other)[0], people())
            wait_for(helpers, lambda: all(r.attempts >= 1 for r in outbox(other, d2["id"])), "a failed try")
            rows = outbox(other, d2["id"])
            assert all(r.status == "pending" and why in r.last_error.lower() for r in rows), rows
            other.stop(check=True)
        assert handler.count() == 2
    finally:
        ctl.stop()


def test_timeout_retries_with_the_configured_sender(server_factory, relay, helpers):
    """A relay that does not answer in smtp_timeout_s is a temporary
    failure; From, Reply-To and the envelope sender come from the settings."""
    relay.script = ["stall"]
    srv = server_factory(env=smtp_env(relay, smtp_timeout_s=5, mail_from="bookings@riverbend.example",
                                      mail_reply_to="desk@riverbend.example"))
    booker, partner = people()
    doc = book(srv, "consult", consult_starts(srv)[0], [booker, partner])
    wait_for(helpers, lambda: relay.count() >= 2, "both messages, one after a timeout", timeout=40)
    rows = outbox(srv, doc["id"])
    assert sorted(r.attempts for r in rows) == [1, 2] and all(r.status == "sent" for r in rows)
    assert "Timeout was reached" in srv.log()
    stalled = email.message_from_bytes(relay.attempts[0], policy=email.policy.default)["Message-ID"]
    assert [d.msg["Message-ID"] for d in relay.delivered].count(stalled) == 1
    for d in relay.delivered:
        assert d.mail_from == "bookings@riverbend.example"
        assert [(a.display_name, a.addr_spec) for a in d.msg["From"].addresses] == [
            ("Riverbend Practice", "bookings@riverbend.example")]
        assert [a.addr_spec for a in d.msg["Reply-To"].addresses] == ["desk@riverbend.example"]
        assert d.msg["Message-ID"].endswith("@riverbend.example>")
