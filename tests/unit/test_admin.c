/* Unit tests: TOTP (RFC 6238 appendix B, drift, replay), base32, the
 * login backoff, the audit chain hash, recovery codes, CSRF tokens, and
 * the route table's access rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "admin/audit.h"
#include "admin/auth.h"
#include "admin/session.h"
#include "admin/totp.h"
#include "crypto/crypto.h"
#include "http/router.h"

static const unsigned char RFC_KEY[] = "12345678901234567890"; /* RFC 6238 appendix B, SHA-1 */

static void test_totp_rfc6238_vectors(void **state)
{
	(void)state;
	static const struct {
		int64_t t;
		unsigned code;
	} v[] = {
	    {59, 94287082},         {1111111109, 7081804},  {1111111111, 14050471},
	    {1234567890, 89005924}, {2000000000, 69279037}, {20000000000LL, 65353130},
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_int_equal(totp_hotp(RFC_KEY, 20, (uint64_t)totp_step(v[i].t), 8), v[i].code);
	/* RFC 4226 appendix D: HOTP, 6 digits, counters 0 and 9. */
	assert_int_equal(totp_hotp(RFC_KEY, 20, 0, 6), 755224);
	assert_int_equal(totp_hotp(RFC_KEY, 20, 9, 6), 520489);
	/* The 6-digit TOTP value is the 8-digit one's last six digits. */
	assert_int_equal(totp_hotp(RFC_KEY, 20, (uint64_t)totp_step(59), 6), 287082);
	assert_int_equal(totp_step(59), 1);
	assert_int_equal(totp_step(60), 2);
	assert_int_equal(totp_step(0), 0);
}

static void code_at(int64_t step, char out[8])
{
	snprintf(out, 8, "%06u", totp_hotp(RFC_KEY, 20, (uint64_t)step, 6));
}

static void test_totp_verify_window_and_replay(void **state)
{
	(void)state;
	int64_t now = 1111111111, s = totp_step(now), got = 0;
	char code[8];
	code_at(s, code);
	assert_int_equal(totp_verify(RFC_KEY, 20, now, code, 0, &got), 0);
	assert_int_equal(got, s);
	/* Used once: the same step is refused afterwards. */
	assert_int_equal(totp_verify(RFC_KEY, 20, now, code, s, &got), ERR_UNAUTHORIZED);
	/* One step of drift either way, not two. */
	code_at(s - 1, code);
	assert_int_equal(totp_verify(RFC_KEY, 20, now, code, 0, &got), 0);
	assert_int_equal(got, s - 1);
	code_at(s + 1, code);
	assert_int_equal(totp_verify(RFC_KEY, 20, now, code, 0, &got), 0);
	assert_int_equal(got, s + 1);
	code_at(s - 2, code);
	assert_int_equal(totp_verify(RFC_KEY, 20, now, code, 0, &got), ERR_UNAUTHORIZED);
	code_at(s + 2, code);
	assert_int_equal(totp_verify(RFC_KEY, 20, now, code, 0, &got), ERR_UNAUTHORIZED);
	/* An earlier step than the last used one is refused even in the window. */
	code_at(s - 1, code);
	assert_int_equal(totp_verify(RFC_KEY, 20, now, code, s, &got), ERR_UNAUTHORIZED);
	/* Spaces are allowed, everything else is not a code. */
	code_at(s, code);
	char spaced[16];
	snprintf(spaced, sizeof(spaced), "%.3s %.3s", code, code + 3);
	assert_int_equal(totp_verify(RFC_KEY, 20, now, spaced, 0, &got), 0);
	assert_int_equal(totp_verify(RFC_KEY, 20, now, "12345", 0, &got), ERR_INVALID);
	assert_int_equal(totp_verify(RFC_KEY, 20, now, "1234567", 0, &got), ERR_INVALID);
	assert_int_equal(totp_verify(RFC_KEY, 20, now, "12a456", 0, &got), ERR_INVALID);
	assert_int_equal(totp_verify(RFC_KEY, 20, now, "", 0, &got), ERR_INVALID);
	assert_int_equal(totp_verify(RFC_KEY, 20, now, NULL, 0, &got), ERR_INVALID);
}

static void test_base32_and_uri(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	/* RFC 4648 §10 vectors, without padding. */
	static const char *const in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	static const char *const out[] = {"", "MY", "MZXQ", "MZXW6", "MZXW6YQ", "MZXW6YTB", "MZXW6YTBOI"};
	for (size_t i = 0; i < 7; i++) {
		assert_string_equal(totp_base32(&a, (const unsigned char *)in[i], strlen(in[i])), out[i]);
		unsigned char back[16];
		size_t n;
		assert_int_equal(totp_base32_decode(out[i], back, sizeof(back), &n), 0);
		assert_int_equal(n, strlen(in[i]));
		assert_memory_equal(back, in[i], n);
	}
	unsigned char back[4];
	size_t n;
	assert_int_equal(totp_base32_decode("mzxw 6ytb oi==", back, sizeof(back), &n),
	                 ERR_INVALID); /* too long */
	assert_int_equal(totp_base32_decode("MZ1", back, sizeof(back), &n), ERR_INVALID);
	char *secret = totp_base32(&a, RFC_KEY, 20);
	assert_string_equal(secret, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
	assert_string_equal(totp_uri(&a, "Riverbend Practice", "maya@example.com", secret),
	                    "otpauth://totp/Riverbend%20Practice:maya%40example.com?secret="
	                    "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=Riverbend%20Practice&algorithm=SHA1&"
	                    "digits=6&period=30");
	arena_release(&a);
}

static void test_backoff(void **state)
{
	(void)state;
	assert_int_equal(auth_backoff(0, 5, 2, 900), 0);
	assert_int_equal(auth_backoff(4, 5, 2, 900), 0);
	assert_int_equal(auth_backoff(5, 5, 2, 900), 2);
	assert_int_equal(auth_backoff(6, 5, 2, 900), 4);
	assert_int_equal(auth_backoff(10, 5, 2, 900), 64);
	assert_int_equal(auth_backoff(14, 5, 2, 900), 900); /* 1024 capped */
	assert_int_equal(auth_backoff(1000000, 5, 2, 900), 900);
	assert_int_equal(auth_backoff(1, 1, 1, 1), 1);
}

static void test_recovery_codes(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	assert_string_equal(auth_recovery_normalise(&a, "abcd-efgh-jkmn-pqrs"), "ABCDEFGHJKMNPQRS");
	assert_string_equal(auth_recovery_normalise(&a, " 2345 6789 ABCD EFGH "), "23456789ABCDEFGH");
	assert_null(auth_recovery_normalise(&a, "ABCD-EFGH-JKMN-PQR"));     /* 15 */
	assert_null(auth_recovery_normalise(&a, "ABCD-EFGH-JKMN-PQRST"));   /* 17 */
	assert_null(auth_recovery_normalise(&a, "ABCD-EFGH-JKMN-PQR0"));    /* 0 is not in the alphabet */
	assert_null(auth_recovery_normalise(&a, "ABCD-EFGH-JKMN-PQR\x01")); /* control */
	arena_release(&a);
}

static void test_session_tokens_and_csrf(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	char *t = crypto_token(&a, SESSION_TOKEN_BYTES);
	assert_int_equal(strlen(t), SESSION_TOKEN_LEN);
	assert_true(session_token_valid(t));
	assert_false(session_token_valid("short"));
	assert_false(session_token_valid(NULL));
	char bad[SESSION_TOKEN_LEN + 1];
	memcpy(bad, t, sizeof(bad));
	bad[5] = '.';
	assert_false(session_token_valid(bad));
	char c1[65], c2[65], h[65];
	session_csrf(t, c1);
	session_csrf(t, c2);
	assert_string_equal(c1, c2); /* stable for the session */
	crypto_sha256_hex(t, strlen(t), h);
	assert_string_not_equal(c1, h); /* not the stored token hash */
	char *t2 = crypto_token(&a, SESSION_TOKEN_BYTES);
	session_csrf(t2, c2);
	assert_string_not_equal(c1, c2);
	arena_release(&a);
}

static const char H1[] = "273aaaa7bfb7863e891eb71d606b9f48030adf93efadb9f3765192186dbe0918";
static const char H2[] = "bb2ef27fd17788c4c138d7029dedeacbcd39223db171897198dfb229eaf531d6";
static const char ZERO[] = "0000000000000000000000000000000000000000000000000000000000000000";

static void test_audit_chain_hash(void **state)
{
	(void)state;
	/* Expected values computed independently (Python hashlib) from the
	 * canonical form "tandem-audit-v1\n" + "<len>:<field>\n" × 8. */
	struct audit_entry e1 = {1,
	                         "2026-11-21T15:04:05.123456Z",
	                         "clinician:3",
	                         "login.success",
	                         "clinician:3",
	                         "127.0.0.1",
	                         "{\"method\": \"password\"}",
	                         ZERO,
	                         H1};
	struct audit_entry e2 = {2,
	                         "2026-11-21T15:04:06.000001Z",
	                         "public",
	                         "login.failure",
	                         "",
	                         "10.0.0.1",
	                         "{\"reason\": \"unknown account\"}",
	                         H1,
	                         H2};
	char h[65];
	audit_entry_hash(&e1, h);
	assert_string_equal(h, H1);
	audit_entry_hash(&e2, h);
	assert_string_equal(h, H2);
	char why[200];
	assert_int_equal(audit_check_entry(&e1, 1, ZERO, why, sizeof(why)), 0);
	assert_int_equal(audit_check_entry(&e2, 2, H1, why, sizeof(why)), 0);
	/* Every field is in the hash. */
	const char **fields[] = {&e2.at, &e2.actor, &e2.action, &e2.target, &e2.ip, &e2.detail};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		const char *keep = *fields[i];
		*fields[i] = "tampered";
		assert_int_equal(audit_check_entry(&e2, 2, H1, why, sizeof(why)), ERR_CONFLICT);
		assert_non_null(strstr(why, "does not match its hash"));
		*fields[i] = keep;
	}
	/* Field boundaries cannot be shifted: "ab"+"c" differs from "a"+"bc". */
	struct audit_entry x = e2, y = e2;
	x.actor = "ab";
	x.action = "c";
	y.actor = "a";
	y.action = "bc";
	char hx[65], hy[65];
	audit_entry_hash(&x, hx);
	audit_entry_hash(&y, hy);
	assert_string_not_equal(hx, hy);
	/* A gap, a wrong link, an id out of order. */
	assert_int_equal(audit_check_entry(&e2, 1, ZERO, why, sizeof(why)), ERR_CONFLICT);
	assert_string_equal(why, "entry 1 before it is missing");
	e2.id = 5;
	assert_int_equal(audit_check_entry(&e2, 2, H1, why, sizeof(why)), ERR_CONFLICT);
	assert_string_equal(why, "entries 2 to 4 before it are missing");
	e2.id = 2;
	assert_int_equal(audit_check_entry(&e2, 2, ZERO, why, sizeof(why)), ERR_CONFLICT);
	assert_non_null(strstr(why, "prev_hash"));
	assert_int_equal(audit_check_entry(&e1, 2, H1, why, sizeof(why)), ERR_CONFLICT);
	assert_non_null(strstr(why, "out of order"));
}

static int nop(struct req *r)
{
	(void)r;
	return 0;
}

static void test_route_table_access_rules(void **state)
{
	(void)state;
	char err[256];
	/* The real table obeys them. */
	assert_int_equal(routes_check(routes, routes_count, err, sizeof(err)), 0);
	/* Every admin route has a session flag; every non-GET one CSRF. */
	for (size_t i = 0; i < routes_count; i++) {
		const struct route *rt = &routes[i];
		bool admin = !strncmp(rt->pattern, "/admin", 6) || !strncmp(rt->pattern, "/api/v1/admin", 13);
		if (admin)
			assert_true(rt->flags & ROUTE_SESSION_FLAGS);
		if (admin && strcmp(rt->method, "GET"))
			assert_true(rt->flags & ROUTE_CSRF);
	}
	const struct route no_session[] = {{"GET", "/admin/new-page", nop, 0, 0}};
	assert_int_equal(routes_check(no_session, 1, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "/admin/new-page"));
	const struct route no_csrf[] = {{"POST", "/admin/things", nop, ROUTE_ADMIN | ROUTE_FORM, 0}};
	assert_int_equal(routes_check(no_csrf, 1, err, sizeof(err)), ERR_CONFIG);
	assert_non_null(strstr(err, "ROUTE_CSRF"));
	const struct route api[] = {{"DELETE", "/api/v1/admin/things/{id}", nop, ROUTE_ADMIN, 0}};
	assert_int_equal(routes_check(api, 1, err, sizeof(err)), ERR_CONFIG);
	const struct route both[] = {{"GET", "/admin/x", nop, ROUTE_ADMIN | ROUTE_LOGIN, 0}};
	assert_int_equal(routes_check(both, 1, err, sizeof(err)), ERR_CONFIG);
	const struct route ok[] = {{"GET", "/administrivia", nop, 0, 0},
	                           {"POST", "/admin/things", nop, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM, 0}};
	assert_int_equal(routes_check(ok, 2, err, sizeof(err)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_totp_rfc6238_vectors), cmocka_unit_test(test_totp_verify_window_and_replay),
	    cmocka_unit_test(test_base32_and_uri),       cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_recovery_codes),       cmocka_unit_test(test_session_tokens_and_csrf),
	    cmocka_unit_test(test_audit_chain_hash),     cmocka_unit_test(test_route_table_access_rules),
	};
	return cmocka_run_group_tests_name("admin", tests, NULL, NULL);
}
