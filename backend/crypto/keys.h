/*
 * keys.h — data keys and the encrypted envelope for values at rest
 * (SPEC §5): AES-256-GCM, a random 96-bit nonce per value, the key id in
 * the envelope, and associated data that binds the value to its table,
 * column and row, so a ciphertext copied to another row does not open.
 *
 * Keys live in a file outside the database (mode 0600):
 *
 *     # comment
 *     index <64 hex>          key for blind indexes (HMAC), never rotated
 *     key <id> <64 hex>       the FIRST key line encrypts new values
 *     key <id> <64 hex>       older keys still decrypt
 *
 * Rotation: put a new key line first, restart, run the re-encryption
 * command; old lines can go once nothing uses them.
 *
 * Envelope: 0x01 | idlen (1 byte) | id | nonce (12) | ciphertext | tag (16).
 */
#ifndef TANDEM_CRYPTO_KEYS_H
#define TANDEM_CRYPTO_KEYS_H

#include "core/arena.h"

struct keyring;

enum { KEY_ID_MAX = 32, ENVELOPE_NONCE = 12, ENVELOPE_TAG = 16 };

/* Loads a key file; refuses one readable by group or others. */
int keyring_load(const char *path, struct keyring **out, char *err, size_t errlen);
/* Builds a keyring from text (tests and the fuzzer; no file checks). */
int keyring_parse(const char *text, struct keyring **out, char *err, size_t errlen);
void keyring_free(struct keyring *k);
/* Writes a new key file with fresh random keys, mode 0600; refuses to
 * overwrite an existing file. */
int keyring_generate_file(const char *path, char *err, size_t errlen);
/* The id of the key that encrypts new values. */
const char *keyring_current_id(const struct keyring *k);

/* Encrypts pt under the current key; *out (arena) is the envelope. */
int crypto_seal(const struct keyring *k, struct arena *a, const void *pt, size_t n, const char *ad,
                unsigned char **out, size_t *outlen);
/* Decrypts an envelope; *pt (arena) is NUL-terminated. ERR_MALFORMED for
 * a damaged envelope, ERR_NOT_FOUND for an unknown key id, ERR_FORBIDDEN
 * when authentication fails (wrong row, tampered). */
int crypto_open(const struct keyring *k, struct arena *a, const unsigned char *env, size_t n, const char *ad,
                char **pt, size_t *ptlen);
/* The key id an envelope names (for rotation), copied into id. */
int crypto_envelope_key_id(const unsigned char *env, size_t n, char id[KEY_ID_MAX + 1]);

/* HMAC-SHA256 of a normalised value under the index key, as 64 hex:
 * lets us find "all bookings of this email" without storing the email. */
void crypto_blind_index(const struct keyring *k, const char *value, char hex[65]);

/* A capability token derived from label (e.g. "booking-link:<uid>:2"):
 * base64url of the first 16 bytes (128 bits) of HMAC-SHA256 under the index
 * key, domain-separated from blind indexes. Anyone without the key file
 * cannot compute it, and the server can compute it again whenever it needs
 * the link (a reminder weeks later), so the token itself is never stored,
 * not even encrypted: the database keeps only its SHA-256. From arena a. */
char *crypto_link_token(const struct keyring *k, struct arena *a, const char *label);

/* Hex helpers for bytea in text mode ("\\x..."). */
char *crypto_bytea_hex(struct arena *a, const unsigned char *p, size_t n);
int crypto_bytea_parse(struct arena *a, const char *text, unsigned char **out, size_t *n);

#endif
