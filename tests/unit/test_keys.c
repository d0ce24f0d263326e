/* Unit tests: key files and the AES-256-GCM envelope. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/keys.h"

static const char RING[] = "# test\n"
                           "index 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
                           "key new 1111111111111111111111111111111111111111111111111111111111111111\n"
                           "key old 2222222222222222222222222222222222222222222222222222222222222222\n";

static void test_seal_open_roundtrip(void **state)
{
	(void)state;
	struct keyring *k;
	char err[200];
	assert_int_equal(keyring_parse(RING, &k, err, sizeof(err)), 0);
	assert_string_equal(keyring_current_id(k), "new");
	struct arena a;
	arena_init(&a);
	unsigned char *env;
	size_t n;
	const char *secret = "Zoë — a secret answer";
	assert_int_equal(crypto_seal(k, &a, secret, strlen(secret), "intake.answers:42", &env, &n), 0);
	assert_int_equal(n, 2 + 3 + 12 + strlen(secret) + 16);
	assert_null(memmem(env, n, "secret", 6)); /* not in the clear */
	char *pt;
	size_t ptlen;
	assert_int_equal(crypto_open(k, &a, env, n, "intake.answers:42", &pt, &ptlen), 0);
	assert_string_equal(pt, secret);
	/* Bound to its row: another row's AD fails. */
	assert_int_equal(crypto_open(k, &a, env, n, "intake.answers:43", &pt, &ptlen), ERR_FORBIDDEN);
	/* Tampering fails. */
	env[n - 20] ^= 1;
	assert_int_equal(crypto_open(k, &a, env, n, "intake.answers:42", &pt, &ptlen), ERR_FORBIDDEN);
	env[n - 20] ^= 1;
	/* Two seals of one value differ (random nonce). */
	unsigned char *env2;
	size_t n2;
	assert_int_equal(crypto_seal(k, &a, secret, strlen(secret), "intake.answers:42", &env2, &n2), 0);
	assert_memory_not_equal(env, env2, n);
	char id[KEY_ID_MAX + 1];
	assert_int_equal(crypto_envelope_key_id(env, n, id), 0);
	assert_string_equal(id, "new");
	/* Truncated and garbage envelopes. */
	assert_int_equal(crypto_open(k, &a, env, 10, "intake.answers:42", &pt, &ptlen), ERR_MALFORMED);
	assert_int_equal(crypto_open(k, &a, (const unsigned char *)"\x02xyz", 4, "x", &pt, &ptlen),
	                 ERR_MALFORMED);
	/* bytea text round trip. */
	char *hex = crypto_bytea_hex(&a, env, n);
	unsigned char *back;
	size_t bn;
	assert_int_equal(crypto_bytea_parse(&a, hex, &back, &bn), 0);
	assert_int_equal(bn, n);
	assert_memory_equal(back, env, n);
	assert_int_equal(crypto_bytea_parse(&a, "\\xzz", &back, &bn), ERR_MALFORMED);
	arena_release(&a);
	keyring_free(k);
}

static void test_rotation_reads_old_keys(void **state)
{
	(void)state;
	struct keyring *old, *rotated;
	char err[200];
	assert_int_equal(
	    keyring_parse("index 00000000000000000000000000000000000000000000000000000000000000aa\n"
	                  "key old 2222222222222222222222222222222222222222222222222222222222222222\n",
	                  &old, err, sizeof(err)),
	    0);
	assert_int_equal(keyring_parse(RING, &rotated, err, sizeof(err)), 0);
	struct arena a;
	arena_init(&a);
	unsigned char *env;
	size_t n;
	assert_int_equal(crypto_seal(old, &a, "v", 1, "t.c:1", &env, &n), 0);
	char *pt;
	size_t ptlen;
	assert_int_equal(crypto_open(rotated, &a, env, n, "t.c:1", &pt, &ptlen), 0);
	assert_string_equal(pt, "v");
	/* A key the ring does not have. */
	struct keyring *other;
	assert_int_equal(
	    keyring_parse("index 00000000000000000000000000000000000000000000000000000000000000aa\n"
	                  "key third 3333333333333333333333333333333333333333333333333333333333333333\n",
	                  &other, err, sizeof(err)),
	    0);
	assert_int_equal(crypto_open(other, &a, env, n, "t.c:1", &pt, &ptlen), ERR_NOT_FOUND);
	/* The blind index is stable and keyed. */
	char h1[65], h2[65], h3[65];
	crypto_blind_index(old, "ana@example.com", h1);
	crypto_blind_index(other, "ana@example.com", h2);
	crypto_blind_index(rotated, "ana@example.com", h3);
	assert_string_equal(h1, h2); /* same index key */
	assert_string_not_equal(h1, h3);
	arena_release(&a);
	keyring_free(old);
	keyring_free(rotated);
	keyring_free(other);
}

static void test_bad_key_files(void **state)
{
	(void)state;
	struct keyring *k;
	char err[200];
	assert_int_equal(keyring_parse("key a 11\n", &k, err, sizeof(err)), ERR_CONFIG);
	assert_int_equal(keyring_parse("index 00\n", &k, err, sizeof(err)), ERR_CONFIG);
	assert_int_equal(keyring_parse("bogus line\n", &k, err, sizeof(err)), ERR_CONFIG);
	assert_int_equal(
	    keyring_parse("index 0000000000000000000000000000000000000000000000000000000000000000\n"
	                  "key a/b 1111111111111111111111111111111111111111111111111111111111111111\n",
	                  &k, err, sizeof(err)),
	    ERR_CONFIG);
	/* Generated files are 0600, load, and are never overwritten. */
	char dir[] = "/tmp/tandem-keys-XXXXXX";
	assert_non_null(mkdtemp(dir));
	char path[300];
	snprintf(path, sizeof(path), "%s/k", dir);
	assert_int_equal(keyring_generate_file(path, err, sizeof(err)), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(keyring_load(path, &k, err, sizeof(err)), 0);
	keyring_free(k);
	assert_int_equal(keyring_generate_file(path, err, sizeof(err)), ERR_IO);
	chmod(path, 0644);
	assert_int_equal(keyring_load(path, &k, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "chmod 600"));
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_seal_open_roundtrip),
	    cmocka_unit_test(test_rotation_reads_old_keys),
	    cmocka_unit_test(test_bad_key_files),
	};
	return cmocka_run_group_tests_name("keys", tests, NULL, NULL);
}
