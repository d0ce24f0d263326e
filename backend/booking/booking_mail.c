/* booking_mail.c — see booking.h: what a booking tells whom, and when.
 *
 * Each client gets their own message to their own address (two messages
 * when the partners share one), with their own link: the booker's manage
 * link, the partner's read-only link. The invite in it names only that
 * client as attendee. Bodies say the practice, the reference, the dates and
 * times and the link; never the other partner, the kind of work, or
 * anything from an intake (templates/mail/, checked by tests). */
#include "booking/booking.h"
#include "booking/booking_admin.h"

#include "core/humantime.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "db/db.h"
#include "ics/ics.h"
#include "mail/mail.h"

struct person {
	int position;            /* 1 the booker, 2 the partner */
	char *name;              /* opened from booking_client */
	char *email;             /* opened from booking_client */
	const char *link;        /* their own link (or the site's address when it cannot be made) */
	const char *intake_link; /* the same token at /intake/ (NULL when the link cannot be made) */
};

struct booking_mail {
	struct booking_view v;       /* the booking, as the system sees it */
	const char *clinician_name;  /* the organizer */
	const char *clinician_email; /* gets "new_request" */
	const char *base_url;        /* links start here */
	bool has_form;               /* the offering gives each client an intake form */
	struct person people[2];     /* the clients still on record */
	int npeople;                 /* how many */
};

static const char SQL_BOOKING[] =
    "SELECT c.name, c.email, encode(b.manage_token_hash, 'hex'), o.intake_form IS NOT NULL FROM booking b"
    " JOIN clinician c ON c.id = b.clinician_id JOIN offering o ON o.id = b.offering_id WHERE b.id = $1";
static const char SQL_CLIENTS[] =
    "SELECT position, name_enc, email_enc, coalesce(encode(link_token_hash, 'hex'), '') FROM booking_client"
    " WHERE booking_id = $1 AND erased_at IS NULL ORDER BY position";

static char *num(struct arena *a, int64_t v)
{
	return arena_printf(a, "%lld", (long long)v);
}

/* The person's link when the token derived from the UID is the one on
 * record; otherwise (a link replaced since) the site's home page, so a
 * message never carries a link that does not work. */
static const char *link_for(struct ctx *c, const struct mailer *m, const struct booking_mail *bm,
                            int position, const char *stored_hex, const char **intake_link)
{
	char *token = booking_link_token(m->keys, c->a, bm->v.ical_uid, position);
	char hex[65];
	crypto_sha256_hex(token, strlen(token), hex);
	*intake_link = NULL;
	if (strcmp(hex, stored_hex) != 0)
		return bm->base_url;
	/* One capability per person: the same token opens their own intake. */
	*intake_link = arena_printf(c->a, "%s/intake/%s", bm->base_url, token);
	return arena_printf(c->a, "%s/b/%s", bm->base_url, token);
}

static int load(struct ctx *c, const struct mailer *m, int64_t id, struct booking_mail *bm)
{
	memset(bm, 0, sizeof(*bm));
	int rc = booking_by_id(c, id, &bm->v);
	if (rc)
		return rc;
	bm->base_url = m->cfg->base_url;
	PGresult *r;
	if ((rc = db_query(c->db, c->a, &r, SQL_BOOKING, num(c->a, id))))
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	bm->clinician_name = db_val(r, 0, 0);
	bm->clinician_email = db_val(r, 0, 1);
	const char *manage_hex = db_val(r, 0, 2);
	bm->has_form = !strcmp(db_val(r, 0, 3), "t");
	if ((rc = db_query(c->db, c->a, &r, SQL_CLIENTS, num(c->a, id))))
		return rc;
	for (int i = 0; i < PQntuples(r) && bm->npeople < 2; i++) {
		struct person *p = &bm->people[bm->npeople];
		p->position = (int)db_ll(r, i, 0);
		if ((rc = booking_client_open(c, m->keys, db_val(r, i, 1), "name", id, p->position,
		                              &p->name)) ||
		    (rc = booking_client_open(c, m->keys, db_val(r, i, 2), "email", id, p->position,
		                              &p->email)))
			return rc;
		p->link = link_for(c, m, bm, p->position, p->position == 1 ? manage_hex : db_val(r, i, 3),
		                   &p->intake_link);
		bm->npeople++;
	}
	return 0;
}

/* Dates and times in the practice's zone, plus the booker's own where it
 * differs (the partner's zone is not known). */
static json_t *view_for(struct ctx *c, const struct booking_mail *bm, int position, const char *link)
{
	const struct booking_view *v = &bm->v;
	const struct tz *z, *cz = NULL;
	if (tz_get(v->practice_timezone, &z))
		return NULL;
	if (position == 1 && v->client_timezone[0] && tz_get(v->client_timezone, &cz) != 0)
		cz = NULL;
	if (cz == z)
		cz = NULL;
	json_t *when = json_array();
	for (int i = 0; i < v->nblocks; i++) {
		const struct avail_interval *b = &v->blocks[i];
		json_t *o = json_pack("{s:s, s:s}", "date", humantime_date(c->a, z, b->start), "time",
		                      humantime_range(c->a, z, b->start, b->end));
		if (cz)
			json_object_set_new(
			    o, "client_time",
			    json_string(arena_printf(c->a, "%s, %s", humantime_date(c->a, cz, b->start),
			                             humantime_range(c->a, cz, b->start, b->end))));
		json_array_append_new(when, o);
	}
	const struct avail_interval *first = &v->blocks[0];
	json_t *view = json_pack("{s:s, s:o, s:s, s:s, s:s, s:s, s:i, s:b}", "reference", v->reference,
	                         "when", when, "timezone", tz_name(z), "link", link, "first_date",
	                         humantime_date(c->a, z, first->start), "first_time",
	                         humantime_range(c->a, z, first->start, first->end), "days", v->nblocks,
	                         "multi_day", v->nblocks > 1);
	if (!view)
		core_oom();
	if (v->hold_expires_at)
		json_object_set_new(
		    view, "hold_until",
		    json_string(arena_printf(c->a, "%s, %s", humantime_date(c->a, z, v->hold_expires_at),
		                             humantime_clock(c->a, z, v->hold_expires_at))));
	return view;
}

static bool with_invite(const char *kind)
{
	return !strcmp(kind, "confirmed") || !strcmp(kind, "rescheduled") || !strcmp(kind, "cancelled") ||
	       !strcmp(kind, "declined") || !strcmp(kind, "hold_lapsed");
}

static int to_person(struct ctx *c, const struct mailer *m, const struct booking_mail *bm,
                     const struct person *p, const char *kind, const char *dedupe, json_t *extra)
{
	if (!mime_address_valid(p->email)) {
		log_warn("booking %lld: client %d's address cannot take mail; %s not queued",
		         (long long)bm->v.id, p->position, kind);
		return 0;
	}
	json_t *view = view_for(c, bm, p->position, p->link);
	if (!view)
		return ERR_INTERNAL;
	if (extra)
		json_object_update(view, extra);
	/* Their own form, while it can still be filled in. */
	if (bm->has_form && p->intake_link && (!strcmp(kind, "received") || !strcmp(kind, "confirmed")))
		json_object_set_new(view, "intake_link", json_string(p->intake_link));
	struct mail_out out = {
	    .kind = kind,
	    .booking_id = bm->v.id,
	    .recipient_role = p->position == 1 ? "booker" : "partner",
	    .to = {p->name, p->email},
	    .view = view,
	    .dedupe_key = dedupe,
	};
	int rc = 0;
	if (with_invite(kind)) {
		struct booking_view v = bm->v;
		v.position = p->position;
		struct buf ics;
		buf_init(&ics, c->a, 256 * 1024);
		const char *method;
		if ((rc = booking_invite(c, m->keys, &v, p->link, &ics, &method)))
			goto out;
		out.calendar = ics.data;
		out.calendar_len = ics.len;
		out.calendar_method = method;
	}
	rc = mail_enqueue(c, m, &out, NULL);
out:
	json_decref(view);
	return rc;
}

static const char SQL_PARTNER_TOLD[] =
    "SELECT EXISTS (SELECT 1 FROM outbox WHERE booking_id = $1 AND recipient_role = 'partner')";

/* Each client who knows of the booking: the booker always; the partner
 * once a message has told them of it (the confirmation, or their own
 * invitation from the intake), so nobody hears of a change to a booking
 * they never heard of. */
static int to_clients(struct ctx *c, const struct mailer *m, const struct booking_mail *bm, const char *kind,
                      const char *dedupe_prefix, json_t *extra)
{
	bool partner_told = !strcmp(kind, "confirmed");
	if (!partner_told) {
		PGresult *r;
		int rc = db_query(c->db, c->a, &r, SQL_PARTNER_TOLD, num(c->a, bm->v.id));
		if (rc)
			return rc;
		partner_told = !strcmp(db_val(r, 0, 0), "t");
	}
	for (int i = 0; i < bm->npeople; i++) {
		const struct person *p = &bm->people[i];
		if (p->position != 1 && !partner_told)
			continue;
		const char *dedupe =
		    dedupe_prefix ? arena_printf(c->a, "%s:%d", dedupe_prefix, p->position) : NULL;
		int rc = to_person(c, m, bm, p, kind, dedupe, extra);
		if (rc)
			return rc;
	}
	return 0;
}

static int to_clinician(struct ctx *c, const struct mailer *m, const struct booking_mail *bm)
{
	if (!mime_address_valid(bm->clinician_email)) {
		log_warn("booking %lld: the clinician's address cannot take mail; new_request not queued",
		         (long long)bm->v.id);
		return 0;
	}
	json_t *view = view_for(
	    c, bm, 0, arena_printf(c->a, "%s/admin/bookings/%lld", bm->base_url, (long long)bm->v.id));
	if (!view)
		return ERR_INTERNAL;
	json_object_set_new(view, "held", json_boolean(!strcmp(bm->v.status, "held")));
	struct mail_out out = {
	    .kind = "new_request",
	    .booking_id = bm->v.id,
	    .recipient_role = "clinician",
	    .to = {bm->clinician_name, bm->clinician_email},
	    .view = view,
	};
	int rc = mail_enqueue(c, m, &out, NULL);
	json_decref(view);
	return rc;
}

/* Each listed client's own intake link, in a message only to them; none
 * names the other, the kind of work, or anything about the form. */
static int intake_invites(struct ctx *c, const struct mailer *m, const struct booking_mail *bm,
                          const char *kind)
{
	for (int i = 0; i < bm->npeople; i++) {
		const struct person *p = &bm->people[i];
		if (!p->intake_link || !mime_address_valid(p->email))
			continue;
		json_t *view = view_for(c, bm, p->position, p->intake_link);
		if (!view)
			return ERR_INTERNAL;
		struct mail_out out = {
		    .kind = kind,
		    .booking_id = bm->v.id,
		    .recipient_role = p->position == 1 ? "booker" : "partner",
		    .to = {p->name, p->email},
		    .view = view,
		};
		int rc = mail_enqueue(c, m, &out, NULL);
		json_decref(view);
		if (rc)
			return rc;
	}
	return 0;
}

int booking_mail_intake_invites(struct ctx *c, const struct mailer *m, int64_t booking_id)
{
	struct booking_mail bm;
	int rc = load(c, m, booking_id, &bm);
	if (rc)
		return rc;
	return bm.has_form ? intake_invites(c, m, &bm, "intake_invite") : 0;
}

int booking_mail_created(struct ctx *c, const struct mailer *m, int64_t booking_id)
{
	struct booking_mail bm;
	int rc = load(c, m, booking_id, &bm);
	if (rc)
		return rc;
	/* Each client's form link rides in the message they get anyway (the
	 * booker's "received", both "confirmed", intake_link in the view);
	 * a partner who gets nothing else gets their own invitation. */
	if (!strcmp(bm.v.status, "confirmed"))
		return to_clients(c, m, &bm, "confirmed", NULL, NULL);
	for (int i = 0; bm.has_form && i < bm.npeople; i++) {
		if (bm.people[i].position != 2)
			continue;
		struct booking_mail only = bm;
		only.people[0] = bm.people[i];
		only.npeople = 1;
		if ((rc = intake_invites(c, m, &only, "intake_invite")))
			return rc;
	}
	/* Waiting for the practice: the booker hears it was received (the
	 * partner's own invitation comes with their intake), the clinician
	 * that it waits for them. */
	for (int i = 0; i < bm.npeople; i++)
		if (bm.people[i].position == 1 &&
		    (rc = to_person(c, m, &bm, &bm.people[i], "received", NULL, NULL)))
			return rc;
	return to_clinician(c, m, &bm);
}

int booking_mail_status(struct ctx *c, const struct mailer *m, int64_t booking_id, const char *kind)
{
	static const char *const kinds[] = {"confirmed", "rescheduled", "cancelled",
	                                    "declined",  "hold_lapsed", "reminder"};
	bool known = false;
	for (size_t i = 0; i < ARRAY_LEN(kinds); i++)
		known = known || !strcmp(kind, kinds[i]);
	if (!known)
		return ERR_INVALID;
	struct booking_mail bm;
	int rc = load(c, m, booking_id, &bm);
	if (rc)
		return rc;
	return to_clients(c, m, &bm, kind, NULL, NULL);
}

int booking_mail_day_changed(struct ctx *c, const struct mailer *m, int64_t booking_id, int day, int64_t from,
                             int64_t to)
{
	struct booking_mail bm;
	int rc = load(c, m, booking_id, &bm);
	if (rc)
		return rc;
	const struct tz *z;
	if (tz_get(bm.v.practice_timezone, &z))
		return ERR_INTERNAL;
	const char *was = humantime_date(c->a, z, from);
	json_t *extra;
	if (to) {
		const char *now = humantime_date(c->a, z, to);
		extra = json_pack(
		    "{s:s, s:s}", "day_change_subject",
		    arena_printf(c->a, "day %d moved to %s, %s", day, now, humantime_clock(c->a, z, to)),
		    "day_change",
		    arena_printf(c->a, "Day %d, which was on %s at %s, has moved to %s at %s.", day, was,
		                 humantime_clock(c->a, z, from), now, humantime_clock(c->a, z, to)));
	} else {
		/* The calendar part cancels that day alone (RECURRENCE-ID: where
		 * the series put it, wherever it had moved since). */
		if (day >= 1 && day <= bm.v.ndays)
			bm.v.cancel_day_start = bm.v.days[day - 1].original_start;
		extra = json_pack(
		    "{s:s, s:s}", "day_change_subject",
		    arena_printf(c->a, "day %d on %s cancelled", day, was), "day_change",
		    arena_printf(c->a, "Day %d, on %s, is cancelled; the other days stay as they were.", day,
		                 was));
	}
	if (!extra)
		core_oom();
	rc = to_clients(c, m, &bm, "rescheduled", NULL, extra);
	json_decref(extra);
	return rc;
}

int booking_mail_declined(struct ctx *c, const struct mailer *m, int64_t booking_id, const char *message)
{
	struct booking_mail bm;
	int rc = load(c, m, booking_id, &bm);
	if (rc)
		return rc;
	json_t *extra = json_object();
	if (message && *message)
		json_object_set_new(extra, "message", json_string(message));
	rc = to_clients(c, m, &bm, "declined", NULL, extra);
	json_decref(extra);
	return rc;
}

int booking_mail_proposed(struct ctx *c, const struct mailer *m, int64_t booking_id, json_t *times)
{
	struct booking_mail bm;
	int rc = load(c, m, booking_id, &bm);
	if (rc)
		return rc;
	/* Only the booker can take one (their link changes the booking). */
	for (int i = 0; i < bm.npeople; i++)
		if (bm.people[i].position == 1) {
			json_t *extra = json_pack("{s:O}", "proposed", times);
			rc = to_person(c, m, &bm, &bm.people[i], "proposed", NULL, extra);
			json_decref(extra);
			return rc;
		}
	return 0;
}

/* ---- reminders ----------------------------------------------------------- */

enum { REMINDER_BATCH = 50 };

static const char SQL_REMINDERS_DUE[] =
    "SELECT id, ical_sequence,"
    " greatest(created_at, updated_at) > starts_at - make_interval(hours => $2::int)"
    " FROM booking WHERE status = 'confirmed' AND reminder_sent_at IS NULL"
    " AND starts_at > to_timestamp($1::bigint)"
    " AND starts_at <= to_timestamp($1::bigint) + make_interval(hours => $2::int)"
    " ORDER BY starts_at LIMIT 50 FOR UPDATE SKIP LOCKED";
static const char SQL_REMINDED[] =
    "UPDATE booking SET reminder_sent_at = to_timestamp($2::bigint) WHERE id = $1";

struct remind_tx {
	struct ctx *c;
	const struct mailer *m;
	int rows; /* taken in this batch */
	int sent; /* of which reminded */
};

static int remind_tx(struct db *db, void *arg)
{
	struct remind_tx *t = arg;
	struct ctx *c = t->c;
	PGresult *r;
	t->rows = t->sent = 0;
	int rc = db_query(db, c->a, &r, SQL_REMINDERS_DUE, num(c->a, c->now),
	                  num(c->a, t->m->cfg->reminder_hours));
	if (rc)
		return rc;
	t->rows = PQntuples(r);
	for (int i = 0; i < t->rows; i++) {
		int64_t id = db_ll(r, i, 0);
		if ((rc = db_query(db, c->a, NULL, SQL_REMINDED, num(c->a, id), num(c->a, c->now))))
			return rc;
		if (!strcmp(db_val(r, i, 2), "t"))
			continue; /* made or moved inside the window: that message just told them */
		struct booking_mail bm;
		if ((rc = load(c, t->m, id, &bm)))
			return rc;
		const char *key = arena_printf(c->a, "reminder:%lld:%s", (long long)id, db_val(r, i, 1));
		if ((rc = to_clients(c, t->m, &bm, "reminder", key, NULL)))
			return rc;
		t->sent++;
	}
	return 0;
}

int booking_mail_reminders(struct ctx *c, const struct mailer *m, int *n)
{
	*n = 0;
	if (m->cfg->reminder_hours <= 0)
		return 0;
	struct remind_tx t = {c, m, REMINDER_BATCH, 0};
	int rc = 0;
	while (t.rows == REMINDER_BATCH) {
		if ((rc = db_tx(c->db, "READ COMMITTED", remind_tx, &t)))
			break;
		*n += t.sent;
	}
	if (*n)
		log_info("%d appointment reminder%s queued", *n, *n == 1 ? "" : "s");
	return rc;
}

/* ---- intake reminders ------------------------------------------------------ */

/* Clients of held bookings whose form is not sent, hours before the hold
 * lapses; not when the booking was made inside that window (its
 * invitation just went out). */
static const char SQL_INTAKE_DUE[] =
    "SELECT b.id, p.position, extract(epoch FROM b.hold_expires_at)::bigint FROM booking b"
    " JOIN offering o ON o.id = b.offering_id AND o.intake_form IS NOT NULL"
    " JOIN booking_client p ON p.booking_id = b.id AND p.erased_at IS NULL"
    " LEFT JOIN intake i ON i.booking_id = b.id AND i.position = p.position"
    " WHERE b.status = 'held' AND i.submitted_at IS NULL"
    " AND b.hold_expires_at > to_timestamp($1::bigint)"
    " AND b.hold_expires_at <= to_timestamp($1::bigint) + make_interval(hours => $2::int)"
    " AND b.created_at < b.hold_expires_at - make_interval(hours => $2::int)"
    " AND NOT EXISTS (SELECT 1 FROM outbox x WHERE x.dedupe_key = 'intake_reminder:' || b.id || ':' ||"
    "  p.position || ':' || $2 || ':' || extract(epoch FROM b.hold_expires_at)::bigint)"
    " ORDER BY b.hold_expires_at LIMIT 100";

int booking_mail_intake_reminders(struct ctx *c, const struct mailer *m, int *n)
{
	*n = 0;
	const char *p = m->cfg->intake_reminder_hours ? m->cfg->intake_reminder_hours : "";
	while (*p) {
		char *end;
		long hours = strtol(p, &end, 10);
		p = *end ? end + 1 : end;
		if (hours <= 0)
			continue;
		PGresult *r;
		int rc = db_query(c->db, c->a, &r, SQL_INTAKE_DUE, num(c->a, c->now), num(c->a, hours));
		if (rc)
			return rc;
		for (int i = 0; i < PQntuples(r); i++) {
			int64_t id = db_ll(r, i, 0);
			int pos = (int)db_ll(r, i, 1);
			struct booking_mail bm;
			if ((rc = load(c, m, id, &bm)))
				return rc;
			for (int k = 0; k < bm.npeople; k++) {
				const struct person *who = &bm.people[k];
				if (who->position != pos || !who->intake_link ||
				    !mime_address_valid(who->email))
					continue;
				json_t *view = view_for(c, &bm, pos, who->intake_link);
				if (!view)
					return ERR_INTERNAL;
				struct mail_out out = {
				    .kind = "intake_reminder",
				    .booking_id = id,
				    .recipient_role = pos == 1 ? "booker" : "partner",
				    .to = {who->name, who->email},
				    .view = view,
				    .dedupe_key = arena_printf(c->a, "intake_reminder:%lld:%d:%ld:%s",
				                               (long long)id, pos, hours, db_val(r, i, 2)),
				};
				int64_t mid = 0;
				rc = mail_enqueue(c, m, &out, &mid);
				json_decref(view);
				if (rc)
					return rc;
				*n += mid != 0;
			}
		}
	}
	if (*n)
		log_info("%d intake reminder%s queued", *n, *n == 1 ? "" : "s");
	return 0;
}
