/* Unit tests: intake form definitions (the shipped ones and broken ones),
 * the answer decoder, conditional questions, required answers and the
 * screening rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "core/err.h"
#include "intake/intake.h"

static json_t *shipped(const char *slug)
{
	for (size_t i = 0; i < intake_form_files_count; i++)
		if (!strcmp(intake_form_files[i].slug, slug)) {
			json_error_t e;
			return json_loadb(intake_form_files[i].text, intake_form_files[i].len,
			                  JSON_REJECT_DUPLICATES, &e);
		}
	return NULL;
}

static void test_shipped_forms_are_valid(void **state)
{
	(void)state;
	assert_true(intake_form_files_count >= 2);
	for (size_t i = 0; i < intake_form_files_count; i++) {
		json_t *def = shipped(intake_form_files[i].slug);
		assert_non_null(def);
		char err[200] = "";
		assert_int_equal(intake_form_check(def, err, sizeof(err)), 0);
		json_decref(def);
	}
}

static void test_broken_definitions_are_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
	    "[]",
	    "{\"slug\":\"x\",\"title\":\"t\",\"pages\":[]}",
	    "{\"slug\":\"x\",\"title\":\"t\",\"pages\":[{\"id\":\"p\",\"title\":\"P\",\"questions\":"
	    "[{\"id\":\"a\",\"type\":\"essay\",\"label\":\"A\"}]}]}",
	    "{\"slug\":\"x\",\"title\":\"t\",\"pages\":[{\"id\":\"p\",\"title\":\"P\",\"questions\":"
	    "[{\"id\":\"a\",\"type\":\"short_text\",\"label\":\"A\"},{\"id\":\"a\",\"type\":\"yes_no\","
	    "\"label\":\"B\"}]}]}",
	    "{\"slug\":\"x\",\"title\":\"t\",\"pages\":[{\"id\":\"p\",\"title\":\"P\",\"questions\":"
	    "[{\"id\":\"a\",\"type\":\"single_choice\",\"label\":\"A\",\"choices\":[]}]}]}",
	    "{\"slug\":\"x\",\"title\":\"t\",\"pages\":[{\"id\":\"p\",\"title\":\"P\",\"questions\":"
	    "[{\"id\":\"a\",\"type\":\"scale\",\"label\":\"A\",\"min\":5,\"max\":5}]}]}",
	    "{\"slug\":\"x\",\"title\":\"t\",\"pages\":[{\"id\":\"p\",\"title\":\"P\",\"questions\":"
	    "[{\"id\":\"a\",\"type\":\"yes_no\",\"label\":\"A\",\"show_if\":{\"question\":\"zz\",\"equals\":"
	    "\"yes\"}}]}]}",
	    "{\"slug\":\"x\",\"title\":\"t\",\"pages\":[{\"id\":\"p\",\"title\":\"P\",\"questions\":"
	    "[{\"id\":\"a\",\"type\":\"yes_no\",\"label\":\"A\"}]}],\"screening\":[{\"flag\":\"grumpy\","
	    "\"when\":{\"question\":\"a\",\"equals\":\"yes\"}}]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_error_t e;
		json_t *def = json_loads(bad[i], 0, &e);
		assert_non_null(def);
		char err[200] = "";
		assert_int_equal(intake_form_check(def, err, sizeof(err)), ERR_INVALID);
		assert_true(err[0] != 0);
		json_decref(def);
	}
}

/* Decodes text against the intensive form; returns rc and the message for
 * field (or NULL). */
static int decode(json_t *def, const char *text, const char *field, const char **msg)
{
	json_t *out, *fields;
	int rc = intake_decode_answers(def, text, strlen(text), &out, &fields);
	static char buf[200];
	*msg = NULL;
	if (fields && field && json_is_string(json_object_get(fields, field))) {
		snprintf(buf, sizeof(buf), "%s", json_string_value(json_object_get(fields, field)));
		*msg = buf;
	}
	json_decref(out);
	json_decref(fields);
	return rc;
}

static void test_decoder(void **state)
{
	(void)state;
	json_t *def = shipped("intensive-intake");
	const char *m;
	assert_int_equal(
	    decode(def,
	           "{\"history\":\"We met in 2010.\",\"satisfaction\":0,\"body_signals\":"
	           "[\"racing\",\"numb\"],\"together_since\":\"2012-02-29\",\"prior_therapy\":\"no\"}",
	           NULL, &m),
	    0);
	assert_int_equal(decode(def, "{\"history\":null}", NULL, &m), 0); /* null removes */
	assert_int_equal(decode(def, "[1]", NULL, &m), ERR_MALFORMED);
	assert_int_equal(decode(def, "{\"a\":", NULL, &m), ERR_MALFORMED);
	assert_int_equal(decode(def, "{\"history\":\"a\",\"history\":\"b\"}", NULL, &m), ERR_MALFORMED);
	assert_int_equal(decode(def, "{\"nope\":1}", "answers", &m), ERR_INVALID);
	assert_non_null(m);
	assert_int_equal(decode(def, "{\"satisfaction\":11}", "satisfaction", &m), ERR_INVALID);
	assert_int_equal(decode(def, "{\"satisfaction\":-1}", "satisfaction", &m), ERR_INVALID);
	assert_int_equal(decode(def, "{\"satisfaction\":5.5}", "satisfaction", &m), ERR_INVALID);
	assert_int_equal(decode(def, "{\"stay_together\":\"maybe\"}", "stay_together", &m), ERR_INVALID);
	assert_int_equal(decode(def, "{\"body_signals\":\"racing\"}", "body_signals", &m), ERR_INVALID);
	assert_int_equal(decode(def, "{\"body_signals\":[\"racing\",\"racing\"]}", "body_signals", &m),
	                 ERR_INVALID);
	assert_int_equal(decode(def, "{\"together_since\":\"2013-02-29\"}", "together_since", &m),
	                 ERR_INVALID);
	assert_int_equal(decode(def, "{\"together_since\":\"2013-2-1\"}", "together_since", &m), ERR_INVALID);
	assert_int_equal(decode(def, "{\"prior_therapy\":true}", "prior_therapy", &m), ERR_INVALID);
	assert_int_equal(decode(def, "{\"history\":\"a\\u0007b\"}", "history", &m), ERR_INVALID);
	/* Text limits count characters, not bytes: 2000 "é" fit medication's 2000. */
	char big[4 * 2100 + 64];
	size_t o = (size_t)snprintf(big, sizeof(big), "{\"medication\":\"");
	for (int i = 0; i < 2000; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "\xc3\xa9");
	snprintf(big + o, sizeof(big) - o, "\"}");
	assert_int_equal(decode(def, big, "medication", &m), 0);
	o = (size_t)snprintf(big, sizeof(big), "{\"medication\":\"");
	for (int i = 0; i < 2001; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "x");
	snprintf(big + o, sizeof(big) - o, "\"}");
	assert_int_equal(decode(def, big, "medication", &m), ERR_INVALID);
	assert_string_equal(m, "This answer is too long.");
	/* Over the whole limit: refused before parsing. */
	json_t *out, *fields;
	assert_int_equal(intake_decode_answers(def, "{}", INTAKE_ANSWERS_MAX + 1, &out, &fields),
	                 ERR_TOO_LARGE);
	json_decref(def);
}

static void test_conditions_and_required(void **state)
{
	(void)state;
	json_t *def = shipped("intensive-intake");
	json_error_t e;
	json_t *ans =
	    json_loads("{\"prior_therapy\":\"no\",\"prior_therapy_detail\":\"x\",\"history\":\"h\"}", 0, &e);
	json_t *detail = intake_question(def, "prior_therapy_detail");
	assert_false(intake_visible(def, detail, ans));
	intake_drop_hidden(def, ans);
	assert_null(json_object_get(ans, "prior_therapy_detail"));
	assert_non_null(json_object_get(ans, "history"));
	json_object_set_new(ans, "prior_therapy", json_string("yes"));
	assert_true(intake_visible(def, detail, ans));
	json_t *fields = json_object();
	int n = intake_missing(def, ans, fields);
	/* 13 required questions, 2 answered; the hidden detail is never required. */
	assert_int_equal(n, 11);
	assert_null(json_object_get(fields, "history"));
	assert_non_null(json_object_get(fields, "afraid_of_partner"));
	assert_null(json_object_get(fields, "prior_therapy_detail"));
	json_decref(fields);
	json_decref(ans);
	json_decref(def);
}

static const char *flags_of(json_t *def, const char *answers)
{
	json_error_t e;
	json_t *a = json_loads(answers, 0, &e);
	json_t *f = intake_screen(def, a);
	static char buf[200];
	buf[0] = 0;
	size_t i, o = 0;
	json_t *v;
	json_array_foreach(f, i, v) o +=
	    (size_t)snprintf(buf + o, sizeof(buf) - o, "%s ", json_string_value(v));
	json_decref(f);
	json_decref(a);
	return buf;
}

static void test_screening_rules(void **state)
{
	(void)state;
	json_t *def = shipped("intensive-intake");
	assert_string_equal(flags_of(def, "{\"afraid_of_partner\":\"no\",\"stay_together\":\"committed\"}"),
	                    "");
	assert_string_equal(flags_of(def, "{\"afraid_of_partner\":\"yes\",\"threats\":\"yes\"}"), "ipv ");
	assert_string_equal(flags_of(def, "{\"safe_at_home\":\"no\"}"), "ipv ");
	assert_string_equal(flags_of(def, "{\"control\":[\"none\"]}"), "");
	assert_string_equal(flags_of(def, "{\"control\":[\"decisions\",\"monitoring\"]}"), "ipv ");
	assert_string_equal(flags_of(def, "{\"substance_concern\":\"yes\"}"), "substance ");
	assert_string_equal(flags_of(def, "{\"outside_relationship\":\"yes\"}"), "affair ");
	assert_string_equal(flags_of(def, "{\"self_harm_thoughts\":\"past\"}"), "");
	assert_string_equal(flags_of(def, "{\"self_harm_thoughts\":\"often\"}"), "suicide_risk ");
	assert_string_equal(flags_of(def, "{\"stay_together\":\"unsure\"}"), "ambivalence ");
	assert_string_equal(flags_of(def, "{\"satisfaction\":2}"), "ambivalence ");
	assert_string_equal(flags_of(def, "{\"satisfaction\":3}"), "");
	assert_string_equal(flags_of(def, "{\"satisfaction\":\"2\"}"), "");
	assert_string_equal(
	    flags_of(def, "{\"physical_harm\":\"yes\",\"outside_relationship\":\"yes\","
	                  "\"self_harm_thoughts\":\"sometimes\",\"stay_together\":\"leaning_out\"}"),
	    "ipv affair suicide_risk ambivalence ");
	json_decref(def);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_shipped_forms_are_valid),
	    cmocka_unit_test(test_broken_definitions_are_refused),
	    cmocka_unit_test(test_decoder),
	    cmocka_unit_test(test_conditions_and_required),
	    cmocka_unit_test(test_screening_rules),
	};
	return cmocka_run_group_tests_name("intake", tests, NULL, NULL);
}
