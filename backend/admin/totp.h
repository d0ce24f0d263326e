/*
 * totp.h — time-based one-time passwords (RFC 6238 over RFC 4226 HOTP):
 * HMAC-SHA-1, 30-second steps, 6 digits, one step of clock drift either
 * way, which is what every authenticator app speaks. Pure functions: the
 * caller passes the time and the last step used, and stores the step a
 * code matched so that no code is accepted twice.
 *
 * Secrets are 20 random bytes, shown to the clinician once as base32 and
 * as an otpauth:// URI, and kept sealed at rest (crypto/keys.h).
 */
#ifndef TANDEM_ADMIN_TOTP_H
#define TANDEM_ADMIN_TOTP_H

#include "core/arena.h"

enum {
	TOTP_SECRET_BYTES = 20, /* RFC 4226 recommends 160 bits */
	TOTP_PERIOD = 30,       /* seconds per step */
	TOTP_DIGITS = 6,        /* digits per code */
	TOTP_DRIFT = 1,         /* steps accepted before and after now */
};

/* The HOTP value of counter under key, digits (6..8) long. */
unsigned totp_hotp(const unsigned char *key, size_t keylen, uint64_t counter, int digits);

/* The step of instant t (Unix seconds). */
int64_t totp_step(int64_t t);

/* Checks a code typed by a person (spaces allowed, exactly TOTP_DIGITS
 * digits otherwise) against the steps around now. Only steps after
 * last_step count, so a code, once used, is refused. 0 with *step set to
 * the matching step; ERR_UNAUTHORIZED when no step matches; ERR_INVALID
 * when code is not six digits. */
int totp_verify(const unsigned char *key, size_t keylen, int64_t now, const char *code, int64_t last_step,
                int64_t *step);

/* RFC 4648 base32 without padding (what authenticator apps expect). */
char *totp_base32(struct arena *a, const unsigned char *p, size_t n);
/* Decodes base32 (case-insensitive, spaces and '=' ignored) into out
 * (at most max bytes); *n receives the length. ERR_INVALID on a bad
 * character or when it does not fit. */
int totp_base32_decode(const char *s, unsigned char *out, size_t max, size_t *n);

/* otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30 */
char *totp_uri(struct arena *a, const char *issuer, const char *account, const char *secret_b32);

#endif
