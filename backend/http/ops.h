/*
 * ops.h — operational endpoints: liveness, readiness, metrics, and the
 * browsers' Content-Security-Policy violation reports.
 */
#ifndef TANDEM_HTTP_OPS_H
#define TANDEM_HTTP_OPS_H

#include "http/http.h"

int ops_http_healthz(struct req *r);    /* GET /healthz: the process answers */
int ops_http_readyz(struct req *r);     /* GET /readyz: database up, migrations current */
int ops_http_metrics(struct req *r);    /* GET /metrics: Prometheus text */
int ops_http_csp_report(struct req *r); /* POST /api/v1/csp-report */

#endif
