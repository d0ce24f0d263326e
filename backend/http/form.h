/*
 * form.h — our own bounded decoder for application/x-www-form-urlencoded
 * bodies and query strings (never civetweb's mg_handle_form_request, see
 * CVE-2025-9648). Names and values are percent-decoded into the arena,
 * NUL-terminated, and checked to be text: valid UTF-8 with no NUL or
 * control characters other than tab, CR and LF.
 */
#ifndef TANDEM_HTTP_FORM_H
#define TANDEM_HTTP_FORM_H

#include "core/arena.h"
#include "core/str.h"

enum {
	FORM_MAX_FIELDS = 256,      /* fields in one body */
	FORM_MAX_NAME = 128,        /* bytes in one decoded name */
	FORM_MAX_VALUE = 64 * 1024, /* bytes in one decoded value */
};

struct form_field {
	const char *name;  /* decoded, NUL-terminated */
	const char *value; /* decoded, NUL-terminated */
	size_t value_len;  /* bytes in value */
};

struct form {
	struct form_field *fields; /* in arrival order */
	size_t n;                  /* how many */
};

/* Decodes src. Returns 0; ERR_MALFORMED for a bad %-escape; ERR_TOO_LARGE
 * past a limit; ERR_INVALID for a name or value that is not text, with
 * *bad_field set to the (decoded, possibly truncated) name at fault. */
int form_parse(struct arena *a, const char *src, size_t len, struct form *out, const char **bad_field);

/* The first value of name, or NULL. */
const char *form_get(const struct form *f, const char *name);

/* Decodes a URL path ("+" stays "+"). ERR_MALFORMED for a bad escape,
 * an encoded NUL, a control character or invalid UTF-8. */
int form_path_decode(struct arena *a, const char *raw, char **out);

/* Percent-encodes s for a URL query value or path segment into the arena. */
char *form_urlencode(struct arena *a, const char *s);

#endif
