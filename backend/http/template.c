/*
 * template.c — see template.h.
 *
 * Parsing runs in passes over a flat token list, because Mustache's
 * whitespace rules look at whole lines and, for parents and blocks, at tag
 * pairs (mustache/spec specs/whitespace.md):
 *   1. lex: text (split after each '\n') and tags, honouring {{= =}};
 *   2. match opening and closing tags (syntax errors, with line numbers);
 *   3. per line, which tag is "clear" to its left / right (only whitespace
 *      beside it on the line);
 *   4. remove the intrinsic indentation of argument blocks;
 *   5. standalone rules: drop the whitespace of standalone lines, record
 *      the indentation of partials, parents and blocks;
 *   6. mark where output lines start ("indent points"): the indentation of
 *      a standalone partial is prepended to each line of the partial's
 *      source, never inside an interpolated value;
 *   7. build the node tree in an arena that the template owns.
 * Every pass is linear in the number of tokens.
 */
#include "core/common.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/arena.h"
#include "http/template.h"

#define NO_TOK SIZE_MAX

enum {
	MAX_DELIM = 32,        /* bytes of a delimiter set with {{= =}} */
	MAX_RENDER_NEST = 512, /* C recursion of one render, a stack guard */
	MAX_DIR_DEPTH = 16,    /* directory levels under tpl_set_load_dir's dir */
	NAME_IN_MSG = 60,      /* bytes of a tag name quoted in a message */
};

/* ------------------------------------------------------------ the tree */

enum node_kind {
	N_TEXT,     /* literal bytes */
	N_INDENT,   /* an output line starts: emit the current indentation */
	N_VAR,      /* {{x}}, escaped */
	N_RAW,      /* {{{x}}} or {{& x}} */
	N_SECTION,  /* {{#x}} */
	N_INVERTED, /* {{^x}} */
	N_PARTIAL,  /* {{> x}} */
	N_PARENT,   /* {{< x}}; children are its argument blocks only */
	N_BLOCK,    /* {{$ x}}; children are the default (or argument) content */
};

/* Where a parameter block sits, which decides how an override is indented
 * (the indentation itself is in node.indent). */
enum site {
	SITE_INLINE, /* not standalone: the override goes in as it is */
	SITE_LINES,  /* standalone, opening tag ends its line: intrinsic indentation */
	SITE_LINE,   /* standalone pair on one line: the whitespace before it */
};

struct node {
	struct node *next;  /* next sibling */
	struct node *child; /* first child: sections, parents, blocks */
	struct str text;    /* TEXT: the bytes; PARTIAL, PARENT, BLOCK: the name */
	char **parts;       /* VAR, RAW, SECTION, INVERTED: name split at dots */
	size_t nparts;      /* number of parts; 0 for the implicit iterator "." */
	struct str indent;  /* PARTIAL, PARENT: standalone indentation; BLOCK: see enum site */
	uint8_t kind;       /* enum node_kind */
	uint8_t site;       /* parameter BLOCK: enum site */
	bool standalone;    /* PARTIAL, PARENT: standalone, so indentation applies */
	bool bol;           /* argument BLOCK: its content begins at a line start */
};

/* A partial or parent a template names, for tpl_set_check. */
struct ref {
	struct ref *next; /* next reference of the same template */
	struct str name;  /* the template named */
	uint32_t line;    /* where, for the message */
	bool parent;      /* {{<name}} rather than {{>name}} */
};

struct tpl {
	struct str name;    /* NUL-terminated, in arena */
	struct node *root;  /* the parsed template */
	struct ref *refs;   /* partials and parents named */
	struct arena arena; /* the name, a copy of the source, nodes, refs */
};

struct tpl_set {
	struct tpl **v;   /* templates sorted by name */
	size_t n;         /* templates held */
	size_t cap;       /* slots allocated in v */
	size_t max_steps; /* node visits one render may make */
};

/* ------------------------------------------------------------ messages */

PRINTF_LIKE(3, 4) static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	if (!err || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int name_len_for_msg(size_t len)
{
	return len > NAME_IN_MSG ? NAME_IN_MSG : (int)len;
}

/* ------------------------------------------------------------ the set */

static int cmp_name(struct str a, struct str b)
{
	size_t n = a.len < b.len ? a.len : b.len;
	int c = n ? memcmp(a.ptr, b.ptr, n) : 0;
	if (c)
		return c;
	return a.len < b.len ? -1 : a.len > b.len;
}

/* Index of name in set->v, or where it would be inserted (*found false). */
static size_t set_index(const struct tpl_set *set, struct str name, bool *found)
{
	size_t lo = 0, hi = set->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = cmp_name(set->v[mid]->name, name);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}

static const struct tpl *set_find(const struct tpl_set *set, struct str name)
{
	bool found;
	size_t i = set_index(set, name, &found);
	return found ? set->v[i] : NULL;
}

static void tpl_free(struct tpl *t)
{
	arena_release(&t->arena);
	free(t);
}

struct tpl_set *tpl_set_new(void)
{
	struct tpl_set *set = xcalloc(1, sizeof(*set));
	set->max_steps = TPL_DEFAULT_STEPS;
	return set;
}

void tpl_set_free(struct tpl_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n; i++)
		tpl_free(set->v[i]);
	free(set->v);
	free(set);
}

void tpl_set_max_steps(struct tpl_set *set, size_t steps)
{
	set->max_steps = steps ? steps : TPL_DEFAULT_STEPS;
}

bool tpl_set_has(const struct tpl_set *set, const char *name)
{
	return set_find(set, str_from(name)) != NULL;
}

/* ------------------------------------------------------------ parsing */

enum tok_kind {
	TK_TEXT,     /* literal text, at most one '\n', which ends it */
	TK_VAR,      /* {{x}} */
	TK_RAW,      /* {{{x}}} or {{&x}} */
	TK_SECTION,  /* {{#x}} */
	TK_INVERTED, /* {{^x}} */
	TK_CLOSE,    /* {{/x}} */
	TK_COMMENT,  /* {{!...}} */
	TK_PARTIAL,  /* {{>x}} */
	TK_PARENT,   /* {{<x}} */
	TK_BLOCK,    /* {{$x}} */
	TK_DELIM,    /* {{=a b=}} */
};

struct tok {
	size_t off;        /* TEXT: first byte; tags: first byte of the name */
	size_t len;        /* bytes of the text or the name */
	size_t partner;    /* opening tag <-> its closing tag */
	size_t arg;        /* innermost enclosing argument block, or NO_TOK */
	size_t lno;        /* its line, an index into parser.lines */
	struct str indent; /* PARTIAL, PARENT, BLOCK: indentation the rules found */
	uint32_t line;     /* 1-based source line, for messages */
	uint8_t kind;      /* enum tok_kind */
	uint8_t site;      /* parameter BLOCK: enum site */
	bool dead;         /* TEXT removed by a standalone rule */
	bool point;        /* an output line starts right before this token */
	bool standalone;   /* PARTIAL, PARENT: standalone */
	bool is_arg;       /* BLOCK directly inside a PARENT */
	bool bol;          /* argument BLOCK: content begins at a line start */
};

/* One source line as a token range; text tokens end at '\n', so a line is
 * always a whole number of tokens. */
struct line {
	size_t first;       /* first token */
	size_t last;        /* last token, inclusive */
	size_t first_solid; /* first token that is not whitespace text, or NO_TOK */
	size_t last_solid;  /* last such token, or NO_TOK */
	bool nopoint;       /* a standalone rule owns the line start */
};

struct parser {
	const char *name;   /* template name, for messages */
	const char *src;    /* the template's own copy of the source */
	size_t len;         /* bytes of src */
	struct tok *toks;   /* heap, freed after parsing */
	size_t ntoks;       /* tokens used */
	size_t captoks;     /* tokens allocated */
	struct line *lines; /* heap, freed after parsing */
	size_t nlines;      /* lines used */
	size_t caplines;    /* lines allocated */
	size_t pos;         /* build: next token */
	struct tpl *tpl;    /* build: the template receiving nodes */
	char *err;          /* where messages go */
	size_t errlen;      /* its size */
};

PRINTF_LIKE(3, 4) static int fail(struct parser *p, uint32_t line, const char *fmt, ...)
{
	char what[200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	set_err(p->err, p->errlen, "%s:%u: %s", p->name, (unsigned)line, what);
	return ERR_INVALID;
}

static bool is_hspace(char c)
{
	return c == ' ' || c == '\t';
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static const char *kind_word(uint8_t kind)
{
	switch (kind) {
	case TK_PARENT: return "parent";
	case TK_BLOCK: return "block";
	case TK_INVERTED: return "inverted section";
	default: return "section";
	}
}

static struct tok *push_tok(struct parser *p, uint8_t kind, size_t off, size_t len, uint32_t line)
{
	if (p->ntoks == p->captoks) {
		p->captoks = p->captoks ? p->captoks * 2 : 64;
		p->toks = xrealloc(p->toks, p->captoks * sizeof(*p->toks));
	}
	struct tok *t = &p->toks[p->ntoks++];
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->off = off;
	t->len = len;
	t->line = line;
	t->partner = NO_TOK;
	t->arg = NO_TOK;
	return t;
}

/* Text [from, to), one token per line piece. */
static void lex_text(struct parser *p, size_t from, size_t to, uint32_t *line)
{
	while (from < to) {
		const char *nl = memchr(p->src + from, '\n', to - from);
		size_t end = nl ? (size_t)(nl - p->src) + 1 : to;
		push_tok(p, TK_TEXT, from, end - from, *line);
		if (nl)
			(*line)++;
		from = end;
	}
}

/* A name as the spec allows it: no whitespace; for data names, "." or
 * dot-separated non-empty parts. */
static int check_name(struct parser *p, uint8_t kind, const char *s, size_t n, uint32_t line)
{
	if (n == 0)
		return fail(p, line, "empty tag");
	for (size_t i = 0; i < n; i++)
		if (is_space(s[i]))
			return fail(p, line, "invalid tag name '%.*s'", name_len_for_msg(n), s);
	bool data = kind == TK_VAR || kind == TK_RAW || kind == TK_SECTION || kind == TK_INVERTED;
	if (!data || (n == 1 && s[0] == '.'))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '.' && (i == 0 || i == n - 1 || s[i + 1] == '.'))
			return fail(p, line, "invalid name '%.*s'", name_len_for_msg(n), s);
	return 0;
}

static int lex(struct parser *p)
{
	const char *s = p->src;
	size_t n = p->len, pos = 0;
	uint32_t line = 1;
	struct str otag = STR_LIT("{{"), ctag = STR_LIT("}}");

	while (pos < n) {
		const char *o = memmem(s + pos, n - pos, otag.ptr, otag.len);
		size_t at = o ? (size_t)(o - s) : n;
		lex_text(p, pos, at, &line);
		if (!o)
			break;

		size_t q = at + otag.len;
		uint8_t kind = TK_VAR;
		char closer_prefix = 0;
		if (q < n) {
			switch (s[q]) {
			case '#': kind = TK_SECTION; break;
			case '^': kind = TK_INVERTED; break;
			case '/': kind = TK_CLOSE; break;
			case '!': kind = TK_COMMENT; break;
			case '>': kind = TK_PARTIAL; break;
			case '<': kind = TK_PARENT; break;
			case '$': kind = TK_BLOCK; break;
			case '&': kind = TK_RAW; break;
			case '=':
				kind = TK_DELIM;
				closer_prefix = '=';
				break;
			case '{':
				kind = TK_RAW;
				closer_prefix = '}';
				break;
			default: break;
			}
			if (kind != TK_VAR)
				q++;
		}
		char needle[MAX_DELIM + 1];
		size_t nlen = 0;
		if (closer_prefix)
			needle[nlen++] = closer_prefix;
		memcpy(needle + nlen, ctag.ptr, ctag.len);
		nlen += ctag.len;
		const char *c = memmem(s + q, n - q, needle, nlen);
		if (!c)
			return fail(p, line, "unclosed tag");
		size_t cend = (size_t)(c - s), next = cend + nlen;
		uint32_t tline = line;
		for (size_t i = at; i < next; i++)
			line += s[i] == '\n';

		size_t a = q, b = cend;
		while (a < b && is_space(s[a]))
			a++;
		while (b > a && is_space(s[b - 1]))
			b--;

		if (kind == TK_COMMENT) {
			push_tok(p, kind, q, cend - q, tline);
		} else if (kind == TK_DELIM) {
			size_t m = a;
			while (m < b && !is_space(s[m]))
				m++;
			size_t r = m;
			while (r < b && is_space(s[r]))
				r++;
			size_t olen = m - a, clen = b - r;
			bool bad = olen == 0 || clen == 0 || olen > MAX_DELIM || clen > MAX_DELIM ||
			           memchr(s + a, '=', olen) || memchr(s + r, '=', clen);
			for (size_t i = r; !bad && i < b; i++)
				bad = is_space(s[i]);
			if (bad)
				return fail(p, tline, "invalid set-delimiters tag");
			push_tok(p, kind, a, b - a, tline);
			otag = (struct str){s + a, olen};
			ctag = (struct str){s + r, clen};
		} else {
			int rc = check_name(p, kind, s + a, b - a, tline);
			if (rc)
				return rc;
			push_tok(p, kind, a, b - a, tline);
		}
		pos = next;
	}
	return 0;
}

static bool tok_name_eq(const struct parser *p, const struct tok *a, const struct tok *b)
{
	return a->len == b->len && memcmp(p->src + a->off, p->src + b->off, a->len) == 0;
}

/* Pairs opening and closing tags; finds argument blocks. */
static int match(struct parser *p)
{
	size_t stack[TPL_MAX_NESTING];
	size_t sp = 0, arg = NO_TOK;

	for (size_t i = 0; i < p->ntoks; i++) {
		struct tok *t = &p->toks[i];
		t->arg = arg;
		switch (t->kind) {
		case TK_SECTION:
		case TK_INVERTED:
		case TK_PARENT:
		case TK_BLOCK:
			if (sp == TPL_MAX_NESTING)
				return fail(p, t->line, "sections nested more than %d deep", TPL_MAX_NESTING);
			if (t->kind == TK_BLOCK && sp > 0 && p->toks[stack[sp - 1]].kind == TK_PARENT)
				t->is_arg = true;
			stack[sp++] = i;
			if (t->is_arg)
				arg = i;
			break;
		case TK_CLOSE: {
			if (sp == 0)
				return fail(p, t->line, "closing tag '%.*s' without an opening tag",
				            name_len_for_msg(t->len), p->src + t->off);
			struct tok *o = &p->toks[stack[sp - 1]];
			if (!tok_name_eq(p, o, t))
				return fail(p, t->line,
				            "closing tag '%.*s' does not match %s '%.*s' opened on line %u",
				            name_len_for_msg(t->len), p->src + t->off, kind_word(o->kind),
				            name_len_for_msg(o->len), p->src + o->off, (unsigned)o->line);
			o->partner = i;
			t->partner = stack[sp - 1];
			sp--;
			arg = o->arg;
			break;
		}
		default: break;
		}
	}
	if (sp) {
		const struct tok *o = &p->toks[stack[sp - 1]];
		return fail(p, o->line, "%s '%.*s' is never closed", kind_word(o->kind),
		            name_len_for_msg(o->len), p->src + o->off);
	}
	return 0;
}

/* Whitespace-only text, not counting its line ending. */
static bool ws_text(const struct parser *p, const struct tok *t)
{
	if (t->kind != TK_TEXT)
		return false;
	const char *s = p->src + t->off;
	size_t n = t->len;
	if (n && s[n - 1] == '\n') {
		n--;
		if (n && s[n - 1] == '\r')
			n--;
	}
	for (size_t i = 0; i < n; i++)
		if (!is_hspace(s[i]))
			return false;
	return true;
}

static void find_lines(struct parser *p)
{
	size_t start = 0;
	for (size_t i = 0; i < p->ntoks; i++) {
		struct tok *t = &p->toks[i];
		t->lno = p->nlines;
		bool eol = t->kind == TK_TEXT && p->src[t->off + t->len - 1] == '\n';
		if (!eol && i + 1 < p->ntoks)
			continue;
		if (p->nlines == p->caplines) {
			p->caplines = p->caplines ? p->caplines * 2 : 32;
			p->lines = xrealloc(p->lines, p->caplines * sizeof(*p->lines));
		}
		struct line *l = &p->lines[p->nlines++];
		l->first = start;
		l->last = i;
		l->first_solid = l->last_solid = NO_TOK;
		l->nopoint = false;
		for (size_t k = start; k <= i; k++) {
			if (ws_text(p, &p->toks[k]))
				continue;
			if (l->first_solid == NO_TOK)
				l->first_solid = k;
			l->last_solid = k;
		}
		start = i + 1;
	}
}

static bool left_clear(const struct parser *p, size_t i)
{
	return p->lines[p->toks[i].lno].first_solid == i;
}

static bool right_clear(const struct parser *p, size_t i)
{
	return p->lines[p->toks[i].lno].last_solid == i;
}

/* The leading spaces and tabs of a token (empty unless it is text). */
static struct str ws_prefix(const struct parser *p, const struct tok *t)
{
	size_t k = 0;
	if (t->kind == TK_TEXT)
		while (k < t->len && is_hspace(p->src[t->off + k]))
			k++;
	return (struct str){p->src + t->off, k};
}

/* The whitespace before left-clear tag i on its line. */
static struct str lead_ws(const struct parser *p, size_t i)
{
	size_t f = p->lines[p->toks[i].lno].first;
	if (f == i || p->toks[f].kind != TK_TEXT)
		return (struct str){p->src, 0};
	return (struct str){p->src + p->toks[f].off, p->toks[f].len};
}

static void kill_before(struct parser *p, size_t i)
{
	for (size_t k = p->lines[p->toks[i].lno].first; k < i; k++)
		p->toks[k].dead = true;
}

static void kill_after(struct parser *p, size_t i)
{
	size_t last = p->lines[p->toks[i].lno].last;
	for (size_t k = i + 1; k <= last; k++)
		p->toks[k].dead = true;
}

/*
 * An argument block whose opening tag ends its line has an intrinsic
 * indentation: the leading whitespace of the next line. It is removed from
 * the start of every line of the content, so that the content can be
 * re-indented where the parent places it.
 */
static void strip_arguments(struct parser *p)
{
	for (size_t i = 0; i < p->ntoks; i++) {
		struct tok *t = &p->toks[i];
		if (t->kind != TK_BLOCK || !t->is_arg || !right_clear(p, i))
			continue;
		t->bol = true;
		/* The closing tag comes later, so there is a next line. */
		t->indent = ws_prefix(p, &p->toks[p->lines[t->lno + 1].first]);
	}
	for (size_t l = 1; l < p->nlines; l++) {
		struct tok *f = &p->toks[p->lines[l].first];
		if (f->kind != TK_TEXT || f->arg == NO_TOK)
			continue;
		struct str in = p->toks[f->arg].indent;
		if (in.len && f->len >= in.len && memcmp(p->src + f->off, in.ptr, in.len) == 0) {
			f->off += in.len;
			f->len -= in.len;
		}
	}
}

static bool standalone_kind(uint8_t kind)
{
	return kind != TK_TEXT && kind != TK_VAR && kind != TK_RAW;
}

static void apply_standalone(struct parser *p)
{
	for (size_t i = 0; i < p->ntoks; i++) {
		struct tok *t = &p->toks[i];
		if (!standalone_kind(t->kind))
			continue;
		struct line *l = &p->lines[t->lno];
		bool lc = left_clear(p, i), rc = right_clear(p, i);

		/* The one tag on its line: the whole line goes. */
		if (lc && rc) {
			if (t->kind == TK_PARTIAL || t->kind == TK_PARENT) {
				t->standalone = true;
				t->indent = lead_ws(p, i);
			}
			kill_before(p, i);
			kill_after(p, i);
			l->nopoint = true;
		}

		if (t->kind == TK_PARENT) {
			/* A parent element is standalone when only whitespace
			 * precedes its opening tag and follows its closing tag,
			 * even with both on one line. */
			size_t c = t->partner;
			if (lc && right_clear(p, c)) {
				t->standalone = true;
				t->indent = lead_ws(p, i);
				kill_before(p, i);
				kill_after(p, c);
				l->nopoint = true;
			}
		} else if (t->kind == TK_BLOCK && t->is_arg) {
			/* The content is an inline template: a line end right
			 * after the opening tag and whitespace right before the
			 * closing tag belong to the tags. */
			size_t c = t->partner;
			if (rc)
				kill_after(p, i);
			if (left_clear(p, c)) {
				kill_before(p, c);
				p->lines[p->toks[c].lno].nopoint = true;
			}
		} else if (t->kind == TK_BLOCK) {
			size_t c = t->partner;
			if (!lc || !right_clear(p, c)) {
				t->site = SITE_INLINE;
			} else if (rc) {
				t->site = SITE_LINES;
				t->indent = ws_prefix(p, &p->toks[p->lines[t->lno + 1].first]);
			} else {
				/* The line end after the closing tag stays. */
				t->site = SITE_LINE;
				t->indent = lead_ws(p, i);
				kill_before(p, i);
				l->nopoint = true;
			}
		}
	}
}

static void place_points(struct parser *p)
{
	for (size_t l = 0; l < p->nlines; l++) {
		const struct line *ln = &p->lines[l];
		if (ln->nopoint)
			continue;
		for (size_t k = ln->first; k <= ln->last; k++) {
			struct tok *t = &p->toks[k];
			if (t->dead || (t->kind == TK_TEXT && t->len == 0))
				continue;
			t->point = true;
			break;
		}
	}
}

static struct node *new_node(struct parser *p, uint8_t kind)
{
	struct node *n = arena_zalloc(&p->tpl->arena, sizeof(*n));
	n->kind = kind;
	return n;
}

static void split_name(struct parser *p, struct node *n, const struct tok *t)
{
	const char *s = p->src + t->off;
	if (t->len == 1 && s[0] == '.')
		return;
	size_t parts = 1;
	for (size_t i = 0; i < t->len; i++)
		parts += s[i] == '.';
	n->parts = arena_alloc(&p->tpl->arena, parts * sizeof(*n->parts));
	size_t start = 0;
	for (size_t i = 0; i <= t->len; i++) {
		if (i < t->len && s[i] != '.')
			continue;
		n->parts[n->nparts++] = arena_strndup(&p->tpl->arena, s + start, i - start);
		start = i + 1;
	}
}

static void add_ref(struct parser *p, const struct tok *t, struct str name)
{
	struct ref *r = arena_alloc(&p->tpl->arena, sizeof(*r));
	r->name = name;
	r->line = t->line;
	r->parent = t->kind == TK_PARENT;
	r->next = p->tpl->refs;
	p->tpl->refs = r;
}

/* What build keeps: everything, only a parent's argument blocks, nothing. */
enum build_mode { BUILD_KEEP, BUILD_ARGS, BUILD_DROP };

/* Builds the node list from p->pos up to (not including) the closing tag
 * of the enclosing element, or to the end. Recursion is bounded by
 * TPL_MAX_NESTING, which match() enforced. */
static struct node *build(struct parser *p, enum build_mode mode)
{
	struct node *head = NULL, **tail = &head;
#define APPEND(n)                                                                                            \
	do {                                                                                                 \
		*tail = (n);                                                                                 \
		tail = &(*tail)->next;                                                                       \
	} while (0)

	while (p->pos < p->ntoks) {
		const struct tok *t = &p->toks[p->pos];
		if (t->dead) {
			p->pos++;
			continue;
		}
		if (t->point && mode == BUILD_KEEP)
			APPEND(new_node(p, N_INDENT));
		if (t->kind == TK_CLOSE)
			break;
		p->pos++;
		struct str name = {p->src + t->off, t->len};
		struct node *n = NULL;
		switch (t->kind) {
		case TK_TEXT:
			if (mode == BUILD_KEEP && t->len) {
				n = new_node(p, N_TEXT);
				n->text = name;
			}
			break;
		case TK_VAR:
		case TK_RAW:
			if (mode == BUILD_KEEP) {
				n = new_node(p, t->kind == TK_VAR ? N_VAR : N_RAW);
				split_name(p, n, t);
			}
			break;
		case TK_PARTIAL:
			if (mode == BUILD_KEEP) {
				n = new_node(p, N_PARTIAL);
				n->text = name;
				n->standalone = t->standalone;
				n->indent = t->indent;
				add_ref(p, t, name);
			}
			break;
		case TK_SECTION:
		case TK_INVERTED:
		case TK_PARENT:
		case TK_BLOCK: {
			bool keep = mode == BUILD_KEEP || (mode == BUILD_ARGS && t->kind == TK_BLOCK);
			enum build_mode inner = BUILD_DROP;
			if (keep)
				inner = t->kind == TK_PARENT ? BUILD_ARGS : BUILD_KEEP;
			struct node *kids = build(p, inner);
			p->pos++; /* its closing tag */
			if (!keep)
				break;
			static const uint8_t kinds[] = {
			    [TK_SECTION] = N_SECTION,
			    [TK_INVERTED] = N_INVERTED,
			    [TK_PARENT] = N_PARENT,
			    [TK_BLOCK] = N_BLOCK,
			};
			n = new_node(p, kinds[t->kind]);
			n->child = kids;
			if (t->kind == TK_SECTION || t->kind == TK_INVERTED) {
				split_name(p, n, t);
			} else {
				n->text = name;
				n->indent = t->indent;
				n->standalone = t->standalone;
				n->site = t->site;
				n->bol = t->bol;
			}
			if (t->kind == TK_PARENT)
				add_ref(p, t, name);
			break;
		}
		default: break; /* comments and set-delimiters render nothing */
		}
		if (n)
			APPEND(n);
	}
#undef APPEND
	return head;
}

static int parse(struct parser *p)
{
	int rc = lex(p);
	if (rc)
		return rc;
	rc = match(p);
	if (rc)
		return rc;
	find_lines(p);
	strip_arguments(p);
	apply_standalone(p);
	place_points(p);
	p->pos = 0;
	p->tpl->root = build(p, BUILD_KEEP);
	BUG_ON(p->pos != p->ntoks);
	return 0;
}

int tpl_set_add(struct tpl_set *set, const char *name, const char *src, size_t len, char *err, size_t errlen)
{
	set_err(err, errlen, "%s", "");
	if (!name || !*name) {
		set_err(err, errlen, "template without a name");
		return ERR_INVALID;
	}
	if (len > TPL_MAX_SOURCE) {
		set_err(err, errlen, "%s: template larger than %u bytes", name, (unsigned)TPL_MAX_SOURCE);
		return ERR_TOO_LARGE;
	}

	struct tpl *t = xcalloc(1, sizeof(*t));
	arena_init(&t->arena);
	size_t nlen = strlen(name);
	t->name = (struct str){arena_strndup(&t->arena, name, nlen), nlen};
	struct parser p = {
	    .name = t->name.ptr,
	    .src = arena_strndup(&t->arena, len ? src : "", len),
	    .len = len,
	    .tpl = t,
	    .err = err,
	    .errlen = errlen,
	};
	int rc = parse(&p);
	free(p.toks);
	free(p.lines);
	if (rc) {
		tpl_free(t);
		return rc;
	}

	bool found;
	size_t i = set_index(set, t->name, &found);
	if (found) {
		tpl_free(set->v[i]);
		set->v[i] = t;
		return 0;
	}
	if (set->n == set->cap) {
		set->cap = set->cap ? set->cap * 2 : 16;
		set->v = xrealloc(set->v, set->cap * sizeof(*set->v));
	}
	memmove(set->v + i + 1, set->v + i, (set->n - i) * sizeof(*set->v));
	set->v[i] = t;
	set->n++;
	return 0;
}

int tpl_set_check(const struct tpl_set *set, char *err, size_t errlen)
{
	for (size_t i = 0; i < set->n; i++) {
		const struct tpl *t = set->v[i];
		/* refs is newest first; report the first one in the file. */
		const struct ref *bad = NULL;
		for (const struct ref *r = t->refs; r; r = r->next)
			if (!set_find(set, r->name))
				bad = r;
		if (bad) {
			set_err(err, errlen, "%s:%u: %s '%.*s' not found", t->name.ptr, (unsigned)bad->line,
			        bad->parent ? "parent" : "partial", name_len_for_msg(bad->name.len),
			        bad->name.ptr);
			return ERR_INVALID;
		}
	}
	return 0;
}

/* ------------------------------------------------------------ loading */

static int io_fail(char *err, size_t errlen, const char *path, int e)
{
	char tmp[128];
	const char *m = strerror_r(e, tmp, sizeof(tmp)); /* the GNU one */
	set_err(err, errlen, "%s: %s", path, m);
	return ERR_IO;
}

static int read_file(const char *path, char **data, size_t *len, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return io_fail(err, errlen, path, errno);
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return io_fail(err, errlen, path, e);
	}
	if (st.st_size < 0 || (uintmax_t)st.st_size > TPL_MAX_SOURCE) {
		close(fd);
		set_err(err, errlen, "%s: larger than %u bytes", path, (unsigned)TPL_MAX_SOURCE);
		return ERR_INVALID;
	}
	size_t cap = (size_t)st.st_size, got = 0;
	char *buf = xmalloc(cap + 1);
	while (got < cap) {
		ssize_t k = read(fd, buf + got, cap - got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			int e = errno;
			free(buf);
			close(fd);
			return io_fail(err, errlen, path, e);
		}
		if (k == 0)
			break;
		got += (size_t)k;
	}
	close(fd);
	*data = buf;
	*len = got;
	return 0;
}

static const char suffix[] = ".mustache";

static int load_tree(struct tpl_set *set, const char *root, const char *rel, unsigned depth, char *err,
                     size_t errlen);

/* One directory entry: a subdirectory to walk or a template to add. */
static int load_entry(struct tpl_set *set, const char *root, const char *rel, const char *ent, unsigned depth,
                      char *err, size_t errlen)
{
	char crel[PATH_MAX], full[PATH_MAX];
	int n1 =
	    *rel ? snprintf(crel, sizeof(crel), "%s/%s", rel, ent) : snprintf(crel, sizeof(crel), "%s", ent);
	int n2 = snprintf(full, sizeof(full), "%s/%s", root, crel);
	if (n1 < 0 || n2 < 0 || (size_t)n1 >= sizeof(crel) || (size_t)n2 >= sizeof(full)) {
		set_err(err, errlen, "%s/%s: path too long", root, rel);
		return ERR_IO;
	}
	struct stat st;
	if (stat(full, &st) != 0)
		return io_fail(err, errlen, full, errno);
	if (S_ISDIR(st.st_mode)) {
		if (depth >= MAX_DIR_DEPTH) {
			set_err(err, errlen, "%s: directories nested too deep", full);
			return ERR_INVALID;
		}
		return load_tree(set, root, crel, depth + 1, err, errlen);
	}
	size_t n = strlen(crel), sl = sizeof(suffix) - 1;
	if (!S_ISREG(st.st_mode) || n <= sl || strcmp(crel + n - sl, suffix) != 0)
		return 0;
	char *data;
	size_t len;
	int rc = read_file(full, &data, &len, err, errlen);
	if (rc)
		return rc;
	crel[n - sl] = '\0';
	rc = tpl_set_add(set, crel, data, len, err, errlen);
	free(data);
	return rc;
}

static int load_tree(struct tpl_set *set, const char *root, const char *rel, unsigned depth, char *err,
                     size_t errlen)
{
	char dir[PATH_MAX];
	int w =
	    *rel ? snprintf(dir, sizeof(dir), "%s/%s", root, rel) : snprintf(dir, sizeof(dir), "%s", root);
	if (w < 0 || (size_t)w >= sizeof(dir)) {
		set_err(err, errlen, "%s/%s: path too long", root, rel);
		return ERR_IO;
	}
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);
	if (n < 0)
		return io_fail(err, errlen, dir, errno);
	int rc = 0;
	for (int i = 0; i < n; i++) {
		if (rc == 0 && ents[i]->d_name[0] != '.')
			rc = load_entry(set, root, rel, ents[i]->d_name, depth, err, errlen);
		free(ents[i]);
	}
	free(ents);
	return rc;
}

int tpl_set_load_dir(struct tpl_set *set, const char *dir, char *err, size_t errlen)
{
	set_err(err, errlen, "%s", "");
	int rc = load_tree(set, dir, "", 0, err, errlen);
	if (rc)
		return rc;
	return tpl_set_check(set, err, errlen);
}

/* ------------------------------------------------------------ rendering */

/* The context stack, innermost first. */
struct ctx {
	const json_t *v;      /* a value pushed by a section (or the root) */
	const struct ctx *up; /* the one below */
};

/* The indentation in force: pieces outermost first when emitted. */
struct chain {
	struct str s;           /* this level's whitespace */
	const struct chain *up; /* outer levels */
};

/* Parents being expanded, innermost first; an outer parent's arguments
 * win over an inner one's. */
struct frame {
	const struct node *parent; /* the {{<x}} node, whose children are arguments */
	const struct frame *up;    /* the parent expanding this one */
};

struct render {
	const struct tpl_set *set; /* where partials come from */
	struct buf *out;           /* output */
	size_t steps;              /* node visits left */
	unsigned nest;             /* C recursion depth of render_nodes */
	bool stop;                 /* out of steps or output: unwind */
};

static bool spend(struct render *r, size_t n)
{
	if (r->stop)
		return false;
	if (r->out->err) {
		r->stop = true;
		return false;
	}
	if (r->steps < n) {
		r->steps = 0;
		r->stop = true;
		r->out->err = ERR_TOO_LARGE;
		return false;
	}
	r->steps -= n;
	return true;
}

void tpl_escape_html(struct buf *out, const char *s, size_t len)
{
	size_t run = 0;
	for (size_t i = 0; i < len; i++) {
		const char *rep;
		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#39;"; break;
		default: continue;
		}
		buf_append(out, s + run, i - run);
		buf_puts(out, rep);
		run = i + 1;
	}
	buf_append(out, s + run, len - run);
}

/* The shortest of %.15g..%.17g that reads back as the same double. */
static void put_real(struct buf *out, double d)
{
	char tmp[40];
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	buf_puts(out, tmp);
}

static void put_value(struct buf *out, const json_t *v, bool escape)
{
	if (!v)
		return;
	switch (json_typeof(v)) {
	case JSON_STRING:
		if (escape)
			tpl_escape_html(out, json_string_value(v), json_string_length(v));
		else
			buf_append(out, json_string_value(v), json_string_length(v));
		break;
	case JSON_INTEGER: buf_printf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v)); break;
	case JSON_REAL: put_real(out, json_real_value(v)); break;
	case JSON_TRUE: buf_puts(out, "true"); break;
	case JSON_FALSE: buf_puts(out, "false"); break;
	default: break; /* null, objects and arrays render as nothing */
	}
}

static bool falsy(const json_t *v)
{
	return !v || json_is_null(v) || json_is_false(v) || (json_is_array(v) && json_array_size(v) == 0);
}

/* Resolves a name: the first part up the context stack, the rest inside
 * what it found. NULL when missing. */
static const json_t *lookup(struct render *r, const struct node *n, const struct ctx *cx)
{
	if (n->nparts == 0)
		return cx ? cx->v : NULL;
	const json_t *v = NULL;
	for (const struct ctx *c = cx; c && !v; c = c->up) {
		if (!spend(r, 1))
			return NULL;
		if (json_is_object(c->v))
			v = json_object_get(c->v, n->parts[0]);
	}
	for (size_t i = 1; v && i < n->nparts; i++)
		v = json_is_object(v) ? json_object_get(v, n->parts[i]) : NULL;
	return v;
}

static void emit_chain(struct buf *out, const struct chain *c)
{
	if (!c)
		return;
	emit_chain(out, c->up);
	buf_putstr(out, c->s);
}

static const struct node *find_override(struct render *r, const struct frame *f, struct str name)
{
	if (!f)
		return NULL;
	const struct node *o = find_override(r, f->up, name);
	if (o)
		return o;
	for (const struct node *a = f->parent->child; a; a = a->next) {
		if (!spend(r, 1))
			return NULL;
		if (str_eq(a->text, name))
			return a;
	}
	return NULL;
}

static void render_nodes(struct render *r, const struct node *n, const struct ctx *cx,
                         const struct chain *ind, const struct frame *fr, unsigned depth);

static void render_section(struct render *r, const struct node *n, const struct ctx *cx,
                           const struct chain *ind, const struct frame *fr, unsigned depth)
{
	const json_t *v = lookup(r, n, cx);
	if (n->kind == N_INVERTED) {
		if (falsy(v))
			render_nodes(r, n->child, cx, ind, fr, depth);
		return;
	}
	if (falsy(v))
		return;
	if (!json_is_array(v)) {
		struct ctx c = {v, cx};
		render_nodes(r, n->child, &c, ind, fr, depth);
		return;
	}
	size_t len = json_array_size(v);
	for (size_t k = 0; k < len && spend(r, 1); k++) {
		struct ctx c = {json_array_get(v, k), cx};
		render_nodes(r, n->child, &c, ind, fr, depth);
	}
}

static void render_include(struct render *r, const struct node *n, const struct ctx *cx,
                           const struct chain *ind, const struct frame *fr, unsigned depth)
{
	if (depth >= TPL_MAX_DEPTH)
		return;
	const struct tpl *t = set_find(r->set, n->text);
	if (!t)
		return;
	/* A standalone include indents every line of what it includes; an
	 * inline one starts afresh, as if its source were pasted in. */
	struct chain seg = {n->indent, ind};
	const struct chain *ci = !n->standalone ? NULL : n->indent.len ? &seg : ind;
	struct frame f = {n, fr};
	render_nodes(r, t->root, cx, ci, n->kind == N_PARENT ? &f : fr, depth + 1);
}

static void render_block(struct render *r, const struct node *n, const struct ctx *cx,
                         const struct chain *ind, const struct frame *fr, unsigned depth)
{
	const struct node *o = find_override(r, fr, n->text);
	if (r->stop)
		return;
	if (!o) {
		if (n->site == SITE_LINE) {
			emit_chain(r->out, ind);
			buf_putstr(r->out, n->indent);
		}
		render_nodes(r, n->child, cx, ind, fr, depth);
		return;
	}
	/* An override may contain the block it overrides. */
	if (depth >= TPL_MAX_DEPTH)
		return;
	if (n->site == SITE_INLINE) {
		const struct node *c = o->child;
		if (o->bol && c && c->kind == N_INDENT)
			c = c->next;
		render_nodes(r, c, cx, ind, fr, depth + 1);
		return;
	}
	struct chain seg = {n->indent, ind};
	const struct chain *ci = n->indent.len ? &seg : ind;
	if (!o->bol && o->child)
		emit_chain(r->out, ci);
	render_nodes(r, o->child, cx, ci, fr, depth + 1);
}

static void render_nodes(struct render *r, const struct node *n, const struct ctx *cx,
                         const struct chain *ind, const struct frame *fr, unsigned depth)
{
	if (r->nest >= MAX_RENDER_NEST)
		return;
	r->nest++;
	for (; n && spend(r, 1); n = n->next) {
		switch (n->kind) {
		case N_TEXT: buf_putstr(r->out, n->text); break;
		case N_INDENT: emit_chain(r->out, ind); break;
		case N_VAR:
		case N_RAW: put_value(r->out, lookup(r, n, cx), n->kind == N_VAR); break;
		case N_SECTION:
		case N_INVERTED: render_section(r, n, cx, ind, fr, depth); break;
		case N_PARTIAL:
		case N_PARENT: render_include(r, n, cx, ind, fr, depth); break;
		case N_BLOCK: render_block(r, n, cx, ind, fr, depth); break;
		default: BUG("bad template node");
		}
	}
	r->nest--;
}

int tpl_render(const struct tpl_set *set, const char *name, const json_t *ctx, struct buf *out)
{
	if (out->err)
		return out->err;
	const struct tpl *t = set_find(set, str_from(name));
	if (!t)
		return ERR_NOT_FOUND;
	struct render r = {.set = set, .out = out, .steps = set->max_steps};
	struct ctx root = {ctx, NULL};
	render_nodes(&r, t->root, ctx ? &root : NULL, NULL, NULL, 0);
	return out->err;
}
