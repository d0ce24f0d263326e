/* ctx.c — see ctx.h. */
#include "core/ctx.h"

#include <time.h>

int64_t ctx_clock_now(void)
{
	return (int64_t)time(NULL);
}
