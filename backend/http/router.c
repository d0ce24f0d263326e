/* router.c — see router.h. */
#include "http/router.h"

/* Matches one pattern segment against one path segment. */
static bool match_segment(struct str pat, struct str seg, struct str *param, bool *is_param)
{
	const char *open = memchr(pat.ptr, '{', pat.len);
	*is_param = false;
	if (!open)
		return str_eq(pat, seg);
	const char *close = memchr(open, '}', pat.len - (size_t)(open - pat.ptr));
	if (!close)
		return false;
	size_t pre = (size_t)(open - pat.ptr);
	size_t post = pat.len - (size_t)(close + 1 - pat.ptr);
	if (seg.len <= pre + post)
		return false; /* the parameter may not be empty */
	if (memcmp(seg.ptr, pat.ptr, pre) != 0 || memcmp(seg.ptr + seg.len - post, close + 1, post) != 0)
		return false;
	*param = (struct str){seg.ptr + pre, seg.len - pre - post};
	*is_param = true;
	return true;
}

static struct str next_segment(const char **p)
{
	const char *s = *p;
	while (*s == '/')
		s++;
	const char *e = s;
	while (*e && *e != '/')
		e++;
	*p = e;
	return (struct str){s, (size_t)(e - s)};
}

static bool match_path(const char *pattern, const char *path, struct str *params, int *nparams)
{
	int np = 0;
	const char *pp = pattern, *sp = path;
	/* "/" matches only "/". */
	if (!strcmp(pattern, "/"))
		return !strcmp(path, "/");
	for (;;) {
		bool pat_end = *pp == '\0', path_end = *sp == '\0' || (sp[0] == '/' && sp[1] == '\0');
		if (pat_end || path_end) {
			*nparams = np;
			return pat_end && *sp == '\0';
		}
		struct str ps = next_segment(&pp), ss = next_segment(&sp);
		struct str param;
		bool is_param;
		if (!match_segment(ps, ss, &param, &is_param))
			return false;
		if (is_param) {
			if (np == REQ_MAX_PARAMS)
				return false;
			params[np++] = param;
		}
	}
}

const struct route *router_match(const struct route *table, size_t n, const char *method, const char *path,
                                 struct str *params, int *nparams, char *allow, size_t allowlen)
{
	bool head = !strcmp(method, "HEAD");
	size_t al = 0;
	allow[0] = '\0';
	*nparams = 0;
	for (size_t i = 0; i < n; i++) {
		struct str tmp[REQ_MAX_PARAMS];
		int np = 0;
		if (!match_path(table[i].pattern, path, tmp, &np))
			continue;
		if (!strcmp(table[i].method, method) || (head && !strcmp(table[i].method, "GET"))) {
			memcpy(params, tmp, sizeof(tmp[0]) * (size_t)np);
			*nparams = np;
			return &table[i];
		}
		int w = snprintf(allow + al, allowlen - al, "%s%s%s", al ? ", " : "", table[i].method,
		                 strcmp(table[i].method, "GET") ? "" : ", HEAD");
		if (w > 0 && (size_t)w < allowlen - al)
			al += (size_t)w;
	}
	return NULL;
}

static bool under(const char *pattern, const char *prefix)
{
	size_t n = strlen(prefix);
	return strncmp(pattern, prefix, n) == 0 && (pattern[n] == '\0' || pattern[n] == '/');
}

int routes_check(const struct route *table, size_t n, char *err, size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		const struct route *rt = &table[i];
		unsigned s = rt->flags & ROUTE_SESSION_FLAGS;
		bool admin_path = under(rt->pattern, "/admin") || under(rt->pattern, "/api/v1/admin");
		if (admin_path && s == 0) {
			snprintf(err, errlen,
			         "%s %s: an admin route needs ROUTE_ADMIN (or ROUTE_PARTIAL/ROUTE_LOGIN)",
			         rt->method, rt->pattern);
			return ERR_CONFIG;
		}
		if (s && (s & (s - 1))) {
			snprintf(err, errlen,
			         "%s %s: ROUTE_ADMIN, ROUTE_PARTIAL and ROUTE_LOGIN exclude each other",
			         rt->method, rt->pattern);
			return ERR_CONFIG;
		}
		if ((s || admin_path) && strcmp(rt->method, "GET") != 0 && !(rt->flags & ROUTE_CSRF)) {
			snprintf(err, errlen, "%s %s: a state-changing admin route needs ROUTE_CSRF",
			         rt->method, rt->pattern);
			return ERR_CONFIG;
		}
	}
	return 0;
}
