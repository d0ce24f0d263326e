/* Unit tests: the calendar pages' day ranges (weeks from Monday, month
 * grids padded to whole weeks, the links across a year) and the dashboard's
 * "time left" wording. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "admin/calview.h"
#include "admin/dashview.h"
#include "core/arena.h"

static int64_t day(int y, int m, int d)
{
	return tz_days_from_civil(y, m, d);
}

static void test_week_starts_monday(void **state)
{
	(void)state;
	struct calview_span s;
	/* Wednesday 2027-03-10 and Sunday 2027-03-14 are in the week of Monday the 8th. */
	calview_span_for(true, day(2027, 3, 10), &s);
	assert_int_equal(s.first, day(2027, 3, 8));
	assert_int_equal(s.last, day(2027, 3, 14));
	assert_int_equal(s.grid_first, s.first);
	assert_int_equal(s.grid_last, s.last);
	assert_int_equal(s.prev, day(2027, 3, 1));
	assert_int_equal(s.next, day(2027, 3, 15));
	calview_span_for(true, day(2027, 3, 14), &s);
	assert_int_equal(s.first, day(2027, 3, 8));
	calview_span_for(true, day(2027, 3, 8), &s);
	assert_int_equal(s.first, day(2027, 3, 8));
	/* Across a year: Friday 2027-01-01 is in the week of Monday 2026-12-28. */
	calview_span_for(true, day(2027, 1, 1), &s);
	assert_int_equal(s.first, day(2026, 12, 28));
	assert_int_equal(s.last, day(2027, 1, 3));
}

static void test_month_grid(void **state)
{
	(void)state;
	struct calview_span s;
	/* March 2027 starts on a Monday and ends on a Wednesday. */
	calview_span_for(false, day(2027, 3, 20), &s);
	assert_int_equal(s.first, day(2027, 3, 1));
	assert_int_equal(s.last, day(2027, 3, 31));
	assert_int_equal(s.grid_first, day(2027, 3, 1));
	assert_int_equal(s.grid_last, day(2027, 4, 4));
	assert_int_equal(s.prev, day(2027, 2, 1));
	assert_int_equal(s.next, day(2027, 4, 1));
	/* February 2028 (leap year): Tuesday the 1st to Tuesday the 29th. */
	calview_span_for(false, day(2028, 2, 29), &s);
	assert_int_equal(s.last, day(2028, 2, 29));
	assert_int_equal(s.grid_first, day(2028, 1, 31));
	assert_int_equal(s.grid_last, day(2028, 3, 5));
	/* December and January link across the year. */
	calview_span_for(false, day(2026, 12, 31), &s);
	assert_int_equal(s.next, day(2027, 1, 1));
	assert_int_equal(s.prev, day(2026, 11, 1));
	calview_span_for(false, day(2027, 1, 1), &s);
	assert_int_equal(s.prev, day(2026, 12, 1));
	/* Every grid is whole weeks from Monday. */
	for (int64_t d = day(2026, 1, 1); d < day(2030, 1, 1); d += 17) {
		calview_span_for(false, d, &s);
		assert_int_equal(tz_iso_weekday(s.grid_first), 1);
		assert_int_equal(tz_iso_weekday(s.grid_last), 7);
		assert_int_equal((s.grid_last - s.grid_first + 1) % 7, 0);
		assert_true(s.grid_first <= s.first && s.last <= s.grid_last && s.first <= d && d <= s.last);
	}
}

static void test_time_left(void **state)
{
	(void)state;
	struct arena a;
	arena_init(&a);
	assert_string_equal(dashview_span(&a, 0), "under a minute");
	assert_string_equal(dashview_span(&a, 59), "under a minute");
	assert_string_equal(dashview_span(&a, 60), "1 min");
	assert_string_equal(dashview_span(&a, 45 * 60 + 59), "45 min");
	assert_string_equal(dashview_span(&a, 5 * 3600 + 40), "5 h");
	assert_string_equal(dashview_span(&a, 3 * 3600 + 20 * 60), "3 h 20 min");
	assert_string_equal(dashview_span(&a, 23 * 3600 + 59 * 60 + 59), "23 h 59 min");
	arena_release(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_week_starts_monday),
	    cmocka_unit_test(test_month_grid),
	    cmocka_unit_test(test_time_left),
	};
	return cmocka_run_group_tests_name("views", tests, NULL, NULL);
}
