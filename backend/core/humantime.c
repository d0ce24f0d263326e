/* humantime.c — see humantime.h. */
#include "core/humantime.h"

const char *const humantime_weekdays[7] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                                           "Friday", "Saturday", "Sunday"};
static const char *const months[12] = {"January", "February", "March",     "April",   "May",      "June",
                                       "July",    "August",   "September", "October", "November", "December"};

static int64_t local_day(const struct tz *z, int64_t t, int *sec_of_day)
{
	int64_t local = tz_utc_to_local(z, t);
	int64_t day = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
	*sec_of_day = (int)(local - day * 86400);
	return day;
}

char *humantime_day(struct arena *a, int64_t day)
{
	int y, m, d;
	tz_civil_from_days(day, &y, &m, &d);
	return arena_printf(a, "%s, %s %d, %d", humantime_weekdays[tz_iso_weekday(day) - 1], months[m - 1], d,
	                    y);
}

char *humantime_date(struct arena *a, const struct tz *z, int64_t t)
{
	int sec;
	return humantime_day(a, local_day(z, t, &sec));
}

char *humantime_clock(struct arena *a, const struct tz *z, int64_t t)
{
	int sec;
	local_day(z, t, &sec);
	int h = sec / 3600, min = (sec / 60) % 60;
	return arena_printf(a, "%d:%02d %s", h % 12 == 0 ? 12 : h % 12, min, h < 12 ? "AM" : "PM");
}

char *humantime_range(struct arena *a, const struct tz *z, int64_t s, int64_t e)
{
	return arena_printf(a, "%s – %s %s", humantime_clock(a, z, s), humantime_clock(a, z, e),
	                    tz_abbrev_at(z, s));
}

char *humantime_month(struct arena *a, int y, int m)
{
	return arena_printf(a, "%s %d", months[(m - 1) % 12], y);
}
