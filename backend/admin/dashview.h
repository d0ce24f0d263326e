/*
 * dashview.h — the dashboard's sections beyond the two booking lists
 * (issue 7 §2), and resending an undelivered message.
 *
 * Every section obeys the access rule of admin.h (a clinician sees their
 * own records, the owner the whole practice) and shows no PHI: bookings
 * by reference, offering and initials; intakes by state only ("not
 * started", "draft", "submitted"), never an answer; screening flags by
 * kind only; messages by kind, booking reference and error category,
 * never the address.
 */
#ifndef TANDEM_ADMIN_DASHVIEW_H
#define TANDEM_ADMIN_DASHVIEW_H

#include <jansson.h>

#include "core/ctx.h"
#include "core/tz.h"
#include "http/http.h"

/* A hold lapsing within this many seconds is listed. */
enum {
	DASHVIEW_HOLD_SOON_S = 24 * 3600,
	DASHVIEW_DAYS_AHEAD = 7,
	DASHVIEW_LIST_MAX = 50,      /* bookings, sources or messages per section */
	DASHVIEW_DAY_ITEMS_MAX = 200 /* booking days in the next seven days */
};

/* Adds to the dashboard's view: "lapsing" (holds lapsing within a day,
 * with the time left), "flags" (bookings needing review, with the kinds of
 * screening flag raised), "intakes" (each open booking's clients' intake
 * state), "days" (the next seven local days with bookings), "sources"
 * (failing calendar sources) and "dead" (undelivered messages), each with
 * a has_* boolean. Times in zone z. */
int dashview_add(struct req *r, const struct tz *z, json_t *view);

/* "3 h 20 min", "45 min", "under a minute": a span of seconds for people. */
const char *dashview_span(struct arena *a, int64_t s);

/* "Intimate partner violence": a screening flag's kind for people (the
 * kind itself when unknown). */
const char *dashview_flag_label(const char *kind);

/* Whose message: 0 when the viewer may resend outbox message id (the owner
 * any message of the practice, a clinician those about their bookings),
 * else ERR_NOT_FOUND. */
int dashview_message_reach(struct ctx *c, int64_t viewer, bool owner, int64_t id);

int dashview_http_resend(struct req *r); /* POST /admin/mail/{id}/resend */

#endif
