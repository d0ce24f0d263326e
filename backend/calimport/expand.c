/*
 * expand.c — the events of one VCALENDAR → busy intervals: time zones,
 * lengths, recurrence (RRULE through libical, RDATE, EXDATE), overrides.
 *
 * A series is expanded in its own wall-clock time ("frame": the zone of
 * DTSTART, the clinician's for DATE and floating values, UTC for "Z"), and
 * every instance is converted to UTC on its own. The recurrence set of a
 * series is gathered as candidates, sorted and made unique (RFC 5545: a
 * set), then EXDATEs and overridden instances are taken out.
 */
#include <libical/ical.h>

#include "calimport/calimport.h"
#include "calimport/calimport_int.h"
#include "core/tz.h"

#define SLACK             (2 * CAL_DAY) /* more than any UTC offset we accept */
#define MIN_TZ_YEAR       1600          /* VTIMEZONE offsets before this year repeat it */
#define UNSURE_RULE_STEPS 30000         /* a YEARLY rule rule_possible cannot judge */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* ---------------------------------------------------------------- budget and output */

int cal_charge(struct importer *im, size_t n)
{
	if (n > im->max_steps - im->steps) {
		im->steps = im->max_steps;
		return cal_fail(im, ERR_TOO_LARGE,
		                "the recurrences and time zones in this file need too much work to expand "
		                "(over %zu steps)",
		                im->max_steps);
	}
	im->steps += n;
	return 0;
}

static int charge(struct importer *im, size_t n)
{
	return cal_charge(im, n);
}

/* One busy interval, when it is one and overlaps the window. */
static int push(struct importer *im, int64_t s, int64_t e)
{
	if (e <= s || s >= im->o->to || e <= im->o->from)
		return 0;
	if (im->nout >= im->o->max_instances)
		return cal_fail(im, ERR_TOO_LARGE, "more than %zu busy times in the import window",
		                im->o->max_instances);
	if (im->nout == im->capout) {
		im->capout = im->capout ? im->capout * 2 : 256;
		im->out = xrealloc(im->out, im->capout * sizeof(*im->out));
	}
	im->out[im->nout].start = s;
	im->out[im->nout].end = e;
	im->nout++;
	return 0;
}

static void add_cand(struct importer *im, int64_t s, int64_t e, int64_t local)
{
	if (im->ncand == im->capcand) {
		im->capcand = im->capcand ? im->capcand * 2 : 64;
		im->cand = xrealloc(im->cand, im->capcand * sizeof(*im->cand));
	}
	im->cand[im->ncand++] = (struct cand){s, e, local};
}

/* ---------------------------------------------------------------- clocks */

/* Where a wall-clock value is read: UTC (both NULL), a core/tz zone or a
 * VTIMEZONE of the file. */
struct clock {
	const struct tz *tz;
	icaltimezone *ical;
};

/* The UTC offset of a VTIMEZONE at instant t. Years after clamp_year (the
 * window's last year + 1) use clamp_year's rules and years before 1600 use
 * 1600's, so libical never expands a zone further than the window needs,
 * whatever years the file names. */
static int32_t ical_offset(struct importer *im, icaltimezone *z, int64_t t)
{
	int64_t days = floor_div(t, CAL_DAY);
	int64_t sod = t - days * CAL_DAY;
	int y, m, d;
	tz_civil_from_days(days, &y, &m, &d);
	if (y > im->clamp_year || y < MIN_TZ_YEAR) {
		y = y < MIN_TZ_YEAR ? MIN_TZ_YEAR : im->clamp_year;
		if (!tz_valid_date(y, m, d))
			d = 28;
	}
	struct icaltimetype tt = icaltime_null_time();
	tt.year = y;
	tt.month = m;
	tt.day = d;
	tt.hour = (int)(sod / 3600);
	tt.minute = (int)(sod / 60 % 60);
	tt.second = (int)(sod % 60);
	int dst = 0;
	return (int32_t)icaltimezone_get_utc_offset_of_utc_time(z, &tt, &dst);
}

/* Wall clock → instant. VTIMEZONEs follow core/tz's rules: in a gap the
 * offset before the change, in a fold the earlier instant. */
static int64_t clock_to_utc(struct importer *im, const struct clock *c, int64_t local)
{
	if (c->tz)
		return tz_local_to_utc(c->tz, local, NULL);
	if (!c->ical)
		return local;
	int32_t oa = ical_offset(im, c->ical, local - CAL_DAY);
	int32_t ob = ical_offset(im, c->ical, local + CAL_DAY);
	int64_t ta = local - oa, tb = local - ob;
	bool va = ical_offset(im, c->ical, ta) == oa;
	bool vb = ob != oa && ical_offset(im, c->ical, tb) == ob;
	if (va && vb)
		return ta < tb ? ta : tb;
	if (vb)
		return tb;
	return ta; /* valid, or in a gap: the offset before */
}

static int64_t clock_to_local(struct importer *im, const struct clock *c, int64_t t)
{
	if (c->tz)
		return tz_utc_to_local(c->tz, t);
	if (!c->ical)
		return t;
	return t + ical_offset(im, c->ical, t);
}

/* An IANA name, also behind a "/freeassociation.sourceforge.net/" or
 * other "/vendor/" prefix: the suffixes of up to three components are
 * tried (IANA names have at most three). */
static bool iana_zone(const char *name, const struct tz **out)
{
	if (tz_get(name, out) == 0)
		return true;
	if (name[0] != '/' && !strstr(name, "sourceforge.net/"))
		return false;
	size_t n = strlen(name), at[3], k = 0;
	for (size_t i = n; i-- > 0 && k < 3;)
		if (name[i] == '/')
			at[k++] = i + 1;
	while (k-- > 0) /* the longest first */
		if (at[k] < n && tz_get(name + at[k], out) == 0)
			return true;
	return false;
}

static void resolve(struct importer *im, struct zone *z)
{
	if (z->resolved)
		return;
	z->resolved = true;
	if (z->has_vtz && !z->vtz_bad && z->cal && z->cal->ical) {
		z->ical = icalcomponent_get_timezone(z->cal->ical, z->tzid);
		if (z->ical)
			return;
	}
	if (iana_zone(z->tzid, &z->tz))
		return;
	const char *w = cal_windows_zone(z->tzid);
	if (w && tz_get(w, &z->tz) == 0)
		return;
	z->tz = im->clin;
	char q[48];
	cal_quote(q, sizeof(q), z->tzid, strlen(z->tzid));
	cal_warn(im, "line %d: unknown time zone \"%s\"; its times are read as %s time", z->line, q,
	         im->o->zone);
}

static struct clock clock_of(struct importer *im, const struct tval *v)
{
	switch (v->kind) {
	case TV_UTC: return (struct clock){NULL, NULL};
	case TV_ZONED: resolve(im, v->zone); return (struct clock){v->zone->tz, v->zone->ical};
	default: return (struct clock){im->clin, NULL};
	}
}

static int64_t tval_utc(struct importer *im, const struct tval *v)
{
	struct clock c = clock_of(im, v);
	return clock_to_utc(im, &c, v->local);
}

/* The end of an instance starting at wall clock local (instant s) in
 * clock c: nominal days in local time, then exact seconds. */
static int64_t inst_end(struct importer *im, const struct clock *c, int64_t local, int64_t s,
                        const struct dur *len)
{
	if (len->days)
		return clock_to_utc(im, c, local + len->days * CAL_DAY) + len->secs;
	return s + len->secs;
}

/* How long ev's instances are; false when they are not busy (zero
 * length, or an end before the start: a warning). */
static bool event_len(struct importer *im, const struct event *ev, struct dur *len)
{
	const struct tval *s = &ev->start;
	int line = ev->start_line;
	if (ev->has_end) {
		line = ev->end_line;
		if (s->kind == TV_DATE && ev->end.kind == TV_DATE) {
			/* DTEND = DTSTART is not allowed for dates; writers
			 * mean the day (as without DTEND). */
			len->days = (ev->end.local - s->local) / CAL_DAY;
			if (len->days == 0)
				len->days = 1;
			len->secs = 0;
		} else {
			len->days = 0;
			len->secs = tval_utc(im, &ev->end) - tval_utc(im, s);
		}
	} else if (ev->has_dur) {
		line = ev->dur_line;
		*len = ev->dur;
	} else {
		len->days = s->kind == TV_DATE ? 1 : 0;
		len->secs = 0;
	}
	struct clock c = clock_of(im, s);
	int64_t st = clock_to_utc(im, &c, s->local);
	int64_t en = inst_end(im, &c, s->local, st, len);
	if (en < st)
		cal_warn(im, "line %d: the event ends before it starts; ignored", line);
	return en > st;
}

/* ---------------------------------------------------------------- RRULE */

static struct icaltimetype to_ical(int64_t local, bool date)
{
	int64_t days = floor_div(local, CAL_DAY);
	int64_t sod = local - days * CAL_DAY;
	int y, m, d;
	tz_civil_from_days(days, &y, &m, &d);
	struct icaltimetype t = icaltime_null_time();
	t.year = y;
	t.month = m;
	t.day = d;
	if (date) {
		t.is_date = 1;
	} else {
		t.hour = (int)(sod / 3600);
		t.minute = (int)(sod / 60 % 60);
		t.second = (int)(sod % 60);
	}
	return t;
}

static int64_t from_ical(struct icaltimetype t)
{
	int64_t v = tz_days_from_civil(t.year, t.month, t.day) * CAL_DAY;
	if (!t.is_date)
		v += t.hour * 3600 + t.minute * 60 + t.second;
	return v;
}

/*
 * A DTSTART for the iterator a whole number of periods after s0 and at
 * least one period before lo, so that a series that began long ago is not
 * walked from its start: every instance at or after the new start is one
 * of the original series, and the first period (which libical may cut at
 * the new start) lies entirely before the window. The parts libical
 * derives from DTSTART stay the same: time of day always, weekday for
 * WEEKLY (whole weeks), day of month for MONTHLY and month and day for
 * YEARLY (kept; periods where that date does not exist are skipped).
 * YEARLY with BYWEEKNO derives a weekday and is walked from s0. (libical's
 * icalrecur_iterator_set_start gets HOURLY intervals wrong and can run for
 * a long time on rules that never match, so it is not used.)
 */
static int64_t shifted_start(const struct icalrecurrencetype *rt, int64_t s0, int64_t lo)
{
	if (s0 >= lo)
		return s0;
	int64_t iv = rt->interval > 0 ? rt->interval : 1, p = 0;
	switch (rt->freq) {
	case ICAL_SECONDLY_RECURRENCE: p = iv; break;
	case ICAL_MINUTELY_RECURRENCE: p = 60 * iv; break;
	case ICAL_HOURLY_RECURRENCE: p = 3600 * iv; break;
	case ICAL_DAILY_RECURRENCE: p = CAL_DAY * iv; break;
	case ICAL_WEEKLY_RECURRENCE: p = 7 * CAL_DAY * iv; break;
	default: break;
	}
	if (p) {
		int64_t k = (lo - s0) / p - 1;
		return k >= 1 ? s0 + k * p : s0;
	}
	int64_t days = floor_div(s0, CAL_DAY), sod = s0 - days * CAL_DAY;
	int y, m, d, ly, lm, ld;
	tz_civil_from_days(days, &y, &m, &d);
	tz_civil_from_days(floor_div(lo, CAL_DAY), &ly, &lm, &ld);
	if (rt->freq == ICAL_MONTHLY_RECURRENCE) {
		int64_t m0 = (int64_t)y * 12 + (m - 1), ml = (int64_t)ly * 12 + (lm - 1);
		int64_t k = (ml - m0) / iv - 1;
		for (int64_t j = k; j >= 1 && j > k - 24; j--) {
			int64_t mt = m0 + j * iv;
			int ty = (int)floor_div(mt, 12), tm = (int)(mt - floor_div(mt, 12) * 12) + 1;
			if (tz_valid_date(ty, tm, d))
				return tz_days_from_civil(ty, tm, d) * CAL_DAY + sod;
		}
	} else if (rt->freq == ICAL_YEARLY_RECURRENCE && rt->by_week_no[0] == ICAL_RECURRENCE_ARRAY_MAX) {
		int64_t k = (ly - y) / iv - 1;
		for (int64_t j = k; j >= 1 && j > k - 8; j--) {
			int ty = (int)(y + j * iv);
			if (tz_valid_date(ty, m, d))
				return tz_days_from_civil(ty, m, d) * CAL_DAY + sod;
		}
	}
	return s0;
}

static int by_count(const short *a, int size)
{
	int n = 0;
	while (n < size && a[n] != ICAL_RECURRENCE_ARRAY_MAX)
		n++;
	return n;
}

/*
 * The most days the BYMONTHDAY and BYDAY parts can pick in month m (1..12)
 * of any year, over every month length and weekday of the 1st that month
 * can have; dtday is DTSTART's day, used when neither part is given.
 */
static int month_days(const struct icalrecurrencetype *rt, int m, int dtday)
{
	static const int len31[13] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int nmd = by_count(rt->by_month_day, ICAL_BY_MONTHDAY_SIZE);
	int nd = by_count(rt->by_day, ICAL_BY_DAY_SIZE);
	/* Below MONTHLY every day of the month is a candidate; from MONTHLY
	 * up, DTSTART's day when no day part is given. */
	bool every = rt->freq < ICAL_MONTHLY_RECURRENCE;
	int best = 0;
	for (int len = len31[m]; len <= (m == 2 ? 29 : len31[m]); len++) {
		for (int w = 0; w < 7; w++) { /* weekday of the 1st, 0 = Sunday */
			bool in[32] = {false};
			for (int d = 1; d <= len; d++)
				in[d] = nmd == 0 && (every || nd > 0 || d == dtday);
			for (int i = 0; i < nmd; i++) {
				int v = rt->by_month_day[i], d = v > 0 ? v : len + 1 + v;
				if (d >= 1 && d <= len)
					in[d] = true;
			}
			if (nd > 0) {
				bool byd[32] = {false};
				for (int i = 0; i < nd; i++) {
					int wd = icalrecurrencetype_day_day_of_week(rt->by_day[i]) -
					         1; /* 0 = Sunday */
					int n = icalrecurrencetype_day_position(rt->by_day[i]);
					int first = 1 + (wd - w + 7) % 7, k = (len - first) / 7 + 1;
					for (int j = 0; j < k; j++)
						if (n == 0 || (n > 0 && n == j + 1) || (n < 0 && k + n == j))
							byd[first + 7 * j] = true;
				}
				for (int d = 1; d <= len; d++)
					in[d] = in[d] && byd[d];
			}
			int count = 0;
			for (int d = 1; d <= len; d++)
				count += in[d];
			if (count > best)
				best = count;
		}
	}
	return best;
}

/*
 * Can a rule ever give an instance? 1 yes, 0 never, -1 cannot tell
 * cheaply. libical 3.0.16 looks for the next instance of a MONTHLY or
 * YEARLY rule month by month up to the year 2582, ignoring UNTIL, which
 * takes seconds for one that never matches ("BYDAY=-6FR", "BYMONTH=4;
 * BYMONTHDAY=31"); below MONTHLY its walk is bounded by our synthetic
 * UNTIL but still costs a step per day. A rule that can match finds one
 * within decades. The day parts (BYMONTH, BYMONTHDAY, BYDAY, BYSETPOS
 * against the most days and times a month can have) are checked against
 * every month shape; YEARLY without BYMONTH, or with BYWEEKNO or
 * BYYEARDAY, is -1.
 */
static int rule_possible(const struct icalrecurrencetype *rt, int dtday)
{
	bool yearly = rt->freq == ICAL_YEARLY_RECURRENCE, monthly = rt->freq == ICAL_MONTHLY_RECURRENCE;
	int nd = by_count(rt->by_day, ICAL_BY_DAY_SIZE);
	if (!yearly && !monthly)
		for (int i = 0; i < nd; i++)
			if (icalrecurrencetype_day_position(rt->by_day[i]) != 0)
				return 0; /* "the 2nd Monday" means nothing to DAILY or WEEKLY */
	if (by_count(rt->by_week_no, ICAL_BY_WEEKNO_SIZE) || by_count(rt->by_year_day, ICAL_BY_YEARDAY_SIZE))
		return yearly ? -1 : 1; /* libical refuses the others at once */
	int nm = by_count(rt->by_month, ICAL_BY_MONTH_SIZE);
	bool day_parts = by_count(rt->by_month_day, ICAL_BY_MONTHDAY_SIZE) || nd;
	if (yearly && nm == 0)
		return day_parts ? -1 : 1; /* the date of DTSTART, or libical's reading of the parts */
	int days = 0;
	for (int m = 1; m <= 12; m++) {
		bool named = nm == 0;
		for (int i = 0; i < nm; i++)
			named |= rt->by_month[i] == m;
		if (named) {
			int n = month_days(rt, m, dtday);
			days = yearly ? days + n : (n > days ? n : days);
		}
	}
	if (days == 0)
		return 0;
	int nsp = by_count(rt->by_set_pos, ICAL_BY_SETPOS_SIZE);
	if (nsp == 0 || !(yearly || monthly))
		return 1;
	int64_t size = days;
	int nh = by_count(rt->by_hour, ICAL_BY_HOUR_SIZE), nmi = by_count(rt->by_minute, ICAL_BY_MINUTE_SIZE);
	int ns = by_count(rt->by_second, ICAL_BY_SECOND_SIZE);
	size *= (nh ? nh : 1) * (int64_t)(nmi ? nmi : 1) * (ns ? ns : 1);
	for (int i = 0; i < nsp; i++) {
		int p = rt->by_set_pos[i];
		if (p != 0 && (p > 0 ? p : -p) <= size)
			return monthly ? 1 : -1;
	}
	return 0;
}

/* Is wall-clock instance local past the rule's UNTIL? */
static bool past_until(struct importer *im, const struct rrule *rr, const struct clock *fr, int64_t local,
                       bool allday)
{
	const struct tval *u = &rr->until;
	/* DATE against DATE-TIME is not allowed by RFC 5545; read as "up to
	 * and including that date" both ways, which is what writers mean. */
	if (allday || u->kind == TV_DATE)
		return floor_div(local, CAL_DAY) > floor_div(u->local, CAL_DAY);
	if (u->kind == TV_UTC)
		return clock_to_utc(im, fr, local) > u->local;
	return local > u->local; /* floating: wall clock of the series */
}

/*
 * The instances of one RRULE with a start in [lo, hi] (wall clock) as
 * candidates. libical's iterator gets the rule without UNTIL but with a
 * synthetic one at hi (or earlier, where the step budget ends): its walk
 * between instances, which our step count cannot see, stops there.
 * That walk is charged afterwards as one step per second, minute, hour
 * or day of the rule's frequency.
 */
static int expand_rrule(struct importer *im, const struct event *m, const struct rrule *rr,
                        const struct clock *fr, const struct dur *len, int64_t lo, int64_t hi)
{
	struct icalrecurrencetype rt = icalrecurrencetype_from_string(rr->text);
	icalerror_clear_errno();
	if (rt.freq == ICAL_NO_RECURRENCE)
		return 0; /* refused when read; cannot happen */
	bool negative_monthday = false;
	for (int i = 0; i < ICAL_BY_MONTHDAY_SIZE && rt.by_month_day[i] != ICAL_RECURRENCE_ARRAY_MAX; i++)
		negative_monthday |= rt.by_month_day[i] < 0;
	if (negative_monthday && rt.freq < ICAL_MONTHLY_RECURRENCE) {
		/* libical 3.0.16 never matches a negative BYMONTHDAY ("the
		 * last day") below MONTHLY. DAILY;INTERVAL=1 is the same set
		 * as MONTHLY with the same parts (every day, filtered), so
		 * read it that way; other shapes cannot be repaired. */
		if (rt.freq == ICAL_DAILY_RECURRENCE && rt.interval <= 1 &&
		    rt.by_set_pos[0] == ICAL_RECURRENCE_ARRAY_MAX &&
		    rt.by_year_day[0] == ICAL_RECURRENCE_ARRAY_MAX &&
		    rt.by_week_no[0] == ICAL_RECURRENCE_ARRAY_MAX)
			rt.freq = ICAL_MONTHLY_RECURRENCE;
		else
			cal_warn(im,
			         "line %d: libical cannot expand a negative BYMONTHDAY in this RRULE; its "
			         "instances may be missing",
			         rr->line);
	}
	int y, mo, dd;
	tz_civil_from_days(floor_div(m->start.local, CAL_DAY), &y, &mo, &dd);
	int possible = rule_possible(&rt, dd);
	if (possible == 0) {
		cal_warn(im, "line %d: RRULE never matches a date; only DTSTART and RDATE are used",
		         rr->line);
		return 0;
	}
	if (possible < 0) { /* what libical may spend searching for a first instance */
		int rc = charge(im, UNSURE_RULE_STEPS);
		if (rc)
			return rc;
	}
	bool allday = m->start.kind == TV_DATE;
	int64_t start = rr->has_count ? m->start.local : shifted_start(&rt, m->start.local, lo);
	if (start > hi)
		return 0;
	int64_t unit = rt.freq == ICAL_SECONDLY_RECURRENCE   ? 1
	               : rt.freq == ICAL_MINUTELY_RECURRENCE ? 60
	               : rt.freq == ICAL_HOURLY_RECURRENCE   ? 3600
	                                                     : CAL_DAY;
	size_t left = im->max_steps - im->steps;
	int64_t reach = (int64_t)(left > (size_t)1 << 40 ? (size_t)1 << 40 : left) * unit;
	bool capped = reach < hi - start;
	int64_t until = capped ? start + reach : hi;
	rt.until = to_ical(until, allday);
	icalrecur_iterator *it = icalrecur_iterator_new(rt, to_ical(start, allday));
	if (!it) {
		icalerror_clear_errno();
		cal_warn(
		    im,
		    "line %d: RRULE has no instances libical can compute; only DTSTART and RDATE are used",
		    rr->line);
		return 0;
	}
	int rc = 0, emitted = 0;
	int64_t last = start;
	bool ended = false;
	for (;;) {
		struct icaltimetype t = icalrecur_iterator_next(it);
		if (icaltime_is_null_time(t)) {
			ended = true;
			break;
		}
		emitted++;
		int64_t local = from_ical(t);
		last = local;
		if ((rc = charge(im, 1)) != 0)
			break;
		if (local > hi || (rr->has_until && past_until(im, rr, fr, local, allday)))
			break;
		if (local < lo)
			continue;
		int64_t s = clock_to_utc(im, fr, local);
		add_cand(im, s, inst_end(im, fr, local, s, len), local);
	}
	icalrecur_iterator_free(it);
	icalerror_clear_errno();
	if (rc)
		return rc;
	/* Ended by COUNT, libical stopped at the last instance; else at
	 * our UNTIL. */
	bool counted = rr->has_count && emitted >= rt.count;
	int64_t walked = ((ended && !counted ? until : last) - start) / unit;
	if ((rc = charge(im, walked > 0 ? (size_t)walked : 0)) != 0)
		return rc;
	if (ended && capped && !counted)
		return charge(im, im->max_steps); /* the budget ended the walk */
	return 0;
}

/* ---------------------------------------------------------------- EXDATE and overrides */

/* Instants and dates that take instances out of a series. */
struct keys {
	int64_t *utc; /* sorted */
	size_t nutc;
	int64_t *day; /* sorted local dates (days since 1970) */
	size_t nday;
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static bool has_i64(const int64_t *v, size_t n, int64_t k)
{
	return n > 0 && bsearch(&k, v, n, sizeof(*v), cmp_i64) != NULL;
}

/* A date key (DATE values) or an instant key (DATE-TIME values). */
static void key_of(struct importer *im, const struct tval *v, bool *date, int64_t *k)
{
	*date = v->kind == TV_DATE;
	*k = *date ? floor_div(v->local, CAL_DAY) : tval_utc(im, v);
}

static void keys_add(struct importer *im, struct keys *ks, const struct tval *v, size_t cap)
{
	bool date;
	int64_t k;
	key_of(im, v, &date, &k);
	if (!ks->utc) {
		ks->utc = arena_alloc(im->a, cap * sizeof(int64_t));
		ks->day = arena_alloc(im->a, cap * sizeof(int64_t));
	}
	if (date)
		ks->day[ks->nday++] = k;
	else
		ks->utc[ks->nutc++] = k;
}

static void keys_sort(struct keys *ks)
{
	if (ks->nutc)
		qsort(ks->utc, ks->nutc, sizeof(int64_t), cmp_i64);
	if (ks->nday)
		qsort(ks->day, ks->nday, sizeof(int64_t), cmp_i64);
}

static bool keys_match(const struct keys *ks, const struct cand *c)
{
	return has_i64(ks->utc, ks->nutc, c->start) ||
	       has_i64(ks->day, ks->nday, floor_div(c->local, CAL_DAY));
}

static int cmp_cand(const void *a, const void *b)
{
	const struct cand *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? 1 : x->end > y->end ? -1 : 0; /* the longest first */
}

/* A series (or a single event): every instance not excluded or
 * overridden. */
static int expand_master(struct importer *im, const struct event *m, const struct keys *ovr)
{
	if (m->cancelled || m->transparent)
		return 0;
	struct dur len;
	if (!event_len(im, m, &len))
		return 0;
	struct clock fr = clock_of(im, &m->start);
	int rc = charge(im, 1);
	if (rc)
		return rc;
	im->ncand = 0;
	int64_t s0 = m->start.local, u0 = clock_to_utc(im, &fr, s0);
	add_cand(im, u0, inst_end(im, &fr, s0, u0, &len), s0);
	if (m->rrules) {
		int64_t span = len.days * CAL_DAY + len.secs + CAL_DAY;
		int64_t lo = im->o->from - span - SLACK, hi = im->o->to + SLACK;
		for (const struct rrule *rr = m->rrules; rr; rr = rr->next)
			if ((rc = expand_rrule(im, m, rr, &fr, &len, lo, hi)) != 0)
				return rc;
	}
	for (const struct tlist *t = m->rdates; t; t = t->next) {
		if ((rc = charge(im, 1)) != 0)
			return rc;
		struct clock c = clock_of(im, &t->v);
		int64_t s = clock_to_utc(im, &c, t->v.local), e;
		if (t->pkind == PERIOD_END)
			e = tval_utc(im, &t->pend);
		else
			e = inst_end(im, &c, t->v.local, s, t->pkind == PERIOD_DUR ? &t->pdur : &len);
		int64_t local = t->v.kind == TV_DATE ? t->v.local : clock_to_local(im, &fr, s);
		add_cand(im, s, e, local);
	}
	struct keys ex = {0};
	size_t nex = 0;
	for (const struct tlist *t = m->exdates; t; t = t->next)
		nex++;
	for (const struct tlist *t = m->exdates; t; t = t->next)
		keys_add(im, &ex, &t->v, nex);
	keys_sort(&ex);
	qsort(im->cand, im->ncand, sizeof(*im->cand), cmp_cand);
	for (size_t i = 0; i < im->ncand; i++) {
		const struct cand *c = &im->cand[i];
		if (i > 0 && c->start == im->cand[i - 1].start)
			continue; /* the same instance twice (DTSTART and RDATE, two RRULEs) */
		if (keys_match(&ex, c) || keys_match(ovr, c))
			continue;
		if ((rc = push(im, c->start, c->end)) != 0)
			return rc;
	}
	return 0;
}

/* An override: its own DTSTART and length, one instance. */
static int expand_override(struct importer *im, const struct event *o)
{
	if (o->rid_future && !im->warned_future) {
		im->warned_future = true;
		cal_warn(im, "line %d: RANGE=THISANDFUTURE is read as a change of one instance", o->line);
	}
	if (o->cancelled || o->transparent)
		return 0;
	struct dur len;
	if (!event_len(im, o, &len))
		return 0;
	int rc = charge(im, 1);
	if (rc)
		return rc;
	struct clock c = clock_of(im, &o->start);
	int64_t s = clock_to_utc(im, &c, o->start.local);
	return push(im, s, inst_end(im, &c, o->start.local, s, &len));
}

struct ovr {
	bool date;
	int64_t key;
	const struct event *ev;
};

static int cmp_ovr(const void *a, const void *b)
{
	const struct ovr *x = a, *y = b;
	if (x->date != y->date)
		return x->date ? 1 : -1;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	if (x->ev->seq != y->ev->seq)
		return x->ev->seq < y->ev->seq ? -1 : 1;
	return x->ev->line < y->ev->line ? -1 : x->ev->line > y->ev->line;
}

/* Events sharing one UID (or one event without UID): the series, and the
 * overrides that replace their instances. */
static int expand_group(struct importer *im, struct event **g, size_t n)
{
	size_t nov = 0;
	for (size_t i = 0; i < n; i++)
		nov += g[i]->has_rid;
	struct keys ks = {0};
	struct ovr *ov = nov ? arena_alloc(im->a, nov * sizeof(*ov)) : NULL;
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (!g[i]->has_rid)
			continue;
		ov[k].ev = g[i];
		key_of(im, &g[i]->rid, &ov[k].date, &ov[k].key);
		keys_add(im, &ks, &g[i]->rid, nov);
		k++;
	}
	keys_sort(&ks);
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++)
		if (!g[i]->has_rid)
			rc = expand_master(im, g[i], &ks);
	if (nov > 1)
		qsort(ov, nov, sizeof(*ov), cmp_ovr);
	for (size_t i = 0; i < nov && rc == 0; i++) {
		/* Of several overrides of one instance, the highest SEQUENCE
		 * (then the last in the file) wins. */
		if (i + 1 < nov && ov[i + 1].date == ov[i].date && ov[i + 1].key == ov[i].key)
			continue;
		rc = expand_override(im, ov[i].ev);
	}
	return rc;
}

static int cmp_event_uid(const void *a, const void *b)
{
	const struct event *x = *(struct event *const *)a, *y = *(struct event *const *)b;
	if (!x->uid || !y->uid)
		return x->uid ? -1 : y->uid ? 1 : (x->line > y->line) - (x->line < y->line);
	int c = strcmp(x->uid, y->uid);
	return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* ---------------------------------------------------------------- calendars */

void cal_calendar_begin(struct importer *im)
{
	struct calstate *c = &im->cal;
	struct calrec *r = arena_zalloc(im->a, sizeof(*r));
	r->next = c->cals;
	c->cals = r;
	c->zmap = NULL;
	c->zcap = 0;
	c->zcount = 0;
	buf_reset(&c->vtz);
}

/* At END:VCALENDAR libical reads its VTIMEZONEs; one it complains about
 * (X-LIC-ERROR) is not used. */
void cal_calendar_end(struct importer *im)
{
	struct calstate *c = &im->cal;
	if (c->vtz.len == 0)
		return;
	struct buf text;
	buf_init(&text, NULL, c->vtz.len + 64);
	buf_puts(&text, "BEGIN:VCALENDAR\nVERSION:2.0\n");
	buf_append(&text, c->vtz.data, c->vtz.len);
	buf_puts(&text, "END:VCALENDAR\n");
	icalcomponent *ical = text.err ? NULL : icalparser_parse_string(buf_cstr(&text));
	icalerror_clear_errno();
	buf_release(&text);
	if (!ical) {
		cal_warn(im, "the time zones of a calendar could not be read; they are read by name instead");
		return;
	}
	c->cals->ical = ical;
	for (icalcomponent *z = icalcomponent_get_first_component(ical, ICAL_VTIMEZONE_COMPONENT); z;
	     z = icalcomponent_get_next_component(ical, ICAL_VTIMEZONE_COMPONENT)) {
		if (icalcomponent_count_errors(z) == 0)
			continue;
		icalproperty *p = icalcomponent_get_first_property(z, ICAL_TZID_PROPERTY);
		const char *tzid = p ? icalproperty_get_tzid(p) : NULL;
		if (!tzid)
			continue;
		struct zone *e = cal_intern_zone(im, tzid, strlen(tzid), 0);
		e->vtz_bad = true;
		char q[48];
		cal_quote(q, sizeof(q), tzid, strlen(tzid));
		cal_warn(im, "line %d: libical cannot read time zone \"%s\"; it is read by its name instead",
		         e->line, q);
	}
}

/* Every event of the file, grouped by UID. */
int cal_expand(struct importer *im)
{
	struct calstate *c = &im->cal;
	int rc = 0;
	if (c->nevents > 1)
		qsort(c->events, c->nevents, sizeof(*c->events), cmp_event_uid);
	for (size_t i = 0; i < c->nevents && rc == 0;) {
		size_t j = i + 1;
		if (c->events[i]->uid)
			while (j < c->nevents && c->events[j]->uid &&
			       strcmp(c->events[j]->uid, c->events[i]->uid) == 0)
				j++;
		rc = expand_group(im, c->events + i, j - i);
		i = j;
	}
	return rc;
}

void cal_release(struct importer *im)
{
	struct calstate *c = &im->cal;
	for (struct calrec *r = c->cals; r; r = r->next) {
		if (r->ical)
			icalcomponent_free(r->ical);
		r->ical = NULL;
	}
	c->cals = NULL;
	free(c->events);
	c->events = NULL;
	c->nevents = c->capevents = 0;
	free(im->cand);
	im->cand = NULL;
	im->ncand = im->capcand = 0;
}

int cal_add_period(struct importer *im, const struct tlist *t)
{
	int rc = charge(im, 1);
	if (rc)
		return rc;
	struct clock c = clock_of(im, &t->v);
	int64_t s = clock_to_utc(im, &c, t->v.local);
	int64_t e =
	    t->pkind == PERIOD_END ? tval_utc(im, &t->pend) : inst_end(im, &c, t->v.local, s, &t->pdur);
	return push(im, s, e);
}
