/* avail_load.c — reads the availability engine's inputs from PostgreSQL
 * (one round trip per clinician) and runs it for an offering. */
#include "avail/avail_load.h"

#include "core/buf.h"
#include "db/db.h"

/* One row per input: kind, a, b, c. Days are local dates as days since the
 * epoch; instants Unix seconds. $1 clinician, $2 offering, $3/$4 first and
 * last local day of interest, $5 now, $6 the clinician's zone, $7 a
 * booking to leave out (0 for none), $8 the only times busy rows can
 * matter (avail_candidate_ranges), $9 whether rest days or caps apply. */
static const char SQL_INPUTS[] =
    "SELECT 'r', weekday::bigint, (extract(epoch FROM starts) / 60)::bigint, (extract(epoch FROM ends) / "
    "60)::bigint"
    "  FROM availability_rule WHERE clinician_id = $1 AND (offering_id IS NULL OR offering_id = $2)"
    " UNION ALL"
    " SELECT CASE kind WHEN 'off' THEN 'o' ELSE 'x' END, (day - date '1970-01-01')::bigint,"
    "  coalesce((extract(epoch FROM starts) / 60)::bigint, -1), coalesce((extract(epoch FROM ends) / "
    "60)::bigint, -1)"
    "  FROM availability_override WHERE clinician_id = $1 AND (offering_id IS NULL OR offering_id = $2)"
    "  AND day BETWEEN date '1970-01-01' + $3::int AND date '1970-01-01' + $4::int"
    " UNION ALL"
    " SELECT 'b', date_part('epoch', lower(blocked))::bigint, date_part('epoch', upper(blocked))::bigint, 0"
    "  FROM booking_block WHERE clinician_id = $1 AND active AND booking_id <> $7"
    "  AND blocked && $8::tstzmultirange"
    " UNION ALL"
    " SELECT 'e', date_part('epoch', lower(during))::bigint, date_part('epoch', upper(during))::bigint, 0"
    "  FROM busy_interval WHERE clinician_id = $1 AND during && $8::tstzmultirange"
    " UNION ALL"
    " SELECT CASE WHEN o.kind = 'intensive' THEN 'i' ELSE 'n' END,"
    "  ((b.starts_at AT TIME ZONE $6)::date - date '1970-01-01')::bigint,"
    "  ((b.ends_at AT TIME ZONE $6)::date - date '1970-01-01')::bigint,"
    "  (b.offering_id = $2)::int"
    "  FROM booking b JOIN offering o ON o.id = b.offering_id"
    "  WHERE $9 AND b.clinician_id = $1 AND tandem_status_blocks(b.status) AND b.id <> $7"
    "  AND (o.kind = 'intensive' OR b.offering_id = $2)"
    "  AND b.starts_at < to_timestamp(($4::bigint + 62) * 86400) AND b.ends_at > to_timestamp(($3::bigint - "
    "62) * 86400)"
    " UNION ALL"
    " SELECT 'f', count(*), 0, 0 FROM calendar_source WHERE clinician_id = $1 AND kind = 'url'"
    "  AND coalesce(last_success_at, '-infinity') < to_timestamp($5::bigint) - freshness_minutes * interval "
    "'1 minute'";

void avail_offering_rules(const struct offering *o, struct avail_offering *r)
{
	memset(r, 0, sizeof(*r));
	r->intensive = !strcmp(o->kind, "intensive");
	r->days = o->days;
	r->duration_min = o->duration_minutes;
	r->day_start_min = o->day_start_min;
	r->day_end_min = o->day_end_min;
	r->buffer_before_min = o->buffer_before_minutes;
	r->buffer_after_min = o->buffer_after_minutes;
	r->min_notice_min = o->min_notice_minutes;
	r->horizon_days = o->horizon_days;
	r->slot_interval_min = o->slot_interval_minutes;
	r->start_weekdays = o->start_weekdays;
	r->min_rest_days = o->min_rest_days;
	r->cap_per_week = o->cap_per_week;
	r->cap_per_month = o->cap_per_month;
}

static char *num(struct arena *a, int64_t v)
{
	return arena_printf(a, "%lld", (long long)v);
}

/* A tstzmultirange literal of the only times where busy time can stop a
 * slot: for intensives, each day's block widened by the buffers; for
 * others, the whole window. Fewer rows read, same answer. */
char *avail_candidate_ranges(struct arena *a, const struct tz *z, const struct avail_offering *r,
                             int64_t from_day, int64_t to_day, int64_t single_start)
{
	struct buf b;
	buf_init(&b, a, 1 << 20);
	buf_putc(&b, '{');
	char s[40], e[40];
	if (!r->intensive && single_start) {
		/* Checking one start: only the time around it matters. */
		tz_format_rfc3339(z, single_start - (int64_t)r->buffer_before_min * 60 - 3600, s, sizeof(s));
		tz_format_rfc3339(z,
		                  single_start + ((int64_t)r->duration_min + r->buffer_after_min) * 60 + 3600,
		                  e, sizeof(e));
		buf_printf(&b, "[%s,%s)", s, e);
	} else if (!r->intensive) {
		tz_format_rfc3339(z, tz_local_to_utc(z, (from_day - 1) * 86400, NULL), s, sizeof(s));
		tz_format_rfc3339(z, tz_local_to_utc(z, (to_day + 2) * 86400, NULL), e, sizeof(e));
		buf_printf(&b, "[%s,%s)", s, e);
	} else {
		for (int64_t d = from_day; d <= to_day + r->days - 1; d++) {
			int64_t bs = tz_local_to_utc(z, d * 86400 + (int64_t)r->day_start_min * 60, NULL) -
			             (int64_t)r->buffer_before_min * 60 - 3600;
			int64_t be = tz_local_to_utc(z, d * 86400 + (int64_t)r->day_end_min * 60, NULL) +
			             (int64_t)r->buffer_after_min * 60 + 3600;
			tz_format_rfc3339(z, bs, s, sizeof(s));
			tz_format_rfc3339(z, be, e, sizeof(e));
			buf_printf(&b, "%s[%s,%s)", d > from_day ? "," : "", s, e);
		}
	}
	buf_putc(&b, '}');
	return b.err ? NULL : (char *)buf_cstr(&b);
}

int avail_load(struct ctx *c, const struct offering *o, int64_t clinician_id, const struct tz *z,
               const struct avail_offering *rules, int64_t from_day, int64_t to_day, int64_t exclude_booking,
               int64_t single_start, struct avail_input *in)
{
	memset(in, 0, sizeof(*in));
	in->tz = z;
	in->now = c->now;
	in->off = rules;
	int64_t margin = rules->min_rest_days + AVAIL_MAX_DAYS + 1;
	PGresult *r;
	int rc =
	    db_query(c->db, c->a, &r, SQL_INPUTS, num(c->a, clinician_id), num(c->a, o->id),
	             num(c->a, from_day - margin), num(c->a, to_day + margin), num(c->a, c->now), tz_name(z),
	             num(c->a, exclude_booking),
	             avail_candidate_ranges(c->a, z, rules, from_day, to_day, single_start),
	             rules->intensive || rules->min_rest_days || rules->cap_per_week || rules->cap_per_month
	                 ? "true"
	                 : "false");
	if (rc)
		return rc;
	size_t n = (size_t)PQntuples(r);
	struct avail_rule *rv = arena_alloc(c->a, (n + 1) * sizeof(*rv));
	struct avail_override *ov = arena_alloc(c->a, (n + 1) * sizeof(*ov));
	struct avail_interval *bv = arena_alloc(c->a, (n + 1) * sizeof(*bv));
	struct avail_booked *kv = arena_alloc(c->a, (n + 1) * sizeof(*kv));
	for (size_t i = 0; i < n; i++) {
		char k = db_val(r, (int)i, 0)[0];
		int64_t a = db_ll(r, (int)i, 1), b = db_ll(r, (int)i, 2), d = db_ll(r, (int)i, 3);
		switch (k) {
		case 'r': rv[in->nrules++] = (struct avail_rule){(int)a, (int)b, (int)d}; break;
		case 'o':
		case 'x': ov[in->noverrides++] = (struct avail_override){a, k == 'o', (int)b, (int)d}; break;
		case 'b':
		case 'e': bv[in->nbusy++] = (struct avail_interval){a, b}; break;
		case 'i':
		case 'n': kv[in->nbooked++] = (struct avail_booked){a, b, k == 'i', d != 0}; break;
		case 'f': in->fail_closed = a > 0; break;
		}
	}
	in->rules = rv;
	in->overrides = ov;
	in->busy = bv;
	in->booked = kv;
	return 0;
}

int avail_clinicians(struct ctx *c, const struct offering *o, struct avail_clinician **out, size_t *n)
{
	/* o->clinicians is "id zone;id zone", read with the offering. */
	size_t cap = 1;
	for (const char *p = o->clinicians; *p; p++)
		if (*p == ';')
			cap++;
	*out = arena_alloc(c->a, (cap + 1) * sizeof(**out));
	*n = 0;
	const char *p = o->clinicians;
	while (*p) {
		char *end;
		long long id = strtoll(p, &end, 10);
		if (*end != ' ')
			return ERR_INTERNAL;
		const char *zs = end + 1, *ze = strchr(zs, ';');
		size_t zl = ze ? (size_t)(ze - zs) : strlen(zs);
		char *zone = arena_strndup(c->a, zs, zl);
		if (tz_get(zone, &(*out)[*n].tz) != 0)
			return ERR_INTERNAL; /* the database checks zones; a missing zone file is ours */
		(*out)[*n].id = id;
		(*n)++;
		p = ze ? ze + 1 : zs + zl;
	}
	return 0;
}

static int cmp_slot(const void *a, const void *b)
{
	const struct avail_slot *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

int avail_for_offering(struct ctx *c, const struct offering *o, int64_t from_day, int64_t to_day,
                       struct avail_slot **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	struct avail_clinician *cl;
	size_t ncl;
	int rc = avail_clinicians(c, o, &cl, &ncl);
	if (rc)
		return rc;
	struct avail_offering rules;
	avail_offering_rules(o, &rules);
	struct avail_slot *all = NULL;
	size_t nall = 0;
	for (size_t i = 0; i < ncl; i++) {
		struct avail_input in;
		rc = avail_load(c, o, cl[i].id, cl[i].tz, &rules, from_day, to_day, 0, 0, &in);
		if (rc)
			return rc;
		struct avail_slot *s;
		size_t ns;
		rc = avail_compute(&in, from_day, to_day, c->a, &s, &ns);
		if (rc)
			return rc;
		if (!nall) {
			all = s;
			nall = ns;
			continue;
		}
		struct avail_slot *m = arena_alloc(c->a, (nall + ns + 1) * sizeof(*m));
		memcpy(m, all, nall * sizeof(*m));
		memcpy(m + nall, s, ns * sizeof(*m));
		all = m;
		nall += ns;
	}
	if (ncl > 1 && nall) {
		/* Several clinicians: one slot per start. */
		qsort(all, nall, sizeof(*all), cmp_slot);
		size_t o2 = 0;
		for (size_t i = 1; i < nall; i++)
			if (all[i].start != all[o2].start)
				all[++o2] = all[i];
		nall = o2 + 1;
	}
	*out = all;
	*n = nall;
	return 0;
}

int avail_check_start(struct ctx *c, const struct offering *o, int64_t start, int64_t exclude_booking,
                      int64_t *clinician_id, struct avail_slot *slot)
{
	struct avail_clinician *cl;
	size_t ncl;
	int rc = avail_clinicians(c, o, &cl, &ncl);
	if (rc)
		return rc;
	struct avail_offering rules;
	avail_offering_rules(o, &rules);
	for (size_t i = 0; i < ncl; i++) {
		int64_t day = avail_local_day(cl[i].tz, start);
		struct avail_input in;
		rc = avail_load(c, o, cl[i].id, cl[i].tz, &rules, day, day, exclude_booking, start, &in);
		if (rc)
			return rc;
		struct avail_slot *s;
		size_t ns;
		rc = avail_compute(&in, day, day, c->a, &s, &ns);
		if (rc)
			return rc;
		for (size_t k = 0; k < ns; k++)
			if (s[k].start == start) {
				*clinician_id = cl[i].id;
				*slot = s[k];
				return 0;
			}
	}
	return ERR_SLOT_UNAVAILABLE;
}
