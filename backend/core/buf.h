/*
 * buf.h — a growable byte buffer with a mandatory maximum and a sticky
 * error (curl's dynbuf, SQLite's sqlite3_str): append freely, check once.
 *
 * A buf backed by an arena allocates from it (nothing to free); a buf with
 * a NULL arena uses the heap and must be buf_release()d.
 */
#ifndef TANDEM_CORE_BUF_H
#define TANDEM_CORE_BUF_H

#include <stdarg.h>

#include "core/arena.h"
#include "core/str.h"

struct buf {
	char *data;          /* bytes, always NUL-terminated when len > 0 or cap > 0 */
	size_t len;          /* bytes used, not counting the NUL */
	size_t cap;          /* bytes allocated */
	size_t max;          /* len may never exceed this */
	struct arena *arena; /* where memory comes from; NULL for the heap */
	int err;             /* 0, or ERR_TOO_LARGE once an append did not fit */
};

void buf_init(struct buf *b, struct arena *a, size_t max);
void buf_release(struct buf *b); /* heap bufs only; arena bufs need nothing */
void buf_reset(struct buf *b);   /* len = 0, err = 0; keeps memory */

void buf_append(struct buf *b, const void *p, size_t n);
void buf_puts(struct buf *b, const char *s);
void buf_putc(struct buf *b, char c);
void buf_putstr(struct buf *b, struct str s);
void buf_printf(struct buf *b, const char *fmt, ...) PRINTF_LIKE(2, 3);
void buf_vprintf(struct buf *b, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);

/* The contents as a C string ("" when empty); valid until the next append. */
const char *buf_cstr(struct buf *b);
static inline struct str buf_str(const struct buf *b)
{
	return (struct str){b->data, b->len};
}

#endif
