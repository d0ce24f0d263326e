/*
 * json_body.h — reading a JSON request body at the edge.
 *
 * jansson parses (duplicate keys rejected, NUL in strings rejected, UTF-8
 * checked); then every key and string is checked to be text (no control
 * characters but tab, CR, LF) so a handler can trust what it gets.
 */
#ifndef TANDEM_HTTP_JSON_BODY_H
#define TANDEM_HTTP_JSON_BODY_H

#include <jansson.h>

#include "core/arena.h"

enum { JSON_BODY_MAX_DEPTH = 32 };

/* On success *out holds a new reference, released with the arena.
 * ERR_MALFORMED: not JSON (msg says where), or nested deeper than
 * JSON_BODY_MAX_DEPTH. ERR_INVALID: a string that is not text; *field
 * names it ("clients[1].name"). */
int json_body_parse(struct arena *a, const char *body, size_t len, json_t **out, char *msg, size_t msglen,
                    const char **field);

#endif
