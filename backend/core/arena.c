/* arena.c — see arena.h. Chunks double up to 1 MiB; big requests get their own chunk. */
#include "core/arena.h"

#include <stdalign.h>

struct arena_chunk {
	struct arena_chunk *next; /* older chunk */
	size_t size;              /* usable bytes in data */
	size_t used;              /* bytes handed out */
	alignas(max_align_t) unsigned char data[];
};

struct arena_cleanup {
	struct arena_cleanup *next; /* older cleanup */
	void (*fn)(void *);         /* what to call */
	void *p;                    /* its argument */
};

enum { ARENA_FIRST = 8192, ARENA_MAX_CHUNK = 1 << 20 };

void arena_init(struct arena *a)
{
	a->head = NULL;
	a->cleanups = NULL;
	a->total = 0;
}

static void run_cleanups(struct arena *a)
{
	while (a->cleanups) {
		struct arena_cleanup *c = a->cleanups;
		a->cleanups = c->next;
		c->fn(c->p); /* c itself lives in the arena */
	}
}

void arena_release(struct arena *a)
{
	run_cleanups(a);
	while (a->head) {
		struct arena_chunk *c = a->head;
		a->head = c->next;
		free(c);
	}
	a->total = 0;
}

void arena_reset(struct arena *a)
{
	run_cleanups(a);
	struct arena_chunk *keep = NULL;
	while (a->head) {
		struct arena_chunk *c = a->head;
		a->head = c->next;
		if (!a->head && c->size <= ARENA_MAX_CHUNK) {
			keep = c;
		} else {
			free(c);
		}
	}
	a->head = keep;
	a->total = 0;
	if (keep) {
		keep->used = 0;
		keep->next = NULL;
		a->total = keep->size;
	}
}

static size_t align_up(size_t n)
{
	size_t al = alignof(max_align_t);
	if (n > SIZE_MAX - al)
		core_oom();
	return (n + al - 1) & ~(al - 1);
}

void *arena_alloc(struct arena *a, size_t n)
{
	n = align_up(n ? n : 1);
	struct arena_chunk *c = a->head;
	if (!c || c->size - c->used < n) {
		size_t size = c ? c->size * 2 : ARENA_FIRST;
		if (size > ARENA_MAX_CHUNK)
			size = ARENA_MAX_CHUNK;
		if (size < n)
			size = n;
		struct arena_chunk *nc = xmalloc(sizeof(*nc) + size);
		nc->size = size;
		nc->used = 0;
		if (c && size == n && c->size - c->used >= 256) {
			/* A big one-off: put it behind the current chunk so the
			 * current chunk's free space stays usable. */
			nc->next = c->next;
			c->next = nc;
		} else {
			nc->next = c;
			a->head = nc;
		}
		a->total += size;
		c = nc;
	}
	void *p = c->data + c->used;
	c->used += n;
	return p;
}

void *arena_zalloc(struct arena *a, size_t n)
{
	void *p = arena_alloc(a, n);
	memset(p, 0, n);
	return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_alloc(a, n + 1);
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

char *arena_vprintf(struct arena *a, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		BUG("vsnprintf failed");
	char *p = arena_alloc(a, (size_t)n + 1);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

char *arena_printf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *p = arena_vprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

void arena_on_release(struct arena *a, void (*fn)(void *), void *p)
{
	struct arena_cleanup *c = arena_alloc(a, sizeof(*c));
	c->fn = fn;
	c->p = p;
	c->next = a->cleanups;
	a->cleanups = c;
}
