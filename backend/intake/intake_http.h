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
/* The clinician's side-by-side page and the JSON export (ROUTE_ADMIN). */
int intake_http_admin_view(struct req *r);
int intake_http_admin_export(struct req *r);

#endif
