/* Unit tests: the availability engine (avail_compute) with real zones and an
 * injected clock. Every expectation is an exact list of starts (RFC 3339 in
 * the clinician's zone) or exact Unix instants computed here from hard-coded
 * UTC offsets, never "some slots". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "avail/avail.h"
#include "core/arena.h"
#include "core/tz.h"

enum { MON = 1, TUE, WED, THU, FRI, SAT, SUN };
enum { ALL_WEEKDAYS = 0x7f };

/* ---- helpers ---- */

static const struct tz *zone(const char *name)
{
	const struct tz *z = NULL;
	assert_int_equal(tz_get(name, &z), 0);
	assert_non_null(z);
	return z;
}

static int64_t D(int y, int m, int d)
{
	return tz_days_from_civil(y, m, d);
}

/* The instant of local minute `min` on local day `day` when the zone's UTC
 * offset is off_min minutes: computed here, independently of tz.c. */
static int64_t at(int64_t day, int min, int off_min)
{
	return day * 86400 + (int64_t)min * 60 - (int64_t)off_min * 60;
}

static int hm(int h, int m)
{
	return h * 60 + m;
}

static struct avail_offering consult(int duration, int grid)
{
	return (struct avail_offering){
	    .days = 1,
	    .duration_min = duration,
	    .slot_interval_min = grid,
	    .horizon_days = 730,
	    .start_weekdays = ALL_WEEKDAYS,
	};
}

/* An intensive of `days` consecutive days, 09:00-16:00 each day. */
static struct avail_offering intensive(int days)
{
	return (struct avail_offering){
	    .intensive = true,
	    .days = days,
	    .duration_min = 420,
	    .day_start_min = hm(9, 0),
	    .day_end_min = hm(16, 0),
	    .horizon_days = 730,
	    .start_weekdays = ALL_WEEKDAYS,
	};
}

/* One rule per weekday, [s, e). */
static size_t every_day(struct avail_rule *r, int s, int e)
{
	for (int wd = MON; wd <= SUN; wd++)
		r[wd - 1] = (struct avail_rule){wd, s, e};
	return 7;
}

static struct avail_input input(const struct tz *z, int64_t now, const struct avail_offering *off,
                                const struct avail_rule *rules, size_t nrules)
{
	return (struct avail_input){.tz = z, .now = now, .off = off, .rules = rules, .nrules = nrules};
}

/* Runs the engine and checks the invariants every slot must hold: time
 * order, start/end equal to the first/last block, block count. */
static size_t run(const struct avail_input *in, int64_t from, int64_t to, struct arena *a,
                  struct avail_slot **s)
{
	size_t n = 99;
	*s = NULL;
	assert_int_equal(avail_compute(in, from, to, a, s, &n), 0);
	int want_blocks = in->off->intensive ? in->off->days : 1;
	for (size_t i = 0; i < n; i++) {
		const struct avail_slot *x = &(*s)[i];
		assert_int_equal(x->nblocks, want_blocks);
		assert_int_equal(x->start, x->blocks[0].start);
		assert_int_equal(x->end, x->blocks[x->nblocks - 1].end);
		for (int b = 0; b < x->nblocks; b++)
			assert_true(x->blocks[b].start < x->blocks[b].end);
		if (i)
			assert_true((*s)[i - 1].start < x->start);
	}
	return n;
}

static const char *rfc(struct arena *a, const struct tz *z, int64_t t)
{
	char tmp[40];
	tz_format_rfc3339(z, t, tmp, sizeof(tmp));
	assert_true(tmp[0] != '\0');
	return arena_strdup(a, tmp);
}

/* The slots' starts in local time, space-separated, so a mismatch shows the
 * whole list. */
static const char *starts(struct arena *a, const struct tz *z, const struct avail_slot *s, size_t n)
{
	const char *out = "";
	for (size_t i = 0; i < n; i++)
		out = arena_printf(a, "%s%s%s", out, i ? " " : "", rfc(a, z, s[i].start));
	return out;
}

/* The slots' first local dates, "YYYY-MM-DD" space-separated. */
static const char *dates(struct arena *a, const struct tz *z, const struct avail_slot *s, size_t n)
{
	const char *out = "";
	for (size_t i = 0; i < n; i++) {
		int y, m, d;
		tz_civil_from_days(avail_local_day(z, s[i].start), &y, &m, &d);
		out = arena_printf(a, "%s%s%04d-%02d-%02d", out, i ? " " : "", y, m, d);
	}
	return out;
}

/* "YYYY-MM-DD" for each day in [from, to] not in skip (sorted, may be NULL). */
static const char *date_range(struct arena *a, int64_t from, int64_t to, const int64_t *skip, size_t nskip)
{
	const char *out = "";
	size_t k = 0;
	for (int64_t d = from; d <= to; d++) {
		while (k < nskip && skip[k] < d)
			k++;
		if (k < nskip && skip[k] == d)
			continue;
		int y, m, dd;
		tz_civil_from_days(d, &y, &m, &dd);
		out = arena_printf(a, "%s%s%04d-%02d-%02d", out, out[0] ? " " : "", y, m, dd);
	}
	return out;
}

static void assert_all_last(const struct avail_slot *s, size_t n, int minutes)
{
	for (size_t i = 0; i < n; i++)
		assert_int_equal(s[i].end - s[i].start, (int64_t)minutes * 60);
}

/* An intensive slot starting local day d0: each block is 09:00-16:00 local
 * with the given UTC offsets (minutes), checked as instants and as text. */
static void expect_intensive(struct arena *a, const struct tz *z, const struct avail_slot *s, int64_t d0,
                             int days, const int *off_min)
{
	assert_int_equal(s->nblocks, days);
	for (int i = 0; i < days; i++) {
		assert_int_equal(s->blocks[i].start, at(d0 + i, hm(9, 0), off_min[i]));
		assert_int_equal(s->blocks[i].end, at(d0 + i, hm(16, 0), off_min[i]));
		int y, m, d;
		tz_civil_from_days(d0 + i, &y, &m, &d);
		int o = off_min[i] < 0 ? -off_min[i] : off_min[i];
		const char *sign = off_min[i] < 0 ? "-" : "+";
		assert_string_equal(
		    rfc(a, z, s->blocks[i].start),
		    arena_printf(a, "%04d-%02d-%02dT09:00:00%s%02d:%02d", y, m, d, sign, o / 60, o % 60));
		assert_string_equal(
		    rfc(a, z, s->blocks[i].end),
		    arena_printf(a, "%04d-%02d-%02dT16:00:00%s%02d:%02d", y, m, d, sign, o / 60, o % 60));
	}
	assert_int_equal(s->start, s->blocks[0].start);
	assert_int_equal(s->end, s->blocks[days - 1].end);
}

/* ---- 1. intensives across DST changes ---- */

struct intensive_case {
	const char *zone;
	int y, m, d; /* first day */
	int days;
	int off[3]; /* UTC offset (minutes) of each day */
};

static void test_intensive_across_dst(void **state)
{
	(void)state;
	static const struct intensive_case cases[] = {
	    /* New York: 2027-03-14 02:00 EST -> 03:00 EDT; 2027-11-07 02:00 EDT -> 01:00 EST. */
	    {"America/New_York", 2027, 3, 13, 2, {-300, -240}},
	    {"America/New_York", 2027, 3, 13, 3, {-300, -240, -240}},
	    {"America/New_York", 2027, 3, 12, 3, {-300, -300, -240}},
	    {"America/New_York", 2027, 3, 14, 2, {-240, -240}},
	    {"America/New_York", 2027, 11, 6, 2, {-240, -300}},
	    {"America/New_York", 2027, 11, 6, 3, {-240, -300, -300}},
	    {"America/New_York", 2027, 11, 5, 3, {-240, -240, -300}},
	    /* Berlin: 2027-03-28 02:00 CET -> 03:00 CEST; 2027-10-31 03:00 CEST -> 02:00 CET. */
	    {"Europe/Berlin", 2027, 3, 27, 2, {60, 120}},
	    {"Europe/Berlin", 2027, 3, 27, 3, {60, 120, 120}},
	    {"Europe/Berlin", 2027, 3, 26, 3, {60, 60, 120}},
	    {"Europe/Berlin", 2027, 10, 30, 2, {120, 60}},
	    {"Europe/Berlin", 2027, 10, 30, 3, {120, 60, 60}},
	    {"Europe/Berlin", 2027, 10, 29, 3, {120, 120, 60}},
	};
	struct avail_rule rules[7];
	size_t nr = every_day(rules, hm(9, 0), hm(16, 0));
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		const struct intensive_case *k = &cases[c];
		struct arena a;
		arena_init(&a);
		const struct tz *z = zone(k->zone);
		struct avail_offering off = intensive(k->days);
		int64_t d0 = D(k->y, k->m, k->d);
		struct avail_input in = input(z, d0 * 86400 - 20 * 86400, &off, rules, nr);
		struct avail_slot *s;
		size_t n = run(&in, d0, d0, &a, &s);
		assert_int_equal(n, 1);
		expect_intensive(&a, z, &s[0], d0, k->days, k->off);
		arena_release(&a);
	}

	/* Spot checks as literal instants: NY 2027-03-13 09:00 EST = 14:00Z,
	 * 03-14 09:00 EDT = 13:00Z; Berlin 2027-10-30 09:00 CEST = 07:00Z,
	 * 10-31 09:00 CET = 08:00Z. */
	struct arena a;
	arena_init(&a);
	struct avail_offering off = intensive(2);
	struct avail_slot *s;
	const struct tz *ny = zone("America/New_York");
	struct avail_input in = input(ny, 1798761600 /* 2027-01-01Z */, &off, rules, nr);
	assert_int_equal(run(&in, D(2027, 3, 13), D(2027, 3, 13), &a, &s), 1);
	assert_int_equal(s[0].blocks[0].start, 1804946400); /* 2027-03-13T14:00:00Z */
	assert_int_equal(s[0].blocks[0].end, 1804971600);   /* 2027-03-13T21:00:00Z */
	assert_int_equal(s[0].blocks[1].start, 1805029200); /* 2027-03-14T13:00:00Z */
	assert_int_equal(s[0].blocks[1].end, 1805054400);   /* 2027-03-14T20:00:00Z */
	const struct tz *be = zone("Europe/Berlin");
	in.tz = be;
	assert_int_equal(run(&in, D(2027, 10, 30), D(2027, 10, 30), &a, &s), 1);
	assert_int_equal(s[0].blocks[0].start, 1824879600); /* 2027-10-30T07:00:00Z */
	assert_int_equal(s[0].blocks[1].start, 1824969600); /* 2027-10-31T08:00:00Z */
	assert_int_equal(s[0].blocks[1].end, 1824994800);   /* 2027-10-31T15:00:00Z */

	/* Every start in a window around the change: each block 09:00-16:00 local. */
	in.tz = ny;
	off = intensive(3);
	size_t n = run(&in, D(2027, 3, 8), D(2027, 3, 20), &a, &s);
	assert_int_equal(n, 13);
	for (size_t i = 0; i < n; i++) {
		int64_t d0 = D(2027, 3, 8) + (int64_t)i;
		int offs[3];
		for (int b = 0; b < 3; b++)
			offs[b] = d0 + b >= D(2027, 3, 14) ? -240 : -300;
		expect_intensive(&a, ny, &s[i], d0, 3, offs);
	}
	arena_release(&a);
}

/* ---- 2. consults on every DST change of 2027-2036 ---- */

struct dst_zone {
	const char *name;
	int winter, summer; /* UTC offsets, minutes */
	int fold_end_hour;  /* fall-back day: local hours below this keep the summer offset */
	int spring_day_lo, fall_month, fall_day_lo;
};

static void check_zone_transitions(const struct dst_zone *zd)
{
	const struct tz *z = zone(zd->name);
	int64_t tr[64];
	size_t nt = tz_transitions(z, D(2027, 1, 1) * 86400, D(2037, 1, 1) * 86400, tr, 64);
	assert_int_equal(nt, 20);
	struct avail_rule day_rules[7], night_rules[7];
	size_t nday = every_day(day_rules, hm(8, 0), hm(18, 0));
	size_t nnight = every_day(night_rules, hm(0, 0), hm(4, 0));
	struct avail_offering off = consult(50, 60);
	for (size_t k = 0; k < nt; k++) {
		struct arena a;
		arena_init(&a);
		int64_t day = avail_local_day(z, tr[k]);
		int y, m, d;
		tz_civil_from_days(day, &y, &m, &d);
		/* Independent check of the transition list itself. */
		assert_int_equal(y, 2027 + (int)(k / 2));
		assert_int_equal(tz_iso_weekday(day), SUN);
		bool spring = k % 2 == 0;
		if (spring) {
			assert_int_equal(m, 3);
			assert_true(d >= zd->spring_day_lo && d <= zd->spring_day_lo + 6);
		} else {
			assert_int_equal(m, zd->fall_month);
			assert_true(d >= zd->fall_day_lo && d <= zd->fall_day_lo + 6);
		}
		int before = spring ? zd->winter : zd->summer, after = spring ? zd->summer : zd->winter;

		/* 08:00-18:00, 50 min on a 60-min grid: 08:00 ... 17:00 on the day
		 * of the change and the day after, each 50 real minutes. */
		struct avail_input in = input(z, (day - 10) * 86400, &off, day_rules, nday);
		struct avail_slot *s;
		size_t n = run(&in, day, day + 1, &a, &s);
		assert_int_equal(n, 20);
		for (size_t i = 0; i < n; i++) {
			int64_t sd = day + (int64_t)(i / 10);
			int h = 8 + (int)(i % 10);
			assert_int_equal(s[i].start, at(sd, hm(h, 0), after));
			assert_int_equal(s[i].end - s[i].start, 50 * 60);
			assert_int_equal(tz_utc_to_local(z, s[i].start), sd * 86400 + h * 3600);
		}

		/* 00:00-04:00 on the day of the change. */
		in = input(z, (day - 10) * 86400, &off, night_rules, nnight);
		n = run(&in, day, day, &a, &s);
		if (spring) {
			/* 02:00-03:00 does not exist: 00:00, 01:00 (old offset), 03:00 (new). */
			assert_int_equal(n, 3);
			assert_int_equal(s[0].start, at(day, hm(0, 0), before));
			assert_int_equal(s[1].start, at(day, hm(1, 0), before));
			assert_int_equal(s[2].start, at(day, hm(3, 0), after));
		} else {
			/* Every hour once; the repeated hour only at its first pass. */
			assert_int_equal(n, 4);
			for (int h = 0; h < 4; h++)
				assert_int_equal(s[h].start,
				                 at(day, hm(h, 0), h < zd->fold_end_hour ? before : after));
		}
		assert_all_last(s, n, 50);
		for (size_t i = 0; i < n; i++) {
			int64_t local = tz_utc_to_local(z, s[i].start);
			assert_int_equal(local / 86400, day);
			assert_int_equal(local % 3600, 0);
			if (spring)
				assert_int_not_equal(local % 86400 / 3600, 2);
		}
		arena_release(&a);
	}
}

static void test_consult_every_dst_change(void **state)
{
	(void)state;
	/* US: second Sunday of March, first Sunday of November. */
	static const struct dst_zone ny = {"America/New_York", -300, -240, 2, 8, 11, 1};
	/* EU: last Sunday of March, last Sunday of October. */
	static const struct dst_zone be = {"Europe/Berlin", 60, 120, 3, 25, 10, 25};
	check_zone_transitions(&ny);
	check_zone_transitions(&be);
}

static void test_consult_night_literal(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	struct avail_rule rules[7];
	size_t nr = every_day(rules, hm(0, 0), hm(4, 0));
	struct avail_offering off = consult(50, 60);
	struct avail_slot *s;
	const struct tz *ny = zone("America/New_York"), *be = zone("Europe/Berlin");
	struct avail_input in = input(ny, 1798761600, &off, rules, nr);
	size_t n = run(&in, D(2027, 3, 14), D(2027, 3, 14), &a, &s);
	assert_string_equal(starts(&a, ny, s, n),
	                    "2027-03-14T00:00:00-05:00 2027-03-14T01:00:00-05:00 2027-03-14T03:00:00-04:00");
	n = run(&in, D(2027, 11, 7), D(2027, 11, 7), &a, &s);
	assert_string_equal(starts(&a, ny, s, n), "2027-11-07T00:00:00-04:00 2027-11-07T01:00:00-04:00 "
	                                          "2027-11-07T02:00:00-05:00 2027-11-07T03:00:00-05:00");
	in.tz = be;
	n = run(&in, D(2027, 3, 28), D(2027, 3, 28), &a, &s);
	assert_string_equal(starts(&a, be, s, n),
	                    "2027-03-28T00:00:00+01:00 2027-03-28T01:00:00+01:00 2027-03-28T03:00:00+02:00");
	n = run(&in, D(2027, 10, 31), D(2027, 10, 31), &a, &s);
	assert_string_equal(starts(&a, be, s, n), "2027-10-31T00:00:00+02:00 2027-10-31T01:00:00+02:00 "
	                                          "2027-10-31T02:00:00+02:00 2027-10-31T03:00:00+01:00");

	/* A 30-minute grid over the NY gap: 02:00 and 02:30 never exist. */
	off = consult(20, 30);
	in.tz = ny;
	n = run(&in, D(2027, 3, 14), D(2027, 3, 14), &a, &s);
	assert_string_equal(starts(&a, ny, s, n), "2027-03-14T00:00:00-05:00 2027-03-14T00:30:00-05:00 "
	                                          "2027-03-14T01:00:00-05:00 2027-03-14T01:30:00-05:00 "
	                                          "2027-03-14T03:00:00-04:00 2027-03-14T03:30:00-04:00");
	assert_all_last(s, n, 20);
	/* A slot that ENDS where the clocks jump is a real hour: 01:00-02:00
	 * EST (06:00Z-07:00Z) is offered; the end is exclusive. */
	off = consult(60, 60);
	n = run(&in, D(2027, 3, 14), D(2027, 3, 14), &a, &s);
	assert_string_equal(starts(&a, ny, s, n), "2027-03-14T00:00:00-05:00 2027-03-14T01:00:00-05:00 "
	                                          "2027-03-14T03:00:00-04:00");
	assert_int_equal(s[1].start, 1805004000);
	assert_int_equal(s[1].end, 1805007600);
	assert_all_last(s, n, 60);
	in.tz = be;
	n = run(&in, D(2027, 3, 28), D(2027, 3, 28), &a, &s);
	assert_int_equal(n, 3);
	assert_int_equal(s[1].start, 1806192000);
	assert_int_equal(s[1].end, 1806195600);
	in.tz = ny;
	/* Over the NY fold: 01:30 EDT + 50 min of wall clock is 02:20 EST,
	 * 110 real minutes, so that start is left out; 01:00 EDT -> 01:50 EDT
	 * is 50 minutes and stays. */
	off = consult(50, 30);
	n = run(&in, D(2027, 11, 7), D(2027, 11, 7), &a, &s);
	assert_string_equal(starts(&a, ny, s, n), "2027-11-07T00:00:00-04:00 2027-11-07T00:30:00-04:00 "
	                                          "2027-11-07T01:00:00-04:00 2027-11-07T02:00:00-05:00 "
	                                          "2027-11-07T02:30:00-05:00 2027-11-07T03:00:00-05:00");
	assert_all_last(s, n, 50);
	arena_release(&a);
}

/* ---- 3. rules and overrides ---- */

static void test_rules_and_overrides(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	const struct tz *ny = zone("America/New_York");
	/* Week of Monday 2027-06-07 (EDT, -04:00). */
	int64_t mon = D(2027, 6, 7);
	assert_int_equal(tz_iso_weekday(mon), MON);
	const struct avail_rule rules[] = {
	    {MON, hm(9, 0), hm(12, 0)},  {MON, hm(14, 0), hm(15, 0)},
	    {WED, hm(13, 0), hm(14, 0)}, {WED, hm(14, 0), hm(16, 0)}, /* touching ranges join */
	    {FRI, hm(9, 0), hm(10, 30)},                              /* 10:00 would end 11:00: not offered */
	};
	struct avail_offering off = consult(60, 60);
	struct avail_input in = input(ny, mon * 86400 - 86400, &off, rules, 5);
	struct avail_slot *s;
	size_t n = run(&in, mon, mon + 6, &a, &s);
	assert_string_equal(starts(&a, ny, s, n),
	                    "2027-06-07T09:00:00-04:00 2027-06-07T10:00:00-04:00 2027-06-07T11:00:00-04:00 "
	                    "2027-06-07T14:00:00-04:00 "
	                    "2027-06-09T13:00:00-04:00 2027-06-09T14:00:00-04:00 2027-06-09T15:00:00-04:00 "
	                    "2027-06-11T09:00:00-04:00");
	assert_all_last(s, n, 60);
	assert_int_equal(s[0].start, at(mon, hm(9, 0), -240));

	/* A 30-minute grid: a slot may span two touching rules (Wed 13:30-14:30). */
	off = consult(60, 30);
	n = run(&in, mon + 2, mon + 2, &a, &s);
	assert_string_equal(starts(&a, ny, s, n),
	                    "2027-06-09T13:00:00-04:00 2027-06-09T13:30:00-04:00 2027-06-09T14:00:00-04:00 "
	                    "2027-06-09T14:30:00-04:00 2027-06-09T15:00:00-04:00");
	off = consult(60, 60);

	/* Overrides, in no particular order:
	 * - Tue (closed by rule) gets extra hours 10:00-12:00;
	 * - Mon: time off 10:00-11:00 (part of the day);
	 * - Wed: time off the whole day (start_min -1);
	 * - Fri: extra 12:00-13:00 and off 09:00-10:00;
	 * - Sat: extra hours and whole-day off on the same date: off wins;
	 * - an override for the following Monday changes nothing this week. */
	const struct avail_override ov[] = {
	    {mon + 7, true, -1, -1},
	    {mon + 4, true, hm(9, 0), hm(10, 0)},
	    {mon + 1, false, hm(10, 0), hm(12, 0)},
	    {mon + 5, false, hm(9, 0), hm(17, 0)},
	    {mon, true, hm(10, 0), hm(11, 0)},
	    {mon + 2, true, -1, -1},
	    {mon + 4, false, hm(12, 0), hm(13, 0)},
	    {mon + 5, true, -1, -1},
	};
	in.overrides = ov;
	in.noverrides = sizeof(ov) / sizeof(ov[0]);
	n = run(&in, mon, mon + 6, &a, &s);
	assert_string_equal(starts(&a, ny, s, n),
	                    "2027-06-07T09:00:00-04:00 2027-06-07T11:00:00-04:00 2027-06-07T14:00:00-04:00 "
	                    "2027-06-08T10:00:00-04:00 2027-06-08T11:00:00-04:00 "
	                    "2027-06-11T12:00:00-04:00");
	/* The next Monday, off all day, has nothing; the one after is back to its rules. */
	n = run(&in, mon + 7, mon + 7, &a, &s);
	assert_int_equal(n, 0);
	n = run(&in, mon + 14, mon + 14, &a, &s);
	assert_string_equal(starts(&a, ny, s, n), "2027-06-21T09:00:00-04:00 2027-06-21T10:00:00-04:00 "
	                                          "2027-06-21T11:00:00-04:00 2027-06-21T14:00:00-04:00");

	/* No rules at all, only an extra: just that. */
	in.nrules = 0;
	n = run(&in, mon, mon + 6, &a, &s);
	assert_string_equal(starts(&a, ny, s, n),
	                    "2027-06-08T10:00:00-04:00 2027-06-08T11:00:00-04:00 2027-06-11T12:00:00-04:00");
	arena_release(&a);
}

/* ---- 4. busy time and buffers ---- */

static void test_busy_and_buffers(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	const struct tz *be = zone("Europe/Berlin");
	int64_t day = D(2027, 6, 8); /* CEST, +02:00 */
	const struct avail_rule rules[] = {{TUE, hm(9, 0), hm(14, 0)}};
	struct avail_offering off = consult(60, 30);
	/* An existing booking 11:00-12:00 local (its own buffers already included). */
	const struct avail_interval busy[] = {{at(day, hm(11, 0), 120), at(day, hm(12, 0), 120)}};
	struct avail_input in = input(be, day * 86400 - 86400, &off, rules, 1);
	in.busy = busy;
	in.nbusy = 1;
	struct avail_slot *s;

	/* No buffers: touching the busy interval on either side is allowed. */
	size_t n = run(&in, day, day, &a, &s);
	assert_string_equal(starts(&a, be, s, n),
	                    "2027-06-08T09:00:00+02:00 2027-06-08T09:30:00+02:00 2027-06-08T10:00:00+02:00 "
	                    "2027-06-08T12:00:00+02:00 2027-06-08T12:30:00+02:00 2027-06-08T13:00:00+02:00");
	assert_int_equal(s[2].end, busy[0].start);
	assert_int_equal(s[3].start, busy[0].end);

	/* 30 minutes before: [start-30, end) must be free. */
	off.buffer_before_min = 30;
	n = run(&in, day, day, &a, &s);
	assert_string_equal(starts(&a, be, s, n),
	                    "2027-06-08T09:00:00+02:00 2027-06-08T09:30:00+02:00 2027-06-08T10:00:00+02:00 "
	                    "2027-06-08T12:30:00+02:00 2027-06-08T13:00:00+02:00");
	/* The slot itself is not widened by the buffer. */
	assert_int_equal(s[3].start, at(day, hm(12, 30), 120));
	assert_int_equal(s[3].end, at(day, hm(13, 30), 120));

	/* 30 minutes after: [start, end+30) must be free. */
	off.buffer_before_min = 0;
	off.buffer_after_min = 30;
	n = run(&in, day, day, &a, &s);
	assert_string_equal(starts(&a, be, s, n),
	                    "2027-06-08T09:00:00+02:00 2027-06-08T09:30:00+02:00 2027-06-08T12:00:00+02:00 "
	                    "2027-06-08T12:30:00+02:00 2027-06-08T13:00:00+02:00");

	/* Both, 15 minutes each: 10:00 (ends 11:15) and 12:00 (from 11:45) go. */
	off.buffer_before_min = 15;
	off.buffer_after_min = 15;
	n = run(&in, day, day, &a, &s);
	assert_string_equal(starts(&a, be, s, n),
	                    "2027-06-08T09:00:00+02:00 2027-06-08T09:30:00+02:00 2027-06-08T12:30:00+02:00 "
	                    "2027-06-08T13:00:00+02:00");

	/* Busy time one second long still blocks its slot; a buffer can
	 * reach busy time outside the open hours (08:30-08:46). */
	const struct avail_interval busy2[] = {
	    {at(day, hm(8, 30), 120), at(day, hm(8, 46), 120)},
	    {at(day, hm(13, 59), 120), at(day, hm(13, 59), 120) + 1},
	};
	in.busy = busy2;
	in.nbusy = 2;
	off.buffer_before_min = 15;
	off.buffer_after_min = 0;
	n = run(&in, day, day, &a, &s);
	assert_string_equal(starts(&a, be, s, n),
	                    "2027-06-08T09:30:00+02:00 2027-06-08T10:00:00+02:00 2027-06-08T10:30:00+02:00 "
	                    "2027-06-08T11:00:00+02:00 2027-06-08T11:30:00+02:00 2027-06-08T12:00:00+02:00 "
	                    "2027-06-08T12:30:00+02:00");
	off.buffer_before_min = 14;
	n = run(&in, day, day, &a, &s);
	assert_int_equal(n, 8);
	assert_int_equal(s[0].start, at(day, hm(9, 0), 120));
	arena_release(&a);
}

/* ---- 5. notice, horizon, grid, start weekdays ---- */

static void test_notice_and_horizon(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	const struct tz *ny = zone("America/New_York");
	int64_t mon = D(2027, 6, 7);
	struct avail_rule rules[7];
	size_t nr = every_day(rules, hm(9, 0), hm(12, 0));
	struct avail_offering off = consult(60, 60);
	off.min_notice_min = 120;
	off.horizon_days = 2;
	/* Now: Monday 08:00 EDT; earliest start 10:00 exactly. */
	struct avail_input in = input(ny, at(mon, hm(8, 0), -240), &off, rules, nr);
	struct avail_slot *s;
	/* The window starts in the past and runs far past the horizon. */
	size_t n = run(&in, mon - 20, mon + 60, &a, &s);
	assert_string_equal(starts(&a, ny, s, n),
	                    "2027-06-07T10:00:00-04:00 2027-06-07T11:00:00-04:00 "
	                    "2027-06-08T09:00:00-04:00 2027-06-08T10:00:00-04:00 2027-06-08T11:00:00-04:00 "
	                    "2027-06-09T09:00:00-04:00 2027-06-09T10:00:00-04:00 2027-06-09T11:00:00-04:00");
	/* One second later 10:00 is too soon. */
	in.now += 1;
	n = run(&in, mon, mon, &a, &s);
	assert_string_equal(starts(&a, ny, s, n), "2027-06-07T11:00:00-04:00");
	/* A notice reaching into the next days. */
	off.min_notice_min = 24 * 60 + 60; /* earliest Tue 09:00:01 */
	n = run(&in, mon, mon + 60, &a, &s);
	assert_string_equal(starts(&a, ny, s, n),
	                    "2027-06-08T10:00:00-04:00 2027-06-08T11:00:00-04:00 "
	                    "2027-06-09T09:00:00-04:00 2027-06-09T10:00:00-04:00 2027-06-09T11:00:00-04:00");
	/* A window wholly in the past or wholly past the horizon: nothing, no error. */
	assert_int_equal(run(&in, mon - 10, mon - 1, &a, &s), 0);
	assert_int_equal(run(&in, mon + 3, mon + 30, &a, &s), 0);

	/* "Today" is the clinician's local date: 2027-06-08T03:00Z is Monday
	 * 23:00 in New York but Tuesday 05:00 in Berlin. Horizon 1 day. */
	off.min_notice_min = 0;
	off.horizon_days = 1;
	in.now = at(mon + 1, hm(3, 0), 0);
	n = run(&in, mon - 1, mon + 10, &a, &s);
	assert_string_equal(dates(&a, ny, s, n), "2027-06-08 2027-06-08 2027-06-08");
	const struct tz *be = zone("Europe/Berlin");
	in.tz = be;
	n = run(&in, mon - 1, mon + 10, &a, &s);
	assert_string_equal(dates(&a, be, s, n),
	                    "2027-06-08 2027-06-08 2027-06-08 2027-06-09 2027-06-09 2027-06-09");
	assert_int_equal(s[0].start, at(mon + 1, hm(9, 0), 120));
	arena_release(&a);
}

static void test_slot_grid_from_local_midnight(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	const struct tz *ny = zone("America/New_York");
	int64_t day = D(2027, 6, 8);
	struct avail_rule rules[7];
	size_t nr = every_day(rules, hm(9, 0), hm(12, 0));
	/* A 40-minute grid counts from 00:00, not from the rule's 09:00:
	 * 08:40, 09:20, 10:00, 10:40, 11:20 (ends 11:50). */
	struct avail_offering off = consult(30, 40);
	struct avail_input in = input(ny, day * 86400 - 86400, &off, rules, nr);
	struct avail_slot *s;
	size_t n = run(&in, day, day, &a, &s);
	assert_string_equal(starts(&a, ny, s, n),
	                    "2027-06-08T09:20:00-04:00 2027-06-08T10:00:00-04:00 2027-06-08T10:40:00-04:00 "
	                    "2027-06-08T11:20:00-04:00");
	assert_all_last(s, n, 30);
	/* 45-minute grid: 09:00 09:45 10:30 11:15 (12:00 would end 12:30). */
	off = consult(30, 45);
	n = run(&in, day, day, &a, &s);
	assert_string_equal(starts(&a, ny, s, n),
	                    "2027-06-08T09:00:00-04:00 2027-06-08T09:45:00-04:00 2027-06-08T10:30:00-04:00 "
	                    "2027-06-08T11:15:00-04:00");
	/* Rules from 09:10: the grid does not move to 09:10. */
	struct avail_rule late[7];
	every_day(late, hm(9, 10), hm(12, 0));
	in.rules = late;
	n = run(&in, day, day, &a, &s);
	assert_string_equal(starts(&a, ny, s, n),
	                    "2027-06-08T09:45:00-04:00 2027-06-08T10:30:00-04:00 2027-06-08T11:15:00-04:00");
	/* On the spring-forward day the grid is still the local wall clock
	 * (only 23 real hours since midnight): 08:00 (= 12 x 40 min) ... */
	every_day(late, hm(8, 0), hm(10, 0));
	in.rules = late;
	off = consult(30, 40);
	in.now = D(2027, 3, 1) * 86400;
	n = run(&in, D(2027, 3, 14), D(2027, 3, 14), &a, &s);
	assert_string_equal(starts(&a, ny, s, n), "2027-03-14T08:00:00-04:00 2027-03-14T08:40:00-04:00 "
	                                          "2027-03-14T09:20:00-04:00");
	arena_release(&a);
}

static void test_intensive_start_weekdays(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	const struct tz *be = zone("Europe/Berlin");
	int64_t mon = D(2027, 6, 7);
	struct avail_rule rules[7];
	size_t nr = every_day(rules, hm(9, 0), hm(16, 0));
	struct avail_offering off = intensive(2);
	off.start_weekdays = 1 << 0 | 1 << 3; /* Monday, Thursday */
	struct avail_input in = input(be, mon * 86400 - 7 * 86400, &off, rules, nr);
	struct avail_slot *s;
	size_t n = run(&in, mon, mon + 13, &a, &s);
	assert_string_equal(dates(&a, be, s, n), "2027-06-07 2027-06-10 2027-06-14 2027-06-17");
	/* Only Sunday (bit 6): a block may run into the next week. */
	off.start_weekdays = 1 << 6;
	off.days = 3;
	n = run(&in, mon, mon + 13, &a, &s);
	assert_string_equal(dates(&a, be, s, n), "2027-06-13 2027-06-20");
	const int cest[3] = {120, 120, 120};
	expect_intensive(&a, be, &s[0], mon + 6, 3, cest);
	/* No weekday allowed: nothing. */
	off.start_weekdays = 0;
	assert_int_equal(run(&in, mon, mon + 13, &a, &s), 0);

	/* Notice applies to the first block's start. Now Monday 08:59:59: the
	 * Monday start (09:00) is there; at 09:00:01 it is gone. */
	off = intensive(2);
	in.now = at(mon, hm(8, 59), 120) + 59;
	n = run(&in, mon, mon + 1, &a, &s);
	assert_string_equal(dates(&a, be, s, n), "2027-06-07 2027-06-08");
	in.now = at(mon, hm(9, 0), 120) + 1;
	n = run(&in, mon, mon + 1, &a, &s);
	assert_string_equal(dates(&a, be, s, n), "2027-06-08");
	arena_release(&a);
}

/* ---- 6. intensives need every day open and free ---- */

static void test_intensive_every_day_open_and_free(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	const struct tz *ny = zone("America/New_York");
	int64_t mon = D(2027, 6, 7);
	/* Mon-Fri 08:00-18:00 (more than the 09:00-16:00 needed). */
	struct avail_rule rules[5];
	for (int wd = MON; wd <= FRI; wd++)
		rules[wd - 1] = (struct avail_rule){wd, hm(8, 0), hm(18, 0)};
	struct avail_offering off = intensive(2);
	struct avail_input in = input(ny, mon * 86400 - 7 * 86400, &off, rules, 5);
	struct avail_slot *s;
	size_t n = run(&in, mon, mon + 6, &a, &s);
	/* Friday's day 2 is a closed Saturday. */
	assert_string_equal(dates(&a, ny, s, n), "2027-06-07 2027-06-08 2027-06-09 2027-06-10");
	const int edt[2] = {-240, -240};
	for (size_t i = 0; i < n; i++)
		expect_intensive(&a, ny, &s[i], mon + (int64_t)i, 2, edt);

	/* Busy Wednesday 12:00-13:00: the Tuesday start (day 2 = Wed) and the
	 * Wednesday start both go. */
	const struct avail_interval busy[] = {{at(mon + 2, hm(12, 0), -240), at(mon + 2, hm(13, 0), -240)}};
	in.busy = busy;
	in.nbusy = 1;
	n = run(&in, mon, mon + 6, &a, &s);
	assert_string_equal(dates(&a, ny, s, n), "2027-06-07 2027-06-10");
	/* Three days: Monday, Tuesday and Wednesday starts all cover Wednesday. */
	off.days = 3;
	n = run(&in, mon, mon + 13, &a, &s);
	assert_string_equal(dates(&a, ny, s, n), "2027-06-14 2027-06-15 2027-06-16");
	off.days = 2;

	/* Busy Wednesday 16:00-17:00 touches the block end: free, unless the
	 * offering keeps 30 minutes after each block; then 08:30-09:00 busy on
	 * Thursday is also hit by a 30-minute buffer before. */
	const struct avail_interval touch[] = {
	    {at(mon + 2, hm(16, 0), -240), at(mon + 2, hm(17, 0), -240)},
	    {at(mon + 3, hm(8, 30), -240), at(mon + 3, hm(9, 0), -240)},
	};
	in.busy = touch;
	in.nbusy = 2;
	n = run(&in, mon, mon + 6, &a, &s);
	assert_string_equal(dates(&a, ny, s, n), "2027-06-07 2027-06-08 2027-06-09 2027-06-10");
	off.buffer_after_min = 30;
	n = run(&in, mon, mon + 6, &a, &s);
	assert_string_equal(dates(&a, ny, s, n), "2027-06-07 2027-06-10");
	off.buffer_after_min = 0;
	off.buffer_before_min = 30;
	n = run(&in, mon, mon + 6, &a, &s);
	assert_string_equal(dates(&a, ny, s, n), "2027-06-07 2027-06-08");
	off.buffer_before_min = 0;
	in.nbusy = 0;

	/* Not open for the whole 09:00-16:00: a 15:30-15:31 time off on
	 * Wednesday, a Thursday whose hours are 09:00-12:00 + 12:30-16:00, and
	 * an extra Saturday 09:00-16:00 that makes the Friday start possible. */
	const struct avail_override ov[] = {
	    {mon + 2, true, hm(15, 30), hm(15, 31)},
	    {mon + 5, false, hm(9, 0), hm(16, 0)},
	};
	in.overrides = ov;
	in.noverrides = 2;
	n = run(&in, mon, mon + 6, &a, &s);
	assert_string_equal(dates(&a, ny, s, n), "2027-06-07 2027-06-10 2027-06-11");
	const struct avail_rule holey[] = {
	    {MON, hm(9, 0), hm(16, 0)}, {TUE, hm(9, 0), hm(16, 0)},   {WED, hm(9, 0), hm(16, 0)},
	    {THU, hm(9, 0), hm(12, 0)}, {THU, hm(12, 30), hm(16, 0)}, {FRI, hm(9, 0), hm(16, 0)},
	};
	in.rules = holey;
	in.nrules = 6;
	in.noverrides = 0;
	n = run(&in, mon, mon + 6, &a, &s);
	assert_string_equal(dates(&a, ny, s, n), "2027-06-07 2027-06-08");
	/* Open 09:00-15:59 only: nothing. */
	struct avail_rule short_day[7];
	every_day(short_day, hm(9, 0), hm(15, 59));
	in.rules = short_day;
	in.nrules = 7;
	assert_int_equal(run(&in, mon, mon + 6, &a, &s), 0);
	arena_release(&a);
}

/* ---- 7. rest days between intensives ---- */

static void test_rest_days(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	const struct tz *be = zone("Europe/Berlin");
	int64_t d = D(2027, 6, 9); /* booked intensive on 06-09 .. 06-10 */
	struct avail_rule rules[7];
	size_t nr = every_day(rules, hm(9, 0), hm(16, 0));
	struct avail_offering off = intensive(2);
	off.min_rest_days = 2;
	const struct avail_interval busy[] = {
	    {at(d, hm(9, 0), 120), at(d, hm(16, 0), 120)},
	    {at(d + 1, hm(9, 0), 120), at(d + 1, hm(16, 0), 120)},
	};
	const struct avail_booked booked[] = {{d, d + 1, true, false}};
	struct avail_input in = input(be, D(2027, 5, 20) * 86400, &off, rules, nr);
	in.busy = busy;
	in.nbusy = 2;
	in.booked = booked;
	in.nbooked = 1;
	struct avail_slot *s;
	int64_t from = D(2027, 6, 1), to = D(2027, 6, 20);
	/* Last start before: 06-05..06-06 leaves 06-07 and 06-08 free. First
	 * after: 06-13, leaving 06-11 and 06-12. */
	size_t n = run(&in, from, to, &a, &s);
	const int64_t gone[] = {d - 3, d - 2, d - 1, d, d + 1, d + 2, d + 3};
	assert_string_equal(dates(&a, be, s, n), date_range(&a, from, to, gone, 7));
	assert_string_equal(dates(&a, be, s, n), "2027-06-01 2027-06-02 2027-06-03 2027-06-04 2027-06-05 "
	                                         "2027-06-13 2027-06-14 2027-06-15 2027-06-16 2027-06-17 "
	                                         "2027-06-18 2027-06-19 2027-06-20");

	/* Rest days 0: only the busy days themselves (and the start before). */
	off.min_rest_days = 0;
	n = run(&in, from, to, &a, &s);
	const int64_t busy_only[] = {d - 1, d, d + 1};
	assert_string_equal(dates(&a, be, s, n), date_range(&a, from, to, busy_only, 3));

	/* A booked consult (not an intensive) does not need rest days. */
	off.min_rest_days = 2;
	const struct avail_booked consult_booked[] = {{d, d, false, false}};
	in.booked = consult_booked;
	n = run(&in, from, to, &a, &s);
	assert_string_equal(dates(&a, be, s, n), date_range(&a, from, to, busy_only, 3));

	/* A consult offering is not held to rest days after a booked intensive. */
	in.booked = booked;
	struct avail_offering c = consult(60, 60);
	c.min_rest_days = 2;
	in.off = &c;
	struct avail_rule one[7];
	every_day(one, hm(17, 0), hm(18, 0));
	in.rules = one;
	n = run(&in, d - 1, d + 2, &a, &s);
	assert_string_equal(dates(&a, be, s, n), "2027-06-08 2027-06-09 2027-06-10 2027-06-11");

	/* Three rest days with a 3-day intensive booked 06-09..06-11. */
	in.off = &off;
	in.rules = rules;
	in.nbusy = 0;
	off.days = 3;
	off.min_rest_days = 3;
	const struct avail_booked three[] = {{d, d + 2, true, true}};
	in.booked = three;
	n = run(&in, from, to, &a, &s);
	/* Before: last day <= 06-05 -> start <= 06-03. After: start >= 06-15. */
	const int64_t gone3[] = {d - 5, d - 4, d - 3, d - 2, d - 1, d, d + 1, d + 2, d + 3, d + 4, d + 5};
	assert_string_equal(dates(&a, be, s, n), date_range(&a, from, to, gone3, 11));
	arena_release(&a);
}

/* ---- 8. caps per week and month ---- */

static void test_caps(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	const struct tz *ny = zone("America/New_York");
	struct avail_rule rules[7];
	size_t nr = every_day(rules, hm(9, 0), hm(10, 0)); /* one slot a day */
	struct avail_offering off = consult(60, 60);
	off.cap_per_week = 1;
	/* A booking of this offering on Wednesday 2027-06-09: ISO week
	 * Mon 06-07 .. Sun 06-13 is full. */
	const struct avail_booked wed[] = {{D(2027, 6, 9), D(2027, 6, 9), false, true}};
	struct avail_input in = input(ny, D(2027, 5, 1) * 86400, &off, rules, nr);
	in.booked = wed;
	in.nbooked = 1;
	struct avail_slot *s;
	int64_t from = D(2027, 6, 1), to = D(2027, 6, 20);
	size_t n = run(&in, from, to, &a, &s);
	const int64_t week[] = {D(2027, 6, 7),  D(2027, 6, 8),  D(2027, 6, 9), D(2027, 6, 10),
	                        D(2027, 6, 11), D(2027, 6, 12), D(2027, 6, 13)};
	assert_string_equal(dates(&a, ny, s, n), date_range(&a, from, to, week, 7));
	assert_int_equal(n, 13);
	/* Cap 2 per week: one booking leaves room. */
	off.cap_per_week = 2;
	assert_int_equal(run(&in, from, to, &a, &s), 20);
	/* A booking of another offering does not count. */
	off.cap_per_week = 1;
	const struct avail_booked other[] = {{D(2027, 6, 9), D(2027, 6, 9), false, false}};
	in.booked = other;
	assert_int_equal(run(&in, from, to, &a, &s), 20);

	/* An ISO week across a month end: a booking on Monday 2027-05-31
	 * fills 05-31 .. 06-06, not 05-30. */
	const struct avail_booked may31[] = {{D(2027, 5, 31), D(2027, 5, 31), false, true}};
	in.booked = may31;
	n = run(&in, D(2027, 5, 29), D(2027, 6, 8), &a, &s);
	assert_string_equal(dates(&a, ny, s, n), "2027-05-29 2027-05-30 2027-06-07 2027-06-08");

	/* Two per calendar month: bookings on 06-03 and 06-30 fill June. */
	off.cap_per_week = 0;
	off.cap_per_month = 2;
	const struct avail_booked june[] = {
	    {D(2027, 6, 30), D(2027, 6, 30), false, true},
	    {D(2027, 6, 3), D(2027, 6, 3), false, true},
	    {D(2027, 5, 10), D(2027, 5, 10), false, false}, /* other offering */
	};
	in.booked = june;
	in.nbooked = 3;
	from = D(2027, 5, 25);
	to = D(2027, 7, 5);
	n = run(&in, from, to, &a, &s);
	assert_string_equal(dates(&a, ny, s, n), "2027-05-25 2027-05-26 2027-05-27 2027-05-28 2027-05-29 "
	                                         "2027-05-30 2027-05-31 2027-07-01 2027-07-02 2027-07-03 "
	                                         "2027-07-04 2027-07-05");
	/* One of them for another offering: June has room again. */
	const struct avail_booked june1[] = {
	    {D(2027, 6, 30), D(2027, 6, 30), false, true},
	    {D(2027, 6, 3), D(2027, 6, 3), false, false},
	};
	in.booked = june1;
	in.nbooked = 2;
	assert_int_equal(run(&in, from, to, &a, &s), 42);
	/* June of another year does not count for June 2027 (cap 1). */
	off.cap_per_month = 1;
	const struct avail_booked last_year[] = {{D(2026, 6, 15), D(2026, 6, 15), false, true}};
	in.booked = last_year;
	in.nbooked = 1;
	assert_int_equal(run(&in, from, to, &a, &s), 42);
	const struct avail_booked this_year[] = {{D(2027, 6, 15), D(2027, 6, 15), false, true}};
	in.booked = this_year;
	assert_int_equal(run(&in, from, to, &a, &s), 12);

	/* Intensives: cap 1 per week counts an intensive by its first day. A
	 * booked 2-day intensive Sun 06-13..Mon 06-14 fills the week of 06-07,
	 * not the week of 06-14 (rest days 0, no busy time given). */
	struct avail_rule all_day[7];
	every_day(all_day, hm(9, 0), hm(16, 0));
	struct avail_offering ioff = intensive(2);
	ioff.cap_per_week = 1;
	const struct avail_booked sun[] = {{D(2027, 6, 13), D(2027, 6, 14), true, true}};
	in = input(ny, D(2027, 5, 1) * 86400, &ioff, all_day, 7);
	in.booked = sun;
	in.nbooked = 1;
	n = run(&in, D(2027, 6, 5), D(2027, 6, 15), &a, &s);
	assert_string_equal(dates(&a, ny, s, n), "2027-06-05 2027-06-06 2027-06-14 2027-06-15");
	arena_release(&a);
}

/* ---- 9. fail closed and window validation ---- */

static void test_fail_closed_and_window(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	const struct tz *ny = zone("America/New_York");
	struct avail_rule rules[7];
	size_t nr = every_day(rules, hm(9, 0), hm(17, 0));
	struct avail_offering off = consult(60, 60);
	int64_t day = D(2027, 6, 7);
	struct avail_input in = input(ny, day * 86400 - 86400, &off, rules, nr);
	struct avail_slot *s = (struct avail_slot *)&in;
	size_t n = 99;
	assert_int_equal(avail_compute(&in, day, day, &a, &s, &n), 0);
	assert_int_equal(n, 8);

	in.fail_closed = true;
	s = (struct avail_slot *)&in;
	n = 99;
	assert_int_equal(avail_compute(&in, day, day + 30, &a, &s, &n), 0);
	assert_int_equal(n, 0);
	struct avail_offering ioff = intensive(2);
	in.off = &ioff;
	n = 99;
	assert_int_equal(avail_compute(&in, day, day + 30, &a, &s, &n), 0);
	assert_int_equal(n, 0);
	in.off = &off;
	in.fail_closed = false;

	/* to < from. */
	s = (struct avail_slot *)&in;
	n = 99;
	assert_int_equal(avail_compute(&in, day, day - 1, &a, &s, &n), ERR_INVALID);
	assert_int_equal(n, 0);
	assert_null(s);
	/* Exactly AVAIL_MAX_WINDOW_DAYS is fine, one more is not. */
	off.horizon_days = 730;
	n = 99;
	assert_int_equal(avail_compute(&in, day, day + AVAIL_MAX_WINDOW_DAYS - 1, &a, &s, &n), 0);
	assert_int_equal(n, (size_t)AVAIL_MAX_WINDOW_DAYS * 8);
	s = (struct avail_slot *)&in;
	n = 99;
	assert_int_equal(avail_compute(&in, day, day + AVAIL_MAX_WINDOW_DAYS, &a, &s, &n), ERR_INVALID);
	assert_int_equal(n, 0);
	assert_null(s);
	/* Checked before fail_closed and before clamping to today/horizon. */
	in.fail_closed = true;
	assert_int_equal(avail_compute(&in, day, day - 1, &a, &s, &n), ERR_INVALID);
	in.fail_closed = false;
	assert_int_equal(avail_compute(&in, day - 1000, day - 1000 + AVAIL_MAX_WINDOW_DAYS, &a, &s, &n),
	                 ERR_INVALID);
	arena_release(&a);
}

/* ---- 10. unsorted, overlapping busy time ---- */

static void test_busy_unsorted_overlapping(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	const struct tz *ny = zone("America/New_York");
	int64_t day = D(2027, 6, 8);
	const struct avail_rule rules[] = {{TUE, hm(8, 0), hm(16, 0)}};
	struct avail_offering off = consult(30, 30);
#define L(h, m) at(day, hm(h, m), -240)
	/* Merged: 09:00-11:00 (a chain of overlapping and touching pieces),
	 * 12:00-13:30 (a long one with short ones inside, the last starting
	 * after the first short one ends: the long end must survive so that
	 * 12:30-13:00 stays busy), 14:10-14:20. */
	const struct avail_interval busy[] = {
	    {L(10, 30), L(11, 0)},  {L(13, 20), L(13, 25)}, {L(9, 0), L(9, 45)},
	    {L(14, 10), L(14, 20)}, {L(12, 0), L(13, 30)},  {L(9, 30), L(10, 15)},
	    {L(12, 5), L(12, 10)},  {L(10, 15), L(10, 30)}, {L(9, 0), L(9, 10)},
	};
#undef L
	struct avail_input in = input(ny, day * 86400 - 86400, &off, rules, 1);
	in.busy = busy;
	in.nbusy = sizeof(busy) / sizeof(busy[0]);
	struct avail_slot *s;
	size_t n = run(&in, day, day, &a, &s);
	assert_string_equal(starts(&a, ny, s, n),
	                    "2027-06-08T08:00:00-04:00 2027-06-08T08:30:00-04:00 "
	                    "2027-06-08T11:00:00-04:00 2027-06-08T11:30:00-04:00 "
	                    "2027-06-08T13:30:00-04:00 "
	                    "2027-06-08T14:30:00-04:00 2027-06-08T15:00:00-04:00 2027-06-08T15:30:00-04:00");
	/* The caller's array is not reordered. */
	assert_int_equal(busy[0].start, at(day, hm(10, 30), -240));

	/* Many pieces in reverse order: every even hour's first 10 minutes
	 * busy all day; 60-minute slots fit only in odd hours. */
	struct avail_interval many[24 * 6];
	size_t nm = 0;
	for (int h = 23; h >= 0; h--)
		for (int k = 5; k >= 0; k--)
			if (h % 2 == 0 && k < 1)
				many[nm++] = (struct avail_interval){at(day, hm(h, 0), -240) + k,
				                                     at(day, hm(h, 10), -240)};
	/* ... plus duplicates, and intervals inside them. */
	for (int h = 0; h < 24; h += 2) {
		many[nm++] = (struct avail_interval){at(day, hm(h, 0), -240), at(day, hm(h, 10), -240)};
		many[nm++] = (struct avail_interval){at(day, hm(h, 2), -240), at(day, hm(h, 3), -240)};
	}
	const struct avail_rule whole[] = {{TUE, 0, 1440}};
	off = consult(60, 60);
	in = input(ny, day * 86400 - 86400, &off, whole, 1);
	in.busy = many;
	in.nbusy = nm;
	n = run(&in, day, day, &a, &s);
	assert_int_equal(n, 12);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(s[i].start, at(day, hm(2 * (int)i + 1, 0), -240));
	arena_release(&a);
}

static void test_local_day(void **state)
{
	(void)state;
	const struct tz *ny = zone("America/New_York");
	const struct tz *be = zone("Europe/Berlin");
	int64_t day = D(2027, 6, 8);
	/* 2027-06-08T03:59:59Z is still 06-07 in New York; 04:00Z is 06-08. */
	assert_int_equal(avail_local_day(ny, at(day, hm(3, 59), 0) + 59), day - 1);
	assert_int_equal(avail_local_day(ny, at(day, hm(4, 0), 0)), day);
	/* 2027-06-07T22:00Z is 06-08 00:00 in Berlin. */
	assert_int_equal(avail_local_day(be, at(day - 1, hm(22, 0), 0)), day);
	assert_int_equal(avail_local_day(be, at(day - 1, hm(22, 0), 0) - 1), day - 1);
	/* Before 1970 (negative local values round down). */
	assert_int_equal(avail_local_day(ny, 0), -1);
	assert_int_equal(avail_local_day(ny, -86400 * 3), -4);
}

static int teardown(void **state)
{
	(void)state;
	tz_cache_clear();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_intensive_across_dst),
	    cmocka_unit_test(test_consult_every_dst_change),
	    cmocka_unit_test(test_consult_night_literal),
	    cmocka_unit_test(test_rules_and_overrides),
	    cmocka_unit_test(test_busy_and_buffers),
	    cmocka_unit_test(test_notice_and_horizon),
	    cmocka_unit_test(test_slot_grid_from_local_midnight),
	    cmocka_unit_test(test_intensive_start_weekdays),
	    cmocka_unit_test(test_intensive_every_day_open_and_free),
	    cmocka_unit_test(test_rest_days),
	    cmocka_unit_test(test_caps),
	    cmocka_unit_test(test_fail_closed_and_window),
	    cmocka_unit_test(test_busy_unsorted_overlapping),
	    cmocka_unit_test(test_local_day),
	};
	return cmocka_run_group_tests_name("avail", tests, NULL, teardown);
}
