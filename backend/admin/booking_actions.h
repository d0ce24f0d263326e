/*
 * booking_actions.h — the clinician's actions on one booking over HTTP
 * (issue 7 §4): POST forms from the booking page, each with the session's
 * CSRF token and the booking's version as the page showed it.
 *
 * Each action runs in one transaction with its history row, its audit
 * entry and the messages it sends (booking/booking_admin.h), then answers
 * 303 to /admin/bookings/{id}?done=<what> (the page says what was done).
 * A booking out of the clinician's reach is 404; a stale page or a change
 * the booking's state does not allow is 409 with the reason; a form to
 * fix is 422.
 */
#ifndef TANDEM_ADMIN_BOOKING_ACTIONS_H
#define TANDEM_ADMIN_BOOKING_ACTIONS_H

#include <jansson.h>

#include "http/http.h"

int booking_actions_approve(struct req *r);    /* POST /admin/bookings/{id}/approve */
int booking_actions_decline(struct req *r);    /* POST /admin/bookings/{id}/decline */
int booking_actions_cancel(struct req *r);     /* POST /admin/bookings/{id}/cancel */
int booking_actions_reschedule(struct req *r); /* POST /admin/bookings/{id}/reschedule */
int booking_actions_complete(struct req *r);   /* POST /admin/bookings/{id}/complete */
int booking_actions_no_show(struct req *r);    /* POST /admin/bookings/{id}/no-show */
int booking_actions_propose(struct req *r);    /* POST /admin/bookings/{id}/propose */
int booking_actions_move_day(struct req *r);   /* POST /admin/bookings/{id}/move-day */
int booking_actions_cancel_day(struct req *r); /* POST /admin/bookings/{id}/cancel-day */
int booking_actions_note(struct req *r);       /* POST /admin/bookings/{id}/notes */

/* What the booking page needs for the actions, added to b (the booking
 * from admin_booking_get): version, which actions its state allows, the
 * screening flags per partner, the private notes (opened), the open
 * proposals, the starts one can move it to, and the ?done= message. */
int booking_actions_view(struct req *r, json_t *b);

#endif
