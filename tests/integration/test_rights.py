"""Issue 7 §7: data rights. Export everything about one client as JSON
(their own data, never the partner's intake), and erase a client: their
PHI gone from the database, the booking kept as an anonymous block that
still reserves its time.

Run: cd tests/integration && /usr/bin/python3 -m pytest -q test_rights.py
"""

import html
import json
import secrets
import shutil
import subprocess
import tempfile
import urllib.parse
from datetime import datetime, timedelta

import pytest

from test_admin import CSRF_RE, DEV, add_clinician, audit_rows, signed_in
from test_intake import CALM, CHI, _pg_dump, accept, api, intake_token, messages, to


@pytest.fixture
def srv(server_factory):
    d = tempfile.mkdtemp(prefix="tandem-rights-mail.", dir="/tmp")
    s = server_factory(env={**DEV, "TANDEM_MAIL_DIR": d, "TANDEM_MAIL_POLL_MS": "100"})
    s.mail_dir = d
    yield s
    shutil.rmtree(d, ignore_errors=True)


def intake_start_slots(srv):
    t = datetime.now(CHI).date()
    q = urllib.parse.urlencode({"offering": "intensive-2day", "from": str(t + timedelta(days=8)),
                                "to": str(t + timedelta(days=120))})
    r = srv.get("/api/v1/availability?" + q)
    assert r.status == 200
    return r.json()["slots"]


def mark(prefix):
    return prefix + secrets.token_hex(8)


def phone():
    return "+1 555 " + "".join(secrets.choice("0123456789") for _ in range(7))


def book_pair(srv, helpers, n=0):
    """An intensive with unique planted details; returns the booking, both
    people (with their planted values) and both intake tokens."""
    tag = secrets.token_hex(5)
    booker = {"name": f"Quentin Plantbooker{tag}", "email": f"qbook.{tag}@example.com", "phone": phone()}
    partner = {"name": f"Rosalind Plantpartner{tag}", "email": f"rpart.{tag}@example.org", "phone": phone()}
    start = intake_start_slots(srv)[n]["start"]
    r = srv.request("POST", "/api/v1/bookings", body={
        "offering": "intensive-2day", "start": start, "clients": [booker, partner], "consent": True})
    assert r.status == 201, r.body[:300]
    doc = r.json()
    msgs = messages(srv, helpers, 3)
    [bi] = to(msgs, booker["email"])
    [pi] = to(msgs, partner["email"])
    doc["start"] = start
    return doc, booker, partner, intake_token(bi), intake_token(pi)


def client_ids(srv, booking_id):
    rows = srv.sql("SELECT position, id FROM booking_client WHERE booking_id = :'p1' ORDER BY position", booking_id)
    return {int(p): int(i) for p, i in rows}


def fill(srv, helpers):
    """A booking whose booker submitted (with a planted answer and
    signature) and whose partner has a planted draft."""
    doc, booker, partner, bt, pt = book_pair(srv, helpers)
    booker["answer"], booker["signature"] = mark("bookeranswer"), mark("Bookersig ")
    partner["answer"] = mark("partneranswer")
    accept(srv, bt)
    accept(srv, pt)
    r = api(srv, "POST", bt, {"answers": {**CALM, "history": booker["answer"]}, "signature": booker["signature"]},
            "/submit")
    assert r.status == 200, r.body[:300]
    assert api(srv, "PUT", pt, {"answers": {"history": partner["answer"]}}).status == 200
    return doc, booker, partner, bt, pt


def export(c, cid):
    return c.get(f"/admin/clients/{cid}/export.json")


def test_export_holds_the_clients_data_and_not_the_partners(srv, helpers):
    doc, booker, partner, bt, pt = fill(srv, helpers)
    ids = client_ids(srv, doc["id"])
    c = signed_in(srv)
    r = export(c, ids[1])
    assert r.status == 200, r.body[:300]
    assert r.headers["content-type"].startswith("application/json")
    assert r.headers["content-disposition"] == f'attachment; filename="client-{ids[1]}.json"'
    assert r.headers["cache-control"] == "no-store"
    j = json.loads(r.body)
    assert j["client_id"] == ids[1] and j["exported_by"] == "clinician:1"
    [item] = j["bookings"]
    assert item["role"] == "booker" and item["client_id"] == ids[1]
    assert item["client"] == {"erased": False, "name": booker["name"], "email": booker["email"],
                              "phone": booker["phone"], "safe_contact": "email",
                              "initials": "".join(w[0] for w in booker["name"].split())}
    b = item["booking"]
    assert b["reference"] == doc["reference"] and b["status"] == doc["status"]
    assert b["starts"].endswith("Z")
    assert datetime.fromisoformat(b["starts"].replace("Z", "+00:00")) == datetime.fromisoformat(doc["blocks"][0]["start"])
    assert len(b["blocks"]) == 2 and b["events"] and b["events"][0]["to"] == doc["status"]
    assert "initials" not in b and "needs_review" not in b
    it = item["intake"]
    assert it["state"] == "submitted" and it["signature"] == booker["signature"]
    assert it["answers"]["history"] == booker["answer"] and it["form_slug"] == "intensive-intake"
    assert it["submitted_at"].endswith("Z") and len(it["form_sha256"]) == 64
    assert "flags" not in it
    kinds = {m["kind"] for m in item["messages"]}
    assert "received" in kinds and all(set(m) == {"kind", "status", "queued_at", "sent_at", "attempts"}
                                       for m in item["messages"])
    # Nothing of the partner: no intake words, no name, no address, no phone.
    for s in (partner["answer"], partner["name"], partner["email"], partner["phone"], "Plantpartner"):
        assert s not in r.body, s
    # The export itself is audited (and appears in the audit part).
    assert [(a, t) for _, a, _, t, _, _ in audit_rows(srv, "client.export")] == [("clinician:1", f"client:{ids[1]}")]
    assert any(e["action"] == "client.export" and e["target"] == f"client:{ids[1]}" for e in j["audit"])
    # Without their detail: an approval "reviewed" would reveal a screening flag.
    assert all(set(e) == {"id", "at", "actor", "action", "target"} for e in j["audit"])
    # Nor the reads of screening flags: that the dashboard showed flags for this booking says
    # that someone's answers raised one.
    srv.sql("UPDATE booking SET needs_review = true WHERE id = :'p1'", doc["id"])
    assert c.get("/admin").status == 200
    assert c.get(f"/admin/bookings/{doc['id']}").status == 200
    assert (f"booking:{doc['id']}",) in [(t,) for _, _, _, t, _, _ in audit_rows(srv, "flags.view")]
    j2 = json.loads(export(c, ids[1]).body)
    assert not [e for e in j2["audit"] if e["action"].startswith("flags.")]
    # ... while the other entries about the booking stay.
    assert any(e["action"] == "booking.view" and e["target"] == f"booking:{doc['id']}" for e in j2["audit"])
    srv.sql("UPDATE booking SET needs_review = false WHERE id = :'p1'", doc["id"])

    # The partner's export: their draft, not the booker's answers.
    p = export(c, ids[2])
    assert p.status == 200
    pj = json.loads(p.body)
    [pitem] = pj["bookings"]
    assert pitem["role"] == "partner" and pitem["client"]["name"] == partner["name"]
    assert pitem["intake"]["state"] == "draft" and pitem["intake"]["answers"] == {"history": partner["answer"]}
    for s in (booker["answer"], booker["signature"], booker["name"], booker["email"], booker["phone"]):
        assert s not in p.body, s


def test_the_same_person_across_bookings(srv, helpers):
    doc, booker, partner, _, _ = book_pair(srv, helpers, 0)
    other_partner = {"name": "Someone Else", "email": f"else.{secrets.token_hex(4)}@example.net"}
    second = None
    for slot in intake_start_slots(srv)[3:]:
        r = srv.request("POST", "/api/v1/bookings", body={
            "offering": "intensive-2day", "start": slot["start"], "consent": True,
            "clients": [other_partner, {"name": booker["name"], "email": booker["email"].upper()}]})
        if r.status == 201:
            second = r.json()
            break
    assert second
    c = signed_in(srv)
    j = json.loads(export(c, client_ids(srv, doc["id"])[1]).body)
    got = [(i["booking"]["reference"], i["role"]) for i in j["bookings"]]
    assert sorted(got) == sorted([(doc["reference"], "booker"), (second["reference"], "partner")])
    assert "Someone Else" not in json.dumps(j)
    # Erasing the person erases them in both bookings, and only them.
    page = c.get(f"/admin/bookings/{doc['id']}/clients")
    csrf = CSRF_RE.search(page.body).group(1)
    r = c.post(f"/admin/clients/{client_ids(srv, doc['id'])[1]}/erase", {"csrf": csrf, "confirm": doc["reference"]})
    assert r.status == 303
    erased = srv.sql("SELECT b.reference, bc.position FROM booking_client bc JOIN booking b ON b.id = bc.booking_id"
                     " WHERE bc.erased_at IS NOT NULL ORDER BY b.reference")
    assert sorted(erased) == sorted([(doc["reference"], "1"), (second["reference"], "2")])
    assert json.loads(audit_rows(srv, "client.erase")[0][5]) == {"bookings": 2}


def test_export_and_erase_refused_outside_reach(srv, helpers, tandem, tmp_path):
    doc, _, _, _, _ = book_pair(srv, helpers)
    ids = client_ids(srv, doc["id"])
    bea_id = add_clinician(tandem, srv, tmp_path, "bea@example.com", "Dr Bea Stone", "b-password-123")
    add_clinician(tandem, srv, tmp_path, "cal@example.com", "Dr Cal Reed", "c-password-123")
    srv.sql("UPDATE booking SET clinician_id = :'p1' WHERE id = :'p2';"
            " UPDATE booking_block SET clinician_id = :'p1' WHERE booking_id = :'p2'", bea_id, doc["id"])
    bea = signed_in(srv, "bea@example.com", "b-password-123")
    cal = signed_in(srv, "cal@example.com", "c-password-123")
    missing = cal.get("/admin/clients/987654/export.json")
    theirs = export(cal, ids[1])
    assert missing.status == 404 and theirs.status == 404 and missing.body == theirs.body
    for bad in ("0", "abc", "-1", "1" * 19, "01"):
        assert cal.get(f"/admin/clients/{bad}/export.json").status == 404
    assert cal.get(f"/admin/bookings/{doc['id']}/clients").status == 404
    # Outside reach, erasure is 404 too (with a valid CSRF token and confirmation).
    csrf = cal.csrf()
    r = cal.post(f"/admin/clients/{ids[1]}/erase", {"csrf": csrf, "confirm": doc["reference"]})
    assert r.status == 404
    # The booking's clinician may export, but only the owner may erase.
    assert export(bea, ids[1]).status == 200
    page = bea.get(f"/admin/bookings/{doc['id']}/clients")
    assert page.status == 200 and "Only the practice owner can erase a client." in page.body
    assert f"/admin/clients/{ids[1]}/erase" not in page.body
    r = bea.post(f"/admin/clients/{ids[1]}/erase", {"csrf": bea.csrf(), "confirm": doc["reference"]})
    assert r.status == 403 and "Only the practice owner" in r.body
    assert srv.sql("SELECT count(*) FROM booking_client WHERE erased_at IS NOT NULL") == [("0",)]
    assert [t for _, _, _, t, _, _ in audit_rows(srv, "client.export")] == [f"client:{ids[1]}"]


def slot_starts(srv):
    return {s["start"] for s in intake_start_slots(srv)}


def feed_path(srv, tandem):
    r = tandem(["feed", "create", "--clinician", "clinician@riverbend.example", "--name", "phone",
                "--privacy", "initials"], srv.dsn, srv.port)
    assert r.returncode == 0, r.stderr
    url = dict(line.split(": ", 1) for line in r.stdout.strip().splitlines())["url"]
    return urllib.parse.urlparse(url).path


def feed_text(srv, path):
    r = srv.get(path)
    assert r.status == 200
    return r.body.decode().replace("\r\n ", "")


def test_erase_removes_the_phi_and_keeps_the_block(srv, helpers, tandem):
    doc, booker, partner, bt, pt = fill(srv, helpers)
    feed = feed_path(srv, tandem)
    assert "· QP & RP" in feed_text(srv, feed)
    ids = client_ids(srv, doc["id"])
    c = signed_in(srv)
    assert doc["start"] not in slot_starts(srv)
    before = json.loads(export(c, ids[1]).body)
    assert before["bookings"][0]["client"]["name"] == booker["name"]

    page = c.get(f"/admin/bookings/{doc['id']}/clients")
    assert page.status == 200 and f'action="/admin/clients/{ids[1]}/erase"' in page.body
    csrf = CSRF_RE.search(page.body).group(1)
    url = f"/admin/clients/{ids[1]}/erase"
    # No CSRF token, or a wrong one: 403, nothing erased.
    assert c.post(url, {"confirm": doc["reference"]}).status == 403
    assert c.post(url, {"csrf": "0" * 64, "confirm": doc["reference"]}).status == 403
    # A wrong confirmation: 400 with a clear message next to the field.
    for wrong in ("", "TND-XXXX", doc["reference"] + "X", booker["name"]):
        r = c.post(url, {"csrf": csrf, "confirm": wrong})
        assert r.status == 400, (wrong, r.status)
        assert f"Type the booking reference {doc['reference']} exactly to confirm the erasure." in r.body
        assert 'aria-invalid="true"' in r.body
    assert srv.sql("SELECT count(*) FROM booking_client WHERE erased_at IS NOT NULL") == [("0",)]

    r = c.post(url, {"csrf": csrf, "confirm": " " + doc["reference"].lower() + " "})
    assert r.status == 303 and r.headers["location"] == f"/admin/bookings/{doc['id']}/clients?done=erased"
    done = c.get(r.headers["location"])
    assert done.status == 200 and "data was erased." in done.body and "erased client" in done.body

    # Nothing of the booker anywhere in the database.
    dump = subprocess.run([_pg_dump(), "--no-owner", srv.dsn], capture_output=True, check=True, timeout=60).stdout
    assert b"booking_client" in dump
    for s in (booker["name"], booker["email"], booker["phone"], booker["answer"], booker["signature"]):
        assert s.encode() not in dump, s
    # What the rows hold now: sealed empty strings, no phone, no intake, no
    # queued messages or bodies, links revoked.
    row = srv.sql("SELECT phone_enc IS NULL, initials, link_token_hash IS NULL, erased_at IS NOT NULL"
                  " FROM booking_client WHERE id = :'p1'", ids[1])
    assert row == [("t", "", "t", "t")]
    assert srv.sql("SELECT count(*) FROM intake WHERE booking_id = :'p1' AND position = 1", doc["id"]) == [("0",)]
    assert srv.sql("SELECT count(*) FROM outbox WHERE booking_id = :'p1' AND recipient_role = 'booker'"
                   " AND (rcpt_enc IS NOT NULL OR message_enc IS NOT NULL)", doc["id"]) == [("0",)]
    j = json.loads(export(c, ids[1]).body)
    assert j["bookings"][0]["client"]["erased"] is True and "intake" not in j["bookings"][0]

    # The booking still reserves its time, with the same blocks.
    assert srv.sql("SELECT status FROM booking WHERE id = :'p1'", doc["id"]) == [(doc["status"],)]
    assert srv.sql("SELECT bool_and(active), count(*) FROM booking_block WHERE booking_id = :'p1'",
                   doc["id"]) == [("t", "2")]
    assert doc["start"] not in slot_starts(srv)
    # The clinician's feed still has the booking, now without the booker.
    ics = feed_text(srv, feed)
    assert "· erased client & RP" in ics and "QP &" not in ics
    # Admin pages work and show the erased client.
    b = c.get(f"/admin/bookings/{doc['id']}")
    assert b.status == 200 and "<dt>Booker</dt><dd>Erased client</dd>" in b.body
    assert booker["name"] not in b.body and booker["email"] not in b.body
    assert f'<span class="client-name">{html.escape(partner["name"])}</span>' in b.body
    assert c.get(f"/admin/bookings/{doc['id']}/intake").status == 200
    assert c.get("/admin").status == 200
    # The booker's links are dead; the partner's still work.
    manage = urllib.parse.urlparse(doc["manage_url"]).path
    assert srv.get(manage).status in (404, 410)
    assert api(srv, "GET", bt).status in (404, 410)
    assert api(srv, "GET", pt).status == 200
    assert srv.get(f"/intake/{pt}").status == 200
    partner_page = srv.get(f"/b/{pt}")
    assert partner_page.status == 200 and doc["reference"] in partner_page.body.decode()
    # Audited without PHI.
    [(actor, action, target, detail)] = [(a, ac, t, d) for _, a, ac, t, _, d in audit_rows(srv, "client.erase")]
    assert (actor, target, json.loads(detail)) == ("clinician:1", f"client:{ids[1]}", {"bookings": 1})
    # The partner's export is untouched.
    pj = json.loads(export(c, ids[2]).body)
    assert pj["bookings"][0]["client"]["name"] == partner["name"]
    assert pj["bookings"][0]["intake"]["answers"] == {"history": partner["answer"]}
    # Erasing again is harmless.
    assert c.post(url, {"csrf": csrf, "confirm": doc["reference"]}).status == 303
