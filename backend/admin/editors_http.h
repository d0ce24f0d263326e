/*
 * editors_http.h — the clinician area's editors (issue 7 §5): weekly
 * availability and date exceptions (/admin/availability), offerings
 * (/admin/offerings) and the practice's settings and policies
 * (/admin/practice). Server-rendered forms that work without JavaScript;
 * a change is a POST (session, CSRF) answered 303 back to its page with a
 * confirmation, or 422 with the form as typed and a message per field.
 *
 * Who may do what: a clinician edits their own availability; the owner
 * picks any clinician's (?clinician=<id>; another clinician's id is 404
 * for a non-owner, as records out of reach are everywhere). Every signed-
 * in clinician reads the offerings list; creating, changing or removing
 * an offering and the practice page are the owner's (403 for others).
 */
#ifndef TANDEM_ADMIN_EDITORS_HTTP_H
#define TANDEM_ADMIN_EDITORS_HTTP_H

#include "http/http.h"

int editors_http_availability(struct req *r);     /* GET  /admin/availability */
int editors_http_weekly(struct req *r);           /* POST /admin/availability/weekly */
int editors_http_date(struct req *r);             /* POST /admin/availability/dates */
int editors_http_time_off(struct req *r);         /* POST /admin/availability/time-off */
int editors_http_exception_remove(struct req *r); /* POST /admin/availability/exceptions/{id}/remove */
int editors_http_offerings(struct req *r);        /* GET  /admin/offerings */
int editors_http_offering_new(struct req *r);     /* GET  /admin/offerings/new */
int editors_http_offering_create(struct req *r);  /* POST /admin/offerings */
int editors_http_offering_edit(struct req *r);    /* GET  /admin/offerings/{id} */
int editors_http_offering_update(struct req *r);  /* POST /admin/offerings/{id} */
int editors_http_offering_remove(struct req *r);  /* POST /admin/offerings/{id}/remove */
int editors_http_practice(struct req *r);         /* GET  /admin/practice */
int editors_http_practice_save(struct req *r);    /* POST /admin/practice */

#endif
