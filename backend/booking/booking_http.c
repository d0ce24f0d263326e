/* booking_http.c — see booking_http.h. Handlers parse input into a
 * booking_request, call booking.c, and render; nothing here decides. */
#include "booking/booking_http.h"

#include "booking/booking_admin.h"

#include "avail/avail_http.h"
#include "avail/avail_load.h"
#include "booking/booking.h"
#include "core/humantime.h"
#include "offering/offering.h"
#include "crypto/crypto.h"
#include "ics/ics.h"
#include "mail/mail.h"
#include "practice/practice.h"

static struct ctx req_ctx(struct req *r, const char *actor)
{
	return (struct ctx){r->a, r->db, ctx_clock_now(), actor, r->remote_addr};
}

static struct mailer req_mailer(struct req *r)
{
	return (struct mailer){r->app->cfg, r->app->tpl, r->app->keys};
}

static char *param(struct req *r, int i)
{
	return arena_strndup(r->a, r->params[i].ptr, r->params[i].len);
}

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* ---- the JSON API ---------------------------------------------------- */

static int send_invalid(struct req *r, json_t *fields)
{
	return http_send_error(r, ERR_INVALID, "Some of the information is not valid.", fields);
}

int booking_http_api_create(struct req *r)
{
	json_t *j = r->json;
	if (!json_is_object(j))
		return http_send_error(r, ERR_MALFORMED, "The body must be a JSON object.", NULL);
	struct booking_request rq;
	memset(&rq, 0, sizeof(rq));
	json_t *fields = json_object();
	rq.offering = jstr(j, "offering");
	rq.start = jstr(j, "start");
	if (json_object_get(j, "offering") && !rq.offering)
		json_object_set_new(fields, "offering", json_string("Must be a string."));
	if (json_object_get(j, "start") && !rq.start)
		json_object_set_new(fields, "start", json_string("Must be a string."));
	json_t *clients = json_object_get(j, "clients");
	if (clients && !json_is_array(clients))
		json_object_set_new(fields, "clients", json_string("Must be a list of two people."));
	rq.nclients = json_is_array(clients) ? (int)json_array_size(clients) : 0;
	for (int i = 0; i < 2 && i < rq.nclients; i++) {
		json_t *cl = json_array_get(clients, (size_t)i);
		if (!json_is_object(cl)) {
			json_object_set_new(fields, arena_printf(r->a, "clients[%d]", i),
			                    json_string("Must be an object with name and email."));
			continue;
		}
		rq.clients[i].name = jstr(cl, "name");
		rq.clients[i].email = jstr(cl, "email");
		rq.clients[i].phone = jstr(cl, "phone");
		rq.clients[i].safe_contact = jstr(cl, "safe_contact");
	}
	json_t *consent = json_object_get(j, "consent");
	rq.consent = json_is_true(consent);
	rq.client_timezone = jstr(j, "client_timezone");
	if (rq.client_timezone && !*rq.client_timezone)
		rq.client_timezone = NULL;
	if (json_object_size(fields))
		return send_invalid(r, fields);
	json_decref(fields);
	const char *key = http_get_header(r, "Idempotency-Key");
	if (key) {
		size_t n = strlen(key);
		bool ok = n >= 1 && n <= 200;
		for (size_t i = 0; ok && i < n; i++)
			ok = key[i] > 0x20 && key[i] < 0x7f;
		if (!ok)
			return send_invalid(
			    r, json_pack("{s:s}", "Idempotency-Key", "1 to 200 visible ASCII characters."));
		rq.idempotency_key = key;
		char *canon = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		char hex[65];
		crypto_sha256_hex(canon, strlen(canon), hex);
		free(canon);
		rq.request_hash = arena_strdup(r->a, hex);
	}
	struct ctx c = req_ctx(r, "client");
	struct booking_result res;
	struct mailer m = req_mailer(r);
	int rc = booking_create(&c, &m, &rq, &res, &fields);
	if (rc == ERR_INVALID)
		return send_invalid(r, fields);
	if (fields)
		json_decref(fields);
	if (rc == ERR_SLOT_UNAVAILABLE)
		return http_send_error(r, rc, "That time is no longer available. Please choose another.",
		                       NULL);
	if (rc)
		return rc;
	return http_send_json(r, res.replayed ? res.replay_status : 201, res.response);
}

/* ---- the HTML booking form ------------------------------------------- */

static json_t *nearest(struct req *r, const char *slug, int64_t near);

static int form_view(struct req *r, const char *slug, const char *start, json_t **view)
{
	struct ctx c = req_ctx(r, "public");
	struct offering o;
	int rc = offering_get(&c, slug, &o);
	if (rc)
		return rc;
	struct practice p;
	if ((rc = practice_get(&c, &p)))
		return rc;
	*view =
	    json_pack("{s:o, s:o, s:s, s:s, s:s}", "practice", practice_to_view(&p), "offering",
	              offering_to_view(r->a, &o), "title", arena_printf(r->a, "Book: %s", o.name), "start",
	              start ? start : "", "action", arena_printf(r->a, "/offerings/%s/book", o.slug));
	int64_t t;
	const struct tz *z;
	if (start && tz_parse_rfc3339(start, &t) == 0 && tz_get(p.timezone, &z) == 0) {
		struct avail_clinician *cl;
		size_t ncl;
		int64_t who;
		struct avail_slot s;
		if (avail_clinicians(&c, &o, &cl, &ncl) == 0 &&
		    avail_check_start(&c, &o, t, 0, &who, &s) == 0) {
			json_t *blocks = json_array();
			for (int i = 0; i < s.nblocks; i++)
				json_array_append_new(
				    blocks,
				    json_pack("{s:s, s:s}", "date",
				              humantime_date(r->a, z, s.blocks[i].start), "time",
				              humantime_range(r->a, z, s.blocks[i].start, s.blocks[i].end)));
			json_object_set_new(*view, "blocks", blocks);
		}
	}
	return 0;
}

int booking_http_form(struct req *r)
{
	json_t *view;
	const char *start = http_query_param(r, "start");
	int rc = form_view(r, param(r, 0), start, &view);
	if (rc)
		return rc;
	if (!json_object_get(view, "blocks")) {
		int64_t t = 0;
		if (start)
			tz_parse_rfc3339(start, &t);
		json_object_set_new(view, "unavailable", json_true());
		json_object_set_new(view, "nearest", nearest(r, param(r, 0), t));
		return http_send_page(r, 409, "pages/book", view);
	}
	json_object_set_new(view, "values", json_pack("{s:s}", "safe0", "email"));
	return http_send_page(r, 200, "pages/book", view);
}

/* "clients[0].email" → "c0_email", the form's field names. */
static json_t *form_errors(struct arena *a, json_t *fields)
{
	json_t *out = json_object();
	const char *k;
	json_t *v;
	json_object_foreach(fields, k, v)
	{
		int i;
		char what[32];
		if (sscanf(k, "clients[%d].%31s", &i, what) == 2)
			json_object_set(out, arena_printf(a, "c%d_%s", i, what), v);
		else
			json_object_set(out, k, v);
	}
	json_decref(fields);
	return out;
}

/* Nearest free starts after a conflict: the next few the engine offers. */
static json_t *nearest(struct req *r, const char *slug, int64_t near)
{
	struct ctx c = req_ctx(r, "public");
	struct offering o;
	const struct tz *z;
	json_t *list = json_array();
	if (offering_get(&c, slug, &o) || tz_get(o.practice_timezone, &z))
		return list;
	int64_t from = avail_local_day(z, near > c.now ? near : c.now);
	struct avail_slot *s;
	size_t n;
	if (avail_for_offering(&c, &o, from, from + 60, &s, &n) != 0)
		return list;
	for (size_t i = 0; i < n && i < 5; i++) {
		char st[40];
		tz_format_rfc3339(z, s[i].start, st, sizeof(st));
		char *label = s[i].nblocks > 1
		                  ? arena_printf(r->a, "%s (%d days)", humantime_date(r->a, z, s[i].start),
		                                 s[i].nblocks)
		                  : arena_printf(r->a, "%s, %s", humantime_date(r->a, z, s[i].start),
		                                 humantime_range(r->a, z, s[i].start, s[i].end));
		json_array_append_new(list, json_pack("{s:s, s:s}", "label", label, "url",
		                                      arena_printf(r->a, "/offerings/%s/book?start=%s",
		                                                   o.slug, form_urlencode(r->a, st))));
	}
	return list;
}

int booking_http_form_post(struct req *r)
{
	const struct form *f = &r->form;
	char *slug = param(r, 0);
	struct booking_request rq;
	memset(&rq, 0, sizeof(rq));
	rq.offering = slug;
	rq.start = form_get(f, "start");
	rq.nclients = 2;
	static const char *const keys[2][4] = {{"c0_name", "c0_email", "c0_phone", "c0_safe_contact"},
	                                       {"c1_name", "c1_email", "c1_phone", "c1_safe_contact"}};
	for (int i = 0; i < 2; i++) {
		rq.clients[i].name = form_get(f, keys[i][0]);
		rq.clients[i].email = form_get(f, keys[i][1]);
		rq.clients[i].phone = form_get(f, keys[i][2]);
		rq.clients[i].safe_contact = form_get(f, keys[i][3]);
	}
	rq.consent = form_get(f, "consent") != NULL;
	const char *ctz = form_get(f, "client_timezone");
	const struct tz *dummy;
	rq.client_timezone =
	    ctz && *ctz && tz_get(ctz, &dummy) == 0 ? ctz : NULL; /* a hint, never an error */
	struct ctx c = req_ctx(r, "client");
	struct booking_result res;
	json_t *fields = NULL;
	struct mailer m = req_mailer(r);
	int rc = booking_create(&c, &m, &rq, &res, &fields);
	if (rc == 0) {
		json_decref(res.response);
		return http_redirect(r, 303, arena_printf(r->a, "/b/%s?created=1", res.manage_token));
	}
	if (rc != ERR_INVALID && rc != ERR_SLOT_UNAVAILABLE) {
		if (fields)
			json_decref(fields);
		return rc;
	}
	json_t *view;
	int vrc = form_view(r, slug, rq.start, &view);
	if (vrc) {
		if (fields)
			json_decref(fields);
		return vrc;
	}
	if (rc == ERR_SLOT_UNAVAILABLE) {
		if (fields)
			json_decref(fields);
		int64_t t = 0;
		if (rq.start)
			tz_parse_rfc3339(rq.start, &t);
		json_object_set_new(view, "unavailable", json_true());
		json_object_set_new(view, "nearest", nearest(r, slug, t));
		return http_send_page(r, 409, "pages/book", view);
	}
	/* Keep what was typed; show each message next to its field. */
	json_t *values = json_object();
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->fields[i].name, "start"))
			json_object_set_new(values, f->fields[i].name, json_string(f->fields[i].value));
	for (int i = 0; i < 2; i++) {
		const char *sc = rq.clients[i].safe_contact ? rq.clients[i].safe_contact : "email";
		json_object_set_new(values, arena_printf(r->a, "safe%d_%s", i, sc), json_true());
	}
	json_object_set_new(view, "values", values);
	json_t *errs = form_errors(r->a, fields);
	json_object_set_new(view, "has_errors", json_true());
	json_object_set_new(view, "errors", errs);
	json_t *start_err = json_object_get(errs, "start");
	if (start_err)
		json_object_set(view, "start_error", start_err);
	return http_send_page(r, 422, "pages/book", view);
}

/* ---- the manage pages -------------------------------------------------- */

static json_t *booking_json(struct arena *a, const struct booking_view *v, const struct tz *z)
{
	UNUSED(a);
	return json_pack("{s:I, s:s, s:s, s:s, s:o, s:i}", "id", (json_int_t)v->id, "reference", v->reference,
	                 "status", v->status, "offering", v->offering_slug, "blocks",
	                 booking_blocks_json(z, v->blocks, v->nblocks), "sequence", v->sequence);
}

static const char *status_text(const char *s)
{
	if (!strcmp(s, "held"))
		return "Dates reserved — waiting for your intake forms and the clinician's confirmation";
	if (!strcmp(s, "requested"))
		return "Requested — waiting for the clinician's confirmation";
	if (!strcmp(s, "confirmed"))
		return "Confirmed";
	if (!strcmp(s, "declined"))
		return "Declined";
	if (!strcmp(s, "cancelled"))
		return "Cancelled";
	if (!strcmp(s, "completed"))
		return "Completed";
	return "Marked as missed";
}

static json_t *blocks_view(struct arena *a, const struct booking_view *v, const struct tz *z,
                           const struct tz *cz)
{
	json_t *arr = json_array();
	for (int i = 0; i < v->nblocks; i++) {
		json_t *b = json_pack("{s:s, s:s}", "date", humantime_date(a, z, v->blocks[i].start), "time",
		                      humantime_range(a, z, v->blocks[i].start, v->blocks[i].end));
		if (cz && cz != z)
			json_object_set_new(
			    b, "client_time",
			    json_string(
			        arena_printf(a, "%s, %s", humantime_date(a, cz, v->blocks[i].start),
			                     humantime_range(a, cz, v->blocks[i].start, v->blocks[i].end))));
		json_array_append_new(arr, b);
	}
	return arr;
}

static int manage_view(struct req *r, const char *token, struct booking_view *v, json_t **view)
{
	struct ctx c = req_ctx(r, "client");
	int rc = booking_by_token(&c, token, v);
	if (rc)
		return rc;
	struct practice p;
	if ((rc = practice_get(&c, &p)))
		return rc;
	const struct tz *z, *cz = NULL;
	if (tz_get(v->practice_timezone, &z))
		return ERR_INTERNAL;
	if (v->client_timezone[0] && tz_get(v->client_timezone, &cz))
		cz = NULL;
	char *base = arena_printf(r->a, "/b/%s", token);
	/* The same person's own form: this token opens exactly one intake. */
	const char *intake = v->has_form && (!strcmp(v->status, "held") || !strcmp(v->status, "requested") ||
	                                     !strcmp(v->status, "confirmed"))
	                         ? arena_printf(r->a, "/intake/%s", token)
	                         : NULL;
	*view =
	    json_pack("{s:o, s:s, s:s, s:s, s:s, s:s, s:o, s:b, s:s, s:s, s:s, s:s, s:s}", "practice",
	              practice_to_view(&p), "title", arena_printf(r->a, "Booking %s", v->reference),
	              "reference", v->reference, "status", v->status, "status_text", status_text(v->status),
	              "offering_name", v->offering_name, "blocks", blocks_view(r->a, v, z, cz), "changeable",
	              v->changeable, "cancel_action", arena_printf(r->a, "%s/cancel", base), "invite_url",
	              arena_printf(r->a, "%s/invite.ics", base), "reschedule_url",
	              arena_printf(r->a, "%s/reschedule", base), "manage_url",
	              arena_printf(r->a, "%s%s", r->app->cfg->base_url, base), "timezone", tz_name(z));
	/* The partner's own link: the booking, read-only, nothing of the booker. */
	if (v->position != 1)
		json_object_set_new(*view, "read_only", json_true());
	if (cz && cz != z)
		json_object_set_new(*view, "client_timezone", json_string(tz_name(cz)));
	if (v->hold_expires_at)
		json_object_set_new(
		    *view, "hold_until",
		    json_string(arena_printf(r->a, "%s, %s", humantime_date(r->a, z, v->hold_expires_at),
		                             humantime_clock(r->a, z, v->hold_expires_at))));
	if (v->position == 1 && !v->changeable &&
	    (!strcmp(v->status, "held") || !strcmp(v->status, "requested") ||
	     !strcmp(v->status, "confirmed")))
		json_object_set_new(
		    *view, "closed_text",
		    json_string(arena_printf(r->a,
		                             "Online changes close %s before the start. To change or "
		                             "cancel, please contact the practice.",
		                             offering_window_text(r->a, v->cancel_window_hours))));
	json_object_set_new(*view, "cancellation_policy", json_string(p.cancellation_policy));
	if (intake)
		json_object_set_new(*view, "intake_url", json_string(intake));
	/* Other times the clinician proposed: the booker takes one here. */
	json_t *props;
	/* Taken even inside the cancellation window: the practice offered them. */
	bool request = !strcmp(v->status, "held") || !strcmp(v->status, "requested");
	if (v->position == 1 && request && (rc = booking_proposals(&c, v->id, &props)) == 0) {
		json_t *x;
		size_t i;
		json_array_foreach(props, i, x)
		{
			int64_t t = json_integer_value(json_object_get(x, "start"));
			char iso[40];
			tz_format_rfc3339(z, t, iso, sizeof(iso));
			json_object_set_new(x, "value", json_string(iso));
			json_object_set_new(
			    x, "label",
			    json_string(arena_printf(r->a, "%s, %s", humantime_date(r->a, z, t),
			                             humantime_clock(r->a, z, t))));
		}
		json_object_set_new(*view, "has_proposals", json_boolean(json_array_size(props) > 0));
		json_object_set_new(*view, "proposals", props);
	}
	if (rc) {
		json_decref(*view);
		*view = NULL;
	}
	return rc;
}

int booking_http_manage(struct req *r)
{
	char *token = param(r, 0);
	struct booking_view v;
	json_t *view;
	int rc = manage_view(r, token, &v, &view);
	if (rc == ERR_NOT_FOUND)
		return http_send_link_not_valid(r);
	if (rc)
		return rc;
	const char *q = http_query_param(r, "created");
	if (q)
		json_object_set_new(view, "created", json_true());
	if (http_query_param(r, "changed"))
		json_object_set_new(view, "changed", json_true());
	return http_send_page(r, 200, "pages/manage", view);
}

int booking_http_invite(struct req *r)
{
	char *token = param(r, 0);
	struct ctx c = req_ctx(r, "client");
	struct booking_view v;
	int rc = booking_by_token(&c, token, &v);
	if (rc == ERR_NOT_FOUND)
		return http_send_link_not_valid(r);
	if (rc)
		return rc;
	struct buf out;
	buf_init(&out, r->a, 256 * 1024);
	const char *method;
	rc = booking_invite(&c, r->app->keys, &v, arena_printf(r->a, "%s/b/%s", r->app->cfg->base_url, token),
	                    &out, &method);
	if (rc)
		return rc == ERR_INVALID ? ERR_INTERNAL : rc;
	http_add_header(r, "Content-Disposition", "attachment; filename=\"appointment.ics\"");
	return http_send(r, 200, ics_content_type(method), out.data, out.len);
}

static int api_after_change(struct req *r, const char *token)
{
	struct ctx c = req_ctx(r, "client");
	struct booking_view v;
	int rc = booking_by_token(&c, token, &v);
	if (rc)
		return rc;
	const struct tz *z;
	if (tz_get(v.practice_timezone, &z))
		return ERR_INTERNAL;
	return http_send_json(r, 200, booking_json(r->a, &v, z));
}

int booking_http_api_cancel(struct req *r)
{
	char *token = param(r, 0);
	struct ctx c = req_ctx(r, "client");
	const char *reason = json_is_object(r->json) ? jstr(r->json, "reason") : NULL;
	if (json_is_object(r->json) && json_object_get(r->json, "reason") && !reason)
		return send_invalid(r, json_pack("{s:s}", "reason", "Must be a string."));
	if (reason && strlen(reason) > 1000)
		return send_invalid(r, json_pack("{s:s}", "reason", "At most 1000 characters."));
	const char *why = NULL;
	struct mailer m = req_mailer(r);
	int rc = booking_cancel_by_token(&c, &m, token, reason, &why);
	if (rc == ERR_NOT_FOUND)
		return http_send_link_not_valid(r);
	if (rc == ERR_CONFLICT || rc == ERR_FORBIDDEN)
		return http_send_error(r, rc, why, NULL);
	if (rc)
		return rc;
	return api_after_change(r, token);
}

int booking_http_api_reschedule(struct req *r)
{
	char *token = param(r, 0);
	if (!json_is_object(r->json))
		return http_send_error(r, ERR_MALFORMED, "The body must be a JSON object.", NULL);
	struct ctx c = req_ctx(r, "client");
	const char *why = NULL;
	json_t *fields = NULL;
	struct mailer m = req_mailer(r);
	int rc = booking_reschedule_by_token(&c, &m, token, jstr(r->json, "start"), &fields, &why);
	if (rc == ERR_NOT_FOUND)
		return http_send_link_not_valid(r);
	if (rc == ERR_INVALID)
		return send_invalid(r, fields);
	if (rc == ERR_CONFLICT || rc == ERR_FORBIDDEN)
		return http_send_error(r, rc, why, NULL);
	if (rc == ERR_SLOT_UNAVAILABLE)
		return http_send_error(r, rc, "That time is no longer available. Please choose another.",
		                       NULL);
	if (rc)
		return rc;
	return api_after_change(r, token);
}

int booking_http_cancel_post(struct req *r)
{
	char *token = param(r, 0);
	struct ctx c = req_ctx(r, "client");
	const char *why = NULL;
	struct mailer m = req_mailer(r);
	int rc = booking_cancel_by_token(&c, &m, token, form_get(&r->form, "reason"), &why);
	if (rc == ERR_NOT_FOUND)
		return http_send_link_not_valid(r);
	if (rc == ERR_INVALID)
		why = "A reason is at most 1000 characters.";
	if (rc && rc != ERR_CONFLICT && rc != ERR_INVALID && rc != ERR_FORBIDDEN)
		return rc;
	if (rc) {
		struct booking_view v;
		json_t *view;
		int vrc = manage_view(r, token, &v, &view);
		if (vrc)
			return vrc;
		json_object_set_new(view, "error", json_string(why));
		return http_send_page(r, http_status_for(rc), "pages/manage", view);
	}
	return http_redirect(r, 303, arena_printf(r->a, "/b/%s?changed=1", token));
}

int booking_http_reschedule_page(struct req *r)
{
	char *token = param(r, 0);
	struct booking_view v;
	json_t *view;
	int rc = manage_view(r, token, &v, &view);
	if (rc == ERR_NOT_FOUND)
		return http_send_link_not_valid(r);
	if (rc)
		return rc;
	if (!v.changeable)
		return http_send_page(r, 200, "pages/manage", view);
	char *base = arena_printf(r->a, "/b/%s/reschedule", token);
	struct ctx c = req_ctx(r, "client");
	struct offering o;
	if ((rc = offering_for_booking(&c, v.id, &o))) {
		json_decref(view);
		return rc;
	}
	rc = avail_http_calendar(r, &o, http_query_param(r, "month"), http_query_param(r, "date"), base, base,
	                         view);
	if (rc) {
		json_decref(view);
		return rc;
	}
	const char *start = http_query_param(r, "start");
	int64_t t;
	const struct tz *z;
	if (start && tz_parse_rfc3339(start, &t) == 0 && tz_get(v.practice_timezone, &z) == 0)
		json_object_set_new(view, "confirm",
		                    json_pack("{s:s, s:s, s:s}", "start", start, "label",
		                              arena_printf(r->a, "%s, %s", humantime_date(r->a, z, t),
		                                           humantime_clock(r->a, z, t)),
		                              "action", base));
	return http_send_page(r, 200, "pages/reschedule", view);
}

int booking_http_reschedule_post(struct req *r)
{
	char *token = param(r, 0);
	struct ctx c = req_ctx(r, "client");
	const char *why = NULL;
	json_t *fields = NULL;
	struct mailer m = req_mailer(r);
	int rc = booking_reschedule_by_token(&c, &m, token, form_get(&r->form, "start"), &fields, &why);
	if (rc == ERR_NOT_FOUND)
		return http_send_link_not_valid(r);
	if (rc == 0)
		return http_redirect(r, 303, arena_printf(r->a, "/b/%s?changed=1", token));
	if (rc != ERR_INVALID && rc != ERR_CONFLICT && rc != ERR_SLOT_UNAVAILABLE && rc != ERR_FORBIDDEN)
		return rc;
	struct booking_view v;
	json_t *view;
	int vrc = manage_view(r, token, &v, &view);
	if (vrc) {
		if (fields)
			json_decref(fields);
		return vrc;
	}
	const char *msg = why;
	if (rc == ERR_SLOT_UNAVAILABLE)
		msg = "That time is no longer available. Please choose another.";
	else if (rc == ERR_INVALID && json_string_value(json_object_get(fields, "start")))
		msg = arena_strdup(r->a, json_string_value(json_object_get(fields, "start")));
	if (fields)
		json_decref(fields);
	json_object_set_new(view, "error", json_string(msg ? msg : "That did not work. Please try again."));
	return http_send_page(r, http_status_for(rc), "pages/manage", view);
}
