/*
 * admin.h — what the clinician area reads about bookings, with the access
 * rule in every query: a clinician sees their own bookings; the owner
 * sees every booking of the practice. A booking out of reach is reported
 * exactly like one that does not exist (ERR_NOT_FOUND), so ids reveal
 * nothing.
 *
 * Client names are never read here: lists show the initials kept in
 * booking_client.initials.
 */
#ifndef TANDEM_ADMIN_ADMIN_H
#define TANDEM_ADMIN_ADMIN_H

#include <jansson.h>

#include "core/ctx.h"

/* Who is asking: the access rule's inputs. */
struct admin_viewer {
	int64_t clinician_id; /* the signed-in clinician */
	bool owner;           /* sees every clinician's records */
};

/* Open bookings (held, requested, confirmed) that have not ended, soonest
 * first: [{id, reference, status, offering, clinician_id, clinician,
 * starts, ends (Unix seconds), hold_expires (0 if none), days,
 * needs_review, initials}], at most max of them; *more when there are
 * others after them. which: all open ones, those waiting for approval (held
 * or requested), or the confirmed ones. */
enum admin_open { ADMIN_OPEN_ALL, ADMIN_OPEN_PENDING, ADMIN_OPEN_CONFIRMED };
int admin_bookings_upcoming(struct ctx *c, const struct admin_viewer *v, enum admin_open which, int max,
                            json_t **rows, bool *more);

/* One booking the viewer may see: {id, reference, status, offering,
 * clinician_id, clinician, starts, ends, hold_expires, needs_review,
 * initials, sequence, created, blocks: [{starts, ends}], events: [{at,
 * actor, from, to, reason}]}. ERR_NOT_FOUND when it does not exist or is
 * another clinician's (for a non-owner). */
int admin_booking_get(struct ctx *c, const struct admin_viewer *v, int64_t id, json_t **out);

/* The practice's clinicians for filters: [{id, name, actor}]. */
int admin_clinicians(struct ctx *c, const struct admin_viewer *v, json_t **rows);

/* SQL: one client's intake state in words, from an intake row aliased
 * `i` (LEFT JOINed: no row is "not started"). The dashboard and the
 * booking page say it the same way. */
#define ADMIN_INTAKE_STATE_SQL                                                                               \
	" CASE WHEN i.submitted_at IS NOT NULL THEN 'submitted' WHEN i.draft_enc IS NOT NULL THEN 'draft'"   \
	"  ELSE 'not started' END"

#endif
