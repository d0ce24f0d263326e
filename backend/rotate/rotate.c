/* rotate.c — see rotate.h. One entry per sealed column: how to find its
 * values under an older key and the associated data each was sealed with
 * (the same strings the writing modules use). */
#include "rotate/rotate.h"

#include <string.h>

#include "core/err.h"
#include "core/log.h"
#include "db/db.h"

/* The key id inside an envelope: 0x01 | idlen | id | … */
#define KEY_ID(col) "convert_from(substring(" col " FROM 3 FOR get_byte(" col ", 1)), 'UTF8')"
#define PICK(tbl, col, ad)                                                                                   \
	"SELECT ctid::text, " col ", " ad " FROM " tbl " WHERE " col " IS NOT NULL AND length(" col ") > 2"  \
	" AND " KEY_ID(col) " <> $1 LIMIT $2::int FOR UPDATE SKIP LOCKED"
#define COUNT(tbl, col)                                                                                      \
	"SELECT count(*) FROM " tbl " WHERE " col " IS NOT NULL AND length(" col                             \
	") > 2 AND " KEY_ID(col) " <> $1"
#define PUT(tbl, col) "UPDATE " tbl " SET " col " = $2::bytea WHERE ctid = $1::tid"

struct column {
	const char *name;  /* for the log */
	const char *pick;  /* ctid, value, associated data of rows under another key */
	const char *count; /* how many are left */
	const char *put;   /* writes the new envelope */
};

#define COL(tbl, col, ad)                                                                                    \
	{                                                                                                    \
		tbl "." col, PICK(tbl, col, ad), COUNT(tbl, col), PUT(tbl, col)                              \
	}

static const struct column COLUMNS[] = {
    COL("intake", "draft_enc", "'intake.draft_enc:' || id"),
    COL("intake", "answers_enc", "'intake.answers_enc:' || id"),
    COL("intake", "flags_enc", "'intake.flags_enc:' || id"),
    COL("intake", "signature_enc", "'intake.signature_enc:' || id"),
    COL("booking_client", "name_enc", "'booking_client.name:' || booking_id || ':' || position"),
    COL("booking_client", "email_enc", "'booking_client.email:' || booking_id || ':' || position"),
    COL("booking_client", "phone_enc", "'booking_client.phone:' || booking_id || ':' || position"),
    COL("booking_event", "note_enc", "'booking_event.note:' || booking_id"),
    COL("booking_note", "body_enc", "'booking_note.body:' || id"),
    COL("outbox", "rcpt_enc", "'outbox.rcpt:' || message_id"),
    COL("outbox", "message_enc", "'outbox.message:' || message_id"),
    COL("clinician_totp", "secret_enc", "'clinician_totp.secret:' || clinician_id"),
    COL("calendar_source", "url_enc", "'calendar_source.url_enc:' || id"),
    COL("calendar_source", "content_enc", "'calendar_source.content_enc:' || id"),
};

struct batch_tx {
	struct ctx *c;
	const struct keyring *k;
	const struct column *col;
	int batch;
	int rows;     /* taken */
	long rotated; /* re-encrypted in this batch */
	long failed;  /* did not open */
};

static int batch_tx(struct db *db, void *arg)
{
	struct batch_tx *t = arg;
	/* A batch's own memory: values may be whole messages. */
	struct arena own;
	arena_init(&own);
	struct arena *a = &own;
	PGresult *r;
	t->rows = 0;
	t->rotated = t->failed = 0;
	int rc = db_query(db, a, &r, t->col->pick, keyring_current_id(t->k), arena_printf(a, "%d", t->batch));
	if (rc)
		goto out;
	t->rows = PQntuples(r);
	for (int i = 0; i < t->rows; i++) {
		unsigned char *env, *fresh;
		size_t n, fn, pn;
		char *pt;
		const char *ad = db_val(r, i, 2);
		if (crypto_bytea_parse(a, db_val(r, i, 1), &env, &n) ||
		    crypto_open(t->k, a, env, n, ad, &pt, &pn)) {
			t->failed++;
			continue;
		}
		rc = crypto_seal(t->k, a, pt, pn, ad, &fresh, &fn);
		explicit_bzero(pt, pn);
		if (rc)
			goto out;
		if ((rc =
		         db_query(db, a, NULL, t->col->put, db_val(r, i, 0), crypto_bytea_hex(a, fresh, fn))))
			goto out;
		t->rotated++;
	}
	rc = 0;
out:
	arena_release(&own);
	return rc;
}

int rotate_all(struct ctx *c, const struct keyring *k, int batch, struct rotate_report *out)
{
	memset(out, 0, sizeof(*out));
	if (batch < 1)
		batch = 1;
	for (size_t i = 0; i < sizeof(COLUMNS) / sizeof(COLUMNS[0]); i++) {
		struct batch_tx t = {c, k, &COLUMNS[i], batch, 0, 0, 0};
		long col_failed = 0;
		for (;;) {
			int rc = db_tx(c->db, "READ COMMITTED", batch_tx, &t);
			if (rc)
				return rc;
			out->rotated += t.rotated;
			col_failed = t.failed; /* the last batch saw every value that does not open */
			/* A batch that only met values that do not open would meet
			 * them again: this column is done as far as it can be. */
			if (t.rows < batch || t.rotated == 0)
				break;
		}
		out->failed += col_failed;
		if (col_failed)
			log_warn("keys rotate: %s: %ld value(s) do not open with any key", COLUMNS[i].name,
			         col_failed);
	}
	return rotate_count_old(c, k, &out->left);
}

int rotate_count_old(struct ctx *c, const struct keyring *k, long *n)
{
	*n = 0;
	for (size_t i = 0; i < sizeof(COLUMNS) / sizeof(COLUMNS[0]); i++) {
		PGresult *r;
		int rc = db_query(c->db, c->a, &r, COLUMNS[i].count, keyring_current_id(k));
		if (rc)
			return rc;
		*n += db_ll(r, 0, 0);
	}
	return 0;
}
