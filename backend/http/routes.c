/*
 * routes.c — the route table: every URL Tandem answers, in one place.
 * Order matters only between patterns that could both match.
 */
#include "http/assets.h"
#include "http/ops.h"
#include "http/router.h"
#include "offering/offering_http.h"

const struct route routes[] = {
	{"GET", "/", offering_http_home, 0, 0},
	{"GET", "/offerings/{slug}", offering_http_page, 0, 0},
	{"GET", "/api/v1/offerings", offering_http_api_list, 0, 0},
	{"POST", "/api/v1/csp-report", ops_http_csp_report, ROUTE_CSP_REPORT, 16 * 1024},
	{"GET", "/static/{name}", assets_http_get, 0, 0},
	{"GET", "/healthz", ops_http_healthz, 0, 0},
	{"GET", "/readyz", ops_http_readyz, 0, 0},
	{"GET", "/metrics", ops_http_metrics, 0, 0},
};
const size_t routes_count = ARRAY_LEN(routes);
