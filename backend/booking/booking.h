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

struct mailer;

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
	int nblocks;                                  /* the days that still take place */
	struct avail_interval blocks[AVAIL_MAX_DAYS]; /* their times, in order */
	int ndays;                                    /* every day, cancelled ones too */
	struct booking_day days[AVAIL_MAX_DAYS];
	int position;    /* whose link opened it: 1 the booker, 2 the partner (read-only) */
	bool has_form;   /* the offering gives each client a private intake form (/intake/{token}) */
	bool changeable; /* the booker's link, an open status, and inside the window */
	/* Set by the mail of a day cancelled on its own: booking_invite then
	 * writes METHOD:CANCEL for that day only (its original start). */
	int64_t cancel_day_start;
};

/* Validates and creates. On ERR_INVALID, *fields (new reference) names the
 * fields at fault; on ERR_SLOT_UNAVAILABLE the time is taken. The emails
 * the booking causes are queued in the same transaction (booking_mail.c). */
int booking_create(struct ctx *c, const struct mailer *m, const struct booking_request *rq,
                   struct booking_result *out, json_t **fields);

/* Finds a booking by a person's link: the booker's manage token (position
 * 1, may change the booking) or the partner's own link (position 2,
 * read-only). ERR_NOT_FOUND when unknown, expired or revoked. */
int booking_by_token(struct ctx *c, const char *token, struct booking_view *out);
/* The same view by id (position 1), for the system's own work. */
int booking_by_id(struct ctx *c, int64_t id, struct booking_view *out);

/* The capability token of one person of a booking: derived from its
 * iCalendar UID (crypto_link_token), so a message weeks later can carry the
 * same link while the database holds only its SHA-256. */
char *booking_link_token(const struct keyring *k, struct arena *a, const char *ical_uid, int position);

/* Client changes through the booker's manage token, each sending every
 * client their updated invite. ERR_CONFLICT when the booking is closed or
 * the window has passed, ERR_FORBIDDEN for the partner's read-only link
 * (message in *why). A cancel reason (at most 1000 characters of text,
 * else ERR_INVALID) is stored sealed. */
int booking_cancel_by_token(struct ctx *c, const struct mailer *m, const char *token, const char *reason,
                            const char **why);
int booking_reschedule_by_token(struct ctx *c, const struct mailer *m, const char *token, const char *start,
                                json_t **fields, const char **why);

/* The clinician moves one day (1-based) of an open booking to new_start
 * (same length; the practice's hours are the clinician's call, but no
 * overlap with any other active time of theirs: ERR_SLOT_UNAVAILABLE), or
 * cancels it alone (ERR_CONFLICT for the last remaining day: cancel the
 * booking). Either raises the SEQUENCE; invites then carry a RECURRENCE-ID
 * override for that day, and each client is sent it (the "rescheduled"
 * message) in the same transaction. ERR_NOT_FOUND: no such booking or day. */
int booking_move_day(struct ctx *c, const struct mailer *m, const char *reference, int day,
                     int64_t new_start);
int booking_cancel_day(struct ctx *c, const struct mailer *m, const char *reference, int day);

/* A client's sealed column (col "name", "email" or "phone" of
 * booking_client) for booking_id and position pos: the associated data
 * binds the value to its row. seal: the bytea as hex for a parameter, NULL
 * on failure. open: the plain text in *out (arena), ERR_INTERNAL when it
 * does not open. */
const char *booking_client_seal(struct ctx *c, const struct keyring *k, const char *value, size_t n,
                                const char *col, int64_t booking_id, int pos);
int booking_client_open(struct ctx *c, const struct keyring *k, const char *hex, const char *col,
                        int64_t booking_id, int pos, char **out);

/* The booking's calendar file for the person whose link opened v
 * (v->position): METHOD:REQUEST, or METHOD:CANCEL once cancelled or
 * declined. The only attendee is that person; the other is never named
 * (SPEC §5). *method receives the METHOD written. */
int booking_invite(struct ctx *c, const struct keyring *k, const struct booking_view *v,
                   const char *manage_url, struct buf *out, const char **method);

/* Lapses holds past their expiry (safe with several processes), telling
 * each client; returns how many lapsed in *n. */
int booking_expire_holds(struct ctx *c, const struct mailer *m, int *n);

/*
 * What a booking tells people (booking_mail.c). Each queues its messages
 * with mail_enqueue on c->db and must run inside the transaction of the
 * change it reports; an error means that transaction must roll back.
 * Every client gets their own message with their own link; no message
 * names the other partner, the kind of work, or anything from an intake.
 */
/* A new booking: confirmed → each client "confirmed" with the invite;
 * held or requested → the booker "received" and the clinician
 * "new_request". */
int booking_mail_created(struct ctx *c, const struct mailer *m, int64_t booking_id);
/* A change, to each client who knows of the booking (the booker; the
 * partner once a message told them of it): "confirmed" (always both) or
 * "rescheduled" (with a REQUEST invite), "cancelled", "declined" or
 * "hold_lapsed" (with a CANCEL), or "reminder" (no invite). Call it after
 * the booking's status and SEQUENCE are updated. The clinician area calls
 * this with "confirmed" and "declined" when it approves or declines. */
int booking_mail_status(struct ctx *c, const struct mailer *m, int64_t booking_id, const char *kind);
/* Queues each client's own intake invitation ("intake_invite", their
 * own /intake/ link) when the offering has a form (to send the links
 * again). A new booking needs no call: booking_mail_created puts each
 * client's link into the message they get, and invites a partner who gets
 * none. */
int booking_mail_intake_invites(struct ctx *c, const struct mailer *m, int64_t booking_id);
/* Queues "intake_reminder" to each client of a held booking whose form
 * is not sent, at each of cfg->intake_reminder_hours before the hold
 * lapses, once per client, mark and hold expiry. *n counts messages. */
int booking_mail_intake_reminders(struct ctx *c, const struct mailer *m, int *n);
/* Queues the reminder of confirmed bookings starting within
 * reminder_hours, once per booking and date (safe with several
 * processes); bookings made or moved inside that window are only marked.
 * *n counts bookings reminded. */
int booking_mail_reminders(struct ctx *c, const struct mailer *m, int *n);

/* The JSON "blocks" array for a slot, formatted in zone z. */
json_t *booking_blocks_json(const struct tz *z, const struct avail_interval *blocks, int n);

/* Checks an email address the way the forms do; exposed for tests. */
bool booking_email_valid(const char *email);
/* True when email is all ASCII: the only addresses our mail can reach (no
 * SMTPUTF8, no IDN conversion). */
bool booking_email_ascii(const char *email);

#endif
