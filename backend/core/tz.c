/*
 * tz.c — civil date arithmetic, a TZif (RFC 8536) reader with POSIX TZ
 * footer rules, and local ↔ UTC conversion.
 *
 * The parser trusts nothing in the file: every count is checked against the
 * bytes that are there before anything is read, every index against what it
 * indexes, and the footer is bounded. Debian ships "fat" files (transitions
 * stored until 2037) but the footer rule is what answers for later instants,
 * and for everything in a "slim" file.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/tz.h"
#include "core/log.h"

#define DAY 86400
/* Every instant or local value is clamped to ±T_LIMIT (about ±69,000
 * years): years then fit an int and no sum below can overflow. */
#define T_LIMIT ((int64_t)1 << 41)
/* RFC 8536 §3.2: utoff SHOULD be in [-89999, 93599] (−25 h + 1 s … 26 h − 1 s). */
#define UTOFF_MIN     (-89999)
#define UTOFF_MAX     93599
#define MAX_FILE      (1 << 20) /* real zone files are under 4 KiB */
#define MAX_FOOTER    255       /* real footers are under 64 bytes */
#define ABBR_MAX      15        /* longest POSIX abbreviation accepted in a footer */
#define NAME_MAX_LEN  255
#define DEFAULT_TZDIR "/usr/share/zoneinfo"

/* One local time type of the file. */
struct tz_type {
	int32_t off;   /* UTC offset, seconds east */
	uint32_t abbr; /* index into chars; NUL-terminated there (checked) */
};

/* A POSIX TZ rule date: when in a year a change happens. */
struct tz_rule_date {
	char kind;    /* 'J': day n 1..365 never counting Feb 29; 'D': day n 0..365 counting it; 'M' */
	int n;        /* day number for 'J' and 'D' */
	int m, w, d;  /* 'M': month 1..12, week 1..5 (5 = last), weekday 0..6 (0 = Sunday) */
	int32_t time; /* local time of the change, seconds after midnight (−167 h … 167 h) */
};

/* The footer rule (RFC 8536 §3.3): local time after the last transition. */
struct tz_rule {
	int32_t std_off;             /* standard offset, seconds east */
	int32_t dst_off;             /* daylight offset, seconds east (when has_dst) */
	bool has_dst;                /* false: std_off all the time */
	char std_abbr[ABBR_MAX + 1]; /* e.g. "EST", "+1030" */
	char dst_abbr[ABBR_MAX + 1]; /* e.g. "EDT" (when has_dst) */
	struct tz_rule_date start;   /* change to daylight time, in standard local time */
	struct tz_rule_date end;     /* change back, in daylight local time */
};

struct tz {
	char *name;            /* heap copy of the name it was loaded as */
	struct tz *next;       /* cache list link, guarded by cache_lock */
	size_t ntrans;         /* number of transitions */
	int64_t *trans;        /* transition instants, strictly ascending */
	uint8_t *trans_type;   /* type index (< ntypes) in force from trans[i] */
	size_t ntypes;         /* 1..256 */
	struct tz_type *types; /* types[0] also covers time before trans[0] */
	char *chars;           /* abbreviation strings, last byte NUL */
	bool has_rule;         /* a non-empty footer was parsed into rule */
	struct tz_rule rule;   /* applies after the last transition (or always if none) */
};

/* ------------------------------------------------------------ civil dates */

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static int64_t clamp_t(int64_t t)
{
	return t < -T_LIMIT ? -T_LIMIT : t > T_LIMIT ? T_LIMIT : t;
}

static bool is_leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* Howard Hinnant's days_from_civil, in 64-bit so no year overflows. */
int64_t tz_days_from_civil(int y, int m, int d)
{
	int64_t yy = (int64_t)y - (m <= 2);
	int64_t era = floor_div(yy, 400);
	int64_t yoe = yy - era * 400;                                          /* [0, 399] */
	int64_t doy = (153 * ((int64_t)m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* [0, 365] */
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;                   /* [0, 146096] */
	return era * 146097 + doe - 719468;
}

void tz_civil_from_days(int64_t days, int *y, int *m, int *d)
{
	int64_t z = days + 719468;
	int64_t era = floor_div(z, 146097);
	int64_t doe = z - era * 146097;                                      /* [0, 146096] */
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
	int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
	int64_t dd = doy - (153 * mp + 2) / 5 + 1;
	int64_t mm = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)(yoe + era * 400 + (mm <= 2));
	*m = (int)mm;
	*d = (int)dd;
}

int tz_iso_weekday(int64_t days)
{
	int64_t r = days % 7;
	if (r < 0)
		r += 7;
	return (int)((r + 3) % 7) + 1; /* 1970-01-01 was a Thursday */
}

int tz_days_in_month(int y, int m)
{
	static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (m < 1 || m > 12)
		return 0;
	return dim[m - 1] + (m == 2 && is_leap(y));
}

bool tz_valid_date(int y, int m, int d)
{
	return m >= 1 && m <= 12 && d >= 1 && d <= tz_days_in_month(y, m);
}

static int year_of(int64_t t)
{
	int y, m, d;
	tz_civil_from_days(floor_div(clamp_t(t), DAY), &y, &m, &d);
	return y;
}

/* ------------------------------------------------------------ footer rule */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* A bounded cursor over the footer bytes (not NUL-terminated). */
struct cur {
	const char *p;   /* next byte */
	const char *end; /* one past the last byte */
};

static bool cur_peek(const struct cur *c, char ch)
{
	return c->p < c->end && *c->p == ch;
}

/* 1..maxdigits decimal digits, value ≤ max. */
static bool parse_uint(struct cur *c, int maxdigits, int max, int *out)
{
	int v = 0, n = 0;
	while (c->p < c->end && is_digit(*c->p) && n < maxdigits) {
		v = v * 10 + (*c->p - '0');
		c->p++;
		n++;
	}
	if (n == 0 || v > max)
		return false;
	*out = v;
	return true;
}

/* [+-]hh[:mm[:ss]] with hh ≤ max_hours; seconds, signed as written. */
static bool parse_hms(struct cur *c, int max_hours, int32_t *out)
{
	int sign = 1, h, m = 0, s = 0;
	if (cur_peek(c, '+') || cur_peek(c, '-')) {
		sign = *c->p == '-' ? -1 : 1;
		c->p++;
	}
	if (!parse_uint(c, 3, max_hours, &h))
		return false;
	if (cur_peek(c, ':')) {
		c->p++;
		if (!parse_uint(c, 2, 59, &m))
			return false;
		if (cur_peek(c, ':')) {
			c->p++;
			if (!parse_uint(c, 2, 59, &s))
				return false;
		}
	}
	*out = sign * (h * 3600 + m * 60 + s);
	return true;
}

/* An abbreviation: 3..ABBR_MAX letters, or <...> of letters, digits, + and -. */
static bool parse_abbr(struct cur *c, char *out)
{
	const char *start;
	size_t n;
	if (cur_peek(c, '<')) {
		start = ++c->p;
		while (c->p < c->end && *c->p != '>') {
			char ch = *c->p;
			if (!is_alpha(ch) && !is_digit(ch) && ch != '+' && ch != '-')
				return false;
			c->p++;
		}
		if (c->p == c->end)
			return false;
		n = (size_t)(c->p - start);
		c->p++; /* '>' */
	} else {
		start = c->p;
		while (c->p < c->end && is_alpha(*c->p))
			c->p++;
		n = (size_t)(c->p - start);
	}
	if (n < 3 || n > ABBR_MAX)
		return false;
	memcpy(out, start, n);
	out[n] = '\0';
	return true;
}

/* Jn | n | Mm.w.d, then an optional /time (default 02:00). */
static bool parse_rule_date(struct cur *c, struct tz_rule_date *rd)
{
	if (cur_peek(c, 'J')) {
		c->p++;
		rd->kind = 'J';
		if (!parse_uint(c, 3, 365, &rd->n) || rd->n < 1)
			return false;
	} else if (cur_peek(c, 'M')) {
		c->p++;
		rd->kind = 'M';
		if (!parse_uint(c, 2, 12, &rd->m) || rd->m < 1 || !cur_peek(c, '.'))
			return false;
		c->p++;
		if (!parse_uint(c, 1, 5, &rd->w) || rd->w < 1 || !cur_peek(c, '.'))
			return false;
		c->p++;
		if (!parse_uint(c, 1, 6, &rd->d))
			return false;
	} else {
		rd->kind = 'D';
		if (!parse_uint(c, 3, 365, &rd->n))
			return false;
	}
	rd->time = 2 * 3600;
	if (cur_peek(c, '/')) {
		c->p++;
		/* RFC 8536 §3.3.1: transition hours may be signed, up to 167. */
		if (!parse_hms(c, 167, &rd->time))
			return false;
	}
	return true;
}

/* std offset [dst [offset] ,start[/time],end[/time]] (POSIX TZ with the
 * RFC 8536 extensions). A daylight name without a rule is refused: zic
 * never writes one and the POSIX default rule is implementation-defined. */
static bool parse_footer(const char *s, size_t len, struct tz_rule *r)
{
	struct cur c = {s, s + len};
	int32_t v;
	memset(r, 0, sizeof(*r));
	if (!parse_abbr(&c, r->std_abbr) || !parse_hms(&c, 24, &v))
		return false;
	r->std_off = -v; /* POSIX offsets are positive west */
	if (c.p == c.end)
		return true;
	if (!parse_abbr(&c, r->dst_abbr))
		return false;
	r->has_dst = true;
	r->dst_off = r->std_off + 3600;
	if (c.p < c.end && (is_digit(*c.p) || *c.p == '+' || *c.p == '-')) {
		if (!parse_hms(&c, 24, &v))
			return false;
		r->dst_off = -v;
	}
	if (!cur_peek(&c, ','))
		return false;
	c.p++;
	if (!parse_rule_date(&c, &r->start) || !cur_peek(&c, ','))
		return false;
	c.p++;
	if (!parse_rule_date(&c, &r->end))
		return false;
	return c.p == c.end;
}

/* Day number of a rule date in year y. */
static int64_t rule_day(const struct tz_rule_date *rd, int y)
{
	int64_t jan1 = tz_days_from_civil(y, 1, 1);
	if (rd->kind == 'J')
		return jan1 + rd->n - 1 + (is_leap(y) && rd->n >= 60);
	if (rd->kind == 'D')
		return jan1 + rd->n;
	int64_t first = tz_days_from_civil(y, rd->m, 1);
	int wd0 = tz_iso_weekday(first) % 7; /* 0 = Sunday */
	int64_t day = first + (rd->d - wd0 + 7) % 7 + (int64_t)(rd->w - 1) * 7;
	while (day >= first + tz_days_in_month(y, rd->m))
		day -= 7; /* week 5: the last such weekday */
	return day;
}

/* Instants of year y's change to daylight time and back. */
static void rule_year(const struct tz_rule *r, int y, int64_t *start, int64_t *end)
{
	*start = rule_day(&r->start, y) * DAY + r->start.time - r->std_off;
	*end = rule_day(&r->end, y) * DAY + r->end.time - r->dst_off;
}

/* Daylight time is [start_y, end_y) when a year's start comes first
 * (northern), else [start_y, end_{y+1}) (southern). Years around t's cover
 * every interval that can hold t, whatever the rule times. */
static bool rule_is_dst(const struct tz_rule *r, int64_t t)
{
	int y = year_of(t);
	for (int yy = y - 2; yy <= y + 1; yy++) {
		int64_t s, e;
		rule_year(r, yy, &s, &e);
		if (s > e) {
			int64_t s2;
			rule_year(r, yy + 1, &s2, &e);
		}
		if (s <= t && t < e)
			return true;
	}
	return false;
}

/* ------------------------------------------------------------ lookup */

/* The offset and abbreviation in force at instant t. */
static void lookup(const struct tz *z, int64_t t, int32_t *off, const char **abbr)
{
	const struct tz_type *ty;
	t = clamp_t(t);
	if (z->ntrans == 0 || t > z->trans[z->ntrans - 1]) {
		if (z->has_rule) {
			bool dst = z->rule.has_dst && rule_is_dst(&z->rule, t);
			*off = dst ? z->rule.dst_off : z->rule.std_off;
			*abbr = dst ? z->rule.dst_abbr : z->rule.std_abbr;
			return;
		}
		ty = &z->types[z->ntrans ? z->trans_type[z->ntrans - 1] : 0];
	} else if (t < z->trans[0]) {
		ty = &z->types[0]; /* RFC 8536 §3.2: type 0 before the first transition */
	} else {
		size_t lo = 0, hi = z->ntrans - 1; /* trans[lo] <= t; find the last such */
		while (lo < hi) {
			size_t mid = lo + (hi - lo + 1) / 2;
			if (z->trans[mid] <= t)
				lo = mid;
			else
				hi = mid - 1;
		}
		ty = &z->types[z->trans_type[lo]];
	}
	*off = ty->off;
	*abbr = z->chars + ty->abbr;
}

int32_t tz_offset_at(const struct tz *z, int64_t t)
{
	int32_t off;
	const char *abbr;
	lookup(z, t, &off, &abbr);
	return off;
}

const char *tz_abbrev_at(const struct tz *z, int64_t t)
{
	int32_t off;
	const char *abbr;
	lookup(z, t, &off, &abbr);
	return abbr;
}

const char *tz_name(const struct tz *z)
{
	return z->name;
}

int64_t tz_utc_to_local(const struct tz *z, int64_t t)
{
	t = clamp_t(t);
	return t + tz_offset_at(z, t);
}

static bool offset_changes_at(const struct tz *z, int64_t x)
{
	return tz_offset_at(z, x - 1) != tz_offset_at(z, x);
}

size_t tz_transitions(const struct tz *z, int64_t from, int64_t to, int64_t *out, size_t max)
{
	size_t n = 0;
	from = clamp_t(from);
	to = clamp_t(to);
	if (from >= to || max == 0)
		return 0;

	/* The table: first transition at or after from. */
	size_t lo = 0, hi = z->ntrans;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (z->trans[mid] < from)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < z->ntrans && z->trans[i] < to && n < max; i++) {
		int32_t prev = z->types[i ? z->trans_type[i - 1] : 0].off;
		if (z->types[z->trans_type[i]].off != prev)
			out[n++] = z->trans[i];
	}
	if (!z->has_rule || n == max)
		return n;

	/* The footer rule, strictly after the last transition. */
	int64_t floor_t = from; /* next emitted instant must be >= this */
	if (z->ntrans) {
		int64_t last = z->trans[z->ntrans - 1];
		if (last >= to)
			return n;
		if (last + 1 > floor_t)
			floor_t = last + 1;
		/* Where table and rule meet, the rule may disagree with the table. */
		if (floor_t == last + 1 && offset_changes_at(z, floor_t)) {
			out[n++] = floor_t;
			floor_t++;
		}
	}
	if (!z->rule.has_dst)
		return n;
	int y1 = year_of(to);
	for (int y = year_of(floor_t) - 1; y <= y1 + 1 && n < max; y++) {
		int64_t s, e;
		rule_year(&z->rule, y, &s, &e);
		int64_t c[2] = {s < e ? s : e, s < e ? e : s};
		for (int k = 0; k < 2 && n < max; k++) {
			if (c[k] >= floor_t && c[k] < to && offset_changes_at(z, c[k])) {
				out[n++] = c[k];
				floor_t = c[k] + 1;
			}
		}
	}
	return n;
}

int64_t tz_local_to_utc(const struct tz *z, int64_t local, int *kind)
{
	/* Any t with t + offset(t) == local lies within 26 h of local, so only
	 * the offsets in force in this window are candidates: the one at its
	 * start and the one after each change in it. */
	int64_t tr[16];
	local = clamp_t(local);
	int64_t from = local - 2 * DAY, to = local + 2 * DAY, cur = from;
	int64_t best = 0, gap = 0;
	bool found = false, twice = false, in_gap = false;
	int32_t o = tz_offset_at(z, from);
	for (;;) {
		size_t ntr = tz_transitions(z, cur, to, tr, ARRAY_LEN(tr));
		for (size_t i = 0; i <= ntr; i++) {
			int64_t t = local - o;
			if (tz_offset_at(z, t) == o) {
				if (!found || t < best) {
					twice = found;
					best = t;
				} else if (t != best) {
					twice = true;
				}
				found = true;
			}
			if (i == ntr)
				break;
			/* A forward change whose skipped hour holds local: keep the
			 * offset from before it (the first such change wins). */
			int32_t after = tz_offset_at(z, tr[i]);
			if (!in_gap && after > o && tr[i] + o <= local && local < tr[i] + after) {
				in_gap = true;
				gap = local - o;
			}
			o = after;
		}
		if (ntr < ARRAY_LEN(tr))
			break;
		cur = tr[ntr - 1] + 1; /* a pathological file: more changes than fit */
		o = tz_offset_at(z, cur);
	}
	if (kind)
		*kind = found ? (twice ? TZ_LOCAL_FOLD : TZ_LOCAL_NORMAL) : TZ_LOCAL_GAP;
	if (found)
		return best;
	return in_gap ? gap : local - tz_offset_at(z, from); /* no gap found: only in broken files */
}

/* ------------------------------------------------------------ RFC 3339 */

void tz_format_rfc3339(const struct tz *z, int64_t t, char *out, size_t outlen)
{
	if (!out || outlen == 0)
		return;
	t = clamp_t(t);
	int32_t offm = tz_offset_at(z, t) / 60; /* toward zero: LMT -4:56:02 → -04:56 */
	int64_t local = t + (int64_t)offm * 60;
	int64_t lo = tz_days_from_civil(0, 1, 1) * DAY, hi = tz_days_from_civil(10000, 1, 1) * DAY - 1;
	local = local < lo ? lo : local > hi ? hi : local;
	int64_t days = floor_div(local, DAY);
	int secs = (int)(local - days * DAY);
	int y, m, d;
	tz_civil_from_days(days, &y, &m, &d);

	char zone[16] = "Z";
	if (offm != 0) {
		int a = offm < 0 ? -offm : offm;
		snprintf(zone, sizeof(zone), "%c%02d:%02d", offm < 0 ? '-' : '+', (a / 60) % 100, a % 60);
	}
	int n = snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d%s", y, m, d, secs / 3600, secs / 60 % 60,
	                 secs % 60, zone);
	if (n < 0 || (size_t)n >= outlen)
		out[0] = '\0';
}

/* Exactly n digits at s (stops at the first non-digit, so never reads past
 * a NUL). */
static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!is_digit(s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

int tz_parse_rfc3339(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, se, oh = 0, om = 0, sign = 0;
	if (!s || !out)
		return ERR_INVALID;
	/* && evaluates left to right: each byte is read only after the ones
	 * before it were checked, so a short string stops at its NUL. */
	if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
	    s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &se))
		return ERR_INVALID;
	const char *p = s + 19;
	if (*p == '.') {
		p++;
		if (!is_digit(*p))
			return ERR_INVALID;
		while (is_digit(*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p == '-' ? -1 : 1;
		if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return ERR_INVALID;
		p += 6;
	} else {
		return ERR_INVALID;
	}
	if (*p != '\0' || y < 1970 || y > 9999 || !tz_valid_date(y, mo, d) || h > 23 || mi > 59 || se > 59)
		return ERR_INVALID;
	*out = tz_days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + se - sign * (oh * 3600 + om * 60);
	return 0;
}

int tz_parse_date(const char *s, int64_t *days)
{
	int y, m, d;
	if (!s || !days)
		return ERR_INVALID;
	if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &m) || s[7] != '-' ||
	    !digits(s + 8, 2, &d) || s[10] != '\0' || y < 1 || !tz_valid_date(y, m, d))
		return ERR_INVALID;
	*days = tz_days_from_civil(y, m, d);
	return 0;
}

/* ------------------------------------------------------------ TZif parser */

/* One TZif header (RFC 8536 §3.1). */
struct hdr {
	unsigned char version; /* 0, '2', '3', '4'... */
	uint64_t isutcnt;      /* UT/local indicators: 0 or typecnt */
	uint64_t isstdcnt;     /* standard/wall indicators: 0 or typecnt */
	uint64_t leapcnt;      /* leap-second records */
	uint64_t timecnt;      /* transitions */
	uint64_t typecnt;      /* local time types, 1..256 */
	uint64_t charcnt;      /* bytes of abbreviation strings, >= 1 */
};

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static int64_t be64(const unsigned char *p)
{
	uint64_t v = (uint64_t)be32(p) << 32 | be32(p + 4);
	int64_t s;
	memcpy(&s, &v, sizeof(s)); /* two's complement reinterpretation */
	return s;
}

static int read_header(const unsigned char *p, size_t avail, struct hdr *h)
{
	if (avail < 44 || memcmp(p, "TZif", 4) != 0)
		return ERR_INVALID;
	h->version = p[4];
	if (h->version != 0 && (h->version < '2' || h->version > '9'))
		return ERR_INVALID;
	h->isutcnt = be32(p + 20);
	h->isstdcnt = be32(p + 24);
	h->leapcnt = be32(p + 28);
	h->timecnt = be32(p + 32);
	h->typecnt = be32(p + 36);
	h->charcnt = be32(p + 40);
	if (h->typecnt == 0 || h->typecnt > 256 || h->charcnt == 0 ||
	    (h->isutcnt != 0 && h->isutcnt != h->typecnt) || (h->isstdcnt != 0 && h->isstdcnt != h->typecnt))
		return ERR_INVALID;
	return 0;
}

/* Bytes of the data block after h; counts are < 2^32, so no overflow. */
static uint64_t block_size(const struct hdr *h, uint64_t tsize)
{
	return h->timecnt * tsize + h->timecnt + h->typecnt * 6 + h->charcnt + h->leapcnt * (tsize + 4) +
	       h->isstdcnt + h->isutcnt;
}

/* Fills z's table from a data block of exactly block_size(h, tsize) bytes. */
static int parse_block(const unsigned char *p, const struct hdr *h, size_t tsize, struct tz *z)
{
	size_t nt = (size_t)h->timecnt, nty = (size_t)h->typecnt, nc = (size_t)h->charcnt;

	/* Unix time has no leap seconds; "right/" files count them in their
	 * transition times, which would skew every answer. */
	if (h->leapcnt != 0)
		return ERR_INVALID;

	z->ntrans = nt;
	z->trans = xmalloc(nt * sizeof(*z->trans));
	for (size_t i = 0; i < nt; i++) {
		z->trans[i] = tsize == 8 ? be64(p + i * 8) : (int32_t)be32(p + i * 4);
		if (i > 0 && z->trans[i] <= z->trans[i - 1])
			return ERR_INVALID; /* binary search needs strictly ascending */
	}
	p += nt * tsize;
	z->trans_type = xmalloc(nt ? nt : 1);
	for (size_t i = 0; i < nt; i++) {
		if (p[i] >= nty)
			return ERR_INVALID;
		z->trans_type[i] = p[i];
	}
	p += nt;
	z->ntypes = nty;
	z->types = xmalloc(nty * sizeof(*z->types));
	for (size_t i = 0; i < nty; i++, p += 6) {
		int32_t off = (int32_t)be32(p);
		if (off < UTOFF_MIN || off > UTOFF_MAX || p[4] > 1 || p[5] >= nc)
			return ERR_INVALID;
		z->types[i].off = off;
		z->types[i].abbr = p[5];
	}
	if (p[nc - 1] != '\0')
		return ERR_INVALID; /* so every abbreviation index ends in a NUL */
	z->chars = xmalloc(nc);
	memcpy(z->chars, p, nc);
	p += nc;
	for (size_t i = 0; i < h->isstdcnt + h->isutcnt; i++)
		if (p[i] > 1)
			return ERR_INVALID;
	return 0;
}

void tz_free(struct tz *z)
{
	if (!z)
		return;
	free(z->name);
	free(z->trans);
	free(z->trans_type);
	free(z->types);
	free(z->chars);
	free(z);
}

int tz_parse(const unsigned char *data, size_t len, const char *name, struct tz **out)
{
	int rc = ERR_INVALID;
	struct hdr h;
	struct tz *z = xcalloc(1, sizeof(*z));
	z->name = xstrdup(name ? name : "");
	*out = NULL;
	if (!data || read_header(data, len, &h) != 0)
		goto out;

	uint64_t pos = 44 + block_size(&h, 4);
	if (pos > len)
		goto out;
	if (h.version == 0) {
		/* Version 1: 32-bit times and no footer. */
		rc = parse_block(data + 44, &h, 4, z);
		goto out;
	}
	/* Version 2+: skip the v1 block; the second header and 64-bit block follow. */
	if (read_header(data + pos, len - (size_t)pos, &h) != 0 || h.version == 0)
		goto out;
	pos += 44;
	uint64_t size = block_size(&h, 8);
	if (size > len - pos || len - pos - size < 2)
		goto out; /* room for the block and at least "\n\n" */
	rc = parse_block(data + pos, &h, 8, z);
	if (rc != 0)
		goto out;
	pos += size;

	/* Footer: "\n" POSIX-TZ-string "\n"; an empty string means no rule. */
	rc = ERR_INVALID;
	if (data[pos] != '\n')
		goto out;
	pos++;
	size_t avail = len - (size_t)pos;
	const unsigned char *nl = memchr(data + pos, '\n', avail < MAX_FOOTER + 1 ? avail : MAX_FOOTER + 1);
	if (!nl)
		goto out;
	size_t flen = (size_t)(nl - (data + pos));
	if (flen > 0) {
		if (!parse_footer((const char *)data + pos, flen, &z->rule))
			goto out;
		z->has_rule = true;
	}
	rc = 0;
out:
	if (rc != 0)
		tz_free(z);
	else
		*out = z;
	return rc;
}

/* ------------------------------------------------------------ loading */

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tz *cache_head; /* guarded by cache_lock */

static bool valid_name(const char *name)
{
	size_t n = strnlen(name, NAME_MAX_LEN + 1);
	if (n == 0 || n > NAME_MAX_LEN || name[0] == '/' || name[n - 1] == '/')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		if (c == '/' && name[i + 1] == '/')
			return false;
		if (!is_alpha(c) && !is_digit(c) && c != '/' && c != '_' && c != '+' && c != '-')
			return false;
	}
	return true;
}

static int read_file(const char *path, unsigned char **data, size_t *len)
{
	/* O_NONBLOCK: a FIFO planted in TZDIR must not hang the open. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return (errno == ENOENT || errno == ENOTDIR || errno == ENAMETOOLONG || errno == ELOOP)
		           ? ERR_NOT_FOUND
		           : ERR_IO;
	int rc = ERR_IO;
	unsigned char *buf = NULL;
	struct stat st;
	if (fstat(fd, &st) != 0)
		goto out;
	if (!S_ISREG(st.st_mode)) {
		rc = ERR_NOT_FOUND; /* a directory such as "America" */
		goto out;
	}
	if (st.st_size > MAX_FILE) {
		rc = ERR_INVALID;
		goto out;
	}
	size_t want = (size_t)st.st_size, got = 0;
	buf = xmalloc(want ? want : 1);
	while (got < want) {
		ssize_t r = read(fd, buf + got, want - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			goto out;
		if (r == 0)
			break; /* shrank under us: parse what is there */
		got += (size_t)r;
	}
	*data = buf;
	*len = got;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	close(fd);
	return rc;
}

static int load(const char *name, struct tz **out)
{
	const char *dir = getenv("TZDIR");
	char path[4096];
	unsigned char *data = NULL;
	size_t len = 0;
	if (!dir || !*dir)
		dir = DEFAULT_TZDIR;
	int n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path))
		return ERR_NOT_FOUND;
	int rc = read_file(path, &data, &len);
	if (rc == 0)
		rc = tz_parse(data, len, name, out);
	free(data);
	if (rc == ERR_INVALID || rc == ERR_IO)
		log_warn("tz: cannot use zone file for %s: %s", name, err_code(rc));
	return rc;
}

int tz_get(const char *name, const struct tz **out)
{
	*out = NULL;
	if (!name || !valid_name(name))
		return ERR_NOT_FOUND;
	int rc = 0;
	struct tz *z;
	pthread_mutex_lock(&cache_lock);
	for (z = cache_head; z; z = z->next)
		if (strcmp(z->name, name) == 0)
			break;
	if (!z) {
		/* Loaded under the lock: rare, fast, and no zone is read twice. */
		rc = load(name, &z);
		if (rc == 0) {
			z->next = cache_head;
			cache_head = z;
		}
	}
	pthread_mutex_unlock(&cache_lock);
	if (rc == 0)
		*out = z;
	return rc;
}

void tz_cache_clear(void)
{
	pthread_mutex_lock(&cache_lock);
	struct tz *z = cache_head;
	cache_head = NULL;
	pthread_mutex_unlock(&cache_lock);
	while (z) {
		struct tz *next = z->next;
		tz_free(z);
		z = next;
	}
}
