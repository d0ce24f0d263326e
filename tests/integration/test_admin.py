"""Issue 7 (items 1, 6, 8): the clinician area's foundation — sign-in,
sessions and their cookie, CSRF, brute-force limits, TOTP with recovery
codes, password change, the hash-chained audit log, and the access rules.

Every test starts its own server (server_factory) on a fresh database so
login counters, sessions and the audit chain start empty; most run with
insecure_dev_cookies (plain http, as in `make run`), one checks the
production cookie without it.
"""

import base64
import concurrent.futures
import hashlib
import hmac
import html
import http.client
import json
import re
import secrets
import struct
import time
import urllib.parse
from collections import namedtuple
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

DEMO_EMAIL = "clinician@riverbend.example"
DEMO_PASSWORD = "tandem-demo-2026"
DEV = {"TANDEM_INSECURE_DEV_COOKIES": "true"}
CHI = ZoneInfo("America/Chicago")

TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")  # 256 bits, base64url
CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
LOGIN_CSRF_RE = re.compile(r'name="csrf" value="([A-Za-z0-9_-]{43})"')
OLD_PARAMS_HASH = (  # argon2id m=4096 t=1 p=1 of "old-params-password" (libargon2)
    "$argon2id$v=19$m=4096,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg$MOhU512e4bX9w894mogRHmP5p7V+bPsRP6ZySRI/HcM"
)
CURRENT_PARAMS = "$argon2id$v=19$m=19456,t=2,p=1$"


# --------------------------------------------------------------------------
# a small cookie-keeping client (stdlib only)

Resp = namedtuple("Resp", "status headers body set_cookies")


def multipart_body(form, files):
    """multipart/form-data as a browser sends it: fields, then files
    ({name: (filename, bytes)})."""
    boundary = "----tandemtest" + secrets.token_hex(8)
    out = b""
    for k, v in form.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").encode()
    for k, (fname, data) in files.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"; filename=\"{fname}\"\r\n"
                "Content-Type: text/calendar\r\n\r\n").encode() + data + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


class Client:
    """Keeps cookies like a browser would (by name), sends forms."""

    def __init__(self, srv):
        self.srv = srv
        self.cookies = {}

    def request(self, method, path, form=None, headers=None, body=None, files=None, multipart=False):
        h = dict(headers or {})
        if multipart or files:
            body, ctype = multipart_body(form or {}, files or {})
            h.setdefault("Content-Type", ctype)
        elif form is not None:
            body = urllib.parse.urlencode(form)
            h.setdefault("Content-Type", "application/x-www-form-urlencoded")
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn = http.client.HTTPConnection("127.0.0.1", self.srv.port, timeout=20)
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            raw = r.getheaders()
        finally:
            conn.close()
        set_cookies = [v for k, v in raw if k.lower() == "set-cookie"]
        headers_out = {}
        for k, v in raw:
            if k.lower() != "set-cookie":
                headers_out[k.lower()] = v
        for sc in set_cookies:
            name, _, value = sc.split(";")[0].partition("=")
            if "Max-Age=0" in sc:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return Resp(r.status, headers_out, data.decode("utf-8", "replace"), set_cookies)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, form=None, **kw):
        return self.request("POST", path, form=form if form is not None else {}, **kw)

    @property
    def session(self):
        return self.cookies.get("tandem_session") or self.cookies.get("__Host-tandem_session")

    def csrf(self):
        """The session's CSRF token, as the account page carries it."""
        r = self.get("/admin/account")
        assert r.status == 200, r
        return CSRF_RE.search(r.body).group(1)


def login_form(c, next_=None):
    r = c.get("/admin/login" + (f"?next={urllib.parse.quote(next_, safe='')}" if next_ else ""))
    assert r.status == 200, r
    return LOGIN_CSRF_RE.search(r.body).group(1)


def login(c, email=DEMO_EMAIL, password=DEMO_PASSWORD, next_=None):
    csrf = login_form(c, next_)
    form = {"csrf": csrf, "email": email, "password": password}
    if next_:
        form["next"] = next_
    return c.post("/admin/login", form)


def signed_in(srv, email=DEMO_EMAIL, password=DEMO_PASSWORD):
    c = Client(srv)
    r = login(c, email, password)
    assert r.status == 303 and r.headers["location"] == "/admin", r
    return c


def sha256(s):
    return hashlib.sha256(s.encode()).hexdigest()


def audit_rows_when(srv, action, n, timeout=10.0):
    """The rows of `action` once there are n of them: refusals are audited just after the
    answer is sent, so a client can read its 403 before the row commits."""
    deadline = time.monotonic() + timeout
    while True:
        rows = audit_rows(srv, action)
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.05)


def audit_rows(srv, action=None):
    q = "SELECT id, actor, action, target, ip, detail::text FROM audit_log"
    if action:
        return srv.sql(q + " WHERE action = :'p1' ORDER BY id", action)
    return srv.sql(q + " ORDER BY id")


def routes(tandem, srv):
    r = tandem(["routes"], srv.dsn)
    assert r.returncode == 0, r.stderr
    out = []
    for line in r.stdout.splitlines():
        method, pattern, flags = line.split(" ", 2)
        out.append((method, pattern, set(flags.split(","))))
    return out


def concrete(pattern):
    return pattern.replace("{id}", "1")


def add_clinician(tandem, srv, tmp_path, email, name, password, role="clinician"):
    pw = tmp_path / f"pw-{email}"
    pw.write_text(password + "\n")
    r = tandem(["clinician-add", "--email", email, "--name", name, "--role", role, "--password-file", str(pw)],
               srv.dsn)
    assert r.returncode == 0, r.stderr
    return int(srv.sql("SELECT id FROM clinician WHERE email = :'p1'", email)[0][0])


def book_consult(srv, n=1):
    """n confirmed consults for the demo clinician through the public API."""
    today = datetime.now(CHI).date()
    r = srv.get(f"/api/v1/availability?offering=consult&from={today}&to={today + timedelta(days=30)}")
    assert r.status == 200, r.body
    slots = r.json()["slots"]
    out = []
    for i in range(n):
        body = {"offering": "consult", "start": slots[i * 3]["start"], "consent": True,
                "clients": [{"name": "Alice Zephyr", "email": "alice@example.com"},
                            {"name": "Bob Yarrow", "email": "bob@example.com"}]}
        b = srv.request("POST", "/api/v1/bookings", body=body)
        assert b.status == 201, b.body
        out.append(b.json())
    return out


def totp(secret_b32, offset=0, at=None):
    key = base64.b32decode(secret_b32 + "=" * (-len(secret_b32) % 8))
    counter = int((at if at is not None else time.time()) // 30) + offset
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 15
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


def session_row(srv, token):
    rows = srv.sql("SELECT id, clinician_id, revoked_at IS NOT NULL, coalesce(revoked_reason, ''), mfa_pending"
                   " FROM admin_session WHERE token_hash = decode(:'p1', 'hex')", sha256(token))
    return rows[0] if rows else None


# --------------------------------------------------------------------------
# sign-in, cookies, sessions


def test_login_success_sets_a_fresh_hashed_session(server_factory):
    srv = server_factory(env=DEV)
    c = Client(srv)
    r = c.get("/admin/login")
    assert r.status == 200
    assert r.headers["cache-control"] == "no-store"
    assert 'autocomplete="current-password"' in r.body and '<label for="email">' in r.body
    # The sign-in form's CSRF token is its cookie's value (double submit).
    assert len(r.set_cookies) == 1
    token = LOGIN_CSRF_RE.search(r.body).group(1)
    assert r.set_cookies[0] == f"tandem_login={token}; Path=/; HttpOnly; SameSite=Strict"
    r = c.post("/admin/login", {"csrf": token, "email": DEMO_EMAIL.upper(), "password": DEMO_PASSWORD})
    assert r.status == 303, r.body
    assert r.headers["location"] == "/admin"
    session = [s for s in r.set_cookies if s.startswith("tandem_session=")]
    assert len(session) == 1
    value = session[0].split(";")[0].split("=", 1)[1]
    assert TOKEN_RE.match(value)
    assert session[0] == f"tandem_session={value}; Path=/; HttpOnly; SameSite=Strict"
    # Only the hash is stored.
    row = session_row(srv, value)
    assert row is not None and row[2] == "f" and row[4] == "f"
    assert srv.sql("SELECT count(*) FROM admin_session WHERE encode(token_hash, 'escape') LIKE '%' || :'p1' || '%'",
                   value) == [("0",)]
    r = c.get("/admin")
    assert r.status == 200 and "<h1>Dashboard</h1>" in r.body
    assert r.headers["cache-control"] == "no-store"
    assert "Dr. Maya Lindqvist" in r.body
    ok = audit_rows(srv, "login.success")
    assert [(a, t, json.loads(d)) for _, a, _, t, _, d in ok] == [
        ("clinician:1", "clinician:1", {"method": "password"})]


def test_login_wrong_password_and_unknown_account_look_the_same(server_factory):
    srv = server_factory(env=DEV)
    bodies = []
    for email, password in ((DEMO_EMAIL, "wrong-password-1"), ("nobody@example.com", DEMO_PASSWORD)):
        c = Client(srv)
        r = login(c, email, password)
        assert r.status == 401
        assert "That email and password do not match an account." in r.body
        assert not any(s.startswith("tandem_session=") for s in r.set_cookies)
        assert c.get("/admin").status == 303
        bodies.append(r.body.replace(html.escape(email), "EMAIL"))
    assert bodies[0].split("<main")[1].split('name="csrf"')[0] == bodies[1].split("<main")[1].split('name="csrf"')[0]
    fails = audit_rows(srv, "login.failure")
    assert [(a, t, json.loads(d)) for _, a, _, t, _, d in fails] == [
        ("public", "clinician:1", {"reason": "password"}),
        ("public", "", {"reason": "unknown account"}),
    ]
    # Typed addresses are not kept, not even hashed in the clear.
    assert "nobody@example.com" not in json.dumps(srv.sql("SELECT * FROM audit_log"))
    assert srv.sql("SELECT count(*) FROM login_throttle WHERE key LIKE '%nobody%'") == [("0",)]


def test_production_cookie_is_host_prefixed_and_secure(server_factory):
    srv = server_factory()  # no insecure_dev_cookies
    c = Client(srv)
    r = c.get("/admin/login")
    token = LOGIN_CSRF_RE.search(r.body).group(1)
    assert r.set_cookies == [f"__Host-tandem_login={token}; Path=/; Secure; HttpOnly; SameSite=Strict"]
    r = c.post("/admin/login", {"csrf": token, "email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert r.status == 303
    sess = [s for s in r.set_cookies if s.startswith("__Host-tandem_session=")]
    assert len(sess) == 1
    value = sess[0].split(";")[0].split("=", 1)[1]
    assert TOKEN_RE.match(value)
    assert sess[0] == f"__Host-tandem_session={value}; Path=/; Secure; HttpOnly; SameSite=Strict"
    attrs = [a.strip() for a in sess[0].split(";")[1:]]
    assert sorted(attrs) == sorted(["Path=/", "Secure", "HttpOnly", "SameSite=Strict"])  # no Domain
    assert c.get("/admin").status == 200
    # The dev cookie name means nothing in production.
    other = Client(srv)
    other.cookies["tandem_session"] = value
    assert other.get("/admin").status == 303


def test_new_session_id_at_every_login(server_factory):
    srv = server_factory(env=DEV)
    c = Client(srv)
    planted = "A" * 43  # an attacker's chosen id is never adopted
    c.cookies["tandem_session"] = planted
    r = login(c)
    assert r.status == 303
    first = c.session
    assert first != planted and TOKEN_RE.match(first)
    assert session_row(srv, planted) is None
    # Signing in again while signed in (the form is shown only to the
    # signed-out, so fetch it without the cookie): a new id, the old one dead.
    assert c.get("/admin/login").headers["location"] == "/admin"
    del c.cookies["tandem_session"]
    token = login_form(c)
    c.cookies["tandem_session"] = first
    r = c.post("/admin/login", {"csrf": token, "email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert r.status == 303
    second = c.session
    assert second != first
    assert session_row(srv, first)[2:4] == ("t", "signed-in")
    stale = Client(srv)
    stale.cookies["tandem_session"] = first
    r = stale.get("/admin")
    assert r.status == 303 and r.headers["location"].startswith("/admin/login")
    assert c.get("/admin").status == 200


def test_idle_timeout(server_factory):
    srv = server_factory(env={**DEV, "TANDEM_SESSION_IDLE_S": "2"})
    c = signed_in(srv)
    for _ in range(4):  # activity keeps it alive past the idle limit
        time.sleep(1.0)
        assert c.get("/admin").status == 200
    time.sleep(3.2)
    r = c.get("/admin")
    assert r.status == 303
    assert r.headers["location"] == "/admin/login?next=%2Fadmin&ended=1"
    assert r.set_cookies == ["tandem_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict"]
    r = c.get(r.headers["location"])
    assert "Your session has ended" in r.body


def test_absolute_timeout(server_factory):
    # The session lives 5 whole seconds from the second its sign-in request started, somewhere
    # between `before` and `after` (under ASan Argon2id alone takes about a second, more on a
    # loaded machine): it surely lives until before + 4 s and is surely gone from after + 5 s.
    srv = server_factory(env={**DEV, "TANDEM_SESSION_ABSOLUTE_S": "5"})
    before = time.monotonic()
    c = signed_in(srv)
    after = time.monotonic()
    assert c.get("/admin").status == 200
    statuses = []  # (seconds since `before` when the request was sent, status)
    while time.monotonic() - after < 6.5:
        time.sleep(0.5)
        sent = time.monotonic()
        statuses.append((round(sent - before, 2), round(sent - after, 2),
                         c.get("/admin").status if c.session else 303))
    assert all(s == 200 for b, _, s in statuses if b < 3.9), statuses
    assert all(s == 303 for _, a, s in statuses if a > 5.05), statuses
    assert any(a > 5.05 for _, a, _ in statuses), statuses


def test_last_seen_is_written_at_most_once_a_minute(server_factory):
    srv = server_factory(env=DEV)
    c = signed_in(srv)
    before = srv.sql("SELECT last_seen_at, created_at FROM admin_session")
    for _ in range(3):
        time.sleep(0.6)
        assert c.get("/admin").status == 200
    assert srv.sql("SELECT last_seen_at, created_at FROM admin_session") == before
    assert before[0][0] == before[0][1]


def test_logout(server_factory):
    srv = server_factory(env=DEV)
    c = signed_in(srv)
    token = c.session
    csrf = c.csrf()
    r = c.post("/admin/logout", {"csrf": csrf})
    assert r.status == 303 and r.headers["location"] == "/admin/login?out=1"
    assert "tandem_session=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict" in r.set_cookies
    assert session_row(srv, token)[2:4] == ("t", "logout")
    replay = Client(srv)
    replay.cookies["tandem_session"] = token
    assert replay.get("/admin").status == 303
    assert [x[2] for x in audit_rows(srv)][-1] == "logout"


def test_logout_everywhere(server_factory):
    srv = server_factory(env=DEV)
    a, b = signed_in(srv), signed_in(srv)
    assert b.get("/admin").status == 200
    r = a.post("/admin/logout-all", {"csrf": a.csrf()})
    assert r.status == 303 and r.headers["location"] == "/admin/login?out=all"
    for c in (a, b):
        c.cookies.setdefault("tandem_session", "x")
    assert b.get("/admin").status == 303
    assert srv.sql("SELECT count(*) FROM admin_session WHERE revoked_at IS NULL") == [("0",)]
    rows = audit_rows(srv, "logout.all")
    assert len(rows) == 1 and json.loads(rows[0][5]) == {"sessions_revoked": 2}


def test_sessions_list_and_revoke_one(server_factory, tandem, tmp_path):
    srv = server_factory(env=DEV)
    a, b = signed_in(srv), signed_in(srv)
    page = a.get("/admin/account").body
    assert page.count('class="session-item"') == 2
    assert page.count("This browser") == 1
    b_id = session_row(srv, b.session)[0]
    r = a.post(f"/admin/account/sessions/{b_id}/revoke", {"csrf": a.csrf()})
    assert r.status == 303 and r.headers["location"] == "/admin/account?done=session"
    assert b.get("/admin").status == 303
    assert a.get("/admin").status == 200
    # Another clinician's session id is out of reach: 404, and it stays alive.
    add_clinician(tandem, srv, tmp_path, "b@example.com", "Dr B", "b-password-123")
    other = signed_in(srv, "b@example.com", "b-password-123")
    other_id = session_row(srv, other.session)[0]
    r = a.post(f"/admin/account/sessions/{other_id}/revoke", {"csrf": a.csrf()})
    assert r.status == 404
    assert other.get("/admin").status == 200
    assert a.post("/admin/account/sessions/abc/revoke", {"csrf": a.csrf()}).status == 404


# --------------------------------------------------------------------------
# access rules


def test_every_admin_route_refuses_without_a_session(server_factory, tandem):
    srv = server_factory(env=DEV)
    table = routes(tandem, srv)
    checked = 0
    for method, pattern, flags in table:
        if not flags & {"admin", "partial"}:
            continue
        path = concrete(pattern)
        c = Client(srv)
        r = c.request(method, path, form={} if method != "GET" else None, multipart="multipart" in flags)
        if path.startswith("/api/"):
            assert r.status == 401, (method, path, r)
            err = json.loads(r.body)["error"]
            assert err["code"] == "unauthorized" and err["fields"] == {}
        else:
            assert r.status == 303, (method, path, r)
            assert r.headers["location"].startswith("/admin/login"), (method, path, r.headers)
        checked += 1
    assert checked >= 15
    # A GET remembers where it was going.
    r = Client(srv).get("/admin/audit?action=logout")
    assert r.headers["location"] == "/admin/login?next=%2Fadmin%2Faudit%3Faction%3Dlogout"
    # A made-up cookie is no session either.
    c = Client(srv)
    c.cookies["tandem_session"] = "B" * 43
    r = c.get("/api/v1/admin/bookings")
    assert r.status == 401


def test_csrf_missing_or_wrong_is_403_on_every_state_changing_route(server_factory, tandem):
    srv = server_factory(env=DEV)
    c = signed_in(srv)
    csrf = c.csrf()
    table = routes(tandem, srv)
    changing = [(m, p, f) for m, p, f in table if m != "GET" and f & {"admin", "partial", "login", "csrf"}]
    assert len(changing) >= 9
    for method, pattern, flags in changing:
        path = concrete(pattern)
        wrong = "0" * 64 if "login" not in flags else "C" * 43
        mp = "multipart" in flags
        for form in ({}, {"csrf": wrong}, {"csrf": csrf[:-1] + ("0" if csrf[-1] != "0" else "1")}):
            r = c.request(method, path, form=form, multipart=mp)
            assert r.status == 403, (method, path, form, r.status, r.body[:200])
            assert "This form has expired" in r.body
        r = c.request(method, path, form={}, headers={"X-CSRF-Token": wrong}, multipart=mp)
        assert r.status == 403, (method, path)
    # Each refusal is audited: this client is signed in (also when it posts to the sign-in routes).
    rows = audit_rows_when(srv, "access.refused", 4 * len(changing))
    assert len(rows) == 4 * len(changing)
    assert all(actor == "clinician:1" and json.loads(d)["status"] == 403 for _, actor, _, _, _, d in rows)
    # None of it did anything: still signed in, nothing revoked, TOTP off.
    assert c.get("/admin").status == 200
    assert srv.sql("SELECT count(*) FROM admin_session WHERE revoked_at IS NOT NULL") == [("0",)]
    assert srv.sql("SELECT count(*) FROM clinician_totp") == [("0",)]
    # The sign-in form: a token that is not the sign-in cookie's is refused.
    other = Client(srv)
    token = login_form(other)
    other.cookies["tandem_login"] = "D" * 43
    r = other.post("/admin/login", {"csrf": token, "email": DEMO_EMAIL, "password": DEMO_PASSWORD})
    assert r.status == 403
    # The right token in the header works too (for scripts and JSON).
    r = c.request("POST", "/admin/logout", headers={"X-CSRF-Token": csrf})
    assert r.status == 303


def test_clinician_sees_only_their_bookings_owner_sees_all(server_factory, tandem, tmp_path):
    srv = server_factory(env=DEV)
    b_id = add_clinician(tandem, srv, tmp_path, "b@example.com", "Dr Bea Stone", "b-password-123")
    add_clinician(tandem, srv, tmp_path, "c@example.com", "Dr Cal Reed", "c-password-123")
    x, y = book_consult(srv, 2)
    # Booking y becomes clinician B's.
    srv.sql("UPDATE booking SET clinician_id = :'p1' WHERE id = :'p2';"
            " UPDATE booking_block SET clinician_id = :'p1' WHERE booking_id = :'p2'", b_id, y["id"])
    owner = signed_in(srv)
    bea = signed_in(srv, "b@example.com", "b-password-123")
    cal = signed_in(srv, "c@example.com", "c-password-123")

    r = bea.get(f"/admin/bookings/{y['id']}")
    assert r.status == 200 and y["reference"] in r.body
    missing = bea.get("/admin/bookings/987654")
    theirs = bea.get(f"/admin/bookings/{x['id']}")
    assert missing.status == 404 and theirs.status == 404
    assert theirs.body == missing.body  # nothing tells "exists" from "not yours"
    for bad in ("0", "abc", "-1", "1" * 19, "01"):
        assert bea.get(f"/admin/bookings/{bad}").status == 404
    assert cal.get(f"/admin/bookings/{y['id']}").status == 404
    assert cal.get(f"/admin/bookings/{x['id']}").status == 404
    # The pages with the most sensitive data follow the same rule.
    for suffix in ("/intake", "/intake.json", "/clients"):
        assert bea.get(f"/admin/bookings/{x['id']}{suffix}").status == 404, suffix
        assert bea.get(f"/admin/bookings/{y['id']}{suffix}").status == 200, suffix
        assert owner.get(f"/admin/bookings/{x['id']}{suffix}").status == 200, suffix
    assert owner.get(f"/admin/bookings/{x['id']}").status == 200
    assert owner.get(f"/admin/bookings/{y['id']}").status == 200
    # Each refusal of a signed-in clinician is in the audit log, with who and what.
    refused = [(actor, target, json.loads(detail)) for _, actor, _, target, _, detail
               in audit_rows_when(srv, "access.refused", 12)]
    bea_actor = f"clinician:{b_id}"
    assert (bea_actor, f"/admin/bookings/{x['id']}",
            {"status": 404, "method": "GET", "route": "/admin/bookings/{id}"}) in refused
    assert (bea_actor, "/admin/bookings/987654",
            {"status": 404, "method": "GET", "route": "/admin/bookings/{id}"}) in refused
    assert sum(1 for a, _, _ in refused if a == bea_actor) == 10
    assert len(refused) == 12

    # Lists follow the same rule.
    assert {b["id"] for b in json.loads(bea.get("/api/v1/admin/bookings").body)["bookings"]} == {y["id"]}
    assert json.loads(cal.get("/api/v1/admin/bookings").body)["bookings"] == []
    assert {b["id"] for b in json.loads(owner.get("/api/v1/admin/bookings").body)["bookings"]} == {x["id"], y["id"]}
    dash = bea.get("/admin").body
    assert y["reference"] in dash and x["reference"] not in dash
    dash = owner.get("/admin").body
    assert y["reference"] in dash and x["reference"] in dash and "Dr Bea Stone" in dash

    # Every view of a booking is audited; refusals view nothing.
    views = [(a, t) for _, a, _, t, _, _ in audit_rows(srv, "booking.view")]
    assert views == [(f"clinician:{b_id}", f"booking:{y['id']}"), ("clinician:1", f"booking:{x['id']}"),
                     ("clinician:1", f"booking:{y['id']}")]


def test_booking_page_shows_status_dates_history_and_the_clients(server_factory):
    srv = server_factory(env=DEV)
    (b,) = book_consult(srv, 1)
    srv.sql("UPDATE booking_client SET safe_contact = 'text' WHERE booking_id = :'p1' AND position = 2", b["id"])
    c = signed_in(srv)
    r = c.get(f"/admin/bookings/{b['id']}")
    assert r.status == 200
    assert b["reference"] in r.body
    assert 'data-status="confirmed"' in r.body
    # The clients, decrypted for the clinician, with how each may safely be contacted.
    clients = r.body[r.body.index('id="clients-h"'):].split("</section>", 1)[0]
    dts = re.findall(r"<dt>(.*?)</dt>", clients)
    assert dts == ["Booker", "Partner"]
    assert '<span class="client-name">Alice Zephyr</span>' in clients
    assert '<a href="mailto:alice@example.com">alice@example.com</a>' in clients
    assert '<span class="client-name">Bob Yarrow</span>' in clients
    assert "Safe to contact by email" in clients and "Safe to contact by a text message" in clients
    # Never on the dashboard or the list API: initials there.
    dash = c.get("/admin").body
    assert "Alice" not in dash and "alice@example.com" not in dash and "AZ &amp; BY" in dash
    assert "booked online" in r.body and "Times are in America/Chicago" in r.body
    start = datetime.fromisoformat(b["blocks"][0]["start"]).astimezone(CHI)
    assert f"{start:%B} {start.day}, {start.year}" in r.body
    j = json.loads(c.get("/api/v1/admin/bookings").body)
    assert j["timezone"] == "America/Chicago"
    (row,) = j["bookings"]
    assert row["reference"] == b["reference"] and row["status"] == "confirmed" and row["initials"] == "AZ & BY"
    assert row["start"] == b["blocks"][0]["start"]


# --------------------------------------------------------------------------
# brute force


def test_backoff_then_the_right_password_works(server_factory):
    # Waits are whole seconds from the start of the failed attempt, and under ASan one Argon2id
    # check takes about a second (more on a loaded machine): the base wait must outlast that by a
    # margin or the "too early" attempt below may already be allowed (CI saw exactly that with a
    # 1 s base). So 5 s, and the waits seen are checked as ranges.
    srv = server_factory(env={**DEV, "TANDEM_LOGIN_FREE_ATTEMPTS": "2", "TANDEM_LOGIN_BACKOFF_BASE_S": "5",
                              "TANDEM_LOGIN_BACKOFF_MAX_S": "10"})
    c = Client(srv)
    assert login(c, password="wrong-one-1").status == 401
    assert login(c, password="wrong-one-2").status == 401
    r = login(c)  # the right password, too early
    assert r.status == 429
    wait = int(r.headers["retry-after"])
    assert 1 <= wait <= 5
    assert "Too many attempts" in r.body and f"wait {wait} second" in r.body
    assert c.session is None
    time.sleep(wait + 0.1)
    r = login(c)
    assert r.status == 303 and c.session
    # A success starts the account afresh.
    assert login(Client(srv), password="wrong-one-3").status == 401
    assert login(Client(srv), password="wrong-one-4").status == 401
    # Waits grow (5, 10, then 20 capped to 10): never a lock for good.
    seen = []
    for i in range(5):
        r = login(Client(srv), password=f"wrong-again-{i}")
        if r.status == 429:
            seen.append(int(r.headers["retry-after"]))
            time.sleep(seen[-1] + 0.1)
        else:
            assert r.status == 401
    assert len(seen) == 3 and seen[0] <= 5 and 6 <= seen[1] <= 10 and 6 <= seen[2] <= 10, seen
    assert login(Client(srv)).status == 303
    assert audit_rows(srv, "login.throttled")


def test_unknown_accounts_are_limited_like_real_ones(server_factory):
    srv = server_factory(env={**DEV, "TANDEM_LOGIN_FREE_ATTEMPTS": "2", "TANDEM_LOGIN_BACKOFF_BASE_S": "30"})
    for email in (DEMO_EMAIL, "ghost@example.com"):
        assert login(Client(srv), email, "nope-nope-1").status == 401
        assert login(Client(srv), email, "nope-nope-2").status == 401
        for _ in range(3):
            r = login(Client(srv), email, "nope-nope-3")
            assert r.status == 429 and r.headers["retry-after"] in ("29", "30")
    # Only the first refusal of each wait is audited (no flooding).
    assert [(a, t) for _, a, _, t, _, _ in audit_rows(srv, "login.throttled")] == [
        ("public", "clinician:1"), ("public", "")]


def test_per_address_limit(server_factory):
    srv = server_factory(env={**DEV, "TANDEM_LOGIN_FREE_ATTEMPTS": "1", "TANDEM_LOGIN_BACKOFF_BASE_S": "30"})
    # Each account fails once; the address gets five times as many.
    for i in range(5):
        assert login(Client(srv), f"guess{i}@example.com", "whatever-123").status == 401
    r = login(Client(srv), "guess5@example.com", "whatever-123")
    assert r.status == 429
    r = login(Client(srv))  # the right password from the same address waits too
    assert r.status == 429 and r.headers["retry-after"] in ("29", "30")  # ASan: argon2 takes ~1 s
    keys = {k for (k,) in srv.sql("SELECT key FROM login_throttle")}
    assert "ip:127.0.0.1" in keys
    assert all(re.match(r"^(c:[0-9a-f]{64}|ip:127\.0\.0\.1)$", k) for k in keys)


def test_parallel_guesses_share_one_count(server_factory):
    srv = server_factory(env={**DEV, "TANDEM_LOGIN_FREE_ATTEMPTS": "2", "TANDEM_LOGIN_BACKOFF_BASE_S": "30"})
    forms = []
    for i in range(12):
        c = Client(srv)
        forms.append((c, login_form(c), i))

    def attempt(item):
        c, csrf, i = item
        return c.post("/admin/login", {"csrf": csrf, "email": DEMO_EMAIL, "password": f"guess-{i}-xyz"}).status

    with concurrent.futures.ThreadPoolExecutor(max_workers=12) as ex:
        statuses = list(ex.map(attempt, forms))
    assert sorted(statuses) == [401, 401] + [429] * 10, statuses


# --------------------------------------------------------------------------
# TOTP


def enrol_totp(c, srv):
    csrf = c.csrf()
    r = c.post("/admin/account/totp", {"csrf": csrf})
    assert r.status == 303 and r.headers["location"] == "/admin/account/totp"
    page = c.get("/admin/account/totp")
    assert page.status == 200
    secret = re.search(r'data-secret="([A-Z2-7]+)"', page.body).group(1)
    uri = html.unescape(re.search(r'href="(otpauth://[^"]+)"', page.body).group(1))
    return csrf, secret, uri, page


def test_right_password_does_not_reset_the_count_for_code_guessing(server_factory):
    # With a second factor the account starts afresh only when the code is right: otherwise
    # "password, a few wrong codes, password again" would guess codes without end.
    srv = server_factory(env={**DEV, "TANDEM_LOGIN_FREE_ATTEMPTS": "3", "TANDEM_LOGIN_BACKOFF_BASE_S": "30"})
    c = signed_in(srv)
    csrf, secret, _, _ = enrol_totp(c, srv)
    assert c.post("/admin/account/totp/confirm", {"csrf": csrf, "code": totp(secret)}).status == 200
    wrong = "000000" if totp(secret) != "000000" else "111111"
    statuses = []
    for _ in range(5):
        d = Client(srv)
        r = login(d)
        statuses.append(r.status)
        if r.status != 303:
            break
        dcsrf = CSRF_RE.search(d.get("/admin/login/totp").body).group(1)
        statuses.append(d.post("/admin/login/totp", {"csrf": dcsrf, "code": wrong}).status)
    # The right password is not counted, the wrong codes are, and nothing in between clears
    # them: after three wrong codes the next sign-in waits.
    assert statuses == [303, 401, 303, 401, 303, 401, 429], statuses


def test_totp_sign_ins_do_not_pile_up_on_the_address(server_factory):
    # Each right answer gives the address its attempt back, the password step of a TOTP sign-in
    # too: otherwise every sign-in left one count and an office address ended up waiting.
    srv = server_factory(env={**DEV, "TANDEM_LOGIN_FREE_ATTEMPTS": "2", "TANDEM_LOGIN_BACKOFF_BASE_S": "30"})
    c = signed_in(srv)
    csrf, secret, _, _ = enrol_totp(c, srv)
    r = c.post("/admin/account/totp/confirm", {"csrf": csrf, "code": totp(secret)})
    codes = re.findall(r"<code>([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4})</code>", r.body)
    assert len(codes) == 10
    # Ten sign-ins (password, then a recovery code); the address has 2 x 5 = 10 free attempts.
    for code in codes:
        d = Client(srv)
        assert login(d).status == 303
        dcsrf = CSRF_RE.search(d.get("/admin/login/totp").body).group(1)
        r = d.post("/admin/login/totp", {"csrf": dcsrf, "code": code})
        assert r.status == 303, (code, r.status)
    assert srv.sql("SELECT failures FROM login_throttle WHERE key = 'ip:127.0.0.1'") == [("0",)]


def test_totp_enrol_login_replay_and_recovery_codes(server_factory):
    srv = server_factory(env=DEV)
    c = signed_in(srv)
    csrf, secret, uri, page = enrol_totp(c, srv)
    assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) == 20
    u = urllib.parse.urlsplit(uri)
    assert u.scheme == "otpauth" and u.netloc == "totp"
    assert urllib.parse.unquote(u.path) == f"/Riverbend Practice:{DEMO_EMAIL}"
    q = dict(urllib.parse.parse_qsl(u.query))
    assert q == {"secret": secret, "issuer": "Riverbend Practice", "algorithm": "SHA1", "digits": "6",
                 "period": "30"}
    assert "<script" not in page.body and "http" not in re.sub(r'href="otpauth[^"]*"', "", page.body.split("<main")[1].split("</main>")[0])
    # The secret is sealed at rest.
    raw = base64.b32decode(secret + "=" * (-len(secret) % 8)).hex()
    enc, confirmed = srv.sql("SELECT encode(secret_enc, 'hex'), confirmed_at IS NOT NULL FROM clinician_totp")[0]
    assert raw not in enc and confirmed == "f"
    # A wrong code does not turn it on.
    r = c.post("/admin/account/totp/confirm", {"csrf": csrf, "code": "000000" if totp(secret) != "000000" else "111111"})
    assert r.status == 422 and "That code is not right" in r.body
    r = c.post("/admin/account/totp/confirm", {"csrf": csrf, "code": totp(secret)})
    assert r.status == 200
    codes = re.findall(r"<code>([2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4}-[2-9A-Z]{4})</code>", r.body)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = {h for (h,) in srv.sql("SELECT encode(code_hash, 'hex') FROM totp_recovery_code WHERE used_at IS NULL")}
    assert stored == {sha256(x.replace("-", "")) for x in codes}
    assert c.get("/admin/account/totp").status == 303  # nothing pending any more: codes shown once
    assert "On: signing in asks for a code" in c.get("/admin/account").body

    # Signing in now takes the password, then a code.
    d = Client(srv)
    r = login(d)
    assert r.status == 303 and r.headers["location"] == "/admin/login/totp?next=%2Fadmin"
    pending = d.session
    assert session_row(srv, pending)[4] == "t"
    assert d.get("/admin").headers["location"] == "/admin/login/totp"  # the code is owed
    assert d.get("/api/v1/admin/bookings").status == 401
    page = d.get("/admin/login/totp")
    assert page.status == 200 and 'autocomplete="one-time-code"' in page.body
    dcsrf = CSRF_RE.search(page.body).group(1)
    code = totp(secret, offset=1)  # the confirm used this step's code; the next one is new
    r = d.post("/admin/login/totp", {"csrf": dcsrf, "code": code, "next": "/admin"})
    assert r.status == 303 and r.headers["location"] == "/admin"
    assert d.session != pending and session_row(srv, pending)[2] == "t"
    assert d.get("/admin").status == 200

    # The same code again (a replay) is refused.
    e = Client(srv)
    assert login(e).status == 303
    ecsrf = CSRF_RE.search(e.get("/admin/login/totp").body).group(1)
    r = e.post("/admin/login/totp", {"csrf": ecsrf, "code": code})
    assert r.status == 401 and "already used" in r.body
    # A recovery code works once.
    r = e.post("/admin/login/totp", {"csrf": ecsrf, "code": codes[3].lower()})
    assert r.status == 303 and e.get("/admin").status == 200
    f = Client(srv)
    assert login(f).status == 303
    fcsrf = CSRF_RE.search(f.get("/admin/login/totp").body).group(1)
    r = f.post("/admin/login/totp", {"csrf": fcsrf, "code": codes[3]})
    assert r.status == 401
    assert srv.sql("SELECT count(*) FROM totp_recovery_code WHERE used_at IS NOT NULL") == [("1",)]

    # Turning it off takes the password.
    r = c.post("/admin/account/totp/disable", {"csrf": csrf, "password": "not-my-password"})
    assert r.status == 422 and "That is not your password." in r.body
    r = c.post("/admin/account/totp/disable", {"csrf": csrf, "password": DEMO_PASSWORD})
    assert r.status == 303 and r.headers["location"] == "/admin/account?done=totp-off"
    assert srv.sql("SELECT count(*) FROM clinician_totp") == [("0",)]
    assert srv.sql("SELECT count(*) FROM totp_recovery_code") == [("0",)]
    assert login(Client(srv)).headers["location"] == "/admin"
    actions = [a for _, _, a, _, _, _ in audit_rows(srv)]
    for want in ("totp.enable", "totp.recovery_used", "totp.disable"):
        assert want in actions
    methods = [json.loads(d)["method"] for _, _, _, _, _, d in audit_rows(srv, "login.success")]
    assert methods == ["password", "totp", "recovery", "password"]


def test_too_many_wrong_codes_end_the_attempt(server_factory):
    srv = server_factory(env=DEV)
    c = signed_in(srv)
    csrf, secret, _, _ = enrol_totp(c, srv)
    assert c.post("/admin/account/totp/confirm", {"csrf": csrf, "code": totp(secret)}).status == 200
    d = Client(srv)
    assert login(d).status == 303
    dcsrf = CSRF_RE.search(d.get("/admin/login/totp").body).group(1)
    good = {totp(secret, k) for k in (-1, 0, 1, 2)}
    wrong = next(f"{n:06d}" for n in range(1000000) if f"{n:06d}" not in good)
    for left in (4, 3, 2, 1):
        r = d.post("/admin/login/totp", {"csrf": dcsrf, "code": wrong})
        assert r.status == 401 and f"{left} tr" in r.body
    r = d.post("/admin/login/totp", {"csrf": dcsrf, "code": wrong})
    assert r.status == 303 and r.headers["location"] == "/admin/login?mfa=failed"
    assert d.session is None
    assert srv.sql("SELECT revoked_reason FROM admin_session WHERE mfa_pending") == [("mfa-failed",)]


# --------------------------------------------------------------------------
# passwords


def test_password_change_invalidates_other_sessions(server_factory):
    srv = server_factory(env=DEV)
    a, b = signed_in(srv), signed_in(srv)
    csrf = a.csrf()
    fresh = "a-brand-new-password"
    for form, field in (
        ({"current": "wrong-password", "password": fresh, "confirm": fresh}, "current"),
        ({"current": DEMO_PASSWORD, "password": "short", "confirm": "short"}, "password"),
        ({"current": DEMO_PASSWORD, "password": fresh, "confirm": fresh + "x"}, "confirm"),
        ({"current": DEMO_PASSWORD, "password": DEMO_PASSWORD, "confirm": DEMO_PASSWORD}, "password"),
    ):
        r = a.post("/admin/account/password", {"csrf": csrf, **form})
        assert r.status == 422, form
        assert f'id="{field}-error"' in r.body and f'id="{field}" name' in r.body, form
    assert b.get("/admin").status == 200
    r = a.post("/admin/account/password", {"csrf": csrf, "current": DEMO_PASSWORD, "password": fresh,
                                           "confirm": fresh})
    assert r.status == 303 and r.headers["location"] == "/admin/account?done=password"
    assert a.get("/admin").status == 200
    assert b.get("/admin").status == 303
    assert login(Client(srv)).status == 401
    assert login(Client(srv), password=fresh).status == 303
    (row,) = audit_rows(srv, "password.change")
    assert json.loads(row[5]) == {"sessions_revoked": 1}
    assert srv.sql("SELECT revoked_reason FROM admin_session WHERE revoked_at IS NOT NULL") == [("password-change",)]


def test_clinician_add_resets_the_password_and_ends_sessions(server_factory, tandem, tmp_path):
    srv = server_factory(env=DEV)
    c = signed_in(srv)
    add_clinician(tandem, srv, tmp_path, DEMO_EMAIL, "Dr. Maya Lindqvist", "reset-by-operator", role="owner")
    assert c.get("/admin").status == 303
    assert login(Client(srv)).status == 401
    assert login(Client(srv), password="reset-by-operator").status == 303
    (row,) = audit_rows(srv, "clinician.add")
    assert row[1:5] == ("system", "clinician.add", "clinician:1", "cli")
    assert json.loads(row[5]) == {"role": "owner", "sessions_revoked": 1}


def test_rehash_on_login_when_parameters_change(server_factory):
    srv = server_factory(env=DEV)
    srv.sql("UPDATE clinician SET password_hash = :'p1' WHERE email = :'p2'", OLD_PARAMS_HASH, DEMO_EMAIL)
    assert login(Client(srv), password="old-params-password").status == 303
    (h,) = srv.sql("SELECT password_hash FROM clinician WHERE email = :'p1'", DEMO_EMAIL)[0]
    assert h.startswith(CURRENT_PARAMS) and h != OLD_PARAMS_HASH
    assert login(Client(srv), password="old-params-password").status == 303
    assert srv.sql("SELECT password_hash FROM clinician WHERE email = :'p1'", DEMO_EMAIL)[0][0] == h


def test_next_is_kept_and_never_leaves_the_admin_area(server_factory):
    srv = server_factory(env=DEV)
    r = login(Client(srv), next_="/admin/audit?action=logout")
    assert r.headers["location"] == "/admin/audit?action=logout"
    for evil in ("//evil.example/admin", "https://evil.example/", "/admin/../x", "/administrator",
                 "/admin\\evil", "/admin/login", "/admin/%0d%0aX: y"):
        r = login(Client(srv), next_=evil)
        assert r.status == 303 and r.headers["location"] == "/admin", (evil, r.headers)


# --------------------------------------------------------------------------
# the audit log


def verify(tandem, srv):
    return tandem(["audit", "verify"], srv.dsn)


def test_audit_chain_verifies_and_is_append_only(server_factory, tandem, helpers):
    srv = server_factory(env=DEV)
    for _ in range(3):
        c = signed_in(srv)
        c.post("/admin/logout", {"csrf": c.csrf()})
    login(Client(srv), password="wrong-password")
    n = int(srv.sql("SELECT count(*) FROM audit_log")[0][0])
    assert n == 7
    ids = [int(i) for (i,) in srv.sql("SELECT id FROM audit_log ORDER BY id")]
    assert ids == list(range(1, n + 1))
    r = verify(tandem, srv)
    assert r.returncode == 0, r.stderr
    head = srv.sql("SELECT hash FROM audit_log ORDER BY id DESC LIMIT 1")[0][0]
    assert r.stdout.strip() == f"audit chain ok: {n} entries, head {head}"
    # Links: every prev_hash is the hash before it.
    rows = srv.sql("SELECT prev_hash, hash FROM audit_log ORDER BY id")
    assert rows[0][0] == "0" * 64
    assert all(rows[i][0] == rows[i - 1][1] for i in range(1, n))
    # The application's role (here the cluster's superuser) cannot change it.
    for stmt in ("UPDATE audit_log SET actor = 'x' WHERE id = 2", "DELETE FROM audit_log WHERE id = 2",
                 "TRUNCATE audit_log",
                 "SET session_replication_role = replica; DELETE FROM audit_log WHERE id = 2"):
        with pytest.raises(AssertionError, match="append-only"):
            srv.sql(stmt)
    # Nor can a role that owns the table but is no superuser (production).
    role = f"app_{srv.dbname}"[:60]
    srv.sql(f'CREATE ROLE "{role}" LOGIN; ALTER TABLE audit_log OWNER TO "{role}"')
    app_dsn = srv.dsn.replace("user=tandem", f"user={role}")
    for stmt in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log", "TRUNCATE audit_log"):
        with pytest.raises(AssertionError, match="append-only"):
            helpers.psql(app_dsn, stmt)
    # An entry that does not continue the chain is refused at write time.
    with pytest.raises(AssertionError, match="does not continue the chain"):
        srv.sql("INSERT INTO audit_log (id, at, actor, action, prev_hash, hash)"
                " VALUES (:'p1', now(), 'x', 'forged', repeat('a', 64), repeat('b', 64))", n + 1)
    assert verify(tandem, srv).returncode == 0


@pytest.mark.parametrize("tamper,broken,why", [
    ("UPDATE audit_log SET detail = '{\"method\": \"magic\"}' WHERE id = 3", 3, "does not match its hash"),
    ("UPDATE audit_log SET ip = '10.9.9.9' WHERE id = 2", 2, "does not match its hash"),
    ("DELETE FROM audit_log WHERE id = 2", 3, "entry 2 before it is missing"),
    ("UPDATE audit_log SET hash = repeat('c', 64) WHERE id = 4", 4, "does not match its hash"),
])
def test_audit_verify_names_the_first_broken_entry(server_factory, tandem, tamper, broken, why):
    srv = server_factory(env=DEV)
    for _ in range(3):
        c = signed_in(srv)
        c.post("/admin/logout", {"csrf": c.csrf()})
    assert verify(tandem, srv).returncode == 0
    # Only the superuser of this test cluster can switch the trigger off.
    srv.sql("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_change; " + tamper +
            "; ALTER TABLE audit_log ENABLE ALWAYS TRIGGER audit_log_no_change")
    r = verify(tandem, srv)
    assert r.returncode == 1
    assert r.stdout.startswith(f"audit chain broken at entry {broken}: "), r.stdout
    assert why in r.stdout


def test_concurrent_writers_form_one_chain(server_factory, tandem):
    srv = server_factory(env={**DEV, "TANDEM_THREADS": "8"})
    (b,) = book_consult(srv, 1)
    clients = [signed_in(srv) for _ in range(4)]

    def view(i):
        return clients[i % 4].get(f"/admin/bookings/{b['id']}").status

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as ex:
        statuses = list(ex.map(view, range(64)))
    assert statuses == [200] * 64
    assert srv.sql("SELECT count(*) FROM audit_log WHERE action = 'booking.view'") == [("64",)]
    n = int(srv.sql("SELECT count(*) FROM audit_log")[0][0])
    assert srv.sql("SELECT min(id), max(id) FROM audit_log") == [("1", str(n))]
    r = verify(tandem, srv)
    assert r.returncode == 0 and r.stdout.startswith(f"audit chain ok: {n} entries"), r.stdout


def test_audit_viewer_filters_and_scope(server_factory, tandem, tmp_path):
    srv = server_factory(env=DEV)
    b_id = add_clinician(tandem, srv, tmp_path, "b@example.com", "Dr Bea Stone", "b-password-123")
    owner = signed_in(srv)
    bea = signed_in(srv, "b@example.com", "b-password-123")
    login(Client(srv), "b@example.com", "wrong-password-x")
    login(Client(srv), "ghost@example.com", "wrong-password-y")

    def ids(c, query=""):
        r = c.get("/admin/audit" + query)
        assert r.status == 200, r.body[:300]
        return [int(x) for x in re.findall(r'<tr data-id="(\d+)">', r.body)]

    everything = [int(i) for (i,) in srv.sql("SELECT id FROM audit_log ORDER BY id DESC")]
    assert ids(owner) == everything
    own = [int(i) for (i,) in srv.sql(
        "SELECT id FROM audit_log WHERE actor = :'p1' OR target = :'p1' ORDER BY id DESC", f"clinician:{b_id}")]
    assert ids(bea) == own and len(own) == 3  # B set up by clinician-add, signed in, a failure
    fails = [int(i) for (i,) in srv.sql("SELECT id FROM audit_log WHERE action = 'login.failure' ORDER BY id DESC")]
    assert ids(owner, "?action=login.failure") == fails and len(fails) == 2
    logins = [int(i) for (i,) in srv.sql("SELECT id FROM audit_log WHERE action LIKE 'login.%' ORDER BY id DESC")]
    assert ids(owner, "?action=login.") == logins and len(logins) == 4
    assert ids(owner, "?actor=public") == fails
    assert ids(owner, f"?actor=clinician%3A{b_id}") == [int(i) for (i,) in srv.sql(
        "SELECT id FROM audit_log WHERE actor = :'p1' ORDER BY id DESC", f"clinician:{b_id}")]
    today = datetime.now(CHI).date()
    assert ids(owner, f"?from={today}&to={today}") == everything
    assert ids(owner, f"?from={today + timedelta(days=1)}") == []
    assert ids(owner, f"?to={today - timedelta(days=1)}") == []
    # B cannot widen the scope with a filter.
    assert ids(bea, "?actor=public") == [i for i in own if i in fails]
    assert ids(bea, "?actor=clinician%3A1") == []
    r = owner.get("/admin/audit?from=2026-02-30&action=Bad!")
    assert r.status == 422 and "A date like 2026-11-21." in r.body
    assert "<script" not in r.body


def test_trusted_proxy_address_is_recorded(server_factory):
    srv = server_factory(env={**DEV, "TANDEM_TRUST_PROXY": "true"})
    c = Client(srv)
    token = login_form(c)
    r = c.post("/admin/login", {"csrf": token, "email": DEMO_EMAIL, "password": DEMO_PASSWORD},
               headers={"X-Forwarded-For": "198.51.100.9, 203.0.113.7"})
    assert r.status == 303
    assert srv.sql("SELECT ip FROM admin_session") == [("203.0.113.7",)]
    assert audit_rows(srv, "login.success")[0][4] == "203.0.113.7"
    # Without trust_proxy the header is ignored.
    srv2 = server_factory(env=DEV)
    c = Client(srv2)
    token = login_form(c)
    c.post("/admin/login", {"csrf": token, "email": DEMO_EMAIL, "password": DEMO_PASSWORD},
           headers={"X-Forwarded-For": "203.0.113.7"})
    assert srv2.sql("SELECT ip FROM admin_session") == [("127.0.0.1",)]


def test_link_from_another_site_hops_once_to_carry_the_strict_cookie(server_factory):
    srv = server_factory(env=DEV)
    c = signed_in(srv)
    token = c.session
    # A cross-site navigation arrives without the SameSite=Strict cookie.
    r = Client(srv).get("/admin/audit?action=logout&from=2026-01-01", headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status == 200
    hop = "/admin/audit?action=logout&amp;from=2026-01-01"
    assert f'<meta http-equiv="refresh" content="0;url={hop}">' in r.body
    assert f'<a href="{hop}">Continue</a>' in r.body and "<script" not in r.body
    # The hop itself is same-origin, so the browser sends the cookie.
    c2 = Client(srv)
    c2.cookies["tandem_session"] = token
    assert c2.get("/admin/audit?action=logout&from=2026-01-01", headers={"Sec-Fetch-Site": "same-origin"}).status == 200
    # Without a session a same-site request goes to sign-in as always, and
    # a hop never leaves the admin area.
    assert Client(srv).get("/admin", headers={"Sec-Fetch-Site": "same-origin"}).status == 303
    r = Client(srv).get("/admin/bookings/1", headers={"Sec-Fetch-Site": "cross-site"})
    assert 'content="0;url=/admin/bookings/1"' in r.body
    r = Client(srv).get("/api/v1/admin/bookings", headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status == 401


def test_session_api_gives_scripts_the_csrf_token(server_factory):
    srv = server_factory(env=DEV)
    assert Client(srv).get("/api/v1/admin/session").status == 401
    c = signed_in(srv)
    r = c.get("/api/v1/admin/session")
    assert r.status == 200 and r.headers["content-type"] == "application/json"
    j = json.loads(r.body)
    assert j == {"clinician_id": 1, "name": "Dr. Maya Lindqvist", "email": DEMO_EMAIL, "owner": True,
                 "timezone": "America/Chicago", "csrf": c.csrf()}
    r = c.request("POST", "/admin/logout", headers={"X-CSRF-Token": j["csrf"]})
    assert r.status == 303 and c.get("/api/v1/admin/session").status == 401
