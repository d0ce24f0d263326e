/* db.c — see db.h. */
#include "db/db.h"

#include <poll.h>
#include <time.h>

#include "core/log.h"

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* An idle connection has nothing to read. If it does, the server has
 * spoken (a FATAL on shutdown) or hung up: read until quiet or EOF. */
static bool idle_connection_dead(PGconn *conn)
{
	for (int i = 0; i < 4; i++) {
		struct pollfd p = {PQsocket(conn), POLLIN, 0};
		if (p.fd < 0)
			return true;
		if (poll(&p, 1, 0) <= 0)
			return PQstatus(conn) != CONNECTION_OK;
		if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK)
			return true;
	}
	return PQstatus(conn) != CONNECTION_OK;
}

/* Drops the connection and what was prepared on it. */
static void drop(struct db *db)
{
	if (db->conn)
		PQfinish(db->conn);
	db->conn = NULL;
	db->nprepared = 0;
}

static void quiet_notices(void *arg, const char *msg)
{
	UNUSED(arg);
	UNUSED(msg);
}

void db_init(struct db *db, const char *conninfo, long connect_timeout_s, long statement_timeout_ms)
{
	memset(db, 0, sizeof(*db));
	db->conninfo = xstrdup(conninfo);
	db->connect_timeout_s = connect_timeout_s;
	db->statement_timeout_ms = statement_timeout_ms;
}

void db_release(struct db *db)
{
	drop(db);
	free(db->conninfo);
	db->conninfo = NULL;
}

bool db_is_up(const struct db *db)
{
	return db->conn && PQstatus(db->conn) == CONNECTION_OK;
}

int db_connect(struct db *db)
{
	if (db_is_up(db))
		return 0;
	int64_t now = mono_us();
	if (now < db->retry_after_us)
		return ERR_UNAVAILABLE;
	drop(db);
	char ct[32], opts[96];
	snprintf(ct, sizeof(ct), "%ld", db->connect_timeout_s);
	snprintf(opts, sizeof(opts), "-c statement_timeout=%ld -c idle_in_transaction_session_timeout=60000",
	         db->statement_timeout_ms);
	const char *kw[] = {"dbname",     "connect_timeout", "options", "application_name",
	                    "keepalives", "keepalives_idle", NULL};
	const char *vals[] = {db->conninfo, ct, opts, "tandem", "1", "30", NULL};
	/* expand_dbname=1: the first dbname may be a full conninfo or URI; the
	 * later keywords then override or add to it. */
	int64_t t0 = mono_us();
	db->conn = PQconnectdbParams(kw, vals, 1);
	if (!db->conn)
		core_oom();
	if (PQstatus(db->conn) != CONNECTION_OK) {
		/* The message may name hosts and users, never passwords. */
		log_warn("database connect failed: %s", PQerrorMessage(db->conn));
		drop(db);
		/* A refused connection fails at once: try again next time. One
		 * that took long (an unreachable host) would make every request
		 * wait as long: fail fast for a moment instead. */
		int64_t took = mono_us() - t0;
		db->retry_after_us = took > 100000 ? mono_us() + 1000000 : 0;
		return ERR_UNAVAILABLE;
	}
	PQsetNoticeProcessor(db->conn, quiet_notices, NULL);
	db->retry_after_us = 0;
	return 0;
}

int db_map_sqlstate(const char *s)
{
	if (!s || !*s)
		return ERR_INTERNAL;
	if (!strcmp(s, "23505") || !strcmp(s, "23P01"))
		return ERR_CONFLICT;
	if (!strcmp(s, "40001") || !strcmp(s, "40P01"))
		return ERR_RETRY;
	/* CHECK (23514) and NOT NULL (23502) failures are left out on purpose:
	 * they mean our validation missed something, so they are internal
	 * errors (logged), not the client's 422. */
	if (!strcmp(s, "23503") || !strcmp(s, "22P02") || !strcmp(s, "22007") || !strcmp(s, "22008") ||
	    !strcmp(s, "22023") || !strcmp(s, "22001") || !strcmp(s, "22003") || !strcmp(s, "22021"))
		return ERR_INVALID;
	if (!strncmp(s, "08", 2) || !strcmp(s, "57P01") || !strcmp(s, "57P02") || !strcmp(s, "57P03") ||
	    !strcmp(s, "53300") || !strcmp(s, "57014"))
		return ERR_UNAVAILABLE;
	if (!strcmp(s, "55P03"))
		return ERR_CONFLICT;
	return ERR_INTERNAL;
}

static void clear_result(void *p)
{
	PQclear(p);
}

long long db_ll(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? 0 : strtoll(PQgetvalue(r, row, col), NULL, 10);
}

bool db_failed_on(const struct db *db, const char *constraint)
{
	return db->constraint && strcmp(db->constraint, constraint) == 0;
}

/* Runs sql once, prepared on this connection the first time it is seen.
 * NULL with the connection unusable. */
static PGresult *run(struct db *db, const char *sql, int nparams, const char *const *params)
{
	int slot = -1;
	for (int i = 0; i < db->nprepared; i++)
		if (db->prepared[i] == sql) {
			slot = i;
			break;
		}
	char name[16];
	if (slot < 0 && db->nprepared < (int)ARRAY_LEN(db->prepared)) {
		slot = db->nprepared;
		snprintf(name, sizeof(name), "t%d", slot);
		PGresult *p = PQprepare(db->conn, name, sql, nparams, NULL);
		if (!p)
			return NULL;
		if (PQresultStatus(p) != PGRES_COMMAND_OK) {
			/* Let the plain path report the error with its SQLSTATE. */
			PQclear(p);
			return PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
		}
		PQclear(p);
		db->prepared[db->nprepared++] = sql;
	}
	if (slot < 0) /* the cache is full: plan this one each time */
		return PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
	snprintf(name, sizeof(name), "t%d", slot);
	return PQexecPrepared(db->conn, name, nparams, params, NULL, NULL, 0);
}

int db_exec(struct db *db, struct arena *a, PGresult **out, const char *sql, int nparams,
            const char *const *params)
{
	if (out)
		*out = NULL;
	db->sqlstate[0] = '\0';
	db->constraint = NULL;
	int rc = db_connect(db);
	if (rc)
		return rc;
	/* A connection that died while idle (the server restarted) shows it
	 * on a non-blocking read: reconnect before sending anything. Once a
	 * statement is sent it is never sent again, since it may have
	 * committed before the connection broke. */
	if (idle_connection_dead(db->conn)) {
		drop(db);
		db->retry_after_us = 0;
		if (db->in_tx || (rc = db_connect(db)) != 0) {
			log_warn("database connection lost");
			return ERR_UNAVAILABLE;
		}
		log_info("database connection re-established");
	}
	PGresult *r = run(db, sql, nparams, params);
	if (!r || PQstatus(db->conn) != CONNECTION_OK) {
		if (r)
			PQclear(r);
		drop(db);
		db->retry_after_us = 0;
		snprintf(db->sqlstate, sizeof(db->sqlstate), "08006");
		log_warn("database connection lost during a statement");
		return ERR_UNAVAILABLE;
	}
	ExecStatusType st = PQresultStatus(r);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		if (out) {
			arena_on_release(a, clear_result, r);
			*out = r;
		} else {
			PQclear(r);
		}
		return 0;
	}
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state ? state : "XX000");
	const char *cons = PQresultErrorField(r, PG_DIAG_CONSTRAINT_NAME);
	if (cons) {
		snprintf(db->constraint_buf, sizeof(db->constraint_buf), "%s", cons);
		db->constraint = db->constraint_buf;
	}
	rc = db_map_sqlstate(db->sqlstate);
	if (rc == ERR_INTERNAL) {
		const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
		log_error("database error %s: %s", db->sqlstate, msg ? msg : "?");
	} else if (rc != ERR_CONFLICT && rc != ERR_RETRY) {
		log_info("database %s (%s)", db->sqlstate, err_code(rc));
	}
	PQclear(r);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		drop(db);
		return ERR_UNAVAILABLE;
	}
	return rc;
}

int db_tx(struct db *db, const char *isolation, int (*fn)(struct db *db, void *arg), void *arg)
{
	static const char *const begins[] = {"BEGIN ISOLATION LEVEL READ COMMITTED",
	                                     "BEGIN ISOLATION LEVEL REPEATABLE READ",
	                                     "BEGIN ISOLATION LEVEL SERIALIZABLE"};
	const char *begin = begins[0];
	if (isolation && !strcmp(isolation, "REPEATABLE READ"))
		begin = begins[1];
	else if (isolation && !strcmp(isolation, "SERIALIZABLE"))
		begin = begins[2];
	int rc = ERR_INTERNAL;
	for (int attempt = 0; attempt < 5; attempt++) {
		rc = db_exec(db, NULL, NULL, begin, 0, NULL);
		if (rc)
			return rc;
		db->in_tx = true;
		rc = fn(db, arg);
		if (rc == 0)
			rc = db_exec(db, NULL, NULL, "COMMIT", 0, NULL);
		db->in_tx = false;
		if (rc == 0)
			return 0;
		if (db_is_up(db))
			db_exec(db, NULL, NULL, "ROLLBACK", 0, NULL);
		if (rc != ERR_RETRY)
			return rc;
		/* Short randomised pause so retried transactions don't collide again. */
		struct timespec ts = {0, (long)(1000000L * (1 + attempt * 3 + rand() % 5))};
		nanosleep(&ts, NULL);
	}
	return rc;
}

int db_exec_script(struct db *db, const char *sql)
{
	int rc = db_connect(db);
	if (rc)
		return rc;
	db->sqlstate[0] = '\0';
	PGresult *r = PQexec(db->conn, sql);
	ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		PQclear(r);
		return 0;
	}
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	snprintf(db->sqlstate, sizeof(db->sqlstate), "%s", state ? state : "08006");
	log_error("script failed: %s %s", db->sqlstate, msg ? msg : PQerrorMessage(db->conn));
	if (r)
		PQclear(r);
	if (PQstatus(db->conn) != CONNECTION_OK) {
		drop(db);
		return ERR_UNAVAILABLE;
	}
	return db_map_sqlstate(db->sqlstate) == ERR_UNAVAILABLE ? ERR_UNAVAILABLE : ERR_INTERNAL;
}
