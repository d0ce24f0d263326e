/* Unit tests: subscription URLs — which are accepted, what they become
 * (webcal:// is HTTPS underneath) and what the clinician's list shows of
 * them (scheme and host only: the path is often a secret). The fetching
 * itself is tested against a real HTTP server in
 * tests/integration/test_calendar.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "calendar/calendar.h"

static void accepted(const char *url, const char *want, const char *want_display)
{
	struct arena a;
	arena_init(&a);
	char *out = NULL, *display = NULL;
	assert_int_equal(calendar_normalise_url(&a, url, &out, &display), 0);
	assert_string_equal(out, want);
	assert_string_equal(display, want_display);
	arena_release(&a);
}

static void refused(const char *url)
{
	struct arena a;
	arena_init(&a);
	char *out = NULL, *display = NULL;
	assert_int_equal(calendar_normalise_url(&a, url, &out, &display), ERR_INVALID);
	arena_release(&a);
}

static void test_accepted(void **state)
{
	(void)state;
	accepted("https://calendar.google.com/calendar/ical/x%40gmail.com/private-abc/basic.ics",
	         "https://calendar.google.com/calendar/ical/x%40gmail.com/private-abc/basic.ics",
	         "https://calendar.google.com");
	accepted("http://127.0.0.1:8081/a.ics", "http://127.0.0.1:8081/a.ics", "http://127.0.0.1:8081");
	accepted("webcal://p01-caldav.icloud.com/published/2/abc",
	         "https://p01-caldav.icloud.com/published/2/abc", "https://p01-caldav.icloud.com");
	accepted("WEBCALS://example.com/x.ics", "https://example.com/x.ics", "https://example.com");
	accepted("HTTPS://Example.com?x=1", "https://Example.com?x=1", "https://Example.com");
}

static void test_refused(void **state)
{
	(void)state;
	refused("");
	refused("https://");
	refused("ftp://example.com/a.ics");
	refused("file:///etc/passwd");
	refused("gopher://example.com/");
	refused("https://user:secret@example.com/a.ics"); /* credentials belong elsewhere */
	refused("https://exa mple.com/a.ics");
	refused("https://example.com/a\r\nX-Injected: 1");
	refused("https://example.com/\x7f");
	refused("https://example.com/\xff\xfe");
	refused("https:///path-only");
	char long_url[CAL_MAX_URL + 32] = "https://example.com/";
	memset(long_url + 20, 'a', sizeof(long_url) - 21);
	long_url[sizeof(long_url) - 1] = '\0';
	refused(long_url);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_accepted),
	    cmocka_unit_test(test_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
