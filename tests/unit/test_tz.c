/* Unit tests: time zones — civil dates, TZif parsing, footer rules, DST
 * gaps and folds, RFC 3339, and agreement with glibc's own reading of the
 * system's zone files. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/tz.h"

#define H   3600
#define DAY 86400

static int64_t utc(int y, int mo, int d, int h, int mi, int s)
{
	return tz_days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + s;
}

/* Local wall times use the same encoding. */
#define loc utc

static const struct tz *zone(const char *name)
{
	const struct tz *z = NULL;
	assert_int_equal(tz_get(name, &z), 0);
	assert_non_null(z);
	return z;
}

static int64_t floor_day(int64_t t)
{
	return t >= 0 ? t / DAY : -((-t + DAY - 1) / DAY);
}

/* ------------------------------------------------------------ civil */

static void test_civil_dates(void **state)
{
	(void)state;
	assert_int_equal(tz_days_from_civil(1970, 1, 1), 0);
	assert_int_equal(tz_days_from_civil(2000, 1, 1), 10957);
	assert_int_equal(tz_days_from_civil(2026, 11, 21), 20778);
	assert_int_equal(tz_days_from_civil(1969, 12, 31), -1);
	assert_int_equal(tz_days_from_civil(1600, 1, 1), -135140);

	/* ISO weekdays: 1970-01-01 Thu, 2000-01-01 Sat, 2026-11-21 Sat, 1969-12-31 Wed. */
	assert_int_equal(tz_iso_weekday(0), 4);
	assert_int_equal(tz_iso_weekday(10957), 6);
	assert_int_equal(tz_iso_weekday(tz_days_from_civil(2026, 11, 21)), 6);
	assert_int_equal(tz_iso_weekday(tz_days_from_civil(2026, 11, 22)), 7);
	assert_int_equal(tz_iso_weekday(tz_days_from_civil(2026, 11, 23)), 1);
	assert_int_equal(tz_iso_weekday(-1), 3);

	/* Leap years: every 4, not every 100, every 400. */
	assert_true(tz_valid_date(2024, 2, 29));
	assert_false(tz_valid_date(2026, 2, 29));
	assert_true(tz_valid_date(2000, 2, 29));
	assert_false(tz_valid_date(1900, 2, 29));
	assert_false(tz_valid_date(2100, 2, 29));
	assert_int_equal(tz_days_in_month(2024, 2), 29);
	assert_int_equal(tz_days_in_month(2100, 2), 28);
	assert_int_equal(tz_days_in_month(2026, 13), 0);
	assert_false(tz_valid_date(2026, 4, 31));
	assert_true(tz_valid_date(2026, 12, 31));
	assert_false(tz_valid_date(2026, 0, 1));
	assert_false(tz_valid_date(2026, 13, 1));
	assert_false(tz_valid_date(2026, 1, 0));
	assert_false(tz_valid_date(2026, 1, 32));
	assert_int_equal(tz_days_from_civil(2024, 3, 1) - tz_days_from_civil(2024, 2, 28), 2);
	assert_int_equal(tz_days_from_civil(2026, 3, 1) - tz_days_from_civil(2026, 2, 28), 1);

	/* Every day from 1600 to 2400 round-trips, one after another. */
	int64_t first = tz_days_from_civil(1600, 1, 1), last = tz_days_from_civil(2400, 12, 31);
	int py = 1599, pm = 12, pd = 31;
	for (int64_t days = first; days <= last; days++) {
		int y, m, d;
		tz_civil_from_days(days, &y, &m, &d);
		assert_true(tz_valid_date(y, m, d));
		assert_int_equal(tz_days_from_civil(y, m, d), days);
		bool next_day = y == py && m == pm && d == pd + 1;
		bool next_month = y == py && m == pm + 1 && d == 1 && pd == tz_days_in_month(py, pm);
		bool next_year = y == py + 1 && m == 1 && d == 1 && pm == 12 && pd == 31;
		assert_true(next_day || next_month || next_year);
		py = y, pm = m, pd = d;
	}
}

/* ------------------------------------------------------------ known facts */

static void test_new_york_2026(void **state)
{
	(void)state;
	const struct tz *ny = zone("America/New_York");
	assert_string_equal(tz_name(ny), "America/New_York");
	int64_t tr[8];
	assert_int_equal(tz_transitions(ny, utc(2026, 1, 1, 0, 0, 0), utc(2027, 1, 1, 0, 0, 0), tr, 8), 2);
	assert_int_equal(tr[0], utc(2026, 3, 8, 7, 0, 0));
	assert_int_equal(tr[1], utc(2026, 11, 1, 6, 0, 0));
	assert_int_equal(tz_offset_at(ny, tr[0] - 1), -5 * H);
	assert_int_equal(tz_offset_at(ny, tr[0]), -4 * H);
	assert_int_equal(tz_offset_at(ny, tr[1] - 1), -4 * H);
	assert_int_equal(tz_offset_at(ny, tr[1]), -5 * H);
	assert_string_equal(tz_abbrev_at(ny, tr[0] - 1), "EST");
	assert_string_equal(tz_abbrev_at(ny, tr[0]), "EDT");
	/* Local clock readings either side of the changes. */
	assert_int_equal(tz_utc_to_local(ny, tr[0] - 1), loc(2026, 3, 8, 1, 59, 59));
	assert_int_equal(tz_utc_to_local(ny, tr[0]), loc(2026, 3, 8, 3, 0, 0));
	assert_int_equal(tz_utc_to_local(ny, tr[1] - 1), loc(2026, 11, 1, 1, 59, 59));
	assert_int_equal(tz_utc_to_local(ny, tr[1]), loc(2026, 11, 1, 1, 0, 0));
	/* The range is half-open: [from, to). */
	assert_int_equal(tz_transitions(ny, tr[0], tr[1], tr + 2, 6), 1);
	assert_int_equal(tr[2], tr[0]);
	assert_int_equal(tz_transitions(ny, tr[0] + 1, tr[1] + 1, tr + 2, 6), 1);
	assert_int_equal(tr[2], tr[1]);
}

static void test_berlin_2026(void **state)
{
	(void)state;
	const struct tz *be = zone("Europe/Berlin");
	int64_t tr[8];
	assert_int_equal(tz_transitions(be, utc(2026, 1, 1, 0, 0, 0), utc(2027, 1, 1, 0, 0, 0), tr, 8), 2);
	assert_int_equal(tr[0], utc(2026, 3, 29, 1, 0, 0));
	assert_int_equal(tr[1], utc(2026, 10, 25, 1, 0, 0));
	assert_int_equal(tz_offset_at(be, tr[0] - 1), 1 * H);
	assert_int_equal(tz_offset_at(be, tr[0]), 2 * H);
	assert_int_equal(tz_offset_at(be, tr[1] - 1), 2 * H);
	assert_int_equal(tz_offset_at(be, tr[1]), 1 * H);
	assert_string_equal(tz_abbrev_at(be, tr[0]), "CEST");
	assert_string_equal(tz_abbrev_at(be, tr[1]), "CET");
}

static void expect_local(const struct tz *z, int64_t local, int64_t want, int want_kind)
{
	int kind = -1;
	assert_int_equal(tz_local_to_utc(z, local, &kind), want);
	assert_int_equal(kind, want_kind);
}

static void test_nine_am_on_change_days(void **state)
{
	(void)state;
	const struct tz *ny = zone("America/New_York"), *be = zone("Europe/Berlin");
	expect_local(ny, loc(2026, 3, 7, 9, 0, 0), utc(2026, 3, 7, 14, 0, 0), TZ_LOCAL_NORMAL);
	expect_local(ny, loc(2026, 3, 8, 9, 0, 0), utc(2026, 3, 8, 13, 0, 0), TZ_LOCAL_NORMAL);
	expect_local(ny, loc(2026, 3, 9, 9, 0, 0), utc(2026, 3, 9, 13, 0, 0), TZ_LOCAL_NORMAL);
	expect_local(ny, loc(2026, 10, 31, 9, 0, 0), utc(2026, 10, 31, 13, 0, 0), TZ_LOCAL_NORMAL);
	expect_local(ny, loc(2026, 11, 1, 9, 0, 0), utc(2026, 11, 1, 14, 0, 0), TZ_LOCAL_NORMAL);
	expect_local(be, loc(2026, 3, 28, 9, 0, 0), utc(2026, 3, 28, 8, 0, 0), TZ_LOCAL_NORMAL);
	expect_local(be, loc(2026, 3, 29, 9, 0, 0), utc(2026, 3, 29, 7, 0, 0), TZ_LOCAL_NORMAL);
	expect_local(be, loc(2026, 10, 24, 9, 0, 0), utc(2026, 10, 24, 7, 0, 0), TZ_LOCAL_NORMAL);
	expect_local(be, loc(2026, 10, 25, 9, 0, 0), utc(2026, 10, 25, 8, 0, 0), TZ_LOCAL_NORMAL);
	/* kind is optional. */
	assert_int_equal(tz_local_to_utc(ny, loc(2026, 3, 8, 9, 0, 0), NULL), utc(2026, 3, 8, 13, 0, 0));
}

static void test_gap_and_fold(void **state)
{
	(void)state;
	const struct tz *ny = zone("America/New_York"), *be = zone("Europe/Berlin");
	/* Spring forward: 02:00–02:59:59 does not exist; the old offset (EST) is kept. */
	expect_local(ny, loc(2026, 3, 8, 1, 59, 59), utc(2026, 3, 8, 6, 59, 59), TZ_LOCAL_NORMAL);
	expect_local(ny, loc(2026, 3, 8, 2, 0, 0), utc(2026, 3, 8, 7, 0, 0), TZ_LOCAL_GAP);
	expect_local(ny, loc(2026, 3, 8, 2, 30, 0), utc(2026, 3, 8, 7, 30, 0), TZ_LOCAL_GAP);
	expect_local(ny, loc(2026, 3, 8, 2, 59, 59), utc(2026, 3, 8, 7, 59, 59), TZ_LOCAL_GAP);
	expect_local(ny, loc(2026, 3, 8, 3, 0, 0), utc(2026, 3, 8, 7, 0, 0), TZ_LOCAL_NORMAL);
	/* 02:30 in the gap reads 03:30 on the clock afterwards. */
	assert_int_equal(tz_utc_to_local(ny, utc(2026, 3, 8, 7, 30, 0)), loc(2026, 3, 8, 3, 30, 0));
	/* Fall back: 01:00–01:59:59 happens twice; the earlier (EDT) wins. */
	expect_local(ny, loc(2026, 11, 1, 0, 59, 59), utc(2026, 11, 1, 4, 59, 59), TZ_LOCAL_NORMAL);
	expect_local(ny, loc(2026, 11, 1, 1, 0, 0), utc(2026, 11, 1, 5, 0, 0), TZ_LOCAL_FOLD);
	expect_local(ny, loc(2026, 11, 1, 1, 30, 0), utc(2026, 11, 1, 5, 30, 0), TZ_LOCAL_FOLD);
	expect_local(ny, loc(2026, 11, 1, 1, 59, 59), utc(2026, 11, 1, 5, 59, 59), TZ_LOCAL_FOLD);
	expect_local(ny, loc(2026, 11, 1, 2, 0, 0), utc(2026, 11, 1, 7, 0, 0), TZ_LOCAL_NORMAL);
	/* Berlin: 02:00–03:00 skipped on 29 March, 02:00–03:00 repeated on 25 October. */
	expect_local(be, loc(2026, 3, 29, 2, 30, 0), utc(2026, 3, 29, 1, 30, 0), TZ_LOCAL_GAP);
	expect_local(be, loc(2026, 3, 29, 3, 0, 0), utc(2026, 3, 29, 1, 0, 0), TZ_LOCAL_NORMAL);
	expect_local(be, loc(2026, 10, 25, 2, 30, 0), utc(2026, 10, 25, 0, 30, 0), TZ_LOCAL_FOLD);
	expect_local(be, loc(2026, 10, 25, 3, 0, 0), utc(2026, 10, 25, 2, 0, 0), TZ_LOCAL_NORMAL);
}

/* Every change 2026–2036 in New York and Berlin: two a year, on the right
 * Sunday at the right hour, and 09:00 on that day and the next round-trips. */
struct dst_law {
	const char *zone;
	int32_t std, dst;       /* offsets */
	int spring_m, fall_m;   /* months */
	int spring_lo, fall_lo; /* first possible day of month (a 7-day window) */
	int spring_h, fall_h;   /* UTC hour of the change */
};

static void check_change(const struct tz *z, int64_t t, int32_t before, int32_t after, int y, int m, int lo,
                         int hour)
{
	assert_int_equal(tz_offset_at(z, t - 1), before);
	assert_int_equal(tz_offset_at(z, t), after);
	int64_t day = floor_day(tz_utc_to_local(z, t));
	int yy, mm, dd;
	tz_civil_from_days(day, &yy, &mm, &dd);
	assert_int_equal(yy, y);
	assert_int_equal(mm, m);
	assert_int_equal(tz_iso_weekday(day), 7);
	assert_in_range(dd, lo, lo + 6);
	assert_int_equal(t, utc(y, m, dd, hour, 0, 0));
	for (int64_t d = day; d <= day + 1; d++) {
		int64_t local = d * DAY + 9 * H;
		int kind = -1;
		int64_t u = tz_local_to_utc(z, local, &kind);
		assert_int_equal(kind, TZ_LOCAL_NORMAL);
		assert_int_equal(tz_utc_to_local(z, u), local);
		assert_int_equal(tz_offset_at(z, u), after);
		assert_int_equal(u, local - after);
	}
}

static void test_dst_changes_2026_2036(void **state)
{
	(void)state;
	static const struct dst_law laws[] = {
	    {"America/New_York", -5 * H, -4 * H, 3, 11, 8, 1, 7, 6}, /* 2nd Sun Mar, 1st Sun Nov */
	    {"Europe/Berlin", 1 * H, 2 * H, 3, 10, 25, 25, 1, 1},    /* last Sun Mar, last Sun Oct */
	};
	int checked = 0;
	for (size_t i = 0; i < ARRAY_LEN(laws); i++) {
		const struct dst_law *l = &laws[i];
		const struct tz *z = zone(l->zone);
		for (int y = 2026; y <= 2036; y++) {
			int64_t tr[8];
			size_t n = tz_transitions(z, utc(y, 1, 1, 0, 0, 0), utc(y + 1, 1, 1, 0, 0, 0), tr, 8);
			assert_int_equal(n, 2);
			check_change(z, tr[0], l->std, l->dst, y, l->spring_m, l->spring_lo, l->spring_h);
			check_change(z, tr[1], l->dst, l->std, y, l->fall_m, l->fall_lo, l->fall_h);
			checked += 2;
		}
	}
	assert_int_equal(checked, 44);
}

static void test_lord_howe_half_hour(void **state)
{
	(void)state;
	const struct tz *lh = zone("Australia/Lord_Howe");
	assert_int_equal(tz_offset_at(lh, utc(2026, 1, 15, 0, 0, 0)), 11 * H);
	assert_int_equal(tz_offset_at(lh, utc(2026, 7, 15, 0, 0, 0)), 10 * H + 30 * 60);
	int64_t tr[8];
	assert_int_equal(tz_transitions(lh, utc(2026, 1, 1, 0, 0, 0), utc(2027, 1, 1, 0, 0, 0), tr, 8), 2);
	assert_int_equal(tr[0], utc(2026, 4, 4, 15, 0, 0));   /* Sun 5 Apr 02:00 +11 → 01:30 +1030 */
	assert_int_equal(tr[1], utc(2026, 10, 3, 15, 30, 0)); /* Sun 4 Oct 02:00 +1030 → 02:30 +11 */
	assert_int_equal(tz_offset_at(lh, tr[0]) - tz_offset_at(lh, tr[0] - 1), -30 * 60);
	assert_int_equal(tz_offset_at(lh, tr[1]) - tz_offset_at(lh, tr[1] - 1), 30 * 60);
	/* The half-hour fold and gap. */
	expect_local(lh, loc(2026, 4, 5, 1, 45, 0), utc(2026, 4, 4, 14, 45, 0), TZ_LOCAL_FOLD);
	expect_local(lh, loc(2026, 4, 5, 2, 0, 0), utc(2026, 4, 4, 15, 30, 0), TZ_LOCAL_NORMAL);
	expect_local(lh, loc(2026, 10, 4, 2, 15, 0), utc(2026, 10, 3, 15, 45, 0), TZ_LOCAL_GAP);
	expect_local(lh, loc(2026, 10, 4, 2, 30, 0), utc(2026, 10, 3, 15, 30, 0), TZ_LOCAL_NORMAL);
	expect_local(lh, loc(2026, 10, 4, 9, 0, 0), utc(2026, 10, 3, 22, 0, 0), TZ_LOCAL_NORMAL);
	char buf[32];
	tz_format_rfc3339(lh, utc(2026, 7, 1, 0, 0, 0), buf, sizeof(buf));
	assert_string_equal(buf, "2026-07-01T10:30:00+10:30");
	assert_string_equal(tz_abbrev_at(lh, utc(2026, 7, 1, 0, 0, 0)), "+1030");
}

/* Debian's files are "fat": transitions are stored until 2037 and only the
 * footer rule knows 2045. */
static void test_beyond_the_table(void **state)
{
	(void)state;
	int64_t tr[8];
	const struct tz *ny = zone("America/New_York"), *be = zone("Europe/Berlin"),
	                *lh = zone("Australia/Lord_Howe");
	int64_t y45 = utc(2045, 1, 1, 0, 0, 0), y46 = utc(2046, 1, 1, 0, 0, 0);
	assert_int_equal(tz_transitions(ny, y45, y46, tr, 8), 2);
	assert_int_equal(tr[0], utc(2045, 3, 12, 7, 0, 0));
	assert_int_equal(tr[1], utc(2045, 11, 5, 6, 0, 0));
	assert_int_equal(tz_transitions(be, y45, y46, tr, 8), 2);
	assert_int_equal(tr[0], utc(2045, 3, 26, 1, 0, 0));
	assert_int_equal(tr[1], utc(2045, 10, 29, 1, 0, 0));
	assert_int_equal(tz_transitions(lh, y45, y46, tr, 8), 2);
	assert_int_equal(tr[0], utc(2045, 4, 1, 15, 0, 0));
	assert_int_equal(tr[1], utc(2045, 9, 30, 15, 30, 0));
	expect_local(ny, loc(2045, 3, 12, 2, 30, 0), utc(2045, 3, 12, 7, 30, 0), TZ_LOCAL_GAP);
	expect_local(ny, loc(2045, 11, 5, 1, 30, 0), utc(2045, 11, 5, 5, 30, 0), TZ_LOCAL_FOLD);
	expect_local(ny, loc(2045, 11, 5, 9, 0, 0), utc(2045, 11, 5, 14, 0, 0), TZ_LOCAL_NORMAL);
	/* Two changes every year for the rest of the century, none in Kolkata. */
	for (int y = 2038; y < 2100; y++) {
		assert_int_equal(tz_transitions(ny, utc(y, 1, 1, 0, 0, 0), utc(y + 1, 1, 1, 0, 0, 0), tr, 8),
		                 2);
		assert_int_equal(tz_transitions(be, utc(y, 1, 1, 0, 0, 0), utc(y + 1, 1, 1, 0, 0, 0), tr, 8),
		                 2);
		assert_int_equal(tz_transitions(lh, utc(y, 1, 1, 0, 0, 0), utc(y + 1, 1, 1, 0, 0, 0), tr, 8),
		                 2);
	}
	const struct tz *in = zone("Asia/Kolkata");
	assert_int_equal(tz_transitions(in, utc(1970, 1, 1, 0, 0, 0), utc(2100, 1, 1, 0, 0, 0), tr, 8), 0);
	assert_int_equal(tz_offset_at(in, utc(2045, 6, 1, 0, 0, 0)), 5 * H + 30 * 60);
}

/* ------------------------------------------------------------ glibc */

/* glibc's answer for the zone TZ names; localtime_r is the re-entrant form
 * banned.h allows, and this test is single-threaded here. */
static long glibc_offset(int64_t t, char *abbr, size_t abbrlen)
{
	time_t tt = (time_t)t;
	struct tm tm;
	assert_non_null(localtime_r(&tt, &tm));
	snprintf(abbr, abbrlen, "%s", tm.tm_zone);
	return tm.tm_gmtoff;
}

static void test_agrees_with_glibc(void **state)
{
	(void)state;
	static const char *const zones[] = {
	    "America/New_York",    "Europe/Berlin",     "Australia/Lord_Howe",
	    "America/Sao_Paulo",   "Asia/Kolkata",      "UTC",
	    "America/Santiago",    "Pacific/Chatham",   "America/Nuuk",
	    "Europe/Dublin",       "Africa/Casablanca", "Asia/Tehran",
	    "Australia/Sydney",    "America/St_Johns",  "Pacific/Kiritimati",
	    "America/Los_Angeles",
	};
	const char *saved = getenv("TZ");
	char *saved_copy = saved ? xstrdup(saved) : NULL;
	long points = 0;
	for (size_t i = 0; i < ARRAY_LEN(zones); i++) {
		const struct tz *z = zone(zones[i]);
		assert_int_equal(setenv("TZ", zones[i], 1), 0);
		tzset();
		char abbr[64];
		/* Every 6 hours 2026–2050: the stored table, then the footer rule. */
		for (int64_t t = utc(2026, 1, 1, 0, 0, 0); t < utc(2051, 1, 1, 0, 0, 0); t += 6 * H) {
			long want = glibc_offset(t, abbr, sizeof(abbr));
			if (tz_offset_at(z, t) != want)
				fail_msg("%s at %lld: ours %d, glibc %ld", zones[i], (long long)t,
				         tz_offset_at(z, t), want);
			assert_string_equal(tz_abbrev_at(z, t), abbr);
			points++;
		}
		/* And one second either side of every change 1970–2100. */
		int64_t tr[512];
		size_t n = tz_transitions(z, 0, utc(2100, 1, 1, 0, 0, 0), tr, ARRAY_LEN(tr));
		assert_true(n < ARRAY_LEN(tr));
		for (size_t k = 0; k < n; k++) {
			assert_int_equal(tz_offset_at(z, tr[k] - 1),
			                 glibc_offset(tr[k] - 1, abbr, sizeof(abbr)));
			assert_int_equal(tz_offset_at(z, tr[k]), glibc_offset(tr[k], abbr, sizeof(abbr)));
			assert_true(glibc_offset(tr[k] - 1, abbr, sizeof(abbr)) !=
			            glibc_offset(tr[k], abbr, sizeof(abbr)));
			points += 2;
		}
	}
	if (saved_copy)
		setenv("TZ", saved_copy, 1);
	else
		unsetenv("TZ");
	tzset();
	free(saved_copy);
	assert_true(points > 16 * 36000);
}

/* ------------------------------------------------------------ synthetic TZif */

/* One local time type as written to a test image. */
struct ttype {
	int32_t off;   /* seconds east */
	uint8_t isdst; /* 0 or 1 (anything to test the check) */
	uint8_t abbr;  /* index into chars */
};

/* A TZif image being built. */
struct img {
	unsigned char b[16384]; /* the bytes */
	size_t n;               /* used */
};

static void put(struct img *m, const void *p, size_t n)
{
	assert_true(m->n + n <= sizeof(m->b));
	if (n)
		memcpy(m->b + m->n, p, n);
	m->n += n;
}

static void put32(struct img *m, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16), (unsigned char)(v >> 8),
	                      (unsigned char)v};
	put(m, b, 4);
}

static void put_header(struct img *m, unsigned char version, uint32_t leapcnt, uint32_t timecnt,
                       uint32_t typecnt, uint32_t charcnt)
{
	static const unsigned char zero[15];
	put(m, "TZif", 4);
	put(m, &version, 1);
	put(m, zero, 15);
	put32(m, 0); /* isutcnt */
	put32(m, 0); /* isstdcnt */
	put32(m, leapcnt);
	put32(m, timecnt);
	put32(m, typecnt);
	put32(m, charcnt);
}

/* A version '2' image as slim zic writes it (stub v1 block), or a version 1
 * image with 32-bit times and no footer when version is 0. */
static void make_tzif(struct img *m, unsigned char version, const int64_t *trans, const uint8_t *idx,
                      size_t nt, const struct ttype *types, size_t ntypes, const char *chars, size_t nchars,
                      const char *footer)
{
	m->n = 0;
	if (version == 0) {
		put_header(m, 0, 0, (uint32_t)nt, (uint32_t)ntypes, (uint32_t)nchars);
		for (size_t i = 0; i < nt; i++)
			put32(m, (uint32_t)(int32_t)trans[i]);
	} else {
		static const unsigned char stub[7];
		put_header(m, version, 0, 0, 1, 1);
		put(m, stub, sizeof(stub));
		put_header(m, version, 0, (uint32_t)nt, (uint32_t)ntypes, (uint32_t)nchars);
		for (size_t i = 0; i < nt; i++) {
			put32(m, (uint32_t)((uint64_t)trans[i] >> 32));
			put32(m, (uint32_t)trans[i]);
		}
	}
	put(m, idx, nt);
	for (size_t i = 0; i < ntypes; i++) {
		put32(m, (uint32_t)types[i].off);
		put(m, &types[i].isdst, 1);
		put(m, &types[i].abbr, 1);
	}
	put(m, chars, nchars);
	if (version != 0) {
		put(m, "\n", 1);
		put(m, footer, strlen(footer));
		put(m, "\n", 1);
	}
}

/* A zone that is nothing but a footer rule (the extreme of "slim"). */
static struct tz *footer_only(const char *footer, int32_t std, int32_t dst)
{
	static struct img m;
	const struct ttype types[2] = {{std, 0, 0}, {dst, 1, 4}};
	make_tzif(&m, '2', NULL, NULL, 0, types, 2, "STD\0DST", 8, footer);
	struct tz *z = NULL;
	assert_int_equal(tz_parse(m.b, m.n, footer, &z), 0);
	return z;
}

/* The footer alone must reproduce the real (fat) zone's table. */
static void same_as_real(const struct tz *synthetic, const char *real, int from_year, int to_year)
{
	const struct tz *z = zone(real);
	int64_t a = utc(from_year, 1, 1, 0, 0, 0), b = utc(to_year, 1, 1, 0, 0, 0);
	for (int64_t t = a; t < b; t += 6 * H + 7 * 60 + 11)
		if (tz_offset_at(synthetic, t) != tz_offset_at(z, t))
			fail_msg("%s at %lld: footer %d, table %d", real, (long long)t,
			         tz_offset_at(synthetic, t), tz_offset_at(z, t));
	int64_t ta[64], tb[64];
	size_t na = tz_transitions(synthetic, a, b, ta, 64), nb = tz_transitions(z, a, b, tb, 64);
	assert_int_equal(na, nb);
	assert_int_equal(na, 2 * (size_t)(to_year - from_year));
	assert_memory_equal(ta, tb, na * sizeof(int64_t));
}

static void test_footer_rules(void **state)
{
	(void)state;
	struct tz *z;

	z = footer_only("EST5EDT,M3.2.0,M11.1.0", -5 * H, -4 * H);
	same_as_real(z, "America/New_York", 2026, 2037);
	expect_local(z, loc(2026, 3, 8, 2, 30, 0), utc(2026, 3, 8, 7, 30, 0), TZ_LOCAL_GAP);
	expect_local(z, loc(2026, 11, 1, 1, 30, 0), utc(2026, 11, 1, 5, 30, 0), TZ_LOCAL_FOLD);
	assert_string_equal(tz_abbrev_at(z, utc(2026, 7, 1, 0, 0, 0)), "EDT");
	tz_free(z);

	z = footer_only("CET-1CEST,M3.5.0,M10.5.0/3", 1 * H, 2 * H);
	same_as_real(z, "Europe/Berlin", 2026, 2037);
	tz_free(z);

	/* Southern hemisphere, half-hour DST, quoted abbreviations. */
	z = footer_only("<+1030>-10:30<+11>-11,M10.1.0,M4.1.0", 10 * H + 1800, 11 * H);
	same_as_real(z, "Australia/Lord_Howe", 2026, 2037);
	assert_string_equal(tz_abbrev_at(z, utc(2026, 7, 1, 0, 0, 0)), "+1030");
	tz_free(z);

	/* Chatham: 45-minute offsets, changes at 2:45 and 3:45. */
	z = footer_only("<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45", 12 * H + 2700, 13 * H + 2700);
	same_as_real(z, "Pacific/Chatham", 2026, 2037);
	tz_free(z);

	/* Version 3 extensions: a negative change time (Nuuk, 22:00 the day before)... */
	z = footer_only("<-02>2<-01>,M3.5.0/-1,M10.5.0/0", -2 * H, -1 * H);
	same_as_real(z, "America/Nuuk", 2026, 2037);
	tz_free(z);
	/* ...24:00 (Santiago: midnight at the end of Saturday)... */
	z = footer_only("<-04>4<-03>,M9.1.6/24,M4.1.6/24", -4 * H, -3 * H);
	same_as_real(z, "America/Santiago", 2026, 2037);
	tz_free(z);
	/* ...negative DST (Dublin: IST is standard, GMT in winter)... */
	z = footer_only("IST-1GMT0,M10.5.0,M3.5.0/1", 1 * H, 0);
	same_as_real(z, "Europe/Dublin", 2026, 2037);
	tz_free(z);
	/* ...and daylight time all year: no change ever. */
	z = footer_only("EST5EDT4,0/0,J365/25", -5 * H, -4 * H);
	int64_t tr[8];
	assert_int_equal(tz_transitions(z, utc(2020, 1, 1, 0, 0, 0), utc(2040, 1, 1, 0, 0, 0), tr, 8), 0);
	for (int64_t t = utc(2020, 1, 1, 0, 0, 0); t < utc(2040, 1, 1, 0, 0, 0); t += 3 * H + 17)
		assert_int_equal(tz_offset_at(z, t), -4 * H);
	tz_free(z);

	/* Julian days: J60 is 1 March in every year; zero-based 59 is 29 February
	 * Daylight time ends at the start of day 59 and starts on J60, so standard
	 * time lasts an hour in common years and a day and an hour in leap years. */
	z = footer_only("AAA-1BBB,J60/0,59/0", 1 * H, 2 * H);
	assert_int_equal(tz_transitions(z, utc(2026, 1, 1, 0, 0, 0), utc(2027, 1, 1, 0, 0, 0), tr, 8), 2);
	assert_int_equal(tr[0], utc(2026, 2, 28, 22, 0, 0));
	assert_int_equal(tr[1], utc(2026, 2, 28, 23, 0, 0));
	assert_int_equal(tz_transitions(z, utc(2024, 1, 1, 0, 0, 0), utc(2025, 1, 1, 0, 0, 0), tr, 8), 2);
	assert_int_equal(tr[0], utc(2024, 2, 28, 22, 0, 0));
	assert_int_equal(tr[1], utc(2024, 2, 29, 23, 0, 0));
	assert_int_equal(tz_offset_at(z, utc(2024, 2, 29, 12, 0, 0)), 1 * H);
	assert_int_equal(tz_offset_at(z, utc(2024, 7, 1, 0, 0, 0)), 2 * H);
	tz_free(z);

	/* A footer with no daylight time: a fixed offset. */
	z = footer_only("<+0530>-5:30", 5 * H + 1800, 0);
	assert_int_equal(tz_offset_at(z, utc(2026, 6, 1, 0, 0, 0)), 5 * H + 1800);
	assert_string_equal(tz_abbrev_at(z, 0), "+0530");
	tz_free(z);
}

/* A table that stops in 2025 and a footer that carries on. */
static void test_table_then_footer(void **state)
{
	(void)state;
	static struct img m;
	const struct ttype types[3] = {{-17762, 0, 0}, {-5 * H, 0, 4}, {-4 * H, 1, 8}};
	const int64_t trans[3] = {-2717650800, utc(2025, 3, 9, 7, 0, 0), utc(2025, 11, 2, 6, 0, 0)};
	const uint8_t idx[3] = {1, 2, 1};
	make_tzif(&m, '2', trans, idx, 3, types, 3, "LMT\0EST\0EDT", 12, "EST5EDT,M3.2.0,M11.1.0");
	struct tz *z = NULL;
	assert_int_equal(tz_parse(m.b, m.n, "Test/Mixed", &z), 0);
	assert_string_equal(tz_name(z), "Test/Mixed");
	same_as_real(z, "America/New_York", 2025, 2040);
	/* Before the first transition: type 0 (local mean time). */
	assert_int_equal(tz_offset_at(z, -2717650801), -17762);
	assert_string_equal(tz_abbrev_at(z, -2717650801), "LMT");
	/* An LMT offset has seconds: RFC 3339 gets whole minutes and the same instant. */
	char buf[32];
	int64_t t = -2717650801 - 86400 * 365;
	tz_format_rfc3339(z, t, buf, sizeof(buf));
	assert_string_equal(buf, "1882-11-18T12:03:59-04:56");
	tz_free(z);

	/* A footer that disagrees with the last stored type takes over just
	 * after the last transition, and that change is reported too. */
	const int64_t one[1] = {utc(2025, 1, 1, 0, 0, 0)};
	const uint8_t to_est[1] = {1};
	make_tzif(&m, '2', one, to_est, 1, types, 3, "LMT\0EST\0EDT", 12, "<+03>-3");
	assert_int_equal(tz_parse(m.b, m.n, "Test/Odd", &z), 0);
	int64_t odd[4];
	assert_int_equal(tz_transitions(z, utc(2024, 1, 1, 0, 0, 0), utc(2026, 1, 1, 0, 0, 0), odd, 4), 2);
	assert_int_equal(odd[0], one[0]);
	assert_int_equal(odd[1], one[0] + 1);
	assert_int_equal(tz_offset_at(z, one[0]), -5 * H);
	assert_int_equal(tz_offset_at(z, one[0] + 1), 3 * H);
	tz_free(z);

	/* The same table as a version 1 file (32-bit times, no footer): the
	 * last type holds for ever. */
	make_tzif(&m, 0, trans, idx, 3, types, 3, "LMT\0EST\0EDT", 12, "");
	assert_int_equal(tz_parse(m.b, m.n, NULL, &z), 0);
	assert_string_equal(tz_name(z), "");
	assert_int_equal(tz_offset_at(z, utc(2025, 7, 1, 0, 0, 0)), -4 * H);
	assert_int_equal(tz_offset_at(z, utc(2030, 7, 1, 0, 0, 0)), -5 * H);
	int64_t tr[8];
	assert_int_equal(tz_transitions(z, utc(2025, 1, 1, 0, 0, 0), utc(2040, 1, 1, 0, 0, 0), tr, 8), 2);
	tz_free(z);
}

/* ------------------------------------------------------------ malformed */

static unsigned char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	unsigned char *b = xmalloc(1 << 16);
	*len = fread(b, 1, 1 << 16, f);
	fclose(f);
	assert_true(*len > 0 && *len < (1 << 16));
	return b;
}

static void expect_invalid(const struct img *m)
{
	struct tz *z = (struct tz *)1;
	assert_int_equal(tz_parse(m->b, m->n, "bad", &z), ERR_INVALID);
	assert_null(z);
}

static void test_parse_rejects_malformed(void **state)
{
	(void)state;
	size_t len;
	unsigned char *ny = slurp("/usr/share/zoneinfo/America/New_York", &len);
	struct tz *z = NULL;
	assert_int_equal(tz_parse(ny, len, "ny", &z), 0);
	assert_int_equal(tz_offset_at(z, utc(2026, 7, 1, 0, 0, 0)), -4 * H);
	tz_free(z);

	/* Every truncation is refused (the footer's closing newline is last). */
	for (size_t n = 0; n < len; n++) {
		z = (struct tz *)1;
		assert_int_equal(tz_parse(ny, n, "cut", &z), ERR_INVALID);
		assert_null(z);
	}
	/* Any single corrupted byte: refused or parsed, never a crash or overread. */
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit += 3) {
			ny[i] ^= (unsigned char)(1u << bit);
			int rc = tz_parse(ny, len, "flip", &z);
			assert_true(rc == 0 || rc == ERR_INVALID);
			if (rc == 0) {
				int64_t tr[16];
				(void)tz_offset_at(z, 0);
				(void)tz_local_to_utc(z, loc(2026, 3, 8, 2, 30, 0), NULL);
				(void)tz_transitions(z, 0, utc(2100, 1, 1, 0, 0, 0), tr, 16);
				tz_free(z);
			}
			ny[i] ^= (unsigned char)(1u << bit);
		}
	}
	free(ny);
	assert_int_equal(tz_parse(NULL, 0, "x", &z), ERR_INVALID);

	static struct img m;
	const struct ttype ok[2] = {{-5 * H, 0, 0}, {-4 * H, 1, 4}};
	const int64_t trans[2] = {100, 200};
	const uint8_t idx[2] = {0, 1};
	const char *rule = "EST5EDT,M3.2.0,M11.1.0";
	make_tzif(&m, '2', trans, idx, 2, ok, 2, "EST\0EDT", 8, rule);
	assert_int_equal(tz_parse(m.b, m.n, "good", &z), 0);
	tz_free(z);
	/* Trailing bytes after the footer are ignored. */
	put(&m, "junk", 4);
	assert_int_equal(tz_parse(m.b, m.n, "good", &z), 0);
	tz_free(z);

	/* Transitions out of order or repeated. */
	const int64_t unsorted[2] = {200, 100}, repeated[2] = {100, 100};
	make_tzif(&m, '2', unsorted, idx, 2, ok, 2, "EST\0EDT", 8, rule);
	expect_invalid(&m);
	make_tzif(&m, '2', repeated, idx, 2, ok, 2, "EST\0EDT", 8, rule);
	expect_invalid(&m);
	/* A transition to a type that does not exist. */
	const uint8_t bad_idx[2] = {0, 2};
	make_tzif(&m, '2', trans, bad_idx, 2, ok, 2, "EST\0EDT", 8, rule);
	expect_invalid(&m);
	/* Abbreviation index past the strings; strings not NUL-terminated. */
	const struct ttype far[2] = {{-5 * H, 0, 0}, {-4 * H, 1, 8}};
	make_tzif(&m, '2', trans, idx, 2, far, 2, "EST\0EDT", 8, rule);
	expect_invalid(&m);
	make_tzif(&m, '2', trans, idx, 2, ok, 2, "EST\0EDTX", 8, rule);
	expect_invalid(&m);
	/* isdst other than 0/1; offsets beyond ±26 hours. */
	const struct ttype dst2[2] = {{-5 * H, 0, 0}, {-4 * H, 2, 4}};
	make_tzif(&m, '2', trans, idx, 2, dst2, 2, "EST\0EDT", 8, rule);
	expect_invalid(&m);
	const struct ttype huge[2] = {{-5 * H, 0, 0}, {INT32_MIN, 1, 4}};
	make_tzif(&m, '2', trans, idx, 2, huge, 2, "EST\0EDT", 8, rule);
	expect_invalid(&m);
	/* No types, no strings. */
	make_tzif(&m, '2', NULL, NULL, 0, ok, 0, "EST\0EDT", 8, rule);
	expect_invalid(&m);
	make_tzif(&m, '2', NULL, NULL, 0, ok, 1, "", 0, rule);
	expect_invalid(&m);

	/* Footers: each of these is refused. */
	static const char *const bad_footers[] = {
	    "EST",                        /* no offset */
	    "ES5",                        /* abbreviation too short */
	    "EST5EDT",                    /* daylight time without a rule */
	    "EST5EDT,M3.2.0",             /* only a start */
	    "EST5EDT,M13.2.0,M11.1.0",    /* month 13 */
	    "EST5EDT,M3.6.0,M11.1.0",     /* week 6 */
	    "EST5EDT,M3.2.7,M11.1.0",     /* weekday 7 */
	    "EST5EDT,J0,J365",            /* Julian day 0 */
	    "EST5EDT,366,J365",           /* zero-based day 366 */
	    "EST5EDT,M3.2.0/168,M11.1.0", /* change hour past 167 */
	    "EST25EDT,M3.2.0,M11.1.0",    /* offset past 24 h */
	    "EST5:60EDT,M3.2.0,M11.1.0",  /* minutes 60 */
	    "EST5EDT,M3.2.0,M11.1.0x",    /* trailing junk */
	    "<EST5",                      /* unterminated quote */
	    "<E/T>5",                     /* bad character in quotes */
	    "ABCDEFGHIJKLMNOP5",          /* abbreviation over 15 */
	    ":America/New_York",          /* a file name, not a rule */
	};
	for (size_t i = 0; i < ARRAY_LEN(bad_footers); i++) {
		make_tzif(&m, '2', trans, idx, 2, ok, 2, "EST\0EDT", 8, bad_footers[i]);
		z = (struct tz *)1;
		if (tz_parse(m.b, m.n, "bad", &z) != ERR_INVALID)
			fail_msg("footer accepted: %s", bad_footers[i]);
	}
	/* An empty footer is allowed: the last type holds for ever. */
	make_tzif(&m, '2', trans, idx, 2, ok, 2, "EST\0EDT", 8, "");
	assert_int_equal(tz_parse(m.b, m.n, "nofooter", &z), 0);
	assert_int_equal(tz_offset_at(z, utc(2040, 1, 1, 0, 0, 0)), -4 * H);
	tz_free(z);
	/* A footer longer than 255 bytes or with no closing newline. */
	char long_footer[300];
	memset(long_footer, 'A', sizeof(long_footer) - 1);
	long_footer[sizeof(long_footer) - 1] = '\0';
	make_tzif(&m, '2', trans, idx, 2, ok, 2, "EST\0EDT", 8, long_footer);
	expect_invalid(&m);
	make_tzif(&m, '2', trans, idx, 2, ok, 2, "EST\0EDT", 8, rule);
	m.n--;
	expect_invalid(&m);

	/* Header: bad magic, unknown version, counts that promise more bytes than there are. */
	make_tzif(&m, '2', trans, idx, 2, ok, 2, "EST\0EDT", 8, rule);
	m.b[0] = 'X';
	expect_invalid(&m);
	make_tzif(&m, '1', trans, idx, 2, ok, 2, "EST\0EDT", 8, rule);
	expect_invalid(&m);
	make_tzif(&m, '2', trans, idx, 2, ok, 2, "EST\0EDT", 8, rule);
	size_t v2 = 44 + 7;  /* the second header */
	m.b[v2 + 32] = 0xff; /* timecnt ≈ 4 billion */
	expect_invalid(&m);
	make_tzif(&m, '2', trans, idx, 2, ok, 2, "EST\0EDT", 8, rule);
	m.b[v2 + 38] = 1; /* typecnt 257: more types than a byte index can reach */
	m.b[v2 + 39] = 1;
	expect_invalid(&m);
	/* Leap-second ("right/") data is refused. */
	make_tzif(&m, '2', trans, idx, 2, ok, 2, "EST\0EDT", 8, rule);
	m.b[v2 + 31] = 1;
	expect_invalid(&m);
	/* Indicator counts must be 0 or typecnt. */
	make_tzif(&m, '2', trans, idx, 2, ok, 2, "EST\0EDT", 8, rule);
	m.b[v2 + 23] = 1;
	expect_invalid(&m);
}

/* ------------------------------------------------------------ loading */

static void test_names(void **state)
{
	(void)state;
	const struct tz *z = (const struct tz *)1;
	static const char *const bad[] = {
	    "../etc/passwd",
	    "/etc/passwd",
	    "Nope/Zone",
	    "",
	    "America/../../etc/passwd",
	    "America//New_York",
	    "America/New_York/",
	    "America/New York",
	    "America\\New_York",
	    "America/New_York\n",
	    ".",
	    "America",
	    "zone.tab",
	    "tzdata.zi",
	    "America/./New_York",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		z = (const struct tz *)1;
		if (tz_get(bad[i], &z) != ERR_NOT_FOUND)
			fail_msg("name accepted: %s", bad[i]);
		assert_null(z);
	}
	assert_int_equal(tz_get(NULL, &z), ERR_NOT_FOUND);
	char longname[300];
	memset(longname, 'A', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(tz_get(longname, &z), ERR_NOT_FOUND);

	/* Aliases and odd-but-real names load; the cache hands back one object. */
	const struct tz *u = zone("UTC"), *g = zone("Etc/GMT+5"), *p = zone("Etc/GMT-14");
	assert_string_equal(tz_name(u), "UTC");
	assert_int_equal(tz_offset_at(u, utc(2026, 7, 1, 0, 0, 0)), 0);
	assert_int_equal(tz_offset_at(g, 0), -5 * H); /* POSIX sign: GMT+5 is west */
	assert_int_equal(tz_offset_at(p, 0), 14 * H);
	assert_ptr_equal(zone("UTC"), u);
	assert_ptr_equal(zone("America/New_York"), zone("America/New_York"));

	/* A leap-second zone, where Debian ships them. */
	struct stat st;
	if (stat("/usr/share/zoneinfo/right/UTC", &st) == 0)
		assert_int_equal(tz_get("right/UTC", &z), ERR_INVALID);
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void test_tzdir_override(void **state)
{
	(void)state;
	char dir[] = "/tmp/test_tz.XXXXXX";
	assert_non_null(mkdtemp(dir));
	char sub[64], good[96], junk[96], fifo[96];
	snprintf(sub, sizeof(sub), "%s/Test", dir);
	snprintf(good, sizeof(good), "%s/Test/Zone", dir);
	snprintf(junk, sizeof(junk), "%s/Test/Junk", dir);
	snprintf(fifo, sizeof(fifo), "%s/Test/Fifo", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	static struct img m;
	const struct ttype types[1] = {{5 * H + 45 * 60, 0, 0}};
	make_tzif(&m, '2', NULL, NULL, 0, types, 1, "+0545", 6, "<+0545>-5:45");
	write_file(good, m.b, m.n);
	write_file(junk, "not a zone file\n", 16);
	assert_int_equal(mkfifo(fifo, 0600), 0);

	const char *saved = getenv("TZDIR");
	char *saved_copy = saved ? xstrdup(saved) : NULL;
	tz_cache_clear();
	assert_int_equal(setenv("TZDIR", dir, 1), 0);
	const struct tz *z = NULL;
	assert_int_equal(tz_get("Test/Zone", &z), 0);
	assert_int_equal(tz_offset_at(z, utc(2026, 1, 1, 0, 0, 0)), 5 * H + 45 * 60);
	assert_int_equal(tz_get("Test/Junk", &z), ERR_INVALID);
	assert_int_equal(tz_get("Test/Fifo", &z), ERR_NOT_FOUND); /* and does not hang */
	assert_int_equal(tz_get("Test", &z), ERR_NOT_FOUND);
	assert_int_equal(tz_get("America/New_York", &z), ERR_NOT_FOUND);
	if (saved_copy)
		setenv("TZDIR", saved_copy, 1);
	else
		unsetenv("TZDIR");
	free(saved_copy);
	tz_cache_clear();
	assert_int_equal(tz_get("America/New_York", &z), 0);

	unlink(good);
	unlink(junk);
	unlink(fifo);
	rmdir(sub);
	rmdir(dir);
}

#define THREADS 8
static const char *const thread_zones[] = {"America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
                                           "Asia/Kolkata",     "UTC",           "America/Sao_Paulo"};
static const struct tz *thread_seen[THREADS][ARRAY_LEN(thread_zones)];

static void *thread_main(void *arg)
{
	size_t me = (size_t)(uintptr_t)arg;
	for (int round = 0; round < 200; round++) {
		for (size_t i = 0; i < ARRAY_LEN(thread_zones); i++) {
			size_t k = (i + me) % ARRAY_LEN(thread_zones); /* different orders */
			const struct tz *z = NULL;
			if (tz_get(thread_zones[k], &z) != 0)
				return (void *)1;
			if (thread_seen[me][k] && thread_seen[me][k] != z)
				return (void *)2;
			thread_seen[me][k] = z;
			int kind;
			int64_t t = tz_local_to_utc(z, loc(2026, 3, 8, 9, 0, 0), &kind);
			if (tz_utc_to_local(z, t) != loc(2026, 3, 8, 9, 0, 0) || kind != TZ_LOCAL_NORMAL)
				return (void *)3;
		}
	}
	return NULL;
}

static void test_threads_share_the_cache(void **state)
{
	(void)state;
	tz_cache_clear(); /* so the threads race to load */
	pthread_t th[THREADS];
	for (size_t i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, thread_main, (void *)(uintptr_t)i), 0);
	for (size_t i = 0; i < THREADS; i++) {
		void *ret;
		assert_int_equal(pthread_join(th[i], &ret), 0);
		assert_null(ret);
	}
	for (size_t k = 0; k < ARRAY_LEN(thread_zones); k++)
		for (size_t i = 1; i < THREADS; i++)
			assert_ptr_equal(thread_seen[i][k], thread_seen[0][k]);
}

/* ------------------------------------------------------------ RFC 3339 */

static void expect_rfc3339(const char *s, int64_t want)
{
	int64_t got = 0;
	if (tz_parse_rfc3339(s, &got) != 0)
		fail_msg("refused: %s", s);
	assert_int_equal(got, want);
}

static void test_rfc3339_parse(void **state)
{
	(void)state;
	expect_rfc3339("2026-03-08T09:00:00-05:00", utc(2026, 3, 8, 14, 0, 0));
	expect_rfc3339("2026-03-08T14:00:00Z", utc(2026, 3, 8, 14, 0, 0));
	expect_rfc3339("2026-03-08t14:00:00z", utc(2026, 3, 8, 14, 0, 0));
	expect_rfc3339("2026-03-08T19:30:00+05:30", utc(2026, 3, 8, 14, 0, 0));
	expect_rfc3339("2026-03-08T14:00:00.999999Z", utc(2026, 3, 8, 14, 0, 0));
	expect_rfc3339("2026-03-08T14:00:00.5-00:00", utc(2026, 3, 8, 14, 0, 0));
	expect_rfc3339("2026-03-09T00:30:00+10:30", utc(2026, 3, 8, 14, 0, 0));
	expect_rfc3339("2024-02-29T00:00:00Z", utc(2024, 2, 29, 0, 0, 0));
	expect_rfc3339("1970-01-01T00:00:00Z", 0);
	expect_rfc3339("1970-01-01T00:00:00+01:00", -3600);
	expect_rfc3339("9999-12-31T23:59:59Z", utc(9999, 12, 31, 23, 59, 59));
	expect_rfc3339("2026-12-31T23:59:59-23:59", utc(2027, 1, 1, 23, 58, 59));

	static const char *const bad[] = {
	    "2026-02-30T09:00:00Z",
	    "2026-13-01T09:00:00Z",
	    "2026-00-01T09:00:00Z",
	    "2026-01-00T09:00:00Z",
	    "2026-03-08T09:00:00",
	    "2026-03-08 09:00:00Z",
	    "2026-03-08T24:00:00Z",
	    "2026-03-08T09:60:00Z",
	    "2026-03-08T09:00:60Z",
	    "2026-03-08T09:00:00+24:00",
	    "2026-03-08T09:00:00+05:60",
	    "2026-03-08T09:00:00+0500",
	    "2026-03-08T09:00:00+05",
	    "2026-03-08T09:00:00.Z",
	    "2026-03-08T09:00:00ZZ",
	    "2026-03-08T09:00:00Z ",
	    " 2026-03-08T09:00:00Z",
	    "2026-3-08T09:00:00Z",
	    "2026-03-8T09:00:00Z",
	    "2026-03-08T9:00:00Z",
	    "1969-12-31T23:59:59Z",
	    "0000-01-01T00:00:00Z",
	    "10000-01-01T00:00:00Z",
	    "+2026-03-08T09:00:00Z",
	    "2026-03-08",
	    "2026-03-08T",
	    "",
	    "Z",
	    "2026-02-29T00:00:00Z",
	    "2026-03-08T09:00:00UTC",
	    "2026-03-08T09:00:00+5:00",
	    "２026-03-08T09:00:00Z",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		int64_t out = 42;
		if (tz_parse_rfc3339(bad[i], &out) != ERR_INVALID)
			fail_msg("accepted: \"%s\"", bad[i]);
		assert_int_equal(out, 42);
	}
	int64_t out;
	assert_int_equal(tz_parse_rfc3339(NULL, &out), ERR_INVALID);
	/* A string cut after every byte is refused, never read past its NUL. */
	const char *full = "2026-03-08T09:00:00.123+05:30";
	for (size_t n = 0; n < strlen(full); n++) {
		char *cut = xmalloc(n + 1);
		memcpy(cut, full, n);
		cut[n] = '\0';
		assert_int_equal(tz_parse_rfc3339(cut, &out), ERR_INVALID);
		free(cut);
	}
}

static void test_rfc3339_format(void **state)
{
	(void)state;
	const struct tz *ny = zone("America/New_York"), *in = zone("Asia/Kolkata"), *u = zone("UTC"),
	                *sp = zone("America/Sao_Paulo");
	char buf[32];
	tz_format_rfc3339(ny, utc(2026, 3, 8, 14, 0, 0), buf, sizeof(buf));
	assert_string_equal(buf, "2026-03-08T10:00:00-04:00");
	tz_format_rfc3339(ny, utc(2026, 3, 8, 6, 59, 59), buf, sizeof(buf));
	assert_string_equal(buf, "2026-03-08T01:59:59-05:00");
	tz_format_rfc3339(ny, utc(2026, 3, 7, 14, 0, 0), buf, sizeof(buf));
	assert_string_equal(buf, "2026-03-07T09:00:00-05:00");
	tz_format_rfc3339(ny, utc(2026, 11, 1, 5, 30, 0), buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-01T01:30:00-04:00");
	tz_format_rfc3339(ny, utc(2026, 11, 1, 6, 30, 0), buf, sizeof(buf));
	assert_string_equal(buf, "2026-11-01T01:30:00-05:00");
	tz_format_rfc3339(in, utc(2026, 12, 31, 20, 0, 0), buf, sizeof(buf));
	assert_string_equal(buf, "2027-01-01T01:30:00+05:30");
	tz_format_rfc3339(u, utc(2026, 3, 8, 14, 0, 0), buf, sizeof(buf));
	assert_string_equal(buf, "2026-03-08T14:00:00Z");
	tz_format_rfc3339(sp, utc(2026, 3, 8, 14, 0, 0), buf, sizeof(buf));
	assert_string_equal(buf, "2026-03-08T11:00:00-03:00");

	/* Format → parse gives back the instant, in every zone, across 2026. */
	const struct tz *zs[] = {ny, in, u, sp, zone("Australia/Lord_Howe"), zone("Pacific/Chatham")};
	for (size_t i = 0; i < ARRAY_LEN(zs); i++) {
		for (int64_t t = utc(2026, 1, 1, 0, 0, 0); t < utc(2027, 1, 1, 0, 0, 0); t += 5 * H + 59) {
			int64_t back;
			tz_format_rfc3339(zs[i], t, buf, sizeof(buf));
			assert_int_equal(tz_parse_rfc3339(buf, &back), 0);
			assert_int_equal(back, t);
		}
	}

	/* Too small a buffer gives "", not a truncated time; extremes clamp. */
	char small[20] = "xxxx";
	tz_format_rfc3339(ny, 0, small, sizeof(small));
	assert_string_equal(small, "");
	tz_format_rfc3339(ny, 0, small, 0); /* no write at all */
	tz_format_rfc3339(u, INT64_MAX, buf, sizeof(buf));
	assert_string_equal(buf, "9999-12-31T23:59:59Z");
	tz_format_rfc3339(u, INT64_MIN, buf, sizeof(buf));
	assert_string_equal(buf, "0000-01-01T00:00:00Z");
}

static void test_parse_date(void **state)
{
	(void)state;
	int64_t d = 0;
	assert_int_equal(tz_parse_date("2026-11-21", &d), 0);
	assert_int_equal(d, tz_days_from_civil(2026, 11, 21));
	assert_int_equal(tz_iso_weekday(d), 6);
	assert_int_equal(tz_parse_date("2024-02-29", &d), 0);
	assert_int_equal(tz_parse_date("1969-12-31", &d), 0);
	assert_int_equal(d, -1);
	assert_int_equal(tz_parse_date("0001-01-01", &d), 0);
	static const char *const bad[] = {"2026-02-29",           "2026-02-30", "2026-13-01", "2026-00-10",
	                                  "2026-11-00",           "2026-11-1",  "2026-1-01",  "26-11-21",
	                                  "2026-11-21x",          "2026/11/21", "0000-01-01", "",
	                                  "2026-11-21T00:00:00Z", " 2026-11-21"};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		d = 42;
		if (tz_parse_date(bad[i], &d) != ERR_INVALID)
			fail_msg("accepted: \"%s\"", bad[i]);
		assert_int_equal(d, 42);
	}
}

/* ------------------------------------------------------------ edges */

static void test_extremes(void **state)
{
	(void)state;
	const struct tz *ny = zone("America/New_York");
	int64_t tr[4];
	/* Nothing overflows at the ends of int64_t. */
	int32_t far = tz_offset_at(ny, INT64_MAX);
	assert_true(far == -5 * H || far == -4 * H);
	assert_int_equal(tz_offset_at(ny, INT64_MIN), -17762);
	(void)tz_utc_to_local(ny, INT64_MAX);
	(void)tz_utc_to_local(ny, INT64_MIN);
	(void)tz_local_to_utc(ny, INT64_MAX, NULL);
	(void)tz_local_to_utc(ny, INT64_MIN, NULL);
	assert_int_equal(tz_transitions(ny, INT64_MAX - 10, INT64_MAX, tr, 4), 0);
	assert_int_equal(tz_transitions(ny, INT64_MIN, INT64_MIN + 10, tr, 4), 0);
	/* Empty or reversed ranges, and max bounds the output. */
	assert_int_equal(tz_transitions(ny, utc(2027, 1, 1, 0, 0, 0), utc(2026, 1, 1, 0, 0, 0), tr, 4), 0);
	assert_int_equal(tz_transitions(ny, utc(2026, 1, 1, 0, 0, 0), utc(2036, 1, 1, 0, 0, 0), tr, 0), 0);
	assert_int_equal(tz_transitions(ny, utc(2026, 1, 1, 0, 0, 0), utc(2036, 1, 1, 0, 0, 0), tr, 3), 3);
	assert_int_equal(tr[2], utc(2027, 3, 14, 7, 0, 0));
	assert_int_equal(tz_transitions(ny, utc(2040, 1, 1, 0, 0, 0), utc(2050, 1, 1, 0, 0, 0), tr, 1), 1);
	assert_int_equal(tr[0], utc(2040, 3, 11, 7, 0, 0));
	/* UTC never changes. */
	assert_int_equal(tz_transitions(zone("UTC"), INT64_MIN, INT64_MAX, tr, 4), 0);
	/* Long ago New York kept local mean time (−4:56:02). */
	assert_int_equal(tz_offset_at(ny, utc(1880, 1, 1, 0, 0, 0)), -17762);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_civil_dates),
	    cmocka_unit_test(test_new_york_2026),
	    cmocka_unit_test(test_berlin_2026),
	    cmocka_unit_test(test_nine_am_on_change_days),
	    cmocka_unit_test(test_gap_and_fold),
	    cmocka_unit_test(test_dst_changes_2026_2036),
	    cmocka_unit_test(test_lord_howe_half_hour),
	    cmocka_unit_test(test_beyond_the_table),
	    cmocka_unit_test(test_agrees_with_glibc),
	    cmocka_unit_test(test_footer_rules),
	    cmocka_unit_test(test_table_then_footer),
	    cmocka_unit_test(test_parse_rejects_malformed),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_tzdir_override),
	    cmocka_unit_test(test_threads_share_the_cache),
	    cmocka_unit_test(test_rfc3339_parse),
	    cmocka_unit_test(test_rfc3339_format),
	    cmocka_unit_test(test_parse_date),
	    cmocka_unit_test(test_extremes),
	};
	int rc = cmocka_run_group_tests_name("tz", tests, NULL, NULL);
	tz_cache_clear();
	return rc;
}
