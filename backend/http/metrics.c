/* metrics.c — see metrics.h. */
#include "http/metrics.h"

#include <stdatomic.h>

#include "http/router.h"

enum { MAX_ROUTES = 128 };

/* Statuses we count separately; anything else falls in "other". */
static const int statuses[] = {200, 201, 204, 301, 302, 303, 304, 400, 401, 403,
                               404, 405, 409, 410, 413, 415, 422, 429, 500, 503};
enum { NSTATUS = ARRAY_LEN(statuses) + 1 };

/* Upper bounds in seconds. */
static const double buckets[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5};
enum { NBUCKETS = ARRAY_LEN(buckets) };

struct route_metrics {
	atomic_uint_fast64_t by_status[NSTATUS]; /* request counts */
	atomic_uint_fast64_t bucket[NBUCKETS];   /* non-cumulative histogram counts */
	atomic_uint_fast64_t count;              /* observations */
	atomic_uint_fast64_t sum_us;             /* total duration */
};

/* Slot 0 is "unmatched"; route i is slot i + 1. */
static struct route_metrics per_route[MAX_ROUTES + 1];
static atomic_uint_fast64_t db_up_count, db_down_count;
static atomic_int db_last_up = 1;

static int status_slot(int status)
{
	for (size_t i = 0; i < ARRAY_LEN(statuses); i++)
		if (statuses[i] == status)
			return (int)i;
	return NSTATUS - 1;
}

void metrics_observe(int route, int status, int64_t duration_us)
{
	int slot = route >= 0 && route < MAX_ROUTES ? route + 1 : 0;
	struct route_metrics *m = &per_route[slot];
	atomic_fetch_add_explicit(&m->by_status[status_slot(status)], 1, memory_order_relaxed);
	double s = (double)duration_us / 1e6;
	for (int i = 0; i < NBUCKETS; i++)
		if (s <= buckets[i]) {
			atomic_fetch_add_explicit(&m->bucket[i], 1, memory_order_relaxed);
			break;
		}
	atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->sum_us, (uint_fast64_t)(duration_us > 0 ? duration_us : 0),
	                          memory_order_relaxed);
}

void metrics_db_state(bool up)
{
	atomic_fetch_add_explicit(up ? &db_up_count : &db_down_count, 1, memory_order_relaxed);
	atomic_store_explicit(&db_last_up, up ? 1 : 0, memory_order_relaxed);
}

static const char *label(int slot, char *tmp, size_t n)
{
	if (slot == 0)
		return "unmatched";
	snprintf(tmp, n, "%s %s", routes[slot - 1].method, routes[slot - 1].pattern);
	return tmp;
}

void metrics_render(struct buf *out)
{
	char tmp[256];
	size_t nslots = routes_count + 1 < MAX_ROUTES + 1 ? routes_count + 1 : MAX_ROUTES + 1;
	buf_puts(out, "# HELP tandem_http_requests_total HTTP requests by route and status.\n"
	              "# TYPE tandem_http_requests_total counter\n");
	for (size_t s = 0; s < nslots; s++)
		for (int k = 0; k < NSTATUS; k++) {
			uint64_t v = atomic_load_explicit(&per_route[s].by_status[k], memory_order_relaxed);
			if (!v)
				continue;
			char st[8];
			if (k < NSTATUS - 1)
				snprintf(st, sizeof(st), "%d", statuses[k]);
			else
				snprintf(st, sizeof(st), "other");
			buf_printf(out, "tandem_http_requests_total{route=\"%s\",status=\"%s\"} %llu\n",
			           label((int)s, tmp, sizeof(tmp)), st, (unsigned long long)v);
		}
	buf_puts(out, "# HELP tandem_http_request_duration_seconds Time to answer a request.\n"
	              "# TYPE tandem_http_request_duration_seconds histogram\n");
	for (size_t s = 0; s < nslots; s++) {
		uint64_t count = atomic_load_explicit(&per_route[s].count, memory_order_relaxed);
		if (!count)
			continue;
		const char *l = label((int)s, tmp, sizeof(tmp));
		uint64_t cum = 0;
		for (int i = 0; i < NBUCKETS; i++) {
			cum += atomic_load_explicit(&per_route[s].bucket[i], memory_order_relaxed);
			buf_printf(
			    out, "tandem_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
			    l, buckets[i], (unsigned long long)cum);
		}
		buf_printf(out,
		           "tandem_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", l,
		           (unsigned long long)count);
		buf_printf(out, "tandem_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", l,
		           (double)atomic_load_explicit(&per_route[s].sum_us, memory_order_relaxed) / 1e6);
		buf_printf(out, "tandem_http_request_duration_seconds_count{route=\"%s\"} %llu\n", l,
		           (unsigned long long)count);
	}
	buf_printf(
	    out,
	    "# HELP tandem_db_up Whether the last database use from a worker succeeded.\n"
	    "# TYPE tandem_db_up gauge\ntandem_db_up %d\n"
	    "# HELP tandem_db_checks_total Database uses by outcome.\n"
	    "# TYPE tandem_db_checks_total counter\n"
	    "tandem_db_checks_total{outcome=\"up\"} %llu\ntandem_db_checks_total{outcome=\"down\"} %llu\n",
	    atomic_load_explicit(&db_last_up, memory_order_relaxed),
	    (unsigned long long)atomic_load_explicit(&db_up_count, memory_order_relaxed),
	    (unsigned long long)atomic_load_explicit(&db_down_count, memory_order_relaxed));
}
