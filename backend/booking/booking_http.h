/* booking_http.h — booking over HTTP: the JSON API, the HTML form, the manage pages. */
#ifndef TANDEM_BOOKING_BOOKING_HTTP_H
#define TANDEM_BOOKING_BOOKING_HTTP_H

#include "http/http.h"

int booking_http_api_create(struct req *r);      /* POST /api/v1/bookings */
int booking_http_form(struct req *r);            /* GET /offerings/{slug}/book?start= */
int booking_http_form_post(struct req *r);       /* POST /offerings/{slug}/book */
int booking_http_manage(struct req *r);          /* GET /b/{token} */
int booking_http_invite(struct req *r);          /* GET /b/{token}/invite.ics */
int booking_http_api_cancel(struct req *r);      /* POST /api/v1/manage/{token}/cancel */
int booking_http_api_reschedule(struct req *r);  /* POST /api/v1/manage/{token}/reschedule */
int booking_http_cancel_post(struct req *r);     /* POST /b/{token}/cancel (form) */
int booking_http_reschedule_page(struct req *r); /* GET /b/{token}/reschedule */
int booking_http_reschedule_post(struct req *r); /* POST /b/{token}/reschedule (form) */

#endif
