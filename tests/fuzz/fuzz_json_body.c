/* libFuzzer target: the JSON request body reader. */
#include <stddef.h>
#include <stdint.h>

#include "http/json_body.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	arena_init(&a);
	json_t *j;
	char msg[160];
	const char *field;
	int rc = json_body_parse(&a, (const char *)data, size, &j, msg, sizeof(msg), &field);
	if (rc == 0) {
		char *s = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!s)
			__builtin_trap(); /* whatever we accepted must serialise again */
		free(s);
	}
	arena_release(&a);
	return 0;
}
