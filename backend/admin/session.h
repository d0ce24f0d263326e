/*
 * session.h — clinicians' server-side sessions (SPEC §5).
 *
 * A session is a row in admin_session; the browser holds a 256-bit random
 * token in a cookie and the table only its SHA-256, so neither a copy of
 * the table nor a log line opens a session. Every login makes a new token
 * (no fixation). A session ends when idle for longer than the idle limit,
 * at its absolute limit, or when revoked (logout, logout everywhere, a
 * password change). last_seen_at is written at most once a minute, not
 * on every request.
 *
 * The CSRF token of a session is derived from its token (SHA-256 under a
 * label), so it needs no storage and reveals nothing about the cookie.
 */
#ifndef TANDEM_ADMIN_SESSION_H
#define TANDEM_ADMIN_SESSION_H

#include <jansson.h>

#include "core/ctx.h"

enum {
	SESSION_TOKEN_BYTES = 32,   /* 256 bits */
	SESSION_TOKEN_LEN = 43,     /* base64url characters of a token */
	SESSION_MFA_LIFETIME = 300, /* seconds to type the TOTP code after the password */
	SESSION_MFA_TRIES = 5,      /* wrong codes before the password is asked again */
};

struct session_info {
	int64_t id;           /* admin_session.id */
	int64_t clinician_id; /* whose */
	bool owner;           /* the clinician's role is owner */
	bool mfa_pending;     /* the TOTP code is still owed */
	const char *name;     /* the clinician's name */
	const char *email;    /* the clinician's login */
	const char *timezone; /* the clinician's zone */
};

/* True when token looks like one of ours (length and alphabet). */
bool session_token_valid(const char *token);
/* The CSRF token of the session with this token: 64 hex. */
void session_csrf(const char *token, char out[65]);

/* A new session for clinician_id, valid for lifetime_s from c->now (the
 * absolute limit). *token (arena) goes into the cookie and nowhere else.
 * user_agent may be NULL; it is stored cut to printable ASCII. */
int session_create(struct ctx *c, int64_t clinician_id, bool mfa_pending, long lifetime_s,
                   const char *user_agent, char **token, int64_t *id);

/* The live session of token, not idle for idle_s or longer. Touches
 * last_seen_at when it is older than min(60 s, idle_s / 4).
 * ERR_NOT_FOUND when there is none (unknown, expired, revoked, idle, or an
 * inactive clinician). */
int session_lookup(struct ctx *c, const char *token, long idle_s, struct session_info *out);

/* Revokes one session (no-op when already revoked). */
int session_revoke(struct ctx *c, int64_t id, const char *reason);
/* Revokes clinician_id's session `id`; ERR_NOT_FOUND when it is not
 * theirs or not live. */
int session_revoke_own(struct ctx *c, int64_t clinician_id, int64_t id, const char *reason);
/* Revokes every live session of clinician_id except `except` (0: all);
 * *n (may be NULL) receives how many. */
int session_revoke_all(struct ctx *c, int64_t clinician_id, int64_t except, const char *reason, int *n);
/* Counts a wrong TOTP code against a pending session; revokes it at
 * SESSION_MFA_TRIES. *left receives the tries left (0 = revoked). */
int session_mfa_failed(struct ctx *c, int64_t id, int *left);

/* Live sessions of clinician_id, newest first: [{id, created, last_seen,
 * ip, user_agent, mfa_pending}] with times as Unix seconds. */
int session_list(struct ctx *c, int64_t clinician_id, json_t **rows);

/* Deletes sessions that ended over a week ago and stale throttle rows. */
int session_purge(struct ctx *c, int *n);

#endif
