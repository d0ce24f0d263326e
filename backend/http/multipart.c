/* multipart.c — see multipart.h. */
#include "http/multipart.h"

#include <string.h>
#include <strings.h>

#include "core/str.h"

/* The boundary parameter of a multipart/form-data Content-Type, copied. */
static int boundary_of(struct arena *a, const char *ct, char **out)
{
	if (!ct || strncasecmp(ct, "multipart/form-data", 19) != 0)
		return ERR_MEDIA_TYPE;
	const char *p = ct + 19;
	while (*p) {
		while (*p == ';' || *p == ' ' || *p == '\t')
			p++;
		const char *name = p;
		while (*p && *p != '=' && *p != ';')
			p++;
		size_t nlen = (size_t)(p - name);
		while (nlen && (name[nlen - 1] == ' ' || name[nlen - 1] == '\t'))
			nlen--;
		if (*p != '=')
			continue;
		p++;
		const char *v = p;
		size_t vlen;
		if (*p == '"') {
			v = ++p;
			while (*p && *p != '"')
				p++;
			if (*p != '"')
				return ERR_MALFORMED;
			vlen = (size_t)(p - v);
			p++;
		} else {
			while (*p && *p != ';' && *p != ' ' && *p != '\t')
				p++;
			vlen = (size_t)(p - v);
		}
		if (nlen == 8 && !strncasecmp(name, "boundary", 8)) {
			/* RFC 2046: 1 to 70 characters, not ending in a space. */
			if (vlen < 1 || vlen > 70 || v[vlen - 1] == ' ')
				return ERR_MALFORMED;
			for (size_t i = 0; i < vlen; i++)
				if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
					return ERR_MALFORMED;
			*out = arena_strndup(a, v, vlen);
			return 0;
		}
	}
	return ERR_MALFORMED;
}

static const char *find(const char *hay, size_t n, const char *needle, size_t m)
{
	return m <= n ? memmem(hay, n, needle, m) : NULL;
}

/* The value of parameter `param` in a Content-Disposition header value
 * ("form-data; name=\"x\"; filename=\"y\""), or NULL. Quoted strings may
 * hold \" and \\ escapes. */
static char *disposition_param(struct arena *a, const char *v, size_t n, const char *param)
{
	size_t plen = strlen(param);
	const char *end = v + n, *p = v;
	while (p < end) {
		while (p < end && (*p == ';' || *p == ' ' || *p == '\t'))
			p++;
		const char *name = p;
		while (p < end && *p != '=' && *p != ';')
			p++;
		size_t nlen = (size_t)(p - name);
		if (p >= end || *p != '=')
			continue;
		p++;
		char *val = arena_alloc(a, (size_t)(end - p) + 1);
		size_t o = 0;
		if (p < end && *p == '"') {
			p++;
			while (p < end && *p != '"') {
				if (*p == '\\' && p + 1 < end)
					p++;
				val[o++] = *p++;
			}
			if (p >= end)
				return NULL; /* unterminated */
			p++;
		} else {
			while (p < end && *p != ';' && *p != ' ' && *p != '\t')
				val[o++] = *p++;
		}
		val[o] = '\0';
		if (nlen == plen && !strncasecmp(name, param, plen))
			return val;
	}
	return NULL;
}

int multipart_parse(struct arena *a, const char *content_type, const char *body, size_t len, struct form *out,
                    const char **bad_field)
{
	memset(out, 0, sizeof(*out));
	*bad_field = NULL;
	char *boundary;
	int rc = boundary_of(a, content_type, &boundary);
	if (rc)
		return rc;
	size_t blen = strlen(boundary);
	char *delim = arena_printf(a, "\r\n--%s", boundary);
	size_t dlen = blen + 4;
	out->fields = arena_zalloc(a, MULTIPART_MAX_PARTS * sizeof(*out->fields));
	/* The first delimiter may open the body (no CRLF before it) or follow
	 * a preamble. */
	const char *p;
	if (len >= dlen - 2 && !memcmp(body, delim + 2, dlen - 2))
		p = body + dlen - 2;
	else if ((p = find(body, len, delim, dlen)) != NULL)
		p += dlen;
	else
		return ERR_MALFORMED;
	const char *end = body + len;
	for (;;) {
		if (end - p >= 2 && p[0] == '-' && p[1] == '-')
			return 0; /* the close delimiter; an epilogue is ignored */
		/* Transport padding, then CRLF. */
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if (end - p < 2 || p[0] != '\r' || p[1] != '\n')
			return ERR_MALFORMED;
		p += 2;
		if (out->n == MULTIPART_MAX_PARTS)
			return ERR_TOO_LARGE;
		const char *hend = find(p, (size_t)(end - p), "\r\n\r\n", 4);
		const char *first_blank = (end - p >= 2 && p[0] == '\r' && p[1] == '\n') ? p : NULL;
		if (!hend && !first_blank)
			return ERR_MALFORMED;
		if (first_blank)
			hend = p - 2; /* no headers at all */
		if (hend - p > MULTIPART_MAX_HEADERS)
			return ERR_TOO_LARGE;
		char *name = NULL, *filename = NULL;
		const char *h = p;
		while (h < hend) {
			const char *eol = find(h, (size_t)(hend - h), "\r\n", 2);
			if (!eol)
				eol = hend;
			const char *colon = memchr(h, ':', (size_t)(eol - h));
			if (colon && colon - h == 19 && !strncasecmp(h, "Content-Disposition", 19)) {
				const char *v = colon + 1;
				while (v < eol && (*v == ' ' || *v == '\t'))
					v++;
				if ((size_t)(eol - v) < 9 || strncasecmp(v, "form-data", 9) != 0)
					return ERR_MALFORMED;
				name = disposition_param(a, v + 9, (size_t)(eol - v - 9), "name");
				filename = disposition_param(a, v + 9, (size_t)(eol - v - 9), "filename");
			}
			h = eol + 2;
		}
		if (!name || !*name)
			return ERR_MALFORMED;
		size_t nl = strlen(name);
		if (nl > MULTIPART_MAX_NAME || !str_valid_text((struct str){name, nl})) {
			*bad_field = name;
			return ERR_INVALID;
		}
		const char *data = hend + 4;
		if (data > end)
			return ERR_MALFORMED;
		const char *next = find(data, (size_t)(end - data), delim, dlen);
		if (!next)
			return ERR_MALFORMED; /* truncated: the part never ends */
		size_t vlen = (size_t)(next - data);
		/* Ordinary fields are text; a file's bytes are the caller's to check. */
		if (!filename && !str_valid_text((struct str){data, vlen})) {
			*bad_field = name;
			return ERR_INVALID;
		}
		struct form_field *f = &out->fields[out->n++];
		f->name = name;
		f->value = arena_strndup(a, data, vlen);
		f->value_len = vlen;
		p = next + dlen;
	}
}
