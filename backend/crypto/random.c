/* random.c — per-thread CTR-DRBG over the platform entropy source. */
#include "crypto/crypto.h"

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <pthread.h>

struct rng {
	mbedtls_entropy_context entropy; /* OS entropy (getrandom) */
	mbedtls_ctr_drbg_context drbg;   /* seeded from it, reseeds itself */
	bool ready;                      /* seeded on first use in this thread */
};

static _Thread_local struct rng *tls_rng;
static pthread_key_t rng_key;
static pthread_once_t rng_once = PTHREAD_ONCE_INIT;

static void rng_free(void *p)
{
	struct rng *r = p;
	mbedtls_ctr_drbg_free(&r->drbg);
	mbedtls_entropy_free(&r->entropy);
	free(r);
}

static void rng_key_init(void)
{
	if (pthread_key_create(&rng_key, rng_free) != 0)
		BUG("pthread_key_create");
}

static struct rng *rng_get(void)
{
	if (tls_rng)
		return tls_rng;
	pthread_once(&rng_once, rng_key_init);
	struct rng *r = xcalloc(1, sizeof(*r));
	mbedtls_entropy_init(&r->entropy);
	mbedtls_ctr_drbg_init(&r->drbg);
	static const char pers[] = "tandem-rng";
	if (mbedtls_ctr_drbg_seed(&r->drbg, mbedtls_entropy_func, &r->entropy, (const unsigned char *)pers,
	                          sizeof(pers) - 1) != 0)
		BUG("cannot seed the random generator");
	mbedtls_ctr_drbg_set_prediction_resistance(&r->drbg, MBEDTLS_CTR_DRBG_PR_OFF);
	pthread_setspecific(rng_key, r);
	tls_rng = r;
	return r;
}

void crypto_random(void *out, size_t n)
{
	struct rng *r = rng_get();
	unsigned char *p = out;
	while (n) {
		size_t chunk = n > MBEDTLS_CTR_DRBG_MAX_REQUEST ? MBEDTLS_CTR_DRBG_MAX_REQUEST : n;
		if (mbedtls_ctr_drbg_random(&r->drbg, p, chunk) != 0)
			BUG("random generator failed");
		p += chunk;
		n -= chunk;
	}
}

char *crypto_token(struct arena *a, size_t bytes)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char raw[64];
	BUG_ON(bytes == 0 || bytes > sizeof(raw));
	crypto_random(raw, bytes);
	char *out = arena_alloc(a, (bytes * 4 + 2) / 3 + 1);
	size_t o = 0;
	for (size_t i = 0; i < bytes; i += 3) {
		unsigned v = (unsigned)raw[i] << 16;
		if (i + 1 < bytes)
			v |= (unsigned)raw[i + 1] << 8;
		if (i + 2 < bytes)
			v |= raw[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		if (i + 1 < bytes)
			out[o++] = b64[(v >> 6) & 63];
		if (i + 2 < bytes)
			out[o++] = b64[v & 63];
	}
	out[o] = '\0';
	return out;
}
