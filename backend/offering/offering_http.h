/* offering_http.h — public pages and API for offerings. */
#ifndef TANDEM_OFFERING_OFFERING_HTTP_H
#define TANDEM_OFFERING_OFFERING_HTTP_H

#include "http/http.h"

int offering_http_home(struct req *r);     /* GET / */
int offering_http_api_list(struct req *r); /* GET /api/v1/offerings */

#endif
