"""Issue 4: external calendars that block the clinician's availability.

Uploads through `tandem calendar import`, subscriptions fetched from a real
HTTP server on loopback (ETag/304, errors, timeouts, size limits,
redirects), the refresh job (once, with two server processes), fail-closed
availability for a stale source, `tandem calendar busy`, and that the file
and the URL are sealed at rest. Every test gets its own database.
"""

import http.server
import json
import secrets
import subprocess
import threading
import time
import urllib.parse
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

CHI = ZoneInfo("America/Chicago")
UTC = timezone.utc
CLINICIAN = "clinician@riverbend.example"
PG_DUMP = "/usr/lib/postgresql/15/bin/pg_dump"
PRIVATE_ENV = {"TANDEM_CALENDAR_ALLOW_PRIVATE": "true"}


# ---------------------------------------------------------------- helpers


def next_weekday(iso_weekday, weeks_ahead=2):
    """A date weeks_ahead weeks from now on the given ISO weekday (Mon=1):
    far enough for any notice period, well inside the horizon."""
    d = datetime.now(CHI).date() + timedelta(days=7 * weeks_ahead)
    while d.isoweekday() != iso_weekday:
        d += timedelta(days=1)
    return d


def local(d, hh, mm=0):
    return datetime(d.year, d.month, d.day, hh, mm, tzinfo=CHI)


def ical_utc(t):
    return t.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def vcal(*events):
    body = "".join(events)
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//calendar//EN\r\n" + body + "END:VCALENDAR\r\n")


def vevent(uid, start, end, summary="Busy", extra=""):
    return (
        "BEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART:{ical_utc(start)}\r\nDTEND:{ical_utc(end)}\r\n"
        f"SUMMARY:{summary}\r\n{extra}"
        "END:VEVENT\r\n"
    )


def consult_starts(srv, d):
    r = srv.get(f"/api/v1/availability?offering=consult&from={d}&to={d}")
    assert r.status == 200, r.body[:300]
    return [s["start"] for s in r.json()["slots"]]


def rfc(t):
    return t.astimezone(CHI).isoformat()


def cli(tandem, srv, *args, env=PRIVATE_ENV, timeout=60):
    """`tandem calendar …` as the operator runs it, with the test's setting
    that lets it fetch from the loopback calendar server."""
    return tandem(["calendar", *args], srv.dsn, srv.port, env=env, timeout=timeout)


def busy(tandem, srv, d_from, d_to):
    r = cli(tandem, srv, "busy", "--clinician", CLINICIAN, "--from", str(d_from), "--to", str(d_to))
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def source_row(srv, sid):
    rows = srv.sql(
        "SELECT kind, coalesce(last_error, ''), failures, coalesce(event_count, -1), coalesce(busy_count, -1),"
        " last_success_at IS NOT NULL, coalesce(etag, ''), coalesce(warning, '')"
        " FROM calendar_source WHERE id = :'p1'",
        sid,
    )
    assert len(rows) == 1, rows
    k, err, fails, ev, bz, ok, etag, warn = rows[0]
    return dict(kind=k, error=err, failures=int(fails), events=int(ev), busy=int(bz), ok=ok == "t",
                etag=etag, warning=warn)


def busy_rows(srv):
    return srv.sql(
        "SELECT source_id, extract(epoch FROM lower(during))::bigint, extract(epoch FROM upper(during))::bigint"
        " FROM busy_interval ORDER BY 2")


class CalendarServer:
    """A loopback HTTP server whose answers the test controls."""

    def __init__(self):
        self.body = vcal().encode()
        self.etag = '"v1"'
        self.mode = "ok"  # ok | 500 | slow | big | loop
        self.requests = []
        self.lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                with outer.lock:
                    outer.requests.append((self.path, dict(self.headers)))
                    mode, body, etag = outer.mode, outer.body, outer.etag
                if mode == "500":
                    self.send_response(500)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if mode == "loop":
                    self.send_response(302)
                    self.send_header("Location", "/again" + secrets.token_hex(2))
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if mode == "slow":
                    time.sleep(3)
                if mode == "big":
                    body = b"BEGIN:VCALENDAR\r\n" + b"X-PAD:" + b"x" * 70 + b"\r\n" * 1 + b"X" * 20000
                if etag and self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.send_header("ETag", etag)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar; charset=utf-8")
                if etag:
                    self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                try:
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path="/cal.ics"):
        return f"http://127.0.0.1:{self.port}{path}"

    def hits(self):
        with self.lock:
            return len(self.requests)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def calserver():
    s = CalendarServer()
    yield s
    s.close()


@pytest.fixture
def srv(server_factory):
    return server_factory(env=PRIVATE_ENV)


def subscribe(tandem, srv, url, name="Work", *extra, env=PRIVATE_ENV):
    r = cli(tandem, srv, "subscribe", url, "--clinician", CLINICIAN, "--name", name, *extra, env=env)
    assert r.returncode == 0, r.stderr
    line = r.stdout.splitlines()[0]
    assert line.startswith("calendar source ") and line.endswith(": subscribed; first refresh now"), r.stdout
    return int(line.split()[2].rstrip(":")), r


# ---------------------------------------------------------------- uploads


def test_import_blocks_the_slots_it_covers_and_busy_prints_them(srv, tandem, tmp_path):
    d = next_weekday(2)  # a Tuesday
    before = consult_starts(srv, d)
    assert rfc(local(d, 10)) in before and rfc(local(d, 11)) in before, before
    f = tmp_path / "work.ics"
    f.write_text(vcal(vevent("a@x", local(d, 10), local(d, 11, 30), "Dr. Lee: Pat Smith session")))
    r = cli(tandem, srv, "import", str(f), "--clinician", CLINICIAN)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[0].endswith(": 1 events, 1 busy periods"), r.stdout
    after = consult_starts(srv, d)
    blocked = [s for s in before if s not in after]
    # 10:00-11:30 busy blocks every consult start whose time (with the
    # offering's buffers) overlaps it; everything else stays.
    assert rfc(local(d, 10)) in blocked and rfc(local(d, 11)) in blocked, blocked
    assert all(local(d, 8) < datetime.fromisoformat(s) < local(d, 12) for s in blocked), blocked
    assert rfc(local(d, 14)) in after
    doc = busy(tandem, srv, d, d)
    assert doc["timezone"] == "America/Chicago" and doc["from"] == str(d) and doc["to"] == str(d)
    assert doc["busy"] == [{"start": rfc(local(d, 10)), "end": rfc(local(d, 11, 30))}], doc
    assert [(s["name"], s["kind"], s["fresh"]) for s in doc["sources"]] == [("work.ics", "upload", True)]
    # An upload never goes stale: availability keeps working days later.
    srv.sql("UPDATE calendar_source SET last_success_at = now() - interval '30 days'")
    assert consult_starts(srv, d) == after


def test_reimport_replaces_and_a_bad_file_changes_nothing(srv, tandem, tmp_path):
    d = next_weekday(3)
    f = tmp_path / "c.ics"
    f.write_text(vcal(vevent("a@x", local(d, 9), local(d, 10))))
    assert cli(tandem, srv, "import", str(f), "--clinician", CLINICIAN, "--name", "Home").returncode == 0
    f.write_text(vcal(vevent("a@x", local(d, 13), local(d, 14)), vevent("b@x", local(d, 15), local(d, 16))))
    r = cli(tandem, srv, "import", str(f), "--clinician", CLINICIAN, "--name", "home")  # same name, any case
    assert r.returncode == 0, r.stderr
    assert len(srv.sql("SELECT id FROM calendar_source")) == 1
    want = [{"start": rfc(local(d, 13)), "end": rfc(local(d, 14))},
            {"start": rfc(local(d, 15)), "end": rfc(local(d, 16))}]
    assert busy(tandem, srv, d, d)["busy"] == want
    rows = busy_rows(srv)
    for bad, words in [
        ("hello, this is not a calendar\n", "not an iCalendar"),
        (vcal(vevent("a@x", local(d, 9), local(d, 10)))[:-40], "truncated"),
    ]:
        f.write_text(bad)
        r = cli(tandem, srv, "import", str(f), "--clinician", CLINICIAN, "--name", "Home")
        assert r.returncode != 0
        assert words.lower() in r.stderr.lower() and "nothing was changed" in r.stderr, r.stderr
        assert busy_rows(srv) == rows
    f.write_bytes(b"BEGIN:VCALENDAR\r\n" + b"X" * (10 * 1024 * 1024 + 10))
    r = cli(tandem, srv, "import", str(f), "--clinician", CLINICIAN, "--name", "Home")
    assert r.returncode != 0 and "larger than" in r.stderr, r.stderr
    assert busy_rows(srv) == rows
    r = cli(tandem, srv, "import", str(f), "--clinician", "nobody@example.com")
    assert r.returncode != 0 and "no active clinician" in r.stderr


def test_transparent_cancelled_and_all_day_events(srv, tandem, tmp_path):
    d = next_weekday(4)
    f = tmp_path / "mix.ics"
    f.write_text(vcal(
        vevent("t@x", local(d, 9), local(d, 10), extra="TRANSP:TRANSPARENT\r\n"),
        vevent("c@x", local(d, 11), local(d, 12), extra="STATUS:CANCELLED\r\n"),
        "BEGIN:VEVENT\r\nUID:allday@x\r\nDTSTAMP:20260101T000000Z\r\n"
        f"DTSTART;VALUE=DATE:{(d + timedelta(days=1)).strftime('%Y%m%d')}\r\n"
        f"DTEND;VALUE=DATE:{(d + timedelta(days=2)).strftime('%Y%m%d')}\r\nSUMMARY:Off\r\nEND:VEVENT\r\n",
    ))
    assert cli(tandem, srv, "import", str(f), "--clinician", CLINICIAN).returncode == 0
    nxt = d + timedelta(days=1)
    # The all-day event is the clinician's whole local day, midnight to midnight.
    assert busy(tandem, srv, d, nxt)["busy"] == [{"start": rfc(local(nxt, 0)), "end": rfc(local(nxt + timedelta(days=1), 0))}]
    assert consult_starts(srv, nxt) == []


def test_file_and_url_are_sealed_at_rest(srv, tandem, tmp_path, calserver, helpers):
    d = next_weekday(2)
    secret_summary = "Zz" + secrets.token_hex(8)
    f = tmp_path / "s.ics"
    f.write_text(vcal(vevent("s@x", local(d, 9), local(d, 10), secret_summary)))
    assert cli(tandem, srv, "import", str(f), "--clinician", CLINICIAN).returncode == 0
    secret_path = "/private-" + secrets.token_hex(12) + "/basic.ics"
    calserver.body = vcal(vevent("u@x", local(d, 12), local(d, 13), secret_summary)).encode()
    sid, _ = subscribe(tandem, srv, calserver.url(secret_path), "Google")
    assert source_row(srv, sid)["ok"]
    r = subprocess.run([PG_DUMP, "-d", srv.dsn], capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr[-500:]
    assert secret_summary.encode() not in r.stdout
    assert secret_path.encode() not in r.stdout
    assert f"127.0.0.1:{calserver.port}".encode() in r.stdout  # url_display: scheme and host only
    assert secret_path not in srv.log() and secret_summary not in srv.log()


# ---------------------------------------------------------------- subscriptions


def test_subscription_uses_validators_and_keeps_data_through_failures(srv, tandem, calserver):
    d = next_weekday(2)
    calserver.body = vcal(vevent("u@x", local(d, 10), local(d, 11))).encode()
    sid, r = subscribe(tandem, srv, calserver.url())
    assert "1 events, 1 busy periods" in r.stdout, r.stdout
    row = source_row(srv, sid)
    assert row["ok"] and row["etag"] == '"v1"' and row["error"] == "" and row["busy"] == 1
    want = [{"start": rfc(local(d, 10)), "end": rfc(local(d, 11))}]
    assert busy(tandem, srv, d, d)["busy"] == want
    # Second fetch: If-None-Match → 304, data re-expanded from what was stored.
    r = cli(tandem, srv, "refresh", str(sid))
    assert r.returncode == 0 and "(unchanged)" in r.stdout, (r.stdout, r.stderr)
    assert calserver.requests[-1][1].get("If-None-Match") == '"v1"'
    assert busy(tandem, srv, d, d)["busy"] == want
    # Failures: each is recorded with our own words; the busy data stays.
    for mode, words, env in [
        ("500", "the server answered HTTP 500", None),
        ("slow", "timed out", {"TANDEM_CALENDAR_FETCH_TIMEOUT_S": "1", **PRIVATE_ENV}),
        ("big", "the calendar is larger than 8 KiB", {"TANDEM_CALENDAR_MAX_BYTES": "8192", **PRIVATE_ENV}),
        ("loop", "too many redirects", None),
    ]:
        calserver.mode = mode
        calserver.etag = None
        r = cli(tandem, srv, "refresh", str(sid), env=env or PRIVATE_ENV)
        assert r.returncode != 0 and words in r.stderr, (mode, r.stderr)
        row = source_row(srv, sid)
        assert words in row["error"] and "127.0.0.1" not in row["error"], row
        assert busy(tandem, srv, d, d)["busy"] == want, mode
    assert source_row(srv, sid)["failures"] == 4
    # A good refresh replaces the data and clears the error.
    calserver.mode = "ok"
    calserver.etag = '"v2"'
    calserver.body = vcal(vevent("u@x", local(d, 14), local(d, 15))).encode()
    r = cli(tandem, srv, "refresh", str(sid))
    assert r.returncode == 0, r.stderr
    row = source_row(srv, sid)
    assert row["error"] == "" and row["failures"] == 0 and row["etag"] == '"v2"'
    assert busy(tandem, srv, d, d)["busy"] == [{"start": rfc(local(d, 14)), "end": rfc(local(d, 15))}]


def test_a_bad_file_from_a_url_keeps_the_previous_busy_time(srv, tandem, calserver):
    d = next_weekday(3)
    calserver.body = vcal(vevent("u@x", local(d, 10), local(d, 11))).encode()
    sid, _ = subscribe(tandem, srv, calserver.url())
    calserver.etag = '"v2"'
    calserver.body = b"<html>Sign in to continue</html>"
    r = cli(tandem, srv, "refresh", str(sid))
    assert r.returncode != 0 and "not an iCalendar" in r.stderr, r.stderr
    assert busy(tandem, srv, d, d)["busy"] == [{"start": rfc(local(d, 10)), "end": rfc(local(d, 11))}]


def test_private_addresses_are_refused_unless_allowed(server_factory, tandem, calserver):
    srv = server_factory()
    sid, r = subscribe(tandem, srv, calserver.url(), env={})
    assert "refused: the address is private or local" in r.stderr, r.stderr
    assert calserver.hits() == 0
    assert source_row(srv, sid)["error"] == "refused: the address is private or local"


def test_bad_urls_are_refused(srv, tandem):
    for url in ["ftp://example.com/a.ics", "file:///etc/passwd", "https://user:pw@example.com/a.ics",
                "https://exa mple.com/a.ics", "gopher://x", "https://"]:
        r = cli(tandem, srv, "subscribe", url, "--clinician", CLINICIAN, "--name", "X")
        assert r.returncode != 0 and "the URL must be" in r.stderr, (url, r.stderr)
    assert srv.sql("SELECT count(*) FROM calendar_source") == [("0",)]


def test_webcal_links_are_fetched_over_https(srv, tandem):
    sid, r = subscribe(tandem, srv, "webcal://127.0.0.1:1/cal.ics", "Apple")
    rows = srv.sql("SELECT url_display FROM calendar_source WHERE id = :'p1'", sid)
    assert rows == [("https://127.0.0.1:1",)]
    assert "could not connect" in r.stderr, r.stderr


def test_a_stale_subscription_closes_availability_until_it_refreshes(srv, tandem, calserver):
    d = next_weekday(2)
    open_starts = consult_starts(srv, d)
    assert open_starts
    calserver.body = vcal().encode()
    sid, _ = subscribe(tandem, srv, calserver.url(), "Work", "--freshness-minutes", "60")
    assert consult_starts(srv, d) == open_starts
    srv.sql("UPDATE calendar_source SET last_success_at = now() - interval '61 minutes'")
    assert consult_starts(srv, d) == []
    doc = busy(tandem, srv, d, d)
    assert doc["sources"][0]["fresh"] is False
    r = cli(tandem, srv, "list", "--clinician", CLINICIAN)
    assert "STALE: availability is closed for this clinician" in r.stdout, r.stdout
    calserver.etag = '"v9"'
    assert cli(tandem, srv, "refresh", str(sid)).returncode == 0
    assert consult_starts(srv, d) == open_starts


def test_remove_deletes_the_source_and_its_busy_time(srv, tandem, tmp_path):
    d = next_weekday(2)
    f = tmp_path / "x.ics"
    f.write_text(vcal(vevent("a@x", local(d, 10), local(d, 11))))
    r = cli(tandem, srv, "import", str(f), "--clinician", CLINICIAN)
    sid = int(r.stdout.split()[2].rstrip(":"))
    assert cli(tandem, srv, "remove", str(sid)).returncode == 0
    assert busy_rows(srv) == [] and busy(tandem, srv, d, d)["busy"] == []
    r = cli(tandem, srv, "remove", str(sid))
    assert r.returncode != 0 and f"no calendar source {sid}" in r.stderr


# ---------------------------------------------------------------- the job


def test_the_refresh_job_runs_each_due_source_once_across_two_servers(tandem, calserver, server_factory):
    import conftest

    env = {**PRIVATE_ENV, "TANDEM_JOBS_INTERVAL_S": "1"}
    a = server_factory(env=env)
    d = next_weekday(2)
    calserver.body = vcal(vevent("u@x", local(d, 10), local(d, 11))).encode()
    calserver.etag = None
    sid, _ = subscribe(tandem, a, calserver.url(), "Work", "--refresh-minutes", "5")
    first = calserver.hits()
    assert first == 1
    # Forget the first refresh: due now, never fetched, no busy time.
    a.sql("DELETE FROM busy_interval")
    a.sql("UPDATE calendar_source SET next_refresh_at = now() - interval '1 second', last_success_at = NULL")
    b = conftest.Server(a.cluster, a.dbname, conftest._workdir(a.cluster) / "second", env=env)
    b.start()
    try:
        b.wait_healthy()
        done = "SELECT 1 FROM calendar_source WHERE last_success_at IS NOT NULL"
        deadline = time.time() + 20
        while time.time() < deadline and not a.sql(done):
            time.sleep(0.1)
        assert a.sql(done) == [("1",)]
        time.sleep(3)  # both job threads have run at least twice more
        assert calserver.hits() == first + 1, calserver.requests
        assert len(busy_rows(a)) == 1
        assert a.sql("SELECT next_refresh_at - last_success_at FROM calendar_source") == [("00:05:00",)]
    finally:
        b.stop(check=True)
