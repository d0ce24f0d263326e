/*
 * routes.c — the route table: every URL Tandem answers, in one place.
 * Order matters only between patterns that could both match.
 */
#include "admin/admin_http.h"
#include "admin/booking_actions.h"
#include "admin/rights.h"
#include "admin/calview.h"
#include "admin/dashview.h"
#include "admin/editors_http.h"
#include "http/assets.h"
#include "http/ops.h"
#include "http/router.h"
#include "avail/avail_http.h"
#include "booking/booking_http.h"
#include "calendar/calendar_http.h"
#include "feed/feed_http.h"
#include "intake/intake_http.h"
#include "offering/offering_http.h"

const struct route routes[] = {
    {"GET", "/", offering_http_home, 0, 0},
    {"GET", "/offerings/{slug}", avail_http_offering_page, 0, 0},
    {"GET", "/offerings/{slug}/book", booking_http_form, 0, 0},
    {"POST", "/offerings/{slug}/book", booking_http_form_post, ROUTE_FORM, 32 * 1024},
    {"GET", "/api/v1/offerings", offering_http_api_list, 0, 0},
    {"GET", "/api/v1/availability", avail_http_api, 0, 0},
    {"POST", "/api/v1/bookings", booking_http_api_create, ROUTE_JSON, 32 * 1024},
    {"GET", "/b/{token}", booking_http_manage, ROUTE_CAPABILITY, 0},
    {"GET", "/b/{token}/invite.ics", booking_http_invite, ROUTE_CAPABILITY, 0},
    {"POST", "/b/{token}/cancel", booking_http_cancel_post, ROUTE_CAPABILITY | ROUTE_FORM, 8 * 1024},
    {"GET", "/b/{token}/reschedule", booking_http_reschedule_page, ROUTE_CAPABILITY, 0},
    {"POST", "/b/{token}/reschedule", booking_http_reschedule_post, ROUTE_CAPABILITY | ROUTE_FORM, 8 * 1024},
    {"POST", "/api/v1/manage/{token}/cancel", booking_http_api_cancel, ROUTE_CAPABILITY | ROUTE_JSON,
     8 * 1024},
    {"POST", "/api/v1/manage/{token}/reschedule", booking_http_api_reschedule, ROUTE_CAPABILITY | ROUTE_JSON,
     8 * 1024},
    {"GET", "/intake/{token}", intake_http_page, ROUTE_CAPABILITY, 0},
    {"POST", "/intake/{token}", intake_http_page_post, ROUTE_CAPABILITY | ROUTE_FORM, 96 * 1024},
    {"GET", "/api/v1/intake/{token}", intake_http_api_get, ROUTE_CAPABILITY, 0},
    {"PUT", "/api/v1/intake/{token}", intake_http_api_put, ROUTE_CAPABILITY | ROUTE_JSON, 96 * 1024},
    {"POST", "/api/v1/intake/{token}/submit", intake_http_api_submit, ROUTE_CAPABILITY | ROUTE_JSON,
     96 * 1024},
    {"GET", "/feeds/{token}.ics", feed_http_get, ROUTE_CAPABILITY, 0},
    /* The clinician area: access flags in http/router.h. */
    {"GET", "/admin/login", admin_http_login_page, ROUTE_LOGIN, 0},
    {"POST", "/admin/login", admin_http_login_post, ROUTE_LOGIN | ROUTE_CSRF | ROUTE_FORM, 8 * 1024},
    {"GET", "/admin/login/totp", admin_http_totp_page, ROUTE_PARTIAL, 0},
    {"POST", "/admin/login/totp", admin_http_totp_post, ROUTE_PARTIAL | ROUTE_CSRF | ROUTE_FORM, 8 * 1024},
    {"POST", "/admin/logout", admin_http_logout, ROUTE_PARTIAL | ROUTE_CSRF | ROUTE_FORM, 8 * 1024},
    {"POST", "/admin/logout-all", admin_http_logout_all, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM, 8 * 1024},
    {"GET", "/admin", admin_http_dashboard, ROUTE_ADMIN, 0},
    {"GET", "/admin/bookings/{id}", admin_http_booking, ROUTE_ADMIN, 0},
    {"POST", "/admin/bookings/{id}/approve", booking_actions_approve, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM,
     8 * 1024},
    /* Messages and notes: their character limits, percent-encoded UTF-8. */
    {"POST", "/admin/bookings/{id}/decline", booking_actions_decline, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM,
     32 * 1024},
    {"POST", "/admin/bookings/{id}/cancel", booking_actions_cancel, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM,
     32 * 1024},
    {"POST", "/admin/bookings/{id}/reschedule", booking_actions_reschedule,
     ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM, 8 * 1024},
    {"POST", "/admin/bookings/{id}/complete", booking_actions_complete, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM,
     8 * 1024},
    {"POST", "/admin/bookings/{id}/no-show", booking_actions_no_show, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM,
     8 * 1024},
    {"POST", "/admin/bookings/{id}/propose", booking_actions_propose, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM,
     8 * 1024},
    {"POST", "/admin/bookings/{id}/move-day", booking_actions_move_day, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM,
     8 * 1024},
    {"POST", "/admin/bookings/{id}/cancel-day", booking_actions_cancel_day,
     ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM, 8 * 1024},
    {"POST", "/admin/bookings/{id}/notes", booking_actions_note, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM,
     128 * 1024},
    {"GET", "/admin/bookings/{id}/intake", intake_http_admin_view, ROUTE_ADMIN, 0},
    {"GET", "/admin/bookings/{id}/intake.json", intake_http_admin_export, ROUTE_ADMIN, 0},
    {"GET", "/admin/bookings/{id}/clients", rights_http_clients, ROUTE_ADMIN, 0},
    {"GET", "/admin/clients/{id}/export.json", rights_http_export, ROUTE_ADMIN, 0},
    {"POST", "/admin/clients/{id}/erase", rights_http_erase, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM, 8 * 1024},
    {"GET", "/admin/account", admin_http_account, ROUTE_ADMIN, 0},
    {"POST", "/admin/account/password", admin_http_password, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM, 8 * 1024},
    {"GET", "/admin/account/totp", admin_http_totp_enrol, ROUTE_ADMIN, 0},
    {"POST", "/admin/account/totp", admin_http_totp_begin, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM, 8 * 1024},
    {"POST", "/admin/account/totp/confirm", admin_http_totp_confirm, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM,
     8 * 1024},
    {"POST", "/admin/account/totp/disable", admin_http_totp_disable, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM,
     8 * 1024},
    {"POST", "/admin/account/sessions/{id}/revoke", admin_http_session_revoke,
     ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM, 8 * 1024},
    {"GET", "/admin/audit", admin_http_audit, ROUTE_ADMIN, 0},
    {"GET", "/admin/calendar", calview_http_page, ROUTE_ADMIN, 0},
    {"POST", "/admin/mail/{id}/resend", dashview_http_resend, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM,
     8 * 1024},
    {"GET", "/admin/calendars", calendar_http_page, ROUTE_ADMIN, 0},
    /* An exported calendar can be large: up to calendar_max_bytes, and
     * max_body (the ceiling for every route) must allow it. */
    {"POST", "/admin/calendars/upload", calendar_http_upload, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_MULTIPART,
     11 << 20},
    {"POST", "/admin/calendars/subscribe", calendar_http_subscribe, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM,
     8 * 1024},
    {"POST", "/admin/calendars/{id}/refresh", calendar_http_refresh, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM,
     8 * 1024},
    {"POST", "/admin/calendars/{id}/remove", calendar_http_remove, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM,
     8 * 1024},
    {"POST", "/admin/feeds", calendar_http_feed_create, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM, 8 * 1024},
    {"POST", "/admin/feeds/{id}/revoke", calendar_http_feed_revoke, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM,
     8 * 1024},
    /* The editors (admin/editors_http.h): availability, offerings, practice. */
    {"GET", "/admin/availability", editors_http_availability, ROUTE_ADMIN, 0},
    {"POST", "/admin/availability/weekly", editors_http_weekly, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM,
     32 * 1024},
    {"POST", "/admin/availability/dates", editors_http_date, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM, 8 * 1024},
    {"POST", "/admin/availability/time-off", editors_http_time_off, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM,
     8 * 1024},
    {"POST", "/admin/availability/exceptions/{id}/remove", editors_http_exception_remove,
     ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM, 8 * 1024},
    {"GET", "/admin/offerings", editors_http_offerings, ROUTE_ADMIN, 0},
    {"POST", "/admin/offerings", editors_http_offering_create, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM,
     32 * 1024},
    {"GET", "/admin/offerings/new", editors_http_offering_new, ROUTE_ADMIN, 0},
    {"GET", "/admin/offerings/{id}", editors_http_offering_edit, ROUTE_ADMIN, 0},
    {"POST", "/admin/offerings/{id}", editors_http_offering_update, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM,
     32 * 1024},
    {"POST", "/admin/offerings/{id}/remove", editors_http_offering_remove,
     ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM, 8 * 1024},
    {"GET", "/admin/practice", editors_http_practice, ROUTE_ADMIN, 0},
    {"POST", "/admin/practice", editors_http_practice_save, ROUTE_ADMIN | ROUTE_CSRF | ROUTE_FORM,
     160 * 1024},
    {"GET", "/api/v1/admin/session", admin_http_api_session, ROUTE_ADMIN, 0},
    {"GET", "/api/v1/admin/bookings", admin_http_api_bookings, ROUTE_ADMIN, 0},
    {"POST", "/api/v1/csp-report", ops_http_csp_report, ROUTE_CSP_REPORT, 16 * 1024},
    {"GET", "/static/{name}", assets_http_get, 0, 0},
    {"GET", "/healthz", ops_http_healthz, 0, 0},
    {"GET", "/readyz", ops_http_readyz, 0, 0},
    {"GET", "/metrics", ops_http_metrics, 0, 0},
};
const size_t routes_count = ARRAY_LEN(routes);
