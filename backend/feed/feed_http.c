/* feed_http.c — see feed_http.h. The handler reads the request into a
 * feed_request, lets feed.c decide, and writes the answer. */
#include "feed/feed_http.h"

#include "feed/feed.h"
#include "ics/ics.h"

int feed_http_get(struct req *r)
{
	const struct config *cfg = r->app->cfg;
	struct ctx c = {r->a, r->db, ctx_clock_now(), "feed", r->remote_addr};
	struct feed_request rq = {
	    .token = arena_strndup(r->a, r->params[0].ptr, r->params[0].len),
	    .if_none_match = http_get_header(r, "If-None-Match"),
	    .remote_addr = r->remote_addr,
	    .user_agent = http_get_header(r, "User-Agent"),
	    .base_url = cfg->base_url,
	    .past_days = cfg->feed_past_days,
	    .future_days = cfg->feed_future_days,
	    .rate_limit = cfg->feed_rate_limit,
	    .rate_window_s = cfg->feed_rate_window_s,
	};
	struct feed_response f;
	int rc = feed_fetch(&c, &rq, &f);
	if (rc)
		return rc;
	/* The URL is a capability: no cache may keep the answer (SPEC §5).
	 * Calendar apps revalidate with If-None-Match on their own. */
	r->cache_control = "private, no-store";
	if (f.status == 404) {
		/* The same few bytes for unknown and revoked tokens. */
		static const char gone[] = "Not found.\n";
		return http_send(r, 404, "text/plain; charset=utf-8", gone, sizeof(gone) - 1);
	}
	if (f.status == 429) {
		static const char slow[] = "Too many requests for this feed. Please try again later.\n";
		http_add_header(r, "Retry-After", arena_printf(r->a, "%lld", (long long)f.retry_after));
		return http_send(r, 429, "text/plain; charset=utf-8", slow, sizeof(slow) - 1);
	}
	char date[40];
	feed_http_date(f.last_modified, date, sizeof(date));
	http_add_header(r, "ETag", f.etag);
	http_add_header(r, "Last-Modified", date);
	if (f.status == 304)
		return http_send(r, 304, NULL, NULL, 0);
	return http_send(r, 200, ics_content_type("PUBLISH"), f.body, f.len);
}
