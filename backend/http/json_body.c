/* json_body.c — see json_body.h. */
#include "http/json_body.h"

#include "core/buf.h"

static void decref(void *p)
{
	json_decref(p);
}

/* Walks v; on the first bad string records its path in path and fails. */
static int check(json_t *v, struct buf *path, int depth)
{
	if (depth > JSON_BODY_MAX_DEPTH)
		return ERR_MALFORMED;
	if (json_is_string(v)) {
		struct str s = {json_string_value(v), json_string_length(v)};
		return str_valid_text(s) ? 0 : ERR_INVALID;
	}
	size_t mark = path->len;
	if (json_is_object(v)) {
		const char *key;
		json_t *child;
		json_object_foreach(v, key, child)
		{
			path->len = mark;
			if (mark)
				buf_putc(path, '.');
			buf_puts(path, key);
			if (!str_valid_text(str_from(key)))
				return ERR_INVALID;
			int rc = check(child, path, depth + 1);
			if (rc)
				return rc;
		}
	} else if (json_is_array(v)) {
		size_t i;
		json_t *child;
		json_array_foreach(v, i, child)
		{
			path->len = mark;
			buf_printf(path, "[%zu]", i);
			int rc = check(child, path, depth + 1);
			if (rc)
				return rc;
		}
	}
	path->len = mark;
	if (path->data)
		path->data[mark] = '\0';
	return 0;
}

int json_body_parse(struct arena *a, const char *body, size_t len, json_t **out, char *msg, size_t msglen,
                    const char **field)
{
	*out = NULL;
	*field = NULL;
	json_error_t e;
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &e);
	if (!j) {
		/* e.text may quote raw (invalid) bytes of the input: keep it out. */
		snprintf(msg, msglen, "The body is not valid JSON (line %d, column %d).", e.line, e.column);
		return ERR_MALFORMED;
	}
	arena_on_release(a, decref, j);
	struct buf path;
	buf_init(&path, a, 512);
	int rc = check(j, &path, 0);
	if (rc == ERR_MALFORMED) {
		snprintf(msg, msglen, "The body is nested more than %d levels deep.", JSON_BODY_MAX_DEPTH);
		return rc;
	}
	if (rc) {
		*field = path.len ? arena_strdup(a, buf_cstr(&path)) : "(body)";
		snprintf(msg, msglen, "A value is not valid text.");
		return rc;
	}
	*out = j;
	return 0;
}
