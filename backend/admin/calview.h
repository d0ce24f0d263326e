/*
 * calview.h — the clinician's calendar pages (issue 7 §3): a week or a
 * month of bookings (each day of an intensive on its own day), holds and
 * busy time from imported calendars, in the clinician's zone, rendered on
 * the server (no script needed).
 *
 *   GET /admin/calendar?view=week|month&date=YYYY-MM-DD&clinician=ID
 *
 * view defaults to week and date to today; a week starts on Monday. A
 * clinician sees only their own calendar (another's id is a 404); the
 * owner sees everyone's unless clinician picks one. A bad view, date or
 * clinician parameter is a 400 page that says what is wrong.
 *
 * Client names are never read: an entry shows the offering, the booking
 * reference and the initials (as the dashboard does), linking to
 * /admin/bookings/{id}. Busy time shows only that the time is busy.
 */
#ifndef TANDEM_ADMIN_CALVIEW_H
#define TANDEM_ADMIN_CALVIEW_H

#include <jansson.h>

#include "core/ctx.h"
#include "core/tz.h"
#include "http/http.h"

/* At most this many bookings' days and busy intervals on one page. */
enum { CALVIEW_MAX_ITEMS = 2000 };

/* What one page covers: local days [first, last] (days since 1970) of
 * zone z; the viewer's reach and the clinician picked (0 = everyone the
 * viewer may see). */
struct calview_range {
	const struct tz *z;
	int64_t first, last;
	int64_t viewer;    /* the signed-in clinician */
	bool owner;        /* sees the whole practice */
	int64_t clinician; /* 0 = every clinician within reach */
	bool names;        /* add each entry's clinician (several shown) */
};

/* The days of the range as a new array [{iso, heading, day, today,
 * items: [...]}] with each booking day and busy interval on the local
 * day(s) it touches, clipped to the day. today is the local day number
 * that is today. *truncated: more than CALVIEW_MAX_ITEMS bookings days or
 * busy intervals fell in the range and only the earliest are shown. */
int calview_days(struct ctx *c, const struct calview_range *g, int64_t today, json_t **out, bool *truncated);

/* The days a page shows for local day `day`: a week is Monday..Sunday; a
 * month is its first..last day, its grid padded to whole weeks from
 * Monday. prev and next are the first days of the neighbouring page. */
struct calview_span {
	int64_t first, last;           /* the week or the month */
	int64_t grid_first, grid_last; /* what is drawn */
	int64_t prev, next;            /* where the previous / next links go */
};
void calview_span_for(bool week, int64_t day, struct calview_span *out);

int calview_http_page(struct req *r); /* GET /admin/calendar */

#endif
