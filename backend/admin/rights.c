/* rights.c — see rights.h. */
#include "admin/rights.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "admin/admin.h"
#include "admin/admin_http.h"
#include "admin/audit.h"
#include "booking/booking.h"
#include "core/err.h"
#include "core/tz.h"
#include "crypto/keys.h"
#include "db/db.h"
#include "intake/intake.h"

enum { PERSON_MAX = 100, CONFIRM_MAX = 64 };

/* The access rule of admin.c: $1 the viewer, $2 whether they are the owner. */
#define ACCESS_RULE                                                                                          \
	" b.practice_id = (SELECT practice_id FROM clinician WHERE id = $1)"                                 \
	" AND ($2::boolean OR b.clinician_id = $1)"

/* The person behind client $3: that row first, then their other bookings
 * (same blind index, one position per booking), all within reach. */
static const char SQL_PERSON[] =
    "SELECT id, booking_id, position, erased, reference FROM ("
    " SELECT DISTINCT ON (bc.booking_id) bc.id, bc.booking_id, bc.position,"
    "  bc.erased_at IS NOT NULL AS erased, b.reference"
    " FROM booking_client bc JOIN booking b ON b.id = bc.booking_id"
    " WHERE" ACCESS_RULE " AND (bc.id = $3::bigint OR (bc.erased_at IS NULL AND bc.email_index ="
    "  (SELECT x.email_index FROM booking_client x WHERE x.id = $3::bigint AND x.erased_at IS NULL)))"
    " ORDER BY bc.booking_id, bc.id = $3::bigint DESC, bc.position) p"
    " ORDER BY id = $3::bigint DESC, booking_id LIMIT 100";
static const char SQL_DETAILS[] =
    "SELECT name_enc, email_enc, phone_enc, safe_contact, initials,"
    " coalesce(extract(epoch FROM erased_at)::bigint, 0) FROM booking_client WHERE id = $1";
static const char SQL_MESSAGES[] =
    "SELECT kind, status, extract(epoch FROM created_at)::bigint,"
    " coalesce(extract(epoch FROM sent_at)::bigint, 0), attempts"
    " FROM outbox WHERE booking_id = $1 AND recipient_role = $2 ORDER BY id LIMIT 500";
/* Not the reads of screening flags: that such a read happened says a flag
 * was raised, which one partner must not learn of the other (SPEC §5). */
static const char SQL_AUDIT[] = "SELECT id, extract(epoch FROM at)::bigint, actor, action, target"
                                " FROM audit_log WHERE target = ANY($1::text[]) AND action NOT LIKE 'flags.%'"
                                " ORDER BY id LIMIT 5000";
static const char SQL_CLIENTS[] = "SELECT id, position, initials, erased_at IS NOT NULL FROM booking_client"
                                  " WHERE booking_id = $1 ORDER BY position";

/* Erasure, one client row ($1 id, $2 booking, $3 position, $4 role). */
static const char SQL_ERASE_CLIENT[] =
    "UPDATE booking_client SET name_enc = $2::bytea, email_enc = $3::bytea, phone_enc = NULL,"
    " email_index = encode(sha256(convert_to('erased-client:' || id, 'UTF8')), 'hex'), initials = '',"
    " link_token_hash = NULL, link_expires_at = NULL, link_revoked_at = coalesce(link_revoked_at, now()),"
    " erased_at = coalesce(erased_at, now()) WHERE id = $1";
static const char SQL_ERASE_INTAKE[] = "DELETE FROM intake WHERE booking_id = $1 AND position = $2::smallint";
static const char SQL_ERASE_BOOKING[] =
    "UPDATE booking SET updated_at = now(), manage_revoked_at = CASE WHEN $2::int = 1"
    " THEN coalesce(manage_revoked_at, now()) ELSE manage_revoked_at END WHERE id = $1";
static const char SQL_ERASE_NOTES[] = "UPDATE booking_event SET note_enc = NULL WHERE booking_id = $1";
static const char SQL_ERASE_QUEUED[] =
    "DELETE FROM outbox WHERE booking_id = $1 AND recipient_role = $2 AND status = 'pending'";
static const char SQL_ERASE_SENT[] =
    "UPDATE outbox SET rcpt_enc = NULL, message_enc = NULL WHERE booking_id = $1"
    " AND status <> 'pending' AND recipient_role IN ($2, 'clinician')";

struct person {
	int64_t id;
	int64_t booking_id;
	int position;
	bool erased;
	const char *reference;
};

static const char *num(struct arena *a, int64_t v)
{
	return arena_printf(a, "%lld", (long long)v);
}

static struct ctx rctx(struct req *r)
{
	return (struct ctx){r->a, r->db, ctx_clock_now(), r->session->actor, r->remote_addr};
}

static void decref(void *p)
{
	json_decref(p);
}

static json_t *keep(struct arena *a, json_t *j)
{
	if (!j)
		core_oom();
	arena_on_release(a, decref, j);
	return j;
}

static const char *role_of(int position)
{
	return position == 1 ? "booker" : "partner";
}

/* Unix seconds as RFC 3339 UTC; null for 0. */
static json_t *stamp(int64_t t)
{
	const struct tz *utc;
	char buf[40];
	if (!t || tz_get("UTC", &utc))
		return json_null();
	tz_format_rfc3339(utc, t, buf, sizeof(buf));
	return json_string(buf);
}

static void stamp_key(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (json_is_integer(v))
		json_object_set_new(o, key, stamp(json_integer_value(v)));
}

/* The rows of client id's person the viewer may see; *n == 0 never
 * happens (ERR_NOT_FOUND instead). */
static int load_person(struct ctx *c, const struct admin_viewer *v, int64_t id, struct person **out, int *n)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_PERSON, num(c->a, v->clinician_id), v->owner ? "t" : "f",
	                  num(c->a, id));
	if (rc)
		return rc;
	int rows = PQntuples(r);
	if (rows == 0 || db_ll(r, 0, 0) != id)
		return ERR_NOT_FOUND;
	if (rows > PERSON_MAX)
		rows = PERSON_MAX;
	struct person *p = arena_alloc(c->a, sizeof(*p) * (size_t)rows);
	for (int i = 0; i < rows; i++) {
		p[i].id = db_ll(r, i, 0);
		p[i].booking_id = db_ll(r, i, 1);
		p[i].position = (int)db_ll(r, i, 2);
		p[i].erased = db_val(r, i, 3)[0] == 't';
		p[i].reference = arena_strndup(c->a, db_val(r, i, 4), strlen(db_val(r, i, 4)));
	}
	*out = p;
	*n = rows;
	return 0;
}

static int open_col(struct ctx *c, const struct keyring *k, const PGresult *r, int col, const char *name,
                    const struct person *p, json_t **out)
{
	if (db_isnull(r, 0, col)) {
		*out = json_null();
		return 0;
	}
	char *pt;
	if (booking_client_open(c, k, db_val(r, 0, col), name, p->booking_id, p->position, &pt))
		return ERR_INTERNAL;
	*out = json_string(pt);
	return *out ? 0 : ERR_INTERNAL;
}

/* The client's own details, decrypted. */
static int details(struct ctx *c, const struct keyring *k, const struct person *p, json_t **out)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_DETAILS, num(c->a, p->id));
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	if (db_ll(r, 0, 5)) {
		*out = json_pack("{s:b, s:o}", "erased", 1, "erased_at", stamp(db_ll(r, 0, 5)));
		return 0;
	}
	json_t *name, *email, *phone;
	if ((rc = open_col(c, k, r, 0, "name", p, &name)))
		return rc;
	if ((rc = open_col(c, k, r, 1, "email", p, &email))) {
		json_decref(name);
		return rc;
	}
	if ((rc = open_col(c, k, r, 2, "phone", p, &phone))) {
		json_decref(name);
		json_decref(email);
		return rc;
	}
	*out = json_pack("{s:b, s:o, s:o, s:o, s:s, s:s}", "erased", 0, "name", name, "email", email, "phone",
	                 phone, "safe_contact", db_val(r, 0, 3), "initials", db_val(r, 0, 4));
	return 0;
}

/* Each client's intake state, when the offering has a form. */
static const char SQL_INTAKE_STATES[] =
    "SELECT p.position," ADMIN_INTAKE_STATE_SQL
    " FROM booking_client p JOIN booking b ON b.id = p.booking_id JOIN offering o ON o.id = b.offering_id"
    " LEFT JOIN intake i ON i.booking_id = p.booking_id AND i.position = p.position"
    " WHERE p.booking_id = $1 AND o.intake_form IS NOT NULL ORDER BY p.position";

int rights_booking_clients(struct ctx *c, const struct keyring *k, int64_t booking_id, json_t **out)
{
	PGresult *r, *states;
	int rc = db_query(c->db, c->a, &states, SQL_INTAKE_STATES, num(c->a, booking_id));
	if (rc)
		return rc;
	if ((rc = db_query(c->db, c->a, &r, SQL_CLIENTS, num(c->a, booking_id))))
		return rc;
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
		struct person p = {db_ll(r, i, 0), booking_id, (int)db_ll(r, i, 1), db_val(r, i, 3)[0] == 't',
		                   ""};
		json_t *d;
		if ((rc = details(c, k, &p, &d)))
			break;
		const char *safe = json_string_value(json_object_get(d, "safe_contact"));
		json_object_set_new(d, "who", json_string(p.position == 1 ? "Booker" : "Partner"));
		if (safe)
			json_object_set_new(d, "safe_contact_text",
			                    json_string(!strcmp(safe, "phone")  ? "a phone call"
			                                : !strcmp(safe, "text") ? "a text message"
			                                                        : "email"));
		if (json_is_null(json_object_get(d, "phone")))
			json_object_del(d, "phone");
		for (int j = 0; j < PQntuples(states); j++)
			if (db_ll(states, j, 0) == p.position && !p.erased)
				json_object_set_new(d, "intake", json_string(db_val(states, j, 1)));
		json_array_append_new(arr, d);
	}
	if (rc) {
		json_decref(arr);
		return rc;
	}
	*out = arr;
	return 0;
}

/* The booking as the clinician area reads it, minus anything about the
 * partner (initials, the review mark that their answers may have set). */
static int booking_part(struct ctx *c, const struct admin_viewer *v, const struct person *p, json_t **out)
{
	json_t *b;
	int rc = admin_booking_get(c, v, p->booking_id, &b);
	if (rc)
		return rc;
	json_object_del(b, "initials");
	json_object_del(b, "needs_review");
	json_object_del(b, "sequence");
	static const char *const keys[] = {"starts", "ends", "hold_expires", "created"};
	for (size_t i = 0; i < ARRAY_LEN(keys); i++)
		stamp_key(b, keys[i]);
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(b, "blocks"), i, x)
	{
		stamp_key(x, "starts");
		stamp_key(x, "ends");
	}
	json_array_foreach(json_object_get(b, "events"), i, x)
	{
		stamp_key(x, "at");
	}
	*out = b;
	return 0;
}

/* Only the client's own intake, never the partner's. */
static int intake_part(struct ctx *c, const struct keyring *k, const struct person *p, json_t **out)
{
	json_t *doc;
	int rc = intake_for_booking(c, k, p->booking_id, &doc);
	if (rc)
		return rc;
	keep(c->a, doc);
	json_t *cl, *mine = NULL;
	size_t i;
	json_array_foreach(json_object_get(doc, "clients"), i, cl)
	{
		if (json_integer_value(json_object_get(cl, "position")) == p->position)
			mine = cl;
	}
	if (!mine) {
		*out = json_null();
		return 0;
	}
	json_t *o = json_pack("{s:O, s:o, s:O}", "state", json_object_get(mine, "state"), "submitted_at",
	                      stamp(json_integer_value(json_object_get(mine, "submitted_at"))), "answers",
	                      json_object_get(mine, "answers"));
	json_t *form = json_object_get(doc, "form");
	if (json_is_object(form))
		json_object_set_new(o, "form_slug", json_copy(json_object_get(form, "slug")));
	static const char *const keys[] = {"form_version", "form_sha256", "signature"};
	for (size_t j = 0; j < ARRAY_LEN(keys); j++)
		if (json_object_get(mine, keys[j]))
			json_object_set(o, keys[j], json_object_get(mine, keys[j]));
	*out = o;
	return 0;
}

static int messages_part(struct ctx *c, const struct person *p, json_t **out)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_MESSAGES, num(c->a, p->booking_id), role_of(p->position));
	if (rc)
		return rc;
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(r); i++)
		json_array_append_new(arr, json_pack("{s:s, s:s, s:o, s:o, s:I}", "kind", db_val(r, i, 0),
		                                     "status", db_val(r, i, 1), "queued_at",
		                                     stamp(db_ll(r, i, 2)), "sent_at", stamp(db_ll(r, i, 3)),
		                                     "attempts", (json_int_t)db_ll(r, i, 4)));
	*out = arr;
	return 0;
}

/* Audit entries whose target is one of the client rows or their bookings. */
static int audit_part(struct ctx *c, const struct person *p, int n, json_t **out)
{
	struct buf b;
	buf_init(&b, c->a, 16384);
	buf_puts(&b, "{");
	for (int i = 0; i < n; i++)
		buf_printf(&b, "%s\"client:%lld\",\"booking:%lld\"", i ? "," : "", (long long)p[i].id,
		           (long long)p[i].booking_id);
	buf_puts(&b, "}");
	if (b.err)
		return b.err;
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_AUDIT, buf_cstr(&b));
	if (rc)
		return rc;
	/* Who did what and when, without the detail: an entry about the
	 * booking (e.g. an approval recorded as "reviewed") would tell one
	 * partner that the other's answers raised a screening flag. */
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(r); i++)
		json_array_append_new(arr,
		                      json_pack("{s:I, s:o, s:s, s:s, s:s}", "id", (json_int_t)db_ll(r, i, 0),
		                                "at", stamp(db_ll(r, i, 1)), "actor", db_val(r, i, 2),
		                                "action", db_val(r, i, 3), "target", db_val(r, i, 4)));
	*out = arr;
	return 0;
}

int rights_http_export(struct req *r)
{
	int64_t id = http_param_id(r, 0);
	if (!id)
		return ERR_NOT_FOUND;
	struct ctx c = rctx(r);
	struct admin_viewer v = {r->session->clinician_id, r->session->owner};
	struct person *p;
	int n, rc;
	if ((rc = load_person(&c, &v, id, &p, &n)))
		return rc;
	/* No record of the export, no export. */
	if ((rc = audit_write(&c, "client.export", arena_printf(r->a, "client:%lld", (long long)id),
	                      json_pack("{s:i}", "bookings", n))))
		return rc;
	json_t *doc = keep(r->a, json_pack("{s:I, s:o, s:s, s:[]}", "client_id", (json_int_t)id,
	                                   "exported_at", stamp(c.now), "exported_by", c.actor, "bookings"));
	json_t *list = json_object_get(doc, "bookings");
	for (int i = 0; i < n; i++) {
		json_t *d, *b, *in, *m;
		if ((rc = details(&c, r->app->keys, &p[i], &d)))
			return rc;
		json_t *item = keep(r->a, json_pack("{s:I, s:s, s:o}", "client_id", (json_int_t)p[i].id,
		                                    "role", role_of(p[i].position), "client", d));
		json_array_append(list, item);
		if ((rc = booking_part(&c, &v, &p[i], &b)))
			return rc;
		json_object_set_new(item, "booking", b);
		if (!p[i].erased) {
			if ((rc = intake_part(&c, r->app->keys, &p[i], &in)))
				return rc;
			json_object_set_new(item, "intake", in);
		}
		if ((rc = messages_part(&c, &p[i], &m)))
			return rc;
		json_object_set_new(item, "messages", m);
	}
	json_t *audit;
	if ((rc = audit_part(&c, p, n, &audit)))
		return rc;
	json_object_set_new(doc, "audit", audit);
	r->cache_control = "no-store";
	http_add_header(r, "Content-Disposition",
	                arena_printf(r->a, "attachment; filename=\"client-%lld.json\"", (long long)id));
	return http_send_json(r, 200, json_incref(doc));
}

/* ---- the clients page and erasure -------------------------------------- */

/* The page listing a booking's two clients with export and erase; error
 * (with status 400) is shown next to client err_id's form. */
static int clients_page(struct req *r, int64_t booking_id, int64_t err_id, const char *error, int status)
{
	struct ctx c = rctx(r);
	struct admin_viewer v = {r->session->clinician_id, r->session->owner};
	json_t *b;
	int rc = admin_booking_get(&c, &v, booking_id, &b);
	if (rc)
		return rc;
	keep(r->a, b);
	PGresult *res;
	if ((rc = db_query(r->db, r->a, &res, SQL_CLIENTS, num(r->a, booking_id))))
		return rc;
	json_t *clients = json_array();
	for (int i = 0; i < PQntuples(res); i++) {
		int64_t cid = db_ll(res, i, 0);
		bool erased = db_val(res, i, 3)[0] == 't';
		json_t *cl = json_pack("{s:I, s:s, s:s, s:b}", "id", (json_int_t)cid, "who",
		                       db_ll(res, i, 1) == 1 ? "Partner 1 (booked)" : "Partner 2", "initials",
		                       erased ? "erased client" : db_val(res, i, 2), "erased", erased);
		if (cid == err_id && error)
			json_object_set_new(cl, "error", json_string(error));
		json_array_append_new(clients, cl);
	}
	json_t *view = admin_http_page_view(
	    r, arena_printf(r->a, "Clients of %s", json_string_value(json_object_get(b, "reference"))));
	json_object_set(view, "booking", b);
	json_object_set_new(view, "clients", clients);
	json_object_set_new(view, "owner", json_boolean(r->session->owner));
	const char *done = http_query_param(r, "done");
	if (done && !strcmp(done, "erased") && status == 200)
		json_object_set_new(view, "notice", json_string("The client's data was erased."));
	return http_send_page(r, status, "admin/clients", view);
}

int rights_http_clients(struct req *r)
{
	int64_t id = http_param_id(r, 0);
	if (!id)
		return ERR_NOT_FOUND;
	return clients_page(r, id, 0, NULL, 200);
}

struct erase_tx {
	struct ctx *c;
	const struct keyring *k;
	const struct person *p;
	int n;
};

static const char *sealed_empty(struct erase_tx *t, const struct person *p, const char *col)
{
	return booking_client_seal(t->c, t->k, "", 0, col, p->booking_id, p->position);
}

static int erase_tx(struct db *db, void *arg)
{
	struct erase_tx *t = arg;
	struct arena *a = t->c->a;
	int rc;
	for (int i = 0; i < t->n; i++) {
		const struct person *p = &t->p[i];
		const char *bid = num(a, p->booking_id), *pos = num(a, p->position);
		const char *name = sealed_empty(t, p, "name"), *email = sealed_empty(t, p, "email");
		if (!name || !email)
			return ERR_INTERNAL;
		if ((rc = db_query(db, a, NULL, SQL_ERASE_CLIENT, num(a, p->id), name, email)) ||
		    (rc = db_query(db, a, NULL, SQL_ERASE_INTAKE, bid, pos)) ||
		    (rc = db_query(db, a, NULL, SQL_ERASE_BOOKING, bid, pos)) ||
		    (rc = db_query(db, a, NULL, SQL_ERASE_NOTES, bid)) ||
		    (rc = db_query(db, a, NULL, SQL_ERASE_QUEUED, bid, role_of(p->position))) ||
		    (rc = db_query(db, a, NULL, SQL_ERASE_SENT, bid, role_of(p->position))))
			return rc;
	}
	return audit_write(t->c, "client.erase", arena_printf(a, "client:%lld", (long long)t->p[0].id),
	                   json_pack("{s:i}", "bookings", t->n));
}

/* The typed confirmation: the booking reference, case and surrounding
 * spaces aside. */
static bool confirmed(const char *typed, const char *reference)
{
	if (!typed)
		return false;
	while (*typed == ' ' || *typed == '\t')
		typed++;
	size_t n = strlen(typed);
	while (n && (typed[n - 1] == ' ' || typed[n - 1] == '\t'))
		n--;
	return n == strlen(reference) && n <= CONFIRM_MAX && !strncasecmp(typed, reference, n);
}

int rights_http_erase(struct req *r)
{
	int64_t id = http_param_id(r, 0);
	if (!id)
		return ERR_NOT_FOUND;
	struct ctx c = rctx(r);
	struct admin_viewer v = {r->session->clinician_id, r->session->owner};
	struct person *p;
	int n, rc;
	if ((rc = load_person(&c, &v, id, &p, &n)))
		return rc;
	if (!r->session->owner)
		return http_send_error(r, ERR_FORBIDDEN, "Only the practice owner can erase a client.", NULL);
	if (!confirmed(form_get(&r->form, "confirm"), p[0].reference))
		return clients_page(
		    r, p[0].booking_id, id,
		    arena_printf(r->a, "Type the booking reference %s exactly to confirm the erasure.",
		                 p[0].reference),
		    400);
	struct erase_tx t = {&c, r->app->keys, p, n};
	if ((rc = db_tx(r->db, "READ COMMITTED", erase_tx, &t)))
		return rc;
	return http_redirect(
	    r, 303,
	    arena_printf(r->a, "/admin/bookings/%lld/clients?done=erased", (long long)p[0].booking_id));
}
