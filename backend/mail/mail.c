/* mail.c — see mail.h: composing a message and queuing it. */
#include "mail/mail.h"

#include <ctype.h>
#include <strings.h>

#include "core/log.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "db/db.h"
#include "http/template.h"

const char *const mail_kinds[] = {
    "received",         /* to the booker: we have your request (held or requested) */
    "confirmed",        /* to each client: confirmed, with the invite (REQUEST) */
    "rescheduled",      /* to each client: moved, with the invite (REQUEST, higher SEQUENCE) */
    "cancelled",        /* to each client: cancelled (CANCEL) */
    "declined",         /* to each client: the practice could not take it (CANCEL) */
    "reminder",         /* to each client: reminder_hours before the first day */
    "hold_lapsed",      /* to each client: the hold ran out (CANCEL) */
    "new_request",      /* to the clinician: a booking waits for approval */
    "calendar_failing", /* to the clinician: a calendar source stopped refreshing */
    "intake_invite",    /* to each client of a booking with a form: their own form link */
    "intake_reminder",  /* to a client whose form is not sent yet, before the hold lapses */
    "proposed",         /* to the booker: other times the clinician offers, taken on the manage page */
    NULL,
};

enum {
	SUBJECT_MAX = 1024,
	BODY_MAX = 256 * 1024,
	MESSAGE_MAX = 2 * 1024 * 1024,
};

static bool kind_valid(const char *k)
{
	size_t n = k ? strlen(k) : 0;
	if (n < 1 || n > 40 || !islower((unsigned char)k[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)k[i]) && !isdigit((unsigned char)k[i]) && k[i] != '_')
			return false;
	return true;
}

static int render(struct ctx *c, const struct mailer *m, const char *kind, const char *part,
                  const json_t *view, size_t max, char **out)
{
	char name[80];
	snprintf(name, sizeof(name), "mail/%s.%s", kind, part);
	if (!tpl_set_has(m->tpl, name)) {
		log_error("mail template %s is missing", name);
		return ERR_NOT_FOUND;
	}
	struct buf b;
	buf_init(&b, c->a, max);
	int rc = tpl_render(m->tpl, name, view, &b);
	if (rc)
		return rc;
	*out = arena_strdup(c->a, buf_cstr(&b));
	return 0;
}

static const char SQL_PRACTICE[] = "SELECT name, email FROM practice ORDER BY id LIMIT 1";

static const char SQL_INSERT[] =
    "INSERT INTO outbox (kind, booking_id, recipient_role, message_id, dedupe_key, rcpt_enc, message_enc,"
    " next_attempt_at, envelope_from)"
    " VALUES ($1, $2::bigint, $3, $4, $5, $6::bytea, $7::bytea, to_timestamp($8::bigint), $9)"
    " ON CONFLICT (dedupe_key) DO NOTHING RETURNING id";

static const char *seal_hex(struct ctx *c, const struct mailer *m, const char *what, const char *message_id,
                            const char *data, size_t n)
{
	char ad[200];
	snprintf(ad, sizeof(ad), "outbox.%s:%s", what, message_id);
	unsigned char *env;
	size_t envlen;
	if (crypto_seal(m->keys, c->a, data, n, ad, &env, &envlen) != 0)
		return NULL;
	return crypto_bytea_hex(c->a, env, envlen);
}

int mail_enqueue(struct ctx *c, const struct mailer *m, const struct mail_out *msg, int64_t *id)
{
	if (id)
		*id = 0;
	if (!kind_valid(msg->kind) || !mime_address_valid(msg->to.email) || !msg->recipient_role)
		return ERR_INVALID;
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_PRACTICE);
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	const char *practice_name = arena_strdup(c->a, db_val(r, 0, 0));
	const char *practice_email = arena_strdup(c->a, db_val(r, 0, 1));
	const char *from = m->cfg->mail_from && *m->cfg->mail_from ? m->cfg->mail_from
	                   : mime_address_valid(practice_email)    ? practice_email
	                                                           : "tandem@localhost.localdomain";
	const char *reply_to = NULL;
	if (m->cfg->mail_reply_to && *m->cfg->mail_reply_to)
		reply_to = m->cfg->mail_reply_to;
	else if (mime_address_valid(practice_email) && strcasecmp(practice_email, from) != 0)
		reply_to = practice_email;

	json_t *view = msg->view ? json_copy(msg->view) : json_object();
	if (!view)
		core_oom();
	if (!json_object_get(view, "practice_name"))
		json_object_set_new(view, "practice_name", json_string(practice_name));
	char *subject = NULL, *text = NULL, *html = NULL;
	rc = render(c, m, msg->kind, "subject", view, SUBJECT_MAX, &subject);
	if (!rc)
		rc = render(c, m, msg->kind, "txt", view, BODY_MAX, &text);
	if (!rc)
		rc = render(c, m, msg->kind, "html", view, BODY_MAX, &html);
	json_decref(view);
	if (rc)
		return rc;

	char *message_id = mime_message_id(c->a, from);
	struct mime_message mm = {
	    .from = {practice_name, from},
	    .to = msg->to,
	    .reply_to = reply_to,
	    .subject = subject,
	    .date = c->now,
	    .message_id = message_id,
	    .text = text,
	    .html = html,
	    .calendar = msg->calendar,
	    .calendar_len = msg->calendar_len,
	    .calendar_method = msg->calendar_method,
	};
	struct buf out;
	buf_init(&out, c->a, MESSAGE_MAX);
	if ((rc = mime_build(&mm, &out)))
		return rc;
	const char *rcpt = seal_hex(c, m, "rcpt", message_id, msg->to.email, strlen(msg->to.email));
	const char *body = seal_hex(c, m, "message", message_id, out.data, out.len);
	if (!rcpt || !body)
		return ERR_INTERNAL;
	char bid[24], now[24];
	snprintf(bid, sizeof(bid), "%lld", (long long)msg->booking_id);
	snprintf(now, sizeof(now), "%lld", (long long)c->now);
	rc = db_query(c->db, c->a, &r, SQL_INSERT, msg->kind, msg->booking_id ? bid : NULL,
	              msg->recipient_role, message_id, msg->dedupe_key, rcpt, body, now, from);
	if (rc)
		return rc;
	if (PQntuples(r) == 1) {
		if (id)
			*id = db_ll(r, 0, 0);
		log_info("mail %s queued for the %s (outbox %s)", msg->kind, msg->recipient_role,
		         db_val(r, 0, 0));
	}
	return 0;
}

int mail_check(const struct mailer *m, char *err, size_t errlen)
{
	const struct config *cfg = m->cfg;
	if (cfg->mail_from && *cfg->mail_from && !mime_address_valid(cfg->mail_from)) {
		snprintf(err, errlen, "mail_from is not an email address");
		return ERR_CONFIG;
	}
	if (cfg->mail_reply_to && *cfg->mail_reply_to && !mime_address_valid(cfg->mail_reply_to)) {
		snprintf(err, errlen, "mail_reply_to is not an email address");
		return ERR_CONFIG;
	}
	struct mail_transport *t;
	int rc = mail_transport_new(cfg, &t, err, errlen);
	if (rc)
		return rc;
	mail_transport_free(t);
	static const char *const parts[] = {"subject", "txt", "html"};
	for (size_t i = 0; mail_kinds[i]; i++)
		for (size_t p = 0; p < ARRAY_LEN(parts); p++) {
			char name[80];
			snprintf(name, sizeof(name), "mail/%s.%s", mail_kinds[i], parts[p]);
			if (!tpl_set_has(m->tpl, name)) {
				snprintf(err, errlen, "template %s.mustache is missing", name);
				return ERR_CONFIG;
			}
		}
	return 0;
}
