/*
 * humantime.h — dates and times as people read them, in a given zone:
 * "Monday, December 7, 2026", "9:00 AM", "9:00 AM – 4:00 PM CST".
 * English only for now; every string comes from the arena.
 */
#ifndef TANDEM_CORE_HUMANTIME_H
#define TANDEM_CORE_HUMANTIME_H

#include "core/arena.h"
#include "core/tz.h"

char *humantime_date(struct arena *a, const struct tz *z, int64_t t);  /* Monday, December 7, 2026 */
char *humantime_day(struct arena *a, int64_t day);                     /* same, for a local date */
char *humantime_clock(struct arena *a, const struct tz *z, int64_t t); /* 9:00 AM */
char *humantime_range(struct arena *a, const struct tz *z, int64_t s, int64_t e); /* 9:00 AM – 4:00 PM CST */
char *humantime_month(struct arena *a, int y, int m);                             /* December 2026 */
extern const char *const humantime_weekdays[7];                                   /* Monday..Sunday */

#endif
