/*
 * ics.c — the invite writer: validation, RFC 5545 escaping, the VTIMEZONE
 * built from core/tz, and the VEVENT with its recurrence.
 *
 * Each content line is built in a scratch buffer and handed to
 * ics_fold_line, so no value can reach the output unfolded and nothing but
 * the folder writes a line break.
 */
#include "ics/ics.h"

#include "core/tz.h"

#define DAY             86400
#define MAX_TRANSITIONS 128  /* offset changes in a VTIMEZONE window */
#define MAX_UID         255  /* octets */
#define MAX_EMAIL       254  /* octets (RFC 5321 path limit) */
#define MAX_URL         2048 /* octets */
#define MIN_YEAR        1970 /* blocks and DTSTAMP from this year ... */
#define MAX_YEAR        8999 /* ... to this one; leaves room for the zone window */

const char *ics_content_type(const char *method)
{
	if (method && strcmp(method, "REQUEST") == 0)
		return "text/calendar; charset=utf-8; method=REQUEST";
	if (method && strcmp(method, "CANCEL") == 0)
		return "text/calendar; charset=utf-8; method=CANCEL";
	if (method && strcmp(method, "PUBLISH") == 0)
		return "text/calendar; charset=utf-8; method=PUBLISH";
	return "text/calendar; charset=utf-8";
}

/* ------------------------------------------------------------ writer */

struct writer {
	struct buf line; /* the logical line being built */
	struct buf *out; /* where folded lines go */
	int rc;          /* the first error while folding */
};

/* Folds the line built so far into out and starts the next one. */
static void end_line(struct writer *w)
{
	if (w->rc == 0) {
		if (w->line.err) {
			w->rc = ERR_TOO_LARGE;
		} else {
			int rc = ics_fold_line(buf_cstr(&w->line), w->line.len, w->out);
			/* Values are checked and sanitised before they get here:
			 * a CR, LF or bad UTF-8 in a line is our bug. */
			if (rc)
				w->rc = rc == ERR_TOO_LARGE ? rc : ERR_INTERNAL;
		}
	}
	buf_reset(&w->line);
}

/* A whole line "NAME:value" with a value that needs no escaping. */
static void simple(struct writer *w, const char *name, const char *value)
{
	buf_puts(&w->line, name);
	buf_putc(&w->line, ':');
	buf_puts(&w->line, value);
	end_line(w);
}

/* RFC 5545 3.3.11 TEXT: '\' ';' ',' escaped, other control characters
 * (not tab) dropped. A line break (CRLF, CR or LF) becomes "\n" in
 * multi-line text (DESCRIPTION) and a space in one-line text (SUMMARY,
 * LOCATION): calcurse, for one, refuses a title with a line break. s is
 * valid UTF-8. */
static void put_text(struct buf *b, const char *s, bool multiline)
{
	for (const char *p = s; p && *p; p++) {
		unsigned char c = (unsigned char)*p;
		switch (c) {
		case '\\': buf_append(b, "\\\\", 2); break;
		case ';': buf_append(b, "\\;", 2); break;
		case ',': buf_append(b, "\\,", 2); break;
		case '\r':
		case '\n':
			if (c == '\r' && p[1] == '\n')
				p++; /* CRLF is one break */
			if (multiline)
				buf_append(b, "\\n", 2);
			else
				buf_putc(b, ' ');
			break;
		default:
			if ((c < 0x20 && c != '\t') || c == 0x7F)
				break;
			buf_putc(b, (char)c);
		}
	}
}

/* A CN character after sanitising: line breaks and tabs become spaces,
 * other controls vanish (0), '"' becomes '\'' (a quoted-string cannot
 * hold DQUOTE, RFC 5545 3.1). */
static char cn_char(unsigned char c)
{
	if (c == '\r' || c == '\n' || c == '\t')
		return ' ';
	if (c < 0x20 || c == 0x7F)
		return 0;
	if (c == '"')
		return '\'';
	return (char)c;
}

/* ";CN=value", quoted when the value holds ';', ':' or ','; nothing for an
 * empty name. name is valid UTF-8. */
static void put_cn(struct buf *b, const char *name)
{
	bool any = false, quote = false;
	for (const char *p = name; p && *p; p++) {
		char c = cn_char((unsigned char)*p);
		any |= c != 0;
		quote |= c == ';' || c == ':' || c == ',';
	}
	if (!any)
		return;
	buf_puts(b, ";CN=");
	if (quote)
		buf_putc(b, '"');
	for (const char *p = name; *p; p++) {
		char c = cn_char((unsigned char)*p);
		if (c)
			buf_putc(b, c);
	}
	if (quote)
		buf_putc(b, '"');
}

static void put_offset(struct buf *b, int32_t off)
{
	char sign = off < 0 ? '-' : '+';
	int32_t a = off < 0 ? -off : off;
	buf_printf(b, "%c%02d%02d", sign, (int)(a / 3600), (int)(a / 60 % 60));
	if (a % 60)
		buf_printf(b, "%02d", (int)(a % 60));
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* A wall-clock value (core/tz encoding) as "YYYYMMDDTHHMMSS". */
static void put_local(struct buf *b, int64_t local)
{
	int64_t days = floor_div(local, DAY);
	int64_t sod = local - days * DAY;
	int y, m, d;
	tz_civil_from_days(days, &y, &m, &d);
	buf_printf(b, "%04d%02d%02dT%02d%02d%02d", y, m, d, (int)(sod / 3600), (int)(sod / 60 % 60),
	           (int)(sod % 60));
}

static int local_year(int64_t local)
{
	int y, m, d;
	tz_civil_from_days(floor_div(local, DAY), &y, &m, &d);
	return y;
}

/* ------------------------------------------------------------ checks */

static bool text_ok(const char *s)
{
	return !s || str_valid_utf8(str_from(s));
}

/* An address for mailto:. Anything that could end the value, open a
 * parameter or turn into URI syntax is refused rather than encoded. */
static bool email_ok(const char *s)
{
	if (!s)
		return false;
	size_t n = strlen(s);
	const char *at = strrchr(s, '@');
	if (n == 0 || n > MAX_EMAIL || !at || at == s || at[1] == '\0')
		return false;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c == 0x7F || strchr("\"(),:;<>[\\]%?#", c))
			return false;
	}
	return str_valid_utf8(str_from(s));
}

/* A URI value is not TEXT and is written as is: printable ASCII without
 * the characters RFC 3986 never allows unencoded, and with a scheme. */
static bool url_ok(const char *s)
{
	size_t n = strlen(s);
	if (n > MAX_URL || !strchr(s, ':'))
		return false;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= 0x20 || c >= 0x7F || strchr("\"<>\\^`{|}", c))
			return false;
	}
	return true;
}

static bool uid_ok(const char *s)
{
	if (!s || !*s || strlen(s) > MAX_UID)
		return false;
	for (const char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x20 || c == 0x7F)
			return false;
	}
	return str_valid_utf8(str_from(s));
}

static bool empty(const char *s)
{
	return !s || !*s;
}

/* ------------------------------------------------------------ VTIMEZONE */

/* One change of UTC offset inside the VTIMEZONE window. */
struct change {
	int64_t at;         /* instant of the change */
	int32_t from, to;   /* offsets before and after */
	const char *abbrev; /* abbreviation after (owned by the zone) */
	bool daylight;      /* the offset goes up: a DAYLIGHT observance */
};

/* Where a change falls in local (pre-change) time, for a yearly rule. */
struct when {
	int year, month, day, wday; /* wday 1 = Monday ... 7 = Sunday */
	int64_t sod;                /* seconds into the local day */
	int nth;                    /* 1..5: which such weekday of the month */
	bool last;                  /* the last such weekday of the month */
};

static struct when when_of(const struct change *c)
{
	struct when w;
	int64_t local = c->at + c->from;
	int64_t days = floor_div(local, DAY);
	w.sod = local - days * DAY;
	tz_civil_from_days(days, &w.year, &w.month, &w.day);
	w.wday = tz_iso_weekday(days);
	w.nth = (w.day - 1) / 7 + 1;
	w.last = w.day + 7 > tz_days_in_month(w.year, w.month);
	return w;
}

static void begin_obs(struct writer *w, bool daylight, int64_t dtstart_local, int32_t from, int32_t to)
{
	simple(w, "BEGIN", daylight ? "DAYLIGHT" : "STANDARD");
	buf_puts(&w->line, "DTSTART:");
	put_local(&w->line, dtstart_local);
	end_line(w);
	buf_puts(&w->line, "TZOFFSETFROM:");
	put_offset(&w->line, from);
	end_line(w);
	buf_puts(&w->line, "TZOFFSETTO:");
	put_offset(&w->line, to);
	end_line(w);
}

static void end_obs(struct writer *w, bool daylight, const char *abbrev)
{
	if (!empty(abbrev)) {
		buf_puts(&w->line, "TZNAME:");
		put_text(&w->line, abbrev, false);
		end_line(w);
	}
	simple(w, "END", daylight ? "DAYLIGHT" : "STANDARD");
}

/*
 * The usual form, and the one Outlook reads best: one DAYLIGHT and one
 * STANDARD observance, each with RRULE:FREQ=YEARLY;BYMONTH=m;BYDAY=nDD.
 * Used only when it reproduces every change in the window exactly: the
 * changes alternate between two offsets, each kind happens once a year in
 * consecutive years up to the window's last year on the same weekday rule
 * at the same local time, and both kinds have happened before the first
 * block. False otherwise.
 */
static bool write_yearly(struct writer *w, const struct change *c, size_t n, int64_t first, int last_year)
{
	static const char *const wd[] = {"", "MO", "TU", "WE", "TH", "FR", "SA", "SU"};
	if (n < 2 || c[0].at >= first || c[1].at >= first)
		return false;
	for (size_t i = 1; i < n; i++)
		if (c[i].daylight == c[i - 1].daylight || c[i].from != c[i - 1].to)
			return false;

	int byday[2];
	for (size_t k = 0; k < 2; k++) {
		struct when ref = when_of(&c[k]);
		bool same_nth = ref.nth <= 4, all_last = ref.last;
		int year = ref.year;
		for (size_t i = k + 2; i < n; i += 2) {
			struct when x = when_of(&c[i]);
			if (c[i].from != c[k].from || c[i].to != c[k].to ||
			    strcmp(c[i].abbrev, c[k].abbrev) != 0 || x.year != year + 1 ||
			    x.month != ref.month || x.wday != ref.wday || x.sod != ref.sod)
				return false;
			same_nth &= x.nth == ref.nth;
			all_last &= x.last;
			year = x.year;
		}
		if (year != last_year)
			return false; /* the rule would go on where the zone stopped */
		if (same_nth)
			byday[k] = ref.nth;
		else if (all_last)
			byday[k] = -1;
		else
			return false;
	}
	for (size_t k = 0; k < 2; k++) {
		struct when ref = when_of(&c[k]);
		begin_obs(w, c[k].daylight, c[k].at + c[k].from, c[k].from, c[k].to);
		buf_printf(&w->line, "RRULE:FREQ=YEARLY;BYMONTH=%d;BYDAY=%d%s", ref.month, byday[k],
		           wd[ref.wday]);
		end_line(w);
		end_obs(w, c[k].daylight, c[k].abbrev);
	}
	return true;
}

/*
 * The general form, right for any zone: the offset in force at the start
 * of the window as its own observance, then one observance per kind of
 * change (same direction, offsets and name) with DTSTART at its first
 * occurrence and RDATE at the others.
 */
static void write_listed(struct writer *w, const struct tz *z, const struct change *c, size_t n, int64_t w0)
{
	int32_t off0 = tz_offset_at(z, w0);
	bool daylight0 = n > 0 && c[0].from > c[0].to;
	begin_obs(w, daylight0, w0 + off0, off0, off0);
	end_obs(w, daylight0, tz_abbrev_at(z, w0));

	bool done[MAX_TRANSITIONS] = {false};
	for (size_t i = 0; i < n; i++) {
		if (done[i])
			continue;
		begin_obs(w, c[i].daylight, c[i].at + c[i].from, c[i].from, c[i].to);
		bool any = false;
		for (size_t j = i + 1; j < n; j++) {
			if (done[j] || c[j].daylight != c[i].daylight || c[j].from != c[i].from ||
			    c[j].to != c[i].to || strcmp(c[j].abbrev, c[i].abbrev) != 0)
				continue;
			done[j] = true;
			buf_puts(&w->line, any ? "," : "RDATE:");
			put_local(&w->line, c[j].at + c[j].from);
			any = true;
		}
		if (any)
			end_line(w);
		end_obs(w, c[i].daylight, c[i].abbrev);
	}
}

/* The VTIMEZONE for zone z covering [first, last] with a year to spare on
 * either side (from 1 January of the year before the first block to the
 * end of the year after the last). */
static int write_vtimezone(struct writer *w, const struct tz *z, const char *tzid, int64_t first,
                           int64_t last)
{
	int y0 = local_year(tz_utc_to_local(z, first)) - 1;
	int y1 = local_year(tz_utc_to_local(z, last)) + 1;
	int64_t w0 = tz_days_from_civil(y0, 1, 1) * DAY;
	int64_t w1 = tz_days_from_civil(y1 + 1, 1, 1) * DAY;

	int64_t at[MAX_TRANSITIONS];
	size_t n = tz_transitions(z, w0, w1, at, MAX_TRANSITIONS);
	if (n == MAX_TRANSITIONS)
		return ERR_INVALID; /* not a zone a booking could be in */
	struct change c[MAX_TRANSITIONS];
	for (size_t i = 0; i < n; i++) {
		c[i].at = at[i];
		c[i].from = tz_offset_at(z, at[i] - 1);
		c[i].to = tz_offset_at(z, at[i]);
		c[i].abbrev = tz_abbrev_at(z, at[i]);
		c[i].daylight = c[i].to > c[i].from;
	}

	simple(w, "BEGIN", "VTIMEZONE");
	simple(w, "TZID", tzid);
	/* Evolution and other libical clients map the zone by this name. */
	simple(w, "X-LIC-LOCATION", tzid);
	if (!write_yearly(w, c, n, first, y1))
		write_listed(w, z, c, n, w0);
	simple(w, "END", "VTIMEZONE");
	return 0;
}

/* ------------------------------------------------------------ VEVENT */

/* True when the zone's local reading of t happens once, so "TZID=…:local"
 * names t for every reader. Not inside a fall-back hour: RFC 5545 3.3.5
 * reads a repeated local time as its first pass, but python-icalendar
 * (pytz's is_dst=False) and others take the second. */
static bool nameable(const struct tz *z, int64_t t)
{
	int kind;
	return tz_local_to_utc(z, tz_utc_to_local(z, t), &kind) == t && kind == TZ_LOCAL_NORMAL;
}

/* "NAME;TZID=zone:local", or "NAME:…Z" when local time cannot name t. */
static void put_time_prop(struct writer *w, const char *name, const struct tz *z, const char *tzid, int64_t t)
{
	buf_puts(&w->line, name);
	if (nameable(z, t)) {
		buf_printf(&w->line, ";TZID=%s:", tzid);
		put_local(&w->line, tz_utc_to_local(z, t));
	} else {
		buf_putc(&w->line, ':');
		put_local(&w->line, t);
		buf_putc(&w->line, 'Z');
	}
	end_line(w);
}

/* RRULE:FREQ=DAILY;COUNT=n reproduces the blocks exactly: the same local
 * start on consecutive local days, each one nameable. (Lengths are equal,
 * checked before.) */
static bool daily(const struct tz *z, const struct ics_block *b, int n)
{
	int64_t local0 = tz_utc_to_local(z, b[0].start);
	for (int i = 0; i < n; i++) {
		int64_t local = local0 + (int64_t)i * DAY;
		if (tz_utc_to_local(z, b[i].start) != local || !nameable(z, b[i].start))
			return false;
	}
	return true;
}

static void write_recurrence(struct writer *w, const struct tz *z, const char *tzid,
                             const struct ics_block *b, int n)
{
	if (n < 2)
		return;
	if (daily(z, b, n)) {
		/* COUNT only, never UNTIL as well (RFC 5545 3.3.10; libical
		 * writes such a rule as "ERROR: No Value"). */
		buf_printf(&w->line, "RRULE:FREQ=DAILY;COUNT=%d", n);
		end_line(w);
		return;
	}
	/* RDATE instances last as long as DTSTART..DTEND. Local values share
	 * one line; the rare unnameable ones go in UTC on another. */
	for (int pass = 0; pass < 2; pass++) {
		bool any = false;
		for (int i = 1; i < n; i++) {
			bool local = nameable(z, b[i].start);
			if (local != (pass == 0))
				continue;
			if (!any)
				buf_printf(&w->line, local ? "RDATE;TZID=%s:" : "RDATE:", tzid);
			else
				buf_putc(&w->line, ',');
			put_local(&w->line, local ? tz_utc_to_local(z, b[i].start) : b[i].start);
			if (!local)
				buf_putc(&w->line, 'Z');
			any = true;
		}
		if (any)
			end_line(w);
	}
}

static void write_person(struct writer *w, const char *prop, const char *name, const char *email,
                         const char *params)
{
	buf_puts(&w->line, prop);
	put_cn(&w->line, name);
	buf_puts(&w->line, params);
	buf_puts(&w->line, ":mailto:");
	buf_puts(&w->line, email);
	end_line(w);
}

static void write_text_prop(struct writer *w, const char *name, const char *value, bool multiline)
{
	buf_puts(&w->line, name);
	buf_putc(&w->line, ':');
	put_text(&w->line, value, multiline);
	end_line(w);
}

static bool itip_method(const char *m)
{
	return strcmp(m, "REQUEST") == 0 || strcmp(m, "CANCEL") == 0;
}

/* The instants an event occupies, overrides' new times included: what its
 * zone's VTIMEZONE must cover. Blocks are valid and in order. */
static void event_span(const struct ics_invite *inv, int64_t *first, int64_t *last)
{
	*first = inv->blocks[0].start;
	*last = inv->blocks[inv->nblocks - 1].end;
	for (int i = 0; i < inv->noverrides; i++) {
		const struct ics_override *o = &inv->overrides[i];
		if (o->cancelled)
			continue;
		if (o->start < *first)
			*first = o->start;
		if (o->end > *last)
			*last = o->end;
	}
}

/* The overrides: each names an instance of the series, once, and moves it
 * to a sane time or cancels it. Blocks are valid. */
static int validate_overrides(const struct ics_invite *inv, int64_t lo, int64_t hi)
{
	if (inv->noverrides == 0)
		return 0;
	if (inv->noverrides < 0 || inv->noverrides > inv->nblocks || !inv->overrides || inv->nblocks < 2)
		return ERR_INVALID;
	for (int i = 0; i < inv->noverrides; i++) {
		const struct ics_override *o = &inv->overrides[i];
		bool instance = false;
		for (int k = 0; k < inv->nblocks && !instance; k++)
			instance = inv->blocks[k].start == o->recurrence_id;
		if (!instance)
			return ERR_INVALID;
		for (int j = 0; j < i; j++)
			if (inv->overrides[j].recurrence_id == o->recurrence_id)
				return ERR_INVALID;
		if (!o->cancelled && (o->start < lo || o->end > hi || o->end <= o->start))
			return ERR_INVALID;
	}
	return 0;
}

/* Everything about one event that does not need the zone; m is the
 * calendar's METHOD, already known to be valid. */
static int validate(const struct ics_invite *inv, const char *m)
{
	if (inv->method && strcmp(inv->method, m) != 0)
		return ERR_INVALID;
	bool cancel = strcmp(m, "CANCEL") == 0;
	bool itip = itip_method(m);
	/* iTIP: a CANCEL says CANCELLED, a REQUEST never does. */
	if (itip && inv->cancelled != cancel)
		return ERR_INVALID;
	if (!uid_ok(inv->uid) || inv->sequence < 0 || empty(inv->tzid))
		return ERR_INVALID;
	if (!text_ok(inv->summary) || !text_ok(inv->description) || !text_ok(inv->location) ||
	    !text_ok(inv->organizer_name))
		return ERR_INVALID;
	if (!empty(inv->url) && !url_ok(inv->url))
		return ERR_INVALID;

	/* iTIP needs an organizer and at least one attendee; a feed
	 * (PUBLISH) names no client at all (SPEC §4, §5). */
	if (itip ? !email_ok(inv->organizer_email)
	         : !empty(inv->organizer_email) && !email_ok(inv->organizer_email))
		return ERR_INVALID;
	if (inv->nattendees < 0 || inv->nattendees > ICS_MAX_ATTENDEES ||
	    (inv->nattendees > 0 && !inv->attendees))
		return ERR_INVALID;
	if (itip ? inv->nattendees < 1 : inv->nattendees != 0)
		return ERR_INVALID;
	for (int i = 0; i < inv->nattendees; i++)
		if (!text_ok(inv->attendees[i].name) || !email_ok(inv->attendees[i].email))
			return ERR_INVALID;

	/* Blocks: in range, in order, not overlapping, all of one length
	 * (RRULE and RDATE instances all last DTEND - DTSTART). */
	if (inv->nblocks < 1 || inv->nblocks > ICS_MAX_BLOCKS || !inv->blocks)
		return ERR_INVALID;
	const int64_t lo = tz_days_from_civil(MIN_YEAR, 1, 1) * DAY;
	const int64_t hi = tz_days_from_civil(MAX_YEAR + 1, 1, 1) * DAY;
	if (inv->dtstamp < lo || inv->dtstamp >= hi)
		return ERR_INVALID;
	if (inv->last_modified != 0 && (inv->last_modified < lo || inv->last_modified >= hi))
		return ERR_INVALID;
	const struct ics_block *b = inv->blocks;
	for (int i = 0; i < inv->nblocks; i++) {
		if (b[i].start < lo || b[i].end > hi || b[i].end <= b[i].start)
			return ERR_INVALID;
		if (i > 0 && (b[i].start < b[i - 1].end || b[i].end - b[i].start != b[0].end - b[0].start))
			return ERR_INVALID;
	}
	int rc = validate_overrides(inv, lo, hi);
	if (rc)
		return rc;
	/* A REQUEST for a series with no day left is no invitation at all. */
	int gone = 0;
	for (int i = 0; i < inv->noverrides; i++)
		gone += inv->overrides[i].cancelled;
	if (strcmp(m, "REQUEST") == 0 && gone == inv->nblocks)
		return ERR_INVALID;
	if (inv->cancel_instance) {
		bool instance = false;
		for (int k = 0; k < inv->nblocks && !instance; k++)
			instance = b[k].start == inv->cancel_instance;
		if (!cancel || inv->nblocks < 2 || !instance)
			return ERR_INVALID;
	}
	int64_t first, last;
	event_span(inv, &first, &last);
	if (last - first > (int64_t)ICS_MAX_SPAN_DAYS * DAY)
		return ERR_INVALID;
	return 0;
}

static void put_utc_prop(struct writer *w, const char *name, int64_t t)
{
	buf_puts(&w->line, name);
	buf_putc(&w->line, ':');
	put_local(&w->line, t);
	buf_putc(&w->line, 'Z');
	end_line(w);
}

/* One VEVENT: the series of inv, or (ov not NULL) one changed instance of
 * it. */
static void write_vevent(struct writer *w, const struct ics_invite *inv, const char *method,
                         const struct tz *z, const char *tzid, const struct ics_override *ov)
{
	const struct ics_block *b = inv->blocks;
	simple(w, "BEGIN", "VEVENT");
	write_text_prop(w, "UID", inv->uid, false);
	buf_printf(&w->line, "SEQUENCE:%d", inv->sequence);
	end_line(w);
	put_utc_prop(w, "DTSTAMP", inv->dtstamp);
	if (inv->last_modified)
		put_utc_prop(w, "LAST-MODIFIED", inv->last_modified);
	if (ov) {
		/* RECURRENCE-ID names the instance as the series does. */
		put_time_prop(w, "RECURRENCE-ID", z, tzid, ov->recurrence_id);
		int64_t start = ov->cancelled ? ov->recurrence_id : ov->start;
		int64_t end = ov->cancelled ? ov->recurrence_id + (b[0].end - b[0].start) : ov->end;
		put_time_prop(w, "DTSTART", z, tzid, start);
		put_time_prop(w, "DTEND", z, tzid, end);
	} else {
		put_time_prop(w, "DTSTART", z, tzid, b[0].start);
		put_time_prop(w, "DTEND", z, tzid, b[0].end);
		write_recurrence(w, z, tzid, b, inv->nblocks);
		/* In a REQUEST a day cancelled on its own leaves the series
		 * (an override may not say CANCELLED there). */
		if (strcmp(method, "REQUEST") == 0)
			for (int i = 0; i < inv->noverrides; i++)
				if (inv->overrides[i].cancelled)
					put_time_prop(w, "EXDATE", z, tzid, inv->overrides[i].recurrence_id);
	}
	write_text_prop(w, "SUMMARY", inv->summary, false);
	if (!empty(inv->description))
		write_text_prop(w, "DESCRIPTION", inv->description, true);
	if (!empty(inv->location))
		write_text_prop(w, "LOCATION", inv->location, false);
	if (!empty(inv->url))
		simple(w, "URL", inv->url);
	if (!empty(inv->organizer_email))
		write_person(w, "ORGANIZER", inv->organizer_name, inv->organizer_email, "");
	bool request = strcmp(method, "REQUEST") == 0;
	for (int i = 0; i < inv->nattendees; i++)
		write_person(w, "ATTENDEE", inv->attendees[i].name, inv->attendees[i].email,
		             request ? ";ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE"
		                     : ";ROLE=REQ-PARTICIPANT");
	bool cancelled = inv->cancelled || (ov && ov->cancelled);
	simple(w, "STATUS", cancelled ? "CANCELLED" : inv->tentative ? "TENTATIVE" : "CONFIRMED");
	/* A day cancelled on its own frees its time. */
	simple(w, "TRANSP", inv->transparent || (ov && ov->cancelled) ? "TRANSPARENT" : "OPAQUE");
	if (inv->class_private)
		simple(w, "CLASS", "PRIVATE");
	simple(w, "END", "VEVENT");
}

/* One zone of a calendar and the span its VTIMEZONE must cover. */
struct zone_use {
	const struct tz *z; /* from tz_get's cache */
	int64_t first;      /* earliest instant an event in it starts */
	int64_t last;       /* latest instant one ends */
};

struct zones {
	struct zone_use use[ICS_MAX_ZONES];
	int n;
	const char *prev; /* the last name looked up, and ... */
	int prev_i;       /* ... its index: feeds repeat one zone */
};

/* The index in zs of the zone named tzid, added when new; its span widened
 * to [first, last]. ERR_INVALID for an unknown zone or one too many. */
static int zone_add(struct zones *zs, const char *tzid, int64_t first, int64_t last, int *idx)
{
	int i = -1;
	if (zs->prev && strcmp(zs->prev, tzid) == 0) {
		i = zs->prev_i;
	} else {
		const struct tz *z;
		int rc = tz_get(tzid, &z);
		if (rc)
			return rc == ERR_NOT_FOUND ? ERR_INVALID : rc;
		for (int k = 0; k < zs->n && i < 0; k++)
			if (zs->use[k].z == z)
				i = k;
		if (i < 0) {
			if (zs->n == ICS_MAX_ZONES)
				return ERR_INVALID;
			i = zs->n++;
			zs->use[i] = (struct zone_use){z, first, last};
		}
		zs->prev = tzid;
		zs->prev_i = i;
	}
	if (first < zs->use[i].first)
		zs->use[i].first = first;
	if (last > zs->use[i].last)
		zs->use[i].last = last;
	*idx = i;
	return 0;
}

static void write_duration(struct writer *w, const char *name, int minutes)
{
	buf_puts(&w->line, name);
	if (minutes % 60 == 0)
		buf_printf(&w->line, ":PT%dH", minutes / 60);
	else
		buf_printf(&w->line, ":PT%dM", minutes);
	end_line(w);
}

static int write_calendar(const struct ics_calendar *cal, struct writer *w, int *zone_of)
{
	const char *m = cal->method;
	if (!m || (!itip_method(m) && strcmp(m, "PUBLISH") != 0))
		return ERR_INVALID;
	if (cal->nevents < 0 || cal->nevents > ICS_MAX_EVENTS || (cal->nevents > 0 && !cal->events) ||
	    (itip_method(m) && cal->nevents != 1))
		return ERR_INVALID;
	if (!text_ok(cal->name) || cal->refresh_minutes < 0 || cal->refresh_minutes > 525600)
		return ERR_INVALID;
	struct zones zs = {.n = 0};
	const int64_t lo = tz_days_from_civil(MIN_YEAR, 1, 1) * DAY;
	const int64_t hi = tz_days_from_civil(MAX_YEAR + 1, 1, 1) * DAY;
	int rc, unused;
	if (!empty(cal->tzid)) {
		if (cal->tz_first < lo || cal->tz_last > hi || cal->tz_last < cal->tz_first ||
		    cal->tz_last - cal->tz_first > (int64_t)ICS_MAX_SPAN_DAYS * DAY)
			return ERR_INVALID;
		if ((rc = zone_add(&zs, cal->tzid, cal->tz_first, cal->tz_last, &unused)))
			return rc;
	} else if (cal->nevents == 0) {
		return ERR_INVALID; /* a VCALENDAR needs one component */
	}
	for (int i = 0; i < cal->nevents; i++) {
		const struct ics_invite *ev = &cal->events[i];
		if ((rc = validate(ev, m)))
			return rc;
		int64_t first, last;
		event_span(ev, &first, &last);
		if ((rc = zone_add(&zs, ev->tzid, first, last, &zone_of[i])))
			return rc;
	}

	simple(w, "BEGIN", "VCALENDAR");
	simple(w, "PRODID", "-//Tandem//Tandem Booking//EN");
	simple(w, "VERSION", "2.0");
	simple(w, "CALSCALE", "GREGORIAN");
	simple(w, "METHOD", m);
	if (!empty(cal->name)) {
		/* RFC 7986 NAME, and the name Apple and Google read. */
		write_text_prop(w, "NAME", cal->name, false);
		write_text_prop(w, "X-WR-CALNAME", cal->name, false);
	}
	if (cal->refresh_minutes) {
		write_duration(w, "REFRESH-INTERVAL;VALUE=DURATION", cal->refresh_minutes);
		write_duration(w, "X-PUBLISHED-TTL", cal->refresh_minutes);
	}
	for (int k = 0; k < zs.n; k++) {
		const struct zone_use *u = &zs.use[k];
		if ((rc = write_vtimezone(w, u->z, tz_name(u->z), u->first, u->last)))
			return rc;
	}
	for (int i = 0; i < cal->nevents && w->rc == 0; i++) {
		const struct ics_invite *ev = &cal->events[i];
		const struct tz *z = zs.use[zone_of[i]].z;
		if (ev->cancel_instance) {
			/* One day of the series, and only that day. */
			const struct ics_override one = {ev->cancel_instance, 0, 0, true};
			write_vevent(w, ev, m, z, tz_name(z), &one);
			continue;
		}
		write_vevent(w, ev, m, z, tz_name(z), NULL);
		/* A CANCEL cancels the whole series, changed days and all; a
		 * REQUEST has its cancelled days as EXDATEs of the series. */
		bool request = strcmp(m, "REQUEST") == 0;
		if (strcmp(m, "CANCEL") != 0)
			for (int k = 0; k < ev->noverrides; k++)
				if (!(request && ev->overrides[k].cancelled))
					write_vevent(w, ev, m, z, tz_name(z), &ev->overrides[k]);
	}
	simple(w, "END", "VCALENDAR");
	return w->rc;
}

int ics_write_calendar(const struct ics_calendar *cal, struct buf *out)
{
	size_t start = out->len;
	int rc = ERR_INTERNAL;
	struct writer w = {.out = out, .rc = 0};
	buf_init(&w.line, NULL, out->max);
	int *zone_of = NULL;

	if (out->err) {
		rc = ERR_TOO_LARGE;
		goto out;
	}
	if (cal->nevents > 0 && cal->nevents <= ICS_MAX_EVENTS)
		zone_of = xmalloc((size_t)cal->nevents * sizeof(*zone_of));
	rc = write_calendar(cal, &w, zone_of);
	if (!rc && out->err)
		rc = ERR_TOO_LARGE;
out:
	free(zone_of);
	buf_release(&w.line);
	if (rc) {
		out->len = start;
		if (out->data)
			out->data[start] = '\0';
	}
	return rc;
}

int ics_write_invite(const struct ics_invite *inv, struct buf *out)
{
	struct ics_calendar cal = {
	    .method = inv->method,
	    .events = inv,
	    .nevents = 1,
	};
	return ics_write_calendar(&cal, out);
}
