/*
 * http.h — what a request handler sees: the request, already parsed and
 * bounded at the edge, and the functions to answer it.
 *
 * Handlers are `int handler(struct req *r)`: they either send a response
 * and return 0, or return a negative ERR_* and let http_send_error() answer
 * (JSON under /api/, an HTML page elsewhere). No civetweb type appears
 * here; http/server.c owns the connection.
 */
#ifndef TANDEM_HTTP_HTTP_H
#define TANDEM_HTTP_HTTP_H

#include <jansson.h>

#include "core/arena.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/str.h"
#include "db/db.h"
#include "http/form.h"

struct tpl_set;
struct route;
struct mg_connection;
struct assets;
struct keyring;

/* Process-wide, read-only once serving starts. */
struct app {
	const struct config *cfg; /* effective configuration */
	struct tpl_set *tpl;      /* templates, loaded and checked at start-up */
	struct assets *assets;    /* static files, loaded at start-up */
	struct keyring *keys;     /* data keys for encrypted columns */
	int64_t started_us;       /* process start (wall clock), for /metrics */
};

enum { REQ_MAX_PARAMS = 4 };

/* The signed-in clinician behind a request. http/server.c fills it (from
 * the session cookie, admin/admin_http.c) before the handler runs, for
 * routes flagged ROUTE_ADMIN, ROUTE_PARTIAL or ROUTE_LOGIN; NULL without
 * a live session and on every other route. */
struct req_session {
	int64_t id;           /* admin_session.id */
	int64_t clinician_id; /* who */
	bool owner;           /* role owner: manages the practice, sees every clinician's records */
	bool mfa_pending;     /* the password was right, the TOTP code is still owed */
	const char *name;     /* the clinician's name */
	const char *email;    /* the clinician's login */
	const char *timezone; /* the clinician's IANA zone: admin pages show times in it */
	char csrf[65];        /* this session's CSRF token: forms' "csrf" field, X-CSRF-Token */
	char actor[40];       /* "clinician:<id>", the ctx actor and audit actor */
};

struct req {
	struct mg_connection *conn;        /* owned by http/server.c; handlers don't touch it */
	const struct app *app;             /* process-wide state */
	struct arena *a;                   /* everything for this request; freed at its end */
	struct db *db;                     /* this worker thread's connection */
	const char *method;                /* "GET", "POST", ... */
	const char *path;                  /* decoded, normalised path, no query */
	const char *query;                 /* raw query string or NULL; never log it */
	const char *remote_addr;           /* peer address (the proxy's, behind nginx) */
	const struct route *route;         /* the matched route, NULL when none */
	struct str params[REQ_MAX_PARAMS]; /* {name} values from the pattern, in order */
	int nparams;                       /* how many params */
	char id[24];                       /* request id, also in X-Request-Id and logs */
	bool api;                          /* path under /api/: errors as JSON */
	const char *body;                  /* request body (NUL-terminated) or NULL */
	size_t body_len;                   /* its length */
	json_t *json;                      /* parsed JSON body, for ROUTE_JSON routes */
	struct form form;                  /* decoded form body, for ROUTE_FORM routes */
	struct req_session *session;       /* the signed-in clinician, or NULL (see above) */
	bool session_ended;                /* a session cookie came, but its session is over */
	struct buf headers;                /* extra response headers, "Name: value\r\n" each */
	const char *cache_control;         /* Cache-Control sent; "no-store" unless changed */
	bool close;                        /* send Connection: close (body left unread) */
	int status;                        /* status sent, for logs and metrics */
	size_t bytes_out;                  /* body bytes sent */
	bool sent;                         /* a response went out */
};

/* A request header's value, or NULL. */
const char *http_get_header(const struct req *r, const char *name);
/* A query parameter, decoded and validated as text; NULL when absent or bad. */
const char *http_query_param(struct req *r, const char *name);
/* A record id as paths and forms carry it: a positive decimal of at most 18
 * digits, no sign, no leading zero; else 0 (which no record has). */
int64_t http_parse_id(const char *s);
/* The same for path parameter i ({id}). */
int64_t http_param_id(const struct req *r, int i);

/* Adds a response header (name and value must not hold CR or LF). */
void http_add_header(struct req *r, const char *name, const char *value);

int http_send(struct req *r, int status, const char *content_type, const void *body, size_t len);
/* Sends j as JSON and releases it. */
int http_send_json(struct req *r, int status, json_t *j);
/* Renders template `page` (which extends the layout) with view, releases
 * view, and sends it as text/html. */
int http_send_page(struct req *r, int status, const char *page, json_t *view);
int http_redirect(struct req *r, int status, const char *location);
/* Answers an error: JSON {"error":{code,message,fields}} under /api/,
 * else the HTML error page. message may be NULL for the default text;
 * fields (released) may be NULL. */
int http_send_error(struct req *r, int err, const char *message, json_t *fields);
/* The one answer for every capability link that does not open (unknown,
 * expired, revoked, replaced): a 404 that says nothing about why. */
int http_send_link_not_valid(struct req *r);

/* The HTTP status for an ERR_*. */
int http_status_for(int err);

#endif
