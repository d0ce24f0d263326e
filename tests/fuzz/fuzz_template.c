/*
 * Fuzz target: the Mustache parser and renderer (http/template.c).
 *
 * The input is up to three templates separated by NUL bytes, added as
 * "main", "p" and "q" (so {{>p}}, {{<q}}...{{/q}} and self-inclusion are
 * reachable), each rendered against a small fixed context into a buf with a
 * 1 MiB max. Parse errors are fine; crashes, leaks, undefined behaviour and
 * output past the max are not. Seeds: tests/fuzz/corpus/template/.
 */
#include "core/common.h"

#include "core/buf.h"
#include "http/template.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char context_json[] =
    "{\"a\": \"x<y>&\\\"'\", \"b\": [1, 2.5, \"s\", {\"c\": true}, [], null],"
    " \"t\": true, \"f\": false, \"n\": null, \"e\": [], \"i\": 42, \"r\": 1.21,"
    " \"o\": {\"p\": {\"q\": \"deep\"}, \"a\": \"inner\"},"
    " \"l\": [{\"a\": \"1\", \"l\": [{\"a\": \"2\"}]}, {\"a\": \"3\"}]}";

static json_t *context;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"main", "p", "q"};
	if (!context) {
		context = json_loads(context_json, 0, NULL);
		if (!context)
			abort();
	}

	struct tpl_set *set = tpl_set_new();
	/* Keep each input fast; the limit itself is part of what is tested. */
	tpl_set_max_steps(set, 50000);
	const char *s = (const char *)data;
	size_t start = 0;
	for (size_t k = 0; k < ARRAY_LEN(names) && start <= size; k++) {
		const char *nul = memchr(s + start, '\0', size - start);
		size_t end = nul ? (size_t)(nul - s) : size;
		char err[128];
		int rc = tpl_set_add(set, names[k], s + start, end - start, err, sizeof(err));
		if (rc != 0 && rc != ERR_INVALID)
			abort();
		if (rc == ERR_INVALID && strncmp(err, names[k], strlen(names[k])) != 0)
			abort(); /* messages always start with the name */
		start = end + 1;
	}
	char err[128];
	(void)tpl_set_check(set, err, sizeof(err));

	for (size_t k = 0; k < ARRAY_LEN(names); k++) {
		struct buf out;
		buf_init(&out, NULL, 1 << 20);
		int rc = tpl_render(set, names[k], context, &out);
		if (rc != 0 && rc != ERR_NOT_FOUND && rc != ERR_TOO_LARGE)
			abort();
		if (out.len > out.max || (rc == ERR_NOT_FOUND && tpl_set_has(set, names[k])))
			abort();
		buf_release(&out);
	}

	/* The escaper on the raw bytes: output is never shorter, and has no
	 * raw < > " ' left. */
	struct buf esc;
	buf_init(&esc, NULL, 8 * size + 16);
	tpl_escape_html(&esc, s, size);
	if (esc.err || esc.len < size)
		abort();
	for (size_t i = 0; i < esc.len; i++)
		if (esc.data[i] == '<' || esc.data[i] == '>' || esc.data[i] == '"' || esc.data[i] == '\'')
			abort();
	buf_release(&esc);

	tpl_set_free(set);
	return 0;
}
