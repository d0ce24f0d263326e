/* booking_actions.c — see booking_actions.h. */
#include "admin/booking_actions.h"

#include <ctype.h>

#include "admin/admin.h"
#include "admin/admin_http.h"
#include "admin/audit.h"
#include "admin/dashview.h"
#include "avail/avail_load.h"
#include "booking/booking_admin.h"
#include "core/humantime.h"
#include "intake/intake.h"
#include "mail/mail.h"

enum { START_OPTIONS_MAX = 200 };

static struct ctx rctx(struct req *r)
{
	return (struct ctx){r->a, r->db, ctx_clock_now(), r->session->actor, r->remote_addr};
}

/* What ?done= may say: a fixed list, so the URL carries no text. */
static const struct {
	const char *key, *text;
} DONE[] = {
    {"approved", "Approved: each client was sent the confirmation and the invite."},
    {"declined", "Declined: each client was told."},
    {"cancelled", "Cancelled: each client was sent the cancellation."},
    {"rescheduled", "Moved: each client was sent the updated invite."},
    {"completed", "Marked completed."},
    {"no_show", "Marked as a no-show."},
    {"proposed", "The other times were sent to the person who booked."},
    {"day_moved", "The day was moved: each client was sent the updated invite."},
    {"day_cancelled", "The day was cancelled: each client was sent the updated invite."},
    {"noted", "Note saved."},
};

struct act_tx {
	struct ctx *c;
	const struct mailer *m;
	struct booking_act *a;
	const char *action; /* audit action */
};

static int act_tx(struct db *db, void *arg)
{
	(void)db;
	struct act_tx *t = arg;
	struct booking_act *a = t->a;
	int rc = booking_act(t->c, t->m, a);
	if (rc)
		return rc;
	/* Ids and states only: never the message, the note or a name. */
	json_t *detail = json_pack("{s:s, s:s}", "from", a->from, "to", a->to ? a->to : a->from);
	if (!detail)
		core_oom();
	if (a->kind == BOOKING_APPROVE && a->needs_review)
		json_object_set_new(detail, "reviewed", json_true());
	if (a->kind == BOOKING_MOVE_DAY || a->kind == BOOKING_CANCEL_DAY)
		json_object_set_new(detail, "day", json_integer(a->day));
	return audit_write(t->c, t->action, arena_printf(t->c->a, "booking:%lld", (long long)a->id), detail);
}

/* The booking must be the clinician's to see (else 404, like a missing one). */
static int reachable(struct req *r, struct ctx *c, int64_t id)
{
	if (!id)
		return ERR_NOT_FOUND;
	struct admin_viewer v = {r->session->clinician_id, r->session->owner};
	json_t *b;
	int rc = admin_booking_get(c, &v, id, &b);
	if (rc)
		return rc;
	json_decref(b);
	return 0;
}

static int act(struct req *r, struct booking_act *a, const char *action, const char *done)
{
	struct ctx c = rctx(r);
	a->id = http_param_id(r, 0);
	int rc = reachable(r, &c, a->id);
	if (rc)
		return rc;
	a->clinician_id = r->session->clinician_id;
	a->version = form_get(&r->form, "version");
	const char *rv = form_get(&r->form, "reviewed");
	a->reviewed = rv && !strcmp(rv, "yes");
	struct mailer m = {r->app->cfg, r->app->tpl, r->app->keys};
	struct act_tx t = {&c, &m, a, action};
	rc = db_tx(c.db, "READ COMMITTED", act_tx, &t);
	json_t *fields = a->fields;
	if (!rc) {
		if (fields)
			json_decref(fields);
		return http_redirect(
		    r, 303, arena_printf(r->a, "/admin/bookings/%lld?done=%s", (long long)a->id, done));
	}
	const char *msg = a->why;
	if (!msg && fields && json_object_size(fields)) {
		const char *k;
		json_t *v;
		json_object_foreach(fields, k, v)
		{
			msg = arena_strdup(r->a, json_string_value(v));
			break;
		}
	}
	if (fields)
		json_decref(fields);
	if (rc == ERR_SLOT_UNAVAILABLE)
		return http_send_error(r, ERR_CONFLICT, "That time is no longer free. Please choose another.",
		                       NULL);
	if (rc == ERR_CONFLICT || rc == ERR_INVALID)
		return http_send_error(r, rc, msg, NULL);
	return rc;
}

int booking_actions_approve(struct req *r)
{
	struct booking_act a = {.kind = BOOKING_APPROVE};
	return act(r, &a, "booking.approve", "approved");
}

int booking_actions_decline(struct req *r)
{
	struct booking_act a = {.kind = BOOKING_DECLINE, .message = form_get(&r->form, "message")};
	return act(r, &a, "booking.decline", "declined");
}

int booking_actions_cancel(struct req *r)
{
	struct booking_act a = {.kind = BOOKING_CANCEL, .message = form_get(&r->form, "reason")};
	return act(r, &a, "booking.cancel", "cancelled");
}

int booking_actions_reschedule(struct req *r)
{
	struct booking_act a = {.kind = BOOKING_RESCHEDULE, .start = form_get(&r->form, "start")};
	return act(r, &a, "booking.reschedule", "rescheduled");
}

int booking_actions_complete(struct req *r)
{
	struct booking_act a = {.kind = BOOKING_COMPLETE};
	return act(r, &a, "booking.complete", "completed");
}

int booking_actions_no_show(struct req *r)
{
	struct booking_act a = {.kind = BOOKING_NO_SHOW};
	return act(r, &a, "booking.no_show", "no_show");
}

int booking_actions_propose(struct req *r)
{
	struct booking_act a = {.kind = BOOKING_PROPOSE};
	static const char *const names[] = {"start1", "start2", "start3"};
	for (size_t i = 0; i < ARRAY_LEN(names); i++) {
		const char *s = form_get(&r->form, names[i]);
		if (!s || !*s)
			continue;
		bool dup = false;
		for (int k = 0; k < a.nstarts; k++)
			dup = dup || !strcmp(a.starts[k], s);
		if (!dup)
			a.starts[a.nstarts++] = s;
	}
	return act(r, &a, "booking.propose", "proposed");
}

static int day_of(struct req *r)
{
	const char *d = form_get(&r->form, "day");
	if (!d || strlen(d) != 1 || !isdigit((unsigned char)d[0]))
		return 0;
	return d[0] - '0';
}

int booking_actions_move_day(struct req *r)
{
	struct booking_act a = {.kind = BOOKING_MOVE_DAY, .day = day_of(r)};
	struct ctx c = rctx(r);
	int rc = reachable(r, &c, http_param_id(r, 0)); /* 404 before any word about the form */
	if (rc)
		return rc;
	/* From <input type="datetime-local">: "YYYY-MM-DDTHH:MM" in the
	 * clinician's zone; or RFC 3339 with an offset. */
	const char *s = form_get(&r->form, "start");
	int64_t t = 0;
	if (s && strlen(s) == 16 && s[10] == 'T') {
		int64_t day;
		char date[11];
		memcpy(date, s, 10);
		date[10] = '\0';
		if (tz_parse_date(date, &day) == 0 && isdigit((unsigned char)s[11]) &&
		    isdigit((unsigned char)s[12]) && s[13] == ':' && isdigit((unsigned char)s[14]) &&
		    isdigit((unsigned char)s[15])) {
			int hh = (s[11] - '0') * 10 + (s[12] - '0'), mm = (s[14] - '0') * 10 + (s[15] - '0');
			if (hh < 24 && mm < 60)
				t = tz_local_to_utc(admin_http_zone(r), day * 86400 + hh * 3600 + mm * 60,
				                    NULL);
		}
	} else if (s) {
		if (tz_parse_rfc3339(s, &t))
			t = 0;
	}
	if (t <= 0 || !a.day)
		return http_send_error(r, ERR_INVALID, "Choose a day of this booking and its new start.",
		                       NULL);
	a.day_start = t;
	return act(r, &a, "booking.move_day", "day_moved");
}

int booking_actions_cancel_day(struct req *r)
{
	struct booking_act a = {.kind = BOOKING_CANCEL_DAY, .day = day_of(r)};
	struct ctx c = rctx(r);
	int rc = reachable(r, &c, http_param_id(r, 0));
	if (rc)
		return rc;
	if (!a.day)
		return http_send_error(r, ERR_INVALID, "Choose a day of this booking.", NULL);
	return act(r, &a, "booking.cancel_day", "day_cancelled");
}

struct note_tx {
	struct ctx *c;
	const struct keyring *k;
	int64_t booking, author, id;
	const char *text;
};

static int note_tx(struct db *db, void *arg)
{
	(void)db;
	struct note_tx *t = arg;
	int rc = booking_note_add(t->c, t->k, t->booking, t->author, t->text, &t->id);
	if (rc)
		return rc;
	return audit_write(t->c, "booking.note", arena_printf(t->c->a, "booking:%lld", (long long)t->booking),
	                   json_pack("{s:I}", "note", (json_int_t)t->id));
}

int booking_actions_note(struct req *r)
{
	struct ctx c = rctx(r);
	int64_t id = http_param_id(r, 0);
	int rc = reachable(r, &c, id);
	if (rc)
		return rc;
	const char *text = form_get(&r->form, "note");
	struct note_tx t = {&c, r->app->keys, id, r->session->clinician_id, 0, text};
	rc = db_tx(c.db, "READ COMMITTED", note_tx, &t);
	if (rc == ERR_INVALID)
		return http_send_error(r, rc, "A note is text of 1 to 10000 characters.", NULL);
	if (rc)
		return rc;
	return http_redirect(r, 303, arena_printf(r->a, "/admin/bookings/%lld?done=noted", (long long)id));
}

/* ---- the page's part --------------------------------------------------------- */

static const char *label_of(struct arena *a, const struct tz *z, int64_t t)
{
	return arena_printf(a, "%s, %s", humantime_date(a, z, t), humantime_clock(a, z, t));
}

/* The starts the booking could move to (the engine's, from now to the
 * offering's horizon, at most START_OPTIONS_MAX): [{value, label}]. */
static int start_options(struct req *r, struct ctx *c, const struct booking_view *bv, const struct tz *z,
                         json_t **out)
{
	/* Only the booking's own clinician's starts; none once the offering
	 * is no longer offered. */
	struct offering o;
	int rc = offering_for_booking(c, bv->id, &o);
	if (rc)
		return rc;
	if (!*o.clinicians) {
		*out = json_array();
		return 0;
	}
	const struct tz *pz;
	if (tz_get(bv->practice_timezone, &pz))
		return ERR_INTERNAL;
	int64_t today = avail_local_day(pz, c->now);
	struct avail_slot *slots;
	size_t n;
	if ((rc = avail_for_offering(c, &o, today, today + o.horizon_days, &slots, &n)))
		return rc == ERR_INVALID ? 0 : rc;
	json_t *arr = json_array();
	for (size_t i = 0; i < n && json_array_size(arr) < START_OPTIONS_MAX; i++) {
		if (slots[i].start == bv->starts_at)
			continue;
		char v[40];
		tz_format_rfc3339(pz, slots[i].start, v, sizeof(v));
		json_array_append_new(
		    arr, json_pack("{s:s, s:s}", "value", v, "label", label_of(r->a, z, slots[i].start)));
	}
	*out = arr;
	return 0;
}

int booking_actions_view(struct req *r, json_t *b)
{
	struct ctx c = rctx(r);
	int64_t id = json_integer_value(json_object_get(b, "id"));
	const char *status = json_string_value(json_object_get(b, "status"));
	const struct tz *z = admin_http_zone(r);
	const char *version;
	int rc = booking_version(&c, id, &version);
	if (rc)
		return rc;
	json_object_set_new(b, "version", json_string(version));
	bool request = !strcmp(status, "held") || !strcmp(status, "requested");
	bool open = request || !strcmp(status, "confirmed");
	bool over = json_integer_value(json_object_get(b, "ends")) <= c.now;
	json_object_set_new(b, "can_approve", json_boolean(request));
	json_object_set_new(b, "can_decline", json_boolean(request));
	json_object_set_new(b, "can_propose", json_boolean(request));
	json_object_set_new(b, "can_cancel", json_boolean(open));
	json_object_set_new(b, "can_reschedule", json_boolean(open));
	json_object_set_new(b, "can_close", json_boolean(!strcmp(status, "confirmed") && over));
	json_object_set_new(b, "open", json_boolean(open));
	const char *done = http_query_param(r, "done");
	for (size_t i = 0; done && i < ARRAY_LEN(DONE); i++)
		if (!strcmp(done, DONE[i].key))
			json_object_set_new(b, "done", json_string(DONE[i].text));
	/* Days of a multi-day booking, for moving or cancelling one. */
	json_t *blocks = json_object_get(b, "blocks"), *x;
	size_t i;
	if (open && json_array_size(blocks) > 1) {
		json_t *days = json_array();
		json_array_foreach(blocks, i, x)
		{
			/* A cancelled day can be neither moved nor cancelled again. */
			if (json_is_true(json_object_get(x, "cancelled")))
				continue;
			json_array_append_new(days, json_pack("{s:i, s:O}", "day", (int)i + 1, "date",
			                                      json_object_get(x, "date")));
		}
		if (json_array_size(days) > 0) {
			json_object_set_new(b, "days_list", days);
			json_object_set_new(b, "has_days", json_true());
		} else {
			json_decref(days);
		}
	}
	/* Screening flags: which partner's answers raised which. */
	if (json_is_true(json_object_get(b, "needs_review"))) {
		json_t *doc;
		if ((rc = intake_for_booking(&c, r->app->keys, id, &doc)))
			return rc;
		json_t *flags = json_array(), *cl;
		json_array_foreach(json_object_get(doc, "clients"), i, cl)
		{
			json_t *f = json_object_get(cl, "flags");
			if (json_array_size(f) == 0)
				continue;
			json_t *names = json_array(), *k;
			size_t j;
			json_array_foreach(f, j, k)
			{
				json_array_append_new(names,
				                      json_string(dashview_flag_label(json_string_value(k))));
			}
			json_array_append_new(
			    flags, json_pack("{s:s, s:o}", "who",
			                     json_integer_value(json_object_get(cl, "position")) == 1
			                         ? "Partner 1 (booked)"
			                         : "Partner 2",
			                     "flags", names));
		}
		json_decref(doc);
		json_object_set_new(b, "has_flags", json_boolean(json_array_size(flags) > 0));
		json_object_set_new(b, "flags", flags);
	}
	json_t *notes;
	if ((rc = booking_notes(&c, r->app->keys, id, &notes)))
		return rc;
	json_array_foreach(notes, i, x)
	{
		int64_t at = json_integer_value(json_object_get(x, "at"));
		json_object_set_new(x, "at_text", json_string(label_of(r->a, z, at)));
	}
	json_object_set_new(b, "notes", notes);
	json_t *words;
	if ((rc = booking_event_words(&c, r->app->keys, id, &words)))
		return rc;
	json_array_foreach(words, i, x)
	{
		int64_t at = json_integer_value(json_object_get(x, "at"));
		json_object_set_new(x, "at_text", json_string(label_of(r->a, z, at)));
	}
	json_object_set_new(b, "has_words", json_boolean(json_array_size(words) > 0));
	json_object_set_new(b, "words", words);
	json_t *props;
	if ((rc = booking_proposals(&c, id, &props)))
		return rc;
	json_array_foreach(props, i, x)
	{
		int64_t s = json_integer_value(json_object_get(x, "start"));
		json_object_set_new(x, "label", json_string(label_of(r->a, z, s)));
	}
	json_object_set_new(b, "has_proposals", json_boolean(json_array_size(props) > 0));
	json_object_set_new(b, "proposals", props);
	if (open) {
		struct booking_view bv;
		json_t *opts = NULL;
		if ((rc = booking_by_id(&c, id, &bv)) || (rc = start_options(r, &c, &bv, z, &opts)))
			return rc;
		if (opts) {
			json_object_set_new(b, "has_starts", json_boolean(json_array_size(opts) > 0));
			json_object_set_new(b, "starts", opts);
		}
	}
	return 0;
}
