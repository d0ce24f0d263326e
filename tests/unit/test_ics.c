/* Unit tests: iCalendar invites — exact output, recurrence (RRULE, RDATE,
 * fall-back hours), VTIMEZONE (read back and compared with core/tz for many
 * zones and years), escaping and CN quoting, header injection, folding
 * (UTF-8, escape pairs, <= 75 octets, CRLF) and refolding, validation and
 * size limits. Independent readers check the same output in ics_check.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/tz.h"
#include "ics/ics.h"

#define DAY     86400
#define MAX_OUT (1 << 20)

static const char *const CHI = "America/Chicago";

/* ------------------------------------------------------------ helpers */

static int64_t at_local(const char *zone, int y, int mo, int d, int h, int mi)
{
	const struct tz *z = NULL;
	assert_int_equal(tz_get(zone, &z), 0);
	return tz_local_to_utc(z, tz_days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60, NULL);
}

static int64_t utc(int y, int mo, int d, int h, int mi)
{
	return tz_days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60;
}

static const struct ics_attendee alex = {"Alex Client", "alex@example.org"};
static struct ics_block one_block[1];

/* A consult in Chicago on 2026-11-02, 10:00-10:50 CST. */
static struct ics_invite base(void)
{
	one_block[0].start = utc(2026, 11, 2, 16, 0);
	one_block[0].end = utc(2026, 11, 2, 16, 50);
	return (struct ics_invite){
	    .method = "REQUEST",
	    .uid = "b-1001@tandem.example",
	    .sequence = 0,
	    .dtstamp = utc(2026, 10, 1, 12, 0),
	    .tzid = CHI,
	    .summary = "Riverbend Practice — Appointment",
	    .description = "Manage your booking: https://tandem.example/b/Tok3n_abc",
	    .location = "12 Main St, Suite 4; Springfield",
	    .url = "https://tandem.example/b/Tok3n_abc",
	    .organizer_name = "Dr. Jo Rivers",
	    .organizer_email = "jo@riverbend.example",
	    .attendees = &alex,
	    .nattendees = 1,
	    .blocks = one_block,
	    .nblocks = 1,
	};
}

/* The calendar for inv (must succeed); the caller frees it. */
static char *write_ok(const struct ics_invite *inv)
{
	struct buf out;
	buf_init(&out, NULL, MAX_OUT);
	int rc = ics_write_invite(inv, &out);
	if (rc != 0)
		fail_msg("ics_write_invite: %d", rc);
	char *s = xstrdup(buf_cstr(&out));
	buf_release(&out);
	return s;
}

static int write_rc(const struct ics_invite *inv)
{
	struct buf out;
	buf_init(&out, NULL, MAX_OUT);
	buf_puts(&out, "keep");
	int rc = ics_write_invite(inv, &out);
	if (rc != 0) /* on error out is left as it was */
		assert_string_equal(buf_cstr(&out), "keep");
	buf_release(&out);
	return rc;
}

/* RFC 5545 3.1 unfolding; the caller frees. */
static char *unfold(const char *s)
{
	size_t n = strlen(s), j = 0;
	char *u = xmalloc(n + 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' && s[i + 1] == '\n' && (s[i + 2] == ' ' || s[i + 2] == '\t')) {
			i += 2;
			continue;
		}
		u[j++] = s[i];
	}
	u[j] = '\0';
	return u;
}

static char *dup_n(const char *p, size_t n)
{
	char *r = xmalloc(n + 1);
	memcpy(r, p, n);
	r[n] = '\0';
	return r;
}

/* The unfolded logical lines of s as an array (NULL-terminated); free with
 * free_lines. */
static char **lines_of(const char *s)
{
	char *u = unfold(s);
	size_t cap = 16, n = 0;
	char **v = xmalloc(cap * sizeof(*v));
	for (char *p = u; *p;) {
		char *e = strstr(p, "\r\n");
		assert_non_null(e);
		if (n + 2 > cap) {
			cap *= 2;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = dup_n(p, (size_t)(e - p));
		p = e + 2;
	}
	v[n] = NULL;
	free(u);
	return v;
}

static void free_lines(char **v)
{
	for (char **p = v; *p; p++)
		free(*p);
	free(v);
}

static bool has_line(const char *ics, const char *line)
{
	char **v = lines_of(ics);
	bool found = false;
	for (char **p = v; *p && !found; p++)
		found = strcmp(*p, line) == 0;
	free_lines(v);
	return found;
}

#define assert_line(ics, line)                                                                               \
	do {                                                                                                 \
		if (!has_line((ics), (line)))                                                                \
			fail_msg("missing line %s in\n%s", (line), (ics));                                   \
	} while (0)

/* The property name of a content line: up to the first ';' or ':'. */
static size_t name_len(const char *line)
{
	return strcspn(line, ";:");
}

static int count_prop(const char *ics, const char *name)
{
	char **v = lines_of(ics);
	int n = 0;
	for (char **p = v; *p; p++)
		if (name_len(*p) == strlen(name) && strncmp(*p, name, strlen(name)) == 0)
			n++;
	free_lines(v);
	return n;
}

/* The first logical line of property name (with parameters); freed by caller. */
static char *prop_line(const char *ics, const char *name)
{
	char **v = lines_of(ics);
	char *r = NULL;
	for (char **p = v; *p && !r; p++)
		if (name_len(*p) == strlen(name) && strncmp(*p, name, strlen(name)) == 0)
			r = xstrdup(*p);
	free_lines(v);
	if (!r)
		fail_msg("no %s line", name);
	return r;
}

/* The value of a logical line: after the first ':' outside quotes. */
static const char *value_of(const char *line)
{
	bool q = false;
	for (const char *p = line; *p; p++) {
		if (*p == '"')
			q = !q;
		else if (*p == ':' && !q)
			return p + 1;
	}
	fail_msg("no value in %s", line);
	return NULL;
}

/* RFC 5545 TEXT unescaping; freed by caller. */
static char *unescape(const char *v)
{
	char *r = xmalloc(strlen(v) + 1), *o = r;
	for (const char *p = v; *p; p++) {
		if (*p == '\\' && p[1]) {
			p++;
			*o++ = (*p == 'n' || *p == 'N') ? '\n' : *p;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return r;
}

/* Every rule of SPEC §4 for physical lines, and refolding is a no-op. */
static void assert_well_folded(const char *s, size_t n)
{
	assert_true(n >= 2);
	assert_memory_equal(s + n - 2, "\r\n", 2);
	size_t i = 0;
	/* Escape pairs are counted over the logical line: pending is true
	 * when the logical line so far ends in a '\' still waiting for its
	 * character. */
	bool pending = false;
	while (i < n) {
		const char *e = memmem(s + i, n - i, "\r\n", 2);
		assert_non_null(e);
		size_t len = (size_t)(e - (s + i));
		if (len > 75)
			fail_msg("line of %zu octets: %.*s", len, (int)len, s + i);
		assert_null(memchr(s + i, '\r', len));
		assert_null(memchr(s + i, '\n', len));
		if (!str_valid_utf8((struct str){s + i, len}))
			fail_msg("UTF-8 split: %.*s", (int)len, s + i);
		bool cont = len > 0 && s[i] == ' ';
		if (!cont)
			pending = false;
		else
			assert_true(len > 1); /* a continuation carries something */
		for (size_t k = cont ? 1 : 0; k < len; k++) {
			if (pending)
				pending = false;
			else if (s[i + k] == '\\')
				pending = true;
		}
		i = (size_t)(e - s) + 2;
		if (pending && i < n && s[i] == ' ')
			fail_msg("escape split after: %.*s", (int)len, e - len);
		if (i < n)
			assert_true(s[i] != '\t'); /* we fold with a space */
	}
	/* Refolding our own output changes nothing. */
	struct buf r;
	buf_init(&r, NULL, MAX_OUT);
	assert_int_equal(ics_refold(s, n, &r), 0);
	assert_int_equal(r.len, n);
	assert_memory_equal(r.data, s, n);
	buf_release(&r);
}

/* ------------------------------------------------------------ basics */

static void test_content_type(void **state)
{
	(void)state;
	assert_string_equal(ics_content_type("REQUEST"), "text/calendar; charset=utf-8; method=REQUEST");
	assert_string_equal(ics_content_type("CANCEL"), "text/calendar; charset=utf-8; method=CANCEL");
	assert_string_equal(ics_content_type("PUBLISH"), "text/calendar; charset=utf-8; method=PUBLISH");
	assert_string_equal(ics_content_type(NULL), "text/calendar; charset=utf-8");
	assert_string_equal(ics_content_type("request; x=1"), "text/calendar; charset=utf-8");
}

/* The whole file for a plain consult, byte for byte. */
static void test_consult_exact(void **state)
{
	(void)state;
	struct ics_invite inv = base();
	char *s = write_ok(&inv);
	static const char want[] =
	    "BEGIN:VCALENDAR\r\n"
	    "PRODID:-//Tandem//Tandem Booking//EN\r\n"
	    "VERSION:2.0\r\n"
	    "CALSCALE:GREGORIAN\r\n"
	    "METHOD:REQUEST\r\n"
	    "BEGIN:VTIMEZONE\r\n"
	    "TZID:America/Chicago\r\n"
	    "X-LIC-LOCATION:America/Chicago\r\n"
	    "BEGIN:DAYLIGHT\r\n"
	    "DTSTART:20250309T020000\r\n"
	    "TZOFFSETFROM:-0600\r\n"
	    "TZOFFSETTO:-0500\r\n"
	    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\n"
	    "TZNAME:CDT\r\n"
	    "END:DAYLIGHT\r\n"
	    "BEGIN:STANDARD\r\n"
	    "DTSTART:20251102T020000\r\n"
	    "TZOFFSETFROM:-0500\r\n"
	    "TZOFFSETTO:-0600\r\n"
	    "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\n"
	    "TZNAME:CST\r\n"
	    "END:STANDARD\r\n"
	    "END:VTIMEZONE\r\n"
	    "BEGIN:VEVENT\r\n"
	    "UID:b-1001@tandem.example\r\n"
	    "SEQUENCE:0\r\n"
	    "DTSTAMP:20261001T120000Z\r\n"
	    "DTSTART;TZID=America/Chicago:20261102T100000\r\n"
	    "DTEND;TZID=America/Chicago:20261102T105000\r\n"
	    "SUMMARY:Riverbend Practice — Appointment\r\n"
	    "DESCRIPTION:Manage your booking: https://tandem.example/b/Tok3n_abc\r\n"
	    "LOCATION:12 Main St\\, Suite 4\\; Springfield\r\n"
	    "URL:https://tandem.example/b/Tok3n_abc\r\n"
	    "ORGANIZER;CN=Dr. Jo Rivers:mailto:jo@riverbend.example\r\n"
	    "ATTENDEE;CN=Alex Client;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRU\r\n"
	    " E:mailto:alex@example.org\r\n"
	    "STATUS:CONFIRMED\r\n"
	    "TRANSP:OPAQUE\r\n"
	    "END:VEVENT\r\n"
	    "END:VCALENDAR\r\n";
	assert_string_equal(s, want);
	assert_well_folded(s, strlen(s));
	free(s);
}

static void test_cancel_and_status(void **state)
{
	(void)state;
	struct ics_invite inv = base();
	inv.method = "CANCEL";
	inv.sequence = 3;
	inv.cancelled = true;
	char *s = write_ok(&inv);
	assert_line(s, "METHOD:CANCEL");
	assert_line(s, "UID:b-1001@tandem.example");
	assert_line(s, "SEQUENCE:3");
	assert_line(s, "STATUS:CANCELLED");
	assert_line(s, "ATTENDEE;CN=Alex Client;ROLE=REQ-PARTICIPANT:mailto:alex@example.org");
	assert_line(s, "ORGANIZER;CN=Dr. Jo Rivers:mailto:jo@riverbend.example");
	assert_null(strstr(s, "PARTSTAT"));
	assert_null(strstr(s, "RSVP"));
	free(s);

	/* A hold: TENTATIVE; cancelled wins over tentative. */
	inv = base();
	inv.tentative = true;
	s = write_ok(&inv);
	assert_line(s, "STATUS:TENTATIVE");
	assert_line(s, "TRANSP:OPAQUE");
	assert_int_equal(count_prop(s, "STATUS"), 1);
	free(s);
	inv.method = "CANCEL";
	inv.cancelled = true;
	s = write_ok(&inv);
	assert_line(s, "STATUS:CANCELLED");
	free(s);

	/* A feed entry: PUBLISH, no attendee, organizer optional. */
	inv = base();
	inv.method = "PUBLISH";
	inv.attendees = NULL;
	inv.nattendees = 0;
	inv.organizer_email = NULL;
	inv.cancelled = true;
	s = write_ok(&inv);
	assert_line(s, "METHOD:PUBLISH");
	assert_line(s, "STATUS:CANCELLED");
	assert_int_equal(count_prop(s, "ATTENDEE"), 0);
	assert_int_equal(count_prop(s, "ORGANIZER"), 0);
	free(s);
}

static void test_optional_properties(void **state)
{
	(void)state;
	struct ics_invite inv = base();
	inv.description = NULL;
	inv.location = "";
	inv.url = NULL;
	inv.summary = NULL;
	inv.organizer_name = "";
	static const struct ics_attendee noname = {NULL, "x@example.org"};
	inv.attendees = &noname;
	char *s = write_ok(&inv);
	assert_int_equal(count_prop(s, "DESCRIPTION"), 0);
	assert_int_equal(count_prop(s, "LOCATION"), 0);
	assert_int_equal(count_prop(s, "URL"), 0);
	assert_line(s, "SUMMARY:"); /* iTIP wants one, even empty */
	assert_line(s, "ORGANIZER:mailto:jo@riverbend.example");
	assert_line(s, "ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:x@example.org");
	free(s);

	/* Several attendees, each once, in order. */
	static const struct ics_attendee two[] = {{"A", "a@example.org"}, {"B", "b@example.org"}};
	inv = base();
	inv.attendees = two;
	inv.nattendees = 2;
	s = write_ok(&inv);
	assert_int_equal(count_prop(s, "ATTENDEE"), 2);
	char *u = unfold(s);
	char *a = strstr(u, "ATTENDEE;CN=A;"), *b = strstr(u, "ATTENDEE;CN=B;");
	assert_true(a && b && a < b);
	free(u);
	free(s);
}

/* ------------------------------------------------------------ recurrence */

static void test_intensive_rrule_across_dst(void **state)
{
	(void)state;
	/* 2027-03-13 and -14, 09:00-16:00 in Chicago; DST starts on the 14th. */
	struct ics_block b[2] = {
	    {utc(2027, 3, 13, 15, 0), utc(2027, 3, 13, 22, 0)},
	    {utc(2027, 3, 14, 14, 0), utc(2027, 3, 14, 21, 0)},
	};
	assert_int_equal(b[0].start, at_local(CHI, 2027, 3, 13, 9, 0));
	assert_int_equal(b[1].start, at_local(CHI, 2027, 3, 14, 9, 0));
	struct ics_invite inv = base();
	inv.blocks = b;
	inv.nblocks = 2;
	char *s = write_ok(&inv);
	assert_line(s, "DTSTART;TZID=America/Chicago:20270313T090000");
	assert_line(s, "DTEND;TZID=America/Chicago:20270313T160000");
	assert_line(s, "RRULE:FREQ=DAILY;COUNT=2");
	assert_int_equal(count_prop(s, "RDATE"), 0);
	assert_null(strstr(s, "UNTIL"));
	assert_int_equal(count_prop(s, "BEGIN"), 5); /* VCALENDAR VTIMEZONE 2 obs VEVENT */
	/* The zone window reaches back before the event. */
	assert_line(s, "DTSTART:20260308T020000");
	free(s);

	/* Five days in Berlin across the autumn change. */
	struct ics_block c[5];
	for (int i = 0; i < 5; i++) {
		c[i].start = at_local("Europe/Berlin", 2027, 10, 29 + i, 10, 0);
		c[i].end = c[i].start + 7 * 3600;
	}
	inv.tzid = "Europe/Berlin";
	inv.blocks = c;
	inv.nblocks = 5;
	s = write_ok(&inv);
	assert_line(s, "DTSTART;TZID=Europe/Berlin:20271029T100000");
	assert_line(s, "DTEND;TZID=Europe/Berlin:20271029T170000");
	assert_line(s, "RRULE:FREQ=DAILY;COUNT=5");
	assert_line(s, "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU");
	assert_line(s, "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU");
	free(s);
}

static void test_intensive_rdate(void **state)
{
	(void)state;
	/* Not consecutive: 6, 8 and 20 March 2027 (DST from the 14th). */
	struct ics_block b[3];
	int days[3] = {6, 8, 20};
	for (int i = 0; i < 3; i++) {
		b[i].start = at_local(CHI, 2027, 3, days[i], 9, 0);
		b[i].end = b[i].start + 7 * 3600;
	}
	struct ics_invite inv = base();
	inv.blocks = b;
	inv.nblocks = 3;
	char *s = write_ok(&inv);
	assert_line(s, "DTSTART;TZID=America/Chicago:20270306T090000");
	assert_line(s, "DTEND;TZID=America/Chicago:20270306T160000");
	assert_line(s, "RDATE;TZID=America/Chicago:20270308T090000,20270320T090000");
	assert_int_equal(count_prop(s, "RRULE"), 2); /* the zone's two only */
	free(s);

	/* Consecutive days at different times: RDATE, not RRULE. */
	b[0].start = at_local(CHI, 2027, 4, 5, 9, 0);
	b[1].start = at_local(CHI, 2027, 4, 6, 10, 0);
	b[2].start = at_local(CHI, 2027, 4, 7, 9, 0);
	for (int i = 0; i < 3; i++)
		b[i].end = b[i].start + 6 * 3600;
	s = write_ok(&inv);
	assert_line(s, "RDATE;TZID=America/Chicago:20270406T100000,20270407T090000");
	assert_null(strstr(s, "FREQ=DAILY"));
	free(s);

	/* Back-to-back blocks are fine. */
	b[0].start = utc(2027, 4, 5, 14, 0);
	b[0].end = b[1].start = utc(2027, 4, 5, 15, 0);
	b[1].end = utc(2027, 4, 5, 16, 0);
	inv.nblocks = 2;
	s = write_ok(&inv);
	assert_line(s, "RDATE;TZID=America/Chicago:20270405T100000");
	free(s);
}

/* 01:30 happens twice on 2026-11-01 in Chicago: such times go in UTC,
 * never through a TZID (readers disagree on which pass it means). */
static void test_fall_back_hour_in_utc(void **state)
{
	(void)state;
	struct ics_invite inv = base();
	one_block[0].start = utc(2026, 11, 1, 6, 30); /* 01:30 CDT */
	one_block[0].end = utc(2026, 11, 1, 7, 20);   /* 01:20 CST */
	char *s = write_ok(&inv);
	assert_line(s, "DTSTART:20261101T063000Z");
	assert_line(s, "DTEND:20261101T072000Z");
	free(s);

	inv = base();
	one_block[0].start = utc(2026, 11, 1, 7, 30); /* 01:30 CST */
	one_block[0].end = utc(2026, 11, 1, 8, 20);   /* 02:20 CST */
	s = write_ok(&inv);
	assert_line(s, "DTSTART:20261101T073000Z");
	assert_line(s, "DTEND;TZID=America/Chicago:20261101T022000");
	free(s);

	/* Two days at 01:30, the second ambiguous: no RRULE, an RDATE in UTC. */
	struct ics_block b[3];
	for (int i = 0; i < 3; i++) {
		b[i].start = utc(2026, 10, 31 + i, 6, 30);
		b[i].end = b[i].start + 50 * 60;
	}
	b[2].start = utc(2026, 11, 2, 7, 30); /* 01:30 CST, unambiguous */
	b[2].end = b[2].start + 50 * 60;
	inv.blocks = b;
	inv.nblocks = 3;
	s = write_ok(&inv);
	assert_line(s, "DTSTART;TZID=America/Chicago:20261031T013000");
	assert_line(s, "RDATE;TZID=America/Chicago:20261102T013000");
	assert_line(s, "RDATE:20261101T063000Z");
	assert_null(strstr(s, "FREQ=DAILY"));
	free(s);
}

/* ------------------------------------------------------------ VTIMEZONE */

/* One STANDARD or DAYLIGHT observance as read back from our output. */
struct obs {
	int64_t start;        /* DTSTART, local (core/tz encoding) */
	int32_t from, to;     /* TZOFFSETFROM, TZOFFSETTO */
	int month, nth, wday; /* RRULE:FREQ=YEARLY;BYMONTH;BYDAY, month 0 if none */
	int64_t rdate[128];   /* RDATE values, local */
	int nrdate;
};

static int64_t parse_local(const char *s)
{
	int y, mo, d, h, mi, se;
	assert_int_equal(sscanf(s, "%4d%2d%2dT%2d%2d%2d", &y, &mo, &d, &h, &mi, &se), 6);
	return tz_days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + se;
}

static int32_t parse_offset(const char *s)
{
	int h, m, sec = 0;
	size_t n = strlen(s);
	assert_true(n == 5 || n == 7);
	assert_true(s[0] == '+' || s[0] == '-');
	assert_int_equal(sscanf(s + 1, "%2d%2d", &h, &m), 2);
	if (n == 7)
		assert_int_equal(sscanf(s + 5, "%2d", &sec), 1);
	int32_t v = h * 3600 + m * 60 + sec;
	return s[0] == '-' ? -v : v;
}

static int wday_of(const char *dd)
{
	static const char *const names[] = {"MO", "TU", "WE", "TH", "FR", "SA", "SU"};
	for (int i = 0; i < 7; i++)
		if (strcmp(dd, names[i]) == 0)
			return i + 1;
	fail_msg("bad weekday %s", dd);
	return 0;
}

/* Reads the VTIMEZONE of ics (TZID must be tzid) into o; returns the count. */
static int read_vtimezone(const char *ics, const char *tzid, struct obs *o, int max)
{
	char **v = lines_of(ics);
	int n = -1;
	bool in = false;
	char want[128];
	snprintf(want, sizeof(want), "TZID:%s", tzid);
	for (char **p = v; *p; p++) {
		const char *l = *p;
		if (strcmp(l, "BEGIN:VTIMEZONE") == 0) {
			in = true;
		} else if (strcmp(l, "END:VTIMEZONE") == 0) {
			in = false;
		} else if (!in) {
			continue;
		} else if (strncmp(l, "TZID:", 5) == 0) {
			assert_string_equal(l, want);
		} else if (strcmp(l, "BEGIN:STANDARD") == 0 || strcmp(l, "BEGIN:DAYLIGHT") == 0) {
			assert_true(++n < max);
			memset(&o[n], 0, sizeof(o[n]));
		} else if (strncmp(l, "DTSTART:", 8) == 0) {
			o[n].start = parse_local(l + 8);
		} else if (strncmp(l, "TZOFFSETFROM:", 13) == 0) {
			o[n].from = parse_offset(l + 13);
		} else if (strncmp(l, "TZOFFSETTO:", 11) == 0) {
			o[n].to = parse_offset(l + 11);
		} else if (strncmp(l, "RRULE:", 6) == 0) {
			char dd[3];
			assert_int_equal(
			    sscanf(l, "RRULE:FREQ=YEARLY;BYMONTH=%d;BYDAY=%d%2s", &o[n].month, &o[n].nth, dd),
			    3);
			assert_true(o[n].nth == -1 || (o[n].nth >= 1 && o[n].nth <= 4));
			o[n].wday = wday_of(dd);
		} else if (strncmp(l, "RDATE:", 6) == 0) {
			for (const char *q = l + 6; *q;) {
				assert_true(o[n].nrdate < 128);
				o[n].rdate[o[n].nrdate++] = parse_local(q);
				q += 15;
				if (*q == ',')
					q++;
			}
		}
	}
	free_lines(v);
	return n + 1;
}

/* One onset: from this instant the offset is to. */
struct onset {
	int64_t at;
	int32_t to;
};

static int cmp_onset(const void *a, const void *b)
{
	const struct onset *x = a, *y = b;
	return x->at < y->at ? -1 : x->at > y->at;
}

/* Every onset of every observance up to the end of year last_year,
 * sorted; returns the count. */
static size_t onsets(const struct obs *o, int nobs, int last_year, struct onset *out, size_t max)
{
	size_t n = 0;
	for (int i = 0; i < nobs; i++) {
		assert_true(n < max);
		out[n++] = (struct onset){o[i].start - o[i].from, o[i].to};
		for (int k = 0; k < o[i].nrdate; k++) {
			assert_true(n < max);
			out[n++] = (struct onset){o[i].rdate[k] - o[i].from, o[i].to};
		}
		if (!o[i].month)
			continue;
		int64_t d0 = o[i].start >= 0 ? o[i].start / DAY : (o[i].start - DAY + 1) / DAY;
		int64_t sod = o[i].start - d0 * DAY;
		int y0, m0, dd0;
		tz_civil_from_days(d0, &y0, &m0, &dd0);
		for (int y = y0 + 1; y <= last_year; y++) {
			int64_t day;
			if (o[i].nth > 0) {
				int64_t first = tz_days_from_civil(y, o[i].month, 1);
				day =
				    first + (o[i].wday - tz_iso_weekday(first) + 7) % 7 + (o[i].nth - 1) * 7;
			} else {
				int64_t last =
				    tz_days_from_civil(y, o[i].month, tz_days_in_month(y, o[i].month));
				day = last - (tz_iso_weekday(last) - o[i].wday + 7) % 7;
			}
			assert_true(n < max);
			out[n++] = (struct onset){day * DAY + sod - o[i].from, o[i].to};
		}
	}
	qsort(out, n, sizeof(*out), cmp_onset);
	return n;
}

static bool offset_from_onsets(const struct onset *on, size_t n, int64_t t, int32_t *off)
{
	bool found = false;
	for (size_t i = 0; i < n && on[i].at <= t; i++) {
		*off = on[i].to;
		found = true;
	}
	return found;
}

/* Writes an invite for one block at local noon on y-mo-d in zone, reads its
 * VTIMEZONE back and compares it with core/tz every 6 hours and on each
 * side of every change, from the block back to the year before and on to
 * the end of the year after. Returns how many observances it had. */
static int check_zone_at(const char *zone, int y, int mo, int d)
{
	struct ics_invite inv = base();
	inv.tzid = zone;
	one_block[0].start = at_local(zone, y, mo, d, 12, 0);
	one_block[0].end = one_block[0].start + 3600;
	char *s = write_ok(&inv);
	assert_well_folded(s, strlen(s));

	static struct obs o[64];
	int nobs = read_vtimezone(s, zone, o, 64);
	assert_true(nobs >= 1);
	static struct onset on[4096];
	size_t non = onsets(o, nobs, y + 1, on, ARRAY_LEN(on));
	free(s);

	const struct tz *z = NULL;
	assert_int_equal(tz_get(zone, &z), 0);
	int64_t from = tz_days_from_civil(y - 1, 1, 1) * DAY;
	int64_t to = tz_days_from_civil(y + 2, 1, 1) * DAY - DAY;
	/* The VTIMEZONE must define the offset from before the block on. */
	assert_true(on[0].at <= one_block[0].start);
	if (on[0].at > from)
		from = on[0].at;
	int64_t tr[64];
	size_t ntr = tz_transitions(z, from, to, tr, 64);
	for (int64_t t = from; t < to; t += 6 * 3600) {
		int32_t off = 0;
		assert_true(offset_from_onsets(on, non, t, &off));
		if (off != tz_offset_at(z, t))
			fail_msg("%s %d: offset %d at %lld, zone says %d", zone, y, off, (long long)t,
			         tz_offset_at(z, t));
	}
	for (size_t i = 0; i < ntr; i++)
		for (int64_t t = tr[i] - 1; t <= tr[i]; t++) {
			if (t < on[0].at)
				continue;
			int32_t off = 0;
			assert_true(offset_from_onsets(on, non, t, &off));
			if (off != tz_offset_at(z, t))
				fail_msg("%s %d: offset %d at %lld (change), zone says %d", zone, y, off,
				         (long long)t, tz_offset_at(z, t));
		}
	return nobs;
}

static void test_vtimezone_many_zones(void **state)
{
	(void)state;
	static const char *const zones[] = {
	    "America/Chicago",
	    "America/New_York",
	    "America/Denver",
	    "America/Phoenix",
	    "America/Los_Angeles",
	    "America/Anchorage",
	    "Pacific/Honolulu",
	    "America/St_Johns",
	    "America/Havana",
	    "America/Santiago",
	    "America/Sao_Paulo",
	    "America/Asuncion",
	    "Europe/London",
	    "Europe/Dublin",
	    "Europe/Berlin",
	    "Europe/Moscow",
	    "Africa/Casablanca",
	    "Africa/Cairo",
	    "Asia/Jerusalem",
	    "Asia/Tehran",
	    "Asia/Amman",
	    "Asia/Kolkata",
	    "Asia/Kathmandu",
	    "Australia/Sydney",
	    "Australia/Lord_Howe",
	    "Australia/Adelaide",
	    "Pacific/Auckland",
	    "Pacific/Chatham",
	    "UTC",
	};
	for (size_t i = 0; i < ARRAY_LEN(zones); i++)
		for (int y = 1971; y <= 2040; y += (y < 2004 ? 11 : 1)) {
			check_zone_at(zones[i], y, 1, 15);
			check_zone_at(zones[i], y, 7, 15);
		}
}

static void test_vtimezone_forms(void **state)
{
	(void)state;
	/* No changes at all: one observance, offset to itself. */
	struct ics_invite inv = base();
	inv.tzid = "Asia/Kolkata";
	one_block[0].start = utc(2027, 1, 15, 13, 0);
	one_block[0].end = utc(2027, 1, 15, 13, 50);
	char *s = write_ok(&inv);
	assert_line(s, "DTSTART;TZID=Asia/Kolkata:20270115T183000");
	assert_line(s, "TZOFFSETFROM:+0530");
	assert_line(s, "TZOFFSETTO:+0530");
	assert_line(s, "DTSTART:20260101T053000");
	assert_int_equal(count_prop(s, "BEGIN"), 4);
	free(s);

	/* UTC itself. */
	inv.tzid = "UTC";
	s = write_ok(&inv);
	assert_line(s, "TZID:UTC");
	assert_line(s, "TZOFFSETTO:+0000");
	assert_line(s, "DTSTART;TZID=UTC:20270115T130000");
	free(s);

	/* Half-hour DST. */
	inv.tzid = "Australia/Lord_Howe";
	s = write_ok(&inv);
	assert_line(s, "TZOFFSETFROM:+1100");
	assert_line(s, "TZOFFSETTO:+1030");
	assert_line(s, "RRULE:FREQ=YEARLY;BYMONTH=4;BYDAY=1SU");
	assert_line(s, "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=1SU");
	free(s);

	/* Chicago in 2007: the US rule changed, so no yearly rule fits the
	 * window 2006-2008 and each change is listed. */
	inv.tzid = CHI;
	inv.dtstamp = utc(2007, 3, 1, 0, 0);
	one_block[0].start = at_local(CHI, 2007, 3, 20, 9, 0);
	one_block[0].end = one_block[0].start + 3000;
	assert_int_equal(one_block[0].start, utc(2007, 3, 20, 14, 0)); /* CDT already */
	s = write_ok(&inv);
	assert_int_equal(count_prop(s, "RRULE"), 0);
	assert_line(s, "DTSTART:20051231T180000"); /* the offset at the window start */
	assert_line(s, "DTSTART:20060402T020000");
	assert_line(s, "RDATE:20070311T020000,20080309T020000");
	assert_line(s, "DTSTART:20061029T020000");
	assert_line(s, "RDATE:20071104T020000,20081102T020000");
	free(s);
	assert_int_equal(check_zone_at(CHI, 2007, 3, 20), 3);
	assert_int_equal(check_zone_at(CHI, 2027, 3, 20), 2);
}

/* ------------------------------------------------------------ text */

static void test_escaping(void **state)
{
	(void)state;
	struct ics_invite inv = base();
	inv.summary = "a,b;c\\d:e\"f\r\ng\nh";
	inv.description = "one\r\ntwo\nthree\rfour\tfive\x01six\x7f.";
	inv.location = "Room 1, 2nd floor;\r\ndoor \\N";
	inv.uid = "b-7,8;9@tandem.example";
	char *s = write_ok(&inv);
	assert_line(s, "SUMMARY:a\\,b\\;c\\\\d:e\"f g h"); /* one line: breaks are spaces */
	assert_line(s, "DESCRIPTION:one\\ntwo\\nthree\\nfour\tfivesix.");
	assert_line(s, "LOCATION:Room 1\\, 2nd floor\\; door \\\\N");
	assert_line(s, "UID:b-7\\,8\\;9@tandem.example");
	assert_well_folded(s, strlen(s));
	free(s);
}

static void test_cn_quoting(void **state)
{
	(void)state;
	static const struct {
		const char *name, *want;
	} cases[] = {
	    {"Alex Client", "ATTENDEE;CN=Alex Client;"},
	    {"Client, Alex", "ATTENDEE;CN=\"Client, Alex\";"},
	    {"A;B", "ATTENDEE;CN=\"A;B\";"},
	    {"Dr: Who", "ATTENDEE;CN=\"Dr: Who\";"},
	    {"Al \"Bud\" Lee", "ATTENDEE;CN=Al 'Bud' Lee;"},
	    {"\"x\", y", "ATTENDEE;CN=\"'x', y\";"},
	    {"Zoë 山田", "ATTENDEE;CN=Zoë 山田;"},
	    {"\r\n", "ATTENDEE;CN=  ;"},
	    {"\x01\x02", "ATTENDEE;ROLE"},
	    {"", "ATTENDEE;ROLE"},
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct ics_attendee a = {cases[i].name, "a@example.org"};
		struct ics_invite inv = base();
		inv.attendees = &a;
		char *s = write_ok(&inv);
		char *l = prop_line(s, "ATTENDEE");
		if (strncmp(l, cases[i].want, strlen(cases[i].want)) != 0)
			fail_msg("case %zu: %s", i, l);
		assert_string_equal(value_of(l), "mailto:a@example.org");
		free(l);
		free(s);
	}
}

/* Names, emails and text full of CR, LF and quotes never add a property
 * or a component. */
static void test_header_injection(void **state)
{
	(void)state;
	static const char *const evil[] = {
	    "Eve\r\nATTENDEE:mailto:mallory@evil.example",
	    "Eve\nEND:VEVENT\nBEGIN:VEVENT",
	    "Eve\rX-EVIL:1",
	    "Eve\" ;X-EVIL=1:mailto:x@y\r\n X",
	    "\r\n ATTENDEE:mailto:folded@evil.example",
	    "Eve\\\r\nX-EVIL:1",
	};
	static const char *const names[] = {
	    "BEGIN",   "PRODID",         "VERSION",  "CALSCALE",     "METHOD",
	    "TZID",    "X-LIC-LOCATION", "DTSTART",  "TZOFFSETFROM", "TZOFFSETTO",
	    "RRULE",   "TZNAME",         "END",      "UID",          "SEQUENCE",
	    "DTSTAMP", "DTEND",          "SUMMARY",  "DESCRIPTION",  "LOCATION",
	    "URL",     "ORGANIZER",      "ATTENDEE", "STATUS",       "TRANSP",
	};
	for (size_t i = 0; i < ARRAY_LEN(evil); i++) {
		struct ics_attendee a = {evil[i], "eve@example.org"};
		struct ics_invite inv = base();
		inv.attendees = &a;
		inv.organizer_name = evil[i];
		inv.summary = evil[i];
		inv.description = evil[i];
		inv.location = evil[i];
		char *s = write_ok(&inv);
		assert_well_folded(s, strlen(s));
		char **v = lines_of(s);
		int n = 0;
		for (char **p = v; *p; p++, n++) {
			bool known = false;
			for (size_t k = 0; k < ARRAY_LEN(names) && !known; k++)
				known = name_len(*p) == strlen(names[k]) &&
				        strncmp(*p, names[k], strlen(names[k])) == 0;
			if (!known)
				fail_msg("case %zu: stray line %s", i, *p);
		}
		free_lines(v);
		assert_int_equal(n, 39); /* as many lines as the plain consult */
		assert_int_equal(count_prop(s, "ATTENDEE"), 1);
		assert_int_equal(count_prop(s, "ORGANIZER"), 1);
		assert_int_equal(count_prop(s, "BEGIN"), 5);
		char *l = prop_line(s, "ATTENDEE");
		assert_string_equal(value_of(l), "mailto:eve@example.org");
		assert_null(strpbrk(l, "\r\n"));
		free(l);
		/* DESCRIPTION keeps its line breaks as \n, SUMMARY turns them
		 * into spaces, and nothing else changes. */
		for (int multi = 0; multi < 2; multi++) {
			l = prop_line(s, multi ? "DESCRIPTION" : "SUMMARY");
			char *t = unescape(value_of(l));
			char *exp = xstrdup(evil[i]);
			char *o = exp;
			for (char *p = exp; *p; p++) {
				if (*p == '\r' && p[1] == '\n')
					continue;
				*o++ = *p == '\r' || *p == '\n' ? (multi ? '\n' : ' ') : *p;
			}
			*o = '\0';
			assert_string_equal(t, exp);
			free(exp);
			free(t);
			free(l);
		}
		free(s);
	}

	/* Emails and URLs that could break out are refused, not cleaned. */
	static const char *const bad_email[] = {
	    "a@b\r\nX-EVIL:1", "a b@c", "\"a\"@b", "<a@b>", "a@b;x=1", "a@b:c",
	    "a,b@c",           "a@",    "@b",      "ab",    "",        "a@b?subject=x",
	    "a%0d@b",          "a\\@b", "a@b\x7f",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad_email); i++) {
		struct ics_attendee a = {"A", bad_email[i]};
		struct ics_invite inv = base();
		inv.attendees = &a;
		assert_int_equal(write_rc(&inv), ERR_INVALID);
		inv = base();
		inv.organizer_email = bad_email[i];
		assert_int_equal(write_rc(&inv), ERR_INVALID);
	}
	static const char *const bad_url[] = {
	    "https://x/\r\nX-EVIL:1", "https://x/ y", "https://x/\"", "no-scheme",
	    "https://x/<a>",          "https://x/é",
	};
	for (size_t i = 0; i < ARRAY_LEN(bad_url); i++) {
		struct ics_invite inv = base();
		inv.url = bad_url[i];
		assert_int_equal(write_rc(&inv), ERR_INVALID);
	}
	/* A URL keeps its commas and semicolons: URI values are not TEXT. */
	struct ics_invite inv = base();
	inv.url = "https://x.example/b/T?a=1;b=2,3";
	char *s = write_ok(&inv);
	assert_line(s, "URL:https://x.example/b/T?a=1;b=2,3");
	free(s);
}

/* ------------------------------------------------------------ folding */

static void test_fold_line_exact(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, NULL, 4096);
	char line[400];

	/* 75 octets fit; 76 fold after 75 (no spaces around). */
	memset(line, 'a', sizeof(line));
	assert_int_equal(ics_fold_line(line, 75, &b), 0);
	assert_int_equal(b.len, 77);
	buf_reset(&b);
	assert_int_equal(ics_fold_line(line, 76, &b), 0);
	assert_int_equal(b.len, 75 + 2 + 1 + 1 + 2);
	assert_memory_equal(b.data + 75, "\r\n a\r\n", 6);
	buf_reset(&b);
	/* 75 + 74 + 74 + 1 */
	assert_int_equal(ics_fold_line(line, 224, &b), 0);
	assert_int_equal(b.len, 77 + 77 + 77 + 4);
	buf_reset(&b);

	/* An escape pair astride octet 75 moves whole to the next line. */
	memset(line, 'a', 74);
	memcpy(line + 74, "\\nb", 3);
	assert_int_equal(ics_fold_line(line, 77, &b), 0);
	assert_string_equal(
	    buf_cstr(&b),
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n \\nb\r\n");
	buf_reset(&b);
	/* "\\\\" then 'n': the pair is "\\\\", a break before 'n' is fine. */
	memset(line, 'a', 73);
	memcpy(line + 73, "\\\\nb", 4);
	assert_int_equal(ics_fold_line(line, 77, &b), 0);
	assert_string_equal(
	    buf_cstr(&b),
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\\\\r\n nb\r\n");
	buf_reset(&b);

	/* A 3-octet character astride octet 75 moves whole. */
	memset(line, 'a', 73);
	memcpy(line + 73, "日b", 4);
	assert_int_equal(ics_fold_line(line, 77, &b), 0);
	assert_string_equal(
	    buf_cstr(&b),
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n 日b\r\n");
	buf_reset(&b);

	/* A break avoids spaces on either side when it can. */
	memset(line, 'a', 80);
	line[75] = ' ';
	assert_int_equal(ics_fold_line(line, 80, &b), 0);
	assert_memory_equal(b.data + 74, "\r\n a aaaa\r\n", 11);
	buf_reset(&b);
	memset(line, ' ', 80);
	assert_int_equal(ics_fold_line(line, 80, &b), 0); /* all spaces: still folds */
	assert_int_equal(b.len, 77 + 1 + 5 + 2);
	buf_reset(&b);

	/* Empty line, and refused input. */
	assert_int_equal(ics_fold_line("", 0, &b), 0);
	assert_string_equal(buf_cstr(&b), "\r\n");
	buf_reset(&b);
	assert_int_equal(ics_fold_line("a\rb", 3, &b), ERR_INVALID);
	assert_int_equal(ics_fold_line("a\nb", 3, &b), ERR_INVALID);
	assert_int_equal(ics_fold_line("a\xc3", 2, &b), ERR_INVALID);
	assert_int_equal(ics_fold_line("\xed\xa0\x80", 3, &b), ERR_INVALID); /* surrogate */
	/* A trailing lone '\' is just a character. */
	assert_int_equal(ics_fold_line("a\\", 2, &b), 0);
	assert_string_equal(buf_cstr(&b), "a\\\r\n");
	buf_release(&b);

	/* Out of room. */
	buf_init(&b, NULL, 10);
	memset(line, 'a', 20);
	assert_int_equal(ics_fold_line(line, 20, &b), ERR_TOO_LARGE);
	buf_release(&b);
}

/* Descriptions of 60-200 characters with ',', ';', '\n', '\\' or '"' at every
 * position, over ASCII and 2-, 3- and 4-octet fillers, and long names in
 * Japanese and emoji: every invite is well folded, refolds to itself and
 * reads back to the same text. */
static void test_folding_every_position(void **state)
{
	(void)state;
	static const char *const fill[] = {"a", "é", "日", "😀"};
	static const char specials[] = {',', ';', '\n', '\\', '"'};
	static const struct ics_attendee jp = {
	    "山田太郎さんの長い名前のテストです、よろしくお願いします😀😀😀😀😀😀😀😀😀😀", "taro@example.jp"};
	char desc[1024], want[1024];
	int count = 0;
	for (int len = 60; len <= 200; len++) {
		for (int pos = 0; pos < len; pos++) {
			const char *f = fill[(len + pos) % 4];
			char sp = specials[(len * 7 + pos) % 5];
			size_t n = 0, w = 0;
			for (int i = 0; i < len; i++) {
				if (i == pos || (i == len - 1 - pos && (len + pos) % 3 == 0)) {
					desc[n++] = sp;
					want[w++] = sp;
				} else {
					size_t fl = strlen(f);
					memcpy(desc + n, f, fl);
					memcpy(want + w, f, fl);
					n += fl;
					w += fl;
				}
			}
			desc[n] = want[w] = '\0';
			struct ics_invite inv = base();
			inv.description = desc;
			inv.summary = desc;
			if (pos % 5 == 0)
				inv.attendees = &jp;
			char *s = write_ok(&inv);
			assert_well_folded(s, strlen(s));
			char *l = prop_line(s, "DESCRIPTION");
			char *t = unescape(value_of(l));
			assert_string_equal(t, want);
			free(t);
			free(l);
			free(s);
			count++;
		}
	}
	assert_int_equal(count, (60 + 200) * 141 / 2);
}

static void test_refold(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, NULL, 4096);

	/* LF-only input, tab continuation, empty lines dropped, CRLF out. */
	static const char in1[] = "BEGIN:VCALENDAR\nSUMMARY:a\n\tb\n c\n\n\r\nEND:VCALENDAR";
	assert_int_equal(ics_refold(in1, strlen(in1), &b), 0);
	assert_string_equal(buf_cstr(&b), "BEGIN:VCALENDAR\r\nSUMMARY:abc\r\nEND:VCALENDAR\r\n");
	buf_reset(&b);

	/* libical's slip: '\' at the end of a line, 'n' on the next. */
	char in2[256];
	int n = snprintf(in2, sizeof(in2), "DESCRIPTION:%.62s\\\r\n n%s\r\n",
	                 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
	                 "yyyyyyyyyyyyyy");
	assert_int_equal(ics_refold(in2, (size_t)n, &b), 0);
	assert_well_folded(b.data, b.len);
	assert_non_null(strstr(b.data, "\r\n \\nyyy"));
	buf_reset(&b);

	/* A UTF-8 character split by a bad folder is joined again. */
	static const char in3[] = "SUMMARY:caf\xc3\r\n \xa9!\r\n";
	assert_int_equal(ics_refold(in3, strlen(in3), &b), 0);
	assert_string_equal(buf_cstr(&b), "SUMMARY:café!\r\n");
	buf_reset(&b);

	/* "A\r\n\r\n b": the empty line is continued (RFC 5545 3.1). */
	static const char in4[] = "A\r\n\r\n b\r\n";
	assert_int_equal(ics_refold(in4, strlen(in4), &b), 0);
	assert_string_equal(buf_cstr(&b), "A\r\nb\r\n");
	buf_reset(&b);

	/* Empty input gives empty output. */
	assert_int_equal(ics_refold("", 0, &b), 0);
	assert_int_equal(b.len, 0);

	/* Malformed: bare CR, a continuation first, a logical line starting
	 * with a space, bad UTF-8; out keeps what it had. */
	buf_puts(&b, "keep");
	static const char *const bad[] = {"A\rB\r\n", " A\r\n", "\r\n  x\r\n", "A\xff\r\n", "A\r"};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		assert_int_equal(ics_refold(bad[i], strlen(bad[i]), &b), ERR_MALFORMED);
		assert_string_equal(buf_cstr(&b), "keep");
	}
	buf_release(&b);

	/* Out of room: ERR_TOO_LARGE, out truncated back. */
	buf_init(&b, NULL, 20);
	buf_puts(&b, "keep");
	static const char in5[] = "SUMMARY:0123456789abcdef\r\n";
	assert_int_equal(ics_refold(in5, strlen(in5), &b), ERR_TOO_LARGE);
	assert_int_equal(b.len, 4);
	buf_release(&b);
}

/* ------------------------------------------------------------ validation */

static void test_invalid_input(void **state)
{
	(void)state;
	struct ics_block b[3];
	struct ics_invite inv;
#define BAD(stmt)                                                                                            \
	do {                                                                                                 \
		inv = base();                                                                                \
		stmt;                                                                                        \
		if (write_rc(&inv) != ERR_INVALID)                                                           \
			fail_msg("accepted: %s", #stmt);                                                     \
	} while (0)

	BAD(inv.nblocks = 0);
	BAD(inv.blocks = NULL);
	BAD(inv.nblocks = -1);
	BAD(inv.nblocks = ICS_MAX_BLOCKS + 1);
	BAD(one_block[0].end = one_block[0].start);
	BAD(one_block[0].end = one_block[0].start - 1);
	BAD(one_block[0].start = utc(1969, 12, 31, 0, 0));
	BAD((one_block[0].start = utc(9000, 1, 1, 0, 0), one_block[0].end = one_block[0].start + 60));
	BAD(inv.dtstamp = -1);
	BAD(inv.dtstamp = utc(9500, 1, 1, 0, 0));
	/* Blocks out of order, overlapping, of different lengths, too far apart. */
	for (int i = 0; i < 3; i++) {
		b[i].start = at_local(CHI, 2027, 3, 13 + i, 9, 0);
		b[i].end = b[i].start + 7 * 3600;
	}
	BAD((inv.blocks = b, inv.nblocks = 3, b[1].end += 60));
	b[1].end -= 60;
	BAD((inv.blocks = b, inv.nblocks = 3, b[2].start = b[1].start, b[2].end = b[1].end));
	for (int i = 0; i < 3; i++) {
		b[i].start = at_local(CHI, 2027, 3, 13 + i, 9, 0);
		b[i].end = b[i].start + 7 * 3600;
	}
	BAD((inv.blocks = b, inv.nblocks = 3, b[1].start = b[0].end - 60, b[1].end = b[1].start + 7 * 3600));
	for (int i = 0; i < 3; i++) {
		b[i].start = at_local(CHI, 2027, 3, 13 + i, 9, 0);
		b[i].end = b[i].start + 7 * 3600;
	}
	BAD((inv.blocks = b, inv.nblocks = 3, b[2].start += (int64_t)ICS_MAX_SPAN_DAYS * DAY,
	     b[2].end += (int64_t)ICS_MAX_SPAN_DAYS * DAY));
	/* Method and status. */
	BAD(inv.method = NULL);
	BAD(inv.method = "request");
	BAD(inv.method = "REFRESH");
	BAD(inv.cancelled = true);
	BAD(inv.method = "CANCEL");
	/* Identity. */
	BAD(inv.uid = NULL);
	BAD(inv.uid = "");
	BAD(inv.uid = "a\r\nX-EVIL:1");
	BAD(inv.sequence = -1);
	BAD(inv.tzid = NULL);
	BAD(inv.tzid = "");
	BAD(inv.tzid = "Mars/Olympus_Mons");
	BAD(inv.tzid = "../../etc/passwd");
	/* iTIP needs an organizer and attendees; a feed names no client. */
	BAD(inv.organizer_email = NULL);
	BAD(inv.nattendees = 0);
	BAD(inv.attendees = NULL);
	BAD(inv.nattendees = ICS_MAX_ATTENDEES + 1);
	BAD((inv.method = "PUBLISH"));
	/* Bad UTF-8 anywhere. */
	BAD(inv.summary = "a\xff");
	BAD(inv.description = "\xc3");
	BAD(inv.location = "\xed\xa0\x80");
	BAD(inv.organizer_name = "\xf5\x80\x80\x80");
	static const struct ics_attendee badname = {"\xc0\xaf", "a@example.org"};
	BAD(inv.attendees = &badname);
#undef BAD
	/* Good inputs next to the limits pass. */
	inv = base();
	inv.sequence = 0;
	assert_int_equal(write_rc(&inv), 0);
	static struct ics_block many[ICS_MAX_BLOCKS];
	for (int i = 0; i < ICS_MAX_BLOCKS; i++) {
		many[i].start = at_local(CHI, 2027, 1, 1 + i, 9, 0);
		many[i].end = many[i].start + 3600;
	}
	inv.blocks = many;
	inv.nblocks = ICS_MAX_BLOCKS;
	char *s = write_ok(&inv);
	assert_line(s, "RRULE:FREQ=DAILY;COUNT=366");
	free(s);
}

static void test_too_large(void **state)
{
	(void)state;
	struct ics_invite inv = base();
	char *s = write_ok(&inv);
	size_t full = strlen(s);
	free(s);
	struct buf out;
	/* Exactly enough room works, one octet less does not. */
	buf_init(&out, NULL, full);
	assert_int_equal(ics_write_invite(&inv, &out), 0);
	assert_int_equal(out.len, full);
	buf_release(&out);
	for (size_t max = 0; max < full; max += (max < 64 || max > full - 80 ? 1 : 37)) {
		buf_init(&out, NULL, max);
		assert_int_equal(ics_write_invite(&inv, &out), ERR_TOO_LARGE);
		assert_int_equal(out.len, 0);
		buf_release(&out);
	}
	/* A buffer already in error stays so. */
	buf_init(&out, NULL, 4);
	buf_puts(&out, "12345");
	assert_int_equal(ics_write_invite(&inv, &out), ERR_TOO_LARGE);
	buf_release(&out);
	/* Appends after what out held. */
	buf_init(&out, NULL, MAX_OUT);
	buf_puts(&out, "X");
	assert_int_equal(ics_write_invite(&inv, &out), 0);
	assert_int_equal(out.len, full + 1);
	assert_memory_equal(out.data, "XBEGIN:VCALENDAR\r\n", 18);
	buf_release(&out);
}

/* ------------------------------------------------------------ calendars */

/* The VTIMEZONE of zone in ics (one of several), as text of its own. */
static char *vtimezone_text(const char *ics, const char *zone)
{
	char head[160];
	snprintf(head, sizeof(head), "BEGIN:VTIMEZONE\r\nTZID:%s\r\n", zone);
	const char *b = strstr(ics, head);
	if (!b)
		fail_msg("no VTIMEZONE for %s", zone);
	assert_null(strstr(b + 1, head)); /* exactly one */
	const char *e = strstr(b, "END:VTIMEZONE\r\n");
	assert_non_null(e);
	return dup_n(b, (size_t)(e - b) + 15);
}

/* The VTIMEZONE of zone in ics gives core/tz's offset every 6 hours and on
 * each side of every change from first to last, and starts before first. */
static void check_zone_span(const char *ics, const char *zone, int64_t first, int64_t last)
{
	char *vtz = vtimezone_text(ics, zone);
	static struct obs o[64];
	int nobs = read_vtimezone(vtz, zone, o, 64);
	free(vtz);
	assert_true(nobs >= 1);
	const struct tz *z = NULL;
	assert_int_equal(tz_get(zone, &z), 0);
	int y, mo, d;
	tz_civil_from_days(last / DAY, &y, &mo, &d);
	static struct onset on[4096];
	size_t non = onsets(o, nobs, y + 1, on, ARRAY_LEN(on));
	assert_true(on[0].at <= first);
	for (int64_t t = first; t <= last; t += 6 * 3600) {
		int32_t off = 0;
		assert_true(offset_from_onsets(on, non, t, &off));
		if (off != tz_offset_at(z, t))
			fail_msg("%s: offset %d at %lld, zone says %d", zone, off, (long long)t,
			         tz_offset_at(z, t));
	}
	int64_t tr[256];
	size_t ntr = tz_transitions(z, first, last, tr, ARRAY_LEN(tr));
	for (size_t i = 0; i < ntr; i++)
		for (int64_t t = tr[i] - 1; t <= tr[i]; t++) {
			int32_t off = 0;
			assert_true(offset_from_onsets(on, non, t, &off));
			assert_int_equal(off, tz_offset_at(z, t));
		}
}

/* A feed entry: PUBLISH, no people, one block. */
static struct ics_invite feed_event(const char *uid, const char *zone, struct ics_block *b)
{
	return (struct ics_invite){
	    .uid = uid,
	    .sequence = 2,
	    .dtstamp = utc(2026, 9, 30, 8, 0),
	    .last_modified = utc(2026, 9, 30, 8, 0),
	    .tzid = zone,
	    .summary = "Two-day intensive (day 1 of 2)",
	    .description = "Booking TND-7K2Q\nhttps://tandem.example/admin/bookings/42",
	    .url = "https://tandem.example/admin/bookings/42",
	    .blocks = b,
	    .nblocks = 1,
	    .class_private = true,
	};
}

static char *write_cal_ok(const struct ics_calendar *cal)
{
	struct buf out;
	buf_init(&out, NULL, 64 << 20);
	int rc = ics_write_calendar(cal, &out);
	if (rc != 0)
		fail_msg("ics_write_calendar: %d", rc);
	char *s = xstrdup(buf_cstr(&out));
	buf_release(&out);
	assert_well_folded(s, strlen(s));
	return s;
}

static int write_cal_rc(const struct ics_calendar *cal)
{
	struct buf out;
	buf_init(&out, NULL, MAX_OUT);
	buf_puts(&out, "keep");
	int rc = ics_write_calendar(cal, &out);
	if (rc != 0)
		assert_string_equal(buf_cstr(&out), "keep");
	buf_release(&out);
	return rc;
}

static int count_line(const char *ics, const char *line)
{
	char **v = lines_of(ics);
	int n = 0;
	for (char **p = v; *p; p++)
		n += strcmp(*p, line) == 0;
	free_lines(v);
	return n;
}

/* A whole PUBLISH calendar in UTC, byte for byte. */
static void test_calendar_exact(void **state)
{
	(void)state;
	struct ics_block b[2] = {{utc(2026, 11, 2, 16, 0), utc(2026, 11, 2, 16, 50)},
	                         {utc(2026, 11, 3, 9, 0), utc(2026, 11, 3, 16, 0)}};
	struct ics_invite ev[2] = {feed_event("d1-abc@tandem.example", "UTC", &b[0]),
	                           feed_event("d1-def@tandem.example", "UTC", &b[1])};
	ev[1].summary = "Cancelled: Consult";
	ev[1].description = NULL;
	ev[1].url = NULL;
	ev[1].cancelled = true;
	ev[1].transparent = true;
	ev[1].class_private = false;
	ev[1].last_modified = 0;
	struct ics_calendar cal = {
	    .method = "PUBLISH",
	    .name = "Riverbend Practice",
	    .refresh_minutes = 60,
	    .tzid = "UTC",
	    .tz_first = utc(2026, 10, 1, 0, 0),
	    .tz_last = utc(2027, 10, 1, 0, 0),
	    .events = ev,
	    .nevents = 2,
	};
	char *s = write_cal_ok(&cal);
	static const char want[] =
	    "BEGIN:VCALENDAR\r\n"
	    "PRODID:-//Tandem//Tandem Booking//EN\r\n"
	    "VERSION:2.0\r\n"
	    "CALSCALE:GREGORIAN\r\n"
	    "METHOD:PUBLISH\r\n"
	    "NAME:Riverbend Practice\r\n"
	    "X-WR-CALNAME:Riverbend Practice\r\n"
	    "REFRESH-INTERVAL;VALUE=DURATION:PT1H\r\n"
	    "X-PUBLISHED-TTL:PT1H\r\n"
	    "BEGIN:VTIMEZONE\r\n"
	    "TZID:UTC\r\n"
	    "X-LIC-LOCATION:UTC\r\n"
	    "BEGIN:STANDARD\r\n"
	    "DTSTART:20250101T000000\r\n"
	    "TZOFFSETFROM:+0000\r\n"
	    "TZOFFSETTO:+0000\r\n"
	    "TZNAME:UTC\r\n"
	    "END:STANDARD\r\n"
	    "END:VTIMEZONE\r\n"
	    "BEGIN:VEVENT\r\n"
	    "UID:d1-abc@tandem.example\r\n"
	    "SEQUENCE:2\r\n"
	    "DTSTAMP:20260930T080000Z\r\n"
	    "LAST-MODIFIED:20260930T080000Z\r\n"
	    "DTSTART;TZID=UTC:20261102T160000\r\n"
	    "DTEND;TZID=UTC:20261102T165000\r\n"
	    "SUMMARY:Two-day intensive (day 1 of 2)\r\n"
	    "DESCRIPTION:Booking TND-7K2Q\\nhttps://tandem.example/admin/bookings/42\r\n"
	    "URL:https://tandem.example/admin/bookings/42\r\n"
	    "STATUS:CONFIRMED\r\n"
	    "TRANSP:OPAQUE\r\n"
	    "CLASS:PRIVATE\r\n"
	    "END:VEVENT\r\n"
	    "BEGIN:VEVENT\r\n"
	    "UID:d1-def@tandem.example\r\n"
	    "SEQUENCE:2\r\n"
	    "DTSTAMP:20260930T080000Z\r\n"
	    "DTSTART;TZID=UTC:20261103T090000\r\n"
	    "DTEND;TZID=UTC:20261103T160000\r\n"
	    "SUMMARY:Cancelled: Consult\r\n"
	    "STATUS:CANCELLED\r\n"
	    "TRANSP:TRANSPARENT\r\n"
	    "END:VEVENT\r\n"
	    "END:VCALENDAR\r\n";
	assert_string_equal(s, want);
	free(s);

	/* Refresh in minutes; no name; no zone of its own. */
	cal.refresh_minutes = 90;
	cal.name = NULL;
	cal.tzid = NULL;
	s = write_cal_ok(&cal);
	assert_line(s, "REFRESH-INTERVAL;VALUE=DURATION:PT90M");
	assert_line(s, "X-PUBLISHED-TTL:PT90M");
	assert_int_equal(count_prop(s, "NAME"), 0);
	assert_int_equal(count_prop(s, "X-WR-CALNAME"), 0);
	assert_int_equal(count_line(s, "BEGIN:VTIMEZONE"), 1);
	free(s);

	/* A name is TEXT: escaped, on one line. */
	cal.name = "A, B; C\nD";
	s = write_cal_ok(&cal);
	assert_line(s, "X-WR-CALNAME:A\\, B\\; C D");
	free(s);
}

/* Events in two zones and years apart: one VTIMEZONE per zone, before every
 * VEVENT, each right over the whole span of the events that use it. */
static void test_calendar_zones(void **state)
{
	(void)state;
	static struct ics_block b[60];
	static struct ics_invite ev[60];
	static char uids[60][40];
	const char *zone[60];
	for (int i = 0; i < 60; i++) {
		/* Chicago every 3 weeks from Nov 2026, Berlin every 11th, one
		 * Chicago event in 2031. */
		zone[i] = i % 11 == 5 ? "Europe/Berlin" : CHI;
		int64_t day = tz_days_from_civil(2026, 11, 2) + i * 21;
		if (i == 59)
			day = tz_days_from_civil(2031, 7, 1);
		int y, mo, d;
		tz_civil_from_days(day, &y, &mo, &d);
		b[i].start = at_local(zone[i], y, mo, d, 9, 0);
		b[i].end = b[i].start + 50 * 60;
		snprintf(uids[i], sizeof(uids[i]), "d1-%d@tandem.example", i);
		ev[i] = feed_event(uids[i], zone[i], &b[i]);
	}
	struct ics_calendar cal = {.method = "PUBLISH", .events = ev, .nevents = 60};
	char *s = write_cal_ok(&cal);
	assert_int_equal(count_line(s, "BEGIN:VTIMEZONE"), 2);
	assert_int_equal(count_line(s, "TZID:America/Chicago"), 1);
	assert_int_equal(count_line(s, "TZID:Europe/Berlin"), 1);
	assert_int_equal(count_line(s, "BEGIN:VEVENT"), 60);
	/* Chicago first (the first event's zone), both before any event. */
	const char *chi = strstr(s, "TZID:America/Chicago\r\n");
	const char *ber = strstr(s, "TZID:Europe/Berlin\r\n");
	const char *vev = strstr(s, "BEGIN:VEVENT");
	assert_true(chi && ber && vev && chi < ber && ber < vev);
	for (int i = 0; i < 60; i++) {
		char line[128];
		snprintf(line, sizeof(line), "UID:%.100s", uids[i]);
		assert_line(s, line);
	}
	assert_line(s, "DTSTART;TZID=Europe/Berlin:20270215T090000");
	assert_line(s, "DTSTART;TZID=America/Chicago:20310701T090000");
	check_zone_span(s, CHI, b[0].start, b[59].end);
	check_zone_span(s, "Europe/Berlin", b[5].start, b[49].end);
	free(s);

	/* The calendar's own zone, with no event in it, still gets its
	 * VTIMEZONE over the span asked for; an empty calendar then has one
	 * component. */
	cal.tzid = "Asia/Tokyo";
	cal.tz_first = utc(2026, 1, 1, 0, 0);
	cal.tz_last = utc(2027, 1, 1, 0, 0);
	s = write_cal_ok(&cal);
	assert_int_equal(count_line(s, "BEGIN:VTIMEZONE"), 3);
	assert_true(strstr(s, "TZID:Asia/Tokyo\r\n") < strstr(s, "TZID:America/Chicago\r\n"));
	free(s);
	cal.nevents = 0;
	cal.tzid = CHI;
	cal.tz_first = utc(2026, 6, 1, 0, 0);
	cal.tz_last = utc(2029, 6, 1, 0, 0);
	s = write_cal_ok(&cal);
	assert_int_equal(count_line(s, "BEGIN:VTIMEZONE"), 1);
	assert_int_equal(count_line(s, "BEGIN:VEVENT"), 0);
	check_zone_span(s, CHI, cal.tz_first, cal.tz_last);
	free(s);
	/* The zone's span widens to its events. */
	cal.events = ev;
	cal.nevents = 1;
	cal.tz_first = cal.tz_last = utc(2024, 1, 1, 0, 0);
	s = write_cal_ok(&cal);
	check_zone_span(s, CHI, cal.tz_first, b[0].end);
	free(s);
}

/* One event through ics_write_calendar is ics_write_invite's file. */
static void test_calendar_one_invite(void **state)
{
	(void)state;
	struct ics_invite inv = base();
	char *a = write_ok(&inv);
	struct ics_calendar cal = {.method = "REQUEST", .events = &inv, .nevents = 1};
	char *b = write_cal_ok(&cal);
	assert_string_equal(a, b);
	free(a);
	free(b);
	inv.method = NULL; /* the calendar's method applies */
	b = write_cal_ok(&cal);
	assert_line(b, "METHOD:REQUEST");
	assert_line(
	    b, "ATTENDEE;CN=Alex Client;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:alex@"
	       "example.org");
	free(b);
}

static void test_calendar_invalid(void **state)
{
	(void)state;
	struct ics_block b[ICS_MAX_ZONES + 1];
	struct ics_invite ev[ICS_MAX_ZONES + 1];
	for (int i = 0; i <= ICS_MAX_ZONES; i++) {
		b[i].start = utc(2026, 11, 2 + i, 16, 0);
		b[i].end = b[i].start + 3600;
		ev[i] = feed_event("d1-x@tandem.example", CHI, &b[i]);
	}
	struct ics_calendar cal;
	struct ics_invite two[2];
#define BAD(stmt)                                                                                            \
	do {                                                                                                 \
		cal = (struct ics_calendar){.method = "PUBLISH", .events = ev, .nevents = 2};                \
		two[0] = base();                                                                             \
		two[1] = base();                                                                             \
		stmt;                                                                                        \
		if (write_cal_rc(&cal) != ERR_INVALID)                                                       \
			fail_msg("accepted: %s", #stmt);                                                     \
	} while (0)
	BAD(cal.method = NULL);
	BAD(cal.method = "publish");
	BAD(cal.nevents = -1);
	BAD(cal.events = NULL);
	BAD(cal.nevents = ICS_MAX_EVENTS + 1);
	BAD((cal.nevents = 0, cal.events = NULL));       /* nothing at all */
	BAD((cal.method = "REQUEST", cal.events = two)); /* iTIP: one event */
	BAD((cal.method = "REQUEST", cal.nevents = 0));
	BAD((cal.method = "CANCEL", cal.events = two, cal.nevents = 1)); /* base() says REQUEST */
	BAD(ev[1].method = "REQUEST");                                   /* not the calendar's */
	BAD(cal.name = "\xff");
	BAD(cal.refresh_minutes = -1);
	BAD((cal.tzid = "Mars/Base", cal.tz_first = b[0].start, cal.tz_last = b[0].end));
	BAD((cal.tzid = CHI, cal.tz_first = b[0].end, cal.tz_last = b[0].start));
	BAD((cal.tzid = CHI, cal.tz_first = -5, cal.tz_last = b[0].start));
	BAD((cal.tzid = CHI, cal.tz_first = b[0].start,
	     cal.tz_last = b[0].start + (int64_t)(ICS_MAX_SPAN_DAYS + 1) * DAY));
	BAD(ev[1].tzid = "Nowhere/Else");
	BAD(ev[1].nattendees = 1); /* a feed names no one */
	BAD(ev[1].last_modified = -1);
	BAD(ev[1].last_modified = utc(9500, 1, 1, 0, 0));
	ev[1].method = NULL;
	ev[1].tzid = CHI;
	ev[1].nattendees = 0;
	ev[1].last_modified = 0;
	/* One zone too many. */
	static const char *const zones[] = {
	    "America/Chicago",
	    "America/New_York",
	    "America/Denver",
	    "America/Phoenix",
	    "America/Los_Angeles",
	    "America/Anchorage",
	    "Pacific/Honolulu",
	    "America/St_Johns",
	    "Europe/London",
	    "Europe/Dublin",
	    "Europe/Berlin",
	    "Europe/Moscow",
	    "Asia/Tokyo",
	    "Asia/Kolkata",
	    "Australia/Sydney",
	    "Pacific/Auckland",
	    "UTC",
	};
	assert_int_equal(ARRAY_LEN(zones), ICS_MAX_ZONES + 1);
	for (int i = 0; i <= ICS_MAX_ZONES; i++)
		ev[i].tzid = zones[i];
	cal = (struct ics_calendar){.method = "PUBLISH", .events = ev, .nevents = ICS_MAX_ZONES};
	char *s = write_cal_ok(&cal);
	assert_int_equal(count_line(s, "BEGIN:VTIMEZONE"), ICS_MAX_ZONES);
	free(s);
	cal.nevents = ICS_MAX_ZONES + 1;
	assert_int_equal(write_cal_rc(&cal), ERR_INVALID);
	/* The calendar's own zone counts too. */
	cal.nevents = ICS_MAX_ZONES;
	cal.tzid = "Europe/Paris";
	cal.tz_first = cal.tz_last = b[0].start;
	assert_int_equal(write_cal_rc(&cal), ERR_INVALID);
	cal.tzid = CHI; /* already one of them */
	assert_int_equal(write_cal_rc(&cal), 0);
#undef BAD
}

static void test_calendar_too_large(void **state)
{
	(void)state;
	struct ics_block b[3];
	struct ics_invite ev[3];
	for (int i = 0; i < 3; i++) {
		b[i].start = utc(2026, 11, 2 + i, 16, 0);
		b[i].end = b[i].start + 3600;
		ev[i] = feed_event("d1-x@tandem.example", CHI, &b[i]);
	}
	struct ics_calendar cal = {
	    .method = "PUBLISH", .name = "Riverbend", .refresh_minutes = 60, .events = ev, .nevents = 3};
	char *s = write_cal_ok(&cal);
	size_t full = strlen(s);
	free(s);
	struct buf out;
	buf_init(&out, NULL, full);
	assert_int_equal(ics_write_calendar(&cal, &out), 0);
	assert_int_equal(out.len, full);
	buf_release(&out);
	for (size_t max = 0; max < full; max += (max > full - 100 ? 1 : 53)) {
		buf_init(&out, NULL, max);
		assert_int_equal(ics_write_calendar(&cal, &out), ERR_TOO_LARGE);
		assert_int_equal(out.len, 0);
		buf_release(&out);
	}
}

/* ------------------------------------------------------------ overrides */

/* The text of the n-th VEVENT (0-based), BEGIN to END inclusive. */
static char *vevent_text(const char *ics, int n)
{
	const char *b = ics;
	for (int i = 0; i <= n; i++) {
		b = strstr(i ? b + 1 : b, "BEGIN:VEVENT\r\n");
		if (!b)
			fail_msg("no VEVENT %d", n);
	}
	const char *e = strstr(b, "END:VEVENT\r\n");
	assert_non_null(e);
	return dup_n(b, (size_t)(e - b) + 12);
}

/* A three-day intensive: day 2 moved an hour later, day 3 cancelled. */
static void test_override_moved_and_cancelled(void **state)
{
	(void)state;
	struct ics_block b[3];
	for (int i = 0; i < 3; i++) {
		b[i].start = at_local(CHI, 2027, 3, 13 + i, 9, 0); /* DST from the 14th */
		b[i].end = b[i].start + 7 * 3600;
	}
	struct ics_override ov[2] = {
	    {.recurrence_id = b[1].start, .start = b[1].start + 3600, .end = b[1].end + 3600},
	    {.recurrence_id = b[2].start, .cancelled = true},
	};
	struct ics_invite inv = base();
	inv.sequence = 4;
	inv.blocks = b;
	inv.nblocks = 3;
	inv.overrides = ov;
	inv.noverrides = 2;
	char *s = write_ok(&inv);
	assert_well_folded(s, strlen(s));
	/* REQUEST: the series with the cancelled day as an EXDATE, and the
	 * moved day's override (RFC 5546: a REQUEST never says CANCELLED). */
	assert_int_equal(count_line(s, "BEGIN:VEVENT"), 2);
	assert_int_equal(count_line(s, "UID:b-1001@tandem.example"), 2);
	assert_int_equal(count_line(s, "SEQUENCE:4"), 2);
	assert_int_equal(count_line(s, "BEGIN:VTIMEZONE"), 1);
	assert_int_equal(count_line(s, "STATUS:CANCELLED"), 0);
	/* The series is as first sent, less the cancelled day. */
	char *m = vevent_text(s, 0);
	assert_line(m, "DTSTART;TZID=America/Chicago:20270313T090000");
	assert_line(m, "RRULE:FREQ=DAILY;COUNT=3");
	assert_line(m, "EXDATE;TZID=America/Chicago:20270315T090000");
	assert_int_equal(count_prop(m, "RECURRENCE-ID"), 0);
	assert_line(m, "STATUS:CONFIRMED");
	free(m);
	static const char moved[] =
	    "BEGIN:VEVENT\r\n"
	    "UID:b-1001@tandem.example\r\n"
	    "SEQUENCE:4\r\n"
	    "DTSTAMP:20261001T120000Z\r\n"
	    "RECURRENCE-ID;TZID=America/Chicago:20270314T090000\r\n"
	    "DTSTART;TZID=America/Chicago:20270314T100000\r\n"
	    "DTEND;TZID=America/Chicago:20270314T170000\r\n"
	    "SUMMARY:Riverbend Practice — Appointment\r\n"
	    "DESCRIPTION:Manage your booking: https://tandem.example/b/Tok3n_abc\r\n"
	    "LOCATION:12 Main St\\, Suite 4\\; Springfield\r\n"
	    "URL:https://tandem.example/b/Tok3n_abc\r\n"
	    "ORGANIZER;CN=Dr. Jo Rivers:mailto:jo@riverbend.example\r\n"
	    "ATTENDEE;CN=Alex Client;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRU\r\n"
	    " E:mailto:alex@example.org\r\n"
	    "STATUS:CONFIRMED\r\n"
	    "TRANSP:OPAQUE\r\n"
	    "END:VEVENT\r\n";
	m = vevent_text(s, 1);
	assert_string_equal(m, moved);
	free(m);
	free(s);

	/* A hold keeps TENTATIVE on moved days. */
	inv.tentative = true;
	s = write_ok(&inv);
	m = vevent_text(s, 1);
	assert_line(m, "STATUS:TENTATIVE");
	free(m);
	free(s);
	inv.tentative = false;

	/* METHOD:CANCEL of one day: that instance alone, by its RECURRENCE-ID. */
	inv.method = "CANCEL";
	inv.cancelled = true;
	inv.cancel_instance = b[2].start;
	s = write_ok(&inv);
	assert_int_equal(count_line(s, "BEGIN:VEVENT"), 1);
	assert_line(s, "RECURRENCE-ID;TZID=America/Chicago:20270315T090000");
	assert_line(s, "DTSTART;TZID=America/Chicago:20270315T090000");
	assert_line(s, "DTEND;TZID=America/Chicago:20270315T160000");
	assert_line(s, "STATUS:CANCELLED");
	assert_line(s, "SEQUENCE:4");
	m = vevent_text(s, 0);
	assert_int_equal(count_prop(m, "RRULE"), 0);
	assert_int_equal(count_prop(m, "ATTENDEE"), 1);
	free(m);
	free(s);
	/* ... which must be one of the series' days, in a CANCEL. */
	inv.cancel_instance = b[2].start + 60;
	struct buf out;
	struct arena a;
	arena_init(&a);
	buf_init(&out, &a, 64 * 1024);
	assert_int_equal(ics_write_invite(&inv, &out), ERR_INVALID);
	inv.cancel_instance = b[2].start;
	inv.method = "REQUEST";
	inv.cancelled = false;
	assert_int_equal(ics_write_invite(&inv, &out), ERR_INVALID);
	arena_release(&a);
	inv.cancel_instance = 0;

	/* METHOD:CANCEL cancels the whole series: no overrides written. */
	inv.method = "CANCEL";
	inv.cancelled = true;
	s = write_ok(&inv);
	assert_int_equal(count_line(s, "BEGIN:VEVENT"), 1);
	assert_int_equal(count_prop(s, "RECURRENCE-ID"), 0);
	assert_line(s, "STATUS:CANCELLED");
	free(s);

	/* PUBLISH writes both as overrides, the cancelled one CANCELLED. */
	inv.method = "PUBLISH";
	inv.cancelled = false;
	inv.organizer_email = NULL;
	inv.attendees = NULL;
	inv.nattendees = 0;
	s = write_ok(&inv);
	assert_int_equal(count_line(s, "BEGIN:VEVENT"), 3);
	assert_int_equal(count_prop(s, "RECURRENCE-ID"), 2);
	assert_int_equal(count_prop(s, "EXDATE"), 0);
	m = vevent_text(s, 2);
	assert_line(m, "STATUS:CANCELLED");
	assert_line(m, "TRANSP:TRANSPARENT");
	free(m);
	free(s);
}

static void test_override_rdate_and_utc(void **state)
{
	(void)state;
	/* RDATE series (6, 8, 20 March 2027): the 20th moves to the 21st. */
	struct ics_block b[3];
	int days[3] = {6, 8, 20};
	for (int i = 0; i < 3; i++) {
		b[i].start = at_local(CHI, 2027, 3, days[i], 9, 0);
		b[i].end = b[i].start + 7 * 3600;
	}
	struct ics_override ov = {b[2].start, b[2].start + DAY, b[2].end + DAY, false};
	struct ics_invite inv = base();
	inv.blocks = b;
	inv.nblocks = 3;
	inv.overrides = &ov;
	inv.noverrides = 1;
	char *s = write_ok(&inv);
	assert_line(s, "RDATE;TZID=America/Chicago:20270308T090000,20270320T090000");
	char *m = vevent_text(s, 1);
	assert_line(m, "RECURRENCE-ID;TZID=America/Chicago:20270320T090000");
	assert_line(m, "DTSTART;TZID=America/Chicago:20270321T090000");
	assert_line(m, "DTEND;TZID=America/Chicago:20270321T160000");
	free(m);
	free(s);

	/* A moved day may last longer and land a year later: the VTIMEZONE
	 * covers it. */
	ov.start = at_local(CHI, 2028, 11, 6, 8, 0);
	ov.end = ov.start + 9 * 3600;
	s = write_ok(&inv);
	m = vevent_text(s, 1);
	assert_line(m, "DTSTART;TZID=America/Chicago:20281106T080000");
	assert_line(m, "DTEND;TZID=America/Chicago:20281106T170000");
	free(m);
	check_zone_span(s, CHI, b[0].start, ov.end);
	free(s);

	/* An instance at 01:30 on the fall-back night is named in UTC, as the
	 * series names it; so is a new time inside that hour. */
	struct ics_block f[2];
	for (int i = 0; i < 2; i++) {
		f[i].start = utc(2026, 10, 31 + i, 6, 30); /* 01:30 CDT */
		f[i].end = f[i].start + 50 * 60;
	}
	struct ics_override fo = {f[1].start, f[1].start + 3600, f[1].end + 3600, false};
	inv = base();
	inv.blocks = f;
	inv.nblocks = 2;
	inv.overrides = &fo;
	inv.noverrides = 1;
	s = write_ok(&inv);
	assert_line(s, "RDATE:20261101T063000Z");
	m = vevent_text(s, 1);
	assert_line(m, "RECURRENCE-ID:20261101T063000Z");
	assert_line(m, "DTSTART:20261101T073000Z"); /* 01:30 CST, the second one */
	assert_line(m, "DTEND;TZID=America/Chicago:20261101T022000");
	free(m);
	free(s);
}

static void test_override_invalid(void **state)
{
	(void)state;
	struct ics_block b[3];
	struct ics_override ov[4];
	struct ics_invite inv;
#define BAD(stmt)                                                                                            \
	do {                                                                                                 \
		for (int i_ = 0; i_ < 3; i_++) {                                                             \
			b[i_].start = at_local(CHI, 2027, 4, 5 + i_, 9, 0);                                  \
			b[i_].end = b[i_].start + 7 * 3600;                                                  \
		}                                                                                            \
		for (int i_ = 0; i_ < 4; i_++)                                                               \
			ov[i_] = (struct ics_override){b[i_ % 3].start, b[i_ % 3].start + 60,                \
			                               b[i_ % 3].start + 120, false};                        \
		inv = base();                                                                                \
		inv.blocks = b;                                                                              \
		inv.nblocks = 3;                                                                             \
		inv.overrides = ov;                                                                          \
		inv.noverrides = 2;                                                                          \
		assert_int_equal(write_rc(&inv), 0);                                                         \
		stmt;                                                                                        \
		if (write_rc(&inv) != ERR_INVALID)                                                           \
			fail_msg("accepted: %s", #stmt);                                                     \
	} while (0)
	BAD(ov[0].recurrence_id += 1);                  /* not an instance */
	BAD(ov[1].recurrence_id = b[0].start - DAY);    /* not an instance */
	BAD(ov[1].recurrence_id = b[0].end);            /* an end, not a start */
	BAD(ov[1].recurrence_id = ov[0].recurrence_id); /* twice */
	BAD(inv.noverrides = 4);                        /* more than instances */
	BAD(inv.noverrides = -1);
	BAD(inv.overrides = NULL);
	BAD(inv.nblocks = 1); /* no series to override */
	BAD(ov[0].end = ov[0].start);
	BAD(ov[0].end = ov[0].start - 60);
	BAD((ov[0].start = utc(1969, 12, 31, 0, 0), ov[0].end = ov[0].start + 60));
	BAD((ov[0].start = utc(8999, 12, 31, 23, 0), ov[0].end = ov[0].start + 7200));
	BAD((ov[0].start = b[0].start + (int64_t)ICS_MAX_SPAN_DAYS * DAY, ov[0].end = ov[0].start + 60));
	BAD((ov[0].start = b[0].start - (int64_t)ICS_MAX_SPAN_DAYS * DAY, ov[0].end = ov[0].start + 60));
#undef BAD
	/* A cancelled override's times are not looked at; all three days
	 * may be overridden (in a REQUEST, as EXDATEs of the series), but not
	 * all cancelled: an invitation with no day left is refused. */
	for (int i = 0; i < 3; i++)
		ov[i] = (struct ics_override){b[i].start, 0, 0, true};
	inv.noverrides = 3;
	assert_int_equal(write_rc(&inv), ERR_INVALID);
	ov[0] = (struct ics_override){b[0].start, b[0].start + 3600, b[0].end + 3600, false};
	char *s = write_ok(&inv);
	assert_int_equal(count_prop(s, "EXDATE"), 2);
	assert_int_equal(count_line(s, "STATUS:CANCELLED"), 0);
	free(s);
	inv.overrides = NULL;
	inv.noverrides = 0;
	assert_int_equal(write_rc(&inv), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_content_type),
	    cmocka_unit_test(test_consult_exact),
	    cmocka_unit_test(test_cancel_and_status),
	    cmocka_unit_test(test_optional_properties),
	    cmocka_unit_test(test_intensive_rrule_across_dst),
	    cmocka_unit_test(test_intensive_rdate),
	    cmocka_unit_test(test_fall_back_hour_in_utc),
	    cmocka_unit_test(test_vtimezone_forms),
	    cmocka_unit_test(test_vtimezone_many_zones),
	    cmocka_unit_test(test_escaping),
	    cmocka_unit_test(test_cn_quoting),
	    cmocka_unit_test(test_header_injection),
	    cmocka_unit_test(test_fold_line_exact),
	    cmocka_unit_test(test_folding_every_position),
	    cmocka_unit_test(test_refold),
	    cmocka_unit_test(test_invalid_input),
	    cmocka_unit_test(test_too_large),
	    cmocka_unit_test(test_calendar_exact),
	    cmocka_unit_test(test_calendar_zones),
	    cmocka_unit_test(test_calendar_one_invite),
	    cmocka_unit_test(test_calendar_invalid),
	    cmocka_unit_test(test_calendar_too_large),
	    cmocka_unit_test(test_override_moved_and_cancelled),
	    cmocka_unit_test(test_override_rdate_and_utc),
	    cmocka_unit_test(test_override_invalid),
	};
	int rc = cmocka_run_group_tests_name("ics", tests, NULL, NULL);
	tz_cache_clear();
	return rc;
}
