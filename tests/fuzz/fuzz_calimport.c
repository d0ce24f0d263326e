/* libFuzzer target: calendar import (cal_import) on hostile files.
 *
 * Whatever the bytes, cal_import must return 0, ERR_MALFORMED or
 * ERR_TOO_LARGE within its bounds (the step budget keeps libical's walks
 * short), leak nothing, and: on success give sorted intervals with
 * end > start, each overlapping the window, no more than max_instances;
 * on error give no intervals and a message; messages and warnings are
 * printable ASCII (they reach the UI and logs). The same input imported
 * twice gives the same result. The first byte picks the clinician's zone
 * when the input does not start with "BEGIN" or a BOM. */
#include <stddef.h>
#include <stdint.h>

#include "calimport/calimport.h"
#include "core/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s)
{
	size_t n = strlen(s);
	if (n >= 256)
		__builtin_trap();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] >= 0x7f)
			__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const zones[] = {"America/Chicago", "Europe/Berlin", "Australia/Lord_Howe",
	                                    "Asia/Kolkata",    "UTC",           "America/Sao_Paulo"};
	const char *zone = zones[0];
	if (size > 0 && data[0] != 'B' && data[0] != 0xEF)
		zone = zones[data[0] % ARRAY_LEN(zones)];
	struct cal_import_opts o = {
	    .zone = zone,
	    .from = tz_days_from_civil(2024, 1, 1) * 86400,
	    .to = tz_days_from_civil(2025, 1, 1) * 86400,
	    .max_bytes = 1 << 20,
	    .max_instances = 2000,
	};
	struct arena a;
	arena_init(&a);
	struct cal_import_result r, r2;
	char err[256], err2[256];
	int rc = cal_import(&a, (const char *)data, size, &o, &r, err, sizeof(err));
	check_text(err);
	check_text(r.warning);
	if (rc == 0) {
		if (r.nbusy > o.max_instances || (r.nbusy > 0) != (r.busy != NULL))
			__builtin_trap();
		for (size_t i = 0; i < r.nbusy; i++) {
			const struct cal_busy *b = &r.busy[i];
			if (b->end <= b->start || b->start >= o.to || b->end <= o.from)
				__builtin_trap();
			if (i > 0 &&
			    (b->start < b[-1].start || (b->start == b[-1].start && b->end < b[-1].end)))
				__builtin_trap();
		}
		if (r.ncancelled + r.nskipped_transparent > r.nevents || r.nwarnings < 0)
			__builtin_trap();
		if ((r.nwarnings > 0) != (r.warning[0] != '\0'))
			__builtin_trap();
	} else if (rc == ERR_MALFORMED || rc == ERR_TOO_LARGE) {
		if (r.busy || r.nbusy || err[0] == '\0')
			__builtin_trap();
	} else {
		__builtin_trap();
	}
	int rc2 = cal_import(&a, (const char *)data, size, &o, &r2, err2, sizeof(err2));
	if (rc2 != rc || r2.nbusy != r.nbusy || strcmp(err, err2) != 0 || strcmp(r.warning, r2.warning) != 0)
		__builtin_trap();
	for (size_t i = 0; i < r.nbusy; i++)
		if (r.busy[i].start != r2.busy[i].start || r.busy[i].end != r2.busy[i].end)
			__builtin_trap();
	size_t n = cal_busy_merge(r.busy, r.nbusy);
	for (size_t i = 1; i < n; i++)
		if (r.busy[i].start <= r.busy[i - 1].end)
			__builtin_trap();
	arena_release(&a);
	return 0;
}
