#!/usr/bin/python3
"""Writes a large, realistic iCalendar file for timing cal_import.

Usage: /usr/bin/python3 tests/bench/gen_ics.py [--events N] [--series M]
           [--seed S] [--year Y] [--out FILE]

N events in all (default 10000), M of them recurring series (default 200):
weekly (some on several weekdays, some every other week) and daily ones,
with COUNT or UNTIL or endless, EXDATEs, moved and cancelled overrides
(RECURRENCE-ID), in a few zones: IANA names with a VTIMEZONE, a Windows
name without one, UTC and floating times, and all-day events. Some series
began years before Y, so an importer must not walk them from their start.
The rest are single events spread over Y (default 2025) +- a year; a few are
TRANSPARENT or CANCELLED. Lines are folded at 75 octets and end in CRLF.
Deterministic for a given seed. Standard library only.

Times avoid 00:00-03:00 local, so that no instance falls into a
daylight-saving gap or fold (where readers legitimately differ).

Time it with:  build/calimport_dump --time 5 --from 2025-01-01T00:00:00Z \\
               --to 2026-01-01T00:00:00Z FILE > /dev/null
"""
import argparse
import datetime as dt
import random
import sys

VTIMEZONES = {
    "America/Chicago": """BEGIN:VTIMEZONE
TZID:America/Chicago
BEGIN:DAYLIGHT
TZOFFSETFROM:-0600
TZOFFSETTO:-0500
TZNAME:CDT
DTSTART:19700308T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:-0500
TZOFFSETTO:-0600
TZNAME:CST
DTSTART:19701101T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
END:VTIMEZONE""",
    "America/New_York": """BEGIN:VTIMEZONE
TZID:America/New_York
BEGIN:DAYLIGHT
TZOFFSETFROM:-0500
TZOFFSETTO:-0400
TZNAME:EDT
DTSTART:19700308T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:-0400
TZOFFSETTO:-0500
TZNAME:EST
DTSTART:19701101T020000
RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU
END:STANDARD
END:VTIMEZONE""",
    "Europe/Berlin": """BEGIN:VTIMEZONE
TZID:Europe/Berlin
BEGIN:DAYLIGHT
TZOFFSETFROM:+0100
TZOFFSETTO:+0200
TZNAME:CEST
DTSTART:19700329T020000
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU
END:DAYLIGHT
BEGIN:STANDARD
TZOFFSETFROM:+0200
TZOFFSETTO:+0100
TZNAME:CET
DTSTART:19701025T030000
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU
END:STANDARD
END:VTIMEZONE""",
    "Asia/Kolkata": """BEGIN:VTIMEZONE
TZID:Asia/Kolkata
BEGIN:STANDARD
TZOFFSETFROM:+0530
TZOFFSETTO:+0530
TZNAME:IST
DTSTART:19700101T000000
END:STANDARD
END:VTIMEZONE""",
}
# (TZID or None for floating or "Z" for UTC, relative weight)
ZONES = [("America/Chicago", 5), ("America/New_York", 2), ("Europe/Berlin", 2),
         ("Asia/Kolkata", 1), ("Eastern Standard Time", 1), ("Z", 1), (None, 1)]
DAYS = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]


def fold(line):
    """RFC 5545 folding at 75 octets (ASCII content only here)."""
    out = []
    while len(line) > 75:
        out.append(line[:75])
        line = " " + line[75:]
    out.append(line)
    return "\r\n".join(out)


def fmt_local(t):
    return t.strftime("%Y%m%dT%H%M%S")


def prop(name, t, zone):
    """NAME;TZID=…:value for a naive local datetime t in zone."""
    if zone is None:
        return "%s:%s" % (name, fmt_local(t))
    if zone == "Z":
        return "%s:%sZ" % (name, fmt_local(t))
    return "%s;TZID=%s:%s" % (name, zone, fmt_local(t))


def pick_zone(rng):
    total = sum(w for _, w in ZONES)
    x = rng.uniform(0, total)
    for z, w in ZONES:
        x -= w
        if x <= 0:
            return z
    return ZONES[0][0]


def local_time(rng, day):
    return dt.datetime.combine(day, dt.time(rng.randint(7, 19), rng.choice([0, 15, 30, 45])))


def single(rng, uid, year):
    lines = ["BEGIN:VEVENT", "UID:%s" % uid, "DTSTAMP:%d0101T000000Z" % year,
             "SUMMARY:Appointment %s" % uid.split("@")[0]]
    day = dt.date(year, 1, 1) + dt.timedelta(days=rng.randint(-365, 730))
    if rng.random() < 0.08:
        n = rng.choice([1, 1, 1, 2, 3])
        lines += ["DTSTART;VALUE=DATE:%s" % day.strftime("%Y%m%d"),
                  "DTEND;VALUE=DATE:%s" % (day + dt.timedelta(days=n)).strftime("%Y%m%d")]
    else:
        zone = pick_zone(rng)
        start = local_time(rng, day)
        lines.append(prop("DTSTART", start, zone))
        if rng.random() < 0.2:
            lines.append("DURATION:PT%dM" % rng.choice([30, 45, 50, 60, 90]))
        else:
            lines.append(prop("DTEND", start + dt.timedelta(minutes=rng.choice([30, 50, 60, 120])), zone))
    r = rng.random()
    if r < 0.04:
        lines.append("TRANSP:TRANSPARENT")
    elif r < 0.07:
        lines.append("STATUS:CANCELLED")
    else:
        lines.append("TRANSP:OPAQUE")
    lines.append("DESCRIPTION:" + "Notes for this appointment\\, kept long enough to fold. " * rng.randint(0, 3))
    lines.append("END:VEVENT")
    return lines


def series(rng, uid, year):
    """A master and its overrides."""
    zone = pick_zone(rng)
    began = year - rng.choice([0, 0, 1, 3, 8])
    first_day = dt.date(began, 1, 1) + dt.timedelta(days=rng.randint(0, 300))
    start = local_time(rng, first_day)
    minutes = rng.choice([30, 50, 60, 90])
    weekly = rng.random() < 0.75
    if weekly:
        interval = rng.choice([1, 1, 1, 2])
        byday = sorted(set([DAYS[first_day.weekday()]] + rng.sample(DAYS[:5], rng.choice([0, 0, 1, 2]))),
                       key=DAYS.index)
        rule = "FREQ=WEEKLY;INTERVAL=%d;BYDAY=%s" % (interval, ",".join(byday))
        step = dt.timedelta(days=7 * interval)
        days_of_week = [DAYS.index(d) for d in byday]
    else:
        interval = rng.choice([1, 1, 2, 3])
        rule = "FREQ=DAILY;INTERVAL=%d" % interval
        step = dt.timedelta(days=interval)
        days_of_week = None
    end = rng.random()
    if end < 0.3:
        rule += ";COUNT=%d" % rng.randint(5, 400)
    elif end < 0.6:
        until = dt.datetime(year, 1, 1) + dt.timedelta(days=rng.randint(-200, 500))
        until = max(until, start + dt.timedelta(days=rng.randint(7, 60)))  # after DTSTART
        rule += ";UNTIL=%s" % until.strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VEVENT", "UID:%s" % uid, "DTSTAMP:%d0101T000000Z" % year,
             "SUMMARY:Series %s" % uid.split("@")[0], prop("DTSTART", start, zone),
             prop("DTEND", start + dt.timedelta(minutes=minutes), zone), "RRULE:" + rule]

    # Instances near the year of interest, for EXDATEs and overrides: the
    # pattern's days from DTSTART on (the same local time each).
    def instances():
        t, n = start, 0
        while t.year <= year + 1 and n < 5000:
            if days_of_week is None:
                yield t
            else:
                week = t - dt.timedelta(days=t.weekday())
                for d in days_of_week:
                    c = week + dt.timedelta(days=d)
                    if c >= start:
                        yield c
            t += step
            n += 1
    near = [t for t in instances() if t.year == year]
    overrides = []
    if near:
        for t in rng.sample(near, min(len(near), rng.choice([0, 1, 2, 4]))):
            lines.append(prop("EXDATE", t, zone))
        for t in rng.sample(near, min(len(near), rng.choice([0, 0, 1, 2, 3]))):
            o = ["BEGIN:VEVENT", "UID:%s" % uid, "DTSTAMP:%d0101T000000Z" % year,
                 prop("RECURRENCE-ID", t, zone), "SEQUENCE:1"]
            if rng.random() < 0.3:
                o.append("STATUS:CANCELLED")
                o += [prop("DTSTART", t, zone), prop("DTEND", t + dt.timedelta(minutes=minutes), zone)]
            else:
                moved = t + dt.timedelta(hours=rng.choice([-3, -1, 1, 2, 4]))
                o += [prop("DTSTART", moved, zone), prop("DTEND", moved + dt.timedelta(minutes=minutes), zone)]
            o.append("SUMMARY:Moved")
            o.append("END:VEVENT")
            overrides.append(o)
    if rng.random() < 0.05:
        lines.append("TRANSP:TRANSPARENT")
    lines.append("END:VEVENT")
    return [lines] + overrides


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=10000)
    ap.add_argument("--series", type=int, default=200)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--year", type=int, default=2025)
    ap.add_argument("--out", default="-")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    out = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Tandem//gen_ics.py//EN", "CALSCALE:GREGORIAN"]
    for name in sorted(VTIMEZONES):
        out += VTIMEZONES[name].split("\n")
    components = []
    for i in range(a.series):
        components += series(rng, "s%d@gen.example" % i, a.year)
    for i in range(max(0, a.events - a.series)):
        components.append(single(rng, "e%d@gen.example" % i, a.year))
    rng.shuffle(components)
    for c in components:
        out += c
    out.append("END:VCALENDAR")
    text = "".join(fold(l) + "\r\n" for l in out)
    if a.out == "-":
        sys.stdout.write(text)
    else:
        with open(a.out, "w", newline="") as f:
            f.write(text)


if __name__ == "__main__":
    main()
