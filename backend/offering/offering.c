/* offering.c — see offering.h. */
#include "offering/offering.h"

#include <stdio.h>

#include "db/db.h"

/* Columns 0-31 of SQL_LIST and SQL_FOR_BOOKING. */
#define OFFERING_COLUMNS                                                                                     \
	"o.id, o.slug, o.name, o.kind, o.description, o.days, o.duration_minutes,"                           \
	" coalesce(to_char(o.day_start, 'HH24:MI'), ''), coalesce(to_char(o.day_end, 'HH24:MI'), ''),"       \
	" o.price_cents, o.deposit_cents, o.currency, o.requires_approval, o.location_kind, o.location,"     \
	" o.cancel_window_hours,"                                                                            \
	" coalesce((SELECT string_agg(to_char(b.starts, 'HH24:MI') || '–' || to_char(b.ends, 'HH24:MI')"   \
	"   || ' ' || b.label, ', ' ORDER BY b.starts)"                                                      \
	"   FROM offering_break b WHERE b.offering_id = o.id), ''),"                                         \
	" coalesce(extract(epoch FROM o.day_start)::int / 60, 0),"                                           \
	" coalesce(extract(epoch FROM o.day_end)::int / 60, 0),"                                             \
	" o.buffer_before_minutes, o.buffer_after_minutes, o.min_notice_minutes, o.horizon_days,"            \
	" o.slot_interval_minutes, o.start_weekdays, o.min_rest_days, coalesce(o.cap_per_week, 0),"          \
	" coalesce(o.cap_per_month, 0), o.hold_minutes, coalesce(o.intake_form, ''), o.series_max,"          \
	" p.timezone"
static const char SQL_LIST[] =
    "SELECT " OFFERING_COLUMNS ","
    " coalesce((SELECT string_agg(c.id || ' ' || c.timezone, ';' ORDER BY c.id) FROM offering_clinician oc"
    "   JOIN clinician c ON c.id = oc.clinician_id WHERE oc.offering_id = o.id AND c.active), '')"
    " FROM offering o JOIN practice p ON p.id = o.practice_id WHERE o.active AND ($1::text IS NULL OR o.slug "
    "= $1)"
    " ORDER BY o.sort_order, o.id";

/* Columns 0-15, the same in SQL_LIST and SQL_HOME: what a page shows. */
static void fill_shown(PGresult *r, int i, struct offering *o)
{
	o->id = db_ll(r, i, 0);
	o->slug = db_val(r, i, 1);
	o->name = db_val(r, i, 2);
	o->kind = db_val(r, i, 3);
	o->description = db_val(r, i, 4);
	o->days = (int)db_ll(r, i, 5);
	o->duration_minutes = (int)db_ll(r, i, 6);
	o->day_start = db_val(r, i, 7);
	o->day_end = db_val(r, i, 8);
	o->price_cents = db_ll(r, i, 9);
	o->deposit_cents = db_ll(r, i, 10);
	o->currency = db_val(r, i, 11);
	o->requires_approval = db_val(r, i, 12)[0] == 't';
	o->location_kind = db_val(r, i, 13);
	o->location = db_val(r, i, 14);
	o->cancel_window_hours = (int)db_ll(r, i, 15);
}

static void fill(PGresult *r, int i, struct offering *o)
{
	fill_shown(r, i, o);
	o->breaks = db_val(r, i, 16);
	o->day_start_min = (int)db_ll(r, i, 17);
	o->day_end_min = (int)db_ll(r, i, 18);
	o->buffer_before_minutes = (int)db_ll(r, i, 19);
	o->buffer_after_minutes = (int)db_ll(r, i, 20);
	o->min_notice_minutes = (int)db_ll(r, i, 21);
	o->horizon_days = (int)db_ll(r, i, 22);
	o->slot_interval_minutes = (int)db_ll(r, i, 23);
	o->start_weekdays = (int)db_ll(r, i, 24);
	o->min_rest_days = (int)db_ll(r, i, 25);
	o->cap_per_week = (int)db_ll(r, i, 26);
	o->cap_per_month = (int)db_ll(r, i, 27);
	o->hold_minutes = (int)db_ll(r, i, 28);
	o->intake_form = db_val(r, i, 29);
	o->series_max = (int)db_ll(r, i, 30);
	o->practice_timezone = db_val(r, i, 31);
	o->clinicians = db_val(r, i, 32);
}

/* The home page in one round trip: the practice and its active offerings
 * (one row with NULL offering columns when there are none). */
static const char SQL_HOME[] =
    "SELECT o.id, o.slug, o.name, o.kind, o.description, o.days, o.duration_minutes,"
    " coalesce(to_char(o.day_start, 'HH24:MI'), ''), coalesce(to_char(o.day_end, 'HH24:MI'), ''),"
    " o.price_cents, o.deposit_cents, o.currency, o.requires_approval, o.location_kind, o.location,"
    " o.cancel_window_hours,"
    " p.name, p.timezone, p.address, p.phone, p.email"
    " FROM practice p LEFT JOIN offering o ON o.practice_id = p.id AND o.active"
    " WHERE p.id = (SELECT min(id) FROM practice)"
    " ORDER BY o.sort_order, o.id";

int offering_home(struct ctx *c, struct offering_home *out)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_HOME);
	if (rc)
		return rc;
	int rows = PQntuples(r);
	if (rows == 0)
		return ERR_NOT_FOUND;
	out->practice_name = db_val(r, 0, 16);
	out->practice_timezone = db_val(r, 0, 17);
	out->practice_address = db_val(r, 0, 18);
	out->practice_phone = db_val(r, 0, 19);
	out->practice_email = db_val(r, 0, 20);
	out->n = db_isnull(r, 0, 0) ? 0 : (size_t)rows;
	out->list = arena_zalloc(c->a, (out->n + 1) * sizeof(*out->list));
	for (size_t i = 0; i < out->n; i++) {
		struct offering *o = &out->list[i];
		fill_shown(r, (int)i, o);
		o->breaks = "";
		o->intake_form = "";
		o->practice_timezone = out->practice_timezone;
		o->clinicians = "";
	}
	return 0;
}

int offering_list(struct ctx *c, struct offering **out, size_t *n)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_LIST, NULL);
	if (rc)
		return rc;
	*n = (size_t)PQntuples(r);
	*out = arena_alloc(c->a, (*n ? *n : 1) * sizeof(**out));
	for (size_t i = 0; i < *n; i++)
		fill(r, (int)i, &(*out)[i]);
	return 0;
}

int offering_get(struct ctx *c, const char *slug, struct offering *out)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_LIST, slug);
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	fill(r, 0, out);
	return 0;
}

/* A booking's offering, active or not, with only the booking's own
 * clinician (when active and still providing it) and none at all when the
 * offering is no longer offered: a booking never moves to someone else. */
static const char SQL_FOR_BOOKING[] =
    "SELECT " OFFERING_COLUMNS ","
    " coalesce((SELECT c.id || ' ' || c.timezone FROM offering_clinician oc"
    "   JOIN clinician c ON c.id = oc.clinician_id"
    "   WHERE oc.offering_id = o.id AND c.id = b.clinician_id AND c.active AND o.active), '')"
    " FROM booking b JOIN offering o ON o.id = b.offering_id JOIN practice p ON p.id = o.practice_id"
    " WHERE b.id = $1";

int offering_for_booking(struct ctx *c, int64_t booking_id, struct offering *out)
{
	PGresult *r;
	char id[24];
	snprintf(id, sizeof(id), "%lld", (long long)booking_id);
	int rc = db_query(c->db, c->a, &r, SQL_FOR_BOOKING, id);
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	fill(r, 0, out);
	return 0;
}

json_t *offering_to_json(const struct offering *o)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:i, s:i, s:I, s:I, s:s, s:b, s:s}", "slug", o->slug, "name",
	                      o->name, "kind", o->kind, "days", o->days, "duration_minutes",
	                      o->duration_minutes, "price_cents", (json_int_t)o->price_cents, "deposit_cents",
	                      (json_int_t)o->deposit_cents, "currency", o->currency, "requires_approval",
	                      o->requires_approval, "description", o->description);
	if (!j)
		core_oom();
	return j;
}

char *offering_format_money(struct arena *a, int64_t cents, const char *currency)
{
	if (cents == 0)
		return arena_strdup(a, "Free");
	int64_t units = cents / 100, rest = cents % 100;
	char digits[32], grouped[48];
	snprintf(digits, sizeof(digits), "%lld", (long long)units);
	size_t n = strlen(digits), o = 0;
	for (size_t i = 0; i < n; i++) {
		if (i && (n - i) % 3 == 0)
			grouped[o++] = ',';
		grouped[o++] = digits[i];
	}
	grouped[o] = '\0';
	const char *sym = !strcmp(currency, "USD") || !strcmp(currency, "CAD") || !strcmp(currency, "AUD")
	                      ? "$"
	                  : !strcmp(currency, "EUR") ? "€"
	                  : !strcmp(currency, "GBP") ? "£"
	                                             : NULL;
	if (sym)
		return rest ? arena_printf(a, "%s%s.%02lld", sym, grouped, (long long)rest)
		            : arena_printf(a, "%s%s", sym, grouped);
	return rest ? arena_printf(a, "%s.%02lld %s", grouped, (long long)rest, currency)
	            : arena_printf(a, "%s %s", grouped, currency);
}

char *offering_window_text(struct arena *a, int hours)
{
	if (hours >= 48 && hours % 24 == 0)
		return arena_printf(a, "%d days", hours / 24);
	return arena_printf(a, "%d hour%s", hours, hours == 1 ? "" : "s");
}

static char *duration_text(struct arena *a, const struct offering *o)
{
	if (!strcmp(o->kind, "intensive"))
		return arena_printf(a, "%d days, %s–%s each day", o->days, o->day_start, o->day_end);
	if (o->duration_minutes % 60 == 0)
		return arena_printf(a, "%d hour%s", o->duration_minutes / 60,
		                    o->duration_minutes == 60 ? "" : "s");
	return arena_printf(a, "%d minutes", o->duration_minutes);
}

json_t *offering_to_view(struct arena *a, const struct offering *o)
{
	json_t *j = offering_to_json(o);
	static const char *const where[][2] = {
	    {"in_person", "In person"}, {"video", "Video call"}, {"phone", "Phone call"}};
	const char *loc = "";
	for (size_t i = 0; i < ARRAY_LEN(where); i++)
		if (!strcmp(o->location_kind, where[i][0]))
			loc = where[i][1];
	json_object_set_new(j, "price_text",
	                    json_string(offering_format_money(a, o->price_cents, o->currency)));
	json_object_set_new(j, "deposit_text",
	                    o->deposit_cents
	                        ? json_string(offering_format_money(a, o->deposit_cents, o->currency))
	                        : json_null());
	json_object_set_new(j, "duration_text", json_string(duration_text(a, o)));
	json_object_set_new(j, "location_text", json_string(loc));
	json_object_set_new(j, "breaks_text", o->breaks[0] ? json_string(o->breaks) : json_null());
	json_object_set_new(j, "is_intensive", json_boolean(!strcmp(o->kind, "intensive")));
	json_object_set_new(j, "cancel_window_hours", json_integer(o->cancel_window_hours));
	json_object_set_new(j, "cancel_window_text",
	                    json_string(offering_window_text(a, o->cancel_window_hours)));
	return j;
}
