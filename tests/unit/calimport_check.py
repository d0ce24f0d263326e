#!/usr/bin/python3
"""Compares cal_import with an independent expansion of the same files.

Usage: /usr/bin/python3 tests/unit/calimport_check.py PATH/TO/calimport_dump

For every .ics file under tests/fixtures/ical/ (ical.js's samples and ours),
in two clinician zones, the busy intervals printed by calimport_dump
(tests/unit/calimport_dump.c) over a fixed window are compared, exactly and
as sorted lists (duplicates count), with what python3-icalendar (4.0.3)
and python3-recurring-ical-events (2.0.1; RRULE through dateutil) expand
from the same file under the same rules:

  - STATUS:CANCELLED and TRANSP:TRANSPARENT events are not busy; neither
    are zero-length ones; a DATE start without DTEND or DURATION lasts a
    day (RFC 5545 3.6.1; recurring-ical-events makes it zero-length), and
    so does a DATE DTEND equal to DTSTART;
  - DATE values and floating times are local times in the clinician's
    zone; TZIDs nobody knows are read in it too;
  - an EXDATE that is a DATE removes a timed instance on that date;
  - a RECURRENCE-ID override applies to its series even when it comes in
    another VCALENDAR of the same file;
  - "/freeassociation.sourceforge.net/"-style TZID prefixes are stripped;
  - a local time in a fold is the earlier instant, one in a gap uses the
    offset before the change (pytz's localize picks the later instant in a
    fold, so times from pytz zones are re-read with zoneinfo).

Where recurring-ical-events cannot read a file or gets it wrong, HAND below
says why and gives the intervals computed by hand (plain date arithmetic
and zoneinfo, no iCalendar library). Nothing is skipped: every file is
compared with one or the other.

Prints "N passed, M failed"; exits 1 on any failure.
"""
import datetime as dt
import json
import os
import re
import subprocess
import sys
import zoneinfo

import icalendar
import recurring_ical_events
from icalendar.timezone_cache import _timezone_cache

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "fixtures", "ical")
FROM, TO = "2012-01-01T00:00:00Z", "2026-01-01T00:00:00Z"
ZONES = ["America/Chicago", "Asia/Kolkata"]
UTC = dt.timezone.utc
IANA = zoneinfo.available_timezones()
CHI = "America/Chicago"
LA = zoneinfo.ZoneInfo("America/Los_Angeles")


def ts(s):
    return int(dt.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())


T_FROM, T_TO = ts(FROM), ts(TO)


def at(zone, y, mo, d, h=0, mi=0):
    """A wall-clock time in zone (fold=0: the earlier instant) as Unix seconds."""
    z = zone if isinstance(zone, dt.tzinfo) else zoneinfo.ZoneInfo(zone)
    return int(dt.datetime(y, mo, d, h, mi, tzinfo=z).timestamp())


def utc(y, mo, d, h=0, mi=0):
    return int(dt.datetime(y, mo, d, h, mi, tzinfo=UTC).timestamp())


def in_window(iv):
    return sorted((s, e) for s, e in iv if e > s and s < T_TO and e > T_FROM)


# ------------------------------------------------------------ hand-computed

def hand_multiple_rrules(zone):
    # Two RRULEs (RFC 2445 allowed several; RFC 5545 deprecates it):
    # weekly from Mon 2012-03-26 and every Sunday (MONTHLY;BYDAY=SU), both
    # UNTIL 2012-07-30T06:59:59Z (= 23:59:59 PDT on Sun 29 July), 11:00-11:30
    # Los Angeles time.
    out = []
    d = dt.date(2012, 3, 26)
    while d <= dt.date(2012, 7, 29):
        if d.weekday() in (0, 6):  # Monday, Sunday
            s = at(LA, d.year, d.month, d.day, 11)
            out.append((s, s + 1800))
        d += dt.timedelta(days=1)
    return out


def hand_google_birthday(zone):
    # Master (UID 2014_BIRTHDAY…): DATE 2014-12-10, RRULE COUNT=1, RDATEs
    # "20131210Z" and "20121210Z" (a date with a stray Z: read as a date).
    # Three overrides carry another UID, so they are events of their own
    # on the same dates. All-day in the clinician's zone: each date twice.
    out = []
    for y in (2012, 2013, 2014):
        out += [(at(zone, y, 12, 10), at(zone, y, 12, 11))] * 2
    return out


def first_weekday(y, m, weekday):
    d = dt.date(y, m, 1)
    return d + dt.timedelta(days=(weekday - d.weekday()) % 7)


def hand_recur_instances(zone):
    # Master: MONTHLY;BYDAY=1TU from Tue 2012-10-02 10:00 LA, 30 min,
    # endless; RDATEs 2012-11-05, 2012-11-10, 2012-11-30 10:00 LA,
    # 2023-11-23T09:00Z and the PERIOD 2023-11-25T09:00Z/12:30Z; EXDATEs
    # 2012-12-04, 2013-02-05, 2013-04-02 10:00 LA. Overrides: 2012-10-02
    # moved to 15:00-15:30; the RDATE of 2012-11-05 (RECURRENCE-ID
    # 20121105T180000Z = 10:00 PST) moved to 2012-11-06 20:00-20:30 LA.
    out = []
    y, m = 2012, 10
    while (y, m) < (2026, 1):
        d = first_weekday(y, m, 1)  # Tuesday
        if d not in (dt.date(2012, 12, 4), dt.date(2013, 2, 5), dt.date(2013, 4, 2), dt.date(2012, 10, 2)):
            s = at(LA, d.year, d.month, d.day, 10)
            out.append((s, s + 1800))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    for d in (dt.date(2012, 11, 10), dt.date(2012, 11, 30)):
        s = at(LA, d.year, d.month, d.day, 10)
        out.append((s, s + 1800))
    out.append((utc(2023, 11, 23, 9), utc(2023, 11, 23, 9, 30)))
    out.append((utc(2023, 11, 25, 9), utc(2023, 11, 25, 12, 30)))
    out.append((at(LA, 2012, 10, 2, 15), at(LA, 2012, 10, 2, 15, 30)))
    out.append((at(LA, 2012, 11, 6, 20), at(LA, 2012, 11, 6, 20, 30)))
    return out


def hand_makebelieve(zone):
    # tandem/makebelieve.ics: events in ical.js's "Makebelieve" zones,
    # whose VTIMEZONEs icalendar 4.0.3 cannot convert. Offsets read by
    # hand from the VTIMEZONEs (each part's TZOFFSETTO applies from its
    # DTSTART/RDATE on):
    #  RDATE_as_date: -05 from 1970, -04 from 1975-01-01 02:00, -05 from
    #    1980-01-01, -04 from 1985-01-01, -05 from 1990-01-01T07:00Z,
    #    -04 from 1995-01-01T07:00Z: so -04 ever since.
    #  RRULE_UNTIL: -05 every 5 years 1970-1980, -04 every 5 years
    #    1975-1985: -04 ever since 1985.
    #  RDATE_as_date_utc: as RDATE_as_date (its parts start in UTC).
    #  Nowhere/Middle (timezone_from_file.ics): a fixed -07:41.
    return [
        (utc(2024, 3, 1, 13), utc(2024, 3, 1, 14)),        # 09:00-10:00 at -04
        (utc(2024, 3, 2, 13), utc(2024, 3, 2, 14)),        # RRULE_UNTIL, same offset
        (utc(2024, 3, 3, 16, 41), utc(2024, 3, 3, 17, 41)),  # 09:00 at -07:41
        (utc(2024, 3, 4, 16, 41), utc(2024, 3, 4, 17, 41)),  # DAILY;COUNT=2
        (utc(2024, 3, 5, 13), utc(2024, 3, 5, 14)),        # RDATE_as_date_utc: -04 too
    ]


HAND = {
    "icaljs-samples/multiple_rrules.ics": (
        "recurring-ical-events 2.0.1 refuses several distinct RRULEs (ValueError)",
        hand_multiple_rrules),
    "icaljs-samples/google_birthday.ics": (
        "icalendar 4.0.3 cannot parse RDATE:20131210Z (a date with a Z) and recurring-ical-events then "
        "fails (AttributeError)", hand_google_birthday),
    "icaljs-samples/recur_instances.ics": (
        "recurring-ical-events 2.0.1 cannot compare an RDATE PERIOD with datetimes (TypeError)",
        hand_recur_instances),
    "tandem/makebelieve.ics": (
        "icalendar 4.0.3 cannot convert VTIMEZONEs whose parts start in UTC or have DATE RDATEs "
        "(TypeError), so these custom zones are checked by hand", hand_makebelieve),
}
# ical.js's zone-only files: no events, but icalendar cannot even parse the
# VTIMEZONE (same reason as makebelieve.ics). Expected: nothing busy.
for name in ("RDATE_test.ics", "RDATE_utc_test.ics", "RRULE_UNTIL_test.ics"):
    HAND["icaljs-samples/timezones/Makebelieve/" + name] = (
        "icalendar 4.0.3 cannot convert this VTIMEZONE (TypeError); the file has no events", lambda zone: [])


# ------------------------------------------------------------ the reference

PREFIX = re.compile(r"(TZID[=:])\"?(/[^:;\r\n\"]*)\"?")


def strip_prefix(m):
    """"/freeassociation.sourceforge.net/Europe/Berlin" → "Europe/Berlin"."""
    name = m.group(2)
    parts = name.split("/")
    for i in range(1, len(parts)):
        cand = "/".join(parts[i:])
        if cand in IANA:
            return m.group(1) + cand
    return m.group(0)


def to_utc(start, end, zone):
    """(start, end) of one instance → Unix seconds, by our rules."""
    tz = zoneinfo.ZoneInfo(zone)
    if not isinstance(start, dt.datetime):
        if not isinstance(end, dt.datetime) and end == start:
            end = start + dt.timedelta(days=1)  # RFC 5545: a DATE start lasts a day
        s = dt.datetime(start.year, start.month, start.day, tzinfo=tz)
        if isinstance(end, dt.datetime):
            return int(s.timestamp()), to_utc(end, end, zone)[0]
        return int(s.timestamp()), int(dt.datetime(end.year, end.month, end.day, tzinfo=tz).timestamp())
    if start.tzinfo is None:
        e = end if isinstance(end, dt.datetime) else dt.datetime(end.year, end.month, end.day)
        return int(start.replace(tzinfo=tz).timestamp()), int(e.replace(tzinfo=tz).timestamp())
    name = getattr(start.tzinfo, "zone", None)
    if name in IANA:  # pytz: re-read the wall clock with zoneinfo (fold=0)
        s = int(start.replace(tzinfo=None).replace(tzinfo=zoneinfo.ZoneInfo(name)).timestamp())
        return s, s + int((end - start).total_seconds())
    return int(start.timestamp()), int(end.timestamp())


def date_exdates(ev):
    out = set()
    ex = ev.get("EXDATE")
    for e in (ex if isinstance(ex, list) else [ex] if ex is not None else []):
        for v in e.dts:
            if not isinstance(v.dt, dt.datetime):
                out.add(v.dt)
    return out


def reference(path, zone):
    raw = open(path, "rb").read()
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    text = PREFIX.sub(strip_prefix, raw.decode("utf-8"))
    # UIDs are matched across the VCALENDARs of one file (concatenated
    # invites): read them as one. (icalendar resolves every TZID while
    # parsing, with the VTIMEZONEs seen so far.)
    text = re.sub(r"\r?\nEND:VCALENDAR\r?\n(\r?\n)*BEGIN:VCALENDAR\r?\n", "\n", text)
    _timezone_cache.clear()
    cals = icalendar.Calendar.from_ical(text, multiple=True)
    lo = dt.datetime.fromisoformat(FROM[:-1]) - dt.timedelta(days=3)
    hi = dt.datetime.fromisoformat(TO[:-1]) + dt.timedelta(days=3)
    out = []
    for cal in cals:
        unfolded = recurring_ical_events.UnfoldableCalendar(cal, keep_recurrence_attributes=True)
        for ev in unfolded.between(lo, hi):
            if str(ev.get("STATUS", "")).upper() == "CANCELLED":
                continue
            if str(ev.get("TRANSP", "")).upper() == "TRANSPARENT":
                continue
            start, end = ev["DTSTART"].dt, ev["DTEND"].dt
            if isinstance(start, dt.datetime) and "RECURRENCE-ID" not in ev:
                local_day = start.date()
                if local_day in date_exdates(ev):
                    continue
            out.append(to_utc(start, end, zone))
    return in_window(out)


def ours(dump, path, zone):
    p = subprocess.run([dump, "--zone", zone, "--from", FROM, "--to", TO, path],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("calimport_dump failed: %s %s" % (p.stdout.strip(), p.stderr.strip()))
    d = json.loads(p.stdout)
    return sorted(tuple(x) for x in d["busy"])


def show(t):
    return dt.datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%MZ")


def diff(a, b):
    """The first few differences of two sorted interval lists."""
    sa, sb = set(a), set(b)
    only_a = sorted(sa - sb)[:3]
    only_b = sorted(sb - sa)[:3]
    parts = []
    if only_a:
        parts.append("only ours: " + ", ".join("%s-%s" % (show(s), show(e)) for s, e in only_a))
    if only_b:
        parts.append("only expected: " + ", ".join("%s-%s" % (show(s), show(e)) for s, e in only_b))
    if not parts:
        parts.append("same intervals, different counts (%d vs %d)" % (len(a), len(b)))
    return "; ".join(parts)


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    dump = sys.argv[1]
    files = []
    for d, _, names in os.walk(FIXTURES):
        files += [os.path.join(d, n) for n in names if n.endswith(".ics")]
    files.sort()
    passed = failed = 0
    for path in files:
        rel = os.path.relpath(path, FIXTURES)
        for zone in ZONES:
            label = "%s [%s]" % (rel, zone)
            try:
                got = ours(dump, path, zone)
                if rel in HAND:
                    reason, fn = HAND[rel]
                    want = in_window(fn(zone))
                    how = "by hand: " + reason
                else:
                    want = reference(path, zone)
                    how = "recurring-ical-events"
            except Exception as e:  # a broken reader is a failure, never a skip
                print("FAIL %s: %s: %s" % (label, type(e).__name__, e))
                failed += 1
                continue
            if got == want:
                print("ok   %s: %d intervals (%s)" % (label, len(got), how))
                passed += 1
            else:
                print("FAIL %s (%s): %d intervals, expected %d; %s" % (label, how, len(got), len(want),
                                                                     diff(got, want)))
                failed += 1
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
