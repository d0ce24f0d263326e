/* server.c — see server.h. */
#include "http/server.h"

#include <civetweb.h>
#include <ctype.h>
#include <signal.h>
#include <stdatomic.h>
#include <strings.h>
#include <time.h>

#include "admin/admin_http.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "http/json_body.h"
#include "http/metrics.h"
#include "http/multipart.h"
#include "http/router.h"

struct worker {
	struct arena arena; /* reset after every request */
	bool holding;       /* serving a connection (counted in held_conns) */
	struct db db;       /* this thread's connection */
};

static const struct server_hooks *hooks;

/* Graceful stop: civetweb's mg_stop abandons responses still being
 * written, so on SIGTERM the main thread first waits (up to DRAIN_MAX_US)
 * until no request is inside dispatch(); requests arriving meanwhile get
 * 503 (with Retry-After) and Connection: close. */
enum { DRAIN_MAX_US = 25 * 1000000, DRAIN_POLL_NS = 10 * 1000000 };
static atomic_int inflight;
static atomic_bool draining;

/* A civetweb worker owns its connection for as long as the client keeps it
 * alive, so with more busy keep-alive clients than workers the extra
 * connections wait in the queue until a client hangs up: starved, not
 * slow. When every worker holds a connection we answer with "Connection:
 * close", so a saturated server degrades to one request per connection
 * and everyone is served in turn (bench: mixed workload at 64). */
static atomic_int held_conns;

void server_set_hooks(const struct server_hooks *h)
{
	hooks = h;
}

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void *init_thread(const struct mg_context *ctx, int type)
{
	if (type != 1)
		return NULL;
	const struct app *app = mg_get_user_data(ctx);
	struct worker *w = xcalloc(1, sizeof(*w));
	arena_init(&w->arena);
	db_init(&w->db, app->cfg->database_url, app->cfg->db_connect_timeout,
	        app->cfg->db_statement_timeout_ms);
	return w;
}

static int on_init_connection(const struct mg_connection *conn, void **conn_data)
{
	struct worker *w = mg_get_thread_pointer(conn);
	*conn_data = NULL;
	if (w && !w->holding) {
		w->holding = true;
		atomic_fetch_add(&held_conns, 1);
	}
	return 0;
}

static void on_connection_close(const struct mg_connection *conn)
{
	struct worker *w = mg_get_thread_pointer(conn);
	if (w && w->holding) {
		w->holding = false;
		atomic_fetch_sub(&held_conns, 1);
	}
}

static void exit_thread(const struct mg_context *ctx, int type, void *p)
{
	UNUSED(ctx);
	UNUSED(type);
	struct worker *w = p;
	if (!w)
		return;
	db_release(&w->db);
	arena_release(&w->arena);
	free(w);
}

const char *http_get_header(const struct req *r, const char *name)
{
	return mg_get_header(r->conn, name);
}

static int64_t id_of(const char *s, size_t n)
{
	if (n == 0 || n > 18 || s[0] == '0')
		return 0;
	int64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

int64_t http_parse_id(const char *s)
{
	return s ? id_of(s, strlen(s)) : 0;
}

int64_t http_param_id(const struct req *r, int i)
{
	return i < r->nparams ? id_of(r->params[i].ptr, r->params[i].len) : 0;
}

const char *http_query_param(struct req *r, const char *name)
{
	if (!r->query)
		return NULL;
	struct form q;
	const char *bad;
	if (form_parse(r->a, r->query, strlen(r->query), &q, &bad) != 0)
		return NULL;
	return form_get(&q, name);
}

/* A request id from the proxy when it looks like one, else a fresh one. */
static void make_request_id(struct req *r)
{
	const char *given = mg_get_header(r->conn, "X-Request-Id");
	if (given) {
		size_t n = strlen(given);
		bool ok = n >= 8 && n < sizeof(r->id);
		for (size_t i = 0; ok && i < n; i++)
			ok = isalnum((unsigned char)given[i]) || given[i] == '-' || given[i] == '_';
		if (ok) {
			memcpy(r->id, given, n + 1);
			return;
		}
	}
	static const char hex[] = "0123456789abcdef";
	unsigned char raw[8];
	crypto_random(raw, sizeof(raw));
	for (int i = 0; i < 8; i++) {
		r->id[2 * i] = hex[raw[i] >> 4];
		r->id[2 * i + 1] = hex[raw[i] & 15];
	}
	r->id[16] = '\0';
}

/* The media type without parameters, lower-cased, and whether any charset
 * parameter is UTF-8. */
static bool media_type_is(const char *ct, const char *want)
{
	if (!ct)
		return false;
	size_t n = strlen(want);
	if (strncasecmp(ct, want, n) != 0)
		return false;
	const char *rest = ct + n;
	while (*rest == ' ')
		rest++;
	if (*rest == '\0')
		return true;
	if (*rest != ';')
		return false;
	const char *cs = strcasestr(rest, "charset=");
	if (!cs)
		return true;
	cs += 8;
	if (*cs == '"')
		cs++;
	return strncasecmp(cs, "utf-8", 5) == 0 || strncasecmp(cs, "utf8", 4) == 0;
}

static bool body_type_ok(const struct route *rt, const char *ct)
{
	if (rt->flags & ROUTE_JSON)
		return media_type_is(ct, "application/json");
	if (rt->flags & ROUTE_FORM)
		return media_type_is(ct, "application/x-www-form-urlencoded");
	if (rt->flags & ROUTE_MULTIPART)
		return ct && strncasecmp(ct, "multipart/form-data", 19) == 0;
	if (rt->flags & ROUTE_CSP_REPORT)
		return media_type_is(ct, "application/json") || media_type_is(ct, "application/csp-report") ||
		       media_type_is(ct, "application/reports+json");
	return true;
}

/* Reads and parses the body under the route's limits. */
static int read_body(struct req *r, const struct mg_request_info *ri, json_t **fields, const char **message)
{
	const struct route *rt = r->route;
	/* The route's own limit, under the configured ceiling. */
	size_t max = (size_t)r->app->cfg->max_body;
	if (rt->max_body && rt->max_body < max)
		max = rt->max_body;
	const char *te = mg_get_header(r->conn, "Transfer-Encoding");
	const char *cl = mg_get_header(r->conn, "Content-Length");
	if (te && cl) {
		r->close = true;
		*message = "A request may not carry both Transfer-Encoding and Content-Length.";
		return ERR_MALFORMED; /* the request smuggling shape: refuse */
	}
	bool wants_body = rt->flags & (ROUTE_JSON | ROUTE_FORM | ROUTE_MULTIPART | ROUTE_CSP_REPORT);
	if (!wants_body)
		return 0; /* any body is ignored (and discarded by civetweb) */
	if (!te && ri->content_length <= 0 && !mg_get_header(r->conn, "Content-Type"))
		return 0; /* no body at all: the handler sees r->json / r->form empty */
	if (ri->content_length > 0 && (unsigned long long)ri->content_length > max) {
		r->close = true; /* we will not read it */
		return ERR_TOO_LARGE;
	}
	if (!body_type_ok(rt, mg_get_header(r->conn, "Content-Type")))
		return ERR_MEDIA_TYPE;
	size_t want = ri->content_length >= 0 ? (size_t)ri->content_length : max + 1;
	char *body = arena_alloc(r->a, want + 1);
	size_t got = 0;
	while (got < want) {
		int n = mg_read(r->conn, body + got, want - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (got > max) {
		r->close = true;
		return ERR_TOO_LARGE;
	}
	if (ri->content_length >= 0 && got < (size_t)ri->content_length) {
		r->close = true;
		return ERR_MALFORMED; /* the client stopped early or timed out */
	}
	body[got] = '\0';
	r->body = body;
	r->body_len = got;
	if (rt->flags & (ROUTE_JSON | ROUTE_CSP_REPORT)) {
		char msg[160];
		const char *field;
		int rc = json_body_parse(r->a, body, got, &r->json, msg, sizeof(msg), &field);
		if (rc == ERR_INVALID)
			*fields = json_pack("{s:s}", field, "must be text without control characters");
		else if (rc == ERR_MALFORMED)
			*message = arena_strdup(r->a, msg);
		return rc;
	}
	const char *bad;
	if (rt->flags & ROUTE_MULTIPART) {
		int rc =
		    multipart_parse(r->a, mg_get_header(r->conn, "Content-Type"), body, got, &r->form, &bad);
		if (rc == ERR_INVALID)
			*fields = json_pack("{s:s}", bad ? bad : "(form)",
			                    "must be text without control characters");
		else if (rc == ERR_MALFORMED)
			*message = "The upload could not be read (a broken or truncated multipart body).";
		return rc;
	}
	int rc = form_parse(r->a, body, got, &r->form, &bad);
	if (rc == ERR_INVALID)
		*fields = json_pack("{s:s}", bad ? bad : "(form)", "must be text without control characters");
	else if (rc == ERR_MALFORMED)
		*message = "The form body could not be decoded (a bad %-escape or an empty name).";
	return rc;
}

static int dispatch(struct mg_connection *conn, void *cbdata)
{
	const struct app *app = cbdata;
	struct worker *w = mg_get_thread_pointer(conn);
	const struct mg_request_info *ri = mg_get_request_info(conn);
	int64_t t0 = mono_us();
	struct req r;
	memset(&r, 0, sizeof(r));
	r.conn = conn;
	r.app = app;
	r.a = &w->arena;
	r.db = &w->db;
	r.method = ri->request_method;
	r.path = "/";
	r.query = ri->query_string;
	buf_init(&r.headers, r.a, 16 * 1024);
	r.remote_addr = admin_http_client_addr(&r, ri->remote_addr);
	make_request_id(&r);
	log_set_request_id(r.id);
	atomic_fetch_add(&inflight, 1);

	char allow[128];
	int rc;
	json_t *fields = NULL;
	const char *message = NULL;
	bool stopping = atomic_load(&draining);
	r.close = atomic_load(&held_conns) >= app->cfg->threads;
	/* Paths are text: no NUL (civetweb cuts the path at a decoded %00),
	 * no control characters, valid UTF-8. Nor two Content-Lengths. */
	int ncl = 0;
	for (int i = 0; i < ri->num_headers; i++)
		if (!strcasecmp(ri->http_headers[i].name, "Content-Length"))
			ncl++;
	char *path = NULL;
	bool bad_path = !ri->local_uri || form_path_decode(r.a, ri->local_uri, &path) != 0;
	if (!bad_path)
		r.path = path;
	r.api = strncmp(r.path, "/api/", 5) == 0;
	if (stopping) {
		r.close = true;
		rc = ERR_UNAVAILABLE;
		message = "The server is restarting; please try again in a moment.";
		r.route = NULL;
		goto answer;
	}
	if (bad_path || ncl > 1) {
		r.close = r.close || ncl > 1;
		rc = ERR_MALFORMED;
		message =
		    ncl > 1 ? "A request may carry only one Content-Length." : "The address is not valid.";
		r.route = NULL;
		goto answer;
	}
	r.route =
	    router_match(routes, routes_count, r.method, r.path, r.params, &r.nparams, allow, sizeof(allow));
	if (!r.route) {
		if (allow[0]) {
			http_add_header(&r, "Allow", allow);
			rc = ERR_METHOD;
		} else {
			rc = ERR_NOT_FOUND;
		}
	} else {
		/* Access first (before the body is even read), then the body,
		 * then CSRF (its token may be in the form): router.h. */
		rc = admin_http_gate(&r);
		if (rc == 0 && !r.sent)
			rc = read_body(&r, ri, &fields, &message);
		if (rc == 0 && !r.sent)
			rc = admin_http_csrf(&r);
		if (rc == 0 && !r.sent)
			rc = r.route->handler(&r);
	}
answer:
	if (rc && !r.sent) {
		if (rc == ERR_UNAVAILABLE && !stopping)
			metrics_db_state(false);
		if (rc == ERR_INTERNAL)
			log_error("request failed: %s %s", r.method, r.route ? r.route->pattern : "?");
		http_send_error(&r, rc, message, fields);
		fields = NULL;
	} else if (!r.sent) {
		log_error("handler sent nothing: %s", r.route ? r.route->pattern : "?");
		http_send_error(&r, ERR_INTERNAL, NULL, NULL);
	}
	if (fields)
		json_decref(fields);
	admin_http_refused(&r);
	int64_t dt = mono_us() - t0;
	metrics_observe(r.route ? (int)(r.route - routes) : -1, r.status, dt);
	if (app->cfg->access_log)
		/* The pattern, never the path: paths can hold capability tokens. */
		log_info("%s %s %d %zu %.2fms", r.method, r.route ? r.route->pattern : "(unmatched)",
		         r.status, r.bytes_out, (double)dt / 1000.0);
	log_set_request_id(NULL);
	arena_reset(&w->arena);
	atomic_fetch_sub(&inflight, 1);
	return r.status;
}

/* Errors civetweb raises itself (bad request lines, oversized headers):
 * answer in our format, with our headers. */
static int on_http_error(struct mg_connection *conn, int status, const char *msg)
{
	UNUSED(msg);
	char body[160];
	int n = snprintf(
	    body, sizeof(body),
	    "{\"error\":{\"code\":\"%s\",\"message\":\"The request could not be read.\",\"fields\":{}}}",
	    status == 413   ? "too_large"
	    : status == 404 ? "not_found"
	                    : "malformed");
	mg_printf(conn,
	          "HTTP/1.1 %d Error\r\nContent-Type: application/json\r\nContent-Length: %d\r\n"
	          "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\n"
	          "Referrer-Policy: no-referrer\r\nContent-Security-Policy: default-src 'none'; "
	          "frame-ancestors 'none'\r\n"
	          "Connection: close\r\n\r\n%s",
	          status, n, body);
	return 0;
}

static int on_log_message(const struct mg_connection *conn, const char *message)
{
	UNUSED(conn);
	/* civetweb's own messages can quote request lines (and so tokens):
	 * log only that something happened. */
	UNUSED(message);
	log_debug("civetweb reported a connection-level error");
	return 1;
}

int server_run(struct app *app)
{
	const struct config *cfg = app->cfg;
	char threads[16], timeout[16], rerr[256];
	if (routes_check(routes, routes_count, rerr, sizeof(rerr)) != 0) {
		log_error("route table: %s", rerr);
		return ERR_CONFIG;
	}
	snprintf(threads, sizeof(threads), "%ld", cfg->threads);
	snprintf(timeout, sizeof(timeout), "%ld", cfg->request_timeout_ms);
	const char *options[] = {
	    "listening_ports",
	    cfg->listen,
	    "num_threads",
	    threads,
	    "request_timeout_ms",
	    timeout,
	    "enable_keep_alive",
	    "yes",
	    "keep_alive_timeout_ms",
	    "5000",
	    "enable_directory_listing",
	    "no",
	    "decode_url",
	    "no", /* we decode paths ourselves, strictly (form.c) */
	    "max_request_size",
	    "65536",
	    "linger_timeout_ms",
	    "1000",
	    NULL,
	};
	struct mg_callbacks cb;
	memset(&cb, 0, sizeof(cb));
	cb.init_thread = init_thread;
	cb.exit_thread = exit_thread;
	cb.init_connection = on_init_connection;
	cb.connection_close = on_connection_close;
	cb.http_error = on_http_error;
	cb.log_message = on_log_message;

	/* Block the stop signals in every thread; the main thread waits for them. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	mg_init_library(0);
	struct mg_context *ctx = mg_start(&cb, app, options);
	if (!ctx) {
		log_error("cannot listen on %s (in use, or not an address of this machine?)", cfg->listen);
		mg_exit_library();
		return ERR_IO;
	}
	mg_set_request_handler(ctx, "/", dispatch, app);
	log_info("serving on http://%s (%ld threads)", cfg->listen, cfg->threads);
	if (hooks && hooks->start)
		hooks->start(app);
	int sig = 0;
	sigwait(&set, &sig);
	log_info("received %s: finishing in-flight requests", sig == SIGINT ? "SIGINT" : "SIGTERM");
	atomic_store(&draining, true);
	int64_t until = mono_us() + DRAIN_MAX_US;
	while (atomic_load(&inflight) > 0 && mono_us() < until) {
		struct timespec ts = {0, DRAIN_POLL_NS};
		nanosleep(&ts, NULL);
	}
	if (atomic_load(&inflight) > 0)
		log_warn("%d requests still running after %d s; stopping anyway", atomic_load(&inflight),
		         DRAIN_MAX_US / 1000000);
	if (hooks && hooks->stop)
		hooks->stop();
	mg_stop(ctx);
	mg_exit_library();
	log_info("stopped");
	return 0;
}
