/* response.c — writing responses: status line, security headers, body. */
#include <civetweb.h>

#include "core/log.h"
#include "http/http.h"
#include "http/template.h"

/* Sent on every response (SPEC §5). No inline script or style anywhere. */
static const char SECURITY_HEADERS[] =
    "Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'\r\n"
    "X-Content-Type-Options: nosniff\r\n"
    "X-Frame-Options: DENY\r\n"
    "Referrer-Policy: no-referrer\r\n"
    "Permissions-Policy: camera=(), microphone=(), geolocation=(), payment=()\r\n"
    "Cross-Origin-Opener-Policy: same-origin\r\n"
    "Cross-Origin-Resource-Policy: same-origin\r\n";

static const char *reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 301: return "Moved Permanently";
	case 302: return "Found";
	case 303: return "See Other";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 409: return "Conflict";
	case 410: return "Gone";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 503: return "Service Unavailable";
	default: return status >= 500 ? "Internal Server Error" : "Error";
	}
}

int http_status_for(int err)
{
	switch (err) {
	case ERR_MALFORMED: return 400;
	case ERR_INVALID: return 422;
	case ERR_NOT_FOUND: return 404;
	case ERR_METHOD: return 405;
	case ERR_CONFLICT:
	case ERR_SLOT_UNAVAILABLE: return 409;
	case ERR_TOO_LARGE: return 413;
	case ERR_MEDIA_TYPE: return 415;
	case ERR_UNAUTHORIZED: return 401;
	case ERR_FORBIDDEN: return 403;
	case ERR_RATE_LIMITED: return 429;
	case ERR_UNAVAILABLE:
	case ERR_RETRY: return 503;
	case ERR_GONE: return 410;
	default: return 500;
	}
}

static const char *default_message(int err)
{
	switch (err) {
	case ERR_MALFORMED: return "The request could not be read.";
	case ERR_INVALID: return "Some of the information is not valid.";
	case ERR_NOT_FOUND: return "There is nothing here.";
	case ERR_METHOD: return "This address does not accept that method.";
	case ERR_CONFLICT: return "That conflicts with the current state. Please reload and try again.";
	case ERR_SLOT_UNAVAILABLE: return "That time is no longer available.";
	case ERR_TOO_LARGE: return "The request is too large.";
	case ERR_MEDIA_TYPE: return "The request body has an unsupported content type.";
	case ERR_UNAUTHORIZED: return "Please sign in.";
	case ERR_FORBIDDEN: return "You are not allowed to do that.";
	case ERR_RATE_LIMITED: return "Too many requests. Please wait a moment and try again.";
	case ERR_UNAVAILABLE:
	case ERR_RETRY: return "The service is briefly unavailable. Please try again in a moment.";
	case ERR_GONE: return "This link is no longer valid.";
	default: return "Something went wrong on our side. Please try again.";
	}
}

void http_add_header(struct req *r, const char *name, const char *value)
{
	if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
		BUG("header with CR/LF");
	buf_printf(&r->headers, "%s: %s\r\n", name, value);
}

int http_send(struct req *r, int status, const char *content_type, const void *body, size_t len)
{
	if (r->sent)
		BUG("second response to one request");
	struct buf h;
	/* Headers (at most 32 KiB) and, for small bodies, the body: one write. */
	buf_init(&h, r->a, 96 * 1024);
	buf_printf(&h, "HTTP/1.1 %d %s\r\n", status, reason(status));
	if (content_type)
		buf_printf(&h, "Content-Type: %s\r\n", content_type);
	if (status != 304 && status != 204)
		buf_printf(&h, "Content-Length: %zu\r\n", len);
	buf_printf(&h, "X-Request-Id: %s\r\nCache-Control: %s\r\n", r->id,
	           r->cache_control ? r->cache_control : "no-store");
	buf_puts(&h, SECURITY_HEADERS);
	buf_putstr(&h, buf_str(&r->headers));
	if (r->close)
		buf_puts(&h, "Connection: close\r\n");
	buf_puts(&h, "\r\n");
	if (h.err || h.len > 32 * 1024)
		BUG("response headers over 32 KiB");
	r->sent = true;
	r->status = status;
	bool head = !strcmp(r->method, "HEAD");
	if (!head && len && status != 304 && status != 204 && h.len + len <= h.max) {
		/* One write for small responses: fewer syscalls and packets. */
		buf_append(&h, body, len);
		BUG_ON(h.err);
		mg_write(r->conn, h.data, h.len);
		r->bytes_out = len;
		return 0;
	}
	mg_write(r->conn, h.data, h.len);
	if (!head && len && status != 304 && status != 204) {
		mg_write(r->conn, body, len);
		r->bytes_out = len;
	}
	return 0;
}

int http_send_json(struct req *r, int status, json_t *j)
{
	char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(j);
	if (!s)
		core_oom();
	int rc = http_send(r, status, "application/json", s, strlen(s));
	free(s);
	return rc;
}

int http_redirect(struct req *r, int status, const char *location)
{
	http_add_header(r, "Location", location);
	return http_send(r, status, "text/plain; charset=utf-8", "", 0);
}

int http_send_page(struct req *r, int status, const char *page, json_t *view)
{
	struct buf out;
	buf_init(&out, r->a, 4 * 1024 * 1024);
	if (!json_object_get(view, "base_url"))
		json_object_set_new(view, "base_url", json_string(r->app->cfg->base_url));
	int rc = tpl_render(r->app->tpl, page, view, &out);
	json_decref(view);
	if (rc) {
		log_error("rendering %s failed: %s", page, err_code(rc));
		return ERR_INTERNAL;
	}
	return http_send(r, status, "text/html; charset=utf-8", out.data, out.len);
}

int http_send_error(struct req *r, int err, const char *message, json_t *fields)
{
	int status = http_status_for(err);
	if (!message)
		message = default_message(err);
	if (err == ERR_INTERNAL || err == ERR_UNAVAILABLE)
		message = default_message(err); /* never internals */
	if (status == 503)
		http_add_header(r, "Retry-After", "2");
	if (r->api) {
		json_t *e = json_pack("{s:s, s:s}", "code",
		                      err_code(err == ERR_RETRY ? ERR_UNAVAILABLE : err), "message", message);
		if (!e)
			core_oom();
		json_object_set_new(e, "fields", fields ? fields : json_object());
		return http_send_json(r, status, json_pack("{s:o}", "error", e));
	}
	json_t *view =
	    json_pack("{s:i, s:s, s:s}", "status", status, "title", reason(status), "message", message);
	if (!view)
		core_oom();
	if (fields)
		json_decref(fields);
	if (http_send_page(r, status, "pages/error", view) == 0)
		return 0;
	static const char fallback[] = "<!doctype html><title>Error</title><p>Something went wrong.</p>";
	return http_send(r, status, "text/html; charset=utf-8", fallback, sizeof(fallback) - 1);
}

int http_send_link_not_valid(struct req *r)
{
	if (r->api)
		return http_send_error(r, ERR_NOT_FOUND, "This link is not valid.", NULL);
	json_t *view =
	    json_pack("{s:s, s:s, s:i}", "title", "Link not valid", "message",
	              "This link is not valid. It may have expired or been replaced. If you need help, "
	              "please contact the practice.",
	              "status", 404);
	if (!view)
		core_oom();
	return http_send_page(r, 404, "pages/error", view);
}
