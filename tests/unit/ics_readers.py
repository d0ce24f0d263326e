"""More independent readers of Tandem's sample invites, for ics_check.py.

Each sample is read by four more implementations than the Python ones in
ics_check.py, and what each one places is compared with the sample's
expected UTC instants:

  ical.js 2.2.1   (Thunderbird's parser, npm)   TZIDs renamed: our VTIMEZONE only
  node-ical 0.26.1 (npm)                        TZIDs as written: Intl's zone data
  khal 0.10.5     (Debian)                      both; listed in Asia/Kathmandu
  calcurse 4.7.1  (Debian)                      TZIDs as written: the system's zoneinfo

The npm packages come from tests/ics/node_modules (`make
tests/ics/node_modules`, pinned by tests/ics/package-lock.json; set
ICS_READERS_NODE_MODULES to use another directory). khal and calcurse are in
the Makefile's DEB_PACKAGES. A reader that is missing is a failure, not a
skip.

What a reader cannot represent is asserted as what it does, never skipped;
each rule below is derived from the sample's own text, so a new sample needs
no reader-specific expectations:

- ical.js: its iterator never yields DTSTART for an event that has RDATE but
  no RRULE (kewisch/ical.js#534; Thunderbird iterates RDATEs itself). Its
  occurrences must be the expected ones less that DTSTART, and its own
  DTSTART/DTEND of such an event must be that missing instance.
- node-ical: keeps RDATE as unparsed text and never expands it; it cannot
  read VTIMEZONE (an unknown TZID falls back to UTC), so it gets the IANA
  names. Its occurrences must equal the expansion of the sample with RDATE
  removed (by python3-recurring-ical-events), and the RDATE values it kept
  must be counted right.
- khal: expands RRULE/RDATE on naive wall times and puts them back with
  pytz's localize(is_dst=False), so an instance whose wall time occurs twice
  (the fall-back hour) lands on the second, standard-time pass, an hour late
  (khal/icalendar.py expand()). DTSTART itself and RECURRENCE-ID instances
  are not re-localised. Expected: the sample's instants with that shift.
  METHOD is ignored: a CANCEL is imported as an event with STATUS:CANCELLED.
- calcurse: has no time zones of its own and no STATUS, RDATE or
  RECURRENCE-ID. It converts DTSTART/DTEND with TZID through the system
  zoneinfo (a renamed TZID would be wrong, so it gets the IANA names) and
  repeats an RRULE by the wall clock of the user's zone (TZ). With TZ = the
  event's zone its appointments must equal the expansion of the sample with
  RDATE removed and every RECURRENCE-ID instance made a separate
  appointment (the master keeps the original instance). With TZ =
  Asia/Kathmandu only each event's first instance is compared (a DAILY
  series across the event zone's DST change keeps Kathmandu's wall clock),
  and the count of instances must be the same. METHOD and STATUS are
  ignored: a CANCEL is imported as an ordinary appointment. The import must
  report "0 skipped" and one appointment per VEVENT. calcurse stores local
  wall times: an appointment that ends in the repeated hour of a fall-back
  change before the wall time it started at (01:30 CDT to 01:20 CST) is
  imported with "0 skipped" but makes the data file unreadable ("date error
  in appointment"), which is asserted for such a sample. A single
  appointment is listed on each day it overlaps.
- Statuses: ical.js, node-ical and khal report each occurrence's STATUS,
  compared with the sample's. METHOD is read by ical.js and node-ical.

Where a reader's expectation differs from the hand-written instants, it is
the hand-written list changed only by the difference between two
expansions of the sample by python3-recurring-ical-events (as written, and
as the reader understands it): a sample with a wrong instant still fails in
every reader.

Every child process runs without a terminal, with its own HOME and XDG dirs
in a temporary directory, LC_ALL=C.UTF-8 and a timeout.
"""
import collections
import dataclasses
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import tempfile
import traceback
import zoneinfo

import icalendar

try:
    import recurring_ical_events
except ImportError:  # python3-recurring-ical-events not installed
    recurring_ical_events = None

UTC = dt.timezone.utc
HERE = os.path.dirname(os.path.abspath(__file__))
NODE_MODULES = os.environ.get("ICS_READERS_NODE_MODULES",
                              os.path.join(HERE, "..", "ics", "node_modules"))
NODE_SCRIPT = os.path.join(HERE, "ics_readers_node.mjs")
# Where khal and calcurse show the times: +05:45 all year, no sample's zone.
DISPLAY = "Asia/Kathmandu"
TIMEOUT = 60  # seconds, for every child process
MARGIN = dt.timedelta(days=3)


@dataclasses.dataclass
class Sample:
    """One calendar and what it means.

    want: every occurrence as (UTC start, UTC end), aware datetimes, sorted.
    status: the STATUS of every occurrence, or a list in the order of want.
    renamed: the text with its TZIDs renamed so that only our VTIMEZONE can
    place it (ics_check.renamed()).
    """
    name: str
    text: str
    zone: str
    want: list
    method: str
    status: object
    renamed: str

    def statuses(self):
        if isinstance(self.status, str):
            return [self.status] * len(self.want)
        return list(self.status)

    def window(self):
        return min(a for a, _ in self.want) - MARGIN, max(b for _, b in self.want) + MARGIN


def _iso(t):
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _z(s):
    return dt.datetime.fromisoformat(s.replace("Z", "+00:00")).astimezone(UTC)


def _fmt(occ):
    return "[" + ", ".join(" ".join(_iso(x)[5:16] if isinstance(x, dt.datetime) else str(x)
                                    for x in o) for o in occ) + "]"


def _env(home, tz):
    os.makedirs(home, exist_ok=True)
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": home,
        "TMPDIR": home,  # calcurse writes its import log there
        "XDG_CONFIG_HOME": os.path.join(home, "config"),
        "XDG_DATA_HOME": os.path.join(home, "data"),
        "XDG_CACHE_HOME": os.path.join(home, "cache"),
        "LC_ALL": "C.UTF-8",
        "LANG": "C.UTF-8",
        "TZ": tz,
        "TERM": "dumb",
        "CI": "true",
    }


def _run(argv, env, stdin=None):
    """(returncode, stdout, stderr); returncode None on a timeout. Without
    stdin text the child reads /dev/null: nothing may wait for a terminal."""
    feed = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
    try:
        r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=TIMEOUT, **feed)
    except subprocess.TimeoutExpired:
        return None, "", f"timed out after {TIMEOUT}s"
    return r.returncode, r.stdout, r.stderr


# ---------------------------------------------------------------- the sample's own view

def _masters(text):
    """(uid, DTSTART, DTEND or None, has RRULE, has RDATE, has
    RECURRENCE-ID, TZID of DTSTART or None) of every VEVENT, as
    python3-icalendar reads them."""
    out = []
    for ev in icalendar.Calendar.from_ical(text).walk("VEVENT"):
        s = ev["DTSTART"]
        e = ev.get("DTEND")
        out.append((str(ev["UID"]), s.dt.astimezone(UTC),
                    e.dt.astimezone(UTC) if e is not None else None,
                    "RRULE" in ev, "RDATE" in ev, "RECURRENCE-ID" in ev,
                    s.params.get("TZID")))
    return out


def _expand(text, lo, hi, drop_rdate=False, detach_overrides=False):
    """The sample's occurrences as python3-recurring-ical-events expands
    them, after removing what a reader does not read: sorted (start, end,
    status, uid, TZID of its DTSTART or None, how) with how "dtstart" (the
    event's own DTSTART), "override" (a RECURRENCE-ID component) or
    "instance" (made by RRULE or RDATE)."""
    cal = icalendar.Calendar.from_ical(text)
    starts = {}
    for ev in cal.walk("VEVENT"):
        if drop_rdate and "RDATE" in ev:
            del ev["RDATE"]
        if detach_overrides and "RECURRENCE-ID" in ev:
            rid = ev["RECURRENCE-ID"].dt
            del ev["RECURRENCE-ID"]
            ev["UID"] = f"{ev['UID']}/override-{rid.isoformat()}"
        if "RECURRENCE-ID" not in ev:
            starts[str(ev["UID"])] = (ev["DTSTART"].dt, ev["DTSTART"].params.get("TZID"))
    out = []
    for e in recurring_ical_events.of(cal).between(lo, hi):
        uid = str(e["UID"])
        start, tzid = starts.get(uid, (None, None))
        how = ("override" if "RECURRENCE-ID" in e else
               "dtstart" if e["DTSTART"].dt == start else "instance")
        out.append((e["DTSTART"].dt.astimezone(UTC), e["DTEND"].dt.astimezone(UTC),
                    str(e.get("STATUS", "")), uid, tzid, how))
    return sorted(out)


def _expected(s, view):
    """What a reader should show: the sample's expected occurrences (want,
    with their STATUS) changed only where view, the sample's own expansion
    as that reader understands it, differs from the full expansion of the
    sample. So a wrong sample still fails against the hand-written
    instants. Returns sorted (start, end, status) and (removed, added)."""
    lo, hi = s.window()
    full = collections.Counter((a, b) for a, b, *_ in _expand(s.text, lo, hi))
    seen = collections.Counter((a, b) for a, b, *_ in view)
    removed, added = full - seen, seen - full
    out = []
    drop = removed.copy()
    for (a, b), st in zip(s.want, s.statuses()):
        if drop[(a, b)] > 0:
            drop[(a, b)] -= 1
        else:
            out.append((a, b, st))
    put = added.copy()
    for a, b, st, *_ in view:
        if put[(a, b)] > 0:
            put[(a, b)] -= 1
            out.append((a, b, st))
    return sorted(out), (sum(removed.values()), sum(added.values()))


def _zone(tzid):
    try:
        return zoneinfo.ZoneInfo(tzid)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        return None


def _days(start, end, zone):
    """The local dates an occurrence is shown on: those it overlaps."""
    z = zoneinfo.ZoneInfo(zone)
    a = start.astimezone(z).date()
    b = (end - dt.timedelta(seconds=1)).astimezone(z).date()
    return (b - a).days + 1


# ---------------------------------------------------------------- ical.js, node-ical

def _node(samples, check):
    if shutil.which("node") is None:
        check("node installed", False, "node not found")
        return None
    for mod in ("ical.js", "node-ical"):
        ok = os.path.isdir(os.path.join(NODE_MODULES, mod))
        check(f"{mod} installed in {os.path.relpath(NODE_MODULES)}", ok,
              "run `make tests/ics/node_modules`")
        if not ok:
            return None
    job = []
    for s in samples:
        lo, hi = s.window()
        job.append({"name": s.name, "icaljs": s.renamed, "nodeical": s.text,
                    "from": _iso(lo), "to": _iso(hi)})
    home = tempfile.mkdtemp(prefix="ics-readers-node-")
    try:
        rc, out, err = _run(["node", NODE_SCRIPT, NODE_MODULES], _env(home, "UTC"),
                            json.dumps(job))
    finally:
        shutil.rmtree(home, ignore_errors=True)
    check("node readers ran", rc == 0, f"status {rc}: {err.strip()[-500:]}")
    if rc != 0:
        return None
    return json.loads(out)


def _check_common(s, reader, res, check):
    """Parsed without error or warning, and METHOD. True if usable."""
    ok = "error" not in res
    check(f"{s.name}: {reader}: parses", ok, res.get("error", ""))
    if not ok:
        return False
    check(f"{s.name}: {reader}: no warnings", not res["warnings"], str(res["warnings"][:3]))
    check(f"{s.name}: {reader}: METHOD:{s.method}", res["method"] == s.method, str(res["method"]))
    return True


def check_icaljs(s, res, check):
    if not _check_common(s, "ical.js", res, check):
        return
    got = sorted((_z(a), _z(b), st) for a, b, _uid, st, _rid in res["occurrences"])
    missing = []  # DTSTART instances of RDATE-only events (ical.js#534)
    for uid, (a, b) in res["rdate_only"].items():
        m = [(ms, me) for u, ms, me, rr, rd, rid, _ in _masters(s.text)
             if u == uid and rd and not rr and not rid]
        check(f"{s.name}: ical.js: DTSTART/DTEND of RDATE-only {uid}", m == [(_z(a), _z(b))],
              f"ical.js {a}..{b}, icalendar {_fmt(m)}")
        missing.append((_z(a), _z(b)))
    want = sorted((a, b, st) for (a, b), st in zip(s.want, s.statuses()) if (a, b) not in missing)
    check(f"{s.name}: ical.js: occurrences (our VTIMEZONE)"
          + (" less DTSTART of an RDATE-only event" if missing else ""),
          got == want, f"got {_fmt(got)}, want {_fmt(want)}")


def check_nodeical(s, res, check):
    if not _check_common(s, "node-ical", res, check):
        return
    got = sorted((_z(a), _z(b), st) for a, b, _uid, st, _rid in res["occurrences"])
    lo, hi = s.window()
    want, _ = _expected(s, _expand(s.text, lo, hi, drop_rdate=True))
    rdates = 0
    for ev in icalendar.Calendar.from_ical(s.text).walk("VEVENT"):
        r = ev.get("RDATE", [])
        rdates += sum(len(x.dts) for x in (r if isinstance(r, list) else [r]))
    check(f"{s.name}: node-ical: occurrences (IANA TZID" + (", RDATE ignored)" if rdates else ")"),
          got == want, f"got {_fmt(got)}, want {_fmt(want)}")
    check(f"{s.name}: node-ical: RDATE values kept as text", sum(res["rdates"].values()) == rdates,
          f"{res['rdates']} vs {rdates}")


# ---------------------------------------------------------------- khal

KHAL_CONFIG = """\
[calendars]
[[iana]]
path = {dir}/iana
type = calendar
[[ours]]
path = {dir}/ours
type = calendar
[sqlite]
path = {dir}/khal.db
[locale]
timeformat = %H:%M
dateformat = %Y-%m-%d
longdateformat = %Y-%m-%d
datetimeformat = %Y-%m-%dT%H:%M
longdatetimeformat = %Y-%m-%dT%H:%M
local_timezone = {zone}
default_timezone = {zone}
[default]
default_calendar = iana
"""


def khal_expected(s):
    """The sample's instants as khal places them: an RRULE/RDATE instance
    whose wall time in its event's zone occurs twice goes to the later,
    standard-time pass (pytz localize(is_dst=False)); DTSTART and
    RECURRENCE-ID instances keep theirs. Returns what _expected() does."""
    lo, hi = s.window()
    view = []
    for a, b, st, _uid, tzid, how in _expand(s.text, lo, hi):
        z = _zone(tzid) if how == "instance" and tzid else None
        if z is not None:
            wall = a.astimezone(z).replace(tzinfo=None)
            first = wall.replace(tzinfo=z, fold=0)
            second = wall.replace(tzinfo=z, fold=1)
            if first.utcoffset() > second.utcoffset():  # a repeated hour, not a gap
                shift = first.utcoffset() - second.utcoffset()
                a, b = a + shift, b + shift
        view.append((a, b, st))
    return _expected(s, view)


def check_khal(s, check):
    if shutil.which("khal") is None:
        check(f"{s.name}: khal installed", False, "khal not found (Debian package khal)")
        return
    with tempfile.TemporaryDirectory(prefix="ics-readers-khal-") as d:
        for c in ("iana", "ours"):
            os.makedirs(os.path.join(d, c))
        conf = os.path.join(d, "khal.conf")
        with open(conf, "w", encoding="utf-8") as f:
            f.write(KHAL_CONFIG.format(dir=d, zone=DISPLAY))
        env = _env(os.path.join(d, "home"), DISPLAY)
        files = {"iana": s.text, "ours": s.renamed}
        for cal, text in files.items():
            path = os.path.join(d, f"{cal}.ics")
            with open(path, "w", encoding="utf-8", newline="") as f:
                f.write(text)
            rc, out, err = _run(["khal", "-c", conf, "import", "-a", cal, "--batch", path], env)
            check(f"{s.name}: khal: import ({cal}) clean", rc == 0 and not err.strip() and not out.strip(),
                  f"status {rc}: {(out + err).strip()[-400:]}")
            uids = {m[0] for m in _masters(text)}
            stored = os.listdir(os.path.join(d, cal))
            check(f"{s.name}: khal: {len(uids)} item(s) stored ({cal})", len(stored) == len(uids),
                  str(stored))
        lo, hi = s.window()
        z = zoneinfo.ZoneInfo(DISPLAY)
        first = lo.astimezone(z).date()
        ndays = (hi.astimezone(z).date() - first).days + 1
        rc, out, err = _run(["khal", "-c", conf, "list", "-a", "iana", "-a", "ours", "--day-format", "",
                             "--format", "{calendar}|{start-full}|{end-full}|{status}|{uid}",
                             first.isoformat(), f"{ndays}d"], env)
        check(f"{s.name}: khal: list runs", rc == 0 and not err.strip(),
              f"status {rc}: {err.strip()[-400:]}")
        seen = {c: collections.Counter() for c in files}
        bad = []
        for line in out.splitlines():
            if not line.strip():
                continue
            f = line.split("|")
            if len(f) != 5 or f[0] not in seen:
                bad.append(line)
                continue
            try:
                a, b = (dt.datetime.strptime(x, "%Y-%m-%dT%H:%M").replace(tzinfo=z).astimezone(UTC)
                        for x in f[1:3])
            except ValueError:
                bad.append(line)
                continue
            seen[f[0]][(a, b, f[3].strip())] += 1
        check(f"{s.name}: khal: list output readable", not bad, str(bad[:2]))
        want, (moved, _) = khal_expected(s)
        for cal, how in (("iana", "IANA TZID"), ("ours", "our VTIMEZONE")):
            got = sorted(seen[cal])
            check(f"{s.name}: khal: {DISPLAY} times, {how}"
                  + (f" ({moved} in a repeated hour: second pass)" if moved else ""),
                  got == want, f"got {_fmt(got)}, want {_fmt(want)}")
            days = {k: n for k, n in seen[cal].items() if n != _days(k[0], k[1], DISPLAY)}
            check(f"{s.name}: khal: shown on the days it spans ({cal})", not days, str(days))


# ---------------------------------------------------------------- calcurse

CALCURSE_FMT = "|%(start:%Y-%m-%dT%H:%M)|%(end:%Y-%m-%dT%H:%M)|%s|%e\\n"


def _wall_backwards(occ, zone):
    """Occurrences whose local end is not after their local start (they end
    in the repeated hour of a fall-back change)."""
    z = zoneinfo.ZoneInfo(zone)
    return [(a, b) for a, b in occ
            if b.astimezone(z).replace(tzinfo=None) <= a.astimezone(z).replace(tzinfo=None)]


def _calcurse(s, zone, d, check, label, unreadable=()):
    """Imports the sample with TZ=zone; returns {(start, end): days listed},
    or None when calcurse could not read back what it stored: it keeps local
    wall times, so an appointment listed in unreadable, which ends "before"
    it starts on the wall clock, makes its data file unreadable ("date error
    in appointment") - asserted here."""
    data = os.path.join(d, label)
    os.makedirs(data)
    path = os.path.join(d, "sample.ics")
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(s.text)
    env = _env(os.path.join(d, "home"), zone)
    rc, out, err = _run(["calcurse", "-D", data, "-i", path], env)
    m = re.search(r"^(\d+) apps? / (\d+) events? / (\d+) todos? / (\d+) skipped$", out, re.M)
    n = len(_masters(s.text))
    check(f"{s.name}: calcurse TZ={label}: imports {n} appointment(s), 0 skipped",
          rc == 0 and m is not None and m.groups() == (str(n), "0", "0", "0"),
          f"status {rc}: {(out + err).strip()[-400:]}")
    lo, hi = s.window()
    z = zoneinfo.ZoneInfo(zone)
    first = lo.astimezone(z).date()
    ndays = (hi.astimezone(z).date() - first).days + 1
    rc, out, err = _run(["calcurse", "-D", data, "-Q", "--input-datefmt", "4",
                         "--output-datefmt", "D %Y-%m-%d", "--from", first.isoformat(),
                         "--days", str(ndays), "--format-apt", "A" + CALCURSE_FMT,
                         "--format-recur-apt", "R" + CALCURSE_FMT,
                         "--format-event", "E|%m\\n", "--format-recur-event", "E|%m\\n"], env)
    if unreadable:
        check(f"{s.name}: calcurse TZ={label}: cannot store {_fmt(unreadable)} in local wall time",
              rc == 1 and "date error in appointment" in err and not out.strip(),
              f"status {rc}: {(out + err).strip()[-400:]}")
        return None
    check(f"{s.name}: calcurse TZ={label}: query runs", rc == 0 and not err.strip(),
          f"status {rc}: {err.strip()[-400:]}")
    lines = collections.Counter()  # (start, end, "A" single or "R" repeated): lines
    bad = []
    for line in out.splitlines():
        if not line.strip() or re.fullmatch(r"D \d{4}-\d\d-\d\d:", line):
            continue
        f = line.split("|")
        if len(f) != 5 or f[0] not in ("A", "R"):
            bad.append(line)
            continue
        a, b = (dt.datetime.fromtimestamp(int(x), UTC) for x in f[3:5])
        if [t.astimezone(z).strftime("%Y-%m-%dT%H:%M") for t in (a, b)] != f[1:3]:
            bad.append(line + " (shown times are not the instants in " + zone + ")")
        lines[(a, b, f[0])] += 1
    check(f"{s.name}: calcurse TZ={label}: query output readable", not bad, str(bad[:2]))
    # A single appointment is listed on every day it overlaps. A repeated
    # one is listed once a day at most, and not always on the day after for
    # an instance that runs past midnight: each distinct instant counts once.
    seen = collections.Counter()
    days = {}
    for (a, b, kind), n in lines.items():
        per = _days(a, b, zone) if kind == "A" else n
        if n % per:
            days[(_iso(a), _iso(b))] = n
        seen[(a, b)] += n // per
    check(f"{s.name}: calcurse TZ={label}: single appointments shown on the days they span",
          not days, str(days))
    return seen


def check_calcurse(s, check):
    if shutil.which("calcurse") is None:
        check(f"{s.name}: calcurse installed", False, "calcurse not found (Debian package calcurse)")
        return
    lo, hi = s.window()
    with tempfile.TemporaryDirectory(prefix="ics-readers-calcurse-") as d:
        view = _expand(s.text, lo, hi, drop_rdate=True, detach_overrides=True)
        want, (lost, extra) = _expected(s, view)
        want = [(a, b) for a, b, _ in want]
        seen = _calcurse(s, s.zone, d, check, s.zone, _wall_backwards(want, s.zone))
        if seen is not None:
            got = sorted(seen.elements())
            note = ", ".join(x for x in (f"{lost} instance(s) lost" if lost else "",
                                         f"{extra} extra" if extra else "") if x)
            check(f"{s.name}: calcurse TZ={s.zone}: instants" + (f" ({note})" if note else ""),
                  got == want, f"got {_fmt(got)}, want {_fmt(want)}")
        away = _calcurse(s, DISPLAY, d, check, DISPLAY, _wall_backwards(want, DISPLAY))
        if away is None:
            return
        firsts = sorted((ms, me) for _u, ms, me, *_ in _masters(s.text))
        check(f"{s.name}: calcurse TZ={DISPLAY}: first instant of each event",
              all(f in away for f in firsts), f"got {_fmt(sorted(away.elements()))}, want {_fmt(firsts)} among them")
        check(f"{s.name}: calcurse TZ={DISPLAY}: {len(want)} instance(s)", sum(away.values()) == len(want),
              _fmt(sorted(away.elements())))


# ---------------------------------------------------------------- all

def check_samples(samples, check):
    """Runs every reader over every sample; check(name, ok, detail) counts."""
    if recurring_ical_events is None:
        check("python3-recurring-ical-events installed (needed by ics_readers)", False)
        return
    node = _node(samples, check)
    for s in samples:
        readers = [("khal", check_khal, ()), ("calcurse", check_calcurse, ())]
        if node is not None:
            readers[:0] = [("ical.js", check_icaljs, (node[s.name]["icaljs"],)),
                           ("node-ical", check_nodeical, (node[s.name]["nodeical"],))]
        for reader, fn, args in readers:
            try:
                fn(s, *args, check)
            except Exception:  # noqa: BLE001 - a checker bug is one failure, not the end
                check(f"{s.name}: {reader}: checker ran", False,
                      traceback.format_exc().strip().splitlines()[-1])
