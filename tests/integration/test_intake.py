"""Each client's private intake (issue 6): forms seeded and versioned,
one capability per person, policy first, validation, escaping, sealed at
rest, screening flags that mark the booking for review and reach no
client, and the answers read-only once signed.

Run: cd tests/integration && /usr/bin/python3 -m pytest -q -x test_intake.py
"""

import email
import email.policy
import hashlib
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import time
import urllib.parse
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

CHI = ZoneInfo("America/Chicago")
REPO = Path(__file__).resolve().parents[2]
FORMS = REPO / "forms"
FORBIDDEN = re.compile(r"couple|therap", re.I)
# Words that would give a flag away.
FLAG_NAMES = re.compile(r"\bipv\b|suicide_risk|ambivalence|needs.review|\bflag|screening", re.I)

# Every required question of the intensive intake, answered without a flag.
CALM = {
    "history": "We met at a choir rehearsal.",
    "satisfaction": 6,
    "stay_together": "committed",
    "conflict_pattern": "withdraw",
    "hopes": "Talking without shutting down.",
    "prior_therapy": "no",
    "substance_concern": "no",
    "afraid_of_partner": "no",
    "physical_harm": "no",
    "threats": "no",
    "safe_at_home": "yes",
    "outside_relationship": "no",
    "self_harm_thoughts": "no",
}


@pytest.fixture
def srv(server_factory):
    d = tempfile.mkdtemp(prefix="tandem-intake-mail.", dir="/tmp")
    s = server_factory(env={"TANDEM_MAIL_DIR": d, "TANDEM_MAIL_POLL_MS": "100", "TANDEM_INSECURE_DEV_COOKIES": "true"})
    s.mail_dir = d
    yield s
    shutil.rmtree(d, ignore_errors=True)


def intensive_start(srv, n=0):
    t = datetime.now(CHI).date()
    q = urllib.parse.urlencode({"offering": "intensive-2day", "from": str(t + timedelta(days=8)),
                                "to": str(t + timedelta(days=120))})
    r = srv.get("/api/v1/availability?" + q)
    assert r.status == 200
    return r.json()["slots"][n]["start"]


def book(srv, n=0):
    tag = secrets.token_hex(4)
    booker = {"name": f"Avery Quill{tag}", "email": f"avery.{tag}@example.com"}
    partner = {"name": f"Bartholomew Marchbank{tag}", "email": f"jordan.{tag}@example.org"}
    r = srv.request("POST", "/api/v1/bookings", body={
        "offering": "intensive-2day", "start": intensive_start(srv, n), "clients": [booker, partner],
        "consent": True})
    assert r.status == 201, r.body[:300]
    return r.json(), booker, partner


def messages(srv, helpers, want):
    """The delivered messages (file transport), once at least want exist."""
    def read():
        out = []
        for f in sorted(Path(srv.mail_dir).glob("*.eml")):
            out.append(email.message_from_bytes(f.read_bytes(), policy=email.policy.default))
        return out
    helpers.wait_until(lambda: len(read()) >= want, timeout=20, interval=0.1, what=f"{want} messages")
    return read()


def text_of(msg):
    parts = [msg["Subject"]]
    for p in msg.walk():
        if p.get_content_maintype() == "text":
            parts.append(p.get_content())
    return "\n".join(parts)


def to(msgs, addr):
    return [m for m in msgs if addr in m["To"]]


def intake_token(msg):
    m = re.search(r"/intake/([A-Za-z0-9_-]{16,64})", text_of(msg))
    assert m, text_of(msg)
    return m.group(1)


def api(srv, method, token, body=None, path=""):
    return srv.request(method, f"/api/v1/intake/{token}{path}", body=body)


def accept(srv, token):
    r = api(srv, "PUT", token, {"accept_policy": True})
    assert r.status == 200, r.body[:300]
    return r


def form_post(srv, token, fields):
    return srv.request("POST", f"/intake/{token}", headers={"Content-Type": "application/x-www-form-urlencoded"},
                       body=urllib.parse.urlencode(fields, doseq=True))


def both_tokens(srv, helpers):
    doc, booker, partner = book(srv)
    msgs = messages(srv, helpers, 3)  # received (with the booker's link), new_request, the partner's invitation
    [bi] = to(msgs, booker["email"])
    [pi] = to(msgs, partner["email"])
    return doc, booker, partner, intake_token(bi), intake_token(pi), msgs


# --------------------------------------------------------------------------


def test_forms_are_seeded_with_the_hash_of_their_file(srv):
    rows = srv.sql("SELECT slug, version, sha256 FROM intake_form ORDER BY slug")
    want = sorted((f.stem, "1", hashlib.sha256(f.read_bytes()).hexdigest()) for f in FORMS.glob("*.json"))
    assert [tuple(r) for r in rows] == want
    assert {r[0] for r in rows} == {"intensive-intake", "pre-consult"}


def test_each_client_gets_only_their_own_link(srv, helpers):
    doc, booker, partner, bt, pt, msgs = both_tokens(srv, helpers)
    # The booker's intake link is their own capability (the manage token),
    # and the API's intake_url is that link, never the partner's.
    assert doc["intake_url"].endswith("/intake/" + bt)
    assert doc["manage_url"].endswith("/b/" + bt)
    assert bt != pt
    booker_text = "\n".join(text_of(m) for m in to(msgs, booker["email"]))
    partner_text = "\n".join(text_of(m) for m in to(msgs, partner["email"]))
    assert pt not in booker_text and partner["name"] not in booker_text and partner["email"] not in booker_text
    assert bt not in partner_text and booker["name"] not in partner_text and booker["email"] not in partner_text
    for m in msgs:
        assert not FORBIDDEN.search(text_of(m)), m["Subject"]
    # Each booking page (the booker's confirmation, the partner's page) links its holder's own form only.
    for mine, theirs in ((bt, pt), (pt, bt)):
        page = srv.get(f"/b/{mine}").text
        assert f'href="/intake/{mine}"' in page and theirs not in page
    roles = sorted(tuple(r) for r in srv.sql(
        "SELECT kind, recipient_role FROM outbox WHERE booking_id = :'p1' ORDER BY id", str(doc["id"])))
    assert roles == sorted([("received", "booker"), ("new_request", "clinician"), ("intake_invite", "partner")])


def test_both_partners_answer_the_same_form_version(server_factory, helpers):
    d = tempfile.mkdtemp(prefix="tandem-intake-mail.", dir="/tmp")
    srv = server_factory(env={"TANDEM_MAIL_DIR": d, "TANDEM_MAIL_POLL_MS": "100"})
    srv.mail_dir = d
    try:
        doc, _, _, bt, pt, _ = both_tokens(srv, helpers)
        assert api(srv, "GET", bt).status == 200  # the booker's intake: the form as it is now
        # The form changes before the partner opens theirs.
        srv.sql("INSERT INTO intake_form (slug, version, sha256, definition)"
                " SELECT slug, version + 1, repeat('a', 64), definition FROM intake_form"
                " WHERE slug = 'intensive-intake' ORDER BY version DESC LIMIT 1")
        assert api(srv, "GET", pt).status == 200
        rows = srv.sql("SELECT i.position, f.version FROM intake i JOIN intake_form f ON f.id = i.form_id"
                       " WHERE i.booking_id = :'p1' ORDER BY i.position", doc["id"])
        assert rows == [("1", "1"), ("2", "1")]  # side by side, question by question
        # A new booking's intakes take the new version.
        for f in Path(d).glob("*.eml"):
            f.unlink()
        doc2, _, _, bt2, _, _ = both_tokens(srv, helpers)
        assert api(srv, "GET", bt2).status == 200
        assert srv.sql("SELECT f.version FROM intake i JOIN intake_form f ON f.id = i.form_id"
                       " WHERE i.booking_id = :'p1'", doc2["id"]) == [("2",)]
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_one_token_never_reaches_the_other_intake(srv, helpers):
    doc, booker, partner, bt, pt, _ = both_tokens(srv, helpers)
    accept(srv, bt)
    accept(srv, pt)
    secret_b = "booker-only-" + secrets.token_hex(6)
    secret_p = "partner-only-" + secrets.token_hex(6)
    assert api(srv, "PUT", bt, {"answers": {"history": secret_b}}).status == 200
    assert api(srv, "PUT", pt, {"answers": {"history": secret_p}}).status == 200
    for token, mine, theirs in ((bt, secret_b, secret_p), (pt, secret_p, secret_b)):
        j = api(srv, "GET", token).json()
        assert j["answers"] == {"history": mine}
        page = srv.get(f"/intake/{token}?page=1").text
        assert mine in page and theirs not in page
        assert theirs not in srv.get(f"/b/{token}").text
    # Two rows, one per person; the partner's token cannot touch the booking.
    assert srv.sql("SELECT position FROM intake WHERE booking_id = :'p1' ORDER BY 1", str(doc["id"])) == [("1",), ("2",)]
    r = srv.request("POST", f"/api/v1/manage/{pt}/cancel", body={})
    assert r.status == 403
    # The screening rules are not shown to the client.
    assert "screening" not in api(srv, "GET", pt).json()["form"]["definition"]


@pytest.mark.parametrize("token", ["A" * 22, "short", "x" * 65, "%3Cscript%3E"])
def test_a_link_that_does_not_open_reveals_nothing(srv, token):
    for path in (f"/intake/{token}", f"/api/v1/intake/{token}"):
        r = srv.get(path)
        assert r.status == 404
        assert "not valid" in r.text
        assert "TND-" not in r.text
    r = srv.request("PUT", f"/api/v1/intake/{'B' * 22}", body={"accept_policy": True})
    assert r.status == 404


def test_revoked_and_expired_links_do_not_open(srv, helpers):
    doc, _, _, bt, pt, _ = both_tokens(srv, helpers)
    srv.sql("UPDATE booking_client SET link_revoked_at = now() WHERE booking_id = :'p1' AND position = 2",
            str(doc["id"]))
    srv.sql("UPDATE booking SET manage_expires_at = now() - interval '1 second' WHERE id = :'p1'", str(doc["id"]))
    for t in (bt, pt):
        r = srv.get(f"/intake/{t}")
        assert r.status == 404 and "not valid" in r.text and doc["reference"] not in r.text


def test_the_policy_comes_first(srv, helpers):
    _, _, _, bt, _, _ = both_tokens(srv, helpers)
    page = srv.get(f"/intake/{bt}")
    assert page.status == 200
    assert "How we keep what you tell us" in page.text and "name=\"accept\"" in page.text
    assert page.headers.get("cache-control") == "no-store"
    assert page.headers.get("referrer-policy") == "no-referrer"
    r = api(srv, "PUT", bt, {"answers": {"history": "too early"}})
    assert r.status == 403
    r = api(srv, "POST", bt, {"signature": "Avery"}, "/submit")
    assert r.status == 403
    # Without ticking the box, the form says so.
    r = form_post(srv, bt, {"action": "accept"})
    assert r.status == 422 and "tick the box" in r.text
    r = form_post(srv, bt, {"action": "accept", "accept": "yes"})
    assert r.status == 303
    assert api(srv, "GET", bt).json()["policy_accepted"] is True


@pytest.mark.parametrize("answers,field,msg", [
    ({"no_such_question": "x"}, "answers", "no such question"),
    ({"stay_together": "forever"}, "stay_together", "choose one"),
    ({"body_signals": ["racing", "flying"]}, "body_signals", "choose from"),
    ({"body_signals": ["racing", "racing"]}, "body_signals", "once"),
    ({"satisfaction": 11}, "satisfaction", "scale"),
    ({"satisfaction": "7"}, "satisfaction", "scale"),
    ({"together_since": "2019-02-30"}, "together_since", "YYYY-MM-DD"),
    ({"prior_therapy": "maybe"}, "prior_therapy", "yes or no"),
    ({"history": "x" * 8001}, "history", "too long"),
    ({"medication": "y" * 2001}, "medication", "too long"),
    ({"history": 5}, "history", "in words"),
])
def test_bad_answers_are_refused_field_by_field(srv, helpers, answers, field, msg):
    _, _, _, bt, _, _ = both_tokens(srv, helpers)
    accept(srv, bt)
    r = api(srv, "PUT", bt, {"answers": answers})
    assert r.status == 422, r.body[:300]
    err = r.json()["error"]
    assert err["code"] == "invalid"
    assert msg.lower() in err["fields"][field].lower()
    assert "no_such_question" not in json.dumps(err)
    assert api(srv, "GET", bt).json()["answers"] == {}


def test_malformed_and_oversized_bodies(srv, helpers):
    _, _, _, bt, _, _ = both_tokens(srv, helpers)
    accept(srv, bt)
    r = srv.request("PUT", f"/api/v1/intake/{bt}", headers={"Content-Type": "application/json"}, body=b"{not json")
    assert r.status == 400
    r = api(srv, "PUT", bt, {"answers": ["history"]})
    assert r.status == 422
    r = api(srv, "PUT", bt, {"answers": {"history": "z" * 200_000}})
    assert r.status == 413
    r = srv.request("PUT", f"/api/v1/intake/{bt}", headers={"Content-Type": "text/plain"}, body=b"{}")
    assert r.status == 415


XSS = ['<script>alert("x")</script>', '"><img src=x onerror=alert(1)>', "' autofocus onfocus='alert(1)"]


def test_markup_is_stored_as_text_and_shown_escaped(srv, helpers):
    _, _, _, bt, _, _ = both_tokens(srv, helpers)
    accept(srv, bt)
    answers = {"history": XSS[0], "hopes": XSS[1], "conflict_example": XSS[2]}
    assert api(srv, "PUT", bt, {"answers": answers}).status == 200
    assert api(srv, "GET", bt).json()["answers"] == answers
    for page in (1, 2, 3):
        body = srv.get(f"/intake/{bt}?page={page}").text
        for p in XSS:
            assert p not in body
        assert "<script>alert" not in body and "<img src=x" not in body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in srv.get(f"/intake/{bt}?page=1").text
    # And on the read-only page after signing.
    r = api(srv, "POST", bt, {"answers": {**CALM, **answers}, "signature": "Avery Quill"}, "/submit")
    assert r.status == 200, r.body[:300]
    body = srv.get(f"/intake/{bt}").text
    assert "&lt;script&gt;" in body and "<script>alert" not in body and "<img src=x" not in body


def test_the_whole_form_works_without_javascript(srv, helpers):
    doc, _, _, bt, _, _ = both_tokens(srv, helpers)
    assert form_post(srv, bt, {"action": "accept", "accept": "yes"}).status == 303
    # A bad scale value comes back with the message and what was typed.
    r = form_post(srv, bt, {"page": "1", "action": "next", "q.history": "Typed <b>text</b>",
                            "q.satisfaction": "99", "q.stay_together": "committed"})
    assert r.status == 422
    assert "Please choose a point on the scale." in r.text and "Typed &lt;b&gt;text&lt;/b&gt;" in r.text
    pages = [
        {"q.history": "Our story", "q.satisfaction": "7", "q.stay_together": "committed",
         "q.together_since": "2015-06-01"},
        {"q.conflict_pattern": "reach", "q.body_signals": ["racing", "tight"], "q.calm_down": "hours"},
        {"q.hopes": "Fewer fights", "q.prior_therapy": "yes", "q.prior_therapy_detail": "It helped a bit"},
        {"q.substance_concern": "no"},
        {"q.afraid_of_partner": "no", "q.physical_harm": "no", "q.threats": "no", "q.safe_at_home": "yes",
         "q.outside_relationship": "no", "q.self_harm_thoughts": "no"},
    ]
    for i, fields in enumerate(pages, 1):
        r = form_post(srv, bt, {"page": str(i), "action": "next", **fields})
        assert r.status == 303, (i, r.body[:400])
        assert r.headers["location"].endswith(f"?page={i + 1}")
    # Resume from the same link elsewhere: the answers are there.
    j = api(srv, "GET", bt).json()
    assert j["answers"]["body_signals"] == ["racing", "tight"] and j["answers"]["satisfaction"] == 7
    assert 'value="racing" checked' in srv.get(f"/intake/{bt}?page=2").text
    # Signing needs a name.
    r = form_post(srv, bt, {"page": "6", "action": "submit", "signature": "  "})
    assert r.status == 422 and "type your full name" in r.text
    r = form_post(srv, bt, {"page": "6", "action": "submit", "signature": "Avery Quill"})
    assert r.status == 303
    page = srv.get(f"/intake/{bt}").text
    assert "your answers have been sent" in page and "Fewer fights" in page and "<textarea" not in page
    row = srv.sql("SELECT submitted_at IS NOT NULL, submitted_sha256, f.sha256, flagged FROM intake i"
                  " JOIN intake_form f ON f.id = i.form_id WHERE booking_id = :'p1' AND position = 1",
                  str(doc["id"]))
    assert row[0][0] == "t" and row[0][1] == row[0][2] and row[0][3] == "f"
    assert srv.sql("SELECT needs_review FROM booking WHERE id = :'p1'", str(doc["id"])) == [("f",)]


def test_submitted_answers_are_read_only(srv, helpers):
    _, _, _, bt, _, _ = both_tokens(srv, helpers)
    accept(srv, bt)
    r = api(srv, "POST", bt, {"answers": {"history": "only this"}, "signature": "Avery"}, "/submit")
    assert r.status == 422
    fields = r.json()["error"]["fields"]
    assert "satisfaction" in fields and "history" not in fields and "signature" not in fields
    assert "prior_therapy_detail" not in fields  # hidden: not required
    r = api(srv, "POST", bt, {"answers": CALM, "signature": "Avery Quill"}, "/submit")
    assert r.status == 200 and r.json()["submitted"] is True
    assert api(srv, "PUT", bt, {"answers": {"history": "changed"}}).status == 409
    assert api(srv, "POST", bt, {"signature": "Avery Quill"}, "/submit").status == 409
    r = form_post(srv, bt, {"page": "1", "action": "next", "q.history": "changed"})
    assert r.status == 409
    assert api(srv, "GET", bt).json()["answers"]["history"] == CALM["history"]


def test_hidden_questions_are_dropped_on_submit(srv, helpers):
    doc, _, _, bt, _, _ = both_tokens(srv, helpers)
    accept(srv, bt)
    answers = {**CALM, "prior_therapy": "no", "prior_therapy_detail": "should vanish"}
    assert api(srv, "POST", bt, {"answers": answers, "signature": "A Q"}, "/submit").status == 200
    assert "prior_therapy_detail" not in api(srv, "GET", bt).json()["answers"]


def test_a_flag_marks_the_booking_for_review_and_reaches_no_client(srv, helpers):
    doc, booker, partner, bt, pt, _ = both_tokens(srv, helpers)
    accept(srv, bt)
    accept(srv, pt)
    assert api(srv, "POST", bt, {"answers": CALM, "signature": "Avery Quill"}, "/submit").status == 200
    assert srv.sql("SELECT needs_review FROM booking WHERE id = :'p1'", str(doc["id"])) == [("f",)]
    seen = [f"/intake/{bt}", f"/b/{bt}", f"/api/v1/intake/{bt}", f"/b/{pt}", f"/b/{pt}/invite.ics",
            f"/b/{bt}/invite.ics"]
    before = {p: srv.get(p).body for p in seen}
    planted = "planted-" + secrets.token_hex(8)
    flagged = {**CALM, "afraid_of_partner": "yes", "anything_else": planted, "self_harm_thoughts": "often"}
    r = api(srv, "POST", pt, {"answers": flagged, "signature": "Jordan Marchbank"}, "/submit")
    assert r.status == 200
    assert srv.sql("SELECT needs_review FROM booking WHERE id = :'p1'", str(doc["id"])) == [("t",)]
    assert srv.sql("SELECT position, flagged FROM intake WHERE booking_id = :'p1' ORDER BY position",
                   str(doc["id"])) == [("1", "f"), ("2", "t")]
    # Nothing either client sees changed because of it ...
    for p in seen:
        assert srv.get(p).body == before[p], p
    # ... and their own pages name no flag.
    for p in (f"/intake/{pt}", f"/api/v1/intake/{pt}", r.text):
        body = srv.get(p).text if p.startswith("/") else p
        assert not FLAG_NAMES.search(body), p[:40]
    # Every message of the booking: no answer, no flag.
    n = int(srv.sql("SELECT count(*) FROM outbox WHERE booking_id = :'p1'", str(doc["id"]))[0][0])
    msgs = messages(srv, helpers, n)
    assert len(msgs) >= n
    for m in msgs:
        t = text_of(m)
        assert planted not in t and not FLAG_NAMES.search(t) and not FORBIDDEN.search(t), m["Subject"]


def _pg_dump():
    for p in ("/usr/lib/postgresql/15/bin/pg_dump", "/usr/bin/pg_dump"):
        if os.access(p, os.X_OK):
            return p
    return shutil.which("pg_dump")


def test_answers_are_sealed_at_rest(srv, helpers):
    doc, _, _, bt, pt, _ = both_tokens(srv, helpers)
    accept(srv, bt)
    accept(srv, pt)
    draft = "draftmark" + secrets.token_hex(10)
    final = "finalmark" + secrets.token_hex(10)
    sig = "Sigmark" + secrets.token_hex(6)
    assert api(srv, "PUT", pt, {"answers": {"history": draft}}).status == 200
    r = api(srv, "POST", bt, {"answers": {**CALM, "hopes": final, "outside_relationship": "yes"},
                              "signature": sig}, "/submit")
    assert r.status == 200
    dump = subprocess.run([_pg_dump(), "--no-owner", srv.dsn], capture_output=True, check=True, timeout=60).stdout
    assert b"intake" in dump
    # The form definitions are in the dump (they are not secret); the answers are not.
    for s in (draft, final, sig):
        assert s.encode() not in dump, s


def test_a_sealed_draft_copied_to_the_other_row_does_not_open(srv, helpers):
    doc, _, _, bt, pt, _ = both_tokens(srv, helpers)
    accept(srv, bt)
    accept(srv, pt)
    mine = "partnerdraft" + secrets.token_hex(6)
    assert api(srv, "PUT", pt, {"answers": {"history": mine}}).status == 200
    srv.sql("UPDATE intake SET draft_enc = (SELECT draft_enc FROM intake WHERE booking_id = :'p1' AND position = 2)"
            " WHERE booking_id = :'p1' AND position = 1", str(doc["id"]))
    r = api(srv, "GET", bt)
    assert r.status == 500 and mine not in r.text
    assert api(srv, "GET", pt).json()["answers"] == {"history": mine}


def test_the_clinician_reads_both_side_by_side_and_every_read_is_audited(srv, helpers):
    from test_admin import signed_in  # the sign-in helper of the clinician area's tests
    doc, _, _, bt, pt, _ = both_tokens(srv, helpers)
    accept(srv, bt)
    accept(srv, pt)
    assert api(srv, "POST", bt, {"answers": {**CALM, "history": XSS[1]}, "signature": "Avery Q"}, "/submit").status == 200
    assert api(srv, "PUT", pt, {"answers": {"satisfaction": 2, "history": "Her <b>view</b>"}}).status == 200
    assert api(srv, "POST", pt, {"answers": {**CALM, "satisfaction": 2, "history": "Her <b>view</b>",
                                             "outside_relationship": "yes"}, "signature": "J M"}, "/submit").status == 200
    # Nobody signed in: no intake.
    assert srv.get(f"/admin/bookings/{doc['id']}/intake").status in (303, 401)
    assert srv.get(f"/admin/bookings/{doc['id']}/intake.json").status in (303, 401)
    c = signed_in(srv)
    before = int(srv.sql("SELECT count(*) FROM audit_log WHERE action LIKE 'intake.%'")[0][0])
    r = c.get(f"/admin/bookings/{doc['id']}/intake")
    assert r.status == 200, r.body[:300]
    body = r.body
    # Flags first, with whose answers raised them.
    assert body.index("Screening flags") < body.index("Scale answers") < body.index("Your relationship")
    assert 'data-flag="affair"' in body and "raised by Partner 2" in body and 'data-flag="ambivalence"' in body
    assert ">Affair</strong> — raised by Partner 2" in body  # the flag by name, not its code
    assert "raised by Partner 1" not in body
    # Side by side, differences marked, markup escaped, the chart drawn.
    assert "Her &lt;b&gt;view&lt;/b&gt;" in body and "<b>view</b>" not in body
    assert "&quot;&gt;&lt;img src=x" in body and "<img src=x" not in body
    assert body.count('class="differ"') >= 3  # history, satisfaction, outside relationship
    assert "<svg" in body and 'class="bar-a"' in body and 'class="bar-b"' in body
    assert "signed “Avery Q”" in body
    e = c.get(f"/admin/bookings/{doc['id']}/intake.json")
    assert e.status == 200 and "attachment" in e.headers["content-disposition"]
    j = json.loads(e.body)
    assert j["reference"] == doc["reference"] and j["needs_review"] is True
    assert [cl["flags"] for cl in j["clients"]] == [[], ["affair", "ambivalence"]]
    assert j["clients"][0]["answers"]["history"] == XSS[1] and j["clients"][1]["signature"] == "J M"
    assert j["form"]["sha256"] == hashlib.sha256((FORMS / "intensive-intake.json").read_bytes()).hexdigest()
    rows = srv.sql("SELECT action, target, actor FROM audit_log WHERE action LIKE 'intake.%' ORDER BY id")
    assert len(rows) == before + 2
    assert [r[:2] for r in rows[-2:]] == [("intake.view", f"booking:{doc['id']}"),
                                          ("intake.export", f"booking:{doc['id']}")]
    assert rows[-1][2].startswith("clinician:")
    # The audit log holds no answer.
    assert not srv.sql("SELECT 1 FROM audit_log WHERE detail::text LIKE '%view%' OR target LIKE '%Her%'")
    # Unknown booking: 404.
    assert c.get("/admin/bookings/999999/intake").status == 404


def test_reminders_before_the_hold_lapses_only_to_who_has_not_sent(server_factory, helpers):
    d = tempfile.mkdtemp(prefix="tandem-intake-mail.", dir="/tmp")
    srv = server_factory(env={"TANDEM_MAIL_DIR": d, "TANDEM_MAIL_POLL_MS": "100", "TANDEM_JOBS_INTERVAL_S": "1",
                              "TANDEM_INTAKE_REMINDER_HOURS": "72,24"})
    srv.mail_dir = d
    doc, booker, partner, bt, pt, _ = both_tokens(srv, helpers)
    accept(srv, bt)
    assert api(srv, "POST", bt, {"answers": CALM, "signature": "Avery Quill"}, "/submit").status == 200
    # Made days ago; the hold lapses in 10 hours: inside both marks.
    srv.sql("UPDATE booking SET created_at = now() - interval '5 days',"
            " hold_expires_at = now() + interval '10 hours' WHERE id = :'p1'", str(doc["id"]))

    def reminders():
        return srv.sql("SELECT recipient_role, dedupe_key FROM outbox WHERE booking_id = :'p1'"
                       " AND kind = 'intake_reminder' ORDER BY id", str(doc["id"]))
    helpers.wait_until(lambda: len(reminders()) >= 2, timeout=15, interval=0.2, what="two reminders")
    time.sleep(2.5)  # more job runs: still once per mark
    rows = reminders()
    assert [r[0] for r in rows] == ["partner", "partner"]
    assert sorted(r[1].split(":")[3] for r in rows) == ["24", "72"]
    msgs = messages(srv, helpers, 5)
    rem = [m for m in to(msgs, partner["email"]) if "reminder" in m["Subject"]]
    assert len(rem) == 2 and intake_token(rem[0]) == pt
    for m in rem:
        t = text_of(m)
        assert booker["name"] not in t and bt not in t and not FORBIDDEN.search(t) and not FLAG_NAMES.search(t)
    shutil.rmtree(d, ignore_errors=True)


KEY_OF = "convert_from(substring({c} FROM 3 FOR get_byte({c}, 1)), 'UTF8')"


def test_key_rotation_reencrypts_while_serving(server_factory, helpers, tandem, tmp_path):
    from test_admin import signed_in
    keys = tmp_path / "tandem.keys"
    subprocess.run([str(helpers.tandem_bin()), "keygen", str(keys)], check=True, capture_output=True)
    d = tempfile.mkdtemp(prefix="tandem-intake-mail.", dir="/tmp")
    env = {"TANDEM_KEY_FILE": str(keys), "TANDEM_MAIL_DIR": d, "TANDEM_MAIL_POLL_MS": "100",
           "TANDEM_INSECURE_DEV_COOKIES": "true"}
    srv = server_factory(env=env)
    srv.mail_dir = d
    doc, booker, _, bt, pt, _ = both_tokens(srv, helpers)
    accept(srv, bt)
    accept(srv, pt)
    assert api(srv, "POST", bt, {"answers": {**CALM, "hopes": "kept safe"}, "signature": "Avery Quill"},
               "/submit").status == 200
    assert api(srv, "PUT", pt, {"answers": {"history": "a draft"}}).status == 200
    # An imported calendar: its stored file is sealed too.
    ics = tmp_path / "busy.ics"
    ics.write_text("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\nBEGIN:VEVENT\r\nUID:r1@t\r\n"
                   "DTSTAMP:20260101T000000Z\r\nDTSTART:20300105T150000Z\r\nDTEND:20300105T160000Z\r\n"
                   "END:VEVENT\r\nEND:VCALENDAR\r\n")
    r = tandem(["calendar", "import", str(ics), "--clinician", "clinician@riverbend.example"], srv.dsn, env=env)
    assert r.returncode == 0, r.stderr
    old_id = srv.sql("SELECT " + KEY_OF.format(c="answers_enc") + " FROM intake WHERE position = 1")[0][0]
    # A new key first; the old one still opens.
    lines = keys.read_text().splitlines()
    new_line = "key k2rot " + secrets.token_hex(32)
    i = next(n for n, line in enumerate(lines) if line.startswith("key "))
    keys.write_text("\n".join(lines[:i] + [new_line] + lines[i:]) + "\n")
    os.chmod(keys, 0o600)
    srv.restart()
    r = tandem(["keys", "status"], srv.dsn, env=env)
    assert r.returncode == 0, r.stderr
    before = int(re.search(r"(\d+) value\(s\) under older keys", r.stdout).group(1))
    assert before >= 8  # two intakes' columns, four clients' contact columns, the outbox
    # Rotate in small batches while the server answers.
    p = subprocess.Popen([str(helpers.tandem_bin()), "keys", "rotate", "--batch", "2"],
                         env=helpers.tandem_env(srv.dsn, srv.port, env), cwd=str(REPO),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while p.poll() is None:
        assert api(srv, "GET", pt).status == 200
        assert api(srv, "PUT", pt, {"answers": {"hopes": "typed during rotation"}}).status == 200
    out, err = p.communicate()
    assert p.returncode == 0, err
    m = re.search(r"rotated (\d+) value\(s\) to key k2rot; 0 did not open; (\d+) left", out)
    # A row the mail sender holds is skipped and taken by a later batch, and
    # the server may write some values under the new key itself: what must
    # hold is that nothing is left under the old key and everything opens.
    assert m and int(m.group(1)) >= 1 and m.group(2) == "0", out
    for tbl, col in (("intake", "answers_enc"), ("intake", "draft_enc"), ("intake", "flags_enc"),
                     ("intake", "signature_enc"), ("booking_client", "name_enc"), ("outbox", "message_enc"),
                     ("calendar_source", "content_enc")):
        ids = {r[0] for r in srv.sql(f"SELECT DISTINCT {KEY_OF.format(c=col)} FROM {tbl} WHERE {col} IS NOT NULL")}
        assert ids == {"k2rot"}, (tbl, col, ids, old_id)
    # The old key can go: everything still opens.
    keys.write_text("\n".join(line for line in keys.read_text().splitlines()
                              if not line.startswith(f"key {old_id} ")) + "\n")
    os.chmod(keys, 0o600)
    srv.restart()
    assert api(srv, "GET", bt).json()["answers"]["hopes"] == "kept safe"
    assert api(srv, "GET", pt).json()["answers"] == {"history": "a draft", "hopes": "typed during rotation"}
    c = signed_in(srv)
    r = c.get(f"/admin/bookings/{doc['id']}/intake.json")
    assert r.status == 200 and json.loads(r.body)["clients"][0]["signature"] == "Avery Quill"
    shutil.rmtree(d, ignore_errors=True)
