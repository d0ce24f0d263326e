"""Issue 4 through the clinician's calendars page (/admin/calendars): feeds
(create with a webcal:// link shown once, revoke) and external calendars
(upload a file as multipart/form-data, subscribe, refresh, remove), each
action only on the signed-in clinician's own records and audited."""

import html
import re
from datetime import datetime, timedelta

import icalendar
import pytest
from test_admin import DEV, Client, add_clinician, audit_rows, signed_in
from test_calendar import CLINICIAN, CalendarServer, local, next_weekday, rfc, vcal, vevent

CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]{64})"')
ENV = {**DEV, "TANDEM_CALENDAR_ALLOW_PRIVATE": "true"}


def page(c):
    r = c.get("/admin/calendars")
    assert r.status == 200, r
    return r, CSRF_RE.search(r.body).group(1)


def consult_starts(srv, d):
    r = srv.get(f"/api/v1/availability?offering=consult&from={d}&to={d}")
    return [s["start"] for s in r.json()["slots"]]


@pytest.fixture
def srv(server_factory):
    return server_factory(env=ENV)


def test_feed_created_on_the_page_works_and_revoke_stops_it(srv):
    c = signed_in(srv)
    _, csrf = page(c)
    r = c.post("/admin/feeds", {"csrf": csrf, "feed_name": "Phone <b>", "privacy": "initials"})
    assert r.status == 200, r.body[:500]
    main = r.body[r.body.index("<main"):r.body.index("</main>")]
    assert "Phone &lt;b&gt;" in main and "Phone <b>" not in main, main
    webcal = re.search(r'href="(webcal://[^"]+)"', r.body).group(1)
    url = html.unescape(re.search(r'id="feed-url" type="text" readonly value="([^"]+)"', r.body).group(1))
    assert webcal == "webcal://" + url.split("://", 1)[1]
    path = url[len(srv.base):]
    f = srv.get(path)
    assert f.status == 200 and icalendar.Calendar.from_ical(f.body)["METHOD"] == "PUBLISH"
    # Shown once: reloading the page does not show it again.
    again, csrf = page(c)
    assert url not in again.body and "Phone &lt;b&gt;" in again.body
    fid = srv.sql("SELECT id FROM feed_token")[0][0]
    r = c.post(f"/admin/feeds/{fid}/revoke", {"csrf": csrf})
    assert r.status == 200 and "Revoked" in r.body
    assert srv.get(path).status == 404
    assert [row[2] for row in audit_rows(srv) if row[2].startswith("feed.")] == ["feed.create", "feed.revoke"]


def test_upload_through_the_page_blocks_time(srv, tmp_path):
    c = signed_in(srv)
    _, csrf = page(c)
    d = next_weekday(2)
    assert rfc(local(d, 10)) in consult_starts(srv, d)
    data = vcal(vevent("a@x", local(d, 10), local(d, 11), "Pat Smith")).encode()
    r = c.request("POST", "/admin/calendars/upload", form={"csrf": csrf, "name": "Work"},
                  files={"file": ("work.ics", data)})
    assert r.status == 200, r.body[:500]
    assert "Imported 1 events: 1 busy periods now block your availability." in r.body
    assert rfc(local(d, 10)) not in consult_starts(srv, d)
    assert "Pat Smith" not in r.body  # only busy times are shown, never what they were
    # A bad file: 422 with the reason next to the field, nothing changed.
    r = c.request("POST", "/admin/calendars/upload", form={"csrf": csrf, "name": "Work"},
                  files={"file": ("x.ics", b"<html>not a calendar</html>")})
    assert r.status == 422 and 'id="file-error"' in r.body and "Nothing was changed." in r.body
    assert rfc(local(d, 10)) not in consult_starts(srv, d)
    # No file at all.
    r = c.request("POST", "/admin/calendars/upload", form={"csrf": csrf}, multipart=True)
    assert r.status == 422 and "Choose an .ics file" in r.body
    assert [row[2] for row in audit_rows(srv, "calendar.import")] == ["calendar.import"]


def test_subscribe_refresh_remove_and_another_clinicians_ids_are_404(srv, tandem, tmp_path):
    cal = CalendarServer()
    try:
        d = next_weekday(3)
        cal.body = vcal(vevent("u@x", local(d, 13), local(d, 14))).encode()
        c = signed_in(srv)
        _, csrf = page(c)
        r = c.post("/admin/calendars/subscribe", {"csrf": csrf, "url": cal.url(), "name": "Google"})
        assert r.status == 200 and "Subscribed: 1 events, 1 busy periods." in r.body, r.body[:800]
        sid = int(srv.sql("SELECT id FROM calendar_source")[0][0])
        assert f"from http://127.0.0.1:{cal.port}" in r.body and cal.url() not in r.body
        r = c.post("/admin/calendars/subscribe", {"csrf": csrf, "url": "ftp://x/y", "name": "Bad"})
        assert r.status == 422 and 'id="url-error"' in r.body
        r = c.post(f"/admin/calendars/{sid}/refresh", {"csrf": csrf})
        assert r.status == 200 and "Refreshed (unchanged): 1 events, 1 busy periods." in r.body, r.body[:800]
        # Another clinician cannot touch it (404), nor see it.
        add_clinician(tandem, srv, tmp_path, "b@example.com", "Dr Bea Stone", "b-password-123")
        other = signed_in(srv, "b@example.com", "b-password-123")
        body, ocsrf = page(other)
        assert "<strong>Google</strong>" not in body.body
        for action in ("refresh", "remove"):
            assert other.post(f"/admin/calendars/{sid}/{action}", {"csrf": ocsrf}).status == 404
        # A stale subscription is announced at the top of the page.
        srv.sql("UPDATE calendar_source SET last_success_at = now() - interval '7 hours'")
        body, csrf = page(c)
        assert "has not refreshed for too long" in body.body and 'data-fresh="false"' in body.body
        r = c.post(f"/admin/calendars/{sid}/remove", {"csrf": csrf})
        assert r.status == 200 and "Removed" in r.body
        assert srv.sql("SELECT count(*) FROM calendar_source") == [("0",)]
        assert srv.sql("SELECT count(*) FROM busy_interval") == [("0",)]
    finally:
        cal.close()


def test_feed_revoke_of_another_clinicians_feed_is_404(srv, tandem, tmp_path):
    add_clinician(tandem, srv, tmp_path, "b@example.com", "Dr Bea Stone", "b-password-123")
    r = tandem(["feed", "create", "--clinician", "b@example.com", "--name", "Tablet"], srv.dsn, srv.port)
    assert r.returncode == 0, r.stderr
    fid = srv.sql("SELECT id FROM feed_token")[0][0]
    c = signed_in(srv)
    body, csrf = page(c)
    assert "Tablet" not in body.body
    assert c.post(f"/admin/feeds/{fid}/revoke", {"csrf": csrf}).status == 404
    assert srv.sql("SELECT revoked_at IS NULL FROM feed_token") == [("t",)]


def test_the_page_needs_a_session(srv):
    r = Client(srv).get("/admin/calendars")
    assert r.status == 303 and r.headers["location"].startswith("/admin/login")
