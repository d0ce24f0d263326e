/* intake_form.c — form definitions and answers without a database: the
 * shape check, the answer decoder, conditional display, required
 * questions and the screening rules (see intake.h). Pure functions, so
 * the unit tests and the fuzzer call them directly. */
#include "intake/intake.h"

#include <string.h>

#include "core/common.h"
#include "core/err.h"
#include "core/str.h"

static const char *const TYPES[] = {"short_text", "long_text", "single_choice", "multi_choice",
                                    "scale",      "date",      "yes_no"};
static const char *const FLAGS[] = {"ipv", "substance", "affair", "suicide_risk", "ambivalence"};

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static bool in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		if (!strcmp(s, list[i]))
			return true;
	return false;
}

/* Characters (code points) in valid UTF-8. */
static size_t utf8_chars(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80)
			c++;
	return c;
}

json_t *intake_question(json_t *def, const char *qid)
{
	size_t i, j;
	json_t *page, *q;
	json_array_foreach(json_object_get(def, "pages"), i, page)
	{
		json_array_foreach(json_object_get(page, "questions"), j, q)
		{
			const char *id = jstr(q, "id");
			if (id && !strcmp(id, qid))
				return q;
		}
	}
	return NULL;
}

static bool choice_ok(json_t *q, const char *v)
{
	size_t i;
	json_t *ch;
	json_array_foreach(json_object_get(q, "choices"), i, ch)
	{
		const char *cv = jstr(ch, "value");
		if (cv && v && !strcmp(cv, v))
			return true;
	}
	return false;
}

int intake_form_check(json_t *def, char *err, size_t errlen)
{
	size_t i, j, k;
	json_t *page, *q, *ch, *rule;
	if (!json_is_object(def) || !jstr(def, "slug") || !jstr(def, "title") ||
	    !json_is_array(json_object_get(def, "pages")) ||
	    !json_array_size(json_object_get(def, "pages"))) {
		snprintf(err, errlen, "a form needs slug, title and pages");
		return ERR_INVALID;
	}
	json_array_foreach(json_object_get(def, "pages"), i, page)
	{
		if (!jstr(page, "id") || !jstr(page, "title") ||
		    !json_is_array(json_object_get(page, "questions"))) {
			snprintf(err, errlen, "page %zu needs id, title and questions", i);
			return ERR_INVALID;
		}
		json_array_foreach(json_object_get(page, "questions"), j, q)
		{
			const char *id = jstr(q, "id"), *type = jstr(q, "type");
			if (!id || !jstr(q, "label") || !in_list(type, TYPES, ARRAY_LEN(TYPES)) ||
			    strlen(id) > 64) {
				snprintf(err, errlen, "page %zu question %zu: id, label and a known type", i,
				         j);
				return ERR_INVALID;
			}
			if (intake_question(def, id) != q) {
				snprintf(err, errlen, "question %s appears twice", id);
				return ERR_INVALID;
			}
			if (!strcmp(type, "single_choice") || !strcmp(type, "multi_choice")) {
				if (!json_array_size(json_object_get(q, "choices"))) {
					snprintf(err, errlen, "question %s has no choices", id);
					return ERR_INVALID;
				}
				json_array_foreach(json_object_get(q, "choices"), k, ch)
				{
					if (jstr(ch, "value") && jstr(ch, "label"))
						continue;
					snprintf(err, errlen, "question %s: a choice needs value and label",
					         id);
					return ERR_INVALID;
				}
			}
			if (!strcmp(type, "scale")) {
				json_t *mn = json_object_get(q, "min"), *mx = json_object_get(q, "max");
				if (!json_is_integer(mn) || !json_is_integer(mx) ||
				    json_integer_value(mn) >= json_integer_value(mx) ||
				    json_integer_value(mx) > 100 || json_integer_value(mn) < -100) {
					snprintf(err, errlen, "question %s: a scale needs min < max", id);
					return ERR_INVALID;
				}
			}
			json_t *si = json_object_get(q, "show_if");
			if (si) {
				/* Conditions look back only: a question depends on an earlier one. */
				const char *dep = jstr(si, "question");
				json_t *dq = dep ? intake_question(def, dep) : NULL;
				if (!dq || dq == q || !jstr(si, "equals")) {
					snprintf(err, errlen,
					         "question %s: show_if needs an earlier question and equals",
					         id);
					return ERR_INVALID;
				}
			}
		}
	}
	json_t *rules = json_object_get(def, "screening");
	if (rules && !json_is_array(rules)) {
		snprintf(err, errlen, "screening must be a list");
		return ERR_INVALID;
	}
	json_array_foreach(rules, i, rule)
	{
		json_t *w = json_object_get(rule, "when");
		const char *qid = jstr(w, "question");
		if (!in_list(jstr(rule, "flag"), FLAGS, ARRAY_LEN(FLAGS)) || !qid ||
		    !intake_question(def, qid) ||
		    !(jstr(w, "equals") || jstr(w, "includes") ||
		      json_is_integer(json_object_get(w, "at_most")) ||
		      json_is_integer(json_object_get(w, "at_least")))) {
			snprintf(err, errlen,
			         "screening rule %zu: a known flag and a condition on a question", i);
			return ERR_INVALID;
		}
	}
	return 0;
}

static bool valid_date(const char *s)
{
	int y, m, d;
	char tail;
	if (strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%c", &y, &m, &d, &tail) != 3 || s[4] != '-' ||
	    s[7] != '-')
		return false;
	for (int i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return false;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return false;
	return true;
}

/* Checks one answer; NULL when fine, else the message for the person. */
static const char *check_one(json_t *q, json_t *v)
{
	const char *type = jstr(q, "type");
	if (json_is_null(v))
		return NULL;
	if (!strcmp(type, "short_text") || !strcmp(type, "long_text")) {
		if (!json_is_string(v))
			return "Please answer in words.";
		json_t *ml = json_object_get(q, "max_length");
		size_t max = !strcmp(type, "short_text") ? 200 : INTAKE_TEXT_MAX;
		if (json_is_integer(ml) && json_integer_value(ml) > 0 && (size_t)json_integer_value(ml) < max)
			max = (size_t)json_integer_value(ml);
		const char *s = json_string_value(v);
		size_t n = json_string_length(v);
		if (strlen(s) != n || !str_valid_text((struct str){s, n}))
			return "This answer contains characters that cannot be stored.";
		if (utf8_chars(s, n) > max)
			return "This answer is too long.";
		return NULL;
	}
	if (!strcmp(type, "single_choice"))
		return json_is_string(v) && choice_ok(q, json_string_value(v))
		           ? NULL
		           : "Please choose one of the options.";
	if (!strcmp(type, "yes_no"))
		return json_is_string(v) &&
		               (!strcmp(json_string_value(v), "yes") || !strcmp(json_string_value(v), "no"))
		           ? NULL
		           : "Please answer yes or no.";
	if (!strcmp(type, "multi_choice")) {
		if (!json_is_array(v) || json_array_size(v) > INTAKE_CHOICES_MAX)
			return "Please choose from the options.";
		size_t i, j;
		json_t *e, *f;
		json_array_foreach(v, i, e)
		{
			if (!json_is_string(e) || !choice_ok(q, json_string_value(e)))
				return "Please choose from the options.";
			json_array_foreach(v, j, f)
			{
				if (j < i && json_equal(e, f))
					return "Each option can be chosen once.";
			}
		}
		return NULL;
	}
	if (!strcmp(type, "scale")) {
		json_int_t mn = json_integer_value(json_object_get(q, "min"));
		json_int_t mx = json_integer_value(json_object_get(q, "max"));
		if (!json_is_integer(v) || json_integer_value(v) < mn || json_integer_value(v) > mx)
			return "Please choose a point on the scale.";
		return NULL;
	}
	if (!strcmp(type, "date"))
		return json_is_string(v) && valid_date(json_string_value(v))
		           ? NULL
		           : "Please give a date as YYYY-MM-DD.";
	return "This question cannot be answered.";
}

int intake_check_answers(json_t *def, json_t *answers, json_t *fields)
{
	if (!json_is_object(answers))
		return ERR_MALFORMED;
	const char *key;
	json_t *v;
	int bad = 0;
	json_object_foreach(answers, key, v)
	{
		json_t *q = intake_question(def, key);
		const char *msg = q ? check_one(q, v) : "There is no such question.";
		if (msg) {
			/* Only ids of the form go back as field names; an unknown key
			 * is reported under a fixed name so nothing sent is echoed. */
			json_object_set_new(fields, q ? key : "answers", json_string(msg));
			bad++;
		}
	}
	return bad ? ERR_INVALID : 0;
}

int intake_decode_answers(json_t *def, const char *text, size_t len, json_t **out, json_t **fields)
{
	*out = NULL;
	*fields = NULL;
	if (len > INTAKE_ANSWERS_MAX)
		return ERR_TOO_LARGE;
	json_error_t e;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &e);
	if (!json_is_object(j)) {
		json_decref(j);
		return ERR_MALFORMED;
	}
	json_t *f = json_object();
	int rc = intake_check_answers(def, j, f);
	if (rc) {
		json_decref(j);
		*fields = f;
		return rc;
	}
	json_decref(f);
	*out = j;
	return 0;
}

bool intake_visible(json_t *def, json_t *q, json_t *answers)
{
	/* A chain of conditions is followed a bounded number of steps. */
	for (int depth = 0; depth < 8; depth++) {
		json_t *si = json_object_get(q, "show_if");
		if (!si)
			return true;
		const char *dep = jstr(si, "question"), *eq = jstr(si, "equals");
		json_t *a = dep ? json_object_get(answers, dep) : NULL;
		if (!eq || !json_is_string(a) || strcmp(json_string_value(a), eq))
			return false;
		q = intake_question(def, dep);
		if (!q)
			return false;
	}
	return false;
}

static bool answered(json_t *v)
{
	if (json_is_string(v))
		return json_string_length(v) > 0;
	if (json_is_array(v))
		return json_array_size(v) > 0;
	return json_is_integer(v);
}

int intake_missing(json_t *def, json_t *answers, json_t *fields)
{
	size_t i, j;
	json_t *page, *q;
	int n = 0;
	json_array_foreach(json_object_get(def, "pages"), i, page)
	{
		json_array_foreach(json_object_get(page, "questions"), j, q)
		{
			if (!json_is_true(json_object_get(q, "required")) || !intake_visible(def, q, answers))
				continue;
			if (!answered(json_object_get(answers, jstr(q, "id")))) {
				json_object_set_new(fields, jstr(q, "id"),
				                    json_string("Please answer this question."));
				n++;
			}
		}
	}
	return n;
}

void intake_drop_hidden(json_t *def, json_t *answers)
{
	/* Collect first: deleting while iterating a jansson object is unsafe. */
	json_t *gone = json_array();
	const char *key;
	json_t *v;
	json_object_foreach(answers, key, v)
	{
		json_t *q = intake_question(def, key);
		if (!q || !intake_visible(def, q, answers) || json_is_null(v))
			json_array_append_new(gone, json_string(key));
	}
	size_t i;
	json_array_foreach(gone, i, v)
	{
		json_object_del(answers, json_string_value(v));
	}
	json_decref(gone);
}

static bool rule_hits(json_t *when, json_t *answers)
{
	json_t *a = json_object_get(answers, jstr(when, "question"));
	const char *eq = jstr(when, "equals"), *inc = jstr(when, "includes");
	json_t *most = json_object_get(when, "at_most"), *least = json_object_get(when, "at_least");
	if (eq)
		return json_is_string(a) && !strcmp(json_string_value(a), eq);
	if (inc) {
		size_t i;
		json_t *e;
		json_array_foreach(a, i, e)
		{
			if (json_is_string(e) && !strcmp(json_string_value(e), inc))
				return true;
		}
		return false;
	}
	if (json_is_integer(most))
		return json_is_integer(a) && json_integer_value(a) <= json_integer_value(most);
	if (json_is_integer(least))
		return json_is_integer(a) && json_integer_value(a) >= json_integer_value(least);
	return false;
}

json_t *intake_screen(json_t *def, json_t *answers)
{
	json_t *flags = json_array();
	size_t i, j;
	json_t *rule, *f;
	json_array_foreach(json_object_get(def, "screening"), i, rule)
	{
		const char *flag = jstr(rule, "flag");
		if (!flag || !rule_hits(json_object_get(rule, "when"), answers))
			continue;
		bool have = false;
		json_array_foreach(flags, j, f)
		{
			have = have || !strcmp(json_string_value(f), flag);
		}
		if (!have)
			json_array_append_new(flags, json_string(flag));
	}
	return flags;
}

const char *intake_answer_text(struct arena *a, json_t *q, json_t *v)
{
	const char *type = jstr(q, "type");
	if (!v || json_is_null(v) || !type)
		return "";
	if (json_is_integer(v))
		return arena_printf(a, "%lld", (long long)json_integer_value(v));
	if (!strcmp(type, "yes_no") && json_is_string(v))
		return !strcmp(json_string_value(v), "yes") ? "Yes" : "No";
	if ((!strcmp(type, "single_choice") || !strcmp(type, "multi_choice"))) {
		json_t *vals = json_is_array(v) ? v : NULL;
		size_t n = vals ? json_array_size(vals) : 1, o = 0, cap = 4096;
		char *out = arena_alloc(a, cap);
		out[0] = 0;
		for (size_t i = 0; i < n; i++) {
			json_t *e = vals ? json_array_get(vals, i) : v;
			const char *label = json_is_string(e) ? json_string_value(e) : "";
			size_t k;
			json_t *ch;
			json_array_foreach(json_object_get(q, "choices"), k, ch)
			{
				if (jstr(ch, "value") && !strcmp(jstr(ch, "value"), label))
					label = jstr(ch, "label");
			}
			int w = snprintf(out + o, cap - o, "%s%s", i ? "; " : "", label);
			if (w < 0 || (size_t)w >= cap - o)
				break;
			o += (size_t)w;
		}
		return out;
	}
	return json_is_string(v) ? json_string_value(v) : "";
}
