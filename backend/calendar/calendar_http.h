/*
 * calendar_http.h — /admin/calendars: the signed-in clinician's feeds and
 * external calendars (see calendar_http.c).
 */
#ifndef TANDEM_CALENDAR_CALENDAR_HTTP_H
#define TANDEM_CALENDAR_CALENDAR_HTTP_H

#include "http/http.h"

int calendar_http_page(struct req *r);        /* GET  /admin/calendars */
int calendar_http_upload(struct req *r);      /* POST /admin/calendars/upload (multipart) */
int calendar_http_subscribe(struct req *r);   /* POST /admin/calendars/subscribe */
int calendar_http_refresh(struct req *r);     /* POST /admin/calendars/{id}/refresh */
int calendar_http_remove(struct req *r);      /* POST /admin/calendars/{id}/remove */
int calendar_http_feed_create(struct req *r); /* POST /admin/feeds */
int calendar_http_feed_revoke(struct req *r); /* POST /admin/feeds/{id}/revoke */

#endif
