/*
 * arena.h — region allocation for one request or one command.
 *
 * Everything a request allocates comes from its arena and is released at
 * once when the request ends (PostgreSQL memory contexts, nginx pools).
 * Foreign objects (PGresult, libical components, malloc'd strings) are
 * handed to the arena with arena_on_release() so they are freed with it.
 * Out of memory aborts: callers never check for NULL.
 */
#ifndef TANDEM_CORE_ARENA_H
#define TANDEM_CORE_ARENA_H

#include <stdarg.h>
#include <stddef.h>

#include "core/common.h"

struct arena_chunk;
struct arena_cleanup;

struct arena {
	struct arena_chunk *head;       /* newest chunk; allocations come from here */
	struct arena_cleanup *cleanups; /* run newest first on reset/release */
	size_t total;                   /* bytes of chunk memory held, for metrics */
};

void arena_init(struct arena *a);
/* Runs the cleanups and frees every chunk; the arena may be used again. */
void arena_release(struct arena *a);
/* Like arena_release but keeps the first chunk for reuse (per-request). */
void arena_reset(struct arena *a);

/* Memory aligned for any type; never NULL. */
void *arena_alloc(struct arena *a, size_t n);
void *arena_zalloc(struct arena *a, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_printf(struct arena *a, const char *fmt, ...) PRINTF_LIKE(2, 3);
char *arena_vprintf(struct arena *a, const char *fmt, va_list ap) PRINTF_LIKE(2, 0);

/* fn(p) runs when the arena is reset or released, newest first. */
void arena_on_release(struct arena *a, void (*fn)(void *), void *p);

#endif
