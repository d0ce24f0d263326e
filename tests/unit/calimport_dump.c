/*
 * calimport_dump — runs cal_import on a file and prints the result as JSON,
 * for tests/unit/calimport_check.py (which compares it with an independent
 * expansion) and for timing (tests/bench/gen_ics.py makes big files).
 *
 *   calimport_dump [--zone ZONE] [--from T] [--to T] [--max-instances N]
 *                  [--max-bytes N] [--merge] [--time N] FILE
 *
 * T is RFC 3339 ("2024-01-01T00:00:00Z"). Defaults: America/Chicago,
 * 2012-01-01 to 2026-01-01, 200000 instances, 10 MiB. Prints
 * {"busy":[[start,end],...],"nevents":…,"ncancelled":…,"ntransparent":…,
 * "nsteps":…,"nwarnings":…,"warning":"…"} with UTC Unix seconds, or {"error":"…",
 * "code":"…"} and exit status 1. --time N runs the import N times and
 * prints the fastest run's milliseconds to stderr.
 */
#include <time.h>

#include "calimport/calimport.h"
#include "core/tz.h"

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0;
	char *d = xmalloc(cap);
	for (;;) {
		if (n == cap) {
			cap *= 2;
			d = xrealloc(d, cap);
		}
		size_t got = fread(d + n, 1, cap - n, f);
		if (got == 0)
			break;
		n += got;
	}
	fclose(f);
	*len = n;
	return d;
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
	struct cal_import_opts o = {
	    .zone = "America/Chicago",
	    .max_bytes = 10 << 20,
	    .max_instances = 200000,
	};
	tz_parse_rfc3339("2012-01-01T00:00:00Z", &o.from);
	tz_parse_rfc3339("2026-01-01T00:00:00Z", &o.to);
	bool merge = false;
	int repeat = 0;
	const char *path = NULL;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--merge") == 0) {
			merge = true;
		} else if (v && strcmp(a, "--zone") == 0) {
			o.zone = v;
			i++;
		} else if (v && (strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0)) {
			if (tz_parse_rfc3339(v, strcmp(a, "--from") == 0 ? &o.from : &o.to) != 0) {
				fprintf(stderr, "bad time %s\n", v);
				return 2;
			}
			i++;
		} else if (v && strcmp(a, "--max-instances") == 0) {
			o.max_instances = strtoul(v, NULL, 10);
			i++;
		} else if (v && strcmp(a, "--max-bytes") == 0) {
			o.max_bytes = strtoul(v, NULL, 10);
			i++;
		} else if (v && strcmp(a, "--time") == 0) {
			repeat = atoi(v);
			i++;
		} else if (a[0] != '-' && !path) {
			path = a;
		} else {
			fprintf(stderr,
			        "usage: calimport_dump [--zone Z] [--from T] [--to T] [--max-instances N] "
			        "[--max-bytes N] [--merge] [--time N] FILE\n");
			return 2;
		}
	}
	size_t len = 0;
	char *data = path ? read_file(path, &len) : NULL;
	if (!data) {
		fprintf(stderr, "cannot read %s\n", path ? path : "(no file)");
		return 2;
	}
	struct arena a;
	arena_init(&a);
	struct cal_import_result r;
	char err[256];
	double best = -1;
	int rc = 0;
	for (int k = 0; k < (repeat > 0 ? repeat : 1); k++) {
		arena_reset(&a);
		double t0 = now_ms();
		rc = cal_import(&a, data, len, &o, &r, err, sizeof(err));
		double t = now_ms() - t0;
		if (best < 0 || t < best)
			best = t;
	}
	if (repeat > 0)
		fprintf(
		    stderr,
		    "cal_import: %.1f ms (best of %d), %zu bytes, %d events, %zu busy intervals, %zu steps\n",
		    best, repeat, len, r.nevents, r.nbusy, r.nsteps);
	if (rc != 0) {
		printf("{\"error\":");
		json_string(err);
		printf(",\"code\":\"%s\"}\n", err_code(rc));
	} else {
		size_t n = merge ? cal_busy_merge(r.busy, r.nbusy) : r.nbusy;
		printf("{\"busy\":[");
		for (size_t i = 0; i < n; i++)
			printf("%s[%lld,%lld]", i ? "," : "", (long long)r.busy[i].start,
			       (long long)r.busy[i].end);
		printf(
		    "],\"nevents\":%d,\"ncancelled\":%d,\"ntransparent\":%d,\"nsteps\":%zu,\"nwarnings\":%d,"
		    "\"warning\":",
		    r.nevents, r.ncancelled, r.nskipped_transparent, r.nsteps, r.nwarnings);
		json_string(r.warning);
		printf("}\n");
	}
	arena_release(&a);
	free(data);
	tz_cache_clear();
	return rc != 0;
}
