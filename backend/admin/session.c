/* session.c — see session.h. */
#include "admin/session.h"

#include "crypto/crypto.h"
#include "db/db.h"

static const char *num(struct arena *a, int64_t v)
{
	return arena_printf(a, "%lld", (long long)v);
}

bool session_token_valid(const char *token)
{
	if (!token || strlen(token) != SESSION_TOKEN_LEN)
		return false;
	for (const char *p = token; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_'))
			return false;
	return true;
}

static void token_hash_hex(const char *token, char out[65])
{
	crypto_sha256_hex(token, strlen(token), out);
}

void session_csrf(const char *token, char out[65])
{
	char label[96];
	int n = snprintf(label, sizeof(label), "tandem-csrf-v1:%s", token);
	if (n < 0 || (size_t)n >= sizeof(label))
		BUG("session token too long");
	crypto_sha256_hex(label, (size_t)n, out);
}

/* The user agent as printable ASCII, at most 300 bytes. */
static char *clean_agent(struct arena *a, const char *ua)
{
	if (!ua)
		return "";
	size_t n = strlen(ua);
	if (n > 300)
		n = 300;
	char *s = arena_strndup(a, ua, n);
	for (char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
	return s;
}

static const char SQL_CREATE[] =
    "INSERT INTO admin_session (token_hash, clinician_id, mfa_pending, created_at, last_seen_at, expires_at,"
    " ip, user_agent)"
    " VALUES (decode($1, 'hex'), $2, $3, to_timestamp($4::bigint), to_timestamp($4::bigint),"
    " to_timestamp($4::bigint) + make_interval(secs => $5::bigint), $6, $7) RETURNING id";

int session_create(struct ctx *c, int64_t clinician_id, bool mfa_pending, long lifetime_s,
                   const char *user_agent, char **token, int64_t *id)
{
	char *t = crypto_token(c->a, SESSION_TOKEN_BYTES);
	char hash[65];
	token_hash_hex(t, hash);
	const char *ip = c->remote_addr ? c->remote_addr : "";
	if (strlen(ip) > 64)
		ip = "";
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_CREATE, hash, num(c->a, clinician_id), mfa_pending ? "t" : "f",
	                  num(c->a, c->now), num(c->a, lifetime_s), ip, clean_agent(c->a, user_agent));
	if (rc)
		return rc;
	*token = t;
	*id = db_ll(r, 0, 0);
	return 0;
}

static const char SQL_LOOKUP[] =
    "SELECT s.id, s.clinician_id, c.role = 'owner', s.mfa_pending, c.name, c.email, c.timezone,"
    " extract(epoch FROM s.last_seen_at)::bigint"
    " FROM admin_session s JOIN clinician c ON c.id = s.clinician_id"
    " WHERE s.token_hash = decode($1, 'hex') AND s.revoked_at IS NULL AND c.active"
    " AND s.expires_at > to_timestamp($2::bigint)"
    " AND s.last_seen_at >= to_timestamp($2::bigint) - make_interval(secs => $3::bigint)";
static const char SQL_TOUCH[] = "UPDATE admin_session SET last_seen_at = to_timestamp($2::bigint)"
                                " WHERE id = $1 AND last_seen_at < to_timestamp($2::bigint)";

int session_lookup(struct ctx *c, const char *token, long idle_s, struct session_info *out)
{
	if (!session_token_valid(token))
		return ERR_NOT_FOUND;
	char hash[65];
	token_hash_hex(token, hash);
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_LOOKUP, hash, num(c->a, c->now), num(c->a, idle_s));
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	out->id = db_ll(r, 0, 0);
	out->clinician_id = db_ll(r, 0, 1);
	out->owner = db_val(r, 0, 2)[0] == 't';
	out->mfa_pending = db_val(r, 0, 3)[0] == 't';
	out->name = db_val(r, 0, 4);
	out->email = db_val(r, 0, 5);
	out->timezone = db_val(r, 0, 6);
	/* One write a minute at most, and often enough for the idle limit. */
	long every = idle_s / 4 < 60 ? idle_s / 4 : 60;
	if (c->now - db_ll(r, 0, 7) >= every)
		rc = db_query(c->db, c->a, NULL, SQL_TOUCH, num(c->a, out->id), num(c->a, c->now));
	return rc;
}

static const char SQL_REVOKE[] =
    "UPDATE admin_session SET revoked_at = to_timestamp($2::bigint), revoked_reason = $3"
    " WHERE id = $1 AND revoked_at IS NULL";

int session_revoke(struct ctx *c, int64_t id, const char *reason)
{
	return db_query(c->db, c->a, NULL, SQL_REVOKE, num(c->a, id), num(c->a, c->now), reason);
}

static const char SQL_REVOKE_OWN[] =
    "UPDATE admin_session SET revoked_at = to_timestamp($3::bigint), revoked_reason = $4"
    " WHERE id = $1 AND clinician_id = $2 AND revoked_at IS NULL AND expires_at > to_timestamp($3::bigint)"
    " RETURNING id";

int session_revoke_own(struct ctx *c, int64_t clinician_id, int64_t id, const char *reason)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_REVOKE_OWN, num(c->a, id), num(c->a, clinician_id),
	                  num(c->a, c->now), reason);
	if (rc)
		return rc;
	return PQntuples(r) == 1 ? 0 : ERR_NOT_FOUND;
}

static const char SQL_REVOKE_ALL[] =
    "UPDATE admin_session SET revoked_at = to_timestamp($3::bigint), revoked_reason = $4"
    " WHERE clinician_id = $1 AND id <> $2 AND revoked_at IS NULL RETURNING id";

int session_revoke_all(struct ctx *c, int64_t clinician_id, int64_t except, const char *reason, int *n)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_REVOKE_ALL, num(c->a, clinician_id), num(c->a, except),
	                  num(c->a, c->now), reason);
	if (rc)
		return rc;
	if (n)
		*n = PQntuples(r);
	return 0;
}

static const char SQL_MFA_FAILED[] =
    "UPDATE admin_session SET mfa_failures = mfa_failures + 1,"
    " revoked_at = CASE WHEN mfa_failures + 1 >= $2::int THEN to_timestamp($3::bigint) END,"
    " revoked_reason = CASE WHEN mfa_failures + 1 >= $2::int THEN 'mfa-failed' END"
    " WHERE id = $1 AND revoked_at IS NULL RETURNING mfa_failures";

int session_mfa_failed(struct ctx *c, int64_t id, int *left)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_MFA_FAILED, num(c->a, id), num(c->a, SESSION_MFA_TRIES),
	                  num(c->a, c->now));
	if (rc)
		return rc;
	*left = PQntuples(r) == 1 ? SESSION_MFA_TRIES - (int)db_ll(r, 0, 0) : 0;
	if (*left < 0)
		*left = 0;
	return 0;
}

static const char SQL_LIST[] =
    "SELECT id, extract(epoch FROM created_at)::bigint, extract(epoch FROM last_seen_at)::bigint, ip,"
    " user_agent, mfa_pending FROM admin_session"
    " WHERE clinician_id = $1 AND revoked_at IS NULL AND expires_at > to_timestamp($2::bigint)"
    " ORDER BY id DESC LIMIT 100";

int session_list(struct ctx *c, int64_t clinician_id, json_t **rows)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_LIST, num(c->a, clinician_id), num(c->a, c->now));
	if (rc)
		return rc;
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(r); i++)
		json_array_append_new(
		    arr, json_pack("{s:I, s:I, s:I, s:s, s:s, s:b}", "id", (json_int_t)db_ll(r, i, 0),
		                   "created", (json_int_t)db_ll(r, i, 1), "last_seen",
		                   (json_int_t)db_ll(r, i, 2), "ip", db_val(r, i, 3), "user_agent",
		                   db_val(r, i, 4), "mfa_pending", db_val(r, i, 5)[0] == 't'));
	*rows = arr;
	return 0;
}

static const char SQL_PURGE_SESSIONS[] = "DELETE FROM admin_session WHERE coalesce(revoked_at, expires_at) < "
                                         "to_timestamp($1::bigint) - interval '7 "
                                         "days'";
static const char SQL_PURGE_THROTTLE[] =
    "DELETE FROM login_throttle WHERE last_attempt_at < to_timestamp($1::bigint) - interval '2 days'"
    " AND next_allowed_at < to_timestamp($1::bigint)";

int session_purge(struct ctx *c, int *n)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_PURGE_SESSIONS, num(c->a, c->now));
	if (rc)
		return rc;
	if (n)
		*n = atoi(PQcmdTuples(r));
	return db_query(c->db, c->a, NULL, SQL_PURGE_THROTTLE, num(c->a, c->now));
}
