/* libFuzzer target: the encrypted envelope parser and key file parser. */
#include <stddef.h>
#include <stdint.h>

#include "crypto/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char RING[] = "index 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f\n"
                           "key k1 1111111111111111111111111111111111111111111111111111111111111111\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct keyring *k;
	char err[200];
	if (!k && keyring_parse(RING, &k, err, sizeof(err)) != 0)
		__builtin_trap();
	struct arena a;
	arena_init(&a);
	char *pt;
	size_t n;
	char id[KEY_ID_MAX + 1];
	crypto_envelope_key_id(data, size, id);
	if (crypto_open(k, &a, data, size, "t.c:1", &pt, &n) == 0 && n > size)
		__builtin_trap();
	/* The same bytes as a key file. */
	char *text = arena_strndup(&a, (const char *)data, size);
	struct keyring *other;
	if (keyring_parse(text, &other, err, sizeof(err)) == 0)
		keyring_free(other);
	arena_release(&a);
	return 0;
}
