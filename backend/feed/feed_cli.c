/* feed_cli.c — `tandem feed create|list|revoke`: arguments in, lines out.
 * The token is printed once, by create, and nowhere else. */
#include "feed/feed.h"

#include "core/log.h"
#include "core/tz.h"

/* The parsed arguments. */
struct args {
	const char *sub;     /* create, list or revoke */
	const char *email;   /* --clinician */
	const char *name;    /* --name (create) */
	const char *privacy; /* --privacy (create), default neutral */
	const char *id;      /* revoke's argument */
};

static bool parse(int argc, char **argv, struct args *a)
{
	*a = (struct args){.sub = argc > 0 ? argv[0] : "", .privacy = "neutral"};
	bool create = !strcmp(a->sub, "create"), revoke = !strcmp(a->sub, "revoke");
	if (!create && !revoke && strcmp(a->sub, "list") != 0)
		return false;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!revoke && !strcmp(argv[i], "--clinician") && v)
			a->email = argv[++i];
		else if (create && !strcmp(argv[i], "--name") && v)
			a->name = argv[++i];
		else if (create && !strcmp(argv[i], "--privacy") && v)
			a->privacy = argv[++i];
		else if (revoke && !a->id)
			a->id = argv[i];
		else
			return false;
	}
	return revoke ? a->id != NULL : a->email && (!create || a->name);
}

bool feed_cli_usage_ok(int argc, char **argv)
{
	struct args a;
	return parse(argc, argv, &a);
}

/* "2026-05-01 14:03 UTC", or "-" for never. */
static const char *when(struct arena *a, int64_t t)
{
	if (!t)
		return "-";
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400, sod = t - days * 86400;
	int y, m, d;
	tz_civil_from_days(days, &y, &m, &d);
	return arena_printf(a, "%04d-%02d-%02d %02d:%02d UTC", y, m, d, (int)(sod / 3600),
	                    (int)(sod / 60 % 60));
}

static int run(struct ctx *c, const char *base_url, const struct args *a)
{
	int rc;
	if (!strcmp(a->sub, "create")) {
		struct feed_created fc;
		const char *why;
		rc = feed_create(c, base_url, a->email, a->name, a->privacy, &fc, &why);
		if (rc == ERR_INVALID)
			log_error("feed create: %s", why);
		if (rc)
			return rc;
		printf("id: %lld\nurl: %s\nwebcal: %s\n", (long long)fc.id, fc.url, fc.webcal);
		fprintf(stderr,
		        "The URL is shown only now: anyone who has it can read this calendar. "
		        "Revoke it with `tandem feed revoke %lld`.\n",
		        (long long)fc.id);
		return 0;
	}
	if (!strcmp(a->sub, "list")) {
		struct feed_info *v;
		size_t n;
		if ((rc = feed_list(c, a->email, &v, &n)))
			return rc;
		printf("id\tname\tprivacy\tcreated\trevoked\tlast fetch\tfetches\n");
		for (size_t i = 0; i < n; i++)
			printf("%lld\t%s\t%s\t%s\t%s\t%s\t%lld\n", (long long)v[i].id, v[i].name,
			       v[i].privacy, when(c->a, v[i].created_at), when(c->a, v[i].revoked_at),
			       when(c->a, v[i].last_fetch_at), (long long)v[i].fetches);
		return 0;
	}
	char *end;
	long long id = strtoll(a->id, &end, 10);
	if (*end || end == a->id || id <= 0) {
		log_error("feed revoke needs a feed id (see `tandem feed list`)");
		return ERR_INVALID;
	}
	bool already;
	if ((rc = feed_revoke(c, id, &already)))
		return rc;
	printf(already ? "feed %lld was already revoked\n" : "feed %lld revoked\n", id);
	return 0;
}

int feed_cli(struct ctx *c, const char *base_url, int argc, char **argv)
{
	struct args a;
	if (!parse(argc, argv, &a)) {
		log_error("usage: %s", FEED_CLI_USAGE);
		return ERR_INVALID;
	}
	int rc = run(c, base_url, &a);
	if (rc == ERR_NOT_FOUND && !strcmp(a.sub, "revoke"))
		log_error("feed revoke: no feed with id %s", a.id);
	else if (rc == ERR_NOT_FOUND)
		log_error("feed %s: no %sclinician with the email %s", a.sub,
		          !strcmp(a.sub, "create") ? "active " : "", a.email);
	else if (rc && rc != ERR_INVALID)
		log_error("feed %s failed: %s", a.sub, err_code(rc));
	return rc;
}
