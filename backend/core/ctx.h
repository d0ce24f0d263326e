/*
 * ctx.h — what every domain function receives: where to allocate, which
 * database connection to use, what time it is, and who is acting.
 *
 * The clock is injected (a value, not a call) so time-dependent logic can
 * be tested at any instant: handlers set now from the real clock once per
 * request; tests set whatever instant they need.
 */
#ifndef TANDEM_CORE_CTX_H
#define TANDEM_CORE_CTX_H

#include "core/arena.h"

struct db;

struct ctx {
	struct arena *a;         /* allocations for this unit of work */
	struct db *db;           /* connection (one thread's) */
	int64_t now;             /* "now", Unix seconds */
	const char *actor;       /* "public", "client:<id>", "clinician:<id>", "system" */
	const char *remote_addr; /* where the request came from, for the audit log */
};

/* The real wall clock, Unix seconds. */
int64_t ctx_clock_now(void);

#endif
