/*
 * router.h — the route table: {method, pattern, handler, flags, limits}.
 *
 * Patterns are literal segments and parameters: "/offerings/{slug}",
 * "/feeds/{token}.ics" (a parameter may carry a literal prefix/suffix in
 * its segment). GET routes also answer HEAD. The table is static and
 * scanned in order: a few dozen routes cost less than any index.
 */
#ifndef TANDEM_HTTP_ROUTER_H
#define TANDEM_HTTP_ROUTER_H

#include "http/http.h"

enum route_flags {
	ROUTE_JSON = 1 << 0,       /* body is JSON (application/json) */
	ROUTE_FORM = 1 << 1,       /* body is application/x-www-form-urlencoded */
	ROUTE_CSP_REPORT = 1 << 2, /* body is a browser report (JSON media types) */
	ROUTE_ADMIN = 1 << 3,      /* clinician session required */
	ROUTE_CSRF = 1 << 4,       /* CSRF token required (state-changing form) */
	ROUTE_CAPABILITY = 1 << 5, /* URL holds a token: no-store, no-referrer, never logged */
};

struct route {
	const char *method;            /* "GET", "POST", "PUT", "DELETE" */
	const char *pattern;           /* see above; also the metrics/log label */
	int (*handler)(struct req *r); /* sends a response (0) or returns ERR_* */
	unsigned flags;                /* enum route_flags */
	size_t max_body;               /* bytes; 0 = the configured max_body */
};

extern const struct route routes[];
extern const size_t routes_count;

/* Finds the route for method and path. NULL when none; then *allow holds
 * the methods that the path does accept ("" when the path is unknown). */
const struct route *router_match(const struct route *table, size_t n, const char *method, const char *path,
                                 struct str *params, int *nparams, char *allow, size_t allowlen);

#endif
