/* auth.c — see auth.h. */
#include "admin/auth.h"

#include <ctype.h>
#include <pthread.h>

#include "admin/audit.h"
#include "admin/session.h"
#include "admin/totp.h"
#include "core/buf.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "db/db.h"

static const char *num(struct arena *a, int64_t v)
{
	return arena_printf(a, "%lld", (long long)v);
}

long auth_backoff(long failures, long free, long base_s, long max_s)
{
	if (failures < free)
		return 0;
	long d = base_s;
	for (long i = free; i < failures && d < max_s; i++)
		d *= 2;
	return d < max_s ? d : max_s;
}

/* ---- the dummy hash: unknown accounts cost the same work --------------- */

static char dummy_hash[160];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void dummy_init(void)
{
	char pw[40];
	struct arena a;
	arena_init(&a);
	snprintf(pw, sizeof(pw), "%s", crypto_token(&a, 24));
	arena_release(&a);
	if (crypto_password_hash(pw, dummy_hash, sizeof(dummy_hash)) != 0)
		BUG("cannot make the dummy password hash");
}

/* ---- throttling ---------------------------------------------------------- */

enum { THROTTLE_DECAY_S = 86400 }; /* a count older than a day starts again */

static const char SQL_THROTTLE_ENSURE[] =
    "INSERT INTO login_throttle (key, failures, last_attempt_at, next_allowed_at)"
    " VALUES ($1, 0, to_timestamp($3::bigint), to_timestamp(0)),"
    " ($2, 0, to_timestamp($3::bigint), to_timestamp(0)) ON CONFLICT (key) DO NOTHING";
static const char SQL_THROTTLE_LOCK[] =
    "SELECT key, failures, extract(epoch FROM last_attempt_at)::bigint,"
    " ceil(extract(epoch FROM next_allowed_at))::bigint"
    " FROM login_throttle WHERE key = $1 OR key = $2 ORDER BY key FOR UPDATE";
static const char SQL_THROTTLE_SET[] =
    "UPDATE login_throttle SET failures = $2, last_attempt_at = to_timestamp($3::bigint),"
    " next_allowed_at = to_timestamp($4::bigint), refused = 0 WHERE key = $1";
static const char SQL_THROTTLE_REFUSED[] =
    "UPDATE login_throttle SET refused = refused + 1"
    " WHERE (key = $1 OR key = $2) AND next_allowed_at > to_timestamp($3::bigint) RETURNING refused";
static const char SQL_THROTTLE_RESET[] = "DELETE FROM login_throttle WHERE key = $1";
static const char SQL_THROTTLE_GIVE_BACK[] =
    "UPDATE login_throttle SET failures = greatest(failures - 1, 0),"
    " next_allowed_at = least(next_allowed_at, to_timestamp($2::bigint)) WHERE key = $1";

struct throttle {
	struct ctx *c;               /* caller's context */
	const struct auth_policy *p; /* limits */
	const char *key[2];          /* [0] account, [1] address */
	long free[2];                /* free attempts of each */
	long count[2];               /* attempts counted, this one included */
	long retry_after;            /* > 0: refused, wait this long */
	bool first_refusal;          /* the first refusal of this wait (audit it) */
};

static int throttle_claim_tx(struct db *db, void *arg)
{
	struct throttle *t = arg;
	struct ctx *c = t->c;
	PGresult *r;
	int rc = db_query(db, c->a, NULL, SQL_THROTTLE_ENSURE, t->key[0], t->key[1], num(c->a, c->now));
	if (rc)
		return rc;
	if ((rc = db_query(db, c->a, &r, SQL_THROTTLE_LOCK, t->key[0], t->key[1])))
		return rc;
	long fails[2] = {0, 0};
	int64_t last[2] = {0, 0};
	t->retry_after = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		int k = strcmp(db_val(r, i, 0), t->key[0]) == 0 ? 0 : 1;
		fails[k] = (long)db_ll(r, i, 1);
		last[k] = db_ll(r, i, 2);
		int64_t next = db_ll(r, i, 3);
		if (next > c->now && next - c->now > t->retry_after)
			t->retry_after = (long)(next - c->now);
	}
	if (t->retry_after > 0) {
		/* Refused: nothing counted, nothing checked. */
		if ((rc = db_query(db, c->a, &r, SQL_THROTTLE_REFUSED, t->key[0], t->key[1],
		                   num(c->a, c->now))))
			return rc;
		for (int i = 0; i < PQntuples(r); i++)
			if (db_ll(r, i, 0) == 1)
				t->first_refusal = true;
		return 0;
	}
	for (int k = 0; k < 2; k++) {
		long n = (c->now - last[k] > THROTTLE_DECAY_S ? 0 : fails[k]) + 1;
		t->count[k] = n;
		long wait = auth_backoff(n, t->free[k], t->p->backoff_base_s, t->p->backoff_max_s);
		if ((rc = db_query(db, c->a, NULL, SQL_THROTTLE_SET, t->key[k], num(c->a, n),
		                   num(c->a, c->now), num(c->a, c->now + wait))))
			return rc;
	}
	return 0;
}

/* Counts one attempt for the account of `email` and the client address.
 * 0 when it may go ahead; ERR_RATE_LIMITED with t->retry_after. */
static int throttle_claim(struct ctx *c, const struct auth_policy *p, const char *email, struct throttle *t)
{
	memset(t, 0, sizeof(*t));
	t->c = c;
	t->p = p;
	size_t n = strlen(email);
	char *low = arena_strndup(c->a, email, n);
	for (char *s = low; *s; s++)
		*s = (char)tolower((unsigned char)*s);
	char hex[65];
	crypto_sha256_hex(low, n, hex);
	t->key[0] = arena_printf(c->a, "c:%s", hex);
	const char *ip = c->remote_addr && *c->remote_addr ? c->remote_addr : "unknown";
	t->key[1] = arena_printf(c->a, "ip:%.64s", ip);
	t->free[0] = p->free_attempts;
	t->free[1] = p->free_attempts * AUTH_ADDRESS_FACTOR;
	int rc = db_tx(c->db, "READ COMMITTED", throttle_claim_tx, t);
	if (rc)
		return rc;
	return t->retry_after > 0 ? ERR_RATE_LIMITED : 0;
}

/* Key k (0 the account, 1 the address) gets this attempt back: a right
 * answer is not a guess. */
static int throttle_give_back(struct throttle *t, int k)
{
	struct ctx *c = t->c;
	long wait = auth_backoff(t->count[k] - 1, t->free[k], t->p->backoff_base_s, t->p->backoff_max_s);
	return db_query(c->db, c->a, NULL, SQL_THROTTLE_GIVE_BACK, t->key[k], num(c->a, c->now + wait));
}

/* The attempt succeeded: the account starts afresh and the address gets
 * this attempt back. */
static int throttle_success(struct throttle *t)
{
	int rc = db_query(t->c->db, t->c->a, NULL, SQL_THROTTLE_RESET, t->key[0]);
	return rc ? rc : throttle_give_back(t, 1);
}

static void audit_login(struct ctx *c, const char *action, int64_t clinician_id, const char *reason)
{
	const char *target =
	    clinician_id ? arena_printf(c->a, "clinician:%lld", (long long)clinician_id) : "";
	audit_write(c, action, target, reason ? json_pack("{s:s}", "reason", reason) : NULL);
}

/* ---- passwords ----------------------------------------------------------- */

static const char SQL_ACCOUNT[] =
    "SELECT c.id, c.password_hash, EXISTS (SELECT 1 FROM clinician_totp t"
    "  WHERE t.clinician_id = c.id AND t.confirmed_at IS NOT NULL)"
    " FROM clinician c WHERE lower(c.email) = lower($1) AND c.active AND c.password_hash IS NOT NULL";
static const char SQL_ACCOUNT_BY_ID[] =
    "SELECT id, password_hash FROM clinician WHERE id = $1 AND active AND password_hash IS NOT NULL";
static const char SQL_REHASH[] =
    "UPDATE clinician SET password_hash = $2, updated_at = now() WHERE id = $1 AND password_hash = $3";

/* Verifies password against encoded (the dummy when NULL), and stores a
 * fresh hash when the stored one used other parameters. */
static int verify(struct ctx *c, int64_t id, const char *encoded, const char *password)
{
	pthread_once(&dummy_once, dummy_init);
	if (strlen(password) > AUTH_PASSWORD_MAX)
		return ERR_UNAUTHORIZED;
	bool rehash = false;
	int rc = crypto_password_verify(encoded ? encoded : dummy_hash, password, &rehash);
	if (rc || !encoded)
		return rc ? rc : ERR_UNAUTHORIZED;
	if (rehash) {
		char fresh[160];
		if (crypto_password_hash(password, fresh, sizeof(fresh)) == 0 &&
		    db_query(c->db, c->a, NULL, SQL_REHASH, num(c->a, id), fresh, encoded) == 0)
			log_info("rehashed the password of clinician %lld with the current parameters",
			         (long long)id);
		memset(fresh, 0, sizeof(fresh));
	}
	return 0;
}

int auth_login(struct ctx *c, const struct auth_policy *p, const char *email, const char *password,
               struct auth_login *out)
{
	memset(out, 0, sizeof(*out));
	if (!email)
		email = "";
	if (!password)
		password = "";
	if (strlen(email) > 254)
		email = "(too long)";
	struct throttle t;
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_ACCOUNT, email);
	if (rc)
		return rc;
	int64_t id = PQntuples(r) == 1 ? db_ll(r, 0, 0) : 0;
	const char *encoded = id ? db_val(r, 0, 1) : NULL;
	rc = throttle_claim(c, p, email, &t);
	if (rc == ERR_RATE_LIMITED) {
		out->retry_after = t.retry_after;
		if (t.first_refusal)
			audit_login(c, "login.throttled", id, NULL);
		return rc;
	}
	if (rc)
		return rc;
	rc = verify(c, id, encoded, password);
	if (rc == ERR_UNAUTHORIZED) {
		audit_login(c, "login.failure", id, id ? "password" : "unknown account");
		return rc;
	}
	if (rc)
		return rc;
	out->clinician_id = id;
	out->totp = db_val(r, 0, 2)[0] == 't';
	/* With a second factor the account starts afresh only once the code
	 * is right too (auth_totp_login): otherwise the right password would
	 * wipe the count before every few code guesses. The right password
	 * itself is no guess: both keys get it back, or every sign-in would
	 * leave one more. */
	if (!out->totp)
		return throttle_success(&t);
	return (rc = throttle_give_back(&t, 0)) ? rc : throttle_give_back(&t, 1);
}

int auth_recheck_password(struct ctx *c, const struct auth_policy *p, int64_t clinician_id, const char *email,
                          const char *password, long *retry_after)
{
	*retry_after = 0;
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_ACCOUNT_BY_ID, num(c->a, clinician_id));
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_UNAUTHORIZED;
	struct throttle t;
	rc = throttle_claim(c, p, email, &t);
	if (rc == ERR_RATE_LIMITED)
		*retry_after = t.retry_after;
	if (rc)
		return rc;
	rc = verify(c, clinician_id, db_val(r, 0, 1), password ? password : "");
	if (rc == ERR_UNAUTHORIZED)
		audit_login(c, "password.failure", clinician_id, NULL);
	if (rc)
		return rc;
	return throttle_success(&t);
}

static const char SQL_SET_PASSWORD[] =
    "UPDATE clinician SET password_hash = $2, updated_at = now() WHERE id = $1";

int auth_change_password(struct ctx *c, const struct auth_policy *p, int64_t clinician_id, const char *email,
                         const char *current, const char *fresh, const char *confirm, int64_t except_session,
                         json_t **fields, long *retry_after)
{
	*fields = NULL;
	*retry_after = 0;
	json_t *f = json_object();
	size_t n = fresh ? strlen(fresh) : 0;
	if (!current || !*current)
		json_object_set_new(f, "current", json_string("Enter your current password."));
	if (n < AUTH_PASSWORD_MIN || n > AUTH_PASSWORD_MAX)
		json_object_set_new(f, "password", json_string("Use 10 to 1024 characters."));
	else if (current && strcmp(current, fresh) == 0)
		json_object_set_new(f, "password",
		                    json_string("Choose a password other than the current one."));
	if (!json_object_get(f, "password") && (!confirm || strcmp(confirm, fresh) != 0))
		json_object_set_new(f, "confirm", json_string("The two new passwords differ."));
	if (json_object_size(f)) {
		*fields = f;
		return ERR_INVALID;
	}
	int rc = auth_recheck_password(c, p, clinician_id, email, current, retry_after);
	if (rc == ERR_UNAUTHORIZED) {
		json_object_set_new(f, "current", json_string("That is not your current password."));
		*fields = f;
		return ERR_INVALID;
	}
	json_decref(f);
	if (rc)
		return rc;
	char hash[160];
	if ((rc = crypto_password_hash(fresh, hash, sizeof(hash))))
		return rc;
	rc = db_query(c->db, c->a, NULL, SQL_SET_PASSWORD, num(c->a, clinician_id), hash);
	memset(hash, 0, sizeof(hash));
	if (rc)
		return rc;
	int revoked = 0;
	if ((rc = session_revoke_all(c, clinician_id, except_session, "password-change", &revoked)))
		return rc;
	audit_write(c, "password.change", arena_printf(c->a, "clinician:%lld", (long long)clinician_id),
	            json_pack("{s:i}", "sessions_revoked", revoked));
	return 0;
}

/* ---- TOTP ---------------------------------------------------------------- */

static const char SQL_TOTP_STATE[] =
    "SELECT confirmed_at IS NOT NULL FROM clinician_totp WHERE clinician_id = $1";
static const char SQL_TOTP_BEGIN[] =
    "INSERT INTO clinician_totp (clinician_id, secret_enc, created_at) VALUES ($1, decode($2, 'hex'), now())"
    " ON CONFLICT (clinician_id) DO UPDATE SET secret_enc = EXCLUDED.secret_enc, created_at = now(),"
    " last_step = 0 WHERE clinician_totp.confirmed_at IS NULL RETURNING clinician_id";
static const char SQL_TOTP_SECRET[] =
    "SELECT encode(secret_enc, 'hex'), last_step, confirmed_at IS NOT NULL FROM clinician_totp"
    " WHERE clinician_id = $1";
static const char SQL_TOTP_CONFIRM[] =
    "UPDATE clinician_totp SET confirmed_at = now(), last_step = $2"
    " WHERE clinician_id = $1 AND confirmed_at IS NULL RETURNING clinician_id";
static const char SQL_TOTP_USE_STEP[] =
    "UPDATE clinician_totp SET last_step = $2"
    " WHERE clinician_id = $1 AND confirmed_at IS NOT NULL AND last_step < $2 RETURNING clinician_id";
static const char SQL_RECOVERY_CLEAR[] = "DELETE FROM totp_recovery_code WHERE clinician_id = $1";
static const char SQL_RECOVERY_ADD[] = "INSERT INTO totp_recovery_code (clinician_id, code_hash)"
                                       " SELECT $1, decode(h, 'hex') FROM unnest($2::text[]) h";
static const char SQL_RECOVERY_USE[] =
    "UPDATE totp_recovery_code SET used_at = now()"
    " WHERE clinician_id = $1 AND code_hash = decode($2, 'hex') AND used_at IS NULL RETURNING clinician_id";
static const char SQL_TOTP_DELETE[] = "DELETE FROM clinician_totp WHERE clinician_id = $1";

static const char *secret_ad(struct arena *a, int64_t clinician_id)
{
	return arena_printf(a, "clinician_totp.secret:%lld", (long long)clinician_id);
}

int auth_totp_state(struct ctx *c, int64_t clinician_id, bool *enabled, bool *pending)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_TOTP_STATE, num(c->a, clinician_id));
	if (rc)
		return rc;
	*enabled = PQntuples(r) == 1 && db_val(r, 0, 0)[0] == 't';
	*pending = PQntuples(r) == 1 && !*enabled;
	return 0;
}

int auth_totp_begin(struct ctx *c, const struct keyring *k, int64_t clinician_id)
{
	unsigned char secret[TOTP_SECRET_BYTES], *env;
	size_t n;
	crypto_random(secret, sizeof(secret));
	int rc = crypto_seal(k, c->a, secret, sizeof(secret), secret_ad(c->a, clinician_id), &env, &n);
	memset(secret, 0, sizeof(secret));
	if (rc)
		return rc;
	char *hex = crypto_bytea_hex(c->a, env, n) + 2; /* without the "\x" */
	PGresult *r;
	if ((rc = db_query(c->db, c->a, &r, SQL_TOTP_BEGIN, num(c->a, clinician_id), hex)))
		return rc;
	return PQntuples(r) == 1 ? 0 : ERR_CONFLICT;
}

/* The clinician's secret; *confirmed says whether TOTP is on. */
static int load_secret(struct ctx *c, const struct keyring *k, int64_t clinician_id, unsigned char **secret,
                       size_t *n, int64_t *last_step, bool *confirmed)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_TOTP_SECRET, num(c->a, clinician_id));
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	unsigned char *env;
	size_t envlen;
	if ((rc = crypto_bytea_parse(c->a, arena_printf(c->a, "\\x%s", db_val(r, 0, 0)), &env, &envlen)))
		return ERR_INTERNAL;
	char *pt;
	if ((rc = crypto_open(k, c->a, env, envlen, secret_ad(c->a, clinician_id), &pt, n))) {
		log_error("the TOTP secret of clinician %lld does not open (%s)", (long long)clinician_id,
		          err_code(rc));
		return ERR_INTERNAL;
	}
	*secret = (unsigned char *)pt;
	*last_step = db_ll(r, 0, 1);
	*confirmed = db_val(r, 0, 2)[0] == 't';
	return 0;
}

int auth_totp_pending_secret(struct ctx *c, const struct keyring *k, int64_t clinician_id, char **secret_b32)
{
	unsigned char *s;
	size_t n;
	int64_t last;
	bool confirmed;
	int rc = load_secret(c, k, clinician_id, &s, &n, &last, &confirmed);
	if (rc)
		return rc;
	if (confirmed)
		return ERR_NOT_FOUND;
	*secret_b32 = totp_base32(c->a, s, n);
	memset(s, 0, n);
	return 0;
}

/* 16 characters from an alphabet without 0/O, 1/I/L look-alikes: 80 bits. */
static const char RECOVERY_ALPHABET[] = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";

char *auth_recovery_normalise(struct arena *a, const char *code)
{
	char *out = arena_alloc(a, 17);
	size_t o = 0;
	for (const char *p = code; *p; p++) {
		if (*p == ' ' || *p == '-')
			continue;
		char ch = (char)toupper((unsigned char)*p);
		if (!strchr(RECOVERY_ALPHABET, ch) || o == 16)
			return NULL;
		out[o++] = ch;
	}
	if (o != 16)
		return NULL;
	out[o] = '\0';
	return out;
}

struct confirm_job {
	struct ctx *c;
	int64_t clinician_id;
	int64_t step;
	const char *hashes; /* text[] literal of the codes' hashes */
};

static int confirm_tx(struct db *db, void *arg)
{
	struct confirm_job *j = arg;
	struct ctx *c = j->c;
	const char *id = num(c->a, j->clinician_id);
	PGresult *r;
	int rc = db_query(db, c->a, &r, SQL_TOTP_CONFIRM, id, num(c->a, j->step));
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	if ((rc = db_query(db, c->a, NULL, SQL_RECOVERY_CLEAR, id)) ||
	    (rc = db_query(db, c->a, NULL, SQL_RECOVERY_ADD, id, j->hashes)))
		return rc;
	return audit_write(c, "totp.enable", arena_printf(c->a, "clinician:%s", id), NULL);
}

int auth_totp_confirm(struct ctx *c, const struct keyring *k, int64_t clinician_id, const char *code,
                      json_t **codes)
{
	unsigned char *s;
	size_t n;
	int64_t last, step;
	bool confirmed;
	int rc = load_secret(c, k, clinician_id, &s, &n, &last, &confirmed);
	if (rc)
		return rc;
	if (confirmed)
		return ERR_NOT_FOUND;
	rc = totp_verify(s, n, c->now, code, last, &step);
	memset(s, 0, n);
	if (rc)
		return rc;
	json_t *list = json_array();
	struct buf hashes;
	buf_init(&hashes, c->a, 4096);
	buf_putc(&hashes, '{');
	for (int i = 0; i < AUTH_RECOVERY_CODES; i++) {
		unsigned char raw[16];
		char plain[17], pretty[20], hex[65];
		crypto_random(raw, sizeof(raw));
		for (int j = 0; j < 16; j++)
			plain[j] = RECOVERY_ALPHABET[raw[j] % (sizeof(RECOVERY_ALPHABET) - 1)];
		plain[16] = '\0';
		snprintf(pretty, sizeof(pretty), "%.4s-%.4s-%.4s-%.4s", plain, plain + 4, plain + 8,
		         plain + 12);
		crypto_sha256_hex(plain, 16, hex);
		buf_printf(&hashes, "%s%s", i ? "," : "", hex);
		json_array_append_new(list, json_string(pretty));
	}
	buf_putc(&hashes, '}');
	struct confirm_job j = {c, clinician_id, step, buf_cstr(&hashes)};
	rc = db_tx(c->db, "READ COMMITTED", confirm_tx, &j);
	if (rc) {
		json_decref(list);
		return rc;
	}
	*codes = list;
	return 0;
}

struct disable_job {
	struct ctx *c;
	int64_t clinician_id;
};

static int disable_tx(struct db *db, void *arg)
{
	struct disable_job *j = arg;
	const char *id = num(j->c->a, j->clinician_id);
	int rc;
	if ((rc = db_query(db, j->c->a, NULL, SQL_TOTP_DELETE, id)) ||
	    (rc = db_query(db, j->c->a, NULL, SQL_RECOVERY_CLEAR, id)))
		return rc;
	return audit_write(j->c, "totp.disable", arena_printf(j->c->a, "clinician:%s", id), NULL);
}

int auth_totp_disable(struct ctx *c, int64_t clinician_id)
{
	struct disable_job j = {c, clinician_id};
	return db_tx(c->db, "READ COMMITTED", disable_tx, &j);
}

/* Is code six digits (spaces allowed)? Otherwise it may be a recovery code. */
static bool looks_like_totp(const char *code)
{
	int digits = 0;
	for (const char *p = code; *p; p++) {
		if (*p == ' ')
			continue;
		if (!isdigit((unsigned char)*p))
			return false;
		digits++;
	}
	return digits == TOTP_DIGITS;
}

int auth_totp_login(struct ctx *c, const struct auth_policy *p, const struct keyring *k, int64_t clinician_id,
                    const char *email, const char *code, const char **method, long *retry_after)
{
	*retry_after = 0;
	*method = "totp";
	if (!code)
		code = "";
	struct throttle t;
	int rc = throttle_claim(c, p, email, &t);
	if (rc == ERR_RATE_LIMITED) {
		*retry_after = t.retry_after;
		if (t.first_refusal)
			audit_login(c, "login.throttled", clinician_id, "second factor");
		return rc;
	}
	if (rc)
		return rc;
	const char *id = num(c->a, clinician_id);
	PGresult *r;
	if (looks_like_totp(code)) {
		unsigned char *s;
		size_t n;
		int64_t last = 0, step = 0;
		bool confirmed;
		rc = load_secret(c, k, clinician_id, &s, &n, &last, &confirmed);
		if (rc == ERR_NOT_FOUND) /* turned off meanwhile: no code can be right */
			rc = ERR_UNAUTHORIZED;
		else if (rc == 0) {
			rc = confirmed ? totp_verify(s, n, c->now, code, last, &step) : ERR_UNAUTHORIZED;
			memset(s, 0, n);
		}
		/* The step is taken atomically: of two requests with one code
		 * (or a replay) only one gets it. */
		if (rc == 0 &&
		    (rc = db_query(c->db, c->a, &r, SQL_TOTP_USE_STEP, id, num(c->a, step))) == 0 &&
		    PQntuples(r) != 1)
			rc = ERR_UNAUTHORIZED;
	} else {
		*method = "recovery";
		char *norm = auth_recovery_normalise(c->a, code);
		rc = ERR_UNAUTHORIZED;
		if (norm) {
			char hex[65];
			crypto_sha256_hex(norm, strlen(norm), hex);
			if ((rc = db_query(c->db, c->a, &r, SQL_RECOVERY_USE, id, hex)) == 0)
				rc = PQntuples(r) == 1 ? 0 : ERR_UNAUTHORIZED;
		}
	}
	if (rc == ERR_UNAUTHORIZED || rc == ERR_INVALID) {
		audit_login(c, "login.failure", clinician_id, *method);
		return ERR_UNAUTHORIZED;
	}
	if (rc)
		return rc;
	if (!strcmp(*method, "recovery"))
		audit_write(c, "totp.recovery_used", arena_printf(c->a, "clinician:%s", id), NULL);
	return throttle_success(&t);
}
