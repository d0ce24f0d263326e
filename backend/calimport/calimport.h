/*
 * calimport.h — busy time from an iCalendar file (RFC 5545): the pure part
 * of importing a clinician's other calendars (SPEC §1 "External calendar",
 * §4 "Imports").
 *
 * cal_import reads a whole .ics file (an upload or a fetched subscription)
 * and returns the busy intervals of its events that overlap a window, as
 * UTC instants. No database, no HTTP, no clock: the caller stores the
 * result (calendar sources, refresh job).
 *
 * What counts as busy:
 *  - VEVENTs only (VTODO, VJOURNAL, VALARM and unknown components are
 *    skipped); VFREEBUSY FREEBUSY periods of type BUSY, BUSY-UNAVAILABLE
 *    and BUSY-TENTATIVE too.
 *  - Not STATUS:CANCELLED, not TRANSP:TRANSPARENT (both counted). A
 *    TENTATIVE event is busy.
 *  - Length: DTEND (a DATE DTEND equal to DTSTART: one day), else
 *    DURATION, else (RFC 5545 3.6.1) one day for a
 *    DATE start and zero for a DATE-TIME start. Zero-length events are not
 *    busy (a point in time blocks nothing). An end before the start is a
 *    warning and the event is ignored.
 *  - Recurrence: RRULE (every FREQ, COUNT, UNTIL, BYxxx as libical
 *    expands them; several RRULEs are united), RDATE (DATE-TIME, DATE,
 *    PERIOD), EXDATE (lists, several properties). DTSTART is always the
 *    first instance. An EXDATE or RECURRENCE-ID that is a DATE matches an
 *    instance of a timed series on that date (in the series' own zone).
 *    RSCALE (non-Gregorian) rules are not expanded (a warning).
 *    An instance keeps the length of the first one: exact seconds from
 *    DTEND, nominal days plus exact time from DURATION (RFC 5545 3.8.5.3),
 *    whole local days for all-day events.
 *  - RECURRENCE-ID overrides (same UID, same VCALENDAR) replace the
 *    instance they name, wherever they move it; a cancelled or transparent
 *    override removes it. The override with the highest SEQUENCE wins a
 *    tie. An override whose series is missing is an event of its own.
 *    RANGE=THISANDFUTURE is read as a change of one instance (a warning).
 *  - Times: a DATE value and a floating DATE-TIME are local times in
 *    opts->zone (the clinician's). TZID=X uses, in order: the VTIMEZONE X
 *    of the same VCALENDAR (read by libical), X as an IANA zone of
 *    core/tz (a "/freeassociation.sourceforge.net/" or any leading "/…/"
 *    prefix is stripped), X as a Windows zone name (cal_windows_zone),
 *    else opts->zone with a warning. Every instance is converted on its own
 *    from local time, so a weekly 09:00 stays at 09:00 across DST. A local
 *    time in a spring-forward gap uses the offset before the change, one
 *    in a fall-back fold the earlier instant (as core/tz).
 *
 * The text is read by our own line scanner (BOM, CRLF, LF or CR line ends,
 * folding, blank lines, several VCALENDARs, line numbers for errors), which
 * parses the values we need itself and strictly. libical 3.0.16 does what
 * it is good at: RRULE parsing and expansion (icalrecur_iterator, run on
 * the local DTSTART; UNTIL is applied by us, because libical compares a
 * floating time with a UTC UNTIL as if both were UTC) and VTIMEZONE
 * interpretation (each VCALENDAR's VTIMEZONEs go through icalparser; ones
 * with X-LIC-ERROR properties or outside the shapes real zones have — only
 * FREQ=YEARLY rules, offsets under 24 h, at most 300 STANDARD/DAYLIGHT
 * parts — are ignored with a warning). libical's builtin zones are never
 * used. Every libical object is freed before cal_import returns.
 *
 * Bounds: the input size (opts->max_bytes), busy intervals returned
 * (opts->max_instances) and recurrence work: a budget of
 * CAL_IMPORT_STEPS_PER_INSTANCE * max_instances steps (at least
 * CAL_IMPORT_MIN_STEPS), past which the import fails with ERR_TOO_LARGE.
 * A step is a candidate instance (an RRULE iterator result, an RDATE, a
 * DTSTART), a second, minute, hour or day (by the rule's frequency) that
 * libical's iterator walks between instances, or a year of a VTIMEZONE
 * rule libical expands. Series are not walked from a DTSTART far in the
 * past: rules without COUNT start from a DTSTART shifted by a whole number
 * of periods to just before the window; only rules with COUNT are walked
 * from DTSTART, and libical's walk stops at a synthetic UNTIL at the
 * window's end (or where the budget ends). Rules that can never match
 * ("BYDAY=-6FR", "BYMONTH=4;BYMONTHDAY=31"), for which libical would
 * search up to the year 2582, are recognised first and give only DTSTART
 * (a warning). A 10,000-event file with 200 series uses about 90,000
 * steps; the worst files we could make take about 6 µs of CPU per step
 * (6 s for 1,000,000 steps, i.e. max_instances 200,000).
 *
 * Thread safety: libical 3.0.16 keeps process-wide state (lazily built UTC
 * zone, time zone expansion years, error state), so every cal_import call
 * holds one process-wide mutex while it uses libical; calls from several
 * threads are safe and run one after another. Other code that uses libical
 * must take the same lock (cal_libical_lock/unlock).
 */
#ifndef TANDEM_CALIMPORT_CALIMPORT_H
#define TANDEM_CALIMPORT_CALIMPORT_H

#include "core/arena.h"
#include "core/common.h"

/* Recurrence work allowed per returned interval (see above). */
#define CAL_IMPORT_STEPS_PER_INSTANCE 5
#define CAL_IMPORT_MIN_STEPS          100000

/* One busy interval: UTC Unix seconds, half-open, end > start. */
struct cal_busy {
	int64_t start; /* inclusive */
	int64_t end;   /* exclusive */
};

struct cal_import_opts {
	const char *zone;     /* the clinician's IANA zone: DATE values and floating times are placed in it */
	int64_t from;         /* window start, UTC seconds: only instances overlapping [from, to) */
	int64_t to;           /* window end (exclusive); 0 <= from < to <= year 9999 */
	size_t max_bytes;     /* larger input is refused (ERR_TOO_LARGE), e.g. 10 MiB */
	size_t max_instances; /* more busy intervals than this is ERR_TOO_LARGE, e.g. 200000 */
};

struct cal_import_result {
	struct cal_busy *busy;    /* in the arena; sorted by start then end, not merged; NULL when none */
	size_t nbusy;             /* entries in busy */
	int nevents;              /* VEVENT components read (series, overrides, single events) */
	int nskipped_transparent; /* of them TRANSP:TRANSPARENT (and not cancelled): not busy */
	int ncancelled;           /* of them STATUS:CANCELLED: not busy */
	char warning[256];        /* the first warning, "" when none */
	int nwarnings;            /* how many warnings there were */
	size_t nsteps;            /* recurrence work done, of the budget (see above) */
};

/*
 * Reads data (len bytes, need not be NUL-terminated) and fills *r (always
 * zeroed first). Intervals are exact per instance and not clipped to the
 * window; an event overlapping the window is returned whole.
 *
 * Returns 0, or:
 *  ERR_MALFORMED  not an iCalendar file, a truncated one, mismatched
 *                 BEGIN/END, a NUL byte, a bad value in a property we need
 *                 (DTSTART, DTEND, DURATION, RRULE, RDATE, EXDATE,
 *                 RECURRENCE-ID), a VEVENT without DTSTART;
 *  ERR_TOO_LARGE  more than opts->max_bytes, more than max_instances
 *                 intervals, or the recurrence step budget exhausted;
 *  ERR_INVALID    bad opts (unknown zone, empty or out-of-range window,
 *                 zero limits);
 *  ERR_IO         opts->zone could not be read from the zone files.
 * On error err gets a sentence for the user ("line 12: bad DTSTART
 * \"2024-13-01\"", "truncated: BEGIN:VEVENT on line 40 never ends"); it
 * never holds more of the file than a short sanitised value. r->busy is
 * NULL and r->nbusy 0 on error.
 */
int cal_import(struct arena *a, const char *data, size_t len, const struct cal_import_opts *o,
               struct cal_import_result *r, char *err, size_t errlen);

/* Sorts b[0..n) by start and merges overlapping or touching intervals in
 * place; returns the new count. */
size_t cal_busy_merge(struct cal_busy *b, size_t n);

/* The IANA zone for a Windows time zone name ("W. Europe Standard Time" →
 * "Europe/Berlin"), from CLDR's windowsZones.xml (territory 001); NULL when
 * unknown. Case-insensitive. A static string. */
const char *cal_windows_zone(const char *name);

/* The process-wide lock around libical (see above). */
void cal_libical_lock(void);
void cal_libical_unlock(void);

#endif
