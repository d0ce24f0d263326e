/* libFuzzer target: the intake answer decoder (intake_decode_answers)
 * against the shipped intensive intake, then the rules that read decoded
 * answers (conditions, required questions, screening). */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "intake/intake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_t *def;
	if (!def) {
		for (size_t i = 0; i < intake_form_files_count; i++)
			if (!strcmp(intake_form_files[i].slug, "intensive-intake")) {
				json_error_t e;
				def = json_loadb(intake_form_files[i].text, intake_form_files[i].len, 0, &e);
			}
		if (!def)
			__builtin_trap();
	}
	json_t *out = NULL, *fields = NULL;
	int rc = intake_decode_answers(def, (const char *)data, size, &out, &fields);
	if (rc == 0) {
		if (!out || fields)
			__builtin_trap();
		json_t *missing = json_object();
		intake_missing(def, out, missing);
		intake_drop_hidden(def, out);
		json_decref(intake_screen(def, out));
		json_decref(missing);
	} else if (out) {
		__builtin_trap();
	}
	json_decref(out);
	json_decref(fields);
	return 0;
}
