/* hash.c — SHA-256, HMAC-SHA-1 (TOTP) and constant-time comparison. */
#include "crypto/crypto.h"

#include <mbedtls/md.h>
#include <mbedtls/sha256.h>

void crypto_sha256(const void *data, size_t n, unsigned char out[32])
{
	if (mbedtls_sha256_ret(data, n, out, 0) != 0)
		BUG("sha256 failed");
}

void crypto_sha256_hex(const void *data, size_t n, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char d[32];
	crypto_sha256(data, n, d);
	for (int i = 0; i < 32; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[64] = '\0';
}

void crypto_hmac_sha1(const void *key, size_t keylen, const void *msg, size_t n, unsigned char out[20])
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA1);
	if (!md || mbedtls_md_hmac(md, key, keylen, msg, n, out) != 0)
		BUG("hmac-sha1 failed");
}

bool crypto_equal(const void *a, const void *b, size_t n)
{
	const volatile unsigned char *x = a, *y = b;
	unsigned char acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= x[i] ^ y[i];
	return acc == 0;
}
