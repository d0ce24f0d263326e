/*
 * admin_http.h — the clinician area over HTTP: sign-in (password, TOTP),
 * sessions and their cookie, CSRF, sign-out, the dashboard, one
 * booking, the account page and the audit viewer.
 *
 * admin_http_gate and admin_http_csrf are called by http/server.c for
 * every request (see the flags in http/router.h); handlers below run only
 * after both let the request through.
 */
#ifndef TANDEM_ADMIN_ADMIN_HTTP_H
#define TANDEM_ADMIN_ADMIN_HTTP_H

#include "core/tz.h"
#include "http/http.h"

/* Before the body is read: loads r->session from the cookie on routes
 * with a session flag and refuses a request that lacks the session its
 * route needs (303 to the sign-in page, 401 for JSON). Returns 0 (check
 * r->sent: a refusal was sent) or an ERR_* to answer. */
int admin_http_gate(struct req *r);
/* After the body is read: the CSRF check of non-GET routes with
 * ROUTE_CSRF or a session flag; a missing or wrong token is answered 403.
 * Returns 0 (check r->sent) or an ERR_*. */
int admin_http_csrf(struct req *r);
/* After the answer: a signed-in clinician refused (403: CSRF or owner
 * only; 404: a record outside their reach) is written to the audit log as
 * access.refused with the method, route and path (admin paths hold ids,
 * never tokens). Failure to write it is logged, not answered. */
void admin_http_refused(struct req *r);

/* For every admin page (other modules' too): a view with the title, the
 * practice (for the layout), "csrf" for forms, and "admin" (name, csrf,
 * owner) for the navigation partial. Templates start with
 *     {{<layout}}{{$nav}}{{>partials/admin_nav}}{{/nav}}{{$content}}…
 * The caller owns the returned reference (http_send_page releases it). */
json_t *admin_http_page_view(struct req *r, const char *title);
/* The signed-in clinician's zone (UTC when unknown): admin pages show
 * times in it. */
const struct tz *admin_http_zone(const struct req *r);

/* Where dispatch() took the client address from (X-Forwarded-For of a
 * loopback peer when trust_proxy is set): the address, from the arena. */
const char *admin_http_client_addr(struct req *r, const char *peer);

int admin_http_login_page(struct req *r);     /* GET /admin/login */
int admin_http_login_post(struct req *r);     /* POST /admin/login */
int admin_http_totp_page(struct req *r);      /* GET /admin/login/totp */
int admin_http_totp_post(struct req *r);      /* POST /admin/login/totp */
int admin_http_logout(struct req *r);         /* POST /admin/logout */
int admin_http_logout_all(struct req *r);     /* POST /admin/logout-all */
int admin_http_dashboard(struct req *r);      /* GET /admin */
int admin_http_booking(struct req *r);        /* GET /admin/bookings/{id} */
int admin_http_account(struct req *r);        /* GET /admin/account */
int admin_http_password(struct req *r);       /* POST /admin/account/password */
int admin_http_totp_begin(struct req *r);     /* POST /admin/account/totp */
int admin_http_totp_enrol(struct req *r);     /* GET /admin/account/totp */
int admin_http_totp_confirm(struct req *r);   /* POST /admin/account/totp/confirm */
int admin_http_totp_disable(struct req *r);   /* POST /admin/account/totp/disable */
int admin_http_session_revoke(struct req *r); /* POST /admin/account/sessions/{id}/revoke */
int admin_http_audit(struct req *r);          /* GET /admin/audit */
int admin_http_api_bookings(struct req *r);   /* GET /api/v1/admin/bookings */
/* GET /api/v1/admin/session: who is signed in, and the CSRF token a script
 * sends as X-CSRF-Token on POST/PUT/DELETE under /api/v1/admin. */
int admin_http_api_session(struct req *r);

#endif
