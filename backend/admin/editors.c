/* editors.c — see editors.h. */
#include "admin/editors.h"

#include <ctype.h>

#include "admin/audit.h"
#include "core/buf.h"
#include "db/db.h"

/* ---- pure parsers ------------------------------------------------------------ */

static bool two_digits(const char *s, int *v)
{
	if (!isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]))
		return false;
	*v = (s[0] - '0') * 10 + (s[1] - '0');
	return true;
}

int editors_parse_clock(const char *s, bool allow_24, int *min)
{
	int h, m, sec = 0;
	if (!s)
		return ERR_INVALID;
	size_t n = strlen(s);
	if ((n != 5 && n != 8) || !two_digits(s, &h) || s[2] != ':' || !two_digits(s + 3, &m))
		return ERR_INVALID;
	if (n == 8 && (s[5] != ':' || !two_digits(s + 6, &sec) || sec != 0))
		return ERR_INVALID;
	if (m > 59 || h > 24 || (h == 24 && (m || !allow_24)))
		return ERR_INVALID;
	*min = h * 60 + m;
	return 0;
}

void editors_format_clock(int min, char *out, size_t outlen)
{
	if (outlen < 6)
		return;
	if (min < 0 || min > 1440)
		min = 0;
	int h = min / 60, m = min % 60;
	out[0] = (char)('0' + h / 10);
	out[1] = (char)('0' + h % 10);
	out[2] = ':';
	out[3] = (char)('0' + m / 10);
	out[4] = (char)('0' + m % 10);
	out[5] = '\0';
}

int editors_parse_money(const char *s, int64_t *cents)
{
	if (!s)
		return ERR_INVALID;
	while (*s == ' ')
		s++;
	static const char *const symbols[] = {"$", "€", "£"};
	for (size_t i = 0; i < ARRAY_LEN(symbols); i++)
		if (!strncmp(s, symbols[i], strlen(symbols[i]))) {
			s += strlen(symbols[i]);
			break;
		}
	int64_t units = 0;
	int digits = 0, frac = 0, fdigits = 0;
	bool seen_point = false;
	for (const char *p = s; *p; p++) {
		if (*p == ' ' && !p[strspn(p, " ")])
			break; /* trailing spaces */
		if (*p == ',' && !seen_point && digits)
			continue;
		if (*p == '.' && !seen_point && digits) {
			seen_point = true;
			continue;
		}
		if (!isdigit((unsigned char)*p))
			return ERR_INVALID;
		if (seen_point) {
			if (++fdigits > 2)
				return ERR_INVALID;
			frac = frac * 10 + (*p - '0');
		} else {
			if (++digits > 7)
				return ERR_INVALID;
			units = units * 10 + (*p - '0');
		}
	}
	if (!digits || (seen_point && !fdigits))
		return ERR_INVALID;
	if (fdigits == 1)
		frac *= 10;
	int64_t v = units * 100 + frac;
	if (v > 100000000)
		return ERR_INVALID;
	*cents = v;
	return 0;
}

int editors_parse_int(const char *s, long lo, long hi, long *out)
{
	if (!s || !*s)
		return ERR_INVALID;
	const char *p = s + (*s == '-');
	size_t n = strlen(p);
	if (n == 0 || n > 9 || strspn(p, "0123456789") != n)
		return ERR_INVALID;
	long v = strtol(s, NULL, 10);
	if (v < lo || v > hi)
		return ERR_INVALID;
	*out = v;
	return 0;
}

bool editors_ranges_overlap(const struct editors_range *v, size_t n, size_t *a, size_t *b)
{
	for (size_t j = 1; j < n; j++)
		for (size_t i = 0; i < j; i++)
			if (v[i].weekday == v[j].weekday && v[i].offering_id == v[j].offering_id &&
			    v[i].start_min < v[j].end_min && v[j].start_min < v[i].end_min) {
				*a = i;
				*b = j;
				return true;
			}
	return false;
}

/* ---- helpers ------------------------------------------------------------------ */

static char *num(struct arena *a, int64_t v)
{
	return arena_printf(a, "%lld", (long long)v);
}

static char *clock_text(struct arena *a, int min)
{
	char t[8];
	editors_format_clock(min, t, sizeof(t));
	return arena_strdup(a, t);
}

/* A transaction body: fn(c, arg) with c->db the transaction's connection. */
struct tx {
	struct ctx *c;
	int (*fn)(struct ctx *c, void *arg);
	void *arg;
};

static int tx_run(struct db *db, void *arg)
{
	struct tx *t = arg;
	struct ctx c = *t->c;
	c.db = db;
	return t->fn(&c, t->arg);
}

static int in_tx(struct ctx *c, int (*fn)(struct ctx *c, void *arg), void *arg)
{
	struct tx t = {c, fn, arg};
	return db_tx(c->db, "READ COMMITTED", tx_run, &t);
}

/* ---- availability --------------------------------------------------------------- */

static const char SQL_CLINICIANS[] = "SELECT id, name, timezone FROM clinician"
                                     " WHERE active AND practice_id = (SELECT min(id) FROM practice)"
                                     " ORDER BY name, id";

int editors_clinicians(struct ctx *c, json_t **rows)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_CLINICIANS);
	if (rc)
		return rc;
	*rows = json_array();
	for (int i = 0; i < PQntuples(r); i++)
		json_array_append_new(*rows, json_pack("{s:I, s:s, s:s}", "id", (json_int_t)db_ll(r, i, 0),
		                                       "name", db_val(r, i, 1), "timezone", db_val(r, i, 2)));
	return 0;
}

static const char SQL_WEEKLY[] =
    "SELECT weekday, (extract(epoch FROM starts) / 60)::int, (extract(epoch FROM ends) / 60)::int,"
    " coalesce(offering_id, 0) FROM availability_rule WHERE clinician_id = $1 ORDER BY weekday, starts, id";

int editors_weekly_get(struct ctx *c, int64_t clinician_id, json_t **rows)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_WEEKLY, num(c->a, clinician_id));
	if (rc)
		return rc;
	*rows = json_array();
	for (int i = 0; i < PQntuples(r); i++)
		json_array_append_new(*rows,
		                      json_pack("{s:I, s:s, s:s, s:I}", "weekday", (json_int_t)db_ll(r, i, 0),
		                                "start", clock_text(c->a, (int)db_ll(r, i, 1)), "end",
		                                clock_text(c->a, (int)db_ll(r, i, 2)), "offering_id",
		                                (json_int_t)db_ll(r, i, 3)));
	return 0;
}

/* Saves of one clinician's week queue behind each other: the last one wins
 * whole, never a mix of two. */
static const char SQL_WEEKLY_LOCK[] = "SELECT 1 FROM clinician WHERE id = $1 FOR UPDATE";
static const char SQL_WEEKLY_DELETE[] = "DELETE FROM availability_rule WHERE clinician_id = $1";
static const char SQL_WEEKLY_INSERT[] =
    "INSERT INTO availability_rule (clinician_id, weekday, starts, ends, offering_id)"
    " SELECT $1, w, s, e, nullif(o, 0) FROM unnest($2::smallint[], $3::time[], $4::time[], $5::bigint[])"
    " AS t(w, s, e, o)";

struct weekly_args {
	int64_t clinician_id;
	const struct editors_range *v;
	size_t n;
};

static int weekly_tx(struct ctx *c, void *arg)
{
	struct weekly_args *w = arg;
	const char *cid = num(c->a, w->clinician_id);
	int rc = db_query(c->db, c->a, NULL, SQL_WEEKLY_LOCK, cid);
	if (!rc)
		rc = db_query(c->db, c->a, NULL, SQL_WEEKLY_DELETE, cid);
	if (rc)
		return rc;
	if (w->n) {
		struct buf wd, st, en, of;
		buf_init(&wd, c->a, 1 << 16);
		buf_init(&st, c->a, 1 << 16);
		buf_init(&en, c->a, 1 << 16);
		buf_init(&of, c->a, 1 << 16);
		for (size_t i = 0; i < w->n; i++) {
			const char *sep = i ? "," : "{";
			buf_printf(&wd, "%s%d", sep, w->v[i].weekday);
			buf_printf(&st, "%s%s", sep, clock_text(c->a, w->v[i].start_min));
			buf_printf(&en, "%s%s", sep, clock_text(c->a, w->v[i].end_min));
			buf_printf(&of, "%s%lld", sep, (long long)w->v[i].offering_id);
		}
		buf_putc(&wd, '}');
		buf_putc(&st, '}');
		buf_putc(&en, '}');
		buf_putc(&of, '}');
		if (wd.err || st.err || en.err || of.err)
			return ERR_TOO_LARGE;
		rc = db_query(c->db, c->a, NULL, SQL_WEEKLY_INSERT, cid, buf_cstr(&wd), buf_cstr(&st),
		              buf_cstr(&en), buf_cstr(&of));
		if (rc)
			return rc;
	}
	int64_t minutes = 0;
	for (size_t i = 0; i < w->n; i++)
		minutes += w->v[i].end_min - w->v[i].start_min;
	return audit_write(c, "availability.weekly", arena_printf(c->a, "clinician:%s", cid),
	                   json_pack("{s:I, s:I}", "ranges", (json_int_t)w->n, "hours_per_week",
	                             (json_int_t)(minutes / 60)));
}

int editors_weekly_set(struct ctx *c, int64_t clinician_id, const struct editors_range *v, size_t n)
{
	struct weekly_args w = {clinician_id, v, n};
	return in_tx(c, weekly_tx, &w);
}

static const char SQL_EXC_INSERT[] =
    "INSERT INTO availability_exception (clinician_id, kind, first_day, last_day, starts, ends, note)"
    " VALUES ($1, $2, date '1970-01-01' + $3::int, date '1970-01-01' + $4::int, $5::time, $6::time, $7)"
    " RETURNING id";
/* The engine's rows: time off for every date of closed/time_off; for
 * different hours, the hours as extra time and the rest of the day off. */
static const char SQL_EXC_OFF_DAYS[] =
    "INSERT INTO availability_override (clinician_id, day, kind, exception_id)"
    " SELECT $1, d::date, 'off', $2 FROM generate_series(date '1970-01-01' + $3::int,"
    "  date '1970-01-01' + $4::int, interval '1 day') AS d";
static const char SQL_EXC_HOURS[] =
    "INSERT INTO availability_override (clinician_id, day, kind, starts, ends, exception_id)"
    " SELECT $1, date '1970-01-01' + $3::int, k, s, e, $2 FROM (VALUES ('extra', $4::time, $5::time),"
    "  ('off', time '00:00', $4::time), ('off', $5::time, time '24:00')) AS v(k, s, e) WHERE e > s";

struct exc_args {
	int64_t clinician_id;
	const struct editors_exception *e;
	int64_t id;
};

static int exc_add_tx(struct ctx *c, void *arg)
{
	struct exc_args *x = arg;
	const struct editors_exception *e = x->e;
	bool hours = !strcmp(e->kind, "hours");
	const char *cid = num(c->a, x->clinician_id);
	const char *s = hours ? clock_text(c->a, e->start_min) : NULL;
	const char *en = hours ? clock_text(c->a, e->end_min) : NULL;
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_EXC_INSERT, cid, e->kind, num(c->a, e->first_day),
	                  num(c->a, e->last_day), s, en, e->note);
	if (rc == ERR_CONFLICT && !db_failed_on(c->db, "availability_exception_one_hours"))
		rc = ERR_INTERNAL;
	if (rc)
		return rc;
	x->id = db_ll(r, 0, 0);
	const char *eid = num(c->a, x->id);
	if (hours)
		rc = db_query(c->db, c->a, NULL, SQL_EXC_HOURS, cid, eid, num(c->a, e->first_day), s, en);
	else
		rc = db_query(c->db, c->a, NULL, SQL_EXC_OFF_DAYS, cid, eid, num(c->a, e->first_day),
		              num(c->a, e->last_day));
	if (rc)
		return rc;
	return audit_write(c, "availability.exception.add",
	                   arena_printf(c->a, "availability_exception:%lld", (long long)x->id),
	                   json_pack("{s:s, s:s, s:I}", "clinician", arena_printf(c->a, "clinician:%s", cid),
	                             "kind", e->kind, "days", (json_int_t)(e->last_day - e->first_day + 1)));
}

int editors_exception_add(struct ctx *c, int64_t clinician_id, const struct editors_exception *e, int64_t *id)
{
	struct exc_args x = {clinician_id, e, 0};
	int rc = in_tx(c, exc_add_tx, &x);
	if (!rc)
		*id = x.id;
	return rc;
}

static const char SQL_EXC_LIST[] =
    "SELECT id, kind, first_day - date '1970-01-01', last_day - date '1970-01-01',"
    " coalesce(to_char(starts, 'HH24:MI'), ''), coalesce(to_char(ends, 'HH24:MI'), ''), note"
    " FROM availability_exception WHERE clinician_id = $1 AND last_day >= date '1970-01-01' + $2::int"
    " ORDER BY first_day, id LIMIT 500";

int editors_exceptions_list(struct ctx *c, int64_t clinician_id, int64_t from, json_t **rows)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_EXC_LIST, num(c->a, clinician_id), num(c->a, from));
	if (rc)
		return rc;
	*rows = json_array();
	for (int i = 0; i < PQntuples(r); i++)
		json_array_append_new(*rows, json_pack("{s:I, s:s, s:I, s:I, s:s, s:s, s:s}", "id",
		                                       (json_int_t)db_ll(r, i, 0), "kind", db_val(r, i, 1),
		                                       "first", (json_int_t)db_ll(r, i, 2), "last",
		                                       (json_int_t)db_ll(r, i, 3), "start", db_val(r, i, 4),
		                                       "end", db_val(r, i, 5), "note", db_val(r, i, 6)));
	return 0;
}

static const char SQL_EXC_DELETE[] =
    "DELETE FROM availability_exception WHERE id = $1 AND clinician_id = $2 RETURNING kind";

struct exc_rm {
	int64_t clinician_id, id;
};

static int exc_rm_tx(struct ctx *c, void *arg)
{
	struct exc_rm *x = arg;
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_EXC_DELETE, num(c->a, x->id), num(c->a, x->clinician_id));
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	return audit_write(c, "availability.exception.remove",
	                   arena_printf(c->a, "availability_exception:%lld", (long long)x->id),
	                   json_pack("{s:s, s:s}", "clinician",
	                             arena_printf(c->a, "clinician:%lld", (long long)x->clinician_id), "kind",
	                             db_val(r, 0, 0)));
}

int editors_exception_remove(struct ctx *c, int64_t clinician_id, int64_t id)
{
	struct exc_rm x = {clinician_id, id};
	return in_tx(c, exc_rm_tx, &x);
}

/* ---- offerings ------------------------------------------------------------------ */

static const char SQL_OFFERINGS[] =
    "SELECT o.id, o.slug, o.name, o.kind, o.active, (SELECT count(*) FROM booking b WHERE b.offering_id = "
    "o.id)"
    " FROM offering o WHERE o.practice_id = (SELECT min(id) FROM practice) ORDER BY o.sort_order, o.id";

int editors_offerings(struct ctx *c, json_t **rows)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_OFFERINGS);
	if (rc)
		return rc;
	*rows = json_array();
	for (int i = 0; i < PQntuples(r); i++)
		json_array_append_new(*rows, json_pack("{s:I, s:s, s:s, s:s, s:b, s:I}", "id",
		                                       (json_int_t)db_ll(r, i, 0), "slug", db_val(r, i, 1),
		                                       "name", db_val(r, i, 2), "kind", db_val(r, i, 3),
		                                       "active", db_val(r, i, 4)[0] == 't', "bookings",
		                                       (json_int_t)db_ll(r, i, 5)));
	return 0;
}

static const char SQL_INTAKE_FORMS[] = "SELECT DISTINCT slug FROM intake_form ORDER BY slug";

int editors_intake_forms(struct ctx *c, json_t **slugs)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_INTAKE_FORMS);
	if (rc)
		return rc;
	*slugs = json_array();
	for (int i = 0; i < PQntuples(r); i++)
		json_array_append_new(*slugs, json_string(db_val(r, i, 0)));
	return 0;
}

static const char SQL_FORM_SCREENS[] =
    "SELECT CASE WHEN jsonb_typeof(definition::jsonb -> 'screening') = 'array'"
    " THEN jsonb_array_length(definition::jsonb -> 'screening') > 0 ELSE false END"
    " FROM intake_form WHERE slug = $1 ORDER BY version DESC LIMIT 1";

int editors_form_screens(struct ctx *c, const char *slug, bool *screens)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_FORM_SCREENS, slug);
	if (rc)
		return rc;
	*screens = PQntuples(r) == 1 && db_val(r, 0, 0)[0] == 't';
	return 0;
}

/* Column names double as form field names. */
static const char SQL_OFFERING_FORM[] =
    "SELECT slug, name, kind, description, days::text AS days, duration_minutes::text AS duration_minutes,"
    " coalesce(to_char(day_start, 'HH24:MI'), '') AS day_start,"
    " coalesce(to_char(day_end, 'HH24:MI'), '') AS day_end,"
    " to_char(price_cents / 100.0, 'FM9999999990.00') AS price,"
    " to_char(deposit_cents / 100.0, 'FM9999999990.00') AS deposit, currency,"
    " CASE WHEN requires_approval THEN 'on' ELSE '' END AS requires_approval, location_kind, location,"
    " buffer_before_minutes::text AS buffer_before_minutes, buffer_after_minutes::text AS "
    "buffer_after_minutes,"
    " min_notice_minutes::text AS min_notice_minutes, horizon_days::text AS horizon_days,"
    " slot_interval_minutes::text AS slot_interval_minutes, start_weekdays::text AS start_weekdays,"
    " min_rest_days::text AS min_rest_days, coalesce(cap_per_week::text, '') AS cap_per_week,"
    " coalesce(cap_per_month::text, '') AS cap_per_month, hold_minutes::text AS hold_minutes,"
    " cancel_window_hours::text AS cancel_window_hours, coalesce(intake_form, '') AS intake_form,"
    " series_max::text AS series_max, sort_order::text AS sort_order,"
    " CASE WHEN active THEN 'on' ELSE '' END AS active,"
    " coalesce((SELECT string_agg(clinician_id::text, ',' ORDER BY clinician_id) FROM offering_clinician"
    "  WHERE offering_id = o.id), '') AS clinicians,"
    " coalesce((SELECT string_agg(to_char(starts, 'HH24:MI') || '|' || to_char(ends, 'HH24:MI') || '|' ||"
    "  replace(label, '|', ' '), '|' ORDER BY starts) FROM offering_break WHERE offering_id = o.id), '')"
    "  AS breaks"
    " FROM offering o WHERE id = $1";

int editors_offering_form(struct ctx *c, int64_t id, json_t **form)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_OFFERING_FORM, num(c->a, id));
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	*form = json_object();
	for (int k = 0; k < PQnfields(r); k++)
		json_object_set_new(*form, PQfname(r, k), json_string(db_val(r, 0, k)));
	return 0;
}

static const char SQL_OFFERING_INSERT[] =
    "INSERT INTO offering (practice_id, slug, name, kind, description, days, duration_minutes, day_start,"
    " day_end, price_cents, deposit_cents, currency, requires_approval, location_kind, location,"
    " buffer_before_minutes, buffer_after_minutes, min_notice_minutes, horizon_days, slot_interval_minutes,"
    " start_weekdays, min_rest_days, cap_per_week, cap_per_month, hold_minutes, cancel_window_hours,"
    " intake_form, series_max, sort_order, active)"
    " SELECT min(id), $2, $3, $4, $5, $6::int, $7::int, $8::time, $9::time, $10::bigint, $11::bigint, $12,"
    " $13::boolean, $14, $15, $16::int, $17::int, $18::int, $19::int, $20::int, $21::smallint, $22::int,"
    " $23::int, $24::int, $25::int, $26::int, $27, $28::int, $29::int, $30::boolean FROM practice"
    " WHERE $1::bigint = 0 RETURNING id";
static const char SQL_OFFERING_UPDATE[] =
    "UPDATE offering SET slug = $2, name = $3, kind = $4, description = $5, days = $6::int,"
    " duration_minutes = $7::int, day_start = $8::time, day_end = $9::time, price_cents = $10::bigint,"
    " deposit_cents = $11::bigint, currency = $12, requires_approval = $13::boolean, location_kind = $14,"
    " location = $15, buffer_before_minutes = $16::int, buffer_after_minutes = $17::int,"
    " min_notice_minutes = $18::int, horizon_days = $19::int, slot_interval_minutes = $20::int,"
    " start_weekdays = $21::smallint, min_rest_days = $22::int, cap_per_week = $23::int,"
    " cap_per_month = $24::int, hold_minutes = $25::int, cancel_window_hours = $26::int, intake_form = $27,"
    " series_max = $28::int, sort_order = $29::int, active = $30::boolean, updated_at = now()"
    " WHERE id = $1::bigint RETURNING id";
static const char SQL_BREAKS_DELETE[] = "DELETE FROM offering_break WHERE offering_id = $1";
static const char SQL_BREAK_INSERT[] =
    "INSERT INTO offering_break (offering_id, starts, ends, label) VALUES ($1, $2::time, $3::time, $4)";
static const char SQL_OC_DELETE[] = "DELETE FROM offering_clinician WHERE offering_id = $1";
static const char SQL_OC_INSERT[] = "INSERT INTO offering_clinician (offering_id, clinician_id)"
                                    " SELECT $1, id FROM clinician WHERE id = ANY ($2::bigint[])";

struct offering_args {
	int64_t *id;
	const struct editors_offering *o;
	json_t *detail;
};

static const char *opt_num(struct arena *a, long v)
{
	return v ? num(a, v) : NULL;
}

static int offering_tx(struct ctx *c, void *arg)
{
	struct offering_args *x = arg;
	const struct editors_offering *o = x->o;
	struct arena *a = c->a;
	bool create = *x->id == 0;
	PGresult *r, *before = NULL, *after;
	int rc;
	if (!create && (rc = db_query(c->db, a, &before, SQL_OFFERING_FORM, num(a, *x->id))))
		return rc;
	rc = db_query(
	    c->db, a, &r, create ? SQL_OFFERING_INSERT : SQL_OFFERING_UPDATE, num(a, *x->id), o->slug,
	    o->name, o->kind, o->description, num(a, o->days), num(a, o->duration_minutes),
	    *o->day_start ? o->day_start : NULL, *o->day_end ? o->day_end : NULL, num(a, o->price_cents),
	    num(a, o->deposit_cents), o->currency, o->requires_approval ? "t" : "f", o->location_kind,
	    o->location, num(a, o->buffer_before), num(a, o->buffer_after), num(a, o->min_notice),
	    num(a, o->horizon_days), num(a, o->slot_interval), num(a, o->start_weekdays),
	    num(a, o->min_rest_days), opt_num(a, o->cap_per_week), opt_num(a, o->cap_per_month),
	    num(a, o->hold_minutes), num(a, o->cancel_window_hours), *o->intake_form ? o->intake_form : NULL,
	    num(a, o->series_max), num(a, o->sort_order), o->active ? "t" : "f");
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	*x->id = db_ll(r, 0, 0);
	const char *id = num(a, *x->id);
	if ((rc = db_query(c->db, a, NULL, SQL_BREAKS_DELETE, id)) ||
	    (rc = db_query(c->db, a, NULL, SQL_OC_DELETE, id)))
		return rc;
	for (int i = 0; i < o->nbreaks; i++)
		if ((rc = db_query(c->db, a, NULL, SQL_BREAK_INSERT, id, o->breaks[i].starts,
		                   o->breaks[i].ends, o->breaks[i].label)))
			return rc;
	if ((rc = db_query(c->db, a, NULL, SQL_OC_INSERT, id, o->clinicians)))
		return rc;
	/* audit_write releases its reference; a retried transaction needs one more. */
	json_t *detail = json_deep_copy(x->detail);
	if (!detail)
		detail = json_object();
	if (before && PQntuples(before) == 1) {
		/* The fields that changed, by name (never their values). */
		if ((rc = db_query(c->db, a, &after, SQL_OFFERING_FORM, id))) {
			json_decref(detail);
			return rc;
		}
		json_t *fields = json_array();
		for (int k = 0; k < PQnfields(after); k++)
			if (strcmp(db_val(before, 0, k), db_val(after, 0, k)))
				json_array_append_new(fields, json_string(PQfname(after, k)));
		json_object_set_new(detail, "fields", fields);
	}
	return audit_write(c, create ? "offering.create" : "offering.update",
	                   arena_printf(a, "offering:%lld", (long long)*x->id), detail);
}

int editors_offering_save(struct ctx *c, int64_t *id, const struct editors_offering *o, json_t *detail)
{
	struct offering_args x = {id, o, detail};
	int64_t was = *id;
	int rc = in_tx(c, offering_tx, &x);
	json_decref(x.detail);
	if (rc)
		*id = was;
	return rc;
}

static const char SQL_OFFERING_USED[] =
    "SELECT slug, EXISTS (SELECT 1 FROM booking WHERE offering_id = o.id) FROM offering o WHERE id = $1"
    " FOR UPDATE";
static const char SQL_OFFERING_DELETE[] = "DELETE FROM offering WHERE id = $1";
static const char SQL_OFFERING_DEACTIVATE[] =
    "UPDATE offering SET active = false, updated_at = now() WHERE id = $1";

struct remove_args {
	int64_t id;
	bool deactivated;
};

static int offering_remove_tx(struct ctx *c, void *arg)
{
	struct remove_args *x = arg;
	const char *id = num(c->a, x->id);
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_OFFERING_USED, id);
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	const char *slug = arena_strdup(c->a, db_val(r, 0, 0));
	x->deactivated = db_val(r, 0, 1)[0] == 't';
	rc = db_query(c->db, c->a, NULL, x->deactivated ? SQL_OFFERING_DEACTIVATE : SQL_OFFERING_DELETE, id);
	if (rc)
		return rc;
	return audit_write(c, x->deactivated ? "offering.deactivate" : "offering.delete",
	                   arena_printf(c->a, "offering:%s", id), json_pack("{s:s}", "slug", slug));
}

int editors_offering_remove(struct ctx *c, int64_t id, bool *deactivated)
{
	struct remove_args x = {id, false};
	int rc = in_tx(c, offering_remove_tx, &x);
	*deactivated = x.deactivated;
	return rc;
}

/* ---- the practice ---------------------------------------------------------------- */

static const char SQL_PRACTICE_GET[] =
    "SELECT id, name, timezone, address, phone, email, base_url, cancellation_policy, confidentiality_policy"
    " FROM practice ORDER BY id LIMIT 1 FOR UPDATE";
static const char SQL_PRACTICE_UPDATE[] =
    "UPDATE practice SET name = $2, timezone = $3, address = $4, phone = $5, email = $6, base_url = $7,"
    " cancellation_policy = $8, confidentiality_policy = $9, updated_at = now() WHERE id = $1";

struct practice_args {
	const struct editors_practice *p;
	int changed;
};

static int practice_tx(struct ctx *c, void *arg)
{
	struct practice_args *x = arg;
	const struct editors_practice *p = x->p;
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_PRACTICE_GET);
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	const char *names[] = {"name",
	                       "timezone",
	                       "address",
	                       "phone",
	                       "email",
	                       "base_url",
	                       "cancellation_policy",
	                       "confidentiality_policy"};
	const char *now[] = {p->name,
	                     p->timezone,
	                     p->address,
	                     p->phone,
	                     p->email,
	                     p->base_url,
	                     p->cancellation_policy,
	                     p->confidentiality_policy};
	json_t *fields = json_array();
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (strcmp(db_val(r, 0, (int)i + 1), now[i]))
			json_array_append_new(fields, json_string(names[i]));
	x->changed = (int)json_array_size(fields);
	const char *id = arena_strdup(c->a, db_val(r, 0, 0));
	rc = db_query(c->db, c->a, NULL, SQL_PRACTICE_UPDATE, id, p->name, p->timezone, p->address, p->phone,
	              p->email, p->base_url, p->cancellation_policy, p->confidentiality_policy);
	if (rc) {
		json_decref(fields);
		return rc;
	}
	return audit_write(c, "practice.update", arena_printf(c->a, "practice:%s", id),
	                   json_pack("{s:o}", "fields", fields));
}

int editors_practice_save(struct ctx *c, const struct editors_practice *p, int *changed)
{
	struct practice_args x = {p, 0};
	int rc = in_tx(c, practice_tx, &x);
	*changed = x.changed;
	return rc;
}
