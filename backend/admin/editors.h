/*
 * editors.h — what the clinician area changes about the practice: weekly
 * availability, date exceptions (different hours, closed, time off),
 * offerings and the practice's settings and policy texts (issue 7 §5).
 *
 * Each change is one transaction that also writes its audit entry, so a
 * change and its record commit or vanish together. Nothing here touches
 * bookings: a booking keeps its blocks whatever happens to the rules or the
 * offering it was made under. The availability engine reads the same rows
 * on every request, so a change applies to the next /api/v1/availability.
 *
 * The parsers and checks (editors_parse_*, editors_ranges_overlap) are pure
 * and unit-tested; the rest takes a ctx whose actor and address go into
 * the audit log.
 */
#ifndef TANDEM_ADMIN_EDITORS_H
#define TANDEM_ADMIN_EDITORS_H

#include <jansson.h>

#include "core/ctx.h"

enum {
	EDITORS_MAX_RANGES = 6,     /* time ranges per weekday in the weekly form */
	EDITORS_MAX_BREAKS = 3,     /* breaks inside an intensive day */
	EDITORS_MAX_OFF_DAYS = 366, /* days in one time-off entry */
};

/* One weekly range: ISO weekday, local minutes [start, end), and the one
 * offering it is for (0: every offering). */
struct editors_range {
	int weekday;
	int start_min;
	int end_min;
	int64_t offering_id;
};

/* "HH:MM" (00:00-23:59, or 24:00 when allow_24) into minutes after
 * midnight; "HH:MM:SS" with :00 seconds too (some browsers send it).
 * ERR_INVALID otherwise. */
int editors_parse_clock(const char *s, bool allow_24, int *min);
/* "HH:MM" of minutes after midnight (1440 is "24:00") into out (>= 6 bytes). */
void editors_format_clock(int min, char *out, size_t outlen);
/* An amount like "3200", "3,200.50", "$3200.5" into cents, 0 to
 * 100,000,000 (one million units). ERR_INVALID otherwise. */
int editors_parse_money(const char *s, int64_t *cents);
/* A whole number from lo to hi, written in plain digits (an optional
 * leading '-'). ERR_INVALID otherwise. */
int editors_parse_int(const char *s, long lo, long hi, long *out);
/* Index pair of the first two ranges on one weekday and for the same
 * offering that overlap (touching is fine): true with *a < *b set, or
 * false when none do. */
bool editors_ranges_overlap(const struct editors_range *v, size_t n, size_t *a, size_t *b);

/* ---- availability --------------------------------------------------------- */

/* The practice's active clinicians, by name: [{id, name, timezone}]. */
int editors_clinicians(struct ctx *c, json_t **rows);
/* clinician_id's weekly ranges, by weekday and start: [{weekday, start,
 * end ("HH:MM"), offering_id (0: all)}]. */
int editors_weekly_get(struct ctx *c, int64_t clinician_id, json_t **rows);
/* Replaces clinician_id's weekly ranges with v (already checked) and
 * writes the audit entry "availability.weekly". */
int editors_weekly_set(struct ctx *c, int64_t clinician_id, const struct editors_range *v, size_t n);

/* A date exception as entered. */
struct editors_exception {
	const char *kind;  /* "hours", "closed" or "time_off" */
	int64_t first_day; /* local date, days since 1970-01-01 */
	int64_t last_day;  /* same as first_day unless time_off */
	int start_min;     /* hours: the day's hours */
	int end_min;
	const char *note; /* the clinician's own label, up to 200 bytes */
};
/* Adds one (checked) exception and its override rows; audit
 * "availability.exception.add". ERR_CONFLICT when kind "hours" meets
 * another "hours" entry on that date. *id receives the new id. */
int editors_exception_add(struct ctx *c, int64_t clinician_id, const struct editors_exception *e,
                          int64_t *id);
/* clinician_id's exceptions that end on or after local day `from`, by
 * date: [{id, kind, first, last (days), start, end ("HH:MM" or ""),
 * note}]. */
int editors_exceptions_list(struct ctx *c, int64_t clinician_id, int64_t from, json_t **rows);
/* Removes clinician_id's exception id with its override rows; audit
 * "availability.exception.remove". ERR_NOT_FOUND when it is not theirs. */
int editors_exception_remove(struct ctx *c, int64_t clinician_id, int64_t id);

/* ---- offerings ------------------------------------------------------------- */

/* The editable fields of an offering as form text, keyed by field name
 * (see editors_offering_fields). */
int editors_offering_form(struct ctx *c, int64_t id, json_t **form);
/* Every offering, active or not, in display order: [{id, slug, name, kind,
 * active, bookings}]. */
int editors_offerings(struct ctx *c, json_t **rows);
/* Intake form slugs that exist: ["intensive-intake", …]. */
int editors_intake_forms(struct ctx *c, json_t **slugs);
/* Whether the newest version of form slug has screening rules (flags). */
int editors_form_screens(struct ctx *c, const char *slug, bool *screens);

/* A checked offering, ready to store. Strings are NUL-terminated; times
 * are "HH:MM" or "" for NULL. */
struct editors_offering {
	const char *slug, *name, *kind, *description, *day_start, *day_end, *currency, *location_kind,
	    *location, *intake_form;
	long days, duration_minutes, buffer_before, buffer_after, min_notice, horizon_days, slot_interval,
	    start_weekdays, min_rest_days, cap_per_week, cap_per_month, hold_minutes, cancel_window_hours,
	    series_max, sort_order;
	int64_t price_cents, deposit_cents;
	bool requires_approval, active;
	int nbreaks;
	struct {
		char starts[6], ends[6];
		const char *label;
	} breaks[EDITORS_MAX_BREAKS];
	const char *clinicians; /* array literal of clinician ids, "{1,2}" */
};
/* Creates (id 0; *id receives the new one) or updates offering *id,
 * replacing its breaks and clinicians; bookings made under it are left as
 * they are. detail (released) goes into the audit entry "offering.create"
 * or "offering.update". ERR_CONFLICT when the slug is taken; ERR_NOT_FOUND
 * for an unknown id. */
int editors_offering_save(struct ctx *c, int64_t *id, const struct editors_offering *o, json_t *detail);
/* Deletes offering id when nothing was ever booked under it, else marks it
 * inactive (*deactivated true); audit "offering.delete" or
 * "offering.deactivate". ERR_NOT_FOUND for an unknown id. */
int editors_offering_remove(struct ctx *c, int64_t id, bool *deactivated);

/* ---- the practice ---------------------------------------------------------- */

struct editors_practice {
	const char *name, *timezone, *address, *phone, *email, *base_url, *cancellation_policy,
	    *confidentiality_policy;
};
/* Updates the practice; the audit entry "practice.update" names the
 * fields that changed (never their values). *changed receives how many. */
int editors_practice_save(struct ctx *c, const struct editors_practice *p, int *changed);

#endif
