/* seed.c — the demo practice that `make run` serves (idempotent: rows the
 * clinician may have edited are left as they are on a second run). */
#include "practice/practice.h"

#include "crypto/crypto.h"
#include "db/db.h"

static const char DEMO_EMAIL[] = "clinician@riverbend.example";
static const char DEMO_PASSWORD[] = "tandem-demo-2026";

static const char SQL_PRACTICE[] =
    "INSERT INTO practice (slug, name, timezone, address, phone, email, cancellation_policy,"
    " confidentiality_policy)"
    " VALUES ('demo', 'Riverbend Practice', 'America/Chicago',"
    " '1200 Lakeview Avenue, Suite 3, Chicago, IL 60614', '+1 312 555 0142', 'hello@riverbend.example',"
    " 'You can cancel or move a booking online until the window shown on your booking page closes "
    "(7 days before an intensive, 24 hours before a call or session). After that, please contact the "
    "practice. Deposits for intensives cancelled inside the window are not refunded unless the dates "
    "can be filled.',"
    " 'Each of you fills in your own intake. Your answers are read only by your clinician; your partner "
    "does not see them. Because we work with you as a couple, your clinician will not keep secrets that "
    "would undermine that work: if something you share privately matters to the relationship, your "
    "clinician will talk with you about how to bring it into the sessions. Safety comes first: anything "
    "you tell us about fear or harm is handled with care and never shared with your partner.')"
    " ON CONFLICT (slug) DO UPDATE SET slug = EXCLUDED.slug RETURNING id";

static const char SQL_CLINICIAN_EXISTS[] = "SELECT id FROM clinician WHERE lower(email) = lower($1)";

static const char SQL_OFFERINGS[] =
    "INSERT INTO offering (practice_id, slug, name, kind, description, days, duration_minutes, day_start,"
    " day_end, price_cents, deposit_cents, currency, requires_approval, location_kind, location,"
    " buffer_before_minutes, buffer_after_minutes, min_notice_minutes, horizon_days, slot_interval_minutes,"
    " start_weekdays, min_rest_days, cap_per_week, cap_per_month, hold_minutes, cancel_window_hours,"
    " intake_form, series_max, sort_order) VALUES"
    " ($1, 'consult', 'Free consultation call', 'consult',"
    "  'A free 20-minute video call to ask your questions and see together whether an intensive is the "
    "right next step.', 1, 20, NULL, NULL, 0, 0, 'USD', false, 'video', 'Video link sent with your "
    "confirmation', 0, 10, 1440, 60, 30, 31, 0, NULL, NULL, 1440, 24, 'pre-consult', 1, 10),"
    " ($1, 'intensive-2day', 'Two-day intensive', 'intensive',"
    "  'Two focused days, 09:00 to 16:00 with a lunch break, to work through what keeps getting stuck. "
    "Each of you fills in a private intake beforehand.', 2, 420, '09:00', '16:00', 320000, 80000, 'USD',"
    "  true, 'in_person', '1200 Lakeview Avenue, Suite 3, Chicago', 0, 0, 10080, 180, 1440, 15, 2, NULL, 3,"
    "  10080, 168, 'intensive-intake', 1, 20),"
    " ($1, 'intensive-3day', 'Three-day intensive', 'intensive',"
    "  'Three days, 09:00 to 16:00 with a lunch break, for deeper repair and a plan you both own. Each of "
    "you fills in a private intake beforehand.', 3, 420, '09:00', '16:00', 450000, 100000, 'USD', true,"
    "  'in_person', '1200 Lakeview Avenue, Suite 3, Chicago', 0, 0, 10080, 180, 1440, 7, 2, NULL, 2, 10080,"
    "  168, 'intensive-intake', 1, 30),"
    " ($1, 'checkin', 'Follow-up check-in', 'session',"
    "  'A 50-minute video session after your intensive to keep the changes going. Can be booked weekly.',"
    "  1, 50, NULL, NULL, 17500, 0, 'USD', false, 'video', 'Video link sent with your confirmation', 0, 10,"
    "  1440, 90, 60, 31, 0, NULL, NULL, 1440, 24, NULL, 12, 40)"
    " ON CONFLICT (practice_id, slug) DO NOTHING";

static const char SQL_BREAKS[] =
    "INSERT INTO offering_break (offering_id, starts, ends, label)"
    " SELECT id, '12:00', '13:00', 'Lunch' FROM offering WHERE practice_id = $1 AND kind = 'intensive'"
    " ON CONFLICT DO NOTHING";

static const char SQL_OFFERING_CLINICIAN[] =
    "INSERT INTO offering_clinician (offering_id, clinician_id)"
    " SELECT id, $2 FROM offering WHERE practice_id = $1 ON CONFLICT DO NOTHING";

static const char SQL_AVAILABILITY[] =
    "INSERT INTO availability_rule (clinician_id, weekday, starts, ends)"
    " SELECT $1, d, '09:00', CASE WHEN d = 5 THEN '13:00'::time ELSE '17:00'::time END"
    " FROM generate_series(1, 5) d"
    " WHERE NOT EXISTS (SELECT 1 FROM availability_rule WHERE clinician_id = $1)";

struct seed_state {
	struct ctx *c;    /* caller's context */
	const char *hash; /* Argon2id of the demo password */
};

static int seed_tx(struct db *db, void *arg)
{
	struct seed_state *s = arg;
	struct arena *a = s->c->a;
	PGresult *r;
	int rc = db_query(db, a, &r, SQL_PRACTICE);
	if (rc)
		return rc;
	const char *pid = arena_strdup(a, db_val(r, 0, 0));
	rc = db_query(db, a, &r, SQL_CLINICIAN_EXISTS, DEMO_EMAIL);
	if (rc)
		return rc;
	const char *cid;
	if (PQntuples(r) == 0) {
		static const char SQL_INSERT_CLINICIAN[] =
		    "INSERT INTO clinician (practice_id, name, email, timezone, role, password_hash)"
		    " VALUES ($1, 'Dr. Maya Lindqvist', $2, 'America/Chicago', 'owner', $3) RETURNING id";
		rc = db_query(db, a, &r, SQL_INSERT_CLINICIAN, pid, DEMO_EMAIL, s->hash);
		if (rc)
			return rc;
	}
	cid = arena_strdup(a, db_val(r, 0, 0));
	if ((rc = db_query(db, a, NULL, SQL_OFFERINGS, pid)) ||
	    (rc = db_query(db, a, NULL, SQL_BREAKS, pid)) ||
	    (rc = db_query(db, a, NULL, SQL_OFFERING_CLINICIAN, pid, cid)) ||
	    (rc = db_query(db, a, NULL, SQL_AVAILABILITY, cid)))
		return rc;
	return 0;
}

int practice_seed_demo(struct ctx *c, const char **login_email, const char **login_password)
{
	char hash[160];
	int rc = crypto_password_hash(DEMO_PASSWORD, hash, sizeof(hash));
	if (rc)
		return rc;
	struct seed_state s = {c, hash};
	rc = db_tx(c->db, "READ COMMITTED", seed_tx, &s);
	if (rc)
		return rc;
	*login_email = DEMO_EMAIL;
	*login_password = DEMO_PASSWORD;
	return 0;
}
