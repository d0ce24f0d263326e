/*
 * main.c — the `tandem` binary. `serve` starts as config → templates and
 * static files → data keys → schema check → server → signals; migrations
 * are applied by `tandem migrate`, never implicitly. Subcommands for
 * operators.
 */
#include <errno.h>
#include <malloc.h>
#include <termios.h>
#include <unistd.h>

#include <curl/curl.h>

#include "booking/booking.h"
#include "calendar/calendar_cli.h"
#include "core/config.h"
#include "core/tz.h"
#include "core/ctx.h"
#include "core/log.h"
#include "db/migrate.h"
#include "intake/intake.h"
#include "http/assets.h"
#include "http/server.h"
#include "http/template.h"
#include "crypto/keys.h"
#include "admin/audit.h"
#include "admin/session.h"
#include "feed/feed.h"
#include "http/router.h"
#include "jobs/jobs.h"
#include "mail/mail.h"
#include "practice/practice.h"
#include "rotate/rotate.h"

#define TANDEM_VERSION "0.1.0"

static void usage(FILE *f)
{
	fputs("usage: tandem [--config FILE] COMMAND [ARGS]\n"
	      "\n"
	      "commands:\n"
	      "  serve                 serve HTTP on the configured address\n"
	      "  migrate               apply pending database migrations\n"
	      "  seed-demo             create or refresh the demo practice (idempotent)\n"
	      "  keys rotate [--batch N]  re-encrypt sealed values under the current (first) key\n"
	      "  keys status           count sealed values still under older keys\n"
	      "  clinician-add --email EMAIL --name NAME [--role owner|clinician] [--password-file FILE]\n"
	      "                        create or update a clinician login; the password is read from\n"
	      "                        FILE or asked for at the terminal, never taken from arguments\n"
	      "  feed create --clinician EMAIL --name NAME [--privacy neutral|initials]\n"
	      "                        a private calendar feed URL for one device, shown only now\n"
	      "  feed list --clinician EMAIL\n"
	      "                        the clinician's feeds (never their URLs)\n"
	      "  feed revoke ID        stop a feed: its URL answers 404 from now on\n"
	      "  mail list [--status pending|sent|dead] [--limit N]\n"
	      "                        the newest outgoing messages (never who or what they say)\n"
	      "  mail resend ID        queue a dead-lettered message again (same Message-ID)\n"
	      "  audit verify          check the audit log's hash chain; names the first broken entry\n"
	      "  routes                print the route table (method, pattern, access flags)\n"
	      "  keygen FILE           write a new data key file (mode 0600; never overwrites)\n"
	      "  booking move-day REFERENCE DAY START | cancel-day REFERENCE DAY\n"
	      "                        the clinician moves (START: RFC 3339) or cancels one day of a\n"
	      "                        multi-day booking; invites get a RECURRENCE-ID override\n"
	      "  calendar import FILE --clinician EMAIL [--name NAME]\n"
	      "  calendar subscribe URL --clinician EMAIL [--name NAME] [--refresh-minutes N]\n"
	      "                        [--freshness-minutes N]\n"
	      "  calendar list --clinician EMAIL | refresh ID | remove ID\n"
	      "  calendar busy --clinician EMAIL --from YYYY-MM-DD --to YYYY-MM-DD\n"
	      "                        external calendars that block the clinician's availability\n"
	      "  version               print the version\n"
	      "\n"
	      "configuration: --config FILE or TANDEM_CONFIG, then TANDEM_* variables\n"
	      "(TANDEM_DATABASE_URL, TANDEM_LISTEN, TANDEM_BASE_URL, ...; see README.md).\n",
	      f);
}

static int open_db(const struct config *cfg, struct db *db)
{
	if (!cfg->database_url || !*cfg->database_url) {
		log_error("no database configured: set TANDEM_DATABASE_URL (make run does this for you)");
		return ERR_CONFIG;
	}
	db_init(db, cfg->database_url, cfg->db_connect_timeout, cfg->db_statement_timeout_ms);
	return 0;
}

static int cmd_migrate(const struct config *cfg)
{
	struct db db;
	int rc = open_db(cfg, &db);
	if (rc)
		return rc;
	char err[512] = "";
	int applied = 0;
	rc = migrate_run(&db, &applied, err, sizeof(err));
	if (rc)
		log_error("migrate: %s", err);
	else
		log_info("migrate: %d applied, schema at version %d", applied, migrate_latest());
	if (!rc) {
		/* The intake forms in forms/ are part of the schema's content. */
		struct arena a;
		arena_init(&a);
		struct ctx c = {&a, &db, ctx_clock_now(), "system", "cli"};
		int added = 0;
		rc = intake_forms_sync(&c, &added);
		if (rc)
			log_error("migrate: intake forms: %s", err_code(rc));
		else if (added)
			log_info("migrate: %d new intake form version(s)", added);
		arena_release(&a);
	}
	db_release(&db);
	return rc;
}

static int cmd_seed_demo(const struct config *cfg)
{
	struct db db;
	int rc = open_db(cfg, &db);
	if (rc)
		return rc;
	struct arena a;
	arena_init(&a);
	struct ctx c = {&a, &db, ctx_clock_now(), "system", "cli"};
	const char *email, *password;
	rc = migrate_check(&db, &a);
	if (rc) {
		log_error("seed-demo: the database is %s; run `tandem migrate` first",
		          rc == ERR_UNAVAILABLE ? "unreachable" : "not migrated");
	} else {
		int added = 0;
		rc = intake_forms_sync(&c, &added);
		if (!rc)
			rc = practice_seed_demo(&c, &email, &password);
		if (rc)
			log_error("seed-demo failed: %s", err_code(rc));
		else
			printf("Demo practice ready. Clinician login: %s / %s\n", email, password);
	}
	arena_release(&a);
	db_release(&db);
	return rc;
}

/* `keys rotate [--batch N]`: re-encrypt every sealed value under the
 * current key while servers keep running; `keys status`: how many are
 * still under older keys. */
static int cmd_keys(const struct config *cfg, int argc, char **argv)
{
	if (argc < 1 || (strcmp(argv[0], "rotate") && strcmp(argv[0], "status"))) {
		log_error("usage: tandem keys rotate [--batch N] | tandem keys status");
		return ERR_CONFIG;
	}
	int batch = 200;
	if (argc == 3 && !strcmp(argv[1], "--batch")) {
		char *end;
		long b = strtol(argv[2], &end, 10);
		if (*end || b < 1 || b > 10000) {
			log_error("keys rotate: --batch must be 1 to 10000");
			return ERR_CONFIG;
		}
		batch = (int)b;
	} else if (argc != 1) {
		log_error("usage: tandem keys rotate [--batch N] | tandem keys status");
		return ERR_CONFIG;
	}
	struct keyring *k;
	char err[256];
	if (keyring_load(cfg->key_file, &k, err, sizeof(err))) {
		log_error("keys: %s", err);
		return ERR_CONFIG;
	}
	struct db db;
	int rc = open_db(cfg, &db);
	if (rc) {
		keyring_free(k);
		return rc;
	}
	struct arena a;
	arena_init(&a);
	struct ctx c = {&a, &db, ctx_clock_now(), "system", "cli"};
	if (!strcmp(argv[0], "status")) {
		long left = 0;
		rc = rotate_count_old(&c, k, &left);
		if (!rc)
			printf("current key %s; %ld value(s) under older keys\n", keyring_current_id(k),
			       left);
	} else {
		struct rotate_report rep;
		rc = rotate_all(&c, k, batch, &rep);
		if (!rc)
			printf(
			    "rotated %ld value(s) to key %s; %ld did not open; %ld left under older keys\n",
			    rep.rotated, keyring_current_id(k), rep.failed, rep.left);
		if (!rc && rep.failed)
			rc = ERR_INTERNAL;
	}
	if (rc && rc != ERR_INTERNAL)
		log_error("keys: %s", err_code(rc));
	arena_release(&a);
	db_release(&db);
	keyring_free(k);
	return rc;
}

/* Reads a password from a file (first line) or the terminal without echo. */
static int read_password(const char *file, char *out, size_t outlen)
{
	FILE *f = NULL;
	bool tty = false;
	struct termios old, quiet;
	if (file) {
		f = fopen(file, "r");
		if (!f) {
			log_error("cannot read password file %s", file);
			return ERR_IO;
		}
	} else {
		if (!isatty(STDIN_FILENO)) {
			log_error("no terminal to ask for the password: use --password-file FILE");
			return ERR_INVALID;
		}
		f = stdin;
		tty = tcgetattr(STDIN_FILENO, &old) == 0;
		if (tty) {
			quiet = old;
			quiet.c_lflag &= (tcflag_t)~ECHO;
			tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
		}
		fputs("Password (10+ characters): ", stderr);
	}
	bool ok = fgets(out, (int)outlen, f) != NULL;
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputs("\n", stderr);
	}
	if (f != stdin)
		fclose(f);
	if (!ok)
		return ERR_INVALID;
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}

static int cmd_clinician_add(const struct config *cfg, int argc, char **argv)
{
	const char *email = NULL, *name = NULL, *role = "clinician", *pwfile = NULL;
	for (int i = 0; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "--email") && v)
			email = argv[++i];
		else if (!strcmp(argv[i], "--name") && v)
			name = argv[++i];
		else if (!strcmp(argv[i], "--role") && v)
			role = argv[++i];
		else if (!strcmp(argv[i], "--password-file") && v)
			pwfile = argv[++i];
		else {
			log_error("clinician-add: unexpected argument %s (passwords are never taken from "
			          "arguments)",
			          argv[i]);
			return ERR_INVALID;
		}
	}
	if (!email || !name || (strcmp(role, "owner") && strcmp(role, "clinician"))) {
		log_error("clinician-add needs --email and --name; --role is owner or clinician");
		return ERR_INVALID;
	}
	char password[1100];
	int rc = read_password(pwfile, password, sizeof(password));
	if (rc)
		return rc;
	struct db db;
	rc = open_db(cfg, &db);
	if (rc)
		return rc;
	struct arena a;
	arena_init(&a);
	struct ctx c = {&a, &db, ctx_clock_now(), "system", "cli"};
	int64_t id = 0;
	rc = practice_clinician_upsert(&c, email, name, password, role, &id);
	memset(password, 0, sizeof(password));
	if (rc == ERR_INVALID)
		log_error(
		    "clinician-add: the email must be an address and the password 10 to 1024 characters");
	else if (rc == ERR_NOT_FOUND)
		log_error("clinician-add: no practice yet (run seed-demo or set one up first)");
	else if (rc)
		log_error("clinician-add failed: %s", err_code(rc));
	else {
		/* A new password (or role) ends every session the account had. */
		int n = 0;
		rc = session_revoke_all(&c, id, 0, "password-reset", &n);
		if (rc == 0)
			rc = audit_write(&c, "clinician.add",
			                 arena_printf(&a, "clinician:%lld", (long long)id),
			                 json_pack("{s:s, s:i}", "role", role, "sessions_revoked", n));
		if (rc)
			log_error(
			    "clinician-add: the account is set, but its sessions could not be revoked: %s",
			    err_code(rc));
		else
			printf("clinician %lld: %s\n", (long long)id, email);
	}
	arena_release(&a);
	db_release(&db);
	return rc;
}

static int cmd_feed(const struct config *cfg, int argc, char **argv)
{
	if (!feed_cli_usage_ok(argc, argv)) {
		log_error("usage: %s", FEED_CLI_USAGE);
		return ERR_INVALID;
	}
	struct db db;
	int rc = open_db(cfg, &db);
	if (rc)
		return rc;
	struct arena a;
	arena_init(&a);
	struct ctx c = {&a, &db, ctx_clock_now(), "system", "cli"};
	rc = feed_cli(&c, cfg->base_url, argc, argv);
	arena_release(&a);
	db_release(&db);
	return rc;
}

/* tandem mail list|resend: the outbox for operators, until the clinician
 * area shows it. */
static int cmd_mail(const struct config *cfg, int argc, char **argv)
{
	const char *status = NULL;
	long limit = 50, id = 0;
	bool list = argc >= 1 && !strcmp(argv[0], "list");
	bool resend = argc == 2 && !strcmp(argv[0], "resend");
	for (int i = 1; list && i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "--status") && v)
			status = argv[++i];
		else if (!strcmp(argv[i], "--limit") && v)
			limit = strtol(argv[++i], NULL, 10);
		else
			list = false;
	}
	if (resend) {
		char *end;
		id = strtol(argv[1], &end, 10);
		resend = *end == '\0' && id > 0;
	}
	if (!list && !resend) {
		log_error("usage: tandem mail list [--status pending|sent|dead] [--limit N] | tandem mail "
		          "resend ID");
		return ERR_INVALID;
	}
	struct db db;
	int rc = open_db(cfg, &db);
	if (rc)
		return rc;
	struct arena a;
	arena_init(&a);
	struct ctx c = {&a, &db, ctx_clock_now(), "operator", "cli"};
	if (resend) {
		rc = outbox_resend(&c, id);
		if (rc == 0)
			printf("message %ld queued again\n", id);
		else
			log_error("mail resend %ld: %s", id,
			          rc == ERR_CONFLICT ? "the message is not dead-lettered"
			          : rc == ERR_GONE ? "a newer message about the booking has gone to the same "
			                             "person since (it would tell them old news)"
			                           : err_code(rc));
	} else {
		json_t *arr;
		rc = outbox_list(&c, status, (int)limit, &arr);
		if (rc) {
			log_error("mail list: %s (status is pending, sent or dead; limit 1-1000)",
			          err_code(rc));
		} else {
			size_t i;
			json_t *o;
			json_array_foreach(arr, i, o)
			{
				char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
				puts(line);
				free(line);
			}
			json_decref(arr);
		}
	}
	arena_release(&a);
	db_release(&db);
	return rc;
}

static int cmd_audit(const struct config *cfg, int argc, char **argv)
{
	if (argc != 1 || strcmp(argv[0], "verify") != 0) {
		log_error("usage: tandem audit verify");
		return ERR_INVALID;
	}
	struct db db;
	int rc = open_db(cfg, &db);
	if (rc)
		return rc;
	struct audit_report rep;
	rc = audit_verify(&db, &rep);
	if (rc) {
		log_error("audit verify: cannot read the audit log (%s)", err_code(rc));
	} else if (rep.broken_id) {
		printf("audit chain broken at entry %lld: %s (%lld entries before it are intact)\n",
		       (long long)rep.broken_id, rep.why, (long long)rep.entries);
		rc = ERR_CONFLICT;
	} else {
		printf("audit chain ok: %lld entries%s%s\n", (long long)rep.entries,
		       rep.entries ? ", head " : "", rep.head_hash);
	}
	db_release(&db);
	return rc;
}

/* The route table, for operators and for the tests that walk every route. */
static int cmd_routes(void)
{
	static const struct {
		unsigned flag;
		const char *name;
	} names[] = {{ROUTE_ADMIN, "admin"},
	             {ROUTE_PARTIAL, "partial"},
	             {ROUTE_LOGIN, "login"},
	             {ROUTE_CSRF, "csrf"},
	             {ROUTE_JSON, "json"},
	             {ROUTE_FORM, "form"},
	             {ROUTE_CAPABILITY, "capability"},
	             {ROUTE_MULTIPART, "multipart"},
	             {ROUTE_CSP_REPORT, "csp-report"}};
	for (size_t i = 0; i < routes_count; i++) {
		printf("%s %s", routes[i].method, routes[i].pattern);
		const char *sep = " ";
		for (size_t k = 0; k < ARRAY_LEN(names); k++)
			if (routes[i].flags & names[k].flag) {
				printf("%s%s", sep, names[k].name);
				sep = ",";
			}
		if (!routes[i].flags)
			printf(" public");
		printf("\n");
	}
	return 0;
}

static int cmd_booking(const struct config *cfg, int argc, char **argv)
{
	bool move = argc == 4 && !strcmp(argv[0], "move-day");
	bool cancel = argc == 3 && !strcmp(argv[0], "cancel-day");
	char *end = NULL;
	long day = (move || cancel) ? strtol(argv[2], &end, 10) : 0;
	int64_t start = 0;
	if ((!move && !cancel) || !end || *end || day < 1 || day > 5 ||
	    (move && tz_parse_rfc3339(argv[3], &start) != 0)) {
		log_error("usage: tandem booking move-day REFERENCE DAY START | cancel-day REFERENCE DAY "
		          "(DAY 1-5; START like 2026-12-08T10:00:00-06:00)");
		return ERR_INVALID;
	}
	/* The change mails each client: templates and data keys as serve has them. */
	char err[512] = "";
	struct keyring *keys = NULL;
	struct tpl_set *tpl = tpl_set_new();
	int rc = keyring_load(cfg->key_file, &keys, err, sizeof(err));
	if (!rc)
		rc = tpl_set_load_dir(tpl, cfg->template_dir, err, sizeof(err));
	struct mailer m = {cfg, tpl, keys};
	if (!rc)
		rc = mail_check(&m, err, sizeof(err));
	if (rc) {
		log_error("booking: %s", err);
		keyring_free(keys);
		tpl_set_free(tpl);
		return rc;
	}
	struct db db;
	rc = open_db(cfg, &db);
	if (rc) {
		keyring_free(keys);
		tpl_set_free(tpl);
		return rc;
	}
	struct arena a;
	arena_init(&a);
	struct ctx c = {&a, &db, ctx_clock_now(), "clinician", "cli"};
	rc = move ? booking_move_day(&c, &m, argv[1], (int)day, start)
	          : booking_cancel_day(&c, &m, argv[1], (int)day);
	if (rc == ERR_NOT_FOUND)
		log_error("booking: no booking %s with an uncancelled day %ld", argv[1], day);
	else if (rc == ERR_CONFLICT)
		log_error("booking: %s is closed, or this is its last day (cancel the booking instead)",
		          argv[1]);
	else if (rc == ERR_SLOT_UNAVAILABLE)
		log_error("booking: the clinician already has something at that time");
	else if (rc)
		log_error("booking: %s", err_code(rc));
	else
		printf("booking %s: day %ld %s\n", argv[1], day, move ? "moved" : "cancelled");
	arena_release(&a);
	db_release(&db);
	keyring_free(keys);
	tpl_set_free(tpl);
	return rc;
}

static int cmd_calendar(const struct config *cfg, int argc, char **argv)
{
	struct keyring *keys = NULL;
	char err[512] = "";
	int rc = keyring_load(cfg->key_file, &keys, err, sizeof(err));
	if (rc) {
		log_error("data keys: %s", err);
		return rc;
	}
	struct db db;
	if ((rc = open_db(cfg, &db)) != 0) {
		keyring_free(keys);
		return rc;
	}
	struct arena a;
	arena_init(&a);
	struct ctx c = {&a, &db, ctx_clock_now(), "system", "cli"};
	struct calendar_fetch_opts fo;
	calendar_fetch_opts_from(cfg, &fo);
	rc = calendar_cli(&c, keys, &fo, argc, argv);
	if (rc == ERR_UNAVAILABLE)
		log_error("calendar: the database is unreachable");
	arena_release(&a);
	db_release(&db);
	keyring_free(keys);
	return rc;
}

static int cmd_serve(const struct config *cfg)
{
	/* Big per-request buffers (a feed of thousands of events, an uploaded
	 * calendar) go straight to mmap and back to the system when freed; by
	 * default glibc raises that threshold after the first such free and
	 * then keeps the memory in each worker's heap for good. */
	mallopt(M_MMAP_THRESHOLD, 256 * 1024);
	mallopt(M_ARENA_MAX, 4);
	struct app app = {.cfg = cfg, .started_us = ctx_clock_now() * 1000000};
	char err[512] = "", path[4096];
	app.tpl = tpl_set_new();
	int rc = tpl_set_load_dir(app.tpl, cfg->template_dir, err, sizeof(err));
	if (rc) {
		log_error("templates: %s", err);
		goto out;
	}
	static const char *const required[] = {
	    "layout",           "pages/home",           "pages/offering",
	    "pages/error",      "pages/book",           "pages/manage",
	    "pages/reschedule", "admin/login",          "admin/totp",
	    "admin/dashboard",  "admin/booking",        "admin/account",
	    "admin/totp_enrol", "admin/recovery_codes", "admin/audit",
	    "admin/calendars",  "admin/calendar",       "admin/clients",
	    "admin/intake",     "pages/intake",         "admin/availability",
	    "admin/offerings",  "admin/offering_edit",  "admin/practice"};
	for (size_t i = 0; i < ARRAY_LEN(required); i++)
		if (!tpl_set_has(app.tpl, required[i])) {
			log_error("templates: %s.mustache is missing from %s", required[i],
			          cfg->template_dir);
			rc = ERR_CONFIG;
			goto out;
		}
	snprintf(path, sizeof(path), "%s/static", cfg->template_dir);
	rc = assets_load(path, &app.assets, err, sizeof(err));
	if (rc) {
		log_error("static files: %s", err);
		goto out;
	}
	rc = keyring_load(cfg->key_file, &app.keys, err, sizeof(err));
	if (rc) {
		log_error("data keys: %s (create one with `tandem keygen FILE`)", err);
		goto out;
	}
	struct mailer mailer = {cfg, app.tpl, app.keys};
	if ((rc = mail_global_init()) != 0) {
		log_error("mail: libcurl cannot start");
		goto out;
	}
	if ((rc = mail_check(&mailer, err, sizeof(err))) != 0) {
		log_error("mail: %s", err);
		goto out;
	}
	mail_describe(cfg, err, sizeof(err));
	log_info("%s", err);
	/* The database may be down at start: serve anyway (readyz says 503)
	 * but refuse a schema this binary does not match. */
	struct db db;
	rc = open_db(cfg, &db);
	if (rc)
		goto out;
	struct arena a;
	arena_init(&a);
	rc = migrate_check(&db, &a);
	arena_release(&a);
	db_release(&db);
	if (rc == ERR_CONFLICT) {
		log_error("the database schema does not match this binary (version %d): run `tandem migrate`",
		          migrate_latest());
		goto out;
	}
	if (rc == ERR_UNAVAILABLE)
		log_warn("the database is unreachable; serving anyway, /readyz reports 503 until it is back");
	if (cfg->insecure_dev_cookies)
		log_warn("insecure_dev_cookies is on: session cookies lack Secure and the __Host- prefix "
		         "(plain-http development only; never in production)");
	static const struct server_hooks hooks = {jobs_start, jobs_stop};
	server_set_hooks(&hooks);
	rc = server_run(&app);
out:
	keyring_free(app.keys);
	assets_free(app.assets);
	tpl_set_free(app.tpl);
	return rc;
}

int main(int argc, char **argv)
{
	const char *config_file = NULL;
	int i = 1;
	if (i + 1 < argc && !strcmp(argv[i], "--config")) {
		config_file = argv[i + 1];
		i += 2;
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[i++];
	/* Before any thread exists: libcurl's global state (TLS, resolver). */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		log_error("cannot initialise libcurl");
		return 1;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "keygen")) {
		if (i >= argc) {
			log_error("keygen needs the file to write");
			return 2;
		}
		char kerr[256];
		if (keyring_generate_file(argv[i], kerr, sizeof(kerr)) != 0) {
			log_error("keygen: %s", kerr);
			return 1;
		}
		printf("wrote %s (mode 0600): back it up apart from the database\n", argv[i]);
		return 0;
	}
	if (!strcmp(cmd, "routes"))
		return cmd_routes();
	if (!strcmp(cmd, "version")) {
		printf("tandem %s\n", TANDEM_VERSION);
		return 0;
	}
	struct config cfg;
	char err[512] = "";
	if (config_load(&cfg, config_file, err, sizeof(err)) != 0) {
		log_error("configuration: %s", err);
		config_free(&cfg);
		return 2;
	}
	log_set_level((enum log_level)log_level_parse(cfg.log_level));
	int rc;
	if (!strcmp(cmd, "serve")) {
		config_log(&cfg);
		rc = cmd_serve(&cfg);
	} else if (!strcmp(cmd, "migrate")) {
		rc = cmd_migrate(&cfg);
	} else if (!strcmp(cmd, "seed-demo")) {
		rc = cmd_seed_demo(&cfg);
	} else if (!strcmp(cmd, "booking")) {
		rc = cmd_booking(&cfg, argc - i, argv + i);
	} else if (!strcmp(cmd, "calendar")) {
		rc = cmd_calendar(&cfg, argc - i, argv + i);
	} else if (!strcmp(cmd, "audit")) {
		rc = cmd_audit(&cfg, argc - i, argv + i);
	} else if (!strcmp(cmd, "mail")) {
		rc = cmd_mail(&cfg, argc - i, argv + i);
	} else if (!strcmp(cmd, "feed")) {
		rc = cmd_feed(&cfg, argc - i, argv + i);
	} else if (!strcmp(cmd, "keys")) {
		rc = cmd_keys(&cfg, argc - i, argv + i);
	} else if (!strcmp(cmd, "clinician-add")) {
		rc = cmd_clinician_add(&cfg, argc - i, argv + i);
	} else {
		log_error("unknown command \"%s\"", cmd);
		usage(stderr);
		rc = 2;
	}
	config_free(&cfg);
	return rc == 0 ? 0 : 1;
}
