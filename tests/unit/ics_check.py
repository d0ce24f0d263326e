#!/usr/bin/python3
"""Checks Tandem's invites with independent iCalendar readers.

Usage: /usr/bin/python3 tests/unit/ics_check.py PATH/TO/ics_sample

ics_sample (tests/unit/ics_sample.c) writes each sample calendar; this script
reads them with python3-icalendar, python3-recurring-ical-events and
python3-vobject and compares the occurrences with UTC instants written out
by hand below. Each event is resolved twice: by its IANA TZID (the readers
use their own zone data) and with the TZID renamed to a name nobody knows, so
that only our VTIMEZONE can place it. Our VTIMEZONE is also compared hour by
hour with the system's zoneinfo over the years it claims to cover.

Then ics_readers.py has every sample read by ical.js (Thunderbird's
parser), node-ical, khal and calcurse (see there for what each of them can
and cannot represent). A sample is its name in ics_sample, its zone and
instants in EXPECT, and its METHOD and STATUS in ITIP.

Prints "N passed, M failed"; exits 1 on any failure.
"""
import datetime as dt
import re
import subprocess
import sys
import zoneinfo

import icalendar

import ics_readers

try:
    import recurring_ical_events
except ImportError:  # python3-recurring-ical-events not installed
    recurring_ical_events = None
try:
    import vobject
except ImportError:  # python3-vobject not installed
    vobject = None

UTC = dt.timezone.utc
CHI = "America/Chicago"


def z(s):
    """'2027-03-13T15:00' (UTC) -> aware datetime."""
    return dt.datetime.fromisoformat(s).replace(tzinfo=UTC)


# sample -> zone, occurrences as (UTC start, UTC end, local start, local end)
EXPECT = {
    "consult": (CHI, [("2026-11-02T16:00", "2026-11-02T16:50", "10:00", "10:50")]),
    "consult_before_dst": (CHI, [("2026-10-30T19:30", "2026-10-30T20:20", "14:30", "15:20")]),
    "intensive_dst": (CHI, [
        ("2027-03-13T15:00", "2027-03-13T22:00", "09:00", "16:00"),  # CST
        ("2027-03-14T14:00", "2027-03-14T21:00", "09:00", "16:00"),  # CDT
    ]),
    "intensive_rdate": (CHI, [
        ("2027-03-06T15:00", "2027-03-06T22:00", "09:00", "16:00"),
        ("2027-03-08T15:00", "2027-03-08T22:00", "09:00", "16:00"),
        ("2027-03-20T14:00", "2027-03-20T21:00", "09:00", "16:00"),
    ]),
    "cancel": (CHI, [("2026-11-02T16:00", "2026-11-02T16:50", "10:00", "10:50")]),
    "tentative": (CHI, [("2026-11-02T16:00", "2026-11-02T16:50", "10:00", "10:50")]),
    "berlin_intensive": ("Europe/Berlin", [
        ("2027-10-30T08:00", "2027-10-30T15:00", "10:00", "17:00"),  # CEST
        ("2027-10-31T09:00", "2027-10-31T16:00", "10:00", "17:00"),  # CET
        ("2027-11-01T09:00", "2027-11-01T16:00", "10:00", "17:00"),
    ]),
    "sydney_consult": ("Australia/Sydney", [("2027-04-04T00:00", "2027-04-04T00:50", "10:00", "10:50")]),
    "kolkata_consult": ("Asia/Kolkata", [("2027-01-15T13:00", "2027-01-15T13:50", "18:30", "19:20")]),
    "lord_howe": ("Australia/Lord_Howe", [
        ("2027-04-02T22:00", "2027-04-03T04:00", "09:00", "15:00"),  # +11
        ("2027-04-03T22:30", "2027-04-04T04:30", "09:00", "15:00"),  # +10:30
    ]),
    "sao_paulo": ("America/Sao_Paulo", [("2027-11-07T12:00", "2027-11-07T12:50", "09:00", "09:50")]),
    # 2007: the new US rule (DST from 11 March), so 09:00 is CDT.
    "chicago_2007": (CHI, [("2007-03-20T14:00", "2007-03-20T14:50", "09:00", "09:50")]),
    # 01:30 happens twice on 2026-11-01: both passes written in UTC.
    "first_130": (CHI, [("2026-11-01T06:30", "2026-11-01T07:20", "01:30", "01:20")]),
    "fold_intensive": (CHI, [
        ("2026-10-31T06:30", "2026-10-31T07:20", "01:30", "02:20"),
        ("2026-11-01T06:30", "2026-11-01T07:20", "01:30", "01:20"),
    ]),
    "second_130": (CHI, [("2026-11-01T07:30", "2026-11-01T08:20", "01:30", "02:20")]),
    "injection": (CHI, [("2026-11-02T16:00", "2026-11-02T16:50", "10:00", "10:50")]),
    "unicode": (CHI, [("2026-11-02T16:00", "2026-11-02T16:50", "10:00", "10:50")]),
    "publish": (CHI, [("2026-11-02T16:00", "2026-11-02T16:50", "10:00", "10:50")]),
}

# sample -> (METHOD, STATUS of every occurrence, or a list of them in the
# order of EXPECT's occurrences); samples not listed are REQUEST, CONFIRMED.
# Read by ics_readers.py.
ITIP = {
    "cancel": ("CANCEL", "CANCELLED"),
    "tentative": ("REQUEST", "TENTATIVE"),
    "publish": ("PUBLISH", "CONFIRMED"),
}

passed = 0
failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL {name}" + (f": {detail}" if detail else ""))


def unfold(raw):
    return re.sub(r"\r\n[ \t]", "", raw)


def check_lines(name, data):
    """CRLF only, <= 75 octets, UTF-8 whole on every line, no split escape."""
    lines = data.split(b"\r\n")
    check(f"{name}: ends with CRLF", data.endswith(b"\r\n"))
    body = lines[:-1]
    check(f"{name}: no bare CR or LF", all(b"\r" not in l and b"\n" not in l for l in body))
    long = [l for l in body if len(l) > 75]
    check(f"{name}: lines <= 75 octets", not long, repr(long[:1]))
    bad = []
    for l in body:
        try:
            l.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(l)
    check(f"{name}: no UTF-8 sequence split", not bad, repr(bad[:1]))
    split = []
    logical = b""
    for i, l in enumerate(body):
        logical = logical + l[1:] if l[:1] in (b" ", b"\t") else l
        nxt = body[i + 1] if i + 1 < len(body) else b""
        if nxt[:1] == b" ":
            # pairs counted from the start of the logical line
            j, odd = 0, False
            while j < len(logical):
                if logical[j:j + 1] == b"\\":
                    if j + 1 == len(logical):
                        odd = True
                    j += 2
                else:
                    j += 1
            if odd:
                split.append(l)
    check(f"{name}: no escape pair split by a fold", not split, repr(split[:1]))


def occurrences(cal, lo, hi):
    return sorted(
        (e["DTSTART"].dt.astimezone(UTC), e["DTEND"].dt.astimezone(UTC), e["DTSTART"].dt)
        for e in recurring_ical_events.of(cal).between(lo, hi))


def check_occurrences(name, cal, zone, want, how):
    lo = want[0][0] - dt.timedelta(days=3)
    hi = want[-1][1] + dt.timedelta(days=3)
    got = occurrences(cal, lo, hi)
    check(f"{name}: {how}: {len(want)} occurrence(s)", len(got) == len(want),
          f"got {[(str(a), str(b)) for a, b, _ in got]}")
    zi = zoneinfo.ZoneInfo(zone)
    for (ws, we, wls, wle), (gs, ge, _) in zip(want, got):
        check(f"{name}: {how}: {ws}Z..{we}Z", (gs, ge) == (ws, we), f"got {gs}..{ge}")
        ls = gs.astimezone(zi).strftime("%H:%M")
        le = ge.astimezone(zi).strftime("%H:%M")
        check(f"{name}: {how}: local {wls}-{wle}", (ls, le) == (wls, wle), f"got {ls}-{le}")


def check_vtimezone(name, cal, zone, want):
    """Our VTIMEZONE, read by icalendar's to_tz(), against zoneinfo every
    half hour from its first observance to the end of the year after the
    event (times before the first DTSTART are undefined, RFC 5545 3.6.5)."""
    vtz = [c for c in cal.walk("VTIMEZONE")]
    check(f"{name}: one VTIMEZONE", len(vtz) == 1)
    if not vtz:
        return
    check(f"{name}: VTIMEZONE TZID is the IANA name", str(vtz[0]["TZID"]) == zone,
          str(vtz[0]["TZID"]))
    ours = vtz[0].to_tz()
    zi = zoneinfo.ZoneInfo(zone)
    obs = [c for c in vtz[0].subcomponents]
    t = min(c["DTSTART"].dt.replace(tzinfo=UTC) - c["TZOFFSETFROM"].td for c in obs)
    check(f"{name}: VTIMEZONE starts before the event", t < want[0][0], str(t))
    y0 = t.year
    y1 = want[-1][1].year + 1
    end = dt.datetime(y1, 12, 31, tzinfo=UTC)
    bad = []
    while t < end:
        a = t.astimezone(ours).utcoffset()
        b = t.astimezone(zi).utcoffset()
        if a != b:
            bad.append((t, a, b))
        t += dt.timedelta(minutes=30)
    check(f"{name}: VTIMEZONE offsets equal zoneinfo {y0}..{y1}", not bad, str(bad[:2]))


def renamed(text, zone, new):
    """The calendar with its zone renamed, so readers must use our VTIMEZONE."""
    text = unfold(text)
    text = text.replace(f"TZID:{zone}\r\n", f"TZID:{new}\r\n")
    text = text.replace(f"TZID={zone}:", f"TZID={new}:")
    return text.replace(f"X-LIC-LOCATION:{zone}\r\n", "")


def check_vobject(name, text, want):
    try:
        cal = vobject.readOne(text)
    except Exception as e:  # noqa: BLE001 - any parse failure is a failure
        check(f"{name}: vobject parses", False, repr(e))
        return
    ev = cal.vevent
    start = ev.dtstart.value
    dur = ev.dtend.value - start
    rs = ev.getrruleset(addRDate=True)
    got = sorted(s.astimezone(UTC) for s in (rs if rs is not None else [start]))
    wants = [w[0] for w in want]
    check(f"{name}: vobject occurrences", got == wants, f"got {[str(g) for g in got]}")
    check(f"{name}: vobject duration", all(w[1] - w[0] == dur for w in want), str(dur))


def params(text, prop):
    """(params, value) of each unfolded line of property prop."""
    out = []
    for line in unfold(text).split("\r\n"):
        m = re.match(rf"{prop}([;:])", line)
        if m:
            out.append(line)
    return out


def specific(name, text, cal):
    ev = cal.walk("VEVENT")[0]
    meth = str(cal["METHOD"])
    status = str(ev["STATUS"])
    att = params(text, "ATTENDEE")
    if name == "cancel":
        check(f"{name}: METHOD:CANCEL", meth == "CANCEL")
        check(f"{name}: STATUS:CANCELLED", status == "CANCELLED")
        check(f"{name}: SEQUENCE 1, same UID", int(ev["SEQUENCE"]) == 1 and
              str(ev["UID"]) == "b-1001@tandem.example")
        check(f"{name}: no PARTSTAT/RSVP", all("PARTSTAT" not in a and "RSVP" not in a for a in att))
    elif name == "tentative":
        check(f"{name}: STATUS:TENTATIVE", status == "TENTATIVE")
    elif name == "publish":
        check(f"{name}: METHOD:PUBLISH, no ATTENDEE", meth == "PUBLISH" and not att)
    elif name == "injection":
        lines = unfold(text).split("\r\n")
        names = [re.split(r"[;:]", l, 1)[0] for l in lines if l]
        check(f"{name}: one ATTENDEE", names.count("ATTENDEE") == 1, str(att))
        check(f"{name}: one ORGANIZER", names.count("ORGANIZER") == 1)
        check(f"{name}: one LOCATION", names.count("LOCATION") == 1)
        check(f"{name}: one VEVENT", lines.count("BEGIN:VEVENT") == 1 and len(cal.walk("VEVENT")) == 1)
        check(f"{name}: no X-EVIL", "X-EVIL" not in names)
        a = ev["ATTENDEE"]
        check(f"{name}: attendee address kept", str(a) == "mailto:eve@example.org", str(a))
        check(f"{name}: attendee CN sanitised",
              a.params["CN"] == "Eve  ATTENDEE:mailto:mallory@evil.example  X-EVIL:1 'q'; a,b: c",
              a.params["CN"])
        check(f"{name}: organizer CN sanitised",
              ev["ORGANIZER"].params["CN"] == "Dr 'Jo' Rivers ORGANIZER:mailto:x@evil.example")
        check(f"{name}: SUMMARY on one line", str(ev["SUMMARY"]) == "Hi ATTENDEE:mailto:mallory@evil.example")
        check(f"{name}: LOCATION on one line", str(ev["LOCATION"]) == "Room 1 LOCATION:elsewhere")
        # python3-icalendar 4.0.3 reads \\n (an escaped backslash, then n) as
        # a line break: it unescapes \n before \\. vobject gets it right.
        desc = (vobject.readOne(text).vevent.description.value if vobject is not None
                else str(ev["DESCRIPTION"]))
        check(f"{name}: DESCRIPTION text",
              desc == "Line one\nBEGIN:VEVENT\nEND:VEVENT\nX: y\\n, ; done\\", repr(desc))
        check(f"{name}: DESCRIPTION escaped once",
              "DESCRIPTION:Line one\\nBEGIN:VEVENT\\nEND:VEVENT\\nX: y\\\\n\\, \\; done\\\\\r\n"
              in unfold(text))
    elif name == "unicode":
        cn = ev["ATTENDEE"].params["CN"]
        check(f"{name}: Japanese CN intact",
              cn == "山田太郎さんの長い名前のテストです、よろしくお願いします😀😀😀😀😀😀😀😀", cn)
        check(f"{name}: organizer CN intact",
              ev["ORGANIZER"].params["CN"] == "Dr. Zoë Ångström-Ñúñez " + "🩺" * 19)
        check(f"{name}: DESCRIPTION intact", str(ev["DESCRIPTION"]) ==
              "予約の管理: https://tandem.example/b/Tok3n_abc, 変更; またはキャンセル\n" + "😀" * 31)
    elif name == "intensive_dst":
        check(f"{name}: RRULE:FREQ=DAILY;COUNT=2", "RRULE:FREQ=DAILY;COUNT=2\r\n" in text)
    elif name in ("first_130", "second_130", "fold_intensive"):
        want_lines = {
            "first_130": ["DTSTART:20261101T063000Z", "DTEND:20261101T072000Z"],
            "second_130": ["DTSTART:20261101T073000Z",
                           "DTEND;TZID=America/Chicago:20261101T022000"],
            "fold_intensive": ["DTSTART;TZID=America/Chicago:20261031T013000",
                               "DTEND;TZID=America/Chicago:20261031T022000",
                               "RDATE:20261101T063000Z"],
        }[name]
        lines = unfold(text).split("\r\n")
        check(f"{name}: ambiguous times in UTC", all(w in lines for w in want_lines),
              str([l for l in lines if l.startswith(("DTSTART", "DTEND", "RDATE", "RRULE"))]))
    elif name == "intensive_rdate":
        check(f"{name}: RDATE;TZID", "RDATE;TZID=America/Chicago:20270308T090000,20270320T090000\r\n" in text)
    elif name == "consult":
        check(f"{name}: ATTENDEE params",
              att == ["ATTENDEE;CN=Alex Client;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;"
                      "RSVP=TRUE:mailto:alex@example.org"], str(att))
        check(f"{name}: STATUS:CONFIRMED, TRANSP:OPAQUE", status == "CONFIRMED" and
              str(ev["TRANSP"]) == "OPAQUE")
        check(f"{name}: LOCATION unescaped", str(ev["LOCATION"]) == "12 Main St, Suite 4; Springfield")


# --------------------------------------------------------------------------
# Samples with several VEVENTs (ics_sample --list-multi): a series with
# RECURRENCE-ID overrides (moved and cancelled days) and a clinician's
# PUBLISH feed with events in two zones. Each expected occurrence is
# (UID, zone, UTC start, UTC end, STATUS) after the overrides are applied;
# OVERRIDES_MULTI names the RECURRENCE-ID of each override (UTC).

BER = "Europe/Berlin"
B1001 = "b-1001@tandem.example"

EXPECT_MULTI = {
    "override_moved": [
        (B1001, CHI, "2027-03-13T15:00", "2027-03-13T22:00", "CONFIRMED"),  # 09:00-16:00 CST
        (B1001, CHI, "2027-03-14T15:00", "2027-03-14T22:30", "CONFIRMED"),  # moved: 10:00-17:30 CDT
        (B1001, CHI, "2027-03-15T14:00", "2027-03-15T21:00", "CONFIRMED"),  # 09:00-16:00 CDT
    ],
    "override_cancelled": [
        # The 14th is cancelled: an EXDATE of the series in a REQUEST (RFC 5546 lets a REQUEST
        # say only TENTATIVE or CONFIRMED), so it is simply gone.
        (B1001, CHI, "2027-03-13T15:00", "2027-03-13T22:00", "TENTATIVE"),
        (B1001, CHI, "2027-03-16T14:00", "2027-03-16T21:00", "TENTATIVE"),  # the 15th, moved
    ],
    "override_rdate": [
        (B1001, BER, "2027-03-06T09:00", "2027-03-06T15:00", "CONFIRMED"),  # 10:00-16:00 CET
        (B1001, BER, "2027-03-09T09:00", "2027-03-09T15:00", "CONFIRMED"),  # the 8th, moved
        (B1001, BER, "2027-03-20T09:00", "2027-03-20T15:00", "CONFIRMED"),
    ],
    # A lone instance (no series in the file): the readers place it where its RECURRENCE-ID
    # and DTSTART say, cancelled; a calendar holding the series drops that day.
    "cancel_one_day": [
        (B1001, CHI, "2027-03-14T14:00", "2027-03-14T21:00", "CANCELLED"),  # 09:00-16:00 CDT
    ],
    "feed": [
        ("d1-c0ffee03@tandem.example", CHI, "2026-10-30T19:30", "2026-10-30T20:20", "CANCELLED"),
        ("d1-c0ffee01@tandem.example", CHI, "2026-11-02T16:00", "2026-11-02T16:50", "CONFIRMED"),
        ("d1-c0ffee02@tandem.example", CHI, "2027-03-13T15:00", "2027-03-13T22:00", "TENTATIVE"),
        ("d2-c0ffee02@tandem.example", CHI, "2027-03-14T14:00", "2027-03-14T21:00", "TENTATIVE"),
        ("d1-c0ffee04@tandem.example", BER, "2027-10-30T08:00", "2027-10-30T08:50", "CONFIRMED"),
    ],
    "feed_empty": [],
}

OVERRIDES_MULTI = {
    "override_moved": ["RECURRENCE-ID;TZID=America/Chicago:20270314T090000"],
    "override_cancelled": ["RECURRENCE-ID;TZID=America/Chicago:20270315T090000"],
    "override_rdate": ["RECURRENCE-ID;TZID=Europe/Berlin:20270308T100000"],
    "cancel_one_day": ["RECURRENCE-ID;TZID=America/Chicago:20270314T090000"],
    "feed": [],
    "feed_empty": [],
}

# Days cancelled on their own, each an EXDATE of the series.
EXDATES_MULTI = {
    "override_cancelled": ["EXDATE;TZID=America/Chicago:20270314T090000"],
}

# The zones each multi sample must carry a VTIMEZONE for, and the span
# each must cover at least (the feed's own zone covers its window).
ZONES_MULTI = {
    "override_moved": {CHI: ("2027-03-13T15:00", "2027-03-15T21:00")},
    "override_cancelled": {CHI: ("2027-03-13T15:00", "2027-03-16T21:00")},
    "override_rdate": {BER: ("2027-03-06T09:00", "2027-03-20T15:00")},
    "cancel_one_day": {CHI: ("2027-03-14T14:00", "2027-03-14T21:00")},
    "feed": {CHI: ("2026-09-01T05:00", "2027-10-01T05:00"), BER: ("2027-10-30T08:00", "2027-10-30T08:50")},
    "feed_empty": {CHI: ("2026-09-01T05:00", "2027-10-01T05:00")},
}


def multi_occurrences(cal, lo, hi):
    """(UID, UTC start, UTC end, STATUS) of every occurrence, overrides
    applied by recurring-ical-events."""
    return sorted(
        (str(e["UID"]), e["DTSTART"].dt.astimezone(UTC), e["DTEND"].dt.astimezone(UTC), str(e["STATUS"]))
        for e in recurring_ical_events.of(cal).between(lo, hi))


def vobject_multi(text):
    """The same, from vobject: each master expanded by its rruleset, then
    each override put in place of the instance its RECURRENCE-ID names
    (vobject does not apply overrides itself). Raises on an override that
    names no instance."""
    cal = vobject.readOne(text)
    events = cal.contents.get("vevent", [])
    inst = {}
    for ev in events:
        if "recurrence-id" in ev.contents:
            continue
        start = ev.dtstart.value
        dur = ev.dtend.value - start
        rs = ev.getrruleset(addRDate=True)
        for s in (rs if rs is not None else [start]):
            inst[(ev.uid.value, s.astimezone(UTC))] = (s.astimezone(UTC), (s + dur).astimezone(UTC),
                                                      ev.status.value)
    for ev in events:
        if "recurrence-id" not in ev.contents:
            continue
        key = (ev.uid.value, ev.recurrence_id.value.astimezone(UTC))
        if key not in inst:
            raise AssertionError(f"RECURRENCE-ID {key[1]} is no instance of {key[0]}")
        inst[key] = (ev.dtstart.value.astimezone(UTC), ev.dtend.value.astimezone(UTC), ev.status.value)
    return sorted((k[0], s, e, st) for k, (s, e, st) in inst.items())


def check_multi_sample(prog, name):
    want = [(u, zone, z(a), z(b), st) for u, zone, a, b, st in EXPECT_MULTI[name]]
    occ = sorted((u, a, b, st) for u, _, a, b, st in want)
    data = subprocess.run([prog, name], check=True, capture_output=True).stdout
    check_lines(name, data)
    text = data.decode("utf-8")
    u = unfold(text)
    cal = icalendar.Calendar.from_ical(text)
    evs = cal.walk("VEVENT")
    masters = [e for e in evs if "RECURRENCE-ID" not in e]
    check(f"{name}: {len(OVERRIDES_MULTI[name])} override(s)",
          len(evs) - len(masters) == len(OVERRIDES_MULTI[name]), str(len(evs)))
    for line in OVERRIDES_MULTI[name] + EXDATES_MULTI.get(name, []):
        check(f"{name}: {line}", f"\r\n{line}\r\n" in u)
    # One VTIMEZONE per zone, before any VEVENT, right over its span.
    zones = ZONES_MULTI[name]
    vtz = {str(c["TZID"]): c for c in cal.walk("VTIMEZONE")}
    check(f"{name}: one VTIMEZONE per zone", sorted(vtz) == sorted(zones) and
          len(cal.walk("VTIMEZONE")) == len(zones), str(list(vtz)))
    tzids = set(re.findall(r"TZID=([^:;]*)", u))
    check(f"{name}: every TZID= has its VTIMEZONE", tzids <= set(vtz), str(tzids))
    if evs:
        check(f"{name}: VTIMEZONEs first", u.rfind("END:VTIMEZONE") < u.find("BEGIN:VEVENT"))
    for zone, (a, b) in zones.items():
        if zone not in vtz:
            continue
        one = icalendar.Calendar()
        one.add_component(vtz[zone])
        check_vtimezone(f"{name} {zone}", one, zone, [(z(a), z(b))])
    # Occurrences with overrides applied, by two readers; the second time
    # with every zone renamed so that only our VTIMEZONEs can place them.
    renamed_text = text
    for zone in zones:
        renamed_text = renamed(renamed_text, zone, "X-Tandem-Multi-" + zone.replace("/", "-"))
    if recurring_ical_events is not None and occ:
        lo = occ[0][1] - dt.timedelta(days=3)
        hi = max(o[2] for o in occ) + dt.timedelta(days=3)
        for how, t in (("by IANA name", text), ("by our VTIMEZONE", renamed_text)):
            got = multi_occurrences(icalendar.Calendar.from_ical(t), lo, hi)
            check(f"{name}: recurring-ical-events {how}: occurrences", got == occ,
                  f"got {[(g[0], str(g[1]), str(g[2]), g[3]) for g in got]}")
    if vobject is not None and name != "cancel_one_day":  # vobject_multi needs the series
        try:
            got = vobject_multi(renamed_text)
            check(f"{name}: vobject occurrences", got == occ,
                  f"got {[(g[0], str(g[1]), str(g[2]), g[3]) for g in got]}")
        except Exception as e:  # noqa: BLE001 - any failure is a failure
            check(f"{name}: vobject reads it", False, repr(e))
    # Per sample.
    uids = [str(e["UID"]) for e in evs]
    if name == "cancel_one_day":
        [ev] = evs
        check(f"{name}: METHOD:CANCEL, one VEVENT, no series", str(cal["METHOD"]) == "CANCEL" and
              "RRULE" not in ev and "RDATE" not in ev and "EXDATE" not in ev)
        check(f"{name}: STATUS:CANCELLED, SEQUENCE:4, the organizer and the attendee",
              str(ev["STATUS"]) == "CANCELLED" and int(ev["SEQUENCE"]) == 4 and
              str(ev["ORGANIZER"]) == "mailto:jo@riverbend.example" and
              str(ev["ATTENDEE"]) == "mailto:alex@example.org")
        check(f"{name}: RECURRENCE-ID is DTSTART", ev["RECURRENCE-ID"].dt == ev["DTSTART"].dt)
    elif name.startswith("override"):
        check(f"{name}: one UID, one SEQUENCE", len(set(uids)) == 1 and
              len({int(e["SEQUENCE"]) for e in evs}) == 1, str(uids))
        check(f"{name}: the series as first sent", len(masters) == 1 and
              ("RRULE:FREQ=DAILY;COUNT=3" in u if name != "override_rdate"
               else "RDATE;TZID=Europe/Berlin:20270308T100000,20270320T100000" in u))
        check(f"{name}: overrides carry no RRULE/RDATE",
              all("RRULE" not in e and "RDATE" not in e for e in evs if "RECURRENCE-ID" in e))
    else:
        check(f"{name}: METHOD:PUBLISH, calendar name, refresh", str(cal["METHOD"]) == "PUBLISH" and
              str(cal["X-WR-CALNAME"]) == "Riverbend Practice" and
              "\r\nREFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n" in u and "\r\nX-PUBLISHED-TTL:PT1H\r\n" in u)
        check(f"{name}: {len(want)} VEVENT(s), distinct UIDs", len(evs) == len(want) and
              len(set(uids)) == len(uids), str(uids))
        check(f"{name}: no ATTENDEE, no ORGANIZER", "ATTENDEE" not in u and "ORGANIZER" not in u)
        check(f"{name}: CLASS:PRIVATE on each", all(str(e.get("CLASS")) == "PRIVATE" for e in evs))
        for e in evs:
            transp = "TRANSPARENT" if str(e["STATUS"]) == "CANCELLED" else "OPAQUE"
            check(f"{name}: {e['UID']} TRANSP:{transp}", str(e["TRANSP"]) == transp)


def check_multi(prog):
    names = subprocess.run([prog, "--list-multi"], check=True, capture_output=True, text=True).stdout.split()
    check("multi sample list matches EXPECT_MULTI", sorted(names) == sorted(EXPECT_MULTI), str(names))
    for name in names:
        if name in EXPECT_MULTI:
            check_multi_sample(prog, name)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    prog = sys.argv[1]
    names = subprocess.run([prog, "--list"], check=True, capture_output=True, text=True).stdout.split()
    check("sample list matches EXPECT", sorted(names) == sorted(EXPECT), str(names))
    if recurring_ical_events is None:
        print("note: python3-recurring-ical-events missing, expansion checks skipped")
    if vobject is None:
        print("note: python3-vobject missing, vobject checks skipped")
    samples = []
    for name in names:
        if name not in EXPECT:
            continue
        zone, raw = EXPECT[name]
        want = [(z(a), z(b), c, d) for a, b, c, d in raw]
        data = subprocess.run([prog, name], check=True, capture_output=True).stdout
        check_lines(name, data)
        text = data.decode("utf-8")
        cal = icalendar.Calendar.from_ical(text)
        evs = cal.walk("VEVENT")
        check(f"{name}: one VEVENT", len(evs) == 1)
        tzids = re.findall(r"TZID=([^:;]*)", unfold(text))
        check(f"{name}: every TZID= is {zone}", all(t == zone for t in tzids), str(tzids))
        check_vtimezone(name, cal, zone, want)
        if recurring_ical_events is not None:
            check_occurrences(name, cal, zone, want, "by IANA name")
            new = "X-Tandem-Test-" + name
            cal2 = icalendar.Calendar.from_ical(renamed(text, zone, new))
            check_occurrences(name, cal2, zone, want, "by our VTIMEZONE")
        if vobject is not None:
            check_vobject(name, renamed(text, zone, "X-Tandem-Vobject-" + name), want)
        method, status = ITIP.get(name, ("REQUEST", "CONFIRMED"))
        samples.append(ics_readers.Sample(name, text, zone, [(w[0], w[1]) for w in want],
                                          method, status,
                                          renamed(text, zone, "X-Tandem-Reader-" + name)))
        specific(name, text, cal)
    check_multi(prog)
    ics_readers.check_samples(samples, check)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
