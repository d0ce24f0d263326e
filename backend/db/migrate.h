/*
 * migrate.h — forward-only schema migrations (SPEC §6).
 *
 * The files sql/NNNN_name.sql are compiled into the binary
 * (backend/db/embed_sql.sh). migrate_run applies the pending ones in
 * order, each in its own transaction, under an advisory lock so several
 * processes starting at once apply each exactly once. Each applied file is
 * recorded with its SHA-256; a file edited after it was applied is refused.
 */
#ifndef TANDEM_DB_MIGRATE_H
#define TANDEM_DB_MIGRATE_H

#include "db/db.h"

struct migration {
	int version;      /* NNNN from the file name */
	const char *name; /* the file name, for messages */
	const char *sql;  /* the file's text */
	size_t len;       /* its length */
};

extern const struct migration migrations[];
extern const size_t migrations_count;

/* Applies pending migrations. *applied gets how many were applied. On
 * failure writes a message naming the file into err. */
int migrate_run(struct db *db, int *applied, char *err, size_t errlen);

/* 0 when the database has exactly the migrations of this binary;
 * ERR_CONFLICT when it is behind or ahead; ERR_UNAVAILABLE when down. */
int migrate_check(struct db *db, struct arena *a);

/* The highest version this binary knows (0 when none). */
int migrate_latest(void);

#endif
