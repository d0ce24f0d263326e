/* totp.c — see totp.h. */
#include "admin/totp.h"

#include <ctype.h>

#include "crypto/crypto.h"
#include "http/form.h"

unsigned totp_hotp(const unsigned char *key, size_t keylen, uint64_t counter, int digits)
{
	BUG_ON(digits < 6 || digits > 8);
	uint32_t mod = 1;
	for (int i = 0; i < digits; i++)
		mod *= 10;
	unsigned char msg[8], mac[20];
	for (int i = 7; i >= 0; i--) {
		msg[i] = (unsigned char)(counter & 0xff);
		counter >>= 8;
	}
	crypto_hmac_sha1(key, keylen, msg, sizeof(msg), mac);
	/* RFC 4226 §5.3: dynamic truncation. */
	int off = mac[19] & 0x0f;
	uint32_t bin = ((uint32_t)(mac[off] & 0x7f) << 24) | ((uint32_t)mac[off + 1] << 16) |
	               ((uint32_t)mac[off + 2] << 8) | (uint32_t)mac[off + 3];
	return bin % mod;
}

int64_t totp_step(int64_t t)
{
	return t >= 0 ? t / TOTP_PERIOD : -((-t + TOTP_PERIOD - 1) / TOTP_PERIOD);
}

int totp_verify(const unsigned char *key, size_t keylen, int64_t now, const char *code, int64_t last_step,
                int64_t *step)
{
	if (!code)
		return ERR_INVALID;
	unsigned want = 0;
	int nd = 0;
	for (const char *p = code; *p; p++) {
		if (*p == ' ' || *p == '-')
			continue;
		if (!isdigit((unsigned char)*p) || nd == TOTP_DIGITS)
			return ERR_INVALID;
		want = want * 10 + (unsigned)(*p - '0');
		nd++;
	}
	if (nd != TOTP_DIGITS)
		return ERR_INVALID;
	int64_t s = totp_step(now);
	/* Check every candidate step (no early exit) so timing says nothing. */
	int64_t found = 0;
	bool ok = false;
	for (int64_t d = -TOTP_DRIFT; d <= TOTP_DRIFT; d++) {
		int64_t c = s + d;
		if (c < 0)
			continue;
		unsigned got = totp_hotp(key, keylen, (uint64_t)c, TOTP_DIGITS);
		if (got == want && c > last_step && !ok) {
			ok = true;
			found = c;
		}
	}
	if (!ok)
		return ERR_UNAUTHORIZED;
	*step = found;
	return 0;
}

static const char B32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

char *totp_base32(struct arena *a, const unsigned char *p, size_t n)
{
	char *out = arena_alloc(a, (n * 8 + 4) / 5 + 1);
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		acc = (acc << 8) | p[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = B32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = B32[(acc << (5 - bits)) & 31];
	out[o] = '\0';
	return out;
}

int totp_base32_decode(const char *s, unsigned char *out, size_t max, size_t *n)
{
	unsigned acc = 0;
	int bits = 0;
	size_t o = 0;
	for (; *s; s++) {
		if (*s == ' ' || *s == '=')
			continue;
		const char *hit = strchr(B32, toupper((unsigned char)*s));
		if (!hit || !*s)
			return ERR_INVALID;
		acc = (acc << 5) | (unsigned)(hit - B32);
		bits += 5;
		if (bits >= 8) {
			if (o == max)
				return ERR_INVALID;
			out[o++] = (unsigned char)((acc >> (bits - 8)) & 0xff);
			bits -= 8;
		}
	}
	*n = o;
	return 0;
}

char *totp_uri(struct arena *a, const char *issuer, const char *account, const char *secret_b32)
{
	char *is = form_urlencode(a, issuer);
	return arena_printf(a, "otpauth://totp/%s:%s?secret=%s&issuer=%s&algorithm=SHA1&digits=%d&period=%d",
	                    is, form_urlencode(a, account), secret_b32, is, TOTP_DIGITS, TOTP_PERIOD);
}
