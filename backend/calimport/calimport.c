/*
 * calimport.c — the line scanner, value parsers and structure checks of
 * cal_import; expand.c turns the events of one VCALENDAR into busy time.
 *
 * The scanner reads physical lines (CRLF, LF or a lone CR end a line),
 * unfolds them into logical lines numbered by their first physical line,
 * and keeps a stack of open components so that every error can name a
 * line. Only the properties busy time depends on are parsed (strictly);
 * everything else — SUMMARY, DESCRIPTION, ATTENDEE, attachments — is
 * skipped without being copied, so it can neither break the import nor
 * stay in memory.
 */
#include <libical/ical.h>
#include <pthread.h>
#include <stdarg.h>
#include <strings.h>

#include "calimport/calimport.h"
#include "calimport/calimport_int.h"
#include "core/tz.h"

#define MAX_DEPTH      32   /* nested components */
#define MAX_NAME       64   /* octets of a component name */
#define MAX_TZ_PARTS   300  /* STANDARD/DAYLIGHT parts of one VTIMEZONE */
#define MAX_TZ_PARTS_F 1000 /* ... of all VTIMEZONEs of a file */
#define MIN_TZ_YEAR    1600 /* earliest DTSTART of a VTIMEZONE part */

/* ---------------------------------------------------------------- lock */

static pthread_mutex_t libical_lock = PTHREAD_MUTEX_INITIALIZER;
static bool libical_ready;

void cal_libical_lock(void)
{
	pthread_mutex_lock(&libical_lock);
	if (!libical_ready) {
		/* Errors are values to us, never a reason to abort. */
		icalerror_set_errors_are_fatal(0);
		libical_ready = true;
	}
}

void cal_libical_unlock(void)
{
	pthread_mutex_unlock(&libical_lock);
}

/* ---------------------------------------------------------------- messages */

void cal_quote(char *dst, size_t n, const char *s, size_t len)
{
	size_t o = 0, max = 40;
	if (n == 0)
		return;
	for (size_t i = 0; i < len && o + 4 < n; i++) {
		if (i == max) {
			dst[o++] = '.';
			dst[o++] = '.';
			dst[o++] = '.';
			break;
		}
		unsigned char c = (unsigned char)s[i];
		dst[o++] = c >= 0x20 && c < 0x7f && c != '"' && c != '\\' ? (char)c : '?';
	}
	dst[o] = '\0';
}

void cal_warn(struct importer *im, const char *fmt, ...)
{
	im->r->nwarnings++;
	if (im->r->nwarnings == 1) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(im->r->warning, sizeof(im->r->warning), fmt, ap);
		va_end(ap);
	}
}

int cal_fail(struct importer *im, int rc, const char *fmt, ...)
{
	if (im->errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(im->err, im->errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* ---------------------------------------------------------------- slices */

static bool ieq(const char *s, size_t n, const char *lit)
{
	size_t m = strlen(lit);
	return n == m && strncasecmp(s, lit, n) == 0;
}

static bool istarts(const char *s, size_t n, const char *lit)
{
	size_t m = strlen(lit);
	return n >= m && strncasecmp(s, lit, m) == 0;
}

static bool is_name_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
}

/* ---------------------------------------------------------------- values */

/* n decimal digits at s, or -1. */
static int digits(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int cal_parse_dt(const char *s, size_t n, int *kind, int64_t *local)
{
	if (n < 8)
		return -1;
	int y = digits(s, 4), mo = digits(s + 4, 2), d = digits(s + 6, 2);
	if (y < 1 || mo < 1 || d < 1 || !tz_valid_date(y, mo, d))
		return -1;
	int64_t days = tz_days_from_civil(y, mo, d);
	/* "20131210Z" (seen from Google) is a date with a stray Z. */
	if (n == 8 || (n == 9 && (s[8] == 'Z' || s[8] == 'z'))) {
		*kind = TV_DATE;
		*local = days * CAL_DAY;
		return 0;
	}
	if ((n != 15 && n != 16) || (s[8] != 'T' && s[8] != 't'))
		return -1;
	int h = digits(s + 9, 2), mi = digits(s + 11, 2), se = digits(s + 13, 2);
	if (h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 60)
		return -1;
	if (n == 16 && s[15] != 'Z' && s[15] != 'z')
		return -1;
	*kind = n == 16 ? TV_UTC : TV_FLOAT;
	*local = days * CAL_DAY + h * 3600 + mi * 60 + se;
	return 0;
}

int cal_parse_dur(const char *s, size_t n, struct dur *out)
{
	size_t i = 0;
	int64_t sign = 1, days = 0, secs = 0;
	bool in_time = false, any = false;
	if (i < n && (s[i] == '+' || s[i] == '-'))
		sign = s[i++] == '-' ? -1 : 1;
	if (i >= n || (s[i] != 'P' && s[i] != 'p'))
		return -1;
	i++;
	while (i < n) {
		if (s[i] == 'T' || s[i] == 't') {
			if (in_time)
				return -1;
			in_time = true;
			i++;
			continue;
		}
		int64_t v = 0;
		size_t start = i;
		while (i < n && s[i] >= '0' && s[i] <= '9' && i - start < 9)
			v = v * 10 + (s[i++] - '0');
		if (i == start || i >= n)
			return -1;
		char u = s[i++];
		if (u >= 'a' && u <= 'z')
			u = (char)(u - 'a' + 'A');
		if (!in_time && u == 'W')
			days += 7 * v;
		else if (!in_time && u == 'D')
			days += v;
		else if (in_time && u == 'H')
			secs += 3600 * v;
		else if (in_time && u == 'M')
			secs += 60 * v;
		else if (in_time && u == 'S')
			secs += v;
		else
			return -1;
		any = true;
	}
	if (!any)
		return -1;
	out->days = sign * days;
	out->secs = sign * secs;
	return 0;
}

/* ---------------------------------------------------------------- content lines */

/* One parsed content line: NAME *(;PARAM=VALUE) : VALUE. Slices point into
 * the logical line, which ends in a NUL after the value. */
struct prop {
	const char *name;
	size_t namelen;
	const char *tzid; /* TZID parameter, unquoted; NULL if none */
	size_t tzidlen;
	const char *vtype; /* VALUE parameter */
	size_t vtypelen;
	const char *range; /* RANGE parameter */
	size_t rangelen;
	const char *fbtype; /* FBTYPE parameter */
	size_t fbtypelen;
	bool bad_params; /* the parameters could not be read */
	const char *val; /* the value, trailing blanks removed */
	size_t vallen;
};

/* 0, or -1 when s is not a content line at all (no name, no ':'). */
static int parse_prop(const char *s, size_t n, struct prop *p)
{
	memset(p, 0, sizeof(*p));
	size_t i = 0;
	while (i < n && is_name_char(s[i]))
		i++;
	if (i == 0 || i >= n || (s[i] != ';' && s[i] != ':'))
		return -1;
	p->name = s;
	p->namelen = i;
	while (i < n && s[i] == ';') {
		size_t ns = ++i;
		while (i < n && is_name_char(s[i]))
			i++;
		size_t nl = i - ns;
		if (nl == 0 || i >= n || s[i] != '=') {
			p->bad_params = true;
			break;
		}
		i++;
		const char *first = NULL;
		size_t firstlen = 0;
		for (bool more = true; more;) {
			const char *vs;
			size_t vl;
			if (i < n && s[i] == '"') {
				const char *q = memchr(s + i + 1, '"', n - i - 1);
				if (!q) {
					p->bad_params = true;
					break;
				}
				vs = s + i + 1;
				vl = (size_t)(q - vs);
				i = (size_t)(q - s) + 1;
			} else {
				vs = s + i;
				while (i < n && s[i] != ';' && s[i] != ':' && s[i] != ',' && s[i] != '"')
					i++;
				vl = (size_t)(s + i - vs);
			}
			if (!first) {
				first = vs;
				firstlen = vl;
			}
			more = i < n && s[i] == ',';
			if (more)
				i++;
		}
		if (p->bad_params)
			break;
		if (i >= n || (s[i] != ';' && s[i] != ':')) {
			p->bad_params = true;
			break;
		}
		const char *pn = s + ns;
		if (ieq(pn, nl, "TZID")) {
			p->tzid = first;
			p->tzidlen = firstlen;
		} else if (ieq(pn, nl, "VALUE")) {
			p->vtype = first;
			p->vtypelen = firstlen;
		} else if (ieq(pn, nl, "RANGE")) {
			p->range = first;
			p->rangelen = firstlen;
		} else if (ieq(pn, nl, "FBTYPE")) {
			p->fbtype = first;
			p->fbtypelen = firstlen;
		}
	}
	if (p->bad_params) {
		/* Find the value anyway, for the error message. */
		const char *c = memchr(s + p->namelen, ':', n - p->namelen);
		i = c ? (size_t)(c - s) : n;
	}
	if (i < n && s[i] == ':')
		i++;
	p->val = s + i;
	p->vallen = n - i;
	while (p->vallen > 0 && (p->val[p->vallen - 1] == ' ' || p->val[p->vallen - 1] == '\t'))
		p->vallen--;
	return 0;
}

/* "line 12: bad DTSTART \"2024-13-01\"" */
static int bad_value(struct importer *im, int line, const struct prop *p)
{
	char name[MAX_NAME + 1], val[48];
	cal_quote(name, sizeof(name), p->name, p->namelen);
	cal_quote(val, sizeof(val), p->val, p->vallen);
	return cal_fail(im, ERR_MALFORMED, "line %d: bad %s \"%s\"", line, name, val);
}

/* ---------------------------------------------------------------- zones map */

static uint64_t hash_bytes(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

/* The calendar's entry for a TZID, made on first sight. */
struct zone *cal_intern_zone(struct importer *im, const char *s, size_t n, int line)
{
	struct calstate *c = &im->cal;
	if (c->zcount * 10 >= c->zcap * 7) {
		size_t cap = c->zcap ? c->zcap * 2 : 16;
		struct zone **t = arena_zalloc(im->a, cap * sizeof(*t));
		for (size_t i = 0; i < c->zcap; i++) {
			struct zone *z = c->zmap[i];
			if (!z)
				continue;
			size_t k = hash_bytes(z->tzid, strlen(z->tzid)) & (cap - 1);
			while (t[k])
				k = (k + 1) & (cap - 1);
			t[k] = z;
		}
		c->zmap = t;
		c->zcap = cap;
	}
	size_t k = hash_bytes(s, n) & (c->zcap - 1);
	for (; c->zmap[k]; k = (k + 1) & (c->zcap - 1)) {
		struct zone *z = c->zmap[k];
		if (strlen(z->tzid) == n && memcmp(z->tzid, s, n) == 0)
			return z;
	}
	struct zone *z = arena_zalloc(im->a, sizeof(*z));
	z->tzid = arena_strndup(im->a, s, n);
	z->cal = c->cals;
	z->line = line;
	c->zmap[k] = z;
	c->zcount++;
	return z;
}

/* ---------------------------------------------------------------- typed values */

/* A DATE or DATE-TIME value with the property's TZID. */
static int read_tval(struct importer *im, const struct prop *p, const char *s, size_t n, int line,
                     struct tval *out)
{
	if (cal_parse_dt(s, n, &out->kind, &out->local) != 0)
		return -1;
	out->zone = NULL;
	/* A TZID on a DATE or a UTC value means nothing (RFC 5545 3.2.19). */
	if (out->kind == TV_FLOAT && p->tzid && p->tzidlen > 0) {
		out->kind = TV_ZONED;
		out->zone = cal_intern_zone(im, p->tzid, p->tzidlen, line);
	}
	return 0;
}

static int read_single(struct importer *im, const struct prop *p, int line, struct tval *out)
{
	if (p->bad_params || read_tval(im, p, p->val, p->vallen, line, out) != 0)
		return bad_value(im, line, p);
	return 0;
}

/* RDATE, EXDATE and FREEBUSY: comma-separated values, each a DATE,
 * DATE-TIME or (periods allowed) PERIOD, appended to *list in order. */
static int read_list(struct importer *im, const struct prop *p, int line, bool periods, struct tlist **list)
{
	if (p->bad_params || p->vallen == 0)
		return bad_value(im, line, p);
	struct tlist *head = NULL, **tail = &head;
	const char *s = p->val, *end = p->val + p->vallen;
	while (s <= end) {
		const char *c = memchr(s, ',', (size_t)(end - s));
		const char *e = c ? c : end;
		struct tlist *t = arena_zalloc(im->a, sizeof(*t));
		t->line = line;
		const char *slash = memchr(s, '/', (size_t)(e - s));
		if (slash && periods) {
			if (read_tval(im, p, s, (size_t)(slash - s), line, &t->v) != 0 ||
			    t->v.kind == TV_DATE)
				return bad_value(im, line, p);
			const char *q = slash + 1;
			size_t ql = (size_t)(e - q);
			if (ql > 0 && (q[0] == 'P' || q[0] == 'p' || q[0] == '+' || q[0] == '-')) {
				if (cal_parse_dur(q, ql, &t->pdur) != 0)
					return bad_value(im, line, p);
				t->pkind = PERIOD_DUR;
			} else {
				if (read_tval(im, p, q, ql, line, &t->pend) != 0 || t->pend.kind == TV_DATE)
					return bad_value(im, line, p);
				t->pkind = PERIOD_END;
			}
		} else if (read_tval(im, p, s, (size_t)(e - s), line, &t->v) != 0) {
			return bad_value(im, line, p);
		}
		*tail = t;
		tail = &t->next;
		if (!c)
			break;
		s = c + 1;
	}
	*tail = *list; /* this property's values before the earlier ones: order does not matter */
	*list = head;
	return 0;
}

/* RRULE: UNTIL is taken out and kept as our own value; the rest must be a
 * rule libical reads. */
static int read_rrule(struct importer *im, const struct prop *p, int line, struct rrule **list)
{
	if (p->bad_params || p->vallen == 0)
		return bad_value(im, line, p);
	struct rrule *rr = arena_zalloc(im->a, sizeof(*rr));
	rr->line = line;
	char *text = arena_alloc(im->a, p->vallen + 1);
	size_t tl = 0;
	const char *s = p->val, *end = p->val + p->vallen;
	while (s < end) {
		const char *c = memchr(s, ';', (size_t)(end - s));
		const char *e = c ? c : end;
		size_t n = (size_t)(e - s);
		if (istarts(s, n, "UNTIL=")) {
			if (rr->has_until ||
			    cal_parse_dt(s + 6, n - 6, &rr->until.kind, &rr->until.local) != 0)
				return bad_value(im, line, p);
			rr->has_until = true;
		} else if (n > 0) {
			if (istarts(s, n, "COUNT="))
				rr->has_count = true;
			/* A non-Gregorian rule (Apple writes them for lunar
			 * birthdays): not expanded, and not given to libical,
			 * which leaks RSCALE's name. */
			if (istarts(s, n, "RSCALE=")) {
				cal_warn(
				    im,
				    "line %d: RRULE with RSCALE (another calendar system) is not supported; "
				    "only DTSTART and RDATE are used",
				    line);
				return 0;
			}
			if (tl > 0)
				text[tl++] = ';';
			memcpy(text + tl, s, n);
			tl += n;
		}
		s = e + (c ? 1 : 0);
	}
	text[tl] = '\0';
	struct icalrecurrencetype rt = icalrecurrencetype_from_string(text);
	icalerror_clear_errno();
	if (rt.freq == ICAL_NO_RECURRENCE)
		return bad_value(im, line, p);
	rr->text = text;
	rr->freq = rt.freq;
	rr->next = *list;
	*list = rr;
	return 0;
}

/* ---------------------------------------------------------------- components */

enum kind {
	K_VCALENDAR,
	K_VEVENT,
	K_VTIMEZONE,
	K_TZPART, /* STANDARD or DAYLIGHT inside a VTIMEZONE */
	K_VFREEBUSY,
	K_OTHER, /* anything we skip, with all it contains */
};

struct frame {
	int kind;         /* enum kind */
	int line;         /* of its BEGIN */
	const char *name; /* as written (arena), for END and messages */
	size_t namelen;
};

/* The VTIMEZONE being read. */
struct vtz {
	int line;        /* BEGIN:VTIMEZONE */
	char *tzid;      /* its TZID (arena), NULL until seen */
	int parts;       /* STANDARD/DAYLIGHT parts */
	const char *bad; /* why it cannot be used, NULL while fine */
	bool part_start; /* the part being read has a DTSTART */
	bool part_to;    /* ... a TZOFFSETTO */
	bool part_from;  /* ... a TZOFFSETFROM */
	bool part_rule;  /* ... an RRULE */
	int part_year;   /* ... its DTSTART's year */
	size_t cost;     /* libical's work to expand it, in steps */
	struct buf text; /* its lines for libical */
};

struct scanner {
	struct frame stack[MAX_DEPTH];
	int depth;
	bool seen_vcal;  /* a BEGIN:VCALENDAR was read */
	bool warned_out; /* "text outside VCALENDAR" said once */
	int tz_parts;    /* STANDARD/DAYLIGHT parts in the file so far */
	struct event *ev;
	struct vtz vtz;
};

/* [+-]HHMM[SS] with hours under 24. */
static bool valid_offset(const char *s, size_t n)
{
	if ((n != 5 && n != 7) || (s[0] != '+' && s[0] != '-'))
		return false;
	int h = digits(s + 1, 2), m = digits(s + 3, 2), sec = n == 7 ? digits(s + 5, 2) : 0;
	return h >= 0 && h < 24 && m >= 0 && m < 60 && sec >= 0 && sec < 60;
}

/* A VTIMEZONE rule as real zones write them: yearly, on one day of one
 * month (or a few month days, "the Sunday on or after the 8th"). Anything
 * else could make libical's zone expansion run for minutes. */
static bool valid_tz_rule(const char *s, size_t n)
{
	char text[256];
	if (n == 0 || n >= sizeof(text))
		return false;
	memcpy(text, s, n);
	text[n] = '\0';
	for (size_t i = 0; i + 6 <= n; i++)
		if (strncasecmp(text + i, "RSCALE", 6) == 0)
			return false;
	struct icalrecurrencetype rt = icalrecurrencetype_from_string(text);
	icalerror_clear_errno();
	if (rt.freq != ICAL_YEARLY_RECURRENCE)
		return false;
	if (rt.by_second[0] != ICAL_RECURRENCE_ARRAY_MAX || rt.by_minute[0] != ICAL_RECURRENCE_ARRAY_MAX ||
	    rt.by_hour[0] != ICAL_RECURRENCE_ARRAY_MAX || rt.by_year_day[0] != ICAL_RECURRENCE_ARRAY_MAX ||
	    rt.by_week_no[0] != ICAL_RECURRENCE_ARRAY_MAX || rt.by_set_pos[0] != ICAL_RECURRENCE_ARRAY_MAX)
		return false;
	if (rt.by_day[0] != ICAL_RECURRENCE_ARRAY_MAX && rt.by_day[1] != ICAL_RECURRENCE_ARRAY_MAX)
		return false;
	if (rt.by_month[0] != ICAL_RECURRENCE_ARRAY_MAX && rt.by_month[1] != ICAL_RECURRENCE_ARRAY_MAX)
		return false;
	int md = 0;
	while (md < ICAL_BY_MONTHDAY_SIZE && rt.by_month_day[md] != ICAL_RECURRENCE_ARRAY_MAX)
		md++;
	return md <= 7;
}

static void vtz_bad(struct vtz *z, const char *why)
{
	if (!z->bad)
		z->bad = why;
}

/* A property inside a VTIMEZONE or one of its parts. */
static void vtz_prop(struct importer *im, struct scanner *sc, const struct prop *p, const char *line,
                     size_t len, bool part)
{
	struct vtz *z = &sc->vtz;
	if (!part) {
		if (ieq(p->name, p->namelen, "TZID") && !z->tzid) {
			if (p->vallen == 0)
				vtz_bad(z, "an empty TZID");
			z->tzid = arena_strndup(im->a, p->val, p->vallen);
			buf_append(&z->text, line, len);
			buf_putc(&z->text, '\n');
		}
		return;
	}
	bool keep = true;
	if (ieq(p->name, p->namelen, "DTSTART")) {
		int kind;
		int64_t local;
		if (p->bad_params || cal_parse_dt(p->val, p->vallen, &kind, &local) != 0 || kind == TV_DATE)
			vtz_bad(z, "a bad DTSTART");
		else if (local < tz_days_from_civil(MIN_TZ_YEAR, 1, 1) * CAL_DAY)
			vtz_bad(z, "a DTSTART before 1600");
		else {
			int y, m, d;
			tz_civil_from_days(local / CAL_DAY - (local % CAL_DAY < 0), &y, &m, &d);
			z->part_year = y;
		}
		z->part_start = true;
	} else if (ieq(p->name, p->namelen, "TZOFFSETTO") || ieq(p->name, p->namelen, "TZOFFSETFROM")) {
		if (!valid_offset(p->val, p->vallen))
			vtz_bad(z, "a bad UTC offset");
		if (p->namelen == 10)
			z->part_to = true;
		else
			z->part_from = true;
	} else if (ieq(p->name, p->namelen, "RRULE")) {
		if (p->bad_params || !valid_tz_rule(p->val, p->vallen))
			vtz_bad(z, "an unusual RRULE");
		z->part_rule = true;
	} else if (ieq(p->name, p->namelen, "RDATE")) {
		const char *s = p->val, *end = p->val + p->vallen;
		while (s <= end && !z->bad) {
			const char *c = memchr(s, ',', (size_t)(end - s));
			const char *e = c ? c : end;
			const char *slash = memchr(s, '/', (size_t)(e - s));
			int kind;
			int64_t local;
			if (cal_parse_dt(s, (size_t)((slash ? slash : e) - s), &kind, &local) != 0)
				vtz_bad(z, "a bad RDATE");
			z->cost++;
			if (!c)
				break;
			s = c + 1;
		}
	} else {
		keep = false; /* TZNAME, COMMENT, X-…: libical does not need them */
	}
	if (keep) {
		buf_append(&z->text, line, len);
		buf_putc(&z->text, '\n');
	}
}

/* A usable VTIMEZONE goes to the calendar's text for libical, and its
 * expansion is charged to the step budget: libical walks each yearly rule
 * from its DTSTART to a few years past the window, once per zone used. */
static int vtz_end(struct importer *im, struct scanner *sc)
{
	struct vtz *z = &sc->vtz;
	if (!z->tzid)
		return 0; /* nothing can refer to it */
	char q[48];
	cal_quote(q, sizeof(q), z->tzid, strlen(z->tzid));
	if (z->parts == 0)
		vtz_bad(z, "no STANDARD or DAYLIGHT part");
	if (z->text.err)
		vtz_bad(z, "too much text");
	struct zone *e = cal_intern_zone(im, z->tzid, strlen(z->tzid), z->line);
	if (z->bad) {
		if (!e->has_vtz)
			e->vtz_bad = true;
		cal_warn(im, "line %d: time zone \"%s\" has %s; it is read by its name instead", z->line, q,
		         z->bad);
		return 0;
	}
	if (e->has_vtz)
		return 0; /* the first VTIMEZONE of a TZID wins */
	e->has_vtz = true;
	e->vtz_bad = false;
	buf_append(&im->cal.vtz, z->text.data, z->text.len);
	return cal_charge(im, z->cost);
}

static struct event *event_new(struct importer *im, int line)
{
	struct calstate *c = &im->cal;
	struct event *ev = arena_zalloc(im->a, sizeof(*ev));
	ev->line = line;
	if (c->nevents == c->capevents) {
		c->capevents = c->capevents ? c->capevents * 2 : 64;
		c->events = xrealloc(c->events, c->capevents * sizeof(*c->events));
	}
	c->events[c->nevents++] = ev;
	return ev;
}

static int event_prop(struct importer *im, struct event *ev, const struct prop *p, int line)
{
	const char *n = p->name;
	size_t nl = p->namelen;
	bool *has = NULL;
	struct tval *v = NULL;
	if (ieq(n, nl, "DTSTART")) {
		has = &ev->has_start;
		v = &ev->start;
	} else if (ieq(n, nl, "DTEND")) {
		has = &ev->has_end;
		v = &ev->end;
	} else if (ieq(n, nl, "RECURRENCE-ID")) {
		has = &ev->has_rid;
		v = &ev->rid;
	}
	if (has) {
		if (*has) {
			char q[MAX_NAME + 1];
			cal_quote(q, sizeof(q), n, nl);
			cal_warn(im, "line %d: a second %s in one event is ignored", line, q);
			return 0;
		}
		int rc = read_single(im, p, line, v);
		if (rc)
			return rc;
		*has = true;
		if (v == &ev->start)
			ev->start_line = line;
		else if (v == &ev->end)
			ev->end_line = line;
		else
			ev->rid_future = p->range && ieq(p->range, p->rangelen, "THISANDFUTURE");
	} else if (ieq(n, nl, "DURATION")) {
		if (ev->has_dur)
			return 0;
		if (p->bad_params || cal_parse_dur(p->val, p->vallen, &ev->dur) != 0)
			return bad_value(im, line, p);
		ev->has_dur = true;
		ev->dur_line = line;
	} else if (ieq(n, nl, "RRULE")) {
		return read_rrule(im, p, line, &ev->rrules);
	} else if (ieq(n, nl, "RDATE")) {
		return read_list(im, p, line, true, &ev->rdates);
	} else if (ieq(n, nl, "EXDATE")) {
		return read_list(im, p, line, false, &ev->exdates);
	} else if (ieq(n, nl, "UID")) {
		if (!ev->uid)
			ev->uid = arena_strndup(im->a, p->val, p->vallen);
	} else if (ieq(n, nl, "STATUS")) {
		ev->cancelled = ieq(p->val, p->vallen, "CANCELLED");
	} else if (ieq(n, nl, "TRANSP")) {
		ev->transparent = ieq(p->val, p->vallen, "TRANSPARENT");
	} else if (ieq(n, nl, "SEQUENCE")) {
		int64_t seq = 0;
		for (size_t i = 0; i < p->vallen && i < 9 && p->val[i] >= '0' && p->val[i] <= '9'; i++)
			seq = seq * 10 + (p->val[i] - '0');
		ev->seq = (int)seq;
	}
	return 0;
}

/* FREEBUSY;FBTYPE=BUSY:period,period inside a VFREEBUSY. */
static int freebusy_prop(struct importer *im, const struct prop *p, int line)
{
	if (!ieq(p->name, p->namelen, "FREEBUSY"))
		return 0;
	if (p->fbtype && !ieq(p->fbtype, p->fbtypelen, "BUSY") &&
	    !ieq(p->fbtype, p->fbtypelen, "BUSY-UNAVAILABLE") &&
	    !ieq(p->fbtype, p->fbtypelen, "BUSY-TENTATIVE"))
		return 0; /* FREE, or an x-name we cannot judge */
	struct tlist *list = NULL;
	int rc = read_list(im, p, line, true, &list);
	if (rc)
		return rc;
	for (struct tlist *t = list; t; t = t->next) {
		if (t->pkind == PERIOD_NONE)
			return bad_value(im, line, p);
		rc = cal_add_period(im, t);
		if (rc)
			return rc;
	}
	return 0;
}

static int begin(struct importer *im, struct scanner *sc, const struct prop *p, int line)
{
	if (p->vallen == 0 || p->vallen > MAX_NAME)
		return bad_value(im, line, p);
	for (size_t i = 0; i < p->vallen; i++)
		if (!is_name_char(p->val[i]))
			return bad_value(im, line, p);
	if (sc->depth == MAX_DEPTH)
		return cal_fail(im, ERR_MALFORMED, "line %d: components nested more than %d deep", line,
		                MAX_DEPTH);
	int parent = sc->depth ? sc->stack[sc->depth - 1].kind : -1;
	const char *v = p->val;
	size_t vl = p->vallen;
	int kind = K_OTHER;
	if (parent < 0) {
		if (!ieq(v, vl, "VCALENDAR")) {
			if (!sc->seen_vcal)
				return cal_fail(
				    im, ERR_MALFORMED,
				    "not an iCalendar file (it does not start with BEGIN:VCALENDAR)");
			char q[MAX_NAME + 1];
			cal_quote(q, sizeof(q), v, vl);
			return cal_fail(im, ERR_MALFORMED, "line %d: BEGIN:%s outside a VCALENDAR", line, q);
		}
		kind = K_VCALENDAR;
		sc->seen_vcal = true;
		cal_calendar_begin(im);
	} else if (parent == K_VCALENDAR) {
		if (ieq(v, vl, "VEVENT")) {
			kind = K_VEVENT;
			sc->ev = event_new(im, line);
		} else if (ieq(v, vl, "VTIMEZONE")) {
			kind = K_VTIMEZONE;
			struct vtz *z = &sc->vtz;
			z->line = line;
			z->tzid = NULL;
			z->parts = 0;
			z->bad = NULL;
			z->cost = 0;
			buf_reset(&z->text);
			buf_puts(&z->text, "BEGIN:VTIMEZONE\n");
		} else if (ieq(v, vl, "VFREEBUSY")) {
			kind = K_VFREEBUSY;
		}
	} else if (parent == K_VTIMEZONE && (ieq(v, vl, "STANDARD") || ieq(v, vl, "DAYLIGHT"))) {
		kind = K_TZPART;
		struct vtz *z = &sc->vtz;
		z->parts++;
		sc->tz_parts++;
		if (z->parts > MAX_TZ_PARTS || sc->tz_parts > MAX_TZ_PARTS_F)
			vtz_bad(z, "too many STANDARD/DAYLIGHT parts");
		z->part_start = z->part_to = z->part_from = z->part_rule = false;
		z->part_year = MIN_TZ_YEAR;
		buf_printf(&z->text, "BEGIN:%s\n", ieq(v, vl, "STANDARD") ? "STANDARD" : "DAYLIGHT");
	}
	struct frame *f = &sc->stack[sc->depth++];
	f->kind = kind;
	f->line = line;
	f->name = arena_strndup(im->a, v, vl);
	f->namelen = vl;
	return 0;
}

static int end(struct importer *im, struct scanner *sc, const struct prop *p, int line)
{
	char q[MAX_NAME + 1];
	cal_quote(q, sizeof(q), p->val, p->vallen);
	if (sc->depth == 0)
		return cal_fail(im, ERR_MALFORMED, "line %d: END:%s without a BEGIN", line, q);
	struct frame *f = &sc->stack[sc->depth - 1];
	if (!ieq(p->val, p->vallen, f->name)) {
		char o[MAX_NAME + 1];
		cal_quote(o, sizeof(o), f->name, f->namelen);
		return cal_fail(im, ERR_MALFORMED, "line %d: END:%s does not match BEGIN:%s on line %d", line,
		                q, o, f->line);
	}
	int rc = 0;
	switch (f->kind) {
	case K_VCALENDAR: cal_calendar_end(im); break;
	case K_VEVENT: {
		struct event *ev = sc->ev;
		if (!ev->has_start)
			return cal_fail(im, ERR_MALFORMED, "line %d: an event without DTSTART", ev->line);
		im->r->nevents++;
		if (ev->cancelled)
			im->r->ncancelled++;
		else if (ev->transparent)
			im->r->nskipped_transparent++;
		sc->ev = NULL;
		break;
	}
	case K_VTIMEZONE:
		buf_puts(&sc->vtz.text, "END:VTIMEZONE\n");
		rc = vtz_end(im, sc);
		break;
	case K_TZPART: {
		struct vtz *z = &sc->vtz;
		if (!z->part_start || !z->part_to || !z->part_from)
			vtz_bad(z, "a part without DTSTART, TZOFFSETFROM or TZOFFSETTO");
		if (z->part_rule && z->part_year < im->clamp_year + 6)
			z->cost += (size_t)(im->clamp_year + 6 - z->part_year);
		buf_printf(&z->text, "END:%s\n",
		           ieq(f->name, f->namelen, "STANDARD") ? "STANDARD" : "DAYLIGHT");
		break;
	}
	default: break;
	}
	sc->depth--;
	return rc;
}

/* One logical line. */
static int content_line(struct importer *im, struct scanner *sc, const char *s, size_t n, int line)
{
	struct prop p;
	if (parse_prop(s, n, &p) != 0) {
		if (!sc->seen_vcal)
			return cal_fail(im, ERR_MALFORMED,
			                "not an iCalendar file (it does not start with BEGIN:VCALENDAR)");
		cal_warn(im, "line %d: not an iCalendar content line; ignored", line);
		return 0;
	}
	if (ieq(p.name, p.namelen, "BEGIN"))
		return begin(im, sc, &p, line);
	if (ieq(p.name, p.namelen, "END"))
		return end(im, sc, &p, line);
	if (sc->depth == 0) {
		if (!sc->seen_vcal)
			return cal_fail(im, ERR_MALFORMED,
			                "not an iCalendar file (it does not start with BEGIN:VCALENDAR)");
		if (!sc->warned_out)
			cal_warn(im, "line %d: text after END:VCALENDAR ignored", line);
		sc->warned_out = true;
		return 0;
	}
	switch (sc->stack[sc->depth - 1].kind) {
	case K_VEVENT: return event_prop(im, sc->ev, &p, line);
	case K_VTIMEZONE: vtz_prop(im, sc, &p, s, n, false); return 0;
	case K_TZPART: vtz_prop(im, sc, &p, s, n, true); return 0;
	case K_VFREEBUSY: return freebusy_prop(im, &p, line);
	default: return 0;
	}
}

/* Physical lines → logical lines → content_line. */
static int scan(struct importer *im, const char *d, size_t n)
{
	struct scanner sc;
	memset(&sc, 0, sizeof(sc));
	buf_init(&sc.vtz.text, NULL, n + 64);
	struct buf l;
	buf_init(&l, NULL, n + 1);
	int rc = 0, lineno = 0, lline = 0;
	bool have = false;
	size_t pos = 0;
	while (pos < n) {
		size_t e = pos;
		while (e < n && d[e] != '\n' && d[e] != '\r')
			e++;
		const char *p = d + pos;
		size_t plen = e - pos;
		pos = e + (e + 1 < n && d[e] == '\r' && d[e + 1] == '\n' ? 2 : 1);
		lineno++;
		if (plen > 0 && (p[0] == ' ' || p[0] == '\t')) {
			if (have)
				buf_append(&l, p + 1, plen - 1);
			continue; /* after a blank line there is nothing to continue */
		}
		if (have) {
			rc = content_line(im, &sc, buf_cstr(&l), l.len, lline);
			if (rc)
				goto out;
		}
		have = plen > 0;
		buf_reset(&l);
		buf_append(&l, p, plen);
		lline = lineno;
	}
	if (have) {
		rc = content_line(im, &sc, buf_cstr(&l), l.len, lline);
		if (rc)
			goto out;
	}
	if (sc.depth > 0) {
		struct frame *f = &sc.stack[sc.depth - 1];
		char q[MAX_NAME + 1];
		cal_quote(q, sizeof(q), f->name, f->namelen);
		rc = cal_fail(im, ERR_MALFORMED, "truncated: BEGIN:%s on line %d never ends", q, f->line);
		goto out;
	}
	if (!sc.seen_vcal)
		rc = cal_fail(im, ERR_MALFORMED, "not an iCalendar file (it has no BEGIN:VCALENDAR)");
out:
	buf_release(&l);
	buf_release(&sc.vtz.text);
	return rc;
}

/* ---------------------------------------------------------------- entry points */

static int cmp_busy(const void *a, const void *b)
{
	const struct cal_busy *x = a, *y = b;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	if (x->end != y->end)
		return x->end < y->end ? -1 : 1;
	return 0;
}

size_t cal_busy_merge(struct cal_busy *b, size_t n)
{
	if (n == 0)
		return 0;
	qsort(b, n, sizeof(*b), cmp_busy);
	size_t o = 0;
	for (size_t i = 1; i < n; i++) {
		if (b[i].start <= b[o].end) {
			if (b[i].end > b[o].end)
				b[o].end = b[i].end;
		} else {
			b[++o] = b[i];
		}
	}
	return o + 1;
}

int cal_import(struct arena *a, const char *data, size_t len, const struct cal_import_opts *o,
               struct cal_import_result *r, char *err, size_t errlen)
{
	struct importer im;
	memset(&im, 0, sizeof(im));
	memset(r, 0, sizeof(*r));
	if (errlen > 0)
		err[0] = '\0';
	im.a = a;
	im.o = o;
	im.r = r;
	im.err = err;
	im.errlen = errlen;

	if (!o->zone || o->from < 0 || o->from >= o->to || o->to > CAL_MAX_INSTANT || o->max_bytes == 0 ||
	    o->max_instances == 0)
		return cal_fail(&im, ERR_INVALID, "bad import options");
	int rc = tz_get(o->zone, &im.clin);
	if (rc)
		return cal_fail(&im, rc == ERR_IO ? ERR_IO : ERR_INVALID, "unknown time zone");
	if (len > o->max_bytes)
		return cal_fail(&im, ERR_TOO_LARGE, "the file is %zu bytes; the limit is %zu", len,
		                o->max_bytes);
	if (len == 0 || !data)
		return cal_fail(&im, ERR_MALFORMED, "the file is empty");
	const char *nul = memchr(data, '\0', len);
	if (nul) {
		int line = 1;
		for (const char *p = data; p < nul; p++)
			line += *p == '\n';
		return cal_fail(&im, ERR_MALFORMED, "line %d: a NUL byte; not a text file", line);
	}
	if (len >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0) {
		data += 3;
		len -= 3;
	}
	size_t steps = o->max_instances > SIZE_MAX / CAL_IMPORT_STEPS_PER_INSTANCE
	                   ? SIZE_MAX
	                   : o->max_instances * CAL_IMPORT_STEPS_PER_INSTANCE;
	im.max_steps = steps < CAL_IMPORT_MIN_STEPS ? CAL_IMPORT_MIN_STEPS : steps;
	int y, m, d;
	tz_civil_from_days(o->to / CAL_DAY, &y, &m, &d);
	im.clamp_year = y + 1;
	buf_init(&im.cal.vtz, NULL, len + 64);

	cal_libical_lock();
	rc = scan(&im, data, len);
	if (rc == 0)
		rc = cal_expand(&im);
	r->nsteps = im.steps;
	cal_release(&im);
	icalmemory_free_ring();
	cal_libical_unlock();

	buf_release(&im.cal.vtz);
	if (rc == 0 && im.nout > 0) {
		qsort(im.out, im.nout, sizeof(*im.out), cmp_busy);
		r->busy = arena_alloc(a, im.nout * sizeof(*r->busy));
		memcpy(r->busy, im.out, im.nout * sizeof(*r->busy));
		r->nbusy = im.nout;
	}
	free(im.out);
	return rc;
}
