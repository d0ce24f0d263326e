/* form.c — see form.h. */
#include "http/form.h"

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes src[0..len) into a fresh arena string of at most max bytes. */
static int decode(struct arena *a, const char *src, size_t len, size_t max, char **out, size_t *outlen)
{
	if (len > max * 3 + 3) /* even fully escaped it cannot fit */
		return ERR_TOO_LARGE;
	char *d = arena_alloc(a, len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = src[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (len - i < 3)
				return ERR_MALFORMED;
			int hi = hexval(src[i + 1]), lo = hexval(src[i + 2]);
			if (hi < 0 || lo < 0)
				return ERR_MALFORMED;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		d[o++] = c;
	}
	if (o > max)
		return ERR_TOO_LARGE;
	d[o] = '\0';
	*out = d;
	*outlen = o;
	return 0;
}

int form_parse(struct arena *a, const char *src, size_t len, struct form *out, const char **bad_field)
{
	out->fields = NULL;
	out->n = 0;
	*bad_field = NULL;
	if (!src || len == 0)
		return 0;
	/* Count pairs first so the array is allocated once. */
	size_t pairs = 1;
	for (size_t i = 0; i < len; i++)
		if (src[i] == '&')
			pairs++;
	if (pairs > FORM_MAX_FIELDS * 2)
		return ERR_TOO_LARGE;
	out->fields = arena_alloc(a, pairs * sizeof(*out->fields));
	size_t start = 0;
	while (start <= len) {
		size_t end = start;
		while (end < len && src[end] != '&')
			end++;
		if (end > start) {
			const char *p = src + start;
			size_t plen = end - start;
			const char *eq = memchr(p, '=', plen);
			size_t nlen = eq ? (size_t)(eq - p) : plen;
			char *name, *value = "";
			size_t name_len, value_len = 0;
			int rc = decode(a, p, nlen, FORM_MAX_NAME, &name, &name_len);
			if (rc)
				return rc;
			if (eq) {
				rc = decode(a, eq + 1, plen - nlen - 1, FORM_MAX_VALUE, &value, &value_len);
				if (rc) {
					*bad_field = name;
					return rc;
				}
			}
			if (!str_valid_text((struct str){name, name_len}) || name_len == 0) {
				*bad_field = str_valid_utf8((struct str){name, name_len}) ? name : "(name)";
				if (name_len == 0)
					return ERR_MALFORMED;
				return ERR_INVALID;
			}
			if (!str_valid_text((struct str){value, value_len})) {
				*bad_field = name;
				return ERR_INVALID;
			}
			if (out->n == FORM_MAX_FIELDS)
				return ERR_TOO_LARGE;
			out->fields[out->n++] = (struct form_field){name, value, value_len};
		}
		start = end + 1;
	}
	return 0;
}

const char *form_get(const struct form *f, const char *name)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->fields[i].name, name) == 0)
			return f->fields[i].value;
	return NULL;
}

int form_path_decode(struct arena *a, const char *raw, char **out)
{
	size_t len = strlen(raw);
	char *d = arena_alloc(a, len + 1);
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = raw[i];
		if (c == '%') {
			if (len - i < 3)
				return ERR_MALFORMED;
			int hi = hexval(raw[i + 1]), lo = hexval(raw[i + 2]);
			if (hi < 0 || lo < 0)
				return ERR_MALFORMED;
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		d[o++] = c;
	}
	d[o] = '\0';
	if (strlen(d) != o || !str_valid_text((struct str){d, o}) || strpbrk(d, "\r\n\t"))
		return ERR_MALFORMED;
	*out = d;
	return 0;
}

char *form_urlencode(struct arena *a, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t n = strlen(s);
	char *out = arena_alloc(a, n * 3 + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '_' || c == '.' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
	return out;
}
