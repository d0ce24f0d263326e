/*
 * audit.h — the append-only, hash-chained audit log (SPEC §1 "Audit
 * event", §5): who did what to which record, when and from where; never
 * the PHI itself (ids, not names; no intake words, no emails).
 *
 * Every entry's hash is SHA-256 over a canonical serialisation of its
 * fields and the hash of the entry before (audit_entry_hash), so editing,
 * removing or inserting an entry breaks the chain from that entry on.
 * Writers take one transaction-scoped advisory lock, read the head and
 * append id = head + 1: one chain, however many server processes write at
 * once. The database refuses UPDATE, DELETE and TRUNCATE on the table
 * (sql/0006_admin.sql); `tandem audit verify` walks the chain.
 *
 * Other modules record what they do with audit_write():
 *
 *     audit_write(&c, "feed.fetch", arena_printf(a, "feed:%lld", id), NULL);
 *
 * c->actor is the actor ("clinician:<id>", "client", "system", "public")
 * and c->remote_addr the address. Actions are lower-case dotted words
 * ("booking.view", "login.failure"); targets name records ("booking:42").
 */
#ifndef TANDEM_ADMIN_AUDIT_H
#define TANDEM_ADMIN_AUDIT_H

#include <jansson.h>

#include "core/ctx.h"

/* One entry as stored (text forms as the chain hashes them). */
struct audit_entry {
	int64_t id;            /* 1, 2, 3, … without gaps */
	const char *at;        /* "2026-11-21T15:04:05.123456Z" (UTC, microseconds) */
	const char *actor;     /* "clinician:3", "system", "public", … */
	const char *action;    /* "login.success", "booking.view", … */
	const char *target;    /* "booking:42", "clinician:3" or "" */
	const char *ip;        /* client address or "" */
	const char *detail;    /* detail as PostgreSQL prints the jsonb ("{}" at least) */
	const char *prev_hash; /* 64 hex; 64 zeros for the first entry */
	const char *hash;      /* 64 hex */
};

/* The hash of e (every field but e->hash, plus e->prev_hash) into out. */
void audit_entry_hash(const struct audit_entry *e, char out[65]);

/* Checks one entry against what the chain expects at this position.
 * 0 when it fits; ERR_CONFLICT with the reason in why otherwise. */
int audit_check_entry(const struct audit_entry *e, int64_t expect_id, const char *expect_prev, char *why,
                      size_t whylen);

/* Appends an entry. detail (may be NULL) is a JSON object without reals
 * and is released (json_decref) whatever happens. Inside a db_tx the entry
 * commits or rolls back with the caller's transaction (and the chain lock
 * is held until then); outside one it is its own transaction. */
int audit_write(struct ctx *c, const char *action, const char *target, json_t *detail);

struct audit_report {
	int64_t entries;    /* entries checked */
	int64_t broken_id;  /* first entry that does not fit, 0 when the chain is whole */
	char why[200];      /* what is wrong with it */
	char head_hash[65]; /* the last entry's hash ("" when empty): note it to detect truncation */
};

/* Walks the whole chain in id order. 0 with the report filled (check
 * broken_id); ERR_* when the database cannot be read. */
int audit_verify(struct db *db, struct audit_report *out);

/* What the viewer asks for. NULL or "" fields do not filter. */
struct audit_filter {
	const char *actor;    /* exact actor */
	const char *action;   /* exact action, or a prefix ending in '.' ("login.") */
	const char *from;     /* "YYYY-MM-DD" (checked by the caller), first day included */
	const char *to;       /* "YYYY-MM-DD", last day included */
	const char *timezone; /* IANA zone the days are in */
	const char *scope;    /* only entries with this actor or target (a non-owner's own), or NULL */
	int64_t before_id;    /* page: entries with id below this; 0 for the newest */
	int limit;            /* at most this many (1..200) */
};

/* Entries matching f, newest first, as a JSON array of objects
 * {id, at (epoch seconds), actor, action, target, ip, detail (text)};
 * *more says whether older ones exist. */
int audit_list(struct ctx *c, const struct audit_filter *f, json_t **rows, bool *more);

#endif
