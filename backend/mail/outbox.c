/* outbox.c — see mail.h: taking due messages, retrying, dead letters. */
#include "mail/mail.h"

#include "core/log.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "db/db.h"

/* While a message is handed to the relay its row stays locked in an open
 * transaction; if this process hangs rather than dies, PostgreSQL ends
 * that transaction after the SMTP timeout plus this margin, and another
 * process takes the message. */
enum { IDLE_MARGIN_S = 30 };

static const char SQL_TX_TIMEOUT[] = "SELECT set_config('idle_in_transaction_session_timeout', $1, true)";
static const char SQL_CLAIM[] =
    "SELECT id, kind, message_id, attempts, rcpt_enc, message_enc, envelope_from FROM outbox"
    " WHERE status = 'pending' AND next_attempt_at <= to_timestamp($1::bigint)"
    " ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED";
static const char SQL_SENT[] = "UPDATE outbox SET status = 'sent', sent_at = to_timestamp($2::bigint),"
                               " attempts = attempts + 1, last_error = '' WHERE id = $1";
static const char SQL_RETRY[] = "UPDATE outbox SET attempts = attempts + 1,"
                                " next_attempt_at = to_timestamp($2::bigint), last_error = $3 WHERE id = $1";
static const char SQL_DEAD[] = "UPDATE outbox SET status = 'dead', dead_at = to_timestamp($2::bigint),"
                               " attempts = attempts + 1, last_error = $3 WHERE id = $1";

int64_t outbox_backoff(long base_s, long max_s, int attempts, double jitter01)
{
	double d = (double)base_s;
	for (int i = 1; i < attempts && d < (double)max_s; i++)
		d *= 2;
	if (d > (double)max_s)
		d = (double)max_s;
	if (jitter01 < 0)
		jitter01 = 0;
	if (jitter01 >= 1)
		jitter01 = 0.999;
	int64_t s = (int64_t)(d * (0.5 + jitter01 / 2));
	return s < 1 ? 1 : s;
}

static double jitter(void)
{
	uint32_t r;
	crypto_random(&r, sizeof(r));
	return (double)r / 4294967296.0;
}

struct send_tx {
	struct ctx *c;
	const struct mailer *m;
	struct mail_transport *t;
	const volatile bool *stop;
	bool none;    /* nothing was due */
	bool stopped; /* abandoned: roll back, as if never taken */
};

static int open_hex(struct ctx *c, const struct mailer *m, const char *hex, const char *what,
                    const char *message_id, char **out, size_t *n)
{
	unsigned char *env;
	size_t envlen;
	char ad[200];
	snprintf(ad, sizeof(ad), "outbox.%s:%s", what, message_id);
	if (crypto_bytea_parse(c->a, hex, &env, &envlen) != 0)
		return ERR_MALFORMED;
	return crypto_open(m->keys, c->a, env, envlen, ad, out, n);
}

static int send_tx(struct db *db, void *arg)
{
	struct send_tx *s = arg;
	struct ctx *c = s->c;
	const struct config *cfg = s->m->cfg;
	char num[32];
	snprintf(num, sizeof(num), "%lds", cfg->smtp_timeout_s + IDLE_MARGIN_S);
	int rc = db_query(db, c->a, NULL, SQL_TX_TIMEOUT, num);
	if (rc)
		return rc;
	PGresult *r;
	snprintf(num, sizeof(num), "%lld", (long long)c->now);
	if ((rc = db_query(db, c->a, &r, SQL_CLAIM, num)))
		return rc;
	if (PQntuples(r) == 0) {
		s->none = true;
		return 0;
	}
	const char *id = arena_strdup(c->a, db_val(r, 0, 0));
	const char *kind = arena_strdup(c->a, db_val(r, 0, 1));
	const char *message_id = arena_strdup(c->a, db_val(r, 0, 2));
	int attempts = (int)db_ll(r, 0, 3) + 1;
	const char *from = arena_strdup(c->a, db_val(r, 0, 6));
	char *rcpt = NULL, *msg = NULL;
	size_t rlen = 0, mlen = 0;
	char why[200] = "";
	enum mail_outcome out;
	if (open_hex(c, s->m, db_val(r, 0, 4), "rcpt", message_id, &rcpt, &rlen) ||
	    open_hex(c, s->m, db_val(r, 0, 5), "message", message_id, &msg, &mlen)) {
		/* A key that is gone will not come back by waiting. */
		snprintf(why, sizeof(why), "cannot be opened with the data keys");
		out = MAIL_PERMANENT;
	} else {
		out = mail_transport_send(s->t, from, rcpt, message_id, msg, mlen, s->stop, why, sizeof(why));
	}
	if (out == MAIL_TEMPORARY && !strcmp(why, "stopped")) {
		s->stopped = true;
		return ERR_UNAVAILABLE; /* roll back: the row is as it was */
	}
	char now[32];
	snprintf(now, sizeof(now), "%lld", (long long)ctx_clock_now());
	if (out == MAIL_SENT) {
		rc = db_query(db, c->a, NULL, SQL_SENT, id, now);
		if (!rc)
			log_info("mail %s (%s) sent, attempt %d", id, kind, attempts);
		return rc;
	}
	if (out == MAIL_PERMANENT || attempts >= cfg->mail_max_attempts) {
		rc = db_query(db, c->a, NULL, SQL_DEAD, id, now, why);
		if (!rc)
			log_warn("mail %s (%s) dead-lettered after %d attempt%s: %s", id, kind, attempts,
			         attempts == 1 ? "" : "s", why);
		return rc;
	}
	int64_t delay = outbox_backoff(cfg->mail_retry_base_s, cfg->mail_retry_max_s, attempts, jitter());
	snprintf(now, sizeof(now), "%lld", (long long)(ctx_clock_now() + delay));
	rc = db_query(db, c->a, NULL, SQL_RETRY, id, now, why);
	if (!rc)
		log_warn("mail %s (%s) attempt %d failed (%s); next try in %llds", id, kind, attempts, why,
		         (long long)delay);
	return rc;
}

int outbox_send_due(struct ctx *c, const struct mailer *m, struct mail_transport *t, int max,
                    const volatile bool *stop, int *handled)
{
	*handled = 0;
	int rc = 0;
	for (int i = 0; i < max && !(stop && *stop); i++) {
		c->now = ctx_clock_now();
		struct send_tx s = {c, m, t, stop, false, false};
		rc = db_tx(c->db, "READ COMMITTED", send_tx, &s);
		if (s.stopped)
			return 0;
		if (rc || s.none)
			break;
		(*handled)++;
	}
	return rc;
}

static const char SQL_RESEND[] =
    "UPDATE outbox SET status = 'pending', dead_at = NULL, attempts = 0, last_error = '',"
    " next_attempt_at = to_timestamp($2::bigint)"
    " WHERE id = $1 AND status = 'dead' AND rcpt_enc IS NOT NULL AND message_enc IS NOT NULL RETURNING id";
static const char SQL_EXISTS[] = "SELECT status FROM outbox WHERE id = $1";
#define STATE_KINDS                                                                                          \
	"('received', 'confirmed', 'rescheduled', 'cancelled', 'declined', 'proposed', 'hold_lapsed')"
static const char SQL_SUPERSEDED[] =
    "SELECT 1 FROM outbox x JOIN outbox n ON n.booking_id = x.booking_id AND n.recipient_role = "
    "x.recipient_role"
    " AND n.id > x.id AND n.status = 'sent' AND n.kind IN " STATE_KINDS
    " WHERE x.id = $1 AND x.kind IN " STATE_KINDS " LIMIT 1";

int outbox_resend(struct ctx *c, int64_t id)
{
	char ids[24], now[24];
	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	snprintf(now, sizeof(now), "%lld", (long long)c->now);
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_SUPERSEDED, ids);
	if (rc)
		return rc;
	if (PQntuples(r))
		return ERR_GONE;
	if ((rc = db_query(c->db, c->a, &r, SQL_RESEND, ids, now)))
		return rc;
	if (PQntuples(r) == 1) {
		log_info("mail %lld queued again by %s", (long long)id, c->actor ? c->actor : "?");
		return 0;
	}
	if ((rc = db_query(c->db, c->a, &r, SQL_EXISTS, ids)))
		return rc;
	return PQntuples(r) ? ERR_CONFLICT : ERR_NOT_FOUND;
}

static const char SQL_LIST[] =
    "SELECT x.id, x.kind, coalesce(x.booking_id, 0), coalesce(b.reference, ''), x.recipient_role, x.status,"
    " x.attempts, x.last_error, to_char(x.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
    " CASE WHEN x.status = 'pending'"
    "  THEN to_char(x.next_attempt_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') ELSE '' END"
    " FROM outbox x LEFT JOIN booking b ON b.id = x.booking_id"
    " WHERE $1::text IS NULL OR x.status = $1 ORDER BY x.id DESC LIMIT $2::int";

int outbox_list(struct ctx *c, const char *status, int limit, json_t **out)
{
	*out = NULL;
	if (limit < 1 || limit > 1000 ||
	    (status && strcmp(status, "pending") && strcmp(status, "sent") && strcmp(status, "dead")))
		return ERR_INVALID;
	char lim[16];
	snprintf(lim, sizeof(lim), "%d", limit);
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_LIST, status, lim);
	if (rc)
		return rc;
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(r); i++) {
		json_t *o = json_pack(
		    "{s:I, s:s, s:I, s:s, s:s, s:s, s:i, s:s, s:s}", "id", (json_int_t)db_ll(r, i, 0), "kind",
		    db_val(r, i, 1), "booking_id", (json_int_t)db_ll(r, i, 2), "reference", db_val(r, i, 3),
		    "recipient", db_val(r, i, 4), "status", db_val(r, i, 5), "attempts", (int)db_ll(r, i, 6),
		    "last_error", db_val(r, i, 7), "created_at", db_val(r, i, 8));
		if (!o)
			core_oom();
		if (*db_val(r, i, 9))
			json_object_set_new(o, "next_attempt_at", json_string(db_val(r, i, 9)));
		json_array_append_new(arr, o);
	}
	*out = arr;
	return 0;
}

static const char SQL_PURGE[] =
    "UPDATE outbox SET rcpt_enc = NULL, message_enc = NULL WHERE id IN ("
    " SELECT id FROM outbox WHERE status = 'sent' AND message_enc IS NOT NULL"
    " AND sent_at < to_timestamp($1::bigint) - make_interval(days => $2::int) LIMIT 1000)";

int outbox_purge(struct ctx *c, const struct mailer *m, int *n)
{
	char now[24], days[16];
	snprintf(now, sizeof(now), "%lld", (long long)c->now);
	snprintf(days, sizeof(days), "%ld", m->cfg->mail_keep_days);
	PGresult *r;
	*n = 0;
	int rc = db_query(c->db, c->a, &r, SQL_PURGE, now, days);
	if (rc)
		return rc;
	*n = atoi(PQcmdTuples(r));
	if (*n)
		log_info("purged the bodies of %d sent message%s", *n, *n == 1 ? "" : "s");
	return 0;
}
