/* avail_http.h — availability over HTTP: the JSON API and the month calendar page. */
#ifndef TANDEM_AVAIL_AVAIL_HTTP_H
#define TANDEM_AVAIL_AVAIL_HTTP_H

#include "http/http.h"

int avail_http_api(struct req *r);           /* GET /api/v1/availability */
int avail_http_offering_page(struct req *r); /* GET /offerings/{slug}: details and month calendar */

struct offering;

/* The month calendar view for offering o (used by the offering page and
 * the reschedule page): slot links go to link_base + "?start=...".
 * month may be NULL (the current month); date may be NULL. */
int avail_http_calendar(struct req *r, const struct offering *o, const char *month, const char *date,
                        const char *page_base, const char *link_base, json_t *view);

#endif
