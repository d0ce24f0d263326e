/*
 * db.h — Tandem's only door to PostgreSQL.
 *
 * One struct db per thread (a connection is never shared). Every statement
 * goes through db_exec with parameters (PQexecParams); SQL text is a static
 * const next to the code that uses it, never built from input. Results are
 * registered with the caller's arena and freed with it. SQLSTATEs are mapped
 * to enum err: 23505/23P01 → ERR_CONFLICT, 40001/40P01 → ERR_RETRY, a lost
 * connection → ERR_UNAVAILABLE (the next call reconnects, with a short
 * back-off so an outage costs each request milliseconds, not seconds).
 */
#ifndef TANDEM_DB_DB_H
#define TANDEM_DB_DB_H

#include <libpq-fe.h>

#include "core/arena.h"

struct db {
	PGconn *conn;              /* NULL until the first successful connect */
	char *conninfo;            /* owned copy of the connection string */
	int64_t retry_after_us;    /* monotonic time before which we don't reconnect */
	bool in_tx;                /* inside db_tx: a lost connection is not retried blindly */
	long connect_timeout_s;    /* libpq connect_timeout */
	long statement_timeout_ms; /* server-side statement_timeout */
	char sqlstate[6];          /* SQLSTATE of the last failure, "" if none */
	const char *constraint;    /* constraint name of the last failure (static copy) */
	char constraint_buf[64];   /* storage for constraint */
	/* Statements prepared on this connection, keyed by the address of
	 * their static SQL text: parse and plan once, not per request. */
	const char *prepared[256];
	int nprepared;
};

/* conninfo is copied; connect_timeout and statement timeout are added. */
void db_init(struct db *db, const char *conninfo, long connect_timeout_s, long statement_timeout_ms);
void db_release(struct db *db);

/* Connects if needed; 0, or ERR_UNAVAILABLE. */
int db_connect(struct db *db);
/* True when the connection is up (no network round trip). */
bool db_is_up(const struct db *db);

/* Runs sql with nparams text parameters (NULL = SQL NULL). *out (if out is
 * not NULL) receives the result, owned by arena a. Returns 0 or an ERR_*. */
int db_exec(struct db *db, struct arena *a, PGresult **out, const char *sql, int nparams,
            const char *const *params);

/* db_query(db, arena, &res, SQL, p1, p2, ...) — the usual way to call db_exec. */
#define db_query(db, a, out, sql, ...)                                                                       \
	db_exec((db), (a), (out), (sql),                                                                     \
	        (int)(sizeof((const char *[]){NULL, __VA_ARGS__}) / sizeof(const char *)) - 1,               \
	        ((const char *[]){NULL, __VA_ARGS__}) + 1)

/* Runs fn inside BEGIN … COMMIT at the given isolation ("READ COMMITTED",
 * "REPEATABLE READ" or "SERIALIZABLE"); retries the whole transaction up to
 * 5 times on ERR_RETRY; rolls back on any error and returns it. */
int db_tx(struct db *db, const char *isolation, int (*fn)(struct db *db, void *arg), void *arg);

/* Convenience accessors for a result row/column; "" for NULL. */
static inline const char *db_val(const PGresult *r, int row, int col)
{
	return PQgetvalue(r, row, col);
}
static inline bool db_isnull(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) != 0;
}
long long db_ll(const PGresult *r, int row, int col);

/* Is the last failure a unique/exclusion violation on this constraint? */
bool db_failed_on(const struct db *db, const char *constraint);

/* Maps a SQLSTATE to an ERR_* (exposed for tests). */
int db_map_sqlstate(const char *sqlstate);

/* Runs a multi-statement script without parameters (PQexec). Only for
 * migrations, whose text is compiled into the binary. */
int db_exec_script(struct db *db, const char *sql);
#endif
