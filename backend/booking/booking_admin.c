/* booking_admin.c — see booking_admin.h. */
#include "booking/booking_admin.h"

#include "core/humantime.h"
#include "crypto/crypto.h"
#include "db/db.h"
#include "mail/mail.h"

static char *num(struct arena *a, int64_t v)
{
	return arena_printf(a, "%lld", (long long)v);
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

#define VERSION_OF "(extract(epoch FROM b.updated_at) * 1000000)::bigint"

static const char SQL_VERSION[] = "SELECT " VERSION_OF " FROM booking b WHERE b.id = $1";
static const char SQL_LOCK[] =
    "SELECT b.status, " VERSION_OF ", b.needs_review, extract(epoch FROM b.ends_at)::bigint, b.reference,"
    " (SELECT o.horizon_days FROM offering o WHERE o.id = b.offering_id)"
    " FROM booking b WHERE b.id = $1 FOR UPDATE OF b";
static const char SQL_SET_STATUS[] =
    "UPDATE booking SET status = $2::text, hold_expires_at = NULL, updated_at = now(),"
    " ical_sequence = ical_sequence + CASE WHEN $3::boolean THEN 1 ELSE 0 END WHERE id = $1";
static const char SQL_EVENT[] =
    "INSERT INTO booking_event (booking_id, actor, from_status, to_status, reason, note_enc, detail)"
    " VALUES ($1, $2, $3, $4, $5, decode($6, 'hex'), coalesce($7::jsonb, '{}'))";
static const char SQL_PROPOSALS_CLEAR[] = "DELETE FROM booking_proposal WHERE booking_id = $1";
static const char SQL_PROPOSAL_ADD[] =
    "INSERT INTO booking_proposal (booking_id, starts_at, confirms, proposed_by)"
    " VALUES ($1, to_timestamp($2::bigint), $3::boolean, $4) ON CONFLICT DO NOTHING";
static const char SQL_TOUCH[] = "UPDATE booking SET updated_at = now() WHERE id = $1";

int booking_version(struct ctx *c, int64_t id, const char **out)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_VERSION, num(c->a, id));
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	*out = db_val(r, 0, 0);
	return 0;
}

static bool is_open(const char *s)
{
	return !strcmp(s, "held") || !strcmp(s, "requested") || !strcmp(s, "confirmed");
}

static bool is_request(const char *s)
{
	return !strcmp(s, "held") || !strcmp(s, "requested");
}

static const char *status_words(const char *s)
{
	if (!strcmp(s, "no_show"))
		return "marked as a no-show";
	return s;
}

/* The text a person typed: at most max characters of text. */
static int check_text(struct booking_act *a, const char *s, size_t max, const char *what)
{
	if (!s || !*s)
		return 0;
	if (!str_valid_text(str_from(s)) || utf8_chars(s) > max) {
		a->why = what;
		return ERR_INVALID;
	}
	return 0;
}

static int refuse(struct ctx *c, struct booking_act *a, const char *verb, const char *status)
{
	a->why = arena_printf(c->a, "This booking is %s: it cannot be %s.", status_words(status), verb);
	return ERR_CONFLICT;
}

static int set_status(struct ctx *c, struct booking_act *a, const char *to, bool new_sequence,
                      const char *reason, const char *note, const char *detail)
{
	int rc = db_query(c->db, c->a, NULL, SQL_SET_STATUS, num(c->a, a->id), to, new_sequence ? "t" : "f");
	if (rc)
		return rc;
	a->to = to;
	return db_query(c->db, c->a, NULL, SQL_EVENT, num(c->a, a->id), c->actor, a->from, to, reason, note,
	                detail);
}

static int propose(struct ctx *c, const struct mailer *m, struct booking_act *a)
{
	if (a->nstarts < 1 || a->nstarts > BOOKING_PROPOSE_MAX) {
		a->why = "Choose one to three other times.";
		return ERR_INVALID;
	}
	struct booking_view v;
	int rc = booking_by_id(c, a->id, &v);
	if (rc)
		return rc;
	const struct tz *z;
	if (tz_get(v.practice_timezone, &z))
		return ERR_INTERNAL;
	/* Confirming on acceptance needs what approval needs. */
	bool confirms = !a->needs_review || a->reviewed;
	if ((rc = db_query(c->db, c->a, NULL, SQL_PROPOSALS_CLEAR, num(c->a, a->id))))
		return rc;
	json_t *times = json_array();
	struct buf detail;
	buf_init(&detail, c->a, 256);
	buf_puts(&detail, "{\"starts\":[");
	for (int i = 0; i < a->nstarts; i++) {
		int64_t start;
		a->fields = a->fields ? a->fields : json_object();
		rc = booking_start_available(c, &v, a->starts[i], a->fields, &start);
		if (rc == ERR_SLOT_UNAVAILABLE)
			a->why = arena_printf(c->a, "%s is no longer free.", a->starts[i]);
		if (!rc && start == v.starts_at) {
			a->why = "A proposed time is the booking's own time.";
			rc = ERR_INVALID;
		}
		if (!rc)
			rc = db_query(c->db, c->a, NULL, SQL_PROPOSAL_ADD, num(c->a, a->id), num(c->a, start),
			              confirms ? "t" : "f", num(c->a, a->clinician_id));
		if (rc) {
			json_decref(times);
			return rc;
		}
		buf_printf(&detail, "%s%lld", i ? "," : "", (long long)start);
		json_array_append_new(times,
		                      json_pack("{s:s}", "label",
		                                arena_printf(c->a, "%s, %s", humantime_date(c->a, z, start),
		                                             humantime_clock(c->a, z, start))));
	}
	buf_printf(&detail, "],\"confirms\":%s%s}", confirms ? "true" : "false",
	           a->needs_review && a->reviewed ? ",\"reviewed\":true" : "");
	if (detail.err) {
		json_decref(times);
		return ERR_INTERNAL;
	}
	if ((rc = db_query(c->db, c->a, NULL, SQL_TOUCH, num(c->a, a->id))) ||
	    (rc = db_query(c->db, c->a, NULL, SQL_EVENT, num(c->a, a->id), c->actor, a->from, a->from,
	                   "other times proposed", NULL, buf_cstr(&detail)))) {
		json_decref(times);
		return rc;
	}
	a->to = a->from;
	rc = booking_mail_proposed(c, m, a->id, times);
	json_decref(times);
	return rc;
}

int booking_act(struct ctx *c, const struct mailer *m, struct booking_act *a)
{
	a->why = NULL;
	/* A retried transaction comes back here: free the last attempt's. */
	json_decref(a->fields);
	a->fields = NULL;
	int rc;
	if ((rc = check_text(a, a->message, BOOKING_MESSAGE_MAX,
	                     "A message is text of at most 2000 characters.")))
		return rc;
	PGresult *r;
	if ((rc = db_query(c->db, c->a, &r, SQL_LOCK, num(c->a, a->id))))
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	a->from = db_val(r, 0, 0);
	a->needs_review = db_val(r, 0, 2)[0] == 't';
	int64_t ends = db_ll(r, 0, 3);
	if (!a->version || strcmp(a->version, db_val(r, 0, 1)) != 0) {
		a->why = "This booking changed since you opened it. Please look at it again before acting.";
		return ERR_CONFLICT;
	}
	const char *note = NULL;
	if (a->message && *a->message && !(note = booking_seal_note(c, m->keys, a->id, a->message)))
		return ERR_INTERNAL;
	switch (a->kind) {
	case BOOKING_APPROVE:
		if (!is_request(a->from))
			return refuse(c, a, "approved", a->from);
		if (a->needs_review && !a->reviewed) {
			a->why =
			    "The screening flagged this booking: tick \"I have read both intakes and the "
			    "screening flags\" to approve it.";
			return ERR_INVALID;
		}
		if ((rc = set_status(c, a, "confirmed", true, "approved by clinician", NULL,
		                     a->needs_review ? "{\"reviewed\":true}" : NULL)))
			return rc;
		if ((rc = db_query(c->db, c->a, NULL, SQL_PROPOSALS_CLEAR, num(c->a, a->id))))
			return rc;
		return booking_mail_status(c, m, a->id, "confirmed");
	case BOOKING_DECLINE:
		if (!is_request(a->from))
			return refuse(c, a, "declined", a->from);
		if ((rc = set_status(c, a, "declined", true, "declined by clinician", note, NULL)) ||
		    (rc = db_query(c->db, c->a, NULL, SQL_PROPOSALS_CLEAR, num(c->a, a->id))))
			return rc;
		return booking_mail_declined(c, m, a->id, a->message);
	case BOOKING_CANCEL:
		if (!is_open(a->from))
			return refuse(c, a, "cancelled", a->from);
		if ((rc = set_status(c, a, "cancelled", true, "cancelled by clinician", note, NULL)) ||
		    (rc = db_query(c->db, c->a, NULL, SQL_PROPOSALS_CLEAR, num(c->a, a->id))))
			return rc;
		return booking_mail_status(c, m, a->id, "cancelled");
	case BOOKING_RESCHEDULE: {
		if (!is_open(a->from))
			return refuse(c, a, "rescheduled", a->from);
		struct booking_view v;
		if ((rc = booking_by_id(c, a->id, &v)))
			return rc;
		a->fields = json_object();
		a->to = a->from;
		return booking_move_locked(c, m, &v, a->start, a->fields, "rescheduled by clinician", NULL);
	}
	case BOOKING_COMPLETE:
	case BOOKING_NO_SHOW: {
		const char *to = a->kind == BOOKING_COMPLETE ? "completed" : "no_show";
		const char *verb = a->kind == BOOKING_COMPLETE ? "marked completed" : "marked as a no-show";
		if (strcmp(a->from, "confirmed") != 0)
			return refuse(c, a, verb, a->from);
		if (ends > c->now) {
			a->why = arena_printf(c->a, "This booking has not ended yet: it cannot be %s.", verb);
			return ERR_CONFLICT;
		}
		return set_status(c, a, to, false, a->kind == BOOKING_COMPLETE ? "completed" : "no-show",
		                  NULL, NULL);
	}
	case BOOKING_PROPOSE:
		if (!is_request(a->from))
			return refuse(c, a, "given other times", a->from);
		return propose(c, m, a);
	case BOOKING_MOVE_DAY:
	case BOOKING_CANCEL_DAY:
		if (!is_open(a->from))
			return refuse(c, a, "changed", a->from);
		a->to = a->from;
		if (a->kind == BOOKING_MOVE_DAY &&
		    (a->day_start <= c->now || a->day_start > c->now + db_ll(r, 0, 5) * 86400)) {
			a->why = arena_printf(c->a,
			                      "A day moves to a start after now and at most %lld days ahead.",
			                      (long long)db_ll(r, 0, 5));
			return ERR_INVALID;
		}
		rc = booking_day_locked(c, m, db_val(r, 0, 4), a->day,
		                        a->kind == BOOKING_MOVE_DAY ? a->day_start : 0);
		if (rc == ERR_CONFLICT)
			a->why = "This is the booking's last remaining day: cancel the booking instead.";
		if (rc == ERR_INVALID || rc == ERR_NOT_FOUND) {
			a->why = "Choose a day of this booking that still takes place, and a new start.";
			rc = ERR_INVALID;
		}
		return rc;
	}
	return ERR_INVALID;
}

/* ---- private notes ------------------------------------------------------ */

static const char SQL_NOTE_ID[] = "SELECT nextval(pg_get_serial_sequence('booking_note', 'id'))";
static const char SQL_NOTE_ADD[] =
    "INSERT INTO booking_note (id, booking_id, author_id, body_enc) OVERRIDING SYSTEM VALUE"
    " VALUES ($1, $2, $3, decode($4, 'hex'))";
static const char SQL_NOTES[] =
    "SELECT n.id, extract(epoch FROM n.created_at)::bigint, c.name, n.body_enc FROM booking_note n"
    " JOIN clinician c ON c.id = n.author_id WHERE n.booking_id = $1 ORDER BY n.created_at, n.id LIMIT 500";
static const char SQL_EVENT_WORDS[] =
    "SELECT extract(epoch FROM at)::bigint, reason, note_enc FROM booking_event"
    " WHERE booking_id = $1 AND note_enc IS NOT NULL ORDER BY at, id LIMIT 100";
static const char SQL_PROPOSALS[] =
    "SELECT extract(epoch FROM starts_at)::bigint FROM booking_proposal WHERE booking_id = $1"
    " ORDER BY starts_at";

static void note_ad(char *ad, size_t n, int64_t id)
{
	snprintf(ad, n, "booking_note.body:%lld", (long long)id);
}

int booking_note_add(struct ctx *c, const struct keyring *k, int64_t booking_id, int64_t author_id,
                     const char *text, int64_t *note_id)
{
	if (!text || !*text || !str_valid_text(str_from(text)) || utf8_chars(text) > BOOKING_NOTE_MAX)
		return ERR_INVALID;
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_NOTE_ID);
	if (rc)
		return rc;
	int64_t id = db_ll(r, 0, 0);
	char ad[64];
	note_ad(ad, sizeof(ad), id);
	unsigned char *env;
	size_t n;
	if (crypto_seal(k, c->a, text, strlen(text), ad, &env, &n))
		return ERR_INTERNAL;
	if ((rc = db_query(c->db, c->a, NULL, SQL_NOTE_ADD, num(c->a, id), num(c->a, booking_id),
	                   num(c->a, author_id), crypto_bytea_hex(c->a, env, n) + 2)))
		return rc;
	*note_id = id;
	return 0;
}

int booking_notes(struct ctx *c, const struct keyring *k, int64_t booking_id, json_t **out)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_NOTES, num(c->a, booking_id));
	if (rc)
		return rc;
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(r); i++) {
		int64_t id = db_ll(r, i, 0);
		char ad[64];
		note_ad(ad, sizeof(ad), id);
		unsigned char *env;
		size_t n, pn;
		char *text;
		if (crypto_bytea_parse(c->a, db_val(r, i, 3), &env, &n) ||
		    crypto_open(k, c->a, env, n, ad, &text, &pn)) {
			json_decref(arr);
			return ERR_INTERNAL;
		}
		json_array_append_new(arr, json_pack("{s:I, s:I, s:s, s:s%}", "id", (json_int_t)id, "at",
		                                     (json_int_t)db_ll(r, i, 1), "author", db_val(r, i, 2),
		                                     "text", text, pn));
	}
	*out = arr;
	return 0;
}

int booking_event_words(struct ctx *c, const struct keyring *k, int64_t booking_id, json_t **out)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_EVENT_WORDS, num(c->a, booking_id));
	if (rc)
		return rc;
	char ad[64];
	snprintf(ad, sizeof(ad), "booking_event.note:%lld", (long long)booking_id);
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(r); i++) {
		unsigned char *env;
		size_t n, pn;
		char *text;
		if (crypto_bytea_parse(c->a, db_val(r, i, 2), &env, &n) ||
		    crypto_open(k, c->a, env, n, ad, &text, &pn)) {
			json_decref(arr);
			return ERR_INTERNAL;
		}
		json_array_append_new(arr, json_pack("{s:I, s:s, s:s%}", "at", (json_int_t)db_ll(r, i, 0),
		                                     "reason", db_val(r, i, 1), "text", text, pn));
	}
	*out = arr;
	return 0;
}

int booking_proposals(struct ctx *c, int64_t booking_id, json_t **out)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_PROPOSALS, num(c->a, booking_id));
	if (rc)
		return rc;
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(r); i++)
		json_array_append_new(arr, json_pack("{s:I}", "start", (json_int_t)db_ll(r, i, 0)));
	*out = arr;
	return 0;
}
