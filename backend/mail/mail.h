/*
 * mail.h — email through a transactional outbox (SPEC §1 "Outbox message").
 *
 * A change that should tell someone (a booking made, moved, cancelled)
 * calls mail_enqueue inside its own transaction: the message is rendered
 * from templates/mail/<kind>.{subject,txt,html}.mustache, built into a whole
 * RFC 5322 message (mime.h) with a Message-ID fixed now, sealed (it holds an
 * address and a capability link) and inserted into `outbox`. If the change
 * rolls back, so does the message; if the enqueue fails, so does the change.
 *
 * A sender thread in every server process (worker.c) takes due messages one
 * at a time with FOR UPDATE SKIP LOCKED, keeps the row locked while it hands
 * the message to the transport, and records the outcome in the same
 * transaction: several processes never send one message twice, and a
 * process that dies mid-send leaves the row as it was (pending) for the
 * next one. Temporary failures (4xx, timeouts, refused connections) retry
 * with exponential backoff and jitter; a permanent failure (5xx) or
 * mail_max_attempts tries dead-letter the message, which stays listed until
 * someone resends it (outbox_resend; `tandem mail resend ID`).
 *
 * Delivery is at least once: a relay that accepted the message (250) just
 * before this process died, before the row was marked sent, gets it again
 * after the restart, with the same Message-ID, which lets mail systems and
 * people tell it is one message.
 *
 * The log names messages by outbox id, kind and status only.
 */
#ifndef TANDEM_MAIL_MAIL_H
#define TANDEM_MAIL_MAIL_H

#include <jansson.h>

#include "core/config.h"
#include "core/ctx.h"
#include "mail/mime.h"

struct tpl_set;
struct keyring;

/* What composing and queuing needs: read-only, shared by all threads. */
struct mailer {
	const struct config *cfg;   /* from, reply-to, base_url, retry policy, transport */
	const struct tpl_set *tpl;  /* templates/mail/... among the others */
	const struct keyring *keys; /* seals each queued message */
};

/* One message to one recipient. */
struct mail_out {
	const char *kind;            /* template base name and outbox.kind, e.g. "confirmed" */
	int64_t booking_id;          /* the booking it is about, or 0 */
	const char *recipient_role;  /* "booker", "partner" or "clinician" (never who) */
	struct mime_address to;      /* the recipient; address checked with mime_address_valid */
	json_t *view;                /* template data (borrowed); practice_name is added */
	const char *calendar;        /* an iCalendar object to send inline and attached, or NULL */
	size_t calendar_len;         /* its length */
	const char *calendar_method; /* its METHOD, required with it */
	const char *dedupe_key;      /* queue at most once per key (reminders), or NULL */
};

/* Kinds with templates; start-up checks each has all three. Further
 * modules add theirs here. */
extern const char *const mail_kinds[];

/*
 * Renders, builds, seals and inserts msg on c->db, which should be inside
 * the caller's transaction. *id (may be NULL) receives the outbox id, or 0
 * when dedupe_key was already queued (not an error). ERR_INVALID for a bad
 * address or kind, ERR_NOT_FOUND for a missing template, or a database
 * error: the caller's transaction must then roll back.
 */
int mail_enqueue(struct ctx *c, const struct mailer *m, const struct mail_out *msg, int64_t *id);

/* Checks the mail settings and that every kind's templates exist; a
 * message for the log in err. ERR_CONFIG when something is wrong. */
int mail_check(const struct mailer *m, char *err, size_t errlen);

/* One line for the start-up log saying where mail goes. */
void mail_describe(const struct config *cfg, char *out, size_t outlen);

/* A calendar source of a clinician has failed to refresh past its
 * freshness limit (availability is closed): tells that clinician, once per
 * outage (keyed by the source's last success). The calendar refresh job
 * calls it, inside its own transaction. ERR_NOT_FOUND for no such source,
 * ERR_INVALID when the clinician's address cannot take mail. (notices.c) */
int mail_calendar_failing(struct ctx *c, const struct mailer *m, int64_t source_id);

/* ---- the outbox (outbox.c) ---------------------------------------------- */

struct mail_transport;

/*
 * Sends due messages one by one, each in its own transaction, until none
 * is due, max were handled, or *stop becomes true. *handled counts
 * messages taken (sent, retried or dead-lettered). Returns 0 or a
 * database error.
 */
int outbox_send_due(struct ctx *c, const struct mailer *m, struct mail_transport *t, int max,
                    const volatile bool *stop, int *handled);

/* Puts a dead-lettered message back in the queue, due now, attempts reset;
 * the Message-ID and body stay (it is the same message). ERR_NOT_FOUND for
 * no such message, ERR_CONFLICT when it is not dead, ERR_GONE when it tells
 * a booking's state (confirmed, moved, …) and a newer such message has
 * gone to the same person since: resent, it would tell them old news. */
int outbox_resend(struct ctx *c, int64_t id);

/* The newest messages, optionally only one status ("pending", "sent",
 * "dead" or NULL), as a JSON array of {id, kind, booking_id, reference,
 * recipient, status, attempts, last_error, created_at, next_attempt_at}:
 * nothing about who. At most limit (1..1000). */
int outbox_list(struct ctx *c, const char *status, int limit, json_t **out);

/* Drops the sealed recipient and body of messages sent more than
 * mail_keep_days ago (the row stays). *n counts them. */
int outbox_purge(struct ctx *c, const struct mailer *m, int *n);

/* The delay before try number attempts + 1 after attempts failures:
 * base * 2^(attempts-1), at most max, times a jitter factor in [0.5, 1).
 * Exposed for tests (jitter01 in [0, 1)). */
int64_t outbox_backoff(long base_s, long max_s, int attempts, double jitter01);

/* ---- transports (transport.c) ------------------------------------------ */

enum mail_outcome {
	MAIL_SENT,      /* accepted by the relay, or written */
	MAIL_TEMPORARY, /* try again later */
	MAIL_PERMANENT, /* will never work: dead-letter */
};

/* The configured transport (file or SMTP). ERR_CONFIG with a message. */
int mail_transport_new(const struct config *cfg, struct mail_transport **out, char *err, size_t errlen);
void mail_transport_free(struct mail_transport *t);

/* Hands one message (CRLF lines) to the transport. why receives a short
 * reason without addresses or server text ("smtp 451", "connect failed").
 * *stop is polled during the transfer; when it turns true the transfer is
 * abandoned as MAIL_TEMPORARY. */
enum mail_outcome mail_transport_send(struct mail_transport *t, const char *from, const char *rcpt,
                                      const char *message_id, const char *msg, size_t len,
                                      const volatile bool *stop, char *why, size_t whylen);

/* Global libcurl set-up; once, before any thread starts. */
int mail_global_init(void);

/* ---- the sender thread (worker.c) -------------------------------------- */

/* Starts the thread that sends due messages every mail_poll_ms; m must
 * outlive mail_worker_stop. */
void mail_worker_start(const struct mailer *m);
/* Stops it, abandoning a transfer in flight (that message stays pending). */
void mail_worker_stop(void);

#endif
