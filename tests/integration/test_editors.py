"""Issue 7 §5: the clinician's editors — weekly availability, date
exceptions and time off (/admin/availability), offerings (/admin/offerings)
and the practice's settings and policies (/admin/practice).

Every change is checked where it lands: the rows in the database, the
times /api/v1/availability offers right after, the audit entry, and that
bookings already made keep their times. Each test starts its own server on
a fresh demo database (Dr. Maya Lindqvist, the owner, America/Chicago,
weekly hours Mon-Thu 09:00-17:00 and Fri 09:00-13:00).
"""

import html
import json
import re
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from test_admin import DEV, Client, add_clinician, audit_rows, book_consult, signed_in

CHI = ZoneInfo("America/Chicago")
CSRF_RE = re.compile(r'name="csrf" value="([0-9a-f]{64})"')


@pytest.fixture
def srv(server_factory):
    return server_factory(env=DEV)


def page(c, path, status=200):
    r = c.get(path)
    assert r.status == status, (r.status, r.body[:800])
    m = CSRF_RE.search(r.body)
    return r, (m.group(1) if m else None)


def main_of(body):
    return body[body.index("<main"):body.index("</main>")]


def field_error(body, fid):
    """The message next to field fid, checking the input points at it."""
    m = re.search(r'<p class="field-error" id="' + re.escape(fid) + r'-error">([^<]*)</p>', body)
    assert m, f"no error for {fid}"
    assert re.search(r'aria-describedby="([^"]* )?' + re.escape(fid) + r'-error"', body), f"{fid} not wired"
    return html.unescape(m.group(1))


def summary(body):
    m = re.search(r'<div class="card problem" role="alert" tabindex="-1" id="form-errors" autofocus>(.*?)</div>', body, re.S)
    assert m, "no error summary"
    return [html.unescape(x) for x in re.findall(r'<li><a href="#[^"]+">([^<]*)</a></li>', m.group(1))]


def today_chi():
    return datetime.now(CHI).date()


def next_weekday(iso_weekday, min_days=3):
    d = today_chi() + timedelta(days=min_days)
    while d.isoweekday() != iso_weekday:
        d += timedelta(days=1)
    return d


def starts(srv, slug, d, d_to=None):
    r = srv.get(f"/api/v1/availability?offering={slug}&from={d}&to={d_to or d}")
    assert r.status == 200, r.body[:300]
    return [datetime.fromisoformat(s["start"]).astimezone(CHI).strftime("%m-%d %H:%M") if d_to else
            datetime.fromisoformat(s["start"]).astimezone(CHI).strftime("%H:%M") for s in r.json()["slots"]]


def consult_day(d, first="09:00", last="16:30"):
    """Consult starts every 30 minutes from first to last, as the demo
    consult (20 minutes, 10 minutes' buffer after) offers them."""
    out = []
    t = datetime.strptime(first, "%H:%M")
    while t.strftime("%H:%M") <= last:
        out.append(t.strftime("%H:%M"))
        t += timedelta(minutes=30)
    return out


def rules(srv, clinician_id=1):
    return srv.sql("SELECT weekday, to_char(starts, 'HH24:MI'), to_char(ends, 'HH24:MI'), coalesce(offering_id, 0)"
                   " FROM availability_rule WHERE clinician_id = :'p1' ORDER BY weekday, starts", str(clinician_id))


def weekly_form(csrf, ranges, clinician=None):
    """ranges: {weekday: [(start, end[, offering_id])]}; every other row blank."""
    form = {"csrf": csrf}
    if clinician is not None:
        form["clinician"] = str(clinician)
    for wd in range(1, 8):
        rows = ranges.get(wd, [])
        for i in range(max(len(rows) + 1, 2)):
            r = rows[i] if i < len(rows) else ("", "")
            form[f"r{wd}_{i}_start"] = r[0]
            form[f"r{wd}_{i}_end"] = r[1]
            form[f"r{wd}_{i}_offering"] = str(r[2]) if len(r) > 2 else "0"
    return form


def offering_id(srv, slug):
    return int(srv.sql("SELECT id FROM offering WHERE slug = :'p1'", slug)[0][0])


SEED_RULES = [("1", "09:00", "17:00", "0"), ("2", "09:00", "17:00", "0"), ("3", "09:00", "17:00", "0"),
              ("4", "09:00", "17:00", "0"), ("5", "09:00", "13:00", "0")]


# --------------------------------------------------------------------------
# weekly availability


def test_weekly_hours_replace_the_week_and_apply_at_once(srv):
    c = signed_in(srv)
    mon, tue, wed = next_weekday(1), next_weekday(2), next_weekday(3)
    assert starts(srv, "consult", mon) == consult_day(mon)
    r, csrf = page(c, "/admin/availability")
    body = main_of(r.body)
    # The stored week is in the form, one blank row after each day's ranges.
    assert 'id="r1_0_start" name="r1_0_start" type="time" value="09:00"' in body
    assert 'id="r1_1_start" name="r1_1_start" type="time" value=""' in body
    assert 'id="r6_1_start"' in body and 'id="r6_2_start"' not in body
    assert '<label for="r1_0_start">From' in body
    assert "existing bookings keep their times" in body
    checkin = offering_id(srv, "checkin")
    r = c.post("/admin/availability/weekly",
               weekly_form(csrf, {1: [("10:00", "12:00"), ("14:00", "15:00")], 3: [("09:00", "11:00", checkin)]}))
    assert r.status == 303, r.body[:800]
    assert r.headers["location"] == "/admin/availability?done=weekly"
    assert rules(srv) == [("1", "10:00", "12:00", "0"), ("1", "14:00", "15:00", "0"),
                          ("3", "09:00", "11:00", str(checkin))]
    # The next availability request sees it.
    assert starts(srv, "consult", mon) == ["10:00", "10:30", "11:00", "11:30", "14:00", "14:30"]
    assert starts(srv, "consult", tue) == []
    assert starts(srv, "consult", wed) == []  # Wednesday's range is the check-in's only
    assert starts(srv, "checkin", wed) == ["09:00", "10:00"]
    r = c.get(r.headers["location"])
    assert "Weekly hours saved. Clients see the new times now; existing bookings keep theirs." in r.body
    rows = audit_rows(srv, "availability.weekly")
    assert [(a, t, json.loads(d)) for _, a, _, t, _, d in rows] == [
        ("clinician:1", "clinician:1", {"ranges": 3, "hours_per_week": 5})]


def test_weekly_hours_refuse_bad_ranges_and_keep_what_was_typed(srv):
    c = signed_in(srv)
    _, csrf = page(c, "/admin/availability")
    form = weekly_form(csrf, {1: [("09:00", "12:00"), ("11:00", "13:00")], 2: [("17:00", "09:00")],
                              3: [("9am", "10:00")], 4: [("09:00", "")]})
    r = c.post("/admin/availability/weekly", form)
    assert r.status == 422, r.body[:500]
    assert summary(r.body) == [
        "Tuesday, range 1: The end must be after the start.",
        "Wednesday, range 1: Enter a time as HH:MM, like 09:00.",
        "Thursday, range 1: Give both a start and an end time, or clear both to remove the range.",
    ]
    assert field_error(r.body, "r2_0") == "Tuesday, range 1: The end must be after the start."
    assert 'name="r3_0_start" type="time" value="9am"' in r.body
    assert 'name="r2_0_end" type="time" value="09:00"' in r.body
    # Overlaps are found once the rows themselves are fine.
    form = weekly_form(csrf, {1: [("09:00", "12:00"), ("11:00", "13:00")]})
    r = c.post("/admin/availability/weekly", form)
    assert r.status == 422
    assert summary(r.body) == ["Monday: this range overlaps 09:00–12:00 on the same day."]
    assert field_error(r.body, "r1_1") == "Monday: this range overlaps 09:00–12:00 on the same day."
    assert 'name="r1_1_start" type="time" value="11:00"' in r.body
    # Nothing changed, nothing audited.
    assert rules(srv) == SEED_RULES
    assert audit_rows(srv, "availability.weekly") == []
    # Touching ranges are fine; the same hours for one offering and for all are too.
    r = c.post("/admin/availability/weekly",
               weekly_form(csrf, {1: [("09:00", "12:00"), ("12:00", "13:00"),
                                      ("09:00", "10:00", offering_id(srv, "checkin"))]}))
    assert r.status == 303
    assert len(rules(srv)) == 3


def test_concurrent_saves_leave_one_whole_week(srv):
    import concurrent.futures
    c = signed_in(srv)
    _, csrf = page(c, "/admin/availability")
    weeks = [{wd: [(f"{8 + i:02d}:00", f"{12 + i:02d}:00")] for wd in (1, 2, 3)} for i in range(6)]
    with concurrent.futures.ThreadPoolExecutor(6) as ex:
        statuses = list(ex.map(lambda w: c.post("/admin/availability/weekly", weekly_form(csrf, w)).status, weeks))
    assert statuses == [303] * 6
    got = rules(srv)
    assert got in [[(str(wd), s, e, "0") for wd, rs in sorted(w.items()) for s, e in rs] for w in weeks], got
    assert len(audit_rows(srv, "availability.weekly")) == 6


def test_removing_hours_never_cancels_a_booking(srv):
    booked = book_consult(srv)[0]
    c = signed_in(srv)
    _, csrf = page(c, "/admin/availability")
    before = srv.sql("SELECT status, starts_at, ends_at FROM booking WHERE id = :'p1'", str(booked["id"]))
    blocks = srv.sql("SELECT starts_at, ends_at, active FROM booking_block WHERE booking_id = :'p1'", str(booked["id"]))
    r = c.post("/admin/availability/weekly", weekly_form(csrf, {}))
    assert r.status == 303
    assert rules(srv) == []
    assert srv.sql("SELECT status, starts_at, ends_at FROM booking WHERE id = :'p1'", str(booked["id"])) == before
    assert srv.sql("SELECT starts_at, ends_at, active FROM booking_block WHERE booking_id = :'p1'",
                   str(booked["id"])) == blocks
    d = today_chi()
    assert starts(srv, "consult", d, d + timedelta(days=30)) == []


# --------------------------------------------------------------------------
# date exceptions and time off


def overrides(srv):
    return srv.sql("SELECT day::text, kind, coalesce(to_char(starts, 'HH24:MI'), ''),"
                   " coalesce(to_char(ends, 'HH24:MI'), '') FROM availability_override ORDER BY day, kind, starts")


def test_closed_date_different_hours_and_time_off(srv):
    c = signed_in(srv)
    mon, tue = next_weekday(1), next_weekday(2)
    wed, thu = tue + timedelta(days=1), tue + timedelta(days=2)
    _, csrf = page(c, "/admin/availability")
    # Closed on Monday.
    r = c.post("/admin/availability/dates", {"csrf": csrf, "date_day": str(mon), "date_kind": "closed",
                                             "date_note": "Conference"})
    assert r.status == 303 and r.headers["location"] == "/admin/availability?done=date", r.body[:500]
    assert starts(srv, "consult", mon) == []
    # Different hours on Tuesday: 13:00-15:00 instead of 09:00-17:00.
    r = c.post("/admin/availability/dates", {"csrf": csrf, "date_day": str(tue), "date_kind": "hours",
                                             "date_start": "13:00", "date_end": "15:00"})
    assert r.status == 303
    assert starts(srv, "consult", tue) == ["13:00", "13:30", "14:00", "14:30"]
    # Different hours can also open a day the week leaves closed (a Saturday).
    sat = next_weekday(6)
    r = c.post("/admin/availability/dates", {"csrf": csrf, "date_day": str(sat), "date_kind": "hours",
                                             "date_start": "10:00", "date_end": "11:00"})
    assert r.status == 303
    assert starts(srv, "checkin", sat) == []  # the check-in starts Mon-Fri only
    # Time off from Wednesday to Thursday.
    r = c.post("/admin/availability/time-off", {"csrf": csrf, "off_from": str(wed), "off_to": str(thu),
                                                "off_note": "Holiday"})
    assert r.status == 303 and r.headers["location"] == "/admin/availability?done=time-off"
    assert starts(srv, "consult", wed) == [] and starts(srv, "consult", thu) == []
    assert starts(srv, "consult", thu + timedelta(days=1)) == consult_day(None, last="12:30")
    exc = srv.sql("SELECT id, clinician_id, kind, first_day::text, last_day::text, coalesce(to_char(starts, 'HH24:MI'), ''),"
                  " coalesce(to_char(ends, 'HH24:MI'), ''), note FROM availability_exception ORDER BY id")
    assert [e[1:] for e in exc] == [
        ("1", "closed", str(mon), str(mon), "", "", "Conference"),
        ("1", "hours", str(tue), str(tue), "13:00", "15:00", ""),
        ("1", "hours", str(sat), str(sat), "10:00", "11:00", ""),
        ("1", "time_off", str(wed), str(thu), "", "", "Holiday"),
    ]
    assert sorted(overrides(srv)) == sorted([
        (str(mon), "off", "", ""),
        (str(tue), "extra", "13:00", "15:00"), (str(tue), "off", "00:00", "13:00"),
        (str(tue), "off", "15:00", "24:00"),
        (str(sat), "extra", "10:00", "11:00"), (str(sat), "off", "00:00", "10:00"),
        (str(sat), "off", "11:00", "24:00"),
        (str(wed), "off", "", ""), (str(thu), "off", "", ""),
    ])
    # The list shows them with remove buttons.
    r, csrf = page(c, "/admin/availability")
    body = main_of(r.body)
    assert "Conference" in body and "Holiday" in body
    assert f"open 13:00–15:00 only" in body
    for e in exc:
        assert f'action="/admin/availability/exceptions/{e[0]}/remove"' in body
    # Removing the time off gives the days back.
    r = c.post(f"/admin/availability/exceptions/{exc[3][0]}/remove", {"csrf": csrf, "clinician": "1"})
    assert r.status == 303 and r.headers["location"] == "/admin/availability?done=removed"
    assert starts(srv, "consult", wed) == consult_day(wed)
    assert srv.sql("SELECT count(*) FROM availability_override WHERE day IN (:'p1', :'p2')", str(wed), str(thu)) == [("0",)]
    actions = [(row[2], row[3]) for row in audit_rows(srv) if row[2].startswith("availability.")]
    assert actions == [("availability.exception.add", f"availability_exception:{e[0]}") for e in exc] + [
        ("availability.exception.remove", f"availability_exception:{exc[3][0]}")]
    # Removing it twice, or another's id, is a 404.
    assert c.post(f"/admin/availability/exceptions/{exc[3][0]}/remove", {"csrf": csrf}).status == 404


def test_date_forms_refuse_bad_input(srv):
    c = signed_in(srv)
    _, csrf = page(c, "/admin/availability")
    yesterday = today_chi() - timedelta(days=1)
    tue = next_weekday(2)
    cases = [
        ({"date_day": str(yesterday), "date_kind": "closed"}, {"date_day": "Choose today or a later date."}),
        ({"date_day": "24/12/2026", "date_kind": "closed"},
         {"date_day": "Enter a date as YYYY-MM-DD, like 2026-12-24."}),
        ({"date_day": str(today_chi() + timedelta(days=800)), "date_kind": "closed"},
         {"date_day": "Choose a date within the next two years."}),
        ({"date_day": str(tue), "date_kind": "hours", "date_start": "15:00", "date_end": "13:00"},
         {"date_end": "The end must be after the start."}),
        ({"date_day": str(tue), "date_kind": "hours", "date_start": "", "date_end": "13:00"},
         {"date_start": "Enter a time as HH:MM, like 09:00."}),
        ({"date_day": str(tue), "date_kind": "sometimes"}, {"date_kind": "Choose closed or different hours."}),
        ({"date_day": str(tue), "date_kind": "closed", "date_note": "x" * 201},
         {"date_note": "Keep the note to 200 characters or fewer."}),
    ]
    for form, errors in cases:
        r = c.post("/admin/availability/dates", {"csrf": csrf, **form})
        assert r.status == 422, (form, r.status)
        for fid, msg in errors.items():
            assert field_error(r.body, fid) == msg, form
        assert summary(r.body) == list(errors.values())
        if "date_day" in form:
            assert f'value="{html.escape(form["date_day"])}"' in r.body
    r = c.post("/admin/availability/time-off", {"csrf": csrf, "off_from": str(tue), "off_to": str(tue - timedelta(days=1))})
    assert r.status == 422
    assert field_error(r.body, "off_to") == "The last day must be on or after the first day."
    assert f'id="off_from" name="off_from" type="date" min="{today_chi()}" value="{tue}"' in r.body
    r = c.post("/admin/availability/time-off", {"csrf": csrf, "off_from": str(tue), "off_to": str(tue + timedelta(days=366))})
    assert r.status == 422
    assert field_error(r.body, "off_to") == "Time off can cover at most 366 days at once."
    assert srv.sql("SELECT count(*) FROM availability_exception") == [("0",)]
    # One set of different hours per date.
    ok = {"csrf": csrf, "date_day": str(tue), "date_kind": "hours", "date_start": "10:00", "date_end": "12:00"}
    assert c.post("/admin/availability/dates", ok).status == 303
    r = c.post("/admin/availability/dates", {**ok, "date_start": "13:00", "date_end": "14:00"})
    assert r.status == 422
    assert field_error(r.body, "date_day") == "This date already has different hours. Remove that entry first."
    assert srv.sql("SELECT count(*) FROM availability_exception") == [("1",)]
    # A one-day time off needs no last day.
    r = c.post("/admin/availability/time-off", {"csrf": csrf, "off_from": str(tue), "off_to": ""})
    assert r.status == 303
    assert starts(srv, "consult", tue) == []


# --------------------------------------------------------------------------
# access


def test_a_clinician_edits_only_their_own_availability_and_no_owner_pages(srv, tandem, tmp_path):
    other = add_clinician(tandem, srv, tmp_path, "sam@riverbend.example", "Sam Okafor", "sam-password-2026")
    c = signed_in(srv, "sam@riverbend.example", "sam-password-2026")
    r, csrf = page(c, "/admin/availability")
    assert "Times are in America/Chicago, your time zone" in r.body
    assert 'id="clinician-pick"' not in r.body
    # Their own week (empty so far) is theirs to set.
    r = c.post("/admin/availability/weekly", weekly_form(csrf, {2: [("08:00", "12:00")]}, clinician=other))
    assert r.status == 303 and r.headers["location"] == "/admin/availability?done=weekly"
    assert rules(srv, other) == [("2", "08:00", "12:00", "0")]
    # The owner's is out of reach: 404, and nothing changes.
    assert c.get("/admin/availability?clinician=1").status == 404
    assert c.post("/admin/availability/weekly", weekly_form(csrf, {}, clinician=1)).status == 404
    assert c.post("/admin/availability/dates", {"csrf": csrf, "clinician": "1", "date_day": str(next_weekday(1)),
                                                "date_kind": "closed"}).status == 404
    assert rules(srv) == SEED_RULES
    # Offerings: read, not change (403: the page exists, the role may not).
    r = c.get("/admin/offerings")
    assert r.status == 200 and "Free consultation call" in r.body
    assert "/admin/offerings/new" not in r.body and "Only the practice owner can change offerings." in r.body
    consult = offering_id(srv, "consult")
    for path in ("/admin/offerings/new", f"/admin/offerings/{consult}", "/admin/practice"):
        r = c.get(path)
        assert r.status == 403, path
        assert "Only the practice owner can change this." in r.body
    for path in ("/admin/offerings", f"/admin/offerings/{consult}", f"/admin/offerings/{consult}/remove",
                 "/admin/practice"):
        assert c.post(path, {"csrf": csrf, "name": "Hijacked", "slug": "x", "kind": "consult"}).status == 403, path
    assert srv.sql("SELECT count(*) FROM offering WHERE active") == [("4",)]
    assert srv.sql("SELECT name FROM practice") == [("Riverbend Practice",)]
    assert 'href="/admin/practice"' not in c.get("/admin").body
    # The owner picks any clinician.
    o = signed_in(srv)
    r, ocsrf = page(o, f"/admin/availability?clinician={other}")
    assert "<h1>Availability: Sam Okafor</h1>" in r.body
    assert f'<option value="{other}" selected>Sam Okafor</option>' in r.body
    r = o.post("/admin/availability/weekly", weekly_form(ocsrf, {5: [("09:00", "10:00")]}, clinician=other))
    assert r.status == 303 and r.headers["location"] == f"/admin/availability?clinician={other}&done=weekly"
    assert rules(srv, other) == [("5", "09:00", "10:00", "0")]
    assert rules(srv) == SEED_RULES
    assert o.get("/admin/availability?clinician=999").status == 404


def test_every_editor_refuses_a_missing_or_wrong_csrf_token(srv):
    c = signed_in(srv)
    _, csrf = page(c, "/admin/availability")
    consult = offering_id(srv, "consult")
    posts = [("/admin/availability/weekly", weekly_form(None, {})),
             ("/admin/availability/dates", {"date_day": str(next_weekday(1)), "date_kind": "closed"}),
             ("/admin/availability/time-off", {"off_from": str(next_weekday(1))}),
             ("/admin/availability/exceptions/1/remove", {}),
             ("/admin/offerings", {"slug": "x", "name": "X"}),
             (f"/admin/offerings/{consult}", {"name": "X"}),
             (f"/admin/offerings/{consult}/remove", {}),
             ("/admin/practice", {"name": "X", "timezone": "UTC"})]
    for path, form in posts:
        form = {k: v for k, v in form.items() if k != "csrf"}
        assert c.post(path, form).status == 403, path
        assert c.post(path, {**form, "csrf": "0" * 64}).status == 403, path
    assert rules(srv) == SEED_RULES
    assert srv.sql("SELECT count(*) FROM availability_exception") == [("0",)]
    assert srv.sql("SELECT count(*), bool_and(active) FROM offering") == [("4", "t")]
    assert srv.sql("SELECT name FROM practice") == [("Riverbend Practice",)]
    # Without a session, pages send to the sign-in page.
    anon = Client(srv)
    r = anon.get("/admin/availability")
    assert r.status == 303 and r.headers["location"].startswith("/admin/login")


# --------------------------------------------------------------------------
# offerings


def offering_form(csrf, **over):
    form = {"csrf": csrf, "slug": "couples-checkup", "name": "Couples check-up", "kind": "session",
            "description": "A 45-minute <b>video</b> session.", "days": "1", "duration_minutes": "45",
            "day_start": "", "day_end": "", "price": "150.50", "deposit": "0", "currency": "usd",
            "location_kind": "video", "location": "Link in your confirmation", "buffer_before_minutes": "0",
            "buffer_after_minutes": "15", "min_notice_minutes": "1440", "horizon_days": "60",
            "slot_interval_minutes": "60", "min_rest_days": "0", "cap_per_week": "", "cap_per_month": "8",
            "hold_minutes": "1440", "cancel_window_hours": "24", "intake_form": "", "series_max": "6",
            "sort_order": "50", "active": "on", "weekday": ["1", "2"], "clinician": ["1"]}
    form.update(over)
    # Repeated fields (checkboxes) as a browser sends them.
    pairs = []
    for k, v in form.items():
        for one in (v if isinstance(v, list) else [v]):
            if one is not None:
                pairs.append((k, one))
    return pairs


def post_pairs(c, path, pairs):
    import urllib.parse
    return c.request("POST", path, body=urllib.parse.urlencode(pairs),
                     headers={"Content-Type": "application/x-www-form-urlencoded"})


OFFERING_COLS = ("slug, name, kind, description, days, duration_minutes, coalesce(to_char(day_start, 'HH24:MI'), ''),"
                 " coalesce(to_char(day_end, 'HH24:MI'), ''), price_cents, deposit_cents, currency, requires_approval,"
                 " location_kind, location, buffer_before_minutes, buffer_after_minutes, min_notice_minutes,"
                 " horizon_days, slot_interval_minutes, start_weekdays, min_rest_days, coalesce(cap_per_week, 0),"
                 " coalesce(cap_per_month, 0), hold_minutes, cancel_window_hours, coalesce(intake_form, ''),"
                 " series_max, sort_order, active")


def test_owner_creates_an_offering_with_every_field_and_it_is_bookable(srv):
    c = signed_in(srv)
    r, csrf = page(c, "/admin/offerings/new")
    body = main_of(r.body)
    for fid in ("slug", "name", "kind", "description", "duration_minutes", "days", "day_start", "day_end", "price",
                "deposit", "currency", "location_kind", "location", "slot_interval_minutes", "min_notice_minutes",
                "horizon_days", "buffer_before_minutes", "buffer_after_minutes", "min_rest_days", "cap_per_week",
                "cap_per_month", "series_max", "hold_minutes", "intake_form", "cancel_window_hours", "sort_order",
                "active", "requires_approval", "weekday1", "clinician1", "break1_start"):
        assert f'<label for="{fid}">' in body, fid
    r = post_pairs(c, "/admin/offerings", offering_form(csrf))
    assert r.status == 303, r.body[:1500]
    assert r.headers["location"] == "/admin/offerings?done=created"
    assert srv.sql(f"SELECT {OFFERING_COLS} FROM offering WHERE slug = 'couples-checkup'") == [(
        "couples-checkup", "Couples check-up", "session", "A 45-minute <b>video</b> session.", "1", "45", "", "",
        "15050", "0", "USD", "f", "video", "Link in your confirmation", "0", "15", "1440", "60", "60", "3", "0",
        "0", "8", "1440", "24", "", "6", "50", "t")]
    oid = offering_id(srv, "couples-checkup")
    assert srv.sql("SELECT clinician_id FROM offering_clinician WHERE offering_id = :'p1'", str(oid)) == [("1",)]
    listed = {o["slug"]: o for o in srv.get("/api/v1/offerings").json()["offerings"]}
    assert listed["couples-checkup"]["price_cents"] == 15050 and listed["couples-checkup"]["duration_minutes"] == 45
    # Mondays and Tuesdays, hourly, 45 minutes plus a 15-minute buffer inside 09:00-17:00.
    mon = next_weekday(1)
    assert starts(srv, "couples-checkup", mon) == ["09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00",
                                                   "16:00"]
    assert starts(srv, "couples-checkup", next_weekday(3)) == []
    r = c.get("/admin/offerings?done=created")
    assert "Offering created." in r.body and "Couples check-up" in r.body
    rows = audit_rows(srv, "offering.create")
    assert [(a, t, json.loads(d)) for _, a, _, t, _, d in rows] == [
        ("clinician:1", f"offering:{oid}", {"slug": "couples-checkup", "kind": "session", "active": True})]
    # The edit form shows what was stored; markup is text.
    r, _ = page(c, f"/admin/offerings/{oid}")
    assert 'id="price" name="price" type="text" inputmode="decimal" maxlength="14" value="150.50"' in r.body
    assert "A 45-minute &lt;b&gt;video&lt;/b&gt; session.</textarea>" in r.body
    assert '<input id="weekday2" name="weekday" type="checkbox" value="2" checked>' in r.body
    assert '<input id="weekday3" name="weekday" type="checkbox" value="3">' in r.body


def test_an_intensive_with_breaks(srv):
    c = signed_in(srv)
    _, csrf = page(c, "/admin/offerings/new")
    form = offering_form(csrf, slug="intensive-1day", name="One-day intensive", kind="intensive", days="1",
                         day_start="10:00", day_end="15:00", price="1200", deposit="300", intake_form="intensive-intake",
                         series_max="1", cap_per_month="", slot_interval_minutes="1440", buffer_after_minutes="0",
                         weekday=["1", "2", "3", "4", "5"], requires_approval="on", break1_start="12:00",
                         break1_end="12:45", break1_label="Lunch")
    r = post_pairs(c, "/admin/offerings", form)
    assert r.status == 303, r.body[:1500]
    row = srv.sql("SELECT kind, days, duration_minutes, to_char(day_start, 'HH24:MI'), to_char(day_end, 'HH24:MI'),"
                  " price_cents, deposit_cents, requires_approval, intake_form FROM offering WHERE slug = 'intensive-1day'")
    assert row == [("intensive", "1", "300", "10:00", "15:00", "120000", "30000", "t", "intensive-intake")]
    oid = offering_id(srv, "intensive-1day")
    assert srv.sql("SELECT to_char(starts, 'HH24:MI'), to_char(ends, 'HH24:MI'), label FROM offering_break"
                   " WHERE offering_id = :'p1'", str(oid)) == [("12:00", "12:45", "Lunch")]
    mon = next_weekday(1, min_days=8)
    assert starts(srv, "intensive-1day", mon) == ["10:00"]


def test_offering_form_refuses_bad_values_and_keeps_them(srv):
    c = signed_in(srv)
    _, csrf = page(c, "/admin/offerings/new")
    form = offering_form(csrf, slug="Bad Slug", name="", price="12.345", deposit="200", currency="dollars",
                         duration_minutes="3", horizon_days="abc", cap_per_week="0", series_max="6", weekday=[],
                         clinician=[], intake_form="nope", break1_start="12:00", break1_end="11:00")
    r = post_pairs(c, "/admin/offerings", form)
    assert r.status == 422
    expected = {
        "slug": "Use 1 to 63 lower-case letters, digits and hyphens, starting with a letter or digit.",
        "name": "Give the offering a name of up to 200 characters.",
        "duration_minutes": "Enter a whole number from 5 to 720.",
        "price": "Enter a price like 175 or 175.00 (0 for free).",
        "currency": "Enter a three-letter currency code, like USD.",
        "horizon_days": "Enter a whole number from 1 to 730.",
        "start_weekdays": "Tick at least one weekday a booking may start on.",
        "cap_per_week": "Enter a whole number from 1 to 1000, or leave it empty.",
        "intake_form": "Choose an intake form from the list.",
        "clinicians": "Choose at least one clinician who provides it.",
        "break1": "Break 1: The end must be after the start.",
    }
    for fid, msg in expected.items():
        assert field_error(r.body, fid) == msg, fid
    assert sorted(summary(r.body)) == sorted(expected.values())
    assert 'id="slug" name="slug" type="text" maxlength="63" autocapitalize="none" spellcheck="false" value="Bad Slug"' in r.body
    assert 'value="12.345"' in r.body and 'value="dollars"' in r.body
    assert srv.sql("SELECT count(*) FROM offering") == [("4",)]
    # Cross-field rules.
    cases = [
        (dict(deposit="200", price="100"), {"deposit": "The deposit cannot be more than the price."}),
        (dict(kind="consult", series_max="6"), {"series_max": "Only sessions can be booked as a series: enter 1."}),
        (dict(kind="session", days="2"), {"days": "Only intensives last more than one day: enter 1."}),
        (dict(kind="intensive", days="6", series_max="1", day_start="09:00", day_end="16:00"),
         {"days": "Enter a whole number from 1 to 5."}),
        (dict(kind="intensive", days="2", series_max="1"),
         {"day_start": "An intensive needs the time each day starts, like 09:00.",
          "day_end": "An intensive needs the time each day ends, like 16:00."}),
        (dict(kind="intensive", days="2", series_max="1", day_start="09:00", day_end="16:00", break1_start="08:00",
              break1_end="09:30"), {"break1": "Break 1: a break must be inside the day."}),
        (dict(slug="consult"), {"slug": "Another offering already uses this web address name."}),
        # A form with a safety screen needs the clinician's approval of every booking (the
        # pre-consult form has none: the consult may confirm at once).
        (dict(intake_form="intensive-intake"),
         {"requires_approval": "This intake form has a safety screen, so you must approve each booking after "
                               "reading it: tick this box, or choose a form without one."}),
    ]
    for over, errors in cases:
        r = post_pairs(c, "/admin/offerings", offering_form(csrf, **over))
        assert r.status == 422, over
        for fid, msg in errors.items():
            assert field_error(r.body, fid) == msg, over
        assert summary(r.body) == list(errors.values()), over
    assert srv.sql("SELECT count(*) FROM offering") == [("4",)]
    assert audit_rows(srv, "offering.create") == []


def test_editing_an_offering_keeps_existing_bookings(srv):
    booked = book_consult(srv)[0]
    before = srv.sql("SELECT b.starts_at, b.ends_at, k.starts_at, k.ends_at, lower(k.blocked), upper(k.blocked)"
                     " FROM booking b JOIN booking_block k ON k.booking_id = b.id WHERE b.id = :'p1'", str(booked["id"]))
    c = signed_in(srv)
    consult = offering_id(srv, "consult")
    r, csrf = page(c, f"/admin/offerings/{consult}")
    # The slug is fixed once created: shown, not editable.
    assert "<code>/offerings/consult</code>" in r.body and 'name="slug"' not in r.body
    mon = next_weekday(1)
    assert starts(srv, "consult", mon) == consult_day(mon)
    form = offering_form(csrf, slug="ignored", name="Consultation call", kind="consult", duration_minutes="45",
                         buffer_after_minutes="15", price="0", series_max="1", cap_per_month="",
                         slot_interval_minutes="60", weekday=["1", "2", "3", "4", "5"], intake_form="pre-consult")
    r = post_pairs(c, f"/admin/offerings/{consult}", form)
    assert r.status == 303, r.body[:1500]
    assert r.headers["location"] == "/admin/offerings?done=updated"
    assert srv.sql("SELECT slug, name, duration_minutes, buffer_after_minutes, slot_interval_minutes FROM offering"
                   " WHERE id = :'p1'", str(consult)) == [("consult", "Consultation call", "45", "15", "60")]
    after = srv.sql("SELECT b.starts_at, b.ends_at, k.starts_at, k.ends_at, lower(k.blocked), upper(k.blocked)"
                    " FROM booking b JOIN booking_block k ON k.booking_id = b.id WHERE b.id = :'p1'", str(booked["id"]))
    assert after == before
    assert srv.sql("SELECT status FROM booking WHERE id = :'p1'", str(booked["id"])) == [("confirmed",)]
    # New bookings follow the new rules at once.
    assert starts(srv, "consult", mon) == ["09:00", "10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "16:00"]
    assert "Offering saved. Existing bookings keep their times." in c.get("/admin/offerings?done=updated").body
    rows = audit_rows(srv, "offering.update")
    assert [(a, t, json.loads(d)) for _, a, _, t, _, d in rows] == [
        ("clinician:1", f"offering:{consult}", {
            "slug": "consult", "kind": "consult", "active": True,
            "fields": ["name", "description", "duration_minutes", "location", "buffer_after_minutes",
                       "slot_interval_minutes", "sort_order"]})]
    assert c.get("/admin/offerings/999").status == 404
    assert post_pairs(c, "/admin/offerings/999", form).status == 404


def test_removing_an_offering_deletes_it_or_deactivates_it_when_booked(srv):
    booked = book_consult(srv)[0]
    c = signed_in(srv)
    _, csrf = page(c, "/admin/offerings/new")
    assert post_pairs(c, "/admin/offerings", offering_form(csrf)).status == 303
    new = offering_id(srv, "couples-checkup")
    r = c.post(f"/admin/offerings/{new}/remove", {"csrf": csrf})
    assert r.status == 303 and r.headers["location"] == "/admin/offerings?done=deleted"
    assert srv.sql("SELECT count(*) FROM offering WHERE slug = 'couples-checkup'") == [("0",)]
    consult = offering_id(srv, "consult")
    r = c.post(f"/admin/offerings/{consult}/remove", {"csrf": csrf})
    assert r.status == 303 and r.headers["location"] == "/admin/offerings?done=deactivated"
    assert srv.sql("SELECT active FROM offering WHERE id = :'p1'", str(consult)) == [("f",)]
    assert srv.sql("SELECT status FROM booking WHERE id = :'p1'", str(booked["id"])) == [("confirmed",)]
    assert "consult" not in [o["slug"] for o in srv.get("/api/v1/offerings").json()["offerings"]]
    assert srv.get(f"/api/v1/availability?offering=consult&from={next_weekday(1)}&to={next_weekday(1)}").status == 404
    r = c.get("/admin/offerings?done=deactivated")
    assert "so it was deactivated instead of deleted" in r.body and "Inactive: clients do not see it." in r.body
    assert [(row[2], row[3]) for row in audit_rows(srv) if row[2].startswith("offering.")] == [
        ("offering.create", f"offering:{new}"), ("offering.delete", f"offering:{new}"),
        ("offering.deactivate", f"offering:{consult}")]
    assert c.post(f"/admin/offerings/{new}/remove", {"csrf": csrf}).status == 404


# --------------------------------------------------------------------------
# the practice


def practice_form(csrf, **over):
    form = {"csrf": csrf, "name": "Riverbend Couples Practice", "timezone": "America/New_York",
            "address": "1 Main St", "phone": "+1 312 555 0100", "email": "office@riverbend.example",
            "base_url": "https://riverbend.example", "cancellation_policy": "Cancel 48 hours ahead.",
            "confidentiality_policy": "Line one <script>alert(1)</script> & more\r\nLine two"}
    form.update(over)
    return form


def test_practice_settings_and_policy_texts(srv):
    c = signed_in(srv)
    r, csrf = page(c, "/admin/practice")
    for fid in ("name", "timezone", "address", "phone", "email", "base_url", "cancellation_policy",
                "confidentiality_policy"):
        assert f'<label for="{fid}">' in r.body, fid
    assert 'value="America/Chicago"' in r.body
    r = c.post("/admin/practice", practice_form(csrf))
    assert r.status == 303 and r.headers["location"] == "/admin/practice?done=saved", r.body[:800]
    assert srv.sql("SELECT name, timezone, address, phone, email, base_url, cancellation_policy,"
                   " replace(confidentiality_policy, E'\\r', '<CR>') FROM practice") == [(
                       "Riverbend Couples Practice", "America/New_York", "1 Main St", "+1 312 555 0100",
                       "office@riverbend.example", "https://riverbend.example", "Cancel 48 hours ahead.",
                       "Line one <script>alert(1)</script> & more<CR>\nLine two")]
    r = c.get("/admin/practice?done=saved")
    assert "Practice settings saved." in r.body
    assert "Line one &lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in r.body and "<script>alert" not in r.body
    # Pages use the new name at once; the intake shows the new policy, as text.
    assert "Riverbend Couples Practice" in srv.get("/").text
    booked = book_consult(srv)[0]
    intake = srv.get(booked["intake_url"][len(srv.base):]).text
    assert '<p class="policy">Line one &lt;script&gt;alert(1)&lt;/script&gt; &amp; more' in intake
    assert "<script>alert" not in intake
    rows = audit_rows(srv, "practice.update")
    assert [(a, t, json.loads(d)) for _, a, _, t, _, d in rows] == [
        ("clinician:1", "practice:1", {"fields": ["name", "timezone", "address", "phone", "email", "base_url",
                                                   "cancellation_policy", "confidentiality_policy"]})]
    # Saving again unchanged but for one field names only that one.
    assert c.post("/admin/practice", practice_form(csrf, phone="")).status == 303
    assert json.loads(audit_rows(srv, "practice.update")[-1][5]) == {"fields": ["phone"]}


@pytest.mark.parametrize("over,fid,msg", [
    (dict(timezone="Mars/Olympus_Mons"), "timezone", "Enter a time zone name like America/Chicago or Europe/Berlin."),
    (dict(timezone="+05:00"), "timezone", "Enter a time zone name like America/Chicago or Europe/Berlin."),
    (dict(timezone="../../etc/passwd"), "timezone", "Enter a time zone name like America/Chicago or Europe/Berlin."),
    (dict(name=""), "name", "Give the practice a name of up to 200 characters."),
    (dict(email="not-an-address"), "email", "Enter an email address like hello@example.com, or leave it empty."),
    (dict(base_url="javascript:alert(1)"), "base_url", "Enter the address starting with https://, or leave it empty."),
    (dict(cancellation_policy="x" * 20001), "cancellation_policy",
     "Keep the cancellation policy to 20000 characters or fewer."),
])
def test_practice_settings_refuse_bad_values(srv, over, fid, msg):
    c = signed_in(srv)
    _, csrf = page(c, "/admin/practice")
    r = c.post("/admin/practice", practice_form(csrf, **over))
    assert r.status == 422
    assert field_error(r.body, fid) == msg
    assert summary(r.body) == [msg]
    if fid != "cancellation_policy":
        assert f'value="{html.escape(over[fid])}"' in r.body
    assert srv.sql("SELECT name, timezone FROM practice") == [("Riverbend Practice", "America/Chicago")]
    assert audit_rows(srv, "practice.update") == []


# --------------------------------------------------------------------------
# markup: every control labelled, ids unique, errors wired to their fields


class _Controls(__import__("html.parser").parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.label_for, self.controls, self.described = [], set(), [], []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        if tag == "label" and "for" in a:
            self.label_for.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.controls.append(a)
        if "aria-describedby" in a:
            self.described.append(a["aria-describedby"])


def check_markup(body):
    p = _Controls()
    p.feed(main_of(body))
    dupes = {i for i in p.ids if p.ids.count(i) > 1}
    assert not dupes, dupes
    for ctl in p.controls:
        assert ctl.get("id") in p.label_for, ctl
    for ref in p.described:
        for one in ref.split():
            assert one in p.ids, one
    return p


def test_editor_pages_label_every_field(srv, tandem, tmp_path):
    c = signed_in(srv)
    add_clinician(tandem, srv, tmp_path, "sam@riverbend.example", "Sam Okafor", "sam-password-2026")
    consult = offering_id(srv, "consult")
    for path in ("/admin/availability", "/admin/offerings", "/admin/offerings/new", f"/admin/offerings/{consult}",
                 "/admin/practice"):
        r, csrf = page(c, path)
        check_markup(r.body)
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in r.body
    # The owner's clinician picker is labelled too.
    assert '<label for="clinician-pick">Whose availability</label>' in c.get("/admin/availability").body
    # Pages with errors: each message is referenced by its field and listed at the top.
    r = c.post("/admin/availability/weekly", weekly_form(csrf, {1: [("12:00", "09:00")]}))
    assert r.status == 422 and len(check_markup(r.body).described) == 3
    r = post_pairs(c, "/admin/offerings", offering_form(csrf, name="", weekday=[], break2_start="x"))
    assert r.status == 422
    p = check_markup(r.body)
    assert {"name-error", "start_weekdays-error", "break2-error"} <= set(p.described)
    r = c.post("/admin/practice", practice_form(csrf, timezone="Nowhere", email="x"))
    assert r.status == 422
    assert summary(r.body) == ["Enter a time zone name like America/Chicago or Europe/Berlin.",
                               "Enter an email address like hello@example.com, or leave it empty."]
    assert 'href="#timezone"' in r.body and 'href="#email"' in r.body
    check_markup(r.body)
