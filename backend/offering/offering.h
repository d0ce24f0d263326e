/*
 * offering.h — what the practice offers: consultation calls, multi-day
 * intensives and follow-up sessions, with every booking rule of SPEC §1.
 * Read-only here; the clinician area edits them.
 */
#ifndef TANDEM_OFFERING_OFFERING_H
#define TANDEM_OFFERING_OFFERING_H

#include <jansson.h>

#include "core/ctx.h"

struct offering {
	int64_t id;                /* primary key */
	const char *slug;          /* URL name, e.g. "intensive-2day" */
	const char *name;          /* shown to clients */
	const char *kind;          /* "consult", "intensive" or "session" */
	const char *description;   /* plain text, shown escaped */
	int days;                  /* days per booking (intensives > 1) */
	int duration_minutes;      /* one appointment / one day */
	const char *day_start;     /* "09:00" for intensives, else "" */
	const char *day_end;       /* "16:00" for intensives, else "" */
	int64_t price_cents;       /* integer cents */
	int64_t deposit_cents;     /* integer cents */
	const char *currency;      /* ISO 4217 */
	bool requires_approval;    /* the clinician confirms each request */
	const char *location_kind; /* "in_person", "video", "phone" */
	const char *location;      /* address or video link text */
	int cancel_window_hours;   /* online changes allowed until this before */
	const char *breaks;        /* human text of breaks ("12:00–13:00 Lunch"), "" if none */
	/* Booking rules (SPEC §1); see sql/0001_foundation.sql for each. */
	int day_start_min; /* intensives: minutes after midnight, else 0 */
	int day_end_min;   /* intensives: minutes after midnight, else 0 */
	int buffer_before_minutes;
	int buffer_after_minutes;
	int min_notice_minutes;
	int horizon_days;
	int slot_interval_minutes;
	int start_weekdays; /* bit 0 = Monday */
	int min_rest_days;
	int cap_per_week;  /* 0 = none */
	int cap_per_month; /* 0 = none */
	int hold_minutes;
	const char *intake_form; /* "" when none */
	int series_max;
	const char *practice_timezone; /* the practice's zone, for showing times */
	const char *clinicians;        /* "id zone;id zone" of active clinicians providing it */
};

/* What the home page shows, read in one query. */
struct offering_home {
	const char *practice_name; /* the practice, for the layout */
	const char *practice_timezone;
	const char *practice_address;
	const char *practice_phone;
	const char *practice_email;
	struct offering *list; /* active offerings in display order */
	size_t n;              /* how many */
};
int offering_home(struct ctx *c, struct offering_home *out);

/* Active offerings in display order; *out from the arena. */
int offering_list(struct ctx *c, struct offering **out, size_t *n);
/* One active offering by slug; ERR_NOT_FOUND when none. */
int offering_get(struct ctx *c, const char *slug, struct offering *out);
/* The offering of booking booking_id, active or not, for moving it: its
 * clinicians are the booking's own clinician only (when still active and
 * providing it), none when the offering is inactive. ERR_NOT_FOUND when no
 * such booking. */
int offering_for_booking(struct ctx *c, int64_t booking_id, struct offering *out);

/* The public JSON shape of SPEC §3 (new reference). */
json_t *offering_to_json(const struct offering *o);
/* The view used by HTML pages: the JSON shape plus display strings. */
json_t *offering_to_view(struct arena *a, const struct offering *o);

/* "7 days" / "24 hours": a change window for people. */
char *offering_window_text(struct arena *a, int hours);

/* "$1,800" / "Free" / "1,800.50 EUR", from the arena. */
char *offering_format_money(struct arena *a, int64_t cents, const char *currency);

#endif
