/*
 * str.h — slices: a pointer and a length, not necessarily NUL-terminated.
 * Slices never own memory; whoever made the bytes keeps them alive.
 */
#ifndef TANDEM_CORE_STR_H
#define TANDEM_CORE_STR_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct str {
	const char *ptr; /* first byte; may be NULL when len is 0 */
	size_t len;      /* number of bytes */
};

#define STR_LIT(s) ((struct str){(s), sizeof(s) - 1})
#define STR_NULL   ((struct str){NULL, 0})

static inline struct str str_from(const char *s)
{
	return (struct str){s, s ? strlen(s) : 0};
}

static inline bool str_eq(struct str a, struct str b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static inline bool str_eq_cstr(struct str a, const char *b)
{
	return str_eq(a, str_from(b));
}

static inline bool str_starts(struct str a, const char *prefix)
{
	size_t n = strlen(prefix);
	return a.len >= n && memcmp(a.ptr, prefix, n) == 0;
}

/* True when s holds valid UTF-8 with no NUL and no C0 controls other than
 * tab, CR and LF (the rule for every text field from outside). */
bool str_valid_text(struct str s);

/* True when s is well-formed UTF-8 (overlongs, surrogates and code points
 * past U+10FFFF are rejected). */
bool str_valid_utf8(struct str s);

/* Length of the well-formed UTF-8 sequence at p (n bytes left, n may be
 * 0), or 0 when there is none. */
size_t utf8_seq_len(const unsigned char *p, size_t n);

#endif
