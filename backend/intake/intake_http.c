/* intake_http.c — see intake_http.h. Handlers turn pages' form fields and
 * JSON bodies into an answers object, call intake.c, and render. Nothing
 * here says whether a booking exists for a token that does not open. */
#include "intake/intake_http.h"

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "intake/intake.h"

static struct ctx req_ctx(struct req *r)
{
	return (struct ctx){r->a, r->db, ctx_clock_now(), "client", r->remote_addr};
}

static char *param(struct req *r, int i)
{
	return arena_strndup(r->a, r->params[i].ptr, r->params[i].len);
}

static const char *jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void decref(void *p)
{
	json_decref(p);
}

static json_t *keep(struct arena *a, json_t *j)
{
	if (j)
		arena_on_release(a, decref, j);
	return j;
}

static const char MSG_SUBMITTED[] = "This form has been sent and can no longer be changed.";
static const char MSG_POLICY[] = "Please read and accept the confidentiality policy first.";

/* ---- the JSON API ------------------------------------------------------ */

static json_t *api_json(const struct intake_view *v)
{
	json_t *def = json_deep_copy(v->def);
	json_object_del(def, "screening"); /* the rules are the clinician's, not the client's */
	json_t *j = json_pack("{s:{s:s, s:i, s:s, s:o}, s:s, s:b, s:b, s:O}", "form", "slug", v->form_slug,
	                      "version", v->form_version, "sha256", v->form_sha256, "definition", def,
	                      "policy", v->policy ? v->policy : "", "policy_accepted", v->policy_accepted,
	                      "submitted", v->submitted, "answers", v->answers);
	if (!j)
		core_oom();
	return j;
}

static int api_answer(struct req *r, const char *token)
{
	struct ctx c = req_ctx(r);
	struct intake_view v;
	int rc = intake_open(&c, r->app->keys, token, &v);
	if (rc == ERR_NOT_FOUND)
		return http_send_link_not_valid(r);
	if (rc)
		return rc;
	return http_send_json(r, 200, api_json(&v));
}

int intake_http_api_get(struct req *r)
{
	return api_answer(r, param(r, 0));
}

static int api_error(struct req *r, int rc, json_t *fields)
{
	if (rc == ERR_NOT_FOUND)
		return http_send_link_not_valid(r);
	if (rc == ERR_INVALID)
		return http_send_error(r, rc, "Some answers need another look.", fields);
	if (rc == ERR_CONFLICT)
		return http_send_error(r, rc, MSG_SUBMITTED, NULL);
	if (rc == ERR_FORBIDDEN)
		return http_send_error(r, rc, MSG_POLICY, NULL);
	return rc;
}

/* {"accept_policy"?: true, "answers"?: {...}} */
int intake_http_api_put(struct req *r)
{
	char *token = param(r, 0);
	json_t *j = r->json;
	if (!json_is_object(j))
		return http_send_error(r, ERR_MALFORMED, "The body must be a JSON object.", NULL);
	json_t *answers = json_object_get(j, "answers");
	if (answers && !json_is_object(answers))
		return http_send_error(r, ERR_INVALID, "Some answers need another look.",
		                       json_pack("{s:s}", "answers", "Must be an object."));
	json_t *accept = json_object_get(j, "accept_policy");
	if (accept && !json_is_boolean(accept))
		return http_send_error(r, ERR_INVALID, "Some answers need another look.",
		                       json_pack("{s:s}", "accept_policy", "Must be true or false."));
	struct ctx c = req_ctx(r);
	json_t *fields = NULL;
	int rc = intake_save(&c, r->app->keys, token, answers, json_is_true(accept), &fields);
	if (rc)
		return api_error(r, rc, fields);
	return api_answer(r, token);
}

/* {"answers"?: {...}, "signature": "Full Name"} */
int intake_http_api_submit(struct req *r)
{
	char *token = param(r, 0);
	json_t *j = r->json;
	if (!json_is_object(j))
		return http_send_error(r, ERR_MALFORMED, "The body must be a JSON object.", NULL);
	json_t *answers = json_object_get(j, "answers");
	if (answers && !json_is_object(answers))
		return http_send_error(r, ERR_INVALID, "Some answers need another look.",
		                       json_pack("{s:s}", "answers", "Must be an object."));
	struct ctx c = req_ctx(r);
	json_t *fields = NULL;
	int rc = intake_submit(&c, r->app->keys, token, answers, jstr(j, "signature"), &fields);
	if (rc)
		return api_error(r, rc, fields);
	return api_answer(r, token);
}

/* ---- the HTML pages ---------------------------------------------------- */

static int npages(json_t *def)
{
	return (int)json_array_size(json_object_get(def, "pages"));
}

/* Which page: ?page=N (1-based); the signing step is npages + 1. */
static int page_number(const char *s, int max)
{
	if (!s || !*s || strlen(s) > 3)
		return 1;
	char *end;
	long n = strtol(s, &end, 10);
	if (*end || n < 1)
		return 1;
	return n > max ? max : (int)n;
}

static const char *value_text(struct arena *a, json_t *v)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v))
		return arena_printf(a, "%lld", (long long)json_integer_value(v));
	return "";
}

static bool has_value(json_t *v, const char *s)
{
	if (json_is_string(v))
		return !strcmp(json_string_value(v), s);
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
	{
		if (json_is_string(e) && !strcmp(json_string_value(e), s))
			return true;
	}
	return false;
}

/* One question for the template, with what the person typed. */
static json_t *question_view(struct req *r, json_t *def, json_t *q, json_t *answers, json_t *errors, bool ro)
{
	const char *id = jstr(q, "id"), *type = jstr(q, "type");
	json_t *v = json_object_get(answers, id);
	json_t *qv = json_pack("{s:s, s:s, s:s, s:b, s:b}", "id", id, "name", arena_printf(r->a, "q.%s", id),
	                       "label", jstr(q, "label"), "required",
	                       json_is_true(json_object_get(q, "required")), "read_only", ro);
	json_object_set_new(qv, arena_printf(r->a, "is_%s", type), json_true());
	if (jstr(q, "help"))
		json_object_set_new(qv, "help", json_string(jstr(q, "help")));
	json_t *si = json_object_get(q, "show_if");
	if (si) {
		json_t *dq = intake_question(def, jstr(si, "question"));
		json_object_set_new(qv, "show_if_question", json_string(jstr(si, "question")));
		json_object_set_new(qv, "show_if_value", json_string(jstr(si, "equals")));
		json_object_set_new(
		    qv, "condition",
		    json_string(arena_printf(r->a, "Only if your answer to “%s” was “%s”.",
		                             dq ? jstr(dq, "label") : "", jstr(si, "equals"))));
	}
	json_object_set_new(qv, "value", json_string(value_text(r->a, v)));
	if (json_is_integer(json_object_get(q, "max_length")))
		json_object_set(qv, "max_length", json_object_get(q, "max_length"));
	json_t *choices = json_array();
	if (!strcmp(type, "yes_no")) {
		json_array_append_new(choices, json_pack("{s:s, s:s, s:b}", "value", "yes", "label", "Yes",
		                                         "checked", has_value(v, "yes")));
		json_array_append_new(choices, json_pack("{s:s, s:s, s:b}", "value", "no", "label", "No",
		                                         "checked", has_value(v, "no")));
	} else if (!strcmp(type, "scale")) {
		json_int_t mn = json_integer_value(json_object_get(q, "min"));
		json_int_t mx = json_integer_value(json_object_get(q, "max"));
		for (json_int_t i = mn; i <= mx; i++) {
			char *s = arena_printf(r->a, "%lld", (long long)i);
			json_array_append_new(choices,
			                      json_pack("{s:s, s:s, s:b}", "value", s, "label", s, "checked",
			                                json_is_integer(v) && json_integer_value(v) == i));
		}
		json_object_set_new(qv, "min_label",
		                    json_string(jstr(q, "min_label") ? jstr(q, "min_label") : ""));
		json_object_set_new(qv, "max_label",
		                    json_string(jstr(q, "max_label") ? jstr(q, "max_label") : ""));
	} else {
		size_t i;
		json_t *ch;
		json_array_foreach(json_object_get(q, "choices"), i, ch)
		{
			json_array_append_new(choices,
			                      json_pack("{s:s, s:s, s:b}", "value", jstr(ch, "value"),
			                                "label", jstr(ch, "label"), "checked",
			                                has_value(v, jstr(ch, "value"))));
		}
	}
	size_t i;
	json_t *ch;
	json_array_foreach(choices, i, ch)
	{
		json_object_set_new(ch, "input_id", json_string(arena_printf(r->a, "q-%s-%zu", id, i)));
	}
	if (ro) {
		/* The answer in words, for the read-only summary. */
		const char *shown = value_text(r->a, v);
		if (json_is_array(v) || !strcmp(type, "single_choice") || !strcmp(type, "yes_no")) {
			struct buf b;
			buf_init(&b, r->a, 16 * 1024);
			json_array_foreach(choices, i, ch)
			{
				if (!json_is_true(json_object_get(ch, "checked")))
					continue;
				if (b.len)
					buf_puts(&b, "; ");
				buf_puts(&b, jstr(ch, "label"));
			}
			shown = buf_cstr(&b);
		}
		json_object_set_new(qv, "shown", json_string(shown));
	}
	json_object_set_new(qv, "choices", choices);
	if (errors && jstr(errors, id))
		json_object_set_new(qv, "error", json_string(jstr(errors, id)));
	return qv;
}

/* The error summary's list of links (released when empty). */
static void error_list(json_t *view, json_t *list)
{
	if (json_array_size(list)) {
		json_object_set_new(view, "has_error_list", json_true());
		json_object_set_new(view, "error_list", list);
	} else {
		json_decref(list);
	}
}

static int render(struct req *r, const char *token, struct intake_view *v, int page, json_t *errors,
                  const char *message, int status)
{
	int n = npages(v->def);
	json_t *view =
	    json_pack("{s:s, s:s, s:s, s:s}", "title", jstr(v->def, "title"), "intro",
	              jstr(v->def, "intro") ? jstr(v->def, "intro") : "", "policy",
	              v->policy ? v->policy : "", "action", arena_printf(r->a, "/intake/%s", token));
	if (message)
		json_object_set_new(view, "error", json_string(message));
	if (errors && json_object_size(errors))
		json_object_set_new(view, "has_errors", json_true());
	if (errors && jstr(errors, "signature"))
		json_object_set_new(view, "signature_error", json_string(jstr(errors, "signature")));
	if (v->submitted) {
		json_t *pages = json_array();
		size_t i, j;
		json_t *p, *q;
		json_array_foreach(json_object_get(v->def, "pages"), i, p)
		{
			json_t *qs = json_array();
			json_array_foreach(json_object_get(p, "questions"), j, q)
			{
				if (json_object_get(v->answers, jstr(q, "id")))
					json_array_append_new(
					    qs, question_view(r, v->def, q, v->answers, NULL, true));
			}
			json_array_append_new(
			    pages, json_pack("{s:s, s:o}", "title", jstr(p, "title"), "questions", qs));
		}
		json_object_set_new(view, "submitted", json_true());
		json_object_set_new(view, "pages", pages);
		return http_send_page(r, status, "pages/intake", view);
	}
	if (!v->policy_accepted) {
		json_object_set_new(view, "policy_step", json_true());
		return http_send_page(r, status, "pages/intake", view);
	}
	if (page > n) {
		json_object_set_new(view, "sign_step", json_true());
		json_t *list = json_array();
		size_t i, j;
		json_t *pg, *q;
		json_array_foreach(json_object_get(v->def, "pages"), i, pg)
		{
			json_array_foreach(json_object_get(pg, "questions"), j, q)
			{
				if (errors && jstr(errors, jstr(q, "id")))
					json_array_append_new(
					    list, json_pack("{s:s, s:s}", "href",
					                    arena_printf(r->a, "/intake/%s?page=%zu#field-%s",
					                                 token, i + 1, jstr(q, "id")),
					                    "text", jstr(q, "label")));
			}
		}
		error_list(view, list);
		json_object_set_new(view, "page_no", json_integer(n + 1));
		json_object_set_new(view, "back_page", json_integer(n));
		return http_send_page(r, status, "pages/intake", view);
	}
	json_t *p = json_array_get(json_object_get(v->def, "pages"), (size_t)page - 1);
	json_t *qs = json_array();
	size_t j;
	json_t *q;
	json_t *list = json_array();
	json_array_foreach(json_object_get(p, "questions"), j, q)
	{
		json_t *qv = question_view(r, v->def, q, v->answers, errors, false);
		json_array_append_new(qs, qv);
		if (!json_object_get(qv, "error"))
			continue;
		/* The summary links to the field (a group's first choice). */
		bool group = json_array_size(json_object_get(qv, "choices")) > 0;
		json_array_append_new(
		    list, json_pack("{s:s, s:s}", "href",
		                    arena_printf(r->a, "#q-%s%s", jstr(q, "id"), group ? "-0" : ""), "text",
		                    arena_printf(r->a, "%s — %s", jstr(q, "label"), jstr(qv, "error"))));
	}
	error_list(view, list);
	json_object_set_new(view, "page",
	                    json_pack("{s:s, s:s, s:o}", "title", jstr(p, "title"), "intro",
	                              jstr(p, "intro") ? jstr(p, "intro") : "", "questions", qs));
	json_object_set_new(view, "page_no", json_integer(page));
	json_object_set_new(view, "page_count", json_integer(n));
	if (page > 1)
		json_object_set_new(view, "back_page", json_integer(page - 1));
	json_object_set_new(view, "autosave_url",
	                    json_string(arena_printf(r->a, "/api/v1/intake/%s", token)));
	return http_send_page(r, status, "pages/intake", view);
}

int intake_http_page(struct req *r)
{
	char *token = param(r, 0);
	struct ctx c = req_ctx(r);
	struct intake_view v;
	int rc = intake_open(&c, r->app->keys, token, &v);
	if (rc == ERR_NOT_FOUND)
		return http_send_link_not_valid(r);
	if (rc)
		return rc;
	return render(r, token, &v, page_number(http_query_param(r, "page"), npages(v.def) + 1), NULL, NULL,
	              200);
}

/* The answers to one page's questions from its form fields: every
 * question of the page appears (empty means "no answer", null). */
static json_t *page_answers(struct req *r, json_t *page, json_t *errors)
{
	json_t *out = keep(r->a, json_object());
	size_t j;
	json_t *q;
	json_array_foreach(json_object_get(page, "questions"), j, q)
	{
		const char *id = jstr(q, "id"), *type = jstr(q, "type");
		char *name = arena_printf(r->a, "q.%s", id);
		if (!strcmp(type, "multi_choice")) {
			json_t *arr = json_array();
			for (size_t i = 0; i < r->form.n; i++)
				if (!strcmp(r->form.fields[i].name, name) && r->form.fields[i].value[0])
					json_array_append_new(arr, json_string(r->form.fields[i].value));
			json_object_set_new(out, id, json_array_size(arr) ? arr : json_null());
			if (!json_array_size(arr))
				json_decref(arr);
			continue;
		}
		const char *s = form_get(&r->form, name);
		if (!s || !*s) {
			json_object_set_new(out, id, json_null());
		} else if (!strcmp(type, "scale")) {
			char *end;
			long long n = strtoll(s, &end, 10);
			if (*end || end == s || strlen(s) > 4)
				json_object_set_new(errors, id,
				                    json_string("Please choose a point on the scale."));
			else
				json_object_set_new(out, id, json_integer(n));
		} else {
			json_object_set_new(out, id, json_string(s));
		}
	}
	return out;
}

int intake_http_page_post(struct req *r)
{
	char *token = param(r, 0);
	struct ctx c = req_ctx(r);
	struct intake_view v;
	int rc = intake_open(&c, r->app->keys, token, &v);
	if (rc == ERR_NOT_FOUND)
		return http_send_link_not_valid(r);
	if (rc)
		return rc;
	const char *action = form_get(&r->form, "action");
	int n = npages(v.def);
	int page = page_number(form_get(&r->form, "page"), n + 1);
	char *here = arena_printf(r->a, "/intake/%s", token);
	json_t *fields = NULL;
	if (v.submitted)
		return render(r, token, &v, 1, NULL, MSG_SUBMITTED, 409);
	if (action && !strcmp(action, "accept")) {
		if (!form_get(&r->form, "accept"))
			return render(r, token, &v, 1, NULL,
			              "Please tick the box to say you have read the policy.", 422);
		rc = intake_save(&c, r->app->keys, token, NULL, true, &fields);
		if (rc)
			return rc == ERR_NOT_FOUND ? http_send_link_not_valid(r) : rc;
		return http_redirect(r, 303, arena_printf(r->a, "%s?page=1", here));
	}
	if (action && !strcmp(action, "submit")) {
		rc = intake_submit(&c, r->app->keys, token, NULL, form_get(&r->form, "signature"), &fields);
		keep(r->a, fields);
		if (rc == ERR_INVALID) {
			/* A required answer is missing: say so on the signing step. */
			json_t *sig = json_object_get(fields, "signature");
			const char *msg =
			    json_object_size(fields) > (sig ? 1u : 0u)
			        ? "Some required questions are not answered yet. Each link below "
			          "opens the page with the question."
			        : NULL;
			return render(r, token, &v, n + 1, fields, msg, 422);
		}
		if (rc == ERR_CONFLICT)
			return render(r, token, &v, 1, NULL, MSG_SUBMITTED, 409);
		if (rc)
			return rc == ERR_NOT_FOUND ? http_send_link_not_valid(r) : rc;
		return http_redirect(r, 303, arena_printf(r->a, "%s?sent=1", here));
	}
	if (page > n)
		return http_redirect(r, 303, arena_printf(r->a, "%s?page=%d", here, page));
	json_t *p = json_array_get(json_object_get(v.def, "pages"), (size_t)page - 1);
	json_t *errors = keep(r->a, json_object());
	json_t *answers = page_answers(r, p, errors);
	if (!json_object_size(errors)) {
		rc = intake_save(&c, r->app->keys, token, answers, false, &fields);
		keep(r->a, fields);
		if (rc == ERR_INVALID)
			json_object_update(errors, fields);
		else if (rc == ERR_CONFLICT || rc == ERR_FORBIDDEN)
			return render(r, token, &v, page, NULL,
			              rc == ERR_CONFLICT ? MSG_SUBMITTED : MSG_POLICY, 409);
		else if (rc)
			return rc == ERR_NOT_FOUND ? http_send_link_not_valid(r) : rc;
	}
	if (json_object_size(errors)) {
		/* Show the page again with what was typed and the messages. */
		json_object_update(v.answers, answers);
		return render(r, token, &v, page, errors, NULL, 422);
	}
	int next = action && !strcmp(action, "back") ? (page > 1 ? page - 1 : 1) : page + 1;
	return http_redirect(r, 303, arena_printf(r->a, "%s?page=%d", here, next));
}
