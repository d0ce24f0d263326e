/*
 * booking_admin.h — the clinician's changes to one booking (issue 7 §4):
 * approve, decline, cancel, reschedule, mark completed or no-show,
 * propose other times, and private notes.
 *
 * booking_act runs inside the caller's transaction (db_tx on c->db), so
 * the caller adds its audit entry to the same commit: the change, its
 * booking_event row, the messages in the outbox and the audit entry
 * commit together or not at all. The access rule (whose booking) is the
 * caller's (admin/admin.h); this module checks the state machine and the
 * page's version.
 */
#ifndef TANDEM_BOOKING_BOOKING_ADMIN_H
#define TANDEM_BOOKING_BOOKING_ADMIN_H

#include "booking/booking.h"

enum {
	BOOKING_MESSAGE_MAX = 2000, /* a decline message or cancel reason, characters */
	BOOKING_NOTE_MAX = 10000,   /* a private note, characters */
	BOOKING_PROPOSE_MAX = 3,    /* other times proposed at once */
};

enum booking_act_kind {
	BOOKING_APPROVE,    /* held or requested → confirmed; "confirmed" to each client */
	BOOKING_DECLINE,    /* held or requested → declined; "declined" with the message */
	BOOKING_CANCEL,     /* held, requested or confirmed → cancelled; "cancelled" (CANCEL) */
	BOOKING_RESCHEDULE, /* an open booking to another start; "rescheduled" (REQUEST, SEQUENCE+1) */
	BOOKING_COMPLETE,   /* confirmed and over → completed; no message */
	BOOKING_NO_SHOW,    /* confirmed and over → no_show; no message */
	BOOKING_PROPOSE,    /* held or requested: up to 3 other starts; "proposed" to the booker */
	BOOKING_MOVE_DAY,   /* one day of an open multi-day booking to day_start; "rescheduled" */
	BOOKING_CANCEL_DAY, /* one day of an open multi-day booking off; "rescheduled" */
};

struct booking_act {
	enum booking_act_kind kind;
	int64_t id;                                  /* the booking */
	int64_t clinician_id;                        /* who acts (proposals, notes) */
	const char *version;                         /* booking_version() the page showed */
	const char *message;                         /* decline message / cancel reason, or NULL */
	const char *start;                           /* reschedule: RFC 3339 */
	const char *starts[BOOKING_PROPOSE_MAX + 1]; /* propose: RFC 3339 each */
	int nstarts;                                 /* how many */
	int day;                                     /* move/cancel day: 1-based */
	int64_t day_start;                           /* move day: the day's new start (UTC) */
	bool reviewed;                               /* "I have read both intakes and the screening flags" */
	/* out */
	const char *from;  /* status before */
	const char *to;    /* status after */
	const char *why;   /* a refusal's reason, for people (ERR_CONFLICT, ERR_INVALID) */
	json_t *fields;    /* ERR_INVALID: per field messages (caller releases; may be NULL) */
	bool needs_review; /* the booking needed review when acted on */
};

/* The booking's version for stale-page checks: updated_at in
 * microseconds, as text. ERR_NOT_FOUND when there is no such booking. */
int booking_version(struct ctx *c, int64_t id, const char **out);

/* Runs a.kind inside the caller's transaction. ERR_CONFLICT with a->why:
 * the page is stale (another version) or the status does not allow it;
 * ERR_INVALID with a->why or a->fields: the form is wrong (a message too
 * long, the review not acknowledged, a bad start);
 * ERR_SLOT_UNAVAILABLE: a start is taken. */
int booking_act(struct ctx *c, const struct mailer *m, struct booking_act *a);

/* Appends a private note (1..BOOKING_NOTE_MAX characters of text, else
 * ERR_INVALID), sealed with the associated data "booking_note.body:<id>". */
int booking_note_add(struct ctx *c, const struct keyring *k, int64_t booking_id, int64_t author_id,
                     const char *text, int64_t *note_id);
/* The notes of a booking, oldest first: [{id, at, author, text}]. */
int booking_notes(struct ctx *c, const struct keyring *k, int64_t booking_id, json_t **out);
/* The people's own words in a booking's history (a client's cancel
 * reason, the clinician's decline message or cancel reason), opened:
 * [{at, reason, text}], oldest first. For the clinician's page only. */
int booking_event_words(struct ctx *c, const struct keyring *k, int64_t booking_id, json_t **out);
/* The open proposals of a booking: [{start (Unix seconds)}], soonest first. */
int booking_proposals(struct ctx *c, int64_t booking_id, json_t **out);

/* booking_mail.c: "declined" to each client who knows of the booking,
 * with the clinician's message (may be NULL; escaped in the HTML part);
 * "proposed" to the booker, times [{label}] in the view. */
int booking_mail_declined(struct ctx *c, const struct mailer *m, int64_t booking_id, const char *message);
int booking_mail_proposed(struct ctx *c, const struct mailer *m, int64_t booking_id, json_t *times);
/* "rescheduled" for one day of a multi-day booking (day counted from 1),
 * which was at `from`: moved to `to`, or cancelled when to is 0. The
 * subject and the first lines name that day; the list shows the days as
 * they are now. */
int booking_mail_day_changed(struct ctx *c, const struct mailer *m, int64_t booking_id, int day, int64_t from,
                             int64_t to);

/* Shared with booking.c's client changes (booking_admin.c uses them). */
/* Moves locked, open booking v to start_text (validated like a client's
 * reschedule), records reason, tells each client. A start the clinician
 * proposed and marked confirming also confirms it (*confirmed). */
int booking_move_locked(struct ctx *c, const struct mailer *m, const struct booking_view *v,
                        const char *start_text, json_t *fields, const char *reason, bool *confirmed);
/* Whether start_text is a start v's offering offers now (v's own time
 * ignored): 0 with *start, ERR_INVALID (fields) or ERR_SLOT_UNAVAILABLE. */
int booking_start_available(struct ctx *c, const struct booking_view *v, const char *start_text,
                            json_t *fields, int64_t *start);
/* booking_move_day / booking_cancel_day (start 0) inside the caller's
 * transaction. */
int booking_day_locked(struct ctx *c, const struct mailer *m, const char *reference, int day, int64_t start);
/* A person's words for booking_event.note_enc, sealed: hex without "\x"
 * (decode($n, 'hex')), or NULL. */
const char *booking_seal_note(struct ctx *c, const struct keyring *k, int64_t booking_id, const char *text);

#endif
