/* fetch.c — see calendar.h: one subscribed calendar over HTTP(S) with libcurl. */
#include "calendar/calendar.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "core/str.h"

struct sink {
	struct arena *a;
	char *data;
	size_t len, cap, max;
	bool too_large;
	char *etag, *last_modified;
	bool blocked; /* a connection to a refused address was attempted */
	bool allow_private;
};

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t add = size * n;
	if (add > s->max - s->len) {
		s->too_large = true;
		return 0; /* aborts the transfer */
	}
	if (s->len + add + 1 > s->cap) {
		size_t cap = s->cap ? s->cap : 65536;
		while (cap < s->len + add + 1)
			cap *= 2;
		if (cap > s->max + 1)
			cap = s->max + 1;
		char *d = arena_alloc(s->a, cap);
		if (s->len)
			memcpy(d, s->data, s->len);
		s->data = d;
		s->cap = cap;
	}
	memcpy(s->data + s->len, p, add);
	s->len += add;
	s->data[s->len] = '\0';
	return add;
}

/* "Name: value\r\n" → value copied to the arena when name matches. */
static char *header_value(struct arena *a, const char *line, size_t n, const char *name)
{
	size_t nl = strlen(name);
	if (n <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
		return NULL;
	const char *v = line + nl + 1, *end = line + n;
	while (v < end && (*v == ' ' || *v == '\t'))
		v++;
	while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
		end--;
	if (end - v > 300) /* an absurd validator is not sent back */
		return NULL;
	for (const char *q = v; q < end; q++)
		if ((unsigned char)*q < 0x20 || *q == 0x7f)
			return NULL;
	return arena_strndup(a, v, (size_t)(end - v));
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;
	/* A new status line (after a redirect) forgets the previous validators. */
	if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
		s->etag = s->last_modified = NULL;
		return len;
	}
	char *v;
	if ((v = header_value(s->a, p, len, "ETag")))
		s->etag = v;
	else if ((v = header_value(s->a, p, len, "Last-Modified")))
		s->last_modified = v;
	return len;
}

/* Loopback, private, link-local, unique-local, multicast, unspecified. */
static bool private_address(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		uint32_t ip = ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr);
		return (ip >> 24) == 0 || (ip >> 24) == 10 || (ip >> 24) == 127 || (ip >> 16) == 0xa9fe ||
		       (ip >> 20) == 0xac1 || (ip >> 16) == 0xc0a8 || (ip >> 22) == (100u << 2 | 1) ||
		       (ip >> 28) == 0xe || ip == 0xffffffffu;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
		const unsigned char *b = a6->s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6) || IN6_IS_ADDR_V4COMPAT(a6)) {
			struct sockaddr_in v4 = {.sin_family = AF_INET};
			memcpy(&v4.sin_addr, b + 12, 4);
			return private_address((const struct sockaddr *)&v4);
		}
		return IN6_IS_ADDR_LOOPBACK(a6) || IN6_IS_ADDR_UNSPECIFIED(a6) || IN6_IS_ADDR_LINKLOCAL(a6) ||
		       IN6_IS_ADDR_MULTICAST(a6) || (b[0] & 0xfe) == 0xfc;
	}
	return true;
}

/* Every connection (redirects included) is checked after name resolution,
 * so a public name that resolves to 127.0.0.1 is refused too. */
static curl_socket_t open_socket(void *arg, curlsocktype purpose, struct curl_sockaddr *addr)
{
	struct sink *s = arg;
	if (purpose != CURLSOCKTYPE_IPCXN)
		return CURL_SOCKET_BAD;
	if (!s->allow_private && private_address(&addr->addr)) {
		s->blocked = true;
		return CURL_SOCKET_BAD;
	}
	return socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
}

int calendar_normalise_url(struct arena *a, const char *url, char **out, char **display)
{
	size_t n = strlen(url);
	if (n < 8 || n > CAL_MAX_URL || !str_valid_utf8((struct str){url, n}))
		return ERR_INVALID;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7f)
			return ERR_INVALID;
	const char *rest;
	const char *scheme;
	if (!strncasecmp(url, "https://", 8)) {
		scheme = "https://";
		rest = url + 8;
	} else if (!strncasecmp(url, "http://", 7)) {
		scheme = "http://";
		rest = url + 7;
	} else if (!strncasecmp(url, "webcal://", 9) || !strncasecmp(url, "webcals://", 10)) {
		/* Apple's and Google's "subscribe" links are plain HTTPS underneath. */
		scheme = "https://";
		rest = url + (url[6] == 's' || url[6] == 'S' ? 10 : 9);
	} else {
		return ERR_INVALID;
	}
	size_t host = strcspn(rest, "/?#");
	if (host == 0 ||
	    memchr(rest, '@', host)) /* no credentials in the URL: they would be logged by proxies */
		return ERR_INVALID;
	*out = arena_printf(a, "%s%s", scheme, rest);
	*display = arena_printf(a, "%s%.*s", scheme, (int)(host > 200 ? 200 : host), rest);
	return 0;
}

int calendar_fetch(struct arena *a, const char *url, const char *etag, const char *last_modified,
                   const struct calendar_fetch_opts *o, struct calendar_fetch_result *r)
{
	memset(r, 0, sizeof(*r));
	struct sink s = {.a = a, .max = o->max_bytes, .allow_private = o->allow_private};
	CURL *h = curl_easy_init();
	if (!h) {
		snprintf(r->error, sizeof(r->error), "cannot start an HTTP client");
		return ERR_INTERNAL;
	}
	struct curl_slist *hdrs = NULL;
	char line[400];
	if (etag && *etag) {
		snprintf(line, sizeof(line), "If-None-Match: %s", etag);
		hdrs = curl_slist_append(hdrs, line);
	}
	if (last_modified && *last_modified) {
		snprintf(line, sizeof(line), "If-Modified-Since: %s", last_modified);
		hdrs = curl_slist_append(hdrs, line);
	}
	hdrs = curl_slist_append(hdrs, "Accept: text/calendar, */*;q=0.5");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)o->max_redirects);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, o->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, o->timeout_ms);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, ""); /* gzip, deflate, br as built */
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)o->max_bytes);
	curl_easy_setopt(h, CURLOPT_USERAGENT, o->user_agent ? o->user_agent : "Tandem calendar import");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &s);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, open_socket);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, &s);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);

	int rc = ERR_IO;
	CURLcode cc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	r->http_status = (int)status;
	/* Messages are ours, never curl's: those can quote the URL, and a
	 * subscription URL is a secret. */
	if (s.blocked) {
		snprintf(r->error, sizeof(r->error), "refused: the address is private or local");
	} else if (s.too_large || cc == CURLE_FILESIZE_EXCEEDED) {
		if (o->max_bytes >= (1u << 20))
			snprintf(r->error, sizeof(r->error), "the calendar is larger than %zu MiB",
			         o->max_bytes >> 20);
		else
			snprintf(r->error, sizeof(r->error), "the calendar is larger than %zu KiB",
			         o->max_bytes >> 10);
		rc = ERR_TOO_LARGE;
	} else if (cc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(r->error, sizeof(r->error), "timed out");
	} else if (cc == CURLE_TOO_MANY_REDIRECTS) {
		snprintf(r->error, sizeof(r->error), "too many redirects");
	} else if (cc == CURLE_COULDNT_RESOLVE_HOST) {
		snprintf(r->error, sizeof(r->error), "the host name does not resolve");
	} else if (cc == CURLE_COULDNT_CONNECT) {
		snprintf(r->error, sizeof(r->error), "could not connect");
	} else if (cc == CURLE_UNSUPPORTED_PROTOCOL) {
		snprintf(r->error, sizeof(r->error), "redirected to something other than http or https");
	} else if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CONNECT_ERROR ||
	           cc == CURLE_SSL_CACERT_BADFILE) {
		snprintf(r->error, sizeof(r->error), "TLS failed (certificate or handshake)");
	} else if (cc != CURLE_OK) {
		snprintf(r->error, sizeof(r->error), "transfer failed (%d)", (int)cc);
	} else if (status == 304) {
		r->not_modified = true;
		rc = 0;
	} else if (status != 200) {
		snprintf(r->error, sizeof(r->error), "the server answered HTTP %ld", status);
	} else {
		r->body = s.data ? s.data : arena_strdup(a, "");
		r->len = s.len;
		rc = 0;
	}
	r->etag = s.etag;
	r->last_modified = s.last_modified;
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return rc;
}
