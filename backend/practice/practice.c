/* practice.c — see practice.h. */
#include "practice/practice.h"

#include "crypto/crypto.h"
#include "db/db.h"

static const char SQL_GET[] =
    "SELECT id, name, timezone, address, phone, email, cancellation_policy, confidentiality_policy"
    " FROM practice ORDER BY id LIMIT 1";

int practice_get(struct ctx *c, struct practice *out)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_GET);
	if (rc)
		return rc;
	if (PQntuples(r) == 0)
		return ERR_NOT_FOUND;
	out->id = db_ll(r, 0, 0);
	out->name = db_val(r, 0, 1);
	out->timezone = db_val(r, 0, 2);
	out->address = db_val(r, 0, 3);
	out->phone = db_val(r, 0, 4);
	out->email = db_val(r, 0, 5);
	out->cancellation_policy = db_val(r, 0, 6);
	out->confidentiality_policy = db_val(r, 0, 7);
	return 0;
}

json_t *practice_to_view(const struct practice *p)
{
	json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", p->name, "timezone", p->timezone,
	                      "address", p->address, "phone", p->phone, "email", p->email);
	if (!j)
		core_oom();
	return j;
}

static const char SQL_UPSERT_CLINICIAN[] =
    "INSERT INTO clinician (practice_id, name, email, timezone, role, password_hash)"
    " SELECT p.id, $2, $1, p.timezone, $3, $4 FROM practice p ORDER BY p.id LIMIT 1"
    " ON CONFLICT (lower(email)) DO UPDATE SET name = EXCLUDED.name, role = EXCLUDED.role,"
    "  password_hash = EXCLUDED.password_hash, updated_at = now()"
    " RETURNING id";

int practice_clinician_upsert(struct ctx *c, const char *email, const char *name, const char *password,
                              const char *role, int64_t *id)
{
	const char *at = strchr(email, '@');
	if (!at || at == email || !at[1] || strchr(at + 1, '@') || strpbrk(email, " \t\r\n") ||
	    strlen(email) > 254)
		return ERR_INVALID;
	if (strlen(password) < 10 || strlen(password) > 1024 || !*name || strlen(name) > 200)
		return ERR_INVALID;
	char hash[160];
	int rc = crypto_password_hash(password, hash, sizeof(hash));
	if (rc)
		return rc;
	PGresult *r;
	rc = db_query(c->db, c->a, &r, SQL_UPSERT_CLINICIAN, email, name, role, hash);
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	*id = db_ll(r, 0, 0);
	return 0;
}

static const char SQL_CLINICIAN_BY_EMAIL[] =
    "SELECT id, timezone FROM clinician WHERE lower(email) = lower($1) AND active";

int practice_clinician_by_email(struct ctx *c, const char *email, int64_t *id, char **timezone)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_CLINICIAN_BY_EMAIL, email);
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	*id = db_ll(r, 0, 0);
	if (timezone)
		*timezone = arena_strdup(c->a, db_val(r, 0, 1));
	return 0;
}
