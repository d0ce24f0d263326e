/* password.c — Argon2id password hashing through libargon2. */
#include "crypto/crypto.h"

#include <argon2.h>

/* OWASP's recommended minimum for Argon2id: 19 MiB, 2 passes, 1 lane. */
enum { PW_M_COST = 19456, PW_T_COST = 2, PW_LANES = 1, PW_SALT = 16, PW_HASH = 32 };

int crypto_password_hash(const char *password, char *out, size_t outlen)
{
	unsigned char salt[PW_SALT];
	crypto_random(salt, sizeof(salt));
	int rc = argon2id_hash_encoded(PW_T_COST, PW_M_COST, PW_LANES, password, strlen(password), salt,
	                               sizeof(salt), PW_HASH, out, outlen);
	return rc == ARGON2_OK ? 0 : ERR_INTERNAL;
}

int crypto_password_verify(const char *encoded, const char *password, bool *needs_rehash)
{
	char want[64];
	snprintf(want, sizeof(want), "$argon2id$v=19$m=%d,t=%d,p=%d$", PW_M_COST, PW_T_COST, PW_LANES);
	if (needs_rehash)
		*needs_rehash = strncmp(encoded, want, strlen(want)) != 0;
	int rc = argon2id_verify(encoded, password, strlen(password));
	if (rc == ARGON2_OK)
		return 0;
	if (rc == ARGON2_VERIFY_MISMATCH || rc == ARGON2_DECODING_FAIL)
		return ERR_UNAUTHORIZED;
	return ERR_INTERNAL;
}
