/*
 * Unit tests: the Mustache engine (http/template.c).
 *
 * Runs every case of the spec modules in $MUSTACHE_SPEC_DIR (default
 * tests/fixtures/mustache-spec, relative to the repository root), one cmocka
 * test per file that fails when any of its cases does, naming each failing
 * case; then escaping, syntax errors with line numbers, the recursion and
 * step limits, the output maximum, and loading a directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "http/template.h"

#define MAIN "__spec_template__"

/* Renders name into a heap string (caller frees); *rc gets the result. */
static char *render(const struct tpl_set *set, const char *name, const json_t *ctx, size_t max, int *rc)
{
	struct buf out;
	buf_init(&out, NULL, max);
	*rc = tpl_render(set, name, ctx, &out);
	char *s = xstrdup(buf_cstr(&out));
	buf_release(&out);
	return s;
}

/* One template "t" rendered with the JSON text data; asserts success. */
static char *render_one(const char *src, const char *data)
{
	struct tpl_set *set = tpl_set_new();
	char err[256];
	int rc = tpl_set_add(set, "t", src, strlen(src), err, sizeof(err));
	if (rc)
		fail_msg("tpl_set_add: %s", err);
	json_error_t jerr;
	json_t *ctx = json_loads(data, JSON_DECODE_ANY, &jerr);
	assert_non_null(ctx);
	char *s = render(set, "t", ctx, 1 << 20, &rc);
	assert_int_equal(rc, 0);
	json_decref(ctx);
	tpl_set_free(set);
	return s;
}

static void assert_renders(const char *src, const char *data, const char *want)
{
	char *got = render_one(src, data);
	assert_string_equal(got, want);
	free(got);
}

/* ------------------------------------------------------------ the spec */

static void print_quoted(const char *label, const char *s)
{
	json_t *j = json_string(s);
	char *q = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
	print_message("      %-9s %s\n", label, q ? q : "(not UTF-8)");
	free(q);
	json_decref(j);
}

/* Runs one case; prints what went wrong and returns false on a failure. */
static bool run_case(const char *file, json_t *tc)
{
	const char *name = json_string_value(json_object_get(tc, "name"));
	const char *tmpl = json_string_value(json_object_get(tc, "template"));
	const char *want = json_string_value(json_object_get(tc, "expected"));
	json_t *data = json_object_get(tc, "data");
	json_t *partials = json_object_get(tc, "partials");
	if (!name || !tmpl || !want) {
		print_message("  FAIL %s: malformed case\n", file);
		return false;
	}

	struct tpl_set *set = tpl_set_new();
	char err[256] = "not a string";
	bool ok = true;
	for (void *it = json_object_iter(partials); it; it = json_object_iter_next(partials, it)) {
		const char *pname = json_object_iter_key(it);
		const char *ps = json_string_value(json_object_iter_value(it));
		if (!ps || tpl_set_add(set, pname, ps, strlen(ps), err, sizeof(err)) != 0) {
			print_message("  FAIL %s \"%s\": partial %s: %s\n", file, name, pname, err);
			ok = false;
		}
	}
	if (ok && tpl_set_add(set, MAIN, tmpl, strlen(tmpl), err, sizeof(err)) != 0) {
		print_message("  FAIL %s \"%s\": %s\n", file, name, err);
		ok = false;
	}
	if (ok) {
		int rc;
		char *got = render(set, MAIN, data, 1 << 20, &rc);
		if (rc != 0 || strcmp(got, want) != 0) {
			print_message("  FAIL %s \"%s\" (rc %d)\n", file, name, rc);
			print_quoted("template", tmpl);
			print_quoted("expected", want);
			print_quoted("got", got);
			ok = false;
		}
		free(got);
	}
	tpl_set_free(set);
	return ok;
}

static void test_spec(void **state)
{
	const char *file = *state;
	const char *dir = getenv("MUSTACHE_SPEC_DIR");
	if (!dir || !*dir)
		dir = "tests/fixtures/mustache-spec";
	char path[1024];
	snprintf(path, sizeof(path), "%s/%s", dir, file);
	json_error_t jerr;
	json_t *spec = json_load_file(path, 0, &jerr);
	if (!spec)
		fail_msg("cannot load %s: %s (line %d)", path, jerr.text, jerr.line);
	json_t *tests = json_object_get(spec, "tests");
	assert_true(json_is_array(tests));
	assert_true(json_array_size(tests) > 0);

	size_t pass = 0, total = json_array_size(tests);
	for (size_t i = 0; i < total; i++)
		pass += run_case(file, json_array_get(tests, i));
	print_message("  spec %-18s %zu/%zu passed\n", file, pass, total);
	json_decref(spec);
	if (pass != total)
		fail_msg("%s: %zu of %zu cases failed", file, total - pass, total);
}

/* ------------------------------------------------------------ escaping */

static void test_escape_html(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, NULL, 1024);
	const char *s = "a&b<c>d\"e'f";
	tpl_escape_html(&b, s, strlen(s));
	assert_string_equal(buf_cstr(&b), "a&amp;b&lt;c&gt;d&quot;e&#39;f");
	buf_reset(&b);
	tpl_escape_html(&b, "plain", 5);
	assert_string_equal(buf_cstr(&b), "plain");
	buf_reset(&b);
	tpl_escape_html(&b, "", 0);
	assert_string_equal(buf_cstr(&b), "");
	/* Only the given length is read, NUL bytes included. */
	tpl_escape_html(&b, "<\0>", 3);
	assert_int_equal(b.len, 4 + 1 + 4);
	assert_memory_equal(b.data, "&lt;\0&gt;", 9);
	buf_release(&b);
}

static void test_escape_payloads(void **state)
{
	(void)state;
	/* Script injection in text. */
	assert_renders("<p>{{x}}</p>", "{\"x\": \"<script>alert(1)</script>\"}",
	               "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>");
	/* Breaking out of a double- and a single-quoted attribute. */
	assert_renders("<a title=\"{{t}}\">", "{\"t\": \"\\\" onmouseover=\\\"alert(1)\"}",
	               "<a title=\"&quot; onmouseover=&quot;alert(1)\">");
	assert_renders("<a title='{{t}}'>", "{\"t\": \"' onload='alert(1)\"}",
	               "<a title='&#39; onload=&#39;alert(1)'>");
	/* Entities are not trusted: & is always escaped. */
	assert_renders("{{x}}", "{\"x\": \"&lt;b&gt; &amp;\"}", "&amp;lt;b&amp;gt; &amp;amp;");
	/* Values through sections, dotted names and the implicit iterator. */
	assert_renders("{{#l}}[{{.}}]{{/l}}{{o.k}}", "{\"l\": [\"<i>\"], \"o\": {\"k\": \"'\"}}",
	               "[&lt;i&gt;]&#39;");
	/* Raw forms are raw, and a value is never parsed as a template. */
	assert_renders("{{{x}}}|{{& x}}|{{x}}", "{\"x\": \"<b>{{y}}</b>\", \"y\": 1}",
	               "<b>{{y}}</b>|<b>{{y}}</b>|&lt;b&gt;{{y}}&lt;/b&gt;");
	/* Through a partial and a parent's block. */
	struct tpl_set *set = tpl_set_new();
	char err[256];
	const char *layout = "<title>{{$title}}x{{/title}}</title>";
	const char *page = "{{<layout}}{{$title}}{{name}}{{/title}}{{/layout}}";
	assert_int_equal(tpl_set_add(set, "layout", layout, strlen(layout), err, sizeof(err)), 0);
	assert_int_equal(tpl_set_add(set, "page", page, strlen(page), err, sizeof(err)), 0);
	json_t *ctx = json_pack("{s:s}", "name", "</title><script>x()</script>");
	int rc;
	char *got = render(set, "page", ctx, 1 << 16, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(got, "<title>&lt;/title&gt;&lt;script&gt;x()&lt;/script&gt;</title>");
	free(got);
	json_decref(ctx);
	tpl_set_free(set);
}

static void test_values(void **state)
{
	(void)state;
	assert_renders("{{a}} {{b}} {{c}} {{d}} {{e}}",
	               "{\"a\": 1.210, \"b\": -42, \"c\": 0.1, \"d\": 1e21, \"e\": 9007199254740993}",
	               "1.21 -42 0.1 1e+21 9007199254740993");
	assert_renders("{{t}} {{f}} [{{n}}] [{{o}}] [{{l}}]",
	               "{\"t\": true, \"f\": false, \"n\": null, \"o\": {\"k\": 1}, \"l\": [1]}",
	               "true false [] [] []");
	/* Truthiness: "" and 0 are truthy; false, null, missing and [] are not. */
	assert_renders("{{#s}}s{{/s}}{{#z}}z{{/z}}{{#f}}f{{/f}}{{#n}}n{{/n}}{{#m}}m{{/m}}{{#e}}e{{/e}}",
	               "{\"s\": \"\", \"z\": 0, \"f\": false, \"n\": null, \"e\": []}", "sz");
	/* A NULL context renders like an empty one. */
	struct tpl_set *set = tpl_set_new();
	assert_int_equal(tpl_set_add(set, "t", "a{{x}}b{{^x}}c{{/x}}", 20, NULL, 0), 0);
	int rc;
	char *got = render(set, "t", NULL, 100, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(got, "abc");
	free(got);
	tpl_set_free(set);
}

/* ------------------------------------------------------------ errors */

static void assert_syntax_error(const char *src, const char *want)
{
	struct tpl_set *set = tpl_set_new();
	char err[256];
	int rc = tpl_set_add(set, "page", src, strlen(src), err, sizeof(err));
	if (rc != ERR_INVALID)
		fail_msg("%s: rc %d, want ERR_INVALID", src, rc);
	if (!strstr(err, want))
		fail_msg("message \"%s\" lacks \"%s\"", err, want);
	assert_false(tpl_set_has(set, "page"));
	tpl_set_free(set);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	assert_syntax_error("a\nb\n{{#items}}\nx\n", "page:3: section 'items' is never closed");
	assert_syntax_error("{{#a}}\n{{^b}}\n{{/b}}\n", "page:1: section 'a' is never closed");
	assert_syntax_error("{{#a}}\n{{#b}}\n\n{{/a}}\n{{/b}}",
	                    "page:4: closing tag 'a' does not match section 'b' opened on line 2");
	assert_syntax_error("x\n{{/a}}", "page:2: closing tag 'a' without an opening tag");
	assert_syntax_error("one\ntwo\n{{name", "page:3: unclosed tag");
	assert_syntax_error("{{{name}}", "page:1: unclosed tag");
	assert_syntax_error("{{!\n\nnever closed", "page:1: unclosed tag");
	assert_syntax_error("\n\n{{=<% %>=}}\n<%x}}", "page:4: unclosed tag");
	assert_syntax_error("{{<layout}}\n{{$title}}x{{/title}}\n",
	                    "page:1: parent 'layout' is never closed");
	assert_syntax_error("{{$a}}{{/b}}", "page:1: closing tag 'b' does not match block 'a'");
	assert_syntax_error("{{}}", "page:1: empty tag");
	assert_syntax_error("\n{{a b}}", "page:2: invalid tag name 'a b'");
	assert_syntax_error("{{a..b}}", "page:1: invalid name 'a..b'");
	assert_syntax_error("{{=<%>=}}", "page:1: invalid set-delimiters tag");
	assert_syntax_error("{{= a b c =}}", "page:1: invalid set-delimiters tag");

	/* Nesting beyond the limit is an error, not a stack overflow. */
	struct buf b;
	buf_init(&b, NULL, 1 << 20);
	for (int i = 0; i < TPL_MAX_NESTING + 1; i++)
		buf_puts(&b, "{{#a}}");
	for (int i = 0; i < TPL_MAX_NESTING + 1; i++)
		buf_puts(&b, "{{/a}}");
	assert_syntax_error(buf_cstr(&b), "nested more than");
	buf_release(&b);

	/* A failed add keeps the earlier template of that name. */
	struct tpl_set *set = tpl_set_new();
	char err[256];
	assert_int_equal(tpl_set_add(set, "t", "old", 3, err, sizeof(err)), 0);
	assert_int_equal(tpl_set_add(set, "t", "{{#x}}", 6, err, sizeof(err)), ERR_INVALID);
	int rc;
	char *got = render(set, "t", NULL, 100, &rc);
	assert_string_equal(got, "old");
	free(got);
	/* A successful one replaces it. */
	assert_int_equal(tpl_set_add(set, "t", "new", 3, err, sizeof(err)), 0);
	got = render(set, "t", NULL, 100, &rc);
	assert_string_equal(got, "new");
	free(got);
	assert_int_equal(tpl_set_add(set, "", "x", 1, err, sizeof(err)), ERR_INVALID);
	tpl_set_free(set);
}

static void test_not_found_and_check(void **state)
{
	(void)state;
	struct tpl_set *set = tpl_set_new();
	char err[256];
	struct buf b;
	buf_init(&b, NULL, 100);
	assert_int_equal(tpl_render(set, "nope", NULL, &b), ERR_NOT_FOUND);
	assert_false(tpl_set_has(set, "nope"));

	const char *page = "a\n{{>header}}\n{{#x}}\n  {{<layout}}{{/layout}}\n{{/x}}\n";
	assert_int_equal(tpl_set_add(set, "page", page, strlen(page), err, sizeof(err)), 0);
	assert_int_equal(tpl_set_check(set, err, sizeof(err)), ERR_INVALID);
	assert_string_equal(err, "page:2: partial 'header' not found");
	assert_int_equal(tpl_set_add(set, "header", "H", 1, err, sizeof(err)), 0);
	assert_int_equal(tpl_set_check(set, err, sizeof(err)), ERR_INVALID);
	assert_string_equal(err, "page:4: parent 'layout' not found");
	/* Missing at render time: nothing, as the spec says. */
	json_t *ctx = json_pack("{s:b}", "x", 1);
	assert_int_equal(tpl_render(set, "page", ctx, &b), 0);
	assert_string_equal(buf_cstr(&b), "a\nH");
	assert_int_equal(tpl_set_add(set, "layout", "L\n", 2, err, sizeof(err)), 0);
	assert_int_equal(tpl_set_check(set, err, sizeof(err)), 0);
	buf_reset(&b);
	assert_int_equal(tpl_render(set, "page", ctx, &b), 0);
	assert_string_equal(buf_cstr(&b), "a\nH  L\n");
	json_decref(ctx);
	buf_release(&b);
	tpl_set_free(set);
}

/* ------------------------------------------------------------ limits */

static void test_recursion_cap(void **state)
{
	(void)state;
	struct tpl_set *set = tpl_set_new();
	char err[256];
	int rc;
	/* A partial including itself stops after TPL_MAX_DEPTH levels. */
	assert_int_equal(tpl_set_add(set, "self", "x{{>self}}", 10, err, sizeof(err)), 0);
	char *got = render(set, "self", NULL, 1 << 20, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(strlen(got), TPL_MAX_DEPTH + 1);
	assert_int_equal(strspn(got, "x"), TPL_MAX_DEPTH + 1);
	free(got);

	/* Two mutually recursive parents. */
	assert_int_equal(tpl_set_add(set, "a", "a{{<b}}{{/b}}", 13, err, sizeof(err)), 0);
	assert_int_equal(tpl_set_add(set, "b", "b{{<a}}{{/a}}", 13, err, sizeof(err)), 0);
	got = render(set, "a", NULL, 1 << 20, &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(strlen(got), TPL_MAX_DEPTH + 1);
	free(got);

	/* An override containing the block it overrides. */
	const char *loop = "{{<p}}{{$x}}[{{$x}}{{/x}}]{{/x}}{{/p}}";
	assert_int_equal(tpl_set_add(set, "p", "{{$x}}{{/x}}", 12, err, sizeof(err)), 0);
	assert_int_equal(tpl_set_add(set, "loop", loop, strlen(loop), err, sizeof(err)), 0);
	got = render(set, "loop", NULL, 1 << 20, &rc);
	assert_int_equal(rc, 0);
	assert_true(strlen(got) > 0 && strlen(got) <= 2 * TPL_MAX_DEPTH);
	free(got);

	/* Exponential expansion is cut off by the step budget, quickly. */
	assert_int_equal(tpl_set_add(set, "twice", "{{>twice}}{{>twice}}", 20, err, sizeof(err)), 0);
	got = render(set, "twice", NULL, 1 << 20, &rc);
	assert_int_equal(rc, ERR_TOO_LARGE);
	free(got);
	tpl_set_free(set);
}

static void test_step_budget(void **state)
{
	(void)state;
	struct tpl_set *set = tpl_set_new();
	assert_int_equal(tpl_set_add(set, "t", "{{#l}}{{.}}{{/l}}", 17, NULL, 0), 0);
	json_t *ctx = json_pack("{s:[iiiiiiiiii]}", "l", 0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
	int rc;
	char *got = render(set, "t", ctx, 1 << 20, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(got, "0123456789");
	free(got);
	tpl_set_max_steps(set, 10);
	got = render(set, "t", ctx, 1 << 20, &rc);
	assert_int_equal(rc, ERR_TOO_LARGE);
	free(got);
	tpl_set_max_steps(set, 0); /* back to the default */
	got = render(set, "t", ctx, 1 << 20, &rc);
	assert_int_equal(rc, 0);
	free(got);
	json_decref(ctx);
	tpl_set_free(set);
}

static void test_output_max(void **state)
{
	(void)state;
	struct tpl_set *set = tpl_set_new();
	const char *src = "{{#l}}0123456789{{/l}}";
	assert_int_equal(tpl_set_add(set, "t", src, strlen(src), NULL, 0), 0);
	json_t *ctx = json_pack("{s:[iiii]}", "l", 1, 2, 3, 4);
	struct buf b;
	buf_init(&b, NULL, 25);
	assert_int_equal(tpl_render(set, "t", ctx, &b), ERR_TOO_LARGE);
	assert_int_equal(b.err, ERR_TOO_LARGE);
	assert_true(b.len <= 25);
	/* A buf already in error is not written to. */
	assert_int_equal(tpl_render(set, "t", ctx, &b), ERR_TOO_LARGE);
	buf_release(&b);
	/* Exactly at the max is fine. */
	buf_init(&b, NULL, 40);
	assert_int_equal(tpl_render(set, "t", ctx, &b), 0);
	assert_int_equal(b.len, 40);
	buf_release(&b);
	/* Escaping counts against the max too. */
	assert_int_equal(tpl_set_add(set, "e", "{{x}}", 5, NULL, 0), 0);
	json_t *x = json_pack("{s:s}", "x", "<<<<");
	buf_init(&b, NULL, 10);
	assert_int_equal(tpl_render(set, "e", x, &b), ERR_TOO_LARGE);
	buf_release(&b);
	json_decref(x);
	json_decref(ctx);
	tpl_set_free(set);
}

/* ------------------------------------------------------------ layouts */

static void test_layout_indentation(void **state)
{
	(void)state;
	struct tpl_set *set = tpl_set_new();
	char err[256];
	const char *layout = "<html>\n"
	                     "<head><title>{{$title}}Tandem{{/title}}</title></head>\n"
	                     "<body>\n"
	                     "  {{>nav}}\n"
	                     "  <main>\n"
	                     "    {{$content}}\n"
	                     "    <p>nothing</p>\n"
	                     "    {{/content}}\n"
	                     "  </main>\n"
	                     "</body>\n"
	                     "</html>\n";
	const char *nav = "<nav>\n  <a href=\"/\">{{site}}</a>\n</nav>\n";
	const char *page = "{{<layout}}\n"
	                   "{{$title}}{{name}} — Tandem{{/title}}\n"
	                   "{{$content}}\n"
	                   "<ul>\n"
	                   "{{#items}}\n"
	                   "  <li>{{.}}</li>\n"
	                   "{{/items}}\n"
	                   "</ul>\n"
	                   "{{/content}}\n"
	                   "{{/layout}}\n";
	assert_int_equal(tpl_set_add(set, "layout", layout, strlen(layout), err, sizeof(err)), 0);
	assert_int_equal(tpl_set_add(set, "nav", nav, strlen(nav), err, sizeof(err)), 0);
	assert_int_equal(tpl_set_add(set, "page", page, strlen(page), err, sizeof(err)), 0);
	assert_int_equal(tpl_set_check(set, err, sizeof(err)), 0);
	json_t *ctx = json_pack("{s:s,s:s,s:[ss]}", "name", "Home", "site", "A&B", "items", "one", "<two>");
	int rc;
	char *got = render(set, "page", ctx, 1 << 16, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(got, "<html>\n"
	                         "<head><title>Home — Tandem</title></head>\n"
	                         "<body>\n"
	                         "  <nav>\n"
	                         "    <a href=\"/\">A&amp;B</a>\n"
	                         "  </nav>\n"
	                         "  <main>\n"
	                         "    <ul>\n"
	                         "      <li>one</li>\n"
	                         "      <li>&lt;two&gt;</li>\n"
	                         "    </ul>\n"
	                         "  </main>\n"
	                         "</body>\n"
	                         "</html>\n");
	free(got);
	/* The layout alone renders its defaults. */
	got = render(set, "layout", ctx, 1 << 16, &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(got, "<title>Tandem</title>"));
	assert_non_null(strstr(got, "  <main>\n    <p>nothing</p>\n  </main>\n"));
	free(got);
	json_decref(ctx);
	tpl_set_free(set);
}

/* ------------------------------------------------------------ load_dir */

static void write_file(const char *dir, const char *rel, const char *text)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void remove_file(const char *dir, const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	unlink(path);
}

static void test_load_dir(void **state)
{
	(void)state;
	char dir[] = "/tmp/tandem-tpl-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char sub[600];
	snprintf(sub, sizeof(sub), "%s/pages", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	write_file(dir, "layout.mustache", "<body>{{$main}}{{/main}}</body>\n");
	write_file(dir, "pages/home.mustache",
	           "{{<layout}}\n{{$main}}\n{{>missing}}\n{{/main}}\n{{/layout}}\n");
	write_file(dir, "notes.txt", "{{#not a template");
	write_file(dir, ".hidden.mustache", "{{#broken");

	char err[512];
	struct tpl_set *set = tpl_set_new();
	assert_int_equal(tpl_set_load_dir(set, dir, err, sizeof(err)), ERR_INVALID);
	assert_string_equal(err, "pages/home:3: partial 'missing' not found");
	assert_true(tpl_set_has(set, "layout"));
	assert_true(tpl_set_has(set, "pages/home"));
	assert_false(tpl_set_has(set, "notes"));
	assert_false(tpl_set_has(set, ".hidden"));
	tpl_set_free(set);

	/* With the partial present it loads and renders. */
	write_file(dir, "missing.mustache", "<p>{{who}}</p>\n");
	set = tpl_set_new();
	assert_int_equal(tpl_set_load_dir(set, dir, err, sizeof(err)), 0);
	assert_string_equal(err, "");
	json_t *ctx = json_pack("{s:s}", "who", "<me>");
	int rc;
	char *got = render(set, "pages/home", ctx, 1 << 16, &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(got, "<body><p>&lt;me&gt;</p>\n</body>\n");
	free(got);
	json_decref(ctx);
	tpl_set_free(set);

	/* A syntax error names the template and line. */
	write_file(dir, "pages/bad.mustache", "ok\n{{#open}}\n");
	set = tpl_set_new();
	assert_int_equal(tpl_set_load_dir(set, dir, err, sizeof(err)), ERR_INVALID);
	assert_string_equal(err, "pages/bad:2: section 'open' is never closed");
	tpl_set_free(set);

	/* A directory that is not there. */
	set = tpl_set_new();
	char none[600];
	snprintf(none, sizeof(none), "%s/none", dir);
	assert_int_equal(tpl_set_load_dir(set, none, err, sizeof(err)), ERR_IO);
	assert_non_null(strstr(err, "none"));
	tpl_set_free(set);

	remove_file(dir, "pages/bad.mustache");
	remove_file(dir, "pages/home.mustache");
	remove_file(dir, "layout.mustache");
	remove_file(dir, "missing.mustache");
	remove_file(dir, "notes.txt");
	remove_file(dir, ".hidden.mustache");
	assert_int_equal(rmdir(sub), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* ------------------------------------------------------------ threads */

struct job {
	const struct tpl_set *set; /* shared, read-only */
	const json_t *ctx;         /* shared, read-only */
	bool ok;                   /* every render matched */
};

static const char thread_want[] = "<ul><li>1</li><li>2</li><li>3</li></ul>";

static void *render_many(void *arg)
{
	struct job *j = arg;
	j->ok = true;
	for (int i = 0; i < 2000 && j->ok; i++) {
		struct buf b;
		buf_init(&b, NULL, 1024);
		j->ok = tpl_render(j->set, "page", j->ctx, &b) == 0 && strcmp(buf_cstr(&b), thread_want) == 0;
		buf_release(&b);
	}
	return NULL;
}

static void test_concurrent_renders(void **state)
{
	(void)state;
	struct tpl_set *set = tpl_set_new();
	const char *page = "{{<list}}{{$item}}<li>{{.}}</li>{{/item}}{{/list}}";
	const char *list = "<ul>{{#l}}{{$item}}{{/item}}{{/l}}</ul>";
	assert_int_equal(tpl_set_add(set, "page", page, strlen(page), NULL, 0), 0);
	assert_int_equal(tpl_set_add(set, "list", list, strlen(list), NULL, 0), 0);
	json_t *ctx = json_pack("{s:[iii]}", "l", 1, 2, 3);
	pthread_t th[4];
	struct job jobs[4];
	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct job){set, ctx, false};
		assert_int_equal(pthread_create(&th[i], NULL, render_many, &jobs[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_true(jobs[i].ok);
	}
	json_decref(ctx);
	tpl_set_free(set);
}

int main(void)
{
	/* One test per spec file, named after it. */
#define SPEC(file)                                                                                           \
	{                                                                                                    \
		"spec " file, test_spec, NULL, NULL, (void *)(file)                                          \
	}
	const struct CMUnitTest tests[] = {
	    SPEC("comments.json"),
	    SPEC("delimiters.json"),
	    SPEC("interpolation.json"),
	    SPEC("inverted.json"),
	    SPEC("partials.json"),
	    SPEC("sections.json"),
	    SPEC("~inheritance.json"),
	    cmocka_unit_test(test_escape_html),
	    cmocka_unit_test(test_escape_payloads),
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_syntax_errors),
	    cmocka_unit_test(test_not_found_and_check),
	    cmocka_unit_test(test_recursion_cap),
	    cmocka_unit_test(test_step_budget),
	    cmocka_unit_test(test_output_max),
	    cmocka_unit_test(test_layout_indentation),
	    cmocka_unit_test(test_load_dir),
	    cmocka_unit_test(test_concurrent_renders),
	};
	return cmocka_run_group_tests_name("template", tests, NULL, NULL);
}
