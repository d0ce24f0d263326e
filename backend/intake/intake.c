/* intake.c — see intake.h. The intake's rows, sealed columns and the
 * transactions that save, submit and screen; the checks themselves are in
 * intake_form.c. */
#include "intake/intake.h"

#include <string.h>

#include "booking/booking.h"
#include "core/err.h"
#include "core/log.h"
#include "core/str.h"
#include "crypto/crypto.h"
#include "db/db.h"
#include "practice/practice.h"

static char *num(struct arena *a, int64_t v)
{
	return arena_printf(a, "%lld", (long long)v);
}

static void decref(void *p)
{
	json_decref(p);
}

/* Hands a new reference to the arena. */
static json_t *keep(struct arena *a, json_t *j)
{
	if (j)
		arena_on_release(a, decref, j);
	return j;
}

/* ---- form definitions ------------------------------------------------- */

static const char SQL_FORM_ADD[] =
    "INSERT INTO intake_form (slug, version, sha256, definition)"
    " SELECT $1::text, (SELECT coalesce(max(version), 0) + 1 FROM intake_form WHERE slug = $1::text), $2, $3"
    " WHERE NOT EXISTS (SELECT 1 FROM intake_form WHERE slug = $1::text AND sha256 = $2)"
    " ON CONFLICT DO NOTHING RETURNING id";

int intake_forms_sync(struct ctx *c, int *added)
{
	*added = 0;
	for (size_t i = 0; i < intake_form_files_count; i++) {
		const struct intake_form_file *f = &intake_form_files[i];
		json_error_t e;
		json_t *def = keep(c->a, json_loadb(f->text, f->len, JSON_REJECT_DUPLICATES, &e));
		char err[200] = "";
		if (!def || intake_form_check(def, err, sizeof(err))) {
			log_error("forms/%s.json: %s", f->slug, def ? err : e.text);
			return ERR_CONFIG;
		}
		const char *slug = json_string_value(json_object_get(def, "slug"));
		if (strcmp(slug, f->slug)) {
			log_error("forms/%s.json: its slug says %s", f->slug, slug);
			return ERR_CONFIG;
		}
		char hex[65];
		crypto_sha256_hex(f->text, f->len, hex);
		PGresult *r;
		int rc = db_query(c->db, c->a, &r, SQL_FORM_ADD, f->slug, hex, f->text);
		if (rc)
			return rc;
		*added += PQntuples(r);
	}
	return 0;
}

/* ---- one person's intake ---------------------------------------------- */

/* The partner's form version when they have one (the clinician compares
 * the two question by question), else the newest of the offering's form. */
static const char SQL_INTAKE_CREATE[] =
    "INSERT INTO intake (booking_id, position, form_id)"
    " SELECT b.id, $2::smallint, coalesce("
    "  (SELECT p.form_id FROM intake p WHERE p.booking_id = b.id AND p.position <> $2::smallint LIMIT 1),"
    "  f.id) FROM booking b JOIN offering o ON o.id = b.offering_id"
    " JOIN intake_form f ON f.slug = o.intake_form WHERE b.id = $1::bigint"
    " ORDER BY f.version DESC LIMIT 1 ON CONFLICT (booking_id, position) DO NOTHING";

#define INTAKE_SELECT                                                                                        \
	"SELECT i.id, f.slug, f.version, f.sha256, f.definition, i.policy_accepted_at IS NOT NULL,"          \
	" i.draft_enc, i.answers_enc, coalesce(extract(epoch FROM i.submitted_at)::bigint, 0)"               \
	" FROM intake i JOIN intake_form f ON f.id = i.form_id WHERE i.booking_id = $1 AND i.position = $2"
static const char SQL_INTAKE_GET[] = INTAKE_SELECT;
/* Before an intake row is created, the person is still there: a share
 * lock that an erasure (which updates the row) waits for, or that waits
 * for the erasure and then finds the row erased, so a save racing an
 * erasure cannot bring the intake back. */
static const char SQL_CLIENT_PRESENT[] = "SELECT 1 FROM booking_client WHERE booking_id = $1::bigint"
                                         " AND position = $2::smallint AND erased_at IS NULL FOR SHARE";
static const char SQL_INTAKE_LOCK[] = INTAKE_SELECT " FOR UPDATE OF i";

static char *ad_for(struct arena *a, const char *col, int64_t id)
{
	return arena_printf(a, "intake.%s:%lld", col, (long long)id);
}

static int open_json(struct ctx *c, const struct keyring *k, const char *hex, const char *col, int64_t id,
                     json_t **out)
{
	unsigned char *env;
	size_t n, pn;
	char *pt;
	if (crypto_bytea_parse(c->a, hex, &env, &n) ||
	    crypto_open(k, c->a, env, n, ad_for(c->a, col, id), &pt, &pn)) {
		log_error("intake %lld: %s does not open", (long long)id, col);
		return ERR_INTERNAL;
	}
	json_error_t e;
	*out = keep(c->a, json_loadb(pt, pn, 0, &e));
	return *out ? 0 : ERR_INTERNAL;
}

static const char *seal_json(struct ctx *c, const struct keyring *k, json_t *j, const char *col, int64_t id)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	if (!text)
		return NULL;
	unsigned char *env;
	size_t n;
	int rc = crypto_seal(k, c->a, text, strlen(text), ad_for(c->a, col, id), &env, &n);
	free(text);
	return rc ? NULL : crypto_bytea_hex(c->a, env, n);
}

static const char *seal_text(struct ctx *c, const struct keyring *k, const char *s, const char *col,
                             int64_t id)
{
	unsigned char *env;
	size_t n;
	if (crypto_seal(k, c->a, s, strlen(s), ad_for(c->a, col, id), &env, &n))
		return NULL;
	return crypto_bytea_hex(c->a, env, n);
}

static bool open_status(const char *s)
{
	return !strcmp(s, "held") || !strcmp(s, "requested") || !strcmp(s, "confirmed");
}

/* Finds (and on first use creates) the intake of token's holder; lock
 * takes its row for the rest of the transaction. */
static int load(struct ctx *c, const struct keyring *k, const char *token, bool lock, struct intake_view *v)
{
	struct booking_view bv;
	int rc = booking_by_token(c, token, &bv);
	if (rc)
		return rc;
	if (!open_status(bv.status))
		return ERR_NOT_FOUND;
	memset(v, 0, sizeof(*v));
	v->booking_id = bv.id;
	v->position = bv.position;
	v->booking_status = bv.status;
	const char *bid = num(c->a, bv.id), *pos = num(c->a, bv.position);
	PGresult *r;
	const char *sql = lock ? SQL_INTAKE_LOCK : SQL_INTAKE_GET;
	if ((rc = db_query(c->db, c->a, &r, sql, bid, pos)))
		return rc;
	/* An erasure deletes the row under its lock, so a save that waited
	 * finds none and comes here, where the person must still be there. */
	if (PQntuples(r) == 0) {
		if ((rc = db_query(c->db, c->a, &r, SQL_CLIENT_PRESENT, bid, pos)))
			return rc;
		if (PQntuples(r) == 0)
			return ERR_NOT_FOUND;
		if ((rc = db_query(c->db, c->a, NULL, SQL_INTAKE_CREATE, bid, pos)) ||
		    (rc = db_query(c->db, c->a, &r, sql, bid, pos)))
			return rc;
		if (PQntuples(r) == 0)
			return ERR_NOT_FOUND; /* the offering has no form */
	}
	v->id = db_ll(r, 0, 0);
	v->form_slug = db_val(r, 0, 1);
	v->form_version = (int)db_ll(r, 0, 2);
	v->form_sha256 = db_val(r, 0, 3);
	json_error_t e;
	v->def = keep(c->a, json_loads(db_val(r, 0, 4), JSON_REJECT_DUPLICATES, &e));
	if (!v->def)
		return ERR_INTERNAL;
	v->policy_accepted = !strcmp(db_val(r, 0, 5), "t");
	v->submitted_at = db_ll(r, 0, 8);
	v->submitted = v->submitted_at != 0;
	if (v->submitted)
		rc = open_json(c, k, db_val(r, 0, 7), "answers_enc", v->id, &v->answers);
	else if (!db_isnull(r, 0, 6))
		rc = open_json(c, k, db_val(r, 0, 6), "draft_enc", v->id, &v->answers);
	else
		v->answers = keep(c->a, json_object());
	return rc;
}

int intake_open(struct ctx *c, const struct keyring *k, const char *token, struct intake_view *out)
{
	int rc = load(c, k, token, false, out);
	if (rc)
		return rc;
	struct practice p;
	if ((rc = practice_get(c, &p)))
		return rc;
	out->policy = p.confidentiality_policy;
	out->practice_name = p.name;
	return 0;
}

struct save_tx {
	struct ctx *c;
	const struct keyring *k;
	const char *token;
	json_t *answers;       /* to merge, or NULL */
	bool accept_policy;    /* save: record the acceptance */
	const char *signature; /* submit: the typed name; NULL for a draft */
	json_t *fields;        /* messages per field */
};

static void merge(json_t *into, json_t *from)
{
	const char *key;
	json_t *v;
	json_object_foreach(from, key, v)
	{
		if (json_is_null(v))
			json_object_del(into, key);
		else
			json_object_set(into, key, v);
	}
}

static const char SQL_SAVE[] =
    "UPDATE intake SET draft_enc = $2::bytea, updated_at = to_timestamp($4::bigint),"
    " policy_accepted_at = CASE WHEN $3::boolean THEN coalesce(policy_accepted_at, to_timestamp($4::bigint))"
    "  ELSE policy_accepted_at END"
    " WHERE id = $1";

static int save_tx(struct db *db, void *arg)
{
	struct save_tx *t = arg;
	struct ctx c = *t->c;
	c.db = db;
	struct intake_view v;
	json_object_clear(t->fields); /* a retried transaction starts afresh */
	int rc = load(&c, t->k, t->token, true, &v);
	if (rc)
		return rc;
	if (v.submitted)
		return ERR_CONFLICT;
	bool accepted = v.policy_accepted || t->accept_policy;
	if (t->answers && json_object_size(t->answers) && !accepted)
		return ERR_FORBIDDEN;
	if (t->answers && (rc = intake_check_answers(v.def, t->answers, t->fields)))
		return rc;
	if (t->answers)
		merge(v.answers, t->answers);
	const char *env = seal_json(&c, t->k, v.answers, "draft_enc", v.id);
	if (!env)
		return ERR_INTERNAL;
	return db_query(db, c.a, NULL, SQL_SAVE, num(c.a, v.id), env, t->accept_policy ? "true" : "false",
	                num(c.a, c.now));
}

int intake_save(struct ctx *c, const struct keyring *k, const char *token, json_t *answers,
                bool accept_policy, json_t **fields)
{
	struct save_tx t = {c, k, token, answers, accept_policy, NULL, json_object()};
	int rc = db_tx(c->db, "READ COMMITTED", save_tx, &t);
	if (rc == ERR_INVALID) {
		*fields = t.fields;
	} else {
		json_decref(t.fields);
		*fields = NULL;
	}
	return rc;
}

static const char SQL_SUBMIT[] =
    "UPDATE intake SET answers_enc = $2::bytea, flags_enc = $3::bytea, signature_enc = $4::bytea,"
    " submitted_at = to_timestamp($5::bigint), submitted_sha256 = $6, flagged = $7::boolean,"
    " draft_enc = NULL, updated_at = to_timestamp($5::bigint)"
    " WHERE id = $1 AND submitted_at IS NULL";
/* A flag puts the booking in review: never confirmed automatically. Times
 * the clinician proposed before this flag were not reviewed with it: taking
 * one no longer confirms (booking_move_locked). */
static const char SQL_NEEDS_REVIEW[] =
    "WITH p AS (UPDATE booking_proposal SET confirms = false WHERE booking_id = $1)"
    " UPDATE booking SET needs_review = true, updated_at = now() WHERE id = $1";

static int submit_tx(struct db *db, void *arg)
{
	struct save_tx *t = arg;
	struct ctx c = *t->c;
	c.db = db;
	struct intake_view v;
	json_object_clear(t->fields); /* a retried transaction starts afresh */
	int rc = load(&c, t->k, t->token, true, &v);
	if (rc)
		return rc;
	if (v.submitted)
		return ERR_CONFLICT;
	if (!v.policy_accepted)
		return ERR_FORBIDDEN;
	if (t->answers && (rc = intake_check_answers(v.def, t->answers, t->fields)))
		return rc;
	if (t->answers)
		merge(v.answers, t->answers);
	intake_drop_hidden(v.def, v.answers);
	intake_missing(v.def, v.answers, t->fields);
	const char *sig = t->signature ? t->signature : "";
	while (*sig == ' ' || *sig == '\t')
		sig++;
	size_t sl = strlen(sig);
	while (sl && (sig[sl - 1] == ' ' || sig[sl - 1] == '\t'))
		sl--;
	if (!sl)
		json_object_set_new(t->fields, "signature",
		                    json_string("Please type your full name to sign."));
	else if (sl > INTAKE_SIGNATURE_MAX || !str_valid_text((struct str){sig, sl}) ||
	         memchr(sig, '\n', sl) || memchr(sig, '\r', sl))
		json_object_set_new(t->fields, "signature",
		                    json_string("Please type your name on one line."));
	if (json_object_size(t->fields))
		return ERR_INVALID;
	char *name = arena_strndup(c.a, sig, sl);
	json_t *flags = keep(c.a, intake_screen(v.def, v.answers));
	const char *a_env = seal_json(&c, t->k, v.answers, "answers_enc", v.id);
	const char *f_env = seal_json(&c, t->k, flags, "flags_enc", v.id);
	const char *s_env = seal_text(&c, t->k, name, "signature_enc", v.id);
	if (!a_env || !f_env || !s_env)
		return ERR_INTERNAL;
	bool flagged = json_array_size(flags) > 0;
	if ((rc = db_query(db, c.a, NULL, SQL_SUBMIT, num(c.a, v.id), a_env, f_env, s_env, num(c.a, c.now),
	                   v.form_sha256, flagged ? "true" : "false")))
		return rc;
	if (flagged && (rc = db_query(db, c.a, NULL, SQL_NEEDS_REVIEW, num(c.a, v.booking_id))))
		return rc;
	log_info("intake %lld submitted (booking %lld, position %d)", (long long)v.id,
	         (long long)v.booking_id, v.position);
	return 0;
}

int intake_submit(struct ctx *c, const struct keyring *k, const char *token, json_t *answers,
                  const char *signature, json_t **fields)
{
	struct save_tx t = {c, k, token, answers, false, signature, json_object()};
	int rc = db_tx(c->db, "READ COMMITTED", submit_tx, &t);
	if (rc == ERR_INVALID) {
		*fields = t.fields;
	} else {
		json_decref(t.fields);
		*fields = NULL;
	}
	return rc;
}

/* ---- the clinician's reading ------------------------------------------ */

static const char SQL_BOTH[] =
    "SELECT p.position, i.id, f.slug, f.version, f.sha256, f.definition, i.draft_enc, i.answers_enc,"
    " i.flags_enc, i.signature_enc, coalesce(extract(epoch FROM i.submitted_at)::bigint, 0), i.id IS NOT NULL"
    " FROM booking_client p LEFT JOIN intake i ON i.booking_id = p.booking_id AND i.position = p.position"
    " LEFT JOIN intake_form f ON f.id = i.form_id WHERE p.booking_id = $1 ORDER BY p.position";

int intake_for_booking(struct ctx *c, const struct keyring *k, int64_t booking_id, json_t **out)
{
	PGresult *r;
	*out = NULL;
	int rc = db_query(c->db, c->a, &r, SQL_BOTH, num(c->a, booking_id));
	if (rc)
		return rc;
	json_t *doc = keep(c->a, json_pack("{s:I, s:n, s:n, s:[]}", "booking_id", (json_int_t)booking_id,
	                                   "form", "definition", "clients"));
	for (int i = 0; i < PQntuples(r); i++) {
		json_t *cl = json_pack("{s:i, s:s, s:n, s:[], s:{}}", "position", (int)db_ll(r, i, 0),
		                       "state", "not started", "submitted_at", "flags", "answers");
		json_array_append_new(json_object_get(doc, "clients"), cl);
		if (strcmp(db_val(r, i, 11), "t"))
			continue;
		int64_t id = db_ll(r, i, 1);
		json_error_t e;
		json_t *def = keep(c->a, json_loads(db_val(r, i, 5), 0, &e));
		if (!def)
			return ERR_INTERNAL;
		if (json_is_null(json_object_get(doc, "definition"))) {
			json_object_set(doc, "definition", def);
			json_object_set_new(doc, "form",
			                    json_pack("{s:s, s:i, s:s}", "slug", db_val(r, i, 2), "version",
			                              (int)db_ll(r, i, 3), "sha256", db_val(r, i, 4)));
		}
		json_object_set_new(cl, "form_version", json_integer(db_ll(r, i, 3)));
		json_object_set_new(cl, "form_sha256", json_string(db_val(r, i, 4)));
		json_t *answers = NULL, *flags = NULL;
		int64_t at = db_ll(r, i, 10);
		if (at) {
			char *sig;
			unsigned char *env;
			size_t n, pn;
			if ((rc = open_json(c, k, db_val(r, i, 7), "answers_enc", id, &answers)) ||
			    (rc = open_json(c, k, db_val(r, i, 8), "flags_enc", id, &flags)))
				return rc;
			if (crypto_bytea_parse(c->a, db_val(r, i, 9), &env, &n) ||
			    crypto_open(k, c->a, env, n, ad_for(c->a, "signature_enc", id), &sig, &pn))
				return ERR_INTERNAL;
			json_object_set_new(cl, "state", json_string("submitted"));
			json_object_set_new(cl, "submitted_at", json_integer(at));
			json_object_set_new(cl, "signature", json_string(sig));
			json_object_set(cl, "flags", flags);
		} else if (!db_isnull(r, i, 6)) {
			if ((rc = open_json(c, k, db_val(r, i, 6), "draft_enc", id, &answers)))
				return rc;
			json_object_set_new(cl, "state", json_string("draft"));
		}
		if (answers)
			json_object_set(cl, "answers", answers);
	}
	*out = json_incref(doc);
	return 0;
}
