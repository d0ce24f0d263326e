/* Unit tests: calendar import (backend/calimport) — exact busy intervals,
 * written out by hand, for every shape SPEC §4 names: DST weeks, EXDATE,
 * RDATE, moved and cancelled overrides, all-day and floating times in the
 * clinician's zone, Windows zones with and without VTIMEZONE, unknown
 * TZIDs, TRANSPARENT, several VCALENDARs, BOM and line ends; errors with
 * their messages; and the bounds (size, instances, endless and long
 * series). tests/unit/calimport_check.py compares whole files with an
 * independent expansion. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>

#include "calimport/calimport.h"
#include "core/buf.h"
#include "core/tz.h"

#define DAY 86400

static const char *const CHI = "America/Chicago";
static struct arena arena;

/* ------------------------------------------------------------ helpers */

static int64_t L(const char *zone, int y, int mo, int d, int h, int mi)
{
	const struct tz *z = NULL;
	assert_int_equal(tz_get(zone, &z), 0);
	return tz_local_to_utc(z, tz_days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60, NULL);
}

static int64_t U(int y, int mo, int d, int h, int mi)
{
	return tz_days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60;
}

/* Chicago, all of 2024, generous limits. */
static struct cal_import_opts opts(void)
{
	return (struct cal_import_opts){
	    .zone = CHI,
	    .from = U(2024, 1, 1, 0, 0),
	    .to = U(2025, 1, 1, 0, 0),
	    .max_bytes = 1 << 20,
	    .max_instances = 10000,
	};
}

static struct cal_import_result res;
static char err[256];

static int run_opts(const char *ics, const struct cal_import_opts *o)
{
	arena_reset(&arena);
	return cal_import(&arena, ics, strlen(ics), o, &res, err, sizeof(err));
}

static int run(const char *ics)
{
	struct cal_import_opts o = opts();
	return run_opts(ics, &o);
}

/* ics must import; its busy intervals must be exactly want[0..n). */
#define EXPECT(ics, ...)                                                                                     \
	do {                                                                                                 \
		const int64_t want_[][2] = {__VA_ARGS__};                                                    \
		expect_busy((ics), want_, ARRAY_LEN(want_));                                                 \
	} while (0)

static void show(const char *what, const struct cal_busy *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		print_message("  %s[%zu] = %lld .. %lld\n", what, i, (long long)b[i].start,
		              (long long)b[i].end);
}

static void check_busy(const int64_t (*want)[2], size_t n)
{
	bool same = res.nbusy == n;
	for (size_t i = 0; same && i < n; i++)
		same = res.busy[i].start == want[i][0] && res.busy[i].end == want[i][1];
	if (!same) {
		show("got", res.busy, res.nbusy);
		for (size_t i = 0; i < n; i++)
			print_message("  want[%zu] = %lld .. %lld\n", i, (long long)want[i][0],
			              (long long)want[i][1]);
		fail_msg("busy intervals differ (%zu, want %zu)", res.nbusy, n);
	}
}

static void expect_busy(const char *ics, const int64_t (*want)[2], size_t n)
{
	int rc = run(ics);
	if (rc != 0)
		fail_msg("cal_import: %d %s", rc, err);
	check_busy(want, n);
}

static void expect_none(const char *ics)
{
	int rc = run(ics);
	if (rc != 0)
		fail_msg("cal_import: %d %s", rc, err);
	if (res.nbusy != 0) {
		show("got", res.busy, res.nbusy);
		fail_msg("expected nothing busy");
	}
}

static void expect_error(const char *ics, int code, const char *msg)
{
	int rc = run(ics);
	assert_int_equal(rc, code);
	assert_string_equal(err, msg);
	assert_null(res.busy);
	assert_int_equal(res.nbusy, 0);
}

static int setup(void **state)
{
	(void)state;
	arena_init(&arena);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	arena_release(&arena);
	return 0;
}

#define CAL(...)   "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" __VA_ARGS__ "END:VCALENDAR\r\n"
#define EVENT(...) "BEGIN:VEVENT\r\n" __VA_ARGS__ "END:VEVENT\r\n"

#define VTZ_CHICAGO                                                                                          \
	"BEGIN:VTIMEZONE\r\n"                                                                                \
	"TZID:America/Chicago\r\n"                                                                           \
	"BEGIN:DAYLIGHT\r\n"                                                                                 \
	"TZOFFSETFROM:-0600\r\n"                                                                             \
	"TZOFFSETTO:-0500\r\n"                                                                               \
	"DTSTART:19700308T020000\r\n"                                                                        \
	"RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\n"                                                          \
	"END:DAYLIGHT\r\n"                                                                                   \
	"BEGIN:STANDARD\r\n"                                                                                 \
	"TZOFFSETFROM:-0500\r\n"                                                                             \
	"TZOFFSETTO:-0600\r\n"                                                                               \
	"DTSTART:19701101T020000\r\n"                                                                        \
	"RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\n"                                                         \
	"END:STANDARD\r\n"                                                                                   \
	"END:VTIMEZONE\r\n"

/* ------------------------------------------------------------ time zones and DST */

#define WEEKLY_CHI                                                                                           \
	EVENT("UID:w@x\r\n"                                                                                  \
	      "DTSTART;TZID=America/Chicago:20240226T090000\r\n"                                             \
	      "DTEND;TZID=America/Chicago:20240226T100000\r\n"                                               \
	      "RRULE:FREQ=WEEKLY;COUNT=4\r\n")

/* A weekly 09:00 stays at 09:00 local across the change of 10 March:
 * 15:00Z in CST, 14:00Z in CDT. The same through core/tz (no VTIMEZONE)
 * and through libical (the file's VTIMEZONE). */
static void test_dst_week_chicago(void **state)
{
	(void)state;
	const int64_t want[][2] = {
	    {U(2024, 2, 26, 15, 0), U(2024, 2, 26, 16, 0)},
	    {U(2024, 3, 4, 15, 0), U(2024, 3, 4, 16, 0)},
	    {U(2024, 3, 11, 14, 0), U(2024, 3, 11, 15, 0)},
	    {U(2024, 3, 18, 14, 0), U(2024, 3, 18, 15, 0)},
	};
	assert_int_equal(want[0][0], L(CHI, 2024, 2, 26, 9, 0));
	assert_int_equal(want[2][0], L(CHI, 2024, 3, 11, 9, 0));
	expect_busy(CAL(WEEKLY_CHI), want, 4);
	assert_int_equal(res.nwarnings, 0);
	assert_int_equal(res.nevents, 1);
	expect_busy(CAL(VTZ_CHICAGO WEEKLY_CHI), want, 4);
	assert_int_equal(res.nwarnings, 0);
	/* The clinician's zone does not matter for a zoned event. */
	struct cal_import_opts o = opts();
	o.zone = "Asia/Kolkata";
	assert_int_equal(run_opts(CAL(WEEKLY_CHI), &o), 0);
	check_busy(want, 4);
}

static void test_dst_fall_week(void **state)
{
	(void)state;
	EXPECT(CAL(EVENT("UID:f@x\r\n"
	                 "DTSTART;TZID=America/Chicago:20241028T090000\r\n"
	                 "DTEND;TZID=America/Chicago:20241028T093000\r\n"
	                 "RRULE:FREQ=WEEKLY;COUNT=2\r\n")),
	       {U(2024, 10, 28, 14, 0), U(2024, 10, 28, 14, 30)},
	       {U(2024, 11, 4, 15, 0), U(2024, 11, 4, 15, 30)});
}

/* 02:30 on 10 March does not exist: the offset before the change (CST)
 * makes it 08:30Z (03:30 CDT). 01:30 on 3 November happens twice: the
 * first one (CDT, 06:30Z). Same through libical's VTIMEZONE. */
#define GAP_FOLD                                                                                             \
	EVENT("UID:gap@x\r\n"                                                                                \
	      "DTSTART;TZID=America/Chicago:20240310T023000\r\n"                                             \
	      "DTEND;TZID=America/Chicago:20240310T040000\r\n")                                              \
	EVENT("UID:fold@x\r\n"                                                                               \
	      "DTSTART;TZID=America/Chicago:20241103T013000\r\n"                                             \
	      "DTEND;TZID=America/Chicago:20241103T023000\r\n")

static void test_gap_and_fold(void **state)
{
	(void)state;
	const int64_t want[][2] = {
	    {U(2024, 3, 10, 8, 30), U(2024, 3, 10, 9, 0)},
	    {U(2024, 11, 3, 6, 30), U(2024, 11, 3, 8, 30)},
	};
	expect_busy(CAL(GAP_FOLD), want, 2);
	expect_busy(CAL(VTZ_CHICAGO GAP_FOLD), want, 2);
}

static void test_windows_zone_without_vtimezone(void **state)
{
	(void)state;
	EXPECT(CAL(EVENT("UID:1@x\r\n"
	                 "DTSTART;TZID=Eastern Standard Time:20240701T090000\r\n"
	                 "DTEND;TZID=Eastern Standard Time:20240701T100000\r\n")
	               EVENT("UID:2@x\r\n"
	                     "DTSTART;TZID=W. Europe Standard Time:20240115T090000\r\n"
	                     "DTEND;TZID=W. Europe Standard Time:20240115T100000\r\n")
	                   EVENT("UID:3@x\r\n"
	                         "DTSTART;TZID=\"GMT Standard Time\":20240702T090000\r\n"
	                         "DURATION:PT1H\r\n")
	                       EVENT("UID:4@x\r\n"
	                             "DTSTART;TZID=Romance Standard Time:20241202T090000\r\n"
	                             "DURATION:PT1H\r\n")
	                           EVENT("UID:5@x\r\n"
	                                 "DTSTART;TZID=Pacific Standard Time:20240703T090000\r\n"
	                                 "DURATION:PT1H\r\n")
	                               EVENT("UID:6@x\r\n"
	                                     "DTSTART;TZID=central standard time:20240110T090000\r\n"
	                                     "DURATION:PT1H\r\n")),
	       {U(2024, 1, 10, 15, 0), U(2024, 1, 10, 16, 0)}, /* CST */
	       {U(2024, 1, 15, 8, 0), U(2024, 1, 15, 9, 0)},   /* CET */
	       {U(2024, 7, 1, 13, 0), U(2024, 7, 1, 14, 0)},   /* EDT */
	       {U(2024, 7, 2, 8, 0), U(2024, 7, 2, 9, 0)},     /* BST */
	       {U(2024, 7, 3, 16, 0), U(2024, 7, 3, 17, 0)},   /* PDT */
	       {U(2024, 12, 2, 8, 0), U(2024, 12, 2, 9, 0)});  /* CET (Paris) */
	assert_int_equal(res.nwarnings, 0);
}

/* The file's VTIMEZONE wins over what the name means: a made-up +03:00
 * "W. Europe Standard Time" and a -03:00 "America/Chicago". Outlook's own
 * shape (parts from 1601) gives Paris time. */
static void test_vtimezone_wins(void **state)
{
	(void)state;
	EXPECT(CAL("BEGIN:VTIMEZONE\r\n"
	           "TZID:W. Europe Standard Time\r\n"
	           "BEGIN:STANDARD\r\n"
	           "DTSTART:16010101T000000\r\n"
	           "TZOFFSETFROM:+0300\r\n"
	           "TZOFFSETTO:+0300\r\n"
	           "END:STANDARD\r\n"
	           "END:VTIMEZONE\r\n"
	           "BEGIN:VTIMEZONE\r\n"
	           "TZID:America/Chicago\r\n"
	           "BEGIN:STANDARD\r\n"
	           "DTSTART:19700101T000000\r\n"
	           "TZOFFSETFROM:-0300\r\n"
	           "TZOFFSETTO:-0300\r\n"
	           "END:STANDARD\r\n"
	           "END:VTIMEZONE\r\n"
	           "BEGIN:VTIMEZONE\r\n"
	           "TZID:Romance Standard Time\r\n"
	           "BEGIN:STANDARD\r\n"
	           "DTSTART:16010101T030000\r\n"
	           "TZOFFSETFROM:+0200\r\n"
	           "TZOFFSETTO:+0100\r\n"
	           "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r\n"
	           "END:STANDARD\r\n"
	           "BEGIN:DAYLIGHT\r\n"
	           "DTSTART:16010101T020000\r\n"
	           "TZOFFSETFROM:+0100\r\n"
	           "TZOFFSETTO:+0200\r\n"
	           "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r\n"
	           "END:DAYLIGHT\r\n"
	           "END:VTIMEZONE\r\n" EVENT("UID:1@x\r\n"
	                                     "DTSTART;TZID=W. Europe Standard Time:20240115T090000\r\n"
	                                     "DTEND;TZID=W. Europe Standard Time:20240115T100000\r\n")
	               EVENT("UID:2@x\r\n"
	                     "DTSTART;TZID=America/Chicago:20240110T090000\r\n"
	                     "DTEND;TZID=America/Chicago:20240110T100000\r\n")
	                   EVENT("UID:3@x\r\n"
	                         "DTSTART;TZID=Romance Standard Time:20240701T090000\r\n"
	                         "DTEND;TZID=Romance Standard Time:20240701T100000\r\n"
	                         "RRULE:FREQ=DAILY;COUNT=2\r\n")
	                       EVENT("UID:4@x\r\n"
	                             "DTSTART;TZID=Romance Standard Time:20241202T090000\r\n"
	                             "DTEND;TZID=Romance Standard Time:20241202T100000\r\n")),
	       {U(2024, 1, 10, 12, 0), U(2024, 1, 10, 13, 0)}, {U(2024, 1, 15, 6, 0), U(2024, 1, 15, 7, 0)},
	       {U(2024, 7, 1, 7, 0), U(2024, 7, 1, 8, 0)}, {U(2024, 7, 2, 7, 0), U(2024, 7, 2, 8, 0)},
	       {U(2024, 12, 2, 8, 0), U(2024, 12, 2, 9, 0)});
	assert_int_equal(res.nwarnings, 0);
}

static void test_unknown_tzid_warns(void **state)
{
	(void)state;
	EXPECT(CAL(EVENT("UID:m@x\r\n"
	                 "DTSTART;TZID=Mars/Olympus_Mons:20240402T100000\r\n"
	                 "DTEND;TZID=Mars/Olympus_Mons:20240402T110000\r\n")),
	       {U(2024, 4, 2, 15, 0), U(2024, 4, 2, 16, 0)});
	assert_int_equal(res.nwarnings, 1);
	assert_string_equal(
	    res.warning,
	    "line 6: unknown time zone \"Mars/Olympus_Mons\"; its times are read as America/Chicago time");
}

static void test_prefixed_tzid(void **state)
{
	(void)state;
	EXPECT(CAL(EVENT("UID:1@x\r\n"
	                 "DTSTART;TZID=/freeassociation.sourceforge.net/Europe/Berlin:20240601T100000\r\n"
	                 "DTEND;TZID=/freeassociation.sourceforge.net/Europe/Berlin:20240601T110000\r\n")
	               EVENT("UID:2@x\r\n"
	                     "DTSTART;TZID=/softwarestudio.org/Olson_20011030_5/America/"
	                     "New_York:20240602T100000\r\n"
	                     "DTEND;TZID=/softwarestudio.org/Olson_20011030_5/America/"
	                     "New_York:20240602T110000\r\n")),
	       {U(2024, 6, 1, 8, 0), U(2024, 6, 1, 9, 0)}, {U(2024, 6, 2, 14, 0), U(2024, 6, 2, 15, 0)});
	assert_int_equal(res.nwarnings, 0);
}

/* A VTIMEZONE libical could spend minutes on (a MINUTELY rule) is not
 * used: the name is read by core/tz instead, with a warning. */
static void test_unusual_vtimezone_refused(void **state)
{
	(void)state;
	EXPECT(CAL("BEGIN:VTIMEZONE\r\n"
	           "TZID:America/Chicago\r\n"
	           "BEGIN:STANDARD\r\n"
	           "DTSTART:19700101T000000\r\n"
	           "TZOFFSETFROM:-0300\r\n"
	           "TZOFFSETTO:-0300\r\n"
	           "RRULE:FREQ=MINUTELY\r\n"
	           "END:STANDARD\r\n"
	           "END:VTIMEZONE\r\n" EVENT("UID:1@x\r\n"
	                                     "DTSTART;TZID=America/Chicago:20240110T090000\r\n"
	                                     "DTEND;TZID=America/Chicago:20240110T100000\r\n")),
	       {U(2024, 1, 10, 15, 0), U(2024, 1, 10, 16, 0)});
	assert_int_equal(res.nwarnings, 1);
	assert_string_equal(res.warning,
	                    "line 4: time zone \"America/Chicago\" has an unusual RRULE; it is read by "
	                    "its name instead");
}

/* ------------------------------------------------------------ all-day and floating */

static void test_allday_in_clinician_zone(void **state)
{
	(void)state;
	const char *ics = CAL(
	    EVENT("UID:a@x\r\nDTSTART;VALUE=DATE:20240315\r\nDTEND;VALUE=DATE:20240317\r\n")
	        EVENT("UID:b@x\r\nDTSTART;VALUE=DATE:20240309\r\nDTEND;VALUE=DATE:20240311\r\n")
	            EVENT("UID:c@x\r\nDTSTART;VALUE=DATE:20240401\r\n")
	                EVENT("UID:d@x\r\nDTSTART;VALUE=DATE:20240501\r\nDURATION:P2D\r\n")
	                    EVENT("UID:e@x\r\nDTSTART;VALUE=DATE:20240601\r\nDTEND;VALUE=DATE:20240601\r\n"));
	/* 9-11 March spans the change: 06:00Z (CST) to 05:00Z (CDT). */
	EXPECT(ics, {U(2024, 3, 9, 6, 0), U(2024, 3, 11, 5, 0)}, {U(2024, 3, 15, 5, 0), U(2024, 3, 17, 5, 0)},
	       {U(2024, 4, 1, 5, 0), U(2024, 4, 2, 5, 0)}, {U(2024, 5, 1, 5, 0), U(2024, 5, 3, 5, 0)},
	       {U(2024, 6, 1, 5, 0), U(2024, 6, 2, 5, 0)}); /* DTEND = DTSTART: that day */
	struct cal_import_opts o = opts();
	o.zone = "Asia/Kolkata";
	assert_int_equal(run_opts(ics, &o), 0);
	const int64_t kol[][2] = {
	    {U(2024, 3, 8, 18, 30), U(2024, 3, 10, 18, 30)}, {U(2024, 3, 14, 18, 30), U(2024, 3, 16, 18, 30)},
	    {U(2024, 3, 31, 18, 30), U(2024, 4, 1, 18, 30)}, {U(2024, 4, 30, 18, 30), U(2024, 5, 2, 18, 30)},
	    {U(2024, 5, 31, 18, 30), U(2024, 6, 1, 18, 30)},
	};
	check_busy(kol, 5);
}

static void test_floating(void **state)
{
	(void)state;
	const char *ics = CAL(EVENT("UID:f@x\r\nDTSTART:20240701T083000\r\nDTEND:20240701T120000\r\n")
	                          EVENT("UID:g@x\r\nDTSTART:20240304T090000\r\nDTEND:20240304T100000\r\n"
	                                "RRULE:FREQ=WEEKLY;COUNT=2\r\n"));
	EXPECT(ics, {U(2024, 3, 4, 15, 0), U(2024, 3, 4, 16, 0)},
	       {U(2024, 3, 11, 14, 0), U(2024, 3, 11, 15, 0)}, {U(2024, 7, 1, 13, 30), U(2024, 7, 1, 17, 0)});
	struct cal_import_opts o = opts();
	o.zone = "Asia/Kolkata";
	assert_int_equal(run_opts(ics, &o), 0);
	const int64_t kol[][2] = {
	    {U(2024, 3, 4, 3, 30), U(2024, 3, 4, 4, 30)},
	    {U(2024, 3, 11, 3, 30), U(2024, 3, 11, 4, 30)},
	    {U(2024, 7, 1, 3, 0), U(2024, 7, 1, 6, 30)},
	};
	check_busy(kol, 3);
}

/* ------------------------------------------------------------ lengths */

static void test_lengths(void **state)
{
	(void)state;
	/* DURATION:P1D is a nominal day: 12:00 CST to 12:00 CDT is 23 h;
	 * PT24H is exact. A DTEND length is exact for every instance (RFC
	 * 5545 3.8.5.3): 22:00-06:00 CST is 8 h, so the instance of 9 March
	 * ends 07:00 CDT. */
	EXPECT(CAL(EVENT("UID:a@x\r\nDTSTART;TZID=America/Chicago:20240309T120000\r\nDURATION:P1D\r\n") EVENT(
	           "UID:b@x\r\nDTSTART;TZID=America/Chicago:20240309T121500\r\nDURATION:PT24H\r\n")
	               EVENT("UID:c@x\r\nDTSTART;TZID=America/Chicago:20240307T220000\r\n"
	                     "DTEND;TZID=America/Chicago:20240308T060000\r\nRRULE:FREQ=DAILY;COUNT=3\r\n")),
	       {U(2024, 3, 8, 4, 0), U(2024, 3, 8, 12, 0)}, {U(2024, 3, 9, 4, 0), U(2024, 3, 9, 12, 0)},
	       {U(2024, 3, 9, 18, 0), U(2024, 3, 10, 17, 0)}, {U(2024, 3, 9, 18, 15), U(2024, 3, 10, 18, 15)},
	       {U(2024, 3, 10, 4, 0), U(2024, 3, 10, 12, 0)});
}

/* A timed event without DTEND or DURATION lasts no time and blocks
 * nothing; neither does DTEND = DTSTART; DTEND before DTSTART warns. */
static void test_zero_and_negative_length(void **state)
{
	(void)state;
	expect_none(CAL(EVENT("UID:a@x\r\nDTSTART:20240402T150000Z\r\n")
	                    EVENT("UID:b@x\r\nDTSTART:20240403T150000Z\r\nDTEND:20240403T150000Z\r\n")));
	assert_int_equal(res.nwarnings, 0);
	expect_none(CAL(EVENT("UID:c@x\r\nDTSTART:20240404T150000Z\r\nDTEND:20240404T140000Z\r\n")));
	assert_string_equal(res.warning, "line 7: the event ends before it starts; ignored");
}

/* ------------------------------------------------------------ recurrence */

static void test_exdate(void **state)
{
	(void)state;
	EXPECT(CAL(EVENT("UID:e@x\r\n"
	                 "DTSTART;TZID=America/Chicago:20240501T100000\r\n"
	                 "DTEND;TZID=America/Chicago:20240501T110000\r\n"
	                 "RRULE:FREQ=DAILY;COUNT=6\r\n"
	                 "EXDATE;TZID=America/Chicago:20240502T100000,20240504T100000\r\n"
	                 "EXDATE:20240505T150000Z\r\n"
	                 "EXDATE;TZID=America/Chicago:20240503T110000\r\n")),
	       {U(2024, 5, 1, 15, 0), U(2024, 5, 1, 16, 0)}, {U(2024, 5, 3, 15, 0), U(2024, 5, 3, 16, 0)},
	       {U(2024, 5, 6, 15, 0), U(2024, 5, 6, 16, 0)});
	/* A DATE EXDATE takes out the timed instance of that day. */
	EXPECT(CAL(EVENT("UID:d@x\r\n"
	                 "DTSTART;TZID=America/Chicago:20240501T100000\r\n"
	                 "DTEND;TZID=America/Chicago:20240501T110000\r\n"
	                 "RRULE:FREQ=DAILY;COUNT=3\r\n"
	                 "EXDATE;VALUE=DATE:20240502\r\n")),
	       {U(2024, 5, 1, 15, 0), U(2024, 5, 1, 16, 0)}, {U(2024, 5, 3, 15, 0), U(2024, 5, 3, 16, 0)});
	/* All-day with DATE EXDATEs. */
	EXPECT(CAL(EVENT("UID:a@x\r\n"
	                 "DTSTART;VALUE=DATE:20240506\r\n"
	                 "RRULE:FREQ=DAILY;COUNT=3\r\n"
	                 "EXDATE;VALUE=DATE:20240507\r\n")),
	       {U(2024, 5, 6, 5, 0), U(2024, 5, 7, 5, 0)}, {U(2024, 5, 8, 5, 0), U(2024, 5, 9, 5, 0)});
}

static void test_rdate(void **state)
{
	(void)state;
	EXPECT(CAL(EVENT("UID:r@x\r\n"
	                 "DTSTART;TZID=America/Chicago:20240603T090000\r\n"
	                 "DTEND;TZID=America/Chicago:20240603T100000\r\n"
	                 "RDATE;TZID=America/Chicago:20240605T090000,20240607T130000\r\n"
	                 "RDATE;TZID=America/Chicago:20240603T090000\r\n"
	                 "RDATE:20240610T120000Z\r\n"
	                 "RDATE;VALUE=DATE:20240612\r\n"
	                 "RDATE;VALUE=PERIOD:20240614T150000Z/20240614T170000Z\r\n"
	                 "RDATE;VALUE=PERIOD:20240617T150000Z/PT30M\r\n")),
	       {U(2024, 6, 3, 14, 0), U(2024, 6, 3, 15, 0)}, {U(2024, 6, 5, 14, 0), U(2024, 6, 5, 15, 0)},
	       {U(2024, 6, 7, 18, 0), U(2024, 6, 7, 19, 0)}, {U(2024, 6, 10, 12, 0), U(2024, 6, 10, 13, 0)},
	       {U(2024, 6, 12, 5, 0), U(2024, 6, 12, 6, 0)}, {U(2024, 6, 14, 15, 0), U(2024, 6, 14, 17, 0)},
	       {U(2024, 6, 17, 15, 0), U(2024, 6, 17, 15, 30)});
}

static void test_until_forms(void **state)
{
	(void)state;
#define DAILY_UNTIL(u)                                                                                       \
	CAL(EVENT("UID:u@x\r\n"                                                                              \
	          "DTSTART;TZID=America/Chicago:20240501T100000\r\n"                                         \
	          "DTEND;TZID=America/Chicago:20240501T110000\r\n"                                           \
	          "RRULE:FREQ=DAILY;UNTIL=" u "\r\n"))
	/* UTC, exactly the last instance (10:00 CDT); floating (local); a
	 * DATE (the whole day). */
	const int64_t three[][2] = {
	    {U(2024, 5, 1, 15, 0), U(2024, 5, 1, 16, 0)},
	    {U(2024, 5, 2, 15, 0), U(2024, 5, 2, 16, 0)},
	    {U(2024, 5, 3, 15, 0), U(2024, 5, 3, 16, 0)},
	};
	expect_busy(DAILY_UNTIL("20240503T150000Z"), three, 3);
	expect_busy(DAILY_UNTIL("20240503T100000"), three, 3);
	expect_busy(DAILY_UNTIL("20240503"), three, 3);
	expect_busy(DAILY_UNTIL("20240503T095959"), three, 2);
	expect_busy(DAILY_UNTIL("20240503T145959Z"), three, 2);
	/* COUNT and UNTIL together (RFC 5545 forbids it; libical refuses
	 * it): whichever ends first. */
	expect_busy(CAL(EVENT("UID:u@x\r\n"
	                      "DTSTART;TZID=America/Chicago:20240501T100000\r\n"
	                      "DTEND;TZID=America/Chicago:20240501T110000\r\n"
	                      "RRULE:FREQ=DAILY;UNTIL=20240520T000000Z;COUNT=2\r\n")),
	            three, 2);
	/* UNTIL before DTSTART: DTSTART is still the first instance. */
	expect_busy(DAILY_UNTIL("20240401T000000Z"), three, 1);
	/* All-day with a UTC UNTIL: its date, inclusive. */
	EXPECT(CAL(EVENT(
	           "UID:a@x\r\nDTSTART;VALUE=DATE:20240501\r\nRRULE:FREQ=DAILY;UNTIL=20240502T000000Z\r\n")),
	       {U(2024, 5, 1, 5, 0), U(2024, 5, 2, 5, 0)}, {U(2024, 5, 2, 5, 0), U(2024, 5, 3, 5, 0)});
#undef DAILY_UNTIL
}

/* DTSTART is the first instance even when the rule would not produce it;
 * two RRULEs are united, without doubles. */
static void test_dtstart_and_several_rules(void **state)
{
	(void)state;
	EXPECT(CAL(EVENT("UID:u@x\r\n"
	                 "DTSTART;TZID=America/Chicago:20240103T120000\r\n"
	                 "DTEND;TZID=America/Chicago:20240103T123000\r\n"
	                 "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=3\r\n")),
	       {U(2024, 1, 3, 18, 0), U(2024, 1, 3, 18, 30)}, {U(2024, 1, 8, 18, 0), U(2024, 1, 8, 18, 30)},
	       {U(2024, 1, 15, 18, 0), U(2024, 1, 15, 18, 30)},
	       {U(2024, 1, 22, 18, 0), U(2024, 1, 22, 18, 30)});
	EXPECT(CAL(EVENT("UID:t@x\r\n"
	                 "DTSTART:20240108T150000Z\r\n"
	                 "DTEND:20240108T160000Z\r\n"
	                 "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=2\r\n"
	                 "RRULE:FREQ=DAILY;COUNT=3\r\n")),
	       {U(2024, 1, 8, 15, 0), U(2024, 1, 8, 16, 0)}, {U(2024, 1, 9, 15, 0), U(2024, 1, 9, 16, 0)},
	       {U(2024, 1, 10, 15, 0), U(2024, 1, 10, 16, 0)},
	       {U(2024, 1, 15, 15, 0), U(2024, 1, 15, 16, 0)});
}

/* A non-Gregorian rule is not expanded: its DTSTART, and a warning. */
static void test_rscale_warns(void **state)
{
	(void)state;
	EXPECT(CAL(EVENT("UID:1@x\r\nDTSTART;VALUE=DATE:20240210\r\n"
	                 "RRULE:RSCALE=CHINESE;FREQ=YEARLY\r\nRDATE;VALUE=DATE:20250129\r\n")),
	       {U(2024, 2, 10, 6, 0), U(2024, 2, 11, 6, 0)});
	assert_string_equal(res.warning,
	                    "line 7: RRULE with RSCALE (another calendar system) is not supported; only "
	                    "DTSTART and RDATE are used");
}

/* libical 3.0.16 never matches a negative BYMONTHDAY below MONTHLY;
 * DAILY;INTERVAL=1 is read as the MONTHLY rule with the same set. */
static void test_daily_last_day(void **state)
{
	(void)state;
	EXPECT(CAL(EVENT("UID:l@x\r\nDTSTART:20240101T150000Z\r\nDTEND:20240101T160000Z\r\n"
	                 "RRULE:FREQ=DAILY;BYMONTHDAY=-1;COUNT=3\r\n")),
	       {U(2024, 1, 1, 15, 0), U(2024, 1, 1, 16, 0)}, {U(2024, 1, 31, 15, 0), U(2024, 1, 31, 16, 0)},
	       {U(2024, 2, 29, 15, 0), U(2024, 2, 29, 16, 0)},
	       {U(2024, 3, 31, 15, 0), U(2024, 3, 31, 16, 0)});
	assert_int_equal(res.nwarnings, 0);
	/* Every other day cannot be repaired: a warning. */
	EXPECT(CAL(EVENT("UID:l@x\r\nDTSTART:20240101T150000Z\r\nDTEND:20240101T160000Z\r\n"
	                 "RRULE:FREQ=DAILY;INTERVAL=2;BYMONTHDAY=-1;COUNT=3\r\n")),
	       {U(2024, 1, 1, 15, 0), U(2024, 1, 1, 16, 0)});
	assert_string_equal(res.warning,
	                    "line 8: libical cannot expand a negative BYMONTHDAY in this RRULE; its "
	                    "instances may be missing");
}

/* ------------------------------------------------------------ overrides */

static void test_overrides(void **state)
{
	(void)state;
	EXPECT(CAL(EVENT("UID:s@x\r\n"
	                 "DTSTART;TZID=America/Chicago:20240903T140000\r\n"
	                 "DTEND;TZID=America/Chicago:20240903T150000\r\n"
	                 "RRULE:FREQ=WEEKLY;COUNT=5\r\n")
	           /* moved to the next morning */
	           EVENT("UID:s@x\r\n"
	                 "RECURRENCE-ID;TZID=America/Chicago:20240910T140000\r\n"
	                 "DTSTART;TZID=America/Chicago:20240911T080000\r\n"
	                 "DTEND;TZID=America/Chicago:20240911T083000\r\n")
	           /* cancelled */
	           EVENT("UID:s@x\r\n"
	                 "RECURRENCE-ID;TZID=America/Chicago:20240917T140000\r\n"
	                 "DTSTART;TZID=America/Chicago:20240917T140000\r\n"
	                 "DTEND;TZID=America/Chicago:20240917T150000\r\n"
	                 "STATUS:CANCELLED\r\n")
	           /* changed twice: SEQUENCE 3 wins over 1 */
	           EVENT("UID:s@x\r\n"
	                 "RECURRENCE-ID;TZID=America/Chicago:20240924T140000\r\n"
	                 "SEQUENCE:3\r\n"
	                 "DTSTART;TZID=America/Chicago:20240925T100000\r\n"
	                 "DTEND;TZID=America/Chicago:20240925T110000\r\n")
	               EVENT("UID:s@x\r\n"
	                     "RECURRENCE-ID;TZID=America/Chicago:20240924T140000\r\n"
	                     "SEQUENCE:1\r\n"
	                     "DTSTART;TZID=America/Chicago:20240924T160000\r\n"
	                     "DTEND;TZID=America/Chicago:20240924T170000\r\n")
	           /* made free; named in UTC */
	           EVENT("UID:s@x\r\n"
	                 "RECURRENCE-ID:20241001T190000Z\r\n"
	                 "DTSTART;TZID=America/Chicago:20241001T140000\r\n"
	                 "DTEND;TZID=America/Chicago:20241001T150000\r\n"
	                 "TRANSP:TRANSPARENT\r\n")),
	       {U(2024, 9, 3, 19, 0), U(2024, 9, 3, 20, 0)}, {U(2024, 9, 11, 13, 0), U(2024, 9, 11, 13, 30)},
	       {U(2024, 9, 25, 15, 0), U(2024, 9, 25, 16, 0)});
	assert_int_equal(res.nevents, 6);
	assert_int_equal(res.ncancelled, 1);
	assert_int_equal(res.nskipped_transparent, 1);
}

/* Moved into the window from before it, and out of it: the override's
 * own time counts, wherever its RECURRENCE-ID is. */
static void test_overrides_across_window(void **state)
{
	(void)state;
	EXPECT(CAL(EVENT("UID:s@x\r\n"
	                 "DTSTART;TZID=America/Chicago:20231218T100000\r\n"
	                 "DTEND;TZID=America/Chicago:20231218T110000\r\n"
	                 "RRULE:FREQ=WEEKLY;COUNT=4\r\n")
	               EVENT("UID:s@x\r\n"
	                     "RECURRENCE-ID;TZID=America/Chicago:20231225T100000\r\n"
	                     "DTSTART;TZID=America/Chicago:20240102T100000\r\n"
	                     "DTEND;TZID=America/Chicago:20240102T110000\r\n")
	                   EVENT("UID:s@x\r\n"
	                         "RECURRENCE-ID;TZID=America/Chicago:20240108T100000\r\n"
	                         "DTSTART;TZID=America/Chicago:20231229T100000\r\n"
	                         "DTEND;TZID=America/Chicago:20231229T110000\r\n")),
	       {U(2024, 1, 1, 16, 0), U(2024, 1, 1, 17, 0)}, {U(2024, 1, 2, 16, 0), U(2024, 1, 2, 17, 0)});
}

/* Google's all-day shape (RECURRENCE-ID;VALUE=DATE), an override whose
 * series is missing, and RANGE=THISANDFUTURE (a warning). */
static void test_overrides_other_shapes(void **state)
{
	(void)state;
	EXPECT(CAL(EVENT("UID:y@x\r\n"
	                 "DTSTART;VALUE=DATE:20200704\r\n"
	                 "DTEND;VALUE=DATE:20200705\r\n"
	                 "RRULE:FREQ=YEARLY\r\n") EVENT("UID:y@x\r\n"
	                                                "RECURRENCE-ID;VALUE=DATE:20240704\r\n"
	                                                "DTSTART;VALUE=DATE:20240705\r\n"
	                                                "DTEND;VALUE=DATE:20240706\r\n")
	               EVENT("UID:lonely@x\r\n"
	                     "RECURRENCE-ID;TZID=America/Chicago:20240402T090000\r\n"
	                     "DTSTART;TZID=America/Chicago:20240402T100000\r\n"
	                     "DTEND;TZID=America/Chicago:20240402T110000\r\n")),
	       {U(2024, 4, 2, 15, 0), U(2024, 4, 2, 16, 0)}, {U(2024, 7, 5, 5, 0), U(2024, 7, 6, 5, 0)});
	assert_int_equal(res.nwarnings, 0);
	EXPECT(CAL(EVENT("UID:s@x\r\n"
	                 "DTSTART:20240805T150000Z\r\n"
	                 "DTEND:20240805T160000Z\r\n"
	                 "RRULE:FREQ=DAILY;COUNT=3\r\n")
	               EVENT("UID:s@x\r\n"
	                     "RECURRENCE-ID;RANGE=THISANDFUTURE:20240806T150000Z\r\n"
	                     "DTSTART:20240806T170000Z\r\n"
	                     "DTEND:20240806T180000Z\r\n")),
	       {U(2024, 8, 5, 15, 0), U(2024, 8, 5, 16, 0)}, {U(2024, 8, 6, 17, 0), U(2024, 8, 6, 18, 0)},
	       {U(2024, 8, 7, 15, 0), U(2024, 8, 7, 16, 0)});
	assert_int_equal(res.nwarnings, 1);
	assert_string_equal(res.warning, "line 10: RANGE=THISANDFUTURE is read as a change of one instance");
}

/* ------------------------------------------------------------ statuses and components */

static void test_transparent_and_cancelled(void **state)
{
	(void)state;
	EXPECT(
	    CAL(EVENT("UID:1@x\r\nDTSTART:20240601T150000Z\r\nDTEND:20240601T160000Z\r\nTRANSP:"
	              "TRANSPARENT\r\n") EVENT("UID:2@x\r\nDTSTART:20240602T150000Z\r\nDTEND:"
	                                       "20240602T160000Z\r\nSTATUS:CANCELLED\r\n")
	            EVENT("UID:3@x\r\nDTSTART:20240603T150000Z\r\nDTEND:20240603T160000Z\r\n"
	                  "STATUS:CANCELLED\r\nTRANSP:TRANSPARENT\r\n")
	                EVENT("UID:4@x\r\nDTSTART:20240604T150000Z\r\nDTEND:20240604T160000Z\r\n"
	                      "STATUS:TENTATIVE\r\nTRANSP:OPAQUE\r\n")
	                    EVENT("UID:5@x\r\nDTSTART:20240605T150000Z\r\nDTEND:20240605T160000Z\r\n"
	                          "RRULE:FREQ=DAILY;COUNT=3\r\nSTATUS:CANCELLED\r\n") "BEGIN:VTODO\r\nUID:t@"
	                                                                              "x\r\nDTSTART:"
	                                                                              "20240606T150000Z\r\nDU"
	                                                                              "E:20240606T160000Z\r\n"
	                                                                              "END:VTODO\r\n"
	                                                                              "BEGIN:VJOURNAL\r\nUID:"
	                                                                              "j@x\r\nDTSTART:"
	                                                                              "20240607T150000Z\r\nEN"
	                                                                              "D:VJOURNAL\r\n"),
	    {U(2024, 6, 4, 15, 0), U(2024, 6, 4, 16, 0)});
	assert_int_equal(res.nevents, 5);
	assert_int_equal(res.ncancelled, 3);
	assert_int_equal(res.nskipped_transparent, 1);
}

static void test_freebusy(void **state)
{
	(void)state;
	EXPECT(CAL("BEGIN:VFREEBUSY\r\n"
	           "UID:fb@x\r\n"
	           "FREEBUSY:20240401T150000Z/20240401T160000Z,20240402T150000Z/PT30M\r\n"
	           "FREEBUSY;FBTYPE=FREE:20240403T150000Z/PT1H\r\n"
	           "FREEBUSY;FBTYPE=BUSY-TENTATIVE:20240404T150000Z/PT1H\r\n"
	           "END:VFREEBUSY\r\n"),
	       {U(2024, 4, 1, 15, 0), U(2024, 4, 1, 16, 0)}, {U(2024, 4, 2, 15, 0), U(2024, 4, 2, 15, 30)},
	       {U(2024, 4, 4, 15, 0), U(2024, 4, 4, 16, 0)});
}

/* ------------------------------------------------------------ file shapes */

#define ONE_EVENT                                                                                            \
	"BEGIN:VEVENT\nUID:1@x\nDTSTART;TZID=America/Chicago:20240109T140000\n"                              \
	"DTEND;TZID=America/Chicago:20240109T150000\nEND:VEVENT\n"

static void test_line_ends_and_bom(void **state)
{
	(void)state;
	const int64_t want[][2] = {{U(2024, 1, 9, 20, 0), U(2024, 1, 9, 21, 0)}};
	expect_busy("BEGIN:VCALENDAR\n" ONE_EVENT "END:VCALENDAR\n", want, 1);
	expect_busy("\xEF\xBB\xBF"
	            "BEGIN:VCALENDAR\n" ONE_EVENT "END:VCALENDAR",
	            want, 1);
	expect_busy("BEGIN:VCALENDAR\rBEGIN:VEVENT\rUID:1@x\rDTSTART;TZID=America/Chicago:20240109T140000\r"
	            "DTEND;TZID=America/Chicago:20240109T150000\rEND:VEVENT\rEND:VCALENDAR\r",
	            want, 1);
	/* Folded with a space and with a tab, blank lines around. */
	expect_busy(
	    "\r\nBEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1@x\r\nDTSTART;TZID=America/Ch\r\n icago:2024010\r\n"
	    "\t9T140000\r\n\r\nDTEND;TZID=America/Chicago:20240109T150000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	    "\r\n\r\n",
	    want, 1);
	assert_int_equal(res.nwarnings, 0);
}

/* Two VCALENDARs: each reads its own VTIMEZONEs; an override in the
 * second applies to the series in the first (concatenated invites). */
static void test_two_calendars(void **state)
{
	(void)state;
	EXPECT(CAL("BEGIN:VTIMEZONE\r\nTZID:Plus3\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
	           "TZOFFSETFROM:+0300\r\nTZOFFSETTO:+0300\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n" EVENT(
	               "UID:s@x\r\nDTSTART;TZID=Plus3:20240110T100000\r\nDTEND;TZID=Plus3:20240110T110000\r\n"
	               "RRULE:FREQ=DAILY;COUNT=3\r\n"))
	           CAL("BEGIN:VTIMEZONE\r\nTZID:Plus3\r\nBEGIN:STANDARD\r\nDTSTART:19700101T000000\r\n"
	               "TZOFFSETFROM:+0400\r\nTZOFFSETTO:+0400\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n" EVENT(
	                   "UID:s@x\r\nRECURRENCE-ID;TZID=Plus3:20240111T110000\r\n"
	                   "DTSTART;TZID=Plus3:20240115T100000\r\nDTEND;TZID=Plus3:20240115T110000\r\n")),
	       /* 10:00 at +03 on the 10th and 12th; the 11th (11:00 at +04
	        * is 07:00Z, the same instant) moved to the 15th at +04. */
	       {U(2024, 1, 10, 7, 0), U(2024, 1, 10, 8, 0)}, {U(2024, 1, 12, 7, 0), U(2024, 1, 12, 8, 0)},
	       {U(2024, 1, 15, 6, 0), U(2024, 1, 15, 7, 0)});
	assert_int_equal(res.nevents, 2);
}

/* Whole events outside the window are left out; one that overlaps it is
 * returned whole. */
static void test_window(void **state)
{
	(void)state;
	EXPECT(CAL(EVENT("UID:1@x\r\nDTSTART:20231231T230000Z\r\nDTEND:20240101T010000Z\r\n")
	               EVENT("UID:2@x\r\nDTSTART:20231231T220000Z\r\nDTEND:20240101T000000Z\r\n")
	                   EVENT("UID:3@x\r\nDTSTART:20241231T235959Z\r\nDTEND:20250101T010000Z\r\n")
	                       EVENT("UID:4@x\r\nDTSTART:20250101T000000Z\r\nDTEND:20250101T010000Z\r\n")),
	       {U(2023, 12, 31, 23, 0), U(2024, 1, 1, 1, 0)},
	       {U(2024, 12, 31, 23, 59) + 59, U(2025, 1, 1, 1, 0)});
}

/* ------------------------------------------------------------ errors */

static void test_not_icalendar(void **state)
{
	(void)state;
	expect_error("<html><body>Not Found</body></html>\n", ERR_MALFORMED,
	             "not an iCalendar file (it does not start with BEGIN:VCALENDAR)");
	expect_error("BEGIN:VEVENT\r\nEND:VEVENT\r\n", ERR_MALFORMED,
	             "not an iCalendar file (it does not start with BEGIN:VCALENDAR)");
	expect_error("\r\n\r\n  \r\n", ERR_MALFORMED, "not an iCalendar file (it has no BEGIN:VCALENDAR)");
	expect_error("", ERR_MALFORMED, "the file is empty");
}

static void test_truncated(void **state)
{
	(void)state;
	expect_error("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:1@x\r\nDTSTART:20240101T100000Z\r\n",
	             ERR_MALFORMED, "truncated: BEGIN:VEVENT on line 2 never ends");
	expect_error("BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART:20240101T100000Z\r\nEND:VEVENT\r\n",
	             ERR_MALFORMED, "truncated: BEGIN:VCALENDAR on line 1 never ends");
}

static void test_structure_errors(void **state)
{
	(void)state;
	expect_error(CAL("BEGIN:VEVENT\r\nUID:1@x\r\nEND:VTODO\r\n"), ERR_MALFORMED,
	             "line 6: END:VTODO does not match BEGIN:VEVENT on line 4");
	expect_error("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\nEND:VEVENT\r\n", ERR_MALFORMED,
	             "line 3: END:VEVENT without a BEGIN");
	expect_error("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VEVENT\r\n", ERR_MALFORMED,
	             "line 3: BEGIN:VEVENT outside a VCALENDAR");
	expect_error(CAL(EVENT("UID:1@x\r\nDTEND:20240101T100000Z\r\n")), ERR_MALFORMED,
	             "line 4: an event without DTSTART");
	struct buf b;
	buf_init(&b, NULL, 1 << 16);
	buf_puts(&b, "BEGIN:VCALENDAR\r\n");
	for (int i = 0; i < 40; i++)
		buf_puts(&b, "BEGIN:X-DEEP\r\n");
	expect_error(buf_cstr(&b), ERR_MALFORMED, "line 33: components nested more than 32 deep");
	buf_release(&b);
	/* A NUL byte: the text would end there for any C reader. */
	static const char nul[] = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\0\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
	struct cal_import_opts o = opts();
	arena_reset(&arena);
	assert_int_equal(cal_import(&arena, nul, sizeof(nul) - 1, &o, &res, err, sizeof(err)), ERR_MALFORMED);
	assert_string_equal(err, "line 2: a NUL byte; not a text file");
}

static void test_bad_values(void **state)
{
	(void)state;
	expect_error(CAL(EVENT("UID:1@x\r\nDTSTART:20241301T100000\r\n")), ERR_MALFORMED,
	             "line 6: bad DTSTART \"20241301T100000\"");
	expect_error(CAL(EVENT("UID:1@x\r\nDTSTART:2024-01-01\r\n")), ERR_MALFORMED,
	             "line 6: bad DTSTART \"2024-01-01\"");
	expect_error(CAL(EVENT("UID:1@x\r\nDTSTART:20240101T100000Z\r\nRRULE:FREQ=FORTNIGHTLY\r\n")),
	             ERR_MALFORMED, "line 7: bad RRULE \"FREQ=FORTNIGHTLY\"");

	expect_error(
	    CAL(EVENT("UID:1@x\r\nDTSTART:20240101T100000Z\r\nEXDATE:20240102T100000Z,tomorrow\r\n")),
	    ERR_MALFORMED, "line 7: bad EXDATE \"20240102T100000Z,tomorrow\"");
	expect_error(CAL(EVENT("UID:1@x\r\nDTSTART:20240101T100000Z\r\nDURATION:1 hour\r\n")), ERR_MALFORMED,
	             "line 7: bad DURATION \"1 hour\"");
	expect_error(CAL(EVENT("UID:1@x\r\nDTSTART;TZID=\"Europe/Berlin:20240101T100000\r\n")), ERR_MALFORMED,
	             "line 6: bad DTSTART \"20240101T100000\"");
	expect_error(
	    CAL(EVENT("UID:1@x\r\nDTSTART:20240101T100000Z\r\nRDATE;VALUE=PERIOD:20240102T100000Z/soon\r\n")),
	    ERR_MALFORMED, "line 7: bad RDATE \"20240102T100000Z/soon\"");
	/* Long values are cut, odd bytes shown as '?'. */
	expect_error(
	    CAL(EVENT(
	        "UID:1@x\r\nDTSTART:\"\xC3\xA9<script>alert(1)</script>aaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n")),
	    ERR_MALFORMED, "line 6: bad DTSTART \"?\?\?<script>alert(1)</script>aaaaaaaaaaaa...\"");
}

/* Text that is not an iCalendar line inside a component (an unfolded
 * description, say) is skipped with a warning; so is text after the end. */
static void test_junk_lines_warn(void **state)
{
	(void)state;
	EXPECT(
	    CAL(EVENT(
	        "UID:1@x\r\nDTSTART:20240401T150000Z\r\nDTEND:20240401T160000Z\r\n"
	        "DESCRIPTION:first line\r\nand a second line that was not folded\r\n")) "trailing words\r\n",
	    {U(2024, 4, 1, 15, 0), U(2024, 4, 1, 16, 0)});
	assert_int_equal(res.nwarnings, 2);
	assert_string_equal(res.warning, "line 9: not an iCalendar content line; ignored");
}

static void test_options(void **state)
{
	(void)state;
	struct cal_import_opts o = opts();
	o.zone = "Mars/Olympus_Mons";
	assert_int_equal(run_opts(CAL(""), &o), ERR_INVALID);
	o = opts();
	o.to = o.from;
	assert_int_equal(run_opts(CAL(""), &o), ERR_INVALID);
	o = opts();
	o.max_instances = 0;
	assert_int_equal(run_opts(CAL(""), &o), ERR_INVALID);
}

/* ------------------------------------------------------------ bounds */

static void test_too_large(void **state)
{
	(void)state;
	struct cal_import_opts o = opts();
	o.max_bytes = 100;
	char big[201];
	memset(big, 'x', 200);
	big[200] = '\0';
	assert_int_equal(run_opts(big, &o), ERR_TOO_LARGE);
	assert_string_equal(err, "the file is 200 bytes; the limit is 100");
	assert_int_equal(res.nbusy, 0);
}

/* Endless rules that began long ago: only the window's instances, found
 * without walking from the start. */
static void test_endless_rules_bounded_by_window(void **state)
{
	(void)state;
	assert_int_equal(
	    run(CAL(EVENT("UID:d@x\r\nDTSTART;TZID=America/Chicago:20000101T100000\r\n"
	                  "DTEND;TZID=America/Chicago:20000101T103000\r\nRRULE:FREQ=DAILY\r\n"))),
	    0);
	assert_int_equal(res.nbusy, 366);
	assert_int_equal(res.busy[0].start, U(2024, 1, 1, 16, 0));
	assert_int_equal(res.busy[69].start, U(2024, 3, 10, 15, 0)); /* CDT from 10 March */
	assert_int_equal(res.busy[365].start, U(2024, 12, 31, 16, 0));
	assert_int_equal(
	    run(CAL(EVENT("UID:w@x\r\nDTSTART;TZID=America/Chicago:19900101T100000\r\n"
	                  "DTEND;TZID=America/Chicago:19900101T103000\r\nRRULE:FREQ=WEEKLY\r\n")
	                EVENT("UID:m@x\r\nDTSTART:19900115T100000Z\r\nDTEND:19900115T110000Z\r\n"
	                      "RRULE:FREQ=MONTHLY\r\n")
	                    EVENT("UID:y@x\r\nDTSTART;VALUE=DATE:19900517\r\nRRULE:FREQ=YEARLY\r\n")
	                        EVENT("UID:h@x\r\nDTSTART:19700101T000000Z\r\nDURATION:PT1M\r\n"
	                              "RRULE:FREQ=HOURLY;INTERVAL=7\r\n"))),
	    0);
	/* 53 Mondays (1 January 2024 was one), 12 months, 1 birthday, and
	 * every 7 hours: 8784 / 7 = 1254.9, from 01:00Z on 1 January. */
	assert_int_equal(res.nbusy, 53 + 12 + 1 + 1255);
}

/* A 10,000-instance series (COUNT) far in the past is walked from its
 * start but stays cheap; one that does not fit is an error, and so is a
 * rule that would make libical search forever. */
static void test_long_series_bounded(void **state)
{
	(void)state;
	assert_int_equal(
	    run(CAL(EVENT("UID:c@x\r\nDTSTART;TZID=America/Chicago:20000101T090000\r\n"
	                  "DTEND;TZID=America/Chicago:20000101T100000\r\nRRULE:FREQ=DAILY;COUNT=10000\r\n"))),
	    0);
	assert_int_equal(res.nbusy, 366);
	struct cal_import_opts o = opts();
	o.max_instances = 1000;
	assert_int_equal(run_opts(CAL(EVENT("UID:h@x\r\nDTSTART:20240601T000000Z\r\nDURATION:PT1M\r\n"
	                                    "RRULE:FREQ=HOURLY\r\n")),
	                          &o),
	                 ERR_TOO_LARGE);
	assert_string_equal(err, "more than 1000 busy times in the import window");
	/* Every minute for seven months: the step budget (100000 here) ends
	 * it first. */
	assert_int_equal(run_opts(CAL(EVENT("UID:m@x\r\nDTSTART:20240601T000000Z\r\nDURATION:PT1M\r\n"
	                                    "RRULE:FREQ=MINUTELY\r\n")),
	                          &o),
	                 ERR_TOO_LARGE);
	assert_string_equal(
	    err, "the recurrences and time zones in this file need too much work to expand (over 100000 "
	         "steps)");
	/* 29 February every day-step since 1700 with COUNT (walked from
	 * DTSTART, one step per day): the budget ends the walk in 1974. */
	assert_int_equal(run(CAL(EVENT("UID:n@x\r\nDTSTART:17000101T090000Z\r\nDURATION:PT1H\r\n"
	                               "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;COUNT=500\r\n"))),
	                 ERR_TOO_LARGE);
	assert_string_equal(
	    err, "the recurrences and time zones in this file need too much work to expand (over 100000 "
	         "steps)");
	assert_int_equal(run(CAL(EVENT("UID:s@x\r\nDTSTART:20230301T000000Z\r\nDURATION:PT1S\r\n"
	                               "RRULE:FREQ=SECONDLY;BYMONTH=2;BYMONTHDAY=29;COUNT=5\r\n"))),
	                 ERR_TOO_LARGE);
	/* The same rule with a COUNT it reaches in time: 29 February 2024
	 * is its 5th instance since 2008. */
	EXPECT(CAL(EVENT("UID:n@x\r\nDTSTART:20080229T090000Z\r\nDURATION:PT1H\r\n"
	                 "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=29;COUNT=5\r\n")),
	       {U(2024, 2, 29, 9, 0), U(2024, 2, 29, 10, 0)});
	/* Never matches (30 February): recognised, not walked. */
	expect_none(CAL(EVENT("UID:n@x\r\nDTSTART:17000101T090000Z\r\nDURATION:PT1H\r\n"
	                      "RRULE:FREQ=DAILY;BYMONTH=2;BYMONTHDAY=30;COUNT=5\r\n")));
	assert_string_equal(res.warning,
	                    "line 8: RRULE never matches a date; only DTSTART and RDATE are used");
}

/* libical searches month by month up to the year 2582 for the first
 * instance of a MONTHLY rule that can never match (seconds each); such
 * rules are recognised first: only DTSTART, and a warning. */
static void test_rules_that_never_match(void **state)
{
	(void)state;
#define NEVER(rule) EVENT("UID:" rule "\r\nDTSTART:20240105T150000Z\r\nDURATION:PT1H\r\nRRULE:" rule "\r\n")
	EXPECT(CAL(NEVER("FREQ=MONTHLY;BYDAY=-6FR") NEVER("FREQ=MONTHLY;BYMONTH=4;BYMONTHDAY=31") NEVER(
	           "FREQ=MONTHLY;BYDAY=MO;BYSETPOS=6") NEVER("FREQ=YEARLY;BYMONTH=2;BYDAY=5MO;BYMONTHDAY=1")
	               NEVER("FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30;COUNT=3")),
	       {U(2024, 1, 5, 15, 0), U(2024, 1, 5, 16, 0)}, {U(2024, 1, 5, 15, 0), U(2024, 1, 5, 16, 0)},
	       {U(2024, 1, 5, 15, 0), U(2024, 1, 5, 16, 0)}, {U(2024, 1, 5, 15, 0), U(2024, 1, 5, 16, 0)},
	       {U(2024, 1, 5, 15, 0), U(2024, 1, 5, 16, 0)});
	assert_int_equal(res.nwarnings, 5);
	assert_string_equal(res.warning,
	                    "line 8: RRULE never matches a date; only DTSTART and RDATE are used");
	/* Rare but possible: five Fridays in February (2036), 29 February on
	 * a Monday (2044). */
	struct cal_import_opts o = opts();
	o.to = U(2045, 1, 1, 0, 0);
	assert_int_equal(run_opts(CAL(NEVER("FREQ=MONTHLY;BYDAY=5FR;BYMONTH=2")
	                                  NEVER("FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=29;BYDAY=MO")),
	                          &o),
	                 0);
	assert_int_equal(res.nwarnings, 0);
	const int64_t want[][2] = {
	    {U(2024, 1, 5, 15, 0), U(2024, 1, 5, 16, 0)},
	    {U(2024, 1, 5, 15, 0), U(2024, 1, 5, 16, 0)},
	    {U(2036, 2, 29, 15, 0), U(2036, 2, 29, 16, 0)},
	    {U(2044, 2, 29, 15, 0), U(2044, 2, 29, 16, 0)},
	};
	check_busy(want, 4);
#undef NEVER
}

static void test_max_instances_exact(void **state)
{
	(void)state;
	const char *ics = CAL(EVENT("UID:d@x\r\nDTSTART:20240101T100000Z\r\nDTEND:20240101T110000Z\r\n"
	                            "RRULE:FREQ=DAILY;COUNT=366\r\n"));
	struct cal_import_opts o = opts();
	o.max_instances = 366;
	assert_int_equal(run_opts(ics, &o), 0);
	assert_int_equal(res.nbusy, 366);
	o.max_instances = 365;
	assert_int_equal(run_opts(ics, &o), ERR_TOO_LARGE);
	assert_null(res.busy);
}

/* ------------------------------------------------------------ helpers of the API */

static void test_busy_merge(void **state)
{
	(void)state;
	struct cal_busy b[] = {{8, 9}, {2, 5}, {1, 3}, {5, 6}, {0, 1}, {10, 12}, {11, 11}};
	size_t n = cal_busy_merge(b, ARRAY_LEN(b));
	assert_int_equal(n, 3);
	assert_int_equal(b[0].start, 0);
	assert_int_equal(b[0].end, 6);
	assert_int_equal(b[1].start, 8);
	assert_int_equal(b[1].end, 9);
	assert_int_equal(b[2].start, 10);
	assert_int_equal(b[2].end, 12);
	assert_int_equal(cal_busy_merge(b, 0), 0);
}

static void test_windows_names(void **state)
{
	(void)state;
	static const char *const names[][2] = {
	    {"W. Europe Standard Time", "Europe/Berlin"},
	    {"Eastern Standard Time", "America/New_York"},
	    {"Pacific Standard Time", "America/Los_Angeles"},
	    {"GMT Standard Time", "Europe/London"},
	    {"Romance Standard Time", "Europe/Paris"},
	    {"Central Standard Time", "America/Chicago"},
	    {"Mountain Standard Time", "America/Denver"},
	    {"India Standard Time", "Asia/Kolkata"},
	    {"AUS Eastern Standard Time", "Australia/Sydney"},
	    {"Tokyo Standard Time", "Asia/Tokyo"},
	    {"FLE Standard Time", "Europe/Kyiv"},
	    {"UTC", "Etc/UTC"},
	    {"Central Europe Standard Time", "Europe/Budapest"},
	    {"E. South America Standard Time", "America/Sao_Paulo"},
	    {"US Mountain Standard Time", "America/Phoenix"},
	    {"Lord Howe Standard Time", "Australia/Lord_Howe"},
	};
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		const char *z = cal_windows_zone(names[i][0]);
		assert_non_null(z);
		assert_string_equal(z, names[i][1]);
		const struct tz *t;
		assert_int_equal(tz_get(z, &t), 0);
	}
	assert_string_equal(cal_windows_zone("w. europe standard time"), "Europe/Berlin");
	assert_null(cal_windows_zone("Middle Earth Standard Time"));
	assert_null(cal_windows_zone(NULL));
}

/* Imports on several threads at once (libical behind its lock) give the
 * same answer as one alone. */
#define THREAD_ICS                                                                                           \
	CAL(VTZ_CHICAGO WEEKLY_CHI GAP_FOLD EVENT(                                                           \
	    "UID:x@x\r\nDTSTART;TZID=W. Europe Standard Time:20240115T090000\r\n"                            \
	    "DTEND;TZID=W. Europe Standard Time:20240115T100000\r\n"                                         \
	    "RRULE:FREQ=WEEKLY;BYDAY=MO,WE;COUNT=40\r\n"))

static void *import_many(void *arg)
{
	size_t *n = arg;
	struct arena a;
	arena_init(&a);
	struct cal_import_opts o = opts();
	for (int i = 0; i < 30; i++) {
		arena_reset(&a);
		struct cal_import_result r;
		char e[256];
		if (cal_import(&a, THREAD_ICS, strlen(THREAD_ICS), &o, &r, e, sizeof(e)) != 0)
			*n = 0;
		else if (i == 0)
			*n = r.nbusy;
		else if (*n != r.nbusy)
			*n = 0;
	}
	arena_release(&a);
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	assert_int_equal(run(THREAD_ICS), 0);
	size_t want = res.nbusy;
	assert_int_equal(want, 4 + 2 + 40);
	pthread_t t[4];
	size_t n[4];
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, import_many, &n[i]), 0);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(n[i], want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dst_week_chicago),
	    cmocka_unit_test(test_dst_fall_week),
	    cmocka_unit_test(test_gap_and_fold),
	    cmocka_unit_test(test_windows_zone_without_vtimezone),
	    cmocka_unit_test(test_vtimezone_wins),
	    cmocka_unit_test(test_unknown_tzid_warns),
	    cmocka_unit_test(test_prefixed_tzid),
	    cmocka_unit_test(test_unusual_vtimezone_refused),
	    cmocka_unit_test(test_allday_in_clinician_zone),
	    cmocka_unit_test(test_floating),
	    cmocka_unit_test(test_lengths),
	    cmocka_unit_test(test_zero_and_negative_length),
	    cmocka_unit_test(test_exdate),
	    cmocka_unit_test(test_rdate),
	    cmocka_unit_test(test_until_forms),
	    cmocka_unit_test(test_dtstart_and_several_rules),
	    cmocka_unit_test(test_daily_last_day),
	    cmocka_unit_test(test_rscale_warns),
	    cmocka_unit_test(test_overrides),
	    cmocka_unit_test(test_overrides_across_window),
	    cmocka_unit_test(test_overrides_other_shapes),
	    cmocka_unit_test(test_transparent_and_cancelled),
	    cmocka_unit_test(test_freebusy),
	    cmocka_unit_test(test_line_ends_and_bom),
	    cmocka_unit_test(test_two_calendars),
	    cmocka_unit_test(test_window),
	    cmocka_unit_test(test_not_icalendar),
	    cmocka_unit_test(test_truncated),
	    cmocka_unit_test(test_structure_errors),
	    cmocka_unit_test(test_bad_values),
	    cmocka_unit_test(test_junk_lines_warn),
	    cmocka_unit_test(test_options),
	    cmocka_unit_test(test_too_large),
	    cmocka_unit_test(test_endless_rules_bounded_by_window),
	    cmocka_unit_test(test_long_series_bounded),
	    cmocka_unit_test(test_rules_that_never_match),
	    cmocka_unit_test(test_max_instances_exact),
	    cmocka_unit_test(test_busy_merge),
	    cmocka_unit_test(test_windows_names),
	    cmocka_unit_test(test_threads),
	};
	int rc = cmocka_run_group_tests_name("calimport", tests, setup, teardown);
	tz_cache_clear();
	return rc;
}
