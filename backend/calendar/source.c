/* source.c — see calendar.h: external calendar sources and their busy time. */
#include "calendar/calendar.h"

#include <stdlib.h>
#include <string.h>

#include "calimport/calimport.h"
#include "core/buf.h"
#include "core/log.h"
#include "core/str.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "db/db.h"
#include "mail/mail.h"

#define DAY 86400

static const char SQL_CLINICIAN[] = "SELECT c.timezone, coalesce((SELECT max(o.horizon_days) FROM offering o"
                                    "  WHERE o.practice_id = c.practice_id), 90)"
                                    " FROM clinician c WHERE c.id = $1";

static const char SQL_NEXT_ID[] = "SELECT nextval(pg_get_serial_sequence('calendar_source', 'id'))";

static const char SQL_FIND_BY_NAME[] =
    "SELECT id, kind FROM calendar_source WHERE clinician_id = $1 AND lower(name) = lower($2) FOR UPDATE";

static const char SQL_INSERT_UPLOAD[] =
    "INSERT INTO calendar_source (id, clinician_id, name, kind, next_refresh_at)"
    " OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, 'upload', to_timestamp($4::bigint))";

static const char SQL_INSERT_URL[] =
    "INSERT INTO calendar_source (id, clinician_id, name, kind, url_enc, url_display, refresh_minutes,"
    "  freshness_minutes, next_refresh_at)"
    " OVERRIDING SYSTEM VALUE VALUES ($1, $2, $3, 'url', $4::bytea, $5, $6, $7, to_timestamp($8::bigint))";

/* The source's new state after a good import or refresh. $3 NULL keeps the
 * stored file (the same bytes again, or a 304). A refresh writes only while
 * its lease ($2) holds; an upload ($2 NULL) always wins, and a refresh
 * still running on the old file then finds its lease gone. */
static const char SQL_SUCCESS[] =
    "UPDATE calendar_source SET content_enc = coalesce($3::bytea, content_enc),"
    "  content_sha256 = $4, etag = $5, last_modified = $6, event_count = $7, busy_count = $8,"
    "  warning = nullif($9, ''), last_success_at = to_timestamp($10::bigint),"
    "  last_attempt_at = to_timestamp($10::bigint), last_error = NULL, failures = 0, failing_notified_at = "
    "NULL,"
    "  next_refresh_at = to_timestamp($10::bigint) + CASE WHEN kind = 'url'"
    "    THEN refresh_minutes * interval '1 minute' ELSE interval '1 day' END,"
    "  lease_owner = NULL, lease_until = NULL"
    " WHERE id = $1 AND ($2::text IS NULL OR lease_owner = $2)"
    " RETURNING id";

/* Replaces a source's busy time in one statement: both parts see the same
 * snapshot, so the DELETE never removes the rows being inserted. */
static const char SQL_REPLACE_BUSY[] = "WITH gone AS (DELETE FROM busy_interval WHERE source_id = $1)"
                                       " INSERT INTO busy_interval (source_id, clinician_id, during)"
                                       " SELECT $1, $2, tstzrange(to_timestamp(s), to_timestamp(e))"
                                       " FROM unnest($3::bigint[], $4::bigint[]) AS t(s, e)";

static const char SQL_FAILURE[] = "UPDATE calendar_source SET last_error = $3, failures = failures + 1,"
                                  "  last_attempt_at = to_timestamp($4::bigint),"
                                  "  next_refresh_at = to_timestamp($4::bigint) + least(refresh_minutes * "
                                  "60, $5::int) * interval '1 second',"
                                  "  lease_owner = NULL, lease_until = NULL"
                                  " WHERE id = $1 AND lease_owner = $2";

/* Marks a subscription whose failures have made it stale as told, once. */
static const char SQL_MARK_FAILING[] =
    "UPDATE calendar_source SET failing_notified_at = to_timestamp($2::bigint)"
    " WHERE id = $1 AND kind = 'url' AND failing_notified_at IS NULL"
    " AND coalesce(last_success_at, '-infinity') < to_timestamp($2::bigint) - freshness_minutes * interval "
    "'1 minute'"
    " RETURNING id";

static const char SQL_LEASE_DUE[] =
    "UPDATE calendar_source SET lease_owner = $2,"
    "  lease_until = to_timestamp($1::bigint) + interval '300 seconds'" /* CAL_LEASE_S */
    " WHERE id = (SELECT id FROM calendar_source"
    "  WHERE next_refresh_at <= to_timestamp($1::bigint)"
    "  AND (lease_until IS NULL OR lease_until < to_timestamp($1::bigint))"
    "  ORDER BY next_refresh_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
    " RETURNING id";

static const char SQL_LEASE_ONE[] =
    "UPDATE calendar_source SET lease_owner = $2,"
    "  lease_until = to_timestamp($1::bigint) + interval '300 seconds'" /* CAL_LEASE_S */
    " WHERE id = $3 AND (lease_until IS NULL OR lease_until < to_timestamp($1::bigint))"
    " RETURNING id";

static const char SQL_EXISTS[] = "SELECT 1 FROM calendar_source WHERE id = $1";

static const char SQL_LOAD[] =
    "SELECT s.clinician_id, s.kind, s.url_enc, s.etag, s.last_modified, s.content_enc, s.content_sha256,"
    "  s.failures"
    " FROM calendar_source s WHERE s.id = $1";

static const char SQL_OWNED[] = "SELECT 1 FROM calendar_source WHERE id = $1 AND clinician_id = $2";

static const char SQL_REMOVE[] =
    "DELETE FROM calendar_source WHERE id = $1 AND ($2::bigint = 0 OR clinician_id = $2) RETURNING id";

static const char SQL_LIST[] =
    "SELECT id, name, kind, url_display,"
    "  kind = 'upload' OR coalesce(last_success_at, '-infinity')"
    "    >= to_timestamp($2::bigint) - freshness_minutes * interval '1 minute',"
    "  coalesce(date_part('epoch', last_success_at)::bigint, 0),"
    "  coalesce(date_part('epoch', last_attempt_at)::bigint, 0),"
    "  coalesce(date_part('epoch', next_refresh_at)::bigint, 0),"
    "  last_error, warning, coalesce(event_count, 0), coalesce(busy_count, 0), failures,"
    "  refresh_minutes, freshness_minutes"
    " FROM calendar_source WHERE clinician_id = $1 ORDER BY lower(name), id";

static const char SQL_BUSY[] =
    "SELECT date_part('epoch', lower(r))::bigint, date_part('epoch', upper(r))::bigint"
    " FROM unnest((SELECT range_agg(during * tstzrange(to_timestamp($2::bigint), to_timestamp($3::bigint)))"
    "  FROM busy_interval WHERE clinician_id = $1"
    "  AND during && tstzrange(to_timestamp($2::bigint), to_timestamp($3::bigint)))) AS r"
    " ORDER BY 1";

static char *ll(struct arena *a, long long v)
{
	return arena_printf(a, "%lld", v);
}

static void set_message(struct calendar_outcome *out, const char *msg)
{
	if (out)
		snprintf(out->message, sizeof(out->message), "%s", msg ? msg : "");
}

static const char *seal(struct ctx *c, const struct keyring *k, const char *col, int64_t id, const void *p,
                        size_t n)
{
	char ad[80];
	snprintf(ad, sizeof(ad), "calendar_source.%s:%lld", col, (long long)id);
	unsigned char *env;
	size_t envlen;
	if (crypto_seal(k, c->a, p, n, ad, &env, &envlen) != 0)
		return NULL;
	return crypto_bytea_hex(c->a, env, envlen);
}

static int open_sealed(struct ctx *c, const struct keyring *k, const char *col, int64_t id, const char *hex,
                       char **pt, size_t *n)
{
	char ad[80];
	snprintf(ad, sizeof(ad), "calendar_source.%s:%lld", col, (long long)id);
	unsigned char *env;
	size_t envlen;
	if (crypto_bytea_parse(c->a, hex, &env, &envlen) != 0)
		return ERR_INTERNAL;
	return crypto_open(k, c->a, env, envlen, ad, pt, n) ? ERR_INTERNAL : 0;
}

/* The expansion of one file for one clinician, merged. */
struct expanded {
	struct cal_busy *busy;
	size_t nbusy;
	int events;
	char warning[256];
	char sha[65];
};

static int expand(struct ctx *c, int64_t clinician_id, const char *data, size_t len, size_t max_bytes,
                  struct expanded *e, char *err, size_t errlen)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_CLINICIAN, ll(c->a, clinician_id));
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	long long horizon = db_ll(r, 0, 1);
	struct cal_import_opts o = {
	    .zone = db_val(r, 0, 0),
	    .from = c->now - 7 * DAY,
	    .to = c->now + (horizon + 7) * DAY,
	    .max_bytes = max_bytes,
	    .max_instances = 200000,
	};
	struct cal_import_result res;
	memset(&res, 0, sizeof(res));
	rc = cal_import(c->a, data, len, &o, &res, err, errlen);
	if (rc)
		return rc;
	e->nbusy = cal_busy_merge(res.busy, res.nbusy);
	e->busy = res.busy;
	if (e->nbusy > CAL_MAX_BUSY) {
		snprintf(err, errlen, "the calendar has more than %d busy periods in the next %lld days",
		         CAL_MAX_BUSY, horizon + 7);
		return ERR_TOO_LARGE;
	}
	e->events = res.nevents;
	if (res.nwarnings > 1)
		snprintf(e->warning, sizeof(e->warning), "%.200s (and %d more)", res.warning,
		         res.nwarnings - 1);
	else
		snprintf(e->warning, sizeof(e->warning), "%s", res.nwarnings ? res.warning : "");
	crypto_sha256_hex(data, len, e->sha);
	return 0;
}

/* "{1,2,3}" arrays of the starts and the ends, for unnest. */
static void busy_arrays(struct arena *a, const struct expanded *e, char **starts, char **ends)
{
	struct buf s, t;
	size_t max = 24 * (e->nbusy + 1) + 2;
	buf_init(&s, a, max);
	buf_init(&t, a, max);
	buf_putc(&s, '{');
	buf_putc(&t, '{');
	for (size_t i = 0; i < e->nbusy; i++) {
		buf_printf(&s, "%s%lld", i ? "," : "", (long long)e->busy[i].start);
		buf_printf(&t, "%s%lld", i ? "," : "", (long long)e->busy[i].end);
	}
	buf_putc(&s, '}');
	buf_putc(&t, '}');
	*starts = (char *)buf_cstr(&s);
	*ends = (char *)buf_cstr(&t);
}

/* Writes a good result: the source's state, then its busy time. Part of
 * the caller's transaction. ERR_CONFLICT when the lease was lost. */
static int write_success(struct ctx *c, int64_t id, int64_t clinician_id, const char *lease,
                         const char *content_hex, const struct expanded *e, const char *etag,
                         const char *last_modified)
{
	char *starts, *ends;
	busy_arrays(c->a, e, &starts, &ends);
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_SUCCESS, ll(c->a, id), lease, content_hex, e->sha, etag,
	                  last_modified, ll(c->a, e->events), ll(c->a, (long long)e->nbusy), e->warning,
	                  ll(c->a, c->now));
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_CONFLICT;
	return db_query(c->db, c->a, NULL, SQL_REPLACE_BUSY, ll(c->a, id), ll(c->a, clinician_id), starts,
	                ends);
}

static bool valid_name(const char *name)
{
	size_t n = name ? strlen(name) : 0;
	return n >= 1 && n <= CAL_MAX_NAME && str_valid_text((struct str){name, n});
}

/* ---------------------------------------------------------------- upload */

struct upload_tx {
	struct ctx *c;
	const struct keyring *k;
	int64_t clinician_id;
	const char *name;
	const char *data;
	size_t len;
	const struct expanded *e;
	int64_t id;
};

static int upload_tx(struct db *db, void *arg)
{
	struct upload_tx *t = arg;
	struct ctx *c = t->c;
	PGresult *r;
	int rc = db_query(db, c->a, &r, SQL_FIND_BY_NAME, ll(c->a, t->clinician_id), t->name);
	if (rc)
		return rc;
	if (PQntuples(r) == 1) {
		if (strcmp(db_val(r, 0, 1), "upload") != 0)
			return ERR_CONFLICT;
		t->id = db_ll(r, 0, 0);
	} else {
		if ((rc = db_query(db, c->a, &r, SQL_NEXT_ID)) != 0)
			return rc;
		t->id = db_ll(r, 0, 0);
		rc = db_query(db, c->a, NULL, SQL_INSERT_UPLOAD, ll(c->a, t->id), ll(c->a, t->clinician_id),
		              t->name, ll(c->a, c->now + DAY));
		if (rc)
			return rc;
	}
	const char *hex = seal(c, t->k, "content_enc", t->id, t->data, t->len);
	if (!hex)
		return ERR_INTERNAL;
	return write_success(c, t->id, t->clinician_id, NULL, hex, t->e, NULL, NULL);
}

int calendar_import_file(struct ctx *c, const struct keyring *k, int64_t clinician_id, const char *name,
                         const char *data, size_t len, size_t max_bytes, int64_t *source_id,
                         struct calendar_outcome *out)
{
	memset(out, 0, sizeof(*out));
	if (!valid_name(name)) {
		set_message(out, "the name must be 1 to 200 characters of text");
		return ERR_INVALID;
	}
	struct expanded e;
	memset(&e, 0, sizeof(e));
	char err[256] = "";
	int rc = expand(c, clinician_id, data, len, max_bytes, &e, err, sizeof(err));
	if (rc) {
		set_message(out, rc == ERR_NOT_FOUND ? "no such clinician" : err);
		return rc;
	}
	struct upload_tx t = {c, k, clinician_id, name, data, len, &e, 0};
	c->db->sqlstate[0] = '\0';
	rc = db_tx(c->db, "READ COMMITTED", upload_tx, &t);
	if (rc == ERR_CONFLICT) {
		set_message(out, "a subscribed calendar already has this name");
		return rc;
	}
	if (rc)
		return rc;
	*source_id = t.id;
	out->changed = true;
	out->events = e.events;
	out->busy = (int)e.nbusy;
	set_message(out, e.warning);
	log_info("calendar source %lld: imported %d events, %zu busy periods", (long long)t.id, e.events,
	         e.nbusy);
	return 0;
}

/* ---------------------------------------------------------------- subscribe */

struct subscribe_tx {
	struct ctx *c;
	const struct keyring *k;
	int64_t clinician_id;
	const char *name, *url, *display;
	int refresh, freshness;
	int64_t id;
};

static int subscribe_tx(struct db *db, void *arg)
{
	struct subscribe_tx *t = arg;
	struct ctx *c = t->c;
	PGresult *r;
	int rc = db_query(db, c->a, &r, SQL_NEXT_ID);
	if (rc)
		return rc;
	t->id = db_ll(r, 0, 0);
	const char *hex = seal(c, t->k, "url_enc", t->id, t->url, strlen(t->url));
	if (!hex)
		return ERR_INTERNAL;
	return db_query(db, c->a, NULL, SQL_INSERT_URL, ll(c->a, t->id), ll(c->a, t->clinician_id), t->name,
	                hex, t->display, ll(c->a, t->refresh), ll(c->a, t->freshness), ll(c->a, c->now));
}

int calendar_subscribe(struct ctx *c, const struct keyring *k, int64_t clinician_id, const char *name,
                       const char *url, int refresh_minutes, int freshness_minutes, int64_t *source_id)
{
	char *norm, *display;
	if (!valid_name(name) || calendar_normalise_url(c->a, url, &norm, &display) != 0)
		return ERR_INVALID;
	if (refresh_minutes == 0)
		refresh_minutes = 15;
	if (freshness_minutes == 0)
		freshness_minutes = 360;
	if (refresh_minutes < 5 || refresh_minutes > 1440 || freshness_minutes < 15 ||
	    freshness_minutes > 10080 || freshness_minutes < refresh_minutes)
		return ERR_INVALID;
	struct subscribe_tx t = {c, k, clinician_id, name, norm, display, refresh_minutes, freshness_minutes,
	                         0};
	int rc = db_tx(c->db, "READ COMMITTED", subscribe_tx, &t);
	if (rc)
		return rc;
	*source_id = t.id;
	log_info("calendar source %lld: subscribed (%s)", (long long)t.id, display);
	return 0;
}

/* ---------------------------------------------------------------- refresh */

/* Seconds before the next attempt after `failures` failures in a row:
 * 1, 2, 4 … minutes (capped by the source's own interval in SQL), with up
 * to a fifth added at random so processes and sources spread out. */
static int backoff_s(int failures)
{
	int s = 60 << (failures < 8 ? failures : 8);
	unsigned int j;
	crypto_random(&j, sizeof(j));
	return s + (int)(j % (unsigned)(s / 5 + 1));
}

struct success_tx {
	struct ctx *c;
	int64_t id, clinician_id;
	const char *lease, *content_hex, *etag, *last_modified;
	const struct expanded *e;
};

static int success_tx(struct db *db, void *arg)
{
	struct success_tx *t = arg;
	UNUSED(db);
	return write_success(t->c, t->id, t->clinician_id, t->lease, t->content_hex, t->e, t->etag,
	                     t->last_modified);
}

struct failing_tx {
	struct ctx *c;
	const struct mailer *m;
	int64_t id;
};

static int failing_tx(struct db *db, void *arg)
{
	struct failing_tx *t = arg;
	PGresult *r;
	int rc = db_query(db, t->c->a, &r, SQL_MARK_FAILING, ll(t->c->a, t->id), ll(t->c->a, t->c->now));
	if (rc || PQntuples(r) != 1)
		return rc;
	log_warn(
	    "calendar source %lld: stale; availability is closed for its clinician, who is told by email",
	    (long long)t->id);
	return mail_calendar_failing(t->c, t->m, t->id);
}

static int record_failure(struct ctx *c, const struct mailer *m, int64_t id, const char *lease, int failures,
                          const char *msg)
{
	int rc = db_query(c->db, c->a, NULL, SQL_FAILURE, ll(c->a, id), lease, msg, ll(c->a, c->now),
	                  ll(c->a, backoff_s(failures)));
	log_warn("calendar source %lld: refresh failed: %s", (long long)id, msg);
	if (rc || !m)
		return rc;
	struct failing_tx t = {c, m, id};
	rc = db_tx(c->db, "READ COMMITTED", failing_tx, &t);
	if (rc)
		log_warn("calendar source %lld: could not queue the clinician's alert: %s", (long long)id,
		         err_code(rc));
	return rc;
}

/* Refreshes a source this process holds the lease of. */
static int refresh_leased(struct ctx *c, const struct keyring *k, const struct mailer *m,
                          const struct calendar_fetch_opts *o, int64_t id, const char *lease,
                          struct calendar_outcome *out)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_LOAD, ll(c->a, id));
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	int64_t clinician_id = db_ll(r, 0, 0);
	bool url = !strcmp(db_val(r, 0, 1), "url");
	const char *etag = db_isnull(r, 0, 3) ? NULL : db_val(r, 0, 3);
	const char *lm = db_isnull(r, 0, 4) ? NULL : db_val(r, 0, 4);
	bool have_content = !db_isnull(r, 0, 5);
	const char *old_sha = db_isnull(r, 0, 6) ? "" : db_val(r, 0, 6);
	int failures = (int)db_ll(r, 0, 7);

	char *data = NULL;
	size_t len = 0;
	bool fetched = false;
	struct calendar_fetch_result fr;
	memset(&fr, 0, sizeof(fr));
	if (url) {
		char *u;
		size_t ulen;
		if (open_sealed(c, k, "url_enc", id, db_val(r, 0, 2), &u, &ulen) != 0) {
			set_message(out, "the stored address cannot be decrypted (is the key file right?)");
			record_failure(c, m, id, lease, failures, out->message);
			return ERR_INTERNAL;
		}
		/* Without the last file a 304 would leave us nothing to expand. */
		rc = calendar_fetch(c->a, u, have_content ? etag : NULL, have_content ? lm : NULL, o, &fr);
		if (rc) {
			set_message(out, fr.error);
			record_failure(c, m, id, lease, failures, fr.error);
			return rc;
		}
		if (fr.not_modified) {
			out->not_modified = true;
		} else {
			data = fr.body;
			len = fr.len;
			fetched = true;
		}
	}
	if (!fetched) {
		if (!have_content) {
			set_message(out, "nothing stored to expand");
			record_failure(c, m, id, lease, failures, out->message);
			return ERR_INTERNAL;
		}
		if (open_sealed(c, k, "content_enc", id, db_val(r, 0, 5), &data, &len) != 0) {
			set_message(out, "the stored file cannot be decrypted (is the key file right?)");
			record_failure(c, m, id, lease, failures, out->message);
			return ERR_INTERNAL;
		}
	}
	struct expanded e;
	memset(&e, 0, sizeof(e));
	char err[256] = "";
	rc = expand(c, clinician_id, data, len, o->max_bytes, &e, err, sizeof(err));
	if (rc) {
		if (rc == ERR_UNAVAILABLE)
			return rc;
		set_message(out, err[0] ? err : "the calendar could not be read");
		record_failure(c, m, id, lease, failures, out->message);
		return rc;
	}
	const char *hex = NULL;
	if (fetched && strcmp(e.sha, old_sha) != 0) {
		hex = seal(c, k, "content_enc", id, data, len);
		if (!hex)
			return ERR_INTERNAL;
	} else if (fetched) {
		out->not_modified = true;
	}
	struct success_tx t = {
	    c, id, clinician_id, lease, hex, fetched ? fr.etag : etag, fetched ? fr.last_modified : lm, &e};
	rc = db_tx(c->db, "READ COMMITTED", success_tx, &t);
	if (rc)
		return rc;
	out->changed = true;
	out->events = e.events;
	out->busy = (int)e.nbusy;
	set_message(out, e.warning);
	log_info("calendar source %lld: refreshed%s, %d events, %zu busy periods", (long long)id,
	         out->not_modified ? " (unchanged)" : "", e.events, e.nbusy);
	return 0;
}

int calendar_refresh(struct ctx *c, const struct keyring *k, const struct mailer *m,
                     const struct calendar_fetch_opts *o, int64_t source_id, struct calendar_outcome *out)
{
	memset(out, 0, sizeof(*out));
	const char *lease = crypto_token(c->a, 12);
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_LEASE_ONE, ll(c->a, c->now), lease, ll(c->a, source_id));
	if (rc)
		return rc;
	if (PQntuples(r) != 1) {
		rc = db_query(c->db, c->a, &r, SQL_EXISTS, ll(c->a, source_id));
		if (rc)
			return rc;
		set_message(out, PQntuples(r) ? "a refresh is already running" : "no such calendar source");
		return PQntuples(r) ? ERR_CONFLICT : ERR_NOT_FOUND;
	}
	return refresh_leased(c, k, m, o, source_id, lease, out);
}

int calendar_refresh_due(struct ctx *c, const struct keyring *k, const struct mailer *m,
                         const struct calendar_fetch_opts *o, int max, int *n)
{
	*n = 0;
	const char *lease = crypto_token(c->a, 12);
	for (int i = 0; i < max; i++) {
		PGresult *r;
		int rc = db_query(c->db, c->a, &r, SQL_LEASE_DUE, ll(c->a, c->now), lease);
		if (rc)
			return rc;
		if (PQntuples(r) != 1)
			return 0;
		struct calendar_outcome out;
		memset(&out, 0, sizeof(out));
		rc = refresh_leased(c, k, m, o, db_ll(r, 0, 0), lease, &out);
		if (rc == ERR_UNAVAILABLE)
			return rc;
		(*n)++;
	}
	return 0;
}

/* ---------------------------------------------------------------- reading */

int calendar_owned(struct ctx *c, int64_t clinician_id, int64_t source_id)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_OWNED, ll(c->a, source_id), ll(c->a, clinician_id));
	if (rc)
		return rc;
	return PQntuples(r) == 1 ? 0 : ERR_NOT_FOUND;
}

int calendar_remove(struct ctx *c, int64_t clinician_id, int64_t source_id)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_REMOVE, ll(c->a, source_id), ll(c->a, clinician_id));
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	log_info("calendar source %lld: removed", (long long)source_id);
	return 0;
}

static char *text_or_null(struct arena *a, const PGresult *r, int row, int col)
{
	return db_isnull(r, row, col) ? NULL : arena_strdup(a, db_val(r, row, col));
}

int calendar_list(struct ctx *c, int64_t clinician_id, struct calendar_source_info **out, size_t *n)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_LIST, ll(c->a, clinician_id), ll(c->a, c->now));
	if (rc)
		return rc;
	*n = (size_t)PQntuples(r);
	*out = arena_zalloc(c->a, (*n + 1) * sizeof(**out));
	for (int i = 0; i < PQntuples(r); i++) {
		struct calendar_source_info *s = &(*out)[i];
		s->id = db_ll(r, i, 0);
		s->name = text_or_null(c->a, r, i, 1);
		s->kind = text_or_null(c->a, r, i, 2);
		s->url_display = text_or_null(c->a, r, i, 3);
		s->fresh = db_val(r, i, 4)[0] == 't';
		s->last_success = db_ll(r, i, 5);
		s->last_attempt = db_ll(r, i, 6);
		s->next_refresh = db_ll(r, i, 7);
		s->last_error = text_or_null(c->a, r, i, 8);
		s->warning = text_or_null(c->a, r, i, 9);
		s->events = (int)db_ll(r, i, 10);
		s->busy = (int)db_ll(r, i, 11);
		s->failures = (int)db_ll(r, i, 12);
		s->refresh_minutes = (int)db_ll(r, i, 13);
		s->freshness_minutes = (int)db_ll(r, i, 14);
	}
	return 0;
}

int calendar_busy(struct ctx *c, int64_t clinician_id, int64_t from, int64_t to, int64_t **pairs, size_t *n)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_BUSY, ll(c->a, clinician_id), ll(c->a, from), ll(c->a, to));
	if (rc)
		return rc;
	*n = (size_t)PQntuples(r);
	*pairs = arena_alloc(c->a, (*n * 2 + 1) * sizeof(int64_t));
	for (int i = 0; i < PQntuples(r); i++) {
		(*pairs)[2 * i] = db_ll(r, i, 0);
		(*pairs)[2 * i + 1] = db_ll(r, i, 1);
	}
	return 0;
}
