/* assets.c — see assets.h. */
#include "http/assets.h"

#include <dirent.h>
#include <strings.h>
#include <sys/stat.h>

#include "crypto/crypto.h"

struct asset {
	char *name;       /* file name, e.g. "style.css" */
	char *data;       /* contents */
	size_t len;       /* length */
	const char *type; /* Content-Type */
	char etag[24];    /* "\"<16 hex of sha256>\"" */
};

struct assets {
	struct asset *items; /* sorted as read */
	size_t n;            /* count */
};

enum { ASSET_MAX = 4 * 1024 * 1024 };

static const char *type_for(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
	    {".css", "text/css; charset=utf-8"},
	    {".js", "text/javascript; charset=utf-8"},
	    {".svg", "image/svg+xml"},
	    {".png", "image/png"},
	    {".ico", "image/x-icon"},
	    {".woff2", "font/woff2"},
	    {".txt", "text/plain; charset=utf-8"},
	    {".webmanifest", "application/manifest+json"},
	};
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot && i < ARRAY_LEN(types); i++)
		if (!strcasecmp(dot, types[i].ext))
			return types[i].type;
	return NULL;
}

int assets_load(const char *dir, struct assets **out, char *err, size_t errlen)
{
	struct assets *as = xcalloc(1, sizeof(*as));
	*out = as;
	DIR *d = opendir(dir);
	if (!d) {
		snprintf(err, errlen, "cannot open static directory %s", dir);
		return ERR_IO;
	}
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		const char *type = type_for(e->d_name);
		if (!type)
			continue;
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (st.st_size > ASSET_MAX) {
			snprintf(err, errlen, "static file %s is over 4 MiB", path);
			rc = ERR_IO;
			break;
		}
		FILE *f = fopen(path, "rb");
		if (!f) {
			snprintf(err, errlen, "cannot read %s", path);
			rc = ERR_IO;
			break;
		}
		struct asset a = {0};
		a.name = xstrdup(e->d_name);
		a.len = (size_t)st.st_size;
		a.data = xmalloc(a.len + 1);
		a.len = fread(a.data, 1, a.len, f);
		fclose(f);
		a.type = type;
		char hex[65];
		crypto_sha256_hex(a.data, a.len, hex);
		snprintf(a.etag, sizeof(a.etag), "\"%.16s\"", hex);
		as->items = xrealloc(as->items, (as->n + 1) * sizeof(*as->items));
		as->items[as->n++] = a;
	}
	closedir(d);
	return rc;
}

void assets_free(struct assets *as)
{
	if (!as)
		return;
	for (size_t i = 0; i < as->n; i++) {
		free(as->items[i].name);
		free(as->items[i].data);
	}
	free(as->items);
	free(as);
}

int assets_http_get(struct req *r)
{
	const struct assets *as = r->app->assets;
	struct str name = r->params[0];
	for (size_t i = 0; as && i < as->n; i++) {
		const struct asset *a = &as->items[i];
		if (!str_eq_cstr(name, a->name))
			continue;
		r->cache_control = "public, max-age=86400";
		http_add_header(r, "ETag", a->etag);
		const char *inm = http_get_header(r, "If-None-Match");
		if (inm && strstr(inm, a->etag))
			return http_send(r, 304, NULL, NULL, 0);
		return http_send(r, 200, a->type, a->data, a->len);
	}
	return ERR_NOT_FOUND;
}
