/* admin.c — see admin.h. */
#include "admin/admin.h"

#include "db/db.h"

static const char *num(struct arena *a, int64_t v)
{
	return arena_printf(a, "%lld", (long long)v);
}

/* The access rule, shared by every query below: $1 is the viewer, $2
 * whether they are the owner. */
#define ACCESS_RULE                                                                                          \
	" b.practice_id = (SELECT practice_id FROM clinician WHERE id = $1)"                                 \
	" AND ($2::boolean OR b.clinician_id = $1)"

#define BOOKING_COLUMNS                                                                                      \
	"SELECT b.id, b.reference, b.status, o.name, b.clinician_id, c.name,"                                \
	" extract(epoch FROM b.starts_at)::bigint, extract(epoch FROM b.ends_at)::bigint,"                   \
	" coalesce(extract(epoch FROM b.hold_expires_at)::bigint, 0), b.needs_review,"                       \
	" coalesce((SELECT string_agg(CASE WHEN k.erased_at IS NOT NULL THEN 'erased client'"                \
	"  ELSE nullif(k.initials, '') END, ' & ' ORDER BY k.position)"                                      \
	"  FROM booking_client k WHERE k.booking_id = b.id), ''),"                                           \
	" (SELECT count(*) FROM booking_block x WHERE x.booking_id = b.id),"                                 \
	" b.ical_sequence, extract(epoch FROM b.created_at)::bigint"                                         \
	" FROM booking b JOIN offering o ON o.id = b.offering_id JOIN clinician c ON c.id = b.clinician_id"

static const char SQL_UPCOMING[] = BOOKING_COLUMNS " WHERE" ACCESS_RULE " AND b.status = ANY($4::text[])"
                                                   " AND b.ends_at > to_timestamp($3::bigint)"
                                                   " ORDER BY b.starts_at, b.id LIMIT $5::int";
static const char SQL_ONE[] = BOOKING_COLUMNS " WHERE" ACCESS_RULE " AND b.id = $3";
static const char SQL_BLOCKS[] =
    "SELECT extract(epoch FROM starts_at)::bigint, extract(epoch FROM ends_at)::bigint,"
    " cancelled_at IS NOT NULL FROM booking_block WHERE booking_id = $1 ORDER BY day_index";
static const char SQL_EVENTS[] =
    "SELECT extract(epoch FROM at)::bigint, actor, coalesce(from_status, ''), to_status, reason"
    " FROM booking_event WHERE booking_id = $1 ORDER BY at, id LIMIT 500";
static const char SQL_CLINICIANS[] =
    "SELECT id, name FROM clinician WHERE practice_id = (SELECT practice_id FROM clinician WHERE id = $1)"
    " AND ($2::boolean OR id = $1) ORDER BY name, id";

static json_t *booking_row(const PGresult *r, int i)
{
	json_t *j = json_pack("{s:I, s:s, s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:b, s:s, s:I, s:I, s:I}", "id",
	                      (json_int_t)db_ll(r, i, 0), "reference", db_val(r, i, 1), "status",
	                      db_val(r, i, 2), "offering", db_val(r, i, 3), "clinician_id",
	                      (json_int_t)db_ll(r, i, 4), "clinician", db_val(r, i, 5), "starts",
	                      (json_int_t)db_ll(r, i, 6), "ends", (json_int_t)db_ll(r, i, 7), "hold_expires",
	                      (json_int_t)db_ll(r, i, 8), "needs_review", db_val(r, i, 9)[0] == 't',
	                      "initials", db_val(r, i, 10), "days", (json_int_t)db_ll(r, i, 11), "sequence",
	                      (json_int_t)db_ll(r, i, 12), "created", (json_int_t)db_ll(r, i, 13));
	if (!j)
		core_oom();
	return j;
}

int admin_bookings_upcoming(struct ctx *c, const struct admin_viewer *v, enum admin_open which, int max,
                            json_t **rows, bool *more)
{
	static const char *const statuses[] = {"{held,requested,confirmed}", "{held,requested}",
	                                       "{confirmed}"};
	PGresult *r;
	/* One row more than asked for says there are more. */
	int rc = db_query(c->db, c->a, &r, SQL_UPCOMING, num(c->a, v->clinician_id), v->owner ? "t" : "f",
	                  num(c->a, c->now), statuses[which], num(c->a, (int64_t)max + 1));
	if (rc)
		return rc;
	int n = PQntuples(r);
	*more = n > max;
	json_t *arr = json_array();
	for (int i = 0; i < n && i < max; i++)
		json_array_append_new(arr, booking_row(r, i));
	*rows = arr;
	return 0;
}

int admin_booking_get(struct ctx *c, const struct admin_viewer *v, int64_t id, json_t **out)
{
	PGresult *r;
	const char *bid = num(c->a, id);
	int rc = db_query(c->db, c->a, &r, SQL_ONE, num(c->a, v->clinician_id), v->owner ? "t" : "f", bid);
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	json_t *b = booking_row(r, 0);
	if ((rc = db_query(c->db, c->a, &r, SQL_BLOCKS, bid))) {
		json_decref(b);
		return rc;
	}
	json_t *blocks = json_array();
	for (int i = 0; i < PQntuples(r); i++)
		json_array_append_new(
		    blocks, json_pack("{s:I, s:I, s:b}", "starts", (json_int_t)db_ll(r, i, 0), "ends",
		                      (json_int_t)db_ll(r, i, 1), "cancelled", db_val(r, i, 2)[0] == 't'));
	json_object_set_new(b, "blocks", blocks);
	if ((rc = db_query(c->db, c->a, &r, SQL_EVENTS, bid))) {
		json_decref(b);
		return rc;
	}
	json_t *events = json_array();
	for (int i = 0; i < PQntuples(r); i++)
		json_array_append_new(events,
		                      json_pack("{s:I, s:s, s:s, s:s, s:s}", "at", (json_int_t)db_ll(r, i, 0),
		                                "actor", db_val(r, i, 1), "from", db_val(r, i, 2), "to",
		                                db_val(r, i, 3), "reason", db_val(r, i, 4)));
	json_object_set_new(b, "events", events);
	*out = b;
	return 0;
}

int admin_clinicians(struct ctx *c, const struct admin_viewer *v, json_t **rows)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_CLINICIANS, num(c->a, v->clinician_id), v->owner ? "t" : "f");
	if (rc)
		return rc;
	json_t *arr = json_array();
	for (int i = 0; i < PQntuples(r); i++)
		json_array_append_new(arr, json_pack("{s:I, s:s, s:s}", "id", (json_int_t)db_ll(r, i, 0),
		                                     "name", db_val(r, i, 1), "actor",
		                                     arena_printf(c->a, "clinician:%s", db_val(r, i, 0))));
	*rows = arr;
	return 0;
}
