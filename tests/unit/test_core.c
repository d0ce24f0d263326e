/* Unit tests: arena, buf, UTF-8/text checks, SQLSTATE mapping, crypto helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/arena.h"
#include "core/buf.h"
#include "crypto/crypto.h"
#include "db/db.h"

static int cleanup_calls;
static void count_cleanup(void *p)
{
	(*(int *)p)++;
}

static void test_arena_alloc_and_cleanup(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	char *s = arena_strdup(&a, "hello");
	assert_string_equal(s, "hello");
	/* Many allocations and one huge one stay valid together. */
	char *big = arena_alloc(&a, 3 << 20);
	memset(big, 'x', 3 << 20);
	for (int i = 0; i < 10000; i++) {
		int *p = arena_alloc(&a, sizeof(int));
		*p = i;
	}
	assert_string_equal(s, "hello");
	assert_int_equal((uintptr_t)arena_alloc(&a, 1) % _Alignof(max_align_t), 0);
	cleanup_calls = 0;
	arena_on_release(&a, count_cleanup, &cleanup_calls);
	arena_on_release(&a, count_cleanup, &cleanup_calls);
	arena_reset(&a);
	assert_int_equal(cleanup_calls, 2);
	assert_string_equal(arena_printf(&a, "%d-%s", 42, "x"), "42-x");
	arena_release(&a);
	assert_int_equal(cleanup_calls, 2);
}

static void test_buf_max_is_sticky(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, NULL, 10);
	buf_puts(&b, "12345");
	buf_printf(&b, "%d", 678);
	assert_int_equal(b.err, 0);
	assert_string_equal(buf_cstr(&b), "12345678");
	buf_puts(&b, "9ab"); /* 11 bytes: over */
	assert_int_equal(b.err, ERR_TOO_LARGE);
	buf_puts(&b, "c"); /* sticky: still refused */
	assert_string_equal(buf_cstr(&b), "12345678");
	buf_release(&b);

	struct arena a;
	arena_init(&a);
	buf_init(&b, &a, 1 << 20);
	for (int i = 0; i < 1000; i++)
		buf_puts(&b, "0123456789");
	assert_int_equal(b.len, 10000);
	assert_int_equal(b.err, 0);
	arena_release(&a);
}

static void test_utf8_and_text(void **state)
{
	(void)state;
	assert_true(str_valid_utf8(str_from("plain ascii")));
	assert_true(str_valid_utf8(str_from("Zoë and Zoltán — 💞")));
	assert_false(str_valid_utf8(str_from("\xC0\xAF")));         /* overlong '/' */
	assert_false(str_valid_utf8(str_from("\xED\xA0\x80")));     /* surrogate */
	assert_false(str_valid_utf8(str_from("\xF4\x90\x80\x80"))); /* > U+10FFFF */
	assert_false(str_valid_utf8(str_from("\xE2\x82")));         /* truncated */
	assert_false(str_valid_utf8(str_from("\xFF")));
	assert_true(str_valid_text(str_from("line one\r\nline two\ttab")));
	assert_false(str_valid_text((struct str){"a\0b", 3}));
	assert_false(str_valid_text(str_from("bell\a")));
	assert_false(str_valid_text(str_from("del\x7f")));
}

static void test_sqlstate_mapping(void **state)
{
	(void)state;
	assert_int_equal(db_map_sqlstate("23505"), ERR_CONFLICT);
	assert_int_equal(db_map_sqlstate("23P01"), ERR_CONFLICT);
	assert_int_equal(db_map_sqlstate("40001"), ERR_RETRY);
	assert_int_equal(db_map_sqlstate("40P01"), ERR_RETRY);
	assert_int_equal(db_map_sqlstate("23514"), ERR_INTERNAL);
	assert_int_equal(db_map_sqlstate("08006"), ERR_UNAVAILABLE);
	assert_int_equal(db_map_sqlstate("57P01"), ERR_UNAVAILABLE);
	assert_int_equal(db_map_sqlstate("42P01"), ERR_INTERNAL);
	assert_int_equal(db_map_sqlstate(""), ERR_INTERNAL);
}

static void test_sha256_and_tokens(void **state)
{
	(void)state;
	char hex[65];
	crypto_sha256_hex("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	crypto_sha256_hex("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	struct arena a;
	arena_init(&a);
	char *t1 = crypto_token(&a, 16), *t2 = crypto_token(&a, 16);
	assert_int_equal(strlen(t1), 22); /* 128 bits in base64url, no padding */
	assert_string_not_equal(t1, t2);
	for (const char *p = t1; *p; p++)
		assert_non_null(
		    strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", *p));
	assert_int_equal(strlen(crypto_token(&a, 32)), 43);
	arena_release(&a);
	assert_true(crypto_equal("abcd", "abcd", 4));
	assert_false(crypto_equal("abcd", "abce", 4));
}

static void test_password_hash(void **state)
{
	(void)state;
	char enc[160];
	assert_int_equal(crypto_password_hash("correct horse battery", enc, sizeof(enc)), 0);
	assert_true(strncmp(enc, "$argon2id$v=19$m=19456,t=2,p=1$", 31) == 0);
	bool rehash = true;
	assert_int_equal(crypto_password_verify(enc, "correct horse battery", &rehash), 0);
	assert_false(rehash);
	assert_int_equal(crypto_password_verify(enc, "wrong horse", &rehash), ERR_UNAUTHORIZED);
	/* Weaker parameters than ours verify but ask for a rehash. */
	static const char weak[] = "$argon2id$v=19$m=4096,t=1,p=1$c29tZXNhbHQ$"
	                           "xH0h8BhOgA3QWxTzBpg8AGfpkwm7S3ZJD8i0hyBnE2s";
	crypto_password_verify(weak, "x", &rehash);
	assert_true(rehash);
	assert_int_equal(crypto_password_verify("not a hash", "x", &rehash), ERR_UNAUTHORIZED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_arena_alloc_and_cleanup), cmocka_unit_test(test_buf_max_is_sticky),
	    cmocka_unit_test(test_utf8_and_text),           cmocka_unit_test(test_sqlstate_mapping),
	    cmocka_unit_test(test_sha256_and_tokens),       cmocka_unit_test(test_password_hash),
	};
	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
