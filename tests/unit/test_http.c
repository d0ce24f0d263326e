/* Unit tests: the form decoder, the JSON body reader, the router. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "http/form.h"
#include "http/json_body.h"
#include "http/router.h"

static struct arena A;

static int setup(void **state)
{
	(void)state;
	arena_init(&A);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	arena_release(&A);
	return 0;
}

static int parse(const char *s, struct form *f, const char **bad)
{
	return form_parse(&A, s, strlen(s), f, bad);
}

static void test_form_decodes(void **state)
{
	(void)state;
	struct form f;
	const char *bad;
	assert_int_equal(parse("a=1&name=Zo%C3%AB+Smith&empty=&flag&a=2", &f, &bad), 0);
	assert_int_equal(f.n, 5);
	assert_string_equal(form_get(&f, "a"), "1"); /* first wins */
	assert_string_equal(form_get(&f, "name"), "Zoë Smith");
	assert_string_equal(form_get(&f, "empty"), "");
	assert_string_equal(form_get(&f, "flag"), "");
	assert_null(form_get(&f, "missing"));
	assert_int_equal(parse("", &f, &bad), 0);
	assert_int_equal(f.n, 0);
	assert_int_equal(parse("&&x=%3D%26&&", &f, &bad), 0);
	assert_int_equal(f.n, 1);
	assert_string_equal(form_get(&f, "x"), "=&");
	assert_int_equal(parse("note=line1%0D%0Aline2", &f, &bad), 0);
	assert_string_equal(form_get(&f, "note"), "line1\r\nline2");
}

static void test_form_rejects(void **state)
{
	(void)state;
	struct form f;
	const char *bad;
	assert_int_equal(parse("a=%zz", &f, &bad), ERR_MALFORMED);
	assert_int_equal(parse("a=%4", &f, &bad), ERR_MALFORMED);
	assert_int_equal(parse("=value", &f, &bad), ERR_MALFORMED);
	assert_int_equal(parse("name=a%00b", &f, &bad), ERR_INVALID);
	assert_string_equal(bad, "name");
	assert_int_equal(parse("email=%FF%FE", &f, &bad), ERR_INVALID);
	assert_string_equal(bad, "email");
	assert_int_equal(parse("x=%07", &f, &bad), ERR_INVALID);
	/* Limits: a name over 128 bytes, a value over 64 KiB, too many fields. */
	char longname[200];
	memset(longname, 'n', 150);
	memcpy(longname + 150, "=1", 3);
	assert_int_equal(parse(longname, &f, &bad), ERR_TOO_LARGE);
	size_t n = FORM_MAX_VALUE + 10;
	char *big = malloc(n + 3);
	memcpy(big, "v=", 2);
	memset(big + 2, 'x', n);
	big[n + 2] = '\0';
	assert_int_equal(parse(big, &f, &bad), ERR_TOO_LARGE);
	free(big);
	char many[300 * 4 + 1];
	size_t o = 0;
	for (int i = 0; i < 300; i++) {
		memcpy(many + o, "a=1&", 4);
		o += 4;
	}
	many[o] = '\0';
	assert_int_equal(parse(many, &f, &bad), ERR_TOO_LARGE);
}

static void test_urlencode(void **state)
{
	(void)state;
	assert_string_equal(form_urlencode(&A, "a b&c/é"), "a%20b%26c%2F%C3%A9");
	assert_string_equal(form_urlencode(&A, "safe-._~"), "safe-._~");
}

static int jparse(const char *s, json_t **j, const char **field)
{
	char msg[160];
	return json_body_parse(&A, s, strlen(s), j, msg, sizeof(msg), field);
}

static void test_json_body(void **state)
{
	(void)state;
	json_t *j;
	const char *field;
	assert_int_equal(jparse("{\"a\":[1,{\"b\":\"ok\"}]}", &j, &field), 0);
	assert_string_equal(
	    json_string_value(json_object_get(json_array_get(json_object_get(j, "a"), 1), "b")), "ok");
	assert_int_equal(jparse("{\"a\":", &j, &field), ERR_MALFORMED);
	assert_int_equal(jparse("{\"a\":1,\"a\":2}", &j, &field), ERR_MALFORMED);     /* duplicate key */
	assert_int_equal(jparse("{\"a\":\"x\\u0000y\"}", &j, &field), ERR_MALFORMED); /* NUL */
	assert_int_equal(jparse("{\"a\":\"\xff\"}", &j, &field), ERR_MALFORMED);      /* bad UTF-8 */
	assert_int_equal(jparse("{\"clients\":[{\"name\":\"ok\"},{\"name\":\"bell\\u0007\"}]}", &j, &field),
	                 ERR_INVALID);
	assert_string_equal(field, "clients[1].name");
	char deep[200] = "";
	for (int i = 0; i < 40; i++)
		deep[i] = '[';
	for (int i = 0; i < 40; i++)
		deep[40 + i] = ']';
	assert_int_equal(jparse(deep, &j, &field), ERR_MALFORMED);
}

static int h_a(struct req *r)
{
	(void)r;
	return 0;
}

static const struct route table[] = {
    {"GET", "/", h_a, 0, 0},
    {"GET", "/offerings/{slug}", h_a, 0, 0},
    {"POST", "/api/v1/manage/{token}/cancel", h_a, 0, 0},
    {"GET", "/feeds/{token}.ics", h_a, 0, 0},
    {"GET", "/b/{token}", h_a, 0, 0},
    {"DELETE", "/b/{token}", h_a, 0, 0},
};

static const struct route *match(const char *m, const char *p, struct str *params, int *np, char *allow)
{
	return router_match(table, ARRAY_LEN(table), m, p, params, np, allow, 128);
}

static void test_router(void **state)
{
	(void)state;
	struct str params[REQ_MAX_PARAMS];
	int np;
	char allow[128];
	assert_ptr_equal(match("GET", "/", params, &np, allow), &table[0]);
	assert_ptr_equal(match("HEAD", "/", params, &np, allow), &table[0]);
	assert_ptr_equal(match("GET", "/offerings/intensive-2day", params, &np, allow), &table[1]);
	assert_int_equal(np, 1);
	assert_true(str_eq_cstr(params[0], "intensive-2day"));
	assert_ptr_equal(match("POST", "/api/v1/manage/abc123/cancel", params, &np, allow), &table[2]);
	assert_true(str_eq_cstr(params[0], "abc123"));
	assert_ptr_equal(match("GET", "/feeds/tok_en.ics", params, &np, allow), &table[3]);
	assert_true(str_eq_cstr(params[0], "tok_en"));
	assert_null(match("GET", "/feeds/.ics", params, &np, allow)); /* empty param */
	assert_string_equal(allow, "");
	assert_null(match("GET", "/feeds/x.txt", params, &np, allow));
	assert_null(match("GET", "/offerings", params, &np, allow));
	assert_null(match("GET", "/offerings/a/b", params, &np, allow));
	assert_null(match("GET", "/nope", params, &np, allow));
	assert_string_equal(allow, "");
	/* Known path, wrong method: the Allow list. */
	assert_null(match("PUT", "/b/xyz", params, &np, allow));
	assert_string_equal(allow, "GET, HEAD, DELETE");
	assert_null(match("GET", "/api/v1/manage/abc/cancel", params, &np, allow));
	assert_string_equal(allow, "POST");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_form_decodes), cmocka_unit_test(test_form_rejects),
	    cmocka_unit_test(test_urlencode),    cmocka_unit_test(test_json_body),
	    cmocka_unit_test(test_router),
	};
	return cmocka_run_group_tests_name("http", tests, setup, teardown);
}
