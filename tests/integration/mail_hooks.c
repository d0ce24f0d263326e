/*
 * mail_hooks — runs the mail hooks that no route calls yet, the way their
 * callers will, so tests/integration/test_mail.py can check the messages:
 *
 *   mail_hooks decline BOOKING_ID       the clinician area declining a
 *                                       request: status → declined and
 *                                       "declined" to each client, one
 *                                       transaction
 *   mail_hooks calendar-failing ID      the calendar refresh job finding
 *                                       source ID stale
 *
 * Configuration from the environment, as for tandem (TANDEM_DATABASE_URL,
 * TANDEM_KEY_FILE, TANDEM_TEMPLATE_DIR, TANDEM_BASE_URL, ...). Exit 0 on
 * success, 1 with the error code on stderr otherwise.
 */
#include "booking/booking.h"
#include "core/config.h"
#include "core/log.h"
#include "crypto/keys.h"
#include "db/db.h"
#include "http/template.h"
#include "mail/mail.h"

struct hook {
	struct ctx *c;
	const struct mailer *m;
	const char *what;
	int64_t id;
};

static const char SQL_DECLINE[] =
    "WITH d AS (UPDATE booking SET status = 'declined', hold_expires_at = NULL,"
    " ical_sequence = ical_sequence + 1, updated_at = now()"
    " WHERE id = $1 AND status IN ('held', 'requested') RETURNING id, status)"
    " INSERT INTO booking_event (booking_id, actor, from_status, to_status, reason)"
    " SELECT id, 'clinician:test', 'requested', 'declined', 'declined by clinician' FROM d RETURNING "
    "booking_id";

static int hook_tx(struct db *db, void *arg)
{
	struct hook *h = arg;
	char id[24];
	snprintf(id, sizeof(id), "%lld", (long long)h->id);
	if (!strcmp(h->what, "decline")) {
		PGresult *r;
		int rc = db_query(db, h->c->a, &r, SQL_DECLINE, id);
		if (rc)
			return rc;
		if (PQntuples(r) != 1)
			return ERR_CONFLICT;
		return booking_mail_status(h->c, h->m, h->id, "declined");
	}
	return mail_calendar_failing(h->c, h->m, h->id);
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "decline") && strcmp(argv[1], "calendar-failing"))) {
		fprintf(stderr, "usage: mail_hooks decline BOOKING_ID | calendar-failing SOURCE_ID\n");
		return 2;
	}
	struct config cfg;
	char err[512];
	struct keyring *keys = NULL;
	struct tpl_set *tpl = tpl_set_new();
	int rc = config_load(&cfg, NULL, err, sizeof(err));
	if (!rc)
		rc = keyring_load(cfg.key_file, &keys, err, sizeof(err));
	if (!rc)
		rc = tpl_set_load_dir(tpl, cfg.template_dir, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "mail_hooks: %s\n", err);
		return 1;
	}
	struct db db;
	db_init(&db, cfg.database_url, cfg.db_connect_timeout, cfg.db_statement_timeout_ms);
	struct arena a;
	arena_init(&a);
	struct ctx c = {&a, &db, ctx_clock_now(), "system", "test"};
	struct mailer m = {&cfg, tpl, keys};
	struct hook h = {&c, &m, argv[1], strtoll(argv[2], NULL, 10)};
	rc = db_tx(&db, "READ COMMITTED", hook_tx, &h);
	if (rc)
		fprintf(stderr, "mail_hooks %s: %s\n", argv[1], err_code(rc));
	arena_release(&a);
	db_release(&db);
	keyring_free(keys);
	tpl_set_free(tpl);
	config_free(&cfg);
	return rc ? 1 : 0;
}
