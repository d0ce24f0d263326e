/* libFuzzer target: the urlencoded form / query decoder. */
#include <stddef.h>
#include <stdint.h>

#include "http/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena a;
	arena_init(&a);
	struct form f;
	const char *bad;
	if (form_parse(&a, (const char *)data, size, &f, &bad) == 0) {
		for (size_t i = 0; i < f.n; i++) {
			/* Every decoded field is text and NUL-terminated where it says. */
			if (!str_valid_text((struct str){f.fields[i].value, f.fields[i].value_len}) ||
			    strlen(f.fields[i].value) != f.fields[i].value_len)
				__builtin_trap();
			form_urlencode(&a, f.fields[i].name);
		}
	}
	arena_release(&a);
	return 0;
}
