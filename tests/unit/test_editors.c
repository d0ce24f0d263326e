/* Unit tests: the editors' parsers — clock times, money, bounded integers
 * — and the weekly overlap check (admin/editors.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "admin/editors.h"
#include "core/err.h"

static void test_parse_clock(void **state)
{
	(void)state;
	int m = -1;
	assert_int_equal(editors_parse_clock("09:00", false, &m), 0);
	assert_int_equal(m, 540);
	assert_int_equal(editors_parse_clock("23:59", false, &m), 0);
	assert_int_equal(m, 1439);
	assert_int_equal(editors_parse_clock("00:00:00", false, &m), 0);
	assert_int_equal(m, 0);
	assert_int_equal(editors_parse_clock("24:00", true, &m), 0);
	assert_int_equal(m, 1440);
	static const char *const bad[] = {"24:00", "24:01", "9:00",  "09:60",  "09:00:30", "0900",
	                                  "",      "09:0a", "-1:00", "09:00 ", "99:99",    "09:00:00:00"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(editors_parse_clock(bad[i], false, &m), ERR_INVALID);
	assert_int_equal(editors_parse_clock(NULL, true, &m), ERR_INVALID);
	char out[8];
	editors_format_clock(1440, out, sizeof(out));
	assert_string_equal(out, "24:00");
	editors_format_clock(545, out, sizeof(out));
	assert_string_equal(out, "09:05");
}

static void test_parse_money(void **state)
{
	(void)state;
	static const struct {
		const char *in;
		int64_t cents;
	} ok[] = {{"0", 0},         {"3200", 320000},           {"3,200.50", 320050},   {"$175", 17500},
	          {"175.5", 17550}, {"€12.05", 1205},           {"1000000", 100000000}, {"0.01", 1},
	          {"  42 ", 4200},  {"1,000,000.00", 100000000}};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int64_t c = -1;
		assert_int_equal(editors_parse_money(ok[i].in, &c), 0);
		assert_int_equal(c, ok[i].cents);
	}
	static const char *const bad[] = {"",    "abc", "12.345", "-5",    "1000000.01", "12.",  ".5",
	                                  "1e3", ",12", "12..3",  "12 34", "99999999",   "1.2.3"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int64_t c = -1;
		assert_int_equal(editors_parse_money(bad[i], &c), ERR_INVALID);
	}
}

static void test_parse_int(void **state)
{
	(void)state;
	long v = 0;
	assert_int_equal(editors_parse_int("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(editors_parse_int("-100000", -100000, 100000, &v), 0);
	assert_int_equal(v, -100000);
	assert_int_equal(editors_parse_int("525600", 0, 525600, &v), 0);
	static const char *const bad[] = {"", "-", "11", "1.5", " 1", "1 ", "+1", "0x10", "9999999999"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(editors_parse_int(bad[i], 0, 10, &v), ERR_INVALID);
}

static void test_ranges_overlap(void **state)
{
	(void)state;
	size_t a = 99, b = 99;
	struct editors_range touching[] = {{1, 540, 720, 0}, {1, 720, 780, 0}, {2, 540, 720, 0}};
	assert_false(editors_ranges_overlap(touching, 3, &a, &b));
	/* The same hours for one offering and for all of them are not an overlap. */
	struct editors_range scoped[] = {{1, 540, 720, 0}, {1, 540, 720, 7}};
	assert_false(editors_ranges_overlap(scoped, 2, &a, &b));
	struct editors_range over[] = {{1, 540, 720, 0}, {2, 540, 720, 0}, {2, 600, 660, 0}};
	assert_true(editors_ranges_overlap(over, 3, &a, &b));
	assert_int_equal(a, 1);
	assert_int_equal(b, 2);
	assert_false(editors_ranges_overlap(over, 0, &a, &b));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_clock),
	    cmocka_unit_test(test_parse_money),
	    cmocka_unit_test(test_parse_int),
	    cmocka_unit_test(test_ranges_overlap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
