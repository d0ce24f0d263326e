/*
 * booking.h — requesting, holding, confirming, cancelling and moving
 * bookings (SPEC §1, §2 flows 1, 2, 6).
 *
 * The database makes double booking impossible (the exclusion constraint
 * on booking_block); this module checks everything else first so a client
 * gets a precise answer: 422 for what they can fix, 409 slot_unavailable
 * when the time is taken. The API and the HTML form share booking_create.
 */
#ifndef TANDEM_BOOKING_BOOKING_H
#define TANDEM_BOOKING_BOOKING_H

#include <jansson.h>

#include "avail/avail.h"
#include "core/buf.h"
#include "core/ctx.h"
#include "crypto/keys.h"
#include "offering/offering.h"

enum { BOOKING_NAME_MAX = 200, BOOKING_EMAIL_MAX = 254, BOOKING_PHONE_MAX = 40 };

struct booking_client_in {
	const char *name;         /* required, 1..200 characters */
	const char *email;        /* required; both partners may share one */
	const char *phone;        /* optional, "" when absent */
	const char *safe_contact; /* "email" (default), "phone" or "text" */
};

struct booking_request {
	const char *offering;                /* slug */
	const char *start;                   /* RFC 3339, as sent */
	struct booking_client_in clients[2]; /* [0] is the booker */
	int nclients;                        /* how many were sent */
	bool consent;                        /* to email and calendar invites */
	const char *client_timezone;         /* the booker's zone or NULL */
	const char *idempotency_key;         /* or NULL */
	const char *request_hash;            /* SHA-256 hex of the canonical request, with a key */
};

struct booking_result {
	int64_t id;               /* booking id */
	const char *reference;    /* TND-XXXX */
	const char *status;       /* held, requested, confirmed, ... */
	const char *manage_token; /* only right after creation; never stored */
	json_t *response;         /* the API's 201 body (new reference) */
	bool replayed;            /* answered from the Idempotency-Key record */
	int replay_status;        /* status of the replayed answer */
};

/* What the manage page and changes need to know about one booking. */
/* One day of a booking as the invite needs it: where it is now, where the
 * series put it (its RECURRENCE-ID when it differs), whether it is off. */
struct booking_day {
	int64_t start, end;     /* UTC seconds */
	int64_t original_start; /* UTC seconds */
	bool cancelled;         /* this day alone was cancelled */
};

struct booking_view {
	int64_t id;
	const char *reference;
	const char *status;
	const char *offering_slug;
	const char *offering_name;
	const char *offering_kind;
	int cancel_window_hours;
	int64_t starts_at;
	int64_t ends_at;
	int64_t hold_expires_at; /* 0 when not held */
	int sequence;            /* iCalendar SEQUENCE */
	const char *ical_uid;
	const char *client_timezone; /* or "" */
	const char *practice_timezone;
	int nblocks;                                 /* the days that still take place */
	struct avail_interval blocks[AVAIL_MAX_DAYS]; /* their times, in order */
	int ndays;                                   /* every day, cancelled ones too */
	struct booking_day days[AVAIL_MAX_DAYS];
	bool changeable; /* open statuses and inside the window */
};

/* Validates and creates. On ERR_INVALID, *fields (new reference) names the
 * fields at fault; on ERR_SLOT_UNAVAILABLE the time is taken. */
int booking_create(struct ctx *c, const struct keyring *k, const char *base_url,
                   const struct booking_request *rq, struct booking_result *out, json_t **fields);

/* Finds a booking by its manage token. ERR_NOT_FOUND when unknown or expired. */
int booking_by_token(struct ctx *c, const char *token, struct booking_view *out);

/* Client changes through the manage token. ERR_CONFLICT when the booking
 * is closed or the window has passed (message in *why). A cancel reason
 * (at most 1000 characters of text, else ERR_INVALID) is stored sealed. */
int booking_cancel_by_token(struct ctx *c, const struct keyring *k, const char *token, const char *reason,
                            const char **why);
int booking_reschedule_by_token(struct ctx *c, const char *token, const char *start, json_t **fields,
                                const char **why);

/* The clinician moves one day (1-based) of an open booking to new_start
 * (same length; the practice's hours are the clinician's call, but no
 * overlap with any other active time of theirs: ERR_SLOT_UNAVAILABLE), or
 * cancels it alone (ERR_CONFLICT for the last remaining day: cancel the
 * booking). Either raises the SEQUENCE; invites then carry a RECURRENCE-ID
 * override for that day. ERR_NOT_FOUND: no such booking or day. */
int booking_move_day(struct ctx *c, const char *reference, int day, int64_t new_start);
int booking_cancel_day(struct ctx *c, const char *reference, int day);

/* The booking's calendar file for the booker (whose manage token this
 * is): METHOD:REQUEST, or METHOD:CANCEL once cancelled or declined. The
 * only attendee is the booker; the partner is never named (SPEC §5).
 * *method receives the METHOD written. */
int booking_invite(struct ctx *c, const struct keyring *k, const struct booking_view *v,
                   const char *manage_url, struct buf *out, const char **method);

/* Lapses holds past their expiry (safe with several processes); returns
 * how many lapsed in *n. */
int booking_expire_holds(struct ctx *c, int *n);

/* The JSON "blocks" array for a slot, formatted in zone z. */
json_t *booking_blocks_json(const struct tz *z, const struct avail_interval *blocks, int n);

/* Checks an email address the way the forms do; exposed for tests. */
bool booking_email_valid(const char *email);

#endif
