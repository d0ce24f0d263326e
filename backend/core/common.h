/*
 * common.h — what every Tandem source file includes first-ish: the standard
 * headers we always need, small macros, and banned.h last.
 */
#ifndef TANDEM_CORE_COMMON_H
#define TANDEM_CORE_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"

#define TANDEM_VERSION "0.1.0"

#define ARRAY_LEN(a)      (sizeof(a) / sizeof((a)[0]))
#define UNUSED(x)         ((void)(x))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))

/* A broken invariant: log where and abort. Never for bad input. */
#define BUG(msg) core_bug(__FILE__, __LINE__, (msg))
#define BUG_ON(cond)                                                                                         \
	do {                                                                                                 \
		if (cond)                                                                                    \
			core_bug(__FILE__, __LINE__, #cond);                                                 \
	} while (0)
_Noreturn void core_bug(const char *file, int line, const char *msg);

/* Out of memory is not recoverable in a server that may not lose data
 * half-way (h2o, palloc): abort loudly. */
_Noreturn void core_oom(void);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

#include "core/banned.h"

#endif
