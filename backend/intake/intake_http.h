/*
 * intake_http.h — the intake's pages (/intake/{token}, HTML that works
 * without JavaScript) and its JSON API (/api/v1/intake/{token}).
 */
#ifndef TANDEM_INTAKE_INTAKE_HTTP_H
#define TANDEM_INTAKE_INTAKE_HTTP_H

#include "http/http.h"

int intake_http_page(struct req *r);
int intake_http_page_post(struct req *r);
int intake_http_api_get(struct req *r);
int intake_http_api_put(struct req *r);
int intake_http_api_submit(struct req *r);

#endif
