/* booking.c — see booking.h. SQL sits next to the code that runs it. */
#include "booking/booking.h"

#include "booking/booking_admin.h"

#include <ctype.h>

#include "avail/avail_load.h"
#include "core/buf.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "db/db.h"
#include "ics/ics.h"
#include "mail/mail.h"

static char *num(struct arena *a, int64_t v)
{
	return arena_printf(a, "%lld", (long long)v);
}

bool booking_email_valid(const char *e)
{
	size_t n = strlen(e);
	const char *at = strchr(e, '@');
	if (n < 3 || n > BOOKING_EMAIL_MAX || !at || at == e || strchr(at + 1, '@') || (size_t)(at - e) > 64)
		return false;
	const char *dom = at + 1;
	const char *dot = strrchr(dom, '.');
	if (!dot || dot == dom || !dot[1] || strlen(dot + 1) < 2 || strstr(dom, "..") || dom[0] == '-' ||
	    dom[0] == '.')
		return false;
	for (const char *p = e; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch <= ' ' || ch == 0x7f || strchr("\"(),:;<>[\\]", ch))
			return false;
	}
	for (const char *p = dom; *p; p++)
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && (unsigned char)*p < 0x80)
			return false;
	return true;
}

bool booking_email_ascii(const char *e)
{
	for (const char *p = e; *p; p++)
		if ((unsigned char)*p >= 0x80)
			return false;
	return true;
}

static bool phone_valid(const char *p)
{
	size_t digits = 0;
	for (; *p; p++) {
		if (isdigit((unsigned char)*p))
			digits++;
		else if (!strchr(" +-().", *p))
			return false;
	}
	return digits >= 5 && digits <= 20;
}

static size_t utf8_chars(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}

static void field(json_t *fields, const char *name, const char *msg)
{
	if (!json_object_get(fields, name))
		json_object_set_new(fields, name, json_string(msg));
}

/* Structure of the request: names, emails, consent. */
static void validate_clients(const struct booking_request *rq, json_t *fields)
{
	if (rq->nclients < 2) {
		field(fields, "clients", "Both partners' names and emails are needed.");
		return;
	}
	if (rq->nclients > 2)
		field(fields, "clients", "A booking is for two people.");
	for (int i = 0; i < 2 && i < rq->nclients; i++) {
		const struct booking_client_in *cl = &rq->clients[i];
		char key[40];
		snprintf(key, sizeof(key), "clients[%d].name", i);
		const char *name = cl->name ? cl->name : "";
		while (*name == ' ')
			name++;
		if (!*name)
			field(fields, key, "Please enter a name.");
		else if (utf8_chars(name) > BOOKING_NAME_MAX || strpbrk(name, "\r\n\t"))
			field(fields, key, "A name is one line of at most 200 characters.");
		snprintf(key, sizeof(key), "clients[%d].email", i);
		if (!cl->email || !*cl->email)
			field(fields, key, "Please enter an email address.");
		else if (!booking_email_valid(cl->email))
			field(fields, key, "This does not look like an email address.");
		else if (!booking_email_ascii(cl->email))
			/* No SMTPUTF8 or punycode on our side yet: refuse what
			 * we could not deliver rather than dead-letter it. */
			field(fields, key,
			      "Please use an address with only Latin letters, digits and . _ - + @ (we "
			      "cannot yet send mail to addresses with other characters).");
		snprintf(key, sizeof(key), "clients[%d].phone", i);
		if (cl->phone && *cl->phone &&
		    (strlen(cl->phone) > BOOKING_PHONE_MAX || !phone_valid(cl->phone)))
			field(fields, key,
			      "A phone number has 5 to 20 digits and may use + - ( ) and spaces.");
		snprintf(key, sizeof(key), "clients[%d].safe_contact", i);
		const char *sc = cl->safe_contact && *cl->safe_contact ? cl->safe_contact : "email";
		if (strcmp(sc, "email") && strcmp(sc, "phone") && strcmp(sc, "text"))
			field(fields, key, "Choose email, phone or text.");
		else if (strcmp(sc, "email") && !(cl->phone && *cl->phone))
			field(fields, key, "To be contacted by phone or text, please give a phone number.");
	}
	if (!rq->consent)
		field(fields, "consent",
		      "Please agree to receive emails and calendar invites about this booking.");
}

static char *span_text(struct arena *a, int minutes)
{
	if (minutes % 1440 == 0)
		return arena_printf(a, "%d day%s", minutes / 1440, minutes == 1440 ? "" : "s");
	if (minutes % 60 == 0)
		return arena_printf(a, "%d hour%s", minutes / 60, minutes == 60 ? "" : "s");
	return arena_printf(a, "%d minutes", minutes);
}

/* Where the start sits on the offering's schedule: in the past, too soon,
 * too far ahead, off the grid, on a wrong weekday. */
static void validate_start(struct ctx *c, const struct offering *o, const struct tz *z, int64_t start,
                           json_t *fields)
{
	int64_t local = tz_utc_to_local(z, start);
	int64_t day = avail_local_day(z, start);
	int64_t sec_of_day = local - day * 86400;
	int minute = (int)(sec_of_day / 60);
	int64_t today = avail_local_day(z, c->now);
	if (start <= c->now) {
		field(fields, "start", "This time is in the past.");
	} else if (start < c->now + (int64_t)o->min_notice_minutes * 60) {
		field(fields, "start",
		      arena_printf(c->a, "This is too soon: bookings need at least %s' notice.",
		                   span_text(c->a, o->min_notice_minutes)));
	} else if (day > today + o->horizon_days) {
		field(fields, "start",
		      arena_printf(c->a, "This is too far ahead: bookings open %d days ahead.",
		                   o->horizon_days));
	} else if (sec_of_day % 60 != 0 ||
	           (!strcmp(o->kind, "intensive")
	                ? minute != o->day_start_min
	                : minute % (o->slot_interval_minutes ? o->slot_interval_minutes : 30))) {
		field(fields, "start", "This is not one of the offered start times.");
	} else if (!(o->start_weekdays & (1 << (tz_iso_weekday(day) - 1)))) {
		field(fields, "start", "This offering does not start on that day of the week.");
	}
}

/* A start is on the schedule when it is for at least one of the
 * offering's clinicians (each in their own zone); otherwise the first
 * clinician's reason is reported. */
static void validate_start_any(struct ctx *c, const struct offering *o, const struct avail_clinician *cl,
                               size_t ncl, int64_t start, json_t *fields)
{
	json_t *first = NULL;
	for (size_t i = 0; i < ncl; i++) {
		json_t *f = json_object();
		validate_start(c, o, cl[i].tz, start, f);
		if (!json_object_size(f)) {
			json_decref(f);
			if (first)
				json_decref(first);
			return;
		}
		if (!first)
			first = f;
		else
			json_decref(f);
	}
	json_object_update_missing(fields, first);
	json_decref(first);
}

json_t *booking_blocks_json(const struct tz *z, const struct avail_interval *blocks, int n)
{
	json_t *arr = json_array();
	for (int i = 0; i < n; i++) {
		char s[40], e[40];
		tz_format_rfc3339(z, blocks[i].start, s, sizeof(s));
		tz_format_rfc3339(z, blocks[i].end, e, sizeof(e));
		json_array_append_new(arr, json_pack("{s:s, s:s}", "start", s, "end", e));
	}
	return arr;
}

static void reference_code(char out[16])
{
	static const char alphabet[] = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"; /* no 0/O, 1/I */
	unsigned char r[4];
	crypto_random(r, sizeof(r));
	memcpy(out, "TND-", 4);
	for (int i = 0; i < 4; i++)
		out[4 + i] = alphabet[r[i] & 31];
	out[8] = '\0';
}

static const char *token_hash_param(struct arena *a, const char *token)
{
	unsigned char h[32];
	crypto_sha256(token, strlen(token), h);
	return crypto_bytea_hex(a, h, sizeof(h));
}

/* ---- create ---------------------------------------------------------- */

struct create_tx {
	struct ctx *c;
	const struct mailer *m;
	const struct keyring *k;
	const char *base_url;
	const struct booking_request *rq;
	const struct offering *o;
	int64_t start;
	const struct avail_clinician *clinicians;
	size_t nclinicians;
	struct booking_result *out;
	const char *tzname_for_json;
};

static const char SQL_IDEM_CLAIM[] =
    "INSERT INTO idempotency_key (key, request_hash, status, response) VALUES ($1, $2, 0, '')"
    " ON CONFLICT (key) DO NOTHING RETURNING key";
static const char SQL_IDEM_GET[] =
    "SELECT request_hash, status, response FROM idempotency_key WHERE key = $1";
static const char SQL_IDEM_SET[] = "UPDATE idempotency_key SET status = $2, response = $3 WHERE key = $1";
static const char SQL_LOCK_CLINICIAN[] = "SELECT pg_advisory_xact_lock(7365, $1::int)";
/* Locks (clinician, UTC day) keys in the ascending order given. */
static const char SQL_LOCK_DAYS[] = "SELECT pg_advisory_xact_lock(k) FROM unnest($1::bigint[]) AS k";
static const char SQL_NEXT_ID[] = "SELECT nextval(pg_get_serial_sequence('booking', 'id'))";

/* The whole booking in one statement: atomic on its own, so a booking
 * without caps or an Idempotency-Key needs no explicit transaction. The
 * exclusion constraint on booking_block fails the statement (23P01) when
 * the time was taken meanwhile; a reference collision returns no row. */
static const char SQL_CREATE[] =
    "WITH b AS ("
    " INSERT INTO booking (id, practice_id, offering_id, clinician_id, reference, status, starts_at, ends_at,"
    "  hold_expires_at, manage_token_hash, manage_expires_at, ical_uid, client_timezone)"
    " OVERRIDING SYSTEM VALUE"
    " SELECT $1, o.practice_id, o.id, $3, $4, $5::text, to_timestamp($6::bigint), to_timestamp($7::bigint),"
    "  to_timestamp($8::bigint), $9::bytea, to_timestamp($7::bigint) + interval '90 days', $10, $11"
    " FROM offering o WHERE o.id = $2"
    " ON CONFLICT DO NOTHING RETURNING id),"
    " blk AS ("
    " INSERT INTO booking_block (booking_id, clinician_id, day_index, starts_at, ends_at, blocked)"
    " SELECT b.id, $3, d.i - 1, to_timestamp(d.s), to_timestamp(d.e),"
    "  tstzrange(to_timestamp(d.s) - make_interval(mins => $14::int), to_timestamp(d.e) + make_interval(mins "
    "=> $15::int))"
    " FROM b, unnest($12::bigint[], $13::bigint[]) WITH ORDINALITY AS d(s, e, i)),"
    " cl AS ("
    " INSERT INTO booking_client (booking_id, position, name_enc, email_enc, phone_enc, email_index, "
    "safe_contact,"
    "  initials, link_token_hash, link_expires_at)"
    " SELECT b.id, x.pos, d.n, d.e, d.p, x.ix, x.sc, x.ini, CASE WHEN x.pos = 2 THEN $23::bytea END,"
    "  CASE WHEN x.pos = 2 THEN to_timestamp($7::bigint) + interval '90 days' END FROM b,"
    "  unnest(ARRAY[1, 2], $16::text[], $17::text[], $18::text[], $19::text[], $20::text[], $21::text[])"
    "  AS x(pos, nh, eh, ph, ix, sc, ini)"
    "  CROSS JOIN LATERAL (SELECT decode(x.nh, 'hex') AS n, decode(x.eh, 'hex') AS e, decode(x.ph, 'hex') AS "
    "p) d),"
    " ev AS ("
    " INSERT INTO booking_event (booking_id, actor, from_status, to_status, reason)"
    " SELECT b.id, $22::text, NULL, $5::text, 'booked online' FROM b)"
    " SELECT id FROM b";

static const char SQL_INSERT_BLOCK[] =
    "INSERT INTO booking_block (booking_id, clinician_id, day_index, starts_at, ends_at, blocked)"
    " VALUES ($1, $2, $3, to_timestamp($4::bigint), to_timestamp($5::bigint),"
    "  tstzrange(to_timestamp($4::bigint) - make_interval(mins => $6::int),"
    "            to_timestamp($5::bigint) + make_interval(mins => $7::int)))";
static const char SQL_INSERT_EVENT[] =
    "INSERT INTO booking_event (booking_id, actor, from_status, to_status, reason, detail)"
    " VALUES ($1, $2, $3, $4, $5, coalesce($6::jsonb, '{}'))";

static void client_ad(char *ad, size_t size, const char *col, int64_t booking_id, int pos)
{
	snprintf(ad, size, "booking_client.%s:%lld:%d", col, (long long)booking_id, pos);
}

const char *booking_client_seal(struct ctx *c, const struct keyring *k, const char *value, size_t n,
                                const char *col, int64_t booking_id, int pos)
{
	char ad[96];
	client_ad(ad, sizeof(ad), col, booking_id, pos);
	unsigned char *env;
	size_t en;
	if (crypto_seal(k, c->a, value, n, ad, &env, &en) != 0)
		return NULL;
	return crypto_bytea_hex(c->a, env, en);
}

int booking_client_open(struct ctx *c, const struct keyring *k, const char *hex, const char *col,
                        int64_t booking_id, int pos, char **out)
{
	char ad[96];
	client_ad(ad, sizeof(ad), col, booking_id, pos);
	unsigned char *env;
	size_t n, pn;
	if (crypto_bytea_parse(c->a, hex, &env, &n) != 0)
		return ERR_INTERNAL;
	return crypto_open(k, c->a, env, n, ad, out, &pn) ? ERR_INTERNAL : 0;
}

static char *initials_of(struct arena *a, const char *name)
{
	char *out = arena_alloc(a, 5);
	size_t o = 0;
	bool start = true;
	for (const char *p = name; *p && o < 2; p++) {
		if (*p == ' ' || *p == '-') {
			start = true;
			continue;
		}
		if (start && isalpha((unsigned char)*p))
			out[o++] = (char)toupper((unsigned char)*p);
		start = false;
	}
	out[o] = '\0';
	return out;
}

static char *lower(struct arena *a, const char *s)
{
	char *d = arena_strdup(a, s);
	for (char *p = d; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return d;
}

/* Two bookings can only collide if they cover a common day for the same
 * clinician. Racing inserts into an exclusion constraint can deadlock
 * (each waits for the other's uncommitted row; PostgreSQL needs a second
 * to notice), so bookings that could collide are queued instead: one
 * advisory lock per (clinician, UTC day) the booking's time touches,
 * buffers included, taken in ascending order. Other days run in parallel. */
static int lock_days(struct db *db, struct arena *a, const struct avail_clinician *cl, size_t ncl,
                     const struct offering *o, int64_t start)
{
	int64_t span =
	    !strcmp(o->kind, "intensive") ? (int64_t)o->days * 86400 : (int64_t)o->duration_minutes * 60;
	int64_t lo = start - (int64_t)o->buffer_before_minutes * 60 - 86400;
	int64_t hi = start + span + (int64_t)o->buffer_after_minutes * 60 + 86400;
	struct buf keys;
	buf_init(&keys, a, 8192);
	buf_putc(&keys, '{');
	bool first = true;
	/* Clinicians ascending (they come sorted by id), days ascending. */
	for (size_t i = 0; i < ncl; i++)
		for (int64_t d = lo / 86400; d <= hi / 86400; d++) {
			buf_printf(&keys, "%s%lld", first ? "" : ",", (long long)(cl[i].id * 1000000 + d));
			first = false;
		}
	buf_putc(&keys, '}');
	if (keys.err)
		return ERR_INTERNAL;
	return db_query(db, a, NULL, SQL_LOCK_DAYS, buf_cstr(&keys));
}

/* Caps and rest days are rules across bookings, which the exclusion
 * constraint cannot see: booking an intensive, or anything capped, is
 * serialised per clinician. Rest days concern every intensive. */
static bool needs_clinician_lock(const struct offering *o)
{
	return !strcmp(o->kind, "intensive") || o->cap_per_week || o->cap_per_month || o->min_rest_days;
}

static const char *initial_status(const struct offering *o)
{
	if (!o->requires_approval)
		return "confirmed";
	return o->intake_form[0] ? "held" : "requested";
}

static int create_tx(struct db *db, void *arg)
{
	struct create_tx *t = arg;
	struct ctx *c = t->c;
	const struct booking_request *rq = t->rq;
	struct booking_result *out = t->out;
	PGresult *r;
	int rc;
	out->replayed = false;
	if (rq->idempotency_key) {
		rc = db_query(db, c->a, &r, SQL_IDEM_CLAIM, rq->idempotency_key, rq->request_hash);
		if (rc)
			return rc;
		if (PQntuples(r) == 0) {
			rc = db_query(db, c->a, &r, SQL_IDEM_GET, rq->idempotency_key);
			if (rc)
				return rc;
			if (PQntuples(r) != 1 || strcmp(db_val(r, 0, 0), rq->request_hash) != 0)
				return ERR_GONE; /* reused with another body: 422 at the caller */
			/* The stored answer holds the manage token: it is sealed. */
			unsigned char *env;
			size_t envlen;
			char *plain;
			size_t plen;
			char ad[260];
			snprintf(ad, sizeof(ad), "idempotency_key.response:%s", rq->idempotency_key);
			if (db_ll(r, 0, 1) == 0 ||
			    crypto_bytea_parse(c->a, db_val(r, 0, 2), &env, &envlen) != 0 ||
			    crypto_open(t->k, c->a, env, envlen, ad, &plain, &plen) != 0)
				return ERR_INTERNAL;
			json_error_t e;
			if (out->response)
				json_decref(out->response);
			out->response = json_loads(plain, 0, &e);
			if (!out->response)
				return ERR_INTERNAL;
			out->replayed = true;
			out->replay_status = (int)db_ll(r, 0, 1);
			return 0;
		}
	}
	/* Caps and rest days are checks across bookings: serialise booking of
	 * such offerings per clinician (ascending ids: no deadlock). The
	 * exclusion constraint needs no lock. */
	if (needs_clinician_lock(t->o))
		for (size_t i = 0; i < t->nclinicians; i++)
			if ((rc = db_query(db, c->a, NULL, SQL_LOCK_CLINICIAN,
			                   num(c->a, t->clinicians[i].id))))
				return rc;
	if ((rc = lock_days(db, c->a, t->clinicians, t->nclinicians, t->o, t->start)))
		return rc;
	int64_t clinician = 0;
	struct avail_slot slot;
	rc = avail_check_start(c, t->o, t->start, 0, &clinician, &slot);
	if (rc)
		return rc;
	const char *status = initial_status(t->o);
	int64_t hold = 0;
	if (!strcmp(status, "held")) {
		hold = c->now + (int64_t)t->o->hold_minutes * 60;
		if (hold > slot.start)
			hold = slot.start;
	}
	unsigned char uidr[16];
	crypto_random(uidr, sizeof(uidr));
	char uidhex[33];
	for (int i = 0; i < 16; i++)
		snprintf(uidhex + 2 * i, 3, "%02x", uidr[i]);
	const char *host = strstr(t->base_url, "://");
	host = host ? host + 3 : t->base_url;
	char *uid = arena_printf(c->a, "%s@%.*s", uidhex, (int)strcspn(host, ":/"), host);
	/* Each person's link, derived from the UID: emails sent later carry
	 * the same links, and only their hashes are stored. */
	char *token = booking_link_token(t->k, c->a, uid, 1);
	char *partner_token = booking_link_token(t->k, c->a, uid, 2);
	/* The id first: each client's envelopes are bound to it. */
	if ((rc = db_query(db, c->a, &r, SQL_NEXT_ID)))
		return rc;
	int64_t id = db_ll(r, 0, 0);
	struct buf starts, ends;
	buf_init(&starts, c->a, 512);
	buf_init(&ends, c->a, 512);
	buf_putc(&starts, '{');
	buf_putc(&ends, '{');
	for (int i = 0; i < slot.nblocks; i++) {
		buf_printf(&starts, "%s%lld", i ? "," : "", (long long)slot.blocks[i].start);
		buf_printf(&ends, "%s%lld", i ? "," : "", (long long)slot.blocks[i].end);
	}
	buf_putc(&starts, '}');
	buf_putc(&ends, '}');
	struct buf cols[6];
	for (int k = 0; k < 6; k++) {
		buf_init(&cols[k], c->a, 16384);
		buf_putc(&cols[k], '{');
	}
	for (int i = 0; i < 2; i++) {
		const struct booking_client_in *cl = &rq->clients[i];
		const char *name = cl->name;
		while (*name == ' ')
			name++;
		const char *phone = cl->phone && *cl->phone ? cl->phone : NULL;
		char idx[65];
		crypto_blind_index(t->k, lower(c->a, cl->email), idx);
		const char *ne = booking_client_seal(c, t->k, name, strlen(name), "name", id, i + 1);
		const char *ee =
		    booking_client_seal(c, t->k, cl->email, strlen(cl->email), "email", id, i + 1);
		const char *pe =
		    phone ? booking_client_seal(c, t->k, phone, strlen(phone), "phone", id, i + 1) : NULL;
		if (!ne || !ee || (phone && !pe))
			return ERR_INTERNAL;
		/* Array literals of plain hex (decoded in SQL), hex digests, a
		 * whitelisted word and A-Z initials: nothing needs quoting. */
		const char *sep = i ? "," : "";
		buf_printf(&cols[0], "%s%s", sep, ne + 2);
		buf_printf(&cols[1], "%s%s", sep, ee + 2);
		if (pe)
			buf_printf(&cols[2], "%s%s", sep, pe + 2);
		else
			buf_printf(&cols[2], "%sNULL", sep);
		buf_printf(&cols[3], "%s%s", sep, idx);
		buf_printf(&cols[4], "%s%s", sep,
		           cl->safe_contact && *cl->safe_contact ? cl->safe_contact : "email");
		buf_printf(&cols[5], "%s\"%s\"", sep, initials_of(c->a, name));
	}
	for (int k = 0; k < 6; k++)
		buf_putc(&cols[k], '}');
	if (starts.err || ends.err || cols[0].err || cols[1].err || cols[2].err)
		return ERR_INTERNAL;
	char ref[16];
	bool inserted = false;
	for (int attempt = 0; attempt < 8 && !inserted; attempt++) {
		reference_code(ref);
		rc = db_query(db, c->a, &r, SQL_CREATE, num(c->a, id), num(c->a, t->o->id),
		              num(c->a, clinician), ref, status, num(c->a, slot.start), num(c->a, slot.end),
		              hold ? num(c->a, hold) : NULL, token_hash_param(c->a, token), uid,
		              rq->client_timezone && *rq->client_timezone ? rq->client_timezone : NULL,
		              buf_cstr(&starts), buf_cstr(&ends), num(c->a, t->o->buffer_before_minutes),
		              num(c->a, t->o->buffer_after_minutes), buf_cstr(&cols[0]), buf_cstr(&cols[1]),
		              buf_cstr(&cols[2]), buf_cstr(&cols[3]), buf_cstr(&cols[4]), buf_cstr(&cols[5]),
		              c->actor, token_hash_param(c->a, partner_token));
		if (rc == ERR_CONFLICT)
			return ERR_SLOT_UNAVAILABLE; /* someone else got there first */
		if (rc)
			return rc;
		inserted = PQntuples(r) == 1;
	}
	if (!inserted)
		return ERR_INTERNAL;
	/* The messages go with the booking or not at all. */
	if ((rc = booking_mail_created(c, t->m, id)))
		return rc;
	const struct tz *z = NULL;
	for (size_t i = 0; i < t->nclinicians; i++)
		if (t->clinicians[i].id == clinician)
			z = t->clinicians[i].tz;
	char *manage = arena_printf(c->a, "%s/b/%s", t->base_url, token);
	json_t *resp =
	    json_pack("{s:I, s:s, s:s, s:o, s:s, s:s, s:n}", "id", (json_int_t)id, "reference", ref, "status",
	              status, "blocks", booking_blocks_json(z, slot.blocks, slot.nblocks), "manage_url",
	              manage, "ics_url", arena_printf(c->a, "%s/invite.ics", manage), "intake_url");
	if (!resp)
		core_oom();
	/* The booker's own intake (the same capability as the manage link);
	 * never the partner's. */
	if (t->o->intake_form[0])
		json_object_set_new(resp, "intake_url",
		                    json_string(arena_printf(c->a, "%s/intake/%s", t->base_url, token)));
	if (rq->idempotency_key) {
		char *text = json_dumps(resp, JSON_COMPACT);
		char ad[260];
		snprintf(ad, sizeof(ad), "idempotency_key.response:%s", rq->idempotency_key);
		unsigned char *env;
		size_t envlen;
		rc = crypto_seal(t->k, c->a, text, strlen(text), ad, &env, &envlen);
		free(text);
		if (!rc)
			rc = db_query(db, c->a, NULL, SQL_IDEM_SET, rq->idempotency_key, "201",
			              crypto_bytea_hex(c->a, env, envlen));
		if (rc) {
			json_decref(resp);
			return rc;
		}
	}
	if (out->response)
		json_decref(out->response);
	out->response = resp;
	out->id = id;
	out->reference = arena_strdup(c->a, ref);
	out->status = status;
	out->manage_token = token;
	return 0;
}

int booking_create(struct ctx *c, const struct mailer *m, const struct booking_request *rq,
                   struct booking_result *out, json_t **fields)
{
	memset(out, 0, sizeof(*out));
	*fields = json_object();
	if (!rq->offering || !*rq->offering) {
		field(*fields, "offering", "Choose what to book.");
		return ERR_INVALID;
	}
	struct offering o;
	int rc = offering_get(c, rq->offering, &o);
	if (rc)
		return rc; /* an unknown offering is a 404, as for GET /offerings/{slug} */
	int64_t start = 0;
	if (!rq->start || !*rq->start)
		field(*fields, "start", "Choose a start time.");
	else if (tz_parse_rfc3339(rq->start, &start) != 0)
		field(*fields, "start",
		      "A start is a date and time with its offset, like 2026-12-07T09:00:00-06:00.");
	validate_clients(rq, *fields);
	const char *client_tz = rq->client_timezone && *rq->client_timezone ? rq->client_timezone : NULL;
	if (client_tz) {
		const struct tz *ct;
		if (tz_get(client_tz, &ct) != 0 || !strchr(client_tz, '/'))
			field(*fields, "client_timezone",
			      "Unknown time zone; use an IANA name like Europe/Berlin.");
	}
	struct avail_clinician *cl;
	size_t ncl;
	rc = avail_clinicians(c, &o, &cl, &ncl);
	if (rc)
		return rc;
	if (start && ncl)
		validate_start_any(c, &o, cl, ncl, start, *fields);
	if (json_object_size(*fields))
		return ERR_INVALID;
	if (ncl == 0)
		return ERR_SLOT_UNAVAILABLE;
	json_decref(*fields);
	*fields = NULL;
	struct create_tx t = {c, m, m->keys, m->cfg->base_url, rq, &o, start, cl, ncl, out, NULL};
	rc = db_tx(c->db, "READ COMMITTED", create_tx, &t);
	if (rc == ERR_GONE) {
		*fields = json_pack("{s:s}", "Idempotency-Key",
		                    "This key was already used for a different request.");
		return ERR_INVALID;
	}
	if (rc && out->response) {
		json_decref(out->response);
		out->response = NULL;
	}
	return rc;
}

/* ---- the manage token ------------------------------------------------ */

#define VIEW_COLUMNS                                                                                         \
	"b.id, b.reference, b.status, o.slug, o.name, o.kind, o.cancel_window_hours,"                        \
	" extract(epoch FROM b.starts_at)::bigint, extract(epoch FROM b.ends_at)::bigint,"                   \
	" coalesce(extract(epoch FROM b.hold_expires_at)::bigint, 0), b.ical_sequence, b.ical_uid,"          \
	" coalesce(b.client_timezone, ''), p.timezone,"                                                      \
	" (SELECT string_agg(extract(epoch FROM k.starts_at)::bigint || ' ' || extract(epoch FROM"           \
	"   k.ends_at)::bigint || ' ' || extract(epoch FROM k.original_start)::bigint || ' '"                \
	"   || (k.cancelled_at IS NOT NULL)::int, ' ' ORDER BY k.day_index)"                                 \
	"  FROM booking_block k WHERE k.booking_id = b.id)"
#define VIEW_JOINS " JOIN offering o ON o.id = b.offering_id JOIN practice p ON p.id = b.practice_id"

/* The booker's manage token, or a partner's own link. */
static const char SQL_BY_TOKEN[] =
    "WITH who AS ("
    " SELECT id AS booking_id, 1 AS position FROM booking"
    "  WHERE manage_token_hash = $1::bytea AND manage_expires_at > to_timestamp($2::bigint)"
    "  AND manage_revoked_at IS NULL"
    " UNION ALL"
    " SELECT booking_id, position FROM booking_client"
    "  WHERE link_token_hash = $1::bytea AND link_expires_at > to_timestamp($2::bigint)"
    "  AND link_revoked_at IS NULL AND erased_at IS NULL)"
    " SELECT " VIEW_COLUMNS ", who.position, o.intake_form IS NOT NULL FROM who"
    " JOIN booking b ON b.id = who.booking_id" VIEW_JOINS;
static const char SQL_BY_ID[] =
    "SELECT " VIEW_COLUMNS ", 1, o.intake_form IS NOT NULL FROM booking b" VIEW_JOINS
    " WHERE b.id = $1::bigint AND $2::bigint IS NOT NULL";

static bool open_status(const char *s)
{
	return !strcmp(s, "held") || !strcmp(s, "requested") || !strcmp(s, "confirmed");
}

static int load_view(struct ctx *c, const char *sql, const char *key, struct booking_view *v)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, sql, key, num(c->a, c->now));
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	memset(v, 0, sizeof(*v));
	v->id = db_ll(r, 0, 0);
	v->reference = db_val(r, 0, 1);
	v->status = db_val(r, 0, 2);
	v->offering_slug = db_val(r, 0, 3);
	v->offering_name = db_val(r, 0, 4);
	v->offering_kind = db_val(r, 0, 5);
	v->cancel_window_hours = (int)db_ll(r, 0, 6);
	v->starts_at = db_ll(r, 0, 7);
	v->ends_at = db_ll(r, 0, 8);
	v->hold_expires_at = db_ll(r, 0, 9);
	v->sequence = (int)db_ll(r, 0, 10);
	v->ical_uid = db_val(r, 0, 11);
	v->client_timezone = db_val(r, 0, 12);
	v->practice_timezone = db_val(r, 0, 13);
	/* "start end original cancelled" per day, in day order. */
	const char *p = db_val(r, 0, 14);
	while (*p && v->ndays < AVAIL_MAX_DAYS) {
		char *end;
		struct booking_day *d = &v->days[v->ndays++];
		d->start = strtoll(p, &end, 10);
		d->end = strtoll(end, &end, 10);
		d->original_start = strtoll(end, &end, 10);
		d->cancelled = strtoll(end, &end, 10) != 0;
		if (!d->cancelled)
			v->blocks[v->nblocks++] = (struct avail_interval){d->start, d->end};
		p = end;
		while (*p == ' ')
			p++;
	}
	v->position = (int)db_ll(r, 0, 15);
	v->has_form = !strcmp(db_val(r, 0, 16), "t");
	v->changeable = v->position == 1 && open_status(v->status) &&
	                c->now < v->starts_at - (int64_t)v->cancel_window_hours * 3600;
	return 0;
}

int booking_by_token(struct ctx *c, const char *token, struct booking_view *out)
{
	if (!token || strlen(token) < 16 || strlen(token) > 64)
		return ERR_NOT_FOUND;
	return load_view(c, SQL_BY_TOKEN, token_hash_param(c->a, token), out);
}

int booking_by_id(struct ctx *c, int64_t id, struct booking_view *out)
{
	return load_view(c, SQL_BY_ID, num(c->a, id), out);
}

char *booking_link_token(const struct keyring *k, struct arena *a, const char *ical_uid, int position)
{
	return crypto_link_token(k, a, arena_printf(a, "booking:%s:%d", ical_uid, position));
}

static const char SQL_LOCK_BOOKING[] = "SELECT 1 FROM booking WHERE id = $1 FOR UPDATE";
static const char SQL_CANCEL[] =
    "UPDATE booking SET status = 'cancelled', hold_expires_at = NULL, ical_sequence = ical_sequence + 1,"
    " updated_at = now() WHERE id = $1";

struct change_tx {
	struct ctx *c;
	const struct mailer *m;
	const struct keyring *keys;
	const char *token;
	const char *reason;
	const char *start_text;
	json_t *fields;
	const char *why;
};

static const char READ_ONLY[] =
    "This link shows the booking; only the person who made it can change it online. Please contact the "
    "practice.";

static const char *closed_reason(struct ctx *c, const struct booking_view *v)
{
	if (!open_status(v->status))
		return arena_printf(c->a, "This booking is %s and can no longer be changed online.",
		                    v->status);
	return arena_printf(c->a,
	                    "Online changes close %s before the start. Please contact the practice to "
	                    "change or cancel.",
	                    offering_window_text(c->a, v->cancel_window_hours));
}

static const char SQL_INSERT_EVENT_NOTE[] =
    "INSERT INTO booking_event (booking_id, actor, from_status, to_status, reason, note_enc)"
    " VALUES ($1, $2, $3, $4, $5, decode($6, 'hex'))";

static int cancel_tx(struct db *db, void *arg)
{
	struct change_tx *t = arg;
	struct booking_view v;
	int rc = booking_by_token(t->c, t->token, &v);
	if (rc)
		return rc;
	if ((rc = db_query(db, t->c->a, NULL, SQL_LOCK_BOOKING, num(t->c->a, v.id))))
		return rc;
	rc = booking_by_token(t->c, t->token, &v); /* again, under the lock */
	if (rc)
		return rc;
	if (v.position != 1) {
		t->why = READ_ONLY;
		return ERR_FORBIDDEN;
	}
	if (!v.changeable) {
		t->why = closed_reason(t->c, &v);
		return ERR_CONFLICT;
	}
	if ((rc = db_query(db, t->c->a, NULL, SQL_CANCEL, num(t->c->a, v.id))))
		return rc;
	/* The client's own words may say anything about them: sealed, like
	 * every other free text from a person. */
	const char *note = NULL;
	if (t->reason && *t->reason && !(note = booking_seal_note(t->c, t->keys, v.id, t->reason)))
		return ERR_INTERNAL;
	if ((rc = db_query(db, t->c->a, NULL, SQL_INSERT_EVENT_NOTE, num(t->c->a, v.id), t->c->actor,
	                   v.status, "cancelled", "cancelled by client", note)))
		return rc;
	return booking_mail_status(t->c, t->m, v.id, "cancelled");
}

int booking_cancel_by_token(struct ctx *c, const struct mailer *m, const char *token, const char *reason,
                            const char **why)
{
	if (reason && (strlen(reason) > 1000 || !str_valid_text(str_from(reason))))
		return ERR_INVALID;
	struct change_tx t = {c, m, m->keys, token, reason, NULL, NULL, NULL};
	int rc = db_tx(c->db, "READ COMMITTED", cancel_tx, &t);
	*why = t.why;
	return rc;
}

static const char SQL_DEACTIVATE_BLOCKS[] = "UPDATE booking_block SET active = false WHERE booking_id = $1";
static const char SQL_DELETE_BLOCKS[] = "DELETE FROM booking_block WHERE booking_id = $1";
static const char SQL_MOVE[] =
    "UPDATE booking SET starts_at = to_timestamp($2::bigint), ends_at = to_timestamp($3::bigint),"
    " clinician_id = $4, ical_sequence = ical_sequence + 1, updated_at = now(), reminder_sent_at = NULL,"
    " hold_expires_at = CASE WHEN hold_expires_at IS NULL THEN NULL"
    "  ELSE least(hold_expires_at, to_timestamp($2::bigint)) END,"
    " manage_expires_at = to_timestamp($3::bigint) + interval '90 days' WHERE id = $1";
static const char SQL_MOVE_PARTNER_LINK[] =
    "UPDATE booking_client SET link_expires_at = to_timestamp($2::bigint) + interval '90 days'"
    " WHERE booking_id = $1 AND link_token_hash IS NOT NULL";

/* Taking a time the clinician proposed also confirms the booking when the
 * clinician had reviewed it (booking_proposal.confirms): made while the
 * booking needed no review, or with the review ticked. A flag raised after
 * the proposal clears confirms (intake.c SQL_NEEDS_REVIEW); a proposal that
 * confirms without review never confirms a booking that now needs it. */
static const char SQL_PROPOSAL_TAKEN[] =
    "SELECT p.confirms AND (NOT b.needs_review OR EXISTS (SELECT 1 FROM booking_event e"
    "   WHERE e.booking_id = b.id AND e.reason = 'other times proposed' AND e.at >= p.created_at"
    "   AND e.detail->>'reviewed' = 'true'))"
    " FROM booking_proposal p JOIN booking b ON b.id = p.booking_id"
    " WHERE p.booking_id = $1 AND p.starts_at = to_timestamp($2::bigint)";
static const char SQL_PROPOSALS_CLEAR[] = "DELETE FROM booking_proposal WHERE booking_id = $1";
static const char SQL_CONFIRM[] =
    "UPDATE booking SET status = 'confirmed', hold_expires_at = NULL, updated_at = now() WHERE id = $1";

int booking_move_locked(struct ctx *c, const struct mailer *m, const struct booking_view *v,
                        const char *start_text, json_t *fields, const char *reason, bool *confirmed)
{
	PGresult *r;
	int rc;
	if (confirmed)
		*confirmed = false;
	struct offering o; /* only the booking's own clinician: continuity of care */
	if ((rc = offering_for_booking(c, v->id, &o)))
		return rc;
	struct avail_clinician *cl;
	size_t ncl;
	if ((rc = avail_clinicians(c, &o, &cl, &ncl)))
		return rc;
	int64_t start = 0;
	if (!start_text || tz_parse_rfc3339(start_text, &start) != 0) {
		field(fields, "start",
		      "A start is a date and time with its offset, like 2026-12-07T09:00:00-06:00.");
		return ERR_INVALID;
	}
	if (ncl == 0)
		return ERR_SLOT_UNAVAILABLE;
	validate_start_any(c, &o, cl, ncl, start, fields);
	if (json_object_size(fields))
		return ERR_INVALID;
	if (start == v->starts_at)
		return 0; /* nothing to move */
	if (needs_clinician_lock(&o))
		for (size_t i = 0; i < ncl; i++)
			if ((rc = db_query(c->db, c->a, NULL, SQL_LOCK_CLINICIAN, num(c->a, cl[i].id))))
				return rc;
	if ((rc = lock_days(c->db, c->a, cl, ncl, &o, start)))
		return rc;
	/* Its own time must not stand in its way. */
	if ((rc = db_query(c->db, c->a, NULL, SQL_DEACTIVATE_BLOCKS, num(c->a, v->id))))
		return rc;
	int64_t clinician;
	struct avail_slot slot;
	if ((rc = avail_check_start(c, &o, start, v->id, &clinician, &slot)))
		return rc;
	if ((rc = db_query(c->db, c->a, NULL, SQL_DELETE_BLOCKS, num(c->a, v->id))))
		return rc;
	for (int i = 0; i < slot.nblocks; i++) {
		rc = db_query(c->db, c->a, NULL, SQL_INSERT_BLOCK, num(c->a, v->id), num(c->a, clinician),
		              num(c->a, i), num(c->a, slot.blocks[i].start), num(c->a, slot.blocks[i].end),
		              num(c->a, o.buffer_before_minutes), num(c->a, o.buffer_after_minutes));
		if (rc == ERR_CONFLICT)
			return ERR_SLOT_UNAVAILABLE;
		if (rc)
			return rc;
	}
	if ((rc = db_query(c->db, c->a, NULL, SQL_MOVE, num(c->a, v->id), num(c->a, slot.start),
	                   num(c->a, slot.end), num(c->a, clinician))))
		return rc;
	if ((rc = db_query(c->db, c->a, NULL, SQL_MOVE_PARTNER_LINK, num(c->a, v->id), num(c->a, slot.end))))
		return rc;
	char *detail =
	    arena_printf(c->a, "{\"from\":%lld,\"to\":%lld}", (long long)v->starts_at, (long long)slot.start);
	if ((rc = db_query(c->db, c->a, NULL, SQL_INSERT_EVENT, num(c->a, v->id), c->actor, v->status,
	                   v->status, reason, detail)))
		return rc;
	/* A time the clinician proposed: taking it settles the request. */
	if ((rc = db_query(c->db, c->a, &r, SQL_PROPOSAL_TAKEN, num(c->a, v->id), num(c->a, slot.start))))
		return rc;
	bool confirm = PQntuples(r) == 1 && db_val(r, 0, 0)[0] == 't' &&
	               (!strcmp(v->status, "held") || !strcmp(v->status, "requested"));
	if (PQntuples(r) == 1 && (rc = db_query(c->db, c->a, NULL, SQL_PROPOSALS_CLEAR, num(c->a, v->id))))
		return rc;
	if (confirm) {
		if ((rc = db_query(c->db, c->a, NULL, SQL_CONFIRM, num(c->a, v->id))) ||
		    (rc = db_query(c->db, c->a, NULL, SQL_INSERT_EVENT, num(c->a, v->id), c->actor, v->status,
		                   "confirmed", "proposed time taken", NULL)))
			return rc;
		if (confirmed)
			*confirmed = true;
		return booking_mail_status(c, m, v->id, "confirmed");
	}
	return booking_mail_status(c, m, v->id, "rescheduled");
}

int booking_start_available(struct ctx *c, const struct booking_view *v, const char *start_text,
                            json_t *fields, int64_t *start)
{
	struct offering o; /* only the booking's own clinician: continuity of care */
	int rc = offering_for_booking(c, v->id, &o);
	if (rc)
		return rc;
	struct avail_clinician *cl;
	size_t ncl;
	if ((rc = avail_clinicians(c, &o, &cl, &ncl)))
		return rc;
	*start = 0;
	if (!start_text || tz_parse_rfc3339(start_text, start) != 0) {
		field(fields, "start",
		      "A start is a date and time with its offset, like 2026-12-07T09:00:00-06:00.");
		return ERR_INVALID;
	}
	if (ncl == 0)
		return ERR_SLOT_UNAVAILABLE;
	validate_start_any(c, &o, cl, ncl, *start, fields);
	if (json_object_size(fields))
		return ERR_INVALID;
	int64_t clinician;
	struct avail_slot slot;
	return avail_check_start(c, &o, *start, v->id, &clinician, &slot);
}

const char *booking_seal_note(struct ctx *c, const struct keyring *k, int64_t booking_id, const char *text)
{
	char ad[64];
	snprintf(ad, sizeof(ad), "booking_event.note:%lld", (long long)booking_id);
	unsigned char *env;
	size_t n;
	if (crypto_seal(k, c->a, text, strlen(text), ad, &env, &n))
		return NULL;
	return crypto_bytea_hex(c->a, env, n) + 2;
}

static const char SQL_PROPOSAL_OPEN[] =
    "SELECT 1 FROM booking_proposal WHERE booking_id = $1 AND starts_at = to_timestamp($2::bigint)";

/* Is start_text a time the clinician proposed for this open request? */
static bool proposed(struct ctx *c, const struct booking_view *v, const char *start_text)
{
	int64_t start;
	PGresult *r;
	if (strcmp(v->status, "held") != 0 && strcmp(v->status, "requested") != 0)
		return false;
	if (!start_text || tz_parse_rfc3339(start_text, &start) != 0)
		return false;
	if (db_query(c->db, c->a, &r, SQL_PROPOSAL_OPEN, num(c->a, v->id), num(c->a, start)))
		return false;
	return PQntuples(r) == 1;
}

static int reschedule_tx(struct db *db, void *arg)
{
	struct change_tx *t = arg;
	struct ctx *c = t->c;
	struct booking_view v;
	int rc = booking_by_token(c, t->token, &v);
	if (rc)
		return rc;
	if ((rc = db_query(db, c->a, NULL, SQL_LOCK_BOOKING, num(c->a, v.id))))
		return rc;
	if ((rc = booking_by_token(c, t->token, &v)))
		return rc;
	if (v.position != 1) {
		t->why = READ_ONLY;
		return ERR_FORBIDDEN;
	}
	/* A time the practice proposed stays open to take inside the window. */
	if (!v.changeable && !proposed(c, &v, t->start_text)) {
		t->why = closed_reason(c, &v);
		return ERR_CONFLICT;
	}
	return booking_move_locked(c, t->m, &v, t->start_text, t->fields, "rescheduled by client", NULL);
}

int booking_reschedule_by_token(struct ctx *c, const struct mailer *m, const char *token, const char *start,
                                json_t **fields, const char **why)
{
	struct change_tx t = {c, m, m->keys, token, NULL, start, json_object(), NULL};
	int rc = db_tx(c->db, "READ COMMITTED", reschedule_tx, &t);
	*why = t.why;
	if (rc == ERR_INVALID) {
		*fields = t.fields;
	} else {
		json_decref(t.fields);
		*fields = NULL;
	}
	return rc;
}

/* ---- one day of a multi-day booking (the clinician's change) ---------- */

static const char SQL_DAY[] =
    "SELECT b.id, b.status, k.id, extract(epoch FROM k.starts_at)::bigint,"
    " extract(epoch FROM k.ends_at)::bigint, k.cancelled_at IS NOT NULL, o.buffer_before_minutes,"
    " o.buffer_after_minutes,"
    " (SELECT count(*) FROM booking_block x WHERE x.booking_id = b.id AND x.cancelled_at IS NULL)"
    " FROM booking b JOIN offering o ON o.id = b.offering_id"
    " JOIN booking_block k ON k.booking_id = b.id AND k.day_index = $2::int - 1"
    " WHERE b.reference = $1 FOR UPDATE OF b";
static const char SQL_MOVE_DAY[] =
    "UPDATE booking_block SET starts_at = to_timestamp($2::bigint), ends_at = to_timestamp($3::bigint),"
    " blocked = tstzrange(to_timestamp($2::bigint) - make_interval(mins => $4::int),"
    "                     to_timestamp($3::bigint) + make_interval(mins => $5::int))"
    " WHERE id = $1";
static const char SQL_CANCEL_DAY[] =
    "UPDATE booking_block SET cancelled_at = now(), active = false WHERE id = $1";
/* The booking spans its remaining days; the invite's SEQUENCE goes up; a
 * new first day is owed its own reminder. */
static const char SQL_DAYS_CHANGED[] =
    "UPDATE booking b SET starts_at = k.s, ends_at = k.e, ical_sequence = ical_sequence + 1, updated_at = "
    "now(), reminder_sent_at = CASE WHEN b.starts_at = k.s THEN b.reminder_sent_at END"
    " FROM (SELECT min(starts_at) AS s, max(ends_at) AS e FROM booking_block"
    "  WHERE booking_id = $1 AND cancelled_at IS NULL) k"
    " WHERE b.id = $1";

struct day_tx {
	struct ctx *c;
	const struct mailer *m;
	const char *reference;
	int day;
	int64_t start; /* 0: cancel the day */
};

static int day_tx(struct db *db, void *arg)
{
	struct day_tx *t = arg;
	struct ctx *c = t->c;
	PGresult *r;
	int rc = db_query(db, c->a, &r, SQL_DAY, t->reference, num(c->a, t->day));
	if (rc)
		return rc;
	if (PQntuples(r) != 1 || db_val(r, 0, 5)[0] == 't')
		return ERR_NOT_FOUND;
	int64_t id = db_ll(r, 0, 0), block = db_ll(r, 0, 2), s = db_ll(r, 0, 3), e = db_ll(r, 0, 4);
	const char *status = db_val(r, 0, 1);
	if (!open_status(status))
		return ERR_CONFLICT;
	const char *reason;
	char *detail;
	if (t->start) {
		if (t->start == s)
			return 0;
		rc = db_query(db, c->a, NULL, SQL_MOVE_DAY, num(c->a, block), num(c->a, t->start),
		              num(c->a, t->start + (e - s)), db_val(r, 0, 6), db_val(r, 0, 7));
		if (rc == ERR_CONFLICT)
			return ERR_SLOT_UNAVAILABLE;
		if (rc)
			return rc;
		reason = "day moved by clinician";
		detail = arena_printf(c->a, "{\"day\":%d,\"from\":%lld,\"to\":%lld}", t->day, (long long)s,
		                      (long long)t->start);
	} else {
		if (db_ll(r, 0, 8) <= 1)
			return ERR_CONFLICT; /* the last day: cancel the booking instead */
		if ((rc = db_query(db, c->a, NULL, SQL_CANCEL_DAY, num(c->a, block))))
			return rc;
		reason = "day cancelled by clinician";
		detail = arena_printf(c->a, "{\"day\":%d,\"from\":%lld}", t->day, (long long)s);
	}
	if ((rc = db_query(db, c->a, NULL, SQL_DAYS_CHANGED, num(c->a, id))))
		return rc;
	rc = db_query(db, c->a, NULL, SQL_INSERT_EVENT, num(c->a, id), c->actor, status, status, reason,
	              detail);
	if (rc)
		return rc;
	/* Each client's updated invite (same UID, higher SEQUENCE, the override),
	 * in words that name the day. */
	return booking_mail_day_changed(c, t->m, id, t->day, s, t->start);
}

int booking_day_locked(struct ctx *c, const struct mailer *m, const char *reference, int day, int64_t start)
{
	if (day < 1 || day > AVAIL_MAX_DAYS || start < 0)
		return ERR_INVALID;
	struct day_tx t = {c, m, reference, day, start};
	return day_tx(c->db, &t);
}

int booking_move_day(struct ctx *c, const struct mailer *m, const char *reference, int day, int64_t new_start)
{
	if (day < 1 || day > AVAIL_MAX_DAYS || new_start <= 0)
		return ERR_INVALID;
	struct day_tx t = {c, m, reference, day, new_start};
	return db_tx(c->db, "READ COMMITTED", day_tx, &t);
}

int booking_cancel_day(struct ctx *c, const struct mailer *m, const char *reference, int day)
{
	if (day < 1 || day > AVAIL_MAX_DAYS)
		return ERR_INVALID;
	struct day_tx t = {c, m, reference, day, 0};
	return db_tx(c->db, "READ COMMITTED", day_tx, &t);
}

/* ---- holds ----------------------------------------------------------- */

enum { EXPIRE_BATCH = 100 };

/* One batch; rows another process is lapsing are skipped, not waited for. */
static const char SQL_EXPIRE[] =
    "WITH lapsed AS ("
    " UPDATE booking SET status = 'cancelled', hold_expires_at = NULL, ical_sequence = ical_sequence + 1,"
    "  updated_at = now()"
    " WHERE status = 'held' AND id IN (SELECT id FROM booking WHERE status = 'held'"
    "  AND hold_expires_at <= to_timestamp($1::bigint) ORDER BY hold_expires_at LIMIT 100"
    "  FOR UPDATE SKIP LOCKED) RETURNING id)"
    " INSERT INTO booking_event (booking_id, actor, from_status, to_status, reason)"
    " SELECT id, 'system', 'held', 'cancelled', 'hold lapsed' FROM lapsed RETURNING booking_id";

static const char SQL_IDEM_PURGE[] =
    "DELETE FROM idempotency_key WHERE created_at < to_timestamp($1::bigint) - interval '24 hours'";

struct expire_tx {
	struct ctx *c;
	const struct mailer *m;
	int n; /* lapsed in this batch */
};

static int expire_tx(struct db *db, void *arg)
{
	struct expire_tx *t = arg;
	PGresult *r;
	int rc = db_query(db, t->c->a, &r, SQL_EXPIRE, num(t->c->a, t->c->now));
	if (rc)
		return rc;
	t->n = PQntuples(r);
	for (int i = 0; i < t->n; i++)
		if ((rc = booking_mail_status(t->c, t->m, db_ll(r, i, 0), "hold_lapsed")))
			return rc;
	return 0;
}

int booking_expire_holds(struct ctx *c, const struct mailer *m, int *n)
{
	*n = 0;
	int rc = db_query(c->db, c->a, NULL, SQL_IDEM_PURGE, num(c->a, c->now));
	if (rc)
		return rc;
	struct expire_tx t = {c, m, EXPIRE_BATCH};
	while (t.n == EXPIRE_BATCH) {
		if ((rc = db_tx(c->db, "READ COMMITTED", expire_tx, &t)))
			break;
		*n += t.n;
	}
	if (*n)
		log_info("%d hold(s) lapsed", *n);
	return rc;
}

/* ---- the invite ------------------------------------------------------ */

static const char SQL_INVITE[] =
    "SELECT c.name, c.email, c.timezone, o.location, p.name, bc.name_enc, bc.email_enc"
    " FROM booking b JOIN clinician c ON c.id = b.clinician_id JOIN offering o ON o.id = b.offering_id"
    " JOIN practice p ON p.id = b.practice_id"
    " JOIN booking_client bc ON bc.booking_id = b.id AND bc.position = $2::int"
    " WHERE b.id = $1";

int booking_invite(struct ctx *c, const struct keyring *k, const struct booking_view *v,
                   const char *manage_url, struct buf *out, const char **method)
{
	PGresult *r;
	int pos = v->position == 2 ? 2 : 1;
	int rc = db_query(c->db, c->a, &r, SQL_INVITE, num(c->a, v->id), num(c->a, pos));
	if (rc)
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	char *name, *email;
	if ((rc = booking_client_open(c, k, db_val(r, 0, 5), "name", v->id, pos, &name)) ||
	    (rc = booking_client_open(c, k, db_val(r, 0, 6), "email", v->id, pos, &email)))
		return rc;
	bool cancelled = !strcmp(v->status, "cancelled") || !strcmp(v->status, "declined");
	/* One day cancelled on its own, told as a CANCEL of that day alone. */
	int64_t one_day = !cancelled && v->ndays > 1 ? v->cancel_day_start : 0;
	struct ics_attendee who = {name, email};
	/* The series as it was sent whole (each day at its original start),
	 * and a RECURRENCE-ID override for each day since moved or cancelled
	 * on its own: calendars holding the series change just that day. */
	struct ics_block blocks[AVAIL_MAX_DAYS];
	struct ics_override over[AVAIL_MAX_DAYS];
	int nover = 0;
	for (int i = 0; i < v->ndays; i++) {
		const struct booking_day *d = &v->days[i];
		blocks[i] = (struct ics_block){d->original_start, d->original_start + (d->end - d->start)};
		if (v->ndays > 1 && (d->cancelled || d->start != d->original_start))
			over[nover++] =
			    (struct ics_override){d->original_start, d->start, d->end, d->cancelled};
	}
	struct ics_invite inv = {
	    .method = cancelled || one_day ? "CANCEL" : "REQUEST",
	    .uid = v->ical_uid,
	    .sequence = v->sequence,
	    .dtstamp = c->now,
	    .tzid = db_val(r, 0, 2),
	    /* Neutral: the practice and "Appointment", nothing about what for. */
	    .summary = arena_printf(c->a, "%s — Appointment", db_val(r, 0, 4)),
	    .description = arena_printf(c->a, "Manage your booking: %s", manage_url),
	    .location = db_val(r, 0, 3),
	    .url = manage_url,
	    .organizer_name = db_val(r, 0, 0),
	    .organizer_email = db_val(r, 0, 1),
	    .attendees = &who,
	    .nattendees = 1,
	    .blocks = blocks,
	    .nblocks = v->ndays,
	    .overrides = over,
	    .noverrides = nover,
	    .cancelled = cancelled || one_day,
	    .tentative = !strcmp(v->status, "held") || !strcmp(v->status, "requested"),
	    .cancel_instance = one_day,
	};
	*method = inv.method;
	return ics_write_invite(&inv, out);
}
