/* libFuzzer target: the editors' parsers of typed form values (clock
 * times, money, bounded integers). Whatever they accept must be in range
 * and, for clocks, format back to the same minutes. */
#include <stddef.h>
#include <stdint.h>

#include "admin/editors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[128];
	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	int m;
	if (editors_parse_clock(s, true, &m) == 0) {
		if (m < 0 || m > 1440)
			__builtin_trap();
		char out[8];
		int back;
		editors_format_clock(m, out, sizeof(out));
		if (editors_parse_clock(out, true, &back) != 0 || back != m)
			__builtin_trap();
		if (m == 1440 && editors_parse_clock(s, false, &back) == 0)
			__builtin_trap();
	}
	int64_t cents;
	if (editors_parse_money(s, &cents) == 0 && (cents < 0 || cents > 100000000))
		__builtin_trap();
	long v;
	if (editors_parse_int(s, -100000, 100000, &v) == 0 && (v < -100000 || v > 100000))
		__builtin_trap();
	return 0;
}
