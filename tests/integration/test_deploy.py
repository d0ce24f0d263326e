"""Issue 8: what deploy/ ships, tested as shipped.

- deploy/tandem.conf.example documents every key of backend/core/config.c
  (and the README's table lists them all) and loads as it is.
- deploy/tandem.service: the hardening keys, and `systemd-analyze verify`.
- deploy/nginx/tandem.conf, run by nginx (nginx_harness.py) in front of the
  real server: HTTPS with HSTS, HTTP → HTTPS, body size, rate limits,
  Transfer-Encoding + Content-Length refused, normalised URIs only,
  capability tokens kept out of its access log.
- Scale-out: nginx in front of two `tandem serve` processes on one
  database: bookings through both, the race through both (one winner),
  background jobs (outbox, hold expiry) each done once.
- deploy/backup.sh and deploy/restore.sh: back up, drop, restore; every
  table identical and the audit chain verifies.

Everything listens on 127.0.0.1 only; every wait is bounded.
"""

import re
import shutil
import subprocess
import time
import urllib.parse
import warnings
from datetime import timedelta
from pathlib import Path

import pytest

from conftest import REPO, Server, launch_server, psql, tandem_bin, tandem_env, wait_until
from nginx_harness import SERVER_NAME, Nginx
from test_booking import (
    RACE_N, book_ok, booking_body, events, first_monday, iso, local, people, race,
    race_report, slots, today_chi,
)

CONFIG_C = REPO / "backend" / "core" / "config.c"
EXAMPLE = REPO / "deploy" / "tandem.conf.example"
UNIT = REPO / "deploy" / "tandem.service"
BACKUP = REPO / "deploy" / "backup.sh"
RESTORE = REPO / "deploy" / "restore.sh"


def config_keys():
    """The key names of config.c's table, in order."""
    text = CONFIG_C.read_text()
    keys = re.findall(r'^\s*\{"([a-z_]+)", CFG_(?:STRING|LONG|BOOL)', text, re.M)
    assert len(keys) >= 40, f"parsed only {len(keys)} keys from {CONFIG_C}"
    return keys


# ==========================================================================
# the example configuration


def test_example_config_documents_every_key():
    lines = EXAMPLE.read_text().splitlines()
    key_line = re.compile(r"^(?:# )?([a-z_]+) =(?: .*)?$")
    seen = {}
    for i, line in enumerate(lines):
        m = key_line.match(line)
        if m and m.group(1) not in seen:
            seen[m.group(1)] = i
    missing = [k for k in config_keys() if k not in seen]
    assert not missing, f"deploy/tandem.conf.example lacks {missing}"
    for k in config_keys():
        i = seen[k]
        # Documented: a comment of prose right above it (not another key).
        above = lines[i - 1] if i > 0 else ""
        assert above.startswith("# ") and not key_line.match(above), f"{k} has no comment above it"
    unknown = [k for k in seen if k not in config_keys() and not k.endswith("_file")]
    assert not unknown, f"the example names keys tandem does not know: {unknown}"
    readme = (REPO / "README.md").read_text()
    not_in_readme = [k for k in config_keys() if f"| `{k}` |" not in readme]
    assert not not_in_readme, f"README's Configuration table lacks {not_in_readme}"


def _uncomment_all(text):
    """Every commented `# key = value` line made live (file-valued secrets
    excepted: their files do not exist here)."""
    out = []
    for line in text.splitlines():
        m = re.match(r"^# ([a-z_]+ =.*)$", line)
        if m and not m.group(1).split(" ")[0].endswith("_file"):
            line = m.group(1)
        out.append(line)
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("variant", ["as shipped", "every key set"])
def test_example_config_loads(database, tmp_path, variant):
    """tandem reads the example (with the environment pointing it at a test
    database): no unknown key, no bad value."""
    text = EXAMPLE.read_text()
    if variant == "every key set":
        text = _uncomment_all(text)
    conf = tmp_path / "tandem.conf"
    conf.write_text(text)
    _, dsn = database()
    env = tandem_env(dsn)
    env.pop("TANDEM_LISTEN", None)
    r = subprocess.run([str(tandem_bin()), "--config", str(conf), "migrate"], cwd=REPO, env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


# ==========================================================================
# the systemd unit


def parse_unit(path):
    sections, cur = {}, None
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            assert line.endswith("]"), raw
            cur = sections.setdefault(line[1:-1], {})
            continue
        assert cur is not None and "=" in line, f"not a unit line: {raw!r}"
        k, v = line.split("=", 1)
        cur.setdefault(k.strip(), []).append(v.strip())
    return sections


def test_systemd_unit_is_hardened():
    u = parse_unit(UNIT)
    assert set(u) == {"Unit", "Service", "Install"}
    s = {k: v[-1] for k, v in u["Service"].items()}
    assert s["User"] == "tandem" and s["Group"] == "tandem"
    assert s["ExecStart"].endswith(" serve") and "--config /etc/tandem/tandem.conf" in s["ExecStart"]
    expected = {
        "NoNewPrivileges": "yes", "ProtectSystem": "strict", "PrivateTmp": "yes", "ProtectHome": "yes",
        "PrivateDevices": "yes", "StateDirectory": "tandem", "ReadWritePaths": "/var/lib/tandem",
        "CapabilityBoundingSet": "", "KillSignal": "SIGTERM", "UMask": "0077",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "MemoryDenyWriteExecute": "yes",
    }
    for k, v in expected.items():
        assert s.get(k) == v, f"{k}={s.get(k)!r}, expected {v!r}"
    # The only writable paths are the state directory.
    assert u["Service"]["ReadWritePaths"] == ["/var/lib/tandem"]
    assert "ReadWriteDirectories" not in s and "DynamicUser" not in s
    # The example config puts mail (the one thing tandem writes) there.
    assert re.search(r"^mail_dir = /var/lib/tandem/", EXAMPLE.read_text(), re.M)
    assert u["Install"]["WantedBy"] == ["multi-user.target"]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_analyze_verify(tmp_path):
    """The unit as shipped, with ExecStart pointing at the built binary
    (verify checks that the program exists)."""
    text = UNIT.read_text().replace("/usr/local/bin/tandem", str(tandem_bin()))
    unit = tmp_path / "tandem.service"
    unit.write_text(text)
    r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    # Lines about other units on this machine are not ours to judge.
    ours = [l for l in (r.stdout + r.stderr).splitlines() if "tandem.service" in l]
    assert r.returncode == 0 and not ours, r.stdout + r.stderr


# ==========================================================================
# nginx in front of one server


@pytest.fixture(scope="module")
def proxied(cluster):
    srv = launch_server(cluster, cluster.dir / "servers", env={"TANDEM_TRUST_PROXY": "true"})
    ng = Nginx([srv.port])
    try:
        ng.start()
        yield srv, ng
    finally:
        ng.cleanup()
        srv.stop(check=True)


@pytest.fixture
def fresh_nginx(proxied):
    """A new nginx (fresh rate-limit zones) in front of the module's server."""
    srv, _ = proxied
    ng = Nginx([srv.port]).start()
    yield srv, ng
    ng.cleanup()


def tandem_lines(srv, needle):
    return [l for l in srv.log().splitlines() if needle in l]


def test_nginx_config_test_passes(proxied):
    _, ng = proxied
    r = ng.check()
    assert r.returncode == 0, r.stderr
    assert "warn" not in r.stderr, r.stderr


def test_https_serves_tandem_with_hsts_and_modern_tls(proxied):
    srv, ng = proxied
    f = ng.front()
    r = f.get("/")
    assert r.status == 200 and b"Riverbend" in r.body, r.status
    assert r.headers["strict-transport-security"] == "max-age=63072000; includeSubDomains"
    # tandem's own headers pass through.
    assert "content-security-policy" in r.headers
    assert "nginx/" not in r.headers.get("server", "")  # server_tokens off
    # Errors carry HSTS too (add_header ... always).
    assert f.get("/no-such-page").headers.get("strict-transport-security")
    with f.tls_socket() as s:
        assert s.version() in ("TLSv1.2", "TLSv1.3")
    # A client that stops at TLS 1.1 gets no connection.
    import ssl
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.load_verify_locations(ng.ca)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old.minimum_version = ssl.TLSVersion.TLSv1
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    import socket
    with pytest.raises((ssl.SSLError, OSError)):
        with socket.create_connection(("127.0.0.1", ng.https_port), timeout=5) as raw:
            with old.wrap_socket(raw, server_hostname="127.0.0.1"):
                pass


def test_http_redirects_to_https_except_acme(proxied, http):
    _, ng = proxied
    base = f"http://127.0.0.1:{ng.http_port}"
    r = http(base, "GET", "/offerings/consult?month=2030-01")
    assert r.status == 301
    assert r.headers["location"] == f"https://{SERVER_NAME}/offerings/consult?month=2030-01"
    r = http(base, "POST", "/api/v1/bookings", body={"x": 1})
    assert r.status == 301
    r = http(base, "GET", "/.well-known/acme-challenge/probe")
    assert r.status == 200 and r.body == b"acme-ok\n"


def test_both_transfer_encoding_and_content_length_is_refused(proxied):
    """nginx 1.22 refuses this itself (since 1.21.1); tandem never sees it."""
    srv, ng = proxied
    before = len(tandem_lines(srv, "POST /api/v1/bookings"))
    body = b'0\r\n\r\n'
    status, _, _ = ng.front().raw(
        b"POST /api/v1/bookings HTTP/1.1\r\nHost: booking.example.org\r\nContent-Type: application/json\r\n"
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
    assert status == 400
    time.sleep(0.2)
    # nginx answered itself: no upstream time in its access log.
    assert re.search(r'"POST /api/v1/bookings" 400 \d+ [\d.]+ -$', ng.access_log(), re.M), ng.access_log()
    assert len(tandem_lines(srv, "POST /api/v1/bookings")) == before


def test_body_over_the_limit_is_413_before_tandem(proxied):
    srv, ng = proxied
    before = len(tandem_lines(srv, "POST /api/v1/csp-report"))
    r = ng.front().request("POST", "/api/v1/csp-report", headers={"Content-Type": "application/csp-report"},
                           body=b"x" * (65 * 1024))
    assert r.status == 413
    # Within the limit it reaches tandem (which has its own, lower one).
    r = ng.front().request("POST", "/api/v1/csp-report", headers={"Content-Type": "application/csp-report"},
                           body=b"{}")
    assert r.status in (204, 400, 422), r.status
    time.sleep(0.2)
    assert len(tandem_lines(srv, "POST /api/v1/csp-report")) == before + 1


@pytest.mark.parametrize("path", [
    "//offerings", "/offerings//consult", "/static/../README.md", "/static/./style.css", "/offerings/..",
    "/%2e%2e/etc/passwd", "/static/%2E%2E%2fx", "/b/abc%2fdef", "/b/%00", "/static%5cstyle.css",
])
def test_non_normalised_paths_are_refused(proxied, path):
    srv, ng = proxied
    status, _, _ = ng.front().raw(f"GET {path} HTTP/1.1\r\nHost: {SERVER_NAME}\r\nConnection: close\r\n\r\n".encode())
    assert status == 400, path


def test_normal_paths_and_queries_pass(proxied):
    _, ng = proxied
    f = ng.front()
    assert f.get("/static/style.css").status == 200
    assert f.get("/offerings/consult").status == 200
    # An encoded slash in the query is the application's business.
    assert f.get("/admin/login?next=%2Fadmin").status == 200


def test_access_log_never_holds_capability_tokens(proxied):
    _, ng = proxied
    token = "Zq3" + "x" * 40
    f = ng.front()
    for p in (f"/b/{token}", f"/feeds/{token}.ics", f"/api/v1/manage/{token}/cancel"):
        f.get(p)
    time.sleep(0.3)
    log = ng.access_log()
    assert '"GET /b/-"' in log and '"GET /feeds/-"' in log
    assert token not in log


def test_client_address_reaches_tandem_from_nginx(proxied):
    """nginx replaces any X-Forwarded-For a client sends with the address
    it sees; tandem (trust_proxy) counts failed sign-ins against that one."""
    srv, ng = proxied
    f = ng.front()
    r = f.get("/admin/login")
    assert r.status == 200
    csrf = re.search(r'name="csrf" value="([A-Za-z0-9_-]{43})"', r.text).group(1)
    cookie = r.headers["set-cookie"].split(";")[0]
    body = urllib.parse.urlencode({"csrf": csrf, "email": "nobody@riverbend.example", "password": "wrong"})
    r = f.request("POST", "/admin/login", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie,
        "X-Forwarded-For": "203.0.113.66"})
    assert r.status in (200, 401, 403, 429) and r.status != 429, r.status
    keys = [k for (k,) in srv.sql("SELECT key FROM login_throttle WHERE key LIKE 'ip:%'")]
    assert "ip:127.0.0.1" in keys, keys
    assert not any("203.0.113.66" in k for k in keys), keys


def burst(front, method, path, n, **kw):
    return [front.request(method, path, **kw).status for _ in range(n)]


def test_rate_limit_login(fresh_nginx):
    srv, ng = fresh_nginx
    f = ng.front()
    # GETs of the sign-in page are not limited.
    assert 429 not in burst(f, "GET", "/admin/login", 15)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    statuses = burst(f, "POST", "/admin/login", 12, headers=form, body="email=a%40b.example&password=x")
    # rate=10r/m burst=5 nodelay: 1 + 5 pass, then 429.
    assert 429 not in statuses[:6], statuses
    assert statuses[7:] == [429] * 5, statuses
    statuses = burst(f, "POST", "/admin/login/totp", 2, headers=form, body="code=1")
    assert statuses == [429, 429]


def test_rate_limit_bookings(fresh_nginx):
    srv, ng = fresh_nginx
    f = ng.front()
    before = len(tandem_lines(srv, "POST /api/v1/bookings"))
    statuses = burst(f, "POST", "/api/v1/bookings", 16, body={"offering": "nope"})
    assert 429 not in statuses[:11], statuses
    assert statuses[12:] == [429] * 4, statuses
    time.sleep(0.2)
    # Refused ones never reached tandem.
    assert len(tandem_lines(srv, "POST /api/v1/bookings")) - before == sum(1 for s in statuses if s != 429)
    # The HTML form shares the zone; GETs do not count.
    assert f.request("POST", "/offerings/consult/book", body="x=1",
                     headers={"Content-Type": "application/x-www-form-urlencoded"}).status == 429
    assert 429 not in burst(f, "GET", "/offerings/consult/book", 5)
    r = f.request("POST", "/api/v1/bookings", body={"offering": "nope"})
    assert r.status == 429


def test_rate_limit_token_routes(fresh_nginx):
    srv, ng = fresh_nginx
    f = ng.front()
    token = "A" * 43
    statuses = burst(f, "GET", f"/b/{token}", 40)
    # rate=60r/m burst=30 nodelay: 31 pass (maybe one more as time passes).
    assert 429 not in statuses[:31], statuses
    assert statuses[-5:] == [429] * 5, statuses
    assert f.get(f"/feeds/{token}.ics").status == 429
    assert f.get(f"/intake/{token}").status == 429
    # Other routes are not limited.
    assert 429 not in burst(f, "GET", "/api/v1/offerings", 10)


# ==========================================================================
# scale-out: nginx in front of two processes on one database


@pytest.fixture
def two_behind_nginx(cluster, tmp_path):
    mail = [tmp_path / "mail1", tmp_path / "mail2"]
    common = {"TANDEM_TRUST_PROXY": "true", "TANDEM_JOBS_INTERVAL_S": "1", "TANDEM_MAIL_POLL_MS": "100",
              "TANDEM_CALENDAR_ALLOW_PRIVATE": "true"}
    a = launch_server(cluster, cluster.dir / "servers", env={**common, "TANDEM_MAIL_DIR": str(mail[0])})
    b = Server(cluster, a.dbname, cluster.dir / "servers" / "second", env={**common, "TANDEM_MAIL_DIR": str(mail[1])})
    ng = None
    try:
        b.start()
        ng = Nginx([a.port, b.port], relax_limits=True).start()
        yield a, b, ng, mail
    finally:
        if ng:
            ng.cleanup()
        b.stop(check=True)
        a.stop(check=True)


def test_scale_out_bookings_race_and_jobs_once(two_behind_nginx, helpers):
    a, b, ng, mail = two_behind_nginx
    f = ng.front()
    # Bookings through both processes: consults on distinct 30-minute starts.
    today = today_chi()
    starts = [s["start"] for s in slots(f, "consult", today + timedelta(days=2), today + timedelta(days=20))]
    assert len(starts) >= 24
    ids = [book_ok(f, "consult", st)["id"] for st in starts[:24:2]]
    def served_counts():
        return [len(tandem_lines(s, "POST /api/v1/bookings 201")) for s in (a, b)]

    # The access-log line is written after the answer: give a slow (ASan) process a moment.
    deadline = time.time() + 10
    while sum(served_counts()) < len(ids) and time.time() < deadline:
        time.sleep(0.1)
    served = served_counts()
    assert sum(served) == len(ids) and min(served) >= 3, served

    # The race through both: exactly one winner.
    mon = first_monday(8)
    start = iso(local(mon, 9 * 60))
    results = race(f, [booking_body("intensive-2day", start, people()) for _ in range(RACE_N)])
    statuses = sorted(r.status for _, r in results)
    assert statuses == [201] + [409] * (RACE_N - 1), race_report(a, results)
    assert [len(tandem_lines(s, "POST /api/v1/bookings 409")) > 0 for s in (a, b)] == [True, True]
    winner = next(r.json() for _, r in results if r.status == 201)
    assert a.sql("SELECT count(*) FROM booking WHERE status <> 'cancelled' AND offering_id ="
                 " (SELECT id FROM offering WHERE slug = 'intensive-2day')") == [("1",)]

    # Hold expiry: the held intensive lapses once, though both run the job.
    a.sql("UPDATE booking SET hold_expires_at = now() - interval '1 second' WHERE status = 'held'")
    wait_until(lambda: a.sql("SELECT count(*) FROM booking WHERE status = 'held'") == [("0",)],
               10.0, 0.2, "the lapsed hold to be cancelled")
    time.sleep(2.5)  # both job loops ran again meanwhile
    assert events(a, winner["id"]) == [("client", "", "held", "booked online"),
                                       ("system", "held", "cancelled", "hold lapsed")]

    # The outbox: every message sent once, by one of the two.
    wait_until(lambda: a.sql("SELECT count(*) FROM outbox WHERE status = 'pending'") == [("0",)],
               20.0, 0.2, "the outbox to drain")
    rows = a.sql("SELECT status, attempts, message_id FROM outbox ORDER BY id")
    assert len(rows) >= 2 * len(ids) and all(r[0] == "sent" and r[1] == "1" for r in rows), rows
    files = [p.name for d in mail for p in d.glob("*.eml")]
    assert len(files) == len(rows) == len(set(files)), (len(files), len(rows))
    assert all(list(d.glob("*.eml")) for d in mail), "one process sent nothing"
    assert a.alive() and b.alive()


def test_scale_out_calendar_refresh_once(two_behind_nginx, tandem):
    """Two processes' job threads share the due subscriptions: each due
    refresh is one fetch, whichever process takes it, and one set of busy
    rows."""
    from test_calendar import CalendarServer, local, next_weekday, vcal, vevent

    a, b, ng, mail = two_behind_nginx
    cal = CalendarServer()
    try:
        d = next_weekday(2)
        cal.body = vcal(vevent("u@x", local(d, 10), local(d, 11))).encode()
        cal.etag = None  # every refresh is a full fetch
        r = tandem(["calendar", "subscribe", cal.url(), "--clinician", "clinician@riverbend.example", "--name",
                    "Work", "--refresh-minutes", "5"], a.dsn, a.port, env={"TANDEM_CALENDAR_ALLOW_PRIVATE": "true"})
        assert r.returncode == 0, r.stderr
        assert cal.hits() == 1
        for k in range(3):
            a.sql("UPDATE calendar_source SET next_refresh_at = now() - interval '1 second'")
            deadline = time.time() + 15
            while time.time() < deadline and cal.hits() < 2 + k:
                time.sleep(0.05)
            time.sleep(2.5)  # both job threads run at least twice more
            assert cal.hits() == 2 + k, cal.requests
            assert a.sql("SELECT count(*) FROM busy_interval") == [("1",)]
        assert a.sql("SELECT next_refresh_at - last_success_at FROM calendar_source") == [("00:05:00",)]
    finally:
        cal.close()


# ==========================================================================
# backup and restore


def table_digests(dsn):
    """{table: (rows, md5 of every row in a fixed order)} for public tables."""
    tables = [r[0] for r in psql(dsn, "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]
    out = {}
    for t in tables:
        rows = psql(dsn, f'SELECT count(*), coalesce(md5(string_agg(x::text, \'|\' ORDER BY x::text)), \'\')'
                         f' FROM "{t}" x')
        out[t] = rows[0]
    return out


def backup_env(dsn):
    env = tandem_env(dsn)
    env["TANDEM_DATABASE_URL"] = dsn
    env["TANDEM_BIN"] = str(tandem_bin())
    return env


def run_script(script, args, env, timeout=120):
    return subprocess.run(["bash", str(script), *map(str, args)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def test_backup_wipe_restore(cluster, tmp_path, tandem):
    srv = launch_server(cluster, cluster.dir / "servers")
    try:
        today = today_chi()
        starts = [s["start"] for s in slots(srv, "consult", today + timedelta(days=2), today + timedelta(days=9))]
        docs = [book_ok(srv, "consult", st) for st in starts[:6:2]]
        book_ok(srv, "intensive-2day", iso(local(first_monday(8), 9 * 60)))
        pw = tmp_path / "pw"
        pw.write_text("a long enough password for the owner\n")
        for i in range(3):
            r = tandem(["clinician-add", "--email", f"owner{i}@riverbend.example", "--name", f"Owner {i}",
                        "--role", "owner", "--password-file", str(pw)], srv.dsn)
            assert r.returncode == 0, r.stderr
        assert int(srv.sql("SELECT count(*) FROM audit_log")[0][0]) >= 3
    finally:
        srv.stop(check=True)
    dsn = srv.dsn
    before = table_digests(dsn)
    assert int(before["booking"][0]) == 4 and int(before["booking_client"][0]) == 8
    verify_before = tandem(["audit", "verify"], dsn)
    assert verify_before.returncode == 0 and "audit chain ok" in verify_before.stdout

    target = tmp_path / "backups"
    target.mkdir()
    r = run_script(BACKUP, [target], backup_env(dsn))
    assert r.returncode == 0, r.stderr
    dump = Path(r.stdout.strip())
    assert dump.parent == target and re.fullmatch(r"tandem-\d{8}T\d{6}Z\.dump", dump.name)
    assert (dump.stat().st_mode & 0o777) == 0o600
    assert Path(f"{dump}.audit").read_text() == verify_before.stdout
    assert [p.name for p in target.iterdir() if p.name.startswith(".")] == []

    # Wipe: drop the database and make an empty one of the same name.
    admin = cluster.dsn("postgres")
    psql(admin, 'DROP DATABASE :"p1"', srv.dbname)
    psql(admin, 'CREATE DATABASE :"p1"', srv.dbname)
    assert table_digests(dsn) == {}

    r = run_script(RESTORE, [dump], backup_env(dsn))
    assert r.returncode == 0, r.stderr
    assert "restored and verified" in r.stderr
    assert table_digests(dsn) == before
    assert tandem(["audit", "verify"], dsn).stdout == verify_before.stdout

    # The restored data is readable with the same key: the invite names
    # the clients, whose names are sealed in the database.
    srv.start()
    try:
        path = docs[0]["manage_url"][len(srv.base):]
        assert srv.get(path).status == 200
        ics = srv.get(path + "/invite.ics")
        assert ics.status == 200
        assert b"Quill" in ics.body.replace(b"\r\n ", b"")
    finally:
        srv.stop(check=True)

    # Restoring over data is refused, and changes nothing (the server
    # meanwhile sent the queued mail: compare with now).
    now = table_digests(dsn)
    r = run_script(RESTORE, [dump], backup_env(dsn))
    assert r.returncode != 0 and "not empty" in r.stderr
    assert table_digests(dsn) == now


def test_backup_refuses_without_a_target(tmp_path, database):
    _, dsn = database()
    env = backup_env(dsn)
    r = run_script(BACKUP, [], env)
    assert r.returncode == 2 and "usage" in r.stderr
    r = run_script(BACKUP, [tmp_path / "missing"], env)
    assert r.returncode == 1 and "does not exist" in r.stderr
    assert not (tmp_path / "missing").exists()


def test_backup_failure_leaves_nothing(tmp_path):
    env = backup_env("host=/nonexistent dbname=x")
    env.pop("TANDEM_BIN")
    r = run_script(BACKUP, [tmp_path], env)
    assert r.returncode == 1 and "pg_dump failed" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_backup_rotation_keeps_daily_and_weekly(tmp_path, database):
    _, dsn = database()
    env = backup_env(dsn)
    env.pop("TANDEM_BIN")
    # Old dumps: two a day for the 40 days before today.
    from datetime import datetime, timezone
    now = datetime.now(timezone.utc).replace(microsecond=0)
    for d in range(1, 41):
        for h in (3, 15):
            t = (now - timedelta(days=d)).replace(hour=h, minute=0, second=0)
            (tmp_path / f"tandem-{t:%Y%m%dT%H%M%SZ}.dump").write_bytes(b"old")
    (tmp_path / "notes.txt").write_text("not a dump")
    r = run_script(BACKUP, ["--daily", "3", "--weekly", "2", tmp_path], env)
    assert r.returncode == 0, r.stderr
    left = sorted(p.name for p in tmp_path.glob("tandem-*.dump"))
    new = Path(r.stdout.strip()).name
    assert new in left
    # Today's new one plus the later dump of each of the 2 days before it,
    # then the newest of each of 2 older ISO weeks.
    days = [(now - timedelta(days=d)).strftime("%Y%m%d") + "T150000Z" for d in (2, 1)]
    assert [f"tandem-{d}.dump" for d in days] == [n for n in left if n != new][-2:]
    assert len(left) == 1 + 2 + 2, left
    older = [n for n in left if n != new][:-2]
    weeks = {datetime.strptime(n[7:15], "%Y%m%d").isocalendar()[:2] for n in older}
    assert len(weeks) == 2 and all(n.endswith("T150000Z.dump") for n in older)
    assert (tmp_path / "notes.txt").exists()
