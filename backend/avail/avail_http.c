/* avail_http.c — see avail_http.h. */
#include "avail/avail_http.h"

#include "avail/avail_load.h"
#include "booking/booking.h"
#include "core/humantime.h"
#include "offering/offering.h"
#include "practice/practice.h"

enum { API_MAX_WINDOW_DAYS = 366 };

static struct ctx req_ctx(struct req *r)
{
	return (struct ctx){r->a, r->db, ctx_clock_now(), "public", r->remote_addr};
}

static int zone_of(const struct offering *o, const struct tz **z)
{
	return tz_get(o->practice_timezone, z) ? ERR_INTERNAL : 0;
}

int avail_http_api(struct req *r)
{
	struct ctx c = req_ctx(r);
	json_t *fields = json_object();
	const char *slug = http_query_param(r, "offering");
	const char *from_s = http_query_param(r, "from");
	const char *to_s = http_query_param(r, "to");
	if (!slug || !*slug) {
		json_object_set_new(fields, "offering",
		                    json_string("Say which offering, e.g. offering=consult."));
		return http_send_error(r, ERR_INVALID, NULL, fields);
	}
	struct offering o;
	int rc = offering_get(&c, slug, &o);
	if (rc) {
		json_decref(fields);
		return rc;
	}
	const struct tz *z;
	if ((rc = zone_of(&o, &z))) {
		json_decref(fields);
		return rc;
	}
	int64_t today = avail_local_day(z, c.now), last = today + o.horizon_days;
	int64_t from = today, to;
	if (from_s && tz_parse_date(from_s, &from) != 0)
		json_object_set_new(fields, "from", json_string("A date like 2026-12-01."));
	to = from + 30 < last ? from + 30 : last;
	if (to_s && tz_parse_date(to_s, &to) != 0)
		json_object_set_new(fields, "to", json_string("A date like 2026-12-31."));
	if (!json_object_size(fields)) {
		if (from < today)
			from = today; /* past days have nothing to offer */
		if (to < from)
			json_object_set_new(fields, "to",
			                    json_string("The end of the window is before its start."));
		else if (to > last)
			json_object_set_new(
			    fields, "to",
			    json_string(arena_printf(
			        r->a, "Bookings open %d days ahead: the window must end by then.",
			        o.horizon_days)));
		else if (to - from + 1 > API_MAX_WINDOW_DAYS)
			json_object_set_new(fields, "to", json_string("A window is at most 366 days."));
	}
	if (json_object_size(fields))
		return http_send_error(r, ERR_INVALID, NULL, fields);
	json_decref(fields);
	struct avail_slot *s;
	size_t n;
	if ((rc = avail_for_offering(&c, &o, from, to, &s, &n)))
		return rc;
	json_t *slots = json_array();
	for (size_t i = 0; i < n; i++) {
		char st[40], en[40];
		tz_format_rfc3339(z, s[i].start, st, sizeof(st));
		tz_format_rfc3339(z, s[i].end, en, sizeof(en));
		json_array_append_new(slots, json_pack("{s:s, s:s, s:o}", "start", st, "end", en, "blocks",
		                                       booking_blocks_json(z, s[i].blocks, s[i].nblocks)));
	}
	return http_send_json(
	    r, 200, json_pack("{s:s, s:s, s:o}", "offering", o.slug, "timezone", tz_name(z), "slots", slots));
}

static char *slot_label(struct arena *a, const struct tz *z, const struct avail_slot *s)
{
	if (s->nblocks == 1)
		return humantime_range(a, z, s->start, s->end);
	return arena_printf(a, "%s to %s, %s each day", humantime_date(a, z, s->start),
	                    humantime_date(a, z, s->blocks[s->nblocks - 1].start),
	                    humantime_range(a, z, s->blocks[0].start, s->blocks[0].end));
}

static char *start_link(struct arena *a, const char *base, const struct tz *z, int64_t start)
{
	char st[40];
	tz_format_rfc3339(z, start, st, sizeof(st));
	return arena_printf(a, "%s?start=%s", base, form_urlencode(a, st));
}

int avail_http_calendar(struct req *r, const struct offering *o, const char *month, const char *date,
                        const char *page_base, const char *link_base, json_t *view)
{
	struct ctx c = req_ctx(r);
	const struct tz *z;
	int rc = zone_of(o, &z);
	if (rc)
		return rc;
	int64_t today = avail_local_day(z, c.now), last = today + o->horizon_days;
	int ty, tm, td;
	tz_civil_from_days(today, &ty, &tm, &td);
	int y = ty, m = tm;
	if (month && (sscanf(month, "%4d-%2d", &y, &m) != 2 || m < 1 || m > 12 || strlen(month) != 7)) {
		y = ty;
		m = tm;
	}
	int64_t first = tz_days_from_civil(y, m, 1), mlast = first + tz_days_in_month(y, m) - 1;
	if (mlast < today || first > last) { /* outside what can be booked: show this month */
		y = ty;
		m = tm;
		first = tz_days_from_civil(y, m, 1);
		mlast = first + tz_days_in_month(y, m) - 1;
	}
	int64_t from = first < today ? today : first, to = mlast > last ? last : mlast;
	struct avail_slot *s = NULL;
	size_t n = 0;
	if (from <= to && (rc = avail_for_offering(&c, o, from, to, &s, &n)))
		return rc;
	int64_t sel = INT64_MIN;
	if (date && tz_parse_date(date, &sel) != 0)
		sel = INT64_MIN;
	bool intensive = !strcmp(o->kind, "intensive");
	/* Weeks start on Monday; blanks pad the first and last week. */
	json_t *weeks = json_array(), *week = json_object(), *days = json_array();
	int lead = tz_iso_weekday(first) - 1;
	for (int i = 0; i < lead; i++)
		json_array_append_new(days, json_pack("{s:b}", "blank", 1));
	size_t k = 0;
	json_t *times = json_array();
	for (int64_t d = first; d <= mlast; d++) {
		int dy, dm, dd;
		tz_civil_from_days(d, &dy, &dm, &dd);
		size_t count = 0;
		const struct avail_slot *firstslot = NULL;
		while (k < n && avail_local_day(z, s[k].start) < d)
			k++;
		for (size_t j = k; j < n && avail_local_day(z, s[j].start) == d; j++) {
			if (!count)
				firstslot = &s[j];
			count++;
			if (d == sel)
				json_array_append_new(
				    times, json_pack("{s:s, s:s}", "label", slot_label(r->a, z, &s[j]), "url",
				                     start_link(r->a, link_base, z, s[j].start)));
		}
		json_t *cell =
		    json_pack("{s:i, s:s, s:b, s:b, s:b}", "day", dd, "label", humantime_day(r->a, d),
		              "available", count > 0, "selected", d == sel, "today", d == today);
		if (count) {
			char *url = intensive
			                ? start_link(r->a, link_base, z, firstslot->start)
			                : arena_printf(r->a, "%s?month=%04d-%02d&date=%04d-%02d-%02d#times",
			                               page_base, y, m, dy, dm, dd);
			json_object_set_new(cell, "url", json_string(url));
			json_object_set_new(cell, "summary",
			                    json_string(intensive ? slot_label(r->a, z, firstslot)
			                                          : arena_printf(r->a, "%zu time%s", count,
			                                                         count == 1 ? "" : "s")));
		}
		json_array_append_new(days, cell);
		if (json_array_size(days) == 7) {
			json_object_set_new(week, "days", days);
			json_array_append_new(weeks, week);
			week = json_object();
			days = json_array();
		}
	}
	if (json_array_size(days)) {
		while (json_array_size(days) < 7)
			json_array_append_new(days, json_pack("{s:b}", "blank", 1));
		json_object_set_new(week, "days", days);
		json_array_append_new(weeks, week);
	} else {
		json_decref(week);
		json_decref(days);
	}
	json_t *heads = json_array();
	for (int i = 0; i < 7; i++)
		json_array_append_new(heads, json_pack("{s:s, s:s%}", "full", humantime_weekdays[i], "short",
		                                       humantime_weekdays[i], (size_t)3));
	int py = m == 1 ? y - 1 : y, pm = m == 1 ? 12 : m - 1, ny = m == 12 ? y + 1 : y,
	    nm = m == 12 ? 1 : m + 1;
	json_object_set_new(
	    view, "calendar",
	    json_pack("{s:s, s:o, s:o, s:b, s:s, s:o, s:o, s:b, s:s}", "month_label",
	              humantime_month(r->a, y, m), "weeks", weeks, "heads", heads, "intensive", intensive,
	              "timezone", tz_name(z), "prev_url",
	              first > today ? json_string(arena_printf(r->a, "%s?month=%04d-%02d", page_base, py, pm))
	                            : json_null(),
	              "next_url",
	              mlast < last ? json_string(arena_printf(r->a, "%s?month=%04d-%02d", page_base, ny, nm))
	                           : json_null(),
	              "has_slots", n > 0, "empty_text",
	              n ? "" : "Nothing is open this month. Try the next month."));
	if (sel != INT64_MIN)
		json_object_set_new(
		    view, "times",
		    json_pack("{s:s, s:o}", "date_label", humantime_day(r->a, sel), "list", times));
	else
		json_decref(times);
	return 0;
}

int avail_http_offering_page(struct req *r)
{
	struct ctx c = req_ctx(r);
	char *slug = arena_strndup(r->a, r->params[0].ptr, r->params[0].len);
	struct offering o;
	int rc = offering_get(&c, slug, &o);
	if (rc)
		return rc;
	struct practice p;
	if ((rc = practice_get(&c, &p)))
		return rc;
	json_t *view = json_pack("{s:o, s:o, s:s}", "practice", practice_to_view(&p), "offering",
	                         offering_to_view(r->a, &o), "title", o.name);
	char *base = arena_printf(r->a, "/offerings/%s", o.slug);
	rc = avail_http_calendar(r, &o, http_query_param(r, "month"), http_query_param(r, "date"), base,
	                         arena_printf(r->a, "%s/book", base), view);
	if (rc) {
		json_decref(view);
		return rc;
	}
	return http_send_page(r, 200, "pages/offering", view);
}
