/* calview.c — see calview.h. */
#include "admin/calview.h"

#include <ctype.h>

#include "admin/admin_http.h"
#include "core/humantime.h"
#include "db/db.h"
#include "http/form.h"

static const char *num(struct arena *a, int64_t v)
{
	return arena_printf(a, "%lld", (long long)v);
}

/* The viewer's reach: $1 the viewer, $2 whether they are the owner, $3 the
 * clinician picked (0 = all within reach). */
#define REACH(col)                                                                                           \
	" " col " IN (SELECT id FROM clinician WHERE practice_id = (SELECT practice_id FROM clinician"       \
	" WHERE id = $1) AND ($2::boolean OR id = $1) AND ($3::bigint = 0 OR id = $3))"

/* Every day of every booking but declined requests (which never held the
 * time), cancelled ones included: the calendar says what happened. */
static const char SQL_BLOCKS[] =
    "SELECT b.id, b.reference, b.status, o.name, c.name,"
    " extract(epoch FROM k.starts_at)::bigint, extract(epoch FROM k.ends_at)::bigint, k.day_index + 1,"
    " (SELECT count(*) FROM booking_block x WHERE x.booking_id = b.id), k.cancelled_at IS NOT NULL,"
    " b.needs_review, coalesce(extract(epoch FROM b.hold_expires_at)::bigint, 0),"
    " coalesce((SELECT string_agg(nullif(p.initials, ''), ' & ' ORDER BY p.position)"
    "  FROM booking_client p WHERE p.booking_id = b.id), '')"
    " FROM booking_block k JOIN booking b ON b.id = k.booking_id JOIN offering o ON o.id = b.offering_id"
    " JOIN clinician c ON c.id = b.clinician_id"
    " WHERE" REACH("b.clinician_id") " AND b.status <> 'declined'"
                                     " AND k.starts_at < to_timestamp($5::bigint) AND k.ends_at > "
                                     "to_timestamp($4::bigint)"
                                     " ORDER BY k.starts_at, b.id LIMIT 2001"; /* CALVIEW_MAX_ITEMS + 1 */

/* External busy time, merged per clinician and clipped to the range. */
static const char SQL_BUSY[] =
    "SELECT x.clinician_id, c.name, extract(epoch FROM lower(x.r))::bigint,"
    " extract(epoch FROM upper(x.r))::bigint FROM ("
    "  SELECT i.clinician_id, unnest(range_agg(i.during * tstzrange(to_timestamp($4::bigint),"
    "   to_timestamp($5::bigint)))) AS r FROM busy_interval i"
    "  WHERE" REACH("i.clinician_id") " AND i.during && tstzrange(to_timestamp($4::bigint),"
                                      "   to_timestamp($5::bigint)) GROUP BY i.clinician_id) x JOIN "
                                      "clinician c ON c.id = x.clinician_id"
                                      " ORDER BY 3, 1 LIMIT 2001"; /* CALVIEW_MAX_ITEMS + 1 */

static const char SQL_CLINICIAN[] =
    "SELECT id, name, timezone FROM clinician WHERE id = $3 AND practice_id = (SELECT practice_id"
    " FROM clinician WHERE id = $1) AND ($2::boolean OR id = $1)";

static const char SQL_ALL[] = "SELECT id, name FROM clinician WHERE practice_id ="
                              " (SELECT practice_id FROM clinician WHERE id = $1) ORDER BY name, id";

static const char *status_text(const char *s)
{
	static const char *const names[][2] = {
	    {"held", "Held"},           {"requested", "Requested"}, {"confirmed", "Confirmed"},
	    {"cancelled", "Cancelled"}, {"completed", "Completed"}, {"no_show", "No-show"},
	};
	for (size_t i = 0; i < ARRAY_LEN(names); i++)
		if (!strcmp(s, names[i][0]))
			return names[i][1];
	return s;
}

static int64_t local_day(const struct tz *z, int64_t t)
{
	int64_t l = tz_utc_to_local(z, t);
	return l >= 0 ? l / 86400 : -((-l + 86399) / 86400);
}

/* One entry as it appears on one day: [s, e) clipped to [ds, de). */
struct entry {
	int64_t s, e;
	json_t *item; /* everything but the time */
};

static char *clipped_time(struct arena *a, const struct tz *z, int64_t s, int64_t e, int64_t ds, int64_t de)
{
	if (s <= ds && e >= de)
		return "All day";
	if (s <= ds)
		return arena_printf(a, "Until %s", humantime_clock(a, z, e));
	if (e >= de)
		return arena_printf(a, "From %s", humantime_clock(a, z, s));
	return arena_printf(a, "%s – %s", humantime_clock(a, z, s), humantime_clock(a, z, e));
}

static int load_entries(struct ctx *c, const struct calview_range *g, int64_t from, int64_t to,
                        struct entry **out, size_t *n, bool *truncated)
{
	const char *v = num(c->a, g->viewer), *own = g->owner ? "t" : "f", *pick = num(c->a, g->clinician);
	const char *f = num(c->a, from), *t = num(c->a, to);
	PGresult *rb, *rx;
	int rc = db_query(c->db, c->a, &rb, SQL_BLOCKS, v, own, pick, f, t);
	if (rc == 0)
		rc = db_query(c->db, c->a, &rx, SQL_BUSY, v, own, pick, f, t);
	if (rc)
		return rc;
	size_t nb = (size_t)PQntuples(rb), nx = (size_t)PQntuples(rx);
	/* One row more than is shown says that some were left out. */
	*truncated = nb > CALVIEW_MAX_ITEMS || nx > CALVIEW_MAX_ITEMS;
	if (nb > CALVIEW_MAX_ITEMS)
		nb = CALVIEW_MAX_ITEMS;
	if (nx > CALVIEW_MAX_ITEMS)
		nx = CALVIEW_MAX_ITEMS;
	struct entry *e = arena_zalloc(c->a, (nb + nx + 1) * sizeof(*e));
	for (size_t i = 0; i < nb; i++) {
		int k = (int)i;
		int64_t id = db_ll(rb, k, 0);
		const char *status = db_val(rb, k, 2);
		int day = (int)db_ll(rb, k, 7), days = (int)db_ll(rb, k, 8);
		bool cancelled_day = db_val(rb, k, 9)[0] == 't' && strcmp(status, "cancelled") != 0;
		json_t *it = json_pack("{s:b, s:s, s:s, s:s, s:s, s:s, s:b}", "booking", 1, "reference",
		                       db_val(rb, k, 1), "status", cancelled_day ? "cancelled_day" : status,
		                       "status_text", cancelled_day ? "Cancelled day" : status_text(status),
		                       "offering", db_val(rb, k, 3), "url",
		                       arena_printf(c->a, "/admin/bookings/%lld", (long long)id),
		                       "needs_review", db_val(rb, k, 10)[0] == 't');
		if (!it)
			core_oom();
		if (days > 1)
			json_object_set_new(it, "part",
			                    json_string(arena_printf(c->a, "day %d of %d", day, days)));
		if (*db_val(rb, k, 12))
			json_object_set_new(it, "initials", json_string(db_val(rb, k, 12)));
		if (g->names)
			json_object_set_new(it, "clinician", json_string(db_val(rb, k, 4)));
		int64_t hold = db_ll(rb, k, 11);
		if (hold && !strcmp(status, "held"))
			json_object_set_new(
			    it, "hold_until",
			    json_string(arena_printf(c->a, "%s, %s", humantime_date(c->a, g->z, hold),
			                             humantime_clock(c->a, g->z, hold))));
		e[i] = (struct entry){db_ll(rb, k, 5), db_ll(rb, k, 6), it};
	}
	for (size_t i = 0; i < nx; i++) {
		int k = (int)i;
		json_t *it = json_pack("{s:b, s:s}", "busy", 1, "status_text", "Busy (external calendar)");
		if (!it)
			core_oom();
		if (g->names)
			json_object_set_new(it, "clinician", json_string(db_val(rx, k, 1)));
		e[nb + i] = (struct entry){db_ll(rx, k, 2), db_ll(rx, k, 3), it};
	}
	*out = e;
	*n = nb + nx;
	return 0;
}

int calview_days(struct ctx *c, const struct calview_range *g, int64_t today, json_t **out, bool *truncated)
{
	int64_t from = tz_local_to_utc(g->z, g->first * 86400, NULL);
	int64_t to = tz_local_to_utc(g->z, (g->last + 1) * 86400, NULL);
	struct entry *e;
	size_t n;
	int rc = load_entries(c, g, from, to, &e, &n, truncated);
	if (rc)
		return rc;
	/* Bookings and busy time by start (stable: bookings first on a tie). */
	for (size_t i = 1; i < n; i++)
		for (size_t j = i; j > 0 && e[j - 1].s > e[j].s; j--) {
			struct entry t = e[j];
			e[j] = e[j - 1];
			e[j - 1] = t;
		}
	json_t *days = json_array();
	for (int64_t d = g->first; d <= g->last; d++) {
		int64_t ds = tz_local_to_utc(g->z, d * 86400, NULL);
		int64_t de = tz_local_to_utc(g->z, (d + 1) * 86400, NULL);
		int y, m, dd;
		tz_civil_from_days(d, &y, &m, &dd);
		json_t *items = json_array();
		for (size_t i = 0; i < n; i++) {
			if (e[i].s >= de || e[i].e <= ds)
				continue;
			json_t *it = json_deep_copy(e[i].item);
			if (!it)
				core_oom();
			json_object_set_new(it, "time",
			                    json_string(clipped_time(c->a, g->z, e[i].s, e[i].e, ds, de)));
			json_array_append_new(items, it);
		}
		json_t *day = json_pack("{s:s, s:s, s:i, s:b, s:b, s:o}", "iso",
		                        arena_printf(c->a, "%04d-%02d-%02d", y, m, dd), "heading",
		                        humantime_day(c->a, d), "day", dd, "today", d == today, "has_items",
		                        json_array_size(items) > 0, "items", items);
		if (!day)
			core_oom();
		json_array_append_new(days, day);
	}
	for (size_t i = 0; i < n; i++)
		json_decref(e[i].item);
	*out = days;
	return 0;
}

/* ---- the page --------------------------------------------------------------- */

static int bad_request(struct req *r, const char *msg)
{
	return http_send_error(r, ERR_MALFORMED, msg, NULL);
}

static char *iso(struct arena *a, int64_t day)
{
	int y, m, d;
	tz_civil_from_days(day, &y, &m, &d);
	return arena_printf(a, "%04d-%02d-%02d", y, m, d);
}

/* /admin/calendar with these parameters (clinician 0 = left out). */
static char *link(struct arena *a, const char *view, const char *date, int64_t clinician)
{
	char *u = arena_printf(a, "/admin/calendar?view=%s", view);
	if (date)
		u = arena_printf(a, "%s&date=%s", u, date);
	if (clinician)
		u = arena_printf(a, "%s&clinician=%lld", u, (long long)clinician);
	return u;
}

static const char *const MONTHS[12] = {"January", "February", "March",     "April",   "May",      "June",
                                       "July",    "August",   "September", "October", "November", "December"};

void calview_span_for(bool week, int64_t day, struct calview_span *out)
{
	if (week) {
		out->first = out->grid_first = day - (tz_iso_weekday(day) - 1);
		out->last = out->grid_last = out->first + 6;
		out->prev = out->first - 7;
		out->next = out->first + 7;
		return;
	}
	int y, m, d;
	tz_civil_from_days(day, &y, &m, &d);
	out->first = tz_days_from_civil(y, m, 1);
	out->last = out->first + tz_days_in_month(y, m) - 1;
	out->grid_first = out->first - (tz_iso_weekday(out->first) - 1);
	out->grid_last = out->last + (7 - tz_iso_weekday(out->last));
	out->prev = m == 1 ? tz_days_from_civil(y - 1, 12, 1) : tz_days_from_civil(y, m - 1, 1);
	out->next = m == 12 ? tz_days_from_civil(y + 1, 1, 1) : tz_days_from_civil(y, m + 1, 1);
}

int calview_http_page(struct req *r)
{
	struct ctx c = {r->a, r->db, ctx_clock_now(), r->session->actor, r->remote_addr};
	struct form q = {0};
	const char *bad;
	if (r->query && form_parse(r->a, r->query, strlen(r->query), &q, &bad) != 0)
		return bad_request(r, "The address's parameters could not be read: use view, date and "
		                      "clinician with plain text values.");
	const char *view = r->query ? form_get(&q, "view") : NULL;
	const char *date = r->query ? form_get(&q, "date") : NULL;
	const char *who = r->query ? form_get(&q, "clinician") : NULL;
	if (!view || !*view)
		view = "week";
	if (strcmp(view, "week") && strcmp(view, "month"))
		return bad_request(r, "The view must be \"week\" or \"month\".");
	int64_t day = 0;
	if (date && *date) {
		int y, m, d;
		if (tz_parse_date(date, &day) || (tz_civil_from_days(day, &y, &m, &d), y < 1971 || y > 9998))
			return bad_request(r,
			                   "The date must be a real date like 2026-11-23, between the years "
			                   "1971 and 9998.");
	} else {
		date = NULL;
	}
	int64_t pick = 0;
	if (who && *who && !(pick = http_parse_id(who)))
		return bad_request(r, "The clinician must be a clinician's number.");
	struct calview_range g = {admin_http_zone(r), 0, 0,    r->session->clinician_id,
	                          r->session->owner,  0, false};
	if (!g.owner && !pick)
		pick = g.viewer;
	const char *clin_name = NULL;
	if (pick) {
		PGresult *res;
		int rc = db_query(c.db, c.a, &res, SQL_CLINICIAN, num(c.a, g.viewer), g.owner ? "t" : "f",
		                  num(c.a, pick));
		if (rc)
			return rc;
		if (PQntuples(res) != 1)
			return ERR_NOT_FOUND;
		clin_name = arena_strdup(c.a, db_val(res, 0, 1));
		const struct tz *cz;
		if (tz_get(db_val(res, 0, 2), &cz) == 0)
			g.z = cz;
		g.clinician = pick;
	}
	g.names = g.clinician == 0;
	int64_t today = local_day(g.z, c.now);
	if (!date)
		day = today;
	int y, m, d;
	tz_civil_from_days(day, &y, &m, &d);
	bool week = !strcmp(view, "week");
	struct calview_span sp;
	calview_span_for(week, day, &sp);
	g.first = sp.first;
	g.last = sp.last;
	int64_t prev = sp.prev, next = sp.next, grid_first = sp.grid_first, grid_last = sp.grid_last;
	const char *title = week ? arena_printf(c.a, "Week of %s", humantime_day(c.a, g.first))
	                         : arena_printf(c.a, "%s %d", MONTHS[m - 1], y);
	struct calview_range grid = g;
	grid.first = grid_first;
	grid.last = grid_last;
	json_t *days;
	bool truncated;
	int rc = calview_days(&c, &grid, today, &days, &truncated);
	if (rc)
		return rc;
	json_t *v = admin_http_page_view(r, title);
	if (truncated)
		json_object_set_new(v, "truncated",
		                    json_string(arena_printf(
		                        c.a,
		                        "This page has more than %d entries; only the first %d of each "
		                        "kind are shown. Pick one clinician or the week view to see all.",
		                        CALVIEW_MAX_ITEMS, CALVIEW_MAX_ITEMS)));
	json_object_set_new(v, "heading", json_string(title));
	json_object_set_new(v, "timezone", json_string(tz_name(g.z)));
	json_object_set_new(v, "week", json_boolean(week));
	json_object_set_new(v, "month", json_boolean(!week));
	if (clin_name && g.owner)
		json_object_set_new(v, "clinician_name", json_string(clin_name));
	int64_t keep = g.owner ? g.clinician : 0;
	json_object_set_new(v, "prev_url", json_string(link(c.a, view, iso(c.a, prev), keep)));
	json_object_set_new(v, "next_url", json_string(link(c.a, view, iso(c.a, next), keep)));
	json_object_set_new(v, "today_url", json_string(link(c.a, view, NULL, keep)));
	json_object_set_new(v, "week_url", json_string(link(c.a, "week", iso(c.a, day), keep)));
	json_object_set_new(v, "month_url", json_string(link(c.a, "month", iso(c.a, day), keep)));
	json_object_set_new(v, "prev_label", json_string(week ? "Previous week" : "Previous month"));
	json_object_set_new(v, "next_label", json_string(week ? "Next week" : "Next month"));
	json_object_set_new(v, "view", json_string(view));
	json_object_set_new(v, "date", json_string(iso(c.a, day)));
	if (week) {
		json_object_set_new(v, "days", days);
	} else {
		/* Rows of seven; days outside the month are marked (and hidden
		 * on narrow screens, where the grid becomes a list). */
		json_t *weeks = json_array(), *row = NULL, *x;
		bool any = false;
		size_t i;
		json_array_foreach(days, i, x)
		{
			int64_t dn = grid_first + (int64_t)i;
			bool outside = dn < g.first || dn > g.last;
			json_object_set_new(x, "outside", json_boolean(outside));
			any |= !outside && json_is_true(json_object_get(x, "has_items"));
			if (i % 7 == 0) {
				row = json_array();
				json_array_append_new(weeks, json_pack("{s:o}", "days", row));
			}
			json_array_append(row, x);
		}
		json_decref(days);
		json_object_set_new(v, "weeks", weeks);
		json_object_set_new(v, "month_empty", json_boolean(!any));
	}
	if (g.owner) {
		json_t *list;
		PGresult *res;
		if ((rc = db_query(c.db, c.a, &res, SQL_ALL, num(c.a, g.viewer)))) {
			json_decref(v);
			return rc;
		}
		list = json_array();
		for (int i = 0; i < PQntuples(res); i++)
			json_array_append_new(
			    list, json_pack("{s:I, s:s, s:b}", "id", (json_int_t)db_ll(res, i, 0), "name",
			                    db_val(res, i, 1), "selected", db_ll(res, i, 0) == g.clinician));
		json_object_set_new(v, "clinicians", list);
		json_object_set_new(v, "everyone", json_boolean(g.clinician == 0));
		json_object_set_new(v, "owner", json_true());
	}
	return http_send_page(r, 200, "admin/calendar", v);
}
