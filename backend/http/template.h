/*
 * template.h — Mustache templates for HTML pages and emails.
 *
 * A tpl_set holds named templates, parsed once into node trees when they are
 * added (usually all of templates/ at start-up with tpl_set_load_dir, which
 * also checks that every partial and parent exists, so a broken template
 * stops start-up rather than a request). After loading the set is read-only
 * and any number of threads may render from it at once.
 *
 * The language is Mustache as in the spec modules comments, delimiters,
 * interpolation, inverted, partials, sections and ~inheritance (parents
 * {{< layout}} with blocks {{$ title}}, which is how pages share a layout),
 * including its standalone-line and indentation rules. Lambdas are not
 * supported. The data context is a jansson value:
 *   - names are looked up in objects up the context stack; "a.b" descends;
 *     "." is the current value;
 *   - false, null, a missing name and [] are falsy; everything else ("" and
 *     0 included) is truthy; arrays iterate a section, other truthy values
 *     are pushed for one pass;
 *   - strings render as they are, integers as integers, reals in their
 *     shortest round-trip form (1.210 renders "1.21"), true/false as words,
 *     null, objects and arrays as nothing;
 *   - {{x}} is HTML-escaped (& < > " '); {{{x}}} and {{& x}} are raw and must
 *     never be fed user data.
 *
 * Rendering is bounded: partials, parents and block overrides nest at most
 * TPL_MAX_DEPTH deep (deeper ones render as nothing, so a partial that
 * includes itself stops), and one render visits at most a set's step budget
 * of nodes (see tpl_set_max_steps) so that no template can make a request
 * spin; past it the render fails with ERR_TOO_LARGE.
 */
#ifndef TANDEM_HTTP_TEMPLATE_H
#define TANDEM_HTTP_TEMPLATE_H

#include <jansson.h>

#include "core/buf.h"

enum {
	TPL_MAX_DEPTH = 64,           /* partial / parent / override nesting at render */
	TPL_MAX_NESTING = 100,        /* sections and blocks nested in one template */
	TPL_MAX_SOURCE = 16u << 20,   /* bytes of one template's source */
	TPL_DEFAULT_STEPS = 8u << 20, /* node visits per render, unless changed */
};

struct tpl_set;

/* A new empty set; never NULL (aborts on OOM). Free with tpl_set_free. */
struct tpl_set *tpl_set_new(void);
void tpl_set_free(struct tpl_set *set);

/* Limits the node visits of one tpl_render (0 restores the default). */
void tpl_set_max_steps(struct tpl_set *set, size_t steps);

/*
 * Parses src (len bytes, need not be NUL-terminated; copied) and stores it
 * under name, replacing an earlier template of that name. On a syntax error
 * returns ERR_INVALID, leaves the set unchanged and writes "name:line: what"
 * into err (errlen bytes, may be NULL/0). ERR_TOO_LARGE past TPL_MAX_SOURCE.
 */
int tpl_set_add(struct tpl_set *set, const char *name, const char *src, size_t len, char *err, size_t errlen);

/*
 * Loads every *.mustache file under dir, recursively (hidden entries are
 * skipped); a template's name is its path relative to dir without
 * ".mustache" ("layout", "pages/home"). Then runs tpl_set_check. Returns 0,
 * ERR_IO (unreadable directory or file) or ERR_INVALID (syntax error, or a
 * missing partial/parent), with a message in err.
 */
int tpl_set_load_dir(struct tpl_set *set, const char *dir, char *err, size_t errlen);

/* Checks that every partial and parent named by any template exists;
 * ERR_INVALID with "name:line: partial 'x' not found" otherwise. */
int tpl_set_check(const struct tpl_set *set, char *err, size_t errlen);

bool tpl_set_has(const struct tpl_set *set, const char *name);

/*
 * Renders template name with ctx (any jansson value; NULL is an empty
 * context) as the data, appending to out. Returns 0, ERR_NOT_FOUND (no such
 * template), or ERR_TOO_LARGE when out reached its max (out->err) or the
 * render ran out of steps (out->err is then set too). A partial or parent
 * missing at render time renders as nothing, as the spec requires.
 * Thread-safe for concurrent renders of one set.
 */
int tpl_render(const struct tpl_set *set, const char *name, const json_t *ctx, struct buf *out);

/* Appends s with & < > " ' escaped as &amp; &lt; &gt; &quot; &#39;. */
void tpl_escape_html(struct buf *out, const char *s, size_t len);

#endif
