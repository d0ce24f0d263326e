/* libFuzzer target: the TZif parser (tz_parse) and every lookup on what it
 * accepts; short inputs also go through the RFC 3339 and date parsers. */
#include <stddef.h>
#include <stdint.h>

#include "core/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_strings(const uint8_t *data, size_t size)
{
	char s[64];
	int64_t v;
	if (size >= sizeof(s))
		return;
	memcpy(s, data, size);
	s[size] = '\0';
	if (tz_parse_rfc3339(s, &v) == 0 &&
	    (v < tz_days_from_civil(1969, 12, 31) * 86400 || v >= tz_days_from_civil(10000, 1, 2) * 86400))
		__builtin_trap();
	if (tz_parse_date(s, &v) == 0) {
		int y, m, d;
		tz_civil_from_days(v, &y, &m, &d);
		if (!tz_valid_date(y, m, d) || y < 1 || y > 9999 || tz_days_from_civil(y, m, d) != v)
			__builtin_trap();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_strings(data, size);

	struct tz *z;
	if (tz_parse(data, size, "fuzz", &z) != 0)
		return 0;

	/* Changes between 1900 and 2100: ascending, in range, and real. */
	const int64_t from = -2208988800, to = 4102444800;
	int64_t tr[64];
	size_t n = tz_transitions(z, from, to, tr, 64);
	if (n > 64)
		__builtin_trap();
	for (size_t i = 0; i < n; i++) {
		if (tr[i] < from || tr[i] >= to || (i > 0 && tr[i] <= tr[i - 1]))
			__builtin_trap();
		if (tz_offset_at(z, tr[i] - 1) == tz_offset_at(z, tr[i]))
			__builtin_trap();
	}

	/* Local ↔ UTC: a time that exists once or twice maps back to itself. */
	static const int64_t probes[] = {INT64_MIN,  -2208988800, -1,         0,
	                                 1,          1772953200,  1793512800, 2147483647,
	                                 2147483648, 4102444800,  INT64_MAX};
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]) + n; i++) {
		int64_t t = i < sizeof(probes) / sizeof(probes[0])
		                ? probes[i]
		                : tr[i - sizeof(probes) / sizeof(probes[0])];
		int32_t off = tz_offset_at(z, t);
		if (off < -89999 || off > 93599 || tz_abbrev_at(z, t) == NULL)
			__builtin_trap();
		int64_t local = tz_utc_to_local(z, t);
		int kind = -1;
		int64_t back = tz_local_to_utc(z, local, &kind);
		if (kind < TZ_LOCAL_NORMAL || kind > TZ_LOCAL_FOLD)
			__builtin_trap();
		/* Away from the ±2^41 s clamp, the answers must be exact. */
		bool inside = t > -((int64_t)1 << 40) && t < ((int64_t)1 << 40);
		if (inside && kind != TZ_LOCAL_GAP && tz_utc_to_local(z, back) != local)
			__builtin_trap();
		if (inside && kind == TZ_LOCAL_NORMAL && back != t)
			__builtin_trap();
		if (inside && kind == TZ_LOCAL_FOLD && back > t)
			__builtin_trap(); /* the earlier of the two */
		if (inside && kind == TZ_LOCAL_GAP)
			__builtin_trap(); /* local came from a real instant: it exists */
		char buf[32];
		tz_format_rfc3339(z, t, buf, sizeof(buf));
		if (strlen(buf) < 20)
			__builtin_trap();
	}
	tz_free(z);
	return 0;
}
