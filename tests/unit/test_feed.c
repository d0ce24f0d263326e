/* Unit tests: the feed's HTTP helpers — HTTP dates (RFC 9110 IMF-fixdate)
 * and If-None-Match matching. The feed itself is tested against the real
 * server in tests/integration/test_feed.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/tz.h"
#include "feed/feed.h"

static void test_http_date(void **state)
{
	(void)state;
	char s[40];
	feed_http_date(784111777, s, sizeof(s)); /* RFC 9110's example */
	assert_string_equal(s, "Sun, 06 Nov 1994 08:49:37 GMT");
	feed_http_date(0, s, sizeof(s));
	assert_string_equal(s, "Thu, 01 Jan 1970 00:00:00 GMT");
	feed_http_date(tz_days_from_civil(2028, 2, 29) * 86400 + 86399, s, sizeof(s));
	assert_string_equal(s, "Tue, 29 Feb 2028 23:59:59 GMT");
	feed_http_date(tz_days_from_civil(2026, 12, 31) * 86400 + 3600, s, sizeof(s));
	assert_string_equal(s, "Thu, 31 Dec 2026 01:00:00 GMT");
	/* Too small: truncated, still terminated. */
	feed_http_date(0, s, 5);
	assert_string_equal(s, "Thu,");
}

static void test_etag_matches(void **state)
{
	(void)state;
	const char *e = "\"0123456789abcdef0123456789abcdef\"";
	static const char *const yes[] = {
	    "\"0123456789abcdef0123456789abcdef\"",
	    "W/\"0123456789abcdef0123456789abcdef\"",
	    "\"x\", \"0123456789abcdef0123456789abcdef\"",
	    "\"x\",\"0123456789abcdef0123456789abcdef\"",
	    "W/\"x\" ,\tW/\"0123456789abcdef0123456789abcdef\" , \"y\"",
	    "*",
	    " * ",
	    "  \"0123456789abcdef0123456789abcdef\"  ",
	};
	static const char *const no[] = {
	    "",
	    " ",
	    "\"0123456789abcdef0123456789abcdee\"",
	    "0123456789abcdef0123456789abcdef",
	    "\"0123456789abcdef0123456789abcdef",
	    "\"0123456789abcdef0123456789abcdef0\"",
	    "w/\"0123456789abcdef0123456789abcdef\"",
	    "W/",
	    "\"x\", junk, \"0123456789abcdef0123456789abcdef\"", /* unreadable list: no match */
	    "**",
	    "*x",
	    "\"\"",
	};
	for (size_t i = 0; i < ARRAY_LEN(yes); i++)
		if (!feed_etag_matches(yes[i], e))
			fail_msg("no match: %s", yes[i]);
	for (size_t i = 0; i < ARRAY_LEN(no); i++)
		if (feed_etag_matches(no[i], e))
			fail_msg("match: %s", no[i]);
	assert_false(feed_etag_matches(NULL, e));
	assert_false(feed_etag_matches("*", NULL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_http_date),
	    cmocka_unit_test(test_etag_matches),
	};
	return cmocka_run_group_tests_name("feed", tests, NULL, NULL);
}
