/* calendar_cli.c — `tandem calendar …`: external calendars from the command
 * line, until (and beside) the clinician's admin page. See calendar.h. */
#include "calendar/calendar_cli.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/log.h"
#include "core/tz.h"
#include "practice/practice.h"

#define DAY 86400

static void usage(void)
{
	fputs("usage:\n"
	      "  tandem calendar import FILE --clinician EMAIL [--name NAME]\n"
	      "  tandem calendar subscribe URL --clinician EMAIL [--name NAME] [--refresh-minutes N]\n"
	      "                            [--freshness-minutes N]\n"
	      "  tandem calendar list --clinician EMAIL\n"
	      "  tandem calendar refresh ID\n"
	      "  tandem calendar remove ID\n"
	      "  tandem calendar busy --clinician EMAIL --from YYYY-MM-DD --to YYYY-MM-DD\n",
	      stderr);
}

static int read_file(struct arena *a, const char *path, size_t max, char **out, size_t *n)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		log_error("calendar import: cannot open %s: %s", path, strerror(errno));
		return ERR_IO;
	}
	char *buf = arena_alloc(a, max + 2);
	size_t len = fread(buf, 1, max + 1, f);
	bool bad = ferror(f) != 0;
	fclose(f);
	if (bad) {
		log_error("calendar import: cannot read %s", path);
		return ERR_IO;
	}
	if (len > max) {
		log_error("calendar import: %s is larger than %zu bytes (calendar_max_bytes)", path, max);
		return ERR_TOO_LARGE;
	}
	buf[len] = '\0';
	*out = buf;
	*n = len;
	return 0;
}

static int parse_id(const char *s, int64_t *id)
{
	char *end;
	errno = 0;
	long long v = s ? strtoll(s, &end, 10) : 0;
	if (!s || errno || *end || v <= 0)
		return ERR_INVALID;
	*id = v;
	return 0;
}

static int parse_minutes(const char *s, int *out)
{
	int64_t v;
	if (parse_id(s, &v) || v > INT_MAX)
		return ERR_INVALID;
	*out = (int)v;
	return 0;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

static void format_time(const struct tz *z, int64_t t, char *out, size_t n)
{
	if (t == 0)
		snprintf(out, n, "never");
	else
		tz_format_rfc3339(z, t, out, n);
}

static int cmd_list(struct ctx *c, int64_t clinician, const struct tz *z)
{
	struct calendar_source_info *s;
	size_t n;
	int rc = calendar_list(c, clinician, &s, &n);
	if (rc)
		return rc;
	if (n == 0)
		printf("no calendar sources\n");
	for (size_t i = 0; i < n; i++) {
		char ok[40], next[40];
		format_time(z, s[i].last_success, ok, sizeof(ok));
		format_time(z, s[i].next_refresh, next, sizeof(next));
		printf("%lld  %s  %s%s%s  %s\n", (long long)s[i].id, s[i].name, s[i].kind,
		       s[i].url_display ? " " : "", s[i].url_display ? s[i].url_display : "",
		       s[i].fresh ? "fresh" : "STALE: availability is closed for this clinician");
		printf("      %d events, %d busy periods; last success %s; next refresh %s\n", s[i].events,
		       s[i].busy, ok, next);
		if (s[i].last_error)
			printf("      last error (%d in a row): %s\n", s[i].failures, s[i].last_error);
		if (s[i].warning)
			printf("      warning: %s\n", s[i].warning);
	}
	return 0;
}

static int cmd_busy(struct ctx *c, int64_t clinician, const char *zone, const char *from, const char *to)
{
	const struct tz *z;
	int64_t d0, d1;
	if (!from || !to || tz_parse_date(from, &d0) || tz_parse_date(to, &d1) || d1 < d0 || d1 - d0 > 3660) {
		log_error(
		    "calendar busy: --from and --to are dates (YYYY-MM-DD), to >= from, at most 10 years");
		return ERR_INVALID;
	}
	if (tz_get(zone, &z) != 0)
		return ERR_INTERNAL;
	/* Local midnight of the first day to local midnight after the last. */
	int kind;
	int64_t t0 = tz_local_to_utc(z, d0 * DAY, &kind), t1 = tz_local_to_utc(z, (d1 + 1) * DAY, &kind);
	int64_t *p;
	size_t n;
	int rc = calendar_busy(c, clinician, t0, t1, &p, &n);
	if (rc)
		return rc;
	json_t *busy = json_array();
	for (size_t i = 0; i < n; i++) {
		char s[40], e[40];
		tz_format_rfc3339(z, p[2 * i], s, sizeof(s));
		tz_format_rfc3339(z, p[2 * i + 1], e, sizeof(e));
		json_array_append_new(busy, json_pack("{s:s, s:s}", "start", s, "end", e));
	}
	struct calendar_source_info *src;
	size_t ns;
	if ((rc = calendar_list(c, clinician, &src, &ns)) != 0) {
		json_decref(busy);
		return rc;
	}
	json_t *sources = json_array();
	for (size_t i = 0; i < ns; i++)
		json_array_append_new(sources,
		                      json_pack("{s:I, s:s, s:s, s:b}", "id", (json_int_t)src[i].id, "name",
		                                src[i].name, "kind", src[i].kind, "fresh", src[i].fresh));
	json_t *doc = json_pack("{s:s, s:s, s:s, s:o, s:o}", "timezone", zone, "from", from, "to", to,
	                        "sources", sources, "busy", busy);
	char *text = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (!text)
		return ERR_INTERNAL;
	printf("%s\n", text);
	free(text);
	return 0;
}

static void print_outcome(int64_t id, const struct calendar_outcome *o)
{
	printf("calendar source %lld: %d events, %d busy periods%s\n", (long long)id, o->events, o->busy,
	       o->not_modified ? " (unchanged)" : "");
	if (o->message[0])
		printf("warning: %s\n", o->message);
}

int calendar_cli(struct ctx *c, const struct keyring *k, const struct calendar_fetch_opts *fo, int argc,
                 char **argv)
{
	if (argc < 1) {
		usage();
		return ERR_INVALID;
	}
	const char *sub = argv[0], *arg = NULL, *email = NULL, *name = NULL, *from = NULL, *to = NULL;
	int refresh = 0, freshness = 0;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "--clinician") && v)
			email = argv[++i];
		else if (!strcmp(argv[i], "--name") && v)
			name = argv[++i];
		else if (!strcmp(argv[i], "--from") && v)
			from = argv[++i];
		else if (!strcmp(argv[i], "--to") && v)
			to = argv[++i];
		else if (!strcmp(argv[i], "--refresh-minutes") && v && !parse_minutes(v, &refresh))
			i++;
		else if (!strcmp(argv[i], "--freshness-minutes") && v && !parse_minutes(v, &freshness))
			i++;
		else if (!arg && argv[i][0] != '-')
			arg = argv[i];
		else {
			log_error("calendar %s: unexpected argument %s", sub, argv[i]);
			usage();
			return ERR_INVALID;
		}
	}
	bool by_id = !strcmp(sub, "refresh") || !strcmp(sub, "remove");
	bool needs_arg = by_id || !strcmp(sub, "import") || !strcmp(sub, "subscribe");
	if ((needs_arg && !arg) || (!needs_arg && arg) || (!by_id && !email)) {
		usage();
		return ERR_INVALID;
	}
	int64_t clinician = 0, id = 0;
	char *zone = NULL;
	int rc;
	if (email) {
		rc = practice_clinician_by_email(c, email, &clinician, &zone);
		if (rc == ERR_NOT_FOUND)
			log_error("calendar %s: no active clinician with that email", sub);
		if (rc)
			return rc;
	}
	struct calendar_outcome o;
	memset(&o, 0, sizeof(o));
	if (!strcmp(sub, "import")) {
		char *data;
		size_t len;
		if ((rc = read_file(c->a, arg, fo->max_bytes, &data, &len)) != 0)
			return rc;
		rc = calendar_import_file(c, k, clinician, name ? name : base_name(arg), data, len,
		                          fo->max_bytes, &id, &o);
		if (rc) {
			log_error("calendar import: %s; nothing was changed",
			          o.message[0] ? o.message : err_code(rc));
			return rc;
		}
		print_outcome(id, &o);
		return 0;
	}
	if (!strcmp(sub, "subscribe")) {
		rc = calendar_subscribe(c, k, clinician, name ? name : "Subscribed calendar", arg, refresh,
		                        freshness, &id);
		if (rc == ERR_INVALID)
			log_error(
			    "calendar subscribe: the URL must be http(s):// or webcal:// without a password; "
			    "refresh 5-1440 minutes; freshness 15-10080 minutes and not below refresh");
		else if (rc == ERR_CONFLICT)
			log_error("calendar subscribe: this clinician already has a calendar with that name");
		if (rc)
			return rc;
		printf("calendar source %lld: subscribed; first refresh now\n", (long long)id);
		rc = calendar_refresh(c, k, NULL, fo, id, &o);
		if (rc) {
			log_error("calendar source %lld: the first refresh failed: %s (the job retries; "
			          "availability "
			          "stays closed for this clinician until a refresh succeeds)",
			          (long long)id, o.message[0] ? o.message : err_code(rc));
			return 0; /* the subscription exists; the failure is recorded on it */
		}
		print_outcome(id, &o);
		return 0;
	}
	if (!strcmp(sub, "refresh")) {
		if (parse_id(arg, &id)) {
			usage();
			return ERR_INVALID;
		}
		rc = calendar_refresh(c, k, NULL, fo, id, &o);
		if (rc) {
			log_error("calendar refresh: %s", o.message[0] ? o.message : err_code(rc));
			return rc;
		}
		print_outcome(id, &o);
		return 0;
	}
	if (!strcmp(sub, "remove")) {
		if (parse_id(arg, &id)) {
			usage();
			return ERR_INVALID;
		}
		rc = calendar_remove(c, 0, id);
		if (rc == ERR_NOT_FOUND)
			log_error("calendar remove: no calendar source %lld", (long long)id);
		else if (!rc)
			printf("calendar source %lld removed with its busy time\n", (long long)id);
		return rc;
	}
	if (!strcmp(sub, "list")) {
		const struct tz *z;
		if (tz_get(zone, &z) != 0)
			return ERR_INTERNAL;
		return cmd_list(c, clinician, z);
	}
	if (!strcmp(sub, "busy"))
		return cmd_busy(c, clinician, zone, from, to);
	log_error("calendar: unknown subcommand %s", sub);
	usage();
	return ERR_INVALID;
}

void calendar_fetch_opts_from(const struct config *cfg, struct calendar_fetch_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->connect_timeout_ms = cfg->calendar_fetch_timeout_s * 1000 / 3;
	o->timeout_ms = cfg->calendar_fetch_timeout_s * 1000;
	o->max_bytes = (size_t)cfg->calendar_max_bytes;
	o->max_redirects = 5;
	o->allow_private = cfg->calendar_allow_private;
	o->user_agent = "Tandem/" TANDEM_VERSION " (calendar subscription)";
}
