/* avail.c — see avail.h. */
#include "avail/avail.h"

enum { DAY_MIN = 1440 };

/* Sorts and merges busy intervals so ends are increasing (binary search). */
static int cmp_interval(const void *a, const void *b)
{
	const struct avail_interval *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

static size_t merge_busy(struct avail_interval *v, size_t n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_interval);
	size_t o = 0;
	for (size_t i = 1; i < n; i++) {
		if (v[i].start <= v[o].end) {
			if (v[i].end > v[o].end)
				v[o].end = v[i].end;
		} else {
			v[++o] = v[i];
		}
	}
	return o + 1;
}

/* True when [s, e) overlaps any merged busy interval. */
static bool is_busy(const struct avail_interval *busy, size_t n, int64_t s, int64_t e)
{
	/* First interval whose end is after s. */
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (busy[mid].end <= s)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && busy[lo].start < e;
}

/* The open minutes of one local date: weekly rules, plus extra hours,
 * minus time off. */
static void open_minutes(const struct avail_input *in, int64_t day, bool open[DAY_MIN])
{
	memset(open, 0, DAY_MIN);
	int wd = tz_iso_weekday(day);
	for (size_t i = 0; i < in->nrules; i++)
		if (in->rules[i].weekday == wd)
			for (int m = in->rules[i].start_min; m < in->rules[i].end_min && m < DAY_MIN; m++)
				if (m >= 0)
					open[m] = true;
	for (size_t i = 0; i < in->noverrides; i++) {
		const struct avail_override *o = &in->overrides[i];
		if (o->day != day || o->off)
			continue;
		for (int m = o->start_min; m < o->end_min && m < DAY_MIN; m++)
			if (m >= 0)
				open[m] = true;
	}
	for (size_t i = 0; i < in->noverrides; i++) {
		const struct avail_override *o = &in->overrides[i];
		if (o->day != day || !o->off)
			continue;
		if (o->start_min < 0) {
			memset(open, 0, DAY_MIN);
			continue;
		}
		for (int m = o->start_min; m < o->end_min && m < DAY_MIN; m++)
			if (m >= 0)
				open[m] = false;
	}
}

static bool all_open(const bool open[DAY_MIN], int from, int to)
{
	if (from < 0 || to > DAY_MIN || from >= to)
		return false;
	for (int m = from; m < to; m++)
		if (!open[m])
			return false;
	return true;
}

int64_t avail_local_day(const struct tz *z, int64_t t)
{
	int64_t local = tz_utc_to_local(z, t);
	return local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
}

/* The UTC instant of local minute m on day; false when that local time
 * does not exist (a spring-forward gap) — unless it is an exclusive end,
 * which touches no missing minute: 01:00-02:00 before a 02:00 jump is a
 * real hour (the caller's real-length check still applies). */
static bool local_instant(const struct tz *z, int64_t day, int m, int64_t *t, bool is_end)
{
	int kind = 0;
	*t = tz_local_to_utc(z, day * 86400 + (int64_t)m * 60, &kind);
	return kind != 1 || is_end;
}

static bool rest_and_caps_ok(const struct avail_input *in, int64_t first, int64_t last)
{
	const struct avail_offering *off = in->off;
	int64_t week = first - (tz_iso_weekday(first) - 1);
	int y, mo, d;
	tz_civil_from_days(first, &y, &mo, &d);
	int in_week = 0, in_month = 0;
	for (size_t i = 0; i < in->nbooked; i++) {
		const struct avail_booked *b = &in->booked[i];
		if (off->intensive && b->intensive && off->min_rest_days > 0) {
			/* Free days between them must be at least min_rest_days. */
			if (!(first > b->last_day + off->min_rest_days ||
			      last < b->first_day - off->min_rest_days))
				return false;
		}
		if (!b->same_offering)
			continue;
		if (b->first_day - (tz_iso_weekday(b->first_day) - 1) == week)
			in_week++;
		int by, bm, bd;
		tz_civil_from_days(b->first_day, &by, &bm, &bd);
		if (by == y && bm == mo)
			in_month++;
	}
	if (off->cap_per_week > 0 && in_week >= off->cap_per_week)
		return false;
	if (off->cap_per_month > 0 && in_month >= off->cap_per_month)
		return false;
	return true;
}

/* Appends a slot, growing the array in the arena. */
static void push(struct arena *a, struct avail_slot **v, size_t *n, size_t *cap, const struct avail_slot *s)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct avail_slot *nv = arena_alloc(a, nc * sizeof(*nv));
		if (*n)
			memcpy(nv, *v, *n * sizeof(*nv));
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = *s;
}

int avail_compute(const struct avail_input *in, int64_t from_day, int64_t to_day, struct arena *a,
                  struct avail_slot **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (to_day < from_day || to_day - from_day + 1 > AVAIL_MAX_WINDOW_DAYS)
		return ERR_INVALID;
	const struct avail_offering *off = in->off;
	if (in->fail_closed || off->days < 1 || off->days > AVAIL_MAX_DAYS)
		return 0;
	struct avail_interval *busy = arena_alloc(a, (in->nbusy ? in->nbusy : 1) * sizeof(*busy));
	if (in->nbusy)
		memcpy(busy, in->busy, in->nbusy * sizeof(*busy));
	size_t nbusy = merge_busy(busy, in->nbusy);

	int64_t earliest = in->now + (int64_t)off->min_notice_min * 60;
	int64_t today = avail_local_day(in->tz, in->now);
	int64_t last_start_day = today + off->horizon_days;
	if (from_day < today)
		from_day = today;
	if (to_day > last_start_day)
		to_day = last_start_day;
	int64_t bb = (int64_t)off->buffer_before_min * 60, ba = (int64_t)off->buffer_after_min * 60;
	size_t cap = 0;
	if (to_day < from_day)
		return 0;
	/* Each date's open minutes, computed once: an intensive's days are
	 * looked at by several candidate starts. */
	size_t ndays = (size_t)(to_day - from_day) + (size_t)off->days;
	bool(*opens)[DAY_MIN] = arena_alloc(a, ndays * sizeof(*opens));
	for (size_t i = 0; i < ndays; i++)
		open_minutes(in, from_day + (int64_t)i, opens[i]);

	for (int64_t day = from_day; day <= to_day; day++) {
		if (!(off->start_weekdays & (1 << (tz_iso_weekday(day) - 1))))
			continue;
		struct avail_slot s;
		memset(&s, 0, sizeof(s));
		if (off->intensive) {
			bool ok = true;
			for (int i = 0; ok && i < off->days; i++) {
				const bool *open = opens[day - from_day + i];
				int64_t bs = 0, be = 0;
				ok = all_open(open, off->day_start_min, off->day_end_min) &&
				     local_instant(in->tz, day + i, off->day_start_min, &bs, false) &&
				     local_instant(in->tz, day + i, off->day_end_min, &be, true) && be > bs &&
				     !is_busy(busy, nbusy, bs - bb, be + ba);
				s.blocks[i] = (struct avail_interval){bs, be};
			}
			if (!ok || s.blocks[0].start < earliest ||
			    !rest_and_caps_ok(in, day, day + off->days - 1))
				continue;
			s.nblocks = off->days;
			s.start = s.blocks[0].start;
			s.end = s.blocks[off->days - 1].end;
			push(a, out, n, &cap, &s);
			continue;
		}
		const bool *open = opens[day - from_day];
		bool caps_checked = false, caps_ok = true;
		int step = off->slot_interval_min > 0 ? off->slot_interval_min : 30;
		for (int m = 0; m + off->duration_min <= DAY_MIN; m += step) {
			if (!all_open(open, m, m + off->duration_min))
				continue;
			int64_t bs = 0, be = 0;
			if (!local_instant(in->tz, day, m, &bs, false) ||
			    !local_instant(in->tz, day, m + off->duration_min, &be, true))
				continue;
			/* Across a DST change inside the appointment the wall-clock
			 * span and the real duration differ: keep the real length. */
			if (be - bs != (int64_t)off->duration_min * 60)
				continue;
			if (bs < earliest || is_busy(busy, nbusy, bs - bb, be + ba))
				continue;
			if (!caps_checked) {
				caps_ok = rest_and_caps_ok(in, day, day);
				caps_checked = true;
			}
			if (!caps_ok)
				break;
			s.nblocks = 1;
			s.blocks[0] = (struct avail_interval){bs, be};
			s.start = bs;
			s.end = be;
			push(a, out, n, &cap, &s);
		}
	}
	return 0;
}
