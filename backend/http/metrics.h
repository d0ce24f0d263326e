/*
 * metrics.h — Prometheus counters kept in process memory with atomics:
 * requests by route and status, a latency histogram per route, and the
 * database connection state of the worker threads.
 */
#ifndef TANDEM_HTTP_METRICS_H
#define TANDEM_HTTP_METRICS_H

#include "core/buf.h"

/* route: index into the route table, or -1 for unmatched requests. */
void metrics_observe(int route, int status, int64_t duration_us);
/* Records one worker's view of the database: up or down. */
void metrics_db_state(bool up);
/* Writes the Prometheus text exposition. */
void metrics_render(struct buf *out);

#endif
