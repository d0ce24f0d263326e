/* jobs.c — see jobs.h. */
#include "jobs/jobs.h"

#include <pthread.h>
#include <time.h>

#include "admin/session.h"
#include "booking/booking.h"
#include "core/log.h"

static pthread_t thread;
static bool running;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static bool stop_requested;

int jobs_run_once(struct db *db, const struct app *app)
{
	UNUSED(app);
	struct arena a;
	arena_init(&a);
	struct ctx c = {&a, db, ctx_clock_now(), "system", "jobs"};
	int n = 0;
	int rc = booking_expire_holds(&c, &n);
	if (rc && rc != ERR_UNAVAILABLE)
		log_warn("job expire-holds failed: %s", err_code(rc));
	int rc2 = session_purge(&c, &n);
	if (rc2 && rc2 != ERR_UNAVAILABLE)
		log_warn("job purge-sessions failed: %s", err_code(rc2));
	arena_release(&a);
	return rc;
}

static void *loop(void *arg)
{
	const struct app *app = arg;
	struct db db;
	db_init(&db, app->cfg->database_url, app->cfg->db_connect_timeout, app->cfg->db_statement_timeout_ms);
	log_set_request_id("jobs");
	pthread_mutex_lock(&mu);
	while (!stop_requested) {
		pthread_mutex_unlock(&mu);
		jobs_run_once(&db, app);
		pthread_mutex_lock(&mu);
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += app->cfg->jobs_interval_s;
		while (!stop_requested && pthread_cond_timedwait(&cv, &mu, &until) == 0)
			;
	}
	pthread_mutex_unlock(&mu);
	db_release(&db);
	return NULL;
}

void jobs_start(struct app *app)
{
	stop_requested = false;
	if (pthread_create(&thread, NULL, loop, app) != 0) {
		log_error("cannot start the background job thread");
		return;
	}
	running = true;
}

void jobs_stop(void)
{
	if (!running)
		return;
	pthread_mutex_lock(&mu);
	stop_requested = true;
	pthread_cond_signal(&cv);
	pthread_mutex_unlock(&mu);
	pthread_join(thread, NULL);
	running = false;
}
