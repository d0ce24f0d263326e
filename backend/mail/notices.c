/* notices.c — messages to the clinician that are about no booking. */
#include "mail/mail.h"

#include "core/humantime.h"
#include "core/tz.h"
#include "db/db.h"

static const char SQL_SOURCE[] =
    "SELECT s.name, c.name, c.email, c.timezone, coalesce(extract(epoch FROM s.last_success_at)::bigint, 0)"
    " FROM calendar_source s JOIN clinician c ON c.id = s.clinician_id WHERE s.id = $1";

int mail_calendar_failing(struct ctx *c, const struct mailer *m, int64_t source_id)
{
	char id[24];
	snprintf(id, sizeof(id), "%lld", (long long)source_id);
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_SOURCE, id);
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	const char *email = db_val(r, 0, 2);
	if (!mime_address_valid(email))
		return ERR_INVALID;
	int64_t last = db_ll(r, 0, 4);
	const struct tz *z;
	if (tz_get(db_val(r, 0, 3), &z))
		return ERR_INTERNAL;
	json_t *view = json_pack("{s:s, s:s}", "source_name", db_val(r, 0, 0), "link",
	                         arena_printf(c->a, "%s/admin/calendars", m->cfg->base_url));
	if (!view)
		core_oom();
	if (last)
		json_object_set_new(view, "last_success",
		                    json_string(arena_printf(c->a, "%s, %s", humantime_date(c->a, z, last),
		                                             humantime_clock(c->a, z, last))));
	struct mail_out out = {
	    .kind = "calendar_failing",
	    .recipient_role = "clinician",
	    .to = {db_val(r, 0, 1), email},
	    .view = view,
	    /* One alert per outage: a success in between moves last_success_at. */
	    .dedupe_key =
	        arena_printf(c->a, "calendar_failing:%lld:%lld", (long long)source_id, (long long)last),
	};
	rc = mail_enqueue(c, m, &out, NULL);
	json_decref(view);
	return rc;
}
