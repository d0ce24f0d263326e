/*
 * assets.h — static files (stylesheet, scripts, icons) from
 * <template_dir>/static, read into memory at start-up with their ETags.
 * Served from /static/{name} with a long cache lifetime; nothing else on
 * disk is ever reachable over HTTP (no directory listing, no traversal).
 */
#ifndef TANDEM_HTTP_ASSETS_H
#define TANDEM_HTTP_ASSETS_H

#include "http/http.h"

/* Loads every regular file directly in dir. ERR_IO with a message on failure. */
int assets_load(const char *dir, struct assets **out, char *err, size_t errlen);
void assets_free(struct assets *as);

/* GET /static/{name} */
int assets_http_get(struct req *r);

#endif
