/*
 * avail_load.h — availability against the database: load one clinician's
 * rules, overrides, busy time and bookings, and run the engine.
 */
#ifndef TANDEM_AVAIL_AVAIL_LOAD_H
#define TANDEM_AVAIL_AVAIL_LOAD_H

#include "avail/avail.h"
#include "core/ctx.h"
#include "offering/offering.h"

struct avail_clinician {
	int64_t id;          /* clinician id */
	const struct tz *tz; /* their zone */
};

/* The engine's view of an offering's rules. */
void avail_offering_rules(const struct offering *o, struct avail_offering *r);

/* The times busy rows can matter for (a tstzmultirange literal); with
 * single_start (not 0) only around that one start. */
char *avail_candidate_ranges(struct arena *a, const struct tz *z, const struct avail_offering *r,
                             int64_t from_day, int64_t to_day, int64_t single_start);

/* Active clinicians who provide o, by id (read with the offering). */
int avail_clinicians(struct ctx *c, const struct offering *o, struct avail_clinician **out, size_t *n);

/* Fills in (arena data) for one clinician and local days [from, to],
 * leaving out booking exclude_booking (its own time, when moving it; 0 =
 * none); single_start (not 0) when only that start will be asked about. */
int avail_load(struct ctx *c, const struct offering *o, int64_t clinician_id, const struct tz *z,
               const struct avail_offering *rules, int64_t from_day, int64_t to_day, int64_t exclude_booking,
               int64_t single_start, struct avail_input *in);

/* The union of every clinician's slots for o over local days [from, to]. */
int avail_for_offering(struct ctx *c, const struct offering *o, int64_t from_day, int64_t to_day,
                       struct avail_slot **out, size_t *n);

/* Is `start` a slot the engine offers now (ignoring exclude_booking)?
 * Then *clinician_id and *slot say who and what; else ERR_SLOT_UNAVAILABLE. */
int avail_check_start(struct ctx *c, const struct offering *o, int64_t start, int64_t exclude_booking,
                      int64_t *clinician_id, struct avail_slot *slot);

#endif
