/* ops.c — see ops.h. */
#include "http/ops.h"

#include "core/log.h"
#include "db/migrate.h"
#include "http/metrics.h"

int ops_http_healthz(struct req *r)
{
	return http_send_json(r, 200, json_pack("{s:s}", "status", "ok"));
}

int ops_http_readyz(struct req *r)
{
	r->api = true; /* a probe reads JSON, whatever the path */
	int rc = migrate_check(r->db, r->a);
	metrics_db_state(rc != ERR_UNAVAILABLE);
	if (rc == ERR_UNAVAILABLE)
		return http_send_error(r, ERR_UNAVAILABLE, "The database is unreachable.", NULL);
	if (rc) {
		return http_send_error(r, ERR_UNAVAILABLE,
		                       "The database schema is not at this version's migrations.", NULL);
	}
	return http_send_json(r, 200, json_pack("{s:s}", "status", "ready"));
}

static const char SQL_PING[] = "SELECT 1";

int ops_http_metrics(struct req *r)
{
	/* Report the database as it is now, not as a past request saw it. */
	metrics_db_state(db_query(r->db, NULL, NULL, SQL_PING) == 0);
	struct buf out;
	buf_init(&out, r->a, 1024 * 1024);
	metrics_render(&out);
	if (out.err)
		return ERR_INTERNAL;
	return http_send(r, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
}

/* Logs which directive was violated and the blocked resource's scheme and
 * host only: a full URL could hold a token. */
int ops_http_csp_report(struct req *r)
{
	json_t *rep = json_object_get(r->json, "csp-report");
	if (!rep && json_is_array(r->json) && json_array_size(r->json) > 0)
		rep = json_object_get(json_array_get(r->json, 0), "body");
	if (!json_is_object(rep))
		return http_send_error(r, ERR_INVALID, "Expected a CSP violation report.", NULL);
	const char *dir = json_string_value(json_object_get(rep, "violated-directive"));
	if (!dir)
		dir = json_string_value(json_object_get(rep, "effectiveDirective"));
	const char *blocked = json_string_value(json_object_get(rep, "blocked-uri"));
	if (!blocked)
		blocked = json_string_value(json_object_get(rep, "blockedURL"));
	char origin[128] = "";
	if (blocked) {
		const char *p = strstr(blocked, "://");
		size_t n = p ? strcspn(p + 3, "/?#") + (size_t)(p + 3 - blocked) : strcspn(blocked, ":/?#");
		snprintf(origin, sizeof(origin), "%.*s", (int)(n < 100 ? n : 100), blocked);
	}
	log_warn("csp violation: directive=%.60s blocked=%s", dir ? dir : "?", origin);
	return http_send(r, 204, NULL, NULL, 0);
}
