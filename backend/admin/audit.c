/* audit.c — see audit.h. */
#include "admin/audit.h"

#include "core/buf.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "db/db.h"

static const char ZERO_HASH[] = "0000000000000000000000000000000000000000000000000000000000000000";

/* One field as "<length>:<bytes>\n": no value can be mistaken for the
 * boundary between two others. */
static void put_field(struct buf *b, const char *v)
{
	size_t n = v ? strlen(v) : 0;
	buf_printf(b, "%zu:", n);
	buf_append(b, v ? v : "", n);
	buf_putc(b, '\n');
}

void audit_entry_hash(const struct audit_entry *e, char out[65])
{
	struct arena a;
	arena_init(&a);
	struct buf b;
	buf_init(&b, &a, 1u << 20);
	char id[24];
	snprintf(id, sizeof(id), "%lld", (long long)e->id);
	buf_puts(&b, "tandem-audit-v1\n");
	put_field(&b, id);
	put_field(&b, e->at);
	put_field(&b, e->actor);
	put_field(&b, e->action);
	put_field(&b, e->target);
	put_field(&b, e->ip);
	put_field(&b, e->detail);
	put_field(&b, e->prev_hash);
	if (b.err) /* a detail over 1 MiB: hash what fits, plus its length */
		buf_printf(&b, "%zu", strlen(e->detail));
	crypto_sha256_hex(b.data, b.len, out);
	arena_release(&a);
}

int audit_check_entry(const struct audit_entry *e, int64_t expect_id, const char *expect_prev, char *why,
                      size_t whylen)
{
	if (e->id != expect_id) {
		if (e->id == expect_id + 1)
			snprintf(why, whylen, "entry %lld before it is missing", (long long)expect_id);
		else if (e->id > expect_id)
			snprintf(why, whylen, "entries %lld to %lld before it are missing",
			         (long long)expect_id, (long long)e->id - 1);
		else
			snprintf(why, whylen, "id %lld is out of order (expected %lld)", (long long)e->id,
			         (long long)expect_id);
		return ERR_CONFLICT;
	}
	if (strcmp(e->prev_hash, expect_prev) != 0) {
		snprintf(why, whylen, "its prev_hash does not match the hash of entry %lld",
		         (long long)e->id - 1);
		return ERR_CONFLICT;
	}
	char h[65];
	audit_entry_hash(e, h);
	if (strcmp(h, e->hash) != 0) {
		snprintf(why, whylen, "its content does not match its hash (changed after it was written)");
		return ERR_CONFLICT;
	}
	return 0;
}

/* ---- writing ----------------------------------------------------------- */

/* pg_advisory_xact_lock key for the chain head: "audit" in ASCII. */
static const char SQL_LOCK[] = "SELECT pg_advisory_xact_lock(418581342580)";
/* The head, the time of this entry and the detail as PostgreSQL prints it
 * (that text is what the chain hashes and what verify reads back). */
static const char SQL_HEAD[] =
    "SELECT coalesce(h.id, 0), coalesce(h.hash, repeat('0', 64)),"
    " to_char(clock_timestamp() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'),"
    " $1::jsonb::text"
    " FROM (SELECT 1) one LEFT JOIN LATERAL"
    " (SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1) h ON true";
static const char SQL_INSERT[] =
    "INSERT INTO audit_log (id, at, actor, action, target, ip, detail, prev_hash, hash)"
    " VALUES ($1, $2::timestamptz, $3, $4, $5, $6, $7::jsonb, $8, $9)";

struct write_job {
	struct arena *a;         /* for results */
	struct audit_entry e;    /* filled in as we go */
	const char *detail_json; /* what the caller gave, compact */
};

static int write_tx(struct db *db, void *arg)
{
	struct write_job *j = arg;
	PGresult *r;
	int rc = db_query(db, j->a, NULL, SQL_LOCK);
	if (rc)
		return rc;
	if ((rc = db_query(db, j->a, &r, SQL_HEAD, j->detail_json)))
		return rc;
	j->e.id = db_ll(r, 0, 0) + 1;
	j->e.prev_hash = db_val(r, 0, 1);
	j->e.at = db_val(r, 0, 2);
	j->e.detail = db_val(r, 0, 3);
	char hash[65], id[24];
	audit_entry_hash(&j->e, hash);
	snprintf(id, sizeof(id), "%lld", (long long)j->e.id);
	return db_query(db, j->a, NULL, SQL_INSERT, id, j->e.at, j->e.actor, j->e.action, j->e.target,
	                j->e.ip, j->e.detail, j->e.prev_hash, hash);
}

/* s cut to at most max bytes on a UTF-8 boundary. */
static const char *clip(struct arena *a, const char *s, size_t max)
{
	if (!s)
		return "";
	size_t n = strlen(s);
	if (n <= max)
		return s;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return arena_strndup(a, s, max);
}

static bool has_real(const json_t *j)
{
	const char *k;
	json_t *v;
	size_t i;
	if (json_is_real(j))
		return true;
	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, k, v)
		{
			if (has_real(v))
				return true;
		}
	} else if (json_is_array(j)) {
		json_array_foreach((json_t *)j, i, v)
		{
			if (has_real(v))
				return true;
		}
	}
	return false;
}

int audit_write(struct ctx *c, const char *action, const char *target, json_t *detail)
{
	int rc = ERR_INTERNAL;
	struct write_job j;
	memset(&j, 0, sizeof(j));
	if (detail && (!json_is_object(detail) || has_real(detail))) {
		/* A caller's bug, but not worth a crash: refuse the entry loudly. */
		log_error("audit entry %s refused: detail must be an object without reals", action);
		json_decref(detail);
		return ERR_INTERNAL;
	}
	char *dj = detail ? json_dumps(detail, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (detail && !dj)
		core_oom();
	j.a = c->a;
	j.detail_json = dj ? arena_strdup(c->a, dj) : "{}";
	free(dj);
	j.e.actor = clip(c->a, c->actor ? c->actor : "system", 100);
	j.e.action = action;
	j.e.target = clip(c->a, target, 200);
	j.e.ip = clip(c->a, c->remote_addr, 64);
	if (c->db->in_tx)
		rc = write_tx(c->db, &j);
	else
		rc = db_tx(c->db, "READ COMMITTED", write_tx, &j);
	if (rc)
		log_warn("audit entry %s not written: %s", action, err_code(rc));
	if (detail)
		json_decref(detail);
	return rc;
}

/* ---- verifying --------------------------------------------------------- */

static const char SQL_PAGE[] =
    "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), actor, action, target,"
    " ip, detail::text, prev_hash, hash FROM audit_log WHERE id > $1 ORDER BY id LIMIT 1000";

int audit_verify(struct db *db, struct audit_report *out)
{
	memset(out, 0, sizeof(*out));
	struct arena a;
	arena_init(&a);
	int rc = 0;
	int64_t last = 0;
	char prev[65];
	memcpy(prev, ZERO_HASH, sizeof(prev));
	for (;;) {
		PGresult *r;
		char after[24];
		snprintf(after, sizeof(after), "%lld", (long long)last);
		rc = db_query(db, &a, &r, SQL_PAGE, after);
		if (rc)
			break;
		int n = PQntuples(r);
		for (int i = 0; i < n; i++) {
			struct audit_entry e = {
			    db_ll(r, i, 0),  db_val(r, i, 1), db_val(r, i, 2),
			    db_val(r, i, 3), db_val(r, i, 4), db_val(r, i, 5),
			    db_val(r, i, 6), db_val(r, i, 7), db_val(r, i, 8),
			};
			if (audit_check_entry(&e, last + 1, prev, out->why, sizeof(out->why)) != 0) {
				out->broken_id = e.id;
				goto done;
			}
			out->entries++;
			last = e.id;
			snprintf(prev, sizeof(prev), "%s", e.hash);
			snprintf(out->head_hash, sizeof(out->head_hash), "%s", e.hash);
		}
		arena_reset(&a);
		if (n < 1000)
			break;
	}
done:
	arena_release(&a);
	return rc;
}

/* ---- the viewer -------------------------------------------------------- */

static const char SQL_LIST[] =
    "SELECT id, extract(epoch FROM at)::bigint, actor, action, target, ip, detail::text FROM audit_log"
    " WHERE ($1::text IS NULL OR actor = $1)"
    " AND ($2::text IS NULL OR action = $2 OR (right($2, 1) = '.' AND starts_with(action, $2)))"
    " AND ($3::date IS NULL OR at >= ($3::date::timestamp AT TIME ZONE $5))"
    " AND ($4::date IS NULL OR at < (($4::date + 1)::timestamp AT TIME ZONE $5))"
    " AND ($6::text IS NULL OR actor = $6 OR target = $6)"
    " AND ($7::bigint IS NULL OR id < $7)"
    " ORDER BY id DESC LIMIT $8";

static const char *nz(const char *s)
{
	return s && *s ? s : NULL;
}

int audit_list(struct ctx *c, const struct audit_filter *f, json_t **rows, bool *more)
{
	char before[24], limit[16];
	int lim = f->limit < 1 ? 1 : f->limit > 200 ? 200 : f->limit;
	snprintf(before, sizeof(before), "%lld", (long long)f->before_id);
	snprintf(limit, sizeof(limit), "%d", lim + 1);
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_LIST, nz(f->actor), nz(f->action), nz(f->from), nz(f->to),
	                  f->timezone ? f->timezone : "UTC", nz(f->scope), f->before_id > 0 ? before : NULL,
	                  limit);
	if (rc)
		return rc;
	int n = PQntuples(r);
	*more = n > lim;
	json_t *arr = json_array();
	for (int i = 0; i < n && i < lim; i++)
		json_array_append_new(arr, json_pack("{s:I, s:I, s:s, s:s, s:s, s:s, s:s}", "id",
		                                     (json_int_t)db_ll(r, i, 0), "at",
		                                     (json_int_t)db_ll(r, i, 1), "actor", db_val(r, i, 2),
		                                     "action", db_val(r, i, 3), "target", db_val(r, i, 4),
		                                     "ip", db_val(r, i, 5), "detail", db_val(r, i, 6)));
	*rows = arr;
	return 0;
}
