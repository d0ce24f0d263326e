/* admin_http.c — see admin_http.h. Handlers parse the request, call the
 * admin modules (auth, session, audit, admin) and render; nothing here
 * decides who may do what beyond the route flags and the session. */
#include "admin/admin_http.h"

#include "admin/booking_actions.h"

#include <ctype.h>

#include "admin/admin.h"
#include "admin/audit.h"
#include "admin/auth.h"
#include "admin/dashview.h"
#include "admin/rights.h"
#include "admin/session.h"
#include "admin/totp.h"
#include "core/humantime.h"
#include "core/log.h"
#include "crypto/crypto.h"
#include "http/router.h"
#include "http/template.h"
#include "practice/practice.h"

/* How many open bookings the dashboard lists as awaiting approval, and the
 * bookings API returns. */
enum { DASH_PENDING_MAX = 100, API_BOOKINGS_MAX = 200 };

/* ---- small helpers ------------------------------------------------------- */

static struct ctx rctx(struct req *r)
{
	return (struct ctx){r->a, r->db, ctx_clock_now(), r->session ? r->session->actor : "public",
	                    r->remote_addr};
}

static struct auth_policy policy(const struct req *r)
{
	const struct config *cfg = r->app->cfg;
	return (struct auth_policy){cfg->login_free_attempts, cfg->login_backoff_base_s,
	                            cfg->login_backoff_max_s};
}

static bool is_get(const struct req *r)
{
	return !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
}

static const char *session_cookie(const struct req *r)
{
	return r->app->cfg->insecure_dev_cookies ? "tandem_session" : "__Host-tandem_session";
}

static const char *login_cookie(const struct req *r)
{
	return r->app->cfg->insecure_dev_cookies ? "tandem_login" : "__Host-tandem_login";
}

/* The value of cookie `name` from the request, or NULL. */
static const char *cookie_get(struct req *r, const char *name)
{
	const char *h = http_get_header(r, "Cookie");
	if (!h)
		return NULL;
	size_t nl = strlen(name);
	const char *p = h;
	while (*p) {
		while (*p == ' ' || *p == ';')
			p++;
		const char *end = strchr(p, ';');
		if (!end)
			end = p + strlen(p);
		const char *eq = memchr(p, '=', (size_t)(end - p));
		if (eq && (size_t)(eq - p) == nl && memcmp(p, name, nl) == 0) {
			const char *v = eq + 1;
			size_t vl = (size_t)(end - v);
			while (vl && v[vl - 1] == ' ')
				vl--;
			return arena_strndup(r->a, v, vl);
		}
		p = end;
	}
	return NULL;
}

/* Secure and __Host- unless insecure_dev_cookies (plain-http development). */
static void set_cookie(struct req *r, const char *name, const char *value, bool clear)
{
	http_add_header(r, "Set-Cookie",
	                arena_printf(r->a, "%s=%s; Path=/%s%s; HttpOnly; SameSite=Strict", name, value,
	                             clear ? "; Max-Age=0" : "",
	                             r->app->cfg->insecure_dev_cookies ? "" : "; Secure"));
}

/* Where to go after signing in: a path under /admin of plain characters,
 * else /admin. Never another site ("//evil", "/\\evil"). */
static const char *safe_next(const char *next)
{
	if (!next || strncmp(next, "/admin", 6) != 0 || (next[6] && next[6] != '/' && next[6] != '?') ||
	    strlen(next) > 400 || strstr(next, "//") || strstr(next, "..") || strstr(next, "/admin/login"))
		return "/admin";
	for (const char *p = next; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("/_.~?=&%+-:", *p))
			return "/admin";
	return next;
}

const struct tz *admin_http_zone(const struct req *r)
{
	const struct tz *z = NULL;
	if (r->session && tz_get(r->session->timezone, &z) == 0)
		return z;
	if (tz_get("UTC", &z) == 0)
		return z;
	BUG("no UTC zone");
}

/* "2026-11-21 10:03 CST" in zone z. */
static char *stamp(struct arena *a, const struct tz *z, int64_t t)
{
	int64_t local = tz_utc_to_local(z, t);
	int64_t day = local >= 0 ? local / 86400 : -((-local + 86399) / 86400);
	int sec = (int)(local - day * 86400);
	int y, m, d;
	tz_civil_from_days(day, &y, &m, &d);
	return arena_printf(a, "%04d-%02d-%02d %02d:%02d %s", y, m, d, sec / 3600, (sec / 60) % 60,
	                    tz_abbrev_at(z, t));
}

/* A booking's dates for people, in zone z. */
static char *when(struct arena *a, const struct tz *z, int64_t s, int64_t e, int days)
{
	if (days <= 1)
		return arena_printf(a, "%s, %s", humantime_date(a, z, s), humantime_range(a, z, s, e));
	return arena_printf(a, "%s – %s (%d days), from %s", humantime_date(a, z, s),
	                    humantime_date(a, z, e - 1), days, humantime_clock(a, z, s));
}

static const char *status_label(const char *s)
{
	if (!strcmp(s, "held"))
		return "Held (intake and approval pending)";
	if (!strcmp(s, "requested"))
		return "Requested (awaiting approval)";
	if (!strcmp(s, "confirmed"))
		return "Confirmed";
	if (!strcmp(s, "declined"))
		return "Declined";
	if (!strcmp(s, "cancelled"))
		return "Cancelled";
	if (!strcmp(s, "completed"))
		return "Completed";
	if (!strcmp(s, "no_show"))
		return "No-show";
	return s;
}

json_t *admin_http_page_view(struct req *r, const char *title)
{
	struct ctx c = rctx(r);
	struct practice p;
	json_t *v = json_pack("{s:s}", "title", title);
	if (!v)
		core_oom();
	if (practice_get(&c, &p) == 0)
		json_object_set_new(v, "practice", practice_to_view(&p));
	if (r->session) {
		json_object_set_new(v, "csrf", json_string(r->session->csrf));
		if (!r->session->mfa_pending)
			json_object_set_new(v, "admin",
			                    json_pack("{s:s, s:s, s:b}", "name", r->session->name, "csrf",
			                              r->session->csrf, "owner", r->session->owner));
	}
	return v;
}

static struct admin_viewer viewer(const struct req *r)
{
	return (struct admin_viewer){r->session->clinician_id, r->session->owner};
}

static const char *clinician_target(struct req *r)
{
	return arena_printf(r->a, "clinician:%lld", (long long)r->session->clinician_id);
}

/* ---- the gate: session and CSRF, for every route ------------------------- */

const char *admin_http_client_addr(struct req *r, const char *peer)
{
	if (!peer)
		return "";
	if (!r->app->cfg->trust_proxy || (strcmp(peer, "127.0.0.1") != 0 && strcmp(peer, "::1") != 0))
		return peer;
	const char *xff = http_get_header(r, "X-Forwarded-For");
	if (!xff)
		return peer;
	/* The last entry is the one our proxy added: the peer it saw. */
	const char *last = strrchr(xff, ',');
	last = last ? last + 1 : xff;
	while (*last == ' ')
		last++;
	size_t n = strlen(last);
	while (n && last[n - 1] == ' ')
		n--;
	if (n == 0 || n > 45)
		return peer;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)last[i]) && last[i] != '.' && last[i] != ':')
			return peer;
	return arena_strndup(r->a, last, n);
}

/* A link from another site (a webmail, say) to an admin page arrives
 * without the SameSite=Strict cookie even when the clinician is signed in.
 * Rather than asking for the password again, hop once through this page:
 * its refresh starts on our own origin, so the cookie goes along. */
static int same_site_hop(struct req *r)
{
	const char *to = safe_next(
	    r->query && strlen(r->query) <= 300 ? arena_printf(r->a, "%s?%s", r->path, r->query) : r->path);
	struct buf u, b;
	buf_init(&u, r->a, 2048);
	tpl_escape_html(&u, to, strlen(to));
	buf_init(&b, r->a, 8192);
	buf_printf(&b,
	           "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
	           "<meta name=\"referrer\" content=\"no-referrer\">"
	           "<meta http-equiv=\"refresh\" content=\"0;url=%s\"><title>Continue</title></head>"
	           "<body><main><p><a href=\"%s\">Continue</a></p></main></body></html>",
	           buf_cstr(&u), buf_cstr(&u));
	return http_send(r, 200, "text/html; charset=utf-8", b.data, b.len);
}

int admin_http_gate(struct req *r)
{
	unsigned f = r->route ? r->route->flags : 0;
	if (!(f & ROUTE_SESSION_FLAGS))
		return 0;
	const char *token = cookie_get(r, session_cookie(r));
	if (token) {
		struct ctx c = rctx(r);
		struct session_info s;
		int rc = session_lookup(&c, token, r->app->cfg->session_idle_s, &s);
		if (rc == ERR_NOT_FOUND) {
			r->session_ended = true;
			set_cookie(r, session_cookie(r), "", true);
		} else if (rc) {
			return rc;
		} else {
			struct req_session *rs = arena_zalloc(r->a, sizeof(*rs));
			rs->id = s.id;
			rs->clinician_id = s.clinician_id;
			rs->owner = s.owner;
			rs->mfa_pending = s.mfa_pending;
			rs->name = s.name;
			rs->email = s.email;
			rs->timezone = s.timezone;
			session_csrf(token, rs->csrf);
			snprintf(rs->actor, sizeof(rs->actor), "clinician:%lld", (long long)s.clinician_id);
			r->session = rs;
		}
	}
	if (f & ROUTE_LOGIN)
		return 0;
	if (r->session && (!r->session->mfa_pending || (f & ROUTE_PARTIAL)))
		return 0;
	if (r->api)
		return http_send_error(r, ERR_UNAUTHORIZED, "Sign in to use this.", NULL);
	if (r->session)
		return http_redirect(r, 303, "/admin/login/totp");
	const char *site = http_get_header(r, "Sec-Fetch-Site");
	if (!token && is_get(r) && site && !strcmp(site, "cross-site"))
		return same_site_hop(r);
	const char *loc = "/admin/login";
	if (is_get(r)) {
		const char *next = r->query && strlen(r->query) <= 300
		                       ? arena_printf(r->a, "%s?%s", r->path, r->query)
		                       : r->path;
		loc = arena_printf(r->a, "/admin/login?next=%s%s", form_urlencode(r->a, safe_next(next)),
		                   r->session_ended ? "&ended=1" : "");
	} else if (r->session_ended) {
		loc = "/admin/login?ended=1";
	}
	return http_redirect(r, 303, loc);
}

int admin_http_csrf(struct req *r)
{
	unsigned f = r->route ? r->route->flags : 0;
	if (!(f & (ROUTE_SESSION_FLAGS | ROUTE_CSRF)) || is_get(r))
		return 0;
	const char *given = http_get_header(r, "X-CSRF-Token");
	if (!given)
		given = form_get(&r->form, "csrf");
	const char *want = NULL;
	if (!(f & ROUTE_LOGIN) && r->session) {
		want = r->session->csrf;
	} else {
		const char *lc = cookie_get(r, login_cookie(r));
		if (lc && session_token_valid(lc))
			want = lc;
	}
	if (given && want && strlen(given) == strlen(want) && crypto_equal(given, want, strlen(want)))
		return 0;
	log_info("CSRF token %s: %s %s refused", given ? "wrong" : "missing", r->method, r->route->pattern);
	return http_send_error(
	    r, ERR_FORBIDDEN,
	    "This form has expired or did not come from this site. Go back, reload the page "
	    "and try again.",
	    NULL);
}

void admin_http_refused(struct req *r)
{
	if (!r->session || !r->route || !(r->route->flags & ROUTE_SESSION_FLAGS) ||
	    (r->status != 403 && r->status != 404))
		return;
	struct ctx c = rctx(r);
	json_t *detail = json_pack("{s:i, s:s, s:s}", "status", r->status, "method", r->method, "route",
	                           r->route->pattern);
	int rc = audit_write(&c, "access.refused", arena_printf(r->a, "%.200s", r->path), detail);
	if (rc)
		log_error("access.refused: the audit entry was not written: %s", err_code(rc));
}

/* ---- signing in ----------------------------------------------------------- */

/* The sign-in form's CSRF token: the sign-in cookie's value (double
 * submit), set now when the browser has none. */
static const char *login_token(struct req *r)
{
	const char *t = cookie_get(r, login_cookie(r));
	if (t && session_token_valid(t))
		return t;
	t = crypto_token(r->a, SESSION_TOKEN_BYTES);
	set_cookie(r, login_cookie(r), t, false);
	return t;
}

static int login_form(struct req *r, int status, const char *email, const char *next, const char *error,
                      const char *notice)
{
	json_t *v = admin_http_page_view(r, "Sign in");
	json_object_set_new(v, "login_csrf", json_string(login_token(r)));
	json_object_set_new(v, "email", json_string(email ? email : ""));
	json_object_set_new(v, "next", json_string(safe_next(next)));
	if (error)
		json_object_set_new(v, "error", json_string(error));
	if (notice)
		json_object_set_new(v, "notice", json_string(notice));
	return http_send_page(r, status, "admin/login", v);
}

static int too_many(struct req *r, long retry_after, const char **msg)
{
	http_add_header(r, "Retry-After", arena_printf(r->a, "%ld", retry_after));
	*msg = arena_printf(r->a,
	                    "Too many attempts. Please wait %ld second%s before trying again. (Nothing is "
	                    "locked: the right password works once the wait is over.)",
	                    retry_after, retry_after == 1 ? "" : "s");
	return 429;
}

int admin_http_login_page(struct req *r)
{
	const char *next = http_query_param(r, "next");
	if (r->session && !r->session->mfa_pending)
		return http_redirect(r, 303, safe_next(next));
	if (r->session)
		return http_redirect(r, 303, "/admin/login/totp");
	const char *notice = NULL;
	if (r->session_ended || http_query_param(r, "ended"))
		notice = "Your session has ended. Please sign in again.";
	else if (http_query_param(r, "out"))
		notice = "You are signed out.";
	else if (http_query_param(r, "mfa"))
		notice = "Too many wrong codes. Please sign in again.";
	return login_form(r, 200, NULL, next, NULL, notice);
}

/* Starts a session for clinician_id, replacing whatever session the
 * browser had (a new token at every sign-in: no fixation). */
static int start_session(struct req *r, int64_t clinician_id, bool mfa_pending)
{
	struct ctx c = rctx(r);
	int rc;
	if (r->session && (rc = session_revoke(&c, r->session->id, mfa_pending ? "replaced" : "signed-in")))
		return rc;
	long life = mfa_pending ? SESSION_MFA_LIFETIME : r->app->cfg->session_absolute_s;
	char *token;
	int64_t id;
	if ((rc = session_create(&c, clinician_id, mfa_pending, life, http_get_header(r, "User-Agent"),
	                         &token, &id)))
		return rc;
	set_cookie(r, session_cookie(r), token, false);
	return 0;
}

int admin_http_login_post(struct req *r)
{
	const char *email = form_get(&r->form, "email");
	const char *password = form_get(&r->form, "password");
	const char *next = form_get(&r->form, "next");
	struct ctx c = rctx(r);
	struct auth_policy p = policy(r);
	struct auth_login out;
	int rc = auth_login(&c, &p, email, password, &out);
	if (rc == ERR_RATE_LIMITED) {
		const char *msg;
		int status = too_many(r, out.retry_after, &msg);
		return login_form(r, status, email, next, msg, NULL);
	}
	if (rc == ERR_UNAUTHORIZED)
		return login_form(r, 401, email, next, "That email and password do not match an account.",
		                  NULL);
	if (rc)
		return rc;
	if ((rc = start_session(r, out.clinician_id, out.totp)))
		return rc;
	set_cookie(r, login_cookie(r), "", true);
	if (out.totp)
		return http_redirect(
		    r, 303,
		    arena_printf(r->a, "/admin/login/totp?next=%s", form_urlencode(r->a, safe_next(next))));
	c.actor = arena_printf(r->a, "clinician:%lld", (long long)out.clinician_id);
	audit_write(&c, "login.success", c.actor, json_pack("{s:s}", "method", "password"));
	return http_redirect(r, 303, safe_next(next));
}

static int totp_form(struct req *r, int status, const char *next, const char *error)
{
	json_t *v = admin_http_page_view(r, "Sign in: code");
	json_object_set_new(v, "next", json_string(safe_next(next)));
	if (error)
		json_object_set_new(v, "error", json_string(error));
	return http_send_page(r, status, "admin/totp", v);
}

int admin_http_totp_page(struct req *r)
{
	const char *next = http_query_param(r, "next");
	if (!r->session->mfa_pending)
		return http_redirect(r, 303, safe_next(next));
	return totp_form(r, 200, next, NULL);
}

int admin_http_totp_post(struct req *r)
{
	const char *next = form_get(&r->form, "next");
	if (!r->session->mfa_pending)
		return http_redirect(r, 303, safe_next(next));
	struct ctx c = rctx(r);
	c.actor = "public"; /* not signed in until the code is right */
	struct auth_policy p = policy(r);
	const char *method;
	long retry;
	int rc = auth_totp_login(&c, &p, r->app->keys, r->session->clinician_id, r->session->email,
	                         form_get(&r->form, "code"), &method, &retry);
	if (rc == ERR_RATE_LIMITED) {
		const char *msg;
		int status = too_many(r, retry, &msg);
		return totp_form(r, status, next, msg);
	}
	if (rc == ERR_UNAUTHORIZED) {
		int left;
		if ((rc = session_mfa_failed(&c, r->session->id, &left)))
			return rc;
		if (left == 0) {
			set_cookie(r, session_cookie(r), "", true);
			return http_redirect(r, 303, "/admin/login?mfa=failed");
		}
		return totp_form(r, 401, next,
		                 arena_printf(r->a,
		                              "That code is not right (or was already used). %d %s left.",
		                              left, left == 1 ? "try" : "tries"));
	}
	if (rc)
		return rc;
	if ((rc = start_session(r, r->session->clinician_id, false)))
		return rc;
	c.actor = r->session->actor;
	audit_write(&c, "login.success", c.actor, json_pack("{s:s}", "method", method));
	return http_redirect(r, 303, safe_next(next));
}

int admin_http_logout(struct req *r)
{
	struct ctx c = rctx(r);
	int rc = session_revoke(&c, r->session->id, "logout");
	if (rc)
		return rc;
	audit_write(&c, "logout", clinician_target(r),
	            json_pack("{s:I}", "session", (json_int_t)r->session->id));
	set_cookie(r, session_cookie(r), "", true);
	return http_redirect(r, 303, "/admin/login?out=1");
}

int admin_http_logout_all(struct req *r)
{
	struct ctx c = rctx(r);
	int n = 0;
	int rc = session_revoke_all(&c, r->session->clinician_id, 0, "logout-all", &n);
	if (rc)
		return rc;
	audit_write(&c, "logout.all", clinician_target(r), json_pack("{s:i}", "sessions_revoked", n));
	set_cookie(r, session_cookie(r), "", true);
	return http_redirect(r, 303, "/admin/login?out=all");
}

/* ---- the dashboard and bookings -------------------------------------------- */

static json_t *booking_item(struct req *r, const struct tz *z, json_t *b)
{
	int64_t s = json_integer_value(json_object_get(b, "starts"));
	int64_t e = json_integer_value(json_object_get(b, "ends"));
	int days = (int)json_integer_value(json_object_get(b, "days"));
	const char *status = json_string_value(json_object_get(b, "status"));
	json_object_set_new(b, "when", json_string(when(r->a, z, s, e, days)));
	json_object_set_new(b, "status_label", json_string(status_label(status)));
	json_object_set_new(
	    b, "url",
	    json_string(arena_printf(r->a, "/admin/bookings/%lld",
	                             (long long)json_integer_value(json_object_get(b, "id")))));
	int64_t hold = json_integer_value(json_object_get(b, "hold_expires"));
	if (hold)
		json_object_set_new(b, "hold_until", json_string(stamp(r->a, z, hold)));
	return b;
}

int admin_http_dashboard(struct req *r)
{
	struct ctx c = rctx(r);
	struct admin_viewer v = viewer(r);
	json_t *pending, *upcoming;
	bool pending_more, upcoming_more;
	int rc =
	    admin_bookings_upcoming(&c, &v, ADMIN_OPEN_PENDING, DASH_PENDING_MAX, &pending, &pending_more);
	if (rc)
		return rc;
	if ((rc = admin_bookings_upcoming(&c, &v, ADMIN_OPEN_CONFIRMED, DASHVIEW_LIST_MAX, &upcoming,
	                                  &upcoming_more))) {
		json_decref(pending);
		return rc;
	}
	const struct tz *z = admin_http_zone(r);
	size_t i;
	json_t *b;
	json_array_foreach(pending, i, b)
	{
		booking_item(r, z, b);
	}
	json_array_foreach(upcoming, i, b)
	{
		booking_item(r, z, b);
	}
	json_t *view = admin_http_page_view(r, "Dashboard");
	if (pending_more)
		json_object_set_new(view, "pending_more",
		                    json_string(arena_printf(r->a,
		                                             "Only the %d soonest are listed; the calendar "
		                                             "shows the others.",
		                                             DASH_PENDING_MAX)));
	if (upcoming_more)
		json_object_set_new(
		    view, "upcoming_more",
		    json_string(arena_printf(r->a,
		                             "Only the next %d are listed; the calendar shows "
		                             "the others.",
		                             DASHVIEW_LIST_MAX)));
	json_object_set_new(view, "has_pending", json_boolean(json_array_size(pending) > 0));
	json_object_set_new(view, "has_upcoming", json_boolean(json_array_size(upcoming) > 0));
	json_object_set_new(view, "pending", pending);
	json_object_set_new(view, "upcoming", upcoming);
	json_object_set_new(view, "timezone", json_string(tz_name(z)));
	json_object_set_new(view, "owner", json_boolean(r->session->owner));
	if ((rc = dashview_add(r, z, view))) {
		json_decref(view);
		return rc;
	}
	return http_send_page(r, 200, "admin/dashboard", view);
}

int admin_http_booking(struct req *r)
{
	int64_t id = http_param_id(r, 0);
	if (!id)
		return ERR_NOT_FOUND;
	struct ctx c = rctx(r);
	struct admin_viewer v = viewer(r);
	json_t *b;
	int rc = admin_booking_get(&c, &v, id, &b);
	if (rc)
		return rc;
	if ((rc = audit_write(&c, "booking.view", arena_printf(r->a, "booking:%lld", (long long)id), NULL))) {
		/* No record of the read, no read. */
		json_decref(b);
		return rc;
	}
	const struct tz *z = admin_http_zone(r);
	booking_item(r, z, b);
	json_t *blocks = json_object_get(b, "blocks"), *x;
	size_t i;
	json_array_foreach(blocks, i, x)
	{
		int64_t s = json_integer_value(json_object_get(x, "starts"));
		int64_t e = json_integer_value(json_object_get(x, "ends"));
		json_object_set_new(x, "date", json_string(humantime_date(r->a, z, s)));
		json_object_set_new(x, "time", json_string(humantime_range(r->a, z, s, e)));
	}
	json_t *events = json_object_get(b, "events");
	json_array_foreach(events, i, x)
	{
		json_object_set_new(
		    x, "at_text", json_string(stamp(r->a, z, json_integer_value(json_object_get(x, "at")))));
		json_object_set_new(x, "to_label",
		                    json_string(status_label(json_string_value(json_object_get(x, "to")))));
	}
	json_object_set_new(b, "created_text",
	                    json_string(stamp(r->a, z, json_integer_value(json_object_get(b, "created")))));
	/* The clients, decrypted for the clinician (the read is the audited
	 * booking.view above). */
	json_t *clients;
	if ((rc = rights_booking_clients(&c, r->app->keys, id, &clients))) {
		json_decref(b);
		return rc;
	}
	bool pending = false;
	size_t k;
	json_t *cl;
	json_array_foreach(clients, k, cl)
	{
		const char *st = json_string_value(json_object_get(cl, "intake"));
		pending |= st && strcmp(st, "submitted") != 0;
	}
	json_object_set_new(b, "intakes_pending", json_boolean(pending));
	json_object_set_new(b, "clients", clients);
	/* The actions: their forms, the flags, the notes (booking_actions.c). */
	if ((rc = booking_actions_view(r, b))) {
		json_decref(b);
		return rc;
	}
	json_t *view = admin_http_page_view(
	    r, arena_printf(r->a, "Booking %s", json_string_value(json_object_get(b, "reference"))));
	json_object_set_new(view, "booking", b);
	json_object_set_new(view, "timezone", json_string(tz_name(z)));
	json_object_set_new(view, "owner", json_boolean(r->session->owner));
	return http_send_page(r, 200, "admin/booking", view);
}

int admin_http_api_session(struct req *r)
{
	const struct req_session *s = r->session;
	return http_send_json(r, 200,
	                      json_pack("{s:I, s:s, s:s, s:b, s:s, s:s}", "clinician_id",
	                                (json_int_t)s->clinician_id, "name", s->name, "email", s->email,
	                                "owner", s->owner, "timezone", s->timezone, "csrf", s->csrf));
}

int admin_http_api_bookings(struct req *r)
{
	struct ctx c = rctx(r);
	struct admin_viewer v = viewer(r);
	json_t *rows;
	bool more;
	int rc = admin_bookings_upcoming(&c, &v, ADMIN_OPEN_ALL, API_BOOKINGS_MAX, &rows, &more);
	if (rc)
		return rc;
	const struct tz *z = admin_http_zone(r);
	json_t *out = json_array(), *b;
	size_t i;
	json_array_foreach(rows, i, b)
	{
		char s[40], e[40];
		tz_format_rfc3339(z, json_integer_value(json_object_get(b, "starts")), s, sizeof(s));
		tz_format_rfc3339(z, json_integer_value(json_object_get(b, "ends")), e, sizeof(e));
		json_array_append_new(out, json_pack("{s:O, s:O, s:O, s:O, s:O, s:s, s:s, s:O, s:O}", "id",
		                                     json_object_get(b, "id"), "reference",
		                                     json_object_get(b, "reference"), "status",
		                                     json_object_get(b, "status"), "offering",
		                                     json_object_get(b, "offering"), "clinician_id",
		                                     json_object_get(b, "clinician_id"), "start", s, "end", e,
		                                     "initials", json_object_get(b, "initials"),
		                                     "needs_review", json_object_get(b, "needs_review")));
	}
	json_decref(rows);
	return http_send_json(
	    r, 200, json_pack("{s:o, s:s, s:b}", "bookings", out, "timezone", tz_name(z), "more", more));
}

/* ---- the account page -------------------------------------------------------- */

/* The account page with optional messages: status, a notice, and per-form
 * errors ({"current": "...", ...}, released). */
static int account_page(struct req *r, int status, const char *notice, json_t *errors, const char *totp_error)
{
	struct ctx c = rctx(r);
	bool enabled, pending;
	int rc = auth_totp_state(&c, r->session->clinician_id, &enabled, &pending);
	json_t *sessions = NULL;
	if (rc == 0)
		rc = session_list(&c, r->session->clinician_id, &sessions);
	if (rc) {
		if (errors)
			json_decref(errors);
		return rc;
	}
	const struct tz *z = admin_http_zone(r);
	json_t *s;
	size_t i;
	json_array_foreach(sessions, i, s)
	{
		int64_t sid = json_integer_value(json_object_get(s, "id"));
		json_object_set_new(
		    s, "created_text",
		    json_string(stamp(r->a, z, json_integer_value(json_object_get(s, "created")))));
		json_object_set_new(
		    s, "last_seen_text",
		    json_string(stamp(r->a, z, json_integer_value(json_object_get(s, "last_seen")))));
		json_object_set_new(s, "current", json_boolean(sid == r->session->id));
		json_object_set_new(
		    s, "revoke_action",
		    json_string(arena_printf(r->a, "/admin/account/sessions/%lld/revoke", (long long)sid)));
	}
	json_t *v = admin_http_page_view(r, "Your account");
	json_object_set_new(v, "email", json_string(r->session->email));
	json_object_set_new(v, "totp_enabled", json_boolean(enabled));
	json_object_set_new(v, "totp_pending", json_boolean(pending));
	json_object_set_new(v, "sessions", sessions);
	json_object_set_new(v, "timezone", json_string(tz_name(z)));
	if (notice)
		json_object_set_new(v, "notice", json_string(notice));
	if (errors)
		json_object_set_new(v, "errors", errors);
	if (totp_error)
		json_object_set_new(v, "totp_error", json_string(totp_error));
	return http_send_page(r, status, "admin/account", v);
}

int admin_http_account(struct req *r)
{
	const char *done = http_query_param(r, "done");
	const char *notice = NULL;
	if (done && !strcmp(done, "password"))
		notice = "Your password is changed. Every other session was signed out.";
	else if (done && !strcmp(done, "totp-off"))
		notice = "Two-factor sign-in is off.";
	else if (done && !strcmp(done, "session"))
		notice = "That session is signed out.";
	return account_page(r, 200, notice, NULL, NULL);
}

int admin_http_password(struct req *r)
{
	struct ctx c = rctx(r);
	struct auth_policy p = policy(r);
	json_t *fields = NULL;
	long retry = 0;
	int rc = auth_change_password(&c, &p, r->session->clinician_id, r->session->email,
	                              form_get(&r->form, "current"), form_get(&r->form, "password"),
	                              form_get(&r->form, "confirm"), r->session->id, &fields, &retry);
	if (rc == ERR_INVALID)
		return account_page(r, 422, NULL, fields, NULL);
	if (rc == ERR_RATE_LIMITED) {
		const char *msg;
		int status = too_many(r, retry, &msg);
		return account_page(r, status, NULL, json_pack("{s:s}", "current", msg), NULL);
	}
	if (rc)
		return rc;
	return http_redirect(r, 303, "/admin/account?done=password");
}

int admin_http_totp_begin(struct req *r)
{
	struct ctx c = rctx(r);
	int rc = auth_totp_begin(&c, r->app->keys, r->session->clinician_id);
	if (rc == ERR_CONFLICT)
		return account_page(r, 409, NULL, NULL,
		                    "Two-factor sign-in is already on. Turn it off first.");
	if (rc)
		return rc;
	return http_redirect(r, 303, "/admin/account/totp");
}

static int enrol_page(struct req *r, int status, const char *error)
{
	struct ctx c = rctx(r);
	char *secret;
	int rc = auth_totp_pending_secret(&c, r->app->keys, r->session->clinician_id, &secret);
	if (rc == ERR_NOT_FOUND)
		return http_redirect(r, 303, "/admin/account");
	if (rc)
		return rc;
	struct practice p;
	const char *issuer = practice_get(&c, &p) == 0 && *p.name ? p.name : "Tandem";
	/* Groups of four for reading aloud or typing. */
	struct buf g;
	buf_init(&g, r->a, 128);
	for (size_t i = 0; secret[i]; i++) {
		if (i && i % 4 == 0)
			buf_putc(&g, ' ');
		buf_putc(&g, secret[i]);
	}
	json_t *v = admin_http_page_view(r, "Turn on two-factor sign-in");
	json_object_set_new(v, "secret", json_string(secret));
	json_object_set_new(v, "secret_grouped", json_string(buf_cstr(&g)));
	json_object_set_new(v, "uri", json_string(totp_uri(r->a, issuer, r->session->email, secret)));
	if (error)
		json_object_set_new(v, "error", json_string(error));
	return http_send_page(r, status, "admin/totp_enrol", v);
}

int admin_http_totp_enrol(struct req *r)
{
	return enrol_page(r, 200, NULL);
}

int admin_http_totp_confirm(struct req *r)
{
	struct ctx c = rctx(r);
	json_t *codes;
	int rc =
	    auth_totp_confirm(&c, r->app->keys, r->session->clinician_id, form_get(&r->form, "code"), &codes);
	if (rc == ERR_NOT_FOUND)
		return http_redirect(r, 303, "/admin/account");
	if (rc == ERR_UNAUTHORIZED || rc == ERR_INVALID)
		return enrol_page(r, 422,
		                  "That code is not right. Check the time on your phone and type the code "
		                  "your app shows now.");
	if (rc)
		return rc;
	json_t *v = admin_http_page_view(r, "Recovery codes");
	json_object_set_new(v, "codes", codes);
	return http_send_page(r, 200, "admin/recovery_codes", v);
}

int admin_http_totp_disable(struct req *r)
{
	struct ctx c = rctx(r);
	struct auth_policy p = policy(r);
	long retry;
	int rc = auth_recheck_password(&c, &p, r->session->clinician_id, r->session->email,
	                               form_get(&r->form, "password"), &retry);
	if (rc == ERR_UNAUTHORIZED)
		return account_page(r, 422, NULL, NULL, "That is not your password.");
	if (rc == ERR_RATE_LIMITED) {
		const char *msg;
		int status = too_many(r, retry, &msg);
		return account_page(r, status, NULL, NULL, msg);
	}
	if (rc)
		return rc;
	if ((rc = auth_totp_disable(&c, r->session->clinician_id)))
		return rc;
	return http_redirect(r, 303, "/admin/account?done=totp-off");
}

int admin_http_session_revoke(struct req *r)
{
	int64_t id = http_param_id(r, 0);
	if (!id)
		return ERR_NOT_FOUND;
	struct ctx c = rctx(r);
	int rc = session_revoke_own(&c, r->session->clinician_id, id, "revoked");
	if (rc)
		return rc;
	audit_write(&c, "session.revoke", arena_printf(r->a, "session:%lld", (long long)id), NULL);
	if (id == r->session->id) {
		set_cookie(r, session_cookie(r), "", true);
		return http_redirect(r, 303, "/admin/login?out=1");
	}
	return http_redirect(r, 303, "/admin/account?done=session");
}

/* ---- the audit viewer --------------------------------------------------------- */

/* Actions the filter offers (any other is still accepted as typed). */
static const char *const ACTIONS[] = {
    "login.",        "login.success", "login.failure",      "login.throttled",
    "logout",        "logout.all",    "session.revoke",     "password.change",
    "totp.enable",   "totp.disable",  "totp.recovery_used", "booking.view",
    "booking.",      "flags.view",    "intake.view",        "intake.export",
    "client.export", "client.erase",  "access.refused",
};

static bool valid_action(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 64 || !islower((unsigned char)s[0]))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && !strchr("_.-", s[i]))
			return false;
	return true;
}

int admin_http_audit(struct req *r)
{
	struct ctx c = rctx(r);
	struct admin_viewer v = viewer(r);
	const struct tz *z = admin_http_zone(r);
	struct audit_filter f = {0};
	json_t *errors = json_object();
	f.actor = http_query_param(r, "actor");
	f.action = http_query_param(r, "action");
	f.from = http_query_param(r, "from");
	f.to = http_query_param(r, "to");
	f.timezone = tz_name(z);
	f.limit = 100;
	int64_t day;
	if (f.actor && strlen(f.actor) > 100) {
		json_object_set_new(errors, "actor", json_string("At most 100 characters."));
		f.actor = NULL;
	}
	if (f.action && *f.action && !valid_action(f.action)) {
		json_object_set_new(errors, "action",
		                    json_string("Lower-case words and dots, like login.failure."));
		f.action = NULL;
	}
	if (f.from && *f.from && tz_parse_date(f.from, &day) != 0) {
		json_object_set_new(errors, "from", json_string("A date like 2026-11-21."));
		f.from = NULL;
	}
	if (f.to && *f.to && tz_parse_date(f.to, &day) != 0) {
		json_object_set_new(errors, "to", json_string("A date like 2026-11-21."));
		f.to = NULL;
	}
	const char *before = http_query_param(r, "before");
	f.before_id = before ? http_parse_id(before) : 0;
	if (!v.owner)
		f.scope = clinician_target(r); /* a clinician sees their own entries */
	json_t *rows, *clinicians;
	bool more;
	int rc = audit_list(&c, &f, &rows, &more);
	if (rc == 0 && (rc = admin_clinicians(&c, &v, &clinicians)) != 0)
		json_decref(rows);
	if (rc) {
		json_decref(errors);
		return rc;
	}
	json_t *e;
	size_t i;
	int64_t last = 0;
	json_array_foreach(rows, i, e)
	{
		json_object_set_new(
		    e, "at_text", json_string(stamp(r->a, z, json_integer_value(json_object_get(e, "at")))));
		const char *d = json_string_value(json_object_get(e, "detail"));
		if (d && !strcmp(d, "{}"))
			json_object_set_new(e, "detail", json_string(""));
		last = json_integer_value(json_object_get(e, "id"));
	}
	json_t *actors = json_array();
	json_array_foreach(clinicians, i, e)
	{
		const char *a = json_string_value(json_object_get(e, "actor"));
		json_array_append_new(actors, json_pack("{s:s, s:s, s:b}", "value", a, "label",
		                                        json_string_value(json_object_get(e, "name")),
		                                        "selected", f.actor && !strcmp(f.actor, a)));
	}
	json_decref(clinicians);
	if (v.owner) {
		static const char *const others[][2] = {
		    {"public", "Not signed in"}, {"system", "System"}, {"client", "Clients"}};
		for (size_t k = 0; k < ARRAY_LEN(others); k++)
			json_array_append_new(actors, json_pack("{s:s, s:s, s:b}", "value", others[k][0],
			                                        "label", others[k][1], "selected",
			                                        f.actor && !strcmp(f.actor, others[k][0])));
	}
	json_t *actions = json_array();
	for (size_t k = 0; k < ARRAY_LEN(ACTIONS); k++)
		json_array_append_new(actions, json_pack("{s:s, s:b}", "value", ACTIONS[k], "selected",
		                                         f.action && !strcmp(f.action, ACTIONS[k])));
	json_t *view = admin_http_page_view(r, "Audit log");
	json_object_set_new(view, "has_entries", json_boolean(json_array_size(rows) > 0));
	json_object_set_new(view, "entries", rows);
	json_object_set_new(view, "actors", actors);
	json_object_set_new(view, "actions", actions);
	json_object_set_new(view, "from", json_string(f.from ? f.from : ""));
	json_object_set_new(view, "to", json_string(f.to ? f.to : ""));
	json_object_set_new(view, "timezone", json_string(tz_name(z)));
	json_object_set_new(view, "owner", json_boolean(v.owner));
	if (json_object_size(errors))
		json_object_set_new(view, "errors", errors);
	else
		json_decref(errors);
	if (more && last) {
		struct buf q;
		buf_init(&q, r->a, 2048);
		buf_printf(&q, "/admin/audit?before=%lld", (long long)last);
		static const char *const keep[] = {"actor", "action", "from", "to"};
		for (size_t k = 0; k < ARRAY_LEN(keep); k++) {
			const char *val = http_query_param(r, keep[k]);
			if (val && *val)
				buf_printf(&q, "&%s=%s", keep[k], form_urlencode(r->a, val));
		}
		json_object_set_new(view, "older_url", json_string(buf_cstr(&q)));
	}
	return http_send_page(r, json_object_get(view, "errors") ? 422 : 200, "admin/audit", view);
}
