/*
 * auth.h — who may sign in: passwords (Argon2id, rehashed on login when
 * the parameters change), brute-force limits, TOTP two-factor with
 * recovery codes, and password changes (SPEC §5, issue 7 item 1).
 *
 * Brute force: every attempt is counted per account and per client
 * address in PostgreSQL *before* the password is checked, under a row
 * lock, so parallel requests and several server processes share one
 * count; a success takes its own count back (and clears the account's).
 * Past `free_attempts` failures (five times as many per address) each
 * further attempt waits base × 2^(n - free) seconds, at most max: slower
 * and slower, never locked for good, and the right password works as soon
 * as the wait is over. Unknown accounts cost the same Argon2id work
 * (a dummy hash) and are counted the same way.
 */
#ifndef TANDEM_ADMIN_AUTH_H
#define TANDEM_ADMIN_AUTH_H

#include <jansson.h>

#include "core/ctx.h"
#include "crypto/keys.h"

enum {
	AUTH_PASSWORD_MIN = 10,   /* characters (bytes) in a new password */
	AUTH_PASSWORD_MAX = 1024, /* longer ones are refused unhashed */
	AUTH_RECOVERY_CODES = 10, /* made at TOTP enrolment */
	AUTH_ADDRESS_FACTOR = 5,  /* an address gets this many times an account's free attempts */
};

struct auth_policy {
	long free_attempts;  /* failures per account before waits begin */
	long backoff_base_s; /* the first wait */
	long backoff_max_s;  /* the longest wait */
};

/* Seconds to wait after the `failures`-th consecutive failure: 0 below
 * free, then base × 2^(failures - free), at most max. */
long auth_backoff(long failures, long free, long base_s, long max_s);

struct auth_login {
	int64_t clinician_id; /* the account, when the password was right */
	bool totp;            /* the account has TOTP: a code is owed next */
	long retry_after;     /* seconds, with ERR_RATE_LIMITED */
};

/* Checks email and password. 0 when right (rehashing a hash made with
 * other parameters); ERR_UNAUTHORIZED when wrong or unknown (audited as
 * login.failure); ERR_RATE_LIMITED with out->retry_after while a wait is
 * on (login.throttled). */
int auth_login(struct ctx *c, const struct auth_policy *p, const char *email, const char *password,
               struct auth_login *out);

/* The password of a signed-in clinician again (password change, TOTP
 * off), under the same limits. 0, ERR_UNAUTHORIZED or ERR_RATE_LIMITED. */
int auth_recheck_password(struct ctx *c, const struct auth_policy *p, int64_t clinician_id, const char *email,
                          const char *password, long *retry_after);

/* Changes the password: current must be right, fresh 10-1024 characters,
 * other than current, and equal to confirm. Every other session of the
 * clinician is revoked (except_session stays). ERR_INVALID with *fields
 * (new reference) naming "current", "password" or "confirm"; ERR_RATE_LIMITED
 * with *retry_after. */
int auth_change_password(struct ctx *c, const struct auth_policy *p, int64_t clinician_id, const char *email,
                         const char *current, const char *fresh, const char *confirm, int64_t except_session,
                         json_t **fields, long *retry_after);

/* ---- TOTP -------------------------------------------------------------- */

/* Whether the clinician has confirmed TOTP, and whether an enrolment is
 * waiting for its first code. */
int auth_totp_state(struct ctx *c, int64_t clinician_id, bool *enabled, bool *pending);
/* Starts (or restarts) an enrolment with a fresh secret, sealed at rest.
 * ERR_CONFLICT when TOTP is already on. */
int auth_totp_begin(struct ctx *c, const struct keyring *k, int64_t clinician_id);
/* The secret of the enrolment in progress, base32. ERR_NOT_FOUND if none. */
int auth_totp_pending_secret(struct ctx *c, const struct keyring *k, int64_t clinician_id, char **secret_b32);
/* Confirms the enrolment with a first code: TOTP is on from now, and
 * *codes (new reference) holds the AUTH_RECOVERY_CODES recovery codes,
 * shown once and stored only hashed. ERR_UNAUTHORIZED for a wrong code,
 * ERR_INVALID for one that is not six digits, ERR_NOT_FOUND without an
 * enrolment. */
int auth_totp_confirm(struct ctx *c, const struct keyring *k, int64_t clinician_id, const char *code,
                      json_t **codes);
/* Turns TOTP off and deletes the recovery codes (password checked by the
 * caller). */
int auth_totp_disable(struct ctx *c, int64_t clinician_id);
/* The login step after the password: a current code (each accepted once)
 * or an unused recovery code (then used up). *method is "totp" or
 * "recovery". Counted under the login limits. 0, ERR_UNAUTHORIZED,
 * ERR_RATE_LIMITED (with *retry_after). */
int auth_totp_login(struct ctx *c, const struct auth_policy *p, const struct keyring *k, int64_t clinician_id,
                    const char *email, const char *code, const char **method, long *retry_after);

/* For tests: a recovery code in the canonical form ("ABCD-EFGH-JKLM-NPQR"
 * → "ABCDEFGHJKLMNPQR"); NULL when it cannot be one. */
char *auth_recovery_normalise(struct arena *a, const char *code);

#endif
