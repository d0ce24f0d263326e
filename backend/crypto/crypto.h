/*
 * crypto.h — every cryptographic primitive Tandem uses, behind one folder.
 *
 * mbedtls 2.28 is past its end of life; keeping all of it here means moving
 * to 3.6 touches only this folder. Random bytes come from a CTR-DRBG seeded
 * from the OS entropy source, one per thread (no lock on the hot path).
 */
#ifndef TANDEM_CRYPTO_CRYPTO_H
#define TANDEM_CRYPTO_CRYPTO_H

#include "core/arena.h"

/* Fills out with n cryptographically secure random bytes; aborts if the
 * entropy source fails (nothing safe can be done without it). */
void crypto_random(void *out, size_t n);

/* A capability or session token: `bytes` random bytes, base64url without
 * padding, from the arena. 16 bytes = 128 bits. */
char *crypto_token(struct arena *a, size_t bytes);

/* SHA-256 of data, as 64 lowercase hex characters plus NUL into hex. */
void crypto_sha256_hex(const void *data, size_t n, char hex[65]);
void crypto_sha256(const void *data, size_t n, unsigned char out[32]);

/* HMAC-SHA-1 (RFC 2104) of msg under key: only for TOTP (RFC 6238), whose
 * authenticator apps all use SHA-1. Never for anything new. */
void crypto_hmac_sha1(const void *key, size_t keylen, const void *msg, size_t n, unsigned char out[20]);

/* Constant-time comparison of two equal-length buffers. */
bool crypto_equal(const void *a, const void *b, size_t n);

/* Argon2id with OWASP parameters (19 MiB, t=2, p=1). The encoded form
 * ($argon2id$v=19$m=...) is written into out (outlen >= 128). */
int crypto_password_hash(const char *password, char *out, size_t outlen);
/* 0 when password matches encoded; ERR_UNAUTHORIZED when not;
 * *needs_rehash set when encoded used other parameters. */
int crypto_password_verify(const char *encoded, const char *password, bool *needs_rehash);

#endif
