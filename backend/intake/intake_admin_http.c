/* intake_admin_http.c — the clinician's reading of a booking's intakes
 * (see intake_http.h): both clients side by side, question by question,
 * with differences marked, a chart of the scale answers, flags first, and
 * an export. Every read is written to the audit log before anything is
 * shown; no record of the read, no read. */
#include "intake/intake_http.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "admin/admin.h"
#include "admin/admin_http.h"
#include "admin/audit.h"
#include "admin/dashview.h"
#include "core/err.h"
#include "core/humantime.h"
#include "intake/intake.h"

static void decref(void *p)
{
	json_decref(p);
}

/* Loads the pair after checking the clinician may see the booking, and
 * records the read as action. */
static int load(struct req *r, const char *action, json_t **booking, json_t **doc)
{
	int64_t id = http_param_id(r, 0);
	if (!id)
		return ERR_NOT_FOUND;
	struct ctx c = {r->a, r->db, ctx_clock_now(), r->session->actor, r->remote_addr};
	struct admin_viewer v = {r->session->clinician_id, r->session->owner};
	int rc = admin_booking_get(&c, &v, id, booking);
	if (rc)
		return rc;
	arena_on_release(r->a, decref, *booking);
	if ((rc = intake_for_booking(&c, r->app->keys, id, doc)))
		return rc;
	arena_on_release(r->a, decref, *doc);
	return audit_write(&c, action, arena_printf(r->a, "booking:%lld", (long long)id), NULL);
}

int intake_http_admin_export(struct req *r)
{
	json_t *b, *doc;
	int rc = load(r, "intake.export", &b, &doc);
	if (rc)
		return rc;
	json_object_set(doc, "reference", json_object_get(b, "reference"));
	json_object_set(doc, "needs_review", json_object_get(b, "needs_review"));
	http_add_header(r, "Content-Disposition",
	                arena_printf(r->a, "attachment; filename=\"intake-%s.json\"",
	                             json_string_value(json_object_get(b, "reference"))));
	return http_send_json(r, 200, json_incref(doc));
}

static const char *state_label(const char *s)
{
	if (!strcmp(s, "submitted"))
		return "Sent";
	if (!strcmp(s, "draft"))
		return "In progress";
	return "Not started";
}

enum { CHART_W = 240, ROW_H = 44 };

int intake_http_admin_view(struct req *r)
{
	json_t *b, *doc;
	int rc = load(r, "intake.view", &b, &doc);
	if (rc)
		return rc;
	const struct tz *z = admin_http_zone(r);
	json_t *clients = json_object_get(doc, "clients");
	json_t *def = json_object_get(doc, "definition");
	json_t *a0 = json_object_get(json_array_get(clients, 0), "answers");
	json_t *a1 = json_object_get(json_array_get(clients, 1), "answers");
	/* Who is who, and flags first. */
	json_t *people = json_array(), *flags = json_array();
	size_t i, j;
	json_t *cl;
	json_array_foreach(clients, i, cl)
	{
		int pos = (int)json_integer_value(json_object_get(cl, "position"));
		const char *who = pos == 1 ? "Partner 1 (booked)" : "Partner 2";
		json_t *p = json_pack("{s:s, s:s}", "who", who, "state",
		                      state_label(json_string_value(json_object_get(cl, "state"))));
		json_int_t at = json_integer_value(json_object_get(cl, "submitted_at"));
		if (at)
			json_object_set_new(
			    p, "sent",
			    json_string(arena_printf(r->a, "%s, %s", humantime_date(r->a, z, at),
			                             humantime_clock(r->a, z, at))));
		if (json_is_string(json_object_get(cl, "signature")))
			json_object_set(p, "signature", json_object_get(cl, "signature"));
		json_array_append_new(people, p);
		json_t *f;
		json_array_foreach(json_object_get(cl, "flags"), j, f)
		{
			const char *kind = json_string_value(f);
			json_array_append_new(flags,
			                      json_pack("{s:s, s:O, s:s}", "who", who, "flag", f, "label",
			                                kind ? dashview_flag_label(kind) : "?"));
		}
	}
	/* Question by question, and the scale answers as bars. */
	json_t *pages = json_array(), *scales = json_array();
	json_t *page, *q;
	int nscale = 0;
	json_array_foreach(json_object_get(def, "pages"), i, page)
	{
		json_t *rows = json_array();
		json_array_foreach(json_object_get(page, "questions"), j, q)
		{
			const char *id = json_string_value(json_object_get(q, "id"));
			json_t *v0 = json_object_get(a0, id), *v1 = json_object_get(a1, id);
			const char *t0 = intake_answer_text(r->a, q, v0),
			           *t1 = intake_answer_text(r->a, q, v1);
			bool differ = (v0 || v1) && !(v0 && v1 && json_equal(v0, v1));
			json_array_append_new(rows,
			                      json_pack("{s:s, s:s, s:s, s:b}", "label",
			                                json_string_value(json_object_get(q, "label")), "a",
			                                t0, "b", t1, "differ", differ && *t0 && *t1));
			if (strcmp(json_string_value(json_object_get(q, "type")), "scale"))
				continue;
			json_int_t mn = json_integer_value(json_object_get(q, "min"));
			json_int_t mx = json_integer_value(json_object_get(q, "max"));
			int y = 20 + nscale * ROW_H;
			json_t *s =
			    json_pack("{s:s, s:i, s:i, s:i, s:i, s:I, s:I}", "label",
			              json_string_value(json_object_get(q, "label")), "y", y, "y_a", y + 6,
			              "y_b", y + 20, "y_text", y - 4, "min", mx > mn ? mn : 0, "max", mx);
			if (json_is_integer(v0))
				json_object_set_new(
				    s, "w_a",
				    json_integer((json_integer_value(v0) - mn) * CHART_W / (mx - mn) + 2));
			if (json_is_integer(v1))
				json_object_set_new(
				    s, "w_b",
				    json_integer((json_integer_value(v1) - mn) * CHART_W / (mx - mn) + 2));
			json_object_set_new(s, "a", json_string(t0));
			json_object_set_new(s, "b", json_string(t1));
			json_array_append_new(scales, s);
			nscale++;
		}
		json_array_append_new(pages, json_pack("{s:s, s:o}", "title",
		                                       json_string_value(json_object_get(page, "title")),
		                                       "rows", rows));
	}
	json_t *view = admin_http_page_view(
	    r, arena_printf(r->a, "Intake for %s", json_string_value(json_object_get(b, "reference"))));
	json_object_set(view, "booking", b);
	json_object_set_new(view, "people", people);
	json_object_set_new(view, "has_flags", json_boolean(json_array_size(flags) > 0));
	json_object_set_new(view, "flags", flags);
	json_object_set_new(view, "pages", pages);
	json_object_set_new(view, "has_form", json_boolean(json_is_object(def)));
	if (nscale)
		json_object_set_new(view, "chart",
		                    json_pack("{s:o, s:i, s:i, s:i}", "scales", scales, "height",
		                              20 + nscale * ROW_H, "width", CHART_W + 60, "bar_x", 10));
	else
		json_decref(scales);
	json_object_set_new(
	    view, "export_url",
	    json_string(arena_printf(r->a, "/admin/bookings/%lld/intake.json",
	                             (long long)json_integer_value(json_object_get(b, "id")))));
	return http_send_page(r, 200, "admin/intake", view);
}
