/* dashview.c — see dashview.h. */
#include "admin/dashview.h"

#include <ctype.h>

#include "admin/admin.h"
#include "admin/admin_http.h"
#include "admin/audit.h"
#include "core/humantime.h"
#include "core/log.h"
#include "crypto/keys.h"
#include "db/db.h"
#include "mail/mail.h"

static const char *num(struct arena *a, int64_t v)
{
	return arena_printf(a, "%lld", (long long)v);
}

/* The access rule of admin.c: $1 the viewer, $2 whether they are the owner. */
#define ACCESS_RULE                                                                                          \
	" b.practice_id = (SELECT practice_id FROM clinician WHERE id = $1)"                                 \
	" AND ($2::boolean OR b.clinician_id = $1)"
#define INITIALS                                                                                             \
	" coalesce((SELECT string_agg(nullif(p.initials, ''), ' & ' ORDER BY p.position)"                    \
	"  FROM booking_client p WHERE p.booking_id = b.id), '')"
#define OPEN_AHEAD " b.status IN ('held', 'requested', 'confirmed') AND b.ends_at > to_timestamp($3::bigint)"

/* Holds lapsing within $4 seconds (or already due, the job not yet run). */
static const char SQL_LAPSING[] =
    "SELECT b.id, b.reference, o.name, c.name, extract(epoch FROM b.hold_expires_at)::bigint," INITIALS
    " FROM booking b JOIN offering o ON o.id = b.offering_id JOIN clinician c ON c.id = b.clinician_id"
    " WHERE" ACCESS_RULE " AND b.status = 'held'"
    " AND b.hold_expires_at <= to_timestamp($3::bigint + $4::bigint)"
    " ORDER BY b.hold_expires_at, b.id LIMIT 51"; /* DASHVIEW_LIST_MAX + 1 */

/* Bookings needing review, with each flagged intake's sealed flags. */
static const char SQL_FLAGS[] =
    "SELECT b.id, b.reference, o.name, c.name," INITIALS ", coalesce(i.id, 0), coalesce(i.position, 0),"
    " i.flags_enc FROM booking b JOIN offering o ON o.id = b.offering_id JOIN clinician c ON c.id = "
    "b.clinician_id"
    " LEFT JOIN intake i ON i.booking_id = b.id AND i.flagged AND i.flags_enc IS NOT NULL"
    " WHERE" ACCESS_RULE " AND b.needs_review AND" OPEN_AHEAD
    " ORDER BY b.starts_at, b.id, i.position LIMIT 102"; /* 2 * (DASHVIEW_LIST_MAX + 1) */

/* Each client's intake state for open bookings whose offering has a form. */
static const char SQL_INTAKES[] =
    "SELECT b.id, b.reference, o.name, c.name, p.position, p.initials," ADMIN_INTAKE_STATE_SQL
    " FROM booking b JOIN offering o ON o.id = b.offering_id JOIN clinician c ON c.id = b.clinician_id"
    " JOIN booking_client p ON p.booking_id = b.id"
    " LEFT JOIN intake i ON i.booking_id = b.id AND i.position = p.position"
    " WHERE" ACCESS_RULE " AND o.intake_form IS NOT NULL AND" OPEN_AHEAD
    " ORDER BY b.starts_at, b.id, p.position LIMIT 102"; /* 2 * (DASHVIEW_LIST_MAX + 1) */

/* Days of open bookings in [$3, $4), each day of an intensive on its own. */
static const char SQL_DAYS[] =
    "SELECT b.id, b.reference, o.name, c.name, b.status," INITIALS ","
    " extract(epoch FROM k.starts_at)::bigint, extract(epoch FROM k.ends_at)::bigint, k.day_index + 1,"
    " (SELECT count(*) FROM booking_block x WHERE x.booking_id = b.id)"
    " FROM booking_block k JOIN booking b ON b.id = k.booking_id JOIN offering o ON o.id = b.offering_id"
    " JOIN clinician c ON c.id = b.clinician_id"
    " WHERE" ACCESS_RULE " AND b.status IN ('held', 'requested', 'confirmed') AND k.cancelled_at IS NULL"
    " AND k.ends_at > to_timestamp($3::bigint) AND k.starts_at < to_timestamp($4::bigint)"
    " ORDER BY k.starts_at, b.id LIMIT 201"; /* DASHVIEW_DAY_ITEMS_MAX + 1 */

/* Sources whose last attempt failed, or subscriptions past their freshness
 * limit (availability is then closed for their clinician). */
static const char SQL_SOURCES[] =
    "SELECT s.id, s.name, c.name, s.kind, coalesce(s.last_error, ''),"
    " coalesce(extract(epoch FROM s.last_success_at)::bigint, 0),"
    " s.kind = 'url' AND coalesce(s.last_success_at, '-infinity')"
    "  < to_timestamp($3::bigint) - s.freshness_minutes * interval '1 minute'"
    " FROM calendar_source s JOIN clinician c ON c.id = s.clinician_id"
    " WHERE c.practice_id = (SELECT practice_id FROM clinician WHERE id = $1)"
    " AND ($2::boolean OR s.clinician_id = $1) AND (s.last_error IS NOT NULL OR (s.kind = 'url'"
    "  AND coalesce(s.last_success_at, '-infinity')"
    "  < to_timestamp($3::bigint) - s.freshness_minutes * interval '1 minute'))"
    " ORDER BY lower(s.name), s.id LIMIT 51"; /* DASHVIEW_LIST_MAX + 1 */

/* Messages within reach: about a booking of the viewer's (the owner's:
 * of the practice); messages about no booking only for the owner. */
#define MESSAGE_REACH                                                                                        \
	" ((x.booking_id IS NOT NULL AND" ACCESS_RULE ") OR (x.booking_id IS NULL AND $2::boolean))"

static const char SQL_DEAD[] =
    "SELECT x.id, x.kind, coalesce(b.reference, ''), coalesce(b.id, 0), x.recipient_role, x.last_error,"
    " x.attempts, extract(epoch FROM x.dead_at)::bigint"
    " FROM outbox x LEFT JOIN booking b ON b.id = x.booking_id"
    " WHERE x.status = 'dead' AND" MESSAGE_REACH " ORDER BY x.dead_at DESC, x.id DESC LIMIT 51";

static const char SQL_MESSAGE_REACH[] = "SELECT x.id FROM outbox x LEFT JOIN booking b ON b.id = x.booking_id"
                                        " WHERE x.id = $3 AND" MESSAGE_REACH;

const char *dashview_span(struct arena *a, int64_t s)
{
	if (s < 60)
		return "under a minute";
	int64_t h = s / 3600, m = (s % 3600) / 60;
	if (h == 0)
		return arena_printf(a, "%lld min", (long long)m);
	if (m == 0)
		return arena_printf(a, "%lld h", (long long)h);
	return arena_printf(a, "%lld h %lld min", (long long)h, (long long)m);
}

static char *stamp(struct arena *a, const struct tz *z, int64_t t)
{
	return arena_printf(a, "%s, %s %s", humantime_date(a, z, t), humantime_clock(a, z, t),
	                    tz_abbrev_at(z, t));
}

static char *booking_url(struct arena *a, int64_t id)
{
	return arena_printf(a, "/admin/bookings/%lld", (long long)id);
}

static json_t *must(json_t *j)
{
	if (!j)
		core_oom();
	return j;
}

/* Common fields of a booking row: id, reference, offering, clinician (col
 * 0..3) and initials. */
static json_t *booking_ref(struct arena *a, const PGresult *r, int i, const char *initials, bool names)
{
	json_t *o = must(json_pack("{s:s, s:s, s:s}", "reference", db_val(r, i, 1), "offering",
	                           db_val(r, i, 2), "url", booking_url(a, db_ll(r, i, 0))));
	if (initials && *initials)
		json_object_set_new(o, "initials", json_string(initials));
	if (names)
		json_object_set_new(o, "clinician", json_string(db_val(r, i, 3)));
	return o;
}

const char *dashview_flag_label(const char *f)
{
	static const char *const labels[][2] = {
	    {"ipv", "Intimate partner violence"},
	    {"substance", "Substance use"},
	    {"affair", "Affair"},
	    {"suicide_risk", "Suicide risk"},
	    {"ambivalence", "Ambivalence about the relationship"},
	};
	for (size_t i = 0; i < ARRAY_LEN(labels); i++)
		if (!strcmp(f, labels[i][0]))
			return labels[i][1];
	return f;
}

/* The flag names in an intake's sealed flags_enc, appended to kinds
 * (each once). */
static int add_flags(struct ctx *c, const struct keyring *k, int64_t intake_id, const char *hex,
                     json_t *kinds)
{
	unsigned char *env;
	size_t n, pn;
	char *pt;
	if (crypto_bytea_parse(c->a, hex, &env, &n) ||
	    crypto_open(k, c->a, env, n, arena_printf(c->a, "intake.flags_enc:%lld", (long long)intake_id),
	                &pt, &pn)) {
		log_error("intake %lld: flags_enc does not open", (long long)intake_id);
		return ERR_INTERNAL;
	}
	json_error_t e;
	json_t *flags = json_loadb(pt, pn, 0, &e), *f;
	if (!json_is_array(flags)) {
		json_decref(flags);
		return ERR_INTERNAL;
	}
	size_t i, j;
	json_array_foreach(flags, i, f)
	{
		const char *name = json_string_value(f);
		if (!name)
			continue;
		bool seen = false;
		json_t *x;
		json_array_foreach(kinds, j, x) seen |=
		    !strcmp(json_string_value(json_object_get(x, "kind")), name);
		if (!seen)
			json_array_append_new(kinds, must(json_pack("{s:s, s:s}", "kind", name, "label",
			                                            dashview_flag_label(name))));
	}
	json_decref(flags);
	return 0;
}

static const char *kind_label(const char *k)
{
	static const char *const labels[][2] = {
	    {"new_request", "New request"},         {"received", "Request received"},
	    {"confirmed", "Booking confirmed"},     {"declined", "Request declined"},
	    {"cancelled", "Booking cancelled"},     {"rescheduled", "Booking moved"},
	    {"proposed", "Other times proposed"},   {"reminder", "Appointment reminder"},
	    {"hold_lapsed", "Hold lapsed"},         {"intake_invite", "Intake invitation"},
	    {"intake_reminder", "Intake reminder"}, {"calendar_failing", "Calendar source failing"},
	};
	for (size_t i = 0; i < ARRAY_LEN(labels); i++)
		if (!strcmp(k, labels[i][0]))
			return labels[i][1];
	return k;
}

/* What went wrong, in words, from our own short reason (never the
 * server's text, which may quote the address). */
static const char *error_category(const char *why)
{
	if (!strncmp(why, "smtp login", 10) || strstr(why, "STARTTLS") || strstr(why, "AUTH or TLS"))
		return "The mail relay refused our sign-in or TLS";
	if (!strncmp(why, "smtp 5", 6))
		return "Refused by the mail relay";
	if (!strncmp(why, "smtp 4", 6))
		return "Deferred by the mail relay until we gave up";
	if (strstr(why, "data keys"))
		return "Cannot be opened with the data keys";
	if (!strncmp(why, "file", 4))
		return "Could not be written to the mail folder";
	return "Could not reach the mail relay";
}

static const char *role_label(const char *role)
{
	if (!strcmp(role, "booker"))
		return "to the booker";
	if (!strcmp(role, "partner"))
		return "to the partner";
	return "to the clinician";
}

/* Rows of a list query fetched one past the maximum: how many to show, and
 * a note under the list (view[key]) when some were left out. */
static int shown(struct arena *a, json_t *view, const char *key, int rows, int max, const char *what)
{
	if (rows <= max)
		return rows;
	json_object_set_new(view, key,
	                    json_string(arena_printf(a, "Only the first %d %s are listed.", max, what)));
	return max;
}

static int64_t local_day(const struct tz *z, int64_t t)
{
	int64_t l = tz_utc_to_local(z, t);
	return l >= 0 ? l / 86400 : -((-l + 86399) / 86400);
}

int dashview_add(struct req *r, const struct tz *z, json_t *view)
{
	struct ctx c = {r->a, r->db, ctx_clock_now(), r->session->actor, r->remote_addr};
	const char *v = num(c.a, r->session->clinician_id), *own = r->session->owner ? "t" : "f";
	const char *now = num(c.a, c.now);
	bool names = r->session->owner;
	PGresult *res;
	int rc;

	/* Holds about to lapse. */
	if ((rc = db_query(c.db, c.a, &res, SQL_LAPSING, v, own, now, num(c.a, DASHVIEW_HOLD_SOON_S))))
		return rc;
	json_t *lapsing = json_array();
	for (int i = 0, n = shown(c.a, view, "lapsing_more", PQntuples(res), DASHVIEW_LIST_MAX, "holds");
	     i < n; i++) {
		json_t *o = booking_ref(c.a, res, i, db_val(res, i, 5), names);
		int64_t until = db_ll(res, i, 4);
		json_object_set_new(o, "until", json_string(stamp(c.a, z, until)));
		json_object_set_new(
		    o, "left",
		    json_string(until > c.now
		                    ? arena_printf(c.a, "%s left", dashview_span(c.a, until - c.now))
		                    : "lapsing now"));
		json_array_append_new(lapsing, o);
	}
	json_object_set_new(view, "has_lapsing", json_boolean(json_array_size(lapsing) > 0));
	json_object_set_new(view, "lapsing", lapsing);

	/* Screening flags: kinds only, never the answers behind them. */
	if ((rc = db_query(c.db, c.a, &res, SQL_FLAGS, v, own, now)))
		return rc;
	json_t *flags = json_array(), *cur = NULL;
	int64_t cur_id = 0;
	int used = 0; /* rows of the bookings shown */
	for (; used < PQntuples(res) && rc == 0; used++) {
		int i = used;
		int64_t id = db_ll(res, i, 0);
		if (!cur || id != cur_id) {
			if (json_array_size(flags) >= DASHVIEW_LIST_MAX) {
				shown(c.a, view, "flags_more", DASHVIEW_LIST_MAX + 1, DASHVIEW_LIST_MAX,
				      "bookings");
				break;
			}
			cur = booking_ref(c.a, res, i, db_val(res, i, 4), names);
			json_object_set_new(
			    cur, "intake_url",
			    json_string(arena_printf(c.a, "/admin/bookings/%lld/intake", (long long)id)));
			json_object_set_new(cur, "kinds", json_array());
			json_array_append_new(flags, cur);
			cur_id = id;
		}
		if (db_ll(res, i, 5))
			rc = add_flags(&c, r->app->keys, db_ll(res, i, 5), db_val(res, i, 7),
			               json_object_get(cur, "kinds"));
	}
	json_object_set_new(view, "has_flags", json_boolean(json_array_size(flags) > 0));
	json_object_set_new(view, "flags", flags);
	if (rc)
		return rc;
	/* Screening results are PHI: each booking whose flags this page shows
	 * is a read, audited like opening the booking (no page if it fails). */
	for (int64_t i = 0, prev = 0; i < used; i++) {
		int64_t id = db_ll(res, (int)i, 0);
		if (id == prev)
			continue;
		prev = id;
		if ((rc = audit_write(&c, "flags.view", arena_printf(c.a, "booking:%lld", (long long)id),
		                      NULL)))
			return rc;
	}

	/* Intake progress per client. */
	if ((rc = db_query(c.db, c.a, &res, SQL_INTAKES, v, own, now)))
		return rc;
	json_t *intakes = json_array();
	cur = NULL;
	cur_id = 0;
	for (int i = 0; i < PQntuples(res); i++) {
		int64_t id = db_ll(res, i, 0);
		if (!cur || id != cur_id) {
			if (json_array_size(intakes) >= DASHVIEW_LIST_MAX) {
				shown(c.a, view, "intakes_more", DASHVIEW_LIST_MAX + 1, DASHVIEW_LIST_MAX,
				      "bookings");
				break;
			}
			cur = booking_ref(c.a, res, i, NULL, names);
			json_object_set_new(cur, "clients", json_array());
			json_array_append_new(intakes, cur);
			cur_id = id;
		}
		const char *state = db_val(res, i, 6);
		json_t *cl = must(json_pack("{s:s, s:s, s:s}", "who",
		                            db_ll(res, i, 4) == 1 ? "Booker" : "Partner", "state", state,
		                            "state_key", !strcmp(state, "not started") ? "none" : state));
		if (*db_val(res, i, 5))
			json_object_set_new(cl, "initials", json_string(db_val(res, i, 5)));
		json_array_append_new(json_object_get(cur, "clients"), cl);
	}
	json_object_set_new(view, "has_intakes", json_boolean(json_array_size(intakes) > 0));
	json_object_set_new(view, "intakes", intakes);

	/* The next seven local days, today included. */
	int64_t today = local_day(z, c.now);
	int64_t end = tz_local_to_utc(z, (today + DASHVIEW_DAYS_AHEAD) * 86400, NULL);
	if ((rc = db_query(c.db, c.a, &res, SQL_DAYS, v, own, now, num(c.a, end))))
		return rc;
	json_t *days = json_array(), *day = NULL;
	int64_t day_n = INT64_MIN;
	for (int i = 0, n = shown(c.a, view, "days_more", PQntuples(res), DASHVIEW_DAY_ITEMS_MAX,
	                          "days of bookings");
	     i < n; i++) {
		int64_t s = db_ll(res, i, 6), e = db_ll(res, i, 7);
		int64_t dn = local_day(z, s);
		if (dn < today)
			dn = today; /* under way since before midnight */
		if (!day || dn != day_n) {
			day = must(json_pack("{s:s, s:b, s:[]}", "heading", humantime_day(c.a, dn), "today",
			                     dn == today, "items"));
			json_array_append_new(days, day);
			day_n = dn;
		}
		json_t *o = booking_ref(c.a, res, i, db_val(res, i, 5), names);
		int part = (int)db_ll(res, i, 8), of = (int)db_ll(res, i, 9);
		json_object_set_new(o, "time", json_string(humantime_range(c.a, z, s, e)));
		const char *st = db_val(res, i, 4);
		json_object_set_new(o, "status", json_string(st));
		json_object_set_new(o, "status_text",
		                    json_string(!strcmp(st, "held")        ? "Held"
		                                : !strcmp(st, "requested") ? "Requested"
		                                                           : "Confirmed"));
		if (of > 1)
			json_object_set_new(o, "part",
			                    json_string(arena_printf(c.a, "day %d of %d", part, of)));
		json_array_append_new(json_object_get(day, "items"), o);
	}
	json_object_set_new(view, "has_days", json_boolean(json_array_size(days) > 0));
	json_object_set_new(view, "days", days);

	/* Failing calendar sources. */
	if ((rc = db_query(c.db, c.a, &res, SQL_SOURCES, v, own, now)))
		return rc;
	json_t *sources = json_array();
	for (int i = 0, n = shown(c.a, view, "sources_more", PQntuples(res), DASHVIEW_LIST_MAX, "sources");
	     i < n; i++) {
		int64_t ok = db_ll(res, i, 5);
		json_t *o = must(json_pack("{s:s, s:b, s:s}", "name", db_val(res, i, 1), "stale",
		                           db_val(res, i, 6)[0] == 't', "last_success",
		                           ok ? stamp(c.a, z, ok) : "never"));
		if (*db_val(res, i, 4))
			json_object_set_new(o, "error", json_string(db_val(res, i, 4)));
		if (names)
			json_object_set_new(o, "clinician", json_string(db_val(res, i, 2)));
		json_array_append_new(sources, o);
	}
	json_object_set_new(view, "has_sources", json_boolean(json_array_size(sources) > 0));
	json_object_set_new(view, "sources", sources);

	/* Undelivered messages. */
	if ((rc = db_query(c.db, c.a, &res, SQL_DEAD, v, own)))
		return rc;
	json_t *dead = json_array();
	for (int i = 0, n = shown(c.a, view, "dead_more", PQntuples(res), DASHVIEW_LIST_MAX, "messages");
	     i < n; i++) {
		int64_t id = db_ll(res, i, 0), bid = db_ll(res, i, 3);
		const char *why = db_val(res, i, 5);
		json_t *o =
		    must(json_pack("{s:I, s:s, s:s, s:s, s:s, s:i, s:s, s:s}", "id", (json_int_t)id, "kind",
		                   kind_label(db_val(res, i, 1)), "to", role_label(db_val(res, i, 4)),
		                   "category", error_category(why), "code", why, "attempts",
		                   (int)db_ll(res, i, 6), "at", stamp(c.a, z, db_ll(res, i, 7)), "action",
		                   arena_printf(c.a, "/admin/mail/%lld/resend", (long long)id)));
		int tries = (int)db_ll(res, i, 6);
		json_object_set_new(
		    o, "tries", json_string(arena_printf(c.a, "%d attempt%s", tries, tries == 1 ? "" : "s")));
		if (bid) {
			json_object_set_new(o, "reference", json_string(db_val(res, i, 2)));
			json_object_set_new(o, "url", json_string(booking_url(c.a, bid)));
		}
		json_array_append_new(dead, o);
	}
	json_object_set_new(view, "has_dead", json_boolean(json_array_size(dead) > 0));
	json_object_set_new(view, "dead", dead);

	const char *done = http_query_param(r, "done");
	if (done && !strcmp(done, "resent"))
		json_object_set_new(view, "notice",
		                    json_string("The message is queued again and goes out shortly."));
	return 0;
}

int dashview_message_reach(struct ctx *c, int64_t viewer, bool owner, int64_t id)
{
	PGresult *res;
	int rc = db_query(c->db, c->a, &res, SQL_MESSAGE_REACH, num(c->a, viewer), owner ? "t" : "f",
	                  num(c->a, id));
	if (rc)
		return rc;
	return PQntuples(res) == 1 ? 0 : ERR_NOT_FOUND;
}

struct resend_tx {
	struct ctx *c;
	int64_t viewer;
	bool owner;
	int64_t id;
};

static int resend_tx(struct db *db, void *arg)
{
	struct resend_tx *t = arg;
	(void)db;
	int rc = dashview_message_reach(t->c, t->viewer, t->owner, t->id);
	if (rc == 0)
		rc = outbox_resend(t->c, t->id);
	if (rc == 0)
		rc = audit_write(t->c, "mail.resend", arena_printf(t->c->a, "outbox:%lld", (long long)t->id),
		                 NULL);
	return rc;
}

int dashview_http_resend(struct req *r)
{
	int64_t id = http_param_id(r, 0);
	if (!id)
		return ERR_NOT_FOUND;
	struct ctx c = {r->a, r->db, ctx_clock_now(), r->session->actor, r->remote_addr};
	struct resend_tx t = {&c, r->session->clinician_id, r->session->owner, id};
	int rc = db_tx(c.db, "READ COMMITTED", resend_tx, &t);
	if (rc == ERR_CONFLICT)
		return http_send_error(r, ERR_CONFLICT,
		                       "That message is not waiting to be resent (it was sent or queued "
		                       "again already).",
		                       NULL);
	if (rc == ERR_GONE)
		return http_send_error(
		    r, ERR_CONFLICT,
		    "A newer message about this booking has gone to the same person since: "
		    "resending this one would tell them something out of date.",
		    NULL);
	if (rc)
		return rc;
	return http_redirect(r, 303, "/admin?done=resent");
}
