/* editors_http.c — see editors_http.h. Handlers check the form into typed
 * values with one message per field, call admin/editors.c, and answer 303
 * back to the page (?done=… names the confirmation) or 422 with the form
 * as typed. */
#include "admin/editors_http.h"

#include <ctype.h>

#include "admin/admin_http.h"
#include "admin/editors.h"
#include "core/humantime.h"
#include "core/tz.h"

static const char *const WEEKDAYS[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                       "Friday", "Saturday", "Sunday"};

static const char MSG_CLOCK[] = "Enter a time as HH:MM, like 09:00.";
static const char MSG_ORDER[] = "The end must be after the start.";
static const char MSG_OWNER[] = "Only the practice owner can change this.";

static struct ctx rctx(struct req *r)
{
	return (struct ctx){r->a, r->db, ctx_clock_now(), r->session->actor, r->remote_addr};
}

static const char *field(struct req *r, const char *name)
{
	const char *v = form_get(&r->form, name);
	return v ? v : "";
}

/* Text without leading and trailing blanks (arena). */
static char *trimmed(struct req *r, const char *name)
{
	const char *v = field(r, name);
	while (*v == ' ' || *v == '\t')
		v++;
	size_t n = strlen(v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	return arena_strndup(r->a, v, n);
}

/* Messages of one form: by field (next to it) and in order (the summary). */
struct problems {
	json_t *by_field;
	json_t *list;
};

static void problems_init(struct problems *p)
{
	p->by_field = json_object();
	p->list = json_array();
}

static void problems_release(struct problems *p)
{
	json_decref(p->by_field);
	json_decref(p->list);
}

/* anchor: the id of the input to jump to from the summary. */
static void problem(struct problems *p, const char *key, const char *anchor, const char *msg)
{
	if (json_object_get(p->by_field, key))
		return;
	json_object_set_new(p->by_field, key, json_string(msg));
	json_array_append_new(p->list, json_pack("{s:s, s:s}", "anchor", anchor, "message", msg));
}

static bool problems_any(const struct problems *p)
{
	return json_array_size(p->list) > 0;
}

/* Moves the problems into view (errors, error_list, has_errors). */
static void problems_take(struct problems *p, json_t *view)
{
	json_object_set_new(view, "has_errors", json_boolean(problems_any(p)));
	json_object_set_new(view, "error_count", json_integer((json_int_t)json_array_size(p->list)));
	json_object_set_new(view, "errors", p->by_field);
	json_object_set_new(view, "error_list", p->list);
	p->by_field = p->list = NULL;
}

static int forbidden(struct req *r)
{
	return http_send_error(r, ERR_FORBIDDEN, MSG_OWNER, NULL);
}

static const char *done_text(const char *done, const char *const table[][2], size_t n)
{
	for (size_t i = 0; done && i < n; i++)
		if (!strcmp(done, table[i][0]))
			return table[i][1];
	return NULL;
}

static int64_t today(const struct tz *z, int64_t now)
{
	int64_t local = tz_utc_to_local(z, now);
	return local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
}

static char *iso_day(struct arena *a, int64_t day)
{
	int y, m, d;
	tz_civil_from_days(day, &y, &m, &d);
	return arena_printf(a, "%04d-%02d-%02d", y, m, d);
}

/* ==== availability ============================================================= */

/* Whose availability: ?clinician= / the form's "clinician", else one's
 * own. Another clinician's is the owner's only (404 otherwise, like any
 * record out of reach). */
struct whose {
	int64_t id;
	const char *name;
	const struct tz *tz;
	json_t *clinicians; /* [{id, name, timezone, selected}] */
};

static int whose_get(struct req *r, const char *given, struct whose *w)
{
	struct ctx c = rctx(r);
	w->id = r->session->clinician_id;
	if (given && *given) {
		int64_t id = http_parse_id(given);
		if (!id || (!r->session->owner && id != r->session->clinician_id))
			return ERR_NOT_FOUND;
		w->id = id;
	}
	int rc = editors_clinicians(&c, &w->clinicians);
	if (rc)
		return rc;
	w->name = NULL;
	size_t i;
	json_t *v;
	json_array_foreach(w->clinicians, i, v)
	{
		bool me = json_integer_value(json_object_get(v, "id")) == w->id;
		json_object_set_new(v, "selected", json_boolean(me));
		if (me) {
			w->name = arena_strdup(r->a, json_string_value(json_object_get(v, "name")));
			if (tz_get(json_string_value(json_object_get(v, "timezone")), &w->tz))
				w->tz = admin_http_zone(r);
		}
	}
	if (!w->name) {
		json_decref(w->clinicians);
		return ERR_NOT_FOUND;
	}
	return 0;
}

/* The offering choices of one weekly row. */
static json_t *offering_choices(json_t *offerings, int64_t selected)
{
	json_t *out = json_array();
	json_array_append_new(out, json_pack("{s:I, s:s, s:b}", "id", (json_int_t)0, "name", "All offerings",
	                                     "selected", selected == 0));
	size_t i;
	json_t *o;
	json_array_foreach(offerings, i, o)
	{
		json_int_t id = json_integer_value(json_object_get(o, "id"));
		const char *name = json_string_value(json_object_get(o, "name"));
		bool active = json_is_true(json_object_get(o, "active"));
		json_array_append_new(out,
		                      json_pack("{s:I, s:s, s:s, s:b}", "id", id, "name", name, "suffix",
		                                active ? "" : " (inactive)", "selected", id == selected));
	}
	return out;
}

/* One weekly row as the form shows it. */
static json_t *weekly_row(int wd, int i, const char *start, const char *end, int64_t offering,
                          json_t *offerings, const char *error)
{
	char key[32];
	snprintf(key, sizeof(key), "r%d_%d", wd, i);
	json_t *row = json_pack("{s:s, s:s, s:s, s:i, s:o}", "key", key, "start", start, "end", end, "n",
	                        i + 1, "offerings", offering_choices(offerings, offering));
	if (error)
		json_object_set_new(row, "error", json_string(error));
	return row;
}

/* The week as stored: up to EDITORS_MAX_RANGES rows a day, one blank one
 * to add a range (two on an empty day). */
static json_t *weekly_days_stored(json_t *stored, json_t *offerings)
{
	json_t *days = json_array();
	for (int wd = 1; wd <= 7; wd++) {
		json_t *rows = json_array();
		size_t i;
		json_t *v;
		int n = 0;
		json_array_foreach(stored, i, v)
		{
			if (json_integer_value(json_object_get(v, "weekday")) != wd)
				continue;
			json_array_append_new(
			    rows, weekly_row(wd, n++, json_string_value(json_object_get(v, "start")),
			                     json_string_value(json_object_get(v, "end")),
			                     json_integer_value(json_object_get(v, "offering_id")), offerings,
			                     NULL));
		}
		int want = n + 1 < 2 ? 2 : n + 1;
		if (want > EDITORS_MAX_RANGES)
			want = n > EDITORS_MAX_RANGES ? n : EDITORS_MAX_RANGES;
		while (n < want) {
			json_array_append_new(rows, weekly_row(wd, n, "", "", 0, offerings, NULL));
			n++;
		}
		json_array_append_new(days, json_pack("{s:i, s:s, s:o}", "weekday", wd, "name",
		                                      WEEKDAYS[wd - 1], "rows", rows));
	}
	return days;
}

static const char *const AVAIL_DONE[][2] = {
    {"weekly", "Weekly hours saved. Clients see the new times now; existing bookings keep theirs."},
    {"date", "Date saved. Clients see the new times now."},
    {"time-off", "Time off saved. Clients see the new times now; existing bookings keep theirs."},
    {"removed", "Entry removed. Clients see the new times now."},
};

static const char *exception_text(struct arena *a, json_t *e)
{
	const char *kind = json_string_value(json_object_get(e, "kind"));
	int64_t first = json_integer_value(json_object_get(e, "first"));
	int64_t last = json_integer_value(json_object_get(e, "last"));
	if (!strcmp(kind, "hours"))
		return arena_printf(a, "%s: open %s–%s only", humantime_day(a, first),
		                    json_string_value(json_object_get(e, "start")),
		                    json_string_value(json_object_get(e, "end")));
	if (!strcmp(kind, "closed") || first == last)
		return arena_printf(a, "%s: closed", humantime_day(a, first));
	return arena_printf(a, "Time off from %s to %s", humantime_day(a, first), humantime_day(a, last));
}

/* Renders the page. days: the weekly rows (NULL: as stored). values: the
 * date forms as typed (NULL: empty). */
static int avail_render(struct req *r, int status, struct whose *w, json_t *days, json_t *values,
                        struct problems *p)
{
	struct ctx c = rctx(r);
	json_t *view = admin_http_page_view(r, "Availability");
	json_t *offerings = NULL, *stored = NULL, *exc = NULL;
	int rc = editors_offerings(&c, &offerings);
	if (!rc && !days && !(rc = editors_weekly_get(&c, w->id, &stored)))
		days = weekly_days_stored(stored, offerings);
	int64_t t = today(w->tz, c.now);
	if (!rc)
		rc = editors_exceptions_list(&c, w->id, t, &exc);
	if (rc) {
		json_decref(view);
		json_decref(days);
		json_decref(values);
		json_decref(offerings);
		json_decref(stored);
		json_decref(w->clinicians);
		if (p)
			problems_release(p);
		return rc;
	}
	size_t i;
	json_t *e;
	json_array_foreach(exc, i, e)
	{
		json_object_set_new(e, "text", json_string(exception_text(r->a, e)));
	}
	json_object_set_new(view, "days", days);
	json_object_set_new(view, "exceptions", exc);
	json_object_set_new(view, "has_exceptions", json_boolean(json_array_size(exc) > 0));
	json_object_set_new(view, "clinician_id", json_integer((json_int_t)w->id));
	json_object_set_new(view, "clinician_name", json_string(w->name));
	json_object_set_new(view, "own", json_boolean(w->id == r->session->clinician_id));
	json_object_set_new(view, "timezone", json_string(tz_name(w->tz)));
	json_object_set_new(view, "today", json_string(iso_day(r->a, t)));
	if (r->session->owner && json_array_size(w->clinicians) > 1) {
		json_object_set_new(view, "pick_clinician", json_true());
		json_object_set_new(view, "clinicians", w->clinicians);
	} else
		json_decref(w->clinicians);
	json_object_set_new(view, "values", values ? values : json_pack("{s:s}", "date_kind", "closed"));
	const char *dk = json_string_value(json_object_get(json_object_get(view, "values"), "date_kind"));
	json_object_set_new(view, "kind_hours", json_boolean(dk && !strcmp(dk, "hours")));
	if (p)
		problems_take(p, view);
	if (status == 200) {
		const char *done = done_text(http_query_param(r, "done"), AVAIL_DONE, ARRAY_LEN(AVAIL_DONE));
		if (done)
			json_object_set_new(view, "notice", json_string(done));
	}
	json_decref(offerings);
	json_decref(stored);
	return http_send_page(r, status, "admin/availability", view);
}

int editors_http_availability(struct req *r)
{
	struct whose w;
	int rc = whose_get(r, http_query_param(r, "clinician"), &w);
	if (rc)
		return rc;
	return avail_render(r, 200, &w, NULL, NULL, NULL);
}

static int back_to(struct req *r, const struct whose *w, const char *done)
{
	const char *loc =
	    w->id == r->session->clinician_id
	        ? arena_printf(r->a, "/admin/availability?done=%s", done)
	        : arena_printf(r->a, "/admin/availability?clinician=%lld&done=%s", (long long)w->id, done);
	json_decref(w->clinicians);
	return http_redirect(r, 303, loc);
}

enum { WEEKLY_MAX_INDEX = 24 }; /* rows per day the parser looks at */

int editors_http_weekly(struct req *r)
{
	struct whose w;
	int rc = whose_get(r, form_get(&r->form, "clinician"), &w);
	if (rc)
		return rc;
	struct ctx c = rctx(r);
	json_t *offerings;
	if ((rc = editors_offerings(&c, &offerings))) {
		json_decref(w.clinicians);
		return rc;
	}
	struct editors_range v[7 * WEEKLY_MAX_INDEX];
	char keys[7 * WEEKLY_MAX_INDEX][32];
	size_t n = 0;
	struct problems p;
	problems_init(&p);
	json_t *days = json_array();
	for (int wd = 1; wd <= 7; wd++) {
		json_t *rows = json_array();
		int filled = 0, shown = 0;
		for (int i = 0; i < WEEKLY_MAX_INDEX; i++) {
			char key[32], fs[48], fe[48], fo[48];
			snprintf(key, sizeof(key), "r%d_%d", wd, i);
			snprintf(fs, sizeof(fs), "%s_start", key);
			snprintf(fe, sizeof(fe), "%s_end", key);
			snprintf(fo, sizeof(fo), "%s_offering", key);
			if (!form_get(&r->form, fs) && !form_get(&r->form, fe))
				continue;
			const char *s = trimmed(r, fs), *e = trimmed(r, fe), *o = field(r, fo);
			int64_t oid = *o && strcmp(o, "0") ? http_parse_id(o) : 0;
			const char *err = NULL;
			int sm = 0, em = 0;
			bool known = oid == 0;
			size_t k;
			json_t *x;
			json_array_foreach(offerings, k, x)
			{
				known |= json_integer_value(json_object_get(x, "id")) == oid;
			}
			if (!*s && !*e) {
				/* a blank row: nothing */
			} else if (!*s || !*e) {
				err = "Give both a start and an end time, or clear both to remove the range.";
			} else if (editors_parse_clock(s, false, &sm) || editors_parse_clock(e, true, &em)) {
				err = MSG_CLOCK;
			} else if (em <= sm) {
				err = MSG_ORDER;
			} else if (!known || (*o && strcmp(o, "0") && !oid)) {
				err = "Choose an offering from the list.";
			} else if (++filled > EDITORS_MAX_RANGES) {
				err = "At most 6 time ranges a day.";
			} else {
				v[n] = (struct editors_range){wd, sm, em, oid};
				memcpy(keys[n], key, sizeof(key));
				n++;
			}
			if (err)
				problem(
				    &p, key, arena_printf(r->a, "%s_start", key),
				    arena_printf(r->a, "%s, range %d: %s", WEEKDAYS[wd - 1], shown + 1, err));
			json_array_append_new(
			    rows,
			    weekly_row(wd, shown, s, e, oid, offerings,
			               err ? json_string_value(json_object_get(p.by_field, key)) : NULL));
			shown++;
		}
		while (shown < 2) {
			json_array_append_new(rows, weekly_row(wd, shown, "", "", 0, offerings, NULL));
			shown++;
		}
		json_array_append_new(days, json_pack("{s:i, s:s, s:o}", "weekday", wd, "name",
		                                      WEEKDAYS[wd - 1], "rows", rows));
	}
	size_t a, b;
	if (!problems_any(&p) && editors_ranges_overlap(v, n, &a, &b)) {
		char ta[8], tb[8];
		editors_format_clock(v[a].start_min, ta, sizeof(ta));
		editors_format_clock(v[a].end_min, tb, sizeof(tb));
		const char *msg = arena_printf(r->a, "%s: this range overlaps %s–%s on the same day.",
		                               WEEKDAYS[v[b].weekday - 1], ta, tb);
		problem(&p, keys[b], arena_printf(r->a, "%s_start", keys[b]), msg);
		/* Put the message on its row. */
		json_t *rows = json_object_get(json_array_get(days, (size_t)v[b].weekday - 1), "rows");
		size_t i;
		json_t *row;
		json_array_foreach(rows, i, row)
		{
			if (!strcmp(json_string_value(json_object_get(row, "key")), keys[b]))
				json_object_set_new(row, "error", json_string(msg));
		}
	}
	json_decref(offerings);
	if (problems_any(&p))
		return avail_render(r, 422, &w, days, NULL, &p);
	problems_release(&p);
	json_decref(days);
	if ((rc = editors_weekly_set(&c, w.id, v, n))) {
		json_decref(w.clinicians);
		return rc;
	}
	return back_to(r, &w, "weekly");
}

/* The end of a date form's POST: rc (an error of the store) answered as
 * such, the problems found shown with the values as typed (422), or back
 * to the page saying `done`. Releases values, p and w's list. */
static int dates_done(struct req *r, struct whose *w, int rc, json_t *values, struct problems *p,
                      const char *done)
{
	if (rc) {
		problems_release(p);
		json_decref(values);
		json_decref(w->clinicians);
		return rc;
	}
	if (problems_any(p))
		return avail_render(r, 422, w, NULL, values, p);
	problems_release(p);
	json_decref(values);
	return back_to(r, w, done);
}

/* A date field: YYYY-MM-DD from today to two years ahead. */
static const char *check_day(struct req *r, const char *s, int64_t t, int64_t *day)
{
	if (!*s)
		return "Enter a date.";
	if (strlen(s) != 10 || tz_parse_date(s, day))
		return "Enter a date as YYYY-MM-DD, like 2026-12-24.";
	if (*day < t)
		return "Choose today or a later date.";
	if (*day > t + 731)
		return "Choose a date within the next two years.";
	UNUSED(r);
	return NULL;
}

static const char *check_note(const char *s)
{
	if (strlen(s) > 200)
		return "Keep the note to 200 characters or fewer.";
	if (strpbrk(s, "\r\n"))
		return "Keep the note to one line.";
	return NULL;
}

int editors_http_date(struct req *r)
{
	struct whose w;
	int rc = whose_get(r, form_get(&r->form, "clinician"), &w);
	if (rc)
		return rc;
	struct ctx c = rctx(r);
	const char *day_s = trimmed(r, "date_day"), *kind = field(r, "date_kind"),
	           *s = trimmed(r, "date_start"), *e = trimmed(r, "date_end"),
	           *note = trimmed(r, "date_note");
	json_t *values = json_pack("{s:s, s:s, s:s, s:s, s:s}", "date_day", day_s, "date_kind", kind,
	                           "date_start", s, "date_end", e, "date_note", note);
	struct problems p;
	problems_init(&p);
	struct editors_exception x = {"closed", 0, 0, 0, 0, note};
	const char *err = check_day(r, day_s, today(w.tz, c.now), &x.first_day);
	if (err)
		problem(&p, "date_day", "date_day", err);
	x.last_day = x.first_day;
	if (!strcmp(kind, "hours")) {
		x.kind = "hours";
		if (editors_parse_clock(s, false, &x.start_min))
			problem(&p, "date_start", "date_start", MSG_CLOCK);
		if (editors_parse_clock(e, true, &x.end_min))
			problem(&p, "date_end", "date_end", MSG_CLOCK);
		else if (!json_object_get(p.by_field, "date_start") && x.end_min <= x.start_min)
			problem(&p, "date_end", "date_end", MSG_ORDER);
	} else if (strcmp(kind, "closed")) {
		problem(&p, "date_kind", "date_kind_closed", "Choose closed or different hours.");
	}
	if ((err = check_note(note)))
		problem(&p, "date_note", "date_note", err);
	int64_t id = 0;
	if (!problems_any(&p) && (rc = editors_exception_add(&c, w.id, &x, &id)) == ERR_CONFLICT) {
		problem(&p, "date_day", "date_day",
		        "This date already has different hours. Remove that entry first.");
		rc = 0;
	}
	return dates_done(r, &w, rc, values, &p, "date");
}

int editors_http_time_off(struct req *r)
{
	struct whose w;
	int rc = whose_get(r, form_get(&r->form, "clinician"), &w);
	if (rc)
		return rc;
	struct ctx c = rctx(r);
	const char *from = trimmed(r, "off_from"), *to = trimmed(r, "off_to"), *note = trimmed(r, "off_note");
	json_t *values = json_pack("{s:s, s:s, s:s, s:s}", "off_from", from, "off_to", to, "off_note", note,
	                           "date_kind", "closed");
	struct problems p;
	problems_init(&p);
	struct editors_exception x = {"time_off", 0, 0, 0, 0, note};
	int64_t t = today(w.tz, c.now);
	const char *err = check_day(r, from, t, &x.first_day);
	if (err)
		problem(&p, "off_from", "off_from", err);
	if (!*to)
		x.last_day = x.first_day; /* one day */
	else if (strlen(to) != 10 || tz_parse_date(to, &x.last_day))
		problem(&p, "off_to", "off_to", "Enter a date as YYYY-MM-DD, like 2026-12-24.");
	else if (!err && x.last_day < x.first_day)
		problem(&p, "off_to", "off_to", "The last day must be on or after the first day.");
	else if (!err && x.last_day - x.first_day >= EDITORS_MAX_OFF_DAYS)
		problem(&p, "off_to", "off_to", "Time off can cover at most 366 days at once.");
	if ((err = check_note(note)))
		problem(&p, "off_note", "off_note", err);
	int64_t id = 0;
	if (!problems_any(&p))
		rc = editors_exception_add(&c, w.id, &x, &id);
	return dates_done(r, &w, rc, values, &p, "time-off");
}

int editors_http_exception_remove(struct req *r)
{
	struct whose w;
	int rc = whose_get(r, form_get(&r->form, "clinician"), &w);
	if (rc)
		return rc;
	struct ctx c = rctx(r);
	int64_t id = http_param_id(r, 0);
	if (!id || (rc = editors_exception_remove(&c, w.id, id))) {
		json_decref(w.clinicians);
		return id ? rc : ERR_NOT_FOUND;
	}
	return back_to(r, &w, "removed");
}

/* ==== offerings ================================================================= */

static const char *const OFFERINGS_DONE[][2] = {
    {"created", "Offering created."},
    {"updated", "Offering saved. Existing bookings keep their times."},
    {"deleted", "Offering deleted."},
    {"deactivated", "The offering has bookings, so it was deactivated instead of deleted: clients no longer "
                    "see it, and its bookings stay as they are."},
};

static const char *kind_label(const char *k)
{
	return !strcmp(k, "consult") ? "Consultation" : !strcmp(k, "intensive") ? "Intensive" : "Session";
}

int editors_http_offerings(struct req *r)
{
	struct ctx c = rctx(r);
	json_t *rows;
	int rc = editors_offerings(&c, &rows);
	if (rc)
		return rc;
	size_t i;
	json_t *o;
	json_array_foreach(rows, i, o)
	{
		json_object_set_new(o, "kind_text",
		                    json_string(kind_label(json_string_value(json_object_get(o, "kind")))));
	}
	json_t *view = admin_http_page_view(r, "Offerings");
	json_object_set_new(view, "offerings", rows);
	json_object_set_new(view, "owner", json_boolean(r->session->owner));
	const char *done = done_text(http_query_param(r, "done"), OFFERINGS_DONE, ARRAY_LEN(OFFERINGS_DONE));
	if (done)
		json_object_set_new(view, "notice", json_string(done));
	return http_send_page(r, 200, "admin/offerings", view);
}

/* The scalar fields of the offering form, as typed. */
static const char *const OFFERING_FIELDS[] = {"slug",
                                              "name",
                                              "kind",
                                              "description",
                                              "days",
                                              "duration_minutes",
                                              "day_start",
                                              "day_end",
                                              "price",
                                              "deposit",
                                              "currency",
                                              "requires_approval",
                                              "location_kind",
                                              "location",
                                              "buffer_before_minutes",
                                              "buffer_after_minutes",
                                              "min_notice_minutes",
                                              "horizon_days",
                                              "slot_interval_minutes",
                                              "min_rest_days",
                                              "cap_per_week",
                                              "cap_per_month",
                                              "hold_minutes",
                                              "cancel_window_hours",
                                              "intake_form",
                                              "series_max",
                                              "sort_order",
                                              "active"};

static const char *sval(json_t *values, const char *k)
{
	const char *s = json_string_value(json_object_get(values, k));
	return s ? s : "";
}

/* The form's view from canonical values: {fields…, weekdays (mask),
 * clinician_ids [ids], breaks [{start, end, label}]}. */
static int offering_view(struct req *r, json_t *view, json_t *values)
{
	struct ctx c = rctx(r);
	json_t *clinicians, *forms;
	int rc = editors_clinicians(&c, &clinicians);
	if (rc)
		return rc;
	if ((rc = editors_intake_forms(&c, &forms))) {
		json_decref(clinicians);
		return rc;
	}
	static const char *const kinds[][2] = {
	    {"consult", "Consultation (one appointment)"},
	    {"intensive", "Intensive (one or more full days)"},
	    {"session", "Session (one appointment, can be a weekly series)"}};
	static const char *const places[][2] = {
	    {"video", "Video call"}, {"in_person", "In person"}, {"phone", "Phone call"}};
	json_t *k = json_array(), *l = json_array(), *f = json_array(), *wd = json_array(), *b = json_array();
	for (size_t i = 0; i < ARRAY_LEN(kinds); i++)
		json_array_append_new(k,
		                      json_pack("{s:s, s:s, s:b}", "value", kinds[i][0], "label", kinds[i][1],
		                                "selected", !strcmp(sval(values, "kind"), kinds[i][0])));
	for (size_t i = 0; i < ARRAY_LEN(places); i++)
		json_array_append_new(l, json_pack("{s:s, s:s, s:b}", "value", places[i][0], "label",
		                                   places[i][1], "selected",
		                                   !strcmp(sval(values, "location_kind"), places[i][0])));
	json_array_append_new(f, json_pack("{s:s, s:s, s:b}", "value", "", "label", "None", "selected",
	                                   !*sval(values, "intake_form")));
	size_t i;
	json_t *x;
	json_array_foreach(forms, i, x)
	{
		const char *s = json_string_value(x);
		json_array_append_new(f, json_pack("{s:s, s:s, s:b}", "value", s, "label", s, "selected",
		                                   !strcmp(sval(values, "intake_form"), s)));
	}
	json_decref(forms);
	long mask = (long)json_integer_value(json_object_get(values, "weekdays"));
	for (int d = 0; d < 7; d++)
		json_array_append_new(wd, json_pack("{s:i, s:s, s:b}", "n", d + 1, "name", WEEKDAYS[d],
		                                    "checked", (mask >> d) & 1));
	json_t *ids = json_object_get(values, "clinician_ids");
	json_array_foreach(clinicians, i, x)
	{
		json_int_t id = json_integer_value(json_object_get(x, "id"));
		bool on = false;
		size_t j;
		json_t *y;
		json_array_foreach(ids, j, y)
		{
			on |= json_integer_value(y) == id;
		}
		json_object_set_new(x, "checked", json_boolean(on));
	}
	json_t *br = json_object_get(values, "breaks");
	for (int n = 0; n < EDITORS_MAX_BREAKS; n++) {
		json_t *one = json_array_get(br, (size_t)n);
		json_array_append_new(b, json_pack("{s:i, s:s, s:s, s:s}", "n", n + 1, "start",
		                                   sval(one, "start"), "end", sval(one, "end"), "label",
		                                   sval(one, "label")));
	}
	json_object_set_new(view, "kinds", k);
	json_object_set_new(view, "places", l);
	json_object_set_new(view, "intake_forms", f);
	json_object_set_new(view, "weekdays", wd);
	json_object_set_new(view, "clinicians", clinicians);
	json_object_set_new(view, "breaks", b);
	json_object_set(view, "values", values);
	return 0;
}

static int offering_render(struct req *r, int status, int64_t id, json_t *values, struct problems *p)
{
	json_t *view = admin_http_page_view(r, id ? "Edit offering" : "New offering");
	int rc = offering_view(r, view, values);
	json_decref(values);
	if (rc) {
		json_decref(view);
		if (p)
			problems_release(p);
		return rc;
	}
	json_object_set_new(view, "action",
	                    json_string(id ? arena_printf(r->a, "/admin/offerings/%lld", (long long)id)
	                                   : "/admin/offerings"));
	if (id) {
		json_object_set_new(view, "id", json_integer((json_int_t)id));
		json_object_set_new(
		    view, "remove_action",
		    json_string(arena_printf(r->a, "/admin/offerings/%lld/remove", (long long)id)));
	}
	json_object_set_new(view, "editing", json_boolean(id != 0));
	if (p) {
		size_t i;
		json_t *b;
		json_array_foreach(json_object_get(view, "breaks"), i, b)
		{
			json_t *e = json_object_get(p->by_field, arena_printf(r->a, "break%zu", i + 1));
			if (e)
				json_object_set(b, "error", e);
		}
		problems_take(p, view);
	}
	return http_send_page(r, status, "admin/offering_edit", view);
}

/* Canonical values from the stored offering. */
static json_t *values_from_db(struct arena *a, json_t *form)
{
	json_t *v = json_deep_copy(form);
	json_object_set_new(v, "weekdays", json_integer(strtol(sval(form, "start_weekdays"), NULL, 10)));
	json_t *ids = json_array();
	for (const char *p = sval(form, "clinicians"); *p;) {
		json_array_append_new(ids, json_integer(strtoll(p, NULL, 10)));
		p = strchr(p, ',');
		if (!p)
			break;
		p++;
	}
	json_object_set_new(v, "clinician_ids", ids);
	json_t *br = json_array();
	char *s = arena_strdup(a, sval(form, "breaks"));
	while (*s) {
		char *e = strchr(s, '|'), *l = e ? strchr(e + 1, '|') : NULL;
		if (!e || !l)
			break;
		*e = *l = '\0';
		char *next = strchr(l + 1, '|');
		if (next)
			*next = '\0';
		json_array_append_new(br,
		                      json_pack("{s:s, s:s, s:s}", "start", s, "end", e + 1, "label", l + 1));
		if (!next)
			break;
		s = next + 1;
	}
	json_object_set_new(v, "breaks", br);
	return v;
}

int editors_http_offering_new(struct req *r)
{
	if (!r->session->owner)
		return forbidden(r);
	struct ctx c = rctx(r);
	json_t *clinicians;
	int rc = editors_clinicians(&c, &clinicians);
	if (rc)
		return rc;
	json_t *ids = json_array();
	size_t i;
	json_t *x;
	json_array_foreach(clinicians, i, x)
	{
		json_array_append(ids, json_object_get(x, "id"));
	}
	json_decref(clinicians);
	json_t *v = json_pack(
	    "{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s,"
	    " s:s, s:I, s:o, s:[]}",
	    "kind", "consult", "days", "1", "duration_minutes", "50", "price", "0.00", "deposit", "0.00",
	    "currency", "USD", "location_kind", "video", "buffer_before_minutes", "0", "buffer_after_minutes",
	    "0", "min_notice_minutes", "1440", "horizon_days", "90", "slot_interval_minutes", "30",
	    "min_rest_days", "0", "hold_minutes", "10080", "cancel_window_hours", "48", "series_max", "1",
	    "sort_order", "0", "active", "on", "weekdays", (json_int_t)31, "clinician_ids", ids, "breaks");
	return offering_render(r, 200, 0, v, NULL);
}

int editors_http_offering_edit(struct req *r)
{
	if (!r->session->owner)
		return forbidden(r);
	struct ctx c = rctx(r);
	int64_t id = http_param_id(r, 0);
	json_t *form;
	int rc = id ? editors_offering_form(&c, id, &form) : ERR_NOT_FOUND;
	if (rc)
		return rc;
	json_t *v = values_from_db(r->a, form);
	json_decref(form);
	return offering_render(r, 200, id, v, NULL);
}

/* An integer field: "" allowed (0) when optional. */
static long int_field(struct req *r, struct problems *p, json_t *values, const char *name, long lo, long hi,
                      bool optional)
{
	const char *s = sval(values, name);
	long v = 0;
	if (optional && !*s)
		return 0;
	if (editors_parse_int(s, lo, hi, &v)) {
		problem(p, name, name,
		        optional
		            ? arena_printf(r->a, "Enter a whole number from %ld to %ld, or leave it empty.",
		                           lo, hi)
		            : arena_printf(r->a, "Enter a whole number from %ld to %ld.", lo, hi));
		return lo;
	}
	return v;
}

static bool slug_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > 63 || !(islower((unsigned char)s[0]) || isdigit((unsigned char)s[0])))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-')
			return false;
	return true;
}

/* Checks the posted offering form. values receives the canonical form as
 * typed (for a re-render); o the typed offering when p stays empty. */
static int offering_check(struct req *r, const char *fixed_slug, json_t **values_out,
                          struct editors_offering *o, struct problems *p)
{
	struct ctx c = rctx(r);
	json_t *v = json_object();
	*values_out = v;
	for (size_t i = 0; i < ARRAY_LEN(OFFERING_FIELDS); i++) {
		const char *name = OFFERING_FIELDS[i];
		bool text = !strcmp(name, "description");
		json_object_set_new(v, name, json_string(text ? field(r, name) : trimmed(r, name)));
	}
	if (fixed_slug)
		json_object_set_new(v, "slug", json_string(fixed_slug));
	long mask = 0;
	json_t *ids = json_array(), *br = json_array();
	for (size_t i = 0; i < r->form.n; i++) {
		const struct form_field *f = &r->form.fields[i];
		if (!strcmp(f->name, "weekday") && strlen(f->value) == 1 && f->value[0] >= '1' &&
		    f->value[0] <= '7')
			mask |= 1L << (f->value[0] - '1');
		if (!strcmp(f->name, "clinician") && http_parse_id(f->value))
			json_array_append_new(ids, json_integer(http_parse_id(f->value)));
	}
	json_object_set_new(v, "weekdays", json_integer(mask));
	json_object_set_new(v, "clinician_ids", ids);
	for (int n = 1; n <= EDITORS_MAX_BREAKS; n++)
		json_array_append_new(br, json_pack("{s:s, s:s, s:s}", "start",
		                                    trimmed(r, arena_printf(r->a, "break%d_start", n)), "end",
		                                    trimmed(r, arena_printf(r->a, "break%d_end", n)), "label",
		                                    trimmed(r, arena_printf(r->a, "break%d_label", n))));
	json_object_set_new(v, "breaks", br);

	memset(o, 0, sizeof(*o));
	o->slug = sval(v, "slug");
	if (!slug_ok(o->slug))
		problem(
		    p, "slug", "slug",
		    "Use 1 to 63 lower-case letters, digits and hyphens, starting with a letter or digit.");
	o->name = sval(v, "name");
	if (!*o->name || strlen(o->name) > 200)
		problem(p, "name", "name", "Give the offering a name of up to 200 characters.");
	o->kind = sval(v, "kind");
	bool intensive = !strcmp(o->kind, "intensive"), session = !strcmp(o->kind, "session");
	if (!intensive && !session && strcmp(o->kind, "consult"))
		problem(p, "kind", "kind", "Choose a kind from the list.");
	o->description = sval(v, "description");
	if (strlen(o->description) > 5000)
		problem(p, "description", "description", "Keep the description to 5000 characters or fewer.");
	o->days = 1;
	if (intensive)
		o->days = int_field(r, p, v, "days", 1, 5, false);
	else if (strcmp(sval(v, "days"), "1"))
		problem(p, "days", "days", "Only intensives last more than one day: enter 1.");
	int ds = 0, de = 0;
	o->day_start = o->day_end = "";
	if (intensive) {
		bool sok = !editors_parse_clock(sval(v, "day_start"), false, &ds);
		bool eok = !editors_parse_clock(sval(v, "day_end"), true, &de);
		if (!sok)
			problem(p, "day_start", "day_start",
			        "An intensive needs the time each day starts, like 09:00.");
		if (!eok)
			problem(p, "day_end", "day_end",
			        "An intensive needs the time each day ends, like 16:00.");
		if (sok && eok && (de - ds < 5 || de - ds > 720))
			problem(p, "day_end", "day_end",
			        "A day must end 5 minutes to 12 hours after it starts.");
		o->day_start = arena_strdup(r->a, sval(v, "day_start"));
		o->day_end = arena_strdup(r->a, sval(v, "day_end"));
		o->duration_minutes = de - ds; /* derived, as the table says */
	} else {
		o->duration_minutes = int_field(r, p, v, "duration_minutes", 5, 720, false);
	}
	if (editors_parse_money(sval(v, "price"), &o->price_cents))
		problem(p, "price", "price", "Enter a price like 175 or 175.00 (0 for free).");
	if (editors_parse_money(sval(v, "deposit"), &o->deposit_cents))
		problem(p, "deposit", "deposit", "Enter a deposit like 800 or 800.00 (0 for none).");
	else if (!json_object_get(p->by_field, "price") && o->deposit_cents > o->price_cents)
		problem(p, "deposit", "deposit", "The deposit cannot be more than the price.");
	char *cur = arena_strdup(r->a, sval(v, "currency"));
	for (char *q = cur; *q; q++)
		*q = (char)toupper((unsigned char)*q);
	o->currency = cur;
	if (strlen(cur) != 3 || strspn(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
		problem(p, "currency", "currency", "Enter a three-letter currency code, like USD.");
	o->requires_approval = *sval(v, "requires_approval") != '\0';
	o->location_kind = sval(v, "location_kind");
	if (strcmp(o->location_kind, "video") && strcmp(o->location_kind, "in_person") &&
	    strcmp(o->location_kind, "phone"))
		problem(p, "location_kind", "location_kind", "Choose where it happens from the list.");
	o->location = sval(v, "location");
	if (strlen(o->location) > 500)
		problem(p, "location", "location", "Keep the location to 500 characters or fewer.");
	o->buffer_before = int_field(r, p, v, "buffer_before_minutes", 0, 1440, false);
	o->buffer_after = int_field(r, p, v, "buffer_after_minutes", 0, 1440, false);
	o->min_notice = int_field(r, p, v, "min_notice_minutes", 0, 525600, false);
	o->horizon_days = int_field(r, p, v, "horizon_days", 1, 730, false);
	o->slot_interval = int_field(r, p, v, "slot_interval_minutes", 5, 1440, false);
	o->start_weekdays = mask;
	if (!mask)
		problem(p, "start_weekdays", "start_weekdays-error",
		        "Tick at least one weekday a booking may start on.");
	o->min_rest_days = int_field(r, p, v, "min_rest_days", 0, 60, false);
	o->cap_per_week = int_field(r, p, v, "cap_per_week", 1, 1000, true);
	o->cap_per_month = int_field(r, p, v, "cap_per_month", 1, 1000, true);
	o->hold_minutes = int_field(r, p, v, "hold_minutes", 5, 43200, false);
	o->cancel_window_hours = int_field(r, p, v, "cancel_window_hours", 0, 8760, false);
	o->series_max = 1;
	if (session)
		o->series_max = int_field(r, p, v, "series_max", 1, 52, false);
	else if (strcmp(sval(v, "series_max"), "1"))
		problem(p, "series_max", "series_max", "Only sessions can be booked as a series: enter 1.");
	o->sort_order = int_field(r, p, v, "sort_order", -100000, 100000, false);
	o->active = *sval(v, "active") != '\0';
	o->intake_form = sval(v, "intake_form");
	json_t *forms = NULL, *clinicians = NULL;
	int rc = editors_intake_forms(&c, &forms);
	if (!rc)
		rc = editors_clinicians(&c, &clinicians);
	if (rc) {
		json_decref(forms);
		return rc;
	}
	bool form_known = !*o->intake_form;
	size_t i;
	json_t *x;
	json_array_foreach(forms, i, x)
	{
		form_known |= !strcmp(json_string_value(x), o->intake_form);
	}
	json_decref(forms);
	bool screens = false;
	if (!form_known)
		problem(p, "intake_form", "intake_form", "Choose an intake form from the list.");
	else if (*o->intake_form && !o->requires_approval &&
	         (rc = editors_form_screens(&c, o->intake_form, &screens)) == 0 && screens)
		/* Otherwise a booking would be confirmed before anyone read
		 * the safety screen (SPEC §2: a hold is firm only once the
		 * clinician confirms). */
		problem(p, "requires_approval", "requires_approval",
		        "This intake form has a safety screen, so you must approve each booking after "
		        "reading it: tick this box, or choose a form without one.");
	if (rc) {
		json_decref(clinicians);
		return rc;
	}
	struct buf cl;
	buf_init(&cl, r->a, 4096);
	buf_putc(&cl, '{');
	int ncl = 0;
	json_array_foreach(ids, i, x)
	{
		bool known = false;
		size_t j;
		json_t *y;
		json_array_foreach(clinicians, j, y)
		{
			known |= json_integer_value(json_object_get(y, "id")) == json_integer_value(x);
		}
		if (known)
			buf_printf(&cl, "%s%lld", ncl++ ? "," : "", (long long)json_integer_value(x));
	}
	json_decref(clinicians);
	buf_putc(&cl, '}');
	o->clinicians = buf_cstr(&cl);
	if (o->active && !ncl)
		problem(p, "clinicians", "clinicians-error",
		        "Choose at least one clinician who provides it.");
	json_array_foreach(br, i, x)
	{
		const char *s = sval(x, "start"), *e = sval(x, "end"), *label = sval(x, "label");
		if (!*s && !*e && !*label)
			continue;
		const char *key = arena_printf(r->a, "break%zu", i + 1);
		const char *anchor = arena_printf(r->a, "break%zu_start", i + 1);
		int bs, be;
		if (editors_parse_clock(s, false, &bs) || editors_parse_clock(e, true, &be))
			problem(p, key, anchor, arena_printf(r->a, "Break %zu: %s", i + 1, MSG_CLOCK));
		else if (be <= bs)
			problem(p, key, anchor, arena_printf(r->a, "Break %zu: %s", i + 1, MSG_ORDER));
		else if (strlen(label) > 100)
			problem(p, key, anchor,
			        arena_printf(r->a, "Break %zu: keep the label to 100 characters or fewer.",
			                     i + 1));
		else if (intensive && !json_object_get(p->by_field, "day_start") &&
		         !json_object_get(p->by_field, "day_end") && (bs < ds || be > de))
			problem(p, key, anchor,
			        arena_printf(r->a, "Break %zu: a break must be inside the day.", i + 1));
		else if (intensive && o->nbreaks < EDITORS_MAX_BREAKS) {
			editors_format_clock(bs, o->breaks[o->nbreaks].starts, sizeof(o->breaks[0].starts));
			editors_format_clock(be, o->breaks[o->nbreaks].ends, sizeof(o->breaks[0].ends));
			o->breaks[o->nbreaks].label = *label ? label : "Break";
			o->nbreaks++;
		}
	}
	for (int a = 0; a < o->nbreaks; a++)
		for (int b = a + 1; b < o->nbreaks; b++)
			if (strcmp(o->breaks[a].starts, o->breaks[b].ends) < 0 &&
			    strcmp(o->breaks[b].starts, o->breaks[a].ends) < 0)
				problem(p, arena_printf(r->a, "break%d", b + 1),
				        arena_printf(r->a, "break%d_start", b + 1),
				        arena_printf(r->a, "Break %d: it overlaps another break.", b + 1));
	return 0;
}

static int offering_save(struct req *r, int64_t id)
{
	if (!r->session->owner)
		return forbidden(r);
	struct ctx c = rctx(r);
	const char *fixed_slug = NULL;
	if (id) {
		json_t *form;
		int rc = editors_offering_form(&c, id, &form);
		if (rc)
			return rc;
		fixed_slug = arena_strdup(r->a, sval(form, "slug"));
		json_decref(form);
	}
	json_t *values;
	struct editors_offering o;
	struct problems p;
	problems_init(&p);
	int rc = offering_check(r, fixed_slug, &values, &o, &p);
	if (rc) {
		problems_release(&p);
		json_decref(values);
		return rc;
	}
	if (!problems_any(&p)) {
		int64_t nid = id;
		rc = editors_offering_save(
		    &c, &nid, &o,
		    json_pack("{s:s, s:s, s:b}", "slug", o.slug, "kind", o.kind, "active", o.active));
		if (rc == ERR_CONFLICT)
			problem(&p, "slug", "slug", "Another offering already uses this web address name.");
		else if (rc) {
			problems_release(&p);
			json_decref(values);
			return rc;
		}
		if (!rc) {
			problems_release(&p);
			json_decref(values);
			return http_redirect(
			    r, 303, id ? "/admin/offerings?done=updated" : "/admin/offerings?done=created");
		}
	}
	return offering_render(r, 422, id, values, &p);
}

int editors_http_offering_create(struct req *r)
{
	return offering_save(r, 0);
}

int editors_http_offering_update(struct req *r)
{
	int64_t id = http_param_id(r, 0);
	if (!r->session->owner)
		return forbidden(r);
	return id ? offering_save(r, id) : ERR_NOT_FOUND;
}

int editors_http_offering_remove(struct req *r)
{
	if (!r->session->owner)
		return forbidden(r);
	struct ctx c = rctx(r);
	int64_t id = http_param_id(r, 0);
	bool deactivated = false;
	int rc = id ? editors_offering_remove(&c, id, &deactivated) : ERR_NOT_FOUND;
	if (rc)
		return rc;
	return http_redirect(
	    r, 303, deactivated ? "/admin/offerings?done=deactivated" : "/admin/offerings?done=deleted");
}

/* ==== the practice =============================================================== */

static const char *const PRACTICE_FIELDS[] = {"name",
                                              "timezone",
                                              "address",
                                              "phone",
                                              "email",
                                              "base_url",
                                              "cancellation_policy",
                                              "confidentiality_policy"};

static int practice_render(struct req *r, int status, json_t *values, struct problems *p)
{
	json_t *view = admin_http_page_view(r, "Practice settings");
	json_object_set_new(view, "values", values);
	if (p)
		problems_take(p, view);
	if (status == 200 && http_query_param(r, "done") && !strcmp(http_query_param(r, "done"), "saved"))
		json_object_set_new(view, "notice", json_string("Practice settings saved."));
	return http_send_page(r, status, "admin/practice", view);
}

static const char SQL_PRACTICE_FORM[] =
    "SELECT name, timezone, address, phone, email, base_url, cancellation_policy, confidentiality_policy"
    " FROM practice ORDER BY id LIMIT 1";

int editors_http_practice(struct req *r)
{
	if (!r->session->owner)
		return forbidden(r);
	PGresult *res;
	int rc = db_query(r->db, r->a, &res, SQL_PRACTICE_FORM);
	if (rc)
		return rc;
	if (PQntuples(res) != 1)
		return ERR_NOT_FOUND;
	json_t *v = json_object();
	for (int k = 0; k < PQnfields(res); k++)
		json_object_set_new(v, PQfname(res, k), json_string(db_val(res, 0, k)));
	return practice_render(r, 200, v, NULL);
}

int editors_http_practice_save(struct req *r)
{
	if (!r->session->owner)
		return forbidden(r);
	struct ctx c = rctx(r);
	json_t *v = json_object();
	for (size_t i = 0; i < ARRAY_LEN(PRACTICE_FIELDS); i++) {
		const char *name = PRACTICE_FIELDS[i];
		bool text = strstr(name, "policy") != NULL;
		json_object_set_new(v, name, json_string(text ? field(r, name) : trimmed(r, name)));
	}
	struct editors_practice pr = {sval(v, "name"),
	                              sval(v, "timezone"),
	                              sval(v, "address"),
	                              sval(v, "phone"),
	                              sval(v, "email"),
	                              sval(v, "base_url"),
	                              sval(v, "cancellation_policy"),
	                              sval(v, "confidentiality_policy")};
	struct problems p;
	problems_init(&p);
	const struct tz *z;
	if (!*pr.name || strlen(pr.name) > 200)
		problem(&p, "name", "name", "Give the practice a name of up to 200 characters.");
	if (!*pr.timezone || tz_get(pr.timezone, &z) || isdigit((unsigned char)pr.timezone[0]) ||
	    pr.timezone[0] == '+' || pr.timezone[0] == '-')
		problem(&p, "timezone", "timezone",
		        "Enter a time zone name like America/Chicago or Europe/Berlin.");
	if (strlen(pr.address) > 500)
		problem(&p, "address", "address", "Keep the address to 500 characters or fewer.");
	if (strlen(pr.phone) > 40 || strpbrk(pr.phone, "\r\n"))
		problem(&p, "phone", "phone", "Keep the phone number to 40 characters or fewer.");
	if (!json_object_get(p.by_field, "timezone")) {
		/* The database's own check (sql/0001) must agree, or the save would fail. */
		static const char SQL_TZ_OK[] = "SELECT tandem_valid_tz($1)";
		PGresult *res;
		int rc = db_query(r->db, r->a, &res, SQL_TZ_OK, pr.timezone);
		if (rc) {
			problems_release(&p);
			json_decref(v);
			return rc;
		}
		if (db_val(res, 0, 0)[0] != 't')
			problem(&p, "timezone", "timezone",
			        "Enter a time zone name like America/Chicago or Europe/Berlin.");
	}
	const char *at = strchr(pr.email, '@');
	if (*pr.email && (!at || at == pr.email || !at[1] || strchr(at + 1, '@') ||
	                  strpbrk(pr.email, " \t\r\n") || strlen(pr.email) > 254))
		problem(&p, "email", "email",
		        "Enter an email address like hello@example.com, or leave it empty.");
	if (*pr.base_url && ((strncmp(pr.base_url, "https://", 8) && strncmp(pr.base_url, "http://", 7)) ||
	                     strlen(pr.base_url) > 500 || strpbrk(pr.base_url, " \t\r\n\"<>")))
		problem(&p, "base_url", "base_url",
		        "Enter the address starting with https://, or leave it empty.");
	if (strlen(pr.cancellation_policy) > 20000)
		problem(&p, "cancellation_policy", "cancellation_policy",
		        "Keep the cancellation policy to 20000 characters or fewer.");
	if (strlen(pr.confidentiality_policy) > 20000)
		problem(&p, "confidentiality_policy", "confidentiality_policy",
		        "Keep the confidentiality policy to 20000 characters or fewer.");
	if (problems_any(&p))
		return practice_render(r, 422, v, &p);
	problems_release(&p);
	int changed = 0;
	int rc = editors_practice_save(&c, &pr, &changed);
	json_decref(v);
	if (rc)
		return rc;
	return http_redirect(r, 303, "/admin/practice?done=saved");
}
