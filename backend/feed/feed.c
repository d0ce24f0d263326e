/* feed.c — see feed.h. SQL sits next to the code that runs it. */
#include "feed/feed.h"

#include "core/buf.h"
#include "core/log.h"
#include "core/tz.h"
#include "crypto/crypto.h"
#include "crypto/keys.h"
#include "db/db.h"
#include "ics/ics.h"

#define DAY             86400
#define FEED_MAX_EVENTS 20000      /* booking days in one feed; more are left out (logged) */
#define FEED_MAX_BYTES  (64 << 20) /* the rendered calendar */
#define FEED_REFRESH    60         /* minutes: REFRESH-INTERVAL and X-PUBLISHED-TTL */

static char *num(struct arena *a, int64_t v)
{
	return arena_printf(a, "%lld", (long long)v);
}

static int64_t floor_div(int64_t a, int64_t b)
{
	int64_t q = a / b;
	return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

static const char *token_hash_param(struct arena *a, const char *token)
{
	unsigned char h[32];
	crypto_sha256(token, strlen(token), h);
	return crypto_bytea_hex(a, h, sizeof(h));
}

/* A token as crypto_token makes them: 43 base64url characters. Anything
 * else is not looked up at all. */
static bool token_shape_ok(const char *t)
{
	if (!t || strlen(t) != FEED_TOKEN_LEN)
		return false;
	for (const char *p = t; *p; p++)
		if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '-' || *p == '_'))
			return false;
	return true;
}

/* ---- tokens ---------------------------------------------------------- */

static const char SQL_CLINICIAN[] = "SELECT id, active FROM clinician WHERE lower(email) = lower($1)";
static const char SQL_CREATE[] = "INSERT INTO feed_token (clinician_id, name, token_hash, privacy)"
                                 " VALUES ($1, $2, $3::bytea, $4) RETURNING id";

/* One line of text: valid UTF-8 without any control character, 1..max
 * characters once leading and trailing spaces are dropped. */
static const char *one_line(struct arena *a, const char *s, size_t max)
{
	if (!s)
		return NULL;
	while (*s == ' ')
		s++;
	size_t n = strlen(s);
	while (n && s[n - 1] == ' ')
		n--;
	size_t chars = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch < 0x20 || ch == 0x7F)
			return NULL;
		chars += (ch & 0xC0) != 0x80;
	}
	if (chars == 0 || chars > max || !str_valid_utf8((struct str){s, n}))
		return NULL;
	return arena_strndup(a, s, n);
}

static int clinician_id(struct ctx *c, const char *email, bool want_active, const char **id)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_CLINICIAN, email ? email : "");
	if (rc)
		return rc;
	if (PQntuples(r) != 1 || (want_active && strcmp(db_val(r, 0, 1), "t") != 0))
		return ERR_NOT_FOUND;
	*id = db_val(r, 0, 0);
	return 0;
}

int feed_create(struct ctx *c, const char *base_url, const char *email, const char *name, const char *privacy,
                struct feed_created *out, const char **why)
{
	memset(out, 0, sizeof(*out));
	*why = NULL;
	const char *clean = one_line(c->a, name, FEED_NAME_MAX);
	if (!clean) {
		*why = "the name is 1 to 100 characters on one line";
		return ERR_INVALID;
	}
	if (!privacy || (strcmp(privacy, "neutral") != 0 && strcmp(privacy, "initials") != 0)) {
		*why = "privacy is neutral or initials";
		return ERR_INVALID;
	}
	const char *cid;
	int rc = clinician_id(c, email, true, &cid);
	if (rc)
		return rc;
	char *token = crypto_token(c->a, FEED_TOKEN_BYTES);
	PGresult *r;
	rc = db_query(c->db, c->a, &r, SQL_CREATE, cid, clean, token_hash_param(c->a, token), privacy);
	if (rc)
		return rc;
	out->id = db_ll(r, 0, 0);
	out->url = arena_printf(c->a, "%s/feeds/%s.ics", base_url, token);
	const char *host = strstr(base_url, "://");
	out->webcal = arena_printf(c->a, "webcal://%s/feeds/%s.ics", host ? host + 3 : base_url, token);
	return 0;
}

static const char SQL_LIST[] =
    "SELECT t.id, t.name, t.privacy, floor(extract(epoch FROM t.created_at))::bigint,"
    " coalesce(floor(extract(epoch FROM t.revoked_at))::bigint, 0),"
    " coalesce(floor(extract(epoch FROM t.last_fetch_at))::bigint, 0),"
    " (SELECT count(*) FROM feed_fetch f WHERE f.token_id = t.id)"
    " FROM feed_token t WHERE t.clinician_id = $1 ORDER BY t.id";

int feed_list(struct ctx *c, const char *email, struct feed_info **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	const char *cid;
	int rc = clinician_id(c, email, false, &cid);
	if (rc)
		return rc;
	PGresult *r;
	if ((rc = db_query(c->db, c->a, &r, SQL_LIST, cid)))
		return rc;
	int rows = PQntuples(r);
	struct feed_info *v = arena_zalloc(c->a, sizeof(*v) * (size_t)(rows ? rows : 1));
	for (int i = 0; i < rows; i++)
		v[i] = (struct feed_info){db_ll(r, i, 0), db_val(r, i, 1), db_val(r, i, 2), db_ll(r, i, 3),
		                          db_ll(r, i, 4), db_ll(r, i, 5),  db_ll(r, i, 6)};
	*out = v;
	*n = (size_t)rows;
	return 0;
}

static const char SQL_REVOKE[] =
    "UPDATE feed_token SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id";
static const char SQL_TOKEN_EXISTS[] = "SELECT 1 FROM feed_token WHERE id = $1";

int feed_revoke(struct ctx *c, int64_t id, bool *already)
{
	*already = false;
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_REVOKE, num(c->a, id));
	if (rc || PQntuples(r) == 1)
		return rc;
	if ((rc = db_query(c->db, c->a, &r, SQL_TOKEN_EXISTS, num(c->a, id))))
		return rc;
	if (PQntuples(r) != 1)
		return ERR_NOT_FOUND;
	*already = true;
	return 0;
}

/* ---- HTTP helpers ---------------------------------------------------- */

void feed_http_date(int64_t t, char *out, size_t outlen)
{
	static const char *const wd[] = {"", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
	                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	int64_t days = floor_div(t, DAY), sod = t - days * DAY;
	int y, m, d;
	tz_civil_from_days(days, &y, &m, &d);
	snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tz_iso_weekday(days)], d, mon[m - 1],
	         y, (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
}

bool feed_etag_matches(const char *h, const char *etag)
{
	if (!h || !etag)
		return false;
	size_t elen = strlen(etag);
	const char *p = h;
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (!*p)
			return false;
		if (*p == '*') {
			const char *q = p + 1;
			while (*q == ' ' || *q == '\t')
				q++;
			if (*q == '\0' || *q == ',')
				return true;
		}
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		/* One entity-tag: a quoted string without '"' inside. */
		const char *end = *p == '"' ? strchr(p + 1, '"') : NULL;
		if (!end)
			return false; /* not a list we can read: no match */
		end++;
		if ((size_t)(end - p) == elen && memcmp(p, etag, elen) == 0)
			return true;
		p = end;
	}
}

/* ---- fetching -------------------------------------------------------- */

static const char SQL_TOKEN[] =
    "SELECT t.id, t.privacy, (t.revoked_at IS NOT NULL OR NOT c.active), c.id, c.timezone, p.name,"
    " floor(extract(epoch FROM greatest(t.created_at, c.updated_at, p.updated_at)))::bigint"
    " FROM feed_token t JOIN clinician c ON c.id = t.clinician_id JOIN practice p ON p.id = c.practice_id"
    " WHERE t.token_hash = $1::bytea";
/* Serialises one token's fetches for the count and the audit row; checks
 * again that it is alive (it may have been revoked meanwhile). */
static const char SQL_LOCK[] = "SELECT (t.revoked_at IS NOT NULL OR NOT c.active) FROM feed_token t"
                               " JOIN clinician c ON c.id = t.clinician_id WHERE t.id = $1 FOR UPDATE OF t";

/* Fetches that count against the limit: all but the refused ones, so a
 * client that keeps polling while limited is served again as soon as its
 * older fetches leave the window. The database's clock, the one that
 * stamped the rows, so server processes with drifting clocks agree; the
 * second column is how long until the oldest counted row leaves. */
static const char SQL_RECENT[] =
    "SELECT count(*), coalesce(ceil(extract(epoch FROM min(at) + make_interval(secs => $2) - now()))::bigint,"
    " 1) FROM feed_fetch WHERE token_id = $1 AND at > now() - make_interval(secs => $2) AND status <> 429";

static const char SQL_AUDIT[] =
    "WITH f AS (INSERT INTO feed_fetch (token_id, remote_addr, user_agent, status)"
    " VALUES ($1, $2::inet, $3, $4) RETURNING at)"
    " UPDATE feed_token SET last_fetch_at = (SELECT at FROM f) WHERE id = $1";

/* The rows a feed shows ($1 clinician, $2..$3 the window, $4 the cutoff
 * for cancelled bookings, $5 initials wanted): every day (block) of the
 * clinician's bookings that overlaps the window, cancelled and declined
 * ones only while they were cancelled recently. */
#define FEED_FROM                                                                                            \
	" FROM booking_block k JOIN booking b ON b.id = k.booking_id"                                        \
	" JOIN offering o ON o.id = b.offering_id"                                                           \
	" WHERE k.clinician_id = $1 AND k.starts_at < to_timestamp($3::bigint)"                              \
	" AND k.ends_at > to_timestamp($2::bigint)"                                                          \
	" AND (b.status NOT IN ('cancelled', 'declined') OR b.updated_at >= to_timestamp($4::bigint))"
#define FEED_INITIALS                                                                                        \
	" CASE WHEN $5::boolean THEN (SELECT string_agg(CASE WHEN bc.erased_at IS NOT NULL"                  \
	" THEN 'erased client' ELSE bc.initials END, ' & ' ORDER BY bc.position)"                            \
	" FROM booking_client bc WHERE bc.booking_id = b.id"                                                 \
	" AND (bc.initials <> '' OR bc.erased_at IS NOT NULL))"                                              \
	" END"

/* The validator: a digest of every value the feed shows from each row
 * (order-independent), without formatting anything. */
static const char SQL_VALIDATOR[] =
    "SELECT count(*), coalesce(sum(hashtextextended(concat_ws('|', k.id, k.day_index,"
    " extract(epoch FROM k.starts_at), extract(epoch FROM k.ends_at), b.id, b.reference, b.status,"
    " b.ical_uid, b.ical_sequence, extract(epoch FROM b.updated_at), o.name, o.days,"
    " k.cancelled_at IS NOT NULL," FEED_INITIALS "), 0)), 0),"
    " coalesce(floor(extract(epoch FROM max(b.updated_at)))::bigint, 0)" FEED_FROM;

static const char SQL_EVENTS[] =
    "SELECT k.day_index, floor(extract(epoch FROM k.starts_at))::bigint,"
    " floor(extract(epoch FROM k.ends_at))::bigint, b.id, b.reference, b.status, b.ical_uid,"
    " b.ical_sequence, floor(extract(epoch FROM b.updated_at))::bigint, o.name, o.days," FEED_INITIALS
    ", k.cancelled_at IS NOT NULL" FEED_FROM
    " ORDER BY k.starts_at, k.id LIMIT 20001"; /* FEED_MAX_EVENTS + 1: to notice more */

/* The fetch being answered. */
struct fetch {
	struct ctx *c;
	const struct feed_request *rq;
	struct feed_response *out;
	const char *token_id;  /* feed_token.id, text */
	const char *ua;        /* cleaned User-Agent */
	const char *addr;      /* a plausible inet literal, or NULL */
	const char *clinician; /* clinician.id, text */
	const struct tz *z;    /* the clinician's zone */
	const char *practice;  /* practice name: the calendar's name */
	bool initials;         /* privacy = initials */
	int64_t from, to;      /* the window, UTC */
	int64_t cutoff;        /* cancelled bookings updated before this are left out */
	const char *p[5];      /* the parameters of SQL_VALIDATOR and SQL_EVENTS */
	char etag[40];         /* the current ETag, quoted */
	int64_t last_modified; /* newest change to anything shown */
	int want;              /* 200 or 304, when the limit allows */
};

/* Printable ASCII only (a header may carry any octet, the column is text),
 * at most FEED_UA_MAX octets. */
static const char *clean_ua(struct arena *a, const char *ua)
{
	if (!ua)
		return "";
	size_t n = strlen(ua);
	if (n > FEED_UA_MAX)
		n = FEED_UA_MAX;
	char *s = arena_alloc(a, n + 1);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)ua[i];
		s[i] = ch >= 0x20 && ch < 0x7F ? (char)ch : '?';
	}
	s[n] = '\0';
	return s;
}

static const char *clean_addr(const char *a)
{
	if (!a || !*a || strlen(a) > 45)
		return NULL;
	for (const char *p = a; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') || (*p >= 'A' && *p <= 'F') ||
		      *p == '.' || *p == ':'))
			return NULL;
	return a;
}

static int audit(struct db *db, struct fetch *f, int status)
{
	return db_query(db, f->c->a, NULL, SQL_AUDIT, f->token_id, f->addr, f->ua, num(f->c->a, status));
}

static const char *prefix_for(const char *status)
{
	if (!strcmp(status, "held"))
		return "On hold: ";
	if (!strcmp(status, "requested"))
		return "Requested: ";
	if (!strcmp(status, "cancelled"))
		return "Cancelled: ";
	if (!strcmp(status, "declined"))
		return "Declined: ";
	return ""; /* confirmed, completed, no_show */
}

/* An event's title: neutral words of ours for the status, the offering's
 * own name (the practice chose it; we add no word such as "couples" or
 * "therapy"), which day of a multi-day booking, and the clients' initials
 * only when the token asked for them. */
static const char *title(struct arena *a, const char *status, const char *name, int day, int days,
                         const char *initials)
{
	const char *which = days > 1 ? arena_printf(a, " (day %d of %d)", day + 1, days) : "";
	const char *who = initials && *initials ? arena_printf(a, " · %s", initials) : "";
	return arena_printf(a, "%s%s%s%s", prefix_for(status), name, which, who);
}

/* The calendar from the rows of SQL_EVENTS. */
static int render(struct fetch *f, PGresult *r)
{
	struct ctx *c = f->c;
	int n = PQntuples(r);
	if (n > FEED_MAX_EVENTS) {
		log_warn("feed %s: over %d booking days in the window; the latest are left out", f->token_id,
		         FEED_MAX_EVENTS);
		n = FEED_MAX_EVENTS;
	}
	struct ics_invite *ev = arena_zalloc(c->a, sizeof(*ev) * (size_t)(n ? n : 1));
	struct ics_block *blk = arena_alloc(c->a, sizeof(*blk) * (size_t)(n ? n : 1));
	const char *tzid = tz_name(f->z);
	for (int i = 0; i < n; i++) {
		int day = (int)db_ll(r, i, 0);
		const char *status = db_val(r, i, 5);
		/* One day of a multi-day booking cancelled on its own. */
		if (db_val(r, i, 12)[0] == 't')
			status = "cancelled";
		bool cancelled = !strcmp(status, "cancelled") || !strcmp(status, "declined");
		blk[i] = (struct ics_block){db_ll(r, i, 1), db_ll(r, i, 2)};
		const char *link =
		    arena_printf(c->a, "%s/admin/bookings/%s", f->rq->base_url, db_val(r, i, 3));
		int64_t updated = db_ll(r, i, 8);
		ev[i] = (struct ics_invite){
		    /* Not the invite's UID: a clinician who also imported the
		     * client's invite must not see the two merge or clash. */
		    .uid = arena_printf(c->a, "d%d-%s", day + 1, db_val(r, i, 6)),
		    .sequence = (int)db_ll(r, i, 7),
		    .dtstamp = updated,
		    .last_modified = updated,
		    .tzid = tzid,
		    .summary = title(c->a, status, db_val(r, i, 9), day, (int)db_ll(r, i, 10),
		                     f->initials ? db_val(r, i, 11) : NULL),
		    .description = arena_printf(c->a, "Booking %s\n%s", db_val(r, i, 4), link),
		    .url = link,
		    .blocks = &blk[i],
		    .nblocks = 1,
		    .cancelled = cancelled,
		    .tentative = !strcmp(status, "held") || !strcmp(status, "requested"),
		    .transparent = cancelled,
		    .class_private = true,
		};
	}
	struct ics_calendar cal = {
	    .method = "PUBLISH",
	    .name = f->practice,
	    .refresh_minutes = FEED_REFRESH,
	    .tzid = tzid,
	    .tz_first = f->from,
	    .tz_last = f->to,
	    .events = ev,
	    .nevents = n,
	};
	struct buf out;
	buf_init(&out, c->a, FEED_MAX_BYTES);
	int rc = ics_write_calendar(&cal, &out);
	if (rc) {
		log_error("feed %s: writing the calendar failed: %s", f->token_id, err_code(rc));
		return ERR_INTERNAL;
	}
	f->out->body = out.data;
	f->out->len = out.len;
	return 0;
}

/* Under the token's row lock: is it (still) alive, is it over its limit,
 * and the audit row with the status decided. Short, so that fetches of one
 * token queue only for the count and the insert, never for a render. */
static int record_tx(struct db *db, void *arg)
{
	struct fetch *f = arg;
	struct ctx *c = f->c;
	struct feed_response *out = f->out;
	PGresult *r;
	int rc = db_query(db, c->a, &r, SQL_LOCK, f->token_id);
	if (rc)
		return rc;
	bool dead = PQntuples(r) != 1 || !strcmp(db_val(r, 0, 0), "t");
	if ((rc = db_query(db, c->a, &r, SQL_RECENT, f->token_id, num(c->a, f->rq->rate_window_s))))
		return rc;
	bool limited = db_ll(r, 0, 0) >= f->rq->rate_limit;
	if (dead) {
		/* Revoked: the same 404 as an unknown token, recorded while
		 * under the limit (a lost phone still polling shows up). */
		out->status = 404;
		return limited ? 0 : audit(db, f, 404);
	}
	if (limited) {
		out->status = 429;
		out->retry_after = db_ll(r, 0, 1) < 1 ? 1 : db_ll(r, 0, 1);
		return audit(db, f, 429);
	}
	out->status = f->want;
	return audit(db, f, f->want);
}

/* The window, the ETag and Last-Modified from one aggregate query; sets
 * f->want to 304 when If-None-Match holds the ETag, else 200. */
static int validate(struct fetch *f, const char *zone, int64_t base_modified)
{
	struct ctx *c = f->c;
	const struct feed_request *rq = f->rq;
	int rc = tz_get(zone, &f->z);
	if (rc) {
		log_error("feed %s: the clinician's zone cannot be loaded: %s", f->token_id, err_code(rc));
		return ERR_INTERNAL;
	}
	/* Whole local days in the clinician's zone, so that within a day the
	 * rows (and the ETag) change only with the data. */
	int64_t today = floor_div(tz_utc_to_local(f->z, c->now), DAY);
	f->from = tz_local_to_utc(f->z, (today - rq->past_days) * DAY, NULL);
	f->to = tz_local_to_utc(f->z, (today + rq->future_days + 1) * DAY, NULL);
	f->cutoff = tz_local_to_utc(f->z, (today - FEED_CANCELLED_DAYS) * DAY, NULL);
	f->p[0] = f->clinician;
	f->p[1] = num(c->a, f->from);
	f->p[2] = num(c->a, f->to);
	f->p[3] = num(c->a, f->cutoff);
	f->p[4] = f->initials ? "true" : "false";
	PGresult *r;
	if ((rc = db_query(c->db, c->a, &r, SQL_VALIDATOR, f->p[0], f->p[1], f->p[2], f->p[3], f->p[4])))
		return rc;
	int64_t newest = db_ll(r, 0, 2);
	f->last_modified = newest > base_modified ? newest : base_modified;
	/* Everything the body depends on: the rows (count and digest), the
	 * window, the privacy mode, the links' base, the calendar's name and
	 * zone, and the format itself (bump v1 when the output changes). */
	const char *v =
	    arena_printf(c->a, "feed-v1|%s|%d|%s|%s|%s|%s|%s|%s|%s|%s", f->token_id, f->initials, f->p[1],
	                 f->p[2], f->p[3], rq->base_url, f->practice, zone, db_val(r, 0, 0), db_val(r, 0, 1));
	char hex[65];
	crypto_sha256_hex(v, strlen(v), hex);
	snprintf(f->etag, sizeof(f->etag), "\"%.32s\"", hex);
	f->want = feed_etag_matches(rq->if_none_match, f->etag) ? 304 : 200;
	return 0;
}

int feed_fetch(struct ctx *c, const struct feed_request *rq, struct feed_response *out)
{
	memset(out, 0, sizeof(*out));
	out->status = 404;
	if (!token_shape_ok(rq->token))
		return 0;
	struct fetch f = {.c = c, .rq = rq, .out = out, .want = 404};
	f.ua = clean_ua(c->a, rq->user_agent);
	f.addr = clean_addr(rq->remote_addr);
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_TOKEN, token_hash_param(c->a, rq->token));
	if (rc || PQntuples(r) != 1)
		return rc; /* unknown: 404, nothing to record it against */
	f.token_id = db_val(r, 0, 0);
	f.initials = !strcmp(db_val(r, 0, 1), "initials");
	f.clinician = db_val(r, 0, 3);
	f.practice = db_val(r, 0, 5);
	/* A live token's answer is decided before the lock is taken. */
	if (strcmp(db_val(r, 0, 2), "t") != 0 && (rc = validate(&f, db_val(r, 0, 4), db_ll(r, 0, 6))))
		return rc;
	if ((rc = db_tx(c->db, "READ COMMITTED", record_tx, &f)))
		return rc;
	if (out->status != 200 && out->status != 304)
		return 0;
	memcpy(out->etag, f.etag, sizeof(out->etag));
	out->last_modified = f.last_modified;
	if (out->status == 304)
		return 0;
	/* Rendered after the audit row is committed: a failure here is a
	 * 500 (logged) that the audit records as 200. */
	if ((rc = db_query(c->db, c->a, &r, SQL_EVENTS, f.p[0], f.p[1], f.p[2], f.p[3], f.p[4])))
		return rc;
	return render(&f, r);
}

static const char SQL_OWNED[] = "SELECT 1 FROM feed_token WHERE id = $1 AND clinician_id = $2";

int feed_owned(struct ctx *c, int64_t clinician_id, int64_t id)
{
	PGresult *r;
	int rc = db_query(c->db, c->a, &r, SQL_OWNED, num(c->a, id), num(c->a, clinician_id));
	if (rc)
		return rc;
	return PQntuples(r) == 1 ? 0 : ERR_NOT_FOUND;
}
