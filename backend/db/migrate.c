/* migrate.c — see migrate.h. */
#include "db/migrate.h"

#include "core/log.h"
#include "crypto/crypto.h"

/* pg_advisory_lock key: "tandem" in ASCII. */
static const char SQL_LOCK[] = "SELECT pg_advisory_lock(127970077074797)";
static const char SQL_UNLOCK[] = "SELECT pg_advisory_unlock(127970077074797)";
static const char SQL_CREATE[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                 " version integer PRIMARY KEY,"
                                 " name text NOT NULL,"
                                 " checksum text NOT NULL,"
                                 " applied_at timestamptz NOT NULL DEFAULT now())";
static const char SQL_APPLIED[] = "SELECT version, name, checksum FROM schema_migrations ORDER BY version";
static const char SQL_RECORD[] =
    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)";
static const char SQL_LATEST[] = "SELECT coalesce(max(version), 0), count(*) FROM schema_migrations";

int migrate_latest(void)
{
	return migrations_count ? migrations[migrations_count - 1].version : 0;
}

static const struct migration *find(int version)
{
	for (size_t i = 0; i < migrations_count; i++)
		if (migrations[i].version == version)
			return &migrations[i];
	return NULL;
}

static int verify_applied(struct db *db, struct arena *a, int *max_applied, char *err, size_t errlen)
{
	PGresult *r;
	int rc = db_query(db, a, &r, SQL_APPLIED);
	if (rc) {
		snprintf(err, errlen, "cannot read schema_migrations (%s)", err_code(rc));
		return rc;
	}
	*max_applied = 0;
	for (int i = 0; i < PQntuples(r); i++) {
		int v = (int)db_ll(r, i, 0);
		const struct migration *m = find(v);
		if (!m) {
			snprintf(err, errlen,
			         "the database has migration %d (%s) that this binary does not know; "
			         "is an older tandem running against a newer database?",
			         v, db_val(r, i, 1));
			return ERR_CONFLICT;
		}
		char hex[65];
		crypto_sha256_hex(m->sql, m->len, hex);
		if (strcmp(hex, db_val(r, i, 2)) != 0) {
			snprintf(err, errlen,
			         "migration %s was edited after it was applied (checksum differs); "
			         "migrations are never edited once released: add a new one",
			         m->name);
			return ERR_CONFLICT;
		}
		*max_applied = v;
	}
	/* Every known migration below the highest applied must be applied too. */
	for (size_t i = 0; i < migrations_count; i++) {
		if (migrations[i].version < *max_applied) {
			bool found = false;
			for (int k = 0; k < PQntuples(r); k++)
				if ((int)db_ll(r, k, 0) == migrations[i].version)
					found = true;
			if (!found) {
				snprintf(err, errlen, "migration %s is missing below applied version %d",
				         migrations[i].name, *max_applied);
				return ERR_CONFLICT;
			}
		}
	}
	return 0;
}

int migrate_run(struct db *db, int *applied, char *err, size_t errlen)
{
	struct arena a;
	arena_init(&a);
	*applied = 0;
	int rc = db_connect(db);
	if (rc) {
		snprintf(err, errlen, "cannot connect to the database");
		goto out_nolock;
	}
	rc = db_query(db, NULL, NULL, SQL_LOCK);
	if (rc) {
		snprintf(err, errlen, "cannot take the migration lock");
		goto out_nolock;
	}
	rc = db_query(db, NULL, NULL, SQL_CREATE);
	if (rc) {
		snprintf(err, errlen, "cannot create schema_migrations");
		goto out;
	}
	int max_applied;
	rc = verify_applied(db, &a, &max_applied, err, errlen);
	if (rc)
		goto out;
	for (size_t i = 0; i < migrations_count; i++) {
		const struct migration *m = &migrations[i];
		if (m->version <= max_applied)
			continue;
		char hex[65], ver[16];
		crypto_sha256_hex(m->sql, m->len, hex);
		snprintf(ver, sizeof(ver), "%d", m->version);
		rc = db_exec_script(db, "BEGIN");
		if (!rc)
			rc = db_exec_script(db, m->sql);
		if (!rc)
			rc = db_query(db, NULL, NULL, SQL_RECORD, ver, m->name, hex);
		if (!rc)
			rc = db_exec_script(db, "COMMIT");
		if (rc) {
			if (db_is_up(db))
				db_exec_script(db, "ROLLBACK");
			snprintf(err, errlen, "migration %s failed (SQLSTATE %s); nothing of it was applied",
			         m->name, db->sqlstate);
			goto out;
		}
		log_info("applied migration %s", m->name);
		(*applied)++;
	}
	rc = 0;
out:
	if (db_is_up(db))
		db_query(db, NULL, NULL, SQL_UNLOCK);
out_nolock:
	arena_release(&a);
	return rc;
}

int migrate_check(struct db *db, struct arena *a)
{
	PGresult *r;
	int rc = db_query(db, a, &r, SQL_LATEST);
	if (rc)
		return rc == ERR_UNAVAILABLE ? rc : ERR_CONFLICT;
	if (db_ll(r, 0, 0) != migrate_latest() || db_ll(r, 0, 1) != (long long)migrations_count)
		return ERR_CONFLICT;
	return 0;
}
