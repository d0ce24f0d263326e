/* common.c — allocation wrappers, BUG(), error names, UTF-8 checks. */
#include "core/common.h"
#include "core/log.h"
#include "core/str.h"

_Noreturn void core_bug(const char *file, int line, const char *msg)
{
	log_error("BUG at %s:%d: %s", file, line, msg);
	abort();
}

_Noreturn void core_oom(void)
{
	static const char m[] = "tandem: out of memory\n";
	fwrite(m, 1, sizeof(m) - 1, stderr);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		core_oom();
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		core_oom();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		core_oom();
	return q;
}

char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = xmalloc(n);
	memcpy(p, s, n);
	return p;
}

const char *err_code(int err)
{
	switch (err) {
	case ERR_OK: return "ok";
	case ERR_MALFORMED: return "malformed";
	case ERR_INVALID: return "invalid";
	case ERR_NOT_FOUND: return "not_found";
	case ERR_METHOD: return "method_not_allowed";
	case ERR_CONFLICT: return "conflict";
	case ERR_SLOT_UNAVAILABLE: return "slot_unavailable";
	case ERR_TOO_LARGE: return "too_large";
	case ERR_MEDIA_TYPE: return "unsupported_media_type";
	case ERR_UNAUTHORIZED: return "unauthorized";
	case ERR_FORBIDDEN: return "forbidden";
	case ERR_RATE_LIMITED: return "rate_limited";
	case ERR_UNAVAILABLE: return "unavailable";
	case ERR_RETRY: return "retry";
	case ERR_IO: return "io";
	case ERR_CONFIG: return "config";
	case ERR_GONE: return "gone";
	default: return "internal";
	}
}

size_t utf8_seq_len(const unsigned char *p, size_t n)
{
	if (n == 0)
		return 0;
	unsigned c = p[0];
	size_t len;
	unsigned cp;
	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
		cp = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		cp = c & 0x0F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t k = 1; k < len; k++) {
		if ((p[k] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[k] & 0x3F);
	}
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10FFFF ||
	    (cp >= 0xD800 && cp <= 0xDFFF))
		return 0;
	return len;
}

bool str_valid_utf8(struct str s)
{
	const unsigned char *p = (const unsigned char *)s.ptr;
	for (size_t i = 0, len; i < s.len; i += len)
		if ((len = utf8_seq_len(p + i, s.len - i)) == 0)
			return false;
	return true;
}

bool str_valid_text(struct str s)
{
	for (size_t i = 0; i < s.len; i++) {
		unsigned char c = (unsigned char)s.ptr[i];
		if ((c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7F)
			return false;
	}
	return str_valid_utf8(s);
}
