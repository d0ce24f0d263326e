/* feed_http.h — the clinician's calendar feed over HTTP. */
#ifndef TANDEM_FEED_FEED_HTTP_H
#define TANDEM_FEED_FEED_HTTP_H

#include "http/http.h"

int feed_http_get(struct req *r); /* GET /feeds/{token}.ics */

#endif
