/* libFuzzer target: the multipart/form-data parser (file uploads). The
 * first line of the input is the Content-Type header, the rest the body. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "http/multipart.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	if (!nl)
		return 0;
	struct arena a;
	arena_init(&a);
	char *ct = arena_strndup(&a, (const char *)data, (size_t)(nl - data));
	size_t blen = size - (size_t)(nl - data) - 1;
	char *body = arena_alloc(&a, blen + 1);
	memcpy(body, nl + 1, blen);
	body[blen] = '\0';
	struct form f;
	const char *bad;
	if (multipart_parse(&a, ct, body, blen, &f, &bad) == 0) {
		if (f.n > MULTIPART_MAX_PARTS)
			__builtin_trap();
		for (size_t i = 0; i < f.n; i++) {
			/* Every value lies inside the body and is NUL-terminated. */
			if (f.fields[i].value_len > blen ||
			    f.fields[i].value[f.fields[i].value_len] != '\0' || !*f.fields[i].name)
				__builtin_trap();
		}
	}
	arena_release(&a);
	return 0;
}
