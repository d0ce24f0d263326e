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

/*
 * Access flags, enforced in http/server.c dispatch() for every route, in
 * this order, before the handler runs:
 *
 *   ROUTE_ADMIN    a signed-in clinician (both factors) is required. Pages
 *                  without one get 303 to /admin/login?next=…, JSON routes
 *                  401. r->session is set for the handler.
 *   ROUTE_PARTIAL  like ROUTE_ADMIN, but a session whose TOTP code is
 *                  still owed is enough (the code form, logout).
 *   ROUTE_LOGIN    the sign-in form: the session is looked up if there is
 *                  one, never required.
 *   ROUTE_CSRF     a state-changing route: a method other than GET/HEAD
 *                  must carry the CSRF token in the form field "csrf" or
 *                  the X-CSRF-Token header, else 403. It is the session's
 *                  token; on ROUTE_LOGIN it is the sign-in cookie's
 *                  (double submit).
 *
 * Every route under /admin and /api/v1/admin must have ROUTE_ADMIN,
 * ROUTE_PARTIAL or ROUTE_LOGIN, and every such route that is not GET must
 * have ROUTE_CSRF: routes_check() refuses the table otherwise (at start-up
 * and in the unit tests), and dispatch() checks the CSRF token on any
 * non-GET route with a session flag even without ROUTE_CSRF. A new admin
 * route therefore cannot forget either. Add one as:
 *
 *     {"POST", "/admin/things/{id}/archive", thing_http_archive,
 *      ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM, 8 * 1024},
 *
 * and in the handler use r->session (clinician_id, owner, actor, csrf) and
 * answer ERR_NOT_FOUND for records out of the clinician's reach.
 */
enum route_flags {
	ROUTE_JSON = 1 << 0,       /* body is JSON (application/json) */
	ROUTE_FORM = 1 << 1,       /* body is application/x-www-form-urlencoded */
	ROUTE_CSP_REPORT = 1 << 2, /* body is a browser report (JSON media types) */
	ROUTE_ADMIN = 1 << 3,      /* clinician session required (see above) */
	ROUTE_CSRF = 1 << 4,       /* CSRF token required on non-GET methods (see above) */
	ROUTE_CAPABILITY = 1 << 5, /* URL holds a token: no-store, no-referrer, never logged */
	ROUTE_PARTIAL = 1 << 6,    /* a session with the TOTP code still owed is enough */
	ROUTE_LOGIN = 1 << 7,      /* the sign-in form: session optional, CSRF by cookie */
	ROUTE_MULTIPART = 1 << 8,  /* body is multipart/form-data (file uploads): parts → r->form */
};

/* Any of these: the session is looked up for the route. */
#define ROUTE_SESSION_FLAGS (ROUTE_ADMIN | ROUTE_PARTIAL | ROUTE_LOGIN)

struct route {
	const char *method;            /* "GET", "POST", "PUT", "DELETE" */
	const char *pattern;           /* see above; also the metrics/log label */
	int (*handler)(struct req *r); /* sends a response (0) or returns ERR_* */
	unsigned flags;                /* enum route_flags */
	size_t max_body;               /* bytes; 0 = the configured max_body */
};

extern const struct route routes[];
extern const size_t routes_count;

/* Checks a route table against the access rules above. 0, or ERR_CONFIG
 * with the first offending route described in err. */
int routes_check(const struct route *table, size_t n, char *err, size_t errlen);

/* Finds the route for method and path. NULL when none; then *allow holds
 * the methods that the path does accept ("" when the path is unknown). */
const struct route *router_match(const struct route *table, size_t n, const char *method, const char *path,
                                 struct str *params, int *nparams, char *allow, size_t allowlen);

#endif
