/* libFuzzer target: iCalendar folding (ics_refold, ics_fold_line) and the
 * invite writer fed with hostile text.
 *
 * For any input ics_refold accepts, the output must be CRLF lines of at
 * most 75 octets, each valid UTF-8, no fold between '\' and the character
 * it escapes, refolding it must give the same bytes, and unfolding it must
 * give the input's non-empty logical lines. Inputs starting with '!' are
 * also split at NUL bytes into the text fields of an invite, which must
 * come out well folded with no property but the expected ones. */
#include <stddef.h>
#include <stdint.h>

#include "core/tz.h"
#include "ics/ics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OUT (1 << 20)

/* Our own reading of RFC 5545 3.1, independent of fold.c: the logical lines
 * of s as one buffer, each line followed by '\n'; empty lines dropped.
 * lf_ok: bare LF ends a line too (input) or only CRLF does (output). */
static void logical_lines(const char *s, size_t n, bool lf_ok, struct buf *out)
{
	struct buf cur;
	buf_init(&cur, NULL, n + 1);
	bool open = false;
	size_t i = 0;
	while (i < n) {
		size_t e = i;
		while (e < n && s[e] != '\n')
			e++;
		size_t next = e < n ? e + 1 : n;
		if (e < n && e > i && s[e - 1] == '\r')
			e--;
		else if (e < n && !lf_ok)
			__builtin_trap(); /* our output has no bare LF */
		if (e > i && (s[i] == ' ' || s[i] == '\t')) {
			buf_append(&cur, s + i + 1, e - i - 1);
		} else {
			if (open && cur.len) {
				buf_append(out, cur.data, cur.len);
				buf_putc(out, '\n');
			}
			buf_reset(&cur);
			buf_append(&cur, s + i, e - i);
			open = true;
		}
		i = next;
	}
	if (open && cur.len) {
		buf_append(out, cur.data, cur.len);
		buf_putc(out, '\n');
	}
	buf_release(&cur);
}

/* The physical-line rules, and refolding is a no-op. */
static void check_folded(const char *s, size_t n)
{
	if (n == 0)
		return;
	if (n < 2 || s[n - 2] != '\r' || s[n - 1] != '\n')
		__builtin_trap();
	size_t i = 0;
	bool pending = false; /* the logical line ends in an unpaired '\' */
	while (i < n) {
		const char *e = memmem(s + i, n - i, "\r\n", 2);
		if (!e)
			__builtin_trap();
		size_t len = (size_t)(e - (s + i));
		if (len > 75 || memchr(s + i, '\r', len) || memchr(s + i, '\n', len))
			__builtin_trap();
		if (!str_valid_utf8((struct str){s + i, len}))
			__builtin_trap();
		bool cont = len > 0 && s[i] == ' ';
		if (len == 0 || (cont && len == 1) || s[i] == '\t')
			__builtin_trap(); /* no empty lines, no empty continuations */
		if (!cont)
			pending = false;
		for (size_t k = cont ? 1 : 0; k < len; k++) {
			if (pending)
				pending = false;
			else if (s[i + k] == '\\')
				pending = true;
		}
		i = (size_t)(e - s) + 2;
		if (pending && i < n && s[i] == ' ')
			__builtin_trap(); /* an escape pair split by a fold */
	}
	struct buf again;
	buf_init(&again, NULL, MAX_OUT);
	if (ics_refold(s, n, &again) != 0 || again.len != n || memcmp(again.data, s, n) != 0)
		__builtin_trap();
	buf_release(&again);
}

static void fuzz_refold(const char *s, size_t n)
{
	struct buf out;
	buf_init(&out, NULL, MAX_OUT);
	int rc = ics_refold(s, n, &out);
	if (rc == 0) {
		check_folded(out.data, out.len);
		struct buf a, b;
		buf_init(&a, NULL, MAX_OUT);
		buf_init(&b, NULL, MAX_OUT);
		logical_lines(s, n, true, &a);
		logical_lines(out.data, out.len, false, &b);
		if (a.len != b.len || (a.len && memcmp(a.data, b.data, a.len) != 0))
			__builtin_trap();
		buf_release(&a);
		buf_release(&b);
	} else if (rc != ERR_MALFORMED && rc != ERR_TOO_LARGE) {
		__builtin_trap();
	} else if (out.len != 0) {
		__builtin_trap(); /* truncated back on error */
	}
	buf_release(&out);

	/* The whole input as one logical line. */
	buf_init(&out, NULL, MAX_OUT);
	rc = ics_fold_line(s, n, &out);
	if (rc == 0) {
		if (n > 0 && (s[0] == ' ' || s[0] == '\t'))
			; /* a leading space reads as a continuation: skip the checks */
		else if (n > 0) {
			check_folded(out.data, out.len);
			struct buf b;
			buf_init(&b, NULL, MAX_OUT);
			logical_lines(out.data, out.len, false, &b);
			if (b.len != n + 1 || memcmp(b.data, s, n) != 0)
				__builtin_trap();
			buf_release(&b);
		}
	} else if (rc != ERR_INVALID) {
		__builtin_trap();
	}
	buf_release(&out);
}

/* The next NUL-terminated field of [*p, end); "" when none is left. */
static const char *field(char **p, char *end)
{
	if (*p >= end)
		return "";
	char *f = *p;
	char *z = memchr(f, '\0', (size_t)(end - f));
	*p = z ? z + 1 : end;
	return f;
}

static void fuzz_invite(const uint8_t *data, size_t size)
{
	static const char *const zones[] = {"America/Chicago", "Europe/Berlin", "Australia/Lord_Howe",
	                                    "Asia/Kolkata",    "UTC",           "America/Santiago"};
	static const char *const props[] = {
	    "BEGIN",   "PRODID",       "VERSION",    "CALSCALE", "METHOD",  "TZID",        "X-LIC-LOCATION",
	    "DTSTART", "TZOFFSETFROM", "TZOFFSETTO", "RRULE",    "RDATE",   "TZNAME",      "END",
	    "UID",     "SEQUENCE",     "DTSTAMP",    "DTEND",    "SUMMARY", "DESCRIPTION", "LOCATION",
	    "URL",     "ORGANIZER",    "ATTENDEE",   "STATUS",   "TRANSP",
	};
	if (size < 4)
		return;
	/* Byte 1: zone and shape; bytes 2-3: start day offset. */
	uint8_t shape = data[1];
	int64_t day = tz_days_from_civil(2020, 1, 1) + ((data[2] << 8) | data[3]) % 7300;
	char *copy = xmalloc(size - 4 + 1);
	memcpy(copy, data + 4, size - 4);
	copy[size - 4] = '\0';
	char *p = copy, *end = copy + size - 4;

	struct ics_attendee att = {NULL, "client@example.org"};
	struct ics_invite inv = {
	    .method = "REQUEST",
	    .uid = "b-1@tandem.example",
	    .dtstamp = tz_days_from_civil(2020, 1, 1) * 86400,
	    .tzid = zones[shape % ARRAY_LEN(zones)],
	    .organizer_email = "dr@example.org",
	    .attendees = &att,
	    .nattendees = 1,
	};
	inv.summary = field(&p, end);
	inv.description = field(&p, end);
	inv.location = field(&p, end);
	inv.organizer_name = field(&p, end);
	att.name = field(&p, end);

	const struct tz *z;
	if (tz_get(inv.tzid, &z) != 0)
		__builtin_trap();
	struct ics_block b[4];
	int n = 1 + (shape >> 4) % 4;
	for (int i = 0; i < n; i++) {
		/* Consecutive days, or every other day, at 01:30 or 09:00 local. */
		int64_t d = day + i * ((shape & 8) ? 2 : 1);
		int64_t local = d * 86400 + ((shape & 4) ? 5400 : 32400);
		b[i].start = tz_local_to_utc(z, local, NULL);
		b[i].end = b[i].start + 3600;
	}
	inv.blocks = b;
	inv.nblocks = n;

	struct buf out;
	buf_init(&out, NULL, MAX_OUT);
	int rc = ics_write_invite(&inv, &out);
	if (rc == 0) {
		check_folded(out.data, out.len);
		struct buf lines;
		buf_init(&lines, NULL, MAX_OUT);
		logical_lines(out.data, out.len, false, &lines);
		int attendees = 0, begins = 0;
		for (char *l = lines.data; l && l < lines.data + lines.len;) {
			char *nl = memchr(l, '\n', (size_t)(lines.data + lines.len - l));
			size_t name = strcspn(l, ";:\n");
			bool known = false;
			for (size_t k = 0; k < ARRAY_LEN(props) && !known; k++)
				known = strlen(props[k]) == name && memcmp(l, props[k], name) == 0;
			if (!known)
				__builtin_trap();
			attendees += name == 8 && memcmp(l, "ATTENDEE", 8) == 0;
			begins += name == 5 && memcmp(l, "BEGIN", 5) == 0;
			l = nl + 1;
		}
		if (attendees != 1 || begins < 4)
			__builtin_trap();
		buf_release(&lines);
	} else if (rc != ERR_INVALID) {
		__builtin_trap();
	} else if (out.len != 0) {
		__builtin_trap();
	}
	buf_release(&out);
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_refold((const char *)data, size);
	if (size > 0 && data[0] == '!')
		fuzz_invite(data, size);
	return 0;
}
